// SPDX-License-Identifier: MIT
/*
 * liburt's batch records (src/trace_format.h) to canonical ust_events:
 * clock ticks to CLOCK_MONOTONIC ns through the batches' anchors, one poll
 * record to its begin / yield / end / exit events. Also reads whole event
 * logs of either version. Knows nothing about BPF, the view or exports.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/trace_format.h"
#include "decode.h"

/* Larger records are accepted (the format may grow); this caps a bad one. */
#define MAX_EVENT_SIZE 4096

/* A batch shorter than this (in ns) maps ticks with the rate measured
 * since the first anchor of the trace, not with its own two anchors. */
#define SHORT_BATCH_NS 1000000

struct conv {
	uint64_t tick1, ns1; /* the flush anchor */
	double ns_per_tick;
	int identity; /* ticks are ns */
};

static uint64_t to_ns(const struct conv *c, uint64_t tick)
{
	double d;

	if (c->identity)
		return tick;
	d = (double)(int64_t)(tick - c->tick1) * c->ns_per_tick;
	/* corrupt anchors can make any rate: keep the cast defined */
	if (d > 4e18)
		d = 4e18;
	else if (d < -4e18)
		d = -4e18;
	/* rounded to the nearest ns (llround() is a call, on every record) */
	return c->ns1 + (uint64_t)(int64_t)(d < 0 ? d - 0.5 : d + 0.5);
}

/*
 * An anchor pairs a tick with the ns of a clock_gettime read between two
 * ticks (liburt keeps the closest of three tries: ~20 ns apart here), so a
 * batch's own two anchors give its rate to within tens of ns over its
 * span: the best choice for a long batch (it follows NTP's adjustments of
 * CLOCK_MONOTONIC from batch to batch), a poor one for a batch of a few
 * polls. Those use the rate since the first anchor of the trace instead.
 */
static void conv_init(struct ust_decoder *d, const struct urt_trace_batch *h,
		      struct conv *c)
{
	int64_t dt = (int64_t)(h->tick1 - h->tick0);
	int64_t dn = (int64_t)(h->ns1 - h->ns0);

	c->tick1 = h->tick1;
	c->ns1 = h->ns1;
	c->identity = !(h->flags & URT_TRB_TSC);
	if (c->identity)
		return;
	if (!d->have_base) {
		d->base_tick = h->tick0;
		d->base_ns = h->ns0;
		d->have_base = 1;
	}
	c->ns_per_tick = dt > 0 && dn > 0 ? (double)dn / (double)dt : 0;
	if (dn < SHORT_BATCH_NS || !(c->ns_per_tick > 0)) {
		/* signed: the first batch decoded need not be the oldest */
		int64_t bt = (int64_t)(h->tick1 - d->base_tick);
		int64_t bn = (int64_t)(h->ns1 - d->base_ns);
		double r = bt ? (double)bn / (double)bt : 0;

		if ((bt > dt || -bt > dt) && r > 0)
			c->ns_per_tick = r;
	}
	if (!(c->ns_per_tick > 0))
		c->ns_per_tick = 1; /* no usable anchors: still in order */
}

struct ctx {
	struct ust_decoder *d;
	const struct ust_rb_batch *rb;
	uint64_t last_ns; /* of the last event emitted from this batch */
	bool stale;	  /* the poll being decoded began before since_ns */
	uint16_t worker;
	struct conv c;
	ust_decode_fn fn;
	void *arg;
};

/*
 * Passes e on, unless it comes from before the trace began (d->since_ns):
 * records a worker wrote for a tracer that left, still in its buffer when
 * this one came. A poll that began then is left out whole (x->stale).
 */
static void out(struct ctx *x, const struct ust_event *e)
{
	if (x->stale || e->ts_ns < x->d->since_ns) {
		x->d->stale++;
		return;
	}
	if (e->ts_ns > x->last_ns)
		x->last_ns = e->ts_ns;
	x->fn(x->arg, e);
}

static void emit(struct ctx *x, uint16_t type, uint64_t ts, uint64_t task,
		 uint64_t data, uint32_t arg)
{
	struct ust_event e = {
	    .ts_ns = ts,
	    .task = task,
	    .data = data,
	    .arg = arg,
	    .tid = x->rb->tid,
	    .type = type,
	    .worker = x->worker,
	    .worker2 = UST_NO_WORKER,
	    .cpu = x->rb->cpu,
	};

	out(x, &e);
}

/* A record of either size, widened. */
struct rec {
	uint8_t type, flags;
	uint16_t depth; /* a poll's */
	int32_t res;	/* a 32-byte poll's */
	uint32_t arg;
	uint64_t tick, task, data;
	uint64_t dur; /* a poll's, in ticks */
};

/* Bytes of the record at p: 8, 16 or 32 (its flags say), 0 where it
 * runs past end. */
static size_t rec_bytes(const unsigned char *p, const unsigned char *end)
{
	size_t n;

	if (end - p < URT_TRACE_TINY_BYTES)
		return 0;
	n = p[1] & URT_TRF_TINY	   ? URT_TRACE_TINY_BYTES
	    : p[1] & URT_TRF_SHORT ? URT_TRACE_SHORT_BYTES
				   : URT_TRACE_REC_BYTES;
	return (size_t)(end - p) >= n ? n : 0;
}

/* Where the batch's last poll record ended, and its queue depth: an
 * 8-byte poll record's start and depth. */
struct chain {
	uint64_t end;
	uint16_t depth;
};

static void widen(const struct urt_trace_batch *h, const struct chain *ch,
		  const unsigned char *p, struct rec *r)
{
	if (p[1] & URT_TRF_TINY) {
		const struct urt_trace_tiny *t = (const void *)p;

		*r = (struct rec){.type = t->type,
				  .flags = t->flags,
				  .depth = ch->depth,
				  .tick = ch->end,
				  .task = t->task,
				  .dur = t->dur};
	} else if (p[1] & URT_TRF_SHORT) {
		const struct urt_trace_short *s = (const void *)p;

		*r = (struct rec){.type = s->type,
				  .flags = s->flags,
				  .tick = h->tick0 + s->dtick,
				  .task = s->task};
		if (s->type == URT_TR_POLL) {
			r->depth = s->arg;
			r->dur = s->flags & URT_TRF_DUR16
				     ? (uint64_t)s->data << 16
				     : s->data;
		} else {
			r->arg = s->arg;
			r->data = s->data;
		}
	} else if (p[0] == URT_TR_POLL || p[0] == URT_TR_POLL_CONT) {
		const struct urt_trace_poll *q = (const void *)p;

		*r = (struct rec){.type = q->type,
				  .flags = q->flags,
				  .depth = q->depth,
				  .res = q->res,
				  .tick = q->tick,
				  .task = q->task,
				  .dur = q->dur};
	} else {
		const struct urt_trace_rec *q = (const void *)p;

		*r = (struct rec){.type = q->type,
				  .flags = q->flags,
				  .arg = q->arg,
				  .tick = q->tick,
				  .task = q->task,
				  .data = q->data};
	}
}

/* A record other than a poll's. */
static void one(struct ctx *x, const struct rec *r)
{
	uint64_t ts = to_ns(&x->c, r->tick);
	struct ust_event e;

	switch (r->type) {
	case URT_TR_WAKE:
		emit(x, UST_WAKE, ts, r->task, 0, r->arg);
		break;
	case URT_TR_OP_SUBMIT:
		emit(x, UST_OP_SUBMIT, ts, r->task, r->data, r->arg);
		break;
	case URT_TR_OP_COMPLETE:
		emit(x, UST_OP_COMPLETE, ts, r->task, r->data, r->arg);
		break;
	case URT_TR_SPAWN:
		emit(x, UST_SPAWN, ts, r->task, r->data, 0);
		break;
	case URT_TR_EXIT:
		emit(x, UST_EXIT, ts, r->task, 0, r->arg);
		break;
	case URT_TR_MIGRATE: /* recorded by the worker it hopped to */
	case URT_TR_STEAL:   /* recorded by the thief */
		e = (struct ust_event){
		    .ts_ns = ts,
		    .task = r->task,
		    .arg = r->arg,
		    .tid = x->rb->tid,
		    .type = r->type == URT_TR_STEAL ? UST_STEAL : UST_MIGRATE,
		    .worker = x->worker,
		    .worker2 = r->data < UST_NO_WORKER ? (uint16_t)r->data
						       : UST_NO_WORKER,
		    .cpu = x->rb->cpu,
		};
		out(x, &e);
		break;
	case URT_TR_PARK:
		emit(x, UST_PARK, ts, 0, 0, r->arg);
		break;
	default:
		break; /* a poll record inside a poll, or unknown: skipped */
	}
}

/* What a poll's end means: [yield wake,] POLL_END [, EXIT]. */
static void poll_end(struct ctx *x, const struct rec *p, int32_t res)
{
	uint64_t ts = to_ns(&x->c, p->tick + p->dur);

	/* A DUR16 duration lost its low 16 bits (up to 65535 ticks): the end
	 * must not come before the poll's own inner records. */
	if (ts < x->last_ns)
		ts = x->last_ns;
	if (p->flags & URT_TRF_YIELD)
		emit(x, UST_WAKE, ts, p->task, 0, URT_TRW_RUNNING);
	emit(x, UST_POLL_END, ts, p->task, 0, !!(p->flags & URT_TRF_READY));
	if (p->flags & URT_TRF_READY)
		emit(x, UST_EXIT, ts, p->task, 0, (uint32_t)res);
}

int ust_batch_check(const void *batch, size_t size)
{
	const struct urt_trace_batch *h = batch;
	const unsigned char *p, *end;
	uint32_t n = 0, polls = 0;

	if (size < sizeof(*h) || h->magic != URT_TRACE_MAGIC)
		return -EBADMSG;
	if (h->version != URT_TRACE_FORMAT_VERSION)
		return -EPROTO;
	if (h->bytes != size)
		return -EBADMSG;
	p = (const unsigned char *)(h + 1);
	end = (const unsigned char *)h + h->bytes;
	for (size_t k; p < end; p += k, n++) {
		if (!(k = rec_bytes(p, end)))
			return -EBADMSG;
		/* an 8-byte poll goes on from a poll before it */
		if ((p[1] & URT_TRF_TINY) &&
		    (p[0] != URT_TR_POLL || !polls))
			return -EBADMSG;
		polls += p[0] == URT_TR_POLL || p[0] == URT_TR_POLL_CONT;
	}
	return n == h->records ? 0 : -EBADMSG;
}

int ust_decode_batch(struct ust_decoder *d, const void *batch, size_t size,
		     ust_decode_fn fn, void *arg)
{
	const struct ust_rb_batch *rb = batch;
	const struct urt_trace_batch *h = (const void *)(rb + 1);
	const unsigned char *p, *end;
	struct ctx x = {.d = d, .rb = rb, .fn = fn, .arg = arg};
	struct chain ch = {0};
	int err;

	if (size < sizeof(*rb) || rb->bytes > size - sizeof(*rb)) {
		d->bad_batches++;
		return -EBADMSG;
	}
	err = ust_batch_check(h, rb->bytes);
	if (err) {
		d->bad_batches++;
		if (err == -EPROTO)
			d->other_version = h->version;
		return err;
	}
	x.worker = h->worker;
	conv_init(d, h, &x.c);
	p = (const unsigned char *)(h + 1);
	end = (const unsigned char *)h + h->bytes;
	/* every record fits (ust_batch_check) */
	while (p < end) {
		struct rec r, q;
		int32_t res;

		widen(h, &ch, p, &r);
		p += rec_bytes(p, end);
		if (r.type != URT_TR_POLL && r.type != URT_TR_POLL_CONT) {
			one(&x, &r);
			continue;
		}
		/* a CONT goes on with a poll whose begin came before */
		x.stale = to_ns(&x.c, r.tick) < d->since_ns;
		if (r.type == URT_TR_POLL)
			emit(&x, UST_POLL_BEGIN, to_ns(&x.c, r.tick), r.task,
			     0, r.depth);
		/* its inner records: spawns, wakes, ops, its result, its
		 * duration where an 8-byte record has no room for it */
		res = r.res;
		for (; p < end && (p[1] & URT_TRF_INNER);
		     p += rec_bytes(p, end)) {
			widen(h, &ch, p, &q);
			if (q.type == URT_TR_RESULT)
				res = (int32_t)(uint32_t)q.data;
			else if (q.type == URT_TR_PDUR)
				r.dur = q.data;
			else
				one(&x, &q);
		}
		ch.end = r.tick + r.dur;
		ch.depth = r.depth;
		/* split: the end is in the next batch's POLL_CONT */
		if (!(r.flags & URT_TRF_SPLIT))
			poll_end(&x, &r, res);
		x.stale = false;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Whole logs
 * ------------------------------------------------------------------- */

int ust_fail(int err, const char *path, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ustrace: %s: ", path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return err;
}

/* Bytes of the version 2 log item at p, or 0 if it does not fit. */
static size_t item_size(const unsigned char *p, size_t avail,
			uint32_t event_size)
{
	struct ust_rb_batch rb;
	size_t n;

	if (avail < sizeof(rb.mark))
		return 0;
	memcpy(&rb.mark, p, sizeof(rb.mark));
	if (rb.mark != UST_RB_BATCH_MARK)
		return avail >= event_size ? event_size : 0;
	if (avail < sizeof(rb))
		return 0;
	memcpy(&rb, p, sizeof(rb));
	n = (sizeof(rb) + (size_t)rb.bytes + 7) & ~(size_t)7;
	return n <= avail ? n : 0;
}

struct log_ctx {
	ust_log_fn fn;
	void *ctx;
	int err;
};

static void to_log_fn(void *arg, const struct ust_event *e)
{
	struct log_ctx *l = arg;

	if (!l->err)
		l->err = l->fn(l->ctx, e);
}

int ust_log_parse(const unsigned char *buf, size_t len, const char *path,
		  struct ust_log_header *hdr, ust_log_fn fn, void *ctx)
{
	size_t body, n, off, items = 0;
	struct ust_event e;
	int err;

	if (len < sizeof(*hdr))
		return len >= 8 && memcmp(buf, UST_LOG_MAGIC, 8)
			   ? ust_fail(-EINVAL, path, "not a ustrace log")
			   : ust_fail(-EBADMSG, path,
				  "truncated: %zu bytes, a header needs %zu",
				  len, sizeof(*hdr));
	memcpy(hdr, buf, sizeof(*hdr));
	if (memcmp(hdr->magic, UST_LOG_MAGIC, 8))
		return ust_fail(-EINVAL, path, "not a ustrace log (bad magic)");
	if (hdr->version != 1 && hdr->version != UST_LOG_VERSION)
		return ust_fail(-EINVAL, path, "log version %u, this reads 1 and %u",
			    hdr->version, UST_LOG_VERSION);
	/* a multiple of 8: every item (events, batches) stays aligned */
	if (hdr->event_size < sizeof(struct ust_event) ||
	    hdr->event_size > MAX_EVENT_SIZE || hdr->event_size % 8)
		return ust_fail(-EBADMSG, path, "corrupt header: event size %u",
			    hdr->event_size);
	hdr->comm[sizeof(hdr->comm) - 1] = 0;
	buf += sizeof(*hdr);
	body = len - sizeof(*hdr);
	if (hdr->version == 1) {
		n = body / hdr->event_size;
		if (body % hdr->event_size)
			return ust_fail(-EBADMSG, path,
				    "truncated: %zu whole records, then %zu "
				    "stray bytes",
				    n, body % hdr->event_size);
		for (size_t i = 0; i < n; i++) {
			memcpy(&e, buf + i * hdr->event_size, sizeof(e));
			if ((err = fn(ctx, &e)))
				return err;
		}
		return 0;
	}
	/* Version 2: check the framing and every batch header first. */
	for (off = 0; off < body; off += n, items++) {
		const struct ust_rb_batch *rb = (const void *)(buf + off);
		const struct urt_trace_batch *h = (const void *)(rb + 1);

		n = item_size(buf + off, body - off, hdr->event_size);
		if (!n)
			return ust_fail(-EBADMSG, path,
				    "truncated: %zu whole records, then %zu "
				    "stray bytes",
				    items, body - off);
		if (n == hdr->event_size && rb->mark != UST_RB_BATCH_MARK)
			continue;
		err = ust_batch_check(h, rb->bytes);
		if (err == -EPROTO)
			return ust_fail(-EPROTO, path,
				    "liburt records of trace format %u at byte "
				    "%zu: this ustrace reads format %u",
				    h->version, sizeof(*hdr) + off,
				    URT_TRACE_FORMAT_VERSION);
		if (err)
			return ust_fail(-EBADMSG, path,
				    "corrupt batch of liburt records at byte "
				    "%zu",
				    sizeof(*hdr) + off);
	}
	{
		struct ust_decoder *d = calloc(1, sizeof(*d));
		struct log_ctx l = {.fn = fn, .ctx = ctx};

		if (!d)
			return -ENOMEM;
		d->since_ns = hdr->start_ns;
		for (off = 0; off < body && !l.err; off += n) {
			n = item_size(buf + off, body - off, hdr->event_size);
			if (((const struct ust_rb_batch *)(buf + off))->mark ==
			    UST_RB_BATCH_MARK) {
				(void)ust_decode_batch(d, buf + off, n,
						       to_log_fn, &l);
				continue;
			}
			memcpy(&e, buf + off, sizeof(e));
			l.err = fn(ctx, &e);
		}
		free(d);
		return l.err;
	}
}
