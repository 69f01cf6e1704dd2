//! `wismo connect <provider>` (check the credentials against the provider
//! and save them, sealed, for every server) and `wismo sync <provider>`
//! (backfill the order mirror from the provider's API).

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use wismo_core::store::shopify::WebhookChange;
use wismo_integrations::shopify::{ApiVersion, ShopUrl, ShopifyClient, ShopifyConfig};
use wismo_integrations::woocommerce::{StoreUrl, WooClient, WooConfig};
use wismo_server::orders::{
    saved_shopify, saved_woocommerce, shopify_settings_json, woocommerce_settings_json,
};
use wismo_store::MirrorOutcome;

use crate::db_cmd::{connect, runtime, DbArgs};
use crate::say;

#[derive(Subcommand)]
pub enum ConnectCommand {
    /// A Shopify shop's Admin API (a custom app's access token). The token
    /// is read from --access-token-file, else WISMO_SHOPIFY_ACCESS_TOKEN,
    /// else the first line of standard input; never from a flag.
    Shopify(ShopifyConnectArgs),
    /// A WooCommerce store's REST API v3 (a key made under WooCommerce →
    /// Settings → Advanced → REST API). The consumer secret is read from
    /// --consumer-secret-file, else WISMO_WOOCOMMERCE_CONSUMER_SECRET, else
    /// the first line of standard input; never from a flag.
    Woocommerce(WooConnectArgs),
    /// An AfterShip Tracking API key: wismo creates a tracking for every
    /// tracking number the store gives. The key is read from
    /// --api-key-file, else WISMO_AFTERSHIP_API_KEY, else standard input.
    Aftership(TrackerConnectArgs),
    /// An EasyPost API key: wismo creates a tracker for every tracking
    /// number the store gives. The key is read from --api-key-file, else
    /// WISMO_EASYPOST_API_KEY, else standard input.
    Easypost(TrackerConnectArgs),
    /// A Stripe webhook endpoint's signing secret (whsec_…), read from
    /// --webhook-secret-file, else WISMO_STRIPE_WEBHOOK_SECRET, else
    /// standard input. Stripe offers no call that checks a signing secret:
    /// its form is checked, and the first event tells.
    Stripe(StripeConnectArgs),
}

#[derive(Args)]
pub struct TrackerConnectArgs {
    /// A file whose first line is the API key.
    #[arg(long)]
    pub api_key_file: Option<PathBuf>,
    /// The service's API address (default: the provider's own).
    #[arg(long)]
    pub url: Option<String>,
    /// AfterShip's API version (YYYY-MM).
    #[arg(long, default_value = "2026-01")]
    pub api_version: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub struct StripeConnectArgs {
    /// A file whose first line is the signing secret.
    #[arg(long)]
    pub webhook_secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub struct WooConnectArgs {
    /// The store: https://shop.example.
    #[arg(long)]
    pub url: String,
    /// The key's consumer key (ck_…).
    #[arg(long)]
    pub consumer_key: String,
    /// A file whose first line is the consumer secret (cs_…).
    #[arg(long)]
    pub consumer_secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Args)]
pub struct ShopifyConnectArgs {
    /// The shop: example.myshopify.com (or an http(s):// base URL).
    #[arg(long)]
    pub shop: String,
    /// The Admin API version to call.
    #[arg(long, default_value = wismo_integrations::shopify::DEFAULT_API_VERSION)]
    pub api_version: String,
    /// A file whose first line is the access token (shpat_…).
    #[arg(long)]
    pub access_token_file: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Fetch the shop's orders changed since a date into the order mirror
    /// (the connection saved by `wismo connect shopify`, or
    /// WISMO_SHOPIFY_SHOP with WISMO_SHOPIFY_ACCESS_TOKEN).
    Shopify(ShopifySyncArgs),
    /// Fetch the store's orders modified since a date into the order mirror
    /// (the connection saved by `wismo connect woocommerce`, or
    /// WISMO_WOOCOMMERCE_URL with WISMO_WOOCOMMERCE_CONSUMER_KEY and
    /// WISMO_WOOCOMMERCE_CONSUMER_SECRET).
    Woocommerce(ShopifySyncArgs),
}

#[derive(Args)]
pub struct ShopifySyncArgs {
    /// YYYY-MM-DD (midnight UTC) or an RFC 3339 time.
    #[arg(long)]
    pub since: String,
    #[command(flatten)]
    pub db: DbArgs,
}

fn token(file: Option<&PathBuf>) -> Result<String> {
    secret(file, "WISMO_SHOPIFY_ACCESS_TOKEN", "access token")
}

/// A secret from `file`, else the environment variable `var`, else the
/// first line of standard input.
fn secret(file: Option<&PathBuf>, var: &str, what: &str) -> Result<String> {
    let raw = match (file, std::env::var(var)) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, Ok(t)) => t,
        (None, Err(_)) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .with_context(|| format!("cannot read the {what} from standard input"))?;
            line
        }
    };
    let t = raw.lines().next().unwrap_or_default().trim().to_string();
    if t.is_empty() {
        bail!("no {what}: give it in a file, set {var} or pipe it in");
    }
    Ok(t)
}

/// `YYYY-MM-DD` or RFC 3339.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            anyhow::anyhow!("--since {s:?} is not a date (YYYY-MM-DD) or an RFC 3339 time")
        })
}

pub fn connect_cmd(cmd: &ConnectCommand) -> Result<()> {
    let args = match cmd {
        ConnectCommand::Shopify(args) => args,
        ConnectCommand::Woocommerce(args) => return connect_woocommerce(args),
        ConnectCommand::Aftership(args) => return connect_tracker("aftership", args),
        ConnectCommand::Easypost(args) => return connect_tracker("easypost", args),
        ConnectCommand::Stripe(args) => return connect_stripe(args),
    };
    let config = ShopifyConfig {
        shop: ShopUrl::parse(&args.shop).map_err(anyhow::Error::msg)?,
        access_token: token(args.access_token_file.as_ref())?,
        api_version: ApiVersion::parse(&args.api_version).map_err(anyhow::Error::msg)?,
    };
    runtime()?.block_on(async {
        let client = ShopifyClient::new(config.clone())?;
        let name = client
            .shop_name()
            .await
            .context("the connection does not work; nothing was saved")?;
        let db = connect(&args.db).await?;
        db.save_connection("shopify", &shopify_settings_json(&config), Utc::now())
            .await?;
        crate::audit_cmd::record(
            &db,
            "integration.connect",
            "shopify",
            serde_json::json!({"shop": config.shop.as_str(), "api_version": config.api_version.as_str()}),
        )
        .await?;
        say(format!(
            "Connected to {name} ({}, Admin API {}). Every server on this database uses it from its next start.",
            config.shop.as_str(),
            config.api_version.as_str()
        ));
        Ok(())
    })
}

fn connect_woocommerce(args: &WooConnectArgs) -> Result<()> {
    let config = WooConfig {
        store: StoreUrl::parse(&args.url).map_err(anyhow::Error::msg)?,
        consumer_key: args.consumer_key.trim().to_string(),
        consumer_secret: secret(
            args.consumer_secret_file.as_ref(),
            "WISMO_WOOCOMMERCE_CONSUMER_SECRET",
            "consumer secret",
        )?,
    };
    runtime()?.block_on(async {
        let client = WooClient::new(config.clone())?;
        let orders = client
            .check()
            .await
            .context("the connection does not work; nothing was saved")?;
        let db = connect(&args.db).await?;
        db.save_connection(
            "woocommerce",
            &woocommerce_settings_json(&config),
            Utc::now(),
        )
        .await?;
        crate::audit_cmd::record(
            &db,
            "integration.connect",
            "woocommerce",
            serde_json::json!({"url": config.store.as_str()}),
        )
        .await?;
        say(format!(
            "Connected to {} ({orders} orders). Every server on this database uses it from its next start.",
            config.store.as_str()
        ));
        Ok(())
    })
}

fn connect_tracker(provider: &'static str, args: &TrackerConnectArgs) -> Result<()> {
    use wismo_integrations::trackers::{AfterShip, EasyPost};
    let (var, default_url) = match provider {
        "aftership" => ("WISMO_AFTERSHIP_API_KEY", "https://api.aftership.com"),
        _ => ("WISMO_EASYPOST_API_KEY", "https://api.easypost.com"),
    };
    let key = secret(args.api_key_file.as_ref(), var, "API key")?;
    let url = args.url.clone().unwrap_or_else(|| default_url.to_string());
    runtime()?.block_on(async {
        let checked = match provider {
            "aftership" => AfterShip::new(&url, &key, &args.api_version)?.check().await,
            _ => EasyPost::new(&url, &key)?.check().await,
        };
        checked.context("the connection does not work; nothing was saved")?;
        let db = connect(&args.db).await?;
        let saved = serde_json::json!({"api_key": key, "url": url, "api_version": args.api_version});
        db.save_connection(provider, &saved, Utc::now()).await?;
        crate::audit_cmd::record(
            &db,
            "integration.connect",
            provider,
            serde_json::json!({"url": url}),
        )
        .await?;
        say(format!(
            "Connected to {provider} ({url}). Every server on this database creates trackers there from its next start (unless its settings name another key)."
        ));
        Ok(())
    })
}

fn connect_stripe(args: &StripeConnectArgs) -> Result<()> {
    let whsec = secret(
        args.webhook_secret_file.as_ref(),
        "WISMO_STRIPE_WEBHOOK_SECRET",
        "webhook signing secret",
    )?;
    if !whsec.starts_with("whsec_") || whsec.len() < 16 || !whsec.is_ascii() {
        bail!("that is not a Stripe webhook signing secret (whsec_…, shown on the endpoint's page in the Stripe dashboard); nothing was saved");
    }
    runtime()?.block_on(async {
        let db = connect(&args.db).await?;
        db.save_connection(
            "stripe",
            &serde_json::json!({"webhook_secret": whsec}),
            Utc::now(),
        )
        .await?;
        crate::audit_cmd::record(&db, "integration.connect", "stripe", serde_json::json!({}))
            .await?;
        say("Saved the Stripe signing secret. Stripe cannot check it ahead of time: send a test event from the dashboard (Developers → Webhooks → Send test event) and look for 200 there.".to_string());
        Ok(())
    })
}

fn woocommerce_sync(args: &ShopifySyncArgs) -> Result<()> {
    let since = parse_since(&args.since)?;
    runtime()?.block_on(async {
        let db = connect(&args.db).await?;
        let env = |k: &str| std::env::var(k).ok();
        let config = match (
            env("WISMO_WOOCOMMERCE_URL"),
            env("WISMO_WOOCOMMERCE_CONSUMER_KEY"),
            env("WISMO_WOOCOMMERCE_CONSUMER_SECRET"),
        ) {
            (Some(url), Some(key), Some(secret)) => WooConfig {
                store: StoreUrl::parse(&url).map_err(anyhow::Error::msg)?,
                consumer_key: key,
                consumer_secret: secret,
            },
            _ => match db.connection("woocommerce").await? {
                Some(saved) => saved_woocommerce(&saved)?,
                None => bail!(
                    "no WooCommerce connection: run `wismo connect woocommerce --url … --consumer-key …` first (or set WISMO_WOOCOMMERCE_URL, WISMO_WOOCOMMERCE_CONSUMER_KEY and WISMO_WOOCOMMERCE_CONSUMER_SECRET)"
                ),
            },
        };
        let client = WooClient::new(config)?;
        let started = Instant::now();
        let (mut fetched, mut applied, mut current) = (0u64, 0u64, 0u64);
        let mut page = 1;
        loop {
            let got = client
                .orders_modified_since(since, page)
                .await
                .with_context(|| format!("the sync stopped after {fetched} orders"))?;
            for (order, updated_at) in got.orders {
                fetched += 1;
                let change = WebhookChange::Order {
                    order: Box::new(order),
                    updated_at,
                };
                match db.apply_fetched("woocommerce", change, Utc::now()).await? {
                    MirrorOutcome::Applied(_) => applied += 1,
                    _ => current += 1,
                }
            }
            match got.next {
                Some(next) => page = next,
                None => break,
            }
        }
        crate::audit_cmd::record(
            &db,
            "integration.sync",
            "woocommerce",
            serde_json::json!({"since": since.to_rfc3339(), "fetched": fetched, "applied": applied}),
        )
        .await?;
        say(format!(
            "Fetched {fetched} orders modified since {}: {applied} written, {current} already up to date ({:.1} s).",
            since.format("%Y-%m-%d %H:%M UTC"),
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    })
}

pub fn sync_cmd(cmd: &SyncCommand) -> Result<()> {
    let args = match cmd {
        SyncCommand::Shopify(args) => args,
        SyncCommand::Woocommerce(args) => return woocommerce_sync(args),
    };
    let since = parse_since(&args.since)?;
    runtime()?.block_on(async {
        let db = connect(&args.db).await?;
        let config = match (
            std::env::var("WISMO_SHOPIFY_SHOP"),
            std::env::var("WISMO_SHOPIFY_ACCESS_TOKEN"),
        ) {
            (Ok(shop), Ok(token)) => ShopifyConfig {
                shop: ShopUrl::parse(&shop).map_err(anyhow::Error::msg)?,
                access_token: token,
                api_version: match std::env::var("WISMO_SHOPIFY_API_VERSION") {
                    Ok(v) => ApiVersion::parse(&v).map_err(anyhow::Error::msg)?,
                    Err(_) => ApiVersion::default(),
                },
            },
            _ => match db.connection("shopify").await? {
                Some(saved) => saved_shopify(&saved)?,
                None => bail!(
                    "no Shopify connection: run `wismo connect shopify --shop …` first (or set WISMO_SHOPIFY_SHOP and WISMO_SHOPIFY_ACCESS_TOKEN)"
                ),
            },
        };
        let client = ShopifyClient::new(config)?;
        let started = Instant::now();
        let (mut fetched, mut applied, mut current) = (0u64, 0u64, 0u64);
        let mut after: Option<String> = None;
        loop {
            let page = client
                .orders_updated_since(since, after.as_deref())
                .await
                .with_context(|| format!("the sync stopped after {fetched} orders"))?;
            for (order, updated_at) in page.orders {
                fetched += 1;
                let change = WebhookChange::Order {
                    order: Box::new(order),
                    updated_at,
                };
                match db.apply_fetched("shopify", change, Utc::now()).await? {
                    MirrorOutcome::Applied(_) => applied += 1,
                    _ => current += 1,
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        crate::audit_cmd::record(
            &db,
            "integration.sync",
            "shopify",
            serde_json::json!({"since": since.to_rfc3339(), "fetched": fetched, "applied": applied}),
        )
        .await?;
        say(format!(
            "Fetched {fetched} orders changed since {}: {applied} written, {current} already up to date ({:.1} s).",
            since.format("%Y-%m-%d %H:%M UTC"),
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    })
}
