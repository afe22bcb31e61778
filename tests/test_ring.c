/* SPDX-License-Identifier: MIT */
/*
 * The ring layer under pressure and failure: CQ overflow and a full SQ lose
 * no completion, io_uring blocked by seccomp fails with a clear error, setup
 * flags, bad configs, urt_strerror.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "harness.h"

#define SKIP_CODE 77

/*
 * Ring counters (sq_full_retries, cq_overflows) are published by a worker
 * when it parks or exits. After block_on returns, the idle worker parks at
 * once; the bound only keeps a broken runtime from hanging the test.
 */
static void wait_stats(struct urt_rt *rt, struct urt_stats *st,
		       int (*done)(const struct urt_stats *))
{
	uint64_t end = urt_now_ns() + 10ull * 1000000000ull;

	for (;;) {
		urt_rt_stats(rt, st);
		if (done(st) || urt_now_ns() > end)
			return;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

static int saw_overflow(const struct urt_stats *st)
{
	return st->cq_overflows > 0;
}

static int saw_sq_full(const struct urt_stats *st)
{
	return st->sq_full_retries > 0;
}

/* A future that blocks its worker once, for ms of CLOCK_MONOTONIC. */
struct blocker {
	struct urt_future base;
	uint64_t ms;
};

static int blocker_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct blocker *b = (struct blocker *)f;
	uint64_t end = urt_now_ns() + b->ms * 1000000ull;

	(void)cx;
	while (urt_now_ns() < end)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	return 0;
}

static const struct urt_future_vt blocker_vt = { .poll = blocker_poll };

/*
 * Joins n ops built by make(), all submitted by the join's first poll (one
 * poll of one task), optionally followed by a blocker in the same poll.
 */
typedef struct urt_future *(*make_fn)(struct urt_op *op);

struct flood {
	struct urt_co co;
	struct urt_join join;
	make_fn make;
	unsigned n;
	uint64_t block_ms;
	struct blocker blk;
	struct urt_op *ops;
	struct urt_future **futs;
	int *res;
};

H_CO(flood_run)
{
	struct flood *f = (struct flood *)co;
	unsigned total = f->n + (f->block_ms ? 1 : 0);
	int r = 0;

	URT_BEGIN(co);
	for (unsigned i = 0; i < f->n; i++)
		f->futs[i] = f->make(&f->ops[i]);
	if (f->block_ms) {
		f->blk.base.vt = &blocker_vt;
		f->blk.ms = f->block_ms;
		f->futs[f->n] = &f->blk.base;
	}
	URT_AWAIT(co, cx, urt_join_init(&f->join, f->futs, f->res, total), r);
	URT_END(co, r);
}

static struct urt_future *make_nop(struct urt_op *op)
{
	return urt_op_nop(op);
}

static struct urt_future *make_sleep_1ms(struct urt_op *op)
{
	return urt_op_sleep(op, 1000000);
}

/* Runs the flood on rt and asserts every child's result is 0. */
static void run_flood(struct urt_rt *rt, make_fn make, unsigned n,
		      uint64_t block_ms)
{
	struct flood f = { .make = make, .n = n, .block_ms = block_ms };

	f.ops = calloc(n, sizeof(*f.ops));
	f.futs = calloc(n + 1, sizeof(*f.futs));
	f.res = calloc(n + 1, sizeof(*f.res));
	assert_non_null(f.ops);
	assert_non_null(f.futs);
	assert_non_null(f.res);
	urt_co_init(&f.co, flood_run);
	assert_int_equal(urt_block_on(rt, &f.co.base), 0);
	for (unsigned i = 0; i < n + (block_ms ? 1 : 0); i++)
		assert_int_equal(f.res[i], 0);
	free(f.ops);
	free(f.futs);
	free(f.res);
}

static struct urt_rt *tiny_ring_rt(unsigned cq_entries)
{
	struct urt_config cfg;

	urt_config_init(&cfg);
	cfg.workers = 1;
	cfg.ring_entries = 4;
	cfg.cq_entries = cq_entries;
	return h_rt_cfg(&cfg);
}

/*
 * 256 nops complete inline at submission, 4 per io_uring_enter, into a CQ
 * of 8 that nobody reaps during the poll: the kernel must overflow, so the
 * overflow counter is asserted, not just the results.
 */
static void test_cq_overflow_loses_no_nop_completion(void **state)
{
	struct urt_rt *rt = tiny_ring_rt(8);
	struct urt_stats st;

	(void)state;
	run_flood(rt, make_nop, 256, 0);
	wait_stats(rt, &st, saw_overflow);
	assert_true(st.cq_overflows > 0);
	assert_int_equal(st.ops_submitted, 256);
	assert_int_equal(st.ops_completed, 256);
	h_rt_free_clean(rt);
}

/*
 * 200 timers of 1 ms. Whether more than 8 of them are posted in one batch
 * depends on timing, so only the completions are asserted.
 */
static void test_200_concurrent_timers_on_tiny_cq_all_complete(void **state)
{
	struct urt_rt *rt = tiny_ring_rt(8);

	(void)state;
	run_flood(rt, make_sleep_1ms, 200, 0);
	h_rt_free_clean(rt);
}

/*
 * The same, but the poll then blocks its worker for 50 ms: with
 * DEFER_TASKRUN the fired timers queue up in the kernel and are posted
 * together (normally far more than 8) on the next enter. Completions are
 * asserted; the overflow is likely but depends on the hrtimers firing in
 * time, so it is not.
 */
static void test_timers_fired_while_worker_blocked_all_complete(void **state)
{
	struct urt_rt *rt = tiny_ring_rt(8);

	(void)state;
	run_flood(rt, make_sleep_1ms, 200, 50);
	h_rt_free_clean(rt);
}

/* One poll prepares 64 SQEs on a 4-entry SQ: submitted in batches. */
static void test_sq_full_submits_and_retries_without_dropping(void **state)
{
	struct urt_rt *rt = tiny_ring_rt(0);
	struct urt_stats st;

	(void)state;
	run_flood(rt, make_nop, 64, 0);
	wait_stats(rt, &st, saw_sq_full);
	assert_true(st.sq_full_retries > 0);
	assert_int_equal(st.ops_completed, 64);
	h_rt_free_clean(rt);
}

/* The same flood over several workers' rings, mixed with timers. */
static void test_sq_full_with_two_workers_completes_everything(void **state)
{
	struct urt_config cfg;
	struct urt_rt *rt;

	(void)state;
	urt_config_init(&cfg);
	cfg.workers = 2;
	cfg.ring_entries = 4;
	cfg.cq_entries = 8;
	rt = h_rt_cfg(&cfg);
	for (int i = 0; i < 4; i++) {
		run_flood(rt, make_nop, 100, 0);
		run_flood(rt, make_sleep_1ms, 50, 0);
	}
	h_rt_free_clean(rt);
}

/*
 * An op with a deadline needs two adjacent SQEs (op + LINK_TIMEOUT): a ring
 * asked for 1 entry must still run it (the ring layer rounds up to 2).
 */
struct deadline_nop {
	struct urt_co co;
	struct urt_op op;
	int r_nop, r_sleep;
};

H_CO(deadline_nop_run)
{
	struct deadline_nop *d = (struct deadline_nop *)co;

	URT_BEGIN(co);
	urt_op_nop(&d->op);
	urt_op_set_deadline(&d->op, 10ull * 1000000000ull);
	URT_AWAIT(co, cx, &d->op.base, d->r_nop);
	URT_AWAIT(co, cx, urt_op_sleep(&d->op, 1000000), d->r_sleep);
	URT_END(co, 0);
}

static void test_one_entry_ring_runs_ops_with_deadlines(void **state)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct deadline_nop d;

	(void)state;
	urt_config_init(&cfg);
	cfg.workers = 1;
	cfg.ring_entries = 1;
	rt = h_rt_cfg(&cfg);
	memset(&d, 0, sizeof(d));
	urt_co_init(&d.co, deadline_nop_run);
	assert_int_equal(urt_block_on(rt, &d.co.base), 0);
	assert_int_equal(d.r_nop, 0);
	assert_int_equal(d.r_sleep, 0);
	run_flood(rt, make_nop, 16, 0);
	h_rt_free_clean(rt);
}

/* --- io_uring unavailable -------------------------------------------- */

#if defined(__x86_64__)
#define H_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define H_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* Makes io_uring_setup fail with err for this thread and its children. */
static int block_io_uring_setup(int err)
{
#ifdef H_AUDIT_ARCH
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, H_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -errno;
	return 0;
#else
	(void)err;
	return -ENOTSUP;
#endif
}

/*
 * Child side: no cmocka here (its state belongs to the parent). Exit codes:
 * 0 ok, SKIP_CODE seccomp unavailable, others name the failed check.
 */
static int seccomp_child(int err)
{
	struct urt_config cfg;
	struct urt_rt *rt = (struct urt_rt *)&cfg; /* must be reset */
	const char *msg;
	int ret;

	if (block_io_uring_setup(err)) {
		fprintf(stderr, "child: cannot install seccomp filter\n");
		return SKIP_CODE;
	}
	if (syscall(__NR_io_uring_setup, 4, NULL) != -1 || errno != err) {
		fprintf(stderr, "child: filter not effective\n");
		return 2;
	}
	urt_config_init(&cfg);
	cfg.workers = 2;
	ret = urt_rt_new(&cfg, &rt);
	msg = urt_rt_last_error();
	fprintf(stderr, "child: urt_rt_new = %d (%s): %s\n", ret,
		urt_strerror(ret), msg);
	if (ret != -err)
		return 3;
	if (rt != NULL)
		return 4;
	if (!strstr(msg, "io_uring") || !strstr(msg, "seccomp"))
		return 5;
	/* Still no crash on a second attempt, and the error is repeated. */
	if (urt_rt_new(NULL, &rt) != -err || rt != NULL)
		return 6;
	return 0;
}

static void run_seccomp_case(int err)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(seccomp_child(err)); /* no atexit/LSan in the child */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == SKIP_CODE)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_io_uring_blocked_by_seccomp_enosys_is_clear_error(void **state)
{
	(void)state;
	run_seccomp_case(ENOSYS);
}

static void test_io_uring_blocked_by_seccomp_eperm_is_clear_error(void **state)
{
	(void)state;
	run_seccomp_case(EPERM);
}

/* --- setup flags ----------------------------------------------------- */

static void test_default_ring_flags_single_issuer_defer_taskrun(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_stats st;

	(void)state;
	urt_rt_stats(rt, &st);
	assert_true(st.ring_flags & IORING_SETUP_SINGLE_ISSUER);
	assert_true(st.ring_flags & IORING_SETUP_DEFER_TASKRUN);
	assert_false(st.ring_flags & IORING_SETUP_SQPOLL);
	assert_int_equal(st.workers, 2);
	run_flood(rt, make_nop, 8, 0);
	h_rt_free_clean(rt);
}

static void test_no_defer_taskrun_config_drops_flag_and_works(void **state)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct urt_stats st;

	(void)state;
	urt_config_init(&cfg);
	cfg.workers = 2;
	cfg.flags = URT_CFG_NO_DEFER_TASKRUN;
	rt = h_rt_cfg(&cfg);
	urt_rt_stats(rt, &st);
	assert_false(st.ring_flags & IORING_SETUP_DEFER_TASKRUN);
	assert_true(st.ring_flags & IORING_SETUP_SINGLE_ISSUER);
	/* Without DEFER, the next best way to avoid IPIs is COOP. */
	assert_true(st.ring_flags & IORING_SETUP_COOP_TASKRUN);
	run_flood(rt, make_nop, 64, 0);
	run_flood(rt, make_sleep_1ms, 64, 0);
	h_rt_free_clean(rt);
}

static void test_no_single_issuer_config_drops_both_flags_and_works(
	void **state)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct urt_stats st;

	(void)state;
	urt_config_init(&cfg);
	cfg.workers = 2;
	cfg.flags = URT_CFG_NO_SINGLE_ISSUER;
	rt = h_rt_cfg(&cfg);
	urt_rt_stats(rt, &st);
	/* DEFER_TASKRUN requires SINGLE_ISSUER */
	assert_false(st.ring_flags & IORING_SETUP_SINGLE_ISSUER);
	assert_false(st.ring_flags & IORING_SETUP_DEFER_TASKRUN);
	run_flood(rt, make_nop, 64, 0);
	run_flood(rt, make_sleep_1ms, 16, 0);
	h_rt_free_clean(rt);
}

/* SQPOLL: a kernel thread consumes the SQ; the runtime must still see
 * every completion, including on a 4-entry SQ. */
static void test_sqpoll_config_sets_flag_and_ops_complete(void **state)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct urt_stats st;

	(void)state;
	urt_config_init(&cfg);
	cfg.workers = 2;
	cfg.ring_entries = 4;
	cfg.flags = URT_CFG_SQPOLL;
	rt = h_rt_cfg(&cfg);
	urt_rt_stats(rt, &st);
	assert_true(st.ring_flags & IORING_SETUP_SQPOLL);
	assert_false(st.ring_flags & IORING_SETUP_DEFER_TASKRUN);
	run_flood(rt, make_nop, 64, 0);
	run_flood(rt, make_sleep_1ms, 32, 0);
	h_rt_free_clean(rt);
}

/* --- configuration and errors ---------------------------------------- */

static void expect_bad_config(const struct urt_config *cfg)
{
	struct urt_rt *rt = (struct urt_rt *)&rt; /* must be reset */

	assert_int_equal(urt_rt_new(cfg, &rt), -EINVAL);
	assert_null(rt);
	assert_true(strlen(urt_rt_last_error()) > 0);
}

static void test_bad_config_returns_einval_with_message(void **state)
{
	struct urt_config cfg;
	struct urt_rt *rt;

	(void)state;
	urt_config_init(&cfg);
	cfg.workers = 100000;
	expect_bad_config(&cfg);
	assert_non_null(strstr(urt_rt_last_error(), "workers"));

	urt_config_init(&cfg);
	cfg.ring_entries = 1u << 20;
	expect_bad_config(&cfg);
	assert_non_null(strstr(urt_rt_last_error(), "ring_entries"));

	urt_config_init(&cfg);
	cfg.ring_entries = 64;
	cfg.cq_entries = 16; /* smaller than the SQ */
	expect_bad_config(&cfg);
	assert_non_null(strstr(urt_rt_last_error(), "cq_entries"));

	/* Passes urt's checks, refused by the kernel (max 65536 CQEs). */
	urt_config_init(&cfg);
	cfg.workers = 1;
	cfg.cq_entries = 1u << 20;
	expect_bad_config(&cfg);
	assert_non_null(strstr(urt_rt_last_error(), "cq_entries"));

	assert_int_equal(urt_rt_new(NULL, NULL), -EINVAL);

	/* A later success clears the message. */
	urt_config_init(&cfg);
	cfg.workers = 1;
	assert_int_equal(urt_rt_new(&cfg, &rt), 0);
	assert_string_equal(urt_rt_last_error(), "");
	h_rt_free_clean(rt);
}

static void test_strerror_describes_success_errno_and_pending(void **state)
{
	(void)state;
	assert_string_equal(urt_strerror(0), "success");
	assert_string_equal(urt_strerror(5), "success");
	assert_string_equal(urt_strerror(-ENOENT),
			    "No such file or directory");
	assert_string_equal(urt_strerror(URT_PENDING), "pending");
	assert_non_null(urt_strerror(-100000));
	assert_true(strlen(urt_strerror(-100000)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cq_overflow_loses_no_nop_completion),
		cmocka_unit_test(
			test_200_concurrent_timers_on_tiny_cq_all_complete),
		cmocka_unit_test(
			test_timers_fired_while_worker_blocked_all_complete),
		cmocka_unit_test(
			test_sq_full_submits_and_retries_without_dropping),
		cmocka_unit_test(
			test_sq_full_with_two_workers_completes_everything),
		cmocka_unit_test(test_one_entry_ring_runs_ops_with_deadlines),
		cmocka_unit_test(
			test_io_uring_blocked_by_seccomp_enosys_is_clear_error),
		cmocka_unit_test(
			test_io_uring_blocked_by_seccomp_eperm_is_clear_error),
		cmocka_unit_test(
			test_default_ring_flags_single_issuer_defer_taskrun),
		cmocka_unit_test(
			test_no_defer_taskrun_config_drops_flag_and_works),
		cmocka_unit_test(
			test_no_single_issuer_config_drops_both_flags_and_works),
		cmocka_unit_test(test_sqpoll_config_sets_flag_and_ops_complete),
		cmocka_unit_test(test_bad_config_returns_einval_with_message),
		cmocka_unit_test(
			test_strerror_describes_success_errno_and_pending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
