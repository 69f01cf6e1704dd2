//! The security event log (`security_log`): every kind of security event,
//! driven through the HTTP API, read back as JSON lines of schema
//! `wismo.security/1` — with no email, message text, password or token.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{sign_up_agent, spawn_app_with, token_of, AgentSpec, Backend, TestApp, ADMIN_TOKEN};
use serde_json::{json, Value};

const FIELDS: [&str; 9] = [
    "schema", "ts", "event", "severity", "ip", "subject", "path", "scope", "detail",
];

fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!(
            "wismo-seclog-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ))
        .join(name)
}

/// The log's lines, parsed, once there are at least `n` (fails after 10 s).
async fn lines(path: &Path, n: usize) -> (String, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let parsed: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
            .collect();
        if parsed.len() >= n {
            return (text, parsed);
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} lines, have {}:\n{text}",
            parsed.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn check_schema(line: &Value) {
    let obj = line.as_object().expect("an object");
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, FIELDS.into_iter().collect(), "{line}");
    assert_eq!(line["schema"], "wismo.security/1");
    let ts = line["ts"].as_str().expect("ts");
    let at = chrono::DateTime::parse_from_rfc3339(ts).expect("RFC 3339 ts");
    let age = chrono::Utc::now().signed_duration_since(at);
    assert!(
        age.num_seconds().abs() < 120,
        "real time, not the frozen clock: {ts}"
    );
    assert!(
        ["notice", "warning", "critical"].contains(&line["severity"].as_str().unwrap_or("")),
        "{line}"
    );
    for k in ["event", "ip", "subject", "path", "scope", "detail"] {
        assert!(line[k].is_string(), "{k} is a string: {line}");
    }
}

fn find<'a>(all: &'a [Value], event: &str) -> Vec<&'a Value> {
    all.iter().filter(|l| l["event"] == event).collect()
}

async fn status_code(res: reqwest::Response) -> (u16, String) {
    let s = res.status().as_u16();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    (s, v["code"].as_str().unwrap_or_default().to_string())
}

async fn get_with(app: &TestApp, path: &str, token: &str) -> (u16, String) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    status_code(res).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_security_event_is_a_json_line_without_personal_data() {
    let path = log_path("security.jsonl");
    let path_s = path.display().to_string();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("security_log", path_s.as_str()),
            ("sign_in_lockout", "2/15m"),
            ("rate_limit_conversation", "3/1m"),
            // Many deliberate refusals from one IP; blocking has its own test.
            ("abuse_block", "off"),
        ],
    )
    .await;
    let mut secrets: Vec<String> = vec![ADMIN_TOKEN.to_string(), common::AGENT_PASSWORD.into()];

    // Failed sign-ins, then the lockout, then a refusal while locked.
    let owner_body = sign_up_agent(
        &app,
        AgentSpec {
            id: "a_owner",
            email: "owner.person@shop.example",
            name: "Owner",
            role: "agent",
            max_chats: 5,
            languages: &[],
        },
    )
    .await
    .1;
    let owner = token_of(&owner_body);
    let other_body = sign_up_agent(
        &app,
        AgentSpec {
            id: "a_other",
            email: "other.person@shop.example",
            name: "Other",
            role: "agent",
            max_chats: 5,
            languages: &[],
        },
    )
    .await
    .1;
    let other = token_of(&other_body);
    secrets.extend([owner.clone(), other.clone()]);
    for password in [
        "hunter2-wrong-one",
        "hunter2-wrong-two",
        common::AGENT_PASSWORD,
    ] {
        let res = app
            .client
            .post(app.url("/v1/agent/session"))
            .json(&json!({"email": "owner.person@shop.example", "password": password}))
            .send()
            .await
            .expect("sign in");
        let (s, code) = status_code(res).await;
        let want = if password == common::AGENT_PASSWORD {
            (429, "rate_limited")
        } else {
            (401, "invalid_credentials")
        };
        assert_eq!((s, code.as_str()), want);
    }
    secrets.extend(["hunter2-wrong-one".into(), "hunter2-wrong-two".into()]);

    // A forged admin token and an unknown API key: 401.
    let forged_admin = "forged-admin-token-0123456789";
    let forged_key = "wk_forgedforgedforgedforgedforged";
    secrets.extend([forged_admin.into(), forged_key.into()]);
    assert_eq!(
        get_with(&app, "/v1/admin/webhooks", forged_admin).await,
        (401, "admin_unauthorized".into())
    );
    assert_eq!(
        get_with(&app, "/v1/admin/webhooks", forged_key).await.0,
        401
    );

    // Permission denials: an agent on a supervisor endpoint, a key without
    // the scope, an agent on someone else's conversation.
    assert_eq!(
        get_with(&app, "/v1/admin/resolutions", &other).await,
        (403, "forbidden".into())
    );
    let (key, key_id) = wismo_server::api::new_api_key().expect("key");
    app.state
        .sessions
        .db
        .create_api_key(
            &key_id,
            "importer",
            &wismo_server::sessions::token_hash(&key),
            &["import".to_string()],
            chrono::Utc::now(),
        )
        .await
        .expect("key");
    secrets.push(key.clone());
    assert_eq!(
        get_with(&app, "/v1/admin/resolutions", &key).await,
        (403, "insufficient_scope".into())
    );
    let handed = app.create().await;
    secrets.push(handed.token.clone());
    app.say(&handed, "I want to talk to a human").await;
    // Queued and nobody's yet: replying needs accepting it first.
    let res = app
        .client
        .post(app.url(&format!("/v1/agent/conversations/{}/messages", handed.id)))
        .bearer_auth(&other)
        .json(&json!({"text": "secret agent reply text"}))
        .send()
        .await
        .expect("reply");
    assert_eq!(status_code(res).await, (403, "not_assigned".into()));

    // A failed order verification, then the conversation's rate limit.
    let conv = app.create().await;
    secrets.push(conv.token.clone());
    app.say(&conv, "where is my order #1001").await;
    app.say(&conv, "nobody.at.all@example.com").await;
    app.say(&conv, "hello there").await;
    let (s, v) = app.say_raw(&conv, json!({"text": "fourth message"})).await;
    assert_eq!((s, v["code"].as_str()), (429, Some("rate_limited")), "{v}");

    let (text, all) = lines(&path, 11).await;
    for l in &all {
        check_schema(l);
        assert_eq!(l["ip"], "127.0.0.1", "{l}");
    }
    // Nothing personal, nothing secret.
    for needle in secrets.iter().map(String::as_str).chain([
        "@",
        "shop.example",
        "owner.person",
        "nobody.at.all",
        "where is my order",
        "talk to a human",
        "secret agent reply",
        "hello there",
        "fourth message",
    ]) {
        assert!(!text.contains(needle), "{needle:?} leaked into:\n{text}");
    }

    let failed = find(&all, "agent_sign_in_failed");
    assert_eq!(failed.len(), 2, "{text}");
    let subject = failed[0]["subject"].as_str().expect("subject");
    assert!(
        subject.starts_with("email:") && subject.len() == 22,
        "{subject}"
    );
    assert_eq!(failed[0]["path"], "/v1/agent/session");
    assert_eq!(failed[0]["severity"], "warning");
    let locked = find(&all, "agent_sign_in_locked");
    assert_eq!(locked.len(), 1, "{text}");
    assert_eq!(locked[0]["subject"], subject);
    assert_eq!(locked[0]["severity"], "critical");

    let limited = find(&all, "rate_limited");
    let scopes: Vec<&str> = limited.iter().filter_map(|l| l["scope"].as_str()).collect();
    assert_eq!(scopes, ["sign_in_locked", "conversation"], "{text}");
    assert!(limited.iter().all(|l| l["severity"] == "notice"));
    assert!(limited.iter().all(|l| l["detail"] == "rate_limited"));
    assert_eq!(limited[1]["subject"], conv.id.as_str());

    let unauthorized = find(&all, "unauthorized");
    assert_eq!(unauthorized.len(), 2, "{text}");
    assert!(unauthorized
        .iter()
        .all(|l| l["path"] == "/v1/admin/webhooks" && l["detail"] == "admin_unauthorized"));

    let forbidden = find(&all, "forbidden");
    let details: Vec<&str> = forbidden
        .iter()
        .filter_map(|l| l["detail"].as_str())
        .collect();
    assert_eq!(
        details,
        ["forbidden", "insufficient_scope", "not_assigned"],
        "{text}"
    );
    assert_eq!(forbidden[2]["subject"], handed.id.as_str());
    assert_eq!(
        forbidden[2]["path"],
        format!("/v1/agent/conversations/{}/messages", handed.id)
    );

    let verification = find(&all, "verification_failed");
    assert_eq!(verification.len(), 1, "{text}");
    assert_eq!(verification[0]["subject"], conv.id.as_str());
    assert_eq!(verification[0]["scope"], "verification");

    // The in-memory events and the file agree.
    assert_eq!(app.state.security.recent_events().len(), all.len());
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abusive_ip_is_blocked_and_the_block_is_a_critical_event() {
    let path = log_path("nested/dir/security.jsonl");
    let path_s = path.display().to_string();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("security_log", path_s.as_str()), ("abuse_block", "3/1m")],
    )
    .await;
    let conv = app.create().await;
    for _ in 0..3 {
        let res = app
            .client
            .get(app.url(&format!("/v1/conversations/{}", conv.id)))
            .bearer_auth("forged-conversation-token")
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 401);
    }
    let res = app
        .client
        .get(app.url(&format!("/v1/conversations/{}", conv.id)))
        .bearer_auth(&conv.token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 429, "blocked now");

    let (text, all) = lines(&path, 4).await;
    all.iter().for_each(check_schema);
    assert!(!text.contains("forged-conversation-token"), "{text}");
    assert!(!text.contains(&conv.token), "{text}");
    let events: Vec<&str> = all.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(
        events,
        ["unauthorized", "unauthorized", "unauthorized", "ip_blocked"],
        "{text}"
    );
    let blocked = &all[3];
    assert_eq!(blocked["severity"], "critical");
    assert_eq!(blocked["subject"], "127.0.0.1");
    assert_eq!(blocked["scope"], "blocked");
    assert_eq!(blocked["detail"], "abuse_block");
    assert_eq!(all[0]["detail"], "unauthorized");
    assert_eq!(all[0]["subject"], conv.id.as_str());
    let _ = std::fs::remove_dir_all(
        path.parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .expect("dir"),
    );
}

#[tokio::test]
async fn an_unwritable_security_log_stops_the_start() {
    let dir = log_path("x");
    let dir = dir.parent().expect("dir").to_path_buf();
    std::fs::create_dir_all(&dir).expect("dir");
    // A folder where the file should be.
    let cache = common::model_cache().display().to_string();
    let db = format!("sqlite://{}/wismo.db?mode=rwc", dir.display());
    let target = dir.display().to_string();
    let mut layers = wismo_server::config::Layers::defaults();
    for (k, v) in [
        ("listen", "127.0.0.1:0"),
        ("data_dir", cache.as_str()),
        ("database_url", db.as_str()),
        ("security_log", target.as_str()),
    ] {
        layers.flag(k, v).expect("setting");
    }
    let config = layers.build().expect("config");
    let err = match wismo_server::Server::start(config).await {
        Ok(_) => panic!("must not start"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("cannot open security_log"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
