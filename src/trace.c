/* SPDX-License-Identifier: MIT */
/*
 * The batched tier of the probes: per-worker event buffers and their flush
 * through urt:batch, plus the USDT semaphores. The probe sites themselves
 * live where the events happen (sched.c, task.c, op.c).
 */
#include <stdlib.h>
#include <time.h>

#include "internal.h"
#include "trace.h"

#if URT_USDT
/* One semaphore per probe: the kernel bumps it while a tracer attaches. */
#define URT__SEM_DEF(name)                                                    \
	volatile unsigned short URT__SEM(name)                                \
		__attribute__((section(".probes"), used)) = 0;
URT__PROBE_SEMS(URT__SEM_DEF)
#endif

unsigned urt_trace_attached(void)
{
#if URT_USDT
	return URT__SEM(batch) != 0;
#else
	return 0;
#endif
}

void urt__trace_rec(struct urt__worker *w, uint16_t type, uint64_t task,
		    uint64_t data, uint32_t arg)
{
	struct urt_trace_rec *r;
	struct timespec ts;

	if (!w->tbuf) {
		w->tbuf = malloc(URT_TRACE_BUF_RECS * sizeof(*w->tbuf));
		if (!w->tbuf)
			return; /* the tracer sees the gap in the stream */
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = &w->tbuf[w->tlen++];
	r->ts_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	r->task = task;
	r->data = data;
	r->arg = arg;
	r->type = type;
	r->worker = (uint16_t)w->id;
	if (w->tlen >= URT_TRACE_FLUSH_AT)
		urt__trace_flush(w);
}

void urt__trace_flush(struct urt__worker *w)
{
	if (!w->tlen)
		return;
	/* The tracer copies the buffer out while we are stopped in the
	 * probe: it is free again when the probe returns. */
	URT_PROBE(batch, w->id, (uintptr_t)w->tbuf,
		  w->tlen * (uint32_t)sizeof(*w->tbuf));
	w->tlen = 0;
}
