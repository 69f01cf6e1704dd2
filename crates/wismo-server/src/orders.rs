//! The engine's orders: the local mirror first (fast, and it answers when
//! the platform is slow or down), the platform's API for an order the
//! mirror does not hold yet (written into the mirror, so the next question
//! is a mirror hit). Nothing provider-specific reaches the engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::runtime::Handle;
use wismo_core::store::memory::{may_cancel, may_change_address};
use wismo_core::store::shopify::WebhookChange;
use wismo_core::store::{Address, Case, Order, OrderService, StoreError};
use wismo_integrations::shopify::{
    ApiVersion, MutationOutcome, ShopUrl, ShopifyClient, ShopifyConfig,
};
use wismo_integrations::woocommerce::{StoreUrl, WooClient, WooConfig};
use wismo_integrations::IntegrationError;
use wismo_store::{Db, SqlOrderService};

use crate::config::Config;

/// How long "the shop has no such order" is believed (typos are asked
/// about again and again; each lookup costs API points).
const MISSING_TTL: Duration = Duration::from_secs(60);
const MISSING_MAX: usize = 10_000;
/// From this age on, an answer given while the shop is down says how old
/// it is.
const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(10);

/// The Shopify connection in effect: the settings (`shopify_shop`,
/// `shopify_access_token`) win over one saved by `wismo connect shopify`.
pub async fn shopify_config(config: &Config, db: &Db) -> anyhow::Result<Option<ShopifyConfig>> {
    if let Some(s) = &config.shopify {
        return Ok(Some(s.client_config()));
    }
    let Some(saved) = db.connection("shopify").await? else {
        return Ok(None);
    };
    saved_shopify(&saved).map(Some)
}

/// A connection saved by `wismo connect shopify`, checked again.
pub fn saved_shopify(saved: &serde_json::Value) -> anyhow::Result<ShopifyConfig> {
    let field = |k: &str| {
        saved[k]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("the saved Shopify connection has no {k}"))
    };
    Ok(ShopifyConfig {
        shop: ShopUrl::parse(field("shop")?).map_err(anyhow::Error::msg)?,
        access_token: field("access_token")?.to_string(),
        api_version: ApiVersion::parse(field("api_version")?).map_err(anyhow::Error::msg)?,
    })
}

/// What `wismo connect shopify` saves.
pub fn shopify_settings_json(c: &ShopifyConfig) -> serde_json::Value {
    json!({
        "shop": c.shop.as_str(),
        "access_token": c.access_token,
        "api_version": c.api_version.as_str(),
    })
}

/// The WooCommerce connection in effect: the settings win over one saved
/// by `wismo connect woocommerce`.
pub async fn woocommerce_config(config: &Config, db: &Db) -> anyhow::Result<Option<WooConfig>> {
    if let Some(w) = &config.woocommerce {
        return Ok(Some(w.client_config()));
    }
    let Some(saved) = db.connection("woocommerce").await? else {
        return Ok(None);
    };
    saved_woocommerce(&saved).map(Some)
}

/// A connection saved by `wismo connect woocommerce`, checked again.
pub fn saved_woocommerce(saved: &serde_json::Value) -> anyhow::Result<WooConfig> {
    let field = |k: &str| {
        saved[k]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("the saved WooCommerce connection has no {k}"))
    };
    Ok(WooConfig {
        store: StoreUrl::parse(field("url")?).map_err(anyhow::Error::msg)?,
        consumer_key: field("consumer_key")?.to_string(),
        consumer_secret: field("consumer_secret")?.to_string(),
    })
}

/// What `wismo connect woocommerce` saves.
pub fn woocommerce_settings_json(c: &WooConfig) -> serde_json::Value {
    json!({
        "url": c.store.as_str(),
        "consumer_key": c.consumer_key,
        "consumer_secret": c.consumer_secret,
    })
}

/// Connections saved by `wismo connect aftership|easypost|stripe` fill in
/// what the settings leave unset (the settings win).
pub async fn saved_connections(config: &mut Config, db: &Db) -> anyhow::Result<()> {
    use crate::config::{Secret, TrackerServiceSettings};
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().map(str::to_string);
    if config.tracker_service.is_none() {
        if let Some(c) = db.connection("aftership").await? {
            if let (Some(key), Some(url), Some(version)) = (
                text(&c, "api_key"),
                text(&c, "url"),
                text(&c, "api_version"),
            ) {
                config.tracker_service = Some(TrackerServiceSettings::AfterShip {
                    url,
                    key: Secret::new(key),
                    version,
                });
            }
        } else if let Some(c) = db.connection("easypost").await? {
            if let (Some(key), Some(url)) = (text(&c, "api_key"), text(&c, "url")) {
                config.tracker_service = Some(TrackerServiceSettings::EasyPost {
                    url,
                    key: Secret::new(key),
                });
            }
        }
    }
    if config.stripe_webhook_secret.is_none() {
        if let Some(c) = db.connection("stripe").await? {
            config.stripe_webhook_secret = text(&c, "webhook_secret").map(Secret::new);
        }
    }
    Ok(())
}

/// The platform the server talks to: Shopify's connection if there is
/// one, else WooCommerce's.
pub async fn platform(config: &Config, db: &Db) -> anyhow::Result<Option<Platform>> {
    if let Some(c) = shopify_config(config, db).await? {
        let client = ShopifyClient::new(c).context("the Shopify settings are unusable")?;
        return Ok(Some(Platform::Shopify(Arc::new(client))));
    }
    if let Some(c) = woocommerce_config(config, db).await? {
        let client = WooClient::new(c).context("the WooCommerce settings are unusable")?;
        return Ok(Some(Platform::WooCommerce(Arc::new(client))));
    }
    Ok(None)
}

/// The store platform live lookups and changes go to.
pub enum Platform {
    Shopify(Arc<ShopifyClient>),
    WooCommerce(Arc<WooClient>),
}

impl Platform {
    /// The mirror's name for it (delivery and connection records).
    pub fn provider(&self) -> &'static str {
        match self {
            Platform::Shopify(_) => "shopify",
            Platform::WooCommerce(_) => "woocommerce",
        }
    }

    fn is_down(&self) -> bool {
        match self {
            Platform::Shopify(c) => c.is_down(),
            Platform::WooCommerce(c) => c.is_down(),
        }
    }

    async fn order_by_number(
        &self,
        number: &str,
    ) -> Result<Option<(Order, Option<DateTime<Utc>>)>, IntegrationError> {
        match self {
            Platform::Shopify(c) => c.order_by_number(number).await,
            Platform::WooCommerce(c) => c.order_by_number(number).await,
        }
    }

    async fn cancel(&self, order: &Order) -> Result<MutationOutcome, IntegrationError> {
        let note = "Cancelled at the customer's request in the wismo chat";
        match self {
            Platform::Shopify(c) => c.cancel_order(&order.id, note).await,
            Platform::WooCommerce(c) => c.cancel_order(&order.id, note).await,
        }
    }

    async fn change_address(
        &self,
        order: &Order,
        address: &Address,
    ) -> Result<MutationOutcome, IntegrationError> {
        match self {
            Platform::Shopify(c) => c.change_shipping_address(&order.id, address).await,
            Platform::WooCommerce(c) => {
                let note = "Shipping address changed at the customer's request in the wismo chat";
                c.change_shipping_address(&order.id, address, note).await
            }
        }
    }
}

/// [`OrderService`] over the mirror, with live lookups of missing orders.
pub struct LiveOrders {
    mirror: SqlOrderService,
    platform: Option<Platform>,
    handle: Handle,
    missing: Mutex<HashMap<String, Instant>>,
}

impl LiveOrders {
    pub fn new(db: Db, platform: Option<Platform>) -> anyhow::Result<LiveOrders> {
        let handle = Handle::try_current()?;
        Ok(LiveOrders {
            mirror: SqlOrderService::new(db, handle.clone()),
            platform,
            handle,
            missing: Mutex::new(HashMap::new()),
        })
    }

    fn known_missing(&self, key: &str) -> bool {
        let missing = self.missing.lock().unwrap_or_else(|p| p.into_inner());
        missing
            .get(key)
            .is_some_and(|at| at.elapsed() < MISSING_TTL)
    }

    fn remember_missing(&self, key: String) {
        let mut missing = self.missing.lock().unwrap_or_else(|p| p.into_inner());
        if missing.len() >= MISSING_MAX {
            missing.retain(|_, at| at.elapsed() < MISSING_TTL);
            if missing.len() >= MISSING_MAX {
                missing.clear();
            }
        }
        missing.insert(key, Instant::now());
    }

    /// Asks the shop for an order the mirror does not hold.
    fn fetch(&self, platform: &Platform, number: &str) -> Result<Option<Order>, StoreError> {
        let key = number.trim().trim_start_matches('#').to_ascii_uppercase();
        if key.is_empty() || self.known_missing(&key) {
            return Ok(None);
        }
        let db = self.mirror.db().clone();
        let found = self.handle.block_on(async {
            match platform.order_by_number(&key).await {
                Ok(Some((order, updated_at))) => {
                    let change = WebhookChange::Order {
                        order: Box::new(order.clone()),
                        updated_at,
                    };
                    // A failed write costs the next lookup, not this answer.
                    if let Err(e) = db
                        .apply_fetched(platform.provider(), change, Utc::now())
                        .await
                    {
                        tracing::warn!(error = %e, "could not keep a fetched order");
                    }
                    Ok(Some(order))
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        });
        match found {
            Ok(None) => {
                self.remember_missing(key);
                Ok(None)
            }
            Ok(order) => Ok(order),
            Err(e) => {
                tracing::warn!(error = %e, "live order lookup failed");
                Err(StoreError::Unavailable(match e {
                    IntegrationError::Throttled { .. } => "the shop is busy".into(),
                    _ => "the shop cannot be reached".into(),
                }))
            }
        }
    }
}

impl LiveOrders {
    /// The order a change is asked for, as the mirror (or the shop) has it.
    fn order_to_change(&self, number: &str) -> Result<Order, StoreError> {
        self.find_order(number)?
            .ok_or_else(|| StoreError::NotFound(number.to_string()))
    }

    /// Runs a change at the shop first: the mirror follows only what the
    /// shop did. The shop's refusal is the shopper's reason; an order the
    /// shop does not know, or a shop that cannot be reached, goes to a
    /// person.
    fn at_shop(
        &self,
        order: &Order,
        change: impl std::future::Future<Output = Result<MutationOutcome, IntegrationError>>,
    ) -> Result<(), StoreError> {
        match self.handle.block_on(change) {
            Ok(MutationOutcome::Done) => Ok(()),
            Ok(MutationOutcome::Refused { code, message })
                if code.as_deref() == Some("NOT_FOUND") =>
            {
                tracing::warn!(%message, "the shop does not know an order of the mirror");
                Err(StoreError::Unavailable(
                    "the shop does not know this order".into(),
                ))
            }
            Ok(MutationOutcome::Refused { message, .. }) => {
                tracing::info!(order = %order.number, "the shop refused an order change");
                Err(StoreError::NotAllowed(format!(
                    "the shop says \"{}\"",
                    message.trim().trim_end_matches('.')
                )))
            }
            Err(e) => {
                tracing::warn!(error = %e, "order change at the shop failed");
                Err(StoreError::Unavailable(match e {
                    IntegrationError::Throttled { .. } => "the shop is busy".into(),
                    _ => "the shop cannot be reached".into(),
                }))
            }
        }
    }
}

impl OrderService for LiveOrders {
    fn find_order(&self, number: &str) -> Result<Option<Order>, StoreError> {
        match (self.mirror.find_order(number)?, &self.platform) {
            (Some(order), _) => Ok(Some(order)),
            (None, Some(platform)) => self.fetch(platform, number),
            (None, None) => Ok(None),
        }
    }

    fn orders_by_email(&self, email: &str) -> Result<Vec<Order>, StoreError> {
        self.mirror.orders_by_email(email)
    }

    fn orders_by_customer(&self, customer_id: &str) -> Result<Vec<Order>, StoreError> {
        self.mirror.orders_by_customer(customer_id)
    }

    fn cancel_order(
        &self,
        number: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        let Some(platform) = &self.platform else {
            return self.mirror.cancel_order(number, reason, now);
        };
        let order = self.order_to_change(number)?;
        may_cancel(&order)?;
        self.at_shop(&order, platform.cancel(&order))?;
        self.mirror.cancel_order(number, reason, now)
    }

    fn change_shipping_address(&self, number: &str, address: Address) -> Result<Order, StoreError> {
        let Some(platform) = &self.platform else {
            return self.mirror.change_shipping_address(number, address);
        };
        let order = self.order_to_change(number)?;
        may_change_address(&order, &address)?;
        self.at_shop(&order, platform.change_address(&order, &address))?;
        self.mirror.change_shipping_address(number, address)
    }

    fn open_case(
        &self,
        order_number: Option<&str>,
        kind: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<Case, StoreError> {
        self.mirror.open_case(order_number, kind, description, now)
    }

    fn stale_for(&self, number: &str) -> Option<chrono::Duration> {
        if !self.platform.as_ref().is_some_and(Platform::is_down) {
            return None;
        }
        let db = self.mirror.db().clone();
        let at = match self.handle.block_on(db.mirrored_at(number)) {
            Ok(at) => at?,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the mirror's age");
                return None;
            }
        };
        Some(Utc::now() - at).filter(|age| *age >= STALE_AFTER)
    }
}
