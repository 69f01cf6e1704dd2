//! The event stream's cursor on SQLite and PostgreSQL: appends mark their
//! conversation in their own transaction, relays claim conversations behind
//! with a lease, and publishing advances the cursor.

mod common;

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use common::Fixture;
use serde_json::json;
use wismo_core::dialogue::Event;
use wismo_store::{Db, NewConversation};

const LEASE: StdDuration = StdDuration::from_secs(30);

fn conversation(id: &str) -> NewConversation {
    NewConversation {
        id: id.to_string(),
        token_hash: "sha256:ab12".into(),
        locale: Some("en".into()),
        channel: "web".into(),
        metadata: json!({}),
        customer: None,
        created_at: Utc::now(),
    }
}

fn user(text: &str) -> Event {
    Event::SlotSet {
        name: "note".to_string(),
        value: text.to_string(),
    }
}

async fn behind(db: &Db) -> Vec<(String, i64, i64)> {
    db.stream_claim(100, Utc::now(), StdDuration::from_millis(1))
        .await
        .expect("claim")
        .into_iter()
        .map(|c| (c.conversation_id, c.streamed_seq, c.wanted_seq))
        .collect()
}

#[tokio::test]
async fn appends_mark_their_conversation_and_publishing_advances_the_cursor() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        // Before the stream is on, appends leave no mark.
        db.create_conversation(&conversation("before"))
            .await
            .expect("create");
        db.append_events("before", &[user("a")])
            .await
            .expect("append");
        assert_eq!(db.stream_backlog().await.expect("backlog"), 0, "{name}");

        db.enable_event_stream();
        assert!(db.event_stream_enabled());
        db.create_conversation(&conversation("c1"))
            .await
            .expect("create");
        db.create_conversation(&conversation("c2"))
            .await
            .expect("create");
        db.append_events("c1", &[user("one"), user("two")])
            .await
            .expect("append");
        db.append_events_after("c2", &[user("x")], 0)
            .await
            .expect("append");
        db.append_turn("c1", &[user("three")], 2, Some("m-1"))
            .await
            .expect("turn");
        assert_eq!(db.stream_backlog().await.expect("backlog"), 2, "{name}");

        let now = Utc::now();
        let claims = db.stream_claim(10, now, LEASE).await.expect("claim");
        let got: Vec<(String, i64, i64)> = claims
            .iter()
            .map(|c| (c.conversation_id.clone(), c.streamed_seq, c.wanted_seq))
            .collect();
        assert_eq!(
            got,
            vec![("c1".to_string(), 0, 3), ("c2".to_string(), 0, 1)],
            "{name}"
        );
        // Leased: nobody else gets them until the lease runs out.
        assert!(
            db.stream_claim(10, now, LEASE)
                .await
                .expect("claim")
                .is_empty(),
            "{name}"
        );
        let after_lease = now + Duration::seconds(31);
        assert_eq!(
            db.stream_claim(10, after_lease, LEASE)
                .await
                .expect("claim")
                .len(),
            2,
            "{name}: a dead relay's lease runs out"
        );

        // c1 published up to 3, c2 not: only c2 is behind.
        db.stream_advance(&claims[0], 3).await.expect("advance");
        assert_eq!(db.stream_backlog().await.expect("backlog"), 1, "{name}");
        // Advancing never goes back.
        db.stream_advance(&claims[0], 1).await.expect("advance");
        db.append_events("c1", &[user("four")])
            .await
            .expect("append");
        let later = after_lease + Duration::seconds(31);
        let again: Vec<(String, i64, i64)> = db
            .stream_claim(10, later, LEASE)
            .await
            .expect("claim")
            .into_iter()
            .map(|c| (c.conversation_id, c.streamed_seq, c.wanted_seq))
            .collect();
        assert_eq!(
            again,
            vec![("c1".to_string(), 3, 4), ("c2".to_string(), 0, 1)],
            "{name}"
        );
    }
}

#[tokio::test]
async fn racing_relays_never_claim_the_same_conversation() {
    let fx = Fixture::new().await;
    let second = Db::connect_with_key_file(&fx.pg_url, &fx.pg_key)
        .await
        .expect("a second server's handle");
    let sqlite_again = Db::connect(&fx.sqlite_url).await.expect("sqlite again");
    for ((name, db), other) in fx.dbs.iter().zip([sqlite_again, second]) {
        db.enable_event_stream();
        for i in 0..60 {
            let id = format!("r{i}");
            db.create_conversation(&conversation(&id))
                .await
                .expect("create");
            db.append_events(&id, &[user("hi")]).await.expect("append");
        }
        let now = Utc::now();
        let mut tasks = Vec::new();
        for i in 0..6 {
            let db = if i % 2 == 0 {
                db.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                db.stream_claim(7, now, LEASE).await.expect("claim")
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(
                t.await
                    .expect("joins")
                    .into_iter()
                    .map(|c| c.conversation_id),
            );
        }
        let unique: BTreeSet<&String> = all.iter().collect();
        assert_eq!(all.len(), 42, "{name}: six claims of seven");
        assert_eq!(unique.len(), 42, "{name}: no conversation claimed twice");
        let rest = behind(db).await;
        assert_eq!(rest.len(), 18, "{name}: only the unclaimed are left");
        assert!(
            rest.iter().all(|(id, _, _)| !unique.contains(id)),
            "{name}: a leased conversation was claimed again"
        );
        other.close().await;
    }
}

#[tokio::test]
async fn an_installation_has_one_id_that_every_server_reads() {
    let fx = Fixture::new().await;
    let other = Fixture::new().await;
    let again = Db::connect_with_key_file(&fx.pg_url, &fx.pg_key)
        .await
        .expect("a second handle");
    let mut ids = BTreeSet::new();
    for (name, db) in fx.dbs.iter().chain(other.dbs.iter()) {
        let id = db.installation_id().await.expect("id");
        assert_eq!(id.len(), 32, "{name}: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{name}: {id}");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 4, "every database its own");
    assert_eq!(
        again.installation_id().await.expect("id"),
        fx.dbs[1].1.installation_id().await.expect("id"),
        "the same on every server"
    );
}
