/* SPDX-License-Identifier: MIT */
/*
 * summary.txt: totals, per-worker table, steal matrix, per-task hops,
 * poll-time and wake-to-run histograms (log2, runqlat style), longest
 * polls. Integers only, fixed widths, fixed sort keys: stable bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export_model.h"

#define TOP_N 10
#define BAR_W 40

static const char *type_name(unsigned t)
{
	static const char *const names[64] = {
	    [UST_POLL_BEGIN] = "poll_begin",
	    [UST_POLL_END] = "poll_end",
	    [UST_WAKE] = "wake",
	    [UST_OP_SUBMIT] = "op_submit",
	    [UST_OP_COMPLETE] = "op_complete",
	    [UST_SPAWN] = "spawn",
	    [UST_EXIT] = "exit",
	    [UST_WORKER_START] = "worker_start",
	    [UST_WORKER_STOP] = "worker_stop",
	    [UST_SPAWN_FOREIGN] = "spawn_foreign",
	    [UST_STEAL] = "steal",
	    [UST_MIGRATE] = "migrate",
	    [UST_PARK] = "park",
	    [UST_UNPARK] = "unpark",
	    [UST_ABORT] = "abort",
	    [UST_LONG_POLL] = "long_poll",
	    [UST_SCHED_SWITCH] = "sched_switch",
	    [UST_SCHED_MIGRATE] = "sched_migrate",
	    [UST_IO_SUBMIT] = "io_submit",
	    [UST_IO_COMPLETE] = "io_complete",
	    [UST_SCHED_SWITCH_IN] = "sched_switch_in",
	    [UST_DROPS] = "drops",
	    [UST_TARGET_EXIT] = "target_exit",
	};

	return t < 64 && names[t] ? names[t] : "?";
}

static void bar(FILE *f, uint64_t v, uint64_t max)
{
	unsigned n = max ? (unsigned)(v * BAR_W / max) : 0;

	if (v && !n)
		n = 1; /* a non-zero count never looks empty */
	fputc('|', f);
	for (unsigned i = 0; i < BAR_W; i++)
		fputc(i < n ? '*' : ' ', f);
	fputs("|\n", f);
}

/* Bucket k of log2_bucket(): 0 is {0}, k >= 1 is [2^(k-1), 2^k - 1]. */
static void hist(FILE *f, const char *title, const uint64_t *h)
{
	int lo = -1, hi = -1;
	uint64_t max = 0, total = 0;

	for (int k = 0; k < UST_X_HIST; k++) {
		if (!h[k])
			continue;
		if (lo < 0)
			lo = k;
		hi = k;
		total += h[k];
		if (h[k] > max)
			max = h[k];
	}
	fprintf(f, "\n%s: %llu samples\n", title, (unsigned long long)total);
	if (lo < 0) {
		fputs("  (none)\n", f);
		return;
	}
	fprintf(f, "  %20s : %-8s %s\n", "ns", "count", "distribution");
	for (int k = lo; k <= hi; k++) {
		unsigned long long a = k ? 1ull << (k - 1) : 0;
		unsigned long long b =
		    k ? (k == 64 ? ~0ull : (1ull << k) - 1) : 0;
		char range[48];

		snprintf(range, sizeof(range), "%llu -> %llu", a, b);
		fprintf(f, "  %20s : %-8llu ", range, (unsigned long long)h[k]);
		bar(f, h[k], max);
	}
}

static int task_cmp(const void *a, const void *b)
{
	const struct ust_x_task *x = *(const struct ust_x_task *const *)a;
	const struct ust_x_task *y = *(const struct ust_x_task *const *)b;

	/* hops, or migrates where there were no polls: whichever is larger */
	uint32_t hx = x->hops > x->migrates ? x->hops : x->migrates;
	uint32_t hy = y->hops > y->migrates ? y->hops : y->migrates;

	if (hx != hy)
		return hx > hy ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

struct pdur {
	uint64_t dur;
	size_t i;
};

static int poll_cmp(const void *a, const void *b)
{
	const struct pdur *x = a, *y = b;

	if (x->dur != y->dur)
		return x->dur > y->dur ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static void header(const struct ust_x_model *m, FILE *f)
{
	uint64_t arrows[2] = {0, 0};
	char b1[32];

	for (size_t i = 0; i < m->nflows; i++)
		arrows[m->flows[i].kind]++;
	fprintf(f, "ustrace summary\n");
	fprintf(f, "  command   %s (pid %u)\n",
		m->hdr.comm[0] ? m->hdr.comm : "?", m->hdr.pid);
	fprintf(f, "  workers   %u\n", m->nworkers);
	fprintf(f, "  events    %zu over %s (first to last event)\n", m->nev,
		ust_x_human(m->span_ns, b1));
	fprintf(f, "  dropped   %llu by the ring buffer (header %llu)\n",
		(unsigned long long)m->drops_ev,
		(unsigned long long)m->hdr.drops);
	fprintf(f, "  skipped   %llu of unknown type, %llu corrupt\n",
		(unsigned long long)m->unknown_types,
		(unsigned long long)m->bad_records);
	fprintf(f, "  polls     %zu begun, unmatched: %llu begin, %llu end\n",
		m->npolls, (unsigned long long)m->poll_unmatched_begin,
		(unsigned long long)m->poll_unmatched_end);
	fprintf(f, "  hops      %llu (worker changes between polls)\n",
		(unsigned long long)m->hops_total);
	fprintf(f,
		"  wakes     %llu, cross-worker %llu, by non-workers %llu, "
		"never ran %llu\n",
		(unsigned long long)m->wakes_total,
		(unsigned long long)m->wakes_cross,
		(unsigned long long)m->wakes_foreign,
		(unsigned long long)m->wakes_never_ran);
	fprintf(f,
		"  arrows    %llu hop, %llu wake; dropped %llu (endpoint not "
		"inside a slice)\n",
		(unsigned long long)arrows[UST_X_HOP],
		(unsigned long long)arrows[UST_X_WAKE],
		(unsigned long long)m->flows_dropped);
	fprintf(f, "  preempt   %llu unmatched switch-outs\n",
		(unsigned long long)m->preempt_unmatched);

	fprintf(f, "\nevents by type\n");
	for (unsigned t = 0; t < 64; t++)
		if (m->type_count[t])
			fprintf(f, "  %-14s %10llu\n", type_name(t),
				(unsigned long long)m->type_count[t]);
}

static void workers(const struct ust_x_model *m, FILE *f)
{
	char b1[32], b2[32], b3[32];

	fprintf(f, "\nworkers\n  %-6s %8s %8s %10s %10s %10s %6s %6s %6s\n",
		"worker", "tid", "polls", "busy", "parked", "preempted",
		"parks", "stole", "lost");
	for (uint32_t i = 0; i < m->nworkers; i++) {
		const struct ust_x_worker *w = &m->w[i];

		fprintf(f, "  w%-5u %8u %8u %10s %10s %10s %6u %6llu %6llu\n",
			i, w->tid, w->polls, ust_x_human(w->busy_ns, b1),
			ust_x_human(w->parked_ns, b2),
			ust_x_human(w->preempt_ns, b3), w->parks,
			(unsigned long long)w->stolen_in,
			(unsigned long long)w->stolen_out);
	}

	uint64_t tasks = 0, ops = 0;
	size_t nn = (size_t)m->nworkers * m->nworkers;

	for (size_t i = 0; i < nn; i++) {
		tasks += m->steal[i];
		ops += m->steal_ops[i];
	}
	fprintf(f,
		"\nsteal matrix: tasks stolen (row: thief, column: victim); "
		"%llu tasks in %llu steals\n  %-12s",
		(unsigned long long)tasks, (unsigned long long)ops,
		"thief\\victim");
	for (uint32_t v = 0; v < m->nworkers; v++) {
		char col[16];

		snprintf(col, sizeof(col), "w%u", v);
		fprintf(f, " %8s", col);
	}
	fputc('\n', f);
	for (uint32_t t = 0; t < m->nworkers; t++) {
		fprintf(f, "  w%-11u", t);
		for (uint32_t v = 0; v < m->nworkers; v++) {
			uint64_t c = m->steal[(size_t)t * m->nworkers + v];

			if (t == v && !c)
				fprintf(f, " %8s", "-");
			else
				fprintf(f, " %8llu", (unsigned long long)c);
		}
		fputc('\n', f);
	}
}

static int tasks(const struct ust_x_model *m, FILE *f)
{
	const struct ust_x_task **v = malloc((m->ntasks + 1) * sizeof(*v));
	uint64_t h[UST_X_HIST] = {0};
	size_t n = 0;
	char b1[32], b2[32];

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap_tasks; i++)
		if (m->tasks[i].used)
			v[n++] = &m->tasks[i];
	qsort(v, n, sizeof(*v), task_cmp);
	fprintf(f, "\nper-task hops: %zu tasks; top %d by hops\n", n, TOP_N);
	fprintf(f, "  %10s %6s %8s %7s %7s %10s %10s\n", "task", "hops",
		"migrates", "polls", "wakes", "busy", "max_poll");
	for (size_t i = 0; i < n && i < TOP_N; i++)
		fprintf(f, "  %10llu %6u %8u %7u %7u %10s %10s\n",
			(unsigned long long)v[i]->id, v[i]->hops,
			v[i]->migrates, v[i]->polls, v[i]->wakes,
			ust_x_human(v[i]->busy_ns, b1),
			ust_x_human(v[i]->max_poll_ns, b2));
	for (size_t i = 0; i < n; i++) {
		unsigned k = 0;

		for (uint64_t x = m->no_polls ? v[i]->migrates : v[i]->hops; x;
		     x >>= 1)
			k++;
		h[k]++;
	}
	free(v);

	/* hops histogram: 0, 1, 2-3, 4-7, ... */
	uint64_t max = 0;
	int hi = 0;

	for (int k = 0; k < UST_X_HIST; k++) {
		if (h[k] > max)
			max = h[k];
		if (h[k])
			hi = k;
	}
	fprintf(f, "\n%s per task\n  %12s : %-8s %s\n",
		m->no_polls ? "migrates (no polls recorded)" : "hops",
		m->no_polls ? "migrates" : "hops", "tasks", "distribution");
	for (int k = 0; k <= hi && n; k++) {
		char range[48];

		if (k <= 1)
			snprintf(range, sizeof(range), "%d", k);
		else
			snprintf(range, sizeof(range), "%llu-%llu",
				 1ull << (k - 1), (1ull << k) - 1);
		fprintf(f, "  %12s : %-8llu ", range, (unsigned long long)h[k]);
		bar(f, h[k], max);
	}
	return 0;
}

static int longest(const struct ust_x_model *m, FILE *f)
{
	struct pdur *idx = malloc((m->npolls + 1) * sizeof(*idx));
	size_t n = 0;
	char b1[32], b2[32];

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < m->npolls; i++)
		if (m->polls[i].closed) {
			idx[n].dur = m->polls[i].e - m->polls[i].b;
			idx[n++].i = i;
		}
	qsort(idx, n, sizeof(*idx), poll_cmp);
	fprintf(f, "\nlongest polls (%llu long_poll events)\n",
		(unsigned long long)m->long_poll_events);
	fprintf(f, "  %4s %10s %6s %14s %10s %s\n", "rank", "task", "worker",
		"start_us", "duration", "result");
	for (size_t i = 0; i < n && i < TOP_N; i++) {
		const struct ust_x_poll *p = &m->polls[idx[i].i];
		char wk[16];

		snprintf(wk, sizeof(wk), "w%u", p->worker);
		fprintf(f, "  %4zu %10llu %6s %14s %10s %s%s\n", i + 1,
			(unsigned long long)p->task, wk, ust_x_us(p->b, b1),
			ust_x_human(p->e - p->b, b2),
			p->ready ? "ready" : "pending",
			p->longp ? ", flagged long" : "");
	}
	if (!n)
		fputs("  (none)\n", f);
	free(idx);
	return 0;
}

int ust_x_write_summary(const struct ust_x_model *m, FILE *f)
{
	int err;

	header(m, f);
	workers(m, f);
	err = tasks(m, f);
	if (err)
		return err;
	hist(f, "poll time", m->poll_hist);
	hist(f, "wake-to-run latency (wake to the task's next poll)",
	     m->wake_hist);
	err = longest(m, f);
	if (err)
		return err;
	return ferror(f) ? -EIO : 0;
}
