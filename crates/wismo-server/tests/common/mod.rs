//! `spawn_app`: a real wismo server on 127.0.0.1:0 with a fresh database —
//! an SQLite file in a new temp folder, or a new PostgreSQL database
//! `wismo_srv_<random>` (dropped afterwards, also after a failed assertion).
//! PostgreSQL is at `WISMO_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432`); when it cannot be reached the test
//! FAILS: CI must start it.
//!
//! The clock is frozen at the demo store's "now" (2026-11-24T12:00:00Z) so
//! answers about delivery dates are stable. The trained model is cached in
//! one shared folder, so only the first app of a run trains it.
#![allow(dead_code)]

pub mod replica;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sqlx::Connection;
use tokio::sync::oneshot;
use wismo_server::config::Layers;
use wismo_server::{AppState, Server};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

pub fn pg_base_url() -> String {
    std::env::var("WISMO_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
        .trim_end_matches('/')
        .to_string()
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let mixed = (nanos as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{mixed:016x}{n}")
}

/// The folder where the trained model is cached for every test app.
pub fn model_cache() -> PathBuf {
    std::env::temp_dir().join("wismo-server-test-model-cache")
}

struct DbGuard {
    dir: PathBuf,
    pg_name: Option<String>,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let Some(name) = self.pg_name.clone() else {
            return;
        };
        let base = pg_base_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut admin) =
                    sqlx::PgConnection::connect(&format!("{base}/postgres")).await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub addr: std::net::SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _db: DbGuard,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// With extra settings (`key`, `value`) on top of the test defaults.
pub async fn spawn_app_with(backend: Backend, settings: &[(&str, &str)]) -> TestApp {
    let suffix = unique_suffix();
    let dir = std::env::temp_dir().join(format!("wismo-server-test-{suffix}"));
    let (database_url, pg_name) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}/wismo.db?mode=rwc", dir.display()),
            None,
        ),
        Backend::Postgres => {
            let name = format!("wismo_srv_{suffix}");
            let base = pg_base_url();
            let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
                .await
                .unwrap_or_else(|e| {
                    panic!("PostgreSQL must be running at {base} for the tests (set WISMO_TEST_PG_URL): {e}")
                });
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("create the test database");
            let _ = admin.close().await;
            (format!("{base}/{name}"), Some(name))
        }
    };
    start_app(backend, database_url, DbGuard { dir, pg_name }, settings).await
}

/// A server on a database the test manages itself (`postgres://…` of a
/// [`replica::PgPair`]; never dropped here), with extra settings.
pub async fn spawn_app_on(database_url: &str, settings: &[(&str, &str)]) -> TestApp {
    let dir = std::env::temp_dir().join(format!("wismo-server-test-{}", unique_suffix()));
    let guard = DbGuard { dir, pg_name: None };
    start_app(Backend::Postgres, database_url.to_string(), guard, settings).await
}

async fn start_app(
    backend: Backend,
    database_url: String,
    guard: DbGuard,
    settings: &[(&str, &str)],
) -> TestApp {
    let mut layers = Layers::defaults();
    let cache = model_cache();
    let cache = cache.display().to_string();
    let base_settings = [
        ("listen", "127.0.0.1:0"),
        ("data_dir", cache.as_str()),
        ("database_url", database_url.as_str()),
        ("admin_token", ADMIN_TOKEN),
        ("now", "2026-11-24T12:00:00Z"),
    ];
    for (k, v) in base_settings.iter().chain(settings) {
        layers.flag(k, *v).expect("known setting");
    }
    let config = layers.build().expect("valid test config");
    let server = Server::start(config).await.expect("server starts");
    let addr = server.local_addr();
    let state = server.state();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    TestApp {
        backend,
        base: format!("http://{addr}"),
        addr,
        client: reqwest::Client::new(),
        state,
        database_url,
        shutdown: Some(tx),
        task: Some(task),
        _db: guard,
    }
}

/// A conversation as a client holds it.
#[derive(Debug, Clone)]
pub struct Conv {
    pub id: String,
    pub token: String,
    pub greeting: Vec<Value>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server the way SIGTERM does and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_server().await
    }

    /// Stops the server like [`TestApp::stop`] but keeps its database until
    /// this is dropped, so another app can start on it (`database_url`).
    pub async fn stop_server(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(t) => t.await.expect("server task"),
            None => Ok(()),
        }
    }

    /// `POST`s `body` as JSON with `token` as the bearer; (status, body).
    pub async fn post_json(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// An agent's sign-in attempt; (status, body).
    pub async fn sign_in_agent(&self, email: &str, password: &str) -> (u16, Value) {
        let res = self
            .client
            .post(self.url("/v1/agent/session"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("sign in");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `GET` an admin endpoint with the admin token; (status, body).
    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn create(&self) -> Conv {
        self.create_with(json!({})).await
    }

    pub async fn create_with(&self, body: Value) -> Conv {
        let res = self
            .client
            .post(self.url("/v1/conversations"))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 201, "create conversation");
        let v: Value = res.json().await.expect("json");
        Conv {
            id: v["id"].as_str().expect("id").to_string(),
            token: v["token"].as_str().expect("token").to_string(),
            greeting: v["messages"].as_array().expect("messages").clone(),
        }
    }

    /// Sends a message and returns (status, body).
    pub async fn say_raw(&self, conv: &Conv, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(self.url(&format!("/v1/conversations/{}/messages", conv.id)))
            .bearer_auth(&conv.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let v = res.json().await.unwrap_or(Value::Null);
        (status, v)
    }

    /// Sends a message that must succeed; returns the reply body.
    pub async fn say(&self, conv: &Conv, text: &str) -> Value {
        let (status, v) = self.say_raw(conv, json!({"text": text})).await;
        assert_eq!(status, 200, "{text:?} -> {v}");
        v
    }

    pub async fn transcript(&self, conv: &Conv) -> Value {
        let res = self
            .client
            .get(self.url(&format!("/v1/conversations/{}", conv.id)))
            .bearer_auth(&conv.token)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
        res.json().await.expect("json")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// All bot texts of a reply, joined.
pub fn replies(v: &Value) -> String {
    v["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The password of every agent account the tests make.
pub const AGENT_PASSWORD: &str = "correct horse battery";

/// An agent account to create.
pub struct AgentSpec<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    /// `agent` or `supervisor`.
    pub role: &'a str,
    pub max_chats: u32,
    pub languages: &'a [&'a str],
}

/// Creates an agent account and signs it in through the API; returns the
/// sign-in response's `Set-Cookie` header and JSON body.
pub async fn sign_up_agent(app: &TestApp, spec: AgentSpec<'_>) -> (String, Value) {
    let hash = wismo_server::agents::hash_password(AGENT_PASSWORD).expect("hash");
    app.state
        .sessions
        .db
        .create_agent(&wismo_store::NewAgent {
            id: spec.id.into(),
            email: spec.email.into(),
            name: spec.name.into(),
            password_hash: hash,
            role: spec.role.into(),
            max_chats: spec.max_chats,
            languages: spec.languages.iter().map(|s| s.to_string()).collect(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("create agent");
    let res = app
        .client
        .post(app.url("/v1/agent/session"))
        .json(&json!({"email": spec.email, "password": AGENT_PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), 200, "sign-in of {}", spec.email);
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (cookie, res.json().await.expect("json"))
}

/// The session token of a sign-in body.
pub fn token_of(body: &Value) -> String {
    body["token"].as_str().expect("token").to_string()
}

/// An open Server-Sent Events stream.
pub struct Sse {
    res: reqwest::Response,
    buf: String,
    /// The id of the last event read ('' before one had an id).
    #[allow(dead_code)]
    pub last_id: String,
}

impl Sse {
    pub async fn open(app: &TestApp, token: &str) -> Sse {
        Sse::resume(app, token, None).await
    }

    /// Opens the stream with a `Last-Event-ID` header.
    pub async fn resume(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = app
            .client
            .get(app.url("/v1/agent/stream"))
            .header("cookie", format!("wismo_agent={token}"));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.expect("stream");
        assert_eq!(res.status(), 200);
        assert!(res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream")));
        Sse {
            res,
            buf: String::new(),
            last_id: String::new(),
        }
    }

    /// The next event named `name` (others are skipped), within 10 s.
    pub async fn next(&mut self, name: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = "message";
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    } else if let Some(id) = line.strip_prefix("id:") {
                        self.last_id = id.trim().to_string();
                    }
                }
                if event == name {
                    return serde_json::from_str(&data).expect("event json");
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {name} event within 10 s"))
                .expect("stream chunk")
                .expect("stream still open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Waits for a queue snapshot that satisfies `ok`.
    pub async fn queue_until(&mut self, ok: impl Fn(&Value) -> bool) -> Value {
        loop {
            let q = self.next("queue").await;
            if ok(&q) {
                return q;
            }
        }
    }
}
