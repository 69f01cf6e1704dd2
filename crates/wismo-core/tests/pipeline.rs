//! The whole NLU pipeline through `Nlu::parse`: intent, entities (built-in and
//! from the training data), sentiment, and the JSON a client receives.

use std::sync::OnceLock;
use wismo_core::nlu::data::parse_rasa_yaml;
use wismo_core::nlu::entities::{
    demo_catalogue, Entity, EntityConfig, EntityValue, Expecting, ExtractionContext, Extractor,
};
use wismo_core::nlu::sentiment::SentimentLabel;
use wismo_core::nlu::{default_training_data, train, Nlu, NluTrainOptions, ParseResult};

fn ctx() -> ExtractionContext {
    ExtractionContext {
        now: chrono::DateTime::parse_from_rfc3339("2026-11-24T15:00:00Z")
            .expect("valid time")
            .with_timezone(&chrono::Utc),
        tz: chrono_tz::America::New_York,
    }
}

fn store_config() -> EntityConfig {
    EntityConfig {
        catalogue: demo_catalogue(),
        ..Default::default()
    }
}

/// The NLU trained once on the built-in store data with the demo catalogue.
fn store_nlu() -> &'static Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| {
        let data = default_training_data().expect("built-in training data parses");
        let model = train(&data, &NluTrainOptions::default(), &mut |_| {}).expect("trains");
        Nlu::new(model, &store_config()).expect("valid entity config")
    })
}

/// Training data with entities of its own: a lookup, a regex, and a regex that
/// competes with the built-in order numbers.
const CUSTOM_YAML: &str = r#"
version: "3.1"
nlu:
- intent: track_order
  examples: |
    - where is order [1042](order_number)
    - where is my package
    - has my parcel shipped
    - track my order please
- intent: change_order
  examples: |
    - change the colour to [navy blue](color)
    - i want it in [red](color) instead
    - add voucher [VCH-AB12](voucher) to my order
    - can i change my order
- lookup: color
  examples: |
    - navy blue
    - red
    - forest green
- regex: voucher
  examples: |
    - \bVCH-[A-Z]{2}[0-9]{2}\b
- regex: order_number
  examples: |
    - \b[0-9]{4}\b
"#;

fn custom_nlu() -> &'static Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| {
        let data = parse_rasa_yaml(CUSTOM_YAML, "custom.yml").expect("fixture parses");
        let model = train(&data, &NluTrainOptions::default(), &mut |_| {}).expect("trains");
        Nlu::new(model, &store_config()).expect("valid entity config")
    })
}

/// (type, raw text, extractor) of each entity, in message order.
fn summary(entities: &[Entity]) -> Vec<(String, String, Extractor)> {
    entities
        .iter()
        .map(|e| (e.kind.clone(), e.text.clone(), e.extractor))
        .collect()
}

/// Entities are in message order, do not overlap, and their `text` is the
/// message's chars `start..end`.
fn assert_well_formed(text: &str, entities: &[Entity]) {
    let chars: Vec<char> = text.chars().collect();
    for e in entities {
        assert!(
            e.start < e.end && e.end <= chars.len(),
            "bad span {e:?} in a message of {} chars",
            chars.len()
        );
        let cut: String = chars[e.start..e.end].iter().collect();
        assert_eq!(cut, e.text, "entity text is not message[start..end]: {e:?}");
    }
    for w in entities.windows(2) {
        assert!(w[0].end <= w[1].start, "overlap or disorder: {w:?}");
    }
}

#[test]
fn wheres_my_stuff_message() {
    let text = "hey where's my stuff?? ordr 1042, its been a week";
    let r = store_nlu().parse(text, &ctx());
    assert_eq!(r.intent.name, "track_order");
    assert!(!r.out_of_scope);
    assert_well_formed(text, &r.entities);
    let orders: Vec<&Entity> = r
        .entities
        .iter()
        .filter(|e| e.kind == "order_number")
        .collect();
    assert_eq!(orders.len(), 1, "{:?}", r.entities);
    assert_eq!(orders[0].value, EntityValue::Text("1042".into()));
    assert_eq!(orders[0].text, "1042");
    assert_eq!((orders[0].start, orders[0].end), (28, 32));
}

#[test]
fn wheres_my_stuff_message_is_negative() {
    let text = "hey where's my stuff?? ordr 1042, its been a week";
    let s = store_nlu().parse(text, &ctx()).sentiment;
    assert_eq!(s.label, SentimentLabel::Negative, "score {}", s.score);
    assert!(s.score < 0.0);
}

#[test]
fn builtin_and_custom_entities_are_merged_without_overlap() {
    let text = "order 1042: make the hoodie navy blue, use VCH-QZ77 and mail jo@example.com";
    let r = custom_nlu().parse(text, &ctx());
    assert_well_formed(text, &r.entities);
    let want = vec![
        (
            "order_number".to_string(),
            "1042".to_string(),
            Extractor::Builtin,
        ),
        ("product".into(), "hoodie".into(), Extractor::Builtin),
        ("color".into(), "navy blue".into(), Extractor::Lookup),
        ("voucher".into(), "VCH-QZ77".into(), Extractor::Regex),
        ("email".into(), "jo@example.com".into(), Extractor::Builtin),
    ];
    assert_eq!(summary(&r.entities), want);
    // The custom `order_number` regex matches 1042 too, but the built-in wins:
    // the number is reported once.
    let direct = custom_nlu().entities(text, &ctx());
    assert_eq!(direct, r.entities, "parse and entities agree");
}

#[test]
fn custom_entities_alone_and_builtins_alone() {
    for (text, want) in [
        (
            "i want it in forest green",
            vec![("color", "forest green", Extractor::Lookup)],
        ),
        (
            "voucher VCH-AB12 didnt apply",
            vec![("voucher", "VCH-AB12", Extractor::Regex)],
        ),
        (
            "where is order #5531",
            vec![("order_number", "#5531", Extractor::Builtin)],
        ),
        ("nothing to see here", vec![]),
    ] {
        let got = custom_nlu().entities(text, &ctx());
        assert_well_formed(text, &got);
        let got: Vec<(String, String, Extractor)> = summary(&got);
        let want: Vec<(String, String, Extractor)> = want
            .into_iter()
            .map(|(k, t, x)| (k.to_string(), t.to_string(), x))
            .collect();
        assert_eq!(got, want, "{text:?}");
    }
}

/// The parse result as JSON, with floats rounded to two decimals so the
/// snapshot does not change with the last bits of training arithmetic.
fn stable_json(r: &ParseResult) -> serde_json::Value {
    fn round(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                let x = n.as_f64().unwrap_or(0.0);
                *v = serde_json::json!((x * 100.0).round() / 100.0);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(round),
            serde_json::Value::Object(o) => o.values_mut().for_each(round),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(r).expect("a parse result serialises");
    round(&mut v);
    v
}

#[test]
fn parse_result_json_shape() {
    let text = "Hi, order #1042 (the rain jacket) was due yesterday and still nothing. \
                Refund $59.90 to jo@example.com please";
    let r = store_nlu().parse(text, &ctx());
    let mut v = stable_json(&r);
    // Keep the snapshot readable: the top three intents are enough to show the shape.
    if let Some(a) = v["intent_ranking"].as_array_mut() {
        a.truncate(3);
    }
    insta::assert_json_snapshot!("parse_result", v);
}

#[test]
fn hostile_input_does_not_panic() {
    let big_ascii = "where is my order 1042 ".repeat(100 * 1024 / 23);
    let big_digits = "9".repeat(100 * 1024);
    let big_emoji = "📦😡".repeat(100 * 1024 / 8);
    let inputs: Vec<String> = vec![
        String::new(),
        " ".into(),
        "\n\t\r".into(),
        "\0\0\0".into(),
        "\u{7}\u{1b}[31mred\u{1b}[0m order 1042".into(),
        "😀".into(),
        "👩‍👩‍👧‍👦🏳️‍🌈🇩🇪".into(),
        "e\u{301}\u{301}\u{301} orde\u{301}r 1042".into(),
        "\u{202e}1042 redro ym si erehw".into(),
        "أين طلبي 1042".into(),
        "\u{feff}where is my order\u{200b}1042".into(),
        "#".repeat(1000),
        "@@@.@@@".into(),
        "$$$ £ € 1,000,000,000,000,000.00".into(),
        "order ORD-".into(),
        "1Z".into(),
        big_ascii,
        big_digits,
        big_emoji,
        "\u{fffd}\u{10ffff}\u{e000}".into(),
    ];
    for text in &inputs {
        for nlu in [store_nlu(), custom_nlu()] {
            let r = nlu.parse(text, &ctx());
            let label: String = text.chars().take(30).collect();
            assert!(!r.intent_ranking.is_empty(), "{label:?}");
            assert!(
                (0.0..=1.0).contains(&r.intent.confidence),
                "{label:?}: {}",
                r.intent.confidence
            );
            assert!(
                (-1.0..=1.0).contains(&r.sentiment.score),
                "{label:?}: {}",
                r.sentiment.score
            );
            assert_well_formed(text, &r.entities);
            serde_json::to_string(&r).expect("serialises");
        }
    }
}

/// The dialogue says what it just asked for; a bare answer is read as that.
#[test]
fn parse_expecting_reads_a_bare_answer_as_what_was_asked() {
    let nlu = store_nlu();
    let order_numbers = |r: &ParseResult| -> Vec<String> {
        r.entities
            .iter()
            .filter(|e| e.kind == "order_number")
            .map(|e| e.text.clone())
            .collect()
    };
    for text in ["2031", "es el 1987", "1987 please"] {
        let asked = nlu.parse_expecting(text, &ctx(), Expecting::OrderNumber);
        assert_eq!(
            order_numbers(&asked).len(),
            1,
            "{text:?} after the question"
        );
        let plain = nlu.parse(text, &ctx());
        assert_eq!(plain, nlu.parse_expecting(text, &ctx(), Expecting::Nothing));
    }
    assert!(order_numbers(&nlu.parse("2031", &ctx())).is_empty());
    let zip = nlu.parse_expecting("78 704", &ctx(), Expecting::PostalCode);
    assert_eq!(
        summary(&zip.entities),
        [(
            "postal_code".to_string(),
            "78 704".to_string(),
            Extractor::Builtin
        )]
    );
    assert_eq!(
        zip.entities[0].value,
        EntityValue::PostalCode {
            code: "78704".into(),
            country: wismo_core::nlu::entities::PostalCountry::US
        }
    );
}
