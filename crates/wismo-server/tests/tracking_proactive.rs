//! Carrier tracking and proactive updates through HTTP: a shopper who asked
//! about an order hears about an AfterShip exception exactly once however
//! often (and in whatever order) the webhooks arrive, on both databases;
//! the next answer names the last scan; EasyPost updates land the same
//! way; forged and stale deliveries of both services are refused 401.

mod common;

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use common::{replies, spawn_app_with, Backend, Conv, TestApp};
use serde_json::{json, Value};
use wismo_integrations::shopify::webhook::sign as shopify_sign;
use wismo_integrations::tracking::{aftership, easypost};

const SHOPIFY: &str = "shpss_0123456789abcdef0123456789abcdef";
const AFTERSHIP: &str = "aftership-secret-0123456789";
const EASYPOST: &str = "easypost-secret-0123456789";
const TRACKING: &str = "794612345678";

fn workspace() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wismo-proactive-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("store.toml"),
        "name = \"Northwind Outfitters\"\nlanguages = [\"en\"]\ntime_zone = \"America/Chicago\"\n\n\
         [proactive]\nquiet_hours = \"off\"\ndaily_cap = 3\n",
    )
    .expect("write");
    dir
}

async fn post(app: &TestApp, path: &str, headers: &[(&str, String)], body: &str) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = req.body(body.to_string()).send().await.expect("post");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn shopify_order(app: &TestApp) {
    let body = json!({
        "id": 7301, "name": "#NW-3301", "email": "ines.m@example.org",
        "created_at": "2026-11-28T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z",
        "financial_status": "paid", "fulfillment_status": "fulfilled", "currency": "USD", "total_price": "120.00",
        "line_items": [{"id": 91, "title": "Rain shell", "quantity": 1, "price": "120.00"}],
        "fulfillments": [{"id": 551, "status": "success", "created_at": "2026-11-29T10:00:00Z",
            "updated_at": "2026-11-29T10:00:00Z", "tracking_company": "FedEx", "tracking_number": TRACKING,
            "shipment_status": "in_transit", "line_items": [{"id": 91, "quantity": 1}]}]
    })
    .to_string();
    let (status, _) = post(
        app,
        "/v1/integrations/shopify/webhooks",
        &[
            ("x-shopify-topic", "orders/create".into()),
            (
                "x-shopify-hmac-sha256",
                shopify_sign(SHOPIFY.as_bytes(), body.as_bytes()),
            ),
            ("x-shopify-webhook-id", "s-1".into()),
            ("x-shopify-triggered-at", Utc::now().to_rfc3339()),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 200);
}

fn aftership_body(event_id: &str, tag: &str, subtag: &str, at: &str, message: &str) -> String {
    json!({
        "ts": Utc::now().timestamp(), "event": "tracking_update", "event_id": event_id,
        "msg": {"tracking_number": TRACKING, "slug": "fedex", "tag": tag, "subtag": subtag,
            "checkpoints": [{"checkpoint_time": at, "tag": tag, "subtag": subtag, "message": message,
                              "location": "Memphis, TN"}]}
    })
    .to_string()
}

async fn aftership_deliver(app: &TestApp, body: &str, secret: &str) -> (u16, Value) {
    post(
        app,
        "/v1/integrations/aftership/webhooks",
        &[(
            "aftership-hmac-sha256",
            aftership::sign(secret, body.as_bytes()),
        )],
        body,
    )
    .await
}

async fn proactive_messages(app: &TestApp, conv: &Conv) -> Vec<String> {
    let t = app.transcript(conv).await;
    t["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| m["proactive"] == true)
                .filter_map(|m| m["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_for(app: &TestApp, conv: &Conv, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let got = proactive_messages(app, conv).await;
        if got.len() >= n || start.elapsed() > Duration::from_secs(8) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_exception_reaches_the_shopper_once_and_answers_name_the_last_scan() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let dir = workspace();
        let store_dir = dir.display().to_string();
        let app = spawn_app_with(
            backend,
            &[
                ("store_dir", store_dir.as_str()),
                ("shopify_webhook_secret", SHOPIFY),
                ("aftership_webhook_secret", AFTERSHIP),
                ("easypost_webhook_secret", EASYPOST),
            ],
        )
        .await;
        shopify_order(&app).await;
        let conv = app.create().await;
        app.say(&conv, "where is order NW-3301?").await;
        let answer = replies(&app.say(&conv, "ines.m@example.org").await);
        assert!(answer.contains(TRACKING), "{backend:?}: {answer}");

        // The exception, three times (two with the same event id, one
        // re-sent under a new id), around an older in-transit scan.
        let exception = aftership_body(
            "ev-exc",
            "Exception",
            "Exception_012",
            "2026-12-06T21:14:00-06:00",
            "Package damaged",
        );
        let resent = aftership_body(
            "ev-exc-2",
            "Exception",
            "Exception_012",
            "2026-12-06T21:14:00-06:00",
            "Package damaged",
        );
        let older = aftership_body(
            "ev-old",
            "InTransit",
            "InTransit_003",
            "2026-12-05T08:00:00-06:00",
            "Arrived at FedEx hub",
        );
        let mut outcomes = Vec::new();
        for body in [&exception, &older, &exception, &resent] {
            let (status, v) = aftership_deliver(&app, body, AFTERSHIP).await;
            assert_eq!(status, 200, "{backend:?} {v}");
            outcomes.push(v["outcome"].as_str().unwrap_or_default().to_string());
        }
        assert_eq!(
            outcomes,
            ["applied", "stale", "duplicate", "unchanged"],
            "{backend:?}"
        );
        let told = wait_for(&app, &conv, 1).await;
        assert_eq!(told.len(), 1, "{backend:?}: {told:?}");
        assert!(
            told[0].contains("#NW-3301") && told[0].contains("problem"),
            "{told:?}"
        );
        assert!(
            told[0].contains("Package damaged in Memphis, TN"),
            "{told:?}"
        );
        // Nothing more arrives later.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(
            proactive_messages(&app, &conv).await.len(),
            1,
            "{backend:?}"
        );

        // The next answer says where the parcel was last seen.
        let conv2 = app.create().await;
        app.say(&conv2, "where is order NW-3301?").await;
        let answer = replies(&app.say(&conv2, "ines.m@example.org").await);
        assert!(
            answer.contains("Last scan: Package damaged in Memphis, TN"),
            "{backend:?}: {answer}"
        );

        // EasyPost: out for delivery, told to both conversations.
        let ep = json!({"id": "evt_ofd", "object": "Event", "description": "tracker.updated",
            "created_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            "result": {"object": "Tracker", "tracking_code": TRACKING, "status": "out_for_delivery",
              "status_detail": "out_for_delivery", "carrier": "FedEx",
              "tracking_details": [{"message": "On FedEx vehicle for delivery", "status": "out_for_delivery",
                "datetime": "2026-12-07T08:10:00-06:00", "tracking_location": {"city": "Chicago", "state": "IL", "country": "US"}}]}})
        .to_string();
        let (status, v) = post(
            &app,
            "/v1/integrations/easypost/webhooks",
            &[("x-hmac-signature", easypost::sign(EASYPOST, ep.as_bytes()))],
            &ep,
        )
        .await;
        assert_eq!(
            (status, v["outcome"].as_str()),
            (200, Some("applied")),
            "{backend:?} {v}"
        );
        let told = wait_for(&app, &conv, 2).await;
        assert!(
            told.len() == 2 && told[1].contains("out for delivery"),
            "{backend:?}: {told:?}"
        );
        let told2 = wait_for(&app, &conv2, 1).await;
        assert_eq!(told2.len(), 1, "{backend:?}: {told2:?}");
        app.stop().await.expect("stop");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn forged_and_stale_tracking_deliveries_are_refused() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("aftership_webhook_secret", AFTERSHIP),
            ("easypost_webhook_secret", EASYPOST),
            ("tracking_webhook_max_age", "1h"),
        ],
    )
    .await;
    let body = aftership_body(
        "f-1",
        "Exception",
        "Exception_012",
        "2026-12-06T21:14:00-06:00",
        "x",
    );
    let (status, v) = aftership_deliver(&app, &body, "not-the-secret-0000000").await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("webhook_signature_invalid"))
    );
    let (status, _) = post(&app, "/v1/integrations/aftership/webhooks", &[], &body).await;
    assert_eq!(status, 401);
    // Signed correctly, but sent two hours ago (the time is in the signed body).
    let old = body.replace(
        &format!("\"ts\":{}", Utc::now().timestamp()),
        &format!("\"ts\":{}", Utc::now().timestamp() - 7200),
    );
    assert_ne!(old, body, "the test rewrote ts");
    let (status, v) = aftership_deliver(&app, &old, AFTERSHIP).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("webhook_stale")),
        "{v}"
    );

    let ep = json!({"id": "evt_1", "object": "Event", "description": "tracker.updated",
        "created_at": "2026-01-01T00:00:00Z", "result": {"tracking_code": TRACKING, "status": "delivered"}})
    .to_string();
    let (status, v) = post(
        &app,
        "/v1/integrations/easypost/webhooks",
        &[("x-hmac-signature", easypost::sign(EASYPOST, ep.as_bytes()))],
        &ep,
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("webhook_stale")),
        "{v}"
    );
    let (status, v) = post(
        &app,
        "/v1/integrations/easypost/webhooks",
        &[(
            "x-hmac-signature",
            easypost::sign("forged-secret-00000000", ep.as_bytes()),
        )],
        &ep,
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("webhook_signature_invalid"))
    );
    // Signed junk: a precise 400.
    let junk = "{\"id\": 1}";
    let (status, v) = post(
        &app,
        "/v1/integrations/easypost/webhooks",
        &[(
            "x-hmac-signature",
            easypost::sign(EASYPOST, junk.as_bytes()),
        )],
        junk,
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("invalid_body")),
        "{v}"
    );
    app.stop().await.expect("stop");
}

/// A workspace whose store also emails proactive updates.
fn emailing_workspace() -> std::path::PathBuf {
    let dir = workspace();
    let toml = std::fs::read_to_string(dir.join("store.toml")).expect("read");
    std::fs::write(dir.join("store.toml"), format!("{toml}email = true\n")).expect("write");
    dir
}

#[tokio::test]
async fn the_shopper_gets_one_email_per_event_and_can_unsubscribe_in_one_click() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let smtp = wismo_mocks::smtp::SmtpServer::start()
            .await
            .expect("smtp server");
        let dir = emailing_workspace();
        let store_dir = dir.display().to_string();
        let smtp_url = smtp.url();
        let app = spawn_app_with(
            backend,
            &[
                ("store_dir", store_dir.as_str()),
                ("shopify_webhook_secret", SHOPIFY),
                ("aftership_webhook_secret", AFTERSHIP),
                ("easypost_webhook_secret", EASYPOST),
                ("smtp_url", smtp_url.as_str()),
                ("smtp_from", "Northwind Outfitters <help@northwind.example>"),
                ("public_url", "https://chat.northwind.example"),
            ],
        )
        .await;
        shopify_order(&app).await;
        // Two conversations watch the order: two chat messages, one email.
        let (a, b) = (app.create().await, app.create().await);
        for conv in [&a, &b] {
            app.say(conv, "where is order NW-3301?").await;
            app.say(conv, "ines.m@example.org").await;
        }
        let exception = aftership_body(
            "mail-exc",
            "Exception",
            "Exception_012",
            "2026-12-06T21:14:00-06:00",
            "Package damaged",
        );
        let resent = exception.replace("mail-exc", "mail-exc-2");
        for body in [&exception, &exception, &resent] {
            let (status, v) = aftership_deliver(&app, body, AFTERSHIP).await;
            assert_eq!(status, 200, "{backend:?} {v}");
        }
        assert_eq!(wait_for(&app, &a, 1).await.len(), 1, "{backend:?}");
        assert_eq!(wait_for(&app, &b, 1).await.len(), 1, "{backend:?}");
        let mails = smtp.wait_for(1, Duration::from_secs(8)).await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let mails_later = smtp.received();
        assert_eq!(mails_later.len(), 1, "{backend:?}: {mails_later:?}");
        let mail = &mails[0];
        assert_eq!(mail.to, ["ines.m@example.org"], "{backend:?}");
        assert_eq!(mail.from, "help@northwind.example");
        assert_eq!(
            mail.header("Subject").as_deref(),
            Some("An update on your order #NW-3301 from Northwind Outfitters")
        );
        assert!(
            mail.body().contains("Package damaged in Memphis, TN"),
            "{}",
            mail.body()
        );
        let link = mail
            .header("List-Unsubscribe")
            .expect("List-Unsubscribe header");
        assert_eq!(
            mail.header("List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        let url = link
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string();
        assert!(
            url.starts_with("https://chat.northwind.example/v1/unsubscribe/"),
            "{url}"
        );
        assert!(mail.body().contains(&url), "the link is in the body too");
        assert!(!mail.data.contains("{"), "no template hole: {}", mail.data);
        let path = url.trim_start_matches("https://chat.northwind.example");

        // The link shows a button; following it unsubscribes nobody.
        let page = app.client.get(app.url(path)).send().await.expect("get");
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.expect("html");
        assert!(
            html.contains("<button") && html.contains("Northwind Outfitters"),
            "{html}"
        );
        // The mail client's one-click POST (RFC 8058).
        let res = app
            .client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 200, "{backend:?}");
        let html = app
            .client
            .get(app.url(path))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("html");
        assert!(html.contains("You are unsubscribed"), "{html}");

        // The next event still reaches the chats, but no email goes out.
        let ep = json!({"id": "evt_mail_ofd", "object": "Event", "description": "tracker.updated",
            "created_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            "result": {"object": "Tracker", "tracking_code": TRACKING, "status": "out_for_delivery",
              "status_detail": "out_for_delivery", "carrier": "FedEx",
              "tracking_details": [{"message": "On FedEx vehicle for delivery", "status": "out_for_delivery",
                "datetime": "2026-12-07T08:10:00-06:00", "tracking_location": {"city": "Chicago", "state": "IL"}}]}})
        .to_string();
        let (status, _) = post(
            &app,
            "/v1/integrations/easypost/webhooks",
            &[("x-hmac-signature", easypost::sign(EASYPOST, ep.as_bytes()))],
            &ep,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(wait_for(&app, &a, 2).await.len(), 2, "{backend:?}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(smtp.received().len(), 1, "{backend:?}: unsubscribed");

        // Bad links get precise answers.
        let res = app
            .client
            .get(app.url("/v1/unsubscribe/not-a-token"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 422);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["code"], "invalid_field");
        let unknown = format!("/v1/unsubscribe/{}", "ab".repeat(32));
        let res = app
            .client
            .post(app.url(&unknown))
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 404);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["code"], "unsubscribe_token_unknown");
        app.stop().await.expect("stop");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_conversation_that_asked_long_ago_is_not_told() {
    use sqlx::Connection as _;
    let dir = workspace();
    let toml = std::fs::read_to_string(dir.join("store.toml")).expect("read");
    std::fs::write(dir.join("store.toml"), format!("{toml}watch_days = 7\n")).expect("write");
    let store_dir = dir.display().to_string();
    let app = spawn_app_with(
        Backend::Postgres,
        &[
            ("store_dir", store_dir.as_str()),
            ("shopify_webhook_secret", SHOPIFY),
            ("aftership_webhook_secret", AFTERSHIP),
        ],
    )
    .await;
    shopify_order(&app).await;
    let (old, recent) = (app.create().await, app.create().await);
    for conv in [&old, &recent] {
        app.say(conv, "where is order NW-3301?").await;
        app.say(conv, "ines.m@example.org").await;
    }
    // The first asked ten days ago.
    let mut pg = sqlx::PgConnection::connect(&app.database_url)
        .await
        .expect("database");
    sqlx::query(
        "UPDATE order_watchers SET since = now() - interval '10 days' WHERE conversation_id = $1",
    )
    .bind(&old.id)
    .execute(&mut pg)
    .await
    .expect("age the watcher");
    let body = aftership_body(
        "old-exc",
        "Exception",
        "Exception_012",
        "2026-12-06T21:14:00-06:00",
        "Package damaged",
    );
    let (status, _) = aftership_deliver(&app, &body, AFTERSHIP).await;
    assert_eq!(status, 200);
    assert_eq!(wait_for(&app, &recent, 1).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(proactive_messages(&app, &old).await.is_empty());
    // Asking again renews the watch.
    app.say(&old, "where is order NW-3301?").await;
    app.say(&old, "ines.m@example.org").await;
    let later = body
        .replace("old-exc", "old-exc-2")
        .replace("2026-12-06T21:14:00", "2026-12-06T23:40:00")
        .replace("Exception_012", "Exception_013");
    let ofd = later
        .replace("\"Exception\"", "\"OutForDelivery\"")
        .replace("Exception_013", "OutForDelivery_001");
    let (status, _) = aftership_deliver(&app, &ofd, AFTERSHIP).await;
    assert_eq!(status, 200);
    assert_eq!(wait_for(&app, &old, 1).await.len(), 1, "renewed");
    app.stop().await.expect("stop");
    let _ = std::fs::remove_dir_all(&dir);
}
