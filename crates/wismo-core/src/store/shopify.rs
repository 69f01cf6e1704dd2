//! Shopify Admin REST API order JSON (`{"orders": [...]}`) and its conversion to [`super::Order`].
//!
//! The serde types below mirror the fields of the REST `Order`, `Fulfillment`
//! and `Refund` resources that the assistant needs. They are lenient the way
//! Shopify is:
//!
//! * unknown fields are ignored, `null` and missing fields become `None` / empty;
//! * ids may be JSON numbers or strings (they are kept as strings);
//! * money may be a decimal string (`"49.99"`, Shopify's form) or a number;
//! * `tags` may be Shopify's comma-separated string or an array of strings;
//! * unknown `financial_status` values become [`FinancialStatus::Unknown`] and
//!   unknown `shipment_status` values become `None` instead of failing.
//!
//! and strict where it matters: an order without `name` or `created_at`, a
//! timestamp that is not RFC 3339, or a value of the wrong type is an error
//! naming the order's index and the field ([`ParseError::Order`]).
//!
//! **wismo extension.** Shopify REST fulfillments do not carry delivery
//! dates. A fulfillment object may carry two optional extra fields,
//! `estimated_delivery_at` and `delivered_at` (RFC 3339), which the demo
//! store uses; real exports simply leave them out and the converted
//! [`Fulfillment`] has `None` there.
//!
//! Fulfillments whose `status` is `"cancelled"` (a voided shipment) are
//! dropped during conversion: their tracking numbers are no longer valid.

use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;

use super::{
    Address, Customer, FinancialStatus, Fulfillment, FulfillmentStatus, LineItem, Order, Refund,
    ShipmentStatus,
};

// ---------------------------------------------------------------------------
// Lenient scalar deserializers
// ---------------------------------------------------------------------------

/// An id or money value: a string, or a number kept in its JSON spelling.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_finite() {
                Ok(Some(v.to_string()))
            } else {
                Err(E::custom("a number that is not finite"))
            }
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
    }
    d.deserialize_any(V)
}

/// `null` or missing -> empty vector.
pub(crate) fn null_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Shopify's comma-separated `tags` string, or an array of strings.
fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tags {
        One(String),
        Many(Vec<String>),
    }
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    Ok(match Option::<Tags>::deserialize(d)? {
        None => Vec::new(),
        Some(Tags::One(s)) => split(&s),
        Some(Tags::Many(v)) => v.iter().flat_map(|s| split(s)).collect(),
    })
}

// ---------------------------------------------------------------------------
// Serde types (Shopify REST shapes)
// ---------------------------------------------------------------------------

/// A whole export: `{"orders": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ShopifyExport {
    #[serde(default, deserialize_with = "null_vec")]
    pub orders: Vec<ShopifyOrder>,
}

/// One REST `Order` (only the fields the assistant uses).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyOrder {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// `"#1042"`.
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub order_number: Option<String>,
    pub email: Option<String>,
    pub contact_email: Option<String>,
    pub created_at: Option<String>,
    /// When Shopify last changed the order (webhooks use it for ordering).
    pub updated_at: Option<String>,
    pub currency: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub total_price: Option<String>,
    /// `pending`, `authorized`, `partially_paid`, `paid`, `partially_refunded`,
    /// `refunded`, `voided` (others become `Unknown`).
    pub financial_status: Option<String>,
    /// `null` (unfulfilled), `partial`, `fulfilled`, `restocked`.
    pub fulfillment_status: Option<String>,
    pub cancelled_at: Option<String>,
    /// `customer`, `fraud`, `inventory`, `declined`, `other`.
    pub cancel_reason: Option<String>,
    pub customer: Option<ShopifyCustomer>,
    #[serde(deserialize_with = "null_vec")]
    pub line_items: Vec<ShopifyLineItem>,
    pub shipping_address: Option<ShopifyAddress>,
    #[serde(deserialize_with = "null_vec")]
    pub fulfillments: Vec<ShopifyFulfillment>,
    #[serde(deserialize_with = "null_vec")]
    pub refunds: Vec<ShopifyRefund>,
    #[serde(deserialize_with = "tags")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "null_vec")]
    pub note_attributes: Vec<ShopifyNoteAttribute>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyCustomer {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyLineItem {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub title: Option<String>,
    /// Shopify's "title - variant" display name; used when `title` is missing.
    pub name: Option<String>,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<u32>,
    #[serde(deserialize_with = "lenient_string")]
    pub price: Option<String>,
    pub fulfillment_status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyAddress {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyFulfillment {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// The order's platform id (set on `fulfillments/*` webhooks).
    #[serde(deserialize_with = "lenient_string")]
    pub order_id: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// `pending`, `open`, `success`, `cancelled`, `error`, `failure`.
    pub status: Option<String>,
    pub tracking_company: Option<String>,
    pub tracking_number: Option<String>,
    #[serde(deserialize_with = "null_vec")]
    pub tracking_numbers: Vec<String>,
    pub tracking_url: Option<String>,
    #[serde(deserialize_with = "null_vec")]
    pub tracking_urls: Vec<String>,
    /// `label_printed`, `label_purchased`, `attempted_delivery`,
    /// `ready_for_pickup`, `confirmed`, `in_transit`, `out_for_delivery`,
    /// `delivered`, `failure` (and `delayed`, `carrier_picked_up`).
    pub shipment_status: Option<String>,
    #[serde(deserialize_with = "null_vec")]
    pub line_items: Vec<ShopifyFulfillmentLineItem>,
    /// wismo extension (not in Shopify REST): carrier's delivery estimate.
    pub estimated_delivery_at: Option<String>,
    /// wismo extension (not in Shopify REST): when it was delivered.
    pub delivered_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyFulfillmentLineItem {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub quantity: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyRefund {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// The order's platform id (set on `refunds/create` webhooks).
    #[serde(deserialize_with = "lenient_string")]
    pub order_id: Option<String>,
    pub created_at: Option<String>,
    pub note: Option<String>,
    #[serde(deserialize_with = "null_vec")]
    pub refund_line_items: Vec<ShopifyRefundLineItem>,
    #[serde(deserialize_with = "null_vec")]
    pub transactions: Vec<ShopifyTransaction>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyRefundLineItem {
    #[serde(deserialize_with = "lenient_string")]
    pub line_item_id: Option<String>,
    pub quantity: Option<u32>,
    /// `no_restock`, `cancel`, `return`, `legacy_restock`.
    pub restock_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyTransaction {
    /// `refund` for refund transactions.
    pub kind: Option<String>,
    /// `success`, `pending`, `failure`, `error`.
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub amount: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShopifyNoteAttribute {
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub value: Option<String>,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why an export could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is not JSON (1-based line and column from the JSON parser).
    #[error("line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// The JSON is not an order export (e.g. no `orders` array).
    #[error("{0}")]
    Shape(String),
    /// One order is unusable. `index` is 0-based in the `orders` array;
    /// `field` is a path like `created_at` or `fulfillments[0].created_at`.
    #[error("order {index}{}: {message}", field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default())]
    Order {
        index: usize,
        field: Option<String>,
        message: String,
    },
}

struct FieldError {
    field: String,
    message: String,
}

fn field_err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// Parses an export and converts every order. Accepts `{"orders": [...]}`
/// (the REST list endpoint), `{"order": {...}}` (the single-order endpoint)
/// or a bare array of orders.
pub fn parse_orders(src: &str) -> Result<Vec<Order>, ParseError> {
    let value: Value = serde_json::from_str(src).map_err(|e| ParseError::Json {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match (map.remove("orders"), map.remove("order")) {
            (Some(Value::Array(items)), _) => items,
            (Some(Value::Null), _) => Vec::new(),
            (Some(_), _) => return Err(ParseError::Shape("`orders` is not an array".into())),
            (None, Some(one @ Value::Object(_))) => vec![one],
            _ => {
                return Err(ParseError::Shape(
                    "expected an object with an `orders` array".into(),
                ))
            }
        },
        _ => {
            return Err(ParseError::Shape(
                "expected an object with an `orders` array".into(),
            ))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            parse_order_value(item).map_err(|e| ParseError::Order {
                index,
                field: if e.field.is_empty() {
                    None
                } else {
                    Some(e.field)
                },
                message: e.message,
            })
        })
        .collect()
}

/// serde_json appends " at line L column C" to messages; we report those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn parse_order_value(item: Value) -> Result<Order, FieldError> {
    if !item.is_object() {
        return Err(field_err("", "an order must be a JSON object"));
    }
    let raw: ShopifyOrder = match serde_json::from_value(item.clone()) {
        Ok(raw) => raw,
        Err(e) => return Err(locate_type_error(&item, e.to_string())),
    };
    convert_order(&raw)
}

/// Finds which field of an order made deserialisation fail by re-trying
/// one field (and one array element) at a time.
fn locate_type_error(item: &Value, fallback: String) -> FieldError {
    let Value::Object(map) = item else {
        return field_err("", fallback);
    };
    for (key, val) in map {
        let one = |v: Value| {
            let mut m = serde_json::Map::new();
            m.insert(key.clone(), v);
            try_de::<ShopifyOrder>(Value::Object(m))
        };
        if let Err(msg) = one(val.clone()) {
            if let Value::Array(elems) = val {
                for (i, elem) in elems.iter().enumerate() {
                    if let Err(msg) = one(Value::Array(vec![elem.clone()])) {
                        return field_err(format!("{key}[{i}]"), msg);
                    }
                }
            }
            return field_err(key.clone(), msg);
        }
    }
    field_err("", fallback)
}

fn try_de<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn non_blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn owned(s: &Option<String>) -> Option<String> {
    non_blank(s).map(str::to_string)
}

fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            field_err(
                field,
                format!("not an RFC 3339 timestamp ({e}): {:?}", truncate(s, 40)),
            )
        })
}

fn opt_time(field: &str, s: &Option<String>) -> Result<Option<DateTime<Utc>>, FieldError> {
    non_blank(s).map(|s| parse_time(field, s)).transpose()
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

fn financial_status(s: Option<&str>) -> FinancialStatus {
    match s.map(str::to_ascii_lowercase).as_deref() {
        Some("pending") | Some("unpaid") => FinancialStatus::Pending,
        Some("authorized") => FinancialStatus::Authorized,
        Some("partially_paid") => FinancialStatus::PartiallyPaid,
        Some("paid") => FinancialStatus::Paid,
        Some("partially_refunded") => FinancialStatus::PartiallyRefunded,
        Some("refunded") => FinancialStatus::Refunded,
        Some("voided") => FinancialStatus::Voided,
        _ => FinancialStatus::Unknown,
    }
}

/// Maps a Shopify `shipment_status`; unknown strings give `None`.
pub fn shipment_status(s: &str) -> Option<ShipmentStatus> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "label_printed" => ShipmentStatus::LabelPrinted,
        "label_purchased" => ShipmentStatus::LabelPurchased,
        "confirmed" => ShipmentStatus::Confirmed,
        "in_transit" | "carrier_picked_up" => ShipmentStatus::InTransit,
        "out_for_delivery" => ShipmentStatus::OutForDelivery,
        "attempted_delivery" => ShipmentStatus::AttemptedDelivery,
        "ready_for_pickup" => ShipmentStatus::ReadyForPickup,
        "delayed" => ShipmentStatus::Delayed,
        "failure" => ShipmentStatus::Failure,
        "delivered" => ShipmentStatus::Delivered,
        _ => return None,
    })
}

fn convert_order(o: &ShopifyOrder) -> Result<Order, FieldError> {
    let name = non_blank(&o.name).ok_or_else(|| field_err("name", "missing order name"))?;
    let number = name.trim_start_matches('#').trim().to_string();
    if number.is_empty() {
        return Err(field_err("name", "order name has no number"));
    }
    let created_at = match non_blank(&o.created_at) {
        Some(s) => parse_time("created_at", s)?,
        None => return Err(field_err("created_at", "missing creation time")),
    };
    let email = non_blank(&o.email)
        .or_else(|| non_blank(&o.contact_email))
        .map(str::to_lowercase);

    let customer = o.customer.as_ref().and_then(|c| {
        owned(&c.id).map(|id| Customer {
            id,
            email: non_blank(&c.email).map(str::to_lowercase),
            first_name: owned(&c.first_name),
            last_name: owned(&c.last_name),
        })
    });

    let mut line_items = Vec::with_capacity(o.line_items.len());
    for (i, li) in o.line_items.iter().enumerate() {
        let title = non_blank(&li.title)
            .or_else(|| non_blank(&li.name))
            .ok_or_else(|| field_err(format!("line_items[{i}].title"), "missing title"))?;
        line_items.push(LineItem {
            id: owned(&li.id).unwrap_or_else(|| format!("{number}-{}", i + 1)),
            title: title.to_string(),
            variant_title: owned(&li.variant_title),
            sku: owned(&li.sku),
            quantity: li.quantity.unwrap_or(1),
            price: money_or_zero(&li.price, &format!("line_items[{i}].price"))?,
        });
    }

    let shipping_address = o.shipping_address.as_ref().map(|a| {
        let name = owned(&a.name).or_else(|| {
            let joined = [non_blank(&a.first_name), non_blank(&a.last_name)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
        Address {
            name,
            address1: owned(&a.address1).unwrap_or_default(),
            address2: owned(&a.address2),
            city: owned(&a.city).unwrap_or_default(),
            province: owned(&a.province),
            zip: owned(&a.zip),
            country: owned(&a.country),
            country_code: non_blank(&a.country_code).map(str::to_ascii_uppercase),
            phone: owned(&a.phone),
        }
    });

    let mut fulfillments = Vec::new();
    for (i, f) in o.fulfillments.iter().enumerate() {
        let path = |k: &str| format!("fulfillments[{i}].{k}");
        let fallback_id = || format!("{number}-F{}", i + 1);
        if let Some(f) = convert_fulfillment(f, &path, fallback_id, created_at)? {
            fulfillments.push(f);
        }
    }

    let mut returned = o.tags.iter().any(|t| t.eq_ignore_ascii_case("returned"));
    let mut refunds = Vec::with_capacity(o.refunds.len());
    for (i, r) in o.refunds.iter().enumerate() {
        let path = |k: &str| format!("refunds[{i}].{k}");
        let fallback_id = || format!("{number}-R{}", i + 1);
        let (refund, was_return) = convert_refund(r, &path, fallback_id, created_at)?;
        returned |= was_return;
        refunds.push(refund);
    }

    let fulfillment_status = match non_blank(&o.fulfillment_status)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("unfulfilled") | Some("null") => FulfillmentStatus::Unfulfilled,
        Some("partial") => FulfillmentStatus::Partial,
        Some("fulfilled") | Some("shipped") => FulfillmentStatus::Fulfilled,
        Some("restocked") => FulfillmentStatus::Restocked,
        Some(_) if fulfillments.is_empty() => FulfillmentStatus::Unfulfilled,
        Some(_) => FulfillmentStatus::Partial,
    };

    Ok(Order {
        number,
        id: owned(&o.id).unwrap_or_else(|| name.to_string()),
        email,
        customer,
        created_at,
        financial_status: financial_status(non_blank(&o.financial_status)),
        fulfillment_status,
        cancelled_at: opt_time("cancelled_at", &o.cancelled_at)?,
        cancel_reason: owned(&o.cancel_reason),
        currency: non_blank(&o.currency)
            .map(str::to_ascii_uppercase)
            .unwrap_or_else(|| "USD".to_string()),
        total_price: money_or_zero(&o.total_price, "total_price")?,
        line_items,
        shipping_address,
        fulfillments,
        refunds,
        returned,
    })
}

/// One REST fulfillment; `None` for a cancelled one (its tracking numbers
/// are void). `path` names a field for errors, `fallback_id` is used when
/// the fulfillment has no id, `order_created` when it has no times.
fn convert_fulfillment(
    f: &ShopifyFulfillment,
    path: &dyn Fn(&str) -> String,
    fallback_id: impl FnOnce() -> String,
    order_created: DateTime<Utc>,
) -> Result<Option<Fulfillment>, FieldError> {
    if non_blank(&f.status).is_some_and(|s| s.eq_ignore_ascii_case("cancelled")) {
        return Ok(None);
    }
    let updated_at = opt_time(&path("updated_at"), &f.updated_at)?;
    let created = opt_time(&path("created_at"), &f.created_at)?
        .or(updated_at)
        .unwrap_or(order_created);
    let listed = |many: &[String], one: &Option<String>| {
        let mut all: Vec<String> = many
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(t) = non_blank(one) {
            if !all.iter().any(|x| x == t) {
                all.insert(0, t.to_string());
            }
        }
        all
    };
    Ok(Some(Fulfillment {
        id: owned(&f.id).unwrap_or_else(fallback_id),
        created_at: created,
        updated_at,
        tracking_company: owned(&f.tracking_company),
        tracking_numbers: listed(&f.tracking_numbers, &f.tracking_number),
        tracking_urls: listed(&f.tracking_urls, &f.tracking_url),
        shipment_status: non_blank(&f.shipment_status).and_then(shipment_status),
        estimated_delivery_at: opt_time(&path("estimated_delivery_at"), &f.estimated_delivery_at)?,
        delivered_at: opt_time(&path("delivered_at"), &f.delivered_at)?,
        line_items: f
            .line_items
            .iter()
            .filter_map(|l| owned(&l.id).map(|id| (id, l.quantity.unwrap_or(1))))
            .collect(),
        last_checkpoint: None,
    }))
}

/// One REST refund and whether it took items back (`restock_type`
/// `return`). The amount is the sum of its successful refund transactions.
fn convert_refund(
    r: &ShopifyRefund,
    path: &dyn Fn(&str) -> String,
    fallback_id: impl FnOnce() -> String,
    order_created: DateTime<Utc>,
) -> Result<(Refund, bool), FieldError> {
    let mut amounts = Vec::new();
    for (j, t) in r.transactions.iter().enumerate() {
        let is_refund = non_blank(&t.kind).is_none_or(|k| k.eq_ignore_ascii_case("refund"));
        let ok = non_blank(&t.status).is_none_or(|s| s.eq_ignore_ascii_case("success"));
        if is_refund && ok {
            if let Some(a) = non_blank(&t.amount) {
                amounts.push(Decimal::parse(a).ok_or_else(|| {
                    field_err(
                        path(&format!("transactions[{j}].amount")),
                        format!("not a decimal amount: {:?}", truncate(a, 40)),
                    )
                })?);
            }
        }
    }
    let returned = r
        .refund_line_items
        .iter()
        .any(|l| non_blank(&l.restock_type).is_some_and(|t| t.eq_ignore_ascii_case("return")));
    let refund = Refund {
        status: Default::default(),
        id: owned(&r.id).unwrap_or_else(fallback_id),
        created_at: opt_time(&path("created_at"), &r.created_at)?.unwrap_or(order_created),
        amount: Decimal::sum(&amounts).to_string(),
        note: owned(&r.note),
        line_items: r
            .refund_line_items
            .iter()
            .filter_map(|l| owned(&l.line_item_id).map(|id| (id, l.quantity.unwrap_or(1))))
            .collect(),
    };
    Ok((refund, returned))
}

fn money_or_zero(s: &Option<String>, field: &str) -> Result<String, FieldError> {
    match non_blank(s) {
        None => Ok("0.00".to_string()),
        Some(a) => Decimal::parse(a).map(|d| d.to_string()).ok_or_else(|| {
            field_err(
                field,
                format!("not a decimal amount: {:?}", truncate(a, 40)),
            )
        }),
    }
}

// ---------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------

/// The webhook topics wismo subscribes to (`X-Shopify-Topic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookTopic {
    OrdersCreate,
    OrdersUpdated,
    OrdersCancelled,
    FulfillmentsCreate,
    FulfillmentsUpdate,
    RefundsCreate,
}

impl WebhookTopic {
    pub const ALL: [WebhookTopic; 6] = [
        WebhookTopic::OrdersCreate,
        WebhookTopic::OrdersUpdated,
        WebhookTopic::OrdersCancelled,
        WebhookTopic::FulfillmentsCreate,
        WebhookTopic::FulfillmentsUpdate,
        WebhookTopic::RefundsCreate,
    ];

    /// `orders/create` etc.; `None` for a topic wismo does not use.
    pub fn parse(s: &str) -> Option<WebhookTopic> {
        WebhookTopic::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookTopic::OrdersCreate => "orders/create",
            WebhookTopic::OrdersUpdated => "orders/updated",
            WebhookTopic::OrdersCancelled => "orders/cancelled",
            WebhookTopic::FulfillmentsCreate => "fulfillments/create",
            WebhookTopic::FulfillmentsUpdate => "fulfillments/update",
            WebhookTopic::RefundsCreate => "refunds/create",
        }
    }
}

/// What one webhook says changed.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookChange {
    /// `orders/*`: the whole order as it is now.
    Order {
        order: Box<Order>,
        /// The order's `updated_at` (older deliveries must not win).
        updated_at: Option<DateTime<Utc>>,
    },
    /// `fulfillments/*`: one fulfilment of the order with platform id
    /// `order_id`; `fulfillment` is `None` when it was cancelled.
    Fulfillment {
        order_id: String,
        fulfillment_id: String,
        fulfillment: Option<Fulfillment>,
        updated_at: Option<DateTime<Utc>>,
    },
    /// `refunds/create`: a refund of the order with platform id `order_id`,
    /// and whether it took items back.
    Refund {
        order_id: String,
        refund: Refund,
        returned: bool,
    },
}

/// Why a webhook body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct WebhookError {
    pub field: Option<String>,
    pub message: String,
}

impl From<FieldError> for WebhookError {
    fn from(e: FieldError) -> WebhookError {
        WebhookError {
            field: (!e.field.is_empty()).then_some(e.field),
            message: e.message,
        }
    }
}

fn webhook_object<T: DeserializeOwned>(body: &str) -> Result<T, WebhookError> {
    let value: Value = serde_json::from_str(body).map_err(|e| WebhookError {
        field: None,
        message: format!(
            "line {}, column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        ),
    })?;
    if !value.is_object() {
        return Err(WebhookError {
            field: None,
            message: "the body must be a JSON object".into(),
        });
    }
    serde_json::from_value(value).map_err(|e| WebhookError {
        field: None,
        message: strip_position(&e.to_string()),
    })
}

fn required(field: &str, s: &Option<String>) -> Result<String, FieldError> {
    owned(s).ok_or_else(|| field_err(field, "missing"))
}

/// Reads a webhook body of `topic` (Shopify sends the REST resource: an
/// order for `orders/*`, a fulfillment for `fulfillments/*`, a refund for
/// `refunds/create`).
pub fn parse_webhook(topic: WebhookTopic, body: &str) -> Result<WebhookChange, WebhookError> {
    match topic {
        WebhookTopic::OrdersCreate
        | WebhookTopic::OrdersUpdated
        | WebhookTopic::OrdersCancelled => {
            let raw: ShopifyOrder = webhook_object(body)?;
            let order = convert_order(&raw)?;
            let updated_at = opt_time("updated_at", &raw.updated_at)?;
            Ok(WebhookChange::Order {
                order: Box::new(order),
                updated_at,
            })
        }
        WebhookTopic::FulfillmentsCreate | WebhookTopic::FulfillmentsUpdate => {
            let raw: ShopifyFulfillment = webhook_object(body)?;
            let order_id = required("order_id", &raw.order_id)?;
            let fulfillment_id = required("id", &raw.id)?;
            let created = parse_time("created_at", &required("created_at", &raw.created_at)?)?;
            let updated_at = opt_time("updated_at", &raw.updated_at)?;
            let fulfillment = convert_fulfillment(
                &raw,
                &|k: &str| k.to_string(),
                || fulfillment_id.clone(),
                created,
            )?;
            Ok(WebhookChange::Fulfillment {
                order_id,
                fulfillment_id,
                fulfillment,
                updated_at,
            })
        }
        WebhookTopic::RefundsCreate => {
            let raw: ShopifyRefund = webhook_object(body)?;
            let order_id = required("order_id", &raw.order_id)?;
            let id = required("id", &raw.id)?;
            let created = parse_time("created_at", &required("created_at", &raw.created_at)?)?;
            let (refund, returned) =
                convert_refund(&raw, &|k: &str| k.to_string(), || id, created)?;
            Ok(WebhookChange::Refund {
                order_id,
                refund,
                returned,
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Exact decimal money
// ---------------------------------------------------------------------------

/// An exact decimal amount (`units / 10^scale`), enough for money sums
/// without floating-point error. Formats with at least two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    units: i128,
    scale: u32,
}

impl Decimal {
    const MAX_SCALE: u32 = 6;

    /// Parses `"12"`, `"12.5"`, `"-3.10"`; `None` for anything else
    /// (exponents, more than 6 decimals, more than 20 integer digits).
    pub fn parse(s: &str) -> Option<Decimal> {
        let s = s.trim();
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if (int.is_empty() && frac.is_empty())
            || int.len() > 20
            || frac.len() > Self::MAX_SCALE as usize
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut units: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            units = units.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        Some(Decimal {
            units: if neg { -units } else { units },
            scale: frac.len() as u32,
        })
    }

    /// Whether `self` is at least `other`.
    pub fn at_least(self, other: Decimal) -> bool {
        let scale = self.scale.max(other.scale);
        self.rescale(scale) >= other.rescale(scale)
    }

    fn rescale(self, scale: u32) -> i128 {
        self.units * 10i128.pow(scale.saturating_sub(self.scale))
    }

    /// Exact sum; an empty slice sums to `0.00`.
    pub fn sum(items: &[Decimal]) -> Decimal {
        let scale = items.iter().map(|d| d.scale).max().unwrap_or(2).max(2);
        let units = items
            .iter()
            .fold(0i128, |acc, d| acc.saturating_add(d.rescale(scale)));
        Decimal { units, scale }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = self.scale.max(2);
        let units = self.rescale(scale);
        let pow = 10i128.pow(scale);
        let sign = if units < 0 { "-" } else { "" };
        let abs = units.unsigned_abs();
        let pow = pow.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$}",
            abs / pow,
            abs % pow,
            width = scale as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_sum_exactly_and_format_with_two_places() {
        let check = |inputs: &[&str], want: &str| {
            let ds: Vec<Decimal> = inputs.iter().filter_map(|s| Decimal::parse(s)).collect();
            assert_eq!(ds.len(), inputs.len(), "{inputs:?}");
            assert_eq!(Decimal::sum(&ds).to_string(), want, "{inputs:?}");
        };
        check(&[], "0.00");
        check(&["0.1", "0.2"], "0.30");
        check(&["10", "5.5"], "15.50");
        check(&["19.99", "-4.99"], "15.00");
        check(&["1.125"], "1.125");
        check(&["-0.5"], "-0.50");
        for bad in ["", ".", "1e3", "1.2.3", "abc", "1.1234567", "١٢"] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn shipment_statuses_map_and_unknown_is_none() {
        assert_eq!(
            shipment_status("IN_TRANSIT"),
            Some(ShipmentStatus::InTransit)
        );
        assert_eq!(shipment_status("teleported"), None);
        assert_eq!(shipment_status(""), None);
    }
}
