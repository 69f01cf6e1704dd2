//! Trackers to make at the carrier-tracking service: one row per tracking
//! number (queued when the platform's fulfilment is written), claimed with
//! a lease by whichever server gets there first, retried with back-off;
//! and the shared pace (`rate_gates`) that keeps every server together
//! under a service's rate limit.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{with_pool, Db, Pool, StoreDbError};

/// A tracker to make.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueTracker {
    pub tracking_number: String,
    pub carrier: Option<String>,
    pub order_number: String,
    pub attempts: i32,
}

/// How a try ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerOutcome {
    /// Made (or it existed): the service's id.
    Created {
        provider: String,
        tracker_id: String,
    },
    /// Refused for good (a number the service rejects).
    Failed(String),
    /// Try again after `Duration` (throttled, down).
    Retry(Duration, String),
}

fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn us_after(t: DateTime<Utc>, d: Duration) -> i64 {
    us(t).saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl Db {
    /// Claims up to `limit` due trackers for `lease`.
    pub async fn claim_trackers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<DueTracker>, StoreDbError> {
        let pick = "SELECT tracking_number FROM carrier_trackers WHERE status = 'pending' \
             AND next_at <= $1 AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_at LIMIT $3";
        let sql = match &self.pool {
            Pool::Sqlite(_) => format!(
                "UPDATE carrier_trackers SET lease_until = $2 WHERE tracking_number IN ({pick}) \
                 RETURNING tracking_number, carrier, order_number, attempts"
            ),
            Pool::Postgres(_) => format!(
                "UPDATE carrier_trackers SET lease_until = $2 WHERE tracking_number IN ({pick} FOR UPDATE SKIP LOCKED) \
                 RETURNING tracking_number, carrier, order_number, attempts"
            ),
        };
        Ok(with_pool!(self, p => {
            sqlx::query_as::<_, DueTracker>(&sql)
                .bind(us(now))
                .bind(us_after(now, lease))
                .bind(limit)
                .fetch_all(p)
                .await?
        }))
    }

    /// Records how a claimed tracker's try ended.
    pub async fn finish_tracker(
        &self,
        t: &DueTracker,
        outcome: &TrackerOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreDbError> {
        let (status, provider, id, error, next) = match outcome {
            TrackerOutcome::Created {
                provider,
                tracker_id,
            } => (
                "created",
                Some(provider.as_str()),
                Some(tracker_id.as_str()),
                None,
                us(now),
            ),
            TrackerOutcome::Failed(e) => ("failed", None, None, Some(e.as_str()), us(now)),
            TrackerOutcome::Retry(after, e) => (
                "pending",
                None,
                None,
                Some(e.as_str()),
                us_after(now, *after),
            ),
        };
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE carrier_trackers SET status = $2, provider = COALESCE($3, provider), \
                 tracker_id = COALESCE($4, tracker_id), error = $5, next_at = $6, \
                 attempts = attempts + 1, lease_until = NULL WHERE tracking_number = $1",
            )
            .bind(&t.tracking_number)
            .bind(status)
            .bind(provider)
            .bind(id)
            .bind(error.map(|e| e.chars().take(300).collect::<String>()))
            .bind(next)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Trackers by status (`pending`, `created`, `failed`): for status
    /// pages and tests.
    pub async fn tracker_counts(&self) -> Result<Vec<(String, i64)>, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_as(
                "SELECT status, COUNT(*) FROM carrier_trackers GROUP BY status ORDER BY status",
            )
            .fetch_all(p)
            .await?
        }))
    }

    /// The next slot of the shared pace `name` (one call every `interval`
    /// across every server): how long to wait before calling.
    pub async fn rate_slot(
        &self,
        name: &str,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<Duration, StoreDbError> {
        let step = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
        let now_us = us(now);
        let sql = match &self.pool {
            Pool::Sqlite(_) => {
                "INSERT INTO rate_gates (name, next_at) VALUES ($1, $2 + $3) \
                 ON CONFLICT (name) DO UPDATE SET next_at = MAX(rate_gates.next_at, $2) + $3 \
                 RETURNING next_at"
            }
            Pool::Postgres(_) => {
                "INSERT INTO rate_gates (name, next_at) VALUES ($1, $2 + $3) \
                 ON CONFLICT (name) DO UPDATE SET next_at = GREATEST(rate_gates.next_at, $2) + $3 \
                 RETURNING next_at"
            }
        };
        let next: i64 = with_pool!(self, p => {
            sqlx::query_scalar(sql)
                .bind(name)
                .bind(now_us)
                .bind(step)
                .fetch_one(p)
                .await?
        });
        // The slot starts one step before the new next_at.
        let slot = next.saturating_sub(step);
        Ok(Duration::from_micros(
            u64::try_from(slot.saturating_sub(now_us)).unwrap_or(0),
        ))
    }
}
