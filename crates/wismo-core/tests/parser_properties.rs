//! Property tests for the parsers that read outside input, alongside the
//! fuzz targets in fuzz/ (SECURITY.md, "Testing: fuzzing and schema checks"):
//! the NLU training-data readers (Rasa YAML, CSV, entity annotations), the
//! Shopify order import, and the message pipeline. None may panic on any
//! input; what they write and read back must round-trip. Regression inputs
//! found by fuzzing are at the end.

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use serde_json::{json, Value};
use wismo_core::dialogue::{Conversation, Engine, EngineConfig};
use wismo_core::knowledge::KnowledgeBase;
use wismo_core::nlu::data::{parse_csv, parse_rasa_yaml};
use wismo_core::nlu::{self, Nlu, NluTrainOptions};
use wismo_core::store::memory::{demo_now, InMemoryStore};
use wismo_core::store::shopify::parse_orders;

/// Example text that needs no escaping in either format: no annotation
/// markup, no YAML or CSV specials at the ends, inner spaces only.
fn plain_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9éñü¿?!.,'#@ -]{0,40}"
        .prop_map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn intent_name() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{0,15}"
}

/// (text, intent) pairs with distinct, non-empty texts.
fn examples() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((plain_text(), intent_name()), 1..12).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (t, intent))| (format!("ex{i} {t}").trim().to_string(), intent))
            .collect()
    })
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::String),
        "-?[0-9]{0,25}(\\.[0-9]{0,12})?".prop_map(Value::String),
        "20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2}|Z)?"
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn demo_orders_json() -> &'static Vec<Value> {
    static ORDERS: OnceLock<Vec<Value>> = OnceLock::new();
    ORDERS.get_or_init(|| {
        let v: Value = serde_json::from_str(InMemoryStore::demo_json()).expect("demo JSON");
        v["orders"].as_array().expect("orders array").clone()
    })
}

/// Replaces the value at a path of object keys / array indexes chosen by
/// `picks` (each pick selects among the children at that level).
fn mutate(v: &mut Value, picks: &[usize], new: Value) {
    let mut cur = v;
    for (depth, &p) in picks.iter().enumerate() {
        let last = depth + 1 == picks.len();
        let next = match cur {
            Value::Object(m) if !m.is_empty() => {
                let key = m.keys().nth(p % m.len()).cloned().unwrap_or_default();
                m.get_mut(&key)
            }
            Value::Array(a) if !a.is_empty() => {
                let n = a.len();
                a.get_mut(p % n)
            }
            _ => None,
        };
        match next {
            Some(n) if !last && (n.is_object() || n.is_array()) => cur = n,
            Some(n) => {
                *n = new;
                return;
            }
            None => return,
        }
    }
}

fn engine() -> &'static (Nlu, KnowledgeBase, Vec<wismo_core::store::Order>) {
    static E: OnceLock<(Nlu, KnowledgeBase, Vec<wismo_core::store::Order>)> = OnceLock::new();
    E.get_or_init(|| {
        let data = nlu::default_training_data().expect("built-in data parses");
        let model = nlu::train(&data, &NluTrainOptions::default(), &mut |_| {}).expect("trains");
        let nlu = Nlu::new(model, &Default::default()).expect("usable");
        let orders = InMemoryStore::demo().expect("demo store").orders();
        (nlu, KnowledgeBase::builtin(), orders)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn csv_round_trips(rows in examples(), category in any::<bool>()) {
        let col = if category { "category" } else { "intent" };
        let mut src = format!("text,{col}\n");
        for (t, i) in &rows {
            src.push_str(&format!("{},{}\n", csv_field(t), csv_field(i)));
        }
        let d = parse_csv(&src, "p.csv").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got: Vec<(String, String)> =
            d.examples.iter().map(|e| (e.text.clone(), e.intent.clone())).collect();
        prop_assert_eq!(got, rows);
    }

    #[test]
    fn rasa_yaml_round_trips(rows in examples()) {
        // One block per intent, in first-seen order.
        let mut intents: Vec<String> = Vec::new();
        for (_, i) in &rows {
            if !intents.contains(i) {
                intents.push(i.clone());
            }
        }
        let mut src = String::from("version: \"3.1\"\nnlu:\n");
        let mut expected = Vec::new();
        for i in &intents {
            src.push_str(&format!("- intent: {i}\n  examples: |\n"));
            for (t, _) in rows.iter().filter(|(_, j)| j == i) {
                src.push_str(&format!("    - {t}\n"));
                expected.push((t.clone(), i.clone()));
            }
        }
        let d = parse_rasa_yaml(&src, "p.yml").map_err(|e| TestCaseError::fail(format!("{e}\n{src}")))?;
        let got: Vec<(String, String)> =
            d.examples.iter().map(|e| (e.text.clone(), e.intent.clone())).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn annotations_give_char_offsets_of_their_value(
        before in "[a-z ]{0,12}",
        value in "[a-zA-Z0-9é#-]{1,10}",
        after in "[a-z ]{0,12}",
        entity in "[a-z_]{1,12}",
    ) {
        let src = format!(
            "nlu:\n- intent: track_order\n  examples: |\n    - x {before}[{value}]({entity}){after}\n"
        );
        let d = parse_rasa_yaml(&src, "a.yml").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ex = &d.examples[0];
        prop_assert_eq!(&ex.entities.len(), &1);
        let e = &ex.entities[0];
        let surface: String = ex.text.chars().skip(e.start).take(e.end - e.start).collect();
        prop_assert_eq!(&surface, &value);
        prop_assert_eq!(&e.entity, &entity);
        prop_assert_eq!(ex.text.contains('['), false);
    }

    #[test]
    fn training_readers_never_panic(src in "\\PC{0,300}") {
        let _ = parse_rasa_yaml(&src, "x.yml");
        let _ = parse_csv(&src, "x.csv");
    }

    #[test]
    fn training_readers_never_panic_on_near_valid_yaml(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("nlu:".to_string()),
                Just("- intent: a".to_string()),
                Just("- synonym: b".to_string()),
                Just("- regex: c".to_string()),
                Just("- lookup: d".to_string()),
                Just("  examples: |".to_string()),
                Just("  examples: |-".to_string()),
                "    - [\\PC]{0,20}",
                "    - \\[[a-z]{0,4}\\]\\([a-z:]{0,6}\\)",
                "    - \\[[a-z]{0,4}\\]\\{\"entity\": ?\"[a-z]{0,3}\"[,}\\]]{0,2}",
                "\\PC{0,15}",
            ],
            0..12,
        )
    ) {
        let src = lines.join("\n");
        if let Ok(d) = parse_rasa_yaml(&src, "y.yml") {
            for ex in &d.examples {
                let n = ex.text.chars().count();
                for e in &ex.entities {
                    prop_assert!(e.start < e.end && e.end <= n, "{:?} in {:?}", e, ex.text);
                }
            }
        }
    }

    #[test]
    fn shopify_import_never_panics_on_any_json(v in arbitrary_json()) {
        let _ = parse_orders(&v.to_string());
        let _ = parse_orders(&json!({ "orders": [v.clone()] }).to_string());
        let _ = parse_orders(&json!({ "order": v }).to_string());
    }

    #[test]
    fn shopify_import_survives_one_changed_field(
        which in 0usize..64,
        picks in proptest::collection::vec(any::<usize>(), 1..5),
        new in arbitrary_json(),
    ) {
        let orders = demo_orders_json();
        let mut order = orders[which % orders.len()].clone();
        mutate(&mut order, &picks, new);
        let src = json!({ "orders": [order] }).to_string();
        match parse_orders(&src) {
            // An order that converts is one order, still numbered.
            Ok(parsed) => {
                prop_assert_eq!(parsed.len(), 1);
                prop_assert!(!parsed[0].number.is_empty());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

proptest! {
    // A turn runs the whole NLU and dialogue; fewer cases.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn message_pipeline_never_panics(
        turns in proptest::collection::vec(
            prop_oneof![
                "\\PC{0,120}",
                "(where is|cancel|return|change address of) (my )?order #?10[0-9]{2}",
                "[a-z]{1,8}\\.[a-z]{1,8}@example\\.com",
                "[0-9]{5}",
                "(yes|no|human|agent|4111 1111 1111 1111)",
            ],
            1..6,
        )
    ) {
        let (nlu, kb, orders) = engine();
        let store = Arc::new(InMemoryStore::new(orders.clone()));
        let engine = Engine::new(nlu.clone(), kb.clone(), store, EngineConfig::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut conv = Conversation::new("prop");
        let mut now = demo_now();
        engine.greet(&mut conv, now);
        for t in &turns {
            now += chrono::Duration::seconds(20);
            let out = engine.turn(&mut conv, t, now);
            // No card number comes back out, in replies or the event log.
            for m in &out.messages {
                let shown = format!("{m:?}");
                prop_assert!(!shown.contains("4111 1111 1111 1111"), "{}", shown);
            }
            for e in &out.events {
                let shown = format!("{e:?}");
                prop_assert!(!shown.contains("4111 1111 1111 1111"), "{}", shown);
            }
        }
    }
}
