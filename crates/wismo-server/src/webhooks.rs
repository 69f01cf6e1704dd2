//! Signed webhooks from a durable outbox: every event worth telling a CRM
//! (hand-offs, agent messages, resolutions, …) is POSTed to each configured
//! URL, at least once, however long the receiver is down.
//!
//! * [`Webhooks::emit`] wraps the event in its envelope
//!   (`{"id","type","created_at","conversation_id","data"}`), writes it to the
//!   outbox table — one row per URL, in one transaction — and wakes the
//!   worker. Once `emit` has returned, the event survives a crash or restart.
//! * The worker ([`Webhooks::start`], run by [`crate::Server`]) claims due rows
//!   with a lease (so servers sharing a database never send the same row at
//!   the same time), POSTs each body with its signature, and marks it
//!   delivered on a 2xx. Anything else — another status, a timeout, a
//!   refused connection — is retried after `webhook_retry_base · 2^(n-1)`
//!   (±20% jitter, at most 10 minutes) until `webhook_max_attempts`, when the
//!   row is given up on ("dead") and an error is logged. It wakes on every
//!   emit and every [`TICK`], so retries and rows written by other servers
//!   are picked up.
//! * Each attempt is signed anew: `Wismo-Signature: t=<unix seconds>,v1=<hex
//!   HMAC-SHA256(secret, "<t>.<body>")>` ([`sign`], [`verify`]). Receivers
//!   reject a `t` more than [`TOLERANCE`] away from their clock.
//!
//! Neither a body nor the secret is ever logged; URLs are logged without
//! credentials or query. See `docs/webhooks.md` for the receiver's side.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use wismo_store::{Db, OutboxMessage, StoreDbError};

use crate::config::{masked_url, Config, Secret};
use crate::error::ApiError;
use crate::stream::EventStream;

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "Wismo-Signature";
/// The header with the event's id (the same as the body's `id`).
pub const EVENT_ID_HEADER: &str = "Wismo-Event-Id";
/// The header with the event's type (the same as the body's `type`).
pub const EVENT_TYPE_HEADER: &str = "Wismo-Event-Type";
/// How far a signature's timestamp may be from the receiver's clock.
pub const TOLERANCE: Duration = Duration::from_secs(300);
/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);
/// How often the worker looks for due rows when nothing wakes it.
pub const TICK: Duration = Duration::from_millis(500);
/// A claimed row belongs to its worker for this many attempt time limits
/// (`webhook_timeout`); if the worker dies, the row is due again after it.
pub const LEASE_TIMEOUTS: u32 = 3;
/// Rows claimed (and sent concurrently) at a time.
const BATCH: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// The `Wismo-Signature` value for `body` sent at `timestamp` (unix
/// seconds): `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &str) -> String {
    format!(
        "t={timestamp},v1={}",
        hex(&signature(secret, timestamp, body))
    )
}

fn signature(secret: &[u8], timestamp: i64, body: &str) -> Vec<u8> {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return Vec::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `header_value` (a `Wismo-Signature`) signs `body` with `secret`
/// at a time at most `tolerance` away from `now`. Any of several `v1=`
/// values may match (room for a secret rotation); the comparison takes the
/// same time wherever the values differ.
pub fn verify(
    secret: &[u8],
    header_value: &str,
    body: &str,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> bool {
    let mut timestamp: Option<i64> = None;
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for part in header_value.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            "t" => timestamp = value.trim().parse().ok(),
            "v1" => {
                if let Some(bytes) = unhex(value.trim()) {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.timestamp().abs_diff(t) > tolerance.unsigned_abs() {
        return false;
    }
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    candidates
        .iter()
        .any(|c| mac.clone().verify_slice(c).is_ok())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// The wait after `attempts` failed attempts: `base · 2^(attempts-1)`, times
/// `1 + 0.2 · jitter` (`jitter` in -1..=1), never over [`MAX_RETRY_DELAY`].
pub fn retry_delay(base: Duration, attempts: u32, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    let plain = base
        .checked_mul(1u32 << doublings)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY);
    let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
    plain.mul_f64(factor).min(MAX_RETRY_DELAY)
}

/// A number in -1..1 from the system's randomness (0 without it).
fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    let unit = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    unit * 2.0 - 1.0
}

/// A new event id: `evt_` + 16 random bytes, hex.
pub fn new_event_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for an event id: {e}")))?;
    Ok(format!("evt_{}", hex(&bytes)))
}

/// A URL as logs show it: no credentials, no query.
fn log_target(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => "(unparsable URL)".to_string(),
    }
}

/// The envelope, with its fields in this order.
#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created_at: String,
    conversation_id: &'a str,
    data: &'a Value,
}

/// Event types are lowercase words joined by `.` or `_` (`handoff.requested`).
fn check_kind(kind: &str) -> Result<(), ApiError> {
    let ok = !kind.is_empty()
        && kind.len() <= 64
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidField {
            field: "type",
            reason: format!("{kind:?} is not an event type such as handoff.requested"),
        })
    }
}

/// The webhooks of a server: emitting events, the delivery worker and its
/// status. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks(Arc<Shared>);

struct Shared {
    db: Db,
    /// The webhook URLs.
    targets: Vec<String>,
    /// The URLs and, with the event stream on, [`crate::stream::TARGET`].
    deliver_to: Vec<String>,
    stream: Option<EventStream>,
    secret: Option<Secret>,
    retry_base: Duration,
    /// How long a claimed row is this worker's.
    lease: Duration,
    max_attempts: u32,
    wake: Notify,
    client: reqwest::Client,
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    Failed(String),
    /// Shutdown came first: the row is given back.
    Cancelled,
}

impl Webhooks {
    /// The webhooks configured in `config` (`webhook_urls`, …), over `db`;
    /// with `stream`, every event also goes to the durable event stream.
    pub fn new(db: Db, config: &Config, stream: Option<EventStream>) -> anyhow::Result<Webhooks> {
        let client = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .connect_timeout(config.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wismo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the webhook HTTP client: {e}"))?;
        if !config.webhook_urls.is_empty() && config.webhook_secret.is_none() {
            anyhow::bail!("webhook_urls is set but webhook_secret is not");
        }
        let mut deliver_to = config.webhook_urls.clone();
        if stream.is_some() {
            deliver_to.push(crate::stream::TARGET.to_string());
        }
        Ok(Webhooks(Arc::new(Shared {
            db,
            targets: config.webhook_urls.clone(),
            deliver_to,
            stream,
            secret: config.webhook_secret.clone(),
            retry_base: config.webhook_retry_base,
            lease: config.webhook_timeout * LEASE_TIMEOUTS,
            max_attempts: config.webhook_max_attempts.max(1),
            wake: Notify::new(),
            client,
        })))
    }

    /// The configured URLs.
    pub fn targets(&self) -> &[String] {
        &self.0.targets
    }

    /// Whether events go anywhere (a URL, or the event stream).
    pub fn enabled(&self) -> bool {
        !self.0.deliver_to.is_empty()
    }

    /// Queues an event for every configured URL and returns its id
    /// (`evt_<32 hex>`). The body sent is
    /// `{"id","type":kind,"created_at":at,"conversation_id","data"}`; `kind`
    /// is a type such as `handoff.requested` (see `docs/webhooks.md`). Each
    /// target gets a conversation's events in the order they were emitted.
    /// With no URL configured and no event stream nothing is stored, but an
    /// id is still returned.
    /// When this returns `Ok`, the event is in the database: it will be
    /// delivered, by this server or another one, even after a restart.
    pub async fn emit(
        &self,
        kind: &str,
        conversation_id: &str,
        data: Value,
        at: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        check_kind(kind)?;
        let id = new_event_id()?;
        let body = serde_json::to_string(&Envelope {
            id: &id,
            kind,
            created_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            conversation_id,
            data: &data,
        })
        .map_err(|e| ApiError::Internal(format!("cannot encode the event: {e}")))?;
        if self.0.deliver_to.is_empty() {
            return Ok(id);
        }
        let conversation = Some(conversation_id).filter(|c| !c.is_empty());
        self.0
            .db
            .outbox_push(
                &id,
                kind,
                &body,
                conversation,
                &self.0.deliver_to,
                Utc::now(),
            )
            .await
            .map_err(|e| match e {
                StoreDbError::InvalidText(field) => ApiError::InvalidField {
                    field,
                    reason: "contains a NUL character".into(),
                },
                other => ApiError::from(other),
            })?;
        tracing::debug!(event_id = %id, kind, "webhook event queued");
        self.0.wake.notify_one();
        Ok(id)
    }

    /// What `GET /v1/admin/webhooks` shows: the URLs (passwords masked), the
    /// outbox counts and up to `recent` recent failures (never a body),
    /// those from the read replica when there is one.
    pub async fn status(&self, recent: usize) -> Result<Value, ApiError> {
        // Counts: lag-tolerant, from the replica when there is one.
        let s = self.0.db.replica_reads().outbox_status(recent).await?;
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let failures: Vec<Value> = s
            .recent_failures
            .iter()
            .map(|f| {
                json!({
                    "event_id": f.event_id,
                    "type": f.kind,
                    "target": masked_url(&f.target),
                    "attempts": f.attempts,
                    "last_error": f.last_error,
                    "last_attempt_at": f.last_attempt_at.map(time),
                    "next_attempt_at": if f.dead { None } else { Some(time(f.next_attempt_at)) },
                    "dead": f.dead,
                })
            })
            .collect();
        Ok(json!({
            "targets": self.0.targets.iter().map(|t| masked_url(t)).collect::<Vec<_>>(),
            "event_stream": self.0.stream.is_some(),
            "outbox": {
                "pending": s.pending,
                "delivered": s.delivered,
                "dead": s.dead,
            },
            "recent_failures": failures,
        }))
    }

    /// Starts the delivery worker (none when no URL is configured). It stops
    /// when `shutdown` turns true or its sender is dropped, giving back the
    /// rows it was sending.
    pub fn start(&self, shutdown: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
        if !self.enabled() {
            return None;
        }
        tracing::info!(
            targets = self.0.targets.len(),
            event_stream = self.0.stream.is_some(),
            "webhook delivery started"
        );
        Some(tokio::spawn(self.clone().run(shutdown)))
    }

    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Everything due now, batch after batch.
            loop {
                match self.deliver_due(&shutdown).await {
                    Ok(n) if n == BATCH && !*shutdown.borrow() => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook outbox unavailable; trying again soon");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.0.wake.notified() => {}
                _ = tick.tick() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::debug!("webhook delivery stopped");
    }

    /// Claims one batch of due rows and attempts them all at once; returns
    /// how many were claimed.
    async fn deliver_due(&self, shutdown: &watch::Receiver<bool>) -> Result<usize, StoreDbError> {
        let claimed = self
            .0
            .db
            .outbox_claim(&self.0.deliver_to, BATCH, Utc::now(), self.0.lease)
            .await?;
        let n = claimed.len();
        let mut tasks = JoinSet::new();
        for message in claimed {
            let me = self.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move { me.attempt(message, shutdown).await });
        }
        while tasks.join_next().await.is_some() {}
        Ok(n)
    }

    /// One attempt at one row, and its outcome written back.
    async fn attempt(&self, m: OutboxMessage, mut shutdown: watch::Receiver<bool>) {
        let target = log_target(&m.target);
        let outcome = tokio::select! {
            o = self.send(&m) => o,
            _ = shutdown.wait_for(|s| *s) => Attempt::Cancelled,
        };
        let db = &self.0.db;
        let written = match &outcome {
            Attempt::Delivered => {
                tracing::debug!(event_id = %m.event_id, kind = %m.kind, %target, attempts = m.attempts, "webhook delivered");
                db.outbox_delivered(&m, Utc::now()).await
            }
            Attempt::Cancelled => db.outbox_release(&m).await,
            Attempt::Failed(error) => {
                let attempts = u32::try_from(m.attempts).unwrap_or(u32::MAX);
                if attempts >= self.0.max_attempts {
                    tracing::error!(
                        event_id = %m.event_id,
                        kind = %m.kind,
                        %target,
                        attempts,
                        %error,
                        "webhook given up after the last attempt (dead)"
                    );
                    db.outbox_dead(&m, error).await
                } else {
                    let delay = retry_delay(self.0.retry_base, attempts, jitter());
                    tracing::warn!(
                        event_id = %m.event_id,
                        kind = %m.kind,
                        %target,
                        attempts,
                        %error,
                        retry_in_ms = delay.as_millis() as u64,
                        "webhook attempt failed"
                    );
                    let next = Utc::now()
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero());
                    db.outbox_retry(&m, next, error).await
                }
            }
        };
        match written {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                event_id = %m.event_id,
                %target,
                "webhook lease ran out before the attempt ended; another worker has the row"
            ),
            Err(e) => tracing::warn!(
                event_id = %m.event_id,
                %target,
                error = %e,
                "could not record a webhook attempt; the row is tried again after its lease"
            ),
        }
    }

    /// POSTs the row's body, signed now (or publishes it to the event stream).
    async fn send(&self, m: &OutboxMessage) -> Attempt {
        if m.target == crate::stream::TARGET {
            return self.publish(m).await;
        }
        let Some(secret) = &self.0.secret else {
            return Attempt::Failed("no webhook_secret configured".into());
        };
        let signature = sign(secret.expose().as_bytes(), Utc::now().timestamp(), &m.body);
        let request = self
            .0
            .client
            .post(&m.target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, &m.event_id)
            .header(EVENT_TYPE_HEADER, &m.kind)
            .header(SIGNATURE_HEADER, signature)
            .body(m.body.clone());
        match request.send().await {
            Ok(res) if res.status().is_success() => Attempt::Delivered,
            Ok(res) => Attempt::Failed(format!("HTTP {}", res.status())),
            Err(e) => Attempt::Failed(describe(&e)),
        }
    }
}

impl Webhooks {
    /// A case event to the durable event stream.
    async fn publish(&self, m: &OutboxMessage) -> Attempt {
        let Some(stream) = &self.0.stream else {
            return Attempt::Failed("the event stream is off on this server".into());
        };
        let conversation = serde_json::from_str::<Value>(&m.body)
            .ok()
            .and_then(|v| v["conversation_id"].as_str().map(str::to_string))
            .unwrap_or_default();
        match stream.publish_case(m, &conversation).await {
            Ok(()) => Attempt::Delivered,
            Err(e) => Attempt::Failed(e),
        }
    }
}

/// A short cause for a failed request, without the URL: the kind of
/// failure and its innermost cause ("cannot connect: Connection refused …").
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_request() {
        "request failed"
    } else {
        "failed"
    };
    let mut detail = None;
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        detail = Some(c.to_string());
        cause = c.source();
    }
    match detail {
        Some(d) if !d.trim().is_empty() => format!("{what}: {}", d.trim()),
        _ => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let secret = b"whsec-0123456789abcdef";
        let body = r#"{"id":"evt_1","type":"agent.message"}"#;
        let now = Utc::now();
        let header = sign(secret, now.timestamp(), body);
        assert!(header.starts_with(&format!("t={},v1=", now.timestamp())));
        assert_eq!(
            header.len(),
            format!("t={},v1=", now.timestamp()).len() + 64
        );
        assert!(verify(secret, &header, body, now, TOLERANCE));
        assert!(!verify(
            b"another-secret-xxxxxx",
            &header,
            body,
            now,
            TOLERANCE
        ));
        assert!(!verify(
            secret,
            &header,
            &body.replace('1', "2"),
            now,
            TOLERANCE
        ));
        // Too old, or too far in the future.
        let old = now - chrono::Duration::seconds(301);
        assert!(!verify(
            secret,
            &sign(secret, old.timestamp(), body),
            body,
            now,
            TOLERANCE
        ));
        let late = now + chrono::Duration::seconds(301);
        assert!(!verify(
            secret,
            &sign(secret, late.timestamp(), body),
            body,
            now,
            TOLERANCE
        ));
        let recent = now - chrono::Duration::seconds(299);
        assert!(verify(
            secret,
            &sign(secret, recent.timestamp(), body),
            body,
            now,
            TOLERANCE
        ));
        // Another t with the same v1 fails: the time is signed too.
        let v1 = header.split_once(",v1=").map(|(_, v)| v).unwrap_or("");
        let moved = format!("t={},v1={v1}", now.timestamp() - 1);
        assert!(!verify(secret, &moved, body, now, TOLERANCE));
        // Several v1 values: one right one is enough.
        let rotated = format!("{header},v1={}", "00".repeat(32));
        assert!(verify(secret, &rotated, body, now, TOLERANCE));
        for bad in [
            "",
            "t=",
            "v1=ab",
            "t=abc,v1=00",
            "garbage",
            &format!("t={}", now.timestamp()),
        ] {
            assert!(!verify(secret, bad, body, now, TOLERANCE), "{bad:?}");
        }
    }

    #[test]
    fn a_known_signature() {
        // HMAC-SHA256("secret", "1700000000.{}"), computed with another tool.
        assert_eq!(
            sign(b"secret", 1_700_000_000, "{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        let mut mac = HmacSha256::new_from_slice(b"key").expect("any key length");
        mac.update(b"The quick brown fox jumps over the lazy dog");
        // RFC 4231-style known answer (Wikipedia's HMAC example).
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn the_retry_schedule_doubles_with_jitter_and_a_cap() {
        let base = Duration::from_secs(1);
        assert_eq!(retry_delay(base, 1, 0.0), Duration::from_secs(1));
        assert_eq!(retry_delay(base, 2, 0.0), Duration::from_secs(2));
        assert_eq!(retry_delay(base, 5, 0.0), Duration::from_secs(16));
        assert_eq!(retry_delay(base, 3, 1.0), Duration::from_millis(4800));
        assert_eq!(retry_delay(base, 3, -1.0), Duration::from_millis(3200));
        assert_eq!(retry_delay(base, 10, 0.0), Duration::from_secs(512));
        assert_eq!(
            retry_delay(base, 10, 1.0),
            MAX_RETRY_DELAY,
            "614.4 s, capped"
        );
        assert_eq!(retry_delay(base, 11, 0.0), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(base, 11, -1.0), Duration::from_secs(480));
        assert_eq!(retry_delay(base, 1000, 0.0), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(base, 0, 0.0), Duration::from_secs(1));
        for _ in 0..100 {
            let j = jitter();
            assert!((-1.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn event_ids_and_types() {
        let id = new_event_id().expect("id");
        assert!(id.starts_with("evt_") && id.len() == 36, "{id}");
        assert!(id[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, new_event_id().expect("id"));
        assert!(check_kind("handoff.requested").is_ok());
        assert!(check_kind("csat.submitted").is_ok());
        for bad in ["", "Handoff", "a b", "x\0", &"a".repeat(65)] {
            assert!(check_kind(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn logged_targets_hide_credentials_and_queries() {
        assert_eq!(
            log_target("https://user:pw@crm.example:8443/in/hook?token=abc"),
            "https://crm.example:8443/in/hook"
        );
    }
}
