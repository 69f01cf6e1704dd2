//! The durable event stream on NATS JetStream (`WISMO_EVENTS`, subjects
//! `wismo.events.>`), against the NATS server on 127.0.0.1:4222
//! (`WISMO_TEST_NATS_URL`) and two servers on one PostgreSQL database: every
//! conversation event arrives once, in seq order, whichever server committed
//! it; case events arrive with their webhook body; a durable consumer that
//! restarts resumes where it left off; a relay that dies after publishing
//! (its cursor not yet advanced) publishes again and JetStream drops the
//! copies.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::PullConsumer};
use common::{spawn_app_with, Backend, Conv, TestApp};
use futures_util::StreamExt;
use serde_json::Value;
use sqlx::Connection;

fn nats_url() -> String {
    std::env::var("WISMO_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_string())
}

const NO_LIMITS: [(&str, &str); 2] = [("rate_limit_ip", "off"), ("rate_limit_conversation", "off")];

async fn pair() -> (TestApp, TestApp) {
    let url = nats_url();
    let mut settings = vec![("nats_url", url.as_str())];
    settings.extend(NO_LIMITS);
    let a = spawn_app_with(Backend::Postgres, &settings).await;
    settings.push(("database_url", a.database_url.as_str()));
    let b = spawn_app_with(Backend::Postgres, &settings).await;
    (a, b)
}

/// The stream, once a server created it (within 10 s).
async fn the_stream(js: &jetstream::Context) -> jetstream::stream::Stream {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = js.get_stream("WISMO_EVENTS").await {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no WISMO_EVENTS stream on {} within 10 s",
            nats_url()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A durable consumer of one conversation's messages.
async fn consumer(stream: &jetstream::stream::Stream, name: &str, conv: &str) -> PullConsumer {
    stream
        .get_or_create_consumer(
            name,
            pull::Config {
                durable_name: Some(name.to_string()),
                filter_subject: format!("wismo.events.*.{conv}"),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .expect("a durable consumer")
}

/// Takes messages (acknowledging each) until `done` says so, within 10 s;
/// returns their bodies.
async fn take_until(c: &PullConsumer, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while !done(&got) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream stopped short: {} messages: {got:?}",
            got.len()
        );
        let mut batch = c
            .fetch()
            .max_messages(50)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .expect("fetch");
        while let Some(m) = batch.next().await {
            let m = m.expect("a message");
            got.push(serde_json::from_slice(&m.payload).expect("json body"));
            m.ack().await.expect("ack");
            if done(&got) {
                break;
            }
        }
    }
    got
}

fn seqs(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .filter(|m| m["type"] == "conversation.event")
        .filter_map(|m| m["seq"].as_i64())
        .collect()
}

async fn last_seq(app: &TestApp, conv: &Conv) -> i64 {
    app.state
        .sessions
        .db
        .conversation(&conv.id)
        .await
        .expect("read")
        .expect("the conversation")
        .last_seq
}

#[tokio::test]
async fn every_event_reaches_the_stream_once_in_order_and_a_restarted_consumer_misses_nothing() {
    let (a, b) = pair().await;
    let client = async_nats::connect(nats_url())
        .await
        .expect("NATS must run");
    let js = jetstream::new(client);

    // Turns through both servers, and a hand-off (a case event).
    let conv = a.create().await;
    a.say(&conv, "where is my order #1001?").await;
    b.say(&conv, "emma.johnson@example.com").await;
    a.say(&conv, "I want to talk to a human").await;
    let first_last = last_seq(&a, &conv).await;
    assert!(first_last >= 6, "{first_last}");

    let stream = the_stream(&js).await;
    let name = format!("t_{}", conv.id);
    let c = consumer(&stream, &name, &conv.id).await;
    let first = take_until(&c, |got| {
        seqs(got).last() == Some(&first_last)
            && got.iter().any(|m| m["type"] == "handoff.requested")
    })
    .await;
    assert_eq!(
        seqs(&first),
        (1..=first_last).collect::<Vec<_>>(),
        "every event once, in order"
    );
    let case = first
        .iter()
        .find(|m| m["type"] == "handoff.requested")
        .expect("the case event");
    assert!(
        case["id"].as_str().is_some_and(|id| id.starts_with("evt_")),
        "{case}"
    );
    assert_eq!(case["conversation_id"], conv.id.as_str());
    let said = first
        .iter()
        .find(|m| m["event"]["event"] == "user_said")
        .expect("a user message");
    assert_eq!(said["id"], format!("{}:{}", conv.id, said["seq"]));
    drop(c);

    // The relay "dies" after publishing, before recording it: its cursor
    // goes back to 0 and everything is published again. JetStream drops
    // the copies by message id.
    let mut pg = sqlx::PgConnection::connect(&a.database_url)
        .await
        .expect("database");
    sqlx::query("UPDATE event_stream SET streamed_seq = 0 WHERE conversation_id = $1")
        .bind(&conv.id)
        .execute(&mut pg)
        .await
        .expect("rewind");
    // More turns while the consumer is away.
    b.say(&conv, "are you there?").await;
    a.say(&conv, "thanks").await;
    let second_last = last_seq(&a, &conv).await;
    assert!(second_last > first_last);

    // The same durable consumer, again: it resumes after its last ack.
    let c = consumer(&stream, &name, &conv.id).await;
    let second = take_until(&c, |got| seqs(got).last() == Some(&second_last)).await;
    assert_eq!(
        seqs(&second),
        (first_last + 1..=second_last).collect::<Vec<_>>(),
        "nothing missed, nothing twice"
    );
    // And nothing else comes.
    let mut rest = c
        .fetch()
        .max_messages(10)
        .expires(Duration::from_millis(800))
        .messages()
        .await
        .expect("fetch");
    let mut extra = Vec::new();
    while let Some(m) = rest.next().await {
        let m = m.expect("message");
        extra.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    assert!(
        extra.is_empty(),
        "duplicates reached the consumer: {extra:?}"
    );
    stream.delete_consumer(&name).await.expect("clean up");
    let cursor: (i64, i64) = sqlx::query_as(
        "SELECT wanted_seq, streamed_seq FROM event_stream WHERE conversation_id = $1",
    )
    .bind(&conv.id)
    .fetch_one(&mut pg)
    .await
    .expect("cursor");
    assert_eq!(cursor, (second_last, second_last), "the cursor caught up");
}

#[tokio::test]
async fn with_the_event_stream_off_nothing_is_queued_for_it_and_both_servers_share_the_conversation(
) {
    let url = nats_url();
    let mut settings = vec![("nats_url", url.as_str()), ("event_stream", "false")];
    settings.extend(NO_LIMITS);
    let a = spawn_app_with(Backend::Postgres, &settings).await;
    settings.push(("database_url", a.database_url.as_str()));
    let b = spawn_app_with(Backend::Postgres, &settings).await;
    let conv = a.create().await;
    a.say(&conv, "where is my order #1001?").await;
    b.say(&conv, "I want to talk to a human").await;
    // The log has the turns from both servers, one order.
    let last = last_seq(&b, &conv).await;
    assert!(last >= 4, "{last}");
    let mut pg = sqlx::PgConnection::connect(&a.database_url)
        .await
        .expect("database");
    let marked: i64 = sqlx::query_scalar("SELECT count(*) FROM event_stream")
        .fetch_one(&mut pg)
        .await
        .expect("count");
    assert_eq!(marked, 0, "no conversation marked for the relay");
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE target = 'nats:wismo.events'")
            .fetch_one(&mut pg)
            .await
            .expect("count");
    assert_eq!(queued, 0, "no case event queued for the stream");
    // The webhook status says so.
    let (status, body) = a.admin_get("/v1/admin/webhooks").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["event_stream"], false, "{body}");
}
