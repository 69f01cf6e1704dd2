//! Clients for the systems a store already uses, behind the engine's
//! `OrderService` seam (the server wires them in): one small module per
//! provider, each call under a [`resilience::Policy`] with a circuit breaker.
//!
//! Must never depend on axum, sqlx or the server: it speaks HTTP to
//! providers and converts their data into `wismo_core::store` types.

pub mod mail;
pub mod resilience;
pub mod shopify;
pub mod stripe;
pub mod trackers;
pub mod tracking;
pub mod woocommerce;

/// Whether `signature` is the base64 HMAC-SHA256 of `body` under `secret`
/// (Shopify's, AfterShip's and WooCommerce's scheme), compared in
/// constant time.
pub fn base64_hmac_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    use base64::Engine as _;
    use hmac::Mac as _;
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The base64 HMAC-SHA256 of `body` under `secret` (tests and mocks).
pub fn base64_hmac(secret: &[u8], body: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

use std::time::Duration;

/// The HTTP client every provider's client uses: a 5 s connection limit,
/// wismo's user agent, and `timeout` for a whole request where the caller
/// has no per-attempt limit of its own.
pub(crate) fn http_client(
    provider: &'static str,
    timeout: Option<Duration>,
) -> Result<reqwest::Client, IntegrationError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("wismo/", env!("CARGO_PKG_VERSION")));
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder
        .build()
        .map_err(|e| IntegrationError::Config(provider, e.to_string()))
}

/// What a store platform said to a change wismo asked for (a cancellation,
/// a new address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MutationOutcome {
    Done,
    /// The platform refused; its reason, for the shopper (`code`
    /// `NOT_FOUND` when it does not know the order).
    Refused {
        code: Option<String>,
        message: String,
    },
}

/// Why a call to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("{0} did not answer in time")]
    Timeout(&'static str),
    #[error("{0} is unavailable (circuit breaker open)")]
    CircuitOpen(&'static str),
    #[error("could not reach {provider}: {message}")]
    Connect {
        provider: &'static str,
        message: String,
    },
    #[error("{provider} answered HTTP {status}")]
    Status { provider: &'static str, status: u16 },
    #[error("{0} refused the credentials (check the access token and its scopes)")]
    Unauthorized(&'static str),
    #[error("{provider} is rate limiting us (retry in {retry_after:?})")]
    Throttled {
        provider: &'static str,
        retry_after: Duration,
    },
    #[error("{provider} sent an answer we could not read: {message}")]
    BadResponse {
        provider: &'static str,
        message: String,
    },
    #[error("{provider}: {message}")]
    Refused {
        provider: &'static str,
        message: String,
    },
    #[error("the {0} settings are incomplete: {1}")]
    Config(&'static str, String),
}

impl IntegrationError {
    /// Worth another try soon.
    pub fn is_retryable(&self) -> bool {
        match self {
            IntegrationError::Timeout(_)
            | IntegrationError::Connect { .. }
            | IntegrationError::Throttled { .. } => true,
            IntegrationError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The provider is down or unreachable (counts against its breaker).
    pub fn is_outage(&self) -> bool {
        match self {
            IntegrationError::Timeout(_)
            | IntegrationError::Connect { .. }
            | IntegrationError::CircuitOpen(_) => true,
            IntegrationError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The provider told us when to come back.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IntegrationError::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// reqwest's message without the URL (it would carry the store's address into
/// logs; harmless, but the kind of failure is what matters).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "unreadable body"
    } else {
        "request failed"
    };
    kind.to_string()
}
