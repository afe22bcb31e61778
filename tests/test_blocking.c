/* SPDX-License-Identifier: MIT */
/*
 * spawn_blocking: results and errors (from tasks and plain code), the pool
 * grows to its max and idles out, many jobs, abort of a task awaiting a job
 * (detach, arg_free), shutdown with a job in flight. Clean shutdown each.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"

#define MS 1000000ull

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int ret_arg(void *arg)
{
	return (int)(intptr_t)arg;
}

static int sleep_arg_ms(void *arg)
{
	nap_ms((long)(intptr_t)arg);
	return 7;
}

static void test_blocking_result_and_error_from_plain_code(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_blocking b;

	(void)state;
	assert_int_equal(urt_block_on(rt, urt_blocking_init(&b, ret_arg,
							     (void *)42, NULL)),
			 42);
	assert_int_equal(urt_block_on(rt, urt_blocking_init(&b, ret_arg,
							     (void *)-EIO,
							     NULL)),
			 -EIO);
	h_rt_free_clean(rt);
}

/* A task that awaits n jobs at once (a join) and sums their results. */
struct fan {
	struct urt_co co;
	struct urt_blocking b[64];
	struct urt_future *futs[64];
	int results[64];
	struct urt_join j;
	unsigned n;
	urt_blocking_fn fn;
	intptr_t arg;
	int r;
};

H_CO(fan_run)
{
	struct fan *f = (struct fan *)co;
	int sum = 0;

	URT_BEGIN(co);
	for (unsigned i = 0; i < f->n; i++)
		f->futs[i] = urt_blocking_init(
			&f->b[i], f->fn,
			(void *)(f->arg ? f->arg : (intptr_t)i), NULL);
	URT_AWAIT(co, cx, urt_join_init(&f->j, f->futs, f->results, f->n),
		  f->r);
	for (unsigned i = 0; i < f->n; i++) {
		if (f->results[i] < 0)
			URT_RETURN(co, f->results[i]);
		sum += f->results[i];
	}
	URT_END(co, sum);
}

static void test_blocking_pool_grows_to_max_and_runs_all(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_blocking_stats st;
	static struct fan f;

	(void)state;
	assert_int_equal(urt_blocking_config(rt, 4, 0), 0);
	f = (struct fan){ .n = 12, .fn = sleep_arg_ms, .arg = 30 };
	urt_co_init(&f.co, fan_run);
	assert_int_equal(urt_block_on(rt, &f.co.base), 12 * 7);
	urt_blocking_stats(rt, &st);
	assert_int_equal(st.peak_threads, 4); /* grew on demand, bounded */
	assert_true(st.started >= 4);
	assert_int_equal(st.jobs_done, 12);
	assert_int_equal(st.queued, 0);
	h_rt_free_clean(rt);
}

static void test_blocking_idle_threads_exit_after_keep_alive(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_blocking_stats st;
	static struct fan f;

	(void)state;
	assert_int_equal(urt_blocking_config(rt, 8, 20 * MS), 0);
	f = (struct fan){ .n = 4, .fn = sleep_arg_ms, .arg = 20 };
	urt_co_init(&f.co, fan_run);
	assert_int_equal(urt_block_on(rt, &f.co.base), 4 * 7);
	urt_blocking_stats(rt, &st);
	assert_true(st.threads >= 1);
	for (int i = 0; i < 500; i++) { /* up to 5 s on a loaded machine */
		urt_blocking_stats(rt, &st);
		if (!st.threads)
			break;
		nap_ms(10);
	}
	assert_int_equal(st.threads, 0);
	/* And it comes back on demand. */
	f = (struct fan){ .n = 2, .fn = ret_arg, .arg = 5 };
	urt_co_init(&f.co, fan_run);
	assert_int_equal(urt_block_on(rt, &f.co.base), 10);
	h_rt_free_clean(rt);
}

static void test_blocking_many_jobs_from_many_tasks(void **state)
{
	enum { T = 32, N = 64 };
	struct urt_rt *rt = h_rt(2);
	static struct fan f[T];
	struct urt_task_handle h[T];
	struct urt_blocking_stats st;

	(void)state;
	for (int i = 0; i < T; i++) {
		f[i] = (struct fan){ .n = N, .fn = ret_arg };
		urt_co_init(&f[i].co, fan_run);
		assert_int_equal(urt_task_spawn(rt, &f[i].co.base, &h[i]), 0);
	}
	for (int i = 0; i < T; i++)
		assert_int_equal(urt_task_join_blocking(&h[i]),
				 N * (N - 1) / 2);
	urt_blocking_stats(rt, &st);
	assert_int_equal(st.jobs_done, T * N);
	assert_true(st.peak_threads <= 64);
	h_rt_free_clean(rt);
}

/* --- cancellation ---------------------------------------------------- */

static atomic_int arg_freed, fn_ran, fn_started;

struct slow_arg {
	long ms;
	int out;
};

static int slow_fn(void *arg)
{
	struct slow_arg *a = arg;

	atomic_fetch_add(&fn_started, 1);
	nap_ms(a->ms);
	a->out = 1; /* writes into arg after its awaiter may be gone */
	atomic_fetch_add(&fn_ran, 1);
	return 3;
}

static void slow_free(void *arg)
{
	free(arg);
	atomic_fetch_add(&arg_freed, 1);
}

struct one_job {
	struct urt_co co;
	struct urt_blocking b;
	long ms;
	int r;
	atomic_int waiting;
};

H_CO(one_job_run)
{
	struct one_job *j = (struct one_job *)co;
	struct slow_arg *a;

	URT_BEGIN(co);
	a = calloc(1, sizeof(*a));
	a->ms = j->ms;
	atomic_store(&j->waiting, 1);
	URT_AWAIT(co, cx, urt_blocking_init(&j->b, slow_fn, a, slow_free),
		  j->r);
	URT_END(co, j->r);
}

static void test_blocking_abort_of_awaiting_task_detaches_job(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct one_job j = { .ms = 500 };
	struct urt_task_handle h;
	uint64_t t0;

	(void)state;
	atomic_store(&arg_freed, 0);
	atomic_store(&fn_ran, 0);
	atomic_store(&fn_started, 0);
	urt_co_init(&j.co, one_job_run);
	assert_int_equal(urt_task_spawn(rt, &j.co.base, &h), 0);
	/* the job is running (a job still queued would be dropped) */
	while (!atomic_load(&j.waiting) || !atomic_load(&fn_started))
		nap_ms(1);
	t0 = urt_now_ns();
	urt_task_abort(&h);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	/* The abort did not wait for the function (still sleeping)... */
	assert_int_equal(atomic_load(&fn_ran), 0);
	(void)t0;
	/* ...which ends on its thread; then arg_free runs, once. */
	for (int i = 0; i < 500 && !atomic_load(&arg_freed); i++)
		nap_ms(10);
	assert_int_equal(atomic_load(&fn_ran), 1);
	assert_int_equal(atomic_load(&arg_freed), 1);
	h_rt_free_clean(rt);
}

static void test_blocking_shutdown_with_job_in_flight_joins_pool(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct one_job j = { .ms = 50 };

	(void)state;
	atomic_store(&arg_freed, 0);
	atomic_store(&fn_ran, 0);
	atomic_store(&fn_started, 0);
	urt_co_init(&j.co, one_job_run);
	assert_int_equal(urt_task_spawn(rt, &j.co.base, NULL), 0);
	/* in flight: running on a pool thread, not queued (a queued job is
	 * dropped, its function never runs) */
	while (!atomic_load(&j.waiting) || !atomic_load(&fn_started))
		nap_ms(1);
	/* Step 2 aborts the task (the job detaches); the pool threads are
	 * joined after the workers, before the runtime is freed. */
	h_rt_free_clean(rt);
	assert_int_equal(atomic_load(&fn_ran), 1);
	assert_int_equal(atomic_load(&arg_freed), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_blocking_result_and_error_from_plain_code),
		cmocka_unit_test(test_blocking_pool_grows_to_max_and_runs_all),
		cmocka_unit_test(
			test_blocking_idle_threads_exit_after_keep_alive),
		cmocka_unit_test(test_blocking_many_jobs_from_many_tasks),
		cmocka_unit_test(
			test_blocking_abort_of_awaiting_task_detaches_job),
		cmocka_unit_test(
			test_blocking_shutdown_with_job_in_flight_joins_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
