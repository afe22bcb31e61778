/* SPDX-License-Identifier: MIT */
/*
 * The event log while ustrace writes it (format: ustrace.h, version 2),
 * and a finished log read back. Single-threaded: the consumer's thread
 * owns a struct ust_rec from open to close.
 */
#ifndef USTRACE_RECORD_H
#define USTRACE_RECORD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "decode.h"
#include "ustrace.h"

/* Small events wait here; a batch takes what waits along (one writev). */
#define UST_REC_WBUF_BYTES (256 << 10)

struct ust_rec {
	int fd;	     /* -1: not open */
	bool failed; /* a write failed: no more are tried */
	size_t good; /* bytes of whole items written */
	char path[PATH_MAX];
	/* rewritten by ust_rec_close(): the caller keeps drops and
	 * nworkers up to date */
	struct ust_log_header hdr;
	size_t wlen;
	unsigned char wbuf[UST_REC_WBUF_BYTES];
};

/*
 * Creates dir (if need be) and dir/events.ustrace, and writes hdr there
 * (kept in r->hdr). Returns 0 or -errno, said on stderr.
 */
int ust_rec_open(struct ust_rec *r, const char *dir,
		 const struct ust_log_header *hdr);

/* Appends one event (buffered). */
void ust_rec_event(struct ust_rec *r, const struct ust_event *e);

/*
 * Appends one batch item: bytes at b, written from there (no copy of
 * ours), with the events buffered before it, then zeros to a multiple of
 * 8. b need stay valid only during the call.
 *
 * A failed write (either call) is said once on stderr ("ustrace: writing
 * PATH: ..."); the log then stops after its last whole item (r->failed),
 * and ust_rec_close() says -EIO.
 */
void ust_rec_batch(struct ust_rec *r, const void *b, size_t bytes);

/* Flushes, rewrites r->hdr at the start (also after a failed write: the
 * log stays readable), closes. 0, or -EIO if anything failed. */
int ust_rec_close(struct ust_rec *r);

/*
 * Maps the log at path read-only and hands it to ust_log_parse() (which
 * see: hdr, fn, the return values). The mapping is the page cache's:
 * clean pages the kernel may take back, none of ours.
 */
int ust_log_replay(const char *path, struct ust_log_header *hdr, ust_log_fn fn,
		   void *ctx);

#endif
