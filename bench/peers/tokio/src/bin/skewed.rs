//! skewed: one task spawns N CPU-bound tasks of about `us` microseconds
//! each, all onto its own worker; the others must steal. Reports elapsed
//! time against the ideal (measured CPU work / workers) and how many tasks
//! each worker ran. Same as bench/skewed.c (same xorshift kernel,
//! calibrated at start).
//! Usage: skewed [N=100000] [us=10] [workers=0]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use urt_tokio_peers::*;

struct Shared {
    left: AtomicU64,
    cpu_ns: AtomicU64,
    per_worker: Vec<AtomicU64>,
    iters: u64,
    done: std::sync::Mutex<Option<mpsc::SyncSender<()>>>,
    spawner_worker: AtomicU64,
}

fn main() {
    let n = arg(1, 100_000);
    let us = arg(2, 10);
    let w = workers(arg(3, 0));
    let iters = calibrate(us);
    let rt = runtime(w);
    let (tx, rx) = mpsc::sync_channel(1);
    let sh = Arc::new(Shared {
        left: AtomicU64::new(n),
        cpu_ns: AtomicU64::new(0),
        per_worker: (0..w).map(|_| AtomicU64::new(0)).collect(),
        iters,
        done: std::sync::Mutex::new(Some(tx)),
        spawner_worker: AtomicU64::new(u64::MAX),
    });
    let s2 = sh.clone();
    let t0 = now_ns();
    rt.block_on(async move {
        tokio::spawn(async move {
            s2.spawner_worker.store(worker_id() as u64, Ordering::Relaxed);
            for i in 0..n {
                let s = s2.clone();
                tokio::spawn(async move {
                    let a = now_ns();
                    spin(i, s.iters);
                    let b = now_ns();
                    s.cpu_ns.fetch_add(b - a, Ordering::Relaxed);
                    s.per_worker[worker_id()].fetch_add(1, Ordering::Relaxed);
                    if s.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let tx = s.done.lock().unwrap().take().unwrap();
                        tx.send(()).unwrap();
                    }
                });
            }
        })
        .await
        .expect("spawner");
    });
    rx.recv().expect("done");
    let t1 = now_ns();
    let ran: Vec<u64> = sh.per_worker.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(ran.iter().sum::<u64>(), n, "skewed: tasks missing");
    let cpu = sh.cpu_ns.load(Ordering::Relaxed);
    let ideal = cpu / w as u64;
    let extra = format!(
        "\"task_us\":{},\"elapsed_ns\":{},\"cpu_ns\":{},\"ideal_ns\":{},\"efficiency\":{:.3},\"spawner_worker\":{},\"tasks_per_worker\":{:?}",
        us,
        t1 - t0,
        cpu,
        ideal,
        ideal as f64 / (t1 - t0) as f64,
        sh.spawner_worker.load(Ordering::Relaxed),
        ran
    );
    json("skewed", w, n, t1 - t0, rss_kib(), &extra);
}
