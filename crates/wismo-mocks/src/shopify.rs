//! A mock Shopify shop: the Admin GraphQL API endpoint
//! (`POST /admin/api/{version}/graphql.json`) for the operations wismo
//! sends (`Shop`, `OrderByName`, `OrdersUpdatedSince`, the `OrderCancel`
//! and `OrderUpdateAddress` mutations), with Shopify's
//! authentication error, its calculated-cost leaky bucket
//! (`extensions.cost.throttleStatus`, `THROTTLED` and `MAX_COST_EXCEEDED`
//! errors), and faults (503, hanging); and a webhook sender that signs
//! like Shopify (`X-Shopify-Hmac-Sha256` and the other `X-Shopify-*`
//! headers).
//!
//! Costs follow Shopify's rules for wismo's order query: an object is 1
//! point, a connection 2 plus its `first` objects; one order with its
//! nested page sizes is [`ORDER_COST`] points, so `orders(first: n)` is
//! requested at `2 + n × ORDER_COST` and charged (actual cost) at
//! `2 + returned × ACTUAL_ORDER_COST`, the difference refunded, as Shopify
//! does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// Requested cost of one order node of wismo's query.
pub const ORDER_COST: f64 = 229.0;
/// What one returned order actually costs.
pub const ACTUAL_ORDER_COST: f64 = 12.0;
/// Shopify's single-query limit.
pub const MAX_SINGLE_QUERY: f64 = 1000.0;

/// What the shop does instead of answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// `503 Service Unavailable`.
    Unavailable,
    /// Never answers (the client's timeout must fire).
    Hang,
}

#[derive(Debug, Clone)]
pub struct MockShopifyConfig {
    pub access_token: String,
    /// The bucket (Shopify: 1,000 points on every plan for GraphQL).
    pub bucket_size: f64,
    /// Points restored per second (Standard: 100; the test: 50).
    pub restore_rate: f64,
    pub api_version: String,
}

impl Default for MockShopifyConfig {
    fn default() -> Self {
        MockShopifyConfig {
            access_token: "shpat_mock0123456789abcdef".into(),
            bucket_size: 1000.0,
            restore_rate: 50.0,
            api_version: "2026-10".into(),
        }
    }
}

/// What the mock saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// GraphQL requests with a valid token.
    pub requests: u64,
    /// Of those, answered `THROTTLED`.
    pub throttled: u64,
    /// Requests with a missing or wrong token.
    pub unauthorized: u64,
    /// Order lookups by name.
    pub lookups: u64,
    /// `orderCancel` and `orderUpdate` calls that changed an order.
    pub changes: u64,
}

struct Bucket {
    available: f64,
    at: Instant,
}

struct Shop {
    config: MockShopifyConfig,
    /// Order nodes in the Admin GraphQL shape.
    orders: Mutex<Vec<Value>>,
    bucket: Mutex<Bucket>,
    fault: Mutex<Fault>,
    stats: Mutex<Stats>,
}

/// A running mock shop.
pub struct MockShopify {
    pub addr: SocketAddr,
    shop: Arc<Shop>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockShopify {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockShopify {
    /// Starts on a free loopback port.
    pub async fn start(config: MockShopifyConfig) -> std::io::Result<MockShopify> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shop = Arc::new(Shop {
            bucket: Mutex::new(Bucket {
                available: config.bucket_size,
                at: Instant::now(),
            }),
            config,
            orders: Mutex::new(Vec::new()),
            fault: Mutex::new(Fault::None),
            stats: Mutex::new(Stats::default()),
        });
        let app = Router::new()
            .route("/admin/api/{version}/graphql.json", post(graphql))
            .with_state(shop.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockShopify { addr, shop, task })
    }

    /// `http://127.0.0.1:PORT` (wismo's `shopify_shop`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn access_token(&self) -> &str {
        &self.shop.config.access_token
    }

    /// The stored order node named `#number`.
    pub fn order(&self, number: &str) -> Option<Value> {
        let name = format!("#{}", number.trim_start_matches('#'));
        lock(&self.shop.orders)
            .iter()
            .find(|o| o["name"] == name.as_str())
            .cloned()
    }

    /// Adds (or replaces, by name) an order node.
    pub fn put_order(&self, order: Value) {
        let mut orders = lock(&self.shop.orders);
        orders.retain(|o| o["name"] != order["name"]);
        orders.push(order);
    }

    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.shop.fault) = fault;
    }

    pub fn stats(&self) -> Stats {
        *lock(&self.shop.stats)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shop {
    fn throttle_status(&self, bucket: &Bucket) -> Value {
        json!({
            "maximumAvailable": self.config.bucket_size,
            "currentlyAvailable": bucket.available.floor(),
            "restoreRate": self.config.restore_rate,
        })
    }

    fn refill(&self, bucket: &mut Bucket) {
        let elapsed = bucket.at.elapsed().as_secs_f64();
        bucket.available =
            (bucket.available + elapsed * self.config.restore_rate).min(self.config.bucket_size);
        bucket.at = Instant::now();
    }
}

/// What a standard mutation costs (Shopify: 10 points).
pub const MUTATION_COST: f64 = 10.0;

impl Shop {
    /// `orderCancel` and `orderUpdate` (shipping address) on the stored
    /// nodes, charged 10 points from the bucket, with Shopify's payloads:
    /// `job` and `orderCancelUserErrors { field message code }`, or
    /// `order { id }` and `userErrors { field message }`.
    fn mutate(&self, op: &str, vars: &Value) -> Json<Value> {
        {
            let mut bucket = lock(&self.bucket);
            self.refill(&mut bucket);
            lock(&self.stats).requests += 1;
            if bucket.available < MUTATION_COST {
                lock(&self.stats).throttled += 1;
                return Json(json!({
                    "errors": [graphql_error("Throttled", Some("THROTTLED"))],
                    "extensions": {"cost": {"requestedQueryCost": MUTATION_COST, "actualQueryCost": null,
                        "throttleStatus": self.throttle_status(&bucket)}}
                }));
            }
            bucket.available -= MUTATION_COST;
        }
        let id = if op == "OrderCancel" {
            vars["orderId"].as_str()
        } else {
            vars["input"]["id"].as_str()
        }
        .unwrap_or_default()
        .to_string();
        let mut orders = lock(&self.orders);
        let order = orders.iter_mut().find(|o| o["id"] == id.as_str());
        let data = match (op, order) {
            ("OrderCancel", None) => json!({"orderCancel": {"job": null, "orderCancelUserErrors": [
                {"field": ["orderId"], "message": "Order does not exist", "code": "NOT_FOUND"}]}}),
            ("OrderCancel", Some(o)) if !o["cancelledAt"].is_null() => {
                json!({"orderCancel": {"job": null,
                "orderCancelUserErrors": [{"field": ["orderId"], "message": "Order has already been cancelled", "code": "INVALID"}]}})
            }
            ("OrderCancel", Some(o)) if o["displayFulfillmentStatus"] != "UNFULFILLED" => {
                json!({"orderCancel": {"job": null,
                "orderCancelUserErrors": [{"field": ["orderId"], "message": "Cannot cancel an order with fulfilled items", "code": "INVALID"}]}})
            }
            ("OrderCancel", Some(o)) => {
                let now = ts(Utc::now());
                o["cancelledAt"] = json!(now);
                o["cancelReason"] = json!("CUSTOMER");
                o["updatedAt"] = json!(now);
                if o["displayFinancialStatus"] == "PAID" {
                    o["displayFinancialStatus"] = json!("REFUNDED");
                }
                lock(&self.stats).changes += 1;
                json!({"orderCancel": {"job": {"id": format!("gid://shopify/Job/{}", o["legacyResourceId"].as_str().unwrap_or("0")), "done": false},
                    "orderCancelUserErrors": []}})
            }
            (_, None) => json!({"orderUpdate": {"order": null, "userErrors": [
                {"field": ["id"], "message": "Order does not exist"}]}}),
            (_, Some(o)) => {
                let input = &vars["input"]["shippingAddress"];
                let mut address = o["shippingAddress"].clone();
                if let (Some(a), Some(fields)) = (address.as_object_mut(), input.as_object()) {
                    for (k, v) in fields {
                        let k = if k == "countryCode" {
                            "countryCodeV2"
                        } else {
                            k.as_str()
                        };
                        a.insert(k.to_string(), v.clone());
                    }
                }
                o["shippingAddress"] = address;
                o["updatedAt"] = json!(ts(Utc::now()));
                lock(&self.stats).changes += 1;
                json!({"orderUpdate": {"order": {"id": id}, "userErrors": []}})
            }
        };
        let status = self.throttle_status(&lock(&self.bucket));
        Json(json!({
            "data": data,
            "extensions": {"cost": {"requestedQueryCost": MUTATION_COST, "actualQueryCost": MUTATION_COST,
                "throttleStatus": status}}
        }))
    }
}

fn graphql_error(message: &str, code: Option<&str>) -> Value {
    let mut e = json!({ "message": message });
    if let Some(code) = code {
        e["extensions"] =
            json!({ "code": code, "documentation": "https://shopify.dev/api/usage/rate-limits" });
    }
    e
}

async fn graphql(
    State(shop): State<Arc<Shop>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fault = *lock(&shop.fault);
    match fault {
        Fault::None => {}
        Fault::Unavailable => {
            return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    if token != Some(shop.config.access_token.as_str()) {
        lock(&shop.stats).unauthorized += 1;
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})),
        )
            .into_response();
    }
    if version != shop.config.api_version {
        return (StatusCode::NOT_FOUND, Json(json!({"errors": "Not Found"}))).into_response();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": {"query": "Required parameter missing or invalid"}})),
        )
            .into_response();
    };
    let query = request["query"].as_str().unwrap_or_default();
    let vars = &request["variables"];
    let mutation = ["OrderCancel", "OrderUpdateAddress"]
        .into_iter()
        .find(|op| query.trim_start().starts_with(&format!("mutation {op}")));
    if let Some(op) = mutation {
        return shop.mutate(op, vars).into_response();
    }
    let op = ["Shop", "OrderByName", "OrdersUpdatedSince"]
        .into_iter()
        .find(|op| query.trim_start().starts_with(&format!("query {op}")));
    let Some(op) = op else {
        return Json(json!({"errors": [graphql_error("Parse error on query: operation not supported by the mock", None)]}))
            .into_response();
    };
    let first = vars["first"].as_u64().unwrap_or(1) as f64;
    let requested = match op {
        "Shop" => 1.0,
        "OrderByName" => 2.0 + ORDER_COST,
        _ => 2.0 + first * ORDER_COST,
    };
    if requested > MAX_SINGLE_QUERY {
        return Json(json!({"errors": [{
            "message": format!("Query cost is {requested}, which exceeds the single query max cost limit ({MAX_SINGLE_QUERY}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"),
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_SINGLE_QUERY}
        }]}))
        .into_response();
    }
    {
        let mut stats = lock(&shop.stats);
        stats.requests += 1;
        if op == "OrderByName" {
            stats.lookups += 1;
        }
    }
    // The leaky bucket: the requested cost must be available up front.
    let charged = {
        let mut bucket = lock(&shop.bucket);
        shop.refill(&mut bucket);
        if bucket.available < requested {
            lock(&shop.stats).throttled += 1;
            return Json(json!({
                "errors": [graphql_error("Throttled", Some("THROTTLED"))],
                "extensions": {"cost": {
                    "requestedQueryCost": requested,
                    "actualQueryCost": null,
                    "throttleStatus": shop.throttle_status(&bucket),
                }}
            }))
            .into_response();
        }
        bucket.available -= requested;
        requested
    };
    let (data, returned) = match op {
        "Shop" => (json!({"shop": {"name": "Mock Outdoor Co."}}), 0usize),
        "OrderByName" => {
            let q = vars["q"].as_str().unwrap_or_default();
            let name = q.strip_prefix("name:").unwrap_or(q).trim_matches('"');
            let want = format!("#{}", name.trim_start_matches('#'));
            let orders = lock(&shop.orders);
            let found: Vec<Value> = orders
                .iter()
                .filter(|o| {
                    o["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&want))
                })
                .take(1)
                .cloned()
                .collect();
            let n = found.len();
            (json!({"orders": {"nodes": found}}), n)
        }
        _ => {
            let q = vars["q"].as_str().unwrap_or_default();
            let since = q
                .strip_prefix("updated_at:>=")
                .map(|s| s.trim_matches('\''))
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc));
            let after: usize = vars["after"]
                .as_str()
                .and_then(|c| c.strip_prefix("cursor:"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let mut orders: Vec<Value> = lock(&shop.orders)
                .iter()
                .filter(|o| {
                    let updated = o["updatedAt"]
                        .as_str()
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                        .map(|t| t.with_timezone(&Utc));
                    match (since, updated) {
                        (Some(s), Some(u)) => u >= s,
                        _ => true,
                    }
                })
                .cloned()
                .collect();
            orders.sort_by(|a, b| {
                a["updatedAt"]
                    .as_str()
                    .cmp(&b["updatedAt"].as_str())
                    .then(a["name"].as_str().cmp(&b["name"].as_str()))
            });
            let page: Vec<Value> = orders
                .iter()
                .skip(after)
                .take(first as usize)
                .cloned()
                .collect();
            let end = after + page.len();
            let n = page.len();
            (
                json!({"orders": {"nodes": page, "pageInfo": {
                    "hasNextPage": end < orders.len(),
                    "endCursor": format!("cursor:{end}"),
                }}}),
                n,
            )
        }
    };
    let actual = if op == "Shop" {
        1.0
    } else {
        2.0 + returned as f64 * ACTUAL_ORDER_COST
    };
    let status = {
        let mut bucket = lock(&shop.bucket);
        bucket.available = (bucket.available + charged - actual).min(shop.config.bucket_size);
        shop.throttle_status(&bucket)
    };
    Json(json!({
        "data": data,
        "extensions": {"cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": status,
        }}
    }))
    .into_response()
}

/// An order node as the Admin GraphQL API returns it for wismo's query.
#[derive(Debug, Clone)]
pub struct OrderSpec {
    pub legacy_id: u64,
    /// Without `#`.
    pub number: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub currency: String,
    pub items: Vec<(&'static str, u32, &'static str)>,
    /// (carrier, tracking number, latest event status, estimated delivery)
    pub shipment: Option<(&'static str, String, &'static str, Option<DateTime<Utc>>)>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl OrderSpec {
    pub fn node(&self) -> Value {
        let total: f64 = self
            .items
            .iter()
            .map(|(_, q, p)| f64::from(*q) * p.parse::<f64>().unwrap_or(0.0))
            .sum();
        let line_items: Vec<Value> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, (title, q, price))| {
                json!({
                    "id": format!("gid://shopify/LineItem/{}{}", self.legacy_id, i),
                    "title": title, "name": title, "variantTitle": null, "sku": null,
                    "quantity": q,
                    "originalUnitPriceSet": {"shopMoney": {"amount": price, "currencyCode": self.currency}},
                })
            })
            .collect();
        let fulfillments: Vec<Value> = self
            .shipment
            .iter()
            .map(|(carrier, number, status, eta)| {
                let shipped = self.created_at + chrono::Duration::hours(20);
                json!({
                    "id": format!("gid://shopify/Fulfillment/{}", self.legacy_id + 7),
                    "createdAt": ts(shipped), "updatedAt": ts(self.updated_at),
                    "status": "SUCCESS", "displayStatus": status,
                    "estimatedDeliveryAt": eta.map(ts), "deliveredAt": null, "inTransitAt": ts(shipped),
                    "trackingInfo": [{"company": carrier, "number": number, "url": format!("https://track.example/{number}")}],
                    "events": {"nodes": [{"status": status, "happenedAt": ts(self.updated_at),
                        "message": null, "city": "Memphis", "province": "TN", "country": "United States", "estimatedDeliveryAt": eta.map(ts)}]},
                    "fulfillmentLineItems": {"nodes": line_items.iter().zip(&self.items).map(|(l, (_, q, _))| json!({
                        "quantity": q, "lineItem": {"id": l["id"]}})).collect::<Vec<_>>()},
                })
            })
            .collect();
        json!({
            "id": format!("gid://shopify/Order/{}", self.legacy_id),
            "legacyResourceId": self.legacy_id.to_string(),
            "name": format!("#{}", self.number),
            "email": self.email,
            "createdAt": ts(self.created_at), "updatedAt": ts(self.updated_at),
            "cancelledAt": null, "cancelReason": null,
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": if self.shipment.is_some() { "FULFILLED" } else { "UNFULFILLED" },
            "tags": [],
            "totalPriceSet": {"shopMoney": {"amount": format!("{total:.2}"), "currencyCode": self.currency}},
            "customer": {"id": format!("gid://shopify/Customer/{}", self.legacy_id + 1), "email": self.email, "firstName": null, "lastName": null},
            "shippingAddress": {"name": "Sam Rivera", "firstName": "Sam", "lastName": "Rivera", "address1": "200 Elm St",
                "address2": null, "city": "Memphis", "province": "Tennessee", "zip": "38103", "country": "United States",
                "countryCodeV2": "US", "phone": null},
            "lineItems": {"nodes": line_items},
            "fulfillments": fulfillments,
            "refunds": [],
        })
    }
}

/// Sends a webhook to `url` the way Shopify does: the topic, the shop, the
/// API version, a webhook id, an event id, when it was triggered and the
/// HMAC-SHA256 of the body (base64) under `secret`. Returns the status.
pub async fn deliver_webhook(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    topic: &str,
    webhook_id: &str,
    body: &str,
) -> reqwest::Result<u16> {
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header(
            "x-shopify-hmac-sha256",
            wismo_integrations::shopify::webhook::sign(secret.as_bytes(), body.as_bytes()),
        )
        .header("x-shopify-shop-domain", "mock-outdoor.myshopify.com")
        .header("x-shopify-api-version", "2026-10")
        .header("x-shopify-webhook-id", webhook_id)
        .header("x-shopify-event-id", format!("evt-{webhook_id}"))
        .header(
            "x-shopify-triggered-at",
            Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true),
        )
        .body(body.to_string())
        .send()
        .await?;
    Ok(res.status().as_u16())
}
