/* SPDX-License-Identifier: MIT */
/* Intervals and timeouts, built on timer ops (urt_op_sleep*). */
#ifndef URT_TIME_H
#define URT_TIME_H

#include <stdint.h>

#include "future.h"
#include "op.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A periodic timer. Each urt_interval_tick() future is ready at the next
 * deadline (start + k * period). Ticks missed while nobody waited are
 * skipped, not bursted: the next deadline is the first one still ahead.
 * Result of a tick: the number of the tick (1, 2, ...), counting skipped
 * ones, or -ECANCELED. A cancelled tick (a select's loser) is not consumed:
 * the next urt_interval_tick() waits for the same deadline. Poll a tick only
 * from one task; the interval must stay valid while a tick is in flight.
 */
struct urt_interval {
	struct urt_future base;
	struct urt_op op;
	uint64_t next_ns;
	uint64_t period_ns;
	uint64_t start_ns;
	int armed; /* private: 0 idle, 1 sleep armed, 2 last tick cancelled */
};

/* period_ns > 0; the first tick is at now + period. */
void urt_interval_init(struct urt_interval *iv, uint64_t period_ns);
struct urt_future *urt_interval_tick(struct urt_interval *iv);

/*
 * Runs fut with a deadline: the result is fut's result, or -ETIME when the
 * deadline passed first (fut is then cancelled and drained; if it completes
 * anyway with a result other than -ECANCELED, that result is returned).
 */
struct urt_timeout {
	struct urt_future base;
	struct urt_op timer;
	struct urt_select sel;
	struct urt_future *futs[2];
	int results[2];
};
struct urt_future *urt_timeout_init(struct urt_timeout *t,
				    struct urt_future *fut, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif
