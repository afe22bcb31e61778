/* SPDX-License-Identifier: MIT */
/*
 * Intervals and the timeout combinator, on top of timer ops (io_timer.c).
 * Both run on the thread polling the owning task; neither allocates.
 */
#include <errno.h>

#include "internal.h"

/* iv->armed: what the next urt_interval_tick() does with next_ns. */
enum {
	IV_IDLE = 0,   /* last deadline delivered (or none yet): advance */
	IV_ARMED = 1,  /* a sleep for next_ns is in flight or ready */
	IV_MISSED = 2, /* last tick was cancelled: wait for it again */
};

static int iv_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_interval *iv = (struct urt_interval *)f;
	int r;

	if (iv->armed != IV_ARMED) {
		uint64_t now = urt_now_ns();
		/* Skip ticks nobody waited for: next deadline still ahead. */
		if (iv->next_ns <= now) {
			uint64_t behind = now - iv->next_ns;
			iv->next_ns += (behind / iv->period_ns + 1) *
				       iv->period_ns;
		}
		urt_op_sleep_until(&iv->op, iv->next_ns);
		iv->armed = IV_ARMED;
	}
	r = urt_future_poll(&iv->op.base, cx);
	if (r == URT_PENDING)
		return r;
	if (r < 0) {
		/* Cancelled (a select's loser, say): the tick is not
		 * delivered, so the next tick() must not step past it. */
		iv->armed = IV_MISSED;
		return r;
	}
	iv->armed = IV_IDLE;
	return (int)((iv->next_ns - iv->start_ns) / iv->period_ns);
}

static void iv_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_interval *iv = (struct urt_interval *)f;

	if (iv->armed != IV_ARMED) {
		/*
		 * Not polled since tick(): arm an op and cancel it before
		 * submission, so the next poll ends -ECANCELED at once
		 * instead of sleeping a whole period.
		 */
		urt_op_sleep_until(&iv->op, iv->next_ns);
		iv->armed = IV_ARMED;
	}
	urt_future_cancel(&iv->op.base, cx);
}

static const struct urt_future_vt iv_vt = {
	.poll = iv_poll,
	.cancel = iv_cancel,
};

void urt_interval_init(struct urt_interval *iv, uint64_t period_ns)
{
	iv->base.vt = &iv_vt;
	iv->period_ns = period_ns ? period_ns : 1;
	iv->start_ns = urt_now_ns();
	iv->next_ns = iv->start_ns;
	iv->armed = IV_IDLE;
}

struct urt_future *urt_interval_tick(struct urt_interval *iv)
{
	if (iv->armed == IV_IDLE)
		iv->next_ns += iv->period_ns;
	/* the first poll rounds next_ns up past now if ticks were missed */
	return &iv->base;
}

static int to_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_timeout *t = (struct urt_timeout *)f;
	int r = urt_future_poll(&t->sel.base, cx);

	if (r == URT_PENDING || r < 0)
		return r;
	if (r == 0)
		return t->results[0];
	/* The timer won; the future was cancelled and drained. */
	return t->results[0] == -ECANCELED ? -ETIME : t->results[0];
}

static void to_cancel(struct urt_future *f, struct urt_cx *cx)
{
	urt_future_cancel(&((struct urt_timeout *)f)->sel.base, cx);
}

static const struct urt_future_vt to_vt = {
	.poll = to_poll,
	.cancel = to_cancel,
};

struct urt_future *urt_timeout_init(struct urt_timeout *t,
				    struct urt_future *fut, uint64_t timeout_ns)
{
	t->base.vt = &to_vt;
	t->futs[0] = fut;
	t->futs[1] = urt_op_sleep(&t->timer, timeout_ns);
	urt_select_init(&t->sel, t->futs, t->results, 2);
	return &t->base;
}
