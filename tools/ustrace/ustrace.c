// SPDX-License-Identifier: MIT
/*
 * ustrace: traces a urt program with eBPF. Finds the binary that holds the
 * urt USDT probes, starts (or joins) the target, loads and attaches
 * ustrace.bpf.c, drains its ring buffer into the event log and (live) the
 * view, builds the summary (--no-live: from the log, read back at the
 * end) and finally calls the exporters. The model and drawing are view.c's,
 * the log's writing record.c's, the demo workload demo.c's, the log format
 * ustrace.h's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "decode.h"
#include "demo.h"
#include "record.h"
#include "target.h"
#include "trace_format.h"
#include "ustrace.h"
#include "ustrace.skel.h"
#include "view.h"
#ifdef USTRACE_HAVE_EXPORT
#include "export.h"
#endif

#define POLL_MS 10 /* the ring buffer wakes us only past wakeup_bytes */

static const char usage[] =
    "usage: ustrace [options]                 trace the built-in demo\n"
    "       ustrace [options] -p PID          attach to a running process\n"
    "       ustrace [options] -- CMD [ARG...] run CMD, traced from its first\n"
    "                                         instruction\n"
    "\n"
    "Shows urt's workers and tasks live (task hops between workers,\n"
    "steals, parks, polls that block a worker) and writes the event log\n"
    "DIR/events.ustrace, plus the exports (Perfetto JSON, HTML timeline,\n"
    "summaries) where they are built.\n"
    "\n"
    "  -p, --pid PID        trace a running process; detach at the end\n"
    "  -d, --duration SEC   stop after SEC seconds (demo: run that long,\n"
    "                       default 3; CMD: SIGTERM it then)\n"
    "  -o, --output DIR     where to write (default ./ustrace-out)\n"
    "      --no-live        progress lines instead of the full-screen view,\n"
    "                       the summary from the log afterwards (the\n"
    "                       default when stdout is not a terminal)\n"
    "      --live           the full-screen view even so\n"
    "  -l, --long-poll MS   warn about polls of at least MS ms (default 10)\n"
    "  -x, --exclude P,..   do not attach these direct probes (each hit is a\n"
    "                       trap, ~2 us); with -x migrate, against a liburt\n"
    "                       that fires urt:migrate on every hop, hops are\n"
    "                       taken from the poll records instead\n"
    "      --ring-mb MB     BPF ring buffer size, a power of 2 (default 64)\n"
    "      --lib PATH       the binary holding the urt probes (see below)\n"
    "      --no-export      write the event log only (exports can be made\n"
    "                       later: ustrace-report DIR/events.ustrace)\n"
    "      --check          only check privileges and kernel support\n"
    "  -v, --verbose        libbpf's log\n"
    "  -h, --help\n"
    "\n"
    "Which binary holds the probes: liburt built in statically (the\n"
    "executable has the urt USDT notes: `readelf -n EXE`) or liburt.so.\n"
    "For -- CMD, ustrace reads CMD's ELF notes; if it has none and is\n"
    "dynamically linked, it asks CMD's dynamic loader which liburt.so it\n"
    "would load (`ld.so --list CMD`, as ldd does, with the current\n"
    "LD_LIBRARY_PATH and CMD's RUNPATH) and attaches there, scoped to the\n"
    "child's pid, so probes fire once the library is loaded. A script or\n"
    "a dlopen()ed liburt needs --lib. For -p, the liburt.so the process\n"
    "maps (/proc/PID/maps), else its executable.\n"
    "\n"
    "Needs root (or CAP_SYS_ADMIN; CAP_BPF+CAP_PERFMON are not enough for\n"
    "uprobes on kernel 6.x) and kernel BTF (/sys/kernel/btf/vmlinux).\n"
    "In live mode CMD's output goes to DIR/target.log.\n"
    "\n"
    "Exit status: CMD's (128+N if signal N ended it), else 0; 1 where\n"
    "ustrace failed (privileges, attaching, writing the log: then cut at\n"
    "its last whole item, exporting); 2 for bad arguments or a kernel\n"
    "without BTF or BPF (--check too).\n";

struct opts {
	pid_t pid;
	double duration;
	const char *out_dir;
	const char *lib;
	int live; /* -1: auto */
	bool verbose, check, no_export;
	unsigned ring_mb;
	const char *exclude;
	uint64_t long_poll_ns;
	char **cmd;
};

struct tracer {
	struct opts o;
	struct ustrace_bpf *skel;
	struct bpf_link *links[32];
	int nlinks;
	struct ring_buffer *rb;
	/* live: fed while tracing; else only by the replay of the log */
	struct ust_view *view;
	struct ust_rec rec;
	struct ust_decoder dec; /* live; else only its two counters */
	uint64_t bad_reported;	/* dec.bad_batches already reported */
	uint64_t drops_logged;
	/* what came, for --no-live's progress lines */
	uint64_t batches, batch_bytes, records, events;
	uint64_t tick_bytes, tick_ns; /* at the last progress line */
	pid_t pid;
	bool child; /* we forked it: waitpid works */
	int status;
	bool exited;
	bool killed;	  /* we sent it SIGTERM (--duration, Ctrl-C) */
	uint64_t exit_ns; /* when we saw it end */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------------
 * Can we trace at all? Said plainly, before libbpf's RLIMIT_MEMLOCK hint.
 * Returns 0, 1 (missing privileges) or 2 (the kernel cannot).
 * ------------------------------------------------------------------- */

static int check_env(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {0};
	static const struct {
		int cap;
		const char *name;
	} need[] = {
	    {21, "CAP_SYS_ADMIN"}, {38, "CAP_PERFMON"}, {39, "CAP_BPF"}};
	char missing[128] = "";
	int r;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr,
			"ustrace: this kernel has no BTF "
			"(/sys/kernel/btf/vmlinux: %s): it needs "
			"CONFIG_DEBUG_INFO_BTF=y\n",
			strerror(errno));
		return 2;
	}
	if (syscall(SYS_capget, &h, d)) {
		fprintf(stderr, "ustrace: capget: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		int c = need[i].cap;

		if (!(d[c / 32].effective & (1u << (c % 32)))) {
			strcat(missing, " ");
			strcat(missing, need[i].name);
		}
	}
	if (missing[0]) {
		fprintf(stderr,
			"ustrace: needs root (or CAP_SYS_ADMIN, CAP_BPF and "
			"CAP_PERFMON); missing:%s (euid %u)\n",
			missing, geteuid());
		return 1;
	}
	r = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, NULL);
	if (r <= 0) {
		fprintf(stderr,
			"ustrace: the kernel refused a trivial BPF program "
			"(%s): BPF is off (CONFIG_BPF_SYSCALL) or blocked by "
			"a seccomp/LSM policy\n",
			r ? strerror(-r) : "program type not supported");
		return 2;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * BPF
 * ------------------------------------------------------------------- */

static const struct {
	const char *name;
	enum ust_type type;
} probes[] = {
    {"worker_start", UST_WORKER_START},
    {"worker_stop", UST_WORKER_STOP},
    {"spawn", UST_SPAWN_FOREIGN},
    {"steal", UST_STEAL},
    {"migrate", UST_MIGRATE},
    {"park", UST_PARK},
    {"unpark", UST_UNPARK},
    {"abort", UST_ABORT},
    {"long_poll", UST_LONG_POLL},
};

static bool btf_has_tp(const struct btf *btf, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) > 0;
}

static int add_link(struct tracer *t, struct bpf_link *l, const char *what)
{
	int err = -errno;

	if (!l) {
		fprintf(stderr, "ustrace: attaching %s failed: %s\n", what,
			strerror(-err));
		return err;
	}
	t->links[t->nlinks++] = l;
	return 0;
}

/* Whether name is in the comma-separated list. */
static bool excluded(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *c = strchrnul(p, ',');

		if ((size_t)(c - p) == n && !strncmp(p, name, n))
			return true;
		p = *c ? c + 1 : c;
	}
	return false;
}

static int attach_all(struct tracer *t, const char *bin)
{
	struct ustrace_bpf *sk = t->skel;
	struct bpf_program *tps[] = {sk->progs.on_switch,
				     sk->progs.on_os_migrate, sk->progs.on_sqe,
				     sk->progs.on_cqe};
	int err;

	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		if (!bpf_program__autoload(tps[i]))
			continue;
		err = add_link(t, bpf_program__attach(tps[i]),
			       bpf_program__section_name(tps[i]));
		if (err)
			return err;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		LIBBPF_OPTS(bpf_usdt_opts, uo, .usdt_cookie = probes[i].type);
		char what[64];

		if (excluded(t->o.exclude, probes[i].name))
			continue;
		snprintf(what, sizeof(what), "urt:%s", probes[i].name);
		err = add_link(t,
			       bpf_program__attach_usdt(sk->progs.on_probe,
							t->pid, bin, "urt",
							probes[i].name, &uo),
			       what);
		if (err)
			return err;
	}
	/* Last: a target may wait for this semaphore to start its work,
	 * and then every other probe must already fire. */
	return add_link(t,
			bpf_program__attach_usdt(sk->progs.on_batch, t->pid,
						 bin, "urt", "batch", NULL),
			"urt:batch");
}

static uint64_t read_drops(struct tracer *t)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v, sum = 0;
	uint32_t zero = 0;

	if (ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return t->drops_logged;
	if (!bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.drops), &zero, v))
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

/* ---------------------------------------------------------------------
 * Recording
 * ------------------------------------------------------------------- */

static void log_event(struct tracer *t, const struct ust_event *e)
{
	ust_rec_event(&t->rec, e);
	if (e->type == UST_WORKER_START && e->worker != UST_NO_WORKER &&
	    e->worker >= t->rec.hdr.nworkers)
		t->rec.hdr.nworkers = e->worker + 1u;
}

static void view_fn(void *ctx, const struct ust_event *e)
{
	struct tracer *t = ctx;

	ust_view_event(t->view, e);
}

/*
 * What ust_decode_batch() checks before it decodes anything, without the
 * decoding (--no-live), counted in t->dec alike: a batch that passes is
 * one the log's reader takes (ust_log_parse refuses a whole log for one
 * it cannot frame). -EPROTO: of another format version; -EBADMSG.
 */
static int batch_check(struct tracer *t, const struct ust_rb_batch *b,
		       size_t size)
{
	const struct urt_trace_batch *h = (const void *)(b + 1);
	int err = size < sizeof(*b) || b->bytes > size - sizeof(*b)
		      ? -EBADMSG
		      : ust_batch_check(h, b->bytes);

	if (err) {
		t->dec.bad_batches++;
		if (err == -EPROTO)
			t->dec.other_version = h->version;
	}
	return err;
}

/*
 * A urt:batch buffer: logged as it is, from the ring buffer's memory (the
 * log's reader decodes it); live, also decoded for the view (decode.c).
 * One that is not of this ustrace's format version is neither: said once,
 * counted at the end.
 */
static void on_batch(struct tracer *t, const struct ust_rb_batch *b,
		     size_t size)
{
	const struct urt_trace_batch *h = (const void *)(b + 1);
	int err = t->o.live ? ust_decode_batch(&t->dec, b, size, view_fn, t)
			    : batch_check(t, b, size);

	if (!err) {
		ust_rec_batch(&t->rec, b, sizeof(*b) + b->bytes);
		t->batches++;
		t->batch_bytes += b->bytes;
		t->records += h->records;
		if (h->worker != UST_NO_WORKER &&
		    h->worker >= t->rec.hdr.nworkers)
			t->rec.hdr.nworkers = h->worker + 1u;
		return;
	}
	if (t->bad_reported)
		return;
	t->bad_reported = 1;
	if (err == -EPROTO)
		fprintf(stderr,
			"ustrace: liburt in pid %d writes trace records of "
			"format %u, this ustrace reads format %u: polls, "
			"wakes and ops are not shown (build both from one "
			"tree)\n",
			t->pid, t->dec.other_version,
			URT_TRACE_FORMAT_VERSION);
	else
		fprintf(stderr,
			"ustrace: urt:batch sent records this ustrace cannot "
			"read (a liburt older than trace format %u?): polls, "
			"wakes and ops are not shown\n",
			URT_TRACE_FORMAT_VERSION);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct ust_event *e = data;

	if (size >= sizeof(struct ust_rb_batch) &&
	    ((const struct ust_rb_batch *)data)->mark == UST_RB_BATCH_MARK) {
		on_batch(t, data, size);
		return 0;
	}
	if (size < sizeof(*e))
		return 0;
	log_event(t, e);
	t->events++;
	if (t->o.live)
		ust_view_event(t->view, e);
	return 0;
}

/* Notices new drops: logged as a UST_DROPS event with the delta. */
static uint64_t note_drops(struct tracer *t)
{
	uint64_t d = read_drops(t);

	if (d > t->drops_logged) {
		struct ust_event e = {.ts_ns = now_ns(),
				      .type = UST_DROPS,
				      .data = d - t->drops_logged,
				      .worker = UST_NO_WORKER,
				      .worker2 = UST_NO_WORKER};
		log_event(t, &e);
		t->drops_logged = d;
	}
	return t->drops_logged;
}

/* --no-live, once a second: what came so far, from our counters alone
 * (the view is fed afterwards, from the log). MB of liburt's batches. */
static void progress(struct tracer *t, uint64_t now, uint64_t drops)
{
	double dt = (double)(now - t->tick_ns) / 1e9;

	printf("[%5.1fs] batches %llu (%.1f MB, %.1f MB/s) records %llu "
	       "events %llu drops %llu\n",
	       (double)(now - t->rec.hdr.start_ns) / 1e9,
	       (unsigned long long)t->batches, (double)t->batch_bytes / 1e6,
	       dt > 0 ? (double)(t->batch_bytes - t->tick_bytes) / 1e6 / dt
		      : 0.0,
	       (unsigned long long)t->records, (unsigned long long)t->events,
	       (unsigned long long)drops);
	fflush(stdout);
	t->tick_ns = now;
	t->tick_bytes = t->batch_bytes;
}

static int open_log(struct tracer *t, const char *comm)
{
	struct ust_log_header h = {.version = UST_LOG_VERSION,
				   .event_size = sizeof(struct ust_event),
				   .pid = (uint32_t)t->pid,
				   .start_ns = now_ns()};

	memcpy(h.magic, UST_LOG_MAGIC, 8);
	snprintf(h.comm, sizeof(h.comm), "%s", comm);
	t->tick_ns = h.start_ns;
	/* (live) what workers kept from a tracer before us is not ours */
	t->dec.since_ns = h.start_ns;
	return ust_rec_open(&t->rec, t->o.out_dir, &h);
}

static int close_log(struct tracer *t)
{
	if (t->exited) {
		struct ust_event e = {.ts_ns =
					  t->exit_ns ? t->exit_ns : now_ns(),
				      .type = UST_TARGET_EXIT,
				      .tid = (uint32_t)t->pid,
				      .arg = (uint32_t)t->status,
				      .worker = UST_NO_WORKER,
				      .worker2 = UST_NO_WORKER};
		log_event(t, &e);
	}
	t->rec.hdr.drops = t->drops_logged;
	return ust_rec_close(&t->rec);
}

static int replay_fn(void *ctx, const struct ust_event *e)
{
	/* ours (drops, the target's end): the view never had them live */
	if (e->type != UST_DROPS && e->type != UST_TARGET_EXIT)
		ust_view_event(ctx, e);
	return 0;
}

/*
 * --no-live, after close_log(): the summary's model from the log, the
 * events the live view would have had, in the same order. The view prints
 * a few of the migration and warning lines it makes (view.c, per tick:
 * the replay is one) and counts the rest.
 */
static void replay_log(struct tracer *t)
{
	struct ust_log_header h;
	uint64_t t0 = now_ns();

	if (ust_log_replay(t->rec.path, &h, replay_fn, t->view))
		fprintf(stderr, "ustrace: the summary misses what could not "
				"be read back from the log\n");
	else if (t->rec.failed)
		fprintf(stderr, "ustrace: the summary stops where the log "
				"does (the write that failed)\n");
	if (verbose)
		fprintf(stderr, "ustrace: read %s back in %.3f s\n",
			t->rec.path, (double)(now_ns() - t0) / 1e9);
}

/* ---------------------------------------------------------------------
 * Main loop
 * ------------------------------------------------------------------- */

static bool target_gone(struct tracer *t)
{
	char path[64], buf[256];
	FILE *f;
	bool zombie = false;

	if (t->exited)
		return true;
	if (t->child) {
		if (waitpid(t->pid, &t->status, WNOHANG) == t->pid) {
			t->exited = true;
			t->exit_ns = now_ns();
		}
		return t->exited;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", t->pid);
	f = fopen(path, "r");
	if (f) {
		/* "pid (comm) S ...": comm may hold spaces and parens */
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			zombie = p && p[1] == ' ' && p[2] == 'Z';
		}
		fclose(f);
	}
	if (!f || zombie) {
		t->exited = true;
		t->status = 0;
		t->exit_ns = now_ns();
	}
	return t->exited;
}

static void run_loop(struct tracer *t, uint64_t end_ns)
{
	uint64_t tick = t->o.live ? 250000000ull : 1000000000ull;
	uint64_t next = now_ns() + tick, term_at = 0, kill_at = 0;

	for (;;) {
		uint64_t now;
		int r = ring_buffer__poll(t->rb, POLL_MS);

		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "ustrace: ring buffer: %s\n",
				strerror(-r));
			break;
		}
		ring_buffer__consume(t->rb);
		now = now_ns();
		if (target_gone(t))
			break;
		if (stop || (end_ns && now >= end_ns)) {
			if (!t->child)
				break; /* -p: detach, it runs on */
			/* Our child. Ctrl-C reached it too: give it a
			 * second to end by itself, then SIGTERM, SIGKILL. */
			if (!term_at)
				term_at = now + (stop ? 1000000000ull : 0);
			if (!kill_at && now >= term_at) {
				kill(t->pid, SIGTERM);
				t->killed = true;
				kill_at = now + 2000000000ull;
			} else if (kill_at && now >= kill_at) {
				kill(t->pid, SIGKILL);
				kill_at = UINT64_MAX;
			}
		}
		if (now >= next) {
			uint64_t drops = note_drops(t);

			if (t->o.live)
				ust_view_tick(t->view, now, drops);
			else
				progress(t, now, drops);
			next = now + tick;
		}
	}
	/* What the target wrote up to its end (or our detach). */
	ring_buffer__consume(t->rb);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"pid", required_argument, NULL, 'p'},
	    {"duration", required_argument, NULL, 'd'},
	    {"output", required_argument, NULL, 'o'},
	    {"no-live", no_argument, NULL, 'N'},
	    {"live", no_argument, NULL, 'L'},
	    {"long-poll", required_argument, NULL, 'l'},
	    {"lib", required_argument, NULL, 'b'},
	    {"ring-mb", required_argument, NULL, 'R'},
	    {"exclude", required_argument, NULL, 'x'},
	    {"check", no_argument, NULL, 'C'},
	    {"no-export", no_argument, NULL, 'E'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"demo-child", required_argument, NULL, 'D'},
	    {0},
	};
	static struct tracer t = {.o = {.out_dir = "ustrace-out",
					.live = -1,
					.long_poll_ns = 10000000ull,
					.ring_mb = 64},
				  .rec.fd = -1};
	char bin[PATH_MAX], exe[PATH_MAX], title[256] = "", demo_dur[32];
	char *demo_argv[4];
	char tlog[PATH_MAX + 16], path_buf[64];
	FILE *cf;
	struct btf *vmlinux = NULL;
	int c, gate = -1, ret = 1, err;
	bool have_log = false; /* opened (a failed write later: read back
				* what it holds) */
	uint64_t drops = 0, end_ns = 0;

	while ((c = getopt_long(argc, argv, "+p:d:o:l:x:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			t.o.pid = atoi(optarg);
			break;
		case 'd':
			t.o.duration = atof(optarg);
			break;
		case 'o':
			t.o.out_dir = optarg;
			break;
		case 'N':
			t.o.live = 0;
			break;
		case 'L':
			t.o.live = 1;
			break;
		case 'l':
			t.o.long_poll_ns = (uint64_t)(atof(optarg) * 1e6);
			break;
		case 'b':
			t.o.lib = optarg;
			break;
		case 'x':
			t.o.exclude = optarg;
			break;
		case 'R':
			t.o.ring_mb = (unsigned)atoi(optarg);
			if (!t.o.ring_mb || (t.o.ring_mb & (t.o.ring_mb - 1))) {
				fprintf(stderr, "ustrace: --ring-mb: a power "
						"of 2\n");
				return 2;
			}
			break;
		case 'C':
			t.o.check = true;
			break;
		case 'E':
			t.o.no_export = true;
			break;
		case 'v':
			t.o.verbose = true;
			break;
		case 'D':
			return ust_demo_main(atof(optarg));
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc)
		t.o.cmd = argv + optind;
	if (t.o.cmd && t.o.pid) {
		fprintf(stderr,
			"ustrace: -p and a command exclude each other\n");
		return 2;
	}
	verbose = t.o.verbose;
	libbpf_set_print(print_libbpf);
	err = check_env();
	if (t.o.check || err)
		return err;
	if (t.o.live < 0)
		t.o.live = isatty(STDOUT_FILENO);

	/* 1. Which process, and which binary holds its probes. */
	if (t.o.pid) {
		t.pid = t.o.pid;
		err = t.o.lib
			  ? 0
			  : ust_probe_binary_for_pid(t.pid, bin, sizeof(bin));
		snprintf(path_buf, sizeof(path_buf), "/proc/%d/comm", t.pid);
		if ((cf = fopen(path_buf, "r"))) {
			if (fgets(title, sizeof(title), cf))
				title[strcspn(title, "\n")] = 0;
			fclose(cf);
		}
	} else {
		if (!t.o.cmd) {
			/* the demo: ourselves, liburt linked in */
			snprintf(demo_dur, sizeof(demo_dur), "%g",
				 t.o.duration > 0 ? t.o.duration : 3.0);
			t.o.duration = 0; /* the demo ends by itself */
			if (!realpath("/proc/self/exe", exe))
				return 1;
			demo_argv[0] = exe;
			demo_argv[1] = "--demo-child";
			demo_argv[2] = demo_dur;
			demo_argv[3] = NULL;
			t.o.cmd = demo_argv;
			snprintf(title, sizeof(title), "ustrace demo (%ss)",
				 demo_dur);
		} else {
			for (char **a = t.o.cmd; *a; a++)
				snprintf(title + strlen(title),
					 sizeof(title) - strlen(title), "%s%s",
					 a == t.o.cmd ? "" : " ", *a);
		}
		err = ust_which(t.o.cmd[0], exe, sizeof(exe));
		if (err)
			fprintf(stderr, "ustrace: %s: not found\n", t.o.cmd[0]);
		else if (!t.o.lib)
			err = ust_probe_binary_for_cmd(exe, bin, sizeof(bin));
	}
	if (err)
		return 1;
	if (t.o.lib)
		snprintf(bin, sizeof(bin), "%s", t.o.lib);
	if (t.o.cmd) {
		if (mkdir(t.o.out_dir, 0755) && errno != EEXIST) {
			fprintf(stderr, "ustrace: mkdir %s: %s\n", t.o.out_dir,
				strerror(errno));
			return 1;
		}
		snprintf(tlog, sizeof(tlog), "%s/target.log", t.o.out_dir);
		t.pid = ust_spawn_held(t.o.cmd, &gate, t.o.live ? tlog : NULL);
		if (t.pid < 0) {
			fprintf(stderr, "ustrace: fork: %s\n",
				strerror(-t.pid));
			return 1;
		}
		t.child = true;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/* 2. open -> set rodata -> load -> attach. */
	t.skel = ustrace_bpf__open();
	if (!t.skel) {
		fprintf(stderr, "ustrace: opening the BPF object: %s\n",
			strerror(errno));
		goto cleanup;
	}
	t.skel->rodata->target_tgid = (uint32_t)t.pid;
	/* Sized for bursts while the consumer waits for a CPU (2 busy
	 * workers on 2 CPUs): 64 MiB is 1.6 M events. */
	bpf_map__set_max_entries(t.skel->maps.rb, t.o.ring_mb << 20);
	vmlinux = btf__load_vmlinux_btf();
	if (!btf_has_tp(vmlinux, "io_uring_submit_req") ||
	    !btf_has_tp(vmlinux, "io_uring_complete")) {
		fprintf(stderr, "ustrace: no io_uring tracepoints in this "
				"kernel: kernel SQE/CQE events are off\n");
		bpf_program__set_autoload(t.skel->progs.on_sqe, false);
		bpf_program__set_autoload(t.skel->progs.on_cqe, false);
	}
	err = ustrace_bpf__load(t.skel);
	if (err) {
		fprintf(stderr, "ustrace: loading the BPF programs: %s%s\n",
			strerror(-err), verbose ? "" : " (-v shows why)");
		goto cleanup;
	}
	t.view = ust_view_new(&(struct ust_view_opts){
	    .live = t.o.live,
	    .out = stdout,
	    .long_poll_ns = t.o.long_poll_ns,
	    .title = title,
	    .hops_from_polls = excluded(t.o.exclude, "migrate"),
	    .pid = (uint32_t)t.pid});
	t.rb =
	    ring_buffer__new(bpf_map__fd(t.skel->maps.rb), on_event, &t, NULL);
	if (!t.view || !t.rb || open_log(&t, title))
		goto cleanup;
	have_log = true;
	if (attach_all(&t, bin))
		goto cleanup;
	if (!t.o.live)
		printf("ustrace: tracing pid %d (%s), probes in %s; writing "
		       "%s\n",
		       t.pid, title, bin, t.rec.path);
	fflush(stdout);

	/* 3. Release the child into exec, and record. */
	if (gate >= 0) {
		if (write(gate, "g", 1) != 1)
			goto cleanup;
		close(gate);
		gate = -1;
	}
	if (t.o.duration > 0)
		end_ns = now_ns() + (uint64_t)(t.o.duration * 1e9);
	run_loop(&t, end_ns);
	ret = 0;
	if (t.child && t.exited && WIFEXITED(t.status))
		ret = WEXITSTATUS(t.status);
	else if (t.child && t.exited && !t.killed)
		ret = 128 + WTERMSIG(t.status);

cleanup:
	/* Detaching first drops the target's semaphores back to 0. */
	for (int i = t.nlinks - 1; i >= 0; i--)
		bpf_link__destroy(t.links[i]);
	if (t.rb) {
		ring_buffer__consume(t.rb);
		drops = note_drops(&t);
		/* its 2 x ring-mb of mappings go before the replay's */
		ring_buffer__free(t.rb);
		t.rb = NULL;
	}
	if (gate >= 0)
		close(gate); /* an unreleased child exits without running */
	if (t.child && !t.exited) {
		kill(t.pid, SIGKILL);
		waitpid(t.pid, &t.status, 0);
	}
	/* A failed write was said; the log ends at its last whole item,
	 * which the summary and the exports show, but the run failed. */
	if (t.rec.fd >= 0 && close_log(&t))
		ret = ret ? ret : 1;
	if (t.view) {
		if (!t.o.live && have_log)
			replay_log(&t);
		ust_view_finish(t.view, stdout, drops);
		if (t.rec.path[0] && (!ret || t.rec.failed))
			printf("\nevent log: %s (%llu events%s)\n", t.rec.path,
			       (unsigned long long)ust_view_events(t.view),
			       t.rec.failed ? "; cut short where a write failed"
					    : "");
	}
#ifdef USTRACE_HAVE_EXPORT
	if (t.rec.path[0] && t.view && !t.o.no_export &&
	    ust_export_all(t.rec.path, t.o.out_dir, stdout) < 0) {
		fprintf(stderr, "ustrace: export failed\n");
		ret = ret ? ret : 1;
	}
#else
	if (t.rec.path[0] && t.view)
		printf("(exporters not built into this ustrace)\n");
#endif
	if (drops)
		fprintf(stderr,
			"ustrace: %llu events or batch records were dropped "
			"(ring buffer full; --ring-mb): the log has gaps\n",
			(unsigned long long)drops);
	if (t.dec.bad_batches)
		fprintf(stderr,
			"ustrace: %llu batches of liburt records could not be "
			"read (see above)\n",
			(unsigned long long)t.dec.bad_batches);
	ring_buffer__free(t.rb);
	ust_view_free(t.view);
	ustrace_bpf__destroy(t.skel);
	btf__free(vmlinux);
	return ret;
}
