/* SPDX-License-Identifier: MIT */
/*
 * Socket ops over 127.0.0.1 only: socket/bind/listen/accept/connect/send/
 * recv/shutdown, an echo server and clients in one runtime, deadlines,
 * refused connections, abort of a pending accept.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* The local port of fd, 0 on error. No cmocka: tasks call it too. */
static uint16_t local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len))
		return 0;
	return ntohs(sa.sin_port);
}

/* A connected TCP pair over loopback, made with plain blocking calls. */
static void tcp_pair(int fds[2])
{
	uint16_t port;
	int lfd = urt_net_listen_tcp4(0, 4, &port);
	struct sockaddr_in sa = loopback(port);

	assert_true(lfd >= 0);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fds[0] >= 0);
	assert_int_equal(connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)),
			 0);
	fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fds[1] >= 0);
	close(lfd);
}

/* --- bind / listen (plain calls) ------------------------------------- */

static void test_listen_tcp4_binds_loopback_and_reports_port(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	uint16_t port = 0;
	int fd = urt_net_listen_tcp4(0, 16, &port);

	(void)state;
	assert_true(fd >= 0);
	assert_true(port != 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(ntohs(sa.sin_port), port);
	assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* NULL bound_port is allowed */
	{
		int fd2 = urt_net_listen_tcp4(0, 16, NULL);
		assert_true(fd2 >= 0);
		close(fd2);
	}
	close(fd);
}

static void test_bind_and_listen_errors_return_negative_errno(void **state)
{
	struct sockaddr_in sa;
	uint16_t port;
	int lfd = urt_net_listen_tcp4(0, 4, &port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_true(lfd >= 0);
	assert_true(fd >= 0);
	assert_int_equal(urt_net_bind(fd, NULL, 0), -EINVAL);
	sa = loopback(port); /* taken by lfd, which is listening */
	assert_int_equal(urt_net_bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
			 -EADDRINUSE);
	assert_int_equal(urt_net_bind(-1, (struct sockaddr *)&sa, sizeof(sa)),
			 -EBADF);
	assert_int_equal(urt_net_listen(-1, 4), -EBADF);
	sa = loopback(0);
	assert_int_equal(urt_net_bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
			 0);
	assert_int_equal(urt_net_listen(fd, 4), 0);
	assert_true(local_port(fd) != 0);
	/* the port is in use by a listener: a second listen_tcp4 on it fails */
	assert_int_equal(urt_net_listen_tcp4(port, 4, NULL), -EADDRINUSE);
	close(fd);
	close(lfd);
}

/* --- every socket op in one task ------------------------------------- */

/*
 * socket x2 -> bind/listen (plain) -> join(accept, connect) -> send ->
 * recv -> shutdown(WR) -> recv EOF -> close x3. Results are kept for the
 * test thread.
 */
struct sockflow {
	struct urt_co co;
	struct urt_op op, op2;
	struct urt_join join;
	struct urt_future *futs[2];
	int res[2];
	int lfd, cfd, sfd;
	int r_lsock, r_csock, r_bind, r_listen, r_send, r_recv, r_shut;
	int r_eof, r_close[3];
	uint16_t client_port;
	struct sockaddr_in addr, peer;
	socklen_t peer_len;
	char buf[16];
};

H_CO(sockflow_run)
{
	struct sockflow *s = (struct sockflow *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_socket(&s->op, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s->r_lsock);
	URT_AWAIT(co, cx, urt_op_socket(&s->op, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s->r_csock);
	if (s->r_lsock < 0 || s->r_csock < 0)
		URT_RETURN(co, -1);
	s->lfd = s->r_lsock;
	s->cfd = s->r_csock;
	s->addr = loopback(0);
	s->r_bind = urt_net_bind(s->lfd, (struct sockaddr *)&s->addr, sizeof(s->addr));
	s->r_listen = urt_net_listen(s->lfd, 4);
	if (s->r_bind || s->r_listen)
		URT_RETURN(co, -2);
	s->addr = loopback(local_port(s->lfd));
	s->peer_len = sizeof(s->peer);
	s->futs[0] = urt_op_accept(&s->op, s->lfd, (struct sockaddr *)&s->peer, &s->peer_len, SOCK_CLOEXEC);
	s->futs[1] = urt_op_connect(&s->op2, s->cfd, (struct sockaddr *)&s->addr, sizeof(s->addr));
	URT_AWAIT(co, cx, urt_join_init(&s->join, s->futs, s->res, 2), r);
	if (s->res[0] < 0 || s->res[1] != 0)
		URT_RETURN(co, -3);
	s->sfd = s->res[0];
	s->client_port = local_port(s->cfd);
	URT_AWAIT(co, cx, urt_op_send(&s->op, s->cfd, "ping", 4, MSG_NOSIGNAL), s->r_send);
	/* WAITALL: exactly the 4 bytes sent, however TCP splits them */
	URT_AWAIT(co, cx, urt_op_recv(&s->op, s->sfd, s->buf, 4, MSG_WAITALL), s->r_recv);
	URT_AWAIT(co, cx, urt_op_shutdown(&s->op, s->cfd, SHUT_WR), s->r_shut);
	URT_AWAIT(co, cx, urt_op_recv(&s->op, s->sfd, s->buf + 4, sizeof(s->buf) - 4, 0), s->r_eof);
	URT_AWAIT(co, cx, urt_op_close(&s->op, s->sfd), s->r_close[0]);
	URT_AWAIT(co, cx, urt_op_close(&s->op, s->cfd), s->r_close[1]);
	URT_AWAIT(co, cx, urt_op_close(&s->op, s->lfd), s->r_close[2]);
	URT_END(co, r);
}

static void test_socket_ops_accept_connect_send_recv_shutdown(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct sockflow *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(s);
	urt_co_init(&s->co, sockflow_run);
	assert_int_equal(urt_block_on(rt, &s->co.base), 0);
	assert_true(s->r_lsock >= 0);
	assert_true(s->r_csock >= 0);
	assert_true(s->sfd >= 0);
	assert_int_equal(s->res[1], 0); /* connect */
	assert_int_equal(s->peer_len, sizeof(struct sockaddr_in));
	assert_int_equal(s->peer.sin_family, AF_INET);
	assert_int_equal(ntohl(s->peer.sin_addr.s_addr), INADDR_LOOPBACK);
	assert_true(s->client_port != 0);
	assert_int_equal(ntohs(s->peer.sin_port), s->client_port);
	assert_int_equal(s->r_send, 4);
	assert_int_equal(s->r_recv, 4);
	assert_memory_equal(s->buf, "ping", 4);
	assert_int_equal(s->r_shut, 0);
	assert_int_equal(s->r_eof, 0); /* peer shut down its write side */
	for (int i = 0; i < 3; i++)
		assert_int_equal(s->r_close[i], 0);
	free(s);
	h_rt_free_clean(rt);
}

/* --- echo: server task + client tasks on two workers ----------------- */

enum { ECHO_CLIENTS = 4, ECHO_ROUNDS = 16 };

/* One accepted connection, in its own frame: echoes until EOF. */
struct echo_conn {
	struct urt_co co;
	struct urt_op op;
	int fd, n, sent, total;
	char buf[512];
};

H_CO(echo_conn_run)
{
	struct echo_conn *c = (struct echo_conn *)co;
	int r = 0;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx, urt_op_recv(&c->op, c->fd, c->buf, sizeof(c->buf), 0), c->n);
		if (c->n <= 0)
			break;
		for (c->sent = 0; c->sent < c->n; c->sent += r) {
			URT_AWAIT(co, cx, urt_op_send(&c->op, c->fd, c->buf + c->sent, (unsigned)(c->n - c->sent), MSG_NOSIGNAL), r);
			if (r <= 0)
				URT_RETURN(co, r < 0 ? r : -EPIPE);
		}
		c->total += c->n;
	}
	URT_AWAIT(co, cx, urt_op_close(&c->op, c->fd), r);
	/* EOF (0) ends a good connection: report the bytes echoed */
	URT_END(co, c->n < 0 ? c->n : (r < 0 ? r : c->total));
}

struct echo_server {
	struct urt_co co;
	struct urt_op op;
	struct urt_rt *rt;
	int lfd, i, fd;
	struct urt_task_handle conns[ECHO_CLIENTS];
	int conn_res[ECHO_CLIENTS];
};

H_CO(echo_server_run)
{
	struct echo_server *s = (struct echo_server *)co;
	struct echo_conn *c;
	int r;

	URT_BEGIN(co);
	for (s->i = 0; s->i < ECHO_CLIENTS; s->i++) {
		URT_AWAIT(co, cx, urt_op_accept(&s->op, s->lfd, NULL, NULL, SOCK_CLOEXEC), s->fd);
		if (s->fd < 0)
			URT_RETURN(co, s->fd);
		c = urt_frame_new(sizeof(*c));
		if (!c) {
			close(s->fd);
			URT_RETURN(co, -ENOMEM);
		}
		urt_co_init(&c->co, echo_conn_run);
		c->fd = s->fd;
		r = urt_task_spawn_frame(s->rt, c, &s->conns[s->i]);
		if (r) {
			urt_frame_free(c);
			close(s->fd);
			URT_RETURN(co, r);
		}
	}
	for (s->i = 0; s->i < ECHO_CLIENTS; s->i++) {
		URT_AWAIT(co, cx, &s->conns[s->i].base, s->conn_res[s->i]);
	}
	URT_END(co, 0);
}

struct echo_client {
	struct urt_co co;
	struct urt_op op;
	struct sockaddr_in sa;
	int id, fd, round, len, done, r, mismatches, eof;
	char out[64], in[64];
};

H_CO(echo_client_run)
{
	struct echo_client *c = (struct echo_client *)co;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_socket(&c->op, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c->fd);
	if (c->fd < 0)
		URT_RETURN(co, c->fd);
	URT_AWAIT(co, cx, urt_op_connect(&c->op, c->fd, (struct sockaddr *)&c->sa, sizeof(c->sa)), c->r);
	if (c->r)
		URT_RETURN(co, c->r);
	for (c->round = 0; c->round < ECHO_ROUNDS; c->round++) {
		c->len = snprintf(c->out, sizeof(c->out), "client %d round %d%.*s", c->id, c->round, c->round, "................");
		for (c->done = 0; c->done < c->len; c->done += c->r) {
			URT_AWAIT(co, cx, urt_op_send(&c->op, c->fd, c->out + c->done, (unsigned)(c->len - c->done), MSG_NOSIGNAL), c->r);
			if (c->r <= 0)
				URT_RETURN(co, c->r < 0 ? c->r : -EPIPE);
		}
		/* TCP may split the echo: read until the whole message is back */
		for (c->done = 0; c->done < c->len; c->done += c->r) {
			URT_AWAIT(co, cx, urt_op_recv(&c->op, c->fd, c->in + c->done, (unsigned)(c->len - c->done), 0), c->r);
			if (c->r <= 0)
				URT_RETURN(co, c->r < 0 ? c->r : -ECONNRESET);
		}
		if (memcmp(c->in, c->out, (size_t)c->len))
			c->mismatches++;
	}
	URT_AWAIT(co, cx, urt_op_shutdown(&c->op, c->fd, SHUT_WR), c->r);
	if (c->r)
		URT_RETURN(co, c->r);
	URT_AWAIT(co, cx, urt_op_recv(&c->op, c->fd, c->in, sizeof(c->in), 0), c->eof);
	URT_AWAIT(co, cx, urt_op_close(&c->op, c->fd), c->r);
	URT_END(co, c->round);
}

static void test_echo_server_and_clients_in_one_runtime(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct echo_server srv;
	struct echo_client cl[ECHO_CLIENTS];
	struct urt_task_handle hs, hc[ECHO_CLIENTS];
	uint16_t port;
	int expect_bytes[ECHO_CLIENTS];

	(void)state;
	memset(&srv, 0, sizeof(srv));
	memset(cl, 0, sizeof(cl));
	srv.rt = rt;
	srv.lfd = urt_net_listen_tcp4(0, ECHO_CLIENTS, &port);
	assert_true(srv.lfd >= 0);
	urt_co_init(&srv.co, echo_server_run);
	assert_int_equal(urt_task_spawn(rt, &srv.co.base, &hs), 0);
	for (int i = 0; i < ECHO_CLIENTS; i++) {
		cl[i].id = i;
		cl[i].sa = loopback(port);
		urt_co_init(&cl[i].co, echo_client_run);
		assert_int_equal(urt_task_spawn(rt, &cl[i].co.base, &hc[i]), 0);
		expect_bytes[i] = 0;
		for (int r = 0; r < ECHO_ROUNDS; r++) {
			char tmp[64];
			expect_bytes[i] += snprintf(tmp, sizeof(tmp),
						    "client %d round %d%.*s", i,
						    r, r, "................");
		}
	}
	for (int i = 0; i < ECHO_CLIENTS; i++) {
		assert_int_equal(urt_task_join_blocking(&hc[i]), ECHO_ROUNDS);
		assert_int_equal(cl[i].mismatches, 0);
		assert_int_equal(cl[i].eof, 0);
		assert_int_equal(cl[i].r, 0); /* close */
	}
	assert_int_equal(urt_task_join_blocking(&hs), 0);
	/* Every connection echoed exactly what one client sent (the accept
	 * order is not the client order, so compare as multisets). */
	{
		int seen[ECHO_CLIENTS] = { 0 };
		for (int i = 0; i < ECHO_CLIENTS; i++) {
			int k;
			for (k = 0; k < ECHO_CLIENTS; k++)
				if (!seen[k] &&
				    srv.conn_res[i] == expect_bytes[k])
					break;
			assert_true(k < ECHO_CLIENTS);
			seen[k] = 1;
		}
	}
	close(srv.lfd);
	h_rt_free_clean(rt);
}

/* --- deadlines and errors --------------------------------------------- */

static void test_recv_with_deadline_returns_etime(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_op op;
	char buf[8];
	int fds[2];
	uint64_t t0;

	(void)state;
	tcp_pair(fds);
	urt_op_recv(&op, fds[1], buf, sizeof(buf), 0);
	urt_op_set_deadline(&op, 20 * 1000000ull);
	t0 = urt_now_ns();
	assert_int_equal(urt_block_on(rt, &op.base), -ETIME);
	assert_true(urt_now_ns() - t0 >= 20 * 1000000ull); /* lower bound */
	/* the timed-out recv consumed nothing */
	assert_int_equal(send(fds[0], "hi", 2, MSG_NOSIGNAL), 2);
	assert_int_equal(recv(fds[1], buf, 2, MSG_WAITALL), 2);
	assert_memory_equal(buf, "hi", 2);
	close(fds[0]);
	close(fds[1]);
	h_rt_free_clean(rt);
}

static void test_recv_with_deadline_returns_data_sent_in_time(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_op op;
	char buf[8];
	int fds[2];

	(void)state;
	tcp_pair(fds);
	assert_int_equal(send(fds[0], "data", 4, MSG_NOSIGNAL), 4);
	urt_op_recv(&op, fds[1], buf, 4, MSG_WAITALL);
	urt_op_set_deadline(&op, 60ull * 1000000000ull);
	assert_int_equal(urt_block_on(rt, &op.base), 4);
	assert_memory_equal(buf, "data", 4);
	close(fds[0]);
	close(fds[1]);
	h_rt_free_clean(rt);
}

static void test_connect_to_closed_port_returns_econnrefused(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct sockaddr_in sa = loopback(0);
	struct urt_op op;
	int bound, fd;

	(void)state;
	/* Bound but not listening: the port is ours and refuses (RST). */
	bound = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(bound >= 0);
	assert_int_equal(urt_net_bind(bound, (struct sockaddr *)&sa,
				      sizeof(sa)),
			 0);
	sa = loopback(local_port(bound));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(urt_block_on(rt, urt_op_connect(&op, fd,
							 (struct sockaddr *)&sa,
							 sizeof(sa))),
			 -ECONNREFUSED);
	close(fd);
	close(bound);
	h_rt_free_clean(rt);
}

static void test_socket_ops_on_bad_fds_return_errno(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct sockaddr_in sa = loopback(1);
	struct urt_op op;
	char buf[4] = { 0 };
	int p[2], fd;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	/* a closed fd */
	assert_int_equal(urt_block_on(rt, urt_op_recv(&op, -1, buf, 4, 0)),
			 -EBADF);
	assert_int_equal(urt_block_on(rt, urt_op_send(&op, -1, buf, 4, 0)),
			 -EBADF);
	assert_int_equal(urt_block_on(rt, urt_op_accept(&op, -1, NULL, NULL,
							0)),
			 -EBADF);
	assert_int_equal(urt_block_on(rt, urt_op_connect(&op, -1,
							 (struct sockaddr *)&sa,
							 sizeof(sa))),
			 -EBADF);
	assert_int_equal(urt_block_on(rt, urt_op_shutdown(&op, -1, SHUT_RDWR)),
			 -EBADF);
	/* not a socket */
	assert_int_equal(urt_block_on(rt, urt_op_recv(&op, p[0], buf, 4, 0)),
			 -ENOTSOCK);
	assert_int_equal(urt_block_on(rt, urt_op_shutdown(&op, p[0], SHUT_RD)),
			 -ENOTSOCK);
	/* a socket in the wrong state */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(urt_block_on(rt, urt_op_accept(&op, fd, NULL, NULL,
							0)),
			 -EINVAL);
	assert_int_equal(urt_block_on(rt, urt_op_shutdown(&op, fd, SHUT_RDWR)),
			 -ENOTCONN);
	/* a bad domain */
	assert_int_equal(urt_block_on(rt, urt_op_socket(&op, 12345,
							SOCK_STREAM, 0)),
			 -EAFNOSUPPORT);
	close(fd);
	close(p[0]);
	close(p[1]);
	h_rt_free_clean(rt);
}

/* --- abort of a pending accept ---------------------------------------- */

struct acceptor {
	struct urt_co co;
	struct urt_op op;
	int lfd, fd;
};

H_CO(acceptor_run)
{
	struct acceptor *a = (struct acceptor *)co;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_accept(&a->op, a->lfd, NULL, NULL, SOCK_CLOEXEC), a->fd);
	URT_END(co, a->fd);
}

static void test_abort_task_blocked_in_accept_joins_ecanceled(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct acceptor a = { .fd = -1 };
	struct urt_task_handle h;
	struct urt_stats st;
	struct sockaddr_in sa;
	uint64_t end;
	uint16_t port;
	int c, s;

	(void)state;
	a.lfd = urt_net_listen_tcp4(0, 4, &port);
	assert_true(a.lfd >= 0);
	urt_co_init(&a.co, acceptor_run);
	assert_int_equal(urt_task_spawn(rt, &a.co.base, &h), 0);
	/* Published at park: the accept is in the kernel. */
	end = urt_now_ns() + 10ull * 1000000000ull;
	do {
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		urt_rt_stats(rt, &st);
	} while (st.sqes_inflight < 1 && urt_now_ns() < end);
	assert_true(st.sqes_inflight >= 1);
	assert_int_equal(urt_task_abort(&h), 0);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	/* The listener still works and no connection was swallowed. */
	sa = loopback(port);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	s = accept4(a.lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	close(s);
	close(c);
	close(a.lfd);
	h_rt_free_clean(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_listen_tcp4_binds_loopback_and_reports_port),
		cmocka_unit_test(
			test_bind_and_listen_errors_return_negative_errno),
		cmocka_unit_test(
			test_socket_ops_accept_connect_send_recv_shutdown),
		cmocka_unit_test(test_echo_server_and_clients_in_one_runtime),
		cmocka_unit_test(test_recv_with_deadline_returns_etime),
		cmocka_unit_test(
			test_recv_with_deadline_returns_data_sent_in_time),
		cmocka_unit_test(
			test_connect_to_closed_port_returns_econnrefused),
		cmocka_unit_test(test_socket_ops_on_bad_fds_return_errno),
		cmocka_unit_test(
			test_abort_task_blocked_in_accept_joins_ecanceled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
