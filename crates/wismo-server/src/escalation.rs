//! The escalation manager: hand-offs wait in a queue for a person.
//!
//! When the engine asks for a person (or fails mid-conversation), the turn
//! queues the conversation: a `handoffs` row with its reason, priority and
//! the context an agent needs, and an honest message to the shopper (the
//! likely wait, or, with nobody online, an offer to continue by email).
//! Agents take conversations from the queue (or get them assigned: the
//! least-loaded online agent with free capacity who speaks the language),
//! talk to the shopper, transfer, hand back or resolve; every step is an
//! event in the conversation's log, a row update, a signal to the agent
//! consoles and a CRM event.
//!
//! "Online" means an agent has the console's event stream open.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use wismo_core::dialogue::{handoff_update_due, order_state, Conversation, Event, HandoffQueue};
use wismo_core::redact::redact_text;
use wismo_store::{Agent, Db, Handoff, NewHandoff};

use crate::error::ApiError;
use crate::sessions::{Session, Sessions};
use crate::AppState;

/// A hand-off a turn queued: the case and what the shopper was told.
#[derive(Debug, Clone)]
pub(crate) struct QueuedHandoff {
    pub handoff: Handoff,
    /// The honest wait; `None` when nobody was online.
    pub wait: Option<u32>,
    pub contact_email: Option<String>,
}

/// What the agent consoles hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// Something in the queue or the roster changed: send a new snapshot.
    Queue,
    /// A new hand-off entered the queue (sound and notification).
    NewHandoff {
        conversation_id: String,
        case_id: String,
        reason: String,
        priority_label: &'static str,
    },
    /// Something was appended to a conversation with an open hand-off;
    /// `agent_id` owns it (`None`: still queued).
    Activity {
        conversation_id: String,
        seq: i64,
        agent_id: Option<String>,
    },
}

/// Queue, presence and the consoles' signal bus.
pub struct Escalation {
    pub bus: broadcast::Sender<Signal>,
    /// The other instances' consoles (set once at start; unset: one instance).
    remote: std::sync::OnceLock<crate::bus::Bus>,
    presence: Mutex<HashMap<String, usize>>,
    /// Who is online on the other instances (set once at start, with Redis).
    shared: std::sync::OnceLock<Arc<crate::presence::SharedPresence>>,
    pub auto_assign: bool,
}

/// Counts an agent as online until dropped.
pub struct Presence {
    escalation: Arc<Escalation>,
    agent_id: String,
}

impl Drop for Presence {
    fn drop(&mut self) {
        let mut p = self.escalation.presence();
        if let Some(n) = p.get_mut(&self.agent_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                p.remove(&self.agent_id);
                self.escalation.share(&self.agent_id, false);
            }
        }
        drop(p);
        self.escalation.signal(Signal::Queue);
    }
}

impl Escalation {
    pub fn new(auto_assign: bool) -> Self {
        Self {
            bus: broadcast::channel(256).0,
            remote: std::sync::OnceLock::new(),
            presence: Mutex::new(HashMap::new()),
            shared: std::sync::OnceLock::new(),
            auto_assign,
        }
    }

    fn presence(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.presence.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks an agent online while the returned guard lives.
    pub fn connect(self: &Arc<Self>, agent_id: &str) -> Presence {
        let first = {
            let mut p = self.presence();
            let n = p.entry(agent_id.to_string()).or_default();
            *n += 1;
            *n == 1
        };
        if first {
            self.share(agent_id, true);
        }
        self.signal(Signal::Queue);
        Presence {
            escalation: self.clone(),
            agent_id: agent_id.to_string(),
        }
    }

    /// The agents online: with a console stream open here or, with Redis,
    /// on another instance.
    pub fn online(&self) -> HashSet<String> {
        let mut online = self.online_here();
        if let Some(shared) = self.shared.get() {
            online.extend(shared.elsewhere());
        }
        online
    }

    /// The agents with a console stream open on this instance.
    pub fn online_here(&self) -> HashSet<String> {
        self.presence().keys().cloned().collect()
    }

    /// Shares who is online here through Redis, and reads the others.
    pub fn share_presence(self: &Arc<Self>, shared: Arc<crate::presence::SharedPresence>) {
        if self.shared.set(shared.clone()).is_ok() {
            shared.start(Arc::downgrade(self));
        }
    }

    /// Tells the shared view (if any) that `agent_id` came online here or left.
    fn share(&self, agent_id: &str, online: bool) {
        let (Some(shared), Ok(rt)) = (self.shared.get(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let (shared, agent) = (shared.clone(), agent_id.to_string());
        rt.spawn(async move { shared.set(&agent, online).await });
    }

    /// Tells the consoles connected here and, through the bus, those
    /// connected to the other instances.
    pub fn signal(&self, s: Signal) {
        if let Some(b) = self.remote.get() {
            b.publish_console(&s);
        }
        let _ = self.bus.send(s);
    }

    /// A signal from another instance, for the consoles connected here only.
    pub fn signal_here(&self, s: Signal) {
        let _ = self.bus.send(s);
    }

    /// Sends every later signal to the other instances' consoles too.
    pub fn share_through(&self, bus: crate::bus::Bus) {
        let _ = self.remote.set(bus);
    }
}

/// The base priority of a hand-off: its reason, how upset the shopper is,
/// and what the order is worth. Waiting adds to it (see [`effective_priority`]).
pub fn priority(reason: &str, sentiments: &[f32], order_total: Option<f64>) -> i64 {
    let mut p = match reason {
        "bot_error" => 40,
        "negative_sentiment" | "store_unavailable" => 30,
        "payment_dispute" | "damage_claim" | "wrong_item_claim" | "missing_item_claim"
        | "delivery_claim" => 25,
        "not_understood" => 15,
        _ => 20,
    };
    let recent: Vec<f32> = sentiments.iter().rev().take(3).copied().collect();
    if !recent.is_empty() {
        let avg = recent.iter().sum::<f32>() / recent.len() as f32;
        if avg <= -0.5 {
            p += 25;
        } else if avg <= -0.2 {
            p += 10;
        }
    }
    match order_total {
        Some(t) if t >= 250.0 => p += 15,
        Some(t) if t >= 100.0 => p += 8,
        _ => {}
    }
    p
}

/// Priority now: one point per minute waited, up to 30.
pub fn effective_priority(h: &Handoff, now: DateTime<Utc>) -> i64 {
    let waited = (now - h.requested_at).num_minutes().clamp(0, 30);
    h.priority + if h.status == "queued" { waited } else { 0 }
}

pub fn priority_label(p: i64) -> &'static str {
    if p >= 50 {
        "high"
    } else if p >= 25 {
        "normal"
    } else {
        "low"
    }
}

/// The honest wait for the next person, in seconds: `None` when nobody is
/// online. `capacity` has (max, active) of each online agent who can take
/// the conversation; `ahead` is how many wait before it; `recent` are
/// recent request-to-assignment times.
pub fn estimate_wait(capacity: &[(u32, i64)], ahead: usize, recent: &[i64]) -> Option<u32> {
    if capacity.is_empty() {
        return None;
    }
    let free: i64 = capacity
        .iter()
        .map(|(max, active)| (i64::from(*max) - active).max(0))
        .sum();
    if free > ahead as i64 {
        return Some(60);
    }
    let mut sorted = recent.to_vec();
    sorted.sort_unstable();
    let typical = sorted
        .get(sorted.len() / 2)
        .copied()
        .unwrap_or(180)
        .clamp(60, 3600);
    let needed = ahead as i64 + 1 - free;
    let rounds = (needed + capacity.len() as i64 - 1) / capacity.len() as i64;
    Some(u32::try_from((rounds * typical).clamp(60, 4 * 3600)).unwrap_or(4 * 3600))
}

/// Whether an agent answers in `locale` (no languages: any).
pub fn speaks(agent: &Agent, locale: Option<&str>) -> bool {
    agent.languages.is_empty() || locale.is_none_or(|l| agent.languages.iter().any(|x| x == l))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The hand-off case id as a number (`H-12` -> 12).
pub fn case_number(case_id: &str) -> Option<i64> {
    case_id.strip_prefix("H-")?.parse().ok()
}

fn agent_ref(a: Option<&Agent>) -> Value {
    match a {
        Some(a) => json!({"id": a.id, "name": a.name}),
        None => Value::Null,
    }
}

/// An agent as the API shows it (never the password hash).
pub fn agent_json(a: &Agent) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "email": a.email,
        "role": a.role,
        "max_chats": a.max_chats,
        "languages": a.languages,
    })
}

/// The short order summary of a case (a verified order only).
async fn order_summary(db: &Db, number: Option<&str>) -> Value {
    let Some(n) = number else {
        return Value::Null;
    };
    match db.find_order(n).await {
        Ok(Some(o)) => json!({
            "order_number": o.number,
            "state": order_state(&o).name(),
            "total": o.total_price,
            "currency": o.currency,
        }),
        _ => json!({"order_number": n, "state": null, "total": null, "currency": null}),
    }
}

/// A case as agents see it.
pub async fn case_json(db: &Db, h: &Handoff, agents: &[Agent], now: DateTime<Utc>) -> Value {
    let agent = h
        .agent_id
        .as_deref()
        .and_then(|id| agents.iter().find(|a| a.id == id));
    let p = effective_priority(h, now);
    let until = h.closed_at.or(h.assigned_at).unwrap_or(now);
    let trend: Vec<f32> = h.sentiments.iter().rev().take(10).rev().copied().collect();
    json!({
        "case_id": h.case_id(),
        "conversation_id": h.conversation_id,
        "status": h.status,
        "reason": h.reason,
        "priority": p,
        "priority_label": priority_label(p),
        "requested_at": ts(h.requested_at),
        "waiting_seconds": (until - h.requested_at).num_seconds().max(0),
        "agent": agent_ref(agent),
        "locale": h.locale,
        "intent": h.intent,
        "sentiment": {"last": trend.last(), "trend": trend},
        "order": order_summary(db, h.order_number.as_deref()).await,
        "contact_email": h.contact_email,
        "offline": h.offline,
        "outcome": h.outcome,
        "tags": h.tags,
        "last_message": match (&h.last_role, &h.last_text, h.last_at) {
            (Some(role), Some(text), Some(at)) => json!({"role": role, "text": text, "created_at": ts(at)}),
            _ => Value::Null,
        },
    })
}

/// The queue as one agent sees it: waiting cases (highest priority first),
/// their own, and the roster.
pub async fn queue_json(state: &AppState, me: &Agent) -> Result<Value, ApiError> {
    let db = &state.sessions.db;
    let now = state.sessions.clock.now();
    let agents = db.agents().await?;
    let mut open = db.open_handoffs().await?;
    open.sort_by_key(|h| (-effective_priority(h, now), h.id));
    let active: HashMap<String, i64> = db.active_chats().await?.into_iter().collect();
    let online = state.sessions.escalation.online();
    let mut queue = Vec::new();
    let mut mine = Vec::new();
    for h in &open {
        if h.status == "queued" {
            queue.push(case_json(db, h, &agents, now).await);
        } else if h.agent_id.as_deref() == Some(me.id.as_str()) {
            mine.push(case_json(db, h, &agents, now).await);
        }
    }
    let roster: Vec<Value> = agents
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "name": a.name,
                "online": online.contains(&a.id),
                "active_chats": active.get(&a.id).copied().unwrap_or(0),
                "max_chats": a.max_chats,
                "languages": a.languages,
            })
        })
        .collect();
    Ok(json!({"queue": queue, "mine": mine, "agents": roster}))
}

/// The verified order in full, for the agent's side panel.
pub async fn order_detail(db: &Db, number: &str) -> Value {
    let Ok(Some(o)) = db.find_order(number).await else {
        return Value::Null;
    };
    let f = o.fulfillments.last();
    json!({
        "order_number": o.number,
        "state": order_state(&o).name(),
        "placed_at": ts(o.created_at),
        "total": o.total_price,
        "currency": o.currency,
        "email": o.email,
        "items": o.line_items.iter().map(|i| json!({
            "name": match &i.variant_title { Some(v) => format!("{} ({v})", i.title), None => i.title.clone() },
            "quantity": i.quantity,
            "price": i.price,
        })).collect::<Vec<_>>(),
        "shipping_address": o.shipping_address,
        "carrier": f.and_then(|f| f.tracking_company.clone()),
        "tracking_number": f.and_then(|f| f.tracking_numbers.first().cloned()),
        "tracking_url": f.and_then(|f| f.tracking_urls.first().cloned()),
        "eta": f.and_then(|f| f.estimated_delivery_at).map(ts),
    })
}

impl Sessions {
    /// Queues a hand-off the engine just requested: the case row, the wait
    /// estimate and the engine's message to the shopper (appended to
    /// `events`). `conv` is the conversation after the turn. With
    /// `earlier`, the case an earlier run of this turn queued before it
    /// lost its append: no second case, the same message again.
    pub(crate) async fn queue_handoff(
        &self,
        conv: &mut Conversation,
        events: &mut Vec<Event>,
        intent: Option<String>,
        last_text: &str,
        earlier: Option<&QueuedHandoff>,
        now: DateTime<Utc>,
    ) -> Result<QueuedHandoff, ApiError> {
        if let Some(queued) = earlier {
            self.handoff_queued_events(conv, events, queued, now);
            return Ok(queued.clone());
        }
        let st = &conv.state;
        let reason = st.handoff.clone().unwrap_or_else(|| "default".into());
        let locale = conv.locale.clone().or_else(|| st.locale.clone());
        let order_number = st.verified_orders.iter().next().cloned();
        let order = match &order_number {
            Some(n) => self.db.find_order(n).await.ok().flatten(),
            None => None,
        };
        let total = order
            .as_ref()
            .and_then(|o| o.total_price.parse::<f64>().ok());
        let contact_email = st
            .verified_email
            .clone()
            .or_else(|| order.as_ref().and_then(|o| o.email.clone()))
            .or_else(|| conv.customer.as_ref().and_then(|c| c.email.clone()));
        let sentiments: Vec<f32> = st.sentiments.iter().rev().take(10).rev().copied().collect();
        let ahead = self
            .db
            .open_handoffs()
            .await?
            .iter()
            .filter(|h| h.status == "queued")
            .count();
        let wait = self.current_wait(locale.as_deref(), ahead).await?;
        // One case number per conversation: the case the flow opened
        // (a damaged-item report's), else an earlier hand-off's.
        let case_ref = match st.slots.get("case_id") {
            Some(c) => Some(c.clone()),
            None => self
                .db
                .handoffs_of(&conv.id)
                .await?
                .last()
                .map(Handoff::case_id),
        };
        let h = self
            .db
            .create_handoff(&NewHandoff {
                conversation_id: conv.id.clone(),
                reason: reason.clone(),
                priority: priority(&reason, &sentiments, total),
                locale,
                intent,
                sentiments,
                order_number,
                contact_email: contact_email.clone(),
                offline: wait.is_none(),
                requested_at: now,
                last_role: Some("user".into()),
                last_text: Some(redact_text(last_text)),
                last_at: Some(now),
                case_ref,
            })
            .await?;
        let queued = QueuedHandoff {
            handoff: h,
            wait,
            contact_email,
        };
        self.handoff_queued_events(conv, events, &queued, now);
        Ok(queued)
    }

    /// The conversation's events for a hand-off queued (by this turn, or by
    /// an earlier run of it that lost its append to another server: the
    /// case is not queued twice, and its events and webhook are not lost).
    fn handoff_queued_events(
        &self,
        conv: &mut Conversation,
        events: &mut Vec<Event>,
        queued: &QueuedHandoff,
        now: DateTime<Utc>,
    ) {
        let before = conv.events.len();
        self.engine.get().handoff_queued(
            conv,
            HandoffQueue {
                case: queued.handoff.case_id(),
                wait_secs: queued.wait,
                agents_online: queued.wait.is_some(),
                contact_email: queued.contact_email.clone(),
            },
            now,
        );
        events.extend(conv.events.drain(before..));
    }

    /// The honest wait for the next person who speaks `locale` with
    /// `ahead` cases before this one; `None` when nobody is online.
    async fn current_wait(
        &self,
        locale: Option<&str>,
        ahead: usize,
    ) -> Result<Option<u32>, ApiError> {
        let agents = self.db.agents().await?;
        let online = self.escalation.online();
        let active: HashMap<String, i64> = self.db.active_chats().await?.into_iter().collect();
        let capacity: Vec<(u32, i64)> = agents
            .iter()
            .filter(|a| online.contains(&a.id) && speaks(a, locale))
            .map(|a| (a.max_chats, active.get(&a.id).copied().unwrap_or(0)))
            .collect();
        let recent = self.db.recent_waits(20).await?;
        Ok(estimate_wait(&capacity, ahead, &recent))
    }

    /// A shopper wrote while their case waits in the queue: if their wait
    /// changed since they were told ([`handoff_update_due`]), the engine
    /// tells them once (appended to `events`) and the case's offline flag
    /// follows what they were told. Reads the case from the database (the
    /// truth shared by every server). True when an update was given.
    pub(crate) async fn wait_update(
        &self,
        conv: &mut Conversation,
        events: &mut Vec<Event>,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let Some(h) = self.db.open_handoff(&conv.id).await? else {
            return Ok(false);
        };
        if h.status != "queued" {
            return Ok(false);
        }
        let mine = (-effective_priority(&h, now), h.id);
        let ahead = self
            .db
            .open_handoffs()
            .await?
            .iter()
            .filter(|o| o.status == "queued" && (-effective_priority(o, now), o.id) < mine)
            .count();
        let wait = self.current_wait(h.locale.as_deref(), ahead).await?;
        if !handoff_update_due(&conv.state, wait, now) {
            return Ok(false);
        }
        let before = conv.events.len();
        self.engine.get().handoff_update(
            conv,
            HandoffQueue {
                case: h.case_id(),
                wait_secs: wait,
                agents_online: wait.is_some(),
                contact_email: h.contact_email.clone(),
            },
            now,
        );
        events.extend(conv.events.drain(before..));
        if h.offline != wait.is_none() {
            self.db.set_handoff_offline(h.id, wait.is_none()).await?;
        }
        Ok(true)
    }

    /// Bookkeeping after a shopper's turn in a conversation with an open
    /// hand-off (or one queued by this turn): the case's last message and
    /// mood, an email left for an offline case, and the signals.
    pub(crate) async fn after_handoff_turn(
        &self,
        conversation_id: &str,
        queued: Option<&Handoff>,
        events: &[Event],
        last_seq: i64,
        sentiments: &[f32],
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        if let Some(h) = queued {
            let label = priority_label(h.priority);
            self.escalation.signal(Signal::NewHandoff {
                conversation_id: conversation_id.to_string(),
                case_id: h.case_id(),
                reason: h.reason.clone(),
                priority_label: label,
            });
            self.escalation.signal(Signal::Queue);
            self.crm(
                "handoff.requested",
                conversation_id,
                json!({
                    "case_id": h.case_id(),
                    "reason": h.reason,
                    "priority": h.priority,
                    "priority_label": label,
                    "locale": h.locale,
                    "intent": h.intent,
                    "sentiment": h.sentiments.last(),
                    "order_number": h.order_number,
                    "agents_online": !h.offline,
                    "estimated_wait_seconds": events.iter().find_map(|e| match e {
                        Event::HandoffQueued { wait_secs, .. } => *wait_secs,
                        _ => None,
                    }),
                    "offline": h.offline,
                }),
                now,
            )
            .await?;
            return Ok(());
        }
        let Some(h) = self.db.open_handoff(conversation_id).await? else {
            return Ok(());
        };
        let text = events.iter().find_map(|e| match e {
            Event::UserSaid { text, .. } => Some(text.as_str()),
            _ => None,
        });
        if let Some(text) = text {
            let trend: Vec<f32> = sentiments.iter().rev().take(10).rev().copied().collect();
            self.db
                .handoff_activity(h.id, "user", &redact_text(text), now, Some(&trend))
                .await?;
        }
        for e in events {
            if let Event::SlotSet { name, value } = e {
                if name == "contact_email" {
                    self.db.set_handoff_contact(h.id, value).await?;
                    self.crm(
                        "case.contact",
                        conversation_id,
                        json!({"case_id": h.case_id(), "contact_email": value}),
                        now,
                    )
                    .await?;
                }
            }
        }
        self.escalation.signal(Signal::Activity {
            conversation_id: conversation_id.to_string(),
            seq: last_seq,
            agent_id: h.agent_id.clone(),
        });
        self.escalation.signal(Signal::Queue);
        Ok(())
    }

    /// A CRM event: written to the webhook outbox (delivered in the background).
    pub(crate) async fn crm(
        &self,
        kind: &str,
        conversation_id: &str,
        data: Value,
        at: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        self.webhooks
            .emit(kind, conversation_id, data, at)
            .await
            .map(|_| ())
    }
}

/// Why an agent acts on a conversation.
fn open_case(h: Option<Handoff>, conversation_id: &str) -> Result<Handoff, ApiError> {
    h.ok_or_else(|| {
        ApiError::conflict(
            "not_open",
            format!("conversation {conversation_id} has no open hand-off"),
        )
    })
}

async fn session_of(state: &AppState, id: &str) -> Result<Arc<Session>, ApiError> {
    state.sessions.get(id).await?.ok_or_else(|| {
        ApiError::not_found("conversation_not_found", format!("no conversation {id}"))
    })
}

/// The agent may act on this case: it is theirs, or they are a supervisor
/// and someone has it.
fn owned(h: &Handoff, me: &Agent) -> Result<(), ApiError> {
    let mine = h.agent_id.as_deref() == Some(me.id.as_str());
    let supervising = crate::rbac::allows(
        crate::rbac::role_of(me),
        crate::rbac::Permission::ManageOthersCases,
    );
    if h.status == "assigned" && (mine || supervising) {
        Ok(())
    } else {
        Err(ApiError::NotAssigned)
    }
}

/// What an agent wants to do with a conversation, checked before anything
/// else about the request (so a refusal never depends on the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read it or add a note: a queued case, one's own, or (supervisors) any.
    See,
    /// Reply, type, transfer, hand back: the owner (or a supervisor).
    Own,
    /// Resolve: as `Own`, or a queued case (settled outside the chat).
    Close,
}

/// 403 / 404 / 409 when the agent may not do `access` on the conversation.
pub async fn authorize(
    state: &AppState,
    me: &Agent,
    conversation_id: &str,
    access: Access,
) -> Result<(), ApiError> {
    let db = &state.sessions.db;
    let Some(last) = db.handoffs_of(conversation_id).await?.pop() else {
        return Err(ApiError::not_found(
            "conversation_not_found",
            format!("conversation {conversation_id} was never handed off"),
        ));
    };
    if !crate::rbac::may_see(me, &last) {
        tracing::info!(target: "wismo::security", event = "permission_denied", agent = %me.id, conversation = %conversation_id, "conversation not visible to this agent");
        return Err(ApiError::Forbidden(
            "this conversation is neither waiting in the queue nor assigned to you".into(),
        ));
    }
    match access {
        Access::See => Ok(()),
        Access::Close if last.status == "queued" => Ok(()),
        Access::Own | Access::Close => {
            let h = open_case(Some(last).filter(Handoff::is_open), conversation_id)?;
            owned(&h, me)
        }
    }
}

async fn check_capacity(db: &Db, agent: &Agent) -> Result<(), ApiError> {
    let active = db
        .active_chats()
        .await?
        .into_iter()
        .find(|(id, _)| *id == agent.id)
        .map_or(0, |(_, n)| n);
    if active >= i64::from(agent.max_chats) {
        return Err(ApiError::conflict(
            "at_capacity",
            format!(
                "{} already has {active} of {} conversations",
                agent.name, agent.max_chats
            ),
        ));
    }
    Ok(())
}

/// An agent takes a queued conversation (`by`: `accept` or `auto`).
pub async fn accept(
    state: &AppState,
    me: &Agent,
    conversation_id: &str,
    by: &str,
) -> Result<Handoff, ApiError> {
    let s = &state.sessions;
    let session = session_of(state, conversation_id).await?;
    let h = open_case(s.db.open_handoff(conversation_id).await?, conversation_id)?;
    if h.status == "assigned" {
        return if h.agent_id.as_deref() == Some(me.id.as_str()) {
            Ok(h)
        } else {
            Err(ApiError::conflict(
                "already_assigned",
                format!("{} is already assigned to someone else", h.case_id()),
            ))
        };
    }
    check_capacity(&s.db, me).await?;
    let now = s.clock.now();
    if !s.db.assign_handoff(h.id, &me.id, None, now).await? {
        return Err(ApiError::conflict(
            "already_assigned",
            format!("{} was just taken by someone else", h.case_id()),
        ));
    }
    let name = me.name.clone();
    s.staff(&session, move |_, conv, now| {
        vec![conv.record(Event::AgentJoined {
            agent: name,
            at: now,
        })]
    })
    .await?;
    s.crm(
        "handoff.assigned",
        conversation_id,
        json!({
            "case_id": h.case_id(),
            "agent": {"id": me.id, "name": me.name},
            "by": by,
            "waited_seconds": (now - h.requested_at).num_seconds().max(0),
        }),
        now,
    )
    .await?;
    s.escalation.signal(Signal::Queue);
    refreshed(&s.db, h.id).await
}

async fn refreshed(db: &Db, id: i64) -> Result<Handoff, ApiError> {
    db.handoff(id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("hand-off {id} vanished")))
}

/// Records one event made at the current time; returns it with its seq.
async fn record_one(
    s: &Sessions,
    session: &Arc<Session>,
    make: impl FnOnce(DateTime<Utc>) -> Event,
) -> Result<(i64, Event), ApiError> {
    let (mut numbered, _) = s
        .staff(session, move |_, conv, now| vec![conv.record(make(now))])
        .await?;
    numbered
        .pop()
        .ok_or_else(|| ApiError::Internal("no event appended".into()))
}

/// An agent's message to the shopper. Returns its seq and event.
pub async fn say(
    state: &AppState,
    me: &Agent,
    conversation_id: &str,
    text: &str,
) -> Result<(i64, Event), ApiError> {
    let s = &state.sessions;
    let session = session_of(state, conversation_id).await?;
    let h = open_case(s.db.open_handoff(conversation_id).await?, conversation_id)?;
    owned(&h, me)?;
    // Card data (PCI DSS) never leaves here: not to the log, the hand-off
    // row, the shopper or the webhooks.
    let text = redact_text(text);
    let text = text.as_str();
    let (name, owned_text) = (me.name.clone(), text.to_string());
    let (seq, event) = record_one(s, &session, move |at| Event::AgentSaid {
        agent: name,
        text: owned_text,
        at,
    })
    .await?;
    let now = s.clock.now();
    s.db.handoff_activity(h.id, "agent", text, now, None)
        .await?;
    s.crm(
        "agent.message",
        conversation_id,
        json!({
            "case_id": h.case_id(),
            "agent": {"id": me.id, "name": me.name},
            "message": {"id": seq.to_string(), "text": text, "created_at": ts(now)},
        }),
        now,
    )
    .await?;
    s.escalation.signal(Signal::Activity {
        conversation_id: conversation_id.to_string(),
        seq,
        agent_id: Some(me.id.clone()),
    });
    Ok((seq, event))
}

/// An internal note (any agent, on a conversation that was handed off).
pub async fn note(
    state: &AppState,
    me: &Agent,
    conversation_id: &str,
    text: &str,
) -> Result<(i64, Event), ApiError> {
    let s = &state.sessions;
    let session = session_of(state, conversation_id).await?;
    let h =
        s.db.handoffs_of(conversation_id)
            .await?
            .pop()
            .ok_or_else(|| {
                ApiError::not_found(
                    "conversation_not_found",
                    format!("conversation {conversation_id} was never handed off"),
                )
            })?;
    let (name, owned_text) = (me.name.clone(), redact_text(text));
    let (seq, event) = record_one(s, &session, move |at| Event::NoteAdded {
        agent: name,
        text: owned_text,
        at,
    })
    .await?;
    s.escalation.signal(Signal::Activity {
        conversation_id: conversation_id.to_string(),
        seq,
        agent_id: h.agent_id.clone(),
    });
    Ok((seq, event))
}

/// Passes an owned conversation to another agent.
pub async fn transfer(
    state: &AppState,
    me: &Agent,
    conversation_id: &str,
    to: &str,
) -> Result<Handoff, ApiError> {
    let s = &state.sessions;
    let session = session_of(state, conversation_id).await?;
    let h = open_case(s.db.open_handoff(conversation_id).await?, conversation_id)?;
    owned(&h, me)?;
    let target =
        s.db.agent(to)
            .await?
            .ok_or_else(|| ApiError::not_found("agent_not_found", format!("no agent {to}")))?;
    if target.id == me.id {
        return Ok(h);
    }
    check_capacity(&s.db, &target).await?;
    let now = s.clock.now();
    if !s
        .db
        .assign_handoff(h.id, &target.id, h.agent_id.as_deref(), now)
        .await?
    {
        return Err(ApiError::NotAssigned);
    }
    let (from, to_name) = (me.name.clone(), target.name.clone());
    s.staff(&session, move |_, conv, now| {
        vec![conv.record(Event::AgentTransferred {
            from,
            to: to_name,
            at: now,
        })]
    })
    .await?;
    s.crm(
        "handoff.transferred",
        conversation_id,
        json!({
            "case_id": h.case_id(),
            "from": {"id": me.id, "name": me.name},
            "to": {"id": target.id, "name": target.name},
        }),
        now,
    )
    .await?;
    s.escalation.signal(Signal::Queue);
    refreshed(&s.db, h.id).await
}

/// Hands an owned conversation back to the bot, or resolves it (an owned
/// one, or a queued one settled outside the chat, e.g. by email).
pub async fn close(
    state: &AppState,
    me: &Agent,
    conversation_id: &str,
    resolution: Option<(String, Vec<String>)>,
) -> Result<Handoff, ApiError> {
    let s = &state.sessions;
    let session = session_of(state, conversation_id).await?;
    let h = open_case(s.db.open_handoff(conversation_id).await?, conversation_id)?;
    if resolution.is_none() || h.status == "assigned" {
        owned(&h, me)?;
    }
    let now = s.clock.now();
    let status = if resolution.is_some() {
        "resolved"
    } else {
        "released"
    };
    let (outcome, tags) = match &resolution {
        Some((o, t)) => (Some(o.as_str()), t.clone()),
        None => (None, Vec::new()),
    };
    if !s
        .db
        .close_handoff(h.id, status, now, outcome, &tags)
        .await?
    {
        return Err(ApiError::conflict(
            "not_open",
            format!("{} was closed meanwhile", h.case_id()),
        ));
    }
    let name = me.name.clone();
    let res = resolution.clone();
    s.staff(&session, move |engine, conv, now| {
        engine.agent_left(conv, &name, res, now)
    })
    .await?;
    let who = json!({"id": me.id, "name": me.name});
    match resolution {
        Some((outcome, tags)) => {
            s.crm(
                "conversation.resolved",
                conversation_id,
                json!({
                    "case_id": h.case_id(),
                    "agent": who,
                    "outcome": outcome,
                    "tags": tags,
                    "first_response_seconds": h.first_response_at.map(|t| (t - h.requested_at).num_seconds()),
                    "resolution_seconds": (now - h.requested_at).num_seconds().max(0),
                }),
                now,
            )
            .await?
        }
        None => {
            s.crm(
                "handoff.released",
                conversation_id,
                json!({"case_id": h.case_id(), "agent": who}),
                now,
            )
            .await?
        }
    }
    s.escalation.signal(Signal::Queue);
    refreshed(&s.db, h.id).await
}

/// Gives queued conversations to online agents with free capacity, highest
/// priority first, each to the least-loaded agent who speaks its language.
pub async fn auto_assign(state: &AppState) -> Result<usize, ApiError> {
    let s = &state.sessions;
    let now = s.clock.now();
    let online = s.escalation.online();
    if online.is_empty() {
        return Ok(0);
    }
    let agents: Vec<Agent> =
        s.db.agents()
            .await?
            .into_iter()
            .filter(|a| online.contains(&a.id))
            .collect();
    let mut active: HashMap<String, i64> = s.db.active_chats().await?.into_iter().collect();
    let mut queued: Vec<Handoff> =
        s.db.open_handoffs()
            .await?
            .into_iter()
            .filter(|h| h.status == "queued")
            .collect();
    queued.sort_by_key(|h| (-effective_priority(h, now), h.id));
    let mut assigned = 0;
    for h in queued {
        let pick = agents
            .iter()
            .filter(|a| speaks(a, h.locale.as_deref()))
            .filter(|a| active.get(&a.id).copied().unwrap_or(0) < i64::from(a.max_chats))
            .min_by_key(|a| (active.get(&a.id).copied().unwrap_or(0), a.name.clone()));
        let Some(agent) = pick else { continue };
        match accept(state, agent, &h.conversation_id, "auto").await {
            Ok(_) => {
                *active.entry(agent.id.clone()).or_default() += 1;
                assigned += 1;
            }
            Err(ApiError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(assigned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_rises_with_anger_and_order_value() {
        let calm = priority("asked_for_human", &[0.2, 0.1], None);
        let angry = priority("asked_for_human", &[-0.6, -0.7, -0.8], None);
        let big = priority("asked_for_human", &[0.0], Some(300.0));
        assert!(angry > calm && big > calm);
        assert_eq!(priority_label(calm), "low");
        assert_eq!(priority_label(angry), "normal");
        assert_eq!(
            priority_label(priority("bot_error", &[-0.9], Some(500.0))),
            "high"
        );
    }

    #[test]
    fn the_wait_is_honest() {
        assert_eq!(estimate_wait(&[], 0, &[]), None, "nobody online");
        assert_eq!(estimate_wait(&[(3, 1)], 0, &[]), Some(60), "free seat");
        // Two agents, both full, three ahead; typical wait 5 min.
        let w = estimate_wait(&[(2, 2), (2, 2)], 3, &[300, 300, 300]);
        assert_eq!(w, Some(600));
        assert!(estimate_wait(&[(1, 1)], 1000, &[3600]).is_some_and(|w| w <= 4 * 3600));
    }

    #[test]
    fn case_numbers_parse() {
        assert_eq!(case_number("H-12"), Some(12));
        assert_eq!(case_number("12"), None);
        assert_eq!(case_number("H-x"), None);
    }
}
