//! Failure test T1, bounded: three instances behind HAProxy
//! (`scripts/cluster`: one PostgreSQL database, Redis, NATS), 30 shoppers
//! each sending a message every 100 ms for 10 s, and one instance killed
//! with SIGKILL after 3 s. Shoppers retry a failed message with the same
//! `client_message_id` (as the widget does). Afterwards every acknowledged
//! message is in its conversation exactly once, nothing else is, and every
//! shopper carried on within 5 s of the kill.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{post, Cluster};

const SHOPPERS: usize = 30;
const RUN: Duration = Duration::from_secs(10);
const KILL_AT: Duration = Duration::from_secs(3);

struct Shopper {
    id: String,
    token: String,
    /// Texts acknowledged, in order.
    acked: Vec<String>,
    /// When each was acknowledged (since the start).
    acked_at: Vec<Duration>,
}

async fn shop(client: reqwest::Client, front: String, n: usize, start: Instant) -> Shopper {
    let created = post(
        &client,
        &format!("{front}/v1/conversations"),
        None,
        &json!({}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    let token = created["token"].as_str().expect("token").to_string();
    let url = format!("{front}/v1/conversations/{id}/messages");
    let mut s = Shopper {
        id,
        token,
        acked: Vec::new(),
        acked_at: Vec::new(),
    };
    let mut k = 0;
    while start.elapsed() < RUN {
        let text = format!("do you ship to canada? (shopper {n}, message {k})");
        let body = json!({"text": text, "client_message_id": format!("m-{n}-{k}")});
        let r = post(&client, &url, Some(&s.token), &body).await;
        assert_eq!(r["user_message"]["text"], text.as_str(), "{r}");
        s.acked.push(text);
        s.acked_at.push(start.elapsed());
        k += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_an_instance_loses_and_duplicates_no_acknowledged_message() {
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

    let start = Instant::now();
    let shoppers: Vec<_> = (0..SHOPPERS)
        .map(|n| tokio::spawn(shop(client.clone(), front.clone(), n, start)))
        .collect();
    tokio::time::sleep(KILL_AT).await;
    cluster.signal("w2", "-9");
    let killed_at = start.elapsed();

    let mut acked_total = 0;
    let mut recovery = Vec::new();
    for s in shoppers {
        let s = s.await.expect("shopper");
        // Every shopper carried on within 5 s of the kill.
        let first_after = s
            .acked_at
            .iter()
            .find(|t| **t > killed_at)
            .expect("acknowledged messages after the kill");
        recovery.push(*first_after - killed_at);
        assert!(
            *first_after - killed_at < Duration::from_secs(5),
            "{}: first answer {:?} after the kill",
            s.id,
            *first_after - killed_at
        );
        // The conversation holds exactly the acknowledged messages, once each, in order.
        let t: Value = client
            .get(format!("{front}/v1/conversations/{}", s.id))
            .bearer_auth(&s.token)
            .send()
            .await
            .expect("transcript")
            .json()
            .await
            .expect("json");
        let users: Vec<&str> = t["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["text"].as_str())
            .collect();
        assert_eq!(users, s.acked, "{}", s.id);
        acked_total += s.acked.len();
    }
    assert!(
        acked_total > SHOPPERS * 20,
        "{acked_total} messages acknowledged"
    );
    recovery.sort();
    eprintln!(
        "T1: {acked_total} messages acknowledged by {SHOPPERS} shoppers; first answer after the kill: median {:?}, max {:?}",
        recovery[recovery.len() / 2],
        recovery[recovery.len() - 1]
    );
    drop(cluster);
}
