//! The REST API through a real HTTP client, against SQLite and PostgreSQL.

mod common;

use common::{replies, spawn_app, spawn_app_with, Backend, Conv, ADMIN_TOKEN, BACKENDS};
use serde_json::{json, Value};

async fn for_each_backend<F, Fut>(f: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for b in BACKENDS {
        f(b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_asks_where_order_1001_is_and_gets_the_verified_answer() {
    for_each_backend(|b| async move {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        assert!(!conv.greeting.is_empty(), "{b:?}: a greeting");
        assert_eq!(conv.greeting[0]["role"], "bot");
        assert_eq!(conv.token.len(), 64);

        let r = app.say(&conv, "where is my order #1001?").await;
        assert_eq!(r["nlu"]["intent"]["name"], "track_order", "{b:?}: {r}");
        let entities = r["nlu"]["entities"].as_array().expect("entities");
        assert!(
            entities
                .iter()
                .any(|e| e["type"] == "order_number" && e["text"] == "#1001"),
            "{r}"
        );
        assert_eq!(r["handoff"]["status"], "none");
        assert_eq!(r["user_message"]["role"], "user");
        assert_eq!(r["user_message"]["text"], "where is my order #1001?");
        let asks = replies(&r).to_lowercase();
        assert!(asks.contains("email"), "{b:?}: asks who is asking: {asks}");
        assert!(
            !asks.contains("1z"),
            "no tracking before verification: {asks}"
        );

        let r = app.say(&conv, "emma.johnson@example.com").await;
        let card = r["messages"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m.get("order_card").is_some()))
            .map(|m| m["order_card"].clone())
            .expect("an order card");
        assert_eq!(card["order_number"], "1001", "{r}");
        assert_eq!(card["state"], "delivered", "{r}");
        let t = app.transcript(&conv).await;
        let msgs = t["messages"].as_array().expect("messages");
        let roles: Vec<&str> = msgs.iter().filter_map(|m| m["role"].as_str()).collect();
        assert_eq!(roles.first(), Some(&"bot"));
        assert_eq!(roles.iter().filter(|r| **r == "user").count(), 2);
        let ids: Vec<i64> = msgs
            .iter()
            .map(|m| {
                m["id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("numeric id")
            })
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
        assert_eq!(t["handoff"]["status"], "none");
        assert_eq!(t["id"], conv.id.as_str());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_tokens_get_401_without_revealing_whether_it_exists() {
    for_each_backend(|b| async move {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        let other = app.create().await;
        let cases: Vec<(String, Option<String>)> = vec![
            (conv.id.clone(), None),
            (conv.id.clone(), Some(other.token.clone())),
            (conv.id.clone(), Some("x".repeat(64))),
            (
                "c_00000000000000000000000000000000".into(),
                Some(conv.token.clone()),
            ),
            ("c_does-not-exist".into(), None),
            ("..%2F..%2Fetc%2Fpasswd".into(), Some(conv.token.clone())),
            ("a%00b".into(), Some(conv.token.clone())),
        ];
        let mut bodies = Vec::new();
        for (id, token) in &cases {
            for (method, path) in [
                ("GET", format!("/v1/conversations/{id}")),
                ("POST", format!("/v1/conversations/{id}/messages")),
            ] {
                let mut req = match method {
                    "GET" => app.client.get(app.url(&path)),
                    _ => app.client.post(app.url(&path)).json(&json!({"text": "hi"})),
                };
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let res = req.send().await.expect("request");
                assert_eq!(res.status(), 401, "{b:?} {method} {path}");
                assert_eq!(
                    res.headers()
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok()),
                    Some("Bearer realm=\"wismo\"")
                );
                let v: Value = res.json().await.expect("problem json");
                assert_eq!(v["code"], "unauthorized");
                bodies.push(v);
            }
        }
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "every refusal is identical"
        );
        // The right token still works, and nothing was added by the refusals.
        let t = app.transcript(&conv).await;
        assert_eq!(
            t["messages"].as_array().map(Vec::len),
            Some(conv.greeting.len())
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_client_message_id_lands_once() {
    for_each_backend(|b| async move {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        let body = json!({"text": "where is my order #1002", "client_message_id": "m-1"});
        let (s1, first) = app.say_raw(&conv, body.clone()).await;
        let (s2, again) = app.say_raw(&conv, body.clone()).await;
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(again["replayed"], true, "{b:?}");
        assert_eq!(first["user_message"], again["user_message"]);
        assert_eq!(first["messages"], again["messages"]);
        let t = app.transcript(&conv).await;
        let users = t["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["role"] == "user")
            .count();
        assert_eq!(users, 1, "{b:?}: the retry did not add a message");
        let (s, v) = app
            .say_raw(
                &conv,
                json!({"text": "something else", "client_message_id": "m-1"}),
            )
            .await;
        assert_eq!(s, 409);
        assert_eq!(v["code"], "client_message_id_reused");
    })
    .await;
}

/// Each hostile request gets the right status and code, and the server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_precise_4xx_and_the_server_keeps_serving() {
    for_each_backend(|b| async move {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        let msg_url = app.url(&format!("/v1/conversations/{}/messages", conv.id));
        struct Case {
            name: &'static str,
            body: Vec<u8>,
            content_type: Option<&'static str>,
            status: u16,
            code: &'static str,
            mentions: &'static str,
        }
        let huge = format!("{{\"text\": \"{}\"}}", "a".repeat(70_000)).into_bytes();
        let long = format!("{{\"text\": \"{}\"}}", "é".repeat(2001)).into_bytes();
        let cases = vec![
            Case {
                name: "truncated json",
                body: b"{\"text\": \"hi".to_vec(),
                content_type: Some("application/json"),
                status: 400,
                code: "malformed_json",
                mentions: "EOF",
            },
            Case {
                name: "not json",
                body: b"text=hi".to_vec(),
                content_type: Some("application/json"),
                status: 400,
                code: "malformed_json",
                mentions: "expected",
            },
            Case {
                name: "invalid utf-8",
                body: b"{\"text\": \"\xff\xfe\"}".to_vec(),
                content_type: Some("application/json"),
                status: 400,
                code: "malformed_json",
                mentions: "unicode",
            },
            Case {
                name: "wrong type",
                body: br#"{"text": 42}"#.to_vec(),
                content_type: Some("application/json"),
                status: 400,
                code: "invalid_body",
                mentions: "expected a string",
            },
            Case {
                name: "missing field",
                body: br#"{"txt": "hi"}"#.to_vec(),
                content_type: Some("application/json"),
                status: 400,
                code: "invalid_body",
                mentions: "txt",
            },
            Case {
                name: "array body",
                body: br#"["hi"]"#.to_vec(),
                content_type: Some("application/json"),
                status: 400,
                code: "invalid_body",
                mentions: "",
            },
            Case {
                name: "empty body",
                body: Vec::new(),
                content_type: Some("application/json"),
                status: 400,
                code: "invalid_body",
                mentions: "empty",
            },
            Case {
                name: "empty text",
                body: br#"{"text": "   "}"#.to_vec(),
                content_type: None,
                status: 422,
                code: "empty_message",
                mentions: "empty",
            },
            Case {
                name: "too long",
                body: long,
                content_type: None,
                status: 422,
                code: "message_too_long",
                mentions: "2001 characters; the limit is 2000",
            },
            Case {
                name: "huge body",
                body: huge,
                content_type: Some("application/json"),
                status: 413,
                code: "body_too_large",
                mentions: "65536",
            },
            Case {
                name: "NUL",
                body: br#"{"text": "a\u0000b"}"#.to_vec(),
                content_type: None,
                status: 422,
                code: "invalid_field",
                mentions: "NUL",
            },
            Case {
                name: "form",
                body: b"text=hi".to_vec(),
                content_type: Some("application/x-www-form-urlencoded"),
                status: 415,
                code: "unsupported_media_type",
                mentions: "x-www-form-urlencoded",
            },
            Case {
                name: "bad client id",
                body: br#"{"text": "hi", "client_message_id": "a b"}"#.to_vec(),
                content_type: None,
                status: 422,
                code: "invalid_field",
                mentions: "client_message_id",
            },
            Case {
                name: "deep nesting",
                body: format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
                content_type: None,
                status: 400,
                code: "invalid_body",
                mentions: "invalid type",
            },
        ];
        for c in cases {
            let mut req = app
                .client
                .post(&msg_url)
                .bearer_auth(&conv.token)
                .body(c.body);
            if let Some(ct) = c.content_type {
                req = req.header("content-type", ct);
            }
            let res = req.send().await.expect("request");
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let v: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(status, c.status, "{b:?} {}: {v}", c.name);
            assert_eq!(v["code"], c.code, "{b:?} {}: {v}", c.name);
            assert_eq!(ct, "application/problem+json", "{}", c.name);
            assert_eq!(v["status"], c.status);
            let message = v["message"].as_str().unwrap_or("");
            assert!(
                message.contains(c.mentions),
                "{b:?} {}: message {message:?} should mention {:?}",
                c.name,
                c.mentions
            );
        }
        // Injection text is just text: stored and shown verbatim.
        for text in [
            "'; DROP TABLE conversation_events; --",
            "<script>alert('x')</script> where is my order",
            "#1001' OR '1'='1",
            "\u{202e}\u{200b}💥 order 🙂",
        ] {
            let r = app.say(&conv, text).await;
            assert_eq!(r["user_message"]["text"], text, "{b:?}");
        }
        let t = app.transcript(&conv).await;
        let texts: Vec<&str> = t["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["text"].as_str())
            .collect();
        assert_eq!(
            texts.len(),
            4,
            "{b:?}: only the 4 valid messages were stored"
        );
        assert_eq!(texts[0], "'; DROP TABLE conversation_events; --");

        // Unknown routes, wrong methods, wrong query, plain GET on the socket.
        let res = app
            .client
            .get(app.url("/v1/nope"))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 404);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["code"], "not_found");
        let res = app
            .client
            .delete(app.url("/v1/conversations"))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 405);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["code"], "method_not_allowed");
        let res = app
            .client
            .get(app.url(&format!("/v1/conversations/{}?after=abc", conv.id)))
            .bearer_auth(&conv.token)
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 422);
        let res = app
            .client
            .get(app.url(&format!("/v1/conversations/{}/ws", conv.id)))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 426);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["code"], "websocket_required");

        // Bad create bodies.
        for (body, status, code) in [
            (json!({"locale": "klingon"}), 422, "invalid_field"),
            (json!({"channel": "a b"}), 422, "invalid_field"),
            (json!({"metadata": [1]}), 422, "invalid_field"),
            (
                json!({"metadata": {"k": "x".repeat(5000)}}),
                422,
                "invalid_field",
            ),
            (
                json!({"customer": {"email": "emma.johnson@example.com"}}),
                422,
                "invalid_field",
            ),
            (json!({"surprise": true}), 400, "invalid_body"),
            (json!("just a string"), 400, "invalid_body"),
        ] {
            let res = app
                .client
                .post(app.url("/v1/conversations"))
                .json(&body)
                .send()
                .await
                .expect("req");
            assert_eq!(res.status().as_u16(), status, "{b:?} {body}");
            let v: Value = res.json().await.expect("json");
            assert_eq!(v["code"], code, "{body}: {v}");
        }

        // Nesting deeper than the parser allows is refused, not a crash.
        let deep = format!(
            "{{\"metadata\": {{\"a\": {}{}}}}}",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        let res = app
            .client
            .post(app.url("/v1/conversations"))
            .header("content-type", "application/json")
            .body(deep)
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 400);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["code"], "malformed_json", "{v}");
        assert!(
            v["message"].as_str().unwrap_or("").contains("recursion"),
            "{v}"
        );

        let res = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 200, "still serving");
        app.say(&conv, "thanks").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_docs_and_index() {
    let app = spawn_app(Backend::Sqlite).await;
    let v: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(v["status"], "ok");
    let res = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["database"], "ok");
    assert!(v["intents"].as_u64().unwrap_or(0) >= 30, "{v}");
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("openapi is JSON");
    assert!(doc["paths"]["/v1/conversations/{id}/messages"]["post"].is_object());
    let page = app
        .client
        .get(app.url("/docs"))
        .send()
        .await
        .expect("req")
        .text()
        .await
        .expect("text");
    assert!(page.contains("/openapi.json"));
    let index = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .expect("req")
        .text()
        .await
        .expect("text");
    // The demo shop page embeds the widget the way a store would.
    assert!(
        index.contains(r#"<script src="/widget.js""#),
        "widget embedded"
    );
    assert!(index.contains("/docs"));
    let res = app
        .client
        .get(app.url("/widget.js"))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/javascript; charset=utf-8")
    );
    let js = res.text().await.expect("text");
    assert!(
        js.len() > 10_000 && js.contains("wismo.v1"),
        "the built widget"
    );
}

const RASA_TOKEN: &str = "rasa-channel-secret-0123456789abcdef";

/// An HS256 JWT signed with `key`, as a store's backend would make one.
fn hs256(key: &str, claims: Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let sig = ring::hmac::sign(&k, format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

async fn rasa_post(app: &common::TestApp, auth: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/webhooks/rest/webhook"))
        .json(&body);
    if let Some(a) = auth {
        req = req.bearer_auth(a);
    }
    let res = req.send().await.expect("req");
    let status = res.status().as_u16();
    (status, res.json::<Value>().await.unwrap_or(Value::Null))
}

fn rasa_text(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["text"].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
        .to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rasa_rest_channel_works_like_rasa() {
    for_each_backend(|b| async move {
        let app = spawn_app_with(
            b,
            &[("rasa_channel", "true"), ("rasa_channel_token", RASA_TOKEN)],
        )
        .await;
        let post = |sender: &'static str, message: &'static str| {
            let app = &app;
            async move {
                let (s, v) = rasa_post(
                    app,
                    Some(RASA_TOKEN),
                    json!({"sender": sender, "message": message}),
                )
                .await;
                assert_eq!(s, 200, "{v}");
                v
            }
        };
        let r = post("shopper-42", "where is my order #1001").await;
        let arr = r.as_array().expect("a JSON array, like Rasa");
        assert!(!arr.is_empty());
        assert!(arr.iter().all(|m| m["recipient_id"] == "shopper-42"));
        assert!(arr.iter().all(|m| m["text"].is_string()));
        // Same sender, same conversation: the bot remembers the order.
        let text = rasa_text(&post("shopper-42", "emma.johnson@example.com").await);
        assert!(text.contains("1001"), "{b:?}: {text}");
        assert!(text.contains("deliver"), "{b:?}: {text}");
        // Another sender starts from scratch.
        let r = post("someone-else", "emma.johnson@example.com").await;
        let text = r.to_string().to_lowercase();
        assert!(!text.contains("#1001"), "{b:?}: {text}");
        // Bad payloads are refused precisely.
        let (s, _) = rasa_post(
            &app,
            Some(RASA_TOKEN),
            json!({"sender": "", "message": "hi"}),
        )
        .await;
        assert_eq!(s, 422);
        let (s, _) = rasa_post(&app, Some(RASA_TOKEN), json!({"message": "hi"})).await;
        assert_eq!(s, 400);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rasa_channel_is_off_by_default_and_a_sender_id_is_no_credential() {
    // Off by default: 404 with its own code, and no conversation is made.
    let app = spawn_app(Backend::Sqlite).await;
    let (s, v) = rasa_post(
        &app,
        None,
        json!({"sender": "shopper-42", "message": "where is my order #1001"}),
    )
    .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["code"], "rasa_channel_disabled", "{v}");
    drop(app);

    let app = spawn_app_with(
        Backend::Sqlite,
        &[("rasa_channel", "true"), ("rasa_channel_token", RASA_TOKEN)],
    )
    .await;
    let ask = json!({"sender": "shopper-42", "message": "where is my order #1001"});
    // No secret, a wrong one, a JWT signed with another key, an expired JWT: 401.
    let now = 1_795_521_600_i64; // the test clock, 2026-11-24T12:00:00Z
    let forged = hs256(
        "another-secret-0123456789abcdef0123",
        json!({"sub": "shop-a"}),
    );
    let expired = hs256(RASA_TOKEN, json!({"sub": "shop-a", "exp": now - 10}));
    for auth in [
        None,
        Some("wrong-secret"),
        Some(forged.as_str()),
        Some(expired.as_str()),
    ] {
        let (s, v) = rasa_post(&app, auth, ask.clone()).await;
        assert_eq!(s, 401, "{auth:?}: {v}");
        assert_eq!(v["code"], "rasa_unauthorized", "{v}");
    }
    // Client A (a JWT whose sub is shop-a) verifies order 1001 as sender shopper-42.
    let a = hs256(RASA_TOKEN, json!({"sub": "shop-a", "exp": now + 600}));
    let (s, _) = rasa_post(&app, Some(&a), ask.clone()).await;
    assert_eq!(s, 200);
    let (s, v) = rasa_post(
        &app,
        Some(&a),
        json!({"sender": "shopper-42", "message": "emma.johnson@example.com"}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(rasa_text(&v).contains("deliver"), "{v}");
    // Client B reuses the sender id: a fresh conversation, no order in it.
    let b = hs256(RASA_TOKEN, json!({"sub": "shop-b", "exp": now + 600}));
    let (s, v) = rasa_post(
        &app,
        Some(&b),
        json!({"sender": "shopper-42", "message": "what's the status?"}),
    )
    .await;
    assert_eq!(s, 200);
    let text = rasa_text(&v);
    assert!(
        !text.contains("1001") && !text.contains("deliver"),
        "{text}"
    );
    // So does the bare shared secret (its own client).
    let (s, v) = rasa_post(
        &app,
        Some(RASA_TOKEN),
        json!({"sender": "shopper-42", "message": "what's the status?"}),
    )
    .await;
    assert_eq!(s, 200);
    let text = rasa_text(&v);
    assert!(
        !text.contains("1001") && !text.contains("deliver"),
        "{text}"
    );
    // Client A still has its conversation.
    let (s, v) = rasa_post(
        &app,
        Some(&a),
        json!({"sender": "shopper-42", "message": "what's the status?"}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(rasa_text(&v).contains("1001"), "{v}");
}

fn shopify_order(id: u64, name: &str, email: &str, fulfillment: Option<&str>) -> Value {
    json!({
        "id": id,
        "name": name,
        "email": email,
        "created_at": "2026-11-20T10:00:00-05:00",
        "currency": "USD",
        "total_price": "42.00",
        "financial_status": "paid",
        "fulfillment_status": fulfillment,
        "customer": {"id": 9000 + id, "first_name": "Ada", "last_name": "Lovelace", "email": email},
        "shipping_address": {"address1": "1 Main St", "city": "Portland", "zip": "97201", "country_code": "US", "province_code": "OR"},
        "line_items": [{"id": id * 10, "title": "Wool Socks", "quantity": 2, "price": "21.00", "sku": "SOCK-1"}],
        "fulfillments": [],
        "refunds": []
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_import_is_authenticated_idempotent_and_all_or_nothing() {
    for_each_backend(|b| async move {
        let app = spawn_app(b).await;
        let url = app.url("/v1/admin/import/shopify");
        let file = json!({"orders": [shopify_order(77001, "#7001", "ada@example.com", None)]});
        let res = app.client.post(&url).json(&file).send().await.expect("req");
        assert_eq!(res.status(), 401);
        let res = app
            .client
            .post(&url)
            .bearer_auth("not-the-admin-token-at-all")
            .json(&file)
            .send()
            .await
            .expect("req");
        assert_eq!(res.status(), 401);
        let v: Value = res.json().await.expect("json");
        assert_eq!(v["code"], "admin_unauthorized");
        let import = |body: Value| {
            let app = &app;
            let url = url.clone();
            async move {
                let res = app
                    .client
                    .post(url)
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .expect("req");
                (res.status().as_u16(), res.json::<Value>().await.expect("json"))
            }
        };
        let (s, v) = import(file.clone()).await;
        assert_eq!(s, 200, "{b:?}: {v}");
        assert_eq!(v, json!({"inserted": 1, "updated": 0, "unchanged": 0}));
        let (_, v) = import(file.clone()).await;
        assert_eq!(v, json!({"inserted": 0, "updated": 0, "unchanged": 1}), "{b:?}");
        let changed = json!({"orders": [shopify_order(77001, "#7001", "ada@example.com", Some("fulfilled"))]});
        let (_, v) = import(changed).await;
        assert_eq!(v, json!({"inserted": 0, "updated": 1, "unchanged": 0}), "{b:?}");
        // A bad file: the good order in it is not imported either.
        let mut bad = shopify_order(77003, "#7003", "x@example.com", None);
        bad["line_items"][0]["quantity"] = json!("many");
        let (s, v) = import(json!({"orders": [shopify_order(77002, "#7002", "bo@example.com", None), bad]})).await;
        assert_eq!(s, 422, "{b:?}: {v}");
        assert_eq!(v["code"], "invalid_orders");
        let m = v["message"].as_str().unwrap_or("");
        assert!(m.contains("order 1") && m.contains("line_items[0]"), "names order and field: {m}");
        // The bot sees the imported order, not the rejected one.
        let conv = app.create().await;
        app.say(&conv, "where is order #7001").await;
        let r = app.say(&conv, "ada@example.com").await;
        assert!(replies(&r).contains("7001"), "{b:?}: {r}");
        let conv: Conv = app.create().await;
        app.say(&conv, "where is order #7002").await;
        let r = app.say(&conv, "bo@example.com").await;
        assert!(!replies(&r).to_lowercase().contains("socks"), "{b:?}: {r}");
    })
    .await;
    // Without an admin token the admin API is off.
    let app = spawn_app_with(Backend::Sqlite, &[("admin_token", "")]).await;
    let res = app
        .client
        .post(app.url("/v1/admin/import/shopify"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"orders": []}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_customer_needs_the_admin_token_and_skips_verification() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .client
        .post(app.url("/v1/conversations"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"customer": {"email": "Emma.Johnson@example.com"}, "channel": "web", "locale": "en-US"}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["locale"], "en");
    let conv = Conv {
        id: v["id"].as_str().expect("id").into(),
        token: v["token"].as_str().expect("token").into(),
        greeting: Vec::new(),
    };
    let r = app.say(&conv, "where is my order #1001").await;
    assert!(replies(&r).contains("#1001"), "no questions asked: {r}");
    assert!(!replies(&r).to_lowercase().contains("email"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_conversation_starts_fresh_and_keeps_its_history() {
    for_each_backend(|b| async move {
        let app = spawn_app_with(b, &[("session_idle", "30m")]).await;
        let conv = app.create().await;
        app.say(&conv, "where is my order #1001").await;
        let r = app.say(&conv, "emma.johnson@example.com").await;
        assert!(replies(&r).contains("1001"));
        app.state
            .sessions
            .clock
            .advance(std::time::Duration::from_secs(31 * 60));
        // The verification does not carry over: the shopper must prove it again.
        let r = app.say(&conv, "where is my order #1001").await;
        let text = replies(&r).to_lowercase();
        assert!(text.contains("email"), "{b:?}: asks again: {text}");
        let t = app.transcript(&conv).await;
        let users = t["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["role"] == "user")
            .count();
        assert_eq!(users, 3, "the history stays");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_rebuilds_conversations_from_the_log() {
    for_each_backend(|b| async move {
        let app = spawn_app(b).await;
        let conv = app.create().await;
        app.say(&conv, "where is my order #1001").await;
        app.say(&conv, "emma.johnson@example.com").await;
        let url = app.database_url.clone();
        // A second server on the same database (the first one's memory is not shared).
        let second = spawn_app_with(b, &[("database_url", url.as_str())]).await;
        let r = second.say(&conv, "when will order #1001 arrive").await;
        let text = replies(&r).to_lowercase();
        assert!(
            !text.contains("email address"),
            "{b:?}: still verified after restart: {text}"
        );
        assert!(text.contains("1001"), "{b:?}: {text}");
        let t = second.transcript(&conv).await;
        assert_eq!(
            t["messages"]
                .as_array()
                .map(|m| m.iter().filter(|x| x["role"] == "user").count()),
            Some(3)
        );
        drop(second);
        drop(app);
    })
    .await;
}

/// Two servers on one database: when one appends to a conversation the other
/// holds in memory, the other notices at its next write and rebuilds the
/// conversation from the log before the turn after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_changed_by_another_server_is_reloaded() {
    for_each_backend(|b| async move {
        let a = spawn_app(b).await;
        let conv = a.create().await;
        a.say(&conv, "where is my order #1001").await;
        a.say(&conv, "emma.johnson@example.com").await;
        let url = a.database_url.clone();
        let other = spawn_app_with(b, &[("database_url", url.as_str())]).await;
        // On the other server the session has expired: verification is gone.
        other
            .state
            .sessions
            .clock
            .advance(std::time::Duration::from_secs(3600));
        other.say(&conv, "hi").await;
        // The first server's next write reveals the change ...
        a.say(&conv, "thanks").await;
        // ... and the turn after runs on the reloaded state: ask again.
        let r = a.say(&conv, "where is my order #1001").await;
        let text = replies(&r).to_lowercase();
        assert!(
            text.contains("email"),
            "{b:?}: verification must be asked again: {text}"
        );
        assert!(!text.contains("merino"), "{b:?}: nothing disclosed: {text}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_examples_use_the_public_url() {
    // Default: the address the server is bound to.
    let app = spawn_app(Backend::Sqlite).await;
    let html = app
        .client
        .get(app.url("/docs"))
        .send()
        .await
        .expect("docs")
        .text()
        .await
        .expect("text");
    let expected = format!("curl -s -X POST {}/v1/conversations", app.base);
    assert!(html.contains(&expected), "{expected} not in the page");
    assert!(
        !html.contains("127.0.0.1:8080"),
        "the page names another server"
    );
    drop(app);
    // Set: the public URL, in the page and as the document's server.
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("public_url", "https://chat.shop.example/")],
    )
    .await;
    let html = app
        .client
        .get(app.url("/docs"))
        .send()
        .await
        .expect("docs")
        .text()
        .await
        .expect("text");
    assert!(html.contains("curl -s -X POST https://chat.shop.example/v1/conversations"));
    assert!(html.contains("curl -s https://chat.shop.example/v1/conversations/$ID"));
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["servers"][0]["url"], "https://chat.shop.example");
}
