//! Money amounts.
//!
//! Symbols (`$ € £ ¥ ₹`, `CA$`/`C$`, `A$`/`AU$`, `US$`, `NZ$`, `HK$`, `S$`),
//! ISO codes before or after the number (`USD 12.50`, `20 EUR`) and the words
//! `dollars`, `bucks`, `euros`, `yen`, `quid`. A bare `$` and the dollar words
//! mean the store's default currency when that is a dollar currency, otherwise
//! USD. "pounds" is not read as money (it is as often a weight).
//! Both `1,299.00` and `1.299,00` are understood: a final separator followed by
//! one or two digits is the decimal mark; groups of three are thousands.
//! Amounts with more decimals than the currency has (`¥500.5`) are rejected.

/// ISO 4217 codes this module knows, with their number of decimals.
const CURRENCIES: &[(&str, u32)] = &[
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("NZD", 2),
    ("CHF", 2),
    ("JPY", 0),
    ("CNY", 2),
    ("HKD", 2),
    ("SGD", 2),
    ("INR", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("RON", 2),
    ("BGN", 2),
    ("TRY", 2),
    ("ILS", 2),
    ("ZAR", 2),
    ("MXN", 2),
    ("BRL", 2),
    ("ARS", 2),
    ("CLP", 0),
    ("COP", 2),
    ("KRW", 0),
    ("TWD", 2),
    ("THB", 2),
    ("MYR", 2),
    ("IDR", 2),
    ("PHP", 2),
    ("VND", 0),
    ("AED", 2),
    ("SAR", 2),
    ("QAR", 2),
    ("KWD", 3),
    ("BHD", 3),
    ("OMR", 3),
    ("JOD", 3),
    ("TND", 3),
    ("ISK", 0),
    ("UAH", 2),
    ("EGP", 2),
    ("NGN", 2),
    ("KES", 2),
];

/// Dollar currencies a bare `$` can stand for.
const DOLLARS: &[&str] = &["USD", "CAD", "AUD", "NZD", "HKD", "SGD", "TWD", "MXN"];

/// The canonical code and decimals of a known ISO code (case-insensitive).
pub(super) fn currency(code: &str) -> Option<(&'static str, u32)> {
    CURRENCIES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code.trim()))
        .copied()
}

/// What a bare `$` means for a store whose default currency is `default`.
pub(super) fn dollar_for(default: &'static str) -> &'static str {
    if DOLLARS.contains(&default) {
        default
    } else {
        "USD"
    }
}

/// Currency of a symbol or word (ASCII lower-cased for letters).
pub(super) fn symbol_currency(sym: &str, dollar: &'static str) -> Option<&'static str> {
    let s = sym.trim().trim_end_matches('.');
    Some(match s.to_ascii_lowercase().as_str() {
        "$" | "dollar" | "dollars" | "buck" | "bucks" => dollar,
        "us$" => "USD",
        "ca$" | "c$" | "cad$" => "CAD",
        "a$" | "au$" => "AUD",
        "nz$" => "NZD",
        "hk$" => "HKD",
        "s$" => "SGD",
        "€" | "euro" | "euros" => "EUR",
        "£" | "quid" => "GBP",
        "¥" | "yen" => "JPY",
        "₹" => "INR",
        other => return currency(other).map(|(c, _)| c),
    })
}

/// Parses a number like `1,299.00`, `1.299,00`, `12,50`, `20` into
/// (integer part, fraction digits).
fn split_number(num: &str) -> Option<(u64, String)> {
    let last_sep = num.rfind(['.', ',']);
    let (int_part, frac) = match last_sep {
        Some(i) => {
            let tail = &num[i + 1..];
            if tail.len() <= 2 {
                (&num[..i], tail)
            } else {
                (num, "")
            }
        }
        None => (num, ""),
    };
    // thousands separators: one kind, groups of three after the first group
    let seps: Vec<char> = int_part
        .chars()
        .filter(|c| *c == '.' || *c == ',')
        .collect();
    if let Some(&first) = seps.first() {
        if seps.iter().any(|&c| c != first) {
            return None;
        }
        if let Some(i) = last_sep {
            if !frac.is_empty() && num[i..].starts_with(first) {
                return None;
            }
        }
        let mut groups = int_part.split(first);
        let head = groups.next()?;
        if head.is_empty() || head.len() > 3 || groups.any(|g| g.len() != 3) {
            return None;
        }
    }
    let digits: String = int_part.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    Some((digits.parse().ok()?, frac.to_string()))
}

/// The normalised amount string and minor units for `num` in a currency with
/// `decimals` decimals.
pub(super) fn amount(num: &str, decimals: u32) -> Option<(String, i64)> {
    let (int, frac) = split_number(num)?;
    if frac.len() > decimals as usize {
        return None;
    }
    let mut frac_full = frac;
    while frac_full.len() < decimals as usize {
        frac_full.push('0');
    }
    let frac_val: u64 = if frac_full.is_empty() {
        0
    } else {
        frac_full.parse().ok()?
    };
    let minor = int
        .checked_mul(10u64.checked_pow(decimals)?)?
        .checked_add(frac_val)?;
    let minor = i64::try_from(minor).ok()?;
    let text = if decimals == 0 {
        int.to_string()
    } else {
        format!("{int}.{frac_full}")
    };
    Some((text, minor))
}
