//! The webhook outbox: events waiting to be delivered, one row per
//! (event, target), kept until they are delivered or given up on ("dead").
//!
//! Writers push an event for every target in one transaction (idempotent per
//! `event_id` + `target`). Delivery workers — one per server, any number of
//! servers on one database — claim due rows with a *lease*: a claim sets
//! `locked_until` and counts the attempt in one statement, so no two claimers
//! get the same row (on PostgreSQL the candidate rows are locked with
//! `FOR UPDATE SKIP LOCKED`; on SQLite the statement runs under the
//! database-wide write lock). The claimer then reports the outcome —
//! delivered, retry later, dead — and those updates only apply while its
//! lease is still the row's (`locked_until` is the lease's token), so a
//! worker that was too slow cannot undo what a later claimer did. A row whose
//! lease ran out (its server died mid-delivery) is due again.
//!
//! All times are truncated to the microsecond before they are written, so
//! a claimed row's lease compares equal to what the database holds.

use chrono::{DateTime, Utc};

use crate::orders::micros;
use crate::{Db, Dialect, Pool, StoreDbError};

/// Runs `$body` with `$p` bound to the pool, whichever the dialect (every
/// outbox query is the same text on both).
macro_rules! on_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match &$db.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

/// The longest `last_error` kept, in characters.
pub const MAX_ERROR_CHARS: usize = 200;

/// A row claimed for delivery. Report its outcome with
/// [`Db::outbox_delivered`], [`Db::outbox_retry`], [`Db::outbox_dead`] or
/// [`Db::outbox_release`].
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxMessage {
    pub id: i64,
    pub event_id: String,
    pub target: String,
    pub kind: String,
    /// The exact JSON text to sign and send.
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Attempts so far, this one included (1 on the first claim).
    pub attempts: i64,
    /// The lease: the claimer owns the row until then.
    #[sqlx(rename = "locked_until")]
    pub lease_until: DateTime<Utc>,
}

/// One outbox row as stored (for status pages and tests).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxEntry {
    pub id: i64,
    pub event_id: String,
    pub target: String,
    pub kind: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub dead: bool,
}

/// Counts over the whole outbox, and the rows that failed most recently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Neither delivered nor dead (waiting, retrying or being sent).
    pub pending: u64,
    pub delivered: u64,
    /// Given up on after the last attempt.
    pub dead: u64,
    /// Undelivered rows with an error, the most recent attempt first.
    pub recent_failures: Vec<OutboxEntry>,
}

const ENTRY_COLUMNS: &str = "id, event_id, target, kind, body, created_at, attempts, \
     next_attempt_at, locked_until, last_attempt_at, delivered_at, last_error, dead";

fn check(field: &'static str, value: &str) -> Result<(), StoreDbError> {
    if value.contains('\0') {
        Err(StoreDbError::InvalidText(field))
    } else {
        Ok(())
    }
}

/// At most [`MAX_ERROR_CHARS`] characters, on one line.
fn short_error(error: &str) -> String {
    let one_line: String = error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() <= MAX_ERROR_CHARS {
        trimmed.to_string()
    } else {
        let mut s: String = trimmed.chars().take(MAX_ERROR_CHARS - 1).collect();
        s.push('…');
        s
    }
}

fn lease_duration(lease: std::time::Duration) -> Result<chrono::Duration, StoreDbError> {
    chrono::Duration::from_std(lease)
        .map_err(|_| StoreDbError::Corrupt("the lease is too long".to_string()))
}

impl Db {
    /// Queues one event for each of `targets`, in one transaction. A target
    /// that already has this `event_id` is left as it is (so pushing the same
    /// event again is harmless). Returns how many rows were added. The rows
    /// are due at once, after the earlier rows of the same `conversation`
    /// and target (see [`Db::outbox_claim`]).
    pub async fn outbox_push(
        &self,
        event_id: &str,
        kind: &str,
        body: &str,
        conversation: Option<&str>,
        targets: &[String],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreDbError> {
        check("event id", event_id)?;
        check("event type", kind)?;
        check("event body", body)?;
        check("conversation id", conversation.unwrap_or_default())?;
        for t in targets {
            check("webhook target", t)?;
        }
        if targets.is_empty() {
            return Ok(0);
        }
        let now = micros(now);
        let body = self.crypt().seal("outbox.body", body)?;
        on_pool!(self, p => {
            let mut tx = p.begin().await?;
            let mut added = 0;
            for target in targets {
                added += sqlx::query(
                    "INSERT INTO outbox (event_id, target, kind, body, created_at, attempts, \
                     next_attempt_at, dead, conversation_id) \
                     VALUES ($1, $2, $3, $4, $5, 0, $5, FALSE, $6) \
                     ON CONFLICT (event_id, target) DO NOTHING",
                )
                .bind(event_id)
                .bind(target)
                .bind(kind)
                .bind(&body)
                .bind(now)
                .bind(conversation)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    /// Claims up to `limit` due rows for `targets` (other targets' rows are
    /// left alone), oldest due first: each gets a lease until `now + lease`
    /// and its attempt counted, atomically, so concurrent claimers — in this
    /// process or on other servers — never get the same row. A row is due
    /// when it is neither delivered nor dead, its `next_attempt_at` is not
    /// after `now`, no lease on it runs past `now`, and no earlier row of
    /// the same target and conversation is still pending: each target gets
    /// a conversation's events one at a time, in the order they were pushed
    /// (a row waiting for its retry holds the later ones back; a dead row
    /// lets them go).
    pub async fn outbox_claim(
        &self,
        targets: &[String],
        limit: usize,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxMessage>, StoreDbError> {
        if targets.is_empty() || limit == 0 || targets.iter().any(|t| t.contains('\0')) {
            return Ok(Vec::new());
        }
        let now = micros(now);
        let until = micros(now + lease_duration(lease)?);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let placeholders: Vec<String> = (0..targets.len()).map(|i| format!("${}", i + 4)).collect();
        // PostgreSQL: lock the candidates, skipping rows another claimer is
        // taking right now. SQLite: one writer at a time does the same.
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET locked_until = $2, attempts = attempts + 1, last_attempt_at = $1 \
             WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND NOT dead \
             AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until <= $1) \
             AND target IN ({}) AND NOT EXISTS (SELECT 1 FROM outbox earlier \
             WHERE earlier.target = outbox.target AND earlier.conversation_id = outbox.conversation_id \
             AND earlier.id < outbox.id AND earlier.delivered_at IS NULL AND NOT earlier.dead) \
             ORDER BY next_attempt_at, id LIMIT $3{lock}) \
             RETURNING id, event_id, target, kind, body, created_at, attempts, locked_until",
            placeholders.join(", ")
        );
        let mut rows: Vec<OutboxMessage> = on_pool!(self, p => {
            let mut q = sqlx::query_as::<_, OutboxMessage>(&sql).bind(now).bind(until).bind(limit);
            for t in targets {
                q = q.bind(t);
            }
            q.fetch_all(p).await?
        });
        rows.sort_by_key(|r| r.id);
        for r in &mut rows {
            r.body = self.crypt().open("outbox.body", &r.body)?;
        }
        Ok(rows)
    }

    /// Marks a claimed row delivered (also when its lease ran out meanwhile:
    /// it *was* delivered). False when it was already marked.
    pub async fn outbox_delivered(
        &self,
        message: &OutboxMessage,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreDbError> {
        let at = micros(at);
        let n = on_pool!(self, p => {
            sqlx::query(
                "UPDATE outbox SET delivered_at = $2, locked_until = NULL, last_error = NULL, \
                 dead = FALSE WHERE id = $1 AND delivered_at IS NULL",
            )
            .bind(message.id)
            .bind(at)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Ends a failed attempt: the row is due again at `next_attempt_at`, with
    /// `error` (shortened to [`MAX_ERROR_CHARS`]) as its last error. False
    /// (and nothing changed) when the lease is no longer this claim's.
    pub async fn outbox_retry(
        &self,
        message: &OutboxMessage,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, StoreDbError> {
        let n = on_pool!(self, p => {
            sqlx::query(
                "UPDATE outbox SET next_attempt_at = $3, locked_until = NULL, last_error = $4 \
                 WHERE id = $1 AND locked_until = $2 AND delivered_at IS NULL AND NOT dead",
            )
            .bind(message.id)
            .bind(micros(message.lease_until))
            .bind(micros(next_attempt_at))
            .bind(short_error(error))
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Gives up on a claimed row: it is never tried again. False (and nothing
    /// changed) when the lease is no longer this claim's.
    pub async fn outbox_dead(
        &self,
        message: &OutboxMessage,
        error: &str,
    ) -> Result<bool, StoreDbError> {
        let n = on_pool!(self, p => {
            sqlx::query(
                "UPDATE outbox SET dead = TRUE, locked_until = NULL, last_error = $3 \
                 WHERE id = $1 AND locked_until = $2 AND delivered_at IS NULL AND NOT dead",
            )
            .bind(message.id)
            .bind(micros(message.lease_until))
            .bind(short_error(error))
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Gives a claimed row back unsent (e.g. at shutdown): the lease ends and
    /// the attempt is not counted. False when the lease is no longer this
    /// claim's.
    pub async fn outbox_release(&self, message: &OutboxMessage) -> Result<bool, StoreDbError> {
        let n = on_pool!(self, p => {
            sqlx::query(
                "UPDATE outbox SET locked_until = NULL, attempts = attempts - 1 \
                 WHERE id = $1 AND locked_until = $2 AND delivered_at IS NULL AND NOT dead",
            )
            .bind(message.id)
            .bind(micros(message.lease_until))
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Counts pending, delivered and dead rows, with up to `recent` of the
    /// undelivered rows that have an error (most recent attempt first).
    pub async fn outbox_status(&self, recent: usize) -> Result<OutboxStatus, StoreDbError> {
        let recent = i64::try_from(recent).unwrap_or(i64::MAX);
        let ((pending, delivered, dead), recent_failures) = on_pool!(self, p => {
            let counts: (i64, i64, i64) = sqlx::query_as(
                "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL AND NOT dead), \
                 COUNT(*) FILTER (WHERE delivered_at IS NOT NULL), \
                 COUNT(*) FILTER (WHERE dead) FROM outbox",
            )
            .fetch_one(p)
            .await?;
            let failures = sqlx::query_as::<_, OutboxEntry>(&format!(
                "SELECT {ENTRY_COLUMNS} FROM outbox \
                 WHERE delivered_at IS NULL AND last_error IS NOT NULL \
                 ORDER BY last_attempt_at DESC, id DESC LIMIT $1"
            ))
            .bind(recent)
            .fetch_all(p)
            .await?;
            (counts, failures)
        });
        let mut recent_failures: Vec<OutboxEntry> = recent_failures;
        for r in &mut recent_failures {
            r.body = self.crypt().open("outbox.body", &r.body)?;
        }
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(OutboxStatus {
            pending: count(pending),
            delivered: count(delivered),
            dead: count(dead),
            recent_failures,
        })
    }

    /// Every row of one event (one per target), by id.
    pub async fn outbox_entries(&self, event_id: &str) -> Result<Vec<OutboxEntry>, StoreDbError> {
        if event_id.contains('\0') {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE event_id = $1 ORDER BY id");
        let mut rows: Vec<OutboxEntry> = on_pool!(self, p => {
            sqlx::query_as::<_, OutboxEntry>(&sql)
                .bind(event_id)
                .fetch_all(p)
                .await?
        });
        for r in &mut rows {
            r.body = self.crypt().open("outbox.body", &r.body)?;
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::short_error;

    #[test]
    fn errors_are_short_and_on_one_line() {
        assert_eq!(short_error(" HTTP 500\nInternal "), "HTTP 500 Internal");
        let long = "x".repeat(500);
        let s = short_error(&long);
        assert_eq!(s.chars().count(), super::MAX_ERROR_CHARS);
        assert!(s.ends_with('…'));
    }
}
