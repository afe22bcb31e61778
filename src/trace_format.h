/* SPDX-License-Identifier: MIT */
/*
 * The batched trace records: the ABI between liburt's per-worker event
 * buffers and tools/ustrace (which reads them through the urt:batch USDT
 * probe). A buffer is a struct urt_trace_batch, then 8-, 16- and
 * 32-byte records.
 * Little-endian, no pointers into the process except op user_data (which
 * the kernel's io_uring tracepoints also carry).
 * Change it only together with URT_TRACE_FORMAT_VERSION: ustrace checks
 * the version of every batch and reads none of another version.
 */
#ifndef URT_TRACE_FORMAT_H
#define URT_TRACE_FORMAT_H

#include <stdint.h>

/* 3: 16- and 8-byte records where the values fit, inner records flagged
 * (2: 32 bytes each, a poll counted its inner bytes; 1: three records per
 * poll, each with its CLOCK_MONOTONIC time; no batch header). */
#define URT_TRACE_FORMAT_VERSION 3
#define URT_TRACE_MAGIC 0x42545255u /* "URTB" */

/*
 * Times are ticks of the clock named by the batch's flags: the TSC (x86-64
 * with an invariant TSC that the kernel uses as its clocksource) or
 * CLOCK_MONOTONIC ns. Each batch carries two anchors, (tick, ns) pairs
 * read back to back, the ns from CLOCK_MONOTONIC (the clock of
 * bpf_ktime_get_ns()): one when its first record was written, one when it
 * was flushed. A reader maps ticks to ns through them (tools/ustrace
 * decode.c). Short records count their ticks from tick0.
 */
struct urt_trace_batch {
	uint32_t magic;	  /* URT_TRACE_MAGIC */
	uint16_t version; /* URT_TRACE_FORMAT_VERSION */
	uint16_t worker;  /* the worker that recorded every record */
	uint32_t bytes;	  /* this header and the records */
	uint32_t flags;	  /* URT_TRB_* */
	uint32_t records; /* how many records follow */
	uint32_t pad;	  /* 0 */
	uint64_t tick0, ns0; /* anchor at the first record */
	uint64_t tick1, ns1; /* anchor at the flush */
};

enum urt_trace_batch_flags {
	URT_TRB_TSC = 1, /* ticks are TSC reads, else CLOCK_MONOTONIC ns */
};

enum urt_trace_type {
	URT_TR_POLL = 1,      /* one whole poll (struct urt_trace_poll, or
			       * a short record) */
	URT_TR_POLL_CONT = 2, /* struct urt_trace_poll: the rest of a poll
			       * that was open when its batch was flushed
			       * (that record has URT_TRF_SPLIT): first
			       * record of the next batch, same task and
			       * start; it has the end */
	URT_TR_WAKE = 3,       /* task woken; arg: kind (enum below) */
	URT_TR_OP_SUBMIT = 4,  /* task; data: SQE user_data; arg: opcode */
	URT_TR_OP_COMPLETE = 5, /* task; data: user_data; arg: (u32) res */
	URT_TR_SPAWN = 6,      /* task; data: parent task id (0: none) */
	URT_TR_EXIT = 7,       /* task ended without a poll (aborted);
				* arg: (u32) result. A poll that ends its
				* task says so itself (URT_TRF_READY). */
	URT_TR_MIGRATE = 8,    /* task polled on a new worker (the recorder);
				* data: previous worker; arg: enum
				* urt_trace_migrate. While the batch tier is
				* on, this replaces the urt:migrate probe. */
	URT_TR_STEAL = 9,      /* the recorder stole; data: victim worker;
				* arg: tasks taken (replaces urt:steal) */
	URT_TR_PARK = 10,      /* the recorder parks (its last record before
				* the flush); arg: enum urt_trace_park
				* (replaces urt:park) */
	URT_TR_RESULT = 11,    /* inner record of a 16- or 8-byte poll
				* record that ended its task with a result
				* other than 0: data: (u32) result */
	URT_TR_PDUR = 12,      /* inner record of an 8-byte poll record of
				* 65536 ticks or more: data: its duration in
				* ticks */
};

/*
 * Every record starts with its type and flags; URT_TRF_SHORT says it is a
 * struct urt_trace_short (16 bytes), URT_TRF_TINY a struct urt_trace_tiny
 * (8 bytes), else it is 32 bytes. A record with
 * URT_TRF_INNER was written during the poll whose record is the last
 * poll record before it (spawns, wakes, ops of that poll), and belongs to
 * it. tick: when it happened.
 */
struct urt_trace_rec {
	uint8_t type;  /* enum urt_trace_type */
	uint8_t flags; /* URT_TRF_INNER */
	uint16_t pad;
	uint32_t arg;
	uint64_t tick;
	uint64_t task; /* task id, 64-bit, never reused */
	uint64_t data;
};

/* A poll: written when it begins, completed when it ends. */
struct urt_trace_poll {
	uint8_t type;	/* URT_TR_POLL or URT_TR_POLL_CONT */
	uint8_t flags;	/* URT_TRF_* */
	uint16_t depth; /* local queue length at the start (saturated) */
	int32_t res;	/* URT_TRF_READY: the task's result */
	uint64_t tick;	/* start (a URT_TR_POLL_CONT repeats it) */
	uint64_t task;
	uint64_t dur; /* ticks from start to end */
};

/*
 * The same in 16 bytes, where it fits (liburt's choice, record by
 * record): task id below 2^32, tick within 2^32 ticks after the batch's
 * tick0; arg below 2^16 and data below 2^32 (events); a poll's result
 * goes in a URT_TR_RESULT record where it is not 0.
 */
struct urt_trace_short {
	uint8_t type;  /* enum urt_trace_type, not POLL_CONT */
	uint8_t flags; /* URT_TRF_SHORT | ... */
	uint16_t arg;  /* a poll: its depth */
	uint32_t dtick; /* tick - the batch's tick0 */
	uint32_t task;
	uint32_t data; /* a poll: its duration in ticks (URT_TRF_DUR16: in
			* units of 65536 ticks, UINT32_MAX: even longer) */
};

/*
 * A poll in 8 bytes: one that began where the poll recorded just before
 * it in the batch ended (the worker went straight from one to the other:
 * one clock read for both), with the same queue depth, a task id below
 * 2^32. Where it lasts 65536 ticks or more, a URT_TR_PDUR record gives
 * its duration (dur: 0xffff).
 */
struct urt_trace_tiny {
	uint8_t type;  /* URT_TR_POLL */
	uint8_t flags; /* URT_TRF_TINY | ... */
	uint16_t dur;  /* ticks */
	uint32_t task;
};

enum urt_trace_flags {
	URT_TRF_READY = 1, /* poll: it returned a result, the task ended */
	URT_TRF_YIELD = 2, /* poll: it yielded (urt_cx_yield): runnable */
	URT_TRF_SPLIT = 4, /* poll: flushed while open, ends in a POLL_CONT */
	URT_TRF_DUR16 = 8, /* short poll: see urt_trace_short.data */
	URT_TRF_INNER = 16, /* written during the poll before it */
	URT_TRF_SHORT = 32, /* a struct urt_trace_short */
	URT_TRF_TINY = 64,  /* a struct urt_trace_tiny */
};

/* Per worker buffer, header included; flushed when full or on park. */
#define URT_TRACE_BUF_BYTES 65536
#define URT_TRACE_REC_BYTES 32	 /* struct urt_trace_rec, urt_trace_poll */
#define URT_TRACE_SHORT_BYTES 16 /* struct urt_trace_short */
#define URT_TRACE_TINY_BYTES 8	 /* struct urt_trace_tiny */

/* URT_TR_WAKE arg: where the woken task went. */
enum urt_trace_wake {
	URT_TRW_LIFO = 0,
	URT_TRW_LOCAL = 1,
	URT_TRW_INJECT = 2,
	URT_TRW_RUNNING = 3, /* it was running: it will be re-polled */
};

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
