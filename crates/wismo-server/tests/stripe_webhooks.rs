//! Stripe refund webhooks through HTTP: a succeeded refund lands once on
//! the order its payment names; pending refunds and other events are
//! acknowledged and change nothing; forged, stale (outside the tolerance)
//! and unsigned deliveries are refused 401.

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
            (status, v["outcome"].as_str()),
            (200, Some("ignored")),
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
        let dispute = json!({"id": "evt_d", "type": "charge.dispute.created", "data": {"object": {"id": "dp_1"}}}).to_string();
        let (status, v) = deliver(&app, &dispute, SECRET, now).await;
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
