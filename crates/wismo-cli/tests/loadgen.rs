//! `wismo loadgen` run as a user runs it, against a small fake server inside
//! the test: hand-written HTTP/1.1 with keep-alive (message answers are
//! chunked and written in two pieces; every fifth request on a connection is
//! answered with `Connection: close`) and a WebSocket endpoint.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the fake server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    requests: AtomicU64,
    conversations: AtomicU64,
    messages: AtomicU64,
    websockets: AtomicU64,
}

struct FakeServer {
    _runtime: tokio::runtime::Runtime,
    url: String,
    seen: Arc<Seen>,
}

/// Starts the fake server; message turns are answered with `message_status`.
fn fake_server(message_status: u16) -> FakeServer {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("local address");
    let seen = Arc::new(Seen::default());
    let state = seen.clone();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            state.connections.fetch_add(1, Ordering::Relaxed);
            let state = state.clone();
            tokio::spawn(async move {
                let _ = serve(stream, state, message_status).await;
            });
        }
    });
    FakeServer {
        _runtime: runtime,
        url: format!("http://{addr}"),
        seen,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn serve(
    mut stream: TcpStream,
    seen: Arc<Seen>,
    message_status: u16,
) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    // WebSocket upgrades are the only GET requests.
    let mut start = [0u8; 4];
    loop {
        match stream.peek(&mut start).await? {
            0 => return Ok(()),
            4.. => break,
            _ => tokio::task::yield_now().await,
        }
    }
    if &start == b"GET " {
        return serve_websocket(stream, seen).await;
    }
    let mut buf = Vec::new();
    let mut served = 0u64;
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..head_end].to_vec())?;
        let length: usize = header(&head, "content-length").unwrap_or("0").parse()?;
        while buf.len() < head_end + 4 + length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = buf[head_end + 4..head_end + 4 + length].to_vec();
        buf.drain(..head_end + 4 + length);
        seen.requests.fetch_add(1, Ordering::Relaxed);
        served += 1;
        let close = served % 5 == 0;
        let connection = if close { "close" } else { "keep-alive" };

        let mut parts = head.split(' ');
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let conversation = path
            .strip_prefix("/v1/conversations/c")
            .and_then(|rest| rest.strip_suffix("/messages"));
        if method == "POST" && path == "/v1/conversations" {
            let n = seen.conversations.fetch_add(1, Ordering::Relaxed);
            let body = format!(
                r#"{{"id":"c{n}","token":"t{n}","messages":[{{"id":"m0","role":"assistant","text":"Hi! How can I help?"}}]}}"#
            );
            let response = format!(
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await?;
        } else if let (Some(n), "POST") = (conversation, method) {
            let authorized = header(&head, "authorization") == Some(&format!("Bearer t{n}"));
            let text = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["text"].as_str().map(str::to_string));
            if !authorized || text.is_none() {
                let response = format!(
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n"
                );
                stream.write_all(response.as_bytes()).await?;
            } else if message_status != 200 {
                let body = r#"{"error":"internal"}"#;
                let response = format!(
                    "HTTP/1.1 {message_status} Oops\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).await?;
            } else {
                seen.messages.fetch_add(1, Ordering::Relaxed);
                let body = format!(
                    r#"{{"messages":[{{"id":"m1","role":"assistant","text":"You said {}"}}],"nlu":{{"intent":{{"name":"greet","confidence":0.9}}}}}}"#,
                    text.unwrap_or_default().replace('"', "'")
                );
                let (a, b) = body.split_at(body.len() / 2);
                // Two writes: the client must put the response together.
                let first = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: {connection}\r\n\r\n{:x}\r\n{a}\r\n",
                    a.len()
                );
                stream.write_all(first.as_bytes()).await?;
                stream.flush().await?;
                tokio::task::yield_now().await;
                let rest = format!("{:x};ext=1\r\n{b}\r\n0\r\n\r\n", b.len());
                stream.write_all(rest.as_bytes()).await?;
            }
        } else {
            let response = format!(
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n"
            );
            stream.write_all(response.as_bytes()).await?;
        }
        if close {
            return Ok(());
        }
    }
}

/// Accepts a handshake that offers `wismo.v1` and a bearer token, and picks
/// `wismo.v1`. (The `Result` shape is tungstenite's callback signature.)
#[allow(clippy::result_large_err)]
fn check_subprotocols(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let protocols: Vec<&str> = offered.split(',').map(str::trim).collect();
    if protocols.contains(&"wismo.v1") && protocols.iter().any(|p| p.starts_with("bearer.t")) {
        response.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("wismo.v1"),
        );
        Ok(response)
    } else {
        let mut refusal = ErrorResponse::new(Some("no token".to_string()));
        *refusal.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::UNAUTHORIZED;
        Err(refusal)
    }
}

async fn serve_websocket(stream: TcpStream, seen: Arc<Seen>) -> Result<(), BoxError> {
    let mut ws = tokio_tungstenite::accept_hdr_async(stream, check_subprotocols).await?;
    seen.websockets.fetch_add(1, Ordering::Relaxed);
    ws.send(Message::text(r#"{"type":"ready","conversation":"c"}"#))
        .await?;
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            if text.as_str().contains(r#""ping""#) {
                ws.send(Message::text(r#"{"type":"pong"}"#)).await?;
            }
        }
    }
    Ok(())
}

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wismo"))
        .arg("loadgen")
        .args(args)
        .output()
        .expect("run wismo loadgen")
}

fn report(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn num(report: &Value, field: &str) -> f64 {
    report[field]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {field} in {report}"))
}

#[test]
fn turns_mode_measures_message_turns() {
    let server = fake_server(200);
    let out = loadgen(&[
        "--url",
        &server.url,
        "--connections",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--turns-per-conversation",
        "4",
        "--json",
    ]);
    let r = report(&out);
    assert!(out.status.success(), "failed: {r}");
    assert_eq!(r["mode"], "turns");
    assert!(num(&r, "turns") > 0.0, "{r}");
    assert!(num(&r, "creates") > 0.0, "{r}");
    assert_eq!(num(&r, "errors"), 0.0, "{r}");
    assert!(num(&r, "turns_per_s") > 0.0, "{r}");
    let p: Vec<f64> = ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"]
        .iter()
        .map(|f| num(&r, f))
        .collect();
    assert!(p[0] > 0.0, "{r}");
    assert!(
        p.windows(2).all(|w| w[0] <= w[1]),
        "percentiles out of order: {r}"
    );
    // Keep-alive: far fewer connections than requests, but the server's
    // `Connection: close` made the client reconnect.
    let connections = server.seen.connections.load(Ordering::Relaxed);
    let requests = server.seen.requests.load(Ordering::Relaxed);
    assert!(
        connections > 3 && connections * 3 < requests,
        "{connections} connections for {requests} requests"
    );
    // Warm-up turns happened but were left out.
    assert!(server.seen.messages.load(Ordering::Relaxed) as f64 > num(&r, "turns"));
}

#[test]
fn text_output_names_every_number() {
    let server = fake_server(200);
    let out = loadgen(&[
        "--url",
        &server.url,
        "--connections",
        "1",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for word in [
        "turns/s", "p50", "p90", "p99", "p99.9", "max", "creates", "errors",
    ] {
        assert!(stdout.contains(word), "no {word} in:\n{stdout}");
    }
}

#[test]
fn failing_turns_are_counted_and_fail_the_run() {
    let server = fake_server(500);
    let out = loadgen(&[
        "--url",
        &server.url,
        "--connections",
        "2",
        "--duration",
        "500ms",
        "--warmup",
        "0s",
        "--json",
    ]);
    let r = report(&out);
    assert!(
        !out.status.success(),
        "a run where every turn failed succeeded: {r}"
    );
    assert!(num(&r, "http_errors") > 0.0, "{r}");
    assert_eq!(num(&r, "io_errors"), 0.0, "{r}");
    assert_eq!(num(&r, "turns"), 0.0, "{r}");
    let sample = r["error_samples"][0].as_str().unwrap_or_default();
    assert!(sample.contains("HTTP 500"), "{r}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed"), "{stderr}");
}

#[test]
fn growth_mode_compares_first_and_last_turns() {
    let server = fake_server(200);
    // --conversation-length-test alone selects growth mode.
    let out = loadgen(&[
        "--url",
        &server.url,
        "--connections",
        "2",
        "--conversation-length-test",
        "30",
        "--json",
    ]);
    let r = report(&out);
    assert!(out.status.success(), "failed: {r}");
    assert_eq!(r["mode"], "growth");
    assert_eq!(num(&r, "conversations"), 2.0, "{r}");
    assert_eq!(num(&r, "turns"), 60.0, "{r}");
    assert_eq!(num(&r, "window"), 15.0, "{r}");
    assert!(
        num(&r, "first_median_ms") > 0.0 && num(&r, "last_median_ms") > 0.0,
        "{r}"
    );
    assert!(num(&r, "ratio") > 0.0, "{r}");
    assert_eq!(server.seen.conversations.load(Ordering::Relaxed), 2);
}

#[test]
fn ws_mode_opens_pings_and_closes() {
    let server = fake_server(200);
    // The fake server runs in this process, so this process's memory stands in.
    let pid = std::process::id().to_string();
    let out = loadgen(&[
        "--mode",
        "ws",
        "--url",
        &server.url,
        "--count",
        "50",
        "--connections",
        "8",
        "--hold",
        "200ms",
        "--server-pid",
        &pid,
        "--json",
    ]);
    let r = report(&out);
    assert!(out.status.success(), "failed: {r}");
    assert_eq!(num(&r, "opened"), 50.0, "{r}");
    assert_eq!(num(&r, "failed"), 0.0, "{r}");
    assert_eq!(num(&r, "pongs"), 50.0, "{r}");
    assert_eq!(num(&r, "closed_cleanly"), 50.0, "{r}");
    assert!(
        num(&r, "rss_before_kib") > 0.0 && num(&r, "rss_open_kib") > 0.0,
        "{r}"
    );
    assert!(r["kib_per_socket"].is_number(), "{r}");
    assert_eq!(server.seen.websockets.load(Ordering::Relaxed), 50);
}

#[test]
fn no_server_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out = loadgen(&[
        "--url",
        &format!("http://127.0.0.1:{port}"),
        "--duration",
        "1s",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect to 127.0.0.1"), "{stderr}");

    let out = loadgen(&["--url", "https://example.com"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only http://"), "{stderr}");
}
