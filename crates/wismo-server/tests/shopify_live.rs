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

/// An order not shipped yet (no fulfilment).
fn unshipped(number: &str, legacy_id: u64) -> OrderSpec {
    OrderSpec {
        shipment: None,
        ..spec(number, legacy_id)
    }
}

async fn verified(app: &TestApp, first: &str) -> (common::Conv, String) {
    let conv = app.create().await;
    app.say(&conv, first).await;
    let answer = replies(&app.say(&conv, "maya.k@example.org").await);
    (conv, answer)
}

#[tokio::test]
async fn cancellations_and_new_addresses_are_made_at_the_shop_first_and_its_refusal_is_the_reason()
{
    let mock = MockShopify::start(MockShopifyConfig::default())
        .await
        .expect("mock");
    mock.put_order(unshipped("5601", 9_200_001).node());
    mock.put_order(unshipped("5602", 9_200_002).node());
    mock.put_order(unshipped("5603", 9_200_003).node());
    mock.put_order(unshipped("5604", 9_200_004).node());
    mock.put_order(spec("5605", 9_200_005).node());
    let url = mock.url();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("shopify_shop", url.as_str()),
            ("shopify_access_token", mock.access_token()),
        ],
    )
    .await;

    // Cancelled at Shopify, then in the mirror.
    let (conv, answer) = verified(&app, "please cancel order 5601").await;
    assert!(answer.contains("cancel order #5601"), "{answer}");
    let done = replies(&app.say(&conv, "yes").await);
    assert!(done.contains("Order #5601 is cancelled"), "{done}");
    let at_shop = mock.order("5601").expect("order");
    assert_eq!(at_shop["cancelReason"], "CUSTOMER");
    assert_eq!(at_shop["displayFinancialStatus"], "REFUNDED");
    let (_, again) = verified(&app, "where is order 5601").await;
    assert!(again.contains("cancel"), "{again}");

    // The mirror thinks 5602 is open; the shop cancelled it meanwhile: the
    // shop's refusal is what the shopper hears, and the mirror is unchanged.
    let (conv, answer) = verified(&app, "cancel order 5602").await;
    assert!(answer.contains("cancel order #5602"), "{answer}");
    let mut node = mock.order("5602").expect("order");
    node["cancelledAt"] = serde_json::json!("2026-11-20T10:00:00Z");
    mock.put_order(node);
    let refused = replies(&app.say(&conv, "yes").await);
    assert!(
        refused.contains("I couldn't cancel order #5602")
            && refused.contains("the shop says \"Order has already been cancelled\""),
        "{refused}"
    );
    let changes = mock.stats().changes;
    assert_eq!(changes, 1, "only 5601 changed at the shop");

    // A new address goes to the shop.
    let (conv, _) = verified(&app, "I need to change the shipping address of order 5603").await;
    let confirm = replies(&app.say(&conv, "48 Harbor Road, Portland, ME 04101").await);
    assert!(
        confirm.contains("shipping address of order #5603"),
        "{confirm}"
    );
    let done = replies(&app.say(&conv, "yes").await);
    assert!(done.contains("new address"), "{done}");
    let at_shop = mock.order("5603").expect("order");
    assert_eq!(at_shop["shippingAddress"]["address1"], "48 Harbor Road");
    assert_eq!(at_shop["shippingAddress"]["city"], "Portland");

    // Shipped: the store's rule answers without asking the shop.
    let (_, answer) = verified(&app, "cancel order 5605").await;
    assert!(answer.contains("#5605"), "{answer}");
    assert!(!answer.contains("do you want to cancel"), "{answer}");
    assert_eq!(mock.stats().changes, 2);

    // The shop down: nothing is cancelled in the mirror, a person takes over.
    let (conv, _) = verified(&app, "cancel order 5604").await;
    mock.set_fault(Fault::Unavailable);
    let down = replies(&app.say(&conv, "yes").await);
    assert!(!down.contains("is cancelled"), "{down}");
    assert!(
        down.contains("person") || down.contains("team") || down.contains("agent"),
        "{down}"
    );
    mock.set_fault(Fault::None);
    assert!(mock.order("5604").expect("order")["cancelledAt"].is_null());
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn while_the_shop_is_down_an_old_answer_says_how_old_it_is() {
    use sqlx::Connection as _;
    let mock = MockShopify::start(MockShopifyConfig::default())
        .await
        .expect("mock");
    mock.put_order(spec("5701", 9_300_001).node());
    mock.put_order(spec("5702", 9_300_002).node());
    let url = mock.url();
    let app = spawn_app_with(
        Backend::Postgres,
        &[
            ("shopify_shop", url.as_str()),
            ("shopify_access_token", mock.access_token()),
        ],
    )
    .await;
    // Both fetched into the mirror while the shop is up: no age is said.
    for n in ["5701", "5702"] {
        let (answer, _) = ask(&app, n).await;
        assert!(answer.contains("FedEx"), "{answer}");
        assert!(!answer.contains("told us"), "{answer}");
    }
    // 5701 was last heard of three hours ago.
    let mut pg = sqlx::PgConnection::connect(&app.database_url)
        .await
        .expect("database");
    sqlx::query("UPDATE orders SET mirrored_at = now() - interval '3 hours' WHERE number = '5701'")
        .execute(&mut pg)
        .await
        .expect("age the order");
    // Up: the shop could be asked, so nothing is said about age.
    let (answer, _) = ask(&app, "5701").await;
    assert!(!answer.contains("told us"), "{answer}");

    // Down (the breaker opens on orders the mirror lacks).
    mock.set_fault(Fault::Unavailable);
    for _ in 0..4 {
        let (answer, _) = ask(&app, "5799").await;
        assert!(answer.contains("can't reach our order system"), "{answer}");
    }
    let (answer, _) = ask(&app, "5701").await;
    assert!(answer.contains("79469300001"), "{answer}");
    assert!(
        answer.contains("told us 3 hours ago: it isn't answering right now"),
        "{answer}"
    );
    // Heard of a moment ago: fresh enough to say nothing.
    let (answer, _) = ask(&app, "5702").await;
    assert!(answer.contains("79469300002"), "{answer}");
    assert!(!answer.contains("told us"), "{answer}");
    app.stop().await.expect("stop");
}
