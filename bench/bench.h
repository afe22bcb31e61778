/* SPDX-License-Identifier: MIT */
/* Shared bench helpers: timing, RSS, one JSON line per run. */
#ifndef URT_BENCH_H
#define URT_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urt.h"

/* Resident set size of this process, in KiB (VmRSS). */
static inline long bench_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static inline void bench_json(const char *workload, unsigned threads,
			      uint64_t ops, uint64_t elapsed_ns, long rss_kib,
			      const char *extra)
{
	printf("{\"workload\":\"%s\",\"runtime\":\"urt\",\"threads\":%u,"
	       "\"ops\":%llu,\"ns_per_op\":%.1f,\"rss_kib\":%ld%s%s}\n",
	       workload, threads, (unsigned long long)ops,
	       ops ? (double)elapsed_ns / (double)ops : 0.0, rss_kib,
	       extra && *extra ? "," : "", extra ? extra : "");
	fflush(stdout);
}

/* Argument n of argv as an unsigned, or def. */
static inline uint64_t bench_arg(int argc, char **argv, int n, uint64_t def)
{
	return argc > n ? strtoull(argv[n], NULL, 0) : def;
}

/* Argument n of argv as a string, or def. */
static inline const char *bench_arg_str(int argc, char **argv, int n,
					const char *def)
{
	return argc > n ? argv[n] : def;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of v[0..n), nearest rank; sorts v in place. */
static inline uint64_t bench_pctl(uint64_t *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/*
 * Appends ,"steals":N,"worker_stats":[{...},...] (urt_rt_worker_stats) to
 * buf: where the work ran, and how often workers parked and were woken.
 */
static inline void bench_worker_stats(struct urt_rt *rt, char *buf,
				      size_t size)
{
	size_t off = strlen(buf);
	struct urt_stats st;

	urt_rt_stats(rt, &st);
	off += (size_t)snprintf(buf + off, size > off ? size - off : 0,
				"%s\"steals\":%llu,\"worker_stats\":[",
				off ? "," : "", (unsigned long long)st.steals);
	for (unsigned i = 0; i < urt_rt_workers(rt); i++) {
		struct urt_worker_stats ws;

		urt_rt_worker_stats(rt, i, &ws);
		off += (size_t)snprintf(
			buf + off, size > off ? size - off : 0,
			"%s{\"polls\":%llu,\"lifo_polls\":%llu,"
			"\"steals_in\":%llu,\"stolen_out\":%llu,"
			"\"inject_pops\":%llu,\"parks\":%llu,"
			"\"wakes_sent\":%llu}",
			i ? "," : "", (unsigned long long)ws.polls,
			(unsigned long long)ws.lifo_polls,
			(unsigned long long)ws.steals_in,
			(unsigned long long)ws.stolen_out,
			(unsigned long long)ws.inject_pops,
			(unsigned long long)ws.parks,
			(unsigned long long)ws.wakes_sent);
	}
	(void)snprintf(buf + off, size > off ? size - off : 0, "]");
}

/* Creates a runtime of `workers` workers (0: online CPUs), or exits 1. */
static inline struct urt_rt *bench_rt(unsigned workers, unsigned flags)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	int err;

	urt_config_init(&cfg);
	cfg.workers = workers;
	cfg.flags |= flags;
	err = urt_rt_new(&cfg, &rt);
	if (err) {
		fprintf(stderr, "urt_rt_new: %s: %s\n", urt_strerror(err),
			urt_rt_last_error());
		exit(1);
	}
	return rt;
}

/*
 * The CPU kernel of skewed, identical to the tokio peer's spin(): iters
 * rounds of xorshift64, a dependent chain the compiler cannot shorten.
 */
__attribute__((noinline, unused)) static uint64_t
bench_spin(uint64_t seed, uint64_t iters)
{
	volatile uint64_t sink;
	uint64_t x = seed | 1;

	for (uint64_t i = 0; i < iters; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	sink = x;
	return sink;
}

/* Iterations of bench_spin() that take about us microseconds here (median
 * of 5 timings of a 2M-iteration run). */
static inline uint64_t bench_calibrate(uint64_t us)
{
	const uint64_t probe = 2000000;
	uint64_t v[5];
	double ns_per_iter;

	for (int i = 0; i < 5; i++) {
		uint64_t t0 = urt_now_ns();
		(void)bench_spin((uint64_t)i + 1, probe);
		v[i] = urt_now_ns() - t0;
	}
	ns_per_iter = (double)bench_pctl(v, 5, 50) / (double)probe;
	v[0] = (uint64_t)((double)us * 1000.0 / ns_per_iter);
	return v[0] ? v[0] : 1;
}

#endif
