// SPDX-License-Identifier: MIT
/*
 * The built-in demo workload (`ustrace` with no command runs it as its
 * traced child, `ustrace --demo-child SEC`): skewed work that makes
 * stealing and migrations happen on any machine with two CPUs or more.
 * Tracing is ustrace.c's; this file only runs a urt program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "demo.h"
#include "urt.h"

#define BURST 48	   /* CPU tasks one spawner puts on its own worker */
#define BURST_YIELDS 3	   /* polls per CPU task: stolen ones migrate */
#define SLEEPERS 4	   /* timer tasks per round */
#define HOG_EVERY 25	   /* rounds between two deliberate long polls */
#define HOG_NS 15000000ull /* longer than the 10 ms long-poll threshold */

static void spin_ns(uint64_t ns)
{
	uint64_t end = urt_now_ns() + ns;

	while (urt_now_ns() < end)
		;
}

/* A CPU task: burns 50..350 us per poll, yields BURST_YIELDS times. */
struct cpu_task {
	struct urt_co co;
	unsigned polls;
	uint64_t ns;
};

static int cpu_run(struct urt_co *co, struct urt_cx *cx)
{
	struct cpu_task *c = (struct cpu_task *)co;

	URT_BEGIN(co);
	for (c->polls = 0; c->polls < BURST_YIELDS; c->polls++) {
		spin_ns(c->ns);
		URT_YIELD(co, cx);
	}
	spin_ns(c->ns);
	URT_END(co, 0);
}

/* Spawns BURST CPU tasks onto its own worker's queue and joins them: the
 * siblings have to steal them. */
struct spawner {
	struct urt_co co;
	unsigned round, i, n;
	struct urt_task_handle h[BURST];
};

static int spawner_run(struct urt_co *co, struct urt_cx *cx)
{
	struct spawner *s = (struct spawner *)co;
	int res = 0;

	URT_BEGIN(co);
	for (s->n = 0; s->n < BURST; s->n++) {
		struct cpu_task *c = urt_frame_new(sizeof(*c));

		if (!c)
			break;
		urt_co_init(&c->co, cpu_run);
		c->ns = 50000 + 300000ull * ((s->n * 7 + s->round) % 11) / 10;
		if (urt_task_spawn_frame(urt_cx_rt(cx), c, &s->h[s->n])) {
			urt_frame_free(c);
			break;
		}
	}
	for (s->i = 0; s->i < s->n; s->i++)
		URT_AWAIT(co, cx, &s->h[s->i].base, res);
	URT_END(co, res);
}

/* A task that mostly waits on timers and does a few ops. */
struct sleeper {
	struct urt_co co;
	struct urt_op op;
	unsigned i, n;
	uint64_t ns;
};

static int sleeper_run(struct urt_co *co, struct urt_cx *cx)
{
	struct sleeper *s = (struct sleeper *)co;
	int res = 0;

	URT_BEGIN(co);
	for (s->i = 0; s->i < s->n; s->i++) {
		URT_AWAIT(co, cx, urt_op_sleep(&s->op, s->ns), res);
		URT_AWAIT(co, cx, urt_op_nop(&s->op), res);
		spin_ns(20000);
	}
	URT_END(co, res);
}

/* Blocks its worker for HOG_NS: what a long-poll warning looks like. */
static int hog_run(struct urt_co *co, struct urt_cx *cx)
{
	(void)co;
	(void)cx;
	spin_ns(HOG_NS);
	return 0;
}

struct root {
	struct urt_co co;
	uint64_t end_ns;
	unsigned round, i, nh;
	struct urt_task_handle h[SLEEPERS + 2];
	struct urt_op tick;
};

/* A frame for a new task (NULL: out of memory); the runtime frees it
 * once the task is done: a future stays the runtime's until then, joined
 * or not, so each round spawns fresh ones. */
static void *new_co(size_t size, urt_co_fn fn)
{
	struct urt_co *co = urt_frame_new(size);

	if (co)
		urt_co_init(co, fn);
	return co;
}

/* Spawns a frame from new_co(), its fields set; 1 if it was spawned. */
static int spawn_co(struct urt_rt *rt, void *co, struct urt_task_handle *h)
{
	if (!co)
		return 0;
	if (urt_task_spawn_frame(rt, co, h)) {
		urt_frame_free(co);
		return 0;
	}
	return 1;
}

static int root_run(struct urt_co *co, struct urt_cx *cx)
{
	struct root *r = (struct root *)co;
	struct urt_rt *rt = urt_cx_rt(cx);
	struct spawner *sp;
	struct sleeper *sl;
	int res = 0;

	(void)res; /* awaited results: each task reports its own errors */
	URT_BEGIN(co);
	for (r->round = 0; urt_now_ns() < r->end_ns; r->round++) {
		r->nh = 0;
		sp = new_co(sizeof(*sp), spawner_run);
		if (sp)
			sp->round = r->round;
		r->nh += spawn_co(rt, sp, &r->h[r->nh]);
		for (r->i = 0; r->i < SLEEPERS; r->i++) {
			sl = new_co(sizeof(*sl), sleeper_run);
			if (sl) {
				sl->n = 2;
				sl->ns = 2000000ull * (r->i + 1);
			}
			r->nh += spawn_co(rt, sl, &r->h[r->nh]);
		}
		if (r->round % HOG_EVERY == HOG_EVERY - 1)
			r->nh +=
			    spawn_co(rt, new_co(sizeof(struct urt_co), hog_run),
				     &r->h[r->nh]);
		for (r->i = 0; r->i < r->nh; r->i++)
			URT_AWAIT(co, cx, &r->h[r->i].base, res);
		/* a pause: the workers park, then wake for the next burst */
		URT_AWAIT(co, cx, urt_op_sleep(&r->tick, 2000000), res);
	}
	URT_END(co, 0);
}

int ust_demo_main(double seconds)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct root *r;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	urt_config_init(&cfg);
	cfg.workers = ncpu < 2 ? 2 : (unsigned)ncpu;
	err = urt_rt_new(&cfg, &rt);
	if (err) {
		fprintf(stderr, "demo: urt_rt_new: %s: %s\n", urt_strerror(err),
			urt_rt_last_error());
		return 1;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		urt_rt_free(rt, NULL);
		return 1;
	}
	urt_co_init(&r->co, root_run);
	r->end_ns = urt_now_ns() + (uint64_t)(seconds * 1e9);
	err = urt_block_on(rt, &r->co.base);
	if (err)
		fprintf(stderr, "demo: %s\n", urt_strerror(err));
	if (urt_rt_free(rt, NULL))
		err = err ? err : -EBUSY;
	free(r);
	return err ? 1 : 0;
}
