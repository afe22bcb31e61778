/* SPDX-License-Identifier: MIT */
/*
 * Channels between tasks and plain threads, in any combination: mpsc
 * (bounded and unbounded), oneshot, and watch.
 *
 * Items have a fixed size given at creation and are copied in and out
 * (memcpy): send copies from the caller's buffer, recv copies into it. An
 * item that owns memory (a pointer in a struct) is owned by the channel
 * from a successful send until a successful recv; if the receiver is
 * dropped with items still queued, each is passed to the item_free given at
 * creation (may be NULL for plain values).
 *
 * Ends: a channel starts with one sender reference and one receiver. A
 * task uses the futures (urt_chan_send / urt_chan_recv), a thread the
 * blocking calls (they return -EDEADLK on a worker thread: await there).
 * Senders may be many (urt_chan_sender_clone); the receiver is one handle
 * that any number of tasks/threads may share (each item goes to one). The
 * channel is freed when every sender and the receiver were dropped.
 *
 * Closing: when the last sender is dropped, or anyone calls urt_chan_close,
 * the receiver still gets every queued item, then -EPIPE (end of stream).
 * A send after close (or after the receiver was dropped) returns -EPIPE and
 * the item was not taken: it is still the caller's ("handed back", nothing
 * lost, item_free not called). Blocked senders are woken with -EPIPE too.
 *
 * Timeouts of the blocking calls end with -ETIME, the code io_uring's timers
 * and urt_timeout use (one timeout code across urt); timeout_ns 0 means
 * "try once", URT_FOREVER means no deadline.
 */
#ifndef URT_CHAN_H
#define URT_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "future.h"
#include "sync.h"

#ifdef __cplusplus
extern "C" {
#endif

struct urt_chan; /* opaque */

typedef void (*urt_item_free_fn)(void *item);

/*
 * Creates an mpsc channel of items of item_size bytes (1 .. 64 KiB).
 * capacity 0: unbounded (the buffer grows; send never waits). capacity > 0:
 * bounded; a sender task waits (a sender thread blocks) while it is full.
 * Returns 0 and *out, -EINVAL, -ENOMEM.
 */
int urt_chan_new(struct urt_chan **out, size_t item_size, size_t capacity,
		 urt_item_free_fn item_free);

/*
 * A oneshot: one item, once. The first send succeeds without waiting and
 * closes the channel; a second send returns -EPIPE. recv gets the item, or
 * -EPIPE if the sender was dropped without sending. Same calls as mpsc.
 */
int urt_oneshot_new(struct urt_chan **out, size_t item_size,
		    urt_item_free_fn item_free);

/* Another sender reference (returns ch). Any thread. */
struct urt_chan *urt_chan_sender_clone(struct urt_chan *ch);
/* Drops a sender reference; the last one closes the channel. */
void urt_chan_sender_drop(struct urt_chan *ch);
/*
 * Drops the receiver: closes the channel, frees every queued item with
 * item_free, fails waiting senders with -EPIPE. No recv may follow.
 */
void urt_chan_receiver_drop(struct urt_chan *ch);
/* Closes for sending (either side, idempotent); queued items stay. */
void urt_chan_close(struct urt_chan *ch);

/* Items queued now (a snapshot). */
size_t urt_chan_len(struct urt_chan *ch);

/* Any thread, never waits: 0, -EAGAIN (full / empty), -EPIPE (closed). */
int urt_chan_try_send(struct urt_chan *ch, const void *item);
int urt_chan_try_recv(struct urt_chan *ch, void *out);

/*
 * Blocking, for plain threads: 0, -EPIPE, -ETIME (timeout_ns passed),
 * -EDEADLK (called on a worker thread).
 */
int urt_chan_send_blocking(struct urt_chan *ch, const void *item,
			   uint64_t timeout_ns);
int urt_chan_recv_blocking(struct urt_chan *ch, void *out,
			   uint64_t timeout_ns);

/*
 * Async send / recv (a future; caller-owned, valid until ready, as is the
 * item / out buffer). Results: 0 (sent / received into out), -EPIPE
 * (closed; a send's item stays the caller's; a recv saw the end of the
 * stream), -ECANCELED (cancelled before it happened). A send cancelled
 * after its item was taken still ends 0: nothing is lost or duplicated.
 * Waiting is FIFO among senders (and among receivers).
 */
struct urt_chan_op {
	struct urt_future base;
	struct urt_chan *ch;
	void *buf;
	struct urt_waiter w;
};

struct urt_future *urt_chan_send(struct urt_chan_op *op, struct urt_chan *ch,
				 const void *item);
struct urt_future *urt_chan_recv(struct urt_chan_op *op, struct urt_chan *ch,
				 void *out);

/* ---------------------------------------------------------------------
 * Watch: one value, many receivers, each told when it changed.
 *
 * Chosen over broadcast: what users share between threads and tasks most
 * is state (a config, a shutdown flag, the latest reading) where only the
 * newest value matters. A watch has bounded memory, a slow receiver never
 * holds up the sender or loses "lagged" messages, and it needs no item
 * destructor. A stream of every event to several consumers is one mpsc
 * channel per consumer.
 *
 * Values are plain bytes (copied, no destructor). The sender may be any
 * thread. Each receiver remembers the version it last read.
 * ------------------------------------------------------------------- */
struct urt_watch; /* opaque */

struct urt_watch_rx {
	struct urt_watch *w;
	uint64_t seen; /* version last read */
};

/* Creates a watch holding *initial (version 0). 0, -EINVAL, -ENOMEM. */
int urt_watch_new(struct urt_watch **out, size_t item_size,
		  const void *initial);
/* Replaces the value (version + 1), wakes every waiting receiver. 0 or
 * -EPIPE after close. */
int urt_watch_send(struct urt_watch *w, const void *item);
/* The sender is done: receivers see -EPIPE once they read the last value.
 * Drops the sender's reference. */
void urt_watch_close(struct urt_watch *w);
/* Adds a receiver that has seen the current value (urt_watch_changed
 * waits for the next send). Drop it with urt_watch_unsubscribe; the watch
 * is freed when the sender closed and every receiver unsubscribed. */
void urt_watch_subscribe(struct urt_watch *w, struct urt_watch_rx *rx);
void urt_watch_unsubscribe(struct urt_watch_rx *rx);
/* Copies the current value into out and marks it seen; returns its
 * version (>= 0). */
int64_t urt_watch_read(struct urt_watch_rx *rx, void *out);

/*
 * Waits until the value's version differs from the one rx last read.
 * Result 0 (then urt_watch_read), -EPIPE (closed and nothing new),
 * -ECANCELED.
 */
struct urt_watch_op {
	struct urt_future base;
	struct urt_watch_rx *rx;
	struct urt_waiter w;
};
struct urt_future *urt_watch_changed(struct urt_watch_op *op,
				     struct urt_watch_rx *rx);
/* The same for threads: 0, -EPIPE, -ETIME, -EDEADLK. */
int urt_watch_changed_blocking(struct urt_watch_rx *rx, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif
