/* SPDX-License-Identifier: MIT */
/*
 * Channels: mpsc (bounded / unbounded), oneshot and watch, usable from
 * tasks (futures) and plain threads (blocking calls). Items move through
 * lock-free rings (chan_ring.h): a send or recv that need not wait takes
 * no lock. The channel mutex guards only waiting (the waiter queues),
 * closing, growth and the end references. Streams over a receiver are
 * stream.c's; the waiter queues are waker.c's.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "chan_ring.h"
#include "waker.h"

/*
 * Who waits, and how they are woken:
 *
 * - One receiver task waits in rx_wait itself (its task pointer, holding a
 *   reference): the common case, one consumer task, needs no lock to wait
 *   or to be woken. Whoever clears the pointer (a CAS) owns that reference
 *   and wakes the task; a receiver leaving takes itself back the same way.
 *   A task may have several recvs pending on one channel (join, select),
 *   so the task pointer does not say whose registration it is: rx_wait_op
 *   names the recv that put it there (see rx_slot_mine), and a recv that
 *   cannot tell takes the task out and wakes it, so that the other recv
 *   looks again, rather than leave a registration nobody owns or remove
 *   one it does not own.
 * - Other receivers (more tasks on one receiver, blocked threads) wait in
 *   recvq under mu, and bit RXQ of rx_wait says the queue is not empty.
 *   A task takes the slot only when nobody waits, and a publish wakes the
 *   slot first, then the queue: waiting receivers stay FIFO.
 * - Senders wait for room (bounded only) in sendq under mu, FIFO, and
 *   tx_wait says the queue is not empty: then new sends queue behind them
 *   instead of taking a slot first, and every recv that frees a slot moves
 *   the first waiter's item in (pump), as a mutex channel would.
 *
 * Lost wake-ups are ruled out by two Dekker pairs, all seq_cst (on x86 the
 * stores are xchg, the loads plain movs; no fences, which TSan cannot
 * model):
 *   D1  sender: publish the slot, then load rx_wait;
 *       receiver: register in rx_wait, then take again (seq and tail).
 *       close: set SHUT in the tail, then empty rx_wait.
 *   D2  receiver: free the slot, then load tx_wait;
 *       waiting sender (under mu): store tx_wait, then claim again.
 * In each pair one side sees the other's write. Items themselves travel by
 * the slot's seq word (release / acquire), so TSan sees every hand-off;
 * the wake-up's own happens-before edge through MSG_RING is sched.c's.
 *
 * D1 is not enough on its own. A re-check looks at the head slot only, so
 * D1 says only that the head's publisher sees the waiter; but that one
 * publish can make several items takeable (items published behind an
 * unpublished head: their senders saw nobody waiting, rightly), or the end
 * (a close while the head's send was mid-copy: the receivers the close
 * woke found the head claimed and waited again). Every publish wakes at
 * most one waiter ("look again"), so the rest is passed on by a baton:
 *   B   a receiver that took an item or saw the end, or that leaves
 *       without either a wait it was woken from (cancel), once it is
 *       registered nowhere: loads rx_wait (seq_cst; after its take, whose
 *       free is seq_cst) and, if anyone waits and the head is takeable (an
 *       item, or shut and drained), wakes one (rx_pass).
 * Why nothing is left asleep: let W wait (registered; its re-check found
 * head h unpublished) and let item p become takeable. If p is h, its
 * publish follows W's re-check, so its publisher sees W (D1). Else the
 * head moved on to p: a receiver R took p - 1. If W registered before R's
 * rx_wait load, R sees a waiter (W, unless W was woken since) and looks at
 * the head: p published, R wakes one; not yet, then p's publish follows
 * R's look, hence W's registration, and p's publisher sees W (D1). If W
 * registered after R's load, W's re-check follows R's free: it finds p
 * itself, or p's publish follows it (D1 again). The end: the take of the
 * last item passes it on like an item, a close wakes everyone, and each
 * receiver that saw the end passes it on again. A woken receiver takes
 * (and passes on) or finds nothing, because someone else took (and passed
 * on), and registers again (D1). Nobody waiting costs B one plain load.
 */
#define RXQ ((uintptr_t)1)

/* Unbounded: the first segment's slots; each growth doubles. Small in
 * small-queue builds, so that growth runs in the tests. */
#define SEG0_SLOTS (URT_LOCAL_QUEUE_SIZE < 16 ? 2 : 16)

struct urt_chan {
	/* Read-mostly. tx_seg: where senders claim (the newest segment);
	 * rx_seg: where receivers take (the oldest not drained). */
	struct urt__seg *_Atomic tx_seg;
	struct urt__seg *_Atomic rx_seg;
	size_t item_size;
	size_t cap; /* 0: unbounded */
	urt_item_free_fn item_free;
	bool oneshot;

	/* Written when someone starts or stops waiting (see above). */
	_Atomic uintptr_t rx_wait __attribute__((aligned(64)));
	_Atomic int tx_wait;
	/* The recv op (an identity, never dereferenced) whose task was last
	 * put in rx_wait's slot; written by that recv after its CAS. */
	_Atomic uintptr_t rx_wait_op;

	pthread_mutex_t mu __attribute__((aligned(64))); /* guards below */
	struct urt__seg *first; /* every segment, oldest first, by next */
	size_t senders;		/* sender references */
	bool rx_alive;		/* the receiver reference */
	bool closed;		/* SHUT is set in tx_seg's tail */
	struct urt_waitq sendq; /* senders waiting for room (w.item) */
	struct urt_waitq recvq; /* receivers waiting for an item */
};

/* op->w.n of a channel op: where it waits. Only the op's poll and cancel
 * (never concurrent) read or write it, so it needs no lock. */
enum {
	OP_IDLE = 0,   /* not waiting */
	OP_SLOT = 1,   /* its task is (or was, until woken) in rx_wait, put
			* there by this op (rx_wait_op; see rx_slot_mine) */
	OP_QUEUED = 2, /* w is in a queue, or GRANTED: read w under mu */
};

static int chan_alloc(struct urt_chan **out, size_t item_size, size_t cap,
		      urt_item_free_fn item_free, bool oneshot)
{
	struct urt_chan *ch;
	struct urt__seg *s;
	uint64_t n = cap ? cap : SEG0_SLOTS;

	if (!out || !item_size || item_size > 65536)
		return -EINVAL;
	if (n > (SIZE_MAX / 2) / (item_size + 16) || n >= (1ull << 60))
		return -EINVAL;
	ch = aligned_alloc(64, (sizeof(*ch) + 63) & ~(size_t)63);
	if (!ch)
		return -ENOMEM;
	s = urt__seg_new(n, item_size);
	if (!s) {
		free(ch);
		return -ENOMEM;
	}
	memset(ch, 0, sizeof(*ch));
	urt__mu_init(&ch->mu);
	atomic_init(&ch->tx_seg, s);
	atomic_init(&ch->rx_seg, s);
	atomic_init(&ch->rx_wait, 0);
	atomic_init(&ch->tx_wait, 0);
	atomic_init(&ch->rx_wait_op, 0);
	ch->first = s;
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

/* Segments are freed only here: a sender or receiver that loaded an old
 * segment pointer may still read it (its CAS then fails on SHUT). */
static void chan_free(struct urt_chan *ch)
{
	struct urt__seg *s = ch->first;

	while (s) {
		struct urt__seg *next =
			atomic_load_explicit(&s->next, memory_order_relaxed);
		free(s);
		s = next;
	}
	pthread_mutex_destroy(&ch->mu);
	free(ch);
}

/* --- waking receivers ------------------------------------------------ */

static void ws_add(struct urt__wakeset *ws, struct urt_task *t)
{
	if (ws->n < sizeof(ws->t) / sizeof(ws->t[0]))
		ws->t[ws->n++] = t;
	else
		urt__task_wake_unref(t); /* t holds its own ref: waiting */
}

/* Under mu: clears RXQ once recvq is empty. */
static void rxq_update(struct urt_chan *ch)
{
	/* relaxed: RXQ is only a hint to take mu; set and cleared under mu,
	 * the other bits change by CAS, which keeps it. */
	if (!ch->recvq.head)
		atomic_fetch_and_explicit(&ch->rx_wait, ~RXQ,
					  memory_order_relaxed);
}

/* Under mu: wakes one waiting receiver, if any (D1: a publish precedes). */
static void rx_wake_locked(struct urt_chan *ch, struct urt__wakeset *ws)
{
	uintptr_t w = atomic_load_explicit(&ch->rx_wait, memory_order_seq_cst);

	while (w & ~RXQ) {
		/* acquire: the task pointer's reference was taken before the
		 * registering CAS. Clearing it makes its reference ours. */
		if (atomic_compare_exchange_weak_explicit(
			    &ch->rx_wait, &w, w & RXQ, memory_order_acq_rel,
			    memory_order_acquire)) {
			ws_add(ws, (struct urt_task *)(w & ~RXQ));
			return;
		}
	}
	if (ch->recvq.head) {
		urt__wq_grant_head(&ch->recvq, 0, ws);
		rxq_update(ch);
	}
}

/* Out of line: a wakeset is 136 bytes to clear, too many for the fast
 * paths that never need one. */
static __attribute__((noinline)) void rx_wake_queue(struct urt_chan *ch)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;

	pthread_mutex_lock(&ch->mu);
	rx_wake_locked(ch, &ws);
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
}

/* After a publish, with w the rx_wait value loaded after it (D1). */
static void rx_wake(struct urt_chan *ch, uintptr_t w)
{
	while (w & ~RXQ) {
		if (atomic_compare_exchange_weak_explicit(
			    &ch->rx_wait, &w, w & RXQ, memory_order_acq_rel,
			    memory_order_acquire)) {
			urt__task_wake_unref((struct urt_task *)(w & ~RXQ));
			return;
		}
	}
	if (w & RXQ)
		rx_wake_queue(ch);
}

/* Would a take not find the ring empty? (A snapshot; see rx_take.) */
static bool rx_ready(struct urt_chan *ch)
{
	return urt__seg_ready(
		atomic_load_explicit(&ch->rx_seg, memory_order_acquire));
}

/* rx_pass's slow half: somebody waits. */
static __attribute__((noinline)) void rx_pass_on(struct urt_chan *ch,
						 uintptr_t w)
{
	if (rx_ready(ch))
		rx_wake(ch, w);
}

/*
 * B (see the top of the file): a receiver that took an item or saw the
 * end, or that leaves a wait it was woken from, and is registered nowhere
 * now, wakes one waiter if the head is takeable. seq_cst: the load follows
 * our take in the single total order (D1's other half is the waiter's
 * registration and re-check); rx_ready's loads follow it.
 */
static inline void rx_pass(struct urt_chan *ch)
{
	uintptr_t w = atomic_load_explicit(&ch->rx_wait, memory_order_seq_cst);

	if (w)
		rx_pass_on(ch, w);
}

/* B under mu (thread receivers, queued tasks). */
static void rx_pass_locked(struct urt_chan *ch, struct urt__wakeset *ws)
{
	if (atomic_load_explicit(&ch->rx_wait, memory_order_seq_cst) &&
	    rx_ready(ch))
		rx_wake_locked(ch, ws);
}

/* Under mu: a queued receiver leaves the queue (timeout, cancel, found). */
static void rx_unqueue(struct urt_chan *ch, struct urt_waiter *w)
{
	urt__waiter_unqueue(&ch->recvq, w);
	rxq_update(ch);
}

/* --- moving items ---------------------------------------------------- */

/* Unbounded and full: a segment twice as big follows s. 0 (look again),
 * -EPIPE, -ENOMEM. */
static int grow(struct urt_chan *ch, struct urt__seg *s)
{
	struct urt__seg *ns;
	int r = 0;

	pthread_mutex_lock(&ch->mu);
	if (ch->closed) {
		r = -EPIPE;
	} else if (atomic_load_explicit(&ch->tx_seg, memory_order_relaxed) ==
		   s) {
		ns = urt__seg_new(s->n * 2, ch->item_size);
		if (!ns) {
			r = -ENOMEM;
		} else {
			atomic_store_explicit(&s->next, ns,
					      memory_order_release);
			/* Seal s before ns is published. A sender reaches ns
			 * only through tx_seg or through SHUT then next, so
			 * SHUT happens before any publish in ns and precedes
			 * it in the seq_cst order: a receiver whose re-check
			 * (seq_cst tail load) still found s open precedes
			 * that publish, whose rx_wait load then sees it (D1
			 * across segments). Published first, ns could hold
			 * items while s looks open and empty, and the SHUT
			 * would wake nobody. Release: whoever sees SHUT sees
			 * next. Claims made in s stay there and receivers
			 * drain s first, so order per sender holds (a sender
			 * never goes back to s). */
			atomic_fetch_or_explicit(&s->tail, URT__SEG_SHUT,
						 memory_order_seq_cst);
			/* release: ns's initialised slots, to its senders */
			atomic_store_explicit(&ch->tx_seg, ns,
					      memory_order_release);
		}
	}
	pthread_mutex_unlock(&ch->mu);
	return r;
}

/* Claims a slot, copies item in and publishes it; wakes nobody.
 * 0, -EPIPE, -ENOMEM, or URT_PENDING (bounded and full). */
static int tx_put(struct urt_chan *ch, const void *item)
{
	struct urt__seg *s = atomic_load_explicit(&ch->tx_seg,
						  memory_order_acquire);
	uint64_t pos;

	for (;;) {
		int r = urt__seg_claim(s, &pos,
				       ch->oneshot ? URT__SEG_SHUT : 0);
		struct urt__seg *next;

		if (r == URT__SEG_OK)
			break;
		if (r == URT__SEG_SHUT_) {
			next = atomic_load_explicit(&s->next,
						    memory_order_acquire);
			if (!next)
				return -EPIPE;
			s = next; /* sealed: a bigger segment follows */
			continue;
		}
		if (ch->cap)
			return URT_PENDING;
		r = grow(ch, s);
		if (r)
			return r;
		s = atomic_load_explicit(&ch->tx_seg, memory_order_acquire);
	}
	urt__item_copy(urt__seg_slot(s, pos)->item, item, ch->item_size);
	urt__seg_publish(s, pos);
	return 0;
}

/* A send that does not wait: 0, -EPIPE, -ENOMEM, URT_PENDING (full, or
 * senders are waiting: a new one queues behind them). */
static int tx_send(struct urt_chan *ch, const void *item)
{
	uintptr_t w;
	int r;

	/* relaxed: fairness only; a sender racing a new waiter is
	 * concurrent with it, either order is right. */
	if (atomic_load_explicit(&ch->tx_wait, memory_order_relaxed))
		return URT_PENDING;
	r = tx_put(ch, item);
	if (r)
		return r;
	/* D1: after the publish (seq_cst store in urt__seg_publish). A
	 * oneshot too: its close below is a no-op when someone closed it
	 * already, and receivers that waited again since (the head was
	 * claimed, not yet published) are woken by nothing else. */
	w = atomic_load_explicit(&ch->rx_wait, memory_order_seq_cst);
	if (w)
		rx_wake(ch, w);
	/* One item, once: the claim shut the tail; mark the channel closed
	 * (the receiver we woke passes the end on to any others, B). */
	if (ch->oneshot)
		urt_chan_close(ch);
	return 0;
}

/* Under mu: moves waiting senders' items in while there is room, first
 * come first. D2: the caller stored tx_wait before, so a receiver that
 * frees a slot after our last claim attempt sees it and pumps again. */
static void pump_locked(struct urt_chan *ch, struct urt__wakeset *ws)
{
	struct urt__seg *s = atomic_load_explicit(&ch->tx_seg,
						  memory_order_relaxed);
	struct urt_waiter *w;
	uint64_t pos;

	while ((w = ch->sendq.head)) {
		if (urt__seg_claim(s, &pos, 0) != URT__SEG_OK)
			break; /* full (closing empties sendq first) */
		urt__item_copy(urt__seg_slot(s, pos)->item, w->item,
			       ch->item_size);
		urt__seg_publish(s, pos);
		urt__waiter_grant(&ch->sendq, w, 0, ws);
		rx_wake_locked(ch, ws);
	}
	if (!ch->sendq.head)
		atomic_store_explicit(&ch->tx_wait, 0, memory_order_relaxed);
}

/* Under mu, bounded and full, a sender was just queued: says so, then
 * looks for room again (D2). */
static void tx_queue_locked(struct urt_chan *ch, struct urt__wakeset *ws)
{
	/* seq_cst: D2, before pump_locked's claim. */
	atomic_store_explicit(&ch->tx_wait, 1, memory_order_seq_cst);
	pump_locked(ch, ws);
}

/* Takes one item into out; wakes nobody. 0, -EPIPE (closed and drained),
 * or URT_PENDING (empty). The caller then checks tx_wait (D2). */
static int rx_take(struct urt_chan *ch, void *out)
{
	struct urt__seg *s = atomic_load_explicit(&ch->rx_seg,
						  memory_order_acquire);
	uint64_t pos;

	for (;;) {
		int r = urt__seg_take(s, &pos);
		struct urt__seg *next;

		if (r == URT__SEG_OK)
			break;
		if (r == URT__SEG_EMPTY)
			return URT_PENDING;
		next = atomic_load_explicit(&s->next, memory_order_acquire);
		if (!next)
			return -EPIPE;
		/* Sealed and drained: any receiver moves everyone on. */
		atomic_compare_exchange_strong_explicit(
			&ch->rx_seg, &s, next, memory_order_release,
			memory_order_relaxed);
		s = next;
	}
	urt__item_copy(out, urt__seg_slot(s, pos)->item, ch->item_size);
	urt__seg_free(s, pos);
	return 0;
}

/* Did a take make room that a waiting sender wants? (D2) */
static bool tx_waiting(struct urt_chan *ch)
{
	return atomic_load_explicit(&ch->tx_wait, memory_order_seq_cst);
}

static __attribute__((noinline)) void tx_pump(struct urt_chan *ch)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;

	pthread_mutex_lock(&ch->mu);
	pump_locked(ch, &ws);
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
}

/* rx_take, then the pump if a sender waits for room. Not under mu. The
 * caller passes on (B) once it is no longer registered. */
static int rx_pop(struct urt_chan *ch, void *out)
{
	int r = rx_take(ch, out);

	if (r == 0 && tx_waiting(ch))
		tx_pump(ch);
	return r;
}

/* Closes for sending: waiting senders get -EPIPE (their items untaken),
 * waiting receivers look again (drain, then -EPIPE). */
static void close_locked(struct urt_chan *ch, struct urt__wakeset *ws)
{
	struct urt__seg *s;
	uintptr_t w;

	if (ch->closed)
		return;
	ch->closed = true;
	/* seq_cst: D1, the close half. tx_seg is stable under mu. */
	s = atomic_load_explicit(&ch->tx_seg, memory_order_relaxed);
	atomic_fetch_or_explicit(&s->tail, URT__SEG_SHUT,
				 memory_order_seq_cst);
	while (urt__wq_grant_head(&ch->sendq, -EPIPE, ws))
		;
	atomic_store_explicit(&ch->tx_wait, 0, memory_order_relaxed);
	w = atomic_exchange_explicit(&ch->rx_wait, 0, memory_order_seq_cst);
	if (w & ~RXQ)
		ws_add(ws, (struct urt_task *)(w & ~RXQ));
	while (urt__wq_grant_head(&ch->recvq, 0, ws))
		;
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

/* After close: passes every item left to item_free, in place. A sender
 * that claimed a slot before the close publishes it in a moment (it holds
 * a sender reference, so the channel stays). */
static void drain(struct urt_chan *ch)
{
	struct urt__seg *s = atomic_load_explicit(&ch->rx_seg,
						  memory_order_acquire);
	uint64_t pos;

	for (;;) {
		int r = urt__seg_take(s, &pos);

		if (r == URT__SEG_OK) {
			ch->item_free(urt__seg_slot(s, pos)->item);
			urt__seg_free(s, pos);
		} else if (r == URT__SEG_EMPTY) {
			sched_yield(); /* claimed, not yet published */
		} else {
			s = atomic_load_explicit(&s->next,
						 memory_order_acquire);
			if (!s)
				return;
		}
	}
}

void urt_chan_receiver_drop(struct urt_chan *ch)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	bool last;

	pthread_mutex_lock(&ch->mu);
	close_locked(ch, &ws);
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	/* item_free runs unlocked (user code that may touch other channels,
	 * or this one's sender side), and before rx_alive drops: the last
	 * sender_drop frees the channel only after that. */
	if (ch->item_free)
		drain(ch);
	pthread_mutex_lock(&ch->mu);
	ch->rx_alive = false;
	last = !ch->senders;
	pthread_mutex_unlock(&ch->mu);
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
	struct urt__seg *s = atomic_load_explicit(&ch->rx_seg,
						  memory_order_acquire);
	size_t n = 0;

	for (; s; s = atomic_load_explicit(&s->next, memory_order_acquire))
		n += urt__seg_len(s);
	return n;
}

/* --- non-waiting and blocking calls ---------------------------------- */

int urt_chan_try_send(struct urt_chan *ch, const void *item)
{
	int r = tx_send(ch, item);

	return r == URT_PENDING ? -EAGAIN : r;
}

int urt_chan_try_recv(struct urt_chan *ch, void *out)
{
	int r = rx_pop(ch, out);

	if (r == URT_PENDING)
		return -EAGAIN;
	rx_pass(ch); /* B */
	return r;
}

/* Slow paths of the blocking calls, out of line (see rx_wake_queue). */
static __attribute__((noinline)) int send_block(struct urt_chan *ch,
						const void *item,
						uint64_t timeout_ns)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_waiter w = { .state = URT__WS_IDLE, .item = item };
	uint64_t deadline = urt__deadline(timeout_ns);
	pthread_cond_t cv;
	int r;

	pthread_mutex_lock(&ch->mu);
	if (ch->closed) {
		r = -EPIPE;
	} else if (!ch->sendq.head &&
		   (r = tx_put(ch, item)) != URT_PENDING) {
		/* Room came, and nobody queued first. */
		if (r == 0)
			rx_wake_locked(ch, &ws);
	} else {
		urt__cv_init(&cv);
		w.cv = &cv;
		urt__wq_push(&ch->sendq, &w);
		tx_queue_locked(ch, &ws);
		/* A receiver that makes room moves our item in and grants
		 * us (0), or close grants -EPIPE; both under ch->mu. */
		r = urt__waiter_block(&w, &ch->mu, deadline);
		if (r) {
			urt__waiter_unqueue(&ch->sendq, &w);
			if (!ch->sendq.head)
				atomic_store_explicit(&ch->tx_wait, 0,
						      memory_order_relaxed);
		} else {
			r = w.res;
		}
		pthread_cond_destroy(&cv);
	}
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	return r;
}

static __attribute__((noinline)) int recv_block(struct urt_chan *ch,
						void *out, uint64_t timeout_ns)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_waiter w = { .state = URT__WS_IDLE };
	uint64_t deadline = urt__deadline(timeout_ns);
	pthread_cond_t cv;
	int r;

	urt__cv_init(&cv);
	w.cv = &cv;
	pthread_mutex_lock(&ch->mu);
	for (;;) {
		urt__wq_push(&ch->recvq, &w);
		/* seq_cst: D1, registration before the re-check. */
		atomic_fetch_or_explicit(&ch->rx_wait, RXQ,
					 memory_order_seq_cst);
		r = rx_take(ch, out);
		if (r != URT_PENDING) {
			/* Still queued: a grant needs mu, held since the
			 * push. */
			rx_unqueue(ch, &w);
			break;
		}
		r = urt__waiter_block(&w, &ch->mu, deadline);
		if (r) {
			rx_unqueue(ch, &w);
			break;
		}
		/* Granted: an item or the end may be there. */
		w.state = URT__WS_IDLE;
		r = rx_take(ch, out);
		if (r != URT_PENDING)
			break;
	}
	if (r == 0 && tx_waiting(ch))
		pump_locked(ch, &ws);
	/* B, unqueued: an item or the end (-ETIME consumed no wake-up: a
	 * waiter times out only while still queued). */
	if (r != -ETIME)
		rx_pass_locked(ch, &ws);
	pthread_mutex_unlock(&ch->mu);
	pthread_cond_destroy(&cv);
	urt__wakeset_flush(&ws);
	return r;
}

int urt_chan_send_blocking(struct urt_chan *ch, const void *item,
			   uint64_t timeout_ns)
{
	int r;

	if (urt__current_worker())
		return -EDEADLK;
	r = tx_send(ch, item);
	return r == URT_PENDING ? send_block(ch, item, timeout_ns) : r;
}

int urt_chan_recv_blocking(struct urt_chan *ch, void *out, uint64_t timeout_ns)
{
	int r;

	if (urt__current_worker())
		return -EDEADLK;
	r = rx_pop(ch, out);
	if (r == URT_PENDING)
		return recv_block(ch, out, timeout_ns);
	rx_pass(ch); /* B */
	return r;
}

/* --- futures --------------------------------------------------------- */

/* A send that found the channel full (or senders waiting): queue. */
static __attribute__((noinline)) int send_wait(struct urt_chan_op *op,
					       struct urt_cx *cx)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_chan *ch = op->ch;
	int r;

	pthread_mutex_lock(&ch->mu);
	if (ch->closed) {
		r = -EPIPE;
	} else if (!ch->sendq.head &&
		   (r = tx_put(ch, op->buf)) != URT_PENDING) {
		if (r == 0)
			rx_wake_locked(ch, &ws);
	} else {
		op->w.item = op->buf;
		urt__waiter_queue_task(&ch->sendq, &op->w, cx);
		tx_queue_locked(ch, &ws);
		if (op->w.state == URT__WS_GRANTED) {
			/* Room came at once (D2). The grant queued a wake of
			 * our own running task: a spurious poll, harmless. */
			op->w.state = URT__WS_IDLE;
			r = op->w.res;
		} else {
			op->w.n = OP_QUEUED;
			r = URT_PENDING;
		}
	}
	pthread_mutex_unlock(&ch->mu);
	urt__wakeset_flush(&ws);
	return r;
}

/*
 * Coop budget: a send/recv that is always ready (a full stream) must let
 * the worker's other tasks run. The check comes before any item moves, so
 * an exhausted budget leaves nothing half done; a poll that then pends
 * ends the task's poll anyway, so spending on it costs nothing.
 */
static int send_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_chan_op *op = (struct urt_chan_op *)f;
	struct urt_chan *ch = op->ch;
	int r;

	if (!cx || !cx->task)
		return -EINVAL;
	if (op->w.n == OP_QUEUED) {
		/* state is written by granters under ch->mu */
		pthread_mutex_lock(&ch->mu);
		if (op->w.state == URT__WS_GRANTED) {
			op->w.state = URT__WS_IDLE;
			op->w.n = OP_IDLE;
			r = op->w.res;
		} else {
			r = URT_PENDING; /* spurious poll: still waiting */
		}
		pthread_mutex_unlock(&ch->mu);
		return r;
	}
	if (!urt__budget_spend(cx))
		return URT_PENDING;
	r = tx_send(ch, op->buf);
	return r == URT_PENDING ? send_wait(op, cx) : r;
}

static void send_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_chan_op *op = (struct urt_chan_op *)f;
	struct urt_chan *ch = op->ch;

	(void)cx;
	if (op->w.n != OP_QUEUED) {
		op->w.state = URT__WS_GRANTED;
		op->w.res = -ECANCELED;
		op->w.n = OP_QUEUED;
		return;
	}
	pthread_mutex_lock(&ch->mu);
	if (op->w.state == URT__WS_QUEUED) {
		urt__waiter_unqueue(&ch->sendq, &op->w);
		if (!ch->sendq.head)
			atomic_store_explicit(&ch->tx_wait, 0,
					      memory_order_relaxed);
		op->w.state = URT__WS_GRANTED;
		op->w.res = -ECANCELED;
	}
	/* GRANTED keeps its result: 0 means the item was taken, and
	 * reporting that is what keeps it from being lost or sent twice. */
	pthread_mutex_unlock(&ch->mu);
}

/* Registers the running task as a waiting receiver: in rx_wait if nobody
 * waits, else in recvq. The caller then takes again (D1). */
static void rx_register(struct urt_chan *ch, struct urt_chan_op *op,
			struct urt_cx *cx)
{
	uintptr_t t = (uintptr_t)cx->task;
	uintptr_t w = atomic_load_explicit(&ch->rx_wait, memory_order_relaxed);

	urt__task_ref(cx->task); /* rx_wait's reference */
	/* Only while nobody waits at all: the slot's task is then older
	 * than every queued waiter, and waking the slot first keeps
	 * waiting receivers FIFO. */
	while (!w) {
		/* seq_cst: D1, registration before the re-check; release
		 * also publishes the reference just taken. */
		if (atomic_compare_exchange_weak_explicit(
			    &ch->rx_wait, &w, w | t, memory_order_seq_cst,
			    memory_order_relaxed)) {
			/* relaxed: read only by recvs of this task, which
			 * run after us (rx_slot_mine). */
			atomic_store_explicit(&ch->rx_wait_op, (uintptr_t)op,
					      memory_order_relaxed);
			op->w.task = cx->task; /* owner-private in OP_SLOT */
			op->w.n = OP_SLOT;
			return;
		}
	}
	urt__task_unref(cx->task); /* not the last: the task is running */
	pthread_mutex_lock(&ch->mu);
	urt__waiter_queue_task(&ch->recvq, &op->w, cx);
	atomic_fetch_or_explicit(&ch->rx_wait, RXQ, memory_order_seq_cst);
	pthread_mutex_unlock(&ch->mu);
	op->w.n = OP_QUEUED;
}

/*
 * OP_SLOT: is op's own registration still in rx_wait? Sure when the slot
 * holds op's task and rx_wait_op is op: only recvs of this task put it in
 * the slot, each writes rx_wait_op after its CAS, and they run one after
 * the other (polls of one task are ordered by the scheduler), so a later
 * registration of the task by another recv has overwritten rx_wait_op
 * before we read it (coherence), and no other recv stores op.
 * The converse does not hold: a recv of another task that registered,
 * was woken and replaced by us between its CAS and its store leaves its
 * own op there. Then "not mine" is wrong; rx_leave_slot copes.
 */
static bool rx_slot_mine(struct urt_chan *ch, struct urt_chan_op *op)
{
	return (atomic_load_explicit(&ch->rx_wait, memory_order_relaxed) &
		~RXQ) == (uintptr_t)op->w.task &&
	       atomic_load_explicit(&ch->rx_wait_op, memory_order_relaxed) ==
		       (uintptr_t)op;
}

/*
 * OP_SLOT: takes op's task back out of rx_wait. True if that was op's own
 * registration (no wake-up used). False if a sender (or close) took it
 * first, which wakes the task and drops the ref; or if the slot held the
 * task for a registration that may not be op's (another recv of this task,
 * see rx_slot_mine): then we take it out all the same and wake the task,
 * so that the other recv looks again and registers anew. A registration
 * left behind would absorb a later wake-up meant for a real waiter; one
 * removed without a wake would leave that recv waiting unregistered.
 */
static bool rx_leave_slot(struct urt_chan *ch, struct urt_chan_op *op)
{
	uintptr_t t = (uintptr_t)op->w.task;
	/* Before the CAS: once the task is out, other tasks may register
	 * and store their op (relaxed: see rx_slot_mine). */
	bool mine = atomic_load_explicit(&ch->rx_wait_op,
					 memory_order_relaxed) == (uintptr_t)op;
	uintptr_t w = atomic_load_explicit(&ch->rx_wait, memory_order_relaxed);

	op->w.task = NULL;
	op->w.n = OP_IDLE;
	while ((w & ~RXQ) == t) {
		if (atomic_compare_exchange_weak_explicit(
			    &ch->rx_wait, &w, w & RXQ, memory_order_relaxed,
			    memory_order_relaxed)) {
			if (mine) {
				/* not the last: the task is running */
				urt__task_unref((struct urt_task *)t);
				return true;
			}
			urt__task_wake_unref((struct urt_task *)t);
			return false;
		}
	}
	return false;
}

/* Leaves whatever wait a recv registered, after the re-check found an
 * item or the end. The caller then passes on (B), which covers a wake-up
 * this recv was given meanwhile and used up. */
static void rx_unregister(struct urt_chan *ch, struct urt_chan_op *op)
{
	if (op->w.n == OP_SLOT) {
		rx_leave_slot(ch, op);
		return;
	}
	pthread_mutex_lock(&ch->mu);
	if (op->w.state == URT__WS_QUEUED)
		rx_unqueue(ch, &op->w);
	else
		op->w.state = URT__WS_IDLE; /* granted meanwhile */
	pthread_mutex_unlock(&ch->mu);
	op->w.n = OP_IDLE;
}

static int recv_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_chan_op *op = (struct urt_chan_op *)f;
	struct urt_chan *ch = op->ch;
	int r;

	if (!cx || !cx->task)
		return -EINVAL;
	if (op->w.n == OP_SLOT) {
		if (rx_slot_mine(ch, op) && !rx_ready(ch))
			return URT_PENDING; /* spurious poll */
		if (!urt__budget_spend(cx))
			return URT_PENDING; /* cancel passes the wake on */
		/* If still there. A take (then B) or a new registration
		 * follows. */
		rx_leave_slot(ch, op);
	} else if (op->w.n == OP_QUEUED) {
		/* state is written by granters under ch->mu */
		pthread_mutex_lock(&ch->mu);
		if (op->w.state == URT__WS_QUEUED) {
			if (!rx_ready(ch) || !urt__budget_spend(cx)) {
				pthread_mutex_unlock(&ch->mu);
				return URT_PENDING;
			}
			rx_unqueue(ch, &op->w);
		} else if (op->w.res < 0) { /* cancelled */
			op->w.state = URT__WS_IDLE;
			op->w.n = OP_IDLE;
			pthread_mutex_unlock(&ch->mu);
			return op->w.res;
		} else if (!urt__budget_spend(cx)) {
			pthread_mutex_unlock(&ch->mu);
			return URT_PENDING; /* cancel passes the wake on */
		} else {
			op->w.state = URT__WS_IDLE;
		}
		pthread_mutex_unlock(&ch->mu);
		op->w.n = OP_IDLE;
	} else if (!urt__budget_spend(cx)) {
		return URT_PENDING;
	}
	r = rx_pop(ch, op->buf);
	if (r == URT_PENDING) {
		rx_register(ch, op, cx);
		r = rx_pop(ch, op->buf); /* D1: look again after registering */
		if (r == URT_PENDING)
			return r;
		rx_unregister(ch, op);
	}
	rx_pass(ch); /* B: registered nowhere now */
	return r;
}

static void recv_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_chan_op *op = (struct urt_chan_op *)f;
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_chan *ch = op->ch;

	(void)cx;
	if (op->w.n == OP_SLOT) {
		if (!rx_leave_slot(ch, op))
			rx_pass(ch); /* B: woken, and leaving */
	} else if (op->w.n == OP_QUEUED) {
		pthread_mutex_lock(&ch->mu);
		if (op->w.state == URT__WS_QUEUED) {
			rx_unqueue(ch, &op->w);
		} else if (op->w.res < 0) { /* cancelled twice */
			pthread_mutex_unlock(&ch->mu);
			return;
		} else { /* B: granted, and leaving */
			rx_pass_locked(ch, &ws);
		}
		pthread_mutex_unlock(&ch->mu);
		urt__wakeset_flush(&ws);
	}
	op->w.state = URT__WS_GRANTED;
	op->w.res = -ECANCELED;
	op->w.n = OP_QUEUED;
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
	op->w = (struct urt_waiter){ .state = URT__WS_IDLE, .n = OP_IDLE };
	return &op->base;
}

struct urt_future *urt_chan_recv(struct urt_chan_op *op, struct urt_chan *ch,
				 void *out)
{
	op->base.vt = &recv_vt;
	op->ch = ch;
	op->buf = out;
	op->w = (struct urt_waiter){ .state = URT__WS_IDLE, .n = OP_IDLE };
	return &op->base;
}

size_t urt__chan_item_size(struct urt_chan *ch)
{
	return ch->item_size;
}

size_t urt__chan_rx_waiters(struct urt_chan *ch)
{
	size_t n = 0;

	pthread_mutex_lock(&ch->mu);
	for (struct urt_waiter *w = ch->recvq.head; w; w = w->next)
		n++;
	if (atomic_load_explicit(&ch->rx_wait, memory_order_relaxed) & ~RXQ)
		n++;
	pthread_mutex_unlock(&ch->mu);
	return n;
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
