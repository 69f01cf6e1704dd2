//! Many messages at once: one conversation keeps its order and loses
//! nothing; many conversations run in parallel and each gets its own answer.

mod common;

use std::collections::HashSet;

use common::{spawn_app, spawn_app_with, Backend, Conv, BACKENDS};
use futures_util::future::join_all;
use serde_json::{json, Value};
use wismo_core::store::memory::InMemoryStore;
use wismo_core::store::OrderService;

fn id(m: &Value) -> i64 {
    m["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("numeric id")
}

/// The transcript's shopper messages.
fn users(t: &Value) -> Vec<&Value> {
    t["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .collect()
}

/// `n` messages, each stored once, and each turn's replies right after its
/// message, before the next one.
fn assert_one_order(t: &Value, replies: &[(u16, Value)], n: usize, label: &str) {
    let msgs = t["messages"].as_array().expect("messages");
    let users = users(t);
    assert_eq!(users.len(), n, "{label}: every message stored once");
    let stored: HashSet<&str> = users.iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(stored.len(), n, "{label}");
    let order: Vec<i64> = msgs.iter().map(id).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{label}");
    for (_, body) in replies {
        let uid = id(&body["user_message"]);
        let pos = msgs
            .iter()
            .position(|m| id(m) == uid)
            .expect("in transcript");
        let bot = body["messages"].as_array().expect("replies");
        assert!(!bot.is_empty(), "{label}");
        for (k, m) in bot.iter().enumerate() {
            assert_eq!(
                &msgs[pos + 1 + k],
                m,
                "{label}: replies follow their message"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_simultaneous_messages_into_one_conversation_lose_nothing_and_never_interleave() {
    for b in BACKENDS {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        let texts: Vec<String> = (0..50)
            .map(|i| format!("question number {i}: do you ship to canada"))
            .collect();
        let replies = join_all(texts.iter().map(|t| {
            let app = &app;
            let conv = &conv;
            async move {
                app.say_raw(
                    conv,
                    json!({"text": t, "client_message_id": t.replace([' ', ':'], "-")}),
                )
                .await
            }
        }))
        .await;
        for (status, body) in &replies {
            assert_eq!(*status, 200, "{b:?}: {body}");
        }
        let t = app.transcript(&conv).await;
        assert_one_order(&t, &replies, 50, &format!("{b:?}"));
        // Retrying all 50 at once changes nothing.
        let again = join_all(texts.iter().map(|t| {
            let app = &app;
            let conv = &conv;
            async move {
                app.say_raw(
                    conv,
                    json!({"text": t, "client_message_id": t.replace([' ', ':'], "-")}),
                )
                .await
            }
        }))
        .await;
        assert!(again
            .iter()
            .all(|(s, v)| *s == 200 && v["replayed"] == true));
        let t2 = app.transcript(&conv).await;
        assert_eq!(
            t2["messages"], t["messages"],
            "{b:?}: retries added nothing"
        );
    }
}

/// A server whose state of a conversation is behind (another server
/// answered since) never answers from it: its append is refused, it reloads
/// and runs the turn again. Here the second message the bot does not
/// understand, sent to server A after the first went through B, brings in a
/// person, as it would on one server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_behind_the_log_answers_from_the_whole_conversation() {
    for backend in BACKENDS {
        let a = spawn_app(backend).await;
        let b = spawn_app_with(backend, &[("database_url", a.database_url.as_str())]).await;
        let conv = a.create().await;
        a.say(&conv, "hi").await;
        let first = b.say(&conv, "blorp zzzt qwfp").await;
        assert_eq!(first["nlu"]["intent"]["name"], "out_of_scope", "{first}");
        assert!(first["handoff"]["reason"].is_null(), "{first}");
        let second = a.say(&conv, "blorp zzzt qwfp").await;
        assert_eq!(
            second["handoff"]["reason"], "not_understood",
            "{backend:?}: A answered from the whole conversation: {second}"
        );
        let t = b.transcript(&conv).await;
        assert_eq!(users(&t).len(), 3, "{backend:?}: {t}");
    }
}

/// A turn that asks for a person on a server whose state is behind: its
/// first run queues the case and loses its append; the run on the whole
/// conversation tells the shopper about that same case (not a second one,
/// and not nothing).
#[tokio::test]
async fn a_hand_off_queued_by_a_turn_that_lost_its_append_is_told_once() {
    for backend in BACKENDS {
        let a = spawn_app(backend).await;
        let b = spawn_app_with(backend, &[("database_url", a.database_url.as_str())]).await;
        let conv = a.create().await;
        a.say(&conv, "hi").await;
        b.say(&conv, "do you ship to canada?").await;
        let r = a.say(&conv, "I want to talk to a human").await;
        assert_eq!(r["handoff"]["status"], "queued", "{backend:?}: {r}");
        let cases = a
            .state
            .sessions
            .db
            .handoffs_of(&conv.id)
            .await
            .expect("cases");
        assert_eq!(cases.len(), 1, "{backend:?}: one case");
        let t = b.transcript(&conv).await;
        let queued_notes = t["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["role"] == "bot")
            .filter(|m| {
                m["text"]
                    .as_str()
                    .is_some_and(|x| x.contains(&cases[0].case_id()))
            })
            .count();
        assert!(queued_notes <= 1, "{backend:?}: {t}");
        assert_eq!(users(&t).len(), 3, "{backend:?}: {t}");
    }
}

/// One writer per conversation across servers (T3): 50 messages at once into
/// one conversation, spread over three servers on one PostgreSQL database.
/// Each server's state may be behind the others'; the append's fencing
/// token makes a turn that ran on an old state run again on the new one.
/// Every message lands once, each turn's replies sit right after its
/// message, and every server shows the same transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_messages_through_three_servers_keep_one_order() {
    let limit = ("rate_limit_conversation", "1000/1m");
    let a = spawn_app_with(Backend::Postgres, &[limit]).await;
    let shared = ("database_url", a.database_url.as_str());
    let b = spawn_app_with(Backend::Postgres, &[limit, shared]).await;
    let c = spawn_app_with(Backend::Postgres, &[limit, shared]).await;
    let servers = [&a, &b, &c];
    let conv = a.create().await;
    let texts: Vec<String> = (0..50)
        .map(|i| format!("question {i}: do you ship to canada"))
        .collect();
    let replies = join_all(texts.iter().enumerate().map(|(i, t)| {
        let app = servers[i % 3];
        let conv = &conv;
        async move { app.say_raw(conv, json!({"text": t})).await }
    }))
    .await;
    for (status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
    }
    let t = a.transcript(&conv).await;
    assert_one_order(&t, &replies, 50, "three servers");
    for s in [&b, &c] {
        assert_eq!(s.transcript(&conv).await["messages"], t["messages"]);
    }
    // Each server's next turn runs on the whole conversation.
    for s in servers {
        let r = s.say(&conv, "thanks!").await;
        let uid = id(&r["user_message"]);
        let t = s.transcript(&conv).await;
        let last_user = users(&t).into_iter().map(id).max();
        assert_eq!(last_user, Some(uid));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_one_client_keep_their_order() {
    for b in BACKENDS {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        // Sent one after another without waiting for the previous reply to be read.
        let mut handles = Vec::new();
        for i in 0..20 {
            let client = app.client.clone();
            let url = app.url(&format!("/v1/conversations/{}/messages", conv.id));
            let token = conv.token.clone();
            handles.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"text": format!("message {i:02}")}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }));
            // Each request is on the wire, and normally queued on the
            // conversation's lock, before the next is sent. Requests on
            // separate connections have no order of their own: the server
            // keeps arrival order, so the gap must outlast the time a request
            // takes to reach the lock on a loaded two-core machine (3 ms did
            // not always, with a build running beside the tests).
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        for h in handles {
            assert_eq!(h.await.expect("task").expect("request"), 200);
        }
        let t = app.transcript(&conv).await;
        let users: Vec<String> = t["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["text"].as_str().map(str::to_string))
            .collect();
        let want: Vec<String> = (0..20).map(|i| format!("message {i:02}")).collect();
        assert_eq!(users, want, "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_conversations_in_parallel_each_get_their_own_order() {
    let demo = InMemoryStore::demo().expect("demo store");
    let numbers: Vec<String> = (1001..=1053).map(|n| format!("#{n}")).collect();
    let mut orders = Vec::new();
    for n in &numbers {
        if let Ok(Some(o)) = demo.find_order(n) {
            if let Some(email) = o.email.clone() {
                orders.push((n.clone(), email));
            }
        }
    }
    assert!(orders.len() >= 40, "demo orders with emails");
    for b in BACKENDS {
        let app = spawn_app(b).await;
        let results = join_all((0..500).map(|i| {
            let app = &app;
            let (number, email) = orders[i % orders.len()].clone();
            async move {
                let conv: Conv = app.create().await;
                app.say(&conv, &format!("where is my order {number}?"))
                    .await;
                let r = app.say(&conv, &email).await;
                let cards: Vec<String> = r["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["order_card"]["order_number"].as_str().map(str::to_string))
                    .collect();
                (number, cards, r)
            }
        }))
        .await;
        let mut wrong = Vec::new();
        for (number, cards, r) in &results {
            if cards != &vec![number.trim_start_matches('#').to_string()] {
                wrong.push(format!("{number}: {r}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "{b:?}: {} wrong answers, e.g. {}",
            wrong.len(),
            wrong[0]
        );
    }
}

/// Memory is bounded: past `max_live_conversations` the least recently used
/// idle conversations leave memory, and come back from the log whole when
/// the shopper writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_past_the_memory_cap_come_back_from_the_log() {
    let app = spawn_app_with(Backend::Sqlite, &[("max_live_conversations", "20")]).await;
    let mut convs = Vec::new();
    for _ in 0..50 {
        let conv = app.create().await;
        app.say(&conv, "where is my order 1042?").await;
        convs.push(conv);
        assert!(
            app.state.sessions.in_memory() <= 20,
            "{}",
            app.state.sessions.in_memory()
        );
    }
    // The oldest left memory; its next turn continues where it was.
    let first = &convs[0];
    let r = app.say(first, "emma.johnson@example.com").await;
    let text = common::replies(&r);
    assert!(text.contains("1042"), "{text}");
    let t = app.transcript(first).await;
    assert_eq!(users(&t).len(), 2);
}

/// A server that committed a turn and stopped before recording its
/// response leaves the client message id pending; the shopper's retry
/// through any server gets that turn's answer, rebuilt from the log, and
/// nothing is answered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_of_a_turn_whose_server_died_gets_the_committed_answer() {
    use wismo_core::dialogue::Event;
    let app = spawn_app(Backend::Sqlite).await;
    let conv = app.create().await;
    let db = &app.state.sessions.db;
    let last = db
        .conversation(&conv.id)
        .await
        .expect("row")
        .expect("exists")
        .last_seq;
    let at = chrono::Utc::now();
    let text = "do you ship to canada?";
    let turn = [
        Event::UserSaid {
            text: text.into(),
            at,
            intent: "shipping_international".into(),
            confidence: 0.9,
            sentiment: 0.0,
            understood: true,
        },
        Event::BotSaid {
            text: "Yes, we ship to Canada.".into(),
            template: "knowledge".into(),
            at,
            quick_replies: Vec::new(),
            order_card: None,
        },
    ];
    // The dead server's commit: events and the pending id, nothing more.
    db.append_turn(&conv.id, &turn, last, Some("m-dead"))
        .await
        .expect("commits");
    let (status, r) = app
        .say_raw(&conv, json!({"text": text, "client_message_id": "m-dead"}))
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["replayed"], true, "{r}");
    assert_eq!(r["user_message"]["text"], text);
    assert_eq!(r["user_message"]["id"], (last + 1).to_string());
    assert_eq!(r["messages"][0]["text"], "Yes, we ship to Canada.");
    assert_eq!(r["nlu"]["intent"]["name"], "shipping_international");
    let t = app.transcript(&conv).await;
    assert_eq!(users(&t).len(), 1, "answered once: {t}");
}
