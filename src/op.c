/* SPDX-License-Identifier: MIT */
/*
 * The op future: lazy submission on first poll, completion from the CQE,
 * cancellation routed to the ring that owns the op. Which SQE fields an
 * opcode uses is the business of the io_*.c files.
 *
 * An op is submitted and polled by its owner task (at most one worker runs
 * it at a time); its CQE is reaped by the worker whose ring it was submitted
 * on, which may be another thread once the task has migrated. state is the
 * only field both sides write, always with atomic RMW or by its sole owner:
 *   bits 0-1  URT__OP_INIT -> SUBMITTED (owner) -> DONE (reaper: +1,
 *             release, after res/cqe_flags) -> CONSUMED (owner);
 *   bit 2     URT__OP_ROUTED: a cancel for it is on its way to the owning
 *             ring (set by the canceller, cleared by that ring's worker once
 *             it has issued the ASYNC_CANCEL). While it is set the op is not
 *             ready, so neither the op nor its address can be reused and
 *             matched by that late cancel.
 * The owner reads state with acquire before res.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint32_t op_state(const struct urt_op *op)
{
	return __atomic_load_n(&op->state, __ATOMIC_ACQUIRE);
}

static void set_state(struct urt_op *op, uint32_t s)
{
	/* relaxed: only when no other party can touch state */
	__atomic_store_n(&op->state, s, __ATOMIC_RELAXED);
}

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
	/* the CQE can only be reaped by this thread, later */
	set_state(op, URT__OP_SUBMITTED);
	URT_HB_RELEASE(op);
	err = urt__ring_prep_op(w->ring, op);
	if (err) {
		unlink_op(op);
		set_state(op, URT__OP_CONSUMED);
		op->res = err;
		urt__task_unref(t);
		return err;
	}
	urt__count_own(&w->ops_submitted, 1);
	/* the SQE's user_data, as the kernel's tracepoints see it */
	URT_TREC(w, URT_TR_OP_SUBMIT, t->id, (uintptr_t)op | URT__UD_OP,
		 op->opcode);
	return URT_PENDING;
}

static int op_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_op *op = (struct urt_op *)f;
	/* acquire: pairs with urt__op_complete's release of res */
	uint32_t s = op_state(op);

	if (s & URT__OP_ROUTED)
		return URT_PENDING; /* the owner wakes us when it clears it */
	switch (s) {
	case URT__OP_INIT:
		return submit(op, cx);
	case URT__OP_SUBMITTED:
		return URT_PENDING;
	case URT__OP_DONE:
		if (!urt__budget_spend(cx))
			return URT_PENDING; /* stays DONE for the next poll */
		URT_HB_ACQUIRE(op);
		unlink_op(op);
		set_state(op, URT__OP_CONSUMED);
		return result(op);
	default:
		return result(op);
	}
}

void urt__op_cancel(struct urt_op *op, struct urt__worker *w)
{
	struct urt__ring *owner = op->ring;
	struct urt_rt *rt = w->rt;

	if (op->flags & URT__OPF_CANCEL_REQ)
		return;
	if (op_state(op) != URT__OP_SUBMITTED)
		return;
	op->flags |= URT__OPF_CANCEL_REQ;
	if (owner == w->ring) {
		/* Same ring: the SQ is FIFO, the cancel cannot overtake a
		 * later reuse of this op. */
		(void)urt__ring_prep_cancel(w->ring, (uintptr_t)op);
		return;
	}
	/*
	 * The op lives on another worker's ring and only its owner may
	 * submit there: ask it by MSG_RING. The message holds a task
	 * reference (the frame stays), and ROUTED keeps the op un-ready
	 * until the owner has issued the cancel (see the top).
	 */
	struct urt__cancel_msg *m = malloc(sizeof(*m));
	if (!m) {
		/* Cannot ask: the op completes on its own, later. */
		op->flags &= (uint8_t)~URT__OPF_CANCEL_REQ;
		return;
	}
	m->op = op;
	m->task = op->task;
	urt__task_ref(m->task);
	__atomic_fetch_or(&op->state, URT__OP_ROUTED, __ATOMIC_RELAXED);
	/* seq_cst: a worker may exit only when no message is in flight */
	atomic_fetch_add(&rt->msgs_inflight, 1);
	/* The kernel carries m to the owner: invisible to TSan. */
	URT_HB_RELEASE(m);
	if (urt__ring_msg(w->ring, urt__ring_fd(owner),
			  (uintptr_t)m | URT__UD_CANCEL, 0) == 0) {
		urt__count_own(&w->cancels_routed, 1);
		return;
	}
	__atomic_fetch_and(&op->state, ~(uint32_t)URT__OP_ROUTED,
			   __ATOMIC_RELEASE);
	atomic_fetch_sub(&rt->msgs_inflight, 1);
	op->flags &= (uint8_t)~URT__OPF_CANCEL_REQ;
	urt__task_unref(m->task);
	free(m);
}

void urt__cancel_msg_handle(struct urt__worker *w, struct urt__cancel_msg *m)
{
	struct urt_task *t;

	URT_HB_ACQUIRE(m); /* before any read of m */
	t = m->task;
	(void)urt__ring_prep_cancel(w->ring, (uintptr_t)m->op);
	/* release: the op may be consumed (and reused) from here on; it is
	 * not touched again. The owner task may be waiting on it. */
	__atomic_fetch_and(&m->op->state, ~(uint32_t)URT__OP_ROUTED,
			   __ATOMIC_RELEASE);
	urt__task_wake(t);
	urt__task_unref(t);
	free(m);
	/* seq_cst: a sibling may be parked in shutdown waiting only for
	 * this message to land (see shutdown_done in sched.c). */
	if (atomic_fetch_sub(&w->rt->msgs_inflight, 1) == 1 &&
	    atomic_load(&w->rt->shutdown))
		urt__unpark_all(w->rt);
}

static void op_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_op *op = (struct urt_op *)f;
	uint32_t s = op_state(op);

	if (s == URT__OP_INIT) {
		/* Never submitted: nothing to wait for. */
		op->flags |= URT__OPF_CANCEL_REQ;
		op->res = -ECANCELED;
		set_state(op, URT__OP_CONSUMED);
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
	/* release: res/cqe_flags before DONE (SUBMITTED + 1, keeping a
	 * ROUTED bit). The op may be freed by its owner from here on: touch
	 * only t. */
	__atomic_fetch_add(&op->state, 1, __ATOMIC_RELEASE);
	urt__task_wake(t);
	urt__task_unref(t);
}

struct urt_future *urt_op_set_deadline(struct urt_op *op, uint64_t timeout_ns)
{
	op->deadline_ns = timeout_ns;
	return &op->base;
}
