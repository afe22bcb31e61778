/* SPDX-License-Identifier: MIT */
/*
 * The batched trace record: the ABI between liburt's per-worker event
 * buffers and tools/ustrace (which reads them through the urt:batch USDT
 * probe). Fixed-size, little-endian, no pointers into the process except
 * op user_data (which the kernel's io_uring tracepoints also carry).
 * Change it only together with URT_TRACE_FORMAT_VERSION.
 */
#ifndef URT_TRACE_FORMAT_H
#define URT_TRACE_FORMAT_H

#include <stdint.h>

#define URT_TRACE_FORMAT_VERSION 1

enum urt_trace_type {
	URT_TR_POLL_BEGIN = 1, /* task; arg: local queue depth */
	URT_TR_POLL_END = 2,   /* task; arg: 0 pending, 1 ready */
	URT_TR_WAKE = 3,       /* task woken; arg: kind (enum below) */
	URT_TR_OP_SUBMIT = 4,  /* task; data: SQE user_data; arg: opcode */
	URT_TR_OP_COMPLETE = 5, /* task; data: user_data; arg: (u32) res */
	URT_TR_SPAWN = 6,      /* task; data: parent task id (0: none) */
	URT_TR_EXIT = 7,       /* task; arg: (u32) result */
	URT_TR_MIGRATE = 8,    /* task polled on a new worker (the recorder);
				* data: previous worker; arg: enum
				* urt_trace_migrate. While the batch tier is
				* on, this replaces the urt:migrate probe. */
};

/* URT_TR_WAKE arg: where the woken task went. */
enum urt_trace_wake {
	URT_TRW_LIFO = 0,
	URT_TRW_LOCAL = 1,
	URT_TRW_INJECT = 2,
	URT_TRW_RUNNING = 3, /* it was running: it will be re-polled */
};

struct urt_trace_rec {
	uint64_t ts_ns; /* CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
	uint64_t task;	/* task id, 64-bit, never reused */
	uint64_t data;
	uint32_t arg;
	uint16_t type;	 /* enum urt_trace_type */
	uint16_t worker; /* worker that recorded it */
};

/* Records per worker buffer; flushed at URT_TRACE_FLUSH_AT or on park. */
#define URT_TRACE_BUF_RECS 512
#define URT_TRACE_FLUSH_AT 448

/* urt:migrate reason argument. */
enum urt_trace_migrate {
	URT_TRM_STOLEN = 0, /* taken from a sibling's queue */
	URT_TRM_INJECT = 1, /* taken from the global queue */
	URT_TRM_WOKEN = 2,  /* woken or re-queued onto this worker */
};

/* urt:park / urt:unpark reason argument. */
enum urt_trace_park {
	URT_TRP_IDLE = 0,     /* park: nothing to run */
	URT_TRP_NOTIFIED = 1, /* unpark: a sibling or thread woke it */
	URT_TRP_EVENT = 2,    /* unpark: its own ring had a completion */
};

#endif
