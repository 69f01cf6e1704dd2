//! GDPR on SQLite and PostgreSQL: export finds the shopper's conversations
//! and orders; erasure leaves nothing of them in the database files (raw
//! bytes on SQLite, every text column on PostgreSQL) and touches no one else.

mod common;

use chrono::{TimeZone, Utc};
use common::Fixture;
use wismo_core::dialogue::Event;
use wismo_store::{Db, NewConversation, Shopper};

const EMAIL: &str = "emma.johnson@example.com";

fn said(text: &str) -> Event {
    Event::UserSaid {
        text: text.into(),
        at: Utc
            .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
            .single()
            .expect("t"),
        intent: "track_order".into(),
        confidence: 0.9,
        sentiment: 0.0,
        understood: true,
    }
}

async fn conversation(db: &Db, id: &str, customer: Option<&str>, events: &[Event]) {
    db.create_conversation_with(
        &NewConversation {
            id: id.into(),
            token_hash: format!("hash-{id}"),
            locale: None,
            channel: "web".into(),
            metadata: serde_json::json!({}),
            customer: customer.map(str::to_string),
            created_at: Utc
                .with_ymd_and_hms(2026, 11, 24, 11, 0, 0)
                .single()
                .expect("t"),
        },
        events,
    )
    .await
    .expect("create");
}

async fn seed(db: &Db) {
    db.load_demo_if_empty().await.expect("demo");
    conversation(
        db,
        "c_anon",
        None,
        &[
            said("where is my order #1001"),
            said("it's emma.johnson@example.com zebra-kite-42"),
            Event::Verified {
                order_number: Some("1001".into()),
                email: Some(EMAIL.into()),
            },
        ],
    )
    .await;
    conversation(
        db,
        "c_signed",
        Some(EMAIL),
        &[said("hello marker-77-signed-in")],
    )
    .await;
    conversation(db, "c_other", None, &[said("keep me marker-99-other")]).await;
    let body = format!(
        "{{\"id\":\"evt_1\",\"type\":\"case.contact\",\"conversation_id\":\"c_anon\",\"data\":{{\"contact_email\":\"{EMAIL}\"}}}}"
    );
    db.outbox_push(
        "evt_1",
        "case.contact",
        &body,
        None,
        &["https://crm.example/hook".to_string()],
        Utc::now(),
    )
    .await
    .expect("outbox");
}

/// Every text value in the PostgreSQL database, one string.
async fn pg_dump(url: &str) -> String {
    let pool = sqlx::PgPool::connect(url).await.expect("pg");
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let mut all = String::new();
    for (t,) in tables {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT CAST(t AS TEXT) FROM \"{t}\" t"))
                .fetch_all(&pool)
                .await
                .expect("rows");
        for (r,) in rows {
            all.push_str(&r);
            all.push('\n');
        }
    }
    pool.close().await;
    all
}

/// The SQLite database's files as bytes (lossy text).
fn sqlite_files(url: &str) -> String {
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut all = String::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

#[tokio::test]
async fn export_then_erase_leaves_nothing_of_the_shopper() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        seed(db).await;
        let who = Shopper {
            email: Some("Emma.Johnson@example.com ".into()),
            customer_id: None,
        };
        let mut ids = db.shopper_conversations(&who).await.expect("find");
        ids.sort();
        assert_eq!(ids, ["c_anon", "c_signed"], "{name}");
        let doc = db.export_shopper(&who).await.expect("export");
        let text = doc.to_string();
        assert!(
            text.contains("zebra-kite-42") && text.contains("marker-77-signed-in"),
            "{name}"
        );
        assert!(
            !text.contains("marker-99-other"),
            "{name}: someone else's conversation exported"
        );
        assert!(
            doc["orders"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o["number"] == "1001")),
            "{name}: the shopper's orders are exported"
        );

        let before = match *name {
            "sqlite" => sqlite_files(&fx.sqlite_url),
            _ => pg_dump(&fx.pg_url).await,
        };
        // The check sees the rows (ids are plaintext); their personal
        // fields are encrypted at rest even before the erasure.
        assert!(
            before.contains("c_signed"),
            "{name}: the check can see data"
        );
        assert!(
            !before.contains(EMAIL) && !before.contains("zebra-kite-42"),
            "{name}: personal data is encrypted at rest"
        );

        let erased = db.erase_shopper(&who).await.expect("erase");
        assert_eq!(erased.conversations, 2, "{name}");
        assert_eq!(erased.outbox_rows, 1, "{name}");
        assert!(erased.orders_anonymised >= 1, "{name}");
        let after = match *name {
            "sqlite" => sqlite_files(&fx.sqlite_url),
            _ => pg_dump(&fx.pg_url).await,
        };
        for gone in [EMAIL, "zebra-kite-42", "marker-77-signed-in", "c_signed"] {
            assert!(
                !after.contains(gone),
                "{name}: {gone:?} is still in the database"
            );
        }
        assert!(
            after.contains("c_other")
                && db.load_events("c_other").await.expect("events")
                    == [said("keep me marker-99-other")],
            "{name}: another shopper's data was touched"
        );
        // The order is still there for the shop, without her.
        let o = db
            .find_order("1001")
            .await
            .expect("find")
            .expect("order kept");
        assert_eq!(o.email, None);
        assert!(o.shipping_address.is_none(), "{name}");
        // Erasing again finds nothing.
        assert_eq!(
            db.erase_shopper(&who).await.expect("again").conversations,
            0
        );
    }
}

#[tokio::test]
async fn retention_deletes_only_old_conversations() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        conversation(db, "c_old", None, &[said("old chat marker-old")]).await;
        let cutoff = Utc::now();
        conversation(db, "c_new", None, &[]).await;
        db.touch("c_new", Utc::now() + chrono::Duration::hours(1))
            .await
            .expect("touch");
        let gone = db.purge_before(cutoff).await.expect("purge");
        assert_eq!(gone, ["c_old"], "{name}");
        assert!(
            db.conversation("c_old").await.expect("read").is_none(),
            "{name}"
        );
        assert!(
            db.conversation("c_new").await.expect("read").is_some(),
            "{name}"
        );
    }
    assert!(
        !sqlite_files(&fx.sqlite_url).contains("marker-old"),
        "purged text left in the SQLite files"
    );
}
