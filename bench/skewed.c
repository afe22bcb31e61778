/* SPDX-License-Identifier: MIT */
/*
 * skewed: one task spawns N CPU-bound tasks of about `us` microseconds each
 * (a calibrated spin, bench_spin()), all onto its own worker's queue; the
 * other workers must steal them. Reports elapsed time against the ideal
 * (the CPU work the tasks measured themselves, divided by the workers), and
 * how many tasks each worker ran (counted by the tasks) with the workers'
 * own statistics (urt_rt_worker_stats: polls, tasks stolen in and out).
 * Usage: skewed [N=100000] [us=10] [workers=0]
 */
#include <semaphore.h>
#include <stdatomic.h>

#include "bench.h"

#define MAX_WORKERS 64

struct skew {
	uint64_t n, iters;
	_Atomic uint64_t left;
	_Atomic uint64_t cpu_ns;
	_Atomic uint64_t ran[MAX_WORKERS];
	_Atomic int err;
	sem_t done;
};

struct job {
	struct urt_co co;
	struct skew *s;
	uint64_t seed;
};

static void finish_one(struct skew *s)
{
	/* acq_rel: the last one sees every other task's counts */
	if (atomic_fetch_sub(&s->left, 1) == 1)
		sem_post(&s->done);
}

static int job_run(struct urt_co *co, struct urt_cx *cx)
{
	struct job *j = (struct job *)co;
	struct skew *s = j->s;
	uint64_t t0 = urt_now_ns();

	(void)bench_spin(j->seed, s->iters);
	atomic_fetch_add_explicit(&s->cpu_ns, urt_now_ns() - t0,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&s->ran[urt_cx_worker_id(cx)], 1,
				  memory_order_relaxed);
	finish_one(s);
	return 0;
}

struct spawner {
	struct urt_co co;
	struct skew *s;
	unsigned worker; /* where the spawner ran */
};

static int spawner_run(struct urt_co *co, struct urt_cx *cx)
{
	struct spawner *sp = (struct spawner *)co;
	struct skew *s = sp->s;

	sp->worker = urt_cx_worker_id(cx);
	for (uint64_t i = 0; i < s->n; i++) {
		struct job *j = urt_frame_new(sizeof(*j));
		int err = j ? 0 : -ENOMEM;

		if (j) {
			urt_co_init(&j->co, job_run);
			j->s = s;
			j->seed = i + 1;
			err = urt_task_spawn_frame(urt_cx_rt(cx), j, NULL);
			if (err)
				urt_frame_free(j);
		}
		if (err) {
			/* account for the ones never spawned */
			atomic_store(&s->err, err);
			for (; i < s->n; i++)
				finish_one(s);
			return err;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct skew s;
	struct spawner sp = { 0 };
	uint64_t us = bench_arg(argc, argv, 2, 10);
	struct urt_rt *rt;
	uint64_t t0, t1, ran = 0, ideal;
	unsigned nw;
	char extra[1024];
	int off, err;

	s.n = bench_arg(argc, argv, 1, 100000);
	s.iters = bench_calibrate(us);
	atomic_store(&s.left, s.n);
	if (!s.n || sem_init(&s.done, 0, 0))
		return 1;
	rt = bench_rt((unsigned)bench_arg(argc, argv, 3, 0), 0);
	nw = urt_rt_workers(rt);
	if (nw > MAX_WORKERS)
		return 1;
	sp.s = &s;
	urt_co_init(&sp.co, spawner_run);
	t0 = urt_now_ns();
	err = urt_block_on(rt, &sp.co.base);
	while (sem_wait(&s.done))
		;
	t1 = urt_now_ns();
	for (unsigned i = 0; i < nw; i++)
		ran += atomic_load(&s.ran[i]);
	if (err || atomic_load(&s.err) || ran != s.n) {
		fprintf(stderr, "skewed: %s, %llu of %llu ran\n",
			urt_strerror(err ? err : atomic_load(&s.err)),
			(unsigned long long)ran, (unsigned long long)s.n);
		return 1;
	}
	ideal = atomic_load(&s.cpu_ns) / nw;
	off = snprintf(extra, sizeof(extra),
		       "\"task_us\":%llu,\"elapsed_ns\":%llu,\"cpu_ns\":%llu,"
		       "\"ideal_ns\":%llu,\"efficiency\":%.3f,"
		       "\"spawner_worker\":%u,\"tasks_per_worker\":[",
		       (unsigned long long)us, (unsigned long long)(t1 - t0),
		       (unsigned long long)atomic_load(&s.cpu_ns),
		       (unsigned long long)ideal,
		       (double)ideal / (double)(t1 - t0), sp.worker);
	for (unsigned i = 0; i < nw; i++)
		off += snprintf(extra + off, sizeof(extra) - (size_t)off,
				"%s%llu", i ? "," : "",
				(unsigned long long)atomic_load(&s.ran[i]));
	snprintf(extra + off, sizeof(extra) - (size_t)off, "]");
	bench_worker_stats(rt, extra, sizeof(extra));
	bench_json("skewed", nw, s.n, t1 - t0, bench_rss_kib(), extra);
	err = urt_rt_free(rt, NULL);
	sem_destroy(&s.done);
	return err ? 1 : 0;
}
