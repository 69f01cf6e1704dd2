//! Proactive updates in the database: which conversations watch an order,
//! carrier updates applied to the mirror, and the queue of notices (one per
//! event and conversation, claimed with a lease by whichever server gets
//! there first, marked sent or skipped).

use std::time::Duration;

use chrono::{DateTime, Utc};
use wismo_core::store::tracking::{apply_tracking, TrackingUpdate};
use wismo_core::store::Order;

use crate::mirror::MirrorOutcome;
use crate::orders::micros;
use crate::{dispatch, with_pool, Db, Pool, StoreDbError};

/// A notice due to one conversation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueNotice {
    pub notice_key: String,
    pub conversation_id: String,
    pub order_number: String,
    pub kind: String,
}

const ORDERS_BY_TRACKING_SQLITE: &str = "SELECT DISTINCT f.order_number FROM fulfillments f, \
     json_each(f.tracking_numbers) t WHERE t.value = $1 ORDER BY f.order_number";
const ORDERS_BY_TRACKING_POSTGRES: &str = "SELECT DISTINCT order_number FROM fulfillments \
     WHERE tracking_numbers @> jsonb_build_array($1::text) ORDER BY order_number";

impl Db {
    /// Records that a conversation was shown this order (it will hear
    /// about it).
    pub async fn watch_order(
        &self,
        order_number: &str,
        conversation_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreDbError> {
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO order_watchers (order_number, conversation_id, since) \
                 VALUES ($1, $2, $3) ON CONFLICT (order_number, conversation_id) \
                 DO UPDATE SET since = EXCLUDED.since",
            )
            .bind(order_number)
            .bind(conversation_id)
            .bind(micros(at))
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Orders some conversation asked about since `since` (for the
    /// periodic lateness check).
    pub async fn watched_orders(&self, since: DateTime<Utc>) -> Result<Vec<String>, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT DISTINCT order_number FROM order_watchers WHERE since >= $1 ORDER BY order_number",
            )
            .bind(micros(since))
            .fetch_all(p)
            .await?
        }))
    }

    /// Applies a carrier update (one delivery of a tracking service) to
    /// every order with a fulfilment carrying its tracking number, in one
    /// transaction; a repeated delivery id changes nothing. Returns what
    /// happened and the orders as they now are.
    #[tracing::instrument(name = "store.tracking_apply", skip_all, fields(provider))]
    pub async fn apply_tracking_delivery(
        &self,
        provider: &str,
        delivery_id: &str,
        update: &TrackingUpdate,
        now: DateTime<Utc>,
    ) -> Result<(MirrorOutcome, Vec<Order>), StoreDbError> {
        let now = micros(now);
        let by_tracking = match &self.pool {
            Pool::Sqlite(_) => ORDERS_BY_TRACKING_SQLITE,
            Pool::Postgres(_) => ORDERS_BY_TRACKING_POSTGRES,
        };
        let (outcome, changed) = dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            b::lock_all(&mut tx).await?;
            if b::delivery_seen(&mut tx, provider, delivery_id).await? {
                tx.rollback().await?;
                (MirrorOutcome::Duplicate, Vec::new())
            } else {
                let numbers: Vec<String> = sqlx::query_scalar(by_tracking)
                    .bind(&update.tracking_number)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut changed = Vec::new();
                let mut first = None;
                let mut newer_stored = false;
                for n in &numbers {
                    let Some(mut order) = b::load_order(&mut tx, &self.crypt, n).await? else {
                        continue;
                    };
                    first.get_or_insert_with(|| n.clone());
                    newer_stored |= order.fulfillments.iter().any(|f| {
                        f.tracking_numbers.contains(&update.tracking_number)
                            && f.last_checkpoint.as_ref().is_some_and(|c| c.at > update.as_of())
                    });
                    if apply_tracking(&mut order, update) {
                        let order = crate::orders::order_micros(order);
                        // The platform's time stays: a carrier scan is not a platform change.
                        let at = b::source_updated_at(&mut tx, n).await?;
                        b::write_sourced_order(&mut tx, &self.crypt, &order, at).await?;
                        changed.push(order);
                    }
                }
                let outcome = match (changed.first(), first) {
                    (Some(o), _) => MirrorOutcome::Applied(o.number.clone()),
                    (None, Some(n)) if newer_stored => MirrorOutcome::Stale(n),
                    (None, Some(n)) => MirrorOutcome::Unchanged(n),
                    (None, None) => MirrorOutcome::UnknownOrder,
                };
                b::record_delivery(&mut tx, provider, delivery_id, outcome.as_str(), now).await?;
                tx.commit().await?;
                (outcome, changed)
            }
        });
        tracing::Span::current().record("provider", provider);
        if !changed.is_empty() {
            self.orders.invalidate();
        }
        Ok((outcome, changed))
    }

    /// Queues the notice `key` about `order_number` for every conversation
    /// that asked about the order since `watched_since`, due at `due_at`; a
    /// notice already queued for a conversation is not queued again.
    /// Returns how many were queued.
    pub async fn queue_notice(
        &self,
        key: &str,
        order_number: &str,
        kind: &str,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
        watched_since: DateTime<Utc>,
    ) -> Result<u64, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO notifications (notice_key, conversation_id, order_number, kind, created_at, due_at) \
                 SELECT $1, conversation_id, order_number, $3, $4, $5 FROM order_watchers \
                 WHERE order_number = $2 AND since >= $6 \
                 ON CONFLICT (notice_key, conversation_id) DO NOTHING",
            )
            .bind(key)
            .bind(order_number)
            .bind(kind)
            .bind(micros(now))
            .bind(micros(due_at))
            .bind(micros(watched_since))
            .execute(p)
            .await?
            .rows_affected()
        }))
    }

    /// Claims up to `limit` due notices for `lease` (another server takes
    /// over one whose lease ran out without it being finished).
    pub async fn claim_due_notices(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<DueNotice>, StoreDbError> {
        let now = micros(now);
        let until =
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        let pick = "SELECT notice_key, conversation_id FROM notifications \
             WHERE sent_at IS NULL AND due_at <= $1 AND (lease_until IS NULL OR lease_until < $1) \
             ORDER BY due_at LIMIT $3";
        let sql = match &self.pool {
            Pool::Sqlite(_) => format!(
                "UPDATE notifications SET lease_until = $2 WHERE (notice_key, conversation_id) IN ({pick}) \
                 RETURNING notice_key, conversation_id, order_number, kind"
            ),
            Pool::Postgres(_) => format!(
                "UPDATE notifications SET lease_until = $2 WHERE (notice_key, conversation_id) IN ({pick} FOR UPDATE SKIP LOCKED) \
                 RETURNING notice_key, conversation_id, order_number, kind"
            ),
        };
        Ok(with_pool!(self, p => {
            sqlx::query_as::<_, DueNotice>(&sql)
                .bind(now)
                .bind(until)
                .bind(limit)
                .fetch_all(p)
                .await?
        }))
    }

    /// Marks a claimed notice done: `sent`, or why not (`capped`,
    /// `nothing_to_say`, `conversation_gone`).
    pub async fn finish_notice(
        &self,
        n: &DueNotice,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreDbError> {
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE notifications SET sent_at = $3, outcome = $4, lease_until = NULL \
                 WHERE notice_key = $1 AND conversation_id = $2",
            )
            .bind(&n.notice_key)
            .bind(&n.conversation_id)
            .bind(micros(now))
            .bind(outcome)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Notices sent to a conversation since `since` (the daily cap).
    pub async fn notices_sent_since(
        &self,
        conversation_id: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM notifications WHERE conversation_id = $1 \
                 AND outcome = 'sent' AND sent_at >= $2",
            )
            .bind(conversation_id)
            .bind(micros(since))
            .fetch_one(p)
            .await?
        }))
    }
}
