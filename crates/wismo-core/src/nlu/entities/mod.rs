//! Built-in entity extraction for the store domain.
//!
//! OWNERSHIP NOTE (for the skeleton): the public types below are the contract the
//! rest of the NLU uses. Their fields may gain members but should not change meaning.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One entity found in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Entity type: a built-in name (`order_number`, `tracking_number`, `email`,
    /// `phone`, `postal_code`, `date`, `money`, `product`) or a name from the
    /// training data (`regex:`, `lookup:` or annotated examples).
    #[serde(rename = "type")]
    pub kind: String,
    /// The normalised value.
    pub value: EntityValue,
    /// The raw text as it stood in the message.
    pub text: String,
    /// Offsets in Unicode scalar values (chars) into the message; `end` is exclusive.
    pub start: usize,
    pub end: usize,
    /// Which extractor found it.
    pub extractor: Extractor,
}

/// Which part of the NLU found an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extractor {
    /// The built-in rules of this module.
    Builtin,
    /// A `regex:` entry of the training data.
    Regex,
    /// A `lookup:` entry of the training data.
    Lookup,
    /// Values learned from annotated training examples.
    Learned,
}

/// A normalised entity value. Serialised untagged, so JSON consumers see a plain
/// string for simple values and an object for structured ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EntityValue {
    /// Order numbers (`"1042"`, `"ORD-2024-000123"`), emails (lower-cased),
    /// phones (E.164, `"+14155550123"`) and custom entities (after synonyms).
    Text(String),
    Tracking {
        number: String,
        carrier: Carrier,
    },
    PostalCode {
        code: String,
        country: PostalCountry,
    },
    Date {
        date: NaiveDate,
    },
    Money {
        /// Decimal amount as a string, exactly as many decimals as the currency has (`"12.50"`).
        amount: String,
        /// ISO 4217 code.
        currency: String,
        /// Amount in the currency's minor unit (cents).
        minor_units: i64,
    },
    Product {
        id: String,
        name: String,
        /// Match quality in (0, 1]; 1 is an exact match.
        score: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Carrier {
    #[serde(rename = "UPS")]
    Ups,
    #[serde(rename = "USPS")]
    Usps,
    #[serde(rename = "FedEx")]
    FedEx,
    #[serde(rename = "DHL")]
    Dhl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PostalCountry {
    US,
    GB,
    CA,
    DE,
}

/// A product of the store's catalogue, for product-name matching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    /// Other names shoppers use for it.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Per-store configuration of the built-in extractors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntityConfig {
    /// Extra order-number patterns (regex syntax of the `regex` crate). The whole
    /// match, or capture group 1 when present, becomes the value.
    #[serde(default)]
    pub order_number_patterns: Vec<String>,
    /// The store's catalogue.
    #[serde(default)]
    pub catalogue: Vec<Product>,
    /// ISO 3166 alpha-2 region for phone numbers written without a country code.
    pub default_phone_region: String,
    /// ISO 4217 currency for amounts written with a bare `$` or no symbol.
    pub default_currency: String,
}

impl Default for EntityConfig {
    fn default() -> Self {
        Self {
            order_number_patterns: Vec::new(),
            catalogue: Vec::new(),
            default_phone_region: "US".into(),
            default_currency: "USD".into(),
        }
    }
}

/// When and where a message was written, for resolving relative dates.
#[derive(Debug, Clone, Copy)]
pub struct ExtractionContext {
    pub now: DateTime<Utc>,
    pub tz: Tz,
}

#[derive(Debug, thiserror::Error)]
pub enum EntityConfigError {
    #[error("order number pattern {pattern:?} is not a valid regex: {reason}")]
    BadOrderPattern { pattern: String, reason: String },
    #[error(
        "unknown phone region {0:?} (expected an ISO 3166 alpha-2 code such as US, GB, CA, DE)"
    )]
    BadRegion(String),
    #[error("unknown currency {0:?} (expected an ISO 4217 code such as USD, EUR, GBP)")]
    BadCurrency(String),
}

/// The compiled built-in extractors.
#[derive(Debug, Clone)]
pub struct EntityExtractor {
    config: EntityConfig,
}

impl EntityExtractor {
    pub fn new(config: &EntityConfig) -> Result<Self, EntityConfigError> {
        Ok(Self {
            config: config.clone(),
        })
    }

    /// All built-in entities in `text`, ordered by `start`, never overlapping.
    pub fn extract(&self, text: &str, ctx: &ExtractionContext) -> Vec<Entity> {
        let _ = (text, ctx, &self.config);
        Vec::new()
    }
}

/// The demo store's catalogue (temporary stub until the entity module lands).
pub fn demo_catalogue() -> Vec<Product> {
    Vec::new()
}
