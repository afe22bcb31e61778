/* SPDX-License-Identifier: MIT */
/*
 * Synchronisation for tasks: mutex, semaphore, notify, wait group.
 *
 * Every primitive is FIFO-fair: a release hands the lock / the permits
 * directly to the waiter at the head of the queue (no barging), so no
 * waiter starves. Every wait is a future whose waiter node lives in the
 * future itself (caller-owned memory, valid until the future is ready):
 * no allocation on any path. Every wait has a cancel hook: an aborted or
 * select-cancelled waiter is unlinked, and what was handed to it in the
 * meantime (the lock, permits, a notification) is passed on to the next
 * waiter, not lost. A cancelled wait then ends -ECANCELED.
 *
 * Release-side calls (unlock, release, notify, done) may be made from any
 * thread, task or not. Primitives are caller-owned (init/deinit); deinit
 * only when nobody waits.
 */
#ifndef URT_SYNC_H
#define URT_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blocking (thread) waits: no deadline. */
#define URT_FOREVER UINT64_MAX

struct urt_task;

/*
 * A waiter node, embedded in every wait future (and on a blocked thread's
 * stack). Private: touched only under the owning primitive's lock.
 */
struct urt_waiter {
	struct urt_waiter *prev, *next;
	struct urt_task *task;	/* waiting task (holds a reference) */
	pthread_cond_t *cv;	/* or: a blocked thread's condvar */
	const void *item;	/* channel: item of a waiting sender */
	uint64_t n;		/* permits wanted */
	int state;		/* idle / queued / granted */
	int res;		/* result handed over with the grant */
};

/* A FIFO of waiters (private). */
struct urt_waitq {
	struct urt_waiter *head, *tail;
};

/* ---------------------------------------------------------------------
 * Mutex: await urt_mutex_lock(); the lock is then held by the awaiting
 * code until urt_mutex_unlock() (any thread may unlock, as with a
 * semaphore of one). Not recursive.
 * ------------------------------------------------------------------- */
struct urt_mutex {
	pthread_mutex_t mu; /* guards the fields below; held for O(1) */
	bool locked;
	struct urt_waitq q;
};

struct urt_mutex_lock {
	struct urt_future base;
	struct urt_mutex *m;
	struct urt_waiter w;
};

void urt_mutex_init(struct urt_mutex *m);
/* 0, or -EBUSY while locked or waited for. */
int urt_mutex_deinit(struct urt_mutex *m);
/* Result 0: the lock is held. -ECANCELED if cancelled first. */
struct urt_future *urt_mutex_lock(struct urt_mutex_lock *f,
				  struct urt_mutex *m);
/* 0 and the lock is held, or -EBUSY. Never barges past waiters. */
int urt_mutex_trylock(struct urt_mutex *m);
/* Hands the lock to the first waiter, if any. -EPERM if not locked. */
int urt_mutex_unlock(struct urt_mutex *m);

/* ---------------------------------------------------------------------
 * Semaphore: a count of permits. Strict FIFO: a waiter that wants more
 * permits than are free blocks those behind it (no starvation of big
 * requests).
 * ------------------------------------------------------------------- */
struct urt_sem {
	pthread_mutex_t mu;
	uint64_t permits;
	struct urt_waitq q;
};

struct urt_sem_acquire {
	struct urt_future base;
	struct urt_sem *s;
	struct urt_waiter w;
};

void urt_sem_init(struct urt_sem *s, uint64_t permits);
int urt_sem_deinit(struct urt_sem *s); /* -EBUSY while waited for */
/* Result 0: n permits are held (n >= 1). -ECANCELED if cancelled first. */
struct urt_future *urt_sem_acquire(struct urt_sem_acquire *f,
				   struct urt_sem *s, uint64_t n);
/* 0, or -EAGAIN (not enough free, or others wait first). */
int urt_sem_try_acquire(struct urt_sem *s, uint64_t n);
void urt_sem_release(struct urt_sem *s, uint64_t n);
/* Free permits now (a snapshot). */
uint64_t urt_sem_available(struct urt_sem *s);

/* ---------------------------------------------------------------------
 * Notify: wake one waiter, or all. notify_one with nobody waiting stores
 * one permit, consumed by the next wait (so a notification sent just
 * before the wait is not lost); notify_all wakes only current waiters.
 * ------------------------------------------------------------------- */
struct urt_notify {
	pthread_mutex_t mu;
	bool permit;
	struct urt_waitq q;
};

struct urt_notify_wait {
	struct urt_future base;
	struct urt_notify *nt;
	struct urt_waiter w;
};

void urt_notify_init(struct urt_notify *nt);
int urt_notify_deinit(struct urt_notify *nt);
/* Result 0 when notified, -ECANCELED if cancelled first. */
struct urt_future *urt_notify_wait(struct urt_notify_wait *f,
				   struct urt_notify *nt);
void urt_notify_one(struct urt_notify *nt);
void urt_notify_all(struct urt_notify *nt);

/* ---------------------------------------------------------------------
 * Wait group: add(n) before starting work, done() when a piece ends;
 * waits end when the count is 0. Waitable from tasks and from threads.
 * ------------------------------------------------------------------- */
struct urt_waitgroup {
	pthread_mutex_t mu;
	uint64_t count;
	struct urt_waitq q;
};

struct urt_waitgroup_wait {
	struct urt_future base;
	struct urt_waitgroup *wg;
	struct urt_waiter w;
};

void urt_waitgroup_init(struct urt_waitgroup *wg);
int urt_waitgroup_deinit(struct urt_waitgroup *wg);
void urt_waitgroup_add(struct urt_waitgroup *wg, uint64_t n);
/* -EINVAL if the count is already 0. */
int urt_waitgroup_done(struct urt_waitgroup *wg);
/* Result 0 once the count is 0; -ECANCELED if cancelled first. */
struct urt_future *urt_waitgroup_wait(struct urt_waitgroup_wait *f,
				      struct urt_waitgroup *wg);
/*
 * Blocks the calling (non-worker) thread until the count is 0. 0, -ETIME
 * after timeout_ns (URT_FOREVER: none), -EDEADLK on a worker thread.
 */
int urt_waitgroup_wait_blocking(struct urt_waitgroup *wg, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif
