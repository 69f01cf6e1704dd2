//! The WebSocket through a real WebSocket client, against SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{spawn_app, Backend, Conv, TestApp, BACKENDS};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(
    app: &TestApp,
    conv: &Conv,
    protocols: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = format!("ws://{}/v1/conversations/{}/ws", app.addr, conv.id);
    let mut req = url.into_client_request()?;
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(protocols).expect("header"),
    );
    let (ws, res) = tokio_tungstenite::connect_async(req).await?;
    assert_eq!(
        res.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("wismo.v1")
    );
    Ok(ws)
}

/// Connected and authorised by subprotocol; the `ready` frame is consumed.
async fn open(app: &TestApp, conv: &Conv) -> Ws {
    let mut ws = connect(app, conv, &format!("wismo.v1, bearer.{}", conv.token))
        .await
        .expect("connects");
    let ready = next(&mut ws).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["conversation_id"], conv.id.as_str());
    ws
}

/// The next text frame as JSON (fails after 10 s).
async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("stream open")
            .expect("frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON frame"),
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => continue,
        }
    }
}

/// Frames until one of `type` arrives (inclusive).
async fn until(ws: &mut Ws, kind: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let f = next(ws).await;
        let done = f["type"] == kind;
        seen.push(f);
        if done {
            return seen;
        }
    }
}

/// Message frames until the bot's typing indicator turns off.
async fn turn_messages(ws: &mut Ws) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let f = next(ws).await;
        if f["type"] == "message" {
            out.push(f["message"].clone());
        }
        if f["type"] == "typing" && f["role"] == "bot" && f["on"] == false {
            return out;
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

fn id(m: &Value) -> i64 {
    m["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("numeric id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_over_the_websocket() {
    for b in BACKENDS {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        let mut ws = open(&app, &conv).await;
        send(&mut ws, json!({"type": "message", "text": "where is my order #1001", "client_message_id": "w1"})).await;
        let frames = until(&mut ws, "ack").await;
        let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
        assert!(kinds.contains(&"typing"), "{b:?}: typing shown: {kinds:?}");
        let msgs: Vec<&Value> = frames
            .iter()
            .filter(|f| f["type"] == "message")
            .map(|f| &f["message"])
            .collect();
        assert_eq!(msgs[0]["role"], "user");
        assert_eq!(msgs[0]["text"], "where is my order #1001");
        assert!(msgs[1..].iter().all(|m| m["role"] == "bot"));
        let ack = frames.last().expect("ack");
        assert_eq!(ack["client_message_id"], "w1");
        assert_eq!(ack["id"], msgs[0]["id"]);
        send(
            &mut ws,
            json!({"type": "message", "text": "emma.johnson@example.com"}),
        )
        .await;
        let frames = until(&mut ws, "ack").await;
        let text: String = frames
            .iter()
            .filter(|f| f["type"] == "message" && f["message"]["role"] == "bot")
            .filter_map(|f| f["message"]["text"].as_str())
            .collect();
        assert!(
            text.contains("1001") && text.contains("delivered"),
            "{b:?}: {text}"
        );
        send(&mut ws, json!({"type": "ping"})).await;
        assert_eq!(
            until(&mut ws, "pong")
                .await
                .last()
                .map(|f| f["type"].clone()),
            Some(json!("pong"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_can_come_in_the_first_frame_and_a_wrong_one_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let conv = app.create().await;
    let other = app.create().await;
    // First-frame auth.
    let mut ws = connect(&app, &conv, "wismo.v1").await.expect("connects");
    send(&mut ws, json!({"type": "auth", "token": conv.token})).await;
    assert_eq!(next(&mut ws).await["type"], "ready");
    // Wrong token in the first frame: an error frame, then close 1008.
    let mut ws = connect(&app, &conv, "wismo.v1").await.expect("connects");
    send(&mut ws, json!({"type": "auth", "token": other.token})).await;
    let f = next(&mut ws).await;
    assert_eq!(f["code"], "unauthorized");
    let closed = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("closes");
    match closed {
        Some(Ok(Message::Close(Some(c)))) => assert_eq!(u16::from(c.code), 1008),
        other => panic!("expected close 1008, got {other:?}"),
    }
    // Anything but auth first is refused the same way.
    let mut ws = connect(&app, &conv, "wismo.v1").await.expect("connects");
    send(&mut ws, json!({"type": "message", "text": "hi"})).await;
    assert_eq!(next(&mut ws).await["code"], "unauthorized");
    // Wrong token in the subprotocol: a plain 401 before any upgrade.
    let err = connect(&app, &conv, &format!("wismo.v1, bearer.{}", other.token))
        .await
        .expect_err("refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(res) => assert_eq!(res.status(), 401),
        other => panic!("expected HTTP 401, got {other:?}"),
    }
    // Nothing was said in the conversation by any of this.
    let t = app.transcript(&conv).await;
    assert_eq!(
        t["messages"].as_array().map(Vec::len),
        Some(conv.greeting.len())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tab_receives_every_message_and_typing_goes_to_the_others() {
    for b in BACKENDS {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        let mut tab1 = open(&app, &conv).await;
        let mut tab2 = open(&app, &conv).await;
        // A message over REST reaches both tabs, identically.
        let r = app.say(&conv, "how long does shipping take").await;
        let m1 = turn_messages(&mut tab1).await;
        let m2 = turn_messages(&mut tab2).await;
        assert_eq!(m1, m2, "{b:?}");
        assert_eq!(m1[0], r["user_message"]);
        assert_eq!(
            &m1[1..],
            r["messages"].as_array().expect("messages").as_slice()
        );
        // A message from tab 1 reaches tab 2.
        send(&mut tab1, json!({"type": "message", "text": "thanks"})).await;
        let m2 = turn_messages(&mut tab2).await;
        assert_eq!(m2[0]["text"], "thanks");
        until(&mut tab1, "ack").await;
        // Typing in tab 1 shows in tab 2, not back in tab 1.
        send(&mut tab1, json!({"type": "typing", "on": true})).await;
        let f = next(&mut tab2).await;
        assert_eq!(f, json!({"type": "typing", "role": "user", "on": true}));
        send(&mut tab1, json!({"type": "ping"})).await;
        let f = next(&mut tab1).await;
        assert_eq!(
            f["type"], "pong",
            "tab 1 got no echo of its own typing: {f}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_client_gets_exactly_what_it_missed() {
    for b in BACKENDS {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        let mut ws = open(&app, &conv).await;
        app.say(&conv, "hi").await;
        let seen = turn_messages(&mut ws).await;
        let last_seen = seen.iter().map(id).max().expect("messages");
        drop(ws); // the connection drops
        let r1 = app.say(&conv, "where is my order #1003").await;
        let r2 = app.say(&conv, "sofia.garcia@example.com").await;
        let mut missed: Vec<Value> = Vec::new();
        for r in [&r1, &r2] {
            missed.push(r["user_message"].clone());
            missed.extend(r["messages"].as_array().expect("messages").iter().cloned());
        }
        // Reconnect with first-frame auth and the last id seen.
        let mut ws = connect(&app, &conv, "wismo.v1").await.expect("connects");
        send(
            &mut ws,
            json!({"type": "auth", "token": conv.token, "after": last_seen.to_string()}),
        )
        .await;
        assert_eq!(next(&mut ws).await["type"], "ready");
        let mut got = Vec::new();
        while got.len() < missed.len() {
            let f = next(&mut ws).await;
            assert_eq!(f["type"], "message", "{b:?}: {f}");
            got.push(f["message"].clone());
        }
        assert_eq!(got, missed, "{b:?}: exactly the missed messages, in order");
        // A resume from the start replays only what this socket has not delivered.
        send(&mut ws, json!({"type": "resume", "after": "0"})).await;
        send(&mut ws, json!({"type": "ping"})).await;
        let frames = until(&mut ws, "pong").await;
        let replayed: Vec<i64> = frames
            .iter()
            .filter(|f| f["type"] == "message")
            .map(|f| id(&f["message"]))
            .collect();
        assert!(
            replayed.iter().all(|i| *i <= last_seen),
            "{b:?}: no duplicates of delivered messages: {replayed:?}"
        );
        // Live messages continue after the catch-up, no duplicates.
        app.say(&conv, "thanks").await;
        let live = turn_messages(&mut ws).await;
        assert_eq!(live[0]["text"], "thanks");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_the_socket_stays_open() {
    let app = spawn_app(Backend::Sqlite).await;
    let conv = app.create().await;
    let mut ws = open(&app, &conv).await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::text("{not json"), "malformed_json"),
        (Message::text(r#"{"type": "dance"}"#), "invalid_body"),
        (Message::text(r#"{"type": "message"}"#), "invalid_body"),
        (
            Message::text(r#"{"type": "message", "text": 5}"#),
            "invalid_body",
        ),
        (
            Message::text(r#"{"type": "message", "text": "  "}"#),
            "empty_message",
        ),
        (
            Message::text(
                json!({"type": "message", "text": "x".repeat(2001), "client_message_id": "big"})
                    .to_string(),
            ),
            "message_too_long",
        ),
        (
            Message::text(r#"{"type": "resume", "after": "-3"}"#),
            "invalid_field",
        ),
        (Message::binary(vec![0u8, 159, 146, 150]), "invalid_body"),
        (
            Message::text(r#"{"type": "auth", "token": "again"}"#),
            "invalid_body",
        ),
    ];
    for (frame, code) in cases {
        ws.send(frame).await.expect("send");
        let f = next(&mut ws).await;
        assert_eq!(f["type"], "error", "{f}");
        assert_eq!(f["code"], code, "{f}");
    }
    let f = json!({"type": "message", "text": "x".repeat(2001), "client_message_id": "big"});
    send(&mut ws, f).await;
    assert_eq!(next(&mut ws).await["client_message_id"], "big");
    // Still working.
    send(&mut ws, json!({"type": "message", "text": "hello"})).await;
    let msgs = turn_messages(&mut ws).await;
    assert_eq!(msgs[0]["text"], "hello");
    let t = app.transcript(&conv).await;
    let users = t["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .count();
    assert_eq!(users, 1, "only the valid message was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_websockets_with_going_away() {
    let app = spawn_app(Backend::Sqlite).await;
    let conv = app.create().await;
    let mut ws = open(&app, &conv).await;
    let stop = tokio::spawn(app.stop());
    let closed = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("closed within 10 s");
    match closed {
        Some(Ok(Message::Close(Some(c)))) => assert_eq!(u16::from(c.code), 1001),
        other => panic!("expected close 1001, got {other:?}"),
    }
    drop(ws);
    tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .expect("server stops")
        .expect("task")
        .expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_limit_closes_with_1009_and_a_reason() {
    let app = spawn_app(Backend::Sqlite).await;
    let conv = app.create().await;
    let mut ws = open(&app, &conv).await;
    let huge = json!({"type": "message", "text": "a".repeat(70 * 1024)}).to_string();
    ws.send(Message::Text(huge.into())).await.expect("sent");
    let close = loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer within 10 s");
        match msg {
            Some(Ok(Message::Close(c))) => break c,
            Some(Ok(_)) => continue,
            other => panic!("the connection dropped without a close frame: {other:?}"),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 1009);
    assert!(close.reason.contains("64 KiB"), "{}", close.reason);
    // The conversation is fine: a new connection works.
    let mut ws = open(&app, &conv).await;
    ws.send(Message::Text(
        json!({"type": "message", "text": "hello"})
            .to_string()
            .into(),
    ))
    .await
    .expect("sent");
    let frames = until(&mut ws, "ack").await;
    assert!(!frames.is_empty());
}
