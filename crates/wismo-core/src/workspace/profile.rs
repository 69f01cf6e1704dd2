//! `store.toml`: the store's profile. Every key is optional; an absent key
//! keeps wismo's default. Replies and flows use the policy values
//! (`{store.policy.return_window_days}` in a template), the engine uses the
//! time zone, languages, order-number format and escalation thresholds, and
//! the widget takes its look from `[widget]`.

use super::{Diagnostic, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A text a store may give once or per language:
/// `greeting = "Hi!"` or `greeting = { en = "Hi!", fr = "Bonjour !" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Localized {
    One(String),
    PerLanguage(BTreeMap<String, String>),
}

impl Localized {
    /// The text for `lang`, else for `default_lang`, else any.
    pub fn get(&self, lang: &str, default_lang: &str) -> Option<&str> {
        match self {
            Localized::One(s) => Some(s.as_str()),
            Localized::PerLanguage(m) => m
                .get(lang)
                .or_else(|| m.get(default_lang))
                .or_else(|| m.values().next())
                .map(String::as_str),
        }
    }
}

/// The whole profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreProfile {
    /// The store's name, as replies say it.
    pub name: String,
    /// The store's website (`https://…`).
    pub website: Option<String>,
    /// Languages the assistant speaks; the first is the default. Language
    /// tags such as `en`, `es`, `fr`, `pt-BR`.
    pub languages: Vec<String>,
    /// IANA time zone for dates in replies.
    pub time_zone: String,
    /// ISO 4217 currency for amounts written without one.
    pub currency: String,
    /// ISO 3166 alpha-2 region for phone numbers written without a country code.
    pub phone_region: String,
    pub contact: Contact,
    pub policy: Policy,
    pub order_number: OrderNumber,
    pub escalation: Escalation,
    pub widget: Widget,
    pub proactive: Proactive,
}

/// Telling shoppers about their order before they ask: which carrier and
/// payment events send a message to the shopper's open conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Proactive {
    /// The carrier reports a problem (held, damaged, lost, refused).
    pub exception: bool,
    /// Days past the promised delivery date after which the shopper is
    /// told it is late (0: never).
    pub delay_days: u32,
    pub out_for_delivery: bool,
    /// The carrier tried and could not deliver.
    pub attempt_failed: bool,
    /// A refund went through.
    pub refund_succeeded: bool,
    /// `HH:MM-HH:MM` in the store's time zone: messages found then wait
    /// until it ends (`"off"`: any time).
    pub quiet_hours: Option<String>,
    /// Messages per conversation per 24 hours at most (and emails per
    /// shopper).
    pub daily_cap: u32,
    /// Days after a conversation last asked about an order during which
    /// it hears about that order (1–365).
    pub watch_days: u32,
    /// Also email the shopper (the order's email) when the server has SMTP
    /// set up (`smtp_url`); every email has an unsubscribe link.
    pub email: bool,
}

impl Default for Proactive {
    fn default() -> Self {
        Self {
            exception: true,
            delay_days: 2,
            out_for_delivery: true,
            attempt_failed: true,
            refund_succeeded: true,
            quiet_hours: Some("21:00-08:00".into()),
            daily_cap: 3,
            watch_days: 30,
            email: false,
        }
    }
}

impl Proactive {
    /// The quiet window as (start, end) times; `None` when unset.
    pub fn quiet_window(&self) -> Option<(chrono::NaiveTime, chrono::NaiveTime)> {
        match self.quiet_hours.as_deref()?.trim() {
            "off" => None,
            q => parse_quiet_hours(q).ok(),
        }
    }
}

/// `HH:MM-HH:MM` (the window may cross midnight; equal ends: never quiet).
pub fn parse_quiet_hours(s: &str) -> Result<(chrono::NaiveTime, chrono::NaiveTime), String> {
    let bad = || format!("quiet_hours {s:?} is not HH:MM-HH:MM such as 21:00-08:00");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let t = |x: &str| chrono::NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| bad());
    Ok((t(a)?, t(b)?))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub whatsapp: Option<String>,
    /// Opening hours, as the replies should say them.
    pub hours: Option<Localized>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Days after delivery within which returns and exchanges are accepted.
    pub return_window_days: u32,
    /// The condition returned items must be in ("unworn and with tags").
    pub return_conditions: Option<Localized>,
    /// Business days after a return arrives within which the refund goes
    /// out: `[5, 10]` reads "5 to 10".
    pub refund_days: [u32; 2],
    /// Days past the promised delivery date after which a late order gets a
    /// trace case.
    pub late_after_days: u32,
    /// Order total from which shipping is free, in `currency` (none: no free shipping).
    pub free_shipping_threshold: Option<f64>,
    /// Countries shipped to (ISO codes or names, as the store writes them).
    pub ships_to: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderNumber {
    /// A regex for the store's order numbers (the whole match, or group 1).
    pub pattern: Option<String>,
    /// Order numbers as shoppers write them; each must match `pattern`.
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Escalation {
    /// Consecutive not-understood turns that bring in a person.
    pub misunderstood_turns: u32,
    /// Consecutive negative turns that bring in a person.
    pub negative_turns: usize,
    /// Sentiment (-1 to 1) at or below which a turn counts as negative.
    pub negative_sentiment: f32,
    /// Failed identity checks after which a conversation may not try again.
    pub max_verification_attempts: u32,
    /// Below this intent confidence (0 to 1) a message counts as not understood.
    pub min_confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Widget {
    pub title: Option<Localized>,
    pub greeting: Option<Localized>,
    /// URL of the avatar image.
    pub avatar: Option<String>,
    pub colours: Colours,
    /// `bottom-right` or `bottom-left`.
    pub position: String,
    /// Buttons shown before the first message, per language or one list.
    pub quick_replies: Option<LocalizedList>,
}

/// A list a store may give once or per language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LocalizedList {
    One(Vec<String>),
    PerLanguage(BTreeMap<String, Vec<String>>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Colours {
    pub primary: String,
    pub background: String,
    pub text: String,
    pub bot_bubble: String,
    pub user_bubble: String,
}

impl Default for StoreProfile {
    fn default() -> Self {
        Self {
            name: "our store".into(),
            website: None,
            languages: vec!["en".into(), "es".into()],
            time_zone: "UTC".into(),
            currency: "USD".into(),
            phone_region: "US".into(),
            contact: Contact::default(),
            policy: Policy::default(),
            order_number: OrderNumber::default(),
            escalation: Escalation::default(),
            widget: Widget::default(),
            proactive: Proactive::default(),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            return_window_days: 30,
            return_conditions: None,
            refund_days: [5, 10],
            late_after_days: 3,
            free_shipping_threshold: None,
            ships_to: Vec::new(),
        }
    }
}

impl Default for Escalation {
    fn default() -> Self {
        Self {
            misunderstood_turns: 2,
            negative_turns: 3,
            negative_sentiment: -0.3,
            max_verification_attempts: 3,
            min_confidence: 0.35,
        }
    }
}

impl Default for Widget {
    fn default() -> Self {
        Self {
            title: None,
            greeting: None,
            avatar: None,
            colours: Colours::default(),
            position: "bottom-right".into(),
            quick_replies: None,
        }
    }
}

impl Default for Colours {
    fn default() -> Self {
        Self {
            primary: "#1f6feb".into(),
            background: "#ffffff".into(),
            text: "#1f2328".into(),
            bot_bubble: "#f1f3f5".into(),
            user_bubble: "#1f6feb".into(),
        }
    }
}

/// What the widget shows, resolved with defaults (`GET /v1/widget/config`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WidgetConfig {
    /// The title in the default language (kept for widgets that read one string).
    pub title: String,
    /// The title per language.
    pub titles: BTreeMap<String, String>,
    /// The greeting per language.
    pub greeting: BTreeMap<String, String>,
    pub colours: Colours,
    pub avatar: Option<String>,
    pub position: String,
    /// The store's languages, the default first.
    pub languages: Vec<String>,
    /// Quick replies per language.
    pub quick_replies: BTreeMap<String, Vec<String>>,
}

/// Every key `store.toml` may hold (dotted), for warnings about the others.
const KNOWN_KEYS: &[&str] = &[
    "name",
    "website",
    "languages",
    "time_zone",
    "currency",
    "phone_region",
    "contact",
    "contact.email",
    "contact.phone",
    "contact.whatsapp",
    "contact.hours",
    "policy",
    "policy.return_window_days",
    "policy.return_conditions",
    "policy.refund_days",
    "policy.late_after_days",
    "policy.free_shipping_threshold",
    "policy.ships_to",
    "order_number",
    "order_number.pattern",
    "order_number.examples",
    "escalation",
    "escalation.misunderstood_turns",
    "escalation.negative_turns",
    "escalation.negative_sentiment",
    "escalation.max_verification_attempts",
    "escalation.min_confidence",
    "widget",
    "widget.title",
    "widget.greeting",
    "widget.avatar",
    "widget.colours",
    "widget.colours.primary",
    "widget.colours.background",
    "widget.colours.text",
    "widget.colours.bot_bubble",
    "widget.colours.user_bubble",
    "widget.position",
    "widget.quick_replies",
    "proactive",
    "proactive.exception",
    "proactive.delay_days",
    "proactive.out_for_delivery",
    "proactive.attempt_failed",
    "proactive.refund_succeeded",
    "proactive.quiet_hours",
    "proactive.daily_cap",
    "proactive.email",
    "proactive.watch_days",
];

/// Keys of the first profile format, moved into tables (still read).
const LEGACY_KEYS: &[(&str, &str)] = &[
    ("return_window_days", "policy.return_window_days"),
    ("late_after_days", "policy.late_after_days"),
    ("order_number_pattern", "order_number.pattern"),
    ("order_number_examples", "order_number.examples"),
];

/// The 1-based line of byte offset `at` in `src`.
pub(crate) fn line_of(src: &str, at: usize) -> usize {
    1 + src
        .as_bytes()
        .iter()
        .take(at)
        .filter(|&&b| b == b'\n')
        .count()
}

/// The line where `key` is set (its last dotted part at the start of a
/// line, or the table header), 1 when not found.
fn key_line(src: &str, dotted: &str) -> usize {
    let last = dotted.rsplit('.').next().unwrap_or(dotted);
    let header = format!("[{dotted}]");
    src.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(&header)
                || t.strip_prefix(last)
                    .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

fn walk_keys(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
    for (k, v) in table {
        let dotted = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        // Per-language maps hold language tags, not keys.
        let localized = matches!(
            dotted.as_str(),
            "contact.hours"
                | "policy.return_conditions"
                | "widget.title"
                | "widget.greeting"
                | "widget.quick_replies"
        );
        if let (toml::Value::Table(t), false) = (v, localized) {
            walk_keys(&dotted, t, out);
        }
        out.push(dotted);
    }
}

/// Parses and checks `store.toml`. Errors and warnings name the line.
/// Values a profile takes when `store.toml` does not set them: the server's
/// own settings (`timezone`, `return_window_days`, `late_after_days`), so an
/// operator's setting holds until the store's workspace says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileDefaults {
    pub time_zone: Option<String>,
    pub return_window_days: Option<u32>,
    pub late_after_days: Option<u32>,
}

impl ProfileDefaults {
    /// Puts each default into `table` where the key is absent.
    fn fill(&self, table: &mut toml::Table) {
        if let Some(tz) = &self.time_zone {
            table
                .entry("time_zone")
                .or_insert_with(|| toml::Value::String(tz.clone()));
        }
        let policy = [
            ("return_window_days", self.return_window_days),
            ("late_after_days", self.late_after_days),
        ];
        for (key, value) in policy {
            let Some(v) = value else { continue };
            let entry = table
                .entry("policy")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(sub) = entry {
                sub.entry(key)
                    .or_insert_with(|| toml::Value::Integer(i64::from(v)));
            }
        }
    }
}

pub fn parse_profile(src: &str, file: &str) -> (Option<StoreProfile>, Vec<Diagnostic>) {
    parse_profile_with(src, file, &ProfileDefaults::default())
}

/// [`parse_profile`], with `defaults` for the keys `src` does not set.
pub fn parse_profile_with(
    src: &str,
    file: &str,
    defaults: &ProfileDefaults,
) -> (Option<StoreProfile>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let diag = |line: usize, message: String, severity: Severity| Diagnostic {
        file: file.to_string(),
        line,
        message,
        severity,
    };
    let mut table: toml::Table = match toml::from_str(src) {
        Ok(t) => t,
        Err(e) => {
            let line = e.span().map_or(1, |s| line_of(src, s.start));
            let msg = e.message().trim().to_string();
            return (None, vec![diag(line, msg, Severity::Error)]);
        }
    };
    // Keys of the first format: move them into their tables.
    for (old, new) in LEGACY_KEYS {
        if let Some(v) = table.remove(*old) {
            let (t, k) = new.split_once('.').unwrap_or(("", new));
            let entry = table
                .entry(t.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(sub) = entry {
                sub.entry(k.to_string()).or_insert(v);
            }
        }
    }
    let mut keys = Vec::new();
    walk_keys("", &table, &mut keys);
    defaults.fill(&mut table);
    for k in keys {
        if !KNOWN_KEYS.contains(&k.as_str()) {
            diags.push(diag(
                key_line(src, &k),
                format!(
                    "unknown setting `{k}` (ignored; see docs/make-it-yours.md for the settings)"
                ),
                Severity::Warning,
            ));
        }
    }
    // Typed errors with their position (legacy keys are ignored here).
    if let Err(e) = toml::from_str::<StoreProfile>(src) {
        let line = e.span().map_or(1, |s| line_of(src, s.start));
        diags.push(diag(line, e.message().trim().to_string(), Severity::Error));
        return (None, diags);
    }
    let profile: StoreProfile = match StoreProfile::deserialize(toml::Value::Table(table)) {
        Ok(p) => p,
        Err(e) => {
            // The error names the key but has no position in the rebuilt
            // table; find the key named in the message.
            let msg = e.message().trim().to_string();
            let line = KNOWN_KEYS
                .iter()
                .rev()
                .find(|k| msg.contains(&format!("`{}`", k.rsplit('.').next().unwrap_or(k))))
                .map_or(1, |k| key_line(src, k));
            diags.push(diag(line, msg, Severity::Error));
            return (None, diags);
        }
    };
    let mut err = |key: &str, message: String| {
        diags.push(diag(key_line(src, key), message, Severity::Error));
    };
    if profile.time_zone.parse::<chrono_tz::Tz>().is_err() {
        err(
            "time_zone",
            format!(
                "time_zone {:?} is not an IANA time zone such as Europe/Madrid",
                profile.time_zone
            ),
        );
    }
    if profile.languages.is_empty() {
        err(
            "languages",
            "languages must name at least one language".into(),
        );
    }
    for l in &profile.languages {
        if !valid_language_tag(l) {
            err(
                "languages",
                format!("{l:?} is not a language tag such as en, es, fr or pt-BR"),
            );
        }
    }
    let c = &profile.currency;
    if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
        err(
            "currency",
            format!("currency {c:?} is not an ISO 4217 code such as USD or EUR"),
        );
    }
    let r = &profile.phone_region;
    if r.len() != 2 || !r.chars().all(|ch| ch.is_ascii_uppercase()) {
        err(
            "phone_region",
            format!("phone_region {r:?} is not an ISO 3166 code such as US or ES"),
        );
    }
    if profile.policy.return_window_days > 3650 {
        err(
            "return_window_days",
            "return_window_days must be at most 3650".into(),
        );
    }
    if profile.policy.late_after_days > 365 {
        err(
            "late_after_days",
            "late_after_days must be at most 365".into(),
        );
    }
    if profile
        .policy
        .free_shipping_threshold
        .is_some_and(|t| !(0.0..1e9).contains(&t))
    {
        err(
            "free_shipping_threshold",
            "free_shipping_threshold must be a positive amount".into(),
        );
    }
    if let Some(q) = profile
        .proactive
        .quiet_hours
        .as_deref()
        .filter(|q| q.trim() != "off")
    {
        if let Err(m) = parse_quiet_hours(q) {
            err("quiet_hours", m);
        }
    }
    if !(1..=365).contains(&profile.proactive.watch_days) {
        err("watch_days", "watch_days must be from 1 to 365".into());
    }
    if profile.proactive.delay_days > 365 {
        err("delay_days", "delay_days must be at most 365".into());
    }
    let e = &profile.escalation;
    if !(0.0..=1.0).contains(&e.min_confidence) {
        err(
            "min_confidence",
            "min_confidence must be between 0 and 1".into(),
        );
    }
    if !(-1.0..=1.0).contains(&e.negative_sentiment) {
        err(
            "negative_sentiment",
            "negative_sentiment must be between -1 and 1".into(),
        );
    }
    if e.misunderstood_turns == 0 || e.negative_turns == 0 || e.max_verification_attempts == 0 {
        err(
            "escalation",
            "escalation turn counts and max_verification_attempts must be at least 1".into(),
        );
    }
    if let Some(p) = &profile.order_number.pattern {
        match regex::Regex::new(p) {
            Err(e) => err(
                "pattern",
                format!("order_number.pattern is not a valid regex: {e}"),
            ),
            Ok(re) => {
                for ex in &profile.order_number.examples {
                    if !re.is_match(ex) {
                        err(
                            "examples",
                            format!("order number example {ex:?} does not match the pattern"),
                        );
                    }
                }
            }
        }
    }
    if !matches!(
        profile.widget.position.as_str(),
        "bottom-right" | "bottom-left"
    ) {
        err(
            "position",
            "widget.position must be bottom-right or bottom-left".into(),
        );
    }
    let col = &profile.widget.colours;
    for (k, v) in [
        ("primary", &col.primary),
        ("background", &col.background),
        ("text", &col.text),
        ("bot_bubble", &col.bot_bubble),
        ("user_bubble", &col.user_bubble),
    ] {
        if !valid_colour(v) {
            err(
                k,
                format!("widget.colours.{k} {v:?} is not a colour such as #1f6feb"),
            );
        }
    }
    if let Some(a) = &profile.widget.avatar {
        if !(a.starts_with("https://") || a.starts_with("/")) {
            err(
                "avatar",
                "widget.avatar must be an https:// URL or a path on the server".into(),
            );
        }
    }
    if diags.iter().any(|d| d.severity == Severity::Error) {
        (None, diags)
    } else {
        (Some(profile), diags)
    }
}

/// `en`, `es`, `pt-BR`, `zh-Hant`: 2-3 letters, then optional subtags.
pub fn valid_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn valid_colour(v: &str) -> bool {
    v.strip_prefix('#')
        .is_some_and(|h| matches!(h.len(), 3 | 6 | 8) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

impl StoreProfile {
    /// The default language.
    pub fn default_language(&self) -> &str {
        self.languages.first().map_or("en", String::as_str)
    }

    /// The value of `{store.KEY}` in `lang`, or `None` when the profile has
    /// none (an optional value the store did not set) or `KEY` is unknown
    /// (see [`STORE_KEYS`]).
    pub fn value(&self, key: &str, lang: &str) -> Option<String> {
        let d = self.default_language();
        let loc =
            |l: &Option<Localized>| l.as_ref().and_then(|v| v.get(lang, d)).map(str::to_string);
        let p = &self.policy;
        match key {
            "name" => Some(self.name.clone()),
            "website" => self.website.clone(),
            "currency" => Some(self.currency.clone()),
            "contact.email" => self.contact.email.clone(),
            "contact.phone" => self.contact.phone.clone(),
            "contact.whatsapp" => self.contact.whatsapp.clone(),
            "contact.hours" => loc(&self.contact.hours),
            "return_window_days" | "policy.return_window_days" => {
                Some(p.return_window_days.to_string())
            }
            "late_after_days" | "policy.late_after_days" => Some(p.late_after_days.to_string()),
            "return_conditions" | "policy.return_conditions" => loc(&p.return_conditions),
            "refund_days_min" | "policy.refund_days_min" => Some(p.refund_days[0].to_string()),
            "refund_days_max" | "policy.refund_days_max" => Some(p.refund_days[1].to_string()),
            "free_shipping_threshold" | "policy.free_shipping_threshold" => {
                p.free_shipping_threshold.map(|t| {
                    crate::dialogue::order_view::human_money(
                        &format_amount(t),
                        &self.currency,
                        lang,
                    )
                })
            }
            "ships_to" | "policy.ships_to" => Some(p.ships_to.join(", ")).filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    /// The widget's greeting in `lang`: one given for that language, or a
    /// single string for the default language only (a greeting is never
    /// shown in a language it was not written in).
    pub fn greeting(&self, lang: &str) -> Option<&str> {
        let text = match self.widget.greeting.as_ref()? {
            Localized::One(s) => (lang == self.default_language()).then_some(s.as_str()),
            Localized::PerLanguage(m) => m.get(lang).map(String::as_str),
        }?;
        Some(text.trim()).filter(|t| !t.is_empty())
    }

    /// The buttons under the greeting in `lang`, chosen like [`greeting`](Self::greeting).
    pub fn quick_replies(&self, lang: &str) -> &[String] {
        match &self.widget.quick_replies {
            Some(LocalizedList::One(v)) if lang == self.default_language() => v,
            Some(LocalizedList::PerLanguage(m)) => m.get(lang).map_or(&[], Vec::as_slice),
            _ => &[],
        }
    }

    /// The widget's look, resolved with defaults.
    pub fn widget_config(&self) -> WidgetConfig {
        let d = self.default_language();
        let w = &self.widget;
        let greeting = self
            .languages
            .iter()
            .map(|l| (l.clone(), self.greeting(l).unwrap_or_default().to_string()))
            .collect();
        // A title not given for a language: the default language's, else the store's name.
        let titles: BTreeMap<String, String> = self
            .languages
            .iter()
            .map(|l| {
                let title = w.title.as_ref().and_then(|t| t.get(l, d));
                (l.clone(), title.unwrap_or(&self.name).to_string())
            })
            .collect();
        let title = titles.get(d).cloned().unwrap_or_else(|| self.name.clone());
        let quick_replies = self
            .languages
            .iter()
            .map(|l| (l.clone(), self.quick_replies(l).to_vec()))
            .collect();
        WidgetConfig {
            title,
            titles,
            greeting,
            colours: w.colours.clone(),
            avatar: w.avatar.clone(),
            position: w.position.clone(),
            languages: self.languages.clone(),
            quick_replies,
        }
    }
}

/// Keys templates may use as `{store.KEY}`.
pub const STORE_KEYS: &[&str] = &[
    "name",
    "website",
    "currency",
    "contact.email",
    "contact.phone",
    "contact.whatsapp",
    "contact.hours",
    "policy.return_window_days",
    "policy.return_conditions",
    "policy.refund_days_min",
    "policy.refund_days_max",
    "policy.late_after_days",
    "policy.free_shipping_threshold",
    "policy.ships_to",
    "return_window_days",
    "return_conditions",
    "refund_days_min",
    "refund_days_max",
    "late_after_days",
    "free_shipping_threshold",
    "ships_to",
];

/// "50" for 50.0, "49.99" otherwise.
fn format_amount(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_format_and_the_tables() {
        let (p, d) = parse_profile(
            "name = \"X\"\ntime_zone = \"America/Mexico_City\"\nreturn_window_days = 15\n\
             late_after_days = 3\norder_number_pattern = '#?(20[0-9]{2})'\n[contact]\nemail = \"a@b.c\"\n",
            "store.toml",
        );
        let p = p.expect("parses");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.time_zone, "America/Mexico_City");
        assert_eq!(p.policy.return_window_days, 15);
        assert!(p.order_number.pattern.is_some());
        assert_eq!(p.value("contact.email", "en").as_deref(), Some("a@b.c"));
    }

    #[test]
    fn errors_name_the_line() {
        let (p, d) = parse_profile(
            "name = \"X\"\n\ntime_zone = \"Mars/Olympus\"\n",
            "store.toml",
        );
        assert!(p.is_none());
        assert_eq!(d[0].to_string(), "store.toml:3: time_zone \"Mars/Olympus\" is not an IANA time zone such as Europe/Madrid");
        let (_, d) = parse_profile(
            "name = \"X\"\n[policy]\nreturn_window_days = -1\n",
            "store.toml",
        );
        assert_eq!(d[0].line, 3, "{d:?}");
        let (_, d) = parse_profile("name = \n", "store.toml");
        assert_eq!(d[0].line, 1, "{d:?}");
        let (p, d) = parse_profile("name = \"X\"\ncolour = \"red\"\n", "store.toml");
        assert!(p.is_some());
        assert_eq!(d[0].line, 2);
        assert_eq!(d[0].severity, Severity::Warning);
    }
}
