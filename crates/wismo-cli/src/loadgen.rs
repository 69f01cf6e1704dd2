//! `wismo loadgen`: load-tests a running wismo server.
//!
//! Three modes:
//! - `turns`: many keep-alive HTTP connections, each chatting through short
//!   conversations; reports throughput and the latency of message turns.
//! - `growth`: one long conversation per connection; compares the latency of
//!   its first turns with its last ones (a turn should not get slower as the
//!   conversation grows).
//! - `ws`: opens many WebSockets at once, holds them, pings each one, and
//!   reports the server's memory per open socket.
//!
//! HTTP/1.1 is spoken by hand over `TcpStream` (Content-Length, chunked and
//! close-delimited bodies), so that the client stays small and its cost per
//! request is known.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// What a shopper says, in order; a conversation of K turns sends the first K
/// lines (cycling when K is larger). `{order}` and `{email}` are one demo
/// store order and its real email: the conversation proves the order is the
/// shopper's before asking about it, and asks about no other, so a default
/// server's verification limits never see a failed check.
const SCRIPT: [&str; 10] = [
    "hi",
    "where is my order {order}",
    "{email}",
    "when will it arrive?",
    "how long does shipping to Canada take?",
    "what is your returns policy?",
    "has my refund for order {order} been processed yet?",
    "can I cancel order {order}?",
    "where is order {order} now?",
    "thanks, that's all!",
];

/// Demo store orders (`crates/wismo-core/data/store/demo_orders.json`)
/// with their emails; each conversation takes the next.
const ORDERS: [(&str, &str); 5] = [
    ("#1001", "emma.johnson@example.com"),
    ("#1002", "liam.smith@example.com"),
    ("#1003", "sofia.garcia@example.com"),
    ("#1005", "olivia.brown@example.com"),
    ("#1007", "james.wilson@example.com"),
];

/// The `turn`th line of the script for the `conversation`th conversation.
fn script_line(conversation: usize, turn: usize) -> String {
    let (order, email) = ORDERS[conversation % ORDERS.len()];
    SCRIPT[turn % SCRIPT.len()]
        .replace("{order}", order)
        .replace("{email}", email)
}

/// Conversations started so far (picks each one's order).
static CONVERSATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn next_conversation() -> usize {
    CONVERSATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// `--max-rate`: the time between two requests, and when the next may go.
static PACER: std::sync::OnceLock<Option<(Duration, std::sync::Mutex<Instant>)>> =
    std::sync::OnceLock::new();

/// Waits for this request's slot under `--max-rate` (no wait without it).
async fn pace() {
    let Some(Some((gap, next))) = PACER.get() else {
        return;
    };
    let at = {
        let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
        let at = (*next).max(Instant::now());
        *next = at + *gap;
        at
    };
    tokio::time::sleep_until(at.into()).await;
}

/// Longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Longest response body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// How many distinct error messages a report keeps as examples.
const ERROR_SAMPLES: usize = 5;
/// Share of failed requests above which the run exits with an error.
const MAX_FAILURE_RATE: f64 = 0.01;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Short conversations over keep-alive HTTP connections: throughput and latency.
    Turns,
    /// One long conversation per connection: first turns against last turns.
    Growth,
    /// Many WebSockets open at once: handshakes, pings, server memory.
    Ws,
}

#[derive(Args)]
pub struct LoadgenArgs {
    /// What to measure [default: turns; growth when --conversation-length-test is given].
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// The server (http:// only; a path is a prefix for the API).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Parallel keep-alive HTTP connections (in ws mode: parallel creates and handshakes).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// How long to measure, after the warm-up (turns mode), e.g. 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load before measuring starts, left out of the numbers (turns mode).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Messages per conversation before starting a new one (turns mode).
    #[arg(long, default_value_t = 10)]
    pub turns_per_conversation: usize,
    /// Messages in each connection's single conversation (growth mode) [default: 500].
    #[arg(long, value_name = "M")]
    pub conversation_length_test: Option<usize>,
    /// WebSockets to open (ws mode).
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// How long to hold all WebSockets open (ws mode).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub hold: Duration,
    /// The server's process id: report its memory (VmRSS) before and while the WebSockets are open (ws mode).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Give up on a request, a handshake or a pong after this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Requests per second at most, over all connections (0: as fast as
    /// possible). A default server allows 3000 requests a minute per client
    /// IP (`rate_limit_ip`): stay under 50, or start the server with
    /// `--rate-limit-ip 0` to measure its full speed.
    #[arg(long, default_value_t = 0.0)]
    pub max_rate: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses `10s`, `500ms`, `2m`, `1.5s`, `250us`; a bare number is seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 10s, 500ms or 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use h, m, s, ms or us)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{s:?}: {e}"))
}

fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

pub fn run(args: &LoadgenArgs) -> Result<()> {
    let mode = match (args.mode, args.conversation_length_test) {
        (Some(Mode::Growth) | None, Some(_)) => Mode::Growth,
        (Some(_), Some(_)) => bail!("--conversation-length-test goes with --mode growth"),
        (Some(mode), None) => mode,
        (None, None) => Mode::Turns,
    };
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if !args.max_rate.is_finite() || args.max_rate < 0.0 {
        bail!("--max-rate must be a number of requests per second, 0 for no limit");
    }
    let gap = (args.max_rate > 0.0)
        .then(|| Duration::from_secs_f64(1.0 / args.max_rate))
        .map(|gap| (gap, std::sync::Mutex::new(Instant::now())));
    let _ = PACER.set(gap);
    let target = Arc::new(Target::parse(&args.url)?);
    let fd_limit = raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Fail at once, with the reason, when nothing listens there.
        Conn::open(&target)
            .await
            .context("is the server running? (wismo loadgen needs one)")?;
        match mode {
            Mode::Turns => {
                let report = turns(args, target).await?;
                report.print(args.json);
                report.verdict()
            }
            Mode::Growth => {
                let report = growth(args, target).await?;
                report.print(args.json);
                report.verdict()
            }
            Mode::Ws => {
                if let Some(limit) = fd_limit {
                    let needed = args.count as u64 + args.connections as u64 + 64;
                    if limit < needed {
                        eprintln!(
                            "warning: this process may open only {limit} files; \
                             {} WebSockets may not all open (raise the hard limit: ulimit -Hn)",
                            args.count
                        );
                    }
                }
                let report = websockets(args, target).await?;
                report.print(args.json);
                report.verdict()
            }
        }
    })
}

/// Raises the soft limit on open files to the hard limit; returns the limit
/// now in force, when known.
#[cfg(unix)]
fn raise_fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit we pass and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the rlimit we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        } else {
            eprintln!(
                "warning: cannot raise the open-file limit from {} to {}: {}",
                limit.rlim_cur,
                limit.rlim_max,
                std::io::Error::last_os_error()
            );
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn raise_fd_limit() -> Option<u64> {
    None
}

// ---------------------------------------------------------------------------
// Where to connect

#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// Host to connect to (no brackets around an IPv6 address).
    host: String,
    port: u16,
    /// `host:port` as written, for the Host header.
    authority: String,
    /// Path prefix before `/v1/...`, without a trailing slash.
    prefix: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self> {
        let rest = match url.split_once("://") {
            Some((scheme, rest))
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") =>
            {
                rest
            }
            Some((scheme, _)) => {
                bail!("{url}: only http:// URLs are supported, not {scheme}://")
            }
            None => url,
        };
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        if authority.is_empty() {
            bail!("{url}: no host");
        }
        if authority.contains('@') {
            bail!("{url}: user names and passwords in the URL are not supported");
        }
        if path.contains(['?', '#']) {
            bail!("{url}: a query or fragment makes no sense here");
        }
        let parse_port = |p: &str| -> Result<u16> {
            p.parse()
                .with_context(|| format!("{url}: {p:?} is not a port number"))
        };
        let (host, port) = if let Some(inside) = authority.strip_prefix('[') {
            let (host, after) = inside
                .split_once(']')
                .with_context(|| format!("{url}: unclosed [ in the host"))?;
            match after.strip_prefix(':') {
                Some(p) => (host, parse_port(p)?),
                None if after.is_empty() => (host, 80),
                None => bail!("{url}: unexpected {after:?} after the host"),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, p)) => (host, parse_port(p)?),
                None => (authority, 80),
            }
        };
        if host.is_empty() {
            bail!("{url}: no host");
        }
        Ok(Self {
            host: host.to_string(),
            port,
            authority: authority.to_string(),
            prefix: path.trim_end_matches('/').to_string(),
        })
    }
}

/// Percent-encodes everything but unreserved characters, for a path segment.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

// ---------------------------------------------------------------------------
// HTTP/1.1 responses

#[derive(Debug, PartialEq, Eq)]
struct Response {
    status: u16,
    body: Vec<u8>,
    /// The connection cannot carry another request.
    close: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
struct Head {
    status: u16,
    framing: Framing,
    close: bool,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Parses the status line and headers (without the blank line that ends them).
fn parse_head(raw: &[u8]) -> Result<Head> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let keep_alive_by_default = match parts.next().unwrap_or_default() {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => bail!(
            "not an HTTP/1.x response: {:?}",
            snippet(status_line.as_bytes())
        ),
    };
    let status: u16 = parts
        .next()
        .and_then(|code| code.parse().ok())
        .filter(|code| (100..1000).contains(code))
        .with_context(|| format!("bad status line {:?}", snippet(status_line.as_bytes())))?;
    let mut length: Option<usize> = None;
    let mut transfer_encoding: Option<String> = None;
    let mut close = !keep_alive_by_default;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("malformed header line {:?}", snippet(line.as_bytes())))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .with_context(|| format!("bad Content-Length {value:?}"))?;
            if length.is_some_and(|l| l != n) {
                bail!("conflicting Content-Length headers");
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Several headers make one list; the last coding decides the framing.
            transfer_encoding = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && !keep_alive_by_default {
                    close = false;
                }
            }
        }
    }
    let framing = match (transfer_encoding, length) {
        (Some(te), _) => {
            let last = te.rsplit(',').next().unwrap_or_default().trim();
            if last.eq_ignore_ascii_case("chunked") {
                Framing::Chunked
            } else {
                Framing::UntilClose
            }
        }
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::UntilClose,
    };
    if framing == Framing::UntilClose {
        close = true;
    }
    Ok(Head {
        status,
        framing,
        close,
    })
}

/// Decodes a chunked body from the start of `buf`: the body and the bytes
/// used, or `None` when more bytes are needed.
fn parse_chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>> {
    let mut pos = 0;
    let mut body = Vec::new();
    loop {
        let Some(line_len) = find(&buf[pos..], b"\r\n") else {
            if buf.len() - pos > 1024 {
                bail!("chunk size line too long");
            }
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&buf[pos..pos + line_len]);
        // A chunk size may carry extensions after ';'.
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .ok()
            .filter(|_| !size_text.starts_with('+'))
            .with_context(|| format!("bad chunk size {:?}", snippet(line.as_bytes())))?;
        pos += line_len + 2;
        if size == 0 {
            // Trailer fields, then a blank line.
            loop {
                let Some(len) = find(&buf[pos..], b"\r\n") else {
                    if buf.len() - pos > MAX_HEAD {
                        bail!("chunked trailer too long");
                    }
                    return Ok(None);
                };
                pos += len + 2;
                if len == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if size > MAX_BODY - body.len() {
            bail!("response body larger than {} MiB", MAX_BODY >> 20);
        }
        if buf.len() - pos < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            bail!("a chunk is not followed by CRLF");
        }
        pos += size + 2;
    }
}

/// Parses one response from the start of `buf`: the response and the bytes
/// it used, or `None` when more bytes are needed. `eof`: no more bytes will
/// come, which ends a body that has neither a length nor chunks.
/// Interim (1xx) responses are skipped.
fn parse_response(buf: &[u8], eof: bool) -> Result<Option<(Response, usize)>> {
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        let Some(head_len) = find(rest, b"\r\n\r\n") else {
            if rest.len() > MAX_HEAD {
                bail!("response headers longer than {} KiB", MAX_HEAD >> 10);
            }
            return Ok(None);
        };
        if head_len > MAX_HEAD {
            bail!("response headers longer than {} KiB", MAX_HEAD >> 10);
        }
        let head = parse_head(&rest[..head_len])?;
        let body_start = start + head_len + 4;
        if (100..200).contains(&head.status) {
            start = body_start;
            continue;
        }
        let available = &buf[body_start..];
        let (body, used, close) = if head.status == 204 || head.status == 304 {
            (
                Vec::new(),
                0,
                head.close && head.framing != Framing::UntilClose,
            )
        } else {
            match head.framing {
                Framing::Length(n) => {
                    if n > MAX_BODY {
                        bail!("response body larger than {} MiB", MAX_BODY >> 20);
                    }
                    if available.len() < n {
                        return Ok(None);
                    }
                    (available[..n].to_vec(), n, head.close)
                }
                Framing::Chunked => match parse_chunked(available)? {
                    Some((body, used)) => (body, used, head.close),
                    None => return Ok(None),
                },
                Framing::UntilClose => {
                    if available.len() > MAX_BODY {
                        bail!("response body larger than {} MiB", MAX_BODY >> 20);
                    }
                    if !eof {
                        return Ok(None);
                    }
                    (available.to_vec(), available.len(), true)
                }
            }
        };
        let response = Response {
            status: head.status,
            body,
            close,
        };
        return Ok(Some((response, body_start + used)));
    }
}

// ---------------------------------------------------------------------------
// HTTP/1.1 client

/// One TCP connection and the bytes read from it but not used yet.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(target: &Target) -> Result<Self> {
        let stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .with_context(|| format!("cannot connect to {}", target.authority))?;
        stream
            .set_nodelay(true)
            .context("cannot turn off Nagle's algorithm")?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Response> {
        if !self.buf.is_empty() {
            bail!("the server sent {} bytes nobody asked for", self.buf.len());
        }
        self.stream
            .write_all(request)
            .await
            .context("cannot send the request")?;
        loop {
            if let Some((response, used)) = parse_response(&self.buf, false)? {
                self.buf.drain(..used);
                return Ok(response);
            }
            if self.buf.len() > MAX_HEAD + 2 * MAX_BODY {
                bail!("response too long");
            }
            self.buf.reserve(16 * 1024);
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .context("cannot read the response")?;
            if n == 0 {
                return match parse_response(&self.buf, true)? {
                    Some((response, _)) => Ok(Response {
                        close: true,
                        ..response
                    }),
                    None if self.buf.is_empty() => {
                        bail!("the server closed the connection without answering")
                    }
                    None => bail!("the server closed the connection in the middle of a response"),
                };
            }
        }
    }
}

/// A keep-alive HTTP client: reconnects when the connection was closed or
/// failed.
struct Client {
    target: Arc<Target>,
    timeout: Duration,
    conn: Option<Conn>,
}

impl Client {
    fn new(target: Arc<Target>, timeout: Duration) -> Self {
        Self {
            target,
            timeout,
            conn: None,
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Response> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => Conn::open(&self.target).await?,
        };
        self.conn.insert(conn).exchange(request).await
    }

    /// Sends one request with a JSON body and waits for the whole response.
    async fn post(&mut self, path: &str, token: Option<&str>, body: &str) -> Result<Response> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: wismo-loadgen\r\nAccept: application/json\r\n",
            self.target.authority
        );
        if let Some(token) = token {
            let _ = write!(request, "Authorization: Bearer {token}\r\n");
        }
        let _ = write!(
            request,
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let result = tokio::time::timeout(self.timeout, self.exchange(request.as_bytes()))
            .await
            .unwrap_or_else(|_| Err(anyhow!("no response within {}", fmt_duration(self.timeout))));
        if !matches!(&result, Ok(response) if !response.close) {
            self.conn = None;
        }
        result
    }
}

// ---------------------------------------------------------------------------
// The wismo API

struct Conversation {
    /// The id, percent-encoded for a path.
    id: String,
    token: String,
    /// `POST` here to send a message.
    messages_path: String,
}

/// Why a request did not succeed.
enum Failure {
    /// The server answered with a status other than 2xx.
    Status(String),
    /// No usable answer: connection, timeout, malformed response.
    Io(String),
}

async fn create_conversation(client: &mut Client) -> Result<Conversation, Failure> {
    let path = format!("{}/v1/conversations", client.target.prefix);
    let response = client
        .post(&path, None, "{}")
        .await
        .map_err(|e| Failure::Io(format!("create: {e:#}")))?;
    if !(200..300).contains(&response.status) {
        return Err(Failure::Status(format!(
            "create: HTTP {} {}",
            response.status,
            snippet(&response.body)
        )));
    }
    let parsed = (|| -> Result<(String, String)> {
        let v: serde_json::Value =
            serde_json::from_slice(&response.body).context("the body is not JSON")?;
        let id = match &v["id"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => bail!("no \"id\""),
        };
        let token = v["token"].as_str().context("no \"token\"")?;
        if token.bytes().any(|b| b.is_ascii_control()) {
            bail!("the token has control characters");
        }
        Ok((id, token.to_string()))
    })();
    let (id, token) = parsed.map_err(|e| {
        Failure::Io(format!(
            "create: unusable answer ({e:#}): {}",
            snippet(&response.body)
        ))
    })?;
    let id = path_segment(&id);
    Ok(Conversation {
        messages_path: format!("{}/v1/conversations/{id}/messages", client.target.prefix),
        id,
        token,
    })
}

async fn send_message(client: &mut Client, conv: &Conversation, text: &str) -> Result<(), Failure> {
    let body = serde_json::json!({ "text": text }).to_string();
    let response = client
        .post(&conv.messages_path, Some(&conv.token), &body)
        .await
        .map_err(|e| Failure::Io(format!("message: {e:#}")))?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        Err(Failure::Status(format!(
            "message: HTTP {} {}",
            response.status,
            snippet(&response.body)
        )))
    }
}

// ---------------------------------------------------------------------------
// Counting

/// Counts of one connection (or, merged, of all).
#[derive(Default)]
struct Tally {
    /// Latency of each successful message turn, in microseconds.
    latencies_us: Vec<u32>,
    creates: u64,
    http_errors: u64,
    io_errors: u64,
    samples: Vec<String>,
}

impl Tally {
    fn fail(&mut self, failure: Failure) {
        let message = match failure {
            Failure::Status(m) => {
                self.http_errors += 1;
                m
            }
            Failure::Io(m) => {
                self.io_errors += 1;
                m
            }
        };
        self.sample(message);
    }

    fn sample(&mut self, message: String) {
        if self.samples.len() < ERROR_SAMPLES && !self.samples.contains(&message) {
            self.samples.push(message);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.creates += other.creates;
        self.http_errors += other.http_errors;
        self.io_errors += other.io_errors;
        for s in other.samples {
            self.sample(s);
        }
    }

    fn errors(&self) -> u64 {
        self.http_errors + self.io_errors
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn ms(us: u32) -> f64 {
    f64::from(us) / 1e3
}

/// The nearest-rank percentile of sorted values (0 when there are none).
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    // The small margin keeps 99.9% of 1000 at rank 999 despite rounding.
    let rank = (p / 100.0 * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Serialize)]
struct Latency {
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
}

impl Latency {
    fn of(mut us: Vec<u32>) -> Self {
        us.sort_unstable();
        Self {
            p50_ms: ms(percentile(&us, 50.0)),
            p90_ms: ms(percentile(&us, 90.0)),
            p99_ms: ms(percentile(&us, 99.0)),
            p999_ms: ms(percentile(&us, 99.9)),
            max_ms: ms(us.last().copied().unwrap_or(0)),
        }
    }

    fn line(&self) -> String {
        format!(
            "p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }
}

/// Fails when more than 1% of turns failed; a failed create counts as a
/// failed turn (its conversation never happened).
fn failure_verdict(turns: u64, errors: u64) -> Result<()> {
    let attempts = turns + errors;
    if turns == 0 {
        bail!("no message turn succeeded ({errors} failed requests)");
    }
    if errors as f64 > MAX_FAILURE_RATE * attempts as f64 {
        bail!(
            "{errors} of {attempts} requests failed ({:.2}%, more than {}%)",
            errors as f64 * 100.0 / attempts as f64,
            MAX_FAILURE_RATE * 100.0
        );
    }
    Ok(())
}

fn print_samples(samples: &[String]) {
    for s in samples {
        crate::say(format!("  e.g. {s}"));
    }
}

fn json_line(value: &impl Serialize) {
    match serde_json::to_string(value) {
        Ok(line) => crate::say(line),
        Err(e) => eprintln!("error: cannot write the report as JSON: {e}"),
    }
}

async fn pause_after_io_error(until: Instant) {
    let wake = (Instant::now() + Duration::from_millis(50)).min(until);
    tokio::time::sleep_until(wake.into()).await;
}

// ---------------------------------------------------------------------------
// turns mode

#[derive(Serialize)]
struct TurnsReport {
    mode: &'static str,
    connections: usize,
    turns_per_conversation: usize,
    warmup_s: f64,
    turns: u64,
    seconds: f64,
    turns_per_s: f64,
    #[serde(flatten)]
    latency: Latency,
    creates: u64,
    creates_per_s: f64,
    errors: u64,
    http_errors: u64,
    io_errors: u64,
    error_samples: Vec<String>,
}

impl TurnsReport {
    fn print(&self, json: bool) {
        if json {
            return json_line(self);
        }
        crate::say(format!(
            "turns     {} in {:.1} s: {:.1} turns/s ({} connections, {} turns per conversation, {:.1} s warm-up left out)",
            self.turns, self.seconds, self.turns_per_s, self.connections, self.turns_per_conversation, self.warmup_s
        ));
        crate::say(format!("latency   {}", self.latency.line()));
        crate::say(format!(
            "creates   {} ({:.1}/s)",
            self.creates, self.creates_per_s
        ));
        crate::say(format!(
            "errors    {} (non-2xx {}, I/O {})",
            self.errors, self.http_errors, self.io_errors
        ));
        print_samples(&self.error_samples);
    }

    fn verdict(&self) -> Result<()> {
        failure_verdict(self.turns, self.errors)
    }
}

/// One connection's loop: a conversation of `k` turns, then the next. Only
/// requests that complete within `[measure_from, until)` are counted.
async fn turns_worker(
    client: &mut Client,
    k: usize,
    measure_from: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let counted = |t: Instant| t >= measure_from && t < until;
    'conversations: while Instant::now() < until {
        let nth = next_conversation();
        pace().await;
        let conv = match create_conversation(client).await {
            Ok(conv) => {
                if counted(Instant::now()) {
                    tally.creates += 1;
                }
                conv
            }
            Err(failure) => {
                let io = matches!(failure, Failure::Io(_));
                if counted(Instant::now()) {
                    tally.fail(failure);
                }
                if io {
                    pause_after_io_error(until).await;
                }
                continue;
            }
        };
        for turn in 0..k {
            if Instant::now() >= until {
                break 'conversations;
            }
            pace().await;
            let start = Instant::now();
            let result = send_message(client, &conv, &script_line(nth, turn)).await;
            let end = Instant::now();
            if end >= until {
                break 'conversations;
            }
            match result {
                Ok(()) if end >= measure_from => tally.latencies_us.push(micros(end - start)),
                Ok(()) => {}
                Err(failure) => {
                    let io = matches!(failure, Failure::Io(_));
                    if end >= measure_from {
                        tally.fail(failure);
                    }
                    if io {
                        pause_after_io_error(until).await;
                    }
                    // The conversation may be broken: start a new one.
                    continue 'conversations;
                }
            }
        }
    }
    tally
}

async fn turns(args: &LoadgenArgs, target: Arc<Target>) -> Result<TurnsReport> {
    if args.turns_per_conversation == 0 {
        bail!("--turns-per-conversation must be at least 1");
    }
    if args.duration.is_zero() {
        bail!("--duration must be more than 0");
    }
    if !args.json {
        crate::say(format!(
            "wismo loadgen: {} connections to {} for {} after {} of warm-up",
            args.connections,
            target.authority,
            fmt_duration(args.duration),
            fmt_duration(args.warmup)
        ));
    }
    let measure_from = Instant::now() + args.warmup;
    let until = measure_from + args.duration;
    let k = args.turns_per_conversation;
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let mut client = Client::new(target.clone(), args.timeout);
            tokio::spawn(async move { turns_worker(&mut client, k, measure_from, until).await })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await.context("a connection's task failed")?);
    }
    let seconds = args.duration.as_secs_f64();
    let turns = tally.latencies_us.len() as u64;
    Ok(TurnsReport {
        mode: "turns",
        connections: args.connections,
        turns_per_conversation: k,
        warmup_s: args.warmup.as_secs_f64(),
        turns,
        seconds,
        turns_per_s: turns as f64 / seconds,
        creates: tally.creates,
        creates_per_s: tally.creates as f64 / seconds,
        errors: tally.errors(),
        http_errors: tally.http_errors,
        io_errors: tally.io_errors,
        latency: Latency::of(std::mem::take(&mut tally.latencies_us)),
        error_samples: tally.samples,
    })
}

// ---------------------------------------------------------------------------
// growth mode

#[derive(Serialize)]
struct GrowthReport {
    mode: &'static str,
    connections: usize,
    conversations: u64,
    turns_per_conversation: usize,
    turns: u64,
    seconds: f64,
    turns_per_s: f64,
    #[serde(flatten)]
    latency: Latency,
    /// Turns at each end that are compared.
    window: usize,
    first_median_ms: f64,
    last_median_ms: f64,
    /// Last median over first median: 1.0 when a long conversation costs nothing more.
    ratio: f64,
    errors: u64,
    http_errors: u64,
    io_errors: u64,
    error_samples: Vec<String>,
}

impl GrowthReport {
    fn print(&self, json: bool) {
        if json {
            return json_line(self);
        }
        crate::say(format!(
            "turns     {} in {:.1} s: {:.1} turns/s ({} conversations of {} turns)",
            self.turns,
            self.seconds,
            self.turns_per_s,
            self.conversations,
            self.turns_per_conversation
        ));
        crate::say(format!("latency   {}", self.latency.line()));
        crate::say(format!(
            "growth    median of turns 1–{w}: {:.3} ms; of the last {w}: {:.3} ms; ratio {:.2}",
            self.first_median_ms,
            self.last_median_ms,
            self.ratio,
            w = self.window
        ));
        crate::say(format!(
            "errors    {} (non-2xx {}, I/O {})",
            self.errors, self.http_errors, self.io_errors
        ));
        print_samples(&self.error_samples);
    }

    fn verdict(&self) -> Result<()> {
        if self.conversations < self.connections as u64 {
            bail!(
                "only {} of {} conversations could be created",
                self.conversations,
                self.connections
            );
        }
        failure_verdict(self.turns, self.errors)
    }
}

/// One conversation of `m` turns: the latency of each turn (None when it failed).
async fn growth_worker(client: &mut Client, m: usize) -> (Option<Vec<Option<u32>>>, Tally) {
    let mut tally = Tally::default();
    let far = Instant::now() + Duration::from_secs(3600);
    let mut conv = None;
    for _attempt in 0..3 {
        pace().await;
        match create_conversation(client).await {
            Ok(c) => {
                conv = Some(c);
                break;
            }
            Err(failure) => {
                tally.fail(failure);
                pause_after_io_error(far).await;
            }
        }
    }
    let Some(conv) = conv else {
        return (None, tally);
    };
    tally.creates += 1;
    let mut turns = Vec::with_capacity(m);
    let nth = next_conversation();
    for turn in 0..m {
        pace().await;
        let start = Instant::now();
        match send_message(client, &conv, &script_line(nth, turn)).await {
            Ok(()) => turns.push(Some(micros(start.elapsed()))),
            Err(failure) => {
                tally.fail(failure);
                turns.push(None);
            }
        }
    }
    (Some(turns), tally)
}

fn median(mut us: Vec<u32>) -> f64 {
    us.sort_unstable();
    ms(percentile(&us, 50.0))
}

async fn growth(args: &LoadgenArgs, target: Arc<Target>) -> Result<GrowthReport> {
    let m = args.conversation_length_test.unwrap_or(500);
    if m < 2 {
        bail!("--conversation-length-test needs at least 2 turns");
    }
    let window = (m / 2).min(50);
    if !args.json {
        crate::say(format!(
            "wismo loadgen: {} conversations of {m} turns against {}",
            args.connections, target.authority
        ));
    }
    let start = Instant::now();
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let mut client = Client::new(target.clone(), args.timeout);
            tokio::spawn(async move { growth_worker(&mut client, m).await })
        })
        .collect();
    let mut tally = Tally::default();
    let (mut first, mut last) = (Vec::new(), Vec::new());
    let mut conversations = 0;
    for worker in workers {
        let (turns, t) = worker.await.context("a connection's task failed")?;
        tally.merge(t);
        if let Some(turns) = turns {
            conversations += 1;
            first.extend(turns[..window].iter().flatten());
            last.extend(turns[m - window..].iter().flatten());
            tally.latencies_us.extend(turns.into_iter().flatten());
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let turns = tally.latencies_us.len() as u64;
    let (first_median_ms, last_median_ms) = (median(first), median(last));
    Ok(GrowthReport {
        mode: "growth",
        connections: args.connections,
        conversations,
        turns_per_conversation: m,
        turns,
        seconds,
        turns_per_s: turns as f64 / seconds,
        latency: Latency::of(std::mem::take(&mut tally.latencies_us)),
        window,
        first_median_ms,
        last_median_ms,
        ratio: if first_median_ms > 0.0 {
            last_median_ms / first_median_ms
        } else {
            0.0
        },
        errors: tally.errors(),
        http_errors: tally.http_errors,
        io_errors: tally.io_errors,
        error_samples: tally.samples,
    })
}

// ---------------------------------------------------------------------------
// ws mode

type WebSocket = tokio_tungstenite::WebSocketStream<TcpStream>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Hold,
    Ping,
    Close,
}

enum PingOutcome {
    Pong,
    /// The socket was closed or broke while held.
    Dropped(String),
    Failed(String),
}

#[derive(Serialize)]
struct WsReport {
    mode: &'static str,
    count: usize,
    created: usize,
    create_errors: u64,
    opened: usize,
    failed: usize,
    open_seconds: f64,
    hold_s: f64,
    dropped: usize,
    pongs: usize,
    closed_cleanly: usize,
    rss_before_kib: Option<u64>,
    rss_open_kib: Option<u64>,
    /// (RSS while open − RSS before) / sockets opened.
    kib_per_socket: Option<f64>,
    error_samples: Vec<String>,
}

impl WsReport {
    fn print(&self, json: bool) {
        if json {
            return json_line(self);
        }
        if self.create_errors > 0 {
            crate::say(format!(
                "created   {} of {} conversations ({} errors)",
                self.created, self.count, self.create_errors
            ));
        }
        crate::say(format!(
            "opened    {} of {} WebSockets in {:.2} s ({} failed)",
            self.opened, self.count, self.open_seconds, self.failed
        ));
        crate::say(format!(
            "held      {:.1} s ({} dropped by the server)",
            self.hold_s, self.dropped
        ));
        crate::say(format!("pongs     {} of {}", self.pongs, self.opened));
        crate::say(format!("closed    {} cleanly", self.closed_cleanly));
        if let (Some(before), Some(open)) = (self.rss_before_kib, self.rss_open_kib) {
            crate::say(format!(
                "server    RSS {before} KiB before, {open} KiB with all open: {:.1} KiB per open WebSocket",
                self.kib_per_socket.unwrap_or(0.0)
            ));
        }
        print_samples(&self.error_samples);
    }

    fn verdict(&self) -> Result<()> {
        let missing = self.count - self.pongs;
        if missing as f64 > MAX_FAILURE_RATE * self.count as f64 {
            bail!(
                "{missing} of {} WebSockets did not open or answer a ping (more than {}%)",
                self.count,
                MAX_FAILURE_RATE * 100.0
            );
        }
        Ok(())
    }
}

/// The server's resident memory in KiB, from /proc.
fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {path} (is --server-pid right?)"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no VmRSS in {path}"))
}

fn is_type(text: &str, wanted: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v["type"] == wanted)
}

/// Opens a conversation's WebSocket and waits for its `ready` frame.
async fn ws_open(target: &Target, conv: &Conversation) -> Result<WebSocket> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .with_context(|| format!("cannot connect to {}", target.authority))?;
    stream
        .set_nodelay(true)
        .context("cannot turn off Nagle's algorithm")?;
    let url = format!(
        "ws://{}{}/v1/conversations/{}/ws",
        target.authority, target.prefix, conv.id
    );
    let mut request = url
        .as_str()
        .into_client_request()
        .with_context(|| format!("bad WebSocket URL {url}"))?;
    let protocols = HeaderValue::from_str(&format!("wismo.v1, bearer.{}", conv.token))
        .context("the token cannot go in a header")?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols);
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .context("WebSocket handshake failed")?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                if is_type(text.as_str(), "ready") {
                    return Ok(ws);
                }
                bail!(
                    "the first frame is not {{\"type\":\"ready\"}}: {}",
                    snippet(text.as_bytes())
                );
            }
            Some(Ok(Message::Close(frame))) => {
                bail!("the server closed the WebSocket before ready: {frame:?}")
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).context("WebSocket error before ready"),
            None => bail!("the server closed the WebSocket before ready"),
        }
    }
}

async fn ws_ping(ws: &mut WebSocket) -> Result<()> {
    ws.send(Message::text(r#"{"type":"ping"}"#))
        .await
        .context("cannot send a ping")?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if is_type(text.as_str(), "pong") => return Ok(()),
            Some(Ok(Message::Close(frame))) => bail!("closed instead of a pong: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).context("WebSocket error waiting for a pong"),
            None => bail!("closed instead of a pong"),
        }
    }
}

async fn ws_close(ws: &mut WebSocket) -> Result<()> {
    ws.close(None).await.context("cannot send a close frame")?;
    while let Some(message) = ws.next().await {
        message.context("WebSocket error while closing")?;
    }
    Ok(())
}

struct Session {
    target: Arc<Target>,
    conv: Conversation,
    timeout: Duration,
    gate: Arc<Semaphore>,
    opened: mpsc::UnboundedSender<Result<(), String>>,
    pinged: mpsc::UnboundedSender<PingOutcome>,
    phase: watch::Receiver<Phase>,
}

/// One WebSocket's life: open, hold, ping, close. Reports opening and the
/// ping on the channels; returns whether it closed cleanly.
async fn ws_session(mut s: Session) -> bool {
    let opened = {
        // Limits how many handshakes run at once; released once ready.
        let _permit = s.gate.acquire().await;
        tokio::time::timeout(s.timeout, ws_open(&s.target, &s.conv))
            .await
            .unwrap_or_else(|_| Err(anyhow!("not ready within {}", fmt_duration(s.timeout))))
    };
    let mut ws = match opened {
        Ok(ws) => {
            let _ = s.opened.send(Ok(()));
            ws
        }
        Err(e) => {
            let _ = s.opened.send(Err(format!("open: {e:#}")));
            return false;
        }
    };
    // Hold: keep reading (which also answers the server's pings) until told
    // to ping.
    let mut dropped = None;
    loop {
        tokio::select! {
            _ = s.phase.wait_for(|p| *p >= Phase::Ping) => break,
            message = ws.next(), if dropped.is_none() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => dropped = Some(format!("hold: connection lost: {e}")),
                None => dropped = Some("hold: the server closed the WebSocket".to_string()),
            }
        }
    }
    let outcome = match dropped {
        Some(why) => PingOutcome::Dropped(why),
        None => match tokio::time::timeout(s.timeout, ws_ping(&mut ws)).await {
            Ok(Ok(())) => PingOutcome::Pong,
            Ok(Err(e)) => PingOutcome::Failed(format!("ping: {e:#}")),
            Err(_) => {
                PingOutcome::Failed(format!("ping: no pong within {}", fmt_duration(s.timeout)))
            }
        },
    };
    let dropped = matches!(outcome, PingOutcome::Dropped(_));
    let _ = s.pinged.send(outcome);
    let _ = s.phase.wait_for(|p| *p >= Phase::Close).await;
    if dropped {
        return false;
    }
    matches!(
        tokio::time::timeout(s.timeout, ws_close(&mut ws)).await,
        Ok(Ok(()))
    )
}

/// Creates `n` conversations over `connections` parallel connections.
async fn create_many(
    target: &Arc<Target>,
    n: usize,
    connections: usize,
    timeout: Duration,
) -> Result<(Vec<Conversation>, Tally)> {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..connections.min(n))
        .map(|_| {
            let mut client = Client::new(target.clone(), timeout);
            let next = next.clone();
            tokio::spawn(async move {
                let mut made = Vec::new();
                let mut tally = Tally::default();
                let far = Instant::now() + Duration::from_secs(3600);
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    match create_conversation(&mut client).await {
                        Ok(conv) => made.push(conv),
                        Err(failure) => {
                            let io = matches!(failure, Failure::Io(_));
                            tally.fail(failure);
                            if io {
                                pause_after_io_error(far).await;
                            }
                        }
                    }
                }
                (made, tally)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    let mut tally = Tally::default();
    for worker in workers {
        let (made, t) = worker.await.context("a connection's task failed")?;
        all.extend(made);
        tally.merge(t);
    }
    Ok((all, tally))
}

async fn websockets(args: &LoadgenArgs, target: Arc<Target>) -> Result<WsReport> {
    let n = args.count;
    if n == 0 {
        bail!("--count must be at least 1");
    }
    if !args.json {
        crate::say(format!(
            "wismo loadgen: {n} WebSockets to {}, held {}",
            target.authority,
            fmt_duration(args.hold)
        ));
    }
    let (conversations, mut tally) =
        create_many(&target, n, args.connections, args.timeout).await?;
    let created = conversations.len();
    let rss_before = args.server_pid.map(rss_kib).transpose()?;

    let (phase_tx, phase_rx) = watch::channel(Phase::Hold);
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel();
    let (pinged_tx, mut pinged_rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(args.connections));
    let started = Instant::now();
    let sessions: Vec<_> = conversations
        .into_iter()
        .map(|conv| {
            tokio::spawn(ws_session(Session {
                target: target.clone(),
                conv,
                timeout: args.timeout,
                gate: gate.clone(),
                opened: opened_tx.clone(),
                pinged: pinged_tx.clone(),
                phase: phase_rx.clone(),
            }))
        })
        .collect();
    drop((opened_tx, pinged_tx, phase_rx));

    // Every session reports its opening once (each has its own timeout).
    let mut opened = 0;
    for _ in 0..sessions.len() {
        match opened_rx.recv().await {
            Some(Ok(())) => opened += 1,
            Some(Err(e)) => tally.sample(e),
            None => break,
        }
    }
    let open_seconds = started.elapsed().as_secs_f64();

    tokio::time::sleep(args.hold).await;
    let rss_open = args.server_pid.map(rss_kib).transpose()?;

    phase_tx.send_replace(Phase::Ping);
    let (mut pongs, mut dropped) = (0, 0);
    for _ in 0..opened {
        match pinged_rx.recv().await {
            Some(PingOutcome::Pong) => pongs += 1,
            Some(PingOutcome::Dropped(e)) => {
                dropped += 1;
                tally.sample(e);
            }
            Some(PingOutcome::Failed(e)) => tally.sample(e),
            None => break,
        }
    }

    phase_tx.send_replace(Phase::Close);
    let mut closed_cleanly = 0;
    for session in sessions {
        if session.await.context("a WebSocket's task failed")? {
            closed_cleanly += 1;
        }
    }

    let kib_per_socket = match (rss_before, rss_open) {
        (Some(before), Some(open)) if opened > 0 => {
            Some((open as f64 - before as f64) / opened as f64)
        }
        _ => None,
    };
    Ok(WsReport {
        mode: "ws",
        count: n,
        created,
        create_errors: tally.errors(),
        opened,
        failed: n - opened,
        open_seconds,
        hold_s: args.hold.as_secs_f64(),
        dropped,
        pongs,
        closed_cleanly,
        rss_before_kib: rss_before,
        rss_open_kib: rss_open,
        kib_per_socket,
        error_samples: tally.samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_verifies_its_order_with_the_real_email_and_asks_about_no_other() {
        let demo: serde_json::Value =
            serde_json::from_str(include_str!("../../wismo-core/data/store/demo_orders.json"))
                .expect("demo orders");
        let email_of = |name: &str| {
            demo["orders"]
                .as_array()
                .and_then(|os| os.iter().find(|o| o["name"] == name))
                .and_then(|o| o["email"].as_str())
                .map(str::to_ascii_lowercase)
        };
        for (conv, &(order, email)) in ORDERS.iter().enumerate() {
            assert_eq!(email_of(order).as_deref(), Some(email), "{order}");
            let lines: Vec<String> = (0..SCRIPT.len()).map(|t| script_line(conv, t)).collect();
            // The order is named, then proved, before anything else about it.
            assert!(lines[1].contains(order), "{lines:?}");
            assert_eq!(lines[2], email);
            for line in &lines {
                for (other, _) in ORDERS.iter().filter(|(o, _)| *o != order) {
                    assert!(!line.contains(other), "{line:?} asks about {other}");
                }
            }
        }
    }

    fn parse_all(raw: &[u8]) -> (Response, usize) {
        match parse_response(raw, false) {
            Ok(Some(done)) => done,
            other => panic!("expected a whole response, got {other:?}"),
        }
    }

    #[test]
    fn content_length_response() {
        let raw = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\":\"c1\"}";
        let (response, used) = parse_all(raw);
        assert_eq!(response.status, 201);
        assert_eq!(response.body, b"{\"id\":\"c1\"}");
        assert!(!response.close);
        assert_eq!(used, raw.len());
    }

    #[test]
    fn chunked_response_with_extension_and_trailer() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=x\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n";
        let (response, used) = parse_all(raw);
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"hello, world");
        assert_eq!(used, raw.len());
    }

    #[test]
    fn a_response_split_across_reads_is_complete_only_at_the_end() {
        let chunked =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n";
        let sized = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcd";
        for raw in [&chunked[..], &sized[..]] {
            for cut in 0..raw.len() {
                assert!(
                    matches!(parse_response(&raw[..cut], false), Ok(None)),
                    "complete after {cut} of {} bytes",
                    raw.len()
                );
            }
            assert_eq!(parse_all(raw).1, raw.len());
        }
    }

    #[test]
    fn pipelined_responses_interim_and_no_body() {
        let mut raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".to_vec();
        let first_len = raw.len();
        raw.extend_from_slice(
            b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
        );
        let (first, used) = parse_all(&raw);
        assert_eq!((first.status, first.body.len(), used), (204, 0, first_len));
        let (second, _) = parse_all(&raw[used..]);
        assert_eq!(
            (second.status, &second.body[..], second.close),
            (500, &b"no"[..], true)
        );
    }

    #[test]
    fn a_body_without_length_ends_with_the_connection() {
        let raw = b"HTTP/1.0 200 OK\r\n\r\nuntil the end";
        assert!(matches!(parse_response(raw, false), Ok(None)));
        let (response, _) = parse_response(raw, true)
            .ok()
            .flatten()
            .expect("complete at eof");
        assert_eq!(response.body, b"until the end");
        assert!(response.close);
        // HTTP/1.0 keep-alive with a length can be reused.
        let raw = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse_all(raw).0.close);
    }

    #[test]
    fn malformed_responses_are_errors() {
        for raw in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        ] {
            assert!(
                parse_response(raw, false).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(
            (t.host.as_str(), t.port, t.prefix.as_str()),
            ("127.0.0.1", 8080, "")
        );
        let t = Target::parse("http://[::1]:9000/api/").expect("valid");
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        assert_eq!(
            (t.authority.as_str(), t.prefix.as_str()),
            ("[::1]:9000", "/api")
        );
        let t = Target::parse("localhost").expect("valid");
        assert_eq!((t.host.as_str(), t.port), ("localhost", 80));
        for bad in [
            "https://example.com",
            "http://",
            "http://host:port",
            "http://u:p@host",
            "http://h/?q",
        ] {
            assert!(Target::parse(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 days").is_err());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&v, 50.0), 500);
        assert_eq!(percentile(&v, 99.9), 999);
        assert_eq!(percentile(&v, 100.0), 1000);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn failure_threshold() {
        assert!(failure_verdict(1000, 10).is_ok());
        assert!(failure_verdict(1000, 11).is_err());
        assert!(failure_verdict(0, 0).is_err());
    }

    #[test]
    fn ids_are_escaped_for_paths() {
        assert_eq!(path_segment("c-1_a.b~"), "c-1_a.b~");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }
}
