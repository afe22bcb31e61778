/* SPDX-License-Identifier: MIT */
/*
 * File ops and nop: how each maps onto SQE fields (the same layout as
 * liburing's io_uring_prep_* helpers; ring.c copies the fields verbatim).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "compat.h"
#include "internal.h"

struct urt_future *urt_op_nop(struct urt_op *op)
{
	urt__op_init(op, IORING_OP_NOP);
	return &op->base;
}

static struct urt_future *rw(struct urt_op *op, uint8_t opcode, int fd,
			     const void *addr, unsigned len, uint64_t off)
{
	urt__op_init(op, opcode);
	op->fd = fd;
	op->addr = (uintptr_t)addr;
	op->len = len;
	op->off = off;
	return &op->base;
}

struct urt_future *urt_op_read(struct urt_op *op, int fd, void *buf,
			       unsigned len, uint64_t off)
{
	return rw(op, IORING_OP_READ, fd, buf, len, off);
}

struct urt_future *urt_op_write(struct urt_op *op, int fd, const void *buf,
				unsigned len, uint64_t off)
{
	return rw(op, IORING_OP_WRITE, fd, buf, len, off);
}

struct urt_future *urt_op_readv(struct urt_op *op, int fd,
				const struct iovec *iov, unsigned iovcnt,
				uint64_t off)
{
	return rw(op, IORING_OP_READV, fd, iov, iovcnt, off);
}

struct urt_future *urt_op_writev(struct urt_op *op, int fd,
				 const struct iovec *iov, unsigned iovcnt,
				 uint64_t off)
{
	return rw(op, IORING_OP_WRITEV, fd, iov, iovcnt, off);
}

struct urt_future *urt_op_openat(struct urt_op *op, int dfd, const char *path,
				 int flags, mode_t mode)
{
	rw(op, IORING_OP_OPENAT, dfd, path, mode, 0);
	op->op_flags = (uint32_t)flags; /* sqe->open_flags */
	return &op->base;
}

struct urt_future *urt_op_close(struct urt_op *op, int fd)
{
	return rw(op, IORING_OP_CLOSE, fd, NULL, 0, 0);
}

struct urt_future *urt_op_fsync(struct urt_op *op, int fd, unsigned flags)
{
	rw(op, IORING_OP_FSYNC, fd, NULL, 0, 0);
	op->op_flags = flags; /* sqe->fsync_flags */
	return &op->base;
}

struct urt_future *urt_op_statx(struct urt_op *op, int dfd, const char *path,
				int flags, unsigned mask, struct statx *buf)
{
	/* off carries the statx buffer (sqe->addr2) */
	rw(op, IORING_OP_STATX, dfd, path, mask, (uintptr_t)buf);
	op->op_flags = (uint32_t)flags; /* sqe->statx_flags */
	return &op->base;
}
