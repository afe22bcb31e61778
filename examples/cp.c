/* SPDX-License-Identifier: MIT */
/*
 * cp SRC DST: copies a file with WINDOW reads/writes of CHUNK bytes in
 * flight. One task; inside it WINDOW "lane" coroutines run under a join,
 * each claiming the next chunk, reading it fully and writing it fully.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <urt.h>

enum { WINDOW = 8, CHUNK = 64 * 1024 };

struct cp;

struct lane {
	struct urt_co co;
	struct urt_op op;
	struct cp *cp;
	char *buf;
	uint64_t off;
	unsigned len, done;
};

struct cp {
	struct urt_co co;
	struct urt_op op;
	const char *src, *dst;
	int sfd, dfd, err;
	struct statx stx;
	uint64_t next;		 /* first byte no lane has claimed */
	unsigned inflight, peak; /* reads+writes in flight, and the most */
	struct lane lanes[WINDOW];
	struct urt_future *futs[WINDOW];
	int results[WINDOW];
	struct urt_join join;
};

/*
 * The lanes share one task, so cp's fields need no atomics: only one lane
 * runs at a time, and only between its awaits.
 */
static void count_op(struct cp *cp)
{
	if (++cp->inflight > cp->peak)
		cp->peak = cp->inflight;
}

static int fail(struct cp *cp, int r)
{
	/* Stops the other lanes from claiming chunks; 0 means EOF too early. */
	cp->err = r ? r : -EIO;
	return cp->err;
}

static int lane_run(struct urt_co *co, struct urt_cx *cx)
{
	struct lane *l = (struct lane *)co;
	struct cp *cp = l->cp;
	int r = 0;

	URT_BEGIN(co);
	while (!cp->err && cp->next < cp->stx.stx_size) {
		l->off = cp->next;
		l->len = cp->stx.stx_size - l->off < CHUNK
			     ? (unsigned)(cp->stx.stx_size - l->off)
			     : CHUNK;
		cp->next += l->len;
		/* Short reads and writes are legal: loop until the chunk is
		 * done. */
		for (l->done = 0; l->done < l->len; l->done += r) {
			count_op(cp);
			URT_AWAIT(co, cx,
				  urt_op_read(&l->op, cp->sfd, l->buf + l->done,
					      l->len - l->done,
					      l->off + l->done),
				  r);
			cp->inflight--;
			if (r <= 0) /* 0: SRC shrank under us */
				URT_RETURN(co, fail(cp, r));
		}
		for (l->done = 0; l->done < l->len; l->done += r) {
			count_op(cp);
			URT_AWAIT(co, cx,
				  urt_op_write(&l->op, cp->dfd,
					       l->buf + l->done,
					       l->len - l->done,
					       l->off + l->done),
				  r);
			cp->inflight--;
			if (r <= 0)
				URT_RETURN(co, fail(cp, r));
		}
	}
	URT_END(co, 0);
}

static int cp_run(struct urt_co *co, struct urt_cx *cx)
{
	struct cp *cp = (struct cp *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx,
		  urt_op_openat(&cp->op, AT_FDCWD, cp->src,
				O_RDONLY | O_CLOEXEC, 0),
		  cp->sfd);
	if (cp->sfd < 0)
		URT_RETURN(co, cp->sfd);
	URT_AWAIT(co, cx,
		  urt_op_statx(&cp->op, cp->sfd, "", AT_EMPTY_PATH,
			       STATX_SIZE | STATX_MODE, &cp->stx),
		  r);
	if (r < 0)
		URT_RETURN(co, r);
	URT_AWAIT(co, cx,
		  urt_op_openat(&cp->op, AT_FDCWD, cp->dst,
				O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				cp->stx.stx_mode & 07777),
		  cp->dfd);
	if (cp->dfd < 0)
		URT_RETURN(co, cp->dfd);
	for (int i = 0; i < WINDOW; i++)
		cp->futs[i] = urt_co_init(&cp->lanes[i].co, lane_run);
	URT_AWAIT(co, cx,
		  urt_join_init(&cp->join, cp->futs, cp->results, WINDOW), r);
	if (cp->err)
		URT_RETURN(co, cp->err);
	/* The copy is done only once it is on disk; a failed fsync fails cp. */
	URT_AWAIT(co, cx, urt_op_fsync(&cp->op, cp->dfd, 0), r);
	if (r < 0)
		URT_RETURN(co, r);
	URT_AWAIT(co, cx, urt_op_close(&cp->op, cp->dfd), r);
	cp->dfd = -1;
	URT_END(co, r);
}

int main(int argc, char **argv)
{
	struct cp cp = {.sfd = -1, .dfd = -1};
	struct stat a, b;
	struct urt_rt *rt;
	uint64_t t0;
	char *bufs;
	int r, i;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SRC DST\n", argv[0]);
		return 2;
	}
	/* O_TRUNC on DST would destroy SRC if both name one file. */
	if (!stat(argv[1], &a) && !stat(argv[2], &b) && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		fprintf(stderr, "cp: %s and %s are the same file\n", argv[1],
			argv[2]);
		return 1;
	}
	r = urt_rt_new(NULL, &rt);
	if (r) {
		fprintf(stderr, "cp: %s: %s\n", urt_strerror(r),
			urt_rt_last_error());
		return 1;
	}
	cp.src = argv[1];
	cp.dst = argv[2];
	bufs = malloc((size_t)WINDOW * CHUNK);
	if (!bufs) {
		urt_rt_free(rt, NULL);
		return 1;
	}
	for (i = 0; i < WINDOW; i++) {
		cp.lanes[i].cp = &cp;
		cp.lanes[i].buf = bufs + (size_t)i * CHUNK;
	}
	urt_co_init(&cp.co, cp_run);
	t0 = urt_now_ns();
	/* block_on waits for every op, so cp may live on this stack. */
	r = urt_block_on(rt, &cp.co.base);
	t0 = urt_now_ns() - t0;
	if (cp.sfd >= 0)
		close(cp.sfd); /* read-only: nothing to report, close here */
	if (cp.dfd >= 0)
		close(cp.dfd); /* only on the error paths */
	if (urt_rt_free(rt, NULL) && !r)
		r = -EBUSY;
	free(bufs);
	if (r < 0) {
		fprintf(stderr, "cp: %s -> %s: %s\n", cp.src, cp.dst,
			urt_strerror(r));
		return 1;
	}
	printf("cp: %llu bytes, %u-byte chunks, %u ops in flight at most, "
	       "%.1f ms\n",
	       (unsigned long long)cp.stx.stx_size, CHUNK, cp.peak,
	       (double)t0 / 1e6);
	return 0;
}
