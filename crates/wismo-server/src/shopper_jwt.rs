//! Shopper identity: the customer tokens (JWTs) a store's own site hands the
//! widget, naming the signed-in customer.
//!
//! [`Verifier::verify`] checks a compact JWS the way an OAuth 2.0 / OIDC
//! resource server does, and only then believes its claims:
//!
//! * the algorithm is one this server is configured for: `HS256` with the
//!   shared secret (`shopper_jwt_secret`), `RS256`/`ES256` with a key from
//!   the store's JWKS (`shopper_jwks_url`). Anything else (`none`, `HS256`
//!   when only a JWKS is configured — the "algorithm confusion" attack —,
//!   `RS384`, …) is refused before any key is looked at;
//! * a JWKS key is found by the token's `kid` and must fit the algorithm
//!   (an RSA key for RS256, a P-256 key for ES256, its `alg` if it names
//!   one, `use` = `sig` if given);
//! * the signature is checked (ring; constant-time for HMAC) before any
//!   claim is read;
//! * `iss` and `aud` must be the configured ones, `exp` is required, `exp`,
//!   `nbf` and `iat` are checked against the clock with a leeway, and the
//!   token may live at most `shopper_jwt_max_lifetime`;
//! * `sub` (the store's customer id) and/or `email` name the customer.
//!
//! The JWKS is fetched on first use and cached for `shopper_jwks_cache_ttl`;
//! an unknown `kid` (a rotated key) triggers a refetch, but at most one per
//! `shopper_jwks_min_refetch`, so tokens with made-up `kid`s cannot make
//! wismo hammer the store's server.
//!
//! Why a token was refused ([`Rejection::reason`]) goes to the security
//! event log only; the client always hears the same `invalid_customer_token`.
//!
//! [`Verifier::verify_claims`] (all of the above but the customer) is also
//! how [`crate::oidc`] checks an agent's ID token from the OIDC provider.
//!
//! Depends on ring, reqwest and the config; never on the database or axum.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ring::{hmac, signature};
use serde_json::{Map, Value};
use wismo_core::dialogue::SignedIn;

use crate::config::ShopperJwtConfig;

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Largest JWKS document read, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Time limit of one JWKS fetch.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a customer token was refused. Logged as a security event; never
/// told to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the token is not a well-formed JWS")]
    Malformed,
    #[error("the token's algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("the token names no key of the store's JWKS")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("the token has no expiry")]
    MissingExpiry,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("the token lives longer than allowed")]
    TooLongLived,
    #[error("the token names no customer")]
    NoCustomer,
    #[error("the store's JWKS could not be fetched")]
    KeysUnavailable,
}

impl Rejection {
    /// The reason as the security event names it (`scope`).
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed_token",
            Rejection::AlgorithmNotAllowed => "alg_not_allowed",
            Rejection::UnknownKey => "unknown_kid",
            Rejection::BadSignature => "forged_token",
            Rejection::WrongIssuer => "wrong_issuer",
            Rejection::WrongAudience => "wrong_audience",
            Rejection::MissingExpiry => "missing_exp",
            Rejection::Expired => "expired_token",
            Rejection::NotYetValid => "not_yet_valid",
            Rejection::IssuedInFuture => "issued_in_future",
            Rejection::TooLongLived => "lifetime_too_long",
            Rejection::NoCustomer => "no_customer",
            Rejection::KeysUnavailable => "jwks_unavailable",
        }
    }
}

/// A public key from the JWKS.
#[derive(Debug, Clone)]
enum Jwk {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        alg: Option<String>,
    },
    /// A P-256 point, uncompressed (`04 || x || y`).
    Ec { point: Vec<u8>, alg: Option<String> },
}

#[derive(Default)]
struct JwksCache {
    keys: HashMap<String, Jwk>,
    /// When the keys were last fetched successfully.
    fetched: Option<Instant>,
    /// When a fetch was last tried (successfully or not).
    attempted: Option<Instant>,
}

/// Verifies customer tokens; holds the JWKS cache.
pub struct Verifier {
    config: ShopperJwtConfig,
    http: reqwest::Client,
    jwks: tokio::sync::Mutex<JwksCache>,
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("answered {0}")]
    Status(u16),
    #[error("the document is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("not a JWKS: {0}")]
    Invalid(String),
}

fn b64(part: &str) -> Result<Vec<u8>, Rejection> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Rejection::Malformed)
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, Rejection> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Rejection::Malformed),
    }
}

/// A NumericDate claim: absent, or seconds since the epoch.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(Rejection::Malformed),
    }
}

impl Verifier {
    pub fn new(config: ShopperJwtConfig) -> anyhow::Result<Self> {
        use anyhow::Context;
        let http = reqwest::Client::builder()
            .timeout(JWKS_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the JWKS HTTP client")?;
        Ok(Self {
            config,
            http,
            jwks: tokio::sync::Mutex::new(JwksCache::default()),
        })
    }

    /// The customer a token names, if it is genuine and valid at `now`.
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<SignedIn, Rejection> {
        let claims = self.verify_claims(token, now).await?;
        customer(&claims)
    }

    /// All claims of a token, once its signature, `iss`, `aud`, `exp`,
    /// `nbf`, `iat` and lifetime check out (the OIDC ID token check reuses
    /// this and then reads its own claims).
    pub async fn verify_claims(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Map<String, Value>, Rejection> {
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        let header = json_object(&b64(h)?)?;
        let sig = b64(s)?;
        // Extensions this verifier does not understand must not be ignored.
        if header.contains_key("crit") {
            return Err(Rejection::Malformed);
        }
        let signed = &token[..h.len() + 1 + p.len()];
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        match alg {
            "HS256" => {
                let Some(secret) = &self.config.secret else {
                    return Err(Rejection::AlgorithmNotAllowed);
                };
                let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
                hmac::verify(&key, signed.as_bytes(), &sig).map_err(|_| Rejection::BadSignature)?;
            }
            "RS256" | "ES256" if self.config.jwks_url.is_some() => {
                let kid = header
                    .get("kid")
                    .and_then(Value::as_str)
                    .filter(|k| !k.is_empty() && k.len() <= 256)
                    .ok_or(Rejection::UnknownKey)?;
                let key = self.key(kid).await?;
                verify_with(&key, alg, signed.as_bytes(), &sig)?;
            }
            _ => return Err(Rejection::AlgorithmNotAllowed),
        }
        let claims = json_object(&b64(p)?)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<(), Rejection> {
        let c = &self.config;
        if claims.get("iss").and_then(Value::as_str) != Some(c.issuer.as_str()) {
            return Err(Rejection::WrongIssuer);
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == c.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&c.audience)),
            _ => false,
        };
        if !aud_ok {
            return Err(Rejection::WrongAudience);
        }
        let now = now.timestamp();
        let leeway = i64::try_from(c.leeway.as_secs()).unwrap_or(i64::MAX);
        let exp = numeric_date(claims, "exp")?.ok_or(Rejection::MissingExpiry)?;
        if now >= exp.saturating_add(leeway) {
            return Err(Rejection::Expired);
        }
        let nbf = numeric_date(claims, "nbf")?;
        if nbf.is_some_and(|n| n > now.saturating_add(leeway)) {
            return Err(Rejection::NotYetValid);
        }
        let iat = numeric_date(claims, "iat")?;
        if iat.is_some_and(|i| i > now.saturating_add(leeway)) {
            return Err(Rejection::IssuedInFuture);
        }
        let start = iat.or(nbf).unwrap_or(now);
        let max = i64::try_from(c.max_lifetime.as_secs()).unwrap_or(i64::MAX);
        if exp.saturating_sub(start) > max.saturating_add(leeway) {
            return Err(Rejection::TooLongLived);
        }
        Ok(())
    }
}

/// The customer named by a checked token's `sub` and/or `email`.
fn customer(claims: &Map<String, Value>) -> Result<SignedIn, Rejection> {
    let customer_id = match claims.get("sub") {
        None => None,
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control) =>
        {
            Some(s.clone())
        }
        Some(_) => return Err(Rejection::NoCustomer),
    };
    let email = match claims.get("email") {
        None => None,
        Some(Value::String(m))
            if m.contains('@') && m.len() <= 254 && !m.chars().any(char::is_control) =>
        {
            Some(m.trim().to_lowercase())
        }
        Some(_) => return Err(Rejection::NoCustomer),
    };
    if customer_id.is_none() && email.is_none() {
        return Err(Rejection::NoCustomer);
    }
    Ok(SignedIn { customer_id, email })
}

impl Verifier {
    /// The JWKS key `kid`: from the cache while it is fresh; otherwise (or
    /// for an unknown `kid`) refetched, at most once per `min_refetch`.
    async fn key(&self, kid: &str) -> Result<Jwk, Rejection> {
        let mut cache = self.jwks.lock().await;
        let fresh = cache
            .fetched
            .is_some_and(|t| t.elapsed() < self.config.jwks_ttl);
        if fresh {
            if let Some(k) = cache.keys.get(kid) {
                return Ok(k.clone());
            }
        }
        let may_fetch = cache
            .attempted
            .is_none_or(|t| t.elapsed() >= self.config.jwks_min_refetch);
        if may_fetch {
            cache.attempted = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "fetched the store's JWKS");
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                // Keep what we had: a store's outage should not sign
                // everyone out at once.
                Err(e) => tracing::warn!(error = %e, "cannot fetch the store's JWKS"),
            }
        }
        match cache.keys.get(kid) {
            Some(k) => Ok(k.clone()),
            None if cache.fetched.is_none() => Err(Rejection::KeysUnavailable),
            None => Err(Rejection::UnknownKey),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Jwk>, FetchError> {
        let Some(url) = &self.config.jwks_url else {
            return Ok(HashMap::new());
        };
        let mut res = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        if !res.status().is_success() {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body).map_err(FetchError::Invalid)
    }
}

/// The usable signing keys of a JWKS document, by `kid`. Keys of other
/// types or curves, for encryption, or without a `kid` are skipped.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Jwk>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no \"keys\" array")?;
    let mut out = HashMap::new();
    for k in keys {
        let field = |name: &str| k.get(name).and_then(Value::as_str);
        let bytes = |name: &str| field(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
        let Some(kid) = field("kid").filter(|k| !k.is_empty()) else {
            continue;
        };
        if field("use").is_some_and(|u| u != "sig") {
            continue;
        }
        let alg = field("alg").map(str::to_string);
        let jwk = match field("kty") {
            Some("RSA") => match (bytes("n"), bytes("e")) {
                (Some(n), Some(e)) => Jwk::Rsa { n, e, alg },
                _ => continue,
            },
            Some("EC") if field("crv") == Some("P-256") => match (bytes("x"), bytes("y")) {
                (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                    let mut point = Vec::with_capacity(65);
                    point.push(4);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    Jwk::Ec { point, alg }
                }
                _ => continue,
            },
            _ => continue,
        };
        out.insert(kid.to_string(), jwk);
    }
    Ok(out)
}

fn verify_with(key: &Jwk, alg: &str, signed: &[u8], sig: &[u8]) -> Result<(), Rejection> {
    let fits = |key_alg: &Option<String>| key_alg.as_deref().is_none_or(|a| a == alg);
    match (key, alg) {
        (Jwk::Rsa { n, e, alg: a }, "RS256") if fits(a) => signature::RsaPublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, sig)
        .map_err(|_| Rejection::BadSignature),
        (Jwk::Ec { point, alg: a }, "ES256") if fits(a) => {
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(signed, sig)
                .map_err(|_| Rejection::BadSignature)
        }
        _ => Err(Rejection::AlgorithmNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keeps_only_usable_signing_keys() {
        let doc = br#"{"keys":[
            {"kty":"EC","crv":"P-256","kid":"a","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
            {"kty":"EC","crv":"P-384","kid":"b","x":"AA","y":"AA"},
            {"kty":"RSA","kid":"c","n":"AQAB","e":"AQAB","use":"enc"},
            {"kty":"RSA","n":"AQAB","e":"AQAB"},
            {"kty":"oct","kid":"d","k":"AQAB"}
        ]}"#;
        let keys = parse_jwks(doc).expect("parses");
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["a"]);
        assert!(parse_jwks(b"{}").is_err());
    }
}
