/* SPDX-License-Identifier: MIT */
/*
 * Timers: sleep / sleep_until lower bounds, the monotonic clock, intervals
 * (increasing ticks, missed ticks skipped, cancelled ticks kept), 100,000
 * concurrent sleeps, deadlines. Only lower bounds on time are asserted.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

#define US 1000ull
#define MS 1000000ull

static void nap_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

/* Sleeps ns (or until an absolute deadline); times it from inside. */
struct timed_sleep {
	struct urt_co co;
	struct urt_op op;
	uint64_t ns, until, t0, t1;
};

H_CO(timed_sleep_run)
{
	struct timed_sleep *s = (struct timed_sleep *)co;
	struct urt_future *f;
	int r = 0;

	URT_BEGIN(co);
	s->t0 = urt_now_ns();
	f = s->until ? urt_op_sleep_until(&s->op, s->until)
		     : urt_op_sleep(&s->op, s->ns);
	URT_AWAIT(co, cx, f, r);
	s->t1 = urt_now_ns();
	URT_END(co, r);
}

static void test_sleep_waits_at_least_requested_time(void **state)
{
	static const uint64_t ns[] = { 0, 1 * US, 100 * US, 1 * MS, 5 * MS,
				       20 * MS };
	struct urt_rt *rt = h_rt(2);

	(void)state;
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		struct timed_sleep s = { .ns = ns[i] };
		uint64_t t0 = urt_now_ns();

		urt_co_init(&s.co, timed_sleep_run);
		assert_int_equal(urt_block_on(rt, &s.co.base), 0);
		assert_true(s.t1 - s.t0 >= ns[i]);
		assert_true(urt_now_ns() - t0 >= ns[i]);
	}
	h_rt_free_clean(rt);
}

static void test_sleep_until_returns_no_earlier_than_deadline(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct timed_sleep s = { 0 };

	(void)state;
	for (int i = 1; i <= 3; i++) {
		s.until = urt_now_ns() + (uint64_t)i * 3 * MS;
		urt_co_init(&s.co, timed_sleep_run);
		assert_int_equal(urt_block_on(rt, &s.co.base), 0);
		assert_true(s.t1 >= s.until);
	}
	/* A deadline in the past is ready at once, not an error. */
	s.until = urt_now_ns() - 1000 * MS;
	urt_co_init(&s.co, timed_sleep_run);
	assert_int_equal(urt_block_on(rt, &s.co.base), 0);
	h_rt_free_clean(rt);
}

static void test_now_ns_is_monotonic(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct timed_sleep s = { .ns = 2 * MS };
	uint64_t prev = urt_now_ns(), before;

	(void)state;
	assert_true(prev > 0);
	for (int i = 0; i < 100000; i++) {
		uint64_t now = urt_now_ns();
		assert_true(now >= prev);
		prev = now;
	}
	/* Same clock as the timers: a 2 ms sleep moves it >= 2 ms. */
	before = urt_now_ns();
	urt_co_init(&s.co, timed_sleep_run);
	assert_int_equal(urt_block_on(rt, &s.co.base), 0);
	assert_true(s.t0 >= before);
	assert_true(urt_now_ns() - before >= 2 * MS);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Intervals
 * ------------------------------------------------------------------- */

struct ticker {
	struct urt_co co;
	struct urt_interval iv;
	struct urt_op op;
	uint64_t period, nap;
	int ticks[8];
	uint64_t at[8];
	int n, want, nap_after;
};

/* Awaits `want` ticks; after tick number nap_after it sleeps `nap`. */
H_CO(ticker_run)
{
	struct ticker *tk = (struct ticker *)co;
	int r = 0;

	URT_BEGIN(co);
	urt_interval_init(&tk->iv, tk->period);
	for (tk->n = 0; tk->n < tk->want; tk->n++) {
		URT_AWAIT(co, cx, urt_interval_tick(&tk->iv), r);
		if (r < 0)
			URT_RETURN(co, r);
		tk->ticks[tk->n] = r;
		tk->at[tk->n] = urt_now_ns();
		if (tk->n + 1 == tk->nap_after) {
			URT_AWAIT(co, cx, urt_op_sleep(&tk->op, tk->nap), r);
			if (r)
				URT_RETURN(co, r);
		}
	}
	URT_END(co, 0);
}

static void test_interval_ticks_arrive_with_increasing_numbers(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct ticker tk = { .period = 2 * MS, .want = 5 };

	(void)state;
	urt_co_init(&tk.co, ticker_run);
	assert_int_equal(urt_block_on(rt, &tk.co.base), 0);
	for (int i = 0; i < 5; i++) {
		int prev = i ? tk.ticks[i - 1] : 0;
		/* Increasing; a loaded machine may skip some, never repeat. */
		assert_true(tk.ticks[i] > prev);
		/* Tick k is never delivered before start + k * period. */
		assert_true(tk.at[i] >= tk.iv.start_ns +
					       (uint64_t)tk.ticks[i] * tk.period);
	}
	h_rt_free_clean(rt);
}

static void test_interval_skips_ticks_missed_while_task_slept(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct ticker tk = { .period = 2 * MS, .want = 3, .nap_after = 1,
			     .nap = 11 * MS };

	(void)state;
	urt_co_init(&tk.co, ticker_run);
	assert_int_equal(urt_block_on(rt, &tk.co.base), 0);
	assert_true(tk.ticks[0] >= 1);
	/*
	 * Tick 1 came at >= start + 2 ms, then 11 ms of sleep: now >= start
	 * + 13 ms, so the first deadline still ahead is tick 7 or later.
	 * The numbers jump instead of replaying 2..6.
	 */
	assert_true(tk.ticks[1] >= 7);
	assert_true(tk.ticks[1] >= tk.ticks[0] + 6);
	/* Not bursted: the jumped-to tick still waited for its deadline,
	 * and so did the next one. */
	assert_true(tk.at[1] >= tk.iv.start_ns +
				       (uint64_t)tk.ticks[1] * tk.period);
	assert_true(tk.ticks[2] > tk.ticks[1]);
	assert_true(tk.at[2] >= tk.iv.start_ns +
				       (uint64_t)tk.ticks[2] * tk.period);
	h_rt_free_clean(rt);
}

/* A tick that loses a select (before or after it was armed) ends
 * -ECANCELED without waiting its period, and is not consumed. */
struct tick_race {
	struct urt_co co;
	struct urt_interval iv;
	struct urt_op nop;
	struct urt_future *futs[2];
	int results[2];
	struct urt_select s;
	uint64_t deadline_before, deadline_after;
	int w1, w2, tick;
};

H_CO(tick_race_run)
{
	struct tick_race *tr = (struct tick_race *)co;
	int r = 0;

	URT_BEGIN(co);
	urt_interval_init(&tr->iv, 200 * MS);
	/* 1: the nop goes first and wins before the tick is ever polled. */
	tr->futs[0] = urt_op_nop(&tr->nop);
	tr->futs[1] = urt_interval_tick(&tr->iv);
	tr->deadline_before = tr->iv.next_ns;
	URT_AWAIT(co, cx, urt_select_init(&tr->s, tr->futs, tr->results, 2),
		  r);
	tr->w1 = r;
	if (r != 0 || tr->results[1] != -ECANCELED)
		URT_RETURN(co, -1001);
	/* 2: the tick is armed (polled first), then loses to the nop. */
	tr->futs[0] = urt_interval_tick(&tr->iv);
	tr->futs[1] = urt_op_nop(&tr->nop);
	URT_AWAIT(co, cx, urt_select_init(&tr->s, tr->futs, tr->results, 2),
		  r);
	tr->w2 = r;
	if (r != 1 || tr->results[0] != -ECANCELED)
		URT_RETURN(co, -1002);
	/* The deadline the cancelled ticks were waiting for is kept. */
	urt_interval_tick(&tr->iv);
	tr->deadline_after = tr->iv.next_ns;
	URT_AWAIT(co, cx, &tr->iv.base, r);
	tr->tick = r;
	URT_END(co, 0);
}

static void test_interval_tick_cancelled_in_select_is_not_consumed(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct tick_race tr = { 0 };

	(void)state;
	urt_co_init(&tr.co, tick_race_run);
	assert_int_equal(urt_block_on(rt, &tr.co.base), 0);
	assert_int_equal(tr.w1, 0);
	assert_int_equal(tr.w2, 1);
	assert_int_equal(tr.deadline_after, tr.deadline_before);
	assert_true(tr.tick >= 1);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * 100,000 concurrent sleeps
 * ------------------------------------------------------------------- */

#define MANY 100000

static void test_100k_concurrent_sleeps_in_one_join_all_return_zero(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op *ops = calloc(MANY, sizeof(*ops));
	struct urt_future **futs = calloc(MANY, sizeof(*futs));
	int *results = calloc(MANY, sizeof(*results));
	struct urt_join j;
	uint64_t t0;

	(void)state;
	assert_non_null(ops);
	assert_non_null(futs);
	assert_non_null(results);
	for (unsigned i = 0; i < MANY; i++)
		futs[i] = urt_op_sleep(&ops[i], (1 + i % 10) * MS);
	urt_join_init(&j, futs, results, MANY);
	t0 = urt_now_ns();
	assert_int_equal(urt_block_on(rt, &j.base), 0);
	assert_true(urt_now_ns() - t0 >= 10 * MS);
	for (unsigned i = 0; i < MANY; i++)
		if (results[i] != 0)
			fail_msg("sleep %u: %s", i, urt_strerror(results[i]));
	h_rt_free_clean(rt);
	free(results);
	free(futs);
	free(ops);
}

struct count_sleep_frame {
	struct urt_co co;
	struct urt_op op;
	_Atomic int *ok;
};

H_CO(count_sleep_run)
{
	struct count_sleep_frame *f = (struct count_sleep_frame *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_sleep(&f->op, 1 * MS), r);
	if (r == 0)
		atomic_fetch_add(f->ok, 1);
	URT_END(co, r);
}

static void test_100k_frame_tasks_each_sleeping_1ms_all_complete(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	_Atomic int ok = 0;
	struct urt_stats st;

	(void)state;
	for (int i = 0; i < MANY; i++) {
		struct count_sleep_frame *f = urt_frame_new(sizeof(*f));
		assert_non_null(f);
		urt_co_init(&f->co, count_sleep_run);
		f->ok = &ok;
		assert_int_equal(urt_task_spawn_frame(rt, f, NULL), 0);
	}
	/* They end by themselves; shutdown must find nothing to abort. */
	while (atomic_load(&ok) < MANY)
		nap_us(1000);
	urt_rt_stats(rt, &st);
	assert_int_equal(st.tasks_spawned, MANY);
	assert_true(st.ops_submitted >= MANY);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Deadlines
 * ------------------------------------------------------------------- */

static void test_sleep_with_deadline_set_still_returns_zero(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op op;
	uint64_t t0;

	(void)state;
	/* A deadline shorter than the sleep is ignored for timers: no
	 * -ETIME, no -ECANCELED, and the full sleep happens. */
	urt_op_sleep(&op, 3 * MS);
	urt_op_set_deadline(&op, 1 * MS);
	t0 = urt_now_ns();
	assert_int_equal(urt_block_on(rt, &op.base), 0);
	assert_true(urt_now_ns() - t0 >= 3 * MS);
	/* And a longer one does not hold the sleep back. */
	urt_op_sleep_until(&op, urt_now_ns() + 1 * MS);
	urt_op_set_deadline(&op, 10000 * MS);
	assert_int_equal(urt_block_on(rt, &op.base), 0);
	h_rt_free_clean(rt);
}

static void test_read_with_deadline_and_no_data_returns_etime(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op op;
	char buf[8];
	uint64_t t0;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	urt_op_read(&op, p[0], buf, sizeof(buf), 0);
	urt_op_set_deadline(&op, 2 * MS);
	t0 = urt_now_ns();
	assert_int_equal(urt_block_on(rt, &op.base), -ETIME);
	assert_true(urt_now_ns() - t0 >= 2 * MS);
	/* With data, the deadline does not get in the way. */
	assert_int_equal(write(p[1], "ok", 2), 2);
	urt_op_read(&op, p[0], buf, sizeof(buf), 0);
	urt_op_set_deadline(&op, 10000 * MS);
	assert_int_equal(urt_block_on(rt, &op.base), 2);
	close(p[0]);
	close(p[1]);
	h_rt_free_clean(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sleep_waits_at_least_requested_time),
		cmocka_unit_test(
			test_sleep_until_returns_no_earlier_than_deadline),
		cmocka_unit_test(test_now_ns_is_monotonic),
		cmocka_unit_test(
			test_interval_ticks_arrive_with_increasing_numbers),
		cmocka_unit_test(
			test_interval_skips_ticks_missed_while_task_slept),
		cmocka_unit_test(
			test_interval_tick_cancelled_in_select_is_not_consumed),
		cmocka_unit_test(
			test_100k_concurrent_sleeps_in_one_join_all_return_zero),
		cmocka_unit_test(
			test_100k_frame_tasks_each_sleeping_1ms_all_complete),
		cmocka_unit_test(
			test_sleep_with_deadline_set_still_returns_zero),
		cmocka_unit_test(
			test_read_with_deadline_and_no_data_returns_etime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
