//! One status vocabulary for shipments, whoever reports them (Shopify's
//! fulfilment events, AfterShip, EasyPost), and carrier updates applied to
//! an order's fulfilments. docs/integrations/tracking-status.md has the
//! mapping table; keep the two in step.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Checkpoint, Order, ShipmentStatus};

/// Where a parcel is, in shoppers' terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    /// A label exists; the carrier has not scanned the parcel yet.
    PreTransit,
    InTransit,
    OutForDelivery,
    /// The carrier tried and could not deliver.
    AttemptFailed,
    ReadyForPickup,
    Delivered,
    /// The carrier says it will be late.
    Delayed,
    /// Held, damaged, lost, refused or otherwise stuck: someone should look.
    Exception,
    /// On its way back to the store.
    Returned,
}

impl TrackingStatus {
    pub const ALL: [TrackingStatus; 9] = [
        TrackingStatus::PreTransit,
        TrackingStatus::InTransit,
        TrackingStatus::OutForDelivery,
        TrackingStatus::AttemptFailed,
        TrackingStatus::ReadyForPickup,
        TrackingStatus::Delivered,
        TrackingStatus::Delayed,
        TrackingStatus::Exception,
        TrackingStatus::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrackingStatus::PreTransit => "pre_transit",
            TrackingStatus::InTransit => "in_transit",
            TrackingStatus::OutForDelivery => "out_for_delivery",
            TrackingStatus::AttemptFailed => "attempt_failed",
            TrackingStatus::ReadyForPickup => "ready_for_pickup",
            TrackingStatus::Delivered => "delivered",
            TrackingStatus::Delayed => "delayed",
            TrackingStatus::Exception => "exception",
            TrackingStatus::Returned => "returned",
        }
    }

    /// The shipment status the dialogue engine reasons about. An exception
    /// reads as a delay (the parcel is stuck; the bot offers a person), a
    /// return as a failed delivery.
    pub fn shipment_status(self) -> ShipmentStatus {
        match self {
            TrackingStatus::PreTransit => ShipmentStatus::LabelPurchased,
            TrackingStatus::InTransit => ShipmentStatus::InTransit,
            TrackingStatus::OutForDelivery => ShipmentStatus::OutForDelivery,
            TrackingStatus::AttemptFailed => ShipmentStatus::AttemptedDelivery,
            TrackingStatus::ReadyForPickup => ShipmentStatus::ReadyForPickup,
            TrackingStatus::Delivered => ShipmentStatus::Delivered,
            TrackingStatus::Delayed | TrackingStatus::Exception => ShipmentStatus::Delayed,
            TrackingStatus::Returned => ShipmentStatus::Failure,
        }
    }

    /// Shopify's shipment status (REST `shipment_status`, GraphQL
    /// `FulfillmentEventStatus`) in the canonical vocabulary.
    pub fn from_shopify(s: ShipmentStatus) -> TrackingStatus {
        match s {
            ShipmentStatus::LabelPrinted
            | ShipmentStatus::LabelPurchased
            | ShipmentStatus::Confirmed => TrackingStatus::PreTransit,
            ShipmentStatus::InTransit => TrackingStatus::InTransit,
            ShipmentStatus::OutForDelivery => TrackingStatus::OutForDelivery,
            ShipmentStatus::AttemptedDelivery => TrackingStatus::AttemptFailed,
            ShipmentStatus::ReadyForPickup => TrackingStatus::ReadyForPickup,
            ShipmentStatus::Delayed => TrackingStatus::Delayed,
            ShipmentStatus::Failure => TrackingStatus::Exception,
            ShipmentStatus::Delivered => TrackingStatus::Delivered,
        }
    }

    /// AfterShip's `tag` (`Pending`, `InfoReceived`, `InTransit`,
    /// `OutForDelivery`, `AttemptFail`, `AvailableForPickup`, `Delivered`,
    /// `Exception`, `Expired`). Exception subtags that name a return
    /// (`Exception_010` returning, `Exception_011` returned to sender) are a
    /// return, those that name a delay (`_004` customs, `_005` external
    /// factor, `_016` processing, `_017` weather, `_019` late flight) a
    /// delay. `None` for a tag that says nothing (`Pending`, `Expired`) or
    /// that is unknown.
    pub fn from_aftership(tag: &str, subtag: Option<&str>) -> Option<TrackingStatus> {
        Some(match tag {
            "InfoReceived" => TrackingStatus::PreTransit,
            "InTransit" => TrackingStatus::InTransit,
            "OutForDelivery" => TrackingStatus::OutForDelivery,
            "AttemptFail" => TrackingStatus::AttemptFailed,
            "AvailableForPickup" => TrackingStatus::ReadyForPickup,
            "Delivered" => TrackingStatus::Delivered,
            "Exception" => match subtag {
                Some("Exception_010" | "Exception_011") => TrackingStatus::Returned,
                Some(
                    "Exception_004" | "Exception_005" | "Exception_016" | "Exception_017"
                    | "Exception_019",
                ) => TrackingStatus::Delayed,
                _ => TrackingStatus::Exception,
            },
            _ => return None,
        })
    }

    /// EasyPost's Tracker `status` (`pre_transit`, `in_transit`,
    /// `out_for_delivery`, `available_for_pickup`, `delivered`,
    /// `return_to_sender`, `failure`, `cancelled`, `error`, `unknown`) with
    /// its `status_detail` where it says more (`arrived_at_destination`…,
    /// `delivery_exception`, `return_to_sender`, `address_correction`).
    pub fn from_easypost(status: &str, detail: Option<&str>) -> Option<TrackingStatus> {
        Some(match status {
            "pre_transit" => TrackingStatus::PreTransit,
            "in_transit" => match detail {
                Some("delayed") | Some("weather_delay") => TrackingStatus::Delayed,
                Some("delivery_exception" | "damaged" | "lost" | "held" | "transit_exception") => {
                    TrackingStatus::Exception
                }
                Some("delivery_attempted") | Some("delivery_rescheduled") => {
                    TrackingStatus::AttemptFailed
                }
                _ => TrackingStatus::InTransit,
            },
            "out_for_delivery" => TrackingStatus::OutForDelivery,
            "available_for_pickup" => TrackingStatus::ReadyForPickup,
            "delivered" => TrackingStatus::Delivered,
            "return_to_sender" => TrackingStatus::Returned,
            "failure" | "error" => TrackingStatus::Exception,
            _ => return None,
        })
    }
}

/// What a tracking service says about one tracking number.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingUpdate {
    pub tracking_number: String,
    pub carrier: Option<String>,
    pub status: TrackingStatus,
    pub sub_status: Option<String>,
    pub estimated_delivery_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The newest scan (its status is `status`).
    pub checkpoint: Option<Checkpoint>,
    /// When the service last changed the tracking (orders updates: an
    /// older one never replaces a newer one).
    pub updated_at: DateTime<Utc>,
}

impl TrackingUpdate {
    /// The time this update speaks for: its newest scan, else its own.
    pub fn as_of(&self) -> DateTime<Utc> {
        self.checkpoint
            .as_ref()
            .map(|c| c.at)
            .unwrap_or(self.updated_at)
    }
}

/// Applies `update` to every fulfilment of `order` carrying its tracking
/// number. Returns whether anything changed: an update older than the scan
/// already stored changes nothing.
pub fn apply_tracking(order: &mut Order, update: &TrackingUpdate) -> bool {
    let mut changed = false;
    for f in order.fulfillments.iter_mut().filter(|f| {
        f.tracking_numbers
            .iter()
            .any(|t| t == &update.tracking_number)
    }) {
        if f.last_checkpoint
            .as_ref()
            .is_some_and(|c| c.at > update.as_of())
        {
            continue;
        }
        let before = f.clone();
        f.shipment_status = Some(update.status.shipment_status());
        if update.estimated_delivery_at.is_some() {
            f.estimated_delivery_at = update.estimated_delivery_at;
        }
        if update.status == TrackingStatus::Delivered {
            f.delivered_at = update
                .delivered_at
                .or(f.delivered_at)
                .or(Some(update.as_of()));
        }
        if f.tracking_company.is_none() {
            f.tracking_company.clone_from(&update.carrier);
        }
        f.last_checkpoint = Some(update.checkpoint.clone().unwrap_or(Checkpoint {
            at: update.as_of(),
            status: update.status,
            sub_status: update.sub_status.clone(),
            location: None,
            message: None,
        }));
        f.updated_at = Some(
            f.updated_at
                .map_or(update.as_of(), |u| u.max(update.as_of())),
        );
        changed |= *f != before;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::shopify::{parse_webhook, WebhookChange, WebhookTopic};

    fn order() -> Order {
        let body = r##"{"id": 1, "name": "#T-1", "created_at": "2026-11-30T10:00:00Z", "fulfillment_status": "fulfilled",
            "line_items": [{"id": 11, "title": "Lamp", "quantity": 1, "price": "30.00"}],
            "fulfillments": [{"id": 5, "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z",
              "tracking_company": "FedEx", "tracking_number": "794600001234", "shipment_status": "confirmed",
              "line_items": [{"id": 11, "quantity": 1}]}]}"##;
        match parse_webhook(WebhookTopic::OrdersCreate, body) {
            Ok(WebhookChange::Order { order, .. }) => *order,
            other => panic!("{other:?}"),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn update(status: TrackingStatus, when: &str) -> TrackingUpdate {
        TrackingUpdate {
            tracking_number: "794600001234".into(),
            carrier: Some("fedex".into()),
            status,
            sub_status: None,
            estimated_delivery_at: Some(at("2026-12-05T20:00:00Z")),
            delivered_at: None,
            checkpoint: Some(Checkpoint {
                at: at(when),
                status,
                sub_status: None,
                location: Some("Memphis, TN, US".into()),
                message: Some("Departed FedEx hub".into()),
            }),
            updated_at: at(when),
        }
    }

    #[test]
    fn updates_land_on_the_fulfilment_with_the_number_and_never_go_backwards() {
        let mut o = order();
        assert!(apply_tracking(
            &mut o,
            &update(TrackingStatus::InTransit, "2026-12-02T03:14:00Z")
        ));
        let f = &o.fulfillments[0];
        assert_eq!(f.shipment_status, Some(ShipmentStatus::InTransit));
        assert_eq!(
            f.tracking_company.as_deref(),
            Some("FedEx"),
            "Shopify's name kept"
        );
        assert_eq!(f.estimated_delivery_at, Some(at("2026-12-05T20:00:00Z")));
        assert_eq!(
            f.last_checkpoint
                .as_ref()
                .and_then(|c| c.location.as_deref()),
            Some("Memphis, TN, US")
        );
        // The same update again changes nothing; an older one neither.
        assert!(!apply_tracking(
            &mut o,
            &update(TrackingStatus::InTransit, "2026-12-02T03:14:00Z")
        ));
        assert!(!apply_tracking(
            &mut o,
            &update(TrackingStatus::PreTransit, "2026-12-01T12:00:00Z")
        ));
        assert_eq!(
            o.fulfillments[0].shipment_status,
            Some(ShipmentStatus::InTransit)
        );
        // Delivered: the time is the scan's.
        assert!(apply_tracking(
            &mut o,
            &update(TrackingStatus::Delivered, "2026-12-04T15:02:00Z")
        ));
        assert_eq!(
            o.fulfillments[0].delivered_at,
            Some(at("2026-12-04T15:02:00Z"))
        );
        // Another number: untouched.
        let mut other = update(TrackingStatus::Exception, "2026-12-06T00:00:00Z");
        other.tracking_number = "1Z999".into();
        assert!(!apply_tracking(&mut o, &other));
    }

    #[test]
    fn every_providers_statuses_map_into_the_vocabulary() {
        assert_eq!(
            TrackingStatus::from_aftership("Exception", Some("Exception_011")),
            Some(TrackingStatus::Returned)
        );
        assert_eq!(
            TrackingStatus::from_aftership("Exception", Some("Exception_017")),
            Some(TrackingStatus::Delayed)
        );
        assert_eq!(
            TrackingStatus::from_aftership("Exception", Some("Exception_002")),
            Some(TrackingStatus::Exception)
        );
        assert_eq!(
            TrackingStatus::from_aftership("AttemptFail", None),
            Some(TrackingStatus::AttemptFailed)
        );
        assert_eq!(TrackingStatus::from_aftership("Pending", None), None);
        assert_eq!(
            TrackingStatus::from_easypost("return_to_sender", None),
            Some(TrackingStatus::Returned)
        );
        assert_eq!(
            TrackingStatus::from_easypost("in_transit", Some("weather_delay")),
            Some(TrackingStatus::Delayed)
        );
        assert_eq!(TrackingStatus::from_easypost("unknown", None), None);
        assert_eq!(
            TrackingStatus::from_shopify(ShipmentStatus::Failure),
            TrackingStatus::Exception
        );
        for s in TrackingStatus::ALL {
            let json = serde_json::to_string(&s).expect("json");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
