//! Failure test T5, bounded: a rolling SIGTERM of all three instances
//! under load.
//!
//! Three instances behind HAProxy (`scripts/cluster`; each drains for 2 s on
//! SIGTERM: `/readyz` answers 503 while everything is still served, so
//! HAProxy's health checks take it out first). Shoppers post messages
//! through HAProxy while a WebSocket per conversation (also through HAProxy)
//! watches it. One by one, each instance gets SIGTERM, exits, and is started
//! again on its port (`scripts/cluster restart`). Afterwards: no shopper saw
//! a 5xx or a failed connection, every acknowledged message is stored
//! exactly once, and every WebSocket was closed with 1001, reconnected, and
//! received every message of its conversation once, in order, with no gap.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{transcript, transcript_ids, wait_seen, Cluster, Seen};

const SHOPPERS: usize = 8;
const PAUSE: Duration = Duration::from_millis(150);

/// Failures the shoppers saw at HAProxy.
#[derive(Default)]
struct Failures {
    server_errors: AtomicUsize,
    transport_errors: AtomicUsize,
}

/// Posts messages (each with its own `client_message_id`) every
/// [`PAUSE`] until `stop`; a 5xx or a failed connection is counted and the
/// same message sent again. Returns the texts acknowledged.
async fn shop(
    client: reqwest::Client,
    front: String,
    n: usize,
    conv: (String, String),
    failures: Arc<Failures>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let url = format!("{front}/v1/conversations/{}/messages", conv.0);
    let mut acked = Vec::new();
    let mut k = 0;
    while !*stop.borrow() {
        let text = format!("do you ship to canada? (shopper {n}, message {k})");
        let body = json!({"text": text, "client_message_id": format!("t5-{n}-{k}")});
        loop {
            match client
                .post(&url)
                .bearer_auth(&conv.1)
                .json(&body)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    let r: Value = r.json().await.expect("json");
                    assert_eq!(r["user_message"]["text"], text.as_str(), "{r}");
                    break;
                }
                Ok(r) if r.status().is_server_error() => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    eprintln!("T5: shopper {n}: {status} {body}");
                    failures.server_errors.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => panic!("shopper {n}: {}", r.status()),
                Err(e) => {
                    eprintln!("T5: shopper {n}: {e}");
                    failures.transport_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        acked.push(text);
        k += 1;
        tokio::time::sleep(PAUSE).await;
    }
    acked
}

/// SIGTERM to `name`, then waits for it to exit; returns how long that took.
async fn stop_gracefully(cluster: &Cluster, name: &str) -> Duration {
    let started = Instant::now();
    cluster.signal(name, "-TERM");
    while cluster.alive(name) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name} did not exit within 20 s of SIGTERM:\n{}",
            cluster.log(name)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_under_load_fails_no_request_and_loses_no_live_update() {
    let cluster = Cluster::up(
        "t5",
        3,
        &[
            ("WISMO_RATE_LIMIT_IP", "0"),
            ("WISMO_RATE_LIMIT_CONVERSATION", "0"),
            ("WISMO_ABUSE_BLOCK", "0"),
        ],
    );
    let front = cluster.front();
    let ws_front = front.replace("http://", "ws://");
    let client = common::client();
    let failures = Arc::new(Failures::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let mut convs = Vec::new();
    for _ in 0..SHOPPERS {
        convs.push(common::create(&client, &front).await);
    }
    let seen: Vec<Arc<Mutex<Seen>>> = convs.iter().map(|_| Arc::default()).collect();
    let (watch_stop, watch_rx) = tokio::sync::watch::channel(false);
    let watchers: Vec<_> = convs
        .iter()
        .zip(&seen)
        .map(|((id, token), seen)| {
            tokio::spawn(common::watch(
                ws_front.clone(),
                id.clone(),
                token.clone(),
                seen.clone(),
                watch_rx.clone(),
            ))
        })
        .collect();
    let shoppers: Vec<_> = convs
        .iter()
        .enumerate()
        .map(|(n, c)| {
            tokio::spawn(shop(
                client.clone(),
                front.clone(),
                n,
                c.clone(),
                failures.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();

    let started = Instant::now();
    let mut stops = Vec::new();
    for name in ["w1", "w2", "w3"] {
        tokio::time::sleep(Duration::from_secs(2)).await;
        stops.push(stop_gracefully(&cluster, name).await);
        let restarting = Instant::now();
        cluster.restart(name, &[]);
        eprintln!(
            "T5: {name} stopped in {:?}, ready again {:?} later",
            stops[stops.len() - 1],
            restarting.elapsed()
        );
    }
    // HAProxy takes the last one back (rise 2 × 500 ms), then a little more load.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    let mut acked_total = 0;
    let mut acked = Vec::new();
    for s in shoppers {
        let a = s.await.expect("shopper");
        acked_total += a.len();
        acked.push(a);
    }
    let ran = started.elapsed();

    let server_errors = failures.server_errors.load(Ordering::Relaxed);
    let transport_errors = failures.transport_errors.load(Ordering::Relaxed);
    for (n, ((id, token), seen)) in convs.iter().zip(&seen).enumerate() {
        let messages = transcript(&client, &front, id, token).await;
        // Every acknowledged message once, in order, and nothing else.
        let users: Vec<&str> = messages
            .iter()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["text"].as_str())
            .collect();
        assert_eq!(users, acked[n], "{id}");
        // The socket got everything, once, in order.
        let want = transcript_ids(&messages);
        wait_seen(seen, &want, Duration::from_secs(5)).await;
        let s = seen.lock().expect("seen");
        let got: Vec<i64> = s.ids.iter().map(|(id, _)| *id).collect();
        assert_eq!(got, want, "{id}: what the socket received");
        assert!(
            s.connections >= 2,
            "{id}: the socket was never moved ({} connection)",
            s.connections
        );
        assert!(
            s.closes.iter().all(|c| *c == Some(1001)),
            "{id}: closes {:?}",
            s.closes
        );
    }
    let _ = watch_stop.send(true);
    let mut connections = 0;
    for w in watchers {
        w.await.expect("watcher");
    }
    for s in &seen {
        connections += s.lock().expect("seen").connections;
    }
    assert_eq!(server_errors, 0, "5xx answers at HAProxy");
    assert_eq!(transport_errors, 0, "failed connections at HAProxy");
    assert!(
        acked_total > SHOPPERS * 20,
        "{acked_total} messages acknowledged"
    );
    eprintln!(
        "T5: {acked_total} messages acknowledged by {SHOPPERS} shoppers in {ran:?}; {connections} WebSocket connections for {SHOPPERS} sockets; SIGTERM to exit {stops:?}"
    );
    drop(cluster);
}
