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

#endif
