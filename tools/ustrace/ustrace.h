/* SPDX-License-Identifier: MIT */
/*
 * Events shared by ustrace.bpf.c (producer), ustrace.c (loader, live view,
 * recorder) and the exporters: the BPF ring buffer record and the
 * canonical event log format. Plain __u* types only: this header is
 * compiled both for the BPF target and for user space.
 */
#ifndef USTRACE_H
#define USTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Event types. 1..15 come from the records of the urt:batch probe
 * (src/trace_format.h; decode.c): a poll record gives POLL_BEGIN, POLL_END,
 * and WAKE (yield) and EXIT where it says so; 3..7 keep their numbers.
 * 16.. are direct USDT probes; 32.. the kernel's view; 48.. ustrace's own
 * bookkeeping. The batch records URT_TR_MIGRATE, URT_TR_STEAL and
 * URT_TR_PARK (which liburt writes instead of firing urt:migrate,
 * urt:steal and urt:park while the batch tier is on) become UST_MIGRATE,
 * UST_STEAL and UST_PARK, so each has one type; 8.. are never batch
 * event types.
 */
enum ust_type {
	UST_POLL_BEGIN = 1,	/* task; arg: local queue depth */
	UST_POLL_END = 2,	/* task; arg: 1 ready, 0 pending */
	UST_WAKE = 3,		/* task woken; arg: enum urt_trace_wake */
	UST_OP_SUBMIT = 4,	/* task; data: user_data; arg: opcode */
	UST_OP_COMPLETE = 5,	/* task; data: user_data; arg: (s32) res */
	UST_SPAWN = 6,		/* task; data: parent task (0: none) */
	UST_EXIT = 7,		/* task; arg: (s32) result */

	UST_WORKER_START = 16,	/* worker; arg: tid */
	UST_WORKER_STOP = 17,	/* worker; arg: tid */
	UST_SPAWN_FOREIGN = 18, /* task spawned by a non-worker thread */
	UST_STEAL = 19,		/* worker: thief; worker2: victim; arg: count */
	UST_MIGRATE = 20,	/* task; worker2: from; worker: to;
				 * arg: enum urt_trace_migrate */
	UST_PARK = 21,		/* worker; arg: enum urt_trace_park */
	UST_UNPARK = 22,	/* worker; arg: enum urt_trace_park */
	UST_ABORT = 23,		/* task; worker */
	UST_LONG_POLL = 24,	/* task; worker; data: duration ns */

	UST_SCHED_SWITCH = 32,	/* OS: tid (prev, in the target) off CPU;
				 * data: next tid; arg: 1 if prev was
				 * preempted (still runnable), 0 if it slept */
	UST_SCHED_MIGRATE = 33, /* OS: tid moved; arg: dest cpu; data: orig */
	UST_IO_SUBMIT = 34,	/* kernel io_uring_submit_req: data: user_data;
				 * arg: opcode */
	UST_IO_COMPLETE = 35,	/* kernel io_uring_complete: data: user_data;
				 * arg: (s32) res */
	UST_SCHED_SWITCH_IN = 36, /* OS: tid (next, in the target) on CPU;
				   * data: prev tid (any process).
				   * Added after version 1 shipped; readers
				   * ignore types they do not know. */

	UST_DROPS = 48,		/* data: records the ring buffer dropped since
				 * the previous UST_DROPS (their sum is
				 * ust_log_header.drops): events of direct
				 * probes and the kernel, and liburt's batch
				 * records (a poll's one record is 2 to 4
				 * events); written by the recorder when it
				 * notices them */
	UST_TARGET_EXIT = 49,	/* the traced process ended; arg: wait status
				 * (as waitpid; 0 for a -p target, whose
				 * status ustrace cannot see). Absent when
				 * ustrace detached from a live process. */
};

#define UST_NO_WORKER 0xffff

/* One event: the BPF ring buffer record and the log record alike. */
struct ust_event {
	__u64 ts_ns;	/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 task;	/* urt task id, 0 if none */
	__u64 data;	/* per type, see enum ust_type */
	__u32 arg;	/* per type */
	__u32 tid;	/* thread that produced it */
	__u16 type;	/* enum ust_type */
	__u16 worker;	/* urt worker id or UST_NO_WORKER */
	__u16 worker2;	/* second worker (steal victim, migrate from) */
	__u16 cpu;	/* CPU it was recorded on */
};
/* A version 2 log pads each item to 8 bytes and its reader steps events by
 * the header's event_size: the two agree only while this holds. */
_Static_assert(sizeof(struct ust_event) % 8 == 0,
	       "struct ust_event must stay a multiple of 8 bytes");

/*
 * The BPF ring buffer also carries whole urt:batch buffers, copied as they
 * are (one copy per batch instead of one ring record per event): this
 * header, then bytes of liburt's buffer (src/trace_format.h: a struct
 * urt_trace_batch, then records). decode.c turns them into ust_events.
 */
#define UST_RB_BATCH_MARK 0xffffffffffffffffull
struct ust_rb_batch {
	__u64 mark;	/* UST_RB_BATCH_MARK: no ust_event has this ts_ns */
	__u32 tid;	/* the worker thread that flushed it */
	__u16 cpu;
	__u16 flags;	/* 0 */
	__u32 bytes;	/* of liburt's buffer that follow */
	__u32 pad;
};

/*
 * The event log (canonical, replayable): a header, then, in the order they
 * were read (not necessarily sorted by ts_ns; readers sort):
 *  - version 1: ust_event records (event_size bytes each);
 *  - version 2: items, each a ust_event (event_size bytes) or a batch of
 *    liburt's records exactly as the ring buffer carried it (struct
 *    ust_rb_batch, whose mark no ust_event has, then its bytes; padded to
 *    a multiple of 8 bytes). A batch holds a few dozen bytes per poll
 *    where its ust_events would take 80 to 160: the log is written while
 *    the traced program runs, on the same CPUs. decode.c reads both
 *    versions into ust_events; batches never hold another version of
 *    liburt's format (ustrace checks each before logging it).
 * Little-endian, as written by x86-64.
 */
#define UST_LOG_MAGIC "USTRACE1"
#define UST_LOG_VERSION 2
struct ust_log_header {
	char magic[8];	   /* UST_LOG_MAGIC, no NUL */
	__u32 version;	   /* 1 or 2 */
	__u32 event_size;  /* sizeof(struct ust_event) */
	__u32 pid;	   /* traced process */
	__u32 nworkers;	   /* 0 if unknown */
	__u64 start_ns;	   /* CLOCK_MONOTONIC when tracing began */
	__u64 drops;	   /* total dropped, also as UST_DROPS events */
	char comm[32];	   /* traced command, NUL-terminated */
};

#endif
