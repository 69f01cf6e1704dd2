//! The store workspace, live: reload through the API and from a file
//! change (the bot's answer changes), a broken workspace refused whole with
//! `file:line` errors while the old one keeps answering, two servers on one
//! database converging on a published version, turns in flight during
//! reloads, the widget's look from store.toml, and the console's preview and
//! publish for supervisors (agents get 403).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{
    replies, sign_up_agent, spawn_app_with, token_of, AgentSpec, Backend, TestApp, ADMIN_TOKEN,
};
use serde_json::{json, Value};

const QUESTION: &str = "How much does express shipping cost?";

fn shipping_page(price: &str) -> String {
    format!(
        "# Shipping\n\n## Shipping costs\nExpress shipping costs {price} and arrives in 2 business days. \
         Standard shipping costs $3.10 and arrives in 6 business days.\n\n\
         ## Returns\nYou can return anything within 45 days for a full refund.\n"
    )
}

fn workspace(price: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wismo-store-ws-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(dir.join("knowledge/en")).expect("mkdir");
    std::fs::write(dir.join("knowledge/en/shipping.md"), shipping_page(price)).expect("write");
    std::fs::write(
        dir.join("store.toml"),
        "name = \"Acme Outdoor\"\nlanguages = [\"en\"]\n\n[widget]\ntitle = \"Acme help\"\n\
         greeting = \"Hello from Acme!\"\nposition = \"bottom-left\"\nquick_replies = [\"Where is my order?\"]\n\n\
         [widget.colours]\nprimary = \"#aa3300\"\n",
    )
    .expect("write");
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ N.fetch_add(1, Ordering::SeqCst)
}

async fn ask(app: &TestApp, text: &str) -> String {
    let conv = app.create().await;
    replies(&app.say(&conv, text).await)
}

async fn admin_post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    app.post_json(ADMIN_TOKEN, path, body).await
}

async fn wait_for_answer(app: &TestApp, needle: &str, within: Duration) -> String {
    let started = Instant::now();
    loop {
        let a = ask(app, QUESTION).await;
        if a.contains(needle) || started.elapsed() > within {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn spawn_with_store(dir: &Path, extra: &[(&str, &str)]) -> TestApp {
    let d = dir.display().to_string();
    let mut settings = vec![("store_dir", d.as_str()), ("store_poll", "250ms")];
    settings.extend_from_slice(extra);
    spawn_app_with(Backend::Sqlite, &settings).await
}

#[tokio::test]
async fn reload_through_the_api_and_from_a_file_change() {
    let dir = workspace("$12.34");
    let app = spawn_with_store(&dir, &[]).await;
    assert!(ask(&app, QUESTION).await.contains("12.34"));
    let (s, first) = app.admin_get("/v1/admin/store").await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["active"]["id"], 1, "{first}");
    assert_eq!(first["loaded"]["version"], 1, "{first}");
    assert_eq!(first["active"]["languages"], json!(["en"]));

    // Through the endpoint.
    std::fs::write(
        dir.join("knowledge/en/shipping.md"),
        shipping_page("$23.45"),
    )
    .expect("write");
    let (s, r) = admin_post(&app, "/v1/admin/store/reload", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["new"], true, "{r}");
    assert_eq!(r["retrained"], false, "only knowledge changed: {r}");
    assert_eq!(r["changes"], json!(["~knowledge/en/shipping.md"]));
    assert!(ask(&app, QUESTION).await.contains("23.45"));

    // From the file watcher alone.
    std::fs::write(
        dir.join("knowledge/en/shipping.md"),
        shipping_page("$34.56"),
    )
    .expect("write");
    let a = wait_for_answer(&app, "34.56", Duration::from_secs(10)).await;
    assert!(
        a.contains("34.56"),
        "the file change was not picked up: {a}"
    );

    let (_, st) = app.admin_get("/v1/admin/store").await;
    assert_eq!(st["active"]["id"], 3, "{st}");
    assert_eq!(st["active"]["created_by"], "files", "{st}");
    let (_, list) = app.admin_get("/v1/admin/store/versions").await;
    let ids: Vec<i64> = list["versions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v["id"].as_i64())
        .collect();
    assert_eq!(ids, [3, 2, 1]);
    assert_eq!(list["versions"][1]["created_by"], "admin");
    // Each version is in the audit trail.
    let audit = app
        .state
        .sessions
        .db
        .audit_entries(0, 1000)
        .await
        .expect("audit");
    let published: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "store.publish")
        .map(|e| e.target.clone().unwrap_or_default())
        .collect();
    assert!(
        published.contains(&"store_version:2".to_string())
            && published.contains(&"store_version:3".to_string()),
        "{published:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_broken_workspace_is_refused_and_the_old_one_keeps_answering() {
    let dir = workspace("$12.34");
    let app = spawn_with_store(&dir, &[]).await;
    std::fs::write(
        dir.join("knowledge/en/shipping.md"),
        shipping_page("$99.99"),
    )
    .expect("write");
    std::fs::write(
        dir.join("store.toml"),
        "name = \"Acme\"\nlanguages = [\"en\"\n",
    )
    .expect("write");
    let (s, r) = admin_post(&app, "/v1/admin/store/reload", json!({})).await;
    assert_eq!(s, 422, "{r}");
    assert_eq!(r["code"], "workspace_invalid", "{r}");
    let errors = r["errors"].as_array().expect("errors");
    assert!(!errors.is_empty());
    assert!(
        errors.iter().all(|e| e["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("store.toml:"))),
        "{r}"
    );
    assert!(errors[0]["line"].as_u64().is_some_and(|l| l >= 1), "{r}");
    // Nothing changed: the old version answers, and stays active.
    let a = ask(&app, QUESTION).await;
    assert!(a.contains("12.34") && !a.contains("99.99"), "{a}");
    let (_, st) = app.admin_get("/v1/admin/store").await;
    assert_eq!(st["active"]["id"], 1, "{st}");
    // The watcher also saw the change and refused it.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(ask(&app, QUESTION).await.contains("12.34"));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn two_servers_converge(backend: Backend) {
    let a = spawn_app_with(backend, &[("store_poll", "250ms")]).await;
    let b = spawn_app_with(
        backend,
        &[
            ("store_poll", "250ms"),
            ("database_url", a.database_url.as_str()),
        ],
    )
    .await;
    let (_, sa) = a.admin_get("/v1/admin/store").await;
    let (_, sb) = b.admin_get("/v1/admin/store").await;
    assert_eq!(sa["active"]["id"], 1, "{sa}");
    assert_eq!(
        sb["loaded"]["version"], 1,
        "the second server found the version: {sb}"
    );
    let (s, r) = admin_post(
        &a,
        "/v1/admin/store/publish",
        json!({"files": {"knowledge/en/shipping.md": shipping_page("$45.67")}, "message": "new prices"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["version"], 2, "{r}");
    let answer = wait_for_answer(&b, "45.67", Duration::from_secs(10)).await;
    assert!(
        answer.contains("45.67"),
        "{backend:?}: B did not converge: {answer}"
    );
    let (_, sb) = b.admin_get("/v1/admin/store").await;
    assert_eq!(sb["loaded"]["version"], 2, "{sb}");
    assert_eq!(sb["active"]["message"], "new prices");
}

#[tokio::test]
async fn two_servers_on_one_sqlite_database_converge() {
    two_servers_converge(Backend::Sqlite).await;
}

#[tokio::test]
async fn two_servers_on_one_postgres_database_converge() {
    two_servers_converge(Backend::Postgres).await;
}

#[tokio::test]
async fn turns_in_flight_during_reloads_get_whole_answers() {
    let dir = workspace("$12.34");
    let app = spawn_with_store(&dir, &[("rate_limit_ip", "off")]).await;
    let shoppers: Vec<_> = (0..8)
        .map(|_| {
            let client = app.client.clone();
            let base = app.base.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for _ in 0..6 {
                    let c: Value = client
                        .post(format!("{base}/v1/conversations"))
                        .json(&json!({}))
                        .send()
                        .await
                        .expect("create")
                        .json()
                        .await
                        .expect("json");
                    let res = client
                        .post(format!(
                            "{base}/v1/conversations/{}/messages",
                            c["id"].as_str().unwrap_or("")
                        ))
                        .bearer_auth(c["token"].as_str().unwrap_or(""))
                        .json(&json!({"text": QUESTION}))
                        .send()
                        .await
                        .expect("send");
                    let status = res.status().as_u16();
                    answers.push((status, replies(&res.json().await.unwrap_or(Value::Null))));
                }
                answers
            })
        })
        .collect();
    for (i, price) in ["$23.45", "$12.34", "$23.45"].iter().enumerate() {
        let (s, r) = admin_post(
            &app,
            "/v1/admin/store/publish",
            json!({"files": {"knowledge/en/shipping.md": shipping_page(price)}, "message": format!("round {i}")}),
        )
        .await;
        assert_eq!(s, 200, "{r}");
    }
    for s in shoppers {
        for (status, answer) in s.await.expect("shopper") {
            assert_eq!(status, 200, "{answer}");
            assert!(
                answer.contains("12.34") || answer.contains("23.45"),
                "an answer from neither version: {answer}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_widget_takes_its_look_from_store_toml() {
    let dir = workspace("$12.34");
    let app = spawn_with_store(&dir, &[]).await;
    let res = app
        .client
        .get(app.url("/v1/widget/config"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("an ETag");
    let w: Value = res.json().await.expect("json");
    assert_eq!(w["title"], "Acme help", "{w}");
    assert_eq!(w["greeting"]["en"], "Hello from Acme!", "{w}");
    assert_eq!(w["position"], "bottom-left");
    assert_eq!(w["colours"]["primary"], "#aa3300");
    assert_eq!(w["languages"], json!(["en"]));
    assert_eq!(
        w["quick_replies"]["en"],
        json!(["Where is my order?"]),
        "{w}"
    );
    // The greeting and the store's buttons are the bot's opening message.
    let conv = app.create().await;
    assert_eq!(
        conv.greeting[0]["text"], "Hello from Acme!",
        "{:?}",
        conv.greeting
    );
    assert_eq!(
        conv.greeting[0]["quick_replies"],
        json!(["Where is my order?"]),
        "{:?}",
        conv.greeting
    );
    let again = app
        .client
        .get(app.url("/v1/widget/config"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), 304);
    // A new title is a new version and a new ETag.
    let toml = std::fs::read_to_string(dir.join("store.toml"))
        .expect("read")
        .replace("Acme help", "Acme support");
    std::fs::write(dir.join("store.toml"), toml).expect("write");
    let (s, r) = admin_post(&app, "/v1/admin/store/reload", json!({})).await;
    assert_eq!(s, 200, "{r}");
    let res = app
        .client
        .get(app.url("/v1/widget/config"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let w: Value = res.json().await.expect("json");
    assert_eq!(w["title"], "Acme support");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn supervisors_preview_and_publish_agents_may_not() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let spec = |id: &'static str, email: &'static str, role: &'static str| AgentSpec {
        id,
        email,
        name: id,
        role,
        max_chats: 5,
        languages: &[],
    };
    let sup = token_of(
        &sign_up_agent(&app, spec("sup", "sup@example.com", "supervisor"))
            .await
            .1,
    );
    let agent = token_of(
        &sign_up_agent(&app, spec("ag", "ag@example.com", "agent"))
            .await
            .1,
    );
    let draft = json!({"knowledge/en/shipping.md": shipping_page("$56.78")});
    let before = ask(&app, QUESTION).await;
    assert!(!before.contains("56.78"));

    for (path, body) in [
        (
            "/v1/admin/store/preview",
            json!({"files": draft, "question": QUESTION}),
        ),
        ("/v1/admin/store/publish", json!({"files": draft})),
    ] {
        let res = app
            .client
            .post(app.url(path))
            .bearer_auth(&agent)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 403, "{path}");
    }
    let res = app
        .client
        .get(app.url("/v1/admin/store/files"))
        .bearer_auth(&agent)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 403);

    let files: Value = app
        .client
        .get(app.url("/v1/admin/store/files"))
        .bearer_auth(&sup)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(files["defaults"]["store.toml"].is_string(), "{files}");

    // Preview: the draft answers; nothing is published.
    let p: Value = app
        .client
        .post(app.url("/v1/admin/store/preview"))
        .bearer_auth(&sup)
        .json(&json!({"files": draft, "question": QUESTION, "locale": "en"}))
        .send()
        .await
        .expect("preview")
        .json()
        .await
        .expect("json");
    assert!(replies(&p).contains("56.78"), "{p}");
    assert!(!ask(&app, QUESTION).await.contains("56.78"));

    // A broken draft: 422 with the file and line.
    let res = app
        .client
        .post(app.url("/v1/admin/store/publish"))
        .bearer_auth(&sup)
        .json(&json!({"files": {"store.toml": "languages = [\"en\"\n"}}))
        .send()
        .await
        .expect("publish");
    assert_eq!(res.status(), 422);
    let r: Value = res.json().await.expect("json");
    assert!(
        r["errors"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("store.toml:")),
        "{r}"
    );

    let res = app
        .client
        .post(app.url("/v1/admin/store/publish"))
        .bearer_auth(&sup)
        .json(&json!({"files": draft, "message": "summer prices"}))
        .send()
        .await
        .expect("publish");
    assert_eq!(res.status(), 200);
    assert!(ask(&app, QUESTION).await.contains("56.78"));
    let (_, st) = app.admin_get("/v1/admin/store").await;
    assert_eq!(st["active"]["created_by"], "sup", "{st}");
    assert_eq!(st["active"]["created_by_kind"], "agent", "{st}");
}

/// With `store_dir` set, a console publish is written into the folder, so
/// a later edit of a file builds on it instead of undoing it.
#[tokio::test]
async fn console_edits_are_written_into_the_store_folder() {
    let dir = workspace("$12.34");
    let app = spawn_with_store(&dir, &[]).await;
    let sup = token_of(
        &sign_up_agent(
            &app,
            AgentSpec {
                id: "sup",
                email: "sup@example.com",
                name: "sup",
                role: "supervisor",
                max_chats: 5,
                languages: &[],
            },
        )
        .await
        .1,
    );
    let draft = json!({"knowledge/en/shipping.md": shipping_page("$56.78")});
    let res = app
        .client
        .post(app.url("/v1/admin/store/publish"))
        .bearer_auth(&sup)
        .json(&json!({"files": draft, "message": "new prices"}))
        .send()
        .await
        .expect("publish");
    assert_eq!(res.status(), 200);
    let on_disk = std::fs::read_to_string(dir.join("knowledge/en/shipping.md")).expect("read");
    assert!(on_disk.contains("$56.78"), "{on_disk}");
    assert!(ask(&app, QUESTION).await.contains("56.78"));
    // The folder's own edit now keeps the console's prices.
    let toml = std::fs::read_to_string(dir.join("store.toml"))
        .expect("read")
        .replace("Acme help", "Acme support");
    std::fs::write(dir.join("store.toml"), toml).expect("write");
    let started = Instant::now();
    loop {
        let w: Value = app
            .client
            .get(app.url("/v1/widget/config"))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if w["title"] == "Acme support" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{w}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ask(&app, QUESTION).await.contains("56.78"));
    let _ = std::fs::remove_dir_all(&dir);
}
