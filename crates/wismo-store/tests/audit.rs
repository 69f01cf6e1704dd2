//! The audit trail on SQLite and PostgreSQL: appends chain, the database
//! refuses changes, and verification finds any edit or deletion even when
//! the refusal was switched off.

mod common;

use chrono::{TimeZone, Utc};
use common::Fixture;
use serde_json::json;
use wismo_store::{AuditEntry, Db};

fn entry(i: i64) -> AuditEntry {
    AuditEntry {
        actor: format!("a_{i}"),
        actor_kind: "agent".into(),
        action: if i % 2 == 0 {
            "transcript.view"
        } else {
            "agent.sign_in"
        }
        .into(),
        target: Some(format!("c_{i}")),
        ip: Some("192.0.2.7".into()),
        details: json!({"n": i, "note": "caf\u{e9}"}),
        at: Utc
            .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
            .single()
            .expect("time")
            + chrono::Duration::microseconds(i * 1_000_123),
    }
}

async fn fill(db: &Db, n: i64) {
    for i in 1..=n {
        let r = db.audit(&entry(i)).await.expect("append");
        assert_eq!(r.seq, i);
    }
}

/// Runs raw SQL, first dropping the append-only triggers (an attacker with
/// database access).
async fn tamper(fx: &Fixture, name: &str, sql: &str) {
    if name == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&fx.sqlite_url)
            .await
            .expect("sqlite");
        for s in [
            "DROP TRIGGER IF EXISTS audit_log_no_update",
            "DROP TRIGGER IF EXISTS audit_log_no_delete",
            sql,
        ] {
            sqlx::query(s).execute(&pool).await.expect(s);
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&fx.pg_url).await.expect("postgres");
        for s in [
            "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
            sql,
        ] {
            sqlx::query(s).execute(&pool).await.expect(s);
        }
        pool.close().await;
    }
}

#[tokio::test]
async fn the_chain_verifies_and_concurrent_appends_stay_gapless() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        assert_eq!(
            db.audit_verify().await.expect("verify").broken,
            None,
            "{name}: empty is fine"
        );
        fill(db, 5).await;
        let mut tasks = Vec::new();
        for i in 6..=25 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.audit(&entry(i)).await.expect("append").seq
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.expect("task"));
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (6..=25).collect::<Vec<_>>(), "{name}");
        let report = db.audit_verify().await.expect("verify");
        assert_eq!((report.entries, report.broken), (25, None), "{name}");
        let page = db.audit_entries(20, 3).await.expect("entries");
        assert_eq!(
            page.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![21, 22, 23]
        );
        assert_eq!(
            page[0].prev_hash,
            db.audit_entries(19, 1).await.expect("e")[0].hash
        );
    }
}

#[tokio::test]
async fn the_database_refuses_changes() {
    let fx = Fixture::new().await;
    if let Some((_, db)) = fx.dbs.first() {
        fill(db, 2).await;
    }
    let pool = sqlx::SqlitePool::connect(&fx.sqlite_url)
        .await
        .expect("sqlite");
    for sql in [
        "UPDATE audit_log SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ] {
        let e = sqlx::query(sql).execute(&pool).await.expect_err("refused");
        assert!(e.to_string().contains("append-only"), "{e}");
    }
    let (_, pg) = &fx.dbs[1];
    fill(pg, 2).await;
    let pool = sqlx::PgPool::connect(&fx.pg_url).await.expect("postgres");
    for sql in [
        "UPDATE audit_log SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ] {
        let e = sqlx::query(sql).execute(&pool).await.expect_err("refused");
        assert!(e.to_string().contains("append-only"), "{e}");
    }
}

#[tokio::test]
async fn edits_and_deletions_are_found() {
    let cases: [(&str, i64, &str); 4] = [
        (
            "UPDATE audit_log SET details = '{\"n\":3}' WHERE seq = 3",
            3,
            "edited",
        ),
        (
            "UPDATE audit_log SET actor = 'someone else' WHERE seq = 5",
            5,
            "edited",
        ),
        ("DELETE FROM audit_log WHERE seq = 4", 4, "missing"),
        ("DELETE FROM audit_log WHERE seq >= 5", 5, "deleted"),
    ];
    for (sql, at, what) in cases {
        let fx = Fixture::new().await;
        for (_, db) in &fx.dbs {
            fill(db, 6).await;
        }
        for (name, db) in &fx.dbs {
            tamper(&fx, name, sql).await;
            let report = db.audit_verify().await.expect("verify");
            let (seq, why) = report
                .broken
                .unwrap_or_else(|| panic!("{name}: {sql} not noticed"));
            assert_eq!(seq, at, "{name}: {sql}: {why}");
            assert!(why.contains(what), "{name}: {sql}: {why}");
        }
    }
    // Rewriting a row and its hash breaks the next link.
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        fill(db, 4).await;
        tamper(
            &fx,
            name,
            "UPDATE audit_log SET hash = 'f00d' WHERE seq = 2",
        )
        .await;
        let report = db.audit_verify().await.expect("verify");
        assert_eq!(report.broken.map(|b| b.0), Some(2), "{name}");
    }
}
