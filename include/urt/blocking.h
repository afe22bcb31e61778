/* SPDX-License-Identifier: MIT */
/*
 * spawn_blocking: run a plain function on the runtime's pool of OS threads
 * and await its result from a task. Threads for very parallel (CPU-heavy or
 * blocking) work, tasks for very concurrent work.
 *
 * The pool belongs to the runtime: created on first use, grows on demand
 * up to max_threads, a thread idle for keep_alive_ns exits, and
 * urt_rt_free() joins every pool thread (waiting for functions still
 * running) before it frees the runtime.
 */
#ifndef URT_BLOCKING_H
#define URT_BLOCKING_H

#include <stdint.h>

#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

struct urt_rt;
struct urt__bjob;

/* Runs on a pool thread. Returns >= 0, or -errno (a failure). */
typedef int (*urt_blocking_fn)(void *arg);

/*
 * The future: queues fn(arg) on its first poll (on the pool of the runtime
 * polling it) and is ready with fn's return value, or -ESHUTDOWN (runtime
 * shutting down), -ENOMEM, -EAGAIN (no thread could be created and none
 * runs), -ECANCELED (cancelled before fn finished).
 *
 * From plain code: urt_block_on(rt, urt_blocking_init(&b, fn, arg, NULL)).
 *
 * Cancelling (an aborted task, a select's loser) detaches the future: a
 * job not started yet is dropped, a running fn runs to its end on its
 * thread and its result is discarded. arg must stay valid until fn
 * returned: when the future can be cancelled, pass heap memory and
 * arg_free, which is called exactly once after a cancel, when fn can no
 * longer touch arg (it never ran, or it returned). Without a cancel,
 * arg_free is not called: arg is the awaiting code's again once the future
 * is ready. b must stay valid until it is ready (not until fn returns).
 */
struct urt_blocking {
	struct urt_future base;
	urt_blocking_fn fn;
	void *arg;
	void (*arg_free)(void *arg);
	struct urt__bjob *job; /* private */
	int state;	       /* private */
};

struct urt_future *urt_blocking_init(struct urt_blocking *b,
				     urt_blocking_fn fn, void *arg,
				     void (*arg_free)(void *arg));

/*
 * Pool settings; any thread, any time (applies to threads started or
 * idling afterwards). max_threads 0: keep the current value (default 64);
 * keep_alive_ns 0: keep (default 10 s). Returns 0, -EINVAL, -ENOMEM,
 * -ESHUTDOWN.
 */
int urt_blocking_config(struct urt_rt *rt, unsigned max_threads,
			uint64_t keep_alive_ns);

struct urt_blocking_stats {
	unsigned threads;      /* alive now */
	unsigned idle;	       /* waiting for a job now */
	unsigned peak_threads; /* most alive at once */
	uint64_t started;      /* threads ever started */
	uint64_t jobs_done;    /* functions that returned */
	uint64_t queued;       /* jobs waiting for a thread now */
};

/* Snapshot; zeros when the pool was never used. */
void urt_blocking_stats(struct urt_rt *rt, struct urt_blocking_stats *st);

#ifdef __cplusplus
}
#endif
#endif
