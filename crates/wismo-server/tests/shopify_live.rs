//! Orders from a live Shopify shop (the mock): an order the mirror does not
//! hold is looked up once and kept; with the shop down, orders in the
//! mirror are still answered and others get the honest "can't reach the
//! order system" with a person, quickly once the breaker is open.

mod common;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{replies, spawn_app_with, Backend, TestApp};
use wismo_mocks::shopify::{Fault, MockShopify, MockShopifyConfig, OrderSpec};

fn spec(number: &str, legacy_id: u64) -> OrderSpec {
    let created = Utc
        .with_ymd_and_hms(2026, 11, 19, 15, 30, 0)
        .single()
        .expect("time");
    OrderSpec {
        legacy_id,
        number: number.to_string(),
        email: "maya.k@example.org".into(),
        created_at: created,
        updated_at: created + chrono::Duration::days(2),
        currency: "USD".into(),
        items: vec![("Down jacket", 1, "189.00")],
        shipment: Some((
            "FedEx",
            format!("7946{legacy_id}"),
            "IN_TRANSIT",
            Some(created + chrono::Duration::days(7)),
        )),
    }
}

async fn ask(app: &TestApp, number: &str) -> (String, Duration) {
    let conv = app.create().await;
    let first = replies(&app.say(&conv, &format!("where is my order {number}")).await);
    let started = Instant::now();
    let second = replies(&app.say(&conv, "maya.k@example.org").await);
    (format!("{first}\n{second}"), started.elapsed())
}

#[tokio::test]
async fn orders_missing_from_the_mirror_come_from_the_shop_and_a_down_shop_is_said_honestly() {
    let mock = MockShopify::start(MockShopifyConfig::default())
        .await
        .expect("mock");
    mock.put_order(spec("5501", 9_100_001).node());
    mock.put_order(spec("5502", 9_100_002).node());
    let url = mock.url();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("shopify_shop", url.as_str()),
            ("shopify_access_token", mock.access_token()),
        ],
    )
    .await;

    let (answer, _) = ask(&app, "5501").await;
    assert!(
        answer.contains("79469100001"),
        "the shop's tracking number: {answer}"
    );
    assert!(answer.contains("FedEx"), "{answer}");
    assert_eq!(mock.stats().lookups, 1);
    // Now in the mirror: the next question costs the shop nothing.
    let (again, _) = ask(&app, "5501").await;
    assert!(again.contains("79469100001"), "{again}");
    assert_eq!(mock.stats().lookups, 1, "answered from the mirror");
    // A number the shop does not have is asked once.
    let (_, _) = ask(&app, "5599").await;
    let (_, _) = ask(&app, "5599").await;
    assert_eq!(mock.stats().lookups, 2);

    // The shop goes down.
    mock.set_fault(Fault::Unavailable);
    let (answer, _) = ask(&app, "5501").await;
    assert!(
        answer.contains("79469100001"),
        "the mirror still answers: {answer}"
    );
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let (answer, took) = ask(&app, "5502").await;
        assert!(
            answer.contains("can't reach our order system"),
            "honest, and a person is offered: {answer}"
        );
        assert!(!answer.contains("79469100002"), "{answer}");
        slowest = slowest.max(took);
    }
    // Once the breaker is open, the turn does not wait for the shop.
    let (_, took) = ask(&app, "5502").await;
    assert!(
        took < Duration::from_millis(500),
        "{took:?} (slowest while opening: {slowest:?})"
    );
    app.stop().await.expect("stop");
}
