// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * ustrace's kernel side: turns urt's USDT probes, the batches of the
 * urt:batch probe and the kernel's scheduler and io_uring tracepoints of one
 * process into struct ust_event records in a BPF ring buffer. Decoding,
 * display and the log are ustrace.c's.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "ustrace.h"
/* trace_format.h includes <stdint.h>; vmlinux.h already defines its types
 * and glibc's header cannot be used for -target bpf: skip clang's. */
#define __CLANG_STDINT_H
#include "trace_format.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by the loader before load (rodata). */
const volatile __u32 target_tgid = 0;
/* Past this many unread bytes a record wakes the consumer; below it the
 * consumer finds them on its 10 ms poll (a wakeup per record would double
 * the cost of a probe hit). */
const volatile __u64 wakeup_bytes = 256 * 1024;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024); /* the loader sets --ring-mb */
} rb SEC(".maps");

/* Records lost because the ring was full: per CPU, summed by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* io_uring rings (struct io_ring_ctx *) the target submitted to: the
 * completion tracepoint fires in any context, so it is filtered by ring. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32); /* tid of the first submitter */
} rings SEC(".maps");

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *d = bpf_map_lookup_elem(&drops, &zero);

	if (d)
		*d += 1;
}

static __always_inline struct ust_event *ev_reserve(void)
{
	struct ust_event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);

	if (!e)
		count_drop();
	return e;
}

/*
 * Wake the consumer only for the record that takes the unread bytes past
 * wakeup_bytes. While it is behind (busy on the records before), every
 * further wakeup would be wasted, and each costs an irq_work: a self-IPI,
 * which in a VM is an exit (an APIC register write) per record. Records
 * that race past the mark together may all miss it: the consumer's 10 ms
 * poll is the bound then.
 */
/* The ring's own header in front of each record (BPF_RINGBUF_HDR_SZ):
 * BPF_RB_AVAIL_DATA counts it. */
#define RB_HDR 8

static __always_inline __u64 wake_flag(__u64 before, __u64 bytes)
{
	return before < wakeup_bytes && before + bytes >= wakeup_bytes
		   ? BPF_RB_FORCE_WAKEUP
		   : BPF_RB_NO_WAKEUP;
}

static __always_inline void ev_submit(struct ust_event *e)
{
	/* reserved: already counted in the unread bytes */
	__u64 avail = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(e, wake_flag(avail - (sizeof(*e) + RB_HDR),
					sizeof(*e) + RB_HDR));
}

static __always_inline void ev_head(struct ust_event *e, __u16 type, __u32 tid)
{
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->tid = tid;
	e->cpu = (__u16)bpf_get_smp_processor_id();
	e->task = 0;
	e->data = 0;
	e->arg = 0;
	e->worker = UST_NO_WORKER;
	e->worker2 = UST_NO_WORKER;
}

static __always_inline bool in_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline __u64 uarg(struct pt_regs *ctx, __u64 i)
{
	long v = 0;

	bpf_usdt_arg(ctx, i, &v);
	return (__u64)v;
}

/* A worker id from a probe argument; -1 (a non-worker thread) and
 * anything out of range become UST_NO_WORKER. */
static __always_inline __u16 wid(__u64 v)
{
	return v < UST_NO_WORKER ? (__u16)v : UST_NO_WORKER;
}

/*
 * Every direct probe but urt:batch, attached once per probe with its
 * enum ust_type as the USDT cookie. Arguments per probe: src/trace.h and
 * the probe sites; their meaning in the record: ustrace.h.
 */
SEC("usdt")
int on_probe(struct pt_regs *ctx)
{
	__u16 type = (__u16)bpf_usdt_cookie(ctx);
	struct ust_event *e;

	if (!in_target())
		return 0;
	e = ev_reserve();
	if (!e)
		return 0;
	ev_head(e, type, (__u32)bpf_get_current_pid_tgid());
	switch (type) {
	case UST_WORKER_START: /* (worker, tid) */
	case UST_WORKER_STOP:
		e->worker = wid(uarg(ctx, 0));
		e->arg = (__u32)uarg(ctx, 1);
		break;
	case UST_SPAWN_FOREIGN: /* (task, parent, worker = -1) */
		e->task = uarg(ctx, 0);
		e->data = uarg(ctx, 1);
		e->worker = wid(uarg(ctx, 2));
		break;
	case UST_STEAL: /* (thief, victim, count) */
		e->worker = wid(uarg(ctx, 0));
		e->worker2 = wid(uarg(ctx, 1));
		e->arg = (__u32)uarg(ctx, 2);
		break;
	case UST_MIGRATE: /* (task, from, to, reason) */
		e->task = uarg(ctx, 0);
		e->worker2 = wid(uarg(ctx, 1));
		e->worker = wid(uarg(ctx, 2));
		e->arg = (__u32)uarg(ctx, 3);
		break;
	case UST_PARK: /* (worker, reason) */
	case UST_UNPARK:
		e->worker = wid(uarg(ctx, 0));
		e->arg = (__u32)uarg(ctx, 1);
		break;
	case UST_ABORT: /* (task, worker) */
		e->task = uarg(ctx, 0);
		e->worker = wid(uarg(ctx, 1));
		break;
	case UST_LONG_POLL: /* (task, worker, ns) */
		e->task = uarg(ctx, 0);
		e->worker = wid(uarg(ctx, 1));
		e->data = uarg(ctx, 2);
		break;
	default:
		break;
	}
	ev_submit(e);
	return 0;
}

/*
 * urt:batch(worker, addr, bytes): a buffer of liburt's (struct
 * urt_trace_batch, then records; trace_format.h), free again once the
 * probe returns, so it is copied now, straight from the process into a
 * ring buffer record (ust_rb_batch, then the bytes). The reservation size
 * must be a constant: the smallest of a few classes that fits, so a small
 * batch (a worker about to park) does not take 64 KiB of the ring. The
 * consumer reads ust_rb_batch.bytes, not the record's size.
 */
#define BATCH_MAX URT_TRACE_BUF_BYTES

/*
 * A batch that does not reach the consumer: counted in records (a poll's
 * one record is 2 to 4 events: what is lost is known only once decoded),
 * from its header's count; where even that cannot be read, as if all its
 * records were short ones.
 */
static __always_inline void count_lost(__u64 addr, __u64 bytes)
{
	__u32 zero = 0, n = 0;
	__u64 *d = bpf_map_lookup_elem(&drops, &zero);

	if (bpf_probe_read_user(&n, sizeof(n),
				(void *)(addr + offsetof(struct urt_trace_batch,
							 records))))
		n = (__u32)(bytes / URT_TRACE_SHORT_BYTES);
	if (d)
		*d += n;
}

static __always_inline int batch_out(__u64 cap, __u64 addr, __u64 bytes)
{
	struct ust_rb_batch *b;

	b = bpf_ringbuf_reserve(&rb, sizeof(*b) + cap, 0);
	if (!b) {
		count_lost(addr, bytes);
		return 0;
	}
	if (bytes > cap)
		bytes = cap;
	if (bpf_probe_read_user(b + 1, bytes, (void *)addr)) {
		/* unreadable (paged out?): lost, so counted like a full
		 * ring, never silent */
		bpf_ringbuf_discard(b, BPF_RB_NO_WAKEUP);
		count_lost(addr, bytes);
		return 0;
	}
	b->mark = UST_RB_BATCH_MARK;
	b->tid = (__u32)bpf_get_current_pid_tgid();
	b->cpu = (__u16)bpf_get_smp_processor_id();
	b->flags = 0;
	b->bytes = (__u32)bytes;
	b->pad = 0;
	bpf_ringbuf_submit(
	    b, wake_flag(bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) -
			     (sizeof(*b) + cap + RB_HDR),
			 sizeof(*b) + cap + RB_HDR));
	return 0;
}

SEC("usdt")
int on_batch(struct pt_regs *ctx)
{
	__u64 addr, bytes;

	if (!in_target())
		return 0;
	addr = uarg(ctx, 1);
	bytes = uarg(ctx, 2);
	if (!bytes)
		return 0;
	/* larger: not this format; its start still says which it is */
	if (bytes > BATCH_MAX)
		bytes = BATCH_MAX;
	if (bytes <= 512)
		return batch_out(512, addr, bytes);
	if (bytes <= 4096)
		return batch_out(4096, addr, bytes);
	if (bytes <= 16384)
		return batch_out(16384, addr, bytes);
	return batch_out(BATCH_MAX, addr, bytes);
}

/* The OS view: which worker thread is on a CPU, and which was preempted. */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct ust_event *e;
	__u32 ptgid = BPF_CORE_READ(prev, tgid);
	__u32 ntgid = BPF_CORE_READ(next, tgid);

	if (ptgid == target_tgid) {
		e = ev_reserve();
		if (e) {
			ev_head(e, UST_SCHED_SWITCH, BPF_CORE_READ(prev, pid));
			e->data = (__u32)BPF_CORE_READ(next, pid);
			/* runnable when switched out: the OS took the CPU
			 * (a preemption, or a yield), not a sleep */
			e->arg = preempt || BPF_CORE_READ(prev, __state) == 0;
			ev_submit(e);
		}
	}
	if (ntgid == target_tgid) {
		e = ev_reserve();
		if (e) {
			ev_head(e, UST_SCHED_SWITCH_IN,
				BPF_CORE_READ(next, pid));
			e->data = (__u32)BPF_CORE_READ(prev, pid);
			ev_submit(e);
		}
	}
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(on_os_migrate, struct task_struct *p, int dest_cpu)
{
	struct ust_event *e;

	/* current is the migrating CPU's thread, not p: filter on p */
	if (BPF_CORE_READ(p, tgid) != target_tgid)
		return 0;
	e = ev_reserve();
	if (!e)
		return 0;
	ev_head(e, UST_SCHED_MIGRATE, BPF_CORE_READ(p, pid));
	e->arg = (__u32)dest_cpu;
	e->data = BPF_CORE_READ(p, thread_info.cpu);
	ev_submit(e);
	return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(on_sqe, struct io_kiocb *req)
{
	struct ust_event *e;
	__u64 ring;
	__u32 tid;

	if (!in_target())
		return 0;
	ring = (__u64)BPF_CORE_READ(req, ctx);
	tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&rings, &ring, &tid, BPF_NOEXIST);
	e = ev_reserve();
	if (!e)
		return 0;
	ev_head(e, UST_IO_SUBMIT, tid);
	e->data = BPF_CORE_READ(req, cqe.user_data);
	e->arg = BPF_CORE_READ(req, opcode);
	ev_submit(e);
	return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(on_cqe, struct io_ring_ctx *ring_ctx, void *req,
	     struct io_uring_cqe *cqe)
{
	struct ust_event *e;
	__u64 ring = (__u64)ring_ctx;

	if (!bpf_map_lookup_elem(&rings, &ring))
		return 0;
	e = ev_reserve();
	if (!e)
		return 0;
	ev_head(e, UST_IO_COMPLETE, (__u32)bpf_get_current_pid_tgid());
	e->data = BPF_CORE_READ(cqe, user_data);
	e->arg = (__u32)BPF_CORE_READ(cqe, res);
	ev_submit(e);
	return 0;
}
