//! HTTP hardening: security headers, CORS, rate limits, sign-in lockout,
//! the order-verification guess limit, X-Forwarded-For from trusted
//! proxies only, security events and blocking abusive IPs.

mod common;

use std::time::Duration;

use common::{replies, spawn_app_with, Backend, Conv, TestApp};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use wismo_server::security::SecurityEvent;
use wismo_store::NewAgent;

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.expect("request")
}

fn events(app: &TestApp, name: &str) -> Vec<SecurityEvent> {
    app.state
        .security
        .recent_events()
        .into_iter()
        .filter(|e| e.event == name)
        .collect()
}

/// Creates a conversation as the client at `xff` (through a trusted proxy).
async fn create_from(app: &TestApp, xff: &str) -> Conv {
    let res = app
        .client
        .post(app.url("/v1/conversations"))
        .header("x-forwarded-for", xff)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.expect("json");
    Conv {
        id: v["id"].as_str().expect("id").to_string(),
        token: v["token"].as_str().expect("token").to_string(),
        greeting: Vec::new(),
    }
}

async fn say_from(app: &TestApp, xff: &str, conv: &Conv, text: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/messages", conv.id)))
        .header("x-forwarded-for", xff)
        .bearer_auth(&conv.token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_response_has_security_headers_and_pages_a_strict_csp() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    for page in ["/", "/console", "/docs"] {
        let res = get(&app, page).await;
        assert_eq!(res.status(), 200, "{page}");
        let h = res.headers();
        assert_eq!(header(h, "x-content-type-options"), "nosniff", "{page}");
        assert_eq!(header(h, "referrer-policy"), "no-referrer", "{page}");
        assert_eq!(header(h, "x-frame-options"), "DENY", "{page}");
        assert!(h.get("strict-transport-security").is_none());
        let csp = header(h, "content-security-policy").to_string();
        assert!(csp.starts_with("default-src 'self'; "), "{page}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{page}: {csp}");
        assert!(
            csp.contains(&format!("connect-src 'self' ws://{0} wss://{0}", app.addr)),
            "{page}: {csp}"
        );
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .expect("script-src");
        assert!(!script_src.contains("unsafe"), "{page}: {script_src}");
        assert!(script_src.contains("'sha256-"), "{page}: {script_src}");
        let html = res.text().await.expect("html");
        assert!(!html.contains("onclick="), "{page}: no inline handlers");
    }
    for path in ["/healthz", "/widget.js", "/openapi.json", "/nowhere"] {
        let res = get(&app, path).await;
        let h = res.headers();
        assert_eq!(header(h, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(
            header(h, "content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
    }

    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("hsts", "true"),
            ("frame_ancestors", "'self' https://shop.example"),
        ],
    )
    .await;
    let res = get(&app, "/").await;
    let h = res.headers();
    assert!(header(h, "strict-transport-security").starts_with("max-age="));
    assert!(header(h, "content-security-policy")
        .contains("frame-ancestors 'self' https://shop.example"));
    assert!(h.get("x-frame-options").is_none());
}

#[tokio::test]
async fn cors_only_for_listed_shop_origins_on_the_shopper_api() {
    let shop = "https://shop.example";
    let app = spawn_app_with(Backend::Sqlite, &[("cors_origins", shop)]).await;
    let preflight = |path: &'static str, origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let res = preflight("/v1/conversations", shop)
        .await
        .expect("preflight");
    assert_eq!(res.status(), 204);
    let h = res.headers();
    assert_eq!(header(h, "access-control-allow-origin"), shop);
    assert!(header(h, "access-control-allow-methods").contains("POST"));
    assert!(header(h, "access-control-allow-headers").contains("authorization"));
    assert!(h.get("access-control-allow-credentials").is_none());

    let res = preflight("/v1/conversations/c_x/messages", "https://evil.example")
        .await
        .expect("preflight");
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res.headers().get("access-control-allow-methods").is_none());

    let res = preflight("/v1/agent/session", shop)
        .await
        .expect("preflight");
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "agent endpoints never get CORS"
    );

    let res = app
        .client
        .post(app.url("/v1/conversations"))
        .header("origin", shop)
        .json(&json!({}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    assert_eq!(header(res.headers(), "access-control-allow-origin"), shop);
    assert!(header(res.headers(), "vary")
        .to_ascii_lowercase()
        .contains("origin"));

    let res = app
        .client
        .post(app.url("/v1/conversations"))
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .expect("create");
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // Nothing configured: no CORS at all.
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let res = app
        .client
        .post(app.url("/v1/conversations"))
        .header("origin", shop)
        .json(&json!({}))
        .send()
        .await
        .expect("create");
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn too_many_requests_per_ip_and_per_conversation_get_429() {
    let app = spawn_app_with(Backend::Sqlite, &[("rate_limit_ip", "5/1m")]).await;
    for _ in 0..5 {
        assert_eq!(get(&app, "/openapi.json").await.status(), 200);
    }
    let res = get(&app, "/openapi.json").await;
    assert_eq!(res.status(), 429);
    let retry: u64 = header(res.headers(), "retry-after")
        .parse()
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        header(res.headers(), "content-type"),
        "application/problem+json"
    );
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["code"], "rate_limited");
    assert_eq!(v["status"], 429);
    assert_eq!(
        get(&app, "/healthz").await.status(),
        200,
        "health is exempt"
    );
    let e = events(&app, "rate_limited");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].scope, "ip");
    assert_eq!(e[0].ip.to_string(), "127.0.0.1");
    assert_eq!(e[0].path, "/openapi.json");

    let app = spawn_app_with(Backend::Sqlite, &[("rate_limit_conversation", "3/1m")]).await;
    let conv = app.create().await;
    for i in 0..3 {
        let body = json!({"text": format!("hello {i}"), "client_message_id": format!("m{i}")});
        let (status, v) = app.say_raw(&conv, body).await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, v) = app.say_raw(&conv, json!({"text": "hello again"})).await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["code"], "rate_limited");
    // Retrying an answered message is a replay, not limited.
    let (status, v) = app
        .say_raw(&conv, json!({"text": "hello 0", "client_message_id": "m0"}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["replayed"], true);
    let other = app.create().await;
    app.say(&other, "hello").await;
    let e = events(&app, "rate_limited");
    assert_eq!(e[0].scope, "conversation");
    assert_eq!(e[0].subject, conv.id);
}

#[tokio::test]
async fn sign_in_locks_an_email_after_repeated_failures_for_a_while() {
    let app = spawn_app_with(Backend::Sqlite, &[("sign_in_lockout", "5/2s")]).await;
    let email = "lock@shop.example";
    let password = "correct horse battery";
    app.state
        .sessions
        .db
        .create_agent(&NewAgent {
            id: "a_lock".into(),
            email: email.into(),
            name: "Lock".into(),
            password_hash: wismo_server::agents::hash_password(password).expect("hash"),
            role: "agent".into(),
            max_chats: 3,
            languages: Vec::new(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("agent");
    for _ in 0..5 {
        let (s, v) = app.sign_in_agent(email, "wrong password").await;
        assert_eq!(s, 401, "{v}");
        assert_eq!(v["code"], "invalid_credentials");
    }
    let (s, v) = app.sign_in_agent(email, password).await;
    assert_eq!(s, 429, "locked even with the right password: {v}");
    assert_eq!(v["code"], "rate_limited");
    // Another email is not locked.
    let (s, _) = app.sign_in_agent("other@shop.example", "nope").await;
    assert_eq!(s, 401);

    let failed = events(&app, "agent_sign_in_failed");
    assert_eq!(failed.len(), 6);
    assert!(failed[0].subject.starts_with("email:"), "{failed:?}");
    assert!(!failed[0].subject.contains('@') && !failed[0].subject.contains("lock"));
    assert_eq!(failed[0].path, "/v1/agent/session");
    assert_eq!(events(&app, "agent_sign_in_locked").len(), 1);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (s, v) = app.sign_in_agent(email, password).await;
    assert_eq!(s, 200, "the lock ends with its window: {v}");
}

#[tokio::test]
async fn guessing_order_verifications_across_conversations_is_stopped_per_ip() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("verification_failures", "4/1h"),
            ("trusted_proxies", "127.0.0.1"),
        ],
    )
    .await;
    let attacker = "203.0.113.7";
    let mut refused = None;
    'guess: for round in 0..5 {
        let conv = create_from(&app, attacker).await;
        let (s, v) = say_from(&app, attacker, &conv, "where is my order #1001?").await;
        if s == 429 {
            refused = Some((round, v));
            break;
        }
        for n in 0..3 {
            let (s, v) = say_from(
                &app,
                attacker,
                &conv,
                &format!("guess{round}{n}@example.com"),
            )
            .await;
            if s == 429 {
                refused = Some((round, v));
                break 'guess;
            }
            assert_eq!(s, 200, "{v}");
        }
    }
    let (round, v) = refused.expect("guessing is refused eventually");
    assert_eq!(
        round, 1,
        "after the 4th failure, in the second conversation"
    );
    assert_eq!(v["code"], "rate_limited");
    let failures = events(&app, "verification_failed");
    assert_eq!(failures.len(), 4);
    assert_eq!(failures[0].ip.to_string(), attacker);
    assert!(failures[0].path.ends_with("/messages"), "{failures:?}");
    let limited = events(&app, "rate_limited");
    assert_eq!(limited[0].scope, "verification");

    // A shopper elsewhere verifies as usual.
    let shopper = "198.51.100.1";
    let conv = create_from(&app, shopper).await;
    let (s, _) = say_from(&app, shopper, &conv, "where is my order #1001?").await;
    assert_eq!(s, 200);
    let (s, v) = say_from(&app, shopper, &conv, "emma.johnson@example.com").await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["messages"]
            .as_array()
            .is_some_and(|ms| ms.iter().any(|m| m.get("order_card").is_some())),
        "{}",
        replies(&v)
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let limited = [("rate_limit_ip", "3/1m"), ("trusted_proxies", "127.0.0.1")];
    let app = spawn_app_with(Backend::Sqlite, &limited).await;
    let from = |ip: &'static str| {
        app.client
            .get(app.url("/openapi.json"))
            .header("x-forwarded-for", format!("{ip}, 127.0.0.1"))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(from("203.0.113.1").await.expect("get").status(), 200);
    }
    assert_eq!(from("203.0.113.1").await.expect("get").status(), 429);
    assert_eq!(from("203.0.113.2").await.expect("get").status(), 200);
    let e = events(&app, "rate_limited");
    assert_eq!(e[0].ip.to_string(), "203.0.113.1");

    let app = spawn_app_with(Backend::Sqlite, &[("rate_limit_ip", "3/1m")]).await;
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let res = app
            .client
            .get(app.url("/openapi.json"))
            .header("x-forwarded-for", ip)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 200);
    }
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .header("x-forwarded-for", "203.0.113.4")
        .send()
        .await
        .expect("get");
    assert_eq!(
        res.status(),
        429,
        "an untrusted peer's X-Forwarded-For is ignored"
    );
    assert_eq!(events(&app, "rate_limited")[0].ip.to_string(), "127.0.0.1");
}

#[tokio::test]
async fn a_burst_of_failures_blocks_the_ip_for_a_while() {
    // Not being signed in is no failure: the console asks on every load.
    let app = spawn_app_with(Backend::Sqlite, &[("abuse_block", "3/1m")]).await;
    for _ in 0..5 {
        assert_eq!(get(&app, "/v1/agent/me").await.status(), 401);
    }
    assert!(events(&app, "unauthorized").is_empty());
    assert!(events(&app, "ip_blocked").is_empty());

    let app = spawn_app_with(
        Backend::Sqlite,
        &[("abuse_block", "5/1m"), ("abuse_block_time", "2s")],
    )
    .await;
    let conv = app.create().await;
    for _ in 0..5 {
        let res = app
            .client
            .get(app.url(&format!("/v1/conversations/{}", conv.id)))
            .bearer_auth("forged-token")
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 401);
    }
    let unauthorized = events(&app, "unauthorized");
    assert_eq!(unauthorized.len(), 5);
    assert_eq!(unauthorized[0].subject, conv.id);
    assert_eq!(
        unauthorized[0].path,
        format!("/v1/conversations/{}", conv.id)
    );
    let blocked = events(&app, "ip_blocked");
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].subject, "127.0.0.1");
    assert_eq!(blocked[0].ip.to_string(), "127.0.0.1");

    // Even a good request is refused now; health checks are not.
    let res = app
        .client
        .get(app.url(&format!("/v1/conversations/{}", conv.id)))
        .bearer_auth(&conv.token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(get(&app, "/healthz").await.status(), 200);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    app.transcript(&conv).await;
    assert_eq!(events(&app, "ip_blocked").len(), 1);
}

/// A scripted attacker walks order numbers, pairing each with a guessed
/// email, from fresh conversations: no reply ever carries an order's
/// details, and the IP is refused after a few failures and stays refused.
#[tokio::test]
async fn an_enumeration_script_learns_nothing_and_is_blocked() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("verification_failures", "5/1h"),
            ("trusted_proxies", "127.0.0.1"),
        ],
    )
    .await;
    let attacker = "203.0.113.99";
    let mut answered = 0;
    let mut refused = 0;
    let mut blocked_at_the_door = 0;
    let mut stopped = false;
    let mut answered_after_refusal = 0;
    for n in 1000..1030 {
        let res = app
            .client
            .post(app.url("/v1/conversations"))
            .header("x-forwarded-for", attacker)
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        if res.status() != 201 {
            assert!(
                res.status() == 429 || res.status() == 403,
                "{}",
                res.status()
            );
            blocked_at_the_door += 1;
            stopped = true;
            continue;
        }
        let v: Value = res.json().await.expect("json");
        let conv = Conv {
            id: v["id"].as_str().expect("id").to_string(),
            token: v["token"].as_str().expect("token").to_string(),
            greeting: Vec::new(),
        };
        for (k, text) in [
            format!("where is my order #{n}?"),
            format!("customer{n}@example.com"),
        ]
        .into_iter()
        .enumerate()
        {
            let (s, v) = say_from(&app, attacker, &conv, &text).await;
            match s {
                200 => {
                    answered += 1;
                    // The email is the guess; asking is always answered.
                    if stopped && k == 1 {
                        answered_after_refusal += 1;
                    }
                    let shown = v.to_string().to_lowercase();
                    assert!(
                        v["messages"]
                            .as_array()
                            .is_some_and(|ms| ms.iter().all(|m| m.get("order_card").is_none())),
                        "no order card for a guess: {shown}"
                    );
                    for leak in [
                        "emma",
                        "hawthorne",
                        "tracking",
                        "shipped",
                        "delivered",
                        "tracking_url",
                        "fedex",
                    ] {
                        assert!(!shown.contains(leak), "{leak:?} leaked for #{n}: {shown}");
                    }
                }
                429 => {
                    refused += 1;
                    stopped = true;
                    assert_eq!(v["code"], "rate_limited", "{v}");
                }
                other => panic!("unexpected {other}: {v}"),
            }
        }
    }
    eprintln!("answered {answered}, refused {refused}, blocked at the door {blocked_at_the_door}");
    // Once refused, refused for good: every later guess (an email) is
    // stopped, at the message or, after a burst, at the conversation.
    assert!(
        blocked_at_the_door + refused >= 10,
        "the script is stopped: {refused} messages and {blocked_at_the_door} conversations refused"
    );
    assert_eq!(
        answered_after_refusal, 0,
        "no guess is answered once refused"
    );
    assert_eq!(events(&app, "verification_failed").len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_signed_in_requests_from_other_sites_are_refused() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let (set_cookie, body) = common::sign_up_agent(
        &app,
        common::AgentSpec {
            id: "sup-csrf",
            email: "sup.csrf@example.com",
            name: "Sup",
            role: "supervisor",
            max_chats: 3,
            languages: &["en"],
        },
    )
    .await;
    let cookie = set_cookie.split(';').next().expect("cookie").to_string();
    assert!(cookie.starts_with("wismo_agent="), "{cookie}");
    let bearer = common::token_of(&body);
    let canned = |n: u32| {
        json!({"shortcut": format!("/c{n}"), "title": "Hi", "text": "Hello there"}).to_string()
    };
    let post = |builder: reqwest::RequestBuilder| async move {
        let res = builder.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    };
    let url = app.url("/v1/agent/canned-replies");
    // The attack: a page on another site posts a body with no Content-Type
    // (or text/plain, a "simple" request with no preflight); the browser adds the cookie.
    let (s, v) = post(
        app.client
            .post(&url)
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .body(canned(1)),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["code"], "cross_site_request");
    let (s, v) = post(
        app.client
            .post(&url)
            .header("cookie", &cookie)
            .header("sec-fetch-site", "cross-site")
            .header("content-type", "application/json")
            .body(canned(2)),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["code"], "cross_site_request");
    // Same origin but not JSON: 415.
    let (s, v) = post(
        app.client
            .post(&url)
            .header("cookie", &cookie)
            .header("origin", &app.base)
            .header("content-type", "text/plain")
            .body(canned(3)),
    )
    .await;
    assert_eq!(s, 415, "{v}");
    assert_eq!(v["code"], "unsupported_media_type");
    let (s, v) = post(
        app.client
            .post(&url)
            .header("cookie", &cookie)
            .body(canned(4)),
    )
    .await;
    assert_eq!(s, 415, "{v}");
    assert_eq!(v["code"], "unsupported_media_type");
    // Nothing was created by any of those.
    let list: Value = app
        .client
        .get(&url)
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert!(
        !list.to_string().contains("/c1") && !list.to_string().contains("/c4"),
        "{list}"
    );
    // The console itself (same origin, JSON) works.
    let (s, v) = post(
        app.client
            .post(&url)
            .header("cookie", &cookie)
            .header("origin", &app.base)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json")
            .body(canned(5)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    // A bearer token is not a browser's ambient credential: unaffected.
    let (s, v) = post(
        app.client
            .post(&url)
            .bearer_auth(&bearer)
            .header("origin", "https://evil.example")
            .body(canned(6)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

/// The demo store's orders with their emails (the shoppers' own details).
fn demo_orders() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../wismo-core/data/store/demo_orders.json"
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("demo orders")).expect("json");
    v["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| {
            (
                o["name"].as_str().expect("name").to_string(),
                o["email"].as_str().expect("email").to_string(),
            )
        })
        .collect()
}

/// Many shoppers share one address (an office, a phone network's NAT):
/// others' failed checks from that address do not lock them out.
#[tokio::test]
async fn shoppers_behind_one_nat_verify_their_own_orders_after_others_failed() {
    let app = spawn_app_with(Backend::Sqlite, &[("trusted_proxies", "127.0.0.1")]).await;
    let nat = "192.0.2.44";
    let orders = demo_orders();
    // 10 failed checks from four other conversations behind the NAT.
    let mut failures = 0;
    for (i, (number, _)) in orders.iter().skip(30).take(4).enumerate() {
        let conv = create_from(&app, nat).await;
        let (s, _) = say_from(&app, nat, &conv, &format!("where is my order {number}?")).await;
        assert_eq!(s, 200);
        for n in 0..3 {
            if failures == 10 {
                break;
            }
            let (s, v) = say_from(&app, nat, &conv, &format!("wrong{i}{n}@example.com")).await;
            assert_eq!(s, 200, "{v}");
            failures += 1;
        }
    }
    assert_eq!(events(&app, "verification_failed").len(), 10);
    // 15 shoppers, each with their own order and email: all verified.
    for (number, email) in orders.iter().take(15) {
        let conv = create_from(&app, nat).await;
        let (s, v) = say_from(&app, nat, &conv, &format!("where is my order {number}?")).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = say_from(&app, nat, &conv, email).await;
        assert_eq!(s, 200, "{number}: {v}");
        let said = replies(&v).to_lowercase();
        assert!(
            !said.contains("doesn't match") && !said.contains("can't check"),
            "{number}: {said}"
        );
        assert!(said.contains(&number.to_lowercase()), "{number}: {said}");
    }
}

/// Failed checks on one order number, from any conversations and
/// addresses, stop checks on that order for a while; the shopper is told
/// so in the conversation and offered a person — not a bare 429.
#[tokio::test]
async fn too_many_failed_checks_on_one_order_are_said_in_the_chat_with_a_person_offered() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("trusted_proxies", "127.0.0.1"),
            ("verification_failures_order", "4/1h"),
        ],
    )
    .await;
    for (ip, guesses) in [("203.0.113.10", 3), ("203.0.113.11", 1)] {
        let conv = create_from(&app, ip).await;
        say_from(&app, ip, &conv, "where is my order #1001?").await;
        for n in 0..guesses {
            let (s, v) = say_from(&app, ip, &conv, &format!("guess{n}@example.com")).await;
            assert_eq!(s, 200, "{v}");
        }
    }
    assert_eq!(events(&app, "verification_failed").len(), 4);
    let ip = "198.51.100.20";
    let conv = create_from(&app, ip).await;
    say_from(&app, ip, &conv, "where is my order #1001?").await;
    let (s, v) = say_from(&app, ip, &conv, "emma.johnson@example.com").await;
    assert_eq!(s, 200, "told in the conversation, not refused: {v}");
    let said = replies(&v);
    assert!(said.contains("can't check more order details"), "{said}");
    assert!(
        v["messages"]
            .as_array()
            .is_some_and(|ms| ms.iter().all(|m| m.get("order_card").is_none())),
        "nothing about the order: {v}"
    );
    assert!(
        v.to_string().contains("Talk to a person"),
        "a person is offered: {v}"
    );
    assert_eq!(events(&app, "verification_locked").len(), 1);
    // Other orders are unaffected.
    let conv = create_from(&app, ip).await;
    say_from(&app, ip, &conv, "where is my order #1002?").await;
    let (s, v) = say_from(&app, ip, &conv, "liam.smith@example.com").await;
    assert_eq!(s, 200);
    assert!(!replies(&v).contains("can't check"), "{}", replies(&v));
}
