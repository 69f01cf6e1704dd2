//! API keys: scoped, revocable, stored as hashes, on SQLite and PostgreSQL.

mod common;

use common::{spawn_app, TestApp, ADMIN_TOKEN, BACKENDS};
use serde_json::{json, Value};

async fn key(app: &TestApp, scopes: &[&str]) -> (String, String) {
    let (key, id) = wismo_server::api::new_api_key().expect("key");
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    app.state
        .sessions
        .db
        .create_api_key(
            &id,
            "test",
            &wismo_server::sessions::token_hash(&key),
            &scopes,
            chrono::Utc::now(),
        )
        .await
        .expect("store the key");
    (key, id)
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn import(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/v1/admin/import/shopify"))
        .bearer_auth(token)
        .json(&json!({"orders": []}))
        .send()
        .await
        .expect("request");
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn api_keys_open_only_their_scopes_and_stop_when_revoked() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (importer, importer_id) = key(&app, &["import"]).await;
        let (analyst, _) = key(&app, &["analytics"]).await;
        let (s, v) = import(&app, &importer).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = import(&app, &analyst).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("insufficient_scope")),
            "{v}"
        );
        let (s, v) = get(&app, &analyst, "/v1/admin/resolutions").await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = get(&app, &importer, "/v1/admin/resolutions").await;
        assert_eq!((s, v["code"].as_str()), (403, Some("insufficient_scope")));
        let (s, v) = get(&app, &importer, "/v1/admin/webhooks").await;
        assert_eq!((s, v["code"].as_str()), (403, Some("insufficient_scope")));
        // A made-up key and a changed one are refused like a wrong token.
        let forged = format!("wsk_{}", "0".repeat(64));
        let mut changed = importer.clone();
        changed.pop();
        changed.push(if importer.ends_with('a') { 'b' } else { 'a' });
        for bad in [forged.as_str(), changed.as_str()] {
            let (s, v) = import(&app, bad).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (401, Some("admin_unauthorized")),
                "{bad}"
            );
        }
        // The admin token still opens everything.
        assert_eq!(import(&app, ADMIN_TOKEN).await.0, 200);
        // Revoked: refused at once.
        let db = &app.state.sessions.db;
        assert!(db
            .revoke_api_key(&importer_id, chrono::Utc::now())
            .await
            .expect("revoke"));
        assert!(!db
            .revoke_api_key(&importer_id, chrono::Utc::now())
            .await
            .expect("again"));
        assert_eq!(import(&app, &importer).await.0, 401);
        // Only hashes are stored; use is recorded.
        let keys = db.api_keys().await.expect("list");
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| k.last_used_at.is_some()));
        let audit = db.audit_entries(0, 100).await.expect("audit");
        assert!(
            audit.iter().any(|e| e.action == "orders.import"
                && e.actor == importer_id
                && e.actor_kind == "api_key"),
            "the key's import is audited under its id"
        );
    }
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// GDPR through the admin API: export, erase (the live conversation is
/// gone too), retention; only with the `privacy` scope.
#[tokio::test]
async fn gdpr_endpoints_export_and_erase_a_shopper() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (privacy, _) = key(&app, &["privacy"]).await;
        let (importer, _) = key(&app, &["import"]).await;
        let conv = app.create().await;
        app.say(&conv, "where is my order #1001?").await;
        app.say(&conv, "emma.johnson@example.com").await;
        let who = json!({"email": "emma.johnson@example.com"});
        let (s, v) = post(&app, &importer, "/v1/admin/gdpr/export", who.clone()).await;
        assert_eq!((s, v["code"].as_str()), (403, Some("insufficient_scope")));
        let (s, doc) = post(&app, &privacy, "/v1/admin/gdpr/export", who.clone()).await;
        assert_eq!(s, 200, "{doc}");
        let convs = doc["conversations"].as_array().expect("conversations");
        assert_eq!(convs.len(), 1);
        assert_eq!(convs[0]["id"], conv.id.as_str());
        for bad in [
            json!({}),
            json!({"email": "nope"}),
            json!({"email": "a@b.c", "x": 1}),
        ] {
            let (s, _) = post(&app, &privacy, "/v1/admin/gdpr/erase", bad.clone()).await;
            assert!(s == 400 || s == 422, "{bad} -> {s}");
        }
        let (s, v) = post(&app, ADMIN_TOKEN, "/v1/admin/gdpr/erase", who.clone()).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["erased"]["conversations"], 1);
        // The conversation is gone, also from the server's memory.
        let res = app
            .client
            .get(app.url(&format!("/v1/conversations/{}", conv.id)))
            .bearer_auth(&conv.token)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 401);
        let (_, doc) = post(&app, &privacy, "/v1/admin/gdpr/export", who).await;
        assert_eq!(doc["conversations"], json!([]));
        let (s, v) = post(
            &app,
            &privacy,
            "/v1/admin/gdpr/purge",
            json!({"older_than_days": 0}),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (422, Some("invalid_field")));
        let (s, v) = post(
            &app,
            &privacy,
            "/v1/admin/gdpr/purge",
            json!({"older_than_days": 30}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let audit = app
            .state
            .sessions
            .db
            .audit_entries(0, 100)
            .await
            .expect("audit");
        let erase = audit
            .iter()
            .find(|e| e.action == "gdpr.erase")
            .expect("audited");
        assert_eq!(erase.actor, "admin");
        assert_eq!(erase.target.as_deref(), Some("e***@example.com"));
    }
}

/// `retention_days`: conversations idle for longer are deleted (also from
/// memory); recent ones stay.
#[tokio::test]
async fn the_retention_policy_deletes_idle_conversations() {
    let app = common::spawn_app_with(common::Backend::Sqlite, &[("retention_days", "7")]).await;
    let old = app.create().await;
    app.say(&old, "hello").await;
    let recent = app.create().await;
    app.say(&recent, "hello").await;
    let db = &app.state.sessions.db;
    let days_ago = |d: i64| chrono::Utc::now() - chrono::Duration::days(d);
    assert!(db.touch(&old.id, days_ago(8)).await.expect("touch"));
    assert!(db.touch(&recent.id, days_ago(6)).await.expect("touch"));
    assert_eq!(app.state.apply_retention().await.expect("retention"), 1);
    let status = |c: &common::Conv| {
        let req = app
            .client
            .get(app.url(&format!("/v1/conversations/{}", c.id)))
            .bearer_auth(&c.token);
        async move { req.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(status(&old).await, 401, "deleted");
    assert_eq!(status(&recent).await, 200, "kept");
}
