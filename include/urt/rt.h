/* SPDX-License-Identifier: MIT */
/* The runtime object: configuration, block_on, statistics, shutdown. */
#ifndef URT_RT_H
#define URT_RT_H

#include <stdint.h>

#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

struct urt_rt;

enum {
	URT_CFG_NO_DEFER_TASKRUN = 1u << 0, /* don't ask for DEFER_TASKRUN */
	URT_CFG_NO_SINGLE_ISSUER = 1u << 1,
	URT_CFG_NO_COOP_TASKRUN = 1u << 2,
	URT_CFG_SQPOLL = 1u << 3, /* kernel thread polls the SQ */
	URT_CFG_PIN_WORKERS = 1u << 4, /* worker i on CPU i % online CPUs */
};

struct urt_config {
	unsigned workers;      /* 0: number of online CPUs */
	unsigned ring_entries; /* SQ entries per worker ring; 0: 256 */
	unsigned cq_entries;   /* CQ entries; 0: 4 * ring_entries */
	unsigned flags;	       /* URT_CFG_* */
	/*
	 * A poll that runs this long blocks its worker's ring (nobody else
	 * can reap it): counted and reported (urt_stats.long_polls, longest).
	 * urt_config_init sets 10 ms; 0 turns the measurement off, and with
	 * it the rescue of a task left in a stuck worker's LIFO slot (an
	 * idle sibling takes it after half this time) and the timed park
	 * that lets idle workers notice a stuck sibling.
	 */
	uint64_t long_poll_ns;
};

/* Fills cfg with the defaults. */
void urt_config_init(struct urt_config *cfg);

/*
 * Creates a runtime and starts its workers (each creates its own ring).
 * cfg may be NULL (defaults). Returns 0 and *out, or -errno: -ENOSYS /
 * -EPERM when io_uring is unavailable (disabled by sysctl, blocked by
 * seccomp: the message from urt_rt_last_error() names the cause), -EINVAL
 * for a bad config, -ENOMEM.
 */
int urt_rt_new(const struct urt_config *cfg, struct urt_rt **out);

/*
 * Explains the last urt_rt_new() failure on this thread in a sentence
 * (static storage; "" when there is none).
 */
const char *urt_rt_last_error(void);

/*
 * Runs fut as a task and blocks the calling (non-worker) thread until it
 * finished and every op it submitted completed, so fut may live on the
 * caller's stack. Returns fut's result, or -EDEADLK from a worker thread,
 * -EINVAL, -ESHUTDOWN.
 */
int urt_block_on(struct urt_rt *rt, struct urt_future *fut);

struct urt_stats {
	uint64_t tasks_spawned;
	uint64_t tasks_completed; /* finished or aborted */
	uint64_t tasks_live;	  /* allocated and not yet freed */
	uint64_t ops_submitted;	  /* SQEs for ops (not internal ones) */
	uint64_t ops_completed;
	uint64_t sqes_inflight; /* every SQE still waiting for its CQE */
	uint64_t polls;
	uint64_t sq_full_retries; /* SQ was full: submitted and retried */
	uint64_t cq_overflows;	  /* times the CQ overflow flag was seen */
	uint64_t handles_leaked;  /* set by urt_rt_free only */
	uint64_t steals;	  /* tasks taken from siblings' queues */
	uint64_t long_polls;	  /* polls >= long_poll_ns */
	uint64_t longest_poll_ns, longest_poll_task;
	unsigned workers;
	unsigned ring_flags; /* IORING_SETUP_* the rings got */
	/* tasks that went to the global queue's spill list because its ring
	 * could not grow (out of memory); they still ran in order */
	uint64_t inject_spills;
};

void urt_rt_stats(struct urt_rt *rt, struct urt_stats *st);

/*
 * Shuts down and frees rt (numbered protocol in src/sched.c): refuses new
 * spawns, aborts every task, cancels and drains every op, stops and joins
 * the workers, frees everything. final (may be NULL) receives the counters
 * at the end. Returns 0 when nothing was left over, -EBUSY when handles were
 * never joined/detached (their tasks are freed anyway; the handles must not
 * be used again), -EDEADLK from a worker thread (nothing is done).
 */
int urt_rt_free(struct urt_rt *rt, struct urt_stats *final);

/* Per-worker counters; any thread, values are relaxed snapshots. */
struct urt_worker_stats {
	uint64_t polls, lifo_polls;
	uint64_t steals_in;  /* tasks this worker stole */
	uint64_t steal_ops;  /* successful steal operations */
	uint64_t stolen_out; /* tasks siblings stole from this worker */
	uint64_t parks, unparks;
	uint64_t wakes_sent, wakes_received; /* MSG_RING wake-ups */
	uint64_t inject_pops;
	uint64_t ops_submitted, ops_completed;
	uint64_t cancels_routed; /* cancels sent to another worker's ring */
	uint64_t long_polls;
	uint64_t queue_depth; /* local run queue length now */
};

/* 0, or -EINVAL for a bad worker index. */
int urt_rt_worker_stats(struct urt_rt *rt, unsigned worker,
			struct urt_worker_stats *ws);
/* Tasks worker thief stole from worker victim (runtimes of <= 64 workers;
 * 0 otherwise). */
uint64_t urt_rt_steals(struct urt_rt *rt, unsigned thief, unsigned victim);

/* Number of workers rt runs. */
unsigned urt_rt_workers(const struct urt_rt *rt);

/*
 * 1 while a tracer (tools/ustrace) is attached to the urt:batch probe, so
 * that workers record their per-poll events; 0 otherwise, and always 0 in a
 * -Dusdt=disabled build. Any thread; a relaxed snapshot.
 */
unsigned urt_trace_attached(void);

#ifdef __cplusplus
}
#endif
#endif
