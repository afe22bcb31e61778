/* SPDX-License-Identifier: MIT */
/*
 * ustrace's exporters on canned logs the test writes itself: the Perfetto
 * JSON is strict JSON whose flows bind to slices, the HTML has a lane per
 * worker and fetches nothing, the summary counts what the log holds, the
 * output is byte-stable, and bad logs fail cleanly. No privileges.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "export.h"
#include "trace_format.h"
#include "ustrace.h"

#define NW UST_NO_WORKER
#define T0 5000000000ull /* log time base, ns */

/* ---- canned logs ------------------------------------------------------ */

struct log {
	struct ust_event *ev;
	size_t n, cap;
};

static void ev(struct log *l, uint16_t type, uint64_t ts, uint64_t task,
	       uint16_t w, uint16_t w2, uint32_t arg, uint64_t data)
{
	struct ust_event *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->ev = realloc(l->ev, l->cap * sizeof(*l->ev));
		assert_non_null(l->ev);
	}
	e = &l->ev[l->n++];
	memset(e, 0, sizeof(*e));
	e->ts_ns = T0 + ts;
	e->type = type;
	e->task = task;
	e->worker = w;
	e->worker2 = w2;
	e->arg = arg;
	e->data = data;
	e->tid = w < 3 ? 100u + w : 999;
	e->cpu = w < 3 ? w : 0;
}

static void poll(struct log *l, uint64_t task, uint16_t w, uint64_t b,
		 uint64_t e, uint32_t depth, int ready)
{
	ev(l, UST_POLL_BEGIN, b, task, w, 0, depth, 0);
	ev(l, UST_POLL_END, e, task, w, 0, (uint32_t)ready, 0);
}

/*
 * Three workers. Task 2 hops w0->w1 (stolen), task 3 w0->w2->w0 (stolen,
 * then injected), task 1 on w0 wakes task 4 which runs on w1 (a cross-
 * worker wake), task 5 polls 50 us on w1 while the OS preempts w1 for
 * 10 us (switched back in by SCHED_SWITCH from a target thread), w0 is
 * preempted 300 ns (back by SCHED_SWITCH_IN), w2 sleeps (no preemption),
 * w1/w2 park and unpark, w0 parks to the end. Plus one POLL_END
 * without a begin, one POLL_BEGIN without an end, an abort, a drop record,
 * an unknown type and a corrupt worker id.
 */
static void scenario(struct log *l)
{
	memset(l, 0, sizeof(*l));
	ev(l, UST_WORKER_START, 0, 0, 0, 0, 100, 0);
	ev(l, UST_WORKER_START, 1, 0, 1, 0, 101, 0);
	ev(l, UST_WORKER_START, 2, 0, 2, 0, 102, 0);
	poll(l, 2, 0, 200, 800, 4, 0);
	ev(l, UST_PARK, 500, 0, 1, 0, URT_TRP_IDLE, 0);
	poll(l, 1, 0, 1000, 5000, 3, 0);
	/* w0 (tid 100) preempted by a thread outside the target */
	ev(l, UST_SCHED_SWITCH, 1500, 0, NW, 0, 1, 7777);
	l->ev[l->n - 1].tid = 100;
	ev(l, UST_SCHED_SWITCH_IN, 1800, 0, NW, 0, 0, 7777);
	l->ev[l->n - 1].tid = 100;
	ev(l, UST_WAKE, 2000, 4, 0, 0, URT_TRW_LOCAL, 0);
	ev(l, UST_UNPARK, 4000, 0, 1, 0, URT_TRP_NOTIFIED, 0);
	ev(l, UST_STEAL, 4100, 0, 1, 0, 2, 0);
	ev(l, UST_MIGRATE, 4200, 2, 1, 0, URT_TRM_STOLEN, 0);
	poll(l, 2, 1, 4300, 6000, 1, 1);
	poll(l, 3, 0, 5100, 5600, 1, 0);
	ev(l, UST_STEAL, 5700, 0, 2, 0, 1, 0);
	ev(l, UST_MIGRATE, 5750, 3, 2, 0, URT_TRM_STOLEN, 0);
	poll(l, 3, 2, 5800, 9000, 0, 0);
	ev(l, UST_WAKE, 8000, 3, 2, 0, URT_TRW_RUNNING, 0);
	poll(l, 4, 1, 6100, 7000, 0, 1);
	ev(l, UST_POLL_END, 9050, 7, 2, 0, 1, 0); /* its begin was lost */
	ev(l, UST_PARK, 9100, 0, 2, 0, URT_TRP_IDLE, 0);
	/* w2 sleeps: switched out not runnable, so not a preemption */
	ev(l, UST_SCHED_SWITCH, 9150, 0, NW, 0, 0, 7777);
	l->ev[l->n - 1].tid = 102;
	ev(l, UST_SCHED_SWITCH_IN, 69990, 0, NW, 0, 0, 7777);
	l->ev[l->n - 1].tid = 102;
	ev(l, UST_MIGRATE, 9400, 3, 0, 2, URT_TRM_INJECT, 0);
	poll(l, 3, 0, 9500, 9900, 0, 1);
	ev(l, UST_ABORT, 9950, 6, 0, 0, 0, 0);
	ev(l, UST_POLL_BEGIN, 9960, 8, 0, 0, 0, 0); /* its end was lost */
	ev(l, UST_WAKE, 9980, 5, NW, 0, URT_TRW_INJECT, 0);
	ev(l, UST_PARK, 9990, 0, 0, 0, URT_TRP_IDLE, 0);
	poll(l, 5, 1, 10000, 60000, 0, 1);
	/* w1 (tid 101) preempted while it polls task 5 */
	ev(l, UST_SCHED_SWITCH, 20000, 0, NW, 0, 1, 999);
	l->ev[l->n - 1].tid = 101;
	ev(l, UST_SCHED_SWITCH, 30000, 0, NW, 0, 0, 101);
	ev(l, UST_LONG_POLL, 60010, 5, 1, 0, 0, 50000);
	ev(l, UST_DROPS, 65000, 0, NW, 0, 0, 7);
	ev(l, UST_UNPARK, 70000, 0, 2, 0, URT_TRP_EVENT, 0);
	ev(l, 60, 70500, 0, 0, 0, 0, 0); /* a newer tracer's type */
	ev(l, UST_POLL_BEGIN, 70600, 9, 5000, 0, 0, 0); /* corrupt worker */
	ev(l, UST_TARGET_EXIT, 80000, 0, NW, 0, 0, 0);
}

/*
 * A synthetic run, larger and busier than scenario(): DW workers, DT tasks
 * spawned on w0; idle workers steal half of the longest queue; a pending
 * task is woken later, onto the queue of whichever worker was polling at
 * that moment (a cross-worker wake) or else of its own worker; some polls
 * run long and some are preempted by the OS. Deterministic (xorshift).
 */
#define DW 3
#define DT 24

struct dsim {
	struct log *l;
	uint64_t rng;
	uint64_t now[DW];
	uint8_t parked[DW];
	uint32_t q[DW][DT];
	size_t qn[DW];
	uint64_t last_b[DW], last_e[DW];
	struct {
		int polls_left;
		int last;	  /* worker, -1 before its first poll */
		int stolen;	  /* moved by a steal since its last poll */
		uint64_t wake_at; /* 0: not sleeping */
	} t[DT + 1];
};

static uint64_t rnd(struct dsim *d, uint64_t n)
{
	d->rng ^= d->rng << 13;
	d->rng ^= d->rng >> 7;
	d->rng ^= d->rng << 17;
	return d->rng % n;
}

static void dpush(struct dsim *d, int w, uint32_t task, uint64_t at)
{
	d->q[w][d->qn[w]++] = task;
	if (d->parked[w]) {
		d->parked[w] = 0;
		d->now[w] = at;
		ev(d->l, UST_UNPARK, at, 0, (uint16_t)w, 0, URT_TRP_EVENT, 0);
	}
	/* a queue that grows wakes a parked sibling to steal from it */
	for (int v = 0; v < DW && d->qn[w] >= 2; v++)
		if (d->parked[v]) {
			d->parked[v] = 0;
			d->now[v] = at + 2000;
			ev(d->l, UST_UNPARK, at + 2000, 0, (uint16_t)v, 0,
			   URT_TRP_NOTIFIED, 0);
			break;
		}
}

/* Delivers the earliest wake due by `until`; returns 0 if none was. */
static int dwake(struct dsim *d, uint64_t until)
{
	uint32_t best = 0;
	int w;

	for (uint32_t i = 1; i <= DT; i++)
		if (d->t[i].wake_at && d->t[i].wake_at <= until &&
		    (!best || d->t[i].wake_at < d->t[best].wake_at))
			best = i;
	if (!best)
		return 0;
	w = d->t[best].last;
	for (int v = 0; v < DW; v++)
		if (d->last_b[v] < d->t[best].wake_at &&
		    d->t[best].wake_at < d->last_e[v])
			w = v; /* woken by the task polling there */
	ev(d->l, UST_WAKE, d->t[best].wake_at, best, (uint16_t)w, 0,
	   URT_TRW_LOCAL, 0);
	dpush(d, w, best, d->t[best].wake_at);
	d->t[best].wake_at = 0;
	return 1;
}

static void dpoll(struct dsim *d, int w)
{
	uint32_t task = d->q[w][0];
	uint64_t b = d->now[w], dur = 3000 + rnd(d, 25000);
	int ready;

	memmove(d->q[w], d->q[w] + 1, --d->qn[w] * sizeof(d->q[w][0]));
	if (d->t[task].last >= 0 && d->t[task].last != w)
		ev(d->l, UST_MIGRATE, b - 50, task, (uint16_t)w,
		   (uint16_t)d->t[task].last,
		   d->t[task].stolen ? URT_TRM_STOLEN : URT_TRM_WOKEN, 0);
	if (!rnd(d, 25))
		dur = 150000 + rnd(d, 150000); /* blocks the worker */
	ev(d->l, UST_POLL_BEGIN, b, task, (uint16_t)w, 0, (uint32_t)d->qn[w],
	   0);
	if (!rnd(d, 30)) { /* the OS takes the CPU away mid-poll */
		uint64_t off = 20000 + rnd(d, 30000);

		ev(d->l, UST_SCHED_SWITCH, b + dur / 2, 0, UST_NO_WORKER, 0, 1,
		   4000);
		d->l->ev[d->l->n - 1].tid = 100u + (unsigned)w;
		ev(d->l, UST_SCHED_SWITCH_IN, b + dur / 2 + off, 0,
		   UST_NO_WORKER, 0, 0, 4000);
		d->l->ev[d->l->n - 1].tid = 100u + (unsigned)w;
		dur += off;
	}
	ready = --d->t[task].polls_left == 0;
	ev(d->l, UST_POLL_END, b + dur, task, (uint16_t)w, 0, (uint32_t)ready,
	   0);
	if (dur > 100000)
		ev(d->l, UST_LONG_POLL, b + dur + 100, task, (uint16_t)w, 0, 0,
		   dur);
	if (ready)
		ev(d->l, UST_EXIT, b + dur + 200, task, (uint16_t)w, 0, 0, 0);
	else
		d->t[task].wake_at = b + dur + 10000 + rnd(d, 120000);
	d->t[task].last = w;
	d->t[task].stolen = 0;
	d->last_b[w] = b;
	d->last_e[w] = b + dur;
	d->now[w] = b + dur + 500 + rnd(d, 1500);
}

/* An idle worker steals half of the longest queue, or parks. */
static void didle(struct dsim *d, int w)
{
	int v = -1;

	for (int i = 0; i < DW; i++)
		if (i != w && d->qn[i] >= 2 && (v < 0 || d->qn[i] > d->qn[v]))
			v = i;
	if (v >= 0) {
		size_t k = d->qn[v] / 2;

		ev(d->l, UST_STEAL, d->now[w], 0, (uint16_t)w, (uint16_t)v,
		   (uint32_t)k, 0);
		for (size_t i = 0; i < k; i++) {
			uint32_t task = d->q[v][--d->qn[v]];

			d->t[task].stolen = 1;
			d->q[w][d->qn[w]++] = task;
		}
		d->now[w] += 1500;
		return;
	}
	ev(d->l, UST_PARK, d->now[w], 0, (uint16_t)w, 0, URT_TRP_IDLE, 0);
	d->parked[w] = 1;
}

static void demo_log(struct log *l)
{
	struct dsim *d = calloc(1, sizeof(*d));
	uint64_t end = 0;

	assert_non_null(d);
	memset(l, 0, sizeof(*l));
	d->l = l;
	d->rng = 0x2545f4914f6cdd1dull;
	for (int w = 0; w < DW; w++) {
		ev(l, UST_WORKER_START, (uint64_t)w * 300, 0, (uint16_t)w, 0,
		   100u + (unsigned)w, 0);
		d->now[w] = 2000 + (uint64_t)w * 300;
	}
	for (uint32_t i = 1; i <= DT; i++) {
		d->t[i].polls_left = 2 + (int)rnd(d, 6);
		d->t[i].last = -1;
		ev(l, UST_SPAWN, 1000 + i * 20, i, 0, 0, 0, 0);
		d->q[0][d->qn[0]++] = i;
	}
	for (int steps = 0; steps < 100000; steps++) {
		int w = -1;

		for (int i = 0; i < DW; i++)
			if (!d->parked[i] && (w < 0 || d->now[i] < d->now[w]))
				w = i;
		if (dwake(d, w < 0 ? UINT64_MAX : d->now[w]))
			continue;
		if (w < 0)
			break; /* all parked, nothing sleeping: done */
		if (d->qn[w])
			dpoll(d, w);
		else
			didle(d, w);
	}
	for (int w = 0; w < DW; w++)
		if (d->now[w] > end)
			end = d->now[w];
	for (int w = 0; w < DW; w++)
		ev(l, UST_WORKER_STOP, end + 5000, 0, (uint16_t)w, 0,
		   100u + (unsigned)w, 0);
	ev(l, UST_TARGET_EXIT, end + 9000, 0, UST_NO_WORKER, 0, 0, 0);
	free(d);
}

static void header_init(struct ust_log_header *h, size_t nworkers)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, UST_LOG_MAGIC, 8);
	h->version = 1;
	h->event_size = sizeof(struct ust_event);
	h->pid = 4242;
	h->nworkers = (uint32_t)nworkers;
	h->start_ns = T0;
	h->drops = 7;
	strcpy(h->comm, "demo \"q\"<b>");
}

static void write_events(const char *path, const struct log *l, int reverse)
{
	struct ust_log_header h;
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	header_init(&h, 3); /* every canned log has three workers */
	assert_int_equal(fwrite(&h, sizeof(h), 1, f), 1);
	for (size_t k = 0; k < l->n; k++) {
		size_t i = reverse ? l->n - 1 - k : k;

		assert_int_equal(fwrite(&l->ev[i], sizeof(l->ev[i]), 1, f), 1);
	}
	assert_int_equal(fclose(f), 0);
}

/* Writes the events in reverse: the exporter must sort them itself. */
static void write_log(const char *path, const struct log *l)
{
	write_events(path, l, 1);
}

/*
 * Writes the events in order. A 0 ns poll's begin and end share a
 * timestamp, and the exporter breaks ties by position in the log, as
 * liburt's batches give them per worker.
 */
static void write_log_in_order(const char *path, const struct log *l)
{
	write_events(path, l, 0);
}

/* ---- scratch directories ---------------------------------------------- */

struct tmp {
	char dir[64];
	char log[96];
	char out[96];
	char out2[96];
};

static void tmp_init(struct tmp *t)
{
	strcpy(t->dir, "/tmp/ustx-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->log, sizeof(t->log), "%s/run.ust", t->dir);
	snprintf(t->out, sizeof(t->out), "%s/out", t->dir);
	snprintf(t->out2, sizeof(t->out2), "%s/out2", t->dir);
}

static void rm_out(const char *out)
{
	static const char *const files[] = {UST_EXPORT_JSON, UST_EXPORT_HTML,
					    UST_EXPORT_SUMMARY};
	char p[160];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", out, files[i]);
		unlink(p);
	}
	rmdir(out);
}

static void tmp_free(struct tmp *t)
{
	rm_out(t->out);
	rm_out(t->out2);
	unlink(t->log);
	assert_int_equal(rmdir(t->dir), 0);
}

static char *slurp(const char *dir, const char *name, size_t *lenp)
{
	char p[160];
	FILE *f;
	char *buf;
	long len;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = 0;
	fclose(f);
	if (lenp)
		*lenp = (size_t)len;
	return buf;
}

/* ---- a strict JSON parser (RFC 8259), enough to walk traceEvents ------- */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jt t;
	const char *s; /* J_STR: raw body (escapes kept); J_NUM: text */
	size_t len;
	size_t n;	 /* J_ARR / J_OBJ: children */
	struct jv *kid;	 /* children */
	struct jv *keys; /* J_OBJ: J_STR keys, parallel to kid */
};

struct jp {
	const char *p, *end;
	int err;
};

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int isdig(char c)
{
	return c >= '0' && c <= '9';
}

static int ishex(char c)
{
	return isdig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void jfree(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		jfree(&v->kid[i]);
		if (v->keys)
			jfree(&v->keys[i]);
	}
	free(v->kid);
	free(v->keys);
	memset(v, 0, sizeof(*v));
}

static int jparse(struct jp *j, struct jv *v, int depth);

static int jstring(struct jp *j, struct jv *v)
{
	j->p++; /* opening quote */
	v->t = J_STR;
	v->s = j->p;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;

		if (c < 0x20)
			return -1;
		if (c == '\\') {
			j->p++;
			if (j->p >= j->end)
				return -1;
			if (*j->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (j->p + i >= j->end ||
					    !ishex(j->p[i]))
						return -1;
				j->p += 4;
			} else if (!strchr("\"\\/bfnrt", *j->p)) {
				return -1;
			}
		}
		j->p++;
	}
	if (j->p >= j->end)
		return -1;
	v->len = (size_t)(j->p - v->s);
	j->p++;
	return 0;
}

static int jnumber(struct jp *j, struct jv *v)
{
	const char *p = j->p;

	v->t = J_NUM;
	v->s = p;
	if (p < j->end && *p == '-')
		p++;
	if (p < j->end && *p == '0')
		p++;
	else if (p < j->end && isdig(*p))
		while (p < j->end && isdig(*p))
			p++;
	else
		return -1;
	if (p < j->end && *p == '.') {
		p++;
		if (p >= j->end || !isdig(*p))
			return -1;
		while (p < j->end && isdig(*p))
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || !isdig(*p))
			return -1;
		while (p < j->end && isdig(*p))
			p++;
	}
	v->len = (size_t)(p - v->s);
	j->p = p;
	return 0;
}

static int jlist(struct jp *j, struct jv *v, int obj, int depth)
{
	size_t cap = 0;

	v->t = obj ? J_OBJ : J_ARR;
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (v->n == cap) {
			cap = cap ? cap * 2 : 8;
			v->kid = realloc(v->kid, cap * sizeof(*v->kid));
			assert_non_null(v->kid);
			if (obj) {
				v->keys =
				    realloc(v->keys, cap * sizeof(*v->keys));
				assert_non_null(v->keys);
			}
		}
		memset(&v->kid[v->n], 0, sizeof(*v->kid));
		if (obj) {
			memset(&v->keys[v->n], 0, sizeof(*v->keys));
			ws(j);
			if (j->p >= j->end || *j->p != '"' ||
			    jstring(j, &v->keys[v->n]))
				return -1;
			ws(j);
			if (j->p >= j->end || *j->p != ':')
				return -1;
			j->p++;
		}
		v->n++;
		if (jparse(j, &v->kid[v->n - 1], depth + 1))
			return -1;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
			j->p++;
			return 0;
		}
		return -1;
	}
}

static int jparse(struct jp *j, struct jv *v, int depth)
{
	ws(j);
	if (j->p >= j->end || depth > 64)
		return -1;
	switch (*j->p) {
	case '{':
		return jlist(j, v, 1, depth);
	case '[':
		return jlist(j, v, 0, depth);
	case '"':
		return jstring(j, v);
	case 't':
	case 'f':
	case 'n': {
		static const char *const lit[] = {"true", "false", "null"};

		for (int i = 0; i < 3; i++) {
			size_t l = strlen(lit[i]);

			if ((size_t)(j->end - j->p) >= l &&
			    !memcmp(j->p, lit[i], l)) {
				v->t = i == 2 ? J_NULL : J_BOOL;
				j->p += l;
				return 0;
			}
		}
		return -1;
	}
	}
	return jnumber(j, v);
}

/* Parses the whole text; fails the test unless it is exactly one value. */
static void jdoc(const char *text, size_t len, struct jv *root)
{
	struct jp j = {text, text + len, 0};

	memset(root, 0, sizeof(*root));
	assert_int_equal(jparse(&j, root, 0), 0);
	ws(&j);
	assert_true(j.p == j.end);
}

static const struct jv *jget(const struct jv *o, const char *key)
{
	if (o->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (o->keys[i].len == strlen(key) &&
		    !memcmp(o->keys[i].s, key, o->keys[i].len))
			return &o->kid[i];
	return NULL;
}

static int jis(const struct jv *v, const char *s)
{
	return v && v->t == J_STR && v->len == strlen(s) &&
	       !memcmp(v->s, s, v->len);
}

static long long jint(const struct jv *v)
{
	assert_non_null(v);
	assert_int_equal(v->t, J_NUM);
	return strtoll(v->s, NULL, 10);
}

/* A µs timestamp ("12.345") as integer ns; the exporter writes 3 places. */
static long long jns(const struct jv *v)
{
	long long us, frac = 0;
	const char *dot;
	int places = 0;

	assert_non_null(v);
	assert_int_equal(v->t, J_NUM);
	us = strtoll(v->s, NULL, 10);
	dot = memchr(v->s, '.', v->len);
	if (dot)
		for (const char *p = dot + 1; p < v->s + v->len && isdig(*p);
		     p++, places++)
			frac = frac * 10 + (*p - '0');
	assert_true(places <= 3);
	while (places++ < 3)
		frac *= 10;
	return us * 1000 + frac;
}

/* ---- the trace.json checks ---------------------------------------------- */

struct slice {
	long long tid, b, e;
};

struct flow {
	long long id, tid, ts;
	int start;
	char name[16];
};

struct parsed {
	struct slice *x;
	size_t nx, npoll_x;
	struct flow *fl;
	size_t nfl;
	size_t ncounter, ninstant;
	int thread_names;
};

static void walk_trace(const char *json, size_t len, struct parsed *out)
{
	struct jv root;
	const struct jv *evs;

	memset(out, 0, sizeof(*out));
	jdoc(json, len, &root);
	evs = jget(&root, "traceEvents");
	assert_non_null(evs);
	assert_int_equal(evs->t, J_ARR);
	for (size_t i = 0; i < evs->n; i++) {
		const struct jv *e = &evs->kid[i];
		const struct jv *ph = jget(e, "ph");

		assert_non_null(ph);
		assert_non_null(jget(e, "pid"));
		assert_non_null(jget(e, "name"));
		if (jis(ph, "M")) {
			out->thread_names +=
			    jis(jget(e, "name"), "thread_name");
			continue;
		}
		if (jis(ph, "X")) {
			struct slice *s;

			out->x = realloc(out->x, (out->nx + 1) * sizeof(*s));
			assert_non_null(out->x);
			s = &out->x[out->nx++];
			s->tid = jint(jget(e, "tid"));
			s->b = jns(jget(e, "ts"));
			s->e = s->b + jns(jget(e, "dur"));
			out->npoll_x += jis(jget(e, "cat"), "poll");
		} else if (jis(ph, "s") || jis(ph, "f")) {
			const struct jv *nm = jget(e, "name");
			struct flow *f;

			out->fl = realloc(out->fl, (out->nfl + 1) * sizeof(*f));
			assert_non_null(out->fl);
			f = &out->fl[out->nfl++];
			memset(f, 0, sizeof(*f));
			f->start = jis(ph, "s");
			f->id = jint(jget(e, "id"));
			f->tid = jint(jget(e, "tid"));
			f->ts = jns(jget(e, "ts"));
			assert_true(nm->len < sizeof(f->name));
			memcpy(f->name, nm->s, nm->len);
			if (!f->start)
				assert_true(jis(jget(e, "bp"), "e"));
		} else if (jis(ph, "C")) {
			out->ncounter++;
		} else if (jis(ph, "i")) {
			out->ninstant++;
		} else {
			fail_msg("unexpected ph %.*s", (int)ph->len, ph->s);
		}
	}
	jfree(&root);
}

/* The slice on tid that strictly contains ts, or NULL. */
static const struct slice *inside(const struct parsed *p, long long tid,
				  long long ts)
{
	for (size_t i = 0; i < p->nx; i++)
		if (p->x[i].tid == tid && p->x[i].b < ts && ts < p->x[i].e)
			return &p->x[i];
	return NULL;
}

static void parsed_free(struct parsed *p)
{
	free(p->x);
	free(p->fl);
}

static void check_flows_bind(const struct parsed *p)
{
	for (size_t i = 0; i < p->nfl; i++) {
		const struct flow *a = &p->fl[i];
		size_t mates = 0;

		assert_non_null(inside(p, a->tid, a->ts));
		for (size_t j = 0; j < p->nfl; j++) {
			const struct flow *b = &p->fl[j];

			if (j == i || b->id != a->id)
				continue;
			mates++;
			assert_int_not_equal(a->start, b->start);
			assert_string_equal(a->name, b->name);
			if (a->start)
				assert_true(a->ts <= b->ts);
		}
		assert_int_equal(mates, 1); /* one s, one f per id */
	}
}

/* On every track, slices nest: none partially overlaps another. */
static void check_nesting(const struct parsed *p)
{
	for (size_t i = 0; i < p->nx; i++)
		for (size_t j = 0; j < p->nx; j++) {
			const struct slice *a = &p->x[i], *b = &p->x[j];

			if (i == j || a->tid != b->tid)
				continue;
			if (a->b < b->b && b->b < a->e)
				assert_true(b->e <= a->e);
		}
}

/* On a worker's poll track (odd tid) no two slices share any time. */
static void check_polls_disjoint(const struct parsed *p)
{
	for (size_t i = 0; i < p->nx; i++)
		for (size_t j = 0; j < p->nx; j++) {
			const struct slice *a = &p->x[i], *b = &p->x[j];

			if (i == j || a->tid != b->tid || a->tid % 2 == 0)
				continue;
			assert_false(a->b < b->e && b->b < a->e);
		}
}

/* The end (ns) of the one slice on tid that begins at b and is drawn
 * `dur` long; fails unless there is exactly one. */
static void assert_slice(const struct parsed *p, long long tid, long long b,
			 long long dur)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nx; i++)
		n += p->x[i].tid == tid && p->x[i].b == b &&
		     p->x[i].e - p->x[i].b == dur;
	assert_int_equal(n, 1);
}

/* The time of the one flow event called name, its start or its end. */
static long long flow_ts(const struct parsed *p, const char *name, int start)
{
	const struct flow *f = NULL;

	for (size_t i = 0; i < p->nfl; i++)
		if (!strcmp(p->fl[i].name, name) && p->fl[i].start == start) {
			assert_null(f);
			f = &p->fl[i];
		}
	assert_non_null(f);
	return f->ts;
}

static int has_flow(const struct parsed *p, const char *name, long long ta,
		    long long tb)
{
	for (size_t i = 0; i < p->nfl; i++)
		for (size_t j = 0; j < p->nfl; j++)
			if (p->fl[i].start && !p->fl[j].start &&
			    p->fl[i].id == p->fl[j].id &&
			    !strcmp(p->fl[i].name, name) &&
			    p->fl[i].tid == ta && p->fl[j].tid == tb)
				return 1;
	return 0;
}

static void export_canned(struct tmp *t, FILE *summary)
{
	struct log l;

	tmp_init(t);
	scenario(&l);
	write_log(t->log, &l);
	free(l.ev);
	assert_int_equal(ust_export_all(t->log, t->out, summary), 0);
}

static void test_json_is_strict_and_flows_bind_inside_slices(void **state)
{
	struct parsed p;
	struct tmp t;
	size_t len;
	char *json;

	(void)state;
	export_canned(&t, NULL);
	json = slurp(t.out, UST_EXPORT_JSON, &len);
	walk_trace(json, len, &p);

	/* eight begin/end pairs; the lone begin and lone end draw nothing */
	assert_int_equal(p.npoll_x, 8);
	assert_int_equal(p.ncounter, 8);
	/* three hops (task 2 once, task 3 twice) and one cross-worker wake */
	assert_int_equal(p.nfl, 8);
	check_flows_bind(&p);
	check_nesting(&p);
	/* tids: worker w's polls are on 2w + 1 */
	assert_true(has_flow(&p, "hop", 1, 3));	  /* task 2: w0 -> w1 */
	assert_true(has_flow(&p, "hop", 1, 5));	  /* task 3: w0 -> w2 */
	assert_true(has_flow(&p, "hop", 5, 1));	  /* task 3: w2 -> w0 */
	assert_true(has_flow(&p, "wake", 1, 3));  /* task 1 wakes 4 */
	assert_false(has_flow(&p, "wake", 5, 1)); /* a self-wake is a hop */
	for (size_t i = 0; i < p.nfl; i++)
		assert_int_equal(p.fl[i].tid % 2, 1); /* on poll tracks */
	/* two tracks per worker (polls, sched), each named */
	assert_int_equal(p.thread_names, 6);
	/* the two OS preemptions and the three parks are slices too */
	assert_int_equal(p.nx, 8 + 2 + 3);
	assert_true(p.ninstant >= 9);
	/* the comm's quotes were escaped, so the parse above succeeded */
	assert_non_null(strstr(json, "demo \\\"q\\\"<b>"));
	parsed_free(&p);
	free(json);
	tmp_free(&t);
}

/* Exports t->log again into t->out2: the same three files, byte for byte. */
static void assert_export_is_stable(const struct tmp *t)
{
	static const char *const files[] = {UST_EXPORT_JSON, UST_EXPORT_HTML,
					    UST_EXPORT_SUMMARY};

	assert_int_equal(ust_export_all(t->log, t->out2, NULL), 0);
	for (size_t i = 0; i < 3; i++) {
		size_t la, lb;
		char *a = slurp(t->out, files[i], &la);
		char *b = slurp(t->out2, files[i], &lb);

		assert_true(la > 100);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
		free(a);
		free(b);
	}
}

static void test_same_log_gives_byte_identical_files(void **state)
{
	struct tmp t;

	(void)state;
	export_canned(&t, NULL);
	assert_export_is_stable(&t);
	tmp_free(&t);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_html_has_a_lane_per_worker_and_no_network(void **state)
{
	struct tmp t;
	char *html;

	(void)state;
	export_canned(&t, NULL);
	html = slurp(t.out, UST_EXPORT_HTML, NULL);
	assert_int_equal(count(html, "<g class=\"worker\""), 3);
	for (int w = 0; w < 3; w++) {
		char lane[48];

		snprintf(lane, sizeof(lane), "data-worker=\"%d\"", w);
		assert_int_equal(count(html, lane), 1);
	}
	assert_int_equal(count(html, "http://"), 0);
	assert_int_equal(count(html, "https://"), 0);
	assert_int_equal(count(html, "@import"), 0);
	assert_int_equal(count(html, " src="), 0);
	/* eight polls, three hop arrows, one wake arrow */
	assert_int_equal(count(html, "<rect class=\"p"), 8 + 3 + 2);
	assert_int_equal(count(html, "fill=\"hsl("), 8); /* polls only */
	assert_int_equal(count(html, "<rect class=\"p long"), 1);
	assert_int_equal(count(html, "<rect class=\"park\""), 3);
	assert_int_equal(count(html, "<rect class=\"pre\""), 2);
	assert_int_equal(count(html, "<path class=\"hop\""), 3);
	assert_int_equal(count(html, "<path class=\"wk\""), 1);
	/* the command name is escaped, not markup */
	assert_int_equal(count(html, "<b>\"q\""), 0);
	assert_non_null(strstr(html, "demo &quot;q&quot;&lt;b&gt;"));
	assert_non_null(strstr(html, "</html>\n"));
	free(html);
	tmp_free(&t);
}

/* The row "  wN" of the steal matrix, as numbers ('-' reads as -1). */
static void steal_row(const char *sum, int w, long long out[3])
{
	const char *p = strstr(sum, "steal matrix");
	char label[16];

	assert_non_null(p);
	snprintf(label, sizeof(label), "\n  w%d ", w);
	p = strstr(p, label);
	assert_non_null(p);
	p += strlen(label);
	for (int i = 0; i < 3; i++) {
		char *end;

		while (*p == ' ')
			p++;
		if (*p == '-') {
			out[i] = -1;
			p++;
			continue;
		}
		out[i] = strtoll(p, &end, 10);
		assert_true(end != p);
		p = end;
	}
}

/* hops and migrates of one task from the per-task table. */
static void task_row(const char *sum, unsigned long long task, unsigned *hops,
		     unsigned *migrates)
{
	const char *p = strstr(sum, "per-task hops");

	assert_non_null(p);
	p = strchr(p, '\n') + 1;
	p = strchr(p, '\n') + 1; /* column titles */
	for (; *p == ' '; p = strchr(p, '\n') + 1) {
		unsigned long long id;

		if (sscanf(p, "%llu %u %u", &id, hops, migrates) == 3 &&
		    id == task)
			return;
	}
	fail_msg("task %llu not in the table", task);
}

static void test_summary_matches_the_canned_log(void **state)
{
	unsigned hops, mig;
	long long row[3];
	struct tmp t;
	char *mem = NULL, *sum;
	size_t memlen = 0;
	FILE *ms = open_memstream(&mem, &memlen);

	(void)state;
	assert_non_null(ms);
	export_canned(&t, ms);
	fclose(ms);
	sum = slurp(t.out, UST_EXPORT_SUMMARY, NULL);
	/* the copy to summary_out is the same text */
	assert_string_equal(mem, sum);

	steal_row(sum, 0, row);
	assert_true(row[0] == -1 && row[1] == 0 && row[2] == 0);
	steal_row(sum, 1, row);
	assert_true(row[0] == 2 && row[1] == -1 && row[2] == 0);
	steal_row(sum, 2, row);
	assert_true(row[0] == 1 && row[1] == 0 && row[2] == -1);
	assert_non_null(strstr(sum, "3 tasks in 2 steals"));

	task_row(sum, 3, &hops, &mig);
	assert_int_equal(hops, 2);
	assert_int_equal(mig, 2);
	task_row(sum, 2, &hops, &mig);
	assert_int_equal(hops, 1);
	assert_int_equal(mig, 1);
	task_row(sum, 1, &hops, &mig);
	assert_int_equal(hops, 0);

	assert_non_null(strstr(sum, "  hops      3 "));
	assert_non_null(strstr(sum, "unmatched: 1 begin, 1 end"));
	assert_non_null(strstr(sum, "dropped   7 by the ring buffer"));
	assert_non_null(strstr(sum, "skipped   1 of unknown type, 1 corrupt"));
	assert_non_null(strstr(sum, "arrows    3 hop, 1 wake; dropped 0"));
	/* six tasks polled (1, 2, 3, 4, 5 and 8, whose end was lost): four
	 * never hopped, task 2 once, task 3 twice */
	assert_non_null(strstr(sum, "             0 : 4 "));
	assert_non_null(strstr(sum, "             1 : 1 "));
	assert_non_null(strstr(sum, "           2-3 : 1 "));
	/* the longest poll is task 5's 50 us on w1, flagged by LONG_POLL */
	assert_non_null(strstr(sum, "     1          5     w1"));
	assert_non_null(strstr(sum, "50.0 us ready, flagged long"));
	/* wake-to-run: task 4 after 4100 ns, task 5 after 20 ns, task 3's
	 * self-wake after 1500 ns */
	assert_non_null(strstr(sum, "wake-to-run latency (wake to the task's "
				    "next poll): 3 samples"));
	assert_non_null(strstr(sum, "4096 -> 8191"));
	free(sum);
	free(mem);
	tmp_free(&t);
}

/* ---- bad logs ------------------------------------------------------------ */

static void write_bytes(const char *path, const void *a, size_t la,
			const void *b, size_t lb)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(a, 1, la, f), la);
	if (lb)
		assert_int_equal(fwrite(b, 1, lb, f), lb);
	assert_int_equal(fclose(f), 0);
}

static void assert_no_output(const struct tmp *t)
{
	struct stat st;

	assert_int_not_equal(stat(t->out, &st), 0);
}

static void test_truncated_log_fails_with_ebadmsg(void **state)
{
	struct ust_log_header h;
	struct log l;
	struct tmp t;

	(void)state;
	tmp_init(&t);
	header_init(&h, 3);
	scenario(&l);
	/* five whole records and half of the sixth */
	write_bytes(t.log, &h, sizeof(h), l.ev,
		    5 * sizeof(l.ev[0]) + sizeof(l.ev[0]) / 2);
	free(l.ev);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), -EBADMSG);
	assert_no_output(&t);
	/* a header cut short */
	write_bytes(t.log, &h, sizeof(h) - 10, NULL, 0);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), -EBADMSG);
	/* an event size no reader can use */
	h.event_size = 3;
	write_bytes(t.log, &h, sizeof(h), "0123456789", 10);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), -EBADMSG);
	assert_no_output(&t);
	tmp_free(&t);
}

static void test_foreign_file_fails_with_einval(void **state)
{
	struct ust_log_header h;
	struct tmp t;
	char junk[200];

	(void)state;
	tmp_init(&t);
	memset(junk, 'x', sizeof(junk));
	write_bytes(t.log, junk, sizeof(junk), NULL, 0);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), -EINVAL);
	header_init(&h, 3);
	h.version = 3; /* 1 and 2 are read */
	write_bytes(t.log, &h, sizeof(h), NULL, 0);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), -EINVAL);
	unlink(t.log);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), -ENOENT);
	assert_no_output(&t);
	tmp_free(&t);
}

/* Random records behind a valid header: exported, nothing crashes. */
static void test_garbage_records_do_not_crash(void **state)
{
	struct ust_event junk[512];
	struct ust_log_header h;
	struct tmp t;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned char *b = (unsigned char *)junk;
	size_t len;
	char *json;
	struct jv root;

	(void)state;
	tmp_init(&t);
	for (size_t i = 0; i < sizeof(junk); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (unsigned char)x;
	}
	/* small types and workers, so many records are taken seriously */
	for (size_t i = 0; i < 512; i++) {
		junk[i].type = junk[i].type % 52;
		junk[i].worker = i % 7 ? junk[i].worker % 4 : junk[i].worker;
		junk[i].worker2 %= 5;
		junk[i].task %= 6;
		junk[i].ts_ns %= 100000;
		junk[i].data %= 1000;
	}
	header_init(&h, 0);
	write_bytes(t.log, &h, sizeof(h), junk, sizeof(junk));
	assert_int_equal(ust_export_all(t.log, t.out, NULL), 0);
	json = slurp(t.out, UST_EXPORT_JSON, &len);
	jdoc(json, len, &root);
	jfree(&root);
	free(json);
	tmp_free(&t);
}

static void test_empty_log_exports_empty_views(void **state)
{
	struct ust_log_header h;
	struct parsed p;
	struct tmp t;
	size_t len;
	char *json, *sum;

	(void)state;
	tmp_init(&t);
	header_init(&h, 2);
	write_bytes(t.log, &h, sizeof(h), NULL, 0);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), 0);
	json = slurp(t.out, UST_EXPORT_JSON, &len);
	walk_trace(json, len, &p);
	assert_int_equal(p.nx, 0);
	assert_int_equal(p.nfl, 0);
	sum = slurp(t.out, UST_EXPORT_SUMMARY, NULL);
	assert_non_null(strstr(sum, "events    0 "));
	parsed_free(&p);
	free(sum);
	free(json);
	tmp_free(&t);
}

/* A migrations-only recording (no polls): hops are counted from MIGRATE. */
static void test_log_without_polls_counts_migrations(void **state)
{
	struct parsed p;
	struct log l;
	struct tmp t;
	size_t len;
	char *json, *sum, *html;

	(void)state;
	tmp_init(&t);
	memset(&l, 0, sizeof(l));
	ev(&l, UST_STEAL, 100, 0, 1, 0, 1, 0);
	ev(&l, UST_MIGRATE, 200, 7, 1, 0, URT_TRM_STOLEN, 0);
	ev(&l, UST_MIGRATE, 900, 7, 2, 1, URT_TRM_WOKEN, 0);
	ev(&l, UST_MIGRATE, 950, 8, 0, 2, URT_TRM_INJECT, 0);
	write_log(t.log, &l);
	free(l.ev);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), 0);
	json = slurp(t.out, UST_EXPORT_JSON, &len);
	walk_trace(json, len, &p);
	assert_int_equal(p.nx, 0);
	assert_int_equal(p.nfl, 0);
	assert_int_equal(p.ninstant, 1 + 3); /* the steal, three moves */
	sum = slurp(t.out, UST_EXPORT_SUMMARY, NULL);
	assert_non_null(strstr(sum, "migrates (no polls recorded) per task"));
	assert_non_null(strstr(sum, "             1 : 1 "));
	assert_non_null(strstr(sum, "           2-3 : 1 "));
	html = slurp(t.out, UST_EXPORT_HTML, NULL);
	assert_int_equal(count(html, "moved here from"), 3);
	parsed_free(&p);
	free(html);
	free(sum);
	free(json);
	tmp_free(&t);
}

/*
 * The busier synthetic run: every begin/end pair is a slice, every hop
 * between consecutive polls an arrow, and all of them bind.
 */
static void test_generated_run_keeps_every_invariant(void **state)
{
	uint64_t last[DT + 1] = {0}, open[DW] = {0};
	size_t pairs = 0, hops = 0, hop_flows = 0;
	struct parsed p;
	struct log l;
	struct tmp t;
	size_t len;
	char *json, *sum, want[64];

	(void)state;
	tmp_init(&t);
	demo_log(&l);
	write_log(t.log, &l);
	/* the expected counts, straight from the log (emitted in order) */
	for (size_t i = 0; i < l.n; i++) {
		const struct ust_event *e = &l.ev[i];

		if (e->type == UST_POLL_BEGIN) {
			open[e->worker] = e->task;
			if (last[e->task] && last[e->task] != e->worker + 1u)
				hops++;
			last[e->task] = e->worker + 1u;
		} else if (e->type == UST_POLL_END &&
			   open[e->worker] == e->task) {
			pairs++;
		}
	}
	free(l.ev);
	assert_true(pairs > 60);
	assert_true(hops > 5);
	assert_int_equal(ust_export_all(t.log, t.out, NULL), 0);
	json = slurp(t.out, UST_EXPORT_JSON, &len);
	walk_trace(json, len, &p);
	assert_int_equal(p.npoll_x, pairs);
	check_flows_bind(&p);
	check_nesting(&p);
	check_polls_disjoint(&p);
	for (size_t i = 0; i < p.nfl; i++)
		hop_flows += p.fl[i].start && !strcmp(p.fl[i].name, "hop");
	assert_int_equal(hop_flows, hops);
	sum = slurp(t.out, UST_EXPORT_SUMMARY, NULL);
	snprintf(want, sizeof(want), "  hops      %zu ", hops);
	assert_non_null(strstr(sum, want));
	parsed_free(&p);
	free(sum);
	free(json);
	tmp_free(&t);
}

/* An empty log whose workers 0..n-1 start at 0 (threads 100 + w). */
static void log_start(struct log *l, uint16_t n)
{
	memset(l, 0, sizeof(*l));
	for (uint16_t w = 0; w < n; w++)
		ev(l, UST_WORKER_START, 0, 0, w, 0, 100u + w, 0);
}

/* Writes l (freed) as t's log, exports it, parses its trace.json into p
 * (strict JSON); returns that JSON. */
static char *export_walk(struct tmp *t, struct log *l, struct parsed *p)
{
	size_t len;
	char *json;

	write_log_in_order(t->log, l);
	free(l->ev);
	assert_int_equal(ust_export_all(t->log, t->out, NULL), 0);
	json = slurp(t->out, UST_EXPORT_JSON, &len);
	walk_trace(json, len, p);
	return json;
}

/*
 * A TSC that steps 10 ns measures a bare yield as 0 ns. Task 1 polls 0 ns
 * on w0 (waking task 6 in it), hops to w1 and polls 0 ns there; each is
 * followed 10 ns later by another poll on its worker. Task 6 runs 0 ns on
 * w2 as it unparks, and the next poll there begins exactly 2 ns later.
 */
static void zero_polls(struct log *l)
{
	log_start(l, 3);
	ev(l, UST_PARK, 500, 0, 2, 0, URT_TRP_IDLE, 0);
	ev(l, UST_POLL_BEGIN, 1000, 1, 0, 0, 0, 0);
	ev(l, UST_WAKE, 1000, 6, 0, 0, URT_TRW_LOCAL, 0);
	ev(l, UST_POLL_END, 1000, 1, 0, 0, 0, 0);
	poll(l, 9, 0, 1010, 1500, 0, 1);
	ev(l, UST_MIGRATE, 1100, 1, 1, 0, URT_TRM_STOLEN, 0);
	poll(l, 1, 1, 1200, 1200, 0, 1);
	poll(l, 2, 1, 1210, 1800, 0, 1);
	ev(l, UST_UNPARK, 2000, 0, 2, 0, URT_TRP_NOTIFIED, 0);
	poll(l, 6, 2, 2000, 2000, 0, 1);
	poll(l, 7, 2, 2002, 2400, 0, 1);
	ev(l, UST_TARGET_EXIT, 3000, 0, NW, 0, 0, 0);
}

static void test_zero_ns_polls_are_widened_so_every_arrow_binds(void **state)
{
	struct parsed p;
	struct log l;
	struct tmp t;
	char *json, *sum, *html;
	const char *at;

	(void)state;
	tmp_init(&t);
	zero_polls(&l);
	json = export_walk(&t, &l, &p);
	assert_int_equal(p.npoll_x, 6);
	/* the three 0 ns polls are drawn 2 ns long, the others as recorded */
	assert_slice(&p, 1, 1000, 2);
	assert_slice(&p, 3, 1200, 2);
	assert_slice(&p, 5, 2000, 2);
	assert_slice(&p, 1, 1010, 490);
	assert_slice(&p, 5, 2002, 398);
	check_polls_disjoint(&p);
	check_nesting(&p);
	check_flows_bind(&p);
	/* the hop leaves task 1's 0 ns slice on w0 and enters the one on w1 */
	assert_int_equal(p.nfl, 4);
	assert_true(has_flow(&p, "hop", 1, 3));
	assert_int_equal(flow_ts(&p, "hop", 1), 1001);
	assert_int_equal(flow_ts(&p, "hop", 0), 1201);
	/* the wake leaves the same slice on w0 and enters task 6's on w2 */
	assert_true(has_flow(&p, "wake", 1, 5));
	assert_int_equal(flow_ts(&p, "wake", 1), 1001);
	assert_int_equal(flow_ts(&p, "wake", 0), 2001);
	/* labels give the recorded duration, not the drawn width */
	assert_int_equal(count(json, "\"dur_ns\":0}"), 3);
	assert_int_equal(count(json, "\"dur_ns\":2}"), 0);
	html = slurp(t.out, UST_EXPORT_HTML, NULL);
	assert_int_equal(count(html, "<path class=\"hop\""), 1);
	assert_int_equal(count(html, "<path class=\"wk\""), 1);
	assert_int_equal(count(html, ", 2 ns, "), 0);
	assert_int_equal(count(html, ", 0 ns, "), 3);

	sum = slurp(t.out, UST_EXPORT_SUMMARY, NULL);
	assert_non_null(strstr(sum, "arrows    1 hop, 1 wake; dropped 0 "));
	/* the summary keeps the recorded times: three polls of 0 ns */
	at = strstr(sum, "poll time: 6 samples");
	assert_non_null(at);
	at = strstr(at, " 0 -> 0 : ");
	assert_non_null(at);
	assert_int_equal(strtoll(at + strlen(" 0 -> 0 : "), NULL, 10), 3);
	at = strstr(sum, "longest polls");
	assert_non_null(at);
	assert_int_equal(count(at, " 0 ns "), 3);
	assert_int_equal(count(at, " 2 ns "), 0);
	assert_export_is_stable(&t);
	parsed_free(&p);
	free(html);
	free(sum);
	free(json);
	tmp_free(&t);
}

/*
 * Where a 0 ns poll cannot be widened, its arrow is dropped and counted:
 * tasks 1 and 2 hop from w1 to w0 and poll 0 ns there at the same
 * instant, so task 1's slice has no room; task 3 hops to w2 and polls
 * 0 ns just as the OS preempts w2 (1 ns later).
 */
static void test_zero_ns_poll_without_room_drops_its_arrow(void **state)
{
	struct parsed p;
	struct log l;
	struct tmp t;
	char *json, *sum;

	(void)state;
	tmp_init(&t);
	log_start(&l, 3);
	poll(&l, 1, 1, 500, 600, 0, 0);
	poll(&l, 2, 1, 700, 800, 0, 0);
	ev(&l, UST_MIGRATE, 900, 1, 0, 1, URT_TRM_STOLEN, 0);
	ev(&l, UST_MIGRATE, 950, 2, 0, 1, URT_TRM_STOLEN, 0);
	poll(&l, 1, 0, 1000, 1000, 0, 1);
	poll(&l, 2, 0, 1000, 1000, 0, 1);
	poll(&l, 3, 1, 1100, 1300, 0, 0);
	poll(&l, 3, 2, 3000, 3000, 0, 1);
	ev(&l, UST_SCHED_SWITCH, 3001, 0, NW, 0, 1, 7777);
	l.ev[l.n - 1].tid = 102;
	ev(&l, UST_SCHED_SWITCH_IN, 5000, 0, NW, 0, 0, 7777);
	l.ev[l.n - 1].tid = 102;
	json = export_walk(&t, &l, &p);
	assert_int_equal(p.npoll_x, 6);
	assert_slice(&p, 1, 1000, 0); /* task 2 begins at its end */
	assert_slice(&p, 1, 1000, 2); /* task 2: nothing follows on w0 */
	assert_slice(&p, 5, 3000, 0); /* the preemption follows at once */
	check_polls_disjoint(&p);
	check_nesting(&p);
	check_flows_bind(&p);
	/* only task 2's hop is drawn, into its widened slice */
	assert_int_equal(p.nfl, 2);
	assert_true(has_flow(&p, "hop", 3, 1));
	assert_int_equal(flow_ts(&p, "hop", 0), 1001);
	sum = slurp(t.out, UST_EXPORT_SUMMARY, NULL);
	assert_non_null(strstr(sum, "  hops      3 "));
	assert_non_null(strstr(sum, "arrows    1 hop, 0 wake; dropped 2 "));
	parsed_free(&p);
	free(sum);
	free(json);
	tmp_free(&t);
}

/*
 * Polls back to back (one clock read served both): a 0 ns poll followed
 * at once by a longer one on its worker is drawn 2 ns long and the next
 * one from there on, so its arrow binds; labels and the summary keep the
 * recorded times. Where the next one is too short to give up 2 ns (it
 * ends less than 4 ns after the first began), nothing moves and the
 * arrow is dropped.
 */
static void test_zero_ns_poll_back_to_back_takes_room_from_the_next(
    void **state)
{
	struct parsed p;
	struct log l;
	struct tmp t;
	char *json, *sum;

	(void)state;
	tmp_init(&t);
	log_start(&l, 2);
	poll(&l, 1, 1, 500, 600, 0, 0);
	ev(&l, UST_MIGRATE, 900, 1, 0, 1, URT_TRM_STOLEN, 0);
	poll(&l, 1, 0, 1000, 1000, 0, 0);
	poll(&l, 2, 0, 1000, 1010, 0, 0);
	poll(&l, 3, 1, 1500, 1600, 0, 0);
	ev(&l, UST_MIGRATE, 1900, 3, 0, 1, URT_TRM_STOLEN, 0);
	poll(&l, 3, 0, 2000, 2000, 0, 0);
	poll(&l, 4, 0, 2000, 2003, 0, 0);
	json = export_walk(&t, &l, &p);
	assert_int_equal(p.npoll_x, 6);
	assert_slice(&p, 1, 1000, 2); /* task 1, widened */
	assert_slice(&p, 1, 1002, 8); /* task 2, from there on */
	assert_slice(&p, 1, 2000, 0); /* task 3: no room */
	assert_slice(&p, 1, 2000, 3); /* task 4 as recorded */
	check_polls_disjoint(&p);
	check_nesting(&p);
	check_flows_bind(&p);
	assert_int_equal(p.nfl, 2);
	assert_true(has_flow(&p, "hop", 3, 1)); /* task 1: w1 -> w0 */
	assert_int_equal(flow_ts(&p, "hop", 0), 1001);
	/* labels: the recorded 0 and 10 ns */
	assert_int_equal(count(json, "\"dur_ns\":10}"), 1);
	assert_int_equal(count(json, "\"dur_ns\":8}"), 0);
	sum = slurp(t.out, UST_EXPORT_SUMMARY, NULL);
	assert_non_null(strstr(sum, "arrows    1 hop, 0 wake; dropped 1 "));
	parsed_free(&p);
	free(sum);
	free(json);
	tmp_free(&t);
}

/*
 * With "--write-log small|demo PATH" this writes a canned log and exits:
 * test_ustrace_report.sh feeds it to ustrace-report, and a person can
 * look at what the exporters make of it.
 */
int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--write-log")) {
		struct log l;

		if (!strcmp(argv[2], "demo"))
			demo_log(&l);
		else
			scenario(&l);
		write_log(argv[3], &l);
		free(l.ev);
		return 0;
	}

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_is_strict_and_flows_bind_inside_slices),
	    cmocka_unit_test(test_same_log_gives_byte_identical_files),
	    cmocka_unit_test(test_html_has_a_lane_per_worker_and_no_network),
	    cmocka_unit_test(test_summary_matches_the_canned_log),
	    cmocka_unit_test(test_truncated_log_fails_with_ebadmsg),
	    cmocka_unit_test(test_foreign_file_fails_with_einval),
	    cmocka_unit_test(test_garbage_records_do_not_crash),
	    cmocka_unit_test(test_empty_log_exports_empty_views),
	    cmocka_unit_test(test_generated_run_keeps_every_invariant),
	    cmocka_unit_test(test_log_without_polls_counts_migrations),
	    cmocka_unit_test(
		test_zero_ns_polls_are_widened_so_every_arrow_binds),
	    cmocka_unit_test(
		test_zero_ns_poll_back_to_back_takes_room_from_the_next),
	    cmocka_unit_test(test_zero_ns_poll_without_room_drops_its_arrow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
