//! What the cluster failure tests share: `scripts/cluster` behind a Drop
//! guard, the binary they run, shoppers' REST calls and WebSocket watchers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `wismo` binary under test: `WISMO_TEST_BIN` when set (a copy that
/// other builds cannot overwrite meanwhile), else cargo's.
pub fn wismo_bin() -> PathBuf {
    std::env::var_os("WISMO_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wismo")))
}

/// A first port for this test process (HAProxy; the instances take the
/// next ones), spread by PID so that parallel runs rarely collide.
pub fn cluster_port() -> u16 {
    // Below Linux's ephemeral range (32768 and up by default): a port there
    // may be taken by any outgoing connection (one CI run lost HAProxy's
    // bind to one). Up to port + 91 is used (instances, a replica pair).
    let port = 20_000 + (std::process::id() % 1_200) * 10;
    u16::try_from(port).expect("a port")
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A cluster started by `scripts/cluster up`; stopped (by the PIDs it
/// recorded) however the test ends.
pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/cluster"))
            .arg("down")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cluster {
    /// `n` instances behind HAProxy; `env` reaches every instance (and is
    /// kept for restarts).
    pub fn up(tag: &str, n: usize, env: &[(&str, &str)]) -> Cluster {
        let dir = std::env::temp_dir().join(format!("wismo-{tag}-{}", std::process::id()));
        let port = cluster_port();
        let mut cmd = Command::new(root().join("scripts/cluster"));
        cmd.args(["up", &n.to_string()])
            .arg(&dir)
            .env("CLUSTER_BIN", wismo_bin())
            .env("CLUSTER_PORT", port.to_string());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let up = cmd.status().expect("scripts/cluster runs");
        let cluster = Cluster { dir, port };
        if !up.success() {
            panic!(
                "scripts/cluster up failed\nw1.log:\n{}\nhaproxy.log:\n{}",
                cluster.log("w1"),
                cluster.log("haproxy")
            );
        }
        cluster
    }

    /// HAProxy's URL.
    pub fn front(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Instance `i`'s own URL (`w1` is 1).
    pub fn instance(&self, i: u16) -> String {
        format!("http://127.0.0.1:{}", self.port + i)
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// The PID the harness recorded for `name` (`w1`, `haproxy`, …).
    pub fn pid(&self, name: &str) -> String {
        let pids = std::fs::read_to_string(self.dir.join("pids")).expect("pids");
        pids.lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some(name)).then(|| f.next().map(str::to_string))?
            })
            .expect("a recorded pid")
    }

    /// Sends `signal` (`-9`, `-TERM`) to `name`'s recorded PID.
    pub fn signal(&self, name: &str, signal: &str) {
        let pid = self.pid(name);
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill {signal} {name} ({pid})");
    }

    /// Whether `name`'s recorded process still runs.
    pub fn alive(&self, name: &str) -> bool {
        Command::new("kill")
            .args(["-0", &self.pid(name)])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `scripts/cluster restart`: stops `name` if it runs, starts it with
    /// the cluster's settings plus `env`, and waits until it is ready.
    pub fn restart(&self, name: &str, env: &[(&str, &str)]) {
        let mut cmd = Command::new(root().join("scripts/cluster"));
        cmd.arg("restart").arg(&self.dir).arg(name);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let ok = cmd.status().expect("scripts/cluster runs");
        assert!(
            ok.success(),
            "restarting {name} failed:\n{}",
            self.log(name)
        );
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// POSTs `body` until it is answered 2xx (connection errors and 5xx are
/// retried with the same body), within `within`.
pub async fn post_within(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let mut req = client.post(url).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return r.json().await.expect("json"),
            Ok(r) if r.status().is_client_error() => panic!("{url}: {}", r.status()),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "{url}: no answer within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`post_within`] 15 s.
pub async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Value {
    post_within(client, url, token, body, Duration::from_secs(15)).await
}

/// A new conversation through `base`: (id, token).
pub async fn create(client: &reqwest::Client, base: &str) -> (String, String) {
    let created = post(
        client,
        &format!("{base}/v1/conversations"),
        None,
        &json!({}),
    )
    .await;
    (
        created["id"].as_str().expect("id").to_string(),
        created["token"].as_str().expect("token").to_string(),
    )
}

/// The conversation as `GET /v1/conversations/{id}` shows it.
pub async fn transcript(client: &reqwest::Client, base: &str, id: &str, token: &str) -> Vec<Value> {
    let t: Value = client
        .get(format!("{base}/v1/conversations/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("transcript")
        .json()
        .await
        .expect("json");
    t["messages"].as_array().expect("messages").clone()
}

/// A message's numeric id.
pub fn id_of(m: &Value) -> i64 {
    m["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("numeric id in {m}"))
}

/// The message ids of a turn's response: the shopper's and the replies.
pub fn ids_of(reply: &Value) -> Vec<i64> {
    let mut ids = vec![id_of(&reply["user_message"])];
    ids.extend(
        reply["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(id_of),
    );
    ids
}

/// What one WebSocket watcher saw.
#[derive(Default)]
pub struct Seen {
    /// Message ids in the order received, with when.
    pub ids: Vec<(i64, Instant)>,
    /// The close code of each connection that ended (`None`: no close frame).
    pub closes: Vec<Option<u16>>,
    /// Connections made.
    pub connections: usize,
}

impl Seen {
    pub fn last(&self) -> i64 {
        self.ids.last().map_or(0, |(id, _)| *id)
    }

    pub fn received(&self, id: i64) -> Option<Instant> {
        self.ids.iter().find(|(i, _)| *i == id).map(|(_, t)| *t)
    }
}

/// Watches conversation `id` over WebSockets at `base` (`ws://…`) until
/// `stop`: authorises with its first frame, asks for everything after the
/// last id it saw (so a reconnect fills the gap), records every message,
/// and reconnects whenever the connection ends.
pub async fn watch(
    base: String,
    id: String,
    token: String,
    seen: Arc<Mutex<Seen>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let Ok(Ok(mut ws)) =
            tokio::time::timeout(Duration::from_secs(3), open_ws(&base, &id)).await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let after = seen.lock().expect("seen").last();
        let auth = json!({"type": "auth", "token": token, "after": after.to_string()});
        if ws
            .send(Message::Text(auth.to_string().into()))
            .await
            .is_err()
        {
            continue;
        }
        seen.lock().expect("seen").connections += 1;
        let close = loop {
            let frame = tokio::select! {
                f = ws.next() => f,
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    return;
                }
            };
            match frame {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("JSON frame");
                    if v["type"] == "message" {
                        let m = id_of(&v["message"]);
                        seen.lock().expect("seen").ids.push((m, Instant::now()));
                    }
                }
                Some(Ok(Message::Close(c))) => break c.map(|c| u16::from(c.code)),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break None,
            }
        };
        seen.lock().expect("seen").closes.push(close);
    }
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket connection to conversation `id` at `base` (`ws://…`) with
/// the `wismo.v1` subprotocol, not yet authorised.
pub async fn open_ws(base: &str, id: &str) -> Result<Ws, Box<dyn std::error::Error + Send + Sync>> {
    let mut req = format!("{base}/v1/conversations/{id}/ws").into_client_request()?;
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("wismo.v1"),
    );
    connect(req).await
}

/// A WebSocket handshake over a new TCP connection to the request's host.
async fn connect(
    req: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<Ws, Box<dyn std::error::Error + Send + Sync>> {
    let uri = req.uri();
    let addr = format!(
        "{}:{}",
        uri.host().ok_or("no host")?,
        uri.port_u16().ok_or("no port")?
    );
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let (ws, _) = tokio_tungstenite::client_async(req, tcp).await?;
    Ok(ws)
}

/// Waits until `seen` holds `want` (ids), up to `within`.
pub async fn wait_seen(seen: &Mutex<Seen>, want: &[i64], within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if want
            .iter()
            .all(|id| seen.lock().expect("seen").received(*id).is_some())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The message ids of a transcript.
pub fn transcript_ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(id_of).collect()
}

/// `GET /readyz` of `base`: status code and body.
pub async fn readyz(client: &reqwest::Client, base: &str) -> (u16, Value) {
    match client.get(format!("{base}/readyz")).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}
