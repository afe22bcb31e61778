/* SPDX-License-Identifier: MIT */
/*
 * Test-only one-slot mailboxes for the scheduler tests. Not runtime API.
 *
 * struct h_mbox: one value, one receiving task parked on it through a
 * waker (a task reference, woken with urt__task_wake: the runtime's own
 * wake path, so a wake from a running task uses the LIFO slot). One sender
 * at a time. The receiver's future has a cancel hook that takes the waker
 * back, so an aborted receiver does not stay alive through the mailbox.
 *
 * struct h_flagbox: the same without a waker: the receiver yields
 * (urt_cx_yield) and polls the flag again (public API only).
 */
#ifndef URT_TEST_MAILBOX_H
#define URT_TEST_MAILBOX_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"

struct h_mbox {
	_Atomic int full;
	_Atomic int value; /* relaxed; ordered by full */
	_Atomic(uintptr_t) waiter; /* struct urt_task *, holds a ref */
};

static inline void h_mbox_init(struct h_mbox *m)
{
	atomic_init(&m->full, 0);
	atomic_init(&m->value, 0);
	atomic_init(&m->waiter, 0);
}

/*
 * Any thread. Precondition: the slot is empty (one token per mailbox).
 * Dekker with recv: full (seq_cst store) then waiter (seq_cst RMW); the
 * receiver stores waiter then loads full, so one of them sees the other.
 */
static inline void h_mbox_send(struct h_mbox *m, int v)
{
	uintptr_t w;

	atomic_store_explicit(&m->value, v, memory_order_relaxed);
	atomic_store(&m->full, 1);
	w = atomic_exchange(&m->waiter, 0);
	if (w) {
		urt__task_wake((struct urt_task *)w);
		urt__task_unref((struct urt_task *)w);
	}
}

static inline int h_mbox_take(struct h_mbox *m)
{
	int v = atomic_load_explicit(&m->value, memory_order_relaxed);

	atomic_store(&m->full, 0);
	return v;
}

static inline void h_mbox_unwait(struct h_mbox *m)
{
	uintptr_t w = atomic_exchange(&m->waiter, 0);

	if (w)
		urt__task_unref((struct urt_task *)w);
}

/* Receive future: ready with the value (>= 0 by convention). */
struct h_mbox_recv {
	struct urt_future base;
	struct h_mbox *m;
	int cancelled;
};

static inline int h_mbox_recv_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct h_mbox_recv *r = (struct h_mbox_recv *)f;
	struct h_mbox *m = r->m;
	uintptr_t old;

	if (r->cancelled)
		return -ECANCELED;
	if (atomic_load(&m->full)) {
		h_mbox_unwait(m);
		return h_mbox_take(m);
	}
	urt__task_ref(cx->task); /* the stored waker's ref */
	old = atomic_exchange(&m->waiter, (uintptr_t)cx->task);
	if (old)
		urt__task_unref((struct urt_task *)old);
	if (atomic_load(&m->full)) {
		h_mbox_unwait(m);
		return h_mbox_take(m);
	}
	return URT_PENDING;
}

static inline void h_mbox_recv_cancel(struct urt_future *f,
				      struct urt_cx *cx)
{
	struct h_mbox_recv *r = (struct h_mbox_recv *)f;

	(void)cx;
	h_mbox_unwait(r->m);
	r->cancelled = 1;
}

static const struct urt_future_vt h_mbox_recv_vt = {
	.poll = h_mbox_recv_poll,
	.cancel = h_mbox_recv_cancel,
};

static inline struct urt_future *h_mbox_recv(struct h_mbox_recv *r,
					     struct h_mbox *m)
{
	r->base.vt = &h_mbox_recv_vt;
	r->m = m;
	r->cancelled = 0;
	return &r->base;
}

/* --- flag box: yield and poll again ---------------------------------- */

struct h_flagbox {
	_Atomic int full;
	_Atomic int value;
};

static inline void h_flagbox_send(struct h_flagbox *b, int v)
{
	atomic_store_explicit(&b->value, v, memory_order_relaxed);
	/* release: value before full */
	atomic_store_explicit(&b->full, 1, memory_order_release);
}

struct h_flagbox_recv {
	struct urt_future base;
	struct h_flagbox *b;
};

static inline int h_flagbox_recv_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct h_flagbox *b = ((struct h_flagbox_recv *)f)->b;

	/* acquire: pairs with send's release */
	if (atomic_load_explicit(&b->full, memory_order_acquire)) {
		atomic_store_explicit(&b->full, 0, memory_order_relaxed);
		return atomic_load_explicit(&b->value, memory_order_relaxed);
	}
	urt_cx_yield(cx);
	return URT_PENDING;
}

/* No cancel hook: nothing registered anywhere, droppable. */
static const struct urt_future_vt h_flagbox_recv_vt = {
	.poll = h_flagbox_recv_poll,
};

static inline struct urt_future *h_flagbox_recv(struct h_flagbox_recv *r,
						struct h_flagbox *b)
{
	r->base.vt = &h_flagbox_recv_vt;
	r->b = b;
	return &r->base;
}

#endif
