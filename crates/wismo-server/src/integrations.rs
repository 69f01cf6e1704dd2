//! Webhooks from the systems a store uses, written into the order mirror:
//! `POST /v1/integrations/shopify/webhooks`.
//!
//! The path of a delivery: configured → signature → freshness → which
//! delivery and topic → payload → applied once in one transaction (every
//! server's order cache told) → `200` with what happened. Shopify wants an
//! answer within 5 s and retries anything else than 2xx, so a topic wismo
//! does not use, a repeat and a late (older) state are all answered `200`
//! with an `outcome` saying so.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wismo_core::store::shopify::{parse_webhook, WebhookTopic};
use wismo_integrations::shopify::webhook;

use crate::error::ApiError;
use crate::AppState;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Stage: the body is signed with our secret.
fn shopify_signed(headers: &HeaderMap, body: &[u8], secret: &str) -> Result<(), ApiError> {
    let signature = header(headers, "x-shopify-hmac-sha256")
        .ok_or(ApiError::WebhookSignatureInvalid("shopify"))?;
    if webhook::verify(secret.as_bytes(), body, signature) {
        Ok(())
    } else {
        Err(ApiError::WebhookSignatureInvalid("shopify"))
    }
}

/// Stage: not a replay of an old delivery. Shopify's signature covers the
/// body only, so the time is `X-Shopify-Triggered-At`; a captured request
/// replayed inside the window is recognised by its webhook id instead.
fn shopify_fresh(
    headers: &HeaderMap,
    now: DateTime<Utc>,
    max_age: std::time::Duration,
) -> Result<(), ApiError> {
    let stale = |reason: String| ApiError::WebhookStale {
        provider: "shopify",
        reason,
    };
    let at = header(headers, "x-shopify-triggered-at")
        .ok_or_else(|| stale("X-Shopify-Triggered-At is missing".into()))?;
    let at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| stale("X-Shopify-Triggered-At is not an RFC 3339 time".into()))?
        .with_timezone(&Utc);
    let age = now.signed_duration_since(at);
    let max = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    if age > max {
        return Err(stale(format!(
            "triggered {} s ago; the limit is {} s",
            age.num_seconds(),
            max.num_seconds()
        )));
    }
    if age < -chrono::Duration::minutes(5) {
        return Err(stale("triggered in the future".into()));
    }
    Ok(())
}

/// Stage: which delivery this is.
fn shopify_delivery(headers: &HeaderMap) -> Result<(&str, &str), ApiError> {
    let missing = |h: &str| ApiError::InvalidBody(format!("the {h} header is missing"));
    let id =
        header(headers, "x-shopify-webhook-id").ok_or_else(|| missing("X-Shopify-Webhook-Id"))?;
    if id.len() > 200 {
        return Err(ApiError::InvalidBody(
            "X-Shopify-Webhook-Id is too long".into(),
        ));
    }
    let topic = header(headers, "x-shopify-topic").ok_or_else(|| missing("X-Shopify-Topic"))?;
    Ok((id, topic))
}

pub async fn shopify_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let secret = state
        .config
        .shopify_webhook_secret
        .as_ref()
        .ok_or(ApiError::IntegrationNotConfigured("shopify"))?;
    shopify_signed(&headers, &body, secret.expose())?;
    // Real time, also under a frozen demo clock: Shopify's times are real.
    let now = Utc::now();
    shopify_fresh(&headers, now, state.config.shopify_webhook_max_age)?;
    let (delivery_id, topic) = shopify_delivery(&headers)?;
    let Some(topic) = WebhookTopic::parse(topic) else {
        tracing::info!(topic, "shopify webhook topic not used");
        return Ok(Json(json!({"outcome": "ignored", "topic": topic})));
    };
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::MalformedJson("the body is not UTF-8".into()))?;
    let change = parse_webhook(topic, text).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    let outcome = state
        .sessions
        .db
        .apply_delivery("shopify", delivery_id, change, now)
        .await?;
    tracing::info!(
        topic = topic.as_str(),
        outcome = outcome.as_str(),
        "shopify webhook"
    );
    let order = match &outcome {
        wismo_store::MirrorOutcome::Applied(n)
        | wismo_store::MirrorOutcome::Stale(n)
        | wismo_store::MirrorOutcome::Unchanged(n) => Some(n.clone()),
        _ => None,
    };
    Ok(Json(json!({
        "outcome": outcome.as_str(),
        "topic": topic.as_str(),
        "order": order,
    })))
}
