//! The engine's conversation tests also run through the HTTP API: every
//! shipped script (`wismo_core::dialogue::script::SHIPPED`), every
//! conversation in it, on SQLite and PostgreSQL, checked turn by turn with
//! the same [`script::check_turn`] as `script::run` uses against the engine.
//!
//! Like the direct run (`wismo-core/tests/dialogue.rs`), each script file
//! gets a fresh store — here one app per backend per file — and its
//! conversations run one after another, in file order: they share that
//! store, and some change it (order 1048 is cancelled in `actions.yml`
//! before a later conversation asks to change its items), so running them
//! in parallel could change the answers. Files and backends are independent
//! apps, so those run concurrently.
//!
//! Replies are checked against the script's expectations, not against the
//! exact wording: the engine picks a template's variant from the
//! conversation id, and the server's ids are random.

mod common;

use chrono::{DateTime, Utc};
use common::{spawn_app_with, Backend, TestApp, ADMIN_TOKEN, BACKENDS};
use serde_json::{json, Value};
use wismo_core::dialogue::script::{self, Script, ScriptConversation};

/// The test apps' frozen clock (see `common::spawn_app_with`).
const TEST_APP_NOW: &str = "2026-11-24T12:00:00Z";

/// One conversation's result, as `script::Outcome` but with where it ran.
struct Outcome {
    file: &'static str,
    backend: Backend,
    name: String,
    failures: Vec<String>,
    transcript: Vec<String>,
}

/// What one script file on one backend produced.
#[derive(Default)]
struct FileResult {
    outcomes: Vec<Outcome>,
    skipped: usize,
}

fn texts(v: &Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Creates the conversation as `script::run` sets it up: the script's
/// locale, and a signed-in customer (which only the admin token may name).
async fn create(app: &TestApp, c: &ScriptConversation) -> Result<(String, String, Value), String> {
    let mut body = json!({});
    if let Some(l) = &c.locale {
        body["locale"] = json!(l);
    }
    let mut req = app.client.post(app.url("/v1/conversations"));
    if let Some(email) = &c.customer {
        body["customer"] = json!({ "email": email });
        req = req.bearer_auth(ADMIN_TOKEN);
    }
    let res = req
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("create {body}: {e}"))?;
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    if status != 201 {
        return Err(format!("create {body}: status {status}: {v}"));
    }
    let id = v["id"].as_str().ok_or(format!("create: no id: {v}"))?;
    let token = v["token"]
        .as_str()
        .ok_or(format!("create: no token: {v}"))?;
    Ok((id.to_string(), token.to_string(), v))
}

/// `script::run`, over HTTP.
async fn run_over_http(app: &TestApp, file: &'static str, c: &ScriptConversation) -> Outcome {
    let mut outcome = Outcome {
        file,
        backend: app.backend,
        name: c.name.clone(),
        failures: Vec::new(),
        transcript: Vec::new(),
    };
    let (id, token, created) = match create(app, c).await {
        Ok(x) => x,
        Err(e) => {
            outcome.failures.push(e);
            return outcome;
        }
    };
    for m in texts(&created) {
        outcome.transcript.push(format!("bot> {m}"));
    }
    let url = app.url(&format!("/v1/conversations/{id}/messages"));
    for (i, t) in c.turns.iter().enumerate() {
        outcome.transcript.push(format!("you> {}", t.user));
        let sent = app
            .client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({ "text": t.user }))
            .send()
            .await;
        let res = match sent {
            Ok(r) => r,
            Err(e) => {
                outcome.failures.push(format!(
                    "turn {} (line {}): request failed: {e}",
                    i + 1,
                    t.line
                ));
                return outcome;
            }
        };
        let status = res.status().as_u16();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if status != 200 {
            // Later turns would answer a conversation the script never had.
            outcome.failures.push(format!(
                "turn {} (line {}): status {status}: {v}",
                i + 1,
                t.line
            ));
            return outcome;
        }
        let replies = texts(&v);
        for r in &replies {
            outcome.transcript.push(format!("bot> {r}"));
        }
        let intent = v["nlu"]["intent"]["name"].as_str().unwrap_or("");
        let confidence = v["nlu"]["intent"]["confidence"].as_f64().unwrap_or(0.0) as f32;
        let handoff = match v["handoff"]["status"].as_str() {
            Some("none") => None,
            // A requested hand-off has a reason; a missing one fails loudly.
            _ => Some(v["handoff"]["reason"].as_str().unwrap_or("(no reason)")),
        };
        let refs: Vec<&str> = replies.iter().map(String::as_str).collect();
        outcome.failures.extend(script::check_turn(
            t,
            i,
            &refs,
            (intent, confidence),
            handoff,
        ));
    }
    outcome
}

/// The clock the direct run uses for a script.
fn script_now(s: &Script) -> DateTime<Utc> {
    s.now.unwrap_or_else(wismo_core::store::memory::demo_now)
}

/// One script file on one backend: its own app, its conversations in order.
async fn run_file(backend: Backend, file: &'static str, src: &'static str) -> FileResult {
    let s = script::parse(src, file).unwrap_or_else(|e| panic!("shipped script parses: {e}"));
    if s.orders.is_some() || s.knowledge.is_some() {
        eprintln!(
            "SKIPPED {file} on {backend:?}: it sets `orders:` or `knowledge:`, which the \
             server cannot load per script (the HTTP run uses the demo store and the built-in \
             articles)"
        );
        return FileResult {
            outcomes: Vec::new(),
            skipped: 1,
        };
    }
    let test_now: DateTime<Utc> = TEST_APP_NOW.parse().expect("valid time");
    let now = script_now(&s);
    let now_text = now.to_rfc3339();
    let settings: Vec<(&str, &str)> = if now == test_now {
        Vec::new()
    } else {
        vec![("now", now_text.as_str())]
    };
    let app = spawn_app_with(backend, &settings).await;
    let mut outcomes = Vec::with_capacity(s.conversations.len());
    for c in &s.conversations {
        outcomes.push(run_over_http(&app, file, c).await);
    }
    app.stop().await.expect("the server stops cleanly");
    FileResult {
        outcomes,
        skipped: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_conversation_passes_through_the_http_api() {
    let jobs = BACKENDS.iter().flat_map(|&b| {
        script::SHIPPED
            .iter()
            .map(move |&(file, src)| run_file(b, file, src))
    });
    let results = futures_util::future::join_all(jobs).await;

    let expected: usize = script::SHIPPED
        .iter()
        .map(|(file, src)| {
            script::parse(src, file)
                .map(|s| s.conversations.len())
                .unwrap_or(0)
        })
        .sum::<usize>()
        * BACKENDS.len();
    let skipped: usize = results.iter().map(|r| r.skipped).sum();
    let outcomes: Vec<&Outcome> = results.iter().flat_map(|r| &r.outcomes).collect();
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.failures.is_empty())
        .map(|o| {
            format!(
                "{} ({}, {:?}):\n  {}\n  {}",
                o.name,
                o.file,
                o.backend,
                o.failures.join("\n  "),
                o.transcript.join("\n  ")
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} conversations failed over HTTP:\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n\n")
    );
    assert_eq!(
        skipped, 0,
        "shipped scripts set `orders:`/`knowledge:`; run them here by loading those into the app"
    );
    assert!(expected > 0, "there are shipped conversations");
    assert_eq!(
        outcomes.len(),
        expected,
        "every conversation ran on every backend"
    );
}
