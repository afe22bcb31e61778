/* SPDX-License-Identifier: MIT */
/*
 * Channels: ordering, backpressure, close from either side, item hand-back
 * and destructor, thread<->task both ways, many senders, blocking timeouts,
 * oneshot, watch, and abort / select-cancel of waiting sends and recvs.
 * Every test ends with a clean shutdown.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define MS 1000000ull

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* --- reusable tasks -------------------------------------------------- */

/* Receives until end of stream; checks per-sender order of (id, seq). */
struct item {
	uint32_t sender, seq;
};

struct rx_task {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	struct item it;
	uint32_t next[16]; /* expected seq per sender */
	uint64_t got;
	int bad, r;
	atomic_int waiting;
};

H_CO(rx_run)
{
	struct rx_task *t = (struct rx_task *)co;

	URT_BEGIN(co);
	for (;;) {
		atomic_store(&t->waiting, 1);
		URT_AWAIT(co, cx, urt_chan_recv(&t->op, t->ch, &t->it), t->r);
		if (t->r < 0)
			break;
		if (t->it.sender >= 16 || t->it.seq != t->next[t->it.sender])
			t->bad++;
		else
			t->next[t->it.sender]++;
		t->got++;
	}
	URT_END(co, t->r == -EPIPE ? 0 : t->r);
}

/* Sends n items (id, 0..n-1). */
struct tx_task {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	struct item it;
	uint32_t id, n;
	int r;
	atomic_int waiting;
};

H_CO(tx_run)
{
	struct tx_task *t = (struct tx_task *)co;

	URT_BEGIN(co);
	for (t->it.seq = 0; t->it.seq < t->n; t->it.seq++) {
		t->it.sender = t->id;
		atomic_store(&t->waiting, 1);
		URT_AWAIT(co, cx, urt_chan_send(&t->op, t->ch, &t->it), t->r);
		if (t->r < 0)
			URT_RETURN(co, t->r);
	}
	URT_END(co, 0);
}

struct thr_tx {
	struct urt_chan *ch;
	uint32_t id, n;
	int err;
	bool drop; /* drop its sender reference at the end */
};

static void *thr_tx_main(void *arg)
{
	struct thr_tx *a = arg;

	for (uint32_t i = 0; i < a->n && !a->err; i++) {
		struct item it = { a->id, i };
		a->err = urt_chan_send_blocking(a->ch, &it, URT_FOREVER);
	}
	if (a->drop)
		urt_chan_sender_drop(a->ch);
	return NULL;
}

/* --- ordering, backpressure ------------------------------------------ */

static void test_chan_task_to_task_keeps_order(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct rx_task rx = { 0 };
	struct tx_task tx = { 0 };
	struct urt_task_handle hr, ht;
	struct urt_chan *ch;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(struct item), 4, NULL), 0);
	rx.ch = tx.ch = ch;
	tx.n = 5000;
	urt_co_init(&rx.co, rx_run);
	urt_co_init(&tx.co, tx_run);
	assert_int_equal(urt_task_spawn(rt, &rx.co.base, &hr), 0);
	assert_int_equal(urt_task_spawn(rt, &tx.co.base, &ht), 0);
	assert_int_equal(urt_task_join_blocking(&ht), 0);
	urt_chan_sender_drop(ch);
	assert_int_equal(urt_task_join_blocking(&hr), 0);
	assert_int_equal(rx.got, 5000);
	assert_int_equal(rx.bad, 0);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

static void test_chan_bounded_sender_task_waits_for_room(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct tx_task tx = { 0 };
	struct urt_task_handle ht;
	struct urt_chan *ch;
	struct item it;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(struct item), 2, NULL), 0);
	tx.ch = ch;
	tx.n = 3;
	urt_co_init(&tx.co, tx_run);
	assert_int_equal(urt_task_spawn(rt, &tx.co.base, &ht), 0);
	while (urt_chan_len(ch) < 2)
		nap_ms(1);
	nap_ms(20);
	/* Full: the third send waits; nothing is dropped or overwritten. */
	assert_int_equal(urt_chan_len(ch), 2);
	assert_int_equal(urt_chan_try_send(ch, &it), -EAGAIN);
	assert_int_equal(urt_chan_try_recv(ch, &it), 0);
	assert_int_equal(it.seq, 0);
	/* Room made: the waiting sender's item moved in, in order. */
	assert_int_equal(urt_task_join_blocking(&ht), 0);
	assert_int_equal(urt_chan_try_recv(ch, &it), 0);
	assert_int_equal(it.seq, 1);
	assert_int_equal(urt_chan_try_recv(ch, &it), 0);
	assert_int_equal(it.seq, 2);
	assert_int_equal(urt_chan_try_recv(ch, &it), -EAGAIN);
	urt_chan_sender_drop(ch);
	assert_int_equal(urt_chan_try_recv(ch, &it), -EPIPE);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

static void test_chan_blocking_send_on_full_times_out_with_etime(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_chan *ch;
	int v = 1, out = 0;
	uint64_t t0;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(int), 1, NULL), 0);
	assert_int_equal(urt_chan_send_blocking(ch, &v, 0), 0);
	v = 2;
	t0 = urt_now_ns();
	assert_int_equal(urt_chan_send_blocking(ch, &v, 20 * MS), -ETIME);
	assert_true(urt_now_ns() - t0 >= 20 * MS);
	assert_int_equal(urt_chan_recv_blocking(ch, &out, 0), 0);
	assert_int_equal(out, 1);
	/* The timed-out send left nothing behind. */
	assert_int_equal(urt_chan_recv_blocking(ch, &out, 0), -ETIME);
	t0 = urt_now_ns();
	assert_int_equal(urt_chan_recv_blocking(ch, &out, 20 * MS), -ETIME);
	assert_true(urt_now_ns() - t0 >= 20 * MS);
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

/* --- close semantics ------------------------------------------------- */

static atomic_int freed;

static void count_free(void *item)
{
	free(*(void **)item);
	atomic_fetch_add(&freed, 1);
}

static void test_chan_receiver_sees_end_after_last_message(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct rx_task rx = { 0 };
	struct urt_task_handle hr;
	struct urt_chan *ch;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(struct item), 0, NULL), 0);
	for (uint32_t i = 0; i < 100; i++) {
		struct item it = { 0, i };
		assert_int_equal(urt_chan_try_send(ch, &it), 0);
	}
	urt_chan_sender_drop(ch); /* closed, 100 still queued */
	rx.ch = ch;
	urt_co_init(&rx.co, rx_run);
	assert_int_equal(urt_task_spawn(rt, &rx.co.base, &hr), 0);
	assert_int_equal(urt_task_join_blocking(&hr), 0); /* saw -EPIPE */
	assert_int_equal(rx.got, 100);
	assert_int_equal(rx.bad, 0);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

struct send_once {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	void *item;
	int r;
	atomic_int waiting;
};

H_CO(send_once_run)
{
	struct send_once *s = (struct send_once *)co;

	URT_BEGIN(co);
	atomic_store(&s->waiting, 1);
	URT_AWAIT(co, cx, urt_chan_send(&s->op, s->ch, s->item), s->r);
	URT_END(co, s->r);
}

static void test_chan_send_after_close_returns_epipe_and_hands_item_back(
	void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct send_once s = { 0 };
	struct urt_chan *ch;
	void *p = malloc(16), *q = p;

	(void)state;
	atomic_store(&freed, 0);
	assert_int_equal(urt_chan_new(&ch, sizeof(void *), 4, count_free), 0);
	urt_chan_close(ch); /* either side may close */
	assert_int_equal(urt_chan_try_send(ch, &p), -EPIPE);
	assert_int_equal(urt_chan_send_blocking(ch, &p, URT_FOREVER), -EPIPE);
	s.ch = ch;
	s.item = &p;
	urt_co_init(&s.co, send_once_run);
	assert_int_equal(urt_block_on(rt, &s.co.base), -EPIPE);
	/* Not taken: still ours, never passed to item_free. */
	assert_ptr_equal(p, q);
	assert_int_equal(atomic_load(&freed), 0);
	free(p);
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

static void test_chan_receiver_drop_frees_unreceived_and_fails_waiting_sender(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct send_once s = { 0 };
	struct urt_task_handle h;
	struct urt_chan *ch;
	void *waiting_item = malloc(8);

	(void)state;
	atomic_store(&freed, 0);
	assert_int_equal(urt_chan_new(&ch, sizeof(void *), 3, count_free), 0);
	for (int i = 0; i < 3; i++) {
		void *p = malloc(32);
		assert_int_equal(urt_chan_try_send(ch, &p), 0);
	}
	s.ch = ch;
	s.item = &waiting_item;
	urt_co_init(&s.co, send_once_run);
	assert_int_equal(urt_task_spawn(rt, &s.co.base, &h), 0);
	while (!atomic_load(&s.waiting))
		nap_ms(1);
	nap_ms(10);
	urt_chan_receiver_drop(ch);
	/* Every queued item went to item_free (ASan: no leak). */
	assert_int_equal(atomic_load(&freed), 3);
	/* The waiting sender was woken with -EPIPE; its item is its own. */
	assert_int_equal(urt_task_join_blocking(&h), -EPIPE);
	free(waiting_item);
	assert_int_equal(atomic_load(&freed), 3);
	urt_chan_sender_drop(ch);
	h_rt_free_clean(rt);
}

static void test_chan_unbounded_grows_and_keeps_order(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_chan *ch;
	uint32_t v;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(v), 0, NULL), 0);
	for (v = 0; v < 10; v++)
		assert_int_equal(urt_chan_try_send(ch, &v), 0);
	for (uint32_t i = 0; i < 5; i++) { /* wrap the ring, then grow */
		assert_int_equal(urt_chan_try_recv(ch, &v), 0);
		assert_int_equal(v, i);
	}
	for (v = 10; v < 1000; v++)
		assert_int_equal(urt_chan_try_send(ch, &v), 0);
	assert_int_equal(urt_chan_len(ch), 995);
	for (uint32_t i = 5; i < 1000; i++) {
		assert_int_equal(urt_chan_try_recv(ch, &v), 0);
		assert_int_equal(v, i);
	}
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

/* --- threads and tasks ----------------------------------------------- */

static void test_chan_thread_to_task_blocking_sender(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct rx_task rx = { 0 };
	struct urt_task_handle hr;
	struct thr_tx a = { 0 };
	struct urt_chan *ch;
	pthread_t th;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(struct item), 8, NULL), 0);
	rx.ch = ch;
	urt_co_init(&rx.co, rx_run);
	assert_int_equal(urt_task_spawn(rt, &rx.co.base, &hr), 0);
	a = (struct thr_tx){ .ch = ch, .id = 3, .n = 20000, .drop = true };
	pthread_create(&th, NULL, thr_tx_main, &a);
	pthread_join(th, NULL);
	assert_int_equal(a.err, 0);
	assert_int_equal(urt_task_join_blocking(&hr), 0);
	assert_int_equal(rx.got, 20000);
	assert_int_equal(rx.bad, 0);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

struct thr_rx {
	struct urt_chan *ch;
	uint64_t got;
	int bad, end;
};

static void *thr_rx_main(void *arg)
{
	struct thr_rx *a = arg;
	struct item it;
	uint32_t next = 0;

	while ((a->end = urt_chan_recv_blocking(a->ch, &it, URT_FOREVER)) ==
	       0) {
		if (it.seq != next++)
			a->bad++;
		a->got++;
	}
	return NULL;
}

static void test_chan_task_to_thread_blocking_receiver(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct tx_task tx = { 0 };
	struct urt_task_handle ht;
	struct thr_rx a = { 0 };
	struct urt_chan *ch;
	pthread_t th;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(struct item), 4, NULL), 0);
	a.ch = ch;
	pthread_create(&th, NULL, thr_rx_main, &a);
	tx.ch = ch;
	tx.n = 20000;
	urt_co_init(&tx.co, tx_run);
	assert_int_equal(urt_task_spawn(rt, &tx.co.base, &ht), 0);
	assert_int_equal(urt_task_join_blocking(&ht), 0);
	urt_chan_sender_drop(ch);
	pthread_join(th, NULL);
	assert_int_equal(a.got, 20000);
	assert_int_equal(a.bad, 0);
	assert_int_equal(a.end, -EPIPE);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

static void test_chan_many_senders_threads_and_tasks_keep_order(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct rx_task rx = { 0 };
	struct tx_task tx[4] = { 0 };
	struct urt_task_handle hr, ht[4];
	struct thr_tx a[4];
	pthread_t th[4];
	struct urt_chan *ch;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(struct item), 16, NULL), 0);
	rx.ch = ch;
	urt_co_init(&rx.co, rx_run);
	assert_int_equal(urt_task_spawn(rt, &rx.co.base, &hr), 0);
	for (uint32_t i = 0; i < 4; i++) {
		a[i] = (struct thr_tx){ .ch = urt_chan_sender_clone(ch),
					.id = i, .n = 3000, .drop = true };
		pthread_create(&th[i], NULL, thr_tx_main, &a[i]);
		tx[i].ch = ch;
		tx[i].id = 4 + i;
		tx[i].n = 3000;
		urt_co_init(&tx[i].co, tx_run);
		assert_int_equal(urt_task_spawn(rt, &tx[i].co.base, &ht[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].err, 0);
		assert_int_equal(urt_task_join_blocking(&ht[i]), 0);
	}
	urt_chan_sender_drop(ch); /* the last sender: end of stream */
	assert_int_equal(urt_task_join_blocking(&hr), 0);
	assert_int_equal(rx.got, 8 * 3000);
	assert_int_equal(rx.bad, 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(rx.next[i], 3000);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

struct deadlk_fut {
	struct urt_future base;
	struct urt_chan *ch;
};

static int deadlk_poll(struct urt_future *f, struct urt_cx *cx)
{
	int v = 0;

	(void)cx;
	return urt_chan_recv_blocking(((struct deadlk_fut *)f)->ch, &v,
				      URT_FOREVER);
}

static const struct urt_future_vt deadlk_vt = { .poll = deadlk_poll };

static void test_chan_blocking_call_on_worker_returns_edeadlk(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct deadlk_fut f = { .base.vt = &deadlk_vt };

	(void)state;
	assert_int_equal(urt_chan_new(&f.ch, sizeof(int), 1, NULL), 0);
	assert_int_equal(urt_block_on(rt, &f.base), -EDEADLK);
	urt_chan_sender_drop(f.ch);
	urt_chan_receiver_drop(f.ch);
	h_rt_free_clean(rt);
}

/* --- cancellation ---------------------------------------------------- */

static void test_chan_abort_task_blocked_in_recv_leaves_channel_usable(
	void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct rx_task rx = { 0 }, rx2 = { 0 };
	struct urt_task_handle hr;
	struct urt_chan *ch;
	struct item it = { 0, 0 };

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(struct item), 2, NULL), 0);
	rx.ch = ch;
	urt_co_init(&rx.co, rx_run);
	assert_int_equal(urt_task_spawn(rt, &rx.co.base, &hr), 0);
	while (!atomic_load(&rx.waiting))
		nap_ms(1);
	nap_ms(10);
	assert_int_equal(urt_task_abort(&hr), 0);
	assert_int_equal(urt_task_join_blocking(&hr), -ECANCELED);
	assert_int_equal(rx.got, 0);
	/* The waiter is gone: a later recv gets the next item. */
	assert_int_equal(urt_chan_try_send(ch, &it), 0);
	urt_chan_sender_drop(ch);
	rx2.ch = ch;
	urt_co_init(&rx2.co, rx_run);
	assert_int_equal(urt_block_on(rt, &rx2.co.base), 0);
	assert_int_equal(rx2.got, 1);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

static void test_chan_abort_task_blocked_in_send_takes_nothing(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct send_once s = { 0 };
	struct urt_task_handle h;
	struct urt_chan *ch;
	int one = 1, two = 2, three = 3, v = 0;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(int), 1, NULL), 0);
	assert_int_equal(urt_chan_try_send(ch, &one), 0);
	s.ch = ch;
	s.item = &two;
	urt_co_init(&s.co, send_once_run);
	assert_int_equal(urt_task_spawn(rt, &s.co.base, &h), 0);
	while (!atomic_load(&s.waiting))
		nap_ms(1);
	nap_ms(10);
	urt_task_abort(&h);
	assert_int_equal(urt_task_join_blocking(&h), -ECANCELED);
	assert_int_equal(urt_chan_try_recv(ch, &v), 0);
	assert_int_equal(v, 1);
	/* The aborted sender's item did not slip in; the queue works. */
	assert_int_equal(urt_chan_try_recv(ch, &v), -EAGAIN);
	assert_int_equal(urt_chan_try_send(ch, &three), 0);
	assert_int_equal(urt_chan_try_recv(ch, &v), 0);
	assert_int_equal(v, 3);
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

/* select(recv, sleep): the sleep wins, the recv is cancelled and drained;
 * a value sent afterwards is received by a fresh recv, not lost. */
struct sel_task {
	struct urt_co co;
	struct urt_chan_op op, op2;
	struct urt_op sleep;
	struct urt_select sel;
	struct urt_future *futs[2];
	int results[2];
	struct urt_chan *ch;
	int v, r;
};

H_CO(sel_run)
{
	struct sel_task *t = (struct sel_task *)co;

	URT_BEGIN(co);
	t->futs[0] = urt_chan_recv(&t->op, t->ch, &t->v);
	t->futs[1] = urt_op_sleep(&t->sleep, 5 * MS);
	URT_AWAIT(co, cx, urt_select_init(&t->sel, t->futs, t->results, 2),
		  t->r);
	if (t->r != 1 || t->results[0] != -ECANCELED)
		URT_RETURN(co, -100);
	if (urt_chan_try_send(t->ch, &(int){ 77 }))
		URT_RETURN(co, -101);
	URT_AWAIT(co, cx, urt_chan_recv(&t->op2, t->ch, &t->v), t->r);
	URT_END(co, t->r ? t->r : t->v);
}

static void test_chan_select_cancelled_recv_loses_nothing(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct sel_task t = { 0 };

	(void)state;
	assert_int_equal(urt_chan_new(&t.ch, sizeof(int), 1, NULL), 0);
	urt_co_init(&t.co, sel_run);
	assert_int_equal(urt_block_on(rt, &t.co.base), 77);
	urt_chan_sender_drop(t.ch);
	urt_chan_receiver_drop(t.ch);
	h_rt_free_clean(rt);
}

/* --- oneshot --------------------------------------------------------- */

static void test_oneshot_delivers_once_then_epipe(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_chan *ch;
	int v = 5, out = 0;

	(void)state;
	assert_int_equal(urt_oneshot_new(&ch, sizeof(int), NULL), 0);
	assert_int_equal(urt_chan_try_send(ch, &v), 0);
	assert_int_equal(urt_chan_try_send(ch, &v), -EPIPE);
	assert_int_equal(urt_chan_recv_blocking(ch, &out, URT_FOREVER), 0);
	assert_int_equal(out, 5);
	assert_int_equal(urt_chan_recv_blocking(ch, &out, URT_FOREVER), -EPIPE);
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);

	/* Sender dropped without sending: the receiver sees the end. */
	assert_int_equal(urt_oneshot_new(&ch, sizeof(int), NULL), 0);
	urt_chan_sender_drop(ch);
	assert_int_equal(urt_chan_recv_blocking(ch, &out, 10 * MS), -EPIPE);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

struct os_task {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	int v, r;
};

H_CO(os_run)
{
	struct os_task *t = (struct os_task *)co;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_chan_recv(&t->op, t->ch, &t->v), t->r);
	URT_END(co, t->r ? t->r : t->v);
}

static void *os_thread(void *arg)
{
	int v = 42;

	nap_ms(5);
	urt_chan_try_send(arg, &v);
	urt_chan_sender_drop(arg);
	return NULL;
}

static void test_oneshot_thread_to_waiting_task(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct os_task t = { 0 };
	pthread_t th;

	(void)state;
	assert_int_equal(urt_oneshot_new(&t.ch, sizeof(int), NULL), 0);
	pthread_create(&th, NULL, os_thread, t.ch);
	urt_co_init(&t.co, os_run);
	assert_int_equal(urt_block_on(rt, &t.co.base), 42);
	pthread_join(th, NULL);
	urt_chan_receiver_drop(t.ch);
	h_rt_free_clean(rt);
}

/* --- watch ----------------------------------------------------------- */

struct watch_task {
	struct urt_co co;
	struct urt_watch_op op;
	struct urt_watch_rx rx;
	int v, last, changes, r;
};

H_CO(watch_run)
{
	struct watch_task *t = (struct watch_task *)co;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx, urt_watch_changed(&t->op, &t->rx), t->r);
		if (t->r < 0)
			break;
		urt_watch_read(&t->rx, &t->v);
		if (t->v < t->last)
			URT_RETURN(co, -100); /* went back in time */
		t->last = t->v;
		t->changes++;
	}
	URT_END(co, t->r == -EPIPE ? 0 : t->r);
}

static void test_watch_task_sees_latest_value_then_close(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct watch_task t = { 0 };
	struct urt_task_handle h;
	struct urt_watch_rx rx2;
	struct urt_watch *w;
	int v = 0;

	(void)state;
	assert_int_equal(urt_watch_new(&w, sizeof(int), &v), 0);
	urt_watch_subscribe(w, &t.rx);
	urt_watch_subscribe(w, &rx2);
	urt_co_init(&t.co, watch_run);
	assert_int_equal(urt_task_spawn(rt, &t.co.base, &h), 0);
	for (v = 1; v <= 1000; v++)
		assert_int_equal(urt_watch_send(w, &v), 0);
	/* A thread receiver: a change is there, then none for 10 ms. */
	assert_int_equal(urt_watch_changed_blocking(&rx2, URT_FOREVER), 0);
	assert_int_equal(urt_watch_read(&rx2, &v), 1000);
	assert_int_equal(v, 1000);
	assert_int_equal(urt_watch_changed_blocking(&rx2, 10 * MS), -ETIME);
	urt_watch_close(w);
	assert_int_equal(urt_watch_changed_blocking(&rx2, URT_FOREVER), -EPIPE);
	assert_int_equal(urt_task_join_blocking(&h), 0);
	assert_int_equal(t.last, 1000); /* the newest value always arrives */
	assert_true(t.changes >= 1 && t.changes <= 1000);
	urt_watch_unsubscribe(&rx2);
	urt_watch_unsubscribe(&t.rx);
	h_rt_free_clean(rt);
}

/*
 * Coop budget: a task whose channel ops are always ready (it receives an
 * item and sends it straight back) must still let the other task on its
 * only worker run. Bounded loop: without the budget it would run all its
 * rounds without the flag ever being set.
 */
struct echo_loop {
	struct urt_co co;
	struct urt_chan *ch;
	struct urt_chan_op op;
	_Atomic int *flag;
	uint32_t v;
	int i, saw;
};

H_CO(echo_loop_run)
{
	struct echo_loop *e = (struct echo_loop *)co;
	int r = 0;

	URT_BEGIN(co);
	for (e->i = 0; e->i < 100000 && !atomic_load(e->flag); e->i++) {
		URT_AWAIT(co, cx, urt_chan_recv(&e->op, e->ch, &e->v), r);
		if (r)
			URT_RETURN(co, r);
		URT_AWAIT(co, cx, urt_chan_send(&e->op, e->ch, &e->v), r);
		if (r)
			URT_RETURN(co, r);
	}
	e->saw = atomic_load(e->flag);
	URT_END(co, 0);
}

struct flag_setter {
	struct urt_co co;
	_Atomic int *flag;
};

H_CO(flag_setter_run)
{
	struct flag_setter *f = (struct flag_setter *)co;

	URT_BEGIN(co);
	atomic_store(f->flag, 1);
	URT_END(co, 0);
}

/* Spawns both from a task, so that both are queued before either runs
 * (from the main thread, a preempted spawner could let the loop finish
 * before the flag setter even exists). */
struct spawn_both {
	struct urt_co co;
	struct urt_rt *rt;
	struct urt_future *a, *b;
	struct urt_task_handle ha, hb;
};

H_CO(spawn_both_run)
{
	struct spawn_both *s = (struct spawn_both *)co;
	int r;

	URT_BEGIN(co);
	r = urt_task_spawn(s->rt, s->a, &s->ha);
	if (!r)
		r = urt_task_spawn(s->rt, s->b, &s->hb);
	URT_END(co, r);
}

static void test_chan_always_ready_loop_lets_other_task_run(void **state)
{
	struct urt_rt *rt = h_rt(1);
	_Atomic int flag = 0;
	struct echo_loop e = { .flag = &flag };
	struct flag_setter f = { .flag = &flag };
	struct spawn_both sb = { .rt = rt };
	uint32_t one = 1;

	(void)state;
	assert_int_equal(urt_chan_new(&e.ch, sizeof(uint32_t), 4, NULL), 0);
	assert_int_equal(urt_chan_try_send(e.ch, &one), 0);
	urt_co_init(&e.co, echo_loop_run);
	urt_co_init(&f.co, flag_setter_run);
	urt_co_init(&sb.co, spawn_both_run);
	sb.a = &e.co.base;
	sb.b = &f.co.base;
	assert_int_equal(urt_block_on(rt, &sb.co.base), 0);
	assert_int_equal(urt_task_join_blocking(&sb.ha), 0);
	assert_int_equal(urt_task_join_blocking(&sb.hb), 0);
	assert_true(e.saw);
	assert_true(e.i < 100000);
	urt_chan_sender_drop(e.ch);
	urt_chan_receiver_drop(e.ch);
	h_rt_free_clean(rt);
}

/* --- lock-free paths: races with close and drop, shared receivers ---- */

/* Sends (id, 0, 1, ...) until the channel is closed; counts what went. */
struct thr_tx_until {
	struct urt_chan *ch;
	uint32_t id, sent;
	int end;
};

static void *thr_tx_until_main(void *arg)
{
	struct thr_tx_until *a = arg;

	for (;;) {
		struct item it = { a->id, a->sent };

		a->end = urt_chan_send_blocking(a->ch, &it, URT_FOREVER);
		if (a->end)
			break;
		a->sent++;
	}
	return NULL;
}

/*
 * Senders (threads and tasks) race a close from the receiver's side: each
 * send either went (and is received, in order per sender) or returned
 * -EPIPE (and is not received). Unbounded (segments grow while senders
 * race), capacity 1 and a small bounded channel (senders wait).
 */
static void test_chan_senders_racing_close_lose_nothing(void **state)
{
	static const size_t caps[] = { 0, 1, 8 };

	(void)state;
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		struct urt_rt *rt = h_rt(2);
		struct rx_task rx = { 0 };
		struct tx_task tx[3] = { 0 };
		struct thr_tx_until a[3];
		struct urt_task_handle hr, ht[3];
		pthread_t th[3];
		struct urt_chan *ch;
		uint64_t sent = 0;

		assert_int_equal(urt_chan_new(&ch, sizeof(struct item),
					      caps[c], NULL),
				 0);
		rx.ch = ch;
		urt_co_init(&rx.co, rx_run);
		assert_int_equal(urt_task_spawn(rt, &rx.co.base, &hr), 0);
		for (uint32_t i = 0; i < 3; i++) {
			a[i] = (struct thr_tx_until){ .ch = ch, .id = i };
			pthread_create(&th[i], NULL, thr_tx_until_main, &a[i]);
			tx[i].ch = ch;
			tx[i].id = 3 + i;
			tx[i].n = UINT32_MAX;
			urt_co_init(&tx[i].co, tx_run);
			assert_int_equal(
				urt_task_spawn(rt, &tx[i].co.base, &ht[i]), 0);
		}
		nap_ms(10);
		urt_chan_close(ch);
		for (int i = 0; i < 3; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(a[i].end, -EPIPE);
			assert_int_equal(urt_task_join_blocking(&ht[i]),
					 -EPIPE);
			/* a task's seq is the count it sent */
			sent += a[i].sent + tx[i].it.seq;
		}
		assert_int_equal(urt_task_join_blocking(&hr), 0);
		assert_true(sent > 0);
		assert_int_equal(rx.got, sent);
		assert_int_equal(rx.bad, 0);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(rx.next[i], a[i].sent);
			assert_int_equal(rx.next[3 + i], tx[i].it.seq);
		}
		urt_chan_sender_drop(ch);
		urt_chan_receiver_drop(ch);
		h_rt_free_clean(rt);
	}
}

/* Sends malloc'd items until the channel closes; frees a handed-back one. */
struct thr_tx_alloc {
	struct urt_chan *ch;
	uint64_t sent;
	int end;
};

static atomic_int handed_back;

static void *thr_tx_alloc_main(void *arg)
{
	struct thr_tx_alloc *a = arg;

	for (;;) {
		void *p = malloc(24);

		a->end = urt_chan_send_blocking(a->ch, &p, URT_FOREVER);
		if (a->end) {
			free(p); /* not taken: still ours */
			atomic_fetch_add(&handed_back, 1);
			break;
		}
		a->sent++;
	}
	return NULL;
}

/*
 * The receiver is dropped while senders are sending: every item that went
 * is either received or passed to item_free, exactly once (ASan: no leak,
 * no double free); every sender ends with -EPIPE and its item back.
 */
static void test_chan_receiver_drop_racing_senders_frees_every_item(
	void **state)
{
	static const size_t caps[] = { 0, 4 };

	(void)state;
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		struct urt_rt *rt = h_rt(1);
		struct thr_tx_alloc a[3] = { 0 };
		pthread_t th[3];
		struct urt_chan *ch;
		uint64_t sent = 0, got = 0;
		void *p;

		atomic_store(&freed, 0);
		atomic_store(&handed_back, 0);
		assert_int_equal(urt_chan_new(&ch, sizeof(void *), caps[c],
					      count_free),
				 0);
		for (int i = 0; i < 3; i++) {
			a[i].ch = i ? urt_chan_sender_clone(ch) : ch;
			pthread_create(&th[i], NULL, thr_tx_alloc_main, &a[i]);
		}
		while (got < 500 &&
		       urt_chan_recv_blocking(ch, &p, URT_FOREVER) == 0) {
			free(p);
			got++;
		}
		urt_chan_receiver_drop(ch);
		for (int i = 0; i < 3; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(a[i].end, -EPIPE);
			sent += a[i].sent;
		}
		assert_int_equal(got, 500);
		assert_int_equal(got + (uint64_t)atomic_load(&freed), sent);
		assert_int_equal(atomic_load(&handed_back), 3);
		for (int i = 0; i < 3; i++)
			urt_chan_sender_drop(ch);
		h_rt_free_clean(rt);
	}
}

/* Counts every (sender, seq) received, by any receiver. */
#define SHARE_SENDERS 4
#define SHARE_N 3000
static atomic_uchar share_seen[SHARE_SENDERS][SHARE_N];

struct share_rx_task {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	struct item it;
	int64_t last[SHARE_SENDERS];
	uint64_t got;
	int bad, r;
};

static int share_note(int64_t *last, const struct item *it)
{
	if (it->sender >= SHARE_SENDERS || it->seq >= SHARE_N ||
	    (int64_t)it->seq <= last[it->sender])
		return 1; /* out of order for this receiver */
	last[it->sender] = it->seq;
	atomic_fetch_add(&share_seen[it->sender][it->seq], 1);
	return 0;
}

H_CO(share_rx_run)
{
	struct share_rx_task *t = (struct share_rx_task *)co;

	URT_BEGIN(co);
	for (;;) {
		URT_AWAIT(co, cx, urt_chan_recv(&t->op, t->ch, &t->it), t->r);
		if (t->r < 0)
			break;
		t->bad += share_note(t->last, &t->it);
		t->got++;
	}
	URT_END(co, t->r == -EPIPE ? 0 : t->r);
}

struct share_rx_thr {
	struct urt_chan *ch;
	int64_t last[SHARE_SENDERS];
	uint64_t got;
	int bad, end;
};

static void *share_rx_thr_main(void *arg)
{
	struct share_rx_thr *a = arg;
	struct item it;

	while ((a->end = urt_chan_recv_blocking(a->ch, &it, URT_FOREVER)) ==
	       0) {
		a->bad += share_note(a->last, &it);
		a->got++;
	}
	return NULL;
}

/*
 * One receiver handle shared by two tasks and a thread (one task waits in
 * the channel's own slot, the others in its queue): every item arrives
 * exactly once, each receiver sees each sender's items in order, and the
 * end of the stream reaches all three.
 */
static void test_chan_shared_receiver_gets_each_item_once(void **state)
{
	struct urt_rt *rt = h_rt(2);
	struct share_rx_task rx[2];
	struct share_rx_thr trx;
	struct tx_task tx[2] = { 0 };
	struct thr_tx a[2];
	struct urt_task_handle hr[2], ht[2];
	pthread_t th[2], tr;
	struct urt_chan *ch;
	uint64_t got;

	(void)state;
	memset(share_seen, 0, sizeof(share_seen));
	memset(rx, 0, sizeof(rx));
	memset(&trx, 0, sizeof(trx));
	assert_int_equal(urt_chan_new(&ch, sizeof(struct item), 4, NULL), 0);
	for (int i = 0; i < 2; i++) {
		rx[i].ch = ch;
		for (int k = 0; k < SHARE_SENDERS; k++)
			rx[i].last[k] = -1;
		urt_co_init(&rx[i].co, share_rx_run);
		assert_int_equal(urt_task_spawn(rt, &rx[i].co.base, &hr[i]),
				 0);
	}
	trx.ch = ch;
	for (int k = 0; k < SHARE_SENDERS; k++)
		trx.last[k] = -1;
	pthread_create(&tr, NULL, share_rx_thr_main, &trx);
	for (uint32_t i = 0; i < 2; i++) {
		a[i] = (struct thr_tx){ .ch = urt_chan_sender_clone(ch),
					.id = i, .n = SHARE_N, .drop = true };
		pthread_create(&th[i], NULL, thr_tx_main, &a[i]);
		tx[i].ch = ch;
		tx[i].id = 2 + i;
		tx[i].n = SHARE_N;
		urt_co_init(&tx[i].co, tx_run);
		assert_int_equal(urt_task_spawn(rt, &tx[i].co.base, &ht[i]),
				 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].err, 0);
		assert_int_equal(urt_task_join_blocking(&ht[i]), 0);
	}
	urt_chan_sender_drop(ch); /* the last sender: the end, for all */
	for (int i = 0; i < 2; i++)
		assert_int_equal(urt_task_join_blocking(&hr[i]), 0);
	pthread_join(tr, NULL);
	assert_int_equal(trx.end, -EPIPE);
	got = rx[0].got + rx[1].got + trx.got;
	assert_int_equal(got, SHARE_SENDERS * SHARE_N);
	assert_int_equal(rx[0].bad + rx[1].bad + trx.bad, 0);
	for (int k = 0; k < SHARE_SENDERS; k++)
		for (int i = 0; i < SHARE_N; i++)
			assert_int_equal(atomic_load(&share_seen[k][i]), 1);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

/*
 * A receiver task woken for an item but aborted before it ran passes the
 * wake-up on: a thread waiting on the same receiver gets the item. One
 * worker, so the order is fixed: A waits (in the channel's slot), thread
 * B waits (in its queue), task S sends (waking A, not B) and aborts A.
 */
struct baton_sender {
	struct urt_co co;
	struct urt_chan *ch;
	struct urt_task_handle *victim;
	int sent, aborted;
};

H_CO(baton_sender_run)
{
	struct baton_sender *s = (struct baton_sender *)co;

	URT_BEGIN(co);
	s->sent = urt_chan_try_send(s->ch, &(int){ 55 });
	s->aborted = urt_task_abort(s->victim);
	URT_END(co, 0);
}

struct blocked_rx {
	struct urt_chan *ch;
	atomic_int started;
	int v, r;
};

static void *blocked_rx_main(void *arg)
{
	struct blocked_rx *b = arg;

	atomic_store(&b->started, 1);
	b->r = urt_chan_recv_blocking(b->ch, &b->v, 5000 * MS);
	return NULL;
}

struct wait_rx {
	struct urt_co co;
	struct urt_chan_op op;
	struct urt_chan *ch;
	int v, r;
	atomic_int waiting;
};

H_CO(wait_rx_run)
{
	struct wait_rx *t = (struct wait_rx *)co;

	URT_BEGIN(co);
	atomic_store(&t->waiting, 1);
	URT_AWAIT(co, cx, urt_chan_recv(&t->op, t->ch, &t->v), t->r);
	URT_END(co, t->r ? t->r : t->v);
}

static void test_chan_woken_receiver_aborted_passes_item_on(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct wait_rx a = { 0 };
	struct baton_sender s = { 0 };
	struct blocked_rx b = { 0 };
	struct urt_task_handle ha, hs;
	struct urt_chan *ch;
	pthread_t th;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(int), 4, NULL), 0);
	a.ch = ch;
	urt_co_init(&a.co, wait_rx_run);
	assert_int_equal(urt_task_spawn(rt, &a.co.base, &ha), 0);
	while (!atomic_load(&a.waiting))
		nap_ms(1);
	nap_ms(10);
	b.ch = ch;
	pthread_create(&th, NULL, blocked_rx_main, &b);
	while (!atomic_load(&b.started))
		nap_ms(1);
	nap_ms(20); /* B is queued (if late, it finds the item itself) */
	s.ch = ch;
	s.victim = &ha;
	urt_co_init(&s.co, baton_sender_run);
	assert_int_equal(urt_task_spawn(rt, &s.co.base, &hs), 0);
	assert_int_equal(urt_task_join_blocking(&hs), 0);
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.aborted, 0);
	assert_int_equal(urt_task_join_blocking(&ha), -ECANCELED);
	pthread_join(th, NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(b.v, 55);
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

/* Waiting receivers are served first come first: a thread that waits
 * first gets the first item, a task that waits after it the second. */
static void test_chan_waiting_receivers_are_served_in_order(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct wait_rx t = { 0 };
	struct blocked_rx b = { 0 };
	struct urt_task_handle h;
	struct urt_chan *ch;
	pthread_t th;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(int), 4, NULL), 0);
	b.ch = ch;
	pthread_create(&th, NULL, blocked_rx_main, &b);
	while (!atomic_load(&b.started))
		nap_ms(1);
	nap_ms(20); /* the thread waits */
	t.ch = ch;
	urt_co_init(&t.co, wait_rx_run);
	assert_int_equal(urt_task_spawn(rt, &t.co.base, &h), 0);
	while (!atomic_load(&t.waiting))
		nap_ms(1);
	nap_ms(10); /* the task waits too, after the thread */
	assert_int_equal(urt_chan_try_send(ch, &(int){ 1 }), 0);
	pthread_join(th, NULL);
	assert_int_equal(b.r, 0);
	assert_int_equal(b.v, 1);
	assert_int_equal(urt_chan_try_send(ch, &(int){ 2 }), 0);
	assert_int_equal(urt_task_join_blocking(&h), 2);
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

/* Threads race to send on a oneshot: exactly one item goes. */
struct os_racer {
	struct urt_chan *ch;
	atomic_int *go;
	int v, r;
};

static void *os_racer_main(void *arg)
{
	struct os_racer *o = arg;

	while (!atomic_load(o->go))
		;
	o->r = urt_chan_try_send(o->ch, &o->v);
	return NULL;
}

static void test_oneshot_racing_senders_exactly_one_wins(void **state)
{
	struct urt_rt *rt = h_rt(1);

	(void)state;
	for (int round = 0; round < 20; round++) {
		struct os_racer o[4];
		pthread_t th[4];
		atomic_int go = 0;
		struct urt_chan *ch;
		int wins = 0, winner = -1, out = 0;

		assert_int_equal(urt_oneshot_new(&ch, sizeof(int), NULL), 0);
		for (int i = 0; i < 4; i++) {
			o[i] = (struct os_racer){ .ch = ch, .go = &go,
						  .v = 100 + i };
			pthread_create(&th[i], NULL, os_racer_main, &o[i]);
		}
		atomic_store(&go, 1);
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			if (o[i].r == 0) {
				wins++;
				winner = o[i].v;
			} else {
				assert_int_equal(o[i].r, -EPIPE);
			}
		}
		assert_int_equal(wins, 1);
		assert_int_equal(urt_chan_recv_blocking(ch, &out, 0), 0);
		assert_int_equal(out, winner);
		assert_int_equal(urt_chan_recv_blocking(ch, &out, 0), -EPIPE);
		urt_chan_sender_drop(ch);
		urt_chan_receiver_drop(ch);
	}
	h_rt_free_clean(rt);
}

/* A sender that waits for room keeps its turn: the receive that frees a
 * slot moves the waiting item in before it returns, so a new send finds
 * the channel full again (and, while senders wait, queues behind them). */
static void *send_two_main(void *arg)
{
	int two = 2;

	return (void *)(intptr_t)urt_chan_send_blocking(arg, &two,
						       URT_FOREVER);
}

static void test_chan_waiting_sender_is_not_overtaken(void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct urt_chan *ch;
	int one = 1, three = 3, v = 0;
	pthread_t th;
	void *res;

	(void)state;
	assert_int_equal(urt_chan_new(&ch, sizeof(int), 1, NULL), 0);
	assert_int_equal(urt_chan_try_send(ch, &one), 0);
	pthread_create(&th, NULL, send_two_main, ch);
	while (urt_chan_try_send(ch, &three) != -EAGAIN)
		nap_ms(1);
	nap_ms(20); /* the thread waits for room */
	assert_int_equal(urt_chan_try_send(ch, &three), -EAGAIN);
	assert_int_equal(urt_chan_recv_blocking(ch, &v, 0), 0);
	assert_int_equal(v, 1);
	/* The freed slot went to the waiting thread's item at once. */
	assert_int_equal(urt_chan_try_send(ch, &three), -EAGAIN);
	pthread_join(th, &res);
	assert_int_equal((intptr_t)res, 0);
	assert_int_equal(urt_chan_recv_blocking(ch, &v, 0), 0);
	assert_int_equal(v, 2);
	assert_int_equal(urt_chan_try_send(ch, &three), 0);
	assert_int_equal(urt_chan_recv_blocking(ch, &v, 0), 0);
	assert_int_equal(v, 3);
	urt_chan_sender_drop(ch);
	urt_chan_receiver_drop(ch);
	h_rt_free_clean(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chan_task_to_task_keeps_order),
		cmocka_unit_test(
			test_chan_always_ready_loop_lets_other_task_run),
		cmocka_unit_test(test_chan_bounded_sender_task_waits_for_room),
		cmocka_unit_test(
			test_chan_blocking_send_on_full_times_out_with_etime),
		cmocka_unit_test(test_chan_receiver_sees_end_after_last_message),
		cmocka_unit_test(
			test_chan_send_after_close_returns_epipe_and_hands_item_back),
		cmocka_unit_test(
			test_chan_receiver_drop_frees_unreceived_and_fails_waiting_sender),
		cmocka_unit_test(test_chan_unbounded_grows_and_keeps_order),
		cmocka_unit_test(test_chan_thread_to_task_blocking_sender),
		cmocka_unit_test(test_chan_task_to_thread_blocking_receiver),
		cmocka_unit_test(
			test_chan_many_senders_threads_and_tasks_keep_order),
		cmocka_unit_test(
			test_chan_blocking_call_on_worker_returns_edeadlk),
		cmocka_unit_test(
			test_chan_abort_task_blocked_in_recv_leaves_channel_usable),
		cmocka_unit_test(
			test_chan_abort_task_blocked_in_send_takes_nothing),
		cmocka_unit_test(test_chan_select_cancelled_recv_loses_nothing),
		cmocka_unit_test(test_oneshot_delivers_once_then_epipe),
		cmocka_unit_test(test_oneshot_thread_to_waiting_task),
		cmocka_unit_test(test_watch_task_sees_latest_value_then_close),
		cmocka_unit_test(test_chan_senders_racing_close_lose_nothing),
		cmocka_unit_test(
			test_chan_receiver_drop_racing_senders_frees_every_item),
		cmocka_unit_test(test_chan_shared_receiver_gets_each_item_once),
		cmocka_unit_test(
			test_chan_woken_receiver_aborted_passes_item_on),
		cmocka_unit_test(
			test_chan_waiting_receivers_are_served_in_order),
		cmocka_unit_test(test_oneshot_racing_senders_exactly_one_wins),
		cmocka_unit_test(test_chan_waiting_sender_is_not_overtaken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
