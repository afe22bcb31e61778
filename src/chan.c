/* SPDX-License-Identifier: MIT */
/*
 * Channels: mpsc (bounded / unbounded), oneshot and watch, usable from
 * tasks (futures) and plain threads (blocking calls). One pthread mutex per
 * channel guards the ring buffer and both waiter queues; a waiting task is
 * woken through urt__task_wake (waker.c), a blocked thread by its condvar.
 * Streams over a receiver are stream.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "waker.h"

struct urt_chan {
	pthread_mutex_t mu; /* guards everything below */
	size_t item_size;
	size_t cap;	    /* 0: unbounded */
	size_t head, len, bufcap;
	unsigned char *buf; /* bufcap items, a ring */
	urt_item_free_fn item_free;
	size_t senders;	   /* sender references */
	bool rx_alive;	   /* the receiver reference */
	bool closed;	   /* no more sends; receivers drain, then EPIPE */
	bool oneshot;
	struct urt_waitq sendq; /* senders waiting for room (w.item) */
	struct urt_waitq recvq; /* receivers waiting for an item */
};

static int chan_alloc(struct urt_chan **out, size_t item_size, size_t cap,
		      urt_item_free_fn item_free, bool oneshot)
{
	struct urt_chan *ch;

	if (!out || !item_size || item_size > 65536)
		return -EINVAL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->bufcap = cap ? cap : 16;
	ch->buf = malloc(ch->bufcap * item_size);
	if (!ch->buf) {
		free(ch);
		return -ENOMEM;
	}
	urt__mu_init(&ch->mu);
	ch->item_size = item_size;
	ch->cap = cap;
	ch->item_free = item_free;
	ch->senders = 1;
	ch->rx_alive = true;
	ch->oneshot = oneshot;
	*out = ch;
	return 0;
}

int urt_chan_new(struct urt_chan **out, size_t item_size, size_t capacity,
		 urt_item_free_fn item_free)
{
	return chan_alloc(out, item_size, capacity, item_free, false);
}

int urt_oneshot_new(struct urt_chan **out, size_t item_size,
		    urt_item_free_fn item_free)
{
	return chan_alloc(out, item_size, 1, item_free, true);
}

static void chan_free(struct urt_chan *ch)
{
	/* The receiver was dropped first or last; either way its drop
	 * emptied the buffer, so no item is left to free. */
	pthread_mutex_destroy(&ch->mu);
	free(ch->buf);
	free(ch);
}

/* --- buffer (under ch->mu) ------------------------------------------- */

static unsigned char *slot(struct urt_chan *ch, size_t i)
{
	return ch->buf + ((ch->head + i) % ch->bufcap) * ch->item_size;
}

static bool has_room(struct urt_chan *ch)
{
	return !ch->cap || ch->len < ch->cap;
}

static int push(struct urt_chan *ch, const void *item)
{
	if (ch->len == ch->bufcap) {
		/* Unbounded only: double, unwrapping the ring. */
		size_t ncap = ch->bufcap * 2;
		unsigned char *nb = malloc(ncap * ch->item_size);
		if (!nb)
			return -ENOMEM;
		for (size_t i = 0; i < ch->len; i++)
			memcpy(nb + i * ch->item_size, slot(ch, i),
			       ch->item_size);
		free(ch->buf);
		ch->buf = nb;
		ch->bufcap = ncap;
		ch->head = 0;
	}
	memcpy(slot(ch, ch->len), item, ch->item_size);
	ch->len++;
	return 0;
}

static void pop(struct urt_chan *ch, void *out)
{
	memcpy(out, slot(ch, 0), ch->item_size);
	ch->head = (ch->head + 1) % ch->bufcap;
	ch->len--;
}

/* Closes for sending: waiting senders get -EPIPE (their items untaken),
 * waiting receivers re-check (drain, then -EPIPE). */
static void close_locked(struct urt_chan *ch, struct urt__wakeset *ws)
{
	if (ch->closed)
		return;
	ch->closed = true;
	while (urt__wq_grant_head(&ch->sendq, -EPIPE, ws))
		;
	while (urt__wq_grant_head(&ch->recvq, 0, ws))
		;
}

/* 0, -EPIPE, -ENOMEM, or URT_PENDING (full). */
static int send_locked(struct urt_chan *ch, const void *item,
		       struct urt__wakeset *ws)
{
	int r;

	if (ch->closed)
		return -EPIPE;
	/* FIFO: a new sender queues behind waiting ones. */
	if (!has_room(ch) || ch->sendq.head)
		return URT_PENDING;
	r = push(ch, item);
	if (r)
		return r;
	if (ch->oneshot)
		ch->closed = true; /* one item, once */
	/* Grant value 0 for a receiver: "look again". */
	urt__wq_grant_head(&ch->recvq, 0, ws);
	return 0;
}

/* 0 (item in out), -EPIPE (closed and drained), or URT_PENDING. */
static int recv_locked(struct urt_chan *ch, void *out,
		       struct urt__wakeset *ws)
{
	struct urt_waiter *s;

	if (!ch->len)
		return ch->closed ? -EPIPE : URT_PENDING;
	pop(ch, out);
	/* Room made: move the first waiting sender's item in (FIFO). */
	s = ch->sendq.head;
	if (s && has_room(ch)) {
		int r = push(ch, s->item); /* cannot fail: bounded */
		urt__waiter_grant(&ch->sendq, s, r, ws);
	}
	/* Pass the baton: another receiver may take the next item, or must
	 * learn the stream ended. */
	if (ch->len)
		urt__wq_grant_head(&ch->recvq, 0, ws);
	else if (ch->closed)
		while (urt__wq_grant_head(&ch->recvq, 0, ws))
			;
	return 0;
}

/* --- ends ------------------------------------------------------------ */

struct urt_chan *urt_chan_sender_clone(struct urt_chan *ch)
{
	pthread_mutex_lock(&ch->mu);
	ch->senders++;
	pthread_mutex_unlock(&ch->mu);
	return ch;
}

void urt_chan_sender_drop(struct urt_chan *ch)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	bool last;

	pthread_mutex_lock(&ch->mu);
	if (--ch->senders == 0)
		close_locked(ch, &ws);
	last = !ch->senders && !ch->rx_alive;
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	if (last)
		chan_free(ch);
}

void urt_chan_receiver_drop(struct urt_chan *ch)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	unsigned char *buf;
	size_t head, len, bufcap;
	bool last;

	pthread_mutex_lock(&ch->mu);
	close_locked(ch, &ws);
	ch->rx_alive = false;
	/* Take the queued items out; item_free runs unlocked (user code
	 * that may touch other channels, or this one's sender side). */
	buf = ch->buf;
	head = ch->head;
	len = ch->len;
	bufcap = ch->bufcap;
	ch->buf = NULL;
	ch->len = ch->head = ch->bufcap = 0;
	last = !ch->senders;
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	for (size_t i = 0; ch->item_free && i < len; i++)
		ch->item_free(buf + ((head + i) % bufcap) * ch->item_size);
	free(buf);
	if (last)
		chan_free(ch);
}

void urt_chan_close(struct urt_chan *ch)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;

	pthread_mutex_lock(&ch->mu);
	close_locked(ch, &ws);
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
}

size_t urt_chan_len(struct urt_chan *ch)
{
	size_t n;

	pthread_mutex_lock(&ch->mu);
	n = ch->len;
	pthread_mutex_unlock(&ch->mu);
	return n;
}

/* --- non-waiting and blocking calls ---------------------------------- */

int urt_chan_try_send(struct urt_chan *ch, const void *item)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	int r;

	pthread_mutex_lock(&ch->mu);
	r = send_locked(ch, item, &ws);
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	return r == URT_PENDING ? -EAGAIN : r;
}

int urt_chan_try_recv(struct urt_chan *ch, void *out)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	int r;

	pthread_mutex_lock(&ch->mu);
	r = recv_locked(ch, out, &ws);
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	return r == URT_PENDING ? -EAGAIN : r;
}

int urt_chan_send_blocking(struct urt_chan *ch, const void *item,
			   uint64_t timeout_ns)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	uint64_t deadline = urt__deadline(timeout_ns);
	struct urt_waiter w = { .state = URT__WS_IDLE, .item = item };
	pthread_cond_t cv;
	int r;

	if (urt__current_worker())
		return -EDEADLK;
	pthread_mutex_lock(&ch->mu);
	r = send_locked(ch, item, &ws);
	if (r == URT_PENDING) {
		urt__cv_init(&cv);
		w.cv = &cv;
		urt__wq_push(&ch->sendq, &w);
		/* A receiver that makes room moves our item in and grants us
		 * (0), or close grants -EPIPE; both under ch->mu. */
		r = urt__waiter_block(&w, &ch->mu, deadline);
		if (r)
			urt__waiter_unqueue(&ch->sendq, &w);
		else
			r = w.res;
		pthread_cond_destroy(&cv);
	}
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	return r;
}

int urt_chan_recv_blocking(struct urt_chan *ch, void *out, uint64_t timeout_ns)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	uint64_t deadline = urt__deadline(timeout_ns);
	struct urt_waiter w = { .state = URT__WS_IDLE };
	pthread_cond_t cv;
	bool have_cv = false;
	int r;

	if (urt__current_worker())
		return -EDEADLK;
	pthread_mutex_lock(&ch->mu);
	while ((r = recv_locked(ch, out, &ws)) == URT_PENDING) {
		if (!have_cv) {
			urt__cv_init(&cv);
			w.cv = &cv;
			have_cv = true;
		}
		urt__wq_push(&ch->recvq, &w);
		r = urt__waiter_block(&w, &ch->mu, deadline);
		if (r) {
			urt__waiter_unqueue(&ch->recvq, &w);
			break;
		}
		/* granted: an item or the end may be there; look again */
	}
	pthread_mutex_unlock(&ch->mu);
	if (have_cv)
		pthread_cond_destroy(&cv);
	urt__wakeset_flush(&ws);
	return r;
}

/* --- futures --------------------------------------------------------- */

/*
 * Coop budget: a send/recv that is always ready (a full stream) must let
 * the worker's other tasks run. The check comes before any item moves, so
 * an exhausted budget leaves nothing half done; a poll that then pends
 * ends the task's poll anyway, so spending on it costs nothing.
 */
static int send_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_chan_op *op = (struct urt_chan_op *)f;
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_chan *ch = op->ch;
	int r;

	if (!cx || !cx->task)
		return -EINVAL;
	pthread_mutex_lock(&ch->mu);
	/* state is written by granters under ch->mu: read it under it too */
	if (op->w.state == URT__WS_IDLE && !urt_cx_budget_spend(cx)) {
		pthread_mutex_unlock(&ch->mu);
		return URT_PENDING;
	}
	if (op->w.state == URT__WS_GRANTED) {
		op->w.state = URT__WS_IDLE;
		r = op->w.res;
	} else if (op->w.state == URT__WS_QUEUED) {
		r = URT_PENDING; /* spurious poll: still waiting for room */
	} else {
		r = send_locked(ch, op->buf, &ws);
		if (r == URT_PENDING) {
			op->w.item = op->buf;
			urt__waiter_queue_task(&ch->sendq, &op->w, cx);
		}
	}
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	return r;
}

static void send_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_chan_op *op = (struct urt_chan_op *)f;

	(void)cx;
	pthread_mutex_lock(&op->ch->mu);
	if (op->w.state == URT__WS_QUEUED)
		urt__waiter_unqueue(&op->ch->sendq, &op->w);
	/* GRANTED keeps its result: 0 means the item was taken, and
	 * reporting that is what keeps it from being lost or sent twice. */
	if (op->w.state == URT__WS_IDLE) {
		op->w.state = URT__WS_GRANTED;
		op->w.res = -ECANCELED;
	}
	pthread_mutex_unlock(&op->ch->mu);
}

static int recv_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_chan_op *op = (struct urt_chan_op *)f;
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_chan *ch = op->ch;
	int r;

	if (!cx || !cx->task)
		return -EINVAL;
	pthread_mutex_lock(&ch->mu);
	/* state is written by granters under ch->mu: read it under it too */
	if (op->w.state != URT__WS_QUEUED && !urt_cx_budget_spend(cx)) {
		pthread_mutex_unlock(&ch->mu);
		return URT_PENDING;
	}
	if (op->w.state == URT__WS_GRANTED) {
		op->w.state = URT__WS_IDLE;
		if (op->w.res < 0) { /* cancelled */
			r = op->w.res;
			goto out;
		}
	} else if (op->w.state == URT__WS_QUEUED) {
		if (!ch->len && !ch->closed) {
			r = URT_PENDING; /* spurious poll */
			goto out;
		}
		urt__waiter_unqueue(&ch->recvq, &op->w);
	}
	r = recv_locked(ch, op->buf, &ws);
	if (r == URT_PENDING)
		urt__waiter_queue_task(&ch->recvq, &op->w, cx);
out:
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	return r;
}

/* Under ch->mu: a receiver leaves; one that was told "look again" passes
 * that on, so a queued item never waits for a receiver already gone. */
static void recv_leave(struct urt_chan *ch, struct urt_waiter *w,
		       struct urt__wakeset *ws)
{
	if (w->state == URT__WS_QUEUED) {
		urt__waiter_unqueue(&ch->recvq, w);
	} else if (w->state == URT__WS_GRANTED && w->res == 0) {
		if (ch->len)
			urt__wq_grant_head(&ch->recvq, 0, ws);
	}
	w->state = URT__WS_GRANTED;
	w->res = -ECANCELED;
}

static void recv_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_chan_op *op = (struct urt_chan_op *)f;
	struct urt__wakeset ws = URT__WAKESET_INIT;

	(void)cx;
	pthread_mutex_lock(&op->ch->mu);
	recv_leave(op->ch, &op->w, &ws);
	pthread_mutex_unlock(&op->ch->mu);
	urt__wakeset_flush(&ws);
}

static const struct urt_future_vt send_vt = {
	.poll = send_poll,
	.cancel = send_cancel,
};

static const struct urt_future_vt recv_vt = {
	.poll = recv_poll,
	.cancel = recv_cancel,
};

struct urt_future *urt_chan_send(struct urt_chan_op *op, struct urt_chan *ch,
				 const void *item)
{
	op->base.vt = &send_vt;
	op->ch = ch;
	op->buf = (void *)item;
	op->w = (struct urt_waiter){ .state = URT__WS_IDLE };
	return &op->base;
}

struct urt_future *urt_chan_recv(struct urt_chan_op *op, struct urt_chan *ch,
				 void *out)
{
	op->base.vt = &recv_vt;
	op->ch = ch;
	op->buf = out;
	op->w = (struct urt_waiter){ .state = URT__WS_IDLE };
	return &op->base;
}

size_t urt__chan_item_size(struct urt_chan *ch)
{
	return ch->item_size;
}

/* ---------------------------------------------------------------------
 * Watch
 * ------------------------------------------------------------------- */

struct urt_watch {
	pthread_mutex_t mu; /* guards everything below */
	size_t item_size;
	uint64_t version;
	size_t refs; /* sender (until close) + receivers */
	bool closed;
	struct urt_waitq q;
	unsigned char val[];
};

int urt_watch_new(struct urt_watch **out, size_t item_size,
		  const void *initial)
{
	struct urt_watch *w;

	if (!out || !item_size || item_size > 65536 || !initial)
		return -EINVAL;
	w = calloc(1, sizeof(*w) + item_size);
	if (!w)
		return -ENOMEM;
	urt__mu_init(&w->mu);
	w->item_size = item_size;
	w->refs = 1;
	memcpy(w->val, initial, item_size);
	*out = w;
	return 0;
}

static void watch_release(struct urt_watch *w, bool last)
{
	if (last) {
		pthread_mutex_destroy(&w->mu);
		free(w);
	}
}

int urt_watch_send(struct urt_watch *w, const void *item)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;

	pthread_mutex_lock(&w->mu);
	if (w->closed) {
		pthread_mutex_unlock(&w->mu);
		return -EPIPE;
	}
	memcpy(w->val, item, w->item_size);
	w->version++;
	while (urt__wq_grant_head(&w->q, 0, &ws))
		;
	pthread_mutex_unlock(&w->mu);
	urt__wakeset_flush(&ws);
	return 0;
}

void urt_watch_close(struct urt_watch *w)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	bool last;

	pthread_mutex_lock(&w->mu);
	if (w->closed) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	w->closed = true;
	while (urt__wq_grant_head(&w->q, 0, &ws))
		;
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	urt__wakeset_flush(&ws);
	watch_release(w, last);
}

void urt_watch_subscribe(struct urt_watch *w, struct urt_watch_rx *rx)
{
	pthread_mutex_lock(&w->mu);
	w->refs++;
	rx->w = w;
	rx->seen = w->version;
	pthread_mutex_unlock(&w->mu);
}

void urt_watch_unsubscribe(struct urt_watch_rx *rx)
{
	struct urt_watch *w = rx->w;
	bool last;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	rx->w = NULL;
	watch_release(w, last);
}

int64_t urt_watch_read(struct urt_watch_rx *rx, void *out)
{
	struct urt_watch *w = rx->w;
	int64_t v;

	pthread_mutex_lock(&w->mu);
	memcpy(out, w->val, w->item_size);
	rx->seen = w->version;
	v = (int64_t)w->version;
	pthread_mutex_unlock(&w->mu);
	return v;
}

/* Under w->mu: 0 changed, -EPIPE closed and read, or URT_PENDING. */
static int watch_check(struct urt_watch *w, struct urt_watch_rx *rx)
{
	if (w->version != rx->seen)
		return 0;
	return w->closed ? -EPIPE : URT_PENDING;
}

static int watch_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_watch_op *op = (struct urt_watch_op *)f;
	struct urt_watch *w = op->rx->w;
	int r;

	if (!cx || !cx->task)
		return -EINVAL;
	pthread_mutex_lock(&w->mu);
	if (op->w.state == URT__WS_GRANTED && op->w.res < 0) {
		op->w.state = URT__WS_IDLE;
		r = op->w.res; /* cancelled */
	} else {
		if (op->w.state == URT__WS_QUEUED)
			urt__waiter_unqueue(&w->q, &op->w);
		op->w.state = URT__WS_IDLE;
		r = watch_check(w, op->rx);
		if (r == URT_PENDING)
			urt__waiter_queue_task(&w->q, &op->w, cx);
	}
	pthread_mutex_unlock(&w->mu);
	return r;
}

static void watch_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_watch_op *op = (struct urt_watch_op *)f;
	struct urt_watch *w = op->rx->w;

	(void)cx;
	pthread_mutex_lock(&w->mu);
	if (op->w.state == URT__WS_QUEUED)
		urt__waiter_unqueue(&w->q, &op->w);
	/* A grant here woke everyone: nothing to pass on. */
	op->w.state = URT__WS_GRANTED;
	op->w.res = -ECANCELED;
	pthread_mutex_unlock(&w->mu);
}

static const struct urt_future_vt watch_vt = {
	.poll = watch_poll,
	.cancel = watch_cancel,
};

struct urt_future *urt_watch_changed(struct urt_watch_op *op,
				     struct urt_watch_rx *rx)
{
	op->base.vt = &watch_vt;
	op->rx = rx;
	op->w = (struct urt_waiter){ .state = URT__WS_IDLE };
	return &op->base;
}

int urt_watch_changed_blocking(struct urt_watch_rx *rx, uint64_t timeout_ns)
{
	uint64_t deadline = urt__deadline(timeout_ns);
	struct urt_waiter wt = { .state = URT__WS_IDLE };
	struct urt_watch *w = rx->w;
	pthread_cond_t cv;
	int r;

	if (urt__current_worker())
		return -EDEADLK;
	urt__cv_init(&cv);
	wt.cv = &cv;
	pthread_mutex_lock(&w->mu);
	while ((r = watch_check(w, rx)) == URT_PENDING) {
		urt__wq_push(&w->q, &wt);
		r = urt__waiter_block(&wt, &w->mu, deadline);
		if (r) {
			urt__waiter_unqueue(&w->q, &wt);
			break;
		}
	}
	pthread_mutex_unlock(&w->mu);
	pthread_cond_destroy(&cv);
	return r;
}
