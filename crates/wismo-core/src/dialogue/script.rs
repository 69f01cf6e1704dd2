//! Conversation tests: YAML scripts of shopper turns with expectations,
//! run against the engine (`wismo test FILE...`).
//!
//! ```yaml
//! store: path/to/store             # optional: a store folder (store.toml, orders.json, knowledge/)
//! orders: path/to/orders.json      # optional, Shopify order JSON; default: the store's, else the demo store
//! knowledge: path/to/folder        # optional; default: the built-in articles
//! now: 2026-11-24T12:00:00Z        # optional reference time
//! conversations:
//!   - name: where is my order, verified by email
//!     locale: en                   # optional
//!     customer: maria@example.com  # optional: a signed-in customer
//!     turns:
//!       - user: "where's my order #1042"
//!         expect:
//!           intent: track_order            # optional
//!           contains: ["email"]            # each must appear (case-insensitive) in the replies
//!           contains_any: ["postal", "zip", "email"]
//!           not_contains: ["1Z999"]
//!           handoff: false                 # whether hand-off has been requested by the end of the turn
//! ```
//!
//! The format is stable: scripts written for one version keep working.

use super::{Conversation, Engine, SignedIn};
use crate::yaml::{self, Node, NodeKind};
use chrono::{DateTime, Utc};

/// The conversation tests shipped with wismo (`data/conversations/`).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "order_status.yml",
        include_str!("../../data/conversations/order_status.yml"),
    ),
    (
        "verification.yml",
        include_str!("../../data/conversations/verification.yml"),
    ),
    (
        "actions.yml",
        include_str!("../../data/conversations/actions.yml"),
    ),
    (
        "knowledge.yml",
        include_str!("../../data/conversations/knowledge.yml"),
    ),
    (
        "spanish.yml",
        include_str!("../../data/conversations/spanish.yml"),
    ),
    (
        "conversation.yml",
        include_str!("../../data/conversations/conversation.yml"),
    ),
    (
        "edge_cases.yml",
        include_str!("../../data/conversations/edge_cases.yml"),
    ),
    (
        "regressions.yml",
        include_str!("../../data/conversations/regressions.yml"),
    ),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// A store folder: its `store.toml` settings, `orders.json` and `knowledge/`.
    pub store: Option<String>,
    pub orders: Option<String>,
    pub knowledge: Option<String>,
    pub now: Option<DateTime<Utc>>,
    pub conversations: Vec<ScriptConversation>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScriptConversation {
    pub name: String,
    pub locale: Option<String>,
    pub customer: Option<String>,
    pub turns: Vec<ScriptTurn>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expect {
    pub intent: Option<String>,
    pub contains: Vec<String>,
    pub contains_any: Vec<String>,
    pub not_contains: Vec<String>,
    pub handoff: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScriptTurn {
    pub user: String,
    pub expect: Expect,
    pub line: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ScriptError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// The outcome of one scripted conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: String,
    /// Empty when the conversation passed.
    pub failures: Vec<String>,
    /// The whole exchange, for showing on failure.
    pub transcript: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

fn strings(
    node: Option<&Node>,
    err: &dyn Fn(usize, String) -> ScriptError,
) -> Result<Vec<String>, ScriptError> {
    yaml::string_list(node).map_err(|e| err(e.line, e.message))
}

const TOP_KEYS: [&str; 5] = ["store", "orders", "knowledge", "now", "conversations"];
const CONV_KEYS: [&str; 4] = ["name", "locale", "customer", "turns"];
const EXPECT_KEYS: [&str; 5] = [
    "intent",
    "contains",
    "contains_any",
    "not_contains",
    "handoff",
];

fn check_keys(
    node: &Node,
    allowed: &[&str],
    what: &str,
    err: &dyn Fn(usize, String) -> ScriptError,
) -> Result<(), ScriptError> {
    if let NodeKind::Map(items) = &node.kind {
        for (k, _) in items {
            let key = k.as_str().unwrap_or("");
            if !allowed.contains(&key) {
                return Err(err(
                    k.line,
                    format!(
                        "unknown key {key:?} in {what} (expected one of: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    } else {
        Err(err(
            node.line,
            format!("{what} must be a mapping, found {}", node.type_name()),
        ))
    }
}

/// Parses a conversation-test file.
pub fn parse(src: &str, file: &str) -> Result<Script, ScriptError> {
    let err = |line: usize, message: String| ScriptError {
        file: file.to_string(),
        line,
        message,
    };
    let root = yaml::parse_document(src).map_err(|e| err(e.line, e.message))?;
    check_keys(&root, &TOP_KEYS, "the file", &err)?;
    let now = match root.get("now").and_then(Node::as_str) {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    err(
                        root.get("now").map_or(0, |n| n.line),
                        format!("`now` {s:?} is not an RFC 3339 time"),
                    )
                })?
                .with_timezone(&Utc),
        ),
    };
    let convs = root
        .get("conversations")
        .ok_or_else(|| err(root.line, "missing `conversations:`".into()))?;
    let NodeKind::Seq(items) = &convs.kind else {
        return Err(err(convs.line, "`conversations` must be a list".into()));
    };
    let mut conversations = Vec::new();
    for c in items {
        check_keys(c, &CONV_KEYS, "a conversation", &err)?;
        let name = c
            .get("name")
            .and_then(Node::as_str)
            .ok_or_else(|| err(c.line, "a conversation needs a `name`".into()))?
            .to_string();
        let turns_node = c
            .get("turns")
            .ok_or_else(|| err(c.line, format!("conversation {name:?} has no `turns`")))?;
        let NodeKind::Seq(turn_nodes) = &turns_node.kind else {
            return Err(err(turns_node.line, "`turns` must be a list".into()));
        };
        let mut turns = Vec::new();
        for t in turn_nodes {
            check_keys(t, &["user", "expect"], "a turn", &err)?;
            let user = t
                .get("user")
                .and_then(Node::as_str)
                .ok_or_else(|| err(t.line, "a turn needs `user:` text".into()))?
                .to_string();
            let mut expect = Expect::default();
            if let Some(e) = t.get("expect") {
                check_keys(e, &EXPECT_KEYS, "`expect`", &err)?;
                expect.intent = e.get("intent").and_then(Node::as_str).map(str::to_string);
                expect.contains = strings(e.get("contains"), &err)?;
                expect.contains_any = strings(e.get("contains_any"), &err)?;
                expect.not_contains = strings(e.get("not_contains"), &err)?;
                expect.handoff = match e.get("handoff").and_then(Node::as_str) {
                    None => None,
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some(o) => {
                        return Err(err(
                            e.line,
                            format!("`handoff` must be true or false, not {o:?}"),
                        ))
                    }
                };
            }
            turns.push(ScriptTurn {
                user,
                expect,
                line: t.line,
            });
        }
        if turns.is_empty() {
            return Err(err(
                turns_node.line,
                format!("conversation {name:?} has no turns"),
            ));
        }
        conversations.push(ScriptConversation {
            name,
            locale: c.get("locale").and_then(Node::as_str).map(str::to_string),
            customer: c.get("customer").and_then(Node::as_str).map(str::to_string),
            turns,
            line: c.line,
        });
    }
    Ok(Script {
        store: root.get("store").and_then(Node::as_str).map(str::to_string),
        orders: root
            .get("orders")
            .and_then(Node::as_str)
            .map(str::to_string),
        knowledge: root
            .get("knowledge")
            .and_then(Node::as_str)
            .map(str::to_string),
        now,
        conversations,
    })
}

/// Runs one scripted conversation from scratch.
/// What is wrong with one turn's outcome (empty when it meets `t.expect`):
/// `index` is the turn's 0-based position, `intent` its name and confidence,
/// `handoff` the reason once a hand-off has been requested. Shared by
/// [`run`] and by tests that drive the same scripts through the server.
pub fn check_turn(
    t: &ScriptTurn,
    index: usize,
    replies: &[&str],
    intent: (&str, f32),
    handoff: Option<&str>,
) -> Vec<String> {
    let mut failures = Vec::new();
    let all = replies.join("\n").to_lowercase();
    let at = format!("turn {} (line {})", index + 1, t.line);
    if let Some(want) = &t.expect.intent {
        if intent.0 != want {
            failures.push(format!(
                "{at}: intent {} ({:.2}), expected {want}",
                intent.0, intent.1
            ));
        }
    }
    for s in &t.expect.contains {
        if !all.contains(&s.to_lowercase()) {
            failures.push(format!("{at}: replies do not contain {s:?}"));
        }
    }
    if !t.expect.contains_any.is_empty()
        && !t
            .expect
            .contains_any
            .iter()
            .any(|s| all.contains(&s.to_lowercase()))
    {
        failures.push(format!(
            "{at}: replies contain none of {:?}",
            t.expect.contains_any
        ));
    }
    for s in &t.expect.not_contains {
        if all.contains(&s.to_lowercase()) {
            failures.push(format!("{at}: replies contain {s:?}, which they must not"));
        }
    }
    if let Some(h) = t.expect.handoff {
        if handoff.is_some() != h {
            failures.push(format!(
                "{at}: hand-off {} expected {}",
                handoff.unwrap_or("none"),
                if h { "requested" } else { "none" }
            ));
        }
    }
    failures
}

pub fn run(engine: &Engine, c: &ScriptConversation, now: DateTime<Utc>) -> Outcome {
    let mut conv = Conversation {
        id: c.name.clone(),
        locale: c.locale.clone(),
        customer: c.customer.as_ref().map(|m| SignedIn {
            customer_id: None,
            email: Some(m.to_lowercase()),
        }),
        events: Vec::new(),
        state: Default::default(),
    };
    let mut transcript = Vec::new();
    for m in engine.greet(&mut conv, now) {
        transcript.push(format!("bot> {}", m.text));
    }
    let mut failures = Vec::new();
    for (i, t) in c.turns.iter().enumerate() {
        let out = engine.turn(&mut conv, &t.user, now);
        transcript.push(format!("you> {}", t.user));
        let replies: Vec<&str> = out.messages.iter().map(|m| m.text.as_str()).collect();
        for r in &replies {
            transcript.push(format!("bot> {r}"));
        }
        failures.extend(check_turn(
            t,
            i,
            &replies,
            (&out.nlu.intent.name, out.nlu.intent.confidence),
            out.handoff.as_deref(),
        ));
    }
    Outcome {
        name: c.name.clone(),
        failures,
        transcript,
    }
}
