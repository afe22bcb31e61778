/* SPDX-License-Identifier: MIT */
/*
 * Waiter queues shared by chan.c, sync.c and stream.c: a FIFO of waiters,
 * each a task (woken through urt__task_wake, the scheduler's ring path) or
 * a blocked thread (a condvar on the primitive's own mutex). Never
 * installed. Every function here runs under the primitive's lock, except
 * urt__wakeset_flush (after unlocking).
 */
#ifndef URT_WAKER_H
#define URT_WAKER_H

#include "internal.h"
#include "urt/sync.h"

enum {
	URT__WS_IDLE = 0,    /* not queued; nothing handed over */
	URT__WS_QUEUED = 1,  /* in a queue; task ref (or cv) set */
	URT__WS_GRANTED = 2, /* unlinked by a granter; res is valid */
};

/* Tasks to wake once the lock is dropped (each holds a reference). */
struct urt__wakeset {
	unsigned n;
	struct urt_task *t[16];
};

#define URT__WAKESET_INIT { .n = 0 }

URT__HIDDEN void urt__wq_push(struct urt_waitq *q, struct urt_waiter *w);
URT__HIDDEN void urt__wq_unlink(struct urt_waitq *q, struct urt_waiter *w);

/*
 * Queues the current task (cx->task) as waiter w, taking a task reference
 * that the granter (or urt__waiter_unqueue) gives back.
 */
URT__HIDDEN void urt__waiter_queue_task(struct urt_waitq *q,
					struct urt_waiter *w,
					struct urt_cx *cx);
/*
 * Unlinks the head waiter, marks it GRANTED with res and arranges its
 * wake-up: a task goes into ws (woken by urt__wakeset_flush), a thread's
 * condvar is signalled now (it cannot run before we unlock). Returns the
 * waiter, NULL if q is empty. The waiter's memory may be gone once the
 * lock is dropped: callers read what they need first.
 */
URT__HIDDEN struct urt_waiter *urt__wq_grant_head(struct urt_waitq *q, int res,
						  struct urt__wakeset *ws);
URT__HIDDEN void urt__waiter_grant(struct urt_waitq *q, struct urt_waiter *w,
				   int res, struct urt__wakeset *ws);
/*
 * Takes a still-QUEUED waiter out of q (cancel, timeout, spurious poll that
 * found its condition true): drops the task reference. Back to IDLE.
 */
URT__HIDDEN void urt__waiter_unqueue(struct urt_waitq *q,
				     struct urt_waiter *w);
/* After the lock is released: wakes and unrefs every collected task. */
URT__HIDDEN void urt__wakeset_flush(struct urt__wakeset *ws);

/*
 * Thread side. urt__deadline(timeout_ns) converts a relative timeout into
 * an absolute CLOCK_MONOTONIC deadline (URT_FOREVER stays FOREVER).
 * urt__waiter_block: w is QUEUED with w->cv set; waits on *mu (held) until
 * w is GRANTED (0) or the deadline passed (-ETIME; w is still queued, the
 * caller unqueues it).
 */
URT__HIDDEN uint64_t urt__deadline(uint64_t timeout_ns);
URT__HIDDEN void urt__cv_init(pthread_cond_t *cv);
URT__HIDDEN int urt__waiter_block(struct urt_waiter *w, pthread_mutex_t *mu,
				  uint64_t deadline_ns);

/* chan.c: the item size of a channel (for stream.c). */
struct urt_chan;
URT__HIDDEN size_t urt__chan_item_size(struct urt_chan *ch);
/*
 * For tests: receivers waiting on ch now (a snapshot): the rx_wait slot's
 * task, if any, and every queued waiter. A queued thread or task counted
 * here has already made its re-check (both happen under ch->mu); a task in
 * the slot may still be making it.
 */
URT__HIDDEN size_t urt__chan_rx_waiters(struct urt_chan *ch);

/*
 * The lock of a channel or primitive: held for a few dozen instructions
 * (copy an item, link a waiter), contended by workers on other CPUs. An
 * adaptive mutex spins briefly before sleeping in futex, instead of paying
 * a futex sleep and wake per contended send (the chan_mpsc profile).
 */
static inline void urt__mu_init(pthread_mutex_t *mu)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(mu, &a);
	pthread_mutexattr_destroy(&a);
}

#endif
