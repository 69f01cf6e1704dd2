//! Reads that tolerate lag, from a PostgreSQL streaming replica.
//!
//! [`Db::with_replica`] attaches a replica's pool (never migrated: the schema
//! arrives through replication); [`Db::replica_reads`] returns [`Reads`], the
//! only way to query it. Its methods are the lag-tolerant reads, and the
//! only ones that go to the replica:
//!
//! * analytics: [`Reads::conversations_since`], [`Reads::handoffs_since`],
//!   [`Reads::csat_since`] (`GET /v1/admin/resolutions`);
//! * lists: [`Reads::store_versions`], [`Reads::active_store_version`]
//!   (`GET /v1/admin/store/versions`), [`Reads::outbox_status`] (the outbox
//!   counts of `GET /v1/admin/webhooks`).
//!
//! A replica applies the primary's commits late (seconds, or more under
//! load), so these answers may miss the last writes. Everything else — every
//! write, and every read a shopper or an agent makes after their own write
//! (a conversation's log, its hand-off, its rating, sessions, orders) — stays
//! on the primary through [`Db`] itself: read your own writes holds.
//!
//! Fallback: a read the replica cannot answer — unreachable, shutting down,
//! starting up, a query cancelled by a recovery conflict, or a schema still
//! behind the primary's (a table or column it has not replayed yet) — is
//! read from the primary instead, with a warning in the log. After a
//! connection failure (or a readiness ping without an answer) the replica
//! rests for [`REPLICA_REST`]: reads go straight to the primary, and
//! readiness reports it down, instead of waiting on it each time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::{Csat, Db, Handoff, OutboxStatus, Pool, StoreDbError, StoreVersion};

/// How long reads skip the replica after it failed to answer.
pub const REPLICA_REST: Duration = Duration::from_secs(5);

/// How long a read waits for a replica connection before falling back
/// (the pool keeps retrying a refused connection until then).
const REPLICA_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long [`Db::replica_answers`] waits: readiness checks must answer
/// well within a load balancer's check interval.
pub const REPLICA_PING_TIMEOUT: Duration = Duration::from_millis(200);

/// A replica's pool and whether it is resting after a failure.
#[derive(Debug, Clone)]
pub(crate) struct Replica {
    pool: PgPool,
    resting_until: Arc<Mutex<Option<Instant>>>,
}

impl Replica {
    fn resting(&self) -> bool {
        let mut until = self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn rest(&self) {
        let mut until = self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        *until = Some(Instant::now() + REPLICA_REST);
    }
}

/// What [`Db::with_replica`] found when it first asked the replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaCheck {
    /// A PostgreSQL server in recovery (a standby): as expected.
    Standby,
    /// A PostgreSQL server that is not in recovery (another primary, or a
    /// promoted replica): reads work but nothing guarantees it follows
    /// `database_url`.
    NotInRecovery,
    /// It did not answer: reads fall back to the primary until it does.
    Unreachable,
}

/// Whether `e` means the replica could not answer (as opposed to a query
/// that is wrong everywhere): the read is worth repeating on the primary.
pub fn replica_cannot_answer(e: &StoreDbError) -> bool {
    let StoreDbError::Sql(e) = e else {
        return false;
    };
    unreachable(e)
        || e.as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| {
                // 40001: cancelled by a conflict with recovery; 42P01 and
                // 42703: a table or column the replica has not replayed yet.
                matches!(&*code, "40001" | "42P01" | "42703")
            })
}

/// Connection failures: the network, the pool, or the server going away
/// (SQLSTATE class 08, and 57P01–57P03: shut down, crashed, starting up).
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl Db {
    /// This database with a streaming replica for the lag-tolerant reads of
    /// [`Db::replica_reads`]. The replica is not migrated. Refused unless
    /// both this database and `url` are PostgreSQL. A replica that does not
    /// answer yet is accepted (reads fall back to the primary until it
    /// does); one that answers with an error (wrong password, no such
    /// database) is refused.
    pub async fn with_replica(&self, url: &str) -> Result<(Db, ReplicaCheck), StoreDbError> {
        let lower = url.trim().to_ascii_lowercase();
        if !(lower.starts_with("postgres:") || lower.starts_with("postgresql:")) {
            return Err(StoreDbError::UnsupportedUrl);
        }
        if self.dialect() != crate::Dialect::Postgres {
            return Err(StoreDbError::ReplicaNeedsPostgres);
        }
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(REPLICA_ACQUIRE_TIMEOUT)
            .connect_lazy(url.trim())?;
        let replica = Replica {
            pool,
            resting_until: Default::default(),
        };
        let check = match check_replica(&replica.pool).await {
            Ok(true) => ReplicaCheck::Standby,
            Ok(false) => ReplicaCheck::NotInRecovery,
            Err(e) if unreachable(&e) => {
                replica.rest();
                ReplicaCheck::Unreachable
            }
            Err(e) => return Err(e.into()),
        };
        let mut db = self.clone();
        db.replica = Some(replica);
        Ok((db, check))
    }

    /// Whether a replica is attached.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// Whether the replica answers, for readiness checks (`None` without a
    /// replica): one round trip (`SELECT 1`) of at most
    /// [`REPLICA_PING_TIMEOUT`]. A replica that fails it rests (see the
    /// module docs) and is reported down at once, without asking, until the
    /// rest is over.
    pub async fn replica_answers(&self) -> Option<bool> {
        let replica = self.replica.as_ref()?;
        if replica.resting() {
            return Some(false);
        }
        let ping = sqlx::query("SELECT 1").execute(&replica.pool);
        let failure = match tokio::time::timeout(REPLICA_PING_TIMEOUT, ping).await {
            Ok(Ok(_)) => return Some(true),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {REPLICA_PING_TIMEOUT:?}"),
        };
        replica.rest();
        tracing::warn!(error = %failure, rest_secs = REPLICA_REST.as_secs(),
            "the read replica does not answer; lag-tolerant reads go to the primary");
        Some(false)
    }

    /// The lag-tolerant reads (see the module docs): from the replica when
    /// one is attached and answers, else from this database.
    pub fn replica_reads(&self) -> Reads {
        Reads { db: self.clone() }
    }

    /// A handle querying the replica's pool, with this database's data
    /// keys but neither its conversation writer nor its order cache (a
    /// write or an order read through it must never reach the primary's).
    fn on_replica(&self, replica: &Replica) -> Db {
        Db {
            pool: Pool::Postgres(replica.pool.clone()),
            replica: None,
            writer: crate::conversations::Writer::disabled(),
            orders: Default::default(),
            stream: Default::default(),
            crypt: self.crypt.clone(),
        }
    }
}

/// `pg_is_in_recovery()` of the replica.
async fn check_replica(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(pool)
        .await
}

/// The reads that tolerate lag; see the module docs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reads {
    db: Db,
}

impl Reads {
    /// Runs `read` on the replica, and on the primary when there is none,
    /// it rests, or it cannot answer.
    async fn read<T, F, Fut>(&self, what: &'static str, read: F) -> Result<T, StoreDbError>
    where
        F: Fn(Db) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreDbError>>,
    {
        let Some(replica) = self.db.replica.as_ref().filter(|r| !r.resting()) else {
            return read(self.db.clone()).await;
        };
        match read(self.db.on_replica(replica)).await {
            Err(e) if replica_cannot_answer(&e) => {
                if matches!(&e, StoreDbError::Sql(s) if unreachable(s)) {
                    replica.rest();
                    tracing::warn!(read = what, error = %e, rest_secs = REPLICA_REST.as_secs(),
                        "the replica does not answer; reading from the primary");
                } else {
                    tracing::warn!(read = what, error = %e, "the replica cannot answer this read; reading from the primary");
                }
                read(self.db.clone()).await
            }
            other => other,
        }
    }

    /// [`Db::conversations_since`].
    pub async fn conversations_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreDbError> {
        self.read("conversations_since", |db| async move {
            db.conversations_since(since).await
        })
        .await
    }

    /// [`Db::handoffs_since`].
    pub async fn handoffs_since(&self, since: DateTime<Utc>) -> Result<Vec<Handoff>, StoreDbError> {
        self.read("handoffs_since", |db| async move {
            db.handoffs_since(since).await
        })
        .await
    }

    /// [`Db::csat_since`].
    pub async fn csat_since(&self, since: DateTime<Utc>) -> Result<Vec<Csat>, StoreDbError> {
        self.read("csat_since", |db| async move { db.csat_since(since).await })
            .await
    }

    /// [`Db::store_versions`].
    pub async fn store_versions(&self, limit: i64) -> Result<Vec<StoreVersion>, StoreDbError> {
        self.read("store_versions", |db| async move {
            db.store_versions(limit).await
        })
        .await
    }

    /// [`Db::active_store_version`].
    pub async fn active_store_version(&self) -> Result<Option<(i64, String)>, StoreDbError> {
        self.read("active_store_version", |db| async move {
            db.active_store_version().await
        })
        .await
    }

    /// [`Db::outbox_status`].
    pub async fn outbox_status(&self, recent: usize) -> Result<OutboxStatus, StoreDbError> {
        self.read("outbox_status", |db| async move {
            db.outbox_status(recent).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_fall_back_and_wrong_queries_do_not() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for e in [
            sqlx::Error::Io(refused),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
        ] {
            assert!(replica_cannot_answer(&StoreDbError::Sql(e)));
        }
        assert!(!replica_cannot_answer(&StoreDbError::Sql(
            sqlx::Error::RowNotFound
        )));
        assert!(!replica_cannot_answer(&StoreDbError::Duplicate("email")));
        assert!(!replica_cannot_answer(&StoreDbError::Corrupt("x".into())));
    }

    #[tokio::test]
    async fn a_replica_rests_after_a_failure() {
        let replica = Replica {
            pool: PgPoolOptions::new()
                .connect_lazy("postgres://postgres@127.0.0.1:1/wismo")
                .expect("lazy pool"),
            resting_until: Default::default(),
        };
        assert!(!replica.resting());
        replica.rest();
        assert!(replica.resting());
        *replica
            .resting_until
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        assert!(!replica.resting(), "the rest is over");
    }
}
