/* SPDX-License-Identifier: MIT */
/* Intervals and the timeout combinator, on top of timer ops. */
#include <errno.h>

#include "internal.h"

static int iv_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_interval *iv = (struct urt_interval *)f;
	int r;

	if (!iv->armed) {
		uint64_t now = urt_now_ns();
		/* Skip ticks nobody waited for: next deadline still ahead. */
		if (iv->next_ns <= now) {
			uint64_t behind = now - iv->next_ns;
			iv->next_ns += (behind / iv->period_ns + 1) *
				       iv->period_ns;
		}
		urt_op_sleep_until(&iv->op, iv->next_ns);
		iv->armed = 1;
	}
	r = urt_future_poll(&iv->op.base, cx);
	if (r == URT_PENDING)
		return r;
	iv->armed = 0;
	if (r < 0)
		return r;
	return (int)((iv->next_ns - iv->start_ns) / iv->period_ns);
}

static void iv_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_interval *iv = (struct urt_interval *)f;

	if (iv->armed)
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
	iv->armed = 0;
}

struct urt_future *urt_interval_tick(struct urt_interval *iv)
{
	if (!iv->armed)
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
