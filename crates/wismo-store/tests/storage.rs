//! wismo-store against SQLite and PostgreSQL: every scenario runs on both.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use common::Fixture;
use serde_json::{json, Value};
use wismo_core::dialogue::{Conversation, Engine, EngineConfig, Event};
use wismo_core::knowledge::KnowledgeBase;
use wismo_core::nlu::{self, Nlu, NluTrainOptions};
use wismo_core::store::memory::{demo_now, InMemoryStore};
use wismo_core::store::{Address, Order, OrderService, StoreError};
use wismo_store::{Db, NewConversation, SqlOrderService, StoreDbError};

const INJECTION: &str = "'; DROP TABLE orders; --";

fn demo() -> InMemoryStore {
    InMemoryStore::demo().expect("demo loads")
}

fn demo_value() -> Value {
    serde_json::from_str(InMemoryStore::demo_json()).expect("demo is JSON")
}

/// Every order in the database, by number.
async fn dump(db: &Db) -> Vec<Order> {
    let mut out = Vec::new();
    for n in db.order_numbers().await.expect("numbers") {
        out.push(db.find_order(&n).await.expect("find").expect("exists"));
    }
    out
}

fn address(street: &str, city: &str) -> Address {
    Address {
        name: Some("Emma Johnson".into()),
        address1: street.into(),
        address2: None,
        city: city.into(),
        province: Some("OR".into()),
        zip: Some("97214".into()),
        country: Some("United States".into()),
        country_code: Some("US".into()),
        phone: None,
    }
}

fn slot(i: usize, j: usize) -> Event {
    Event::SlotSet {
        name: format!("task{i}"),
        value: format!("event{j}"),
    }
}

fn new_conversation(id: &str) -> NewConversation {
    NewConversation {
        id: id.to_string(),
        token_hash: "sha256:ab12".into(),
        locale: Some("en".into()),
        channel: "web".into(),
        metadata: json!({"page": "/orders", "ua": "Firefox", "nested": {"n": 1}}),
        customer: Some("7301000001".into()),
        created_at: at(0),
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    demo_now() + Duration::seconds(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_creates_the_schema_and_migrating_again_changes_nothing() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        db.migrate().await.expect("second run");
        db.migrate().await.expect("third run");
        assert!(
            db.order_numbers().await.expect("query").is_empty(),
            "{name}"
        );
    }
    // Reconnecting (which migrates) keeps the data.
    fx.dbs[0].1.load_demo_if_empty().await.expect("demo");
    let again = Db::connect(&fx.sqlite_url).await.expect("reconnects");
    assert_eq!(again.order_numbers().await.expect("numbers").len(), 53);
    let again = Db::connect_with_key_file(&fx.pg_url, &fx.pg_key)
        .await
        .expect("reconnects");
    assert!(again.order_numbers().await.expect("numbers").is_empty());
    again.close().await;
    let mem = Db::connect("sqlite::memory:").await.expect("in memory");
    assert_eq!(
        mem.load_demo_if_empty()
            .await
            .expect("demo")
            .map(|r| r.inserted),
        Some(53)
    );
    assert!(matches!(
        Db::connect("mysql://localhost/x").await,
        Err(StoreDbError::UnsupportedUrl)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_import_then_reimport_reports_unchanged() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        let first = db
            .load_demo_if_empty()
            .await
            .expect("imports")
            .expect("was empty");
        assert_eq!(
            (first.inserted, first.updated, first.unchanged),
            (53, 0, 0),
            "{name}"
        );
        assert_eq!(
            db.load_demo_if_empty().await.expect("checks"),
            None,
            "{name}"
        );
        let again = db
            .import_shopify(InMemoryStore::demo_json())
            .await
            .expect("re-imports");
        assert_eq!(
            (again.inserted, again.updated, again.unchanged),
            (0, 0, 53),
            "{name}"
        );
        assert_eq!(
            dump(db).await,
            demo().orders(),
            "{name}: every order round-trips"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_order_is_replaced_with_its_child_rows() {
    let fx = Fixture::new().await;
    let mut v = demo_value();
    let order = &mut v["orders"][47];
    assert_eq!(order["name"], "#1048");
    order["email"] = json!("Emma.New@Example.com");
    order["line_items"] = json!([order["line_items"][0].clone()]);
    order["line_items"][0]["quantity"] = json!(3);
    let changed = v.to_string();
    let expected = InMemoryStore::from_shopify_json(&changed, "changed.json")
        .expect("changed file parses")
        .orders();
    for (name, db) in &fx.dbs {
        db.load_demo_if_empty().await.expect("demo");
        // Looked up (and cached) before the change, and a missing order too:
        // the import must make both lookups read again.
        let before = db.find_order("#1048").await.expect("find").expect("exists");
        assert_ne!(before.email.as_deref(), Some("emma.new@example.com"));
        assert!(db.find_order("#9999").await.expect("find").is_none());
        let r = db.import_shopify(&changed).await.expect("imports");
        assert_eq!((r.inserted, r.updated, r.unchanged), (0, 1, 52), "{name}");

        let o = db.find_order("1048").await.expect("find").expect("exists");
        assert_eq!(o.email.as_deref(), Some("emma.new@example.com"), "{name}");
        assert_eq!(o.line_items.len(), 1, "{name}");
        assert_eq!(o.line_items[0].quantity, 3, "{name}");
        assert_eq!(dump(db).await, expected, "{name}");
        assert!(
            db.orders_by_email("emma.new@example.com")
                .await
                .expect("q")
                .len()
                == 1
        );
        // A number looked up before it existed is found once imported.
        let mut extra = v["orders"][0].clone();
        extra["name"] = json!("#9999");
        extra["id"] = json!(99_999_999u64);
        db.import_shopify(&json!({"orders": [extra]}).to_string())
            .await
            .expect("imports");
        assert!(
            db.find_order("#9999").await.expect("find").is_some(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_rejected_and_nothing_is_written() {
    let fx = Fixture::new().await;
    let mut missing_name = demo_value();
    missing_name["orders"][0]["email"] = json!("changed@example.com");
    if let Some(o) = missing_name["orders"][5].as_object_mut() {
        o.remove("name");
    }
    let broken = &InMemoryStore::demo_json()[..2000];
    for (name, db) in &fx.dbs {
        // On an empty database and on a loaded one.
        let e = db.import_shopify(broken).await.expect_err("broken JSON");
        assert!(
            e.to_string().starts_with("invalid order file: line "),
            "{name}: {e}"
        );
        assert!(db.order_numbers().await.expect("q").is_empty(), "{name}");
        db.load_demo_if_empty().await.expect("demo");
        let before = dump(db).await;
        let e = db
            .import_shopify(&missing_name.to_string())
            .await
            .expect_err("missing name");
        let msg = e.to_string();
        assert!(
            msg.contains("order 5") && msg.contains("name"),
            "{name}: {msg}"
        );
        let e = db.import_shopify(broken).await.expect_err("broken JSON");
        assert!(e.to_string().contains("line "), "{name}: {e}");
        assert_eq!(dump(db).await, before, "{name}: database untouched");
        assert_eq!(
            db.find_order("1001")
                .await
                .expect("q")
                .and_then(|o| o.email),
            Some("emma.johnson@example.com".to_string())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_equal_the_in_memory_store_for_every_demo_order() {
    let fx = Fixture::new().await;
    let mem = demo();
    for (name, db) in &fx.dbs {
        db.load_demo_if_empty().await.expect("demo");
        for o in mem.orders() {
            let n = &o.number;
            for typed in [
                n.clone(),
                format!("#{n}"),
                format!("  # {n} "),
                n.to_lowercase(),
            ] {
                assert_eq!(
                    db.find_order(&typed).await,
                    mem.find_order(&typed),
                    "{name}: {typed:?}"
                );
            }
            let mut emails: Vec<String> = o.email.iter().cloned().collect();
            emails.extend(o.customer.as_ref().and_then(|c| c.email.clone()));
            for e in emails {
                for typed in [e.clone(), e.to_uppercase(), format!(" {e} ")] {
                    assert_eq!(
                        db.orders_by_email(&typed).await,
                        mem.orders_by_email(&typed),
                        "{name}: {typed}"
                    );
                }
            }
            if let Some(c) = &o.customer {
                let by_customer = db.orders_by_customer(&c.id).await;
                assert_eq!(
                    by_customer,
                    mem.orders_by_customer(&c.id),
                    "{name}: {}",
                    c.id
                );
            }
        }
        for typed in ["", "#", "9999", "   ", INJECTION, "🦀", "10 01"] {
            assert_eq!(db.find_order(typed).await, Ok(None), "{name}: {typed:?}");
            assert_eq!(db.orders_by_email(typed).await, Ok(vec![]), "{name}");
            assert_eq!(db.orders_by_customer(typed).await, Ok(vec![]), "{name}");
        }
        // The documented pairs.
        assert_eq!(
            db.orders_by_email("EMMA.JOHNSON@example.com")
                .await
                .map(|v| v.len()),
            Ok(6)
        );
        let liam: Vec<String> = db
            .orders_by_email("liam.smith@example.com")
            .await
            .expect("q")
            .into_iter()
            .map(|o| o.number)
            .collect();
        assert!(
            liam.contains(&"1023".to_string()),
            "{name}: customer email matches"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_are_allowed_and_refused_exactly_like_the_in_memory_store() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        let mem = demo();
        let (mut allowed, mut refused) = (0, 0);
        db.load_demo_if_empty().await.expect("demo");
        for (i, o) in mem.orders().into_iter().enumerate() {
            let n = format!("#{}", o.number);
            let now = at(60 * i as i64);
            let steps: Vec<(Result<Order, StoreError>, Result<Order, StoreError>)> = vec![
                (
                    db.change_shipping_address(&n, address("1 New St", "Portland"))
                        .await,
                    mem.change_shipping_address(&n, address("1 New St", "Portland")),
                ),
                (
                    db.change_shipping_address(&n, address(" ", "Portland"))
                        .await,
                    mem.change_shipping_address(&n, address(" ", "Portland")),
                ),
                (
                    db.cancel_order(&n, "  ", now).await,
                    mem.cancel_order(&n, "  ", now),
                ),
                (
                    db.cancel_order(&n, "changed my mind", now).await,
                    mem.cancel_order(&n, "changed my mind", now),
                ),
                (
                    db.change_shipping_address(&n, address("2 Other St", "Salem"))
                        .await,
                    mem.change_shipping_address(&n, address("2 Other St", "Salem")),
                ),
            ];
            for (step, (got, want)) in steps.into_iter().enumerate() {
                match &want {
                    Ok(_) => allowed += 1,
                    Err(_) => refused += 1,
                }
                assert_eq!(got, want, "{name}: order {n}, step {step}");
            }
        }
        // 6 unfulfilled orders: address change + cancel each; the rest refused.
        assert_eq!((allowed, refused), (12, 53 * 5 - 12), "{name}");
        let messages: BTreeSet<String> = [
            db.cancel_order("1001", "", at(0)).await,
            db.cancel_order("1048", "", at(0)).await,
            db.change_shipping_address("1012", address("x", "y")).await,
        ]
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
        assert_eq!(messages.len(), 3, "{name}: {messages:?}");
        assert_eq!(
            db.cancel_order("#5555", "", at(0)).await,
            Err(StoreError::NotFound("#5555".into()))
        );
        // Cases: numbered in order, order number stored without '#'.
        let cases = [
            (
                db.open_case(Some(" #1031 "), "missing_package", INJECTION, at(1))
                    .await,
                mem.open_case(Some(" #1031 "), "missing_package", INJECTION, at(1)),
            ),
            (
                db.open_case(None, "complaint", "rude courier", at(2)).await,
                mem.open_case(None, "complaint", "rude courier", at(2)),
            ),
            (
                db.open_case(Some("4040"), "damage", "x", at(3)).await,
                mem.open_case(Some("4040"), "damage", "x", at(3)),
            ),
        ];
        for (got, want) in &cases {
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(db.cases().await.expect("cases"), mem.cases(), "{name}");
        assert_eq!(
            dump(db).await,
            mem.orders(),
            "{name}: stored state equals memory"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_order_service_works_from_a_blocking_thread() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        db.load_demo_if_empty().await.expect("demo");
        let svc = SqlOrderService::on_current_runtime(db.clone()).expect("in a runtime");
        let mem = demo();
        let (found, cancelled, again) = tokio::task::spawn_blocking(move || {
            (
                svc.find_order("#1042"),
                svc.cancel_order("1049", "duplicate", at(5)),
                svc.cancel_order("1049", "duplicate", at(6)),
            )
        })
        .await
        .expect("joins");
        assert_eq!(found, mem.find_order("#1042"), "{name}");
        assert_eq!(
            cancelled,
            mem.cancel_order("1049", "duplicate", at(5)),
            "{name}"
        );
        assert_eq!(
            again,
            mem.cancel_order("1049", "duplicate", at(6)),
            "{name}"
        );
        // A closed pool: the engine sees Unavailable.
        let closed = db.clone();
        closed.close().await;
        let svc = SqlOrderService::on_current_runtime(closed).expect("in a runtime");
        let r = tokio::task::spawn_blocking(move || svc.find_order("1042"))
            .await
            .expect("joins");
        assert!(
            matches!(r, Err(StoreError::Unavailable(_))),
            "{name}: {r:?}"
        );
    }
}

fn nlu() -> Nlu {
    static NLU: OnceLock<Nlu> = OnceLock::new();
    NLU.get_or_init(|| {
        let data = nlu::default_training_data().expect("built-in data parses");
        let model = nlu::train(&data, &NluTrainOptions::default(), &mut |_| {}).expect("trains");
        Nlu::new(model, &Default::default()).expect("usable")
    })
    .clone()
}

/// Two turns of the real engine over `store`; returns the events.
fn two_turns(store: Arc<dyn OrderService>) -> Vec<Event> {
    let engine = Engine::new(
        nlu(),
        KnowledgeBase::builtin(),
        store,
        EngineConfig::default(),
    )
    .expect("engine builds");
    let mut conv = Conversation::new("c-engine");
    engine.greet(&mut conv, at(0));
    engine.turn(&mut conv, "where is my order #1042?", at(10));
    engine.turn(&mut conv, "emma.johnson@example.com", at(20));
    conv.events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_keeps_order_and_continuity() {
    let fx = Fixture::new().await;
    let reference = tokio::task::spawn_blocking(|| two_turns(Arc::new(demo())))
        .await
        .expect("joins");
    assert!(reference.len() >= 4, "{reference:?}");
    for (name, db) in &fx.dbs {
        db.load_demo_if_empty().await.expect("demo");
        // The engine over the SQL store produces the same log as over memory.
        let svc = Arc::new(SqlOrderService::on_current_runtime(db.clone()).expect("runtime"));
        let events = tokio::task::spawn_blocking(move || two_turns(svc))
            .await
            .expect("joins");
        assert_eq!(events, reference, "{name}");

        db.create_conversation(&new_conversation("c1"))
            .await
            .expect("creates");
        assert!(
            db.create_conversation(&new_conversation("c1"))
                .await
                .is_err(),
            "{name}: duplicate id"
        );
        assert_eq!(db.append_events("c1", &[]).await.expect("empty"), 0);
        let (head, tail) = events.split_at(3);
        assert_eq!(
            db.append_events("c1", head).await.expect("append"),
            3,
            "{name}"
        );
        let last = db.append_events("c1", tail).await.expect("append");
        assert_eq!(last, events.len() as i64, "{name}");
        assert_eq!(
            db.load_events("c1").await.expect("load"),
            events,
            "{name}: round trip"
        );
        let after = db.events_after("c1", 2).await.expect("after");
        assert_eq!(after.first().map(|(s, _)| *s), Some(3), "{name}");
        assert_eq!(
            after.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
            events[2..].to_vec()
        );
        assert!(db.events_after("c1", last).await.expect("after").is_empty());
        assert!(db.load_events("nope").await.expect("load").is_empty());
        assert!(matches!(
            db.append_events("nope", &events).await,
            Err(StoreDbError::ConversationNotFound(_))
        ));

        let row = db.conversation("c1").await.expect("row").expect("exists");
        let want = new_conversation("c1");
        assert_eq!(
            (
                row.token_hash.as_str(),
                row.locale.as_deref(),
                row.channel.as_str(),
                &row.metadata,
                row.customer.as_deref()
            ),
            (
                want.token_hash.as_str(),
                want.locale.as_deref(),
                want.channel.as_str(),
                &want.metadata,
                want.customer.as_deref()
            ),
            "{name}"
        );
        assert_eq!((row.created_at, row.last_seq), (at(0), last), "{name}");
        // Appending marks the conversation active now.
        let age = chrono::Utc::now() - row.last_active_at;
        assert!(
            age >= chrono::Duration::zero() && age < chrono::Duration::seconds(60),
            "{name}: last_active_at {} is the time of the last append",
            row.last_active_at
        );
        assert!(db.touch("c1", at(99)).await.expect("touch"));
        assert!(!db.touch("nope", at(99)).await.expect("touch"));
        let row = db.conversation("c1").await.expect("row").expect("exists");
        assert_eq!(row.last_active_at, at(99), "{name}");
        assert_eq!(db.conversation("nope").await.expect("row"), None);
    }
}

fn user_said(text: &str, secs: i64) -> Event {
    Event::UserSaid {
        text: text.into(),
        at: at(secs),
        intent: "order_status".into(),
        confidence: 0.9,
        sentiment: 0.0,
        understood: true,
    }
}

/// `(seq, last_seq)` of the conversation's stored rows, read with SQL.
async fn stored_rows(fx: &Fixture, name: &str, id: &str) -> Vec<(i64, Option<i64>)> {
    use sqlx::Connection;
    let sql =
        "SELECT seq, last_seq FROM conversation_events WHERE conversation_id = $1 ORDER BY seq";
    if name == "sqlite" {
        let mut c = sqlx::SqliteConnection::connect(&fx.sqlite_url)
            .await
            .expect("sqlite");
        sqlx::query_as(sql)
            .bind(id)
            .fetch_all(&mut c)
            .await
            .expect("rows")
    } else {
        let mut c = sqlx::PgConnection::connect(&fx.pg_url)
            .await
            .expect("postgres");
        sqlx::query_as(sql)
            .bind(id)
            .fetch_all(&mut c)
            .await
            .expect("rows")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appends_events_share_one_row_and_read_back_from_any_seq() {
    let fx = Fixture::new().await;
    let turn = vec![
        user_said("where is 1001 4111", 10),
        Event::SlotSet {
            name: "order_number".into(),
            value: "1001".into(),
        },
        Event::Verified {
            order_number: Some("1001".into()),
            email: None,
        },
        Event::BotSaid {
            text: "It is on its way.".into(),
            template: "order.status".into(),
            at: at(10),
            quick_replies: Vec::new(),
            order_card: None,
        },
    ];
    for (name, db) in &fx.dbs {
        db.create_conversation(&new_conversation("p"))
            .await
            .expect("creates");
        db.append_events("p", &[user_said("hello", 1)])
            .await
            .expect("one");
        assert_eq!(
            db.append_events("p", &turn).await.expect("turn"),
            5,
            "{name}"
        );
        // One row per append: the single event as before, the turn as a pack.
        assert_eq!(
            stored_rows(&fx, name, "p").await,
            [(1, None), (2, Some(5))],
            "{name}"
        );
        let mut all = vec![user_said("hello", 1)];
        all.extend(turn.iter().cloned());
        for after in 0..=6 {
            let got = db.events_after("p", after).await.expect("after");
            let want: Vec<(i64, Event)> = (1..)
                .zip(all.iter().cloned())
                .filter(|(s, _)| *s > after)
                .collect();
            assert_eq!(got, want, "{name}: after {after}");
        }
        // A shopper message inside a pack is rewritten in place; nothing
        // else in the pack changes; other events are not shopper messages.
        assert!(
            db.rewrite_user_text("p", 2, "where is 1001 [card]")
                .await
                .expect("rewrite"),
            "{name}"
        );
        assert!(
            !db.rewrite_user_text("p", 3, "x").await.expect("slot"),
            "{name}"
        );
        assert!(
            !db.rewrite_user_text("p", 9, "x").await.expect("none"),
            "{name}"
        );
        assert!(
            db.rewrite_user_text("p", 1, "hi").await.expect("single"),
            "{name}"
        );
        all[0] = user_said("hi", 1);
        all[1] = user_said("where is 1001 [card]", 10);
        assert_eq!(db.load_events("p").await.expect("load"), all, "{name}");
        assert_eq!(
            db.last_user_text("p").await.expect("last"),
            Some((2, "where is 1001 [card]".to_string())),
            "{name}"
        );
        assert_eq!(
            stored_rows(&fx, name, "p").await,
            [(1, None), (2, Some(5))],
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_keep_a_gapless_sequence() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        db.create_conversation(&new_conversation("busy"))
            .await
            .expect("creates");
        let mut tasks = Vec::new();
        for i in 0..20 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let batch: Vec<Event> = (0..5).map(|j| slot(i, j)).collect();
                db.append_events("busy", &batch).await
            }));
        }
        let mut lasts = BTreeSet::new();
        for t in tasks {
            let last = t
                .await
                .expect("joins")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            lasts.insert(last);
        }
        assert_eq!(
            lasts,
            (1..=20).map(|k| k * 5).collect(),
            "{name}: batches never overlap"
        );
        let stored = db.events_after("busy", 0).await.expect("load");
        let seqs: Vec<i64> = stored.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<i64>>(), "{name}");
        // Each batch is contiguous and in its own order.
        for chunk in stored.chunks(5) {
            let Event::SlotSet { name: task, .. } = &chunk[0].1 else {
                panic!("slot")
            };
            let i: usize = task.trim_start_matches("task").parse().expect("task index");
            let got: Vec<Event> = chunk.iter().map(|(_, e)| e.clone()).collect();
            assert_eq!(
                got,
                (0..5).map(|j| slot(i, j)).collect::<Vec<_>>(),
                "{name}"
            );
        }
    }
}

/// One writer per conversation: appends that carry the seq their state was
/// folded from (the fencing token) race, from two database handles (two
/// servers) at once; exactly one per token wins, the others are told where
/// the conversation is and write nothing; the log stays gapless.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_fenced_appends_let_exactly_one_writer_win() {
    let fx = Fixture::new().await;
    let second = Db::connect_with_key_file(&fx.pg_url, &fx.pg_key)
        .await
        .expect("a second server's handle");
    let sqlite_again = Db::connect(&fx.sqlite_url).await.expect("sqlite again");
    for ((name, db), other) in fx.dbs.iter().zip([sqlite_again, second]) {
        db.create_conversation(&new_conversation("fenced"))
            .await
            .expect("creates");
        let mut last = 0;
        for round in 0..5 {
            let mut tasks = Vec::new();
            for i in 0..12 {
                let db = if i % 2 == 0 {
                    db.clone()
                } else {
                    other.clone()
                };
                tasks.push(tokio::spawn(async move {
                    let events: Vec<Event> = (0..2).map(|j| slot(round * 100 + i, j)).collect();
                    db.append_events_after("fenced", &events, last).await
                }));
            }
            let mut won = Vec::new();
            for t in tasks {
                match t.await.expect("joins") {
                    Ok(l) => won.push(l),
                    Err(StoreDbError::Stale { last: at, .. }) => {
                        assert_eq!(at, last + 2, "{name}: told where it is")
                    }
                    Err(e) => panic!("{name}: {e}"),
                }
            }
            assert_eq!(won, [last + 2], "{name}: round {round}: exactly one writer");
            last += 2;
        }
        let seqs: Vec<i64> = db
            .events_after("fenced", 0)
            .await
            .expect("load")
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "{name}");
        // An old token after the fact writes nothing.
        let r = other.append_events_after("fenced", &[slot(9, 9)], 4).await;
        assert!(
            matches!(r, Err(StoreDbError::Stale { last: 10, .. })),
            "{name}: {r:?}"
        );
        let r = db.append_events_after("nope", &[slot(9, 9)], 0).await;
        assert!(
            matches!(r, Err(StoreDbError::ConversationNotFound(_))),
            "{name}: {r:?}"
        );
        // Unfenced appends still go through.
        assert_eq!(
            db.append_events("fenced", &[slot(9, 9)])
                .await
                .expect("append"),
            11
        );
    }
}

/// A turn's client message id is recorded in its append's transaction: a
/// second append with the same id (a retry through another server) writes
/// nothing, the id reads as pending with the turn's seqs until its response
/// is completed, and racing appends with one id let exactly one through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_turns_client_message_id_lands_with_its_events() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        db.create_conversation(&new_conversation("cm"))
            .await
            .expect("creates");
        let last = db
            .append_turn("cm", &[slot(1, 0), slot(1, 1)], 0, Some("m-1"))
            .await
            .expect("appends");
        assert_eq!(last, 2, "{name}");
        let r = db
            .recall_client_message("cm", "m-1")
            .await
            .expect("recall")
            .expect("recorded");
        assert_eq!(r.response, wismo_store::pending_response(1, 2), "{name}");
        let again = db.append_turn("cm", &[slot(1, 0)], 2, Some("m-1")).await;
        assert!(
            matches!(again, Err(StoreDbError::DuplicateClientMessage(_))),
            "{name}: {again:?}"
        );
        let done = serde_json::json!({"user_message": {"id": "1"}});
        db.complete_client_message("cm", "m-1", Some(1), &done)
            .await
            .expect("completes");
        let r = db
            .recall_client_message("cm", "m-1")
            .await
            .expect("recall")
            .expect("recorded");
        assert_eq!(r.response, done, "{name}");
        // Racing: one id, many appends at once, one gets through.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.append_turn("cm", &[slot(2, i)], 2, Some("m-2")).await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.expect("joins") {
                Ok(_) => ok += 1,
                Err(StoreDbError::DuplicateClientMessage(_) | StoreDbError::Stale { .. }) => {}
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(ok, 1, "{name}");
        assert_eq!(
            db.events_after("cm", 0).await.expect("load").len(),
            3,
            "{name}"
        );
    }
}

/// Appends that arrive together are written as one batch: each still gets
/// its own answer, an append to a missing conversation fails alone, and
/// every conversation's log stays gapless and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_written_together_keep_their_own_results() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        for c in 0..25 {
            db.create_conversation(&new_conversation(&format!("b{c}")))
                .await
                .expect("creates");
        }
        let mut tasks = Vec::new();
        for i in 0..150 {
            let db = db.clone();
            // Every 15th append is to a conversation that does not exist.
            let id = if i % 15 == 14 {
                format!("missing{i}")
            } else {
                format!("b{}", i % 25)
            };
            tasks.push(tokio::spawn(async move {
                let events: Vec<Event> = (0..(1 + i % 3)).map(|j| slot(i, j)).collect();
                (
                    id.clone(),
                    events.len(),
                    db.append_events(&id, &events).await,
                )
            }));
        }
        let mut appended = std::collections::BTreeMap::<String, usize>::new();
        for t in tasks {
            let (id, n, result) = t.await.expect("joins");
            if id.starts_with("missing") {
                assert!(
                    matches!(result, Err(StoreDbError::ConversationNotFound(_))),
                    "{name}: {id}: {result:?}"
                );
            } else {
                let last = result.unwrap_or_else(|e| panic!("{name}: {id}: {e}"));
                assert!(last >= n as i64, "{name}");
                *appended.entry(id).or_default() += n;
            }
        }
        for (id, n) in appended {
            let stored = db.events_after(&id, 0).await.expect("load");
            let seqs: Vec<i64> = stored.iter().map(|(s, _)| *s).collect();
            assert_eq!(seqs, (1..=n as i64).collect::<Vec<_>>(), "{name}: {id}");
            let row = db.conversation(&id).await.expect("row").expect("exists");
            assert_eq!(row.last_seq, n as i64, "{name}: {id}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_message_ids_make_retries_idempotent() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        db.create_conversation(&new_conversation("c1"))
            .await
            .expect("creates");
        db.create_conversation(&new_conversation("c2"))
            .await
            .expect("creates");
        let first = json!({"messages": [{"text": "Your order is on its way"}]});
        assert_eq!(
            db.recall_client_message("c1", "m-1").await.expect("recall"),
            None
        );
        assert_eq!(
            db.remember_client_message("c1", "m-1", Some(7), &first)
                .await
                .expect("stores"),
            None,
            "{name}"
        );
        // A retry that raced the first answer gets the first answer back.
        let second = json!({"messages": []});
        let kept = db
            .remember_client_message("c1", "m-1", Some(9), &second)
            .await
            .expect("keeps");
        let kept = kept.expect("already stored");
        assert_eq!((kept.seq, &kept.response), (Some(7), &first), "{name}");
        let recalled = db
            .recall_client_message("c1", "m-1")
            .await
            .expect("recall")
            .expect("stored");
        assert_eq!(
            (recalled.seq, recalled.response),
            (Some(7), first.clone()),
            "{name}"
        );
        // Same id in another conversation is another message.
        assert_eq!(
            db.remember_client_message("c2", "m-1", None, &second)
                .await
                .expect("stores"),
            None
        );
        assert!(
            db.remember_client_message("nope", "m-1", None, &second)
                .await
                .is_err(),
            "{name}: unknown conversation"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_looking_input_is_stored_and_found_verbatim() {
    let fx = Fixture::new().await;
    let mut v = demo_value();
    let mut order = v["orders"][47].clone();
    order["name"] = json!(format!("#{INJECTION}"));
    order["id"] = json!(1);
    order["customer"]["first_name"] = json!(INJECTION);
    order["line_items"][0]["title"] = json!(INJECTION);
    v["orders"] = json!([order]);
    for (name, db) in &fx.dbs {
        let r = db.import_shopify(&v.to_string()).await.expect("imports");
        assert_eq!(r.inserted, 1, "{name}");
        let o = db
            .find_order(INJECTION)
            .await
            .expect("find")
            .expect("found");
        assert_eq!(o.number, INJECTION, "{name}");
        assert_eq!(o.line_items[0].title, INJECTION);
        assert_eq!(
            o.customer.and_then(|c| c.first_name).as_deref(),
            Some(INJECTION)
        );
        let conv = new_conversation(INJECTION);
        db.create_conversation(&conv).await.expect("creates");
        let said = Event::SlotSet {
            name: INJECTION.into(),
            value: format!("{INJECTION} \" \\ 🦀 \u{202e}"),
        };
        db.append_events(INJECTION, std::slice::from_ref(&said))
            .await
            .expect("appends");
        assert_eq!(
            db.load_events(INJECTION).await.expect("loads"),
            vec![said],
            "{name}"
        );
        assert_eq!(
            db.order_numbers().await.expect("orders table still there"),
            vec![INJECTION.to_string()]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cancels_of_one_order_succeed_once() {
    let fx = Fixture::new().await;
    for (name, db) in &fx.dbs {
        db.load_demo_if_empty().await.expect("demo");
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.cancel_order("#1052", "", Utc::now()).await
            }));
        }
        let mut done = Vec::new();
        let mut refusals = BTreeSet::new();
        for t in tasks {
            match t.await.expect("joins") {
                Ok(o) => done.push(o),
                Err(StoreError::NotAllowed(m)) => {
                    refusals.insert(m);
                }
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(done.len(), 1, "{name}: {refusals:?}");
        assert_eq!(
            refusals.len(),
            1,
            "{name}: one message for all: {refusals:?}"
        );
        let msg = refusals.into_iter().next().unwrap_or_default();
        assert!(
            msg.starts_with("order #1052 was already cancelled on "),
            "{name}: {msg}"
        );
        // What the action returned (with a sub-microsecond clock) is what is stored.
        let stored = db.find_order("1052").await.expect("find");
        assert_eq!(stored.as_ref(), done.first(), "{name}");
        assert_eq!(
            stored.map(|o| o.refunds.len()),
            Some(1),
            "{name}: refunded once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_text_never_breaks_a_dialect() {
    let fx = Fixture::new().await;
    let nasty = [
        "\0",
        "10\u{0}42",
        "🦀🦀",
        "e\u{301}\u{301}",
        "\u{202e}1042",
        "\u{7}\u{1b}[31m",
        "",
    ];
    let huge = "x".repeat(100_000);
    for (name, db) in &fx.dbs {
        db.load_demo_if_empty().await.expect("demo");
        let mem = demo();
        for typed in nasty.iter().copied().chain([huge.as_str()]) {
            assert_eq!(
                db.find_order(typed).await,
                mem.find_order(typed),
                "{name}: {typed:?}"
            );
            assert_eq!(
                db.orders_by_email(typed).await,
                Ok(vec![]),
                "{name}: {typed:?}"
            );
            assert_eq!(
                db.orders_by_customer(typed).await,
                Ok(vec![]),
                "{name}: {typed:?}"
            );
            assert_eq!(
                db.cancel_order(typed, typed, at(0)).await,
                mem.cancel_order(typed, typed, at(0)),
                "{name}: {typed:?}"
            );
            let r = db.open_case(Some(typed), typed, typed, at(0)).await;
            assert_eq!(
                r,
                mem.open_case(Some(typed), typed, typed, at(0)),
                "{name}: {typed:?}"
            );
            assert_eq!(db.conversation(typed).await.expect("reads"), None);
            assert_eq!(
                db.recall_client_message(typed, typed).await.expect("reads"),
                None
            );
        }
        // Stored text with NUL: U+FFFD in its place.
        let o = db
            .cancel_order("1053", "no\0thanks", at(1))
            .await
            .expect("cancels");
        assert_eq!(
            o.cancel_reason.as_deref(),
            Some("no\u{FFFD}thanks"),
            "{name}"
        );
        let case = db
            .open_case(None, "k\0", "d\0", at(2))
            .await
            .expect("opens");
        assert_eq!(
            (case.kind.as_str(), case.description.as_str()),
            ("k\u{FFFD}", "d\u{FFFD}")
        );
        // Events keep every character (JSON escapes them).
        db.create_conversation(&new_conversation("c1"))
            .await
            .expect("creates");
        let events: Vec<Event> = nasty
            .iter()
            .chain([&huge.as_str()])
            .map(|t| Event::SlotSet {
                name: (*t).to_string(),
                value: format!("{t}\u{0}"),
            })
            .collect();
        db.append_events("c1", &events).await.expect("appends");
        assert_eq!(db.load_events("c1").await.expect("loads"), events, "{name}");
        assert!(matches!(
            db.create_conversation(&new_conversation("c\0")).await,
            Err(StoreDbError::InvalidText(_))
        ));
        assert!(matches!(
            db.remember_client_message("c1", "m\0", None, &json!({}))
                .await,
            Err(StoreDbError::InvalidText(_))
        ));
        let weird = json!({"text": "a\u{0}b", "emoji": "🦀"});
        db.remember_client_message("c1", "m1", None, &weird)
            .await
            .expect("stores");
        let got = db
            .recall_client_message("c1", "m1")
            .await
            .expect("reads")
            .expect("stored");
        assert_eq!(got.response, weird, "{name}");
    }
}
