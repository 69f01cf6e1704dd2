//! `wismo chat`: a terminal conversation with the assistant.

use crate::nlu_cmd::{entity_config, model_from, EntityArgs, ModelSource};
use crate::store_profile::{StoreDir, StoreProfile};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use wismo_core::dialogue::{BotMessage, Conversation, Engine, EngineConfig, SignedIn};
use wismo_core::knowledge::KnowledgeBase;
use wismo_core::nlu::Nlu;
use wismo_core::store::memory::InMemoryStore;

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
    build_engine_for(
        orders,
        knowledge,
        tz,
        &StoreProfile::default(),
        nlu,
        design,
        now,
    )
}

/// An engine over these orders and articles with the store profile's policy
/// values (return window, late threshold).
pub fn build_engine_for(
    orders: Option<&PathBuf>,
    knowledge: Option<&PathBuf>,
    tz: &str,
    profile: &StoreProfile,
    nlu: Nlu,
    design: &DesignArgs,
    now: DateTime<Utc>,
) -> Result<Engine> {
    let tz: chrono_tz::Tz = tz.parse().map_err(|_| {
        anyhow::anyhow!("unknown time zone {tz:?} (use an IANA name such as Europe/Berlin)")
    })?;
    let store = match orders {
        Some(p) => {
            let src = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            InMemoryStore::from_shopify_json(&src, &p.display().to_string())?
        }
        None => InMemoryStore::demo_at(now, tz).context("the demo store does not load")?,
    };
    let knowledge = match knowledge {
        Some(d) => KnowledgeBase::from_dir(d)?,
        None => KnowledgeBase::builtin(),
    };
    let defaults = EngineConfig::default();
    let config = EngineConfig {
        tz,
        return_window_days: profile
            .return_window_days
            .unwrap_or(defaults.return_window_days),
        late_after_days: profile.late_after_days.unwrap_or(defaults.late_after_days),
        ..defaults
    };
    if design.flows.is_none() && design.templates.is_none() {
        return Ok(Engine::new(nlu, knowledge, Arc::new(store), config)?);
    }
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
    let nlu = Nlu::new(model_from(&a.source)?, &entity_config(&a.entities)?)?;
    let now = parse_now(a.now.as_deref())?;
    let engine = build_engine_with(
        a.orders.as_ref(),
        a.knowledge.as_ref(),
        &a.tz,
        nlu,
        &a.design,
        now,
    )?;
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
    #[command(flatten)]
    pub design: DesignArgs,
    #[command(flatten)]
    pub source: ModelSource,
    #[command(flatten)]
    pub entities: EntityArgs,
}

/// `wismo test`: runs conversation scripts; Ok(false) when any failed.
pub fn test(a: &TestArgs) -> Result<bool> {
    use wismo_core::dialogue::script;
    let model = model_from(&a.source)?;
    let entities = entity_config(&a.entities)?;
    let nlu = Nlu::new(model.clone(), &entities)?;
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
        let store = match &s.store {
            Some(p) => StoreDir::load(&base.join(p))?,
            None => StoreDir::default(),
        };
        let orders = s.orders.as_ref().map(|p| base.join(p)).or(store.orders);
        let knowledge = s
            .knowledge
            .as_ref()
            .map(|p| base.join(p))
            .or(store.knowledge);
        let tz =
            a.tz.clone()
                .or_else(|| store.profile.time_zone.clone())
                .unwrap_or_else(|| "UTC".into());
        // The store's order-number format: candidates of another shape are
        // not order numbers (a flag, `--order-format`, wins).
        let nlu = match (
            &store.profile.order_number_pattern,
            &entities.order_number_format,
        ) {
            (Some(pattern), None) => {
                let mut entities = entities.clone();
                entities.order_number_format = Some(pattern.clone());
                Nlu::new(model.clone(), &entities)?
            }
            _ => nlu.clone(),
        };
        let now = s.now.unwrap_or_else(|| {
            if orders.is_none() {
                wismo_core::store::memory::demo_now()
            } else {
                Utc::now()
            }
        });
        let engine = build_engine_for(
            orders.as_ref(),
            knowledge.as_ref(),
            &tz,
            &store.profile,
            nlu,
            &a.design,
            now,
        )?;
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
