//! Keeping a local copy of a store's orders up to date from change
//! notifications (webhooks) that may arrive twice, late or out of order.
//!
//! Pure: the storage layer loads the stored order, calls these and writes
//! the result back in one transaction. The rule everywhere is "the newer
//! `updated_at` wins; an equal one is applied again (it is the same
//! change)"; a change without a time is applied.

use chrono::{DateTime, Utc};

use super::shopify::Decimal;
use super::{FinancialStatus, Fulfillment, FulfillmentStatus, Order, Refund, RefundStatus};

/// Whether a change stamped `incoming` may replace what was stamped
/// `stored`.
pub fn is_newer(incoming: Option<DateTime<Utc>>, stored: Option<DateTime<Utc>>) -> bool {
    match (incoming, stored) {
        (Some(i), Some(s)) => i >= s,
        _ => true,
    }
}

/// Before a whole order replaces the stored one: where the stored copy has
/// a fulfilment the incoming order also has, but stamped later (its own
/// `fulfillments/update` arrived first), the stored fulfilment is kept.
pub fn keep_newer_fulfillments(incoming: &mut Order, stored: &Order) {
    for f in &mut incoming.fulfillments {
        if let Some(s) = stored.fulfillments.iter().find(|s| s.id == f.id) {
            if !is_newer(f.updated_at, s.updated_at) {
                *f = s.clone();
            } else if f.last_checkpoint.is_none() {
                // The platform does not carry what a tracking service
                // reported: keep the scan and its facts.
                if let Some(c) = &s.last_checkpoint {
                    f.last_checkpoint = Some(c.clone());
                    f.estimated_delivery_at = f.estimated_delivery_at.or(s.estimated_delivery_at);
                    f.delivered_at = f.delivered_at.or(s.delivered_at);
                    if c.at >= f.updated_at.unwrap_or(f.created_at) {
                        f.shipment_status = s.shipment_status;
                    }
                }
            }
        }
    }
}

/// Applies one fulfilment change (`None`: it was cancelled). Returns
/// `false`, changing nothing, when the stored fulfilment is newer.
pub fn apply_fulfillment(order: &mut Order, id: &str, change: Option<Fulfillment>) -> bool {
    let at = order.fulfillments.iter().position(|f| f.id == id);
    match (at, change) {
        (Some(i), Some(f)) => {
            if !is_newer(f.updated_at, order.fulfillments[i].updated_at) {
                return false;
            }
            order.fulfillments[i] = f;
        }
        (None, Some(f)) => order.fulfillments.push(f),
        (Some(i), None) => {
            order.fulfillments.remove(i);
        }
        (None, None) => return true,
    }
    order.fulfillment_status = fulfillment_status(order);
    true
}

/// Adds a refund (once: a refund already stored only takes a new status,
/// e.g. pending → succeeded) and moves the financial status to refunded or
/// partially refunded by the refunds that went through. Returns whether
/// anything changed.
pub fn apply_refund(order: &mut Order, refund: Refund, returned: bool) -> bool {
    match order.refunds.iter_mut().find(|r| r.id == refund.id) {
        Some(stored) if stored.status == refund.status => return false,
        // A refund done stays done (a late "pending" does not undo it).
        Some(stored) if stored.status == RefundStatus::Succeeded => return false,
        Some(stored) => stored.status = refund.status,
        None => order.refunds.push(refund),
    }
    order.returned |= returned;
    let done: Vec<Decimal> = order
        .refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Succeeded)
        .filter_map(|r| Decimal::parse(&r.amount))
        .collect();
    if done.is_empty() {
        return true;
    }
    let refunded = Decimal::sum(&done);
    let total = Decimal::parse(&order.total_price);
    order.financial_status = match total {
        Some(t) if refunded.at_least(t) => FinancialStatus::Refunded,
        _ => FinancialStatus::PartiallyRefunded,
    };
    true
}

/// The order's fulfilment status from its fulfilments: every line item's
/// quantity shipped is fulfilled, some is partial. A fulfilment that lists
/// no line items counts as shipping everything (Shopify always lists them).
fn fulfillment_status(order: &Order) -> FulfillmentStatus {
    if order.fulfillments.is_empty() {
        return FulfillmentStatus::Unfulfilled;
    }
    if order.fulfillments.iter().any(|f| f.line_items.is_empty()) {
        return FulfillmentStatus::Fulfilled;
    }
    let shipped = |id: &str| -> u32 {
        order
            .fulfillments
            .iter()
            .flat_map(|f| &f.line_items)
            .filter(|(l, _)| l == id)
            .map(|(_, q)| *q)
            .sum()
    };
    if order
        .line_items
        .iter()
        .all(|l| shipped(&l.id) >= l.quantity)
    {
        FulfillmentStatus::Fulfilled
    } else {
        FulfillmentStatus::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::shopify::{parse_webhook, WebhookChange, WebhookTopic};

    fn order() -> Order {
        let body = r##"{"id": 820982911946154500, "name": "#1001", "created_at": "2026-11-30T10:00:00-05:00",
            "updated_at": "2026-11-30T10:00:00-05:00", "total_price": "40.00", "financial_status": "paid",
            "line_items": [{"id": 1, "title": "Mug", "quantity": 2, "price": "10.00"},
                           {"id": 2, "title": "Tea", "quantity": 1, "price": "20.00"}]}"##;
        match parse_webhook(WebhookTopic::OrdersCreate, body) {
            Ok(WebhookChange::Order { order, .. }) => *order,
            other => panic!("{other:?}"),
        }
    }

    fn fulfillment(updated: &str, status: &str, items: &[(&str, u32)]) -> Fulfillment {
        let items: Vec<String> = items
            .iter()
            .map(|(id, q)| format!(r#"{{"id": {id}, "quantity": {q}}}"#))
            .collect();
        let body = format!(
            r#"{{"id": 255858046, "order_id": 820982911946154500, "status": "success",
               "created_at": "2026-12-01T09:00:00Z", "updated_at": "{updated}",
               "tracking_company": "UPS", "tracking_number": "1Z2345",
               "shipment_status": "{status}", "line_items": [{}]}}"#,
            items.join(",")
        );
        match parse_webhook(WebhookTopic::FulfillmentsCreate, &body) {
            Ok(WebhookChange::Fulfillment {
                fulfillment: Some(f),
                ..
            }) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_fulfilment_arriving_sets_the_status_from_what_it_shipped() {
        let mut o = order();
        assert!(apply_fulfillment(
            &mut o,
            "255858046",
            Some(fulfillment(
                "2026-12-01T09:00:00Z",
                "in_transit",
                &[("1", 2)]
            ))
        ));
        assert_eq!(o.fulfillment_status, FulfillmentStatus::Partial);
        assert_eq!(o.fulfillments[0].tracking_numbers, ["1Z2345"]);
        let mut o2 = o.clone();
        let all = fulfillment("2026-12-01T10:00:00Z", "in_transit", &[("1", 2), ("2", 1)]);
        assert!(apply_fulfillment(&mut o2, "255858046", Some(all)));
        assert_eq!(o2.fulfillment_status, FulfillmentStatus::Fulfilled);
        assert!(apply_fulfillment(&mut o2, "255858046", None));
        assert_eq!(o2.fulfillment_status, FulfillmentStatus::Unfulfilled);
        assert!(o2.fulfillments.is_empty());
    }

    #[test]
    fn an_older_fulfilment_update_changes_nothing() {
        let mut o = order();
        let newer = fulfillment("2026-12-02T09:00:00Z", "delivered", &[("1", 2)]);
        let older = fulfillment("2026-12-01T09:00:00Z", "in_transit", &[("1", 2)]);
        assert!(apply_fulfillment(&mut o, "255858046", Some(newer.clone())));
        let before = o.clone();
        assert!(!apply_fulfillment(&mut o, "255858046", Some(older.clone())));
        assert_eq!(o, before);

        // The whole order, sent before the fulfilment changed, arrives late:
        // the newer fulfilment stays.
        let mut late = order();
        late.fulfillments = vec![older];
        keep_newer_fulfillments(&mut late, &o);
        assert_eq!(late.fulfillments, vec![newer]);
    }

    #[test]
    fn a_refund_counts_once_and_moves_the_financial_status() {
        let mut o = order();
        let body = r#"{"id": 509562969, "order_id": 820982911946154500, "created_at": "2026-12-03T10:00:00Z",
            "refund_line_items": [{"line_item_id": 2, "quantity": 1, "restock_type": "return"}],
            "transactions": [{"kind": "refund", "status": "success", "amount": "20.00"}]}"#;
        let Ok(WebhookChange::Refund {
            refund, returned, ..
        }) = parse_webhook(WebhookTopic::RefundsCreate, body)
        else {
            panic!("not a refund")
        };
        assert!(returned);
        assert!(apply_refund(&mut o, refund.clone(), returned));
        assert_eq!(o.financial_status, FinancialStatus::PartiallyRefunded);
        assert!(o.returned);
        assert!(!apply_refund(&mut o, refund.clone(), returned));
        assert_eq!(o.refunds.len(), 1);
        let mut rest = refund;
        rest.id = "509562970".into();
        assert!(apply_refund(&mut o, rest, false));
        assert_eq!(o.financial_status, FinancialStatus::Refunded);
    }

    #[test]
    fn webhook_bodies_that_are_not_what_the_topic_says_name_the_problem() {
        let e = parse_webhook(WebhookTopic::FulfillmentsUpdate, r#"{"id": 1}"#).unwrap_err();
        assert_eq!(e.to_string(), "field `order_id`: missing");
        let e = parse_webhook(WebhookTopic::OrdersUpdated, "[1]").unwrap_err();
        assert_eq!(e.to_string(), "the body must be a JSON object");
        let e = parse_webhook(WebhookTopic::OrdersUpdated, "{").unwrap_err();
        assert!(e.to_string().starts_with("line 1, column 1"), "{e}");
        let e = parse_webhook(
            WebhookTopic::OrdersUpdated,
            r##"{"name": "#1", "created_at": "2026-01-01T00:00:00Z", "updated_at": "yesterday"}"##,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("updated_at"));
        assert_eq!(WebhookTopic::parse("orders/paid"), None);
        for t in WebhookTopic::ALL {
            assert_eq!(WebhookTopic::parse(t.as_str()), Some(t));
        }
    }
}
