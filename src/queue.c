/* SPDX-License-Identifier: MIT */
/*
 * Run queues: the per-worker bounded SPMC ring (owner pushes and pops at
 * either end of the live range; stealers take half with one CAS) and the
 * global inject queue. Who runs what, and when, is sched.c's business.
 *
 * Local queue (the tokio/Go layout). head packs two 32-bit indices:
 *   real  (low)  next slot the owner pops / stealers claim from;
 *   steal (high) first slot a stealer is still copying out of.
 * steal == real when no steal is in progress. tail is written by the owner
 * only. Slots in [steal, tail) are live and must not be overwritten, so the
 * owner's capacity check uses steal, not real. Indices wrap (u32).
 *
 * Memory ordering:
 *  - push: slot store, then tail store (release; seq_cst for parking when
 *    membarrier is missing); a stealer load-acquires tail before reading
 *    slots.
 *  - steal: claim CAS on head (acq_rel) moves real forward; the copy-out
 *    reads slots; the release CAS moves steal up to real, publishing "slots
 *    free" to the owner, whose push load-acquires head before reusing one.
 *  - pop: CAS on head (acq_rel), racing with claims.
 */
#include <stdlib.h>

#include "internal.h"

#define CAP URT_LOCAL_QUEUE_SIZE
#define MASK (CAP - 1)
_Static_assert((CAP & MASK) == 0, "queue size must be a power of two");

static uint64_t pack(uint32_t steal, uint32_t real)
{
	return (uint64_t)steal << 32 | real;
}

static uint32_t steal_of(uint64_t h)
{
	return (uint32_t)(h >> 32);
}

static uint32_t real_of(uint64_t h)
{
	return (uint32_t)h;
}

int urt__lq_init(struct urt__lq *q)
{
	q->buf = calloc(CAP, sizeof(*q->buf));
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	return q->buf ? 0 : -ENOMEM;
}

void urt__lq_deinit(struct urt__lq *q)
{
	free(q->buf);
	q->buf = NULL;
}

/*
 * Moves half of a full queue plus t into the inject queue. Fails (returns
 * false) if a stealer got in first: then there is room again.
 */
static bool push_overflow(struct urt__lq *q, struct urt_rt *rt,
			  uint64_t head, uint32_t tail, struct urt_task *t)
{
	const uint32_t n = CAP / 2;
	uint32_t real = real_of(head);
	struct urt_task *v[CAP / 2 + 1];

	/* Claim n tasks as if stealing them; fails if a stealer is active
	 * or the owner's view is stale. */
	if (tail - real != CAP)
		return false;
	if (!atomic_compare_exchange_strong_explicit(
		    &q->head, &head, pack(real + n, real + n),
		    memory_order_acq_rel, memory_order_relaxed))
		return false;
	for (uint32_t i = 0; i < n; i++)
		v[i] = q->buf[(real + i) & MASK];
	v[n] = t;
	urt__inject_push(rt, v, n + 1);
	return true;
}

bool urt__lq_push(struct urt__lq *q, struct urt_rt *rt, struct urt_task *t)
{
	for (;;) {
		/* acquire: slots freed by a stealer's release CAS */
		uint64_t head = atomic_load_explicit(&q->head,
						     memory_order_acquire);
		/* relaxed: only this thread writes tail */
		uint32_t tail = atomic_load_explicit(&q->tail,
						     memory_order_relaxed);

		if (tail - steal_of(head) < CAP) {
			q->buf[tail & MASK] = t;
			/* release: the slot before the index, for stealers.
			 * The parking argument in sched.c also needs this
			 * store ordered before the idle counters' loads
			 * that follow: the parker's membarrier does that
			 * (asym_park), else a seq_cst store (a full barrier
			 * on this core's own line). A lone worker has
			 * nobody to wake. */
			if (rt->nworkers > 1 && !rt->asym_park)
				atomic_store(&q->tail, tail + 1);
			else
				atomic_store_explicit(&q->tail, tail + 1,
						      memory_order_release);
			return false;
		}
		if (steal_of(head) != real_of(head)) {
			/* A stealer is copying out; it will free half the
			 * queue. Meanwhile send this one task to inject. */
			urt__inject_push(rt, &t, 1);
			return true;
		}
		if (push_overflow(q, rt, head, tail, t))
			return true;
	}
}

struct urt_task *urt__lq_pop(struct urt__lq *q)
{
	uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	for (;;) {
		uint32_t steal = steal_of(head), real = real_of(head);
		uint32_t tail = atomic_load_explicit(&q->tail,
						     memory_order_relaxed);
		uint64_t next;

		if (real == tail)
			return NULL;
		/* No steal in progress: move both; else only ours. */
		next = steal == real ? pack(real + 1, real + 1)
				     : pack(steal, real + 1);
		if (atomic_compare_exchange_weak_explicit(
			    &q->head, &head, next, memory_order_acq_rel,
			    memory_order_acquire))
			return q->buf[real & MASK];
	}
}

struct urt_task *urt__lq_steal_into(struct urt__lq *src, struct urt__lq *dst,
				    uint32_t *count)
{
	uint64_t head = atomic_load_explicit(&src->head, memory_order_acquire);
	uint32_t dst_tail = atomic_load_explicit(&dst->tail,
						 memory_order_relaxed);
	uint32_t dst_steal = steal_of(atomic_load_explicit(
		&dst->head, memory_order_acquire));
	uint32_t n, real;
	struct urt_task *ret;

	*count = 0;
	/* Don't steal into a queue more than half full (tokio's rule). */
	if (dst_tail - dst_steal > CAP / 2)
		return NULL;
	/* 1. Claim half of src: move real, keep steal where it is. */
	for (;;) {
		uint32_t steal = steal_of(head);
		uint32_t tail;

		real = real_of(head);
		if (steal != real)
			return NULL; /* another stealer is active */
		/* acquire: slots written before this tail are visible */
		tail = atomic_load_explicit(&src->tail, memory_order_acquire);
		n = tail - real;
		n -= n / 2;
		if (n == 0 || n > CAP / 2)
			return NULL; /* empty, or a stale racing view */
		if (atomic_compare_exchange_weak_explicit(
			    &src->head, &head, pack(steal, real + n),
			    memory_order_acq_rel, memory_order_acquire))
			break;
	}
	/* 2. Copy out: the owner cannot reuse [real, real+n) meanwhile.
	 * The tasks are ours now: mark them for the migrate probe. */
	ret = src->buf[(real + n - 1) & MASK];
	ret->flags |= URT__TF_STOLEN;
	for (uint32_t i = 0; i + 1 < n; i++) {
		struct urt_task *x = src->buf[(real + i) & MASK];
		x->flags |= URT__TF_STOLEN;
		dst->buf[(dst_tail + i) & MASK] = x;
	}
	/* 3. Release the claim: steal catches up with real, which the owner
	 * may have moved meanwhile by popping. */
	head = atomic_load_explicit(&src->head, memory_order_acquire);
	for (;;) {
		uint64_t next = pack(real_of(head), real_of(head));
		if (atomic_compare_exchange_weak_explicit(
			    &src->head, &head, next, memory_order_acq_rel,
			    memory_order_acquire))
			break;
	}
	if (n > 1)
		/* release: dst's slots before its tail (stealers of dst) */
		atomic_store_explicit(&dst->tail, dst_tail + n - 1,
				      memory_order_release);
	*count = n;
	return ret;
}

/* --- inject queue ---------------------------------------------------
 *
 * A ring of task pointers that grows by doubling, under inject_lock. A
 * push copies pointers in, a pop copies up to a batch out: neither touches
 * a task header while it holds the lock. (A linked list made a batch pop
 * chase up to 128 cold headers under the lock; with two workers taking
 * turns at overflow and refill, they convoyed on it, futex sleeps and all.)
 * When the ring cannot grow (ENOMEM; or past URT_INJECT_RING_MAX, which
 * the small-queues build sets low so that tests run this path), tasks go
 * to a spill list (u.next), and so do all pushes until it is empty again;
 * pops drain the ring first. Nothing is lost and the order stays FIFO.
 */

#ifndef URT_INJECT_RING_MAX
#define URT_INJECT_RING_MAX ((size_t)1 << 26)
#endif
#define INJECT_MIN 256

/* Caller holds the lock. Makes room for n more; false if it cannot. */
static bool inject_reserve(struct urt_rt *rt, size_t n)
{
	size_t cap = rt->inject_cap, need = rt->inject_n + n;
	struct urt_task **nb;

	if (need <= cap)
		return true;
	if (!cap)
		cap = INJECT_MIN;
	while (cap < need)
		cap *= 2;
	if (cap > URT_INJECT_RING_MAX)
		return false;
	nb = malloc(cap * sizeof(*nb));
	if (!nb)
		return false;
	/* Unwrap the live range to the start of the new ring. */
	for (size_t i = 0; i < rt->inject_n; i++)
		nb[i] = rt->inject_buf[(rt->inject_first + i) &
				       (rt->inject_cap - 1)];
	free(rt->inject_buf);
	rt->inject_buf = nb;
	rt->inject_cap = cap;
	rt->inject_first = 0;
	return true;
}

void urt__inject_push(struct urt_rt *rt, struct urt_task *const *v, size_t n)
{
	pthread_mutex_lock(&rt->inject_lock);
	if (!rt->inject_head && inject_reserve(rt, n)) {
		size_t mask = rt->inject_cap - 1;
		size_t at = rt->inject_first + rt->inject_n;

		for (size_t i = 0; i < n; i++)
			rt->inject_buf[(at + i) & mask] = v[i];
		rt->inject_n += n;
	} else {
		/* Spill (rare): behind whatever spilled before, so that
		 * the spill list stays FIFO. relaxed: statistics. */
		atomic_fetch_add_explicit(&rt->inject_spills, n,
					  memory_order_relaxed);
		for (size_t i = 0; i < n; i++) {
			v[i]->u.next = NULL;
			if (rt->inject_tail)
				rt->inject_tail->u.next = v[i];
			else
				rt->inject_head = v[i];
			rt->inject_tail = v[i];
		}
	}
	/* seq_cst: ordered before the idle-counter loads (sched.c) */
	atomic_fetch_add(&rt->inject_len, n);
	pthread_mutex_unlock(&rt->inject_lock);
}

struct urt_task *urt__inject_pop(struct urt_rt *rt, struct urt__lq *dst,
				 uint32_t max)
{
	struct urt_task *first;
	uint32_t dst_tail = 0, n = 0;

	if (!atomic_load(&rt->inject_len))
		return NULL;
	if (dst)
		/* relaxed: only this thread (dst's owner) writes dst->tail */
		dst_tail = atomic_load_explicit(&dst->tail,
						memory_order_relaxed);
	pthread_mutex_lock(&rt->inject_lock);
	if (rt->inject_n) {
		size_t mask = rt->inject_cap - 1;
		uint32_t take = 1;

		if (dst) {
			uint32_t room = CAP - (dst_tail -
					       steal_of(atomic_load_explicit(
						       &dst->head,
						       memory_order_acquire)));
			take = max < room + 1 ? max : room + 1;
			if (take > rt->inject_n)
				take = (uint32_t)rt->inject_n;
			if (!take)
				take = 1;
		}
		first = rt->inject_buf[rt->inject_first & mask];
		/* dst's slots past its tail are the owner's (not yet
		 * published): fill them here, publish after the flags */
		for (uint32_t i = 1; i < take; i++)
			dst->buf[(dst_tail + i - 1) & MASK] =
				rt->inject_buf[(rt->inject_first + i) & mask];
		rt->inject_first += take;
		rt->inject_n -= take;
		n = take;
	} else if ((first = rt->inject_head)) {
		rt->inject_head = first->u.next;
		if (!rt->inject_head)
			rt->inject_tail = NULL;
		n = 1;
	}
	if (n)
		atomic_fetch_sub(&rt->inject_len, n);
	pthread_mutex_unlock(&rt->inject_lock);
	if (!n)
		return NULL;
	/* Ours now, not yet visible to stealers: mark them for the migrate
	 * probe outside the lock. */
	first->flags |= URT__TF_INJECTED;
	for (uint32_t i = 1; i < n; i++)
		dst->buf[(dst_tail + i - 1) & MASK]->flags |= URT__TF_INJECTED;
	if (n > 1)
		/* release: the slots before the index, for stealers */
		atomic_store_explicit(&dst->tail, dst_tail + n - 1,
				      memory_order_release);
	return first;
}

void urt__inject_deinit(struct urt_rt *rt)
{
	free(rt->inject_buf);
	rt->inject_buf = NULL;
	rt->inject_cap = rt->inject_n = rt->inject_first = 0;
}
