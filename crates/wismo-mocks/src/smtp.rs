//! A real SMTP server on a free local port that keeps every message it
//! accepts, for tests of wismo's emails: the `mailin` crate's SMTP state
//! machine (RFC 5321 commands, replies, dot-stuffing) behind a TCP accept
//! loop. Not a mock of a provider: SMTP runs here, so the tests speak it
//! for real.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin::response::{self, Response};
use mailin::{Action, Handler, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, as sent (CRLF line ends).
    pub data: String,
}

impl ReceivedMail {
    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut lines = head.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.eq_ignore_ascii_case(name) {
                let mut value = v.trim().to_string();
                while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                }
                return Some(value);
            }
        }
        None
    }

    /// The body after the headers, as sent.
    pub fn raw_body(&self) -> &str {
        self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    /// The body as its reader sees it: quoted-printable decoded (UTF-8),
    /// SMTP's dot-stuffing and final dot removed.
    pub fn body(&self) -> String {
        let raw = self.raw_body();
        let raw = raw.strip_suffix(".\r\n").unwrap_or(raw);
        let raw = raw.replace("\r\n..", "\r\n.");
        let qp = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if !qp {
            return raw;
        }
        let joined = raw.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'=', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The running server.
pub struct SmtpServer {
    pub addr: SocketAddr,
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
}

#[derive(Clone)]
struct Keep {
    inbox: Arc<Mutex<Vec<ReceivedMail>>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Keep {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        response::OK
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        self.inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(mail);
        response::OK
    }
}

impl SmtpServer {
    /// Starts the server on 127.0.0.1 and a free port (on the current
    /// tokio runtime); it runs until the runtime ends.
    pub async fn start() -> std::io::Result<SmtpServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let keep = inbox.clone();
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let handler = Keep {
                    inbox: keep.clone(),
                    from: String::new(),
                    to: Vec::new(),
                    data: Vec::new(),
                };
                tokio::spawn(async move {
                    let _ = converse(stream, peer.ip(), handler).await;
                });
            }
        });
        Ok(SmtpServer { addr, inbox })
    }

    /// `smtp://127.0.0.1:<port>` (no TLS).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits up to `timeout` for at least `n` messages; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n || start.elapsed() >= timeout {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One SMTP connection: greeting, then a reply per line until QUIT.
async fn converse(
    stream: tokio::net::TcpStream,
    peer: IpAddr,
    handler: Keep,
) -> std::io::Result<()> {
    let mut session = SessionBuilder::new("smtp.test").build(peer, handler);
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(&session.greeting().buffer()?).await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let reply = session.process(&line);
        match reply.action {
            Action::NoReply => {}
            Action::Close => {
                write.write_all(&reply.buffer()?).await?;
                return Ok(());
            }
            _ => write.write_all(&reply.buffer()?).await?,
        }
    }
}
