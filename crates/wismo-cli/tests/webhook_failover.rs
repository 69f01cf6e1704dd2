//! Failure test T7: the webhook dispatcher killed mid-batch. A `wismo
//! serve` process delivers case events to a slow receiver and is killed
//! with SIGKILL while its deliveries are in flight; a second process on the
//! same database takes over once the dead one's leases run out. Every event
//! is still delivered at least once, each conversation's events arrive in
//! order, and a duplicate carries the same event id and body.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const CONVERSATIONS: usize = 6;
const AGENT_MESSAGES: usize = 4;
/// How long the receiver takes to answer (deliveries stay in flight).
const RECEIVER_DELAY: Duration = Duration::from_millis(300);
const PASSWORD: &str = "a very good password";

fn bin() -> PathBuf {
    std::env::var_os("WISMO_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wismo")))
}

/// A temp folder, removed at the end; the processes started, killed.
struct Run {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request the receiver got: the event id header and the body.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    body: Value,
}

/// What the receiver got, and how many requests it is answering now.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Received>>,
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Receiver {
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A webhook receiver that answers 200 after [`RECEIVER_DELAY`] (and takes
/// the event even when the sender is gone by then).
async fn receiver() -> (String, Arc<Receiver>) {
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let log = Arc::new(Receiver::default());
    let got = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let got = got.clone();
            tokio::spawn(async move {
                // Keep-alive: several requests per connection.
                loop {
                    let Some(req) = read_request(&mut sock).await else {
                        return;
                    };
                    got.in_flight.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(RECEIVER_DELAY).await;
                    got.got.lock().unwrap_or_else(|p| p.into_inner()).push(req);
                    got.in_flight.fetch_sub(1, Ordering::SeqCst);
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if sock.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, log)
}

/// One HTTP/1.1 request with a content-length body.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let len: usize = header("content-length")?.parse().ok()?;
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..head_end + len]).ok()?;
    Some(Received {
        id: header("wismo-event-id")?,
        body,
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wismo(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wismo starts");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("wismo runs")
}

/// Starts `wismo serve` on `port` over `data`, delivering to `hook`.
fn serve(data: &Path, port: u16, hook: &str, log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log file");
    Command::new(bin())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("WISMO_WEBHOOK_URLS", hook)
        .env("WISMO_WEBHOOK_SECRET", "whsec-t7-0123456789abcdef")
        .env("WISMO_WEBHOOK_TIMEOUT", "1s")
        .env("WISMO_WEBHOOK_RETRY_BASE", "100ms")
        .env("WISMO_RATE_LIMIT_IP", "off")
        .env("WISMO_RATE_LIMIT_CONVERSATION", "off")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("wismo serve starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{base} not ready within 60 s: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post(client: &reqwest::Client, url: &str, auth: Option<&str>, body: Value) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = auth {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

/// One outbox row for the receiver.
struct Row {
    id: i64,
    event: String,
    conversation: String,
    attempts: i64,
    delivered: bool,
}

/// The outbox rows for the receiver, in the order they were written.
async fn outbox(db: &Path, target: &str) -> Vec<Row> {
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("database");
    let rows: Vec<(i64, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, event_id, conversation_id, attempts, delivered_at FROM outbox \
         WHERE target = ?1 ORDER BY id",
    )
    .bind(target)
    .fetch_all(&mut conn)
    .await
    .expect("outbox rows");
    rows.into_iter()
        .map(|(id, event, conversation, attempts, d)| Row {
            id,
            event,
            conversation,
            attempts,
            delivered: d.is_some(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn t7_a_killed_dispatcher_loses_no_event_and_keeps_each_conversations_order() {
    let dir = std::env::temp_dir().join(format!("wismo-t7-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut run = Run {
        dir: dir.clone(),
        children: Vec::new(),
    };
    let data = dir.join("data");
    let data_s = data.display().to_string();
    let o = wismo(&["migrate", "--data-dir", &data_s], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = wismo(
        &[
            "agents",
            "add",
            "--data-dir",
            &data_s,
            "--email",
            "tess@example.com",
            "--name",
            "Tess",
            "--max-chats",
            "50",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let (hook, receiver) = receiver().await;
    let client = reqwest::Client::new();
    let (pa, pb) = (free_port(), free_port());
    let (log_a, log_b) = (dir.join("a.log"), dir.join("b.log"));
    run.children.push(serve(&data, pa, &hook, &log_a));
    let a = format!("http://127.0.0.1:{pa}");
    wait_ready(&client, &a, &log_a).await;

    // The agent signs in; shoppers ask for a person; the agent accepts each
    // and writes to them. A queues the events and starts delivering them.
    let session = post(
        &client,
        &format!("{a}/v1/agent/session"),
        None,
        json!({"email": "tess@example.com", "password": PASSWORD}),
    )
    .await;
    let agent = session["token"].as_str().expect("agent token").to_string();
    let mut conversations = Vec::new();
    for _ in 0..CONVERSATIONS {
        let c = post(&client, &format!("{a}/v1/conversations"), None, json!({})).await;
        let id = c["id"].as_str().expect("id").to_string();
        let token = c["token"].as_str().expect("token").to_string();
        post(
            &client,
            &format!("{a}/v1/conversations/{id}/messages"),
            Some(&token),
            json!({"text": "I want to talk to a human"}),
        )
        .await;
        conversations.push(id);
    }
    for id in &conversations {
        post(
            &client,
            &format!("{a}/v1/agent/conversations/{id}/accept"),
            Some(&agent),
            json!({}),
        )
        .await;
    }
    for i in 0..AGENT_MESSAGES {
        for id in &conversations {
            post(
                &client,
                &format!("{a}/v1/agent/conversations/{id}/messages"),
                Some(&agent),
                json!({"text": format!("update {i} on your case")}),
            )
            .await;
        }
    }

    // Kill A (SIGKILL) while its requests are at the receiver.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.got().len() < CONVERSATIONS || receiver.in_flight() == 0 {
        assert!(Instant::now() < deadline, "no deliveries in flight");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = &mut run.children[0];
    killed.kill().expect("SIGKILL instance A");
    killed.wait().expect("A is gone");
    let killed_at = Instant::now();

    // B starts on the same database and delivers everything, A's leased
    // rows after their lease (3 × 1 s).
    run.children.push(serve(&data, pb, &hook, &log_b));
    let b = format!("http://127.0.0.1:{pb}");
    wait_ready(&client, &b, &log_b).await;
    let db = data.join("wismo.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = outbox(&db, &hook).await;
        let delivered = rows.iter().filter(|r| r.delivered).count();
        if !rows.is_empty() && delivered == rows.len() {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} of {} delivered after 60 s",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = killed_at.elapsed();
    let expected = CONVERSATIONS * (2 + AGENT_MESSAGES);
    assert_eq!(rows.len(), expected, "every case event is in the outbox");
    assert!(
        rows.iter().any(|r| r.attempts >= 2),
        "the kill interrupted deliveries: some row needed a second attempt"
    );

    let got = receiver.got();
    // Every event at least once; a duplicate is the same event, byte for byte.
    let mut first_body: BTreeMap<&str, &Value> = BTreeMap::new();
    for r in &got {
        assert_eq!(
            r.body["id"],
            r.id.as_str(),
            "the header names the body's event"
        );
        let seen = first_body.entry(&r.id).or_insert(&r.body);
        assert_eq!(*seen, &r.body, "a duplicate of {} differs", r.id);
    }
    let ids: BTreeSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    for r in &rows {
        assert!(
            ids.contains(r.event.as_str()),
            "{} was never delivered",
            r.event
        );
    }
    // Per conversation: the order they were emitted, each one repeated at
    // most right after itself (a redelivery), never out of order.
    let position: BTreeMap<&str, (&str, i64)> = rows
        .iter()
        .map(|r| (r.event.as_str(), (r.conversation.as_str(), r.id)))
        .collect();
    for conv in &conversations {
        let emitted: Vec<&str> = rows
            .iter()
            .filter(|r| &r.conversation == conv)
            .map(|r| r.event.as_str())
            .collect();
        let mut arrived: Vec<&str> = got
            .iter()
            .filter(|r| {
                position
                    .get(r.id.as_str())
                    .is_some_and(|(c, _)| *c == conv.as_str())
            })
            .map(|r| r.id.as_str())
            .collect();
        arrived.dedup();
        assert_eq!(
            arrived, emitted,
            "conversation {conv}: out of order or repeated later"
        );
    }
    let duplicates = got.len() - ids.len();
    assert!(
        duplicates >= 1,
        "the interrupted deliveries were sent again"
    );
    eprintln!(
        "T7: {} events, {} deliveries, {duplicates} duplicate(s); all delivered {took:?} after the kill",
        rows.len(),
        got.len()
    );
}
