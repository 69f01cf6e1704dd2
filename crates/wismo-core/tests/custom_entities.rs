//! Custom entities learned from training data: lookups, regexes, annotated values, synonyms.

use wismo_core::nlu::custom_entities::{
    CustomEntityError, CustomEntityExtractor, CustomEntityModel, EntityPattern,
};
use wismo_core::nlu::data::parse_rasa_yaml;
use wismo_core::nlu::entities::{EntityValue, Extractor};

const TRAINING: &str = r#"
version: "3.1"
nlu:
- intent: change_address
  examples: |
    - ship it to [New York](city) please
    - deliver to [Köln](city:Cologne) instead
    - send it to [the big apple]{"entity": "city", "value": "New York"}
    - use [express](shipping_speed) shipping
    - where is order [1042](order_number)
- intent: gift
  examples: |
    - wrap it in [gold foil](wrapping)
- synonym: New York
  examples: |
    - NYC
    - nyc
- synonym: express
  examples: |
    - next day
- lookup: city
  examples: |
    - Berlin
    - São Paulo
    - Amsterdam
- lookup: color
  examples: |
    - navy blue
    - red
- lookup: product
  examples: |
    - blue hoodie
- regex: voucher
  examples: |
    - \bGIFT-[0-9]{4}\b
- intent: voucher
  examples: |
    - redeem [GIFT-1234](voucher)
- regex: not_an_entity
  examples: |
    - \d+
- regex: order_number
  examples: |
    - \b[0-9]{4}\b
"#;

fn model() -> CustomEntityModel {
    CustomEntityModel::train(&parse_rasa_yaml(TRAINING, "custom.yml").unwrap())
}

type Found = (
    &'static str,
    &'static str,
    &'static str,
    usize,
    usize,
    Extractor,
);

/// Asserts the entities found in `text`: (type, value, raw text, start, end, extractor).
fn check(ex: &CustomEntityExtractor, text: &str, expected: &[Found]) {
    let got: Vec<(String, String, String, usize, usize, Extractor)> = ex
        .extract(text)
        .into_iter()
        .map(|e| {
            let EntityValue::Text(value) = e.value else {
                panic!("custom entity with a non-text value: {e:?}");
            };
            (e.kind, value, e.text, e.start, e.end, e.extractor)
        })
        .collect();
    let want: Vec<(String, String, String, usize, usize, Extractor)> = expected
        .iter()
        .map(|&(k, v, t, s, e, x)| (k.into(), v.into(), t.into(), s, e, x))
        .collect();
    assert_eq!(got, want, "{text:?}");
}

use Extractor::{Learned, Lookup, Regex};

#[test]
fn extracts_custom_entities_from_training_data() {
    let ex = CustomEntityExtractor::new(&model()).unwrap();
    let cases: &[(&str, &[Found])] = &[
        // annotated values seen in training, with their values
        (
            "please ship to new york",
            &[("city", "New York", "new york", 15, 23, Learned)],
        ),
        (
            "deliver to KÖLN",
            &[("city", "Cologne", "KÖLN", 11, 15, Learned)],
        ),
        (
            "ship to the Big Apple",
            &[("city", "New York", "the Big Apple", 8, 21, Learned)],
        ),
        (
            "can I get it gold foil wrapped",
            &[("wrapping", "gold foil", "gold foil", 13, 22, Learned)],
        ),
        // lookup values, multi-byte text, longest match wins
        (
            "to São Paulo 🚚 or Berlin",
            &[
                ("city", "São Paulo", "São Paulo", 3, 12, Lookup),
                ("city", "Berlin", "Berlin", 18, 24, Lookup),
            ],
        ),
        (
            "a NAVY BLUE one, not red.",
            &[
                ("color", "navy blue", "NAVY BLUE", 2, 11, Lookup),
                ("color", "red", "red", 21, 24, Lookup),
            ],
        ),
        // regex values (case-insensitive), synonyms mapping values
        (
            "code gift-9876 please",
            &[("voucher", "gift-9876", "gift-9876", 5, 14, Regex)],
        ),
        (
            "ship to NYC",
            &[("city", "New York", "NYC", 8, 11, Learned)],
        ),
        (
            "next day shipping please",
            &[("shipping_speed", "express", "next day", 0, 8, Learned)],
        ),
        // word boundaries: nothing inside words
        ("redder bredd Berliner xGIFT-1234", &[]),
        ("shipping_speed", &[]),
        // one typo in a long word
        (
            "flying to Amsterdm",
            &[("city", "Amsterdam", "Amsterdm", 10, 18, Lookup)],
        ),
        (
            "flying to Amstredam",
            &[("city", "Amsterdam", "Amstredam", 10, 19, Lookup)],
        ),
        ("flying to Amxtrdam", &[]),
        // built-in names are left to the built-in extractors
        ("order 1042 for the blue hoodie", &[]),
        ("", &[]),
    ];
    for (text, expected) in cases {
        check(&ex, text, expected);
    }
}

#[test]
fn model_skips_builtin_entity_names_and_unrelated_regexes() {
    let m = model();
    assert!(m
        .phrases
        .iter()
        .all(|p| p.entity != "order_number" && p.entity != "product"));
    assert_eq!(
        m.patterns,
        [EntityPattern {
            entity: "voucher".into(),
            pattern: r"\bGIFT-[0-9]{4}\b".into()
        }]
    );
}

#[test]
fn invalid_regex_in_model_is_an_error() {
    let mut m = model();
    m.patterns.push(EntityPattern {
        entity: "voucher".into(),
        pattern: "GIFT-(".into(),
    });
    let err: CustomEntityError = CustomEntityExtractor::new(&m).unwrap_err();
    assert_eq!(err.name, "voucher");
    assert_eq!(
        err.to_string(),
        "regex for entity \"voucher\" is invalid: unclosed group"
    );
}

#[test]
fn postcard_round_trip_gives_same_extractions() {
    let m = model();
    let bytes = postcard::to_allocvec(&m).unwrap();
    let back: CustomEntityModel = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, m);
    let (a, b) = (
        CustomEntityExtractor::new(&m).unwrap(),
        CustomEntityExtractor::new(&back).unwrap(),
    );
    for text in [
        "ship to NYC or Berlin",
        "GIFT-1234 in navy blue",
        "deliver to köln",
    ] {
        assert_eq!(a.extract(text), b.extract(text));
        assert!(!a.extract(text).is_empty(), "{text}");
    }
}

#[test]
fn odd_input_never_panics() {
    let ex = CustomEntityExtractor::new(&model()).unwrap();
    let long = "Berlin ".repeat(20_000);
    let inputs = [
        "",
        " ",
        "\u{0}\u{1}\u{7f}",
        "e\u{301}\u{301}\u{301} Berlin\u{301}",
        "مرحبا \u{202e}Berlin\u{202c} שלום",
        "İstanbul İİİİİİ ǅǅǅ ẞẞ",
        "👩‍👩‍👧 🇩🇪 Amsterdam🇳🇱",
        long.as_str(),
    ];
    for text in inputs {
        for e in ex.extract(text) {
            let raw: String = text.chars().skip(e.start).take(e.end - e.start).collect();
            assert_eq!(raw, e.text, "{text:?}");
        }
    }
    assert_eq!(ex.extract(&long).len(), 20_000);
}

/// Release-mode timing: `cargo test --release -p wismo-core --test custom_entities -- --ignored --nocapture`
#[test]
#[ignore]
fn timing_typical_message() {
    let mut yaml = String::from(TRAINING);
    yaml.push_str("- lookup: store\n  examples: |\n");
    for i in 0..400 {
        yaml.push_str(&format!(
            "    - store number{i} downtown\n    - branch{i}\n"
        ));
    }
    let m = CustomEntityModel::train(&parse_rasa_yaml(&yaml, "t.yml").unwrap());
    let ex = CustomEntityExtractor::new(&m).unwrap();
    let msg = "Hi, I ordered a navy blue hoodie last week and it was supposed to arrive in Amsterdam yesterday, can you ship it to NYC?";
    assert_eq!(ex.extract(msg).len(), 3);
    let n = 20_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(ex.extract(std::hint::black_box(msg)));
    }
    let per = t.elapsed() / n;
    println!("{} phrases: {per:?} per message", m.phrases.len());
    let short = "can you ship it to NYC instead?";
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(ex.extract(std::hint::black_box(short)));
    }
    println!("short message: {:?}", t.elapsed() / n);
}
