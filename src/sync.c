/* SPDX-License-Identifier: MIT */
/*
 * Task synchronisation: mutex, semaphore, notify, wait group. Each is a
 * pthread mutex guarding a count and a FIFO of waiters (waker.c). Releases
 * hand over directly to the head waiter; a cancelled waiter passes on what
 * it was handed. Channels are chan.c's.
 */
#include <errno.h>

#include "waker.h"

/*
 * The common shape of every wait future's poll: GRANTED -> its result,
 * QUEUED -> still pending (a spurious poll), IDLE -> try, else queue.
 * try() runs under the lock and returns 0 (acquired) or URT_PENDING.
 */
static int wait_poll(pthread_mutex_t *mu, struct urt_waitq *q,
		     struct urt_waiter *w, struct urt_cx *cx,
		     int (*try)(struct urt_waiter *w, void *obj), void *obj)
{
	int r;

	if (!cx || !cx->task)
		return -EINVAL;
	pthread_mutex_lock(mu);
	if (w->state == URT__WS_GRANTED) {
		w->state = URT__WS_IDLE;
		r = w->res;
	} else if (w->state == URT__WS_QUEUED) {
		r = URT_PENDING;
	} else {
		r = try(w, obj);
		if (r == URT_PENDING)
			urt__waiter_queue_task(q, w, cx);
	}
	pthread_mutex_unlock(mu);
	return r;
}

/* Under the lock: marks a cancelled wait; its next poll says -ECANCELED. */
static void mark_cancelled(struct urt_waiter *w)
{
	w->state = URT__WS_GRANTED;
	w->res = -ECANCELED;
}

/* --- mutex ----------------------------------------------------------- */

void urt_mutex_init(struct urt_mutex *m)
{
	urt__mu_init(&m->mu);
	m->locked = false;
	m->q.head = m->q.tail = NULL;
}

int urt_mutex_deinit(struct urt_mutex *m)
{
	if (m->locked || m->q.head)
		return -EBUSY;
	pthread_mutex_destroy(&m->mu);
	return 0;
}

/* Under m->mu, lock held by the caller: pass it on or free it. */
static void mutex_pass(struct urt_mutex *m, struct urt__wakeset *ws)
{
	/* Ownership moves to the head waiter: locked stays true, so a
	 * trylock cannot barge in between. */
	if (!urt__wq_grant_head(&m->q, 0, ws))
		m->locked = false;
}

static int mutex_try(struct urt_waiter *w, void *obj)
{
	struct urt_mutex *m = obj;

	(void)w;
	if (m->locked || m->q.head)
		return URT_PENDING;
	m->locked = true;
	return 0;
}

static int mutex_lock_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_mutex_lock *l = (struct urt_mutex_lock *)f;

	return wait_poll(&l->m->mu, &l->m->q, &l->w, cx, mutex_try, l->m);
}

static void mutex_lock_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_mutex_lock *l = (struct urt_mutex_lock *)f;
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_mutex *m = l->m;

	(void)cx;
	pthread_mutex_lock(&m->mu);
	if (l->w.state == URT__WS_QUEUED) {
		urt__waiter_unqueue(&m->q, &l->w);
	} else if (l->w.state == URT__WS_GRANTED && l->w.res == 0) {
		/* Handed the lock but never told its owner: pass it on. */
		mutex_pass(m, &ws);
	}
	if (l->w.state != URT__WS_GRANTED || l->w.res == 0)
		mark_cancelled(&l->w);
	pthread_mutex_unlock(&m->mu);
	urt__wakeset_flush(&ws);
}

static const struct urt_future_vt mutex_lock_vt = {
	.poll = mutex_lock_poll,
	.cancel = mutex_lock_cancel,
};

struct urt_future *urt_mutex_lock(struct urt_mutex_lock *f,
				  struct urt_mutex *m)
{
	f->base.vt = &mutex_lock_vt;
	f->m = m;
	f->w = (struct urt_waiter){ .state = URT__WS_IDLE };
	return &f->base;
}

int urt_mutex_trylock(struct urt_mutex *m)
{
	int r;

	pthread_mutex_lock(&m->mu);
	r = mutex_try(NULL, m) == 0 ? 0 : -EBUSY;
	pthread_mutex_unlock(&m->mu);
	return r;
}

int urt_mutex_unlock(struct urt_mutex *m)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	int r = 0;

	pthread_mutex_lock(&m->mu);
	if (!m->locked)
		r = -EPERM;
	else
		mutex_pass(m, &ws);
	pthread_mutex_unlock(&m->mu);
	urt__wakeset_flush(&ws);
	return r;
}

/* --- semaphore ------------------------------------------------------- */

void urt_sem_init(struct urt_sem *s, uint64_t permits)
{
	urt__mu_init(&s->mu);
	s->permits = permits;
	s->q.head = s->q.tail = NULL;
}

int urt_sem_deinit(struct urt_sem *s)
{
	if (s->q.head)
		return -EBUSY;
	pthread_mutex_destroy(&s->mu);
	return 0;
}

/* Under s->mu: grants head waiters in order while their wants fit. */
static void sem_grant(struct urt_sem *s, struct urt__wakeset *ws)
{
	while (s->q.head && s->q.head->n <= s->permits) {
		s->permits -= s->q.head->n;
		urt__wq_grant_head(&s->q, 0, ws);
	}
}

static int sem_try(struct urt_waiter *w, void *obj)
{
	struct urt_sem *s = obj;

	/* FIFO: nobody takes permits while someone waits ahead. */
	if (s->q.head || s->permits < w->n)
		return URT_PENDING;
	s->permits -= w->n;
	return 0;
}

static int sem_acquire_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_sem_acquire *a = (struct urt_sem_acquire *)f;

	return wait_poll(&a->s->mu, &a->s->q, &a->w, cx, sem_try, a->s);
}

static void sem_acquire_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_sem_acquire *a = (struct urt_sem_acquire *)f;
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_sem *s = a->s;

	(void)cx;
	pthread_mutex_lock(&s->mu);
	if (a->w.state == URT__WS_QUEUED) {
		/* It may have blocked smaller wants behind it. */
		urt__waiter_unqueue(&s->q, &a->w);
		sem_grant(s, &ws);
	} else if (a->w.state == URT__WS_GRANTED && a->w.res == 0) {
		/* Permits handed to a waiter that is gone: pass them on. */
		s->permits += a->w.n;
		sem_grant(s, &ws);
	}
	if (a->w.state != URT__WS_GRANTED || a->w.res == 0)
		mark_cancelled(&a->w);
	pthread_mutex_unlock(&s->mu);
	urt__wakeset_flush(&ws);
}

static const struct urt_future_vt sem_acquire_vt = {
	.poll = sem_acquire_poll,
	.cancel = sem_acquire_cancel,
};

struct urt_future *urt_sem_acquire(struct urt_sem_acquire *f,
				   struct urt_sem *s, uint64_t n)
{
	f->base.vt = &sem_acquire_vt;
	f->s = s;
	f->w = (struct urt_waiter){ .state = URT__WS_IDLE, .n = n ? n : 1 };
	return &f->base;
}

int urt_sem_try_acquire(struct urt_sem *s, uint64_t n)
{
	struct urt_waiter w = { .n = n ? n : 1 };
	int r;

	pthread_mutex_lock(&s->mu);
	r = sem_try(&w, s) == 0 ? 0 : -EAGAIN;
	pthread_mutex_unlock(&s->mu);
	return r;
}

void urt_sem_release(struct urt_sem *s, uint64_t n)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;

	pthread_mutex_lock(&s->mu);
	s->permits += n;
	sem_grant(s, &ws);
	pthread_mutex_unlock(&s->mu);
	urt__wakeset_flush(&ws);
}

uint64_t urt_sem_available(struct urt_sem *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->permits;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* --- notify ---------------------------------------------------------- */

/* w->n on a granted notify waiter: 1 from notify_one (passed on if the
 * waiter is cancelled), 0 from notify_all. */

void urt_notify_init(struct urt_notify *nt)
{
	urt__mu_init(&nt->mu);
	nt->permit = false;
	nt->q.head = nt->q.tail = NULL;
}

int urt_notify_deinit(struct urt_notify *nt)
{
	if (nt->q.head)
		return -EBUSY;
	pthread_mutex_destroy(&nt->mu);
	return 0;
}

static void notify_one_locked(struct urt_notify *nt, struct urt__wakeset *ws)
{
	struct urt_waiter *w = nt->q.head;

	if (!w) {
		nt->permit = true;
		return;
	}
	w->n = 1;
	urt__waiter_grant(&nt->q, w, 0, ws);
}

static int notify_try(struct urt_waiter *w, void *obj)
{
	struct urt_notify *nt = obj;

	(void)w;
	if (!nt->permit)
		return URT_PENDING;
	nt->permit = false;
	return 0;
}

static int notify_wait_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_notify_wait *n = (struct urt_notify_wait *)f;

	return wait_poll(&n->nt->mu, &n->nt->q, &n->w, cx, notify_try, n->nt);
}

static void notify_wait_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_notify_wait *n = (struct urt_notify_wait *)f;
	struct urt__wakeset ws = URT__WAKESET_INIT;
	struct urt_notify *nt = n->nt;

	(void)cx;
	pthread_mutex_lock(&nt->mu);
	if (n->w.state == URT__WS_QUEUED)
		urt__waiter_unqueue(&nt->q, &n->w);
	else if (n->w.state == URT__WS_GRANTED && n->w.res == 0 && n->w.n)
		notify_one_locked(nt, &ws); /* a notify_one nobody saw */
	if (n->w.state != URT__WS_GRANTED || n->w.res == 0)
		mark_cancelled(&n->w);
	pthread_mutex_unlock(&nt->mu);
	urt__wakeset_flush(&ws);
}

static const struct urt_future_vt notify_wait_vt = {
	.poll = notify_wait_poll,
	.cancel = notify_wait_cancel,
};

struct urt_future *urt_notify_wait(struct urt_notify_wait *f,
				   struct urt_notify *nt)
{
	f->base.vt = &notify_wait_vt;
	f->nt = nt;
	f->w = (struct urt_waiter){ .state = URT__WS_IDLE };
	return &f->base;
}

void urt_notify_one(struct urt_notify *nt)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;

	pthread_mutex_lock(&nt->mu);
	notify_one_locked(nt, &ws);
	pthread_mutex_unlock(&nt->mu);
	urt__wakeset_flush(&ws);
}

void urt_notify_all(struct urt_notify *nt)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;

	pthread_mutex_lock(&nt->mu);
	while (nt->q.head) {
		nt->q.head->n = 0;
		urt__wq_grant_head(&nt->q, 0, &ws);
	}
	pthread_mutex_unlock(&nt->mu);
	urt__wakeset_flush(&ws);
}

/* --- wait group ------------------------------------------------------ */

void urt_waitgroup_init(struct urt_waitgroup *wg)
{
	urt__mu_init(&wg->mu);
	wg->count = 0;
	wg->q.head = wg->q.tail = NULL;
}

int urt_waitgroup_deinit(struct urt_waitgroup *wg)
{
	if (wg->q.head)
		return -EBUSY;
	pthread_mutex_destroy(&wg->mu);
	return 0;
}

void urt_waitgroup_add(struct urt_waitgroup *wg, uint64_t n)
{
	pthread_mutex_lock(&wg->mu);
	wg->count += n;
	pthread_mutex_unlock(&wg->mu);
}

int urt_waitgroup_done(struct urt_waitgroup *wg)
{
	struct urt__wakeset ws = URT__WAKESET_INIT;
	int r = 0;

	pthread_mutex_lock(&wg->mu);
	if (!wg->count)
		r = -EINVAL;
	else if (--wg->count == 0)
		while (urt__wq_grant_head(&wg->q, 0, &ws))
			;
	pthread_mutex_unlock(&wg->mu);
	urt__wakeset_flush(&ws);
	return r;
}

static int wg_try(struct urt_waiter *w, void *obj)
{
	(void)w;
	return ((struct urt_waitgroup *)obj)->count ? URT_PENDING : 0;
}

static int wg_wait_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_waitgroup_wait *g = (struct urt_waitgroup_wait *)f;

	return wait_poll(&g->wg->mu, &g->wg->q, &g->w, cx, wg_try, g->wg);
}

static void wg_wait_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_waitgroup_wait *g = (struct urt_waitgroup_wait *)f;

	(void)cx;
	pthread_mutex_lock(&g->wg->mu);
	if (g->w.state == URT__WS_QUEUED)
		urt__waiter_unqueue(&g->wg->q, &g->w);
	if (g->w.state != URT__WS_GRANTED || g->w.res == 0)
		mark_cancelled(&g->w);
	pthread_mutex_unlock(&g->wg->mu);
}

static const struct urt_future_vt wg_wait_vt = {
	.poll = wg_wait_poll,
	.cancel = wg_wait_cancel,
};

struct urt_future *urt_waitgroup_wait(struct urt_waitgroup_wait *f,
				      struct urt_waitgroup *wg)
{
	f->base.vt = &wg_wait_vt;
	f->wg = wg;
	f->w = (struct urt_waiter){ .state = URT__WS_IDLE };
	return &f->base;
}

int urt_waitgroup_wait_blocking(struct urt_waitgroup *wg, uint64_t timeout_ns)
{
	uint64_t deadline = urt__deadline(timeout_ns);
	struct urt_waiter w = { .state = URT__WS_IDLE };
	pthread_cond_t cv;
	int r = 0;

	if (urt__current_worker())
		return -EDEADLK;
	urt__cv_init(&cv);
	pthread_mutex_lock(&wg->mu);
	if (wg->count) {
		w.cv = &cv;
		urt__wq_push(&wg->q, &w);
		r = urt__waiter_block(&w, &wg->mu, deadline);
		if (r)
			urt__waiter_unqueue(&wg->q, &w);
	}
	pthread_mutex_unlock(&wg->mu);
	pthread_cond_destroy(&cv);
	return r;
}
