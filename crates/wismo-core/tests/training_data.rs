//! Training-data readers: Rasa NLU YAML and CSV.

use std::path::{Path, PathBuf};
use wismo_core::nlu::data::{
    load_file, parse_csv, parse_rasa_yaml, AnnotatedEntity, DataError, Example, LookupTable,
    RegexEntry, Synonym, TrainingData,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

fn ex(text: &str, intent: &str, entities: Vec<AnnotatedEntity>) -> Example {
    Example {
        text: text.into(),
        intent: intent.into(),
        entities,
    }
}

fn ent(entity: &str, value: &str, start: usize, end: usize) -> AnnotatedEntity {
    AnnotatedEntity {
        entity: entity.into(),
        value: value.into(),
        start,
        end,
        role: None,
        group: None,
    }
}

/// The annotated span of every entity, cut out of the example text by char offsets.
fn spans(data: &TrainingData) -> Vec<String> {
    data.examples
        .iter()
        .flat_map(|e| {
            e.entities
                .iter()
                .map(|a| e.text.chars().skip(a.start).take(a.end - a.start).collect())
        })
        .collect()
}

#[test]
fn realistic_nlu_yml_parses_to_exact_training_data() {
    let data = load_file(&fixture("nlu.yml")).unwrap();
    let expected = TrainingData {
        examples: vec![
            ex(
                "where is my order 1042?",
                "order_status",
                vec![ent("order_number", "1042", 18, 22)],
            ),
            ex(
                "status of order #A-77",
                "order_status",
                vec![ent("order_number", "A77", 17, 21)],
            ),
            ex(
                "has my parcel to Zürich shipped yet",
                "order_status",
                vec![ent("city", "Zürich", 17, 23)],
            ),
            ex(
                "ship it to New York instead",
                "change_address",
                vec![AnnotatedEntity {
                    role: Some("destination".into()),
                    group: Some("1".into()),
                    ..ent("city", "NYC", 11, 19)
                }],
            ),
            ex(
                "send it to the big apple",
                "change_address",
                vec![ent("city", "New York", 11, 24)],
            ),
            ex("when are you open", "faq/ask_hours", vec![]),
            ex("opening hours?", "faq/ask_hours", vec![]),
            ex("what about #1 on sunday", "faq/ask_hours", vec![]),
        ],
        synonyms: vec![Synonym {
            value: "New York".into(),
            examples: vec!["NYC".into(), "big apple".into()],
        }],
        regexes: vec![RegexEntry {
            name: "zip_code".into(),
            patterns: vec![r"\b[0-9]{5}\b".into()],
        }],
        lookups: vec![LookupTable {
            name: "city".into(),
            elements: vec!["Berlin".into(), "São Paulo".into()],
        }],
    };
    assert_eq!(data, expected);
    assert_eq!(
        spans(&data),
        ["1042", "A-77", "Zürich", "New York", "the big apple"]
    );
    assert_eq!(
        data.intents(),
        ["order_status", "change_address", "faq/ask_hours"]
    );
}

#[test]
fn annotations_in_multibyte_text_use_char_offsets() {
    let src = "nlu:\n- intent: track\n  examples: |\n    - 🚚 où est [ma commande 42](order_number) — [Zoë]{\"entity\":\"name\"} ✓\n";
    let data = parse_rasa_yaml(src, "x.yml").unwrap();
    let e = &data.examples[0];
    assert_eq!(e.text, "🚚 où est ma commande 42 — Zoë ✓");
    assert_eq!(spans(&data), ["ma commande 42", "Zoë"]);
    assert_eq!((e.entities[0].start, e.entities[0].end), (9, 23));
    assert_eq!((e.entities[1].start, e.entities[1].end), (26, 29));
}

#[test]
fn yaml_variants_that_rasa_accepts() {
    // (source, expected example texts)
    let cases: &[(&str, &[&str])] = &[
        // no version, CRLF line endings, BOM
        (
            "\u{feff}nlu:\r\n- intent: hi\r\n  examples: |\r\n    - hello\r\n",
            &["hello"],
        ),
        // `|-` / `|+` chomping and explicit indentation
        (
            "nlu:\n- intent: hi\n  examples: |-\n    - a\n    - b\n",
            &["a", "b"],
        ),
        ("nlu:\n- intent: hi\n  examples: |2\n    - a\n", &["a"]),
        // `#` after text inside a block stays text
        (
            "nlu:\n- intent: hi\n  examples: |\n    - order #12 # not a comment\n",
            &["order #12 # not a comment"],
        ),
        // brackets without annotation stay text
        (
            "nlu:\n- intent: hi\n  examples: |\n    - it was [sic] late ]\n",
            &["it was [sic] late ]"],
        ),
        // other Rasa sections are ignored, a file with only them is empty data
        (
            "version: \"3.1\"\nstories:\n- story: x\n  steps: []\nrules: []\n",
            &[],
        ),
        ("nlu:\n", &[]),
        // anchors and aliases are YAML
        (
            "nlu:\n- intent: a\n  examples: &ex |\n    - same\n- intent: a\n  examples: *ex\n",
            &["same", "same"],
        ),
    ];
    for (src, expected) in cases {
        let data = parse_rasa_yaml(src, "t.yml").unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let texts: Vec<&str> = data.examples.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(&texts, expected, "{src:?}");
    }
}

/// Asserts that `src` fails with exactly `line` and `message`.
fn check_yaml_err(src: &str, line: usize, message: &str) {
    let err = parse_rasa_yaml(src, "data/nlu.yml").expect_err(src);
    assert_eq!(err.file, "data/nlu.yml", "{src:?}");
    assert_eq!((err.line, err.message.as_str()), (line, message), "{src:?}");
    assert_eq!(err.to_string(), format!("data/nlu.yml:{line}: {message}"));
}

const HEAD: &str = "version: \"3.1\"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n";

#[test]
fn yaml_errors_name_line_and_problem() {
    let cases: &[(String, usize, &str)] = &[
        ("nlu:\n- intent: greet\n  examples: |\n  - hi\n - bad: [\n".into(),
            4,
            "invalid YAML: while parsing a block mapping, did not find expected key",
        ),
        ("".into(),
            0,
            "file is empty: expected Rasa NLU YAML with an `nlu:` section",
        ),
        ("# only a comment\n".into(),
            0,
            "file is empty: expected Rasa NLU YAML with an `nlu:` section",
        ),
        ("- just\n- a list\n".into(),
            1,
            "expected a mapping with an `nlu:` key at the top level, found a list",
        ),
        ("hello: world\nfoo: 1\n".into(),
            1,
            "no `nlu:` section: this does not look like Rasa NLU training data (top-level keys: hello, foo)",
        ),
        ("nlu:\n  intent: greet\n".into(),
            2,
            "`nlu` must be a list of entries (`- intent: ...`), found a mapping",
        ),
        ("nlu: everything\n".into(),
            1,
            "`nlu` must be a list of entries (`- intent: ...`), found a string",
        ),
        (format!("{HEAD}- examples: |\n    - hey\n"),
            6,
            "`nlu` entry needs one of `intent:`, `synonym:`, `regex:` or `lookup:` (found keys: examples)",
        ),
        (format!("{HEAD}- just a string\n"),
            6,
            "`nlu` entry must be a mapping such as `- intent: greet`, found a string",
        ),
        (format!("{HEAD}- intent: bye\n"),
            6,
            "intent `bye` has no `examples`",
        ),
        (format!("{HEAD}- intent: bye\n  synonym: x\n  examples: |\n    - a\n"),
            7,
            "`nlu` entry has both `intent:` and `synonym:`; split it into two entries",
        ),
        (format!("{HEAD}- intent: bye\n  examples:\n"),
            7,
            "`examples` of intent `bye` must be a block string (`examples: |`) or a list of `- text:` entries, found nothing (null)",
        ),
        (format!("{HEAD}- intent: bye\n  examples:\n    a: b\n"),
            8,
            "`examples` of intent `bye` must be a block string (`examples: |`) or a list of `- text:` entries, found a mapping",
        ),
        (format!("{HEAD}- intent: bye\n  examples: |\n"),
            7,
            "intent `bye` has no examples (the `examples` block is empty)",
        ),
        (format!("{HEAD}- intent:\n  examples: |\n    - bye\n"),
            6,
            "empty intent name in `intent:`",
        ),
        (format!("{HEAD}- intent: \"  \"\n  examples: |\n    - bye\n"),
            6,
            "empty intent name in `intent:`",
        ),
        (format!("{HEAD}- intent: [a, b]\n  examples: |\n    - bye\n"),
            6,
            "`intent` must be a string, found a list",
        ),
        (format!("{HEAD}- intent: bye\n  examples: |\n    - bye\n    -\n"),
            9,
            "empty example in intent `bye`",
        ),
        (format!("{HEAD}- intent: bye\n  examples: |\n    - bye\n    -   \n"),
            9,
            "empty example in intent `bye`",
        ),
        (format!("{HEAD}- intent: bye\n  examples: |\n    - bye\n    see you\n"),
            9,
            "expected an example line starting with `- `, found `see you`",
        ),
        (format!("{HEAD}- intent: bye\n  examples: |\n    - bye\n    -later\n"),
            9,
            "expected an example line starting with `- ` (dash and space), found `-later`",
        ),
        (format!("{HEAD}- intent: bye\n  examples:\n  - text: ok\n  - text:\n"),
            9,
            "empty example in intent `bye`",
        ),
        (format!("{HEAD}- intent: bye\n  examples:\n  - txt: ok\n"),
            8,
            "list example in intent `bye` has no `text:`",
        ),
        (format!("{HEAD}- intent: s\n  examples: |\n    - where is [1042(order_number)\n"),
            8,
            "unbalanced annotation brackets: `[` at character 10 has no closing `]` (expected `[text](entity)`) in `where is [1042(order_number)`",
        ),
        (format!("{HEAD}- intent: s\n  examples: |\n    - where is [1042](order_number\n"),
            8,
            "unbalanced annotation brackets: `(` at character 16 has no closing `)` in `where is [1042](order_number`",
        ),
        (format!("{HEAD}- intent: s\n  examples: |\n    - where is 1042](order_number)\n"),
            8,
            "unbalanced annotation brackets: `]` at character 14 has no opening `[` in `where is 1042](order_number)`",
        ),
        (format!("{HEAD}- intent: s\n  examples: |\n    - where is [](order_number)\n"),
            8,
            "annotation at character 10 marks empty text `[]` in `where is [](order_number)`",
        ),
        (format!("{HEAD}- intent: s\n  examples: |\n    - where is [1042]()\n"),
            8,
            "annotation `[1042]()` has an empty entity name in `where is [1042]()`",
        ),
        (format!("{HEAD}- intent: s\n  examples: |\n    - to [NYC]{{\"entity\": city}}\n"),
            8,
            r#"annotation JSON `{"entity": city}` does not parse: expected value at line 1 column 12 in `to [NYC]{"entity": city}`"#,
        ),
        (format!("{HEAD}- intent: s\n  examples: |\n    - to [NYC]{{\"value\": \"x\"}}\n"),
            8,
            r#"annotation JSON `{"value": "x"}` lacks "entity" in `to [NYC]{"value": "x"}`"#,
        ),
        (format!("{HEAD}- intent: s\n  examples: |\n    - to [NYC]{{\"entity\": \"city\"\n"),
            8,
            r#"unbalanced annotation brackets: `{` at character 9 has no closing `}` in `to [NYC]{"entity": "city"`"#,
        ),
        (format!("{HEAD}- regex: zip\n  examples: |\n    - \\d{{5}}\n    - [0-9\n"),
            9,
            "invalid regex `[0-9` in `regex: zip`: unclosed character class",
        ),
        (format!("{HEAD}- intent: bye\n  examples: |\n    - ok\n    - hi\n"),
            9,
            r#"example "hi" is listed under intent `bye` and also under intent `greet` (line 5); an example can have only one intent"#,
        ),
        (format!("{HEAD}- intent: bye\n  examples:\n  - text: ok\n  - text: \"[hi](x)\"\n"),
            9,
            r#"example "hi" is listed under intent `bye` and also under intent `greet` (line 5); an example can have only one intent"#,
        ),
    ];
    for (src, line, message) in cases {
        check_yaml_err(src, *line, message);
    }
}

fn texts_and_intents(data: &TrainingData) -> Vec<(String, String)> {
    data.examples
        .iter()
        .map(|e| (e.text.clone(), e.intent.clone()))
        .collect()
}

#[test]
fn csv_files_that_load() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("text,intent\nhello,greet\nbye,goodbye\n", &[("hello", "greet"), ("bye", "goodbye")]),
        // BANKING77 header, BOM, case-insensitive header, extra columns ignored
        ("\u{feff}Text,Category\nI lost my card,lost_or_stolen_card\n", &[("I lost my card", "lost_or_stolen_card")]),
        ("id,INTENT,lang,text\n7,greet,en,hi there\n", &[("hi there", "greet")]),
        // quoted fields with commas, quotes and newlines; CRLF; blank trailing lines
        (
            "text,intent\r\n\"where, exactly, is \"\"it\"\"?\",track\r\n\"line one\nline two\",other\r\n\r\n\n",
            &[("where, exactly, is \"it\"?", "track"), ("line one\nline two", "other")],
        ),
        ("text,intent\n", &[]),
        ("text,intent\n  ünïcödé 🚚  , track \n", &[("ünïcödé 🚚", "track")]),
    ];
    for (src, expected) in cases {
        let data = parse_csv(src, "t.csv").unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(t, i)| (t.to_string(), i.to_string()))
            .collect();
        assert_eq!(texts_and_intents(&data), want, "{src:?}");
    }
}

#[test]
fn csv_errors_name_line_and_problem() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "",
            0,
            "file is empty: expected a CSV header with `text` and `intent` columns",
        ),
        (
            "\n\n",
            0,
            "file is empty: expected a CSV header with `text` and `intent` columns",
        ),
        (
            "sentence,label\nhi,greet\n",
            1,
            "missing columns `text` and `intent` (or `category`); the header has: sentence, label",
        ),
        (
            "text,label\nhi,greet\n",
            1,
            "missing column `intent` (or `category`); the header has: text, label",
        ),
        (
            "\nIntent\ngreet\n",
            2,
            "missing column `text`; the header has: Intent",
        ),
        (
            "text,intent\nhi,greet\n,greet\n",
            3,
            "row has an empty `text`",
        ),
        (
            "text,intent\n\nhi,greet\n\n\n,greet\n",
            6,
            "row has an empty `text`",
        ),
        (
            "text,intent\nhi,greet\n\"multi\nline\",greet\nyo,  \n",
            5,
            "row has an empty `intent`",
        ),
        (
            "text,intent\nhi,greet,extra\n",
            2,
            "row has 3 fields but the header has 2",
        ),
        (
            "text,intent,lang\nhi,greet\n",
            2,
            "row has 2 fields but the header has 3",
        ),
        ("text,category\nhi,\n", 2, "row has an empty `category`"),
    ];
    for (src, line, message) in cases {
        let err = parse_csv(src, "data/train.csv").expect_err(src);
        assert_eq!(err.file, "data/train.csv");
        assert_eq!(
            (err.line, err.message.as_str()),
            (*line, *message),
            "{src:?}"
        );
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wismo-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn load_file_picks_reader_by_extension() {
    let csv = load_file(&fixture("small.csv")).unwrap();
    assert_eq!(
        texts_and_intents(&csv),
        [("hello, there".to_string(), "greet".to_string())]
    );
    let upper = temp_file(
        "NLU.YAML",
        b"nlu:\n- intent: hi\n  examples: |\n    - hey\n",
    );
    assert_eq!(load_file(&upper).unwrap().intents(), ["hi"]);

    let check = |path: PathBuf, line: usize, message: &str| {
        let err: DataError = load_file(&path).expect_err(message);
        assert_eq!(err.file, path.display().to_string());
        assert_eq!((err.line, err.message.as_str()), (line, message));
    };
    check(
        fixture("notes.txt"),
        0,
        "unknown training file type (expected .yml, .yaml or .csv)",
    );
    let missing = fixture("does-not-exist.yml");
    let err = load_file(&missing).unwrap_err();
    assert_eq!(
        (err.file.as_str(), err.line),
        (missing.to_str().unwrap(), 0)
    );
    assert!(
        err.message.starts_with("cannot read file: "),
        "{}",
        err.message
    );
    check(
        temp_file("latin1.csv", b"text,intent\nhi,greet\ncaf\xe9,order\n"),
        3,
        "not valid UTF-8 (first invalid byte at column 4); save the file as UTF-8",
    );
    check(
        fixture("bad_intent.yml"),
        5,
        "unbalanced annotation brackets: `[` at character 1 has no closing `]` \
         (expected `[text](entity)`) in `[1042(order_number)`",
    );
}

#[test]
fn banking77_train_csv_loads_if_present() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/banking77/train.csv");
    if !path.exists() {
        println!(
            "note: {} not found; skipping the BANKING77 check",
            path.display()
        );
        return;
    }
    let data = load_file(&path).unwrap();
    assert_eq!(data.examples.len(), 10_003);
    assert_eq!(data.intents().len(), 77);
    assert_eq!(data.examples[0].text, "I am still waiting on my card?");
    assert_eq!(data.examples[0].intent, "card_arrival");
}

#[test]
fn garbage_input_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> = "-[](){}:\"'#|>&*!%@`,\n\t \\abcXYZ019é🚚\u{301}\u{202e}\u{0}\r?"
        .chars()
        .collect();
    let mut inputs: Vec<String> = (0..3000)
        .map(|_| {
            let len = (next() % 120) as usize;
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        })
        .collect();
    let bytes: Vec<u8> = (0..4000).map(|_| next() as u8).collect();
    inputs.push(String::from_utf8_lossy(&bytes).into_owned());
    inputs.push("[".repeat(100_000));
    inputs.push("- ".repeat(50_000));
    inputs.push(format!("{}x", "a:\n ".repeat(10_000)));
    inputs.push(format!(
        "nlu:\n- intent: a\n  examples: |\n    - {}\n",
        "x".repeat(1_000_000)
    ));
    inputs.push(format!(
        "nlu:\n- intent: a\n  examples: |\n    - {}\n",
        "[a](b) ".repeat(20_000)
    ));
    inputs.push("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n".into());
    for prefix in [
        "",
        "nlu:\n- intent: x\n  examples: |\n    - ",
        "text,intent\n",
    ] {
        for input in &inputs {
            let src = format!("{prefix}{input}");
            let _ = parse_rasa_yaml(&src, "g.yml");
            let _ = parse_csv(&src, "g.csv");
        }
    }
    // Nested deeper than the limit is a clean error, not a stack overflow.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    assert!(parse_rasa_yaml(&deep, "d.yml").is_err());
    let deep_block: String = (0..500)
        .map(|i| format!("{}- \n", "  ".repeat(i)))
        .collect();
    let err = parse_rasa_yaml(&deep_block, "d.yml").unwrap_err();
    assert!(err.message.contains("nested too deeply"), "{}", err.message);
}
