/* SPDX-License-Identifier: MIT */
/*
 * Streams: channel and interval sources, map/filter/take, merge (fairness,
 * end), throttle (lower-bound timing only), timeout (error item, no timer
 * left behind), stop, and abort of a task awaiting a stream (cancellation
 * is forwarded; the channels stay usable). Clean shutdown each.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"

#define MS 1000000ull

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Collects up to 64 results of next() on s until the end (or max). */
struct collect {
	struct urt_co co;
	struct urt_stream_next nx;
	struct urt_stream *s;
	int64_t item;
	int64_t items[64];
	int res[64];
	uint64_t at_ns[64];
	int n, max, r;
	atomic_int waiting;
};

H_CO(collect_run)
{
	struct collect *c = (struct collect *)co;

	URT_BEGIN(co);
	while (c->n < c->max) {
		atomic_store(&c->waiting, 1);
		URT_AWAIT(co, cx, urt_stream_next(&c->nx, c->s, &c->item),
			  c->r);
		if (c->r == URT_STREAM_END)
			break;
		c->res[c->n] = c->r;
		c->items[c->n] = c->r == URT_STREAM_ITEM ? c->item : 0;
		c->at_ns[c->n++] = urt_now_ns();
	}
	/* Leave nothing in flight (timers of adapters). */
	URT_AWAIT(co, cx, urt_stream_stop(&c->nx, c->s, &c->item), c->r);
	URT_END(co, c->n);
}

static struct urt_chan *chan_with(int64_t from, int64_t to, bool close)
{
	struct urt_chan *ch;

	assert_int_equal(urt_chan_new(&ch, sizeof(int64_t), 0, NULL), 0);
	for (int64_t v = from; v < to; v++)
		assert_int_equal(urt_chan_try_send(ch, &v), 0);
	if (close)
		urt_chan_close(ch);
	return ch;
}

static void chan_done(struct urt_chan *ch)
{
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);
}

static bool is_even(void *ctx, const void *item)
{
	(void)ctx;
	return *(const int64_t *)item % 2 == 0;
}

static int times_ten(void *ctx, const void *in, void *out)
{
	(void)ctx;
	if (*(const int64_t *)in == 14)
		return -EDOM; /* an error item, the stream goes on */
	*(int64_t *)out = *(const int64_t *)in * 10;
	return 0;
}

static void test_stream_filter_map_take_over_channel(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_chan *ch = chan_with(1, 101, false);
	struct urt_chan_stream cs;
	struct urt_stream_filter f;
	struct urt_stream_map m;
	struct urt_stream_take t;
	struct collect c = { .max = 64 };
	int64_t scratch;

	(void)state;
	urt_chan_stream_init(&cs, ch);
	urt_stream_filter_init(&f, &cs.base, is_even, NULL);
	urt_stream_map_init(&m, &f.base, sizeof(int64_t), times_ten, NULL,
			    &scratch);
	c.s = urt_stream_take_init(&t, &m.base, 7); /* errors don't count */
	urt_co_init(&c.co, collect_run);
	assert_int_equal(urt_block_on(rt, &c.co.base), 8);
	int64_t want[] = { 20, 40, 60, 80, 100, 120, 0, 160 };
	for (int i = 0; i < 8; i++) {
		assert_int_equal(c.res[i], i == 6 ? -EDOM : URT_STREAM_ITEM);
		assert_int_equal(c.items[i], want[i]);
	}
	h_rt_free_clean(rt);
	chan_done(ch);
}

static void test_stream_channel_ends_after_close_and_take_leaves_rest(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_chan *ch = chan_with(0, 3, true);
	struct urt_chan *ch2 = chan_with(0, 10, false);
	struct urt_chan_stream cs, cs2;
	struct urt_stream_take t;
	struct collect c = { .max = 64 }, c2 = { .max = 64 };

	(void)state;
	c.s = urt_chan_stream_init(&cs, ch);
	urt_co_init(&c.co, collect_run);
	assert_int_equal(urt_block_on(rt, &c.co.base), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(c.items[i], i);
	urt_chan_stream_init(&cs2, ch2);
	c2.s = urt_stream_take_init(&t, &cs2.base, 4);
	urt_co_init(&c2.co, collect_run);
	assert_int_equal(urt_block_on(rt, &c2.co.base), 4);
	/* take stopped its source without consuming past the 4th item */
	assert_int_equal(urt_chan_len(ch2), 6);
	h_rt_free_clean(rt);
	chan_done(ch);
	chan_done(ch2);
}

static void test_stream_merge_alternates_between_two_ready_streams(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_chan *a = chan_with(0, 100, true);
	struct urt_chan *b = chan_with(1000, 1100, true);
	struct urt_chan_stream sa, sb;
	struct urt_stream_merge m;
	struct urt_stream_take t;
	struct collect c = { .max = 64 };

	(void)state;
	urt_chan_stream_init(&sa, a);
	urt_chan_stream_init(&sb, b);
	urt_stream_merge_init(&m, &sa.base, &sb.base);
	c.s = urt_stream_take_init(&t, &m.base, 40);
	urt_co_init(&c.co, collect_run);
	assert_int_equal(urt_block_on(rt, &c.co.base), 40);
	/* Both always ready: strictly a, b, a, b... and in order each. */
	for (int i = 0; i < 40; i++) {
		if (i % 2 == 0)
			assert_int_equal(c.items[i], i / 2);
		else
			assert_int_equal(c.items[i], 1000 + i / 2);
	}
	h_rt_free_clean(rt);
	chan_done(a);
	chan_done(b);
}

static void test_stream_merge_ends_when_both_ended(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_chan *a = chan_with(0, 2, true);
	struct urt_chan *b = chan_with(10, 15, true);
	struct urt_chan_stream sa, sb;
	struct urt_stream_merge m;
	struct collect c = { .max = 64 };
	int na = 0, nb = 0;

	(void)state;
	urt_chan_stream_init(&sa, a);
	urt_chan_stream_init(&sb, b);
	c.s = urt_stream_merge_init(&m, &sa.base, &sb.base);
	urt_co_init(&c.co, collect_run);
	assert_int_equal(urt_block_on(rt, &c.co.base), 7);
	for (int i = 0; i < 7; i++)
		*(c.items[i] < 10 ? &na : &nb) += 1;
	assert_int_equal(na, 2);
	assert_int_equal(nb, 5);
	h_rt_free_clean(rt);
	chan_done(a);
	chan_done(b);
}

static void test_stream_throttle_spaces_items_by_at_least_period(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_chan *ch = chan_with(0, 5, true);
	struct urt_chan_stream cs;
	struct urt_stream_throttle th;
	struct collect c = { .max = 64 };

	(void)state;
	urt_chan_stream_init(&cs, ch);
	c.s = urt_stream_throttle_init(&th, &cs.base, 10 * MS);
	urt_co_init(&c.co, collect_run);
	assert_int_equal(urt_block_on(rt, &c.co.base), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(c.items[i], i); /* delayed, never dropped */
		if (i) /* lower bound only: a loaded machine is slower */
			assert_true(c.at_ns[i] - c.at_ns[i - 1] >= 10 * MS);
	}
	h_rt_free_clean(rt);
	chan_done(ch);
}

struct late_sender {
	struct urt_chan *ch;
	long after_ms;
};

static void *late_send(void *arg)
{
	struct late_sender *l = arg;
	int64_t v = 99;

	nap_ms(l->after_ms);
	urt_chan_send_blocking(l->ch, &v, URT_FOREVER);
	nap_ms(5);
	urt_chan_sender_drop(l->ch);
	return NULL;
}

static void test_stream_timeout_yields_etime_then_items_then_end(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_chan *ch = chan_with(0, 0, false);
	struct late_sender l = { ch, 60 };
	struct urt_chan_stream cs;
	struct urt_stream_timeout to;
	struct collect c = { .max = 64 };
	uint64_t t0 = urt_now_ns();
	pthread_t th;
	int i, etimes = 0;

	(void)state;
	pthread_create(&th, NULL, late_send, &l);
	urt_chan_stream_init(&cs, ch);
	c.s = urt_stream_timeout_init(&to, &cs.base, 10 * MS);
	urt_co_init(&c.co, collect_run);
	assert_true(urt_block_on(rt, &c.co.base) >= 2);
	pthread_join(th, NULL);
	for (i = 0; i < c.n && c.res[i] == -ETIME; i++) {
		etimes++;
		/* the k-th timeout comes no earlier than k * 10 ms */
		assert_true(c.at_ns[i] - t0 >= (uint64_t)(i + 1) * 10 * MS);
	}
	assert_true(etimes >= 1);
	assert_int_equal(c.res[i], URT_STREAM_ITEM);
	assert_int_equal(c.items[i], 99);
	for (i++; i < c.n; i++)
		assert_int_equal(c.res[i], -ETIME);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt); /* the lazy timer did not stay in flight */
}

static void test_stream_interval_ticks_then_take_ends(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_interval_stream is;
	struct urt_stream_take t;
	struct collect c = { .max = 64 };
	uint64_t t0 = urt_now_ns();

	(void)state;
	urt_interval_stream_init(&is, 5 * MS);
	c.s = urt_stream_take_init(&t, &is.base, 3);
	urt_co_init(&c.co, collect_run);
	assert_int_equal(urt_block_on(rt, &c.co.base), 3);
	assert_true(c.at_ns[2] - t0 >= 15 * MS);
	assert_true(c.items[0] >= 1 && c.items[1] > c.items[0] &&
		    c.items[2] > c.items[1]);
	h_rt_free_clean(rt);
}

static void test_stream_abort_of_task_awaiting_merge_forwards_cancel(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct urt_chan *a = chan_with(0, 0, false);
	struct urt_chan *b = chan_with(0, 0, false);
	struct urt_chan_stream sa, sb;
	struct urt_stream_throttle th;
	struct urt_stream_timeout to;
	struct urt_stream_merge m;
	struct collect c = { .max = 64 };
	struct urt_task_handle h;
	int64_t v = 5, out = 0;

	(void)state;
	urt_chan_stream_init(&sa, a);
	urt_chan_stream_init(&sb, b);
	urt_stream_throttle_init(&th, &sb.base, 10 * MS);
	urt_stream_timeout_init(&to, &th.base, 10000 * MS); /* armed timer */
	c.s = urt_stream_merge_init(&m, &sa.base, &to.base);
	urt_co_init(&c.co, collect_run);
	assert_int_equal(urt_task_spawn(rt, &c.co.base, &h), 0);
	while (!atomic_load(&c.waiting))
		nap_ms(1);
	nap_ms(10);
	urt_task_abort(&h);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	assert_int_equal(c.n, 0);
	/* Both receivers' waiters are gone: thread receivers work. */
	assert_int_equal(urt_chan_try_send(a, &v), 0);
	assert_int_equal(urt_chan_recv_blocking(a, &out, URT_FOREVER), 0);
	assert_int_equal(out, 5);
	assert_int_equal(urt_chan_try_send(b, &v), 0);
	assert_int_equal(urt_chan_recv_blocking(b, &out, URT_FOREVER), 0);
	h_rt_free_clean(rt); /* the 10 s timer was cancelled, not waited */
	chan_done(a);
	chan_done(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_filter_map_take_over_channel),
		cmocka_unit_test(
			test_stream_channel_ends_after_close_and_take_leaves_rest),
		cmocka_unit_test(
			test_stream_merge_alternates_between_two_ready_streams),
		cmocka_unit_test(test_stream_merge_ends_when_both_ended),
		cmocka_unit_test(
			test_stream_throttle_spaces_items_by_at_least_period),
		cmocka_unit_test(
			test_stream_timeout_yields_etime_then_items_then_end),
		cmocka_unit_test(test_stream_interval_ticks_then_take_ends),
		cmocka_unit_test(
			test_stream_abort_of_task_awaiting_merge_forwards_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
