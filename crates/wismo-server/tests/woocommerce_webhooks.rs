//! WooCommerce order webhooks through HTTP: the save-time ping, an order
//! with a Shipment Tracking item answered from, a repeat and an older state
//! changing nothing, forged and stale deliveries refused 401, broken ones 400.

mod common;

use chrono::{Duration, Utc};
use common::{replies, spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};
use wismo_integrations::woocommerce::sign;

const SECRET: &str = "wc-secret-0123456789abcdef";

fn order(modified: chrono::DateTime<Utc>, status: &str, tracking: bool) -> String {
    let meta = if tracking {
        json!([{"id": 9001, "key": "_wc_shipment_tracking_items", "value": [
            {"tracking_id": "7f4978c390ee633c6294ae0f258656f9", "tracking_provider": "USPS",
             "tracking_link": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=9400111899560000000077",
             "tracking_number": "9400111899560000000077", "date_shipped": "2026-11-22"}]}])
    } else {
        json!([])
    };
    json!({"id": 2207, "number": "W-2207", "status": status, "currency": "EUR",
        "date_created_gmt": "2026-11-21T10:00:00", "date_modified_gmt": modified.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "total": "35.00", "customer_id": 0,
        "billing": {"first_name": "Jonas", "last_name": "Berg", "email": "jonas.b@example.de"},
        "shipping": {"first_name": "Jonas", "last_name": "Berg", "address_1": "Hauptstr. 5", "city": "Köln", "postcode": "50667", "country": "DE"},
        "line_items": [{"id": 411, "name": "Wool socks", "quantity": 5, "price": 7.0}],
        "meta_data": meta})
    .to_string()
}

async fn deliver(app: &TestApp, body: &str, secret: Option<&str>, delivery: &str) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/v1/integrations/woocommerce/webhooks"))
        .header("x-wc-webhook-topic", "order.updated")
        .header("x-wc-webhook-resource", "order")
        .header("x-wc-webhook-event", "updated")
        .header("x-wc-webhook-id", "12")
        .header("x-wc-webhook-delivery-id", delivery)
        .header("x-wc-webhook-source", "https://shop.example.de/");
    if let Some(s) = secret {
        req = req.header("x-wc-webhook-signature", sign(s, body.as_bytes()));
    }
    let res = req.body(body.to_string()).send().await.expect("post");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn ask(app: &TestApp) -> String {
    let conv = app.create().await;
    app.say(&conv, "where is my order W-2207?").await;
    replies(&app.say(&conv, "jonas.b@example.de").await)
}

#[tokio::test]
async fn woocommerce_orders_arrive_once_in_order_and_bad_deliveries_are_refused() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_with(backend, &[("woocommerce_webhook_secret", SECRET)]).await;
        // The ping WooCommerce sends when the webhook is saved.
        let res = app
            .client
            .post(app.url("/v1/integrations/woocommerce/webhooks"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("webhook_id=12")
            .send()
            .await
            .expect("ping");
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{body}");

        let now = Utc::now();
        let (status, v) = deliver(
            &app,
            &order(now - Duration::minutes(10), "processing", false),
            Some(SECRET),
            "d1",
        )
        .await;
        assert_eq!(
            (status, v["outcome"].as_str()),
            (200, Some("applied")),
            "{backend:?} {v}"
        );
        let before = ask(&app).await;
        assert!(
            !before.contains("9400111899560000000077"),
            "{backend:?}: {before}"
        );
        let shipped = order(now - Duration::minutes(1), "completed", true);
        let (_, v) = deliver(&app, &shipped, Some(SECRET), "d2").await;
        assert_eq!(v["outcome"], "applied", "{backend:?} {v}");
        let after = ask(&app).await;
        assert!(
            after.contains("9400111899560000000077") && after.contains("USPS"),
            "{backend:?}: {after}"
        );
        let (_, v) = deliver(&app, &shipped, Some(SECRET), "d2").await;
        assert_eq!(v["outcome"], "duplicate", "{backend:?}");
        let (_, v) = deliver(
            &app,
            &order(now - Duration::minutes(5), "processing", false),
            Some(SECRET),
            "d3",
        )
        .await;
        assert_eq!(v["outcome"], "stale", "{backend:?}: an older state");

        // Refused.
        let (status, v) = deliver(&app, &shipped, Some("not-the-shops-secret-000"), "f1").await;
        assert_eq!(
            (status, v["code"].as_str()),
            (401, Some("webhook_signature_invalid"))
        );
        let (status, _) = deliver(&app, &shipped, None, "f2").await;
        assert_eq!(status, 401);
        let old = order(now - Duration::days(5), "completed", true);
        let (status, v) = deliver(&app, &old, Some(SECRET), "f3").await;
        assert_eq!(
            (status, v["code"].as_str()),
            (401, Some("webhook_stale")),
            "{v}"
        );
        let (status, v) = deliver(&app, "{\"number\": \"x\"}", Some(SECRET), "f4").await;
        assert_eq!(
            (status, v["code"].as_str()),
            (400, Some("invalid_body")),
            "{v}"
        );
        assert!(
            ask(&app).await.contains("9400111899560000000077"),
            "{backend:?}: unchanged by refusals"
        );
        app.stop().await.expect("stop");
    }
}
