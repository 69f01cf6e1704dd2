//! Failure test T1: three instances behind HAProxy (`scripts/cluster`: one
//! PostgreSQL database, Redis, NATS), 300 shoppers on WebSockets, each
//! sending a message a second for 60 s, and one instance killed with
//! SIGKILL at 20 s.
//!
//! Each shopper behaves as the widget does: one message in flight at a
//! time, sent as a `message` frame with a `client_message_id`; when its
//! connection drops it reconnects through HAProxy, authorises with the last
//! message id it saw (so the server replays what it missed) and sends the
//! unacknowledged message again with the same id. Afterwards, for every
//! shopper:
//! * every acknowledged message is in the conversation exactly once, under
//!   the id its `ack` named, and no other message of the shopper's is;
//! * the message ids it received are exactly the conversation's, in order:
//!   no gap, no repeat;
//! * shoppers whose connection the kill ended were answered again within
//!   5 s (p99) of the kill.
//!
//! `WISMO_T1_SHOPPERS` and `WISMO_T1_SECONDS` scale it (the kill comes at a
//! third of the run).

mod common;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use common::{Cluster, Ws};

/// `WISMO_T1_<name>` or `default`.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(format!("WISMO_T1_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How long a shopper waits, after the run, for its last message's answer
/// and the frames that follow it.
const TAIL: Duration = Duration::from_secs(30);
/// A shopper is done once nothing has arrived for this long after the run.
const QUIET: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Shopper {
    n: usize,
    id: String,
    token: String,
    /// (client message id, text, message id from the ack, when).
    acked: Vec<(String, String, i64, Duration)>,
    /// Message ids in the order the WebSockets delivered them.
    received: Vec<i64>,
    /// When a connection ended (since the start).
    drops: Vec<Duration>,
    /// Error frames, by code.
    errors: Vec<String>,
    connections: usize,
}

/// A message waiting for its `ack`.
struct Pending {
    cmid: String,
    text: String,
}

/// How one connection ended.
enum Ended {
    /// The run is over and every frame has arrived.
    Done,
    /// The connection dropped (or never opened).
    Dropped,
}

struct Run {
    ws: String,
    start: Instant,
    length: Duration,
    shoppers: usize,
}

impl Run {
    fn finish(&self) -> Instant {
        self.start + self.length
    }
}

async fn send(ws: &mut Ws, frame: &Value) -> bool {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .is_ok()
}

fn message_frame(p: &Pending) -> Value {
    json!({"type": "message", "text": p.text, "client_message_id": p.cmid})
}

async fn shop(
    run: std::sync::Arc<Run>,
    client: reqwest::Client,
    front: String,
    n: usize,
) -> Shopper {
    let (id, token) = common::create(&client, &front).await;
    let mut s = Shopper {
        n,
        id,
        token,
        ..Shopper::default()
    };
    // Spread the shoppers over the second.
    let offset = (n as u64 * 1000) / run.shoppers as u64;
    let mut due = run.start + Duration::from_millis(offset);
    let mut next = 0usize;
    let mut pending: Option<Pending> = None;
    let give_up = run.finish() + TAIL;
    while Instant::now() < give_up {
        match connection(&run, &mut s, &mut pending, &mut due, &mut next).await {
            Ended::Done => return s,
            Ended::Dropped => {
                s.drops.push(run.start.elapsed());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    panic!(
        "shopper {n} ({}): not done {TAIL:?} after the run (pending: {})",
        s.id,
        pending.is_some()
    );
}

/// One WebSocket connection of shopper `s`, from the handshake until it
/// drops or the shopper is done.
async fn connection(
    run: &Run,
    s: &mut Shopper,
    pending: &mut Option<Pending>,
    due: &mut Instant,
    next: &mut usize,
) -> Ended {
    let Ok(Ok(mut ws)) =
        tokio::time::timeout(Duration::from_secs(3), common::open_ws(&run.ws, &s.id)).await
    else {
        return Ended::Dropped;
    };
    let after = s.received.last().copied().unwrap_or(0);
    let auth = json!({"type": "auth", "token": s.token, "after": after.to_string()});
    if !send(&mut ws, &auth).await {
        return Ended::Dropped;
    }
    s.connections += 1;
    // The message the last connection left unacknowledged, with its id.
    if let Some(p) = pending.as_ref() {
        if !send(&mut ws, &message_frame(p)).await {
            return Ended::Dropped;
        }
    }
    let mut last_frame = Instant::now();
    loop {
        let now = Instant::now();
        let sending = pending.is_none() && now < run.finish() && *due < run.finish();
        if pending.is_none() && now >= run.finish() && now.duration_since(last_frame) >= QUIET {
            let _ = ws.close(None).await;
            return Ended::Done;
        }
        let wake = if sending {
            *due
        } else {
            now + Duration::from_millis(200)
        };
        let frame = tokio::select! {
            f = ws.next() => f,
            _ = tokio::time::sleep_until(wake.into()) => {
                if sending && Instant::now() >= *due {
                    let p = Pending {
                        cmid: format!("t1-{}-{next}", s.n),
                        text: format!("where is my parcel? (shopper {}, message {next})", s.n),
                    };
                    *next += 1;
                    *due += Duration::from_secs(1);
                    let sent = send(&mut ws, &message_frame(&p)).await;
                    *pending = Some(p);
                    if !sent {
                        return Ended::Dropped;
                    }
                }
                continue;
            }
        };
        last_frame = Instant::now();
        let v: Value = match frame {
            Some(Ok(Message::Text(t))) => serde_json::from_str(t.as_str()).expect("JSON frame"),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Ended::Dropped,
            Some(Ok(_)) => continue,
        };
        match v["type"].as_str() {
            Some("message") => s.received.push(common::id_of(&v["message"])),
            Some("ack") => {
                let Some(p) = pending.take_if(|p| v["client_message_id"] == p.cmid.as_str()) else {
                    panic!("shopper {}: an ack for no pending message: {v}", s.n);
                };
                let id = v["id"]
                    .as_str()
                    .and_then(|i| i.parse().ok())
                    .unwrap_or_else(|| panic!("an id in {v}"));
                s.acked.push((p.cmid, p.text, id, run.start.elapsed()));
            }
            Some("error") => {
                s.errors.push(v["code"].as_str().unwrap_or("?").to_string());
                // A turn refused (busy, unavailable): send it again shortly,
                // with the same id, as the widget does.
                if let Some(p) = pending.as_ref() {
                    if v["client_message_id"] == p.cmid.as_str() {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        if !send(&mut ws, &message_frame(p)).await {
                            return Ended::Dropped;
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Checks one shopper against its conversation as the cluster stores it;
/// returns the messages acknowledged.
async fn check(client: &reqwest::Client, front: &str, s: &Shopper) -> usize {
    let messages = common::transcript(client, front, &s.id, &s.token).await;
    let ids = common::transcript_ids(&messages);
    // Every acknowledged message once, under its acknowledged id; no other.
    let users: Vec<(i64, &str)> = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| (common::id_of(m), m["text"].as_str().unwrap_or("")))
        .collect();
    let acked: Vec<(i64, &str)> = s
        .acked
        .iter()
        .map(|(_, text, id, _)| (*id, text.as_str()))
        .collect();
    assert_eq!(
        users, acked,
        "shopper {} ({}): stored messages against acknowledged ones",
        s.n, s.id
    );
    // What the sockets delivered is the conversation, in order, each once.
    assert_eq!(
        s.received, ids,
        "shopper {} ({}): ids received against the conversation's",
        s.n, s.id
    );
    s.acked.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_an_instance_under_300_websocket_shoppers_loses_nothing() {
    let shoppers = setting("SHOPPERS", 300) as usize;
    let length = Duration::from_secs(setting("SECONDS", 60));
    let kill_at = length / 3;
    let cluster = Cluster::up(
        "t1",
        3,
        &[
            ("WISMO_RATE_LIMIT_IP", "0"),
            ("WISMO_RATE_LIMIT_CONVERSATION", "0"),
            ("WISMO_ABUSE_BLOCK", "0"),
        ],
    );
    let front = cluster.front();
    let client = common::client();

    let run = std::sync::Arc::new(Run {
        ws: front.replace("http://", "ws://"),
        // Time to open every conversation before the first message.
        start: Instant::now() + Duration::from_secs(3),
        length,
        shoppers,
    });
    let tasks: Vec<_> = (0..shoppers)
        .map(|n| tokio::spawn(shop(run.clone(), client.clone(), front.clone(), n)))
        .collect();
    tokio::time::sleep_until((run.start + kill_at).into()).await;
    cluster.signal("w2", "-9");
    let killed_at = run.start.elapsed();

    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.expect("shopper"));
    }
    let mut acked_total = 0;
    for s in &done {
        acked_total += check(&client, &front, s).await;
    }
    // Shoppers whose connection the kill ended: from the kill to the next
    // acknowledged message.
    let mut recovery: Vec<Duration> = done
        .iter()
        .filter(|s| {
            s.drops
                .iter()
                .any(|d| *d >= killed_at && *d < killed_at + Duration::from_secs(3))
        })
        .map(|s| {
            let first = s
                .acked
                .iter()
                .map(|a| a.3)
                .find(|t| *t > killed_at)
                .unwrap_or_else(|| panic!("shopper {}: nothing acknowledged after the kill", s.n));
            first - killed_at
        })
        .collect();
    recovery.sort();
    let displaced = recovery.len();
    assert!(
        displaced >= shoppers / 10,
        "only {displaced} of {shoppers} shoppers lost their connection at the kill"
    );
    let p99 = recovery[(displaced * 99).div_ceil(100) - 1];
    let errors: usize = done.iter().map(|s| s.errors.len()).sum();
    let connections: usize = done.iter().map(|s| s.connections).sum();
    eprintln!(
        "T1: {shoppers} WebSocket shoppers, {length:?}, w2 killed at {killed_at:?}: \
         {acked_total} messages acknowledged, each stored once; {displaced} shoppers displaced, \
         answered again after median {:?}, p99 {p99:?}, max {:?}; {connections} connections, \
         {errors} error frames",
        recovery[displaced / 2],
        recovery[displaced - 1],
    );
    assert!(
        p99 <= Duration::from_secs(5),
        "displaced shoppers answered again after p99 {p99:?}"
    );
    // At a message a second, allowing for the answers' latency.
    let expected = shoppers as u64 * length.as_secs();
    assert!(
        acked_total as u64 >= expected * 8 / 10,
        "{acked_total} messages acknowledged of about {expected}"
    );
    drop(cluster);
}
