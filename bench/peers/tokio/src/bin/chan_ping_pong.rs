//! chan_ping_pong: two tasks bounce a u64 over two bounded channels of
//! capacity 1 (tokio::sync::mpsc), N round trips. Same as
//! bench/chan_ping_pong.c: both tasks spawned from the main thread, which
//! then waits for them.
//! Usage: chan_ping_pong [N=200000] [workers=2]
use tokio::sync::mpsc;
use urt_tokio_peers::*;

async fn player(mut rx: mpsc::Receiver<u64>, tx: mpsc::Sender<u64>, n: u64, serve: bool) -> u64 {
    let mut v = 0u64;
    if serve {
        tx.send(v).await.expect("send");
    }
    for i in 0..n {
        v = rx.recv().await.expect("recv");
        v += 1;
        if serve && i + 1 == n {
            break;
        }
        tx.send(v).await.expect("send");
    }
    v
}

fn main() {
    let n = arg(1, 200_000);
    let w = workers(arg(2, 2));
    let rt = runtime(w);
    let (ab_tx, ab_rx) = mpsc::channel::<u64>(1);
    let (ba_tx, ba_rx) = mpsc::channel::<u64>(1);
    let t0 = now_ns();
    let hb = rt.spawn(player(ab_rx, ba_tx, n, false));
    let ha = rt.spawn(player(ba_rx, ab_tx, n, true));
    let (a, _b) = rt.block_on(async { (ha.await.expect("a"), hb.await.expect("b")) });
    let t1 = now_ns();
    assert_eq!(a, 2 * n, "chan_ping_pong: token lost");
    json("chan_ping_pong", w, n, t1 - t0, rss_kib(), "");
}
