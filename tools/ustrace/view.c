// SPDX-License-Identifier: MIT
/*
 * The model behind what ustrace shows (workers, tasks, migrations, long
 * polls) and its three renderings: the live full-screen view, progress
 * lines for --no-live, and the final summary. Fed by ustrace.c; knows
 * nothing about BPF or files.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../../src/trace_format.h"
#include "view.h"

#define MAX_WORKERS 256
#define MAX_TIDS 1024
/* Runs of evicted ids kept (16 bytes each): ids are handed out in sequence,
 * so a run is broken only by a task still live (or never seen) */
#define TOMB_RUNS 4096
#define LOG_LINES 64 /* migration / warning lines kept for the screen */
/* progress mode: migration lines printed per tick, and as many warnings;
 * ustrace --no-live replays a whole log as one tick */
#define PLAIN_LINES_PER_TICK 8

enum wstate { W_UNKNOWN, W_RUNNING, W_SEARCHING, W_PARKED, W_STOPPED };

struct worker {
	bool seen;
	uint32_t tid, cpu;
	enum wstate st;
	uint64_t st_ts;	   /* ts of the event that set st */
	uint64_t task;	   /* running (W_RUNNING) or last polled */
	uint64_t begin_ts; /* its poll began */
	bool off_cpu;	   /* sched_switch'ed out, not back yet */
	bool preempted;	   /* ... while runnable */
	uint32_t qdepth;
	uint64_t polls, polls_tick, parks;
	uint64_t steals_in, steals_out, migr_in, migr_out, long_polls;
	uint64_t os_migrations, busy_ns;
	uint64_t long_task; /* last urt:long_poll's task, not yet matched */
	double polls_per_s;
	/* Every record of this worker up to wm_ts is in: its batches arrive
	 * in order, and it flushes before it parks or stops. flushed: it did
	 * (at flushed_ts), and has not run since as far as the view knows:
	 * nothing of its is on the way. Cleared by its UNPARK, or, when that
	 * never comes (-x unpark, or dropped), by a record newer than the
	 * park; until then a late record of it is possible (tombstones). */
	uint64_t wm_ts, flushed_ts;
	bool flushed;
};

enum tstate { T_SCHED, T_RUNNING, T_IDLE, T_DONE };

struct task {
	uint64_t id; /* 0: empty slot */
	enum tstate st;
	uint16_t worker, first_worker;
	uint32_t hops, polls;
	uint64_t busy_ns, sched_ns, idle_ns;
	uint64_t begin_ts, end_ts, ready_ts, last_ts;
	uint8_t last_hop_why;
};

struct ust_view {
	struct ust_view_opts o;
	struct worker w[MAX_WORKERS];
	unsigned nworkers; /* highest id seen + 1 */
	struct {
		uint32_t tid;
		uint16_t worker;
	} tids[MAX_TIDS];
	unsigned ntids;
	struct task *tasks;
	size_t tcap, tlen, tdone, tseen;
	size_t tdone_in; /* finished tasks still in the table */
	size_t evict_at; /* evict_done() when tdone_in gets there */
	unsigned sparse_rebuilds; /* in a row, with the table nearly empty */
	uint64_t *slot_ids; /* tcap slots: the id in each of tasks (0: empty) */
	/* tcap slots each, for evict_done() to rebuild into */
	uint64_t *spare_ids;
	struct task *spare;
	/* the finished tasks with the most hops, once evicted */
	struct task gone[8];
	/* The ids evicted, as sorted disjoint runs: a late record of one is
	 * dropped, not taken for a new task (ids are never reused). */
	struct {
		uint64_t lo, hi; /* inclusive */
	} tomb[TOMB_RUNS];
	size_t ntomb;
	uint64_t events, by_type[64], first_ts, last_ts, start_ns, tick_ns;
	uint64_t events_tick;
	double events_per_s;
	uint64_t migrations, steals, long_polls, os_migrations;
	uint64_t *steal_m; /* [thief * MAX_WORKERS + victim] */
	char log[LOG_LINES][96];
	unsigned log_head, log_len, plain_pending, plain_warned, plain_skipped;
	char warn[160];
	uint64_t longest_ns, longest_task;
	bool screen;
};

/* URT_TRM_*, then ours: a hop seen in the poll records (no urt:migrate) */
#define WHY_POLLS 3
static const char *const why_name[] = {"stolen", "injected", "woken",
				       "(polls)"};

static const char *why_str(unsigned why)
{
	return why <= WHY_POLLS ? why_name[why] : "?";
}

static void log_line(struct ust_view *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct worker *wk(struct ust_view *v, uint16_t id);
static void evict_done(struct ust_view *v);
/* evict_done() looks again at least this many finished tasks later */
#define EVICT_EVERY 4096
#define MIN_TCAP 4096

/* t: the task with this id, NULL where not held (evicted, or ENOMEM) */
static void hop(struct ust_view *v, struct task *t, uint64_t id, uint16_t from,
		uint16_t to, unsigned why)
{
	struct worker *w;

	v->migrations++;
	if ((w = wk(v, to)))
		w->migr_in++;
	if ((w = wk(v, from)))
		w->migr_out++;
	if (t) {
		t->hops++;
		t->last_hop_why = (uint8_t)why;
	}
	log_line(v, "task %-6llu w%u -> w%u  %s", (unsigned long long)id, from,
		 to, why_str(why));
}

/* ---------------------------------------------------------------------
 * Tasks: open addressing on the (never reused) task id
 * ------------------------------------------------------------------- */

/* Task ids are handed out in sequence: the id itself as the slot keeps
 * tasks that live at the same time next to each other (a scrambling hash
 * costs a cache miss per event, the consumer's main cost). */
static size_t hash64(uint64_t x)
{
	return (size_t)x;
}

/* Puts t into an empty table's arrays (no lookup: t is not there). */
static void slot_put(uint64_t *ids, struct task *tasks, size_t cap,
		     const struct task *t)
{
	size_t j;

	for (j = hash64(t->id) & (cap - 1); ids[j]; j = (j + 1) & (cap - 1))
		;
	ids[j] = t->id;
	tasks[j] = *t;
}

/* Moves the table to ncap slots (a power of 2 over twice its tasks). */
static bool tasks_resize(struct ust_view *v, size_t ncap)
{
	uint64_t *ni = calloc(ncap, sizeof(*ni));
	struct task *nt = malloc(ncap * sizeof(*nt));

	if (!ni || !nt) {
		free(ni);
		free(nt);
		return false;
	}
	for (size_t i = 0; i < v->tcap; i++)
		if (v->slot_ids[i])
			slot_put(ni, nt, ncap, &v->tasks[i]);
	free(v->slot_ids);
	free(v->tasks);
	/* evict_done() makes spares of the new size */
	free(v->spare_ids);
	free(v->spare);
	v->spare_ids = NULL;
	v->spare = NULL;
	v->slot_ids = ni;
	v->tasks = nt;
	v->tcap = ncap;
	return true;
}

/* ---------------------------------------------------------------------
 * Tombstones: the ids of evicted tasks, so that a record of one that comes
 * after its eviction (evict_done) does not make it anew
 * ------------------------------------------------------------------- */

/* The first run that ends at or after id (ntomb if none does). */
static size_t tomb_find(const struct ust_view *v, uint64_t id)
{
	size_t lo = 0, hi = v->ntomb;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;

		if (v->tomb[m].hi < id)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* Whether the task with this id was evicted. Asked on a table miss only:
 * a new task's id is above every run, two compares. */
static bool tombstoned(const struct ust_view *v, uint64_t id)
{
	size_t n = v->ntomb;

	if (!n || id > v->tomb[n - 1].hi || id < v->tomb[0].lo)
		return false;
	return v->tomb[tomb_find(v, id)].lo <= id;
}

/*
 * All TOMB_RUNS used: joins each run to the next where the gap between them
 * is no wider than the median gap, which frees at least half of them. The
 * ids in a gap so closed are in the table (live tasks: a hit there comes
 * before the tombstones are asked) or were never seen: only a first record
 * that comes later still for one of those is lost, and the narrowest gaps
 * hold the fewest. Linear (64 passes): once per TOMB_RUNS / 2 runs at most.
 */
static void tomb_compact(struct ust_view *v)
{
	size_t n = v->ntomb, j = 0;
	uint64_t lo = 0, hi = UINT64_MAX;

	while (lo < hi) { /* the smallest gap g with half of them <= g */
		uint64_t g = lo + (hi - lo) / 2;
		size_t k = 0;

		for (size_t i = 1; i < n; i++)
			k += v->tomb[i].lo - v->tomb[i - 1].hi <= g;
		if (2 * k >= n - 1)
			hi = g;
		else
			lo = g + 1;
	}
	for (size_t i = 1; i < n; i++) {
		if (v->tomb[i].lo - v->tomb[j].hi <= lo)
			v->tomb[j].hi = v->tomb[i].hi;
		else
			v->tomb[++j] = v->tomb[i];
	}
	v->ntomb = j + 1;
}

/* Adds the ids lo..hi (lo > 0), joined with the runs they touch. */
static void tomb_add(struct ust_view *v, uint64_t lo, uint64_t hi)
{
	size_t n = v->ntomb, i = tomb_find(v, lo - 1), j;

	/* runs i..j-1 touch lo..hi: they end at lo - 1 or later (tomb_find)
	 * and start at hi + 1 or before */
	for (j = i; j < n && v->tomb[j].lo - 1 <= hi; j++)
		;
	if (i < j) {
		if (v->tomb[i].lo < lo)
			lo = v->tomb[i].lo;
		if (v->tomb[j - 1].hi > hi)
			hi = v->tomb[j - 1].hi;
		memmove(&v->tomb[i + 1], &v->tomb[j],
			(n - j) * sizeof(v->tomb[0]));
		v->ntomb = n - (j - i - 1);
	} else if (n == TOMB_RUNS) {
		tomb_compact(v);
		tomb_add(v, lo, hi); /* once: half of the runs are free now */
		return;
	} else {
		memmove(&v->tomb[i + 1], &v->tomb[i],
			(n - i) * sizeof(v->tomb[0]));
		v->ntomb++;
	}
	v->tomb[i].lo = lo;
	v->tomb[i].hi = hi;
}

/*
 * The task with this id, created on first sight; NULL for id 0, for a task
 * evicted already (the record came late: dropped), or ENOMEM. Probing
 * reads the ids alone (8 bytes a slot, not a whole task).
 */
static struct task *task_get(struct ust_view *v, uint64_t id, uint64_t ts)
{
	struct task *t;
	size_t i;

	if (!id)
		return NULL;
	if (v->tlen * 2 >= v->tcap &&
	    !tasks_resize(v, v->tcap ? v->tcap * 2 : MIN_TCAP))
		return NULL;
	for (i = hash64(id) & (v->tcap - 1); v->slot_ids[i];
	     i = (i + 1) & (v->tcap - 1))
		if (v->slot_ids[i] == id)
			return &v->tasks[i];
	if (tombstoned(v, id))
		return NULL;
	v->tlen++;
	v->tseen++;
	v->slot_ids[i] = id;
	t = &v->tasks[i];
	memset(t, 0, sizeof(*t));
	t->id = id;
	t->st = T_SCHED;
	t->ready_ts = ts;
	t->worker = UST_NO_WORKER;
	t->first_worker = UST_NO_WORKER;
	return t;
}

/* ---------------------------------------------------------------------
 * Feeding events
 * ------------------------------------------------------------------- */

static struct worker *wk(struct ust_view *v, uint16_t id)
{
	if (id >= MAX_WORKERS)
		return NULL;
	if (id >= v->nworkers)
		v->nworkers = id + 1u;
	v->w[id].seen = true;
	return &v->w[id];
}

static struct worker *wk_by_tid(struct ust_view *v, uint32_t tid)
{
	for (unsigned i = 0; i < v->ntids; i++)
		if (v->tids[i].tid == tid)
			return &v->w[v->tids[i].worker];
	return NULL;
}

/*
 * Which thread a worker is: from urt:worker_start, or (attached to a
 * running process, after the workers started) from the first record the
 * worker's own thread produced: poll records and park/unpark.
 */
static void learn_tid(struct ust_view *v, uint16_t worker, uint32_t tid)
{
	if (worker >= MAX_WORKERS || !tid || v->w[worker].tid == tid)
		return;
	v->w[worker].tid = tid;
	for (unsigned i = 0; i < v->ntids; i++)
		if (v->tids[i].worker == worker) {
			v->tids[i].tid = tid;
			return;
		}
	if (v->ntids < MAX_TIDS) {
		v->tids[v->ntids].tid = tid;
		v->tids[v->ntids++].worker = worker;
	}
}

static void set_state(struct worker *w, enum wstate st, uint64_t ts)
{
	/* A batch arrives after the direct probes that followed it: never
	 * let an older record override a newer state. */
	if (ts < w->st_ts)
		return;
	w->st = st;
	w->st_ts = ts;
}

static void log_line(struct ust_view *v, const char *fmt, ...)
{
	bool warning = !strncmp(fmt, "WARNING", 7) || !strcmp(fmt, "%s");
	unsigned i = (v->log_head + v->log_len) % LOG_LINES;
	va_list ap;

	if (v->log_len == LOG_LINES)
		v->log_head = (v->log_head + 1) % LOG_LINES;
	else
		v->log_len++;
	va_start(ap, fmt);
	vsnprintf(v->log[i], sizeof(v->log[i]), fmt, ap);
	va_end(ap);
	if (!v->o.live) {
		/* progress mode: a few of each per tick, the rest counted */
		unsigned *n = warning ? &v->plain_warned : &v->plain_pending;

		if (*n < PLAIN_LINES_PER_TICK) {
			fprintf(v->o.out, "  %s\n", v->log[i]);
			++*n;
		} else {
			v->plain_skipped++;
		}
	}
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void long_poll(struct ust_view *v, uint64_t task, uint16_t worker,
		      uint64_t ns, const char *src)
{
	v->long_polls++;
	if (ns > v->longest_ns) {
		v->longest_ns = ns;
		v->longest_task = task;
	}
	snprintf(v->warn, sizeof(v->warn),
		 "WARNING: task %llu blocked worker w%u for %.1f ms in one "
		 "poll (%s)",
		 (unsigned long long)task, worker, ms(ns), src);
	log_line(v, "%s", v->warn);
}

/*
 * Batches of different workers arrive in any order, so a task's records
 * may come late: its state and times follow only records newer than the
 * last one applied (t->last_ts); poll counts and busy time (measured per
 * worker, whose own records are in order) take every record.
 */
static bool task_in_order(struct task *t, uint64_t ts)
{
	if (ts < t->last_ts)
		return false;
	t->last_ts = ts;
	return true;
}

static void on_poll_begin(struct ust_view *v, const struct ust_event *e)
{
	struct worker *w = wk(v, e->worker);
	struct task *t = task_get(v, e->task, e->ts_ns);

	if (w) {
		set_state(w, W_RUNNING, e->ts_ns);
		w->task = e->task;
		w->begin_ts = e->ts_ns;
		w->qdepth = e->arg;
		w->polls++;
	}
	if (!t)
		return;
	t->polls++;
	if (t->first_worker == UST_NO_WORKER)
		t->first_worker = e->worker;
	if (t->st == T_DONE || !task_in_order(t, e->ts_ns))
		return;
	if (v->o.hops_from_polls && t->worker != UST_NO_WORKER &&
	    t->worker != e->worker)
		hop(v, t, t->id, t->worker, e->worker, WHY_POLLS);
	if (t->st == T_SCHED && t->ready_ts && e->ts_ns > t->ready_ts)
		t->sched_ns += e->ts_ns - t->ready_ts;
	else if (t->st == T_IDLE && e->ts_ns > t->end_ts)
		t->idle_ns += e->ts_ns - t->end_ts; /* incl. yields, unseen */
	t->st = T_RUNNING;
	t->worker = e->worker;
	t->begin_ts = e->ts_ns;
}

static void on_poll_end(struct ust_view *v, const struct ust_event *e)
{
	struct worker *w = wk(v, e->worker);
	struct task *t = task_get(v, e->task, e->ts_ns);
	uint64_t d = 0;

	if (w && w->task == e->task && e->ts_ns >= w->begin_ts) {
		d = e->ts_ns - w->begin_ts;
		w->busy_ns += d;
	}
	if (w)
		set_state(w, W_SEARCHING, e->ts_ns);
	/* the runtime's own urt:long_poll (direct, so it came first) */
	if (w && w->long_task == e->task)
		w->long_task = 0;
	else if (v->o.long_poll_ns && d >= v->o.long_poll_ns)
		long_poll(v, e->task, e->worker, d, "poll begin/end");
	if (!t)
		return;
	t->busy_ns += d;
	if (!task_in_order(t, e->ts_ns) || t->st == T_DONE)
		return;
	t->end_ts = e->ts_ns;
	t->st = e->arg ? T_DONE : T_IDLE;
	/* woken during its own poll: queued again at once */
	if (t->st == T_IDLE && t->ready_ts > t->begin_ts) {
		t->st = T_SCHED;
		t->ready_ts = e->ts_ns;
	}
}

void ust_view_event(struct ust_view *v, const struct ust_event *e)
{
	struct worker *w, *w2;
	struct task *t;

	v->events++;
	v->by_type[e->type & 63]++;
	if (!v->first_ts || e->ts_ns < v->first_ts)
		v->first_ts = e->ts_ns;
	if (e->ts_ns > v->last_ts)
		v->last_ts = e->ts_ns;
	/* types 1..7 come only in batches (decode.c) */
	if (e->type <= UST_EXIT && e->worker < MAX_WORKERS &&
	    e->ts_ns > v->w[e->worker].wm_ts) {
		w = &v->w[e->worker];
		w->wm_ts = e->ts_ns;
		/* recorded after its park: it runs again, and its UNPARK
		 * will not come (-x unpark, or dropped) */
		if (w->flushed && e->ts_ns > w->flushed_ts)
			w->flushed = false;
	}
	switch (e->type) {
	case UST_POLL_BEGIN:
		if (e->worker < MAX_WORKERS && !v->w[e->worker].tid)
			learn_tid(v, e->worker, e->tid);
		on_poll_begin(v, e);
		break;
	case UST_POLL_END:
		on_poll_end(v, e);
		break;
	case UST_WAKE:
		t = task_get(v, e->task, e->ts_ns);
		if (!t || !task_in_order(t, e->ts_ns))
			break;
		if (t->st == T_IDLE && e->ts_ns >= t->end_ts) {
			t->idle_ns += e->ts_ns - t->end_ts;
			t->st = T_SCHED;
		}
		t->ready_ts = e->ts_ns;
		break;
	case UST_SPAWN:
	case UST_SPAWN_FOREIGN:
		(void)task_get(v, e->task, e->ts_ns);
		break;
	case UST_EXIT: /* after POLL_END(ready), or an abort */
		t = task_get(v, e->task, e->ts_ns);
		if (t) {
			t->st = T_DONE; /* final, whatever comes late */
			t->end_ts = e->ts_ns > t->end_ts ? e->ts_ns : t->end_ts;
			v->tdone++;
			if (++v->tdone_in >= v->evict_at)
				evict_done(v);
		}
		break;
	case UST_ABORT:
		break;
	case UST_WORKER_START:
		if ((w = wk(v, e->worker))) {
			learn_tid(v, e->worker, e->arg);
			set_state(w, W_SEARCHING, e->ts_ns);
		}
		break;
	case UST_WORKER_STOP:
		if ((w = wk(v, e->worker))) {
			set_state(w, W_STOPPED, e->ts_ns);
			w->flushed = true;
			w->flushed_ts = e->ts_ns;
		}
		break;
	case UST_STEAL:
		w = wk(v, e->worker);
		w2 = wk(v, e->worker2);
		if (w)
			w->steals_in += e->arg;
		if (w2)
			w2->steals_out += e->arg;
		v->steals += e->arg;
		if (w && w2 && v->steal_m)
			v->steal_m[e->worker * MAX_WORKERS + e->worker2] +=
			    e->arg;
		break;
	case UST_MIGRATE:
		/* the runtime reports hops itself (as a batch record while
		 * tracing, in newer liburt): stop deriving them */
		v->o.hops_from_polls = false;
		hop(v, task_get(v, e->task, e->ts_ns), e->task, e->worker2,
		    e->worker, e->arg);
		break;
	case UST_PARK:
		if ((w = wk(v, e->worker))) {
			if (!w->tid)
				learn_tid(v, e->worker, e->tid);
			set_state(w, W_PARKED, e->ts_ns);
			w->parks++;
			w->flushed = true;
			w->flushed_ts = e->ts_ns;
		}
		break;
	case UST_UNPARK:
		if ((w = wk(v, e->worker))) {
			set_state(w, W_SEARCHING, e->ts_ns);
			w->flushed = false;
		}
		break;
	case UST_LONG_POLL:
		if ((w = wk(v, e->worker))) {
			w->long_polls++;
			w->long_task = e->task;
		}
		long_poll(v, e->task, e->worker, e->data, "runtime");
		break;
	case UST_SCHED_SWITCH:
		if ((w = wk_by_tid(v, e->tid))) {
			w->off_cpu = true;
			w->preempted = e->arg;
		}
		break;
	case UST_SCHED_SWITCH_IN:
		if ((w = wk_by_tid(v, e->tid))) {
			w->off_cpu = false;
			w->preempted = false;
			w->cpu = e->cpu;
		}
		break;
	case UST_SCHED_MIGRATE:
		v->os_migrations++;
		if ((w = wk_by_tid(v, e->tid)))
			w->os_migrations++;
		break;
	default:
		break;
	}
}

uint64_t ust_view_events(const struct ust_view *v)
{
	return v->events;
}

/*
 * Forgets finished tasks once no record of theirs can still be on the way,
 * so that a trace of many short tasks needs memory (and cache) for the live
 * ones only. Every record of a task is older than its exit, and each
 * worker's records arrive in order: a task that finished at E is complete
 * once every worker has shown a record after E, or has flushed all (parked,
 * stopped). A worker never seen (attached late, silent so far) is not
 * waited for, nor one whose unpark the view has not heard of yet, and a
 * wake may be recorded just after the poll that ended the task: a record
 * can come late all the same, and the tombstones drop it. The finished
 * tasks with the most hops are kept for the view.
 */
static void keep_gone(struct ust_view *v, const struct task *t)
{
	size_t n = sizeof(v->gone) / sizeof(v->gone[0]), min = 0;

	for (size_t i = 1; i < n; i++)
		if (v->gone[i].hops < v->gone[min].hops)
			min = i;
	if (!v->gone[min].id || t->hops > v->gone[min].hops)
		v->gone[min] = *t;
}

/*
 * Rebuilds the table without the finished tasks that are complete, when
 * they are most of it: linear in its size (removing them one by one would
 * walk long runs of linear probing: the ids are consecutive). Into a
 * second table kept for this, so that no fresh memory is touched each
 * time. The next look comes after as many more finished tasks as the
 * table keeps (a watermark held back by a busy worker that has not
 * flushed costs rebuilds ever further apart), and a table that stays
 * nearly empty shrinks.
 */
static void evict_done(struct ust_view *v)
{
	uint64_t wm = UINT64_MAX;
	uint64_t run_lo = 0, run_hi = 0; /* evicted, not in v->tomb yet */
	size_t cap = v->tcap, len = 0, done = 0, finished;
	uint64_t *oi = v->slot_ids;
	struct task *ot = v->tasks;

	if (v->tdone_in < EVICT_EVERY || v->tdone_in * 2 < v->tlen) {
		v->evict_at = v->tdone_in + EVICT_EVERY;
		return;
	}
	for (unsigned i = 0; i < v->nworkers; i++)
		if (v->w[i].seen && !v->w[i].flushed && v->w[i].wm_ts < wm)
			wm = v->w[i].wm_ts;
	if (!v->spare_ids) {
		v->spare_ids = malloc(cap * sizeof(*v->spare_ids));
		v->spare = malloc(cap * sizeof(*v->spare));
		if (!v->spare_ids || !v->spare) {
			free(v->spare_ids);
			free(v->spare);
			v->spare_ids = NULL;
			v->spare = NULL;
			return; /* out of memory: keep them all */
		}
	}
	memset(v->spare_ids, 0, cap * sizeof(*v->spare_ids));
	for (size_t i = 0; i < cap; i++) {
		struct task *t = &ot[i];

		if (!oi[i])
			continue;
		if (t->st == T_DONE && t->end_ts < wm) {
			keep_gone(v, t);
			/* slot order is id order, but where it wraps */
			if (!run_lo || t->id != run_hi + 1) {
				if (run_lo)
					tomb_add(v, run_lo, run_hi);
				run_lo = t->id;
			}
			run_hi = t->id;
			continue;
		}
		slot_put(v->spare_ids, v->spare, cap, t);
		len++;
		done += t->st == T_DONE;
	}
	if (run_lo)
		tomb_add(v, run_lo, run_hi);
	v->slot_ids = v->spare_ids;
	v->tasks = v->spare;
	v->spare_ids = oi;
	v->spare = ot;
	finished = v->tdone_in;
	v->tlen = len;
	v->tdone_in = done;
	/* held back (most finished ones kept): wait for as many again */
	v->evict_at = done + (done * 2 > finished && len > EVICT_EVERY
				  ? len
				  : EVICT_EVERY);
	/* Not at once: bursts of live tasks come again (spawn_many's
	 * would make it shrink and grow, each time on fresh memory). */
	v->sparse_rebuilds = len * 32 < cap ? v->sparse_rebuilds + 1 : 0;
	if (cap > MIN_TCAP && v->sparse_rebuilds >= 16) {
		v->sparse_rebuilds = 0;
		(void)tasks_resize(v, cap / 2);
	}
}

/* ---------------------------------------------------------------------
 * Drawing
 * ------------------------------------------------------------------- */

static const char *wstate_str(const struct worker *w, char *buf, size_t n)
{
	if (w->st == W_STOPPED)
		return "stopped";
	if (w->off_cpu && w->preempted) {
		if (w->st == W_RUNNING)
			snprintf(buf, n, "PREEMPTED by OS (task %llu)",
				 (unsigned long long)w->task);
		else
			snprintf(buf, n, "PREEMPTED by OS");
		return buf;
	}
	switch (w->st) {
	case W_RUNNING:
		snprintf(buf, n, "%s task %llu",
			 w->off_cpu ? "blocked in OS," : "running",
			 (unsigned long long)w->task);
		return buf;
	case W_SEARCHING:
		return "searching";
	case W_PARKED:
		return "parked";
	default:
		return "?";
	}
}

static int term_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 10)
		return ws.ws_row;
	return 40;
}

static int cmp_task(const void *a, const void *b)
{
	const struct task *x = *(struct task *const *)a;
	const struct task *y = *(struct task *const *)b;

	/* live first, then most hops, then most busy */
	if ((x->st == T_DONE) != (y->st == T_DONE))
		return x->st == T_DONE ? 1 : -1;
	if (x->hops != y->hops)
		return x->hops < y->hops ? 1 : -1;
	if (x->busy_ns != y->busy_ns)
		return x->busy_ns < y->busy_ns ? 1 : -1;
	return x->id < y->id ? -1 : 1;
}

/* Keeps the n most interesting in out[0..*k), sorted: one insertion. */
static void top_add(struct task **out, size_t *k, size_t n, struct task *t)
{
	size_t i = *k;

	if (i == n) {
		if (cmp_task(&t, &out[n - 1]) >= 0)
			return; /* the common case: not among the top */
		i--;
	} else {
		++*k;
	}
	for (; i && cmp_task(&t, &out[i - 1]) < 0; i--)
		out[i] = out[i - 1];
	out[i] = t;
}

/*
 * The n most interesting tasks into out (sorted); returns how many. One
 * pass, not a sort of the whole table: the live view does this four times
 * a second, and a program may have a million tasks.
 */
static size_t top_tasks(struct ust_view *v, struct task **out, size_t n)
{
	size_t ngone = sizeof(v->gone) / sizeof(v->gone[0]);
	size_t k = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < v->tcap; i++)
		if (v->slot_ids[i])
			top_add(out, &k, n, &v->tasks[i]);
	for (size_t i = 0; i < ngone; i++)
		if (v->gone[i].id)
			top_add(out, &k, n, &v->gone[i]);
	return k;
}

static const char *tstate_str(enum tstate s)
{
	static const char *const n[] = {"SCHED", "RUNNING", "IDLE", "DONE"};

	return n[s];
}

static void print_workers(struct ust_view *v, FILE *f, const char *eol)
{
	char buf[64];

	fprintf(f, "%-4s %-7s %-30s %5s %9s %8s %8s %6s %5s%s\n", "WKR", "TID",
		"STATE", "QUEUE", "POLLS/s", "STEAL-IN", "STEAL-OUT", "HOPS-IN",
		"CPU", eol);
	for (unsigned i = 0; i < v->nworkers; i++) {
		struct worker *w = &v->w[i];

		if (!w->seen)
			continue;
		fprintf(f,
			"w%-3u %-7u %-30s %5u %9.0f %8llu %8llu %6llu %5u%s\n",
			i, w->tid, wstate_str(w, buf, sizeof(buf)), w->qdepth,
			w->polls_per_s, (unsigned long long)w->steals_in,
			(unsigned long long)w->steals_out,
			(unsigned long long)w->migr_in, w->cpu, eol);
	}
}

static void print_tasks(struct ust_view *v, FILE *f, size_t n, const char *eol)
{
	struct task *top[64];
	size_t k;

	if (n > 64)
		n = 64;
	k = top_tasks(v, top, n);
	fprintf(f, "%-8s %-7s %-5s %5s %6s %10s %10s %10s %-8s%s\n", "TASK",
		"STATE", "WKR", "HOPS", "POLLS", "BUSY ms", "SCHED ms",
		"IDLE ms", "LAST HOP", eol);
	for (size_t i = 0; i < k; i++) {
		struct task *t = top[i];
		char wb[8] = "-";

		if (t->worker != UST_NO_WORKER)
			snprintf(wb, sizeof(wb), "w%u", t->worker);
		fprintf(
		    f, "%-8llu %-7s %-5s %5u %6u %10.2f %10.2f %10.2f %-8s%s\n",
		    (unsigned long long)t->id, tstate_str(t->st), wb, t->hops,
		    t->polls, ms(t->busy_ns), ms(t->sched_ns), ms(t->idle_ns),
		    t->hops ? why_str(t->last_hop_why) : "", eol);
	}
}

static void draw_live(struct ust_view *v, uint64_t now_ns, uint64_t drops)
{
	FILE *f = v->o.out;
	int rows = term_rows(), used, logn;
	const char *eol = "\033[K";

	if (!v->screen) {
		/* alternate screen, cursor hidden */
		fputs("\033[?1049h\033[?25l", f);
		v->screen = true;
	}
	fputs("\033[H", f);
	fprintf(
	    f,
	    "\033[1mustrace\033[0m  pid %u  %s  %.1fs   events %llu "
	    "(%.0f/s)  migrations %llu  steals %llu  OS migrations %llu  "
	    "%sdrops %llu\033[0m%s\n",
	    v->o.pid, v->o.title ? v->o.title : "",
	    (double)(now_ns - v->start_ns) / 1e9, (unsigned long long)v->events,
	    v->events_per_s, (unsigned long long)v->migrations,
	    (unsigned long long)v->steals, (unsigned long long)v->os_migrations,
	    drops ? "\033[1;31m" : "", (unsigned long long)drops, eol);
	fprintf(f, "%s\n", eol);
	print_workers(v, f, eol);
	used = 3 + (int)v->nworkers + 1;
	fprintf(f, "%s\n", eol);
	if (v->warn[0])
		fprintf(f, "\033[1;33m%s\033[0m%s\n", v->warn, eol);
	else
		fprintf(f, "no poll over %.0f ms so far%s\n",
			ms(v->o.long_poll_ns), eol);
	fprintf(f, "%s\n", eol);
	used += 3;
	logn = (rows - used) / 3;
	if (logn > 12)
		logn = 12;
	if (logn < 3)
		logn = 3;
	print_tasks(
	    v, f,
	    (size_t)(rows - used - logn - 3 > 1 ? rows - used - logn - 3 : 1),
	    eol);
	fprintf(f, "%s\n\033[1mmigrations\033[0m  (Ctrl-C stops)%s\n", eol,
		eol);
	for (int i = 0; i < logn; i++) {
		int idx = (int)v->log_len - logn + i;

		if (idx >= 0)
			fputs(v->log[(v->log_head + (unsigned)idx) % LOG_LINES],
			      f);
		fprintf(f, "%s\n", eol);
	}
	fputs("\033[J", f);
	fflush(f);
}

static void print_plain(struct ust_view *v, uint64_t now_ns, uint64_t drops)
{
	FILE *f = v->o.out;

	if (v->plain_skipped)
		fprintf(f, "  ... %u more\n", v->plain_skipped);
	v->plain_pending = 0;
	v->plain_warned = 0;
	v->plain_skipped = 0;
	fprintf(f,
		"[%5.1fs] events %llu (%.0f/s) drops %llu migrations %llu "
		"steals %llu |",
		(double)(now_ns - v->start_ns) / 1e9,
		(unsigned long long)v->events, v->events_per_s,
		(unsigned long long)drops, (unsigned long long)v->migrations,
		(unsigned long long)v->steals);
	for (unsigned i = 0; i < v->nworkers; i++) {
		char buf[64];

		if (v->w[i].seen)
			fprintf(f, " w%u %s %.0f polls/s;", i,
				wstate_str(&v->w[i], buf, sizeof(buf)),
				v->w[i].polls_per_s);
	}
	fputc('\n', f);
	fflush(f);
}

void ust_view_tick(struct ust_view *v, uint64_t now_ns, uint64_t drops)
{
	double dt;

	if (!v->tick_ns)
		v->tick_ns = v->start_ns;
	dt = (double)(now_ns - v->tick_ns) / 1e9;
	if (dt > 0) {
		v->events_per_s = (double)(v->events - v->events_tick) / dt;
		for (unsigned i = 0; i < v->nworkers; i++) {
			struct worker *w = &v->w[i];

			w->polls_per_s =
			    (double)(w->polls - w->polls_tick) / dt;
			w->polls_tick = w->polls;
		}
	}
	v->events_tick = v->events;
	v->tick_ns = now_ns;
	evict_done(v);
	if (v->o.live)
		draw_live(v, now_ns, drops);
	else
		print_plain(v, now_ns, drops);
}

void ust_view_finish(struct ust_view *v, FILE *f, uint64_t drops)
{
	if (v->screen) {
		fputs("\033[?25h\033[?1049l", v->o.out);
		fflush(v->o.out);
		v->screen = false;
	}
	if (!v->o.live && v->plain_skipped)
		fprintf(v->o.out, "  ... %u more\n", v->plain_skipped);
	fprintf(f, "\n== ustrace summary: pid %u %s ==\n", v->o.pid,
		v->o.title ? v->o.title : "");
	fprintf(f, "events %llu over %.3f s, ring buffer drops %llu%s\n",
		(unsigned long long)v->events,
		v->last_ts > v->first_ts
		    ? (double)(v->last_ts - v->first_ts) / 1e9
		    : 0.0,
		(unsigned long long)drops,
		drops ? "  (EVENTS WERE LOST: counts below are low)" : "");
	fprintf(f,
		"tasks seen %zu (finished %zu), migrations %llu, steals "
		"%llu, OS thread migrations %llu, long polls %llu",
		v->tseen, v->tdone, (unsigned long long)v->migrations,
		(unsigned long long)v->steals,
		(unsigned long long)v->os_migrations,
		(unsigned long long)v->long_polls);
	if (v->long_polls)
		fprintf(f, " (longest %.1f ms, task %llu)", ms(v->longest_ns),
			(unsigned long long)v->longest_task);
	fprintf(f, "\n\n%-4s %-7s %9s %7s %8s %9s %7s %8s %8s %9s\n", "WKR",
		"TID", "POLLS", "PARKS", "STEAL-IN", "STEAL-OUT", "HOPS-IN",
		"HOPS-OUT", "BUSY ms", "OS-MIGR");
	for (unsigned i = 0; i < v->nworkers; i++) {
		struct worker *w = &v->w[i];

		if (!w->seen)
			continue;
		fprintf(f,
			"w%-3u %-7u %9llu %7llu %8llu %9llu %7llu %8llu "
			"%8.1f %9llu\n",
			i, w->tid, (unsigned long long)w->polls,
			(unsigned long long)w->parks,
			(unsigned long long)w->steals_in,
			(unsigned long long)w->steals_out,
			(unsigned long long)w->migr_in,
			(unsigned long long)w->migr_out, ms(w->busy_ns),
			(unsigned long long)w->os_migrations);
	}
	if (v->steals && v->nworkers <= 16) {
		fprintf(f, "\nsteal matrix (row: thief, column: victim)\n    ");
		for (unsigned j = 0; j < v->nworkers; j++)
			fprintf(f, " %7s%u", "w", j);
		fputc('\n', f);
		for (unsigned i = 0; i < v->nworkers; i++) {
			fprintf(f, "w%-3u", i);
			for (unsigned j = 0; j < v->nworkers; j++)
				fprintf(f, " %8llu",
					(unsigned long long)
					    v->steal_m[i * MAX_WORKERS + j]);
			fputc('\n', f);
		}
	}
	if (v->tseen) {
		fprintf(f, "\ntasks with the most hops\n");
		print_tasks(v, f, 8, "");
	}
	if (v->log_len) {
		unsigned n = v->log_len < 8 ? v->log_len : 8;

		fprintf(f, "\nlast %u migrations / warnings\n", n);
		for (unsigned i = v->log_len - n; i < v->log_len; i++)
			fprintf(f, "  %s\n",
				v->log[(v->log_head + i) % LOG_LINES]);
	}
	fflush(f);
}

struct ust_view *ust_view_new(const struct ust_view_opts *o)
{
	struct ust_view *v = calloc(1, sizeof(*v));
	struct timespec ts;

	if (!v)
		return NULL;
	v->o = *o;
	v->steal_m =
	    calloc((size_t)MAX_WORKERS * MAX_WORKERS, sizeof(*v->steal_m));
	if (!v->steal_m) {
		free(v);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v->start_ns =
	    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	return v;
}

void ust_view_free(struct ust_view *v)
{
	if (!v)
		return;
	free(v->slot_ids);
	free(v->tasks);
	free(v->spare_ids);
	free(v->spare);
	free(v->steal_m);
	free(v);
}
