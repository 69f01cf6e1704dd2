//! Postal codes.
//!
//! * UK (`SW1A 1AA`, starting with one of the 121 postcode areas) and Canada
//!   (`K1A 0B1`) codes have a shape of their own and are accepted in any case,
//!   with or without the space (`sw1a1aa`, `k1a0b1`); a lower-case UK shape
//!   whose last part reads as an ordinal (`b2 2nd`) needs postal context.
//!   Normalised upper-case with one space.
//! * US ZIP+4 (`94105-1234`) is always a postal code; with postal context (or
//!   when the bot asked for one) also `94105 1234`, `941051234` and a ZIP
//!   typed in two parts (`78 704`), all normalised to `94105-1234` / `78704`.
//! * A bare five-digit number is ambiguous with an order number and is only a
//!   postal code with context: a keyword before it (`zip`, `zip code`,
//!   `zipcode`, `postcode`, `post code`, `postal code`, `PLZ`), a US state
//!   abbreviation in capitals right before it (`Austin, TX 78701`), or a
//!   German address (a city from a short list right after it, as in
//!   `10115 Berlin`, or `Straße`/`Str.`/`Germany`/`Deutschland` in the message
//!   and a capitalised word after it). `zip` and states give US, `PLZ` and
//!   German addresses DE, `postcode`/`postal code`/`código postal`/`CP` the
//!   store's market (DE for a German store, MX for a store selling in MXN,
//!   ES for a euro store asked in Spanish, else US).
//!
//! [`normalise_postal`] is the canonical form used to compare a code a
//! shopper typed with the one on an order.

use super::util::{num_end_ok, num_start_ok};
use super::PostalCountry;
use regex::Regex;

const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR",
];

const DE_CITIES: &[&str] = &[
    "Berlin",
    "Hamburg",
    "München",
    "Munich",
    "Köln",
    "Koeln",
    "Cologne",
    "Frankfurt",
    "Stuttgart",
    "Düsseldorf",
    "Duesseldorf",
    "Dortmund",
    "Essen",
    "Leipzig",
    "Bremen",
    "Dresden",
    "Hannover",
    "Nürnberg",
    "Nuernberg",
    "Duisburg",
    "Bochum",
    "Wuppertal",
    "Bielefeld",
    "Bonn",
    "Münster",
    "Muenster",
    "Karlsruhe",
    "Mannheim",
    "Augsburg",
    "Wiesbaden",
    "Freiburg",
    "Heidelberg",
    "Potsdam",
    "Kiel",
    "Mainz",
    "Erfurt",
    "Rostock",
];

/// The UK postcode areas (the letters that start every UK postcode).
const UK_AREAS: &[&str] = &[
    "AB", "AL", "B", "BA", "BB", "BD", "BF", "BH", "BL", "BN", "BR", "BS", "BT", "BX", "CA", "CB",
    "CF", "CH", "CM", "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT",
    "DY", "E", "EC", "EH", "EN", "EX", "FK", "FY", "G", "GL", "GU", "GY", "HA", "HD", "HG", "HP",
    "HR", "HS", "HU", "HX", "IG", "IM", "IP", "IV", "JE", "KA", "KT", "KW", "KY", "L", "LA", "LD",
    "LE", "LL", "LN", "LS", "LU", "M", "ME", "MK", "ML", "N", "NE", "NG", "NN", "NP", "NR", "NW",
    "OL", "OX", "PA", "PE", "PH", "PL", "PO", "PR", "RG", "RH", "RM", "S", "SA", "SE", "SG", "SK",
    "SL", "SM", "SN", "SO", "SP", "SR", "SS", "ST", "SW", "SY", "TA", "TD", "TF", "TN", "TQ", "TR",
    "TS", "TW", "UB", "W", "WA", "WC", "WD", "WF", "WN", "WR", "WS", "WV", "YO", "ZE",
];

/// The country of a five-digit code named by a generic keyword.
pub(super) fn market_country(market: Market, spanish: bool) -> PostalCountry {
    match market {
        Market::De => PostalCountry::DE,
        Market::Mx => PostalCountry::MX,
        Market::Euro if spanish => PostalCountry::ES,
        Market::Euro | Market::Us => PostalCountry::US,
    }
}

#[derive(Debug, Clone)]
pub(super) struct PostalRules {
    uk: Regex,
    ca: Regex,
    zip4: Regex,
}

pub(super) type Found = (usize, usize, String, PostalCountry);

fn rx(p: &str) -> Regex {
    Regex::new(p).expect("built-in postal regex compiles")
}

/// Whether the text mentions postal codes at all (`lower` is lower-cased).
pub(super) fn has_postal_keyword(lower: &str) -> bool {
    lower.contains("zip")
        || lower.contains("postcode")
        || lower.contains("post code")
        || lower.contains("postal")
        || lower.contains("plz")
        || lower.contains("c.p.")
        || lower.contains("cp")
            && lower
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == "cp")
}

/// Where the store sells, for five-digit codes named by a generic keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Market {
    Us,
    De,
    Mx,
    /// A euro store: Spanish keywords give ES, others US.
    Euro,
}

/// The country of a postal code, as written on an order (`"US"`, `"usa"`,
/// `"United Kingdom"`, `"México"`, ...).
fn country_of(hint: &str) -> Option<PostalCountry> {
    let h = hint.trim().to_lowercase();
    Some(match h.as_str() {
        "us" | "usa" | "u.s." | "u.s.a." | "united states" | "united states of america" => {
            PostalCountry::US
        }
        "gb" | "uk" | "united kingdom" | "great britain" | "england" | "scotland" | "wales"
        | "northern ireland" => PostalCountry::GB,
        "ca" | "canada" => PostalCountry::CA,
        "de" | "germany" | "deutschland" => PostalCountry::DE,
        "es" | "spain" | "españa" | "espana" => PostalCountry::ES,
        "mx" | "mexico" | "méxico" => PostalCountry::MX,
        _ => return None,
    })
}

/// The canonical form of a postal code, for comparing what a shopper typed
/// with the code on an order: US codes are the five-digit ZIP (`78704-1234`,
/// `78704 1234`, `787041234` and `78 704` are all `78704`); GB and CA codes
/// are upper-case without spaces (`sw1a 1aa` is `SW1A1AA`); DE, ES and MX
/// codes are their digits; any other code is its letters and digits in upper
/// case. `country_hint` is the order's country (ISO code or name); without
/// one, a nine-digit ZIP+4 is still cut to its ZIP.
pub fn normalise_postal(country_hint: Option<&str>, s: &str) -> String {
    let alnum: String = s
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let digits_only = !alnum.is_empty() && alnum.bytes().all(|b| b.is_ascii_digit());
    match country_hint.and_then(country_of) {
        Some(PostalCountry::US) => {
            let d: String = alnum.chars().filter(char::is_ascii_digit).collect();
            if d.len() >= 5 {
                d[..5].to_string()
            } else {
                d
            }
        }
        Some(PostalCountry::DE | PostalCountry::ES | PostalCountry::MX) if digits_only => alnum,
        Some(_) => alnum,
        None if digits_only && alnum.len() == 9 => alnum[..5].to_string(),
        None => alnum,
    }
}

impl PostalRules {
    pub(super) fn new() -> Self {
        Self {
            uk: rx(r"(?i-u)\b([a-z]{1,2}[0-9][a-z0-9]?) ?([0-9][abd-hjlnp-uw-z]{2})\b"),
            ca: rx(
                r"(?i-u)\b([abceghj-nprstvxy][0-9][abceghj-nprstv-z]) ?([0-9][abceghj-nprstv-z][0-9])\b",
            ),
            zip4: rx(r"(?-u)\b[0-9]{5}-[0-9]{4}\b"),
        }
    }

    /// Shaped codes (UK, CA, ZIP+4). `keyword` says whether the message has
    /// postal context.
    pub(super) fn find_shaped(&self, text: &str, keyword: bool, out: &mut Vec<Found>) {
        for m in self.uk.find_iter(text) {
            let s = m.as_str();
            // "b2 2nd": a lower-case ordinal, not a postcode, unless asked for one
            let lower_case = s.bytes().any(|b| b.is_ascii_lowercase());
            let tail = s.get(s.len().saturating_sub(2)..).unwrap_or("");
            if lower_case
                && !keyword
                && ["st", "nd", "rd", "th"]
                    .iter()
                    .any(|o| tail.eq_ignore_ascii_case(o))
            {
                continue;
            }
            let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let compact = compact.to_ascii_uppercase();
            let (outward, inward) = compact.split_at(compact.len().saturating_sub(3));
            // the outward code starts with a real postcode area
            let area_len = outward.bytes().take_while(u8::is_ascii_alphabetic).count();
            if !UK_AREAS.contains(&&outward[..area_len]) {
                continue;
            }
            out.push((
                m.start(),
                m.end(),
                format!("{outward} {inward}"),
                PostalCountry::GB,
            ));
        }
        for m in self.ca.find_iter(text) {
            let s = m.as_str();
            let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let compact = compact.to_ascii_uppercase();
            let (a, b) = compact.split_at(3);
            out.push((m.start(), m.end(), format!("{a} {b}"), PostalCountry::CA));
        }
        if text.contains('-') {
            for m in self.zip4.find_iter(text) {
                if num_start_ok(text, m.start()) && num_end_ok(text, m.end()) {
                    out.push((
                        m.start(),
                        m.end(),
                        m.as_str().to_string(),
                        PostalCountry::US,
                    ));
                }
            }
        }
    }
}

/// Decides whether the five-digit group at `s..e` is a postal code.
pub(super) fn five_digit(
    text: &str,
    lower: &str,
    s: usize,
    e: usize,
    market: Market,
) -> Option<PostalCountry> {
    // keyword shortly before (allowing "is", ":" and a few words)
    let from = (s.saturating_sub(24)..=s)
        .find(|&i| lower.is_char_boundary(i))
        .unwrap_or(s);
    let before = lower.get(from..s).unwrap_or("");
    if before.contains("plz") {
        return Some(PostalCountry::DE);
    }
    if before.contains("zip") {
        return Some(PostalCountry::US);
    }
    let spanish = before.contains("c.p")
        || before.contains("digo postal")
        || before
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "cp");
    if spanish
        || before.contains("postcode")
        || before.contains("post code")
        || before.contains("postal")
    {
        return Some(market_country(market, spanish));
    }
    // US state abbreviation right before, in capitals
    let raw_before = text.get(..s).unwrap_or("").trim_end_matches([' ', ',']);
    if raw_before.len() >= 2 {
        if let Some(tail) = raw_before.get(raw_before.len() - 2..) {
            let glued = raw_before
                .get(..raw_before.len() - 2)
                .and_then(|r| r.chars().next_back())
                .is_some_and(char::is_alphanumeric);
            if !glued && US_STATES.contains(&tail) {
                return Some(PostalCountry::US);
            }
        }
    }
    // German city right after
    let after = text.get(e..).unwrap_or("").trim_start_matches(' ');
    let word_end = after
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(after.len());
    let word = &after[..word_end];
    if !word.is_empty() {
        if DE_CITIES.contains(&word) {
            return Some(PostalCountry::DE);
        }
        let capitalised = word.chars().next().is_some_and(char::is_uppercase);
        if capitalised
            && (lower.contains("straße")
                || lower.contains("strasse")
                || lower.contains("str.")
                || lower.contains("germany")
                || lower.contains("deutschland"))
        {
            return Some(PostalCountry::DE);
        }
    }
    None
}

/// US ZIP codes typed in pieces, for messages with postal context: `78 704`,
/// `78704 1234` and `787041234` (digit groups `groups` of `text`).
pub(super) fn find_split_zips(text: &str, groups: &[(usize, usize)], out: &mut Vec<Found>) {
    let digits = |s: usize, e: usize| text.get(s..e).unwrap_or("");
    let lone = |s: usize, e: usize| num_start_ok(text, s) && num_end_ok(text, e);
    for (i, &(s, e)) in groups.iter().enumerate() {
        if e - s == 9 && lone(s, e) {
            let d = digits(s, e);
            out.push((s, e, format!("{}-{}", &d[..5], &d[5..]), PostalCountry::US));
            continue;
        }
        let Some(&(s2, e2)) = groups.get(i + 1) else {
            continue;
        };
        if s2 != e + 1 || text.as_bytes().get(e) != Some(&b' ') || !lone(s, e2) {
            continue;
        }
        match (e - s, e2 - s2) {
            (2, 3) => out.push((
                s,
                e2,
                format!("{}{}", digits(s, e), digits(s2, e2)),
                PostalCountry::US,
            )),
            (5, 4) => out.push((
                s,
                e2,
                format!("{}-{}", digits(s, e), digits(s2, e2)),
                PostalCountry::US,
            )),
            _ => {}
        }
    }
}
