/* SPDX-License-Identifier: MIT */
/*
 * The runtime object: configuration, start-up, statistics, block_on and
 * shutdown. Workers and queues live in sched.c and queue.c.
 *
 * Shutdown protocol (urt_rt_free):
 *  1. Set rt->shutdown, then walk the registry shard by shard under each
 *     shard's lock: a spawn that registers after the walk passed its
 *     shard sees the flag under that lock and gets -ESHUTDOWN; every
 *     earlier one is found.
 *  2. Abort every registered task (urt__task_abort_all). An aborted task's
 *     ops are cancelled on the rings that own them (a MSG_RING to the owner
 *     when that is another worker); its future is cancelled and drained, or
 *     dropped if it has no cancel hook.
 *  3. Wake every parked worker. The completion that takes tasks_unfinished
 *     to 0 wakes them all again.
 *  4. A worker exits once no task is unfinished, its queues are empty and
 *     its ring has no SQE in flight: every CQE it is owed has been reaped,
 *     so no op memory is still in the kernel's hands.
 *     Once every task finished, each worker cancels the ops still in its
 *     ring (ASYNC_CANCEL_ANY: a finished task may leave ops behind) and
 *     waits for their CQEs; it also waits for routed cancel messages.
 *  5. Join the workers, then the blocking pool's threads, then wait for
 *     foreign threads still inside a call on one of our tasks (wake,
 *     abort, join, unref: foreign_refs); free tasks that only
 *     un-joined handles (or stored wakers) still hold, reported as
 *     handles_leaked; free queues, locks, the runtime.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "waker.h"

static __thread char rt_error[256];

const char *urt_rt_last_error(void)
{
	return rt_error;
}

void urt_config_init(struct urt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->long_poll_ns = 10 * 1000 * 1000;
}

void urt__note_long_poll(struct urt__worker *w, uint64_t task_id,
			 uint64_t ns)
{
	struct urt_rt *rt = w->rt;
	uint64_t cur = atomic_load_explicit(&rt->longest_poll_ns,
					    memory_order_relaxed);

	urt__count_own(&w->long_polls, 1);
	URT_PROBE(long_poll, task_id, w->id, ns);
	/* relaxed: a report, the pair may be torn under races; fine */
	while (ns > cur)
		if (atomic_compare_exchange_weak_explicit(
			    &rt->longest_poll_ns, &cur, ns,
			    memory_order_relaxed, memory_order_relaxed)) {
			atomic_store_explicit(&rt->longest_poll_task, task_id,
					      memory_order_relaxed);
			break;
		}
}


static void rt_destroy(struct urt_rt *rt)
{
	for (unsigned i = 0; rt->workers && i < rt->nworkers; i++)
		urt__lq_deinit(&rt->workers[i].lq);
	free(rt->workers);
	free((void *)rt->steal_matrix);
	for (unsigned i = 0; rt->shards && i < rt->nshards; i++) {
		free(rt->shards[i].v);
	}
	free(rt->shards);
	urt__inject_deinit(rt);
	pthread_mutex_destroy(&rt->inject_lock);
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
	rt->long_poll_ns = cfg->long_poll_ns;
	rt->asym_park = n > 1 && urt__asym_barrier_init();
	atomic_init(&rt->next_id, 1);
	/* adaptive: held for a few loads and stores, contended by workers */
	urt__mu_init(&rt->inject_lock);
	pthread_mutex_init(&rt->start_lock, NULL);
	pthread_cond_init(&rt->start_cv, NULL);
	rt->workers = aligned_alloc(64, n * sizeof(*rt->workers));
	if (rt->workers)
		memset(rt->workers, 0, n * sizeof(*rt->workers));
	if (!rt->workers) {
		rt_destroy(rt);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		struct urt__worker *w = &rt->workers[i];
		w->rt = rt;
		w->id = i;
		if (urt__lq_init(&w->lq)) {
			rt_destroy(rt);
			return -ENOMEM;
		}
	}
	rt->nshards = 4;
	while (rt->nshards < 4 * n && rt->nshards < 256)
		rt->nshards *= 2;
	rt->shards = aligned_alloc(64, rt->nshards * sizeof(*rt->shards));
	if (!rt->shards) {
		rt_destroy(rt);
		return -ENOMEM;
	}
	memset(rt->shards, 0, rt->nshards * sizeof(*rt->shards));
	for (unsigned i = 0; i < rt->nshards; i++)
		atomic_init(&rt->shards[i].lock.held, 0);
	if (n <= 64) {
		rt->steal_matrix = calloc((size_t)n * n,
					  sizeof(*rt->steal_matrix));
		if (!rt->steal_matrix) {
			rt_destroy(rt);
			return -ENOMEM;
		}
	}
	for (; started < n; started++) {
		err = -pthread_create(&rt->workers[started].thread, NULL,
				      urt__worker_main, &rt->workers[started]);
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
	uint64_t freed = atomic_load_explicit(&rt->foreign_freed,
					      memory_order_relaxed);

	st->tasks_spawned = atomic_load_explicit(&rt->foreign_spawned,
						 memory_order_relaxed);
	st->workers = rt->nworkers;
	st->ring_flags = rt->ring_flags;
	st->longest_poll_ns = atomic_load_explicit(&rt->longest_poll_ns,
						   memory_order_relaxed);
	st->longest_poll_task = atomic_load_explicit(&rt->longest_poll_task,
						     memory_order_relaxed);
	st->inject_spills = atomic_load_explicit(&rt->inject_spills,
						 memory_order_relaxed);
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
		st->steals += atomic_load_explicit(&w->steals_in,
						   memory_order_relaxed);
		st->long_polls += atomic_load_explicit(&w->long_polls,
						       memory_order_relaxed);
		st->tasks_spawned += atomic_load_explicit(
			&w->spawned, memory_order_relaxed);
		st->tasks_completed += atomic_load_explicit(
			&w->completed, memory_order_relaxed);
		freed += atomic_load_explicit(&w->freed, memory_order_relaxed);
	}
	/* Snapshots of counters on several threads: live may read a task
	 * as freed before its spawn is seen; clamp instead of wrapping. */
	st->tasks_live = st->tasks_spawned > freed ? st->tasks_spawned - freed
						   : 0;
}

#define LOAD(field) atomic_load_explicit(&w->field, memory_order_relaxed)

int urt_rt_worker_stats(struct urt_rt *rt, unsigned worker,
			struct urt_worker_stats *ws)
{
	struct urt__worker *w;

	if (!rt || !ws || worker >= rt->nworkers)
		return -EINVAL;
	w = &rt->workers[worker];
	memset(ws, 0, sizeof(*ws));
	ws->polls = LOAD(polls);
	ws->lifo_polls = LOAD(lifo_polls);
	ws->steals_in = LOAD(steals_in);
	ws->steal_ops = LOAD(steal_ops);
	ws->stolen_out = LOAD(stolen_out);
	ws->parks = LOAD(parks);
	ws->unparks = LOAD(unparks);
	ws->wakes_sent = LOAD(wakes_sent);
	ws->wakes_received = LOAD(wakes_received);
	ws->inject_pops = LOAD(inject_pops);
	ws->ops_submitted = LOAD(ops_submitted);
	ws->ops_completed = LOAD(ops_completed);
	ws->cancels_routed = LOAD(cancels_routed);
	ws->long_polls = LOAD(long_polls);
	ws->queue_depth = urt__lq_len(&w->lq);
	return 0;
}

uint64_t urt_rt_steals(struct urt_rt *rt, unsigned thief, unsigned victim)
{
	if (!rt || !rt->steal_matrix || thief >= rt->nworkers ||
	    victim >= rt->nworkers)
		return 0;
	return atomic_load_explicit(
		&rt->steal_matrix[thief * rt->nworkers + victim],
		memory_order_relaxed);
}

int urt_rt_free(struct urt_rt *rt, struct urt_stats *final)
{
	uint64_t leaked;

	if (final)
		memset(final, 0, sizeof(*final));
	if (!rt)
		return -EINVAL;
	if (urt__current_worker())
		return -EDEADLK;
	/* 1. */
	atomic_store(&rt->shutdown, 1); /* seq_cst: see shutdown_done */
	/* 2. */
	urt__task_abort_all(rt);
	/* 3. */
	urt__unpark_all(rt);
	/* 4. (workers) and 5. */
	for (unsigned i = 0; i < rt->nworkers; i++)
		pthread_join(rt->workers[i].thread, NULL);
	urt__blocking_shutdown(rt); /* no task left to queue or await jobs */
	/* Plain threads (or another runtime's workers) may still be inside
	 * a wake, an abort or urt_task_join_blocking on one of our tasks:
	 * let them finish before freeing what they touch. */
	while (atomic_load(&rt->foreign_refs)) {
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
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
	if (urt__current_worker())
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
