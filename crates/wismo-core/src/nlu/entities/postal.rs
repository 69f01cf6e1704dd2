//! Postal codes.
//!
//! * UK (`SW1A 1AA`, starting with one of the 121 postcode areas) and Canada (`K1A 0B1`) codes have a shape of their own and
//!   are accepted when written in capitals, or in any case when the message
//!   gives postal context (see below). Normalised upper-case with one space.
//! * US ZIP+4 (`94105-1234`) is always a postal code.
//! * A bare five-digit number is ambiguous with an order number and is only a
//!   postal code with context: a keyword before it (`zip`, `zip code`,
//!   `zipcode`, `postcode`, `post code`, `postal code`, `PLZ`), a US state
//!   abbreviation in capitals right before it (`Austin, TX 78701`), or a
//!   German address (a city from a short list right after it, as in
//!   `10115 Berlin`, or `Straße`/`Str.`/`Germany`/`Deutschland` in the message
//!   and a capitalised word after it). `zip` and states give US, `PLZ` and
//!   German addresses DE, `postcode`/`postal code` the store's phone region
//!   (DE for a German store, else US).

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
        let caps_ok = |s: &str| keyword || !s.bytes().any(|b| b.is_ascii_lowercase());
        for m in self.uk.find_iter(text) {
            let s = m.as_str();
            if !caps_ok(s) {
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
            if !caps_ok(s) {
                continue;
            }
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
    german_store: bool,
) -> Option<PostalCountry> {
    // keyword shortly before (allowing "is", ":" and a few words)
    let before = lower.get(s.saturating_sub(24)..s).unwrap_or("");
    if before.contains("plz") {
        return Some(PostalCountry::DE);
    }
    if before.contains("zip") {
        return Some(PostalCountry::US);
    }
    if before.contains("postcode") || before.contains("post code") || before.contains("postal") {
        return Some(if german_store {
            PostalCountry::DE
        } else {
            PostalCountry::US
        });
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
