//! Live conversations: the session manager.
//!
//! A conversation's truth is its event log in the database. A [`Session`]
//! holds the state folded from it (never the whole log) plus a broadcast
//! channel to the WebSockets watching it. Turns of one conversation queue
//! on the session's lock (FIFO), so they run one at a time and in arrival
//! order; different conversations run in parallel. A turn appends only its
//! own new events, so the 500th turn costs what the 1st did.
//!
//! Sessions nobody has used for a while are dropped from memory and
//! rebuilt from the log when they are needed again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use wismo_core::dialogue::{Awaiting, Conversation, Engine, Event, SignedIn};
use wismo_store::{Db, NewConversation};

use crate::config::Config;
use crate::error::ApiError;
use crate::escalation::Escalation;
use crate::webhooks::Webhooks;

/// A secret that proves the right to a conversation: 32 random bytes, hex.
pub fn new_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for a token: {e}")))?;
    Ok(hex(&bytes))
}

/// A new conversation id: `c_` + 16 random bytes, hex.
pub fn new_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for an id: {e}")))?;
    Ok(format!("c_{}", hex(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a token, hex: what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Equal in time independent of where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a string can be a conversation id (checked before any lookup).
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The time source: real, or frozen (demos and tests), plus an offset a
/// test can move forward to see idle sessions expire.
#[derive(Debug, Default)]
pub struct Clock {
    fixed: Option<DateTime<Utc>>,
    skew_ms: AtomicI64,
}

impl Clock {
    pub fn new(fixed: Option<DateTime<Utc>>) -> Self {
        Self {
            fixed,
            skew_ms: AtomicI64::new(0),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let base = self.fixed.unwrap_or_else(Utc::now);
        base + chrono::Duration::milliseconds(self.skew_ms.load(Ordering::Relaxed))
    }

    /// Moves this server's clock forward (tests and demos of session expiry).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 2);
        self.skew_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Frames a slow WebSocket may fall behind by before it catches up from the
/// log instead (small: every open conversation holds this many slots).
const FRAME_BUFFER: usize = 16;

/// A frame for the WebSockets of a conversation.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The connection it came from (0: the server), so a tab's own typing
    /// indicator is not echoed back to it.
    pub origin: u64,
    /// The message id (seq) for message frames, 0 otherwise.
    pub seq: i64,
    pub json: Arc<str>,
}

impl Frame {
    pub fn server(value: &Value) -> Self {
        Self {
            origin: 0,
            seq: 0,
            json: Arc::from(value.to_string()),
        }
    }

    /// A `{"type": "message"}` frame.
    pub fn message(seq: i64, message: &Value) -> Self {
        Self {
            origin: 0,
            seq,
            json: Arc::from(json!({"type": "message", "message": message}).to_string()),
        }
    }
}

/// One conversation in memory.
pub struct Session {
    pub id: String,
    token_hash: String,
    pub(crate) live: tokio::sync::Mutex<Live>,
    /// Frames for every WebSocket watching this conversation.
    pub frames: broadcast::Sender<Frame>,
    /// When it was last used (Unix seconds), for eviction.
    last_used: AtomicI64,
    /// The seq of the last message sent to `frames` (or passed while no
    /// socket watched): only later ones are sent, in seq order, so a
    /// duplicate or late doorbell never sends a message twice. Held while
    /// sending, so frames from a turn and from a gap fill never interleave.
    forwarded: tokio::sync::Mutex<i64>,
    /// The highest seq another instance is known to have committed: a turn
    /// whose state is older reloads from the log first.
    elsewhere: AtomicI64,
}

pub(crate) struct Live {
    /// Folded state; `events` is kept empty (the log is in the database).
    pub(crate) conv: Conversation,
    pub(crate) last_active: DateTime<Utc>,
    /// The seq of the last event this state has folded.
    pub(crate) last_seq: i64,
    /// Set when memory may disagree with the database (a failed write, or
    /// another server appended to this conversation): the next turn
    /// reloads from the log first.
    pub(crate) stale: bool,
}

impl Session {
    fn new(
        id: String,
        token_hash: String,
        conv: Conversation,
        last_active: DateTime<Utc>,
        last_seq: i64,
    ) -> Arc<Session> {
        Arc::new(Session {
            id,
            token_hash,
            live: tokio::sync::Mutex::new(Live {
                conv,
                last_active,
                last_seq,
                stale: false,
            }),
            frames: broadcast::channel(FRAME_BUFFER).0,
            last_used: AtomicI64::new(Utc::now().timestamp()),
            forwarded: tokio::sync::Mutex::new(last_seq),
            elsewhere: AtomicI64::new(0),
        })
    }

    /// Whether `token` is this conversation's.
    pub fn authorize(&self, token: &str) -> bool {
        constant_time_eq(token_hash(token).as_bytes(), self.token_hash.as_bytes())
    }

    pub(crate) fn used_now(&self) {
        self.last_used
            .store(Utc::now().timestamp(), Ordering::Relaxed);
    }
}

/// A message as the API shows it.
pub fn message_json(seq: i64, event: &Event) -> Option<Value> {
    match event {
        Event::UserSaid { text, at, .. } => Some(json!({
            "id": seq.to_string(),
            "role": "user",
            "text": text,
            "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })),
        Event::BotSaid {
            text,
            at,
            quick_replies,
            order_card,
            template,
        } => {
            let mut m = json!({
                "id": seq.to_string(),
                "role": "bot",
                "text": text,
                "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
            // Sent on the store's initiative, not in answer to the shopper.
            if template.starts_with("proactive.") {
                m["proactive"] = json!(true);
            }
            if !quick_replies.is_empty() {
                m["quick_replies"] = json!(quick_replies);
            }
            if let Some(card) = order_card {
                m["order_card"] = json!(card);
            }
            Some(m)
        }
        Event::AgentSaid { agent, text, at } => Some(json!({
            "id": seq.to_string(),
            "role": "agent",
            "agent": agent,
            "text": text,
            "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })),
        Event::AgentJoined { agent, at } => Some(system(
            seq,
            "agent_joined",
            format!("{agent} joined the conversation"),
            at,
            json!({"agent": agent}),
        )),
        Event::AgentTransferred { from, to, at } => Some(system(
            seq,
            "agent_transferred",
            format!("{from} passed the conversation to {to}"),
            at,
            json!({"agent": from, "to": to}),
        )),
        Event::AgentLeft {
            agent,
            at,
            resolved: true,
            ..
        } => Some(system(
            seq,
            "resolved",
            format!("{agent} marked this as resolved"),
            at,
            json!({"agent": agent}),
        )),
        Event::AgentLeft { agent, at, .. } => Some(system(
            seq,
            "back_to_bot",
            format!("{agent} handed the conversation back to the assistant"),
            at,
            json!({"agent": agent}),
        )),
        _ => None,
    }
}

/// A notice about people: `kind` and the names let clients say it in their
/// own language; `text` is English.
fn system(seq: i64, kind: &str, text: String, at: &DateTime<Utc>, names: Value) -> Value {
    let mut m = json!({
        "id": seq.to_string(),
        "role": "system",
        "kind": kind,
        "text": text,
        "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if let (Some(m), Value::Object(names)) = (m.as_object_mut(), names) {
        m.extend(names);
    }
    m
}

/// A message as agents see it: the shopper's view plus internal notes.
pub fn agent_message_json(seq: i64, event: &Event) -> Option<Value> {
    match event {
        Event::NoteAdded { agent, text, at } => Some(json!({
            "id": seq.to_string(),
            "role": "note",
            "agent": agent,
            "text": text,
            "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })),
        e => message_json(seq, e),
    }
}

/// Where a conversation stands with people: the hand-off reason once one
/// was requested, and the person who owns it now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Handoff {
    pub reason: Option<String>,
    pub agent: Option<String>,
    pub case_id: Option<String>,
    pub wait_secs: Option<u32>,
    /// The outcome of the last resolved hand-off (until a new one starts).
    pub resolution: Option<String>,
    /// While queued: someone was online when the shopper was last told the
    /// wait (false: the case waits for an email follow-up).
    pub agents_online: bool,
    /// While queued and nobody online: the bot asked for an email.
    pub wants_contact: bool,
}

impl Handoff {
    pub fn of(state: &wismo_core::dialogue::state::State) -> Self {
        Self {
            reason: state.handoff.clone(),
            agent: state.agent.clone(),
            case_id: state.case_id.clone(),
            wait_secs: state.wait_secs,
            resolution: state.resolution.clone(),
            agents_online: state.agents_online,
            wants_contact: state.wants_contact,
        }
    }

    /// The hand-off object of the API: `assigned` while a person owns the
    /// conversation, `queued` while it waits for one, `requested` when the
    /// bot asked but it is not queued (yet), `resolved` after a person
    /// settled it, else `none`.
    pub fn json(&self) -> Value {
        let r = &self.reason;
        let case = &self.case_id;
        match (&self.agent, r, case) {
            (Some(a), _, _) => {
                json!({"status": "assigned", "reason": r, "agent": a, "case_id": case})
            }
            (None, _, Some(_)) => json!({
                "status": "queued", "reason": r, "agent": null, "case_id": case,
                "wait_seconds": self.wait_secs.filter(|_| self.agents_online),
                "agents_online": self.agents_online,
                "email_follow_up": !self.agents_online && !self.wants_contact,
            }),
            (None, Some(_), None) => {
                json!({"status": "requested", "reason": r, "agent": null, "case_id": null})
            }
            (None, None, None) => match &self.resolution {
                Some(o) => {
                    json!({"status": "resolved", "reason": null, "agent": null, "case_id": null, "outcome": o})
                }
                None => json!({"status": "none", "reason": null, "agent": null, "case_id": null}),
            },
        }
    }
}

/// A conversation that was just created.
pub struct Created {
    pub id: String,
    pub token: String,
    pub messages: Vec<Value>,
    pub locale: Option<String>,
}

/// What `create` is asked for.
#[derive(Debug, Default)]
pub struct CreateRequest {
    pub locale: Option<String>,
    pub channel: String,
    pub metadata: Value,
    pub customer: Option<SignedIn>,
    /// The customer signed in with a customer token: recorded as an
    /// `Event::CustomerSignedIn` in the log.
    pub signed_in: bool,
    /// A fixed id (the Rasa channel derives one from the sender); `None`
    /// makes a random one.
    pub id: Option<String>,
}

/// Whether a session may leave memory: no WebSocket watches it, nothing
/// else holds it, and no turn is running on it.
fn evictable(s: &Arc<Session>) -> bool {
    s.frames.receiver_count() == 0 && Arc::strong_count(s) == 1 && s.live.try_lock().is_ok()
}

/// The sessions of this server and what they need to run turns.
pub struct Sessions {
    pub db: Db,
    /// The engine in use (swapped by a store reload; a turn keeps the one it started with).
    pub engine: Arc<crate::live::EngineCell>,
    pub clock: Clock,
    pub escalation: Arc<Escalation>,
    /// CRM events: hand-offs, agent messages, resolutions, ratings.
    pub webhooks: Webhooks,
    /// Makes the next turn's engine call fail (tests of the failure path:
    /// the shopper's message is kept and the conversation goes to a person).
    #[doc(hidden)]
    pub fail_next_turn: std::sync::atomic::AtomicBool,
    /// Doorbells to and from the other instances (off: one instance).
    pub bus: crate::bus::Bus,
    pub(crate) idle: Duration,
    /// Failure tests only: where every turn sleeps, and how long.
    pub(crate) test_pause: Option<crate::config::TurnPause>,
    /// Conversations held in memory at most; past it the least recently
    /// used idle ones are dropped (the log has them).
    max_live: usize,
    map: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    pub fn new(
        db: Db,
        engine: Arc<crate::live::EngineCell>,
        webhooks: Webhooks,
        bus: crate::bus::Bus,
        config: &Config,
    ) -> Self {
        Self {
            bus,
            webhooks,
            fail_next_turn: std::sync::atomic::AtomicBool::new(false),
            db,
            engine,
            clock: Clock::new(config.now),
            escalation: Arc::new(Escalation::new(config.auto_assign)),
            idle: config.session_idle,
            test_pause: config.test_turn_pause,
            max_live: config.max_live_conversations.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert/remove/get).
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of conversations held in memory.
    pub fn in_memory(&self) -> usize {
        self.map().len()
    }

    /// Creates a conversation, greets, and stores both.
    pub async fn create(&self, req: CreateRequest) -> Result<Created, ApiError> {
        let id = match req.id {
            Some(id) => id,
            None => new_id()?,
        };
        let token = new_secret()?;
        let hash = token_hash(&token);
        let now = self.clock.now();
        let mut conv = Conversation::new(id.clone());
        conv.locale = req.locale.clone();
        match (&req.customer, req.signed_in) {
            (Some(c), true) => {
                conv.sign_in(c.clone(), now);
            }
            _ => conv.customer = req.customer.clone(),
        }
        self.engine.get().greet(&mut conv, now);
        let events = std::mem::take(&mut conv.events);
        let customer = req
            .customer
            .as_ref()
            .and_then(|c| c.customer_id.clone().or_else(|| c.email.clone()));
        let last = self
            .db
            .create_conversation_with(
                &NewConversation {
                    id: id.clone(),
                    token_hash: hash.clone(),
                    locale: req.locale.clone(),
                    channel: req.channel,
                    metadata: req.metadata,
                    customer,
                    created_at: now,
                },
                &events,
            )
            .await?;
        let first = last - events.len() as i64 + 1;
        let messages = (first..)
            .zip(&events)
            .filter_map(|(seq, e)| message_json(seq, e))
            .collect();
        let session = Session::new(id.clone(), hash, conv, now, last);
        self.hold(id.clone(), session);
        Ok(Created {
            id,
            token,
            messages,
            locale: req.locale,
        })
    }

    /// The session of `id`, loading it from the log when it is not in memory.
    /// `None` when there is no such conversation.
    pub async fn get(&self, id: &str) -> Result<Option<Arc<Session>>, ApiError> {
        if !plausible_id(id) {
            return Ok(None);
        }
        if let Some(s) = self.map().get(id) {
            s.used_now();
            return Ok(Some(s.clone()));
        }
        let Some(row) = self.db.conversation(id).await? else {
            return Ok(None);
        };
        let (conv, last_active, last_seq) = self.load_conversation(&row).await?;
        let session = Session::new(id.to_string(), row.token_hash, conv, last_active, last_seq);
        // Another request may have loaded it meanwhile: keep the first.
        Ok(Some(self.hold(id.to_string(), session)))
    }

    /// Keeps `session` in memory (or the one already there), first dropping
    /// the least recently used idle tenth when `max_live` are held.
    fn hold(&self, id: String, session: Arc<Session>) -> Arc<Session> {
        let mut map = self.map();
        if map.len() >= self.max_live && !map.contains_key(&id) {
            let target = self.max_live - self.max_live / 10 - 1;
            let mut idle: Vec<(i64, String)> = map
                .iter()
                .filter(|(_, s)| evictable(s))
                .map(|(k, s)| (s.last_used.load(Ordering::Relaxed), k.clone()))
                .collect();
            idle.sort_unstable();
            let excess = map.len().saturating_sub(target);
            for (_, k) in idle.into_iter().take(excess) {
                map.remove(&k);
            }
        }
        map.entry(id).or_insert(session).clone()
    }

    /// The session of `id` if `token` is its token; otherwise
    /// [`ApiError::Unauthorized`], whether or not it exists.
    pub async fn authorized(
        &self,
        id: &str,
        token: Option<&str>,
    ) -> Result<Arc<Session>, ApiError> {
        let token = token.ok_or(ApiError::Unauthorized)?;
        match self.get(id).await? {
            Some(s) if s.authorize(token) => Ok(s),
            _ => Err(ApiError::Unauthorized),
        }
    }

    async fn load_conversation(
        &self,
        row: &wismo_store::ConversationRow,
    ) -> Result<(Conversation, DateTime<Utc>, i64), ApiError> {
        let numbered = self.db.events_after(&row.id, 0).await?;
        let last_seq = numbered.last().map_or(0, |(seq, _)| *seq);
        let events: Vec<Event> = numbered.into_iter().map(|(_, e)| e).collect();
        let mut last_active = row.created_at;
        for e in &events {
            if let Event::UserSaid { at, .. } | Event::BotSaid { at, .. } = e {
                last_active = last_active.max(*at);
            }
        }
        let mut conv = Conversation::from_events(row.id.clone(), events);
        conv.events.clear();
        conv.locale = row.locale.clone();
        conv.customer = row.customer.as_ref().map(|c| {
            if c.contains('@') {
                SignedIn {
                    customer_id: None,
                    email: Some(c.clone()),
                }
            } else {
                SignedIn {
                    customer_id: Some(c.clone()),
                    email: None,
                }
            }
        });
        Ok((conv, last_active, last_seq))
    }

    /// Runs one shopper message through the engine and stores what
    /// happened. With a `client_message_id` seen before, returns the stored
    /// answer instead (the message lands once).
    pub async fn turn(
        &self,
        session: &Arc<Session>,
        text: &str,
        client_message_id: Option<&str>,
    ) -> Result<Value, ApiError> {
        self.turn_counted(session, text, client_message_id)
            .await
            .map(|(v, _)| v)
    }

    /// Whether the conversation waits for an order number or for the
    /// shopper to prove an order is theirs (the answers that guess orders).
    pub async fn verifying(&self, session: &Session) -> bool {
        let live = session.live.lock().await;
        matches!(
            live.conv
                .state
                .flow
                .as_ref()
                .and_then(|f| f.awaiting.as_ref()),
            Some(Awaiting::Verification | Awaiting::OrderNumber | Awaiting::ChooseOrder)
        )
    }

    /// When `text` starts with digits that complete a card number begun at
    /// the end of the conversation's previous shopper message (as stored,
    /// so any server of a cluster sees it): removes those digits from the
    /// stored previous message and returns `text` with its part replaced.
    pub(crate) async fn split_card_number(
        &self,
        id: &str,
        text: &str,
    ) -> Result<Option<String>, ApiError> {
        use wismo_core::redact::{leading_digits, split_card, trailing_digits, CARD_MARKER};
        let Some((head_start, head_end, head)) = leading_digits(text) else {
            return Ok(None);
        };
        let Some((seq, previous)) = self.db.last_user_text(id).await? else {
            return Ok(None);
        };
        let Some((tail_start, tail)) = trailing_digits(&previous) else {
            return Ok(None);
        };
        if !split_card(&tail, &head) {
            return Ok(None);
        }
        let cleaned = format!("{}{CARD_MARKER}", &previous[..tail_start]);
        self.db.rewrite_user_text(id, seq, &cleaned).await?;
        tracing::info!(conversation = %id, "card number split over two messages removed");
        Ok(Some(format!(
            "{}{CARD_MARKER}{}",
            &text[..head_start],
            &text[head_end..]
        )))
    }

    /// The order number the conversation is asking about, if any
    /// (normalised: no `#`, lower case), for the per-order limit.
    pub async fn order_in_question(&self, session: &Session) -> Option<String> {
        let live = session.live.lock().await;
        live.conv
            .state
            .slots
            .get("order_number")
            .map(|n| n.trim().trim_start_matches('#').to_ascii_lowercase())
            .filter(|n| !n.is_empty())
    }

    /// [`Sessions::turn`], also returning how many order verifications
    /// failed in the turn (0 for a replay).
    pub async fn turn_counted(
        &self,
        session: &Arc<Session>,
        text: &str,
        client_message_id: Option<&str>,
    ) -> Result<(Value, u32), ApiError> {
        self.turn_checked(session, text, client_message_id, false, false)
            .await
    }

    pub(crate) async fn reload_if_stale(
        &self,
        session: &Session,
        live: &mut Live,
    ) -> Result<(), ApiError> {
        if live.stale || session.elsewhere.load(Ordering::Acquire) > live.last_seq {
            let row = self
                .db
                .conversation(&session.id)
                .await?
                .ok_or_else(|| ApiError::Internal("conversation vanished".into()))?;
            let (conv, last_active, last_seq) = self.load_conversation(&row).await?;
            live.conv = conv;
            live.last_active = last_active;
            live.last_seq = last_seq;
            live.stale = false;
        }
        Ok(())
    }

    /// Something the store's people did in a conversation (outside a
    /// shopper's turn): `act` records its events on the conversation; they
    /// are stored, and the shopper's tabs get the messages they may see and
    /// the new hand-off state. Returns the events with their seqs.
    pub async fn staff(
        &self,
        session: &Arc<Session>,
        act: impl FnOnce(&Engine, &mut Conversation, DateTime<Utc>) -> Vec<Event>,
    ) -> Result<(Vec<(i64, Event)>, Handoff), ApiError> {
        let mut live = session.live.lock().await;
        session.used_now();
        self.reload_if_stale(session, &mut live).await?;
        let now = self.clock.now();
        let events = act(&self.engine.get(), &mut live.conv, now);
        live.conv.events.clear();
        let last = match self.db.append_events(&session.id, &events).await {
            Ok(last) => last,
            Err(e) => {
                live.stale = true;
                return Err(e.into());
            }
        };
        let first = last - events.len() as i64 + 1;
        if first != live.last_seq + 1 {
            live.stale = true;
        }
        live.last_seq = last;
        live.last_active = now;
        let handoff = Handoff::of(&live.conv.state);
        let numbered: Vec<(i64, Event)> = (first..).zip(events).collect();
        if !numbered.is_empty() {
            self.bus.publish(&session.id, last);
        }
        let messages: Vec<(i64, Value)> = numbered
            .iter()
            .filter_map(|(seq, e)| message_json(*seq, e).map(|m| (*seq, m)))
            .collect();
        self.forward(session, first, last, messages.iter().map(|(s, m)| (*s, m)))
            .await;
        if session.frames.receiver_count() > 0 {
            let _ = session.frames.send(Frame::server(
                &json!({"type": "handoff", "handoff": handoff.json()}),
            ));
        }
        drop(live);
        Ok((numbered, handoff))
    }

    /// Signs the shopper in (a verified customer token): records
    /// `CustomerSignedIn` unless they already are this customer. Another
    /// customer is refused: what this conversation has shown belongs to
    /// whoever is signed in.
    pub async fn sign_in(&self, session: &Arc<Session>, who: SignedIn) -> Result<(), ApiError> {
        let mut conflict = false;
        self.staff(session, |_, conv, now| match conv.signed_in() {
            Some(current) if current == who => Vec::new(),
            Some(_) => {
                conflict = true;
                Vec::new()
            }
            None => vec![conv.sign_in(who, now)],
        })
        .await?;
        if conflict {
            return Err(ApiError::conflict(
                "already_signed_in",
                "this conversation is signed in as another customer: start a new conversation",
            ));
        }
        Ok(())
    }

    /// The transcript: every message with a seq after `after`, plus the
    /// current hand-off state.
    pub async fn transcript(
        &self,
        session: &Session,
        after: i64,
    ) -> Result<(Vec<Value>, Handoff), ApiError> {
        let events = self.db.events_after(&session.id, after).await?;
        let mut state = wismo_core::dialogue::state::State::default();
        let mut messages = Vec::new();
        for (seq, e) in &events {
            state.apply(e);
            if let Some(m) = message_json(*seq, e) {
                messages.push(m);
            }
        }
        let handoff = if after > 0 {
            // Hand-off state needs the whole log; read it from memory.
            self.handoff(session).await
        } else {
            Handoff::of(&state)
        };
        Ok((messages, handoff))
    }

    /// Sends the messages of a commit of this instance (seqs `first..=last`)
    /// to the session's sockets, after any messages other instances
    /// committed before them that were not forwarded yet (read from the
    /// log). Only seqs after the session's cursor are sent.
    pub(crate) async fn forward<'a>(
        &self,
        session: &Session,
        first: i64,
        last: i64,
        messages: impl Iterator<Item = (i64, &'a Value)>,
    ) {
        let mut cursor = session.forwarded.lock().await;
        if session.frames.receiver_count() > 0 {
            if self.bus.is_on() && first > *cursor + 1 {
                // Another instance committed in between and its doorbell
                // has not come (yet): from the log first.
                if let Err(e) = self
                    .send_from_log(session, &mut cursor, Some(first - 1))
                    .await
                {
                    tracing::warn!(conversation = %session.id, error = %e, "gap fill failed");
                }
            }
            for (seq, m) in messages {
                if seq > *cursor {
                    let _ = session.frames.send(Frame::message(seq, m));
                    *cursor = seq;
                }
            }
        }
        *cursor = (*cursor).max(last);
    }

    /// Sends the session's sockets the messages in the log after the
    /// cursor (up to `upto`), in seq order, and moves the cursor. When
    /// hand-off events were among them, also the new hand-off state.
    /// Returns the last seq read.
    async fn send_from_log(
        &self,
        session: &Session,
        cursor: &mut i64,
        upto: Option<i64>,
    ) -> Result<i64, ApiError> {
        let from = *cursor;
        let events = self.db.events_after(&session.id, from).await?;
        let mut handoff_changed = false;
        let mut sent = 0usize;
        for (seq, e) in &events {
            if upto.is_some_and(|u| *seq > u) {
                break;
            }
            if *seq <= *cursor {
                continue;
            }
            if let Some(m) = message_json(*seq, e) {
                let _ = session.frames.send(Frame::message(*seq, &m));
                sent += 1;
            }
            handoff_changed |= matches!(
                e,
                Event::HandoffRequested { .. }
                    | Event::HandoffQueued { .. }
                    | Event::HandoffUpdated { .. }
                    | Event::AgentJoined { .. }
                    | Event::AgentLeft { .. }
                    | Event::AgentTransferred { .. }
            );
            *cursor = *seq;
        }
        if handoff_changed {
            // The hand-off state needs the whole log (memory may be stale).
            let all = self.db.events_after(&session.id, 0).await?;
            let state = wismo_core::dialogue::state::State::fold(all.iter().map(|(_, e)| e));
            let _ = session.frames.send(Frame::server(
                &json!({"type": "handoff", "handoff": Handoff::of(&state).json()}),
            ));
        }
        tracing::debug!(conversation = %session.id, after = from, to = *cursor, sent, "gap fill from the log");
        Ok(events.last().map_or(from, |(seq, _)| *seq))
    }

    /// Shows `role` typing (or not) to the sockets of `id` held here (a
    /// session not in memory has no sockets here: nothing to do).
    pub fn typing_here(&self, id: &str, role: &str, on: bool) {
        if let Some(session) = self.map().get(id).cloned() {
            let _ = session.frames.send(Frame::server(
                &serde_json::json!({"type": "typing", "role": role, "on": on}),
            ));
        }
    }

    /// A doorbell from another instance: `id` has events up to `seq` in
    /// the log. A session held here is marked as changed elsewhere (its
    /// next turn reloads) and its sockets get the messages they lack. A
    /// conversation not in memory needs nothing: it loads from the log.
    pub async fn doorbell(&self, id: &str, seq: i64) {
        let Some(session) = self.map().get(id).cloned() else {
            return;
        };
        session.elsewhere.fetch_max(seq, Ordering::AcqRel);
        let mut cursor = session.forwarded.lock().await;
        if seq <= *cursor {
            // A duplicate or late doorbell: already forwarded.
            return;
        }
        if session.frames.receiver_count() == 0 {
            *cursor = seq;
            return;
        }
        let span = tracing::debug_span!("doorbell", conversation = %id, seq);
        let filled =
            tracing::Instrument::instrument(self.send_from_log(&session, &mut cursor, None), span)
                .await;
        if let Err(e) = filled {
            tracing::warn!(conversation = %id, seq, error = %e, "gap fill after a doorbell failed");
        }
    }

    /// After the NATS connection came back (doorbells may have been
    /// missed): every watched session gets what the log has after its
    /// cursor; sessions nobody uses are dropped from memory so they load
    /// afresh from the log.
    pub async fn refill_watched(&self) {
        let watched: Vec<Arc<Session>> = self
            .map()
            .values()
            .filter(|s| s.frames.receiver_count() > 0)
            .cloned()
            .collect();
        let dropped = self.evict_idle(Duration::ZERO);
        tracing::debug!(
            watched = watched.len(),
            dropped,
            "gap fill after a NATS reconnect"
        );
        for session in watched {
            let mut cursor = session.forwarded.lock().await;
            match self.send_from_log(&session, &mut cursor, None).await {
                Ok(last) => {
                    session.elsewhere.fetch_max(last, Ordering::AcqRel);
                }
                Err(e) => {
                    tracing::warn!(conversation = %session.id, error = %e, "gap fill after a reconnect failed")
                }
            }
        }
    }

    /// Drops sessions unused for `older_than` that no WebSocket watches
    /// and no turn is using. Returns how many were dropped.
    pub fn evict_idle(&self, older_than: Duration) -> usize {
        let cutoff = Utc::now().timestamp() - older_than.as_secs() as i64;
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, s| s.last_used.load(Ordering::Relaxed) > cutoff || !evictable(s));
        before - map.len()
    }

    /// Drops conversations from memory (after they were erased or purged).
    pub fn forget(&self, ids: &[String]) {
        let mut map = self.map();
        for id in ids {
            map.remove(id);
        }
    }

    /// The first order the shopper verified in this conversation, if any.
    pub async fn verified_order(&self, session: &Session) -> Option<String> {
        let live = session.live.lock().await;
        live.conv.state.verified_orders.iter().next().cloned()
    }

    /// The session's hand-off state (from memory).
    pub async fn handoff(&self, session: &Session) -> Handoff {
        Handoff::of(&session.live.lock().await.conv.state)
    }
}
