/* SPDX-License-Identifier: MIT */
/*
 * Reads a ustrace event log, sorts it and builds the model the exporters
 * render (export_model.h); ust_export_all() drives the three outputs. It
 * owns log validation and event semantics (which events pair into polls,
 * hops, wakes, parks, preemptions); the renderers own only presentation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "decode.h"
#include "export.h"
#include "export_model.h"

const char *ust_x_us(uint64_t ns, char buf[32])
{
	snprintf(buf, 32, "%llu.%03llu", (unsigned long long)(ns / 1000),
		 (unsigned long long)(ns % 1000));
	return buf;
}

const char *ust_x_human(uint64_t ns, char buf[32])
{
	static const char *const unit[] = {"us", "ms", "s"};
	uint64_t div = 1000;
	int u = 0;

	if (ns < 1000) {
		snprintf(buf, 32, "%llu ns", (unsigned long long)ns);
		return buf;
	}
	while (u < 2 && ns >= div * 1000) {
		div *= 1000;
		u++;
	}
	/* one decimal, truncated: stable and short */
	snprintf(buf, 32, "%llu.%llu %s", (unsigned long long)(ns / div),
		 (unsigned long long)(ns % div * 10 / div), unit[u]);
	return buf;
}

unsigned ust_x_task_hue(uint64_t task)
{
	/* 137 degrees is close to the golden angle: neighbours differ */
	return (unsigned)((task * 137) % 360);
}

/* Reads the whole file; stdio so pipes and /dev/stdin work too. */
static int slurp(const char *path, unsigned char **bufp, size_t *lenp)
{
	unsigned char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	FILE *f = fopen(path, "rb");
	int err = 0;

	if (!f)
		return ust_fail(-errno, path, "cannot open: %s", strerror(errno));
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				err = ust_fail(-EIO, path, "read error");
			break;
		}
	}
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

struct sev {
	struct ust_event e;
	size_t i; /* position in the log: the tie-break that makes it stable */
};

static int sev_cmp(const void *a, const void *b)
{
	const struct sev *x = a, *y = b;

	if (x->e.ts_ns != y->e.ts_ns)
		return x->e.ts_ns < y->e.ts_ns ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

struct load_ctx {
	struct sev *ev;
	size_t n, cap;
};

static int load_one(void *arg, const struct ust_event *e)
{
	struct load_ctx *l = arg;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 1 << 16;
		struct sev *ne = realloc(l->ev, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		l->ev = ne;
		l->cap = nc;
	}
	l->ev[l->n].e = *e;
	l->ev[l->n].i = l->n;
	l->n++;
	return 0;
}

/* Either log version; decode.c checks it and decodes liburt's batches. */
static int load(const char *path, struct ust_log_header *hdr, struct sev **evp,
		size_t *np)
{
	unsigned char *buf = NULL;
	struct load_ctx l = {0};
	size_t len = 0;
	int err;

	err = slurp(path, &buf, &len);
	if (err)
		return err;
	err = ust_log_parse(buf, len, path, hdr, load_one, &l);
	free(buf);
	if (err) {
		free(l.ev);
		return err;
	}
	if (!l.ev && !(l.ev = calloc(1, sizeof(*l.ev))))
		return -ENOMEM;
	qsort(l.ev, l.n, sizeof(*l.ev), sev_cmp);
	*evp = l.ev;
	*np = l.n;
	return 0;
}

/* Grows an array of elements of size sz; returns -ENOMEM on failure. */
static int grow(void **arr, size_t *cap, size_t need, size_t sz)
{
	size_t nc = *cap ? *cap : 64;
	void *na;

	if (need <= *cap)
		return 0;
	while (nc < need)
		nc *= 2;
	na = realloc(*arr, nc * sz);
	if (!na)
		return -ENOMEM;
	*arr = na;
	*cap = nc;
	return 0;
}

#define PUSH(m, arr, n, cap)                                                   \
	(grow((void **)&(m)->arr, &(m)->cap, (m)->n + 1, sizeof(*(m)->arr))    \
	     ? NULL                                                            \
	     : memset(&(m)->arr[(m)->n++], 0, sizeof(*(m)->arr)))

static size_t task_slot(const struct ust_x_task *t, size_t cap, uint64_t id)
{
	size_t i = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);

	while (t[i].used && t[i].id != id)
		i = (i + 1) & (cap - 1);
	return i;
}

/* The task's record, created on first sight. Invalidates older pointers. */
static struct ust_x_task *task_get(struct ust_x_model *m, uint64_t id)
{
	struct ust_x_task *t;
	size_t i;

	if ((m->ntasks + 1) * 2 > m->cap_tasks) {
		size_t nc = m->cap_tasks ? m->cap_tasks * 2 : 256;
		struct ust_x_task *nt = calloc(nc, sizeof(*nt));

		if (!nt)
			return NULL;
		for (size_t j = 0; j < m->cap_tasks; j++)
			if (m->tasks[j].used)
				nt[task_slot(nt, nc, m->tasks[j].id)] =
				    m->tasks[j];
		free(m->tasks);
		m->tasks = nt;
		m->cap_tasks = nc;
	}
	i = task_slot(m->tasks, m->cap_tasks, id);
	t = &m->tasks[i];
	if (!t->used) {
		t->used = 1;
		t->id = id;
		t->last_poll = -1;
		t->wake_poll = -1;
		t->mig_reason = -1;
		m->ntasks++;
	}
	return t;
}

static unsigned log2_bucket(uint64_t v)
{
	unsigned b = 0;

	while (v) {
		b++;
		v >>= 1;
	}
	return b; /* 0 for 0; k holds [2^(k-1), 2^k) */
}

static int known_type(unsigned type)
{
	return (type >= UST_POLL_BEGIN && type <= UST_EXIT) ||
	       (type >= UST_WORKER_START && type <= UST_LONG_POLL) ||
	       (type >= UST_SCHED_SWITCH && type <= UST_SCHED_SWITCH_IN) ||
	       type == UST_DROPS || type == UST_TARGET_EXIT;
}

/* Events that name a worker and mean nothing without one. */
static int needs_worker(unsigned type)
{
	switch (type) {
	case UST_POLL_BEGIN:
	case UST_POLL_END:
	case UST_STEAL:
	case UST_MIGRATE:
	case UST_PARK:
	case UST_UNPARK:
	case UST_LONG_POLL:
	case UST_WORKER_START:
	case UST_WORKER_STOP:
		return 1;
	}
	return 0;
}

static int worker_ok(const struct ust_x_model *m, unsigned w)
{
	return w < m->nworkers;
}

static long worker_of_tid(const struct ust_x_model *m, uint32_t tid)
{
	if (!tid)
		return -1;
	for (uint32_t i = 0; i < m->nworkers; i++)
		if (m->w[i].tid == tid)
			return i;
	return -1;
}

/* Workers and their threads, before the events are replayed. */
static int prepass(struct ust_x_model *m, const struct sev *ev, size_t n)
{
	uint32_t nw = m->hdr.nworkers < UST_X_MAX_WORKERS ? m->hdr.nworkers : 0;

	for (size_t i = 0; i < n; i++) {
		const struct ust_event *e = &ev[i].e;

		if (e->worker < UST_X_MAX_WORKERS && e->worker >= nw)
			nw = e->worker + 1u;
		if ((e->type == UST_STEAL || e->type == UST_MIGRATE) &&
		    e->worker2 < UST_X_MAX_WORKERS && e->worker2 >= nw)
			nw = e->worker2 + 1u;
	}
	m->nworkers = nw;
	m->no_polls = 1;
	for (size_t i = 0; i < n && m->no_polls; i++)
		m->no_polls = ev[i].e.type != UST_POLL_BEGIN;
	m->w = calloc(nw ? nw : 1, sizeof(*m->w));
	m->steal = calloc(nw ? (size_t)nw * nw : 1, sizeof(*m->steal));
	m->steal_ops = calloc(nw ? (size_t)nw * nw : 1, sizeof(*m->steal));
	if (!m->w || !m->steal || !m->steal_ops)
		return -ENOMEM;
	for (uint32_t i = 0; i < nw; i++)
		m->w[i].open_poll = -1;
	/* worker_start names the thread; other worker events fill gaps */
	for (size_t i = 0; i < n; i++) {
		const struct ust_event *e = &ev[i].e;

		if (e->type == UST_WORKER_START && e->worker < nw &&
		    !m->w[e->worker].tid)
			m->w[e->worker].tid = e->arg ? e->arg : e->tid;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ust_event *e = &ev[i].e;

		if (e->type < UST_SCHED_SWITCH && e->worker < nw &&
		    !m->w[e->worker].tid && e->tid)
			m->w[e->worker].tid = e->tid;
	}
	return 0;
}

static int add_mark(struct ust_x_model *m, const struct ust_event *e,
		    uint64_t t)
{
	struct ust_x_mark *k = PUSH(m, marks, nmarks, cap_marks);

	if (!k)
		return -ENOMEM;
	k->t = t;
	k->ev = *e;
	return 0;
}

static int add_span(struct ust_x_model *m, uint32_t w, uint32_t kind,
		    uint64_t b, uint64_t e, uint32_t reason)
{
	struct ust_x_span *s = PUSH(m, spans, nspans, cap_spans);

	if (!s)
		return -ENOMEM;
	s->b = b;
	s->e = e;
	s->worker = w;
	s->kind = kind;
	s->reason = reason;
	return 0;
}

static int add_flow(struct ust_x_model *m, uint32_t kind, uint64_t task,
		    int64_t pa, int64_t pb, uint64_t ta, int32_t reason)
{
	struct ust_x_flow *f = PUSH(m, flows, nflows, cap_flows);

	if (!f)
		return -ENOMEM;
	f->kind = kind;
	f->task = task;
	f->pa = (uint32_t)pa;
	f->pb = (uint32_t)pb;
	f->ta = ta; /* wake: the wake's time; fixed up in finish_flows() */
	f->reason = reason;
	return 0;
}

static int poll_begin(struct ust_x_model *m, const struct ust_event *e,
		      uint64_t t)
{
	struct ust_x_worker *w = &m->w[e->worker];
	struct ust_x_task *tk;
	struct ust_x_poll *p;
	int64_t idx;
	int err;

	if (w->open_poll >= 0) /* its POLL_END was lost */
		m->poll_unmatched_begin++;
	p = PUSH(m, polls, npolls, cap_polls);
	if (!p)
		return -ENOMEM;
	idx = (int64_t)m->npolls - 1;
	p->b = p->e = t;
	p->task = e->task;
	p->worker = e->worker;
	p->depth = e->arg;
	w->open_poll = idx;

	tk = task_get(m, e->task);
	if (!tk)
		return -ENOMEM;
	if (tk->last_poll >= 0 && m->polls[tk->last_poll].worker != e->worker) {
		tk->hops++;
		m->hops_total++;
		err = add_flow(m, UST_X_HOP, e->task, tk->last_poll, idx, 0,
			       tk->mig_reason);
		if (err)
			return err;
	}
	if (tk->wake_pending) {
		m->wake_hist[log2_bucket(t - tk->wake_t)]++;
		if (tk->wake_worker != UST_NO_WORKER &&
		    tk->wake_worker != e->worker) {
			m->wakes_cross++;
			/* a task that woke itself and then hopped is the
			 * hop arrow already */
			if (tk->wake_poll >= 0 &&
			    m->polls[tk->wake_poll].task != e->task) {
				err = add_flow(m, UST_X_WAKE, e->task,
					       tk->wake_poll, idx, tk->wake_t,
					       (int32_t)tk->wake_kind);
				if (err)
					return err;
			}
		}
		tk->wake_pending = 0;
	}
	if (!tk->first_worker_set) {
		tk->first_worker_set = 1;
		tk->first_worker = e->worker;
	}
	tk->last_poll = idx;
	tk->mig_reason = -1;
	return 0;
}

static int poll_end(struct ust_x_model *m, const struct ust_event *e,
		    uint64_t t)
{
	struct ust_x_worker *w = &m->w[e->worker];
	struct ust_x_task *tk;
	struct ust_x_poll *p;
	uint64_t d;

	if (w->open_poll < 0 || m->polls[w->open_poll].task != e->task) {
		m->poll_unmatched_end++;
		return 0;
	}
	p = &m->polls[w->open_poll];
	w->open_poll = -1;
	p->e = t;
	p->closed = 1;
	p->ready = e->arg != 0;
	d = t - p->b;
	w->polls++;
	w->busy_ns += d;
	m->poll_hist[log2_bucket(d)]++;
	tk = task_get(m, e->task);
	if (!tk)
		return -ENOMEM;
	tk->polls++;
	tk->busy_ns += d;
	if (d > tk->max_poll_ns)
		tk->max_poll_ns = d;
	return 0;
}

static void wake(struct ust_x_model *m, struct ust_x_task *tk,
		 const struct ust_event *e, uint64_t t)
{
	m->wakes_total++;
	tk->wakes++;
	if (e->worker == UST_NO_WORKER)
		m->wakes_foreign++;
	if (tk->wake_pending)
		return; /* runqlat's rule: latency from the first wakeup */
	tk->wake_pending = 1;
	tk->wake_t = t;
	tk->wake_kind = e->arg;
	tk->wake_worker = e->worker;
	tk->wake_poll =
	    e->worker != UST_NO_WORKER ? m->w[e->worker].open_poll : -1;
}

/*
 * A worker thread switched out while runnable (arg 1) was preempted until
 * it is switched back in: SCHED_SWITCH names it as next (data) when the
 * previous thread was in the target too, SCHED_SWITCH_IN (tid) otherwise.
 * Either may come first if the tracer writes both; the second is a no-op.
 */
static int sched_switch(struct ust_x_model *m, const struct ust_event *e,
			uint64_t t)
{
	int is_in = e->type == UST_SCHED_SWITCH_IN;
	long in = worker_of_tid(m, is_in ? e->tid : (uint32_t)e->data);
	long out = is_in ? -1 : worker_of_tid(m, e->tid);
	int err;

	if (in >= 0 && m->w[in].preempted) {
		struct ust_x_worker *w = &m->w[in];

		err = add_span(m, (uint32_t)in, UST_X_PREEMPTED, w->preempt_t,
			       t, 0);
		if (err)
			return err;
		w->preempt_ns += t - w->preempt_t;
		w->preempted = 0;
	}
	if (out >= 0 && e->arg == 1) {
		if (m->w[out].preempted) /* its switch back in was lost */
			m->preempt_unmatched++;
		m->w[out].preempted = 1;
		m->w[out].preempt_t = t;
	}
	return 0;
}

static int unpark(struct ust_x_model *m, uint32_t wi, uint64_t t,
		  uint32_t reason)
{
	struct ust_x_worker *w = &m->w[wi];

	if (!w->parked)
		return 0;
	w->parked = 0;
	w->parked_ns += t - w->park_t;
	return add_span(m, wi, UST_X_PARKED, w->park_t, t, reason);
}

static int replay_one(struct ust_x_model *m, const struct ust_event *e,
		      uint64_t t)
{
	struct ust_x_task *tk;
	uint64_t *cell;

	switch (e->type) {
	case UST_POLL_BEGIN:
		return poll_begin(m, e, t);
	case UST_POLL_END:
		return poll_end(m, e, t);
	case UST_WAKE:
		tk = task_get(m, e->task);
		if (!tk)
			return -ENOMEM;
		wake(m, tk, e, t);
		return 0;
	case UST_MIGRATE:
		tk = task_get(m, e->task);
		if (!tk)
			return -ENOMEM;
		tk->migrates++;
		tk->mig_reason = (int32_t)e->arg;
		return m->no_polls ? add_mark(m, e, t) : 0;
	case UST_STEAL:
		cell = &m->steal[(size_t)e->worker * m->nworkers + e->worker2];
		*cell += e->arg;
		m->steal_ops[cell - m->steal]++;
		m->w[e->worker].steal_ops_in++;
		m->w[e->worker].stolen_in += e->arg;
		m->w[e->worker2].stolen_out += e->arg;
		return add_mark(m, e, t);
	case UST_PARK:
		if (!m->w[e->worker].parked) {
			m->w[e->worker].parked = 1;
			m->w[e->worker].park_t = t;
			m->w[e->worker].parks++;
		}
		return add_mark(m, e, t);
	case UST_UNPARK: {
		int err = unpark(m, e->worker, t, e->arg);

		return err ? err : add_mark(m, e, t);
	}
	case UST_WORKER_STOP: {
		int err = unpark(m, e->worker, t, 0);

		return err ? err : add_mark(m, e, t);
	}
	case UST_LONG_POLL:
		m->long_poll_events++;
		tk = task_get(m, e->task);
		if (!tk)
			return -ENOMEM;
		if (tk->last_poll >= 0 &&
		    m->polls[tk->last_poll].worker == e->worker)
			m->polls[tk->last_poll].longp = 1;
		return add_mark(m, e, t);
	case UST_SCHED_SWITCH:
	case UST_SCHED_SWITCH_IN:
		return sched_switch(m, e, t);
	case UST_DROPS:
		m->drops_ev += e->data;
		return add_mark(m, e, t);
	case UST_ABORT:
	case UST_TARGET_EXIT:
	case UST_WORKER_START:
		return add_mark(m, e, t);
	}
	return 0;
}

/*
 * Places each flow's endpoints strictly inside its two drawn slices (one ns
 * in from the edges) and drops those that cannot be: an open slice, a
 * slice under 2 ns that widen() could not widen, or an arrow that would
 * run backwards in time.
 */
static void finish_flows(struct ust_x_model *m)
{
	size_t k = 0;

	for (size_t i = 0; i < m->nflows; i++) {
		struct ust_x_flow f = m->flows[i];
		const struct ust_x_poll *a = &m->drawn[f.pa];
		const struct ust_x_poll *b = &m->drawn[f.pb];

		if (!a->closed || !b->closed || a->e - a->b < 2 ||
		    b->e - b->b < 2) {
			m->flows_dropped++;
			continue;
		}
		if (f.kind == UST_X_HOP)
			f.ta = a->e - 1;
		else if (f.ta <= a->b)
			f.ta = a->b + 1;
		else if (f.ta >= a->e)
			f.ta = a->e - 1;
		f.tb = b->b + 1;
		if (f.ta > f.tb) {
			m->flows_dropped++;
			continue;
		}
		m->flows[k++] = f;
	}
	m->nflows = k;
}

static int span_cmp(const void *a, const void *b)
{
	const struct ust_x_span *x = a, *y = b;

	if (x->worker != y->worker)
		return x->worker < y->worker ? -1 : 1;
	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	if (x->e != y->e) /* the enclosing one first */
		return x->e > y->e ? -1 : 1;
	return x->kind < y->kind ? -1 : x->kind > y->kind;
}

/*
 * Parked and preempted spans share a track, so they must nest: a thread
 * can be preempted while parking, never park while preempted. Clock skew
 * could still make two overlap; clipping the inner one keeps the JSON
 * well formed whatever the log says.
 */
static int nest_spans(struct ust_x_model *m)
{
	uint64_t *stack = malloc((m->nspans + 1) * sizeof(*stack));
	size_t depth = 0;

	if (!stack)
		return -ENOMEM;
	if (m->nspans)
		qsort(m->spans, m->nspans, sizeof(*m->spans), span_cmp);
	for (size_t i = 0; i < m->nspans; i++) {
		struct ust_x_span *s = &m->spans[i];

		if (i && s->worker != m->spans[i - 1].worker)
			depth = 0;
		while (depth && stack[depth - 1] <= s->b)
			depth--;
		if (depth && s->e > stack[depth - 1])
			s->e = stack[depth - 1];
		stack[depth++] = s->e;
	}
	free(stack);
	return 0;
}

/* One worker's state while widen() walks the polls. */
struct lane {
	uint64_t next_b; /* begin of the worker's next poll; none: max */
	size_t next;	 /* that poll; none: SIZE_MAX */
	size_t span;	 /* its first span not yet looked at */
	uint64_t span_e; /* the latest end of the spans before that one */
};

/*
 * Fills m->drawn. The TSC steps 10 ns on some machines, so a bare yield
 * often measures 0 ns, and a slice under 2 ns has no inside for a flow
 * arrow to bind to. Such a closed poll is drawn 2 ns long from its
 * recorded start: below the clock's resolution, so it shows nothing the
 * clock could tell apart. Only the drawn slice is widened, never the
 * recorded data: m->polls keep their times, and the summary (poll-time
 * histogram, longest polls, busy time) reads those. A slice is widened
 * only where that overlaps nothing else drawn for its worker: the worker's
 * next poll begins at or after the widened end (or, where polls lie back
 * to back, as they do where one clock read served both, that next poll
 * is drawn from the widened end on and stays 2 ns long or more), and no
 * parked or preempted span of the worker covers any of the added time.
 * Else it stays as recorded and its arrows are dropped (flows_dropped).
 * Needs the spans sorted by worker and start (nest_spans()) and the polls
 * in event order, so chronological per worker.
 */
static int widen(struct ust_x_model *m)
{
	struct lane *lane = calloc(m->nworkers + 1, sizeof(*lane));
	struct ust_x_poll *d = malloc((m->npolls + 1) * sizeof(*d));
	/* the next poll whose drawn begin widening poll i moved, or
	 * SIZE_MAX */
	size_t *moved = malloc((m->npolls + 1) * sizeof(*moved));

	if (!lane || !d || !moved) {
		free(lane);
		free(d);
		free(moved);
		return -ENOMEM;
	}
	if (m->npolls)
		memcpy(d, m->polls, m->npolls * sizeof(*d));
	m->drawn = d;
	for (uint32_t w = 0; w < m->nworkers; w++) {
		lane[w].next_b = UINT64_MAX;
		lane[w].next = SIZE_MAX;
		lane[w].span = m->nspans;
	}
	/* backwards: the worker's next poll must begin at or after b + 2
	 * (tested so that b + 2 cannot wrap on a garbage timestamp), or
	 * begin where this one ends and be drawn 4 ns long or more (then it
	 * gives up its first 2 ns) */
	for (size_t i = m->npolls; i-- > 0;) {
		struct lane *l = &lane[d[i].worker];
		struct ust_x_poll *nx = l->next == SIZE_MAX ? NULL : &d[l->next];

		moved[i] = SIZE_MAX;
		if (d[i].closed && d[i].e - d[i].b < 2 && l->next_b >= d[i].b) {
			if (l->next_b - d[i].b >= 2) {
				d[i].e = d[i].b + 2;
			} else if (nx && nx->closed && nx->b >= d[i].e &&
				   nx->e >= nx->b && nx->e - d[i].b >= 4) {
				d[i].e = d[i].b + 2;
				nx->b = d[i].e;
				moved[i] = l->next;
			}
		}
		l->next_b = d[i].b;
		l->next = i;
	}
	for (size_t i = m->nspans; i-- > 0;)
		lane[m->spans[i].worker].span = i;
	/* forwards: no span of the worker may begin before the widened end
	 * and end after the recorded one; b + 2 never decreases per worker,
	 * so each worker's spans are walked once */
	for (size_t i = 0; i < m->npolls; i++) {
		struct lane *l = &lane[d[i].worker];
		uint64_t e = m->polls[i].e;

		if (d[i].e == e)
			continue;
		while (l->span < m->nspans &&
		       m->spans[l->span].worker == d[i].worker &&
		       m->spans[l->span].b < d[i].e) {
			if (m->spans[l->span].e > l->span_e)
				l->span_e = m->spans[l->span].e;
			l->span++;
		}
		if (l->span_e > e) {
			d[i].e = e;
			if (moved[i] != SIZE_MAX) /* give it back */
				d[moved[i]].b = m->polls[moved[i]].b;
		}
	}
	free(lane);
	free(moved);
	return 0;
}

static int build(struct ust_x_model *m, const struct sev *ev, size_t n)
{
	int err = prepass(m, ev, n);

	if (err)
		return err;
	m->nev = n;
	m->base_ns = n ? ev[0].e.ts_ns : 0;
	m->span_ns = n ? ev[n - 1].e.ts_ns - m->base_ns : 0;
	for (size_t i = 0; i < n; i++) {
		const struct ust_event *e = &ev[i].e;

		if (!known_type(e->type)) {
			m->unknown_types++; /* a newer tracer's: skip */
			continue;
		}
		m->type_count[e->type]++;
		if ((e->worker != UST_NO_WORKER && !worker_ok(m, e->worker)) ||
		    (needs_worker(e->type) && e->worker == UST_NO_WORKER) ||
		    ((e->type == UST_STEAL || e->type == UST_MIGRATE) &&
		     !worker_ok(m, e->worker2))) {
			m->bad_records++;
			continue;
		}
		err = replay_one(m, e, e->ts_ns - m->base_ns);
		if (err)
			return err;
	}
	for (uint32_t i = 0; i < m->nworkers; i++) {
		if (m->w[i].open_poll >= 0)
			m->poll_unmatched_begin++;
		if (m->w[i].preempted)
			m->preempt_unmatched++;
		/* parked when tracing stopped: parked to the end */
		err = unpark(m, i, m->span_ns, 0);
		if (err)
			return err;
	}
	for (size_t i = 0; i < m->cap_tasks; i++)
		if (m->tasks[i].used && m->tasks[i].wake_pending)
			m->wakes_never_ran++;
	return 0;
}

/* Completes the model build() made: spans nested, polls drawn, flows
 * bound. Called once the events are freed, so the drawn copy of the polls
 * adds nothing to the peak. */
static int finish(struct ust_x_model *m)
{
	int err = nest_spans(m);

	if (!err)
		err = widen(m);
	if (!err)
		finish_flows(m);
	return err;
}

static void model_free(struct ust_x_model *m)
{
	free(m->w);
	free(m->polls);
	free(m->drawn);
	free(m->spans);
	free(m->flows);
	free(m->marks);
	free(m->tasks);
	free(m->steal);
	free(m->steal_ops);
}

static int write_one(const struct ust_x_model *m, const char *dir,
		     const char *name,
		     int (*fn)(const struct ust_x_model *, FILE *))
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *path = malloc(len);
	FILE *f;
	int err;

	if (!path)
		return -ENOMEM;
	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		err = ust_fail(-errno, path, "cannot create: %s", strerror(errno));
		free(path);
		return err;
	}
	err = fn(m, f);
	if (fclose(f) && !err)
		err = -EIO;
	if (err)
		ust_fail(err, path, "write failed");
	free(path);
	return err;
}

int ust_export_all(const char *log_path, const char *out_dir, FILE *summary_out)
{
	struct ust_x_model m, drawn;
	struct sev *ev = NULL;
	size_t n = 0;
	int err;

	memset(&m, 0, sizeof(m));
	err = load(log_path, &m.hdr, &ev, &n);
	if (err)
		return err;
	err = build(&m, ev, n);
	free(ev);
	if (!err)
		err = finish(&m);
	if (err) {
		ust_fail(err, log_path, "out of memory");
		goto out;
	}
	if (mkdir(out_dir, 0777) && errno != EEXIST) {
		err =
		    ust_fail(-errno, out_dir, "cannot create: %s", strerror(errno));
		goto out;
	}
	/* the timelines draw the widened polls, the summary the recorded */
	drawn = m;
	drawn.polls = m.drawn;
	drawn.recorded = m.polls;
	err = write_one(&drawn, out_dir, UST_EXPORT_JSON, ust_x_write_json);
	if (!err)
		err = write_one(&drawn, out_dir, UST_EXPORT_HTML,
				ust_x_write_html);
	if (!err)
		err = write_one(&m, out_dir, UST_EXPORT_SUMMARY,
				ust_x_write_summary);
	if (!err && summary_out) {
		err = ust_x_write_summary(&m, summary_out);
		if (!err && fflush(summary_out))
			err = -EIO;
	}
out:
	model_free(&m);
	return err;
}
