/* SPDX-License-Identifier: MIT */
/*
 * chan_thread_to_task: a plain pthread sends N u32 (blocking sends on a
 * bounded channel) to a task that receives them with the async recv.
 *   chan_thread_to_task [N=1000000] [capacity=1024] [workers=2]
 * One JSON line: ns_per_op = wall time per item.
 */
#include <pthread.h>

#include "bench.h"

struct rx {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	uint32_t v;
	uint64_t n, sum;
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

static uint64_t n_items;

static void *tx_main(void *arg)
{
	struct urt_chan *ch = arg;

	for (uint32_t i = 0; i < n_items; i++)
		if (urt_chan_send_blocking(ch, &i, URT_FOREVER))
			abort();
	urt_chan_sender_drop(ch);
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t cap = bench_arg(argc, argv, 2, 1024);
	unsigned workers = (unsigned)bench_arg(argc, argv, 3, 2);
	struct urt_rt *rt = bench_rt(workers, 0);
	struct rx t = { 0 };
	uint64_t t0, el;
	pthread_t th;
	char extra[64];

	n_items = bench_arg(argc, argv, 1, 1000000);
	if (urt_chan_new(&t.ch, sizeof(uint32_t), cap, NULL))
		return 1;
	urt_co_init(&t.co, rx_run);
	t0 = urt_now_ns();
	pthread_create(&th, NULL, tx_main, t.ch);
	if (urt_block_on(rt, &t.co.base))
		return 1;
	el = urt_now_ns() - t0;
	pthread_join(th, NULL);
	if (t.n != n_items || t.sum != n_items * (n_items - 1) / 2) {
		fprintf(stderr, "chan_thread_to_task: lost items\n");
		return 1;
	}
	urt_chan_receiver_drop(t.ch);
	snprintf(extra, sizeof(extra), "\"capacity\":%llu",
		 (unsigned long long)cap);
	bench_json("chan_thread_to_task", workers, n_items, el,
		   bench_rss_kib(), extra);
	return urt_rt_free(rt, NULL) ? 1 : 0;
}
