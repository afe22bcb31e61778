/* SPDX-License-Identifier: MIT */
/*
 * The ring layer: the only file that calls liburing. Owns ring setup (flag
 * fallback, registered fd, opcode probe), SQE preparation, submission with
 * retry on a full SQ, CQ reaping with overflow flush, and MSG_RING. It knows
 * nothing of tasks: CQEs go to the callback given at creation.
 */
#define _GNU_SOURCE
#include "ring.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compat.h"

#if defined(__SANITIZE_ADDRESS__)
#define URT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define URT_ASAN 1
#endif
#endif
#ifdef URT_ASAN
#include <sanitizer/asan_interface.h>
#endif

struct urt__ring {
	struct io_uring ring;
	urt__cqe_fn fn;
	void *ctx;
	unsigned setup_flags;
	unsigned features;
	uint64_t ops_mask; /* bit n: opcode n supported (n < 64) */
	uint64_t inflight; /* SQEs prepared whose CQE is not reaped */
	uint64_t sq_full_retries;
	uint64_t cq_overflows;
	bool in_reap;
};

static __thread char last_error[256];

const char *urt__ring_last_error(void)
{
	return last_error;
}

static void set_error(const char *fmt, int err)
{
	snprintf(last_error, sizeof(last_error), fmt, strerror(-err));
}

/* Explains a failed io_uring_setup() in terms of what the machine blocks. */
static void explain_setup_failure(int err, unsigned entries, unsigned cq)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	int disabled = 0;

	if (f) {
		if (fscanf(f, "%d", &disabled) != 1)
			disabled = 0;
		fclose(f);
	}
	if (disabled == 2)
		set_error("io_uring_setup failed (%s): io_uring is disabled "
			  "by sysctl kernel.io_uring_disabled=2", err);
	else if (disabled == 1 && err == -EPERM)
		set_error("io_uring_setup failed (%s): "
			  "kernel.io_uring_disabled=1 limits io_uring to "
			  "kernel.io_uring_group", err);
	else if (err == -ENOSYS)
		set_error("io_uring_setup failed (%s): the kernel lacks "
			  "io_uring or a seccomp filter (e.g. a container's "
			  "default profile) blocks it", err);
	else if (err == -EPERM)
		set_error("io_uring_setup failed (%s): a seccomp filter "
			  "(e.g. a container's default profile) or an LSM "
			  "policy denies io_uring to this process", err);
	else if (err == -EINVAL)
		/* Even the flag-less try was refused: the sizes are wrong. */
		snprintf(last_error, sizeof(last_error),
			 "io_uring_setup failed (%s): the kernel refused "
			 "ring_entries=%u, cq_entries=%u (at most 32768 and "
			 "65536, cq_entries >= ring_entries)",
			 strerror(EINVAL), entries, cq);
	else if (err == -ENOMEM)
		set_error("io_uring_setup failed (%s): locked-memory limit "
			  "(RLIMIT_MEMLOCK) too low for another ring", err);
	else
		set_error("io_uring_setup failed: %s", err);
}

/*
 * Applies the URT_CFG_* opt-outs to one candidate flag set. DEFER_TASKRUN
 * needs SINGLE_ISSUER and excludes SQPOLL; where it is dropped, COOP_TASKRUN
 * is the next best way to keep task work from interrupting the worker.
 */
static unsigned setup_flags(unsigned fl, unsigned cfg_flags)
{
	if ((cfg_flags & (URT_CFG_NO_DEFER_TASKRUN | URT_CFG_NO_SINGLE_ISSUER |
			  URT_CFG_SQPOLL)) &&
	    (fl & IORING_SETUP_DEFER_TASKRUN))
		fl = (fl & ~IORING_SETUP_DEFER_TASKRUN) |
		     IORING_SETUP_COOP_TASKRUN;
	if (cfg_flags & URT_CFG_NO_SINGLE_ISSUER)
		fl &= ~IORING_SETUP_SINGLE_ISSUER;
	if (cfg_flags & URT_CFG_NO_COOP_TASKRUN)
		fl &= ~IORING_SETUP_COOP_TASKRUN;
	if (cfg_flags & URT_CFG_SQPOLL) /* no IPI-related flags with SQPOLL */
		fl = (fl & ~(IORING_SETUP_COOP_TASKRUN |
			     IORING_SETUP_TASKRUN_FLAG)) |
		     IORING_SETUP_SQPOLL;
	if ((fl & IORING_SETUP_TASKRUN_FLAG) &&
	    !(fl & (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN)))
		fl &= ~IORING_SETUP_TASKRUN_FLAG;
	return fl;
}

struct urt__ring *urt__ring_new(const struct urt_config *cfg, urt__cqe_fn fn,
				void *ctx, int *err)
{
	/* Best first; each later entry drops what an older kernel refuses. */
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
			IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
			IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SUBMIT_ALL,
		0,
	};
	struct urt__ring *r = calloc(1, sizeof(*r));
	unsigned entries = cfg->ring_entries ? cfg->ring_entries : 256;
	unsigned cq;
	int ret = -EINVAL;

	/* An op and its LINK_TIMEOUT must sit in one submission: with a
	 * 1-entry SQ, urt__ring_prep_op would wait for room forever. */
	if (entries < 2)
		entries = 2;
	cq = cfg->cq_entries ? cfg->cq_entries : 4 * entries;
	if (cq < entries)
		cq = entries;

	last_error[0] = 0;
	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	r->fn = fn;
	r->ctx = ctx;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;
		unsigned fl = setup_flags(tries[i], cfg->flags);

		memset(&p, 0, sizeof(p));
		p.flags = fl | IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		p.sq_thread_idle = 50; /* ms, SQPOLL only */
		ret = io_uring_queue_init_params(entries, &r->ring, &p);
		if (ret == 0) {
			r->setup_flags = p.flags;
			r->features = p.features;
			break;
		}
		if (ret != -EINVAL)
			break; /* not a flag problem: ENOSYS, EPERM, ENOMEM */
	}
	if (ret) {
		explain_setup_failure(ret, entries, cq);
		free(r);
		*err = ret;
		return NULL;
	}
	/* Enter by registered index: skips fdget on every io_uring_enter. */
	(void)io_uring_register_ring_fd(&r->ring);

	struct io_uring_probe *probe = io_uring_get_probe_ring(&r->ring);
	if (probe) {
		for (unsigned op = 0; op < 64 && op <= probe->last_op; op++)
			if (io_uring_opcode_supported(probe, (int)op))
				r->ops_mask |= 1ull << op;
		io_uring_free_probe(probe);
	}
	*err = 0;
	return r;
}

void urt__ring_free(struct urt__ring *r)
{
	if (!r)
		return;
	io_uring_queue_exit(&r->ring);
	free(r);
}

int urt__ring_fd(const struct urt__ring *r)
{
	return r->ring.ring_fd;
}

unsigned urt__ring_setup_flags(const struct urt__ring *r)
{
	return r->setup_flags;
}

bool urt__ring_has_op(const struct urt__ring *r, unsigned opcode)
{
	return opcode < 64 && (r->ops_mask >> opcode) & 1;
}

uint64_t urt__ring_inflight(const struct urt__ring *r)
{
	return r->inflight;
}

uint64_t urt__ring_sq_full_retries(const struct urt__ring *r)
{
	return r->sq_full_retries;
}

uint64_t urt__ring_cq_overflows(const struct urt__ring *r)
{
	return r->cq_overflows;
}

static int reap_ready(struct urt__ring *r);

/*
 * Returns a free SQE, making room if needed: a full SQ is submitted; if the
 * kernel pushes back (-EBUSY/-EAGAIN: CQ backlog on older kernels) the
 * completions are reaped first. Never gives up while the ring works.
 */
static struct io_uring_sqe *get_sqe(struct urt__ring *r, int *err)
{
	for (;;) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		int ret;

		if (sqe) {
			*err = 0;
			return sqe;
		}
		r->sq_full_retries++;
		ret = io_uring_submit(&r->ring);
		if (ret >= 0 || ret == -EINTR)
			continue;
		if ((ret == -EBUSY || ret == -EAGAIN) && !r->in_reap) {
			reap_ready(r);
			continue;
		}
		if (ret == -EBUSY || ret == -EAGAIN) {
			/* Re-entered from a CQE callback: let the kernel
			 * flush its backlog, then retry. */
			(void)io_uring_get_events(&r->ring);
			continue;
		}
		*err = ret;
		return NULL;
	}
}

/*
 * ASan cannot see the kernel write into a buffer: check bounds at
 * submission in sanitizer builds (a bad length aborts here instead of
 * corrupting the heap silently).
 */
static void check_buffer(const struct urt_op *op)
{
#ifdef URT_ASAN
	const void *p = NULL;
	size_t len = 0;

	switch (op->opcode) {
	case IORING_OP_READ:
	case IORING_OP_WRITE:
	case IORING_OP_RECV:
	case IORING_OP_SEND:
		p = (const void *)(uintptr_t)op->addr;
		len = op->len;
		break;
	case IORING_OP_STATX: /* the kernel writes a whole struct statx */
		p = (const void *)(uintptr_t)op->off;
		len = sizeof(struct statx);
		break;
	case IORING_OP_ACCEPT: { /* *addrlen in, then up to *addrlen out */
		const socklen_t *alen = (const void *)(uintptr_t)op->off;
		if (alen && __asan_region_is_poisoned((void *)alen,
						      sizeof(*alen))) {
			fprintf(stderr, "urt: op %p: accept addrlen is not "
				"addressable\n", (void *)op);
			abort();
		}
		p = (const void *)(uintptr_t)op->addr;
		len = p && alen ? *alen : 0;
		break;
	}
	case IORING_OP_READV:
	case IORING_OP_WRITEV: {
		const struct iovec *iov = (const void *)(uintptr_t)op->addr;
		for (unsigned i = 0; i < op->len; i++) {
			void *bad = __asan_region_is_poisoned(iov[i].iov_base,
							      iov[i].iov_len);
			if (bad) {
				fprintf(stderr, "urt: op %p: iovec %u is not "
					"addressable at %p\n", (void *)op, i,
					bad);
				abort();
			}
		}
		return;
	}
	default:
		return;
	}
	if (p && len) {
		void *bad = __asan_region_is_poisoned((void *)(uintptr_t)p, len);
		if (bad) {
			fprintf(stderr, "urt: op %p (opcode %u): buffer of %zu "
				"bytes is not addressable at %p\n", (void *)op,
				op->opcode, len, bad);
			abort();
		}
	}
#else
	(void)op;
#endif
}

int urt__ring_prep_op(struct urt__ring *r, struct urt_op *op)
{
	bool linked = op->deadline_ns && op->opcode != IORING_OP_TIMEOUT;
	struct io_uring_sqe *sqe, *lt = NULL;
	int err;

	check_buffer(op);
	/* The op and its LINK_TIMEOUT must be adjacent in one submission. */
	if (linked && io_uring_sq_space_left(&r->ring) < 2) {
		int ret = io_uring_submit(&r->ring);
		if (ret < 0 && ret != -EBUSY && ret != -EAGAIN && ret != -EINTR)
			return ret;
		r->sq_full_retries++;
		while (io_uring_sq_space_left(&r->ring) < 2) {
			if (!r->in_reap)
				reap_ready(r);
			else
				(void)io_uring_get_events(&r->ring);
			(void)io_uring_submit(&r->ring);
		}
	}
	sqe = get_sqe(r, &err);
	if (!sqe)
		return err;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op->opcode;
	sqe->fd = op->fd;
	sqe->off = op->off;
	sqe->addr = op->addr;
	sqe->len = op->len;
	sqe->rw_flags = (__kernel_rwf_t)op->op_flags;
	sqe->ioprio = op->ioprio;
	sqe->user_data = (uint64_t)(uintptr_t)op | URT__UD_OP;
	if (op->opcode == IORING_OP_TIMEOUT)
		sqe->addr = (uint64_t)(uintptr_t)&op->ts;
	r->inflight++;
	if (!linked)
		return 0;
	sqe->flags |= IOSQE_IO_LINK;
	op->ts.tv_sec = (int64_t)(op->deadline_ns / 1000000000ull);
	op->ts.tv_nsec = (long long)(op->deadline_ns % 1000000000ull);
	lt = get_sqe(r, &err); /* cannot fail: space checked above */
	if (!lt)
		return err;
	io_uring_prep_link_timeout(lt, (struct __kernel_timespec *)&op->ts, 0);
	lt->user_data = URT__UD_IGNORE;
	r->inflight++;
	return 0;
}

int urt__ring_prep_cancel(struct urt__ring *r, uint64_t target)
{
	int err;
	struct io_uring_sqe *sqe = get_sqe(r, &err);

	if (!sqe)
		return err;
	io_uring_prep_cancel64(sqe, target, 0);
	sqe->user_data = URT__UD_IGNORE;
	r->inflight++;
	return 0;
}

int urt__ring_cancel_all(struct urt__ring *r)
{
	int err;
	struct io_uring_sqe *sqe = get_sqe(r, &err);

	if (!sqe)
		return err;
	io_uring_prep_cancel64(sqe, 0,
			       IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
	sqe->user_data = URT__UD_IGNORE;
	r->inflight++;
	return 0;
}

static void prep_msg(struct io_uring_sqe *sqe, int target_fd,
		     uint64_t user_data, int32_t res)
{
	/* liburing 2.3's prep_msg_ring takes the same fields. */
	io_uring_prep_msg_ring(sqe, target_fd, (unsigned)res, user_data, 0);
}

int urt__ring_msg(struct urt__ring *r, int target_fd, uint64_t user_data,
		  int32_t res)
{
	int err, ret;
	struct io_uring_sqe *sqe = get_sqe(r, &err);

	if (!sqe)
		return err;
	prep_msg(sqe, target_fd, user_data, res);
	sqe->user_data = URT__UD_IGNORE; /* source CQE: counted, ignored */
	r->inflight++;
	/* Wake-ups are latency-critical: submit now, don't wait for the
	 * worker's next flush. */
	ret = io_uring_submit(&r->ring);
	return ret < 0 && ret != -EBUSY && ret != -EAGAIN ? ret : 0;
}

int urt__ring_flush(struct urt__ring *r)
{
	int ret;

	if (!io_uring_sq_ready(&r->ring))
		return 0;
	ret = io_uring_submit(&r->ring);
	return ret < 0 && ret != -EBUSY && ret != -EAGAIN && ret != -EINTR
		       ? ret
		       : 0;
}

/*
 * Hands every CQE now in the CQ to the callback, one at a time, without a
 * syscall (liburing's peek may enter the kernel).
 */
static int drain_cq(struct urt__ring *r)
{
	struct io_uring_cq *cq = &r->ring.cq;
	int n = 0;

	for (;;) {
		unsigned head = *cq->khead;
		/* acquire: the kernel wrote the CQE before the tail */
		unsigned tail = io_uring_smp_load_acquire(cq->ktail);
		struct io_uring_cqe *cqe;

		if (head == tail)
			break;
		cqe = &cq->cqes[head & cq->ring_mask];
		uint64_t ud = cqe->user_data;
		int res = cqe->res;
		uint32_t flags = cqe->flags;

		/* Advance before the callback: it may re-enter the ring. */
		io_uring_cq_advance(&r->ring, 1);
		/* Messages from other rings were not prepared here. */
		if ((ud & URT__UD_TAG_MASK) != URT__UD_WAKE &&
		    (ud & URT__UD_TAG_MASK) != URT__UD_CANCEL)
			r->inflight--;
		n++;
		r->fn(r->ctx, ud, res, flags);
	}
	return n;
}

static bool needs_enter(struct urt__ring *r)
{
	unsigned sqf = IO_URING_READ_ONCE(*r->ring.sq.kflags);

	if (io_uring_sq_ready(&r->ring))
		return true;
	if (sqf & IORING_SQ_CQ_OVERFLOW)
		return true;
	if (r->setup_flags & IORING_SETUP_DEFER_TASKRUN) {
		/* Deferred completions only post when we enter; without
		 * TASKRUN_FLAG we cannot tell if there are any. */
		if (!(r->setup_flags & IORING_SETUP_TASKRUN_FLAG))
			return true;
		return sqf & IORING_SQ_TASKRUN;
	}
	return false;
}

static int reap_ready(struct urt__ring *r)
{
	int total = 0;
	bool was = r->in_reap;

	r->in_reap = true;
	for (;;) {
		if (needs_enter(r)) {
			if (IO_URING_READ_ONCE(*r->ring.sq.kflags) &
			    IORING_SQ_CQ_OVERFLOW)
				r->cq_overflows++;
			int ret = io_uring_submit_and_get_events(&r->ring);
			if (ret < 0 && ret != -EINTR && ret != -EBUSY &&
			    ret != -EAGAIN) {
				r->in_reap = was;
				return ret;
			}
		}
		int n = drain_cq(r);
		total += n;
		/* Overflowed CQEs move to the CQ only on the next enter. */
		if (!(IO_URING_READ_ONCE(*r->ring.sq.kflags) &
		      IORING_SQ_CQ_OVERFLOW) &&
		    n == 0)
			break;
		if (n == 0 && !io_uring_cq_has_overflow(&r->ring))
			break;
	}
	r->in_reap = was;
	return total;
}

int urt__ring_reap(struct urt__ring *r, bool wait)
{
	return urt__ring_reap_timeout(r, wait, 0);
}

int urt__ring_reap_timeout(struct urt__ring *r, bool wait,
			   uint64_t timeout_ns)
{
	if (wait && io_uring_cq_ready(&r->ring) == 0) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {
			.tv_sec = (long long)(timeout_ns / 1000000000ull),
			.tv_nsec = (long long)(timeout_ns % 1000000000ull),
		};
		/* EXT_ARG timeout: no TIMEOUT SQE, nothing left in flight */
		int ret = timeout_ns ? io_uring_submit_and_wait_timeout(
					       &r->ring, &cqe, 1, &ts, NULL)
				     : io_uring_submit_and_wait(&r->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -ETIME &&
		    ret != -EBUSY && ret != -EAGAIN)
			return ret;
	}
	return reap_ready(r);
}

/* ---------------------------------------------------------------------
 * MSG_RING from a thread that may own no ring.
 * ------------------------------------------------------------------- */

/* 0: unknown, 1: REGISTER_SEND_MSG_RING works, -1: it does not. */
static _Atomic int sync_msg_state;

struct tiny_ring {
	struct io_uring ring;
};
static pthread_key_t tiny_key;
static pthread_once_t tiny_once = PTHREAD_ONCE_INIT;

static void tiny_free(void *p)
{
	struct tiny_ring *t = p;

	io_uring_queue_exit(&t->ring);
	free(t);
}

static void tiny_key_init(void)
{
	(void)pthread_key_create(&tiny_key, tiny_free);
}

static int msg_via_tiny_ring(int target_fd, uint64_t user_data, int32_t res)
{
	struct tiny_ring *t;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	pthread_once(&tiny_once, tiny_key_init);
	t = pthread_getspecific(tiny_key);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		ret = io_uring_queue_init(2, &t->ring, 0);
		if (ret) {
			free(t);
			return ret;
		}
		pthread_setspecific(tiny_key, t);
	}
	sqe = io_uring_get_sqe(&t->ring);
	prep_msg(sqe, target_fd, user_data, res);
	do
		ret = io_uring_submit(&t->ring);
	while (ret == -EINTR);
	if (ret < 0)
		return ret;
	/* Always collect the source CQE, or the next call would read a
	 * stale one; a signal must not make us give up on it. */
	do
		ret = io_uring_wait_cqe(&t->ring, &cqe);
	while (ret == -EINTR);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&t->ring, cqe);
	return ret < 0 ? ret : 0;
}

int urt__msg_ring_sync(int target_fd, uint64_t user_data, int32_t res)
{
	int state = atomic_load_explicit(&sync_msg_state, memory_order_relaxed);
	int ret;

	if (state >= 0) {
		struct io_uring_sqe sqe;

		memset(&sqe, 0, sizeof(sqe));
		prep_msg(&sqe, target_fd, user_data, res);
		if (syscall(__NR_io_uring_register, -1,
			    URT_IORING_REGISTER_SEND_MSG_RING, &sqe, 1) >= 0) {
			/* relaxed: a capability bit, it publishes no data */
			atomic_store_explicit(&sync_msg_state, 1,
					      memory_order_relaxed);
			return 0;
		}
		if (state == 1 || errno == ENOMEM || errno == EINTR ||
		    errno == EAGAIN)
			return -errno; /* works, or a transient failure */
	}
	/*
	 * Before 6.13, fd -1 fails with EBADF or EINVAL, like a bad target
	 * would: if the tiny ring reaches the target, the blind path is what
	 * is missing, so stop trying it.
	 */
	ret = msg_via_tiny_ring(target_fd, user_data, res);
	if (ret == 0 && state == 0)
		atomic_store_explicit(&sync_msg_state, -1,
				      memory_order_relaxed);
	return ret;
}
