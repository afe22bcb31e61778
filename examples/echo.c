/* SPDX-License-Identifier: MIT */
/*
 * TCP echo server on 127.0.0.1, one coroutine task per connection.
 *   echo               self-test: serve, run NCLIENTS client tasks in the
 *                      same runtime, verify every echo, print a summary
 *   echo --serve PORT  serve until SIGINT/SIGTERM (PORT 0: any free port)
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <urt.h>

enum { NCLIENTS = 64, NMSGS = 100, SELFTEST_LIMIT_S = 30 };

/* One connection. Lives in a task frame: freed by the runtime. */
struct conn {
	struct urt_co co;
	struct urt_op op;
	int fd, n, sent;
	char buf[4096];
};

/* Runs once, whether the task ended or was aborted: the fd dies here. */
static void conn_drop(struct urt_co *co)
{
	close(((struct conn *)co)->fd);
}

static int conn_run(struct urt_co *co, struct urt_cx *cx)
{
	struct conn *c = (struct conn *)co;
	int r = 0;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx,
			  urt_op_recv(&c->op, c->fd, c->buf, sizeof(c->buf), 0),
			  c->n);
		if (c->n <= 0)
			break; /* peer closed (0) or error */
		for (c->sent = 0; c->sent < c->n; c->sent += r) {
			URT_AWAIT(co, cx,
				  urt_op_send(&c->op, c->fd, c->buf + c->sent,
					      c->n - c->sent, MSG_NOSIGNAL),
				  r);
			if (r <= 0)
				URT_RETURN(co, r);
		}
	}
	URT_END(co, c->n);
}

/* Accept loop: each connection becomes its own one-allocation task. */
struct server {
	struct urt_co co;
	struct urt_op op;
	struct urt_rt *rt;
	int lfd, fd;
	unsigned long conns;
};

static int server_run(struct urt_co *co, struct urt_cx *cx)
{
	struct server *s = (struct server *)co;
	struct conn *c;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx,
			  urt_op_accept(&s->op, s->lfd, NULL, NULL,
					SOCK_CLOEXEC),
			  s->fd);
		if (s->fd < 0)
			URT_RETURN(co, s->fd);
		c = urt_frame_new(sizeof(*c));
		if (!c) {
			close(s->fd);
			continue;
		}
		urt_co_init(&c->co, conn_run);
		c->co.drop = conn_drop;
		c->fd = s->fd;
		if (urt_task_spawn_frame(s->rt, c, NULL)) {
			close(s->fd);
			urt_frame_free(c);
			continue;
		}
		s->conns++;
	}
	URT_END(co, 0);
}

/* Self-test client: connect, then NMSGS round trips, each one verified. */
struct client {
	struct urt_co co;
	struct urt_op op;
	int fd, id, i, len, got;
	struct sockaddr_in sa;
	unsigned long bytes;
	char out[64], in[64];
};

static int client_run(struct urt_co *co, struct urt_cx *cx)
{
	struct client *c = (struct client *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx,
		  urt_op_socket(&c->op, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
		  c->fd);
	if (c->fd < 0)
		URT_RETURN(co, c->fd);
	URT_AWAIT(co, cx,
		  urt_op_connect(&c->op, c->fd, (struct sockaddr *)&c->sa,
				 sizeof(c->sa)),
		  r);
	if (r < 0)
		URT_RETURN(co, r);
	for (c->i = 0; c->i < NMSGS; c->i++) {
		c->len = snprintf(c->out, sizeof(c->out), "client %d says %d\n",
				  c->id, c->i);
		URT_AWAIT(co, cx,
			  urt_op_send(&c->op, c->fd, c->out, c->len,
				      MSG_NOSIGNAL),
			  r);
		if (r != c->len) /* a short send of 30 bytes would be a bug */
			URT_RETURN(co, r < 0 ? r : -EIO);
		for (c->got = 0; c->got < c->len; c->got += r) {
			URT_AWAIT(co, cx,
				  urt_op_recv(&c->op, c->fd, c->in + c->got,
					      c->len - c->got, 0),
				  r);
			if (r <= 0)
				URT_RETURN(co, r < 0 ? r : -ECONNRESET);
		}
		if (memcmp(c->in, c->out, c->len))
			URT_RETURN(co, -EBADMSG);
		c->bytes += c->len;
	}
	URT_END(co, 0);
}

static void client_drop(struct urt_co *co)
{
	struct client *c = (struct client *)co;

	if (c->fd >= 0)
		close(c->fd);
}

/* Runs the clients against srv, checks the runtime shut down clean. */
static int selftest(struct urt_rt *rt, struct server *srv,
		    struct urt_task_handle *srv_h, uint16_t port)
{
	static struct client cl[NCLIENTS];
	struct urt_task_handle h[NCLIENTS];
	unsigned long msgs = 0, bytes = 0;
	uint64_t t0 = urt_now_ns();
	struct urt_stats st;
	int i, n, r, failed = 0;

	/* A hang must fail the run (SIGALRM kills us), not block CI. */
	alarm(SELFTEST_LIMIT_S);
	for (n = 0; n < NCLIENTS; n++) {
		urt_co_init(&cl[n].co, client_run);
		cl[n].co.drop = client_drop;
		cl[n].fd = -1;
		cl[n].id = n;
		cl[n].sa.sin_family = AF_INET;
		cl[n].sa.sin_port = htons(port);
		cl[n].sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = urt_task_spawn(rt, &cl[n].co.base, &h[n]);
		if (r) {
			fprintf(stderr, "echo: spawn: %s\n", urt_strerror(r));
			failed++;
			break;
		}
	}
	for (i = 0; i < n; i++) {
		r = urt_task_join_blocking(&h[i]);
		if (r) {
			fprintf(stderr, "echo: client %d: %s\n", i,
				urt_strerror(r));
			failed++;
		}
		msgs += (unsigned long)cl[i].i;
		bytes += cl[i].bytes;
	}
	urt_task_abort(srv_h);
	r = urt_task_join_blocking(srv_h);
	if (r != -ECANCELED) {
		fprintf(stderr, "echo: server: %s\n", urt_strerror(r));
		failed++;
	}
	/* The server stops only at an accept: every connection is counted. */
	if (srv->conns != (unsigned long)n) {
		fprintf(stderr, "echo: %lu connections accepted, %d clients\n",
			srv->conns, n);
		failed++;
	}
	/* Connections still closing are aborted; nothing may be left. */
	r = urt_rt_free(rt, &st);
	if (r || st.tasks_live || st.sqes_inflight) {
		fprintf(stderr,
			"echo: unclean shutdown: %s, %llu tasks, "
			"%llu sqes left\n",
			urt_strerror(r), (unsigned long long)st.tasks_live,
			(unsigned long long)st.sqes_inflight);
		failed++;
	}
	printf("echo self-test: %lu connections, %lu messages, %lu bytes, "
	       "%.3f s: %s\n",
	       srv->conns, msgs, bytes, (double)(urt_now_ns() - t0) / 1e9,
	       failed ? "FAILED" : "ok");
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct server srv = {.lfd = -1};
	struct urt_task_handle h;
	struct urt_rt *rt;
	sigset_t sigs;
	uint16_t port = 0;
	int serve = argc == 3 && !strcmp(argv[1], "--serve");
	unsigned long arg = 0;
	char *end = NULL;
	int r, sig;

	if (serve)
		arg = strtoul(argv[2], &end, 10);
	if ((argc != 1 && !serve) || (serve && (*end || arg > 65535))) {
		fprintf(stderr, "usage: %s [--serve PORT]\n", argv[0]);
		return 2;
	}
	if (serve) {
		port = (uint16_t)arg;
		/*
		 * Block before the workers exist so they inherit the mask: the
		 * signals then reach only sigwait() below, never a worker.
		 */
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGINT);
		sigaddset(&sigs, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	}
	r = urt_rt_new(NULL, &rt);
	if (r) {
		fprintf(stderr, "echo: %s: %s\n", urt_strerror(r),
			urt_rt_last_error());
		return 1;
	}
	srv.rt = rt;
	srv.lfd = urt_net_listen_tcp4(port, 512, &port);
	if (srv.lfd < 0) {
		fprintf(stderr, "echo: listen: %s\n", urt_strerror(srv.lfd));
		urt_rt_free(rt, NULL);
		return 1;
	}
	urt_co_init(&srv.co, server_run);
	r = urt_task_spawn(rt, &srv.co.base, &h);
	if (r) {
		fprintf(stderr, "echo: spawn: %s\n", urt_strerror(r));
		urt_rt_free(rt, NULL);
		return 1;
	}
	if (!serve) {
		r = selftest(rt, &srv, &h, port);
		close(srv.lfd);
		return r;
	}
	printf("echo: listening on 127.0.0.1:%u\n", port);
	fflush(stdout);
	sigwait(&sigs, &sig);
	urt_task_abort(&h);
	r = urt_task_join_blocking(&h);
	if (r != -ECANCELED) /* the accept loop had failed on its own */
		fprintf(stderr, "echo: server: %s\n", urt_strerror(r));
	if (urt_rt_free(rt, NULL))
		r = 0;
	close(srv.lfd);
	printf("echo: %s, %lu connections served\n", strsignal(sig), srv.conns);
	return r == -ECANCELED ? 0 : 1;
}
