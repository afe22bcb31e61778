/* SPDX-License-Identifier: MIT */
/* Tasks: spawn, join, detach, abort, misuse, many tasks. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "harness.h"
#include "internal.h"

static void test_task_header_fits_64_bytes(void **state)
{
	(void)state;
	assert_true(sizeof(struct urt_task) <= 64);
}

/* A future that returns a fixed value on its first poll. */
struct value_fut {
	struct urt_future base;
	int value;
	int polls;
};

static int value_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct value_fut *v = (struct value_fut *)f;
	(void)cx;
	v->polls++;
	return v->value;
}

static const struct urt_future_vt value_vt = { .poll = value_poll };

static void test_block_on_returns_future_result(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct value_fut v = { .base.vt = &value_vt, .value = 42 };

	(void)state;
	assert_int_equal(urt_block_on(rt, &v.base), 42);
	assert_int_equal(v.polls, 1);
	v.value = -ENOENT;
	assert_int_equal(urt_block_on(rt, &v.base), -ENOENT);
	h_rt_free_clean(rt);
}

/* Spawns children from a task and joins them all. */
struct parent {
	struct urt_co co;
	struct value_fut kids[8];
	struct urt_task_handle h[8];
	int i, sum;
};

H_CO(parent_run)
{
	struct parent *p = (struct parent *)co;
	int r;

	URT_BEGIN(co);
	for (p->i = 0; p->i < 8; p->i++) {
		p->kids[p->i].base.vt = &value_vt;
		p->kids[p->i].value = p->i + 1;
		r = urt_task_spawn(NULL, &p->kids[p->i].base, &p->h[p->i]);
		if (r != -EINVAL)
			URT_RETURN(co, -1000);
	}
	URT_END(co, 0);
}

static void test_spawn_with_null_runtime_returns_einval(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct parent p;
	struct urt_task_handle h;

	(void)state;
	urt_co_init(&p.co, parent_run);
	assert_int_equal(urt_block_on(rt, &p.co.base), 0);
	assert_int_equal(urt_task_spawn(rt, NULL, &h), -EINVAL);
	assert_null(h.task);
	assert_int_equal(urt_block_on(NULL, &p.co.base), -EINVAL);
	assert_int_equal(urt_task_detach(NULL), -EINVAL);
	assert_int_equal(urt_task_abort(&h), -EINVAL);
	h_rt_free_clean(rt);
}

/* Spawns from inside a task, awaits each handle. */
struct spawner {
	struct urt_co co;
	struct urt_rt *rt;
	struct value_fut kids[16];
	struct urt_task_handle h[16];
	int i, sum;
};

H_CO(spawner_run)
{
	struct spawner *s = (struct spawner *)co;
	int r;

	URT_BEGIN(co);
	for (s->i = 0; s->i < 16; s->i++) {
		s->kids[s->i].base.vt = &value_vt;
		s->kids[s->i].value = s->i + 1;
		r = urt_task_spawn(s->rt, &s->kids[s->i].base, &s->h[s->i]);
		if (r)
			URT_RETURN(co, r);
	}
	for (s->i = 0; s->i < 16; s->i++) {
		URT_AWAIT(co, cx, &s->h[s->i].base, r);
		s->sum += r;
	}
	/* joining a consumed handle is misuse */
	URT_AWAIT(co, cx, &s->h[0].base, r);
	if (r != -EINVAL)
		URT_RETURN(co, -1000);
	URT_END(co, s->sum);
}

static void test_spawn_from_task_and_join_each(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct spawner s = { .rt = rt };

	(void)state;
	urt_co_init(&s.co, spawner_run);
	assert_int_equal(urt_block_on(rt, &s.co.base), 16 * 17 / 2);
	h_rt_free_clean(rt);
}

static void test_join_twice_returns_einval(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct value_fut v = { .base.vt = &value_vt, .value = 7 };
	struct urt_task_handle h;

	(void)state;
	assert_int_equal(urt_task_spawn(rt, &v.base, &h), 0);
	assert_true(urt_task_id(&h) > 0);
	assert_int_equal(urt_task_join_blocking(&h), 7);
	assert_int_equal(urt_task_join_blocking(&h), -EINVAL);
	assert_int_equal(urt_task_detach(&h), -EINVAL);
	h_rt_free_clean(rt);
}

/* A future pending forever (no cancel hook: droppable). */
static int never_poll(struct urt_future *f, struct urt_cx *cx)
{
	(void)f;
	(void)cx;
	return URT_PENDING;
}
static const struct urt_future_vt never_vt = { .poll = never_poll };

static void test_abort_pending_task_joins_ecanceled(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_future never = { .vt = &never_vt };
	struct urt_task_handle h;

	(void)state;
	assert_int_equal(urt_task_spawn(rt, &never, &h), 0);
	assert_int_equal(urt_task_abort(&h), 0);
	assert_int_equal(urt_task_abort(&h), 0); /* idempotent */
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	h_rt_free_clean(rt);
}

static void test_shutdown_aborts_detached_pending_tasks(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_future never = { .vt = &never_vt };

	(void)state;
	/* enough that each registry shard aborts them in several batches
	 * (the small-queues build always batches) */
	for (int i = 0; i < 5000; i++)
		assert_int_equal(urt_task_spawn(rt, &never, NULL), 0);
	h_rt_free_clean(rt);
}

static void test_spawn_after_shutdown_started_is_refused(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct value_fut v = { .base.vt = &value_vt, .value = 1 };
	struct urt_task_handle h;

	(void)state;
	/* Mark shutdown the way urt_rt_free's step 1 does. */
	atomic_store(&rt->shutdown, 1);
	assert_int_equal(urt_task_spawn(rt, &v.base, &h), -ESHUTDOWN);
	assert_null(h.task);
	assert_int_equal(urt_block_on(rt, &v.base), -ESHUTDOWN);
	h_rt_free_clean(rt);
}

static void test_unjoined_handle_reported_as_leak(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct value_fut v = { .base.vt = &value_vt, .value = 3 };
	struct urt_task_handle h;
	struct urt_stats st;

	(void)state;
	assert_int_equal(urt_task_spawn(rt, &v.base, &h), 0);
	assert_int_equal(urt_rt_free(rt, &st), -EBUSY);
	assert_int_equal(st.handles_leaked, 1);
	assert_int_equal(st.tasks_live, 0);
}

/* One-allocation frames, 100,000 of them, spawned from a plain thread. */
struct counter_frame {
	struct urt_co co;
	_Atomic int *count;
};

H_CO(count_run)
{
	struct counter_frame *f = (struct counter_frame *)co;

	URT_BEGIN(co);
	URT_YIELD(co, cx);
	atomic_fetch_add(f->count, 1);
	URT_END(co, 0);
}

static void test_100k_spawned_frame_tasks_all_run(void **state)
{
	struct urt_rt *rt = h_rt(2);
	_Atomic int count = 0;
	struct urt_stats st;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		struct counter_frame *f = urt_frame_new(sizeof(*f));
		assert_non_null(f);
		urt_co_init(&f->co, count_run);
		f->count = &count;
		assert_int_equal(urt_task_spawn_frame(rt, f, NULL), 0);
	}
	/* Join them all through shutdown: they end by themselves, so the
	 * count must be complete and nothing aborted. */
	while (atomic_load(&count) < 100000) {
		urt_rt_stats(rt, &st);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(atomic_load(&count), 100000);
	urt_rt_stats(rt, &st);
	assert_int_equal(st.tasks_spawned, 100000);
	h_rt_free_clean(rt);
}

static void test_frame_rejects_plain_pointer(void **state)
{
	struct urt_rt *rt = h_rt(1);
	void *f = urt_frame_new(64); /* zeroed: no future built in it */

	(void)state;
	assert_int_equal(urt_task_spawn_frame(rt, f, NULL), -EINVAL);
	urt_frame_free(f);
	h_rt_free_clean(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_header_fits_64_bytes),
		cmocka_unit_test(test_block_on_returns_future_result),
		cmocka_unit_test(test_spawn_with_null_runtime_returns_einval),
		cmocka_unit_test(test_spawn_from_task_and_join_each),
		cmocka_unit_test(test_join_twice_returns_einval),
		cmocka_unit_test(test_abort_pending_task_joins_ecanceled),
		cmocka_unit_test(test_shutdown_aborts_detached_pending_tasks),
		cmocka_unit_test(test_spawn_after_shutdown_started_is_refused),
		cmocka_unit_test(test_unjoined_handle_reported_as_leak),
		cmocka_unit_test(test_100k_spawned_frame_tasks_all_run),
		cmocka_unit_test(test_frame_rejects_plain_pointer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
