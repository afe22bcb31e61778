/* SPDX-License-Identifier: MIT */
/*
 * chan_ping_pong: two tasks bounce a u64 over two channels (capacity 1),
 * N round trips.
 *   chan_ping_pong [N=200000] [workers=2]
 * One JSON line: ns_per_op = wall time per round trip.
 */
#include "bench.h"

struct player {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *in, *out;
	uint64_t v, n, i;
	int serve, r;
};

static int player_run(struct urt_co *co, struct urt_cx *cx)
{
	struct player *p = (struct player *)co;

	URT_BEGIN(co);
	if (p->serve) {
		p->v = 0;
		URT_AWAIT(co, cx, urt_chan_send(&p->op, p->out, &p->v), p->r);
	}
	for (p->i = 0; p->i < p->n; p->i++) {
		URT_AWAIT(co, cx, urt_chan_recv(&p->op, p->in, &p->v), p->r);
		if (p->r)
			URT_RETURN(co, p->r);
		p->v++;
		if (p->serve && p->i + 1 == p->n)
			break;
		URT_AWAIT(co, cx, urt_chan_send(&p->op, p->out, &p->v), p->r);
		if (p->r)
			URT_RETURN(co, p->r);
	}
	URT_END(co, 0);
}

int main(int argc, char **argv)
{
	uint64_t n = bench_arg(argc, argv, 1, 200000);
	unsigned workers = (unsigned)bench_arg(argc, argv, 2, 2);
	struct urt_rt *rt = bench_rt(workers, 0);
	struct player a = { 0 }, b = { 0 };
	struct urt_task_handle ha, hb;
	struct urt_chan *ab, *ba;
	uint64_t t0, el;

	if (urt_chan_new(&ab, sizeof(uint64_t), 1, NULL) ||
	    urt_chan_new(&ba, sizeof(uint64_t), 1, NULL))
		return 1;
	a = (struct player){ .in = ba, .out = ab, .n = n, .serve = 1 };
	b = (struct player){ .in = ab, .out = ba, .n = n };
	urt_co_init(&a.co, player_run);
	urt_co_init(&b.co, player_run);
	t0 = urt_now_ns();
	urt_task_spawn(rt, &b.co.base, &hb);
	urt_task_spawn(rt, &a.co.base, &ha);
	if (urt_task_join_blocking(&ha) || urt_task_join_blocking(&hb))
		return 1;
	el = urt_now_ns() - t0;
	if (a.v != 2 * n) {
		fprintf(stderr, "chan_ping_pong: %llu != %llu\n",
			(unsigned long long)a.v, (unsigned long long)(2 * n));
		return 1;
	}
	bench_json("chan_ping_pong", workers, n, el, bench_rss_kib(), NULL);
	urt_chan_sender_drop(ab);
	urt_chan_receiver_drop(ab);
	urt_chan_sender_drop(ba);
	urt_chan_receiver_drop(ba);
	return urt_rt_free(rt, NULL) ? 1 : 0;
}
