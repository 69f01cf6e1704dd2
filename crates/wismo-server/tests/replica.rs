//! Read replicas (issue 14, item 4) on a real streaming replica started by
//! the test (`common::replica`: `pg_basebackup -R`, applying 2 s late):
//!
//! * T6: shoppers always read their own writes — 1,000 write-then-read
//!   cycles through two servers whose lag-tolerant reads go to the replica,
//!   zero stale reads, while the replica itself is seen behind.
//! * The admin lists really read the replica: what was just written is not
//!   in them yet, and is 2 s later.
//! * A replica that stops: the lists answer from the primary and `/readyz`
//!   stays 200, reporting `"replica": "unavailable"`.
//!
//! Skipped (with a message) only when PostgreSQL's server programs are not
//! installed.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::replica::{PgPair, REPLICA_DELAY};
use common::{spawn_app_on, spawn_app_with, Backend, Conv, TestApp, ADMIN_TOKEN};
use futures_util::future::join_all;
use serde_json::{json, Value};
use sqlx::Connection;

/// Shoppers writing at the same time in T6, and cycles each.
const SHOPPERS: usize = 20;
const CYCLES_EACH: usize = 50;

/// T6 must finish well within this.
const T6_BOUND: Duration = Duration::from_secs(120);

/// A server on the pair's primary, its lag-tolerant reads on its replica,
/// without request rate limits (T6 is one client IP).
async fn server(pg: &PgPair) -> TestApp {
    let settings = [
        ("database_replica_url", pg.replica_url.as_str()),
        ("rate_limit_ip", "0"),
        ("rate_limit_conversation", "0"),
    ];
    spawn_app_on(&pg.primary_url, &settings).await
}

fn seq(m: &Value) -> i64 {
    m["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("numeric id in {m}"))
}

/// Why `transcript` misses what the write `reply` answered, if it does:
/// the shopper's message and every bot reply, with their seqs, and nothing
/// after them.
fn stale(transcript: &Value, reply: &Value) -> Option<String> {
    let messages = transcript["messages"].as_array()?;
    let by_seq: HashMap<i64, &Value> = messages.iter().map(|m| (seq(m), m)).collect();
    let user = &reply["user_message"];
    let mut expected = vec![user];
    expected.extend(reply["messages"].as_array()?.iter());
    for m in &expected {
        match by_seq.get(&seq(m)) {
            Some(found) if found["text"] == m["text"] && found["role"] == m["role"] => {}
            Some(found) => return Some(format!("seq {} is {found}, wrote {m}", seq(m))),
            None => return Some(format!("seq {} missing", seq(m))),
        }
    }
    let last = expected.iter().map(|m| seq(m)).max()?;
    let newest = messages.iter().map(seq).max()?;
    (newest != last).then(|| format!("newest seq {newest}, the write ended at {last}"))
}

/// One shopper's cycles: writes through `writer`, reads right after through
/// `reader`; also asks the replica directly whether it had the write yet.
/// Returns (stale reads, cycles where the replica was behind).
async fn shopper(
    n: usize,
    writer: &TestApp,
    reader: &TestApp,
    replica_url: &str,
) -> (Vec<String>, usize) {
    let mut replica = sqlx::PgConnection::connect(replica_url)
        .await
        .expect("connect to the replica");
    let conv: Conv = writer.create().await;
    let questions = [
        "do you ship to canada",
        "what is your return policy",
        "how long does standard shipping take",
        "thanks!",
    ];
    let mut stale_reads = Vec::new();
    let mut replica_behind = 0;
    for i in 0..CYCLES_EACH {
        let reply = writer.say(&conv, questions[i % questions.len()]).await;
        let transcript = reader.transcript(&conv).await;
        if let Some(why) = stale(&transcript, &reply) {
            stale_reads.push(format!("shopper {n}, cycle {i}: {why}"));
        }
        let on_replica: Option<i64> =
            sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = $1")
                .bind(&conv.id)
                .fetch_optional(&mut replica)
                .await
                .unwrap_or(None);
        let wrote = seq(&reply["user_message"]);
        if on_replica.is_none_or(|s| s < wrote) {
            replica_behind += 1;
        }
    }
    let _ = replica.close().await;
    (stale_reads, replica_behind)
}

/// T6: with a replica 2 s behind, 1,000 write-then-read cycles by shoppers
/// (20 at once, 50 each; each writes through one server and reads through
/// the other, which loads the conversation from the database): zero stale
/// reads. The replica seen behind in most cycles shows the reads would
/// have been stale, had they gone to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn t6_shoppers_read_their_own_writes_with_a_replica_two_seconds_behind() {
    let Some(pg) = PgPair::start().await else {
        return;
    };
    let a = server(&pg).await;
    let b = server(&pg).await;
    // The replica has the schema: from here on it is only behind.
    pg.wait_replayed().await;
    let started = Instant::now();
    let results = tokio::time::timeout(
        T6_BOUND,
        join_all((0..SHOPPERS).map(|n| {
            let (writer, reader) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
            shopper(n, writer, reader, &pg.replica_url)
        })),
    )
    .await
    .unwrap_or_else(|_| panic!("T6 did not finish within {T6_BOUND:?}"));
    let elapsed = started.elapsed();
    let cycles = SHOPPERS * CYCLES_EACH;
    let stale: Vec<String> = results.iter().flat_map(|(s, _)| s.clone()).collect();
    let behind: usize = results.iter().map(|(_, b)| b).sum();
    println!(
        "T6: {cycles} write-then-read cycles in {elapsed:.1?}; {} stale reads; replica behind in {behind}",
        stale.len()
    );
    assert_eq!(cycles, 1000);
    assert!(
        stale.is_empty(),
        "{} stale reads of {cycles}, first: {:?}",
        stale.len(),
        stale.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        behind >= cycles / 2,
        "the replica was behind in only {behind} of {cycles} cycles: the test did not exercise the lag"
    );
}

fn listed(resolutions: &Value, conversation: &str) -> bool {
    resolutions["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(|i| i["conversation_id"] == conversation))
}

fn version_ids(versions: &Value) -> Vec<i64> {
    versions["versions"]
        .as_array()
        .map(|vs| vs.iter().filter_map(|v| v["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// Waits until `ok` holds for `GET path` (admin), up to 10 s; returns how
/// long after `since` it first did.
async fn until_listed(
    app: &TestApp,
    path: &str,
    since: Instant,
    ok: impl Fn(&Value) -> bool,
) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, v) = app.admin_get(path).await;
        assert_eq!(s, 200, "{path}: {v}");
        if ok(&v) {
            return since.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed the write: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The admin lists read the replica: a conversation just created is not
/// in `GET /v1/admin/resolutions`, a version just published is not in `GET
/// /v1/admin/store/versions` — the primary has both — and both appear
/// about 2 s later. `/readyz` reports the replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_read_the_replica_and_lag_behind_the_primary() {
    let Some(pg) = PgPair::start().await else {
        return;
    };
    let app = server(&pg).await;
    // The schema and the demo store have reached the replica.
    pg.wait_replayed().await;
    let (s, ready) = app.admin_get("/readyz").await;
    assert_eq!((s, &ready["replica"]), (200, &json!("ok")), "{ready}");

    // Analytics.
    let written = Instant::now();
    let conv = app.create().await;
    let (s, now) = app.admin_get("/v1/admin/resolutions").await;
    let read_after = written.elapsed();
    assert_eq!(s, 200, "{now}");
    assert!(
        read_after < REPLICA_DELAY,
        "the read came {read_after:?} after the write: too slow to see the lag"
    );
    assert!(
        !listed(&now, &conv.id),
        "the new conversation is already in the resolutions read {read_after:?} after it was created: not read from the replica? {now}"
    );
    let on_primary = app
        .state
        .sessions
        .db
        .conversations_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .expect("primary");
    assert!(on_primary.iter().any(|(id, _)| *id == conv.id));
    let after = until_listed(&app, "/v1/admin/resolutions", written, |v| {
        listed(v, &conv.id)
    })
    .await;
    assert!(
        after >= REPLICA_DELAY - Duration::from_millis(300),
        "listed after {after:?}, before the replica's delay"
    );

    // A list.
    let (s, before) = app.admin_get("/v1/admin/store/versions").await;
    assert_eq!(s, 200, "{before}");
    let written = Instant::now();
    let (s, published) = app
        .post_json(
            ADMIN_TOKEN,
            "/v1/admin/store/publish",
            json!({"files": {"knowledge/en/shipping.md": "# Shipping\n\n## Shipping costs\nExpress shipping costs $45.67.\n"}, "message": "replica test"}),
        )
        .await;
    assert_eq!(s, 200, "{published}");
    let id = published["version"].as_i64().expect("version id");
    let (s, now) = app.admin_get("/v1/admin/store/versions").await;
    let read_after = written.elapsed();
    assert_eq!(s, 200, "{now}");
    assert!(read_after < REPLICA_DELAY, "{read_after:?}: too slow");
    assert!(
        !version_ids(&now).contains(&id),
        "version {id} is already listed {read_after:?} after publishing: not read from the replica? {now} (before: {before})"
    );
    assert_ne!(now["active"], json!(id), "{now}");
    let after = until_listed(&app, "/v1/admin/store/versions", written, |v| {
        version_ids(v).contains(&id) && v["active"] == json!(id)
    })
    .await;
    assert!(
        after >= REPLICA_DELAY - Duration::from_millis(300),
        "{after:?}"
    );
}

/// A replica that stops: `/readyz` answers quickly, stays 200 and says the
/// replica is unavailable and that reads fall back; the lists answer from
/// the primary (what was just written is in them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_falls_back_to_the_primary_and_the_server_stays_ready() {
    let Some(pg) = PgPair::start().await else {
        return;
    };
    let app = server(&pg).await;
    pg.wait_replayed().await;
    // The pool holds open connections to the replica from here on.
    let (s, v) = app.admin_get("/v1/admin/resolutions").await;
    assert_eq!(s, 200, "{v}");

    pg.stop_replica().await;
    // Readiness first, quickly every time: a load balancer checking every
    // 500 ms must not time out and take every instance out because of the
    // replica.
    for _ in 0..3 {
        let asked = Instant::now();
        let (s, ready) = app.admin_get("/readyz").await;
        assert_eq!(
            (s, &ready["replica"]),
            (200, &json!("unavailable")),
            "{ready}"
        );
        assert!(
            asked.elapsed() < Duration::from_millis(400),
            "/readyz took {:?} with the replica down",
            asked.elapsed()
        );
    }
    let conv = app.create().await;
    let started = Instant::now();
    let (s, v) = app.admin_get("/v1/admin/resolutions").await;
    assert_eq!(s, 200, "{v}");
    assert!(
        listed(&v, &conv.id),
        "the fallback read did not come from the primary: {v}"
    );
    for path in ["/v1/admin/store/versions", "/v1/admin/webhooks"] {
        let (s, v) = app.admin_get(path).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the fallback took {:?}",
        started.elapsed()
    );
    let (s, ready) = app.admin_get("/readyz").await;
    assert_eq!(s, 200, "{ready}");
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");
    assert_eq!(ready["replica"], "unavailable", "{ready}");
    assert!(
        ready["replica_note"]
            .as_str()
            .is_some_and(|n| n.contains("primary")),
        "{ready}"
    );
    // Shoppers never noticed.
    let reply = app.say(&conv, "do you ship to canada").await;
    assert!(stale(&app.transcript(&conv).await, &reply).is_none());
}

/// A replica that does not answer at start does not stop the server: it
/// starts, is ready, and says so; without a replica `/readyz` has no
/// `replica` at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_down_at_start_leaves_the_server_ready() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let url = format!("postgres://postgres@127.0.0.1:{port}/wismo");
    let app = spawn_app_with(Backend::Postgres, &[("database_replica_url", url.as_str())]).await;
    let (s, ready) = app.admin_get("/readyz").await;
    assert_eq!(
        (s, &ready["replica"]),
        (200, &json!("unavailable")),
        "{ready}"
    );
    let conv = app.create().await;
    let (s, v) = app.admin_get("/v1/admin/resolutions").await;
    assert_eq!(s, 200, "{v}");
    assert!(listed(&v, &conv.id), "{v}");

    let plain = spawn_app_with(Backend::Postgres, &[]).await;
    let (s, ready) = plain.admin_get("/readyz").await;
    assert_eq!(s, 200);
    assert!(ready.get("replica").is_none(), "{ready}");
}
