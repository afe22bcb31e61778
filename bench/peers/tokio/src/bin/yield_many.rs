//! yield_many: T tasks each yield Y times (same as bench/yield_many.c).
//! Usage: yield_many [tasks=1000] [yields=1000] [workers=0]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use urt_tokio_peers::*;

fn main() {
    let tasks = arg(1, 1000);
    let yields = arg(2, 1000);
    let w = workers(arg(3, 0));
    let rt = runtime(w);
    let done = Arc::new(AtomicU64::new(0));
    let d2 = done.clone();
    let t0 = now_ns();
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut hs = Vec::with_capacity(tasks as usize);
            for _ in 0..tasks {
                let d = d2.clone();
                hs.push(tokio::spawn(async move {
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                        d.fetch_add(1, Ordering::Relaxed);
                    }
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
    assert_eq!(done.load(Ordering::Relaxed), tasks * yields, "yield_many: yields missing");
    json("yield_many", w, tasks * yields, t1 - t0, rss_kib(), "");
}
