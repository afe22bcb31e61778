/* SPDX-License-Identifier: MIT */
/* Socket ops, plus bind/listen as plain syscalls (they never block). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "internal.h"

static struct urt_future *prep(struct urt_op *op, uint8_t opcode, int fd,
			       uint64_t addr, unsigned len, uint64_t off,
			       uint32_t flags)
{
	urt__op_init(op, opcode);
	op->fd = fd;
	op->addr = addr;
	op->len = len;
	op->off = off;
	op->op_flags = flags;
	return &op->base;
}

struct urt_future *urt_op_socket(struct urt_op *op, int domain, int type,
				 int protocol)
{
	/* fd = domain, off = type, len = protocol */
	return prep(op, IORING_OP_SOCKET, domain, 0, (unsigned)protocol,
		    (uint64_t)type, 0);
}

struct urt_future *urt_op_accept(struct urt_op *op, int fd,
				 struct sockaddr *addr, socklen_t *addrlen,
				 int flags)
{
	/* off = addrlen pointer (sqe->addr2), accept_flags */
	return prep(op, IORING_OP_ACCEPT, fd, (uintptr_t)addr, 0,
		    (uintptr_t)addrlen, (uint32_t)flags);
}

struct urt_future *urt_op_connect(struct urt_op *op, int fd,
				  const struct sockaddr *addr,
				  socklen_t addrlen)
{
	/* off = addrlen value */
	return prep(op, IORING_OP_CONNECT, fd, (uintptr_t)addr, 0, addrlen,
		    0);
}

struct urt_future *urt_op_recv(struct urt_op *op, int fd, void *buf,
			       unsigned len, int flags)
{
	return prep(op, IORING_OP_RECV, fd, (uintptr_t)buf, len, 0,
		    (uint32_t)flags);
}

struct urt_future *urt_op_send(struct urt_op *op, int fd, const void *buf,
			       unsigned len, int flags)
{
	/* A library must not kill its host with SIGPIPE. */
	return prep(op, IORING_OP_SEND, fd, (uintptr_t)buf, len, 0,
		    (uint32_t)(flags | MSG_NOSIGNAL));
}

struct urt_future *urt_op_shutdown(struct urt_op *op, int fd, int how)
{
	return prep(op, IORING_OP_SHUTDOWN, fd, 0, (unsigned)how, 0, 0);
}

int urt_net_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!addr)
		return -EINVAL;
	return bind(fd, addr, len) ? -errno : 0;
}

int urt_net_listen(int fd, int backlog)
{
	return listen(fd, backlog) ? -errno : 0;
}

int urt_net_listen_tcp4(uint16_t port, int backlog, uint16_t *bound_port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1, err;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, backlog) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (bound_port)
		*bound_port = ntohs(sa.sin_port);
	return fd;
}
