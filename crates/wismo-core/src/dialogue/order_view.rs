//! What an order means to a shopper: its state in plain terms, and the values
//! templates can use (items, carrier, tracking, dates written for humans).

use crate::store::{FinancialStatus, FulfillmentStatus, Order, RefundStatus, ShipmentStatus};
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
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
    /// In transit, but the promised delivery date has passed.
    Late,
    /// The carrier could not deliver (Shopify `failure`: returned to sender,
    /// lost or refused).
    DeliveryFailed,
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
            Self::Late => "late",
            Self::DeliveryFailed => "delivery_failed",
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

pub const ALL_STATES: [OrderState; 16] = [
    OrderState::Unpaid,
    OrderState::Processing,
    OrderState::PartiallyShipped,
    OrderState::LabelPrinted,
    OrderState::InTransit,
    OrderState::OutForDelivery,
    OrderState::AttemptedDelivery,
    OrderState::ReadyForPickup,
    OrderState::Delayed,
    OrderState::Late,
    OrderState::DeliveryFailed,
    OrderState::Delivered,
    OrderState::Cancelled,
    OrderState::Refunded,
    OrderState::PartiallyRefunded,
    OrderState::Returned,
];

/// What the engine knows besides the order: the time, the shoppers' time
/// zone and the store's policy values.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    /// Days after delivery within which a return or exchange is accepted.
    pub return_window_days: u32,
    /// Days after the promised date from which a late order gets a trace case.
    pub late_after_days: u32,
}

impl View {
    fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.tz).date_naive()
    }

    fn day(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }
}

/// When a shipment that has not arrived was due: the carrier's estimate, or
/// the day it went out for delivery.
fn due_date(order: &Order) -> Option<DateTime<Utc>> {
    let f = latest_fulfillment(order)?;
    match f.shipment_status {
        Some(ShipmentStatus::OutForDelivery) => Some(
            f.estimated_delivery_at
                .unwrap_or(f.updated_at.unwrap_or(f.created_at)),
        ),
        _ => f.estimated_delivery_at,
    }
}

/// How many whole days past its due date an order that has not arrived is
/// (in the shoppers' time zone); `None` when it is not late.
pub fn days_late(order: &Order, view: &View) -> Option<i64> {
    let st = state(order);
    if !matches!(
        st,
        OrderState::InTransit
            | OrderState::OutForDelivery
            | OrderState::Delayed
            | OrderState::LabelPrinted
            | OrderState::PartiallyShipped
    ) {
        return None;
    }
    let due = view.day(due_date(order)?);
    let late = (view.today() - due).num_days();
    (late > 0).then_some(late)
}

/// The state of `order` at `view.now`: like [`state`], but an order whose
/// promised date has passed is [`OrderState::Late`].
pub fn state_at(order: &Order, view: &View) -> OrderState {
    let st = state(order);
    if matches!(st, OrderState::Delayed | OrderState::PartiallyShipped) {
        return st;
    }
    if days_late(order, view).is_some() {
        OrderState::Late
    } else {
        st
    }
}

/// When the return window of a delivered order ends, if the delivery date is known.
pub fn return_deadline(order: &Order, view: &View) -> Option<DateTime<Utc>> {
    let delivered = latest_fulfillment(order)?.delivered_at?;
    Some(delivered + chrono::Duration::days(i64::from(view.return_window_days)))
}

/// Whether a return is still possible: `Some(true)` inside the window,
/// `Some(false)` after it, `None` when the delivery date is unknown.
pub fn return_open(order: &Order, view: &View) -> Option<bool> {
    return_deadline(order, view).map(|d| view.day(d) >= view.today())
}

/// The package a shopper is asking about: of an order sent in several, the
/// latest one still on its way (the order has not arrived until it has);
/// otherwise the latest one.
fn latest_fulfillment(order: &Order) -> Option<&crate::store::Fulfillment> {
    let split = split(order);
    order
        .fulfillments
        .iter()
        .filter(|f| !split || !is_delivered(f))
        .max_by_key(|f| f.updated_at.unwrap_or(f.created_at))
}

fn is_delivered(f: &crate::store::Fulfillment) -> bool {
    f.shipment_status == Some(ShipmentStatus::Delivered) || f.delivered_at.is_some()
}

/// Whether the order went out in several packages of which some arrived and
/// some did not.
pub fn split(order: &Order) -> bool {
    let delivered = order
        .fulfillments
        .iter()
        .filter(|f| is_delivered(f))
        .count();
    delivered > 0 && delivered < order.fulfillments.len()
}

/// Titles of the items no package has carried yet.
fn unshipped_items(order: &Order) -> Vec<String> {
    order
        .line_items
        .iter()
        .filter(|li| {
            let shipped: u32 = order
                .fulfillments
                .iter()
                .flat_map(|f| f.line_items.iter())
                .filter(|(id, _)| *id == li.id)
                .map(|(_, q)| *q)
                .sum();
            shipped < li.quantity && !li.title.trim().is_empty()
        })
        .map(|li| li.title.trim().to_string())
        .collect()
}

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
            Some(ShipmentStatus::Delayed) => OrderState::Delayed,
            Some(ShipmentStatus::Failure) => OrderState::DeliveryFailed,
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
    latest_fulfillment(order).and_then(|f| f.shipment_status)
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

const FR_DAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const FR_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// The language part of a locale tag ("es-MX" -> "es").
fn language(locale: &str) -> &str {
    locale.split(['-', '_']).next().unwrap_or(locale)
}

/// "Thursday, November 27" / "jueves, 27 de noviembre" / "jeudi 27
/// novembre", in the shopper's time zone; other languages get the ISO date
/// ("2026-11-27"), which reads the same everywhere.
pub fn human_date(t: DateTime<Utc>, tz: Tz, locale: &str) -> String {
    let d = t.with_timezone(&tz).date_naive();
    let (wd, m) = (weekday_index(d.weekday()), d.month0() as usize);
    match language(locale) {
        "en" => format!("{}, {} {}", EN_DAYS[wd], EN_MONTHS[m], d.day()),
        "es" => format!("{}, {} de {}", ES_DAYS[wd], d.day(), ES_MONTHS[m]),
        "fr" => format!("{} {} {}", FR_DAYS[wd], d.day(), FR_MONTHS[m]),
        _ => d.format("%Y-%m-%d").to_string(),
    }
}

/// A future or present day said relative to today: "today", "tomorrow,
/// Wednesday, November 25", "on Friday, November 27" / "hoy", "mañana,
/// miércoles, 25 de noviembre", "el viernes, 27 de noviembre" /
/// "aujourd'hui", "demain, mercredi 25 novembre", "le vendredi 27 novembre";
/// other languages: the date.
pub fn when(t: DateTime<Utc>, view: &View, locale: &str) -> String {
    let date = human_date(t, view.tz, locale);
    let diff = (view.day(t) - view.today()).num_days();
    match (language(locale), diff) {
        ("en", 0) => "today".to_string(),
        ("en", 1) => format!("tomorrow, {date}"),
        ("en", _) => format!("on {date}"),
        ("es", 0) => "hoy".to_string(),
        ("es", 1) => format!("mañana, {date}"),
        ("es", _) => format!("el {date}"),
        ("fr", 0) => "aujourd'hui".to_string(),
        ("fr", 1) => format!("demain, {date}"),
        ("fr", _) => format!("le {date}"),
        _ => date,
    }
}

/// A past moment said relative to today, with the time of day, in the
/// shoppers' time zone: "today at 9:14 pm", "yesterday at 9:14 pm", "on
/// Monday, November 30 at 9:14 pm" / "hoy a las 21:14", "ayer a las
/// 21:14", "el lunes, 30 de noviembre a las 21:14" / "aujourd'hui à 21 h
/// 14", "hier à 21 h 14", "le lundi 30 novembre à 21 h 14"; other
/// languages: "2026-11-30 21:14". A moment after `view.now` (a carrier's
/// clock ahead of ours) is said as now's day.
pub fn since(t: DateTime<Utc>, view: &View, locale: &str) -> String {
    let t = t.min(view.now);
    let local = t.with_timezone(&view.tz);
    let date = human_date(t, view.tz, locale);
    let diff = (view.today() - view.day(t)).num_days();
    match language(locale) {
        "en" => {
            let time = local.format("%-I:%M %P");
            match diff {
                0 => format!("today at {time}"),
                1 => format!("yesterday at {time}"),
                _ => format!("on {date} at {time}"),
            }
        }
        "es" => {
            let time = local.format("%H:%M");
            match diff {
                0 => format!("hoy a las {time}"),
                1 => format!("ayer a las {time}"),
                _ => format!("el {date} a las {time}"),
            }
        }
        "fr" => {
            let time = local.format("%H h %M");
            match diff {
                0 => format!("aujourd'hui à {time}"),
                1 => format!("hier à {time}"),
                _ => format!("le {date} à {time}"),
            }
        }
        _ => local.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// The carrier's latest scan in words: "Departed FedEx hub in Memphis, TN,
/// yesterday at 9:14 pm" (the carrier's own words are kept as they are).
fn last_scan(c: &crate::store::Checkpoint, view: &View, locale: &str) -> String {
    let (scanned, at) = match language(locale) {
        "es" => ("escaneado", "en"),
        "fr" => ("scanné", "à"),
        _ => ("scanned", "in"),
    };
    let what = c
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| m.trim_end_matches('.').to_string())
        .unwrap_or_else(|| scanned.to_string());
    let place = c
        .location
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!(" {at} {l}"))
        .unwrap_or_default();
    format!("{what}{place}, {}", since(c.at, view, locale))
}

/// "$49.99", "€20.00" / "49,99 US$", "20,00 €" / "49,99 $US", "20,00 €";
/// other languages: "49.99 USD".
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
    match language(locale) {
        "en" => format!("{symbol}{amount}"),
        "es" => {
            let es_symbol = if currency == "USD" { "US$" } else { symbol };
            format!("{} {es_symbol}", amount.replace('.', ","))
        }
        "fr" => {
            let fr_symbol = if currency == "USD" { "$US" } else { symbol };
            format!("{}\u{a0}{fr_symbol}", amount.replace('.', ","))
        }
        _ => format!("{amount} {currency}"),
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

/// "a, b and c" / "a, b y c".
fn join_list(items: &[String], locale: &str) -> String {
    let and = if locale == "es" { " y " } else { " and " };
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{}{and}{}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// Keys of [`order_vars`] that an order may not have a value for: every
/// template must guard them (see `Templates::check_guards`).
pub const OPTIONAL_KEYS: &[&str] = &[
    "name",
    "items",
    "carrier",
    "tracking_number",
    "tracking_url",
    "eta",
    "eta_date",
    "days_late",
    "trace_date",
    "shipped_date",
    "delivered_date",
    "return_deadline",
    "refund_amount",
    "refund_date",
    "refund_pending_amount",
    "refund_pending_date",
    "refund_failed_amount",
    "refund_failed_date",
    "cancelled_date",
    "out_for_delivery_date",
    "unshipped_items",
    "packages",
    "delivered_packages",
    "last_scan",
];

/// Template values for an order the shopper is allowed to see, at `view.now`.
/// A value the order does not have is left out (never an empty string), so
/// templates can tell what to say.
pub fn order_vars(
    order: &Order,
    view: &View,
    locale: &str,
    vars: &mut HashMap<&'static str, String>,
) {
    let tz = view.tz;
    let mut put = |k: &'static str, v: String| {
        if !v.trim().is_empty() {
            vars.insert(k, v);
        }
    };
    put("order_number", order.number.clone());
    put("state", state_at(order, view).name().to_string());
    let items: Vec<String> = order
        .line_items
        .iter()
        .filter(|li| !li.title.trim().is_empty())
        .map(|li| {
            if li.quantity > 1 {
                format!("{} × {}", li.quantity, li.title.trim())
            } else {
                li.title.trim().to_string()
            }
        })
        .collect();
    put("items", join_list(&items, locale));
    put(
        "total",
        human_money(&order.total_price, &order.currency, locale),
    );
    put("return_window_days", view.return_window_days.to_string());
    put("late_after_days", view.late_after_days.to_string());
    if matches!(
        order.fulfillment_status,
        crate::store::FulfillmentStatus::Partial
    ) && !order.fulfillments.is_empty()
    {
        put(
            "unshipped_items",
            join_list(&unshipped_items(order), locale),
        );
    }
    if split(order) {
        put("packages", order.fulfillments.len().to_string());
        put(
            "delivered_packages",
            order
                .fulfillments
                .iter()
                .filter(|f| is_delivered(f))
                .count()
                .to_string(),
        );
    }
    if let Some(f) = latest_fulfillment(order) {
        put("carrier", f.tracking_company.clone().unwrap_or_default());
        put(
            "tracking_number",
            f.tracking_numbers.first().cloned().unwrap_or_default(),
        );
        put(
            "tracking_url",
            f.tracking_urls.first().cloned().unwrap_or_default(),
        );
        put("shipped_date", human_date(f.created_at, tz, locale));
        if let Some(d) = f.delivered_at {
            put("delivered_date", human_date(d, tz, locale));
        }
        if let Some(c) = &f.last_checkpoint {
            put("last_scan", last_scan(c, view, locale));
        }
        if f.shipment_status == Some(ShipmentStatus::OutForDelivery) {
            put(
                "out_for_delivery_date",
                human_date(f.updated_at.unwrap_or(f.created_at), tz, locale),
            );
        }
    }
    match (days_late(order, view), due_date(order)) {
        (Some(late), Some(due)) => {
            put("eta_date", human_date(due, tz, locale));
            put("days_late", late.to_string());
            let trace = due + chrono::Duration::days(i64::from(view.late_after_days));
            if view.day(trace) > view.today() {
                put("trace_date", when(trace, view, locale));
            }
        }
        (None, Some(due)) if view.day(due) >= view.today() => {
            put("eta", when(due, view, locale));
            put("eta_date", human_date(due, tz, locale));
        }
        _ => {}
    }
    if let Some(deadline) = return_deadline(order, view) {
        put("return_deadline", human_date(deadline, tz, locale));
    }
    let with = |status: RefundStatus| order.refunds.iter().filter(move |r| r.status == status);
    if with(RefundStatus::Succeeded).next().is_some() {
        let total = sum_amounts(with(RefundStatus::Succeeded).map(|r| r.amount.as_str()));
        put(
            "refund_amount",
            human_money(&total, &order.currency, locale),
        );
        if let Some(last) = with(RefundStatus::Succeeded).map(|r| r.created_at).max() {
            put("refund_date", human_date(last, tz, locale));
        }
    }
    // Refunds on their way, or that failed, at the payment provider.
    for (status, amount_key, date_key) in [
        (
            RefundStatus::Pending,
            "refund_pending_amount",
            "refund_pending_date",
        ),
        (
            RefundStatus::Failed,
            "refund_failed_amount",
            "refund_failed_date",
        ),
    ] {
        if with(status).next().is_some() {
            let total = sum_amounts(with(status).map(|r| r.amount.as_str()));
            put(amount_key, human_money(&total, &order.currency, locale));
            if let Some(last) = with(status).map(|r| r.created_at).max() {
                put(date_key, human_date(last, tz, locale));
            }
        }
    }
    if let Some(c) = order.cancelled_at {
        put("cancelled_date", human_date(c, tz, locale));
    }
    put("ordered_date", human_date(order.created_at, tz, locale));
    if let Some(name) = order.customer.as_ref().and_then(|c| c.first_name.clone()) {
        put("name", name.trim().to_string());
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
