/* SPDX-License-Identifier: MIT */
/*
 * chained_spawn (tokio's name): each task spawns the next, depth N; the last
 * one signals the main thread (a semaphore), as tokio's bench does with a
 * std channel. The first link is spawned from the main thread (the global
 * queue), like tokio::spawn inside tokio's block_on.
 * Usage: chained_spawn [N=1000000] [workers=0]
 */
#include <semaphore.h>
#include <stdatomic.h>

#include "bench.h"

struct chain {
	uint64_t n;
	_Atomic uint64_t depth; /* of the last link, written once */
	_Atomic int err;
	sem_t done;
};

struct link {
	struct urt_co co;
	struct chain *c;
	uint64_t depth;
};

static int link_run(struct urt_co *co, struct urt_cx *cx)
{
	struct link *l = (struct link *)co, *next;
	struct chain *c = l->c;
	int err;

	if (l->depth == c->n) {
		atomic_store(&c->depth, l->depth);
		sem_post(&c->done);
		return 0;
	}
	next = urt_frame_new(sizeof(*next));
	if (!next) {
		err = -ENOMEM;
		goto fail;
	}
	urt_co_init(&next->co, link_run);
	next->c = c;
	next->depth = l->depth + 1;
	err = urt_task_spawn_frame(urt_cx_rt(cx), next, NULL);
	if (!err)
		return 0;
	urt_frame_free(next);
fail:
	atomic_store(&c->err, err);
	sem_post(&c->done);
	return err;
}

int main(int argc, char **argv)
{
	struct chain c = { .n = bench_arg(argc, argv, 1, 1000000) };
	struct urt_rt *rt = bench_rt((unsigned)bench_arg(argc, argv, 2, 0), 0);
	struct link *first;
	uint64_t t0, t1;
	char extra[1024];
	int err;

	if (c.n < 1 || sem_init(&c.done, 0, 0))
		return 1;
	first = urt_frame_new(sizeof(*first));
	if (!first)
		return 1;
	urt_co_init(&first->co, link_run);
	first->c = &c;
	first->depth = 1;
	t0 = urt_now_ns();
	err = urt_task_spawn_frame(rt, first, NULL);
	if (err) {
		fprintf(stderr, "spawn: %s\n", urt_strerror(err));
		return 1;
	}
	while (sem_wait(&c.done))
		;
	t1 = urt_now_ns();
	err = atomic_load(&c.err);
	if (err || atomic_load(&c.depth) != c.n) {
		fprintf(stderr, "chained_spawn: %s, depth %llu of %llu\n",
			urt_strerror(err),
			(unsigned long long)atomic_load(&c.depth),
			(unsigned long long)c.n);
		return 1;
	}
	extra[0] = 0;
	bench_worker_stats(rt, extra, sizeof(extra));
	bench_json("chained_spawn", urt_rt_workers(rt), c.n, t1 - t0,
		   bench_rss_kib(), extra);
	err = urt_rt_free(rt, NULL);
	sem_destroy(&c.done);
	return err ? 1 : 0;
}
