/* SPDX-License-Identifier: MIT */
/*
 * Streams: the next/stop futures, the channel and interval sources, and the
 * adapters (map, filter, take, merge, throttle, timeout). Everything runs
 * on the thread polling the owning task; nothing allocates. Channels
 * themselves are chan.c's, timers io_timer.c's.
 */
#include <errno.h>

#include "urt/stream.h"
#include "waker.h"

void urt_stream_cancel(struct urt_stream *s, struct urt_cx *cx)
{
	if (s && s->vt && s->vt->cancel)
		s->vt->cancel(s, cx);
}

/* --- next / stop ----------------------------------------------------- */

static int next_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_stream_next *n = (struct urt_stream_next *)f;
	int r;

	if (!n->stop)
		return urt_stream_poll_next(n->s, cx, n->out);
	/* stop: drain until the stream answers; an item met is dropped. */
	r = urt_stream_poll_next(n->s, cx, n->out);
	return r == URT_PENDING ? r : 0;
}

static void next_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_stream_next *n = (struct urt_stream_next *)f;

	if (!n->stop)
		urt_stream_cancel(n->s, cx);
	/* a stop already cancelled its stream: it only drains */
}

static const struct urt_future_vt next_vt = {
	.poll = next_poll,
	.cancel = next_cancel,
};

struct urt_future *urt_stream_next(struct urt_stream_next *n,
				   struct urt_stream *s, void *out)
{
	n->base.vt = &next_vt;
	n->s = s;
	n->out = out;
	n->stop = false;
	return &n->base;
}

/* The stop future cancels on its first poll (it has no cx before). */
static int stop_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_stream_next *n = (struct urt_stream_next *)f;

	if (!n->stop) {
		n->stop = true;
		urt_stream_cancel(n->s, cx);
	}
	return next_poll(f, cx);
}

static const struct urt_future_vt stop_vt = {
	.poll = stop_poll,
	.cancel = next_cancel,
};

struct urt_future *urt_stream_stop(struct urt_stream_next *n,
				   struct urt_stream *s, void *out)
{
	n->base.vt = &stop_vt;
	n->s = s;
	n->out = out;
	n->stop = false;
	return &n->base;
}

/* --- channel source -------------------------------------------------- */

static int cs_poll_next(struct urt_stream *s, struct urt_cx *cx, void *out)
{
	struct urt_chan_stream *cs = (struct urt_chan_stream *)s;
	int r;

	cs->op.buf = out; /* used only when an item is taken, this poll */
	r = urt_future_poll(&cs->op.base, cx);
	if (r == 0)
		return URT_STREAM_ITEM;
	if (r == -EPIPE)
		return URT_STREAM_END;
	return r; /* pending, -ECANCELED */
}

static void cs_cancel(struct urt_stream *s, struct urt_cx *cx)
{
	urt_future_cancel(&((struct urt_chan_stream *)s)->op.base, cx);
}

static const struct urt_stream_vt cs_vt = {
	.poll_next = cs_poll_next,
	.cancel = cs_cancel,
};

struct urt_stream *urt_chan_stream_init(struct urt_chan_stream *cs,
					struct urt_chan *ch)
{
	cs->base.vt = &cs_vt;
	cs->base.item_size = urt__chan_item_size(ch);
	/* The op is reusable: a finished recv (or a cancelled one, once
	 * polled) is back to idle. */
	urt_chan_recv(&cs->op, ch, NULL);
	return &cs->base;
}

/* --- interval source ------------------------------------------------- */

static int is_poll_next(struct urt_stream *s, struct urt_cx *cx, void *out)
{
	struct urt_interval_stream *is = (struct urt_interval_stream *)s;
	int r = urt_future_poll(urt_interval_tick(&is->iv), cx);

	if (r == URT_PENDING || r < 0)
		return r;
	*(uint64_t *)out = (uint64_t)r;
	return URT_STREAM_ITEM;
}

static void is_cancel(struct urt_stream *s, struct urt_cx *cx)
{
	/* The interval arms and cancels a timer if none is in flight: the
	 * next poll answers -ECANCELED, and the tick is not consumed. */
	urt_future_cancel(&((struct urt_interval_stream *)s)->iv.base, cx);
}

static const struct urt_stream_vt is_vt = {
	.poll_next = is_poll_next,
	.cancel = is_cancel,
};

struct urt_stream *urt_interval_stream_init(struct urt_interval_stream *is,
					    uint64_t period_ns)
{
	is->base.vt = &is_vt;
	is->base.item_size = sizeof(uint64_t);
	urt_interval_init(&is->iv, period_ns);
	return &is->base;
}

/* --- map / filter ---------------------------------------------------- */

static void fwd_cancel_map(struct urt_stream *s, struct urt_cx *cx)
{
	urt_stream_cancel(((struct urt_stream_map *)s)->inner, cx);
}

static int map_poll_next(struct urt_stream *s, struct urt_cx *cx, void *out)
{
	struct urt_stream_map *m = (struct urt_stream_map *)s;
	int r = urt_stream_poll_next(m->inner, cx, m->scratch);

	if (r != URT_STREAM_ITEM)
		return r;
	r = m->fn(m->ctx, m->scratch, out);
	return r < 0 ? r : URT_STREAM_ITEM;
}

static const struct urt_stream_vt map_vt = {
	.poll_next = map_poll_next,
	.cancel = fwd_cancel_map,
};

struct urt_stream *urt_stream_map_init(struct urt_stream_map *m,
				       struct urt_stream *inner,
				       size_t out_item_size,
				       urt_stream_map_fn fn, void *ctx,
				       void *scratch)
{
	m->base.vt = &map_vt;
	m->base.item_size = out_item_size;
	m->inner = inner;
	m->fn = fn;
	m->ctx = ctx;
	m->scratch = scratch;
	return &m->base;
}

static int filter_poll_next(struct urt_stream *s, struct urt_cx *cx,
			    void *out)
{
	struct urt_stream_filter *f = (struct urt_stream_filter *)s;
	int r;

	/* Bounded by the inner stream's coop budget: a source that is
	 * always ready returns PENDING (a yield) once it is spent. */
	do
		r = urt_stream_poll_next(f->inner, cx, out);
	while (r == URT_STREAM_ITEM && !f->keep(f->ctx, out));
	return r;
}

static void filter_cancel(struct urt_stream *s, struct urt_cx *cx)
{
	urt_stream_cancel(((struct urt_stream_filter *)s)->inner, cx);
}

static const struct urt_stream_vt filter_vt = {
	.poll_next = filter_poll_next,
	.cancel = filter_cancel,
};

struct urt_stream *urt_stream_filter_init(struct urt_stream_filter *f,
					  struct urt_stream *inner,
					  urt_stream_filter_fn keep, void *ctx)
{
	f->base.vt = &filter_vt;
	f->base.item_size = inner->item_size;
	f->inner = inner;
	f->keep = keep;
	f->ctx = ctx;
	return &f->base;
}

/* --- take ------------------------------------------------------------ */

enum { TAKE_RUN, TAKE_STOPPING, TAKE_DONE };

static int take_poll_next(struct urt_stream *s, struct urt_cx *cx, void *out)
{
	struct urt_stream_take *t = (struct urt_stream_take *)s;
	int r;

	if (t->phase == TAKE_DONE)
		return URT_STREAM_END;
	if (t->phase == TAKE_STOPPING || !t->left) {
		if (t->phase == TAKE_RUN) {
			t->phase = TAKE_STOPPING;
			urt_stream_cancel(t->inner, cx);
		}
		/* Drain the cancelled inner (a timer in flight); what it
		 * yields now is past the n-th item: dropped. */
		r = urt_stream_poll_next(t->inner, cx, out);
		if (r == URT_PENDING)
			return r;
		t->phase = TAKE_DONE;
		return URT_STREAM_END;
	}
	r = urt_stream_poll_next(t->inner, cx, out);
	if (r == URT_STREAM_ITEM)
		t->left--;
	else if (r == URT_STREAM_END)
		t->phase = TAKE_DONE;
	return r;
}

static void take_cancel(struct urt_stream *s, struct urt_cx *cx)
{
	struct urt_stream_take *t = (struct urt_stream_take *)s;

	if (t->phase == TAKE_RUN && t->left)
		urt_stream_cancel(t->inner, cx);
}

static const struct urt_stream_vt take_vt = {
	.poll_next = take_poll_next,
	.cancel = take_cancel,
};

struct urt_stream *urt_stream_take_init(struct urt_stream_take *t,
					struct urt_stream *inner, uint64_t n)
{
	t->base.vt = &take_vt;
	t->base.item_size = inner->item_size;
	t->inner = inner;
	t->left = n;
	t->phase = TAKE_RUN;
	return &t->base;
}

/* --- merge ----------------------------------------------------------- */

static int merge_poll_next(struct urt_stream *s, struct urt_cx *cx, void *out)
{
	struct urt_stream_merge *m = (struct urt_stream_merge *)s;

	if (m->cancelling) {
		/* Drain both cancelled children. An item one had in hand is
		 * delivered; the next poll goes on draining. */
		for (unsigned i = 0; i < 2; i++) {
			if (m->done[i] || m->drained[i])
				continue;
			int r = urt_stream_poll_next(m->s[i], cx, out);
			if (r == URT_PENDING)
				continue;
			m->drained[i] = true;
			if (r == URT_STREAM_END)
				m->done[i] = true;
			if (r == URT_STREAM_ITEM)
				return r;
		}
		if ((!m->done[0] && !m->drained[0]) ||
		    (!m->done[1] && !m->drained[1]))
			return URT_PENDING;
		m->cancelling = false;
		return -ECANCELED;
	}
	for (unsigned k = 0; k < 2; k++) {
		unsigned i = (m->first + k) & 1;
		if (m->done[i])
			continue;
		int r = urt_stream_poll_next(m->s[i], cx, out);
		if (r == URT_PENDING)
			continue;
		if (r == URT_STREAM_END) {
			m->done[i] = true;
			continue;
		}
		m->first = i ^ 1; /* the other one goes first next time */
		return r;
	}
	return m->done[0] && m->done[1] ? URT_STREAM_END : URT_PENDING;
}

static void merge_cancel(struct urt_stream *s, struct urt_cx *cx)
{
	struct urt_stream_merge *m = (struct urt_stream_merge *)s;

	if (m->cancelling || (m->done[0] && m->done[1]))
		return;
	m->cancelling = true;
	for (unsigned i = 0; i < 2; i++) {
		m->drained[i] = false;
		if (!m->done[i])
			urt_stream_cancel(m->s[i], cx);
	}
}

static const struct urt_stream_vt merge_vt = {
	.poll_next = merge_poll_next,
	.cancel = merge_cancel,
};

struct urt_stream *urt_stream_merge_init(struct urt_stream_merge *m,
					 struct urt_stream *a,
					 struct urt_stream *b)
{
	m->base.vt = &merge_vt;
	m->base.item_size = a->item_size;
	m->s[0] = a;
	m->s[1] = b;
	m->first = 0;
	m->done[0] = m->done[1] = false;
	m->drained[0] = m->drained[1] = false;
	m->cancelling = false;
	return &m->base;
}

/* --- throttle -------------------------------------------------------- */

static int throttle_poll_next(struct urt_stream *s, struct urt_cx *cx,
			      void *out)
{
	struct urt_stream_throttle *t = (struct urt_stream_throttle *)s;
	int r;

	if (!t->sleeping && !t->cancelled && t->next_ns > urt_now_ns()) {
		urt_op_sleep_until(&t->op, t->next_ns);
		t->sleeping = true;
	}
	if (t->sleeping) {
		r = urt_future_poll(&t->op.base, cx);
		if (r == URT_PENDING)
			return r;
		t->sleeping = false;
		if (t->cancelled) {
			t->cancelled = false;
			return -ECANCELED;
		}
	}
	t->cancelled = false; /* a cancel without a sleep went to inner */
	r = urt_stream_poll_next(t->inner, cx, out);
	if (r == URT_STREAM_ITEM)
		t->next_ns = urt_now_ns() + t->period_ns;
	return r;
}

static void throttle_cancel(struct urt_stream_throttle *t, struct urt_cx *cx)
{
	t->cancelled = true;
	if (t->sleeping)
		urt_future_cancel(&t->op.base, cx);
	else
		urt_stream_cancel(t->inner, cx);
}

static void throttle_cancel_s(struct urt_stream *s, struct urt_cx *cx)
{
	throttle_cancel((struct urt_stream_throttle *)s, cx);
}

static const struct urt_stream_vt throttle_vt = {
	.poll_next = throttle_poll_next,
	.cancel = throttle_cancel_s,
};

struct urt_stream *urt_stream_throttle_init(struct urt_stream_throttle *t,
					    struct urt_stream *inner,
					    uint64_t period_ns)
{
	t->base.vt = &throttle_vt;
	t->base.item_size = inner->item_size;
	t->inner = inner;
	t->period_ns = period_ns;
	t->next_ns = 0;
	t->sleeping = false;
	t->cancelled = false;
	return &t->base;
}

/* --- timeout --------------------------------------------------------- */

/* Polls the armed timer; URT_PENDING, or 0 once it is back (fired or
 * cancelled: both leave the op idle). */
static int to_timer(struct urt_stream_timeout *t, struct urt_cx *cx)
{
	int r = urt_future_poll(&t->op.base, cx);

	if (r == URT_PENDING)
		return r;
	t->armed = false;
	return 0;
}

static int timeout_poll_next(struct urt_stream *s, struct urt_cx *cx,
			     void *out)
{
	struct urt_stream_timeout *t = (struct urt_stream_timeout *)s;
	int r;

	if (t->cancelled || t->ending) {
		/* Drain our timer, then the inner stream's answer. */
		if (t->armed && to_timer(t, cx) == URT_PENDING)
			return URT_PENDING;
		if (t->ending) {
			t->ending = false;
			return URT_STREAM_END;
		}
		r = urt_stream_poll_next(t->inner, cx, out);
		if (r == URT_PENDING)
			return r;
		t->cancelled = false;
		t->deadline_ns = 0;
		return r;
	}
	if (!t->deadline_ns)
		t->deadline_ns = urt_now_ns() + t->timeout_ns;
	r = urt_stream_poll_next(t->inner, cx, out);
	if (r == URT_STREAM_END && t->armed) {
		/* Nothing may stay in flight past the end. */
		t->ending = true;
		urt_future_cancel(&t->op.base, cx);
		return timeout_poll_next(s, cx, out);
	}
	if (r != URT_PENDING) {
		t->deadline_ns = 0; /* the next item's wait starts later */
		return r;
	}
	/*
	 * The timer is lazy: one armed for an older (earlier) deadline is
	 * left to fire and then re-armed for the current one, instead of a
	 * cancel per item.
	 */
	for (;;) {
		if (!t->armed) {
			if (urt_now_ns() >= t->deadline_ns) {
				t->deadline_ns = 0;
				return -ETIME;
			}
			urt_op_sleep_until(&t->op, t->deadline_ns);
			t->armed = true;
		}
		if (to_timer(t, cx) == URT_PENDING)
			return URT_PENDING;
	}
}

static void timeout_cancel(struct urt_stream *s, struct urt_cx *cx)
{
	struct urt_stream_timeout *t = (struct urt_stream_timeout *)s;

	if (t->cancelled || t->ending)
		return;
	t->cancelled = true;
	if (t->armed)
		urt_future_cancel(&t->op.base, cx);
	urt_stream_cancel(t->inner, cx);
}

static const struct urt_stream_vt timeout_vt = {
	.poll_next = timeout_poll_next,
	.cancel = timeout_cancel,
};

struct urt_stream *urt_stream_timeout_init(struct urt_stream_timeout *t,
					   struct urt_stream *inner,
					   uint64_t timeout_ns)
{
	t->base.vt = &timeout_vt;
	t->base.item_size = inner->item_size;
	t->inner = inner;
	t->timeout_ns = timeout_ns;
	t->deadline_ns = 0;
	t->armed = t->cancelled = t->ending = false;
	return &t->base;
}
