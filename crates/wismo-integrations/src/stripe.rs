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
    /// Another event type (disputes included): acknowledged, not used.
    Other { event_id: String, kind: String },
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
/// `refund.failed`; others are [`StripeEvent::Other`]).
pub fn parse(body: &str) -> Result<StripeEvent, String> {
    let e: Event = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if !matches!(
        e.kind.as_str(),
        "refund.created" | "refund.updated" | "refund.failed"
    ) {
        return Ok(StripeEvent::Other {
            event_id: e.id,
            kind: e.kind,
        });
    }
    let r: RawRefund =
        serde_json::from_value(e.data.object).map_err(|err| format!("data.object: {err}"))?;
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
        let other = r#"{"id": "evt_2", "type": "charge.dispute.created", "data": {"object": {}}}"#;
        assert!(matches!(parse(other), Ok(StripeEvent::Other { .. })));
        assert!(parse("{}").is_err());
    }
}
