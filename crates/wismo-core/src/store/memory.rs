//! An in-memory [`super::OrderService`] loaded from Shopify order JSON.
//!
//! [`InMemoryStore`] keeps normalised [`Order`]s behind a `RwLock`, so one
//! store can be shared (`Arc<InMemoryStore>`) by many conversations; cancels,
//! address changes and cases mutate it in place. It is meant for demos, tests
//! and small stores that export their orders as JSON.
//!
//! Lookups:
//! * order numbers match with or without `#` and surrounding spaces, and
//!   case-insensitively (`#eu-1001` finds `EU-1001`);
//! * emails match the order email or the customer email, case-insensitively;
//! * lists are newest first.
//!
//! [`InMemoryStore::set_unavailable`] makes every [`OrderService`] call fail
//! with [`StoreError::Unavailable`], so tests can drive the hand-off path.
//!
//! # The demo store
//!
//! [`InMemoryStore::demo()`] loads `data/store/demo_orders.json`, a store in
//! Shopify REST format whose dates are relative to [`DEMO_NOW`]
//! (2026-11-24T12:00:00Z). Every state a shopper can be in is present:
//!
//! | # | state | email | zip | country | carrier, tracking |
//! |---|---|---|---|---|---|
//! | 1001 | delivered (weeks ago) | emma.johnson@example.com | 97214 | US | USPS 9400111899210483372909 |
//! | 1002 | delivered (weeks ago) | liam.smith@example.com | 78704 | US | UPS 1ZV8E4710134566208 |
//! | 1003 | delivered (weeks ago) | sofia.garcia@example.com | 28013 | ES | DHL Express 4982986304 |
//! | 1004 | returned and refunded | noah.williams@example.com | 60614 | US | UPS 1ZV8E4710136032405 |
//! | 1005 | delivered (weeks ago) | olivia.brown@example.com | EC1M 5PA | GB | Royal Mail RN262280500GB |
//! | 1006 | delivered damaged, fully refunded | mia.davis@example.com | 11201 | US | FedEx 704856062604 |
//! | 1007 | delivered (weeks ago) | james.wilson@example.com | 98101 | US | FedEx 704860889708 |
//! | 1008 | delivered, partially refunded | ava.martinez@example.com | 80202 | US | USPS 9400111899210556683208 |
//! | 1009 | delivered (weeks ago) | lukas.mueller@example.com | 10115 | DE | DHL Express 4024758905 |
//! | 1010 | delivered (weeks ago) | chloe.tremblay@example.com | M5T 2G4 | CA | Canada Post LM165037002CA |
//! | 1011 | one item returned, partially refunded | emma.johnson@example.com | 97214 | US | UPS 1ZV8E4710141164101 |
//! | 1012 | cancelled after payment, refunded | ethan.moore@example.com | 02116 | US | — |
//! | 1013 | delivered (weeks ago) | liam.smith@example.com | 78704 | US | FedEx 704889852309 |
//! | 1014 | delivered (weeks ago) | isabella.taylor@example.com | 92101 | US | USPS 9400111899210619520600 |
//! | 1015 | delivered (weeks ago) | noah.williams@example.com | 60614 | US | UPS 1ZV8E4710144096500 |
//! | 1016 | delivered (weeks ago) | mateo.hernandez@example.com | 33135 | US | USPS 9400111899210640466403 |
//! | 1017 | fulfilled without tracking, delivered by local courier | alex.kim@example.com | 85004 | US | — |
//! | 1018 | delivered (weeks ago) | mia.davis@example.com | 11201 | US | UPS 1ZV8E4710146295809 |
//! | 1019 | cancelled before payment (voided) | james.wilson@example.com | 98101 | US | — |
//! | 1020 | delivered (weeks ago) | ava.martinez@example.com | 80202 | US | FedEx 704923642003 |
//! | 1021 | returned and refunded | olivia.brown@example.com | EC1M 5PA | GB | Royal Mail RN346058107GB |
//! | 1022 | delivered (weeks ago) | emma.johnson@example.com | 97214 | US | USPS 9400111899210703303805 |
//! | 1023 | delivered, partially refunded | liam.smith@work.example.com | 78704 | US | UPS 1ZV8E4710149961306 |
//! | 1024 | delivered | noah.williams@example.com | 60614 | US | FedEx 704942950406 |
//! | 1025 | delivered | chloe.tremblay@example.com | M5T 2G4 | CA | Canada Post LM212042502CA |
//! | 1026 | delivered | ethan.moore@example.com | 02116 | US | USPS 9400111899210745195406 |
//! | 1027 | lost in transit, fully refunded | mateo.hernandez@example.com | 33135 | US | UPS 1ZV8E4710152893704 |
//! | 1028 | delivered | isabella.taylor@example.com | 92101 | US | UPS 1ZV8E4710153626803 |
//! | 1029 | delivered | sofia.garcia@example.com | 28013 | ES | DHL Express 4164000901 |
//! | 1030 | delivered | james.wilson@example.com | 98101 | US | FedEx 704971913007 |
//! | 1031 | delivered, shopper says it never came | mia.davis@example.com | 11201 | US | UPS 1ZV8E4710155826101 |
//! | 1032 | in transit, delayed | ava.martinez@example.com | 80202 | US | FedEx 704981567202 |
//! | 1033 | in transit | lukas.mueller@example.com | 10115 | DE | DHL Express 4191849303 |
//! | 1034 | delivery exception (failure) | noah.williams@example.com | 60614 | US | UPS 1ZV8E4710158025408 |
//! | 1035 | delivered (this week) | liam.smith@example.com | 78704 | US | USPS 9400111899210839451500 |
//! | 1036 | delivered (this week) | emma.johnson@example.com | 97214 | US | USPS 9400111899210849924407 |
//! | 1037 | delivery attempted | ethan.moore@example.com | 02116 | US | FedEx 705005702704 |
//! | 1038 | in transit | olivia.brown@example.com | EC1M 5PA | GB | Royal Mail RN435071808GB |
//! | 1039 | partially shipped (1 of 3 items waiting) | isabella.taylor@example.com | 92101 | US | USPS 9400111899210881343105 |
//! | 1040 | out for delivery | mateo.hernandez@example.com | 33135 | US | USPS 9400111899210891816002 |
//! | 1041 | in transit | chloe.tremblay@example.com | M5T 2G4 | CA | Canada Post LM262181705CA |
//! | 1042 | in transit | emma.johnson@example.com | 97214 | US | UPS 1ZV8E4710163890204 |
//! | 1043 | out for delivery | james.wilson@example.com | 98101 | US | UPS 1ZV8E4710164623303 |
//! | 1044 | ready for pickup at carrier | mia.davis@example.com | 11201 | US | FedEx 705039492404 |
//! | 1045 | label printed | ava.martinez@example.com | 80202 | US | USPS 9400111899210944180500 |
//! | 1046 | shipment confirmed | liam.smith@example.com | 78704 | US | FedEx 705049146603 |
//! | 1047 | label purchased | noah.williams@example.com | 60614 | US | UPS 1ZV8E4710167555702 |
//! | 1048 | paid, processing (unfulfilled) | emma.johnson@example.com | 97214 | US | — |
//! | 1049 | paid, processing (unfulfilled) | sofia.garcia@example.com | 28013 | ES | — |
//! | 1050 | unpaid (pending) | liam.smith@example.com | 78704 | US | — |
//! | 1051 | payment authorized, unfulfilled | ethan.moore@example.com | 02116 | US | — |
//! | 1052 | paid, processing (unfulfilled) | jordan.lee@example.com | 37203 | US | — |
//! | 1053 | paid, processing (unfulfilled) | mateo.hernandez@example.com | 33135 | US | — |
//!
//! Customers with several orders: emma.johnson (1001, 1011, 1022, 1036, 1042,
//! 1048), liam.smith (1002, 1013, 1023, 1035, 1046, 1050), noah.williams (1004,
//! 1015, 1024, 1034, 1047), mia.davis, james.wilson, ava.martinez,
//! ethan.moore, mateo.hernandez (4 each), sofia.garcia, olivia.brown,
//! chloe.tremblay, isabella.taylor (3 each). Sofía García (Madrid) and Mateo
//! Hernández (Miami) have `customer_locale` `es`. 1017 and 1052 are guest
//! checkouts (no customer record). Order 1022 carries its email in mixed case;
//! order 1023 was placed with liam.smith@work.example.com but belongs to the
//! customer liam.smith@example.com. 1047 also has a cancelled (voided) label
//! fulfillment, which is dropped on load. Amounts: GB orders in GBP, ES/DE in
//! EUR, CA in CAD, the rest in USD.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use chrono::{DateTime, Utc};

use super::shopify::{self, Decimal, ParseError};
use super::{
    Address, Case, FinancialStatus, FulfillmentStatus, Order, OrderService, Refund, StoreError,
};

/// The reference "now" the demo data was written against.
pub const DEMO_NOW: &str = "2026-11-24T12:00:00Z";

/// [`DEMO_NOW`] as a timestamp.
pub fn demo_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(DEMO_NOW)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The demo store's JSON with every timestamp moved by the whole days between
/// [`DEMO_NOW`] and `now` (times of day kept). At `now` = [`DEMO_NOW`] it is
/// the file as written.
///
/// The days are counted on the calendar of `tz`, the time zone the shoppers
/// are answered in: at 8 pm in New York (1 am UTC the next day) an order
/// due "tomorrow" in the story is due tomorrow in New York.
pub fn demo_json_at(now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let day = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    let days = (day(now) - day(demo_now())).num_days();
    if days == 0 {
        return DEMO_JSON.to_string();
    }
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(DEMO_JSON) else {
        return DEMO_JSON.to_string();
    };
    shift_dates(&mut doc, chrono::Duration::days(days));
    doc.to_string()
}

/// Moves every RFC 3339 timestamp string in `v` by `by`.
fn shift_dates(v: &mut serde_json::Value, by: chrono::Duration) {
    match v {
        serde_json::Value::String(s) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                *s = (t + by).to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| shift_dates(i, by)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|i| shift_dates(i, by)),
        _ => {}
    }
}

const DEMO_JSON: &str = include_str!("../../data/store/demo_orders.json");
const DEMO_FILE: &str = "data/store/demo_orders.json";

/// Why an order file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}{}: {message}", position(*line, *column), order_part(*order_index, field.as_deref()))]
pub struct LoadError {
    /// The file name given to the loader.
    pub file: String,
    /// 0-based index in the `orders` array, when one order is at fault.
    pub order_index: Option<usize>,
    /// Field path inside that order, e.g. `created_at` or `line_items[1]`.
    pub field: Option<String>,
    /// 1-based line and column, when the text is not valid JSON.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

fn order_part(index: Option<usize>, field: Option<&str>) -> String {
    match (index, field) {
        (Some(i), Some(f)) => format!(": order {i}, field `{f}`"),
        (Some(i), None) => format!(": order {i}"),
        _ => String::new(),
    }
}

impl LoadError {
    fn new(file: &str, e: ParseError) -> LoadError {
        let mut out = LoadError {
            file: file.to_string(),
            order_index: None,
            field: None,
            line: None,
            column: None,
            message: String::new(),
        };
        match e {
            ParseError::Json {
                line,
                column,
                message,
            } => {
                out.line = Some(line);
                out.column = Some(column);
                out.message = message;
            }
            ParseError::Shape(message) => out.message = message,
            ParseError::Order {
                index,
                field,
                message,
            } => {
                out.order_index = Some(index);
                out.field = field;
                out.message = message;
            }
        }
        out
    }
}

#[derive(Debug, Default)]
struct Inner {
    orders: Vec<Order>,
    cases: Vec<Case>,
}

/// Orders in memory; see the module docs.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    inner: RwLock<Inner>,
    unavailable: AtomicBool,
}

/// Normalises a shopper-typed order number: trims, drops leading `#`s.
/// The form order numbers are matched in: no surrounding spaces, no `#`,
/// lower case. Every store matches numbers this way.
pub fn normalise_number(number: &str) -> String {
    number.trim().trim_start_matches('#').trim().to_lowercase()
}

/// Orders newest first, ties by number descending: the order every store lists in.
pub fn newest_first(mut orders: Vec<Order>) -> Vec<Order> {
    orders.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.number.cmp(&a.number))
    });
    orders
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("the order store is in an inconsistent state".to_string())
}

impl InMemoryStore {
    /// A store holding `orders` (duplicates by number: the first one wins on lookup).
    pub fn new(orders: Vec<Order>) -> InMemoryStore {
        InMemoryStore {
            inner: RwLock::new(Inner {
                orders,
                cases: Vec::new(),
            }),
            unavailable: AtomicBool::new(false),
        }
    }

    /// Loads a Shopify export (`{"orders": [...]}`); `file` names it in errors.
    pub fn from_shopify_json(src: &str, file: &str) -> Result<InMemoryStore, LoadError> {
        shopify::parse_orders(src)
            .map(InMemoryStore::new)
            .map_err(|e| LoadError::new(file, e))
    }

    /// The demo store (see the module docs for its orders).
    pub fn demo() -> Result<InMemoryStore, LoadError> {
        InMemoryStore::from_shopify_json(DEMO_JSON, DEMO_FILE)
    }

    /// The demo store as of `now`: every date moved by the whole days between
    /// [`DEMO_NOW`] and `now`, so the demo tells the same story on any day
    /// (an order due tomorrow is due tomorrow whenever the demo is loaded).
    /// Days are counted in `tz` (see [`demo_json_at`]).
    pub fn demo_at(now: DateTime<Utc>, tz: chrono_tz::Tz) -> Result<InMemoryStore, LoadError> {
        InMemoryStore::from_shopify_json(&demo_json_at(now, tz), DEMO_FILE)
    }

    /// The demo store's raw JSON.
    pub fn demo_json() -> &'static str {
        DEMO_JSON
    }

    /// Every order, in file order (not affected by [`Self::set_unavailable`]).
    pub fn orders(&self) -> Vec<Order> {
        match self.inner.read() {
            Ok(g) => g.orders.clone(),
            Err(p) => p.into_inner().orders.clone(),
        }
    }

    /// Every case opened so far, oldest first.
    pub fn cases(&self) -> Vec<Case> {
        match self.inner.read() {
            Ok(g) => g.cases.clone(),
            Err(p) => p.into_inner().cases.clone(),
        }
    }

    /// When `true`, every [`OrderService`] call returns [`StoreError::Unavailable`].
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn check_available(&self) -> Result<(), StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(
                "the order store is not responding".to_string(),
            ))
        } else {
            Ok(())
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> T) -> Result<T, StoreError> {
        self.check_available()?;
        let g = self.inner.read().map_err(|_| poisoned())?;
        Ok(f(&g))
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_available()?;
        let mut g = self.inner.write().map_err(|_| poisoned())?;
        f(&mut g)
    }

    /// Applies `f` to the order with `number`, if there is one.
    fn with_order<T>(
        &self,
        number: &str,
        f: impl FnOnce(&mut Order) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let key = normalise_number(number);
        self.write(|inner| {
            match inner
                .orders
                .iter_mut()
                .find(|o| !key.is_empty() && o.number.to_lowercase() == key)
            {
                Some(order) => f(order),
                None => Err(StoreError::NotFound(display_number(number))),
            }
        })
    }
}

/// The number as a shopper would write it back: `#1042`.
fn display_number(number: &str) -> String {
    let n: String = number
        .trim()
        .trim_start_matches('#')
        .chars()
        .take(40)
        .collect();
    format!("#{n}")
}

/// Why an order can no longer be changed.
enum Locked {
    Cancelled(DateTime<Utc>),
    Shipped { fully: bool },
}

fn locked(order: &Order) -> Option<Locked> {
    if let Some(at) = order.cancelled_at {
        return Some(Locked::Cancelled(at));
    }
    let fully = order.fulfillment_status == FulfillmentStatus::Fulfilled;
    if !order.fulfillments.is_empty() || order.fulfillment_status != FulfillmentStatus::Unfulfilled
    {
        return Some(Locked::Shipped { fully });
    }
    None
}

/// Whether `order` may be cancelled (not cancelled, nothing shipped); the
/// refusal says why, for the shopper. Every order service applies it
/// before asking its platform.
pub fn may_cancel(order: &Order) -> Result<(), StoreError> {
    match locked(order) {
        Some(Locked::Cancelled(at)) => Err(StoreError::NotAllowed(format!(
            "order #{} was already cancelled on {}",
            order.number,
            day(at)
        ))),
        Some(Locked::Shipped { fully }) => Err(StoreError::NotAllowed(format!(
            "order #{} {}, so it can't be cancelled any more; it can be returned once it arrives",
            order.number,
            shipped_words(fully)
        ))),
        None => Ok(()),
    }
}

/// Whether `order`'s shipping address may become `address` (not
/// cancelled, nothing shipped, a street and a city).
pub fn may_change_address(order: &Order, address: &Address) -> Result<(), StoreError> {
    match locked(order) {
        Some(Locked::Cancelled(at)) => {
            return Err(StoreError::NotAllowed(format!(
                "order #{} was cancelled on {}, so its shipping address can't be changed",
                order.number,
                day(at)
            )))
        }
        Some(Locked::Shipped { fully }) => {
            return Err(StoreError::NotAllowed(format!(
                "order #{} {}, so its shipping address can't be changed any more",
                order.number,
                shipped_words(fully)
            )))
        }
        None => {}
    }
    if address.address1.trim().is_empty() || address.city.trim().is_empty() {
        return Err(StoreError::NotAllowed(
            "the new address needs at least a street and a city".to_string(),
        ));
    }
    Ok(())
}

fn shipped_words(fully: bool) -> &'static str {
    if fully {
        "has already shipped"
    } else {
        "has already been partly shipped"
    }
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%B %-d, %Y").to_string()
}

impl OrderService for InMemoryStore {
    #[tracing::instrument(level = "debug", name = "store.find_order", skip_all)]
    fn find_order(&self, number: &str) -> Result<Option<Order>, StoreError> {
        let key = normalise_number(number);
        self.read(|inner| {
            if key.is_empty() {
                return None;
            }
            inner
                .orders
                .iter()
                .find(|o| {
                    if o.number.is_ascii() {
                        o.number.eq_ignore_ascii_case(&key)
                    } else {
                        o.number.to_lowercase() == key
                    }
                })
                .cloned()
        })
    }

    #[tracing::instrument(level = "debug", name = "store.orders_by_email", skip_all)]
    fn orders_by_email(&self, email: &str) -> Result<Vec<Order>, StoreError> {
        let key = email.trim().to_lowercase();
        let found = self.read(|inner| {
            if key.is_empty() {
                return Vec::new();
            }
            inner
                .orders
                .iter()
                .filter(|o| {
                    o.email.as_deref().is_some_and(|e| e.to_lowercase() == key)
                        || o.customer
                            .as_ref()
                            .and_then(|c| c.email.as_deref())
                            .is_some_and(|e| e.to_lowercase() == key)
                })
                .cloned()
                .collect()
        })?;
        Ok(newest_first(found))
    }

    #[tracing::instrument(level = "debug", name = "store.orders_by_customer", skip_all)]
    fn orders_by_customer(&self, customer_id: &str) -> Result<Vec<Order>, StoreError> {
        let key = customer_id.trim();
        let found = self.read(|inner| {
            if key.is_empty() {
                return Vec::new();
            }
            inner
                .orders
                .iter()
                .filter(|o| o.customer.as_ref().is_some_and(|c| c.id == key))
                .cloned()
                .collect()
        })?;
        Ok(newest_first(found))
    }

    /// Cancels an unshipped order. Refused ([`StoreError::NotAllowed`]) when
    /// it is already cancelled or any part has a fulfillment.
    ///
    /// Sets `cancelled_at` and `cancel_reason` (`"customer"` when `reason` is
    /// blank). The financial status stays as it was (a pending or authorized
    /// payment is simply never captured), except that a **paid** order becomes
    /// `Refunded` and gets one refund of the full total for every line item.
    #[tracing::instrument(level = "debug", name = "store.cancel_order", skip_all)]
    fn cancel_order(
        &self,
        number: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        self.with_order(number, |order| {
            may_cancel(order)?;
            let reason = reason.trim();
            let reason: String = if reason.is_empty() {
                "customer".to_string()
            } else {
                reason.chars().take(200).collect()
            };
            order.cancelled_at = Some(now);
            order.cancel_reason = Some(reason.clone());
            if order.financial_status == FinancialStatus::Paid {
                let amount = Decimal::parse(&order.total_price)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| order.total_price.clone());
                order.refunds.push(Refund {
                    status: Default::default(),
                    id: format!("{}-R{}", order.number, order.refunds.len() + 1),
                    created_at: now,
                    amount,
                    note: Some(format!("Order cancelled: {reason}")),
                    line_items: order
                        .line_items
                        .iter()
                        .map(|l| (l.id.clone(), l.quantity))
                        .collect(),
                });
                order.financial_status = FinancialStatus::Refunded;
            }
            Ok(order.clone())
        })
    }

    /// Replaces the address of an unshipped, uncancelled order. The new
    /// address needs a street (`address1`) and a city.
    #[tracing::instrument(level = "debug", name = "store.change_shipping_address", skip_all)]
    fn change_shipping_address(&self, number: &str, address: Address) -> Result<Order, StoreError> {
        self.with_order(number, |order| {
            may_change_address(order, &address)?;
            order.shipping_address = Some(address);
            Ok(order.clone())
        })
    }

    /// Opens case `CASE-0001`, `CASE-0002`, … If an order number is given it
    /// must exist ([`StoreError::NotFound`] otherwise) and is stored without `#`.
    #[tracing::instrument(level = "debug", name = "store.open_case", skip_all)]
    fn open_case(
        &self,
        order_number: Option<&str>,
        kind: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<Case, StoreError> {
        self.write(|inner| {
            let order_number = match order_number.map(normalise_number) {
                Some(key) if !key.is_empty() => {
                    match inner.orders.iter().find(|o| o.number.to_lowercase() == key) {
                        Some(o) => Some(o.number.clone()),
                        None => {
                            return Err(StoreError::NotFound(display_number(
                                order_number.unwrap_or_default(),
                            )))
                        }
                    }
                }
                _ => None,
            };
            let case = Case {
                id: format!("CASE-{:04}", inner.cases.len() + 1),
                order_number,
                kind: kind.trim().to_string(),
                description: description.to_string(),
                created_at: now,
            };
            inner.cases.push(case.clone());
            Ok(case)
        })
    }
}
