/* SPDX-License-Identifier: MIT */
/*
 * The batched tier of the probes: per-worker event buffers (their slow
 * path: allocation, clock choice, anchors, flush through urt:batch) plus
 * the USDT semaphores. The probe sites and the inline appends live in
 * trace.h and where the events happen (sched.c, task.c, op.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define HDR_BYTES ((uint32_t)sizeof(struct urt_trace_batch))

_Static_assert(sizeof(struct urt_trace_rec) == URT_TRACE_REC_BYTES,
	       "record size");
_Static_assert(sizeof(struct urt_trace_poll) == URT_TRACE_REC_BYTES,
	       "poll record size");
_Static_assert(sizeof(struct urt_trace_short) == URT_TRACE_SHORT_BYTES,
	       "short record size");
_Static_assert(sizeof(struct urt_trace_tiny) == URT_TRACE_TINY_BYTES,
	       "tiny record size");
/* trace.h's open poll is a byte pointer: type and flags in the same
 * place in every record */
_Static_assert(offsetof(struct urt_trace_poll, flags) == 1 &&
		   offsetof(struct urt_trace_short, flags) == 1 &&
		   offsetof(struct urt_trace_tiny, flags) == 1 &&
		   offsetof(struct urt_trace_rec, flags) == 1,
	       "flags byte");
_Static_assert(sizeof(struct urt_trace_batch) % 8 == 0, "header size");

unsigned urt_trace_attached(void)
{
#if URT_USDT
	return URT__SEM(batch) != 0;
#else
	return 0;
#endif
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t tick(const struct urt__tbuf *b)
{
	return b->tsc ? urt__rdtsc() : mono_ns();
}

/*
 * Whether ticks can be TSC reads: an invariant TSC (constant rate, runs in
 * every C-state: CPUID 0x80000007 EDX bit 8) that the kernel also chose
 * as its clocksource, so that it is synchronized between CPUs and
 * CLOCK_MONOTONIC is a linear function of it between NTP adjustments. A
 * rdtsc costs about half a vDSO clock_gettime.
 */
static bool tsc_usable(void)
{
#if defined(__x86_64__)
	unsigned a, b, c, d;
	char cs[32] = "";
	FILE *f;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(0x80000000u), "c"(0));
	if (a < 0x80000007u)
		return false;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(0x80000007u), "c"(0));
	if (!(d & (1u << 8)))
		return false;
	f = fopen("/sys/devices/system/clocksource/clocksource0/"
		  "current_clocksource",
		  "re");
	if (!f)
		return false;
	if (!fgets(cs, sizeof(cs), f))
		cs[0] = 0;
	fclose(f);
	return !strcmp(cs, "tsc\n");
#else
	return false;
#endif
}

/*
 * A (tick, CLOCK_MONOTONIC ns) pair. With the TSC: the tick is the middle
 * of two reads around clock_gettime, whose own TSC read lies between
 * them; the closest of three tries (a preemption can land in one).
 */
static void anchor(const struct urt__tbuf *b, uint64_t *tk, uint64_t *ns)
{
	uint64_t best = UINT64_MAX;

	if (!b->tsc) {
		*ns = *tk = mono_ns();
		return;
	}
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = urt__rdtsc();
		uint64_t n = mono_ns();
		uint64_t t1 = urt__rdtsc();

		if (t1 - t0 < best) {
			best = t1 - t0;
			*tk = t0 + (t1 - t0) / 2;
			*ns = n;
		}
	}
}

static struct urt_trace_batch *hdr(struct urt__tbuf *b)
{
	return (struct urt_trace_batch *)b->buf;
}

/* The buffer holds no record yet: opens the batch (first anchor). */
static void open_batch(struct urt__worker *w)
{
	struct urt__tbuf *b = &w->tb;
	struct urt_trace_batch *h = hdr(b);

	h->magic = URT_TRACE_MAGIC;
	h->version = URT_TRACE_FORMAT_VERSION;
	h->worker = (uint16_t)w->id;
	h->flags = b->tsc ? URT_TRB_TSC : 0;
	h->pad = 0;
	anchor(b, &h->tick0, &h->ns0);
	b->base = h->tick0;
	b->chain = 0;
	b->depth = UINT32_MAX;
	b->nrec = 0;
	b->pos = b->buf + HDR_BYTES;
	/* past here the fast paths call us (always, without the TSC) */
	b->end = b->tsc ? b->buf + URT_TRACE_BUF_BYTES - URT_TRACE_REC_BYTES + 1
			: NULL;
}

void urt__trace_flush(struct urt__worker *w)
{
	struct urt__tbuf *b = &w->tb;
	unsigned char *open = b->poll;
	struct urt_trace_batch *h;
	uint64_t task = 0;
	uint16_t depth = 0;

	if (!b->buf || b->pos <= b->buf + HDR_BYTES)
		return;
	h = hdr(b);
	if (open) {
		/* its end goes in the next batch: remember what it needs */
		if (open[1] & URT_TRF_TINY) {
			task = ((struct urt_trace_tiny *)(void *)open)->task;
			depth = b->depth > 0xffff ? 0xffff
						  : (uint16_t)b->depth;
		} else if (open[1] & URT_TRF_SHORT) {
			struct urt_trace_short *s = (void *)open;

			task = s->task;
			depth = s->arg;
		} else {
			struct urt_trace_poll *p = (void *)open;

			task = p->task;
			depth = p->depth;
		}
		open[1] |= URT_TRF_SPLIT;
	}
	anchor(b, &h->tick1, &h->ns1);
	h->bytes = (uint32_t)(b->pos - b->buf);
	h->records = b->nrec;
	/* The tracer copies the buffer out while we are stopped in the
	 * probe: it is free again when the probe returns. The compiler
	 * barriers keep every store to it on its side of the probe (the asm
	 * statement of a probe has no memory clobber). */
	__asm__ __volatile__("" ::: "memory");
	URT_PROBE(batch, w->id, (uintptr_t)b->buf, h->bytes);
	__asm__ __volatile__("" ::: "memory");
	/* Empty: the next append opens a batch (room()). */
	b->pos = b->buf + HDR_BYTES;
	b->end = NULL;
	b->poll = NULL;
	if (open) {
		/* The poll goes on: a 32-byte POLL_CONT (its start lies
		 * before the new batch's tick0) takes its end. */
		struct urt_trace_poll *c;

		open_batch(w);
		c = (struct urt_trace_poll *)b->pos;
		*c = (struct urt_trace_poll){.type = URT_TR_POLL_CONT,
					     .depth = depth,
					     .tick = b->poll_tick,
					     .task = task};
		b->pos += URT_TRACE_REC_BYTES;
		b->nrec = 1;
		b->poll = (unsigned char *)c;
	}
}

/*
 * Room for a 32-byte record at b->pos: allocates, flushes a full buffer,
 * opens a batch. Returns false where there is no buffer.
 */
static bool room(struct urt__worker *w)
{
	struct urt__tbuf *b = &w->tb;

	if (!b->buf) {
		b->buf = malloc(URT_TRACE_BUF_BYTES);
		if (!b->buf)
			return false; /* the tracer sees the gap */
		b->tsc = tsc_usable();
		b->pos = b->buf + HDR_BYTES;
		b->end = NULL;
	}
	if (b->pos + URT_TRACE_REC_BYTES > b->buf + URT_TRACE_BUF_BYTES)
		urt__trace_flush(w); /* full */
	if (b->pos == b->buf + HDR_BYTES)
		open_batch(w);
	return true;
}

void urt__trace_rec(struct urt__worker *w, uint8_t type, uint64_t task,
		    uint64_t data, uint32_t arg)
{
	struct urt__tbuf *b = &w->tb;
	uint64_t now, dt;
	uint8_t inner;

	b->chain = 0; /* the next poll starts after this */
	/* (as integers: end may be NULL) */
	if (!((uintptr_t)b->pos < (uintptr_t)b->end) && !room(w))
		return;
	/* after room(): a flush may have moved the open poll on */
	inner = b->poll ? URT_TRF_INNER : 0;
	now = tick(b);
	dt = now - b->base;
	b->nrec++;
	if (((task | dt | data) >> 32) == 0 && arg <= 0xffff) {
		struct urt_trace_short *r = (void *)b->pos;

		*r = (struct urt_trace_short){.type = type,
					      .flags = URT_TRF_SHORT | inner,
					      .arg = (uint16_t)arg,
					      .dtick = (uint32_t)dt,
					      .task = (uint32_t)task,
					      .data = (uint32_t)data};
		b->pos += URT_TRACE_SHORT_BYTES;
	} else {
		struct urt_trace_rec *r = (void *)b->pos;

		*r = (struct urt_trace_rec){.type = type,
					    .flags = inner,
					    .arg = arg,
					    .tick = now,
					    .task = task,
					    .data = data};
		b->pos += URT_TRACE_REC_BYTES;
	}
}

void urt__tpoll_begin_slow(struct urt__worker *w, uint64_t task,
			   uint32_t depth)
{
	struct urt__tbuf *b = &w->tb;

	/* not b->chain: a flush may have taken microseconds since */
	if (room(w))
		urt__tpoll_open(b, tick(b), false, task, depth);
}

void urt__tpoll_close_slow(struct urt__worker *w, uint64_t now, bool ready,
			   int res, bool yielded)
{
	struct urt__tbuf *b = &w->tb;
	uint64_t d = now - b->poll_tick;

	/* What an 8- or 16-byte record has no room for goes in inner
	 * records of its own, first: their appends may flush, the poll
	 * going on in a 32-byte POLL_CONT, which takes it all itself. */
	if (ready && res && (b->poll[1] & (URT_TRF_SHORT | URT_TRF_TINY)))
		urt__trace_rec(w, URT_TR_RESULT, 0, (uint32_t)res, 0);
	if ((b->poll[1] & URT_TRF_TINY) && d > 0xffff)
		urt__trace_rec(w, URT_TR_PDUR, 0, d, 0);
	if (b->poll[1] & URT_TRF_TINY) {
		((struct urt_trace_tiny *)(void *)b->poll)->dur =
		    d > 0xffff ? 0xffff : (uint16_t)d;
	} else if (b->poll[1] & URT_TRF_SHORT) {
		struct urt_trace_short *s = (void *)b->poll;

		if (d >> 32) {
			d >>= 16;
			d = d >> 32 ? UINT32_MAX : d;
			s->flags |= URT_TRF_DUR16;
		}
		s->data = (uint32_t)d;
	} else {
		struct urt_trace_poll *p = (void *)b->poll;

		p->dur = d;
		p->res = res;
	}
	b->poll[1] |= (ready ? URT_TRF_READY : 0) | (yielded ? URT_TRF_YIELD : 0);
	b->poll = NULL;
	/* the next poll's record cannot say where this one ended */
	b->chain = 0;
}

void urt__tpoll_end_slow(struct urt__worker *w, bool ready, int res,
			 bool yielded)
{
	urt__tpoll_close(&w->tb, w, tick(&w->tb), ready, res, yielded);
}

void urt__trace_forget(struct urt__worker *w)
{
	struct urt__tbuf *b = &w->tb;

	if (b->pos == b->buf + HDR_BYTES)
		return;
	/* as after a flush: the next append opens a batch */
	b->pos = b->buf + HDR_BYTES;
	b->end = NULL;
	b->chain = 0;
}

void urt__trace_free(struct urt__worker *w)
{
	free(w->tb.buf);
	memset(&w->tb, 0, sizeof(w->tb));
}
