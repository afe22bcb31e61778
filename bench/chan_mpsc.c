/* SPDX-License-Identifier: MIT */
/*
 * chan_mpsc: S sender tasks (default 4) send N u64 in total over one
 * bounded channel to one receiver task.
 *   chan_mpsc [N=1000000] [senders=4] [capacity=1024] [workers=2]
 * One JSON line: ns_per_op = wall time per item.
 */
#include "bench.h"

struct tx {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	uint64_t i, n;
	int r;
};

static int tx_run(struct urt_co *co, struct urt_cx *cx)
{
	struct tx *t = (struct tx *)co;

	URT_BEGIN(co);
	for (t->i = 0; t->i < t->n; t->i++) {
		URT_AWAIT(co, cx, urt_chan_send(&t->op, t->ch, &t->i), t->r);
		if (t->r)
			URT_RETURN(co, t->r);
	}
	urt_chan_sender_drop(t->ch);
	URT_END(co, 0);
}

struct rx {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	uint64_t v, n, sum;
	int r;
};

static int rx_run(struct urt_co *co, struct urt_cx *cx)
{
	struct rx *t = (struct rx *)co;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx, urt_chan_recv(&t->op, t->ch, &t->v), t->r);
		if (t->r)
			break;
		t->n++;
		t->sum += t->v;
	}
	URT_END(co, 0);
}

int main(int argc, char **argv)
{
	uint64_t n = bench_arg(argc, argv, 1, 1000000);
	unsigned s = (unsigned)bench_arg(argc, argv, 2, 4);
	uint64_t cap = bench_arg(argc, argv, 3, 1024);
	unsigned workers = (unsigned)bench_arg(argc, argv, 4, 2);
	struct urt_rt *rt = bench_rt(workers, 0);
	struct tx *tx = calloc(s, sizeof(*tx));
	struct rx rx = { 0 };
	uint64_t per = n / s, t0, el, want = 0;
	char extra[64];

	if (!tx || !s || urt_chan_new(&rx.ch, sizeof(uint64_t), cap, NULL))
		return 1;
	urt_co_init(&rx.co, rx_run);
	for (unsigned i = 0; i < s; i++) {
		tx[i] = (struct tx){ .n = per };
		tx[i].ch = i ? urt_chan_sender_clone(rx.ch) : rx.ch;
		urt_co_init(&tx[i].co, tx_run);
		want += per * (per - 1) / 2;
	}
	t0 = urt_now_ns();
	for (unsigned i = 0; i < s; i++)
		urt_task_spawn(rt, &tx[i].co.base, NULL);
	if (urt_block_on(rt, &rx.co.base))
		return 1;
	el = urt_now_ns() - t0;
	if (rx.n != per * s || rx.sum != want) {
		fprintf(stderr, "chan_mpsc: lost items\n");
		return 1;
	}
	urt_chan_receiver_drop(rx.ch);
	snprintf(extra, sizeof(extra), "\"senders\":%u,\"capacity\":%llu", s,
		 (unsigned long long)cap);
	bench_json("chan_mpsc", workers, per * s, el, bench_rss_kib(), extra);
	if (urt_rt_free(rt, NULL))
		return 1;
	free(tx);
	return 0;
}
