//! Phone numbers, normalised to E.164.
//!
//! Written with a `+` and a country code, a number is accepted when its length
//! fits the country (NANP `+1`: 10 national digits with area code and exchange
//! starting 2-9; `+44`: 9-10; `+49`: 6-13; others 8-15 digits in total). A
//! `(0)` trunk digit is dropped (`+44 (0)20 ...`). Written nationally, it is
//! read in the store's default region first and then in the region implied by
//! the message's time zone (`Europe/London` -> GB, ...), so `07700 900123` is a
//! UK mobile for a GB store or for a shopper writing from London.
//! An unformatted digit run is only a national phone number when it has at
//! least 10 digits (`4155550123` in US/CA, `07700900123` in GB).

use chrono_tz::Tz;

/// Regions with national-format rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Region {
    Us,
    Ca,
    Gb,
    De,
    /// Another region with a trunk `0` and the given country calling code.
    Trunk0(&'static str),
}

/// Parses an ISO 3166 alpha-2 code (case-insensitive, `UK` accepted for GB).
pub(super) fn parse_region(code: &str) -> Option<Region> {
    let up = code.trim().to_ascii_uppercase();
    Some(match up.as_str() {
        "US" => Region::Us,
        "CA" => Region::Ca,
        "GB" | "UK" => Region::Gb,
        "DE" => Region::De,
        "AT" => Region::Trunk0("43"),
        "CH" => Region::Trunk0("41"),
        "FR" => Region::Trunk0("33"),
        "NL" => Region::Trunk0("31"),
        "IE" => Region::Trunk0("353"),
        "AU" => Region::Trunk0("61"),
        "BE" => Region::Trunk0("32"),
        "ES" => return None, // no trunk prefix; not supported nationally
        _ => return None,
    })
}

/// The region a time zone implies, if any.
pub(super) fn region_of_tz(tz: Tz) -> Option<Region> {
    let name = tz.name();
    Some(match name {
        "Europe/London" | "Europe/Belfast" => Region::Gb,
        "Europe/Berlin" | "Europe/Busingen" => Region::De,
        "Europe/Vienna" => Region::Trunk0("43"),
        "Europe/Zurich" => Region::Trunk0("41"),
        "Europe/Paris" => Region::Trunk0("33"),
        "Europe/Amsterdam" => Region::Trunk0("31"),
        "Europe/Dublin" => Region::Trunk0("353"),
        "Europe/Brussels" => Region::Trunk0("32"),
        "America/Toronto" | "America/Vancouver" | "America/Edmonton" | "America/Winnipeg"
        | "America/Halifax" | "America/St_Johns" | "America/Regina" => Region::Ca,
        n if n.starts_with("Australia/") => Region::Trunk0("61"),
        n if n.starts_with("America/") || n.starts_with("US/") || n == "Pacific/Honolulu" => {
            Region::Us
        }
        _ => return None,
    })
}

fn nanp(d: &[u8]) -> bool {
    d.len() == 10 && d[0] >= b'2' && d[3] >= b'2'
}

fn e164(cc: &str, national: &[u8]) -> String {
    let mut s = String::with_capacity(1 + cc.len() + national.len());
    s.push('+');
    s.push_str(cc);
    s.extend(national.iter().map(|&b| char::from(b)));
    s
}

/// A number written nationally in `region`.
pub(super) fn national(d: &[u8], region: Region) -> Option<String> {
    match region {
        Region::Us | Region::Ca => {
            if nanp(d) {
                Some(e164("1", d))
            } else if d.len() == 11 && d[0] == b'1' && nanp(&d[1..]) {
                Some(e164("1", &d[1..]))
            } else {
                None
            }
        }
        Region::Gb => ((d.len() == 10 || d.len() == 11)
            && d[0] == b'0'
            && matches!(d[1], b'1' | b'2' | b'3' | b'7' | b'8'))
        .then(|| e164("44", &d[1..])),
        Region::De => ((7..=12).contains(&d.len()) && d[0] == b'0' && d[1] != b'0')
            .then(|| e164("49", &d[1..])),
        Region::Trunk0(cc) => {
            ((9..=11).contains(&d.len()) && d[0] == b'0' && d[1] != b'0').then(|| e164(cc, &d[1..]))
        }
    }
}

const TWO_DIGIT_CC: &[&[u8]] = &[
    b"20", b"27", b"30", b"31", b"32", b"33", b"34", b"36", b"39", b"40", b"41", b"43", b"44",
    b"45", b"46", b"47", b"48", b"49", b"51", b"52", b"53", b"54", b"55", b"56", b"57", b"58",
    b"60", b"61", b"62", b"63", b"64", b"65", b"66", b"81", b"82", b"84", b"86", b"90", b"91",
    b"92", b"93", b"94", b"95", b"98",
];

/// A number written with `+`; `d` are the digits after the plus (a `(0)` trunk
/// digit already removed).
pub(super) fn international(d: &[u8]) -> Option<String> {
    if d.len() < 8 || d.len() > 16 || d[0] == b'0' {
        return None;
    }
    if d[0] == b'1' {
        return (d.len() == 11 && nanp(&d[1..])).then(|| e164("1", &d[1..]));
    }
    let cc_len = if d[0] == b'7' {
        1
    } else if TWO_DIGIT_CC.contains(&&d[..2]) {
        2
    } else {
        3
    };
    let cc = std::str::from_utf8(&d[..cc_len]).ok()?;
    let mut nat = &d[cc_len..];
    // a stray trunk zero written after the country code (not for Italy)
    if nat.first() == Some(&b'0') && cc != "39" {
        nat = &nat[1..];
    }
    let ok = match cc {
        "44" => (9..=10).contains(&nat.len()),
        "49" => (6..=13).contains(&nat.len()),
        _ => nat.len() >= 6,
    };
    (ok && cc_len + nat.len() <= 15).then(|| e164(cc, nat))
}
