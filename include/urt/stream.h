/* SPDX-License-Identifier: MIT */
/*
 * Streams: async iterators. poll_next() writes the next item into out and
 * returns URT_STREAM_ITEM, or URT_STREAM_END (no more items, ever), or a
 * -errno "error item" (the stream goes on: e.g. -ETIME from the timeout
 * adapter), or URT_PENDING (the current task will be woken).
 *
 * Cancellation (as for futures): cancel() asks a pending poll_next to
 * finish; the owner keeps calling poll_next until it returns something
 * other than URT_PENDING, usually -ECANCELED (an item may still come out
 * of an adapter that had one in hand: it is delivered, not lost). After
 * that the stream is consistent: poll it again, or drop it. Every adapter
 * forwards cancel to its inner streams and drains its own timer ops.
 * urt_stream_stop() does "cancel, then drain" as a future; use it before
 * dropping a stream whose adapters may hold timers (throttle, timeout).
 *
 * Everything is caller-owned (init functions, no allocation); poll a
 * stream from one task at a time. Adapters' timers are ops of the polling
 * task, so a stream with throttle/timeout must be polled from one task.
 */
#ifndef URT_STREAM_H
#define URT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "future.h"
#include "op.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif

#define URT_STREAM_ITEM 1
#define URT_STREAM_END 0

struct urt_stream;

struct urt_stream_vt {
	int (*poll_next)(struct urt_stream *s, struct urt_cx *cx, void *out);
	void (*cancel)(struct urt_stream *s, struct urt_cx *cx);
};

struct urt_stream {
	const struct urt_stream_vt *vt;
	size_t item_size; /* bytes poll_next writes into out */
};

static inline int urt_stream_poll_next(struct urt_stream *s,
				       struct urt_cx *cx, void *out)
{
	return s->vt->poll_next(s, cx, out);
}

void urt_stream_cancel(struct urt_stream *s, struct urt_cx *cx);

/*
 * Await the next item: result URT_STREAM_ITEM (out filled), URT_STREAM_END,
 * or a -errno error item / -ECANCELED. Cancelling it cancels the stream's
 * pending poll_next.
 */
struct urt_stream_next {
	struct urt_future base;
	struct urt_stream *s;
	void *out;
	bool stop; /* private: urt_stream_stop */
};
struct urt_future *urt_stream_next(struct urt_stream_next *n,
				   struct urt_stream *s, void *out);
/*
 * Cancel the stream, then drain it (items met on the way are written to
 * out, which must hold one item, and dropped). Result 0. The stream may
 * then be dropped with nothing left in flight.
 */
struct urt_future *urt_stream_stop(struct urt_stream_next *n,
				   struct urt_stream *s, void *out);

/* --- sources --------------------------------------------------------- */

/*
 * A channel receiver as a stream: items of the channel's item size; end
 * when the channel is closed and drained. Does not drop the receiver.
 */
struct urt_chan_stream {
	struct urt_stream base;
	struct urt_chan_op op;
};
struct urt_stream *urt_chan_stream_init(struct urt_chan_stream *cs,
					struct urt_chan *ch);

/* An interval as a stream of uint64_t tick numbers (see urt_interval);
 * never ends. */
struct urt_interval_stream {
	struct urt_stream base;
	struct urt_interval iv;
};
struct urt_stream *urt_interval_stream_init(struct urt_interval_stream *is,
					    uint64_t period_ns);

/* --- adapters -------------------------------------------------------- */

/*
 * map: out = fn(in) for every item. fn returns 0, or -errno to emit an
 * error item instead. scratch holds one inner item (inner->item_size).
 * Error items of the inner stream pass through unmapped.
 */
typedef int (*urt_stream_map_fn)(void *ctx, const void *in, void *out);
struct urt_stream_map {
	struct urt_stream base;
	struct urt_stream *inner;
	urt_stream_map_fn fn;
	void *ctx;
	void *scratch;
};
struct urt_stream *urt_stream_map_init(struct urt_stream_map *m,
				       struct urt_stream *inner,
				       size_t out_item_size,
				       urt_stream_map_fn fn, void *ctx,
				       void *scratch);

/* filter: keeps the items for which keep() returns true. */
typedef bool (*urt_stream_filter_fn)(void *ctx, const void *item);
struct urt_stream_filter {
	struct urt_stream base;
	struct urt_stream *inner;
	urt_stream_filter_fn keep;
	void *ctx;
};
struct urt_stream *urt_stream_filter_init(struct urt_stream_filter *f,
					  struct urt_stream *inner,
					  urt_stream_filter_fn keep, void *ctx);

/*
 * take: the first n items, then the end. Reaching n, it stops (cancels
 * and drains) the inner stream, so no timer of it stays in flight; error
 * items do not count.
 */
struct urt_stream_take {
	struct urt_stream base;
	struct urt_stream *inner;
	uint64_t left;
	int phase; /* private */
};
struct urt_stream *urt_stream_take_init(struct urt_stream_take *t,
					struct urt_stream *inner, uint64_t n);

/*
 * merge: items of a and b (same item size) as they come; ends when both
 * ended. Fair: after one of them gave an item, the other is polled first
 * next time, so a busy stream cannot starve a slow one.
 */
struct urt_stream_merge {
	struct urt_stream base;
	struct urt_stream *s[2];
	unsigned first;	   /* polled first next time */
	bool done[2];	   /* ended */
	bool cancelling;   /* private */
	bool drained[2];   /* private */
};
struct urt_stream *urt_stream_merge_init(struct urt_stream_merge *m,
					 struct urt_stream *a,
					 struct urt_stream *b);

/*
 * throttle: at most one item per period_ns: after an item is delivered at
 * time t, the next is not taken from inner before t + period (it waits on
 * a timer op). Items are delayed, never dropped.
 */
struct urt_stream_throttle {
	struct urt_stream base;
	struct urt_stream *inner;
	uint64_t period_ns;
	uint64_t next_ns; /* earliest time of the next item */
	struct urt_op op;
	bool sleeping, cancelled; /* private */
};
struct urt_stream *urt_stream_throttle_init(struct urt_stream_throttle *t,
					    struct urt_stream *inner,
					    uint64_t period_ns);

/*
 * timeout: a per-item deadline. When no item came within timeout_ns of
 * the moment the consumer started waiting for it, the stream yields a
 * -ETIME error item (and the wait for the next one starts over); inner is
 * not cancelled. One timer op, re-armed lazily (no cancel per item).
 */
struct urt_stream_timeout {
	struct urt_stream base;
	struct urt_stream *inner;
	uint64_t timeout_ns;
	uint64_t deadline_ns; /* 0: starts at the next poll */
	struct urt_op op;
	bool armed, cancelled, ending; /* private */
};
struct urt_stream *urt_stream_timeout_init(struct urt_stream_timeout *t,
					   struct urt_stream *inner,
					   uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif
