//! spawn_many: one task spawns N trivial tasks and joins them all (same as
//! bench/spawn_many.c). Mode "mem": instead, spawn N tasks that never finish
//! from the main thread and report the RSS growth per pending task.
//! Usage: spawn_many [N=1000000] [workers=0] [mode=time|mem|both]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use urt_tokio_peers::*;

fn timed(n: u64, w: usize) {
    let rt = runtime(w);
    let done = Arc::new(AtomicU64::new(0));
    let d2 = done.clone();
    let t0 = now_ns();
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut hs = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let d = d2.clone();
                hs.push(tokio::spawn(async move {
                    d.fetch_add(1, Ordering::Relaxed);
                }));
            }
            for h in hs {
                h.await.expect("join");
            }
        })
        .await
        .expect("root");
    });
    let t1 = now_ns();
    assert_eq!(done.load(Ordering::Relaxed), n, "spawn_many: not every task ran");
    json("spawn_many", w, n, t1 - t0, rss_kib(), "");
    drop(rt);
}

fn memory(n: u64, w: usize) {
    let rt = runtime(w);
    let done = Arc::new(AtomicU64::new(0));
    let rss0 = rss_kib();
    for _ in 0..n {
        // Same state as urt's leaf: a pointer to a shared counter.
        let d = done.clone();
        rt.spawn(async move {
            std::future::pending::<()>().await;
            d.fetch_add(1, Ordering::Relaxed);
        });
    }
    let rss1 = rss_kib();
    let extra = format!(
        "\"bytes_per_pending_task\":{:.1},\"frame_bytes\":{}",
        (rss1 - rss0) as f64 * 1024.0 / n as f64,
        std::mem::size_of::<Arc<AtomicU64>>()
    );
    json("task_memory", w, n, 0, rss1, &extra);
    drop(rt);
    assert_eq!(done.load(Ordering::Relaxed), 0);
}

fn main() {
    let n = arg(1, 1_000_000);
    let w = workers(arg(2, 0));
    let mode = arg_str(3, "both");
    if mode == "time" || mode == "both" {
        timed(n, w);
    }
    if mode == "mem" || mode == "both" {
        memory(n, w);
    }
}
