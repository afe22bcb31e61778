// SPDX-License-Identifier: MIT
/*
 * Writes the event log while ustrace traces: the small events through a
 * buffer, liburt's batches straight from the BPF ring buffer's memory (one
 * writev each, no copy of ours: the consumer's time is what the traced
 * workers lose on a busy machine). Reads a finished log back for the
 * summary. The format is ustrace.h's, its parsing decode.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "record.h"

/*
 * Stops logging. What was written of the item that failed goes, so that
 * the log stays readable up to there (the header is still rewritten at
 * close: a write over existing blocks).
 */
static void give_up(struct ust_rec *r, int err)
{
	fprintf(stderr, "ustrace: writing %s: %s\n", r->path, strerror(err));
	r->failed = true;
	(void)!ftruncate(r->fd, (off_t)r->good);
}

/* Writes the n iovecs whole (short writes go on where they stopped). */
static void put(struct ust_rec *r, struct iovec *iov, int n)
{
	size_t total = 0;

	if (r->failed)
		return;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	while (n > 0) {
		ssize_t w = writev(r->fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* 0 for a regular file: no room left */
			give_up(r, w < 0 ? errno : ENOSPC);
			return;
		}
		for (; n && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	r->good += total;
}

static void flush(struct ust_rec *r)
{
	struct iovec iov = {r->wbuf, r->wlen};

	if (r->wlen)
		put(r, &iov, 1);
	r->wlen = 0;
}

int ust_rec_open(struct ust_rec *r, const char *dir,
		 const struct ust_log_header *hdr)
{
	struct iovec iov = {&r->hdr, sizeof(r->hdr)};
	int err;

	r->fd = -1;
	r->failed = false;
	r->good = 0;
	r->wlen = 0;
	r->hdr = *hdr;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		err = errno;
		fprintf(stderr, "ustrace: mkdir %s: %s\n", dir, strerror(err));
		return -err;
	}
	snprintf(r->path, sizeof(r->path), "%s/events.ustrace", dir);
	r->fd = open(r->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (r->fd < 0) {
		err = errno;
		fprintf(stderr, "ustrace: %s: %s\n", r->path, strerror(err));
		return -err;
	}
	put(r, &iov, 1);
	if (r->failed) {
		close(r->fd);
		r->fd = -1;
		return -EIO;
	}
	return 0;
}

void ust_rec_event(struct ust_rec *r, const struct ust_event *e)
{
	/* sizeof(*e) is a multiple of 8 (ustrace.h): no padding */
	if (r->wlen + sizeof(*e) > sizeof(r->wbuf))
		flush(r);
	memcpy(r->wbuf + r->wlen, e, sizeof(*e));
	r->wlen += sizeof(*e);
}

void ust_rec_batch(struct ust_rec *r, const void *b, size_t bytes)
{
	static const unsigned char zeros[8];
	struct iovec iov[3] = {
	    {r->wbuf, r->wlen},
	    {(void *)b, bytes},
	    {(void *)zeros, ((bytes + 7) & ~(size_t)7) - bytes},
	};

	put(r, iov, 3);
	r->wlen = 0;
}

int ust_rec_close(struct ust_rec *r)
{
	int err = 0;

	if (r->fd < 0)
		return -EIO;
	flush(r);
	if (pwrite(r->fd, &r->hdr, sizeof(r->hdr), 0) != sizeof(r->hdr) ||
	    r->failed)
		err = -EIO;
	if (close(r->fd))
		err = -EIO;
	r->fd = -1;
	return err;
}

int ust_log_replay(const char *path, struct ust_log_header *hdr, ust_log_fn fn,
		   void *ctx)
{
	static const unsigned char empty[1];
	const unsigned char *buf = empty;
	struct stat st;
	void *m = MAP_FAILED;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return ust_fail(-errno, path, "%s", strerror(errno));
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return ust_fail(err, path, "%s", strerror(-err));
	}
	if (st.st_size > 0) {
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
			 0);
		if (m == MAP_FAILED) {
			err = -errno;
			close(fd);
			return ust_fail(err, path, "mmap: %s", strerror(-err));
		}
		/* read ahead; pages behind may go */
		(void)madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
		buf = m;
	}
	close(fd);
	err = ust_log_parse(buf, (size_t)st.st_size, path, hdr, fn, ctx);
	if (m != MAP_FAILED)
		munmap(m, (size_t)st.st_size);
	return err;
}
