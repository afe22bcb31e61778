/* SPDX-License-Identifier: MIT */
/*
 * The task state machine: spawn, wake, run (poll / abort / complete), join
 * handles, the registry used by shutdown. Queues and workers are sched.c's.
 *
 * Invariants:
 *  - refs counts: 1 while not COMPLETE, 1 per queued-or-running instance
 *    (taken when NOTIFIED is set on an idle task), 1 per join handle, 1 per
 *    in-flight op, 1 per stored waker. The task is freed (future dropped)
 *    when refs reaches 0, so an op's memory in the frame outlives its CQE.
 *  - NOTIFIED without RUNNING: the task sits in exactly one queue.
 *  - Only the worker that moved NOTIFIED -> RUNNING touches fut, ops,
 *    flags.ABORTING and u.result until it clears RUNNING.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

_Static_assert(sizeof(struct urt_task) <= 64, "task header exceeds 64 bytes");

static const struct urt_future_vt handle_vt;

void urt__task_ref(struct urt_task *t)
{
	/* relaxed: a new reference is made from an existing one */
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

static struct urt__reg_shard *shard_of(struct urt_rt *rt, uint64_t id)
{
	return &rt->shards[id & (rt->nshards - 1)];
}

static void reg_remove(struct urt_rt *rt, struct urt_task *t)
{
	struct urt__reg_shard *sh = shard_of(rt, t->id);

	urt__spin_lock(&sh->lock);
	struct urt_task *last = sh->v[--sh->len];
	sh->v[t->reg_idx] = last;
	last->reg_idx = t->reg_idx;
	urt__spin_unlock(&sh->lock);
}

static void task_free(struct urt_task *t)
{
	struct urt_rt *rt = t->rt;

	/*
	 * Leave the runtime first, drop last: a drop hook may release a
	 * thread that frees the runtime (block_on returns, then the caller
	 * calls urt_rt_free), and this may be a plain thread that
	 * urt_rt_free does not wait for.
	 */
	reg_remove(rt, t);
	struct urt__worker *w = urt__current_worker();
	if (w && w->rt == rt)
		urt__count_own(&w->freed, 1);
	else
		atomic_fetch_add_explicit(&rt->foreign_freed, 1,
					  memory_order_relaxed);
	if (t->fut->vt->drop)
		t->fut->vt->drop(t->fut);
	free(t); /* a frame shares the header's allocation */
}

/*
 * A thread that is not one of rt's workers counts itself in foreign_refs
 * for the length of a call that touches rt, so that urt_rt_free cannot
 * free rt (or a task it thinks leaked) under it. Workers need not: they
 * are joined before anything is freed.
 */
static bool foreign_enter(struct urt_rt *rt)
{
	struct urt__worker *w = urt__current_worker();

	if (w && w->rt == rt)
		return false;
	atomic_fetch_add(&rt->foreign_refs, 1); /* seq_cst, see rt.c */
	return true;
}

static void foreign_leave(struct urt_rt *rt, bool entered)
{
	if (entered)
		atomic_fetch_sub(&rt->foreign_refs, 1); /* last touch of rt */
}

/* Drops n references this thread holds. */
static void unref(struct urt_task *t, uint32_t n)
{
	/* acq_rel: our writes to the task happen-before its free, and the
	 * last holder sees every other holder's writes (no fence: TSan
	 * cannot model fences). t->rt is read only by the last holder. */
	if (atomic_fetch_sub_explicit(&t->refs, n, memory_order_acq_rel) == n &&
	    !t->rt->reaping_leaked)
		task_free(t);
}

void urt__task_unref(struct urt_task *t)
{
	struct urt_rt *rt = t->rt; /* read while we still hold a ref */
	bool f = foreign_enter(rt);

	unref(t, 1);
	foreign_leave(rt, f);
}

static bool wake_notify(struct urt_task *t);

void urt__task_wake_unref(struct urt_task *t)
{
	struct urt_rt *rt = t->rt;
	bool f = foreign_enter(rt);

	/* The caller's reference becomes the queued one when t must be
	 * queued: two RMWs on refs fewer per wake. */
	if (wake_notify(t))
		urt__schedule(rt, t, URT__SCHED_WAKE);
	else
		unref(t, 1);
	foreign_leave(rt, f);
}

static struct urt_future *frame_fut(struct urt_task *t)
{
	return (struct urt_future *)(void *)(t + 1);
}

void *urt_frame_new(size_t size)
{
	/* malloc, not calloc: glibc 2.36's calloc skips the per-thread
	 * cache (and takes the arena lock) on every call. Two stores of
	 * zeros, so that the compiler does not fold them back into calloc. */
	struct urt_task *t;

	if (size > SIZE_MAX - sizeof(*t) || !(t = malloc(sizeof(*t) + size)))
		return NULL;
	*t = (struct urt_task){ 0 };
	memset(t + 1, 0, size);
	t->flags = URT__TF_FRAME;
	return t + 1;
}

void urt_frame_free(void *frame)
{
	if (frame)
		free((struct urt_task *)frame - 1);
}

static int reg_add(struct urt_rt *rt, struct urt_task *t)
{
	struct urt__reg_shard *sh = shard_of(rt, t->id);
	int err = 0;

	urt__spin_lock(&sh->lock);
	/*
	 * Checked under the shard lock: shutdown sets the flag, then locks
	 * every shard to walk it, so each task is either refused here or
	 * found (and aborted) by that walk.
	 */
	if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed)) {
		err = -ESHUTDOWN;
	} else if (sh->len == sh->cap) {
		size_t cap = sh->cap ? sh->cap * 2 : 64;
		struct urt_task **n = realloc(sh->v, cap * sizeof(*n));
		if (!n)
			err = -ENOMEM;
		else {
			sh->v = n;
			sh->cap = cap;
		}
	}
	if (!err) {
		t->reg_idx = (uint32_t)sh->len;
		sh->v[sh->len++] = t;
	}
	urt__spin_unlock(&sh->lock);
	return err;
}

/*
 * Task ids are 64-bit and never reused. A worker takes them in blocks, so
 * spawning does not bounce one shared cache line between workers.
 */
static uint64_t new_id(struct urt_rt *rt)
{
	struct urt__worker *w = urt__current_worker();

	/* relaxed: ids only need to be unique */
	if (!w || w->rt != rt)
		return atomic_fetch_add_explicit(&rt->next_id, 1,
						 memory_order_relaxed);
	if (w->id_next == w->id_end) {
		w->id_next = atomic_fetch_add_explicit(&rt->next_id, 1024,
						       memory_order_relaxed);
		w->id_end = w->id_next + 1024;
	}
	return w->id_next++;
}

static int spawn(struct urt_rt *rt, struct urt_task *t, struct urt_future *fut,
		 struct urt_task_handle *h)
{
	int err;

	t->fut = fut;
	t->rt = rt;
	t->ops = NULL;
	atomic_init(&t->join_waker, 0);
	/* NOTIFIED: it is about to be queued. refs: not-complete + queued
	 * (+ handle). */
	atomic_init(&t->state, URT__T_NOTIFIED);
	atomic_init(&t->refs, h ? 3u : 2u);
	t->id = new_id(rt);
	/* Counted before it is registered: once shutdown can see it, the
	 * workers must not think every task has finished. */
	atomic_fetch_add(&rt->tasks_unfinished, 1);
	err = reg_add(rt, t);
	if (err) {
		atomic_fetch_sub(&rt->tasks_unfinished, 1);
		return err;
	}
	struct urt__worker *sw = urt__current_worker();
	if (sw && sw->rt == rt)
		urt__count_own(&sw->spawned, 1);
	else
		atomic_fetch_add_explicit(&rt->foreign_spawned, 1,
					  memory_order_relaxed);
	if (h) {
		h->base.vt = &handle_vt;
		h->task = t;
		h->cancelled = 0;
	}
	struct urt__worker *cw = urt__current_worker();
	if (cw && cw->rt == rt)
		URT_TREC(cw, URT_TR_SPAWN, t->id,
			 cw->cx.task ? cw->cx.task->id : 0, 0);
	else
		URT_PROBE(spawn, t->id, (uint64_t)0, -1);
	urt__schedule(rt, t, URT__SCHED_SPAWN);
	return 0;
}

static bool valid_future(const struct urt_future *f)
{
	return f && f->vt && f->vt->poll;
}

int urt_task_spawn(struct urt_rt *rt, struct urt_future *fut,
		   struct urt_task_handle *h)
{
	struct urt_task *t;
	int err;

	if (h) {
		h->base.vt = &handle_vt;
		h->task = NULL;
		h->cancelled = 0;
	}
	if (!rt || !valid_future(fut))
		return -EINVAL;
	if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
		return -ESHUTDOWN;
	t = malloc(sizeof(*t)); /* not calloc: see urt_frame_new */
	if (!t)
		return -ENOMEM;
	*t = (struct urt_task){ 0 };
	err = spawn(rt, t, fut, h);
	if (err)
		free(t);
	return err;
}

int urt_task_spawn_frame(struct urt_rt *rt, void *frame,
			 struct urt_task_handle *h)
{
	struct urt_task *t;

	if (h) {
		h->base.vt = &handle_vt;
		h->task = NULL;
		h->cancelled = 0;
	}
	if (!rt || !frame)
		return -EINVAL;
	t = (struct urt_task *)frame - 1;
	if (!(t->flags & URT__TF_FRAME) || !valid_future(frame_fut(t)))
		return -EINVAL;
	/* relaxed: a frame spawned before holds references (misuse) */
	if (atomic_load_explicit(&t->refs, memory_order_relaxed))
		return -EBUSY;
	return spawn(rt, t, frame_fut(t), h);
}

/* Sets NOTIFIED; true when t was idle, so the caller must queue it (with
 * a queued reference). */
static bool wake_notify(struct urt_task *t)
{
	uint32_t s = atomic_load_explicit(&t->state, memory_order_relaxed);

	for (;;) {
		uint32_t ns;

		if (s & (URT__T_COMPLETE | URT__T_NOTIFIED))
			return false; /* finished, or a poll is already due */
		ns = s | URT__T_NOTIFIED;
		/* acq_rel: the waker's writes (op result, message) must be
		 * visible to the poll this wake causes. */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, ns, memory_order_acq_rel,
			    memory_order_relaxed))
			break;
	}
	if (s & URT__T_RUNNING) {
		/* the runner sees NOTIFIED and re-queues it */
		URT_TREC(urt__current_worker(), URT_TR_WAKE, t->id, 0,
			 URT_TRW_RUNNING);
		return false;
	}
	return true;
}

void urt__task_wake(struct urt_task *t)
{
	if (!wake_notify(t))
		return;
	urt__task_ref(t); /* the queued ref */
	urt__schedule(t->rt, t, URT__SCHED_WAKE);
}

/* Wakes whoever waits in a join: a task or a blocked thread. */
static void wake_joiner(uintptr_t wk)
{
	if (wk & 1) {
		struct urt__thread_waiter *tw = (void *)(wk & ~(uintptr_t)1);
		pthread_mutex_lock(&tw->mu);
		tw->done = true;
		pthread_cond_signal(&tw->cv);
		/* tw may be gone once unlocked (POSIX: destroy after unlock
		 * is safe); not touched again. */
		pthread_mutex_unlock(&tw->mu);
	} else if (wk) {
		urt__task_wake_unref((struct urt_task *)wk);
	}
}

static void complete(struct urt_task *t, int res)
{
	struct urt_rt *rt = t->rt;
	uint32_t s = atomic_load_explicit(&t->state, memory_order_relaxed);

	/* Counted before the joiner can see COMPLETE, so that a joiner's
	 * urt_rt_stats already includes this task. */
	urt__count_own(&urt__current_worker()->completed, 1);
	t->u.result = res;
	/* acq_rel: release publishes result to the joiner; acquire pairs
	 * with the joiner's release of join_waker. */
	while (!atomic_compare_exchange_weak_explicit(
		&t->state, &s,
		(s & ~(URT__T_RUNNING | URT__T_NOTIFIED)) | URT__T_COMPLETE,
		memory_order_acq_rel, memory_order_relaxed))
		;
	if (s & URT__T_JOIN_WAKER)
		wake_joiner(atomic_load_explicit(&t->join_waker,
						 memory_order_relaxed));
	/* seq_cst: pairs with the parking worker's check in sched.c */
	if (atomic_fetch_sub(&rt->tasks_unfinished, 1) == 1 &&
	    atomic_load(&rt->shutdown))
		urt__unpark_all(rt);
	/* the not-complete ref and the queued/running ref, in one RMW (a
	 * worker: no foreign_refs guard needed) */
	unref(t, 2);
}

/* Cancels every op of t still in flight (abort path, runner only). */
static void cancel_ops(struct urt__worker *w, struct urt_task *t)
{
	for (struct urt_op *op = t->ops; op; op = op->next)
		urt__op_cancel(op, w);
}

/*
 * Remembers which worker polls t, and reports a migration (urt:migrate:
 * task, from, to, reason) when that changed since the last poll.
 */
static void note_worker(struct urt__worker *w, struct urt_task *t)
{
	uint32_t f = t->flags;
	uint32_t last = f >> URT__TF_LAST_SHIFT;

	if (last && last - 1 != w->id) {
		int why = f & URT__TF_STOLEN	  ? URT_TRM_STOLEN
			  : f & URT__TF_INJECTED ? URT_TRM_INJECT
						 : URT_TRM_WOKEN;
		/* Hops can be frequent (yield-heavy loads): while the
		 * batch tier is on they go in the buffer, not a trap. */
		if (URT_TRACING())
			urt__trace_rec(w, URT_TR_MIGRATE, t->id, last - 1,
				       (uint32_t)why);
		else
			URT_PROBE(migrate, t->id, last - 1, w->id, why);
		(void)why;
	}
	f &= (1u << URT__TF_LAST_SHIFT) - 1;
	f &= ~(uint32_t)(URT__TF_STOLEN | URT__TF_INJECTED);
	t->flags = f | (w->id + 1) << URT__TF_LAST_SHIFT;
}

void urt__task_run(struct urt__worker *w, struct urt_task *t)
{
	uint32_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	int res;

	/* acquire: see what the waker published before it set NOTIFIED */
	while (!atomic_compare_exchange_weak_explicit(
		&t->state, &s, (s & ~URT__T_NOTIFIED) | URT__T_RUNNING,
		memory_order_acquire, memory_order_relaxed))
		;
	w->cx.task = t;
	w->cx.budget = URT__BUDGET;
	w->cx.yielded = false;
	note_worker(w, t);
	if ((s & URT__T_ABORT) && !(t->flags & URT__TF_ABORTING)) {
		URT_TCHAIN_BREAK(w); /* cancels, hooks: not a poll's time */
		t->flags |= URT__TF_ABORTING;
		URT_PROBE(abort, t->id, w->id);
		cancel_ops(w, t);
		if (!t->fut->vt->cancel) {
			/* Droppable at any suspension point. */
			URT_TREC(w, URT_TR_EXIT, t->id, 0,
				 (uint32_t)-ECANCELED);
			complete(t, -ECANCELED);
			w->cx.task = NULL;
			return;
		}
		t->fut->vt->cancel(t->fut, &w->cx);
	}
	/* Detached, one load and a branch for the whole poll; a poll that
	 * began attached is completed even if the tracer left since. */
	if (URT_TRACING()) {
		uint64_t n = atomic_load_explicit(&w->polls,
						  memory_order_relaxed);

		/* Chained to the poll just before this one only, not across
		 * polls run while no tracer was attached (one left and one
		 * came back). */
		if (n != w->tb.chain_seq)
			URT_TCHAIN_BREAK(w);
		URT_TPOLL_BEGIN(w, t->id, urt__lq_len(&w->lq));
		res = urt_future_poll(t->fut, &w->cx);
		URT_TPOLL_END(w, res != URT_PENDING, res, w->cx.yielded);
		w->tb.chain_seq = n + 1; /* counted below */
		/* complete() runs the future's drop hook, frees, wakes a
		 * joining thread: none of it the next poll's time */
		if (res != URT_PENDING)
			URT_TCHAIN_BREAK(w);
	} else {
		res = urt_future_poll(t->fut, &w->cx);
	}
	urt__count_own(&w->polls, 1);
	if (res != URT_PENDING) {
		/* Still "running t": the joiner it wakes takes the LIFO
		 * slot (a join is message passing too). */
		complete(t, res);
		w->cx.task = NULL;
		return;
	}
	w->cx.task = NULL;
	/* A yield is a wake by the runner itself, folded into this CAS
	 * (one RMW per yield instead of two). */
	uint32_t yielded = w->cx.yielded ? URT__T_NOTIFIED : 0;
	s = atomic_load_explicit(&t->state, memory_order_relaxed);
	/* release: our poll's writes are visible to the next runner */
	while (!atomic_compare_exchange_weak_explicit(
		&t->state, &s, (s & ~URT__T_RUNNING) | yielded,
		memory_order_acq_rel, memory_order_relaxed))
		;
	if ((s | yielded) & URT__T_NOTIFIED)
		urt__schedule(t->rt, t, URT__SCHED_YIELD); /* keeps its ref */
	else
		urt__task_unref(t);
}

void urt_cx_yield(struct urt_cx *cx)
{
	if (cx && cx->task) {
		/* task_run sets NOTIFIED as the poll ends; meanwhile a
		 * waker may set it too (then it queues nothing: RUNNING) */
		cx->yielded = true; /* (a tracer's poll record says so) */
	}
}

uint64_t urt_cx_task_id(const struct urt_cx *cx)
{
	return cx && cx->task ? cx->task->id : 0;
}

unsigned urt_cx_worker_id(const struct urt_cx *cx)
{
	return cx && cx->w ? cx->w->id : 0;
}

struct urt_rt *urt_cx_rt(const struct urt_cx *cx)
{
	return cx && cx->w ? cx->w->rt : NULL;
}

int urt_cx_budget_spend(struct urt_cx *cx)
{
	if (!cx)
		return 1;
	if (cx->budget) {
		cx->budget--;
		return 1;
	}
	urt_cx_yield(cx);
	return 0;
}

static void abort_task(struct urt_task *t)
{
	uint32_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint32_t ns;

	do {
		if (s & (URT__T_COMPLETE | URT__T_ABORT))
			return;
		ns = s | URT__T_ABORT | URT__T_NOTIFIED;
	} while (!atomic_compare_exchange_weak_explicit(
		&t->state, &s, ns, memory_order_acq_rel, memory_order_relaxed));
	if (s & (URT__T_NOTIFIED | URT__T_RUNNING))
		return; /* queued or running: the runner sees ABORT */
	urt__task_ref(t);
	urt__schedule(t->rt, t, URT__SCHED_SPAWN);
}

int urt_task_abort(struct urt_task_handle *h)
{
	struct urt_rt *rt;
	bool f;

	if (!h || !h->task)
		return -EINVAL;
	rt = h->task->rt;
	f = foreign_enter(rt);
	abort_task(h->task);
	foreign_leave(rt, f);
	return 0;
}

uint64_t urt_task_id(const struct urt_task_handle *h)
{
	return h && h->task ? h->task->id : 0;
}

/*
 * Takes back join_waker from the completing side, if it is there and the
 * task is not complete. Returns false when the task completed first (the
 * completer then owns, wakes and releases the old waker).
 */
static bool reclaim_waker(struct urt_task *t)
{
	uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);

	while (s & URT__T_JOIN_WAKER) {
		if (s & URT__T_COMPLETE)
			return false;
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &s, s & ~URT__T_JOIN_WAKER,
			    memory_order_acquire, memory_order_acquire)) {
			uintptr_t old = atomic_exchange_explicit(
				&t->join_waker, 0, memory_order_relaxed);
			if (old && !(old & 1))
				urt__task_unref((struct urt_task *)old);
			return true;
		}
	}
	return !(s & URT__T_COMPLETE);
}

/* Installs wk as join waker; false if the task completed meanwhile. */
static bool set_waker(struct urt_task *t, uintptr_t wk)
{
	uint32_t s;

	atomic_store_explicit(&t->join_waker, wk, memory_order_relaxed);
	s = atomic_load_explicit(&t->state, memory_order_acquire);
	do {
		if (s & URT__T_COMPLETE) {
			atomic_store_explicit(&t->join_waker, 0,
					      memory_order_relaxed);
			return false;
		}
		/* release: publishes join_waker to the completer */
	} while (!atomic_compare_exchange_weak_explicit(
		&t->state, &s, s | URT__T_JOIN_WAKER, memory_order_acq_rel,
		memory_order_acquire));
	return true;
}

static int take_result(struct urt_task_handle *h)
{
	struct urt_task *t = h->task;
	int res;

	/* acquire: pairs with complete()'s release of u.result */
	(void)atomic_load_explicit(&t->state, memory_order_acquire);
	res = t->u.result;

	h->task = NULL;
	urt__task_unref(t);
	return res;
}

static int handle_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_task_handle *h = (struct urt_task_handle *)f;
	struct urt_task *t = h->task;
	uint32_t s;

	if (!t)
		return -EINVAL;
	if (!cx || !cx->task || cx->task == t)
		return -EDEADLK;
	if (h->cancelled) {
		h->cancelled = 0;
		return -ECANCELED;
	}
	/* acquire: pairs with complete()'s release of u.result */
	s = atomic_load_explicit(&t->state, memory_order_acquire);
	if (s & URT__T_COMPLETE)
		return urt__budget_spend(cx) ? take_result(h) : URT_PENDING;
	if ((s & URT__T_JOIN_WAKER) &&
	    atomic_load_explicit(&t->join_waker, memory_order_relaxed) ==
		    (uintptr_t)cx->task)
		return URT_PENDING;
	if (!reclaim_waker(t))
		goto done;
	urt__task_ref(cx->task); /* the stored waker's ref */
	if (set_waker(t, (uintptr_t)cx->task))
		return URT_PENDING;
	urt__task_unref(cx->task);
done:
	return take_result(h);
}

/*
 * A cancelled join must not leave its waker (and the reference it holds on
 * the waiting task) with the joined task: that would keep the waiter alive
 * until the other task ends. Take it back; the handle keeps its task.
 */
static void handle_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_task_handle *h = (struct urt_task_handle *)f;

	(void)cx;
	if (!h->task)
		return;
	if (reclaim_waker(h->task))
		h->cancelled = 1; /* else: complete; the next poll joins */
}

static const struct urt_future_vt handle_vt = {
	.poll = handle_poll,
	.cancel = handle_cancel,
};

int urt_task_detach(struct urt_task_handle *h)
{
	struct urt_task *t;

	if (!h || !h->task)
		return -EINVAL;
	t = h->task;
	(void)reclaim_waker(t);
	h->task = NULL;
	urt__task_unref(t);
	return 0;
}

int urt_task_join_blocking(struct urt_task_handle *h)
{
	struct urt__thread_waiter tw = { .done = false };
	struct urt_task *t;
	struct urt_rt *rt;
	int res;

	if (!h || !h->task)
		return -EINVAL;
	if (urt__current_worker())
		return -EDEADLK;
	t = h->task;
	rt = t->rt;
	/* urt_rt_free waits for us before it frees leftover tasks */
	atomic_fetch_add(&rt->foreign_refs, 1);
	if (!(atomic_load_explicit(&t->state, memory_order_acquire) &
	      URT__T_COMPLETE) &&
	    reclaim_waker(t)) {
		pthread_mutex_init(&tw.mu, NULL);
		pthread_cond_init(&tw.cv, NULL);
		if (set_waker(t, (uintptr_t)&tw | 1)) {
			pthread_mutex_lock(&tw.mu);
			while (!tw.done)
				pthread_cond_wait(&tw.cv, &tw.mu);
			pthread_mutex_unlock(&tw.mu);
		}
		pthread_cond_destroy(&tw.cv);
		pthread_mutex_destroy(&tw.mu);
	}
	res = take_result(h);
	atomic_fetch_sub(&rt->foreign_refs, 1); /* last touch of rt */
	return res;
}

/*
 * Takes a reference on up to max of sh's tasks from index *at on that are
 * neither complete nor aborted yet (refs 0: on their way to task_free,
 * skipped) and stores them in v. Advances *at; returns how many.
 */
static size_t abort_collect(struct urt__reg_shard *sh, size_t *at,
			    struct urt_task **v, size_t max)
{
	size_t n = 0;

	urt__spin_lock(&sh->lock);
	for (; *at < sh->len && n < max; ++*at) {
		struct urt_task *t = sh->v[*at];
		/* relaxed: a hint; abort_task decides with a CAS */
		if (atomic_load_explicit(&t->state, memory_order_relaxed) &
		    (URT__T_COMPLETE | URT__T_ABORT))
			continue;
		uint32_t r = atomic_load_explicit(&t->refs,
						  memory_order_relaxed);
		while (r && !atomic_compare_exchange_weak_explicit(
				    &t->refs, &r, r + 1, memory_order_relaxed,
				    memory_order_relaxed))
			;
		if (r)
			v[n++] = t;
	}
	urt__spin_unlock(&sh->lock);
	return n;
}

void urt__task_abort_all(struct urt_rt *rt)
{
	for (unsigned k = 0; k < rt->nshards; k++) {
		struct urt__reg_shard *sh = &rt->shards[k];
		struct urt_task *small[64], **v;
		size_t cap, n, at;

		/* relaxed read of len: only sizes the array; the walk below
		 * is bounded by max */
		urt__spin_lock(&sh->lock);
		cap = sh->len;
		urt__spin_unlock(&sh->lock);
		/* (the small-queues build always takes the batch path, so
		 * that the tests run it) */
		v = cap > 64 && !URT_ABORT_IN_BATCHES
			    ? malloc(cap * sizeof(*v))
			    : NULL;
		if (!v)
			cap = cap < 64 ? cap : 64; /* no memory: in batches */
		v = v ? v : small;
		/*
		 * Aborted outside the lock (an abort may free a task, which
		 * takes this shard's lock). A batch pass resumes from where
		 * the last one stopped; tasks that moved under it (removals
		 * swap the last one in) are caught by the next full pass,
		 * which finds nothing left to abort once all are flagged.
		 */
		for (bool again = true; again;) {
			again = false;
			at = 0;
			while ((n = abort_collect(sh, &at, v, cap ? cap : 1))) {
				again = true;
				for (size_t i = 0; i < n; i++) {
					abort_task(v[i]);
					urt__task_unref(v[i]);
				}
			}
		}
		if (v != small)
			free(v);
	}
}

uint64_t urt__task_free_leaked(struct urt_rt *rt)
{
	struct urt_task **v;
	size_t n = 0, cap = 0;

	/*
	 * Workers are joined: single-threaded from here. Every task left is
	 * complete and held only by a handle or a stored waker. Two passes:
	 * every drop hook first (one may detach another leftover task's
	 * handle: reaping_leaked keeps that from freeing it under us), then
	 * every header.
	 */
	for (unsigned k = 0; k < rt->nshards; k++)
		cap += rt->shards[k].len;
	if (!cap)
		return 0;
	v = malloc(cap * sizeof(*v));
	rt->reaping_leaked = true;
	for (unsigned k = 0; k < rt->nshards; k++) {
		struct urt__reg_shard *sh = &rt->shards[k];
		for (size_t i = 0; i < sh->len; i++) {
			if (v)
				v[n++] = sh->v[i];
			else if (sh->v[i]->fut->vt->drop)
				sh->v[i]->fut->vt->drop(sh->v[i]->fut);
		}
		sh->len = 0;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i]->fut->vt->drop)
			v[i]->fut->vt->drop(v[i]->fut);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	atomic_fetch_add_explicit(&rt->foreign_freed, cap, memory_order_relaxed);
	return cap;
}
