/* SPDX-License-Identifier: MIT */
/*
 * Probes (DESIGN section 3). Two tiers:
 *  - URT_PROBE(name, ...): a USDT probe for rare events (worker start/stop,
 *    steal, migrate, park/unpark, abort, long poll). Detached it is one
 *    5-byte nop, which kernel 6.18 turns into a call when attached. While
 *    the batch tier is on, migrate, steal and park become records instead
 *    (they can be frequent: a trap each costs microseconds).
 *  - records in the worker's event buffer (trace_format.h), written only
 *    while a tracer is attached to urt:batch (its USDT semaphore is
 *    non-zero): URT_TPOLL_BEGIN/URT_TPOLL_END around each poll (one record
 *    per poll), URT_TREC for everything else. The buffer goes out through
 *    urt:batch(worker, addr, bytes) when it fills and before the worker
 *    parks: one trap for thousands of records.
 * Detached, each site is one load and a branch on the semaphore: URT_TREC,
 * and the poll site in urt__task_run, which calls the poll on a path
 * without URT_TPOLL_BEGIN/END when the semaphore is 0 (a poll that began
 * attached is completed on its path even if the tracer left since).
 * Built with -Dusdt=disabled, every probe compiles to nothing.
 */
#ifndef URT_TRACE_H
#define URT_TRACE_H

#include <stdbool.h>

#include "config.h"
#include "trace_format.h"

struct urt__worker;

/* A worker's event buffer (its owner's alone). */
struct urt__tbuf {
	char *pos; /* where the next record goes */
	char *end; /* appending at or past it takes the slow path (room for
		    * a 32-byte record below it; NULL while there is no
		    * batch or ticks are not TSC reads: always) */
	unsigned char *poll; /* the record of the poll being recorded (its
			      * type and flags bytes are common to all
			      * sizes), or NULL */
	uint64_t poll_tick; /* its start */
	uint64_t base;	    /* the batch's tick0: short records count from
			     * it */
	uint64_t chain;	    /* the end tick of the poll just recorded
			     * (exact in its record), while the worker did
			     * nothing since but its own step to the next
			     * poll (0: none, URT_TCHAIN_BREAK): the next
			     * poll's start */
	uint64_t chain_seq; /* the worker's poll count when the next poll
			     * may chain */
	uint32_t depth;	    /* the queue depth of the batch's last poll
			     * record (UINT32_MAX: none) */
	uint32_t nrec;	    /* records in the batch */
	char *buf; /* URT_TRACE_BUF_BYTES (header, records); NULL: unused */
	bool tsc;  /* ticks are TSC reads, else CLOCK_MONOTONIC ns */
};

#if URT_USDT
#define _SDT_HAS_SEMAPHORES 1
/* libbpf 1.1 cannot parse base+index operands: registers only. */
#define STAP_SDT_ARG_CONSTRAINT r
#define SDT_USE_VARIADIC 1
#include <sys/sdt.h>
/* A 5-byte nop: the kernel can optimise the uprobe into a call. */
#undef _SDT_NOP
#define _SDT_NOP .nops 5

#define URT__SEM(name) urt_##name##_semaphore
#define URT__PROBE_SEMS(X)                                                    \
	X(worker_start) X(worker_stop) X(spawn) X(steal) X(migrate) X(park)   \
	X(unpark) X(abort) X(exit) X(long_poll) X(batch)
#define URT__SEM_DECL(name)                                                   \
	extern volatile unsigned short URT__SEM(name)                         \
		__attribute__((visibility("hidden")));
URT__PROBE_SEMS(URT__SEM_DECL)

#define URT_PROBE(name, ...) STAP_PROBEV(urt, name, ##__VA_ARGS__)
#define URT_TRACING() __builtin_expect(URT__SEM(batch) != 0, 0)
#else
#define URT_PROBE(name, ...) ((void)0)
#define URT_TRACING() 0
#endif

/*
 * Out of line: rare records and the slow paths (callers checked
 * URT_TRACING()). The inline fast paths below make no call, so that the
 * functions holding a site need no more saved registers for them.
 */
/* Appends a record to w's buffer. */
void urt__trace_rec(struct urt__worker *w, uint8_t type, uint64_t task,
		    uint64_t data, uint32_t arg)
	__attribute__((visibility("hidden")));
/* URT_TPOLL_BEGIN/END when the buffer is full or empty, or the clock is
 * not the TSC. */
void urt__tpoll_begin_slow(struct urt__worker *w, uint64_t task,
			   uint32_t depth)
	__attribute__((visibility("hidden")));
void urt__tpoll_end_slow(struct urt__worker *w, bool ready, int res,
			 bool yielded) __attribute__((visibility("hidden")));
/* Completes any open poll record, given its end tick. */
void urt__tpoll_close_slow(struct urt__worker *w, uint64_t now, bool ready,
			   int res, bool yielded)
	__attribute__((visibility("hidden")));
/* Hands w's buffer to the tracer through urt:batch and empties it (an
 * open poll goes on in the next batch). Any time, attached or not. */
void urt__trace_flush(struct urt__worker *w)
	__attribute__((visibility("hidden")));
/* Frees w's buffer (the worker exits). */
void urt__trace_free(struct urt__worker *w)
	__attribute__((visibility("hidden")));

/*
 * The fast paths: the buffer has room and ticks are TSC reads (otherwise
 * tb.end is NULL: every append takes the slow path). rdtsc is not
 * serializing: it may run a few instructions early or late, noise at the
 * ns scale; a fence would cost more.
 */
static inline uint64_t urt__rdtsc(void)
{
#if defined(__x86_64__)
	return __builtin_ia32_rdtsc();
#else
	return 0; /* never called: tb.tsc is false */
#endif
}

/*
 * Opens a poll record at b->pos (room checked) and makes it b's open
 * poll: 8 bytes where it starts at the end of the poll recorded just
 * before it (chained) with the same queue depth, 16 where the task id
 * and the tick fit, else 32.
 */
static inline void urt__tpoll_open(struct urt__tbuf *b, uint64_t now,
				   bool chained, uint64_t task,
				   uint32_t depth)
{
	uint64_t dt = now - b->base;

	b->poll = (unsigned char *)b->pos;
	b->poll_tick = now;
	b->nrec++;
	if (__builtin_expect(chained && depth == b->depth && !(task >> 32),
			     1)) {
		*(struct urt_trace_tiny *)b->pos = (struct urt_trace_tiny){
		    .type = URT_TR_POLL,
		    .flags = URT_TRF_TINY,
		    .task = (uint32_t)task};
		b->pos += URT_TRACE_TINY_BYTES;
		return;
	}
	b->depth = depth;
	if (depth > 0xffff)
		depth = 0xffff; /* saturated */
	if (((task | dt) >> 32) == 0) {
		*(struct urt_trace_short *)b->pos = (struct urt_trace_short){
		    .type = URT_TR_POLL,
		    .flags = URT_TRF_SHORT,
		    .arg = (uint16_t)depth,
		    .dtick = (uint32_t)dt,
		    .task = (uint32_t)task};
		b->pos += URT_TRACE_SHORT_BYTES;
	} else {
		*(struct urt_trace_poll *)b->pos =
		    (struct urt_trace_poll){.type = URT_TR_POLL,
					    .depth = (uint16_t)depth,
					    .tick = now,
					    .task = task};
		b->pos += URT_TRACE_REC_BYTES;
	}
}

static inline void urt__tpoll_begin(struct urt__tbuf *b,
				    struct urt__worker *w, uint64_t task,
				    uint32_t depth)
{
	uint64_t c = b->chain;

	/* (as integers: end may be NULL) */
	if (__builtin_expect(!((uintptr_t)b->pos < (uintptr_t)b->end), 0)) {
		urt__tpoll_begin_slow(w, task, depth);
		return;
	}
	/* A poll right after another: one clock read for both */
	urt__tpoll_open(b, c ? c : urt__rdtsc(), c != 0, task, depth);
}

/*
 * Completes the open poll's record, given its end tick: inline for an 8-
 * or 16-byte record whose duration fits it and that needs no result
 * record (its flags are still its size's alone: a flush makes the open
 * poll a 32-byte POLL_CONT); urt__tpoll_close_slow() for the rest, which
 * also breaks the chain (the end it keeps is exact only here).
 */
static inline void urt__tpoll_close(struct urt__tbuf *b,
				    struct urt__worker *w, uint64_t now,
				    bool ready, int res, bool yielded)
{
	unsigned char *p = b->poll;
	uint64_t d = now - b->poll_tick;
	uint8_t fl = (ready ? URT_TRF_READY : 0) | (yielded ? URT_TRF_YIELD : 0);

	if (__builtin_expect(!(ready && res), 1)) {
		if ((p[1] & URT_TRF_TINY) && d <= 0xffff) {
			((struct urt_trace_tiny *)p)->dur = (uint16_t)d;
			p[1] = URT_TRF_TINY | fl;
			b->poll = NULL;
			return;
		}
		if ((p[1] & URT_TRF_SHORT) && !(d >> 32)) {
			((struct urt_trace_short *)p)->data = (uint32_t)d;
			p[1] = URT_TRF_SHORT | fl;
			b->poll = NULL;
			return;
		}
	}
	urt__tpoll_close_slow(w, now, ready, res, yielded);
}

static inline void urt__tpoll_end(struct urt__tbuf *b, struct urt__worker *w,
				  bool ready, int res, bool yielded)
{
	if (__builtin_expect(!b->tsc, 0)) {
		urt__tpoll_end_slow(w, ready, res, yielded);
		return;
	}
	uint64_t now = urt__rdtsc();

	b->chain = now;
	urt__tpoll_close(b, w, now, ready, res, yielded);
}

/*
 * A worker's steal (thief w) and park: frequent in spawn-heavy loads (a
 * worker that runs out parks; one that finds work steals), where a trap
 * each cost more than all the polls' records. While the batch tier is on
 * they are records (a park's goes out with the flush before it parks);
 * otherwise the urt:steal and urt:park probes. urt:unpark stays a probe:
 * a tracer learns at once that a worker woke.
 */
#define URT_TSTEAL(w, victim, n)                                              \
	do {                                                                  \
		if (URT_TRACING())                                            \
			urt__trace_rec((w), URT_TR_STEAL, 0, (victim), (n));  \
		else                                                          \
			URT_PROBE(steal, (w)->id, (victim), (n));             \
	} while (0)
#define URT_TPARK(w, reason)                                                  \
	do {                                                                  \
		if (URT_TRACING())                                            \
			urt__trace_rec((w), URT_TR_PARK, 0, 0, (reason));     \
		else                                                          \
			URT_PROBE(park, (w)->id, (reason));                   \
	} while (0)

/* URT_USDT 0: the sites stay (their arguments count as used) but are
 * compiled out. */
/* Out of line: inlined, its body would cost the detached site's
 * function registers (a bigger frame), paid by every call. */
#define URT_TREC(w, type, task, data, arg)                                    \
	do {                                                                  \
		if (URT_TRACING() && (w))                                     \
			urt__trace_rec((w), (type), (task), (data), (arg));   \
	} while (0)
/* Before a poll of task, where URT_TRACING() said so (the caller
 * tests it once for the poll: detached, the poll is called on a path
 * without the sites); depth: the worker's local queue length. */
#define URT_TPOLL_BEGIN(w, task, depth)                                       \
	urt__tpoll_begin(&(w)->tb, (w), (task), (depth))
/* After it, on the same path: whether it was ready, its result, whether
 * it yielded (runnable at once: sched time, not idle, for a tracer). The
 * record is open unless the buffer could not be allocated. */
#define URT_TPOLL_END(w, ready, res, yielded)                                 \
	do {                                                                  \
		if (URT_USDT && __builtin_expect((w)->tb.poll != NULL, 1))    \
			urt__tpoll_end(&(w)->tb, (w), (ready), (res),         \
				       (yielded));                            \
	} while (0)
/*
 * The worker did something between two polls that is not its own step
 * from one to the next (it ended a task, reaped its ring, went idle, took
 * the global queue's lock, sent a wake, ran an abort, reported a long
 * poll): the next poll reads the clock for its start.
 */
#define URT_TCHAIN_BREAK(w)                                                   \
	do {                                                                  \
		if (URT_USDT)                                                 \
			(w)->tb.chain = 0;                                    \
	} while (0)
/* Empties w's buffer of records nobody will read (no tracer attached:
 * they would go to the next one, from before it came). */
void urt__trace_forget(struct urt__worker *w)
	__attribute__((visibility("hidden")));
#define URT_TFORGET_IF_DETACHED(w)                                            \
	do {                                                                  \
		if (URT_USDT && !URT_TRACING() && (w)->tb.buf &&              \
		    (w)->tb.poll == NULL)                                     \
			urt__trace_forget(w);                                 \
	} while (0)

#endif
