//! HTTPS served by wismo itself: a CA and server certificates generated at
//! test time (rcgen), clients that verify them (never "accept invalid").

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{spawn_app_with, Backend, TestApp};
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// A test CA that issues server certificates.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A server certificate (PEM) and its key (PEM), and the certificate's DER.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for localhost and 127.0.0.1 with a fresh key.
    fn issue(&self, common_name: &str) -> Leaf {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("server certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// A folder with `cert.pem` and `key.pem`.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(leaf: &Leaf) -> Files {
        let dir = std::env::temp_dir().join(format!(
            "wismo-tls-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let f = Files { dir };
        f.write(&leaf.cert_pem, &leaf.key_pem);
        f
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    fn write(&self, cert: &str, key: &str) {
        std::fs::write(self.key(), key).expect("write key");
        std::fs::write(self.cert(), cert).expect("write cert");
    }

    fn cert_str(&self) -> String {
        self.cert().display().to_string()
    }

    fn key_str(&self) -> String {
        self.key().display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn tls_app(files: &Files, extra: &[(&str, &str)]) -> TestApp {
    let cert = files.cert_str();
    let key = files.key_str();
    let mut settings = vec![("tls_cert", cert.as_str()), ("tls_key", key.as_str())];
    settings.extend_from_slice(extra);
    spawn_app_with(Backend::Sqlite, &settings).await
}

/// A reqwest client that trusts only `ca` (and resolves localhost to the app).
fn client_trusting(ca: &Ca, addr: SocketAddr) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn https(addr: SocketAddr, path: &str) -> String {
    format!("https://localhost:{}{path}", addr.port())
}

/// A rustls client config that trusts only `ca`.
fn rustls_client(ca: &Ca) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert.der().to_vec()))
        .expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

/// A verified TLS connection to the app.
async fn connect_tls(
    ca: &Ca,
    addr: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(rustls_client(ca));
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// The leaf certificate a new connection is served (DER).
async fn served_cert(ca: &Ca, addr: SocketAddr) -> Vec<u8> {
    let tls = connect_tls(ca, addr).await.expect("TLS connection");
    let (_, conn) = tls.get_ref();
    conn.peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .expect("a peer certificate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_verified_certificate_sends_hsts_and_refuses_plain_http() {
    let ca = Ca::new("wismo test CA");
    let leaf = ca.issue("wismo test server");
    let files = Files::new(&leaf);
    let app = tls_app(&files, &[]).await;
    let addr = app.addr;

    // A client that never finishes (or starts) its handshake holds up no one.
    let _silent = TcpStream::connect(addr).await.expect("tcp");

    let client = client_trusting(&ca, addr);
    let res = client
        .get(https(addr, "/healthz"))
        .send()
        .await
        .expect("HTTPS request with a verified certificate");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000; includeSubDomains"),
        "HSTS on every response when serving TLS"
    );
    assert!(!res.text().await.expect("body").trim().is_empty());

    // Also by IP address (the certificate names 127.0.0.1).
    let res = client
        .get(format!("https://127.0.0.1:{}/openapi.json", addr.port()))
        .send()
        .await
        .expect("HTTPS by IP");
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("strict-transport-security"));

    // A client that does not trust the CA refuses the connection.
    let untrusting = reqwest::Client::builder()
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let err = untrusting
        .get(https(addr, "/healthz"))
        .send()
        .await
        .expect_err("an unknown CA is refused");
    assert!(err.is_connect(), "{err:?}");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut tcp = TcpStream::connect(addr).await.expect("tcp");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP must not be answered: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/healthz", addr.port()))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    // The agent session cookie is Secure over HTTPS.
    let hash = wismo_server::agents::hash_password(common::AGENT_PASSWORD).expect("hash");
    app.state
        .sessions
        .db
        .create_agent(&wismo_store::NewAgent {
            id: "a_tls".into(),
            email: "tls@shop.example".into(),
            name: "TLS".into(),
            password_hash: hash,
            role: "agent".into(),
            max_chats: 3,
            languages: Vec::new(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("agent");
    let res = client
        .post(https(addr, "/v1/agent/session"))
        .json(&json!({"email": "tls@shop.example", "password": common::AGENT_PASSWORD}))
        .send()
        .await
        .expect("sign in");
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.starts_with("wismo_agent="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    app.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_sends_no_hsts_and_no_secure_cookie_unless_behind_an_https_proxy() {
    let app = spawn_app_with(Backend::Sqlite, &[("trusted_proxies", "127.0.0.1")]).await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("get");
    assert!(!res.headers().contains_key("strict-transport-security"));
    let hash = wismo_server::agents::hash_password(common::AGENT_PASSWORD).expect("hash");
    app.state
        .sessions
        .db
        .create_agent(&wismo_store::NewAgent {
            id: "a_proxy".into(),
            email: "proxy@shop.example".into(),
            name: "Proxy".into(),
            password_hash: hash,
            role: "agent".into(),
            max_chats: 3,
            languages: Vec::new(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("agent");
    let sign_in = |proto: Option<&'static str>| {
        let mut req = app
            .client
            .post(app.url("/v1/agent/session"))
            .json(&json!({"email": "proxy@shop.example", "password": common::AGENT_PASSWORD}));
        if let Some(p) = proto {
            req = req.header("x-forwarded-proto", p);
        }
        req.send()
    };
    let cookie = |res: &reqwest::Response| {
        res.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let res = sign_in(None).await.expect("sign in");
    assert_eq!(res.status(), 200);
    assert!(!cookie(&res).contains("Secure"), "{}", cookie(&res));
    let res = sign_in(Some("https")).await.expect("sign in");
    assert_eq!(res.status(), 200);
    assert!(cookie(&res).contains("; Secure"), "{}", cookie(&res));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_over_wss_and_shutdown_closes_it_with_going_away() {
    let ca = Ca::new("wismo test CA");
    let files = Files::new(&ca.issue("wismo wss"));
    let app = tls_app(&files, &[]).await;
    let client = client_trusting(&ca, app.addr);
    let res = client
        .post(https(app.addr, "/v1/conversations"))
        .json(&json!({}))
        .send()
        .await
        .expect("create over HTTPS");
    assert_eq!(res.status(), 201);
    let conv: Value = res.json().await.expect("json");
    let id = conv["id"].as_str().expect("id");
    let token = conv["token"].as_str().expect("token");

    let tls = connect_tls(&ca, app.addr).await.expect("TLS");
    let url = format!(
        "wss://localhost:{}/v1/conversations/{id}/ws",
        app.addr.port()
    );
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&format!("wismo.v1, bearer.{token}")).expect("header"),
    );
    let (mut ws, res) = tokio_tungstenite::client_async(req, tls)
        .await
        .expect("WebSocket over TLS");
    assert!(res.headers().contains_key("strict-transport-security"));
    assert_eq!(next_frame(&mut ws).await["type"], "ready");
    ws.send(Message::text(
        json!({"type": "message", "text": "where is my order #1001", "client_message_id": "t1"})
            .to_string(),
    ))
    .await
    .expect("send");
    let mut bot = String::new();
    loop {
        let f = next_frame(&mut ws).await;
        if f["type"] == "message" && f["message"]["role"] == "bot" {
            bot.push_str(f["message"]["text"].as_str().unwrap_or_default());
        }
        if f["type"] == "ack" {
            assert_eq!(f["client_message_id"], "t1");
            break;
        }
    }
    assert!(
        bot.to_lowercase().contains("email"),
        "asks to verify: {bot}"
    );

    // Graceful shutdown closes the secure WebSocket with 1001.
    let stop = tokio::spawn(app.stop());
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("closed within 10 s")
        {
            Some(Ok(Message::Close(c))) => break c,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(closed.map(|c| u16::from(c.code)), Some(1001));
    drop(ws);
    tokio::time::timeout(Duration::from_secs(15), stop)
        .await
        .expect("server stops")
        .expect("task")
        .expect("clean stop");
}

/// The next text frame as JSON (fails after 10 s).
async fn next_frame<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).expect("JSON frame");
        }
    }
}

/// Waits until new connections are served `want` (or fails after 10 s).
async fn until_served(ca: &Ca, addr: SocketAddr, want: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if served_cert(ca, addr).await == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_is_reloaded_when_its_files_change_and_a_bad_one_is_ignored() {
    let ca = Ca::new("wismo test CA");
    let first = ca.issue("first");
    let files = Files::new(&first);
    let app = tls_app(&files, &[]).await;
    assert_eq!(served_cert(&ca, app.addr).await, first.der);
    // A connection open across the change keeps working.
    let client = client_trusting(&ca, app.addr);
    assert_eq!(
        client
            .get(https(app.addr, "/healthz"))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );

    let second = ca.issue("second");
    assert_ne!(second.der, first.der);
    files.write(&second.cert_pem, &second.key_pem);
    until_served(&ca, app.addr, &second.der).await;
    assert_eq!(
        client
            .get(https(app.addr, "/healthz"))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );

    // Garbage in the certificate file: the old certificate keeps serving.
    files.write(
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n",
        &second.key_pem,
    );
    tokio::time::sleep(wismo_server::tls::RELOAD_EVERY * 3).await;
    assert_eq!(served_cert(&ca, app.addr).await, second.der);

    // A certificate with someone else's key: refused too.
    let third = ca.issue("third");
    files.write(&third.cert_pem, &second.key_pem);
    tokio::time::sleep(wismo_server::tls::RELOAD_EVERY * 3).await;
    assert_eq!(served_cert(&ca, app.addr).await, second.der);
    let res = client_trusting(&ca, app.addr)
        .get(https(app.addr, "/healthz"))
        .send()
        .await
        .expect("still served");
    assert_eq!(res.status(), 200);

    // Once the pair is right again it is used.
    files.write(&third.cert_pem, &third.key_pem);
    until_served(&ca, app.addr, &third.der).await;
}

async fn start_error(settings: &[(&str, &str)]) -> String {
    let dir = std::env::temp_dir().join(format!("wismo-tls-start-{}", std::process::id()));
    let db = format!("sqlite://{}/wismo.db?mode=rwc", dir.display());
    let cache = common::model_cache().display().to_string();
    let mut layers = wismo_server::config::Layers::defaults();
    for (k, v) in [
        ("listen", "127.0.0.1:0"),
        ("data_dir", cache.as_str()),
        ("database_url", db.as_str()),
    ]
    .iter()
    .chain(settings)
    {
        layers.flag(k, *v).expect("known setting");
    }
    let config = layers.build().expect("valid config");
    let err = match wismo_server::Server::start(config).await {
        Ok(_) => panic!("the server must not start with {settings:?}"),
        Err(e) => format!("{e:#}"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    err
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test]
async fn start_up_fails_clearly_with_a_missing_or_invalid_certificate() {
    let ca = Ca::new("wismo test CA");
    let files = Files::new(&ca.issue("start"));
    let missing = files.dir.join("missing.pem");

    let err = start_error(&[("tls_cert", &s(&missing)), ("tls_key", &files.key_str())]).await;
    assert!(
        err.contains("cannot read the TLS certificate") && err.contains("missing.pem"),
        "{err}"
    );

    let err = start_error(&[("tls_cert", &files.cert_str()), ("tls_key", &s(&missing))]).await;
    assert!(
        err.contains("cannot read the TLS key") && err.contains("missing.pem"),
        "{err}"
    );

    let junk = files.dir.join("junk.pem");
    std::fs::write(&junk, "hello").expect("write");
    let err = start_error(&[("tls_cert", &s(&junk)), ("tls_key", &files.key_str())]).await;
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let err = start_error(&[("tls_cert", &files.cert_str()), ("tls_key", &s(&junk))]).await;
    assert!(err.contains("holds no usable PEM private key"), "{err}");

    let other = files.dir.join("other-key.pem");
    std::fs::write(&other, ca.issue("other").key_pem).expect("write");
    let err = start_error(&[("tls_cert", &files.cert_str()), ("tls_key", &s(&other))]).await;
    assert!(err.contains("does not match the certificate"), "{err}");

    // One without the other is a configuration error.
    let mut layers = wismo_server::config::Layers::defaults();
    layers.flag("tls_cert", files.cert_str()).expect("flag");
    let err = layers.build().expect_err("tls_key is required").to_string();
    assert!(
        err.contains("tls_key") && err.contains("must be set"),
        "{err}"
    );
}
