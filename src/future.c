/* SPDX-License-Identifier: MIT */
/*
 * Generic futures: cancellation entry point, stackless coroutines, join and
 * select. Everything here runs on the thread polling the owning task.
 */
#include <errno.h>
#include <stdbool.h>

#include "internal.h"

void urt_future_cancel(struct urt_future *f, struct urt_cx *cx)
{
	if (f && f->vt && f->vt->cancel)
		f->vt->cancel(f, cx);
}

/* --- coroutines ------------------------------------------------------ */

/*
 * Once cancelled, a co never re-enters user code: its polls only drain the
 * child it was awaiting (cancelled by co_cancel), then it ends -ECANCELED.
 * The vtable is not swapped for one without a cancel hook: combinators read
 * a NULL cancel as "droppable now", which a co draining an op is not.
 */
static int co_poll_cancelled(struct urt_co *co, struct urt_cx *cx)
{
	if (co->line == -1)
		return -EINVAL;
	if (co->awaiting) {
		int r = urt_future_poll(co->awaiting, cx);
		if (r == URT_PENDING)
			return URT_PENDING;
		co->awaiting = NULL;
	}
	co->line = -1;
	return -ECANCELED;
}

static int co_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_co *co = (struct urt_co *)f;

	if (co->cancelled)
		return co_poll_cancelled(co, cx);
	return co->fn(co, cx);
}

/*
 * A child with a cancel hook is cancelled here and drained by the co's next
 * polls. A child without one may be dropped at once. Idempotent.
 */
static void co_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_co *co = (struct urt_co *)f;

	if (co->cancelled || co->line == -1)
		return;
	co->cancelled = 1;
	if (co->awaiting) {
		if (co->awaiting->vt->cancel)
			co->awaiting->vt->cancel(co->awaiting, cx);
		else
			co->awaiting = NULL; /* droppable */
	}
}

static void co_drop(struct urt_future *f)
{
	struct urt_co *co = (struct urt_co *)f;

	if (co->drop)
		co->drop(co);
}

static const struct urt_future_vt co_vt = {
	.poll = co_poll,
	.cancel = co_cancel,
	.drop = co_drop,
};

struct urt_future *urt_co_init(struct urt_co *co, urt_co_fn fn)
{
	co->base.vt = &co_vt;
	co->fn = fn;
	co->awaiting = NULL;
	co->drop = NULL;
	co->line = 0;
	co->cancelled = 0;
	return &co->base;
}

/* --- join ------------------------------------------------------------ */

static int join_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_join *j = (struct urt_join *)f;

	for (unsigned i = 0; i < j->n && j->left; i++) {
		if (j->results[i] != URT_PENDING)
			continue;
		int r = urt_future_poll(j->futs[i], cx);
		if (r != URT_PENDING) {
			j->results[i] = r;
			j->left--;
		}
	}
	return j->left ? URT_PENDING : 0;
}

/*
 * A join cancelled while children still ran ends -ECANCELED once drained
 * (results[] still says what each child did), like a select nobody won: a
 * 0 would tell a timeout or an aborted task's joiner that all work was done.
 */
static int join_poll_cancelled(struct urt_future *f, struct urt_cx *cx)
{
	int r = join_poll(f, cx);

	return r == URT_PENDING ? r : -ECANCELED;
}

static void join_cancel(struct urt_future *f, struct urt_cx *cx);

static const struct urt_future_vt join_vt = {
	.poll = join_poll,
	.cancel = join_cancel,
};

/* Keeps a (no-op) cancel hook: a draining join is not droppable. */
static const struct urt_future_vt join_cancelled_vt = {
	.poll = join_poll_cancelled,
	.cancel = join_cancel,
};

static void join_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_join *j = (struct urt_join *)f;

	if (j->base.vt == &join_cancelled_vt || !j->left)
		return; /* already cancelled, or already complete */
	j->base.vt = &join_cancelled_vt;
	for (unsigned i = 0; i < j->n; i++) {
		if (j->results[i] != URT_PENDING)
			continue;
		if (j->futs[i]->vt->cancel) {
			j->futs[i]->vt->cancel(j->futs[i], cx);
		} else {
			j->results[i] = -ECANCELED; /* dropped */
			j->left--;
		}
	}
}

struct urt_future *urt_join_init(struct urt_join *j, struct urt_future **futs,
				 int *results, unsigned n)
{
	j->base.vt = &join_vt;
	j->futs = futs;
	j->results = results;
	j->n = n;
	j->left = n;
	for (unsigned i = 0; i < n; i++)
		results[i] = URT_PENDING;
	return &j->base;
}

/* --- select ---------------------------------------------------------- */

static void select_cancel_rest(struct urt_select *s, struct urt_cx *cx)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (s->done >> i & 1)
			continue;
		if (s->futs[i]->vt->cancel) {
			s->futs[i]->vt->cancel(s->futs[i], cx);
		} else {
			s->results[i] = -ECANCELED; /* dropped */
			s->done |= 1ull << i;
		}
	}
}

static int select_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_select *s = (struct urt_select *)f;
	bool again = false;
	uint64_t all;

	/* Checked before the shift: 1ull << n is undefined for n >= 64. */
	if (s->n == 0 || s->n > 64)
		return -EINVAL;
	all = s->n == 64 ? ~0ull : (1ull << s->n) - 1;
	do {
		again = false;
		for (unsigned i = 0; i < s->n; i++) {
			if (s->done >> i & 1)
				continue;
			int r = urt_future_poll(s->futs[i], cx);
			if (r == URT_PENDING)
				continue;
			s->results[i] = r;
			s->done |= 1ull << i;
			if (s->winner < 0) {
				s->winner = (int)i;
				select_cancel_rest(s, cx);
				/*
				 * Losers before i were polled already; a
				 * cancel may make one ready with no wake-up
				 * to come (a co that dropped a join handle):
				 * poll them all once more, now.
				 */
				again = true;
			}
		}
	} while (again);
	if (s->winner >= 0 && s->done == all)
		return s->winner;
	return URT_PENDING;
}

static void select_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_select *s = (struct urt_select *)f;

	if (s->n == 0 || s->n > 64)
		return; /* its poll says -EINVAL */
	if (s->winner < 0) {
		/* Nobody won: the select ends as cancelled once drained. */
		s->winner = (int)s->n;
		select_cancel_rest(s, cx);
	}
}

static int select_poll_outer(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_select *s = (struct urt_select *)f;
	int r = select_poll(f, cx);

	return r == (int)s->n ? -ECANCELED : r;
}

static const struct urt_future_vt select_vt = {
	.poll = select_poll_outer,
	.cancel = select_cancel,
};

struct urt_future *urt_select_init(struct urt_select *s,
				   struct urt_future **futs, int *results,
				   unsigned n)
{
	s->base.vt = &select_vt;
	s->futs = futs;
	s->results = results;
	s->n = n;
	s->winner = -1;
	s->done = 0;
	for (unsigned i = 0; i < n && i < 64; i++)
		results[i] = URT_PENDING;
	return &s->base;
}
