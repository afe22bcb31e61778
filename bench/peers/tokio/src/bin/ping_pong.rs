//! Ping-pong, three ways (ops = N round trips in each):
//!  - "ping_pong" (same as bench/ping_pong.c): the ping task N times spawns
//!    a fresh pong task and awaits its JoinHandle. The token goes out by
//!    scheduling a new task and comes back by the join waking the ping task.
//!  - "ping_pong_yield" (same as bench/ping_pong.c): two long-lived tasks
//!    hand a token through an atomic turn counter; a task whose turn it is
//!    not yields (yield_now) and looks again. No waker involved.
//!  - "ping_pong_notify" (tokio only; urt has no channel yet): two
//!    long-lived tasks, two tokio::sync::Notify, a real wake each way.
//! Usage: ping_pong [N=100000] [workers=0] [variant=all|join|yield|notify]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;
use urt_tokio_peers::*;

fn join(n: u64, w: usize) {
    let rt = runtime(w);
    let pongs = Arc::new(AtomicU64::new(0));
    let p2 = pongs.clone();
    let t0 = now_ns();
    rt.block_on(async move {
        tokio::spawn(async move {
            for _ in 0..n {
                let p = p2.clone();
                tokio::spawn(async move {
                    p.fetch_add(1, Ordering::Relaxed);
                })
                .await
                .expect("pong");
            }
        })
        .await
        .expect("ping");
    });
    let t1 = now_ns();
    assert_eq!(pongs.load(Ordering::Relaxed), n);
    json("ping_pong", w, n, t1 - t0, rss_kib(), "");
}

fn yielding(n: u64, w: usize) {
    let rt = runtime(w);
    let turn = Arc::new(AtomicU64::new(0));
    let yields = Arc::new(AtomicU64::new(0));
    let t0 = now_ns();
    let (a, b) = rt.block_on(async {
        let mut hs = Vec::new();
        for me in 0..2u64 {
            let turn = turn.clone();
            let yields = yields.clone();
            hs.push(tokio::spawn(async move {
                let mut mine = 0u64;
                while mine < n {
                    let t = turn.load(Ordering::Acquire);
                    if t % 2 == me {
                        turn.store(t + 1, Ordering::Release);
                        mine += 1;
                    } else {
                        yields.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                    }
                }
                mine
            }));
        }
        let b = hs.pop().unwrap().await.expect("pong");
        let a = hs.pop().unwrap().await.expect("ping");
        (a, b)
    });
    let t1 = now_ns();
    assert!(a == n && b == n && turn.load(Ordering::Relaxed) == 2 * n);
    let extra = format!("\"yields\":{}", yields.load(Ordering::Relaxed));
    json("ping_pong_yield", w, n, t1 - t0, rss_kib(), &extra);
}

fn notify(n: u64, w: usize) {
    let rt = runtime(w);
    let to_pong = Arc::new(Notify::new());
    let to_ping = Arc::new(Notify::new());
    let pongs = Arc::new(AtomicU64::new(0));
    let t0 = now_ns();
    rt.block_on(async {
        let (tp, ti, p) = (to_pong.clone(), to_ping.clone(), pongs.clone());
        let pong = tokio::spawn(async move {
            for _ in 0..n {
                tp.notified().await;
                p.fetch_add(1, Ordering::Relaxed);
                ti.notify_one();
            }
        });
        let (tp, ti) = (to_pong.clone(), to_ping.clone());
        let ping = tokio::spawn(async move {
            for _ in 0..n {
                tp.notify_one();
                ti.notified().await;
            }
        });
        ping.await.expect("ping");
        pong.await.expect("pong");
    });
    let t1 = now_ns();
    assert_eq!(pongs.load(Ordering::Relaxed), n);
    json("ping_pong_notify", w, n, t1 - t0, rss_kib(), "");
}

fn main() {
    let n = arg(1, 100_000);
    let w = workers(arg(2, 0));
    let v = arg_str(3, "all");
    if v == "all" || v == "join" {
        join(n, w);
    }
    if v == "all" || v == "yield" {
        yielding(n, w);
    }
    if v == "all" || v == "notify" {
        notify(n, w);
    }
}
