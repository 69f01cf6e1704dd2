//! The store workspace: one folder (or stored version) holding everything
//! that makes wismo a particular store's assistant. See `docs/make-it-yours.md`.
//!
//! [`Workspace::load`] reads a [`WorkspaceFiles`] (never the disk) and checks
//! every part, with `file:line: message` diagnostics:
//!
//! * `store.toml`: the [`StoreProfile`] (all keys optional).
//! * `knowledge/`: the store's articles, `knowledge/<locale>/*` (or
//!   `knowledge/*` as the default language). When present they replace the
//!   built-in articles whole: the demo's policies never answer for a store.
//! * `flows.yml`: flows by name; each replaces the built-in flow of that
//!   name (and takes over the intents it lists), new names add flows. With a
//!   top-level `replace: true` the file replaces the built-in flows whole.
//! * `templates/<locale>.yml`: templates by id; each replaces the built-in
//!   template of that id in that locale. With a top-level `replace: true`
//!   the file replaces the built-in templates of its locale whole. A
//!   template may use the profile's values: `{store.name}`,
//!   `{store.policy.return_window_days}`, `{store.contact.email}` … (see
//!   [`profile::STORE_KEYS`]), filled in at load time; a value the profile
//!   does not set removes the `[[ … ]]` part it is in, and a variant that
//!   needs it outside such a part is dropped (`{?store.contact.phone}` and
//!   `{!store.contact.phone}` conditions choose variants by it).
//! * `nlu/*.yml|yaml|csv`: training data. A file named like a built-in
//!   training file (`nlu/orders.yml`) replaces it; the others add examples.
//!   An example whose text the built-ins label with another intent takes the
//!   store's label.
//! * `catalogue.json`: the products for the entity extractor.
//! * `tests/*.yml`: the store's conversation tests (run by `wismo check`).
//!
//! This module is pure: no HTTP, database or async runtime.

mod builtin;
mod files;
pub mod profile;

pub use builtin::builtin_files;
pub use files::{FilesError, WorkspaceFiles, MAX_FILES, MAX_FILE_BYTES, MAX_TOTAL_BYTES};
pub use profile::{Localized, ProfileDefaults, StoreProfile, WidgetConfig};

use crate::dialogue::flows::{Flows, StepKind};
use crate::dialogue::templates::Templates;
use crate::dialogue::{Engine, EngineConfig, EngineError, DEFAULT_FLOWS, DEFAULT_TEMPLATES};
use crate::knowledge::KnowledgeBase;
use crate::nlu::data::{self, TrainingData};
use crate::nlu::entities::{EntityConfig, Product};
use crate::nlu::{Nlu, DEFAULT_TRAINING_FILES};
use crate::store::OrderService;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a workspace file. `line` is 1-based, 0 when the
/// problem is the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub message: String,
    pub severity: Severity,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

impl Diagnostic {
    fn error(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line,
            message: message.into(),
            severity: Severity::Error,
        }
    }
    fn warning(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(file, line, message)
        }
    }
}

/// A checked workspace: the parts the engine is built from.
#[derive(Debug, Clone)]
pub struct Workspace {
    files: WorkspaceFiles,
    profile: StoreProfile,
    warnings: Vec<Diagnostic>,
    flows: Flows,
    templates: Templates,
    knowledge: KnowledgeBase,
    training: TrainingData,
    /// Intents the store's own `nlu/` files name.
    store_intents: Vec<String>,
    catalogue: Option<Vec<Product>>,
}

/// The line of `needle` in `src` (1-based), 0 when absent.
fn find_line(src: &str, needle: &str) -> usize {
    src.find(needle).map_or(0, |at| profile::line_of(src, at))
}

/// Whether a YAML file says `replace: true` at the top level; the line is
/// blanked so the file's own parser does not see it.
fn take_replace(src: &str) -> (bool, String) {
    let mut replace = false;
    let text: Vec<&str> = src
        .lines()
        .map(|l| {
            let t = l.split('#').next().unwrap_or("").trim_end();
            if t == "replace: true" {
                replace = true;
                ""
            } else {
                l
            }
        })
        .collect();
    (replace, text.join("\n"))
}

/// The built-in profile: the demo store's `store.toml`.
pub fn builtin_profile() -> StoreProfile {
    let (p, _) = profile::parse_profile(builtin::STORE_TOML, "<built-in>/store.toml");
    p.unwrap_or_default()
}

/// Fills the profile's values into every template (see the module docs).
/// Problems: `(locale, id, message)`.
pub fn apply_store_values(
    templates: &mut Templates,
    profile: &StoreProfile,
) -> Vec<(String, String, String)> {
    let mut problems = Vec::new();
    let emptied =
        templates.rewrite(
            |locale, id, variant| match fill_store(variant, profile, locale) {
                Ok(v) => v,
                Err(m) => {
                    problems.push((locale.to_string(), id.to_string(), m));
                    Some(variant.to_string())
                }
            },
        );
    for (locale, id) in emptied {
        problems.push((
            locale,
            id,
            "every variant needs a store value that store.toml does not set; \
             add a variant without it or put it in [[ … ]]"
                .into(),
        ));
    }
    problems
}

/// The value of `{store.KEY}` in `lang` as template-safe text; `Err` names
/// an unknown key.
fn store_value(profile: &StoreProfile, lang: &str, key: &str) -> Result<Option<String>, String> {
    if !profile::STORE_KEYS.contains(&key) {
        return Err(format!(
            "{{store.{key}}} is not a store value (known: {})",
            profile::STORE_KEYS.join(", ")
        ));
    }
    Ok(profile.value(key, lang).map(|v| {
        v.replace(['{', '}'], "")
            .replace("[[", "[")
            .replace("]]", "]")
    }))
}

/// A knowledge page with its `{store.KEY}` values filled in, so a policy
/// page says the profile's return window, not a number of its own. `Err`:
/// `(line, message)` for an unknown key or a value `store.toml` does not set.
pub(crate) fn fill_page<'a>(
    text: &'a str,
    profile: &StoreProfile,
    lang: &str,
) -> Result<std::borrow::Cow<'a, str>, (usize, String)> {
    if !text.contains("{store.") {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    let value = |key: &str| store_value(profile, lang, key);
    let mut out = String::with_capacity(text.len() + 16);
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if !line.contains("{store.") {
            out.push_str(line);
            continue;
        }
        match fill_plain_store(line, &value, false) {
            Ok(Some(l)) => out.push_str(&l),
            Ok(None) => {
                return Err((
                    n + 1,
                    "uses a store value that store.toml does not set".into(),
                ))
            }
            Err(m) => return Err((n + 1, m)),
        }
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// One variant with `{store.…}` filled in; `Ok(None)` drops it; `Err` names
/// an unknown key.
fn fill_store(variant: &str, profile: &StoreProfile, lang: &str) -> Result<Option<String>, String> {
    if !variant.contains("store.") {
        return Ok(Some(variant.to_string()));
    }
    let value = |key: &str| store_value(profile, lang, key);
    let mut out = String::with_capacity(variant.len() + 32);
    let mut rest = variant;
    // Optional parts are filled, or removed when a store value is absent.
    loop {
        let open = rest.find("[[");
        let (plain, part) = match open {
            Some(o) => {
                let after = &rest[o + 2..];
                match after.find("]]") {
                    Some(c) => (&rest[..o], Some((&after[..c], &after[c + 2..]))),
                    None => (rest, None),
                }
            }
            None => (rest, None),
        };
        match fill_plain_store(plain, &value, false)? {
            Some(s) => out.push_str(&s),
            None => return Ok(None),
        }
        let Some((inner, after)) = part else { break };
        if let Some(s) = fill_plain_store(inner, &value, true)? {
            out.push_str("[[");
            out.push_str(&s);
            out.push_str("]]");
        }
        rest = after;
    }
    Ok(Some(out))
}

/// Fills `{store.k}`, `{prefix store.k}`, `{?store.k}` and `{!store.k}` in
/// text outside (or, `optional`, inside) a `[[ … ]]` part. `None`: the text
/// (the variant, or the optional part) cannot be written.
#[allow(clippy::type_complexity)]
fn fill_plain_store(
    text: &str,
    value: &dyn Fn(&str) -> Result<Option<String>, String>,
    optional: bool,
) -> Result<Option<String>, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(Some(out));
        };
        let inner = &after[..close];
        rest = &after[close + 1..];
        let (cond, body) = match inner.chars().next() {
            Some(c @ ('?' | '!')) => (Some(c), &inner[1..]),
            _ => (None, inner),
        };
        let Some(at) = body.find("store.") else {
            out.push('{');
            out.push_str(inner);
            out.push('}');
            continue;
        };
        let (prefix, key) = (&body[..at], &body[at + "store.".len()..]);
        let v = value(key)?;
        match (cond, v) {
            (Some('?'), Some(_)) | (Some('!'), None) => {}
            (Some(_), _) => return Ok(None),
            (None, Some(v)) => {
                out.push_str(prefix);
                out.push_str(&v);
            }
            // `{, store.k}` writes nothing without a value.
            (None, None) if !prefix.is_empty() && !optional => {}
            (None, None) => return Ok(None),
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// The widget's greeting, where `store.toml` gives one for a language, is the
/// bot's opening message in that language (the `welcome` template).
fn use_greeting(templates: &mut Templates, profile: &StoreProfile) {
    templates.rewrite(|locale, id, variant| {
        let greeting = (id == "welcome")
            .then(|| profile.greeting(locale))
            .flatten();
        Some(match greeting {
            // Braces and [[ ]] are template syntax; a greeting is plain text.
            Some(g) => g
                .replace(['{', '}'], "")
                .replace("[[", "[")
                .replace("]]", "]"),
            None => variant.to_string(),
        })
    });
}

/// The workspace's knowledge pages, or the built-in ones, with the
/// profile's `{store.…}` values filled in.
fn load_knowledge(
    files: &WorkspaceFiles,
    profile: &StoreProfile,
    diags: &mut Vec<Diagnostic>,
) -> KnowledgeBase {
    let languages = &profile.languages;
    let default_lang = profile.default_language();
    let pages: Vec<(&str, &str)> = files
        .under("knowledge")
        .map(|(p, t)| (p.strip_prefix("knowledge/").unwrap_or(p), t))
        .collect();
    if pages.is_empty() {
        let problems = std::cell::RefCell::new(Vec::new());
        let k =
            KnowledgeBase::builtin_filled(&|locale, text| match fill_page(text, profile, locale) {
                Ok(t) => t.into_owned(),
                Err((line, m)) => {
                    let file = format!("<built-in>/knowledge/{locale}");
                    problems
                        .borrow_mut()
                        .push(Diagnostic::error(&file, line, m));
                    text.to_string()
                }
            });
        diags.extend(problems.into_inner());
        return k;
    }
    let mut filled: Vec<(&str, std::borrow::Cow<str>)> = Vec::with_capacity(pages.len());
    for (path, text) in pages {
        // A page in a language folder gets that language's values.
        let lang = path
            .split_once('/')
            .map(|(d, _)| d)
            .filter(|d| languages.iter().any(|l| l.eq_ignore_ascii_case(d)))
            .unwrap_or(default_lang);
        let text = fill_page(text, profile, lang).unwrap_or_else(|(line, m)| {
            diags.push(Diagnostic::error(&format!("knowledge/{path}"), line, m));
            std::borrow::Cow::Borrowed(text)
        });
        filled.push((path, text));
    }
    match KnowledgeBase::from_files(filled.iter().map(|(p, t)| (*p, t.as_ref())), "knowledge/") {
        Ok(k) => {
            for l in k.locales() {
                if !languages.iter().any(|w| w.eq_ignore_ascii_case(l)) {
                    diags.push(Diagnostic::warning(
                        &format!("knowledge/{l}"),
                        0,
                        format!(
                            "articles in {l}, which is not one of store.toml's languages ({})",
                            languages.join(", ")
                        ),
                    ));
                }
            }
            k
        }
        Err(e) => {
            diags.push(Diagnostic::error(&e.path, e.line.unwrap_or(0), e.message));
            KnowledgeBase::default()
        }
    }
}

impl Workspace {
    /// Reads and checks a workspace. `Err` holds every problem found (at
    /// least one error; warnings too); `Ok` keeps the warnings.
    pub fn load(files: &WorkspaceFiles) -> Result<Workspace, Vec<Diagnostic>> {
        Self::load_with_defaults(files, &profile::ProfileDefaults::default())
    }

    /// [`Workspace::load`], where `defaults` (the server's settings) give the
    /// time zone, return window and late threshold that `store.toml` leaves
    /// unset.
    pub fn load_with_defaults(
        files: &WorkspaceFiles,
        defaults: &profile::ProfileDefaults,
    ) -> Result<Workspace, Vec<Diagnostic>> {
        let mut diags: Vec<Diagnostic> = Vec::new();

        // store.toml
        let (profile, d) = profile::parse_profile_with(
            files.get("store.toml").unwrap_or(""),
            "store.toml",
            defaults,
        );
        diags.extend(d);
        let profile = profile.unwrap_or_default();
        let languages = profile.languages.clone();
        let default_lang = profile.default_language().to_string();

        // knowledge/ (or the built-in pages), with the profile's values.
        let knowledge = load_knowledge(files, &profile, &mut diags);

        // templates: the built-ins, then the store's per locale.
        let mut templates = Templates::default();
        for (locale, src) in DEFAULT_TEMPLATES {
            // The built-ins are checked by tests.
            let _ =
                templates.add_locale(locale, src, &format!("<built-in>/templates/{locale}.yml"));
        }
        let template_files: Vec<(&str, &str)> = files.under("templates").collect();
        for (path, src) in &template_files {
            let name = path.strip_prefix("templates/").unwrap_or(path);
            let Some(locale) = name
                .strip_suffix(".yml")
                .or_else(|| name.strip_suffix(".yaml"))
            else {
                continue;
            };
            if name.contains('/') || !profile::valid_language_tag(locale) {
                diags.push(Diagnostic::error(
                    path,
                    0,
                    "template files are templates/<language>.yml, e.g. templates/fr.yml",
                ));
                continue;
            }
            if !languages.iter().any(|l| l == locale) {
                diags.push(Diagnostic::warning(
                    path,
                    0,
                    format!(
                        "{locale} is not one of store.toml's languages ({}); these templates are never used",
                        languages.join(", ")
                    ),
                ));
            }
            let (replace, text) = take_replace(src);
            if replace {
                templates.clear_locale(locale);
            }
            if let Err(e) = templates.add_locale(locale, &text, path) {
                diags.push(Diagnostic::error(&e.file, e.line, e.message));
            }
        }
        for (locale, id, message) in apply_store_values(&mut templates, &profile) {
            let file = format!("templates/{locale}.yml");
            let (file, line) = match files.get(&file) {
                Some(src) => (file, find_line(src, &format!("{id}:"))),
                None => (format!("<built-in>/templates/{locale}.yml"), 0),
            };
            diags.push(Diagnostic::error(&file, line, format!("{id}: {message}")));
        }
        use_greeting(&mut templates, &profile);
        for l in &languages {
            if !templates.has_locale(l) {
                diags.push(Diagnostic::error(
                    "store.toml",
                    files
                        .get("store.toml")
                        .map_or(0, |s| find_line(s, "languages")),
                    format!("language {l} has no templates: add templates/{l}.yml"),
                ));
            } else if l != "en" {
                let missing = templates.missing("en", l);
                let missing: Vec<&String> = missing
                    .iter()
                    .filter(|id| !id.starts_with("language."))
                    .collect();
                if !missing.is_empty() {
                    let shown: Vec<&str> = missing.iter().take(8).map(|s| s.as_str()).collect();
                    diags.push(Diagnostic::warning(
                        &format!("templates/{l}.yml"),
                        0,
                        format!(
                            "{} template(s) missing in {l} (replies fall back to English): {}{}",
                            missing.len(),
                            shown.join(", "),
                            if missing.len() > shown.len() {
                                ", …"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
            }
        }

        // flows.yml
        let mut flows = match Flows::parse(DEFAULT_FLOWS, "<built-in>/flows.yml") {
            Ok(f) => f,
            Err(e) => {
                diags.push(Diagnostic::error(&e.file, e.line, e.message));
                return Err(diags);
            }
        };
        if let Some(src) = files.get("flows.yml") {
            let (replace, text) = take_replace(src);
            match Flows::parse(&text, "flows.yml") {
                Ok(store_flows) => {
                    check_flow_templates(&store_flows, &templates, &default_lang, &mut diags);
                    if replace {
                        flows = store_flows;
                    } else {
                        flows.merge(store_flows);
                    }
                }
                Err(e) => diags.push(Diagnostic::error(&e.file, e.line, e.message)),
            }
        }

        // nlu/
        let mut training = TrainingData::default();
        let mut store_data = TrainingData::default();
        let nlu_files: Vec<(&str, &str)> = files.under("nlu").collect();
        for (name, src) in DEFAULT_TRAINING_FILES {
            let replaced = nlu_files.iter().any(|(p, _)| {
                let stem = |n: &str| {
                    n.rsplit_once('.')
                        .map_or(n.to_string(), |(s, _)| s.to_string())
                };
                stem(p.strip_prefix("nlu/").unwrap_or(p)) == stem(name)
            });
            if !replaced {
                if let Ok(d) = data::parse_rasa_yaml(src, &format!("<built-in>/{name}")) {
                    training.merge(d);
                }
            }
        }
        for (path, src) in &nlu_files {
            let parsed = if path.ends_with(".csv") {
                data::parse_csv(src, path)
            } else {
                data::parse_rasa_yaml(src, path)
            };
            match parsed {
                Ok(d) => store_data.merge(d),
                Err(e) => diags.push(Diagnostic::error(&e.file, e.line, e.message)),
            }
        }
        let store_intents = store_data.intents();
        if !store_data.examples.is_empty() {
            // The store's label wins for a text the built-ins label otherwise.
            let texts: std::collections::HashSet<String> = store_data
                .examples
                .iter()
                .map(|e| e.text.to_lowercase())
                .collect();
            training
                .examples
                .retain(|e| !texts.contains(&e.text.to_lowercase()));
            training.merge(store_data);
        }
        let known_intents = training.intents();
        for f in &flows.flows {
            for i in &f.intents {
                if !known_intents.contains(i) {
                    let line = files
                        .get("flows.yml")
                        .map_or(0, |s| find_line(s, &format!("{}:", f.name)));
                    let file = if line > 0 {
                        "flows.yml"
                    } else {
                        "<built-in>/flows.yml"
                    };
                    diags.push(Diagnostic::warning(
                        file,
                        line,
                        format!(
                            "flow {} starts on intent {i}, which has no training examples",
                            f.name
                        ),
                    ));
                }
            }
        }
        let builtin_intents = crate::nlu::default_training_data()
            .map(|d| d.intents())
            .unwrap_or_default();
        for i in store_intents
            .iter()
            .filter(|i| !builtin_intents.contains(i))
        {
            if flows.flow_for_intent(i).is_none() {
                let (file, line) = nlu_files
                    .iter()
                    .find_map(|(p, s)| {
                        let l = find_line(s, i);
                        (l > 0).then(|| (p.to_string(), l))
                    })
                    .unwrap_or_else(|| ("nlu/".into(), 0));
                diags.push(Diagnostic::warning(
                    &file,
                    line,
                    format!(
                        "intent {i} has no flow in flows.yml: the bot will answer it from the knowledge articles or say it did not understand"
                    ),
                ));
            }
        }

        // catalogue.json
        let catalogue = match files.get("catalogue.json") {
            None => None,
            Some(src) => match serde_json::from_str::<Vec<Product>>(src) {
                Ok(c) => Some(c),
                Err(e) => {
                    diags.push(Diagnostic::error(
                        "catalogue.json",
                        e.line(),
                        format!("not a JSON list of products: {e}"),
                    ));
                    None
                }
            },
        };

        // Guards: no template may render a hole.
        let optional: Vec<&str> = crate::dialogue::order_view::OPTIONAL_KEYS
            .iter()
            .chain(crate::dialogue::ENGINE_OPTIONAL_KEYS.iter())
            .copied()
            .collect();
        for p in templates.check_guards(&optional) {
            // "fr.yml: id (variant n): message"
            let (file, rest) = p.split_once(": ").unwrap_or(("", &p));
            let path = format!("templates/{file}");
            let id = rest.split([' ', ':']).next().unwrap_or("");
            let (path, line) = match files.get(&path) {
                Some(src) => {
                    let l = find_line(src, &format!("{id}:"));
                    (path, l)
                }
                None => (format!("<built-in>/templates/{file}"), 0),
            };
            diags.push(Diagnostic::error(&path, line, rest.to_string()));
        }

        let ws = Workspace {
            files: files.clone(),
            profile,
            warnings: Vec::new(),
            flows,
            templates,
            knowledge,
            training,
            store_intents,
            catalogue,
        };
        // The entity configuration (order-number format) must compile.
        if let Err(e) = crate::nlu::entities::EntityExtractor::new(&ws.entity_config()) {
            let line = files
                .get("store.toml")
                .map_or(0, |s| find_line(s, "pattern"));
            diags.push(Diagnostic::error("store.toml", line, e.to_string()));
        }
        if diags.iter().any(|d| d.severity == Severity::Error) {
            return Err(diags);
        }
        Ok(Workspace {
            warnings: diags,
            ..ws
        })
    }

    /// The built-ins only: what `serve` uses without a store folder.
    pub fn builtin() -> Workspace {
        let mut files = WorkspaceFiles::new();
        let _ = files.insert("store.toml", builtin::STORE_TOML);
        match Workspace::load(&files) {
            Ok(w) => w,
            // The built-ins are checked by tests; an empty workspace loads.
            Err(d) => panic!("the built-in workspace does not load: {d:?}"),
        }
    }

    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    pub fn files(&self) -> &WorkspaceFiles {
        &self.files
    }

    pub fn profile(&self) -> &StoreProfile {
        &self.profile
    }

    pub fn flows(&self) -> &Flows {
        &self.flows
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    pub fn knowledge(&self) -> &KnowledgeBase {
        &self.knowledge
    }

    /// Intents named by the store's own `nlu/` files.
    pub fn store_intents(&self) -> &[String] {
        &self.store_intents
    }

    /// The built-in intents merged with the store's `nlu/` data.
    pub fn training_data(&self) -> TrainingData {
        self.training.clone()
    }

    /// The entity extractor's configuration: the catalogue (the store's, or
    /// the demo's without one), order-number format, currency and phone region.
    pub fn entity_config(&self) -> EntityConfig {
        let on = &self.profile.order_number;
        EntityConfig {
            // The store's shape: candidates of another shape are not order
            // numbers (the built-in extractors still find them).
            order_number_patterns: Vec::new(),
            catalogue: self
                .catalogue
                .clone()
                .unwrap_or_else(crate::nlu::entities::demo_catalogue),
            default_phone_region: self.profile.phone_region.clone(),
            default_currency: self.profile.currency.clone(),
            order_number_format: on.pattern.clone(),
        }
    }

    /// `base` with the profile's time zone, policy values, escalation
    /// thresholds and languages.
    pub fn engine_config(&self, base: EngineConfig) -> EngineConfig {
        let p = &self.profile;
        let e = &p.escalation;
        let mut c = base;
        if let Ok(tz) = p.time_zone.parse() {
            c.tz = tz;
        }
        c.max_verification_attempts = e.max_verification_attempts;
        c.min_confidence = e.min_confidence;
        c.misunderstood_handoff = e.misunderstood_turns;
        c.negative_sentiment = e.negative_sentiment;
        c.negative_turns_handoff = e.negative_turns;
        c.return_window_days = p.policy.return_window_days;
        c.late_after_days = p.policy.late_after_days;
        c.languages = p.languages.clone();
        c.opening_quick_replies = p
            .languages
            .iter()
            .filter(|l| !p.quick_replies(l).is_empty())
            .map(|l| (l.clone(), p.quick_replies(l).to_vec()))
            .collect();
        c
    }

    /// The engine for this workspace with a trained `nlu` (from
    /// [`training_data`](Self::training_data) and
    /// [`entity_config`](Self::entity_config)).
    pub fn build_engine(
        &self,
        nlu: Nlu,
        orders: Arc<dyn OrderService>,
        base: EngineConfig,
    ) -> Result<Engine, Vec<Diagnostic>> {
        Engine::with(
            nlu,
            self.flows.clone(),
            self.templates.clone(),
            self.knowledge.clone(),
            orders,
            self.engine_config(base),
        )
        .map_err(|e| vec![engine_diagnostic(e)])
    }

    pub fn widget_config(&self) -> WidgetConfig {
        self.profile.widget_config()
    }
}

fn engine_diagnostic(e: EngineError) -> Diagnostic {
    match e {
        EngineError::Flows(f) => Diagnostic::error(&f.file, f.line, f.message),
        EngineError::Templates(t) => Diagnostic::error(&t.file, t.line, t.message),
        other => Diagnostic::error("flows.yml", 0, other.to_string()),
    }
}

/// Every template a store flow names must exist (in English or the
/// default language); `{state}` ids must exist for some state.
fn check_flow_templates(
    flows: &Flows,
    templates: &Templates,
    default_lang: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let exists = |id: &str| -> bool {
        if id.contains("{intent}") {
            return true;
        }
        let has = |id: &str| templates.contains("en", id) || templates.contains(default_lang, id);
        if id.contains("{state}") {
            crate::dialogue::order_view::ALL_STATES
                .iter()
                .any(|s| has(&id.replace("{state}", s.name())))
        } else {
            has(id)
        }
    };
    for f in &flows.flows {
        for s in &f.steps {
            let ids: Vec<&str> = match &s.kind {
                StepKind::Say(alts) => {
                    if alts.iter().any(|a| exists(a)) {
                        Vec::new()
                    } else {
                        alts.iter().map(String::as_str).collect()
                    }
                }
                StepKind::Confirm { template, on_deny } => vec![template, on_deny],
                StepKind::Ask {
                    template, reprompt, ..
                } => vec![template, reprompt],
                StepKind::Action { say, on_error, .. } => say
                    .iter()
                    .chain(on_error.iter())
                    .map(String::as_str)
                    .collect(),
                StepKind::Need(_) | StepKind::AnswerFromKnowledge { .. } => Vec::new(),
            };
            for id in ids {
                if !exists(id) {
                    diags.push(Diagnostic::error(
                        "flows.yml",
                        s.line,
                        format!(
                            "flow {}: template {id:?} is not defined (add it to templates/{default_lang}.yml)",
                            f.name
                        ),
                    ));
                }
            }
        }
    }
}
