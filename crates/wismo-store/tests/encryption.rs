//! Personal data at rest, on SQLite and PostgreSQL: nothing of a shopper is
//! readable in the database files / text columns, lookups by email still work
//! (keyed hashes), a wrong key, a tampered value or a value moved to another
//! column is a clear error, keys rotate (with a resumable sweep) and retire,
//! and rows written before encryption are read and then encrypted.

mod common;

use chrono::{TimeZone, Utc};
use common::Fixture;
use wismo_core::dialogue::Event;
use wismo_store::{Db, Keyring, NewConversation, NewHandoff, Shopper};

const EMAIL: &str = "emma.johnson@example.com";
/// Personal values of order #1001 in the demo store.
const EMMA: [&str; 6] = [
    EMAIL,
    "Johnson",
    "Hawthorne",
    "503-555-0142",
    "97214",
    "Apt 3",
];
const MESSAGE: &str = "my secret-sentence-4711 about the parcel";

fn t(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0)
        .single()
        .expect("t")
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

fn sqlite_path(url: &str) -> String {
    url.trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The SQLite database's files as bytes (lossy text): db, WAL, shm.
fn sqlite_files(url: &str) -> String {
    let path = sqlite_path(url);
    let mut all = String::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

async fn raw(fx: &Fixture, name: &str) -> String {
    match name {
        "sqlite" => sqlite_files(&fx.sqlite_url),
        _ => pg_dump(&fx.pg_url).await,
    }
}

/// Runs one statement on the database behind the pool's back.
async fn exec(fx: &Fixture, name: &str, sql: &str) {
    match name {
        "sqlite" => {
            let pool = sqlx::SqlitePool::connect(&fx.sqlite_url)
                .await
                .expect("sqlite");
            sqlx::query(sql).execute(&pool).await.expect(sql);
            pool.close().await;
        }
        _ => {
            let pool = sqlx::PgPool::connect(&fx.pg_url).await.expect("pg");
            sqlx::query(sql).execute(&pool).await.expect(sql);
            pool.close().await;
        }
    }
}

fn said(text: &str) -> Event {
    Event::UserSaid {
        text: text.into(),
        at: t(12),
        intent: "track_order".into(),
        confidence: 0.9,
        sentiment: 0.0,
        understood: true,
    }
}

/// The demo store plus a conversation with every kind of personal data.
async fn seed(db: &Db) {
    db.load_demo_if_empty().await.expect("demo");
    db.create_conversation_with(
        &NewConversation {
            id: "c_1".into(),
            token_hash: "hash-c_1".into(),
            locale: None,
            channel: "web".into(),
            metadata: serde_json::json!({"page": "https://shop.example/?email=meta-7788"}),
            customer: Some(EMAIL.into()),
            created_at: t(11),
        },
        &[
            said(MESSAGE),
            Event::Verified {
                order_number: Some("1001".into()),
                email: Some(EMAIL.into()),
            },
        ],
    )
    .await
    .expect("conversation");
    db.remember_client_message(
        "c_1",
        "m1",
        Some(1),
        &serde_json::json!({"reply": "answer-cached-5150"}),
    )
    .await
    .expect("remember");
    let h = db
        .create_handoff(&NewHandoff {
            conversation_id: "c_1".into(),
            reason: "asked".into(),
            priority: 1,
            locale: None,
            intent: None,
            sentiments: vec![],
            order_number: Some("1001".into()),
            contact_email: None,
            offline: true,
            requested_at: t(12),
            last_role: Some("user".into()),
            last_text: Some(MESSAGE.into()),
            last_at: Some(t(12)),
            case_ref: None,
        })
        .await
        .expect("handoff");
    db.set_handoff_contact(h.id, "emma.contact@example.org")
        .await
        .expect("contact");
    db.add_csat("c_1", 2, Some("comment-slow-9090"), t(13))
        .await
        .expect("csat");
    db.open_case(Some("1001"), "damaged", "case-text-3131 glass broke", t(13))
        .await
        .expect("case");
    db.outbox_push(
        "evt_1",
        "conversation.message",
        &format!("{{\"conversation_id\":\"c_1\",\"text\":\"{MESSAGE}\",\"email\":\"{EMAIL}\"}}"),
        Some("c_1"),
        &["https://crm.example/hook".to_string()],
        t(12),
    )
    .await
    .expect("outbox");
}

const SECRETS: [&str; 7] = [
    MESSAGE,
    "secret-sentence-4711",
    "meta-7788",
    "answer-cached-5150",
    "emma.contact@example.org",
    "comment-slow-9090",
    "case-text-3131",
];

#[tokio::test]
async fn personal_data_is_encrypted_and_still_found_by_email() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        seed(db).await;
        let dump = raw(&fx, name).await;
        assert!(
            dump.contains("c_1") && dump.contains("enc:1:k1:"),
            "{name}: the check sees the rows"
        );
        for secret in EMMA.iter().chain(SECRETS.iter()) {
            assert!(
                !dump.contains(secret),
                "{name}: {secret:?} is readable in the database"
            );
        }

        // Lookups by email go through the keyed hash (any case, spaces).
        let found = db
            .orders_by_email(" Emma.Johnson@EXAMPLE.com")
            .await
            .expect("by email");
        assert!(found.iter().any(|o| o.number == "1001"), "{name}");
        let o = db.find_order("1001").await.expect("find").expect("order");
        assert_eq!(o.email.as_deref(), Some(EMAIL), "{name}");
        let a = o.shipping_address.expect("address");
        assert_eq!(a.address1, "1422 SE Hawthorne Blvd", "{name}");
        assert_eq!(a.phone.as_deref(), Some("+1 503-555-0142"), "{name}");
        assert_eq!(
            o.customer.and_then(|c| c.last_name).as_deref(),
            Some("Johnson")
        );

        // Everything reads back as written.
        let events = db.load_events("c_1").await.expect("events");
        assert_eq!(events[0], said(MESSAGE), "{name}");
        let conv = db.conversation("c_1").await.expect("conv").expect("row");
        assert_eq!(conv.customer.as_deref(), Some(EMAIL), "{name}");
        assert_eq!(
            conv.metadata["page"],
            "https://shop.example/?email=meta-7788"
        );
        let cached = db
            .recall_client_message("c_1", "m1")
            .await
            .expect("recall")
            .expect("cached");
        assert_eq!(cached.response["reply"], "answer-cached-5150", "{name}");
        let h = &db.handoffs_of("c_1").await.expect("handoffs")[0];
        assert_eq!(h.last_text.as_deref(), Some(MESSAGE), "{name}");
        assert_eq!(h.contact_email.as_deref(), Some("emma.contact@example.org"));
        let c = db.csat("c_1").await.expect("csat").expect("rated");
        assert_eq!(c.comment.as_deref(), Some("comment-slow-9090"), "{name}");
        assert!(db
            .cases()
            .await
            .expect("cases")
            .iter()
            .any(|c| c.description == "case-text-3131 glass broke"));
        // The webhook worker gets the body to sign and send in plaintext.
        let claimed = db
            .outbox_claim(
                &["https://crm.example/hook".to_string()],
                10,
                t(14),
                std::time::Duration::from_secs(30),
            )
            .await
            .expect("claim");
        assert!(claimed[0].body.contains(MESSAGE), "{name}");

        // GDPR requests find the shopper through the hashes too.
        for email in [EMAIL, "Emma.Contact@example.org"] {
            let who = Shopper {
                email: Some(email.into()),
                customer_id: None,
            };
            assert_eq!(
                db.shopper_conversations(&who).await.expect("find"),
                ["c_1"],
                "{name}: {email}"
            );
        }
        let who = Shopper {
            email: Some(EMAIL.into()),
            customer_id: None,
        };
        let doc = db.export_shopper(&who).await.expect("export").to_string();
        assert!(doc.contains(MESSAGE) && doc.contains("Johnson"), "{name}");
        let erased = db.erase_shopper(&who).await.expect("erase");
        assert_eq!((erased.conversations, erased.outbox_rows), (1, 1), "{name}");
        assert!(erased.customers >= 1, "{name}");
        assert!(db
            .orders_by_email(EMAIL)
            .await
            .expect("by email")
            .is_empty());
    }
}

#[tokio::test]
async fn a_wrong_key_tampering_or_moving_a_value_is_a_clear_error() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        seed(db).await;
        // Another key file: the values do not decrypt, and the error says so.
        let other = fx.dir.join(format!("other-{name}.key"));
        let url = if *name == "sqlite" {
            &fx.sqlite_url
        } else {
            &fx.pg_url
        };
        let wrong = Db::connect_with_key_file(url, &other)
            .await
            .expect("connects");
        let err = wrong.orders_by_email(EMAIL).await;
        assert!(
            err.as_ref().is_ok_and(|o| o.is_empty()),
            "{name}: another lookup key finds nothing"
        );
        let err = wrong.find_order("1001").await.expect_err("wrong key");
        let msg = err.to_string();
        assert!(
            msg.contains("does not decrypt") && msg.contains("wrong key"),
            "{name}: {msg}"
        );
        assert!(!msg.contains("enc:1"), "{name}: {msg}");
        wrong.close().await;

        // A value moved to another column.
        exec(
            &fx,
            name,
            "UPDATE orders SET ship_city = ship_zip WHERE number = '1002'",
        )
        .await;
        let msg = db.find_order("1002").await.expect_err("moved").to_string();
        assert!(
            msg.contains("orders.ship_city") && msg.contains("moved"),
            "{name}: {msg}"
        );
        // A tampered value: one character of the ciphertext changed.
        let dialect_sql = if *name == "sqlite" {
            "UPDATE orders SET ship_zip = substr(ship_zip, 1, length(ship_zip) - 5) || \
             CASE WHEN substr(ship_zip, -5, 1) = 'A' THEN 'B' ELSE 'A' END || \
             substr(ship_zip, -4) WHERE number = '1003'"
        } else {
            "UPDATE orders SET ship_zip = left(ship_zip, length(ship_zip) - 5) || \
             CASE WHEN substr(ship_zip, length(ship_zip) - 4, 1) = 'A' THEN 'B' ELSE 'A' END || \
             right(ship_zip, 4) WHERE number = '1003'"
        };
        exec(&fx, name, dialect_sql).await;
        let msg = db
            .find_order("1003")
            .await
            .expect_err("tampered")
            .to_string();
        assert!(
            msg.contains("orders.ship_zip") && msg.contains("tampered"),
            "{name}: {msg}"
        );
        // Untouched orders still read.
        assert!(db.find_order("1001").await.expect("1001").is_some());
    }
}

#[tokio::test]
async fn rotation_re_encrypts_resumably_and_old_keys_retire() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        seed(db).await;
        let usage = db.data_key_usage().await.expect("usage");
        assert_eq!(usage.len(), 1, "{name}: {usage:?}");
        assert_eq!(usage[0].kid.as_deref(), Some("k1"));
        let total = usage[0].values;
        assert!(total > 100, "{name}: {total}");

        let (old, new) = db.rotate_data_key().await.expect("rotate");
        assert_eq!((old.as_str(), new.as_str()), ("k1", "k2"), "{name}");
        // New writes use the new key at once.
        db.append_events("c_1", &[said("after-rotation-2222")])
            .await
            .expect("append");
        // An interrupted sweep: one batch of 5 rows, then stop.
        let part = db.reencrypt_sweep(5, Some(1)).await.expect("part");
        assert_eq!((part.rows, part.complete), (5, false), "{name}");
        let usage = db.data_key_usage().await.expect("usage");
        let of = |k: &str| {
            usage
                .iter()
                .find(|u| u.kid.as_deref() == Some(k))
                .map_or(0, |u| u.values)
        };
        assert!(of("k1") > 0 && of("k2") > 0, "{name}: {usage:?}");
        // The old key cannot go while rows use it.
        let refused = db.retire_data_key("k1").await.expect_err("in use");
        assert!(
            refused.to_string().contains("still use"),
            "{name}: {refused}"
        );
        // Everything still reads, under either key.
        assert_eq!(db.load_events("c_1").await.expect("events").len(), 3);
        // Resume: the rest.
        let rest = db.reencrypt_sweep(50, None).await.expect("rest");
        assert!(rest.complete && rest.rows > 0, "{name}: {rest:?}");
        // Idempotent: nothing left.
        assert_eq!(db.reencrypt_sweep(50, None).await.expect("again").rows, 0);
        let usage = db.data_key_usage().await.expect("usage");
        assert_eq!(usage.len(), 1, "{name}: {usage:?}");
        assert_eq!(usage[0].kid.as_deref(), Some("k2"));
        assert_eq!(usage[0].values, total + 1, "{name}");

        let refused = db.retire_data_key("k2").await.expect_err("active");
        assert!(refused.to_string().contains("active"), "{name}: {refused}");
        db.retire_data_key("k1").await.expect("retired");
        assert_eq!(db.crypt().keyring().key_ids(), ["k2"], "{name}");
        // Another process with the key file reads everything.
        let key_file = db.crypt().path().expect("a key file").to_path_buf();
        let keys = Keyring::load(&key_file).expect("file");
        assert_eq!(keys.key_ids(), ["k2"]);
        let url = if *name == "sqlite" {
            &fx.sqlite_url
        } else {
            &fx.pg_url
        };
        let again = Db::connect_with_key_file(url, &key_file)
            .await
            .expect("reconnect");
        let events = again.load_events("c_1").await.expect("events");
        assert_eq!(events[0], said(MESSAGE), "{name}");
        let o = again.find_order("1001").await.expect("find").expect("1001");
        assert_eq!(o.email.as_deref(), Some(EMAIL));
        again.close().await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_file)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: key file mode {mode:o}");
        }
    }
}

#[tokio::test]
async fn a_server_with_the_old_key_file_reads_rows_under_a_new_key() {
    let fx = Fixture::new().await;
    let (_, db) = &fx.dbs[0];
    seed(db).await;
    let key_file = db.crypt().path().expect("key file").to_path_buf();
    // Another process (the CLI) rotates and re-encrypts everything.
    let cli = Db::connect_with_key_file(&fx.sqlite_url, &key_file)
        .await
        .expect("cli");
    cli.rotate_data_key().await.expect("rotate");
    cli.reencrypt_sweep(500, None).await.expect("sweep");
    cli.close().await;
    // This pool still has only k1 in memory: it reloads on meeting k2.
    assert_eq!(db.crypt().keyring().active_id(), "k1");
    let events = db.load_events("c_1").await.expect("events");
    assert_eq!(events[0], said(MESSAGE));
    assert_eq!(db.crypt().keyring().active_id(), "k2");
}

#[tokio::test]
async fn rows_from_before_encryption_are_read_then_encrypted() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        // Written as the schema before 0006 would hold them: plaintext, no hashes.
        exec(
            &fx,
            name,
            "INSERT INTO customers (id, email, first_name, last_name) \
             VALUES ('cu_9', 'Legacy.Lou@example.com', 'Lou', 'Legacyname')",
        )
        .await;
        exec(
            &fx,
            name,
            "INSERT INTO orders (number, number_key, id, email, customer_id, created_at, \
             financial_status, fulfillment_status, currency, total_price, returned, ship_name, \
             ship_address1, ship_city, ship_zip) VALUES ('#9001', '9001', '9001', \
             'legacy.lou@example.com', 'cu_9', '2026-11-01T10:00:00+00:00', 'paid', \
             'unfulfilled', 'USD', '10.00', FALSE, 'Lou Legacyname', '9 Oldstreet', \
             'Oldtown', '55501')",
        )
        .await;
        exec(
            &fx,
            name,
            "INSERT INTO conversations (id, token_hash, locale, channel, metadata, customer, \
             created_at, last_active_at, last_seq) VALUES ('c_old', 'h', NULL, 'web', \
             '{\"legacy\":\"meta-old-1\"}', 'legacy.lou@example.com', \
             '2026-11-01T10:00:00+00:00', '2026-11-01T10:00:00+00:00', 0)",
        )
        .await;
        db.append_events("c_old", &[said("old-words-6060")])
            .await
            .expect("append");
        // Readable as they are.
        let o = db.find_order("9001").await.expect("find").expect("order");
        assert_eq!(o.email.as_deref(), Some("legacy.lou@example.com"), "{name}");
        let conv = db.conversation("c_old").await.expect("c").expect("row");
        assert_eq!(conv.metadata["legacy"], "meta-old-1", "{name}");
        assert!(raw(&fx, name).await.contains("Legacyname"), "{name}");

        let swept = db.reencrypt_sweep(100, None).await.expect("sweep");
        assert!(swept.complete && swept.rows >= 3, "{name}: {swept:?}");
        let dump = raw(&fx, name).await;
        for gone in [
            "legacy.lou@example.com",
            "Legacyname",
            "Oldstreet",
            "meta-old-1",
        ] {
            assert!(!dump.contains(gone), "{name}: {gone:?} still in plaintext");
        }
        // And now found by email (the sweep filled the hashes).
        let found = db
            .orders_by_email("LEGACY.lou@example.com")
            .await
            .expect("by email");
        assert_eq!(found.len(), 1, "{name}");
        assert_eq!(
            found[0].shipping_address.as_ref().map(|a| a.city.as_str()),
            Some("Oldtown")
        );
        let who = Shopper {
            email: Some("legacy.lou@example.com".into()),
            customer_id: None,
        };
        assert_eq!(
            db.shopper_conversations(&who).await.expect("find"),
            ["c_old"]
        );
        let usage = db.data_key_usage().await.expect("usage");
        assert!(usage.iter().all(|u| u.kid.is_some()), "{name}: {usage:?}");
    }
}
