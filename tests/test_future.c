/* SPDX-License-Identifier: MIT */
/*
 * Future composition: join, select, timeout, coroutine semantics (yield,
 * finished, cancelled, nested), several ops at once in one task, and abort
 * of tasks with ops in flight. Every test ends with a clean shutdown.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

#define MS 1000000ull
#define LONG_NS (10000 * MS) /* "never" within a test: 10 s */

/* ---------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------- */

static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
}

static void close_pipe(int p[2])
{
	close(p[0]);
	close(p[1]);
}

static void nap_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

/* Waits until the runtime prepared at least n op SQEs in total. */
static void wait_ops_submitted(struct urt_rt *rt, uint64_t n)
{
	struct urt_stats st;

	for (;;) {
		urt_rt_stats(rt, &st);
		if (st.ops_submitted >= n)
			return;
		nap_us(100);
	}
}

static uint32_t op_state(const struct urt_op *op)
{
	return __atomic_load_n(&op->state, __ATOMIC_ACQUIRE);
}

/* Ready on its first poll with a fixed value; no cancel hook. */
struct value_fut {
	struct urt_future base;
	int value;
};

static int value_poll(struct urt_future *f, struct urt_cx *cx)
{
	(void)cx;
	return ((struct value_fut *)f)->value;
}

static const struct urt_future_vt value_vt = { .poll = value_poll };

static struct urt_future *value_init(struct value_fut *v, int value)
{
	v->base.vt = &value_vt;
	v->value = value;
	return &v->base;
}

/* Pending forever, droppable (no cancel hook): only an abort ends it. */
static int never_poll(struct urt_future *f, struct urt_cx *cx)
{
	(void)f;
	(void)cx;
	return URT_PENDING;
}

static const struct urt_future_vt never_vt = { .poll = never_poll };

/* ---------------------------------------------------------------------
 * join
 * ------------------------------------------------------------------- */

static void test_join_collects_every_child_result(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op ops[4];
	struct urt_future *futs[5];
	struct value_fut v;
	int results[5];
	struct urt_join j;
	int p[2];

	(void)state;
	make_pipe(p);
	futs[0] = urt_op_nop(&ops[0]);
	futs[1] = urt_op_sleep(&ops[1], 1 * MS);
	futs[2] = urt_op_sleep_until(&ops[2], urt_now_ns() + 2 * MS);
	futs[3] = urt_op_write(&ops[3], p[1], "abc", 3, 0);
	futs[4] = value_init(&v, -ENOENT);
	urt_join_init(&j, futs, results, 5);
	assert_int_equal(urt_block_on(rt, &j.base), 0);
	assert_int_equal(results[0], 0);
	assert_int_equal(results[1], 0);
	assert_int_equal(results[2], 0);
	assert_int_equal(results[3], 3);
	assert_int_equal(results[4], -ENOENT); /* a child error is kept */
	for (int i = 0; i < 4; i++)
		assert_int_equal(op_state(&ops[i]), URT__OP_CONSUMED);
	close_pipe(p);
	h_rt_free_clean(rt);
}

static void test_join_of_zero_children_is_ready_at_once(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_join j;
	int dummy = 12345;

	(void)state;
	urt_join_init(&j, NULL, &dummy, 0);
	/* Ready on the first poll: no task, no waker needed. */
	assert_int_equal(urt_future_poll(&j.base, NULL), 0);
	assert_int_equal(dummy, 12345); /* results[] untouched */
	urt_join_init(&j, NULL, &dummy, 0);
	assert_int_equal(urt_block_on(rt, &j.base), 0);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * select
 * ------------------------------------------------------------------- */

static void test_select_first_ready_wins_losers_cancelled_and_drained(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op ops[2];
	struct urt_future *futs[2];
	int results[2];
	struct urt_select s;

	(void)state;
	futs[0] = urt_op_sleep(&ops[0], LONG_NS);
	futs[1] = urt_op_sleep(&ops[1], 1 * MS);
	urt_select_init(&s, futs, results, 2);
	assert_int_equal(urt_block_on(rt, &s.base), 1);
	assert_int_equal(results[1], 0);
	assert_int_equal(results[0], -ECANCELED);
	/* Drained inside the select: its CQE was reaped and consumed before
	 * the select was ready, not later by the shutdown. */
	assert_int_equal(op_state(&ops[0]), URT__OP_CONSUMED);
	assert_int_equal(ops[0].res, -ECANCELED);
	h_rt_free_clean(rt);
}

/* Never ready by itself; once cancelled it "completes anyway" with 42. */
struct late_fut {
	struct urt_future base;
	int cancelled;
};

static int late_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct late_fut *l = (struct late_fut *)f;

	(void)cx;
	return l->cancelled ? 42 : URT_PENDING;
}

static void late_cancel(struct urt_future *f, struct urt_cx *cx)
{
	(void)cx;
	((struct late_fut *)f)->cancelled++;
}

static const struct urt_future_vt late_vt = {
	.poll = late_poll,
	.cancel = late_cancel,
};

static void test_select_loser_that_completes_anyway_keeps_its_result(
	void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct late_fut late = { .base.vt = &late_vt };
	struct value_fut v;
	struct urt_future *futs[2];
	int results[2];
	struct urt_select s;

	(void)state;
	futs[0] = value_init(&v, 7);
	futs[1] = &late.base;
	urt_select_init(&s, futs, results, 2);
	assert_int_equal(urt_block_on(rt, &s.base), 0);
	assert_int_equal(results[0], 7);
	assert_int_equal(results[1], 42);
	assert_int_equal(late.cancelled, 1);
	h_rt_free_clean(rt);
}

/*
 * Two reads, both with data: whichever loses either got its byte before
 * the cancel landed (and results[] says so) or left it in the pipe. A byte
 * is never lost.
 */
static void test_select_loser_read_never_loses_data(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op ops[2];
	struct urt_future *futs[2];
	char buf[2][4];
	int results[2], p[2][2];
	struct urt_select s;
	int w;

	(void)state;
	for (int i = 0; i < 2; i++) {
		make_pipe(p[i]);
		assert_int_equal(write(p[i][1], "x", 1), 1);
		futs[i] = urt_op_read(&ops[i], p[i][0], buf[i], 4, 0);
	}
	urt_select_init(&s, futs, results, 2);
	w = urt_block_on(rt, &s.base);
	assert_true(w == 0 || w == 1);
	assert_int_equal(results[w], 1);
	if (results[!w] != 1) {
		char c;
		assert_int_equal(results[!w], -ECANCELED);
		assert_int_equal(read(p[!w][0], &c, 1), 1);
		assert_int_equal(c, 'x');
	}
	for (int i = 0; i < 2; i++)
		close_pipe(p[i]);
	h_rt_free_clean(rt);
}

static void test_select_of_zero_or_over_64_children_returns_einval(
	void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct value_fut v[65];
	struct urt_future *futs[65];
	int results[65];
	struct urt_select s;

	(void)state;
	for (int i = 0; i < 65; i++)
		futs[i] = value_init(&v[i], i);
	urt_select_init(&s, futs, results, 0);
	assert_int_equal(urt_block_on(rt, &s.base), -EINVAL);
	urt_select_init(&s, futs, results, 65);
	assert_int_equal(urt_block_on(rt, &s.base), -EINVAL);
	h_rt_free_clean(rt);
}

static void test_select_of_64_children_cancels_63_losers(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op *ops = calloc(64, sizeof(*ops));
	struct urt_future *futs[64];
	int results[64];
	struct urt_select s;

	(void)state;
	assert_non_null(ops);
	for (int i = 0; i < 63; i++)
		futs[i] = urt_op_sleep(&ops[i], LONG_NS);
	futs[63] = urt_op_nop(&ops[63]);
	urt_select_init(&s, futs, results, 64);
	assert_int_equal(urt_block_on(rt, &s.base), 63);
	assert_int_equal(results[63], 0);
	for (int i = 0; i < 63; i++) {
		assert_int_equal(results[i], -ECANCELED);
		assert_int_equal(op_state(&ops[i]), URT__OP_CONSUMED);
	}
	h_rt_free_clean(rt);
	free(ops);
}

/*
 * A loser co awaiting a join handle drops that await when cancelled (a
 * handle has no cancel hook) and is ready at once, with no wake-up to come
 * from anywhere: the select must notice without one.
 */
struct handle_waiter {
	struct urt_co co;
	struct urt_task_handle *h;
};

H_CO(handle_waiter_run)
{
	struct handle_waiter *hw = (struct handle_waiter *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, &hw->h->base, r);
	URT_END(co, r);
}

static void test_select_loser_dropping_a_join_await_does_not_hang(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_future never = { .vt = &never_vt };
	struct urt_task_handle hn, hs;
	struct handle_waiter hw = { .h = &hn };
	struct urt_op sleep_op;
	struct urt_future *futs[2];
	int results[2];
	struct urt_select s;

	(void)state;
	assert_int_equal(urt_task_spawn(rt, &never, &hn), 0);
	futs[0] = urt_co_init(&hw.co, handle_waiter_run);
	futs[1] = urt_op_sleep(&sleep_op, 1 * MS);
	urt_select_init(&s, futs, results, 2);
	/* Spawn + join, not block_on: the never-ending task may still hold
	 * a waker reference to the select's task until it is aborted. */
	assert_int_equal(urt_task_spawn(rt, &s.base, &hs), 0);
	assert_int_equal(urt_task_join_blocking(&hs), 1);
	assert_int_equal(results[0], -ECANCELED);
	assert_int_equal(results[1], 0);
	assert_non_null(hn.task); /* the handle was not consumed */
	assert_int_equal(urt_task_abort(&hn), 0);
	assert_int_equal(urt_task_join_blocking(&hn), -ECANCELED);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * timeout
 * ------------------------------------------------------------------- */

static void test_timeout_expired_returns_etime_and_drains_inner(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_timeout t;
	struct urt_op op;
	char buf[8];
	int p[2];

	(void)state;
	make_pipe(p);
	/* A read that never gets data. */
	urt_timeout_init(&t, urt_op_read(&op, p[0], buf, sizeof(buf), 0),
			 2 * MS);
	assert_int_equal(urt_block_on(rt, &t.base), -ETIME);
	assert_int_equal(op_state(&op), URT__OP_CONSUMED);
	assert_int_equal(op.res, -ECANCELED);
	/* And a long sleep as the inner future. */
	urt_timeout_init(&t, urt_op_sleep(&op, LONG_NS), 1 * MS);
	assert_int_equal(urt_block_on(rt, &t.base), -ETIME);
	assert_int_equal(op_state(&op), URT__OP_CONSUMED);
	close_pipe(p);
	h_rt_free_clean(rt);
}

static void test_timeout_inner_ready_first_returns_inner_result(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_timeout t;
	struct urt_op op;
	char buf[8];
	int p[2];

	(void)state;
	make_pipe(p);
	assert_int_equal(write(p[1], "abc", 3), 3);
	urt_timeout_init(&t, urt_op_read(&op, p[0], buf, sizeof(buf), 0),
			 LONG_NS);
	assert_int_equal(urt_block_on(rt, &t.base), 3);
	assert_memory_equal(buf, "abc", 3);
	/* The 10 s timer was cancelled and drained by the timeout itself. */
	assert_int_equal(op_state(&t.timer), URT__OP_CONSUMED);
	assert_int_equal(t.timer.res, -ECANCELED);
	/* An inner error is the timeout's result, not -ETIME. */
	urt_timeout_init(&t, urt_op_read(&op, -1, buf, sizeof(buf), 0),
			 LONG_NS);
	assert_int_equal(urt_block_on(rt, &t.base), -EBADF);
	close_pipe(p);
	h_rt_free_clean(rt);
}

/* A join cut short by a timeout must not look like finished work. */
static void test_timeout_around_join_returns_etime(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_timeout t;
	struct urt_op ops[2];
	struct urt_future *futs[2];
	int results[2];
	struct urt_join j;

	(void)state;
	futs[0] = urt_op_sleep(&ops[0], LONG_NS);
	futs[1] = urt_op_nop(&ops[1]);
	urt_join_init(&j, futs, results, 2);
	urt_timeout_init(&t, &j.base, 2 * MS);
	assert_int_equal(urt_block_on(rt, &t.base), -ETIME);
	assert_int_equal(results[0], -ECANCELED);
	assert_int_equal(results[1], 0);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Coroutines
 * ------------------------------------------------------------------- */

struct yielder {
	struct urt_co co;
	char name;
	char *log;
	int *len;
	int i;
};

H_CO(yielder_run)
{
	struct yielder *y = (struct yielder *)co;

	URT_BEGIN(co);
	for (y->i = 0; y->i < 3; y->i++) {
		y->log[(*y->len)++] = y->name;
		URT_YIELD(co, cx);
	}
	URT_END(co, 0);
}

struct two_yielders {
	struct urt_co co;
	struct urt_rt *rt;
	struct yielder y[2];
	struct urt_task_handle h[2];
	int r;
};

H_CO(two_yielders_run)
{
	struct two_yielders *ty = (struct two_yielders *)co;
	int r = 0;

	URT_BEGIN(co);
	/* Spawned from a task: both sit in this worker's local queue. */
	for (int i = 0; i < 2; i++) {
		r = urt_task_spawn(ty->rt, &ty->y[i].co.base, &ty->h[i]);
		if (r)
			URT_RETURN(co, r);
	}
	URT_AWAIT(co, cx, &ty->h[0].base, r);
	ty->r = r;
	URT_AWAIT(co, cx, &ty->h[1].base, r);
	ty->r |= r;
	URT_END(co, ty->r);
}

static void test_yield_lets_other_task_run_between_steps(void **state)
{
	struct urt_rt *rt = h_rt(1); /* one worker: order is the schedule */
	struct two_yielders ty = { .rt = rt };
	char log[8] = { 0 };
	int len = 0;

	(void)state;
	for (int i = 0; i < 2; i++) {
		urt_co_init(&ty.y[i].co, yielder_run);
		ty.y[i].name = (char)('A' + i);
		ty.y[i].log = log;
		ty.y[i].len = &len;
	}
	urt_co_init(&ty.co, two_yielders_run);
	assert_int_equal(urt_block_on(rt, &ty.co.base), 0);
	assert_int_equal(len, 6);
	assert_string_equal(log, "ABABAB");
	h_rt_free_clean(rt);
}

/* Spins in its poll until opened: holds its worker. */
struct gate {
	struct urt_future base;
	_Atomic int entered, open;
};

static int gate_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct gate *g = (struct gate *)f;

	(void)cx;
	atomic_store(&g->entered, 1);
	while (!atomic_load(&g->open))
		;
	return 0;
}

static const struct urt_future_vt gate_vt = { .poll = gate_poll };

/* F2: tasks spawned together from a plain thread (global queue) take
 * turns when they yield, too. */
static void test_yield_alternates_tasks_spawned_from_plain_thread(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct yielder y[2];
	struct urt_task_handle h[2];
	char log[8] = { 0 };
	int len = 0;

	(void)state;
	for (int i = 0; i < 2; i++) {
		urt_co_init(&y[i].co, yielder_run);
		y[i].name = (char)('A' + i);
		y[i].log = log;
		y[i].len = &len;
	}
	/* Hold the only worker in a poll while both are spawned, so both
	 * wait in the global queue when it comes back. */
	struct gate g = { .base.vt = &gate_vt };
	struct urt_task_handle hg;
	assert_int_equal(urt_task_spawn(rt, &g.base, &hg), 0);
	while (!atomic_load(&g.entered))
		;
	assert_int_equal(urt_task_spawn(rt, &y[0].co.base, &h[0]), 0);
	assert_int_equal(urt_task_spawn(rt, &y[1].co.base, &h[1]), 0);
	atomic_store(&g.open, 1);
	assert_int_equal(urt_task_join_blocking(&hg), 0);
	assert_int_equal(urt_task_join_blocking(&h[0]), 0);
	assert_int_equal(urt_task_join_blocking(&h[1]), 0);
	assert_int_equal(len, 6);
	assert_string_equal(log, "ABABAB"); /* AAABBB: a yielder hogging */
	h_rt_free_clean(rt);
}

/* A yields after its first step, by which time B waits in the global
 * queue: B must run before A's second step. */
struct late_pair {
	struct urt_co co;
	struct gate *g;
	struct yielder *a;
};

H_CO(late_a_run)
{
	struct late_pair *p = (struct late_pair *)co;

	URT_BEGIN(co);
	for (p->a->i = 0; p->a->i < 3; p->a->i++) {
		p->a->log[(*p->a->len)++] = 'A';
		if (p->a->i == 0) { /* hold the worker until B is queued */
			atomic_store(&p->g->entered, 1);
			while (!atomic_load(&p->g->open))
				;
		}
		URT_YIELD(co, cx);
	}
	URT_END(co, 0);
}

static void test_yield_hands_over_to_task_queued_meanwhile(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct gate g = { 0 };
	struct yielder a = { 0 }, b;
	struct late_pair p = { .g = &g, .a = &a };
	struct urt_task_handle ha, hb;
	char log[8] = { 0 };
	int len = 0;

	(void)state;
	a.log = b.log = log;
	a.len = b.len = &len;
	urt_co_init(&p.co, late_a_run);
	urt_co_init(&b.co, yielder_run);
	b.name = 'B';
	assert_int_equal(urt_task_spawn(rt, &p.co.base, &ha), 0);
	while (!atomic_load(&g.entered))
		;
	assert_int_equal(urt_task_spawn(rt, &b.co.base, &hb), 0);
	atomic_store(&g.open, 1);
	assert_int_equal(urt_task_join_blocking(&ha), 0);
	assert_int_equal(urt_task_join_blocking(&hb), 0);
	assert_string_equal(log, "ABABAB"); /* AAABBB: a yielder hogging */
	h_rt_free_clean(rt);
}

struct returns5 {
	struct urt_co co;
	int runs;
};

H_CO(returns5_run)
{
	struct returns5 *c = (struct returns5 *)co;

	URT_BEGIN(co);
	c->runs++;
	URT_END(co, 5);
}

static void test_polling_finished_coroutine_returns_einval(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct returns5 c = { 0 };

	(void)state;
	urt_co_init(&c.co, returns5_run);
	assert_int_equal(urt_block_on(rt, &c.co.base), 5);
	assert_int_equal(urt_block_on(rt, &c.co.base), -EINVAL);
	assert_int_equal(urt_future_poll(&c.co.base, NULL), -EINVAL);
	assert_int_equal(c.runs, 1); /* the body never ran again */
	h_rt_free_clean(rt);
}

/* Sleeps 10 s between two marks; the second mark must never be set. */
struct sleeper {
	struct urt_co co;
	struct urt_op op;
	uint64_t ns;
	int before, after;
};

H_CO(sleeper_run)
{
	struct sleeper *sl = (struct sleeper *)co;
	int r = 0;

	URT_BEGIN(co);
	sl->before = 1;
	URT_AWAIT(co, cx, urt_op_sleep(&sl->op, sl->ns), r);
	sl->after = 1;
	URT_END(co, r);
}

static void test_cancelled_coroutine_stops_at_await_after_child_drained(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct sleeper sl = { .ns = LONG_NS };
	struct urt_op quick;
	struct urt_future *futs[2];
	int results[2];
	struct urt_select s;

	(void)state;
	futs[0] = urt_co_init(&sl.co, sleeper_run);
	futs[1] = urt_op_sleep(&quick, 1 * MS);
	urt_select_init(&s, futs, results, 2);
	assert_int_equal(urt_block_on(rt, &s.base), 1);
	assert_int_equal(results[0], -ECANCELED);
	assert_int_equal(sl.before, 1);
	assert_int_equal(sl.after, 0); /* stopped at its suspension point */
	assert_null(sl.co.awaiting);
	assert_int_equal(sl.co.line, -1);
	/* Its child was cancelled and drained before the co returned. */
	assert_int_equal(op_state(&sl.op), URT__OP_CONSUMED);
	assert_int_equal(sl.op.res, -ECANCELED);
	/* A finished co stays finished. */
	assert_int_equal(urt_future_poll(&sl.co.base, NULL), -EINVAL);
	h_rt_free_clean(rt);
}

/* Yields forever; counts its steps. */
struct spinner {
	struct urt_co co;
	unsigned steps;
};

H_CO(spinner_run)
{
	struct spinner *sp = (struct spinner *)co;

	URT_BEGIN(co);
	for (;;) {
		sp->steps++;
		URT_YIELD(co, cx);
	}
	URT_END(co, 0);
}

static void test_cancelled_coroutine_stops_at_yield(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct spinner sp = { 0 };
	struct urt_op quick;
	struct urt_future *futs[2];
	int results[2];
	struct urt_select s;
	unsigned steps;

	(void)state;
	futs[0] = urt_co_init(&sp.co, spinner_run);
	futs[1] = urt_op_sleep(&quick, 1 * MS);
	urt_select_init(&s, futs, results, 2);
	assert_int_equal(urt_block_on(rt, &s.base), 1);
	assert_int_equal(results[0], -ECANCELED);
	assert_true(sp.steps >= 1);
	steps = sp.steps;
	assert_int_equal(urt_future_poll(&sp.co.base, NULL), -EINVAL);
	assert_int_equal(sp.steps, steps);
	h_rt_free_clean(rt);
}

/* outer awaits inner twice; inner sleeps and returns 21. */
struct inner_co {
	struct urt_co co;
	struct urt_op op;
	uint64_t ns;
};

H_CO(inner_run)
{
	struct inner_co *in = (struct inner_co *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_sleep(&in->op, in->ns), r);
	if (r)
		URT_RETURN(co, r);
	URT_END(co, 21);
}

struct outer_co {
	struct urt_co co;
	struct inner_co in;
	int sum, after;
};

H_CO(outer_run)
{
	struct outer_co *out = (struct outer_co *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_co_init(&out->in.co, inner_run), r);
	out->sum = r;
	/* A second, fresh run of the same inner struct. */
	URT_AWAIT(co, cx, urt_co_init(&out->in.co, inner_run), r);
	out->sum += r;
	out->after = 1;
	URT_END(co, out->sum);
}

static void test_nested_coroutine_result_reaches_outer(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct outer_co out = { .in.ns = 1 * MS };

	(void)state;
	urt_co_init(&out.co, outer_run);
	assert_int_equal(urt_block_on(rt, &out.co.base), 42);
	h_rt_free_clean(rt);
}

static void test_cancel_reaches_innermost_nested_coroutine(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct outer_co out = { .in.ns = LONG_NS };
	struct urt_op quick;
	struct urt_future *futs[2];
	int results[2];
	struct urt_select s;

	(void)state;
	futs[0] = urt_co_init(&out.co, outer_run);
	futs[1] = urt_op_sleep(&quick, 1 * MS);
	urt_select_init(&s, futs, results, 2);
	assert_int_equal(urt_block_on(rt, &s.base), 1);
	assert_int_equal(results[0], -ECANCELED);
	assert_int_equal(out.after, 0);
	assert_int_equal(out.in.co.line, -1); /* inner ended too */
	assert_int_equal(op_state(&out.in.op), URT__OP_CONSUMED);
	assert_int_equal(out.in.op.res, -ECANCELED);
	h_rt_free_clean(rt);
}

/*
 * cancel must be idempotent and must not turn a draining child into a
 * droppable one: a wrapper that cancels its join twice must still see the
 * join wait for the coroutine's op to be drained.
 */
struct twice {
	struct urt_future base;
	struct urt_future *inner;
};

static int twice_poll(struct urt_future *f, struct urt_cx *cx)
{
	return urt_future_poll(((struct twice *)f)->inner, cx);
}

static void twice_cancel(struct urt_future *f, struct urt_cx *cx)
{
	urt_future_cancel(((struct twice *)f)->inner, cx);
	urt_future_cancel(((struct twice *)f)->inner, cx);
}

static const struct urt_future_vt twice_vt = {
	.poll = twice_poll,
	.cancel = twice_cancel,
};

static void test_cancelling_twice_still_drains_coroutine_child(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct sleeper sl = { .ns = LONG_NS };
	struct urt_future *jfuts[1], *futs[2];
	int jresults[1], results[2];
	struct urt_join j;
	struct twice tw = { .base.vt = &twice_vt, .inner = &j.base };
	struct urt_op quick;
	struct urt_select s;

	(void)state;
	jfuts[0] = urt_co_init(&sl.co, sleeper_run);
	urt_join_init(&j, jfuts, jresults, 1);
	futs[0] = &tw.base;
	futs[1] = urt_op_sleep(&quick, 1 * MS);
	urt_select_init(&s, futs, results, 2);
	assert_int_equal(urt_block_on(rt, &s.base), 1);
	assert_int_equal(results[0], -ECANCELED);
	assert_int_equal(jresults[0], -ECANCELED);
	assert_int_equal(sl.co.line, -1);
	assert_int_equal(op_state(&sl.op), URT__OP_CONSUMED);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Several ops at once in one task
 * ------------------------------------------------------------------- */

struct multi {
	struct urt_co co;
	struct urt_op ops[3];
	struct urt_future *futs[3];
	int results[3];
	struct urt_join j;
	char buf[16];
	int fd;
	uint64_t t0, t1;
};

H_CO(multi_run)
{
	struct multi *m = (struct multi *)co;
	int r = 0;

	URT_BEGIN(co);
	m->futs[0] = urt_op_read(&m->ops[0], m->fd, m->buf, sizeof(m->buf), 0);
	m->futs[1] = urt_op_sleep(&m->ops[1], 5 * MS);
	m->futs[2] = urt_op_nop(&m->ops[2]);
	m->t0 = urt_now_ns();
	URT_AWAIT(co, cx, urt_join_init(&m->j, m->futs, m->results, 3), r);
	m->t1 = urt_now_ns();
	URT_END(co, r);
}

static void test_one_task_waits_on_read_sleep_and_nop_at_once(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct multi m = { 0 };
	struct urt_task_handle h;
	int p[2];

	(void)state;
	make_pipe(p);
	m.fd = p[0];
	urt_co_init(&m.co, multi_run);
	assert_int_equal(urt_task_spawn(rt, &m.co.base, &h), 0);
	/* All three are in flight together before the data exists. */
	wait_ops_submitted(rt, 3);
	assert_int_equal(write(p[1], "hello", 5), 5);
	assert_int_equal(urt_task_join_blocking(&h), 0);
	assert_int_equal(m.results[0], 5);
	assert_memory_equal(m.buf, "hello", 5);
	assert_int_equal(m.results[1], 0);
	assert_int_equal(m.results[2], 0);
	assert_true(m.t1 - m.t0 >= 5 * MS);
	close_pipe(p);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Abort with ops in flight (2 workers: the abort may run on a worker
 * that does not own the ops' ring, so the cancel travels by MSG_RING)
 * ------------------------------------------------------------------- */

struct blocked {
	struct urt_co co;
	struct urt_op ops[2];
	struct urt_future *futs[2];
	int results[2];
	struct urt_join j;
	char buf[8];
	int fd, after;
};

H_CO(blocked_run)
{
	struct blocked *b = (struct blocked *)co;
	int r = 0;

	URT_BEGIN(co);
	b->futs[0] = urt_op_sleep(&b->ops[0], LONG_NS);
	b->futs[1] = urt_op_read(&b->ops[1], b->fd, b->buf, sizeof(b->buf), 0);
	URT_AWAIT(co, cx, urt_join_init(&b->j, b->futs, b->results, 2), r);
	b->after = 1;
	URT_END(co, r);
}

static void test_abort_task_blocked_on_sleep_and_read_joins_ecanceled(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct blocked b = { 0 };
	struct urt_task_handle h;
	int p[2];

	(void)state;
	make_pipe(p);
	b.fd = p[0];
	urt_co_init(&b.co, blocked_run);
	assert_int_equal(urt_task_spawn(rt, &b.co.base, &h), 0);
	wait_ops_submitted(rt, 2);
	assert_int_equal(urt_task_abort(&h), 0);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	assert_int_equal(b.after, 0);
	assert_int_equal(b.results[0], -ECANCELED);
	assert_int_equal(b.results[1], -ECANCELED);
	close_pipe(p);
	h_rt_free_clean(rt);
}

/* The same with a bare join as the task's root future. */
static void test_abort_task_whose_root_is_a_join_joins_ecanceled(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op ops[2];
	struct urt_future *futs[2];
	int results[2];
	struct urt_join j;
	struct urt_task_handle h;
	char buf[8];
	int p[2];

	(void)state;
	make_pipe(p);
	futs[0] = urt_op_sleep(&ops[0], LONG_NS);
	futs[1] = urt_op_read(&ops[1], p[0], buf, sizeof(buf), 0);
	urt_join_init(&j, futs, results, 2);
	assert_int_equal(urt_task_spawn(rt, &j.base, &h), 0);
	wait_ops_submitted(rt, 2);
	assert_int_equal(urt_task_abort(&h), 0);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	assert_int_equal(results[0], -ECANCELED);
	assert_int_equal(results[1], -ECANCELED);
	assert_int_equal(op_state(&ops[0]), URT__OP_CONSUMED);
	assert_int_equal(op_state(&ops[1]), URT__OP_CONSUMED);
	close_pipe(p);
	h_rt_free_clean(rt);
}

static void test_abort_task_whose_root_is_select_of_coroutine(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct sleeper sl = { .ns = LONG_NS };
	struct urt_op rd;
	struct urt_future *futs[2];
	int results[2];
	struct urt_select s;
	struct urt_task_handle h;
	char buf[8];
	int p[2];

	(void)state;
	make_pipe(p);
	futs[0] = urt_co_init(&sl.co, sleeper_run);
	futs[1] = urt_op_read(&rd, p[0], buf, sizeof(buf), 0);
	urt_select_init(&s, futs, results, 2);
	assert_int_equal(urt_task_spawn(rt, &s.base, &h), 0);
	wait_ops_submitted(rt, 2);
	assert_int_equal(urt_task_abort(&h), 0);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	assert_int_equal(results[0], -ECANCELED);
	assert_int_equal(results[1], -ECANCELED);
	assert_int_equal(sl.after, 0);
	assert_int_equal(op_state(&sl.op), URT__OP_CONSUMED);
	assert_int_equal(op_state(&rd), URT__OP_CONSUMED);
	close_pipe(p);
	h_rt_free_clean(rt);
}

/* A frame task: sleeps ns and returns the sleep's result. */
struct sleep_frame {
	struct urt_co co;
	struct urt_op op;
	uint64_t ns;
};

H_CO(sleep_frame_run)
{
	struct sleep_frame *f = (struct sleep_frame *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_sleep(&f->op, f->ns), r);
	URT_END(co, r);
}

static void test_abort_racing_completion_gives_zero_or_ecanceled(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op ops[100]; /* raw-op roots, alive until urt_rt_free */
	int seen[2] = { 0, 0 };

	(void)state;
	for (int i = 0; i < 200; i++) {
		uint64_t ns = (uint64_t)(i % 51) * 1000; /* 0..50 us */
		struct urt_task_handle h;
		int r;

		if (i % 2) {
			struct sleep_frame *f = urt_frame_new(sizeof(*f));
			assert_non_null(f);
			urt_co_init(&f->co, sleep_frame_run);
			f->ns = ns;
			assert_int_equal(urt_task_spawn_frame(rt, f, &h), 0);
		} else {
			assert_int_equal(urt_task_spawn(rt,
				urt_op_sleep(&ops[i / 2], ns), &h), 0);
		}
		if (i % 4 == 3)
			nap_us(i % 30); /* let some start or finish first */
		assert_int_equal(urt_task_abort(&h), 0);
		r = urt_task_join_blocking(&h);
		if (r != 0 && r != -ECANCELED)
			fail_msg("iteration %d: result %d (%s)", i, r,
				 urt_strerror(r));
		seen[r == 0]++;
	}
	assert_int_equal(seen[0] + seen[1], 200);
	h_rt_free_clean(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_collects_every_child_result),
		cmocka_unit_test(test_join_of_zero_children_is_ready_at_once),
		cmocka_unit_test(
			test_select_first_ready_wins_losers_cancelled_and_drained),
		cmocka_unit_test(
			test_select_loser_that_completes_anyway_keeps_its_result),
		cmocka_unit_test(test_select_loser_read_never_loses_data),
		cmocka_unit_test(
			test_select_of_zero_or_over_64_children_returns_einval),
		cmocka_unit_test(test_select_of_64_children_cancels_63_losers),
		cmocka_unit_test(
			test_select_loser_dropping_a_join_await_does_not_hang),
		cmocka_unit_test(
			test_timeout_expired_returns_etime_and_drains_inner),
		cmocka_unit_test(
			test_timeout_inner_ready_first_returns_inner_result),
		cmocka_unit_test(test_timeout_around_join_returns_etime),
		cmocka_unit_test(test_yield_lets_other_task_run_between_steps),
		cmocka_unit_test(
			test_yield_alternates_tasks_spawned_from_plain_thread),
		cmocka_unit_test(
			test_yield_hands_over_to_task_queued_meanwhile),
		cmocka_unit_test(test_polling_finished_coroutine_returns_einval),
		cmocka_unit_test(
			test_cancelled_coroutine_stops_at_await_after_child_drained),
		cmocka_unit_test(test_cancelled_coroutine_stops_at_yield),
		cmocka_unit_test(test_nested_coroutine_result_reaches_outer),
		cmocka_unit_test(
			test_cancel_reaches_innermost_nested_coroutine),
		cmocka_unit_test(
			test_cancelling_twice_still_drains_coroutine_child),
		cmocka_unit_test(
			test_one_task_waits_on_read_sleep_and_nop_at_once),
		cmocka_unit_test(
			test_abort_task_blocked_on_sleep_and_read_joins_ecanceled),
		cmocka_unit_test(
			test_abort_task_whose_root_is_a_join_joins_ecanceled),
		cmocka_unit_test(
			test_abort_task_whose_root_is_select_of_coroutine),
		cmocka_unit_test(
			test_abort_racing_completion_gives_zero_or_ecanceled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
