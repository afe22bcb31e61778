/* SPDX-License-Identifier: MIT */
/*
 * Task synchronisation: mutex and semaphore under contention from many tasks
 * on 2 workers, FIFO hand-over, abort and select-cancel of waiters (the
 * primitive stays consistent, a hand-over to a cancelled waiter is passed
 * on), notify, wait group. Every test ends with a clean shutdown.
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

/* --- mutex ----------------------------------------------------------- */

struct shared {
	struct urt_mutex m;
	struct urt_sem s;
	long counter; /* guarded by m: plain, a lost update shows a race */
	atomic_int inside, max_inside;
	atomic_int order[64];
	atomic_int norder;
};

struct locker {
	struct urt_co co;
	struct urt_mutex_lock l;
	struct urt_sem_acquire a;
	struct shared *sh;
	int i, iters, id, r;
	long tmp;
	atomic_int waiting;
};

H_CO(locker_run)
{
	struct locker *k = (struct locker *)co;

	URT_BEGIN(co);
	for (k->i = 0; k->i < k->iters; k->i++) {
		URT_AWAIT(co, cx, urt_mutex_lock(&k->l, &k->sh->m), k->r);
		if (k->r)
			URT_RETURN(co, k->r);
		k->tmp = k->sh->counter;
		URT_YIELD(co, cx); /* hold the lock across a suspension */
		k->sh->counter = k->tmp + 1;
		urt_mutex_unlock(&k->sh->m);
	}
	URT_END(co, 0);
}

static void test_mutex_excludes_under_contention_from_many_tasks(void **state)
{
	enum { N = 32, ITERS = 200 };
	struct urt_rt *rt = h_rt(2);
	static struct locker k[N];
	struct urt_task_handle h[N];
	struct shared sh = { 0 };

	(void)state;
	urt_mutex_init(&sh.m);
	for (int i = 0; i < N; i++) {
		k[i] = (struct locker){ .sh = &sh, .iters = ITERS };
		urt_co_init(&k[i].co, locker_run);
		assert_int_equal(urt_task_spawn(rt, &k[i].co.base, &h[i]), 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(urt_task_join_blocking(&h[i]), 0);
	assert_int_equal(sh.counter, N * ITERS);
	assert_int_equal(urt_mutex_trylock(&sh.m), 0);
	assert_int_equal(urt_mutex_unlock(&sh.m), 0);
	assert_int_equal(urt_mutex_deinit(&sh.m), 0);
	h_rt_free_clean(rt);
}

struct fifo_waiter {
	struct urt_co co;
	struct urt_mutex_lock l;
	struct shared *sh;
	int id, r;
	atomic_int waiting;
};

H_CO(fifo_run)
{
	struct fifo_waiter *f = (struct fifo_waiter *)co;

	URT_BEGIN(co);
	atomic_store(&f->waiting, 1);
	URT_AWAIT(co, cx, urt_mutex_lock(&f->l, &f->sh->m), f->r);
	if (f->r)
		URT_RETURN(co, f->r);
	f->sh->order[atomic_fetch_add(&f->sh->norder, 1)] = f->id;
	urt_mutex_unlock(&f->sh->m);
	URT_END(co, 0);
}

static void test_mutex_hands_over_in_fifo_order(void **state)
{
	enum { N = 8 };
	struct urt_rt *rt = h_rt(2);
	struct fifo_waiter f[N];
	struct urt_task_handle h[N];
	struct shared sh = { 0 };

	(void)state;
	urt_mutex_init(&sh.m);
	assert_int_equal(urt_mutex_trylock(&sh.m), 0); /* main holds it */
	for (int i = 0; i < N; i++) {
		f[i] = (struct fifo_waiter){ .sh = &sh, .id = i };
		urt_co_init(&f[i].co, fifo_run);
		assert_int_equal(urt_task_spawn(rt, &f[i].co.base, &h[i]), 0);
		while (!atomic_load(&f[i].waiting))
			nap_ms(1);
		nap_ms(5); /* queued before the next one starts */
	}
	/* No barging: trylock fails while waiters queue. */
	assert_int_equal(urt_mutex_trylock(&sh.m), -EBUSY);
	assert_int_equal(urt_mutex_unlock(&sh.m), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(urt_task_join_blocking(&h[i]), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(sh.order[i], i);
	assert_int_equal(urt_mutex_unlock(&sh.m), -EPERM);
	h_rt_free_clean(rt);
}

static void test_mutex_abort_of_waiting_task_leaves_mutex_usable(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct fifo_waiter f = { 0 }, g = { 0 };
	struct urt_task_handle hf, hg;
	struct shared sh = { 0 };

	(void)state;
	urt_mutex_init(&sh.m);
	assert_int_equal(urt_mutex_trylock(&sh.m), 0);
	f.sh = g.sh = &sh;
	g.id = 1;
	urt_co_init(&f.co, fifo_run);
	urt_co_init(&g.co, fifo_run);
	assert_int_equal(urt_task_spawn(rt, &f.co.base, &hf), 0);
	while (!atomic_load(&f.waiting))
		nap_ms(1);
	nap_ms(5);
	assert_int_equal(urt_task_spawn(rt, &g.co.base, &hg), 0);
	while (!atomic_load(&g.waiting))
		nap_ms(1);
	nap_ms(5);
	urt_task_abort(&hf);
	assert_int_equal(urt_task_join_blocking(&hf), -ECANCELED);
	/* The aborted waiter left the queue: the lock goes to g. */
	assert_int_equal(urt_mutex_unlock(&sh.m), 0);
	assert_int_equal(urt_task_join_blocking(&hg), 0);
	assert_int_equal(atomic_load(&sh.norder), 1);
	assert_int_equal(sh.order[0], 1);
	assert_int_equal(urt_mutex_trylock(&sh.m), 0);
	assert_int_equal(urt_mutex_unlock(&sh.m), 0);
	h_rt_free_clean(rt);
}

/*
 * select(lock, notify): main unlocks and notifies back to back, so the lock
 * is sometimes handed to a waiter the select then cancels. Either the task
 * won the lock (and unlocks it) or the hand-over was passed on: after every
 * round the mutex must be free.
 */
struct sel_lock {
	struct urt_co co;
	struct urt_mutex_lock l;
	struct urt_notify_wait nw;
	struct urt_select sel;
	struct urt_future *futs[2];
	int results[2];
	struct urt_mutex *m;
	struct urt_notify *nt;
	int r;
	atomic_int waiting;
};

H_CO(sel_lock_run)
{
	struct sel_lock *s = (struct sel_lock *)co;

	URT_BEGIN(co);
	s->futs[0] = urt_mutex_lock(&s->l, s->m);
	s->futs[1] = urt_notify_wait(&s->nw, s->nt);
	atomic_store(&s->waiting, 1);
	URT_AWAIT(co, cx, urt_select_init(&s->sel, s->futs, s->results, 2),
		  s->r);
	if (s->results[0] == 0)
		urt_mutex_unlock(s->m); /* we got it (won, or also ready) */
	URT_END(co, s->r);
}

static void test_mutex_lock_handed_to_cancelled_waiter_is_passed_on(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_mutex m;
	struct urt_notify nt;

	(void)state;
	urt_mutex_init(&m);
	urt_notify_init(&nt);
	/* Task memory must outlive urt_rt_free (no drop hook): one each. */
	static struct sel_lock all[200];
	for (int round = 0; round < 200; round++) {
		struct sel_lock *sp = &all[round];
		struct urt_task_handle h;
		int r;

		*sp = (struct sel_lock){ .m = &m, .nt = &nt };
		assert_int_equal(urt_mutex_trylock(&m), 0);
		urt_co_init(&sp->co, sel_lock_run);
		assert_int_equal(urt_task_spawn(rt, &sp->co.base, &h), 0);
		while (!atomic_load(&sp->waiting))
			;
		if (round & 1) {
			urt_notify_one(&nt);
			urt_mutex_unlock(&m);
		} else {
			urt_mutex_unlock(&m);
			urt_notify_one(&nt);
		}
		r = urt_task_join_blocking(&h);
		assert_true(r == 0 || r == 1);
		assert_int_equal(urt_mutex_trylock(&m), 0);
		assert_int_equal(urt_mutex_unlock(&m), 0);
		/* A notify the select did not consume stays as a permit:
		 * take it so every round starts alike. */
		urt_notify_init(&nt);
	}
	assert_int_equal(urt_mutex_deinit(&m), 0);
	assert_int_equal(urt_notify_deinit(&nt), 0);
	h_rt_free_clean(rt);
}

/* --- semaphore ------------------------------------------------------- */

H_CO(sem_user_run)
{
	struct locker *k = (struct locker *)co;
	int in;

	URT_BEGIN(co);
	for (k->i = 0; k->i < k->iters; k->i++) {
		URT_AWAIT(co, cx, urt_sem_acquire(&k->a, &k->sh->s, 1), k->r);
		if (k->r)
			URT_RETURN(co, k->r);
		in = atomic_fetch_add(&k->sh->inside, 1) + 1;
		int mx = atomic_load(&k->sh->max_inside);
		while (in > mx &&
		       !atomic_compare_exchange_weak(&k->sh->max_inside, &mx,
						     in))
			;
		URT_YIELD(co, cx);
		atomic_fetch_sub(&k->sh->inside, 1);
		urt_sem_release(&k->sh->s, 1);
	}
	URT_END(co, 0);
}

static void test_sem_bounds_concurrency_under_contention(void **state)
{
	enum { N = 32, ITERS = 100 };
	struct urt_rt *rt = h_rt(2);
	static struct locker k[N];
	struct urt_task_handle h[N];
	struct shared sh = { 0 };

	(void)state;
	urt_sem_init(&sh.s, 3);
	for (int i = 0; i < N; i++) {
		k[i] = (struct locker){ .sh = &sh, .iters = ITERS };
		urt_co_init(&k[i].co, sem_user_run);
		assert_int_equal(urt_task_spawn(rt, &k[i].co.base, &h[i]), 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(urt_task_join_blocking(&h[i]), 0);
	assert_true(atomic_load(&sh.max_inside) <= 3);
	assert_true(atomic_load(&sh.max_inside) >= 1);
	assert_int_equal(urt_sem_available(&sh.s), 3);
	assert_int_equal(urt_sem_deinit(&sh.s), 0);
	h_rt_free_clean(rt);
}

struct acq {
	struct urt_co co;
	struct urt_sem_acquire a;
	struct urt_sem *s;
	uint64_t n;
	int r;
	atomic_int waiting, done;
};

H_CO(acq_run)
{
	struct acq *a = (struct acq *)co;

	URT_BEGIN(co);
	atomic_store(&a->waiting, 1);
	URT_AWAIT(co, cx, urt_sem_acquire(&a->a, a->s, a->n), a->r);
	atomic_store(&a->done, 1);
	URT_END(co, a->r);
}

static void spawn_acq(struct urt_rt *rt, struct acq *a, struct urt_sem *s,
		      uint64_t n, struct urt_task_handle *h)
{
	*a = (struct acq){ .s = s, .n = n };
	urt_co_init(&a->co, acq_run);
	assert_int_equal(urt_task_spawn(rt, &a->co.base, h), 0);
	while (!atomic_load(&a->waiting))
		nap_ms(1);
	nap_ms(5);
}

static void test_sem_big_request_is_not_starved_by_small_ones(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_task_handle ha, hb;
	struct acq a, b;
	struct urt_sem s;

	(void)state;
	urt_sem_init(&s, 0);
	spawn_acq(rt, &a, &s, 3, &ha); /* first in line, wants 3 */
	spawn_acq(rt, &b, &s, 1, &hb);
	urt_sem_release(&s, 1);
	nap_ms(10);
	/* b must not jump the queue with the permit a is collecting. */
	assert_int_equal(atomic_load(&b.done), 0);
	assert_int_equal(urt_sem_try_acquire(&s, 1), -EAGAIN);
	urt_sem_release(&s, 2);
	assert_int_equal(urt_task_join_blocking(&ha), 0);
	assert_int_equal(atomic_load(&b.done), 0);
	urt_sem_release(&s, 1);
	assert_int_equal(urt_task_join_blocking(&hb), 0);
	assert_int_equal(urt_sem_available(&s), 0);
	h_rt_free_clean(rt);
}

static void test_sem_abort_of_head_waiter_lets_smaller_waiter_through(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_task_handle ha, hb;
	struct acq a, b;
	struct urt_sem s;

	(void)state;
	urt_sem_init(&s, 2);
	spawn_acq(rt, &a, &s, 5, &ha); /* blocks everyone behind */
	spawn_acq(rt, &b, &s, 2, &hb);
	assert_int_equal(atomic_load(&b.done), 0);
	urt_task_abort(&ha);
	assert_int_equal(urt_task_join_blocking(&ha), -ECANCELED);
	assert_int_equal(urt_task_join_blocking(&hb), 0);
	assert_int_equal(urt_sem_available(&s), 0);
	urt_sem_release(&s, 2);
	assert_int_equal(urt_sem_try_acquire(&s, 2), 0);
	h_rt_free_clean(rt);
}

/* A permit handed to a waiter whose select cancels it meanwhile goes on
 * to the next waiter: b always completes, and no permit is lost. */
struct sel_acq {
	struct urt_co co;
	struct urt_sem_acquire a;
	struct urt_notify_wait nw;
	struct urt_select sel;
	struct urt_future *futs[2];
	int results[2];
	struct urt_sem *s;
	struct urt_notify *nt;
	int r;
	atomic_int waiting;
};

H_CO(sel_acq_run)
{
	struct sel_acq *t = (struct sel_acq *)co;

	URT_BEGIN(co);
	t->futs[0] = urt_sem_acquire(&t->a, t->s, 1);
	t->futs[1] = urt_notify_wait(&t->nw, t->nt);
	atomic_store(&t->waiting, 1);
	URT_AWAIT(co, cx, urt_select_init(&t->sel, t->futs, t->results, 2),
		  t->r);
	if (t->results[0] == 0)
		urt_sem_release(t->s, 1); /* got one: give it back */
	URT_END(co, t->r);
}

static void test_sem_permit_handed_to_cancelled_waiter_is_passed_on(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_notify nt;
	struct urt_sem s;

	(void)state;
	/* Task memory must outlive urt_rt_free (no drop hook): one each. */
	static struct sel_acq ts[100];
	static struct acq bs[100];
	for (int round = 0; round < 100; round++) {
		struct sel_acq *t = &ts[round];
		struct urt_task_handle ht, hb;

		urt_sem_init(&s, 0);
		urt_notify_init(&nt);
		*t = (struct sel_acq){ .s = &s, .nt = &nt };
		urt_co_init(&t->co, sel_acq_run);
		assert_int_equal(urt_task_spawn(rt, &t->co.base, &ht), 0);
		while (!atomic_load(&t->waiting))
			;
		nap_ms(1);
		spawn_acq(rt, &bs[round], &s, 1, &hb);
		if (round & 1) {
			urt_notify_one(&nt);
			urt_sem_release(&s, 1);
		} else {
			urt_sem_release(&s, 1);
			urt_notify_one(&nt);
		}
		assert_true(urt_task_join_blocking(&ht) >= 0);
		/* b gets the permit: passed on, or given back by t. */
		assert_int_equal(urt_task_join_blocking(&hb), 0);
		assert_int_equal(urt_sem_available(&s), 0);
		assert_int_equal(urt_sem_deinit(&s), 0);
		urt_notify_deinit(&nt);
	}
	h_rt_free_clean(rt);
}

/* --- notify ---------------------------------------------------------- */

struct nwait {
	struct urt_co co;
	struct urt_notify_wait w;
	struct urt_notify *nt;
	int r;
	atomic_int waiting;
};

H_CO(nwait_run)
{
	struct nwait *n = (struct nwait *)co;

	URT_BEGIN(co);
	atomic_store(&n->waiting, 1);
	URT_AWAIT(co, cx, urt_notify_wait(&n->w, n->nt), n->r);
	URT_END(co, n->r);
}

static void test_notify_one_before_wait_is_kept_and_all_wakes_every_waiter(
	void **state)
{
	enum { N = 8 };
	struct urt_rt *rt = h_rt(2);
	struct nwait n[N];
	struct urt_task_handle h[N];
	struct urt_notify nt;

	(void)state;
	urt_notify_init(&nt);
	urt_notify_one(&nt); /* nobody waits: stored */
	n[0] = (struct nwait){ .nt = &nt };
	urt_co_init(&n[0].co, nwait_run);
	assert_int_equal(urt_block_on(rt, &n[0].co.base), 0);
	for (int i = 0; i < N; i++) {
		n[i] = (struct nwait){ .nt = &nt };
		urt_co_init(&n[i].co, nwait_run);
		assert_int_equal(urt_task_spawn(rt, &n[i].co.base, &h[i]), 0);
		while (!atomic_load(&n[i].waiting))
			nap_ms(1);
	}
	nap_ms(10);
	urt_notify_all(&nt);
	for (int i = 0; i < N; i++)
		assert_int_equal(urt_task_join_blocking(&h[i]), 0);
	assert_int_equal(urt_notify_deinit(&nt), 0);
	h_rt_free_clean(rt);
}

/* --- wait group ------------------------------------------------------ */

struct wg_worker {
	struct urt_co co;
	struct urt_op sleep;
	struct urt_waitgroup *wg;
	int ms, r;
};

H_CO(wg_worker_run)
{
	struct wg_worker *w = (struct wg_worker *)co;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_sleep(&w->sleep, (uint64_t)w->ms * MS), w->r);
	urt_waitgroup_done(w->wg);
	URT_END(co, 0);
}

struct wg_waiter {
	struct urt_co co;
	struct urt_waitgroup_wait w;
	struct urt_waitgroup *wg;
	int r;
};

H_CO(wg_waiter_run)
{
	struct wg_waiter *w = (struct wg_waiter *)co;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_waitgroup_wait(&w->w, w->wg), w->r);
	URT_END(co, w->r);
}

static void test_waitgroup_wakes_task_and_thread_when_count_reaches_zero(
	void **state)
{
	enum { N = 8 };
	struct urt_rt *rt = h_rt(2);
	struct wg_worker k[N];
	struct wg_waiter w = { 0 };
	struct urt_task_handle hw;
	struct urt_waitgroup wg;

	(void)state;
	urt_waitgroup_init(&wg);
	urt_waitgroup_add(&wg, N);
	assert_int_equal(urt_waitgroup_wait_blocking(&wg, 5 * MS), -ETIME);
	w.wg = &wg;
	urt_co_init(&w.co, wg_waiter_run);
	assert_int_equal(urt_task_spawn(rt, &w.co.base, &hw), 0);
	for (int i = 0; i < N; i++) {
		k[i] = (struct wg_worker){ .wg = &wg, .ms = 1 + i };
		urt_co_init(&k[i].co, wg_worker_run);
		assert_int_equal(urt_task_spawn(rt, &k[i].co.base, NULL), 0);
	}
	assert_int_equal(urt_waitgroup_wait_blocking(&wg, URT_FOREVER), 0);
	assert_int_equal(urt_task_join_blocking(&hw), 0);
	assert_int_equal(urt_waitgroup_done(&wg), -EINVAL);
	h_rt_free_clean(rt); /* detached workers: all ended */
	assert_int_equal(urt_waitgroup_deinit(&wg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_mutex_excludes_under_contention_from_many_tasks),
		cmocka_unit_test(test_mutex_hands_over_in_fifo_order),
		cmocka_unit_test(
			test_mutex_abort_of_waiting_task_leaves_mutex_usable),
		cmocka_unit_test(
			test_mutex_lock_handed_to_cancelled_waiter_is_passed_on),
		cmocka_unit_test(test_sem_bounds_concurrency_under_contention),
		cmocka_unit_test(
			test_sem_big_request_is_not_starved_by_small_ones),
		cmocka_unit_test(
			test_sem_abort_of_head_waiter_lets_smaller_waiter_through),
		cmocka_unit_test(
			test_sem_permit_handed_to_cancelled_waiter_is_passed_on),
		cmocka_unit_test(
			test_notify_one_before_wait_is_kept_and_all_wakes_every_waiter),
		cmocka_unit_test(
			test_waitgroup_wakes_task_and_thread_when_count_reaches_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
