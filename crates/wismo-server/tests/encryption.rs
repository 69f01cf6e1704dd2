//! Personal data at rest through the server, on SQLite and PostgreSQL: a
//! shopper proves order #1001 with her email (the lookup works on encrypted
//! data) and says something; afterwards neither her email, her address nor
//! her words are readable anywhere in the database, while a restarted server
//! (same key file) still shows her transcript. A server whose key file is
//! rotated by another process reloads it and moves every row to the new key
//! in the background.

mod common;

use std::time::{Duration, Instant};

use common::{replies, spawn_app, spawn_app_with, Backend, BACKENDS};
use sqlx::{Connection, Row};

const EMAIL: &str = "emma.johnson@example.com";
const WORDS: &str = "the parcel for my sister-in-law-8642";

fn sqlite_text(database_url: &str) -> String {
    let path = database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
            all.extend(b);
        }
    }
    assert!(!all.is_empty(), "no SQLite file at {path}");
    String::from_utf8_lossy(&all).to_string()
}

async fn postgres_text(database_url: &str) -> String {
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .expect("connect");
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables")
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    let mut all = String::new();
    for t in &tables {
        for r in sqlx::query(&format!("SELECT row_to_json(x)::text FROM \"{t}\" x"))
            .fetch_all(&mut conn)
            .await
            .expect("rows")
        {
            all.push_str(&r.get::<String, _>(0));
        }
    }
    let _ = conn.close().await;
    all
}

async fn stored(backend: Backend, url: &str) -> String {
    match backend {
        Backend::Sqlite => sqlite_text(url),
        Backend::Postgres => postgres_text(url).await,
    }
}

#[tokio::test]
async fn verification_works_and_nothing_personal_is_readable_at_rest() {
    for backend in BACKENDS {
        let mut app = spawn_app(backend).await;
        let conv = app.create().await;
        let r = app.say(&conv, "where is my order #1001?").await;
        assert!(replies(&r).to_lowercase().contains("email"), "{r}");
        let r = app.say(&conv, &format!("it's {EMAIL}")).await;
        let card = r["messages"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m.get("order_card").is_some()))
            .map(|m| m["order_card"].clone())
            .unwrap_or_else(|| panic!("{backend:?}: verified by email: {r}"));
        assert_eq!(card["order_number"], "1001", "{r}");
        app.say(&conv, WORDS).await;

        let url = app.database_url.clone();
        let before = stored(backend, &url).await;
        assert!(
            before.contains(&conv.id),
            "{backend:?}: the check sees rows"
        );
        for secret in [
            EMAIL,
            "Hawthorne",
            "503-555-0142",
            "sister-in-law-8642",
            "Johnson",
        ] {
            assert!(
                !before.contains(secret),
                "{backend:?}: {secret:?} is readable in the database"
            );
        }
        // The transcript still reads back in full.
        let t = app.transcript(&conv).await.to_string();
        assert!(t.contains("sister-in-law-8642") && t.contains(EMAIL), "{t}");
        app.stop_server().await.expect("stop");
        assert!(
            !stored(backend, &url).await.contains(EMAIL),
            "{backend:?}: not after shutdown either"
        );
    }
}

#[tokio::test]
async fn a_running_server_follows_a_rotation_of_its_key_file() {
    let dir = std::env::temp_dir().join(format!(
        "wismo-rotate-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let key_file = dir.join("keys.json");
    let key_file_text = key_file.display().to_string();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("data_key_file", key_file_text.as_str())],
    )
    .await;
    let conv = app.create().await;
    app.say(&conv, WORDS).await;
    let db = app.state.sessions.db.clone();
    assert_eq!(db.crypt().path(), Some(key_file.as_path()));

    // Another process (`wismo keys rotate-data-key --no-sweep`) rotates.
    let kid = wismo_store::Keyring::rotate_file(&key_file).expect("rotate");
    assert_eq!(kid, "k2");
    // The server notices, reloads and re-encrypts everything under k2.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let usage = db.data_key_usage().await.expect("usage");
        if usage.len() == 1 && usage[0].kid.as_deref() == Some("k2") {
            break;
        }
        assert!(Instant::now() < deadline, "still {usage:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(db.crypt().keyring().active_id(), "k2");
    let t = app.transcript(&conv).await.to_string();
    assert!(t.contains("sister-in-law-8642"), "{t}");
    // New messages are written under k2 as well.
    app.say(&conv, "one more thing-5533").await;
    let usage = db.data_key_usage().await.expect("usage");
    assert!(
        usage.iter().all(|u| u.kid.as_deref() == Some("k2")),
        "{usage:?}"
    );
    app.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Key-file JSON for the `data_keys` setting, with fixed test-only keys.
fn data_keys_json(kid: &str, byte: u8) -> String {
    use base64::Engine as _;
    let b64 = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    serde_json::json!({
        "version": 1,
        "active": kid,
        "lookup": b64(byte.wrapping_add(1)),
        "keys": { kid: b64(byte) },
    })
    .to_string()
}

#[tokio::test]
async fn data_keys_given_as_a_secret_replace_the_key_file() {
    let keys = data_keys_json("k7", 42);
    let app = spawn_app_with(Backend::Sqlite, &[("data_keys", keys.as_str())]).await;
    let db = app.state.sessions.db.clone();
    assert_eq!(db.crypt().path(), None, "no key file is used");
    assert_eq!(db.crypt().keyring().active_id(), "k7");
    // The keys never show in the configuration's debug output.
    let shown = format!("{:?}", app.state.config);
    assert!(!shown.contains(&keys[..40]), "{shown}");

    let conv = app.create().await;
    app.say(&conv, "where is my order #1001?").await;
    let r = app.say(&conv, &format!("it's {EMAIL}")).await;
    assert!(
        r.to_string().contains("order_card"),
        "verified by email: {r}"
    );
    app.say(&conv, WORDS).await;
    let raw = sqlite_text(&app.database_url);
    for secret in [EMAIL, "sister-in-law-8642"] {
        assert!(!raw.contains(secret), "{secret:?} is readable");
    }
    let usage = db.data_key_usage().await.expect("usage");
    assert!(
        usage.iter().all(|u| u.kid.as_deref() == Some("k7")),
        "{usage:?}"
    );
    // Rotation edits the secret; there is no file for wismo to rewrite.
    let err = db.rotate_data_key().await.expect_err("no file to rotate");
    assert!(err.to_string().contains("key file"), "{err}");
    app.stop().await.expect("stop");
}

#[test]
fn bad_data_keys_are_refused_without_showing_them() {
    for bad in [
        "not json at all".to_string(),
        // The active key is missing.
        data_keys_json("k1", 3).replace("\"active\":\"k1\"", "\"active\":\"k9\""),
        // A key of the wrong length.
        r#"{"version":1,"active":"k1","lookup":"AAAA","keys":{"k1":"AAAA"}}"#.to_string(),
    ] {
        let mut layers = wismo_server::config::Layers::defaults();
        layers.flag("data_keys", &bad).expect("known setting");
        let err = layers.build().expect_err("refused").to_string();
        assert!(err.contains("data_keys"), "{err}");
        assert!(!err.contains(&bad), "the value is not echoed: {err}");
    }
}

/// A second server sharing the database with other data keys (its own
/// fresh key file, whose first key is also `k1`) refuses to start, naming
/// the key, instead of answering 503 to every request that reads the data.
#[tokio::test]
async fn a_server_without_the_data_keys_of_the_database_refuses_to_start() {
    let app = spawn_app(Backend::Sqlite).await;
    // The demo store's emails are sealed with the first server's k1.
    let other_keys = data_keys_json("k1", 99);
    let dir = std::env::temp_dir().join(format!("wismo-other-key-{}", std::process::id()));
    for (key, value) in [
        ("data_keys", other_keys.clone()),
        ("data_key_file", dir.join("wismo.key").display().to_string()),
    ] {
        let mut layers = wismo_server::config::Layers::defaults();
        for (k, v) in [
            ("listen", "127.0.0.1:0"),
            ("database_url", app.database_url.as_str()),
            ("data_dir", dir.display().to_string().as_str()),
            (key, value.as_str()),
        ] {
            layers.flag(k, v).expect("known setting");
        }
        let config = layers.build().expect("valid config");
        let err = match wismo_server::Server::start(config).await {
            Ok(_) => panic!("{key}: started with keys that cannot read the data"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("data key(s) k1"), "{key}: {err}");
        assert!(err.contains("copy the key file"), "{key}: {err}");
        assert!(!err.contains(&other_keys), "the keys are not shown: {err}");
    }
    // The first server still works with its own keys.
    let conv = app.create().await;
    app.say(&conv, "where is my order #1001?").await;
    let r = app.say(&conv, &format!("it's {EMAIL}")).await;
    assert!(r.to_string().contains("order_card"), "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}
