//! Orders from a live WooCommerce store (the mock): an order the mirror
//! lacks is looked up once with its Shipment Tracking items and kept;
//! cancellations and new addresses are made at the store first, each with a
//! private order note; a store behind a rate-limiting host, or down, gets
//! the honest answer.

mod common;

use chrono::{TimeZone, Utc};
use common::{replies, spawn_app_with, Backend, TestApp};
use serde_json::json;
use wismo_mocks::woocommerce::{Fault, MockWoo, MockWooConfig, OrderSpec};

fn order(id: u64, status: &'static str) -> serde_json::Value {
    let created = Utc
        .with_ymd_and_hms(2026, 11, 18, 9, 0, 0)
        .single()
        .expect("time");
    OrderSpec {
        id,
        number: id.to_string(),
        email: "lena.w@example.org".into(),
        status,
        created,
        modified: created + chrono::Duration::days(1),
        items: vec![("Trail runners", 1, "129.00")],
    }
    .json()
}

async fn verified(app: &TestApp, first: &str) -> (common::Conv, String) {
    let conv = app.create().await;
    let asked = replies(&app.say(&conv, first).await);
    let answer = replies(&app.say(&conv, "lena.w@example.org").await);
    (conv, format!("{asked}\n{answer}"))
}

#[tokio::test]
async fn a_woocommerce_store_answers_live_and_takes_the_shoppers_changes() {
    let mock = MockWoo::start(MockWooConfig::default())
        .await
        .expect("mock");
    mock.put_order(order(3101, "completed"));
    mock.put_tracking(
        3101,
        json!({"tracking_provider": "UPS", "tracking_number": "1Z999AA10123456784",
               "tracking_link": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
               "date_shipped": "2026-11-19"}),
    );
    for id in [3102, 3103, 3104] {
        mock.put_order(order(id, "processing"));
    }
    let url = mock.url();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("woocommerce_url", url.as_str()),
            ("woocommerce_consumer_key", mock.consumer_key()),
            ("woocommerce_consumer_secret", mock.consumer_secret()),
        ],
    )
    .await;

    // Looked up once, with the tracking item; then from the mirror.
    let (_, answer) = verified(&app, "where is my order 3101?").await;
    assert!(answer.contains("1Z999AA10123456784"), "{answer}");
    assert!(answer.contains("UPS"), "{answer}");
    let lookups = mock.stats().lookups;
    let (_, again) = verified(&app, "where is my order 3101?").await;
    assert!(again.contains("1Z999AA10123456784"), "{again}");
    assert_eq!(mock.stats().lookups, lookups, "answered from the mirror");

    // A cancellation at the store, with a private note.
    let (conv, answer) = verified(&app, "please cancel order 3102").await;
    assert!(answer.contains("cancel order #3102"), "{answer}");
    let done = replies(&app.say(&conv, "yes").await);
    assert!(done.contains("Order #3102 is cancelled"), "{done}");
    assert_eq!(
        mock.order(3102).expect("order")["status"],
        "cancelled",
        "cancelled at the store"
    );
    let notes = mock.notes(3102);
    assert!(
        notes.iter().any(
            |n| n["note"].as_str().is_some_and(|t| t.contains("wismo chat"))
                && n["customer_note"] == false
        ),
        "{notes:?}"
    );

    // A new address at the store.
    let (conv, _) = verified(&app, "change the shipping address of order 3103").await;
    app.say(&conv, "9 Quay Street, Portland, ME 04101").await;
    let done = replies(&app.say(&conv, "yes").await);
    assert!(done.contains("new address"), "{done}");
    let shipping = &mock.order(3103).expect("order")["shipping"];
    assert_eq!(shipping["address_1"], "9 Quay Street");
    assert_eq!(shipping["city"], "Portland");
    assert_eq!(shipping["state"], "ME");
    assert_eq!(shipping["postcode"], "04101");

    // The host rate-limits: nothing waits on it, the shopper hears the truth.
    mock.set_fault(Fault::RateLimited);
    let started = std::time::Instant::now();
    let (_, answer) = verified(&app, "where is my order 3104?").await;
    assert!(answer.contains("can't reach our order system"), "{answer}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Orders in the mirror still answer.
    let (_, mirrored) = verified(&app, "where is my order 3101?").await;
    assert!(mirrored.contains("1Z999AA10123456784"), "{mirrored}");
    mock.set_fault(Fault::None);
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn wrong_woocommerce_credentials_are_said_and_nothing_is_invented() {
    let mock = MockWoo::start(MockWooConfig::default())
        .await
        .expect("mock");
    mock.put_order(order(3201, "processing"));
    let url = mock.url();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("woocommerce_url", url.as_str()),
            ("woocommerce_consumer_key", mock.consumer_key()),
            (
                "woocommerce_consumer_secret",
                "cs_not_the_secret_0000000000",
            ),
        ],
    )
    .await;
    let (_, answer) = verified(&app, "where is my order 3201?").await;
    assert!(answer.contains("can't reach our order system"), "{answer}");
    assert!(mock.stats().unauthorized >= 1);
    app.stop().await.expect("stop");
}
