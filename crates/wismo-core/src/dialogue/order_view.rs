//! What an order means to a shopper: its state in plain terms, and the values
//! templates can use (items, carrier, tracking, dates written for humans).

use crate::store::{FinancialStatus, FulfillmentStatus, Order, ShipmentStatus};
use chrono::{DateTime, Datelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The states a shopper can be in, from their side of the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Unpaid,
    Processing,
    PartiallyShipped,
    LabelPrinted,
    InTransit,
    OutForDelivery,
    AttemptedDelivery,
    ReadyForPickup,
    Delayed,
    Delivered,
    Cancelled,
    Refunded,
    PartiallyRefunded,
    Returned,
}

impl OrderState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Processing => "processing",
            Self::PartiallyShipped => "partially_shipped",
            Self::LabelPrinted => "label_printed",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::AttemptedDelivery => "attempted_delivery",
            Self::ReadyForPickup => "ready_for_pickup",
            Self::Delayed => "delayed",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_STATES.iter().copied().find(|st| st.name() == s)
    }
}

pub const ALL_STATES: [OrderState; 14] = [
    OrderState::Unpaid,
    OrderState::Processing,
    OrderState::PartiallyShipped,
    OrderState::LabelPrinted,
    OrderState::InTransit,
    OrderState::OutForDelivery,
    OrderState::AttemptedDelivery,
    OrderState::ReadyForPickup,
    OrderState::Delayed,
    OrderState::Delivered,
    OrderState::Cancelled,
    OrderState::Refunded,
    OrderState::PartiallyRefunded,
    OrderState::Returned,
];

/// The state of `order`, most decisive fact first.
pub fn state(order: &Order) -> OrderState {
    if order.returned {
        return OrderState::Returned;
    }
    if order.cancelled_at.is_some() {
        return OrderState::Cancelled;
    }
    match order.financial_status {
        FinancialStatus::Refunded => return OrderState::Refunded,
        FinancialStatus::Pending | FinancialStatus::Voided => return OrderState::Unpaid,
        _ => {}
    }
    let shipment = latest_shipment(order);
    let st = match order.fulfillment_status {
        FulfillmentStatus::Unfulfilled | FulfillmentStatus::Restocked
            if order.fulfillments.is_empty() =>
        {
            OrderState::Processing
        }
        FulfillmentStatus::Partial => OrderState::PartiallyShipped,
        _ => match shipment {
            Some(ShipmentStatus::Delivered) => OrderState::Delivered,
            Some(ShipmentStatus::OutForDelivery) => OrderState::OutForDelivery,
            Some(ShipmentStatus::AttemptedDelivery) => OrderState::AttemptedDelivery,
            Some(ShipmentStatus::ReadyForPickup) => OrderState::ReadyForPickup,
            Some(ShipmentStatus::Delayed | ShipmentStatus::Failure) => OrderState::Delayed,
            Some(ShipmentStatus::LabelPrinted | ShipmentStatus::LabelPurchased) => {
                OrderState::LabelPrinted
            }
            Some(ShipmentStatus::InTransit | ShipmentStatus::Confirmed) | None => {
                OrderState::InTransit
            }
        },
    };
    if order.financial_status == FinancialStatus::PartiallyRefunded && st == OrderState::Delivered {
        return OrderState::PartiallyRefunded;
    }
    st
}

fn latest_shipment(order: &Order) -> Option<ShipmentStatus> {
    order
        .fulfillments
        .iter()
        .max_by_key(|f| f.updated_at.unwrap_or(f.created_at))
        .and_then(|f| f.shipment_status)
}

/// Whether any part of the order has shipped (so it can no longer be cancelled or re-addressed).
pub fn has_shipped(order: &Order) -> bool {
    !order.fulfillments.is_empty()
        || matches!(
            order.fulfillment_status,
            FulfillmentStatus::Partial | FulfillmentStatus::Fulfilled
        )
}

const EN_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const ES_DAYS: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const ES_MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

fn weekday_index(w: Weekday) -> usize {
    w.num_days_from_monday() as usize
}

/// "Thursday, November 27" / "jueves, 27 de noviembre", in the shopper's time zone.
pub fn human_date(t: DateTime<Utc>, tz: Tz, locale: &str) -> String {
    let d = t.with_timezone(&tz).date_naive();
    let (wd, m) = (weekday_index(d.weekday()), d.month0() as usize);
    if locale == "es" {
        format!("{}, {} de {}", ES_DAYS[wd], d.day(), ES_MONTHS[m])
    } else {
        format!("{}, {} {}", EN_DAYS[wd], EN_MONTHS[m], d.day())
    }
}

/// "$49.99", "€20.00" / "49,99 US$", "20,00 €".
pub fn human_money(amount: &str, currency: &str, locale: &str) -> String {
    let symbol = match currency {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "CAD" => "CA$",
        "AUD" => "A$",
        "JPY" => "¥",
        other => other,
    };
    if locale == "es" {
        let es_symbol = if currency == "USD" { "US$" } else { symbol };
        format!("{} {es_symbol}", amount.replace('.', ","))
    } else {
        format!("{symbol}{amount}")
    }
}

/// Adds two decimal strings with up to two decimals ("12.50" + "3.5" = "16.00").
pub fn sum_amounts<'a>(amounts: impl Iterator<Item = &'a str>) -> String {
    let cents: i64 = amounts
        .map(|a| {
            let (whole, frac) = a.split_once('.').unwrap_or((a, "0"));
            let frac = format!("{frac:0<2}");
            whole.parse::<i64>().unwrap_or(0) * 100
                + frac
                    .get(..2)
                    .and_then(|f| f.parse::<i64>().ok())
                    .unwrap_or(0)
        })
        .sum();
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Template values for an order the shopper is allowed to see.
pub fn order_vars(order: &Order, tz: Tz, locale: &str, vars: &mut HashMap<&'static str, String>) {
    vars.insert("order_number", order.number.clone());
    let items: Vec<String> = order
        .line_items
        .iter()
        .map(|li| {
            if li.quantity > 1 {
                format!("{} × {}", li.quantity, li.title)
            } else {
                li.title.clone()
            }
        })
        .collect();
    let and = if locale == "es" { " y " } else { " and " };
    let items = match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{}{and}{}", items[..n - 1].join(", "), items[n - 1]),
    };
    vars.insert("items", items);
    vars.insert(
        "total",
        human_money(&order.total_price, &order.currency, locale),
    );
    if let Some(f) = order
        .fulfillments
        .iter()
        .max_by_key(|f| f.updated_at.unwrap_or(f.created_at))
    {
        vars.insert("carrier", f.tracking_company.clone().unwrap_or_default());
        vars.insert(
            "tracking_number",
            f.tracking_numbers.first().cloned().unwrap_or_default(),
        );
        vars.insert(
            "tracking_url",
            f.tracking_urls.first().cloned().unwrap_or_default(),
        );
        vars.insert("shipped_date", human_date(f.created_at, tz, locale));
        if let Some(eta) = f.estimated_delivery_at {
            vars.insert("eta", human_date(eta, tz, locale));
        }
        if let Some(d) = f.delivered_at {
            vars.insert("delivered_date", human_date(d, tz, locale));
        }
    }
    if !order.refunds.is_empty() {
        let total = sum_amounts(order.refunds.iter().map(|r| r.amount.as_str()));
        vars.insert(
            "refund_amount",
            human_money(&total, &order.currency, locale),
        );
        if let Some(last) = order.refunds.iter().map(|r| r.created_at).max() {
            vars.insert("refund_date", human_date(last, tz, locale));
        }
    }
    if let Some(c) = order.cancelled_at {
        vars.insert("cancelled_date", human_date(c, tz, locale));
    }
    vars.insert("ordered_date", human_date(order.created_at, tz, locale));
    if let Some(name) = order.customer.as_ref().and_then(|c| c.first_name.clone()) {
        vars.insert("name", name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_are_written_for_humans_in_the_shoppers_zone() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 27, 3, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(human_date(t, chrono_tz::UTC, "en"), "Friday, November 27");
        // 3am UTC is still Thursday evening in New York.
        assert_eq!(
            human_date(t, chrono_tz::America::New_York, "en"),
            "Thursday, November 26"
        );
        assert_eq!(
            human_date(t, chrono_tz::Europe::Madrid, "es"),
            "viernes, 27 de noviembre"
        );
    }

    #[test]
    fn money_and_sums() {
        assert_eq!(human_money("49.99", "USD", "en"), "$49.99");
        assert_eq!(human_money("20.00", "EUR", "es"), "20,00 €");
        assert_eq!(sum_amounts(["12.50", "3.5", "0.05"].into_iter()), "16.05");
    }
}
