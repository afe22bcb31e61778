/* SPDX-License-Identifier: MIT */
/*
 * Overhead guard for detached probes (suite 'trace'), deterministic: counts
 * instructions with valgrind's callgrind, no timing.
 *
 * What it measures: a loop of N calls to a function holding one probe site
 * of each kind exactly as the runtime writes them (src/trace.h: URT_TREC,
 * a batched record; the poll site of urt__task_run, which tests the
 * urt:batch semaphore once and calls the poll on one of two paths, the
 * records around it only on the attached one; URT_PROBE, a direct USDT
 * probe), against the same loop over a function with no sites, which is
 * what every site compiles to with -Dusdt=disabled. The difference per
 * iteration is the cost of the three sites while no tracer is attached:
 * URT_TREC and the poll site should each be a load and a branch on the
 * semaphore, URT_PROBE one 5-byte nop. It asserts at most 7 instructions
 * for the three: movzwl+test+jne for URT_TREC and for the poll site, the
 * nop for URT_PROBE (whose arguments are already in registers here, as at
 * the real sites; an argument that is not costs one mov more). The
 * attached paths of the sites make no call inline but the poll's own
 * (trace.h), so they cost the function no extra saved register.
 *
 * What it does not measure: the runtime's own paths (valgrind 3.19 hangs
 * when a worker blocks in io_uring_enter while another thread needs to
 * run), nor effects on register allocation around the real sites; the
 * yield_many/spawn_many medians of a normal and a -Dusdt=disabled build
 * cover those (tools/ustrace/README.md). Skips (77) without valgrind.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "trace.h"

#define N 1000000
#define MAX_PER_ITER 7.0

static uint64_t sink;

/* What a real site's surroundings do (urt__task_run, steal_work): use the
 * worker before and after (so it is known to be non-NULL and lives in a
 * saved register), keep the probe's arguments live, call out and go on
 * afterwards (so the function has a frame and saved registers anyway).
 * Only the sites differ between the two functions. */
__attribute__((noinline)) static void consume(uint64_t task, unsigned a,
					      unsigned b)
{
	sink += task + a + b;
	__asm__ volatile("" ::: "memory");
}

/* Called through a pointer: the full ABI, as for a call into another
 * file (gcc would otherwise know which registers consume() leaves). */
static void (*volatile consume_p)(uint64_t, unsigned, unsigned) = consume;

__attribute__((noinline)) static void
with_sites(struct urt__worker *w, uint64_t task, unsigned a, unsigned b)
{
	sink += *(volatile uint64_t *)w;
	URT_TREC(w, URT_TR_SPAWN, task, 0, a);
	/* as urt__task_run's poll, consume_p() the poll */
	if (URT_TRACING()) {
		URT_TPOLL_BEGIN(w, task, a);
		consume_p(task, a, b);
		URT_TPOLL_END(w, a != 0, (int)b, b & 1);
	} else {
		consume_p(task, a, b);
	}
	URT_PROBE(steal, a, b, task);
	sink += task + a + b + *(volatile uint64_t *)w;
}

__attribute__((noinline)) static void
without_sites(struct urt__worker *w, uint64_t task, unsigned a, unsigned b)
{
	sink += *(volatile uint64_t *)w;
	consume_p(task, a, b);
	sink += task + a + b + *(volatile uint64_t *)w;
}

static struct urt__worker worker; /* no open poll: detached */

static int loop(const char *which)
{
	struct urt__worker *w = &worker;
	void (*f)(struct urt__worker *, uint64_t, unsigned, unsigned) =
	    strcmp(which, "sites") ? without_sites : with_sites;

	for (uint64_t i = 0; i < N; i++)
		f(w, i, (unsigned)i & 7, 3);
	return 0;
}

/* Runs this binary's loop under callgrind; returns its total Ir or 0. */
static uint64_t instructions(const char *self, const char *which)
{
	char out[] = "/tmp/urt-cg-XXXXXX", cmd[8192], line[256];
	uint64_t ir = 0;
	FILE *f;
	int fd = mkstemp(out);

	if (fd < 0)
		return 0;
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "valgrind --tool=callgrind --callgrind-out-file=%s %s "
		 "--loop %s 2>/dev/null",
		 out, self, which);
	if (system(cmd) == 0 && (f = fopen(out, "r"))) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "summary: ", 9))
				ir = strtoull(line + 9, NULL, 10);
		fclose(f);
	}
	unlink(out);
	return ir;
}

int main(int argc, char **argv)
{
	char self[4096];
	uint64_t a, b;
	double per;

	if (argc > 2 && !strcmp(argv[1], "--loop"))
		return loop(argv[2]);
	if (system("valgrind --version >/dev/null 2>&1")) {
		printf("SKIP: valgrind is not installed\n");
		return 77;
	}
	if (!realpath("/proc/self/exe", self))
		return 1;
	a = instructions(self, "sites");
	b = instructions(self, "none");
	if (!a || !b) {
		fprintf(stderr, "callgrind gave no counts\n");
		return 1;
	}
	per = ((double)a - (double)b) / N;
	printf("probes %s: %llu vs %llu instructions over %d iterations: "
	       "%.3f per iteration (URT_TREC + poll site + URT_PROBE), "
	       "limit %.1f\n",
	       URT_USDT ? "compiled in, detached" : "compiled out",
	       (unsigned long long)a, (unsigned long long)b, N, per,
	       MAX_PER_ITER);
	if (URT_USDT && per < 1.0) {
		/* a site that costs nothing was not compiled in */
		fprintf(stderr, "FAIL: the probe sites are missing\n");
		return 1;
	}
	/* + 0.01: the two runs' fixed costs differ by a few instructions */
	return per <= MAX_PER_ITER + 0.01 ? 0 : 1;
}
