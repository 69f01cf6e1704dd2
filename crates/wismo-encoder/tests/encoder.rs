//! Tests against the real all-MiniLM-L6-v2 model.
//!
//! The model is read from `WISMO_TEST_ENCODER_DIR`, by default
//! `<workspace root>/target/encoder`; `scripts/fetch-encoder target/encoder`
//! puts it there (`scripts/test` does so itself). Without it these tests fail.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use wismo_encoder::{cosine, Encoder, EncoderError};

/// The model's directory; fails the test, saying how to fetch the model,
/// when it does not exist.
fn model_dir() -> PathBuf {
    let dir = match std::env::var_os("WISMO_TEST_ENCODER_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/encoder"),
    };
    if !dir.is_dir() {
        panic!(
            "no encoder model at {}: run `scripts/fetch-encoder target/encoder` from the \
             workspace root (or set WISMO_TEST_ENCODER_DIR to a directory it filled)",
            dir.display()
        );
    }
    dir
}

/// The encoder, loaded once for all tests of this file.
fn encoder() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        let dir = model_dir();
        match Encoder::load(&dir) {
            Ok(encoder) => encoder,
            Err(e) => panic!("cannot load the encoder from {}: {e}", dir.display()),
        }
    })
}

fn sim(a: &str, b: &str) -> f32 {
    let e = encoder();
    let v = e.encode(&[a, b]).expect("encode");
    cosine(&v[0], &v[1])
}

fn assert_unit(v: &[f32], what: &str) {
    assert_eq!(v.len(), 384, "{what}: dimension");
    assert!(
        v.iter().all(|x| x.is_finite()),
        "{what}: non-finite component"
    );
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{what}: norm {norm}");
}

/// (anchor, paraphrase, unrelated) from the online-shopping domain: the
/// paraphrase must be clearly closer to the anchor than the unrelated text.
const TRIPLES: &[(&str, &str, &str)] = &[
    (
        "where is my order?",
        "has my package shipped yet?",
        "what is your return policy for shoes?",
    ),
    (
        "do you send parcels to Mexico?",
        "we deliver to most countries outside the US",
        "our stores open at 9am",
    ),
    (
        "I want my money back",
        "how do I get a refund?",
        "do you have this jacket in blue?",
    ),
    (
        "the item arrived broken",
        "my package was damaged when it came",
        "can I pay with PayPal?",
    ),
    (
        "how do I change my delivery address?",
        "I need to update the shipping address on my order",
        "are your products vegan?",
    ),
    (
        "can I cancel my order?",
        "please cancel the purchase I made yesterday",
        "which size should I get for these jeans?",
    ),
];

/// How much closer a paraphrase must be than an unrelated text.
const MARGIN: f32 = 0.15;

#[test]
fn paraphrases_score_clearly_higher_than_unrelated_texts() {
    let mut failures = Vec::new();
    for &(anchor, close, far) in TRIPLES {
        let (near, away) = (sim(anchor, close), sim(anchor, far));
        println!("{near:.3} vs {away:.3}  {anchor:?} ~ {close:?} / {far:?}");
        if near <= away + MARGIN {
            failures.push(format!(
                "cos({anchor:?}, {close:?}) = {near:.3} is not above cos({anchor:?}, {far:?}) = {away:.3} + {MARGIN}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Texts about different things score low. (MiniLM rates two texts that
/// are both about a shop a little alike anyway: "where is my order?" and "our
/// stores open at 9am" get about 0.30, so the bound is for clearly different
/// topics.)
const UNRELATED_BOUND: f32 = 0.25;

#[test]
fn unrelated_pairs_score_low() {
    let mut failures = Vec::new();
    for (a, b) in [
        ("do you have this jacket in blue?", "how do I get a refund?"),
        ("can I pay with PayPal?", "the item arrived broken"),
        (
            "are your products vegan?",
            "how do I change my delivery address?",
        ),
        ("where is my order?", "the weather is lovely today"),
        (
            "which size should I get for these jeans?",
            "do you ship to Mexico?",
        ),
    ] {
        let s = sim(a, b);
        println!("{s:.3}  {a:?} / {b:?}");
        if s >= UNRELATED_BOUND {
            failures.push(format!(
                "cos({a:?}, {b:?}) = {s:.3}, expected < {UNRELATED_BOUND}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn padding_does_not_change_a_result() {
    let e = encoder();
    let long = "I ordered a pair of red running shoes and a blue rain jacket from your online \
                store two weeks ago and the tracking page still says label created so could \
                you please tell me when the parcel will finally leave your warehouse and arrive";
    assert!(long.split_whitespace().count() >= 40);
    let batch = e.encode(&["hi", long]).expect("encode batch");
    let alone = e.encode_one("hi").expect("encode one");
    for (i, (x, y)) in batch[0].iter().zip(&alone).enumerate() {
        assert!(
            (x - y).abs() < 1e-4,
            "component {i}: {x} in a padded batch, {y} alone"
        );
    }
    let long_alone = e.encode_one(long).expect("encode long");
    for (x, y) in batch[1].iter().zip(&long_alone) {
        assert!((x - y).abs() < 1e-4);
    }
}

#[test]
fn large_batches_keep_order_and_match_single_encodings() {
    // More texts than one internal batch, of mixed lengths, so that sorting
    // by length and splitting must put every result back in its place.
    let e = encoder();
    let texts: Vec<String> = (0..70)
        .map(|i| format!("order number {i} {}", "and more words ".repeat(i % 7)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let all = e.encode(&refs).expect("encode");
    assert_eq!(all.len(), texts.len());
    for i in [0, 13, 31, 32, 33, 69] {
        let one = e.encode_one(&texts[i]).expect("encode one");
        for (x, y) in all[i].iter().zip(&one) {
            assert!((x - y).abs() < 1e-4, "text {i}");
        }
    }
}

#[test]
fn vectors_have_384_dims_unit_length_and_are_deterministic() {
    let e = encoder();
    assert_eq!(e.dim(), 384);
    let texts = ["where is my order?", "do you ship to Canada?", "thanks!"];
    let first = e.encode(&texts).expect("encode");
    let second = e.encode(&texts).expect("encode again");
    assert_eq!(first.len(), 3);
    for (v, t) in first.iter().zip(texts) {
        assert_unit(v, t);
    }
    assert_eq!(first, second, "two calls gave different vectors");
    assert_eq!(
        e.encode(&[]).expect("encode nothing"),
        Vec::<Vec<f32>>::new()
    );
}

#[test]
fn edge_inputs_do_not_panic_and_give_unit_vectors() {
    let e = encoder();
    let very_long = "parcel ".repeat(10_000);
    let inputs: Vec<(&str, &str)> = vec![
        ("empty", ""),
        ("whitespace", "   \t\n  "),
        ("very long", &very_long),
        (
            "control characters",
            "where\u{0}is\u{7}my\u{1b}[31m order\u{7f}?\r\n",
        ),
        ("Japanese", "注文した商品はいつ届きますか？"),
        ("Russian", "Где мой заказ?"),
        ("Arabic", "أين طلبي؟"),
        ("emoji", "📦📦📦 ??? 🙏"),
        ("only punctuation", "?!...,;"),
        ("lone combining marks", "\u{301}\u{302}\u{303}"),
        ("zero-width", "\u{200b}\u{feff}\u{200d}"),
    ];
    for (what, text) in &inputs {
        let v = e
            .encode_one(text)
            .unwrap_or_else(|err| panic!("{what}: {err}"));
        assert_unit(&v, what);
    }
    // All at once in one padded batch gives the same.
    let texts: Vec<&str> = inputs.iter().map(|(_, t)| *t).collect();
    let batch = e.encode(&texts).expect("batch of edge inputs");
    for ((what, text), v) in inputs.iter().zip(&batch) {
        let one = e.encode_one(text).expect("encode");
        assert_unit(v, what);
        assert!(
            v.iter().zip(&one).all(|(x, y)| (x - y).abs() < 1e-4),
            "{what}"
        );
    }
    // Documented: empty and whitespace-only texts encode alike (no words).
    assert!(cosine(&batch[0], &batch[1]) > 0.9999);
    // A text beyond the 256-token limit encodes like its first 256 tokens.
    let longer = "parcel ".repeat(20_000);
    let a = e.encode_one(&very_long).expect("long");
    let b = e.encode_one(&longer).expect("longer");
    assert!(cosine(&a, &b) > 0.9999);
}

#[test]
fn shared_across_threads() {
    let e = Arc::new(encoder());
    let expected = e.encode_one("where is my order?").expect("encode");
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let e = Arc::clone(&e);
            std::thread::spawn(move || e.encode_one("where is my order?").expect("encode"))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("thread"), expected);
    }
}

#[test]
fn load_from_an_empty_dir_names_the_missing_file() {
    let dir = std::env::temp_dir().join(format!("wismo-encoder-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let err = Encoder::load(&dir).expect_err("loading from an empty dir must fail");
    std::fs::remove_dir_all(&dir).ok();
    match &err {
        EncoderError::Missing { path, .. } => {
            assert_eq!(path, &dir.join("config.json"));
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("config.json"), "{msg}");
    assert!(msg.contains("scripts/fetch-encoder"), "{msg}");
}

#[test]
fn load_names_a_corrupt_weights_file() {
    let dir = std::env::temp_dir().join(format!("wismo-encoder-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(model_dir().join(f), dir.join(f)).expect("copy model file");
    }
    std::fs::write(dir.join("model.safetensors"), b"not a safetensors file").expect("write");
    let err = Encoder::load(&dir).expect_err("a corrupt weights file must fail");
    std::fs::remove_dir_all(&dir).ok();
    match &err {
        EncoderError::Invalid { path, .. } => {
            assert!(path.ends_with("model.safetensors"), "{err}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Values from an independent numpy re-implementation of the model
/// (`reference/minilm_numpy.py`: its own tokenizer, BERT forward pass and
/// pooling, in f64): the first 8 components of each embedding.
const REFERENCE: &[(&str, [f32; 8])] = &[
    (
        "where is my order?",
        [
            -0.00092, -0.02756, 0.07321, 0.04838, 0.00617, 0.02369, -0.03953, -0.02266,
        ],
    ),
    (
        "has my package shipped yet?",
        [
            -0.05077, -0.02490, 0.02920, 0.04795, 0.01441, 0.00061, 0.02565, -0.06511,
        ],
    ),
    (
        "what is your return policy for shoes?",
        [
            -0.05860, 0.03224, 0.07623, -0.00705, 0.04334, -0.02180, 0.00585, -0.04893,
        ],
    ),
    (
        "Do you send parcels to Mexico?",
        [
            0.03868, 0.02162, -0.01277, 0.02790, 0.01621, -0.07871, 0.02633, -0.03919,
        ],
    ),
    (
        "We deliver to most countries outside the US.",
        [
            0.05705, -0.00667, 0.02644, -0.00636, 0.02015, -0.04565, -0.00864, -0.07885,
        ],
    ),
    (
        "our stores open at 9am",
        [
            0.01372, -0.04203, -0.01111, 0.01577, 0.02922, 0.07740, -0.06176, 0.01767,
        ],
    ),
    (
        "hi",
        [
            -0.09048, 0.04044, 0.02391, 0.05895, -0.02288, -0.04722, 0.04505, 0.01579,
        ],
    ),
];

/// Cosine similarities of pairs of `REFERENCE` texts from the same script.
const REFERENCE_COSINES: &[(usize, usize, f32)] = &[
    (0, 1, 0.47223),
    (0, 2, 0.23765),
    (3, 4, 0.55270),
    (3, 5, 0.13849),
    (0, 6, 0.26683),
];

#[test]
fn matches_the_numpy_reference() {
    let e = encoder();
    let texts: Vec<&str> = REFERENCE.iter().map(|(t, _)| *t).collect();
    let vectors = e.encode(&texts).expect("encode");
    for ((text, expected), v) in REFERENCE.iter().zip(&vectors) {
        for (i, (x, y)) in v.iter().zip(expected).enumerate() {
            assert!(
                (x - y).abs() < 2e-4,
                "{text:?} component {i}: {x} here, {y} in the reference"
            );
        }
    }
    for &(a, b, expected) in REFERENCE_COSINES {
        let got = cosine(&vectors[a], &vectors[b]);
        assert!(
            (got - expected).abs() < 2e-4,
            "cos({:?}, {:?}) = {got}, reference {expected}",
            texts[a],
            texts[b]
        );
    }
}
