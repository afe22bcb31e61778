/* SPDX-License-Identifier: MIT */
/*
 * spawn_many (tokio's name): one task spawns N trivial tasks and joins them
 * all. Also reports the memory a pending task costs (spawned, not yet run).
 * Usage: spawn_many [N=1000000] [workers=0]
 */
#include <pthread.h>
#include <stdatomic.h>

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

int main(int argc, char **argv)
{
	uint64_t n = bench_arg(argc, argv, 1, 1000000);
	struct urt_config cfg;
	struct urt_rt *rt;
	struct root r = { 0 };
	uint64_t t0, t1;
	long rss0, rss1;
	int err;

	urt_config_init(&cfg);
	cfg.workers = (unsigned)bench_arg(argc, argv, 2, 0);
	err = urt_rt_new(&cfg, &rt);
	if (err) {
		fprintf(stderr, "urt_rt_new: %s: %s\n", urt_strerror(err),
			urt_rt_last_error());
		return 1;
	}
	r.rt = rt;
	r.n = n;
	r.h = calloc(n, sizeof(*r.h));
	urt_co_init(&r.co, root_run);
	t0 = urt_now_ns();
	err = urt_block_on(rt, &r.co.base);
	t1 = urt_now_ns();
	if (err || atomic_load(&r.done) != n) {
		fprintf(stderr, "spawn_many: %s, %llu of %llu ran\n",
			urt_strerror(err),
			(unsigned long long)atomic_load(&r.done),
			(unsigned long long)n);
		return 1;
	}
	bench_json("spawn_many", urt_rt_workers(rt), n, t1 - t0,
		   bench_rss_kib(), NULL);
	free(r.h);

	/* Per-task memory: n pending frame tasks of the same leaf size. */
	rss0 = bench_rss_kib();
	for (uint64_t i = 0; i < n; i++) {
		struct leaf *l = urt_frame_new(sizeof(*l));
		l->co.base.vt = &gate_vt;
		if (urt_task_spawn_frame(rt, l, NULL))
			return 1;
	}
	rss1 = bench_rss_kib();
	{
		char extra[128];
		snprintf(extra, sizeof(extra),
			 "\"bytes_per_pending_task\":%.1f,\"frame_bytes\":%zu",
			 (double)(rss1 - rss0) * 1024.0 / (double)n,
			 sizeof(struct leaf));
		bench_json("task_memory", urt_rt_workers(rt), n, 0, rss1,
			   extra);
	}
	if (urt_rt_free(rt, NULL))
		return 1;
	return 0;
}
