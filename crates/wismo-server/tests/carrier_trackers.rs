//! Trackers at the carrier-tracking service: every tracking number a
//! Shopify webhook brings gets one tracker at AfterShip (or EasyPost), once,
//! however often the webhook arrives and however many servers run; the
//! servers share one pace, so the service's rate limit is never exceeded.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{spawn_app_on, spawn_app_with, Backend, TestApp};
use serde_json::json;
use wismo_integrations::shopify::webhook::sign;
use wismo_mocks::carriers::{MockCarriers, MockCarriersConfig};

const SHOPIFY: &str = "shpss_0123456789abcdef0123456789abcdef";

/// An order with `n` parcels, FedEx tracking numbers `7777000000NN`.
fn order_with_parcels(n: usize) -> String {
    let fulfillments: Vec<_> = (0..n)
        .map(|i| {
            json!({"id": 900 + i, "status": "success", "created_at": "2026-11-29T10:00:00Z",
                "updated_at": "2026-11-29T10:00:00Z", "tracking_company": "FedEx",
                "tracking_number": format!("7777{:08}", i), "shipment_status": "in_transit",
                "line_items": [{"id": 91, "quantity": 1}]})
        })
        .collect();
    json!({
        "id": 7401, "name": "#NW-3401", "email": "kai@example.org",
        "created_at": "2026-11-28T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z",
        "financial_status": "paid", "fulfillment_status": "fulfilled", "currency": "USD", "total_price": "320.00",
        "line_items": [{"id": 91, "title": "Tent", "quantity": n, "price": "10.00"}],
        "fulfillments": fulfillments,
    })
    .to_string()
}

async fn deliver(app: &TestApp, id: &str, body: &str) -> u16 {
    app.client
        .post(app.url("/v1/integrations/shopify/webhooks"))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "orders/updated")
        .header(
            "x-shopify-hmac-sha256",
            sign(SHOPIFY.as_bytes(), body.as_bytes()),
        )
        .header("x-shopify-webhook-id", id)
        .header("x-shopify-triggered-at", Utc::now().to_rfc3339())
        .body(body.to_string())
        .send()
        .await
        .expect("deliver")
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_tracking_number_gets_one_tracker_under_the_rate_limit_across_servers() {
    let mock = MockCarriers::start(MockCarriersConfig::default())
        .await
        .expect("mock");
    let url = mock.url();
    let settings = [
        ("shopify_webhook_secret", SHOPIFY),
        ("aftership_api_key", mock.aftership_key()),
        ("aftership_api_url", url.as_str()),
    ];
    let a = spawn_app_with(Backend::Postgres, &settings).await;
    let b = spawn_app_on(&a.database_url, &settings).await;
    let body = order_with_parcels(45);
    // Twice to one server, once (new id) to the other.
    assert_eq!(deliver(&a, "w-1", &body).await, 200);
    assert_eq!(deliver(&a, "w-1", &body).await, 200);
    assert_eq!(deliver(&b, "w-2", &body).await, 200);

    let started = Instant::now();
    while mock.stats().aftership_created < 45 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more: nothing else may arrive.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = mock.stats();
    assert_eq!(stats.aftership_created, 45, "{stats:?}");
    assert_eq!(stats.aftership_duplicates, 0, "{stats:?}");
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert!(stats.aftership_peak_per_second <= 20, "{stats:?}");
    let made = mock.aftership_trackings();
    assert!(made
        .iter()
        .all(|t| t["slug"] == "fedex" && t["order_number"] == "NW-3401"));
    let counts = a.state.sessions.db.tracker_counts().await.expect("counts");
    assert_eq!(counts, vec![("created".to_string(), 45)]);
    a.stop().await.expect("stop");
    b.stop().await.expect("stop");
}

#[tokio::test]
async fn easypost_trackers_and_a_down_service_is_retried_not_lost() {
    let mock = MockCarriers::start(MockCarriersConfig::default())
        .await
        .expect("mock");
    let url = mock.url();
    mock.set_fault(wismo_mocks::carriers::Fault::Unavailable);
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("shopify_webhook_secret", SHOPIFY),
            ("easypost_api_key", mock.easypost_key()),
            ("easypost_api_url", url.as_str()),
        ],
    )
    .await;
    assert_eq!(deliver(&app, "e-1", &order_with_parcels(3)).await, 200);
    // The service is down: the trackers wait, pending.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(mock.stats().easypost_created, 0);
    let counts = app
        .state
        .sessions
        .db
        .tracker_counts()
        .await
        .expect("counts");
    assert_eq!(counts, vec![("pending".to_string(), 3)]);
    // Back up: made at the next try (back-off of 1–2 s after one failure).
    mock.set_fault(wismo_mocks::carriers::Fault::None);
    let started = Instant::now();
    while mock.stats().easypost_created < 3 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = mock.stats();
    assert_eq!(stats.easypost_created, 3, "{stats:?}");
    assert!(stats.easypost_peak_per_second <= 5, "{stats:?}");
    assert!(mock
        .easypost_trackers()
        .iter()
        .all(|t| t["carrier"] == "FedEx"));
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn a_connection_saved_by_wismo_connect_is_used_when_no_key_is_set() {
    let mock = MockCarriers::start(MockCarriersConfig::default())
        .await
        .expect("mock");
    let url = mock.url();
    let a = spawn_app_with(Backend::Postgres, &[("shopify_webhook_secret", SHOPIFY)]).await;
    a.state
        .sessions
        .db
        .save_connection(
            "aftership",
            &json!({"api_key": mock.aftership_key(), "url": url, "api_version": "2026-01"}),
            Utc::now(),
        )
        .await
        .expect("save");
    // A server started afterwards reads it (the settings name no key).
    let b = spawn_app_on(&a.database_url, &[("shopify_webhook_secret", SHOPIFY)]).await;
    assert_eq!(deliver(&b, "c-1", &order_with_parcels(2)).await, 200);
    let started = Instant::now();
    while mock.stats().aftership_created < 2 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mock.stats().aftership_created, 2);
    b.stop().await.expect("stop");
    a.stop().await.expect("stop");
}
