//! Shopify webhooks into the order mirror, through HTTP on both databases:
//! a new store's order arrives by webhook and the bot answers from it; a
//! `fulfillments/create` changes the next answer at once; repeats, late
//! (older) states and unknown topics change nothing and are answered 200;
//! forged, unsigned and stale deliveries are refused 401; broken bodies 400;
//! off without a secret (404).

mod common;

use std::time::Instant;

use chrono::{Duration, SecondsFormat, Utc};
use common::{replies, spawn_app_with, Backend, TestApp};
use serde_json::Value;
use wismo_integrations::shopify::webhook::sign;

const SECRET: &str = "shpss_0123456789abcdef0123456789abcdef";
const PATH: &str = "/v1/integrations/shopify/webhooks";

struct Delivery<'a> {
    id: &'a str,
    topic: &'a str,
    body: String,
    secret: &'a str,
    triggered: chrono::DateTime<Utc>,
}

impl<'a> Delivery<'a> {
    fn new(id: &'a str, topic: &'a str, body: String) -> Delivery<'a> {
        Delivery {
            id,
            topic,
            body,
            secret: SECRET,
            triggered: Utc::now(),
        }
    }
}

async fn deliver(app: &TestApp, d: &Delivery<'_>) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(PATH))
        .header("content-type", "application/json")
        .header("x-shopify-topic", d.topic)
        .header(
            "x-shopify-hmac-sha256",
            sign(d.secret.as_bytes(), d.body.as_bytes()),
        )
        .header("x-shopify-shop-domain", "second-store.myshopify.com")
        .header("x-shopify-api-version", "2026-10")
        .header("x-shopify-webhook-id", d.id)
        .header("x-shopify-event-id", format!("evt-{}", d.id))
        .header(
            "x-shopify-triggered-at",
            d.triggered.to_rfc3339_opts(SecondsFormat::Nanos, true),
        )
        .body(d.body.clone())
        .send()
        .await
        .expect("deliver");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// An order of a store that is not the demo store (its own numbering,
/// currency and products), as Shopify's REST payload.
fn order(updated: &str) -> String {
    format!(
        r##"{{"id": 6120448000101, "admin_graphql_api_id": "gid://shopify/Order/6120448000101",
        "name": "#NW-2207", "order_number": 2207, "email": "liam.ocon@example.net",
        "created_at": "2026-11-20T09:12:00+01:00", "updated_at": "{updated}",
        "currency": "EUR", "total_price": "84.50", "financial_status": "paid", "fulfillment_status": null,
        "line_items": [{{"id": 15011, "title": "Merino beanie", "quantity": 2, "price": "21.25"}},
                       {{"id": 15012, "title": "Trail socks", "quantity": 1, "price": "42.00"}}],
        "shipping_address": {{"first_name": "Liam", "last_name": "O'Con", "address1": "Keizersgracht 12",
                              "city": "Amsterdam", "zip": "1015 CX", "country": "Netherlands", "country_code": "NL"}},
        "fulfillments": [], "refunds": []}}"##
    )
}

fn fulfillment() -> String {
    r##"{"id": 4801220001, "order_id": 6120448000101, "status": "success",
        "created_at": "2026-11-23T16:40:00+01:00", "updated_at": "2026-11-23T16:40:00+01:00",
        "service": "manual", "tracking_company": "PostNL", "tracking_number": "3SNWAB1234567",
        "tracking_numbers": ["3SNWAB1234567"], "tracking_url": "https://postnl.example/track/3SNWAB1234567",
        "shipment_status": "in_transit", "name": "#NW-2207.1",
        "line_items": [{"id": 15011, "quantity": 2}, {"id": 15012, "quantity": 1}]}"##
        .to_string()
}

async fn ask_about_order(app: &TestApp) -> String {
    let conv = app.create().await;
    let first = replies(&app.say(&conv, "hi, where is my order NW-2207?").await);
    assert!(
        first.to_lowercase().contains("email"),
        "asks who is asking: {first}"
    );
    replies(&app.say(&conv, "liam.ocon@example.net").await)
}

#[tokio::test]
async fn a_new_stores_orders_arrive_by_webhook_and_the_next_answer_follows_them() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_with(backend, &[("shopify_webhook_secret", SECRET)]).await;

        let (status, body) = deliver(
            &app,
            &Delivery::new("d-1", "orders/create", order("2026-11-20T09:12:00+01:00")),
        )
        .await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("applied")),
            "{backend:?} {body}"
        );
        assert_eq!(body["order"], "NW-2207");
        let before = ask_about_order(&app).await;
        assert!(
            !before.contains("3SNWAB1234567"),
            "{backend:?}: not shipped yet: {before}"
        );

        let sent = Instant::now();
        let (status, body) = deliver(
            &app,
            &Delivery::new("d-2", "fulfillments/create", fulfillment()),
        )
        .await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("applied")),
            "{backend:?} {body}"
        );
        let after = ask_about_order(&app).await;
        let took = sent.elapsed();
        assert!(
            after.contains("3SNWAB1234567"),
            "{backend:?}: the tracking number: {after}"
        );
        assert!(
            after.contains("PostNL"),
            "{backend:?}: the carrier: {after}"
        );
        assert!(
            took < std::time::Duration::from_secs(1),
            "{backend:?}: {took:?}"
        );

        // Shopify delivers at least once: the same delivery again is a no-op.
        let (status, body) = deliver(
            &app,
            &Delivery::new("d-2", "fulfillments/create", fulfillment()),
        )
        .await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("duplicate")),
            "{backend:?}"
        );
        // The order as it was before it shipped, delivered late (a new
        // delivery id): older than what the mirror holds, so ignored.
        let (status, body) = deliver(
            &app,
            &Delivery::new("d-0", "orders/updated", order("2026-11-21T10:00:00+01:00")),
        )
        .await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("stale")),
            "{backend:?} {body}"
        );
        let still = ask_about_order(&app).await;
        assert!(
            still.contains("3SNWAB1234567"),
            "{backend:?}: still shipped: {still}"
        );
        // A topic wismo does not use: acknowledged, nothing changes.
        let (status, body) =
            deliver(&app, &Delivery::new("d-3", "products/update", "{}".into())).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("ignored")),
            "{backend:?}"
        );
        app.stop().await.expect("stop");
    }
}

#[tokio::test]
async fn forged_unsigned_stale_and_broken_deliveries_are_refused_and_change_nothing() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("shopify_webhook_secret", SECRET),
            ("shopify_webhook_max_age", "10m"),
        ],
    )
    .await;
    let body = order("2026-11-20T09:12:00+01:00");

    // Signed with another secret (forged).
    let mut forged = Delivery::new("f-1", "orders/create", body.clone());
    forged.secret = "not-the-shops-secret-at-all-0000";
    let (status, problem) = deliver(&app, &forged).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("webhook_signature_invalid"))
    );

    // The body changed after signing (tampered).
    let signed = sign(SECRET.as_bytes(), body.as_bytes());
    let res = app
        .client
        .post(app.url(PATH))
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-hmac-sha256", signed)
        .header("x-shopify-webhook-id", "f-2")
        .header("x-shopify-triggered-at", Utc::now().to_rfc3339())
        .body(body.replace("84.50", "0.01"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 401);

    // No signature at all.
    let res = app
        .client
        .post(app.url(PATH))
        .header("x-shopify-topic", "orders/create")
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 401);

    // A correctly signed delivery from an hour ago, replayed (stale).
    let mut stale = Delivery::new("f-3", "orders/create", body.clone());
    stale.triggered = Utc::now() - Duration::hours(1);
    let (status, problem) = deliver(&app, &stale).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("webhook_stale")),
        "{problem}"
    );

    // Signed, but not what the topic says / not JSON.
    let (status, problem) = deliver(
        &app,
        &Delivery::new("f-4", "fulfillments/create", "{\"id\": 1}".into()),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_body")),
        "{problem}"
    );
    assert!(
        problem["message"]
            .as_str()
            .unwrap_or_default()
            .contains("order_id"),
        "{problem}"
    );
    let (status, problem) = deliver(
        &app,
        &Delivery::new("f-5", "orders/create", "{\"name\": ".into()),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_body")),
        "{problem}"
    );
    // Signed, but no webhook id.
    let res = app
        .client
        .post(app.url(PATH))
        .header("x-shopify-topic", "orders/create")
        .header(
            "x-shopify-hmac-sha256",
            sign(SECRET.as_bytes(), body.as_bytes()),
        )
        .header("x-shopify-triggered-at", Utc::now().to_rfc3339())
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 400);

    // Nothing of the above reached the mirror.
    assert!(app
        .state
        .sessions
        .db
        .find_order("NW-2207")
        .await
        .expect("read")
        .is_none());
    // The genuine delivery still goes through.
    let (status, _) = deliver(&app, &Delivery::new("ok-1", "orders/create", body)).await;
    assert_eq!(status, 200);
    app.stop().await.expect("stop");

    // Without a secret the endpoint is off.
    let off = spawn_app_with(Backend::Sqlite, &[]).await;
    let (status, problem) = deliver(&off, &Delivery::new("x", "orders/create", "{}".into())).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("integration_not_configured"))
    );
    off.stop().await.expect("stop");
}
