//! No reply has a hole: every template, in every locale, rendered for every
//! demo order (and the second store's orders) with each optional field
//! removed in turn, at several clocks; and the same through real turns,
//! order cards included.

use chrono::{DateTime, Duration, Utc};
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use wismo_core::dialogue::order_view;
use wismo_core::dialogue::{Conversation, Engine, EngineConfig};
use wismo_core::knowledge::KnowledgeBase;
use wismo_core::nlu::{self, Nlu, NluTrainOptions};
use wismo_core::store::memory::{demo_now, InMemoryStore};
use wismo_core::store::Order;

fn nlu() -> Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| {
        let data = nlu::default_training_data().expect("built-in data parses");
        let model = nlu::train(&data, &NluTrainOptions::default(), &mut |_| {}).expect("trains");
        Nlu::new(model, &Default::default()).expect("usable")
    })
    .clone()
}

fn engine_over(orders: Vec<Order>) -> Engine {
    Engine::new(
        nlu(),
        KnowledgeBase::builtin(),
        Arc::new(InMemoryStore::new(orders)),
        EngineConfig::default(),
    )
    .expect("engine builds")
}

fn second_store_orders() -> Vec<Order> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/second-store/orders.json"
    );
    match std::fs::read_to_string(path) {
        Ok(src) => InMemoryStore::from_shopify_json(&src, path)
            .expect("the second store loads")
            .orders(),
        Err(_) => Vec::new(),
    }
}

fn all_orders() -> Vec<Order> {
    let mut v = InMemoryStore::demo().expect("demo").orders();
    v.extend(second_store_orders());
    v
}

/// A named way to take facts away from an order.
type Removal = (&'static str, fn(&mut Order));

/// Each way an order can lack an optional value.
fn removals() -> Vec<Removal> {
    vec![
        ("nothing", |_| {}),
        ("carrier", |o| {
            o.fulfillments
                .iter_mut()
                .for_each(|f| f.tracking_company = None)
        }),
        ("tracking numbers", |o| {
            o.fulfillments
                .iter_mut()
                .for_each(|f| f.tracking_numbers.clear())
        }),
        ("tracking urls", |o| {
            o.fulfillments
                .iter_mut()
                .for_each(|f| f.tracking_urls.clear())
        }),
        ("estimated delivery", |o| {
            o.fulfillments
                .iter_mut()
                .for_each(|f| f.estimated_delivery_at = None)
        }),
        ("delivered date", |o| {
            o.fulfillments
                .iter_mut()
                .for_each(|f| f.delivered_at = None)
        }),
        ("updated date", |o| {
            o.fulfillments.iter_mut().for_each(|f| f.updated_at = None)
        }),
        ("customer", |o| o.customer = None),
        ("first name", |o| {
            if let Some(c) = o.customer.as_mut() {
                c.first_name = None;
            }
        }),
        ("line items", |o| o.line_items.clear()),
        ("item titles", |o| {
            o.line_items.iter_mut().for_each(|li| li.title.clear())
        }),
        ("refunds", |o| o.refunds.clear()),
        ("shipping address", |o| o.shipping_address = None),
        ("cancel date", |o| o.cancelled_at = None),
        ("all shipment facts", |o| {
            o.fulfillments.iter_mut().for_each(|f| {
                f.tracking_company = None;
                f.tracking_numbers.clear();
                f.tracking_urls.clear();
                f.estimated_delivery_at = None;
                f.delivered_at = None;
            })
        }),
    ]
}

/// Every way a reply can show a hole; `None` when there is none.
fn hole(text: &str) -> Option<&'static str> {
    static DANGLING: OnceLock<Regex> = OnceLock::new();
    let dangling = DANGLING.get_or_init(|| Regex::new(r":\s*($|[.,;)!?])").expect("valid"));
    let checks: [(&str, bool); 12] = [
        (
            "an unfilled placeholder",
            text.contains('{') || text.contains('}'),
        ),
        (
            "an optional-part marker",
            text.contains("[[") || text.contains("]]"),
        ),
        ("a doubled space", text.contains("  ")),
        (
            "a space before punctuation",
            [" .", " ,", " ;", " :", " )", " ?", " !"]
                .iter()
                .any(|p| text.contains(p)),
        ),
        ("empty brackets", text.contains("()") || text.contains("( ")),
        ("a dangling colon", dangling.is_match(text)),
        ("a leading space", text.starts_with(' ')),
        (
            "doubled punctuation",
            text.contains("..") || text.contains(",."),
        ),
        ("an empty hash", text.contains("# ") || text.ends_with('#')),
        (
            "a preposition before a relative day",
            ["on today", "on tomorrow", "el hoy", "el mañana"]
                .iter()
                .any(|p| text.contains(p)),
        ),
        (
            "a '#' with no number",
            text.contains("#.") || text.contains("#,"),
        ),
        (
            "an empty item list",
            text.contains("( and") || text.contains("(, "),
        ),
    ];
    checks.iter().find(|(_, bad)| *bad).map(|(what, _)| *what)
}

/// Values the engine itself supplies besides the order's.
fn engine_values(v: &mut HashMap<&'static str, String>) {
    for (k, val) in [
        ("case_id", "CASE-0001"),
        ("orders", "#1001, #1002"),
        ("count", "7"),
        ("more", "2"),
        ("wait", "5 minutes"),
        ("email", "maria@example.com"),
        ("reason", "it has already shipped"),
        ("passage", "Returns are accepted within 30 days."),
        ("title", "Returns"),
        ("intent", "track_order"),
        ("agent", "Alice"),
        // Proactive emails (always given by `Engine::proactive_email`).
        ("store_name", "North Wind"),
        ("unsubscribe_url", "https://chat.example/v1/unsubscribe/abc"),
    ] {
        v.entry(k).or_insert_with(|| val.to_string());
    }
}

fn clocks() -> Vec<DateTime<Utc>> {
    let d = demo_now();
    vec![
        d,
        d + Duration::days(1),
        d + Duration::days(12),
        d + Duration::days(45),
        d + Duration::days(400),
    ]
}

#[test]
fn no_template_renders_a_hole_for_any_order_with_any_field_missing() {
    let engine = engine_over(Vec::new());
    let templates = engine.templates();
    let ids = templates.ids();
    assert!(ids.len() > 100, "templates load: {}", ids.len());
    let mut rendered = 0usize;
    let mut problems = Vec::new();
    for base in all_orders() {
        for (what, remove) in removals() {
            let mut order = base.clone();
            remove(&mut order);
            for now in clocks() {
                let view = engine.view(now);
                for (locale, id) in &ids {
                    let mut v = HashMap::new();
                    order_view::order_vars(&order, &view, locale, &mut v);
                    engine_values(&mut v);
                    // Every variant that can be picked.
                    for pick in 0..4 {
                        let Some(text) = templates.render(locale, id, pick, &v) else {
                            continue;
                        };
                        rendered += 1;
                        if let Some(h) = hole(&text) {
                            problems.push(format!(
                                "#{} without {what} at {now} [{locale}] {id}: {h}: {text:?}",
                                order.number
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(rendered > 100_000, "rendered only {rendered}");
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} holes, first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n")
    );
}

#[test]
fn the_guard_check_refuses_a_template_that_can_print_a_hole() {
    use wismo_core::dialogue::templates::Templates;
    let mut t = Templates::default();
    t.add_locale(
        "en",
        "status.in_transit:\n  - \"Order #{order_number} is with {carrier}.\"\n",
        "en.yml",
    )
    .expect("parses");
    let problems = t.check_guards(order_view::OPTIONAL_KEYS);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("{carrier} can be absent"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("no variant fits when carrier has no value"),
        "{problems:?}"
    );

    // Guarded by a condition but with no variant for the other case.
    let mut t = Templates::default();
    t.add_locale(
        "es",
        "tracking.link:\n  - \"{?tracking_number}Seguimiento: {tracking_number}\"\n",
        "es.yml",
    )
    .expect("parses");
    let problems = t.check_guards(order_view::OPTIONAL_KEYS);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("no variant fits when tracking_number has no value")),
        "{problems:?}"
    );

    // Both ways guarded: accepted.
    let mut t = Templates::default();
    t.add_locale(
        "en",
        "tracking.link:\n  - \"{?tracking_number}Tracking[[ with {carrier}]]: {tracking_number}\"\n  - \"{!tracking_number}No tracking number.\"\n",
        "en.yml",
    )
    .expect("parses");
    assert_eq!(
        t.check_guards(order_view::OPTIONAL_KEYS),
        Vec::<String>::new()
    );
}

#[test]
fn optional_parts_and_conditions_render_as_documented() {
    use wismo_core::dialogue::templates::{fill, Templates};
    let v = |pairs: &[(&'static str, &str)]| -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };
    let t = "Order #{order_number} is in transit[[ with {carrier}]][[ and should arrive {eta}]].";
    assert_eq!(
        fill(t, &v(&[("order_number", "1017")])),
        "Order #1017 is in transit."
    );
    assert_eq!(
        fill(t, &v(&[("order_number", "1017"), ("carrier", "UPS")])),
        "Order #1017 is in transit with UPS."
    );
    let mut ts = Templates::default();
    ts.add_locale(
        "en",
        "x:\n  - \"{?tracking_number}Has {tracking_number}\"\n  - \"{!tracking_number}Has none\"\n",
        "en.yml",
    )
    .expect("parses");
    for pick in 0..3 {
        assert_eq!(
            ts.render("en", "x", pick, &v(&[("tracking_number", "1Z")]))
                .as_deref(),
            Some("Has 1Z")
        );
        assert_eq!(
            ts.render("en", "x", pick, &v(&[])).as_deref(),
            Some("Has none")
        );
    }
}

/// Through real turns: every order of both stores, each field removed in
/// turn, asked about in both languages, verified by its email; no reply and
/// no order card has a hole.
#[test]
fn real_turns_and_order_cards_have_no_holes() {
    let asks = [
        ("en", "where is my order #{n}"),
        ("en", "when will order {n} arrive"),
        ("en", "tracking for order #{n}"),
        ("en", "I want to return order #{n}"),
        ("es", "donde esta mi pedido #{n}"),
        ("es", "quiero devolver el pedido #{n}"),
    ];
    let mut checked = 0usize;
    let mut problems = Vec::new();
    for (what, remove) in removals() {
        let orders: Vec<Order> = all_orders()
            .into_iter()
            .map(|mut o| {
                remove(&mut o);
                o
            })
            .collect();
        let engine = engine_over(orders.clone());
        for o in orders.iter().filter(|o| o.email.is_some()) {
            let email = o.email.clone().unwrap_or_default();
            for (i, (locale, ask)) in asks.iter().enumerate() {
                let mut conv = Conversation::new(format!("{}-{what}-{i}", o.number));
                conv.locale = Some((*locale).to_string());
                let now = demo_now() + Duration::days(3);
                let mut outs = engine
                    .turn(&mut conv, &ask.replace("{n}", &o.number), now)
                    .messages;
                outs.extend(engine.turn(&mut conv, &email, now).messages);
                for m in outs {
                    checked += 1;
                    if let Some(h) = hole(&m.text) {
                        problems.push(format!("#{} without {what}: {h}: {:?}", o.number, m.text));
                    }
                    if let Some(c) = &m.order_card {
                        let fields = [&c.carrier, &c.tracking_number, &c.tracking_url, &c.eta];
                        if fields
                            .iter()
                            .any(|f| f.as_deref().is_some_and(|s| s.trim().is_empty()))
                            || c.items.iter().any(|i| i.trim().is_empty())
                            || c.order_number.is_empty()
                        {
                            problems.push(format!(
                                "#{} without {what}: empty card field: {c:?}",
                                o.number
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "checked only {checked} replies");
    assert!(
        problems.is_empty(),
        "{} holes, first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n")
    );
}
