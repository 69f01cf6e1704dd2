//! Failure test T8, bounded: Redis, then NATS, restart under load.
//!
//! The test runs its own `redis-server` and `nats-server` on free ports (the
//! machine's are never touched) and a two-instance cluster on them
//! (`scripts/cluster` with `WISMO_TEST_REDIS_URL` / `WISMO_TEST_NATS_URL`).
//! Shoppers post through `w1` while a WebSocket per conversation watches it
//! on `w2`, so every live update crosses NATS. Redis is killed (SIGKILL) and
//! started again on its port, then NATS likewise. After each restart:
//! `/readyz` of both instances says the service is `ok` again, limits are
//! decided in Redis again (it answers the limiter's script), and every message reaches
//! the watching sockets within 5 s of the restart (or of being answered,
//! when later); in the end each socket received every message of its
//! conversation once, in order, with no gap.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use common::{ids_of, readyz, transcript, transcript_ids, wait_seen, Cluster, Seen};

const SHOPPERS: usize = 6;
const PAUSE: Duration = Duration::from_millis(150);
/// Live updates resume within this of a restart.
const RESUME: Duration = Duration::from_secs(5);
/// Without an outage a live update takes milliseconds; this is the bound.
const LIVE: Duration = Duration::from_secs(2);

/// A server process of this test, killed however the test ends.
struct Own {
    child: Option<Child>,
    port: u16,
    start: fn(u16, &PathBuf) -> Child,
    dir: PathBuf,
}

impl Own {
    fn start(port: u16, dir: PathBuf, start: fn(u16, &PathBuf) -> Child) -> Own {
        std::fs::create_dir_all(&dir).expect("a folder for the server");
        let child = start(port, &dir);
        let own = Own {
            child: Some(child),
            port,
            start,
            dir,
        };
        own.wait_listening();
        own
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nothing listens on port {} after 10 s", self.port);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL, then the same server on the same port again.
    fn restart(&mut self, down_for: Duration) {
        self.kill();
        std::thread::sleep(down_for);
        self.child = Some((self.start)(self.port, &self.dir));
        self.wait_listening();
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn redis_server(port: u16, dir: &PathBuf) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed for this test")
}

fn nats_server(port: u16, dir: &PathBuf) -> Child {
    Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server must be installed for this test")
}

/// Limiter decisions (the GCRA script's `EVALSHA`/`EVAL` calls) the Redis
/// on `port` has answered since it started.
fn limiter_calls(port: u16) -> u64 {
    let out = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "info",
            "commandstats",
        ])
        .output()
        .expect("redis-cli must be installed for this test");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Waits until `/readyz` of every instance reports `service` as `ok`;
/// returns how long that took.
async fn wait_ok(client: &reqwest::Client, cluster: &Cluster, service: &str) -> Duration {
    let started = Instant::now();
    for i in [1, 2] {
        loop {
            let (status, body) = readyz(client, &cluster.instance(i)).await;
            if status == 200 && body[service] == "ok" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "w{i}: {service} not ok 10 s after its restart: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    started.elapsed()
}

/// What a shopper had acknowledged: each message id, when answered.
type Acked = Vec<(i64, Instant)>;

async fn shop(
    client: reqwest::Client,
    base: String,
    n: usize,
    conv: (String, String),
    stop: tokio::sync::watch::Receiver<bool>,
) -> Acked {
    let url = format!("{base}/v1/conversations/{}/messages", conv.0);
    let mut acked = Vec::new();
    let mut k = 0;
    while !*stop.borrow() {
        let body = json!({
            "text": format!("do you ship to canada? (shopper {n}, message {k})"),
            "client_message_id": format!("t8-{n}-{k}"),
        });
        let r = common::post(&client, &url, Some(&conv.1), &body).await;
        let now = Instant::now();
        acked.extend(ids_of(&r).into_iter().map(|id| (id, now)));
        k += 1;
        tokio::time::sleep(PAUSE).await;
    }
    acked
}

/// The latest a message answered at `at` may reach a socket: [`LIVE`]
/// after, or [`RESUME`] after the end of an outage it fell into.
fn deadline(at: Instant, outages: &[(Instant, Instant)]) -> Instant {
    outages
        .iter()
        .filter(|(down, up)| at >= *down && at <= *up + RESUME)
        .map(|(_, up)| *up + RESUME)
        .fold(at + LIVE, Instant::max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_redis_then_nats_under_load_resumes_live_updates_and_fills_gaps() {
    let tmp = std::env::temp_dir().join(format!("wismo-t8-{}", std::process::id()));
    let mut redis = Own::start(common::free_port(), tmp.join("redis"), redis_server);
    let mut nats = Own::start(common::free_port(), tmp.join("nats"), nats_server);
    let redis_url = format!("redis://127.0.0.1:{}", redis.port);
    let nats_url = format!("nats://127.0.0.1:{}", nats.port);
    let cluster = Cluster::up(
        "t8",
        2,
        &[
            ("WISMO_TEST_REDIS_URL", &redis_url),
            ("WISMO_TEST_NATS_URL", &nats_url),
            // Limits on, but never reached: decisions go to Redis.
            ("WISMO_RATE_LIMIT_IP", "1000000/1m"),
            ("WISMO_RATE_LIMIT_CONVERSATION", "0"),
            ("WISMO_ABUSE_BLOCK", "0"),
        ],
    );
    let client = common::client();
    wait_ok(&client, &cluster, "nats").await;
    wait_ok(&client, &cluster, "redis").await;
    let (w1, w2) = (cluster.instance(1), cluster.instance(2));

    let mut convs = Vec::new();
    for _ in 0..SHOPPERS {
        convs.push(common::create(&client, &w1).await);
    }
    let seen: Vec<Arc<Mutex<Seen>>> = convs.iter().map(|_| Arc::default()).collect();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (watch_stop, watch_rx) = tokio::sync::watch::channel(false);
    let watchers: Vec<_> = convs
        .iter()
        .zip(&seen)
        .map(|((id, token), seen)| {
            tokio::spawn(common::watch(
                w2.replace("http://", "ws://"),
                id.clone(),
                token.clone(),
                seen.clone(),
                watch_rx.clone(),
            ))
        })
        .collect();
    // The sockets are up before the load starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shoppers: Vec<_> = convs
        .iter()
        .enumerate()
        .map(|(n, c)| {
            tokio::spawn(shop(
                client.clone(),
                w1.clone(),
                n,
                c.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();

    let mut outages = Vec::new();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let down = Instant::now();
    redis.restart(Duration::from_secs(1));
    let up = Instant::now();
    outages.push((down, up));
    let redis_ok = wait_ok(&client, &cluster, "redis").await;
    // Limits are decided in Redis again (its counters started at zero).
    let limits_by = up + RESUME;
    while limiter_calls(redis.port) == 0 {
        assert!(
            Instant::now() < limits_by,
            "no limit decided in the restarted Redis within {RESUME:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let redis_limits = up.elapsed();

    tokio::time::sleep(Duration::from_secs(3)).await;
    let down = Instant::now();
    nats.restart(Duration::from_secs(1));
    let up = Instant::now();
    outages.push((down, up));
    let nats_ok = wait_ok(&client, &cluster, "nats").await;

    tokio::time::sleep(Duration::from_secs(6)).await;
    let _ = stop_tx.send(true);
    let mut acked: Vec<Acked> = Vec::new();
    for s in shoppers {
        acked.push(s.await.expect("shopper"));
    }

    let mut worst_after_nats = Duration::ZERO;
    for (((id, token), seen), acked) in convs.iter().zip(&seen).zip(&acked) {
        let want = transcript_ids(&transcript(&client, &w1, id, token).await);
        wait_seen(seen, &want, RESUME).await;
        let s = seen.lock().expect("seen");
        let got: Vec<i64> = s.ids.iter().map(|(id, _)| *id).collect();
        assert_eq!(got, want, "{id}: what the socket on w2 received");
        assert_eq!(s.connections, 1, "{id}: the socket on w2 was reconnected");
        for (m, at) in acked {
            let received = s.received(*m).expect("received");
            assert!(
                received <= deadline(*at, &outages),
                "{id}: message {m} reached the socket {:?} after it was answered",
                received.saturating_duration_since(*at)
            );
            if *at >= outages[1].0 {
                worst_after_nats =
                    worst_after_nats.max(received.saturating_duration_since(outages[1].1.max(*at)));
            }
        }
    }
    let _ = watch_stop.send(true);
    for w in watchers {
        w.await.expect("watcher");
    }
    let total: usize = acked.iter().map(Vec::len).sum();
    eprintln!(
        "T8: {total} messages; Redis ok again on both instances {redis_ok:?} after its restart (limits decided in it again {redis_limits:?} after); NATS ok again {nats_ok:?} after its restart; slowest update after the NATS restart {worst_after_nats:?}"
    );
    drop(cluster);
    drop(nats);
    drop(redis);
}
