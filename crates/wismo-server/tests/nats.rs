//! Live updates across instances: two servers on one PostgreSQL database
//! and the NATS server on 127.0.0.1:4222 (`WISMO_TEST_NATS_URL`). A
//! shopper's WebSocket on one instance sees what is said through the other,
//! exactly once each, in seq order.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{spawn_app_with, Backend, Conv, TestApp};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn nats_url() -> String {
    std::env::var("WISMO_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_string())
}

const NO_LIMITS: [(&str, &str); 2] = [("rate_limit_ip", "off"), ("rate_limit_conversation", "off")];

/// Two servers on one PostgreSQL database, both on NATS.
async fn pair() -> (TestApp, TestApp) {
    let url = nats_url();
    let mut settings = vec![("nats_url", url.as_str())];
    settings.extend(NO_LIMITS);
    let a = spawn_app_with(Backend::Postgres, &settings).await;
    settings.push(("database_url", a.database_url.as_str()));
    let b = spawn_app_with(Backend::Postgres, &settings).await;
    for app in [&a, &b] {
        wait_nats_ok(app).await;
    }
    (a, b)
}

/// `/readyz` says NATS is connected (within 5 s).
async fn wait_nats_ok(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let body: Value = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .json()
            .await
            .expect("json");
        if body["nats"] == "ok" {
            // The subscription is sent right after the connection: give it
            // a moment to reach the server.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "NATS must run at {} for these tests: {body}",
            nats_url()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A WebSocket authorised by subprotocol; the `ready` frame is consumed.
async fn open(app: &TestApp, conv: &Conv) -> Ws {
    let url = format!("ws://{}/v1/conversations/{}/ws", app.addr, conv.id);
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&format!("wismo.v1, bearer.{}", conv.token)).expect("header"),
    );
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .expect("connects within 5 s")
    .expect("connects");
    let ready = next(&mut ws, Duration::from_secs(5))
        .await
        .expect("a ready frame");
    assert_eq!(ready["type"], "ready", "{ready}");
    ws
}

/// The next text frame as JSON, or `None` after `wait`.
async fn next(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        match msg.expect("stream open").expect("frame") {
            Message::Text(t) => return Some(serde_json::from_str(t.as_str()).expect("JSON frame")),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => continue,
        }
    }
}

fn id(m: &Value) -> i64 {
    m["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("numeric id in {m}"))
}

/// The message ids of a turn's response: the shopper's and the replies.
fn ids_of(reply: &Value) -> Vec<i64> {
    let mut ids = vec![id(&reply["user_message"])];
    ids.extend(
        reply["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(id),
    );
    ids
}

/// Message ids from `ws` until `last` arrived (or `wait` passed), then
/// whatever else comes within `linger` (to catch duplicates).
async fn message_ids(ws: &mut Ws, last: i64, wait: Duration, linger: Duration) -> Vec<i64> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !seen.contains(&last) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(f) = next(ws, left).await else {
            break;
        };
        if f["type"] == "message" {
            seen.push(id(&f["message"]));
        }
    }
    while let Some(f) = next(ws, linger).await {
        if f["type"] == "message" {
            seen.push(id(&f["message"]));
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_on_b_gets_the_reply_to_a_message_sent_through_a() {
    let (a, b) = pair().await;
    let conv = a.create().await;
    let mut ws = open(&b, &conv).await;
    let started = std::time::Instant::now();
    let reply = a.say(&conv, "hello").await;
    let expected = ids_of(&reply);
    assert!(expected.len() >= 2, "a user message and a reply: {reply}");
    let last = *expected.last().expect("ids");
    let seen = message_ids(
        &mut ws,
        last,
        Duration::from_secs(2),
        Duration::from_millis(300),
    )
    .await;
    assert!(
        seen.contains(&last),
        "B's socket got {seen:?} within {:?}, expected {expected:?}",
        started.elapsed()
    );
    assert_eq!(seen, expected, "the right ids, in order, exactly once each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_messages_through_both_instances_reach_both_sockets_once_in_order() {
    let (a, b) = pair().await;
    let conv = a.create().await;
    let mut ws_a = open(&a, &conv).await;
    let mut ws_b = open(&b, &conv).await;
    let texts = ["hello", "what is your returns policy?", "thanks"];
    let mut expected = Vec::new();
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        let reply = app.say(&conv, texts[i % texts.len()]).await;
        expected.extend(ids_of(&reply));
    }
    let last = *expected.last().expect("ids");
    // Every message id of the log after the greeting, from the transcript.
    let transcript = a.transcript(&conv).await;
    let greeting: BTreeSet<i64> = conv.greeting.iter().map(id).collect();
    let logged: Vec<i64> = transcript["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(id)
        .filter(|i| !greeting.contains(i))
        .collect();
    assert_eq!(
        logged, expected,
        "the responses name every message of the log"
    );
    for (name, ws) in [("A", &mut ws_a), ("B", &mut ws_b)] {
        let seen = message_ids(ws, last, Duration::from_secs(5), Duration::from_millis(300)).await;
        assert_eq!(
            seen, expected,
            "{name}'s socket: every message exactly once, in seq order, no gaps"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_doorbell_costs_latency_only_and_a_repeated_one_sends_nothing_twice() {
    let (a, b) = pair().await;
    // C shares the database but not NATS: what is said through it rings
    // no doorbell (as if it were lost).
    let mut settings = vec![("database_url", a.database_url.as_str())];
    settings.extend(NO_LIMITS);
    let c = spawn_app_with(Backend::Postgres, &settings).await;
    let conv = a.create().await;
    let mut ws = open(&b, &conv).await;
    let silent = c.say(&conv, "hello").await;
    let missed = ids_of(&silent);
    // Nothing reaches B's socket for C's message...
    let early = message_ids(
        &mut ws,
        i64::MAX,
        Duration::from_millis(300),
        Duration::ZERO,
    )
    .await;
    assert!(early.is_empty(), "no doorbell, no frames yet: {early:?}");
    // ...until the next doorbell, which fills the gap from the log first.
    let reply = a.say(&conv, "thanks").await;
    let mut expected = missed;
    expected.extend(ids_of(&reply));
    let last = *expected.last().expect("ids");
    let seen = message_ids(
        &mut ws,
        last,
        Duration::from_secs(2),
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(seen, expected, "the missed messages, then the new ones");
    // A repeated (or late) doorbell from another instance sends nothing.
    let nats = async_nats::connect(nats_url()).await.expect("NATS");
    for seq in [last, last - 1, 1] {
        let bell = json!({"conversation": conv.id, "seq": seq, "instance": "i_test"});
        nats.publish(
            format!("wismo.conv.{}", conv.id),
            bell.to_string().into_bytes().into(),
        )
        .await
        .expect("publish");
    }
    nats.flush().await.expect("flush");
    let again = message_ids(
        &mut ws,
        i64::MAX,
        Duration::from_millis(400),
        Duration::ZERO,
    )
    .await;
    assert!(again.is_empty(), "nothing sent twice: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_nats() {
    let url = nats_url();
    let on = spawn_app_with(Backend::Sqlite, &[("nats_url", url.as_str())]).await;
    wait_nats_ok(&on).await;
    let off = spawn_app_with(Backend::Sqlite, &[]).await;
    let body: Value = off
        .client
        .get(off.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(body["nats"], "off", "{body}");
    // Nothing listens on port 1: NATS down keeps the instance ready (the
    // log still gets every message) and says so.
    let down = spawn_app_with(Backend::Sqlite, &[("nats_url", "nats://127.0.0.1:1")]).await;
    let res = down
        .client
        .get(down.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["nats"], "unreachable", "{body}");
    let conv = down.create().await;
    down.say(&conv, "hello").await;
}

/// A hand-off queued on instance A reaches an agent's console connected to
/// instance B at once (the `handoff` event and a queue that holds it), and
/// the agent's reply through B reaches the shopper's socket on A.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handoff_on_a_reaches_a_console_on_b_and_the_reply_reaches_the_shopper_on_a() {
    let (a, b) = pair().await;
    let (_, signed) = common::sign_up_agent(
        &a,
        common::AgentSpec {
            id: "a_nora",
            email: "nora@example.com",
            name: "Nora",
            role: "agent",
            max_chats: 5,
            languages: &[],
        },
    )
    .await;
    let token = common::token_of(&signed);
    let mut console = common::Sse::open(&b, &token).await;
    console.next("queue").await;
    let conv = a.create().await;
    let mut ws = open(&a, &conv).await;
    let started = std::time::Instant::now();
    let r = a.say(&conv, "I want to talk to a human").await;
    assert_eq!(r["handoff"]["status"], "queued", "{r}");
    let h = console.next("handoff").await;
    let within = started.elapsed();
    assert_eq!(h["conversation_id"], conv.id.as_str(), "{h}");
    assert!(within < Duration::from_secs(2), "{within:?}");
    let q = console
        .queue_until(|q| q.to_string().contains(&conv.id))
        .await;
    assert!(q.to_string().contains(&conv.id));
    // The agent takes it and answers through B; the shopper's socket on A hears it.
    let accept = format!("/v1/agent/conversations/{}/accept", conv.id);
    let (status, body) = b.post_json(&token, &accept, json!({})).await;
    assert_eq!(status, 200, "{body}");
    // Nora starts typing on B: the shopper's socket on A shows it.
    let typing = format!("/v1/agent/conversations/{}/typing", conv.id);
    let (status, body) = b.post_json(&token, &typing, json!({"on": true})).await;
    assert_eq!(status, 204, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let shown = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next(&mut ws, left).await {
            Some(f) if f["type"] == "typing" && f["role"] == "agent" => break Some(f),
            Some(_) => {}
            None => break None,
        }
    };
    let shown = shown.expect("the agent's typing reached the socket on A within 2 s");
    assert_eq!(shown["role"], "agent");
    assert_eq!(shown["on"], true);
    let reply = format!("/v1/agent/conversations/{}/messages", conv.id);
    let text = json!({"text": "Hi, Nora here. Let me look at that."});
    let (status, body) = b.post_json(&token, &reply, text).await;
    assert_eq!(status, 201, "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let heard = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next(&mut ws, left).await {
            Some(f) if f["type"] == "message" => {
                if f["message"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("Nora here"))
                {
                    break true;
                }
            }
            Some(_) => {}
            None => break false,
        }
    };
    assert!(heard, "the agent's reply reached the shopper's socket on A");
}

/// An order changed through A is not answered from B's cache: A tells
/// every instance, and B forgets its cached orders at once (not after the
/// cache's 2 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_changed_on_a_is_not_served_from_bs_cache() {
    let (a, b) = pair().await;
    let numbers = a.state.sessions.db.order_numbers().await.expect("orders");
    for n in &numbers {
        b.state.sessions.db.find_order(n).await.expect("lookup");
    }
    let before = b.state.sessions.db.order_cache_generation();
    let now = chrono::Utc::now();
    let mut cancelled = None;
    for n in &numbers {
        if a.state
            .sessions
            .db
            .cancel_order(n, "test", now)
            .await
            .is_ok()
        {
            cancelled = Some(n.clone());
            break;
        }
    }
    let number = cancelled.expect("a demo order that can be cancelled");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while b.state.sessions.db.order_cache_generation() == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B did not hear of the change within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = b
        .state
        .sessions
        .db
        .find_order(&number)
        .await
        .expect("lookup")
        .expect("the order");
    assert!(seen.cancelled_at.is_some(), "B reads the cancelled order");
}
