//! Proactive updates: queue a notice when a carrier or payment event fires
//! one of the store's rules (`[proactive]` in store.toml), and deliver due
//! notices into the shoppers' conversations as bot messages (stored in the
//! log, sent live to open widgets, audited).
//!
//! Once per event: the notice key names the order, the kind and the
//! shipment (or refund), and the queue's primary key (key, conversation)
//! makes a second queueing a no-op on every server. Quiet hours delay the
//! due time; the daily cap is checked when sending. Any server may send a
//! due notice; it claims it with a lease first.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use wismo_core::dialogue::proactive::{for_tracking, is_late_enough, send_at, Notice};
use wismo_core::store::tracking::TrackingStatus;
use wismo_core::store::Order;

use crate::AppState;

/// How long a server may take to send a claimed notice before another
/// server takes it over.
const LEASE: Duration = Duration::from_secs(30);
/// How often due notices are looked for without a poke.
const TICK: Duration = Duration::from_secs(2);
/// How often watched orders are checked for lateness.
const LATE_CHECK: Duration = Duration::from_secs(600);

/// Queues `notice` about `order`'s shipment `fulfillment_id` (or refund) for
/// every conversation watching the order, unless the store's rules say no.
pub async fn queue(state: &AppState, order_number: &str, notice: Notice, subject: &str) {
    let now = Utc::now();
    let loaded = state.store.loaded();
    let rules = &loaded.workspace.profile().proactive;
    let tz = state.store.engine.get().view(now).tz;
    let due = send_at(rules.quiet_window(), tz, now);
    let key = format!("{order_number}:{}:{subject}", notice.as_str());
    let watched_since = now - chrono::Duration::days(i64::from(rules.watch_days));
    match state
        .sessions
        .db
        .queue_notice(&key, order_number, notice.as_str(), due, now, watched_since)
        .await
    {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(
                kind = notice.as_str(),
                conversations = n,
                "proactive notice queued"
            );
            state.notices.notify_one();
        }
        Err(e) => tracing::warn!(error = %e, "could not queue a proactive notice"),
    }
}

/// The notices a carrier update that changed `order` is worth.
pub async fn after_tracking(
    state: &AppState,
    order: &Order,
    tracking_number: &str,
    status: TrackingStatus,
) {
    let rules = state.store.loaded().workspace.profile().proactive.clone();
    let Some(notice) = for_tracking(&rules, status) else {
        return;
    };
    let Some(f) = order
        .fulfillments
        .iter()
        .find(|f| f.tracking_numbers.iter().any(|t| t == tracking_number))
    else {
        return;
    };
    queue(state, &order.number, notice, &f.id).await;
}

/// The notice a change from the store platform is worth: a new refund, or
/// a fulfilment whose own status fires a rule.
pub async fn after_platform_change(
    state: &AppState,
    order_number: &str,
    change: &wismo_core::store::shopify::WebhookChange,
) {
    use wismo_core::store::shopify::WebhookChange;
    let rules = state.store.loaded().workspace.profile().proactive.clone();
    match change {
        WebhookChange::Refund { refund, .. }
            if rules.refund_succeeded
                && refund.status == wismo_core::store::RefundStatus::Succeeded =>
        {
            queue(state, order_number, Notice::Refund, &refund.id).await;
        }
        WebhookChange::Fulfillment {
            fulfillment_id,
            fulfillment: Some(f),
            ..
        } => {
            let notice = f
                .shipment_status
                .and_then(|s| for_tracking(&rules, TrackingStatus::from_shopify(s)));
            if let Some(notice) = notice {
                queue(state, order_number, notice, fulfillment_id).await;
            }
        }
        _ => {}
    }
}

/// Sends due notices until the server stops: on every poke, and every few
/// seconds; checks watched orders for lateness now and then.
pub async fn run(state: std::sync::Weak<crate::Inner>) {
    let mut last_late_check: Option<std::time::Instant> = None;
    loop {
        let Some(inner) = state.upgrade() else {
            return;
        };
        let state = AppState(inner);
        if last_late_check.is_none_or(|t| t.elapsed() >= LATE_CHECK) {
            last_late_check = Some(std::time::Instant::now());
            check_lateness(&state).await;
        }
        if let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "proactive notices: delivery failed");
        }
        let poke = state.notices.clone();
        drop(state);
        let _ = tokio::time::timeout(TICK, poke.notified()).await;
    }
}

async fn check_lateness(state: &AppState) {
    let rules = state.store.loaded().workspace.profile().proactive.clone();
    if rules.delay_days == 0 {
        return;
    }
    let since = Utc::now() - chrono::Duration::days(i64::from(rules.watch_days));
    let numbers = match state.sessions.db.watched_orders(since).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "proactive notices: cannot list watched orders");
            return;
        }
    };
    let engine = state.store.engine.get();
    for n in numbers {
        let Ok(Some(order)) = state.sessions.db.find_order(&n).await else {
            continue;
        };
        if is_late_enough(&rules, &engine, &order, Utc::now()) {
            let subject = order
                .fulfillments
                .iter()
                .map(|f| f.id.as_str())
                .max()
                .unwrap_or("order")
                .to_string();
            queue(state, &order.number, Notice::Late, &subject).await;
        }
    }
}

async fn deliver_due(state: &AppState) -> anyhow::Result<()> {
    let db = state.sessions.db.clone();
    loop {
        let due = db.claim_due_notices(Utc::now(), LEASE, 20).await?;
        if due.is_empty() {
            return Ok(());
        }
        for n in due {
            let outcome = deliver(state, &n).await;
            db.finish_notice(&n, outcome, Utc::now()).await?;
            if outcome == "sent" {
                let _ = state
                    .audit(
                        ("system", "system"),
                        "notification.sent",
                        Some(&n.conversation_id),
                        serde_json::json!({"kind": n.kind, "order": n.order_number}),
                    )
                    .await;
            }
        }
    }
}

/// Sends one notice; the outcome to record.
async fn deliver(state: &AppState, n: &wismo_store::DueNotice) -> &'static str {
    let Some(notice) = Notice::parse(&n.kind) else {
        return "unknown_kind";
    };
    let now = Utc::now();
    let rules = state.store.loaded().workspace.profile().proactive.clone();
    let sent = state
        .sessions
        .db
        .notices_sent_since(&n.conversation_id, now - chrono::Duration::hours(24))
        .await
        .unwrap_or(i64::MAX);
    if sent >= i64::from(rules.daily_cap) {
        return "capped";
    }
    let Ok(Some(session)) = state.sessions.get(&n.conversation_id).await else {
        return "conversation_gone";
    };
    let Ok(Some(order)) = state.sessions.db.find_order(&n.order_number).await else {
        return "order_gone";
    };
    let mut locale = String::from("en");
    let result = state
        .sessions
        .staff(&session, |engine, conv, at| {
            if let Some(l) = &conv.state.locale {
                locale.clone_from(l);
            }
            engine
                .proactive_message(&order, notice, &locale, at)
                .into_iter()
                .collect()
        })
        .await;
    match result {
        Ok((events, _)) if events.is_empty() => "nothing_to_say",
        Ok(_) => {
            crate::emails::after_notice(state, n, &order, notice, &locale).await;
            "sent"
        }
        Err(e) => {
            tracing::warn!(error = %e, "proactive notice not stored");
            "failed"
        }
    }
}

/// Shared by the server: pokes the sender after a queueing.
pub type Poke = Arc<tokio::sync::Notify>;
