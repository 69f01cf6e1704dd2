//! Shopify: the Admin GraphQL API (orders, with the API version pinned) and
//! webhook signatures.
//!
//! Rate limits: Shopify meters GraphQL by calculated query cost in a leaky
//! bucket per app and store, and reports the bucket on every answer
//! (`extensions.cost.throttleStatus`). The client keeps its own estimate of
//! the bucket from those reports and never sends a query the bucket cannot
//! pay for: an interactive lookup is refused at once (the mirror answers),
//! a backfill waits. A `THROTTLED` answer (another server spent the
//! bucket) updates the estimate the same way.

pub mod graphql;
pub mod webhook;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::resilience::{Breaker, Policy};
use crate::IntegrationError;
use graphql::{convert, GqlOrder, ORDER_FIELDS};

const PROVIDER: &str = "shopify";

/// The Admin API version wismo is written against.
pub const DEFAULT_API_VERSION: &str = "2026-10";

/// A Shopify API version: `YYYY-MM` with a quarterly month (01, 04, 07, 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion(String);

impl ApiVersion {
    pub fn parse(s: &str) -> Result<ApiVersion, String> {
        let s = s.trim();
        let ok = s.len() == 7
            && s.as_bytes()[4] == b'-'
            && s[..4].bytes().all(|b| b.is_ascii_digit())
            && matches!(&s[5..], "01" | "04" | "07" | "10");
        if ok {
            Ok(ApiVersion(s.to_string()))
        } else {
            Err(format!(
                "{s:?} is not a Shopify API version (YYYY-MM with month 01, 04, 07 or 10, e.g. {DEFAULT_API_VERSION})"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        ApiVersion(DEFAULT_API_VERSION.to_string())
    }
}

/// Where the shop is: `example.myshopify.com` (HTTPS) or a full
/// `http(s)://host[:port]` base (a proxy, or the local mock in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopUrl(String);

impl ShopUrl {
    pub fn parse(s: &str) -> Result<ShopUrl, String> {
        let s = s.trim().trim_end_matches('/');
        let base = if s.starts_with("https://") || s.starts_with("http://") {
            s.to_string()
        } else {
            format!("https://{s}")
        };
        let host = base.split("://").nth(1).unwrap_or_default();
        let valid_host = !host.is_empty()
            && !host.contains('/')
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if valid_host {
            Ok(ShopUrl(base))
        } else {
            Err(format!(
                "{s:?} is not a shop address (e.g. example.myshopify.com)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How to reach one shop.
#[derive(Clone)]
pub struct ShopifyConfig {
    pub shop: ShopUrl,
    /// An Admin API access token (`shpat_…`) with `read_orders` (and
    /// `write_orders` for cancellations and address changes).
    pub access_token: String,
    pub api_version: ApiVersion,
}

impl std::fmt::Debug for ShopifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyConfig")
            .field("shop", &self.shop)
            .field("access_token", &"[redacted]")
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// The client's estimate of Shopify's cost bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: f64,
    maximum: f64,
    restore_rate: f64,
    at: Instant,
}

impl Bucket {
    fn now(&self) -> f64 {
        (self.available + self.restore_rate * self.at.elapsed().as_secs_f64()).min(self.maximum)
    }

    /// How long until `cost` points are available.
    fn wait_for(&self, cost: f64) -> Duration {
        let short = cost - self.now();
        if short <= 0.0 || self.restore_rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(short / self.restore_rate)
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThrottleStatus {
    maximum_available: f64,
    currently_available: f64,
    restore_rate: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cost {
    requested_query_cost: f64,
    throttle_status: ThrottleStatus,
}

#[derive(Debug, Default, Deserialize)]
struct Extensions {
    cost: Option<Cost>,
}

#[derive(Debug, Deserialize)]
struct GqlError {
    message: String,
    #[serde(default)]
    extensions: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct GqlResponse {
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<GqlError>>,
    #[serde(default)]
    extensions: Extensions,
}

/// Whether a call may wait for the cost bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Patience {
    /// A shopper is waiting: refuse instead of waiting.
    None,
    /// Background work: wait as long as it takes.
    Wait,
}

/// An order and when Shopify last changed it.
pub type DatedOrder = (wismo_core::store::Order, Option<DateTime<Utc>>);

pub use crate::MutationOutcome;

/// `gid://shopify/Order/<id>` for a REST id (digits only).
fn order_gid(order_id: &str) -> Result<String, IntegrationError> {
    let id = order_id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IntegrationError::Refused {
            provider: PROVIDER,
            message: "the order has no Shopify id".into(),
        });
    }
    Ok(format!("gid://shopify/Order/{id}"))
}

/// The first user error at `pointer`, or done.
fn user_errors(data: &Value, pointer: &str) -> MutationOutcome {
    let first = data
        .pointer(pointer)
        .and_then(Value::as_array)
        .and_then(|errors| errors.first());
    match first {
        None => MutationOutcome::Done,
        Some(e) => MutationOutcome::Refused {
            code: e.get("code").and_then(Value::as_str).map(str::to_string),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("Shopify refused the change")
                .chars()
                .take(300)
                .collect(),
        },
    }
}

/// One page of orders changed since a time.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<DatedOrder>,
    /// Pass to the next call; `None` on the last page.
    pub next: Option<String>,
}

/// A Shopify Admin API client for one shop.
pub struct ShopifyClient {
    http: reqwest::Client,
    endpoint: String,
    token: String,
    interactive: Breaker,
    background: Breaker,
    bucket: Mutex<Option<Bucket>>,
    /// The requested cost last reported per operation (starts pessimistic).
    costs: Mutex<std::collections::HashMap<&'static str, f64>>,
}

impl std::fmt::Debug for ShopifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Orders per backfill page.
pub const PAGE_SIZE: u32 = 3;

impl ShopifyClient {
    pub fn new(config: ShopifyConfig) -> Result<ShopifyClient, IntegrationError> {
        if config.access_token.trim().is_empty() {
            return Err(IntegrationError::Config(
                PROVIDER,
                "the access token is empty".into(),
            ));
        }
        let http = crate::http_client(PROVIDER, None)?;
        Ok(ShopifyClient {
            http,
            endpoint: format!(
                "{}/admin/api/{}/graphql.json",
                config.shop.as_str(),
                config.api_version.as_str()
            ),
            token: config.access_token,
            interactive: Breaker::new(PROVIDER, Policy::INTERACTIVE),
            background: Breaker::new(PROVIDER, Policy::BACKGROUND),
            bucket: Mutex::new(None),
            costs: Mutex::new(Default::default()),
        })
    }

    /// Whether interactive calls are being refused (the provider is down).
    pub fn is_down(&self) -> bool {
        self.interactive.is_open()
    }

    /// The shop's name: checks the address, the token and the version.
    #[tracing::instrument(name = "shopify.shop", skip_all)]
    pub async fn shop_name(&self) -> Result<String, IntegrationError> {
        let data = self
            .background
            .call(|| {
                self.query(
                    "Shop",
                    "query Shop { shop { name } }",
                    json!({}),
                    Patience::Wait,
                )
            })
            .await?;
        data.pointer("/shop/name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad("no shop name"))
    }

    /// The order named `#number`, for a shopper waiting on it: one try
    /// (and one retry), never waiting for the cost bucket.
    #[tracing::instrument(name = "shopify.order_by_number", skip_all)]
    pub async fn order_by_number(
        &self,
        number: &str,
    ) -> Result<Option<DatedOrder>, IntegrationError> {
        let number = number.trim().trim_start_matches('#');
        if number.is_empty()
            || number.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\')
        {
            return Ok(None);
        }
        let query = format!(
            "query OrderByName($q: String!) {{ orders(first: 1, query: $q) {{ nodes {{ ...OrderFields }} }} }} {ORDER_FIELDS}"
        );
        let vars = json!({ "q": format!("name:#{number}") });
        let data = self
            .interactive
            .call(|| self.query("OrderByName", &query, vars.clone(), Patience::None))
            .await?;
        let nodes = data
            .pointer("/orders/nodes")
            .cloned()
            .ok_or_else(|| bad("no orders.nodes"))?;
        let orders: Vec<GqlOrder> =
            serde_json::from_value(nodes).map_err(|e| bad(&e.to_string()))?;
        Ok(orders
            .into_iter()
            .map(convert)
            .find(|(o, _)| o.number.eq_ignore_ascii_case(number)))
    }

    /// Orders updated at or after `since`, oldest change first, a page at a
    /// time (backfills): waits for the cost bucket and retries patiently.
    #[tracing::instrument(name = "shopify.orders_since", skip_all)]
    pub async fn orders_updated_since(
        &self,
        since: DateTime<Utc>,
        after: Option<&str>,
    ) -> Result<OrderPage, IntegrationError> {
        let query = format!(
            "query OrdersUpdatedSince($q: String!, $first: Int!, $after: String) {{ \
             orders(first: $first, after: $after, query: $q, sortKey: UPDATED_AT) {{ \
             nodes {{ ...OrderFields }} pageInfo {{ hasNextPage endCursor }} }} }} {ORDER_FIELDS}"
        );
        let vars = json!({
            "q": format!("updated_at:>='{}'", since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "first": PAGE_SIZE,
            "after": after,
        });
        let data = self
            .background
            .call(|| self.query("OrdersUpdatedSince", &query, vars.clone(), Patience::Wait))
            .await?;
        let conn = data.get("orders").ok_or_else(|| bad("no orders"))?;
        let nodes: Vec<GqlOrder> =
            serde_json::from_value(conn.get("nodes").cloned().unwrap_or_default())
                .map_err(|e| bad(&e.to_string()))?;
        let has_next = conn
            .pointer("/pageInfo/hasNextPage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let next = has_next
            .then(|| conn.pointer("/pageInfo/endCursor").and_then(Value::as_str))
            .flatten()
            .map(str::to_string);
        Ok(OrderPage {
            orders: nodes.into_iter().map(convert).collect(),
            next,
        })
    }

    /// Cancels order `order_id` (its REST id) at Shopify: the customer
    /// asked, stock goes back, the payment is refunded to where it came from
    /// and Shopify emails the customer. Shopify's refusal
    /// (`orderCancelUserErrors`) comes back as [`MutationOutcome::Refused`]
    /// with its message. Shopify finishes the cancellation in a job; the
    /// `orders/cancelled` webhook confirms it.
    #[tracing::instrument(name = "shopify.order_cancel", skip_all)]
    pub async fn cancel_order(
        &self,
        order_id: &str,
        staff_note: &str,
    ) -> Result<MutationOutcome, IntegrationError> {
        let query = "mutation OrderCancel($orderId: ID!, $staffNote: String) {              orderCancel(orderId: $orderId, reason: CUSTOMER, restock: true, notifyCustomer: true,              refundMethod: { originalPaymentMethodsRefund: true }, staffNote: $staffNote) {              job { id done } orderCancelUserErrors { field message code } } }";
        let note: String = staff_note.chars().take(255).collect();
        let vars = json!({ "orderId": order_gid(order_id)?, "staffNote": note });
        let data = self
            .interactive
            .call(|| self.query("OrderCancel", query, vars.clone(), Patience::None))
            .await?;
        Ok(user_errors(&data, "/orderCancel/orderCancelUserErrors"))
    }

    /// Replaces order `order_id`'s shipping address at Shopify
    /// (`orderUpdate`); Shopify's refusal (`userErrors`) comes back as
    /// [`MutationOutcome::Refused`].
    #[tracing::instrument(name = "shopify.order_update_address", skip_all)]
    pub async fn change_shipping_address(
        &self,
        order_id: &str,
        address: &wismo_core::store::Address,
    ) -> Result<MutationOutcome, IntegrationError> {
        let query = "mutation OrderUpdateAddress($input: OrderInput!) {              orderUpdate(input: $input) { order { id } userErrors { field message } } }";
        let vars = json!({ "input": {
            "id": order_gid(order_id)?,
            "shippingAddress": graphql::address_input(address),
        }});
        let data = self
            .interactive
            .call(|| self.query("OrderUpdateAddress", query, vars.clone(), Patience::None))
            .await?;
        Ok(user_errors(&data, "/orderUpdate/userErrors"))
    }

    fn estimated_cost(&self, op: &'static str) -> f64 {
        let costs = self.costs.lock().unwrap_or_else(|p| p.into_inner());
        costs.get(op).copied().unwrap_or(match op {
            // Shopify prices a mutation at 10 points.
            "OrderCancel" | "OrderUpdateAddress" => 10.0,
            // Until Shopify has priced it: a page of orders is the dearest query.
            _ => 200.0,
        })
    }

    fn bucket_wait(&self, cost: f64) -> Duration {
        let bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        bucket.map(|b| b.wait_for(cost)).unwrap_or(Duration::ZERO)
    }

    fn learn(&self, op: &'static str, cost: &Cost) {
        let t = &cost.throttle_status;
        *self.bucket.lock().unwrap_or_else(|p| p.into_inner()) = Some(Bucket {
            available: t.currently_available,
            maximum: t.maximum_available,
            restore_rate: t.restore_rate,
            at: Instant::now(),
        });
        self.costs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(op, cost.requested_query_cost);
    }

    /// Spends the estimated cost locally (negative: gives it back), so
    /// concurrent calls of this process do not all count the same points.
    fn spend(&self, cost: f64) {
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = bucket.as_mut() {
            b.available = (b.now() - cost).min(b.maximum);
            b.at = Instant::now();
        }
    }

    async fn query(
        &self,
        op: &'static str,
        query: &str,
        variables: Value,
        patience: Patience,
    ) -> Result<Value, IntegrationError> {
        let cost = self.estimated_cost(op);
        let maximum = self
            .bucket
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|b| b.maximum);
        if maximum.is_some_and(|m| cost > m) {
            return Err(IntegrationError::Refused {
                provider: PROVIDER,
                message: format!(
                    "the query costs {cost} points; the shop's bucket holds {}",
                    maximum.unwrap_or_default()
                ),
            });
        }
        let wait = self.bucket_wait(cost);
        if !wait.is_zero() {
            match patience {
                Patience::None => {
                    return Err(IntegrationError::Throttled {
                        provider: PROVIDER,
                        retry_after: wait,
                    })
                }
                Patience::Wait => tokio::time::sleep(wait).await,
            }
        }
        self.spend(cost);
        let sent = self
            .http
            .post(&self.endpoint)
            .header("X-Shopify-Access-Token", &self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await;
        let response = match sent {
            Ok(r) if r.status().as_u16() == 200 => r,
            // Not metered by Shopify: give the points back to the estimate.
            other => {
                self.spend(-cost);
                other.map_err(|e| IntegrationError::Connect {
                    provider: PROVIDER,
                    message: crate::without_url(&e),
                })?
            }
        };
        let status = response.status().as_u16();
        match status {
            200 => {}
            401 | 403 => return Err(IntegrationError::Unauthorized(PROVIDER)),
            429 => {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map(Duration::from_secs_f64)
                    .unwrap_or(Duration::from_secs(1));
                return Err(IntegrationError::Throttled {
                    provider: PROVIDER,
                    retry_after,
                });
            }
            s => {
                return Err(IntegrationError::Status {
                    provider: PROVIDER,
                    status: s,
                })
            }
        }
        let body: GqlResponse = response
            .json()
            .await
            .map_err(|e| bad(&crate::without_url(&e)))?;
        if let Some(c) = &body.extensions.cost {
            self.learn(op, c);
        }
        if let Some(errors) = body.errors.filter(|e| !e.is_empty()) {
            let throttled = errors.iter().any(|e| {
                e.extensions
                    .as_ref()
                    .and_then(|x| x.get("code"))
                    .and_then(Value::as_str)
                    == Some("THROTTLED")
            });
            if throttled {
                let retry_after = self.bucket_wait(cost).max(Duration::from_millis(100));
                tracing::debug!(?retry_after, "shopify throttled");
                return Err(IntegrationError::Throttled {
                    provider: PROVIDER,
                    retry_after,
                });
            }
            let message = errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(IntegrationError::Refused {
                provider: PROVIDER,
                message,
            });
        }
        body.data.ok_or_else(|| bad("no data"))
    }
}

fn bad(message: &str) -> IntegrationError {
    IntegrationError::BadResponse {
        provider: PROVIDER,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_shop_addresses_are_checked() {
        assert!(ApiVersion::parse("2026-10").is_ok());
        assert!(ApiVersion::parse("2026-11").is_err());
        assert!(ApiVersion::parse("latest").is_err());
        assert_eq!(
            ShopUrl::parse("example.myshopify.com").map(|s| s.0),
            Ok("https://example.myshopify.com".to_string())
        );
        assert_eq!(
            ShopUrl::parse("http://127.0.0.1:8123/").map(|s| s.0),
            Ok("http://127.0.0.1:8123".to_string())
        );
        assert!(ShopUrl::parse("https://evil.example/path").is_err());
        assert!(ShopUrl::parse("").is_err());
    }

    #[test]
    fn the_bucket_refills_at_its_rate_up_to_its_size() {
        let b = Bucket {
            available: 10.0,
            maximum: 100.0,
            restore_rate: 50.0,
            at: Instant::now(),
        };
        let w = b.wait_for(60.0);
        assert!(
            w > Duration::from_millis(900) && w <= Duration::from_secs(1),
            "{w:?}"
        );
        assert_eq!(b.wait_for(5.0), Duration::ZERO);
    }
}
