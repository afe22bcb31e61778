/* SPDX-License-Identifier: MIT */
/*
 * Workers: the loop, scheduling (LIFO slot, local queue, inject), work
 * stealing, searching and parking. Each worker owns one ring, created on its
 * own thread (SINGLE_ISSUER / DEFER_TASKRUN bind it to that thread), which
 * is both its reactor and its wake-up channel (MSG_RING CQEs). The runtime
 * object and the shutdown protocol are in rt.c; the queues in queue.c.
 *
 * Parking without lost wake-ups. A worker about to park: leaves the
 * searching state (seq_cst RMW on num_searching), increments num_parked
 * (seq_cst RMW), stores PARKED (seq_cst), then re-checks every run queue's
 * tail, the inject queue and the shutdown condition (seq_cst loads) before
 * it waits in io_uring_enter. A producer publishes work with a seq_cst
 * store or RMW (queue tail, inject_len) and then loads num_searching and
 * num_parked (seq_cst); if nobody searches and somebody parks, it CASes a
 * PARKED worker to NOTIFIED and sends it a MSG_RING. All of these are in
 * the single seq_cst order, so (Dekker) either the parking worker's
 * re-check sees the work, or the producer sees it counted as parked (and
 * a searcher, if one was counted, re-checks the same way when it parks).
 * The message's CQE ends the wait even if it lands before the worker
 * enters the kernel.
 *
 * The asymmetric form (rt->asym_park, when membarrier works: kernel 4.14+).
 * A seq_cst tail store costs every local push a full barrier, for the rare
 * park. Instead the push stores tail with release, and the parker, after
 * its seq_cst RMW on num_parked and before its re-check, calls
 * membarrier(PRIVATE_EXPEDITED): every CPU running one of our threads
 * executes a full barrier B before the call returns (one that is not
 * running passed a context switch, also a full barrier). Take a producer P
 * whose tail store S is followed in program order by its num_parked load
 * L (a compiler barrier keeps them in that order). If S precedes B in P's
 * order, S is visible once membarrier returns, and the re-check sees the
 * work. Otherwise L follows B, and B follows the parker's increment
 * (complete before the syscall), so L sees num_parked counted and P
 * notifies. Pushes to the global queue and task completion still use
 * seq_cst RMWs, which need no help. The cost moves to parking: an IPI to
 * each CPU running a thread of this process at that moment (a worker or
 * any application thread). If membarrier fails (ENOMEM), the worker parks
 * for at most FENCELESS_PARK_NS and looks again: late, never lost.
 *
 * Which producers notify. A plain thread pushing to the global queue
 * always runs the check above. A worker pushing to its own queue runs it
 * only when that leaves more than one task queued (surplus work, tokio's
 * rule): a lone task behind the running one is cheaper to run here than a
 * cross-CPU wake and a migration. The argument above holds for every
 * notifying push; a lone task that is not notified is found by its own
 * worker, or, if that worker blocks in a long poll, by an idle sibling on
 * its timed park (long_poll_ns / 2, only while some sibling runs), which
 * may also take a task from the stuck worker's LIFO slot (steal_lifo).
 *
 * Searching (tokio/Go). At most half the workers search at once. A worker
 * woken by notify starts searching (the notifier counted it). A searcher
 * that finds work stops searching; if it was the last one, it wakes another
 * parked worker, so that work spreads while there is more of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define EVENT_INTERVAL 61 /* ticks between reaps / inject checks (Go) */
#define FENCELESS_PARK_NS 1000000ull /* park bound if membarrier failed */
#define MAX_LIFO_POLLS 3  /* LIFO polls in a row before yielding (tokio) */

static __thread struct urt__worker *tl_worker;

struct urt__worker *urt__current_worker(void)
{
	return tl_worker;
}

/* A counter other threads write too. */
static void count(_Atomic uint64_t *c, uint64_t n)
{
	/* relaxed: statistics only */
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

#define count_own urt__count_own

/* ---------------------------------------------------------------------
 * Wake-ups
 * ------------------------------------------------------------------- */

/* 0: not tried, 1: registered, -1: unavailable. */
static _Atomic int membarrier_state;

bool urt__asym_barrier_init(void)
{
	/* relaxed: the syscalls are idempotent; racing callers agree */
	int st = atomic_load_explicit(&membarrier_state, memory_order_relaxed);
	long cmds;

	if (st)
		return st > 0;
	/* URT_NO_MEMBARRIER=1: the seq_cst push instead (tests run both) */
	const char *off = getenv("URT_NO_MEMBARRIER");
	if (off && *off && strcmp(off, "0")) {
		atomic_store_explicit(&membarrier_state, -1,
				      memory_order_relaxed);
		return false;
	}
	cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	st = cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
			     syscall(SYS_membarrier,
				     MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
				     0, 0) == 0
		     ? 1
		     : -1;
	atomic_store_explicit(&membarrier_state, st, memory_order_relaxed);
	return st > 0;
}

int urt__asym_barrier(void)
{
	/* Registered in urt__asym_barrier_init; may still fail (ENOMEM
	 * where the kernel allocates a CPU mask): then no barrier ran. */
	return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)
		       ? -errno
		       : 0;
}

static int send_wake(struct urt__worker *target)
{
	struct urt__worker *self = tl_worker;
	int ret;

	if (self && self->rt == target->rt && self->ring)
		ret = urt__ring_msg(self->ring, target->ring_fd, URT__UD_WAKE,
				    0);
	else
		ret = urt__msg_ring_sync(target->ring_fd, URT__UD_WAKE, 0);
	if (ret == 0 && self)
		count_own(&self->wakes_sent, 1);
	if (self)
		URT_TCHAIN_BREAK(self); /* a syscall, by this worker */
	return ret;
}

/* Wakes one parked worker to search, unless somebody searches already. */
static void notify_parked(struct urt_rt *rt)
{
	struct urt__worker *self = tl_worker;
	unsigned start;

	/* A lone worker pushing to its own queue has nobody to wake. */
	if (rt->nworkers == 1 && self && self->rt == rt)
		return;
	/* Keeps the caller's queue store before these loads in program
	 * order (the asymmetric form; see "Parking" at the top). */
	atomic_signal_fence(memory_order_seq_cst);
	/* seq_cst loads: see "Parking" at the top. */
	if (atomic_load(&rt->num_searching) != 0 ||
	    atomic_load(&rt->num_parked) == 0)
		return;
	/* Count the searcher we are about to wake before waking it. */
	atomic_fetch_add(&rt->num_searching, 1);
	start = atomic_fetch_add_explicit(&rt->next_unpark, 1,
					  memory_order_relaxed);
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urt__worker *w = &rt->workers[(start + i) % rt->nworkers];
		int expect = URT__W_PARKED;

		if (w == self ||
		    !atomic_compare_exchange_strong(&w->park, &expect,
						    URT__W_NOTIFIED))
			continue;
		count(&w->unparks, 1);
		if (send_wake(w) == 0)
			return;
		/*
		 * The message did not go out (ENOMEM...): w still sleeps.
		 * Take the claim back and try another. If w woke on its own
		 * meanwhile it saw NOTIFIED and took our searcher count:
		 * then this notify is done.
		 */
		expect = URT__W_NOTIFIED;
		if (!atomic_compare_exchange_strong(&w->park, &expect,
						    URT__W_PARKED))
			return;
	}
	atomic_fetch_sub(&rt->num_searching, 1);
}

void urt__unpark_all(struct urt_rt *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urt__worker *w = &rt->workers[i];
		int expect = URT__W_PARKED;

		if (w == tl_worker ||
		    !atomic_compare_exchange_strong(&w->park, &expect,
						    URT__W_RUNNING))
			continue;
		count(&w->unparks, 1);
		/* Shutdown cannot finish with a worker asleep: insist on
		 * transient failures (ENOMEM, EINTR), 1 ms apart. */
		for (int tries = 0; send_wake(w) != 0 && tries < 1000;
		     tries++) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
}

void urt__schedule(struct urt_rt *rt, struct urt_task *t,
		   enum urt__sched_kind kind)
{
	struct urt__worker *w = tl_worker;

	if (w && w->rt == rt) {
		/* Woken by the task running here (message passing): run it
		 * next, for latency. */
		if (kind == URT__SCHED_WAKE && w->cx.task &&
		    w->cx.task != t) {
			URT_TREC(w, URT_TR_WAKE, t->id, 0, URT_TRW_LIFO);
			/* acq_rel: publishes t to a sibling that may take it
			 * (stuck owner), and takes the previous one back */
			t = atomic_exchange_explicit(&w->lifo, t,
						     memory_order_acq_rel);
			if (!t)
				return;
		}
		if (kind == URT__SCHED_WAKE)
			URT_TREC(w, URT_TR_WAKE, t->id, 0, URT_TRW_LOCAL);
		if (urt__lq_push(&w->lq, rt, t))
			URT_TCHAIN_BREAK(w); /* the global queue's lock */
		uint32_t queued = urt__lq_len(&w->lq);
		/*
		 * A task that yields while it is alone in the local queue
		 * would run again at once; let the global queue go first
		 * then (otherwise it waits up to EVENT_INTERVAL polls, as in
		 * Go and tokio, which is the bound when the queue is busy).
		 */
		if (kind == URT__SCHED_YIELD && queued == 1 &&
		    atomic_load_explicit(&rt->inject_len,
					 memory_order_relaxed))
			w->inject_first = true;
		/*
		 * Wake a sibling only when there is more here than this
		 * worker is about to run (tokio's rule): one task queued
		 * behind the running one is cheaper to run here than to
		 * pay a cross-CPU wake and a migration for. If this worker
		 * then blocks, idle siblings find it on their timed park.
		 */
		if (queued > 1)
			notify_parked(rt);
		return;
	}
	if (kind == URT__SCHED_WAKE)
		URT_TREC(w, URT_TR_WAKE, t->id, 0, URT_TRW_INJECT);
	urt__inject_push(rt, &t, 1);
	notify_parked(rt);
}

/* ---------------------------------------------------------------------
 * Finding work
 * ------------------------------------------------------------------- */

static uint32_t rng_next(struct urt__worker *w)
{
	/* xorshift32: victim choice only */
	uint32_t x = w->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return w->rng = x;
}

static bool start_searching(struct urt__worker *w)
{
	struct urt_rt *rt = w->rt;

	if (w->searching)
		return true;
	/* At most half the workers search (a racy check: overshooting by
	 * one is harmless). */
	if (2 * atomic_load(&rt->num_searching) >= rt->nworkers)
		return false;
	atomic_fetch_add(&rt->num_searching, 1);
	w->searching = true;
	return true;
}

/* Leaves the searching state; the last searcher to find work wakes one
 * more worker, because there may be more where this came from. */
static void stop_searching(struct urt__worker *w, bool found)
{
	if (!w->searching)
		return;
	w->searching = false;
	if (atomic_fetch_sub(&w->rt->num_searching, 1) == 1 && found)
		notify_parked(w->rt);
}

static uint64_t coarse_ns(void);

/*
 * The LIFO slot is for message-passing latency and is normally left to its
 * owner (stealing it costs locality, tokio learned). But a task in it must
 * not starve behind a poll that blocks its worker: once the owner has been
 * in one poll for half the long-poll limit, a sibling takes it. Needs the
 * long-poll clock (long_poll_ns != 0).
 */
static struct urt_task *steal_lifo(struct urt__worker *v)
{
	uint64_t limit = v->rt->long_poll_ns / 2;
	struct urt_task *t;

	if (!limit ||
	    !atomic_load_explicit(&v->lifo, memory_order_relaxed) ||
	    !atomic_load_explicit(&v->poll_task, memory_order_relaxed) ||
	    coarse_ns() - atomic_load_explicit(&v->poll_start,
					       memory_order_relaxed) < limit)
		return NULL;
	/* acquire: pairs with the owner's exchange that put it there */
	t = atomic_exchange_explicit(&v->lifo, NULL, memory_order_acquire);
	if (t)
		t->flags |= URT__TF_STOLEN;
	return t;
}

/* A fair share of the global queue: len / workers + 1, at most half a
 * local queue (tokio's rule). */
static uint32_t inject_batch(struct urt__worker *w)
{
	size_t len = atomic_load_explicit(&w->rt->inject_len,
					  memory_order_relaxed);
	size_t max = len / w->rt->nworkers + 1;

	return max > URT_LOCAL_QUEUE_SIZE / 2 ? URT_LOCAL_QUEUE_SIZE / 2
					       : (uint32_t)max;
}

static struct urt_task *steal_work(struct urt__worker *w)
{
	struct urt_rt *rt = w->rt;
	unsigned n = rt->nworkers;
	size_t len = atomic_load(&rt->inject_len);
	struct urt_task *t;

	if (len) {
		t = urt__inject_pop(rt, &w->lq, inject_batch(w));
		if (t) {
			count_own(&w->inject_pops, 1);
			return t;
		}
	}
	unsigned start = rng_next(w) % n;
	for (unsigned i = 0; i < n; i++) {
		struct urt__worker *v = &rt->workers[(start + i) % n];
		uint32_t got;

		if (v == w)
			continue;
		t = urt__lq_steal_into(&v->lq, &w->lq, &got);
		if (!t && (t = steal_lifo(v)))
			got = 1;
		if (!t)
			continue;
		URT_TSTEAL(w, v->id, got);
		count_own(&w->steals_in, got);
		count_own(&w->steal_ops, 1);
		count(&v->stolen_out, got);
		if (rt->steal_matrix)
			count_own(&rt->steal_matrix[w->id * n + v->id], got); /* thief's row */
		return t;
	}
	return NULL;
}

/*
 * A searcher that found nothing keeps looking for a short while before it
 * parks, as long as a sibling runs (Go's spinning M). A producer that sees
 * it searching sends no wake (notify_parked), so a worker that spawns or
 * wakes tasks at a steady pace feeds its sibling without a cross-CPU wake
 * per batch (a MSG_RING wake of a sleeping vCPU costs tens of us here, and
 * the sender pays a try_to_wake_up in its syscall). Bounded: SPIN_ROUNDS
 * rounds of a pause burst and one steal pass, a few tens of us in all.
 * Returns a task it stole or took from the global queue; it also stops
 * when its own ring or queue got work (the caller looks at those).
 */
#define SPIN_ROUNDS 64
#define SPIN_PAUSES 32

static struct urt_task *spin_for_work(struct urt__worker *w)
{
	struct urt_rt *rt = w->rt;

	for (unsigned r = 0; r < SPIN_ROUNDS; r++) {
		/* relaxed: a hint only; park() re-checks with seq_cst */
		if (atomic_load_explicit(&rt->num_parked,
					 memory_order_relaxed) + 1 >=
			    rt->nworkers ||
		    atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
			return NULL;
		for (unsigned i = 0; i < SPIN_PAUSES; i++)
			urt__cpu_relax();
		/* On an oversubscribed machine the producer may be waiting
		 * for this CPU: let it have it. */
		sched_yield();
		if (urt__ring_reap(w->ring, false) > 0 ||
		    atomic_load_explicit(&w->lifo, memory_order_relaxed) ||
		    urt__lq_len(&w->lq))
			return NULL;
		struct urt_task *t = steal_work(w);
		if (t)
			return t;
	}
	return NULL;
}

static struct urt_task *next_task(struct urt__worker *w, unsigned *lifo_run)
{
	struct urt_task *t;

	/* relaxed check first: the exchange is an RMW */
	if (atomic_load_explicit(&w->lifo, memory_order_relaxed) &&
	    (t = atomic_exchange_explicit(&w->lifo, NULL,
					  memory_order_acquire))) {
		if (*lifo_run < MAX_LIFO_POLLS) {
			++*lifo_run;
			count_own(&w->lifo_polls, 1);
			return t;
		}
		/* Ping-pong pairs must not starve the queue. */
		if (urt__lq_push(&w->lq, w->rt, t))
			URT_TCHAIN_BREAK(w);
	}
	*lifo_run = 0;
	/*
	 * Fairness: the global queue gets a turn every EVENT_INTERVAL. Take
	 * a batch into the local queue, so that tasks which arrived there
	 * together (spawned by a plain thread) take turns when one yields,
	 * instead of the yielder running alone until the next turn.
	 */
	if ((w->tick % EVENT_INTERVAL == 0 || w->inject_first) &&
	    (t = urt__inject_pop(w->rt, &w->lq, inject_batch(w)))) {
		URT_TCHAIN_BREAK(w); /* the global queue's lock */
		w->inject_first = false;
		count_own(&w->inject_pops, 1);
		return t;
	}
	w->inject_first = false;
	if ((t = urt__lq_pop(&w->lq)))
		return t;
	if ((t = urt__inject_pop(w->rt, &w->lq, inject_batch(w)))) {
		URT_TCHAIN_BREAK(w);
		count_own(&w->inject_pops, 1);
	}
	return t;
}

/* ---------------------------------------------------------------------
 * The worker loop
 * ------------------------------------------------------------------- */

static void on_cqe(void *ctx, uint64_t ud, int res, uint32_t flags)
{
	struct urt__worker *w = ctx;
	void *p = (void *)(uintptr_t)(ud & ~(uint64_t)URT__UD_TAG_MASK);

	switch (ud & URT__UD_TAG_MASK) {
	case URT__UD_OP:
		count_own(&w->ops_completed, 1);
		URT_TREC(w, URT_TR_OP_COMPLETE,
			 ((struct urt_op *)p)->task->id, ud, (uint32_t)res);
		urt__op_complete(p, res, flags);
		break;
	case URT__UD_CANCEL: /* a sibling asks: cancel an op on our ring */
		urt__cancel_msg_handle(w, p);
		break;
	case URT__UD_WAKE:
		count_own(&w->wakes_received, 1);
		break;
	case URT__UD_IGNORE:
	default:
		break;
	}
}

/* Shutdown and every task finished (the ring may still owe CQEs). */
static bool tasks_done(struct urt_rt *rt)
{
	/* seq_cst: pairs with complete()'s decrement + shutdown check */
	return atomic_load(&rt->shutdown) &&
	       atomic_load(&rt->tasks_unfinished) == 0;
}

static bool shutdown_done(struct urt__worker *w)
{
	/* A routed cancel may still be on its way to this ring. */
	return tasks_done(w->rt) && atomic_load(&w->rt->msgs_inflight) == 0 &&
	       !atomic_load(&w->lifo) && urt__lq_len(&w->lq) == 0 &&
	       urt__ring_inflight(w->ring) == 0;
}

/*
 * The parking re-check. Sibling queues count only while nobody searches: a
 * producer that saw a searcher relies on it, and a searcher re-checks here
 * before it parks (after leaving the search), so a non-searching worker
 * may sleep instead of spinning while up to half the workers search.
 */
static bool work_visible(struct urt__worker *w)
{
	struct urt_rt *rt = w->rt;

	if (atomic_load(&rt->inject_len))
		return true;
	if (tasks_done(rt))
		return shutdown_done(w); /* else wait for the CQEs owed */
	if (atomic_load(&rt->num_searching))
		return false;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urt__lq *q = &rt->workers[i].lq;
		/* seq_cst: the re-check half of the parking argument */
		if (atomic_load(&q->tail) - (uint32_t)atomic_load(&q->head))
			return true;
	}
	return false;
}

static void publish_ring_stats(struct urt__worker *w)
{
	atomic_store_explicit(&w->ring_inflight, urt__ring_inflight(w->ring),
			      memory_order_relaxed);
	atomic_store_explicit(&w->sq_full_retries,
			      urt__ring_sq_full_retries(w->ring),
			      memory_order_relaxed);
	atomic_store_explicit(&w->cq_overflows,
			      urt__ring_cq_overflows(w->ring),
			      memory_order_relaxed);
}

static void park(struct urt__worker *w)
{
	struct urt_rt *rt = w->rt;
	int prev;

	publish_ring_stats(w);
	stop_searching(w, false);
	atomic_fetch_add(&rt->num_parked, 1);
	atomic_store(&w->park, URT__W_PARKED); /* seq_cst */
	/* The producers' half of the fence. Where it failed, a push may be
	 * invisible to the re-check and its producer may not have seen us
	 * parked: sleep at most FENCELESS_PARK_NS then, and look again. */
	bool fenced = !rt->asym_park || urt__asym_barrier() == 0;
	if (!work_visible(w)) {
		count_own(&w->parks, 1);
		/* Parked, this worker's events would wait unseen. */
		URT_TPARK(w, URT_TRP_IDLE);
		urt__trace_flush(w);
		/*
		 * While a sibling runs, wake now and then to look for a stuck
		 * one (a LIFO task behind a blocking poll: steal_lifo). All
		 * idle: sleep until a CQE.
		 */
		uint64_t tmo = 0;
		if (rt->long_poll_ns &&
		    atomic_load_explicit(&rt->num_parked,
					 memory_order_relaxed) < rt->nworkers)
			tmo = rt->long_poll_ns / 2;
		if (!fenced && (!tmo || tmo > FENCELESS_PARK_NS))
			tmo = FENCELESS_PARK_NS;
		(void)urt__ring_reap_timeout(w->ring, true, tmo);
		URT_PROBE(unpark, w->id,
			  atomic_load_explicit(&w->park,
					       memory_order_relaxed) ==
					  URT__W_NOTIFIED
				  ? URT_TRP_NOTIFIED
				  : URT_TRP_EVENT);
	}
	prev = atomic_exchange(&w->park, URT__W_RUNNING);
	atomic_fetch_sub(&rt->num_parked, 1);
	/* A notifier counted us as a searcher before it woke us. */
	if (prev == URT__W_NOTIFIED)
		w->searching = true;
}

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Long-poll detection with one coarse clock read per poll: the time from
 * one poll's start to the next one's (or to going idle) bounds the poll's
 * duration plus a little loop overhead, which is noise at a 10 ms limit.
 */
static void poll_clock(struct urt__worker *w, uint64_t next_id)
{
	uint64_t now;

	if (!w->rt->long_poll_ns)
		return;
	now = coarse_ns();
	uint64_t task = atomic_load_explicit(&w->poll_task,
					     memory_order_relaxed);
	uint64_t start = atomic_load_explicit(&w->poll_start,
					      memory_order_relaxed);
	if (task && now - start >= w->rt->long_poll_ns) {
		urt__note_long_poll(w, task, now - start);
		URT_TCHAIN_BREAK(w); /* a probe: a trap where attached */
	}
	atomic_store_explicit(&w->poll_start, now, memory_order_relaxed);
	atomic_store_explicit(&w->poll_task, next_id, memory_order_relaxed);
}

static void run(struct urt__worker *w, struct urt_task *t)
{
	poll_clock(w, t->id);
	urt__task_run(w, t);
}

static void worker_loop(struct urt__worker *w)
{
	unsigned lifo_run = 0;

	for (;;) {
		struct urt_task *t = next_task(w, &lifo_run);

		if (t) {
			/* Woken to search and found work: let go of the
			 * searcher slot (and pass the baton if last). */
			if (w->searching)
				stop_searching(w, true);
			run(w, t);
			if (++w->tick % EVENT_INTERVAL == 0) {
				(void)urt__ring_reap(w->ring, false);
				URT_TCHAIN_BREAK(w); /* a syscall, perhaps */
				/* a tracer left: its records go nowhere */
				URT_TFORGET_IF_DETACHED(w);
			}
			continue;
		}
		URT_TCHAIN_BREAK(w); /* idle: reaps, steals, spins, parks */
		w->tick++;
		if (atomic_load_explicit(&w->poll_task, memory_order_relaxed))
			poll_clock(w, 0);
		/* Out of tasks: submit what polls prepared, reap. */
		if (urt__ring_reap(w->ring, false) > 0 ||
		    atomic_load_explicit(&w->lifo, memory_order_relaxed) ||
		    urt__lq_len(&w->lq))
			continue;
		if (start_searching(w) &&
		    ((t = steal_work(w)) || (t = spin_for_work(w)))) {
			stop_searching(w, true);
			run(w, t);
			++w->tick;
			continue;
		}
		if (w->searching && (atomic_load_explicit(&w->lifo,
							  memory_order_relaxed) ||
				     urt__lq_len(&w->lq)))
			continue; /* the spin reaped work for this worker */
		if (shutdown_done(w))
			break;
		/*
		 * Every task ended, but ops they left behind (a finished task
		 * need not await all it started) would keep this ring busy
		 * until they complete by themselves: cancel them all, once.
		 */
		if (tasks_done(w->rt) && !w->cancelled_all &&
		    urt__ring_inflight(w->ring)) {
			w->cancelled_all = true;
			(void)urt__ring_cancel_all(w->ring);
			continue;
		}
		park(w);
	}
	stop_searching(w, false);
}

void *urt__worker_main(void *arg)
{
	struct urt__worker *w = arg;
	struct urt_rt *rt = w->rt;
	int err;

	tl_worker = w;
	w->cx.w = w;
	w->rng = 0x9e3779b9u * (w->id + 1);
	if (rt->cfg.flags & URT_CFG_PIN_WORKERS) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->id % (unsigned)(cpus > 0 ? cpus : 1), &set);
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set),
					     &set);
	}
	w->ring = urt__ring_new(&rt->cfg, on_cqe, w, &err);
	pthread_mutex_lock(&rt->start_lock);
	if (!w->ring) {
		if (!rt->start_err) {
			rt->start_err = err;
			snprintf(rt->start_msg, sizeof(rt->start_msg), "%s",
				 urt__ring_last_error());
		}
	} else {
		w->ring_fd = urt__ring_fd(w->ring);
		rt->ring_flags = urt__ring_setup_flags(w->ring);
	}
	rt->started++;
	pthread_cond_broadcast(&rt->start_cv);
	/* Wait for every sibling: all ring fds must be known before any
	 * task can try to wake a sibling. */
	while (rt->started < rt->nworkers)
		pthread_cond_wait(&rt->start_cv, &rt->start_lock);
	err = rt->start_err;
	pthread_mutex_unlock(&rt->start_lock);
	if (!err) {
		URT_PROBE(worker_start, w->id, (int)gettid());
		worker_loop(w);
		publish_ring_stats(w);
		urt__trace_flush(w);
		URT_PROBE(worker_stop, w->id, (int)gettid());
	}
	urt__trace_free(w);
	atomic_store(&w->park, URT__W_EXITED);
	urt__ring_free(w->ring);
	w->ring = NULL;
	tl_worker = NULL;
	return NULL;
}
