/* SPDX-License-Identifier: MIT */
/*
 * The ring layer: the only interface to liburing. A ring is owned by one
 * thread (the one that created it); every function here except
 * urt__msg_ring_sync() must be called on that thread.
 */
#ifndef URT_RING_H
#define URT_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "urt/op.h"
#include "urt/rt.h"

struct urt__ring;

/* user_data tags (low 3 bits; ops and tasks are 8-byte aligned). */
enum {
	URT__UD_OP = 0,	    /* the pointer is a struct urt_op */
	URT__UD_IGNORE = 1, /* internal SQE (cancel, link timeout, msg source) */
	URT__UD_WAKE = 2,   /* MSG_RING wake-up message */
	URT__UD_CANCEL = 3, /* MSG_RING "cancel this op (pointer) on your ring" */
	URT__UD_TAG_MASK = 7,
};

/* Called for every CQE reaped; may call urt__ring_submit_*() re-entrantly. */
typedef void (*urt__cqe_fn)(void *ctx, uint64_t user_data, int res,
			    uint32_t flags);

/*
 * Creates a ring for the calling thread with the best setup flags the kernel
 * accepts (falling back flag by flag), registers its fd, probes opcodes.
 * err receives -errno and a message is recorded (urt__ring_last_error()).
 */
struct urt__ring *urt__ring_new(const struct urt_config *cfg, urt__cqe_fn fn,
				void *ctx, int *err);
/* Precondition: nothing in flight (urt__ring_inflight() == 0). */
void urt__ring_free(struct urt__ring *r);
const char *urt__ring_last_error(void);

int urt__ring_fd(const struct urt__ring *r);
unsigned urt__ring_setup_flags(const struct urt__ring *r);
bool urt__ring_has_op(const struct urt__ring *r, unsigned opcode);
/* SQEs prepared whose CQE has not been reaped yet (includes internal ones). */
uint64_t urt__ring_inflight(const struct urt__ring *r);
uint64_t urt__ring_sq_full_retries(const struct urt__ring *r);
uint64_t urt__ring_cq_overflows(const struct urt__ring *r);

/*
 * Prepares the SQE(s) for op (plus its LINK_TIMEOUT if it has a deadline).
 * When the SQ is full it submits, reaping CQEs if the kernel asks, and
 * retries: it never drops. Returns 0 or -errno (ring broken).
 */
int urt__ring_prep_op(struct urt__ring *r, struct urt_op *op);
/* ASYNC_CANCEL of the op whose user_data is target. */
int urt__ring_prep_cancel(struct urt__ring *r, uint64_t target);
/* ASYNC_CANCEL of every op in flight on this ring (shutdown). */
int urt__ring_cancel_all(struct urt__ring *r);
/* MSG_RING to another ring's fd, submitted at once. */
int urt__ring_msg(struct urt__ring *r, int target_fd, uint64_t user_data,
		  int32_t res);
/*
 * Submits pending SQEs and hands every available CQE to the callback.
 * wait: block until at least one CQE arrives (or a signal). Returns the
 * number of CQEs reaped or -errno.
 */
int urt__ring_reap(struct urt__ring *r, bool wait);
/* The same; a wait ends after timeout_ns (0: no limit). */
int urt__ring_reap_timeout(struct urt__ring *r, bool wait,
			   uint64_t timeout_ns);
/* Submits pending SQEs without reaping. */
int urt__ring_flush(struct urt__ring *r);

/*
 * Posts a CQE (user_data, res) into the ring behind target_fd from a thread
 * that may own no ring: IORING_REGISTER_SEND_MSG_RING (kernel 6.13+), else a
 * lazily created one-entry ring owned by the calling thread.
 */
int urt__msg_ring_sync(int target_fd, uint64_t user_data, int32_t res);

#endif
