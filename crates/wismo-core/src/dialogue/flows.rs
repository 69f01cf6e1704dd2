//! Declarative conversation flows, read from YAML.
//!
//! ```yaml
//! flows:
//!   cancel_order:
//!     intents: [cancel_order]          # NLU intents that start this flow
//!     steps:
//!       - need: verified_order         # ask for the order and verify the shopper first
//!       - say: cancel.already_cancelled
//!         if: {state: [cancelled]}     # a step runs only when its condition holds
//!         end: true                    # ... and the flow stops after it
//!       - say: cancel.too_late
//!         if: {shipped: true}
//!         end: true
//!       - confirm: cancel.confirm      # yes/no question; "no" says on_deny and ends
//!         on_deny: cancel.kept
//!       - action: cancel_order         # calls the store
//!         say: cancel.done
//! ```
//!
//! Step kinds: `need` (`order` or `verified_order`), `say` (a template id, or
//! a list tried in order; `{state}` and `{intent}` in an id are replaced by the
//! order's state and the current intent), `confirm` + `on_deny`, `ask` (a
//! `slot` with a `kind` — `text`, `email`, `postal_code`, `address` — and a
//! `reprompt` for answers that do not validate), `action` (`cancel_order`,
//! `change_address`, `open_case`, `handoff`, with `say`/`on_error`, and for
//! `open_case` and `handoff` a `reason`), and `answer: knowledge` (answer from
//! the knowledge base). Any step may carry `if:` and `end: true`. Conditions:
//! `state` (a list of order states, `late` included), `shipped` (true/false),
//! `intent` (a list), `overdue` (true when a late order is at least the
//! store's `late_after_days` past its promised date), `return_window`
//! (`open`, `closed` or `unknown`: whether today is within the store's return
//! window after the delivery date), `split` (true when the order went out in
//! several packages of which some arrived and some did not).

use super::order_view::OrderState;
use crate::yaml::{self, Node, NodeKind};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Flows {
    pub flows: Vec<Flow>,
    by_intent: HashMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub name: String,
    pub intents: Vec<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    pub when: Option<Condition>,
    pub end: bool,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Need(Need),
    Say(Vec<String>),
    Confirm {
        template: String,
        on_deny: String,
    },
    Ask {
        slot: String,
        slot_kind: SlotKind,
        template: String,
        reprompt: String,
    },
    Action {
        action: Action,
        say: Option<String>,
        on_error: Option<String>,
    },
    AnswerFromKnowledge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Order,
    VerifiedOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    Text,
    Email,
    PostalCode,
    Address,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CancelOrder,
    ChangeAddress {
        slot: String,
    },
    OpenCase {
        reason: String,
        description_slot: Option<String>,
    },
    Handoff {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Condition {
    pub states: Vec<OrderState>,
    pub shipped: Option<bool>,
    pub intents: Vec<String>,
    pub overdue: Option<bool>,
    pub return_window: Option<ReturnWindow>,
    /// Sent in several packages, some delivered and some not.
    pub split: Option<bool>,
}

/// Where today stands against an order's return window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWindow {
    Open,
    Closed,
    /// The delivery date is not known.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct FlowError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl Flows {
    pub fn flow_for_intent(&self, intent: &str) -> Option<&Flow> {
        self.by_intent.get(intent).map(|&i| &self.flows[i])
    }

    pub fn get(&self, name: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// Every template a flow can say, as lists of alternatives (the first
    /// existing one is used), with `{state}`/`{intent}` unexpanded.
    pub fn template_ids(&self) -> Vec<Vec<&str>> {
        let mut v: Vec<Vec<&str>> = Vec::new();
        for f in &self.flows {
            for s in &f.steps {
                match &s.kind {
                    StepKind::Say(ids) => v.push(ids.iter().map(String::as_str).collect()),
                    StepKind::Confirm { template, on_deny } => {
                        v.push(vec![template.as_str()]);
                        v.push(vec![on_deny.as_str()]);
                    }
                    StepKind::Ask {
                        template, reprompt, ..
                    } => {
                        v.push(vec![template.as_str()]);
                        v.push(vec![reprompt.as_str()]);
                    }
                    StepKind::Action { say, on_error, .. } => {
                        v.extend(say.as_deref().map(|t| vec![t]));
                        v.extend(on_error.as_deref().map(|t| vec![t]));
                    }
                    StepKind::Need(_) | StepKind::AnswerFromKnowledge => {}
                }
            }
        }
        v
    }

    /// Adds `other`'s flows: one with the name of an existing flow replaces
    /// it, and an intent `other` claims is taken from any existing flow.
    pub fn merge(&mut self, other: Flows) {
        let claimed: Vec<String> = other.flows.iter().flat_map(|f| f.intents.clone()).collect();
        let mut flows: Vec<Flow> = std::mem::take(&mut self.flows);
        for f in &mut flows {
            f.intents.retain(|i| !claimed.contains(i));
        }
        for f in other.flows {
            match flows.iter_mut().find(|old| old.name == f.name) {
                Some(old) => *old = f,
                None => flows.push(f),
            }
        }
        self.by_intent = flows
            .iter()
            .enumerate()
            .flat_map(|(n, f)| f.intents.iter().map(move |i| (i.clone(), n)))
            .collect();
        self.flows = flows;
    }

    pub fn parse(src: &str, file: &str) -> Result<Self, FlowError> {
        let err = |line: usize, message: String| FlowError {
            file: file.to_string(),
            line,
            message,
        };
        let root = yaml::parse_document(src).map_err(|e| err(e.line, e.message))?;
        let flows_node = root
            .get("flows")
            .ok_or_else(|| err(root.line, "expected a top-level `flows:` mapping".into()))?;
        let NodeKind::Map(items) = &flows_node.kind else {
            return Err(err(
                flows_node.line,
                format!(
                    "`flows` must be a mapping of flow names, found {}",
                    flows_node.type_name()
                ),
            ));
        };
        let mut flows = Vec::new();
        let mut by_intent = HashMap::new();
        for (k, v) in items {
            let name = k
                .as_str()
                .ok_or_else(|| err(k.line, "flow name must be a string".into()))?
                .to_string();
            let intents = string_list(v.get("intents"), &err)?;
            let steps_node = v
                .get("steps")
                .ok_or_else(|| err(v.line, format!("flow {name:?} has no `steps:`")))?;
            let NodeKind::Seq(step_nodes) = &steps_node.kind else {
                return Err(err(
                    steps_node.line,
                    format!("`steps` of {name:?} must be a list"),
                ));
            };
            let steps = step_nodes
                .iter()
                .map(|s| parse_step(s, &err))
                .collect::<Result<Vec<_>, _>>()?;
            if steps.is_empty() {
                return Err(err(steps_node.line, format!("flow {name:?} has no steps")));
            }
            for i in &intents {
                if by_intent.insert(i.clone(), flows.len()).is_some() {
                    return Err(err(
                        v.line,
                        format!("intent {i:?} starts more than one flow"),
                    ));
                }
            }
            flows.push(Flow {
                name,
                intents,
                steps,
            });
        }
        Ok(Self { flows, by_intent })
    }
}

fn string_list(
    node: Option<&Node>,
    err: &dyn Fn(usize, String) -> FlowError,
) -> Result<Vec<String>, FlowError> {
    yaml::string_list(node).map_err(|e| err(e.line, e.message))
}

fn text(
    node: &Node,
    key: &str,
    err: &dyn Fn(usize, String) -> FlowError,
) -> Result<String, FlowError> {
    node.get(key)
        .and_then(Node::as_str)
        .map(str::to_string)
        .ok_or_else(|| err(node.line, format!("this step needs `{key}:`")))
}

fn parse_step(node: &Node, err: &dyn Fn(usize, String) -> FlowError) -> Result<Step, FlowError> {
    let opt = |key: &str| node.get(key).and_then(Node::as_str).map(str::to_string);
    let kind = if let Some(need) = opt("need") {
        StepKind::Need(match need.as_str() {
            "order" => Need::Order,
            "verified_order" => Need::VerifiedOrder,
            other => {
                return Err(err(
                    node.line,
                    format!("unknown need {other:?} (expected order or verified_order)"),
                ))
            }
        })
    } else if node.get("say").is_some() && node.get("action").is_none() {
        StepKind::Say(string_list(node.get("say"), err)?)
    } else if let Some(template) = opt("confirm") {
        StepKind::Confirm {
            template,
            on_deny: text(node, "on_deny", err)?,
        }
    } else if let Some(slot) = opt("ask") {
        let slot_kind = match opt("kind").as_deref().unwrap_or("text") {
            "text" => SlotKind::Text,
            "email" => SlotKind::Email,
            "postal_code" => SlotKind::PostalCode,
            "address" => SlotKind::Address,
            other => {
                return Err(err(
                    node.line,
                    format!(
                    "unknown slot kind {other:?} (expected text, email, postal_code or address)"
                ),
                ))
            }
        };
        StepKind::Ask {
            slot,
            slot_kind,
            template: text(node, "prompt", err)?,
            reprompt: opt("reprompt").unwrap_or_else(|| "ask.reprompt".into()),
        }
    } else if let Some(action) = opt("action") {
        let action = match action.as_str() {
            "cancel_order" => Action::CancelOrder,
            "change_address" => Action::ChangeAddress { slot: opt("slot").unwrap_or_else(|| "new_address".into()) },
            "open_case" => Action::OpenCase {
                reason: text(node, "reason", err)?,
                description_slot: opt("slot"),
            },
            "handoff" => Action::Handoff { reason: text(node, "reason", err)? },
            other => return Err(err(node.line, format!("unknown action {other:?} (expected cancel_order, change_address, open_case or handoff)"))),
        };
        StepKind::Action {
            action,
            say: opt("say"),
            on_error: opt("on_error"),
        }
    } else if opt("answer").as_deref() == Some("knowledge") {
        StepKind::AnswerFromKnowledge
    } else {
        return Err(err(
            node.line,
            "a step needs one of need, say, confirm, ask, action or answer".into(),
        ));
    };
    let when = match node.get("if") {
        None => None,
        Some(c) => {
            let states = string_list(c.get("state"), err)?
                .iter()
                .map(|s| {
                    OrderState::parse(s)
                        .ok_or_else(|| err(c.line, format!("unknown order state {s:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let flag = |key: &str| match c.get(key).and_then(Node::as_str) {
                None => Ok(None),
                Some("true") => Ok(Some(true)),
                Some("false") => Ok(Some(false)),
                Some(o) => Err(err(
                    c.line,
                    format!("`{key}` must be true or false, not {o:?}"),
                )),
            };
            let return_window = match c.get("return_window").and_then(Node::as_str) {
                None => None,
                Some("open") => Some(ReturnWindow::Open),
                Some("closed") => Some(ReturnWindow::Closed),
                Some("unknown") => Some(ReturnWindow::Unknown),
                Some(o) => {
                    return Err(err(
                        c.line,
                        format!("`return_window` must be open, closed or unknown, not {o:?}"),
                    ))
                }
            };
            Some(Condition {
                states,
                shipped: flag("shipped")?,
                intents: string_list(c.get("intent"), err)?,
                overdue: flag("overdue")?,
                return_window,
                split: flag("split")?,
            })
        }
    };
    let end = node.get("end").and_then(Node::as_str) == Some("true");
    Ok(Step {
        kind,
        when,
        end,
        line: node.line,
    })
}
