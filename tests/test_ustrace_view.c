/* SPDX-License-Identifier: MIT */
/*
 * tools/ustrace/view.c on canned events: the view forgets a finished task
 * once its watermarks say no record of it can still come, and a record that
 * comes anyway (a worker not yet seen under -p, a park whose UNPARK never
 * came, a wake recorded just after the last poll) must not bring the task
 * back. Checked through the summary the view prints. No privileges.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "trace_format.h"
#include "ustrace.h"
#include "view.h"

/* Over EVICT_EVERY (view.c): the view evicts at least once. */
#define NTASKS 6000u

struct canned {
	struct ust_view *v;
	char *out; /* progress lines (--no-live) */
	size_t out_len;
	FILE *out_f;
};

static void canned_init(struct canned *c)
{
	memset(c, 0, sizeof(*c));
	c->out_f = open_memstream(&c->out, &c->out_len);
	assert_non_null(c->out_f);
	c->v = ust_view_new(&(struct ust_view_opts){
	    .live = false, .out = c->out_f, .title = "canned", .pid = 1});
	assert_non_null(c->v);
}

static void ev(struct canned *c, uint16_t type, uint64_t ts, uint64_t task,
	       uint16_t worker, uint32_t arg)
{
	struct ust_event e = {.ts_ns = ts,
			      .task = task,
			      .type = type,
			      .worker = worker,
			      .worker2 = UST_NO_WORKER,
			      .arg = arg};

	ust_view_event(c->v, &e);
}

/* Task id runs a whole poll on worker w and finishes at ts + 5. */
static void run_to_end(struct canned *c, uint64_t id, uint16_t w, uint64_t ts)
{
	ev(c, UST_POLL_BEGIN, ts, id, w, 0);
	ev(c, UST_POLL_END, ts + 5, id, w, 1);
	ev(c, UST_EXIT, ts + 5, id, w, 0);
}

/* A progress tick: the view evicts what its watermarks allow. */
static void tick(struct canned *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ust_view_tick(
	    c->v, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec,
	    0);
}

struct summary {
	size_t seen, finished;
	unsigned rows, live_rows; /* of "tasks with the most hops" */
	uint64_t row_id[8];
	unsigned row_polls[8];
};

/* The final summary, parsed; frees the view. */
static void finish(struct canned *c, struct summary *s)
{
	char *buf = NULL, *p, *line;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	ust_view_finish(c->v, f, 0);
	fclose(f);
	ust_view_free(c->v);
	fclose(c->out_f);
	free(c->out);
	memset(s, 0, sizeof(*s));
	p = strstr(buf, "tasks seen ");
	assert_non_null(p);
	assert_int_equal(
	    sscanf(p, "tasks seen %zu (finished %zu)", &s->seen, &s->finished),
	    2);
	p = strstr(buf, "tasks with the most hops\n");
	assert_non_null(p);
	line = strchr(p, '\n') + 1;    /* the column header */
	line = strchr(line, '\n') + 1; /* the first row */
	while (*line && *line != '\n' && s->rows < 8) {
		unsigned long long id;
		char st[16], wkr[8];
		unsigned hops, polls;

		assert_int_equal(sscanf(line, "%llu %15s %7s %u %u", &id, st,
					wkr, &hops, &polls),
				 5);
		s->row_id[s->rows] = id;
		s->row_polls[s->rows++] = polls;
		if (strcmp(st, "DONE"))
			s->live_rows++;
		line = strchr(line, '\n');
		assert_non_null(line);
		line++;
	}
	free(buf);
}

/* Worker 0 ran and finished tasks 1..NTASKS; worker 1's first batch then
 * says it spawned them (records older than every exit: w0 stole them). */
static void late_spawns(struct canned *c)
{
	for (unsigned i = 1; i <= NTASKS; i++)
		run_to_end(c, i, 0, 10ull * i + 1000);
	for (unsigned i = 1; i <= NTASKS; i++)
		ev(c, UST_SPAWN, 10ull * i + 997, i, 1, 0);
}

/* ustrace -p: worker 1 had shown nothing before its first batch. */
static void test_view_late_spawn_of_unseen_worker_revives_no_task(void **st)
{
	struct canned c;
	struct summary s;

	(void)st;
	canned_init(&c);
	late_spawns(&c);
	finish(&c, &s);
	assert_int_equal(s.seen, NTASKS);
	assert_int_equal(s.finished, NTASKS);
	assert_int_equal(s.live_rows, 0);
}

/* -x unpark, or its UNPARK dropped: worker 1 parked (flushed), then ran
 * again without the view hearing of it. */
static void
test_view_late_spawn_after_park_without_unpark_revives_no_task(void **st)
{
	struct canned c;
	struct summary s;

	(void)st;
	canned_init(&c);
	ev(&c, UST_WORKER_START, 1, 0, 1, 0);
	ev(&c, UST_PARK, 2, 0, 1, 0);
	late_spawns(&c);
	finish(&c, &s);
	assert_int_equal(s.seen, NTASKS);
	assert_int_equal(s.finished, NTASKS);
	assert_int_equal(s.live_rows, 0);
}

/* The waker's CAS came before the task's last poll completed, its WAKE
 * record after: worker 1 shows a newer record first, the view evicts, and
 * the WAKE(RUNNING) records come in worker 1's next batch. */
static void
test_view_wake_recorded_after_the_last_poll_revives_no_task(void **st)
{
	const uint64_t busy = 1000000; /* worker 1's own long-lived task */
	uint64_t end = 10ull * NTASKS + 1005;
	struct canned c;
	struct summary s;

	(void)st;
	canned_init(&c);
	ev(&c, UST_WORKER_START, 1, 0, 1, 0);
	ev(&c, UST_SPAWN, 2, busy, 1, 0);
	for (unsigned i = 1; i <= NTASKS; i++)
		run_to_end(&c, i, 0, 10ull * i + 1000);
	ev(&c, UST_POLL_BEGIN, end + 1, busy, 1, 0);
	tick(&c); /* evicts what the watermarks allow */
	for (unsigned i = 1; i <= NTASKS; i++)
		ev(&c, UST_WAKE, end + 1 + i, i, 1, URT_TRW_RUNNING);
	ev(&c, UST_POLL_END, end + 2 + NTASKS, busy, 1, 1);
	ev(&c, UST_EXIT, end + 2 + NTASKS, busy, 1, 0);
	finish(&c, &s);
	assert_int_equal(s.seen, NTASKS + 1);
	assert_int_equal(s.finished, NTASKS + 1);
	assert_int_equal(s.live_rows, 0);
}

/* A record newer than a worker's park shows it ran again even with no
 * UNPARK: from then on the view waits for its records, so a poll in its
 * next batch still lands on its (finished, not yet forgotten) task. */
static void test_view_worker_running_after_park_holds_back_eviction(void **st)
{
	const uint64_t polled = 7; /* first polled on w1, for 500 ns */
	struct canned c;
	struct summary s;

	(void)st;
	canned_init(&c);
	ev(&c, UST_WORKER_START, 1, 0, 1, 0);
	ev(&c, UST_PARK, 2, 0, 1, 0);
	/* woke (UNPARK excluded or dropped): its first batch since */
	ev(&c, UST_SPAWN, 3, polled, 1, 0);
	for (unsigned i = 1; i <= NTASKS; i++)
		run_to_end(&c, i, 0, 10ull * i + 1000);
	tick(&c);
	/* its next batch */
	ev(&c, UST_POLL_BEGIN, 5, polled, 1, 0);
	ev(&c, UST_POLL_END, 505, polled, 1, 0);
	ev(&c, UST_PARK, 506, 0, 1, 0);
	finish(&c, &s);
	assert_int_equal(s.seen, NTASKS);
	assert_int_equal(s.finished, NTASKS);
	assert_int_equal(s.live_rows, 0);
	/* the busiest task: both its polls counted */
	assert_true(s.rows >= 1);
	assert_int_equal(s.row_id[0], polled);
	assert_int_equal(s.row_polls[0], 2);
}

/* A long-lived task finishes after the tasks on both sides of its id were
 * forgotten: forgetting it too joins their runs, and nothing of the three
 * comes back. */
static void test_view_long_lived_task_forgotten_between_runs(void **st)
{
	const uint64_t slow = 100;
	struct canned c;
	struct summary s;

	(void)st;
	canned_init(&c);
	for (unsigned i = 1; i <= NTASKS; i++) {
		if (i == slow) {
			ev(&c, UST_POLL_BEGIN, 10ull * i + 1000, i, 0, 0);
			ev(&c, UST_POLL_END, 10ull * i + 1005, i, 0, 0);
		} else {
			run_to_end(&c, i, 0, 10ull * i + 1000);
		}
	}
	run_to_end(&c, slow, 0, 10ull * NTASKS + 2000);
	for (unsigned i = NTASKS + 1; i <= 2 * NTASKS; i++)
		run_to_end(&c, i, 0, 10ull * i + 3000);
	/* a worker attached late (-p): spawns of them all */
	for (unsigned i = 1; i <= 2 * NTASKS; i++)
		ev(&c, UST_SPAWN, 10ull * i + 997, i, 1, 0);
	finish(&c, &s);
	assert_int_equal(s.seen, 2 * NTASKS);
	assert_int_equal(s.finished, 2 * NTASKS);
	assert_int_equal(s.live_rows, 0);
}

/*
 * Every third task lives on while the others finish and are forgotten:
 * each forgotten pair is a run of its own, more runs than the view keeps,
 * so it merges them across the live ids. Still, the live tasks stay
 * tracked to their end, and no late record revives a forgotten one.
 */
static void test_view_many_forgotten_runs_keep_live_tasks(void **st)
{
	const unsigned n = 60000;
	struct canned c;
	struct summary s;

	(void)st;
	canned_init(&c);
	for (unsigned i = 1; i <= n; i++) {
		if (i % 3 == 0) {
			ev(&c, UST_POLL_BEGIN, 10ull * i, i, 0, 0);
			ev(&c, UST_POLL_END, 10ull * i + 5, i, 0, 0);
		} else {
			run_to_end(&c, i, 0, 10ull * i);
		}
	}
	/* a worker attached late (-p): spawns of them all */
	for (unsigned i = 1; i <= n; i++)
		ev(&c, UST_SPAWN, 10ull * i - 1, i, 1, 0);
	for (unsigned i = 3; i <= n; i += 3)
		run_to_end(&c, i, 0, 10ull * n + 10ull * i);
	/* and a record for a task never seen before still counts */
	run_to_end(&c, n + 1, 0, 20ull * n + 100);
	finish(&c, &s);
	assert_int_equal(s.seen, n + 1);
	assert_int_equal(s.finished, n + 1);
	assert_int_equal(s.live_rows, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_view_late_spawn_of_unseen_worker_revives_no_task),
	    cmocka_unit_test(
		test_view_late_spawn_after_park_without_unpark_revives_no_task),
	    cmocka_unit_test(
		test_view_wake_recorded_after_the_last_poll_revives_no_task),
	    cmocka_unit_test(
		test_view_worker_running_after_park_holds_back_eviction),
	    cmocka_unit_test(test_view_long_lived_task_forgotten_between_runs),
	    cmocka_unit_test(test_view_many_forgotten_runs_keep_live_tasks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
