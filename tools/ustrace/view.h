/* SPDX-License-Identifier: MIT */
/*
 * What ustrace shows a person while it records: a model of workers and tasks
 * fed with ust_events, drawn as a full-screen live view (plain ANSI
 * escapes), as plain progress lines (--no-live), and as a final summary.
 */
#ifndef USTRACE_VIEW_H
#define USTRACE_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ustrace.h"

struct ust_view;

struct ust_view_opts {
	bool live;	       /* full-screen view, else progress lines */
	FILE *out;	       /* where to draw (stdout) */
	uint64_t long_poll_ns; /* warn about polls at least this long */
	const char *title;     /* the traced command, for the header */
	uint32_t pid;
	bool hops_from_polls; /* no urt:migrate: a hop is a poll on
			       * another worker than the task's last */
};

/* NULL: out of memory. */
struct ust_view *ust_view_new(const struct ust_view_opts *o);
void ust_view_free(struct ust_view *v);

/* Feeds one event (any order; batches arrive later than direct probes). */
void ust_view_event(struct ust_view *v, const struct ust_event *e);

/* Redraws (live) or prints a progress line; now_ns is CLOCK_MONOTONIC,
 * drops the ring buffer's total so far. */
void ust_view_tick(struct ust_view *v, uint64_t now_ns, uint64_t drops);

/* Leaves the full screen (if live) and prints the final summary to f. */
void ust_view_finish(struct ust_view *v, FILE *f, uint64_t drops);

/* Events fed so far. */
uint64_t ust_view_events(const struct ust_view *v);

#endif
