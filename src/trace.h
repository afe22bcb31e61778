/* SPDX-License-Identifier: MIT */
/*
 * Probes (DESIGN section 3). Two tiers:
 *  - URT_PROBE(name, ...): a USDT probe for rare events (worker start/stop,
 *    steal, migrate, park/unpark, abort, long poll). Detached it is one
 *    5-byte nop, which kernel 6.18 turns into a call when attached.
 *  - URT_TREC(w, type, ...): a record in the worker's event buffer,
 *    written only while a tracer is attached to urt:batch (its USDT
 *    semaphore is non-zero; detached: one load and a branch). The buffer
 *    goes out through urt:batch(worker, addr, bytes) when it fills and
 *    before the worker parks: one trap for hundreds of events.
 * Built with -Dusdt=disabled, every probe compiles to nothing.
 */
#ifndef URT_TRACE_H
#define URT_TRACE_H

#include "config.h"
#include "trace_format.h"

struct urt__worker;

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

/* Appends a record to w's buffer (caller checked URT_TRACING()). */
void urt__trace_rec(struct urt__worker *w, uint16_t type, uint64_t task,
		    uint64_t data, uint32_t arg)
	__attribute__((visibility("hidden")));
/* Hands w's buffer to the tracer through urt:batch and empties it. */
void urt__trace_flush(struct urt__worker *w)
	__attribute__((visibility("hidden")));

#define URT_TREC(w, type, task, data, arg)                                    \
	do {                                                                  \
		if (URT_TRACING() && (w))                                     \
			urt__trace_rec((w), (type), (task), (data), (arg));   \
	} while (0)

#endif
