//! chan_mpsc: S sender tasks send N u64 in total over one bounded
//! tokio::sync::mpsc channel to one receiver task. Same as
//! bench/chan_mpsc.c (senders spawned from the main thread, the receiver
//! is the root future, run on a worker).
//! Usage: chan_mpsc [N=1000000] [senders=4] [capacity=1024] [workers=2]
use tokio::sync::mpsc;
use urt_tokio_peers::*;

fn main() {
    let n = arg(1, 1_000_000);
    let s = arg(2, 4);
    let cap = arg(3, 1024) as usize;
    let w = workers(arg(4, 2));
    let rt = runtime(w);
    let per = n / s;
    let want: u64 = s * (per * (per - 1) / 2);
    let (tx, mut rx) = mpsc::channel::<u64>(cap);
    let t0 = now_ns();
    for _ in 0..s {
        let tx = tx.clone();
        rt.spawn(async move {
            for i in 0..per {
                tx.send(i).await.expect("send");
            }
        });
    }
    drop(tx);
    let (cnt, sum) = rt.block_on(async move {
        tokio::spawn(async move {
            let (mut cnt, mut sum) = (0u64, 0u64);
            while let Some(v) = rx.recv().await {
                cnt += 1;
                sum += v;
            }
            (cnt, sum)
        })
        .await
        .expect("receiver")
    });
    let t1 = now_ns();
    assert!(cnt == per * s && sum == want, "chan_mpsc: lost items");
    let extra = format!("\"senders\":{},\"capacity\":{}", s, cap);
    json("chan_mpsc", w, per * s, t1 - t0, rss_kib(), &extra);
}
