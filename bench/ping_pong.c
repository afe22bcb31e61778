/* SPDX-License-Identifier: MIT */
/*
 * ping_pong: a token passed back and forth N times (ops = N round trips).
 * urt has no channel or public waker yet, so two variants, both also in the
 * tokio peer (bench/peers/tokio/src/bin/ping_pong.rs):
 *  - "ping_pong": the ping task N times spawns a fresh pong task and awaits
 *    its join handle. Out: scheduling a new task (frame alloc + queue push);
 *    back: the pong's completion wakes ping through the join waker (LIFO
 *    slot on the pong's worker). One spawn + two polls + one wake per trip.
 *  - "ping_pong_yield": two long-lived tasks hand the token through an
 *    atomic turn counter; a task whose turn it is not yields
 *    (urt_cx_yield) and looks again. No waker: on 1 worker this measures
 *    yield switches, on 2 workers cross-core polling by yield loops.
 * Usage: ping_pong [N=100000] [workers=0] [variant=all|join|yield]
 */
#include <stdatomic.h>

#include "bench.h"

struct pong {
	struct urt_co co;
	_Atomic uint64_t *pongs;
};

static int pong_run(struct urt_co *co, struct urt_cx *cx)
{
	struct pong *p = (struct pong *)co;

	(void)cx;
	atomic_fetch_add_explicit(p->pongs, 1, memory_order_relaxed);
	return 0;
}

struct ping {
	struct urt_co co;
	uint64_t n, i;
	_Atomic uint64_t pongs;
	struct urt_task_handle h;
};

static int ping_run(struct urt_co *co, struct urt_cx *cx)
{
	struct ping *p = (struct ping *)co;
	int res;

	URT_BEGIN(co);
	for (p->i = 0; p->i < p->n; p->i++) {
		struct pong *q = urt_frame_new(sizeof(*q));
		if (!q)
			URT_RETURN(co, -ENOMEM);
		urt_co_init(&q->co, pong_run);
		q->pongs = &p->pongs;
		res = urt_task_spawn_frame(urt_cx_rt(cx), q, &p->h);
		if (res)
			URT_RETURN(co, res);
		URT_AWAIT(co, cx, &p->h.base, res);
		if (res)
			URT_RETURN(co, res);
	}
	URT_END(co, 0);
}

static int join_variant(struct urt_rt *rt, uint64_t n)
{
	struct ping p = { .n = n };
	char extra[1024];
	uint64_t t0, t1;
	int err;

	urt_co_init(&p.co, ping_run);
	t0 = urt_now_ns();
	err = urt_block_on(rt, &p.co.base);
	t1 = urt_now_ns();
	if (err || atomic_load(&p.pongs) != n) {
		fprintf(stderr, "ping_pong: %s, %llu of %llu pongs\n",
			urt_strerror(err),
			(unsigned long long)atomic_load(&p.pongs),
			(unsigned long long)n);
		return 1;
	}
	extra[0] = 0;
	bench_worker_stats(rt, extra, sizeof(extra));
	bench_json("ping_pong", urt_rt_workers(rt), n, t1 - t0,
		   bench_rss_kib(), extra);
	return 0;
}

/* --- yield variant --------------------------------------------------- */

struct turns {
	_Atomic uint64_t turn; /* even: player 0 moves, odd: player 1 */
	_Atomic uint64_t yields;
	uint64_t n;
};

struct player {
	struct urt_co co;
	struct turns *t;
	uint64_t me, mine;
};

static int player_run(struct urt_co *co, struct urt_cx *cx)
{
	struct player *p = (struct player *)co;

	URT_BEGIN(co);
	while (p->mine < p->t->n) {
		uint64_t t = atomic_load_explicit(&p->t->turn,
						  memory_order_acquire);
		if (t % 2 == p->me) {
			/* release: the token (and anything before it) */
			atomic_store_explicit(&p->t->turn, t + 1,
					      memory_order_release);
			p->mine++;
			continue;
		}
		atomic_fetch_add_explicit(&p->t->yields, 1,
					  memory_order_relaxed);
		URT_YIELD(co, cx);
	}
	URT_END(co, 0);
}

struct duo {
	struct urt_co co;
	struct player pl[2];
	struct urt_task_handle h[2];
	int i;
};

static int duo_run(struct urt_co *co, struct urt_cx *cx)
{
	struct duo *d = (struct duo *)co;
	int res;

	URT_BEGIN(co);
	for (d->i = 0; d->i < 2; d->i++) {
		res = urt_task_spawn(urt_cx_rt(cx), &d->pl[d->i].co.base,
				     &d->h[d->i]);
		if (res)
			URT_RETURN(co, res);
	}
	for (d->i = 0; d->i < 2; d->i++) {
		URT_AWAIT(co, cx, &d->h[d->i].base, res);
		if (res)
			URT_RETURN(co, res);
	}
	URT_END(co, 0);
}

/* Frees rt itself: the players live here until urt_rt_free() returned. */
static int yield_variant(struct urt_rt *rt, uint64_t n)
{
	struct turns t = { .n = n };
	struct duo d = { 0 };
	char extra[1024];
	uint64_t t0, t1;
	unsigned workers = urt_rt_workers(rt);
	int err, bad;

	extra[0] = 0;

	for (int i = 0; i < 2; i++) {
		urt_co_init(&d.pl[i].co, player_run);
		d.pl[i].t = &t;
		d.pl[i].me = (uint64_t)i;
	}
	urt_co_init(&d.co, duo_run);
	t0 = urt_now_ns();
	err = urt_block_on(rt, &d.co.base);
	t1 = urt_now_ns();
	bad = err || atomic_load(&t.turn) != 2 * n || d.pl[0].mine != n ||
	      d.pl[1].mine != n;
	bench_worker_stats(rt, extra, sizeof(extra));
	if (urt_rt_free(rt, NULL))
		bad = 1;
	if (bad) {
		fprintf(stderr, "ping_pong_yield: %s, turn %llu of %llu\n",
			urt_strerror(err),
			(unsigned long long)atomic_load(&t.turn),
			(unsigned long long)(2 * n));
		return 1;
	}
	snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		 ",\"yields\":%llu", (unsigned long long)atomic_load(&t.yields));
	bench_json("ping_pong_yield", workers, n, t1 - t0,
		   bench_rss_kib(), extra);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n = bench_arg(argc, argv, 1, 100000);
	unsigned workers = (unsigned)bench_arg(argc, argv, 2, 0);
	const char *v = bench_arg_str(argc, argv, 3, "all");
	int all = !strcmp(v, "all"), rc = 0;
	struct urt_rt *rt;

	/* A fresh runtime per variant, as in the tokio peer. */
	if (all || !strcmp(v, "join")) {
		rt = bench_rt(workers, 0);
		rc |= join_variant(rt, n);
		rc |= urt_rt_free(rt, NULL) ? 1 : 0;
	}
	if (!rc && (all || !strcmp(v, "yield"))) {
		rt = bench_rt(workers, 0);
		rc |= yield_variant(rt, n);
	}
	return rc;
}
