//! The dialogue engine through its public API: the shipped conversation
//! scripts, the disclosure rule for every flow and every demo order, the event
//! log, and hand-off when the store is down.

use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use wismo_core::dialogue::{script, Conversation, Engine, EngineConfig, Event, State};
use wismo_core::knowledge::KnowledgeBase;
use wismo_core::nlu::{self, Nlu, NluTrainOptions};
use wismo_core::store::memory::{demo_now, InMemoryStore};
use wismo_core::store::{Order, OrderService};

fn nlu() -> Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| {
        let data = nlu::default_training_data().expect("built-in data parses");
        let model = nlu::train(&data, &NluTrainOptions::default(), &mut |_| {}).expect("trains");
        Nlu::new(model, &Default::default()).expect("usable")
    })
    .clone()
}

fn engine_with(store: Arc<dyn OrderService>) -> Engine {
    Engine::new(
        nlu(),
        KnowledgeBase::builtin(),
        store,
        EngineConfig::default(),
    )
    .expect("engine builds")
}

fn demo_engine() -> (Engine, Arc<InMemoryStore>) {
    let store = Arc::new(InMemoryStore::demo().expect("demo loads"));
    (engine_with(store.clone()), store)
}

fn conversations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/conversations")
}

#[test]
fn every_shipped_conversation_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(conversations_dir())
        .expect("conversations folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut count = 0;
    for f in &files {
        let src = std::fs::read_to_string(f).expect("readable");
        let s = script::parse(&src, &f.display().to_string()).expect("script parses");
        assert!(s.orders.is_none(), "shipped scripts use the demo store");
        // A fresh store per file: scripts cancel and re-address orders.
        let (engine, _) = demo_engine();
        for c in &s.conversations {
            count += 1;
            let out = script::run(&engine, c, s.now.unwrap_or_else(demo_now));
            if !out.passed() {
                failures.push(format!(
                    "{} ({}):\n  {}\n  {}",
                    out.name,
                    f.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                    out.failures.join("\n  "),
                    out.transcript.join("\n  ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} conversations failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Strings that would disclose something about `order`.
fn secrets(order: &Order) -> Vec<String> {
    let mut s = Vec::new();
    for li in &order.line_items {
        s.push(li.title.clone());
    }
    for f in &order.fulfillments {
        s.extend(f.tracking_numbers.iter().cloned());
        s.extend(f.tracking_urls.iter().cloned());
    }
    if let Some(a) = &order.shipping_address {
        s.push(a.address1.clone());
        s.extend(a.zip.clone());
    }
    if let Some(c) = order.customer.as_ref().and_then(|c| c.first_name.clone()) {
        s.push(c);
    }
    s.retain(|x| x.len() >= 3);
    s
}

#[test]
fn no_flow_reveals_anything_before_verification() {
    let (engine, store) = demo_engine();
    assert_nothing_disclosed_without_proof(&engine, &store.orders(), demo_now());
}

/// The same over the second store (examples/second-store), which wismo was
/// not written against: other order numbers, carriers, zones and language.
#[test]
fn no_flow_reveals_anything_before_verification_on_the_second_store() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/second-store/orders.json");
    let src = std::fs::read_to_string(&path).expect("the second store ships with the repo");
    let store = Arc::new(
        InMemoryStore::from_shopify_json(&src, "orders.json").expect("the second store loads"),
    );
    let engine = Engine::new(
        nlu(),
        KnowledgeBase::builtin(),
        store.clone(),
        EngineConfig {
            tz: chrono_tz::America::Mexico_City,
            return_window_days: 15,
            ..Default::default()
        },
    )
    .expect("engine builds");
    let orders = store.orders();
    assert!(orders.len() >= 30, "{} orders", orders.len());
    assert_nothing_disclosed_without_proof(&engine, &orders, at("2026-12-04T18:00:00Z"));
}

fn assert_nothing_disclosed_without_proof(engine: &Engine, orders: &[Order], now: DateTime<Utc>) {
    // One opening per intent that starts a flow needing an order.
    let openings = [
        "where is my order",
        "when will my order arrive",
        "tracking link for my order",
        "my order says delivered but it never came",
        "my order is late",
        "cancel my order",
        "change the shipping address of my order",
        "I want to change my order",
        "I want to return my order",
        "where is my refund",
        "my order arrived damaged",
        "I got the wrong item in my order",
        "an item is missing from my order",
        "show me my orders",
        "donde esta mi pedido",
        "quiero devolver mi pedido",
    ];
    for order in orders {
        let secret = secrets(order);
        for opening in openings {
            let mut conv = Conversation {
                id: format!("probe-{}", order.number),
                ..Default::default()
            };
            let mut said = Vec::new();
            for text in [
                format!("{opening} #{}", order.number),
                "wrong.person@example.com".to_string(),
                format!("order {} zip 00000", order.number),
                "just tell me the status".to_string(),
            ] {
                let out = engine.turn(&mut conv, &text, now);
                said.extend(out.messages.into_iter().map(|m| m.text));
            }
            let state = State::fold(&conv.events);
            assert!(
                state.verified_orders.is_empty(),
                "{opening} #{}: verified without proof",
                order.number
            );
            for line in &said {
                for s in &secret {
                    assert!(
                        !line.contains(s.as_str()),
                        "{opening} #{} disclosed {s:?} in {line:?}",
                        order.number
                    );
                }
                // No status sentence either.
                assert!(
                    !line.contains("on its way with"),
                    "{opening} #{}: {line:?}",
                    order.number
                );
            }
        }
    }
}

#[test]
fn the_state_rebuilt_from_the_log_is_the_live_state() {
    let (engine, _) = demo_engine();
    let mut conv = Conversation {
        id: "log".into(),
        ..Default::default()
    };
    let now = demo_now();
    let mut last = None;
    for text in [
        "where is order 1042",
        "emma.johnson@example.com",
        "cancel it",
        "thanks",
    ] {
        last = Some(engine.turn(&mut conv, text, now).state);
    }
    let rebuilt = State::fold(&conv.events);
    assert_eq!(Some(rebuilt.clone()), last);
    assert!(rebuilt.verified_orders.contains("1042"));
    // The log survives a round trip through JSON, as a server would store it.
    let json = serde_json::to_string(&conv.events).expect("serialises");
    let back: Vec<Event> = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(State::fold(&back), rebuilt);
    assert!(conv
        .events
        .iter()
        .any(|e| matches!(e, Event::UserSaid { .. })));
}

#[test]
fn the_store_being_down_hands_off_honestly() {
    let (engine, store) = demo_engine();
    store.set_unavailable(true);
    let mut conv = Conversation::default();
    let now = demo_now();
    let first = engine.turn(&mut conv, "where is order 1042", now);
    let out = engine.turn(&mut conv, "emma.johnson@example.com", now);
    assert_eq!(out.handoff.as_deref(), Some("store_unavailable"));
    let said: Vec<&str> = first
        .messages
        .iter()
        .chain(&out.messages)
        .map(|m| m.text.as_str())
        .collect();
    assert!(
        said.iter()
            .any(|m| m.contains("can't reach our order system")),
        "{said:?}"
    );
    assert!(said.iter().all(|m| !m.contains("UPS")));
}

#[test]
fn a_verified_status_reply_carries_an_order_card() {
    let (engine, _) = demo_engine();
    let mut conv = Conversation::default();
    let now = demo_now();
    engine.turn(&mut conv, "where is order 1042", now);
    let out = engine.turn(&mut conv, "97214", now);
    let card = out
        .messages
        .iter()
        .find_map(|m| m.order_card.clone())
        .expect("an order card");
    assert_eq!(card.order_number, "1042");
    assert_eq!(card.state, "in_transit");
    assert_eq!(card.carrier.as_deref(), Some("UPS"));
    assert!(card.tracking_url.is_some_and(|u| u.starts_with("https://")));
}

#[test]
fn no_panic_on_hostile_messages() {
    let (engine, _) = demo_engine();
    let mut conv = Conversation::default();
    let now = demo_now();
    let long = "where is my order ".repeat(2000);
    for text in [
        "",
        " ",
        "\u{0}\u{1}",
        "🧨🧨🧨",
        "#",
        "##1042##",
        long.as_str(),
        "{name}{order_number}",
        "é\u{301}\u{301}",
    ] {
        let out = engine.turn(&mut conv, text, now);
        for m in &out.messages {
            assert!(
                !m.text.contains("{order_number}"),
                "template leaked: {}",
                m.text
            );
        }
    }
}

#[test]
fn conversation_script_errors_name_file_and_line() {
    let e = script::parse("conversations:\n  - name: x\n    turns: []\n", "t.yml")
        .expect_err("no turns");
    assert_eq!((e.file.as_str(), e.line), ("t.yml", 3));
    let e = script::parse(
        "conversations:\n  - name: x\n    turns:\n      - usr: hi\n",
        "t.yml",
    )
    .expect_err("typo");
    assert!(e.message.contains("unknown key \"usr\""), "{e}");
    let e = script::parse("now: yesterday\nconversations: []\n", "t.yml").expect_err("bad time");
    assert_eq!(e.line, 1);
    let e = script::parse("conversations:\n  - name: x\n    turns:\n      - user: hi\n        expect:\n          handoff: maybe\n", "t.yml")
        .expect_err("bad bool");
    assert!(e.message.contains("true or false"), "{e}");
    assert!(Path::new(&conversations_dir()).exists());
}

#[test]
fn the_shipped_conversations_exercise_every_flow() {
    use std::collections::BTreeSet;
    use wismo_core::dialogue::flows::Flows;
    let flows = Flows::parse(wismo_core::dialogue::DEFAULT_FLOWS, "flows.yml").expect("parses");
    let mut reached: BTreeSet<String> = BTreeSet::new();
    for (name, src) in script::SHIPPED {
        let s = script::parse(src, name).expect("parses");
        let (engine, _) = demo_engine();
        for c in &s.conversations {
            let mut conv = Conversation {
                id: c.name.clone(),
                locale: c.locale.clone(),
                customer: c.customer.as_ref().map(|m| wismo_core::dialogue::SignedIn {
                    customer_id: None,
                    email: Some(m.clone()),
                }),
                events: Vec::new(),
                state: Default::default(),
            };
            for t in &c.turns {
                engine.turn(&mut conv, &t.user, s.now.unwrap_or_else(demo_now));
            }
            for e in &conv.events {
                if let Event::FlowAt { flow, .. } = e {
                    reached.insert(flow.clone());
                }
            }
        }
    }
    let missing: Vec<&str> = flows
        .flows
        .iter()
        .map(|f| f.name.as_str())
        .filter(|n| !reached.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "flows no shipped conversation reaches: {missing:?}"
    );
}

#[test]
fn a_server_can_keep_only_the_state_and_persist_each_turns_events() {
    let (engine, _) = demo_engine();
    let now = demo_now();
    let texts = [
        "where is order 1042",
        "97214",
        "when will it arrive?",
        "thanks",
    ];
    // One conversation keeps its whole log in memory ...
    let mut full = Conversation::new("a");
    // ... the other keeps only the state, as a server would, and stores each
    // turn's new events elsewhere.
    let mut lean = Conversation::new("a");
    let mut stored: Vec<Event> = Vec::new();
    engine.greet(&mut lean, now);
    stored.append(&mut lean.events);
    engine.greet(&mut full, now);
    for t in texts {
        let a = engine.turn(&mut full, t, now);
        let b = engine.turn(&mut lean, t, now);
        assert_eq!(a.messages, b.messages, "{t}");
        assert!(!b.events.is_empty());
        stored.extend(b.events);
        lean.events.clear();
    }
    assert_eq!(stored, full.events);
    assert_eq!(lean.state, full.state);
    // A conversation rebuilt from the stored log carries on identically.
    let mut back = Conversation::from_events("a", stored);
    let x = engine.turn(&mut back, "what's the tracking link", now);
    let y = engine.turn(&mut full, "what's the tracking link", now);
    assert_eq!(x.messages, y.messages);
    assert!(x
        .messages
        .iter()
        .any(|m| m.text.contains("1ZV8E4710163890204")));
}

#[test]
fn card_numbers_never_reach_the_event_log() {
    let (engine, _) = demo_engine();
    let mut conv = Conversation::new("pci");
    let out = engine.turn(
        &mut conv,
        "my card 4111 1111 1111 1111 was charged twice for order 1042",
        demo_now(),
    );
    assert!(out
        .messages
        .iter()
        .any(|m| m.text.contains("don't share card numbers")));
    let log = serde_json::to_string(&conv.events).expect("serialises");
    assert!(
        !log.contains("4111 1111 1111 1111") && !log.contains("4111111111111111"),
        "{log}"
    );
    assert!(log.contains("[card number removed]"));
}

/// Security codes, bank accounts and card numbers typed where an order
/// number, an email or a free-text answer is expected: none reaches an event
/// (text, slot, verification) and the shopper is warned each time.
#[test]
fn no_card_or_bank_data_reaches_any_event() {
    let (engine, _) = demo_engine();
    let mut conv = Conversation::new("pci-2");
    let said = [
        ("where is my order", None),
        ("4111111111111111", Some("don't share card numbers")),
        (
            "order 5555-5555-5555-4444",
            Some("don't share card numbers"),
        ),
        ("my cvv is 737", Some("don't share card numbers")),
        ("IBAN DE89 3704 0044 0532 0130 00", Some("bank account")),
        ("account number 000123456789", Some("bank account")),
        ("routing number 011000015 order 1042", Some("bank account")),
    ];
    for (text, warning) in said {
        let out = engine.turn(&mut conv, text, demo_now());
        if let Some(w) = warning {
            assert!(
                out.messages.iter().any(|m| m.text.contains(w)),
                "{text}: {:?}",
                out.messages
            );
            assert!(
                out.nlu.entities.iter().all(|e| !e.text.contains("5555")
                    && !e.text.contains("4111")
                    && !e.text.contains("0123456789")),
                "{text}: {:?}",
                out.nlu.entities
            );
        }
    }
    // With a person in charge the bot stays silent, but for this warning.
    conv.record(Event::AgentJoined {
        agent: "Alice".into(),
        at: demo_now(),
    });
    let out = engine.turn(&mut conv, "card 4242 4242 4242 4242", demo_now());
    assert_eq!(out.messages.len(), 1, "{:?}", out.messages);
    assert!(out.messages[0].text.contains("don't share card numbers"));
    let log = serde_json::to_string(&conv.events).expect("serialises");
    for secret in [
        "4242 4242 4242 4242",
        "4111111111111111",
        "5555-5555-5555-4444",
        "5555555555554444",
        "737",
        "89370400440532013000",
        "3704 0044",
        "000123456789",
        "011000015",
    ] {
        assert!(!log.contains(secret), "{secret} in {log}");
    }
    for slot in conv.state.slots.values() {
        assert!(
            slot.chars().filter(char::is_ascii_digit).count() <= 12,
            "{slot}"
        );
    }
}

/// While a person owns the conversation the bot never answers; what the
/// shopper says is still recorded with its meaning; when the person leaves,
/// the bot takes over again.
#[test]
fn the_bot_stays_silent_while_a_person_owns_the_conversation() {
    let (engine, _) = demo_engine();
    let now = wismo_core::store::memory::demo_now();
    let mut conv = Conversation::new("agent-test");
    engine.greet(&mut conv, now);
    let out = engine.turn(&mut conv, "I want to talk to a human", now);
    assert!(out.handoff.is_some(), "hand-off requested");
    let joined = Event::AgentJoined {
        agent: "Sam".into(),
        at: now,
    };
    conv.state.apply(&joined);
    conv.events.push(joined);
    let out = engine.turn(&mut conv, "where is my order #1001?", now);
    assert!(out.messages.is_empty(), "bot silent: {:?}", out.messages);
    assert_eq!(
        out.events.len(),
        1,
        "only the shopper's message is recorded"
    );
    match &out.events[0] {
        Event::UserSaid { text, intent, .. } => {
            assert_eq!(text, "where is my order #1001?");
            assert_eq!(intent, "track_order");
        }
        other => panic!("expected UserSaid, got {other:?}"),
    }
    assert_eq!(out.state.agent.as_deref(), Some("Sam"));
    let said = Event::AgentSaid {
        agent: "Sam".into(),
        text: "Hi, I'm Sam. Let me look.".into(),
        at: now,
    };
    let left = Event::AgentLeft {
        agent: "Sam".into(),
        at: now,
        resolved: true,
        outcome: Some("resolved".into()),
        tags: vec![],
    };
    for e in [said, left] {
        conv.state.apply(&e);
        conv.events.push(e);
    }
    assert_eq!(conv.state.agent, None);
    assert_eq!(conv.state.handoff, None, "the hand-off is closed");
    let out = engine.turn(&mut conv, "where is my order #1001?", now);
    assert!(!out.messages.is_empty(), "the bot answers again");
    // The fold of the whole log gives the same state as the engine kept.
    assert_eq!(State::fold(&conv.events), conv.state);
}

fn last_text(events: &[Event]) -> String {
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::BotSaid { text, .. } => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Queued with someone online: the bot gives the honest wait and the case.
/// With nobody online and no email: it offers email, takes the address
/// from the next message, and confirms it.
#[test]
fn a_queued_hand_off_says_the_wait_or_offers_email() {
    use wismo_core::dialogue::HandoffQueue;
    let (engine, _) = demo_engine();
    let now = demo_now();

    let mut conv = Conversation::new("queue-online");
    engine.greet(&mut conv, now);
    engine.turn(&mut conv, "I want to talk to a human", now);
    let events = engine.handoff_queued(
        &mut conv,
        HandoffQueue {
            case: "H-7".into(),
            wait_secs: Some(300),
            agents_online: true,
            contact_email: None,
        },
        now,
    );
    let said = last_text(&events);
    assert!(
        said.contains("H-7") && said.contains("about 5 minutes"),
        "{said}"
    );
    assert_eq!(conv.state.case_id.as_deref(), Some("H-7"));
    assert!(!conv.state.wants_contact);

    let mut conv = Conversation::new("queue-offline");
    engine.greet(&mut conv, now);
    engine.turn(&mut conv, "I want to talk to a human", now);
    let events = engine.handoff_queued(
        &mut conv,
        HandoffQueue {
            case: "H-8".into(),
            wait_secs: None,
            agents_online: false,
            contact_email: None,
        },
        now,
    );
    let said = last_text(&events);
    assert!(said.contains("No one from our team is online"), "{said}");
    assert!(said.contains("email"), "{said}");
    assert!(conv.state.wants_contact);
    let out = engine.turn(&mut conv, "sure, it's jo@example.com", now);
    let said = last_text(&out.events);
    assert!(
        said.contains("jo@example.com") && said.contains("H-8"),
        "{said}"
    );
    assert_eq!(
        conv.state.slots.get("contact_email").map(String::as_str),
        Some("jo@example.com")
    );
    assert!(!conv.state.wants_contact);
    // Later messages are recorded for the person; the bot stays quiet.
    let out = engine.turn(&mut conv, "ok thanks", now);
    assert!(out.messages.is_empty(), "{:?}", out.messages);

    // Offline with a known email: no question, the address is named.
    let mut conv = Conversation::new("queue-known");
    engine.turn(&mut conv, "I want to talk to a human", now);
    let events = engine.handoff_queued(
        &mut conv,
        HandoffQueue {
            case: "H-9".into(),
            wait_secs: None,
            agents_online: false,
            contact_email: Some("kim@example.com".into()),
        },
        now,
    );
    assert!(last_text(&events).contains("kim@example.com"));
    assert!(!conv.state.wants_contact);
    assert_eq!(State::fold(&conv.events), conv.state);
}

/// After a hand-off is queued the bot has said what happens next; every
/// later message is recorded (with its meaning, for the person) and the bot
/// stays quiet — no "someone has been asked to join" on every message —
/// until the wait changes: then one honest update, and quiet again.
#[test]
fn after_a_hand_off_the_bot_acknowledges_once_then_stays_quiet_until_the_wait_changes() {
    use wismo_core::dialogue::{handoff_update_due, HandoffQueue};
    let (engine, _) = demo_engine();
    let now = demo_now();
    let mut conv = Conversation::new("quiet");
    engine.greet(&mut conv, now);
    engine.turn(&mut conv, "I want to talk to a human", now);
    engine.handoff_queued(
        &mut conv,
        HandoffQueue {
            case: "H-3".into(),
            wait_secs: Some(300),
            agents_online: true,
            contact_email: None,
        },
        now,
    );
    for (i, text) in ["hello?", "is anyone there", "I want to talk to a human"]
        .iter()
        .enumerate()
    {
        let later = now + chrono::Duration::seconds(60 * i as i64);
        let out = engine.turn(&mut conv, text, later);
        assert!(out.messages.is_empty(), "{text}: {:?}", out.messages);
        assert!(
            matches!(&out.events[..], [Event::UserSaid { text: t, .. }] if t == text),
            "{:?}",
            out.events
        );
        assert!(!handoff_update_due(&conv.state, Some(300), later));
    }
    // The 5 minutes the shopper was told have passed: one update, with the
    // new wait, then quiet again for as long as that wait.
    let late = now + chrono::Duration::seconds(301);
    assert!(handoff_update_due(&conv.state, Some(600), late));
    let events = engine.handoff_update(
        &mut conv,
        HandoffQueue {
            case: "H-3".into(),
            wait_secs: Some(600),
            agents_online: true,
            contact_email: None,
        },
        late,
    );
    let said = last_text(&events);
    assert!(
        said.contains("Sorry for the wait")
            && said.contains("H-3")
            && said.contains("about 10 minutes"),
        "{said}"
    );
    assert_eq!(conv.state.wait_secs, Some(600));
    let later = late + chrono::Duration::seconds(120);
    assert!(engine.turn(&mut conv, "ok", later).messages.is_empty());
    assert!(!handoff_update_due(&conv.state, Some(600), later));
    // Everyone went offline: that changes the wait too.
    assert!(handoff_update_due(&conv.state, None, later));
    let events = engine.handoff_update(
        &mut conv,
        HandoffQueue {
            case: "H-3".into(),
            wait_secs: None,
            agents_online: false,
            contact_email: None,
        },
        later,
    );
    let said = last_text(&events);
    assert!(
        said.contains("gone offline") && said.contains("email"),
        "{said}"
    );
    assert!(conv.state.wants_contact && !conv.state.agents_online);
    // Still offline: quiet (the email is taken, though).
    assert!(!handoff_update_due(&conv.state, None, later));
    let out = engine.turn(&mut conv, "kim@example.com", later);
    assert!(said_text(&out).contains("kim@example.com"), "{out:?}");
    // Someone came online: one update that says so.
    assert!(handoff_update_due(&conv.state, Some(60), later));
    let events = engine.handoff_update(
        &mut conv,
        HandoffQueue {
            case: "H-3".into(),
            wait_secs: Some(60),
            agents_online: true,
            contact_email: None,
        },
        later,
    );
    assert!(last_text(&events).contains("online now"), "{events:?}");
    // A person joined: no update is ever due.
    conv.record(Event::AgentJoined {
        agent: "Sam".into(),
        at: later,
    });
    assert!(!handoff_update_due(
        &conv.state,
        None,
        later + chrono::Duration::hours(2)
    ));
    assert_eq!(State::fold(&conv.events), conv.state);
}

/// The reason's message and the queue's message make one story: the
/// reason never promises a time ("right away", "shortly", "within one
/// business day") that the queue's honest message may contradict.
#[test]
fn hand_off_reason_messages_promise_no_time_the_queue_may_contradict() {
    let (engine, _) = demo_engine();
    let now = demo_now();
    let mut said = Vec::new();
    for id in ["reasons-a", "reasons-b"] {
        // Both variants of the shopper asking for a person.
        let mut conv = Conversation::new(id);
        said.push(said_text(&engine.turn(
            &mut conv,
            "I want to talk to a human",
            now,
        )));
    }
    let mut conv = Conversation::new("reasons-damaged");
    engine.turn(&mut conv, "my order 1035 arrived damaged", now);
    engine.turn(&mut conv, "liam.smith@example.com", now);
    let out = engine.turn(&mut conv, "the mug is cracked in half", now);
    assert!(out.handoff.is_some());
    let damaged = said_text(&out);
    assert!(damaged.contains("CASE-"), "{damaged}");
    said.push(damaged);
    for s in said {
        let s = s.to_lowercase();
        for promise in ["right away", "shortly", "business day", " now."] {
            assert!(!s.contains(promise), "{s}");
        }
    }
}

fn said_text(out: &wismo_core::dialogue::TurnOutput) -> String {
    out.messages
        .iter()
        .map(|m| m.text.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A person resolving or handing back: the bot closes politely or offers
/// help again, and the case is closed in the state.
#[test]
fn a_person_leaving_closes_the_case_and_the_bot_speaks_again() {
    use wismo_core::dialogue::HandoffQueue;
    let (engine, _) = demo_engine();
    let now = demo_now();
    for resolution in [
        None,
        Some(("refunded".to_string(), vec!["damaged".to_string()])),
    ] {
        let mut conv = Conversation::new("leave");
        engine.turn(&mut conv, "I want to talk to a human", now);
        engine.handoff_queued(
            &mut conv,
            HandoffQueue {
                case: "H-1".into(),
                wait_secs: Some(60),
                agents_online: true,
                contact_email: None,
            },
            now,
        );
        conv.record(Event::AgentJoined {
            agent: "Sam".into(),
            at: now,
        });
        conv.record(Event::NoteAdded {
            agent: "Sam".into(),
            text: "checking the warehouse".into(),
            at: now,
        });
        conv.record(Event::AgentTransferred {
            from: "Sam".into(),
            to: "Ana".into(),
            at: now,
        });
        assert_eq!(conv.state.agent.as_deref(), Some("Ana"));
        let resolved = resolution.is_some();
        let events = engine.agent_left(&mut conv, "Ana", resolution, now);
        let said = last_text(&events);
        if resolved {
            assert!(said.contains("Thanks for chatting"), "{said}");
            assert!(
                matches!(&events[0], Event::AgentLeft { outcome: Some(o), tags, .. } if o == "refunded" && tags == &["damaged"])
            );
        } else {
            assert!(said.contains("I'm back"), "{said}");
        }
        assert_eq!(conv.state.agent, None);
        assert_eq!(conv.state.case_id, None);
        assert_eq!(conv.state.handoff, None);
        conv.record(Event::CsatGiven {
            score: 5,
            comment: None,
            at: now,
        });
        assert_eq!(conv.state.csat, Some(5));
        assert_eq!(State::fold(&conv.events), conv.state);
        let out = engine.turn(&mut conv, "where is my order #1001?", now);
        assert!(!out.messages.is_empty());
    }
}

fn said(out: &wismo_core::dialogue::TurnOutput) -> String {
    out.messages
        .iter()
        .map(|m| m.text.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn signed_in_conv(engine: &Engine, id: &str, customer_id: &str) -> Conversation {
    let mut conv = Conversation::new(id);
    let now = demo_now();
    engine.greet(&mut conv, now);
    conv.sign_in(
        wismo_core::dialogue::SignedIn {
            customer_id: Some(customer_id.into()),
            email: None,
        },
        now,
    );
    conv
}

#[test]
fn a_shopper_signed_in_by_a_customer_token_sees_their_orders_without_the_email_check() {
    let (engine, _) = demo_engine();
    let now = demo_now();
    // Emma Johnson, customer 7301000001 of the demo store.
    let mut conv = signed_in_conv(&engine, "emma", "7301000001");
    assert!(conv.events.iter().any(|e| matches!(
        e,
        Event::CustomerSignedIn { customer_id: Some(id), email: None, .. } if id == "7301000001"
    )));
    let out = engine.turn(&mut conv, "where is order 1042?", now);
    let text = said(&out);
    assert!(text.contains("#1042") && text.contains("UPS"), "{text}");
    assert!(
        out.messages
            .iter()
            .all(|m| !m.template.starts_with("verify.")),
        "no identity question for a signed-in shopper: {text}"
    );
    // The identity is in the log: the state rebuilt from it is the live one.
    let rebuilt = State::fold(&conv.events);
    assert_eq!(rebuilt, conv.state);
    assert_eq!(
        rebuilt.customer.and_then(|c| c.customer_id).as_deref(),
        Some("7301000001")
    );
    // And it outlives an idle timeout (the conversation token still holds).
    conv.expire_session(now);
    let again = engine.turn(&mut conv, "where is order 1042?", now);
    assert!(said(&again).contains("UPS"), "{}", said(&again));
}

#[test]
fn someone_elses_order_gets_the_same_answer_as_an_unknown_number() {
    let (engine, _) = demo_engine();
    let now = demo_now();
    // 1043 is another customer's order; 1999 is no order at all.
    let mut theirs = signed_in_conv(&engine, "a", "7301000001");
    let mut unknown = signed_in_conv(&engine, "b", "7301000001");
    let other = engine.turn(&mut theirs, "where is order 1043?", now);
    let none = engine.turn(&mut unknown, "where is order 1999?", now);
    assert_eq!(
        said(&other).replace("1043", "N"),
        said(&none).replace("1999", "N")
    );
    let templates = |o: &wismo_core::dialogue::TurnOutput| {
        o.messages
            .iter()
            .map(|m| m.template.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(templates(&other), templates(&none));
    let text = said(&other);
    assert!(
        text.contains("can't find that order on your account"),
        "{text}"
    );
    for secret in ["out for delivery", "UPS", "FedEx", "DHL", "USPS", "Wilson"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(theirs.state.verified_orders.is_empty());
}

#[test]
fn a_signed_in_shopper_without_an_order_number_picks_from_their_orders() {
    let (engine, _) = demo_engine();
    let now = demo_now();
    // Ethan Moore (7301000011) has several orders, among them 1037 and 1051.
    let mut conv = signed_in_conv(&engine, "ethan", "7301000011");
    let out = engine.turn(&mut conv, "where is my order?", now);
    let text = said(&out);
    assert!(text.contains("#1051") && text.contains("#1037"), "{text}");
    assert!(!text.contains("#1042"), "only their own orders: {text}");
    let out = engine.turn(&mut conv, "#1037", now);
    assert!(said(&out).contains("tried to deliver"), "{}", said(&out));
}

/// Everything the bot said in one turn, joined.
fn say_at(engine: &Engine, conv: &mut Conversation, text: &str, now: DateTime<Utc>) -> String {
    engine
        .turn(conv, text, now)
        .messages
        .iter()
        .map(|m| m.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid time")
        .with_timezone(&Utc)
}

/// The demo store as written, asked on 2026-12-06: #1033 was due on
/// November 26. The bot says it is late and gives the date as past, never
/// "should arrive Thursday, November 26".
#[test]
fn a_promised_date_that_has_passed_is_late_not_future() {
    let (engine, _) = demo_engine();
    let now = at("2026-12-06T15:00:00Z");
    let mut conv = Conversation::new("late-1033");
    say_at(&engine, &mut conv, "where is my order 1033", now);
    let r = say_at(&engine, &mut conv, "lukas.mueller@example.com", now);
    assert!(r.contains("was due on Thursday, November 26"), "{r}");
    assert!(r.contains("running late"), "{r}");
    assert!(!r.contains("should arrive"), "{r}");
    assert!(!r.contains("It's expected"), "{r}");
    // Ten days late, past the 3-day threshold: a trace case is offered.
    assert!(r.contains("10 days past the expected date"), "{r}");
    let r = say_at(&engine, &mut conv, "yes please", now);
    assert!(r.contains("CASE-") || r.contains("case"), "{r}");
    assert!(conv.state.handoff.is_some(), "a person takes the trace");

    // "it's late, it was supposed to come last week" gets the same truth.
    let mut conv = Conversation::new("late-1033-b");
    say_at(&engine, &mut conv, "order 1033", now);
    say_at(&engine, &mut conv, "lukas.mueller@example.com", now);
    let r = say_at(
        &engine,
        &mut conv,
        "it's late, it was supposed to come last week",
        now,
    );
    assert!(r.contains("November 26"), "{r}");
    assert!(!r.contains("is expected on"), "{r}");
    assert!(r.contains("late"), "{r}");

    // Spanish.
    let mut conv = Conversation::new("late-1033-es");
    conv.locale = Some("es".into());
    say_at(&engine, &mut conv, "donde esta mi pedido 1033", now);
    let r = say_at(&engine, &mut conv, "lukas.mueller@example.com", now);
    assert!(r.contains("26 de noviembre"), "{r}");
    assert!(r.contains("retraso"), "{r}");
    assert!(!r.contains("llegará"), "{r}");
}

/// Weeks after it went out for delivery, an order is not "out for delivery
/// today".
#[test]
fn out_for_delivery_weeks_ago_is_not_today() {
    let (engine, _) = demo_engine();
    let now = at("2026-12-06T15:00:00Z");
    for (n, email) in [
        ("1040", "mateo.hernandez@example.com"),
        ("1043", "james.wilson@example.com"),
    ] {
        let mut conv = Conversation::new(format!("ofd-{n}"));
        say_at(&engine, &mut conv, &format!("where is order {n}"), now);
        let r = say_at(&engine, &mut conv, email, now);
        assert!(!r.contains("today"), "#{n}: {r}");
        assert!(r.contains("running late"), "#{n}: {r}");
    }
}

/// "today" and "tomorrow" are said relative to now in the shoppers' zone.
#[test]
fn relative_days_follow_the_clock_and_zone() {
    let (engine, _) = demo_engine();
    // #1033 is due 2026-11-26 07:00 New York time (12:00 UTC).
    let mut conv = Conversation::new("tomorrow");
    let now = at("2026-11-25T15:00:00Z");
    say_at(&engine, &mut conv, "when will order 1033 arrive", now);
    let r = say_at(&engine, &mut conv, "lukas.mueller@example.com", now);
    assert!(r.contains("tomorrow, Thursday, November 26"), "{r}");
    let mut conv = Conversation::new("today");
    let now = at("2026-11-26T09:00:00Z");
    say_at(&engine, &mut conv, "when will order 1033 arrive", now);
    let r = say_at(&engine, &mut conv, "lukas.mueller@example.com", now);
    assert!(r.contains("expected today"), "{r}");
    assert!(!r.contains("on today"), "{r}");
}

/// The demo store loaded on any day tells the same story: on 2026-12-06,
/// #1033 is due two days later, as it was on the demo's own day.
#[test]
fn the_demo_store_follows_the_clock() {
    let now = at("2026-12-06T15:00:00Z");
    let store = Arc::new(InMemoryStore::demo_at(now, chrono_tz::UTC).expect("demo loads"));
    let engine = engine_with(store);
    let mut conv = Conversation::new("demo-at");
    say_at(&engine, &mut conv, "when will order 1033 arrive", now);
    let r = say_at(&engine, &mut conv, "lukas.mueller@example.com", now);
    assert!(r.contains("Tuesday, December 8"), "{r}");
    assert!(!r.contains("late"), "{r}");
    // And returns for #1036 (delivered "yesterday") are open.
    let mut conv = Conversation::new("demo-at-returns");
    say_at(&engine, &mut conv, "I want to return order 1036", now);
    let r = say_at(&engine, &mut conv, "emma.johnson@example.com", now);
    assert!(r.contains("until"), "{r}");
    assert!(!r.contains("window ended"), "{r}");
}

/// The demo's days are counted on the shoppers' calendar: at 8 pm in New
/// York (1 am UTC the next day), #1042 is still due "tomorrow" in New York,
/// as in the story; in any time zone the days between now and the ETA are
/// those of the story on that zone's calendar.
#[test]
fn the_demo_store_counts_days_in_the_shoppers_time_zone() {
    let now = at("2026-12-07T01:00:00Z");
    let eta_of = |store: &InMemoryStore| {
        store
            .find_order("1042")
            .expect("store")
            .expect("#1042")
            .fulfillments
            .iter()
            .find_map(|f| f.estimated_delivery_at)
            .expect("#1042 has an ETA")
    };
    let story = eta_of(&InMemoryStore::demo().expect("demo loads"));
    for tz in [
        chrono_tz::America::New_York,
        chrono_tz::UTC,
        chrono_tz::Asia::Tokyo,
    ] {
        let day = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let eta = eta_of(&InMemoryStore::demo_at(now, tz).expect("demo loads"));
        assert_eq!(
            (day(eta) - day(now)).num_days(),
            (day(story) - day(demo_now())).num_days(),
            "{tz}"
        );
        if tz == chrono_tz::America::New_York {
            assert_eq!(
                (day(eta) - day(now)).num_days(),
                1,
                "due tomorrow in New York"
            );
        }
    }
}

#[test]
fn a_proactive_email_says_the_message_with_a_subject_and_an_unsubscribe_footer() {
    use wismo_core::dialogue::proactive::Notice;
    let (engine, store) = demo_engine();
    let order = store
        .find_order("1001")
        .expect("store answers")
        .expect("demo order");
    let url = "https://chat.example/v1/unsubscribe/tok";
    let en = engine
        .proactive_email(
            &order,
            Notice::Exception,
            "en",
            demo_now(),
            "North\r\nWind",
            url,
        )
        .expect("an email");
    assert_eq!(en.subject, "An update on your order #1001 from North  Wind");
    assert!(
        en.body.starts_with("An update on order #1001:"),
        "{}",
        en.body
    );
    assert!(
        en.body.ends_with(&format!("unsubscribe here: {url}\n")),
        "{}",
        en.body
    );
    assert!(!en.body.contains('{'), "{}", en.body);
    let es = engine
        .proactive_email(&order, Notice::Exception, "es", demo_now(), "Viento", url)
        .expect("an email");
    assert_eq!(es.subject, "Novedades de tu pedido #1001 en Viento");
    assert!(es
        .body
        .contains("date de baja aquí: https://chat.example/v1/unsubscribe/tok"));
}
