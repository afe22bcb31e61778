/* SPDX-License-Identifier: MIT */
/*
 * yield_many (tokio's name): T tasks each yield Y times.
 * Usage: yield_many [tasks=1000] [yields=1000] [workers=0]
 */
#include <stdatomic.h>

#include "bench.h"

struct yielder {
	struct urt_co co;
	uint64_t left;
};

static int yielder_run(struct urt_co *co, struct urt_cx *cx)
{
	struct yielder *y = (struct yielder *)co;

	URT_BEGIN(co);
	while (y->left--)
		URT_YIELD(co, cx);
	URT_END(co, 0);
}

struct root {
	struct urt_co co;
	struct urt_rt *rt;
	uint64_t tasks, yields, i;
	struct urt_task_handle *h;
};

static int root_run(struct urt_co *co, struct urt_cx *cx)
{
	struct root *r = (struct root *)co;
	int res;

	URT_BEGIN(co);
	for (r->i = 0; r->i < r->tasks; r->i++) {
		struct yielder *y = urt_frame_new(sizeof(*y));
		if (!y)
			URT_RETURN(co, -ENOMEM);
		urt_co_init(&y->co, yielder_run);
		y->left = r->yields;
		res = urt_task_spawn_frame(r->rt, y, &r->h[r->i]);
		if (res)
			URT_RETURN(co, res);
	}
	for (r->i = 0; r->i < r->tasks; r->i++) {
		URT_AWAIT(co, cx, &r->h[r->i].base, res);
		if (res)
			URT_RETURN(co, res);
	}
	URT_END(co, 0);
}

int main(int argc, char **argv)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct root r = { 0 };
	struct urt_stats st;
	uint64_t t0, t1;
	int err;

	r.tasks = bench_arg(argc, argv, 1, 1000);
	r.yields = bench_arg(argc, argv, 2, 1000);
	urt_config_init(&cfg);
	cfg.workers = (unsigned)bench_arg(argc, argv, 3, 0);
	if ((err = urt_rt_new(&cfg, &rt))) {
		fprintf(stderr, "urt_rt_new: %s: %s\n", urt_strerror(err),
			urt_rt_last_error());
		return 1;
	}
	r.rt = rt;
	r.h = calloc(r.tasks, sizeof(*r.h));
	urt_co_init(&r.co, root_run);
	t0 = urt_now_ns();
	err = urt_block_on(rt, &r.co.base);
	t1 = urt_now_ns();
	urt_rt_stats(rt, &st);
	if (err || st.polls < r.tasks * (r.yields + 1)) {
		fprintf(stderr, "yield_many: %s, %llu polls\n",
			urt_strerror(err), (unsigned long long)st.polls);
		return 1;
	}
	{
		char extra[1024] = "";

		bench_worker_stats(rt, extra, sizeof(extra));
		bench_json("yield_many", urt_rt_workers(rt),
			   r.tasks * r.yields, t1 - t0, bench_rss_kib(), extra);
	}
	free(r.h);
	return urt_rt_free(rt, NULL) ? 1 : 0;
}
