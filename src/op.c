/* SPDX-License-Identifier: MIT */
/*
 * The op future: lazy submission on first poll, completion from the CQE,
 * cancellation routed to the ring that owns the op. Which SQE fields an
 * opcode uses is the business of the io_*.c files.
 *
 * An op is submitted and polled by its owner task (at most one worker runs
 * it at a time); its CQE is reaped by the worker whose ring it was submitted
 * on, which may be another thread once the task has migrated. The only field
 * both sides touch is state: the reaper stores res/cqe_flags and then DONE
 * with release; the owner reads DONE with acquire before res.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void unlink_op(struct urt_op *op)
{
	struct urt_task *t = op->task;

	if (op->prev)
		op->prev->next = op->next;
	else
		t->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
}

static int result(const struct urt_op *op)
{
	int res = op->res;

	if ((op->flags & URT__OPF_TIMER) && res == -ETIME)
		return 0;
	/* Cancelled by its LINK_TIMEOUT rather than by us: a deadline. */
	if (res == -ECANCELED && op->deadline_ns &&
	    !(op->flags & URT__OPF_CANCEL_REQ))
		return -ETIME;
	return res;
}

static int submit(struct urt_op *op, struct urt_cx *cx)
{
	struct urt__worker *w = cx ? cx->w : NULL;
	struct urt_task *t = cx ? cx->task : NULL;
	int err;

	if (!w || !t)
		return -EINVAL; /* polled outside a task */
	op->task = t;
	op->ring = w->ring;
	op->prev = NULL;
	op->next = t->ops;
	if (t->ops)
		t->ops->prev = op;
	t->ops = op;
	urt__task_ref(t); /* dropped by the reaper after the CQE */
	/* relaxed: the CQE can only be reaped by this thread, later */
	__atomic_store_n(&op->state,
			      URT__OP_SUBMITTED, __ATOMIC_RELAXED);
	URT_HB_RELEASE(op);
	err = urt__ring_prep_op(w->ring, op);
	if (err) {
		unlink_op(op);
		__atomic_store_n(&op->state,
				      URT__OP_CONSUMED, __ATOMIC_RELAXED);
		op->res = err;
		urt__task_unref(t);
		return err;
	}
	atomic_fetch_add_explicit(&w->ops_submitted, 1, memory_order_relaxed);
	return URT_PENDING;
}

static int op_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_op *op = (struct urt_op *)f;
	/* acquire: pairs with urt__op_complete's release of res */
	uint32_t s = __atomic_load_n(&op->state,
					  __ATOMIC_ACQUIRE);

	switch (s) {
	case URT__OP_INIT:
		return submit(op, cx);
	case URT__OP_SUBMITTED:
		return URT_PENDING;
	case URT__OP_DONE:
		if (!urt_cx_budget_spend(cx))
			return URT_PENDING; /* stays DONE for the next poll */
		URT_HB_ACQUIRE(op);
		unlink_op(op);
		__atomic_store_n(&op->state,
				      URT__OP_CONSUMED, __ATOMIC_RELAXED);
		return result(op);
	default:
		return result(op);
	}
}

void urt__op_cancel(struct urt_op *op, struct urt__worker *w)
{
	struct urt__ring *owner = op->ring;

	if (op->flags & URT__OPF_CANCEL_REQ)
		return;
	if (__atomic_load_n(&op->state,
				 __ATOMIC_ACQUIRE) != URT__OP_SUBMITTED)
		return;
	op->flags |= URT__OPF_CANCEL_REQ;
	if (owner == w->ring) {
		(void)urt__ring_prep_cancel(w->ring, (uintptr_t)op);
		return;
	}
	/*
	 * The op lives on another worker's ring and only its owner may
	 * submit there: ask it by MSG_RING. The message holds a reference
	 * on the task, so the frame the op lives in cannot be freed and
	 * reused for another op (which the cancel key would then match)
	 * before the owner has issued the ASYNC_CANCEL.
	 */
	struct urt__cancel_msg *m = malloc(sizeof(*m));
	if (!m) {
		/* Cannot ask: the op completes on its own, later. */
		op->flags &= (uint8_t)~URT__OPF_CANCEL_REQ;
		return;
	}
	m->key = (uintptr_t)op;
	m->task = op->task;
	urt__task_ref(m->task);
	/* The kernel carries m to the owner: invisible to TSan. */
	URT_HB_RELEASE(m);
	if (urt__ring_msg(w->ring, urt__ring_fd(owner),
			  (uintptr_t)m | URT__UD_CANCEL, 0) == 0) {
		atomic_fetch_add_explicit(&w->cancels_routed, 1,
					  memory_order_relaxed);
		return;
	}
	urt__task_unref(m->task);
	free(m);
}

void urt__cancel_msg_handle(struct urt__worker *w, struct urt__cancel_msg *m)
{
	URT_HB_ACQUIRE(m);
	(void)urt__ring_prep_cancel(w->ring, m->key);
	urt__task_unref(m->task);
	free(m);
}

static void op_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_op *op = (struct urt_op *)f;
	uint32_t s = __atomic_load_n(&op->state,
					  __ATOMIC_ACQUIRE);

	if (s == URT__OP_INIT) {
		/* Never submitted: nothing to wait for. */
		op->flags |= URT__OPF_CANCEL_REQ;
		op->res = -ECANCELED;
		__atomic_store_n(&op->state,
				      URT__OP_CONSUMED, __ATOMIC_RELAXED);
		return;
	}
	if (s == URT__OP_SUBMITTED && cx && cx->w)
		urt__op_cancel(op, cx->w);
}

static const struct urt_future_vt op_vt = {
	.poll = op_poll,
	.cancel = op_cancel,
};

void urt__op_init(struct urt_op *op, uint8_t opcode)
{
	memset(op, 0, sizeof(*op));
	op->base.vt = &op_vt;
	op->opcode = opcode;
	op->fd = -1;
}

void urt__op_complete(struct urt_op *op, int res, uint32_t cqe_flags)
{
	struct urt_task *t = op->task;

	URT_HB_ACQUIRE(op);
	op->res = res;
	op->cqe_flags = cqe_flags;
	URT_HB_RELEASE(op);
	/* release: res/cqe_flags before DONE. The op may be freed by its
	 * owner from here on: touch only t. */
	__atomic_store_n(&op->state, URT__OP_DONE,
			      __ATOMIC_RELEASE);
	urt__task_wake(t);
	urt__task_unref(t);
}

struct urt_future *urt_op_set_deadline(struct urt_op *op, uint64_t timeout_ns)
{
	op->deadline_ns = timeout_ns;
	return &op->base;
}
