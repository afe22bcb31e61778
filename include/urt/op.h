/* SPDX-License-Identifier: MIT */
/*
 * Ops: one io_uring operation = one future, ready when its CQE is reaped.
 *
 * Lifetimes (the rule for every urt_op_* below):
 *  - the struct urt_op must stay valid, and must not be re-initialised,
 *    until it is ready (its poll returned a result) or the task that
 *    submitted it has ended (an aborted task's ops are cancelled and the
 *    runtime waits for their CQEs before it drops the task);
 *  - data buffers (read/write/recv/send/readv iovecs and their buffers, the
 *    statx buffer, accept's addr/addrlen) must stay valid until completion,
 *    the same span;
 *  - path strings, sockaddrs passed to connect, and the iovec array are
 *    read at submission at the latest; keeping them until completion is
 *    always safe and is what the examples do.
 * An op is submitted on its first poll, on the ring of the worker polling it,
 * and belongs to the task polling it; poll it only from that task.
 * The init functions below return &op->base and never fail: argument errors
 * come back as the op's result (-EINVAL, -EBADF... from the kernel).
 */
#ifndef URT_OP_H
#define URT_OP_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

struct urt_task;
struct statx;

struct urt_op {
	struct urt_future base;
	/* Everything below is private to the runtime. */
	struct urt_task *task;		/* owner, set at submission */
	void *ring;			/* ring it was submitted on */
	struct urt_op *prev, *next;	/* owner's in-flight list */
	uint64_t deadline_ns;		/* relative LINK_TIMEOUT, 0: none */
	struct {
		int64_t tv_sec;
		long long tv_nsec;
	} ts;				/* TIMEOUT / LINK_TIMEOUT timespec */
	uint64_t off;
	uint64_t addr;
	uint32_t len;
	uint32_t op_flags;		/* sqe->rw_flags and friends */
	int32_t fd;
	int32_t res;
	uint32_t cqe_flags;
	uint32_t state;			/* atomic: URT__OP_* in src/op.h */
	uint16_t ioprio;
	uint8_t opcode;
	uint8_t flags;			/* URT__OPF_* in src/op.h */
};

/* The CQE's flags once the op is ready (IORING_CQE_F_*). */
static inline uint32_t urt_op_cqe_flags(const struct urt_op *op)
{
	return op->cqe_flags;
}

/*
 * Per-op deadline, relative, in ns (IORING_OP_LINK_TIMEOUT): if the op has
 * not completed by then it is cancelled and its result is -ETIME. Call after
 * the init function and before the first poll. Returns &op->base, so an
 * await can take it: urt_op_recv(op, fd, buf, len, 0); then
 * URT_AWAIT(co, cx, urt_op_set_deadline(op, ns), r). Ignored by timers.
 */
struct urt_future *urt_op_set_deadline(struct urt_op *op, uint64_t timeout_ns);

/* Result: 0. */
struct urt_future *urt_op_nop(struct urt_op *op);

/* File ops. Results as the syscalls: bytes, fd, 0, or -errno. */
struct urt_future *urt_op_read(struct urt_op *op, int fd, void *buf,
			       unsigned len, uint64_t off);
struct urt_future *urt_op_write(struct urt_op *op, int fd, const void *buf,
				unsigned len, uint64_t off);
struct urt_future *urt_op_readv(struct urt_op *op, int fd,
				const struct iovec *iov, unsigned iovcnt,
				uint64_t off);
struct urt_future *urt_op_writev(struct urt_op *op, int fd,
				 const struct iovec *iov, unsigned iovcnt,
				 uint64_t off);
struct urt_future *urt_op_openat(struct urt_op *op, int dfd, const char *path,
				 int flags, mode_t mode);
struct urt_future *urt_op_close(struct urt_op *op, int fd);
/* flags: 0 or IORING_FSYNC_DATASYNC (fdatasync). */
struct urt_future *urt_op_fsync(struct urt_op *op, int fd, unsigned flags);
struct urt_future *urt_op_statx(struct urt_op *op, int dfd, const char *path,
				int flags, unsigned mask, struct statx *buf);

/* Network ops. */
struct urt_future *urt_op_socket(struct urt_op *op, int domain, int type,
				 int protocol);
struct urt_future *urt_op_accept(struct urt_op *op, int fd,
				 struct sockaddr *addr, socklen_t *addrlen,
				 int flags);
struct urt_future *urt_op_connect(struct urt_op *op, int fd,
				  const struct sockaddr *addr,
				  socklen_t addrlen);
struct urt_future *urt_op_recv(struct urt_op *op, int fd, void *buf,
			       unsigned len, int flags);
/* send always adds MSG_NOSIGNAL: a closed peer gives -EPIPE, not SIGPIPE. */
struct urt_future *urt_op_send(struct urt_op *op, int fd, const void *buf,
			       unsigned len, int flags);
struct urt_future *urt_op_shutdown(struct urt_op *op, int fd, int how);

/*
 * bind(2) / listen(2) have no io_uring op before kernel 6.11 and never block:
 * plain calls, 0 or -errno.
 */
int urt_net_bind(int fd, const struct sockaddr *addr, socklen_t len);
int urt_net_listen(int fd, int backlog);
/*
 * Convenience: a TCP socket (SOCK_CLOEXEC) bound to 127.0.0.1:port with
 * SO_REUSEADDR and listening. port 0 picks a free port; *bound_port (may be
 * NULL) receives it. Returns the fd or -errno.
 */
int urt_net_listen_tcp4(uint16_t port, int backlog, uint16_t *bound_port);

/* Timers are ops too (IORING_OP_TIMEOUT, CLOCK_MONOTONIC). Result: 0. */
struct urt_future *urt_op_sleep(struct urt_op *op, uint64_t ns);
/* Absolute CLOCK_MONOTONIC deadline in ns (see urt_now_ns()). */
struct urt_future *urt_op_sleep_until(struct urt_op *op, uint64_t deadline_ns);

/* CLOCK_MONOTONIC now, in ns. */
uint64_t urt_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
