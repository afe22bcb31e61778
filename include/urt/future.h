/* SPDX-License-Identifier: MIT */
/*
 * Futures, the polling context, stackless coroutines and combinators.
 * A future is a value with a poll function; it never allocates on its own.
 */
#ifndef URT_FUTURE_H
#define URT_FUTURE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * poll() returns URT_PENDING, or the future's result: >= 0 on success,
 * -errno on failure (the same encoding as a CQE's res). A PENDING future has
 * arranged for the current task to be woken when it can make progress.
 */
#define URT_PENDING INT_MIN

struct urt_rt;
struct urt_cx; /* opaque: the task being polled and the worker polling it */
struct urt_future;

struct urt_future_vt {
	/* Required. Called only from the task that owns the future. */
	int (*poll)(struct urt_future *f, struct urt_cx *cx);
	/*
	 * Optional. Asks the future to finish early; it must then become
	 * ready soon (usually with -ECANCELED) and the owner keeps polling it
	 * until it does ("cancel, then drain"). NULL means the future owns
	 * nothing in flight and may be dropped at any suspension point: the
	 * owner stops polling it. A future that registered itself anywhere
	 * (an op, a waiter list) must have a cancel hook.
	 */
	void (*cancel)(struct urt_future *f, struct urt_cx *cx);
	/*
	 * Optional. Only for a task's root future: called once, from a
	 * runtime thread, after the task finished (or was aborted) and every
	 * op it submitted has completed. Releases what the future owns.
	 */
	void (*drop)(struct urt_future *f);
};

struct urt_future {
	const struct urt_future_vt *vt;
};

static inline int urt_future_poll(struct urt_future *f, struct urt_cx *cx)
{
	return f->vt->poll(f, cx);
}

/* Requests cancellation (no-op for futures without a cancel hook). */
void urt_future_cancel(struct urt_future *f, struct urt_cx *cx);

/*
 * Marks the current task to be polled again after the others queued on its
 * worker ran once (cooperative yield). Call, then return URT_PENDING.
 */
void urt_cx_yield(struct urt_cx *cx);

/* Id (64-bit, never reused) of the task being polled. */
uint64_t urt_cx_task_id(const struct urt_cx *cx);

/* Index of the worker polling (0 .. workers-1). */
unsigned urt_cx_worker_id(const struct urt_cx *cx);

/* The runtime the current task runs on (to spawn siblings from a task). */
struct urt_rt *urt_cx_rt(const struct urt_cx *cx);

/*
 * Cooperative budget: a future about to return a ready result calls this
 * first. It returns 1 while the current poll of the task has budget left
 * (128 ready results per poll), else 0 after arranging a yield: the future
 * must then return URT_PENDING (keeping its result for the next poll). This
 * is what stops a task whose awaits are always ready from starving the
 * other tasks of its worker. Ops and join handles already do it.
 */
int urt_cx_budget_spend(struct urt_cx *cx);

/* ---------------------------------------------------------------------
 * Stackless coroutines ("async functions").
 *
 *   struct conn { struct urt_co co; struct urt_op op; char buf[512]; };
 *   static int conn_run(struct urt_co *co, struct urt_cx *cx)
 *   {
 *           struct conn *c = (struct conn *)co;
 *           int n;
 *           URT_BEGIN(co);
 *           URT_AWAIT(co, cx, urt_op_recv(&c->op, fd, c->buf, 512, 0), n);
 *           ...
 *           URT_END(co, 0);
 *   }
 *
 * Locals do not survive a suspension (URT_AWAIT, URT_YIELD): keep what must
 * survive in the struct. One URT_AWAIT/URT_YIELD per source line, and never
 * inside a switch of your own (its case labels would capture the resume
 * point: the coroutine would return -EINVAL when resumed). A
 * cancelled coroutine stops at its next suspension point: the child it
 * awaits is cancelled and drained, then it returns -ECANCELED.
 * ------------------------------------------------------------------- */
struct urt_co;
typedef int (*urt_co_fn)(struct urt_co *co, struct urt_cx *cx);

struct urt_co {
	struct urt_future base;
	urt_co_fn fn;
	struct urt_future *awaiting; /* child being awaited, or NULL */
	void (*drop)(struct urt_co *co); /* optional, see urt_future_vt.drop */
	int line;	/* resume point; 0 = start, -1 = finished */
	int cancelled;
};

/* Initialises co to run fn; returns &co->base. drop starts NULL. */
struct urt_future *urt_co_init(struct urt_co *co, urt_co_fn fn);

#define URT_BEGIN(co)                                                         \
	switch ((co)->line) {                                                 \
	default: /* finished (-1), or a corrupt resume point */               \
		return -EINVAL;                                               \
	case 0:

#define URT_AWAIT(co, cx, fut, res)                                           \
	do {                                                                  \
		(co)->awaiting = (fut);                                       \
		(co)->line = __LINE__;                                        \
		__attribute__((fallthrough));                                 \
	case __LINE__:;                                                       \
		int urt_r_ = urt_future_poll((co)->awaiting, (cx));           \
		if (urt_r_ == URT_PENDING)                                    \
			return URT_PENDING;                                   \
		(co)->awaiting = NULL;                                        \
		if ((co)->cancelled) {                                        \
			(co)->line = -1;                                      \
			return -ECANCELED;                                    \
		}                                                             \
		(res) = urt_r_;                                               \
	} while (0)

#define URT_YIELD(co, cx)                                                     \
	do {                                                                  \
		(co)->line = __LINE__;                                        \
		urt_cx_yield(cx);                                             \
		return URT_PENDING;                                           \
	case __LINE__:                                                        \
		if ((co)->cancelled) {                                        \
			(co)->line = -1;                                      \
			return -ECANCELED;                                    \
		}                                                             \
	} while (0)

#define URT_RETURN(co, v)                                                     \
	do {                                                                  \
		(co)->line = -1;                                              \
		return (v);                                                   \
	} while (0)

#define URT_END(co, v)                                                        \
	}                                                                     \
	(co)->line = -1;                                                      \
	return (v)

/* ---------------------------------------------------------------------
 * Combinators. The caller owns every struct and the children; all must
 * stay valid until the combinator is ready.
 * ------------------------------------------------------------------- */

/*
 * join: ready when every child is ready. results[i] receives child i's
 * result. The join's own result is 0, or -ECANCELED if it was cancelled
 * before every child was ready. Cancelling a join cancels every child
 * still running.
 */
struct urt_join {
	struct urt_future base;
	struct urt_future **futs;
	int *results;
	unsigned n;
	unsigned left;
};
struct urt_future *urt_join_init(struct urt_join *j, struct urt_future **futs,
				 int *results, unsigned n);

/*
 * select (race): the first child to become ready wins; the others are
 * cancelled and drained (polled until they are ready) before the select
 * itself is ready. Its result is the winner's index; results[i] holds every
 * child's result, so a loser that completed anyway (data read before the
 * cancel landed) is not lost. n must be 1..64.
 */
struct urt_select {
	struct urt_future base;
	struct urt_future **futs;
	int *results;
	unsigned n;
	int winner;	/* -1 until decided */
	uint64_t done; /* bit i: child i ready */
};
struct urt_future *urt_select_init(struct urt_select *s,
				   struct urt_future **futs, int *results,
				   unsigned n);

#ifdef __cplusplus
}
#endif
#endif
