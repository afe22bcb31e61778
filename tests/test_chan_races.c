/* SPDX-License-Identifier: MIT */
/*
 * Lost wake-ups in the lock-free channel, made deterministic (review 2).
 *
 * The thread cases stall a sender between its claim and its publish: it
 * sends from a PROT_NONE page, so its item copy faults after the slot is
 * claimed, and the SIGSEGV handler holds it there until the test releases
 * it (then makes the page readable; the copy resumes). The test waits
 * until the receivers are registered (urt__chan_rx_waiters), not a guess
 * of time, so every interleaving below happens as written, loaded machine
 * or not. The task case drives two recv futures of one task by hand.
 *
 * White-box: urt__chan_rx_waiters (waker.h) says who waits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "waker.h"

#define MS 1000000ull
#define WAIT_NS (10000 * MS) /* "should have happened by now": 10 s */
#define NRX 3

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Fails the test unless *flag becomes set within WAIT_NS. */
static void wait_flag(atomic_int *flag)
{
	uint64_t end = urt_now_ns() + WAIT_NS;

	while (!atomic_load(flag)) {
		assert_true(urt_now_ns() < end);
		nap_ms(1);
	}
}

/* --- a sender stalled between claim and publish ----------------------- */

static void *stall_page;
static size_t page_sz;
static atomic_int stalled, released;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if ((char *)si->si_addr < (char *)stall_page ||
	    (char *)si->si_addr >= (char *)stall_page + page_sz) {
		signal(sig, SIG_DFL);
		return; /* a real crash: re-fault with the default action */
	}
	atomic_store(&stalled, 1);
	while (!atomic_load(&released)) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	mprotect(stall_page, page_sz, PROT_READ | PROT_WRITE);
	*(int *)stall_page = 100; /* the item the stalled sender sends */
}

static void stall_setup(void)
{
	struct sigaction sa = { 0 };

	page_sz = (size_t)sysconf(_SC_PAGESIZE);
	stall_page = mmap(NULL, page_sz, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(stall_page != MAP_FAILED);
	atomic_store(&stalled, 0);
	atomic_store(&released, 0);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, NULL), 0);
}

static void stall_teardown(void)
{
	signal(SIGSEGV, SIG_DFL);
	munmap(stall_page, page_sz);
}

struct sender_arg {
	struct urt_chan *ch;
	int res;
};

/* Sends from the PROT_NONE page: claims a slot, then stalls in the copy. */
static void *stalled_sender(void *p)
{
	struct sender_arg *a = p;

	a->res = urt_chan_try_send(a->ch, stall_page);
	return NULL;
}

static void start_stalled_sender(pthread_t *th, struct sender_arg *sa)
{
	assert_int_equal(pthread_create(th, NULL, stalled_sender, sa), 0);
	wait_flag(&stalled);
}

struct recv_arg {
	struct urt_chan *ch;
	int res;
	int item;
};

static void *receiver(void *p)
{
	struct recv_arg *a = p;

	/* Long enough for any loaded machine; a lost wake-up ends -ETIME. */
	a->res = urt_chan_recv_blocking(a->ch, &a->item, 5000 * MS);
	return NULL;
}

/* Starts n blocked receivers; returns once all n wait (re-check done). */
static void start_receivers(struct urt_chan *ch, pthread_t *th,
			    struct recv_arg *a, int n)
{
	uint64_t end = urt_now_ns() + WAIT_NS;

	for (int i = 0; i < n; i++) {
		a[i] = (struct recv_arg){ .ch = ch, .res = 1, .item = -1 };
		assert_int_equal(pthread_create(&th[i], NULL, receiver, &a[i]),
				 0);
	}
	while (urt__chan_rx_waiters(ch) < (size_t)n) {
		assert_true(urt_now_ns() < end);
		nap_ms(1);
	}
}

/*
 * Items published behind an unpublished head wake nobody (nobody waited
 * yet). Receivers then wait: the head is unpublished, so each re-check
 * finds nothing. The head's publish wakes one of them; the items that sat
 * behind it must reach the others too.
 */
static void test_chan_items_behind_head_reach_every_receiver(void **state)
{
	struct urt_chan *ch;
	pthread_t s, r[NRX];
	struct sender_arg sa;
	struct recv_arg a[NRX];
	int seen[NRX + 1] = { 0 };

	(void)state;
	stall_setup();
	assert_int_equal(urt_chan_new(&ch, sizeof(int), 8, NULL), 0);
	sa.ch = ch;
	start_stalled_sender(&s, &sa); /* position 0 claimed, unpublished */
	for (int v = 1; v < NRX; v++) /* positions 1 .. NRX-1 published */
		assert_int_equal(urt_chan_try_send(ch, &v), 0);
	start_receivers(ch, r, a, NRX);
	atomic_store(&released, 1);
	pthread_join(s, NULL);
	assert_int_equal(sa.res, 0);
	for (int i = 0; i < NRX; i++)
		pthread_join(r[i], NULL);
	for (int i = 0; i < NRX; i++) {
		/* NRX items, NRX waiting receivers: each gets one. */
		assert_int_equal(a[i].res, 0);
		assert_true(a[i].item == 100 ||
			    (a[i].item >= 1 && a[i].item < NRX));
		seen[a[i].item == 100 ? 0 : a[i].item]++;
	}
	for (int v = 0; v < NRX; v++)
		assert_int_equal(seen[v], 1);
	assert_int_equal(urt_chan_len(ch), 0);
	urt_chan_receiver_drop(ch);
	urt_chan_sender_drop(ch);
	stall_teardown();
}

/*
 * Close while a send is between claim and publish: the receivers woken by
 * the close find the head claimed and wait again; the publish wakes one.
 * That one gets the item, every other one the end (-EPIPE).
 */
static void test_chan_close_during_send_ends_every_receiver(void **state)
{
	struct urt_chan *ch;
	pthread_t s, r[NRX];
	struct sender_arg sa;
	struct recv_arg a[NRX];
	int got = 0, ended = 0;

	(void)state;
	stall_setup();
	assert_int_equal(urt_chan_new(&ch, sizeof(int), 0, NULL), 0);
	sa.ch = ch;
	start_stalled_sender(&s, &sa);
	urt_chan_close(ch);
	start_receivers(ch, r, a, NRX);
	atomic_store(&released, 1);
	pthread_join(s, NULL);
	assert_int_equal(sa.res, 0);
	for (int i = 0; i < NRX; i++) {
		pthread_join(r[i], NULL);
		if (a[i].res == 0 && a[i].item == 100)
			got++;
		else if (a[i].res == -EPIPE)
			ended++;
	}
	assert_int_equal(got, 1);
	assert_int_equal(ended, NRX - 1);
	urt_chan_receiver_drop(ch);
	urt_chan_sender_drop(ch);
	stall_teardown();
}

/*
 * Oneshot: the receiver side closes while the one send is mid-copy. The
 * send still succeeds (it claimed first), so the item is queued and the
 * waiting receiver must get it, though the sender's own close is then a
 * no-op. A second waiting receiver gets the end.
 */
static void test_oneshot_receiver_close_during_send_still_delivers(
	void **state)
{
	struct urt_chan *ch;
	pthread_t s, r[2];
	struct sender_arg sa;
	struct recv_arg a[2];

	(void)state;
	stall_setup();
	assert_int_equal(urt_oneshot_new(&ch, sizeof(int), NULL), 0);
	sa.ch = ch;
	start_stalled_sender(&s, &sa);
	urt_chan_close(ch); /* "either side, idempotent; queued items stay" */
	start_receivers(ch, r, a, 1);
	atomic_store(&released, 1);
	pthread_join(s, NULL);
	assert_int_equal(sa.res, 0);
	pthread_join(r[0], NULL);
	assert_int_equal(a[0].res, 0);
	assert_int_equal(a[0].item, 100);
	assert_int_equal(urt_chan_len(ch), 0);
	urt_chan_receiver_drop(ch);
	urt_chan_sender_drop(ch);
	stall_teardown();
}

/* The same with two receivers: one gets the item, the other the end. */
static void test_oneshot_close_during_send_ends_other_receiver(void **state)
{
	struct urt_chan *ch;
	pthread_t s, r[2];
	struct sender_arg sa;
	struct recv_arg a[2];

	(void)state;
	stall_setup();
	assert_int_equal(urt_oneshot_new(&ch, sizeof(int), NULL), 0);
	sa.ch = ch;
	start_stalled_sender(&s, &sa);
	urt_chan_close(ch);
	start_receivers(ch, r, a, 2);
	atomic_store(&released, 1);
	pthread_join(s, NULL);
	assert_int_equal(sa.res, 0);
	pthread_join(r[0], NULL);
	pthread_join(r[1], NULL);
	assert_true((a[0].res == 0 && a[0].item == 100 && a[1].res == -EPIPE) ||
		    (a[1].res == 0 && a[1].item == 100 && a[0].res == -EPIPE));
	urt_chan_receiver_drop(ch);
	urt_chan_sender_drop(ch);
	stall_teardown();
}

/*
 * Two pending recvs of one task on one channel (join(B, select(A, timer))
 * in the review): A waits in the channel's slot, B in its queue. A's
 * registration is woken and the item taken by someone else; B is granted
 * and its item taken too. B polls first and takes the free slot; then A is
 * cancelled (the timer won). A's leaving must not remove B's registration:
 * a later send must still reach B. One task polls both futures by hand, so
 * the order is fixed; the "someone else" is the same task's try_recv.
 */
struct two_recv {
	struct urt_future base;
	struct urt_chan *ch;
	struct urt_chan_op a, b;
	int va, vb;
	int step;
	int r[8]; /* results along the way, checked by the test */
	int rb;
	atomic_int armed, done;
};

static int two_recv_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct two_recv *t = (struct two_recv *)f;
	int v;

	switch (t->step) {
	case 0:
		t->r[0] = urt_future_poll(urt_chan_recv(&t->a, t->ch, &t->va),
					  cx); /* A: the slot */
		t->r[1] = urt_future_poll(urt_chan_recv(&t->b, t->ch, &t->vb),
					  cx); /* B: the queue */
		/* X: wakes the slot (A; we are running: polled again once). */
		t->r[2] = urt_chan_try_send(t->ch, &(int){ 1 });
		t->r[3] = urt_chan_try_recv(t->ch, &v); /* someone else */
		/* Y: the slot is empty now, so this grants B (the queue). */
		t->r[4] = urt_chan_try_send(t->ch, &(int){ 2 });
		t->r[5] = urt_chan_try_recv(t->ch, &v);
		t->step = 1;
		return URT_PENDING; /* the wake-ups above poll us once more */
	case 1:
		/* B finds nothing and takes the free slot; A sees the task in
		 * the slot and stays pending; then A is cancelled. */
		t->r[6] = urt_future_poll(&t->b.base, cx);
		t->r[7] = urt_future_poll(&t->a.base, cx);
		urt_future_cancel(&t->a.base, cx);
		if (urt_future_poll(&t->a.base, cx) != -ECANCELED)
			t->r[7] = 99;
		t->step = 2;
		atomic_store(&t->armed, 1);
		return URT_PENDING; /* only B's registration polls us now */
	default:
		t->rb = urt_future_poll(&t->b.base, cx);
		if (t->rb == URT_PENDING)
			return URT_PENDING;
		atomic_store(&t->done, 1);
		return 0;
	}
}

static const struct urt_future_vt two_recv_vt = { .poll = two_recv_poll };

static void test_chan_cancelled_recv_keeps_sibling_recv_registered(
	void **state)
{
	struct urt_rt *rt = h_rt(1);
	struct two_recv t = { .base.vt = &two_recv_vt };
	struct urt_task_handle h;
	uint64_t end;

	(void)state;
	assert_int_equal(urt_chan_new(&t.ch, sizeof(int), 4, NULL), 0);
	assert_int_equal(urt_task_spawn(rt, &t.base, &h), 0);
	wait_flag(&t.armed);
	assert_int_equal(t.r[0], URT_PENDING);
	assert_int_equal(t.r[1], URT_PENDING);
	assert_int_equal(t.r[2], 0);
	assert_int_equal(t.r[3], 0);
	assert_int_equal(t.r[4], 0);
	assert_int_equal(t.r[5], 0);
	assert_int_equal(t.r[6], URT_PENDING);
	assert_int_equal(t.r[7], URT_PENDING);
	nap_ms(10); /* let any wake-up of the task run first */
	assert_int_equal(urt_chan_try_send(t.ch, &(int){ 3 }), 0);
	end = urt_now_ns() + WAIT_NS;
	while (!atomic_load(&t.done)) {
		/* B's registration was lost: nobody wakes the task. */
		assert_true(urt_now_ns() < end);
		nap_ms(1);
	}
	assert_int_equal(urt_task_join_blocking(&h), 0);
	assert_int_equal(t.rb, 0);
	assert_int_equal(t.vb, 3);
	urt_chan_sender_drop(t.ch);
	urt_chan_receiver_drop(t.ch);
	h_rt_free_clean(rt);
}

/* argv[1], if given: run only the cases whose name matches it (cmocka's
 * pattern), e.g. to see one fail on its own. */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_chan_items_behind_head_reach_every_receiver),
		cmocka_unit_test(
			test_chan_close_during_send_ends_every_receiver),
		cmocka_unit_test(
			test_oneshot_receiver_close_during_send_still_delivers),
		cmocka_unit_test(
			test_oneshot_close_during_send_ends_other_receiver),
		cmocka_unit_test(
			test_chan_cancelled_recv_keeps_sibling_recv_registered),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
