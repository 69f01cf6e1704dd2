//! WooCommerce REST API v3 orders (the body of `order.*` webhooks and of
//! `GET /wp-json/wc/v3/orders/<id>`) and their conversion to [`Order`],
//! with the Shipment Tracking extension's items (order meta
//! `_wc_shipment_tracking_items`) as fulfilments.
//!
//! WooCommerce's `*_gmt` times carry no offset: they are read as UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::shopify::{lenient_string, null_vec, Decimal, WebhookError};
use super::{
    Address, Customer, FinancialStatus, Fulfillment, FulfillmentStatus, LineItem, Order, Refund,
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WooOrder {
    #[serde(deserialize_with = "lenient_string")]
    id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    number: Option<String>,
    status: Option<String>,
    currency: Option<String>,
    date_created_gmt: Option<String>,
    date_modified_gmt: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    total: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    customer_id: Option<String>,
    billing: Option<WooAddress>,
    shipping: Option<WooAddress>,
    #[serde(deserialize_with = "null_vec")]
    line_items: Vec<WooLineItem>,
    #[serde(deserialize_with = "null_vec")]
    refunds: Vec<WooRefund>,
    #[serde(deserialize_with = "null_vec")]
    meta_data: Vec<WooMeta>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WooAddress {
    first_name: Option<String>,
    last_name: Option<String>,
    address_1: Option<String>,
    address_2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WooLineItem {
    #[serde(deserialize_with = "lenient_string")]
    id: Option<String>,
    name: Option<String>,
    sku: Option<String>,
    quantity: Option<u32>,
    #[serde(deserialize_with = "lenient_string")]
    price: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WooRefund {
    #[serde(deserialize_with = "lenient_string")]
    id: Option<String>,
    reason: Option<String>,
    /// Negative: `"-10.00"`.
    #[serde(deserialize_with = "lenient_string")]
    total: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WooMeta {
    key: Option<String>,
    value: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TrackingItem {
    tracking_id: Option<String>,
    tracking_provider: Option<String>,
    custom_tracking_provider: Option<String>,
    tracking_number: Option<String>,
    tracking_link: Option<String>,
    custom_tracking_link: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    date_shipped: Option<String>,
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn err(field: &str, message: impl Into<String>) -> WebhookError {
    WebhookError {
        field: Some(field.to_string()),
        message: message.into(),
    }
}

/// `2025-09-01T14:03:11` (UTC), with or without an offset.
fn gmt(field: &str, s: &str) -> Result<DateTime<Utc>, WebhookError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .map_err(|_| {
            err(
                field,
                format!("not a time: {:?}", s.chars().take(40).collect::<String>()),
            )
        })
}

/// `date_shipped`: a `YYYY-MM-DD` date, or a Unix time (older plugin versions).
fn shipped(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(12, 0, 0).map(|t| t.and_utc());
    }
    s.parse::<i64>()
        .ok()
        .and_then(|t| DateTime::from_timestamp(t, 0))
}

fn money(field: &str, s: &Option<String>) -> Result<String, WebhookError> {
    match text(s) {
        None => Ok("0.00".into()),
        Some(a) => Decimal::parse(&a)
            .map(|d| d.to_string())
            .ok_or_else(|| err(field, format!("not an amount: {a:?}"))),
    }
}

/// Reads a WooCommerce order (REST v3) and when it was last modified.
pub fn parse_order(body: &str) -> Result<(Order, Option<DateTime<Utc>>), WebhookError> {
    let value: Value = serde_json::from_str(body).map_err(|e| WebhookError {
        field: None,
        message: format!("line {}, column {}: {e}", e.line(), e.column()),
    })?;
    if !value.is_object() {
        return Err(WebhookError {
            field: None,
            message: "the body must be a JSON object".into(),
        });
    }
    let w: WooOrder = serde_json::from_value(value).map_err(|e| WebhookError {
        field: None,
        message: e.to_string(),
    })?;
    let id = text(&w.id).ok_or_else(|| err("id", "missing"))?;
    let number = text(&w.number).unwrap_or_else(|| id.clone());
    let number = number.trim_start_matches('#').to_string();
    let created_at = gmt(
        "date_created_gmt",
        &text(&w.date_created_gmt).ok_or_else(|| err("date_created_gmt", "missing"))?,
    )?;
    let updated_at = text(&w.date_modified_gmt)
        .map(|s| gmt("date_modified_gmt", &s))
        .transpose()?;
    let billing = w.billing.unwrap_or_default();
    let email = text(&billing.email).map(|e| e.to_lowercase());
    let customer = text(&w.customer_id)
        .filter(|c| c != "0")
        .map(|cid| Customer {
            id: format!("woo-{cid}"),
            email: email.clone(),
            first_name: text(&billing.first_name),
            last_name: text(&billing.last_name),
        });
    let mut line_items = Vec::new();
    for (i, l) in w.line_items.iter().enumerate() {
        line_items.push(LineItem {
            id: text(&l.id).unwrap_or_else(|| format!("{number}-{}", i + 1)),
            title: text(&l.name).unwrap_or_else(|| "item".into()),
            variant_title: None,
            sku: text(&l.sku),
            quantity: l.quantity.unwrap_or(1),
            price: money(&format!("line_items[{i}].price"), &l.price)?,
        });
    }
    let shipping_address = w.shipping.as_ref().and_then(|a| {
        let address1 = text(&a.address_1)?;
        let name = [text(&a.first_name), text(&a.last_name)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Some(Address {
            name: (!name.is_empty()).then_some(name),
            address1,
            address2: text(&a.address_2),
            city: text(&a.city).unwrap_or_default(),
            province: text(&a.state),
            zip: text(&a.postcode),
            country: None,
            country_code: text(&a.country).map(|c| c.to_ascii_uppercase()),
            phone: text(&a.phone),
        })
    });
    let mut refunds = Vec::new();
    for (i, r) in w.refunds.iter().enumerate() {
        let amount = money(&format!("refunds[{i}].total"), &r.total)?;
        refunds.push(Refund {
            status: Default::default(),
            id: text(&r.id).unwrap_or_else(|| format!("{number}-R{}", i + 1)),
            created_at: updated_at.unwrap_or(created_at),
            amount: amount.trim_start_matches('-').to_string(),
            note: text(&r.reason),
            line_items: Vec::new(),
        });
    }
    let mut fulfillments = Vec::new();
    for m in &w.meta_data {
        if m.key.as_deref() != Some("_wc_shipment_tracking_items") {
            continue;
        }
        let items: Vec<TrackingItem> = serde_json::from_value(m.value.clone()).unwrap_or_default();
        for (i, t) in items.iter().enumerate() {
            let Some(tracking) = text(&t.tracking_number) else {
                continue;
            };
            let at = text(&t.date_shipped)
                .and_then(|d| shipped(&d))
                .unwrap_or(created_at);
            fulfillments.push(Fulfillment {
                id: text(&t.tracking_id).unwrap_or_else(|| format!("{number}-T{}", i + 1)),
                created_at: at,
                updated_at: Some(at),
                tracking_company: text(&t.tracking_provider)
                    .or_else(|| text(&t.custom_tracking_provider)),
                tracking_numbers: vec![tracking],
                tracking_urls: text(&t.tracking_link)
                    .or_else(|| text(&t.custom_tracking_link))
                    .into_iter()
                    .collect(),
                shipment_status: None,
                estimated_delivery_at: None,
                delivered_at: None,
                line_items: Vec::new(),
                last_checkpoint: None,
            });
        }
    }
    let status = text(&w.status).unwrap_or_default().to_ascii_lowercase();
    let financial_status = match status.as_str() {
        "pending" | "on-hold" | "checkout-draft" => FinancialStatus::Pending,
        "failed" => FinancialStatus::Voided,
        "refunded" => FinancialStatus::Refunded,
        _ if !refunds.is_empty() => FinancialStatus::PartiallyRefunded,
        "processing" | "completed" | "shipped" | "delivered" | "cancelled" => FinancialStatus::Paid,
        _ => FinancialStatus::Unknown,
    };
    let fulfillment_status = match status.as_str() {
        "completed" | "shipped" | "delivered" => FulfillmentStatus::Fulfilled,
        "partial-shipped" => FulfillmentStatus::Partial,
        _ if !fulfillments.is_empty() => FulfillmentStatus::Fulfilled,
        _ => FulfillmentStatus::Unfulfilled,
    };
    let order = Order {
        id,
        number,
        email,
        customer,
        created_at,
        financial_status,
        fulfillment_status,
        cancelled_at: (status == "cancelled").then(|| updated_at.unwrap_or(created_at)),
        cancel_reason: None,
        currency: text(&w.currency)
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_else(|| "USD".into()),
        total_price: money("total", &w.total)?,
        line_items,
        shipping_address,
        fulfillments,
        refunds,
        returned: false,
    };
    Ok((order, updated_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ShipmentStatus;

    #[test]
    fn a_completed_order_with_tracking_reads_as_shipped() {
        let body = r#"{"id": 1042, "number": "1042", "status": "completed", "currency": "usd",
          "date_created_gmt": "2026-11-30T14:03:11", "date_modified_gmt": "2026-12-02T09:20:45",
          "total": "59.90", "customer_id": 17,
          "billing": {"first_name": "Ana", "last_name": "Silva", "email": "Ana@Example.com"},
          "shipping": {"first_name": "Ana", "last_name": "Silva", "address_1": "1 Main St", "city": "Pasadena",
                       "state": "CA", "postcode": "91101", "country": "us"},
          "line_items": [{"id": 311, "name": "Blue Mug", "quantity": 2, "sku": "MUG-BL", "price": 19.95}],
          "refunds": [{"id": 1050, "reason": "Damaged item", "total": "-19.95"}],
          "meta_data": [{"id": 9001, "key": "_wc_shipment_tracking_items", "value": [
            {"tracking_id": "7f4978c390ee633c6294ae0f258656f9", "tracking_provider": "USPS",
             "tracking_link": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=9400111899560000000000",
             "tracking_number": "9400111899560000000000", "date_shipped": "2026-12-01"}]}]}"#;
        let (o, updated) = parse_order(body).expect("parses");
        assert_eq!(o.number, "1042");
        assert_eq!(o.email.as_deref(), Some("ana@example.com"));
        assert_eq!(o.currency, "USD");
        assert_eq!(o.line_items[0].price, "19.95");
        assert_eq!(o.refunds[0].amount, "19.95");
        assert_eq!(o.financial_status, FinancialStatus::PartiallyRefunded);
        assert_eq!(o.fulfillment_status, FulfillmentStatus::Fulfilled);
        assert_eq!(o.fulfillments[0].tracking_company.as_deref(), Some("USPS"));
        assert_eq!(o.fulfillments[0].shipment_status, None::<ShipmentStatus>);
        assert_eq!(
            o.shipping_address
                .as_ref()
                .and_then(|a| a.country_code.as_deref()),
            Some("US")
        );
        assert_eq!(
            updated.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-12-02T09:20:45+00:00")
        );
    }

    #[test]
    fn broken_orders_name_the_field() {
        assert_eq!(parse_order("{}").unwrap_err().field.as_deref(), Some("id"));
        let e = parse_order(r#"{"id": 1, "date_created_gmt": "yesterday"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("date_created_gmt"));
        assert!(parse_order("[]").is_err());
        let cancelled = parse_order(
            r#"{"id": 2, "status": "cancelled", "date_created_gmt": "2026-12-01T00:00:00"}"#,
        )
        .expect("parses")
        .0;
        assert!(cancelled.cancelled_at.is_some());
    }
}
