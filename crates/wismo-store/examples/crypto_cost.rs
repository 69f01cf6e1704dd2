//! What encryption at rest costs: one value sealed and opened, the demo
//! store imported, and a stored turn. `cargo run -p wismo-store --example
//! crypto_cost` (see BENCHMARKS.md).

use std::time::Instant;

use wismo_core::dialogue::Event;
use wismo_store::{Db, Keyring, NewConversation};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = Keyring::ephemeral()?;
    let event = serde_json::to_string(&Event::UserSaid {
        text: "hi, where is my order #1001? it should have arrived last week".into(),
        at: chrono::Utc::now(),
        intent: "track_order".into(),
        confidence: 0.93,
        sentiment: -0.2,
        understood: true,
    })?;
    let n = 100_000;
    let t = Instant::now();
    for _ in 0..n {
        let s = keys.seal("conversation_events.event", &event)?;
        std::hint::black_box(keys.open("conversation_events.event", &s)?);
    }
    let per_value = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let t = Instant::now();
    for i in 0..n {
        std::hint::black_box(keys.email_hash(&format!("shopper{i}@example.com")));
    }
    let per_hash = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "seal + open of a {}-byte event: {per_value:.2} µs; email hash: {per_hash:.2} µs",
        event.len()
    );

    let dir = std::env::temp_dir().join(format!("wismo-crypto-cost-{}", std::process::id()));
    let mut imports = Vec::new();
    for i in 0..10 {
        let db = Db::connect(&format!("sqlite://{}/{i}/wismo.db?mode=rwc", dir.display())).await?;
        let t = Instant::now();
        db.load_demo_if_empty().await?;
        imports.push(t.elapsed().as_secs_f64() * 1e3);
        if i == 0 {
            let values: u64 = db.data_key_usage().await?.iter().map(|u| u.values).sum();
            println!("demo store: {values} encrypted values");
        }
        db.close().await;
    }
    imports.sort_by(f64::total_cmp);
    println!(
        "import of the demo store (53 orders, SQLite file): median {:.1} ms",
        imports[5]
    );

    let db = Db::connect(&format!(
        "sqlite://{}/turns/wismo.db?mode=rwc",
        dir.display()
    ))
    .await?;
    db.create_conversation(&NewConversation {
        id: "c".into(),
        token_hash: "h".into(),
        locale: None,
        channel: "web".into(),
        metadata: serde_json::json!({}),
        customer: None,
        created_at: chrono::Utc::now(),
    })
    .await?;
    let ev: Event = serde_json::from_str(&event)?;
    let turns = 2000;
    let t = Instant::now();
    for _ in 0..turns {
        db.append_events("c", &[ev.clone(), ev.clone()]).await?;
    }
    let per_turn = t.elapsed().as_secs_f64() * 1e6 / f64::from(turns);
    println!("a stored turn (2 events, one after another): {per_turn:.0} µs");
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
