/* SPDX-License-Identifier: MIT */
/*
 * The multi-worker scheduler: stealing from a blocked worker (its queue and
 * its LIFO slot), long-poll reports, migration of a task with an op in
 * flight (completion and cancel routed to the owner ring), MSG_RING
 * wake-ups of parked workers from plain threads and from another runtime,
 * CPU pinning, the LIFO slot, the cooperative budget, and the per-worker
 * counters. No timing upper bounds: every wait is bounded by a generous
 * deadline that fails the test. White-box where the public API has no
 * word for it: worker park states, the runtime's own waker (mailbox.h).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"
#include "stress/mailbox.h"

#define MS 1000000ull
#define WAIT_NS (10000 * MS) /* "should have happened by now": 10 s */

/* ---------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------- */

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
}

static void close_pipe(int p[2])
{
	close(p[0]);
	close(p[1]);
}

static struct urt_worker_stats wstats(struct urt_rt *rt, unsigned i)
{
	struct urt_worker_stats ws;

	assert_int_equal(urt_rt_worker_stats(rt, i, &ws), 0);
	return ws;
}

/* Sum of one per-worker counter over every worker. */
static uint64_t wsum_at(struct urt_rt *rt, size_t off)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < urt_rt_workers(rt); i++) {
		struct urt_worker_stats ws;

		if (urt_rt_worker_stats(rt, i, &ws) == 0)
			s += *(uint64_t *)(void *)((char *)&ws + off);
	}
	return s;
}

#define WSUM(rt, field) wsum_at(rt, offsetof(struct urt_worker_stats, field))

/* Polls cond (an expression) every 100 us until it holds or 10 s pass;
 * evaluates to whether it held. */
#define WAIT_FOR(cond)                                                        \
	__extension__({                                                       \
		uint64_t end_ = urt_now_ns() + WAIT_NS;                       \
		bool ok_;                                                     \
		while (!(ok_ = (cond)) && urt_now_ns() < end_)                \
			nap_us(100);                                          \
		ok_;                                                          \
	})

static bool all_parked(struct urt_rt *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (atomic_load(&rt->workers[i].park) != URT__W_PARKED ||
		    wstats(rt, i).parks == 0)
			return false;
	return true;
}

/*
 * A runtime whose parked workers sleep until a CQE arrives: with the
 * long-poll clock on, a worker parked while a sibling runs also wakes on a
 * timer (to look for a stuck LIFO task), which would race with the wake-up
 * a test wants to see.
 */
static struct urt_rt *h_rt_untimed_park(unsigned workers)
{
	struct urt_config cfg;

	urt_config_init(&cfg);
	cfg.workers = workers;
	cfg.long_poll_ns = 0;
	return h_rt_cfg(&cfg);
}

/* Ready at once with 0; records which worker polled it. */
struct mark_fut {
	struct urt_future base;
	_Atomic unsigned worker;
	_Atomic int *ran;
};

static int mark_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct mark_fut *m = (struct mark_fut *)f;

	atomic_store(&m->worker, urt_cx_worker_id(cx));
	if (m->ran)
		atomic_fetch_add(m->ran, 1);
	return 0;
}

static const struct urt_future_vt mark_vt = { .poll = mark_poll };

static struct urt_future *mark_init(struct mark_fut *m, _Atomic int *ran)
{
	m->base.vt = &mark_vt;
	atomic_init(&m->worker, ~0u);
	m->ran = ran;
	return &m->base;
}

/* ---------------------------------------------------------------------
 * The global queue holds any number of tasks, in order
 * ------------------------------------------------------------------- */

#define NFLOOD 3000u

/* Holds its worker until released (a blocking poll, on purpose). */
struct gate {
	struct urt_future base;
	_Atomic int *started, *release;
};

static int gate_hold_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct gate *g = (struct gate *)f;
	uint64_t end = urt_now_ns() + WAIT_NS;

	(void)cx;
	atomic_fetch_add(g->started, 1);
	while (!atomic_load(g->release))
		if (urt_now_ns() > end)
			return -ETIMEDOUT;
		else
			nap_us(50);
	return 0;
}

static const struct urt_future_vt gate_hold_vt = { .poll = gate_hold_poll };

/* Records the order in which the flood ran. */
struct seq_fut {
	struct urt_future base;
	unsigned idx;
	_Atomic unsigned *next, *done;
	unsigned *order;
};

static int seq_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct seq_fut *q = (struct seq_fut *)f;

	(void)cx;
	q->order[atomic_fetch_add(q->next, 1)] = q->idx;
	atomic_fetch_add(q->done, 1); /* seq_cst: publishes the slot */
	return 0;
}

static const struct urt_future_vt seq_vt = { .poll = seq_poll };

/*
 * Every worker held by a gate, a plain thread spawns NFLOOD tasks: all go
 * to the global queue, past the ring's growth limit in the small-queues
 * build (its spill list). Once released, every task runs exactly once.
 */
static void flood_inject(unsigned workers)
{
	struct urt_rt *rt = h_rt_untimed_park(workers);
	_Atomic int started = 0, release = 0;
	_Atomic unsigned next = 0, done = 0;
	struct gate gates[4];
	struct urt_task_handle gh[4];
	struct seq_fut *flood = calloc(NFLOOD, sizeof(*flood));
	unsigned *order = calloc(NFLOOD, sizeof(*order));
	struct urt_stats st;

	assert_true(workers <= 4 && flood && order);
	for (unsigned i = 0; i < workers; i++) {
		gates[i] = (struct gate){ { &gate_hold_vt }, &started,
					  &release };
		assert_int_equal(urt_task_spawn(rt, &gates[i].base, &gh[i]), 0);
	}
	assert_true(WAIT_FOR(atomic_load(&started) == (int)workers));
	for (unsigned i = 0; i < NFLOOD; i++) {
		flood[i] = (struct seq_fut){ { &seq_vt }, i, &next, &done,
					     order };
		assert_int_equal(urt_task_spawn(rt, &flood[i].base, NULL), 0);
	}
	urt_rt_stats(rt, &st);
	if (URT_INJECT_RING_MAX < NFLOOD)
		assert_true(st.inject_spills >= (uint64_t)(NFLOOD - URT_INJECT_RING_MAX));
	else
		assert_int_equal(st.inject_spills, 0);
	atomic_store(&release, 1);
	for (unsigned i = 0; i < workers; i++)
		assert_int_equal(urt_task_join_blocking(&gh[i]), 0);
	assert_true(WAIT_FOR(atomic_load(&done) == NFLOOD));
	/* each ran once (the worker's fairness tick mixes the global queue
	 * with its local one, so the run order is not the spawn order) */
	bool *seen = calloc(NFLOOD, sizeof(*seen));
	assert_non_null(seen);
	for (unsigned i = 0; i < NFLOOD; i++) {
		assert_true(order[i] < NFLOOD && !seen[order[i]]);
		seen[order[i]] = true;
	}
	free(seen);
	h_rt_free_clean(rt);
	free(flood);
	free(order);
}

static void test_sched_inject_flood_all_run_one_worker(void **state)
{
	(void)state;
	flood_inject(1);
}

/*
 * The global queue alone (white-box, no workers): FIFO through growth,
 * wrap-around and (small-queues build) the spill list, in batches that
 * fill a local queue, and one at a time.
 */
static void test_sched_inject_queue_is_fifo_across_growth_and_spill(
	void **state)
{
	struct urt_rt *rt = calloc(1, sizeof(*rt));
	struct urt_task *tasks = calloc(NFLOOD, sizeof(*tasks));
	struct urt__lq lq;
	unsigned pushed = 0, popped = 0;

	(void)state;
	assert_true(rt && tasks);
	rt->nworkers = 1;
	assert_int_equal(pthread_mutex_init(&rt->inject_lock, NULL), 0);
	assert_int_equal(urt__lq_init(&lq), 0);
	while (popped < NFLOOD) {
		/* push 7 at a time, pop batches of up to 5 (3 pushes for 2
		 * pops): the ring wraps, grows, and in the small build spills */
		for (int k = 0; k < 3 && pushed < NFLOOD; k++) {
			struct urt_task *v[7];
			unsigned n = 0;
			while (n < 7 && pushed < NFLOOD)
				v[n++] = &tasks[pushed++];
			urt__inject_push(rt, v, n);
		}
		for (int k = 0; k < 2 && popped < pushed; k++) {
			struct urt_task *t = urt__inject_pop(
				rt, k ? &lq : NULL, 5);
			assert_ptr_equal(t, &tasks[popped++]);
			assert_true(t->flags & URT__TF_INJECTED);
			while ((t = urt__lq_pop(&lq)))
				assert_ptr_equal(t, &tasks[popped++]);
		}
	}
	assert_null(urt__inject_pop(rt, &lq, 5));
	assert_int_equal(atomic_load(&rt->inject_len), 0);
	if (URT_INJECT_RING_MAX < NFLOOD)
		assert_true(atomic_load(&rt->inject_spills) > 0);
	else
		assert_int_equal(atomic_load(&rt->inject_spills), 0);
	urt__inject_deinit(rt);
	urt__lq_deinit(&lq);
	pthread_mutex_destroy(&rt->inject_lock);
	free(tasks);
	free(rt);
}

static void test_sched_inject_flood_all_run_two_workers(void **state)
{
	(void)state;
	flood_inject(2);
}

/* ---------------------------------------------------------------------
 * Stealing: a worker blocked in a poll loses its queue to its sibling
 * ------------------------------------------------------------------- */

#define NKIDS 32

struct hog {
	struct urt_future base;
	unsigned worker;
	_Atomic int ran;
	struct mark_fut kids[NKIDS];
	struct urt_task_handle h[NKIDS];
};

/* Spawns NKIDS onto its own worker's queue, then never lets go of that
 * worker until they all ran (or 10 s passed). */
static int hog_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct hog *g = (struct hog *)f;
	uint64_t end = urt_now_ns() + WAIT_NS;

	g->worker = urt_cx_worker_id(cx);
	for (int i = 0; i < NKIDS; i++) {
		int r = urt_task_spawn(urt_cx_rt(cx),
				       mark_init(&g->kids[i], &g->ran),
				       &g->h[i]);
		if (r)
			return r;
	}
	while (atomic_load(&g->ran) < NKIDS)
		if (urt_now_ns() > end)
			return -ETIMEDOUT;
	return 0;
}

static const struct urt_future_vt hog_vt = { .poll = hog_poll };

static void test_sched_blocked_worker_queue_is_stolen_by_sibling(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct hog *g = calloc(1, sizeof(*g));
	struct urt_task_handle h;
	unsigned a, b;

	(void)state;
	assert_non_null(g);
	g->base.vt = &hog_vt;
	assert_int_equal(urt_task_spawn(rt, &g->base, &h), 0);
	assert_int_equal(urt_task_join_blocking(&h), 0);
	a = g->worker;
	b = 1 - a;
	for (int i = 0; i < NKIDS; i++) {
		assert_int_equal(urt_task_join_blocking(&g->h[i]), 0);
		/* Its worker was busy the whole time: only b could run it. */
		assert_int_equal(atomic_load(&g->kids[i].worker), b);
	}
	struct urt_worker_stats wa = wstats(rt, a), wb = wstats(rt, b);
	/* Only b stole, only from a; the three views agree. */
	assert_true(wb.steals_in >= 1);
	assert_true(wb.steal_ops >= 1);
	assert_int_equal(wb.steals_in, wa.stolen_out);
	assert_int_equal(urt_rt_steals(rt, b, a), wb.steals_in);
	assert_int_equal(wa.steals_in, 0);
	assert_int_equal(urt_rt_steals(rt, a, b), 0);
	assert_int_equal(urt_rt_steals(rt, a, a), 0);
#if URT_LOCAL_QUEUE_SIZE >= 2 * NKIDS
	/* No overflow to the global queue: every kid came by stealing. */
	assert_int_equal(wb.steals_in, NKIDS);
#endif
	h_rt_free_clean(rt);
	free(g);
}

/*
 * The same with a task the blocking one woke (a message from the running
 * task: it goes to the LIFO slot, not the queue). It is runnable, so the
 * sibling must get to run it while its worker is blocked (DESIGN.md 2:
 * "siblings steal its runnable tasks").
 */
struct lifo_sleeper;

struct lifo_hog {
	struct urt_future base;
	struct h_mbox box;
	struct lifo_sleeper *ls;
	unsigned worker;
};

struct lifo_sleeper {
	struct urt_co co;
	struct h_mbox_recv rx;
	struct h_mbox *box;
	_Atomic unsigned worker;
	int v;
};

H_CO(lifo_sleeper_run)
{
	struct lifo_sleeper *ls = (struct lifo_sleeper *)co;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, h_mbox_recv(&ls->rx, ls->box), ls->v);
	atomic_store(&ls->worker, urt_cx_worker_id(cx));
	URT_END(co, ls->v);
}

static int lifo_hog_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct lifo_hog *g = (struct lifo_hog *)f;
	struct lifo_sleeper *ls = g->ls;
	uint64_t end = urt_now_ns() + WAIT_NS;

	g->worker = urt_cx_worker_id(cx);
	h_mbox_send(&g->box, 5); /* wakes the sleeper from a running task */
	while (atomic_load(&ls->worker) == ~0u)
		if (urt_now_ns() > end)
			return -ETIMEDOUT;
	return 0;
}

static const struct urt_future_vt lifo_hog_vt = { .poll = lifo_hog_poll };

static void test_sched_task_woken_by_blocked_worker_runs_on_sibling(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	/* On the heap: if the test fails, its tasks outlive this frame. */
	struct lifo_pair {
		struct lifo_hog g;
		struct lifo_sleeper ls;
	} *x = calloc(1, sizeof(*x));
	struct urt_task_handle hg, hs;

	(void)state;
	assert_non_null(x);
	x->g.base.vt = &lifo_hog_vt;
	x->g.ls = &x->ls;
	h_mbox_init(&x->g.box);
	x->ls.box = &x->g.box;
	atomic_init(&x->ls.worker, ~0u);
	urt_co_init(&x->ls.co, lifo_sleeper_run);
	assert_int_equal(urt_task_spawn(rt, &x->ls.co.base, &hs), 0);
	assert_true(WAIT_FOR(atomic_load(&x->g.box.waiter) != 0));
	assert_int_equal(urt_task_spawn(rt, &x->g.base, &hg), 0);
	assert_int_equal(urt_task_join_blocking(&hg), 0);
	assert_int_equal(urt_task_join_blocking(&hs), 5);
	assert_int_equal(atomic_load(&x->ls.worker), 1 - x->g.worker);
	assert_true(urt_rt_steals(rt, 1 - x->g.worker, x->g.worker) >= 1);
	h_rt_free_clean(rt);
	free(x);
}

/* ---------------------------------------------------------------------
 * Long polls
 * ------------------------------------------------------------------- */

struct spin_fut {
	struct urt_future base;
	uint64_t ns;
};

static int spin_poll(struct urt_future *f, struct urt_cx *cx)
{
	uint64_t end = urt_now_ns() + ((struct spin_fut *)f)->ns;

	(void)cx;
	while (urt_now_ns() < end)
		;
	return 0;
}

static const struct urt_future_vt spin_vt = { .poll = spin_poll };

/*
 * Runs a 50 ms poll, then a short task on the same (only) worker: by the
 * time the second one is joined, the first poll has been measured. Futures
 * without a drop hook must outlive urt_rt_free(): the caller's.
 */
struct spin_then_short {
	struct spin_fut s;
	struct mark_fut m;
};

static uint64_t run_spin_then_short(struct urt_rt *rt,
				    struct spin_then_short *x)
{
	struct urt_task_handle h;
	uint64_t id;

	x->s = (struct spin_fut){ .base.vt = &spin_vt, .ns = 50 * MS };
	assert_int_equal(urt_task_spawn(rt, &x->s.base, &h), 0);
	id = urt_task_id(&h);
	assert_true(id > 0);
	assert_int_equal(urt_task_join_blocking(&h), 0);
	assert_int_equal(urt_task_spawn(rt, mark_init(&x->m, NULL), &h), 0);
	assert_int_equal(urt_task_join_blocking(&h), 0);
	return id;
}

static void test_sched_long_poll_counted_with_task_id(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct spin_then_short x;
	struct urt_stats st;
	uint64_t id;

	(void)state;
	id = run_spin_then_short(rt, &x);
	urt_rt_stats(rt, &st);
	assert_true(st.long_polls >= 1);
	assert_int_equal(st.longest_poll_task, id);
	assert_true(st.longest_poll_ns >= 40 * MS);
	assert_true(wstats(rt, 0).long_polls >= 1);
	h_rt_free_clean(rt);
}

static void test_sched_long_poll_zero_limit_counts_nothing(void **state)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct spin_then_short x;
	struct urt_stats st;

	(void)state;
	urt_config_init(&cfg);
	assert_int_equal(cfg.long_poll_ns, 10 * MS);
	cfg.workers = 1;
	cfg.long_poll_ns = 0;
	rt = h_rt_cfg(&cfg);
	(void)run_spin_then_short(rt, &x);
	urt_rt_stats(rt, &st);
	assert_int_equal(st.long_polls, 0);
	assert_int_equal(st.longest_poll_ns, 0);
	assert_int_equal(st.longest_poll_task, 0);
	assert_int_equal(wstats(rt, 0).long_polls, 0);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Migration with an op in flight
 *
 * The migrant submits a read on an empty pipe on worker A (the owner of
 * the op), spawns a blocker and yields: both land in A's queue, blocker
 * first. A runs the blocker, which spins, so only B can run the migrant:
 * by stealing it. If B stole the blocker instead (it returns at once when
 * not on A), the migrant is back on A and tries again; if B stole the
 * migrant before any blocker held A, it yields until one does. Migrated
 * means: polled on B while A is held by a blocker (until the test's
 * condition), so A cannot reap, cancel or run anything meanwhile.
 * ------------------------------------------------------------------- */

#define MIG_TRIES 16

struct migrant;

struct blocker {
	struct urt_future base;
	struct migrant *m;
};

struct migrant {
	struct urt_future base;
	struct urt_op op;
	int fd;
	char buf[16];
	int phase;
	bool abort_variant;
	_Atomic unsigned owner; /* worker whose ring holds the op */
	_Atomic unsigned moved_to;
	_Atomic int migrated;
	_Atomic int blocked; /* a blocker spun on the owner */
	int nblockers;
	uint64_t end;
	struct blocker blockers[MIG_TRIES];
	struct urt_rt *rt;
};

static bool blocker_done(struct migrant *m)
{
	/* Abort variant: hold A until B has routed the cancel to it. */
	if (m->abort_variant)
		return WSUM(m->rt, cancels_routed) >= 1;
	return atomic_load(&m->migrated);
}

static int blocker_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct migrant *m = ((struct blocker *)f)->m;
	uint64_t end = urt_now_ns() + WAIT_NS;

	if (urt_cx_worker_id(cx) != atomic_load(&m->owner))
		return 1; /* stolen before it could block A: harmless */
	atomic_store(&m->blocked, 1);
	while (!blocker_done(m))
		if (urt_now_ns() > end)
			return -ETIMEDOUT;
	return 0;
}

static const struct urt_future_vt blocker_vt = { .poll = blocker_poll };

static int spawn_blocker(struct migrant *m, struct urt_cx *cx)
{
	struct blocker *b;

	if (m->nblockers == MIG_TRIES)
		return -EAGAIN;
	b = &m->blockers[m->nblockers++];
	b->base.vt = &blocker_vt;
	b->m = m;
	/* From a task: to the back of this worker's local queue. */
	return urt_task_spawn(urt_cx_rt(cx), &b->base, NULL);
}

static int migrant_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct migrant *m = (struct migrant *)f;
	unsigned w = urt_cx_worker_id(cx);
	int r;

	switch (m->phase) {
	case 0:
		m->end = urt_now_ns() + WAIT_NS;
		atomic_store(&m->owner, w);
		r = urt_future_poll(urt_op_read(&m->op, m->fd, m->buf,
						sizeof(m->buf) - 1, 0),
				    cx);
		if (r != URT_PENDING)
			return r < 0 ? r : -EIO; /* the pipe must be empty */
		m->phase = 1;
		goto block;
	case 1:
		if (urt_now_ns() > m->end)
			return -ETIMEDOUT;
		if (w == atomic_load(&m->owner))
			goto block; /* the blocker was stolen: again */
		if (!atomic_load(&m->blocked)) {
			/* Stolen, but A is not held: wait for a blocker to
			 * spin there (or to be stolen back to A). */
			urt_cx_yield(cx);
			return URT_PENDING;
		}
		atomic_store(&m->moved_to, w);
		atomic_store(&m->migrated, 1);
		m->phase = 2;
		/* fallthrough */
	case 2:
		return urt_future_poll(&m->op.base, cx);
	default:
		return -EINVAL;
	}
block:
	r = spawn_blocker(m, cx);
	if (r)
		return r;
	urt_cx_yield(cx);
	return URT_PENDING;
}

static void migrant_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct migrant *m = (struct migrant *)f;

	/* The op was cancelled by the abort already; draining is polling. */
	urt_future_cancel(&m->op.base, cx);
}

static const struct urt_future_vt migrant_vt = {
	.poll = migrant_poll,
	.cancel = migrant_cancel,
};

static struct migrant *migrant_new(struct urt_rt *rt, int fd, bool abort)
{
	struct migrant *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->base.vt = &migrant_vt;
	m->fd = fd;
	m->abort_variant = abort;
	m->rt = rt;
	atomic_init(&m->owner, ~0u);
	atomic_init(&m->moved_to, ~0u);
	return m;
}

static void test_sched_migrated_task_op_completes_on_owner_ring(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_task_handle h;
	struct migrant *m;
	unsigned a, b;
	int p[2];

	(void)state;
	make_pipe(p);
	m = migrant_new(rt, p[0], false);
	assert_int_equal(urt_task_spawn(rt, &m->base, &h), 0);
	assert_true(WAIT_FOR(atomic_load(&m->migrated)));
	a = atomic_load(&m->owner);
	b = atomic_load(&m->moved_to);
	assert_true(a < 2 && b < 2);
	assert_int_not_equal(a, b);
	assert_int_equal(atomic_load(&m->blocked), 1);
	assert_int_equal(write(p[1], "hello", 5), 5);
	assert_int_equal(urt_task_join_blocking(&h), 5);
	assert_memory_equal(m->buf, "hello", 5);
	/* The op stayed on A's ring: submitted and reaped there. */
	assert_int_equal(wstats(rt, a).ops_submitted, 1);
	assert_int_equal(wstats(rt, a).ops_completed, 1);
	assert_int_equal(wstats(rt, b).ops_submitted, 0);
	assert_int_equal(wstats(rt, b).ops_completed, 0);
	assert_int_equal(WSUM(rt, cancels_routed), 0);
	h_rt_free_clean(rt);
	close_pipe(p);
	free(m);
}

static void test_sched_abort_of_migrated_task_routes_cancel_to_owner(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_task_handle h;
	struct migrant *m;
	unsigned a, b;
	int p[2];

	(void)state;
	make_pipe(p);
	m = migrant_new(rt, p[0], true);
	assert_int_equal(urt_task_spawn(rt, &m->base, &h), 0);
	assert_true(WAIT_FOR(atomic_load(&m->migrated)));
	a = atomic_load(&m->owner);
	b = atomic_load(&m->moved_to);
	assert_int_not_equal(a, b);
	/* A still spins in the blocker: B must run the abort and can only
	 * ask A (MSG_RING) to cancel the read on A's ring. */
	assert_int_equal(urt_task_abort(&h), 0);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	assert_true(wstats(rt, b).cancels_routed >= 1);
	assert_int_equal(wstats(rt, a).cancels_routed, 0);
	/* The read's CQE (-ECANCELED) was reaped by its owner. */
	assert_int_equal(wstats(rt, a).ops_completed, 1);
	assert_int_equal(wstats(rt, b).ops_completed, 0);
	h_rt_free_clean(rt); /* nothing left in flight on A's ring */
	close_pipe(p);
	free(m);
}

/* ---------------------------------------------------------------------
 * Wake-ups of parked workers from plain threads (MSG_RING)
 * ------------------------------------------------------------------- */

struct foreign_arg {
	struct urt_rt *rt;
	struct urt_task_handle *h;
	struct h_mbox *box;
	int what; /* 0 spawn + join, 1 abort, 2 mailbox send */
	int result;
	struct mark_fut m; /* must outlive urt_rt_free(): no drop hook */
};

static void *foreign_main(void *arg)
{
	struct foreign_arg *fa = arg;
	struct urt_task_handle h;

	switch (fa->what) {
	case 0:
		fa->result = urt_task_spawn(fa->rt, mark_init(&fa->m, NULL),
					    &h);
		if (!fa->result)
			fa->result = urt_task_join_blocking(&h);
		break;
	case 1:
		fa->result = urt_task_abort(fa->h);
		break;
	case 2:
		h_mbox_send(fa->box, 77);
		fa->result = 0;
		break;
	}
	return NULL;
}

static int run_foreign(struct foreign_arg *fa)
{
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, foreign_main, fa), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	return fa->result;
}

static void test_sched_foreign_spawn_unparks_parked_worker(void **state)
{
	struct urt_rt *rt = h_rt_untimed_park(2);
	struct foreign_arg fa = { .rt = rt, .what = 0 };
	uint64_t received, unparks;

	(void)state;
	assert_true(WAIT_FOR(all_parked(rt)));
	received = WSUM(rt, wakes_received);
	unparks = WSUM(rt, unparks);
	assert_int_equal(run_foreign(&fa), 0);
	assert_true(WSUM(rt, unparks) > unparks);
	/* The wake is a CQE: counted once the woken worker reaps it. */
	assert_true(WAIT_FOR(WSUM(rt, wakes_received) > received));
	h_rt_free_clean(rt);
}

struct reader {
	struct urt_co co;
	struct urt_op op;
	int fd;
	char buf[8];
};

H_CO(reader_run)
{
	struct reader *r = (struct reader *)co;
	int n;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_read(&r->op, r->fd, r->buf, 8, 0), n);
	URT_END(co, n);
}

static void test_sched_foreign_abort_wakes_task_on_parked_worker(
	void **state)
{
	struct urt_rt *rt = h_rt_untimed_park(2);
	struct urt_task_handle h;
	struct foreign_arg fa = { .rt = rt, .h = &h, .what = 1 };
	struct reader r = { .fd = -1 };
	uint64_t unparks;
	int p[2];

	(void)state;
	make_pipe(p);
	r.fd = p[0];
	urt_co_init(&r.co, reader_run);
	assert_int_equal(urt_task_spawn(rt, &r.co.base, &h), 0);
	assert_true(WAIT_FOR(WSUM(rt, ops_submitted) == 1 && all_parked(rt)));
	unparks = WSUM(rt, unparks);
	assert_int_equal(run_foreign(&fa), 0);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	assert_true(WSUM(rt, unparks) > unparks);
	h_rt_free_clean(rt);
	close_pipe(p);
}

struct mbox_waiter {
	struct urt_co co;
	struct h_mbox_recv rx;
	struct h_mbox *box;
};

H_CO(mbox_waiter_run)
{
	struct mbox_waiter *mw = (struct mbox_waiter *)co;
	int v;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, h_mbox_recv(&mw->rx, mw->box), v);
	URT_END(co, v);
}

static void test_sched_foreign_wake_runs_task_on_parked_worker(void **state)
{
	struct urt_rt *rt = h_rt_untimed_park(2);
	struct h_mbox box;
	struct mbox_waiter mw = { .box = &box };
	struct urt_task_handle h;
	struct foreign_arg fa = { .rt = rt, .box = &box, .what = 2 };
	uint64_t received, polls;

	(void)state;
	h_mbox_init(&box);
	urt_co_init(&mw.co, mbox_waiter_run);
	assert_int_equal(urt_task_spawn(rt, &mw.co.base, &h), 0);
	assert_true(WAIT_FOR(atomic_load(&box.waiter) != 0 &&
			     all_parked(rt)));
	received = WSUM(rt, wakes_received);
	polls = WSUM(rt, polls);
	assert_int_equal(polls, 1);
	assert_int_equal(run_foreign(&fa), 0);
	assert_int_equal(urt_task_join_blocking(&h), 77);
	assert_true(WAIT_FOR(WSUM(rt, wakes_received) > received));
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Two runtimes: a task of one spawns into, joins and wakes the other
 * (the waker is a worker, but not one of the target's: inject + message)
 * ------------------------------------------------------------------- */

struct cross {
	struct urt_co co;
	struct urt_rt *other;
	struct mark_fut kid;
	struct urt_task_handle kh;
	struct h_mbox *box;
	int r;
};

H_CO(cross_run)
{
	struct cross *c = (struct cross *)co;

	URT_BEGIN(co);
	c->r = urt_task_spawn(c->other, mark_init(&c->kid, NULL), &c->kh);
	if (c->r)
		URT_RETURN(co, c->r);
	URT_AWAIT(co, cx, &c->kh.base, c->r);
	if (c->r)
		URT_RETURN(co, -EIO);
	h_mbox_send(c->box, 9);
	URT_END(co, 0);
}

#define CROSS_ROUNDS 20

static void test_sched_task_spawns_joins_and_wakes_across_runtimes(
	void **state)
{
	(void)state;
	/* Rounds: the free of rt1 races with rt2's worker leaving its wake. */
	for (int round = 0; round < CROSS_ROUNDS; round++) {
		struct urt_rt *rt1 = h_rt(1), *rt2 = h_rt(2);
		/* On the heap: if the test fails, its tasks outlive this
		 * frame. */
		struct cross_set {
			struct h_mbox box;
			struct mbox_waiter mw;
			struct cross c;
		} *x = calloc(1, sizeof(*x));
		struct urt_task_handle hw, hc;
		struct urt_stats st;

		assert_non_null(x);
		h_mbox_init(&x->box);
		x->mw.box = &x->box;
		urt_co_init(&x->mw.co, mbox_waiter_run);
		assert_int_equal(urt_task_spawn(rt2, &x->mw.co.base, &hw), 0);
		assert_true(WAIT_FOR(atomic_load(&x->box.waiter) != 0));
		x->c.other = rt2;
		x->c.box = &x->box;
		urt_co_init(&x->c.co, cross_run);
		assert_int_equal(urt_task_spawn(rt1, &x->c.co.base, &hc), 0);
		assert_int_equal(urt_task_join_blocking(&hc), 0);
		assert_int_equal(urt_task_join_blocking(&hw), 9);
		assert_true(atomic_load(&x->c.kid.worker) < 2);
		urt_rt_stats(rt2, &st);
		assert_int_equal(st.tasks_spawned, 2);
		urt_rt_stats(rt1, &st);
		assert_int_equal(st.tasks_spawned, 1);
		/*
		 * Every task is joined: rt1 may go now, even while rt2's
		 * worker is still returning from the wake it delivered to
		 * rt1's task.
		 */
		h_rt_free_clean(rt1);
		h_rt_free_clean(rt2);
		free(x);
	}
}

/* ---------------------------------------------------------------------
 * CPU pinning
 * ------------------------------------------------------------------- */

struct pin_probe {
	struct urt_future base;
	_Atomic unsigned worker;
	_Atomic int pinned; /* 1: affinity is exactly the worker's CPU */
	_Atomic int ran;
};

static int pin_probe_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct pin_probe *pp = (struct pin_probe *)f;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned w = urt_cx_worker_id(cx);
	cpu_set_t set;

	CPU_ZERO(&set);
	if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) == 0)
		atomic_store(&pp->pinned,
			     CPU_COUNT(&set) == 1 &&
				     CPU_ISSET(w % (unsigned)cpus, &set));
	atomic_store(&pp->worker, w);
	atomic_store(&pp->ran, 1);
	return 0;
}

static const struct urt_future_vt pin_probe_vt = { .poll = pin_probe_poll };

/* Probes its own worker, spawns a probe and spins until another worker
 * ran it (it cannot run here): both workers get probed. */
struct pin_pair {
	struct pin_probe self;
	struct pin_probe kid;
	struct urt_task_handle kh;
};

static int pin_pair_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct pin_pair *pp = (struct pin_pair *)f;
	uint64_t end = urt_now_ns() + WAIT_NS;
	int r;

	pin_probe_poll(&pp->self.base, cx);
	pp->kid.base.vt = &pin_probe_vt;
	r = urt_task_spawn(urt_cx_rt(cx), &pp->kid.base, &pp->kh);
	if (r)
		return r;
	while (!atomic_load(&pp->kid.ran))
		if (urt_now_ns() > end)
			return -ETIMEDOUT;
	return 0;
}

static const struct urt_future_vt pin_pair_vt = { .poll = pin_pair_poll };

static void test_sched_pinned_workers_run_on_their_cpu(void **state)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct urt_config cfg;
	struct urt_rt *rt;
	struct pin_pair pp = { .self.base.vt = &pin_pair_vt };
	struct pin_probe *probes[2] = { &pp.self, &pp.kid };
	struct urt_task_handle h;
	cpu_set_t allowed;

	(void)state;
	assert_true(cpus >= 1);
	assert_int_equal(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	urt_config_init(&cfg);
	cfg.workers = 2;
	cfg.flags |= URT_CFG_PIN_WORKERS;
	rt = h_rt_cfg(&cfg);
	assert_int_equal(urt_task_spawn(rt, &pp.self.base, &h), 0);
	assert_int_equal(urt_task_join_blocking(&h), 0);
	assert_int_equal(urt_task_join_blocking(&pp.kh), 0);
	assert_int_not_equal(atomic_load(&pp.self.worker),
			     atomic_load(&pp.kid.worker));
	for (int i = 0; i < 2; i++) {
		unsigned cpu = atomic_load(&probes[i]->worker) %
			       (unsigned)cpus;
		/* A CPU outside our own mask (taskset) cannot be pinned to. */
		if (CPU_ISSET(cpu, &allowed))
			assert_int_equal(atomic_load(&probes[i]->pinned), 1);
	}
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * LIFO slot: a task woken by the running task runs next, on this worker
 * ------------------------------------------------------------------- */

#define PP_ROUNDS 600

struct pp_shared {
	struct h_mbox box[2];
	int last[2]; /* per worker: index of the last ping-pong task polled
		      * there (only that worker's thread touches it) */
	_Atomic uint64_t next_same; /* receipts right after the sender's
				     * poll on the same worker */
};

struct pinger {
	struct urt_future base;
	struct pp_shared *sh;
	struct h_mbox_recv rx;
	int idx;
	bool started, receiving;
};

static int pinger_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct pinger *p = (struct pinger *)f;
	struct pp_shared *sh = p->sh;
	unsigned w = urt_cx_worker_id(cx);
	int other = 1 - p->idx, r = URT_PENDING;

	if (p->idx == 0 && !p->started) {
		p->started = true;
		h_mbox_send(&sh->box[other], 1);
	}
	for (;;) {
		if (!p->receiving) {
			h_mbox_recv(&p->rx, &sh->box[p->idx]);
			p->receiving = true;
		}
		r = urt_future_poll(&p->rx.base, cx);
		if (r == URT_PENDING)
			break;
		p->receiving = false;
		if (r < 0)
			break;
		if (sh->last[w] == other)
			atomic_fetch_add(&sh->next_same, 1);
		if (r <= PP_ROUNDS)
			h_mbox_send(&sh->box[other], r + 1);
		if (r >= PP_ROUNDS)
			break;
	}
	sh->last[w] = p->idx;
	return r;
}

static const struct urt_future_vt pinger_vt = { .poll = pinger_poll };

static void test_sched_task_woken_by_running_task_runs_next_lifo(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct pp_shared sh = { .last = { -1, -1 } };
	struct pinger p[2];
	struct urt_task_handle h[2];
	int r0, r1;

	(void)state;
	for (int i = 0; i < 2; i++) {
		h_mbox_init(&sh.box[i]);
		p[i] = (struct pinger){ .base.vt = &pinger_vt, .sh = &sh,
					.idx = i };
	}
	/* The receiver first, so that the first send finds it waiting. */
	assert_int_equal(urt_task_spawn(rt, &p[1].base, &h[1]), 0);
	assert_true(WAIT_FOR(atomic_load(&sh.box[1].waiter) != 0));
	assert_int_equal(urt_task_spawn(rt, &p[0].base, &h[0]), 0);
	r0 = urt_task_join_blocking(&h[0]);
	r1 = urt_task_join_blocking(&h[1]);
	/* Odd values go to 1, even ones to 0; the last one is R + 1. */
	assert_int_equal(r0 + r1, 2 * PP_ROUNDS + 1);
	uint64_t lifo = WSUM(rt, lifo_polls);
	assert_true(lifo > 0);
	/* Every LIFO poll is a receipt right after the sender, same worker */
	assert_true(atomic_load(&sh.next_same) >= lifo);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Budget: always-ready awaits cannot starve a sibling on one worker
 * ------------------------------------------------------------------- */

/* Ready every time it is asked, as long as the poll has budget. */
static int eager_poll(struct urt_future *f, struct urt_cx *cx)
{
	(void)f;
	return urt_cx_budget_spend(cx) ? 1 : URT_PENDING;
}

static const struct urt_future_vt eager_vt = { .poll = eager_poll };

struct greedy {
	struct urt_future base;
	struct urt_future eager;
	_Atomic int *stop;
	_Atomic int running;
	uint64_t end;
	int polls;
	int per_poll_max;
	int total;
};

static int greedy_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct greedy *g = (struct greedy *)f;
	int n = 0;

	if (!g->polls++) {
		g->end = urt_now_ns() + WAIT_NS;
		atomic_store(&g->running, 1);
	}
	for (;;) {
		if (atomic_load(g->stop))
			return g->total;
		if (urt_now_ns() > g->end)
			return -ETIMEDOUT; /* starved the other task */
		if (urt_future_poll(&g->eager, cx) == URT_PENDING)
			break;
		g->total++;
		if (++n > g->per_poll_max)
			g->per_poll_max = n;
	}
	return URT_PENDING;
}

static const struct urt_future_vt greedy_vt = { .poll = greedy_poll };

struct stopper {
	struct urt_future base;
	_Atomic int *stop;
};

static int stopper_poll(struct urt_future *f, struct urt_cx *cx)
{
	(void)cx;
	atomic_store(((struct stopper *)f)->stop, 1);
	return 0;
}

static const struct urt_future_vt stopper_vt = { .poll = stopper_poll };

static void test_sched_budget_stops_ready_loop_starving_sibling(void **state)
{
	struct urt_rt *rt = h_rt(1);
	_Atomic int stop = 0;
	struct greedy g = { .base.vt = &greedy_vt, .eager.vt = &eager_vt,
			    .stop = &stop };
	struct stopper s = { .base.vt = &stopper_vt, .stop = &stop };
	struct urt_task_handle hg, hs;

	(void)state;
	assert_int_equal(urt_task_spawn(rt, &g.base, &hg), 0);
	/* The greedy task holds the only worker before the other exists. */
	assert_true(WAIT_FOR(atomic_load(&g.running)));
	assert_int_equal(urt_task_spawn(rt, &s.base, &hs), 0);
	assert_int_equal(urt_task_join_blocking(&hs), 0);
	int total = urt_task_join_blocking(&hg);
	assert_true(total > 0);
	assert_true(g.polls >= 2);
	assert_true(g.per_poll_max <= URT__BUDGET);
	h_rt_free_clean(rt);
}

/* ---------------------------------------------------------------------
 * Counters
 * ------------------------------------------------------------------- */

#define CNT_TASKS 64
#define CNT_OPS 4

struct nopper {
	struct urt_co co;
	struct urt_op op;
	int i;
};

H_CO(nopper_run)
{
	struct nopper *n = (struct nopper *)co;
	int r;

	URT_BEGIN(co);
	for (n->i = 0; n->i < CNT_OPS; n->i++) {
		URT_AWAIT(co, cx, urt_op_nop(&n->op), r);
		if (r)
			URT_RETURN(co, r);
		URT_YIELD(co, cx);
	}
	URT_END(co, 0);
}

static void test_sched_worker_counters_sum_to_totals(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct nopper *n = calloc(CNT_TASKS, sizeof(*n));
	struct urt_task_handle *h = calloc(CNT_TASKS, sizeof(*h));
	struct urt_worker_stats ws;
	struct urt_stats st;
	uint64_t steals_in = 0, stolen_out = 0;

	(void)state;
	assert_non_null(n);
	assert_non_null(h);
	for (int i = 0; i < CNT_TASKS; i++) {
		urt_co_init(&n[i].co, nopper_run);
		assert_int_equal(urt_task_spawn(rt, &n[i].co.base, &h[i]), 0);
	}
	for (int i = 0; i < CNT_TASKS; i++)
		assert_int_equal(urt_task_join_blocking(&h[i]), 0);
	urt_rt_stats(rt, &st);
	assert_int_equal(st.workers, 2);
	assert_int_equal(st.ops_submitted, CNT_TASKS * CNT_OPS);
	assert_int_equal(st.ops_completed, CNT_TASKS * CNT_OPS);
	/* At least one poll per op and one per yield, plus the last. */
	assert_true(st.polls >= CNT_TASKS * (2 * CNT_OPS + 1));
	assert_int_equal(st.polls, WSUM(rt, polls));
	assert_int_equal(st.ops_submitted, WSUM(rt, ops_submitted));
	assert_int_equal(st.ops_completed, WSUM(rt, ops_completed));
	assert_int_equal(st.steals, WSUM(rt, steals_in));
	assert_int_equal(st.long_polls, WSUM(rt, long_polls));
	for (unsigned t = 0; t < 2; t++) {
		uint64_t row = 0;
		ws = wstats(rt, t);
		for (unsigned v = 0; v < 2; v++)
			row += urt_rt_steals(rt, t, v);
		assert_int_equal(row, ws.steals_in);
		assert_true(ws.steal_ops <= ws.steals_in);
		assert_int_equal(ws.queue_depth, 0);
		steals_in += ws.steals_in;
		stolen_out += ws.stolen_out;
	}
	assert_int_equal(steals_in, stolen_out);
	assert_int_equal(urt_rt_worker_stats(rt, 2, &ws), -EINVAL);
	assert_int_equal(urt_rt_steals(rt, 2, 0), 0);
	h_rt_free_clean(rt);
	free(n);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_sched_blocked_worker_queue_is_stolen_by_sibling),
		cmocka_unit_test(
			test_sched_task_woken_by_blocked_worker_runs_on_sibling),
		cmocka_unit_test(test_sched_long_poll_counted_with_task_id),
		cmocka_unit_test(test_sched_long_poll_zero_limit_counts_nothing),
		cmocka_unit_test(
			test_sched_migrated_task_op_completes_on_owner_ring),
		cmocka_unit_test(
			test_sched_abort_of_migrated_task_routes_cancel_to_owner),
		cmocka_unit_test(
			test_sched_foreign_spawn_unparks_parked_worker),
		cmocka_unit_test(
			test_sched_foreign_abort_wakes_task_on_parked_worker),
		cmocka_unit_test(
			test_sched_foreign_wake_runs_task_on_parked_worker),
		cmocka_unit_test(
			test_sched_task_spawns_joins_and_wakes_across_runtimes),
		cmocka_unit_test(test_sched_pinned_workers_run_on_their_cpu),
		cmocka_unit_test(
			test_sched_task_woken_by_running_task_runs_next_lifo),
		cmocka_unit_test(
			test_sched_budget_stops_ready_loop_starving_sibling),
		cmocka_unit_test(test_sched_worker_counters_sum_to_totals),
		cmocka_unit_test(test_sched_inject_flood_all_run_one_worker),
		cmocka_unit_test(
			test_sched_inject_queue_is_fifo_across_growth_and_spill),
		cmocka_unit_test(test_sched_inject_flood_all_run_two_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
