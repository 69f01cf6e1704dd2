//! Carrier-tracking services' webhooks: AfterShip (`aftership-hmac-sha256`,
//! base64 HMAC-SHA256 of the body) and EasyPost (`X-Hmac-Signature`,
//! `hmac-sha256-hex=` + hex HMAC-SHA256 of the body), read into the
//! canonical [`TrackingUpdate`]. Neither signs a timestamp header, but both
//! put the event's time inside the signed body, which is what a replay
//! check can trust.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use wismo_core::store::tracking::{TrackingStatus, TrackingUpdate};
use wismo_core::store::Checkpoint;

fn mac(secret: &[u8], body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    m.update(body);
    Some(m)
}

/// One delivery of a tracking service: its id (repeats share it), when the
/// service says the event happened (signed), and the update (`None` when
/// the event says nothing wismo uses, e.g. AfterShip `Pending`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingEvent {
    pub id: String,
    pub sent_at: DateTime<Utc>,
    pub update: Option<TrackingUpdate>,
}

/// A timestamp with or without an offset (AfterShip's checkpoint times are
/// sometimes the carrier's local time without one: read as UTC), or a bare
/// date (read as noon UTC, the same day nearly everywhere).
fn time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .map(|t| t.and_utc())
}

fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn place(parts: &[&Option<String>]) -> Option<String> {
    let joined = parts
        .iter()
        .filter_map(|p| text(p))
        .collect::<Vec<_>>()
        .join(", ");
    (!joined.is_empty()).then_some(joined)
}

pub mod aftership {
    use super::*;

    /// Whether `signature` (the `aftership-hmac-sha256` header) signs `body`.
    pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
        crate::base64_hmac_matches(secret.as_bytes(), body, signature)
    }

    /// The header value AfterShip would send (tests and mocks).
    pub fn sign(secret: &str, body: &[u8]) -> String {
        crate::base64_hmac(secret.as_bytes(), body)
    }

    #[derive(Debug, Deserialize)]
    struct Envelope {
        ts: i64,
        event_id: String,
        msg: Tracking,
    }

    #[derive(Debug, Deserialize)]
    struct Edd {
        datetime: Option<String>,
        estimated_delivery_date: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Tracking {
        tracking_number: String,
        slug: Option<String>,
        tag: String,
        subtag: Option<String>,
        updated_at: Option<String>,
        shipment_delivery_date: Option<String>,
        latest_estimated_delivery: Option<Edd>,
        courier_estimated_delivery_date: Option<Edd>,
        aftership_estimated_delivery_date: Option<Edd>,
        #[serde(default)]
        checkpoints: Vec<AfterShipCheckpoint>,
    }

    #[derive(Debug, Deserialize)]
    struct AfterShipCheckpoint {
        checkpoint_time: Option<String>,
        tag: Option<String>,
        subtag: Option<String>,
        message: Option<String>,
        location: Option<String>,
        city: Option<String>,
        state: Option<String>,
        country_region_name: Option<String>,
    }

    /// Reads a webhook body (`tracking_update`, `edd_revise`, …).
    pub fn parse(body: &str) -> Result<TrackingEvent, String> {
        let e: Envelope = serde_json::from_str(body).map_err(|e| e.to_string())?;
        let sent_at = DateTime::from_timestamp(e.ts, 0).ok_or("`ts` is not a time")?;
        let t = e.msg;
        let Some(status) = TrackingStatus::from_aftership(&t.tag, t.subtag.as_deref()) else {
            return Ok(TrackingEvent {
                id: e.event_id,
                sent_at,
                update: None,
            });
        };
        // Checkpoints come oldest first; the newest with a time is the last scan.
        let last = t
            .checkpoints
            .iter()
            .filter_map(|c| Some((time(c.checkpoint_time.as_deref()?)?, c)))
            .max_by_key(|(at, _)| *at);
        let checkpoint = last.map(|(at, c)| Checkpoint {
            at,
            status: c
                .tag
                .as_deref()
                .and_then(|tag| TrackingStatus::from_aftership(tag, c.subtag.as_deref()))
                .unwrap_or(status),
            sub_status: text(&c.subtag),
            location: text(&c.location)
                .or_else(|| place(&[&c.city, &c.state, &c.country_region_name])),
            message: text(&c.message),
        });
        let edd = [
            &t.latest_estimated_delivery,
            &t.courier_estimated_delivery_date,
            &t.aftership_estimated_delivery_date,
        ]
        .into_iter()
        .flatten()
        .find_map(|d| {
            d.datetime
                .as_deref()
                .or(d.estimated_delivery_date.as_deref())
                .and_then(time)
        });
        Ok(TrackingEvent {
            id: e.event_id,
            sent_at,
            update: Some(TrackingUpdate {
                tracking_number: t.tracking_number.trim().to_string(),
                carrier: text(&t.slug),
                status,
                sub_status: text(&t.subtag),
                estimated_delivery_at: edd,
                delivered_at: t.shipment_delivery_date.as_deref().and_then(time),
                checkpoint,
                updated_at: t.updated_at.as_deref().and_then(time).unwrap_or(sent_at),
            }),
        })
    }
}

pub mod easypost {
    use super::*;

    const PREFIX: &str = "hmac-sha256-hex=";

    /// Whether `signature` (the `X-Hmac-Signature` header) signs `body`.
    /// The secret must be ASCII (EasyPost NFKD-normalises secrets; for
    /// ASCII that changes nothing, and wismo refuses other secrets).
    pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
        let Some(hex) = signature.trim().strip_prefix(PREFIX) else {
            return false;
        };
        let Some(given) = decode_hex(hex) else {
            return false;
        };
        mac(secret.as_bytes(), body).is_some_and(|m| m.verify_slice(&given).is_ok())
    }

    /// The header value EasyPost would send (tests and mocks).
    pub fn sign(secret: &str, body: &[u8]) -> String {
        let Some(m) = mac(secret.as_bytes(), body) else {
            return String::new();
        };
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{PREFIX}{hex}")
    }

    fn decode_hex(s: &str) -> Option<Vec<u8>> {
        if s.len() % 2 != 0 {
            return None;
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    }

    #[derive(Debug, Deserialize)]
    struct Event {
        id: String,
        object: String,
        description: String,
        created_at: String,
        result: Option<serde_json::Value>,
    }

    #[derive(Debug, Deserialize)]
    struct Tracker {
        tracking_code: String,
        status: String,
        status_detail: Option<String>,
        carrier: Option<String>,
        est_delivery_date: Option<String>,
        updated_at: Option<String>,
        #[serde(default)]
        tracking_details: Vec<Detail>,
    }

    #[derive(Debug, Deserialize)]
    struct Location {
        city: Option<String>,
        state: Option<String>,
        country: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Detail {
        message: Option<String>,
        status: Option<String>,
        status_detail: Option<String>,
        datetime: Option<String>,
        tracking_location: Option<Location>,
    }

    /// Reads a webhook body (an `Event`; `tracker.created` and
    /// `tracker.updated` carry a Tracker, other events are passed over).
    pub fn parse(body: &str) -> Result<TrackingEvent, String> {
        let e: Event = serde_json::from_str(body).map_err(|e| e.to_string())?;
        if e.object != "Event" {
            return Err(format!("`object` is {:?}, not \"Event\"", e.object));
        }
        let sent_at = time(&e.created_at).ok_or("`created_at` is not a time")?;
        let tracker: Tracker = match (e.description.as_str(), e.result) {
            ("tracker.created" | "tracker.updated", Some(t)) => {
                serde_json::from_value(t).map_err(|e| format!("result: {e}"))?
            }
            _ => {
                return Ok(TrackingEvent {
                    id: e.id,
                    sent_at,
                    update: None,
                })
            }
        };
        let Some(status) =
            TrackingStatus::from_easypost(&tracker.status, tracker.status_detail.as_deref())
        else {
            return Ok(TrackingEvent {
                id: e.id,
                sent_at,
                update: None,
            });
        };
        let last = tracker
            .tracking_details
            .iter()
            .filter_map(|d| Some((time(d.datetime.as_deref()?)?, d)))
            .max_by_key(|(at, _)| *at);
        let checkpoint = last.map(|(at, d)| Checkpoint {
            at,
            status: d
                .status
                .as_deref()
                .and_then(|s| TrackingStatus::from_easypost(s, d.status_detail.as_deref()))
                .unwrap_or(status),
            sub_status: text(&d.status_detail),
            location: d
                .tracking_location
                .as_ref()
                .and_then(|l| place(&[&l.city, &l.state, &l.country])),
            message: text(&d.message),
        });
        let delivered_at = (status == TrackingStatus::Delivered)
            .then(|| checkpoint.as_ref().map(|c| c.at))
            .flatten();
        Ok(TrackingEvent {
            id: e.id,
            sent_at,
            update: Some(TrackingUpdate {
                tracking_number: tracker.tracking_code.trim().to_string(),
                carrier: text(&tracker.carrier),
                status,
                sub_status: text(&tracker.status_detail),
                estimated_delivery_at: tracker.est_delivery_date.as_deref().and_then(time),
                delivered_at,
                checkpoint,
                updated_at: tracker
                    .updated_at
                    .as_deref()
                    .and_then(time)
                    .unwrap_or(sent_at),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_independently_computed_vectors() {
        // Computed with `openssl dgst -sha256 -hmac test_secret` (see docs/integrations/tracking.md).
        let body = br#"{"event":"tracking_update","msg":{"tag":"Delivered"}}"#;
        assert_eq!(
            aftership::sign("test_secret", body),
            "nhcFjKO/NwpFx1Wk2TtR2NcgMT5HfJOdXJOUjOfKH3M="
        );
        assert!(aftership::verify(
            "test_secret",
            body,
            "nhcFjKO/NwpFx1Wk2TtR2NcgMT5HfJOdXJOUjOfKH3M="
        ));
        assert!(!aftership::verify(
            "other",
            body,
            "nhcFjKO/NwpFx1Wk2TtR2NcgMT5HfJOdXJOUjOfKH3M="
        ));
        let body = br#"{"id":"evt_1","object":"Event","description":"tracker.updated"}"#;
        let sig =
            "hmac-sha256-hex=119946921247eb803b703f527875f6024d124cc0e2b5eea6aff67cd792780ffa";
        assert_eq!(easypost::sign("test_secret", body), sig);
        assert!(easypost::verify("test_secret", body, sig));
        assert!(!easypost::verify(
            "test_secret",
            body,
            &sig.replace("hmac-sha256-hex=", "")
        ));
        assert!(!easypost::verify("test_secret", body, "hmac-sha256-hex=zz"));
    }

    #[test]
    fn aftership_and_easypost_bodies_become_the_same_update() {
        let a = r#"{"ts": 1764900000, "event": "tracking_update", "event_id": "94dadd60-ed26-46d0-aa52-3ced925a50ff",
          "msg": {"tracking_number": "794600001234", "slug": "fedex", "tag": "Exception", "subtag": "Exception_013",
            "latest_estimated_delivery": {"datetime": "2026-12-05"},
            "checkpoints": [
              {"checkpoint_time": "2026-12-01T10:00:00-06:00", "tag": "InTransit", "message": "Picked up", "city": "Austin", "state": "TX"},
              {"checkpoint_time": "2026-12-03T21:14:00-06:00", "tag": "Exception", "subtag": "Exception_013",
               "message": "Package lost", "location": "Memphis, TN"}]}}"#;
        let e = aftership::parse(a).expect("parses");
        assert_eq!(e.id, "94dadd60-ed26-46d0-aa52-3ced925a50ff");
        let u = e.update.expect("update");
        assert_eq!(u.status, TrackingStatus::Exception);
        let c = u.checkpoint.expect("scan");
        assert_eq!(c.location.as_deref(), Some("Memphis, TN"));
        assert_eq!(c.message.as_deref(), Some("Package lost"));
        assert_eq!(c.at.to_rfc3339(), "2026-12-04T03:14:00+00:00");
        assert_eq!(
            u.estimated_delivery_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-12-05T12:00:00+00:00")
        );

        let p = r#"{"id": "evt_3f9c2a1b", "object": "Event", "description": "tracker.updated",
          "created_at": "2026-12-05T08:11:02Z",
          "result": {"object": "Tracker", "tracking_code": "781234567890", "status": "delivered",
            "status_detail": "arrived_at_destination", "carrier": "FedEx", "est_delivery_date": null,
            "tracking_details": [
              {"message": "Delivered", "status": "delivered", "status_detail": "arrived_at_destination",
               "datetime": "2026-12-05T08:10:00Z",
               "tracking_location": {"city": "ORLANDO", "state": "FL", "country": "US"}}]}}"#;
        let u = easypost::parse(p).expect("parses").update.expect("update");
        assert_eq!(u.status, TrackingStatus::Delivered);
        assert_eq!(
            u.delivered_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-12-05T08:10:00+00:00")
        );
        assert_eq!(
            u.checkpoint.and_then(|c| c.location).as_deref(),
            Some("ORLANDO, FL, US")
        );
        // Events that say nothing wismo uses.
        let pending = r#"{"ts": 1764900000, "event": "tracking_update", "event_id": "e2",
          "msg": {"tracking_number": "794600001234", "tag": "Pending", "checkpoints": []}}"#;
        assert!(aftership::parse(pending).expect("parses").update.is_none());
        assert!(easypost::parse(r#"{"id": "evt_2", "object": "Event", "description": "batch.created", "created_at": "2026-12-05T08:11:02Z", "result": {}}"#)
            .expect("parses").update.is_none());
        assert!(easypost::parse(r#"{"id": "x", "object": "Tracker", "description": "", "created_at": "2026-12-05T08:11:02Z"}"#).is_err());
    }
}
