//! The local mirror of a store's orders, kept fresh by the platform's
//! webhooks: each delivery is applied once (by the provider's delivery id),
//! never lets an older state overwrite a newer one, and is written in one
//! transaction. The merge rules are `wismo_core::store::mirror`'s.

use chrono::{DateTime, Duration, Utc};
use wismo_core::store::mirror::{
    apply_fulfillment, apply_refund, is_newer, keep_newer_fulfillments,
};
use wismo_core::store::shopify::WebhookChange;
use wismo_core::store::Order;

use crate::orders::micros;
use crate::{dispatch, with_pool, Db, StoreDbError};

/// How long a delivery id is remembered (providers stop retrying long
/// before: Shopify after 48 hours at most).
pub const DELIVERY_MEMORY: Duration = Duration::days(7);

/// What applying one delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorOutcome {
    /// The change was written to the order with this number.
    Applied(String),
    /// This delivery (provider and delivery id) was applied before.
    Duplicate,
    /// The mirror already holds a newer state of the order with this number.
    Stale(String),
    /// The mirror already holds exactly this state of the order.
    Unchanged(String),
    /// The change is about an order the mirror does not hold (a fulfilment
    /// or refund that arrived before its order); the order's own delivery
    /// will carry it.
    UnknownOrder,
}

impl MirrorOutcome {
    /// `applied`, `duplicate`, `stale` or `unknown_order`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MirrorOutcome::Applied(_) => "applied",
            MirrorOutcome::Duplicate => "duplicate",
            MirrorOutcome::Stale(_) => "stale",
            MirrorOutcome::Unchanged(_) => "unchanged",
            MirrorOutcome::UnknownOrder => "unknown_order",
        }
    }
}

/// The order as it should be stored after `change`, and the platform time
/// to store beside it; `Err(outcome)` when nothing is to be written.
fn merged(
    change: WebhookChange,
    stored: Option<(Order, Option<DateTime<Utc>>)>,
) -> Result<(Order, Option<DateTime<Utc>>), MirrorOutcome> {
    match change {
        WebhookChange::Order { order, updated_at } => {
            let mut order = *order;
            let updated_at = updated_at.map(micros);
            if let Some((old, old_at)) = stored {
                if !is_newer(updated_at, old_at) {
                    return Err(MirrorOutcome::Stale(old.number));
                }
                keep_newer_fulfillments(&mut order, &old);
            }
            Ok((order, updated_at))
        }
        WebhookChange::Fulfillment {
            fulfillment_id,
            fulfillment,
            updated_at,
            ..
        } => {
            let (mut order, old_at) = stored.ok_or(MirrorOutcome::UnknownOrder)?;
            if !apply_fulfillment(&mut order, &fulfillment_id, fulfillment) {
                return Err(MirrorOutcome::Stale(order.number));
            }
            // The order changed when its fulfilment did.
            let at = match (old_at, updated_at.map(micros)) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            Ok((order, at))
        }
        WebhookChange::Refund {
            refund, returned, ..
        } => {
            let (mut order, old_at) = stored.ok_or(MirrorOutcome::UnknownOrder)?;
            if !apply_refund(&mut order, refund, returned) {
                return Err(MirrorOutcome::Unchanged(order.number));
            }
            Ok((order, old_at))
        }
    }
}

impl Db {
    /// Applies one webhook delivery to the mirror in one transaction:
    /// recognises a repeated `delivery_id`, finds the order (by number for a
    /// whole order, by the platform's id for a fulfilment or refund), merges,
    /// writes, and remembers the delivery. Every server's order cache is
    /// told when an order changed.
    #[tracing::instrument(name = "store.mirror_apply", skip_all, fields(provider, outcome))]
    pub async fn apply_delivery(
        &self,
        provider: &str,
        delivery_id: &str,
        change: WebhookChange,
        now: DateTime<Utc>,
    ) -> Result<MirrorOutcome, StoreDbError> {
        self.apply_mirror(provider, Some(delivery_id), change, now)
            .await
    }

    /// Applies a change read from the provider's API (a lookup or a
    /// backfill): the same rules, no delivery id.
    #[tracing::instrument(name = "store.mirror_apply", skip_all, fields(provider, outcome))]
    pub async fn apply_fetched(
        &self,
        provider: &str,
        change: WebhookChange,
        now: DateTime<Utc>,
    ) -> Result<MirrorOutcome, StoreDbError> {
        self.apply_mirror(provider, None, change, now).await
    }

    async fn apply_mirror(
        &self,
        provider: &str,
        delivery_id: Option<&str>,
        change: WebhookChange,
        now: DateTime<Utc>,
    ) -> Result<MirrorOutcome, StoreDbError> {
        let now = micros(now);
        let outcome = dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            // Serialises with imports, actions and other servers' deliveries.
            b::lock_all(&mut tx).await?;
            let seen = match delivery_id {
                Some(id) => b::delivery_seen(&mut tx, provider, id).await?,
                None => false,
            };
            if seen {
                tx.rollback().await?;
                MirrorOutcome::Duplicate
            } else {
                let number: Option<String> = match &change {
                    WebhookChange::Order { order, .. } => Some(order.number.clone()),
                    WebhookChange::Fulfillment { order_id, .. }
                    | WebhookChange::Refund { order_id, .. } => {
                        sqlx::query_scalar("SELECT number FROM orders WHERE id = $1 ORDER BY number LIMIT 1")
                            .bind(order_id)
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                };
                let mut stored = None;
                if let Some(n) = &number {
                    if let Some(order) = b::load_order(&mut tx, &self.crypt, n).await? {
                        stored = Some((order, b::source_updated_at(&mut tx, n).await?));
                    }
                }
                let before = stored.clone();
                let outcome = match merged(change, stored)
                    .map(|(o, at)| (crate::orders::order_micros(o), at))
                {
                    Ok((order, at))
                        if before.as_ref().is_some_and(|(o, a)| *o == order && *a == at) =>
                    {
                        b::mark_mirrored(&mut tx, &order.number, now).await?;
                        MirrorOutcome::Unchanged(order.number)
                    }
                    Ok((order, at)) => {
                        b::write_sourced_order(&mut tx, &self.crypt, &order, at).await?;
                        b::mark_mirrored(&mut tx, &order.number, now).await?;
                        MirrorOutcome::Applied(order.number)
                    }
                    Err(outcome) => outcome,
                };
                if let Some(id) = delivery_id {
                    b::record_delivery(&mut tx, provider, id, outcome.as_str(), now).await?;
                }
                tx.commit().await?;
                outcome
            }
        });
        tracing::Span::current()
            .record("provider", provider)
            .record("outcome", outcome.as_str());
        if matches!(outcome, MirrorOutcome::Applied(_)) {
            self.orders.invalidate();
        }
        Ok(outcome)
    }

    /// Saves a provider's connection settings (JSON, credentials included),
    /// sealed with the data keys.
    pub async fn save_connection(
        &self,
        provider: &str,
        settings: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), StoreDbError> {
        let sealed = self
            .crypt
            .seal("integration_connections.settings", &settings.to_string())?;
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO integration_connections (provider, settings, updated_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (provider) DO UPDATE SET \
                 settings = excluded.settings, updated_at = excluded.updated_at",
            )
            .bind(provider)
            .bind(sealed)
            .bind(micros(now))
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// A provider's saved connection settings, if any.
    /// Claims delivery `delivery_id` of `provider` for a handler that
    /// changes nothing in the mirror (a dispute): `true` the first time, on
    /// whichever server; `false` for a repeat.
    pub async fn claim_delivery(
        &self,
        provider: &str,
        delivery_id: &str,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO integration_deliveries (provider, delivery_id, received_at, outcome) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (provider, delivery_id) DO NOTHING",
            )
            .bind(provider)
            .bind(delivery_id)
            .bind(micros(now))
            .bind(outcome)
            .execute(p)
            .await?
            .rows_affected()
                == 1
        }))
    }

    /// When the platform last told us about order `number` (`None`: never,
    /// e.g. an imported or demo order, or no such order).
    pub async fn mirrored_at(&self, number: &str) -> Result<Option<DateTime<Utc>>, StoreDbError> {
        let key = number.trim().trim_start_matches('#');
        let at: Option<Option<DateTime<Utc>>> = with_pool!(self, p => {
            sqlx::query_scalar("SELECT mirrored_at FROM orders WHERE number = $1")
                .bind(key)
                .fetch_optional(p)
                .await?
        });
        Ok(at.flatten())
    }

    pub async fn connection(
        &self,
        provider: &str,
    ) -> Result<Option<serde_json::Value>, StoreDbError> {
        let sealed: Option<String> = with_pool!(self, p => {
            sqlx::query_scalar("SELECT settings FROM integration_connections WHERE provider = $1")
                .bind(provider)
                .fetch_optional(p)
                .await?
        });
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let text = self
            .crypt
            .open("integration_connections.settings", &sealed)?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreDbError::Corrupt(format!("integration_connections.settings: {e}")))
    }
}
