//! The store workspace: overrides, profile values in replies, guards, a new
//! intent end to end, and a language wismo does not ship (French).

use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::Arc;
use wismo_core::dialogue::{Conversation, Engine, EngineConfig};
use wismo_core::nlu::{self, Nlu, NluTrainOptions};
use wismo_core::store::memory::InMemoryStore;
use wismo_core::workspace::{builtin_files, Severity, Workspace, WorkspaceFiles};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn engine(ws: &Workspace, now: DateTime<Utc>) -> Engine {
    let model = nlu::train(
        &ws.training_data(),
        &NluTrainOptions::default(),
        &mut |_| {},
    )
    .expect("trains");
    let nlu = Nlu::new(model, &ws.entity_config()).expect("nlu");
    let orders = Arc::new(InMemoryStore::demo_at(now, chrono_tz::UTC).expect("demo store"));
    ws.build_engine(nlu, orders, EngineConfig::default())
        .expect("engine builds")
}

fn chat(engine: &Engine, now: DateTime<Utc>, turns: &[&str]) -> Vec<String> {
    let mut conv = Conversation::new("t");
    turns
        .iter()
        .map(|t| {
            let out = engine.turn(&mut conv, t, now);
            out.messages
                .iter()
                .map(|m| m.text.clone())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

fn with(files: &[(&str, &str)]) -> WorkspaceFiles {
    let mut w = WorkspaceFiles::new();
    for (p, t) in files {
        w.insert(p, *t).expect("valid path");
    }
    w
}

#[test]
fn the_builtins_and_their_editable_copy_load_clean() {
    let b = Workspace::builtin();
    assert!(b.warnings().is_empty(), "{:?}", b.warnings());
    let copy = Workspace::load(&builtin_files()).expect("init's files load");
    assert!(
        copy.warnings()
            .iter()
            .all(|d| d.severity == Severity::Warning),
        "{:?}",
        copy.warnings()
    );
    assert_eq!(
        copy.training_data().examples.len(),
        b.training_data().examples.len()
    );
    let w = b.widget_config();
    assert_eq!(w.languages, ["en", "es"]);
    // The demo sets no greeting: its opening message is the `welcome` template.
    assert_eq!(w.greeting["es"], "", "{w:?}");
}

/// A greeting and quick replies in `store.toml` are the bot's opening
/// message and its buttons in the languages they are written in; a language
/// without one keeps the `welcome` template and the built-in buttons.
#[test]
fn the_greeting_is_the_opening_message_in_its_own_language() {
    let now = at("2026-11-24T12:00:00Z");
    let ws = Workspace::load(&with(&[(
        "store.toml",
        "name = \"Acme\"\nlanguages = [\"en\", \"es\"]\n[widget]\n\
         greeting = { en = \"Hi, this is Acme {not a placeholder}!\" }\n\
         quick_replies = [\"Where's my parcel?\", \"Talk to Ana\"]\n",
    )]))
    .expect("loads");
    let e = engine(&ws, now);
    let mut en = Conversation::new("g-en");
    let first = e.greet(&mut en, now);
    assert_eq!(first[0].text, "Hi, this is Acme not a placeholder!");
    assert_eq!(
        first[0].quick_replies,
        ["Where's my parcel?", "Talk to Ana"]
    );
    let mut es = Conversation::new("g-es");
    es.locale = Some("es".into());
    let first = e.greet(&mut es, now);
    assert!(first[0].text.contains("Hola"), "{:?}", first[0].text);
    assert_eq!(
        first[0].quick_replies.len(),
        3,
        "{:?}",
        first[0].quick_replies
    );
    assert!(!first[0].quick_replies.iter().any(|q| q.contains("Ana")));
    let w = ws.widget_config();
    assert_eq!(w.greeting["es"], "");
    assert!(w.quick_replies["es"].is_empty());
    assert_eq!(w.titles["es"], "Acme");
}

#[test]
fn profile_values_and_store_knowledge_are_what_the_bot_says() {
    let now = at("2026-11-24T12:00:00Z");
    let ws = Workspace::load(&with(&[
        (
            "store.toml",
            "name = \"Trail Co\"\nlanguages = [\"en\"]\n[policy]\nreturn_window_days = 14\nrefund_days = [3, 7]\n",
        ),
        (
            "knowledge/en/shipping.md",
            "# Shipping\n\nStandard shipping costs $7.50 and is free on orders over $120. We ship to the United States and Mexico only.\n",
        ),
        (
            "knowledge/en/returns.md",
            "# Returns\n\nYou can return unworn items within 14 days of delivery for a full refund.\n",
        ),
    ]))
    .expect("loads");
    let e = engine(&ws, now);
    let r = chat(&e, now, &["how much does shipping cost?"]);
    assert!(r[0].contains("$7.50") && r[0].contains("$120"), "{r:?}");
    let r = chat(&e, now, &["what's your return policy?"]);
    assert!(r[0].contains("14 days"), "{r:?}");
    assert!(!r[0].contains("30 days"), "{r:?}");
    // The returns reply for a delivered order takes the window and the
    // refund days from the profile; the demo's conditions are gone.
    let text = e
        .templates()
        .render(
            "en",
            "return.instructions",
            0,
            &[
                ("order_number", "1042".to_string()),
                ("return_window_days", "14".into()),
            ]
            .into_iter()
            .collect(),
        )
        .unwrap_or_default();
    if !text.is_empty() {
        assert!(text.contains("3 to 7 business days"), "{text}");
        assert!(!text.contains("unworn and with tags"), "{text}");
    }
    let r = chat(
        &e,
        now,
        &["I want to return order 1042", "emma.johnson@example.com"],
    );
    assert!(r.join(" ").contains("14 days"), "{r:?}");
}

/// Knowledge pages take `{store.…}` values too: the built-in returns page
/// says the store's window, in each language, and a page naming an unknown
/// value is refused with its file and line.
#[test]
fn knowledge_pages_say_the_profiles_values() {
    let now = at("2026-11-24T12:00:00Z");
    let ws = Workspace::load(&with(&[(
        "store.toml",
        "name = \"Trail Co\"\n[policy]\nreturn_window_days = 21\n",
    )]))
    .expect("loads");
    let e = engine(&ws, now);
    let r = chat(&e, now, &["what's your return policy?"]);
    assert!(r[0].contains("21 days"), "{r:?}");
    assert!(
        !r[0].contains("30 days") && !r[0].contains("{store"),
        "{r:?}"
    );
    let r = chat(&e, now, &["¿cuál es su política de devoluciones?"]);
    assert!(r[0].contains("21 días"), "{r:?}");
    // The demo without a profile keeps its 30 days.
    let b = engine(&Workspace::builtin(), now);
    let r = chat(&b, now, &["what's your return policy?"]);
    assert!(r[0].contains("30 days"), "{r:?}");

    let errs = Workspace::load(&with(&[(
        "knowledge/en/gifts.md",
        "# Gifts\n\nGift wrap is free.\nAsk {store.nickname} for a card.\n",
    )]))
    .expect_err("an unknown value is refused");
    let e = errs
        .iter()
        .find(|d| d.file == "knowledge/en/gifts.md")
        .unwrap_or_else(|| panic!("{errs:?}"));
    assert_eq!(e.line, 4, "{e:?}");
    assert!(e.message.contains("nickname"), "{e:?}");
    // A value the store leaves unset cannot be written into a page.
    let errs = Workspace::load(&with(&[(
        "knowledge/en/shipping.md",
        "# Shipping\n\nFree over {store.policy.free_shipping_threshold}.\n",
    )]))
    .expect_err("an unset value is refused");
    assert!(
        errs.iter()
            .any(|d| d.file == "knowledge/en/shipping.md" && d.line == 3),
        "{errs:?}"
    );
}

#[test]
fn a_new_intent_with_its_flow_and_templates_works_end_to_end() {
    let now = at("2026-11-24T12:00:00Z");
    let ws = Workspace::load(&with(&[
        (
            "nlu/gift_cards.yml",
            "nlu:\n  - intent: gift_card\n    examples: |\n      - do you sell gift cards\n      - can I buy a gift card\n      - gift card balance\n      - how do gift cards work\n      - I want to give a gift card\n      - gift voucher\n",
        ),
        (
            "flows.yml",
            "flows:\n  gift_card:\n    intents: [gift_card]\n    steps:\n      - say: gift_card.info\n",
        ),
        (
            "templates/en.yml",
            "gift_card.info: \"Gift cards from {store.name} come in any amount and never expire.\"\ngreet: \"Welcome to the shop!\"\n",
        ),
        ("store.toml", "name = \"Trail Co\"\n"),
    ]))
    .expect("loads");
    let e = engine(&ws, now);
    let r = chat(&e, now, &["do you sell gift cards?"]);
    assert!(
        r[0].contains("Gift cards from Trail Co come in any amount"),
        "{r:?}"
    );
    // One template overridden, the others kept.
    let r = chat(&e, now, &["hello"]);
    assert!(r[0].contains("Welcome to the shop!"), "{r:?}");
    assert!(e.templates().contains("en", "verify.ask"));
}

#[test]
fn broken_files_are_refused_with_file_and_line() {
    let errs = |files: &[(&str, &str)]| -> Vec<String> {
        match Workspace::load(&with(files)) {
            Ok(_) => Vec::new(),
            Err(d) => d
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.to_string())
                .collect(),
        }
    };
    let e = errs(&[("store.toml", "name = \"x\"\n\nlanguages = [\"en\"\n")]);
    assert!(
        e.iter()
            .any(|l| l.starts_with("store.toml:3:") || l.starts_with("store.toml:4:")),
        "{e:?}"
    );
    let e = errs(&[(
        "flows.yml",
        "flows:\n  gift:\n    intents: [greet]\n    steps:\n      - say: no.such.template\n",
    )]);
    assert!(
        e.iter()
            .any(|l| l.starts_with("flows.yml:5:") && l.contains("no.such.template")),
        "{e:?}"
    );
    let e = errs(&[(
        "flows.yml",
        "flows:\n  gift:\n    intents: [greet]\n    steps:\n      - dance: now\n",
    )]);
    assert!(e.iter().any(|l| l.starts_with("flows.yml:")), "{e:?}");
    // A placeholder that can be absent must be guarded.
    let e = errs(&[(
        "templates/en.yml",
        "\nstatus.in_transit: \"Order #{order_number} goes with {carrier}.\"\n",
    )]);
    assert!(
        e.iter()
            .any(|l| l.starts_with("templates/en.yml:2:") && l.contains("carrier")),
        "{e:?}"
    );
    let e = errs(&[("templates/en.yml", "greet: \"Hi from {store.nickname}\"\n")]);
    assert!(e.iter().any(|l| l.contains("store.nickname")), "{e:?}");
    let e = errs(&[("store.toml", "languages = [\"en\", \"de\"]\n")]);
    assert!(e.iter().any(|l| l.contains("de has no templates")), "{e:?}");
    let e = errs(&[("nlu/x.yml", "nlu:\n  - intent: a\n    examples: 3\n")]);
    assert!(e.iter().any(|l| l.starts_with("nlu/x.yml:")), "{e:?}");
    // replace: true drops the built-ins, so the engine's own templates are missing.
    let ws = Workspace::load(&with(&[(
        "templates/en.yml",
        "replace: true\ngreet: \"Hi\"\n",
    )]));
    if let Ok(ws) = ws {
        let model = nlu::train(
            &ws.training_data(),
            &NluTrainOptions::default(),
            &mut |_| {},
        )
        .expect("trains");
        let n = Nlu::new(model, &ws.entity_config()).expect("nlu");
        let orders = Arc::new(
            InMemoryStore::demo_at(at("2026-11-24T12:00:00Z"), chrono_tz::UTC).expect("demo"),
        );
        assert!(ws.build_engine(n, orders, EngineConfig::default()).is_err());
    }
}

#[test]
fn a_french_store_holds_a_french_conversation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fr-store");
    let ws = Workspace::load(&WorkspaceFiles::read_dir(&dir).expect("reads")).expect("loads");
    let now = at("2026-11-24T12:00:00Z");
    let e = engine(&ws, now);
    let r = chat(
        &e,
        now,
        &[
            "Bonjour, où est ma commande 1042 ?",
            "emma.johnson@example.com",
            "combien de jours pour retourner un article ?",
            "hola, ¿dónde está mi pedido?",
        ],
    );
    assert!(r[0].contains("code postal"), "{r:?}");
    assert!(!r[0].contains("UPS"), "nothing before verification: {r:?}");
    assert!(r[1].contains("#1042") && r[1].contains("en route"), "{r:?}");
    assert!(r[1].contains("mercredi 25 novembre"), "{r:?}");
    assert!(r[2].contains("14 jours"), "{r:?}");
    // Spanish is not one of this store's languages: no Spanish reply.
    assert!(!r[3].contains("pedido"), "{r:?}");
    let text = e
        .templates()
        .render("fr", "returns.policy_reminder", 0, &Default::default())
        .unwrap_or_default();
    assert_eq!(
        text,
        "Les retours sont acceptés pendant 14 jours après la livraison, non portés et avec leurs étiquettes. Écrivez-nous à bonjour@maisonlune.fr."
    );
    let w = ws.widget_config();
    assert_eq!(w.languages, ["fr", "en"]);
    assert_eq!(w.title, "Maison Lune");
}

/// The server's settings are the profile's defaults: they hold where
/// store.toml is silent (also with no store.toml at all), and store.toml
/// wins where it speaks. The engine and the `{store.…}` values agree.
#[test]
fn server_settings_hold_until_store_toml_sets_the_value() {
    let server = wismo_core::workspace::ProfileDefaults {
        time_zone: Some("Europe/Madrid".into()),
        return_window_days: Some(14),
        late_after_days: Some(5),
    };
    for files in [with(&[]), with(&[("store.toml", "name = \"Tienda\"\n")])] {
        let ws = Workspace::load_with_defaults(&files, &server).expect("loads");
        let c = ws.engine_config(EngineConfig::default());
        assert_eq!(
            (c.tz.name(), c.return_window_days, c.late_after_days),
            ("Europe/Madrid", 14, 5)
        );
        assert_eq!(ws.profile().policy.return_window_days, 14);
    }
    let files = with(&[(
        "store.toml",
        "time_zone = \"America/Mexico_City\"\n[policy]\nreturn_window_days = 21\n",
    )]);
    let ws = Workspace::load_with_defaults(&files, &server).expect("loads");
    let c = ws.engine_config(EngineConfig::default());
    assert_eq!(
        (c.tz.name(), c.return_window_days, c.late_after_days),
        ("America/Mexico_City", 21, 5)
    );
    // The built-in workspace leaves all three to the server.
    let ws = Workspace::load_with_defaults(&builtin_files(), &server).expect("loads");
    assert_eq!(
        ws.engine_config(EngineConfig::default()).return_window_days,
        14
    );
}
