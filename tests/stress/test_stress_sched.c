/* SPDX-License-Identifier: MIT */
/*
 * Scheduler stress: tokens passed around rings of tasks across 2-4 workers,
 * join chains, spawning from several plain threads at once, aborts racing
 * with wakes and steals, and workers parking and unparking constantly.
 * Each case is bounded (seconds, even under TSan) and checks that every
 * count adds up and the runtime shuts down clean. Every case puts far more
 * than 4 tasks on each worker, so a -Dsmall_queues=true build runs the
 * overflow and steal paths.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "internal.h"
#include "mailbox.h"

#define MS 1000000ull
#define US 1000ull
#define WAIT_NS (60000 * MS) /* generous: TSan on a loaded 2-CPU box */

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static uint64_t wsum_polls(struct urt_rt *rt, uint64_t *parks,
			   uint64_t *unparks)
{
	uint64_t polls = 0;

	*parks = *unparks = 0;
	for (unsigned i = 0; i < urt_rt_workers(rt); i++) {
		struct urt_worker_stats ws;

		assert_int_equal(urt_rt_worker_stats(rt, i, &ws), 0);
		polls += ws.polls;
		*parks += ws.parks;
		*unparks += ws.unparks;
	}
	return polls;
}

/* Ready at once with its value; no cancel hook. */
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

/* ---------------------------------------------------------------------
 * Token rings through mailboxes with wakers (LIFO slot, cross-worker
 * wakes, migration through yields)
 * ------------------------------------------------------------------- */

#define RINGS 4
#define RING_LEN 8
#define LAPS 1000

struct ring_task {
	struct urt_co co;
	struct h_mbox_recv rx;
	struct h_mbox *in, *out;
	int idx, laps, v;
};

H_CO(ring_run)
{
	struct ring_task *t = (struct ring_task *)co;

	URT_BEGIN(co);
	if (t->idx == 0)
		h_mbox_send(t->out, 1);
	for (;;) {
		URT_AWAIT(co, cx, h_mbox_recv(&t->rx, t->in), t->v);
		t->laps++;
		if (t->idx == 0 && t->laps == LAPS)
			URT_RETURN(co, t->v);
		/* Now and then go to the back of the queue: a steal can
		 * move the token holder to another worker. */
		if ((t->v + t->idx) % 5 == 0)
			URT_YIELD(co, cx);
		h_mbox_send(t->out, t->v + 1);
		if (t->laps == LAPS)
			URT_RETURN(co, t->laps);
	}
	URT_END(co, -EINVAL);
}

static void test_stress_token_rings_every_hop_arrives(void **state)
{
	struct urt_rt *rt = h_rt(4);
	struct h_mbox *box = calloc(RINGS * RING_LEN, sizeof(*box));
	struct ring_task *t = calloc(RINGS * RING_LEN, sizeof(*t));
	struct urt_task_handle *h = calloc(RINGS * RING_LEN, sizeof(*h));

	(void)state;
	assert_non_null(box);
	assert_non_null(t);
	assert_non_null(h);
	for (int r = 0; r < RINGS; r++) {
		for (int i = 0; i < RING_LEN; i++) {
			int k = r * RING_LEN + i;
			h_mbox_init(&box[k]);
			t[k].in = &box[k];
			t[k].out = &box[r * RING_LEN + (i + 1) % RING_LEN];
			t[k].idx = i;
			urt_co_init(&t[k].co, ring_run);
		}
		/* Receivers first; the starter (idx 0) last. */
		for (int i = RING_LEN - 1; i >= 0; i--) {
			int k = r * RING_LEN + i;
			assert_int_equal(
				urt_task_spawn(rt, &t[k].co.base, &h[k]), 0);
		}
	}
	for (int r = 0; r < RINGS; r++)
		for (int i = 0; i < RING_LEN; i++) {
			int res = urt_task_join_blocking(&h[r * RING_LEN + i]);
			assert_int_equal(res, i ? LAPS : RING_LEN * LAPS);
		}
	h_rt_free_clean(rt);
	free(h);
	free(t);
	free(box);
}

/* ---------------------------------------------------------------------
 * Token rings through flag boxes: receivers yield and poll again
 * ------------------------------------------------------------------- */

#define FRINGS 2
#define FRING_LEN 6
#define FLAPS 150

struct fring_task {
	struct urt_co co;
	struct h_flagbox_recv rx;
	struct h_flagbox *in, *out;
	int idx, laps, v;
};

H_CO(fring_run)
{
	struct fring_task *t = (struct fring_task *)co;

	URT_BEGIN(co);
	if (t->idx == 0)
		h_flagbox_send(t->out, 1);
	for (;;) {
		URT_AWAIT(co, cx, h_flagbox_recv(&t->rx, t->in), t->v);
		t->laps++;
		if (t->idx == 0 && t->laps == FLAPS)
			URT_RETURN(co, t->v);
		h_flagbox_send(t->out, t->v + 1);
		if (t->laps == FLAPS)
			URT_RETURN(co, t->laps);
	}
	URT_END(co, -EINVAL);
}

static void test_stress_yield_polling_rings_every_hop_arrives(void **state)
{
	const int n = FRINGS * FRING_LEN;
	struct urt_rt *rt = h_rt(3);
	struct h_flagbox *box = calloc(n, sizeof(*box));
	struct fring_task *t = calloc(n, sizeof(*t));
	struct urt_task_handle *h = calloc(n, sizeof(*h));

	(void)state;
	assert_non_null(box);
	assert_non_null(t);
	assert_non_null(h);
	for (int k = 0; k < n; k++) {
		int r = k / FRING_LEN, i = k % FRING_LEN;
		t[k].in = &box[k];
		t[k].out = &box[r * FRING_LEN + (i + 1) % FRING_LEN];
		t[k].idx = i;
		urt_co_init(&t[k].co, fring_run);
		assert_int_equal(urt_task_spawn(rt, &t[k].co.base, &h[k]), 0);
	}
	for (int k = 0; k < n; k++) {
		int i = k % FRING_LEN;
		assert_int_equal(urt_task_join_blocking(&h[k]),
				 i ? FLAPS : FRING_LEN * FLAPS);
	}
	h_rt_free_clean(rt);
	free(h);
	free(t);
	free(box);
}

/* ---------------------------------------------------------------------
 * Join chains: each task spawns the next and awaits its handle
 * ------------------------------------------------------------------- */

#define CHAINS 32
#define DEPTH 64

struct link {
	struct urt_co co;
	struct urt_task_handle h;
	struct link *next; /* NULL: the last link */
	int r;
};

H_CO(link_run)
{
	struct link *l = (struct link *)co;

	URT_BEGIN(co);
	if (!l->next)
		URT_RETURN(co, 1);
	l->r = urt_task_spawn(urt_cx_rt(cx), &l->next->co.base, &l->h);
	if (l->r)
		URT_RETURN(co, l->r);
	URT_YIELD(co, cx);
	URT_AWAIT(co, cx, &l->h.base, l->r);
	URT_END(co, l->r < 0 ? l->r : l->r + 1);
}

static void test_stress_join_chains_sum_depth(void **state)
{
	struct urt_rt *rt = h_rt(3);
	struct link *l = calloc(CHAINS * DEPTH, sizeof(*l));
	struct urt_task_handle h[CHAINS];

	(void)state;
	assert_non_null(l);
	for (int c = 0; c < CHAINS; c++) {
		for (int d = 0; d < DEPTH; d++) {
			struct link *x = &l[c * DEPTH + d];
			urt_co_init(&x->co, link_run);
			x->next = d + 1 < DEPTH ? x + 1 : NULL;
		}
		assert_int_equal(urt_task_spawn(rt, &l[c * DEPTH].co.base,
						&h[c]),
				 0);
	}
	for (int c = 0; c < CHAINS; c++)
		assert_int_equal(urt_task_join_blocking(&h[c]), DEPTH);
	h_rt_free_clean(rt);
	free(l);
}

/* ---------------------------------------------------------------------
 * Spawning from several plain threads at once
 * ------------------------------------------------------------------- */

#define SPAWNERS 4
#define PER_SPAWNER 3000

struct small_job {
	struct urt_co co;
	struct urt_op op;
	int value, i, r;
};

/* A few yields, sometimes a nop op; returns its value. */
H_CO(small_job_run)
{
	struct small_job *j = (struct small_job *)co;

	URT_BEGIN(co);
	for (j->i = 0; j->i < j->value % 4; j->i++)
		URT_YIELD(co, cx);
	if (j->value % 3 == 0) {
		URT_AWAIT(co, cx, urt_op_nop(&j->op), j->r);
		if (j->r)
			URT_RETURN(co, -EIO);
	}
	URT_END(co, j->value);
}

struct spawner_arg {
	struct urt_rt *rt;
	int base;
	int bad; /* results that were not the job's value */
	struct small_job jobs[PER_SPAWNER];
	struct urt_task_handle h[PER_SPAWNER];
};

static void *spawner_main(void *arg)
{
	struct spawner_arg *sa = arg;

	for (int i = 0; i < PER_SPAWNER; i++) {
		struct small_job *j = &sa->jobs[i];
		j->value = sa->base + i;
		urt_co_init(&j->co, small_job_run);
		if (urt_task_spawn(sa->rt, &j->co.base, &sa->h[i])) {
			sa->bad++;
			sa->h[i].task = NULL;
		}
		if (i % 64 == 63)
			nap_us(50); /* let workers drain and park */
	}
	for (int i = 0; i < PER_SPAWNER; i++)
		if (sa->h[i].task &&
		    urt_task_join_blocking(&sa->h[i]) != sa->base + i)
			sa->bad++;
	return NULL;
}

static void test_stress_foreign_threads_spawn_concurrently(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct spawner_arg *sa = calloc(SPAWNERS, sizeof(*sa));
	pthread_t th[SPAWNERS];
	struct urt_stats st;

	(void)state;
	assert_non_null(sa);
	for (int k = 0; k < SPAWNERS; k++) {
		sa[k].rt = rt;
		sa[k].base = k * PER_SPAWNER;
		assert_int_equal(
			pthread_create(&th[k], NULL, spawner_main, &sa[k]), 0);
	}
	for (int k = 0; k < SPAWNERS; k++) {
		assert_int_equal(pthread_join(th[k], NULL), 0);
		assert_int_equal(sa[k].bad, 0);
	}
	/* Every task was joined: each is counted as completed already. */
	urt_rt_stats(rt, &st);
	assert_int_equal(st.tasks_spawned, SPAWNERS * PER_SPAWNER);
	assert_int_equal(st.tasks_completed, SPAWNERS * PER_SPAWNER);
	h_rt_free_clean(rt);
	free(sa);
}

/* ---------------------------------------------------------------------
 * Aborts racing with wakes, completions and steals
 * ------------------------------------------------------------------- */

#define ABORT_TASKS 20000

struct victim {
	struct urt_co co;
	struct urt_op op;
	struct value_fut kid;
	struct urt_task_handle kh;
	int id, k, step, r;
};

/* The child's handle must not outlive an aborted parent un-detached. */
static void victim_drop(struct urt_co *co)
{
	struct victim *v = (struct victim *)co;

	if (v->kh.task)
		(void)urt_task_detach(&v->kh);
}

/*
 * Four steps, each a yield, a short sleep, a nop or a joined child (an if
 * chain: the coroutine's case labels must not sit in a nested switch).
 */
H_CO(victim_run)
{
	struct victim *v = (struct victim *)co;

	URT_BEGIN(co);
	for (v->k = 0; v->k < 4; v->k++) {
		v->step = (v->id + v->k) % 4;
		if (v->step == 0) {
			URT_YIELD(co, cx);
		} else if (v->step == 1) {
			URT_AWAIT(co, cx,
				  urt_op_sleep(&v->op,
					       (uint64_t)(v->id % 5 + 1) * US),
				  v->r);
			if (v->r)
				URT_RETURN(co, -EIO);
		} else if (v->step == 2) {
			URT_AWAIT(co, cx, urt_op_nop(&v->op), v->r);
			if (v->r)
				URT_RETURN(co, -EIO);
		} else {
			v->kid.base.vt = &value_vt;
			v->kid.value = v->k;
			v->r = urt_task_spawn(urt_cx_rt(cx), &v->kid.base,
					      &v->kh);
			if (v->r)
				URT_RETURN(co, v->r);
			URT_AWAIT(co, cx, &v->kh.base, v->r);
			if (v->r != v->k)
				URT_RETURN(co, -EIO);
		}
	}
	URT_END(co, v->id);
}

struct aborter_arg {
	struct urt_task_handle *h;
	_Atomic int *aborted;
	_Atomic int spawned; /* release: h[0 .. spawned) are valid */
	int naborts;
};

static void *aborter_main(void *arg)
{
	struct aborter_arg *aa = arg;
	unsigned seed = 12345;
	int done = 0;

	while (done < aa->naborts) {
		int n = atomic_load(&aa->spawned);
		int i;

		if (!n) {
			nap_us(10);
			continue;
		}
		i = (int)(rand_r(&seed) % (unsigned)n);
		if (atomic_exchange(&aa->aborted[i], 1))
			continue;
		if (urt_task_abort(&aa->h[i]))
			atomic_store(&aa->aborted[i], 2); /* "failed" */
		if (++done % 32 == 0)
			nap_us(rand_r(&seed) % 50);
	}
	return NULL;
}

static void test_stress_aborts_race_wakes_and_steals(void **state)
{
	struct urt_rt *rt = h_rt(3);
	struct victim *v = calloc(ABORT_TASKS, sizeof(*v));
	struct urt_task_handle *h = calloc(ABORT_TASKS, sizeof(*h));
	_Atomic int *aborted = calloc(ABORT_TASKS, sizeof(*aborted));
	struct aborter_arg aa = { .h = h, .aborted = aborted,
				  .naborts = ABORT_TASKS / 2 };
	int ok = 0, cancelled = 0;
	pthread_t th;

	(void)state;
	assert_non_null(v);
	assert_non_null(h);
	assert_non_null(aborted);
	assert_int_equal(pthread_create(&th, NULL, aborter_main, &aa), 0);
	for (int i = 0; i < ABORT_TASKS; i++) {
		v[i].id = i;
		urt_co_init(&v[i].co, victim_run);
		v[i].co.drop = victim_drop;
		assert_int_equal(urt_task_spawn(rt, &v[i].co.base, &h[i]), 0);
		atomic_store(&aa.spawned, i + 1);
		if (i % 128 == 127)
			nap_us(100);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	for (int i = 0; i < ABORT_TASKS; i++) {
		int r = urt_task_join_blocking(&h[i]);
		int a = atomic_load(&aborted[i]);

		assert_int_not_equal(a, 2); /* abort of a live handle works */
		if (r == i) {
			ok++;
		} else {
			/* Only an aborted task may end early. */
			if (r != -ECANCELED)
				print_error("task %d: result %d (%s), aborted "
					    "%d, step %d, line %d, cancelled "
					    "%d, child handle %p\n",
					    i, r, urt_strerror(r), a, v[i].k,
					    v[i].co.line, v[i].co.cancelled,
					    (void *)v[i].kh.task);
			assert_int_equal(r, -ECANCELED);
			assert_int_equal(a, 1);
			cancelled++;
		}
	}
	assert_int_equal(ok + cancelled, ABORT_TASKS);
	assert_true(cancelled <= ABORT_TASKS / 2);
	h_rt_free_clean(rt);
	free(aborted);
	free(h);
	free(v);
}

/* ---------------------------------------------------------------------
 * Park / unpark churn: microsecond sleeps, bursts from plain threads
 * ------------------------------------------------------------------- */

#define BURSTERS 2
#define BURSTS 150
#define BURST 16

struct napper {
	struct urt_co co;
	struct urt_op op;
	_Atomic int *done;
	int i, r;
	unsigned us;
};

H_CO(napper_run)
{
	struct napper *n = (struct napper *)co;

	URT_BEGIN(co);
	for (n->i = 0; n->i < 3; n->i++) {
		URT_AWAIT(co, cx, urt_op_sleep(&n->op, n->us * US), n->r);
		if (n->r)
			URT_RETURN(co, n->r);
	}
	atomic_fetch_add(n->done, 1);
	URT_END(co, 0);
}

struct burster_arg {
	struct urt_rt *rt;
	_Atomic int *done;
	struct napper n[BURSTS * BURST];
	int failed;
};

static void *burster_main(void *arg)
{
	struct burster_arg *ba = arg;
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int b = 0; b < BURSTS; b++) {
		for (int i = 0; i < BURST; i++) {
			struct napper *n = &ba->n[b * BURST + i];
			n->done = ba->done;
			n->us = 1 + rand_r(&seed) % 50;
			urt_co_init(&n->co, napper_run);
			if (urt_task_spawn(ba->rt, &n->co.base, NULL))
				ba->failed++;
		}
		/* Long enough for the workers to run dry and park. */
		nap_us(200 + rand_r(&seed) % 300);
	}
	return NULL;
}

static void test_stress_park_unpark_churn_loses_no_task(void **state)
{
	struct urt_rt *rt = h_rt(3);
	struct burster_arg *ba = calloc(BURSTERS, sizeof(*ba));
	_Atomic int done = 0;
	pthread_t th[BURSTERS];
	uint64_t parks, unparks, end;

	(void)state;
	assert_non_null(ba);
	/* the run with URT_NO_MEMBARRIER set parks by the seq_cst pushes */
	const char *off = getenv("URT_NO_MEMBARRIER");
	if (off && *off && strcmp(off, "0"))
		assert_false(rt->asym_park);
	for (int k = 0; k < BURSTERS; k++) {
		ba[k].rt = rt;
		ba[k].done = &done;
		assert_int_equal(
			pthread_create(&th[k], NULL, burster_main, &ba[k]), 0);
	}
	for (int k = 0; k < BURSTERS; k++) {
		assert_int_equal(pthread_join(th[k], NULL), 0);
		assert_int_equal(ba[k].failed, 0);
	}
	end = urt_now_ns() + WAIT_NS;
	while (atomic_load(&done) < BURSTERS * BURSTS * BURST &&
	       urt_now_ns() < end)
		nap_us(500);
	assert_int_equal(atomic_load(&done), BURSTERS * BURSTS * BURST);
	(void)wsum_polls(rt, &parks, &unparks);
	assert_true(parks > 0);
	assert_true(unparks > 0);
	h_rt_free_clean(rt);
	free(ba);
}

/* ---------------------------------------------------------------------
 * Fan-out from tasks: hundreds of tasks per worker queue
 * ------------------------------------------------------------------- */

#define FAN 512

struct fan_kid {
	struct urt_co co;
	_Atomic int *ran;
	int i;
};

H_CO(fan_kid_run)
{
	struct fan_kid *k = (struct fan_kid *)co;

	URT_BEGIN(co);
	for (k->i = 0; k->i < 3; k->i++)
		URT_YIELD(co, cx);
	atomic_fetch_add(k->ran, 1);
	URT_END(co, 0);
}

struct fan_root {
	struct urt_co co;
	struct fan_kid kids[FAN];
	struct urt_task_handle h[FAN];
	_Atomic int ran;
	int i, r, sum;
};

H_CO(fan_root_run)
{
	struct fan_root *f = (struct fan_root *)co;

	URT_BEGIN(co);
	for (f->i = 0; f->i < FAN; f->i++) {
		f->kids[f->i].ran = &f->ran;
		urt_co_init(&f->kids[f->i].co, fan_kid_run);
		f->r = urt_task_spawn(urt_cx_rt(cx), &f->kids[f->i].co.base,
				      &f->h[f->i]);
		if (f->r)
			URT_RETURN(co, f->r);
	}
	for (f->i = 0; f->i < FAN; f->i++) {
		URT_AWAIT(co, cx, &f->h[f->i].base, f->r);
		if (f->r)
			URT_RETURN(co, -EIO);
		f->sum++;
	}
	URT_END(co, f->sum);
}

static void test_stress_fan_out_from_tasks_all_children_run(void **state)
{
	struct urt_rt *rt = h_rt(4);
	const int roots = 8;
	struct fan_root *f = calloc(roots, sizeof(*f));
	struct urt_task_handle h[8];

	(void)state;
	assert_non_null(f);
	for (int k = 0; k < roots; k++) {
		urt_co_init(&f[k].co, fan_root_run);
		assert_int_equal(urt_task_spawn(rt, &f[k].co.base, &h[k]), 0);
	}
	for (int k = 0; k < roots; k++) {
		assert_int_equal(urt_task_join_blocking(&h[k]), FAN);
		assert_int_equal(atomic_load(&f[k].ran), FAN);
	}
	h_rt_free_clean(rt);
	free(f);
}

/* ---------------------------------------------------------------------
 * Shutdown while tasks sleep, yield and migrate: every abort's cancel
 * (routed to the ring that owns the op, when the task moved) must be
 * handled before the owner exits, every CQE reaped, every task freed.
 * ------------------------------------------------------------------- */

#define SD_ROUNDS 60
#define SD_TASKS 48

struct forever {
	struct urt_co co;
	struct urt_op op;
	unsigned us;
	int r;
};

H_CO(forever_run)
{
	struct forever *f = (struct forever *)co;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx, urt_op_sleep(&f->op, f->us * US), f->r);
		URT_YIELD(co, cx);
		URT_AWAIT(co, cx, urt_op_nop(&f->op), f->r);
	}
	URT_END(co, 0);
}

static void test_stress_shutdown_with_migrating_sleepers_is_clean(
	void **state)
{
	unsigned seed = 777;

	(void)state;
	for (int round = 0; round < SD_ROUNDS; round++) {
		struct urt_rt *rt = h_rt(2 + round % 3);

		for (int i = 0; i < SD_TASKS; i++) {
			struct forever *f = urt_frame_new(sizeof(*f));
			assert_non_null(f);
			urt_co_init(&f->co, forever_run);
			f->us = 1 + rand_r(&seed) % 30;
			assert_int_equal(urt_task_spawn_frame(rt, f, NULL), 0);
		}
		nap_us(rand_r(&seed) % 3000);
		h_rt_free_clean(rt);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_token_rings_every_hop_arrives),
		cmocka_unit_test(
			test_stress_yield_polling_rings_every_hop_arrives),
		cmocka_unit_test(test_stress_join_chains_sum_depth),
		cmocka_unit_test(test_stress_foreign_threads_spawn_concurrently),
		cmocka_unit_test(test_stress_aborts_race_wakes_and_steals),
		cmocka_unit_test(test_stress_park_unpark_churn_loses_no_task),
		cmocka_unit_test(
			test_stress_fan_out_from_tasks_all_children_run),
		cmocka_unit_test(
			test_stress_shutdown_with_migrating_sleepers_is_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
