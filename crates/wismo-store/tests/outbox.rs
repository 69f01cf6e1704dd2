//! The webhook outbox on SQLite and PostgreSQL: every scenario runs on both.

mod common;

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::Fixture;
use wismo_store::{Db, StoreDbError};

const LEASE: StdDuration = StdDuration::from_secs(60);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("a valid time")
}

fn targets(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| format!("https://{n}.example/hook"))
        .collect()
}

fn body(i: usize) -> String {
    format!("{{\"id\":\"evt_{i}\",\"data\":{{\"text\":\"caf\u{e9} \\\"{i}\\\"\"}}}}")
}

async fn push(db: &Db, i: usize, to: &[String], at: DateTime<Utc>) -> u64 {
    db.outbox_push(&format!("evt_{i}"), "agent.message", &body(i), None, to, at)
        .await
        .expect("push")
}

#[tokio::test]
async fn push_is_idempotent_and_claims_deliver_once() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        let to = targets(&["a", "b"]);
        assert_eq!(push(db, 1, &to, t0()).await, 2, "{name}");
        // The same event again (and once more for a new target) adds only the new row.
        assert_eq!(push(db, 1, &to, t0()).await, 0, "{name}");
        let more = targets(&["a", "b", "c"]);
        assert_eq!(push(db, 1, &more, t0()).await, 1, "{name}");
        assert_eq!(
            push(db, 2, &[], t0()).await,
            0,
            "{name}: no targets, no rows"
        );

        // Only the targets asked for are claimed, with the body intact.
        let claimed = db.outbox_claim(&to, 10, t0(), LEASE).await.expect("claim");
        assert_eq!(claimed.len(), 2, "{name}");
        for m in &claimed {
            assert_eq!(m.event_id, "evt_1");
            assert_eq!(m.kind, "agent.message");
            assert_eq!(m.body, body(1), "{name}: body byte for byte");
            assert_eq!(m.attempts, 1);
            assert_eq!(m.lease_until, t0() + Duration::seconds(60));
            assert!(to.contains(&m.target));
        }
        // Leased: nobody else gets them, not even the same claimer.
        let again = db
            .outbox_claim(&more, 10, t0(), LEASE)
            .await
            .expect("claim");
        assert_eq!(again.len(), 1, "{name}: only target c is left");
        assert_eq!(again[0].target, more[2]);

        for m in &claimed {
            assert!(db.outbox_delivered(m, t0()).await.expect("delivered"));
            assert!(!db.outbox_delivered(m, t0()).await.expect("delivered twice"));
        }
        // Delivered rows are never claimed again, even after the lease.
        let later = t0() + Duration::hours(1);
        let rest = db
            .outbox_claim(&more, 10, later, LEASE)
            .await
            .expect("claim");
        assert_eq!(
            rest.len(),
            1,
            "{name}: c's lease ran out, so it is due again"
        );
        assert_eq!(rest[0].target, more[2]);
        assert_eq!(rest[0].attempts, 2, "{name}: the lost attempt counts");

        let status = db.outbox_status(10).await.expect("status");
        assert_eq!(
            (status.pending, status.delivered, status.dead),
            (1, 2, 0),
            "{name}"
        );
        let entries = db.outbox_entries("evt_1").await.expect("entries");
        assert_eq!(entries.len(), 3, "{name}");
        assert!(entries
            .iter()
            .filter(|e| to.contains(&e.target))
            .all(|e| e.delivered_at == Some(t0()) && e.locked_until.is_none()));
    }
}

#[tokio::test]
async fn retries_wait_for_their_time_and_dead_rows_stay_dead() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        let to = targets(&["a"]);
        push(db, 1, &to, t0()).await;
        push(db, 2, &to, t0()).await;
        let claimed = db.outbox_claim(&to, 10, t0(), LEASE).await.expect("claim");
        assert_eq!(claimed.len(), 2, "{name}");
        // Times with and without fractions of a second compare as times.
        let next = t0() + Duration::milliseconds(1500);
        assert!(db
            .outbox_retry(&claimed[0], next, "HTTP 500 Internal Server Error\nmore")
            .await
            .expect("retry"));
        assert!(db
            .outbox_dead(&claimed[1], "HTTP 410 Gone")
            .await
            .expect("dead"));
        // A second report for the same claim changes nothing.
        assert!(!db.outbox_dead(&claimed[0], "late").await.expect("dead"));
        assert!(!db
            .outbox_retry(&claimed[1], next, "late")
            .await
            .expect("retry"));

        for early in [
            t0() + Duration::seconds(1),
            t0() + Duration::milliseconds(1499),
            next - Duration::microseconds(1),
        ] {
            let none = db.outbox_claim(&to, 10, early, LEASE).await.expect("claim");
            assert!(none.is_empty(), "{name}: not due at {early}");
        }
        let status = db.outbox_status(10).await.expect("status");
        assert_eq!(
            (status.pending, status.delivered, status.dead),
            (1, 0, 1),
            "{name}"
        );
        assert_eq!(status.recent_failures.len(), 2, "{name}");
        let errors: BTreeSet<_> = status
            .recent_failures
            .iter()
            .filter_map(|f| f.last_error.clone())
            .collect();
        assert!(
            errors.contains("HTTP 500 Internal Server Error more"),
            "{name}: {errors:?}"
        );
        assert!(errors.contains("HTTP 410 Gone"), "{name}: {errors:?}");

        let due = db.outbox_claim(&to, 10, next, LEASE).await.expect("claim");
        assert_eq!(due.len(), 1, "{name}: due exactly at its time");
        assert_eq!(due[0].event_id, "evt_1");
        assert_eq!(due[0].attempts, 2);
        // Given back at shutdown: the attempt does not count.
        assert!(db.outbox_release(&due[0]).await.expect("release"));
        let due = db.outbox_claim(&to, 10, next, LEASE).await.expect("claim");
        assert_eq!(due.len(), 1, "{name}");
        assert_eq!(due[0].attempts, 2, "{name}");
        // A claim whose lease ran out and was claimed again cannot report.
        let stolen_at = next + Duration::minutes(2);
        let stolen = db
            .outbox_claim(&to, 10, stolen_at, LEASE)
            .await
            .expect("claim");
        assert_eq!(stolen.len(), 1, "{name}");
        assert!(!db
            .outbox_retry(&due[0], stolen_at, "slow")
            .await
            .expect("retry"));
        assert!(!db.outbox_release(&due[0]).await.expect("release"));
        assert!(db
            .outbox_delivered(&stolen[0], stolen_at)
            .await
            .expect("delivered"));
        let dead_row = db.outbox_entries("evt_2").await.expect("entries");
        assert!(
            dead_row[0].dead && dead_row[0].delivered_at.is_none(),
            "{name}"
        );
        let status = db.outbox_status(10).await.expect("status");
        assert_eq!(
            (status.pending, status.delivered, status.dead),
            (0, 1, 1),
            "{name}"
        );
        assert_eq!(status.recent_failures.len(), 1, "{name}: only the dead row");
    }
}

/// Many claimers at once (as on several servers): every row is claimed by
/// exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_row() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        let to = targets(&["a", "b"]);
        for i in 0..100 {
            push(db, i, &to, t0()).await;
        }
        // Half the claimers use a pool of their own, as another server would.
        let url = if *name == "sqlite" {
            &fx.sqlite_url
        } else {
            &fx.pg_url
        };
        let other = if *name == "sqlite" {
            Db::connect(url).await.expect("a second pool")
        } else {
            Db::connect_with_key_file(url, &fx.pg_key)
                .await
                .expect("a second pool")
        };
        let mut workers = Vec::new();
        for w in 0..8 {
            let db = if w % 2 == 0 {
                db.clone()
            } else {
                other.clone()
            };
            let to = to.clone();
            workers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = db.outbox_claim(&to, 7, t0(), LEASE).await.expect("claim");
                    if batch.is_empty() {
                        return mine;
                    }
                    for m in batch {
                        // Only half are delivered: the others stay leased.
                        if m.id % 2 == 0 {
                            db.outbox_delivered(&m, t0()).await.expect("delivered");
                        }
                        mine.push(m.id);
                    }
                }
            }));
        }
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.expect("worker"));
        }
        let unique: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), 200, "{name}: every row claimed once");
        assert_eq!(unique.len(), 200, "{name}: no row claimed twice");
        let status = db.outbox_status(0).await.expect("status");
        assert_eq!((status.pending, status.delivered), (100, 100), "{name}");
        other.close().await;
    }
}

#[tokio::test]
async fn nul_characters_are_refused() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        let err = db
            .outbox_push("evt\0", "agent.message", "{}", None, &targets(&["a"]), t0())
            .await
            .expect_err("NUL refused");
        assert!(matches!(err, StoreDbError::InvalidText(_)), "{name}: {err}");
        let none = db
            .outbox_claim(&["x\0".to_string()], 10, t0(), LEASE)
            .await
            .expect("claim");
        assert!(none.is_empty(), "{name}");
        assert!(db.outbox_entries("e\0").await.expect("entries").is_empty());
    }
}

async fn push_for(db: &Db, i: usize, conversation: &str, to: &[String]) {
    db.outbox_push(
        &format!("evt_{i}"),
        "agent.message",
        &body(i),
        Some(conversation),
        to,
        t0(),
    )
    .await
    .expect("push");
}

fn ids(claimed: &[wismo_store::OutboxMessage]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = claimed
        .iter()
        .map(|m| (m.event_id.clone(), m.target.clone()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_conversations_rows_go_one_at_a_time_in_order() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        let [a, b] = [targets(&["a"]), targets(&["b"])];
        push_for(db, 1, "c_1", &a).await;
        push_for(db, 2, "c_1", &a).await;
        push_for(db, 3, "c_2", &a).await;
        push_for(db, 4, "c_1", &a).await;
        push_for(db, 5, "c_1", &b).await;
        let both = [a[0].clone(), b[0].clone()];
        // The first row of each (target, conversation) only.
        let first = db
            .outbox_claim(&both, 10, t0(), LEASE)
            .await
            .expect("claim");
        assert_eq!(
            ids(&first),
            vec![
                ("evt_1".to_string(), a[0].clone()),
                ("evt_3".to_string(), a[0].clone()),
                ("evt_5".to_string(), b[0].clone()),
            ],
            "{name}"
        );
        // evt_1 fails: c_1's later rows for target a wait for its retry.
        let evt1 = first.iter().find(|m| m.event_id == "evt_1").expect("evt_1");
        let retry_at = t0() + Duration::seconds(10);
        assert!(db
            .outbox_retry(evt1, retry_at, "HTTP 503")
            .await
            .expect("retry"));
        for m in first.iter().filter(|m| m.event_id != "evt_1") {
            assert!(db.outbox_delivered(m, t0()).await.expect("delivered"));
        }
        let held = db
            .outbox_claim(&both, 10, t0(), LEASE)
            .await
            .expect("claim");
        assert!(
            held.is_empty(),
            "{name}: evt_2 waits behind evt_1: {held:?}"
        );
        let again = db
            .outbox_claim(&both, 10, retry_at, LEASE)
            .await
            .expect("claim");
        assert_eq!(
            ids(&again),
            vec![("evt_1".to_string(), a[0].clone())],
            "{name}"
        );
        assert!(db
            .outbox_delivered(&again[0], retry_at)
            .await
            .expect("delivered"));
        let second = db
            .outbox_claim(&both, 10, retry_at, LEASE)
            .await
            .expect("claim");
        assert_eq!(
            ids(&second),
            vec![("evt_2".to_string(), a[0].clone())],
            "{name}"
        );
        // A dead row lets the next one go.
        assert!(db.outbox_dead(&second[0], "HTTP 410").await.expect("dead"));
        let third = db
            .outbox_claim(&both, 10, retry_at, LEASE)
            .await
            .expect("claim");
        assert_eq!(
            ids(&third),
            vec![("evt_4".to_string(), a[0].clone())],
            "{name}"
        );
    }
}
