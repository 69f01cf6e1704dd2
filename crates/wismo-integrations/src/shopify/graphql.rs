//! The Admin GraphQL API's order shape (the fields wismo asks for) and its
//! conversion to `wismo_core::store::Order`, with the same numeric ids the
//! REST webhooks use (`legacyResourceId`, or the tail of a `gid://` id), so
//! webhook and API data describe the same rows.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use wismo_core::store::shopify::shipment_status;
use wismo_core::store::tracking::TrackingStatus;
use wismo_core::store::{
    Address, Checkpoint, Customer, FinancialStatus, Fulfillment, FulfillmentStatus, LineItem,
    Order, Refund,
};

/// Every field wismo reads from an order. Nested page sizes keep one
/// order's requested cost at 229 points (Shopify refuses single queries
/// over 1,000).
pub const ORDER_FIELDS: &str = "fragment OrderFields on Order {
  id legacyResourceId name email createdAt updatedAt cancelledAt cancelReason
  displayFinancialStatus displayFulfillmentStatus tags
  totalPriceSet { shopMoney { amount currencyCode } }
  customer { id email firstName lastName }
  shippingAddress { name firstName lastName address1 address2 city province zip country countryCodeV2 phone }
  lineItems(first: 20) { nodes { id title name variantTitle sku quantity originalUnitPriceSet { shopMoney { amount } } } }
  fulfillments(first: 3) {
    id createdAt updatedAt status displayStatus estimatedDeliveryAt deliveredAt inTransitAt
    trackingInfo(first: 2) { company number url }
    events(first: 2, sortKey: HAPPENED_AT, reverse: true) { nodes { status happenedAt message city province country estimatedDeliveryAt } }
    fulfillmentLineItems(first: 10) { nodes { quantity lineItem { id } } }
  }
  refunds(first: 3) {
    id createdAt note totalRefundedSet { shopMoney { amount } }
    refundLineItems(first: 10) { nodes { quantity restockType lineItem { id } } }
  }
}";

#[derive(Debug, Clone, Deserialize)]
pub struct Money {
    pub amount: String,
    #[serde(rename = "currencyCode")]
    pub currency_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MoneyBag {
    #[serde(rename = "shopMoney")]
    pub shop_money: Money,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Nodes<T> {
    pub nodes: Vec<T>,
}

impl<T> Default for Nodes<T> {
    fn default() -> Self {
        Nodes { nodes: Vec::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlOrder {
    pub id: String,
    pub legacy_resource_id: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub display_financial_status: Option<String>,
    pub display_fulfillment_status: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub total_price_set: Option<MoneyBag>,
    pub customer: Option<GqlCustomer>,
    pub shipping_address: Option<GqlAddress>,
    #[serde(default)]
    pub line_items: Nodes<GqlLineItem>,
    #[serde(default)]
    pub fulfillments: Vec<GqlFulfillment>,
    #[serde(default)]
    pub refunds: Vec<GqlRefund>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlCustomer {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlAddress {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub country_code_v2: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlLineItem {
    pub id: String,
    pub title: Option<String>,
    pub name: Option<String>,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: u32,
    pub original_unit_price_set: Option<MoneyBag>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlFulfillment {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    /// `SUCCESS`, `CANCELLED`, `ERROR`, `FAILURE`, `OPEN`, `PENDING`.
    pub status: Option<String>,
    pub display_status: Option<String>,
    pub estimated_delivery_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub in_transit_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tracking_info: Vec<GqlTrackingInfo>,
    #[serde(default)]
    pub events: Nodes<GqlFulfillmentEvent>,
    #[serde(default)]
    pub fulfillment_line_items: Nodes<GqlQuantityOf>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlTrackingInfo {
    pub company: Option<String>,
    pub number: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlFulfillmentEvent {
    /// `FulfillmentEventStatus`: `IN_TRANSIT`, `OUT_FOR_DELIVERY`, `DELAYED`, …
    pub status: String,
    pub happened_at: DateTime<Utc>,
    pub message: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub country: Option<String>,
    pub estimated_delivery_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlLineItemRef {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlQuantityOf {
    pub quantity: u32,
    pub line_item: GqlLineItemRef,
    /// Refund lines: `NO_RESTOCK`, `CANCEL`, `RETURN`, `LEGACY_RESTOCK`.
    pub restock_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlRefund {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub note: Option<String>,
    pub total_refunded_set: Option<MoneyBag>,
    #[serde(default)]
    pub refund_line_items: Nodes<GqlQuantityOf>,
}

/// `gid://shopify/Order/820982911946154508` → `820982911946154508`.
pub fn legacy_id(gid: &str) -> String {
    gid.rsplit('/').next().unwrap_or(gid).to_string()
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn financial(s: Option<&str>) -> FinancialStatus {
    match s.unwrap_or_default() {
        "PENDING" => FinancialStatus::Pending,
        "AUTHORIZED" => FinancialStatus::Authorized,
        "PARTIALLY_PAID" => FinancialStatus::PartiallyPaid,
        "PAID" => FinancialStatus::Paid,
        "PARTIALLY_REFUNDED" => FinancialStatus::PartiallyRefunded,
        "REFUNDED" => FinancialStatus::Refunded,
        "VOIDED" => FinancialStatus::Voided,
        _ => FinancialStatus::Unknown,
    }
}

fn fulfilment_status(s: Option<&str>) -> FulfillmentStatus {
    match s.unwrap_or_default() {
        "FULFILLED" => FulfillmentStatus::Fulfilled,
        "PARTIALLY_FULFILLED" => FulfillmentStatus::Partial,
        "RESTOCKED" => FulfillmentStatus::Restocked,
        _ => FulfillmentStatus::Unfulfilled,
    }
}

/// The order as wismo keeps it, and when Shopify last changed it.
pub fn convert(o: GqlOrder) -> (Order, Option<DateTime<Utc>>) {
    let number = o.name.trim().trim_start_matches('#').trim().to_string();
    let currency = o
        .total_price_set
        .as_ref()
        .and_then(|m| m.shop_money.currency_code.clone())
        .unwrap_or_else(|| "USD".into());
    let line_items = o
        .line_items
        .nodes
        .iter()
        .map(|l| LineItem {
            id: legacy_id(&l.id),
            title: text(&l.title)
                .or_else(|| text(&l.name))
                .unwrap_or_else(|| "item".into()),
            variant_title: text(&l.variant_title),
            sku: text(&l.sku),
            quantity: l.quantity,
            price: l
                .original_unit_price_set
                .as_ref()
                .map(|m| m.shop_money.amount.clone())
                .unwrap_or_else(|| "0.00".into()),
        })
        .collect();
    let fulfillments = o
        .fulfillments
        .iter()
        .filter(|f| {
            !matches!(f.status.as_deref(), Some("CANCELLED"))
                && !matches!(f.display_status.as_deref(), Some("CANCELED"))
        })
        .map(|f| {
            // The newest carrier event says more than the display status.
            let latest = f.events.nodes.iter().max_by_key(|e| e.happened_at);
            let status = latest
                .map(|e| e.status.as_str())
                .or(f.display_status.as_deref())
                .and_then(shipment_status);
            Fulfillment {
                id: legacy_id(&f.id),
                created_at: f.created_at,
                updated_at: f.updated_at,
                tracking_company: f.tracking_info.iter().find_map(|t| text(&t.company)),
                tracking_numbers: f
                    .tracking_info
                    .iter()
                    .filter_map(|t| text(&t.number))
                    .collect(),
                tracking_urls: f
                    .tracking_info
                    .iter()
                    .filter_map(|t| text(&t.url))
                    .collect(),
                shipment_status: status,
                estimated_delivery_at: f
                    .estimated_delivery_at
                    .or_else(|| latest.and_then(|e| e.estimated_delivery_at)),
                delivered_at: f.delivered_at,
                line_items: f
                    .fulfillment_line_items
                    .nodes
                    .iter()
                    .map(|l| (legacy_id(&l.line_item.id), l.quantity))
                    .collect(),
                last_checkpoint: latest.and_then(|e| {
                    let status = TrackingStatus::from_shopify(shipment_status(&e.status)?);
                    let location = [text(&e.city), text(&e.province), text(&e.country)]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ");
                    Some(Checkpoint {
                        at: e.happened_at,
                        status,
                        sub_status: None,
                        location: (!location.is_empty()).then_some(location),
                        message: text(&e.message),
                    })
                }),
            }
        })
        .collect();
    let mut returned = o.tags.iter().any(|t| t.eq_ignore_ascii_case("returned"));
    let refunds = o
        .refunds
        .iter()
        .map(|r| {
            returned |= r
                .refund_line_items
                .nodes
                .iter()
                .any(|l| l.restock_type.as_deref() == Some("RETURN"));
            Refund {
                status: Default::default(),
                id: legacy_id(&r.id),
                created_at: r.created_at,
                amount: r
                    .total_refunded_set
                    .as_ref()
                    .map(|m| m.shop_money.amount.clone())
                    .unwrap_or_else(|| "0.00".into()),
                note: text(&r.note),
                line_items: r
                    .refund_line_items
                    .nodes
                    .iter()
                    .map(|l| (legacy_id(&l.line_item.id), l.quantity))
                    .collect(),
            }
        })
        .collect();
    let shipping_address = o.shipping_address.as_ref().map(|a| Address {
        name: text(&a.name).or_else(|| {
            let joined = [text(&a.first_name), text(&a.last_name)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        }),
        address1: text(&a.address1).unwrap_or_default(),
        address2: text(&a.address2),
        city: text(&a.city).unwrap_or_default(),
        province: text(&a.province),
        zip: text(&a.zip),
        country: text(&a.country),
        country_code: text(&a.country_code_v2).map(|c| c.to_ascii_uppercase()),
        phone: text(&a.phone),
    });
    let order = Order {
        number,
        id: o
            .legacy_resource_id
            .clone()
            .unwrap_or_else(|| legacy_id(&o.id)),
        email: text(&o.email).map(|e| e.to_lowercase()),
        customer: o.customer.as_ref().map(|c| Customer {
            id: legacy_id(&c.id),
            email: text(&c.email).map(|e| e.to_lowercase()),
            first_name: text(&c.first_name),
            last_name: text(&c.last_name),
        }),
        created_at: o.created_at,
        financial_status: financial(o.display_financial_status.as_deref()),
        fulfillment_status: fulfilment_status(o.display_fulfillment_status.as_deref()),
        cancelled_at: o.cancelled_at,
        cancel_reason: o.cancel_reason.as_ref().map(|r| r.to_ascii_lowercase()),
        currency,
        total_price: o
            .total_price_set
            .as_ref()
            .map(|m| m.shop_money.amount.clone())
            .unwrap_or_else(|| "0.00".into()),
        line_items,
        shipping_address,
        fulfillments,
        refunds,
        returned,
    };
    (order, o.updated_at)
}

/// A `MailingAddressInput` for `orderUpdate`: the two-letter country code
/// when there is one, else the country's name; the name split at its first
/// space into first and last name.
pub fn address_input(a: &wismo_core::store::Address) -> Value {
    let mut input = serde_json::Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) {
            input.insert(k.to_string(), Value::String(v.to_string()));
        }
    };
    put("address1", Some(&a.address1));
    put("address2", a.address2.as_deref());
    put("city", Some(&a.city));
    match a.province.as_deref().map(str::trim) {
        Some(p) if (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_uppercase()) => {
            put("provinceCode", Some(p))
        }
        other => put("province", other),
    }
    put("zip", a.zip.as_deref());
    put("phone", a.phone.as_deref());
    let code = a
        .country_code
        .as_deref()
        .map(str::trim)
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    match code {
        Some(c) => put("countryCode", Some(&c)),
        None => put("country", a.country.as_deref()),
    }
    if let Some(name) = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        match name.split_once(' ') {
            Some((first, last)) => {
                put("firstName", Some(first));
                put("lastName", Some(last));
            }
            None => put("lastName", Some(name)),
        }
    }
    Value::Object(input)
}
