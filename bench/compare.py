#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""urt vs tokio: builds both, runs every workload RUNS times per runtime and
worker count, and prints the medians side by side, then urt's wake-up
latencies (MSG_RING vs eventfd vs the runtime's own park/unpark).

Python 3 standard library only. A measurement: run it on a quiet machine
(it prints the load average before and after).

  python3 bench/compare.py                 # everything, 5 runs, 2 and 1 workers
  python3 bench/compare.py --runs 3 --workers 2 --only spawn_many,skewed
  python3 bench/compare.py --quick         # tiny sizes, checks the plumbing

urt is built from this checkout into build-bench/ (release, NDEBUG, no
tests/examples); the tokio peers with `cargo build --release --offline`
in bench/peers/tokio (Debian's packaged crates, see its .cargo/config.toml).
Every JSON line is kept in build-bench/compare-<time>.jsonl.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-bench")
PEERS = os.path.join(ROOT, "bench", "peers", "tokio")

# name -> (binary, args(workers), json "workload" to pick, in urt, in tokio)
# Sizes: the brief's (tokio's bench names and scales).
FULL = {
    "spawn_many": ("spawn_many", lambda w: ["1000000", w, "time"]),
    "yield_many": ("yield_many", lambda w: ["1000", "1000", w]),
    "ping_pong": ("ping_pong", lambda w: ["1000000", w, "join"]),
    "ping_pong_yield": ("ping_pong", lambda w: ["1000000", w, "yield"]),
    "ping_pong_notify": ("ping_pong", lambda w: ["1000000", w, "notify"]),
    "chained_spawn": ("chained_spawn", lambda w: ["1000000", w]),
    "skewed": ("skewed", lambda w: ["100000", "10", w]),
    "task_memory": ("spawn_many", lambda w: ["1000000", w, "mem"]),
    # Channels (bench/chan_*.c; tokio: tokio::sync::mpsc). Skipped when
    # this checkout has no urt channel benches.
    "chan_ping_pong": ("chan_ping_pong", lambda w: ["200000", w]),
    "chan_mpsc": ("chan_mpsc", lambda w: ["1000000", "4", "1024", w]),
    "chan_thread_to_task": ("chan_thread_to_task",
                            lambda w: ["1000000", "1024", w]),
}
QUICK = {
    "spawn_many": ("spawn_many", lambda w: ["10000", w, "time"]),
    "yield_many": ("yield_many", lambda w: ["100", "100", w]),
    "ping_pong": ("ping_pong", lambda w: ["10000", w, "join"]),
    "ping_pong_yield": ("ping_pong", lambda w: ["10000", w, "yield"]),
    "ping_pong_notify": ("ping_pong", lambda w: ["10000", w, "notify"]),
    "chained_spawn": ("chained_spawn", lambda w: ["10000", w]),
    "skewed": ("skewed", lambda w: ["2000", "10", w]),
    "task_memory": ("spawn_many", lambda w: ["10000", w, "mem"]),
    "chan_ping_pong": ("chan_ping_pong", lambda w: ["2000", w]),
    "chan_mpsc": ("chan_mpsc", lambda w: ["10000", "4", "1024", w]),
    "chan_thread_to_task": ("chan_thread_to_task",
                            lambda w: ["10000", "1024", w]),
}
WAKE_FULL = ["20000", "2000"]
WAKE_QUICK = ["2000", "200"]
PLACES = ("pin", "same", "nopin")  # see bench/wake_latency.c
URT_ONLY = set()
TOKIO_ONLY = {"ping_pong_notify"}  # urt has no channel/notify yet


def sh(cmd, cwd=None, env=None):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def build(cargo):
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        sh(["meson", "setup", BUILD, "-Dbuildtype=release", "-Db_ndebug=true",
            "-Dtests=false", "-Dexamples=false"], cwd=ROOT)
    sh(["ninja", "-C", BUILD], cwd=ROOT)
    sh([cargo, "build", "--release", "--offline", "-q"], cwd=PEERS)


def binary(runtime, name):
    if runtime == "urt":
        return os.path.join(BUILD, "bench", name)
    return os.path.join(PEERS, "target", "release", name)


def run_one(runtime, name, args, want, log):
    cmd = [binary(runtime, name)] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit("FAILED (%d): %s\n%s%s" % (
            p.returncode, " ".join(cmd), p.stdout, p.stderr))
    got = None
    for line in p.stdout.splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        rec["cmd"] = " ".join([os.path.relpath(cmd[0], ROOT)] + args)
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if rec.get("workload") == want:
            got = rec
    if got is None:
        raise SystemExit("no %s line from: %s\n%s" % (want, " ".join(cmd),
                                                       p.stdout))
    return got


def med(xs):
    return statistics.median(xs) if xs else None


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def fmt(x, nd=1):
    return "-" if x is None else ("%.*f" % (nd, x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", default="2,1",
                    help="comma-separated worker counts (default 2,1)")
    ap.add_argument("--only", default="",
                    help="comma-separated workloads (default: all; "
                    "none: only the wake latencies)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes: checks the plumbing, not a measurement")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-wake", action="store_true",
                    help="skip the wake-latency measurement")
    ap.add_argument("--cargo", default=os.environ.get("CARGO", "cargo"))
    ap.add_argument("--report", metavar="JSONL",
                    help="print the tables from an earlier run's log")
    a = ap.parse_args()
    if a.report:
        report_from_log(a.report, a.quick)
        return

    table = QUICK if a.quick else FULL
    names = [n for n in table if not a.only or n in a.only.split(",")]
    if a.only == "none":
        names = []
    workers = [w.strip() for w in a.workers.split(",") if w.strip()]
    if not a.no_build:
        build(a.cargo)
    missing = [n for n in names if n not in TOKIO_ONLY
               and not os.path.exists(binary("urt", table[n][0]))]
    for n in missing:
        print("# skipped %s: no urt binary %s" % (
            n, os.path.relpath(binary("urt", table[n][0]), ROOT)))
    names = [n for n in names if n not in missing]
    os.makedirs(BUILD, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logpath = os.path.join(BUILD, "compare-%s.jsonl" % stamp)
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()
    load0 = loadavg()
    print("# urt %s vs tokio 1.24 (Debian), kernel %s, %d CPUs, load %s, "
          "%d runs, median" % (rev, platform.release(), os.cpu_count(),
                               load0, a.runs))
    res = {}  # (name, workers, runtime) -> [records]
    with open(logpath, "w") as log:
        for w in workers:
            for name in names:
                binname, argf = table[name]
                rts = [r for r in ("urt", "tokio")
                       if not (r == "urt" and name in TOKIO_ONLY)
                       and not (r == "tokio" and name in URT_ONLY)]
                for _ in range(a.runs):
                    # Interleaved, so a slow spell hits both runtimes.
                    for rt in rts:
                        rec = run_one(rt, binname, argf(w), name, log)
                        res.setdefault((name, w, rt), []).append(rec)
                print("  done %s w=%s" % (name, w), file=sys.stderr,
                      flush=True)
        if not a.no_wake:
            wargs = WAKE_QUICK if a.quick else WAKE_FULL
            for pin in PLACES:
                # urt's hop spins until the other worker has parked: with
                # both workers on one CPU that waits for preemption, so
                # "same" is for the two raw mechanisms only.
                variants = ["all"] if pin != "same" else ["msg_ring",
                                                          "eventfd"]
                for _ in range(a.runs):
                    for v in variants:
                        cmd = [binary("urt", "wake_latency")] + wargs + [
                            v, pin]
                        p = subprocess.run(cmd, capture_output=True,
                                           text=True, timeout=600)
                        if p.returncode:
                            raise SystemExit("wake_latency failed:\n" +
                                             p.stdout + p.stderr)
                        for line in p.stdout.splitlines():
                            rec = json.loads(line)
                            rec["cmd"] = " ".join(
                                [os.path.relpath(cmd[0], ROOT)] + cmd[1:])
                            log.write(json.dumps(rec) + "\n")
                            log.flush()
                            res.setdefault(("wake_latency", "2", "urt"),
                                           []).append(rec)
                print("  done wake_latency %s" % pin, file=sys.stderr,
                      flush=True)
    report(res, workers, names, table, a.runs, load0, logpath)


def report(res, workers, names, table, runs, load0, logpath):
    """Prints the tables from res: (workload, workers, runtime) -> [records]
    (wake_latency records under ("wake_latency", "2", "urt"))."""
    wake = res.get(("wake_latency", "2", "urt"), [])
    wargs = [str(wake[0]["ops"]), "?"] if wake else ["?", "?"]

    def col(name, w, rt, key="ns_per_op"):
        recs = res.get((name, w, rt), [])
        return med([r[key] for r in recs if key in r])

    print()
    print("| workload | workers | urt ns/op | tokio ns/op | tokio/urt |")
    print("|---|---|---|---|---|")
    for w in workers:
        for name in names:
            if name == "task_memory":
                continue
            u, t = col(name, w, "urt"), col(name, w, "tokio")
            ratio = (t / u) if (u and t) else None
            print("| %s | %s | %s | %s | %s |" % (
                name, w, fmt(u), fmt(t), fmt(ratio, 2)))
    if "skewed" in names:
        print()
        sk = table["skewed"][1]("W")
        print("skewed (%s tasks of ~%s us, spawned by one task): elapsed vs "
              "ideal = CPU work the tasks timed / workers" % (sk[0], sk[1]))
        print("| workers | runtime | elapsed ms | ideal ms | efficiency | "
              "tasks per worker (median run) |")
        print("|---|---|---|---|---|---|")
        for w in workers:
            for rt in ("urt", "tokio"):
                recs = res.get(("skewed", w, rt), [])
                if not recs:
                    continue
                recs = sorted(recs, key=lambda r: r["elapsed_ns"])
                mid = recs[len(recs) // 2]
                print("| %s | %s | %.1f | %.1f | %.3f | %s |" % (
                    w, rt, mid["elapsed_ns"] / 1e6, mid["ideal_ns"] / 1e6,
                    mid["efficiency"], mid["tasks_per_worker"]))
    if "task_memory" in names:
        print()
        print("per-task memory: RSS growth / pending tasks (spawned from the "
              "main thread, never finishing)")
        print("| workers | urt B/task | tokio B/task | tokio/urt |")
        print("|---|---|---|---|")
        for w in workers:
            u = col("task_memory", w, "urt", "bytes_per_pending_task")
            t = col("task_memory", w, "tokio", "bytes_per_pending_task")
            print("| %s | %s | %s | %s |" % (
                w, fmt(u), fmt(t), fmt(t / u if u and t else None, 2)))
    if wake:
        print()
        print("wake-up round trip, two threads each blocked in its own wait "
              "(urt bench/wake_latency; median over %d runs of p50 / p99 "
              "of %s round trips after warm-up), us" % (runs, wargs[0]))
        print("placement: pin = CPU 0 and CPU 1 (every wake crosses CPUs), "
              "same = both on CPU 0, nopin = the OS decides")
        print("| variant | pin p50 | pin p99 | same p50 | same p99 | "
              "nopin p50 | nopin p99 |")
        print("|---|---|---|---|---|---|---|")
        for v in ("msg_ring", "eventfd", "urt"):
            cells = []
            for pin in ("pin", "same", "nopin"):
                rs = [r for r in wake
                      if r["variant"] == v and r["placement"] == pin]
                cells.append(fmt(med([r["p50_ns"] for r in rs]) / 1e3
                                 if rs else None, 1))
                cells.append(fmt(med([r["p99_ns"] for r in rs]) / 1e3
                                 if rs else None, 1))
            print("| %s | %s |" % (v, " | ".join(cells)))
    print()
    print("# load before %s, after %s; raw lines: %s" % (
        load0, loadavg(), os.path.relpath(logpath, ROOT)))


def report_from_log(path, quick):
    """--report: the tables again, from a compare-*.jsonl."""
    table = QUICK if quick else FULL
    res, workers, names = {}, [], []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            w = str(rec["threads"])
            name = rec["workload"]
            if name == "spawn_many" and rec.get("cmd", "").endswith("mem"):
                continue
            res.setdefault((name, w, rec["runtime"]), []).append(rec)
            if name != "wake_latency":
                if w not in workers:
                    workers.append(w)
                if name not in names:
                    names.append(name)
    names = [n for n in table if n in names]
    runs = max(len(v) for v in res.values()) if res else 0
    report(res, workers, names, table, runs, "(from log)", path)


if __name__ == "__main__":
    main()
