//! Card data (PCI DSS) end to end, on SQLite and PostgreSQL: a shopper types
//! card numbers in several formats, a security code, an IBAN and a bank
//! account; an agent replies with a card number, writes a note and a canned
//! reply with one; the shopper rates the help with one in the comment; a Rasa
//! sender sends one. Then the raw database (SQLite files as bytes, every row
//! of every PostgreSQL table as text), every log line at TRACE level and every
//! webhook body are searched: no number may appear, with or without its
//! separators. The shopper must have been warned.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::{
    replies, sign_up_agent, spawn_app_with, token_of, AgentSpec, Backend, Conv, TestApp, BACKENDS,
};
use serde_json::{json, Value};
use sqlx::{Connection, Row};

/// Card numbers (Luhn-valid test numbers) as typed, one per format.
const CARDS: [&str; 9] = [
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "378282246310005",
    "6011.0009.9013.9424",
    "4012888888881881",
    "6011111111111117",
    "3530 1113 3330 0000",
    "5105-1051-0510-5100",
    "4000056655665556",
];
/// Bank data as typed.
const IBAN: &str = "DE89 3704 0044 0532 0130 00";
const IBAN_COMPACT: &str = "GB82WEST12345698765432";
const ACCOUNT: &str = "000123456789";
const ROUTING: &str = "011000015";
/// Security codes, searched with the words around them (3 or 4 digits on
/// their own are everywhere in a database file).
const CVV_PHRASES: [&str; 2] = ["cvv 7373", "security code is 915"];

/// Every log line of the test binary, at TRACE level.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Buf(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
}

#[derive(Clone)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A webhook receiver on 127.0.0.1 that keeps every body.
struct Receiver {
    bodies: Arc<Mutex<Vec<String>>>,
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn keep(State(b): State<Arc<Mutex<Vec<String>>>>, body: String) -> StatusCode {
    b.lock().unwrap_or_else(|p| p.into_inner()).push(body);
    StatusCode::OK
}

async fn receiver() -> Receiver {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/hooks", post(keep))
        .with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        bodies,
        url: format!("http://{addr}/hooks"),
        task,
    }
}

/// The forms a number may take anywhere: as typed, bare digits, and grouped
/// by fours with spaces, dashes or dots.
fn forms(typed: &str) -> Vec<String> {
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    let mut out = vec![typed.to_string(), digits.clone()];
    for sep in [" ", "-", "."] {
        let grouped: Vec<String> = digits
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        out.push(grouped.join(sep));
    }
    out.sort();
    out.dedup();
    out
}

fn secrets() -> Vec<String> {
    let mut all: Vec<String> = CARDS.iter().flat_map(|c| forms(c)).collect();
    for b in [IBAN, IBAN_COMPACT] {
        all.extend(forms(b));
        all.push(b.replace(' ', ""));
    }
    all.extend(forms(ACCOUNT));
    all.extend(forms(ROUTING));
    all.extend(CVV_PHRASES.iter().map(|s| s.to_string()));
    all
}

/// The secrets found in `hay` (case-insensitive for the letters of an IBAN).
fn leaks(hay: &[u8], secrets: &[String]) -> Vec<String> {
    let hay = hay.to_ascii_lowercase();
    secrets
        .iter()
        .filter(|s| {
            let needle = s.to_ascii_lowercase();
            hay.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .cloned()
        .collect()
}

async fn agent(app: &TestApp, email: &str, name: &str) -> String {
    let id = format!("a_{}", name.to_lowercase());
    let spec = AgentSpec {
        id: &id,
        email,
        name,
        role: "supervisor", // supervisors also manage canned replies
        max_chats: 3,
        languages: &[],
    };
    token_of(&sign_up_agent(app, spec).await.1)
}

async fn act(app: &TestApp, token: &str, conv: &Conv, action: &str, body: Value) -> Value {
    let (s, v) = app
        .post_json(
            token,
            &format!("/v1/agent/conversations/{}/{action}", conv.id),
            body,
        )
        .await;
    assert!(s == 200 || s == 201, "{action}: {s} {v}");
    v
}

/// Everything the scenario makes people type.
async fn scenario(app: &TestApp) {
    let alice = agent(app, "alice@example.com", "Alice").await;
    let shopper = app.create().await;

    // Card numbers in several formats, each answered with a warning.
    for (i, card) in CARDS[..4].iter().enumerate() {
        let r = app
            .say(&shopper, &format!("my card {card} was charged twice"))
            .await;
        assert!(
            replies(&r).contains("don't share card numbers"),
            "warned ({i}): {r}"
        );
        assert!(!r.to_string().contains(card), "{r}");
    }
    let r = app
        .say(&shopper, &format!("the {} please", CVV_PHRASES[0]))
        .await;
    assert!(replies(&r).contains("don't share card numbers"), "{r}");
    let r = app
        .say(&shopper, &format!("my {} if you need it", CVV_PHRASES[1]))
        .await;
    assert!(replies(&r).contains("don't share card numbers"), "{r}");
    let r = app
        .say(&shopper, &format!("refund to my IBAN {IBAN} please"))
        .await;
    assert!(replies(&r).contains("bank account"), "{r}");
    let r = app
        .say(
            &shopper,
            &format!("or {IBAN_COMPACT}, account number {ACCOUNT} routing number {ROUTING}"),
        )
        .await;
    assert!(replies(&r).contains("bank account"), "{r}");

    // The same message twice with one client message id lands once.
    let body = json!({"text": format!("card {}", CARDS[4]), "client_message_id": "pci-1"});
    let (s, first) = app.say_raw(&shopper, body.clone()).await;
    assert_eq!(s, 200, "{first}");
    let (s, again) = app.say_raw(&shopper, body).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["replayed"], true, "{again}");

    // A person takes over; the shopper still types card data.
    let r = app.say(&shopper, "I want to talk to a human").await;
    assert_eq!(r["handoff"]["status"], "queued", "{r}");
    act(app, &alice, &shopper, "accept", json!({})).await;
    let r = app
        .say(&shopper, &format!("here it is: {}", CARDS[5]))
        .await;
    assert!(replies(&r).contains("don't share card numbers"), "{r}");

    // The agent's reply, note, canned reply and tags.
    let v = act(
        app,
        &alice,
        &shopper,
        "messages",
        json!({"text": format!("Is your card {}?", CARDS[6])}),
    )
    .await;
    assert_eq!(v["message"]["text"], "Is your card [card number removed]?");
    act(
        app,
        &alice,
        &shopper,
        "notes",
        json!({"text": format!("shopper said {} on the phone", CARDS[7])}),
    )
    .await;
    let (s, v) = app.post_json(&alice,
        "/v1/agent/canned-replies",
        json!({"shortcut": "/card", "title": "card", "text": format!("test card {}", CARDS[8])}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    act(
        app,
        &alice,
        &shopper,
        "resolve",
        json!({"outcome": "other", "tags": [CARDS[0]]}),
    )
    .await;

    // The rating comes with a card number.
    let (s, v) = app
        .post_json(
            &shopper.token,
            &format!("/v1/conversations/{}/csat", shopper.id),
            json!({"score": 4, "comment": format!("thanks, my card was {}", CARDS[1])}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert!(!v.to_string().contains("5555"), "{v}");

    // The Rasa channel.
    let res = app
        .client
        .post(app.url("/webhooks/rest/webhook"))
        .bearer_auth(RASA_TOKEN)
        .json(&json!({"sender": "pci-rasa", "message": format!("card {} cvv 7373", CARDS[2])}))
        .send()
        .await
        .expect("rasa");
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("json");
    assert!(v.to_string().contains("don't share card numbers"), "{v}");

    // Whatever the shopper reads back is clean.
    let t = app.transcript(&shopper).await;
    let found = leaks(t.to_string().as_bytes(), &secrets());
    assert!(found.is_empty(), "transcript leaks {found:?}: {t}");
}

/// Waits for the webhook outbox to drain into the receiver.
async fn wait_for_webhooks(hooks: &Receiver) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let kinds: Vec<String> = hooks
            .bodies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|b| serde_json::from_str::<Value>(b).ok())
            .filter_map(|v| v["type"].as_str().map(str::to_string))
            .collect();
        if kinds.iter().any(|k| k == "csat.submitted") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "webhooks not delivered: {kinds:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// The raw bytes of the SQLite files (database, WAL, shared memory).
fn sqlite_bytes(database_url: &str) -> Vec<u8> {
    let path = database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut all = Vec::new();
    let mut read = 0;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
            all.extend(b);
            read += 1;
        }
    }
    assert!(read >= 1, "no SQLite file at {path}");
    all
}

/// Every row of every table of the PostgreSQL database, as JSON text.
async fn postgres_dump(database_url: &str) -> Vec<u8> {
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .expect("connect");
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables")
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    assert!(tables.len() > 3, "{tables:?}");
    let mut all = Vec::new();
    for t in &tables {
        let rows = sqlx::query(&format!(
            "SELECT row_to_json(x)::text FROM \"{}\" x",
            t.replace('"', "")
        ))
        .fetch_all(&mut conn)
        .await
        .expect("rows");
        for r in rows {
            all.extend(r.get::<String, _>(0).into_bytes());
            all.push(b'\n');
        }
    }
    let _ = conn.close().await;
    all
}

const RASA_TOKEN: &str = "rasa-channel-secret-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_data_is_never_stored_logged_or_sent() {
    let logs = logs().clone();
    let secrets = secrets();
    for backend in BACKENDS {
        let hooks = receiver().await;
        let mut app = spawn_app_with(
            backend,
            &[
                ("webhook_urls", hooks.url.as_str()),
                ("webhook_secret", "whsec-test-0123456789abcdef"),
                ("webhook_retry_base", "50ms"),
                ("rasa_channel", "true"),
                ("rasa_channel_token", RASA_TOKEN),
            ],
        )
        .await;
        scenario(&app).await;
        wait_for_webhooks(&hooks).await;

        let bodies = hooks
            .bodies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n");
        for kind in ["agent.message", "csat.submitted", "handoff.requested"] {
            assert!(bodies.contains(kind), "no {kind} webhook: {bodies}");
        }
        let found = leaks(bodies.as_bytes(), &secrets);
        assert!(found.is_empty(), "{backend:?}: webhooks leak {found:?}");

        let url = app.database_url.clone();
        let key_file = app
            .state
            .sessions
            .db
            .crypt()
            .path()
            .expect("a data key file")
            .to_path_buf();
        app.stop_server().await.expect("clean stop");
        let stored = match backend {
            Backend::Sqlite => sqlite_bytes(&url),
            Backend::Postgres => postgres_dump(&url).await,
        };
        // The messages are encrypted at rest: read them back with the key.
        let db = wismo_store::Db::connect_with_key_file(&url, &key_file)
            .await
            .expect("reopen");
        let mut text = String::new();
        for (id, _) in db
            .conversations_since(chrono::DateTime::UNIX_EPOCH)
            .await
            .expect("conversations")
        {
            let events = db.load_events(&id).await.expect("events");
            text.push_str(&serde_json::to_string(&events).expect("json"));
        }
        db.close().await;
        assert!(
            text.contains("[card number removed]")
                && text.contains("[security code removed]")
                && text.contains("[bank account removed]"),
            "{backend:?}: the redacted messages are stored"
        );
        let found = leaks(&stored, &secrets);
        assert!(
            found.is_empty(),
            "{backend:?}: the database leaks {found:?}"
        );
    }
    let captured = logs.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        captured.len() > 1000,
        "logs were captured ({} bytes)",
        captured.len()
    );
    let found = leaks(&captured, &secrets);
    assert!(found.is_empty(), "the logs leak {found:?}");
}

/// A card number typed over two messages, the second sent to another
/// server sharing the database: neither part stays in the stored log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_split_over_two_messages_is_not_stored() {
    for backend in BACKENDS {
        let a = spawn_app_with(backend, &[]).await;
        let b = spawn_app_with(backend, &[("database_url", a.database_url.as_str())]).await;
        let conv = a.create().await;
        let first = a.say(&conv, "my card is 4111 1111").await;
        assert!(!first.to_string().is_empty());
        let second = b.say(&conv, "1111 1111 thanks").await;
        assert!(
            !second.to_string().contains("1111 1111"),
            "{backend:?}: {second}"
        );
        let events = a
            .state
            .sessions
            .db
            .load_events(&conv.id)
            .await
            .expect("events");
        let said: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                wismo_core::dialogue::Event::UserSaid { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(said.len(), 2, "{said:?}");
        for text in &said {
            assert!(
                !text.chars().any(|c| c.is_ascii_digit()),
                "{backend:?}: card digits stored: {said:?}"
            );
        }
        assert!(said[0].starts_with("my card is "), "{said:?}");
        assert!(said[1].ends_with(" thanks"), "{said:?}");
        // The transcript the shopper reads back is clean too.
        let t = a.transcript(&conv).await.to_string();
        assert!(!t.contains("4111") && !t.contains("1111 1111"), "{t}");
    }
}
