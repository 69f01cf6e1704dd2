//! Creating trackers at a carrier-tracking service, so its webhooks tell
//! wismo about each shipment: AfterShip's Tracking API (versioned,
//! `POST /tracking/<version>/trackings`, key in `as-api-key`) and
//! EasyPost's Trackers (`POST /v2/trackers`, the key as the Basic user).
//!
//! Both are idempotent for wismo: AfterShip answers a tracking that exists
//! with `meta.code` 4003 (taken as done), EasyPost returns the tracker it
//! already has. Neither client waits for rate limits itself: a 429 comes
//! back as [`IntegrationError::Throttled`] with the wait the service asked
//! for, and the caller paces its calls (the server keeps one pace for all
//! its instances).

use std::time::Duration;

use serde_json::{json, Value};

use crate::IntegrationError;

/// A tracker the service holds for one tracking number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracker {
    /// The service's id (AfterShip's 32-hex id, EasyPost's `trk_…`).
    pub id: String,
    /// It existed before this call.
    pub existed: bool,
}

/// Why a tracker cannot be made, for good (a number the service rejects):
/// not worth retrying.
fn rejected(provider: &'static str, message: String) -> IntegrationError {
    IntegrationError::Refused { provider, message }
}

fn http() -> Result<reqwest::Client, IntegrationError> {
    crate::http_client("trackers", Some(Duration::from_secs(15)))
}

fn base(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// AfterShip's slug for a carrier name as stores write it; `None`: let
/// AfterShip detect it.
pub fn aftership_slug(carrier: &str) -> Option<&'static str> {
    let c = carrier.trim().to_ascii_lowercase();
    Some(match c.as_str() {
        "fedex" | "fed ex" | "federal express" => "fedex",
        "ups" | "united parcel service" => "ups",
        "usps" | "united states postal service" => "usps",
        "dhl" | "dhl express" => "dhl",
        "canada post" | "canadapost" => "canada-post",
        "royal mail" | "royalmail" => "royal-mail",
        "dpd" => "dpd",
        _ => return None,
    })
}

/// EasyPost's carrier name for a carrier name as stores write it.
pub fn easypost_carrier(carrier: &str) -> Option<&'static str> {
    let c = carrier.trim().to_ascii_lowercase();
    Some(match c.as_str() {
        "fedex" | "fed ex" | "federal express" => "FedEx",
        "ups" | "united parcel service" => "UPS",
        "usps" | "united states postal service" => "USPS",
        "dhl" | "dhl express" => "DHLExpress",
        "canada post" | "canadapost" => "CanadaPost",
        "royal mail" | "royalmail" => "RoyalMail",
        _ => return None,
    })
}

/// Seconds to wait from a 429: `Retry-After`, else AfterShip's
/// `X-RateLimit-Reset` (a Unix time), else one second.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let num = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(s) = num("retry-after") {
        return Duration::from_secs_f64(s.min(3600.0));
    }
    if let Some(reset) = num("x-ratelimit-reset") {
        let now = chrono::Utc::now().timestamp() as f64;
        return Duration::from_secs_f64((reset - now).clamp(0.0, 3600.0).max(0.2));
    }
    Duration::from_secs(1)
}

/// AfterShip's Tracking API.
pub struct AfterShip {
    http: reqwest::Client,
    base: String,
    key: String,
    version: String,
}

impl std::fmt::Debug for AfterShip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterShip")
            .field("base", &self.base)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl AfterShip {
    const PROVIDER: &'static str = "aftership";

    /// `base`: `https://api.aftership.com` (or a mock); `version`: e.g.
    /// `2026-01`.
    pub fn new(base_url: &str, key: &str, version: &str) -> Result<AfterShip, IntegrationError> {
        let version = version.trim();
        let valid_version = version.len() == 7
            && version.as_bytes()[4] == b'-'
            && version
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 4 || b.is_ascii_digit());
        if key.trim().is_empty() || !valid_version {
            return Err(IntegrationError::Config(
                Self::PROVIDER,
                "an API key and a version (YYYY-MM) are needed".into(),
            ));
        }
        Ok(AfterShip {
            http: http()?,
            base: base(base_url),
            key: key.trim().to_string(),
            version: version.to_string(),
        })
    }

    /// Checks the key (lists couriers).
    #[tracing::instrument(name = "aftership.check", skip_all)]
    pub async fn check(&self) -> Result<(), IntegrationError> {
        let url = format!("{}/tracking/{}/couriers", self.base, self.version);
        let res = self
            .http
            .get(url)
            .header("as-api-key", &self.key)
            .send()
            .await
            .map_err(|e| connect(Self::PROVIDER, &e))?;
        checked(Self::PROVIDER, &res)
    }

    /// Creates the tracking of `number` (carrier `carrier` when known), tied
    /// to `order_number`.
    #[tracing::instrument(name = "aftership.create_tracking", skip_all)]
    pub async fn create(
        &self,
        number: &str,
        carrier: Option<&str>,
        order_number: &str,
    ) -> Result<Tracker, IntegrationError> {
        let mut body = json!({"tracking_number": number, "order_number": order_number, "order_id": order_number});
        if let Some(slug) = carrier.and_then(aftership_slug) {
            body["slug"] = json!(slug);
        }
        let url = format!("{}/tracking/{}/trackings", self.base, self.version);
        let res = self
            .http
            .post(url)
            .header("as-api-key", &self.key)
            .json(&body)
            .send()
            .await
            .map_err(|e| connect(Self::PROVIDER, &e))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        let code = v.pointer("/meta/code").and_then(Value::as_i64);
        let id = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        match (status, code) {
            (200..=299, _) => Ok(Tracker {
                id: id("/data/id")
                    .or_else(|| id("/data/tracking/id"))
                    .ok_or_else(|| bad(Self::PROVIDER, "no tracking id"))?,
                existed: false,
            }),
            (_, Some(4003)) => Ok(Tracker {
                id: id("/data/tracking/id")
                    .or_else(|| id("/data/id"))
                    .unwrap_or_default(),
                existed: true,
            }),
            (401 | 403, _) => Err(IntegrationError::Unauthorized(Self::PROVIDER)),
            (429, _) => Err(IntegrationError::Throttled {
                provider: Self::PROVIDER,
                retry_after: retry_after(&headers),
            }),
            (400..=499, _) => Err(rejected(
                Self::PROVIDER,
                v.pointer("/meta/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the tracking was refused")
                    .chars()
                    .take(200)
                    .collect(),
            )),
            (s, _) => Err(IntegrationError::Status {
                provider: Self::PROVIDER,
                status: s,
            }),
        }
    }
}

/// EasyPost's Trackers API.
pub struct EasyPost {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl std::fmt::Debug for EasyPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EasyPost")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl EasyPost {
    const PROVIDER: &'static str = "easypost";

    /// `base`: `https://api.easypost.com` (or a mock).
    pub fn new(base_url: &str, key: &str) -> Result<EasyPost, IntegrationError> {
        if key.trim().is_empty() {
            return Err(IntegrationError::Config(
                Self::PROVIDER,
                "an API key is needed".into(),
            ));
        }
        Ok(EasyPost {
            http: http()?,
            base: base(base_url),
            key: key.trim().to_string(),
        })
    }

    /// Checks the key (lists one tracker).
    #[tracing::instrument(name = "easypost.check", skip_all)]
    pub async fn check(&self) -> Result<(), IntegrationError> {
        let res = self
            .http
            .get(format!("{}/v2/trackers", self.base))
            .query(&[("page_size", "1")])
            .basic_auth(&self.key, Some(""))
            .send()
            .await
            .map_err(|e| connect(Self::PROVIDER, &e))?;
        checked(Self::PROVIDER, &res)
    }

    /// Creates (or gets back) the tracker of `number`.
    #[tracing::instrument(name = "easypost.create_tracker", skip_all)]
    pub async fn create(
        &self,
        number: &str,
        carrier: Option<&str>,
    ) -> Result<Tracker, IntegrationError> {
        let mut tracker = json!({"tracking_code": number});
        if let Some(c) = carrier.and_then(easypost_carrier) {
            tracker["carrier"] = json!(c);
        }
        let res = self
            .http
            .post(format!("{}/v2/trackers", self.base))
            .basic_auth(&self.key, Some(""))
            .json(&json!({ "tracker": tracker }))
            .send()
            .await
            .map_err(|e| connect(Self::PROVIDER, &e))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        match status {
            200..=299 => {
                let id = v["id"]
                    .as_str()
                    .filter(|id| id.starts_with("trk_"))
                    .ok_or_else(|| bad(Self::PROVIDER, "no tracker id"))?;
                let created = v["created_at"].as_str();
                let updated = v["updated_at"].as_str();
                Ok(Tracker {
                    id: id.to_string(),
                    // EasyPost returns the tracker it had: older than now.
                    existed: created.is_some() && created != updated,
                })
            }
            401 | 403 => Err(IntegrationError::Unauthorized(Self::PROVIDER)),
            429 => Err(IntegrationError::Throttled {
                provider: Self::PROVIDER,
                retry_after: retry_after(&headers),
            }),
            400..=499 => Err(rejected(
                Self::PROVIDER,
                v.pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the tracker was refused")
                    .chars()
                    .take(200)
                    .collect(),
            )),
            s => Err(IntegrationError::Status {
                provider: Self::PROVIDER,
                status: s,
            }),
        }
    }
}

/// A connection check's answer: 200 is fine, the rest says why not.
fn checked(provider: &'static str, res: &reqwest::Response) -> Result<(), IntegrationError> {
    match res.status().as_u16() {
        200 => Ok(()),
        401 | 403 => Err(IntegrationError::Unauthorized(provider)),
        429 => Err(IntegrationError::Throttled {
            provider,
            retry_after: retry_after(res.headers()),
        }),
        s => Err(IntegrationError::Status {
            provider,
            status: s,
        }),
    }
}

fn connect(provider: &'static str, e: &reqwest::Error) -> IntegrationError {
    if e.is_timeout() {
        IntegrationError::Timeout(provider)
    } else {
        IntegrationError::Connect {
            provider,
            message: crate::without_url(e),
        }
    }
}

fn bad(provider: &'static str, message: &str) -> IntegrationError {
    IntegrationError::BadResponse {
        provider,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_names_as_stores_write_them() {
        assert_eq!(aftership_slug("FedEx"), Some("fedex"));
        assert_eq!(aftership_slug(" DHL Express "), Some("dhl"));
        assert_eq!(aftership_slug("Pony Express"), None);
        assert_eq!(easypost_carrier("USPS"), Some("USPS"));
        assert_eq!(easypost_carrier("dhl"), Some("DHLExpress"));
        assert_eq!(easypost_carrier("Local courier"), None);
    }

    #[test]
    fn settings_are_checked() {
        assert!(AfterShip::new("https://api.aftership.com", "", "2026-01").is_err());
        assert!(AfterShip::new("https://api.aftership.com", "k", "v4").is_err());
        assert!(AfterShip::new("https://api.aftership.com", "k", "2026-01").is_ok());
        assert!(EasyPost::new("https://api.easypost.com", " ").is_err());
    }
}
