//! Store data behind traits: orders, customers, shipments, refunds, cases.
//!
//! The dialogue engine only talks to [`OrderService`]; the in-memory
//! implementation ([`memory::InMemoryStore`]) loads a Shopify Admin REST API
//! order export (`{"orders": [...]}`), and the server will add a SQL one.
//!
//! OWNERSHIP NOTE (skeleton): the public types and the trait below are the
//! contract the dialogue engine codes against. Add, do not change meaning.

pub mod memory;
pub mod mirror;
pub mod shopify;
pub mod tracking;
pub mod woocommerce;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An order as the assistant sees it, normalised from the platform's format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The number shoppers use, without `#` (Shopify `name` "#1042" -> "1042").
    pub number: String,
    /// The platform's own id.
    pub id: String,
    /// Lower-cased contact email on the order.
    pub email: Option<String>,
    pub customer: Option<Customer>,
    pub created_at: DateTime<Utc>,
    pub financial_status: FinancialStatus,
    pub fulfillment_status: FulfillmentStatus,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// Decimal string, e.g. "49.99".
    pub total_price: String,
    pub line_items: Vec<LineItem>,
    pub shipping_address: Option<Address>,
    pub fulfillments: Vec<Fulfillment>,
    pub refunds: Vec<Refund>,
    /// Items sent back by the shopper and received by the store.
    pub returned: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinancialStatus {
    Pending,
    Authorized,
    PartiallyPaid,
    Paid,
    PartiallyRefunded,
    Refunded,
    Voided,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    Unfulfilled,
    Partial,
    Fulfilled,
    Restocked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub id: String,
    pub title: String,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: u32,
    /// Unit price, decimal string.
    pub price: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub name: Option<String>,
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub province: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

/// The carrier's view of a shipment (Shopify `shipment_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    LabelPrinted,
    LabelPurchased,
    Confirmed,
    InTransit,
    OutForDelivery,
    AttemptedDelivery,
    ReadyForPickup,
    Delayed,
    Failure,
    Delivered,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fulfillment {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub tracking_company: Option<String>,
    pub tracking_numbers: Vec<String>,
    pub tracking_urls: Vec<String>,
    pub shipment_status: Option<ShipmentStatus>,
    /// When the carrier expects to deliver, if known.
    pub estimated_delivery_at: Option<DateTime<Utc>>,
    /// When it was delivered, if it was.
    pub delivered_at: Option<DateTime<Utc>>,
    /// (line item id, quantity) shipped in this fulfilment.
    pub line_items: Vec<(String, u32)>,
    /// The carrier's latest scan, when a tracking service reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<Checkpoint>,
}

/// One carrier scan: when, where, what, in the canonical vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub at: DateTime<Utc>,
    pub status: tracking::TrackingStatus,
    /// The provider's finer status (`InTransit_003`, `arrived_at_facility`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_status: Option<String>,
    /// "Memphis, TN, US".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The carrier's words ("Departed FedEx hub").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// Decimal string in the order's currency.
    pub amount: String,
    pub note: Option<String>,
    /// (line item id, quantity) refunded.
    pub line_items: Vec<(String, u32)>,
    /// Where the money is: platforms' refunds are done when reported;
    /// a payment provider's may still be on their way, or have failed.
    #[serde(default)]
    pub status: RefundStatus,
}

/// A refund's progress at the payment provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    #[default]
    Succeeded,
    /// Started, not yet through (Stripe `pending`, `requires_action`).
    Pending,
    /// It did not go through (Stripe `failed`, `canceled`).
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Pending => "pending",
            RefundStatus::Failed => "failed",
        }
    }

    /// Stripe's (and our own) words for a refund's status.
    pub fn parse(s: &str) -> RefundStatus {
        match s.trim() {
            "pending" | "requires_action" => RefundStatus::Pending,
            "failed" | "canceled" | "cancelled" => RefundStatus::Failed,
            _ => RefundStatus::Succeeded,
        }
    }
}

/// A support case opened by the assistant (damage claim, missing item, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub order_number: Option<String>,
    pub kind: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("order {0} not found")]
    NotFound(String),
    /// The action is not allowed in the order's state; the reason is for humans.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The store could not be reached or failed; the assistant hands off.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// What the assistant may ask of the store. Synchronous: the engine is pure;
/// a server implementation may block on its own runtime or serve from a cache.
pub trait OrderService: Send + Sync {
    fn find_order(&self, number: &str) -> Result<Option<Order>, StoreError>;
    /// Orders whose email or customer email matches, newest first.
    fn orders_by_email(&self, email: &str) -> Result<Vec<Order>, StoreError>;
    /// Orders of a signed-in customer (by customer id), newest first.
    fn orders_by_customer(&self, customer_id: &str) -> Result<Vec<Order>, StoreError>;
    /// Cancels an order that has not been fulfilled (any part) or cancelled.
    fn cancel_order(
        &self,
        number: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError>;
    /// Replaces the shipping address of an unfulfilled, uncancelled order.
    fn change_shipping_address(&self, number: &str, address: Address) -> Result<Order, StoreError>;
    /// How old the answer about order `number` may be, when that matters:
    /// the time since its platform last told us about it, given only while
    /// the platform cannot be asked (down, or refusing). `None`: current, or
    /// unknown.
    fn stale_for(&self, _number: &str) -> Option<chrono::Duration> {
        None
    }
    /// Opens a support case and returns it.
    fn open_case(
        &self,
        order_number: Option<&str>,
        kind: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<Case, StoreError>;
}
