//! The dialogue engine: context, flows, identity checks, responses and the
//! "can handle?" decision (sections 2, 7 and 8 of the system architecture).
//!
//! A [`Conversation`] is an append-only list of [`Event`]s; [`State`] is a fold
//! over it. [`Engine::turn`] reads the state, runs one shopper message through
//! the NLU and the flows, and appends the events it produced (including the bot
//! messages). The engine never mutates state except by appending events, so the
//! state rebuilt from a stored log is exactly the state the engine had.
//!
//! Disclosure rule: nothing about an order (status, items, carrier, tracking,
//! address) is rendered unless the order is in `State::verified_orders`. An
//! order number alone reveals nothing, not even whether the order exists.

pub mod flows;
mod general;
pub mod language;
pub mod order_view;
pub mod proactive;
pub mod script;
pub mod state;
pub mod templates;

use crate::knowledge::KnowledgeBase;
use crate::nlu::entities::postal::normalise_postal;
use crate::nlu::entities::{EntityValue, Expecting, ExtractionContext};
use crate::nlu::{Nlu, ParseResult};
use crate::redact::{self, Kinds};
pub use crate::redact::{contains_card_number, redact_card_numbers};
use crate::store::{Order, OrderService, StoreError};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use flows::{Action, Flow, Flows, Need, SlotKind, StepKind};
use order_view::OrderState;
pub use state::{Awaiting, Event, OrderCard, SignedIn, State};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use templates::Templates;

/// The flows shipped with wismo.
pub const DEFAULT_FLOWS: &str = include_str!("../../data/dialogue/flows.yml");
/// The response templates shipped with wismo, per locale.
pub const DEFAULT_TEMPLATES: [(&str, &str); 2] = [
    ("en", include_str!("../../data/dialogue/templates/en.yml")),
    ("es", include_str!("../../data/dialogue/templates/es.yml")),
];

/// Templates the engine itself says, whatever the flows are.
pub const ENGINE_TEMPLATES: [&str; 22] = [
    "welcome",
    "fallback",
    "fallback.pending",
    "out_of_scope",
    "handoff.default",
    "handoff.waiting",
    "ask.order_number",
    "ask.choose_order",
    "verify.ask",
    "verify.ask_postal_for_email",
    "verify.failed",
    "verify.locked",
    "verify.not_on_account",
    "knowledge.answer",
    "knowledge.none",
    "payment.card_warning",
    "action.failed",
    "track_order_button",
    "return_button",
    "human_button",
    "yes_button",
    "no_button",
];

/// Values the engine supplies only sometimes, besides an order's
/// ([`order_view::OPTIONAL_KEYS`]): templates must guard them.
pub const ENGINE_OPTIONAL_KEYS: [&str; 1] = ["more"];

/// Tunable decisions.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The shoppers' time zone, for dates in replies.
    pub tz: Tz,
    /// Failed identity checks after which a conversation may not try again.
    pub max_verification_attempts: u32,
    /// Below this intent confidence a message counts as not understood.
    pub min_confidence: f32,
    /// Consecutive not-understood turns that trigger a hand-off.
    pub misunderstood_handoff: u32,
    /// Sentiment at or below this is "negative" for the hand-off rules.
    pub negative_sentiment: f32,
    /// Consecutive negative turns that trigger a hand-off.
    pub negative_turns_handoff: usize,
    /// Days after delivery within which returns and exchanges are accepted.
    pub return_window_days: u32,
    /// Days past the promised delivery date after which a late order gets a
    /// trace case.
    pub late_after_days: u32,
    /// The languages replies are given in, the default first: messages are
    /// only ever detected as one of these.
    pub languages: Vec<String>,
    /// The buttons under the opening message per language, where the store
    /// sets its own (else the built-in track / return / person buttons).
    pub opening_quick_replies: BTreeMap<String, Vec<String>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            tz: chrono_tz::UTC,
            max_verification_attempts: 3,
            min_confidence: 0.35,
            misunderstood_handoff: 2,
            negative_sentiment: -0.3,
            negative_turns_handoff: 3,
            return_window_days: 30,
            late_after_days: 3,
            languages: vec!["en".into(), "es".into()],
            opening_quick_replies: BTreeMap::new(),
        }
    }
}

/// One conversation: its identity, fixed settings, event log and the state
/// folded from it.
///
/// The engine appends to `events` and keeps `state` equal to
/// `State::fold(events)` as it goes, so a turn never re-reads the history: a
/// server may persist each turn's new events ([`TurnOutput::events`]) and
/// then clear `events` to hold only the state in memory.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    pub id: String,
    /// A locale fixed by the channel; `None` detects it from messages.
    pub locale: Option<String>,
    pub customer: Option<SignedIn>,
    pub events: Vec<Event>,
    pub state: State,
}

impl Conversation {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Default::default()
        }
    }

    /// A conversation rebuilt from a stored log.
    pub fn from_events(id: impl Into<String>, events: Vec<Event>) -> Self {
        Self {
            id: id.into(),
            state: State::fold(&events),
            events,
            ..Default::default()
        }
    }
}

impl Conversation {
    /// Folds and appends an event that happened outside a turn (a person's
    /// message, a note, a transfer, a rating). Returns it, for persisting.
    /// Card data in its text is redacted first.
    pub fn record(&mut self, mut e: Event) -> Event {
        scrub_event(&mut e);
        self.state.apply(&e);
        self.events.push(e.clone());
        e
    }

    /// Signs the shopper in (the server verified a customer token naming
    /// them): appends [`Event::CustomerSignedIn`] and folds it. Returns the
    /// event, for persisting. Orders they ask about are then checked by
    /// ownership (see `ensure_order`).
    pub fn sign_in(&mut self, customer: SignedIn, at: DateTime<Utc>) -> Event {
        let e = Event::CustomerSignedIn {
            customer_id: customer.customer_id,
            email: customer.email.map(|m| m.to_lowercase()),
            at,
        };
        self.state.apply(&e);
        self.events.push(e.clone());
        e
    }

    /// The signed-in shopper: named by the channel, or signed in later.
    pub fn signed_in(&self) -> Option<SignedIn> {
        self.customer
            .clone()
            .or_else(|| self.state.customer.clone())
    }

    /// Starts a new session after an idle timeout: appends
    /// [`Event::SessionExpired`] and folds it (the state starts fresh, the
    /// log keeps its history). Returns the event, for persisting.
    pub fn expire_session(&mut self, at: DateTime<Utc>) -> Event {
        let e = Event::SessionExpired { at };
        self.state.apply(&e);
        self.events.push(e.clone());
        e
    }
}

/// What the escalation manager tells the engine when it queues a hand-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffQueue {
    pub case: String,
    /// The likely wait; `None` when nobody is online.
    pub wait_secs: Option<u32>,
    pub agents_online: bool,
    /// An email the store already has for the shopper (a verified order's).
    pub contact_email: Option<String>,
}

/// Whether a shopper who writes while their hand-off waits in the queue
/// should hear about the wait again ([`Engine::handoff_update`]): only when
/// it changed since they were last told — someone came online for a case
/// that waited for email, everyone went offline, or the estimate they were
/// given has passed. `current_wait` is the escalation manager's estimate
/// now (`None`: nobody is online). Otherwise the bot stays quiet.
pub fn handoff_update_due(state: &State, current_wait: Option<u32>, now: DateTime<Utc>) -> bool {
    if state.agent.is_some() || state.case_id.is_none() {
        return false;
    }
    match (state.agents_online, current_wait) {
        (false, Some(_)) | (true, None) => true,
        (false, None) => false,
        (true, Some(_)) => {
            let told = i64::from(state.wait_secs.unwrap_or(60));
            state
                .handoff_told_at
                .is_some_and(|at| now >= at + chrono::Duration::seconds(told))
        }
    }
}

/// A wait, said the way a person would ("about 5 minutes"), in English: the
/// fallback when a locale's templates have no `wait.*` texts.
pub fn human_wait(secs: u32, _locale: &str) -> String {
    match secs.div_ceil(60) {
        0 | 1 => "about a minute".to_string(),
        m if m < 60 => format!("about {m} minutes"),
        m => match m.div_ceil(60) {
            1 => "about an hour".to_string(),
            h => format!("about {h} hours"),
        },
    }
}

/// One bot message with its rich parts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BotMessage {
    pub text: String,
    pub template: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_card: Option<OrderCard>,
}

/// What one turn produced.
#[derive(Debug, Clone)]
pub struct TurnOutput {
    pub messages: Vec<BotMessage>,
    pub nlu: ParseResult,
    /// The hand-off reason, once one has been requested (in this turn or before).
    pub handoff: Option<String>,
    pub state: State,
    /// The events this turn appended to the log, in order.
    pub events: Vec<Event>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Flows(#[from] flows::FlowError),
    #[error(transparent)]
    Templates(#[from] templates::TemplateError),
    #[error("flows use templates that {locale} does not define: {missing}")]
    MissingTemplates { locale: String, missing: String },
    #[error("templates could render an empty placeholder:\n{0}")]
    UnguardedTemplates(String),
}

/// The assistant.
pub struct Engine {
    nlu: Nlu,
    flows: Flows,
    templates: Templates,
    knowledge: KnowledgeBase,
    store: Arc<dyn OrderService>,
    config: EngineConfig,
    language: language::LanguageDetector,
    phrases: general::Phrases,
}

/// Intents whose flows are digressions: answered, then the pending question is asked again.
fn is_digression(flow: &Flow) -> bool {
    flow.steps.iter().all(|s| {
        matches!(
            s.kind,
            StepKind::Say(_) | StepKind::AnswerFromKnowledge { .. }
        )
    })
}

/// The language of `text` among the built-in ones (English and Spanish),
/// from the markers in the built-in templates (see [`language`]). The
/// engine uses its own detector over the store's languages.
pub fn detect_locale(text: &str) -> Option<&'static str> {
    static DETECTOR: std::sync::OnceLock<language::LanguageDetector> = std::sync::OnceLock::new();
    let d = DETECTOR.get_or_init(|| {
        let mut t = Templates::default();
        for (locale, src) in DEFAULT_TEMPLATES {
            let _ = t.add_locale(locale, src, locale);
        }
        language::LanguageDetector::new(&t, &["en".to_string(), "es".to_string()])
    });
    match d.detect(text)? {
        "en" => Some("en"),
        "es" => Some("es"),
        _ => None,
    }
}

/// Reads a one-line address the way shoppers type it: "street and number,
/// [more lines,] [postal code] city [postal code]". Needs a comma, a street
/// with a number and a city.
pub fn parse_address(text: &str) -> Option<crate::store::Address> {
    let parts: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() < 2 || !parts[0].chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let last = parts[parts.len() - 1];
    let (zip, city): (Vec<&str>, Vec<&str>) = last
        .split_whitespace()
        .partition(|w| w.chars().any(|c| c.is_ascii_digit()));
    let mut city = city;
    let mut middle = parts[1..parts.len() - 1].to_vec();
    // "Portland, ME 04101" or "Springfield IL 62701": a state or province
    // code after the city.
    let is_code = |w: &&str| w.len() == 2 && w.chars().all(|c| c.is_ascii_uppercase());
    let province = match city.last() {
        Some(code) if is_code(code) && (city.len() > 1 || !middle.is_empty()) => {
            city.pop().map(str::to_string)
        }
        _ => None,
    };
    let mut city = city.join(" ");
    if city.is_empty() {
        city = middle.pop()?.to_string();
    }
    Some(crate::store::Address {
        name: None,
        address1: parts[0].to_string(),
        address2: (!middle.is_empty()).then(|| middle.join(", ")),
        city,
        province,
        zip: (!zip.is_empty()).then(|| zip.join(" ")),
        country: None,
        country_code: None,
        phone: None,
    })
}

/// Card data never enters the log (PCI DSS): whatever text an event carries
/// that came from people (what they said, slots, notes) is redacted again
/// here, whichever path produced it.
pub fn scrub_event(e: &mut Event) {
    let fix = |t: &mut String| {
        if redact::contains_sensitive(t) {
            *t = redact::redact_text(t);
        }
    };
    match e {
        Event::UserSaid { text, .. }
        | Event::AgentSaid { text, .. }
        | Event::NoteAdded { text, .. } => fix(text),
        Event::SlotSet { value, .. } => fix(value),
        Event::Verified {
            order_number,
            email,
        } => {
            if let Some(t) = order_number {
                fix(t);
            }
            if let Some(t) = email {
                fix(t);
            }
        }
        Event::StoreAction {
            order_number: Some(t),
            ..
        }
        | Event::CsatGiven {
            comment: Some(t), ..
        } => fix(t),
        _ => {}
    }
}

/// Intents that ask about one order; a follow-up naming another order asks
/// the same about it.
const ORDER_QUESTIONS: [&str; 6] = [
    "track_order",
    "delivery_eta",
    "tracking_link",
    "delayed_order",
    "refund_status",
    "order_not_received",
];

/// Whether a postal code the shopper typed is the order's: both in the
/// canonical form of the order's country (no spaces, hyphens or case; a US
/// ZIP+4 is its 5-digit ZIP, either way round).
fn same_postal(typed: &str, on_order: &str, country: Option<&str>) -> bool {
    let (a, b) = (
        normalise_postal(country, typed),
        normalise_postal(country, on_order),
    );
    !a.is_empty() && a == b
}

/// Whether `email` or `postal` matches what the order holds.
fn matches_order(order: &Order, email: Option<&str>, postal: Option<&str>) -> bool {
    let email_ok = email.is_some_and(|m| {
        let m = m.to_lowercase();
        order.email.as_deref() == Some(m.as_str())
            || order.customer.as_ref().and_then(|c| c.email.as_deref()) == Some(m.as_str())
    });
    let postal_ok = postal.is_some_and(|p| {
        order.shipping_address.as_ref().is_some_and(|a| {
            let country = a.country_code.as_deref().or(a.country.as_deref());
            a.zip.as_deref().is_some_and(|z| same_postal(p, z, country))
        })
    });
    email_ok || postal_ok
}

/// The work of one turn: state plus what has been added to it.
struct Turn<'a> {
    engine: &'a Engine,
    conv: &'a mut Conversation,
    state: State,
    now: DateTime<Utc>,
    messages: Vec<BotMessage>,
    nlu: ParseResult,
    text: String,
    /// Card and bank data in `text` (found once per turn).
    sensitive: Vec<redact::Span>,
    /// `text` with that data replaced: what the log keeps.
    redacted: redact::Redacted,
    /// The verified order as last read from the store in this turn.
    order_cache: Option<(String, Arc<Order>)>,
}

impl Engine {
    /// An engine with the shipped flows and templates.
    pub fn new(
        nlu: Nlu,
        knowledge: KnowledgeBase,
        store: Arc<dyn OrderService>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let flows = Flows::parse(DEFAULT_FLOWS, "<built-in>/flows.yml")?;
        let mut templates = Templates::default();
        for (locale, src) in DEFAULT_TEMPLATES {
            templates.add_locale(locale, src, &format!("<built-in>/templates/{locale}.yml"))?;
        }
        // The built-in templates name the demo store's policy values.
        crate::workspace::apply_store_values(&mut templates, &crate::workspace::builtin_profile());
        Self::with(nlu, flows, templates, knowledge, store, config)
    }

    /// An engine with the store's own flows and templates. Every template a flow
    /// names (with `{state}` expanded for every state) must exist in English.
    pub fn with(
        nlu: Nlu,
        flows: Flows,
        templates: Templates,
        knowledge: KnowledgeBase,
        store: Arc<dyn OrderService>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let mut missing: Vec<String> = ENGINE_TEMPLATES
            .iter()
            .filter(|id| !templates.contains("en", id))
            .map(|id| (*id).to_string())
            .collect();
        for alternatives in flows.template_ids() {
            // Each order state must find one of the alternatives (ids naming
            // `{intent}` are optional refinements and not checked).
            let states: Vec<&str> = if alternatives.iter().any(|id| id.contains("{state}")) {
                order_view::ALL_STATES.iter().map(|s| s.name()).collect()
            } else {
                vec![""]
            };
            for st in states {
                let expanded: Vec<String> = alternatives
                    .iter()
                    .map(|id| id.replace("{state}", st))
                    .collect();
                if expanded
                    .iter()
                    .all(|e| !e.contains('{') && !templates.contains("en", e))
                {
                    if let Some(last) = expanded.last() {
                        missing.push(last.clone());
                    }
                }
            }
        }
        if !missing.is_empty() {
            missing.sort();
            missing.dedup();
            return Err(EngineError::MissingTemplates {
                locale: "en".into(),
                missing: missing.join(", "),
            });
        }
        let optional: Vec<&str> = order_view::OPTIONAL_KEYS
            .iter()
            .chain(ENGINE_OPTIONAL_KEYS.iter())
            .copied()
            .collect();
        let unguarded = templates.check_guards(&optional);
        if !unguarded.is_empty() {
            return Err(EngineError::UnguardedTemplates(unguarded.join("\n")));
        }
        let language = language::LanguageDetector::new(&templates, &config.languages);
        let phrases = general::Phrases::new(&templates, &config.languages);
        Ok(Self {
            nlu,
            flows,
            templates,
            knowledge,
            store,
            config,
            language,
            phrases,
        })
    }

    pub fn nlu(&self) -> &Nlu {
        &self.nlu
    }

    /// A wait in `locale`, from its `wait.minute`, `wait.minutes` (`{count}`),
    /// `wait.hour` and `wait.hours` templates, else [`human_wait`].
    fn wait_text(&self, secs: u32, locale: &str) -> String {
        let minutes = secs.div_ceil(60);
        let (id, n) = match minutes {
            0 | 1 => ("wait.minute", 1),
            m if m < 60 => ("wait.minutes", m),
            m if m.div_ceil(60) == 1 => ("wait.hour", 1),
            m => ("wait.hours", m.div_ceil(60)),
        };
        if self.templates.get(locale, id).is_none() {
            return human_wait(secs, locale);
        }
        let vars = HashMap::from([("count", n.to_string())]);
        self.templates
            .render(locale, id, 0, &vars)
            .unwrap_or_else(|| human_wait(secs, locale))
    }

    /// The order view at `now` with this engine's time zone and policy values.
    pub fn view(&self, now: DateTime<Utc>) -> order_view::View {
        order_view::View {
            now,
            tz: self.config.tz,
            return_window_days: self.config.return_window_days,
            late_after_days: self.config.late_after_days,
        }
    }

    /// The templates, for tools that render or check them.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// The opening message of a conversation.
    pub fn greet(&self, conv: &mut Conversation, now: DateTime<Utc>) -> Vec<BotMessage> {
        let mut t = Turn::bare(self, conv, now);
        let vars = HashMap::new();
        match self.config.opening_quick_replies.get(t.locale()) {
            Some(own) => t.say_rendered("welcome", &vars, own.clone(), None),
            None => t.say(
                "welcome",
                &vars,
                &["track_order_button", "return_button", "human_button"],
            ),
        }
        t.conv.state = t.state;
        t.messages
    }

    /// The escalation manager queued the conversation for a person: records
    /// it and tells the shopper honestly what happens next: the likely wait
    /// when someone is online; otherwise that nobody is, with the case id and
    /// the email the store will answer at (or a request for one).
    pub fn handoff_queued(
        &self,
        conv: &mut Conversation,
        queued: HandoffQueue,
        now: DateTime<Utc>,
    ) -> Vec<Event> {
        let first_new = conv.events.len();
        let mut t = Turn::bare(self, conv, now);
        let known = queued
            .contact_email
            .clone()
            .or_else(|| t.state.slots.get("contact_email").cloned());
        t.emit(Event::HandoffQueued {
            case: queued.case.clone(),
            wait_secs: queued.wait_secs,
            agents_online: queued.agents_online,
            contact_email: known.clone(),
            at: now,
        });
        let mut v = t.base_vars();
        v.insert("case_id", queued.case);
        match (queued.agents_online, queued.wait_secs, known) {
            (true, wait, _) => {
                let locale = t.locale().to_string();
                v.insert("wait", t.engine.wait_text(wait.unwrap_or(60), &locale));
                t.say("handoff.queue.wait", &v, &[]);
            }
            (false, _, Some(email)) => {
                v.insert("email", email);
                t.say("handoff.queue.offline_known", &v, &[]);
            }
            (false, _, None) => t.say("handoff.queue.offline_ask", &v, &[]),
        }
        t.conv.state = t.state;
        conv.events
            .get(first_new..)
            .map(<[Event]>::to_vec)
            .unwrap_or_default()
    }

    /// The shopper wrote while their hand-off waits and the wait changed
    /// ([`handoff_update_due`]): records the new wait and tells them once,
    /// honestly — someone is online now and the likely wait, the wait is
    /// longer than said, or nobody is online any more (email follow-up).
    pub fn handoff_update(
        &self,
        conv: &mut Conversation,
        update: HandoffQueue,
        now: DateTime<Utc>,
    ) -> Vec<Event> {
        let first_new = conv.events.len();
        let was_online = conv.state.agents_online;
        let mut t = Turn::bare(self, conv, now);
        let known = update
            .contact_email
            .clone()
            .or_else(|| t.state.slots.get("contact_email").cloned());
        let online = update.agents_online && update.wait_secs.is_some();
        t.emit(Event::HandoffUpdated {
            wait_secs: update.wait_secs.filter(|_| online),
            agents_online: online,
            contact_email: known.clone(),
            at: now,
        });
        let mut v = t.base_vars();
        v.insert("case_id", update.case);
        match (online, update.wait_secs, known) {
            (true, Some(wait), _) => {
                let locale = t.locale().to_string();
                v.insert("wait", t.engine.wait_text(wait, &locale));
                let id = if was_online {
                    "handoff.update.wait"
                } else {
                    "handoff.update.online"
                };
                t.say(id, &v, &[]);
            }
            (_, _, Some(email)) => {
                v.insert("email", email);
                t.say("handoff.update.offline_known", &v, &[]);
            }
            (_, _, None) => t.say("handoff.update.offline_ask", &v, &[]),
        }
        t.conv.state = t.state;
        conv.events
            .get(first_new..)
            .map(<[Event]>::to_vec)
            .unwrap_or_default()
    }

    /// A person handed the conversation back to the bot (`resolved`: they
    /// settled it, with an outcome and tags): records it, and the bot says
    /// it is back, or thanks the shopper.
    pub fn agent_left(
        &self,
        conv: &mut Conversation,
        agent: &str,
        resolution: Option<(String, Vec<String>)>,
        now: DateTime<Utc>,
    ) -> Vec<Event> {
        let first_new = conv.events.len();
        let mut t = Turn::bare(self, conv, now);
        let resolved = resolution.is_some();
        let (outcome, tags) = resolution.unzip();
        t.emit(Event::AgentLeft {
            agent: agent.to_string(),
            at: now,
            resolved,
            outcome,
            tags: tags.unwrap_or_default(),
        });
        let v = t.base_vars();
        if resolved {
            t.say("handoff.resolved", &v, &[]);
        } else {
            t.say(
                "handoff.back_to_bot",
                &v,
                &["track_order_button", "return_button", "human_button"],
            );
        }
        t.conv.state = t.state;
        conv.events
            .get(first_new..)
            .map(<[Event]>::to_vec)
            .unwrap_or_default()
    }

    /// Runs one shopper message. Traced as `dialogue.turn` with the
    /// conversation id, intent, confidence, flow and hand-off — never the text.
    #[tracing::instrument(
        name = "dialogue.turn",
        skip_all,
        fields(
            conversation = %conv.id,
            intent = tracing::field::Empty,
            confidence = tracing::field::Empty,
            flow = tracing::field::Empty,
            handoff = tracing::field::Empty,
        )
    )]
    pub fn turn(&self, conv: &mut Conversation, text: &str, now: DateTime<Utc>) -> TurnOutput {
        let first_new = conv.events.len();
        // A bare answer is read as what the bot just asked for.
        let expecting = match conv.state.flow.as_ref().and_then(|f| f.awaiting.as_ref()) {
            Some(Awaiting::OrderNumber | Awaiting::ChooseOrder) => Expecting::OrderNumber,
            Some(Awaiting::Verification) => Expecting::PostalCode,
            _ => Expecting::Nothing,
        };
        let mut nlu = self.nlu.parse_expecting(
            text,
            &ExtractionContext {
                now,
                tz: self.config.tz,
            },
            expecting,
        );
        // Card data (PCI DSS): the NLU read the message as typed, but no
        // entity cut from a card number, security code or bank account
        // goes on (into a slot, the log or the caller's hands).
        let spans = redact::spans(text);
        let sensitive = redact::char_spans_of(text, &spans);
        if !sensitive.is_empty() {
            nlu.entities
                .retain(|e| sensitive.iter().all(|&(a, b)| e.end <= a || e.start >= b));
        }
        let mut t = Turn::new(self, conv, now, nlu, text.to_string(), spans);
        t.run();
        t.say_how_old();
        let span = tracing::Span::current();
        span.record("intent", t.nlu.intent.name.as_str());
        span.record("confidence", t.nlu.intent.confidence);
        if let Some(f) = &t.state.flow {
            span.record("flow", f.flow.as_str());
        }
        if let Some(h) = &t.state.handoff {
            span.record("handoff", h.as_str());
        }
        tracing::debug!(replies = t.messages.len(), "turn done");
        t.conv.state = t.state.clone();
        let events = t
            .conv
            .events
            .get(first_new..)
            .map(<[Event]>::to_vec)
            .unwrap_or_default();
        TurnOutput {
            events,
            messages: t.messages,
            handoff: t.state.handoff.clone(),
            nlu: t.nlu,
            state: t.state,
        }
    }
}

impl<'a> Turn<'a> {
    /// A turn with no shopper message (greetings, hand-off notices, agents'
    /// actions).
    fn bare(engine: &'a Engine, conv: &'a mut Conversation, now: DateTime<Utc>) -> Self {
        Self::new(
            engine,
            conv,
            now,
            ParseResult::empty(),
            String::new(),
            Vec::new(),
        )
    }

    fn new(
        engine: &'a Engine,
        conv: &'a mut Conversation,
        now: DateTime<Utc>,
        nlu: ParseResult,
        text: String,
        sensitive: Vec<redact::Span>,
    ) -> Self {
        Self {
            engine,
            state: conv.state.clone(),
            conv,
            now,
            messages: Vec::new(),
            nlu,
            redacted: redact::redact_spans(&text, &sensitive),
            text,
            sensitive,
            order_cache: None,
        }
    }

    fn emit(&mut self, mut e: Event) {
        scrub_event(&mut e);
        self.state.apply(&e);
        self.conv.events.push(e);
    }

    fn locale(&self) -> &str {
        self.conv
            .locale
            .as_deref()
            .or(self.state.locale.as_deref())
            .or(self.engine.config.languages.first().map(String::as_str))
            .unwrap_or("en")
    }

    fn intent(&self) -> &str {
        &self.nlu.intent.name
    }

    /// The intent that started the running flow (conditions and `{intent}` use it).
    fn flow_intent(&self) -> String {
        self.state
            .slots
            .get("flow_intent")
            .cloned()
            .unwrap_or_else(|| self.intent().to_string())
    }

    /// Base template values: the shopper's first name when known.
    fn base_vars(&self) -> HashMap<&'static str, String> {
        let mut v = HashMap::new();
        if let Some(name) = self.state.slots.get("first_name") {
            v.insert("name", name.clone());
        }
        v
    }

    fn say(&mut self, template: &str, vars: &HashMap<&'static str, String>, quick: &[&str]) {
        self.say_with(template, vars, quick, None);
    }

    fn say_with(
        &mut self,
        template: &str,
        vars: &HashMap<&'static str, String>,
        quick: &[&str],
        order_card: Option<OrderCard>,
    ) {
        let locale = self.locale();
        let quick_replies: Vec<String> = quick
            .iter()
            .filter_map(|q| self.engine.templates.render(locale, q, 0, vars))
            .collect();
        self.say_rendered(template, vars, quick_replies, order_card);
    }

    /// Says `template` with quick replies given as text.
    fn say_rendered(
        &mut self,
        template: &str,
        vars: &HashMap<&'static str, String>,
        quick_replies: Vec<String>,
        order_card: Option<OrderCard>,
    ) {
        let locale = self.locale().to_string();
        let pick =
            self.conv.id.bytes().map(usize::from).sum::<usize>() + self.state.bot_messages as usize;
        // Flows are checked against the templates at start-up; a missing id
        // here is a missing optional variant: say nothing rather than garbage.
        if let Some(text) = self.engine.templates.render(&locale, template, pick, vars) {
            self.say_text(text, template, quick_replies, order_card);
        }
    }

    fn say_text(
        &mut self,
        text: String,
        template: &str,
        quick_replies: Vec<String>,
        order_card: Option<OrderCard>,
    ) {
        let msg = BotMessage {
            text: text.clone(),
            template: template.to_string(),
            quick_replies: quick_replies.clone(),
            order_card: order_card.clone(),
        };
        self.emit(Event::BotSaid {
            text,
            template: template.to_string(),
            at: self.now,
            quick_replies,
            order_card,
        });
        self.messages.push(msg);
    }

    /// "As of 2 hours ago": when this turn showed an order its store could
    /// not confirm just now (the platform is down), how old the answer is.
    fn say_how_old(&mut self) {
        let shown = self
            .messages
            .iter()
            .rev()
            .find_map(|m| m.order_card.as_ref().map(|c| c.order_number.clone()));
        let Some(number) = shown else {
            return;
        };
        let Some(age) = self.engine.store.stale_for(&number) else {
            return;
        };
        let (id, count) = if age < chrono::Duration::hours(2) {
            ("order.as_of_minutes", age.num_minutes().max(1))
        } else if age < chrono::Duration::hours(48) {
            ("order.as_of_hours", age.num_hours())
        } else {
            ("order.as_of_days", age.num_days())
        };
        let mut v = self.base_vars();
        v.insert("count", count.to_string());
        self.say(id, &v, &[]);
    }

    fn handoff(&mut self, reason: &str) {
        if self.state.handoff.is_none() {
            self.emit(Event::HandoffRequested {
                reason: reason.to_string(),
            });
        }
        let mut v = self.order_vars_if_verified();
        v.insert("reason", reason.to_string());
        if let Some(case) = self.state.slots.get("case_id") {
            v.insert("case_id", case.clone());
        }
        let locale = self.locale().to_string();
        let specific = format!("handoff.{reason}");
        let id = if self.engine.templates.contains(&locale, &specific)
            || self.engine.templates.contains("en", &specific)
        {
            specific
        } else {
            "handoff.default".to_string()
        };
        self.say(&id, &v, &[]);
        if let Some(f) = self.state.flow.clone() {
            self.emit(Event::FlowEnded { flow: f.flow });
        }
    }

    fn run(&mut self) {
        if self.state.agent.is_some() {
            // A person owns the conversation: keep what the shopper said
            // (with its meaning and mood, for the person), never answer
            // over them.
            let understood = !self.nlu.out_of_scope
                && self.nlu.intent.confidence >= self.engine.config.min_confidence;
            self.emit(Event::UserSaid {
                text: self.redacted.text.clone(),
                at: self.now,
                intent: self.nlu.intent.name.clone(),
                confidence: self.nlu.intent.confidence,
                sentiment: self.nlu.sentiment.score,
                understood,
            });
            // The one thing the bot still says: card data has no place here.
            self.warn_about_card_data();
            return;
        }
        // Language.
        if self.conv.locale.is_none() {
            // Card and bank data say nothing about the language ("DE89…").
            let mut words = String::with_capacity(self.text.len());
            let mut last = 0;
            for sp in &self.sensitive {
                words.push_str(&self.text[last..sp.start]);
                words.push(' ');
                last = sp.end;
            }
            words.push_str(&self.text[last..]);
            if let Some(l) = self.engine.language.detect(&words) {
                if self.state.locale.as_deref() != Some(l) {
                    self.emit(Event::LocaleSet {
                        locale: l.to_string(),
                    });
                }
            }
        }
        let forget_order = self.reinterpret();
        let understood = !self.nlu.out_of_scope
            && self.nlu.intent.confidence >= self.engine.config.min_confidence;
        // Card numbers never enter the log (PCI DSS); the rest is kept as said.
        self.emit(Event::UserSaid {
            text: self.redacted.text.clone(),
            at: self.now,
            intent: self.nlu.intent.name.clone(),
            confidence: self.nlu.intent.confidence,
            sentiment: self.nlu.sentiment.score,
            understood,
        });
        if forget_order {
            self.emit(Event::SlotCleared {
                name: "order_number".into(),
            });
        }
        self.fill_slots_from_entities();
        self.warn_about_card_data();

        if let Some(reason) = self.state.handoff.clone() {
            // Waiting for a person: the shopper was told what happens next
            // when the hand-off was queued; the bot stays quiet (what they
            // say is recorded above and reaches the person) except to take
            // an email it asked for. The escalation manager adds one honest
            // update when their wait changes (`handoff_update_due`).
            let mut v = self.base_vars();
            if self.state.wants_contact {
                if let Some(email) = self.entity_text("email") {
                    self.emit(Event::SlotSet {
                        name: "contact_email".into(),
                        value: email.clone(),
                    });
                    v.insert("email", email);
                    if let Some(case) = self.state.case_id.clone() {
                        v.insert("case_id", case);
                    }
                    self.say("handoff.contact_noted", &v, &[]);
                    return;
                }
            }
            if self.state.case_id.is_none() {
                // Asked for but not queued (yet): say it is still pending.
                v.insert("reason", reason);
                self.say("handoff.waiting", &v, &[]);
            }
            return;
        }
        if self.sentiment_says_handoff() {
            self.handoff("negative_sentiment");
            return;
        }
        if let Some(awaiting) = self.state.awaiting().cloned() {
            if self.answer_pending(&awaiting) {
                return;
            }
        }
        if !understood {
            if self.state.misunderstood_streak >= self.engine.config.misunderstood_handoff {
                self.handoff("not_understood");
            } else if self.state.awaiting().is_some() {
                self.say("fallback.pending", &self.base_vars(), &[]);
                self.reprompt();
            } else if self
                .nlu
                .intent_ranking
                .first()
                .is_some_and(|t| t.name == crate::nlu::DEFAULT_OOS_LABEL && t.confidence >= 0.5)
            {
                self.say("out_of_scope", &self.base_vars(), &[]);
            } else {
                self.say(
                    "fallback",
                    &self.base_vars(),
                    &["track_order_button", "return_button", "human_button"],
                );
            }
            return;
        }
        self.start_flow_for_intent();
    }

    /// Tells the shopper not to share card or bank data, when they did.
    fn warn_about_card_data(&mut self) {
        let found: Kinds = self.redacted.found;
        if found.card_data() {
            self.say("payment.card_warning", &self.base_vars(), &[]);
        } else if found.bank_account {
            // Optional (stores' own templates may predate it): the card
            // warning stands in.
            let locale = self.locale().to_string();
            let id = if self
                .engine
                .templates
                .contains(&locale, "payment.bank_warning")
                || self.engine.templates.contains("en", "payment.bank_warning")
            {
                "payment.bank_warning"
            } else {
                "payment.card_warning"
            };
            self.say(id, &self.base_vars(), &[]);
        }
    }

    fn sentiment_says_handoff(&self) -> bool {
        let s = &self.state.sentiments;
        let cfg = &self.engine.config;
        let n = cfg.negative_turns_handoff;
        let stays_negative = s.len() >= n
            && s[s.len() - n..]
                .iter()
                .all(|&x| x <= cfg.negative_sentiment);
        let drops_sharply =
            s.len() >= 2 && s[s.len() - 1] <= -0.7 && s[s.len() - 2] - s[s.len() - 1] >= 0.9;
        stays_negative || drops_sharply
    }

    /// Order numbers, emails and postal codes in the message become slots; a
    /// different order number replaces the current one (a correction).
    fn fill_slots_from_entities(&mut self) {
        // An answer to "what's the new address?" or "what happened?" is taken
        // whole; the numbers in it are not order numbers.
        if matches!(self.state.awaiting(), Some(Awaiting::Slot(_))) {
            return;
        }
        let mut sets = Vec::new();
        let awaiting_verification = self.state.awaiting() == Some(&Awaiting::Verification);
        for e in &self.nlu.entities {
            // Asked for a postal code, a message that is only a number is the postal code.
            let bare = !e.text.contains('#') && !self.engine.phrases.says_order(&self.text);
            let postal_like = e.text.len() == 5 && e.text.chars().all(|c| c.is_ascii_digit());
            if awaiting_verification
                && e.kind == "order_number"
                && (e.text.trim() == self.text.trim() && !e.text.contains('#')
                    || bare && postal_like)
            {
                sets.push(("postal_code", e.text.trim().to_string()));
                continue;
            }
            let value = match &e.value {
                EntityValue::Text(s) => s.clone(),
                EntityValue::PostalCode { code, .. } => code.clone(),
                _ => continue,
            };
            let slot = match e.kind.as_str() {
                "order_number" => "order_number",
                "email" => "email",
                "postal_code" => "postal_code",
                _ => continue,
            };
            sets.push((slot, value));
        }
        // A bare code answering "what's your postal code?" is the postal code.
        if sets.is_empty() && awaiting_verification {
            let t = self.text.trim();
            if t.len() >= 4
                && t.len() <= 10
                && t.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
                && !redact::contains_sensitive(t)
            {
                sets.push(("postal_code", t.to_string()));
            }
        }
        for (slot, value) in sets {
            if self.state.slots.get(slot) != Some(&value) {
                self.emit(Event::SlotSet {
                    name: slot.to_string(),
                    value,
                });
            }
        }
    }

    /// Reads the NLU's answer in the light of the conversation: small talk
    /// that names an order is about that order, and "my other order" forgets
    /// the current one.
    /// Returns whether the current order should be forgotten.
    fn reinterpret(&mut self) -> bool {
        let mut forget = false;
        let mut intent = self.intent().to_string();
        // Small talk that names an order ("thanks, it's order 1041, when will it
        // come?") or corrects one ("no, I meant 1043") is about that order.
        let names_an_order = self.nlu.entities.iter().any(|e| e.kind == "order_number");
        // ... and so is a message naming an order that is not understood
        // otherwise ("pedido 2101 en estafeta dice devuelto al remitente??").
        let not_understood =
            self.nlu.out_of_scope || self.nlu.intent.confidence < self.engine.config.min_confidence;
        let mut about_the_order = false;
        if names_an_order
            && (matches!(
                intent.as_str(),
                "thanks" | "greet" | "goodbye" | "affirm" | "deny" | "complaint" | "out_of_scope"
            ) || self.engine.phrases.is_follow_up(&self.text)
                || not_understood)
        {
            about_the_order = true;
            // "What about 1022?" asks the last order question again, about 1022.
            intent = self
                .state
                .slots
                .get("flow_intent")
                .filter(|i| ORDER_QUESTIONS.contains(&i.as_str()))
                .cloned()
                .unwrap_or_else(|| "track_order".into());
        }
        // "Show me all my orders" after choosing one lists them again.
        if intent == "order_history" && !names_an_order {
            forget = self.state.slots.contains_key("order_number");
        }
        // "What about my other order?" forgets the current one and lists them.
        if !names_an_order && self.engine.phrases.names_other_order(&self.text) {
            forget = self.state.slots.contains_key("order_number");
            if matches!(
                intent.as_str(),
                "out_of_scope" | "inform" | "affirm" | "deny" | "thanks"
            ) {
                intent = "track_order".into();
            }
        }
        if intent != self.nlu.intent.name || about_the_order {
            self.nlu.intent.name = intent;
            self.nlu.out_of_scope = false;
            self.nlu.intent.confidence = self
                .nlu
                .intent
                .confidence
                .max(self.engine.config.min_confidence);
        }
        forget
    }

    fn start_flow_for_intent(&mut self) {
        let intent = self.intent().to_string();
        let engine = self.engine;
        let Some(flow) = engine.flows.flow_for_intent(&intent) else {
            self.say(
                "fallback",
                &self.base_vars(),
                &["track_order_button", "return_button", "human_button"],
            );
            return;
        };
        if let Some(prev) = self.state.flow.clone() {
            if prev.flow != flow.name {
                self.emit(Event::FlowEnded { flow: prev.flow });
            }
        }
        if self.state.slots.get("flow_intent") != Some(&intent) {
            self.emit(Event::SlotSet {
                name: "flow_intent".into(),
                value: intent,
            });
        }
        self.run_flow(flow, 0);
    }

    /// Handles a message while the flow waits for something. True when handled.
    fn answer_pending(&mut self, awaiting: &Awaiting) -> bool {
        let Some(pos) = self.state.flow.clone() else {
            return false;
        };
        let engine = self.engine;
        let Some(flow) = engine.flows.get(&pos.flow) else {
            return false;
        };
        let intent = self.intent().to_string();
        let free_text = matches!(awaiting, Awaiting::Slot(_))
            && matches!(
                flow.steps.get(pos.step).map(|s| &s.kind),
                Some(StepKind::Ask {
                    slot_kind: SlotKind::Text,
                    ..
                })
            );
        // A digression (policy question, small talk) is answered, then we ask again.
        let names_an_order = self.nlu.entities.iter().any(|e| e.kind == "order_number");
        if let Some(d) = engine
            .flows
            .flow_for_intent(&intent)
            .filter(|_| !free_text && !names_an_order)
        {
            if d.name != flow.name
                && is_digression(d)
                && !matches!(
                    intent.as_str(),
                    "affirm" | "deny" | "inform" | crate::nlu::DEFAULT_OOS_LABEL
                )
            {
                self.run_flow(d, 0);
                self.emit(Event::FlowAt {
                    flow: pos.flow.clone(),
                    step: pos.step,
                    awaiting: Some(awaiting.clone()),
                });
                self.reprompt();
                return true;
            }
        }
        match awaiting {
            Awaiting::OrderNumber | Awaiting::ChooseOrder => {
                if self.state.slots.contains_key("order_number") {
                    self.run_flow(flow, pos.step);
                    return true;
                }
                if self.state.slots.contains_key("email") && *awaiting == Awaiting::OrderNumber {
                    self.run_flow(flow, pos.step);
                    return true;
                }
            }
            Awaiting::Verification => {
                let gave = self
                    .nlu
                    .entities
                    .iter()
                    .any(|e| e.kind == "email" || e.kind == "postal_code")
                    || self.state.slots.contains_key("postal_code") && self.text.trim().len() <= 10;
                if gave
                    || self.state.slots.contains_key("order_number")
                        && self.nlu.entities.iter().any(|e| e.kind == "order_number")
                {
                    self.run_flow(flow, pos.step);
                    return true;
                }
            }
            Awaiting::Confirm => match intent.as_str() {
                i if i == "affirm" || i == self.flow_intent() => {
                    self.run_flow(flow, pos.step + 1);
                    return true;
                }
                "deny" => {
                    if let Some(StepKind::Confirm { on_deny, .. }) =
                        flow.steps.get(pos.step).map(|s| s.kind.clone())
                    {
                        let v = self.order_vars_if_verified();
                        self.say(&on_deny, &v, &[]);
                    }
                    self.emit(Event::FlowEnded {
                        flow: flow.name.clone(),
                    });
                    return true;
                }
                _ => {}
            },
            Awaiting::Slot(name) => {
                if let Some(StepKind::Ask { slot_kind, .. }) =
                    flow.steps.get(pos.step).map(|s| s.kind.clone())
                {
                    let value = match slot_kind {
                        SlotKind::Email => self.entity_text("email"),
                        SlotKind::PostalCode => self.entity_text("postal_code"),
                        SlotKind::Address => {
                            let t = self.redacted.text.trim().to_string();
                            parse_address(&t).map(|_| t)
                        }
                        SlotKind::Text => {
                            let t = self.redacted.text.trim().to_string();
                            (!t.is_empty()).then_some(t)
                        }
                    };
                    if let Some(v) = value {
                        self.emit(Event::SlotSet {
                            name: name.clone(),
                            value: v,
                        });
                        self.run_flow(flow, pos.step + 1);
                        return true;
                    }
                    if self.engine.flows.flow_for_intent(&intent).is_none() || intent == "inform" {
                        self.reprompt_invalid();
                        return true;
                    }
                }
            }
        }
        false
    }

    fn entity_text(&self, kind: &str) -> Option<String> {
        self.nlu
            .entities
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| match &e.value {
                EntityValue::Text(s) => s.clone(),
                EntityValue::PostalCode { code, .. } => code.clone(),
                _ => e.text.clone(),
            })
    }

    /// Asks the pending question again.
    fn reprompt(&mut self) {
        let Some(pos) = self.state.flow.clone() else {
            return;
        };
        let v = self.order_vars_if_verified();
        match pos.awaiting {
            Some(Awaiting::OrderNumber) => self.say("ask.order_number", &v, &[]),
            Some(Awaiting::ChooseOrder) => self.say("ask.choose_order", &v, &[]),
            Some(Awaiting::Verification) => self.say("verify.ask", &v, &[]),
            Some(Awaiting::Confirm) | Some(Awaiting::Slot(_)) => {
                let step = self
                    .engine
                    .flows
                    .get(&pos.flow)
                    .and_then(|f| f.steps.get(pos.step))
                    .map(|s| s.kind.clone());
                match step {
                    Some(StepKind::Confirm { template, .. }) => {
                        self.say(&template, &v, &["yes_button", "no_button"])
                    }
                    Some(StepKind::Ask { template, .. }) => self.say(&template, &v, &[]),
                    _ => {}
                }
            }
            None => {}
        }
    }

    fn reprompt_invalid(&mut self) {
        let Some(pos) = self.state.flow.clone() else {
            return;
        };
        let step = self
            .engine
            .flows
            .get(&pos.flow)
            .and_then(|f| f.steps.get(pos.step))
            .map(|s| s.kind.clone());
        if let Some(StepKind::Ask { reprompt, .. }) = step {
            let v = self.base_vars();
            self.say(&reprompt, &v, &[]);
        }
    }

    fn current_order_number(&self) -> Option<String> {
        self.state.slots.get("order_number").cloned()
    }

    /// A question about how something works, with no order named in the
    /// message or the conversation (the flow condition `general`).
    fn is_general_question(&self) -> bool {
        self.current_order_number().is_none()
            && !self.nlu.entities.iter().any(|e| e.kind == "order_number")
            && self.engine.phrases.is_general_question(&self.text)
    }

    /// The order in the `order_number` slot, if the shopper is verified for it.
    fn verified_order(&mut self) -> Result<Option<Arc<Order>>, StoreError> {
        let Some(n) = self.current_order_number() else {
            return Ok(None);
        };
        if !self.state.verified_orders.contains(&n) {
            return Ok(None);
        }
        // One store call per order per turn; actions that change an order clear it.
        if let Some((cached, order)) = &self.order_cache {
            if *cached == n {
                return Ok(Some(Arc::clone(order)));
            }
        }
        let order = self.engine.store.find_order(&n)?.map(Arc::new);
        if let Some(o) = &order {
            self.order_cache = Some((n, Arc::clone(o)));
        }
        Ok(order)
    }

    fn order_vars_if_verified(&mut self) -> HashMap<&'static str, String> {
        let mut v = self.base_vars();
        if let Ok(Some(order)) = self.verified_order() {
            let locale = self.locale().to_string();
            order_view::order_vars(&order, &self.view(), &locale, &mut v);
        }
        v
    }

    /// The time, time zone and policy values order views are computed with.
    fn view(&self) -> order_view::View {
        self.engine.view(self.now)
    }

    fn await_here(&mut self, flow: &Flow, step: usize, awaiting: Awaiting) {
        self.emit(Event::FlowAt {
            flow: flow.name.clone(),
            step,
            awaiting: Some(awaiting),
        });
    }

    /// Runs `flow` from step `from` until it waits for the shopper or ends.
    fn run_flow(&mut self, flow: &Flow, from: usize) {
        let mut i = from;
        while i < flow.steps.len() {
            let step = &flow.steps[i];
            self.emit(Event::FlowAt {
                flow: flow.name.clone(),
                step: i,
                awaiting: None,
            });
            let order = match self.verified_order() {
                Ok(o) => o,
                Err(StoreError::Unavailable(_)) => return self.handoff("store_unavailable"),
                Err(_) => None,
            };
            if let Some(cond) = &step.when {
                let view = self.view();
                let state = order.as_ref().map(|o| order_view::state_at(o, &view));
                let ok_state =
                    cond.states.is_empty() || state.is_some_and(|s| cond.states.contains(&s));
                let ok_overdue = cond.overdue.is_none_or(|want| {
                    order.as_ref().is_some_and(|o| {
                        order_view::days_late(o, &view)
                            .is_some_and(|d| d >= i64::from(view.late_after_days))
                            == want
                    })
                });
                let ok_window = cond.return_window.is_none_or(|want| {
                    order.as_ref().is_some_and(|o| {
                        let now = match order_view::return_open(o, &view) {
                            Some(true) => flows::ReturnWindow::Open,
                            Some(false) => flows::ReturnWindow::Closed,
                            None => flows::ReturnWindow::Unknown,
                        };
                        now == want
                    })
                });
                let ok_shipped = cond.shipped.is_none_or(|want| {
                    order
                        .as_ref()
                        .is_some_and(|o| order_view::has_shipped(o) == want)
                });
                let flow_intent = self.flow_intent();
                let ok_intent = cond.intents.is_empty() || cond.intents.contains(&flow_intent);
                let ok_split = cond.split.is_none_or(|want| {
                    order.as_ref().is_some_and(|o| order_view::split(o) == want)
                });
                let ok_general = cond
                    .general
                    .is_none_or(|want| self.is_general_question() == want);
                if !(ok_state
                    && ok_shipped
                    && ok_intent
                    && ok_overdue
                    && ok_window
                    && ok_split
                    && ok_general)
                {
                    i += 1;
                    continue;
                }
            }
            match &step.kind {
                StepKind::Need(need) => {
                    if !self.ensure_order(flow, i, *need) {
                        return;
                    }
                }
                StepKind::Say(ids) => {
                    let mut v = self.order_vars_if_verified();
                    let intent = self.flow_intent();
                    v.insert("intent", intent.clone());
                    let state = v.get("state").cloned().unwrap_or_default();
                    let locale = self.locale().to_string();
                    let chosen = ids
                        .iter()
                        .map(|id| id.replace("{state}", &state).replace("{intent}", &intent))
                        .find(|id| {
                            self.engine.templates.contains(&locale, id)
                                || self.engine.templates.contains("en", id)
                        });
                    if let Some(id) = chosen {
                        let c = order
                            .as_ref()
                            .filter(|_| id.starts_with("status."))
                            .map(|o| card(o, &v));
                        self.say_with(&id, &v, &[], c);
                    }
                }
                StepKind::Confirm { template, .. } => {
                    let v = self.order_vars_if_verified();
                    self.say(template, &v, &["yes_button", "no_button"]);
                    self.await_here(flow, i, Awaiting::Confirm);
                    return;
                }
                StepKind::Ask { slot, template, .. } => {
                    let v = self.order_vars_if_verified();
                    self.say(template, &v, &[]);
                    self.await_here(flow, i, Awaiting::Slot(slot.clone()));
                    return;
                }
                StepKind::Action {
                    action,
                    say,
                    on_error,
                } => {
                    if !self.act(action, say.as_deref(), on_error.as_deref()) {
                        return;
                    }
                }
                StepKind::AnswerFromKnowledge { quiet } => {
                    let locale = self.locale().to_string();
                    match self.engine.knowledge.answer(&self.text, &locale) {
                        Some(a) => {
                            let mut v = self.base_vars();
                            v.insert("title", a.title);
                            v.insert("passage", a.passage);
                            self.say("knowledge.answer", &v, &[]);
                        }
                        None if *quiet => {}
                        None => self.say("knowledge.none", &self.base_vars(), &["human_button"]),
                    }
                }
            }
            if step.end {
                break;
            }
            i += 1;
        }
        if self
            .state
            .flow
            .as_ref()
            .is_some_and(|f| f.flow == flow.name)
            && self.state.handoff.is_none()
        {
            self.emit(Event::FlowEnded {
                flow: flow.name.clone(),
            });
        }
    }

    /// Makes sure the shopper named an order and (if asked) proved it is theirs.
    /// False when the flow must wait for the shopper (a question was asked).
    fn ensure_order(&mut self, flow: &Flow, step: usize, need: Need) -> bool {
        let store = Arc::clone(&self.engine.store);
        let signed_in = self
            .conv
            .customer
            .clone()
            .or_else(|| self.state.customer.clone());
        // No order named yet: a signed-in or email-verified shopper picks from their orders.
        if self.current_order_number().is_none() {
            let known = match (&signed_in, &self.state.verified_email) {
                (Some(c), _) => match (&c.customer_id, &c.email) {
                    (Some(id), _) => store.orders_by_customer(id),
                    (None, Some(m)) => store.orders_by_email(m),
                    (None, None) => Ok(Vec::new()),
                },
                (None, Some(m)) => store.orders_by_email(m),
                (None, None) => Ok(Vec::new()),
            };
            let Some(orders) = self.ask_store(known) else {
                return false;
            };
            if orders.len() == 1 {
                self.emit(Event::SlotSet {
                    name: "order_number".into(),
                    value: orders[0].number.clone(),
                });
            } else if !orders.is_empty() {
                let mut v = self.base_vars();
                let list: Vec<String> = orders
                    .iter()
                    .take(5)
                    .map(|o| format!("#{}", o.number))
                    .collect();
                v.insert("orders", list.join(", "));
                v.insert("count", orders.len().to_string());
                if orders.len() > 5 {
                    // Name the older ones too (a long history only by count).
                    let older: Vec<String> = orders
                        .iter()
                        .skip(5)
                        .take(15)
                        .map(|o| format!("#{}", o.number))
                        .collect();
                    v.insert("more", older.join(", "));
                }
                let quick: Vec<String> = list.clone();
                let locale = self.locale().to_string();
                let pick = self.state.bot_messages as usize;
                if let Some(text) =
                    self.engine
                        .templates
                        .render(&locale, "ask.choose_order", pick, &v)
                {
                    self.emit(Event::BotSaid {
                        text: text.clone(),
                        template: "ask.choose_order".into(),
                        at: self.now,
                        quick_replies: quick.clone(),
                        order_card: None,
                    });
                    self.messages.push(BotMessage {
                        text,
                        template: "ask.choose_order".into(),
                        quick_replies: quick,
                        order_card: None,
                    });
                }
                self.await_here(flow, step, Awaiting::ChooseOrder);
                return false;
            } else if let (Some(email), None, None) = (
                self.state.slots.get("email").cloned(),
                &self.state.verified_email,
                &signed_in,
            ) {
                // Only an email: prove it with the postal code of one of its orders.
                let Some(postal) = self.state.slots.get("postal_code").cloned() else {
                    self.say("verify.ask_postal_for_email", &self.base_vars(), &[]);
                    self.await_here(flow, step, Awaiting::Verification);
                    return false;
                };
                if self.locked_out(flow) {
                    return false;
                }
                let Some(orders) = self.ask_store(store.orders_by_email(&email)) else {
                    return false;
                };
                if orders.iter().any(|o| matches_order(o, None, Some(&postal))) {
                    self.emit(Event::Verified {
                        order_number: None,
                        email: Some(email.to_lowercase()),
                    });
                    // Now the shopper can pick from their orders.
                    return self.ensure_order(flow, step, need);
                }
                self.verification_failed(flow, step);
                return false;
            } else {
                let v = self.base_vars();
                self.say("ask.order_number", &v, &[]);
                self.await_here(flow, step, Awaiting::OrderNumber);
                return false;
            }
        }
        if need == Need::Order {
            return true;
        }
        let Some(number) = self.current_order_number() else {
            return false;
        };
        if self.state.verified_orders.contains(&number) {
            return true;
        }
        if self.locked_out(flow) {
            return false;
        }
        let Some(order) = self.ask_store(store.find_order(&number)) else {
            return false;
        };
        // Signed in: the order must be theirs; no other check needed.
        if let Some(c) = &signed_in {
            let theirs = order.as_ref().is_some_and(|o| {
                c.customer_id
                    .as_ref()
                    .is_some_and(|id| o.customer.as_ref().is_some_and(|oc| &oc.id == id))
                    || matches_order(o, c.email.as_deref(), None)
            });
            if theirs {
                self.verified(&number, order);
                return true;
            }
            self.say("verify.not_on_account", &self.base_vars(), &[]);
            self.emit(Event::SlotCleared {
                name: "order_number".into(),
            });
            self.emit(Event::FlowEnded {
                flow: flow.name.clone(),
            });
            return false;
        }
        // Already proved an email that this order carries.
        if let (Some(m), Some(o)) = (self.state.verified_email.clone(), order.as_ref()) {
            if matches_order(o, Some(&m), None) {
                self.verified(&number, order);
                return true;
            }
        }
        let email = self.state.slots.get("email").cloned();
        let postal = self.state.slots.get("postal_code").cloned();
        if email.is_none() && postal.is_none() {
            self.say("verify.ask", &self.base_vars(), &[]);
            self.await_here(flow, step, Awaiting::Verification);
            return false;
        }
        if order
            .as_ref()
            .is_some_and(|o| matches_order(o, email.as_deref(), postal.as_deref()))
        {
            self.verified(&number, order);
            return true;
        }
        // Wrong details, or no such order: the same answer, so nothing leaks.
        self.emit(Event::SlotCleared {
            name: "email".into(),
        });
        self.verification_failed(flow, step);
        false
    }

    /// The store's answer; `None` after handing off because the store is
    /// down. Other errors read as "nothing found", which reveals nothing.
    fn ask_store<T: Default>(&mut self, answer: Result<T, StoreError>) -> Option<T> {
        match answer {
            Ok(v) => Some(v),
            Err(StoreError::Unavailable(_)) => {
                self.handoff("store_unavailable");
                None
            }
            Err(_) => Some(T::default()),
        }
    }

    /// After too many failed checks: says so, ends the flow and returns true.
    fn locked_out(&mut self, flow: &Flow) -> bool {
        if self.state.failed_verifications < self.engine.config.max_verification_attempts {
            return false;
        }
        self.say("verify.locked", &self.base_vars(), &["human_button"]);
        self.emit(Event::FlowEnded {
            flow: flow.name.clone(),
        });
        true
    }

    /// Records a failed check (the postal code given is forgotten) and asks
    /// again, or locks the conversation when that was one failure too many.
    fn verification_failed(&mut self, flow: &Flow, step: usize) {
        self.emit(Event::VerificationFailed);
        self.emit(Event::SlotCleared {
            name: "postal_code".into(),
        });
        if !self.locked_out(flow) {
            self.say("verify.failed", &self.base_vars(), &[]);
            self.await_here(flow, step, Awaiting::Verification);
        }
    }

    fn verified(&mut self, number: &str, order: Option<Order>) {
        let email = order.as_ref().and_then(|o| o.email.clone());
        let first_name = order
            .as_ref()
            .and_then(|o| o.customer.as_ref())
            .and_then(|c| c.first_name.clone());
        if let Some(o) = order {
            self.order_cache = Some((number.to_string(), Arc::new(o)));
        }
        self.emit(Event::Verified {
            order_number: Some(number.to_string()),
            email,
        });
        if let Some(name) = first_name {
            if self.state.slots.get("first_name") != Some(&name) {
                self.emit(Event::SlotSet {
                    name: "first_name".into(),
                    value: name,
                });
            }
        }
    }

    /// Runs a store action. False when the flow must stop.
    fn act(&mut self, action: &Action, say: Option<&str>, on_error: Option<&str>) -> bool {
        let store = Arc::clone(&self.engine.store);
        let number = self.current_order_number();
        let result: Result<Option<String>, StoreError> = match action {
            Action::Handoff { reason } => {
                self.handoff(reason);
                return false;
            }
            Action::CancelOrder => match &number {
                Some(n) => store.cancel_order(n, "customer", self.now).map(|_| None),
                None => Err(StoreError::NotFound(String::new())),
            },
            Action::ChangeAddress { slot } => {
                let Some(text) = self.state.slots.get(slot).cloned() else {
                    return false;
                };
                let Some(address) = parse_address(&text) else {
                    return false;
                };
                match &number {
                    Some(n) => store.change_shipping_address(n, address).map(|_| None),
                    None => Err(StoreError::NotFound(String::new())),
                }
            }
            Action::OpenCase {
                reason,
                description_slot,
            } => {
                let description = description_slot
                    .as_ref()
                    .and_then(|s| self.state.slots.get(s))
                    .cloned()
                    .unwrap_or_default();
                store
                    .open_case(number.as_deref(), reason, &description, self.now)
                    .map(|c| Some(c.id))
            }
        };
        let name = match action {
            Action::CancelOrder => "cancel_order",
            Action::ChangeAddress { .. } => "change_address",
            Action::OpenCase { .. } => "open_case",
            Action::Handoff { .. } => "handoff",
        };
        match result {
            Ok(case_id) => {
                self.order_cache = None;
                self.emit(Event::StoreAction {
                    action: name.into(),
                    order_number: number,
                    ok: true,
                });
                if let Some(id) = &case_id {
                    self.emit(Event::SlotSet {
                        name: "case_id".into(),
                        value: id.clone(),
                    });
                }
                let mut v = self.order_vars_if_verified();
                if let Some(id) = case_id {
                    v.insert("case_id", id);
                }
                if let Some(t) = say {
                    self.say(t, &v, &[]);
                }
                true
            }
            Err(StoreError::Unavailable(_)) => {
                self.handoff("store_unavailable");
                false
            }
            Err(e) => {
                self.emit(Event::StoreAction {
                    action: name.into(),
                    order_number: number,
                    ok: false,
                });
                let mut v = self.order_vars_if_verified();
                // The store's own words, not the error's kind.
                let reason = match e {
                    StoreError::NotAllowed(r) => r,
                    other => other.to_string(),
                };
                v.insert("reason", reason);
                self.say(on_error.unwrap_or("action.failed"), &v, &[]);
                if let Some(f) = self.state.flow.clone() {
                    self.emit(Event::FlowEnded { flow: f.flow });
                }
                false
            }
        }
    }
}

fn card(o: &Order, v: &HashMap<&'static str, String>) -> OrderCard {
    let nonempty = |k: &str| v.get(k).filter(|s| !s.is_empty()).cloned();
    OrderCard {
        order_number: o.number.clone(),
        state: nonempty("state").unwrap_or_else(|| order_view::state(o).name().to_string()),
        items: o
            .line_items
            .iter()
            .map(|li| li.title.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        carrier: nonempty("carrier"),
        tracking_number: nonempty("tracking_number"),
        tracking_url: nonempty("tracking_url"),
        // Only a date still to come: a late order's past date is no estimate.
        eta: nonempty("eta").and_then(|_| nonempty("eta_date")),
    }
}

/// The state name of an order, for callers that render their own views.
pub fn order_state(o: &Order) -> OrderState {
    order_view::state(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_shoppers_type_them() {
        let a = parse_address("Calle de Alcalá 45, 28014 Madrid").expect("parses");
        assert_eq!(
            (a.address1.as_str(), a.city.as_str(), a.zip.as_deref()),
            ("Calle de Alcalá 45", "Madrid", Some("28014"))
        );
        let a = parse_address("12 Baker St, Flat 2, London, NW1 6XE").expect("parses");
        assert_eq!(
            (a.address2.as_deref(), a.city.as_str(), a.zip.as_deref()),
            (Some("Flat 2"), "London", Some("NW1 6XE"))
        );
        let a = parse_address("500 Main St, Springfield IL 62701").expect("parses");
        assert_eq!(
            (a.city.as_str(), a.province.as_deref(), a.zip.as_deref()),
            ("Springfield", Some("IL"), Some("62701"))
        );
        let a = parse_address("48 Harbor Road, Portland, ME 04101").expect("parses");
        assert_eq!(
            (a.city.as_str(), a.province.as_deref(), a.zip.as_deref()),
            ("Portland", Some("ME"), Some("04101"))
        );
        assert_eq!(parse_address("somewhere nice"), None);
        assert_eq!(parse_address("Main Street, Springfield"), None);
        assert_eq!(parse_address("12 Main St"), None);
    }

    #[test]
    fn language_detection() {
        assert_eq!(detect_locale("hola, ¿dónde está mi pedido?"), Some("es"));
        assert_eq!(
            detect_locale("el pedido 1029 pone entregado pero no lo he recibido"),
            Some("es")
        );
        assert_eq!(detect_locale("where is my order"), Some("en"));
        assert_eq!(detect_locale("1042"), None);
    }
}
