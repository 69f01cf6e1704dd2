//! The order mirror fed by webhooks, on SQLite and PostgreSQL: each delivery
//! once, never an older state over a newer one, fulfilments and refunds
//! merged into their order, every server's cache told.

mod common;

use chrono::{DateTime, Utc};
use common::Fixture;
use wismo_core::store::shopify::{parse_webhook, WebhookTopic};
use wismo_core::store::{FulfillmentStatus, ShipmentStatus};
use wismo_store::{Db, MirrorOutcome};

fn order_body(updated: &str, financial: &str) -> String {
    format!(
        r##"{{"id": 5001, "name": "#M-1", "email": "Ana@Example.com", "created_at": "2026-12-01T10:00:00Z",
        "updated_at": "{updated}", "financial_status": "{financial}", "total_price": "30.00", "currency": "EUR",
        "line_items": [{{"id": 71, "title": "Kettle", "quantity": 1, "price": "30.00"}}],
        "shipping_address": {{"first_name": "Ana", "last_name": "Ruiz", "address1": "Calle 1", "city": "Sevilla", "country_code": "es"}}}}"##
    )
}

fn fulfillment_body(updated: &str, status: &str) -> String {
    format!(
        r#"{{"id": 9001, "order_id": 5001, "status": "success", "created_at": "2026-12-02T08:00:00Z",
        "updated_at": "{updated}", "tracking_company": "DHL", "tracking_number": "JD0146",
        "shipment_status": "{status}", "line_items": [{{"id": 71, "quantity": 1}}]}}"#
    )
}

async fn apply(db: &Db, id: &str, topic: WebhookTopic, body: &str) -> MirrorOutcome {
    let change = parse_webhook(topic, body).expect("parses");
    db.apply_delivery("shopify", id, change, Utc::now())
        .await
        .expect("applies")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn deliveries_apply_once_in_platform_order_whatever_order_they_arrive_in() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        let generation = db.order_cache_generation();
        // A fulfilment before its order: nothing to attach it to.
        assert_eq!(
            apply(
                db,
                "w0",
                WebhookTopic::FulfillmentsCreate,
                &fulfillment_body("2026-12-02T08:00:00Z", "in_transit")
            )
            .await,
            MirrorOutcome::UnknownOrder,
            "{name}"
        );
        let created = order_body("2026-12-01T10:00:00Z", "paid");
        assert_eq!(
            apply(db, "w1", WebhookTopic::OrdersCreate, &created).await,
            MirrorOutcome::Applied("M-1".into()),
            "{name}"
        );
        assert!(
            db.order_cache_generation() > generation,
            "{name}: cache told"
        );
        // The same delivery again (Shopify delivers at least once).
        assert_eq!(
            apply(db, "w1", WebhookTopic::OrdersCreate, &created).await,
            MirrorOutcome::Duplicate,
            "{name}"
        );
        // The same state under another delivery id: nothing to write.
        let generation = db.order_cache_generation();
        assert_eq!(
            apply(db, "w1b", WebhookTopic::OrdersUpdated, &created).await,
            MirrorOutcome::Unchanged("M-1".into()),
            "{name}"
        );
        assert_eq!(
            db.order_cache_generation(),
            generation,
            "{name}: caches kept"
        );
        let o = db.find_order("#m-1").await.expect("read").expect("stored");
        assert_eq!(
            o.fulfillment_status,
            FulfillmentStatus::Unfulfilled,
            "{name}"
        );
        assert_eq!(o.email.as_deref(), Some("ana@example.com"), "{name}");

        // Shipped, then delivered; the delivered update arrives first.
        assert_eq!(
            apply(
                db,
                "w3",
                WebhookTopic::FulfillmentsUpdate,
                &fulfillment_body("2026-12-04T15:00:00Z", "delivered")
            )
            .await,
            MirrorOutcome::Applied("M-1".into()),
            "{name}"
        );
        assert_eq!(
            apply(
                db,
                "w2",
                WebhookTopic::FulfillmentsCreate,
                &fulfillment_body("2026-12-02T08:00:00Z", "in_transit")
            )
            .await,
            MirrorOutcome::Stale("M-1".into()),
            "{name}"
        );
        let o = db.find_order("M-1").await.expect("read").expect("stored");
        assert_eq!(o.fulfillment_status, FulfillmentStatus::Fulfilled, "{name}");
        assert_eq!(o.fulfillments.len(), 1, "{name}");
        assert_eq!(
            o.fulfillments[0].shipment_status,
            Some(ShipmentStatus::Delivered),
            "{name}"
        );
        assert_eq!(o.fulfillments[0].tracking_numbers, ["JD0146"], "{name}");

        // The order as it was before the fulfilment, delivered late: stale.
        assert_eq!(
            apply(
                db,
                "w4",
                WebhookTopic::OrdersUpdated,
                &order_body("2026-12-03T00:00:00Z", "paid")
            )
            .await,
            MirrorOutcome::Stale("M-1".into()),
            "{name}"
        );
        // A refund, then the order with its new financial status.
        let refund = r#"{"id": 77, "order_id": 5001, "created_at": "2026-12-05T09:00:00Z",
            "refund_line_items": [{"line_item_id": 71, "quantity": 1, "restock_type": "return"}],
            "transactions": [{"kind": "refund", "status": "success", "amount": "30.00"}]}"#;
        assert_eq!(
            apply(db, "w5", WebhookTopic::RefundsCreate, refund).await,
            MirrorOutcome::Applied("M-1".into()),
            "{name}"
        );
        let o = db.find_order("M-1").await.expect("read").expect("stored");
        assert_eq!(o.refunds.len(), 1, "{name}");
        assert_eq!(o.refunds[0].amount, "30.00", "{name}");
        assert!(o.returned, "{name}");
        assert_eq!(
            o.fulfillments[0].delivered_at, None,
            "{name}: Shopify sends no delivery time"
        );
        assert_eq!(
            o.fulfillments[0].updated_at,
            Some(at("2026-12-04T15:00:00Z")),
            "{name}"
        );
    }
}

#[tokio::test]
async fn two_servers_racing_the_same_delivery_apply_it_once() {
    let fx = Fixture::new().await;
    // Two connections to the PostgreSQL database (two servers).
    let a = Db::connect_with_key_file(&fx.pg_url, &fx.pg_key)
        .await
        .expect("a");
    let b = Db::connect_with_key_file(&fx.pg_url, &fx.pg_key)
        .await
        .expect("b");
    let body = order_body("2026-12-01T10:00:00Z", "paid");
    let mut tasks = Vec::new();
    for i in 0..10 {
        let db = if i % 2 == 0 { a.clone() } else { b.clone() };
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            apply(&db, "same-id", WebhookTopic::OrdersCreate, &body).await
        }));
    }
    let mut applied = 0;
    for t in tasks {
        match t.await.expect("task") {
            MirrorOutcome::Applied(_) => applied += 1,
            MirrorOutcome::Duplicate => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(applied, 1);
}
