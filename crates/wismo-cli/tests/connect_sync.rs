//! `wismo connect shopify` and `wismo sync shopify` against the mock shop,
//! as a user runs them: a wrong token is refused and nothing is saved; the
//! right one is saved sealed (the token is not in the database file); a
//! sync fills the mirror, and running it again writes nothing new; bad
//! dates get a clear message.

use std::path::PathBuf;
use std::process::{Command, Output};

use chrono::{TimeZone, Utc};
use wismo_mocks::shopify::{MockShopify, MockShopifyConfig, OrderSpec};

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wismo-connect-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Runs wismo on `dir` with none of the providers' variables from the
/// environment, then `env`.
fn run_with(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wismo"));
    cmd.args(args).arg("--data-dir").arg(dir);
    for var in [
        "WISMO_SHOPIFY_ACCESS_TOKEN",
        "WISMO_SHOPIFY_SHOP",
        "WISMO_WOOCOMMERCE_URL",
        "WISMO_WOOCOMMERCE_CONSUMER_KEY",
        "WISMO_WOOCOMMERCE_CONSUMER_SECRET",
        "WISMO_AFTERSHIP_API_KEY",
        "WISMO_EASYPOST_API_KEY",
        "WISMO_STRIPE_WEBHOOK_SECRET",
        "WISMO_DATABASE_URL",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run wismo")
}

fn wismo(dir: &std::path::Path, args: &[&str], token: Option<&str>) -> Output {
    let env: Vec<(&str, &str)> = token
        .map(|t| ("WISMO_SHOPIFY_ACCESS_TOKEN", t))
        .into_iter()
        .collect();
    run_with(dir, args, &env)
}

fn woo(dir: &std::path::Path, args: &[&str], secret: Option<&str>) -> Output {
    let env: Vec<(&str, &str)> = secret
        .map(|s| ("WISMO_WOOCOMMERCE_CONSUMER_SECRET", s))
        .into_iter()
        .collect();
    run_with(dir, args, &env)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_checks_and_saves_sealed_and_sync_fills_the_mirror_once() {
    let mock = MockShopify::start(MockShopifyConfig::default())
        .await
        .expect("mock");
    let start = Utc
        .with_ymd_and_hms(2026, 11, 2, 8, 0, 0)
        .single()
        .expect("time");
    for i in 0..7u64 {
        mock.put_order(
            OrderSpec {
                legacy_id: 8_800_000 + i,
                number: format!("B{}", 100 + i),
                email: format!("buyer{i}@example.com"),
                created_at: start + chrono::Duration::days(i as i64),
                updated_at: start + chrono::Duration::days(i as i64 + 1),
                currency: "CAD".into(),
                items: vec![("Snowshoes", 1, "149.00")],
                shipment: None,
            }
            .node(),
        );
    }
    let dir = temp_dir();
    let url = mock.url();

    let bad = wismo(
        &dir,
        &["connect", "shopify", "--shop", &url],
        Some("shpat_wrong"),
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("refused the credentials"),
        "{}",
        text(&bad)
    );
    let none = wismo(&dir, &["sync", "shopify", "--since", "2026-11-01"], None);
    assert!(!none.status.success());
    assert!(
        text(&none).contains("no Shopify connection"),
        "{}",
        text(&none)
    );

    let ok = wismo(
        &dir,
        &["connect", "shopify", "--shop", &url],
        Some(mock.access_token()),
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("Connected to Mock Outdoor Co."),
        "{}",
        text(&ok)
    );
    let mut db = std::fs::read(dir.join("wismo.db")).expect("db");
    db.extend(std::fs::read(dir.join("wismo.db-wal")).unwrap_or_default());
    let token = mock.access_token().as_bytes();
    assert!(
        !db.windows(token.len()).any(|w| w == token),
        "the token is sealed, not stored in the clear"
    );

    // Orders changed since Nov 5: B102 (updated Nov 5) to B106.
    let sync = wismo(&dir, &["sync", "shopify", "--since", "2026-11-05"], None);
    assert!(sync.status.success(), "{}", text(&sync));
    assert!(text(&sync).contains("Fetched 5 orders"), "{}", text(&sync));
    assert!(text(&sync).contains("5 written"), "{}", text(&sync));
    let again = wismo(&dir, &["sync", "shopify", "--since", "2026-11-01"], None);
    assert!(
        text(&again).contains("Fetched 7 orders"),
        "{}",
        text(&again)
    );
    assert!(
        text(&again).contains("2 written, 5 already up to date"),
        "{}",
        text(&again)
    );

    let bad_date = wismo(&dir, &["sync", "shopify", "--since", "last tuesday"], None);
    assert!(!bad_date.status.success());
    assert!(
        text(&bad_date).contains("is not a date"),
        "{}",
        text(&bad_date)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn woocommerce_connect_and_sync_page_through_the_store_once() {
    use wismo_mocks::woocommerce::{MockWoo, MockWooConfig, OrderSpec as WooOrder};
    let mock = MockWoo::start(MockWooConfig::default())
        .await
        .expect("mock");
    let start = Utc
        .with_ymd_and_hms(2026, 11, 2, 8, 0, 0)
        .single()
        .expect("time");
    // More than a page (50) of orders.
    for i in 0..60u64 {
        mock.put_order(
            WooOrder {
                id: 4000 + i,
                number: (4000 + i).to_string(),
                email: format!("buyer{i}@example.com"),
                status: "processing",
                created: start,
                modified: start + chrono::Duration::hours(i as i64),
                items: vec![("Headlamp", 1, "39.00")],
            }
            .json(),
        );
    }
    let dir = temp_dir();
    let url = mock.url();
    let key = mock.consumer_key().to_string();
    let connect = [
        "connect",
        "woocommerce",
        "--url",
        &url,
        "--consumer-key",
        &key,
    ];

    let bad = woo(&dir, &connect, Some("cs_wrong_secret_000000000000"));
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("refused the credentials") && text(&bad).contains("nothing was saved"),
        "{}",
        text(&bad)
    );
    let plain = woo(
        &dir,
        &[
            "connect",
            "woocommerce",
            "--url",
            "http://shop.example",
            "--consumer-key",
            &key,
        ],
        Some(mock.consumer_secret()),
    );
    assert!(text(&plain).contains("HTTPS only"), "{}", text(&plain));

    let ok = woo(&dir, &connect, Some(mock.consumer_secret()));
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("(60 orders)"), "{}", text(&ok));
    let mut db = std::fs::read(dir.join("wismo.db")).expect("db");
    db.extend(std::fs::read(dir.join("wismo.db-wal")).unwrap_or_default());
    let secret = mock.consumer_secret().as_bytes();
    assert!(
        !db.windows(secret.len()).any(|w| w == secret),
        "the secret is sealed, not stored in the clear"
    );

    let sync = woo(
        &dir,
        &["sync", "woocommerce", "--since", "2026-11-02"],
        None,
    );
    assert!(sync.status.success(), "{}", text(&sync));
    assert!(
        text(&sync).contains("Fetched 60 orders") && text(&sync).contains("60 written"),
        "{}",
        text(&sync)
    );
    let again = woo(
        &dir,
        &["sync", "woocommerce", "--since", "2026-11-02"],
        None,
    );
    assert!(
        text(&again).contains("0 written, 60 already up to date"),
        "{}",
        text(&again)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn tracking_and_stripe_connections_are_checked_then_saved_sealed() {
    use wismo_mocks::carriers::{MockCarriers, MockCarriersConfig};
    let mock = MockCarriers::start(MockCarriersConfig::default())
        .await
        .expect("mock");
    let dir = temp_dir();
    let url = mock.url();
    let aftership = ["connect", "aftership", "--url", &url];
    let bad = run_with(
        &dir,
        &aftership,
        &[("WISMO_AFTERSHIP_API_KEY", "asat_wrong_key_0000")],
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("refused the credentials") && text(&bad).contains("nothing was saved"),
        "{}",
        text(&bad)
    );
    let ok = run_with(
        &dir,
        &aftership,
        &[("WISMO_AFTERSHIP_API_KEY", mock.aftership_key())],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("Connected to aftership"),
        "{}",
        text(&ok)
    );
    let easypost = run_with(
        &dir,
        &["connect", "easypost", "--url", &url],
        &[("WISMO_EASYPOST_API_KEY", mock.easypost_key())],
    );
    assert!(easypost.status.success(), "{}", text(&easypost));

    let not_whsec = run_with(
        &dir,
        &["connect", "stripe"],
        &[("WISMO_STRIPE_WEBHOOK_SECRET", "sk_test_this_is_an_api_key")],
    );
    assert!(!not_whsec.status.success());
    assert!(
        text(&not_whsec).contains("not a Stripe webhook signing secret"),
        "{}",
        text(&not_whsec)
    );
    let whsec = "whsec_0123456789abcdefghijklmnop";
    let stripe = run_with(
        &dir,
        &["connect", "stripe"],
        &[("WISMO_STRIPE_WEBHOOK_SECRET", whsec)],
    );
    assert!(stripe.status.success(), "{}", text(&stripe));
    assert!(
        text(&stripe).contains("Send test event"),
        "{}",
        text(&stripe)
    );

    let mut db = std::fs::read(dir.join("wismo.db")).expect("db");
    db.extend(std::fs::read(dir.join("wismo.db-wal")).unwrap_or_default());
    for secret in [mock.aftership_key(), mock.easypost_key(), whsec] {
        let secret = secret.as_bytes();
        assert!(
            !db.windows(secret.len()).any(|w| w == secret),
            "sealed, not stored in the clear"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
