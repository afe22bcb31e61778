/* SPDX-License-Identifier: MIT */
/*
 * Threads for parallel work, tasks for concurrent work, at once: a task
 * counts the primes below 3,000,000 by splitting the range over 8
 * spawn_blocking jobs, while two tasks keep an echo exchange going over a
 * socketpair. Prints how many echoes completed while the CPU work ran;
 * exit 0 when the prime count and every echo are right.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urt.h>

enum { LIMIT = 3000000, JOBS = 8, ECHOES = 2000, PRIMES = 216816 };

struct range {
	uint32_t lo, hi;
};

/* Plain CPU-bound code on a pool thread: trial division. */
static int count_primes(void *arg)
{
	const struct range *r = arg;
	int n = 0;

	for (uint32_t v = r->lo < 2 ? 2 : r->lo; v < r->hi; v++) {
		int prime = 1;
		for (uint32_t d = 2; d * d <= v; d++)
			if (v % d == 0) {
				prime = 0;
				break;
			}
		n += prime;
	}
	return n;
}

struct cruncher {
	struct urt_co co;
	struct range ranges[JOBS];
	struct urt_blocking jobs[JOBS];
	struct urt_future *futs[JOBS];
	int results[JOBS];
	struct urt_join join;
	_Atomic int done;
	int r;
};

static int cruncher_run(struct urt_co *co, struct urt_cx *cx)
{
	struct cruncher *c = (struct cruncher *)co;
	int total = 0;

	URT_BEGIN(co);
	for (int i = 0; i < JOBS; i++) {
		c->ranges[i] = (struct range){ (uint32_t)i * (LIMIT / JOBS),
					       (uint32_t)(i + 1) *
						       (LIMIT / JOBS) };
		c->futs[i] = urt_blocking_init(&c->jobs[i], count_primes,
					       &c->ranges[i], NULL);
	}
	URT_AWAIT(co, cx, urt_join_init(&c->join, c->futs, c->results, JOBS),
		  c->r);
	for (int i = 0; i < JOBS; i++) {
		if (c->results[i] < 0)
			URT_RETURN(co, c->results[i]);
		total += c->results[i];
	}
	c->done = 1;
	URT_END(co, total);
}

/* Echo server: reads a message and writes it back, until EOF. */
struct echo_srv {
	struct urt_co co;
	struct urt_op op;
	int fd, n, r;
	char buf[64];
};

static int echo_srv_run(struct urt_co *co, struct urt_cx *cx)
{
	struct echo_srv *s = (struct echo_srv *)co;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx, urt_op_recv(&s->op, s->fd, s->buf, 64, 0),
			  s->n);
		if (s->n <= 0)
			break;
		URT_AWAIT(co, cx, urt_op_send(&s->op, s->fd, s->buf,
					      (unsigned)s->n, 0),
			  s->r);
		if (s->r != s->n)
			URT_RETURN(co, -EIO);
	}
	URT_END(co, s->n);
}

/* Echo client: ECHOES round trips of small numbered messages. */
struct echo_cli {
	struct urt_co co;
	struct urt_op op;
	int fd, i, n, len, while_crunching;
	struct cruncher *c;
	char out[64], in[64];
};

static int echo_cli_run(struct urt_co *co, struct urt_cx *cx)
{
	struct echo_cli *e = (struct echo_cli *)co;

	URT_BEGIN(co);
	for (e->i = 0; e->i < ECHOES; e->i++) {
		e->len = snprintf(e->out, sizeof(e->out), "ping %d", e->i);
		URT_AWAIT(co, cx, urt_op_send(&e->op, e->fd, e->out,
					      (unsigned)e->len, 0),
			  e->n);
		if (e->n != e->len)
			URT_RETURN(co, -EIO);
		URT_AWAIT(co, cx, urt_op_recv(&e->op, e->fd, e->in, 64, 0),
			  e->n);
		if (e->n != e->len || memcmp(e->in, e->out, (size_t)e->len))
			URT_RETURN(co, -EBADMSG);
		if (!e->c->done)
			e->while_crunching++;
	}
	shutdown(e->fd, SHUT_WR); /* the server sees EOF */
	URT_END(co, ECHOES);
}

int main(void)
{
	struct urt_task_handle hc, hs, he;
	static struct cruncher c;
	struct echo_srv s = { 0 };
	struct echo_cli e = { 0 };
	struct urt_rt *rt;
	int sv[2], primes, srv, cli, r;

	if ((r = urt_rt_new(NULL, &rt))) {
		fprintf(stderr, "urt_rt_new: %s (%s)\n", urt_strerror(r),
			urt_rt_last_error());
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return 1;
	s.fd = sv[0];
	e.fd = sv[1];
	e.c = &c;
	urt_co_init(&c.co, cruncher_run);
	urt_co_init(&s.co, echo_srv_run);
	urt_co_init(&e.co, echo_cli_run);
	urt_task_spawn(rt, &c.co.base, &hc);
	urt_task_spawn(rt, &s.co.base, &hs);
	urt_task_spawn(rt, &e.co.base, &he);
	primes = urt_task_join_blocking(&hc);
	cli = urt_task_join_blocking(&he);
	srv = urt_task_join_blocking(&hs);
	printf("primes below %d: %d (expected %d), on %d pool jobs\n", LIMIT,
	       primes, PRIMES, JOBS);
	printf("echoes: %d/%d, %d of them while the primes were counted\n",
	       cli, ECHOES, e.while_crunching);
	close(sv[0]);
	close(sv[1]);
	if (urt_rt_free(rt, NULL))
		return 1;
	return primes != PRIMES || cli != ECHOES || srv != 0;
}
