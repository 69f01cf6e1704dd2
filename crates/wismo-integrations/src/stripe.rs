//! Stripe webhooks for "where is my refund?": `Stripe-Signature`
//! (`t=…,v1=…`: hex HMAC-SHA256 of `"{t}.{raw body}"` under the endpoint's
//! `whsec_…` secret; any `v1` may match, for secret rotation) with a
//! timestamp tolerance, and refund events read into wismo's refunds.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// Why a `Stripe-Signature` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// Missing parts, no matching `v1`.
    Invalid,
    /// Signed longer ago (or further ahead) than the tolerance.
    Stale { age_secs: i64 },
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks `header` against `body` under `secret` at `now`.
pub fn verify(
    secret: &str,
    body: &[u8],
    header: &str,
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.extend(decode_hex(v)),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Invalid)?;
    let matches = v1.iter().any(|sig| {
        Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map(|mut m| {
                m.update(t.to_string().as_bytes());
                m.update(b".");
                m.update(body);
                m.verify_slice(sig).is_ok()
            })
            .unwrap_or(false)
    });
    if !matches {
        return Err(SignatureError::Invalid);
    }
    let age = now.timestamp() - t;
    if age.abs() > tolerance_secs {
        return Err(SignatureError::Stale { age_secs: age });
    }
    Ok(())
}

/// The header Stripe would send for `body` at `t` (tests and mocks).
pub fn sign(secret: &str, body: &[u8], t: i64) -> String {
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("t={t},v1={}", hex(&m.finalize().into_bytes()))
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Debug, Deserialize)]
struct Data {
    object: Value,
}

#[derive(Debug, Deserialize)]
struct RawRefund {
    id: String,
    amount: i64,
    currency: String,
    status: Option<String>,
    created: i64,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
    reason: Option<String>,
}

/// A refund Stripe reports, with the order it belongs to when the payment
/// carries one in its metadata (`order_number`, else `order_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct StripeRefund {
    pub id: String,
    /// Decimal, in `currency`'s major unit ("25.00").
    pub amount: String,
    /// Upper-case ISO 4217.
    pub currency: String,
    /// `pending`, `requires_action`, `succeeded`, `failed`, `canceled`.
    pub status: String,
    pub created: DateTime<Utc>,
    pub order_number: Option<String>,
    pub order_id: Option<String>,
    pub reason: Option<String>,
}

/// What one Stripe event says.
#[derive(Debug, Clone, PartialEq)]
pub enum StripeEvent {
    Refund {
        event_id: String,
        refund: StripeRefund,
    },
    /// `charge.dispute.created` (and other `charge.dispute.*`): the
    /// shopper's bank is disputing the payment.
    Dispute {
        event_id: String,
        dispute: StripeDispute,
    },
    /// Another event type: acknowledged, not used.
    Other { event_id: String, kind: String },
}

/// A dispute Stripe reports.
#[derive(Debug, Clone, PartialEq)]
pub struct StripeDispute {
    pub id: String,
    pub amount: String,
    pub currency: String,
    /// `warning_needs_response`, `needs_response`, `under_review`, `won`,
    /// `lost`, … (kept as Stripe says it).
    pub status: String,
    /// `fraudulent`, `product_not_received`, … (Stripe's words).
    pub reason: Option<String>,
    pub charge: Option<String>,
    /// When the dispute's own metadata names the order (integrations that
    /// copy it there); Stripe does not put the payment's metadata on it.
    pub order_number: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawDispute {
    id: String,
    amount: i64,
    currency: String,
    status: String,
    reason: Option<String>,
    charge: Option<Value>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct RawCharge {
    id: String,
    currency: String,
    #[serde(default)]
    amount_refunded: i64,
    created: i64,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
    #[serde(default)]
    refunds: Option<RawList>,
}

#[derive(Debug, Deserialize)]
struct RawList {
    #[serde(default)]
    data: Vec<Value>,
}

/// Currencies without minor units (Stripe's zero-decimal list, the ones
/// stores use most).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

fn major_units(amount: i64, currency: &str) -> String {
    if ZERO_DECIMAL.contains(&currency) {
        return format!("{amount}.00");
    }
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// Reads an event body (`refund.created`, `refund.updated`,
/// `refund.failed`, `charge.refunded`, `charge.dispute.*`; others are
/// [`StripeEvent::Other`]).
pub fn parse(body: &str) -> Result<StripeEvent, String> {
    let e: Event = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let object = e.data.object;
    let r: RawRefund = match e.kind.as_str() {
        "refund.created" | "refund.updated" | "refund.failed" => {
            serde_json::from_value(object).map_err(|err| format!("data.object: {err}"))?
        }
        "charge.refunded" => charge_refund(object)?,
        k if k.starts_with("charge.dispute.") => {
            return Ok(StripeEvent::Dispute {
                event_id: e.id,
                dispute: dispute(object)?,
            })
        }
        _ => {
            return Ok(StripeEvent::Other {
                event_id: e.id,
                kind: e.kind,
            })
        }
    };
    let currency = r.currency.to_ascii_uppercase();
    let meta = |k: &str| {
        r.metadata
            .get(k)
            .map(|v| v.trim().trim_start_matches('#').to_string())
            .filter(|v| !v.is_empty())
    };
    Ok(StripeEvent::Refund {
        event_id: e.id,
        refund: StripeRefund {
            amount: major_units(r.amount, &currency),
            created: DateTime::from_timestamp(r.created, 0).ok_or("`created` is not a time")?,
            status: r.status.unwrap_or_else(|| "pending".into()),
            order_number: meta("order_number"),
            order_id: meta("order_id"),
            id: r.id,
            currency,
            reason: r.reason,
        },
    })
}

/// `charge.refunded`: the charge's newest refund (its list is on the
/// charge in older API versions), with the charge's metadata; in newer
/// versions, where the list is left out, the charge's refunded amount as
/// one refund.
fn charge_refund(object: Value) -> Result<RawRefund, String> {
    let c: RawCharge = serde_json::from_value(object).map_err(|e| format!("data.object: {e}"))?;
    let newest = c
        .refunds
        .map(|l| l.data)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| serde_json::from_value::<RawRefund>(v).ok())
        .max_by_key(|r| r.created);
    Ok(match newest {
        Some(mut r) => {
            for (k, v) in c.metadata {
                r.metadata.entry(k).or_insert(v);
            }
            r
        }
        None => RawRefund {
            id: format!("{}-refunded", c.id),
            amount: c.amount_refunded,
            currency: c.currency,
            status: Some("succeeded".into()),
            created: c.created,
            metadata: c.metadata,
            reason: None,
        },
    })
}

fn dispute(object: Value) -> Result<StripeDispute, String> {
    let d: RawDispute = serde_json::from_value(object).map_err(|e| format!("data.object: {e}"))?;
    let currency = d.currency.to_ascii_uppercase();
    Ok(StripeDispute {
        amount: major_units(d.amount, &currency),
        currency,
        status: d.status,
        reason: d.reason,
        charge: match d.charge {
            Some(Value::String(id)) => Some(id),
            Some(Value::Object(c)) => c.get("id").and_then(Value::as_str).map(str::to_string),
            _ => None,
        },
        order_number: d
            .metadata
            .get("order_number")
            .map(|v| v.trim().trim_start_matches('#').to_string())
            .filter(|v| !v.is_empty()),
        id: d.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_with_their_time_and_rotation() {
        // The vector of docs/integrations/stripe.md (openssl dgst -sha256 -hmac).
        let body = br#"{"id":"evt_1","object":"event"}"#;
        let header =
            "t=1700000000,v1=0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd";
        assert_eq!(sign("whsec_test_secret", body, 1_700_000_000), header);
        let at = |t: i64| DateTime::from_timestamp(t, 0).expect("time");
        assert_eq!(
            verify("whsec_test_secret", body, header, at(1_700_000_100), 300),
            Ok(())
        );
        assert_eq!(
            verify("whsec_test_secret", body, header, at(1_700_000_400), 300),
            Err(SignatureError::Stale { age_secs: 400 })
        );
        assert_eq!(
            verify("whsec_other", body, header, at(1_700_000_000), 300),
            Err(SignatureError::Invalid)
        );
        // During a secret rotation two v1 signatures come; either may match.
        let good = header.split("v1=").nth(1).unwrap_or_default();
        let rotated = format!("t=1700000000,v1={},v1={good}", "00".repeat(32));
        assert_eq!(
            verify("whsec_test_secret", body, &rotated, at(1_700_000_000), 300),
            Ok(())
        );
        assert_eq!(
            verify("whsec_test_secret", body, "v1=abc", at(1_700_000_000), 300),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn refund_events_become_refunds_in_major_units() {
        let body = r##"{"id": "evt_1", "object": "event", "type": "refund.updated",
          "data": {"object": {"id": "re_1", "object": "refund", "amount": 2550, "currency": "usd",
            "status": "succeeded", "created": 1765000000, "metadata": {"order_number": "#1042"}}}}"##;
        let StripeEvent::Refund { refund, .. } = parse(body).expect("parses") else {
            panic!("a refund");
        };
        assert_eq!(refund.amount, "25.50");
        assert_eq!(refund.currency, "USD");
        assert_eq!(refund.order_number.as_deref(), Some("1042"));
        assert_eq!(major_units(1200, "JPY"), "1200.00");
        let other = r#"{"id": "evt_2", "type": "payout.paid", "data": {"object": {}}}"#;
        assert!(matches!(parse(other), Ok(StripeEvent::Other { .. })));
        // A dispute must be a dispute.
        let empty = r#"{"id": "evt_3", "type": "charge.dispute.created", "data": {"object": {}}}"#;
        assert!(parse(empty).is_err());
        let dispute = r##"{"id": "evt_4", "type": "charge.dispute.created", "data": {"object": {
            "id": "dp_1", "object": "dispute", "amount": 1000, "currency": "eur", "status": "needs_response",
            "reason": "fraudulent", "charge": {"id": "ch_1"}, "metadata": {"order_number": "#77"}}}}"##;
        let Ok(StripeEvent::Dispute { dispute, .. }) = parse(dispute) else {
            panic!("a dispute");
        };
        assert_eq!(
            (
                dispute.amount.as_str(),
                dispute.currency.as_str(),
                dispute.charge.as_deref(),
                dispute.order_number.as_deref()
            ),
            ("10.00", "EUR", Some("ch_1"), Some("77"))
        );
        // charge.refunded with the refund list (older API versions): the newest.
        let charge = r#"{"id": "evt_5", "type": "charge.refunded", "data": {"object": {
            "id": "ch_2", "object": "charge", "currency": "usd", "amount_refunded": 3000, "created": 1765000000,
            "metadata": {"order_number": "1050"},
            "refunds": {"object": "list", "data": [
              {"id": "re_a", "amount": 1000, "currency": "usd", "status": "succeeded", "created": 1765000100},
              {"id": "re_b", "amount": 2000, "currency": "usd", "status": "pending", "created": 1765000200}]}}}}"#;
        let Ok(StripeEvent::Refund { refund, .. }) = parse(charge) else {
            panic!("a refund");
        };
        assert_eq!(
            (
                refund.id.as_str(),
                refund.amount.as_str(),
                refund.status.as_str(),
                refund.order_number.as_deref()
            ),
            ("re_b", "20.00", "pending", Some("1050"))
        );
        assert!(parse("{}").is_err());
    }
}
