//! Measurements for the live-store-data targets (ignored: run by hand,
//! numbers in BENCHMARKS.md, "Live store data"):
//!
//! `cargo test --release -p wismo-server --test shopify_bench -- --ignored --nocapture`
//!
//! - a throttled shop (50 cost points/s) with 1,000 orders backfilled, then
//!   chats about them at a fixed rate, 5% of them about orders the mirror
//!   does not hold: how many answers were "can't reach" (throttling that
//!   reached a shopper), and the share of lookups the mirror served;
//! - the shop down (503) with the breaker open: the turn's latency.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{replies, spawn_app_with, Backend};
use wismo_core::store::shopify::WebhookChange;
use wismo_integrations::shopify::{ApiVersion, ShopUrl, ShopifyClient, ShopifyConfig};
use wismo_mocks::shopify::{Fault, MockShopify, MockShopifyConfig, OrderSpec};

fn spec(i: u64) -> OrderSpec {
    let created = Utc
        .with_ymd_and_hms(2026, 11, 20, 9, 0, 0)
        .single()
        .expect("t")
        + chrono::Duration::minutes(i as i64);
    OrderSpec {
        legacy_id: 5_000_000 + i,
        number: format!("M{}", 10_000 + i),
        email: format!("buyer{i}@example.net"),
        created_at: created,
        updated_at: created + chrono::Duration::hours(1),
        currency: "USD".into(),
        items: vec![("Trail shoes", 1, "98.00")],
        shipment: Some(("UPS", format!("1ZBENCH{i:08}"), "IN_TRANSIT", None)),
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1);
    sorted.get(i).copied().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throttled_shop_and_shop_down() {
    let orders: u64 = std::env::var("WISMO_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mock = MockShopify::start(MockShopifyConfig {
        restore_rate: 50.0,
        ..MockShopifyConfig::default()
    })
    .await
    .expect("mock");
    for i in 0..orders {
        mock.put_order(spec(i).node());
    }
    let url = mock.url();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("shopify_shop", url.as_str()),
            ("shopify_access_token", mock.access_token()),
            ("rate_limit_ip", "0"),
            ("rate_limit_conversation", "0"),
            ("verification_failures", "0"),
            ("verification_failures_order", "0"),
        ],
    )
    .await;
    // Backfill, as `wismo sync shopify` does.
    let started = Instant::now();
    let client = ShopifyClient::new(ShopifyConfig {
        shop: ShopUrl::parse(&url).expect("url"),
        access_token: mock.access_token().into(),
        api_version: ApiVersion::default(),
    })
    .expect("client");
    let since = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("t");
    let mut after = None;
    let mut fetched = 0;
    loop {
        let page = client
            .orders_updated_since(since, after.as_deref())
            .await
            .expect("page");
        for (order, updated_at) in page.orders {
            fetched += 1;
            let change = WebhookChange::Order {
                order: Box::new(order),
                updated_at,
            };
            app.state
                .sessions
                .db
                .apply_fetched("shopify", change, Utc::now())
                .await
                .expect("apply");
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    println!(
        "backfill: {fetched} orders in {:.1} s, throttled {}",
        started.elapsed().as_secs_f64(),
        mock.stats().throttled
    );
    // New orders after the backfill: the mirror does not hold them.
    for i in orders..orders + 50 {
        mock.put_order(spec(i).node());
    }

    // Chats at a fixed rate, each about one order (5% new ones).
    let rate: u64 = std::env::var("WISMO_BENCH_CHATS_PER_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seconds: u64 = std::env::var("WISMO_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let cant = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let lookups_before = mock.stats().lookups;
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    let tick = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    for n in 0..rate * seconds {
        let target = start + tick * n as u32;
        tokio::time::sleep_until(target.into()).await;
        let i = if n % 20 == 0 {
            orders + (n / 20) % 50
        } else {
            (n * 7919) % orders
        };
        let (app, cant, answered) = (app.clone(), cant.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            let conv = app.create().await;
            app.say(&conv, &format!("where is order M{}", 10_000 + i))
                .await;
            let answer = replies(&app.say(&conv, &format!("buyer{i}@example.net")).await);
            answered.fetch_add(1, Ordering::Relaxed);
            if answer.contains("can't reach our order system") {
                cant.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("chat");
    }
    let chats = answered.load(Ordering::Relaxed);
    let lookups = mock.stats().lookups - lookups_before;
    println!(
        "chats: {chats} in {:.1} s ({rate}/s asked); answers saying the order system can't be reached: {}; \
         live lookups: {lookups} ({:.1}% of chats served by the mirror); THROTTLED answers from the shop: {}",
        start.elapsed().as_secs_f64(),
        cant.load(Ordering::Relaxed),
        100.0 * (chats - lookups.min(chats)) as f64 / chats.max(1) as f64,
        mock.stats().throttled
    );

    // The shop down: open the breaker, then time turns about missing orders.
    mock.set_fault(Fault::Unavailable);
    for i in 0..5 {
        let conv = app.create().await;
        app.say(&conv, &format!("where is order M{}", 20_000 + i))
            .await;
        app.say(&conv, "someone@example.net").await;
    }
    let mut times = Vec::new();
    let (mut firsts, mut seconds_) = (Vec::new(), Vec::new());
    let down_started = Instant::now();
    for i in 0..300u64 {
        let conv = app.create().await;
        let t = Instant::now();
        app.say(&conv, &format!("where is order M{}", 30_000 + i))
            .await;
        firsts.push(t.elapsed());
        let t = Instant::now();
        app.say(&conv, "someone@example.net").await;
        seconds_.push(t.elapsed());
    }
    firsts.sort();
    seconds_.sort();
    println!(
        "  first turns p50 {:?} p99 {:?}; second turns p50 {:?} p99 {:?}",
        pct(&firsts, 0.5),
        pct(&firsts, 0.99),
        pct(&seconds_, 0.5),
        pct(&seconds_, 0.99)
    );
    times.extend(firsts);
    times.extend(seconds_);
    times.sort();
    println!(
        "shop down, breaker open: 600 turns (300 chats) in {:.1} s, p50 {:?}, p99 {:?}, max {:?}",
        down_started.elapsed().as_secs_f64(),
        pct(&times, 0.5),
        pct(&times, 0.99),
        times.last().copied().unwrap_or_default()
    );
}
