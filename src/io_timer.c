/* SPDX-License-Identifier: MIT */
/*
 * Timer ops: IORING_OP_TIMEOUT with no completion count, so a timer is an op
 * like any other (cancellable, drained on abort, reaped by its ring).
 */
#include <time.h>

#include "compat.h"
#include "internal.h"

uint64_t urt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct urt_future *timer(struct urt_op *op, uint64_t ns, uint32_t flags)
{
	urt__op_init(op, IORING_OP_TIMEOUT);
	op->flags = URT__OPF_TIMER;
	op->ts.tv_sec = (int64_t)(ns / 1000000000ull);
	op->ts.tv_nsec = (long long)(ns % 1000000000ull);
	op->len = 1;	      /* one timespec */
	op->off = 0;	      /* completion count 0: a pure timer */
	op->op_flags = flags; /* sqe->timeout_flags */
	return &op->base;
}

struct urt_future *urt_op_sleep(struct urt_op *op, uint64_t ns)
{
	return timer(op, ns, 0);
}

struct urt_future *urt_op_sleep_until(struct urt_op *op, uint64_t deadline_ns)
{
	/* ABS without a clock flag: CLOCK_MONOTONIC, as urt_now_ns() */
	return timer(op, deadline_ns, IORING_TIMEOUT_ABS);
}
