//! WooCommerce: the REST API v3 (orders, order notes, the Shipment
//! Tracking extension's items) with a consumer key and secret, and webhook
//! signatures.
//!
//! Webhooks: `X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the raw
//! body under the webhook's secret. WooCommerce sends no timestamp and
//! never retries; the order's `date_modified_gmt` (inside the signed body)
//! is what a replay check can trust.
//!
//! The API: HTTP Basic authentication with the consumer key and secret,
//! which WooCommerce accepts over HTTPS only (plain HTTP needs OAuth 1.0a,
//! which wismo does not speak): the client refuses an `http://` store
//! except on the loopback (a local proxy, the test mock). WooCommerce core
//! has no rate limit of its own; hosts' firewalls answer 429 with
//! `Retry-After`, which the client honours.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use wismo_core::store::Order;

use crate::resilience::{Breaker, Policy};
use crate::{IntegrationError, MutationOutcome};

const PROVIDER: &str = "woocommerce";

/// Whether `signature` signs `body` under `secret`.
pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    crate::base64_hmac_matches(secret.as_bytes(), body, signature)
}

/// The header value WooCommerce would send (tests and mocks).
pub fn sign(secret: &str, body: &[u8]) -> String {
    crate::base64_hmac(secret.as_bytes(), body)
}

/// The unsigned ping WooCommerce sends when a webhook is saved
/// (`webhook_id=<n>`, form-encoded); it must be answered 200.
pub fn is_ping(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.trim().strip_prefix("webhook_id="))
        .is_some_and(|n| !n.is_empty() && n.len() < 20 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The store's address: `https://shop.example` (a WordPress site; the API
/// is under `/wp-json/`), or `http://127.0.0.1:PORT` for a local proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl(String);

impl StoreUrl {
    pub fn parse(s: &str) -> Result<StoreUrl, String> {
        let s = s.trim().trim_end_matches('/');
        let base = if s.contains("://") {
            s.to_string()
        } else {
            format!("https://{s}")
        };
        let (scheme, rest) = base.split_once("://").unwrap_or(("", ""));
        let host = rest.split('/').next().unwrap_or_default();
        let host_name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let loopback = matches!(host_name, "127.0.0.1" | "localhost" | "[::1]");
        let valid = !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            })
            && rest
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'"' | b'\\'));
        match scheme {
            _ if !valid => Err(format!(
                "{s:?} is not a store address (e.g. https://shop.example)"
            )),
            "https" => Ok(StoreUrl(base)),
            "http" if loopback => Ok(StoreUrl(base)),
            "http" => Err(format!(
                "{s:?}: WooCommerce takes a consumer key and secret over HTTPS only; use https://"
            )),
            _ => Err(format!("{s:?} is not an http(s) address")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How to reach one store.
#[derive(Clone)]
pub struct WooConfig {
    pub store: StoreUrl,
    /// `ck_…`, with read (and write, for cancellations and address
    /// changes) permission.
    pub consumer_key: String,
    /// `cs_…`.
    pub consumer_secret: String,
}

impl std::fmt::Debug for WooConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WooConfig")
            .field("store", &self.store)
            .field("consumer_key", &"[redacted]")
            .field("consumer_secret", &"[redacted]")
            .finish()
    }
}

/// An order and when WooCommerce last changed it.
pub type DatedOrder = (Order, Option<DateTime<Utc>>);

/// One page of orders modified since a time.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<DatedOrder>,
    /// Pass to the next call; `None` on the last page.
    pub next: Option<u32>,
}

/// Orders per backfill page.
pub const PAGE_SIZE: u32 = 50;

/// A WooCommerce REST API client for one store.
pub struct WooClient {
    http: reqwest::Client,
    base: String,
    key: String,
    secret: String,
    interactive: Breaker,
    background: Breaker,
}

impl std::fmt::Debug for WooClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WooClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl WooClient {
    pub fn new(config: WooConfig) -> Result<WooClient, IntegrationError> {
        if config.consumer_key.trim().is_empty() || config.consumer_secret.trim().is_empty() {
            return Err(IntegrationError::Config(
                PROVIDER,
                "the consumer key and secret must both be set".into(),
            ));
        }
        let http = crate::http_client(PROVIDER, None)?;
        Ok(WooClient {
            http,
            base: config.store.as_str().to_string(),
            key: config.consumer_key.trim().to_string(),
            secret: config.consumer_secret.trim().to_string(),
            interactive: Breaker::new(PROVIDER, Policy::INTERACTIVE),
            background: Breaker::new(PROVIDER, Policy::BACKGROUND),
        })
    }

    /// Whether interactive calls are being refused (the store is down).
    pub fn is_down(&self) -> bool {
        self.interactive.is_open()
    }

    /// Checks the address and the key: how many orders the store has.
    #[tracing::instrument(name = "woocommerce.check", skip_all)]
    pub async fn check(&self) -> Result<u64, IntegrationError> {
        let one = [("per_page", "1".to_string())];
        let (_, headers) = self
            .background
            .call(|| self.get("/wp-json/wc/v3/orders", &one))
            .await?
            .ok_or_else(|| bad("the orders endpoint is missing (is WooCommerce installed?)"))?;
        Ok(header_u64(&headers, "x-wp-total").unwrap_or(0))
    }

    /// The order numbered `number` (WooCommerce's `number`, which is its
    /// id unless a plugin renumbers orders), with its tracking items; for a
    /// shopper waiting on it.
    #[tracing::instrument(name = "woocommerce.order_by_number", skip_all)]
    pub async fn order_by_number(
        &self,
        number: &str,
    ) -> Result<Option<DatedOrder>, IntegrationError> {
        let number = number.trim().trim_start_matches('#');
        if number.is_empty()
            || number.len() > 40
            || !number
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Ok(None);
        }
        let matches = |o: &Value| {
            o["number"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(number))
                || (o["number"].is_null()
                    && o["id"].as_u64().is_some_and(|id| id.to_string() == number))
        };
        let mut found = None;
        if number.bytes().all(|b| b.is_ascii_digit()) {
            let path = format!("/wp-json/wc/v3/orders/{number}");
            if let Some((o, _)) = self.interactive.call(|| self.get(&path, &[])).await? {
                found = Some(o).filter(matches);
            }
        }
        if found.is_none() {
            let search = [
                ("search", number.to_string()),
                ("per_page", "20".to_string()),
            ];
            let list = self
                .interactive
                .call(|| self.get("/wp-json/wc/v3/orders", &search))
                .await?;
            found = list.and_then(|(v, _)| {
                v.as_array()
                    .and_then(|a| a.iter().find(|o| matches(o)).cloned())
            });
        }
        let Some(order) = found else {
            return Ok(None);
        };
        let order = self.with_trackings(order, &self.interactive).await?;
        convert(&order).map(Some)
    }

    /// Orders modified at or after `since`, oldest change first, a page at a
    /// time (backfills): retried patiently, waiting as long as the store's
    /// host asks.
    #[tracing::instrument(name = "woocommerce.orders_since", skip_all)]
    pub async fn orders_modified_since(
        &self,
        since: DateTime<Utc>,
        page: u32,
    ) -> Result<OrderPage, IntegrationError> {
        let query = [
            (
                "modified_after",
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
            ("dates_are_gmt", "true".into()),
            ("orderby", "modified".into()),
            ("order", "asc".into()),
            ("per_page", PAGE_SIZE.to_string()),
            ("page", page.max(1).to_string()),
        ];
        let (list, headers) = self
            .background
            .call(|| self.get("/wp-json/wc/v3/orders", &query))
            .await?
            .ok_or_else(|| bad("the orders endpoint is missing"))?;
        let pages = header_u64(&headers, "x-wp-totalpages").unwrap_or(1);
        let mut orders = Vec::new();
        for o in list.as_array().cloned().unwrap_or_default() {
            let o = self.with_trackings(o, &self.background).await?;
            orders.push(convert(&o)?);
        }
        Ok(OrderPage {
            orders,
            next: (u64::from(page.max(1)) < pages).then(|| page.max(1) + 1),
        })
    }

    /// Cancels order `order_id` at the store (status `cancelled`; WooCommerce
    /// restocks and emails as the store set it up) and leaves a private
    /// note saying why.
    #[tracing::instrument(name = "woocommerce.cancel", skip_all)]
    pub async fn cancel_order(
        &self,
        order_id: &str,
        note: &str,
    ) -> Result<MutationOutcome, IntegrationError> {
        self.update(order_id, json!({"status": "cancelled"}), note)
            .await
    }

    /// Replaces order `order_id`'s shipping address and leaves a private note.
    #[tracing::instrument(name = "woocommerce.change_address", skip_all)]
    pub async fn change_shipping_address(
        &self,
        order_id: &str,
        address: &wismo_core::store::Address,
        note: &str,
    ) -> Result<MutationOutcome, IntegrationError> {
        let (first, last) = match address.name.as_deref().map(str::trim) {
            Some(n) => n.split_once(' ').unwrap_or(("", n)),
            None => ("", ""),
        };
        let shipping = json!({
            "first_name": first, "last_name": last,
            "address_1": address.address1, "address_2": address.address2.clone().unwrap_or_default(),
            "city": address.city, "state": address.province.clone().unwrap_or_default(),
            "postcode": address.zip.clone().unwrap_or_default(),
            "country": address.country_code.clone().unwrap_or_default(),
        });
        let mut shipping = shipping;
        if let Some(map) = shipping.as_object_mut() {
            // Only what the shopper gave: the rest stays as the store has it.
            map.retain(|_, v| v.as_str().is_some_and(|s| !s.trim().is_empty()));
        }
        self.update(order_id, json!({ "shipping": shipping }), note)
            .await
    }

    async fn update(
        &self,
        order_id: &str,
        body: Value,
        note: &str,
    ) -> Result<MutationOutcome, IntegrationError> {
        let id = order_id.trim();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(not_found());
        }
        let path = format!("/wp-json/wc/v3/orders/{id}");
        // One try: a change is not repeated after a timeout.
        match self.send(reqwest::Method::PUT, &path, Some(&body)).await {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(not_found()),
            Err(IntegrationError::Refused { message, .. }) => {
                return Ok(MutationOutcome::Refused {
                    code: None,
                    message,
                })
            }
            Err(e) => return Err(e),
        }
        let note =
            json!({"note": note.chars().take(500).collect::<String>(), "customer_note": false});
        let notes = format!("{path}/notes");
        if let Err(e) = self.send(reqwest::Method::POST, &notes, Some(&note)).await {
            // The change is made; a missing note is not worth failing it.
            tracing::warn!(error = %e, "could not leave the order note");
        }
        Ok(MutationOutcome::Done)
    }

    /// Adds the Shipment Tracking extension's items to `order` (as the
    /// order meta the webhook carries); a store without the extension has
    /// none.
    async fn with_trackings(
        &self,
        mut order: Value,
        breaker: &Breaker,
    ) -> Result<Value, IntegrationError> {
        let Some(id) = order["id"].as_u64() else {
            return Ok(order);
        };
        let path = format!("/wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings");
        let items = match breaker.call(|| self.get(&path, &[])).await {
            Ok(Some((items, _))) => items,
            Ok(None) => return Ok(order),
            Err(e) => return Err(e),
        };
        if let (Some(meta), Some(items)) = (order["meta_data"].as_array_mut(), items.as_array()) {
            meta.retain(|m| m["key"] != "_wc_shipment_tracking_items");
            if !items.is_empty() {
                meta.push(json!({"key": "_wc_shipment_tracking_items", "value": items}));
            }
        } else if items.as_array().is_some_and(|a| !a.is_empty()) {
            order["meta_data"] = json!([{"key": "_wc_shipment_tracking_items", "value": items}]);
        }
        Ok(order)
    }

    /// A GET; `None` for 404 (no such order, or no such route).
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<(Value, reqwest::header::HeaderMap)>, IntegrationError> {
        let req = self.http.get(format!("{}{path}", self.base)).query(query);
        self.run(req).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<(Value, reqwest::header::HeaderMap)>, IntegrationError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        tokio::time::timeout(Policy::INTERACTIVE.timeout, self.run(req))
            .await
            .map_err(|_| IntegrationError::Timeout(PROVIDER))?
    }

    async fn run(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<Option<(Value, reqwest::header::HeaderMap)>, IntegrationError> {
        let response = req
            .basic_auth(&self.key, Some(&self.secret))
            .send()
            .await
            .map_err(|e| IntegrationError::Connect {
                provider: PROVIDER,
                message: crate::without_url(&e),
            })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match status {
            200 | 201 => {}
            401 | 403 => return Err(IntegrationError::Unauthorized(PROVIDER)),
            404 => return Ok(None),
            429 => {
                let retry_after = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(|s| Duration::from_secs_f64(s.min(3600.0)))
                    .unwrap_or(Duration::from_secs(1));
                return Err(IntegrationError::Throttled {
                    provider: PROVIDER,
                    retry_after,
                });
            }
            400 => {
                let body: Value = response.json().await.unwrap_or(Value::Null);
                // WooCommerce answers a change to an order it lacks with 400.
                if body["code"]
                    .as_str()
                    .is_some_and(|c| c.ends_with("_invalid_id"))
                {
                    return Ok(None);
                }
                return Err(IntegrationError::Refused {
                    provider: PROVIDER,
                    message: body["message"]
                        .as_str()
                        .unwrap_or("the store refused the request")
                        .chars()
                        .take(300)
                        .collect(),
                });
            }
            s => {
                return Err(IntegrationError::Status {
                    provider: PROVIDER,
                    status: s,
                })
            }
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| bad(&crate::without_url(&e)))?;
        Ok(Some((body, headers)))
    }
}

fn convert(order: &Value) -> Result<DatedOrder, IntegrationError> {
    wismo_core::store::woocommerce::parse_order(&order.to_string())
        .map_err(|e| bad(&format!("an order the store sent: {e}")))
}

fn not_found() -> MutationOutcome {
    MutationOutcome::Refused {
        code: Some("NOT_FOUND".into()),
        message: "the store does not know this order".into(),
    }
}

fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
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
    fn store_addresses_are_https_except_on_the_loopback() {
        assert_eq!(
            StoreUrl::parse("shop.example/").map(|u| u.as_str().to_string()),
            Ok("https://shop.example".to_string())
        );
        assert!(StoreUrl::parse("http://127.0.0.1:8080").is_ok());
        assert!(StoreUrl::parse("http://localhost").is_ok());
        let plain = StoreUrl::parse("http://shop.example").expect_err("plain http");
        assert!(plain.contains("HTTPS only"), "{plain}");
        assert!(StoreUrl::parse("ftp://shop.example").is_err());
        assert!(StoreUrl::parse("https://shop.example/?x=1").is_err());
        assert!(StoreUrl::parse("").is_err());
    }

    #[test]
    fn signatures_and_pings() {
        // Vector: openssl dgst -sha256 -hmac test_secret -binary <<< '{"id":123}' (no newline) | base64.
        assert_eq!(
            sign("test_secret", br#"{"id":123}"#),
            "vZIq/Gp6BvbQkbfdOgC8Gvkf2D9STcGOMfuHBs7yZrs="
        );
        assert!(verify(
            "test_secret",
            br#"{"id":123}"#,
            "vZIq/Gp6BvbQkbfdOgC8Gvkf2D9STcGOMfuHBs7yZrs="
        ));
        assert!(!verify(
            "other",
            br#"{"id":123}"#,
            "vZIq/Gp6BvbQkbfdOgC8Gvkf2D9STcGOMfuHBs7yZrs="
        ));
        assert!(is_ping(b"webhook_id=42"));
        assert!(!is_ping(b"webhook_id=42&x=1"));
        assert!(!is_ping(b"{}"));
    }
}
