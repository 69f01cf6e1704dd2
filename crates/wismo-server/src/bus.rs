//! Live updates across instances: the doorbell.
//!
//! The database event log is the truth. After a turn's events are
//! committed, the instance that ran it rings a doorbell on NATS subject
//! `wismo.conv.<conversation id>` with `{"conversation", "seq",
//! "instance"}` (core NATS, no JetStream). Every instance subscribes to
//! `wismo.conv.*`; a doorbell from another instance for a conversation it
//! holds in memory marks that session as changed elsewhere and, when
//! sockets watch it, reads the events after the last one it forwarded from
//! the log and sends them (see [`crate::sessions::Sessions::doorbell`]).
//! A lost doorbell costs latency only: the next doorbell, the next local
//! turn or a reconnect fills the gap from the log.
//!
//! The agent consoles' signals (a new hand-off in the queue, the queue
//! changed, activity in a conversation with a hand-off) go to every instance
//! too, on subject `wismo.console` with `{"instance", "signal"}`: an agent
//! whose console is connected to instance B hears of a hand-off queued on
//! instance A at once. A lost one costs little: consoles ask for a queue
//! snapshot on every signal and every reconnect.
//!
//! Without `nats_url` the bus is [`Bus::off`]: nothing is published and
//! nothing is received (one instance, in-process broadcast only).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// The subject prefix: `wismo.conv.<conversation id>`.
pub const SUBJECT_PREFIX: &str = "wismo.conv.";
/// What every instance subscribes to.
pub const SUBJECT_ALL: &str = "wismo.conv.*";
/// The consoles' signals.
pub const SUBJECT_CONSOLE: &str = "wismo.console";
/// "Orders changed here": every instance forgets its cached orders.
pub const SUBJECT_ORDERS: &str = "wismo.orders";
/// Typing indicators: `wismo.typing.<conversation id>` (ephemeral: never
/// stored, a lost one is simply not shown).
pub const TYPING_PREFIX: &str = "wismo.typing.";
/// What every instance subscribes to for typing indicators.
pub const TYPING_ALL: &str = "wismo.typing.*";

/// Doorbells waiting to be handed to the NATS client; when full (NATS far
/// behind), new ones are dropped: a lost doorbell costs latency only.
const OUTBOX: usize = 4096;
/// Received doorbells waiting for the server; dropped when full likewise.
const INBOX: usize = 4096;

/// The longest wait between two reconnect attempts: a restarted NATS is
/// found again within about this (the client's default backs off to 4 s).
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// The wait before reconnect attempt `attempts` (1-based): at once, then
/// doubling from 20 ms up to [`MAX_RECONNECT_DELAY`].
fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(10);
    (Duration::from_millis(20) * 2u32.pow(doublings)).min(MAX_RECONNECT_DELAY)
}

/// The payload of a doorbell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doorbell {
    pub conversation: String,
    /// The conversation's last seq after the commit.
    pub seq: i64,
    /// The instance that committed it.
    pub instance: String,
}

/// A typing indicator as it travels between instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TypingBell {
    instance: String,
    conversation: String,
    role: String,
    on: bool,
}

/// A console signal as it travels between instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ConsoleBell {
    instance: String,
    signal: ConsoleSignal,
}

/// [`crate::escalation::Signal`] on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ConsoleSignal {
    Queue,
    NewHandoff {
        conversation_id: String,
        case_id: String,
        reason: String,
        priority_label: String,
    },
    Activity {
        conversation_id: String,
        seq: i64,
        agent_id: Option<String>,
    },
}

impl From<&crate::escalation::Signal> for ConsoleSignal {
    fn from(s: &crate::escalation::Signal) -> Self {
        use crate::escalation::Signal as S;
        match s {
            S::Queue => ConsoleSignal::Queue,
            S::NewHandoff {
                conversation_id,
                case_id,
                reason,
                priority_label,
            } => ConsoleSignal::NewHandoff {
                conversation_id: conversation_id.clone(),
                case_id: case_id.clone(),
                reason: reason.clone(),
                priority_label: (*priority_label).to_string(),
            },
            S::Activity {
                conversation_id,
                seq,
                agent_id,
            } => ConsoleSignal::Activity {
                conversation_id: conversation_id.clone(),
                seq: *seq,
                agent_id: agent_id.clone(),
            },
        }
    }
}

impl From<ConsoleSignal> for crate::escalation::Signal {
    fn from(s: ConsoleSignal) -> Self {
        use crate::escalation::Signal as S;
        match s {
            ConsoleSignal::Queue => S::Queue,
            ConsoleSignal::NewHandoff {
                conversation_id,
                case_id,
                reason,
                priority_label,
            } => S::NewHandoff {
                conversation_id,
                case_id,
                reason,
                // Only the labels wismo writes travel; anything else reads as normal.
                priority_label: match priority_label.as_str() {
                    "high" => "high",
                    "low" => "low",
                    _ => "normal",
                },
            },
            ConsoleSignal::Activity {
                conversation_id,
                seq,
                agent_id,
            } => S::Activity {
                conversation_id,
                seq,
                agent_id,
            },
        }
    }
}

/// What the bus tells this instance.
#[derive(Debug, Clone)]
pub enum Signal {
    /// Another instance committed events of a conversation up to `seq`.
    Doorbell { conversation: String, seq: i64 },
    /// Another instance's console signal, for the consoles connected here.
    Console(crate::escalation::Signal),
    /// Another instance changed orders: forget the cached ones.
    OrdersChanged,
    /// Someone is typing (or stopped) in a conversation, on another instance.
    Typing {
        conversation: String,
        role: String,
        on: bool,
    },
    /// The NATS connection came back: doorbells may have been missed.
    Reconnected,
}

/// Whether a conversation id can be a subject token (no `.`, `*`, `>` or
/// white space); ids that cannot are never announced.
fn subject_safe(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Clone)]
struct Nats {
    client: async_nats::Client,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    instance: String,
    /// Rung after every local commit (wakes the event stream's relay).
    commits: std::sync::Arc<tokio::sync::Notify>,
}

/// The doorbell: off (one instance) or NATS.
#[derive(Clone)]
pub struct Bus {
    nats: Option<Nats>,
}

impl Bus {
    /// No cross-instance updates.
    pub fn off() -> Bus {
        Bus { nats: None }
    }

    /// Whether doorbells are sent and received.
    pub fn is_on(&self) -> bool {
        self.nats.is_some()
    }

    /// The NATS connection, for the durable event stream (`None` when off).
    pub fn client(&self) -> Option<&async_nats::Client> {
        self.nats.as_ref().map(|n| &n.client)
    }

    /// Notified after every commit this instance announces.
    pub fn commits(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        self.nats.as_ref().map(|n| n.commits.clone())
    }

    /// This instance's id (random at start), `None` when off.
    pub fn instance(&self) -> Option<&str> {
        self.nats.as_ref().map(|n| n.instance.as_str())
    }

    /// Connects to NATS at `url` (in the background: a server that is down
    /// at start is retried, and the instance serves meanwhile) and
    /// subscribes to every conversation's doorbell. Returns the bus and the
    /// signals for this instance.
    pub async fn connect(url: &str) -> anyhow::Result<(Bus, mpsc::Receiver<Signal>)> {
        let instance = instance_id()?;
        let (signals, inbox) = mpsc::channel::<Signal>(INBOX);
        let on_event = signals.clone();
        let (address, credentials) = split_credentials(url)?;
        let options = match credentials {
            Some(Credentials::UserPassword(user, password)) => {
                async_nats::ConnectOptions::with_user_and_password(user, password)
            }
            Some(Credentials::Token(token)) => async_nats::ConnectOptions::with_token(token),
            None => async_nats::ConnectOptions::new(),
        };
        let client = options
            .name(format!("wismo {instance}"))
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .reconnect_delay_callback(reconnect_delay)
            .event_callback(move |event| {
                let on_event = on_event.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("NATS connected");
                            let _ = on_event.try_send(Signal::Reconnected);
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("NATS disconnected; live updates from other instances wait for the reconnect")
                        }
                        other => tracing::debug!(event = %other, "NATS event"),
                    }
                }
            })
            .connect(address.as_str())
            .await
            .map_err(|e| anyhow::anyhow!("cannot set up the NATS connection: {e}"))?;
        let mut subscriber = client
            .subscribe(SUBJECT_ALL)
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe to {SUBJECT_ALL}: {e}"))?;
        let mut console = client
            .subscribe(SUBJECT_CONSOLE)
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe to {SUBJECT_CONSOLE}: {e}"))?;
        let mut typing = client
            .subscribe(TYPING_ALL)
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe to {TYPING_ALL}: {e}"))?;
        let mut orders = client
            .subscribe(SUBJECT_ORDERS)
            .await
            .map_err(|e| anyhow::anyhow!("cannot subscribe to {SUBJECT_ORDERS}: {e}"))?;
        let (me, to_server) = (instance.clone(), signals.clone());
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(msg) = orders.next().await {
                if msg.payload.as_ref() != me.as_bytes()
                    && to_server.send(Signal::OrdersChanged).await.is_err()
                {
                    return;
                }
            }
        });
        let (me, to_server) = (instance.clone(), signals.clone());
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(msg) = typing.next().await {
                let Ok(bell) = serde_json::from_slice::<TypingBell>(&msg.payload) else {
                    continue;
                };
                if bell.instance == me || !subject_safe(&bell.conversation) {
                    continue;
                }
                // Dropped when the inbox is full: a typing indicator is not worth waiting for.
                let _ = to_server.try_send(Signal::Typing {
                    conversation: bell.conversation,
                    role: bell.role,
                    on: bell.on,
                });
            }
        });
        let (me, to_server) = (instance.clone(), signals.clone());
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(msg) = console.next().await {
                let Ok(bell) = serde_json::from_slice::<ConsoleBell>(&msg.payload) else {
                    tracing::debug!("ignored a console signal that does not parse");
                    continue;
                };
                if bell.instance != me
                    && to_server
                        .try_send(Signal::Console(bell.signal.into()))
                        .is_err()
                {
                    tracing::warn!(
                        "console signal inbox full; consoles catch up on their next snapshot"
                    );
                }
            }
        });
        let me = instance.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(msg) = subscriber.next().await {
                let Ok(bell) = serde_json::from_slice::<Doorbell>(&msg.payload) else {
                    tracing::debug!(subject = %msg.subject, "ignored a doorbell that does not parse");
                    continue;
                };
                if bell.instance == me || !subject_safe(&bell.conversation) {
                    continue;
                }
                let signal = Signal::Doorbell {
                    conversation: bell.conversation,
                    seq: bell.seq,
                };
                if signals.try_send(signal).is_err() {
                    tracing::warn!("doorbell inbox full; a gap fill will catch up");
                }
            }
        });
        let (outbox, mut queue) = mpsc::channel::<(String, Vec<u8>)>(OUTBOX);
        let publisher = client.clone();
        tokio::spawn(async move {
            while let Some((subject, payload)) = queue.recv().await {
                if let Err(e) = publisher.publish(subject, payload.into()).await {
                    tracing::debug!(error = %e, "doorbell not published");
                }
            }
        });
        tracing::info!(instance = %instance, "live updates across instances through NATS");
        Ok((
            Bus {
                nats: Some(Nats {
                    client,
                    outbox,
                    instance,
                    commits: Default::default(),
                }),
            },
            inbox,
        ))
    }

    /// Rings the doorbell of `conversation` at `seq` (after its events are
    /// committed). Never waits: the doorbell is queued for the publisher
    /// task, or dropped when that queue is full.
    pub fn publish(&self, conversation: &str, seq: i64) {
        let Some(n) = &self.nats else {
            return;
        };
        n.commits.notify_one();
        if !subject_safe(conversation) {
            return;
        }
        let payload = serde_json::to_vec(&Doorbell {
            conversation: conversation.to_string(),
            seq,
            instance: n.instance.clone(),
        })
        .unwrap_or_default();
        let subject = format!("{SUBJECT_PREFIX}{conversation}");
        match n.outbox.try_send((subject, payload)) {
            Ok(()) => tracing::trace!(conversation = %conversation, seq, "doorbell"),
            Err(_) => {
                tracing::debug!(conversation = %conversation, seq, "doorbell dropped (outbox full)")
            }
        }
    }

    /// Tells the other instances that this one changed orders (they forget
    /// their cached ones). Never waits.
    pub fn publish_orders_changed(&self) {
        let Some(n) = &self.nats else {
            return;
        };
        let _ = n
            .outbox
            .try_send((SUBJECT_ORDERS.to_string(), n.instance.clone().into_bytes()));
    }

    /// Tells the other instances that `role` started or stopped typing in
    /// `conversation` (never waits; dropped when the publisher is behind).
    pub fn publish_typing(&self, conversation: &str, role: &str, on: bool) {
        let Some(n) = &self.nats else {
            return;
        };
        if !subject_safe(conversation) {
            return;
        }
        let bell = TypingBell {
            instance: n.instance.clone(),
            conversation: conversation.to_string(),
            role: role.to_string(),
            on,
        };
        let Ok(payload) = serde_json::to_vec(&bell) else {
            return;
        };
        let _ = n
            .outbox
            .try_send((format!("{TYPING_PREFIX}{conversation}"), payload));
    }

    /// Tells the other instances' consoles `signal` (never waits; dropped
    /// when the publisher is far behind).
    pub fn publish_console(&self, signal: &crate::escalation::Signal) {
        let Some(n) = &self.nats else {
            return;
        };
        let bell = ConsoleBell {
            instance: n.instance.clone(),
            signal: signal.into(),
        };
        let Ok(payload) = serde_json::to_vec(&bell) else {
            return;
        };
        if n.outbox
            .try_send((SUBJECT_CONSOLE.to_string(), payload))
            .is_err()
        {
            tracing::debug!("console signal dropped (outbox full)");
        }
    }

    /// For `/readyz`: `"off"`, `"ok"` or `"unreachable"`.
    pub fn status(&self) -> &'static str {
        match &self.nats {
            None => "off",
            Some(n) => match n.client.connection_state() {
                async_nats::connection::State::Connected => "ok",
                _ => "unreachable",
            },
        }
    }

    /// Waits until everything queued so far was handed to the server
    /// (tests and shutdown).
    pub async fn flush(&self) {
        if let Some(n) = &self.nats {
            let _ = tokio::time::timeout(Duration::from_secs(2), n.client.flush()).await;
        }
    }
}

/// Credentials taken from a `nats_url`.
#[derive(Debug, PartialEq, Eq)]
enum Credentials {
    /// `nats://user:password@host`
    UserPassword(String, String),
    /// `nats://token@host`
    Token(String),
}

/// The server address without credentials, and the credentials (the NATS
/// client does not read them from the URL itself).
fn split_credentials(url: &str) -> anyhow::Result<(String, Option<Credentials>)> {
    let mut parsed =
        reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("nats_url is not a URL: {e}"))?;
    let user = percent_decode(parsed.username());
    let password = parsed.password().map(percent_decode);
    let credentials = match (user.is_empty(), password) {
        (true, None) => None,
        (_, Some(p)) => Some(Credentials::UserPassword(user, p)),
        (false, None) => Some(Credentials::Token(user)),
    };
    if credentials.is_some() {
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("nats_url has no host"))?;
    let address = match parsed.port() {
        Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
        None => format!("{}://{host}", parsed.scheme()),
    };
    Ok((address, credentials))
}

/// `%xx` escapes of URL user info, decoded (invalid ones kept as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A new random instance id (`i_<16 hex>`).
pub(crate) fn instance_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for an instance id: {e}"))?;
    Ok(format!(
        "i_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_take_only_plain_ids() {
        assert!(subject_safe("c_0123abcd"));
        assert!(subject_safe("rasa-abc_1"));
        assert!(!subject_safe(""));
        assert!(!subject_safe("a.b"));
        assert!(!subject_safe("a*"));
        assert!(!subject_safe("a>"));
        assert!(!subject_safe("a b"));
    }

    #[test]
    fn credentials_leave_the_url() {
        let (a, c) = split_credentials("tls://wismo:p%40ss@nats.internal:4443").expect("url");
        assert_eq!(a, "tls://nats.internal:4443");
        assert_eq!(
            c,
            Some(Credentials::UserPassword("wismo".into(), "p@ss".into()))
        );
        let (a, c) = split_credentials("nats://s3cret@127.0.0.1:4222").expect("url");
        assert_eq!(a, "nats://127.0.0.1:4222");
        assert_eq!(c, Some(Credentials::Token("s3cret".into())));
        let (a, c) = split_credentials("nats://127.0.0.1").expect("url");
        assert_eq!(a, "nats://127.0.0.1");
        assert_eq!(c, None);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn reconnects_back_off_to_half_a_second() {
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(2), Duration::from_millis(20));
        assert_eq!(reconnect_delay(3), Duration::from_millis(40));
        assert_eq!(reconnect_delay(7), MAX_RECONNECT_DELAY);
        assert_eq!(reconnect_delay(usize::MAX), MAX_RECONNECT_DELAY);
    }

    #[test]
    fn the_off_bus_does_nothing() {
        let bus = Bus::off();
        assert!(!bus.is_on());
        assert_eq!(bus.status(), "off");
        bus.publish("c_1", 3);
    }

    #[test]
    fn doorbells_are_small_json() {
        let d = Doorbell {
            conversation: "c_1".into(),
            seq: 7,
            instance: "i_ab".into(),
        };
        let text = serde_json::to_string(&d).unwrap_or_default();
        assert_eq!(text, r#"{"conversation":"c_1","seq":7,"instance":"i_ab"}"#);
    }

    /// Against the NATS server on 127.0.0.1:4222: a doorbell goes out and
    /// comes back to another instance; publishing costs microseconds.
    #[tokio::test]
    async fn doorbells_reach_other_instances_and_publishing_is_cheap() {
        let url = std::env::var("WISMO_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_string());
        let (a, _a_in) = Bus::connect(&url).await.expect("bus a");
        let (b, mut b_in) = Bus::connect(&url).await.expect("bus b");
        // Both connected and subscribed.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while (a.status() != "ok" || b.status() != "ok") && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(a.status(), "ok", "NATS must run on {url}");
        b.flush().await;
        let conv = format!("c_bustest{}", a.instance().unwrap_or("x"));
        a.publish(&conv, 41);
        let got = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match b_in.recv().await {
                    Some(Signal::Doorbell { conversation, seq }) if conversation == conv => {
                        return Some(seq)
                    }
                    Some(_) => continue,
                    None => return None,
                }
            }
        })
        .await
        .expect("the doorbell within 2 s");
        assert_eq!(got, Some(41));
        // The cost a turn pays.
        let n = 2000u32;
        let started = std::time::Instant::now();
        for i in 0..n {
            a.publish(&conv, 100 + i64::from(i));
        }
        let per = started.elapsed() / n;
        eprintln!("publish: {per:?} per doorbell");
        assert!(per < Duration::from_micros(50), "publish took {per:?}");
    }
}
