//! Failure test T2, bounded: the instance running a turn dies mid-turn.
//!
//! Two instances behind HAProxy (`scripts/cluster`). `w2` is restarted with
//! `WISMO_TEST_TURN_PAUSE`, so each of its turns sleeps at a named point:
//!
//! * `before_commit`: the answer is ready, its events are not stored;
//! * `after_commit`: the events are stored (with the client message id,
//!   pending), the answer is not returned yet.
//!
//! A shopper posts a message straight to `w2`; while the turn sleeps, `w2` is
//! killed with SIGKILL; the shopper retries with the same
//! `client_message_id` through HAProxy (which reaches `w1`). Within 5 s of
//! the kill the retry is answered and the conversation holds the message
//! exactly once and its bot reply exactly once: a fresh turn before the
//! commit, the stored turn (replayed from the log) after it.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{ids_of, post_within, transcript, Cluster};

/// How long `w2`'s turns sleep: far longer than the test needs to kill it.
const PAUSE: &str = "30s";

/// Waits until `w2`'s log says a turn of `conversation` reached its pause.
async fn wait_for_pause(cluster: &Cluster, conversation: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let log = cluster.log("w2");
        if log
            .lines()
            .any(|l| l.contains("test pause in a turn") && l.contains(conversation))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "w2 never paused in a turn of {conversation}:\n{}",
        cluster.log("w2")
    );
}

/// One crash at `point`; returns the time from the kill to the answer.
async fn crash_at(cluster: &Cluster, point: &str) -> Duration {
    cluster.restart(
        "w2",
        &[("WISMO_TEST_TURN_PAUSE", &format!("{point}:{PAUSE}"))],
    );
    let client = common::client();
    let front = cluster.front();
    let (id, token) = common::create(&client, &front).await;
    // The greeting.
    let before = common::transcript_ids(&transcript(&client, &front, &id, &token).await);
    let text = format!("do you ship to canada? ({point})");
    let body = json!({"text": text, "client_message_id": format!("t2-{point}")});
    // Straight to w2, whose turn sleeps at `point`.
    let in_flight = tokio::spawn({
        let (client, token, body) = (client.clone(), token.clone(), body.clone());
        let url = format!("{}/v1/conversations/{id}/messages", cluster.instance(2));
        async move { client.post(url).bearer_auth(token).json(&body).send().await }
    });
    wait_for_pause(cluster, &id).await;
    cluster.signal("w2", "-9");
    let killed = Instant::now();
    let lost = in_flight.await.expect("the first attempt's task");
    assert!(
        lost.is_err(),
        "{point}: w2 answered before it died: {lost:?}"
    );

    // The retry, with the same client message id, through HAProxy.
    let url = format!("{front}/v1/conversations/{id}/messages");
    let reply = post_within(&client, &url, Some(&token), &body, Duration::from_secs(5)).await;
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "{point}: answered {took:?} after the kill"
    );
    assert_eq!(reply["user_message"]["text"], text.as_str(), "{reply}");
    let replayed = reply["replayed"] == Value::Bool(true);
    assert_eq!(
        replayed,
        point == "after_commit",
        "{point}: the retry must {} the stored turn: {reply}",
        if point == "after_commit" {
            "replay"
        } else {
            "not find"
        }
    );
    let bot_replies: Vec<&Value> = reply["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .collect();
    assert!(!bot_replies.is_empty(), "{point}: no bot reply in {reply}");

    // The conversation: the greeting, then the message once and its reply
    // once, nothing else.
    let messages = transcript(&client, &front, &id, &token).await;
    let users: Vec<&Value> = messages.iter().filter(|m| m["role"] == "user").collect();
    assert_eq!(users.len(), 1, "{point}: {messages:?}");
    assert_eq!(users[0]["text"], text.as_str());
    let mut want = before;
    want.extend(ids_of(&reply));
    assert_eq!(
        common::transcript_ids(&messages),
        want,
        "{point}: {messages:?}"
    );
    eprintln!(
        "T2 {point}: answered {took:?} after the kill ({} bot message(s), replayed: {replayed})",
        bot_replies.len()
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_turn_leaves_one_message_and_one_reply() {
    let cluster = Cluster::up(
        "t2",
        2,
        &[
            ("WISMO_RATE_LIMIT_IP", "0"),
            ("WISMO_RATE_LIMIT_CONVERSATION", "0"),
            ("WISMO_ABUSE_BLOCK", "0"),
        ],
    );
    crash_at(&cluster, "before_commit").await;
    crash_at(&cluster, "after_commit").await;
    drop(cluster);
}
