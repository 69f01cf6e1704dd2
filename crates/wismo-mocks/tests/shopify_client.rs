//! wismo's Shopify client against the mock shop: authentication, the order
//! shape converted with REST-compatible ids, the cost bucket respected
//! (interactive lookups refused locally instead of throttled remotely,
//! backfills waiting), and a down or hanging shop failing fast once the
//! breaker opens.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use wismo_core::store::{FulfillmentStatus, ShipmentStatus};
use wismo_integrations::shopify::{ApiVersion, ShopUrl, ShopifyClient, ShopifyConfig};
use wismo_integrations::IntegrationError;
use wismo_mocks::shopify::{Fault, MockShopify, MockShopifyConfig, OrderSpec};

fn client(mock: &MockShopify, token: &str) -> ShopifyClient {
    ShopifyClient::new(ShopifyConfig {
        shop: ShopUrl::parse(&mock.url()).expect("url"),
        access_token: token.to_string(),
        api_version: ApiVersion::default(),
    })
    .expect("client")
}

fn spec(i: u64) -> OrderSpec {
    let created = Utc
        .with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
        .single()
        .expect("time")
        + chrono::Duration::hours(i as i64);
    OrderSpec {
        legacy_id: 7_000_000 + i * 10,
        number: format!("{}", 3000 + i),
        email: format!("shopper{i}@example.org"),
        created_at: created,
        updated_at: created + chrono::Duration::days(1),
        currency: "USD".into(),
        items: vec![("Camp stove", 1, "64.00"), ("Fuel canister", 2, "6.50")],
        shipment: (i % 2 == 0).then(|| {
            (
                "UPS",
                format!("1Z999AA1012345{i:04}"),
                "IN_TRANSIT",
                Some(created + chrono::Duration::days(5)),
            )
        }),
    }
}

#[tokio::test]
async fn orders_come_back_in_wismos_shape_with_the_webhooks_ids() {
    let mock = MockShopify::start(MockShopifyConfig::default())
        .await
        .expect("mock");
    mock.put_order(spec(2).node());
    let c = client(&mock, mock.access_token());
    assert_eq!(c.shop_name().await.expect("shop"), "Mock Outdoor Co.");

    let (order, updated) = c
        .order_by_number("#3002")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(order.number, "3002");
    assert_eq!(
        order.id, "7000020",
        "the REST id, as fulfillment webhooks name it"
    );
    assert_eq!(order.email.as_deref(), Some("shopper2@example.org"));
    assert_eq!(order.total_price, "77.00");
    assert_eq!(order.line_items[0].id, "70000200", "numeric line item ids");
    assert_eq!(order.fulfillment_status, FulfillmentStatus::Fulfilled);
    let f = &order.fulfillments[0];
    assert_eq!(f.tracking_company.as_deref(), Some("UPS"));
    assert_eq!(f.tracking_numbers, ["1Z999AA10123450002"]);
    assert_eq!(f.shipment_status, Some(ShipmentStatus::InTransit));
    assert!(f.estimated_delivery_at.is_some());
    assert_eq!(updated, Some(spec(2).updated_at));
    assert!(c.order_by_number("9999").await.expect("lookup").is_none());
    // Typed junk never reaches the search syntax.
    assert!(c
        .order_by_number("3002 OR name:*")
        .await
        .expect("lookup")
        .is_none());

    let wrong = client(&mock, "shpat_wrong");
    let e = wrong.shop_name().await.unwrap_err();
    assert!(
        matches!(e, IntegrationError::Unauthorized("shopify")),
        "{e:?}"
    );
}

#[tokio::test]
async fn the_cost_bucket_is_never_overdrawn() {
    // A small bucket that refills slowly, so lookups outrun it.
    let mock = MockShopify::start(MockShopifyConfig {
        bucket_size: 300.0,
        restore_rate: 5.0,
        ..MockShopifyConfig::default()
    })
    .await
    .expect("mock");
    for i in 0..12 {
        mock.put_order(spec(i).node());
    }
    let c = client(&mock, mock.access_token());
    // Interactive lookups as fast as they come: the client stops asking
    // when the bucket cannot pay (each lookup is requested at 231 points).
    let mut found = 0;
    let mut refused = 0;
    for i in 0..12 {
        match c.order_by_number(&format!("{}", 3000 + i)).await {
            Ok(Some(_)) => found += 1,
            Err(IntegrationError::Throttled { .. }) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(found >= 2, "the first lookups are paid for: {found}");
    assert!(refused > 0, "then the client refuses locally: {refused}");
    assert_eq!(
        mock.stats().throttled,
        0,
        "Shopify never had to throttle us"
    );

    // A page of orders costs more than this bucket holds: refused, not
    // waited for forever.
    let since = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .expect("time");
    let e = c.orders_updated_since(since, None).await.unwrap_err();
    assert!(matches!(e, IntegrationError::Refused { .. }), "{e:?}");

    // A backfill on Shopify's real bucket (1,000 points, 50 a second):
    // every order, no THROTTLED.
    let mock = MockShopify::start(MockShopifyConfig::default())
        .await
        .expect("mock");
    for i in 0..40 {
        mock.put_order(spec(i).node());
    }
    let c = client(&mock, mock.access_token());
    let mut after = None;
    let mut numbers = Vec::new();
    loop {
        let page = c
            .orders_updated_since(since, after.as_deref())
            .await
            .expect("page");
        numbers.extend(page.orders.iter().map(|(o, _)| o.number.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 40, "{numbers:?}");
    assert_eq!(mock.stats().throttled, 0);
}

#[tokio::test]
async fn a_shop_that_is_down_or_hangs_fails_fast_once_the_breaker_opens() {
    let mock = MockShopify::start(MockShopifyConfig::default())
        .await
        .expect("mock");
    mock.put_order(spec(1).node());
    let c = client(&mock, mock.access_token());
    mock.set_fault(Fault::Unavailable);
    for _ in 0..3 {
        let e = c.order_by_number("3001").await.unwrap_err();
        assert!(
            matches!(e, IntegrationError::Status { status: 503, .. }),
            "{e:?}"
        );
    }
    assert!(c.is_down());
    let started = Instant::now();
    let e = c.order_by_number("3001").await.unwrap_err();
    assert!(
        matches!(e, IntegrationError::CircuitOpen("shopify")),
        "{e:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(10),
        "{:?}",
        started.elapsed()
    );

    let mock2 = MockShopify::start(MockShopifyConfig::default())
        .await
        .expect("mock");
    mock2.set_fault(Fault::Hang);
    let c2 = client(&mock2, mock2.access_token());
    let started = Instant::now();
    let e = c2.order_by_number("3001").await.unwrap_err();
    assert!(matches!(e, IntegrationError::Timeout("shopify")), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
