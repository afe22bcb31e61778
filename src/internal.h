/* SPDX-License-Identifier: MIT */
/* Internal structures shared by task.c, sched.c and op.c. Never installed. */
#ifndef URT_INTERNAL_H
#define URT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sched.h>
#include <stdint.h>

#include "config.h"
#include "ring.h"
#include "trace.h"
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
	URT__TF_STOLEN = 1u << 2,   /* set by a stealer, cleared at run */
	URT__TF_INJECTED = 1u << 3, /* came from the global queue */
	/* Bits 16..31: worker that polled it last + 1 (0: never polled). */
	URT__TF_LAST_SHIFT = 16,
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
	uint32_t reg_idx; /* slot in its registry shard, under its lock */
	uint32_t flags;	  /* URT__TF_*; FRAME is immutable; the rest is
			   * written by whoever owns the task: its runner, or
			   * the queue owner / stealer while it is queued
			   * (handed over with the queue's release/acquire) */
};

struct urt_cx {
	struct urt__worker *w;
	struct urt_task *task;
	unsigned budget; /* ready results left in this poll (coop) */
	bool yielded;	 /* the task asked to be re-queued (urt_cx_yield) */
};

#define URT__BUDGET 128 /* per poll, as tokio */

/* urt_cx_budget_spend with its common case inline (a ready result with
 * budget left): the library's own callers are on hot paths. */
static inline int urt__budget_spend(struct urt_cx *cx)
{
	if (cx && cx->budget) {
		cx->budget--;
		return 1;
	}
	return urt_cx_budget_spend(cx);
}

URT__HIDDEN void urt__task_ref(struct urt_task *t);
URT__HIDDEN void urt__task_unref(struct urt_task *t);
/* Wakes t and drops a reference on it: what a stored waker does when it
 * fires. Safe from any thread, also one racing urt_rt_free (see
 * foreign_refs). */
URT__HIDDEN void urt__task_wake_unref(struct urt_task *t);
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
	URT__OP_ROUTED = 4, /* flag: a cancel message is in flight (op.c) */
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
/* A cancel request from a sibling (MSG_RING), received by the owner. */
struct urt__cancel_msg {
	struct urt_op *op;     /* kept un-ready by URT__OP_ROUTED */
	struct urt_task *task; /* a reference, keeping the op's frame */
};
URT__HIDDEN void urt__cancel_msg_handle(struct urt__worker *w,
					struct urt__cancel_msg *m);

/* ---------------------------------------------------------------------
 * Workers and the runtime (sched.c)
 * ------------------------------------------------------------------- */
enum {
	URT__W_RUNNING = 0,
	URT__W_PARKED = 1, /* in (or about to enter) io_uring_enter wait */
	URT__W_NOTIFIED = 2, /* woken to search; num_searching counted it */
	URT__W_EXITED = 3,
};

/* Per-worker SPMC run queue (queue.c). */
struct urt__lq {
	struct urt_task **buf;	 /* URT_LOCAL_QUEUE_SIZE slots */
	_Atomic uint64_t head;	 /* steal index << 32 | real index */
	_Atomic uint32_t tail;	 /* owner writes */
};

URT__HIDDEN int urt__lq_init(struct urt__lq *q);
URT__HIDDEN void urt__lq_deinit(struct urt__lq *q);
/* Any thread; a snapshot (the real index is head's low half). Inline:
 * the tracer reads it at every poll. */
static inline uint32_t urt__lq_len(struct urt__lq *q)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);

	return t - (uint32_t)h;
}
/* Owner. Returns true if tasks went to the inject queue (overflow). */
URT__HIDDEN bool urt__lq_push(struct urt__lq *q, struct urt_rt *rt,
			      struct urt_task *t);
URT__HIDDEN struct urt_task *urt__lq_pop(struct urt__lq *q);
/*
 * Stealer (owner of dst): takes half of src. Returns one task to run now
 * (the rest went into dst) and the number taken in *count.
 */
URT__HIDDEN struct urt_task *urt__lq_steal_into(struct urt__lq *src,
						struct urt__lq *dst,
						uint32_t *count);
/* Appends v[0..n) to the inject queue (any thread). Cannot fail. */
URT__HIDDEN void urt__inject_push(struct urt_rt *rt, struct urt_task *const *v,
				  size_t n);
URT__HIDDEN void urt__inject_deinit(struct urt_rt *rt);
/*
 * Pops one task to run; with dst, also moves up to max - 1 more into dst
 * (the caller owns dst).
 */
URT__HIDDEN struct urt_task *urt__inject_pop(struct urt_rt *rt,
					     struct urt__lq *dst, uint32_t max);

struct urt__worker {
	struct urt_rt *rt;
	struct urt__ring *ring;
	int ring_fd; /* published before the start barrier releases */
	unsigned id;
	_Atomic int park; /* URT__W_* */
	pthread_t thread;
	struct urt__lq lq;
	/* Woken by the running task. The owner puts and takes; a sibling
	 * takes it only when the owner is stuck in a long poll (sched.c). */
	_Atomic(struct urt_task *) lifo;
	uint64_t tick;
	uint32_t rng;
	bool searching;
	bool cancelled_all; /* shutdown: leftover ops cancelled */
	bool inject_first;  /* a lone yielder: look at inject first */
	/* Long-poll clock (sched.c): written by the owner, read by siblings
	 * looking for a stuck worker; relaxed, a hint. */
	_Atomic uint64_t poll_start, poll_task;
	struct urt__tbuf tb; /* batched trace records (trace.h, trace.c) */
	struct urt_cx cx;
	/* Task ids handed out by this worker: [id_next, id_end). */
	uint64_t id_next, id_end;
	/* Counters written by the owner only (urt__count_own: no RMW),
	 * read by anyone; relaxed, they order nothing. */
	_Atomic uint64_t polls, lifo_polls, ops_submitted, ops_completed,
		parks, wakes_sent, wakes_received, inject_pops, steals_in,
		steal_ops, cancels_routed, long_polls, spawned, completed,
		freed;
	/* Written by other threads too (RMW). */
	_Atomic uint64_t unparks, stolen_out;
	/* Ring counters, published by the owner when it parks and exits. */
	_Atomic uint64_t ring_inflight, sq_full_retries, cq_overflows;
} __attribute__((aligned(64))); /* no false sharing between siblings */

/* Bumps a counter only its owner writes: a plain load and store. */
static inline void urt__count_own(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void urt__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

/*
 * A test-and-test-and-set lock for sections of a few stores (a registry
 * shard): one locked instruction to take it, a plain release store to
 * drop it (a mutex spends a second locked instruction there, twice per
 * task). A waiter spins briefly, then yields its CPU, as the holder may
 * have been preempted.
 */
struct urt__spin {
	_Atomic int held;
};

static inline void urt__spin_lock(struct urt__spin *l)
{
	unsigned n = 0;

	/* acquire: the previous holder's writes happen-before ours */
	while (atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
		/* relaxed: only a hint of when to retry the exchange */
		while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
			if (++n < 128)
				urt__cpu_relax();
			else
				sched_yield();
		}
}

static inline void urt__spin_unlock(struct urt__spin *l)
{
	/* release: our writes happen-before the next holder's */
	atomic_store_explicit(&l->held, 0, memory_order_release);
}

struct urt__reg_shard {
	struct urt__spin lock;
	struct urt_task **v;
	size_t len, cap;
} __attribute__((aligned(64)));

struct urt_rt {
	struct urt_config cfg;
	unsigned nworkers;
	/* Parking uses membarrier instead of a seq_cst store per push (the
	 * asymmetric Dekker in sched.c); set once before workers start. */
	bool asym_park;
	struct urt__worker *workers;

	/* Global inject queue (queue.c): a growable ring of task pointers
	 * (inject_buf, inject_cap a power of two, inject_first, inject_n),
	 * then a spill list for when it cannot grow (inject_head/tail via
	 * u.next), all under inject_lock; inject_len (ring + spill) lets
	 * workers test emptiness without the lock (seq_cst, see park). */
	pthread_mutex_t inject_lock;
	struct urt_task **inject_buf;
	size_t inject_cap, inject_first, inject_n;
	struct urt_task *inject_head, *inject_tail;
	_Atomic size_t inject_len;
	_Atomic uint64_t inject_spills; /* statistics */

	/* Registry of live tasks, for shutdown; sharded by task id so that
	 * spawning workers rarely share a lock. */
	struct urt__reg_shard *shards;
	unsigned nshards; /* power of two */

	_Atomic uint64_t next_id;
	_Atomic int shutdown;		 /* 1: no spawns, draining */
	_Atomic uint64_t tasks_unfinished; /* spawned, not COMPLETE */
	/* Spawned by / freed on threads that are not workers (RMW); the
	 * workers count theirs in struct urt__worker. */
	_Atomic uint64_t foreign_spawned, foreign_freed;
	_Atomic unsigned next_unpark;
	_Atomic unsigned num_searching; /* at most nworkers / 2 */
	_Atomic unsigned num_parked;
	_Atomic unsigned msgs_inflight;	 /* routed cancel messages */
	/* Threads that are not this runtime's workers and are inside a call
	 * that touches it (waking, aborting, joining, dropping a task ref):
	 * urt_rt_free waits for 0 before it frees what they could touch. */
	_Atomic unsigned foreign_refs;
	bool reaping_leaked; /* urt_rt_free's last pass: unref never frees */
	_Atomic uint64_t *steal_matrix; /* [thief * n + victim], n <= 64 */
	uint64_t long_poll_ns;		 /* 0: not measured */
	_Atomic uint64_t longest_poll_ns, longest_poll_task;

	/* Start-up barrier: each worker reports its ring. */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cv;
	unsigned started;
	int start_err;
	char start_msg[256];
	unsigned ring_flags;

	/* spawn_blocking pool (blocking.c); created on first use. */
	struct urt__bpool *_Atomic bpool;
};

/* The worker running on this thread, or NULL. */
URT__HIDDEN struct urt__worker *urt__current_worker(void);
/* Queues a runnable task (holding its queued ref) from any thread. */
enum urt__sched_kind {
	URT__SCHED_SPAWN, /* new (or aborted) task: back of the queue */
	URT__SCHED_WAKE,  /* woken: LIFO slot if woken by the running task */
	URT__SCHED_YIELD, /* polled and still runnable: behind global work */
};
URT__HIDDEN void urt__schedule(struct urt_rt *rt, struct urt_task *t,
			       enum urt__sched_kind kind);
/* Wakes every parked worker (shutdown). */
URT__HIDDEN void urt__unpark_all(struct urt_rt *rt);
/* Registers this process for MEMBARRIER_CMD_PRIVATE_EXPEDITED (once);
 * true when urt__asym_barrier() works. */
URT__HIDDEN bool urt__asym_barrier_init(void);
/* A full memory barrier on every CPU running a thread of this process;
 * 0, or -errno when none ran. */
URT__HIDDEN int urt__asym_barrier(void);
URT__HIDDEN void *urt__worker_main(void *arg);
URT__HIDDEN void urt__note_long_poll(struct urt__worker *w, uint64_t task_id,
				     uint64_t ns);
/* blocking.c: joins the pool's threads, frees it (urt_rt_free, step 5). */
URT__HIDDEN void urt__blocking_shutdown(struct urt_rt *rt);

#endif
