/* SPDX-License-Identifier: MIT */
/*
 * Workers, run queues, parking and the runtime object. Each worker owns one
 * ring, created on its own thread (SINGLE_ISSUER / DEFER_TASKRUN bind it),
 * which is both its reactor and its wake-up channel (MSG_RING CQEs).
 *
 * Shutdown protocol (urt_rt_free):
 *  1. Under reg_lock, set rt->shutdown: every later spawn gets -ESHUTDOWN,
 *     every earlier one is in the registry.
 *  2. Abort every registered task (urt__task_abort_all). An aborted task's
 *     ops are cancelled on the rings that own them; its future is cancelled
 *     and drained or dropped.
 *  3. Wake every parked worker. The completion that takes tasks_unfinished
 *     to 0 wakes them all again.
 *  4. A worker exits once no task is unfinished, its queue is empty and its
 *     ring has no SQE in flight: every CQE it is owed has been reaped.
 *  5. Join the workers; free tasks that only un-joined handles still hold
 *     (reported as handles_leaked); free queues, locks, the runtime.
 *
 * Parking (no lost wake-up): a worker stores PARKED (seq_cst), then
 * re-checks the inject queue and the shutdown condition (seq_cst) before it
 * waits in io_uring_enter. A waker publishes work (seq_cst) and then CASes
 * PARKED -> RUNNING; only the winner sends the MSG_RING. Either the worker
 * sees the work, or the waker sees PARKED: both orders are covered, and the
 * message's CQE ends the wait even if it lands before the worker enters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define EVENT_INTERVAL 61 /* ticks between reaps / inject checks (Go) */

static __thread struct urt__worker *tl_worker;
static __thread char rt_error[256];

struct urt__worker *urt__current_worker(void)
{
	return tl_worker;
}

const char *urt_rt_last_error(void)
{
	return rt_error;
}

void urt_config_init(struct urt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

/* ---------------------------------------------------------------------
 * Queues
 * ------------------------------------------------------------------- */

static void inject_push_batch(struct urt_rt *rt, struct urt_task *head,
			      struct urt_task *tail, size_t n)
{
	tail->u.next = NULL;
	pthread_mutex_lock(&rt->inject_lock);
	if (rt->inject_tail)
		rt->inject_tail->u.next = head;
	else
		rt->inject_head = head;
	rt->inject_tail = tail;
	/* seq_cst: ordered before the parked-worker check (see top) */
	atomic_fetch_add(&rt->inject_len, n);
	pthread_mutex_unlock(&rt->inject_lock);
}

static struct urt_task *inject_pop(struct urt_rt *rt)
{
	struct urt_task *t;

	if (!atomic_load(&rt->inject_len))
		return NULL;
	pthread_mutex_lock(&rt->inject_lock);
	t = rt->inject_head;
	if (t) {
		rt->inject_head = t->u.next;
		if (!rt->inject_head)
			rt->inject_tail = NULL;
		atomic_fetch_sub(&rt->inject_len, 1);
	}
	pthread_mutex_unlock(&rt->inject_lock);
	return t;
}

static uint32_t lq_len(const struct urt__lq *q)
{
	return q->tail - q->head;
}

static void unpark_one(struct urt_rt *rt);

/* Owner only. A full queue moves half of itself to inject. */
static void lq_push(struct urt__worker *w, struct urt_task *t)
{
	struct urt__lq *q = &w->lq;

	if (lq_len(q) == URT_LOCAL_QUEUE_SIZE) {
		uint32_t n = URT_LOCAL_QUEUE_SIZE / 2;
		struct urt_task *head = q->buf[q->head % URT_LOCAL_QUEUE_SIZE];
		struct urt_task *prev = head;

		for (uint32_t i = 1; i < n; i++) {
			struct urt_task *x =
				q->buf[(q->head + i) % URT_LOCAL_QUEUE_SIZE];
			prev->u.next = x;
			prev = x;
		}
		q->head += n;
		inject_push_batch(w->rt, head, prev, n);
		unpark_one(w->rt);
	}
	q->buf[q->tail % URT_LOCAL_QUEUE_SIZE] = t;
	q->tail++;
}

static struct urt_task *lq_pop(struct urt__worker *w)
{
	struct urt__lq *q = &w->lq;

	if (q->head == q->tail)
		return NULL;
	return q->buf[q->head++ % URT_LOCAL_QUEUE_SIZE];
}

/* ---------------------------------------------------------------------
 * Wake-ups
 * ------------------------------------------------------------------- */

static void send_wake(struct urt__worker *target)
{
	struct urt__worker *self = tl_worker;
	int ret;

	if (self && self->rt == target->rt)
		ret = urt__ring_msg(self->ring, target->ring_fd, URT__UD_WAKE,
				    0);
	else
		ret = urt__msg_ring_sync(target->ring_fd, URT__UD_WAKE, 0);
	if (ret == 0 && self)
		atomic_fetch_add_explicit(&self->wakes_sent, 1,
					  memory_order_relaxed);
}

static bool try_unpark(struct urt__worker *w)
{
	int expect = URT__W_PARKED;

	/* seq_cst: see the parking protocol at the top */
	if (!atomic_compare_exchange_strong(&w->park, &expect,
					    URT__W_RUNNING))
		return false;
	atomic_fetch_add_explicit(&w->unparks, 1, memory_order_relaxed);
	send_wake(w);
	return true;
}

static void unpark_one(struct urt_rt *rt)
{
	unsigned start = atomic_fetch_add_explicit(&rt->next_unpark, 1,
						   memory_order_relaxed);

	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urt__worker *w = &rt->workers[(start + i) % rt->nworkers];
		if (w != tl_worker && try_unpark(w))
			return;
	}
}

void urt__unpark_all(struct urt_rt *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (&rt->workers[i] != tl_worker)
			(void)try_unpark(&rt->workers[i]);
}

void urt__schedule(struct urt_rt *rt, struct urt_task *t, bool yielded)
{
	struct urt__worker *w = tl_worker;

	(void)yielded;
	if (w && w->rt == rt) {
		lq_push(w, t);
		return;
	}
	inject_push_batch(rt, t, t, 1);
	unpark_one(rt);
}

/* ---------------------------------------------------------------------
 * The worker loop
 * ------------------------------------------------------------------- */

static void on_cqe(void *ctx, uint64_t ud, int res, uint32_t flags)
{
	struct urt__worker *w = ctx;
	void *p = (void *)(uintptr_t)(ud & ~(uint64_t)URT__UD_TAG_MASK);

	switch (ud & URT__UD_TAG_MASK) {
	case URT__UD_OP:
		atomic_fetch_add_explicit(&w->ops_completed, 1,
					  memory_order_relaxed);
		urt__op_complete(p, res, flags);
		break;
	case URT__UD_CANCEL:
		/* A sibling asks us to cancel an op on our ring; p is only
		 * a key, never dereferenced. */
		(void)urt__ring_prep_cancel(w->ring, (uintptr_t)p);
		break;
	case URT__UD_WAKE: /* its only job was to end the wait */
	case URT__UD_IGNORE:
	default:
		break;
	}
}

static bool shutdown_done(struct urt__worker *w)
{
	struct urt_rt *rt = w->rt;

	/* seq_cst: pairs with complete()'s decrement + shutdown check */
	return atomic_load(&rt->shutdown) &&
	       atomic_load(&rt->tasks_unfinished) == 0 &&
	       lq_len(&w->lq) == 0 && urt__ring_inflight(w->ring) == 0;
}

static struct urt_task *next_task(struct urt__worker *w)
{
	struct urt_task *t;

	/* Fairness: the global queue gets a turn every EVENT_INTERVAL. */
	if (w->tick % EVENT_INTERVAL == 0 && (t = inject_pop(w->rt))) {
		atomic_fetch_add_explicit(&w->inject_pops, 1,
					  memory_order_relaxed);
		return t;
	}
	if ((t = lq_pop(w)))
		return t;
	if ((t = inject_pop(w->rt)))
		atomic_fetch_add_explicit(&w->inject_pops, 1,
					  memory_order_relaxed);
	return t;
}

static void publish_ring_stats(struct urt__worker *w)
{
	atomic_store_explicit(&w->ring_inflight, urt__ring_inflight(w->ring),
			      memory_order_relaxed);
	atomic_store_explicit(&w->sq_full_retries,
			      urt__ring_sq_full_retries(w->ring),
			      memory_order_relaxed);
	atomic_store_explicit(&w->cq_overflows,
			      urt__ring_cq_overflows(w->ring),
			      memory_order_relaxed);
}

static void park(struct urt__worker *w)
{
	struct urt_rt *rt = w->rt;

	publish_ring_stats(w);
	atomic_store(&w->park, URT__W_PARKED); /* seq_cst */
	if (atomic_load(&rt->inject_len) ||
	    (atomic_load(&rt->shutdown) &&
	     atomic_load(&rt->tasks_unfinished) == 0)) {
		/* Work (or the end) arrived: don't sleep. A waker that won
		 * the CAS already sent a message; its CQE is harmless. */
		atomic_store(&w->park, URT__W_RUNNING);
		return;
	}
	atomic_fetch_add_explicit(&w->parks, 1, memory_order_relaxed);
	(void)urt__ring_reap(w->ring, true);
	atomic_store(&w->park, URT__W_RUNNING);
}

static void worker_loop(struct urt__worker *w)
{
	for (;;) {
		struct urt_task *t = next_task(w);

		if (t) {
			urt__task_run(w, t);
			if (++w->tick % EVENT_INTERVAL == 0)
				(void)urt__ring_reap(w->ring, false);
			continue;
		}
		w->tick++;
		/* Out of tasks: submit what polls prepared, reap. */
		if (urt__ring_reap(w->ring, false) > 0 || lq_len(&w->lq))
			continue;
		if (shutdown_done(w))
			break;
		park(w);
	}
}

static void *worker_main(void *arg)
{
	struct urt__worker *w = arg;
	struct urt_rt *rt = w->rt;
	int err;

	tl_worker = w;
	w->cx.w = w;
	w->ring = urt__ring_new(&rt->cfg, on_cqe, w, &err);
	pthread_mutex_lock(&rt->start_lock);
	if (!w->ring) {
		if (!rt->start_err) {
			rt->start_err = err;
			snprintf(rt->start_msg, sizeof(rt->start_msg), "%s",
				 urt__ring_last_error());
		}
	} else {
		w->ring_fd = urt__ring_fd(w->ring);
		rt->ring_flags = urt__ring_setup_flags(w->ring);
	}
	rt->started++;
	pthread_cond_broadcast(&rt->start_cv);
	/* Wait for every sibling: all ring fds must be known before any
	 * task can try to wake a sibling. */
	while (rt->started < rt->nworkers)
		pthread_cond_wait(&rt->start_cv, &rt->start_lock);
	err = rt->start_err;
	pthread_mutex_unlock(&rt->start_lock);
	if (!err) {
		worker_loop(w);
		publish_ring_stats(w);
	}
	atomic_store(&w->park, URT__W_EXITED);
	urt__ring_free(w->ring);
	w->ring = NULL;
	tl_worker = NULL;
	return NULL;
}

/* ---------------------------------------------------------------------
 * Runtime object
 * ------------------------------------------------------------------- */

static void rt_destroy(struct urt_rt *rt)
{
	for (unsigned i = 0; rt->workers && i < rt->nworkers; i++)
		free(rt->workers[i].lq.buf);
	free(rt->workers);
	free(rt->reg);
	pthread_mutex_destroy(&rt->inject_lock);
	pthread_mutex_destroy(&rt->reg_lock);
	pthread_mutex_destroy(&rt->start_lock);
	pthread_cond_destroy(&rt->start_cv);
	free(rt);
}

int urt_rt_new(const struct urt_config *cfg, struct urt_rt **out)
{
	struct urt_config def;
	struct urt_rt *rt;
	unsigned n, started = 0;
	int err = 0;

	rt_error[0] = 0;
	if (!out) {
		snprintf(rt_error, sizeof(rt_error), "out is NULL");
		return -EINVAL;
	}
	*out = NULL;
	if (!cfg) {
		urt_config_init(&def);
		cfg = &def;
	}
	if (cfg->workers > 1024 || cfg->ring_entries > 32768 ||
	    (cfg->cq_entries && cfg->cq_entries < cfg->ring_entries)) {
		snprintf(rt_error, sizeof(rt_error),
			 "bad config: workers <= 1024, ring_entries <= 32768, "
			 "cq_entries >= ring_entries");
		return -EINVAL;
	}
	n = cfg->workers;
	if (!n) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (unsigned)cpus : 1;
	}
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->cfg = *cfg;
	rt->nworkers = n;
	atomic_init(&rt->next_id, 1);
	pthread_mutex_init(&rt->inject_lock, NULL);
	pthread_mutex_init(&rt->reg_lock, NULL);
	pthread_mutex_init(&rt->start_lock, NULL);
	pthread_cond_init(&rt->start_cv, NULL);
	rt->workers = calloc(n, sizeof(*rt->workers));
	if (!rt->workers) {
		rt_destroy(rt);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		struct urt__worker *w = &rt->workers[i];
		w->rt = rt;
		w->id = i;
		w->lq.buf = calloc(URT_LOCAL_QUEUE_SIZE, sizeof(*w->lq.buf));
		if (!w->lq.buf) {
			rt_destroy(rt);
			return -ENOMEM;
		}
	}
	for (; started < n; started++) {
		err = -pthread_create(&rt->workers[started].thread, NULL,
				      worker_main, &rt->workers[started]);
		if (err)
			break;
	}
	pthread_mutex_lock(&rt->start_lock);
	if (err) {
		/* Let the threads that did start see an error and leave. */
		rt->start_err = err;
		snprintf(rt->start_msg, sizeof(rt->start_msg),
			 "pthread_create failed: %s", strerror(-err));
		rt->nworkers = started;
		pthread_cond_broadcast(&rt->start_cv);
	}
	while (rt->started < started)
		pthread_cond_wait(&rt->start_cv, &rt->start_lock);
	err = rt->start_err;
	pthread_mutex_unlock(&rt->start_lock);
	if (err) {
		for (unsigned i = 0; i < started; i++)
			pthread_join(rt->workers[i].thread, NULL);
		snprintf(rt_error, sizeof(rt_error), "%s", rt->start_msg);
		rt->nworkers = n;
		rt_destroy(rt);
		return err;
	}
	*out = rt;
	return 0;
}

unsigned urt_rt_workers(const struct urt_rt *rt)
{
	return rt ? rt->nworkers : 0;
}

void urt_rt_stats(struct urt_rt *rt, struct urt_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!rt)
		return;
	st->tasks_spawned = atomic_load_explicit(&rt->tasks_spawned,
						 memory_order_relaxed);
	st->tasks_completed = atomic_load_explicit(&rt->tasks_completed,
						   memory_order_relaxed);
	st->tasks_live = atomic_load_explicit(&rt->tasks_live,
					      memory_order_acquire);
	st->workers = rt->nworkers;
	st->ring_flags = rt->ring_flags;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urt__worker *w = &rt->workers[i];
		st->polls += atomic_load_explicit(&w->polls,
						  memory_order_relaxed);
		st->ops_submitted += atomic_load_explicit(
			&w->ops_submitted, memory_order_relaxed);
		st->ops_completed += atomic_load_explicit(
			&w->ops_completed, memory_order_relaxed);
		st->sqes_inflight += atomic_load_explicit(
			&w->ring_inflight, memory_order_relaxed);
		st->sq_full_retries += atomic_load_explicit(
			&w->sq_full_retries, memory_order_relaxed);
		st->cq_overflows += atomic_load_explicit(
			&w->cq_overflows, memory_order_relaxed);
	}
}

int urt_rt_free(struct urt_rt *rt, struct urt_stats *final)
{
	uint64_t leaked;

	if (final)
		memset(final, 0, sizeof(*final));
	if (!rt)
		return -EINVAL;
	if (tl_worker)
		return -EDEADLK;
	/* 1. */
	pthread_mutex_lock(&rt->reg_lock);
	atomic_store(&rt->shutdown, 1); /* seq_cst: see shutdown_done */
	pthread_mutex_unlock(&rt->reg_lock);
	/* 2. */
	urt__task_abort_all(rt);
	/* 3. */
	urt__unpark_all(rt);
	/* 4. (workers) and 5. */
	for (unsigned i = 0; i < rt->nworkers; i++)
		pthread_join(rt->workers[i].thread, NULL);
	leaked = urt__task_free_leaked(rt);
	if (final) {
		urt_rt_stats(rt, final);
		final->handles_leaked = leaked;
	}
	rt_destroy(rt);
	return leaked ? -EBUSY : 0;
}

/* ---------------------------------------------------------------------
 * block_on: the future runs as a task; the caller waits for its drop,
 * which comes after completion and after every op it submitted is done.
 * ------------------------------------------------------------------- */

struct block_on {
	struct urt_future base;
	struct urt_future *inner;
	int result;
	struct urt__thread_waiter tw;
};

static int bo_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct block_on *b = (struct block_on *)f;
	int r = urt_future_poll(b->inner, cx);

	if (r != URT_PENDING)
		b->result = r;
	return r;
}

static void bo_cancel(struct urt_future *f, struct urt_cx *cx)
{
	urt_future_cancel(((struct block_on *)f)->inner, cx);
}

static void bo_drop(struct urt_future *f)
{
	struct block_on *b = (struct block_on *)f;

	if (b->inner->vt->drop)
		b->inner->vt->drop(b->inner);
	pthread_mutex_lock(&b->tw.mu);
	b->tw.done = true;
	pthread_cond_signal(&b->tw.cv);
	pthread_mutex_unlock(&b->tw.mu); /* b may be gone after this */
}

static const struct urt_future_vt bo_vt = {
	.poll = bo_poll,
	.cancel = bo_cancel,
	.drop = bo_drop,
};

int urt_block_on(struct urt_rt *rt, struct urt_future *fut)
{
	struct block_on b = { .base.vt = &bo_vt, .inner = fut,
			      .result = -ECANCELED };
	int err;

	if (!rt || !fut || !fut->vt || !fut->vt->poll)
		return -EINVAL;
	if (tl_worker)
		return -EDEADLK;
	pthread_mutex_init(&b.tw.mu, NULL);
	pthread_cond_init(&b.tw.cv, NULL);
	err = urt_task_spawn(rt, &b.base, NULL);
	if (!err) {
		pthread_mutex_lock(&b.tw.mu);
		while (!b.tw.done)
			pthread_cond_wait(&b.tw.cv, &b.tw.mu);
		pthread_mutex_unlock(&b.tw.mu);
	}
	pthread_cond_destroy(&b.tw.cv);
	pthread_mutex_destroy(&b.tw.mu);
	return err ? err : b.result;
}
