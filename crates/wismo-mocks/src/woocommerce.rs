//! A mock WooCommerce store: the REST API v3 calls wismo makes
//! (`GET /wp-json/wc/v3/orders/{id}`, the order list with `search`,
//! `modified_after`/`dates_are_gmt`, `orderby`, `order`, `page`,
//! `per_page`, `X-WP-Total`, `X-WP-TotalPages` and `Link` headers,
//! `PUT /wp-json/wc/v3/orders/{id}` for status and addresses, the order
//! notes) and the Shipment Tracking extension's list of an order's tracking
//! items (`GET /wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings`),
//! with WooCommerce's authentication, WordPress's error bodies and
//! parameter validation, and faults (503, hanging, a host's 429).
//!
//! What is copied from WooCommerce and WordPress (see the WooCommerce REST
//! API docs and `class-wc-rest-authentication.php`, `WC_REST_CRUD_Controller`,
//! `WC_REST_Order_Notes_*_Controller`):
//!
//! - Credentials: `?consumer_key=&consumer_secret=` (looked at first), else
//!   HTTP Basic. A known key with a wrong secret is an authentication error
//!   (401 `woocommerce_rest_authentication_error` with `WWW-Authenticate`);
//!   an unknown key or none leaves the request unauthenticated and the
//!   route's permission check answers 401 (`woocommerce_rest_cannot_view`,
//!   `_cannot_edit`, `_cannot_create`). Single-order permission checks only
//!   apply to an order that exists, so a missing order is 404 (GET) or 400
//!   (PUT) `Invalid ID.` even without credentials, as in WooCommerce.
//! - Order of checks as in `WP_REST_Server`: authentication, route,
//!   parameter validation (`rest_invalid_json`, `rest_missing_callback_param`,
//!   `rest_invalid_param`), permission, then the handler.
//! - Any method WordPress registers as editable (`PUT`, `POST`, `PATCH`)
//!   updates an order; anything not listed above is `rest_no_route`.
//! - JSON is written as PHP's `json_encode` does: `/` as `\/` and non-ASCII
//!   as `\uXXXX`; `Content-Type: application/json; charset=UTF-8`.
//! - Query strings are decoded as PHP does (`+` is a space), so an
//!   unencoded `+00:00` offset makes an invalid date.
//! - The site's timezone is UTC; `date_*` and `date_*_gmt` of the orders
//!   made by [`OrderSpec`] are equal. Date filters are exclusive.
//! - A status change adds WooCommerce's system note ("Order status changed
//!   from Processing to Completed."), sets `date_paid` (processing,
//!   completed) and `date_completed` (completed).
//! - Notes are listed newest first; a note's `author` is `"WooCommerce"`
//!   (WooCommerce's own notes and API notes not `added_by_user`).
//! - Tracking items given to [`MockWoo::put_tracking`] also show in the
//!   order's `meta_data` under `_wc_shipment_tracking_items`, in the form
//!   the extension stores them (provider slug or custom provider, Unix
//!   `date_shipped`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

use crate::form::parse_query;

/// The order statuses a `PUT` accepts (WooCommerce's documented list).
pub const ORDER_STATUSES: [&str; 7] = [
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
];

/// The `status` values the order list accepts.
const LIST_STATUSES: [&str; 10] = [
    "any",
    "trash",
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
];

const ORDERBY: [&str; 6] = ["date", "id", "include", "title", "slug", "modified"];

const BILLING_FIELDS: [&str; 11] = [
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
    "email",
    "phone",
];

/// Shipping addresses have no email (current WooCommerce has a phone).
const SHIPPING_FIELDS: [&str; 10] = [
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
    "phone",
];

/// The order meta key the Shipment Tracking extension stores items under.
pub const TRACKING_META_KEY: &str = "_wc_shipment_tracking_items";

const REALM: &str = "Basic realm=\"WooCommerce API. Use a consumer key in the username field and a consumer secret in the password field.\"";

/// What the store does instead of answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// `503 Service Unavailable` (an HTML page from the host).
    Unavailable,
    /// Never answers (the client's timeout must fire).
    Hang,
    /// `429 Too Many Requests` with `Retry-After: 2` and a JSON body, as a
    /// host's firewall answers (WooCommerce itself has no REST rate limit).
    RateLimited,
}

/// The store's one REST API key (read/write).
#[derive(Debug, Clone)]
pub struct MockWooConfig {
    pub consumer_key: String,
    pub consumer_secret: String,
}

impl Default for MockWooConfig {
    fn default() -> Self {
        MockWooConfig {
            consumer_key: "ck_mock0123456789abcdef0123456789abcdef01".into(),
            consumer_secret: "cs_mock0123456789abcdef0123456789abcdef01".into(),
        }
    }
}

/// What the mock saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests to a route with valid credentials.
    pub requests: u64,
    /// `401` answers: a wrong secret, or no or an unknown key.
    pub unauthorized: u64,
    /// Authenticated `GET`s of one order (found or not) and order lists
    /// with a `search`.
    pub lookups: u64,
    /// Order updates that changed the status or an address.
    pub changes: u64,
    /// Notes created through the API.
    pub notes_added: u64,
}

#[derive(Default)]
struct Notes {
    last_id: u64,
    /// Per order, oldest first.
    by_order: HashMap<u64, Vec<Value>>,
}

struct Store {
    config: MockWooConfig,
    /// `http://127.0.0.1:PORT`.
    base: String,
    orders: Mutex<BTreeMap<u64, Value>>,
    notes: Mutex<Notes>,
    /// Per order: Shipment Tracking items as the extension's API lists them.
    trackings: Mutex<HashMap<u64, Vec<Value>>>,
    fault: Mutex<Fault>,
    stats: Mutex<Stats>,
}

/// A running mock store.
pub struct MockWoo {
    pub addr: SocketAddr,
    store: Arc<Store>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockWoo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockWoo {
    /// Starts on a free loopback port.
    pub async fn start(config: MockWooConfig) -> std::io::Result<MockWoo> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Store {
            config,
            base: format!("http://{addr}"),
            orders: Mutex::new(BTreeMap::new()),
            notes: Mutex::new(Notes {
                last_id: 1000,
                by_order: HashMap::new(),
            }),
            trackings: Mutex::new(HashMap::new()),
            fault: Mutex::new(Fault::None),
            stats: Mutex::new(Stats::default()),
        });
        let app = Router::new().fallback(handle).with_state(store.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockWoo { addr, store, task })
    }

    /// `http://127.0.0.1:PORT`, the store's base URL (the API is under
    /// `/wp-json/`).
    pub fn url(&self) -> String {
        self.store.base.clone()
    }

    pub fn consumer_key(&self) -> &str {
        &self.store.config.consumer_key
    }

    pub fn consumer_secret(&self) -> &str {
        &self.store.config.consumer_secret
    }

    /// Adds an order in the REST v3 shape (see [`OrderSpec::json`]), or
    /// replaces the one with the same `"id"`. An order without a numeric
    /// `"id"` gets the next free one.
    pub fn put_order(&self, mut order: Value) {
        let mut orders = lock(&self.store.orders);
        let id = match order["id"].as_u64() {
            Some(id) => id,
            None => {
                let id = orders.keys().next_back().map_or(1, |last| last + 1);
                if let Some(o) = order.as_object_mut() {
                    o.insert("id".into(), json!(id));
                }
                id
            }
        };
        orders.insert(id, order);
    }

    /// The order as the API returns it, without `_links`.
    pub fn order(&self, id: u64) -> Option<Value> {
        let order = lock(&self.store.orders).get(&id).cloned()?;
        let trackings = lock(&self.store.trackings).get(&id).cloned();
        Some(with_tracking_meta(order, trackings.as_deref()))
    }

    /// Adds a Shipment Tracking item to an order (replacing one with the
    /// same `tracking_id`): `{tracking_id, tracking_provider, tracking_link,
    /// tracking_number, date_shipped: "YYYY-MM-DD"}`, as the extension's API
    /// lists it. Items without a `tracking_id` get one.
    pub fn put_tracking(&self, order_id: u64, mut item: Value) {
        let mut trackings = lock(&self.store.trackings);
        let items = trackings.entry(order_id).or_default();
        if item["tracking_id"].as_str().is_none_or(str::is_empty) {
            if let Some(o) = item.as_object_mut() {
                let seed = order_id.wrapping_mul(1000).wrapping_add(items.len() as u64);
                o.insert("tracking_id".into(), json!(hex32(seed)));
            }
        }
        items.retain(|t| t["tracking_id"] != item["tracking_id"]);
        items.push(item);
    }

    /// The order's notes as the API lists them (newest first), without
    /// `_links`; WooCommerce's own notes (status changes) included.
    pub fn notes(&self, order_id: u64) -> Vec<Value> {
        let notes = lock(&self.store.notes);
        let mut list = notes.by_order.get(&order_id).cloned().unwrap_or_default();
        list.reverse();
        list
    }

    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.store.fault) = fault;
    }

    pub fn stats(&self) -> Stats {
        *lock(&self.store.stats)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------
// Responses

/// JSON as PHP's `json_encode` writes it (what WordPress sends): `/`
/// escaped, non-ASCII as `\uXXXX` (both occur only inside strings).
fn php_json(v: &Value) -> String {
    let plain = v.to_string();
    let mut out = String::with_capacity(plain.len() + 16);
    for c in plain.chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if !c.is_ascii() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn wp_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, php_json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

fn wp_error(status: StatusCode, code: &str, message: &str) -> Response {
    wp_json(
        status,
        &json!({"code": code, "message": message, "data": {"status": status.as_u16()}}),
    )
}

fn no_route() -> Response {
    wp_error(
        StatusCode::NOT_FOUND,
        "rest_no_route",
        "No route was found matching the URL and request method",
    )
}

fn unauthorized(code: &str, message: &str) -> Response {
    wp_error(StatusCode::UNAUTHORIZED, code, message)
}

fn cannot_list() -> Response {
    unauthorized(
        "woocommerce_rest_cannot_view",
        "Sorry, you cannot list resources.",
    )
}

fn order_invalid_id() -> Response {
    wp_error(
        StatusCode::NOT_FOUND,
        "woocommerce_rest_order_invalid_id",
        "Invalid order ID.",
    )
}

/// One invalid parameter: name, WordPress's error code, message.
type Invalid = (String, &'static str, String);

fn invalid_params(errors: &[Invalid]) -> Response {
    let names: Vec<&str> = errors.iter().map(|(n, _, _)| n.as_str()).collect();
    let mut params = Map::new();
    let mut details = Map::new();
    for (name, code, message) in errors {
        params.insert(name.clone(), json!(message));
        details.insert(
            name.clone(),
            json!({"code": code, "message": message, "data": null}),
        );
    }
    wp_json(
        StatusCode::BAD_REQUEST,
        &json!({
            "code": "rest_invalid_param",
            "message": format!("Invalid parameter(s): {}", names.join(", ")),
            "data": {"status": 400, "params": params, "details": details},
        }),
    )
}

// ---------------------------------------------------------------------
// Requests

async fn handle(
    State(store): State<Arc<Store>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = *lock(&store.fault);
    match fault {
        Fault::None => {}
        Fault::Unavailable => {
            let mut resp = (
                StatusCode::SERVICE_UNAVAILABLE,
                "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>",
            )
                .into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=UTF-8"),
            );
            return resp;
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Fault::RateLimited => {
            let mut resp = wp_json(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"code": "too_many_requests",
                    "message": "Too many requests from your IP address. Please wait and try again.",
                    "data": {"status": 429}}),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            return resp;
        }
    }
    let resp = respond(&store, &method, &uri, &headers, &body);
    if resp.status() == StatusCode::UNAUTHORIZED {
        lock(&store.stats).unauthorized += 1;
    }
    resp
}

enum Route {
    ListOrders,
    /// `None`: digits too large for an ID (no such order).
    GetOrder(Option<u64>),
    UpdateOrder(Option<u64>),
    ListNotes(Option<u64>),
    CreateNote(Option<u64>),
    ListTrackings(Option<u64>),
}

fn route(method: &Method, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/wp-json/")?.to_ascii_lowercase();
    let segments: Vec<&str> = rest.split('/').collect();
    let id = |s: &str| -> Option<Option<u64>> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())
    };
    let m = method.as_str();
    match segments.as_slice() {
        ["wc", "v3", "orders"] if m == "GET" => Some(Route::ListOrders),
        ["wc", "v3", "orders", n] => match m {
            "GET" => Some(Route::GetOrder(id(n)?)),
            "PUT" | "POST" | "PATCH" => Some(Route::UpdateOrder(id(n)?)),
            _ => None,
        },
        ["wc", "v3", "orders", n, "notes"] => match m {
            "GET" => Some(Route::ListNotes(id(n)?)),
            "POST" => Some(Route::CreateNote(id(n)?)),
            _ => None,
        },
        ["wc-shipment-tracking", "v3", "orders", n, "shipment-trackings"] if m == "GET" => {
            Some(Route::ListTrackings(id(n)?))
        }
        _ => None,
    }
}

fn respond(
    store: &Store,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let path = uri.path();
    let query = parse_query(uri.query().unwrap_or(""));
    // WooCommerce authenticates requests to `wc/` and `wc-` namespaces.
    let authenticated = if path.contains("/wp-json/wc/") || path.contains("/wp-json/wc-") {
        match authenticate(&store.config, &query, headers) {
            Auth::User => true,
            Auth::Anonymous => false,
            Auth::WrongSecret => {
                let mut resp = unauthorized(
                    "woocommerce_rest_authentication_error",
                    "Consumer secret is invalid.",
                );
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
                return resp;
            }
        }
    } else {
        false
    };
    let Some(route) = route(method, path) else {
        return no_route();
    };
    if authenticated {
        lock(&store.stats).requests += 1;
    }
    let Some(body) = body_params(headers, body) else {
        return wp_json(
            StatusCode::BAD_REQUEST,
            &json!({"code": "rest_invalid_json", "message": "Invalid JSON body passed.",
                "data": {"status": 400, "json_error_code": 4, "json_error_message": "Syntax error"}}),
        );
    };
    let params = Params { query, body };
    match route {
        Route::ListOrders => list_orders(store, &params, authenticated),
        Route::GetOrder(id) => get_order(store, id, authenticated),
        Route::UpdateOrder(id) => update_order(store, id, &params, authenticated),
        Route::ListNotes(id) => list_notes(store, id, &params, authenticated),
        Route::CreateNote(id) => create_note(store, id, &params, authenticated),
        Route::ListTrackings(id) => list_trackings(store, id, authenticated),
    }
}

enum Auth {
    /// The key's user.
    User,
    /// No key or an unknown one: the request goes on unauthenticated.
    Anonymous,
    /// A known key with a wrong secret: WooCommerce's authentication error.
    WrongSecret,
}

fn authenticate(config: &MockWooConfig, query: &[(String, String)], headers: &HeaderMap) -> Auth {
    let from_query = match (
        query_value(query, "consumer_key"),
        query_value(query, "consumer_secret"),
    ) {
        (Some(k), Some(s)) if !k.is_empty() && !s.is_empty() => {
            Some((k.to_string(), s.to_string()))
        }
        _ => None,
    };
    let credentials = from_query.or_else(|| basic_credentials(headers));
    match credentials {
        Some((key, _)) if key != config.consumer_key => Auth::Anonymous,
        Some((_, secret)) if secret != config.consumer_secret => Auth::WrongSecret,
        Some(_) => Auth::User,
        None => Auth::Anonymous,
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty() && !password.is_empty()).then(|| (user.to_string(), password.to_string()))
}

/// The request's parameters: the JSON (or form) body first, then the query
/// string, as `WP_REST_Request` looks them up.
struct Params {
    query: Vec<(String, String)>,
    body: Map<String, Value>,
}

impl Params {
    /// A present, non-null parameter (WordPress's `isset`).
    fn get(&self, name: &str) -> Option<Value> {
        match self.body.get(name) {
            Some(Value::Null) | None => query_value(&self.query, name).map(|v| json!(v)),
            Some(v) => Some(v.clone()),
        }
    }
}

/// `None`: a JSON body that does not parse.
fn body_params(headers: &HeaderMap, body: &[u8]) -> Option<Map<String, Value>> {
    if body.is_empty() {
        return Some(Map::new());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media == "application/json" || media.ends_with("+json") {
        return match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => Some(m),
            Ok(_) => Some(Map::new()),
            Err(_) => None,
        };
    }
    if media == "application/x-www-form-urlencoded" {
        let text = String::from_utf8_lossy(body);
        return Some(
            parse_query(&text)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
    }
    Some(Map::new())
}

/// `rawurlencode`.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The last value of a query parameter (as in PHP's `$_GET`).
fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------
// Parameter validation, with WordPress's messages

/// "a, b, and c" (WordPress's `%l`).
fn wp_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

fn type_error(name: &str, ty: &str) -> Invalid {
    (
        name.to_string(),
        "rest_invalid_type",
        format!("{name} is not of type {ty}."),
    )
}

fn v_int(
    p: &Params,
    name: &str,
    min: Option<i64>,
    max: Option<i64>,
    errors: &mut Vec<Invalid>,
) -> Option<i64> {
    let value = p.get(name)?;
    let number = match &value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let Some(n) = number.filter(|n| n.is_finite() && n.fract() == 0.0) else {
        errors.push(type_error(name, "integer"));
        return None;
    };
    let n = n as i64;
    let out_of_bounds = |message: String| (name.to_string(), "rest_out_of_bounds", message);
    match (min, max) {
        (Some(lo), Some(hi)) if n < lo || n > hi => {
            errors.push(out_of_bounds(format!(
                "{name} must be between {lo} (inclusive) and {hi} (inclusive)"
            )));
            None
        }
        (Some(lo), None) if n < lo => {
            errors.push(out_of_bounds(format!(
                "{name} must be greater than or equal to {lo}"
            )));
            None
        }
        _ => Some(n),
    }
}

fn v_string(p: &Params, name: &str, errors: &mut Vec<Invalid>) -> Option<String> {
    match p.get(name)? {
        Value::String(s) => Some(s),
        _ => {
            errors.push(type_error(name, "string"));
            None
        }
    }
}

fn v_enum(
    p: &Params,
    name: &str,
    allowed: &[&'static str],
    errors: &mut Vec<Invalid>,
) -> Option<&'static str> {
    let value = p.get(name)?;
    let found = value
        .as_str()
        .and_then(|s| allowed.iter().copied().find(|a| *a == s));
    if found.is_none() {
        errors.push((
            name.to_string(),
            "rest_not_in_enum",
            format!("{name} is not one of {}.", wp_list(allowed)),
        ));
    }
    found
}

fn v_bool(p: &Params, name: &str, errors: &mut Vec<Invalid>) -> Option<bool> {
    let parsed = match p.get(name)? {
        Value::Bool(b) => Some(b),
        Value::Number(n) if n.as_i64() == Some(0) => Some(false),
        Value::Number(n) if n.as_i64() == Some(1) => Some(true),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    };
    if parsed.is_none() {
        errors.push(type_error(name, "boolean"));
    }
    parsed
}

/// `date-time` parameters (`rest_parse_date`), as the site's time (UTC):
/// an offset converts, no offset is taken as site time.
fn v_date(p: &Params, name: &str, errors: &mut Vec<Invalid>) -> Option<NaiveDateTime> {
    let value = p.get(name)?;
    let parsed = value.as_str().and_then(parse_date_param);
    if parsed.is_none() {
        errors.push((
            name.to_string(),
            "rest_invalid_date",
            "Invalid date.".into(),
        ));
    }
    parsed
}

fn parse_date_param(s: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// `status`, an array: `status=a,b` or `status[]=a&status[]=b`.
fn v_statuses(p: &Params, errors: &mut Vec<Invalid>) -> Vec<String> {
    let mut values: Vec<String> = match p.body.get("status") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    if values.is_empty() {
        for (k, v) in &p.query {
            if k == "status[]" {
                values.push(v.clone());
            }
        }
    }
    if values.is_empty() {
        if let Some(v) = query_value(&p.query, "status") {
            values = v
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
    }
    for (i, v) in values.iter().enumerate() {
        if !LIST_STATUSES.contains(&v.as_str()) {
            errors.push((
                "status".into(),
                "rest_not_in_enum",
                format!("status[{i}] is not one of {}.", wp_list(&LIST_STATUSES)),
            ));
            break;
        }
    }
    values
}

// ---------------------------------------------------------------------
// Handlers

fn wc_date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn order_time(order: &Value, field: &str) -> Option<NaiveDateTime> {
    order[field]
        .as_str()
        .and_then(|s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok())
}

fn link(href: String) -> Value {
    json!([{ "href": href }])
}

fn render_order(store: &Store, order: &Value) -> Value {
    let id = order["id"].as_u64().unwrap_or(0);
    let trackings = lock(&store.trackings).get(&id).cloned();
    let mut out = with_tracking_meta(order.clone(), trackings.as_deref());
    if let Some(o) = out.as_object_mut() {
        o.insert(
            "_links".into(),
            json!({
                "self": link(format!("{}/wp-json/wc/v3/orders/{id}", store.base)),
                "collection": link(format!("{}/wp-json/wc/v3/orders", store.base)),
            }),
        );
    }
    out
}

/// The order with its Shipment Tracking items in `meta_data`, as the
/// extension stores them.
fn with_tracking_meta(mut order: Value, trackings: Option<&[Value]>) -> Value {
    let Some(items) = trackings.filter(|t| !t.is_empty()) else {
        return order;
    };
    let id = order["id"].as_u64().unwrap_or(0);
    let entry = json!({
        "id": 90_000 + id,
        "key": TRACKING_META_KEY,
        "value": items.iter().map(tracking_meta).collect::<Vec<_>>(),
    });
    if let Some(o) = order.as_object_mut() {
        let meta = o.entry("meta_data").or_insert_with(|| json!([]));
        if let Some(list) = meta.as_array_mut() {
            list.retain(|m| m["key"] != TRACKING_META_KEY);
            list.push(entry);
        }
    }
    order
}

/// A few of the extension's predefined providers (display name → slug).
const PROVIDERS: [&str; 11] = [
    "USPS",
    "UPS",
    "Fedex",
    "DHL US",
    "DHL Express",
    "OnTrac",
    "Canada Post",
    "Purolator",
    "Royal Mail",
    "Australia Post",
    "DPD",
];

fn tracking_meta(item: &Value) -> Value {
    let provider = item["tracking_provider"].as_str().unwrap_or_default();
    let known = PROVIDERS
        .iter()
        .find(|p| p.eq_ignore_ascii_case(provider))
        .map(|p| p.to_ascii_lowercase().replace(' ', "-"));
    let (slug, custom, custom_link) = match known {
        Some(slug) => (slug, String::new(), String::new()),
        None => (
            String::new(),
            provider.to_string(),
            item["tracking_link"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
    };
    let shipped = item["date_shipped"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp().to_string())
        .unwrap_or_default();
    json!({
        "tracking_provider": slug,
        "custom_tracking_provider": custom,
        "custom_tracking_link": custom_link,
        "tracking_number": item["tracking_number"].as_str().unwrap_or_default(),
        "date_shipped": shipped,
        "tracking_id": item["tracking_id"].as_str().unwrap_or_default(),
    })
}

fn address_index(order: &Value, kind: &str, fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| value_text(&order[kind][*f]))
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `wc_order_search`: the ID, the number, the billing and shipping address
/// indexes (names, address, email, phone) and item names, as substrings,
/// case-insensitively.
fn matches_search(order: &Value, term: &str) -> bool {
    let term = term.trim().to_lowercase();
    if order["id"].as_u64().map(|i| i.to_string()) == Some(term.clone()) {
        return true;
    }
    let mut haystacks = vec![
        value_text(&order["number"]),
        address_index(order, "billing", &BILLING_FIELDS),
        address_index(order, "shipping", &SHIPPING_FIELDS),
    ];
    if let Some(items) = order["line_items"].as_array() {
        haystacks.extend(items.iter().map(|i| value_text(&i["name"])));
    }
    haystacks.iter().any(|h| h.to_lowercase().contains(&term))
}

fn list_orders(store: &Store, p: &Params, authenticated: bool) -> Response {
    let mut errors = Vec::new();
    let page = v_int(p, "page", Some(1), None, &mut errors).unwrap_or(1);
    let per_page = v_int(p, "per_page", Some(1), Some(100), &mut errors).unwrap_or(10);
    let search = v_string(p, "search", &mut errors).filter(|s| !s.trim().is_empty());
    let after = v_date(p, "after", &mut errors);
    let before = v_date(p, "before", &mut errors);
    let modified_after = v_date(p, "modified_after", &mut errors);
    let modified_before = v_date(p, "modified_before", &mut errors);
    let gmt = v_bool(p, "dates_are_gmt", &mut errors).unwrap_or(false);
    let offset = v_int(p, "offset", None, None, &mut errors);
    let order = v_enum(p, "order", &["asc", "desc"], &mut errors).unwrap_or("desc");
    let orderby = v_enum(p, "orderby", &ORDERBY, &mut errors).unwrap_or("date");
    let statuses = v_statuses(p, &mut errors);
    if !errors.is_empty() {
        return invalid_params(&errors);
    }
    if !authenticated {
        return cannot_list();
    }
    if search.is_some() {
        lock(&store.stats).lookups += 1;
    }
    let (created_field, modified_field) = if gmt {
        ("date_created_gmt", "date_modified_gmt")
    } else {
        ("date_created", "date_modified")
    };
    let any = statuses.is_empty() || statuses.iter().any(|s| s == "any");
    let in_range = |t: Option<NaiveDateTime>,
                    from: Option<NaiveDateTime>,
                    to: Option<NaiveDateTime>| {
        from.is_none_or(|f| t.is_some_and(|t| t > f)) && to.is_none_or(|b| t.is_some_and(|t| t < b))
    };
    let mut found: Vec<Value> = lock(&store.orders)
        .values()
        .filter(|o| {
            let status = o["status"].as_str().unwrap_or_default();
            if any {
                status != "trash"
            } else {
                statuses.iter().any(|s| s == status)
            }
        })
        .filter(|o| search.as_deref().is_none_or(|s| matches_search(o, s)))
        .filter(|o| in_range(order_time(o, created_field), after, before))
        .filter(|o| {
            in_range(
                order_time(o, modified_field),
                modified_after,
                modified_before,
            )
        })
        .cloned()
        .collect();
    let key = |o: &Value| -> (String, u64) {
        let id = o["id"].as_u64().unwrap_or(0);
        let date = match orderby {
            "date" | "title" => value_text(&o["date_created_gmt"]),
            "modified" => value_text(&o["date_modified_gmt"]),
            _ => String::new(),
        };
        (date, id)
    };
    found.sort_by_key(key);
    if order == "desc" {
        found.reverse();
    }
    let total = found.len() as u64;
    let per_page = per_page as u64;
    let page = page as u64;
    let max_pages = total.div_ceil(per_page);
    let start = match offset {
        Some(o) => o.max(0) as u64,
        None => (page - 1).saturating_mul(per_page),
    };
    let items: Vec<Value> = found
        .iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(per_page as usize)
        .map(|o| render_order(store, o))
        .collect();
    let mut resp = wp_json(StatusCode::OK, &Value::Array(items));
    let h = resp.headers_mut();
    h.insert("x-wp-total", HeaderValue::from(total));
    h.insert("x-wp-totalpages", HeaderValue::from(max_pages));
    let mut links = Vec::new();
    let base = format!("{}/wp-json/wc/v3/orders", store.base);
    if page > 1 {
        let prev = (page - 1).min(max_pages);
        links.push(format!(
            "<{}>; rel=\"prev\"",
            page_url(&base, &p.query, prev)
        ));
    }
    if max_pages > page {
        links.push(format!(
            "<{}>; rel=\"next\"",
            page_url(&base, &p.query, page + 1)
        ));
    }
    if !links.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
            h.insert(header::LINK, v);
        }
    }
    resp
}

/// The list URL with the request's query parameters and `page` set
/// (`add_query_arg`): a repeated name keeps its first place and last value.
fn page_url(base: &str, query: &[(String, String)], page: u64) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in query {
        if k.ends_with("[]") {
            pairs.push((k.clone(), v.clone()));
        } else if let Some(existing) = pairs.iter_mut().find(|(ek, _)| ek == k) {
            existing.1 = v.clone();
        } else {
            pairs.push((k.clone(), v.clone()));
        }
    }
    match pairs.iter_mut().find(|(k, _)| k == "page") {
        Some(existing) => existing.1 = page.to_string(),
        None => pairs.push(("page".into(), page.to_string())),
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn get_order(store: &Store, id: Option<u64>, authenticated: bool) -> Response {
    let order = id.and_then(|id| lock(&store.orders).get(&id).cloned());
    let Some(order) = order else {
        if authenticated {
            lock(&store.stats).lookups += 1;
        }
        return wp_error(
            StatusCode::NOT_FOUND,
            "woocommerce_rest_shop_order_invalid_id",
            "Invalid ID.",
        );
    };
    if !authenticated {
        return unauthorized(
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot view this resource.",
        );
    }
    lock(&store.stats).lookups += 1;
    wp_json(StatusCode::OK, &render_order(store, &order))
}

fn status_label(status: &str) -> String {
    match status {
        "pending" => "Pending payment".into(),
        "processing" => "Processing".into(),
        "on-hold" => "On hold".into(),
        "completed" => "Completed".into(),
        "cancelled" => "Cancelled".into(),
        "refunded" => "Refunded".into(),
        "failed" => "Failed".into(),
        "checkout-draft" => "Draft".into(),
        other => other.to_string(),
    }
}

/// `update_address`: only the address's own fields, as strings.
fn merge_address(order: &mut Value, kind: &str, fields: &[&str], update: &Map<String, Value>) {
    let Some(o) = order.as_object_mut() else {
        return;
    };
    let address = o.entry(kind).or_insert_with(|| json!({}));
    if !address.is_object() {
        *address = json!({});
    }
    if let Some(a) = address.as_object_mut() {
        for (k, v) in update {
            if fields.contains(&k.as_str()) {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    Value::Number(_) | Value::Bool(_) => v.to_string(),
                    _ => continue,
                };
                a.insert(k.clone(), json!(text));
            }
        }
    }
}

fn update_order(store: &Store, id: Option<u64>, p: &Params, authenticated: bool) -> Response {
    let mut errors = Vec::new();
    let status = v_enum(p, "status", &ORDER_STATUSES, &mut errors);
    let mut addresses = Vec::new();
    for (kind, fields) in [
        ("billing", &BILLING_FIELDS[..]),
        ("shipping", &SHIPPING_FIELDS[..]),
    ] {
        match p.get(kind) {
            None => {}
            Some(Value::Object(m)) => addresses.push((kind, fields, m)),
            Some(_) => errors.push(type_error(kind, "object")),
        }
    }
    if !errors.is_empty() {
        return invalid_params(&errors);
    }
    let mut orders = lock(&store.orders);
    let Some(order) = id.and_then(|id| orders.get_mut(&id)) else {
        return wp_error(
            StatusCode::BAD_REQUEST,
            "woocommerce_rest_shop_order_invalid_id",
            "Invalid ID.",
        );
    };
    if !authenticated {
        return unauthorized(
            "woocommerce_rest_cannot_edit",
            "Sorry, you are not allowed to edit this resource.",
        );
    }
    let before = order.clone();
    for (kind, fields, update) in &addresses {
        merge_address(order, kind, fields, update);
    }
    let now = wc_date(Utc::now());
    let mut status_note = None;
    if let Some(new) = status {
        let old = order["status"].as_str().unwrap_or_default().to_string();
        if old != new {
            order["status"] = json!(new);
            if matches!(new, "processing" | "completed") && order["date_paid"].is_null() {
                order["date_paid"] = json!(now);
                order["date_paid_gmt"] = json!(now);
            }
            if new == "completed" {
                order["date_completed"] = json!(now);
                order["date_completed_gmt"] = json!(now);
            }
            status_note = Some(format!(
                "Order status changed from {} to {}.",
                status_label(&old),
                status_label(new)
            ));
        }
    }
    let changed = *order != before;
    order["date_modified"] = json!(now);
    order["date_modified_gmt"] = json!(now);
    let rendered_source = order.clone();
    let order_id = rendered_source["id"].as_u64().unwrap_or(0);
    drop(orders);
    if let Some(note) = status_note {
        add_note(store, order_id, &note, false, "WooCommerce");
    }
    if changed {
        lock(&store.stats).changes += 1;
    }
    wp_json(StatusCode::OK, &render_order(store, &rendered_source))
}

fn add_note(store: &Store, order_id: u64, text: &str, customer_note: bool, author: &str) -> Value {
    let now = wc_date(Utc::now());
    let mut notes = lock(&store.notes);
    notes.last_id += 1;
    let note = json!({
        "id": notes.last_id,
        "author": author,
        "date_created": now,
        "date_created_gmt": now,
        "note": text,
        "customer_note": customer_note,
    });
    notes
        .by_order
        .entry(order_id)
        .or_default()
        .push(note.clone());
    note
}

fn render_note(store: &Store, order_id: u64, note: &Value) -> Value {
    let mut out = note.clone();
    let id = note["id"].as_u64().unwrap_or(0);
    let collection = format!("{}/wp-json/wc/v3/orders/{order_id}/notes", store.base);
    if let Some(o) = out.as_object_mut() {
        o.insert(
            "_links".into(),
            json!({
                "self": link(format!("{collection}/{id}")),
                "collection": link(collection.clone()),
                "up": link(format!("{}/wp-json/wc/v3/orders/{order_id}", store.base)),
            }),
        );
    }
    out
}

fn list_notes(store: &Store, id: Option<u64>, p: &Params, authenticated: bool) -> Response {
    let mut errors = Vec::new();
    let kind = v_enum(p, "type", &["any", "customer", "internal"], &mut errors).unwrap_or("any");
    v_enum(p, "context", &["view", "edit"], &mut errors);
    if !errors.is_empty() {
        return invalid_params(&errors);
    }
    if !authenticated {
        return cannot_list();
    }
    let Some(id) = id.filter(|id| lock(&store.orders).contains_key(id)) else {
        // The list's error names the post type, unlike the note's create.
        return wp_error(
            StatusCode::NOT_FOUND,
            "woocommerce_rest_shop_order_invalid_id",
            "Invalid order ID.",
        );
    };
    let notes: Vec<Value> = lock(&store.notes)
        .by_order
        .get(&id)
        .map(|list| {
            list.iter()
                .rev()
                .filter(|n| match kind {
                    "customer" => n["customer_note"] == true,
                    "internal" => n["customer_note"] != true,
                    _ => true,
                })
                .map(|n| render_note(store, id, n))
                .collect()
        })
        .unwrap_or_default();
    wp_json(StatusCode::OK, &Value::Array(notes))
}

fn create_note(store: &Store, id: Option<u64>, p: &Params, authenticated: bool) -> Response {
    if p.get("note").is_none() {
        return wp_json(
            StatusCode::BAD_REQUEST,
            &json!({"code": "rest_missing_callback_param", "message": "Missing parameter(s): note",
                "data": {"status": 400, "params": ["note"]}}),
        );
    }
    let mut errors = Vec::new();
    let text = v_string(p, "note", &mut errors);
    let customer_note = v_bool(p, "customer_note", &mut errors).unwrap_or(false);
    let added_by_user = v_bool(p, "added_by_user", &mut errors).unwrap_or(false);
    if !errors.is_empty() {
        return invalid_params(&errors);
    }
    if !authenticated {
        return unauthorized(
            "woocommerce_rest_cannot_create",
            "Sorry, you are not allowed to create resources.",
        );
    }
    if p.get("id").is_some_and(|v| !php_empty(&v)) {
        return wp_error(
            StatusCode::BAD_REQUEST,
            "woocommerce_rest_shop_order_exists",
            "Cannot create existing shop_order.",
        );
    }
    let Some(order_id) = id.filter(|id| lock(&store.orders).contains_key(id)) else {
        return order_invalid_id();
    };
    let author = if added_by_user {
        "Shop Manager"
    } else {
        "WooCommerce"
    };
    let note = add_note(
        store,
        order_id,
        text.as_deref().unwrap_or_default(),
        customer_note,
        author,
    );
    lock(&store.stats).notes_added += 1;
    let note_id = note["id"].as_u64().unwrap_or(0);
    let mut resp = wp_json(StatusCode::CREATED, &render_note(store, order_id, &note));
    let location = format!(
        "{}/wp-json/wc/v3/orders/{order_id}/notes/{note_id}",
        store.base
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// PHP's `empty()` for a JSON value.
fn php_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

fn list_trackings(store: &Store, id: Option<u64>, authenticated: bool) -> Response {
    if !authenticated {
        return cannot_list();
    }
    let Some(order_id) = id.filter(|id| lock(&store.orders).contains_key(id)) else {
        return order_invalid_id();
    };
    let base = format!(
        "{}/wp-json/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings",
        store.base
    );
    let items: Vec<Value> = lock(&store.trackings)
        .get(&order_id)
        .map(|list| {
            list.iter()
                .map(|t| {
                    let tracking_id = value_text(&t["tracking_id"]);
                    json!({
                        "tracking_id": tracking_id,
                        "tracking_provider": value_text(&t["tracking_provider"]),
                        "tracking_link": value_text(&t["tracking_link"]),
                        "tracking_number": value_text(&t["tracking_number"]),
                        "date_shipped": value_text(&t["date_shipped"]),
                        "_links": {
                            "self": link(format!("{base}/{tracking_id}")),
                            "collection": link(base.clone()),
                            "up": link(format!("{}/wp-json/wc/v3/orders/{order_id}", store.base)),
                        },
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    wp_json(StatusCode::OK, &Value::Array(items))
}

// ---------------------------------------------------------------------
// Orders

/// An order as the REST API v3 returns it (the docs' example shape).
#[derive(Debug, Clone)]
pub struct OrderSpec {
    pub id: u64,
    /// Usually the ID as a string.
    pub number: String,
    pub email: String,
    /// One of [`ORDER_STATUSES`].
    pub status: &'static str,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    /// (name, quantity, unit price as "12.50")
    pub items: Vec<(&'static str, u32, &'static str)>,
}

fn hex32(seed: u64) -> String {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = String::with_capacity(32);
    for _ in 0..2 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let _ = write!(out, "{x:016x}");
    }
    out
}

fn order_key(id: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66;
    (0..13)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(ALPHABET[((x >> 33) % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

fn product_id(name: &str) -> u64 {
    100 + name
        .bytes()
        .fold(0u64, |h, b| (h * 31 + u64::from(b)) % 9_000)
}

fn sku(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect::<Vec<_>>()
        .join("-")
}

impl OrderSpec {
    /// The order with the docs' example's fields: a guest (customer 0)
    /// paying by bank transfer, shipped free to Sam Rivera in Memphis, TN;
    /// no taxes, refunds or meta data.
    pub fn json(&self) -> Value {
        let created = wc_date(self.created);
        let modified = wc_date(self.modified);
        let mut total = 0.0_f64;
        let line_items: Vec<Value> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, (name, qty, price))| {
                let unit = price.parse::<f64>().unwrap_or(0.0);
                let line = unit * f64::from(*qty);
                total += line;
                json!({
                    "id": self.id * 100 + i as u64 + 1,
                    "name": name,
                    "product_id": product_id(name),
                    "variation_id": 0,
                    "quantity": qty,
                    "tax_class": "",
                    "subtotal": format!("{line:.2}"),
                    "subtotal_tax": "0.00",
                    "total": format!("{line:.2}"),
                    "total_tax": "0.00",
                    "taxes": [],
                    "meta_data": [],
                    "sku": sku(name),
                    "price": unit,
                    "image": {"id": "", "src": ""},
                    "parent_name": null,
                })
            })
            .collect();
        let paid = matches!(self.status, "processing" | "completed" | "refunded");
        let date_paid = if paid { json!(created) } else { Value::Null };
        let date_completed = if self.status == "completed" {
            json!(modified)
        } else {
            Value::Null
        };
        let billing = json!({
            "first_name": "Sam", "last_name": "Rivera", "company": "",
            "address_1": "200 Elm St", "address_2": "", "city": "Memphis", "state": "TN",
            "postcode": "38103", "country": "US", "email": self.email, "phone": "(555) 555-0142",
        });
        let shipping = json!({
            "first_name": "Sam", "last_name": "Rivera", "company": "",
            "address_1": "200 Elm St", "address_2": "", "city": "Memphis", "state": "TN",
            "postcode": "38103", "country": "US", "phone": "",
        });
        let shipping_lines = json!([{
            "id": self.id * 100 + 90, "method_title": "Free shipping", "method_id": "free_shipping",
            "instance_id": "1", "total": "0.00", "total_tax": "0.00", "taxes": [], "meta_data": [],
        }]);
        let mut order = json!({
            "id": self.id,
            "parent_id": 0,
            "number": self.number,
            "order_key": format!("wc_order_{}", order_key(self.id)),
            "created_via": "checkout",
            "version": "9.8.5",
            "status": self.status,
            "currency": "USD",
            "currency_symbol": "$",
            "date_created": created,
            "date_created_gmt": created,
            "date_modified": modified,
            "date_modified_gmt": modified,
            "discount_total": "0.00",
            "discount_tax": "0.00",
            "shipping_total": "0.00",
            "shipping_tax": "0.00",
            "cart_tax": "0.00",
            "total": format!("{total:.2}"),
            "total_tax": "0.00",
            "prices_include_tax": false,
            "customer_id": 0,
            "customer_ip_address": "203.0.113.24",
            "customer_user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            "customer_note": "",
        });
        let rest = json!({
            "billing": billing,
            "shipping": shipping,
            "payment_method": "bacs",
            "payment_method_title": "Direct Bank Transfer",
            "transaction_id": "",
            "date_paid": date_paid,
            "date_paid_gmt": date_paid,
            "date_completed": date_completed,
            "date_completed_gmt": date_completed,
            "cart_hash": "",
            "meta_data": [],
            "line_items": line_items,
            "tax_lines": [],
            "shipping_lines": shipping_lines,
            "fee_lines": [],
            "coupon_lines": [],
            "refunds": [],
        });
        if let (Some(o), Value::Object(more)) = (order.as_object_mut(), rest) {
            o.extend(more);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::url_decode;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test date")
            .with_timezone(&Utc)
    }

    fn spec(
        id: u64,
        email: &str,
        status: &'static str,
        created: &str,
        modified: &str,
    ) -> OrderSpec {
        OrderSpec {
            id,
            number: id.to_string(),
            email: email.into(),
            status,
            created: at(created),
            modified: at(modified),
            items: vec![("Trail Runner 2", 1, "129.00"), ("Wool Socks", 2, "14.50")],
        }
    }

    async fn started() -> (MockWoo, reqwest::Client) {
        let woo = MockWoo::start(MockWooConfig::default())
            .await
            .expect("mock starts");
        woo.put_order(
            spec(
                101,
                "sam@example.com",
                "processing",
                "2026-03-01T09:00:00Z",
                "2026-03-01T09:05:00Z",
            )
            .json(),
        );
        (woo, reqwest::Client::new())
    }

    fn api(woo: &MockWoo, path: &str) -> String {
        format!("{}/wp-json/wc/v3/{path}", woo.url())
    }

    async fn send(req: reqwest::RequestBuilder) -> (u16, HeaderMap, Value, String) {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, headers, body, text)
    }

    async fn get(woo: &MockWoo, client: &reqwest::Client, path: &str) -> (u16, HeaderMap, Value) {
        let (s, h, b, _) = send(
            client
                .get(api(woo, path))
                .basic_auth(woo.consumer_key(), Some(woo.consumer_secret())),
        )
        .await;
        (s, h, b)
    }

    #[tokio::test]
    async fn authentication_errors_are_woocommerce_s() {
        let (woo, client) = started().await;
        // A known key with a wrong secret.
        let (status, headers, body, _) = send(
            client
                .get(api(&woo, "orders/101"))
                .basic_auth(woo.consumer_key(), Some("cs_wrong")),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            json!({"code": "woocommerce_rest_authentication_error",
                "message": "Consumer secret is invalid.", "data": {"status": 401}})
        );
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            "Basic realm=\"WooCommerce API. Use a consumer key in the username field and a consumer secret in the password field.\""
        );
        assert!(headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("application/json"));
        // The same in the query string, which is looked at first.
        let url = format!(
            "{}?consumer_key={}&consumer_secret=cs_nope",
            api(&woo, "orders"),
            woo.consumer_key()
        );
        let (status, headers, body, _) = send(client.get(&url)).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "woocommerce_rest_authentication_error");
        assert!(headers.contains_key(header::WWW_AUTHENTICATE));
        // An unknown key runs unauthenticated and fails the permission check.
        let (status, headers, body, _) = send(
            client
                .get(api(&woo, "orders"))
                .basic_auth("ck_unknown", Some("cs_whatever")),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            json!({"code": "woocommerce_rest_cannot_view",
                "message": "Sorry, you cannot list resources.", "data": {"status": 401}})
        );
        assert!(!headers.contains_key(header::WWW_AUTHENTICATE));
        let (status, _, body, _) = send(
            client
                .get(api(&woo, "orders/101"))
                .basic_auth("ck_unknown", Some("cs_whatever")),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Sorry, you cannot view this resource.");
        // No credentials at all: the same.
        let (status, _, body, _) = send(client.get(api(&woo, "orders"))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("woocommerce_rest_cannot_view"))
        );
        // Writes.
        let (status, _, body, _) = send(
            client
                .put(api(&woo, "orders/101"))
                .json(&json!({"status": "completed"})),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            json!({"code": "woocommerce_rest_cannot_edit",
                "message": "Sorry, you are not allowed to edit this resource.", "data": {"status": 401}})
        );
        let (status, _, body, _) = send(
            client
                .post(api(&woo, "orders/101/notes"))
                .json(&json!({"note": "hi"})),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "woocommerce_rest_cannot_create");
        // The order is unchanged; the query-string credentials work.
        assert_eq!(woo.order(101).expect("order")["status"], "processing");
        let url = format!(
            "{}?consumer_key={}&consumer_secret={}",
            api(&woo, "orders/101"),
            woo.consumer_key(),
            woo.consumer_secret()
        );
        let (status, _, body, _) = send(client.get(&url)).await;
        assert_eq!((status, body["id"].as_u64()), (200, Some(101)));
        let stats = woo.stats();
        assert_eq!(stats.unauthorized, 7);
        assert_eq!(stats.requests, 1);
        assert_eq!(stats.lookups, 1);
    }

    #[tokio::test]
    async fn an_order_and_not_found() {
        let (woo, client) = started().await;
        let (status, headers, body, raw) = send(
            client
                .get(api(&woo, "orders/101"))
                .basic_auth(woo.consumer_key(), Some(woo.consumer_secret())),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/json; charset=UTF-8"
        );
        assert_eq!(body["id"], 101);
        assert_eq!(body["parent_id"], 0);
        assert_eq!(body["number"], "101");
        assert_eq!(body["status"], "processing");
        assert_eq!(body["currency"], "USD");
        assert_eq!(body["total"], "158.00");
        assert_eq!(body["date_created"], "2026-03-01T09:00:00");
        assert_eq!(body["date_modified_gmt"], "2026-03-01T09:05:00");
        assert_eq!(body["date_paid"], "2026-03-01T09:00:00");
        assert_eq!(body["billing"]["email"], "sam@example.com");
        assert!(body["shipping"].get("email").is_none());
        assert_eq!(body["line_items"][1]["quantity"], 2);
        assert_eq!(body["line_items"][1]["total"], "29.00");
        assert_eq!(body["line_items"][1]["price"], 14.5);
        assert_eq!(body["refunds"], json!([]));
        assert!(body["order_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("wc_order_") && k.len() == 22));
        assert_eq!(
            body["_links"]["self"][0]["href"],
            format!("{}/wp-json/wc/v3/orders/101", woo.url())
        );
        // PHP's json_encode escapes slashes.
        assert!(raw.contains("\\/wp-json\\/wc\\/v3\\/orders\\/101"));

        let (status, _, body) = get(&woo, &client, "orders/999").await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                "data": {"status": 404}})
        );
        let no_route = json!({"code": "rest_no_route",
            "message": "No route was found matching the URL and request method", "data": {"status": 404}});
        let (status, _, body) = get(&woo, &client, "orders/abc").await;
        assert_eq!((status, &body), (404, &no_route));
        let (status, _, body) = get(&woo, &client, "products").await;
        assert_eq!((status, &body), (404, &no_route));
        let (status, _, body, _) = send(
            client
                .delete(api(&woo, "orders/101"))
                .basic_auth(woo.consumer_key(), Some(woo.consumer_secret())),
        )
        .await;
        assert_eq!((status, &body), (404, &no_route));
        // Outside WooCommerce's namespaces its authentication does not run.
        let (status, _, body, _) = send(
            client
                .get(format!("{}/wp-json/wp/v2/posts", woo.url()))
                .basic_auth(woo.consumer_key(), Some("cs_wrong")),
        )
        .await;
        assert_eq!((status, &body), (404, &no_route));
        // Without credentials a missing order is still "Invalid ID." (the
        // permission check only looks at an existing order).
        let (status, _, body, _) = send(client.get(api(&woo, "orders/999"))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("woocommerce_rest_shop_order_invalid_id"))
        );
        assert_eq!(woo.stats().lookups, 2);
    }

    fn many(woo: &MockWoo) {
        for i in 0..25u64 {
            let email = if i % 2 == 0 {
                "alex.kim@example.com"
            } else {
                "bob@shop.example"
            };
            let created = format!("2026-03-{:02}T10:00:00Z", i + 1);
            woo.put_order(spec(2000 + i, email, "processing", &created, &created).json());
        }
    }

    #[tokio::test]
    async fn search_and_pagination() {
        let (woo, client) = started().await;
        many(&woo);
        let (status, headers, body) =
            get(&woo, &client, "orders?search=BOB%40SHOP&per_page=5&page=2").await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-wp-total"], "12");
        assert_eq!(headers["x-wp-totalpages"], "3");
        let ids: Vec<u64> = body
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|o| o["id"].as_u64())
            .collect();
        // Newest first: bob's are the odd ones, 2023, 2021, … 2001.
        assert_eq!(ids, vec![2013, 2011, 2009, 2007, 2005]);
        let base = format!("{}/wp-json/wc/v3/orders", woo.url());
        assert_eq!(
            headers[header::LINK],
            format!(
                "<{base}?search=BOB%40SHOP&per_page=5&page=1>; rel=\"prev\", <{base}?search=BOB%40SHOP&per_page=5&page=3>; rel=\"next\""
            )
            .as_str()
        );
        // First page: only next; the page is added at the end.
        let (_, headers, body) = get(&woo, &client, "orders?search=rivera").await;
        assert_eq!(headers["x-wp-total"], "26");
        assert_eq!(headers["x-wp-totalpages"], "3");
        assert_eq!(body.as_array().map(Vec::len), Some(10));
        assert_eq!(
            headers[header::LINK],
            format!("<{base}?search=rivera&page=2>; rel=\"next\"").as_str()
        );
        // Last page: only prev.
        let (_, headers, body) = get(&woo, &client, "orders?page=3").await;
        assert_eq!(body.as_array().map(Vec::len), Some(6));
        assert_eq!(
            headers[header::LINK],
            format!("<{base}?page=2>; rel=\"prev\"").as_str()
        );
        // By number, by item name, ascending by ID.
        let (_, headers, body) = get(&woo, &client, "orders?search=2007").await;
        assert_eq!(headers["x-wp-total"], "1");
        assert_eq!(body[0]["id"], 2007);
        let (_, headers, body) = get(
            &woo,
            &client,
            "orders?search=wool+socks&orderby=id&order=asc&per_page=100",
        )
        .await;
        assert_eq!(headers["x-wp-total"], "26");
        assert!(!headers.contains_key(header::LINK));
        assert_eq!(body[0]["id"], 101);
        assert_eq!(body[25]["id"], 2024);
        let (_, headers, _) = get(&woo, &client, "orders?search=nobody").await;
        assert_eq!(headers["x-wp-total"], "0");
        assert_eq!(headers["x-wp-totalpages"], "0");
        // Searches are lookups; the plain list is not.
        assert_eq!(woo.stats().lookups, 5);
    }

    #[tokio::test]
    async fn modified_after_ordered_by_modified() {
        let (woo, client) = started().await;
        let times = [
            (3001, "2026-03-02T08:00:00Z"),
            (3002, "2026-03-02T12:00:00Z"),
            (3003, "2026-03-02T10:00:00Z"),
            (3004, "2026-03-02T09:59:59Z"),
            (3005, "2026-03-02T10:00:00Z"),
        ];
        for (id, modified) in times {
            woo.put_order(
                spec(
                    id,
                    "m@example.com",
                    "completed",
                    "2026-03-01T08:00:00Z",
                    modified,
                )
                .json(),
            );
        }
        // A store whose local time is 5 hours behind GMT for this one.
        let mut local = spec(
            3006,
            "m@example.com",
            "processing",
            "2026-03-01T08:00:00Z",
            "2026-03-02T10:30:00Z",
        )
        .json();
        local["date_modified"] = json!("2026-03-02T05:30:00");
        woo.put_order(local);
        let ids = |body: &Value| -> Vec<u64> {
            body.as_array()
                .expect("array")
                .iter()
                .filter_map(|o| o["id"].as_u64())
                .collect()
        };
        // Exclusive, ascending by modified, ties by ID.
        let (status, _, body) = get(
            &woo,
            &client,
            "orders?modified_after=2026-03-02T10:00:00&orderby=modified&order=asc&dates_are_gmt=true",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(ids(&body), vec![3006, 3002]);
        let (_, _, body) = get(
            &woo,
            &client,
            "orders?modified_after=2026-03-02T09:00:00Z&orderby=modified&order=asc&dates_are_gmt=1",
        )
        .await;
        assert_eq!(ids(&body), vec![3004, 3003, 3005, 3006, 3002]);
        // Site time: 3006 was modified at 05:30 local.
        let (_, _, body) = get(
            &woo,
            &client,
            "orders?modified_after=2026-03-02T09:00:00&orderby=modified&order=asc",
        )
        .await;
        assert_eq!(ids(&body), vec![3004, 3003, 3005, 3002]);
        // An offset with an unencoded "+" is a space to PHP: invalid.
        let (status, _, body) = get(
            &woo,
            &client,
            "orders?modified_after=2026-03-02T09:00:00+00:00",
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["data"]["params"]["modified_after"], "Invalid date.");
        let (_, _, body) = get(
            &woo,
            &client,
            "orders?modified_after=2026-03-02T09:00:00%2B00:00&orderby=modified&order=desc",
        )
        .await;
        assert_eq!(ids(&body), vec![3002, 3005, 3003, 3004]);
        let (status, _, body) = get(&woo, &client, "orders?orderby=price").await;
        assert_eq!(status, 400);
        assert_eq!(
            body["data"]["params"]["orderby"],
            "orderby is not one of date, id, include, title, slug, and modified."
        );
    }

    #[tokio::test]
    async fn update_status_and_shipping() {
        let (woo, client) = started().await;
        let put = |body: Value| {
            client
                .put(api(&woo, "orders/101"))
                .basic_auth(woo.consumer_key(), Some(woo.consumer_secret()))
                .json(&body)
        };
        let (status, _, body, _) = send(put(json!({
            "status": "completed",
            "shipping": {"address_1": "1 Broadway", "city": "Nashville", "postcode": 37201, "nickname": "x"},
        })))
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "completed");
        assert_eq!(body["shipping"]["address_1"], "1 Broadway");
        assert_eq!(body["shipping"]["city"], "Nashville");
        assert_eq!(body["shipping"]["postcode"], "37201");
        assert_eq!(body["shipping"]["first_name"], "Sam");
        assert!(body["shipping"].get("nickname").is_none());
        assert_eq!(body["billing"]["city"], "Memphis");
        assert_ne!(body["date_modified"], "2026-03-01T09:05:00");
        assert_eq!(body["date_modified"], body["date_modified_gmt"]);
        assert!(body["date_completed"].is_string());
        let stored = woo.order(101).expect("order");
        assert_eq!(stored["shipping"]["city"], "Nashville");
        assert_eq!(woo.stats().changes, 1);
        let notes = woo.notes(101);
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0]["note"],
            "Order status changed from Processing to Completed."
        );
        assert_eq!(notes[0]["author"], "WooCommerce");
        assert_eq!(notes[0]["customer_note"], false);
        // Nothing new: not a change.
        let (status, _, _, _) = send(put(json!({"status": "completed"}))).await;
        assert_eq!(status, 200);
        assert_eq!(woo.stats().changes, 1);
        // Billing merges too.
        let (_, _, body, _) = send(put(json!({"billing": {"email": "new@example.com"}}))).await;
        assert_eq!(body["billing"]["email"], "new@example.com");
        assert_eq!(body["billing"]["last_name"], "Rivera");
        assert_eq!(woo.stats().changes, 2);
        // An unknown status.
        let (status, _, body, _) = send(put(json!({"status": "shipped"}))).await;
        assert_eq!(status, 400);
        assert_eq!(body["code"], "rest_invalid_param");
        assert_eq!(body["message"], "Invalid parameter(s): status");
        assert_eq!(
            body["data"]["params"]["status"],
            "status is not one of pending, processing, on-hold, completed, cancelled, refunded, and failed."
        );
        assert_eq!(body["data"]["status"], 400);
        assert_eq!(woo.order(101).expect("order")["status"], "completed");
        // An unknown order: 400 on update.
        let (status, _, body, _) = send(
            client
                .put(api(&woo, "orders/999"))
                .basic_auth(woo.consumer_key(), Some(woo.consumer_secret()))
                .json(&json!({"status": "completed"})),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 400}})
        );
        // Bad JSON.
        let (status, _, body, _) = send(
            client
                .put(api(&woo, "orders/101"))
                .basic_auth(woo.consumer_key(), Some(woo.consumer_secret()))
                .header("content-type", "application/json")
                .body("{\"status\":"),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("rest_invalid_json"))
        );
        assert_eq!(woo.stats().changes, 2);
    }

    #[tokio::test]
    async fn order_notes() {
        let (woo, client) = started().await;
        let post = |path: &str, body: Value| {
            client
                .post(api(&woo, path))
                .basic_auth(woo.consumer_key(), Some(woo.consumer_secret()))
                .json(&body)
        };
        let (status, headers, body, _) = send(post(
            "orders/101/notes",
            json!({"note": "Your order is on its way — café", "customer_note": true}),
        ))
        .await;
        assert_eq!(status, 201);
        let id = body["id"].as_u64().expect("note id");
        assert_eq!(body["note"], "Your order is on its way — café");
        assert_eq!(body["customer_note"], true);
        assert_eq!(body["author"], "WooCommerce");
        assert!(body["date_created"]
            .as_str()
            .is_some_and(|d| d.len() == 19 && d.as_bytes()[10] == b'T'));
        assert_eq!(body["date_created"], body["date_created_gmt"]);
        assert_eq!(
            headers[header::LOCATION],
            format!("{}/wp-json/wc/v3/orders/101/notes/{id}", woo.url()).as_str()
        );
        let (status, _, _, _) = send(post(
            "orders/101/notes",
            json!({"note": "Checked the address."}),
        ))
        .await;
        assert_eq!(status, 201);

        let (status, _, body) = get(&woo, &client, "orders/101/notes").await;
        assert_eq!(status, 200);
        assert_eq!(body.as_array().map(Vec::len), Some(2));
        assert_eq!(body[0]["note"], "Checked the address.");
        assert_eq!(body[0]["customer_note"], false);
        assert_eq!(body[1]["id"], id);
        let (_, _, body) = get(&woo, &client, "orders/101/notes?type=customer").await;
        assert_eq!(body.as_array().map(Vec::len), Some(1));
        assert_eq!(body[0]["id"], id);
        let (_, _, body) = get(&woo, &client, "orders/101/notes?type=internal").await;
        assert_eq!(body[0]["note"], "Checked the address.");
        let (status, _, body) = get(&woo, &client, "orders/101/notes?type=private").await;
        assert_eq!(status, 400);
        assert_eq!(
            body["data"]["params"]["type"],
            "type is not one of any, customer, and internal."
        );

        // Errors.
        let (status, _, body, _) =
            send(post("orders/101/notes", json!({"customer_note": true}))).await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"code": "rest_missing_callback_param", "message": "Missing parameter(s): note",
                "data": {"status": 400, "params": ["note"]}})
        );
        let (status, _, body, _) = send(post("orders/999/notes", json!({"note": "x"}))).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"code": "woocommerce_rest_order_invalid_id", "message": "Invalid order ID.", "data": {"status": 404}})
        );
        let (status, _, body) = get(&woo, &client, "orders/999/notes").await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Invalid order ID.");

        assert_eq!(woo.stats().notes_added, 2);
        let notes = woo.notes(101);
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[1]["note"], "Your order is on its way — café");
    }

    #[tokio::test]
    async fn shipment_trackings() {
        let (woo, client) = started().await;
        woo.put_tracking(
            101,
            json!({"tracking_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "tracking_provider": "USPS",
                "tracking_link": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223344556677",
                "tracking_number": "9400111899223344556677", "date_shipped": "2026-03-02"}),
        );
        let url = |id: &str| {
            format!(
                "{}/wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings",
                woo.url()
            )
        };
        let auth = |req: reqwest::RequestBuilder| {
            req.basic_auth(woo.consumer_key(), Some(woo.consumer_secret()))
        };
        let (status, _, body, _) = send(auth(client.get(url("101")))).await;
        assert_eq!(status, 200);
        assert_eq!(body.as_array().map(Vec::len), Some(1));
        assert_eq!(body[0]["tracking_provider"], "USPS");
        assert_eq!(body[0]["tracking_number"], "9400111899223344556677");
        assert_eq!(body[0]["date_shipped"], "2026-03-02");
        assert_eq!(body[0]["tracking_id"], "a1b2c3d4e5f60718293a4b5c6d7e8f90");
        assert_eq!(
            body[0]["_links"]["up"][0]["href"],
            format!("{}/wp-json/wc/v3/orders/101", woo.url())
        );
        // Stored on the order as the extension stores it.
        let order = woo.order(101).expect("order");
        let meta = &order["meta_data"][0];
        assert_eq!(meta["key"], TRACKING_META_KEY);
        assert_eq!(meta["value"][0]["tracking_provider"], "usps");
        assert_eq!(meta["value"][0]["custom_tracking_provider"], "");
        assert_eq!(meta["value"][0]["date_shipped"], "1772409600");
        // No trackings yet: an empty list.
        woo.put_order(
            spec(
                102,
                "x@example.com",
                "processing",
                "2026-03-01T09:00:00Z",
                "2026-03-01T09:00:00Z",
            )
            .json(),
        );
        let (status, _, body, _) = send(auth(client.get(url("102")))).await;
        assert_eq!((status, body), (200, json!([])));
        let (status, _, body, _) = send(auth(client.get(url("999")))).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"code": "woocommerce_rest_order_invalid_id", "message": "Invalid order ID.", "data": {"status": 404}})
        );
        let (status, _, body, _) = send(auth(client.get(url("abc")))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("rest_no_route"))
        );
        let (status, _, body, _) = send(client.get(url("101"))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("woocommerce_rest_cannot_view"))
        );
        let (status, _, body, _) = send(
            client
                .get(url("101"))
                .basic_auth(woo.consumer_key(), Some("cs_bad")),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("woocommerce_rest_authentication_error"))
        );
    }

    #[tokio::test]
    async fn per_page_bounds() {
        let (woo, client) = started().await;
        let (status, _, body) = get(&woo, &client, "orders?per_page=101").await;
        assert_eq!(status, 400);
        assert_eq!(body["code"], "rest_invalid_param");
        assert_eq!(body["message"], "Invalid parameter(s): per_page");
        assert_eq!(body["data"]["status"], 400);
        assert_eq!(
            body["data"]["params"],
            json!({"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"})
        );
        assert_eq!(
            body["data"]["details"]["per_page"]["code"],
            "rest_out_of_bounds"
        );
        let (status, _, body) = get(&woo, &client, "orders?per_page=0").await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Invalid parameter(s): per_page"))
        );
        let (status, _, body) = get(&woo, &client, "orders?per_page=ten&page=0").await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "Invalid parameter(s): page, per_page");
        assert_eq!(
            body["data"]["params"]["per_page"],
            "per_page is not of type integer."
        );
        assert_eq!(
            body["data"]["params"]["page"],
            "page must be greater than or equal to 1"
        );
        // Validation comes before the permission check.
        let (status, _, _, _) = send(client.get(api(&woo, "orders?per_page=101"))).await;
        assert_eq!(status, 400);
        let (status, headers, _) = get(&woo, &client, "orders?per_page=100").await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-wp-total"], "1");
    }

    #[tokio::test]
    async fn faults() {
        let (woo, client) = started().await;
        woo.set_fault(Fault::RateLimited);
        let (status, headers, body) = get(&woo, &client, "orders/101").await;
        assert_eq!(status, 429);
        assert_eq!(headers[header::RETRY_AFTER], "2");
        assert!(headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("application/json"));
        assert_eq!(body["data"]["status"], 429);
        // Before authentication.
        let (status, _, _, _) = send(client.get(api(&woo, "orders/101"))).await;
        assert_eq!(status, 429);
        woo.set_fault(Fault::Unavailable);
        let (status, _, _) = get(&woo, &client, "orders/101").await;
        assert_eq!(status, 503);
        woo.set_fault(Fault::Hang);
        let err = client
            .get(api(&woo, "orders/101"))
            .basic_auth(woo.consumer_key(), Some(woo.consumer_secret()))
            .timeout(Duration::from_millis(200))
            .send()
            .await
            .expect_err("hangs");
        assert!(err.is_timeout());
        woo.set_fault(Fault::None);
        let (status, _, _) = get(&woo, &client, "orders/101").await;
        assert_eq!(status, 200);
        assert_eq!(
            woo.stats(),
            Stats {
                requests: 1,
                lookups: 1,
                ..Stats::default()
            }
        );
    }

    #[test]
    fn php_json_escapes_like_php() {
        assert_eq!(
            php_json(&json!({"a": "x/y é 😀"})),
            "{\"a\":\"x\\/y \\u00e9 \\ud83d\\ude00\"}"
        );
        assert_eq!(wp_list(&["a", "b"]), "a and b");
        assert_eq!(url_decode("a+b%2Bc%zz"), "a b+c%zz");
    }
}
