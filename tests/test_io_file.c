/* SPDX-License-Identifier: MIT */
/*
 * File ops end to end: read/write/readv/writev/openat/close/fsync/statx on
 * mkstemp files, error results, per-op deadlines and abort of a task whose
 * read is in flight.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "harness.h"

/* A scratch file under /tmp, removed by the test that made it. */
struct tmpfile {
	char path[64];
	int fd;
};

static void tmp_make(struct tmpfile *t)
{
	snprintf(t->path, sizeof(t->path), "/tmp/urt-io-file-XXXXXX");
	t->fd = mkstemp(t->path);
	assert_true(t->fd >= 0);
}

static void tmp_remove(struct tmpfile *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	unlink(t->path);
}

/* An fd number that is certainly not open: opened, then closed. */
static int closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* --- every file op in one task --------------------------------------- */

/*
 * openat -> write -> writev -> fsync -> fdatasync -> statx -> read -> readv
 * -> close -> close again. Every result is kept for the test thread to
 * assert (cmocka state is the test thread's).
 */
struct roundtrip {
	struct urt_co co;
	struct urt_op op;
	const char *path;
	int fd;
	int r_open, r_write, r_writev, r_fsync, r_fdatasync, r_statx;
	int r_read, r_readv, r_close, r_close2;
	struct iovec wv[2], rv[2];
	struct statx stx;
	char rbuf[32];
	char rv0[5], rv1[7];
};

static const char part1[] = "hello, world";	 /* 12 bytes at 0 */
static const char part2a[] = " from", part2b[] = " urt"; /* 9 bytes at 12 */
#define FILE_LEN 21

H_CO(roundtrip_run)
{
	struct roundtrip *t = (struct roundtrip *)co;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_openat(&t->op, AT_FDCWD, t->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), t->r_open);
	if (t->r_open < 0)
		URT_RETURN(co, t->r_open);
	t->fd = t->r_open;
	URT_AWAIT(co, cx, urt_op_write(&t->op, t->fd, part1, 12, 0), t->r_write);
	t->wv[0] = (struct iovec){ (void *)part2a, 5 };
	t->wv[1] = (struct iovec){ (void *)part2b, 4 };
	URT_AWAIT(co, cx, urt_op_writev(&t->op, t->fd, t->wv, 2, 12), t->r_writev);
	URT_AWAIT(co, cx, urt_op_fsync(&t->op, t->fd, 0), t->r_fsync);
	URT_AWAIT(co, cx, urt_op_fsync(&t->op, t->fd, IORING_FSYNC_DATASYNC), t->r_fdatasync);
	URT_AWAIT(co, cx, urt_op_statx(&t->op, AT_FDCWD, t->path, 0, STATX_SIZE, &t->stx), t->r_statx);
	URT_AWAIT(co, cx, urt_op_read(&t->op, t->fd, t->rbuf, sizeof(t->rbuf), 7), t->r_read);
	t->rv[0] = (struct iovec){ t->rv0, sizeof(t->rv0) };
	t->rv[1] = (struct iovec){ t->rv1, sizeof(t->rv1) };
	URT_AWAIT(co, cx, urt_op_readv(&t->op, t->fd, t->rv, 2, 0), t->r_readv);
	URT_AWAIT(co, cx, urt_op_close(&t->op, t->fd), t->r_close);
	URT_AWAIT(co, cx, urt_op_close(&t->op, t->fd), t->r_close2);
	URT_END(co, 0);
}

static void test_file_ops_write_sync_stat_read_close_roundtrip(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct roundtrip t;
	struct tmpfile tf;

	(void)state;
	tmp_make(&tf);
	memset(&t, 0, sizeof(t));
	t.path = tf.path;
	urt_co_init(&t.co, roundtrip_run);
	assert_int_equal(urt_block_on(rt, &t.co.base), 0);
	assert_true(t.r_open >= 0);
	assert_int_equal(t.r_write, 12);
	assert_int_equal(t.r_writev, 9);
	assert_int_equal(t.r_fsync, 0);
	assert_int_equal(t.r_fdatasync, 0);
	assert_int_equal(t.r_statx, 0);
	assert_true(t.stx.stx_mask & STATX_SIZE);
	assert_int_equal(t.stx.stx_size, FILE_LEN);
	/* short read at EOF: 21 - 7 bytes */
	assert_int_equal(t.r_read, FILE_LEN - 7);
	assert_memory_equal(t.rbuf, "world from urt", FILE_LEN - 7);
	assert_int_equal(t.r_readv, 12);
	assert_memory_equal(t.rv0, "hello", 5);
	assert_memory_equal(t.rv1, ", world", 7);
	assert_int_equal(t.r_close, 0);
	assert_int_equal(t.r_close2, -EBADF);
	/* the kernel really wrote it */
	{
		char back[FILE_LEN];
		assert_int_equal(pread(tf.fd, back, FILE_LEN, 0), FILE_LEN);
		assert_memory_equal(back, "hello, world from urt", FILE_LEN);
	}
	tmp_remove(&tf);
	h_rt_free_clean(rt);
}

/* --- single ops as block_on roots ------------------------------------ */

static void test_read_at_eof_returns_zero(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct tmpfile tf;
	struct urt_op op;
	char buf[16];

	(void)state;
	tmp_make(&tf);
	assert_int_equal(urt_block_on(rt, urt_op_read(&op, tf.fd, buf, 16, 0)),
			 0);
	tmp_remove(&tf);
	h_rt_free_clean(rt);
}

static void test_openat_missing_file_returns_enoent(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct tmpfile tf;
	struct urt_op op;

	(void)state;
	tmp_make(&tf);
	tmp_remove(&tf); /* the name is now free */
	assert_int_equal(urt_block_on(rt, urt_op_openat(&op, AT_FDCWD, tf.path,
							O_RDONLY, 0)),
			 -ENOENT);
	/* and O_CREAT | O_EXCL on an existing file */
	assert_int_equal(urt_block_on(rt, urt_op_openat(&op, AT_FDCWD, "/tmp",
							O_RDONLY | O_CREAT |
								O_EXCL,
							0600)),
			 -EEXIST);
	h_rt_free_clean(rt);
}

static void test_openat_relative_to_dir_fd_creates_file(void **state)
{
	struct urt_rt *rt = h_rt(1);
	char dir[] = "/tmp/urt-io-dir-XXXXXX";
	char path[64];
	struct urt_op op;
	int dfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	fd = urt_block_on(rt, urt_op_openat(&op, dfd, "f",
					    O_WRONLY | O_CREAT | O_CLOEXEC,
					    0600));
	assert_true(fd >= 0);
	assert_int_equal(urt_block_on(rt, urt_op_close(&op, fd)), 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	close(dfd);
	rmdir(dir);
	h_rt_free_clean(rt);
}

static void test_statx_missing_path_returns_enoent(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct tmpfile tf;
	struct statx stx;
	struct urt_op op;

	(void)state;
	tmp_make(&tf);
	tmp_remove(&tf);
	assert_int_equal(urt_block_on(rt, urt_op_statx(&op, AT_FDCWD, tf.path,
						       0, STATX_SIZE, &stx)),
			 -ENOENT);
	h_rt_free_clean(rt);
}

static void test_file_ops_on_bad_fd_return_ebadf(void **state)
{
	struct urt_rt *rt = h_rt(1);
	int fds[2] = { -1, closed_fd() };
	struct iovec iov;
	struct statx stx;
	struct urt_op op;
	char buf[8] = { 0 };

	(void)state;
	iov = (struct iovec){ buf, sizeof(buf) };
	for (int i = 0; i < 2; i++) {
		int fd = fds[i];
		assert_int_equal(urt_block_on(rt, urt_op_read(&op, fd, buf, 8,
							      0)),
				 -EBADF);
		assert_int_equal(urt_block_on(rt, urt_op_write(&op, fd, buf, 8,
							       0)),
				 -EBADF);
		assert_int_equal(urt_block_on(rt, urt_op_readv(&op, fd, &iov,
							       1, 0)),
				 -EBADF);
		assert_int_equal(urt_block_on(rt, urt_op_writev(&op, fd, &iov,
								1, 0)),
				 -EBADF);
		assert_int_equal(urt_block_on(rt, urt_op_fsync(&op, fd, 0)),
				 -EBADF);
		assert_int_equal(urt_block_on(rt, urt_op_close(&op, fd)),
				 -EBADF);
		/* a relative path needs a valid dfd */
		assert_int_equal(urt_block_on(rt, urt_op_statx(&op, fd, "x", 0,
							       STATX_SIZE,
							       &stx)),
				 -EBADF);
		assert_int_equal(urt_block_on(rt, urt_op_openat(&op, fd, "x",
								O_RDONLY, 0)),
				 -EBADF);
	}
	h_rt_free_clean(rt);
}

/* The same with a deadline: the op fails at once, its LINK_TIMEOUT is
 * cancelled, both CQEs are reaped (the clean shutdown checks it). */
static void test_bad_fd_with_deadline_returns_ebadf_not_etime(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_op op;
	char buf[8];

	(void)state;
	urt_op_read(&op, -1, buf, sizeof(buf), 0);
	urt_op_set_deadline(&op, 10ull * 1000000000ull);
	assert_int_equal(urt_block_on(rt, &op.base), -EBADF);
	h_rt_free_clean(rt);
}

/* --- deadlines -------------------------------------------------------- */

static void test_read_from_empty_pipe_with_deadline_returns_etime(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op op;
	char buf[8];
	int p[2];
	uint64_t t0;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	urt_op_read(&op, p[0], buf, sizeof(buf), 0);
	urt_op_set_deadline(&op, 20 * 1000000ull);
	t0 = urt_now_ns();
	assert_int_equal(urt_block_on(rt, &op.base), -ETIME);
	/* timers never fire early: a lower bound only */
	assert_true(urt_now_ns() - t0 >= 20 * 1000000ull);
	/* nothing was consumed: data written now is still readable */
	assert_int_equal(write(p[1], "z", 1), 1);
	assert_int_equal(read(p[0], buf, 1), 1);
	assert_int_equal(buf[0], 'z');
	close(p[0]);
	close(p[1]);
	h_rt_free_clean(rt);
}

static void test_read_with_unexpired_deadline_returns_data(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_op op;
	char buf[8] = { 0 };
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	urt_op_read(&op, p[0], buf, sizeof(buf), 0);
	urt_op_set_deadline(&op, 60ull * 1000000000ull);
	assert_int_equal(urt_block_on(rt, &op.base), 3);
	assert_memory_equal(buf, "abc", 3);
	close(p[0]);
	close(p[1]);
	h_rt_free_clean(rt);
}

/* Many deadline reads at once on a 4-entry SQ: each op + LINK_TIMEOUT
 * pair must stay adjacent across the SQ-full submissions. */
struct many_deadlines {
	struct urt_co co;
	struct urt_join join;
	struct urt_op ops[33];
	struct urt_future *futs[33];
	int res[33];
	char buf[33][4];
	int fd;
};

H_CO(many_deadlines_run)
{
	struct many_deadlines *m = (struct many_deadlines *)co;
	int r = 0;

	URT_BEGIN(co);
	for (int i = 0; i < 33; i++) {
		m->futs[i] = urt_op_read(&m->ops[i], m->fd, m->buf[i], 4, 0);
		urt_op_set_deadline(&m->ops[i], 5 * 1000000ull);
	}
	URT_AWAIT(co, cx, urt_join_init(&m->join, m->futs, m->res, 33), r);
	URT_END(co, r);
}

static void test_deadline_pairs_survive_full_sq(void **state)
{
	struct urt_config cfg;
	struct urt_rt *rt;
	struct many_deadlines *m = calloc(1, sizeof(*m));
	int p[2];

	(void)state;
	assert_non_null(m);
	urt_config_init(&cfg);
	cfg.workers = 1;
	cfg.ring_entries = 4;
	rt = h_rt_cfg(&cfg);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	m->fd = p[0];
	urt_co_init(&m->co, many_deadlines_run);
	assert_int_equal(urt_block_on(rt, &m->co.base), 0);
	for (int i = 0; i < 33; i++)
		assert_int_equal(m->res[i], -ETIME);
	close(p[0]);
	close(p[1]);
	free(m);
	h_rt_free_clean(rt);
}

/* --- abort with a read in flight -------------------------------------- */

/* What the reader's drop hook saw; read after the runtime is freed. */
struct probe {
	_Atomic int dropped;
	int op_res;
	int buf_intact;
};

struct reader {
	struct urt_co co;
	struct urt_op op;
	struct probe *probe;
	int fd;
	int n;
	char buf[256];
};

static void reader_drop(struct urt_co *co)
{
	struct reader *r = (struct reader *)co;
	int intact = 1;

	/* Runs after the task ended and the read's CQE was reaped; the
	 * frame (and buf) is freed right after. */
	for (size_t i = 0; i < sizeof(r->buf); i++)
		intact &= r->buf[i] == (char)0xa5;
	r->probe->op_res = r->op.res;
	r->probe->buf_intact = intact;
	atomic_store(&r->probe->dropped, 1);
}

H_CO(reader_run)
{
	struct reader *r = (struct reader *)co;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_read(&r->op, r->fd, r->buf, sizeof(r->buf), 0), r->n);
	URT_END(co, r->n);
}

static int read_submitted(const struct urt_stats *st)
{
	return st->sqes_inflight >= 1;
}

static void test_abort_task_with_read_in_flight_cancels_read(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct probe probe = { .op_res = 1 };
	struct urt_task_handle h;
	struct urt_stats st;
	struct reader *r;
	uint64_t end;
	char c;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	r = urt_frame_new(sizeof(*r));
	assert_non_null(r);
	urt_co_init(&r->co, reader_run);
	r->co.drop = reader_drop;
	r->probe = &probe;
	r->fd = p[0];
	memset(r->buf, 0xa5, sizeof(r->buf));
	assert_int_equal(urt_task_spawn_frame(rt, r, &h), 0);
	/*
	 * Wait until a worker parked with the read submitted (ring counters
	 * are published at park): the abort then has a real op to cancel.
	 */
	end = urt_now_ns() + 10ull * 1000000000ull;
	do {
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		urt_rt_stats(rt, &st);
	} while (!read_submitted(&st) && urt_now_ns() < end);
	assert_true(read_submitted(&st));
	assert_int_equal(atomic_load(&probe.dropped), 0);

	assert_int_equal(urt_task_abort(&h), 0);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	/* The cancelled read consumed nothing. */
	assert_int_equal(write(p[1], "q", 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'q');
	h_rt_free_clean(rt);
	/* The runtime is gone, so the drop hook has run. */
	assert_int_equal(atomic_load(&probe.dropped), 1);
	assert_int_equal(probe.op_res, -ECANCELED);
	assert_true(probe.buf_intact);
	close(p[0]);
	close(p[1]);
}

/* The same through shutdown: nobody aborts, urt_rt_free must. */
static void test_shutdown_cancels_read_in_flight_on_empty_pipe(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct probe probe = { .op_res = 1 };
	struct urt_stats st;
	struct reader *r;
	uint64_t end;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	r = urt_frame_new(sizeof(*r));
	assert_non_null(r);
	urt_co_init(&r->co, reader_run);
	r->co.drop = reader_drop;
	r->probe = &probe;
	r->fd = p[0];
	memset(r->buf, 0xa5, sizeof(r->buf));
	assert_int_equal(urt_task_spawn_frame(rt, r, NULL), 0);
	end = urt_now_ns() + 10ull * 1000000000ull;
	do {
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		urt_rt_stats(rt, &st);
	} while (!read_submitted(&st) && urt_now_ns() < end);
	assert_true(read_submitted(&st));
	h_rt_free_clean(rt);
	assert_int_equal(atomic_load(&probe.dropped), 1);
	assert_int_equal(probe.op_res, -ECANCELED);
	assert_true(probe.buf_intact);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_file_ops_write_sync_stat_read_close_roundtrip),
		cmocka_unit_test(test_read_at_eof_returns_zero),
		cmocka_unit_test(test_openat_missing_file_returns_enoent),
		cmocka_unit_test(test_openat_relative_to_dir_fd_creates_file),
		cmocka_unit_test(test_statx_missing_path_returns_enoent),
		cmocka_unit_test(test_file_ops_on_bad_fd_return_ebadf),
		cmocka_unit_test(
			test_bad_fd_with_deadline_returns_ebadf_not_etime),
		cmocka_unit_test(
			test_read_from_empty_pipe_with_deadline_returns_etime),
		cmocka_unit_test(test_read_with_unexpired_deadline_returns_data),
		cmocka_unit_test(test_deadline_pairs_survive_full_sq),
		cmocka_unit_test(
			test_abort_task_with_read_in_flight_cancels_read),
		cmocka_unit_test(
			test_shutdown_cancels_read_in_flight_on_empty_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
