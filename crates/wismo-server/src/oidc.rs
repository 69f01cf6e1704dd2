//! Agent single sign-on through an external OpenID Connect provider
//! (`oidc_issuer`, `oidc_client_id`, …; off unless configured).
//!
//! The authorization code flow with PKCE:
//!
//! * `GET /v1/agent/oidc/start` fetches (and caches) the provider's
//!   discovery document, makes a random `state`, `nonce` and PKCE verifier,
//!   keeps them server-side (in the database, so the callback may reach any
//!   instance; sealed; single use; [`PENDING_TTL`]), binds
//!   the attempt to the browser with an HttpOnly SameSite=Lax cookie holding
//!   the state, and redirects (302) to the provider's authorization endpoint
//!   with `code_challenge_method=S256`.
//! * `GET /v1/agent/oidc/callback?code=&state=` takes the attempt by its
//!   state (a replayed state finds nothing), checks the cookie, exchanges
//!   the code at the token endpoint (client_secret_post, with the PKCE
//!   verifier), and verifies the ID token with [`crate::shopper_jwt::Verifier`]
//!   (RS256/ES256 keys from the provider's `jwks_uri`; `iss` = the configured
//!   issuer, `aud` = the client id, `exp`/`nbf`/`iat`), then checks `nonce`,
//!   `email` and `email_verified = true`. The email must be an existing
//!   agent's (no accounts are made here); the agent then gets the same
//!   session as a password sign-in and is redirected to `/console`.
//!
//! Every refusal is `oidc_failed` to the client; the reason goes to the
//! security event log (`agent_oidc_failed`) and the audit trail.
//!
//! Depends on reqwest, ring and the config; never on wismo-core's engine.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::{parse_jwks_url, OidcConfig, ShopperJwtConfig};
use crate::error::ApiError;
use crate::security::{ClientIp, Https};
use crate::sessions::new_secret;
use crate::shopper_jwt::Verifier;
use crate::AppState;
use wismo_store::SsoPending;

/// The stored key of an attempt: the SHA-256 of its state, hex (the state
/// itself only travels in the browser's cookie and the provider's redirect).
fn state_hash(csrf: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(csrf.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How long a started sign-in may take at the provider.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// How long the discovery document is used before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// Time limit of one request to the provider.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest discovery or token response read, in bytes.
const MAX_BODY: usize = 256 * 1024;
/// The cookie binding a sign-in attempt to the browser that started it.
pub const STATE_COOKIE: &str = "wismo_oidc";
const CALLBACK_PATH: &str = "/v1/agent/oidc/callback";

struct Provider {
    authorization_endpoint: String,
    token_endpoint: String,
    verifier: Arc<Verifier>,
    fetched: Instant,
}

/// The OIDC client: configuration, cached discovery, attempts in flight.
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
}

/// Why a sign-in was refused (the security event's detail; never told to
/// the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    ProviderError,
    UnknownState,
    StateCookieMismatch,
    CodeRejected,
    IdToken(&'static str),
    WrongNonce,
    NoEmail,
    EmailNotVerified,
    UnknownAgent,
}

impl Failure {
    fn reason(&self) -> &'static str {
        match self {
            Failure::ProviderError => "provider_error",
            Failure::UnknownState => "unknown_state",
            Failure::StateCookieMismatch => "state_cookie_mismatch",
            Failure::CodeRejected => "code_rejected",
            Failure::IdToken(r) => r,
            Failure::WrongNonce => "wrong_nonce",
            Failure::NoEmail => "no_email",
            Failure::EmailNotVerified => "email_not_verified",
            Failure::UnknownAgent => "unknown_agent",
        }
    }
}

impl Oidc {
    pub fn new(config: OidcConfig) -> anyhow::Result<Self> {
        use anyhow::Context;
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the OIDC HTTP client")?;
        Ok(Self {
            config,
            http,
            provider: tokio::sync::Mutex::new(None),
        })
    }

    async fn get_bytes(&self, res: reqwest::Response) -> Option<Vec<u8>> {
        let mut res = res;
        if !res.status().is_success() {
            return None;
        }
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = res.chunk().await {
            if body.len() + chunk.len() > MAX_BODY {
                return None;
            }
            body.extend_from_slice(&chunk);
        }
        Some(body)
    }

    /// The provider's endpoints and key verifier, from the cached discovery
    /// document or a fresh fetch.
    async fn provider(&self) -> Result<Arc<Provider>, ApiError> {
        let mut cached = self.provider.lock().await;
        if let Some(p) = cached.as_ref() {
            if p.fetched.elapsed() < DISCOVERY_TTL {
                return Ok(p.clone());
            }
        }
        match self.discover().await {
            Ok(p) => {
                let p = Arc::new(p);
                *cached = Some(p.clone());
                Ok(p)
            }
            Err(why) => {
                tracing::warn!(error = %why, "cannot fetch the OIDC discovery document");
                // A stale document beats none during a provider hiccup.
                cached.clone().ok_or(ApiError::OidcUnavailable)
            }
        }
    }

    async fn discover(&self) -> Result<Provider, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let res = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = res.status().as_u16();
        let body = self
            .get_bytes(res)
            .await
            .ok_or_else(|| format!("answered {status} or too large"))?;
        let doc: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let field = |name: &str| {
            doc.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("the document has no {name}"))
        };
        if field("issuer")? != self.config.issuer {
            return Err("the document's issuer is not oidc_issuer".into());
        }
        let endpoint = |name: &str| -> Result<String, String> {
            let v = field(name)?;
            parse_jwks_url(&v).map_err(|e| format!("{name}: {e}"))?;
            Ok(v)
        };
        let authorization_endpoint = endpoint("authorization_endpoint")?;
        let token_endpoint = endpoint("token_endpoint")?;
        let jwks_uri = endpoint("jwks_uri")?;
        let verifier = Verifier::new(ShopperJwtConfig {
            secret: None,
            jwks_url: Some(jwks_uri),
            issuer: self.config.issuer.clone(),
            audience: self.config.client_id.clone(),
            leeway: Duration::from_secs(60),
            max_lifetime: Duration::from_secs(24 * 3600),
            jwks_ttl: Duration::from_secs(3600),
            jwks_min_refetch: Duration::from_secs(60),
        })
        .map_err(|e| e.to_string())?;
        Ok(Provider {
            authorization_endpoint,
            token_endpoint,
            verifier: Arc::new(verifier),
            fetched: Instant::now(),
        })
    }

    /// Records an attempt by its state, for whichever instance gets the
    /// callback.
    async fn remember(state: &AppState, csrf: &str, pending: &SsoPending) -> Result<(), ApiError> {
        let now = state.sessions.clock.now();
        let ttl = chrono::Duration::from_std(PENDING_TTL).unwrap_or(chrono::Duration::zero());
        state
            .sessions
            .db
            .sso_remember(&state_hash(csrf), pending, now, now + ttl)
            .await?;
        Ok(())
    }

    /// The attempt with this state, removed (single use, on every instance),
    /// if not expired.
    async fn take(state: &AppState, csrf: &str) -> Result<Option<SsoPending>, ApiError> {
        let now = state.sessions.clock.now();
        Ok(state.sessions.db.sso_take(&state_hash(csrf), now).await?)
    }

    /// Exchanges the code; the ID token, or why not.
    async fn exchange(
        &self,
        provider: &Provider,
        code: &str,
        verifier: &str,
    ) -> Result<String, Result<Failure, ApiError>> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_url.as_str()),
            ("client_id", self.config.client_id.as_str()),
            ("code_verifier", verifier),
        ];
        if let Some(secret) = &self.config.client_secret {
            form.push(("client_secret", secret.expose()));
        }
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let res = self
            .http
            .post(&provider.token_endpoint)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "the OIDC token endpoint is unreachable");
                Err(ApiError::OidcUnavailable)
            })?;
        let status = res.status();
        if status.is_client_error() {
            return Err(Ok(Failure::CodeRejected));
        }
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), "the OIDC token endpoint failed");
            return Err(Err(ApiError::OidcUnavailable));
        }
        let body = self
            .get_bytes(res)
            .await
            .ok_or(Err(ApiError::OidcUnavailable))?;
        let doc: Value =
            serde_json::from_slice(&body).map_err(|_| Err(ApiError::OidcUnavailable))?;
        doc.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(Ok(Failure::IdToken("no_id_token")))
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The PKCE S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

fn oidc(state: &AppState) -> Result<&Oidc, ApiError> {
    state.oidc.as_ref().ok_or(ApiError::OidcNotConfigured)
}

fn secure(state: &AppState, https: Https) -> &'static str {
    if https.0 || state.config.hsts {
        "; Secure"
    } else {
        ""
    }
}

/// `GET /v1/agent/oidc`: whether single sign-on is on (the console shows
/// its button then).
pub async fn status(State(state): State<AppState>) -> Json<Value> {
    let on = state.oidc.is_some();
    Json(json!({
        "enabled": on,
        "start": on.then_some("/v1/agent/oidc/start"),
    }))
}

/// `GET /v1/agent/oidc/start`: redirects to the provider.
pub async fn start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    https: Https,
) -> Result<Response, ApiError> {
    let oidc = oidc(&state)?;
    state
        .security
        .hit(&format!("oidc_ip:{ip}"), state.config.rate_limit_sign_in)
        .await
        .map_err(|retry_after| ApiError::RateLimited {
            scope: "sign_in",
            retry_after,
        })?;
    let provider = oidc.provider().await?;
    let csrf = new_secret()?;
    let nonce = new_secret()?;
    let verifier = new_secret()?;
    let mut url = reqwest::Url::parse(&provider.authorization_endpoint)
        .map_err(|_| ApiError::OidcUnavailable)?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &oidc.config.client_id)
        .append_pair("redirect_uri", &oidc.config.redirect_url)
        .append_pair("scope", &oidc.config.scopes)
        .append_pair("state", &csrf)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    Oidc::remember(&state, &csrf, &SsoPending { nonce, verifier }).await?;
    let mut res = StatusCode::FOUND.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        h.insert(header::LOCATION, v);
    }
    let cookie = format!(
        "{STATE_COOKIE}={csrf}; HttpOnly; SameSite=Lax; Path=/v1/agent/oidc; Max-Age={}{}",
        PENDING_TTL.as_secs(),
        secure(&state, https)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /v1/agent/oidc/callback`: the provider sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    https: Https,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let oidc = oidc(&state)?;
    let limits = &state.security;
    let config = &state.config;
    let limited =
        |scope: &'static str| move |retry_after: u64| ApiError::RateLimited { scope, retry_after };
    limits
        .hit(&format!("oidc_ip:{ip}"), config.rate_limit_sign_in)
        .await
        .map_err(limited("sign_in"))?;
    let failures = format!("oidc_failures:{ip}");
    limits
        .check(&failures, config.sign_in_lockout)
        .await
        .map_err(limited("sign_in_locked"))?;
    match finish(&state, oidc, &headers, &q).await {
        Ok(agent) => {
            limits.clear(&failures).await;
            let (_token, cookie) = crate::agents::start_session(&state, &agent, https).await?;
            state
                .audit(
                    (agent.id.as_str(), "agent"),
                    "agent.sign_in",
                    Some(&agent.id),
                    json!({"method": "oidc"}),
                )
                .await?;
            tracing::info!(agent = %agent.id, "agent signed in through OIDC");
            let mut res = StatusCode::SEE_OTHER.into_response();
            let h = res.headers_mut();
            h.insert(header::LOCATION, HeaderValue::from_static("/console"));
            h.append(header::SET_COOKIE, cookie);
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{STATE_COOKIE}=; HttpOnly; SameSite=Lax; Path=/v1/agent/oidc; Max-Age=0{}",
                secure(&state, https)
            )) {
                h.append(header::SET_COOKIE, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        Err(Err(e)) => Err(e),
        Err(Ok(why)) => {
            refused(&state, ip, why, &failures).await?;
            Err(ApiError::OidcFailed)
        }
    }
}

async fn refused(
    state: &AppState,
    ip: IpAddr,
    why: Failure,
    failures: &str,
) -> Result<(), ApiError> {
    let limits = &state.security;
    limits.event_with_detail(
        "agent_oidc_failed",
        ip,
        "-",
        CALLBACK_PATH,
        "sign_in",
        why.reason(),
    );
    if limits.record(failures, state.config.sign_in_lockout).await {
        limits.event(
            "agent_sign_in_locked",
            ip,
            "-",
            CALLBACK_PATH,
            "sign_in_locked",
        );
    }
    state
        .audit(
            ("anonymous", "agent"),
            "agent.sign_in_failed",
            None,
            json!({"method": "oidc", "reason": why.reason()}),
        )
        .await
}

/// The agent the callback signs in, or why not (`Ok`) / a server-side
/// trouble (`Err`).
async fn finish(
    state: &AppState,
    oidc: &Oidc,
    headers: &HeaderMap,
    q: &CallbackQuery,
) -> Result<wismo_store::Agent, Result<Failure, ApiError>> {
    if q.error.is_some() {
        // Still spend the state, so it cannot be retried.
        if let Some(s) = &q.state {
            Oidc::take(state, s).await.map_err(Err)?;
        }
        return Err(Ok(Failure::ProviderError));
    }
    let csrf = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or(Ok(Failure::UnknownState))?;
    let pending = Oidc::take(state, csrf)
        .await
        .map_err(Err)?
        .ok_or(Ok(Failure::UnknownState))?;
    let cookie = crate::agents::cookie_value(headers, STATE_COOKIE).unwrap_or("");
    if !ring_eq(cookie.as_bytes(), csrf.as_bytes()) {
        return Err(Ok(Failure::StateCookieMismatch));
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or(Ok(Failure::CodeRejected))?;
    let provider = oidc.provider().await.map_err(Err)?;
    let id_token = oidc.exchange(&provider, code, &pending.verifier).await?;
    let claims = provider
        .verifier
        .verify_claims(&id_token, state.sessions.clock.now())
        .await
        .map_err(|r| match r {
            crate::shopper_jwt::Rejection::KeysUnavailable => Err(ApiError::OidcUnavailable),
            r => Ok(Failure::IdToken(r.reason())),
        })?;
    if claims.get("nonce").and_then(Value::as_str) != Some(pending.nonce.as_str()) {
        return Err(Ok(Failure::WrongNonce));
    }
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| m.contains('@') && m.len() <= 254 && !m.chars().any(char::is_control))
        .ok_or(Ok(Failure::NoEmail))?;
    if claims.get("email_verified") != Some(&Value::Bool(true)) {
        return Err(Ok(Failure::EmailNotVerified));
    }
    state
        .sessions
        .db
        .agent_by_email(email)
        .await
        .map_err(|e| Err(ApiError::from(e)))?
        .ok_or(Ok(Failure::UnknownAgent))
}

/// Constant-time equality (the state cookie against the state).
fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
