//! Telling a shopper about their order before they ask: which events are
//! worth a message under a store's rules ([`Proactive`]), and the message
//! itself (templates `proactive.*`, the order's own values). Deciding who
//! gets it, when, and only once is the server's; this stays pure.

use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, Utc};

use super::order_view::{self, days_late, order_vars};
use super::state::Event;
use super::Engine;
use crate::store::tracking::TrackingStatus;
use crate::store::Order;
use crate::workspace::profile::Proactive;

/// What a proactive message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    Exception,
    Late,
    OutForDelivery,
    AttemptFailed,
    Refund,
}

impl Notice {
    pub const ALL: [Notice; 5] = [
        Notice::Exception,
        Notice::Late,
        Notice::OutForDelivery,
        Notice::AttemptFailed,
        Notice::Refund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Exception => "exception",
            Notice::Late => "late",
            Notice::OutForDelivery => "out_for_delivery",
            Notice::AttemptFailed => "attempt_failed",
            Notice::Refund => "refund",
        }
    }

    pub fn parse(s: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The template it is said with.
    pub fn template(self) -> &'static str {
        match self {
            Notice::Exception => "proactive.exception",
            Notice::Late => "proactive.late",
            Notice::OutForDelivery => "proactive.out_for_delivery",
            Notice::AttemptFailed => "proactive.attempt_failed",
            Notice::Refund => "proactive.refund",
        }
    }
}

/// The notice a carrier update to `status` is worth under `rules`.
pub fn for_tracking(rules: &Proactive, status: TrackingStatus) -> Option<Notice> {
    match status {
        TrackingStatus::Exception | TrackingStatus::Returned if rules.exception => {
            Some(Notice::Exception)
        }
        TrackingStatus::OutForDelivery if rules.out_for_delivery => Some(Notice::OutForDelivery),
        TrackingStatus::AttemptFailed if rules.attempt_failed => Some(Notice::AttemptFailed),
        _ => None,
    }
}

/// Whether `order` is late enough at `now` for the late notice.
pub fn is_late_enough(
    rules: &Proactive,
    engine: &Engine,
    order: &Order,
    now: DateTime<Utc>,
) -> bool {
    rules.delay_days > 0
        && days_late(order, &engine.view(now)).is_some_and(|d| d >= i64::from(rules.delay_days))
}

/// When a message found at `now` may be sent: now, or the end of the quiet
/// hours (`quiet` in the store's time zone `tz`) it falls into.
pub fn send_at(
    quiet: Option<(NaiveTime, NaiveTime)>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let Some((start, end)) = quiet else {
        return now;
    };
    let local = now.with_timezone(&tz);
    let t = local.time();
    let inside = if start <= end {
        t >= start && t < end
    } else {
        t >= start || t < end
    };
    if !inside || start == end {
        return now;
    }
    let mut day = local.date_naive();
    if t >= end {
        day = day.succ_opt().unwrap_or(day);
    }
    day.and_time(end)
        .and_local_timezone(tz)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(now)
}

impl Engine {
    /// The message `notice` says about `order` in `locale`, as the event the
    /// conversation stores; `None` when the order has nothing to say it
    /// with (a template variant whose facts are missing).
    pub fn proactive_message(
        &self,
        order: &Order,
        notice: Notice,
        locale: &str,
        now: DateTime<Utc>,
    ) -> Option<Event> {
        let mut vars: HashMap<&'static str, String> = HashMap::new();
        order_vars(order, &self.view(now), locale, &mut vars);
        let pick = order.number.bytes().map(usize::from).sum::<usize>();
        let text = self
            .templates()
            .render(locale, notice.template(), pick, &vars)?;
        Some(Event::BotSaid {
            text,
            template: notice.template().to_string(),
            at: now,
            quick_replies: Vec::new(),
            order_card: None,
        })
    }
}

/// A proactive email's words: subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailText {
    pub subject: String,
    pub body: String,
}

impl Engine {
    /// The email `notice` sends about `order` in `locale`: the same words as
    /// the chat message, a subject (`email.subject`) and a footer with the
    /// unsubscribe link (`email.footer`). `None` when the message has
    /// nothing to say.
    pub fn proactive_email(
        &self,
        order: &Order,
        notice: Notice,
        locale: &str,
        now: DateTime<Utc>,
        store_name: &str,
        unsubscribe_url: &str,
    ) -> Option<EmailText> {
        let Some(Event::BotSaid { text, .. }) = self.proactive_message(order, notice, locale, now)
        else {
            return None;
        };
        let mut vars: HashMap<&'static str, String> = HashMap::new();
        vars.insert("order_number", one_line(&order.number));
        vars.insert("store_name", one_line(store_name));
        vars.insert("unsubscribe_url", unsubscribe_url.to_string());
        let subject = self.templates().render(locale, "email.subject", 0, &vars)?;
        let footer = self.templates().render(locale, "email.footer", 0, &vars)?;
        Some(EmailText {
            subject: one_line(&subject),
            body: format!("{text}\n\n-- \n{footer}\n"),
        })
    }
}

/// `s` without line breaks or other control characters (a header value).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Values the `proactive.*` templates may use (for docs and checks).
pub fn template_keys() -> &'static [&'static str] {
    order_view::OPTIONAL_KEYS
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn quiet_hours_push_a_message_to_their_end_in_the_stores_time_zone() {
        let quiet = crate::workspace::profile::parse_quiet_hours("21:00-08:00").ok();
        let tz: chrono_tz::Tz = "America/Chicago".parse().expect("tz");
        // 23:30 in Chicago (05:30 UTC next day): waits until 08:00 Chicago.
        let late = Utc
            .with_ymd_and_hms(2026, 12, 8, 5, 30, 0)
            .single()
            .expect("t");
        assert_eq!(
            send_at(quiet, tz, late),
            Utc.with_ymd_and_hms(2026, 12, 8, 14, 0, 0)
                .single()
                .expect("t")
        );
        // 07:00 Chicago: until 08:00 the same day.
        let early = Utc
            .with_ymd_and_hms(2026, 12, 8, 13, 0, 0)
            .single()
            .expect("t");
        assert_eq!(
            send_at(quiet, tz, early),
            Utc.with_ymd_and_hms(2026, 12, 8, 14, 0, 0)
                .single()
                .expect("t")
        );
        // Noon: now.
        let noon = Utc
            .with_ymd_and_hms(2026, 12, 8, 18, 0, 0)
            .single()
            .expect("t");
        assert_eq!(send_at(quiet, tz, noon), noon);
        assert_eq!(send_at(None, tz, late), late);
    }

    #[test]
    fn rules_choose_which_carrier_events_are_worth_a_message() {
        let mut rules = Proactive::default();
        assert_eq!(
            for_tracking(&rules, TrackingStatus::Exception),
            Some(Notice::Exception)
        );
        assert_eq!(
            for_tracking(&rules, TrackingStatus::Returned),
            Some(Notice::Exception)
        );
        assert_eq!(for_tracking(&rules, TrackingStatus::InTransit), None);
        rules.exception = false;
        assert_eq!(for_tracking(&rules, TrackingStatus::Exception), None);
        for n in Notice::ALL {
            assert_eq!(Notice::parse(n.as_str()), Some(n));
        }
    }
}
