//! The message pipeline: arbitrary shopper text through the wismo-core engine
//! (NLU, dialogue, redaction) over the demo in-memory store. The input is
//! split on newlines into up to 8 turns of one conversation, so the fuzzer
//! reaches the later steps of flows (verification, cancellation, address
//! change). The engine is built once; its store is a fresh copy of the demo
//! orders for every input, so runs are reproducible.
#![no_main]

use std::sync::{Arc, OnceLock, RwLock};

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use wismo_core::dialogue::{Conversation, Engine, EngineConfig};
use wismo_core::knowledge::KnowledgeBase;
use wismo_core::nlu::{self, Nlu, NluTrainOptions};
use wismo_core::redact;
use wismo_core::store::memory::{demo_now, InMemoryStore};
use wismo_core::store::{Address, Case, Order, OrderService, StoreError};

/// The demo store, replaced by a fresh copy before every input.
struct FreshStore {
    orders: Vec<Order>,
    current: RwLock<Arc<InMemoryStore>>,
}

impl FreshStore {
    fn reset(&self) {
        let fresh = Arc::new(InMemoryStore::new(self.orders.clone()));
        match self.current.write() {
            Ok(mut g) => *g = fresh,
            Err(p) => *p.into_inner() = fresh,
        }
    }
    fn get(&self) -> Arc<InMemoryStore> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl OrderService for FreshStore {
    fn find_order(&self, number: &str) -> Result<Option<Order>, StoreError> {
        self.get().find_order(number)
    }
    fn orders_by_email(&self, email: &str) -> Result<Vec<Order>, StoreError> {
        self.get().orders_by_email(email)
    }
    fn orders_by_customer(&self, customer_id: &str) -> Result<Vec<Order>, StoreError> {
        self.get().orders_by_customer(customer_id)
    }
    fn cancel_order(
        &self,
        number: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        self.get().cancel_order(number, reason, now)
    }
    fn change_shipping_address(&self, number: &str, address: Address) -> Result<Order, StoreError> {
        self.get().change_shipping_address(number, address)
    }
    fn open_case(
        &self,
        order_number: Option<&str>,
        kind: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<Case, StoreError> {
        self.get().open_case(order_number, kind, description, now)
    }
}

struct Fixture {
    engine: Engine,
    store: Arc<FreshStore>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let data = nlu::default_training_data().expect("built-in training data parses");
        let model = nlu::train(&data, &NluTrainOptions::default(), &mut |_| {})
            .expect("built-in model trains");
        let nlu = Nlu::new(model, &Default::default()).expect("model usable");
        let demo = InMemoryStore::demo().expect("demo store loads");
        let store = Arc::new(FreshStore {
            orders: demo.orders(),
            current: RwLock::new(Arc::new(demo)),
        });
        let engine = Engine::new(
            nlu,
            KnowledgeBase::builtin(),
            store.clone(),
            EngineConfig::default(),
        )
        .expect("engine builds");
        Fixture { engine, store }
    })
}

/// Whether `digits` occurs in `text` not as part of a longer digit run.
fn appears_as_number(text: &str, digits: &str) -> bool {
    if digits.is_empty() {
        return false;
    }
    let bytes = text.as_bytes();
    text.match_indices(digits).any(|(at, _)| {
        let before = at.checked_sub(1).and_then(|i| bytes.get(i));
        let after = bytes.get(at + digits.len());
        !before.is_some_and(u8::is_ascii_digit) && !after.is_some_and(u8::is_ascii_digit)
    })
}

/// Every string in `value`'s JSON form, one per line.
fn strings_of(value: serde_json::Value) -> String {
    fn walk(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(&value, &mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    f.store.reset();
    let text = String::from_utf8_lossy(data);
    let mut conv = Conversation::new("fuzz");
    let mut now = demo_now();
    let _ = f.engine.greet(&mut conv, now);
    for line in text.split('\n').take(8) {
        now += chrono::Duration::seconds(30);
        let out = f.engine.turn(&mut conv, line, now);
        // A card number found in the message never comes back out of the
        // turn (replies or event log) as a number of its own.
        // Every string of the replies and events, as the shopper or a
        // reader of the log sees it (not `Debug`: its `\\0` for a NUL glues
        // a zero onto the digits after it).
        let shown = strings_of(serde_json::json!([
            serde_json::to_value(&out.messages).expect("replies serialise"),
            serde_json::to_value(&out.events).expect("events serialise"),
        ]));
        // The same digits may also stand elsewhere in the message where
        // they are no card number (an amount such as `…2222.22`): there
        // they are kept, and may be shown.
        let kept = redact::redact_text(line);
        for span in redact::spans(line) {
            if span.kind != redact::Kind::CardNumber {
                continue;
            }
            let digits: String = line
                .get(span.start..span.end)
                .unwrap_or("")
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            assert!(
                appears_as_number(&kept, &digits) || !appears_as_number(&shown, &digits),
                "a card number came back out"
            );
        }
        // Redaction of what would be stored: a redacted text has nothing
        // left to redact.
        let once = redact::redact_text(line);
        assert_eq!(redact::redact_text(&once), once, "redaction is idempotent");
    }
});
