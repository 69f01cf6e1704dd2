//! HTTP hardening: security headers, CORS for the configured shop origins,
//! rate limits (in-process or shared through Redis), abuse blocking and
//! security events.
//!
//! * [`middleware`] (the outermost layer) finds the client IP (the peer, or
//!   with a trusted proxy the right-most untrusted `X-Forwarded-For`
//!   address), refuses blocked IPs and IPs over `rate_limit_ip`, answers
//!   CORS preflights, and adds the security headers (CSP, nosniff, …) and
//!   CORS headers to every response. 401/403/429 answers are security
//!   events and count towards blocking the IP (`abuse_block`).
//! * Handlers use [`Limits`] (`state.security`) for the finer limits: per
//!   conversation, per sign-in email and IP, failed verifications per IP.
//!
//! Limits are kept by a [`crate::limits::Limiter`]: fixed windows per key
//! in this process's memory ([`Limits::purge`] drops expired ones every
//! minute), or, with `redis_url`, GCRA in Redis shared by every instance
//! (see `docs/scaling.md`).
//!
//! Security events are `tracing` events with target `wismo::security` and
//! the fields `event`, `ip`, `subject`, `path`, `scope` and `detail` (see
//! `docs/security-http.md`); with `security_log` set they are also appended
//! as JSON lines (schema `wismo.security/1`, [`crate::security_log`]); and
//! they are kept, last ones first out, for tests and diagnostics
//! ([`Limits::recent_events`]).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, OnceLock};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::config::{Config, IpNet, Rate};
use crate::error::{ApiError, ProblemInfo};
use crate::limits::Limiter;
use crate::AppState;

/// Target of the security events.
pub const TARGET: &str = "wismo::security";

/// The client's IP as the security middleware determined it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// The client IP: the peer, unless the peer is a trusted proxy; then the
/// right-most `X-Forwarded-For` address that is not a trusted proxy (or the
/// left-most one when all are). An unparsable entry ends the walk at the
/// last address known good.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else {
            return peer;
        };
        hops.extend(v.split(',').map(str::trim).filter(|h| !h.is_empty()));
    }
    let mut current = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return current;
        };
        current = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    current
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

/// Whether a trusted proxy (the peer) says the client used HTTPS
/// (`X-Forwarded-Proto: https`, its first value).
fn forwarded_https(peer: IpAddr, headers: &HeaderMap, config: &Config) -> bool {
    let peer = peer.to_canonical();
    if !config.trusted_proxies.iter().any(|n| n.contains(peer)) {
        return false;
    }
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// A short, stable pseudonym of an email for logs and limiter keys: the
/// first 16 hex digits of the SHA-256 of the trimmed, lowercased address.
pub fn email_hash(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("email:{hex}")
}

/// One security event, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    pub event: &'static str,
    pub ip: IpAddr,
    pub subject: String,
    pub path: String,
    pub scope: &'static str,
    /// A stable code with more detail (the problem code of a refusal,
    /// such as `insufficient_scope`), or empty. Never personal data.
    pub detail: String,
    /// When it happened (real time, even with a frozen clock).
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Whether the client reached wismo over HTTPS: wismo serves TLS itself,
/// or a trusted proxy says so with `X-Forwarded-Proto: https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Https(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Https {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Https>().copied().unwrap_or_default())
    }
}

/// Security events kept in memory.
const RECENT_EVENTS: usize = 256;

/// The server's limiters and blocks, and its security events.
#[derive(Default)]
pub struct Limits {
    limiter: Limiter,
    events: Mutex<VecDeque<SecurityEvent>>,
    /// The `security_log` file, when configured.
    log: Option<crate::security_log::SecurityLog>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Limits {
    /// The `security_log` writer, when configured.
    pub fn log(&self) -> Option<&crate::security_log::SecurityLog> {
        self.log.as_ref()
    }

    /// Limits kept by `limiter`, whose events also go to `log`.
    pub fn new(limiter: Limiter, log: Option<crate::security_log::SecurityLog>) -> Limits {
        Limits {
            limiter,
            log,
            ..Limits::default()
        }
    }

    /// Where the limits are kept.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Counts one hit on `key`: `Err(retry_after_secs)` when the limit is
    /// reached (the hit is not counted). No rate: always allowed.
    pub async fn hit(&self, key: &str, rate: Option<Rate>) -> Result<(), u64> {
        self.limiter.hit(key, rate).await
    }

    /// Whether `key` is used up (without counting): `Err(retry_after)`.
    pub async fn check(&self, key: &str, rate: Option<Rate>) -> Result<(), u64> {
        self.limiter.check(key, rate).await
    }

    /// Counts a failure on `key`; true when this one used up the allowance.
    pub async fn record(&self, key: &str, rate: Option<Rate>) -> bool {
        self.limiter.record(key, rate).await
    }

    /// Forgets `key` (a successful sign-in clears its failures).
    pub async fn clear(&self, key: &str) {
        self.limiter.clear(key).await;
    }

    /// Seconds left of the IP's block, if blocked.
    pub async fn blocked(&self, ip: IpAddr) -> Option<u64> {
        self.limiter.blocked(ip).await
    }

    /// Drops expired in-process windows and blocks.
    pub fn purge(&self) -> usize {
        self.limiter.purge()
    }

    /// Logs a security event (target `wismo::security`, and the
    /// `security_log` file) and keeps it. `event` is a stable name (listed
    /// in SECURITY.md); `subject` must never be personal data (use
    /// [`email_hash`], a conversation id, an IP or `-`).
    pub fn event(
        &self,
        event: &'static str,
        ip: IpAddr,
        subject: &str,
        path: &str,
        scope: &'static str,
    ) {
        self.event_with_detail(event, ip, subject, path, scope, "");
    }

    /// [`Limits::event`] with a detail code (e.g. the problem code).
    pub fn event_with_detail(
        &self,
        event: &'static str,
        ip: IpAddr,
        subject: &str,
        path: &str,
        scope: &'static str,
        detail: &str,
    ) {
        tracing::warn!(target: "wismo::security", event, ip = %ip, subject, path, scope, detail, "security event");
        let e = SecurityEvent {
            event,
            ip,
            subject: subject.chars().take(200).collect(),
            path: path.chars().take(200).collect(),
            scope,
            detail: detail.chars().take(100).collect(),
            at: chrono::Utc::now(),
        };
        if let Some(log) = &self.log {
            log.write(&e);
        }
        let mut q = lock(&self.events);
        if q.len() >= RECENT_EVENTS {
            q.pop_front();
        }
        q.push_back(e);
    }

    /// The latest security events, oldest first.
    pub fn recent_events(&self) -> Vec<SecurityEvent> {
        lock(&self.events).iter().cloned().collect()
    }

    /// Counts a 401/403/429 answer against the IP; blocks it (and logs
    /// `ip_blocked`) when that fills `abuse_block`.
    pub async fn penalise(&self, config: &Config, ip: IpAddr, path: &str) {
        let key = format!("abuse:{ip}");
        if self.record(&key, config.abuse_block).await {
            self.clear(&key).await;
            self.limiter.block(ip, config.abuse_block_time).await;
            self.event_with_detail(
                "ip_blocked",
                ip,
                &ip.to_string(),
                path,
                "blocked",
                "abuse_block",
            );
        }
    }

    /// The shopper-message limits, before a turn: per conversation, and,
    /// when the conversation is verifying, failed verifications per client
    /// IP (a flood from one address: 429 `rate_limited`, scope
    /// `verification`) and per order number. `Ok(true)`: the order in
    /// question has had too many failed checks (from any conversation or
    /// address), so this turn makes no order check and the engine tells the
    /// shopper so and offers a person.
    pub async fn before_turn(
        &self,
        config: &Config,
        ip: IpAddr,
        conversation: &str,
        path: &str,
        verifying: bool,
        order: Option<&str>,
    ) -> Result<bool, ApiError> {
        if verifying {
            if let Err(retry_after) = self
                .check(&format!("verify:{ip}"), config.verification_failures)
                .await
            {
                return Err(ApiError::RateLimited {
                    scope: "verification",
                    retry_after,
                });
            }
        }
        self.hit(
            &format!("conv:{conversation}"),
            config.rate_limit_conversation,
        )
        .await
        .map_err(|retry_after| ApiError::RateLimited {
            scope: "conversation",
            retry_after,
        })?;
        let locked = match order {
            Some(o) if verifying => self
                .check(
                    &format!("verify_order:{o}"),
                    config.verification_failures_order,
                )
                .await
                .is_err(),
            _ => false,
        };
        if locked {
            self.event(
                "verification_locked",
                ip,
                conversation,
                path,
                "verification_order",
            );
        }
        Ok(locked)
    }

    /// After a turn: counts (and logs) its failed verifications, per IP and
    /// per order number.
    pub async fn after_turn(
        &self,
        config: &Config,
        ip: IpAddr,
        conversation: &str,
        path: &str,
        failed: u32,
        order: Option<&str>,
    ) {
        for _ in 0..failed {
            self.record(&format!("verify:{ip}"), config.verification_failures)
                .await;
            if let Some(o) = order {
                self.record(
                    &format!("verify_order:{o}"),
                    config.verification_failures_order,
                )
                .await;
            }
            self.event(
                "verification_failed",
                ip,
                conversation,
                path,
                "verification",
            );
        }
    }
}

/// The conversation id of a `/v1/conversations/{id}…` or
/// `/v1/agent/conversations/{id}…` path ("-" otherwise): the subject of
/// the events about it.
fn subject_of(path: &str) -> String {
    let rest = path
        .strip_prefix("/v1/conversations/")
        .or_else(|| path.strip_prefix("/v1/agent/conversations/"));
    match rest.and_then(|r| r.split('/').next()) {
        Some(id) if crate::sessions::plausible_id(id) => id.to_string(),
        _ => "-".to_string(),
    }
}

fn is_shopper_path(path: &str) -> bool {
    path == "/v1/conversations"
        || path.starts_with("/v1/conversations/")
        || path == "/v1/widget/config"
}

/// Base64 (standard alphabet, padded), for CSP hashes.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `'sha256-…'` sources of the inline `<script>` elements of the pages.
fn inline_script_hashes(pages: &[&str]) -> String {
    let mut out = Vec::new();
    for page in pages {
        let mut rest = *page;
        while let Some(start) = rest.find("<script") {
            rest = &rest[start..];
            let Some(open_end) = rest.find('>') else {
                break;
            };
            let tag = &rest[..open_end];
            let body_start = open_end + 1;
            let Some(len) = rest[body_start..].find("</script>") else {
                break;
            };
            if !tag.contains(" src=") {
                let body = &rest[body_start..body_start + len];
                let h = format!("'sha256-{}'", base64(&Sha256::digest(body.as_bytes())));
                if !out.contains(&h) {
                    out.push(h);
                }
            }
            rest = &rest[body_start + len..];
        }
    }
    out.join(" ")
}

fn script_hashes() -> &'static str {
    static HASHES: OnceLock<String> = OnceLock::new();
    HASHES.get_or_init(|| {
        inline_script_hashes(&[crate::DEMO_PAGE, crate::CONSOLE_PAGE, crate::openapi::PAGE])
    })
}

/// The CSP of the HTML pages. `host` (the request's, when it is a plain
/// host[:port]) adds its ws:// and wss:// origins to `connect-src`.
pub fn page_csp(config: &Config, host: Option<&str>) -> String {
    let ws = match host {
        Some(h) => format!(" ws://{h} wss://{h}"),
        None => String::new(),
    };
    let hashes = script_hashes();
    let hashes = if hashes.is_empty() {
        String::new()
    } else {
        format!(" {hashes}")
    };
    format!(
        "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'{ws}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {}",
        config.frame_ancestors
    )
}

fn plain_host(headers: &HeaderMap) -> Option<String> {
    let h = headers.get(header::HOST)?.to_str().ok()?;
    let ok = !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then(|| h.to_ascii_lowercase())
}

/// Cookie-authenticated state-changing requests (the agent console's
/// cookie, no `Authorization` header) must come from this server's own
/// pages: `Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin`
/// that is neither `public_url`'s origin nor `http(s)://<Host>`, is 403
/// `cross_site_request`; and their bodies must be JSON (415
/// `unsupported_media_type`, which also rules out the form and text/plain
/// bodies a cross-site page can send without a preflight). Requests with a
/// bearer token are not affected (no browser sends one on its own).
fn check_cookie_request(
    config: &Config,
    method: &Method,
    headers: &HeaderMap,
    host: Option<&str>,
) -> Result<(), ApiError> {
    if !matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) || headers.contains_key(header::AUTHORIZATION)
        || crate::agents::cookie_value(headers, crate::agents::COOKIE).is_none_or(str::is_empty)
    {
        return Ok(());
    }
    let text = |name: header::HeaderName| {
        headers.get(name).map(|v| {
            v.to_str()
                .unwrap_or("(not text)")
                .trim()
                .to_ascii_lowercase()
        })
    };
    if let Some(site) = text(HeaderName::from_static("sec-fetch-site")) {
        if site != "same-origin" && site != "none" {
            return Err(ApiError::CrossSiteRequest);
        }
    }
    if let Some(origin) = text(header::ORIGIN) {
        let own = reqwest::Url::parse(config.public_base())
            .ok()
            .map(|u| u.origin().ascii_serialization().to_ascii_lowercase());
        let same = own.as_deref() == Some(origin.as_str())
            || host.is_some_and(|h| {
                origin == format!("http://{h}") || origin == format!("https://{h}")
            });
        if !same {
            return Err(ApiError::CrossSiteRequest);
        }
    }
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || text(header::CONTENT_LENGTH).is_some_and(|n| n != "0");
    if has_body {
        let ct = text(header::CONTENT_TYPE);
        let mime = ct
            .as_deref()
            .and_then(|c| c.split(';').next())
            .map(str::trim);
        match mime {
            Some(m) if m == "application/json" || m.ends_with("+json") => {}
            Some(m) => return Err(ApiError::UnsupportedMediaType(m.to_string())),
            None => return Err(ApiError::UnsupportedMediaType("no Content-Type".into())),
        }
    }
    Ok(())
}

const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type";
const EXPOSE_HEADERS: &str = "location, retry-after";

/// The outermost layer: client IP, blocks and per-IP limits, CORS,
/// security headers and the security events of 401/403/429 answers.
pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let config = &state.config;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let ip = client_ip(peer, req.headers(), &config.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    let https = config.serves_tls() || forwarded_https(peer, req.headers(), config);
    req.extensions_mut().insert(Https(https));
    let path = req.uri().path().to_string();
    let host = plain_host(req.headers());
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let allowed_origin =
        origin.filter(|o| is_shopper_path(&path) && config.cors_origins.iter().any(|c| c == o));
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let exempt = path == "/healthz" || path == "/readyz";
    // A 401 without any credentials is "not signed in" (the console asks
    // /v1/agent/me on load), not a forged token: not an event.
    let h = req.headers();
    let has_credentials = h.contains_key(header::AUTHORIZATION)
        || h.get_all(header::COOKIE)
            .iter()
            .any(|c| c.as_bytes().windows(12).any(|w| w == b"wismo_agent="))
        || h.get_all(header::SEC_WEBSOCKET_PROTOCOL).iter().any(|p| {
            p.as_bytes()
                .windows(6)
                .any(|w| w.eq_ignore_ascii_case(b"bearer"))
        });
    let limits = &state.security;

    let blocked = if exempt {
        None
    } else {
        limits.blocked(ip).await
    };
    let ip_limited = if exempt || blocked.is_some() {
        Ok(())
    } else {
        limits.hit(&format!("ip:{ip}"), config.rate_limit_ip).await
    };
    let admin_limited = if path.starts_with("/v1/admin/") && blocked.is_none() && ip_limited.is_ok()
    {
        let token = crate::api::bearer(req.headers()).unwrap_or("");
        let digest = Sha256::digest(token.as_bytes());
        let key: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        limits
            .hit(&format!("admin:{key}"), config.rate_limit_admin)
            .await
    } else {
        Ok(())
    };
    let mut res = if let Some(retry_after) = blocked {
        ApiError::RateLimited {
            scope: "blocked",
            retry_after,
        }
        .into_response()
    } else if let Err(retry_after) = ip_limited {
        ApiError::RateLimited {
            scope: "ip",
            retry_after,
        }
        .into_response()
    } else if let Err(retry_after) = admin_limited {
        ApiError::RateLimited {
            scope: "admin",
            retry_after,
        }
        .into_response()
    } else if preflight && is_shopper_path(&path) {
        // Answered here: allowed origins get the Allow-* headers below,
        // others an empty answer the browser refuses.
        let mut r = StatusCode::NO_CONTENT.into_response();
        if allowed_origin.is_some() {
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        r
    } else if let Err(e) =
        check_cookie_request(config, req.method(), req.headers(), host.as_deref())
    {
        e.into_response()
    } else {
        next.run(req).await
    };

    // Security events and abuse counting.
    let status = res.status();
    if matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
    ) {
        let info = res.extensions().get::<ProblemInfo>().copied();
        let code = info.map_or("", |i| i.code);
        let scope = info.and_then(|i| i.scope).unwrap_or("");
        // A blocked IP's refusals do not extend its block; a disabled admin
        // API is configuration, not abuse.
        let anonymous = status == StatusCode::UNAUTHORIZED && !has_credentials;
        if scope != "blocked" && code != "admin_disabled" && !anonymous {
            let subject = match scope {
                "ip" => ip.to_string(),
                _ => subject_of(&path),
            };
            let event = match status {
                StatusCode::UNAUTHORIZED => "unauthorized",
                StatusCode::FORBIDDEN => "forbidden",
                _ => "rate_limited",
            };
            // Failed sign-ins are logged by the handler, with the email's hash.
            if code != "invalid_credentials" {
                limits.event_with_detail(event, ip, &subject, &path, scope, code);
            }
            limits.penalise(config, ip, &path).await;
        }
    }

    let h = res.headers_mut();
    if let Some(o) = allowed_origin {
        if let Ok(v) = HeaderValue::from_str(&o) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }
    if is_shopper_path(&path) {
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let is_html = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let csp = if is_html {
        page_csp(config, host.as_deref())
    } else {
        "default-src 'none'; frame-ancestors 'none'".to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if !is_html || config.frame_ancestors == "'none'" {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if config.hsts || config.serves_tls() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &str) -> Vec<IpNet> {
        crate::config::parse_ip_nets(s).expect("nets")
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.5".parse().expect("ip");
        let h = xff("203.0.113.9, 198.51.100.7, 10.0.0.4");
        assert_eq!(client_ip(peer, &h, &[]), peer);
        assert_eq!(
            client_ip(peer, &h, &nets("10.0.0.0/8")),
            "198.51.100.7".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            client_ip(peer, &h, &nets("10.0.0.0/8, 198.51.100.7")),
            "203.0.113.9".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            client_ip(peer, &xff("garbage, 10.0.0.3"), &nets("10.0.0.0/8")),
            "10.0.0.3".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            client_ip(peer, &HeaderMap::new(), &nets("10.0.0.0/8")),
            peer
        );
        assert_eq!(
            client_ip(peer, &xff("[2001:db8::1]:443"), &nets("10.0.0.0/8")),
            "2001:db8::1".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn windows_fill_and_expire() {
        let l = crate::limits::Local::default();
        let rate = Some(Rate {
            limit: 2,
            per: std::time::Duration::from_millis(200),
        });
        assert!(l.hit("k", rate).is_ok());
        assert!(l.hit("k", rate).is_ok());
        assert!(l.hit("k", rate).is_err());
        assert!(l.hit("k", None).is_ok());
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert!(l.hit("k", rate).is_ok());
        assert!(!l.record("f", rate));
        assert!(l.record("f", rate), "the second failure fills the window");
        assert!(l.check("f", rate).is_err());
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert_eq!(l.purge(), 2);
    }

    #[test]
    fn csp_hashes_the_inline_scripts() {
        assert_eq!(base64(b"any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw==");
        assert_eq!(base64(b"any carnal pleasu"), "YW55IGNhcm5hbCBwbGVhc3U=");
        let h = inline_script_hashes(&["<script src=\"/x.js\"></script><script>alert(1)</script>"]);
        // printf 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(h, "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='");
        assert_eq!(
            email_hash(" Agent@Demo.Wismo.dev"),
            email_hash("agent@demo.wismo.dev")
        );
    }
}
