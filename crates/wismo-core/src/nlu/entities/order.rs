//! Order numbers.
//!
//! Explicit forms (strong): an order keyword — `order`, or a common typo of
//! it (`ordr`, `oder`, `orde`, `odrer`, `ordre`, `oredr`, ...) — optionally
//! followed by `number`/`no.`/`nr`/`num`/`id`/`ref`, `is`/`was`, `:` or `#`,
//! then the number; `#1042` on its own; coded numbers like `ORD-2024-000123`
//! (upper-case letters, a dash, digits); and the store's own patterns.
//! The entity's span is the number itself, including a directly written `#`
//! (`order #1042` -> text `#1042`, value `1042`); the keyword is not part of it.
//!
//! Bare forms (weak): a lone run of 3-12 digits nobody else claims, unless it is
//! a quantity or duration (followed by `days`, `items`, `dollars`, `pesos`,
//! `%`, ...), a year (below), part of a decimal, time, date, range or
//! version (`1.5`, `10:30`, `11/03`, `3-4`, `v2`), follows `size`/`qty`/
//! `version`/`apt`/`room`/... or looks like a phone number (ten digits that are
//! a valid North American number, or ten/eleven digits starting with `0`).
//!
//! Years: Shopify numbers orders from #1001, so a four-digit number from 1900
//! to 2099 is read by its neighbours. Year words around it make it a year
//! (`in 2019`, `since 2020`, `back in 1999`, `año 2024`, `March 2026`,
//! `the 2025 catalogue`, `my 2024 order`; `del 2019` only when the message
//! does not talk about orders or also names a month or year word: `la
//! dirección de envío del 2026` is order 2026); otherwise it is an order number
//! when the words before it ask about an order (`where is 1987`, `status of
//! 2013`, `tracking for 1999`, `y el 1987`), when the message talks about
//! orders or deliveries (`mi pedido 2026`, `1987 hasn't arrived`), or when
//! the bot has just asked for an order number ([`super::Expecting`]);
//! and in any other case it is nothing (`2019 was a good year`).
//!
//! An explicit keyword wins over a phone reading of an *unformatted* digit run:
//! `order 4155550123` is order number `4155550123`, because the shopper said
//! so; `order 415-555-0123` (formatted like a phone) is a phone number.

use super::util::{is_one_of, next_word, num_end_ok, num_start_ok, prev_word};
use regex::Regex;

/// Words after a number that make it a quantity, duration or measure.
const UNITS: &[&str] = &[
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "yr",
    "yrs",
    "hour",
    "hours",
    "hr",
    "hrs",
    "h",
    "minute",
    "minutes",
    "min",
    "mins",
    "second",
    "seconds",
    "sec",
    "secs",
    "item",
    "items",
    "piece",
    "pieces",
    "pcs",
    "pc",
    "unit",
    "units",
    "pack",
    "packs",
    "box",
    "boxes",
    "pair",
    "pairs",
    "set",
    "sets",
    "dollar",
    "dollars",
    "buck",
    "bucks",
    "euro",
    "euros",
    "usd",
    "eur",
    "gbp",
    "cad",
    "aud",
    "jpy",
    "yen",
    "cent",
    "cents",
    "pound",
    "pounds",
    "quid",
    "percent",
    "%",
    "times",
    "x",
    "kg",
    "g",
    "gr",
    "grams",
    "lb",
    "lbs",
    "oz",
    "ml",
    "l",
    "liter",
    "liters",
    "litre",
    "litres",
    "cm",
    "mm",
    "m",
    "km",
    "mi",
    "miles",
    "mile",
    "inch",
    "inches",
    "ft",
    "feet",
    "foot",
    "yards",
    "calories",
    "kcal",
    "people",
    "persons",
    "reviews",
    "stars",
    "points",
    "pts",
    "followers",
    "likes",
    "mah",
    "gb",
    "tb",
    "mb",
    "kb",
    "w",
    "watt",
    "watts",
    "v",
    "volt",
    "volts",
    "hz",
    "mp",
    "dpi",
    "rpm",
    "bags",
    "bottles",
    "cans",
    "copies",
    "orders",
    "packages",
    "parcels",
    "customers",
    "users",
    "am",
    "pm",
    "th",
    "st",
    "nd",
    "rd",
    // Spanish
    "peso",
    "pesos",
    "dolares",
    "libras",
    "dias",
    "semanas",
    "meses",
    "anos",
    "años",
    "horas",
    "minutos",
    "veces",
    "unidades",
    "piezas",
    "articulos",
    "productos",
    "cajas",
    "pares",
];

/// Words before a number that make it something else than an order.
const BLOCKERS: &[&str] = &[
    "size",
    "sizes",
    "qty",
    "quantity",
    "x",
    "apt",
    "apartment",
    "suite",
    "ste",
    "unit",
    "room",
    "floor",
    "page",
    "pg",
    "version",
    "ver",
    "v",
    "model",
    "step",
    "route",
    "highway",
    "hwy",
    "rt",
    "pin",
    "zip",
    "zipcode",
    "plz",
    "postcode",
    "code",
    "year",
    "since",
    "extension",
    "ext",
    "call",
    "phone",
    "tel",
    "fax",
    "mobile",
    "cell",
    "sku",
    "item",
    "article",
    "art",
    "isbn",
    "ean",
    "upc",
    "gate",
    "flight",
    "seat",
    "approx",
    "than",
    "nearly",
    "almost",
    "row",
    "aisle",
    "channel",
];

#[derive(Debug, Clone)]
pub(super) struct OrderRules {
    keyword: Regex,
    hash: Regex,
    coded: Regex,
    /// "order1048", "cancelmyorder1048": the keyword glued to the digits.
    glued: Regex,
    custom: Vec<Regex>,
}

/// (start, end, value) of an order number.
pub(super) type Found = (usize, usize, String);

fn rx(p: &str) -> Regex {
    Regex::new(p).expect("built-in order regex compiles")
}

impl OrderRules {
    pub(super) fn new(custom: Vec<Regex>) -> Self {
        Self {
            keyword: rx(
                r"(?i-u)\b(?:order|ordr|oder|orde|odrer|ordre|oredr|ordder|orderr|ordeer|oder)s?\b[ \t]*(?:(?:number|numbr|nmber|nummer|num|no|nr|id|ref|reference)\b\.?[ \t]*)?(?:(?:is|was|=)[ \t]+)?(?::[ \t]*)?(#?[ \t]?[a-z0-9][a-z0-9-]{0,40})",
            ),
            hash: rx(r"(?-u)#[ ]?([0-9]{3,20})\b"),
            coded: rx(r"(?-u)\b[A-Z]{2,5}-[0-9]{2,}(?:-[0-9]+)*\b"),
            glued: rx(r"(?i-u)(?:order|ordr|oder)(?:number|no|num|nr)?#?([0-9]{3,12})\b"),
            custom,
        }
    }

    /// Explicit built-in order numbers (keyword, `#`, coded).
    pub(super) fn find_explicit(&self, text: &str, lower: &str, out: &mut Vec<Found>) {
        for c in self.keyword.captures_iter(text) {
            let Some(g) = c.get(1) else { continue };
            let raw = g.as_str();
            let lead = raw.len() - raw.trim_start_matches(['#', ' ', '\t']).len();
            let body_start = g.start() + lead;
            let body = raw[lead..].trim_end_matches('-');
            let body_end = body_start + body.len();
            if let Some(v) = explicit_value(text, lower, body, body_end) {
                let start = if raw.starts_with('#') {
                    g.start()
                } else {
                    body_start
                };
                out.push((start, body_end, v));
            }
        }
        if text.contains('#') {
            for c in self.hash.captures_iter(text) {
                let (Some(all), Some(g)) = (c.get(0), c.get(1)) else {
                    continue;
                };
                if matches!(super::util::prev_char(text, all.start()), Some(p) if p.is_alphanumeric() || p == '&')
                    || !num_end_ok(text, all.end())
                    || is_one_of(next_word(lower, all.end()), UNITS)
                {
                    continue;
                }
                out.push((all.start(), all.end(), g.as_str().to_string()));
            }
        }
        for c in self.glued.captures_iter(text) {
            if let Some(g) = c.get(1) {
                out.push((g.start(), g.end(), g.as_str().to_string()));
            }
        }
        if text.contains('-') {
            for m in self.coded.find_iter(text) {
                let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
                if digits >= 3 && num_end_ok(text, m.end()) {
                    out.push((m.start(), m.end(), m.as_str().to_string()));
                }
            }
        }
    }

    /// Matches of the store's own patterns (these win over built-in forms).
    pub(super) fn find_custom(&self, text: &str, out: &mut Vec<Found>) {
        for re in &self.custom {
            for c in re.captures_iter(text) {
                let Some(m) = c.get(1).or_else(|| c.get(0)) else {
                    continue;
                };
                let v = m.as_str().trim().trim_start_matches('#').trim();
                if v.is_empty() {
                    continue;
                }
                out.push((m.start(), m.end(), v.to_uppercase()));
            }
        }
    }
}

/// The value of the token after an order keyword, if it is an order number.
fn explicit_value(text: &str, lower: &str, body: &str, end: usize) -> Option<String> {
    if body.is_empty() || !num_end_ok(text, end) {
        return None;
    }
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    if body.bytes().all(|b| b.is_ascii_digit()) {
        if !(3..=20).contains(&digits) || is_one_of(next_word(lower, end), UNITS) {
            return None;
        }
        return Some(body.to_string());
    }
    // coded: starts with a letter, has digits, only letters/digits/dashes
    let first = body.bytes().next()?;
    if !first.is_ascii_alphabetic() || digits < 3 {
        return None;
    }
    Some(body.to_ascii_uppercase())
}

/// Whether a lone digit group `s..e` may be a bare order number.
pub(super) fn bare_ok(
    text: &str,
    lower: &str,
    s: usize,
    e: usize,
    nanp_region: bool,
    expecting_order: bool,
) -> bool {
    let d = &text.as_bytes()[s..e];
    let n = d.len();
    if !(3..=12).contains(&n) || !num_start_ok(text, s) || !num_end_ok(text, e) {
        return false;
    }
    if matches!(
        super::util::prev_char(text, s),
        Some('$' | '€' | '£' | '¥' | '#' | '+' | '(')
    ) {
        return false;
    }
    if n == 4 {
        let y = d.iter().fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
        if (1900..=2099).contains(&y) && !year_is_order(lower, s, e, expecting_order) {
            return false;
        }
    }
    // phone-like digit runs
    if n == 10 && nanp_region && d[0] >= b'2' && d[3] >= b'2' {
        return false;
    }
    if (n == 10 || n == 11) && d[0] == b'0' {
        return false;
    }
    if is_one_of(next_word(lower, e), UNITS) || is_one_of(prev_word(lower, s), BLOCKERS) {
        return false;
    }
    // a house number: a street suffix within the next three words
    !lower
        .get(e..)
        .unwrap_or("")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(3)
        .any(|w| is_one_of(w, STREET))
}

/// Month names and abbreviations (English and Spanish): a number next to one
/// is a date's year, not an order number.
const MONTHS: &[&str] = &[
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "setiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// Words right before a four-digit number that make it a year.
const YEAR_BEFORE: &[&str] = &[
    "in",
    "since",
    "from",
    "until",
    "till",
    "til",
    "before",
    "after",
    "during",
    "back",
    "circa",
    "around",
    "year",
    "early",
    "late",
    "mid",
    "class",
    "born",
    "est",
    "copyright",
    "summer",
    "winter",
    "spring",
    "fall",
    "autumn",
    "christmas",
    "xmas",
    "season",
    "fy",
    "año",
    "ano",
    "anio",
    "en",
    "desde",
    "hasta",
    "antes",
    "despues",
    "durante",
    "verano",
    "invierno",
    "navidad",
    "paid",
    "pay",
    "cost",
    "costs",
    "spent",
    "charged",
    "price",
    "total",
    "placed",
    "ordered",
    "bought",
    "purchased",
];

/// Words right after a four-digit number that make it a year (or a model year).
const YEAR_AFTER: &[&str] = &[
    "catalogue",
    "catalog",
    "catalogo",
    "collection",
    "coleccion",
    "edition",
    "season",
    "model",
    "models",
    "version",
    "lineup",
    "line",
    "range",
    "sale",
    "sales",
    "tax",
    "taxes",
    "calendar",
    "holiday",
    "holidays",
    "christmas",
    "summer",
    "winter",
    "spring",
    "fall",
    "autumn",
    "black",
    "cyber",
    "promo",
    "promotion",
    "order",
    "orders",
    "purchase",
    "purchases",
    "pedido",
    "pedidos",
    "compra",
    "compras",
    "invoice",
    "invoices",
    "statement",
    "bc",
    "ad",
];

/// Words right before a number that ask about an order by its number.
const ORDER_BEFORE: &[&str] = &[
    "is",
    "s",
    "of",
    "for",
    "about",
    "el",
    "pedido",
    "orden",
    "compra",
    "number",
    "numero",
    "número",
    "no",
    "nr",
    "nro",
    "and",
    "y",
    "track",
    "tracking",
    "status",
    "check",
    "on",
    "with",
    "update",
    "where",
    "wheres",
    "seguimiento",
    "rastreo",
    "rastrear",
    "estado",
    "sobre",
    "con",
    "es",
];

/// Words anywhere in a message that make it about orders and deliveries.
const ORDER_TALK: &[&str] = &[
    "order",
    "ordr",
    "oder",
    "where",
    "wheres",
    "status",
    "track",
    "tracking",
    "package",
    "parcel",
    "shipment",
    "shipped",
    "delivery",
    "delivered",
    "arrive",
    "arrived",
    "hasnt",
    "pedido",
    "orden",
    "compra",
    "paquete",
    "envio",
    "envío",
    "address",
    "direccion",
    "dirección",
    "llega",
    "llego",
    "estado",
    "donde",
    "rastreo",
    "seguimiento",
];

/// Whether a four-digit number from 1900 to 2099 at `s..e` is an order number
/// rather than a year (see the module docs).
fn year_is_order(lower: &str, s: usize, e: usize, expecting_order: bool) -> bool {
    let before = prev_word(lower, s);
    let before2 = if before.is_empty() {
        ""
    } else {
        // `before` is a slice of `lower`: the word before it
        let at = before.as_ptr() as usize - lower.as_ptr() as usize;
        prev_word(lower, at)
    };
    let talks_about_orders = || {
        lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| is_one_of(w, ORDER_TALK))
    };
    let year_context = match before {
        // "del 2019" is "from 2019", but "estado del 2013" asks about an
        // order, and so does "la dirección de envío del 2026" when nothing
        // else in the message speaks of dates ("compré en marzo del 2025").
        "del" => {
            !matches!(before2, "estado" | "seguimiento" | "rastreo" | "status")
                && (!talks_about_orders() || speaks_of_dates(lower))
        }
        // "en el 2019", "in the 2020 sale", "december of 2025", "marzo de 2024"
        "el" | "the" | "of" | "de" => is_one_of(before2, YEAR_BEFORE) || is_one_of(before2, MONTHS),
        w => is_one_of(w, YEAR_BEFORE) || is_one_of(w, MONTHS),
    } || is_one_of(next_word(lower, e), YEAR_AFTER);
    if year_context {
        return false;
    }
    expecting_order || is_one_of(before, ORDER_BEFORE) || talks_about_orders()
}

/// Whether a message names a month, a season or a year word anywhere.
fn speaks_of_dates(lower: &str) -> bool {
    lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| is_one_of(w, DATE_WORDS) || is_one_of(w, MONTHS))
}

/// Words that make a message speak of dates: months, seasons, years.
const DATE_WORDS: &[&str] = &[
    "year",
    "years",
    "month",
    "months",
    "año",
    "años",
    "ano",
    "anos",
    "anio",
    "mes",
    "meses",
    "summer",
    "winter",
    "spring",
    "autumn",
    "verano",
    "invierno",
    "primavera",
    "otoño",
    "otono",
    "navidad",
    "christmas",
];

const STREET: &[&str] = &[
    "st",
    "street",
    "ave",
    "avenue",
    "rd",
    "road",
    "blvd",
    "boulevard",
    "ln",
    "lane",
    "dr",
    "drive",
    "way",
    "ct",
    "court",
    "pl",
    "place",
    "pkwy",
    "parkway",
    "ter",
    "terrace",
    "cir",
    "circle",
    "hwy",
];
