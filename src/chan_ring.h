/* SPDX-License-Identifier: MIT */
/*
 * The lock-free part of a channel (chan.c): a ring of slots that senders
 * fill and receivers empty without a lock (Vyukov's bounded MPMC queue),
 * with a "shut" bit in the tail that stops further claims. Waiting, waking
 * and closing are chan.c's. Never installed.
 *
 * Positions count items: 0, 1, 2, ... (64-bit, never reused). Position p
 * lives in slot p mod n. Each slot's seq word says which position it is
 * ready for, doubled so that n = 1 works (a oneshot, capacity-1 channels):
 *   seq == 2p       free: a sender may claim position p (tail == p)
 *   seq == 2p + 1   published: position p's item is there to take
 * Taking p frees the slot for p + n (seq = 2(p + n)). A sender claims by
 * moving the tail from p to p + 1 with a CAS, copies its item in, then
 * publishes; a receiver claims by moving the head the same way, copies
 * the item out, then frees. Nobody holds a slot across a wait.
 */
#ifndef URT_CHAN_RING_H
#define URT_CHAN_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Tail bit: no more claims in this segment (closed, or sealed because
 * a bigger segment follows). Positions stay below 2^62. */
#define URT__SEG_SHUT (1ull << 63)

struct urt__seg {
	/* Senders' line: the next position to claim, | URT__SEG_SHUT. */
	_Atomic uint64_t tail __attribute__((aligned(64)));
	/* Receivers' line: the next position to take. */
	_Atomic uint64_t head __attribute__((aligned(64)));
	/* Read-mostly from here on. next: the segment that follows once
	 * this one is sealed (set before the SHUT bit, read after it). */
	struct urt__seg *_Atomic next __attribute__((aligned(64)));
	uint64_t n;	  /* slots */
	uint64_t mask;	  /* n - 1 if pow2 (n = 1 too: mask 0) */
	bool pow2;	  /* n is a power of two: index by mask, not % */
	size_t stride;	  /* bytes per slot: seq + item, 8-aligned */
	size_t item_size;
	unsigned char slots[] __attribute__((aligned(64)));
};

struct urt__slot {
	_Atomic uint64_t seq;
	unsigned char item[];
};

enum {
	URT__SEG_OK = 0,
	URT__SEG_FULL = 1,  /* claim: slot for tail still holds an old item */
	URT__SEG_EMPTY = 1, /* take: the head item is not published yet */
	URT__SEG_SHUT_ = 2, /* claim: tail shut; take: shut and all taken */
};

static inline struct urt__seg *urt__seg_new(uint64_t n, size_t item_size)
{
	size_t stride = (sizeof(uint64_t) + item_size + 7) & ~(size_t)7;
	size_t size = sizeof(struct urt__seg) + n * stride;
	struct urt__seg *s;

	size = (size + 63) & ~(size_t)63;
	s = aligned_alloc(64, size);
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->pow2 = !(n & (n - 1));
	s->mask = n - 1;
	s->stride = stride;
	s->item_size = item_size;
	for (uint64_t i = 0; i < n; i++) {
		struct urt__slot *sl =
			(struct urt__slot *)(void *)(s->slots + i * stride);
		atomic_init(&sl->seq, 2 * i);
	}
	return s;
}

static inline struct urt__slot *urt__seg_slot(struct urt__seg *s, uint64_t pos)
{
	uint64_t i = s->pow2 ? (pos & s->mask) : (pos % s->n);

	return (struct urt__slot *)(void *)(s->slots + i * s->stride);
}

/*
 * Claims the next position for a sender: URT__SEG_OK (*pos set; copy the
 * item in, then urt__seg_publish), URT__SEG_FULL, or URT__SEG_SHUT_.
 * shut_with URT__SEG_SHUT claims and shuts in one step (a oneshot).
 */
static inline int urt__seg_claim(struct urt__seg *s, uint64_t *pos,
				 uint64_t shut_with)
{
	/* acquire: a SHUT seen here orders the read of s->next after it
	 * (the grower stores next, then sets SHUT with a seq_cst RMW). */
	uint64_t t = atomic_load_explicit(&s->tail, memory_order_acquire);

	for (;;) {
		struct urt__slot *sl;
		uint64_t seq;
		int64_t d;

		if (t & URT__SEG_SHUT)
			return URT__SEG_SHUT_;
		sl = urt__seg_slot(s, t);
		/* acquire: pairs with the free (release part of seq_cst) of
		 * the receiver that copied the slot's old item out, so our
		 * copy in cannot overwrite it early. seq_cst: the waiting
		 * sender's re-check in chan.c (pump) is a Dekker pair with
		 * the receiver's free followed by its tx_wait load. */
		seq = atomic_load_explicit(&sl->seq, memory_order_seq_cst);
		d = (int64_t)(seq - 2 * t);
		if (d == 0) {
			/* The slot is ours by the CAS alone; what we write
			 * is published by seq, not by the tail. acquire
			 * only for the failure path's fresh t (SHUT). */
			if (atomic_compare_exchange_weak_explicit(
				    &s->tail, &t, (t + 1) | shut_with,
				    memory_order_acquire,
				    memory_order_acquire)) {
				*pos = t;
				return URT__SEG_OK;
			}
		} else if (d < 0) {
			/* Position t - n is not taken yet: full, unless the
			 * tail moved on meanwhile. */
			uint64_t t2 = atomic_load_explicit(
				&s->tail, memory_order_acquire);
			if (t2 == t)
				return URT__SEG_FULL;
			t = t2;
		} else {
			/* Another sender claimed t already. */
			t = atomic_load_explicit(&s->tail,
						 memory_order_acquire);
		}
	}
}

/*
 * Publishes a claimed position. seq_cst: release publishes the item to the
 * receiver's acquire; the total order makes this store and the sender's
 * following load of the receiver-waiting word a Dekker pair with the
 * receiver's registration and re-check (chan.c).
 */
static inline void urt__seg_publish(struct urt__seg *s, uint64_t pos)
{
	atomic_store_explicit(&urt__seg_slot(s, pos)->seq, 2 * pos + 1,
			      memory_order_seq_cst);
}

/*
 * Claims the next item for a receiver: URT__SEG_OK (*pos set; copy the
 * item out, then urt__seg_free), URT__SEG_EMPTY (nothing published at the
 * head yet: empty, or a sender is between claim and publish), or
 * URT__SEG_SHUT_ (shut, and every claimed position was taken).
 */
static inline int urt__seg_take(struct urt__seg *s, uint64_t *pos)
{
	uint64_t h = atomic_load_explicit(&s->head, memory_order_relaxed);

	for (;;) {
		struct urt__slot *sl = urt__seg_slot(s, h);
		/* acquire: pairs with the publish, so the item is there.
		 * seq_cst: the receiver's re-check after it registered as
		 * a waiter (Dekker pair with publish + waiter load). */
		uint64_t seq =
			atomic_load_explicit(&sl->seq, memory_order_seq_cst);
		int64_t d = (int64_t)(seq - (2 * h + 1));

		if (d == 0) {
			/* relaxed: the item is ours by the CAS alone. */
			if (atomic_compare_exchange_weak_explicit(
				    &s->head, &h, h + 1, memory_order_relaxed,
				    memory_order_relaxed)) {
				*pos = h;
				return URT__SEG_OK;
			}
		} else if (d < 0) {
			uint64_t h2 = atomic_load_explicit(
				&s->head, memory_order_relaxed);
			uint64_t t;

			if (h2 != h) {
				h = h2;
				continue;
			}
			/* seq_cst: the same re-check, against close (which
			 * sets SHUT, then takes the waiters). A tail that is
			 * shut at h will never publish h. */
			t = atomic_load_explicit(&s->tail,
						 memory_order_seq_cst);
			if ((t & URT__SEG_SHUT) && (t & ~URT__SEG_SHUT) == h)
				return URT__SEG_SHUT_;
			return URT__SEG_EMPTY;
		} else {
			/* Another receiver took h already. */
			h = atomic_load_explicit(&s->head,
						 memory_order_relaxed);
		}
	}
}

/*
 * Frees a taken slot for position pos + n. seq_cst: release hands the
 * slot back after our copy out (pairs with the claim's acquire); the total
 * order makes it and the receiver's following tx_wait load a Dekker pair
 * with a sender that queues as a waiter and re-checks (chan.c).
 */
static inline void urt__seg_free(struct urt__seg *s, uint64_t pos)
{
	atomic_store_explicit(&urt__seg_slot(s, pos)->seq, 2 * (pos + s->n),
			      memory_order_seq_cst);
}

/* True if urt__seg_take would not return URT__SEG_EMPTY (a snapshot). */
static inline bool urt__seg_ready(struct urt__seg *s)
{
	uint64_t h = atomic_load_explicit(&s->head, memory_order_relaxed);
	uint64_t seq = atomic_load_explicit(&urt__seg_slot(s, h)->seq,
					    memory_order_seq_cst);
	uint64_t t;

	if ((int64_t)(seq - (2 * h + 1)) >= 0)
		return true;
	t = atomic_load_explicit(&s->tail, memory_order_seq_cst);
	return (t & URT__SEG_SHUT) && (t & ~URT__SEG_SHUT) <= h;
}

/* Items claimed and not yet taken (a snapshot). */
static inline uint64_t urt__seg_len(struct urt__seg *s)
{
	/* head first: the tail read after it is at least as far. */
	uint64_t h = atomic_load_explicit(&s->head, memory_order_seq_cst);
	uint64_t t = atomic_load_explicit(&s->tail, memory_order_seq_cst) &
		     ~URT__SEG_SHUT;

	return t > h ? t - h : 0;
}

/* Copies an item (fixed size per channel); small sizes inline. */
static inline void urt__item_copy(void *dst, const void *src, size_t size)
{
	switch (size) {
	case 4:
		memcpy(dst, src, 4);
		break;
	case 8:
		memcpy(dst, src, 8);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, size);
	}
}

#endif
