/* SPDX-License-Identifier: MIT */
/*
 * From liburt's batches (src/trace_format.h, as the BPF ring buffer and the
 * event log carry them: struct ust_rb_batch, then the bytes) to canonical
 * ust_events, and the event log as a whole (either version) to an array of
 * them. Shared by ustrace (live view), the exporters and the tests, so
 * that they all see the same events.
 */
#ifndef USTRACE_DECODE_H
#define USTRACE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "ustrace.h"

/* State carried from batch to batch; zero it to start (one per trace). */
struct ust_decoder {
	/* the first anchor seen: a long baseline for the TSC's rate */
	uint64_t base_tick, base_ns;
	int have_base;
	uint64_t bad_batches;	/* corrupt, or of another version */
	uint32_t other_version; /* the last foreign version seen, if any */
	/* Events of batches from before this CLOCK_MONOTONIC time are left
	 * out (0: none): records still in a worker's buffer from a tracer
	 * that left before this one came (a log's start_ns). */
	uint64_t since_ns;
	uint64_t stale; /* events so left out */
};

typedef void (*ust_decode_fn)(void *ctx, const struct ust_event *e);

/*
 * Checks one liburt batch (struct urt_trace_batch and its records, size
 * bytes): 0, -EPROTO where it is of another format version, -EBADMSG
 * where its magic, size or record framing is wrong.
 */
int ust_batch_check(const void *batch, size_t size);

/*
 * Decodes one batch of size bytes (ust_rb_batch included) into events, in
 * the order the worker recorded them, calling fn for each: a poll gives
 * POLL_BEGIN, the events of its inner records, a WAKE (kind RUNNING) if it
 * yielded, POLL_END, and EXIT if it ended its task; a hop record gives
 * UST_MIGRATE. Returns 0, -EPROTO for a batch of another format version
 * (d->other_version says which), -EBADMSG for a corrupt one (nothing
 * decoded, counted in d->bad_batches either way).
 */
int ust_decode_batch(struct ust_decoder *d, const void *batch, size_t size,
		     ust_decode_fn fn, void *ctx);

/* Says "ustrace: PATH: " and the message on stderr; returns err. */
int ust_fail(int err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Reads a whole log of len bytes (header included, either version) and
 * calls fn for each event in log order (a version 2 log's batches decoded
 * in place, with their own decoder). hdr receives the header. Returns 0 or
 * -errno, each error also one line "ustrace: PATH: ..." on stderr:
 * -EINVAL (not a ustrace log, or a version this does not read), -EBADMSG
 * (truncated or corrupt: nothing was passed to fn then), or fn's first
 * negative return.
 */
typedef int (*ust_log_fn)(void *ctx, const struct ust_event *e);
int ust_log_parse(const unsigned char *buf, size_t len, const char *path,
		  struct ust_log_header *hdr, ust_log_fn fn, void *ctx);

#endif
