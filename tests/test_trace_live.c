/* SPDX-License-Identifier: MIT */
/*
 * tools/ustrace against live programs (suite 'trace', root): the tracer's
 * log agrees with the runtime's own counters about polls, steals and task
 * migrations; attaching to a running process by pid and detaching leaves
 * it running with the urt:batch semaphore back at 0; the demo shows
 * stealing. This binary is also the traced program (--target-*). Exits 77
 * only where the kernel has no BTF or no BPF.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "trace_format.h"
#include "../tools/ustrace/decode.h"
#include "../tools/ustrace/ustrace.h"
#include "harness.h"

#define MAXW 8

static const char *ustrace; /* path of the ustrace binary */
static char self[4096];	    /* this binary */

/* ---------------------------------------------------------------------
 * Target (a): a forced steal, with migrations of tasks already polled
 * ------------------------------------------------------------------- */

/* Kids and the blocker must fit the blocker's local queue: what overflows
 * goes to the global queue, where either worker may poll it first. */
#if URT_LOCAL_QUEUE_SIZE >= 32
#define NKIDS 16
#else
#define NKIDS (URT_LOCAL_QUEUE_SIZE - 1)
#endif
#define MAX_ROUNDS 50

struct kid {
	struct urt_co co;
	_Atomic uint64_t id;
	_Atomic unsigned polls, worker[2];
	_Atomic int *done;
	int result; /* its own: > 0xffff, unlike any other kid's */
};

/* Two polls: records the worker of each, yields between them. */
H_CO(kid_run)
{
	struct kid *k = (struct kid *)co;
	unsigned n = atomic_load(&k->polls);

	atomic_store(&k->id, urt_cx_task_id(cx));
	if (n < 2)
		atomic_store(&k->worker[n], urt_cx_worker_id(cx));
	atomic_store(&k->polls, n + 1);
	URT_BEGIN(co);
	URT_YIELD(co, cx);
	atomic_fetch_add(k->done, 1);
	URT_END(co, k->result);
}

struct blocker {
	struct urt_co co;
	struct kid kids[NKIDS];
	struct urt_task_handle h[NKIDS];
	_Atomic int done;
};

/*
 * First poll: spawns the kids onto this worker's queue, then yields, so the
 * kids get their first poll here. Second poll: holds the worker until every
 * kid finished, so the sibling has to steal the kids queued behind it:
 * those polled here once are reported as migrations.
 */
H_CO(blocker_run)
{
	struct blocker *b = (struct blocker *)co;
	uint64_t end;

	URT_BEGIN(co);
	for (int i = 0; i < NKIDS; i++) {
		b->kids[i].done = &b->done;
		b->kids[i].result = 0x12340 + i;
		urt_co_init(&b->kids[i].co, kid_run);
		if (urt_task_spawn(urt_cx_rt(cx), &b->kids[i].co.base,
				   &b->h[i]))
			URT_RETURN(co, -ENOMEM);
	}
	URT_YIELD(co, cx);
	end = urt_now_ns() + 10000000000ull;
	while (atomic_load(&b->done) < NKIDS)
		if (urt_now_ns() > end)
			URT_RETURN(co, -ETIMEDOUT);
	URT_END(co, 0);
}

static int target_steal(void)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct blocker *b = calloc(MAX_ROUNDS, sizeof(*b));
	unsigned moved = 0, nw;
	int rounds = 0;

	urt_config_init(&cfg);
	cfg.workers = 2;
	if (!b || urt_rt_new(&cfg, &rt))
		return 1;
	nw = urt_rt_workers(rt);
	printf("T: attached %u\n", urt_trace_attached());
	while (!moved && rounds < MAX_ROUNDS) {
		struct blocker *x = &b[rounds++];
		struct urt_task_handle h;

		urt_co_init(&x->co, blocker_run);
		if (urt_task_spawn(rt, &x->co.base, &h) ||
		    urt_task_join_blocking(&h))
			return 1;
		for (int i = 0; i < NKIDS; i++) {
			struct kid *k = &x->kids[i];

			if (urt_task_join_blocking(&x->h[i]) != k->result ||
			    k->polls != 2)
				return 1;
			printf("T: kid %llu %u %u %d\n",
			       (unsigned long long)k->id, k->worker[0],
			       k->worker[1], k->result);
			moved += k->worker[0] != k->worker[1];
		}
	}
	printf("T: rounds %d moved %u\n", rounds, moved);
	for (unsigned w = 0; w < nw; w++) {
		struct urt_worker_stats ws;

		urt_rt_worker_stats(rt, w, &ws);
		printf("T: worker %u polls %llu\n", w,
		       (unsigned long long)ws.polls);
		for (unsigned v = 0; v < nw; v++)
			printf("T: steals %u %u %llu\n", w, v,
			       (unsigned long long)urt_rt_steals(rt, w, v));
	}
	fflush(stdout);
	if (urt_rt_free(rt, NULL))
		return 1;
	free(b);
	return 0;
}

/* ---------------------------------------------------------------------
 * Target (b): a server that keeps working until stdin says stop
 * ------------------------------------------------------------------- */

static _Atomic int stop_serving;

static void *stdin_reader(void *arg)
{
	char line[64];

	(void)arg;
	while (fgets(line, sizeof(line), stdin) && strncmp(line, "stop", 4))
		;
	atomic_store(&stop_serving, 1);
	return NULL;
}

/* Sums 1..n, yielding after each step, each step a few us of work: a
 * server's pace, about a million events a second, not a yield storm (the
 * demo and the benches cover that, where drops are allowed and shown).
 * Returns the sum. */
struct sq {
	struct urt_co co;
	int n, i, sum;
};

H_CO(sq_run)
{
	struct sq *s = (struct sq *)co;
	uint64_t until;

	URT_BEGIN(co);
	for (s->i = 1; s->i <= s->n; s->i++) {
		s->sum += s->i;
		until = urt_now_ns() + 2000;
		while (urt_now_ns() < until)
			;
		URT_YIELD(co, cx);
	}
	URT_END(co, s->sum);
}

struct server {
	struct urt_co co;
	struct urt_task_handle h[8];
	int i;
	unsigned seen_attached;
	uint64_t rounds;
	int bad;
};

H_CO(server_run)
{
	struct server *s = (struct server *)co;
	int res;

	URT_BEGIN(co);
	while (!atomic_load(&stop_serving)) {
		for (s->i = 0; s->i < 8; s->i++) {
			/* a fresh frame each time: a future stays the
			 * runtime's until it frees it */
			struct sq *k = urt_frame_new(sizeof(*k));

			if (!k)
				URT_RETURN(co, -ENOMEM);
			k->n = 50 + s->i;
			urt_co_init(&k->co, sq_run);
			if (urt_task_spawn_frame(urt_cx_rt(cx), k,
						 &s->h[s->i])) {
				urt_frame_free(k);
				URT_RETURN(co, -ENOMEM);
			}
		}
		for (s->i = 0; s->i < 8; s->i++) {
			URT_AWAIT(co, cx, &s->h[s->i].base, res);
			if (res != (50 + s->i) * (51 + s->i) / 2)
				s->bad++;
		}
		s->rounds++;
		s->seen_attached |= urt_trace_attached();
	}
	URT_END(co, 0);
}

static int target_serve(void)
{
	struct server *s = calloc(1, sizeof(*s));
	struct urt_config cfg;
	struct urt_rt *rt;
	pthread_t th;
	int err;

	urt_config_init(&cfg);
	cfg.workers = 2;
	if (!s || urt_rt_new(&cfg, &rt))
		return 1;
	pthread_create(&th, NULL, stdin_reader, NULL);
	printf("T: ready %u\n", urt_trace_attached());
	fflush(stdout);
	urt_co_init(&s->co, server_run);
	err = urt_block_on(rt, &s->co.base);
	pthread_join(th, NULL);
	printf("T: done err %d rounds %llu bad %d seen_attached %u "
	       "attached_now %u\n",
	       err, (unsigned long long)s->rounds, s->bad, s->seen_attached,
	       urt_trace_attached());
	fflush(stdout);
	err = err || s->bad;
	free(s);
	if (urt_rt_free(rt, NULL))
		return 1;
	return err;
}

/* ---------------------------------------------------------------------
 * Target (c): time between polls that is no poll's (a drop hook)
 * ------------------------------------------------------------------- */

#define DROP_ROUNDS 10
#define DROP_NS 20000000ull

static void spin_ns(uint64_t ns)
{
	uint64_t until = urt_now_ns() + ns;

	while (urt_now_ns() < until)
		;
}

static void slow_drop(struct urt_future *f)
{
	(void)f;
	spin_ns(DROP_NS);
}

static int ready_poll(struct urt_future *f, struct urt_cx *cx)
{
	(void)f;
	(void)cx;
	return 0;
}

static const struct urt_future_vt slow_drop_vt = {.poll = ready_poll,
						  .drop = slow_drop};

struct dropper {
	struct urt_future f;
	struct urt_future kids[DROP_ROUNDS];
	int n;
	uint64_t id;
};

/* Each poll: a detached kid (done at its first poll, its drop hook then
 * holds the worker 20 ms, in no poll), then a yield. */
static int dropper_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct dropper *d = (struct dropper *)f;

	d->id = urt_cx_task_id(cx);
	if (d->n == DROP_ROUNDS)
		return 0;
	d->kids[d->n].vt = &slow_drop_vt;
	if (urt_task_spawn(urt_cx_rt(cx), &d->kids[d->n], NULL))
		return -ENOMEM;
	d->n++;
	urt_cx_yield(cx);
	return URT_PENDING;
}

static const struct urt_future_vt dropper_vt = {.poll = dropper_poll};

static int target_drop(void)
{
	struct dropper d = {.f = {.vt = &dropper_vt}};
	struct urt_config cfg;
	struct urt_rt *rt;
	int r;

	urt_config_init(&cfg);
	cfg.workers = 1;
	/* no long-poll clock: its report (the drop hook makes the kid's
	 * poll-to-next-poll span 20 ms) would reset the clock read too */
	cfg.long_poll_ns = 0;
	if (urt_rt_new(&cfg, &rt))
		return 1;
	r = urt_block_on(rt, &d.f);
	printf("T: dropper %llu result %d\n", (unsigned long long)d.id, r);
	fflush(stdout);
	if (urt_rt_free(rt, NULL))
		return 1;
	return r != 0;
}

/* ---------------------------------------------------------------------
 * Target (d): a tracer leaves, a poll runs untraced, another tracer comes
 * ------------------------------------------------------------------- */

#define LONG_POLL_NS 3000000000ull

struct stepper {
	struct urt_co co;
	bool watcher;	/* runs the long poll, once, after a detach */
	unsigned seen;	/* urt_trace_attached() at its last poll */
	bool long_done;
	uint64_t polls;
};

/* 50 us a poll, yielding, until stdin says stop. */
H_CO(stepper_run)
{
	struct stepper *p = (struct stepper *)co;
	unsigned now;

	URT_BEGIN(co);
	while (!atomic_load(&stop_serving)) {
		now = urt_trace_attached();
		if (p->watcher && p->seen && !now && !p->long_done) {
			/* began untraced: no record may have its time */
			printf("T: long poll of task %llu\n",
			       (unsigned long long)urt_cx_task_id(cx));
			fflush(stdout);
			spin_ns(LONG_POLL_NS);
			p->long_done = true;
		}
		p->seen = now;
		spin_ns(50000);
		p->polls++;
		URT_YIELD(co, cx);
	}
	URT_END(co, 0);
}

static int target_reattach(void)
{
	struct stepper a = {.watcher = false}, b = {.watcher = true};
	struct urt_task_handle ha, hb;
	struct urt_config cfg;
	struct urt_rt *rt;
	pthread_t th;
	int ra, rb;

	urt_config_init(&cfg);
	cfg.workers = 1;
	/* no long-poll clock: its report after the long poll would reset
	 * the clock read of the next poll by itself */
	cfg.long_poll_ns = 0;
	if (urt_rt_new(&cfg, &rt))
		return 1;
	urt_co_init(&a.co, stepper_run);
	urt_co_init(&b.co, stepper_run);
	if (urt_task_spawn(rt, &a.co.base, &ha) ||
	    urt_task_spawn(rt, &b.co.base, &hb))
		return 1;
	pthread_create(&th, NULL, stdin_reader, NULL);
	printf("T: ready %u\n", urt_trace_attached());
	fflush(stdout);
	ra = urt_task_join_blocking(&ha);
	rb = urt_task_join_blocking(&hb);
	pthread_join(th, NULL);
	printf("T: done %d %d long %d polls %llu %llu\n", ra, rb,
	       (int)b.long_done, (unsigned long long)a.polls,
	       (unsigned long long)b.polls);
	fflush(stdout);
	if (urt_rt_free(rt, NULL))
		return 1;
	return ra || rb;
}

/* ---------------------------------------------------------------------
 * Driver helpers
 * ------------------------------------------------------------------- */

struct tlog {
	struct ust_log_header h;
	struct ust_event *ev;
	size_t n;
};

static int add_event(void *arg, const struct ust_event *e)
{
	struct tlog *l = arg;

	if (!(l->n & (l->n - 1))) { /* 0, 1, 2, 4...: double */
		l->ev = realloc(l->ev, (l->n ? 2 * l->n : 1) * sizeof(*e));
		assert_non_null(l->ev);
	}
	l->ev[l->n++] = *e;
	return 0;
}

static void read_log_as(const char *dir, struct tlog *l, bool all);

/* The log as ustrace-report reads it (decode.c): batches decoded. */
static void read_log(const char *dir, struct tlog *l)
{
	read_log_as(dir, l, false);
}

/* all: with the records from before the log's start too (the decoder
 * leaves those out: they are a previous tracer's, see decode.h). */
static void read_log_as(const char *dir, struct tlog *l, bool all)
{
	char path[4200];
	unsigned char *buf;
	FILE *f;
	long sz;

	snprintf(path, sizeof(path), "%s/events.ustrace", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	assert_true(sz >= (long)sizeof(l->h));
	buf = malloc((size_t)sz);
	assert_non_null(buf);
	fseek(f, 0, SEEK_SET);
	assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	l->ev = NULL;
	l->n = 0;
	if (all)
		memset(buf + offsetof(struct ust_log_header, start_ns), 0,
		       sizeof(l->h.start_ns));
	assert_int_equal(ust_log_parse(buf, (size_t)sz, path, &l->h,
				       add_event, l),
			 0);
	assert_int_equal(l->h.version, UST_LOG_VERSION);
	assert_int_equal(l->h.event_size, sizeof(struct ust_event));
	free(buf);
}

static size_t count_type(const struct tlog *l, unsigned type)
{
	size_t c = 0;

	for (size_t i = 0; i < l->n; i++)
		c += l->ev[i].type == type;
	return c;
}

static void no_drops(const struct tlog *l)
{
	assert_int_equal(l->h.drops, 0);
	assert_int_equal(count_type(l, UST_DROPS), 0);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/urt-trace-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmdir_all(char *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", d);
	free(d);
}

/* Runs cmd, collecting its stdout in *out; returns its exit status. */
static int run(const char *cmd, char **out)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	FILE *p = popen(cmd, "r");
	size_t r;

	assert_non_null(buf);
	assert_non_null(p);
	while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += r;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	buf[len] = 0;
	*out = buf;
	r = (size_t)pclose(p);
	return WIFEXITED((int)r) ? WEXITSTATUS((int)r) : 128;
}

/*
 * ustrace --no-live's summary, which it makes from the log after the run:
 * it read every event of the log but ustrace's own (drops, the target's
 * end; the live view never has those either).
 */
static void summary_has_log_events(const char *out, const struct tlog *l)
{
	const char *p = strstr(out, "\nevent log: ");
	unsigned long long n = 0;

	assert_non_null(p);
	assert_int_equal(sscanf(p, "\nevent log: %*s (%llu events)", &n), 1);
	assert_int_equal(n, l->n - count_type(l, UST_DROPS) -
				count_type(l, UST_TARGET_EXIT));
}

/* The summary's polls per worker (its worker table). */
static void summary_polls(const char *out, uint64_t *polls)
{
	const char *p = strstr(out, "\nWKR ");
	unsigned long long x;
	unsigned w, rows = 0;

	assert_non_null(p);
	for (p = strchr(p + 1, '\n') + 1;
	     sscanf(p, "w%u %*u %llu", &w, &x) == 2; p = strchr(p, '\n') + 1) {
		assert_true(w < MAXW);
		polls[w] = x;
		rows++;
	}
	assert_true(rows > 0);
}

/* ---------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------- */

static void test_trace_steal_and_migrations_match_runtime(void **state)
{
	char cmd[8192], *out, *d = tmpdir(), *p;
	uint64_t polls[MAXW] = {0}, steals[MAXW][MAXW] = {{0}};
	uint64_t tpolls[MAXW] = {0}, tsteals[MAXW][MAXW] = {{0}};
	uint64_t spolls[MAXW] = {0};
	unsigned moved = 0, kids = 0, matched = 0, kid_migr = 0, exits = 0;
	struct {
		uint64_t id;
		unsigned w0, w1;
		int result;
	} kid[NKIDS * MAX_ROUNDS];
	struct tlog l;
	int rc;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s --no-live -o %s -- %s --target-steal",
		 ustrace, d, self);
	rc = run(cmd, &out);
	if (rc)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "T: attached 1"));
	for (p = out; (p = strstr(p, "T: ")); p++) {
		unsigned w, v, a, b;
		unsigned long long x;
		int r;

		if (sscanf(p, "T: worker %u polls %llu", &w, &x) == 2 &&
		    w < MAXW)
			polls[w] = x;
		else if (sscanf(p, "T: steals %u %u %llu", &w, &v, &x) == 3 &&
			 w < MAXW && v < MAXW)
			steals[w][v] = x;
		else if (sscanf(p, "T: kid %llu %u %u %d", &x, &a, &b, &r) ==
				 4 &&
			 kids < NKIDS * MAX_ROUNDS) {
			kid[kids].id = x;
			kid[kids].w0 = a;
			kid[kids].result = r;
			kid[kids++].w1 = b;
			moved += a != b;
		}
	}
	assert_true(kids >= NKIDS);
	assert_true(moved >= 1); /* the scenario did force a migration */

	read_log(d, &l);
	no_drops(&l);
	for (size_t i = 0; i < l.n; i++) {
		const struct ust_event *e = &l.ev[i];

		if (e->type == UST_POLL_BEGIN && e->worker < MAXW)
			tpolls[e->worker]++;
		if (e->type == UST_STEAL && e->worker < MAXW &&
		    e->worker2 < MAXW)
			tsteals[e->worker][e->worker2] += e->arg;
		if (e->type == UST_EXIT) {
			/* each kid's result, as its last poll returned it
			 * (a 16-byte poll record has no room for it: its
			 * own record) */
			for (unsigned k = 0; k < kids; k++)
				if (kid[k].id == e->task) {
					assert_int_equal((int32_t)e->arg,
							 kid[k].result);
					exits++;
				}
			continue;
		}
		if (e->type != UST_MIGRATE)
			continue;
		for (unsigned k = 0; k < kids; k++) {
			if (kid[k].id != e->task)
				continue;
			kid_migr++;
			/* the hop the kid saw itself, and why: taken from
			 * the blocked worker's queue, or from the global
			 * queue where that queue overflowed (small_queues);
			 * never "woken": kids only yield */
			if (e->worker2 == kid[k].w0 && e->worker == kid[k].w1 &&
			    (e->arg == URT_TRM_STOLEN ||
			     (URT_LOCAL_QUEUE_SIZE < 2 * NKIDS &&
			      e->arg == URT_TRM_INJECT)))
				matched++;
		}
	}
	/* Every poll the runtime counted, the tracer saw, per worker: in
	 * the log, and in the summary made from it. */
	summary_polls(out, spolls);
	summary_has_log_events(out, &l);
	for (unsigned w = 0; w < MAXW; w++) {
		assert_int_equal(tpolls[w], polls[w]);
		assert_int_equal(spolls[w], polls[w]);
	}
	assert_true(polls[0] + polls[1] > 0);
	/* Every steal, by thief and victim, with its task count. */
	for (unsigned w = 0; w < MAXW; w++)
		for (unsigned v = 0; v < MAXW; v++)
			assert_int_equal(tsteals[w][v], steals[w][v]);
	/* One migrate event per kid that changed workers, matching it. */
	assert_int_equal(kid_migr, moved);
	assert_int_equal(matched, moved);
	assert_int_equal(exits, kids);
	free(l.ev);
	free(out);
	rmdir_all(d);
}

/*
 * Starts this binary as target mode (--target-...), its stdin and stdout
 * on pipes (*in: to write to it; *from: to read it), and reads its first
 * line, "T: ready A": A, urt_trace_attached() then, must be 0.
 */
static pid_t start_target(const char *mode, int *in, FILE **from)
{
	int to[2], back[2];
	char line[256];
	unsigned ready = 9;
	pid_t pid;

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(back), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a failed assertion aborts us: do not outlive it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(to[0], 0);
		dup2(back[1], 1);
		close(to[1]);
		close(back[0]);
		execl(self, self, mode, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(back[1]);
	*in = to[1];
	*from = fdopen(back[0], "r");
	assert_non_null(*from);
	assert_non_null(fgets(line, sizeof(line), *from));
	assert_int_equal(sscanf(line, "T: ready %u", &ready), 1);
	assert_int_equal(ready, 0);
	return pid;
}

static void
test_trace_attach_by_pid_then_detach_leaves_target_clean(void **state)
{
	char cmd[8192], line[256], *out, *d = tmpdir();
	unsigned seen = 9, now = 9;
	unsigned long long rounds = 0;
	int err = -1, bad = -1, rc, in, status;
	struct tlog l;
	FILE *f;
	pid_t pid = start_target("--target-serve", &in, &f);

	(void)state;

	snprintf(cmd, sizeof(cmd), "%s --no-live -d 1 -o %s -p %d", ustrace, d,
		 pid);
	rc = run(cmd, &out);
	if (rc)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(rc, 0);
	/* detached: it must go on working; let it run a little */
	usleep(200000);
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(write(in, "stop\n", 5), 5);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(sscanf(line,
				"T: done err %d rounds %llu bad %d "
				"seen_attached %u attached_now %u",
				&err, &rounds, &bad, &seen, &now),
			 5);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(err, 0);
	assert_int_equal(bad, 0);
	assert_true(rounds > 0);
	assert_int_equal(seen, 1); /* the tracer did attach urt:batch */
	assert_int_equal(now, 0);  /* and the semaphore is back to 0 */

	read_log(d, &l);
	no_drops(&l);
	assert_int_equal(l.h.pid, (uint32_t)pid);
	assert_true(count_type(&l, UST_POLL_BEGIN) > 0);
	assert_int_equal(count_type(&l, UST_TARGET_EXIT), 0);
	fclose(f);
	close(in);
	free(l.ev);
	free(out);
	rmdir_all(d);
}

static void test_trace_demo_shows_steals_and_migrations(void **state)
{
	char cmd[8192], *out, *d = tmpdir();
	struct tlog l;
	int rc;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s --no-live --duration 2 -o %s", ustrace,
		 d);
	rc = run(cmd, &out);
	if (rc)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "ustrace summary"));
	read_log(d, &l);
	no_drops(&l);
	summary_has_log_events(out, &l);
	assert_true(count_type(&l, UST_STEAL) > 0);
	assert_true(count_type(&l, UST_MIGRATE) > 0);
	assert_true(count_type(&l, UST_WORKER_START) >= 2);
	assert_true(count_type(&l, UST_TARGET_EXIT) == 1);
	free(l.ev);
	free(out);
	rmdir_all(d);
}

/* The longest poll of task in l (a worker's polls pair up in order). */
static uint64_t longest_poll(const struct tlog *l, uint64_t task,
			     size_t *polls)
{
	uint64_t begin[MAXW] = {0}, longest = 0;
	bool open[MAXW] = {0};

	*polls = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct ust_event *e = &l->ev[i];

		if (e->task != task || e->worker >= MAXW)
			continue;
		if (e->type == UST_POLL_BEGIN) {
			begin[e->worker] = e->ts_ns;
			open[e->worker] = true;
		} else if (e->type == UST_POLL_END && open[e->worker]) {
			uint64_t d = e->ts_ns - begin[e->worker];

			longest = d > longest ? d : longest;
			open[e->worker] = false;
			++*polls;
		}
	}
	return longest;
}

/*
 * A worker that runs a drop hook (20 ms, after a kid's last poll) between
 * two polls of another task: that time is in no poll. Each poll of the
 * task that spawns the kids takes microseconds, and so must its record.
 */
static void test_trace_time_between_polls_is_no_polls(void **state)
{
	char cmd[8192], *out, *d = tmpdir(), *p;
	unsigned long long id = 0;
	struct tlog l;
	size_t polls;
	int rc, r = -1;

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s --no-live -o %s -- %s --target-drop",
		 ustrace, d, self);
	rc = run(cmd, &out);
	if (rc)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(rc, 0);
	p = strstr(out, "T: dropper ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "T: dropper %llu result %d", &id, &r), 2);
	assert_int_equal(r, 0);
	read_log(d, &l);
	no_drops(&l);
	/* 15 ms: below a drop hook, above what a loaded machine's
	 * preemption adds to a poll of microseconds */
	assert_true(longest_poll(&l, id, &polls) < 15000000ull);
	assert_int_equal(polls, DROP_ROUNDS + 1);
	free(l.ev);
	free(out);
	rmdir_all(d);
}

/*
 * Attach by pid, detach; a poll then runs 3 s, begun untraced; a second
 * tracer attaches while it runs. Its log has no poll that long (the
 * untraced poll is not recorded, and no other poll takes its time), and
 * nothing from before it attached (records the first session left in the
 * worker's buffer).
 */
static void test_trace_reattach_sees_only_its_own_polls(void **state)
{
	char cmd[8192], line[256], *out, *d1 = tmpdir(), *d2 = tmpdir();
	unsigned long long ta = 0, tb = 0;
	unsigned long long long_task = 0;
	int ra = -1, rb = -1, long_done = -1, rc, in, status;
	struct tlog l;
	size_t polls;
	FILE *f;
	pid_t pid = start_target("--target-reattach", &in, &f);

	(void)state;

	snprintf(cmd, sizeof(cmd), "%s --no-live -d 0.5 -o %s -p %d", ustrace,
		 d1, pid);
	rc = run(cmd, &out);
	if (rc)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(rc, 0);
	free(out);
	/* the watcher saw the detach and began its long poll */
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(sscanf(line, "T: long poll of task %llu", &long_task),
			 1);
	snprintf(cmd, sizeof(cmd), "%s --no-live -d 4 -o %s -p %d", ustrace,
		 d2, pid);
	rc = run(cmd, &out);
	if (rc)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(rc, 0);
	free(out);
	assert_int_equal(write(in, "stop\n", 5), 5);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(sscanf(line, "T: done %d %d long %d polls %llu %llu",
				&ra, &rb, &long_done, &ta, &tb),
			 5);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(long_done, 1);

	read_log(d2, &l);
	no_drops(&l);
	for (size_t i = 0; i < l.n; i++)
		assert_true(l.ev[i].ts_ns >= l.h.start_ns);
	assert_true(count_type(&l, UST_POLL_BEGIN) > 0);
	free(l.ev);
	/* All of it, the first session's leftovers too (which the decoder
	 * leaves out above): no poll near the long one's 3 s, of either
	 * task (the other's polls are 50 us; the first traced one after
	 * the long poll must not start at the first session's last). */
	read_log_as(d2, &l, true);
	for (uint64_t t = long_task - 1; t <= long_task + 1; t++)
		assert_true(longest_poll(&l, t, &polls) < 1000000000ull);
	fclose(f);
	close(in);
	free(l.ev);
	rmdir_all(d1);
	rmdir_all(d2);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trace_steal_and_migrations_match_runtime),
	    cmocka_unit_test(
		test_trace_attach_by_pid_then_detach_leaves_target_clean),
	    cmocka_unit_test(test_trace_demo_shows_steals_and_migrations),
	    cmocka_unit_test(test_trace_time_between_polls_is_no_polls),
	    cmocka_unit_test(test_trace_reattach_sees_only_its_own_polls),
	};
	char cmd[8192];
	int rc;

	if (argc > 1 && !strcmp(argv[1], "--target-steal"))
		return target_steal();
	if (argc > 1 && !strcmp(argv[1], "--target-serve"))
		return target_serve();
	if (argc > 1 && !strcmp(argv[1], "--target-drop"))
		return target_drop();
	if (argc > 1 && !strcmp(argv[1], "--target-reattach"))
		return target_reattach();
	if (argc < 2) {
		fprintf(stderr, "usage: test_trace_live PATH-TO-USTRACE\n");
		return 2;
	}
	ustrace = argv[1];
	if (!realpath("/proc/self/exe", self))
		return 1;
	snprintf(cmd, sizeof(cmd), "%s --check", ustrace);
	rc = system(cmd);
	rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
	if (rc == 2) {
		printf(
		    "SKIP: no kernel BTF or no BPF here (ustrace --check)\n");
		return 77;
	}
	if (rc) {
		fprintf(stderr, "the trace suite runs as root (ustrace "
				"--check failed)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
