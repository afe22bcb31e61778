/* SPDX-License-Identifier: MIT */
/*
 * spawn_many (tokio's name): one task spawns N trivial tasks and joins them
 * all. Also reports the memory a pending task costs (spawned, never done).
 * Usage: see main().
 */
#include <stdatomic.h>
#include <stdbool.h>

#include "bench.h"

struct leaf {
	struct urt_co co;
	_Atomic uint64_t *done;
};

static int leaf_run(struct urt_co *co, struct urt_cx *cx)
{
	struct leaf *l = (struct leaf *)co;

	(void)cx;
	atomic_fetch_add_explicit(l->done, 1, memory_order_relaxed);
	return 0;
}

struct root {
	struct urt_co co;
	struct urt_rt *rt;
	uint64_t n, i;
	_Atomic uint64_t done;
	struct urt_task_handle *h;
	long rss_peak;
};

static int root_run(struct urt_co *co, struct urt_cx *cx)
{
	struct root *r = (struct root *)co;
	int res;

	URT_BEGIN(co);
	for (r->i = 0; r->i < r->n; r->i++) {
		struct leaf *l = urt_frame_new(sizeof(*l));
		if (!l)
			URT_RETURN(co, -ENOMEM);
		urt_co_init(&l->co, leaf_run);
		l->done = &r->done;
		res = urt_task_spawn_frame(r->rt, l, &r->h[r->i]);
		if (res)
			URT_RETURN(co, res);
	}
	for (r->i = 0; r->i < r->n; r->i++) {
		URT_AWAIT(co, cx, &r->h[r->i].base, res);
		if (res)
			URT_RETURN(co, res);
	}
	URT_END(co, 0);
}

/* Memory per pending task: spawn N tasks that cannot run yet. */
static int gate_poll(struct urt_future *f, struct urt_cx *cx)
{
	(void)f;
	(void)cx;
	return URT_PENDING; /* aborted at shutdown */
}
static const struct urt_future_vt gate_vt = { .poll = gate_poll };

/* Spawns n tasks and joins them from one root task; prints spawn_many. */
static int timed(struct urt_rt *rt, uint64_t n)
{
	struct root r = { 0 };
	char extra[1024];
	uint64_t t0, t1;
	int err;

	r.rt = rt;
	r.n = n;
	r.h = calloc(n, sizeof(*r.h));
	if (!r.h)
		return 1;
	urt_co_init(&r.co, root_run);
	t0 = urt_now_ns();
	err = urt_block_on(rt, &r.co.base);
	t1 = urt_now_ns();
	free(r.h);
	if (err || atomic_load(&r.done) != n) {
		fprintf(stderr, "spawn_many: %s, %llu of %llu ran\n",
			urt_strerror(err),
			(unsigned long long)atomic_load(&r.done),
			(unsigned long long)n);
		return 1;
	}
	extra[0] = 0;
	bench_worker_stats(rt, extra, sizeof(extra));
	bench_json("spawn_many", urt_rt_workers(rt), n, t1 - t0,
		   bench_rss_kib(), extra);
	return 0;
}

/*
 * Memory per pending task: RSS growth while n tasks that never finish are
 * spawned from this (non-worker) thread. The tokio peer does the same.
 */
static int memory(struct urt_rt *rt, uint64_t n)
{
	char extra[128];
	long rss0, rss1;

	rss0 = bench_rss_kib();
	for (uint64_t i = 0; i < n; i++) {
		struct leaf *l = urt_frame_new(sizeof(*l));
		if (!l)
			return 1;
		l->co.base.vt = &gate_vt;
		if (urt_task_spawn_frame(rt, l, NULL))
			return 1;
	}
	rss1 = bench_rss_kib();
	snprintf(extra, sizeof(extra),
		 "\"bytes_per_pending_task\":%.1f,\"frame_bytes\":%zu",
		 (double)(rss1 - rss0) * 1024.0 / (double)n, sizeof(struct leaf));
	bench_json("task_memory", urt_rt_workers(rt), n, 0, rss1, extra);
	return 0;
}

/*
 * Usage: spawn_many [N=1000000] [workers=0] [mode=both|time|mem]
 * "mem" in a fresh process is the clean per-task number (bench/run.sh uses
 * it); "both" measures memory after the timed run, in the same runtime.
 */
int main(int argc, char **argv)
{
	uint64_t n = bench_arg(argc, argv, 1, 1000000);
	const char *mode = bench_arg_str(argc, argv, 3, "both");
	struct urt_rt *rt = bench_rt((unsigned)bench_arg(argc, argv, 2, 0), 0);
	bool all = !strcmp(mode, "both");

	if ((all || !strcmp(mode, "time")) && timed(rt, n))
		return 1;
	if ((all || !strcmp(mode, "mem")) && memory(rt, n))
		return 1;
	/* The pending tasks are aborted here. */
	return urt_rt_free(rt, NULL) ? 1 : 0;
}
