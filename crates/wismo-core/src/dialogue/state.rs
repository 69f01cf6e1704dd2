//! A conversation is an event log; its state is a fold over it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What the conversation is waiting for from the shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "slot")]
pub enum Awaiting {
    OrderNumber,
    ChooseOrder,
    Verification,
    Confirm,
    Slot(String),
}

/// A rich part beside a bot message: a summary of a verified order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCard {
    pub order_number: String,
    pub state: String,
    pub items: Vec<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub eta: Option<String>,
}

/// Everything that happens in a conversation, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    UserSaid {
        text: String,
        at: DateTime<Utc>,
        intent: String,
        confidence: f32,
        sentiment: f32,
        /// False when the message was out of scope or below the confidence bar.
        understood: bool,
    },
    BotSaid {
        text: String,
        template: String,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        quick_replies: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order_card: Option<OrderCard>,
    },
    LocaleSet {
        locale: String,
    },
    SlotSet {
        name: String,
        value: String,
    },
    SlotCleared {
        name: String,
    },
    FlowAt {
        flow: String,
        step: usize,
        awaiting: Option<Awaiting>,
    },
    FlowEnded {
        flow: String,
    },
    Verified {
        order_number: Option<String>,
        email: Option<String>,
    },
    VerificationFailed,
    StoreAction {
        action: String,
        order_number: Option<String>,
        ok: bool,
    },
    HandoffRequested {
        reason: String,
    },
    /// The escalation manager put the conversation in the queue for a
    /// person: the case id, the honest wait estimate (`None`: nobody is
    /// online), and the email the store can answer at, if it knows one.
    HandoffQueued {
        case: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_secs: Option<u32>,
        agents_online: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact_email: Option<String>,
        at: DateTime<Utc>,
    },
    /// The shopper wrote while queued and their wait had changed (the
    /// estimate passed, or someone came online, or everyone went offline):
    /// the bot told them the new wait once. Same fields as `HandoffQueued`.
    HandoffUpdated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_secs: Option<u32>,
        agents_online: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact_email: Option<String>,
        at: DateTime<Utc>,
    },
    /// A person from the store took the conversation over: from now on the
    /// bot stays silent (it records what the shopper says, never answers).
    AgentJoined {
        agent: String,
        at: DateTime<Utc>,
    },
    /// A person's message to the shopper.
    AgentSaid {
        agent: String,
        text: String,
        at: DateTime<Utc>,
    },
    /// The person left: the conversation goes back to the bot, with the
    /// hand-off closed (`resolved`: the person settled the matter).
    AgentLeft {
        agent: String,
        at: DateTime<Utc>,
        resolved: bool,
        /// How the person settled it (`refunded`, `no_action`…), when resolved.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
    },
    /// The conversation passed from one person to another.
    AgentTransferred {
        from: String,
        to: String,
        at: DateTime<Utc>,
    },
    /// An internal note between the store's people: never shown to the shopper.
    NoteAdded {
        agent: String,
        text: String,
        at: DateTime<Utc>,
    },
    /// The shopper rated the help they got (1–5), with an optional comment.
    CsatGiven {
        score: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        at: DateTime<Utc>,
    },
    /// The conversation sat idle past the session timeout: what follows starts
    /// fresh (no slots, flow, verification or hand-off), keeping the language.
    /// The history before it stays in the log.
    SessionExpired {
        at: DateTime<Utc>,
    },
    /// The store's own site vouched for who the shopper is (a customer
    /// token the server verified): order questions are checked by
    /// ownership from now on, without asking for an email or postal code.
    CustomerSignedIn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        at: DateTime<Utc>,
    },
}

/// Who is talking, when the store vouched for it: the store's customer id
/// and/or their email (lowercased).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub customer_id: Option<String>,
    pub email: Option<String>,
}

/// Where a flow stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowPos {
    pub flow: String,
    pub step: usize,
    pub awaiting: Option<Awaiting>,
}

/// The state of a conversation, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub locale: Option<String>,
    pub slots: BTreeMap<String, String>,
    pub verified_orders: BTreeSet<String>,
    pub verified_email: Option<String>,
    pub failed_verifications: u32,
    pub flow: Option<FlowPos>,
    pub user_turns: u32,
    pub bot_messages: u32,
    /// Consecutive user turns that were not understood.
    pub misunderstood_streak: u32,
    pub sentiments: Vec<f32>,
    pub handoff: Option<String>,
    pub last_intent: Option<String>,
    /// The person who owns the conversation now, if any (the bot is silent).
    #[serde(default)]
    pub agent: Option<String>,
    /// The open hand-off case, once the conversation is queued.
    #[serde(default)]
    pub case_id: Option<String>,
    /// Nobody was online at hand-off and no email is known: the bot asked
    /// the shopper for one.
    #[serde(default)]
    pub wants_contact: bool,
    /// The shopper's rating, once given.
    #[serde(default)]
    pub csat: Option<u8>,
    /// The wait the shopper was last told (queued or updated).
    #[serde(default)]
    pub wait_secs: Option<u32>,
    /// Whether someone was online when the shopper was last told the wait
    /// (false: the case waits for an email follow-up).
    #[serde(default)]
    pub agents_online: bool,
    /// When the shopper was last told what happens next (queued or updated).
    #[serde(default)]
    pub handoff_told_at: Option<DateTime<Utc>>,
    /// How the last hand-off was resolved, until a new one starts.
    #[serde(default)]
    pub resolution: Option<String>,
    /// The signed-in shopper ([`Event::CustomerSignedIn`]); kept across
    /// session expiry (the conversation's bearer token still holds).
    #[serde(default)]
    pub customer: Option<SignedIn>,
}

impl State {
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut s = Self::default();
        for e in events {
            s.apply(e);
        }
        s
    }

    pub fn apply(&mut self, e: &Event) {
        match e {
            Event::UserSaid {
                intent,
                sentiment,
                understood,
                ..
            } => {
                self.user_turns += 1;
                self.sentiments.push(*sentiment);
                self.misunderstood_streak = if *understood {
                    0
                } else {
                    self.misunderstood_streak + 1
                };
                self.last_intent = Some(intent.clone());
            }
            Event::BotSaid { .. } => self.bot_messages += 1,
            Event::LocaleSet { locale } => self.locale = Some(locale.clone()),
            Event::SlotSet { name, value } => {
                if name == "contact_email" {
                    self.wants_contact = false;
                }
                self.slots.insert(name.clone(), value.clone());
            }
            Event::SlotCleared { name } => {
                self.slots.remove(name);
            }
            Event::FlowAt {
                flow,
                step,
                awaiting,
            } => {
                self.flow = Some(FlowPos {
                    flow: flow.clone(),
                    step: *step,
                    awaiting: awaiting.clone(),
                });
            }
            Event::FlowEnded { .. } => self.flow = None,
            Event::Verified {
                order_number,
                email,
            } => {
                if let Some(n) = order_number {
                    self.verified_orders.insert(n.clone());
                }
                if let Some(m) = email {
                    self.verified_email = Some(m.clone());
                }
            }
            Event::VerificationFailed => self.failed_verifications += 1,
            Event::StoreAction { .. } => {}
            Event::HandoffRequested { reason } => {
                self.handoff = Some(reason.clone());
                self.resolution = None;
            }
            Event::HandoffQueued {
                case,
                agents_online,
                contact_email,
                wait_secs,
                at,
            } => {
                self.case_id = Some(case.clone());
                self.told_wait(*wait_secs, *agents_online, contact_email.is_some(), *at);
            }
            Event::HandoffUpdated {
                agents_online,
                contact_email,
                wait_secs,
                at,
            } => self.told_wait(*wait_secs, *agents_online, contact_email.is_some(), *at),
            Event::AgentJoined { agent, .. } => self.agent = Some(agent.clone()),
            Event::AgentTransferred { to, .. } => self.agent = Some(to.clone()),
            Event::AgentSaid { .. } | Event::NoteAdded { .. } => {}
            Event::CsatGiven { score, .. } => self.csat = Some(*score),
            Event::AgentLeft {
                resolved, outcome, ..
            } => {
                self.resolution =
                    resolved.then(|| outcome.clone().unwrap_or_else(|| "resolved".into()));
                self.agent = None;
                self.handoff = None;
                self.case_id = None;
                self.wait_secs = None;
                self.agents_online = false;
                self.handoff_told_at = None;
                self.wants_contact = false;
                self.misunderstood_streak = 0;
                if *resolved {
                    self.flow = None;
                }
            }
            Event::CustomerSignedIn {
                customer_id, email, ..
            } => {
                self.customer = Some(SignedIn {
                    customer_id: customer_id.clone(),
                    email: email.clone(),
                });
            }
            Event::SessionExpired { .. } => {
                *self = State {
                    locale: self.locale.take(),
                    customer: self.customer.take(),
                    csat: self.csat,
                    ..State::default()
                };
            }
        }
    }

    fn told_wait(
        &mut self,
        wait_secs: Option<u32>,
        agents_online: bool,
        email_known: bool,
        at: DateTime<Utc>,
    ) {
        self.wait_secs = wait_secs;
        self.agents_online = agents_online;
        self.handoff_told_at = Some(at);
        self.wants_contact =
            !agents_online && !email_known && !self.slots.contains_key("contact_email");
    }

    pub fn awaiting(&self) -> Option<&Awaiting> {
        self.flow.as_ref().and_then(|f| f.awaiting.as_ref())
    }
}
