/* SPDX-License-Identifier: MIT */
/*
 * trace.json: Chrome trace-event JSON as Perfetto's importer reads it. One
 * process; per worker a track of poll slices ("worker N") and a sibling
 * ("worker N sched") with parked and OS-preempted spans; queue-depth
 * counters; v1 flows (s, then f with "bp":"e") whose endpoints the model
 * already placed strictly inside their slices; instants for the rest.
 * Events are written sorted by (ts, kind, index), one per line.
 */
#include <errno.h>
#include <stdlib.h>

#include "export_model.h"
#include "trace_format.h"

/*
 * Track ids (JSON "tid"), not OS thread ids: worker w's polls on 2w + 1,
 * its sched sibling on 2w + 2, so sorting by tid keeps the pair together.
 * The OS tid is in the track's name.
 */
#define POLL_TID(w) (2u * (w) + 1)
#define SCHED_TID(w) (2u * (w) + 2)

enum item_kind {
	IT_POLL, /* ordered first at equal ts: a flow binds to an open slice */
	IT_SPAN,
	IT_COUNTER,
	IT_FLOW_S,
	IT_FLOW_F,
	IT_MARK,
};

struct item {
	uint64_t ts;
	uint32_t kind;
	uint32_t idx;
};

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* A JSON string body: quotes, backslashes, control and non-ASCII bytes. */
static void jstr(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

static const char *migrate_name(int32_t r)
{
	switch (r) {
	case URT_TRM_STOLEN:
		return "stolen";
	case URT_TRM_INJECT:
		return "inject";
	case URT_TRM_WOKEN:
		return "woken";
	}
	return "unknown";
}

static const char *wake_name(uint32_t k)
{
	switch (k) {
	case URT_TRW_LIFO:
		return "lifo";
	case URT_TRW_LOCAL:
		return "local";
	case URT_TRW_INJECT:
		return "inject";
	case URT_TRW_RUNNING:
		return "running";
	}
	return "unknown";
}

static const char *unpark_name(uint32_t r)
{
	switch (r) {
	case URT_TRP_IDLE:
		return "idle";
	case URT_TRP_NOTIFIED:
		return "notified";
	case URT_TRP_EVENT:
		return "event";
	}
	return "unknown";
}

static void meta(FILE *f, unsigned pid, unsigned tid, const char *what,
		 const char *key, const char *sval, long ival)
{
	fprintf(f,
		"{\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"name\":\"%s\","
		"\"args\":{\"%s\":",
		pid, tid, what, key);
	if (sval) {
		fputc('"', f);
		jstr(f, sval);
		fputc('"', f);
	} else {
		fprintf(f, "%ld", ival);
	}
	fputs("}}", f);
}

static void poll_ev(FILE *f, unsigned pid, const struct ust_x_poll *p,
		    uint64_t recorded_ns)
{
	char b1[32], b2[32];

	fprintf(f,
		"{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"dur\":%s,"
		"\"name\":\"task %llu\",\"cat\":\"poll\",\"args\":{"
		"\"task\":%llu,\"worker\":%u,\"result\":\"%s\","
		"\"queue_depth\":%u,\"dur_ns\":%llu%s}}",
		pid, POLL_TID(p->worker), ust_x_us(p->b, b1),
		ust_x_us(p->e - p->b, b2), (unsigned long long)p->task,
		(unsigned long long)p->task, p->worker,
		p->ready ? "ready" : "pending", p->depth,
		(unsigned long long)recorded_ns,
		p->longp ? ",\"long_poll\":true" : "");
}

static void span_ev(FILE *f, unsigned pid, const struct ust_x_span *s)
{
	char b1[32], b2[32];

	fprintf(f,
		"{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%s,\"dur\":%s,"
		"\"name\":\"%s\",\"cat\":\"sched\",\"args\":{\"dur_ns\":%llu",
		pid, SCHED_TID(s->worker), ust_x_us(s->b, b1),
		ust_x_us(s->e - s->b, b2),
		s->kind == UST_X_PARKED ? "parked" : "preempted by the OS",
		(unsigned long long)(s->e - s->b));
	if (s->kind == UST_X_PARKED)
		fprintf(f, ",\"woken_by\":\"%s\"", unpark_name(s->reason));
	fputs("}}", f);
}

static void flow_ev(const struct ust_x_model *m, FILE *f, unsigned pid,
		    uint32_t i, int start)
{
	const struct ust_x_flow *fl = &m->flows[i];
	const struct ust_x_poll *p = &m->polls[start ? fl->pa : fl->pb];
	char b1[32];

	/* s binds to the slice open at ts; f with bp:e to the enclosing one */
	fprintf(f,
		"{\"ph\":\"%s\",%s\"id\":%u,\"pid\":%u,\"tid\":%u,\"ts\":%s,"
		"\"name\":\"%s\",\"cat\":\"%s\",\"args\":{\"task\":%llu,"
		"\"from\":%u,\"to\":%u,\"why\":\"%s\"}}",
		start ? "s" : "f", start ? "" : "\"bp\":\"e\",", i + 1, pid,
		POLL_TID(p->worker), ust_x_us(start ? fl->ta : fl->tb, b1),
		fl->kind == UST_X_HOP ? "hop" : "wake",
		fl->kind == UST_X_HOP ? "migrate" : "wake",
		(unsigned long long)fl->task, m->polls[fl->pa].worker,
		m->polls[fl->pb].worker,
		fl->kind == UST_X_HOP ? migrate_name(fl->reason)
				      : wake_name((uint32_t)fl->reason));
}

static void mark_ev(FILE *f, unsigned pid, const struct ust_x_mark *k)
{
	const struct ust_event *e = &k->ev;
	unsigned tid = POLL_TID(e->worker);
	const char *scope = "t";
	char name[96], b1[32], b2[32];

	switch (e->type) {
	case UST_STEAL:
		snprintf(name, sizeof(name), "steal %u from w%u", e->arg,
			 e->worker2);
		break;
	case UST_PARK:
		snprintf(name, sizeof(name), "park");
		tid = SCHED_TID(e->worker);
		break;
	case UST_UNPARK:
		snprintf(name, sizeof(name), "unpark (%s)",
			 unpark_name(e->arg));
		tid = SCHED_TID(e->worker);
		break;
	case UST_MIGRATE:
		snprintf(name, sizeof(name), "task %llu from w%u (%s)",
			 (unsigned long long)e->task, e->worker2,
			 migrate_name((int32_t)e->arg));
		break;
	case UST_ABORT:
		snprintf(name, sizeof(name), "abort task %llu",
			 (unsigned long long)e->task);
		break;
	case UST_LONG_POLL:
		snprintf(name, sizeof(name), "long poll: task %llu, %s",
			 (unsigned long long)e->task, ust_x_human(e->data, b2));
		break;
	case UST_WORKER_START:
		snprintf(name, sizeof(name), "worker start");
		break;
	case UST_WORKER_STOP:
		snprintf(name, sizeof(name), "worker stop");
		break;
	case UST_DROPS:
		snprintf(name, sizeof(name), "%llu events dropped",
			 (unsigned long long)e->data);
		break;
	case UST_TARGET_EXIT: /* arg: a wait status */
		if (e->arg & 0x7f)
			snprintf(name, sizeof(name),
				 "process killed by signal %u", e->arg & 0x7f);
		else
			snprintf(name, sizeof(name), "process exit, code %u",
				 (e->arg >> 8) & 0xff);
		break;
	default:
		snprintf(name, sizeof(name), "event %u", e->type);
	}
	if (e->worker == UST_NO_WORKER) {
		scope = "p";
		tid = 0;
	}
	fprintf(f,
		"{\"ph\":\"i\",\"s\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":%s,"
		"\"name\":\"%s\",\"cat\":\"urt\",\"args\":{\"task\":%llu,"
		"\"data\":%llu,\"arg\":%u,\"worker2\":%u}}",
		scope, pid, tid, ust_x_us(k->t, b1), name,
		(unsigned long long)e->task, (unsigned long long)e->data,
		e->arg, e->worker2);
}

static void counter_ev(FILE *f, unsigned pid, const struct ust_x_poll *p)
{
	char b1[32];

	fprintf(f,
		"{\"ph\":\"C\",\"pid\":%u,\"tid\":%u,\"ts\":%s,"
		"\"name\":\"queue w%u\",\"args\":{\"depth\":%u}}",
		pid, POLL_TID(p->worker), ust_x_us(p->b, b1), p->worker,
		p->depth);
}

int ust_x_write_json(const struct ust_x_model *m, FILE *f)
{
	unsigned pid = m->hdr.pid ? m->hdr.pid : 1;
	size_t n = 0,
	       cap = 2 * m->npolls + m->nspans + 2 * m->nflows + m->nmarks + 1;
	struct item *it = malloc(cap * sizeof(*it));
	char pname[96];

	if (!it)
		return -ENOMEM;
	for (size_t i = 0; i < m->npolls; i++) {
		if (!m->polls[i].closed)
			continue; /* unmatched: counted in the summary */
		it[n++] = (struct item){m->polls[i].b, IT_POLL, (uint32_t)i};
		it[n++] = (struct item){m->polls[i].b, IT_COUNTER, (uint32_t)i};
	}
	for (size_t i = 0; i < m->nspans; i++)
		it[n++] = (struct item){m->spans[i].b, IT_SPAN, (uint32_t)i};
	for (size_t i = 0; i < m->nflows; i++) {
		it[n++] = (struct item){m->flows[i].ta, IT_FLOW_S, (uint32_t)i};
		it[n++] = (struct item){m->flows[i].tb, IT_FLOW_F, (uint32_t)i};
	}
	for (size_t i = 0; i < m->nmarks; i++)
		it[n++] = (struct item){m->marks[i].t, IT_MARK, (uint32_t)i};
	qsort(it, n, sizeof(*it), item_cmp);

	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
	snprintf(pname, sizeof(pname), "urt: %s (pid %u)",
		 m->hdr.comm[0] ? m->hdr.comm : "?", m->hdr.pid);
	meta(f, pid, 0, "process_name", "name", pname, 0);
	for (uint32_t w = 0; w < m->nworkers; w++) {
		char tname[64];

		if (m->w[w].tid)
			snprintf(tname, sizeof(tname), "worker %u (tid %u)", w,
				 m->w[w].tid);
		else
			snprintf(tname, sizeof(tname), "worker %u", w);
		fputs(",\n", f);
		meta(f, pid, POLL_TID(w), "thread_name", "name", tname, 0);
		fputs(",\n", f);
		meta(f, pid, POLL_TID(w), "thread_sort_index", "sort_index",
		     NULL, POLL_TID(w));
		snprintf(tname, sizeof(tname), "worker %u sched", w);
		fputs(",\n", f);
		meta(f, pid, SCHED_TID(w), "thread_name", "name", tname, 0);
		fputs(",\n", f);
		meta(f, pid, SCHED_TID(w), "thread_sort_index", "sort_index",
		     NULL, SCHED_TID(w));
	}
	for (size_t i = 0; i < n; i++) {
		fputs(",\n", f);
		switch (it[i].kind) {
		case IT_POLL:
			poll_ev(f, pid, &m->polls[it[i].idx],
				ust_x_recorded_ns(m, it[i].idx));
			break;
		case IT_SPAN:
			span_ev(f, pid, &m->spans[it[i].idx]);
			break;
		case IT_COUNTER:
			counter_ev(f, pid, &m->polls[it[i].idx]);
			break;
		case IT_FLOW_S:
		case IT_FLOW_F:
			flow_ev(m, f, pid, it[i].idx, it[i].kind == IT_FLOW_S);
			break;
		case IT_MARK:
			mark_ev(f, pid, &m->marks[it[i].idx]);
			break;
		}
	}
	fputs("\n]}\n", f);
	free(it);
	return ferror(f) ? -EIO : 0;
}
