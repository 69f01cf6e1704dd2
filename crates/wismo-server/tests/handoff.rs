//! The hand-off story through the real server, on SQLite and PostgreSQL:
//! the queue, agents signing in, live chat both ways, notes, transfer,
//! hand back, resolve, the shopper's rating and resolution tracking.

mod common;

use std::time::Duration;

use common::{
    replies, sign_up_agent, spawn_app, spawn_app_with, AgentSpec, Conv, Sse, TestApp, ADMIN_TOKEN,
    AGENT_PASSWORD as PASSWORD, BACKENDS,
};
use serde_json::{json, Value};

/// Creates an agent account and signs it in; returns (id, session token).
async fn agent(
    app: &TestApp,
    email: &str,
    name: &str,
    max: u32,
    langs: &[&str],
) -> (String, String) {
    account(app, email, name, max, langs, "agent").await
}

/// A supervisor: sees and manages every case, canned replies, analytics.
async fn supervisor(app: &TestApp, email: &str, name: &str) -> (String, String) {
    account(app, email, name, 5, &[], "supervisor").await
}

async fn account(
    app: &TestApp,
    email: &str,
    name: &str,
    max: u32,
    langs: &[&str],
    role: &str,
) -> (String, String) {
    let id = format!("a_{}", name.to_lowercase());
    let (cookie, v) = sign_up_agent(
        app,
        AgentSpec {
            id: &id,
            email,
            name,
            role,
            max_chats: max,
            languages: langs,
        },
    )
    .await;
    assert!(cookie.starts_with("wismo_agent="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(v["agent"]["name"], name);
    assert!(v["agent"].get("password_hash").is_none());
    (id, v["token"].as_str().expect("token").to_string())
}

/// An agent API call: (status, body).
async fn call(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = app.url(path);
    let req = match method {
        "GET" => app.client.get(url),
        "DELETE" => app.client.delete(url),
        _ => app.client.post(url),
    };
    let req = req.bearer_auth(token);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn act(
    app: &TestApp,
    token: &str,
    conv: &Conv,
    action: &str,
    body: Option<Value>,
) -> (u16, Value) {
    call(
        app,
        token,
        "POST",
        &format!("/v1/agent/conversations/{}/{action}", conv.id),
        body.or(Some(json!({}))),
    )
    .await
}

fn texts(v: &Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["text"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn roles(v: &Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["role"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_whole_hand_off_story() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (alice_id, alice) = agent(&app, "alice@example.com", "Alice", 3, &[]).await;
        let (bob_id, bob) = agent(&app, "bob@example.com", "Bob", 3, &["en"]).await;

        // Nobody online: the bot says so and offers email.
        let offline = app.create().await;
        let r = app.say(&offline, "I want to talk to a human").await;
        assert_eq!(r["handoff"]["status"], "queued", "{r}");
        let case_offline = r["handoff"]["case_id"]
            .as_str()
            .expect("case id")
            .to_string();
        assert!(case_offline.starts_with("H-"));
        assert!(
            replies(&r).contains("No one from our team is online"),
            "{r}"
        );
        let r = app.say(&offline, "please write to jo@example.com").await;
        assert!(replies(&r).contains("jo@example.com"), "{r}");

        // Alice opens the console: she is online and sees the queue.
        let mut sse = Sse::open(&app, &alice).await;
        let q = sse.next("queue").await;
        let queued = q["queue"].as_array().expect("queue");
        assert_eq!(queued.len(), 1, "{q}");
        assert_eq!(queued[0]["case_id"], case_offline.as_str());
        assert_eq!(queued[0]["contact_email"], "jo@example.com");
        assert_eq!(queued[0]["offline"], true);
        assert!(q["agents"]
            .as_array()
            .expect("roster")
            .iter()
            .any(|a| a["id"] == alice_id.as_str() && a["online"] == true));

        // A shopper who verified an order asks for a person: an honest wait.
        let shopper = app.create().await;
        app.say(&shopper, "where is my order #1001?").await;
        app.say(&shopper, "emma.johnson@example.com").await;
        let r = app.say(&shopper, "I want to talk to a human").await;
        assert_eq!(r["handoff"]["status"], "queued");
        assert!(replies(&r).contains("about a minute"), "{r}");
        let case_id = r["handoff"]["case_id"].as_str().expect("case").to_string();
        let new = sse.next("handoff").await;
        assert_eq!(new["conversation_id"], shopper.id.as_str());
        assert_eq!(new["case_id"], case_id.as_str());
        let q = sse
            .queue_until(|q| q["queue"].as_array().is_some_and(|a| a.len() == 2))
            .await;
        let case = q["queue"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|c| c["conversation_id"] == shopper.id.as_str())
            })
            .expect("the shopper's case")
            .clone();
        assert_eq!(case["reason"], "asked_for_human");
        assert_eq!(case["order"]["order_number"], "1001", "{case}");
        assert!(case["sentiment"]["trend"]
            .as_array()
            .is_some_and(|t| !t.is_empty()));
        assert!(case["intent"].is_string());

        // Alice accepts; the shopper sees her join, Bob cannot take it.
        let (s, v) = act(&app, &alice, &shopper, "accept", None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["case"]["status"], "assigned");
        assert_eq!(v["case"]["agent"]["name"], "Alice");
        let (s, v) = act(&app, &bob, &shopper, "accept", None).await;
        assert_eq!((s, v["code"].as_str()), (409, Some("already_assigned")));
        let t = app.transcript(&shopper).await;
        assert_eq!(t["handoff"]["status"], "assigned");
        assert_eq!(t["handoff"]["agent"], "Alice");
        assert!(texts(&t)
            .iter()
            .any(|x| x == "Alice joined the conversation"));

        // The bot stays silent; the agent sees the message live.
        let r = app.say(&shopper, "hello? is anyone there").await;
        assert!(
            r["messages"].as_array().is_some_and(Vec::is_empty),
            "bot silent: {r}"
        );
        let act_ev = sse.next("activity").await;
        assert_eq!(act_ev["conversation_id"], shopper.id.as_str());

        // Both ways: Alice replies, the shopper reads it.
        let (s, v) = act(
            &app,
            &alice,
            &shopper,
            "messages",
            Some(json!({"text": "Hi, I'm Alice. Let me check order 1001."})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["message"]["role"], "agent");
        let t = app.transcript(&shopper).await;
        let last = t["messages"]
            .as_array()
            .and_then(|m| m.last())
            .expect("a message")
            .clone();
        assert_eq!(last["role"], "agent");
        assert_eq!(last["agent"], "Alice");
        assert_eq!(last["text"], "Hi, I'm Alice. Let me check order 1001.");

        // Notes: agents only; an agent sees only queued cases and their own.
        let (s, v) = act(
            &app,
            &bob,
            &shopper,
            "notes",
            Some(json!({"text": "VIP customer, be generous"})),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")));
        let (s, _) = call(
            &app,
            &bob,
            "GET",
            &format!("/v1/agent/conversations/{}", shopper.id),
            None,
        )
        .await;
        assert_eq!(s, 403);
        let (s, _) = act(
            &app,
            &alice,
            &shopper,
            "notes",
            Some(json!({"text": "VIP customer, be generous"})),
        )
        .await;
        assert_eq!(s, 201);
        let t = app.transcript(&shopper).await;
        assert!(
            !t.to_string().contains("VIP customer"),
            "a note leaked to the shopper"
        );
        let (s, view) = call(
            &app,
            &alice,
            "GET",
            &format!("/v1/agent/conversations/{}", shopper.id),
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert!(roles(&view).iter().any(|r| r == "note"));
        assert!(texts(&view).iter().any(|t| t == "hello? is anyone there"));
        assert_eq!(view["order"]["order_number"], "1001");
        assert!(view["order"]["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty()));
        let last_id = view["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["id"].as_str())
            .expect("id")
            .to_string();
        let (_, newer) = call(
            &app,
            &alice,
            "GET",
            &format!("/v1/agent/conversations/{}?after={last_id}", shopper.id),
            None,
        )
        .await;
        assert_eq!(newer["messages"], json!([]));

        // Only the owner speaks; a transfer moves ownership.
        let (s, v) = act(
            &app,
            &bob,
            &shopper,
            "messages",
            Some(json!({"text": "hi"})),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")));
        let (s, v) = act(
            &app,
            &alice,
            &shopper,
            "transfer",
            Some(json!({"agent_id": "a_nobody"})),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (404, Some("agent_not_found")));
        let (s, v) = act(
            &app,
            &alice,
            &shopper,
            "transfer",
            Some(json!({"agent_id": bob_id})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["case"]["agent"]["name"], "Bob");
        let (s, _) = act(
            &app,
            &alice,
            &shopper,
            "messages",
            Some(json!({"text": "still me?"})),
        )
        .await;
        assert_eq!(s, 403);
        let (s, _) = act(
            &app,
            &bob,
            &shopper,
            "messages",
            Some(json!({"text": "Bob here, I've refunded the order."})),
        )
        .await;
        assert_eq!(s, 201);

        // Resolve: bad outcomes are refused; then the shopper rates it.
        let (s, v) = act(
            &app,
            &bob,
            &shopper,
            "resolve",
            Some(json!({"outcome": "magic"})),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (422, Some("invalid_field")));
        let (s, v) = act(
            &app,
            &bob,
            &shopper,
            "resolve",
            Some(json!({"outcome": "refunded", "tags": ["late", "late", "vip"]})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["case"]["status"], "resolved");
        assert_eq!(v["case"]["tags"], json!(["late", "vip"]));
        let t = app.transcript(&shopper).await;
        assert_eq!(t["handoff"]["status"], "resolved");
        assert_eq!(t["csat"], Value::Null);
        let csat = |score: Value| {
            let app = &app;
            let shopper = &shopper;
            async move {
                let res = app
                    .client
                    .post(app.url(&format!("/v1/conversations/{}/csat", shopper.id)))
                    .bearer_auth(&shopper.token)
                    .json(&json!({"score": score, "comment": "Quick and kind"}))
                    .send()
                    .await
                    .expect("csat");
                (
                    res.status().as_u16(),
                    res.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        };
        for bad in [json!(0), json!(6), json!(4.5), json!("5"), Value::Null] {
            let (s, v) = csat(bad.clone()).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (422, Some("invalid_score")),
                "{bad}"
            );
        }
        let (s, v) = csat(json!(5)).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["csat"]["score"], 5);
        let (s, v) = csat(json!(1)).await;
        assert_eq!((s, v["code"].as_str()), (409, Some("csat_already_given")));
        let res = app
            .client
            .post(app.url(&format!("/v1/conversations/{}/csat", shopper.id)))
            .bearer_auth("wrong")
            .json(&json!({"score": 5}))
            .send()
            .await
            .expect("csat");
        assert_eq!(res.status(), 401);
        assert_eq!(app.transcript(&shopper).await["csat"]["score"], 5);

        // Resolution tracking.
        let (s, res) = call(
            &app,
            ADMIN_TOKEN,
            "GET",
            &format!("/v1/conversations/{}/resolution", shopper.id),
            None,
        )
        .await;
        assert_eq!(s, 200, "{res}");
        assert_eq!(res["contained"], false);
        assert_eq!(res["status"], "resolved");
        assert_eq!(res["outcome"], "refunded");
        assert!(res["first_agent_response_seconds"].is_i64(), "{res}");
        assert!(res["resolution_seconds"].is_i64());
        assert_eq!(res["csat"]["score"], 5);
        let contained = app.create().await;
        app.say(&contained, "where is my order #1001?").await;
        let (s, _) = call(
            &app,
            &alice,
            "GET",
            &format!("/v1/conversations/{}/resolution", contained.id),
            None,
        )
        .await;
        assert_eq!(s, 403, "analytics are for supervisors");
        let (_, sue) = supervisor(&app, "sue@example.com", "Sue").await;
        let (_, res) = call(
            &app,
            &sue,
            "GET",
            &format!("/v1/conversations/{}/resolution", contained.id),
            None,
        )
        .await;
        assert_eq!(res["contained"], true);
        let (s, _) = call(
            &app,
            "nobody",
            "GET",
            &format!("/v1/conversations/{}/resolution", contained.id),
            None,
        )
        .await;
        assert_eq!(s, 401);
        let (s, sum) = call(
            &app,
            ADMIN_TOKEN,
            "GET",
            "/v1/admin/resolutions?since=2026-01-01T00:00:00Z",
            None,
        )
        .await;
        assert_eq!(s, 200, "{sum}");
        assert_eq!(sum["conversations"], 3);
        assert_eq!(sum["contained"], 1);
        assert_eq!(sum["resolved"], 1);
        assert_eq!(sum["csat_count"], 1);
        assert_eq!(sum["csat_average"], 5.0);
        let (s, _) = call(
            &app,
            ADMIN_TOKEN,
            "GET",
            "/v1/admin/resolutions?since=yesterday",
            None,
        )
        .await;
        assert_eq!(s, 422);

        // Hand back to the bot: it answers again.
        let (s, _) = act(&app, &alice, &offline, "accept", None).await;
        assert_eq!(s, 200);
        let (s, v) = act(&app, &alice, &offline, "release", None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["case"]["status"], "released");
        let t = app.transcript(&offline).await;
        assert_eq!(t["handoff"]["status"], "none");
        let r = app.say(&offline, "where is my order #1001?").await;
        assert!(
            !r["messages"].as_array().is_some_and(Vec::is_empty),
            "the bot is back: {r}"
        );
        let (s, v) = act(
            &app,
            &alice,
            &offline,
            "resolve",
            Some(json!({"outcome": "resolved"})),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (409, Some("not_open")));
        drop(sse);
        app.stop().await.expect("stop");
    }
}

#[tokio::test]
async fn agents_must_sign_in_and_bad_requests_are_refused() {
    let app = spawn_app(common::Backend::Sqlite).await;
    let (_, alice) = agent(&app, "alice@example.com", "Alice", 2, &[]).await;
    // Wrong password and unknown email: the same answer.
    for (email, pw) in [
        ("alice@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ] {
        let res = app
            .client
            .post(app.url("/v1/agent/session"))
            .json(&json!({"email": email, "password": pw}))
            .send()
            .await
            .expect("sign in");
        assert_eq!(res.status(), 401);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["code"], "invalid_credentials");
    }
    let res = app
        .client
        .post(app.url("/v1/agent/session"))
        .json(&json!({"email": "alice@example.com"}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), 400);
    // Every agent endpoint needs a session.
    for (method, path) in [
        ("GET", "/v1/agent/me"),
        ("GET", "/v1/agent/queue"),
        ("GET", "/v1/agent/stream"),
        ("GET", "/v1/agent/canned-replies"),
        ("GET", "/v1/agent/conversations/c_x"),
        ("POST", "/v1/agent/conversations/c_x/accept"),
        ("POST", "/v1/agent/conversations/c_x/messages"),
    ] {
        let (s, v) = call(&app, "forged-token", method, path, Some(json!({}))).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (401, Some("agent_unauthorized")),
            "{method} {path}"
        );
    }
    // The cookie works like the bearer token.
    let res = app
        .client
        .get(app.url("/v1/agent/me"))
        .header("cookie", format!("theme=dark; wismo_agent={alice}"))
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200);
    // Conversations that were never handed off are not in the console.
    let conv = app.create().await;
    let (s, v) = call(
        &app,
        &alice,
        "GET",
        &format!("/v1/agent/conversations/{}", conv.id),
        None,
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (404, Some("conversation_not_found"))
    );
    let (s, v) = act(&app, &alice, &conv, "accept", None).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("not_open")));
    // Bodies are checked.
    app.say(&conv, "I want to talk to a human").await;
    act(&app, &alice, &conv, "accept", None).await;
    for body in [
        json!({"text": ""}),
        json!({"text": "x".repeat(3000)}),
        json!({"txt": "hi"}),
        json!({"text": 5}),
    ] {
        let (s, _) = act(&app, &alice, &conv, "messages", Some(body.clone())).await;
        assert!(s == 400 || s == 422, "{body} -> {s}");
    }
    let (s, _) = act(
        &app,
        &alice,
        &conv,
        "resolve",
        Some(json!({"outcome": "resolved", "tags": vec!["t"; 11]})),
    )
    .await;
    assert_eq!(s, 422);
    // Canned replies: agents use them, supervisors manage them.
    let (_, sue) = supervisor(&app, "sue@example.com", "Sue").await;
    let (s, v) = call(
        &app,
        &alice,
        "POST",
        "/v1/agent/canned-replies",
        Some(json!({"shortcut": "/x", "title": "x", "text": "y"})),
    )
    .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")));
    let (s, v) = call(&app, &alice, "GET", "/v1/agent/canned-replies", None).await;
    assert_eq!(s, 200);
    assert!(v["replies"]
        .as_array()
        .is_some_and(|r| r.iter().any(|c| c["shortcut"] == "/thanks")));
    let new =
        json!({"shortcut": "/eta", "title": "ETA", "text": "It should arrive within 2 days."});
    let (s, v) = call(
        &app,
        &sue,
        "POST",
        "/v1/agent/canned-replies",
        Some(new.clone()),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["reply"]["id"].as_str().expect("id").to_string();
    let (s, v) = call(&app, &sue, "POST", "/v1/agent/canned-replies", Some(new)).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("duplicate")));
    let (s, _) = call(
        &app,
        &sue,
        "POST",
        "/v1/agent/canned-replies",
        Some(json!({"shortcut": "no slash", "title": "x", "text": "y"})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = call(
        &app,
        &sue,
        "DELETE",
        &format!("/v1/agent/canned-replies/{id}"),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = call(
        &app,
        &sue,
        "DELETE",
        &format!("/v1/agent/canned-replies/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (404, Some("canned_reply_not_found"))
    );
    // Sign out ends the session.
    let (s, _) = call(&app, &alice, "DELETE", "/v1/agent/session", None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&app, &alice, "GET", "/v1/agent/me", None).await;
    assert_eq!(s, 401);

    // All of it is in the audit trail, chained and intact; failed sign-ins
    // name the account without holding the address.
    let db = &app.state.sessions.db;
    let entries = db.audit_entries(0, 1000).await.expect("audit");
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for want in [
        "agent.sign_in",
        "agent.sign_in_failed",
        "handoff.accept",
        "canned_reply.add",
        "canned_reply.delete",
        "agent.sign_out",
    ] {
        assert!(actions.contains(&want), "{want} not audited: {actions:?}");
    }
    let failed: Vec<&str> = entries
        .iter()
        .filter(|e| e.action == "agent.sign_in_failed")
        .filter_map(|e| e.target.as_deref())
        .collect();
    assert_eq!(failed, vec!["a***@example.com", "n***@example.com"]);
    let accept = entries
        .iter()
        .find(|e| e.action == "handoff.accept")
        .expect("accept");
    assert_eq!(accept.actor, "a_alice");
    assert_eq!(accept.target.as_deref(), Some(conv.id.as_str()));
    let report = db.audit_verify().await.expect("verify");
    assert_eq!(report.broken, None);
    assert_eq!(report.entries, entries.len() as i64);
    // Opening a transcript (not its incremental fetches) and admin reads are audited.
    let (bob_id, bob) = supervisor(&app, "bob@example.com", "Bob").await;
    let path = format!("/v1/agent/conversations/{}", conv.id);
    call(&app, &bob, "GET", &path, None).await;
    call(&app, &bob, "GET", &format!("{path}?after=1"), None).await;
    call(&app, ADMIN_TOKEN, "GET", "/v1/admin/webhooks", None).await;
    let views: Vec<_> = db
        .audit_entries(report.entries, 100)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "transcript.view" || e.action == "webhooks.view")
        .map(|e| (e.action, e.actor))
        .collect();
    assert_eq!(
        views,
        vec![
            ("transcript.view".to_string(), bob_id),
            ("webhooks.view".to_string(), "admin".to_string())
        ]
    );
}

#[tokio::test]
async fn hand_offs_are_assigned_to_the_least_loaded_agent_who_speaks_the_language() {
    let app = spawn_app_with(common::Backend::Sqlite, &[("auto_assign", "true")]).await;
    let (ana_id, ana) = agent(&app, "ana@example.com", "Ana", 1, &["es"]).await;
    let (ben_id, ben) = agent(&app, "ben@example.com", "Ben", 2, &["en"]).await;
    let (cy_id, cy) = agent(&app, "cy@example.com", "Cy", 2, &["en"]).await;
    let _s1 = Sse::open(&app, &ana).await;
    let _s2 = Sse::open(&app, &ben).await;
    let _s3 = Sse::open(&app, &cy).await;
    let owner = |conv: Conv| {
        let app = &app;
        async move {
            for _ in 0..100 {
                let h = app
                    .state
                    .sessions
                    .db
                    .open_handoff(&conv.id)
                    .await
                    .expect("db");
                if let Some(id) = h.and_then(|h| h.agent_id) {
                    return id;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("not assigned");
        }
    };
    let mut english = Vec::new();
    for _ in 0..3 {
        let c = app.create_with(json!({"locale": "en"})).await;
        app.say(&c, "I want to talk to a human").await;
        english.push(owner(c).await);
    }
    // Least-loaded first: Ben and Cy take turns; never Ana (Spanish only).
    assert!(!english.contains(&ana_id), "{english:?}");
    assert!(
        english.contains(&ben_id) && english.contains(&cy_id),
        "{english:?}"
    );
    let es = app.create_with(json!({"locale": "es"})).await;
    app.say(&es, "quiero hablar con una persona").await;
    assert_eq!(owner(es.clone()).await, ana_id);
    // The shopper sees her join (the assignment is written first, then the
    // join event: wait for it).
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = app.transcript(&es).await["handoff"].clone();
        if seen["status"] == "assigned" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen["agent"], "Ana", "{seen}");
    // Ana is full (max 1): the next Spanish one waits in the queue.
    let es2 = app.create_with(json!({"locale": "es"})).await;
    app.say(&es2, "quiero hablar con una persona").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let h = app
        .state
        .sessions
        .db
        .open_handoff(&es2.id)
        .await
        .expect("db")
        .expect("open");
    assert_eq!(h.status, "queued");
    // Ana's conversation ends: the waiting one is hers now.
    let (s, _) = act(
        &app,
        &ana,
        &es,
        "resolve",
        Some(json!({"outcome": "resolved"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(owner(es2).await, ana_id);
}

/// If the bot fails mid-conversation, the shopper's message is kept, they
/// get an apology and the conversation waits in the queue for a person.
#[tokio::test]
async fn a_bot_failure_sends_the_conversation_to_the_queue() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let conv = app.create().await;
        app.say(&conv, "hi").await;
        app.state
            .sessions
            .fail_next_turn
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let r = app.say(&conv, "where is my order #1001?").await;
        assert_eq!(r["handoff"]["status"], "queued", "{r}");
        assert_eq!(r["handoff"]["reason"], "bot_error");
        assert!(replies(&r).contains("something went wrong"), "{r}");
        assert!(
            replies(&r).contains(r["handoff"]["case_id"].as_str().unwrap_or("?")),
            "{r}"
        );
        let t = app.transcript(&conv).await;
        assert!(
            texts(&t).iter().any(|x| x == "where is my order #1001?"),
            "the message is kept"
        );
        let h = app
            .state
            .sessions
            .db
            .open_handoff(&conv.id)
            .await
            .expect("db")
            .expect("queued");
        assert_eq!(
            (h.status.as_str(), h.reason.as_str()),
            ("queued", "bot_error")
        );
        assert_eq!(
            wismo_server::escalation::priority_label(h.priority),
            "normal"
        );
        // The next message is kept for the person; the bot, having said
        // what happens next, stays quiet.
        let r = app.say(&conv, "hello?").await;
        assert_eq!(r["handoff"]["status"], "queued", "{r}");
        assert_eq!(r["user_message"]["text"], "hello?", "{r}");
        assert!(r["messages"].as_array().is_some_and(Vec::is_empty), "{r}");
    }
}

/// Every case id a text names (`CASE-0001`, `H-12`).
fn case_ids(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            let digits = w
                .strip_prefix("CASE-")
                .or_else(|| w.strip_prefix("H-"))
                .unwrap_or("");
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        })
        .map(String::from)
        .collect()
}

/// Everything the shopper was shown in the conversation.
async fn shown(app: &TestApp, conv: &Conv) -> String {
    texts(&app.transcript(conv).await).join(" | ")
}

async fn rate(app: &TestApp, conv: &Conv, score: u8) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/csat", conv.id)))
        .bearer_auth(&conv.token)
        .json(&json!({"score": score}))
        .send()
        .await
        .expect("csat");
    (
        res.status().as_u16(),
        res.json::<Value>().await.unwrap_or(Value::Null),
    )
}

/// A damaged-item report opens a case in the order store and hands off:
/// the shopper sees one case number in the whole conversation (not the
/// store's CASE-0001 and the queue's H-1), the console shows the same one,
/// and a second hand-off in the conversation keeps it.
#[tokio::test]
async fn a_damaged_item_report_has_one_case_number_everywhere() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (_, alice) = agent(&app, "alice@example.com", "Alice", 3, &[]).await;
        let conv = app.create().await;
        app.say(&conv, "my order 1035 arrived damaged").await;
        app.say(&conv, "liam.smith@example.com").await;
        let r = app.say(&conv, "the mug is cracked in half").await;
        assert_eq!(r["handoff"]["status"], "queued", "{r}");
        let case = r["handoff"]["case_id"].as_str().expect("case").to_string();
        assert!(case.starts_with("CASE-"), "{r}");
        let ids = case_ids(&shown(&app, &conv).await);
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![case.clone()]);

        let mut sse = Sse::open(&app, &alice).await;
        let q = sse.next("queue").await;
        assert_eq!(q["queue"][0]["case_id"], case.as_str(), "{q}");
        let (s, v) = act(&app, &alice, &conv, "accept", None).await;
        assert_eq!(
            (s, v["case"]["case_id"].as_str()),
            (200, Some(case.as_str()))
        );
        let (s, _) = act(&app, &alice, &conv, "release", None).await;
        assert_eq!(s, 200);
        // Asked for a person again later: the same case, not a new number.
        let r = app.say(&conv, "I want to talk to a human").await;
        assert_eq!(r["handoff"]["case_id"], case.as_str(), "{r}");
        let ids = case_ids(&shown(&app, &conv).await);
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![case.clone()]);
        drop(sse);
        app.stop().await.expect("stop");
    }
}

/// The widget's banner is built from the same facts the bot's message
/// states: someone online and the wait, or nobody online and an email
/// follow-up (an address known) or a request for one.
#[tokio::test]
async fn the_hand_off_state_carries_the_facts_the_bot_told() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (_, alice) = agent(&app, "alice@example.com", "Alice", 3, &[]).await;

        let asked = app.create().await;
        let r = app.say(&asked, "I want to talk to a human").await;
        assert!(
            replies(&r).contains("No one from our team is online"),
            "{r}"
        );
        let h = &r["handoff"];
        assert_eq!(
            (
                &h["status"],
                &h["agents_online"],
                &h["email_follow_up"],
                &h["wait_seconds"]
            ),
            (&json!("queued"), &json!(false), &json!(false), &Value::Null),
            "{r}"
        );
        app.say(&asked, "jo@example.com").await;
        let t = app.transcript(&asked).await;
        assert_eq!(t["handoff"]["email_follow_up"], true, "{t}");

        let known = app.create().await;
        app.say(&known, "where is my order #1001?").await;
        app.say(&known, "emma.johnson@example.com").await;
        let r = app.say(&known, "I want to talk to a human").await;
        assert!(replies(&r).contains("by email at"), "{r}");
        assert_eq!(
            (
                &r["handoff"]["agents_online"],
                &r["handoff"]["email_follow_up"]
            ),
            (&json!(false), &json!(true)),
            "{r}"
        );

        let mut sse = Sse::open(&app, &alice).await;
        sse.next("queue").await;
        let online = app.create().await;
        let r = app.say(&online, "I want to talk to a human").await;
        assert!(replies(&r).contains("about a minute"), "{r}");
        assert_eq!(
            (
                &r["handoff"]["agents_online"],
                &r["handoff"]["wait_seconds"]
            ),
            (&json!(true), &json!(60)),
            "{r}"
        );
        assert_eq!(r["handoff"]["email_follow_up"], false);
        drop(sse);
        app.stop().await.expect("stop");
    }
}

/// After the hand-off the bot says nothing more — every message is kept
/// and reaches the agent — until the shopper's wait changes: someone comes
/// online for an offline case, or the estimate passes. Then one update.
/// The case row follows what the shopper was told (offline cleared).
#[tokio::test]
async fn while_queued_the_bot_is_quiet_until_the_wait_changes() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (_, alice) = agent(&app, "alice@example.com", "Alice", 3, &[]).await;
        let conv = app.create().await;
        app.say(&conv, "I want to talk to a human").await;
        for text in ["hello?", "is anyone there?", "I want to talk to a human"] {
            let r = app.say(&conv, text).await;
            assert!(
                r["messages"].as_array().is_some_and(Vec::is_empty),
                "{text}: {r}"
            );
            assert_eq!(r["user_message"]["text"], text);
            assert_eq!(r["handoff"]["agents_online"], false);
        }
        // Alice comes online: the next message gets one honest update.
        let mut sse = Sse::open(&app, &alice).await;
        sse.next("queue").await;
        let r = app.say(&conv, "still waiting").await;
        assert!(replies(&r).contains("online now"), "{r}");
        assert_eq!(
            (
                &r["handoff"]["agents_online"],
                &r["handoff"]["wait_seconds"]
            ),
            (&json!(true), &json!(60)),
            "{r}"
        );
        let q = sse.queue_until(|q| q["queue"][0]["offline"] == false).await;
        assert_eq!(q["queue"][0]["conversation_id"], conv.id.as_str());
        let r = app.say(&conv, "ok").await;
        assert!(r["messages"].as_array().is_some_and(Vec::is_empty), "{r}");
        // The minute she was told has passed: one update, then quiet.
        app.state.sessions.clock.advance(Duration::from_secs(90));
        let r = app.say(&conv, "how long now?").await;
        assert!(replies(&r).contains("Sorry for the wait"), "{r}");
        let r = app.say(&conv, "ok").await;
        assert!(r["messages"].as_array().is_some_and(Vec::is_empty), "{r}");
        // Nothing the shopper said is lost: the agent sees all of it.
        let (_, view) = call(
            &app,
            &alice,
            "GET",
            &format!("/v1/agent/conversations/{}", conv.id),
            None,
        )
        .await;
        let seen = texts(&view);
        for text in [
            "hello?",
            "is anyone there?",
            "still waiting",
            "how long now?",
        ] {
            assert!(seen.iter().any(|t| t == text), "{text} missing: {seen:?}");
        }
        drop(sse);
        app.stop().await.expect("stop");
    }
}

/// The console shows the case as it is: an offline case stops being
/// "offline" once an agent joins, and a resolved case says so.
#[tokio::test]
async fn the_console_shows_the_case_as_it_is() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let conv = app.create().await;
        app.say(&conv, "I want to talk to a human").await;
        let (_, alice) = agent(&app, "alice@example.com", "Alice", 3, &[]).await;
        let path = format!("/v1/agent/conversations/{}", conv.id);
        let (_, view) = call(&app, &alice, "GET", &path, None).await;
        assert_eq!(
            (&view["case"]["status"], &view["case"]["offline"]),
            (&json!("queued"), &json!(true)),
            "{view}"
        );
        let (s, v) = act(&app, &alice, &conv, "accept", None).await;
        assert_eq!(s, 200);
        assert_eq!(
            (&v["case"]["status"], &v["case"]["offline"]),
            (&json!("assigned"), &json!(false)),
            "{v}"
        );
        act(
            &app,
            &alice,
            &conv,
            "messages",
            Some(json!({"text": "Hi, Alice here."})),
        )
        .await;
        let (s, v) = act(
            &app,
            &alice,
            &conv,
            "resolve",
            Some(json!({"outcome": "resolved"})),
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(
            (&v["case"]["status"], &v["case"]["offline"]),
            (&json!("resolved"), &json!(false)),
            "{v}"
        );
        let (_, view) = call(&app, &alice, "GET", &path, None).await;
        assert_eq!(
            (&view["case"]["status"], &view["case"]["offline"]),
            (&json!("resolved"), &json!(false)),
            "{view}"
        );
        app.stop().await.expect("stop");
    }
}

/// A rating is for a person's help, after they resolved the case, once —
/// judged from the database, so two servers sharing it agree.
#[tokio::test]
async fn csat_only_after_a_person_resolved_the_case_and_only_once() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let other = spawn_app_with(backend, &[("database_url", app.database_url.as_str())]).await;
        let (_, alice) = agent(&app, "alice@example.com", "Alice", 3, &[]).await;

        let bot_only = app.create().await;
        app.say(&bot_only, "where is my order #1001?").await;
        let (s, v) = rate(&app, &bot_only, 5).await;
        assert_eq!((s, v["code"].as_str()), (409, Some("csat_bot_only")), "{v}");

        let conv = app.create().await;
        app.say(&conv, "I want to talk to a human").await;
        let (s, v) = rate(&app, &conv, 5).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("csat_case_open")),
            "{v}"
        );
        // The agent works on the other server.
        let (s, _) = act(&other, &alice, &conv, "accept", None).await;
        assert_eq!(s, 200);
        let (s, v) = rate(&app, &conv, 5).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("csat_case_open")),
            "{v}"
        );
        let (s, _) = act(&other, &alice, &conv, "release", None).await;
        assert_eq!(s, 200);
        let (s, v) = rate(&app, &conv, 5).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("csat_not_resolved")),
            "{v}"
        );

        // (The shopper's tab follows the conversation to the other server.)
        let r = other.say(&conv, "I want to talk to a human").await;
        assert_eq!(r["handoff"]["status"], "queued", "{r}");
        let (s, _) = act(&other, &alice, &conv, "accept", None).await;
        assert_eq!(s, 200);
        let (s, _) = act(
            &other,
            &alice,
            &conv,
            "resolve",
            Some(json!({"outcome": "refunded"})),
        )
        .await;
        assert_eq!(s, 200);
        let (s, v) = rate(&app, &conv, 4).await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = rate(&other, &conv, 1).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("csat_already_given")),
            "{v}"
        );
        assert_eq!(app.transcript(&conv).await["csat"]["score"], 4);
        other.stop().await.expect("stop");
        app.stop().await.expect("stop");
    }
}

/// The console's stream resumes: opened again with the last event id it
/// saw, it first gets the hand-offs that entered the queue meanwhile, and
/// only those; a malformed id is refused.
#[tokio::test]
async fn a_console_stream_resumes_after_its_last_event_id() {
    for backend in BACKENDS {
        let app = spawn_app(backend).await;
        let (_, alice) = agent(&app, "alice@example.com", "Alice", 3, &[]).await;
        let (_, bob) = agent(&app, "bob@example.com", "Bob", 3, &[]).await;
        let mut sse = Sse::open(&app, &alice).await;
        sse.next("queue").await;
        let before = sse.last_id.clone();
        assert!(
            before.parse::<i64>().is_ok(),
            "{backend:?}: event ids are times: {before:?}"
        );
        drop(sse);

        // While the console is away, a shopper asks for a person.
        app.state.sessions.clock.advance(Duration::from_secs(60));
        let missed = app.create().await;
        let r = app.say(&missed, "I want to talk to a human").await;
        let missed_case = r["handoff"]["case_id"].as_str().expect("case").to_string();

        let mut sse = Sse::resume(&app, &alice, Some(&before)).await;
        let q = sse.next("queue").await;
        assert_eq!(
            q["queue"].as_array().map(Vec::len),
            Some(1),
            "{backend:?}: {q}"
        );
        let h = sse.next("handoff").await;
        assert_eq!(
            h["case_id"],
            missed_case.as_str(),
            "{backend:?}: the missed hand-off"
        );
        assert_eq!(h["conversation_id"], missed.id.as_str());
        // Ten seconds on, Bob's console opens: Alice gets a fresh queue.
        app.state.sessions.clock.advance(Duration::from_secs(10));
        let _bob_console = Sse::open(&app, &bob).await;
        let ten_on = before.parse::<i64>().expect("ms") + 70_000;
        while sse.last_id.parse::<i64>().expect("ms") < ten_on {
            sse.next("queue").await;
        }
        let after = sse.last_id.clone();
        assert!(after > before, "{backend:?}: {after} after {before}");
        drop(sse);

        // Nothing missed since: the next hand-off event is a new one.
        app.state.sessions.clock.advance(Duration::from_secs(60));
        let mut sse = Sse::resume(&app, &alice, Some(&after)).await;
        sse.next("queue").await;
        let fresh = app.create().await;
        let r = app.say(&fresh, "I want to talk to a human").await;
        let fresh_case = r["handoff"]["case_id"].as_str().expect("case").to_string();
        let h = sse.next("handoff").await;
        assert_eq!(
            h["case_id"],
            fresh_case.as_str(),
            "{backend:?}: not {missed_case} again"
        );

        // The query parameter (a new EventSource) works too; junk is refused.
        let url = app.url(&format!("/v1/agent/stream?last_event_id={before}"));
        let res = app
            .client
            .get(&url)
            .header("cookie", format!("wismo_agent={alice}"))
            .send()
            .await
            .expect("stream");
        assert_eq!(res.status(), 200, "{backend:?}");
        drop(res);
        for (header, query) in [
            (Some("abc"), None),
            (None, Some("12x")),
            (Some("99999999999999999"), None),
        ] {
            let mut req = app
                .client
                .get(app.url(&format!(
                    "/v1/agent/stream?last_event_id={}",
                    query.unwrap_or("")
                )))
                .header("cookie", format!("wismo_agent={alice}"));
            if let Some(h) = header {
                req = req.header("last-event-id", h);
            }
            let res = req.send().await.expect("answer");
            assert_eq!(res.status(), 422, "{backend:?}: {header:?} {query:?}");
            let v: Value = res.json().await.expect("json");
            assert_eq!(v["code"], "invalid_field", "{backend:?}: {v}");
        }
    }
}
