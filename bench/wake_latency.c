/* SPDX-License-Identifier: MIT */
/*
 * wake_latency: round-trip time of a wake-up between two threads, each
 * blocked in the kernel between wake-ups. Three variants, same counts:
 *  - "msg_ring": two threads, one ring each (SINGLE_ISSUER|DEFER_TASKRUN,
 *    created by its thread), each blocked in io_uring_enter(GETEVENTS) on
 *    its own ring; a wake is an IORING_OP_MSG_RING from the waker's ring
 *    into the target's ring (CQE_SKIP_SUCCESS: no CQE at the source).
 *  - "eventfd": same threads and rings; each keeps a READ of its own
 *    eventfd (EFD_NONBLOCK) armed on its ring and blocks in io_uring_enter;
 *    a wake is a write(2) to the target's eventfd (the monoio/Photon way).
 *  - "urt": the runtime itself, 2 workers. A hop: a task spawns the next
 *    hop task, then a no-op filler task, and spins until the hop has
 *    started; the other worker was parked (its park count rose and it had
 *    20 us to get into io_uring_enter). The scheduler wakes a parked sibling
 *    only for surplus work (more than one task queued: tokio's rule), which
 *    the filler provides: the notify wakes it with MSG_RING, it steals the
 *    hop (the head of the spinning worker's queue) and polls it. A single
 *    spawned task behind a worker stuck in a poll would instead wait for
 *    the sibling's timed park (long_poll_ns / 2): not what this measures. One-way = spawn -> first poll on
 *    the other worker; a round trip is two hops (w0 -> w1 -> w0). A task
 *    woken by a waker runs where it is woken (LIFO slot), so the public API
 *    has no way to make a waker cross workers; this spawn+steal hop is the
 *    runtime's own cross-worker wake path.
 * Placement, 4th argument: "nopin" (default: the OS places the threads;
 * it often puts both on one CPU, so results are bimodal), "pin" (side /
 * worker i on CPU i: every wake crosses CPUs and wakes an idle vCPU), or
 * "same" (everything on CPU 0: no IPI; the process is pinned before the
 * runtime starts, so the workers inherit it). Prints one JSON line per
 * variant: ns_per_op is the mean round trip, p50/p99 round-trip
 * percentiles in ns.
 * Usage: wake_latency [round_trips=20000] [warmup=2000] [variant=all]
 *                     [nopin|pin|same]
 */
#define _GNU_SOURCE
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench.h"

#define UD_PING 0x5049u
#define UD_PONG 0x504fu
#define UD_READ 0x5244u

enum mech { MECH_MSG_RING, MECH_EVENTFD };
enum place { PLACE_NOPIN, PLACE_PIN, PLACE_SAME };
static const char *const place_name[] = { "nopin", "pin", "same" };

struct pair {
	enum mech mech;
	uint64_t total, warmup; /* round trips */
	enum place place;
	pthread_barrier_t ready;
	int ring_fd[2]; /* published before the barrier */
	int efd[2];
	uint64_t *rtt;	/* [total - warmup], written by thread 0 */
	int err[2];
};

struct side {
	struct pair *p;
	int me;
};

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static struct io_uring_sqe *sqe_of(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) { /* 8 entries and at most 2 in use: cannot happen */
		fprintf(stderr, "wake_latency: SQ full\n");
		abort();
	}
	return sqe;
}

/* Sends the wake-up to the other side. 0 or -errno. */
static int wake_other(struct pair *p, struct io_uring *ring, int me)
{
	if (p->mech == MECH_MSG_RING) {
		struct io_uring_sqe *sqe = sqe_of(ring);

		io_uring_prep_msg_ring(sqe, p->ring_fd[!me], 0,
				       me ? UD_PONG : UD_PING, 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		sqe->user_data = 0;
		return 0; /* submitted by the wait that follows */
	} else {
		uint64_t one = 1;

		return write(p->efd[!me], &one, sizeof(one)) == sizeof(one)
			       ? 0
			       : -errno;
	}
}

static void arm_read(struct io_uring *ring, int fd, uint64_t *buf)
{
	struct io_uring_sqe *sqe = sqe_of(ring);

	io_uring_prep_read(sqe, fd, buf, sizeof(*buf), 0);
	sqe->user_data = UD_READ;
}

/*
 * Submits what is queued, blocks in io_uring_enter until the other side's
 * wake-up has arrived, re-arms the eventfd READ. 0 or -errno.
 */
static int wait_wake(struct pair *p, struct io_uring *ring, int me,
		     uint64_t *buf)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		bool got = false;
		int ret = io_uring_submit_and_wait(ring, 1);

		if (ret < 0 && ret != -EINTR)
			return ret;
		io_uring_for_each_cqe(ring, head, cqe)
		{
			seen++;
			if (cqe->res < 0)
				return cqe->res;
			if (cqe->user_data == (me ? UD_PING : UD_PONG) ||
			    cqe->user_data == UD_READ)
				got = true;
		}
		io_uring_cq_advance(ring, seen);
		if (got) {
			if (p->mech == MECH_EVENTFD)
				arm_read(ring, p->efd[me], buf);
			return 0;
		}
	}
}

static void *side_main(void *arg)
{
	struct side *sd = arg;
	struct pair *p = sd->p;
	struct io_uring_params prm = { 0 };
	struct io_uring ring;
	uint64_t buf = 0;
	int me = sd->me, err;

	if (p->place != PLACE_NOPIN)
		pin_self(p->place == PLACE_PIN ? me : 0);
	prm.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	err = io_uring_queue_init_params(8, &ring, &prm);
	if (err) {
		p->err[me] = err;
		p->ring_fd[me] = -1;
		pthread_barrier_wait(&p->ready);
		return NULL;
	}
	p->ring_fd[me] = ring.ring_fd;
	if (p->mech == MECH_EVENTFD) {
		arm_read(&ring, p->efd[me], &buf);
		err = io_uring_submit(&ring);
		err = err == 1 ? 0 : err < 0 ? err : -EIO;
	}
	pthread_barrier_wait(&p->ready);
	if (err || p->ring_fd[!me] < 0)
		goto out;
	for (uint64_t i = 0; i < p->total; i++) {
		uint64_t t0 = urt_now_ns();

		if (me == 0 && (err = wake_other(p, &ring, me)))
			break;
		if ((err = wait_wake(p, &ring, me, &buf)))
			break;
		if (me == 1 && (err = wake_other(p, &ring, me)))
			break;
		if (me == 0 && i >= p->warmup)
			p->rtt[i - p->warmup] = urt_now_ns() - t0;
	}
	/* the last MSG_RING (side 1) is still queued: submit it */
	if (!err && p->mech == MECH_MSG_RING && me == 1)
		err = io_uring_submit(&ring) < 0 ? -EIO : 0;
out:
	p->err[me] = err;
	io_uring_queue_exit(&ring);
	return NULL;
}

static void report(const char *variant, unsigned threads, uint64_t *rtt,
		   uint64_t n, enum place place, const char *more)
{
	uint64_t sum = 0, p50, p99, max;
	char extra[256];

	for (uint64_t i = 0; i < n; i++)
		sum += rtt[i];
	p50 = bench_pctl(rtt, n, 50);
	p99 = bench_pctl(rtt, n, 99);
	max = rtt[n - 1];
	snprintf(extra, sizeof(extra),
		 "\"variant\":\"%s\",\"p50_ns\":%llu,\"p99_ns\":%llu,"
		 "\"max_ns\":%llu,\"placement\":\"%s\"%s%s",
		 variant, (unsigned long long)p50, (unsigned long long)p99,
		 (unsigned long long)max, place_name[place],
		 more && *more ? "," : "", more ? more : "");
	bench_json("wake_latency", threads, n, sum, bench_rss_kib(), extra);
}

static int run_pair(enum mech mech, uint64_t total, uint64_t warmup,
		    enum place place)
{
	struct pair p = { .mech = mech, .total = total, .warmup = warmup,
			  .place = place };
	struct side sd[2] = { { &p, 0 }, { &p, 1 } };
	pthread_t th[2];
	int rc = 1;

	p.rtt = calloc(total - warmup, sizeof(*p.rtt));
	p.efd[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p.efd[1] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!p.rtt || p.efd[0] < 0 || p.efd[1] < 0)
		return 1;
	pthread_barrier_init(&p.ready, NULL, 2);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, side_main, &sd[i]))
			return 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	if (p.err[0] || p.err[1]) {
		fprintf(stderr, "wake_latency %s: %s / %s\n",
			mech == MECH_MSG_RING ? "msg_ring" : "eventfd",
			urt_strerror(p.err[0]), urt_strerror(p.err[1]));
	} else {
		report(mech == MECH_MSG_RING ? "msg_ring" : "eventfd", 2,
		       p.rtt, total - warmup, place, NULL);
		rc = 0;
	}
	pthread_barrier_destroy(&p.ready);
	close(p.efd[0]);
	close(p.efd[1]);
	free(p.rtt);
	return rc;
}

/* --- variant "urt" ---------------------------------------------------- */

#define SETTLE_NS 20000ull	     /* after the park count rose */
#define HOP_TIMEOUT_NS 2000000000ull /* a lost wake fails the run */

struct hops {
	struct urt_rt *rt;
	uint64_t n;		 /* hop tasks in all: 2 * round trips + 1 */
	uint64_t *t_spawn;	 /* [k]: hop k spawned (by hop k - 1) */
	uint64_t *t_start;	 /* [k]: hop k's first poll began */
	_Atomic uint64_t started; /* highest hop that has started */
	_Atomic uint64_t same_worker; /* hops that did not cross */
	_Atomic int err;
	sem_t done;
};

struct hop {
	struct urt_co co;
	struct hops *h;
	uint64_t k;
	unsigned from; /* worker of hop k - 1 */
};

static int filler_run(struct urt_co *co, struct urt_cx *cx)
{
	(void)co;
	(void)cx;
	return 0;
}

static uint64_t parks_of(struct urt_rt *rt, unsigned w)
{
	struct urt_worker_stats ws;

	return urt_rt_worker_stats(rt, w, &ws) ? 0 : ws.parks;
}

static int hop_fail(struct hops *h, int err)
{
	atomic_store(&h->err, err);
	sem_post(&h->done);
	return err;
}

static int hop_run(struct urt_co *co, struct urt_cx *cx)
{
	struct hop *hp = (struct hop *)co;
	struct hops *h = hp->h;
	uint64_t k = hp->k, parks0, t;
	unsigned me = urt_cx_worker_id(cx), other = !me;
	struct hop *next;
	int err;

	h->t_start[k] = urt_now_ns();
	if (k && me == hp->from)
		atomic_fetch_add(&h->same_worker, 1);
	/* The other worker runs hop k - 1 until it sees us start: its park
	 * count cannot move before the store below. */
	parks0 = parks_of(h->rt, other);
	atomic_store_explicit(&h->started, k, memory_order_release);
	if (k + 1 == h->n) {
		sem_post(&h->done);
		return 0;
	}
	/* Wait until the other worker has parked, untimed (hop 0: it is
	 * parked or about to, nothing ran there yet; its hop is warm-up). */
	t = urt_now_ns();
	while (k && parks_of(h->rt, other) == parks0)
		if (urt_now_ns() - t > HOP_TIMEOUT_NS)
			return hop_fail(h, -ETIMEDOUT);
	t = urt_now_ns();
	while (urt_now_ns() - t < SETTLE_NS)
		;
	next = urt_frame_new(sizeof(*next));
	if (!next)
		return hop_fail(h, -ENOMEM);
	urt_co_init(&next->co, hop_run);
	next->h = h;
	next->k = k + 1;
	next->from = me;
	h->t_spawn[k + 1] = urt_now_ns();
	err = urt_task_spawn_frame(h->rt, next, NULL);
	if (err) {
		urt_frame_free(next);
		return hop_fail(h, err);
	}
	/* Surplus work, so that the spawn wakes the parked sibling. */
	struct urt_co *fill = urt_frame_new(sizeof(*fill));
	if (!fill)
		return hop_fail(h, -ENOMEM);
	urt_co_init(fill, filler_run);
	err = urt_task_spawn_frame(h->rt, fill, NULL);
	if (err) {
		urt_frame_free(fill);
		return hop_fail(h, err);
	}
	/* Hold this worker until the other one has taken the next hop. */
	t = urt_now_ns();
	while (atomic_load_explicit(&h->started, memory_order_acquire) <= k)
		if (urt_now_ns() - t > HOP_TIMEOUT_NS)
			return hop_fail(h, -ETIMEDOUT);
	return 0;
}

static int run_urt(uint64_t total, uint64_t warmup, enum place place)
{
	struct hops h = { .n = 2 * total + 1 };
	struct urt_rt *rt;
	struct hop *first;
	cpu_set_t saved, cpu0;
	uint64_t *rtt, n = total - warmup, one_sum = 0;
	char more[160];
	int err;

	/* "same": the workers inherit the creating thread's affinity. */
	if (place == PLACE_SAME) {
		CPU_ZERO(&cpu0);
		CPU_SET(0, &cpu0);
		if (sched_getaffinity(0, sizeof(saved), &saved) ||
		    sched_setaffinity(0, sizeof(cpu0), &cpu0))
			return 1;
	}
	rt = bench_rt(2, place == PLACE_PIN ? URT_CFG_PIN_WORKERS : 0);
	if (place == PLACE_SAME)
		(void)sched_setaffinity(0, sizeof(saved), &saved);
	h.rt = rt;
	h.t_spawn = calloc(h.n, sizeof(uint64_t));
	h.t_start = calloc(h.n, sizeof(uint64_t));
	rtt = calloc(n, sizeof(*rtt));
	first = urt_frame_new(sizeof(*first));
	if (!h.t_spawn || !h.t_start || !rtt || !first || sem_init(&h.done, 0, 0))
		return 1;
	urt_co_init(&first->co, hop_run);
	first->h = &h;
	err = urt_task_spawn_frame(rt, first, NULL);
	if (err)
		return 1;
	while (sem_wait(&h.done))
		;
	err = atomic_load(&h.err);
	if (err) {
		fprintf(stderr, "wake_latency urt: %s at hop %llu\n",
			urt_strerror(err),
			(unsigned long long)atomic_load(&h.started));
		return 1;
	}
	/* Round trip i: hops 2i+1 (w_a -> w_b) and 2i+2 (back). */
	for (uint64_t i = warmup; i < total; i++) {
		uint64_t a = h.t_start[2 * i + 1] - h.t_spawn[2 * i + 1];
		uint64_t b = h.t_start[2 * i + 2] - h.t_spawn[2 * i + 2];

		rtt[i - warmup] = a + b;
		one_sum += a + b;
	}
	snprintf(more, sizeof(more),
		 "\"one_way_mean_ns\":%.1f,\"same_worker_hops\":%llu",
		 (double)one_sum / (double)(2 * n),
		 (unsigned long long)atomic_load(&h.same_worker));
	if (atomic_load(&h.same_worker)) {
		fprintf(stderr, "wake_latency urt: %llu hops did not cross\n",
			(unsigned long long)atomic_load(&h.same_worker));
		return 1;
	}
	report("urt", 2, rtt, n, place, more);
	err = urt_rt_free(rt, NULL);
	sem_destroy(&h.done);
	free(h.t_spawn);
	free(h.t_start);
	free(rtt);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t total = bench_arg(argc, argv, 1, 20000);
	uint64_t warmup = bench_arg(argc, argv, 2, 2000);
	const char *v = bench_arg_str(argc, argv, 3, "all");
	const char *pl = bench_arg_str(argc, argv, 4, "nopin");
	enum place place = !strcmp(pl, "pin")	 ? PLACE_PIN
			   : !strcmp(pl, "same") ? PLACE_SAME
						 : PLACE_NOPIN;
	bool all = !strcmp(v, "all");
	int rc = 0;

	total += warmup; /* round trips measured: the first argument */
	if (total <= warmup)
		return 1;
	if (all || !strcmp(v, "msg_ring"))
		rc |= run_pair(MECH_MSG_RING, total, warmup, place);
	if (all || !strcmp(v, "eventfd"))
		rc |= run_pair(MECH_EVENTFD, total, warmup, place);
	if (all || !strcmp(v, "urt"))
		rc |= run_urt(total, warmup, place);
	return rc;
}
