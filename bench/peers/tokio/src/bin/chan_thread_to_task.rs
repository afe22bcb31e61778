//! chan_thread_to_task: a plain std::thread sends N u32 (blocking_send on a
//! bounded tokio::sync::mpsc channel) to a task that receives them with the
//! async recv. Same as bench/chan_thread_to_task.c.
//! Usage: chan_thread_to_task [N=1000000] [capacity=1024] [workers=2]
use tokio::sync::mpsc;
use urt_tokio_peers::*;

fn main() {
    let n = arg(1, 1_000_000);
    let cap = arg(2, 1024) as usize;
    let w = workers(arg(3, 2));
    let rt = runtime(w);
    let (tx, mut rx) = mpsc::channel::<u32>(cap);
    let want: u64 = n * (n - 1) / 2;
    let t0 = now_ns();
    let th = std::thread::spawn(move || {
        for i in 0..n as u32 {
            tx.blocking_send(i).expect("send");
        }
    });
    let (cnt, sum) = rt.block_on(async move {
        tokio::spawn(async move {
            let (mut cnt, mut sum) = (0u64, 0u64);
            while let Some(v) = rx.recv().await {
                cnt += 1;
                sum += v as u64;
            }
            (cnt, sum)
        })
        .await
        .expect("receiver")
    });
    th.join().expect("sender");
    let t1 = now_ns();
    assert!(cnt == n && sum == want, "chan_thread_to_task: lost items");
    let extra = format!("\"capacity\":{}", cap);
    json("chan_thread_to_task", w, n, t1 - t0, rss_kib(), &extra);
}
