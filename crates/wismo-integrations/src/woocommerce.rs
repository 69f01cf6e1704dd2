//! WooCommerce webhooks: `X-WC-Webhook-Signature` is the base64
//! HMAC-SHA256 of the raw body under the webhook's secret. WooCommerce
//! sends no timestamp and never retries; the order's `date_modified_gmt`
//! (inside the signed body) is what a replay check can trust.

/// Whether `signature` signs `body` under `secret`.
pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    crate::base64_hmac_matches(secret.as_bytes(), body, signature)
}

/// The header value WooCommerce would send (tests and mocks).
pub fn sign(secret: &str, body: &[u8]) -> String {
    crate::base64_hmac(secret.as_bytes(), body)
}

/// The unsigned ping WooCommerce sends when a webhook is saved
/// (`webhook_id=<n>`, form-encoded); it must be answered 200.
pub fn is_ping(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.trim().strip_prefix("webhook_id="))
        .is_some_and(|n| !n.is_empty() && n.len() < 20 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_pings() {
        // Vector: openssl dgst -sha256 -hmac test_secret -binary <<< '{"id":123}' (no newline) | base64.
        assert_eq!(
            sign("test_secret", br#"{"id":123}"#),
            "vZIq/Gp6BvbQkbfdOgC8Gvkf2D9STcGOMfuHBs7yZrs="
        );
        assert!(verify(
            "test_secret",
            br#"{"id":123}"#,
            "vZIq/Gp6BvbQkbfdOgC8Gvkf2D9STcGOMfuHBs7yZrs="
        ));
        assert!(!verify(
            "other",
            br#"{"id":123}"#,
            "vZIq/Gp6BvbQkbfdOgC8Gvkf2D9STcGOMfuHBs7yZrs="
        ));
        assert!(is_ping(b"webhook_id=42"));
        assert!(!is_ping(b"webhook_id=42&x=1"));
        assert!(!is_ping(b"{}"));
    }
}
