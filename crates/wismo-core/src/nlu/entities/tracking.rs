//! Carrier tracking numbers, recognised by format *and* check digit.
//!
//! * UPS: `1Z` + 15 alphanumerics + check digit (letters count as
//!   `(letter - 'A' + 2) mod 10`; odd positions weight 1, even weight 2; the
//!   check digit brings the sum to a multiple of 10). Single spaces may
//!   separate any characters (`1Z 999 AA1 01 2345 6784`).
//! * UPU S10 (international post, e.g. `EA123456785US`): 2 letters, 8 serial
//!   digits weighted 8,6,4,2,3,5,9,7, check `11 - sum mod 11` (10 -> 0,
//!   11 -> 5), 2-letter country. Carrier USPS for `US`, otherwise
//!   [`Carrier::Post`].
//! * USPS IMpb: 20-22 digits starting 91-95 (or the older 20-digit 03, 23, 70,
//!   71 prefixes), mod-10 check with weights 3,1,3,... from the right.
//! * FedEx: 15 digits with the same mod-10 check; 22-digit "96" Ground barcodes
//!   (the check covers the last 15 digits); 12 digits with weights 1,3,7 from
//!   the right, `sum mod 11 mod 10`. FedEx Ground Economy (SmartPost) numbers
//!   are USPS IMpb numbers and are reported as USPS.
//! * DHL Express: 10-digit waybill, the first nine digits mod 7.
//!
//! 12-digit FedEx and 10-digit DHL numbers have weak checks (1 in 11 and 1 in
//! 7 random numbers pass) and collide with order and phone numbers, so they
//! are only reported when the message talks about tracking or names the
//! carrier (`track`, `fedex`/`fed ex` resp. `dhl`, `waybill`, `awb`), and only
//! as a single unspaced digit run.

use super::Carrier;

/// Check digit value of one UPS character.
fn ups_value(c: u8) -> u32 {
    if c.is_ascii_digit() {
        u32::from(c - b'0')
    } else {
        u32::from(c.wrapping_sub(b'A').wrapping_add(2)) % 10
    }
}

/// `s` is 18 upper-case ASCII alphanumerics starting with `1Z`.
pub(super) fn ups_valid(s: &[u8]) -> bool {
    if s.len() != 18 || !s.starts_with(b"1Z") || !s.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let Some(&check) = s.last() else { return false };
    if !check.is_ascii_digit() {
        return false;
    }
    let sum: u32 = s[2..17]
        .iter()
        .enumerate()
        .map(|(i, &c)| ups_value(c) * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(check - b'0')
}

/// Mod-10 with weights 3,1,3,... starting at the rightmost data digit.
pub(super) fn mod10_31(d: &[u8]) -> bool {
    let Some((&check, data)) = d.split_last() else {
        return false;
    };
    let sum: u32 = data
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(check - b'0')
}

/// FedEx Express 12-digit: weights 1,3,7 from the right, mod 11 mod 10.
pub(super) fn fedex12_valid(d: &[u8]) -> bool {
    if d.len() != 12 {
        return false;
    }
    let Some((&check, data)) = d.split_last() else {
        return false;
    };
    const W: [u32; 3] = [1, 3, 7];
    let sum: u32 = data
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * W[i % 3])
        .sum();
    sum % 11 % 10 == u32::from(check - b'0')
}

/// DHL Express 10-digit waybill: first nine digits mod 7.
pub(super) fn dhl10_valid(d: &[u8]) -> bool {
    if d.len() != 10 {
        return false;
    }
    let n = d[..9]
        .iter()
        .fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
    n % 7 == u64::from(d[9] - b'0')
}

/// UPU S10 check digit for the 8 serial digits.
pub(super) fn s10_check(serial: &[u8]) -> u32 {
    const W: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    let sum: u32 = serial
        .iter()
        .zip(W)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        r => r,
    }
}

/// `s` is 13 upper-case chars `LLddddddddcLL`.
pub(super) fn s10_valid(s: &[u8]) -> bool {
    s.len() == 13
        && s[..2].iter().all(u8::is_ascii_uppercase)
        && s[2..11].iter().all(u8::is_ascii_digit)
        && s[11..].iter().all(u8::is_ascii_uppercase)
        && s10_check(&s[2..10]) == u32::from(s[10] - b'0')
}

/// Strength of a numeric tracking number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strength {
    Strong,
    /// Needs context (FedEx 12, DHL 10).
    Weak,
}

/// Classifies an all-digit string. `fedex_ctx` / `dhl_ctx` say whether the
/// message gives context for the weak formats.
pub(super) fn classify_digits(
    d: &[u8],
    fedex_ctx: bool,
    dhl_ctx: bool,
) -> Option<(Carrier, Strength)> {
    match d.len() {
        22 if d.starts_with(b"96") => {
            mod10_31(&d[7..]).then_some((Carrier::FedEx, Strength::Strong))
        }
        20..=22 => {
            let p = &d[..2];
            let usps_prefix = matches!(p, b"91" | b"92" | b"93" | b"94" | b"95")
                || (d.len() == 20 && matches!(p, b"03" | b"23" | b"70" | b"71"));
            (usps_prefix && mod10_31(d)).then_some((Carrier::Usps, Strength::Strong))
        }
        15 => mod10_31(d).then_some((Carrier::FedEx, Strength::Strong)),
        12 => (fedex_ctx && fedex12_valid(d)).then_some((Carrier::FedEx, Strength::Weak)),
        10 => (dhl_ctx && dhl10_valid(d)).then_some((Carrier::Dhl, Strength::Weak)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_examples() {
        assert!(ups_valid(b"1Z999AA10123456784"));
        assert!(!ups_valid(b"1Z999AA10123456785"));
        assert!(s10_valid(b"EA123456785US"));
        assert!(!s10_valid(b"EA123456784US"));
    }
}
