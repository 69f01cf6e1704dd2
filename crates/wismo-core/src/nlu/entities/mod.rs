//! Built-in entity extraction for the store domain.
//!
//! The public types below are the contract the rest of the NLU uses. Their
//! fields may gain members but should not change meaning.
//!
//! [`EntityExtractor::extract`] finds order numbers, tracking numbers, emails,
//! phone numbers, postal codes, dates, money amounts and catalogue products.
//! Every rule is documented in its submodule; the most important decisions:
//!
//! * Offsets are in chars; an entity's `text` is exactly `message[start..end]`.
//! * **Overlaps**: every candidate has a rank; candidates are accepted greedily
//!   by rank, then by longer span, then by earlier start, then by higher score,
//!   and a candidate overlapping an accepted one is dropped. Ranks, highest
//!   first: tracking number (check digit verified) > explicit order number
//!   (after an order keyword, `#1042`, `ORD-...`, store patterns) > tracking
//!   number with a weak check (FedEx 12-digit, DHL 10-digit; these also need
//!   tracking/carrier words in the message) > email > phone > money > date >
//!   postal code > bare order number > product.
//! * A phone number is never a bare order number; `order 4155550123` (an
//!   explicit keyword before an unformatted number) is an order number.
//! * Bare five-digit numbers are order numbers unless postal context makes them
//!   postal codes.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One entity found in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Entity type: a built-in name (`order_number`, `tracking_number`, `email`,
    /// `phone`, `postal_code`, `date`, `money`, `product`) or a name from the
    /// training data (`regex:`, `lookup:` or annotated examples).
    #[serde(rename = "type")]
    pub kind: String,
    /// The normalised value.
    pub value: EntityValue,
    /// The raw text as it stood in the message.
    pub text: String,
    /// Offsets in Unicode scalar values (chars) into the message; `end` is exclusive.
    pub start: usize,
    pub end: usize,
    /// Which extractor found it.
    pub extractor: Extractor,
}

/// Which part of the NLU found an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extractor {
    /// The built-in rules of this module.
    Builtin,
    /// A `regex:` entry of the training data.
    Regex,
    /// A `lookup:` entry of the training data.
    Lookup,
    /// Values learned from annotated training examples.
    Learned,
}

/// A normalised entity value. Serialised untagged, so JSON consumers see a plain
/// string for simple values and an object for structured ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EntityValue {
    /// Order numbers (`"1042"`, `"ORD-2024-000123"`), emails (lower-cased),
    /// phones (E.164, `"+14155550123"`) and custom entities (after synonyms).
    Text(String),
    Tracking {
        number: String,
        carrier: Carrier,
    },
    PostalCode {
        code: String,
        country: PostalCountry,
    },
    Date {
        date: NaiveDate,
    },
    Money {
        /// Decimal amount as a string, exactly as many decimals as the currency has (`"12.50"`).
        amount: String,
        /// ISO 4217 code.
        currency: String,
        /// Amount in the currency's minor unit (cents).
        minor_units: i64,
    },
    Product {
        id: String,
        name: String,
        /// Match quality in (0, 1]; 1 is an exact match.
        score: f32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Carrier {
    #[serde(rename = "UPS")]
    Ups,
    #[serde(rename = "USPS")]
    Usps,
    #[serde(rename = "FedEx")]
    FedEx,
    #[serde(rename = "DHL")]
    Dhl,
    /// A national postal service other than USPS, for international UPU S10
    /// numbers (`RB123456785GB`); the country is the number's last two letters.
    #[serde(rename = "Post")]
    Post,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PostalCountry {
    US,
    GB,
    CA,
    DE,
    ES,
    MX,
}

/// A product of the store's catalogue, for product-name matching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    /// Other names shoppers use for it.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Per-store configuration of the built-in extractors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntityConfig {
    /// Extra order-number patterns (regex syntax of the `regex` crate). The whole
    /// match, or capture group 1 when present, becomes the value.
    #[serde(default)]
    pub order_number_patterns: Vec<String>,
    /// The store's catalogue.
    #[serde(default)]
    pub catalogue: Vec<Product>,
    /// ISO 3166 alpha-2 region for phone numbers written without a country code.
    pub default_phone_region: String,
    /// ISO 4217 currency for amounts written with a bare `$` or no symbol.
    pub default_currency: String,
    /// The shape of the store's order numbers (regex syntax of the `regex`
    /// crate, matched against the whole value, e.g. `^\d{4,5}$` or
    /// `^MX-\d{5}$`). Built-in candidates (after a keyword, `#1042`, bare
    /// numbers, `ORD-...` codes) whose value does not match are dropped, and
    /// when the bot asked for an order number a message that is only such a
    /// value is one. `None` (the default) accepts the built-in shapes: 3-20
    /// digits or a letter-led code with at least three digits.
    #[serde(default)]
    pub order_number_format: Option<String>,
}

impl Default for EntityConfig {
    fn default() -> Self {
        Self {
            order_number_format: None,
            order_number_patterns: Vec::new(),
            catalogue: Vec::new(),
            default_phone_region: "US".into(),
            default_currency: "USD".into(),
        }
    }
}

/// When and where a message was written, for resolving relative dates.
#[derive(Debug, Clone, Copy)]
pub struct ExtractionContext {
    pub now: DateTime<Utc>,
    pub tz: Tz,
}

/// What the bot has just asked for, so that a bare answer is read as that
/// ([`EntityExtractor::extract_expecting`], `Nlu::parse_expecting`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expecting {
    /// Nothing in particular: every rule applies as documented.
    #[default]
    Nothing,
    /// "What's your order number?": a bare number in the year range
    /// (`2031`, `es el 1987`, `1987 please`) is an order number, and a message
    /// that is only a value of the store's `order_number_format` is one.
    /// Phone numbers, amounts, quantities and tracking numbers stay what they are.
    OrderNumber,
    /// "What's the postal code on the order?": a bare five-digit number is a
    /// postal code (of the store's market), as are `78 704`, `78704 1234`
    /// and `787041234`.
    PostalCode,
}

#[derive(Debug, thiserror::Error)]
pub enum EntityConfigError {
    #[error("order number pattern {pattern:?} is not a valid regex: {reason}")]
    BadOrderPattern { pattern: String, reason: String },
    #[error("order number format {format:?} is not a valid regex: {reason}")]
    BadOrderFormat { format: String, reason: String },
    #[error(
        "unknown phone region {0:?} (expected an ISO 3166 alpha-2 code such as US, GB, CA, DE)"
    )]
    BadRegion(String),
    #[error("unknown currency {0:?} (expected an ISO 4217 code such as USD, EUR, GBP)")]
    BadCurrency(String),
}

mod date;
mod money;
mod order;
mod phone;
pub mod postal;
mod product;
mod tracking;
mod util;

use regex::Regex;

/// The demo store's catalogue (`data/catalogue.json`, bundled at compile time).
pub fn demo_catalogue() -> Vec<Product> {
    serde_json::from_str(include_str!("../../../data/catalogue.json"))
        .expect("bundled data/catalogue.json is a valid JSON array of products")
}

// Ranks for overlap resolution (higher wins).
const R_TRACK: u8 = 100;
const R_ORDER_STORE: u8 = 97;
const R_ORDER_EXPLICIT: u8 = 95;
const R_TRACK_WEAK: u8 = 90;
const R_EMAIL: u8 = 80;
const R_PHONE: u8 = 70;
const R_MONEY: u8 = 60;
const R_DATE: u8 = 50;
const R_POSTAL: u8 = 40;
/// Not an entity: a phone-shaped number no region accepts; keeps its digits
/// from being read as bare order numbers. Dropped from the output.
const R_BLOCK: u8 = 35;
const R_ORDER_BARE: u8 = 30;
const R_PRODUCT: u8 = 20;

/// A candidate entity with byte offsets.
#[derive(Debug)]
struct Cand {
    start: usize,
    end: usize,
    kind: &'static str,
    value: EntityValue,
    rank: u8,
    score: f32,
}

/// The compiled built-in extractors.
#[derive(Debug, Clone)]
pub struct EntityExtractor {
    config: EntityConfig,
    region: phone::Region,
    dollar: &'static str,
    email: Regex,
    ups: Regex,
    s10: Regex,
    phone: Regex,
    money_prefix: Regex,
    money_suffix: Regex,
    dates: date::DateRules,
    postal: postal::PostalRules,
    market: postal::Market,
    /// The store's order-number format, anchored (`^(?:...)$`).
    order_format: Option<Regex>,
    order: order::OrderRules,
    products: product::ProductMatcher,
}

fn rx(p: &str) -> Regex {
    Regex::new(p).expect("built-in entity regex compiles")
}

const MONEY_NUM: &str = r"[0-9]{1,3}(?:[.,][0-9]{3})+(?:[.,][0-9]{1,2})?|[0-9]+(?:[.,][0-9]{1,2})?";
const MONEY_CODES: &str =
    "usd|eur|gbp|cad|aud|nzd|chf|jpy|cny|hkd|sgd|inr|sek|nok|dkk|pln|czk|mxn|brl|zar|krw";

impl EntityExtractor {
    pub fn new(config: &EntityConfig) -> Result<Self, EntityConfigError> {
        let (currency, _) = money::currency(&config.default_currency)
            .ok_or_else(|| EntityConfigError::BadCurrency(config.default_currency.clone()))?;
        let region = phone::parse_region(&config.default_phone_region)
            .ok_or_else(|| EntityConfigError::BadRegion(config.default_phone_region.clone()))?;
        let custom = config
            .order_number_patterns
            .iter()
            .map(|p| {
                Regex::new(p).map_err(|e| EntityConfigError::BadOrderPattern {
                    pattern: p.clone(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let order_format = config
            .order_number_format
            .as_deref()
            .map(|f| {
                Regex::new(&format!("^(?:{f})$")).map_err(|e| EntityConfigError::BadOrderFormat {
                    format: f.to_string(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let market = if region == phone::Region::De {
            postal::Market::De
        } else if currency == "MXN" {
            postal::Market::Mx
        } else if currency == "EUR" {
            postal::Market::Euro
        } else {
            postal::Market::Us
        };
        Ok(Self {
            config: config.clone(),
            region,
            dollar: money::dollar_for(currency),
            email: rx(
                r"(?i-u)[a-z0-9](?:[a-z0-9._%+-]*[a-z0-9_%+-])?@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+",
            ),
            ups: rx(r"(?i-u)\b1z(?: ?[0-9a-z]){16}\b"),
            s10: rx(r"(?i-u)\b[a-z]{2} ?[0-9]{3} ?[0-9]{3} ?[0-9]{3} ?[a-z]{2}\b"),
            phone: rx(r"(?-u)\+?\(?[0-9]+\)?(?:[ .-]?\(?[0-9]+\)?)*"),
            money_prefix: rx(&format!(
                r"(?i-u)(?:\b(?:us|ca|cad|au|nz|hk|c|a|s)\$|\$|€|£|¥|₹|\b(?:{MONEY_CODES})\b)[ ]?({MONEY_NUM})"
            )),
            money_suffix: rx(&format!(
                r"(?i-u)({MONEY_NUM})[ ]?(€|£|\$|¥|₹|(?:{MONEY_CODES}|dollars?|bucks?|euros?|yen|quid)\b)"
            )),
            dates: date::DateRules::new(),
            postal: postal::PostalRules::new(),
            market,
            order_format,
            order: order::OrderRules::new(custom),
            products: product::ProductMatcher::new(&config.catalogue),
        })
    }

    /// The configuration this extractor was built from.
    pub fn config(&self) -> &EntityConfig {
        &self.config
    }

    /// All built-in entities in `text`, ordered by `start`, never overlapping.
    pub fn extract(&self, text: &str, ctx: &ExtractionContext) -> Vec<Entity> {
        self.extract_expecting(text, ctx, Expecting::Nothing)
    }

    /// [`Self::extract`] for the answer to a question: `expecting` says what
    /// the bot has just asked for (see [`Expecting`]).
    pub fn extract_expecting(
        &self,
        text: &str,
        ctx: &ExtractionContext,
        expecting: Expecting,
    ) -> Vec<Entity> {
        if text.is_empty() {
            return Vec::new();
        }
        let lower = text.to_ascii_lowercase();
        let has_digit = text.bytes().any(|b| b.is_ascii_digit());
        let today = ctx.now.with_timezone(&ctx.tz).date_naive();
        let mut cands: Vec<Cand> = Vec::new();

        if text.contains('@') {
            self.find_emails(text, &mut cands);
        }
        if !has_digit && !self.config.order_number_patterns.is_empty() {
            let mut orders = Vec::new();
            self.order.find_custom(text, &mut orders);
            cands.extend(orders.into_iter().map(|(s, e, v)| Cand {
                start: s,
                end: e,
                kind: "order_number",
                value: EntityValue::Text(v),
                rank: R_ORDER_STORE,
                score: 1.0,
            }));
        }
        if has_digit {
            let groups = util::digit_groups(text);
            self.find_tracking(text, &lower, &groups, &mut cands);
            self.find_phones(text, ctx, &mut cands);
            self.find_money(text, &mut cands);
            self.find_orders_and_postal(text, &lower, &groups, expecting, &mut cands);
        }
        if let Some(format) = &self.order_format {
            // built-in order candidates must have the store's shape
            cands.retain(|c| {
                c.kind != "order_number"
                    || c.rank == R_ORDER_STORE
                    || matches!(&c.value, EntityValue::Text(v) if format.is_match(v))
            });
            if expecting == Expecting::OrderNumber {
                self.whole_message_order(text, format, &mut cands);
            }
        }
        let mut dates = Vec::new();
        self.dates.find(text, &lower, has_digit, today, &mut dates);
        cands.extend(dates.into_iter().map(|(s, e, d)| Cand {
            start: s,
            end: e,
            kind: "date",
            value: EntityValue::Date { date: d },
            rank: R_DATE,
            score: 1.0,
        }));
        if !self.products.is_empty() {
            let mut found = Vec::new();
            self.products.find(&lower, &mut found);
            for (s, e, pi, score) in found {
                if let Some(p) = self.config.catalogue.get(pi) {
                    cands.push(Cand {
                        start: s,
                        end: e,
                        kind: "product",
                        value: EntityValue::Product {
                            id: p.id.clone(),
                            name: p.name.clone(),
                            score,
                        },
                        rank: R_PRODUCT,
                        score,
                    });
                }
            }
        }
        resolve(text, cands)
    }

    fn find_emails(&self, text: &str, out: &mut Vec<Cand>) {
        for m in self.email.find_iter(text) {
            let s = m.as_str();
            if matches!(util::prev_char(text, m.start()), Some(c) if c.is_alphanumeric() || "._%+-@".contains(c))
                || matches!(util::next_char(text, m.end()), Some(c) if c.is_alphanumeric() || c == '@' || c == '_')
            {
                continue;
            }
            let Some((local, domain)) = s.split_once('@') else {
                continue;
            };
            let tld = domain.rsplit('.').next().unwrap_or("");
            if local.len() > 64
                || s.len() > 254
                || local.contains("..")
                || local.starts_with('.')
                || !(2..=24).contains(&tld.len())
                || !tld.bytes().all(|b| b.is_ascii_alphabetic())
            {
                continue;
            }
            out.push(Cand {
                start: m.start(),
                end: m.end(),
                kind: "email",
                value: EntityValue::Text(s.to_ascii_lowercase()),
                rank: R_EMAIL,
                score: 1.0,
            });
        }
    }

    fn find_tracking(
        &self,
        text: &str,
        lower: &str,
        groups: &[(usize, usize)],
        out: &mut Vec<Cand>,
    ) {
        let push = |out: &mut Vec<Cand>,
                    s: usize,
                    e: usize,
                    number: String,
                    carrier: Carrier,
                    rank: u8| {
            out.push(Cand {
                start: s,
                end: e,
                kind: "tracking_number",
                value: EntityValue::Tracking { number, carrier },
                rank,
                score: 1.0,
            });
        };
        if lower.contains("1z") {
            for m in self.ups.find_iter(text) {
                let n: String = m
                    .as_str()
                    .chars()
                    .filter(|c| *c != ' ')
                    .collect::<String>()
                    .to_ascii_uppercase();
                if tracking::ups_valid(n.as_bytes()) {
                    push(out, m.start(), m.end(), n, Carrier::Ups, R_TRACK);
                }
            }
        }
        for m in self.s10.find_iter(text) {
            let n: String = m
                .as_str()
                .chars()
                .filter(|c| *c != ' ')
                .collect::<String>()
                .to_ascii_uppercase();
            if tracking::s10_valid(n.as_bytes()) {
                let carrier = if n.ends_with("US") {
                    Carrier::Usps
                } else {
                    Carrier::Post
                };
                push(out, m.start(), m.end(), n, carrier, R_TRACK);
            }
        }
        // numeric formats: runs of digit groups separated by single spaces
        let long_enough = groups.iter().map(|(s, e)| e - s).sum::<usize>() >= 10;
        if !long_enough {
            return;
        }
        let track = lower.contains("track");
        let fedex_ctx = track || lower.contains("fedex") || lower.contains("fed ex");
        let dhl_ctx =
            track || lower.contains("dhl") || lower.contains("waybill") || lower.contains("awb");
        let mut i = 0;
        while i < groups.len() {
            let mut j = i;
            while j + 1 < groups.len()
                && groups[j + 1].0 == groups[j].1 + 1
                && text.as_bytes().get(groups[j].1) == Some(&b' ')
            {
                j += 1;
            }
            let run = &groups[i..=j];
            let mut a = 0;
            while a < run.len() {
                let mut accepted = None;
                let mut digits = [0u8; 24];
                for b in (a..run.len()).rev() {
                    let total: usize = run[a..=b].iter().map(|(s, e)| e - s).sum();
                    if !(10..=22).contains(&total) || (b > a && total < 15) {
                        continue;
                    }
                    let (ws, we) = (run[a].0, run[b].1);
                    if !util::num_start_ok(text, ws) || !util::num_end_ok(text, we) {
                        continue;
                    }
                    let mut n = 0;
                    for &(s, e) in &run[a..=b] {
                        for &c in text.as_bytes().get(s..e).unwrap_or(&[]) {
                            if n < digits.len() {
                                digits[n] = c;
                                n += 1;
                            }
                        }
                    }
                    let d = &digits[..n];
                    let single = a == b;
                    let ctx_prev_ok =
                        single || !matches!(util::prev_char(text, ws), Some('+' | '('));
                    if let Some((carrier, strength)) =
                        tracking::classify_digits(d, fedex_ctx && single, dhl_ctx && single)
                    {
                        let weak_ok = strength == tracking::Strength::Strong
                            || !matches!(util::prev_char(text, ws), Some('+' | '(' | '-'));
                        if ctx_prev_ok && weak_ok {
                            let rank = if strength == tracking::Strength::Strong {
                                R_TRACK
                            } else {
                                R_TRACK_WEAK
                            };
                            let number = String::from_utf8_lossy(d).into_owned();
                            accepted = Some((b, ws, we, number, carrier, rank));
                            break;
                        }
                    }
                }
                match accepted {
                    Some((b, ws, we, number, carrier, rank)) => {
                        push(out, ws, we, number, carrier, rank);
                        a = b + 1;
                    }
                    None => a += 1,
                }
            }
            i = j + 1;
        }
    }

    fn find_phones(&self, text: &str, ctx: &ExtractionContext, out: &mut Vec<Cand>) {
        let tz_region = phone::region_of_tz(ctx.tz);
        for m in self.phone.find_iter(text) {
            let ms = m.as_str();
            if ms.len() < 7 {
                continue;
            }
            let plus = ms.starts_with('+');
            // digit groups inside the match: (start, end, paren_before, paren_after)
            let mut gs: Vec<(usize, usize, bool, bool)> = Vec::new();
            let bytes = ms.as_bytes();
            let mut k = 0;
            while k < bytes.len() {
                if bytes[k].is_ascii_digit() {
                    let s = k;
                    while k < bytes.len() && bytes[k].is_ascii_digit() {
                        k += 1;
                    }
                    let pb = s > 0 && bytes[s - 1] == b'(';
                    let pa = bytes.get(k) == Some(&b')');
                    gs.push((m.start() + s, m.start() + k, pb, pa));
                } else {
                    k += 1;
                }
            }
            if gs.len() > 40 {
                continue;
            }
            let mut a = 0;
            while a < gs.len() {
                let mut accepted = None;
                for b in (a..gs.len().min(a + 7)).rev() {
                    let total: usize = gs[a..=b].iter().map(|g| g.1 - g.0).sum();
                    if !(7..=16).contains(&total) {
                        continue;
                    }
                    let intl = plus && a == 0;
                    let mut ws = gs[a].0;
                    if gs[a].2 {
                        ws -= 1;
                    }
                    if intl {
                        ws = m.start();
                    }
                    let we = if gs[b].3 { gs[b].1 + 1 } else { gs[b].1 };
                    if !util::num_start_ok(text, ws) || !util::num_end_ok(text, we) {
                        continue;
                    }
                    let single = a == b;
                    if single && total < 10 {
                        continue;
                    }
                    // national groups are at least two digits (a leading "1" allowed),
                    // and a trunk-0 area code at least three ("030", not the "03" of
                    // a date like 03.11.2026)
                    if !intl
                        && gs[a..=b].iter().enumerate().any(|(idx, g)| {
                            let len = g.1 - g.0;
                            let lead = text.as_bytes().get(g.0).copied();
                            (len < 2 && !(idx == 0 && lead == Some(b'1')))
                                || (idx == 0 && !single && lead == Some(b'0') && len < 3)
                        })
                    {
                        continue;
                    }
                    let mut digits: Vec<u8> = Vec::with_capacity(total);
                    for g in &gs[a..=b] {
                        let gd = text.as_bytes().get(g.0..g.1).unwrap_or(&[]);
                        if intl && g.2 && g.3 && gd == b"0" {
                            continue; // "(0)" trunk
                        }
                        digits.extend_from_slice(gd);
                    }
                    let value = if intl {
                        phone::international(&digits)
                    } else {
                        phone::national(&digits, self.region)
                            .or_else(|| tz_region.and_then(|r| phone::national(&digits, r)))
                    };
                    if let Some(v) = value {
                        accepted = Some((b, ws, we, v));
                        break;
                    }
                    let phone_shaped =
                        !single && (intl || digits.first() == Some(&b'0')) && total >= 9;
                    if phone_shaped {
                        out.push(Cand {
                            start: ws,
                            end: we,
                            kind: "",
                            value: EntityValue::Text(String::new()),
                            rank: R_BLOCK,
                            score: 0.0,
                        });
                    }
                }
                match accepted {
                    Some((b, ws, we, v)) => {
                        out.push(Cand {
                            start: ws,
                            end: we,
                            kind: "phone",
                            value: EntityValue::Text(v),
                            rank: R_PHONE,
                            score: 1.0,
                        });
                        a = b + 1;
                    }
                    None => a += 1,
                }
            }
        }
    }

    fn find_money(&self, text: &str, out: &mut Vec<Cand>) {
        let mut push = |s: usize, e: usize, sym: &str, num: &str| {
            let Some(code) = money::symbol_currency(sym, self.dollar) else {
                return;
            };
            let Some((_, decimals)) = money::currency(code) else {
                return;
            };
            if let Some((amount, minor)) = money::amount(num, decimals) {
                out.push(Cand {
                    start: s,
                    end: e,
                    kind: "money",
                    value: EntityValue::Money {
                        amount,
                        currency: code.to_string(),
                        minor_units: minor,
                    },
                    rank: R_MONEY,
                    score: 1.0,
                });
            }
        };
        for c in self.money_prefix.captures_iter(text) {
            let (Some(all), Some(num)) = (c.get(0), c.get(1)) else {
                continue;
            };
            if !util::num_end_ok(text, all.end())
                || matches!(util::prev_char(text, all.start()), Some(p) if p.is_alphanumeric())
            {
                continue;
            }
            let sym = text.get(all.start()..num.start()).unwrap_or("");
            push(all.start(), all.end(), sym, num.as_str());
        }
        for c in self.money_suffix.captures_iter(text) {
            let (Some(all), Some(num), Some(sym)) = (c.get(0), c.get(1), c.get(2)) else {
                continue;
            };
            if !util::num_start_ok(text, all.start())
                || matches!(
                    util::prev_char(text, all.start()),
                    Some('$' | '€' | '£' | '¥' | '#')
                )
            {
                continue;
            }
            push(all.start(), all.end(), sym.as_str(), num.as_str());
        }
    }

    /// Asked for an order number, a message that is only a value of the
    /// store's format (`mx-12345`, `#MX-12345.`) is one.
    fn whole_message_order(&self, text: &str, format: &Regex, out: &mut Vec<Cand>) {
        let trimmed = text.trim_matches(|c: char| c.is_whitespace() || ".!?,;".contains(c));
        let body = trimmed.trim_start_matches('#').trim_start();
        if body.is_empty() || body.len() > 40 || body.contains(char::is_whitespace) {
            return;
        }
        let value = body.to_ascii_uppercase();
        if !format.is_match(&value) {
            return;
        }
        let start = trimmed.as_ptr() as usize - text.as_ptr() as usize;
        out.push(Cand {
            start,
            end: start + trimmed.len(),
            kind: "order_number",
            value: EntityValue::Text(value),
            rank: R_ORDER_EXPLICIT,
            score: 1.0,
        });
    }

    fn find_orders_and_postal(
        &self,
        text: &str,
        lower: &str,
        groups: &[(usize, usize)],
        expecting: Expecting,
        out: &mut Vec<Cand>,
    ) {
        let mut orders = Vec::new();
        self.order.find_explicit(text, lower, &mut orders);
        let n_builtin = orders.len();
        self.order.find_custom(text, &mut orders);
        for (i, (s, e, v)) in orders.into_iter().enumerate() {
            out.push(Cand {
                start: s,
                end: e,
                kind: "order_number",
                value: EntityValue::Text(v),
                rank: if i < n_builtin {
                    R_ORDER_EXPLICIT
                } else {
                    R_ORDER_STORE
                },
                score: 1.0,
            });
        }
        let asked_postal = expecting == Expecting::PostalCode;
        let keyword = postal::has_postal_keyword(lower);
        let mut postals = Vec::new();
        self.postal
            .find_shaped(text, keyword || asked_postal, &mut postals);
        if keyword || asked_postal {
            postal::find_split_zips(text, groups, &mut postals);
        }
        let nanp = matches!(self.region, phone::Region::Us | phone::Region::Ca);
        let expecting_order = expecting == Expecting::OrderNumber;
        for &(s, e) in groups {
            if e - s == 5 && util::num_start_ok(text, s) && util::num_end_ok(text, e) {
                let country = postal::five_digit(text, lower, s, e, self.market)
                    .or_else(|| asked_postal.then(|| postal::market_country(self.market, false)));
                if let Some(country) = country {
                    let code = text.get(s..e).unwrap_or("").to_string();
                    postals.push((s, e, code, country));
                    continue;
                }
            }
            if order::bare_ok(text, lower, s, e, nanp, expecting_order) {
                out.push(Cand {
                    start: s,
                    end: e,
                    kind: "order_number",
                    value: EntityValue::Text(text.get(s..e).unwrap_or("").to_string()),
                    rank: R_ORDER_BARE,
                    score: 1.0,
                });
            }
        }
        for (s, e, code, country) in postals {
            out.push(Cand {
                start: s,
                end: e,
                kind: "postal_code",
                value: EntityValue::PostalCode { code, country },
                rank: R_POSTAL,
                score: 1.0,
            });
        }
    }
}

/// Greedy overlap resolution (see the module docs), then conversion to char offsets.
fn resolve(text: &str, mut cands: Vec<Cand>) -> Vec<Entity> {
    cands.retain(|c| {
        c.start < c.end && text.is_char_boundary(c.start) && text.is_char_boundary(c.end)
    });
    cands.sort_by(|a, b| {
        b.rank
            .cmp(&a.rank)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
            .then(b.score.total_cmp(&a.score))
    });
    let mut kept: Vec<Cand> = Vec::with_capacity(cands.len());
    for c in cands {
        if kept.iter().all(|k| c.end <= k.start || k.end <= c.start) {
            kept.push(c);
        }
    }
    kept.retain(|c| !c.kind.is_empty());
    kept.sort_by_key(|c| c.start);
    let ascii = text.is_ascii();
    kept.into_iter()
        .map(|c| {
            let (start, end) = if ascii {
                (c.start, c.end)
            } else {
                (
                    util::byte_to_char(text, c.start),
                    util::byte_to_char(text, c.end),
                )
            };
            Entity {
                kind: c.kind.to_string(),
                value: c.value,
                text: text.get(c.start..c.end).unwrap_or("").to_string(),
                start,
                end,
                extractor: Extractor::Builtin,
            }
        })
        .collect()
}
