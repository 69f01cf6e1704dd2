//! Webhook delivery end to end, on SQLite and PostgreSQL: a real receiver on
//! 127.0.0.1 that checks every signature with its own HMAC code, answers 500
//! to the first attempt of each event (and, in one test, is not listening at
//! all for a while), against real servers emitting through
//! `state.webhooks.emit`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use common::{spawn_app_with, Backend, TestApp, BACKENDS};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use wismo_server::webhooks::{sign, verify, TOLERANCE};

const SECRET: &str = "whsec-test-0123456789abcdef";
const PATH: &str = "/hooks/crm";

/// The receiver's own check, written from the documentation:
/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, at most 5 minutes old.
fn receiver_accepts(secret: &[u8], header: &str, body: &str, now: i64) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > 300 {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    v1.contains(&expected)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 500 to the first `n` attempts of each event id, then 200.
    FailFirst(u32),
    /// 500 to everything.
    AlwaysFail,
}

#[derive(Default)]
struct Log {
    /// Every correctly signed request, per event id.
    hits: BTreeMap<String, u32>,
    /// Bodies answered 2xx, per event id.
    accepted: BTreeMap<String, Vec<String>>,
    bad_signatures: u32,
    /// Anything else wrong with a request (headers, body).
    problems: Vec<String>,
}

struct Hook {
    mode: Mode,
    delay: Duration,
    log: Mutex<Log>,
}

/// A CRM stand-in on 127.0.0.1.
struct Receiver {
    hook: Arc<Hook>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: String) -> StatusCode {
    let Some(ok) = judge(&hook, &headers, body) else {
        return StatusCode::UNAUTHORIZED;
    };
    tokio::time::sleep(hook.delay).await;
    if ok {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// Checks and logs one request: `None` for a bad signature, else whether to
/// accept it.
fn judge(hook: &Hook, headers: &HeaderMap, body: String) -> Option<bool> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let signature = header("wismo-signature");
    let now = Utc::now();
    let ours = receiver_accepts(SECRET.as_bytes(), &signature, &body, now.timestamp());
    let theirs = verify(SECRET.as_bytes(), &signature, &body, now, TOLERANCE);
    let mut log = hook.log.lock().unwrap_or_else(|p| p.into_inner());
    if ours != theirs {
        log.problems.push(format!(
            "verify() disagrees with the receiver on {signature}"
        ));
    }
    if !ours {
        log.bad_signatures += 1;
        return None;
    }
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let id = parsed["id"].as_str().unwrap_or("").to_string();
    if header("wismo-event-id") != id || id.is_empty() {
        log.problems
            .push(format!("Wismo-Event-Id does not match {id:?}"));
    }
    if Some(header("wismo-event-type").as_str()) != parsed["type"].as_str() {
        log.problems
            .push(format!("Wismo-Event-Type does not match for {id}"));
    }
    if header("content-type") != "application/json" {
        log.problems
            .push(format!("Content-Type {:?}", header("content-type")));
    }
    if header("user-agent") != concat!("wismo/", env!("CARGO_PKG_VERSION")) {
        log.problems
            .push(format!("User-Agent {:?}", header("user-agent")));
    }
    let hits = {
        let n = log.hits.entry(id.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let ok = match hook.mode {
        Mode::FailFirst(n) => hits > n,
        Mode::AlwaysFail => false,
    };
    if ok {
        log.accepted.entry(id).or_default().push(body);
    }
    Some(ok)
}

/// A port nobody listens on (yet).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Receiver {
    /// Listens on `port` (0: any), retrying for a while if it is still taken.
    async fn start(port: u16, mode: Mode, delay: Duration) -> Receiver {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("port {port} not free yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot listen on {port}: {e}"),
            }
        };
        let addr = listener.local_addr().expect("addr");
        let hook = Arc::new(Hook {
            mode,
            delay,
            log: Mutex::new(Log::default()),
        });
        let app = Router::new()
            .route(PATH, post(receive))
            .with_state(hook.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { hook, addr, task }
    }

    fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.hook.log.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn url_on(port: u16) -> String {
    format!("http://127.0.0.1:{port}{PATH}")
}

async fn app_with_hooks(b: Backend, url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("webhook_urls", url),
        ("webhook_secret", SECRET),
        ("webhook_retry_base", "50ms"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(b, &settings).await
}

/// Waits until `cond` holds, polling; panics with `what` after `limit`.
async fn wait_until(what: &str, limit: Duration, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const KINDS: [&str; 8] = [
    "handoff.requested",
    "handoff.assigned",
    "agent.message",
    "handoff.transferred",
    "handoff.released",
    "conversation.resolved",
    "case.contact",
    "csat.submitted",
];

fn at(i: usize) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("time")
        + chrono::Duration::milliseconds(i as i64 * 1001)
}

/// What was emitted, by event id: (type, conversation id, data, time).
type Emitted = BTreeMap<String, (String, String, Value, DateTime<Utc>)>;

async fn emit_many(app: &TestApp, n: usize, tag: &str) -> Emitted {
    let mut out = BTreeMap::new();
    for i in 0..n {
        let kind = KINDS[i % KINDS.len()];
        let conversation = format!("c_{tag}_{i:02}");
        let data = json!({
            "case_id": format!("CASE-{i}"),
            "agent": {"id": "a_7", "name": "Zoë \"Z\" O'Brien"},
            "message": {"id": i, "text": "¿Dónde está mi pedido? 📦\n<b>&</b> \\ \u{0}", "created_at": at(i)},
            "tags": ["late", "refund"],
            "first_response_seconds": null,
        });
        let id = app
            .state
            .webhooks
            .emit(kind, &conversation, data.clone(), at(i))
            .await
            .expect("emit");
        assert!(id.starts_with("evt_") && id.len() == 36, "{id}");
        out.insert(id, (kind.to_string(), conversation, data, at(i)));
    }
    out
}

/// Every event accepted exactly once, with the body that was stored and
/// the content that was emitted.
async fn assert_delivered_once(b: Backend, app: &TestApp, receiver: &Receiver, emitted: &Emitted) {
    let (accepted, problems, bad) =
        receiver.with(|l| (l.accepted.clone(), l.problems.clone(), l.bad_signatures));
    assert!(problems.is_empty(), "{b:?}: {problems:?}");
    assert_eq!(bad, 0, "{b:?}: wismo sent a badly signed request");
    let ids: BTreeSet<&String> = accepted.keys().collect();
    let want: BTreeSet<&String> = emitted.keys().collect();
    assert_eq!(ids, want, "{b:?}: the ids accepted");
    for (id, (kind, conversation, data, at)) in emitted {
        let bodies = &accepted[id];
        assert_eq!(
            bodies.len(),
            1,
            "{b:?}: {id} accepted {} times",
            bodies.len()
        );
        let entries = app
            .state
            .sessions
            .db
            .outbox_entries(id)
            .await
            .expect("entries");
        assert_eq!(entries.len(), 1, "{b:?}: one row per target");
        assert_eq!(
            bodies[0], entries[0].body,
            "{b:?}: the body as stored, byte for byte"
        );
        assert!(
            entries[0].delivered_at.is_some(),
            "{b:?}: {id} marked delivered"
        );
        let v: Value = serde_json::from_str(&bodies[0]).expect("JSON body");
        assert_eq!(
            v,
            json!({
                "id": id,
                "type": kind,
                "created_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "conversation_id": conversation,
                "data": data,
            }),
            "{b:?}"
        );
        // The envelope's fields come in the documented order.
        assert!(
            bodies[0].starts_with(&format!(
                "{{\"id\":\"{id}\",\"type\":\"{kind}\",\"created_at\":"
            )),
            "{b:?}: {}",
            bodies[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_once_signed_after_refusals_and_errors() {
    for b in BACKENDS {
        // Nobody listens on the port yet: the first attempts are refused.
        let port = free_port();
        let app = app_with_hooks(b, &url_on(port), &[("webhook_max_attempts", "20")]).await;
        let emitted = emit_many(&app, 20, "main").await;
        let db = app.state.sessions.db.clone();
        wait_until("refused attempts", Duration::from_secs(30), async || {
            let mut all = true;
            for id in emitted.keys() {
                let e = db.outbox_entries(id).await.expect("entries");
                all &= e.iter().all(|r| {
                    r.attempts >= 1
                        && r.last_error
                            .as_deref()
                            .is_some_and(|m| m.contains("connect"))
                });
            }
            all
        })
        .await;
        let (status, s) = app.admin_get("/v1/admin/webhooks").await;
        assert_eq!(status, 200, "{s}");
        assert_eq!(s["targets"], json!([url_on(port)]), "{b:?}");
        assert_eq!(s["outbox"]["delivered"], 0, "{b:?}: {s}");
        assert_eq!(s["outbox"]["pending"], 20, "{b:?}: {s}");
        let failure = &s["recent_failures"][0];
        assert!(
            failure["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("cannot connect")),
            "{b:?}: {s}"
        );
        assert!(
            !s.to_string().contains("Zoë"),
            "{b:?}: no body in the status"
        );

        // Now it listens, but answers 500 to each event's first request.
        let receiver = Receiver::start(port, Mode::FailFirst(1), Duration::ZERO).await;
        wait_until("20 deliveries", Duration::from_secs(60), async || {
            receiver.with(|l| l.accepted.len()) == 20
        })
        .await;
        wait_until(
            "the outbox to show them delivered",
            Duration::from_secs(10),
            async || app.admin_get("/v1/admin/webhooks").await.1["outbox"]["delivered"] == 20,
        )
        .await;
        // Late duplicates would show up now.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_delivered_once(b, &app, &receiver, &emitted).await;
        for id in emitted.keys() {
            let hits = receiver.with(|l| l.hits.get(id).copied().unwrap_or(0));
            assert_eq!(hits, 2, "{b:?}: {id}: one 500, then accepted");
            let rows = db.outbox_entries(id).await.expect("entries");
            assert!(
                rows[0].attempts >= 3,
                "{b:?}: {id}: refused, 500, delivered: {} attempts",
                rows[0].attempts
            );
            assert!(rows[0].last_error.is_none() && !rows[0].dead, "{b:?}");
        }
        let (_, s) = app.admin_get("/v1/admin/webhooks").await;
        assert_eq!(
            s["outbox"],
            json!({"pending": 0, "delivered": 20, "dead": 0}),
            "{b:?}"
        );
        assert_eq!(s["recent_failures"], json!([]), "{b:?}");

        // The receiver really checks: a tampered body, a stale or missing
        // signature and another secret are all refused; `sign` is accepted.
        let client = reqwest::Client::new();
        let body = r#"{"id":"evt_forged","type":"agent.message"}"#;
        let now = Utc::now().timestamp();
        let post = |signature: String, body: &'static str| {
            client
                .post(receiver.url())
                .header("Content-Type", "application/json")
                .header("User-Agent", concat!("wismo/", env!("CARGO_PKG_VERSION")))
                .header("Wismo-Event-Id", "evt_forged")
                .header("Wismo-Event-Type", "agent.message")
                .header("Wismo-Signature", signature)
                .body(body)
                .send()
        };
        let good = sign(SECRET.as_bytes(), now, body);
        let tampered = r#"{"id":"evt_forged","type":"agent.message" }"#;
        for (signature, body) in [
            (good.clone(), tampered),
            (sign(SECRET.as_bytes(), now - 301, body), body),
            (sign(b"not-the-secret-000000", now, body), body),
            (String::new(), body),
        ] {
            let res = post(signature, body).await.expect("request");
            assert_eq!(res.status(), 401, "{b:?}");
        }
        let res = post(good, body).await.expect("request");
        assert_eq!(
            res.status(),
            500,
            "{b:?}: signed right; first attempt fails"
        );
        assert_eq!(receiver.with(|l| l.bad_signatures), 4, "{b:?}");
        assert!(receiver.with(|l| l.problems.is_empty()), "{b:?}");
        drop(app);
    }
}

/// The receiver is down for the first server's whole life; a second server
/// started on the same database delivers everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_restart_while_the_receiver_is_down() {
    for b in BACKENDS {
        let port = free_port();
        let url = url_on(port);
        let mut first = app_with_hooks(b, &url, &[]).await;
        let emitted = emit_many(&first, 6, "restart").await;
        let db = first.state.sessions.db.clone();
        wait_until("failed attempts", Duration::from_secs(30), async || {
            let mut all = true;
            for id in emitted.keys() {
                let e = db.outbox_entries(id).await.expect("entries");
                all &= e.iter().all(|r| r.attempts >= 2);
            }
            all
        })
        .await;
        first.stop_server().await.expect("clean stop");

        let receiver = Receiver::start(port, Mode::FailFirst(0), Duration::ZERO).await;
        let database_url = first.database_url.clone();
        let second = app_with_hooks(b, &url, &[("database_url", &database_url)]).await;
        let (_, s) = second.admin_get("/v1/admin/webhooks").await;
        assert_eq!(s["outbox"]["dead"], 0, "{b:?}: {s}");
        wait_until(
            "6 deliveries after the restart",
            Duration::from_secs(60),
            async || receiver.with(|l| l.accepted.len()) == 6,
        )
        .await;
        wait_until(
            "the outbox to show them delivered",
            Duration::from_secs(10),
            async || second.admin_get("/v1/admin/webhooks").await.1["outbox"]["delivered"] == 6,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_delivered_once(b, &second, &receiver, &emitted).await;
        drop(second);
        drop(first);
    }
}

/// A target that always fails: each event is tried max_attempts times, then
/// it is dead and never tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_always_fails_ends_dead_after_max_attempts() {
    for b in BACKENDS {
        let receiver = Receiver::start(0, Mode::AlwaysFail, Duration::ZERO).await;
        let app = app_with_hooks(
            b,
            &receiver.url(),
            &[
                ("webhook_max_attempts", "3"),
                ("webhook_retry_base", "20ms"),
            ],
        )
        .await;
        let emitted = emit_many(&app, 4, "dead").await;
        wait_until("4 dead events", Duration::from_secs(60), async || {
            app.admin_get("/v1/admin/webhooks").await.1["outbox"]["dead"] == 4
        })
        .await;
        // Nothing more is sent.
        tokio::time::sleep(Duration::from_millis(800)).await;
        for id in emitted.keys() {
            let hits = receiver.with(|l| l.hits.get(id).copied().unwrap_or(0));
            assert_eq!(hits, 3, "{b:?}: {id}: exactly max_attempts tries");
            let rows = app
                .state
                .sessions
                .db
                .outbox_entries(id)
                .await
                .expect("rows");
            assert!(rows[0].dead && rows[0].delivered_at.is_none(), "{b:?}");
            assert_eq!(rows[0].attempts, 3, "{b:?}");
            assert_eq!(
                rows[0].last_error.as_deref(),
                Some("HTTP 500 Internal Server Error"),
                "{b:?}"
            );
        }
        assert!(receiver.with(|l| l.accepted.is_empty()), "{b:?}");
        let (_, s) = app.admin_get("/v1/admin/webhooks").await;
        assert_eq!(
            s["outbox"],
            json!({"pending": 0, "delivered": 0, "dead": 4}),
            "{b:?}"
        );
        let failures = s["recent_failures"].as_array().cloned().unwrap_or_default();
        assert_eq!(failures.len(), 4, "{b:?}: {s}");
        for f in failures {
            assert_eq!(f["dead"], true, "{b:?}");
            assert_eq!(f["attempts"], 3, "{b:?}");
            assert_eq!(f["next_attempt_at"], Value::Null, "{b:?}");
            assert!(emitted.contains_key(f["event_id"].as_str().unwrap_or("")));
        }
    }
}

/// Two servers on one database, both delivering to the same slow receiver:
/// no event is ever sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_never_send_the_same_event() {
    for b in BACKENDS {
        let receiver = Receiver::start(0, Mode::FailFirst(0), Duration::from_millis(40)).await;
        let a = app_with_hooks(b, &receiver.url(), &[]).await;
        let database_url = a.database_url.clone();
        let other = app_with_hooks(b, &receiver.url(), &[("database_url", &database_url)]).await;
        let (from_a, from_other) = tokio::join!(emit_many(&a, 20, "a"), emit_many(&other, 20, "b"));
        let mut emitted = from_a;
        emitted.extend(from_other);
        assert_eq!(emitted.len(), 40);
        wait_until("40 deliveries", Duration::from_secs(60), async || {
            receiver.with(|l| l.accepted.len()) == 40
        })
        .await;
        wait_until(
            "the outbox to show them delivered",
            Duration::from_secs(10),
            async || a.admin_get("/v1/admin/webhooks").await.1["outbox"]["delivered"] == 40,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let total: u32 = receiver.with(|l| l.hits.values().sum());
        assert_eq!(total, 40, "{b:?}: one request per event, no more");
        assert_delivered_once(b, &a, &receiver, &emitted).await;
        drop(other);
        drop(a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_urls_emit_is_a_no_op_and_the_status_is_empty() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    assert!(!app.state.webhooks.enabled());
    let id = app
        .state
        .webhooks
        .emit(
            "csat.submitted",
            "c_1",
            json!({"score": 5, "comment": null}),
            Utc::now(),
        )
        .await
        .expect("emit");
    assert!(id.starts_with("evt_"));
    assert!(app
        .state
        .sessions
        .db
        .outbox_entries(&id)
        .await
        .expect("entries")
        .is_empty());
    let (status, s) = app.admin_get("/v1/admin/webhooks").await;
    assert_eq!(status, 200);
    assert_eq!(
        s,
        json!({"targets": [], "outbox": {"pending": 0, "delivered": 0, "dead": 0}, "recent_failures": [], "event_stream": false})
    );
    // A bad event type is refused.
    let err = app
        .state
        .webhooks
        .emit("Not A Type", "c_1", json!({}), Utc::now())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "invalid_field");
    // The admin endpoint needs the admin token.
    let res = app
        .client
        .get(app.url("/v1/admin/webhooks"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/v1/admin/webhooks"))
        .bearer_auth("wrong-token-wrong-token")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_without_a_secret_do_not_start() {
    let mut layers = wismo_server::config::Layers::defaults();
    layers
        .flag("webhook_urls", "https://crm.example/in")
        .expect("known");
    let err = layers.build().expect_err("a secret is required");
    assert!(err.to_string().contains("webhook_secret"), "{err}");
}

/// A real hand-off through the API produces the documented CRM events, each
/// delivered once, signed, despite a failing first attempt.
#[tokio::test]
async fn a_hand_off_story_reaches_the_crm() {
    let receiver = Receiver::start(0, Mode::FailFirst(1), Duration::ZERO).await;
    let app = app_with_hooks(Backend::Sqlite, &receiver.url(), &[]).await;
    let hash = wismo_server::agents::hash_password("a long password").expect("hash");
    for (id, email, name) in [
        ("a_sam", "sam@example.com", "Sam"),
        ("a_kim", "kim@example.com", "Kim"),
    ] {
        app.state
            .sessions
            .db
            .create_agent(&wismo_store::NewAgent {
                id: id.into(),
                email: email.into(),
                name: name.into(),
                password_hash: hash.clone(),
                role: "agent".into(),
                max_chats: 3,
                languages: vec![],
                created_at: Utc::now(),
            })
            .await
            .expect("agent");
    }
    let res = app
        .client
        .post(app.url("/v1/agent/session"))
        .json(&json!({"email": "sam@example.com", "password": "a long password"}))
        .send()
        .await
        .expect("sign in");
    let token = res.json::<Value>().await.expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let conv = app.create().await;
    app.say(&conv, "I want to talk to a human").await;
    app.say(&conv, "you can email me at lee@example.com").await;
    let post = |path: &str, body: Value| {
        let req = app
            .client
            .post(app.url(&format!("/v1/agent/conversations/{}/{path}", conv.id)))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let res = req.send().await.expect("request");
            assert!(res.status().is_success(), "{}", res.status());
        }
    };
    post("accept", json!({})).await;
    post("messages", json!({"text": "Hello from Sam"})).await;
    post("notes", json!({"text": "internal only"})).await;
    post("transfer", json!({"agent_id": "a_kim"})).await;
    // Kim resolves it (Sam no longer can).
    let kim = app
        .client
        .post(app.url("/v1/agent/session"))
        .json(&json!({"email": "kim@example.com", "password": "a long password"}))
        .send()
        .await
        .expect("sign in")
        .json::<Value>()
        .await
        .expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let res = app
        .client
        .post(app.url(&format!("/v1/agent/conversations/{}/resolve", conv.id)))
        .bearer_auth(&kim)
        .json(&json!({"outcome": "reshipped", "tags": ["lost"]}))
        .send()
        .await
        .expect("resolve");
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/csat", conv.id)))
        .bearer_auth(&conv.token)
        .json(&json!({"score": 4}))
        .send()
        .await
        .expect("csat");
    assert_eq!(res.status(), 201);
    let want = [
        "handoff.requested",
        "case.contact",
        "handoff.assigned",
        "agent.message",
        "handoff.transferred",
        "conversation.resolved",
        "csat.submitted",
    ];
    wait_until(
        "every event delivered",
        Duration::from_secs(20),
        async || receiver.with(|l| l.accepted.len()) == want.len(),
    )
    .await;
    let (accepted, bad, hits) =
        receiver.with(|l| (l.accepted.clone(), l.bad_signatures, l.hits.clone()));
    assert_eq!(bad, 0);
    assert!(
        hits.values().all(|n| *n >= 2),
        "each event was retried once: {hits:?}"
    );
    let mut kinds = Vec::new();
    for bodies in accepted.values() {
        assert_eq!(bodies.len(), 1, "accepted exactly once");
        let v: Value = serde_json::from_str(&bodies[0]).expect("json body");
        assert_eq!(v["conversation_id"], conv.id.as_str());
        assert!(
            !bodies[0].contains("internal only"),
            "notes never leave wismo"
        );
        kinds.push((
            v["created_at"].as_str().unwrap_or("").to_string(),
            v["type"].as_str().unwrap_or("").to_string(),
            v["data"].clone(),
        ));
    }
    let types: BTreeSet<String> = kinds.iter().map(|(_, k, _)| k.clone()).collect();
    assert_eq!(
        types,
        want.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>()
    );
    let data = |kind: &str| {
        kinds
            .iter()
            .find(|(_, k, _)| k == kind)
            .map(|(_, _, d)| d.clone())
            .expect("event")
    };
    assert_eq!(data("handoff.requested")["reason"], "asked_for_human");
    assert_eq!(data("case.contact")["contact_email"], "lee@example.com");
    assert_eq!(data("handoff.assigned")["agent"]["name"], "Sam");
    assert_eq!(data("agent.message")["message"]["text"], "Hello from Sam");
    assert_eq!(data("handoff.transferred")["to"]["name"], "Kim");
    let resolved = data("conversation.resolved");
    assert_eq!(resolved["outcome"], "reshipped");
    assert_eq!(resolved["tags"], json!(["lost"]));
    assert_eq!(resolved["agent"]["name"], "Kim");
    assert_eq!(data("csat.submitted")["score"], 4);
}
