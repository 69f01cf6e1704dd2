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

/// The order a delivery concerned, when known.
fn order_of(outcome: &wismo_store::MirrorOutcome) -> Option<String> {
    match outcome {
        wismo_store::MirrorOutcome::Applied(n)
        | wismo_store::MirrorOutcome::Stale(n)
        | wismo_store::MirrorOutcome::Unchanged(n) => Some(n.clone()),
        _ => None,
    }
}

/// Stage: the integration is on (its secret is set).
fn configured<'a>(
    secret: &'a Option<crate::config::Secret>,
    provider: &'static str,
) -> Result<&'a crate::config::Secret, ApiError> {
    secret
        .as_ref()
        .ok_or(ApiError::IntegrationNotConfigured(provider))
}

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
    let secret = configured(&state.config.shopify_webhook_secret, "shopify")?;
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
    let fired = change.clone();
    let outcome = state
        .sessions
        .db
        .apply_delivery("shopify", delivery_id, change, now)
        .await?;
    if let wismo_store::MirrorOutcome::Applied(number) = &outcome {
        crate::notify::after_platform_change(&state, number, &fired).await;
    }
    tracing::info!(
        topic = topic.as_str(),
        outcome = outcome.as_str(),
        "shopify webhook"
    );
    let order = order_of(&outcome);
    Ok(Json(json!({
        "outcome": outcome.as_str(),
        "topic": topic.as_str(),
        "order": order,
    })))
}

/// Which carrier-tracking service a delivery comes from.
#[derive(Debug, Clone, Copy)]
enum Tracker {
    AfterShip,
    EasyPost,
}

impl Tracker {
    fn name(self) -> &'static str {
        match self {
            Tracker::AfterShip => "aftership",
            Tracker::EasyPost => "easypost",
        }
    }
}

pub async fn aftership_webhook(
    state: State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    tracking_webhook(Tracker::AfterShip, state, headers, body).await
}

pub async fn easypost_webhook(
    state: State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    tracking_webhook(Tracker::EasyPost, state, headers, body).await
}

/// A carrier-tracking delivery: configured → signature → payload → not a
/// replay (the event's own time, inside the signed body) → applied once to
/// the fulfilments with its tracking number → the store's proactive rules.
async fn tracking_webhook(
    tracker: Tracker,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    use wismo_integrations::tracking::{aftership, easypost};
    let provider = tracker.name();
    let (secret, header_name) = match tracker {
        Tracker::AfterShip => (
            &state.config.aftership_webhook_secret,
            "aftership-hmac-sha256",
        ),
        Tracker::EasyPost => (&state.config.easypost_webhook_secret, "x-hmac-signature"),
    };
    let secret = secret
        .as_ref()
        .ok_or(ApiError::IntegrationNotConfigured(provider))?;
    let signature =
        header(&headers, header_name).ok_or(ApiError::WebhookSignatureInvalid(provider))?;
    let verified = match tracker {
        Tracker::AfterShip => aftership::verify(secret.expose(), &body, signature),
        Tracker::EasyPost => easypost::verify(secret.expose(), &body, signature),
    };
    if !verified {
        return Err(ApiError::WebhookSignatureInvalid(provider));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::MalformedJson("the body is not UTF-8".into()))?;
    let event = match tracker {
        Tracker::AfterShip => aftership::parse(text),
        Tracker::EasyPost => easypost::parse(text),
    }
    .map_err(ApiError::InvalidBody)?;
    let now = Utc::now();
    let age = now.signed_duration_since(event.sent_at);
    let max = chrono::Duration::from_std(state.config.tracking_webhook_max_age)
        .unwrap_or(chrono::Duration::MAX);
    if age > max {
        return Err(ApiError::WebhookStale {
            provider,
            reason: format!(
                "sent {} s ago; the limit is {} s",
                age.num_seconds(),
                max.num_seconds()
            ),
        });
    }
    let Some(update) = event.update else {
        return Ok(Json(json!({"outcome": "ignored"})));
    };
    let (outcome, changed) = state
        .sessions
        .db
        .apply_tracking_delivery(provider, &event.id, &update, now)
        .await?;
    tracing::info!(
        provider,
        status = update.status.as_str(),
        outcome = outcome.as_str(),
        "tracking webhook"
    );
    for order in &changed {
        crate::notify::after_tracking(&state, order, &update.tracking_number, update.status).await;
    }
    let order = order_of(&outcome);
    Ok(Json(json!({
        "outcome": outcome.as_str(),
        "status": update.status.as_str(),
        "order": order,
    })))
}

/// A Stripe event: configured → `Stripe-Signature` (with its time inside
/// the tolerance) → payload → a succeeded refund applied once to the order
/// its payment names (metadata `order_number`, else `order_id`) → the
/// refund notice.
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    use wismo_integrations::stripe::{self, SignatureError, StripeEvent};
    let secret = configured(&state.config.stripe_webhook_secret, "stripe")?;
    let signature =
        header(&headers, "stripe-signature").ok_or(ApiError::WebhookSignatureInvalid("stripe"))?;
    let now = Utc::now();
    let tolerance =
        i64::try_from(state.config.stripe_webhook_tolerance.as_secs()).unwrap_or(i64::MAX);
    match stripe::verify(secret.expose(), &body, signature, now, tolerance) {
        Ok(()) => {}
        Err(SignatureError::Invalid) => return Err(ApiError::WebhookSignatureInvalid("stripe")),
        Err(SignatureError::Stale { age_secs }) => {
            return Err(ApiError::WebhookStale {
                provider: "stripe",
                reason: format!("signed {age_secs} s ago; the tolerance is {tolerance} s"),
            })
        }
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::MalformedJson("the body is not UTF-8".into()))?;
    let (event_id, refund) = match stripe::parse(text).map_err(ApiError::InvalidBody)? {
        StripeEvent::Other { kind, .. } => {
            return Ok(Json(json!({"outcome": "ignored", "type": kind})));
        }
        StripeEvent::Dispute { event_id, dispute } => {
            return stripe_dispute(&state, &event_id, dispute).await;
        }
        StripeEvent::Refund { event_id, refund } => (event_id, refund),
    };
    let db = &state.sessions.db;
    let platform_id = match (&refund.order_number, &refund.order_id) {
        (Some(n), _) => db.find_order(n).await.ok().flatten().map(|o| o.id),
        (None, Some(id)) => Some(id.clone()),
        (None, None) => None,
    };
    let Some(order_id) = platform_id else {
        return Ok(Json(
            json!({"outcome": "unknown_order", "status": refund.status}),
        ));
    };
    let change = wismo_core::store::shopify::WebhookChange::Refund {
        order_id,
        refund: wismo_core::store::Refund {
            status: wismo_core::store::RefundStatus::parse(&refund.status),
            id: refund.id.clone(),
            created_at: refund.created,
            amount: refund.amount.clone(),
            note: None,
            line_items: Vec::new(),
        },
        returned: false,
    };
    let fired = change.clone();
    let outcome = db.apply_delivery("stripe", &event_id, change, now).await?;
    if let wismo_store::MirrorOutcome::Applied(number) = &outcome {
        crate::notify::after_platform_change(&state, number, &fired).await;
    }
    tracing::info!(outcome = outcome.as_str(), "stripe webhook");
    let order = order_of(&outcome);
    Ok(Json(
        json!({"outcome": outcome.as_str(), "status": refund.status, "order": order}),
    ))
}

/// A dispute: recorded in the audit trail (its id, amount, status and
/// reason, no personal data), once per event; when its metadata names an
/// order the mirror holds, a `payment_dispute` case is opened on it for
/// the team.
async fn stripe_dispute(
    state: &AppState,
    event_id: &str,
    dispute: wismo_integrations::stripe::StripeDispute,
) -> Result<Json<Value>, ApiError> {
    let db = &state.sessions.db;
    if !db
        .claim_delivery("stripe", event_id, "dispute", Utc::now())
        .await?
    {
        return Ok(Json(json!({"outcome": "duplicate"})));
    }
    let order = match &dispute.order_number {
        Some(n) => db.find_order(n).await.ok().flatten(),
        None => None,
    };
    let description = format!(
        "Stripe dispute {} ({} {}, {}): {}",
        dispute.id,
        dispute.amount,
        dispute.currency,
        dispute.reason.as_deref().unwrap_or("no reason given"),
        dispute.status
    );
    let case = match &order {
        Some(o) => Some(
            db.open_case(Some(&o.number), "payment_dispute", &description, Utc::now())
                .await
                .map_err(|e| ApiError::Internal(format!("could not open the dispute case: {e}")))?,
        ),
        None => None,
    };
    state
        .audit(
            ("system", "stripe"),
            "payment.dispute",
            None,
            json!({"dispute": dispute.id, "charge": dispute.charge, "amount": dispute.amount,
                   "currency": dispute.currency, "status": dispute.status, "reason": dispute.reason,
                   "order": order.as_ref().map(|o| &o.number)}),
        )
        .await?;
    tracing::info!(status = %dispute.status, "stripe dispute recorded");
    Ok(Json(json!({
        "outcome": if case.is_some() { "case_opened" } else { "recorded" },
        "status": dispute.status,
        "order": order.map(|o| o.number),
        "case": case.map(|c| c.id),
    })))
}

/// A WooCommerce `order.*` webhook: configured → the save-time ping (an
/// unsigned `webhook_id=N`, answered 200) → `X-WC-Webhook-Signature` →
/// topic and delivery → the order → not a replay (its signed
/// `date_modified_gmt` within `woocommerce_webhook_max_age`) → applied once.
pub async fn woocommerce_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    use wismo_integrations::woocommerce;
    let secret = configured(&state.config.woocommerce_webhook_secret, "woocommerce")?;
    let signature = header(&headers, "x-wc-webhook-signature");
    if signature.is_none() && woocommerce::is_ping(&body) {
        return Ok(Json(json!({"outcome": "ping"})));
    }
    let signature = signature.ok_or(ApiError::WebhookSignatureInvalid("woocommerce"))?;
    if !woocommerce::verify(secret.expose(), &body, signature) {
        return Err(ApiError::WebhookSignatureInvalid("woocommerce"));
    }
    let missing = |h: &str| ApiError::InvalidBody(format!("the {h} header is missing"));
    let topic =
        header(&headers, "x-wc-webhook-topic").ok_or_else(|| missing("X-WC-Webhook-Topic"))?;
    let hook = header(&headers, "x-wc-webhook-id").ok_or_else(|| missing("X-WC-Webhook-ID"))?;
    let delivery = header(&headers, "x-wc-webhook-delivery-id")
        .ok_or_else(|| missing("X-WC-Webhook-Delivery-ID"))?;
    if hook.len() + delivery.len() > 200 {
        return Err(ApiError::InvalidBody("the webhook ids are too long".into()));
    }
    if !matches!(topic, "order.created" | "order.updated" | "order.restored") {
        return Ok(Json(json!({"outcome": "ignored", "topic": topic})));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::MalformedJson("the body is not UTF-8".into()))?;
    let (order, updated_at) = wismo_core::store::woocommerce::parse_order(text)
        .map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    let now = Utc::now();
    let max = chrono::Duration::from_std(state.config.woocommerce_webhook_max_age)
        .unwrap_or(chrono::Duration::MAX);
    if let Some(at) = updated_at {
        let age = now.signed_duration_since(at);
        if age > max {
            return Err(ApiError::WebhookStale {
                provider: "woocommerce",
                reason: format!(
                    "the order was modified {} s ago; the limit is {} s",
                    age.num_seconds(),
                    max.num_seconds()
                ),
            });
        }
    }
    let change = wismo_core::store::shopify::WebhookChange::Order {
        order: Box::new(order),
        updated_at,
    };
    let outcome = state
        .sessions
        .db
        .apply_delivery("woocommerce", &format!("{hook}:{delivery}"), change, now)
        .await?;
    tracing::info!(topic, outcome = outcome.as_str(), "woocommerce webhook");
    let order = order_of(&outcome);
    Ok(Json(
        json!({"outcome": outcome.as_str(), "topic": topic, "order": order}),
    ))
}
