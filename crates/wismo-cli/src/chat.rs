//! `wismo chat`: a terminal conversation with the assistant.

use crate::nlu_cmd::{entity_config, model_from, EntityArgs, ModelSource};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wismo_core::dialogue::{BotMessage, Conversation, Engine, EngineConfig, SignedIn};
use wismo_core::knowledge::KnowledgeBase;
use wismo_core::nlu::Nlu;
use wismo_core::store::memory::InMemoryStore;
use wismo_core::workspace::Workspace;

#[derive(Args)]
pub struct ChatArgs {
    /// Orders to serve, Shopify Admin REST order JSON (`{"orders": [...]}`); default: the demo store.
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Folder of Markdown knowledge articles; default: the built-in articles.
    #[arg(long)]
    pub knowledge: Option<PathBuf>,
    /// Reply language (en, es); default: detected from the shopper's messages.
    #[arg(long)]
    pub locale: Option<String>,
    /// Fix the clock (RFC 3339); default: now (the demo store's dates follow it).
    #[arg(long)]
    pub now: Option<String>,
    /// The shopper's time zone (IANA name).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Act as a signed-in customer with this email.
    #[arg(long)]
    pub customer: Option<String>,
    /// A store workspace folder (see `wismo init`): its profile, knowledge,
    /// flows, templates, training data and catalogue; `orders.json` in it
    /// when there is one.
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Show intent, confidence, entities, sentiment and slots after each turn.
    #[arg(long)]
    pub debug: bool,
    #[command(flatten)]
    pub design: DesignArgs,
    #[command(flatten)]
    pub source: ModelSource,
    #[command(flatten)]
    pub entities: EntityArgs,
}

pub fn parse_now(now: Option<&str>) -> Result<DateTime<Utc>> {
    match now {
        Some(s) => Ok(DateTime::parse_from_rfc3339(s)
            .with_context(|| {
                format!("--now {s:?} is not an RFC 3339 time such as 2026-11-24T15:00:00Z")
            })?
            .with_timezone(&Utc)),
        // The demo store's dates follow the clock (`InMemoryStore::demo_at`),
        // so the real time tells the demo's story truthfully.
        None => Ok(Utc::now()),
    }
}

/// A store's own conversation design: flows and response templates.
#[derive(Args, Clone, Default)]
pub struct DesignArgs {
    /// Flow definitions (YAML) replacing the built-in ones.
    #[arg(long)]
    pub flows: Option<PathBuf>,
    /// Folder of response templates, one `<locale>.yml` per language; each
    /// file's templates replace the built-in ones with the same id.
    #[arg(long)]
    pub templates: Option<PathBuf>,
}

pub fn build_engine(
    orders: Option<&PathBuf>,
    knowledge: Option<&PathBuf>,
    tz: &str,
    nlu: Nlu,
    now: DateTime<Utc>,
) -> Result<Engine> {
    build_engine_with(orders, knowledge, tz, nlu, &DesignArgs::default(), now)
}

pub fn build_engine_with(
    orders: Option<&PathBuf>,
    knowledge: Option<&PathBuf>,
    tz: &str,
    nlu: Nlu,
    design: &DesignArgs,
    now: DateTime<Utc>,
) -> Result<Engine> {
    let store = orders_at(orders, now)?;
    let knowledge = match knowledge {
        Some(d) => KnowledgeBase::from_dir(d)?,
        None => KnowledgeBase::builtin(),
    };
    let tz: chrono_tz::Tz = parse_tz(tz)?;
    let config = EngineConfig {
        tz,
        ..EngineConfig::default()
    };
    if design.flows.is_none() && design.templates.is_none() {
        return Ok(Engine::new(nlu, knowledge, Arc::new(store), config)?);
    }
    build_designed(nlu, knowledge, store, config, design)
}

fn parse_tz(tz: &str) -> Result<chrono_tz::Tz> {
    tz.parse().map_err(|_| {
        anyhow::anyhow!("unknown time zone {tz:?} (use an IANA name such as Europe/Berlin)")
    })
}

/// The orders in a Shopify JSON file, or the demo store's at `now`.
fn orders_at(orders: Option<&PathBuf>, now: DateTime<Utc>) -> Result<InMemoryStore> {
    Ok(match orders {
        Some(p) => {
            let src = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            InMemoryStore::from_shopify_json(&src, &p.display().to_string())?
        }
        None => InMemoryStore::demo_at(now).context("the demo store does not load")?,
    })
}

/// An engine over a store workspace. `orders`: a Shopify JSON file (else
/// the workspace folder's `orders.json`, else the demo store);
/// `knowledge` and `tz` override the workspace's.
pub fn build_store_engine(
    ws: &Workspace,
    dir: &Path,
    nlu: Nlu,
    orders: Option<&PathBuf>,
    knowledge: Option<&PathBuf>,
    tz: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Engine> {
    let own = dir.join("orders.json");
    let orders = orders.cloned().or_else(|| own.is_file().then_some(own));
    let store = orders_at(orders.as_ref(), now)?;
    let mut config = ws.engine_config(EngineConfig::default());
    if let Some(tz) = tz {
        config.tz = parse_tz(tz)?;
    }
    let knowledge = match knowledge {
        Some(d) => KnowledgeBase::from_dir(d)?,
        None => ws.knowledge().clone(),
    };
    Ok(Engine::with(
        nlu,
        ws.flows().clone(),
        ws.templates().clone(),
        knowledge,
        Arc::new(store),
        config,
    )?)
}

fn build_designed(
    nlu: Nlu,
    knowledge: KnowledgeBase,
    store: InMemoryStore,
    config: EngineConfig,
    design: &DesignArgs,
) -> Result<Engine> {
    use wismo_core::dialogue::{
        flows::Flows, templates::Templates, DEFAULT_FLOWS, DEFAULT_TEMPLATES,
    };
    let flows = match &design.flows {
        Some(p) => {
            let src = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Flows::parse(&src, &p.display().to_string())?
        }
        None => Flows::parse(DEFAULT_FLOWS, "<built-in>/flows.yml")?,
    };
    let mut templates = Templates::default();
    for (locale, src) in DEFAULT_TEMPLATES {
        templates.add_locale(locale, src, &format!("<built-in>/templates/{locale}.yml"))?;
    }
    wismo_core::workspace::apply_store_values(
        &mut templates,
        &wismo_core::workspace::builtin_profile(),
    );
    if let Some(dir) = &design.templates {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read folder {}", dir.display()))?;
        for e in entries {
            let path = e
                .with_context(|| format!("cannot read folder {}", dir.display()))?
                .path();
            if path.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                let locale = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("en")
                    .to_string();
                let src = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                templates.add_locale(&locale, &src, &path.display().to_string())?;
            }
        }
    }
    Ok(Engine::with(
        nlu,
        flows,
        templates,
        knowledge,
        Arc::new(store),
        config,
    )?)
}

fn print_messages(messages: &[BotMessage]) {
    for m in messages {
        crate::say(format!("bot> {}", m.text));
        if let Some(card) = &m.order_card {
            crate::say(format!(
                "     [order #{} · {} · {}{}]",
                card.order_number,
                card.state.replace('_', " "),
                card.items.join(", "),
                card.tracking_number
                    .as_deref()
                    .map(|t| format!(" · {t}"))
                    .unwrap_or_default()
            ));
        }
        if !m.quick_replies.is_empty() {
            crate::say(format!("     [{}]", m.quick_replies.join("] [")));
        }
    }
}

pub fn run(a: &ChatArgs) -> Result<()> {
    let now = parse_now(a.now.as_deref())?;
    let engine = match &a.store {
        Some(dir) => {
            let ws = crate::workspace_cmd::load(dir)?;
            let model = store_model(&a.source, &ws, &mut HashMap::new())?;
            let nlu = Nlu::new(model, &ws.entity_config())?;
            let tz = (a.tz != "UTC").then_some(a.tz.as_str());
            build_store_engine(
                &ws,
                dir,
                nlu,
                a.orders.as_ref(),
                a.knowledge.as_ref(),
                tz,
                now,
            )?
        }
        None => {
            let nlu = Nlu::new(model_from(&a.source)?, &entity_config(&a.entities)?)?;
            build_engine_with(
                a.orders.as_ref(),
                a.knowledge.as_ref(),
                &a.tz,
                nlu,
                &a.design,
                now,
            )?
        }
    };
    let mut conv = Conversation {
        id: "terminal".into(),
        locale: a.locale.clone(),
        customer: a.customer.as_ref().map(|m| SignedIn {
            customer_id: None,
            email: Some(m.to_lowercase()),
        }),
        events: Vec::new(),
        state: Default::default(),
    };
    let tty = std::io::stdin().is_terminal();
    print_messages(&engine.greet(&mut conv, now));
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if tty {
            eprint!("you> ");
            let _ = std::io::stderr().flush();
        }
        let Some(line) = lines.next() else { break };
        let line = line.context("cannot read standard input")?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if matches!(text, "/quit" | "/exit") {
            break;
        }
        if !tty {
            crate::say(format!("you> {text}"));
        }
        let out = engine.turn(&mut conv, text, now);
        print_messages(&out.messages);
        if a.debug {
            let ents: Vec<String> = out
                .nlu
                .entities
                .iter()
                .map(|e| {
                    format!(
                        "{}={}",
                        e.kind,
                        serde_json::to_string(&e.value).unwrap_or_default()
                    )
                })
                .collect();
            crate::say(format!(
                "     · intent {} ({:.2}) · entities [{}] · sentiment {:.2} {:?} · slots {:?} · verified {:?}{}",
                out.nlu.intent.name,
                out.nlu.intent.confidence,
                ents.join(", "),
                out.nlu.sentiment.score,
                out.nlu.sentiment.label,
                out.state.slots,
                out.state.verified_orders,
                out.handoff.as_deref().map(|r| format!(" · hand-off: {r}")).unwrap_or_default()
            ));
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct TestArgs {
    /// Conversation-test files (YAML); none runs the conversations shipped with wismo.
    pub files: Vec<PathBuf>,
    /// Print the transcript of every conversation, not only of failures.
    #[arg(long)]
    pub verbose: bool,
    /// The shoppers' time zone (IANA name); default: the script's store's, else UTC.
    #[arg(long)]
    pub tz: Option<String>,
    /// A store workspace folder for scripts without a `store:` key (see
    /// `wismo init`); `store:` in a script names one relative to the script.
    #[arg(long)]
    pub store: Option<PathBuf>,
    #[command(flatten)]
    pub design: DesignArgs,
    #[command(flatten)]
    pub source: ModelSource,
    #[command(flatten)]
    pub entities: EntityArgs,
}

impl TestArgs {
    /// `wismo test --store DIR FILES` (used by `wismo check`).
    pub fn for_store(dir: &Path, files: Vec<PathBuf>) -> Self {
        TestArgs {
            files,
            verbose: false,
            tz: None,
            store: Some(dir.to_path_buf()),
            design: DesignArgs::default(),
            source: ModelSource {
                model: None,
                data: Vec::new(),
            },
            entities: EntityArgs::default(),
        }
    }
}

/// The model for a workspace: `--model`/`--data` when given, else trained
/// on the workspace's training data (once per distinct data).
fn store_model(
    source: &ModelSource,
    ws: &Workspace,
    cache: &mut HashMap<String, wismo_core::nlu::model::NluModel>,
) -> Result<wismo_core::nlu::model::NluModel> {
    if source.model.is_some() || !source.data.is_empty() {
        return model_from(source);
    }
    let key = ws.files().training_hash();
    crate::workspace_cmd::train_cached(cache, &key, &ws.training_data())
}

/// `wismo test`: runs conversation scripts; Ok(false) when any failed.
pub fn test(a: &TestArgs) -> Result<bool> {
    use wismo_core::dialogue::script;
    let mut models = HashMap::new();
    let mut workspaces: HashMap<PathBuf, Workspace> = HashMap::new();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut sources: Vec<(PathBuf, String)> = Vec::new();
    if a.files.is_empty() {
        for (name, src) in script::SHIPPED {
            sources.push((
                PathBuf::from(format!("<built-in>/{name}")),
                (*src).to_string(),
            ));
        }
    }
    for file in &a.files {
        let src = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        sources.push((file.clone(), src));
    }
    for (file, src) in &sources {
        let s = script::parse(src, &file.display().to_string())?;
        let base = file.parent().map(PathBuf::from).unwrap_or_default();
        let dir = match &s.store {
            Some(p) => Some(base.join(p)),
            None => a.store.clone(),
        };
        let orders = s.orders.as_ref().map(|p| base.join(p));
        let knowledge = s.knowledge.as_ref().map(|p| base.join(p));
        let now_for = |has_orders: bool| {
            s.now.unwrap_or_else(|| {
                if has_orders {
                    Utc::now()
                } else {
                    wismo_core::store::memory::demo_now()
                }
            })
        };
        let (engine, now) = match dir {
            Some(dir) => {
                if !workspaces.contains_key(&dir) {
                    let ws = crate::workspace_cmd::load(&dir)?;
                    workspaces.insert(dir.clone(), ws);
                }
                let Some(ws) = workspaces.get(&dir) else {
                    anyhow::bail!("the store workspace {} did not load", dir.display());
                };
                let model = store_model(&a.source, ws, &mut models)?;
                let mut entities = ws.entity_config();
                // The store's order-number shape: candidates of another
                // shape are not order numbers (a flag, `--order-format`, wins).
                entities.order_number_format = a
                    .entities
                    .order_format
                    .clone()
                    .or_else(|| ws.profile().order_number.pattern.clone());
                entities.order_number_patterns = a.entities.order_patterns.clone();
                let nlu = Nlu::new(model, &entities)?;
                let has_orders = orders.is_some() || dir.join("orders.json").is_file();
                let now = now_for(has_orders);
                let engine = build_store_engine(
                    ws,
                    &dir,
                    nlu,
                    orders.as_ref(),
                    knowledge.as_ref(),
                    a.tz.as_deref(),
                    now,
                )?;
                (engine, now)
            }
            None => {
                let model = match models.get("<default>") {
                    Some(m) => m.clone(),
                    None => {
                        let m = model_from(&a.source)?;
                        models.insert("<default>".into(), m.clone());
                        m
                    }
                };
                let nlu = Nlu::new(model, &entity_config(&a.entities)?)?;
                let now = now_for(orders.is_some());
                let tz = a.tz.clone().unwrap_or_else(|| "UTC".into());
                let engine = build_engine_with(
                    orders.as_ref(),
                    knowledge.as_ref(),
                    &tz,
                    nlu,
                    &a.design,
                    now,
                )?;
                (engine, now)
            }
        };
        for c in &s.conversations {
            let out = script::run(&engine, c, now);
            if out.passed() {
                passed += 1;
                crate::say(format!("PASS {} ({}:{})", out.name, file.display(), c.line));
            } else {
                failed += 1;
                crate::say(format!("FAIL {} ({}:{})", out.name, file.display(), c.line));
                for f in &out.failures {
                    crate::say(format!("     {f}"));
                }
            }
            if a.verbose || !out.passed() {
                for l in &out.transcript {
                    crate::say(format!("       {l}"));
                }
            }
        }
    }
    crate::say(format!("{passed} passed, {failed} failed"));
    Ok(failed == 0)
}
