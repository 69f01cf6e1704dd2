//! Dates, resolved against the message's local "today".
//!
//! * `today`, `tonight`, `yesterday`, `tomorrow`, `the day before yesterday`,
//!   `the day after tomorrow`.
//! * `3 days ago`, `a week ago`, `2 weeks ago`, `a month ago`, `in 3 days`,
//!   `in a week`, `in 2 weeks`.
//! * Weekdays: `last Tuesday` is the most recent Tuesday strictly before today;
//!   `next Monday` the first Monday strictly after today; `Tuesday`,
//!   `on Tuesday`, `this Friday`, `by Friday` the coming one, or today if it is
//!   that day. Abbreviations (`Tue`, `Sat`) need `on`/`this`/`next`/`last`/`by`.
//! * `Nov 3`, `November 3rd`, `3 Nov`, `3rd of November`, optional year and
//!   leading weekday (`Monday Nov 3`, `Mon, Nov 3 2026`); ISO `2026-11-03`;
//!   numeric dates are US month/day: `11/03`, `11/03/2026`, `11/03/26`; and the
//!   German `03.11.2026` (day.month.year, year required).
//! * Without a year, the occurrence nearest to today (previous, this or next
//!   year) is chosen, i.e. within six months either way.
//! * Impossible dates (`Feb 30`, `13/45`) are not dates.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use regex::Regex;

const MONTHS: &str = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";
const WEEKDAYS_FULL: &str = "monday|tuesday|wednesday|thursday|friday|saturday|sunday";
const WEEKDAYS_ALL: &str = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun";
const COUNT: &str =
    "[0-9]{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a\\s+couple\\s+of|couple\\s+of|a\\s+few|few";

#[derive(Debug, Clone)]
pub(super) struct DateRules {
    rel: Regex,
    ago: Regex,
    within: Regex,
    weekday: Regex,
    month_day: Regex,
    day_month: Regex,
    numeric: Regex,
    iso: Regex,
    dotted: Regex,
}

/// A date found: byte span and value.
pub(super) type Found = (usize, usize, NaiveDate);

fn rx(p: &str) -> Regex {
    Regex::new(p).expect("built-in date regex compiles")
}

impl DateRules {
    pub(super) fn new() -> Self {
        Self {
            rel: rx(
                r"(?i-u)\b(?:(?:the\s+)?day\s+before\s+yesterday|(?:the\s+)?day\s+after\s+(?:tomorrow|tmrw)|today|tonight|tonite|yesterday|tomorrow|tmrw)\b",
            ),
            ago: rx(&format!(
                r"(?i-u)\b({COUNT})\s+(days?|weeks?|months?)\s+ago\b"
            )),
            within: rx(&format!(
                r"(?i-u)\bin\s+({COUNT})\s+(days?|weeks?|months?)\b"
            )),
            weekday: rx(&format!(
                r"(?i-u)\b(?:(last|this\s+coming|this|next|coming|on|by|until|till)\s+)?({WEEKDAYS_ALL})\b"
            )),
            month_day: rx(&format!(
                r"(?i-u)\b(?:({WEEKDAYS_ALL}),?\s+)?(?:the\s+)?({MONTHS})\.?\s+([0-9]{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+([0-9]{{4}})\b)?"
            )),
            day_month: rx(&format!(
                r"(?i-u)\b(?:({WEEKDAYS_ALL}),?\s+)?(?:the\s+)?([0-9]{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTHS})\b\.?(?:,?\s+([0-9]{{4}})\b)?"
            )),
            numeric: rx(r"(?-u)\b([0-9]{1,2})/([0-9]{1,2})(?:/([0-9]{4}|[0-9]{2}))?\b"),
            iso: rx(r"(?-u)\b([0-9]{4})-([0-9]{2})-([0-9]{2})\b"),
            dotted: rx(r"(?-u)\b([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})\b"),
        }
    }

    /// All date candidates in `text` (`lower` is its ASCII lower-case copy).
    pub(super) fn find(
        &self,
        text: &str,
        lower: &str,
        has_digit: bool,
        today: NaiveDate,
        out: &mut Vec<Found>,
    ) {
        for m in self.rel.find_iter(lower) {
            let w = m.as_str();
            let d = if w.contains("before") {
                today.checked_sub_days(Days::new(2))
            } else if w.contains("after") {
                today.checked_add_days(Days::new(2))
            } else if w.starts_with("yes") {
                today.checked_sub_days(Days::new(1))
            } else if w.starts_with("to") && !w.starts_with("ton") && w != "today" || w == "tmrw" {
                today.checked_add_days(Days::new(1))
            } else {
                Some(today)
            };
            if let Some(d) = d {
                out.push((m.start(), m.end(), d));
            }
        }
        if lower.contains("ago") {
            for c in self.ago.captures_iter(lower) {
                let (Some(all), Some(n), Some(u)) = (c.get(0), c.get(1), c.get(2)) else {
                    continue;
                };
                if let Some(d) = count(n.as_str()).and_then(|n| shift(today, n, u.as_str(), false))
                {
                    out.push((all.start(), all.end(), d));
                }
            }
        }
        if lower.contains("in ") {
            for c in self.within.captures_iter(lower) {
                let (Some(all), Some(n), Some(u)) = (c.get(0), c.get(1), c.get(2)) else {
                    continue;
                };
                if let Some(d) = count(n.as_str()).and_then(|n| shift(today, n, u.as_str(), true)) {
                    out.push((all.start(), all.end(), d));
                }
            }
        }
        for c in self.weekday.captures_iter(lower) {
            let (Some(all), Some(wd)) = (c.get(0), c.get(2)) else {
                continue;
            };
            let modifier = c.get(1).map(|m| m.as_str());
            let wds = wd.as_str();
            if modifier.is_none() && !WEEKDAYS_FULL.split('|').any(|f| f == wds) {
                continue;
            }
            let Some(target) = weekday(wds) else { continue };
            let cur = today.weekday().num_days_from_monday() as i64;
            let tgt = target.num_days_from_monday() as i64;
            let ahead = (tgt - cur).rem_euclid(7);
            let (offset, start) = match modifier {
                Some("last") => (if ahead == 0 { -7 } else { ahead - 7 }, all.start()),
                Some("next") => (if ahead == 0 { 7 } else { ahead }, all.start()),
                Some(m) if m.starts_with("this") || m == "coming" => (ahead, all.start()),
                _ => (ahead, wd.start()),
            };
            if let Some(d) = add_days(today, offset) {
                out.push((start, all.end(), d));
            }
        }
        if !has_digit {
            return;
        }
        for c in self.month_day.captures_iter(lower) {
            let (Some(all), Some(mon), Some(day)) = (c.get(0), c.get(2), c.get(3)) else {
                continue;
            };
            if !super::util::num_end_ok(text, all.end()) {
                continue;
            }
            if let Some(d) = absolute(
                today,
                month(mon.as_str()),
                day.as_str(),
                c.get(4).map(|y| y.as_str()),
            ) {
                out.push((all.start(), all.end(), d));
            }
        }
        for c in self.day_month.captures_iter(lower) {
            let (Some(all), Some(day), Some(mon)) = (c.get(0), c.get(2), c.get(3)) else {
                continue;
            };
            if !super::util::num_start_ok(text, day.start()) {
                continue;
            }
            if let Some(d) = absolute(
                today,
                month(mon.as_str()),
                day.as_str(),
                c.get(4).map(|y| y.as_str()),
            ) {
                out.push((all.start(), all.end(), d));
            }
        }
        for c in self.numeric.captures_iter(text) {
            let (Some(all), Some(m), Some(d)) = (c.get(0), c.get(1), c.get(2)) else {
                continue;
            };
            if !super::util::num_start_ok(text, all.start())
                || !super::util::num_end_ok(text, all.end())
            {
                continue;
            }
            let year = c.get(3).map(|y| y.as_str());
            if let Some(v) = absolute(today, m.as_str().parse().ok(), d.as_str(), year) {
                out.push((all.start(), all.end(), v));
            }
        }
        for c in self.iso.captures_iter(text) {
            let (Some(all), Some(y), Some(m), Some(d)) = (c.get(0), c.get(1), c.get(2), c.get(3))
            else {
                continue;
            };
            if !super::util::num_start_ok(text, all.start())
                || !super::util::num_end_ok(text, all.end())
            {
                continue;
            }
            if let Some(v) = absolute(today, m.as_str().parse().ok(), d.as_str(), Some(y.as_str()))
            {
                out.push((all.start(), all.end(), v));
            }
        }
        if text.contains('.') {
            for c in self.dotted.captures_iter(text) {
                let (Some(all), Some(d), Some(m), Some(y)) =
                    (c.get(0), c.get(1), c.get(2), c.get(3))
                else {
                    continue;
                };
                if !super::util::num_start_ok(text, all.start())
                    || !super::util::num_end_ok(text, all.end())
                {
                    continue;
                }
                if let Some(v) =
                    absolute(today, m.as_str().parse().ok(), d.as_str(), Some(y.as_str()))
                {
                    out.push((all.start(), all.end(), v));
                }
            }
        }
    }
}

fn add_days(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    if n >= 0 {
        d.checked_add_days(Days::new(n.unsigned_abs()))
    } else {
        d.checked_sub_days(Days::new(n.unsigned_abs()))
    }
}

fn count(s: &str) -> Option<u32> {
    Some(match s.split_whitespace().next()? {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "couple" => 2,
        "few" => 3,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        n => n.parse().ok()?,
    })
    .map(|n| {
        if s.contains("couple") {
            2
        } else if s.contains("few") {
            3
        } else {
            n
        }
    })
}

fn shift(today: NaiveDate, n: u32, unit: &str, forward: bool) -> Option<NaiveDate> {
    if unit.starts_with("month") {
        let m = Months::new(n);
        return if forward {
            today.checked_add_months(m)
        } else {
            today.checked_sub_months(m)
        };
    }
    let days = if unit.starts_with("week") { n * 7 } else { n };
    let days = i64::from(days);
    add_days(today, if forward { days } else { -days })
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.get(..3)? {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn month(s: &str) -> Option<u32> {
    Some(match s.get(..3)? {
        "jan" => 1,
        "feb" => 2,
        "mar" => 3,
        "apr" => 4,
        "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    })
}

/// Resolves month/day/(year) against `today`.
fn absolute(
    today: NaiveDate,
    month: Option<u32>,
    day: &str,
    year: Option<&str>,
) -> Option<NaiveDate> {
    let month = month?;
    let day: u32 = day.parse().ok()?;
    if let Some(y) = year {
        let mut y: i32 = y.parse().ok()?;
        if y < 100 {
            y += 2000;
        }
        return NaiveDate::from_ymd_opt(y, month, day);
    }
    let base = today.year();
    [base - 1, base, base + 1]
        .into_iter()
        .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
        .min_by_key(|d| (*d - today).num_days().abs())
}
