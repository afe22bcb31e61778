/* SPDX-License-Identifier: MIT */
/*
 * spawn_blocking: the runtime's pool of OS threads (grows on demand up to a
 * maximum, idle threads exit after a keep-alive, joined at shutdown) and
 * the future that queues a function on it. One mutex guards the pool, its
 * job queue and every job's state. Runtime shutdown calls
 * urt__blocking_shutdown after the workers are joined.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "waker.h"
#include "urt/blocking.h"

enum { J_QUEUED, J_RUNNING, J_DONE };
enum { B_INIT, B_WAITING, B_CANCELLED };

struct urt__bjob {
	struct urt__bjob *prev, *next; /* queue, while J_QUEUED */
	struct urt__bpool *pool;
	urt_blocking_fn fn;
	void *arg;
	void (*arg_free)(void *arg);
	struct urt_task *waiter; /* a reference, until woken or detached */
	int res;
	int state;
	bool detached; /* its future was cancelled: the pool frees it */
};

struct bthread {
	struct bthread *prev, *next;
	struct urt__bpool *pool;
	pthread_t id;
};

struct urt__bpool {
	pthread_mutex_t mu; /* guards everything below and every job */
	pthread_cond_t cv;  /* jobs queued / shutdown (CLOCK_MONOTONIC) */
	pthread_cond_t exit_cv; /* the last thread left */
	struct urt__bjob *head, *tail;
	struct bthread *live, *dead; /* dead: exited, to be joined */
	unsigned threads, idle, peak, max;
	uint64_t keep_alive_ns, started, jobs_done, queued;
	bool shutdown;
};

static struct urt__bpool *pool_get(struct urt_rt *rt)
{
	/* acquire: pairs with the publishing CAS below (pool initialised) */
	struct urt__bpool *p = atomic_load_explicit(&rt->bpool,
						    memory_order_acquire);
	struct urt__bpool *exp = NULL;

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	urt__mu_init(&p->mu);
	urt__cv_init(&p->cv);
	pthread_cond_init(&p->exit_cv, NULL);
	p->max = 64;
	p->keep_alive_ns = 10ull * 1000 * 1000 * 1000;
	/* acq_rel: release publishes the initialised pool; acquire (on
	 * failure) sees the winner's. */
	if (atomic_compare_exchange_strong_explicit(&rt->bpool, &exp, p,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return p;
	pthread_cond_destroy(&p->exit_cv);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
	return exp;
}

static void list_unlink(struct bthread **l, struct bthread *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		*l = t->next;
	if (t->next)
		t->next->prev = t->prev;
}

static void list_push(struct bthread **l, struct bthread *t)
{
	t->prev = NULL;
	t->next = *l;
	if (*l)
		(*l)->prev = t;
	*l = t;
}

static void join_all(struct bthread *l)
{
	while (l) {
		struct bthread *n = l->next;
		pthread_join(l->id, NULL);
		free(l);
		l = n;
	}
}

static void *pool_main(void *arg)
{
	struct bthread *self = arg;
	struct urt__bpool *p = self->pool;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct urt__bjob *j;
		struct urt_task *t = NULL;
		int res;

		while (!p->head && !p->shutdown) {
			uint64_t dl = urt__deadline(p->keep_alive_ns);
			struct timespec ts = {
				.tv_sec = (time_t)(dl / 1000000000ull),
				.tv_nsec = (long)(dl % 1000000000ull),
			};
			int e;

			p->idle++;
			e = pthread_cond_timedwait(&p->cv, &p->mu, &ts);
			p->idle--;
			if (e == ETIMEDOUT && !p->head)
				goto out; /* idle for keep_alive: leave */
		}
		if (!p->head)
			break; /* shutdown, queue drained */
		j = p->head;
		p->head = j->next;
		if (p->head)
			p->head->prev = NULL;
		else
			p->tail = NULL;
		p->queued--;
		j->state = J_RUNNING;
		pthread_mutex_unlock(&p->mu);

		res = j->fn(j->arg);

		pthread_mutex_lock(&p->mu);
		p->jobs_done++;
		if (j->detached) {
			pthread_mutex_unlock(&p->mu);
			if (j->arg_free)
				j->arg_free(j->arg);
			free(j);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		j->res = res;
		j->state = J_DONE;
		t = j->waiter; /* the future frees j once it reads res */
		j->waiter = NULL;
		pthread_mutex_unlock(&p->mu);
		if (t) {
			/* The ring wake path (inject queue + MSG_RING to a
			 * parked worker); the ref keeps t alive until here. */
			urt__task_wake_unref(t);
		}
		pthread_mutex_lock(&p->mu);
	}
out:
	p->threads--;
	list_unlink(&p->live, self);
	list_push(&p->dead, self); /* joined by the next spawn or shutdown */
	if (!p->threads)
		pthread_cond_broadcast(&p->exit_cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Under p->mu: queues j, starting a thread when no idle one will take it.
 * *reap receives exited threads to join once unlocked. */
static int submit(struct urt__bpool *p, struct urt__bjob *j,
		  struct bthread **reap)
{
	*reap = p->dead;
	p->dead = NULL;
	if (p->shutdown)
		return -ESHUTDOWN;
	j->state = J_QUEUED;
	j->next = NULL;
	j->prev = p->tail;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	if (p->queued > p->idle && p->threads < p->max) {
		struct bthread *bt = calloc(1, sizeof(*bt));
		if (bt) {
			bt->pool = p;
			if (pthread_create(&bt->id, NULL, pool_main, bt)) {
				free(bt);
				bt = NULL;
			}
		}
		if (bt) {
			list_push(&p->live, bt);
			p->threads++;
			p->started++;
			if (p->threads > p->peak)
				p->peak = p->threads;
		} else if (!p->threads) {
			/* Nobody would ever run it. */
			p->head = p->tail = NULL;
			p->queued--;
			return -EAGAIN;
		}
	}
	pthread_cond_signal(&p->cv);
	return 0;
}

static int blocking_poll(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_blocking *b = (struct urt_blocking *)f;
	struct urt__bjob *j = b->job;
	struct bthread *reap = NULL;
	struct urt__bpool *p;
	int r;

	if (b->state == B_CANCELLED) {
		b->state = B_INIT;
		return -ECANCELED;
	}
	if (!cx || !cx->task || !cx->w)
		return -EINVAL;
	if (!j) {
		struct urt_rt *rt = cx->w->rt;
		if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
			return -ESHUTDOWN;
		p = pool_get(rt);
		j = p ? calloc(1, sizeof(*j)) : NULL;
		if (!j)
			return -ENOMEM;
		j->pool = p;
		j->fn = b->fn;
		j->arg = b->arg;
		j->arg_free = b->arg_free;
		urt__task_ref(cx->task); /* the job's waker reference */
		j->waiter = cx->task;
		pthread_mutex_lock(&p->mu);
		r = submit(p, j, &reap);
		pthread_mutex_unlock(&p->mu);
		join_all(reap);
		if (r) {
			urt__task_unref(cx->task);
			free(j);
			return r;
		}
		b->job = j;
		b->state = B_WAITING;
		return URT_PENDING;
	}
	p = j->pool;
	pthread_mutex_lock(&p->mu);
	r = j->state == J_DONE ? j->res : URT_PENDING;
	pthread_mutex_unlock(&p->mu);
	if (r != URT_PENDING) {
		free(j);
		b->job = NULL;
		b->state = B_INIT;
	}
	return r;
}

static void blocking_cancel(struct urt_future *f, struct urt_cx *cx)
{
	struct urt_blocking *b = (struct urt_blocking *)f;
	struct urt__bjob *j = b->job;
	struct urt_task *t = NULL;
	bool free_now = false;
	struct urt__bpool *p;

	(void)cx;
	if (!j) {
		if (b->state == B_INIT) {
			/* Never queued: fn will not run; arg is released. */
			b->state = B_CANCELLED;
			if (b->arg_free)
				b->arg_free(b->arg);
		}
		return;
	}
	p = j->pool;
	pthread_mutex_lock(&p->mu);
	if (j->state == J_DONE) {
		pthread_mutex_unlock(&p->mu);
		return; /* finished anyway: the next poll returns its result */
	}
	t = j->waiter;
	j->waiter = NULL;
	if (j->state == J_QUEUED) {
		if (j->prev)
			j->prev->next = j->next;
		else
			p->head = j->next;
		if (j->next)
			j->next->prev = j->prev;
		else
			p->tail = j->prev;
		p->queued--;
		free_now = true;
	} else {
		j->detached = true; /* running: the pool thread frees it */
	}
	pthread_mutex_unlock(&p->mu);
	if (free_now) {
		if (j->arg_free)
			j->arg_free(j->arg);
		free(j);
	}
	b->job = NULL;
	b->state = B_CANCELLED;
	/* Not the last reference: the task runs this cancel. */
	if (t)
		urt__task_unref(t);
}

static const struct urt_future_vt blocking_vt = {
	.poll = blocking_poll,
	.cancel = blocking_cancel,
};

struct urt_future *urt_blocking_init(struct urt_blocking *b,
				     urt_blocking_fn fn, void *arg,
				     void (*arg_free)(void *arg))
{
	b->base.vt = &blocking_vt;
	b->fn = fn;
	b->arg = arg;
	b->arg_free = arg_free;
	b->job = NULL;
	b->state = B_INIT;
	return &b->base;
}

int urt_blocking_config(struct urt_rt *rt, unsigned max_threads,
			uint64_t keep_alive_ns)
{
	struct urt__bpool *p;

	if (!rt)
		return -EINVAL;
	p = pool_get(rt);
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&p->mu);
	if (max_threads)
		p->max = max_threads;
	if (keep_alive_ns) {
		p->keep_alive_ns = keep_alive_ns;
		pthread_cond_broadcast(&p->cv); /* idle ones re-arm */
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void urt_blocking_stats(struct urt_rt *rt, struct urt_blocking_stats *st)
{
	struct urt__bpool *p;

	*st = (struct urt_blocking_stats){ 0 };
	if (!rt)
		return;
	p = atomic_load_explicit(&rt->bpool, memory_order_acquire);
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	st->threads = p->threads;
	st->idle = p->idle;
	st->peak_threads = p->peak;
	st->started = p->started;
	st->jobs_done = p->jobs_done;
	st->queued = p->queued;
	pthread_mutex_unlock(&p->mu);
}

void urt__blocking_shutdown(struct urt_rt *rt)
{
	struct urt__bpool *p = atomic_load_explicit(&rt->bpool,
						    memory_order_acquire);
	struct bthread *reap;

	if (!p)
		return;
	/*
	 * Workers are joined: no task runs, so no job can be queued and
	 * every job's future was completed or cancelled (detached). Threads
	 * drain what is queued (nothing, normally), finish running functions
	 * and leave; a detached job's wake-up never comes, so no thread
	 * touches a task or the runtime after this returns.
	 */
	pthread_mutex_lock(&p->mu);
	p->shutdown = true;
	pthread_cond_broadcast(&p->cv);
	while (p->threads)
		pthread_cond_wait(&p->exit_cv, &p->mu);
	reap = p->dead;
	p->dead = NULL;
	pthread_mutex_unlock(&p->mu);
	join_all(reap);
	pthread_cond_destroy(&p->exit_cv);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
	atomic_store_explicit(&rt->bpool, NULL, memory_order_relaxed);
}
