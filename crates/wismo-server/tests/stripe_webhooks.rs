//! Stripe refund webhooks through HTTP: a refund lands once on the order
//! its payment names, pending then succeeded (or failed), and the shopper
//! hears which; `charge.refunded` without a refund list counts the charge's
//! refunded amount; disputes open a case (once) or are recorded; forged,
//! stale (outside the tolerance) and unsigned deliveries are refused 401.

mod common;

use chrono::Utc;
use common::{spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};
use wismo_integrations::stripe::sign;

const SECRET: &str = "whsec_0123456789abcdef0123456789abcdef";

fn refund_event(event_id: &str, refund_id: &str, status: &str, order_number: &str) -> String {
    json!({"id": event_id, "object": "event", "type": "refund.updated", "created": Utc::now().timestamp(),
        "data": {"object": {"id": refund_id, "object": "refund", "amount": 2150, "currency": "usd",
            "status": status, "created": Utc::now().timestamp() - 60,
            "metadata": {"order_number": order_number}}}})
    .to_string()
}

async fn deliver(app: &TestApp, body: &str, secret: &str, t: i64) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/v1/integrations/stripe/webhooks"))
        .header("content-type", "application/json")
        .header("stripe-signature", sign(secret, body.as_bytes(), t))
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_succeeded_refund_lands_once_and_bad_signatures_are_refused() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_with(backend, &[("stripe_webhook_secret", SECRET)]).await;
        let now = Utc::now().timestamp();
        // A demo store order.
        let before = app
            .state
            .sessions
            .db
            .find_order("1001")
            .await
            .expect("read")
            .expect("demo order");
        let refunds_before = before.refunds.len();

        let pending = refund_event("evt_p", "re_1", "pending", "1001");
        let (status, v) = deliver(&app, &pending, SECRET, now).await;
        assert_eq!(
            (status, v["outcome"].as_str(), v["status"].as_str()),
            (200, Some("applied"), Some("pending")),
            "{backend:?} {v}"
        );

        let done = refund_event("evt_s", "re_1", "succeeded", "#1001");
        let (status, v) = deliver(&app, &done, SECRET, now).await;
        assert_eq!(
            (status, v["outcome"].as_str(), v["order"].as_str()),
            (200, Some("applied"), Some("1001")),
            "{backend:?} {v}"
        );
        let (_, v) = deliver(&app, &done, SECRET, now).await;
        assert_eq!(v["outcome"], "duplicate", "{backend:?}");
        let again = refund_event("evt_s2", "re_1", "succeeded", "1001");
        let (_, v) = deliver(&app, &again, SECRET, now).await;
        assert_eq!(
            v["outcome"], "unchanged",
            "{backend:?}: the same refund under another event"
        );
        let after = app
            .state
            .sessions
            .db
            .find_order("1001")
            .await
            .expect("read")
            .expect("order");
        assert_eq!(after.refunds.len(), refunds_before + 1, "{backend:?}");
        assert!(
            after
                .refunds
                .iter()
                .any(|r| r.id == "re_1" && r.amount == "21.50"),
            "{backend:?}"
        );

        let unknown = refund_event("evt_u", "re_2", "succeeded", "NOPE-1");
        let (_, v) = deliver(&app, &unknown, SECRET, now).await;
        assert_eq!(v["outcome"], "unknown_order", "{backend:?}");
        // A dispute whose metadata names the order: a case for the team,
        // once; one that names none is recorded (audited) only.
        let dispute = |event: &str, meta: Value| {
            json!({"id": event, "object": "event", "type": "charge.dispute.created",
                "data": {"object": {"id": "dp_1", "object": "dispute", "amount": 2150, "currency": "usd",
                    "charge": "ch_1", "payment_intent": "pi_1", "reason": "product_not_received",
                    "status": "needs_response", "metadata": meta}}})
            .to_string()
        };
        let (status, v) = deliver(
            &app,
            &dispute("evt_d", json!({"order_number": "1001"})),
            SECRET,
            now,
        )
        .await;
        assert_eq!(
            (status, v["outcome"].as_str(), v["order"].as_str()),
            (200, Some("case_opened"), Some("1001")),
            "{backend:?} {v}"
        );
        assert!(v["case"].as_str().is_some_and(|c| !c.is_empty()), "{v}");
        let (_, v) = deliver(
            &app,
            &dispute("evt_d", json!({"order_number": "1001"})),
            SECRET,
            now,
        )
        .await;
        assert_eq!(v["outcome"], "duplicate", "{backend:?}");
        let (_, v) = deliver(&app, &dispute("evt_d2", json!({})), SECRET, now).await;
        assert_eq!(v["outcome"], "recorded", "{backend:?} {v}");
        let other = json!({"id": "evt_o", "object": "event", "type": "payout.paid", "data": {"object": {"id": "po_1"}}}).to_string();
        let (status, v) = deliver(&app, &other, SECRET, now).await;
        assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")));

        // Refused: another secret, a time outside the tolerance, no header.
        let (status, v) = deliver(&app, &done, "whsec_not_the_endpoints_secret", now).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (401, Some("webhook_signature_invalid"))
        );
        let (status, v) = deliver(
            &app,
            &refund_event("evt_old", "re_3", "succeeded", "1001"),
            SECRET,
            now - 600,
        )
        .await;
        assert_eq!(
            (status, v["code"].as_str()),
            (401, Some("webhook_stale")),
            "{v}"
        );
        let res = app
            .client
            .post(app.url("/v1/integrations/stripe/webhooks"))
            .body(done.clone())
            .send()
            .await
            .expect("post");
        assert_eq!(res.status().as_u16(), 401);
        let last = app
            .state
            .sessions
            .db
            .find_order("1001")
            .await
            .expect("read")
            .expect("order");
        assert_eq!(
            last.refunds.len(),
            refunds_before + 1,
            "{backend:?}: nothing refused was applied"
        );
        app.stop().await.expect("stop");
    }
}

async fn ask_refund(app: &TestApp, number: &str, email: &str) -> String {
    let conv = app.create().await;
    let first = common::replies(
        &app.say(&conv, &format!("where is my refund for order {number}?"))
            .await,
    );
    let second = common::replies(&app.say(&conv, email).await);
    format!("{first}\n{second}")
}

#[tokio::test]
async fn the_shopper_hears_whether_a_refund_is_on_its_way_done_or_failed() {
    let app = spawn_app_with(Backend::Sqlite, &[("stripe_webhook_secret", SECRET)]).await;
    let now = Utc::now().timestamp();
    let db = &app.state.sessions.db;
    // Two demo orders without refunds, and their owners' emails.
    let mut picked = Vec::new();
    for n in 1001..1060 {
        if let Ok(Some(o)) = db.find_order(&n.to_string()).await {
            if o.refunds.is_empty() && o.cancelled_at.is_none() && o.email.is_some() {
                picked.push(o);
            }
        }
        if picked.len() == 2 {
            break;
        }
    }
    let (a, b) = (&picked[0], &picked[1]);
    let (a_email, b_email) = (
        a.email.clone().expect("email"),
        b.email.clone().expect("email"),
    );

    let (_, v) = deliver(
        &app,
        &refund_event("evt_a1", "re_a", "pending", &a.number),
        SECRET,
        now,
    )
    .await;
    assert_eq!(v["outcome"], "applied", "{v}");
    let said = ask_refund(&app, &a.number, &a_email).await;
    assert!(
        said.contains("A refund of $21.50") && said.contains("still processing it"),
        "{said}"
    );
    let (_, v) = deliver(
        &app,
        &refund_event("evt_a2", "re_a", "succeeded", &a.number),
        SECRET,
        now,
    )
    .await;
    assert_eq!(v["outcome"], "applied", "{v}");
    let said = ask_refund(&app, &a.number, &a_email).await;
    assert!(
        said.contains("$21.50") && !said.contains("still processing"),
        "{said}"
    );
    // A late "pending" does not undo a refund that went through.
    let (_, v) = deliver(
        &app,
        &refund_event("evt_a3", "re_a", "pending", &a.number),
        SECRET,
        now,
    )
    .await;
    assert_eq!(v["outcome"], "unchanged", "{v}");

    let (_, v) = deliver(
        &app,
        &refund_event("evt_b1", "re_b", "failed", &b.number),
        SECRET,
        now,
    )
    .await;
    assert_eq!(v["outcome"], "applied", "{v}");
    let said = ask_refund(&app, &b.number, &b_email).await;
    assert!(said.contains("didn't go through"), "{said}");

    // charge.refunded from a newer API version: no refund list on the charge.
    let charge = json!({"id": "evt_c", "object": "event", "type": "charge.refunded",
        "data": {"object": {"id": "ch_9", "object": "charge", "amount": 5000, "amount_refunded": 1000,
            "currency": "usd", "created": now - 100, "metadata": {"order_number": b.number}}}})
    .to_string();
    let (_, v) = deliver(&app, &charge, SECRET, now).await;
    assert_eq!(
        (v["outcome"].as_str(), v["status"].as_str()),
        (Some("applied"), Some("succeeded")),
        "{v}"
    );
    let order = db
        .find_order(&b.number)
        .await
        .expect("read")
        .expect("order");
    assert!(order
        .refunds
        .iter()
        .any(|r| r.id == "ch_9-refunded" && r.amount == "10.00"));
    app.stop().await.expect("stop");
}
