//! chained_spawn: each task spawns the next, depth N; the last one signals
//! the main thread (a std channel), as tokio's own bench does. Same as
//! bench/chained_spawn.c.
//! Usage: chained_spawn [N=1000000] [workers=0]
use std::sync::mpsc;
use urt_tokio_peers::*;

fn link(done: mpsc::SyncSender<u64>, left: u64, depth: u64) {
    if left == 0 {
        done.send(depth).expect("signal");
    } else {
        tokio::spawn(async move { link(done, left - 1, depth + 1) });
    }
}

fn main() {
    let n = arg(1, 1_000_000);
    let w = workers(arg(2, 0));
    let rt = runtime(w);
    let (tx, rx) = mpsc::sync_channel(1);
    let t0 = now_ns();
    rt.block_on(async move {
        tokio::spawn(async move { link(tx, n - 1, 1) });
    });
    let depth = rx.recv().expect("chain");
    let t1 = now_ns();
    assert_eq!(depth, n, "chained_spawn: chain cut short");
    json("chained_spawn", w, n, t1 - t0, rss_kib(), "");
}
