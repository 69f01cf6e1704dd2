//! The durable event stream's cursor: which conversations have events not
//! yet published to the stream (NATS JetStream, `wismo.events.>`).
//!
//! With the stream on ([`Db::enable_event_stream`]), every append raises its
//! conversation's `event_stream.wanted_seq` in the append's own transaction,
//! so a committed event can never be forgotten. Relays — one per server, any
//! number of servers on one database — claim conversations that are behind
//! with a lease (like the outbox: on PostgreSQL `FOR UPDATE SKIP LOCKED`, on
//! SQLite under the write lock), publish their events after `streamed_seq`
//! in order, and then raise `streamed_seq` ([`Db::stream_advance`]). A relay
//! that dies mid-way leaves its lease to run out; the next one publishes the
//! same events again, which the stream drops as duplicates (each message's
//! id is `<conversation>:<seq>`). Both numbers only grow.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use crate::orders::micros;
use crate::{with_pool, Db, Dialect, StoreDbError};

/// A conversation claimed for publishing.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StreamClaim {
    pub conversation_id: String,
    /// Published up to here (inclusive).
    pub streamed_seq: i64,
    /// Committed up to here when claimed (the relay may find more).
    pub wanted_seq: i64,
    /// The claim's lease.
    pub lease_until: DateTime<Utc>,
}

impl Db {
    /// Turns the stream's bookkeeping on for this handle and every clone of
    /// it: from now on appends mark their conversation for the relay. Call
    /// it before serving; appends committed before it are not streamed.
    pub fn enable_event_stream(&self) {
        self.stream.store(true, Ordering::Relaxed);
    }

    /// Whether appends mark their conversation for the stream.
    pub fn event_stream_enabled(&self) -> bool {
        self.stream.load(Ordering::Relaxed)
    }

    /// Claims up to `limit` conversations whose events are not all
    /// published and that no live lease holds, each until `now + lease`.
    pub async fn stream_claim(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Vec<StreamClaim>, StoreDbError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = micros(now);
        let until = micros(
            now + chrono::Duration::from_std(lease)
                .map_err(|_| StoreDbError::Corrupt("the lease is too long".to_string()))?,
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE event_stream SET lease_until = $2 WHERE conversation_id IN \
             (SELECT conversation_id FROM event_stream WHERE wanted_seq > streamed_seq \
             AND (lease_until IS NULL OR lease_until <= $1) LIMIT $3{lock}) \
             RETURNING conversation_id, streamed_seq, wanted_seq, lease_until"
        );
        let mut rows: Vec<StreamClaim> = with_pool!(self, p => {
            sqlx::query_as::<_, StreamClaim>(&sql)
                .bind(now)
                .bind(until)
                .bind(limit)
                .fetch_all(p)
                .await?
        });
        rows.sort_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
        Ok(rows)
    }

    /// Records that the claimed conversation's events up to `seq` are
    /// published, and ends the claim's lease (if it is still this claim's).
    pub async fn stream_advance(&self, claim: &StreamClaim, seq: i64) -> Result<(), StoreDbError> {
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE event_stream SET \
                 streamed_seq = CASE WHEN $2 > streamed_seq THEN $2 ELSE streamed_seq END, \
                 lease_until = CASE WHEN lease_until = $3 THEN NULL ELSE lease_until END \
                 WHERE conversation_id = $1",
            )
            .bind(&claim.conversation_id)
            .bind(seq)
            .bind(micros(claim.lease_until))
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// How many conversations have events not yet published.
    pub async fn stream_backlog(&self) -> Result<u64, StoreDbError> {
        let (n,): (i64,) = with_pool!(self, p => {
            sqlx::query_as("SELECT COUNT(*) FROM event_stream WHERE wanted_seq > streamed_seq")
                .fetch_one(p)
                .await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl Db {
    /// This installation's id (random, made by the migrations; the same for
    /// every server on the database).
    pub async fn installation_id(&self) -> Result<String, StoreDbError> {
        let (id,): (String,) = with_pool!(self, p => {
            sqlx::query_as("SELECT id FROM installation LIMIT 1").fetch_one(p).await?
        });
        Ok(id)
    }
}
