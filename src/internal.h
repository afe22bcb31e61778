/* SPDX-License-Identifier: MIT */
/* Internal structures shared by task.c, sched.c and op.c. Never installed. */
#ifndef URT_INTERNAL_H
#define URT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ring.h"
#include "urt.h"

#define URT__HIDDEN __attribute__((visibility("hidden")))

/* ThreadSanitizer cannot see a hand-off through a MSG_RING CQE. */
#if defined(__SANITIZE_THREAD__)
#define URT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define URT_TSAN 1
#endif
#endif
#ifdef URT_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define URT_HB_RELEASE(p) __tsan_release(p)
#define URT_HB_ACQUIRE(p) __tsan_acquire(p)
#else
#define URT_HB_RELEASE(p) ((void)(p))
#define URT_HB_ACQUIRE(p) ((void)(p))
#endif

/* ---------------------------------------------------------------------
 * Task (task.c). State word bits; the refcount lives beside it.
 * ------------------------------------------------------------------- */
enum {
	URT__T_NOTIFIED = 1u << 0, /* queued, or must be polled again */
	URT__T_RUNNING = 1u << 1,  /* a worker is polling it */
	URT__T_COMPLETE = 1u << 2, /* result stored, future never polled */
	URT__T_ABORT = 1u << 3,	   /* abort requested */
	URT__T_JOIN_WAKER = 1u << 4, /* join_waker is set and owned by the
				      * completing side */
};

enum {
	URT__TF_FRAME = 1u << 0,	 /* future lives right after header */
	URT__TF_ABORTING = 1u << 1, /* root cancelled, draining (runner only) */
};

/* Join waker: a task pointer, or a thread waiter with bit 0 set. */
struct urt__thread_waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

struct urt_task {
	_Atomic uint32_t state;
	_Atomic uint32_t refs;
	union {
		struct urt_task *next; /* inject queue link, while queued */
		int result;	       /* once COMPLETE */
	} u;
	struct urt_future *fut;
	uint64_t id;
	_Atomic uintptr_t join_waker;
	struct urt_op *ops; /* in-flight ops; touched only by the runner */
	struct urt_rt *rt;
	uint32_t reg_idx; /* slot in rt->reg, under rt->reg_lock */
	uint32_t flags;	  /* URT__TF_*; FRAME is immutable, ABORTING is the
			   * runner's */
};

struct urt_cx {
	struct urt__worker *w;
	struct urt_task *task;
};

URT__HIDDEN void urt__task_ref(struct urt_task *t);
URT__HIDDEN void urt__task_unref(struct urt_task *t);
/* Schedules t unless it is queued, running (marks it) or complete. */
URT__HIDDEN void urt__task_wake(struct urt_task *t);
/* Polls t once on worker w (state machine, abort, completion). */
URT__HIDDEN void urt__task_run(struct urt__worker *w, struct urt_task *t);
/* Shutdown: aborts every task (called with no lock held). */
URT__HIDDEN void urt__task_abort_all(struct urt_rt *rt);
/* Shutdown, after the workers stopped: frees what handles still hold. */
URT__HIDDEN uint64_t urt__task_free_leaked(struct urt_rt *rt);

/* ---------------------------------------------------------------------
 * Ops (op.c)
 * ------------------------------------------------------------------- */
enum {
	URT__OP_INIT = 0,
	URT__OP_SUBMITTED = 1,
	URT__OP_DONE = 2, /* CQE reaped, result not consumed yet */
	URT__OP_CONSUMED = 3,
};
enum {
	URT__OPF_CANCEL_REQ = 1u << 0, /* cancel issued (owner only) */
	URT__OPF_TIMER = 1u << 1,      /* -ETIME means success */
};
URT__HIDDEN void urt__op_init(struct urt_op *op, uint8_t opcode);
URT__HIDDEN void urt__op_complete(struct urt_op *op, int res,
				  uint32_t cqe_flags);
/* Cancels op on the ring that owns it (a message if that is not w's). */
URT__HIDDEN void urt__op_cancel(struct urt_op *op, struct urt__worker *w);

/* ---------------------------------------------------------------------
 * Workers and the runtime (sched.c)
 * ------------------------------------------------------------------- */
enum {
	URT__W_RUNNING = 0,
	URT__W_PARKED = 1, /* in (or about to enter) io_uring_enter wait */
	URT__W_EXITED = 2,
};

struct urt__lq {
	struct urt_task **buf; /* URT_LOCAL_QUEUE_SIZE slots */
	uint32_t head, tail;   /* owner only, for now */
};

struct urt__worker {
	struct urt_rt *rt;
	struct urt__ring *ring;
	int ring_fd; /* published before the start barrier releases */
	unsigned id;
	_Atomic int park; /* URT__W_* */
	pthread_t thread;
	struct urt__lq lq;
	uint64_t tick;
	struct urt_cx cx;
	/* Counters: written by the owner, read by anyone (relaxed). */
	_Atomic uint64_t polls, ops_submitted, ops_completed, parks, unparks,
		wakes_sent, inject_pops;
	/* Ring counters, published by the owner when it parks and exits. */
	_Atomic uint64_t ring_inflight, sq_full_retries, cq_overflows;
};

struct urt_rt {
	struct urt_config cfg;
	unsigned nworkers;
	struct urt__worker *workers;

	/* Global inject queue: FIFO under inject_lock; inject_len lets
	 * workers test emptiness without the lock (seq_cst, see park). */
	pthread_mutex_t inject_lock;
	struct urt_task *inject_head, *inject_tail;
	_Atomic size_t inject_len;

	/* Registry of live tasks, for shutdown. */
	pthread_mutex_t reg_lock;
	struct urt_task **reg;
	size_t reg_len, reg_cap;

	_Atomic uint64_t next_id;
	_Atomic int shutdown;		 /* 1: no spawns, draining */
	_Atomic uint64_t tasks_unfinished; /* spawned, not COMPLETE */
	_Atomic uint64_t tasks_live;	 /* allocated, not freed */
	_Atomic uint64_t tasks_spawned, tasks_completed;
	_Atomic unsigned next_unpark;

	/* Start-up barrier: each worker reports its ring. */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cv;
	unsigned started;
	int start_err;
	char start_msg[256];
	unsigned ring_flags;
};

/* The worker running on this thread, or NULL. */
URT__HIDDEN struct urt__worker *urt__current_worker(void);
/* Queues a runnable task (holding its queued ref) from any thread. */
URT__HIDDEN void urt__schedule(struct urt_rt *rt, struct urt_task *t,
			       bool yielded);
/* Wakes every parked worker (shutdown). */
URT__HIDDEN void urt__unpark_all(struct urt_rt *rt);

#endif
