/* SPDX-License-Identifier: MIT */
/*
 * tools/ustrace/decode.c on batches the test builds itself, as liburt
 * writes them (src/trace_format.h): a poll record gives the events the
 * exporters and the view expect, in order; a poll split across batches
 * gives one begin and one end; ticks map through the anchors; a batch of
 * another format version or a corrupt one is refused whole; a version 2
 * log reads back through ust_log_parse. No privileges.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode.h"
#include "trace_format.h"
#include "ustrace.h"

/* ---- batches, as liburt's writer lays them out ------------------------ */

struct batch {
	struct ust_rb_batch rb;
	struct urt_trace_batch h;
	unsigned char recs[URT_TRACE_BUF_BYTES];
	size_t n;	   /* bytes of records */
	uint32_t nrec;	   /* records */
	bool in_poll;	   /* records added now are the poll's inner ones */
	int32_t result;	   /* of the open short poll, for close_inner() */
};

/* Ticks are ns (no URT_TRB_TSC) unless the test sets flags and anchors. */
static void batch_init(struct batch *b, uint16_t worker)
{
	memset(b, 0, sizeof(*b));
	b->rb.mark = UST_RB_BATCH_MARK;
	b->rb.tid = 700u + worker;
	b->rb.cpu = worker;
	b->h.magic = URT_TRACE_MAGIC;
	b->h.version = URT_TRACE_FORMAT_VERSION;
	b->h.worker = worker;
}

static size_t batch_done(struct batch *b)
{
	b->h.bytes = (uint32_t)(sizeof(b->h) + b->n);
	b->h.records = b->nrec;
	b->rb.bytes = b->h.bytes;
	return sizeof(b->rb) + b->rb.bytes;
}

static void *room(struct batch *b, size_t n)
{
	void *p = b->recs + b->n;

	assert_true(b->n + n <= sizeof(b->recs));
	memset(p, 0, n);
	b->n += n;
	b->nrec++;
	return p;
}

/* A poll record, 16 bytes as liburt writes it where it fits (dur: as
 * stored, units of 65536 ticks with URT_TRF_DUR16); a nonzero result of a
 * ready one goes in a RESULT record at close_inner(). */
static void add_poll(struct batch *b, uint64_t task, uint64_t tick,
		     uint32_t dur, uint8_t flags, int res)
{
	struct urt_trace_short *p = room(b, sizeof(*p));

	assert_true(task >> 32 == 0 && tick - b->h.tick0 < (1ull << 32));
	p->type = URT_TR_POLL;
	p->flags = URT_TRF_SHORT | flags;
	p->arg = 3; /* depth */
	p->dtick = (uint32_t)(tick - b->h.tick0);
	p->task = (uint32_t)task;
	p->data = dur;
	b->in_poll = true;
	b->result = flags & URT_TRF_READY ? res : 0;
}

/* The 8-byte form: a poll that began where the one before it ended (its
 * record the batch's last poll record), with its depth. */
static void add_tiny(struct batch *b, uint64_t task, uint16_t dur,
		     uint8_t flags, int res)
{
	struct urt_trace_tiny *p = room(b, sizeof(*p));

	assert_true(task >> 32 == 0);
	p->type = URT_TR_POLL;
	p->flags = URT_TRF_TINY | flags;
	p->dur = dur;
	p->task = (uint32_t)task;
	b->in_poll = true;
	b->result = flags & URT_TRF_READY ? res : 0;
}

/* The 32-byte form: a POLL_CONT, or values too large for 16 bytes. */
static void add_poll32(struct batch *b, uint8_t type, uint64_t task,
		       uint64_t tick, uint64_t dur, uint8_t flags, int res)
{
	struct urt_trace_poll *p = room(b, sizeof(*p));

	p->type = type;
	p->flags = flags;
	p->depth = 3;
	p->res = res;
	p->tick = tick;
	p->task = task;
	p->dur = dur;
	b->in_poll = true;
	b->result = 0;
}

/* Any other record: 16 bytes where it fits (liburt's rule), else 32;
 * inner to the open poll until close_inner(). */
static void add_rec(struct batch *b, uint8_t type, uint64_t task,
		    uint64_t tick, uint64_t data, uint32_t arg)
{
	uint8_t inner = b->in_poll ? URT_TRF_INNER : 0;

	if (((task | data | (tick - b->h.tick0)) >> 32) == 0 &&
	    arg <= 0xffff) {
		struct urt_trace_short *r = room(b, sizeof(*r));

		r->type = type;
		r->flags = URT_TRF_SHORT | inner;
		r->arg = (uint16_t)arg;
		r->dtick = (uint32_t)(tick - b->h.tick0);
		r->task = (uint32_t)task;
		r->data = (uint32_t)data;
	} else {
		struct urt_trace_rec *r = room(b, sizeof(*r));

		r->type = type;
		r->flags = inner;
		r->arg = arg;
		r->tick = tick;
		r->task = task;
		r->data = data;
	}
}

/* The open poll ends: what follows is not its own. */
static void close_inner(struct batch *b)
{
	if (b->result)
		add_rec(b, URT_TR_RESULT, 0, b->h.tick0, (uint32_t)b->result,
			0);
	b->in_poll = false;
	b->result = 0;
}

/* ---- what came out ---------------------------------------------------- */

struct out {
	struct ust_event ev[64];
	size_t n;
};

static void collect(void *arg, const struct ust_event *e)
{
	struct out *o = arg;

	assert_true(o->n < 64);
	o->ev[o->n++] = *e;
}

static void expect(const struct out *o, size_t i, uint16_t type,
		   uint64_t ts, uint64_t task, uint32_t arg)
{
	assert_true(i < o->n);
	assert_int_equal(o->ev[i].type, type);
	assert_int_equal(o->ev[i].ts_ns, ts);
	assert_int_equal(o->ev[i].task, task);
	assert_int_equal(o->ev[i].arg, arg);
}

/* ---- cases ------------------------------------------------------------ */

static void test_decode_yielding_poll_gives_begin_inner_wake_end(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 1);
	add_poll(b, 42, 1000, 250, URT_TRF_YIELD, 0);
	add_rec(b, URT_TR_SPAWN, 43, 1100, 42, 0);
	add_rec(b, URT_TR_WAKE, 44, 1200, 0, URT_TRW_LIFO);
	close_inner(b);
	add_rec(b, URT_TR_OP_COMPLETE, 45, 1300, 0xabc1, (uint32_t)-11);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 6);
	expect(&o, 0, UST_POLL_BEGIN, 1000, 42, 3);
	expect(&o, 1, UST_SPAWN, 1100, 43, 0);
	assert_int_equal(o.ev[1].data, 42);
	expect(&o, 2, UST_WAKE, 1200, 44, URT_TRW_LIFO);
	/* the yield: runnable again from the poll's end */
	expect(&o, 3, UST_WAKE, 1250, 42, URT_TRW_RUNNING);
	expect(&o, 4, UST_POLL_END, 1250, 42, 0);
	expect(&o, 5, UST_OP_COMPLETE, 1300, 45, (uint32_t)-11);
	assert_int_equal(o.ev[5].data, 0xabc1);
	for (size_t i = 0; i < o.n; i++) {
		assert_int_equal(o.ev[i].worker, 1);
		assert_int_equal(o.ev[i].worker2, UST_NO_WORKER);
		assert_int_equal(o.ev[i].tid, 701);
		assert_int_equal(o.ev[i].cpu, 1);
	}
	free(b);
}

static void test_decode_ready_poll_ends_its_task_with_result(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 0);
	add_poll(b, 7, 500, 20, URT_TRF_READY, -125);
	close_inner(b); /* its result, in a record of its own */
	add_rec(b, URT_TR_EXIT, 8, 600, 0, (uint32_t)-125); /* aborted */
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 4);
	expect(&o, 0, UST_POLL_BEGIN, 500, 7, 3);
	expect(&o, 1, UST_POLL_END, 520, 7, 1);
	expect(&o, 2, UST_EXIT, 520, 7, (uint32_t)-125);
	expect(&o, 3, UST_EXIT, 600, 8, (uint32_t)-125);
	free(b);
}

static void test_decode_hops_steals_parks_keep_their_workers(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 2);
	add_rec(b, URT_TR_STEAL, 0, 10, 0, 5);
	add_rec(b, URT_TR_MIGRATE, 9, 20, 1, URT_TRM_STOLEN);
	add_rec(b, URT_TR_PARK, 0, 30, 0, URT_TRP_IDLE);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 3);
	expect(&o, 0, UST_STEAL, 10, 0, 5);
	assert_int_equal(o.ev[0].worker, 2); /* thief */
	assert_int_equal(o.ev[0].worker2, 0); /* victim */
	expect(&o, 1, UST_MIGRATE, 20, 9, URT_TRM_STOLEN);
	assert_int_equal(o.ev[1].worker, 2); /* to */
	assert_int_equal(o.ev[1].worker2, 1); /* from */
	assert_int_equal(o.ev[1].data, 0);
	expect(&o, 2, UST_PARK, 30, 0, URT_TRP_IDLE);
	assert_int_equal(o.ev[2].worker, 2);
	free(b);
}

/*
 * 16- and 32-byte records in one batch, each read by its own size: a task
 * id past 2^32, an op's 64-bit user_data and a 32-bit result force the
 * long form; a short poll's result comes from its RESULT record, a long
 * poll's from the poll itself.
 */
static void test_decode_mixed_record_sizes(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	uint64_t big = (1ull << 40) + 5;
	size_t size;

	(void)s;
	batch_init(b, 0);
	add_poll(b, 11, 100, 30, URT_TRF_READY, -7);
	add_rec(b, URT_TR_OP_SUBMIT, 11, 105, 0xffff888012345601ull, 22);
	add_rec(b, URT_TR_SPAWN, big, 110, 11, 0);
	close_inner(b);
	assert_int_equal(b->nrec, 4);
	assert_int_equal(b->n, 16 + 32 + 32 + 16);
	add_poll32(b, URT_TR_POLL, big, 200, 40, URT_TRF_READY, 77);
	add_rec(b, URT_TR_WAKE, 11, 210, 0, URT_TRW_LOCAL);
	close_inner(b);
	add_rec(b, URT_TR_MIGRATE, 12, 300, 1, URT_TRM_STOLEN);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 10);
	expect(&o, 0, UST_POLL_BEGIN, 100, 11, 3);
	expect(&o, 1, UST_OP_SUBMIT, 105, 11, 22);
	assert_true(o.ev[1].data == 0xffff888012345601ull);
	expect(&o, 2, UST_SPAWN, 110, big, 0);
	assert_int_equal(o.ev[2].data, 11);
	expect(&o, 3, UST_POLL_END, 130, 11, 1);
	expect(&o, 4, UST_EXIT, 130, 11, (uint32_t)-7);
	expect(&o, 5, UST_POLL_BEGIN, 200, big, 3);
	expect(&o, 6, UST_WAKE, 210, 11, URT_TRW_LOCAL);
	expect(&o, 7, UST_POLL_END, 240, big, 1);
	expect(&o, 8, UST_EXIT, 240, big, 77);
	expect(&o, 9, UST_MIGRATE, 300, 12, URT_TRM_STOLEN);
	assert_int_equal(o.ev[9].worker2, 1);
	free(b);
}

/*
 * 8-byte poll records start where the poll recorded before them ended,
 * with its queue depth: after a 16-byte one, after each other, after one
 * whose duration came in a PDUR record; a result comes as for 16 bytes.
 * One with no poll before it in its batch is corrupt.
 */
static void test_decode_tiny_polls_go_on_from_the_poll_before(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 0);
	add_poll(b, 11, 100, 30, 0, 0);
	add_rec(b, URT_TR_SPAWN, 12, 110, 11, 0);
	close_inner(b);
	add_tiny(b, 12, 20, URT_TRF_YIELD, 0);
	close_inner(b);
	add_tiny(b, 11, 0xffff, 0, 0);
	add_rec(b, URT_TR_PDUR, 0, 0, 70000, 0);
	close_inner(b);
	add_tiny(b, 12, 5, URT_TRF_READY, -7);
	close_inner(b);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 11);
	expect(&o, 0, UST_POLL_BEGIN, 100, 11, 3);
	expect(&o, 1, UST_SPAWN, 110, 12, 0);
	expect(&o, 2, UST_POLL_END, 130, 11, 0);
	expect(&o, 3, UST_POLL_BEGIN, 130, 12, 3);
	expect(&o, 4, UST_WAKE, 150, 12, URT_TRW_RUNNING);
	expect(&o, 5, UST_POLL_END, 150, 12, 0);
	expect(&o, 6, UST_POLL_BEGIN, 150, 11, 3);
	expect(&o, 7, UST_POLL_END, 70150, 11, 0);
	expect(&o, 8, UST_POLL_BEGIN, 70150, 12, 3);
	expect(&o, 9, UST_POLL_END, 70155, 12, 1);
	expect(&o, 10, UST_EXIT, 70155, 12, (uint32_t)-7);
	/* first in its batch: nothing to go on from */
	batch_init(b, 0);
	add_tiny(b, 12, 5, 0, 0);
	add_poll(b, 11, 100, 30, 0, 0);
	size = batch_done(b);
	o.n = 0;
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), -EBADMSG);
	assert_int_equal(o.n, 0);
	free(b);
}

/*
 * Records from before the trace began (since_ns: a worker kept them for a
 * tracer that left) are left out, a poll that began then whole, even its
 * end and inner records after since_ns.
 */
static void test_decode_leaves_out_records_from_before_the_trace(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {.since_ns = 1000};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 0);
	add_rec(b, URT_TR_STEAL, 0, 500, 1, 2);
	add_poll(b, 11, 900, 300, 0, 0); /* 900 .. 1200 */
	add_rec(b, URT_TR_SPAWN, 12, 1100, 11, 0);
	close_inner(b);
	add_tiny(b, 12, 50, URT_TRF_READY, 0); /* 1200 .. 1250 */
	close_inner(b);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 3);
	expect(&o, 0, UST_POLL_BEGIN, 1200, 12, 3);
	expect(&o, 1, UST_POLL_END, 1250, 12, 1);
	expect(&o, 2, UST_EXIT, 1250, 12, 0);
	assert_int_equal(d.stale, 4); /* steal, begin, spawn, end */
	free(b);
}

/* A poll open when its batch was flushed: one begin, one end. */
static void test_decode_split_poll_spans_batches(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 0);
	add_poll(b, 1, 100, 0, URT_TRF_SPLIT, 0);
	add_rec(b, URT_TR_SPAWN, 2, 110, 1, 0);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	batch_init(b, 0);
	add_poll32(b, URT_TR_POLL_CONT, 1, 100, 900, URT_TRF_READY, 0);
	add_rec(b, URT_TR_SPAWN, 3, 120, 1, 0);
	close_inner(b);
	add_poll(b, 2, 1100, 5, 0, 0);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 7);
	expect(&o, 0, UST_POLL_BEGIN, 100, 1, 3);
	expect(&o, 1, UST_SPAWN, 110, 2, 0);
	expect(&o, 2, UST_SPAWN, 120, 3, 0);
	expect(&o, 3, UST_POLL_END, 1000, 1, 1);
	expect(&o, 4, UST_EXIT, 1000, 1, 0);
	expect(&o, 5, UST_POLL_BEGIN, 1100, 2, 3);
	expect(&o, 6, UST_POLL_END, 1105, 2, 0);
	free(b);
}

/* TSC ticks: through the batch's anchors; a long one in 65536-tick units. */
static void test_decode_maps_ticks_through_anchors(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 0);
	b->h.flags = URT_TRB_TSC;
	/* 2.5 ticks a ns; 2 ms between the anchors: the batch's own rate */
	b->h.tick0 = 10000000;
	b->h.ns0 = 7000000000ull;
	b->h.tick1 = 15000000;
	b->h.ns1 = 7002000000ull;
	add_poll(b, 5, 12500000, 2500, 0, 0);
	/* 2^33 ticks stored as 2^17 units of 65536: 3.436 s */
	add_poll(b, 6, 10000000, 131072, URT_TRF_DUR16, 0);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 4);
	expect(&o, 0, UST_POLL_BEGIN, 7001000000ull, 5, 3);
	expect(&o, 1, UST_POLL_END, 7001001000ull, 5, 0);
	expect(&o, 2, UST_POLL_BEGIN, 7000000000ull, 6, 3);
	expect(&o, 3, UST_POLL_END, 7000000000ull + 3435973837ull, 6, 0);
	free(b);
}

/* A poll of 2^32 ticks or more keeps its duration in units of 65536: the
 * end it gives must still not come before the poll's own inner records. */
static void test_decode_long_poll_ends_after_its_inner_records(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 0);
	/* recorded 2^32 + 60000 ticks: stored as 65536 units, 60000 lost */
	add_poll(b, 9, 1000, 65536, URT_TRF_DUR16, 0);
	/* (too late for a 16-byte record: 32 bytes) */
	add_rec(b, URT_TR_WAKE, 10, 1000 + (1ull << 32) + 50000, 0,
		URT_TRW_INJECT);
	close_inner(b);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 3);
	expect(&o, 1, UST_WAKE, 1000 + (1ull << 32) + 50000, 10,
	       URT_TRW_INJECT);
	expect(&o, 2, UST_POLL_END, 1000 + (1ull << 32) + 50000, 9, 0);
	free(b);
}

/* Anchors that make an absurd rate (corrupt, or a clock gone wrong) give
 * absurd times, but defined ones: the conversion saturates instead of
 * overflowing a double-to-integer cast (undefined; x86 gives INT64_MIN). */
static void test_decode_absurd_anchors_stay_defined(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 0);
	b->h.flags = URT_TRB_TSC;
	b->h.tick0 = 0;
	b->h.ns0 = 0;
	b->h.tick1 = 1;
	b->h.ns1 = 1ull << 62; /* 4.6e18 ns a tick */
	add_poll(b, 5, 1000000, 10, 0, 0);
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.ev[0].type, UST_POLL_BEGIN);
	assert_int_equal(o.ev[1].type, UST_POLL_END);
	/* clamped at 4e18 ns (127 years) from the anchor */
	assert_int_equal(o.ev[0].ts_ns, (1ull << 62) + 4000000000000000000ull);
	assert_int_equal(o.ev[1].ts_ns, o.ev[0].ts_ns);
	free(b);
}

static void test_decode_refuses_other_versions_and_corrupt_batches(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	struct ust_decoder d = {0};
	struct out o = {0};
	size_t size;

	(void)s;
	batch_init(b, 0);
	add_poll(b, 1, 100, 1, 0, 0);
	b->h.version = URT_TRACE_FORMAT_VERSION + 1;
	size = batch_done(b);
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), -EPROTO);
	assert_int_equal(d.other_version, URT_TRACE_FORMAT_VERSION + 1);
	/* a version 1 buffer: records from its first byte, no header */
	b->h.version = URT_TRACE_FORMAT_VERSION;
	b->h.magic = 12345;
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), -EBADMSG);
	b->h.magic = URT_TRACE_MAGIC;
	b->h.bytes += 8; /* not whole records */
	b->rb.bytes += 8;
	assert_int_equal(ust_decode_batch(&d, b, size + 8, collect, &o),
			 -EBADMSG);
	/* longer than what holds it */
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), -EBADMSG);
	/* a record count that is not what the records say */
	b->h.bytes -= 8;
	b->rb.bytes -= 8;
	b->h.records++;
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), -EBADMSG);
	/* a last record that says it is 32 bytes where 16 are left */
	b->h.records--;
	((struct urt_trace_short *)b->recs)->flags &= ~URT_TRF_SHORT;
	assert_int_equal(ust_decode_batch(&d, b, size, collect, &o), -EBADMSG);
	assert_int_equal(d.bad_batches, 6);
	assert_int_equal(o.n, 0);
	free(b);
}

/* ---- version 2 logs --------------------------------------------------- */

static int log_collect(void *arg, const struct ust_event *e)
{
	collect(arg, e);
	return 0;
}

static size_t build_log(unsigned char *buf, struct batch *b)
{
	struct ust_log_header h = {0};
	struct ust_event e = {0};
	size_t n = 0, bs;

	memcpy(h.magic, UST_LOG_MAGIC, 8);
	h.version = UST_LOG_VERSION;
	h.event_size = sizeof(struct ust_event);
	memcpy(buf, &h, sizeof(h));
	n += sizeof(h);
	e.type = UST_WORKER_START;
	e.ts_ns = 50;
	e.worker = 0;
	memcpy(buf + n, &e, sizeof(e));
	n += sizeof(e);
	batch_init(b, 0);
	add_poll(b, 4, 100, 10, URT_TRF_READY, 9);
	close_inner(b);
	bs = batch_done(b);
	memcpy(buf + n, b, bs);
	n += bs;
	e.type = UST_UNPARK;
	e.ts_ns = 200;
	memcpy(buf + n, &e, sizeof(e));
	return n + sizeof(e);
}

static void test_log_v2_reads_events_and_batches_in_order(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	unsigned char *buf = calloc(1, 1 << 20);
	struct ust_log_header h;
	struct out o = {0};
	size_t len;

	(void)s;
	len = build_log(buf, b);
	assert_int_equal(ust_log_parse(buf, len, "mem", &h, log_collect, &o),
			 0);
	assert_int_equal(h.version, 2);
	assert_int_equal(o.n, 5);
	expect(&o, 0, UST_WORKER_START, 50, 0, 0);
	expect(&o, 1, UST_POLL_BEGIN, 100, 4, 3);
	expect(&o, 2, UST_POLL_END, 110, 4, 1);
	expect(&o, 3, UST_EXIT, 110, 4, 9);
	expect(&o, 4, UST_UNPARK, 200, 0, 0);
	free(buf);
	free(b);
}

static void test_log_v2_truncated_or_corrupt_fails_whole(void **s)
{
	struct batch *b = calloc(1, sizeof(*b));
	unsigned char *buf = calloc(1, 1 << 20);
	struct ust_log_header h;
	struct out o = {0};
	size_t len;

	(void)s;
	len = build_log(buf, b);
	/* cut inside the batch */
	assert_int_equal(ust_log_parse(buf, len - sizeof(struct ust_event) - 8,
				       "mem", &h, log_collect, &o),
			 -EBADMSG);
	/* a batch of another version inside a log */
	((struct urt_trace_batch *)(buf + sizeof(h) +
				    sizeof(struct ust_event) +
				    sizeof(struct ust_rb_batch)))
	    ->version = 99;
	assert_int_equal(ust_log_parse(buf, len, "mem", &h, log_collect, &o),
			 -EPROTO);
	/* nothing was passed on before the error */
	assert_int_equal(o.n, 0);
	/* events of a size that would leave the items after them
	 * misaligned */
	((struct ust_log_header *)buf)->event_size =
	    sizeof(struct ust_event) + 4;
	assert_int_equal(ust_log_parse(buf, len, "mem", &h, log_collect, &o),
			 -EBADMSG);
	((struct ust_log_header *)buf)->event_size = sizeof(struct ust_event);
	/* a version nobody reads */
	((struct ust_log_header *)buf)->version = 3;
	assert_int_equal(ust_log_parse(buf, len, "mem", &h, log_collect, &o),
			 -EINVAL);
	free(buf);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_decode_yielding_poll_gives_begin_inner_wake_end),
	    cmocka_unit_test(test_decode_ready_poll_ends_its_task_with_result),
	    cmocka_unit_test(test_decode_hops_steals_parks_keep_their_workers),
	    cmocka_unit_test(test_decode_mixed_record_sizes),
	    cmocka_unit_test(test_decode_tiny_polls_go_on_from_the_poll_before),
	    cmocka_unit_test(
		test_decode_leaves_out_records_from_before_the_trace),
	    cmocka_unit_test(test_decode_split_poll_spans_batches),
	    cmocka_unit_test(test_decode_maps_ticks_through_anchors),
	    cmocka_unit_test(
		test_decode_long_poll_ends_after_its_inner_records),
	    cmocka_unit_test(test_decode_absurd_anchors_stay_defined),
	    cmocka_unit_test(
		test_decode_refuses_other_versions_and_corrupt_batches),
	    cmocka_unit_test(test_log_v2_reads_events_and_batches_in_order),
	    cmocka_unit_test(test_log_v2_truncated_or_corrupt_fails_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
