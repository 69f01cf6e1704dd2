//! REST endpoints: conversations, messages, transcript, the Rasa REST
//! channel, admin import and webhook status, health. Request bodies go through [`parse_json`],
//! so every malformed or unexpected body gets a precise [`ApiError`].

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wismo_core::dialogue::SignedIn;

use crate::error::ApiError;
use crate::security::ClientIp;
use crate::sessions::{constant_time_eq, CreateRequest, Session};
use crate::AppState;

/// A shopper's turn with the limits around it: messages per conversation,
/// failed order verifications per client IP (counted and logged after).
pub async fn limited_turn(
    state: &AppState,
    ip: std::net::IpAddr,
    path: &str,
    session: &std::sync::Arc<Session>,
    text: &str,
    client_message_id: Option<&str>,
) -> Result<Value, ApiError> {
    // A retry of a message already answered is a replay, never limited.
    if let Some(cmid) = client_message_id {
        let answered = state
            .sessions
            .db
            .recall_client_message(&session.id, cmid)
            .await?
            .is_some();
        if answered {
            return state.sessions.turn(session, text, client_message_id).await;
        }
    }
    let verifying = (state.config.verification_failures.is_some()
        || state.config.verification_failures_order.is_some())
        && state.sessions.verifying(session).await;
    let order = if verifying {
        state.sessions.order_in_question(session).await
    } else {
        None
    };
    // Per IP (sized for NATs): a flood, answered 429. Per order number: the
    // shopper is told in the conversation and offered a person.
    let locked = state
        .security
        .before_turn(
            &state.config,
            ip,
            &session.id,
            path,
            verifying,
            order.as_deref(),
        )
        .await?;
    let (reply, failed) = state
        .sessions
        .turn_checked(session, text, client_message_id, locked, true)
        .await?;
    if failed > 0 {
        let order = state.sessions.order_in_question(session).await.or(order);
        state
            .security
            .after_turn(
                &state.config,
                ip,
                &session.id,
                path,
                failed,
                order.as_deref(),
            )
            .await;
    }
    Ok(reply)
}

/// Locales with shipped templates.
pub const LOCALES: [&str; 2] = ["en", "es"];

/// Checks the Content-Type (JSON or absent) and parses the body.
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("(not text)").to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or("").trim();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType(mime.to_string()));
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidBody(
            "the body is empty; expected a JSON object".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::from_json(&e))
}

/// The token of `Authorization: Bearer <token>`, if well formed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What an API key may do. The admin token may do everything.
pub const SCOPES: [&str; 6] = [
    "import",
    "webhooks",
    "analytics",
    "conversations",
    "privacy",
    "store",
];

/// Every API key starts with this (`wsk_` + 64 hex digits).
pub const KEY_PREFIX: &str = "wsk_";

/// A new API key: (the key, shown once; its id). Only the key's SHA-256 is stored.
pub fn new_api_key() -> Result<(String, String), ApiError> {
    let key = format!("{KEY_PREFIX}{}", crate::sessions::new_secret()?);
    let id = format!("k_{}", &crate::sessions::new_secret()?[..12]);
    Ok((key, id))
}

/// Who called an admin endpoint, for the audit trail: the admin token's
/// holder, or an API key (by id).
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub actor: String,
    pub kind: &'static str,
}

impl Caller {
    pub fn audit_name(&self) -> (&str, &str) {
        (self.actor.as_str(), self.kind)
    }
}

/// The admin token, or an API key holding `scope`. A key without the scope
/// gets 403 `insufficient_scope`; a wrong or revoked one 401.
pub async fn require_scope(
    state: &AppState,
    headers: &HeaderMap,
    scope: &'static str,
) -> Result<Caller, ApiError> {
    let token = bearer(headers);
    if let Some(t) = token.filter(|t| t.starts_with(KEY_PREFIX) && t.len() <= 128) {
        let now = state.sessions.clock.now();
        return match state
            .sessions
            .db
            .api_key_by_hash(&crate::sessions::token_hash(t), now)
            .await?
        {
            Some(k) if k.scopes.iter().any(|s| s == scope) => Ok(Caller {
                actor: k.id,
                kind: "api_key",
            }),
            Some(_) => Err(ApiError::InsufficientScope(scope)),
            None => Err(ApiError::AdminUnauthorized),
        };
    }
    let Some(want) = &state.config.admin_token else {
        return Err(ApiError::AdminDisabled);
    };
    match token {
        Some(t) if constant_time_eq(t.as_bytes(), want.expose().as_bytes()) => Ok(Caller {
            actor: "admin".into(),
            kind: "admin",
        }),
        _ => Err(ApiError::AdminUnauthorized),
    }
}

/// Checks a shopper's message text.
pub fn check_text(text: &str, limit: usize) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::EmptyMessage);
    }
    let chars = text.chars().count();
    if chars > limit {
        return Err(ApiError::MessageTooLong { chars, limit });
    }
    if text.contains('\0') {
        return Err(ApiError::InvalidField {
            field: "text",
            reason: "contains a NUL character".into(),
        });
    }
    Ok(())
}

/// An `after` message id (REST query or WebSocket frame): a seq, 0 or more.
pub fn parse_after(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::InvalidField {
            field: "after",
            reason: format!("{s:?} is not a message id"),
        })
}

/// Checks a client message id: 1–128 visible ASCII characters.
pub fn check_client_message_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidField {
            field: "client_message_id",
            reason: "must be 1 to 128 visible ASCII characters".into(),
        });
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    locale: Option<String>,
    channel: Option<String>,
    metadata: Option<Value>,
    /// Only with the admin token: a signed-in shopper.
    customer: Option<CustomerBody>,
    /// A customer token (JWT) from the store's site: signs the shopper in.
    customer_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerBody {
    id: Option<String>,
    email: Option<String>,
}

pub async fn create_conversation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: CreateBody = if body.iter().all(u8::is_ascii_whitespace) {
        CreateBody::default()
    } else {
        parse_json(&headers, &body)?
    };
    let locale = match body.locale {
        Some(l) => {
            let l = l.trim().to_ascii_lowercase();
            let base = l.split(['-', '_']).next().unwrap_or("").to_string();
            if !LOCALES.contains(&base.as_str()) {
                return Err(ApiError::InvalidField {
                    field: "locale",
                    reason: format!(
                        "unsupported locale {l:?} (supported: {})",
                        LOCALES.join(", ")
                    ),
                });
            }
            Some(base)
        }
        None => None,
    };
    let channel = body.channel.unwrap_or_else(|| "api".to_string());
    if channel.is_empty()
        || channel.len() > 32
        || !channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::InvalidField {
            field: "channel",
            reason: "must be 1 to 32 letters, digits, '-' or '_'".into(),
        });
    }
    let metadata = body.metadata.unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        return Err(ApiError::InvalidField {
            field: "metadata",
            reason: "must be a JSON object".into(),
        });
    }
    if serde_json::to_string(&metadata).map_or(0, |s| s.len()) > 4096 {
        return Err(ApiError::InvalidField {
            field: "metadata",
            reason: "must be at most 4096 bytes of JSON".into(),
        });
    }
    if body.customer.is_some() && body.customer_token.is_some() {
        return Err(ApiError::InvalidField {
            field: "customer_token",
            reason: "give either customer or customer_token, not both".into(),
        });
    }
    let signed_in = match &body.customer_token {
        Some(t) => Some(verify_customer_token(&state, ip, t, "/v1/conversations", "").await?),
        None => None,
    };
    let customer = match body.customer {
        None => signed_in.clone(),
        Some(c) => {
            if require_scope(&state, &headers, "conversations")
                .await
                .is_err()
            {
                return Err(ApiError::InvalidField {
                    field: "customer",
                    reason: "only a server holding the admin token (or an API key with the conversations scope) may name a signed-in customer"
                        .into(),
                });
            }
            let email = c.email.map(|e| e.trim().to_lowercase());
            if email
                .as_deref()
                .is_some_and(|e| !e.contains('@') || e.len() > 254)
                || c.id
                    .as_deref()
                    .is_some_and(|i| i.is_empty() || i.len() > 64)
                || (email.is_none() && c.id.is_none())
            {
                return Err(ApiError::InvalidField {
                    field: "customer",
                    reason: "needs an email address or an id (at most 64 characters)".into(),
                });
            }
            Some(SignedIn {
                customer_id: c.id,
                email,
            })
        }
    };
    let created = state
        .sessions
        .create(CreateRequest {
            locale,
            channel,
            metadata,
            customer,
            signed_in: signed_in.is_some(),
            id: None,
        })
        .await?;
    let body = json!({
        "id": created.id,
        "token": created.token,
        "locale": created.locale,
        "messages": created.messages,
    });
    let location = format!("/v1/conversations/{}", created.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

/// Verifies a customer token; a refusal is a security event naming the
/// reason (`forged_token`, `expired_token`, …), and the client hears only
/// `invalid_customer_token`.
async fn verify_customer_token(
    state: &AppState,
    ip: std::net::IpAddr,
    token: &str,
    path: &str,
    conversation: &str,
) -> Result<SignedIn, ApiError> {
    let Some(verifier) = &state.shopper_jwt else {
        return Err(ApiError::InvalidField {
            field: "customer_token",
            reason: "shopper sign-in is not configured on this server (shopper_jwt_secret or shopper_jwks_url)".into(),
        });
    };
    match verifier.verify(token, state.sessions.clock.now()).await {
        Ok(who) => Ok(who),
        Err(why) => {
            state.security.event(
                "invalid_customer_token",
                ip,
                conversation,
                path,
                why.reason(),
            );
            Err(ApiError::InvalidCustomerToken)
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityBody {
    customer_token: String,
}

/// `POST /v1/conversations/{id}/identity`: signs the shopper of an existing
/// conversation in with a customer token (the widget was opened before the
/// shopper signed in to the store). Signing in again as the same customer
/// is a no-op; as another customer it is refused (`already_signed_in`).
pub async fn sign_in_shopper(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let session = state.sessions.authorized(&id, bearer(&headers)).await?;
    let body: IdentityBody = parse_json(&headers, &body)?;
    let path = format!("/v1/conversations/{}/identity", session.id);
    let who = verify_customer_token(&state, ip, &body.customer_token, &path, &session.id).await?;
    state.sessions.sign_in(&session, who).await?;
    Ok(Json(json!({"signed_in": true})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    text: String,
    client_message_id: Option<String>,
}

pub async fn post_message(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // Authorise first: a stranger learns nothing, not even about the body.
    let session = state.sessions.authorized(&id, bearer(&headers)).await?;
    let body: MessageBody = parse_json(&headers, &body)?;
    check_text(&body.text, state.config.max_message_chars)?;
    if let Some(c) = &body.client_message_id {
        check_client_message_id(c)?;
    }
    let path = format!("/v1/conversations/{}/messages", session.id);
    let reply = limited_turn(
        &state,
        ip,
        &path,
        &session,
        &body.text,
        body.client_message_id.as_deref(),
    )
    .await?;
    Ok(Json(reply))
}

#[derive(Debug, Deserialize)]
pub struct TranscriptQuery {
    after: Option<String>,
}

pub async fn get_conversation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<TranscriptQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let session = state.sessions.authorized(&id, bearer(&headers)).await?;
    let Query(q) = query.map_err(|e| ApiError::InvalidField {
        field: "query",
        reason: e.body_text(),
    })?;
    let after = match q.after.as_deref() {
        None | Some("") => 0,
        Some(s) => parse_after(s)?,
    };
    let row = state
        .sessions
        .db
        .conversation(&session.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let (messages, handoff) = state.sessions.transcript(&session, after).await?;
    let csat = state.sessions.db.csat(&session.id).await?;
    Ok(Json(json!({
        "csat": csat.map(|c| json!({
            "score": c.score,
            "comment": c.comment,
            "created_at": c.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })),
        "id": row.id,
        "locale": row.locale,
        "channel": row.channel,
        "metadata": row.metadata,
        "created_at": row.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "messages": messages,
        "handoff": handoff.json(),
    })))
}

#[derive(Debug, Deserialize)]
struct RasaBody {
    sender: String,
    message: String,
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<Value>,
}

/// Who is calling the Rasa channel: `shared` for the shared secret itself,
/// `jwt:<sub>` for an HS256 JWT signed with it (Rasa's own `jwt_secret`
/// style; `sub`, or Rasa's `user.username`, names the client). The channel
/// off: 404 `rasa_channel_disabled`; anything else: 401 `rasa_unauthorized`.
pub fn rasa_client(
    secret: Option<&crate::config::Secret>,
    headers: &HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, ApiError> {
    let secret = secret.ok_or(ApiError::RasaChannelDisabled)?;
    let token = bearer(headers).ok_or(ApiError::RasaUnauthorized)?;
    if constant_time_eq(token.as_bytes(), secret.expose().as_bytes()) {
        return Ok("shared".into());
    }
    rasa_jwt_subject(token, secret.expose().as_bytes(), now.timestamp())
        .map(|sub| format!("jwt:{sub}"))
        .ok_or(ApiError::RasaUnauthorized)
}

/// The client a Rasa channel JWT names, if it is HS256-signed with `key`,
/// not expired (`exp`, when present) nor early (`nbf`), and names a client.
fn rasa_jwt_subject(token: &str, key: &[u8], now: i64) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    if token.len() > crate::shopper_jwt::MAX_TOKEN_BYTES {
        return None;
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") || header.get("crit").is_some() {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    let hkey = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::verify(&hkey, &token.as_bytes()[..h.len() + 1 + p.len()], &sig).ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    let date = |name: &str| claims.get(name).map(|v| v.as_f64().map(|f| f as i64));
    match date("exp") {
        Some(Some(exp)) if exp <= now => return None,
        Some(None) => return None,
        _ => {}
    }
    match date("nbf") {
        Some(Some(nbf)) if nbf > now + 60 => return None,
        Some(None) => return None,
        _ => {}
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .or_else(|| claims["user"]["username"].as_str())?;
    (!sub.is_empty() && sub.len() <= 256).then(|| sub.to_string())
}

/// The Rasa REST channel: `{"sender", "message"}` → `[{"recipient_id", "text"}]`.
/// Off unless `rasa_channel` is set; every request carries the shared
/// secret (or a JWT signed with it). One conversation per authenticated
/// client and sender.
pub async fn rasa_webhook(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let client = rasa_client(
        state.config.rasa_channel_token.as_ref(),
        &headers,
        state.sessions.clock.now(),
    )?;
    let body: RasaBody = parse_json(&headers, &body)?;
    if body.sender.is_empty() || body.sender.chars().count() > 128 || body.sender.contains('\0') {
        return Err(ApiError::InvalidField {
            field: "sender",
            reason: "must be 1 to 128 characters".into(),
        });
    }
    check_text(&body.message, state.config.max_message_chars)?;
    let mut hasher = Sha256::new();
    hasher.update(client.as_bytes());
    hasher.update([0u8]);
    hasher.update(body.sender.as_bytes());
    let digest = hasher.finalize();
    let id: String = std::iter::once("rasa_".to_string())
        .chain(digest[..16].iter().map(|b| format!("{b:02x}")))
        .collect();
    let session = match state.sessions.get(&id).await? {
        Some(s) => s,
        None => {
            let created = state
                .sessions
                .create(CreateRequest {
                    locale: None,
                    channel: "rasa".into(),
                    metadata: json!({}),
                    customer: None,
                    signed_in: false,
                    id: Some(id.clone()),
                })
                .await;
            match created {
                Ok(_) => {}
                // Created meanwhile by a concurrent first message: use it.
                Err(ApiError::Unavailable(_))
                    if state.sessions.db.conversation(&id).await?.is_some() => {}
                Err(e) => return Err(e),
            }
            state
                .sessions
                .get(&id)
                .await?
                .ok_or_else(|| ApiError::Internal("conversation vanished".into()))?
        }
    };
    let reply = limited_turn(
        &state,
        ip,
        "/webhooks/rest/webhook",
        &session,
        &body.message,
        None,
    )
    .await?;
    let out: Vec<Value> = reply["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let mut o = json!({"recipient_id": body.sender, "text": m["text"]});
                    if let Some(q) = m["quick_replies"].as_array() {
                        o["buttons"] = q
                            .iter()
                            .map(|b| json!({"title": b, "payload": b}))
                            .collect();
                    }
                    o
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(Value::Array(out)))
}

pub async fn import_shopify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = require_scope(&state, &headers, "import").await?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::MalformedJson(format!("the body is not UTF-8: {e}")))?;
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(ApiError::UnsupportedMediaType(ct));
        }
    }
    let report = state
        .sessions
        .db
        .import_shopify(text)
        .await
        .map_err(|e| match e {
            wismo_store::StoreDbError::InvalidOrders(p) => ApiError::InvalidOrders(p.to_string()),
            other => ApiError::from(other),
        })?;
    tracing::info!(
        inserted = report.inserted,
        updated = report.updated,
        unchanged = report.unchanged,
        "orders imported"
    );
    state
        .audit(
            caller.audit_name(),
            "orders.import",
            None,
            json!({"inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged, "bytes": body.len()}),
        )
        .await?;
    Ok(Json(json!({
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
    })))
}

/// `GET /v1/admin/webhooks`: the configured URLs and the outbox counts,
/// with the 20 most recent failures.
pub async fn webhooks_status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = require_scope(&state, &headers, "webhooks").await?;
    state
        .audit(caller.audit_name(), "webhooks.view", None, json!({}))
        .await?;
    Ok(Json(state.webhooks.status(20).await?))
}

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    // Shutting down: out of the load balancer first, while still serving.
    if state.draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "draining", "model": "loaded", "websockets": state.websockets()}),
            ),
        )
            .into_response();
    }
    // Redis unreachable keeps the server ready (200): limits fall back to
    // this instance's memory at the limit divided by `instances`; the body
    // says so.
    let redis = state.security.limiter().redis_status().await;
    // Likewise a replica: the reads it serves fall back to the primary.
    let replica = replica_status(&state).await;
    let mut body = match state.sessions.db.ping().await {
        Ok(()) => json!({
            "status": "ready",
            "database": "ok",
            "redis": redis,
            "model": "loaded",
            "intents": state.sessions.engine.get().nlu().model().classifier.classes().len(),
            "websockets": state.websockets(),
            "nats": state.sessions.bus.status(),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            json!({"status": "unavailable", "database": "unreachable", "redis": redis, "model": "loaded", "nats": state.sessions.bus.status()})
        }
    };
    if let Some((status, note)) = replica {
        body["replica"] = json!(status);
        if let Some(note) = note {
            body["replica_note"] = json!(note);
        }
    }
    let code = if body["database"] == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// The replica's part of `/readyz`: `None` without one, else `ok` or
/// `unavailable` with a note that its reads go to the primary meanwhile
/// (at most `wismo_store::REPLICA_PING_TIMEOUT`, at once while it rests).
async fn replica_status(state: &AppState) -> Option<(&'static str, Option<&'static str>)> {
    if state.sessions.db.replica_answers().await? {
        Some(("ok", None))
    } else {
        Some((
            "unavailable",
            Some("lag-tolerant reads fall back to the primary; this instance stays ready"),
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShopperBody {
    email: Option<String>,
    customer_id: Option<String>,
}

fn shopper_of(headers: &HeaderMap, body: &[u8]) -> Result<wismo_store::Shopper, ApiError> {
    let b: ShopperBody = parse_json(headers, body)?;
    let email = b
        .email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let customer_id = b
        .customer_id
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(e) = &email {
        if !e.contains('@')
            || e.len() > 254
            || e.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ApiError::InvalidField {
                field: "email",
                reason: "is not an email address".into(),
            });
        }
    }
    if customer_id
        .as_ref()
        .is_some_and(|c| c.len() > 128 || c.contains('\0'))
    {
        return Err(ApiError::InvalidField {
            field: "customer_id",
            reason: "must be 1 to 128 characters".into(),
        });
    }
    if email.is_none() && customer_id.is_none() {
        return Err(ApiError::InvalidField {
            field: "email",
            reason: "name the shopper with email or customer_id".into(),
        });
    }
    Ok(wismo_store::Shopper { email, customer_id })
}

/// The shopper as the audit trail names them (never the full address).
pub fn subject(s: &wismo_store::Shopper) -> String {
    match (&s.email, &s.customer_id) {
        (_, Some(c)) => format!("customer:{c}"),
        (Some(e), None) => crate::agents::mask_email(e),
        (None, None) => "unknown".into(),
    }
}

/// `POST /v1/admin/gdpr/export`: everything about a shopper.
pub async fn gdpr_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = require_scope(&state, &headers, "privacy").await?;
    let who = shopper_of(&headers, &body)?;
    state
        .audit(
            caller.audit_name(),
            "gdpr.export",
            Some(&subject(&who)),
            json!({}),
        )
        .await?;
    Ok(Json(state.sessions.db.export_shopper(&who).await?))
}

/// `POST /v1/admin/gdpr/erase`: erases a shopper.
pub async fn gdpr_erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = require_scope(&state, &headers, "privacy").await?;
    let who = shopper_of(&headers, &body)?;
    let ids = state.sessions.db.shopper_conversations(&who).await?;
    let r = state.sessions.db.erase_shopper(&who).await?;
    state.sessions.forget(&ids);
    let counts = json!({
        "conversations": r.conversations,
        "customers": r.customers,
        "orders_anonymised": r.orders_anonymised,
        "outbox_rows": r.outbox_rows,
    });
    state
        .audit(
            caller.audit_name(),
            "gdpr.erase",
            Some(&subject(&who)),
            counts.clone(),
        )
        .await?;
    Ok(Json(json!({"erased": counts})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeBody {
    older_than_days: u32,
}

/// `POST /v1/admin/gdpr/purge`: deletes conversations idle for longer than N days.
pub async fn gdpr_purge(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = require_scope(&state, &headers, "privacy").await?;
    let b: PurgeBody = parse_json(&headers, &body)?;
    if b.older_than_days == 0 || b.older_than_days > 36_500 {
        return Err(ApiError::InvalidField {
            field: "older_than_days",
            reason: "must be from 1 to 36500".into(),
        });
    }
    // Real time, like the `last_active_at` the store writes.
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(b.older_than_days));
    let ids = state.sessions.db.purge_before(cutoff).await?;
    state.sessions.forget(&ids);
    state
        .audit(
            caller.audit_name(),
            "gdpr.purge",
            None,
            json!({"older_than_days": b.older_than_days, "conversations": ids.len()}),
        )
        .await?;
    Ok(Json(json!({"deleted_conversations": ids.len()})))
}
