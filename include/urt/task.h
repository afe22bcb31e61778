/* SPDX-License-Identifier: MIT */
/* Tasks: spawn, join, detach, abort. */
#ifndef URT_TASK_H
#define URT_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

struct urt_rt;
struct urt_task; /* opaque, 64-byte header */

/*
 * A join handle. It is itself a future: awaiting it joins the task and yields
 * the task's result (-ECANCELED if it was aborted before finishing). The
 * handle owns one reference to the task until it is joined or detached;
 * afterwards its task pointer is NULL and joining again returns -EINVAL.
 * A handle must be joined or detached before urt_rt_free().
 */
struct urt_task_handle {
	struct urt_future base;
	struct urt_task *task;
	/*
	 * Set when a join was cancelled (it lost a select, its task was
	 * aborted): the next poll returns -ECANCELED and clears it; the
	 * handle keeps its task, to be joined or detached later.
	 */
	int cancelled;
};

/*
 * Spawns fut as a new task on rt. Callable from any thread: from a task (the
 * new task goes to the current worker's queue) or from plain code (it goes
 * to the global queue and a parked worker is woken).
 *
 * fut must stay valid until the runtime calls fut->vt->drop(fut) (after the
 * task ended and every op it submitted completed); without a drop hook,
 * until the task is joined and urt_rt_free() returned.
 * h: NULL for a detached task, else filled with a join handle.
 * Returns 0, -EINVAL (NULL rt/fut), -ESHUTDOWN (runtime shutting down),
 * -ENOMEM. On error nothing is spawned and drop is not called.
 */
int urt_task_spawn(struct urt_rt *rt, struct urt_future *fut,
		   struct urt_task_handle *h);

/*
 * One-allocation tasks: urt_frame_new() returns size zeroed bytes, aligned
 * to 16, that sit right after a task header. Build a future at its start
 * (e.g. a struct whose first member is struct urt_co) and pass it to
 * urt_task_spawn_frame(); the runtime frees the block after calling the
 * future's drop hook (which must not free the frame itself). A frame never
 * spawned is released with urt_frame_free(). NULL: out of memory.
 */
void *urt_frame_new(size_t size);
void urt_frame_free(void *frame);
int urt_task_spawn_frame(struct urt_rt *rt, void *frame,
			 struct urt_task_handle *h);

/* Releases the handle's reference; the task keeps running. 0 or -EINVAL. */
int urt_task_detach(struct urt_task_handle *h);

/*
 * Asks the task to stop: it is dropped at its next suspension point, its
 * in-flight ops are cancelled and their memory stays alive until their
 * CQEs arrive. Idempotent; a task that already finished keeps its result.
 * Any thread. Returns 0, or -EINVAL for an empty handle.
 */
int urt_task_abort(struct urt_task_handle *h);

/*
 * Waits, blocking the calling thread, for the task to finish and returns its
 * result; consumes the handle. From a worker thread: -EDEADLK (await the
 * handle instead). -EINVAL for an empty handle.
 */
int urt_task_join_blocking(struct urt_task_handle *h);

/* Id of the handle's task (0 for an empty handle). */
uint64_t urt_task_id(const struct urt_task_handle *h);

#ifdef __cplusplus
}
#endif
#endif
