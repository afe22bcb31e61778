/* SPDX-License-Identifier: MIT */
/*
 * Waiter queues and wake-ups for chan.c, sync.c, stream.c, blocking.c: a
 * task waiter is woken through urt__task_wake() (the scheduler's ring wake
 * path, never an eventfd or futex); a blocked thread waits on a condvar.
 */
#include <errno.h>
#include <time.h>

#include "waker.h"

void urt__wq_push(struct urt_waitq *q, struct urt_waiter *w)
{
	w->next = NULL;
	w->prev = q->tail;
	if (q->tail)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
	w->state = URT__WS_QUEUED;
}

void urt__wq_unlink(struct urt_waitq *q, struct urt_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->prev = w->next = NULL;
}

void urt__waiter_queue_task(struct urt_waitq *q, struct urt_waiter *w,
			    struct urt_cx *cx)
{
	/* The reference keeps the task alive between a granter unlinking w
	 * and its urt__task_wake() after the lock is dropped. */
	urt__task_ref(cx->task);
	w->task = cx->task;
	w->cv = NULL;
	urt__wq_push(q, w);
}

void urt__waiter_grant(struct urt_waitq *q, struct urt_waiter *w, int res,
		       struct urt__wakeset *ws)
{
	struct urt_task *t = w->task;

	urt__wq_unlink(q, w);
	w->res = res;
	w->state = URT__WS_GRANTED;
	w->task = NULL;
	if (t) {
		if (ws && ws->n < sizeof(ws->t) / sizeof(ws->t[0])) {
			ws->t[ws->n++] = t;
		} else {
			/* Set full: wake under the lock. The task cannot be
			 * freed here: its future is registered with us, so it
			 * is not complete and holds its own reference. */
			urt__task_wake_unref(t);
		}
	} else if (w->cv) {
		/* The thread needs our mutex to return from its wait: it
		 * reads state/res only after we unlock. */
		pthread_cond_signal(w->cv);
	}
}

struct urt_waiter *urt__wq_grant_head(struct urt_waitq *q, int res,
				      struct urt__wakeset *ws)
{
	struct urt_waiter *w = q->head;

	if (w)
		urt__waiter_grant(q, w, res, ws);
	return w;
}

void urt__waiter_unqueue(struct urt_waitq *q, struct urt_waiter *w)
{
	struct urt_task *t = w->task;

	urt__wq_unlink(q, w);
	w->state = URT__WS_IDLE;
	w->task = NULL;
	/* Cannot be the last reference: only the task itself (running, so
	 * holding its running reference) or a thread owning the waiter
	 * unqueues. */
	if (t)
		urt__task_unref(t);
}

void urt__wakeset_flush(struct urt__wakeset *ws)
{
	for (unsigned i = 0; i < ws->n; i++) {
		/* urt__task_wake's acq_rel CAS publishes what the granter
		 * wrote under the lock to the poll it causes (the poll also
		 * takes the lock, so this is belt and braces). */
		urt__task_wake_unref(ws->t[i]);
	}
	ws->n = 0;
}

uint64_t urt__deadline(uint64_t timeout_ns)
{
	uint64_t now;

	if (timeout_ns == URT_FOREVER)
		return URT_FOREVER;
	now = urt_now_ns();
	return timeout_ns > URT_FOREVER - now ? URT_FOREVER : now + timeout_ns;
}

void urt__cv_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

int urt__waiter_block(struct urt_waiter *w, pthread_mutex_t *mu,
		      uint64_t deadline_ns)
{
	while (w->state == URT__WS_QUEUED) {
		if (deadline_ns == URT_FOREVER) {
			pthread_cond_wait(w->cv, mu);
			continue;
		}
		if (urt_now_ns() >= deadline_ns)
			return -ETIME;
		struct timespec ts = {
			.tv_sec = (time_t)(deadline_ns / 1000000000ull),
			.tv_nsec = (long)(deadline_ns % 1000000000ull),
		};
		pthread_cond_timedwait(w->cv, mu, &ts);
	}
	return 0;
}
