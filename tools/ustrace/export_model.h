/* SPDX-License-Identifier: MIT */
/*
 * Internal to the exporters: the model built from a sorted event log (poll
 * slices, parked/preempted spans, hop and wake flows, instants, per-task
 * and per-worker totals) that export_json.c, export_html.c and the summary
 * in export.c render. Times are ns relative to the first event.
 */
#ifndef USTRACE_EXPORT_MODEL_H
#define USTRACE_EXPORT_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "ustrace.h"

/* Worker ids at or above this are treated as corrupt records. */
#define UST_X_MAX_WORKERS 1024
#define UST_X_HIST 64

struct ust_x_poll {
	uint64_t b, e; /* ns */
	uint64_t task;
	uint32_t worker;
	uint32_t depth; /* local queue depth at POLL_BEGIN */
	uint8_t closed; /* has its POLL_END; only closed polls are drawn */
	uint8_t ready;	/* POLL_END arg */
	uint8_t longp;	/* a UST_LONG_POLL named it */
};

enum ust_x_span_kind { UST_X_PARKED, UST_X_PREEMPTED };

struct ust_x_span {
	uint64_t b, e;
	uint32_t worker;
	uint32_t kind;	 /* enum ust_x_span_kind */
	uint32_t reason; /* UNPARK arg */
};

enum ust_x_flow_kind { UST_X_HOP, UST_X_WAKE };

/*
 * An arrow from poll pa (at ta, inside it) to poll pb (at tb, inside it).
 * Built only when both endpoints lie strictly inside closed polls as drawn
 * (ust_x_model.drawn), so a flow always binds to its slices.
 */
struct ust_x_flow {
	uint64_t ta, tb;
	uint64_t task;	 /* the task that moved / was woken */
	uint32_t pa, pb; /* indices into polls */
	uint32_t kind;	 /* enum ust_x_flow_kind */
	int32_t reason;	 /* hop: enum urt_trace_migrate or -1; wake: kind */
};

/* An instant: a copy of the event, time made relative. */
struct ust_x_mark {
	uint64_t t;
	struct ust_event ev;
};

struct ust_x_task {
	uint64_t id;
	uint64_t busy_ns, max_poll_ns;
	uint32_t polls, hops, migrates, wakes;
	int64_t last_poll; /* index of its latest poll, -1: none */
	int64_t wake_poll; /* waker's open poll for the pending wake */
	uint64_t wake_t;   /* first pending wake, valid if wake_pending */
	uint32_t wake_worker;
	uint32_t wake_kind;
	int32_t mig_reason; /* last UST_MIGRATE since the last poll, or -1 */
	uint8_t wake_pending;
	uint8_t used;
	uint8_t first_worker_set;
	uint32_t first_worker;
};

struct ust_x_worker {
	uint64_t busy_ns, parked_ns, preempt_ns;
	uint64_t steal_ops_in, stolen_in, stolen_out;
	uint32_t polls, tid, parks;
	int64_t open_poll; /* -1: none */
	uint64_t park_t, preempt_t;
	uint8_t parked, preempted;
};

struct ust_x_model {
	struct ust_log_header hdr;
	uint64_t base_ns; /* absolute ts of t = 0 */
	uint64_t span_ns; /* last event - first event */
	size_t nev;
	uint32_t nworkers;
	struct ust_x_worker *w;

	struct ust_x_poll *polls; /* as recorded: the summary's */
	size_t npolls, cap_polls;
	/* the same npolls as trace.json and timeline.html draw them: a poll
	 * under 2 ns widened to 2 where it overlaps nothing (widen() in
	 * export.c); those writers get a copy of the model whose polls point
	 * here */
	struct ust_x_poll *drawn;
	/* in that copy: the polls as recorded (durations shown in labels);
	 * NULL in the model itself */
	const struct ust_x_poll *recorded;
	struct ust_x_span *spans;
	size_t nspans, cap_spans;
	struct ust_x_flow *flows;
	size_t nflows, cap_flows;
	struct ust_x_mark *marks;
	size_t nmarks, cap_marks;

	/* open-addressed by id; ntasks used slots, ordered views built on
	 * demand by the summary */
	struct ust_x_task *tasks;
	size_t ntasks, cap_tasks;

	uint64_t *steal;     /* [thief * nworkers + victim]: tasks stolen */
	uint64_t *steal_ops; /* same, steal operations */

	uint64_t type_count[64];
	uint64_t unknown_types, bad_records;
	uint64_t drops_ev; /* sum of UST_DROPS data */
	uint64_t poll_unmatched_begin, poll_unmatched_end;
	uint64_t hops_total, wakes_total, wakes_cross, wakes_foreign;
	uint64_t wakes_never_ran;
	/* an endpoint not strictly inside a drawn slice: an open poll, one
	 * under 2 ns that could not be widened, or an arrow backwards */
	uint64_t flows_dropped;
	uint64_t preempt_unmatched;
	uint64_t poll_hist[UST_X_HIST], wake_hist[UST_X_HIST];
	uint64_t long_poll_events;
	/* no POLL_BEGIN at all (a migrations-only recording): hops come from
	 * UST_MIGRATE, which are then drawn as marks */
	int no_polls;
};

/* Formats ns as decimal µs with three decimals ("12.345"), no floats. */
const char *ust_x_us(uint64_t ns, char buf[32]);
/* The same with a unit that suits the size ("850 ns", "12.3 us", ...). */
const char *ust_x_human(uint64_t ns, char buf[32]);
/* A stable colour per task: hue in degrees. */
unsigned ust_x_task_hue(uint64_t task);

int ust_x_write_json(const struct ust_x_model *m, FILE *f);
int ust_x_write_html(const struct ust_x_model *m, FILE *f);
int ust_x_write_summary(const struct ust_x_model *m, FILE *f);

/* The recorded duration of m->polls[i] (labels show it, not the width a
 * 0-ns poll is drawn with). */
static inline uint64_t ust_x_recorded_ns(const struct ust_x_model *m,
					 size_t i)
{
	const struct ust_x_poll *p = m->recorded ? &m->recorded[i]
						 : &m->polls[i];

	return p->e - p->b;
}

#endif
