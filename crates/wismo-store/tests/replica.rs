//! `Db::with_replica` and `Db::replica_reads` without a streaming replica
//! (the server's `tests/replica.rs` starts a real one): what is refused,
//! what is accepted, and the fallback to the primary when the "replica"
//! does not answer or lacks the schema.

mod common;

use chrono::{TimeZone, Utc};
use common::{pg_base_url, Fixture};
use wismo_store::{Db, ReplicaCheck, StoreDbError};

fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("postgres://postgres@127.0.0.1:{port}/wismo")
}

fn pg(fx: &Fixture) -> &Db {
    &fx.dbs[1].1
}

/// One pending outbox row on `db`.
async fn push_one(db: &Db) {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("time");
    let added = db
        .outbox_push(
            "evt_replica",
            "agent.message",
            "{}",
            None,
            &["https://a.example/hook".to_string()],
            at,
        )
        .await
        .expect("push");
    assert_eq!(added, 1);
}

#[tokio::test]
async fn a_replica_needs_postgres_on_both_sides() {
    let fx = Fixture::new().await;
    let sqlite = &fx.dbs[0].1;
    let err = sqlite
        .with_replica(&fx.pg_url)
        .await
        .expect_err("SQLite has no replica");
    assert!(matches!(err, StoreDbError::ReplicaNeedsPostgres), "{err}");
    let err = pg(&fx)
        .with_replica(&fx.sqlite_url)
        .await
        .expect_err("an SQLite replica");
    assert!(matches!(err, StoreDbError::UnsupportedUrl), "{err}");
    assert!(!pg(&fx).has_replica());
    assert!(pg(&fx).replica_answers().await.is_none());
}

#[tokio::test]
async fn a_replica_that_refuses_the_connection_is_refused() {
    let fx = Fixture::new().await;
    // The server answers, with an error: no such database.
    let url = format!("{}/wismo_no_such_database_here", pg_base_url());
    let err = pg(&fx)
        .with_replica(&url)
        .await
        .expect_err("a replica of no database");
    assert!(matches!(err, StoreDbError::Sql(_)), "{err}");
}

#[tokio::test]
async fn reads_fall_back_to_the_primary_while_the_replica_does_not_answer() {
    let fx = Fixture::new().await;
    let (db, check) = pg(&fx)
        .with_replica(&closed_port_url())
        .await
        .expect("accepted while down");
    assert_eq!(check, ReplicaCheck::Unreachable);
    assert!(db.has_replica());
    assert_eq!(db.replica_answers().await, Some(false));
    push_one(&db).await;
    let status = db.replica_reads().outbox_status(5).await.expect("fallback");
    assert_eq!(status.pending, 1);
    assert_eq!(
        db.replica_reads()
            .store_versions(10)
            .await
            .expect("fallback")
            .len(),
        db.store_versions(10).await.expect("primary").len()
    );
}

#[tokio::test]
async fn reads_fall_back_to_the_primary_when_the_replica_lacks_the_schema() {
    let fx = Fixture::new().await;
    // A PostgreSQL database without wismo's tables: like a replica that has
    // not replayed a migration yet.
    let (db, check) = pg(&fx)
        .with_replica(&format!("{}/postgres", pg_base_url()))
        .await
        .expect("accepted");
    assert_eq!(check, ReplicaCheck::NotInRecovery);
    assert_eq!(db.replica_answers().await, Some(true));
    push_one(&db).await;
    let status = db.replica_reads().outbox_status(5).await.expect("fallback");
    assert_eq!(status.pending, 1, "read from the primary");
}

#[tokio::test]
async fn reads_go_to_the_replica_when_it_answers() {
    let fx = Fixture::new().await;
    // Another database with wismo's schema stands in for the replica: the
    // reads see its rows, not the primary's.
    let other = Fixture::new().await;
    push_one(pg(&other)).await;
    let (db, check) = pg(&fx).with_replica(&other.pg_url).await.expect("accepted");
    assert_eq!(check, ReplicaCheck::NotInRecovery);
    assert_eq!(db.outbox_status(5).await.expect("primary").pending, 0);
    assert_eq!(
        db.replica_reads()
            .outbox_status(5)
            .await
            .expect("replica")
            .pending,
        1,
        "read from the replica"
    );
    // Writes stay on the primary.
    push_one(&db).await;
    assert_eq!(db.outbox_status(5).await.expect("primary").pending, 1);
    assert_eq!(pg(&other).outbox_status(5).await.expect("other").pending, 1);
    // Without a replica, the reads are the primary's.
    assert_eq!(
        pg(&fx)
            .replica_reads()
            .outbox_status(5)
            .await
            .expect("primary")
            .pending,
        1
    );
}
