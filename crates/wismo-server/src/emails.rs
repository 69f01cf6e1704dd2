//! Proactive emails and their unsubscribe link.
//!
//! After a notice reaches a conversation, the shopper also gets an email
//! when the store asked for it (`[proactive] email = true`), the server has
//! SMTP (`smtp_url`) and the order has an email: once per notice and
//! address on every server (the claim is an insert), within the daily cap
//! per address, never after an unsubscribe. The link
//! (`/v1/unsubscribe/{token}`) carries a random token, not the address;
//! `GET` shows a page with a button, `POST` (the button, or a mail
//! client's RFC 8058 one-click) unsubscribes.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use wismo_core::dialogue::proactive::Notice;
use wismo_core::store::Order;
use wismo_integrations::mail::OutgoingEmail;
use wismo_store::DueNotice;

use crate::error::ApiError;
use crate::AppState;

/// Emails `notice` about `order` (just told to the conversation `n`) if
/// the store's rules and the settings allow.
pub async fn after_notice(
    state: &AppState,
    n: &DueNotice,
    order: &Order,
    notice: Notice,
    locale: &str,
) {
    let rules = state.store.loaded().workspace.profile().proactive.clone();
    // Without public_url there is no unsubscribe link, so no email.
    let (Some(mailer), true, Some(_)) = (&state.mailer, rules.email, &state.config.public_url)
    else {
        return;
    };
    let Some(to) = order.email.as_deref().filter(|e| e.contains('@')) else {
        return;
    };
    let outcome = send(state, mailer, n, order, notice, locale, to).await;
    match outcome {
        Ok(Some(status)) => {
            if status == "sent" {
                let _ = state
                    .audit(
                        ("system", "system"),
                        "notification.emailed",
                        Some(&n.conversation_id),
                        serde_json::json!({"kind": n.kind, "order": n.order_number}),
                    )
                    .await;
            }
            tracing::info!(kind = n.kind.as_str(), status, "proactive email");
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "proactive email not sent"),
    }
}

/// Claims, checks and sends; the status recorded (`None`: another
/// conversation or server has it).
async fn send(
    state: &AppState,
    mailer: &wismo_integrations::mail::Mailer,
    n: &DueNotice,
    order: &Order,
    notice: Notice,
    locale: &str,
    to: &str,
) -> anyhow::Result<Option<&'static str>> {
    let db = &state.sessions.db;
    let now = Utc::now();
    let token = crate::sessions::new_secret().map_err(|e| anyhow::anyhow!("{e}"))?;
    let recipient = db.email_recipient(to, &token, now).await?;
    if !db
        .claim_email_notice(&n.notice_key, &recipient.recipient, now)
        .await?
    {
        return Ok(None);
    }
    let status = if recipient.unsubscribed {
        "unsubscribed"
    } else if over_cap(state, &recipient.recipient).await? {
        "capped"
    } else {
        let loaded = state.store.loaded();
        let store_name = loaded.workspace.profile().name.clone();
        let url = format!(
            "{}/v1/unsubscribe/{}",
            state.config.public_url.as_deref().unwrap_or(""),
            recipient.token
        );
        let engine = state.store.engine.get();
        match engine.proactive_email(order, notice, locale, now, &store_name, &url) {
            None => "nothing_to_say",
            Some(text) => {
                let email = OutgoingEmail {
                    to: to.to_string(),
                    subject: text.subject,
                    body: text.body,
                    unsubscribe_url: url,
                };
                match mailer.send(&email).await {
                    Ok(()) => "sent",
                    Err(e) => {
                        tracing::warn!(error = %e, "SMTP send failed");
                        "failed"
                    }
                }
            }
        }
    };
    db.finish_email_notice(&n.notice_key, &recipient.recipient, status)
        .await?;
    Ok(Some(status))
}

/// Whether the address already had its day's emails (the claim just made
/// counts as one).
async fn over_cap(state: &AppState, recipient: &str) -> anyhow::Result<bool> {
    let cap = state.store.loaded().workspace.profile().proactive.daily_cap;
    let since = Utc::now() - chrono::Duration::hours(24);
    let sent = state
        .sessions
        .db
        .emails_sent_since(recipient, since)
        .await?;
    Ok(sent > i64::from(cap))
}

/// The token in an unsubscribe link: 64 lower-case hex characters.
fn parse_token(token: &str) -> Result<&str, ApiError> {
    if token.len() == 64
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(token)
    } else {
        Err(ApiError::InvalidField {
            field: "token",
            reason: "is not an unsubscribe token (64 hex characters)".into(),
        })
    }
}

pub(crate) fn unknown_token() -> ApiError {
    ApiError::not_found(
        "unsubscribe_token_unknown",
        "no email was sent with this unsubscribe link",
    )
}

/// `GET /v1/unsubscribe/{token}`: a page with the unsubscribe button (a
/// link checker that follows the link unsubscribes nobody).
pub async fn page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let token = parse_token(&token)?;
    let done = state
        .sessions
        .db
        .unsubscribed(token)
        .await?
        .ok_or_else(unknown_token)?;
    let store = html_escape(&state.store.loaded().workspace.profile().name);
    let body = if done {
        format!(
            "<h1>You are unsubscribed</h1><p>{store} will not email you order updates again.</p>"
        )
    } else {
        format!(
            "<h1>Order updates by email</h1><p>{store} emails you when something happens to an order you asked about in our chat.</p>\
             <form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>"
        )
    };
    Ok(Html(page_html(&body)).into_response())
}

/// `POST /v1/unsubscribe/{token}`: unsubscribes (any body: RFC 8058's
/// `List-Unsubscribe=One-Click`, or the page's empty form).
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let token = parse_token(&token)?;
    if !state.sessions.db.unsubscribe(token, Utc::now()).await? {
        return Err(unknown_token());
    }
    let _ = state
        .audit(
            ("shopper", "email"),
            "notification.unsubscribed",
            None,
            serde_json::json!({}),
        )
        .await;
    let store = html_escape(&state.store.loaded().workspace.profile().name);
    Ok(Html(page_html(&format!(
        "<h1>You are unsubscribed</h1><p>{store} will not email you order updates again.</p>"
    )))
    .into_response())
}

fn page_html(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Email updates</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.5rem 1rem}}</style></head><body>{body}</body></html>"
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
