//! Trackers at the carrier-tracking service (AfterShip or EasyPost) for
//! every tracking number the store's platform gives, so the service's
//! webhooks bring each shipment's scans.
//!
//! The rows are queued by the store in the transaction that writes the
//! fulfilment; any server claims due rows with a lease, takes a slot of the
//! pace every server shares (`rate_gates`, one call per `PACE`, half the
//! service's documented limit), calls, and records the outcome: made (or it
//! existed), refused for good, or retried with back-off (a 429's own wait).
//! No shopper ever waits on this.

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::Utc;
use wismo_integrations::trackers::{AfterShip, EasyPost, Tracker};
use wismo_integrations::IntegrationError;
use wismo_store::{DueTracker, TrackerOutcome};

use crate::config::TrackerServiceSettings;
use crate::Inner;

/// How long a server may take over a claimed tracker.
const LEASE: Duration = Duration::from_secs(60);
/// How often due trackers are looked for.
const TICK: Duration = Duration::from_secs(2);
/// Tries before a tracker is given up.
const MAX_ATTEMPTS: i32 = 10;

/// The service trackers are made at.
pub enum TrackerService {
    AfterShip(AfterShip),
    EasyPost(EasyPost),
}

impl TrackerService {
    pub fn from_settings(s: &TrackerServiceSettings) -> anyhow::Result<TrackerService> {
        Ok(match s {
            TrackerServiceSettings::AfterShip { url, key, version } => {
                TrackerService::AfterShip(AfterShip::new(url, key.expose(), version)?)
            }
            TrackerServiceSettings::EasyPost { url, key } => {
                TrackerService::EasyPost(EasyPost::new(url, key.expose())?)
            }
        })
    }

    fn name(&self) -> &'static str {
        match self {
            TrackerService::AfterShip(_) => "aftership",
            TrackerService::EasyPost(_) => "easypost",
        }
    }

    /// One call per this, across every server: AfterShip allows 20
    /// creations a second, EasyPost limits by load (5 a second on lists).
    fn pace(&self) -> Duration {
        match self {
            TrackerService::AfterShip(_) => Duration::from_millis(100),
            TrackerService::EasyPost(_) => Duration::from_millis(250),
        }
    }

    async fn create(&self, t: &DueTracker) -> Result<Tracker, IntegrationError> {
        match self {
            TrackerService::AfterShip(c) => {
                c.create(&t.tracking_number, t.carrier.as_deref(), &t.order_number)
                    .await
            }
            TrackerService::EasyPost(c) => c.create(&t.tracking_number, t.carrier.as_deref()).await,
        }
    }
}

/// Makes due trackers until the server stops.
pub async fn run(state: Weak<Inner>, service: Arc<TrackerService>) {
    loop {
        let Some(inner) = state.upgrade() else {
            return;
        };
        let db = inner.sessions.db.clone();
        drop(inner);
        let worked = match make_due(&db, &service).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "carrier trackers: a round failed");
                0
            }
        };
        if worked == 0 {
            tokio::time::sleep(TICK).await;
        }
    }
}

/// One round: claims due trackers and makes them at the shared pace.
async fn make_due(db: &wismo_store::Db, service: &TrackerService) -> anyhow::Result<usize> {
    let due = db.claim_trackers(Utc::now(), LEASE, 20).await?;
    for t in &due {
        let wait = db
            .rate_slot(service.name(), service.pace(), Utc::now())
            .await?;
        tokio::time::sleep(wait).await;
        let outcome = outcome(service, t, service.create(t).await);
        db.finish_tracker(t, &outcome, Utc::now()).await?;
    }
    Ok(due.len())
}

fn outcome(
    service: &TrackerService,
    t: &DueTracker,
    result: Result<Tracker, IntegrationError>,
) -> TrackerOutcome {
    match result {
        Ok(tracker) => {
            tracing::info!(
                provider = service.name(),
                existed = tracker.existed,
                "carrier tracker made"
            );
            TrackerOutcome::Created {
                provider: service.name().to_string(),
                tracker_id: tracker.id,
            }
        }
        Err(IntegrationError::Refused { message, .. }) => {
            tracing::warn!(provider = service.name(), "carrier tracker refused");
            TrackerOutcome::Failed(message)
        }
        Err(e) if t.attempts + 1 >= MAX_ATTEMPTS => TrackerOutcome::Failed(e.to_string()),
        Err(e) => {
            let backoff = Duration::from_secs(2u64.saturating_pow(t.attempts.clamp(0, 12) as u32))
                .min(Duration::from_secs(3600));
            let wait = e.retry_after().unwrap_or(backoff);
            tracing::warn!(provider = service.name(), error = %e, ?wait, "carrier tracker retried later");
            TrackerOutcome::Retry(wait, e.to_string())
        }
    }
}
