//! The agent console's API: sign-in, the live queue (Server-Sent Events),
//! a conversation with its order, and what agents do (accept, reply, note,
//! transfer, hand back, resolve, canned replies); plus the shopper's rating
//! and resolution tracking.
//!
//! Agents sign in with email and password (argon2 hashes, accounts made by
//! `wismo agents add`) and get a random session token, stored hashed, sent
//! as an HttpOnly SameSite=Strict cookie (the console) and in the body (API
//! clients use it as a bearer token). Single sign-on through an OIDC
//! provider ([`crate::oidc`]) ends in the same session ([`start_session`]).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use wismo_core::dialogue::Event;
use wismo_core::redact::redact_text;
use wismo_store::{Agent, Handoff};

use crate::api::{bearer, check_text, parse_after, parse_json};
use crate::error::ApiError;
use crate::escalation::{self, agent_json, case_json, queue_json, Presence, Signal};
use crate::sessions::{agent_message_json, new_secret, token_hash};
use crate::AppState;

/// The console's session cookie.
pub const COOKIE: &str = "wismo_agent";

/// An argon2id hash (PHC string) of a password, with a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| ApiError::Internal(format!("no randomness for a salt: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| ApiError::Internal(format!("salt encoding failed: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches the stored hash (false for a broken hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A real hash of a random password, checked when the email is unknown so
/// both failures take the same time.
fn decoy_hash() -> String {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| {
            let pw = new_secret().unwrap_or_else(|_| "decoy".into());
            hash_password(&pw).unwrap_or_default()
        })
        .clone()
}

/// The value of the cookie `name` from the request's `Cookie` headers.
pub(crate) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    cookie_value(headers, COOKIE).filter(|v| !v.is_empty())
}

fn session_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers).or_else(|| cookie_token(headers))
}

/// An agent as the audit trail names them.
fn who(a: &Agent) -> (&str, &str) {
    (a.id.as_str(), "agent")
}

/// An email with most of its local part hidden (`j***@example.com`), for
/// records that must say which account without holding the address.
pub fn mask_email(email: &str) -> String {
    match email.trim().split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!(
                "{first}***@{}",
                domain.chars().take(100).collect::<String>()
            )
        }
        None => "***".to_string(),
    }
}

/// The signed-in agent of a request (bearer token or the console cookie).
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Agent, ApiError> {
    let token = session_token(headers).ok_or(ApiError::AgentUnauthorized)?;
    if token.len() > 256 {
        return Err(ApiError::AgentUnauthorized);
    }
    state
        .sessions
        .db
        .agent_for_session(&token_hash(token), state.sessions.clock.now())
        .await?
        .ok_or(ApiError::AgentUnauthorized)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInBody {
    email: String,
    password: String,
}

const SIGN_IN_PATH: &str = "/v1/agent/session";

pub async fn sign_in(
    State(state): State<AppState>,
    crate::security::ClientIp(ip): crate::security::ClientIp,
    https: crate::security::Https,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let limits = &state.security;
    let config = &state.config;
    let limited =
        |scope: &'static str| move |retry_after: u64| ApiError::RateLimited { scope, retry_after };
    limits
        .hit(&format!("sign_in_ip:{ip}"), config.rate_limit_sign_in)
        .await
        .map_err(limited("sign_in"))?;
    let body: SignInBody = parse_json(&headers, &body)?;
    let subject = crate::security::email_hash(&body.email);
    // A locked email is refused even with the right password, until the
    // window of its failures ends.
    let failures = format!("sign_in_failures:{subject}");
    limits
        .check(&failures, config.sign_in_lockout)
        .await
        .map_err(limited("sign_in_locked"))?;
    limits
        .hit(
            &format!("sign_in_email:{subject}"),
            config.rate_limit_sign_in,
        )
        .await
        .map_err(limited("sign_in"))?;
    let failed = || async {
        limits.event(
            "agent_sign_in_failed",
            ip,
            &subject,
            SIGN_IN_PATH,
            "sign_in",
        );
        if limits.record(&failures, config.sign_in_lockout).await {
            limits.event(
                "agent_sign_in_locked",
                ip,
                &subject,
                SIGN_IN_PATH,
                "sign_in_locked",
            );
        }
        ApiError::InvalidCredentials
    };
    if body.email.len() > 254 || body.password.len() > 1024 || body.email.contains('\0') {
        return Err(failed().await);
    }
    let agent = state.sessions.db.agent_by_email(&body.email).await?;
    let hash = agent.as_ref().map(|a| a.password_hash.clone());
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || {
        let decoy = hash.is_none();
        let hash = hash.unwrap_or_else(decoy_hash);
        verify_password(&hash, &password) && !decoy
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))?;
    let agent = match agent {
        Some(a) if ok => a,
        _ => {
            state
                .audit(
                    ("anonymous", "agent"),
                    "agent.sign_in_failed",
                    Some(&mask_email(&body.email)),
                    json!({}),
                )
                .await?;
            return Err(failed().await);
        }
    };
    limits.clear(&failures).await;
    let (token, cookie) = start_session(&state, &agent, https).await?;
    tracing::info!(agent = %agent.id, "agent signed in");
    state
        .audit(who(&agent), "agent.sign_in", Some(&agent.id), json!({}))
        .await?;
    let mut res = Json(json!({"token": token, "agent": agent_json(&agent)})).into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(res)
}

/// A new session for a signed-in agent (password or single sign-on): its
/// token and the console's session cookie.
pub async fn start_session(
    state: &AppState,
    agent: &Agent,
    https: crate::security::Https,
) -> Result<(String, HeaderValue), ApiError> {
    let token = new_secret()?;
    let now = state.sessions.clock.now();
    let ttl = state.config.agent_session_ttl;
    let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(12));
    state
        .sessions
        .db
        .create_agent_session(&token_hash(&token), &agent.id, now, expires)
        .await?;
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        ttl.as_secs(),
        secure_attr(state, https)
    );
    let cookie = HeaderValue::from_str(&cookie)
        .map_err(|e| ApiError::Internal(format!("session cookie: {e}")))?;
    Ok((token, cookie))
}

/// `; Secure` when the client reached wismo over HTTPS (wismo serves TLS,
/// `hsts` is on, or a trusted proxy says `X-Forwarded-Proto: https`): the
/// browser then never sends the session cookie over plain HTTP.
fn secure_attr(state: &AppState, https: crate::security::Https) -> &'static str {
    if https.0 || state.config.hsts {
        "; Secure"
    } else {
        ""
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    https: crate::security::Https,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_token(&headers) {
        if let Ok(agent) = signed_in(&state, &headers).await {
            state
                .audit(who(&agent), "agent.sign_out", Some(&agent.id), json!({}))
                .await?;
        }
        state
            .sessions
            .db
            .delete_agent_session(&token_hash(token))
            .await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    let cookie = format!(
        "{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure_attr(&state, https)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

pub async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let agent = signed_in(&state, &headers).await?;
    Ok(Json(agent_json(&agent)))
}

pub async fn queue(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let agent = signed_in(&state, &headers).await?;
    Ok(Json(queue_json(&state, &agent).await?))
}

struct Stream {
    state: AppState,
    me: Agent,
    rx: broadcast::Receiver<Signal>,
    pending: VecDeque<SseEvent>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    snapshot_due: bool,
    /// A resumed stream's last event id, as a time: what happened since is
    /// sent after the first snapshot.
    resume_after: Option<DateTime<Utc>>,
    _presence: Presence,
}

/// How far a resumed stream looks back before the time in its last event
/// id: instances' clocks differ a little, and a commit can land just before
/// the event that announced an earlier one.
const RESUME_OVERLAP_SECS: i64 = 5;

/// A stream's resume point: the `Last-Event-ID` header (a browser's own
/// reconnect) or the `last_event_id` query parameter (a new `EventSource`),
/// each the milliseconds since 1970 that wismo put in its event ids.
fn resume_point(
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let header = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str().map_err(|_| ApiError::InvalidField {
                field: "Last-Event-ID",
                reason: "is not text".into(),
            })
        })
        .transpose()?;
    let (field, text) = match (header, query) {
        (Some(h), _) if !h.trim().is_empty() => ("Last-Event-ID", h.trim()),
        (_, Some(q)) if !q.trim().is_empty() => ("last_event_id", q.trim()),
        _ => return Ok(None),
    };
    let invalid = || ApiError::InvalidField {
        field,
        reason: "is not an event id this stream sent (milliseconds since 1970)".into(),
    };
    if text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let ms: i64 = text.parse().map_err(|_| invalid())?;
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(Some)
        .ok_or_else(invalid)
}

impl Stream {
    /// The next event for this agent; `None` ends the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(self.stamped(e));
            }
            if self.snapshot_due {
                self.snapshot_due = false;
                match queue_json(&self.state, &self.me).await {
                    Ok(q) => {
                        if let Some(since) = self.resume_after.take() {
                            self.missed_since(since).await;
                        }
                        return Some(
                            self.stamped(SseEvent::default().event("queue").data(q.to_string())),
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "queue snapshot failed"),
                }
            }
            let signal = tokio::select! {
                s = self.rx.recv() => s,
                _ = self.shutdown.wait_for(|s| *s) => return None,
            };
            match signal {
                Ok(s) => self.take(s),
                Err(broadcast::error::RecvError::Lagged(_)) => self.snapshot_due = true,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
            // Everything else already waiting goes into the same snapshot.
            while let Ok(s) = self.rx.try_recv() {
                self.take(s);
            }
        }
    }

    /// The event with its id: the time it is sent, in milliseconds (the
    /// resume point of a stream that reconnects with it).
    fn stamped(&self, e: SseEvent) -> SseEvent {
        e.id(self
            .state
            .sessions
            .clock
            .now()
            .timestamp_millis()
            .to_string())
    }

    /// Queues what a resumed stream missed since `since` (less the
    /// overlap): hand-offs that entered the queue and activity in the
    /// conversations this agent sees, read from the database, so a
    /// reconnect through another instance misses nothing either.
    async fn missed_since(&mut self, since: DateTime<Utc>) {
        let since = since - chrono::Duration::seconds(RESUME_OVERLAP_SECS);
        let db = self.state.sessions.db.clone();
        let open = match db.open_handoffs().await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read what a resumed stream missed; the snapshot stands");
                return;
            }
        };
        let me = self.me.clone();
        for h in open.iter().filter(|h| crate::rbac::may_see(&me, h)) {
            if h.status == "queued" && h.requested_at > since {
                self.take(Signal::NewHandoff {
                    conversation_id: h.conversation_id.clone(),
                    case_id: h.case_id(),
                    reason: h.reason.clone(),
                    priority_label: escalation::priority_label(h.priority),
                });
            }
            if h.last_at.is_some_and(|t| t > since) {
                if let Ok(Some(c)) = db.conversation(&h.conversation_id).await {
                    self.take(Signal::Activity {
                        conversation_id: h.conversation_id.clone(),
                        seq: c.last_seq,
                        agent_id: h.agent_id.clone(),
                    });
                }
            }
        }
    }

    fn take(&mut self, s: Signal) {
        match s {
            Signal::Queue => self.snapshot_due = true,
            Signal::NewHandoff {
                conversation_id,
                case_id,
                reason,
                priority_label,
            } => self.pending.push_back(
                SseEvent::default().event("handoff").data(
                    json!({
                        "conversation_id": conversation_id,
                        "case_id": case_id,
                        "reason": reason,
                        "priority_label": priority_label,
                    })
                    .to_string(),
                ),
            ),
            Signal::Activity {
                conversation_id,
                seq,
                agent_id,
            } => {
                if agent_id.is_none() || agent_id.as_deref() == Some(self.me.id.as_str()) {
                    self.pending.push_back(
                        SseEvent::default().event("activity").data(
                            json!({"conversation_id": conversation_id, "seq": seq.to_string()})
                                .to_string(),
                        ),
                    );
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    last_event_id: Option<String>,
}

/// `GET /v1/agent/stream`: the queue, new hand-offs and activity as
/// Server-Sent Events. While it is open the agent counts as online. Each
/// event's id is the time it was sent; a stream opened with
/// `Last-Event-ID` (or `?last_event_id=`) first gets what it missed since.
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let me = signed_in(&state, &headers).await?;
    let Query(query) = query.map_err(|e| ApiError::InvalidField {
        field: "query",
        reason: e.body_text(),
    })?;
    let resume_after = resume_point(&headers, query.last_event_id.as_deref())?;
    let rx = state.sessions.escalation.bus.subscribe();
    let presence = state.sessions.escalation.connect(&me.id);
    let st = Stream {
        shutdown: state.shutdown_signal(),
        state,
        me,
        rx,
        pending: VecDeque::new(),
        snapshot_due: true,
        resume_after,
        _presence: presence,
    };
    let events = futures_util::stream::unfold(st, |mut st| async move {
        st.next().await.map(|e| (Ok::<_, Infallible>(e), st))
    });
    let mut res = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Debug, Deserialize)]
pub struct AfterQuery {
    after: Option<String>,
}

fn after_of(
    query: Result<Query<AfterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<i64, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::InvalidField {
        field: "query",
        reason: e.body_text(),
    })?;
    match q.after.as_deref() {
        None | Some("") => Ok(0),
        Some(s) => parse_after(s),
    }
}

/// `GET /v1/agent/conversations/{id}`: the transcript with notes, the case
/// and the verified order.
pub async fn conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<AfterQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let me = signed_in(&state, &headers).await?;
    let after = after_of(query)?;
    let s = &state.sessions;
    let not_found =
        || ApiError::not_found("conversation_not_found", format!("no conversation {id}"));
    let Some(session) = s.get(&id).await? else {
        return Err(not_found());
    };
    let row = s.db.conversation(&id).await?.ok_or_else(not_found)?;
    let handoffs = s.db.handoffs_of(&id).await?;
    let Some(last) = handoffs.last() else {
        return Err(ApiError::not_found(
            "conversation_not_found",
            format!("conversation {id} was never handed off"),
        ));
    };
    if !crate::rbac::may_see(&me, last) {
        return Err(ApiError::Forbidden(
            "this conversation is neither waiting in the queue nor assigned to you".into(),
        ));
    }
    if after == 0 {
        // Opening a transcript is audited; the console's incremental
        // fetches (`?after=`) continue that view.
        state
            .audit(who(&me), "transcript.view", Some(&id), json!({}))
            .await?;
    }
    let agents = s.db.agents().await?;
    let now = s.clock.now();
    let messages: Vec<Value> =
        s.db.events_after(&id, after)
            .await?
            .iter()
            .filter_map(|(seq, e)| agent_message_json(*seq, e))
            .collect();
    let order_number = match &last.order_number {
        Some(n) => Some(n.clone()),
        None => s.verified_order(&session).await,
    };
    let order = match order_number {
        Some(n) => escalation::order_detail(&s.db, &n).await,
        None => Value::Null,
    };
    Ok(Json(json!({
        "conversation": {
            "id": row.id,
            "locale": row.locale,
            "channel": row.channel,
            "created_at": row.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        "case": case_json(&s.db, last, &agents, now).await,
        "messages": messages,
        "order": order,
    })))
}

/// Records an agent's step on a case in the audit trail (with the case id
/// beside `details`) and answers with the case.
async fn case_done(
    state: &AppState,
    me: &Agent,
    action: &str,
    conversation_id: &str,
    h: &Handoff,
    mut details: Value,
) -> Result<Json<Value>, ApiError> {
    details["case_id"] = json!(h.case_id());
    state
        .audit(who(me), action, Some(conversation_id), details)
        .await?;
    let agents = state.sessions.db.agents().await?;
    let now = state.sessions.clock.now();
    Ok(Json(
        json!({"case": case_json(&state.sessions.db, h, &agents, now).await}),
    ))
}

pub async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let me = signed_in(&state, &headers).await?;
    let h = escalation::accept(&state, &me, &id, "accept").await?;
    case_done(&state, &me, "handoff.accept", &id, &h, json!({})).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBody {
    text: String,
}

fn message_created(seq: i64, e: &Event) -> Result<Response, ApiError> {
    let m = agent_message_json(seq, e)
        .ok_or_else(|| ApiError::Internal("the event is not a message".into()))?;
    Ok((StatusCode::CREATED, Json(json!({"message": m}))).into_response())
}

pub async fn reply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    post_text(&state, &id, &headers, &body, false).await
}

pub async fn add_note(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    post_text(&state, &id, &headers, &body, true).await
}

/// A reply to the shopper, or an internal note.
async fn post_text(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    note: bool,
) -> Result<Response, ApiError> {
    let me = signed_in(state, headers).await?;
    let access = if note {
        escalation::Access::See
    } else {
        escalation::Access::Own
    };
    escalation::authorize(state, &me, id, access).await?;
    let body: TextBody = parse_json(headers, body)?;
    check_text(&body.text, state.config.max_message_chars)?;
    let (seq, e) = if note {
        escalation::note(state, &me, id, &body.text).await?
    } else {
        escalation::say(state, &me, id, &body.text).await?
    };
    message_created(seq, &e)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypingBody {
    on: bool,
}

pub async fn typing(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let me = signed_in(&state, &headers).await?;
    escalation::authorize(&state, &me, &id, escalation::Access::Own).await?;
    let body: TypingBody = parse_json(&headers, &body)?;
    let s = &state.sessions;
    let h = s.db.open_handoff(&id).await?.ok_or(ApiError::NotAssigned)?;
    if h.agent_id.as_deref() != Some(me.id.as_str()) {
        return Err(ApiError::NotAssigned);
    }
    s.typing_here(&id, "agent", body.on);
    // The shopper's sockets may be on other instances.
    s.bus.publish_typing(&id, "agent", body.on);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    agent_id: String,
}

pub async fn transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let me = signed_in(&state, &headers).await?;
    escalation::authorize(&state, &me, &id, escalation::Access::Own).await?;
    let body: TransferBody = parse_json(&headers, &body)?;
    let h = escalation::transfer(&state, &me, &id, &body.agent_id).await?;
    case_done(
        &state,
        &me,
        "handoff.transfer",
        &id,
        &h,
        json!({"to": body.agent_id}),
    )
    .await
}

pub async fn release(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let me = signed_in(&state, &headers).await?;
    escalation::authorize(&state, &me, &id, escalation::Access::Own).await?;
    let h = escalation::close(&state, &me, &id, None).await?;
    case_done(&state, &me, "handoff.release", &id, &h, json!({})).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    outcome: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Outcomes a case can be resolved with.
pub const OUTCOMES: [&str; 7] = [
    "resolved",
    "refunded",
    "replaced",
    "reshipped",
    "cancelled",
    "no_action",
    "other",
];

pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let me = signed_in(&state, &headers).await?;
    escalation::authorize(&state, &me, &id, escalation::Access::Close).await?;
    let body: ResolveBody = parse_json(&headers, &body)?;
    if !OUTCOMES.contains(&body.outcome.as_str()) {
        return Err(ApiError::InvalidField {
            field: "outcome",
            reason: format!("must be one of {}", OUTCOMES.join(", ")),
        });
    }
    if body.tags.len() > 10 {
        return Err(ApiError::InvalidField {
            field: "tags",
            reason: format!("{} tags; at most 10", body.tags.len()),
        });
    }
    let mut tags: Vec<String> = Vec::new();
    for t in body.tags {
        let t = redact_text(t.trim());
        if t.is_empty() || t.chars().count() > 40 || t.chars().any(char::is_control) {
            return Err(ApiError::InvalidField {
                field: "tags",
                reason: "each tag is 1 to 40 characters, no control characters".into(),
            });
        }
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    let h = escalation::close(&state, &me, &id, Some((body.outcome, tags))).await?;
    case_done(
        &state,
        &me,
        "handoff.resolve",
        &id,
        &h,
        json!({"outcome": h.outcome}),
    )
    .await
}

pub async fn canned_replies(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    signed_in(&state, &headers).await?;
    let replies = state.sessions.db.canned_replies().await?;
    Ok(Json(
        json!({"replies": replies.iter().map(canned_json).collect::<Vec<_>>()}),
    ))
}

fn canned_json(c: &wismo_store::CannedReply) -> Value {
    json!({"id": c.id.to_string(), "shortcut": c.shortcut, "title": c.title, "text": c.text})
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CannedBody {
    shortcut: String,
    title: String,
    text: String,
}

pub async fn add_canned_reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = signed_in(&state, &headers).await?;
    crate::rbac::require(&me, crate::rbac::Permission::ManageCannedReplies)?;
    let body: CannedBody = parse_json(&headers, &body)?;
    let shortcut = body.shortcut.trim();
    let ok_shortcut = shortcut.len() >= 2
        && shortcut.len() <= 32
        && shortcut.starts_with('/')
        && shortcut[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok_shortcut {
        return Err(ApiError::InvalidField {
            field: "shortcut",
            reason: "a slash and 1 to 31 letters, digits, '-' or '_' (like /thanks)".into(),
        });
    }
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 80 || title.contains('\0') {
        return Err(ApiError::InvalidField {
            field: "title",
            reason: "1 to 80 characters".into(),
        });
    }
    check_text(&body.text, state.config.max_message_chars)?;
    let c = state
        .sessions
        .db
        .add_canned_reply(shortcut, &redact_text(title), &redact_text(&body.text))
        .await?;
    state
        .audit(
            who(&me),
            "canned_reply.add",
            Some(&c.id.to_string()),
            json!({"shortcut": c.shortcut}),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"reply": canned_json(&c)}))).into_response())
}

pub async fn delete_canned_reply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let me = signed_in(&state, &headers).await?;
    crate::rbac::require(&me, crate::rbac::Permission::ManageCannedReplies)?;
    let not_found =
        || ApiError::not_found("canned_reply_not_found", format!("no canned reply {id}"));
    let n: i64 = id.parse().map_err(|_| not_found())?;
    if state.sessions.db.delete_canned_reply(n).await? {
        state
            .audit(who(&me), "canned_reply.delete", Some(&id), json!({}))
            .await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsatBody {
    score: Value,
    #[serde(default)]
    comment: Option<String>,
}

fn csat_json(c: &wismo_store::Csat) -> Value {
    json!({
        "score": c.score,
        "comment": c.comment,
        "created_at": c.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// `POST /v1/conversations/{id}/csat`: the shopper rates the help (once).
pub async fn post_csat(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let session = state.sessions.authorized(&id, bearer(&headers)).await?;
    let body: CsatBody = parse_json(&headers, &body)?;
    let score = body
        .score
        .as_u64()
        .filter(|s| (1..=5).contains(s))
        .and_then(|s| u8::try_from(s).ok())
        .ok_or(ApiError::InvalidScore)?;
    let comment = body
        .comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    // Card data (PCI DSS) is checked as typed, stored redacted.
    let redacted_comment = comment.as_deref().map(redact_text);
    if let Some(c) = &comment {
        let chars = c.chars().count();
        if chars > 1000 {
            return Err(ApiError::InvalidField {
                field: "comment",
                reason: format!("{chars} characters; the limit is 1000"),
            });
        }
        if c.contains('\0') {
            return Err(ApiError::InvalidField {
                field: "comment",
                reason: "contains a NUL character".into(),
            });
        }
    }
    let s = &state.sessions;
    let now = s.clock.now();
    let comment = redacted_comment;
    // A rating is for the help of a person who settled the case: the
    // handoffs table (shared by every server) says whether one did.
    if s.db.csat(&id).await?.is_some() {
        return Err(ApiError::conflict(
            "csat_already_given",
            "this conversation was already rated",
        ));
    }
    let handoffs = s.db.handoffs_of(&id).await?;
    match handoffs.last() {
        None => {
            return Err(ApiError::conflict(
                "csat_bot_only",
                "only a conversation a person from the team helped with can be rated",
            ))
        }
        Some(h) if h.is_open() => {
            return Err(ApiError::conflict(
                "csat_case_open",
                format!(
                    "case {} is still open; rate it once it is resolved",
                    h.case_id()
                ),
            ))
        }
        Some(_) if !handoffs.iter().any(|h| h.status == "resolved") => {
            return Err(ApiError::conflict(
                "csat_not_resolved",
                "the team handed this conversation back without resolving it",
            ))
        }
        Some(_) => {}
    }
    if !s.db.add_csat(&id, score, comment.as_deref(), now).await? {
        return Err(ApiError::conflict(
            "csat_already_given",
            "this conversation was already rated",
        ));
    }
    let c = comment.clone();
    s.staff(&session, move |_, conv, now| {
        vec![conv.record(Event::CsatGiven {
            score,
            comment: c,
            at: now,
        })]
    })
    .await?;
    s.crm(
        "csat.submitted",
        &id,
        json!({"score": score, "comment": comment}),
        now,
    )
    .await?;
    let stored =
        s.db.csat(&id)
            .await?
            .ok_or_else(|| ApiError::Internal("rating vanished".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"csat": csat_json(&stored)})),
    )
        .into_response())
}

/// The admin token, an API key with the `analytics` scope, or a signed-in
/// agent; returns who, for the audit trail.
async fn staff_only(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, &'static str), ApiError> {
    let is_key_or_admin = bearer(headers).is_some_and(|t| {
        t.starts_with(crate::api::KEY_PREFIX)
            || state.config.admin_token.as_ref().is_some_and(|w| {
                crate::sessions::constant_time_eq(t.as_bytes(), w.expose().as_bytes())
            })
    });
    if is_key_or_admin {
        let c = crate::api::require_scope(state, headers, "analytics").await?;
        return Ok((c.actor, c.kind));
    }
    let me = signed_in(state, headers).await?;
    crate::rbac::require(&me, crate::rbac::Permission::ViewAnalytics)?;
    Ok((me.id, "agent"))
}

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_seconds().max(0)
}

/// One conversation's resolution: contained by the bot, or the times to
/// the first agent response and to resolution, the outcome and the rating.
pub fn resolution_json(id: &str, handoffs: &[&Handoff], csat: Option<&wismo_store::Csat>) -> Value {
    let first = handoffs.first();
    let responded = handoffs
        .iter()
        .find_map(|h| h.first_response_at.map(|t| (h, t)));
    let resolved = handoffs.iter().rev().find(|h| h.status == "resolved");
    let status = match handoffs.last() {
        None => "contained",
        Some(h) if h.is_open() => "open",
        Some(h) => h.status.as_str(),
    };
    json!({
        "conversation_id": id,
        "status": status,
        "contained": handoffs.is_empty(),
        "handoffs": handoffs.len(),
        "handoff_requested_at": first.map(|h| h.requested_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        "first_agent_response_seconds": responded.map(|(h, t)| secs(h.requested_at, t)),
        "resolution_seconds": match (first, resolved.and_then(|h| h.closed_at)) {
            (Some(f), Some(closed)) => Some(secs(f.requested_at, closed)),
            _ => None,
        },
        "outcome": resolved.and_then(|h| h.outcome.clone()),
        "tags": resolved.map(|h| h.tags.clone()).unwrap_or_default(),
        "csat": csat.map(csat_json),
    })
}

pub async fn resolution(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (actor, kind) = staff_only(&state, &headers).await?;
    let db = &state.sessions.db;
    if db.conversation(&id).await?.is_none() {
        return Err(ApiError::not_found(
            "conversation_not_found",
            format!("no conversation {id}"),
        ));
    }
    state
        .audit((&actor, kind), "resolution.view", Some(&id), json!({}))
        .await?;
    let handoffs = db.handoffs_of(&id).await?;
    let csat = db.csat(&id).await?;
    let refs: Vec<&Handoff> = handoffs.iter().collect();
    Ok(Json(resolution_json(&id, &refs, csat.as_ref())))
}

#[derive(Debug, Deserialize)]
pub struct SinceQuery {
    since: Option<String>,
}

fn mean(xs: &[i64]) -> Value {
    if xs.is_empty() {
        Value::Null
    } else {
        json!(xs.iter().sum::<i64>() as f64 / xs.len() as f64)
    }
}

/// `GET /v1/admin/resolutions?since=`: every conversation created since
/// then (default: the last 30 days) and the totals, from the read replica
/// when there is one (analytics tolerate its lag).
pub async fn resolutions(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<SinceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (actor, kind) = staff_only(&state, &headers).await?;
    let Query(q) = query.map_err(|e| ApiError::InvalidField {
        field: "query",
        reason: e.body_text(),
    })?;
    let now = state.sessions.clock.now();
    let since = match q.since.as_deref() {
        None | Some("") => now - chrono::Duration::days(30),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|e| ApiError::InvalidField {
                field: "since",
                reason: format!("{s:?} is not an RFC 3339 time: {e}"),
            })?
            .with_timezone(&Utc),
    };
    let db = &state.sessions.db;
    state
        .audit(
            (&actor, kind),
            "resolutions.view",
            None,
            json!({"since": since.to_rfc3339()}),
        )
        .await?;
    // Analytics: lag-tolerant, from the replica when there is one.
    let reads = db.replica_reads();
    let conversations = reads.conversations_since(since).await?;
    let handoffs = reads.handoffs_since(since).await?;
    let ratings = reads.csat_since(since).await?;
    let mut by_conv: HashMap<&str, Vec<&Handoff>> = HashMap::new();
    for h in &handoffs {
        by_conv
            .entry(h.conversation_id.as_str())
            .or_default()
            .push(h);
    }
    let rated: HashMap<&str, &wismo_store::Csat> = ratings
        .iter()
        .map(|c| (c.conversation_id.as_str(), c))
        .collect();
    let items: Vec<Value> = conversations
        .iter()
        .map(|(id, _)| {
            let hs = by_conv.get(id.as_str()).cloned().unwrap_or_default();
            resolution_json(id, &hs, rated.get(id.as_str()).copied())
        })
        .collect();
    let contained = items.iter().filter(|i| i["contained"] == true).count();
    let resolved = items.iter().filter(|i| i["status"] == "resolved").count();
    let first: Vec<i64> = items
        .iter()
        .filter_map(|i| i["first_agent_response_seconds"].as_i64())
        .collect();
    let res: Vec<i64> = items
        .iter()
        .filter_map(|i| i["resolution_seconds"].as_i64())
        .collect();
    let scores: Vec<i64> = ratings.iter().map(|c| c.score).collect();
    Ok(Json(json!({
        "since": since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "conversations": items.len(),
        "contained": contained,
        "containment_rate": if items.is_empty() { Value::Null } else { json!(contained as f64 / items.len() as f64) },
        "handed_off": items.len() - contained,
        "resolved": resolved,
        "avg_first_agent_response_seconds": mean(&first),
        "avg_resolution_seconds": mean(&res),
        "csat_count": scores.len(),
        "csat_average": mean(&scores),
        "items": items,
    })))
}
