/* SPDX-License-Identifier: MIT */
/*
 * A plain pthread sends a counter every millisecond over a bounded channel;
 * a task consumes it as a stream (mapped to messages), merged with a
 * stream of text messages from another task, throttled (one item per 2 ms)
 * and with a per-item timeout (20 ms). The counter thread pauses once, so
 * a timeout shows up. Ends by itself when both sources ended; exit 0 when
 * every item arrived in order.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <urt.h>

#define MS 1000000ull
enum { COUNTS = 60, PAUSE_AT = 40, MSGS = 5 };

struct msg {
	int kind; /* 0 counter, 1 text */
	uint32_t n;
	char text[24];
};

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* The plain thread: blocking sends (it waits when the channel is full). */
static void *counter_thread(void *arg)
{
	struct urt_chan *ch = arg;

	for (uint32_t i = 0; i < COUNTS; i++) {
		if (i == PAUSE_AT)
			nap_ms(100); /* silence: the consumer's timeout fires */
		if (urt_chan_send_blocking(ch, &i, URT_FOREVER))
			break;
		nap_ms(1);
	}
	urt_chan_sender_drop(ch); /* end of the counter stream */
	return NULL;
}

/* A task producing text messages, 10 ms apart. */
struct talker {
	struct urt_co co;
	struct urt_op sleep;
	struct urt_chan_op op;
	struct urt_chan *ch;
	struct msg m;
	int i, r;
};

static int talker_run(struct urt_co *co, struct urt_cx *cx)
{
	struct talker *t = (struct talker *)co;

	URT_BEGIN(co);
	for (t->i = 0; t->i < MSGS; t->i++) {
		URT_AWAIT(co, cx, urt_op_sleep(&t->sleep, 10 * MS), t->r);
		t->m = (struct msg){ .kind = 1, .n = (uint32_t)t->i };
		snprintf(t->m.text, sizeof(t->m.text), "hello #%d", t->i);
		URT_AWAIT(co, cx, urt_chan_send(&t->op, t->ch, &t->m), t->r);
	}
	urt_chan_sender_drop(t->ch);
	URT_END(co, 0);
}

static int count_to_msg(void *ctx, const void *in, void *out)
{
	(void)ctx;
	*(struct msg *)out = (struct msg){ .kind = 0,
					   .n = *(const uint32_t *)in };
	return 0;
}

/* The consumer: one pipeline of streams, awaited item by item. */
struct consumer {
	struct urt_co co;
	struct urt_chan_stream counts_s, msgs_s;
	struct urt_stream_map as_msg;
	struct urt_stream_merge merged;
	struct urt_stream_throttle throttled;
	struct urt_stream_timeout timed;
	struct urt_stream_next next;
	uint32_t scratch;
	struct msg m;
	uint32_t counts, texts, timeouts;
	int bad, r;
};

static int consumer_run(struct urt_co *co, struct urt_cx *cx)
{
	struct consumer *c = (struct consumer *)co;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx,
			  urt_stream_next(&c->next, &c->timed.base, &c->m),
			  c->r);
		if (c->r == URT_STREAM_END)
			break;
		if (c->r == -ETIME) {
			printf("  (nothing for 20 ms)\n");
			c->timeouts++;
		} else if (c->r < 0) {
			URT_RETURN(co, c->r);
		} else if (c->m.kind == 0) {
			if (c->m.n != c->counts++)
				c->bad++;
			if (c->m.n % 10 == 0 || c->m.n == COUNTS - 1)
				printf("count %u\n", c->m.n);
		} else {
			if (c->m.n != c->texts++)
				c->bad++;
			printf("text  %s\n", c->m.text);
		}
	}
	URT_END(co, 0);
}

int main(void)
{
	struct urt_chan *counts, *msgs;
	struct talker t = { 0 };
	struct consumer c = { 0 };
	struct urt_rt *rt;
	pthread_t th;
	int r;

	if ((r = urt_rt_new(NULL, &rt))) {
		fprintf(stderr, "urt_rt_new: %s (%s)\n", urt_strerror(r),
			urt_rt_last_error());
		return 1;
	}
	urt_chan_new(&counts, sizeof(uint32_t), 16, NULL);
	urt_chan_new(&msgs, sizeof(struct msg), 4, NULL);

	urt_chan_stream_init(&c.counts_s, counts);
	urt_chan_stream_init(&c.msgs_s, msgs);
	urt_stream_map_init(&c.as_msg, &c.counts_s.base, sizeof(struct msg),
			    count_to_msg, NULL, &c.scratch);
	urt_stream_merge_init(&c.merged, &c.as_msg.base, &c.msgs_s.base);
	urt_stream_throttle_init(&c.throttled, &c.merged.base, 2 * MS);
	urt_stream_timeout_init(&c.timed, &c.throttled.base, 20 * MS);

	pthread_create(&th, NULL, counter_thread, counts);
	t.ch = msgs;
	urt_co_init(&t.co, talker_run);
	urt_task_spawn(rt, &t.co.base, NULL);
	urt_co_init(&c.co, consumer_run);
	r = urt_block_on(rt, &c.co.base);
	pthread_join(th, NULL);
	urt_chan_receiver_drop(counts);
	urt_chan_receiver_drop(msgs);
	printf("counts %u/%u, texts %u/%u, timeouts %u, out of order %d\n",
	       c.counts, COUNTS, c.texts, MSGS, c.timeouts, c.bad);
	if (urt_rt_free(rt, NULL))
		r = -1;
	return r || c.bad || c.counts != COUNTS || c.texts != MSGS ||
	       !c.timeouts;
}
