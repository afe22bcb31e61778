//! Shared helpers for the Tokio peers of urt's bench/ workloads: arguments,
//! the runtime, RSS, and one JSON line per run in urt's schema
//! (workload, runtime, threads, ops, ns_per_op, rss_kib, extras).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Positional argument `n` (1-based, like argv) as u64, or `def`.
pub fn arg(n: usize, def: u64) -> u64 {
    std::env::args()
        .nth(n)
        .map(|s| {
            let s = s.trim();
            if let Some(h) = s.strip_prefix("0x") {
                u64::from_str_radix(h, 16).expect("bad argument")
            } else {
                s.parse().expect("bad argument")
            }
        })
        .unwrap_or(def)
}

/// Positional argument `n` as a string, or `def`.
pub fn arg_str(n: usize, def: &str) -> String {
    std::env::args().nth(n).unwrap_or_else(|| def.to_string())
}

/// Workers: 0 means the number of online CPUs, as in urt.
pub fn workers(w: u64) -> usize {
    if w == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        w as usize
    }
}

static NEXT_WORKER: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static WORKER_ID: std::cell::Cell<usize> = std::cell::Cell::new(usize::MAX);
}

/// Index of the runtime thread we run on (0..workers), assigned at thread
/// start; usize::MAX off the runtime.
pub fn worker_id() -> usize {
    WORKER_ID.with(|c| c.get())
}

/// The multi-thread runtime every peer uses: `workers` worker threads, I/O
/// and time drivers enabled (as tokio's own benches and most programs do).
pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    NEXT_WORKER.store(0, Ordering::Relaxed);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_start(|| {
            let id = NEXT_WORKER.fetch_add(1, Ordering::Relaxed);
            WORKER_ID.with(|c| c.set(id));
        })
        .build()
        .expect("runtime")
}

/// Resident set size of this process in KiB (VmRSS), -1 if unknown.
pub fn rss_kib() -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in s.lines() {
        if let Some(v) = line.strip_prefix("VmRSS:") {
            return v.trim().trim_end_matches("kB").trim().parse().unwrap_or(-1);
        }
    }
    -1
}

/// CLOCK_MONOTONIC now in ns (what urt_now_ns() reads).
pub fn now_ns() -> u64 {
    let mut ts = libc_timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { clock_gettime(1, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[repr(C)]
struct libc_timespec {
    tv_sec: i64,
    tv_nsec: i64,
}
extern "C" {
    fn clock_gettime(clk: i32, ts: *mut libc_timespec) -> i32;
}

/// One JSON line, urt's schema. `extra` is pre-formatted `"k":v,...` or "".
pub fn json(workload: &str, threads: usize, ops: u64, elapsed_ns: u64, rss: i64, extra: &str) {
    let nspo = if ops > 0 { elapsed_ns as f64 / ops as f64 } else { 0.0 };
    println!(
        "{{\"workload\":\"{}\",\"runtime\":\"tokio\",\"threads\":{},\"ops\":{},\"ns_per_op\":{:.1},\"rss_kib\":{}{}{}}}",
        workload,
        threads,
        ops,
        nspo,
        rss,
        if extra.is_empty() { "" } else { "," },
        extra
    );
}

/// The CPU kernel of `skewed`, identical to bench/skewed.c: `iters` rounds
/// of xorshift64 (a dependent chain the compiler cannot shorten).
#[inline(never)]
pub fn spin(seed: u64, iters: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    // A volatile sink, as in C (std::hint::black_box needs rustc 1.66;
    // Debian 12 ships 1.63).
    let mut sink = 0u64;
    unsafe {
        std::ptr::write_volatile(&mut sink, x);
        std::ptr::read_volatile(&sink)
    }
}

/// Iterations of `spin` that take about `us` microseconds here (median of
/// 5 timings of a 2 ms calibration run).
pub fn calibrate(us: u64) -> u64 {
    let probe = 2_000_000u64;
    let mut v = Vec::new();
    for i in 0..5 {
        let t0 = now_ns();
        spin(i + 1, probe);
        v.push(now_ns() - t0);
    }
    v.sort();
    let ns_per_iter = v[2] as f64 / probe as f64;
    ((us as f64 * 1000.0) / ns_per_iter).max(1.0) as u64
}
