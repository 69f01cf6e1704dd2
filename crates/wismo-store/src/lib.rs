//! wismo's storage: the order store and conversation logs in SQL, on an
//! embedded SQLite database by default or on PostgreSQL.
//!
//! [`Db::connect`] takes `sqlite://path/to/file.db?mode=rwc` (the file and
//! its folder are created) or `postgres://user@host/db`, and brings the schema
//! up to date (`migrations/sqlite` or `migrations/postgres`, embedded in the
//! binary). Every query is written once and compiled for both dialects (see
//! `backend.rs`); only the schema files differ.
//!
//! * Orders: [`Db::import_shopify`] loads a Shopify Admin REST export in one
//!   transaction; lookups, cancels, address changes and cases behave exactly
//!   like [`wismo_core::store::memory::InMemoryStore`] (same refusals, same
//!   messages: the rules are *its* code, applied to the order read from SQL).
//!   [`SqlOrderService`] adapts them to the synchronous
//!   [`wismo_core::store::OrderService`] the dialogue engine uses.
//! * Conversations: an append-only event log per conversation with a gapless
//!   sequence number, plus client message ids for idempotent retries.
//! * Webhook outbox: events waiting for delivery, one row per (event,
//!   target), claimed with a lease so several servers can share the work
//!   without ever sending the same row at the same time ([`Db::outbox_push`],
//!   [`Db::outbox_claim`], …).
//!
//! * Read replica: [`Db::with_replica`] attaches a PostgreSQL streaming
//!   replica; [`Db::replica_reads`] sends the reads that tolerate lag
//!   (analytics, admin lists) to it, falling back to the primary when it
//!   cannot answer. Every other read and every write stays on the primary,
//!   so a shopper or an agent always reads their own writes (`replica.rs`).
//!
//! * Personal data at rest: every personal column is encrypted with
//!   AES-256-GCM under a data key with a key id, and emails are looked up
//!   by keyed hashes ([`crypto`]); keys come from a key file (created on
//!   first use), rotate with [`Db::rotate_data_key`] and
//!   [`Db::reencrypt_sweep`], and retire with [`Db::retire_data_key`].
//!
//! Timestamps are stored to the microsecond on both dialects (values are
//! truncated before they are written, so what an action returns is what a
//! later read returns). SQLite files use WAL mode and a 10 s busy timeout.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wismo_store::StoreDbError> {
//! use std::sync::Arc;
//! use wismo_core::store::OrderService;
//! use wismo_store::{Db, SqlOrderService};
//!
//! let db = Db::connect("sqlite://data/wismo.db?mode=rwc").await?;
//! db.load_demo_if_empty().await?;
//! let orders: Arc<dyn OrderService> = Arc::new(SqlOrderService::on_current_runtime(db.clone())?);
//! // The engine is synchronous: run its turns on a blocking thread.
//! let found = tokio::task::spawn_blocking(move || orders.find_order("#1042")).await;
//! # let _ = found;
//! # Ok(())
//! # }
//! ```

mod audit;
mod backend;
mod conversations;
pub mod crypto;
mod datakeys;
mod emails;
mod keys;
mod mirror;
mod notices;
mod orders;
mod outbox;
mod people;
mod privacy;
mod replica;
mod service;
mod sso;
mod stream;
mod trackers;
mod versions;

use std::str::FromStr;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use wismo_core::store::shopify::ParseError;
use wismo_core::store::StoreError;

pub use audit::{AuditEntry, AuditRecord, AuditReport};
pub use conversations::{pending_response, ConversationRow, NewConversation, RememberedMessage};
pub use crypto::{Crypt, CryptoError, Keyring};
pub use datakeys::{KeyUsage, SweepReport};
pub use emails::EmailRecipient;
pub use keys::ApiKey;
pub use mirror::{MirrorOutcome, DELIVERY_MEMORY};
pub use notices::DueNotice;
pub use orders::{ImportReport, OrdersChanged};
pub use outbox::{OutboxEntry, OutboxMessage, OutboxStatus, MAX_ERROR_CHARS};
pub use people::{Agent, CannedReply, Csat, Handoff, NewAgent, NewHandoff};
pub use privacy::{Erased, Shopper};
pub use replica::{replica_cannot_answer, Reads, ReplicaCheck, REPLICA_PING_TIMEOUT, REPLICA_REST};
pub use service::SqlOrderService;
pub use sso::SsoPending;
pub use stream::StreamClaim;
pub use trackers::{DueTracker, TrackerOutcome};
pub use versions::{NewStoreVersion, Published, StoreVersion};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreDbError {
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// [`Db::with_replica`] on an SQLite database.
    #[error("a read replica needs the primary database to be PostgreSQL")]
    ReplicaNeedsPostgres,
    // The causes are part of each message (and deliberately not `source`s,
    // so an error chain printed with `{:#}` does not repeat them).
    #[error("could not create the database folder: {0}")]
    Io(std::io::Error),
    #[error("database error: {0}")]
    Sql(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(MigrateError),
    /// The order file was rejected before anything was written.
    #[error("invalid order file: {0}")]
    InvalidOrders(ParseError),
    /// A unique value (an agent's email, a shortcut) is taken.
    #[error("{0}")]
    Duplicate(&'static str),
    /// A stored value could not be read back (e.g. an unknown status).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// An id or field that cannot be stored (NUL characters, which
    /// PostgreSQL text rejects; refused on both dialects).
    #[error("{0} contains a NUL character")]
    InvalidText(&'static str),
    #[error("conversation {0} not found")]
    ConversationNotFound(String),
    /// An append that expected the conversation at one seq found it
    /// further on: another writer (another server) appended first. The
    /// caller reloads and tries again; nothing was written.
    #[error("conversation {id} has moved on to seq {last}")]
    Stale { id: String, last: i64 },
    /// A turn's client message id is already recorded in the conversation
    /// (another server answered it): nothing was written; replay it.
    #[error("conversation {0} already has this client message id")]
    DuplicateClientMessage(String),
    /// A key file or an encrypted value could not be used.
    #[error("{0}")]
    Crypto(CryptoError),
    #[error("could not encode or decode JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A store rule refused the action (same meaning as in `wismo_core`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<std::io::Error> for StoreDbError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<sqlx::Error> for StoreDbError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<MigrateError> for StoreDbError {
    fn from(e: MigrateError) -> Self {
        Self::Migrate(e)
    }
}

impl From<CryptoError> for StoreDbError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

impl From<ParseError> for StoreDbError {
    fn from(e: ParseError) -> Self {
        Self::InvalidOrders(e)
    }
}

impl From<StoreDbError> for StoreError {
    /// Refusals keep their meaning; every database failure is `Unavailable`.
    fn from(e: StoreDbError) -> StoreError {
        match e {
            StoreDbError::Store(e) => e,
            other => {
                tracing::warn!(error = %other, "order database failed");
                StoreError::Unavailable(format!("the order database failed: {other}"))
            }
        }
    }
}

fn check_url(url: &str) -> Result<(), StoreDbError> {
    let lower = url.trim().to_ascii_lowercase();
    if ["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        Ok(())
    } else {
        Err(StoreDbError::UnsupportedUrl)
    }
}

fn is_memory(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("sqlite:") && (lower.contains(":memory:") || lower.contains("mode=memory"))
}

/// Loads a key file, creating it when missing (and saying so in the log).
fn open_key_file(path: &std::path::Path) -> Result<Keyring, StoreDbError> {
    let (keys, created) = Keyring::load_or_create(path)?;
    if created {
        tracing::warn!(
            path = %path.display(),
            "created a new data key file; back it up: without it the personal data in the database cannot be read"
        );
    }
    Ok(keys)
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$b` bound to the dialect's backend module and `$p` to its pool.
macro_rules! dispatch {
    ($db:expr, $b:ident, $p:ident => $body:expr) => {
        match &$db.pool {
            $crate::Pool::Sqlite($p) => {
                use $crate::backend::sqlite as $b;
                $body
            }
            $crate::Pool::Postgres($p) => {
                use $crate::backend::postgres as $b;
                $body
            }
        }
    };
}
pub(crate) use dispatch;

/// Runs `$body` with `$p` bound to the pool, for queries whose text is the
/// same on both dialects.
macro_rules! with_pool {
    ($db:expr, $p:ident => $body:expr) => {
        match &$db.pool {
            $crate::Pool::Sqlite($p) => $body,
            $crate::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

/// A connection pool to the wismo database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    /// The streaming replica of [`Db::with_replica`], for [`Db::replica_reads`].
    replica: Option<replica::Replica>,
    writer: std::sync::Arc<conversations::Writer>,
    orders: std::sync::Arc<orders::OrderCache>,
    crypt: std::sync::Arc<Crypt>,
    /// Whether appends mark their conversation for the event stream (see
    /// [`Db::enable_event_stream`]); shared by every clone.
    stream: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Which SQL dialect a [`Db`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Db {
    /// Connects and runs the pending migrations, with the default data keys
    /// (see [`Db::default_key_file`]): the key file next to an SQLite file
    /// (created on first use), a fresh in-memory key for `sqlite::memory:`.
    /// PostgreSQL needs a key file: use [`Db::connect_with_key_file`].
    ///
    /// `sqlite://path?mode=rwc` creates the file and its parent folder;
    /// `sqlite::memory:` is a private in-memory database (one connection).
    pub async fn connect(url: &str) -> Result<Db, StoreDbError> {
        check_url(url)?;
        let crypt = match Db::default_key_file(url) {
            Some(path) => Crypt::new(open_key_file(&path)?, Some(path)),
            None if is_memory(url) => Crypt::new(Keyring::ephemeral()?, None),
            None => {
                return Err(StoreDbError::Crypto(CryptoError::Refused(
                    "PostgreSQL needs a data key file (data_key_file)".into(),
                )))
            }
        };
        Db::connect_with(url, crypt).await
    }

    /// Connects with the data keys of this key file (created, mode 0600,
    /// when missing) and runs the pending migrations.
    pub async fn connect_with_key_file(
        url: &str,
        path: &std::path::Path,
    ) -> Result<Db, StoreDbError> {
        // No key file is created for a URL that cannot work anyway.
        check_url(url)?;
        let keys = open_key_file(path)?;
        Db::connect_with(url, Crypt::new(keys, Some(path.to_path_buf()))).await
    }

    /// Connects with these data keys and runs the pending migrations.
    pub async fn connect_with(url: &str, crypt: Crypt) -> Result<Db, StoreDbError> {
        let mut db = Db::connect_without_migrating(url).await?;
        db.crypt = std::sync::Arc::new(crypt);
        db.migrate().await?;
        Ok(db)
    }

    /// Where the data key file of an SQLite file database is by default:
    /// `wismo.key` next to the database file. `None` for in-memory SQLite
    /// and for PostgreSQL.
    pub fn default_key_file(url: &str) -> Option<std::path::PathBuf> {
        let lower = url.trim().to_ascii_lowercase();
        if !lower.starts_with("sqlite:") || is_memory(url) {
            return None;
        }
        let opts = SqliteConnectOptions::from_str(url.trim()).ok()?;
        let dir = opts.get_filename().parent()?.to_path_buf();
        Some(dir.join("wismo.key"))
    }

    /// The SQLite database file of `url` (`None` for PostgreSQL or an
    /// in-memory database).
    pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
        let lower = url.trim().to_ascii_lowercase();
        if !lower.starts_with("sqlite:") || is_memory(url) {
            return None;
        }
        let opts = SqliteConnectOptions::from_str(url.trim()).ok()?;
        Some(opts.get_filename().to_path_buf())
    }

    /// Whether wismo's schema is in this database (it was migrated once).
    pub async fn has_schema(&self) -> Result<bool, StoreDbError> {
        let found = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_optional(p)
            .await?
            .is_some(),
            Pool::Postgres(p) => sqlx::query(
                "SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = '_sqlx_migrations'",
            )
            .fetch_optional(p)
            .await?
            .is_some(),
        };
        Ok(found)
    }

    /// The data keys this pool encrypts and decrypts with.
    pub fn crypt(&self) -> &Crypt {
        &self.crypt
    }

    /// Connects without touching the schema (with an in-memory data key
    /// until [`Db::connect_with`] sets the real ones).
    pub async fn connect_without_migrating(url: &str) -> Result<Db, StoreDbError> {
        let lower = url.trim().to_ascii_lowercase();
        let pool = if lower.starts_with("sqlite:") {
            let in_memory = lower.contains(":memory:") || lower.contains("mode=memory");
            let mut opts = SqliteConnectOptions::from_str(url.trim())?
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(10))
                // Deleted content is overwritten, not left in free pages
                // (erasure must leave nothing in the file).
                .pragma("secure_delete", "on");
            if !in_memory {
                // Readers never wait for the writer; one fsync per commit batch.
                opts = opts
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal);
                if let Some(parent) = opts.get_filename().parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent)?;
                    }
                }
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(if in_memory { 1 } else { 8 })
                .connect_with(opts)
                .await?;
            Pool::Sqlite(pool)
        } else if lower.starts_with("postgres:") || lower.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .connect(url.trim())
                .await?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreDbError::UnsupportedUrl);
        };
        Ok(Db {
            pool,
            replica: None,
            writer: Default::default(),
            orders: Default::default(),
            crypt: std::sync::Arc::new(Crypt::new(Keyring::ephemeral()?, None)),
            stream: Default::default(),
        })
    }

    /// Applies the migrations not yet applied (a no-op when up to date).
    pub async fn migrate(&self) -> Result<(), StoreDbError> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATOR.run(p).await?,
            Pool::Postgres(p) => POSTGRES_MIGRATOR.run(p).await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// One round trip to the database (`SELECT 1`), for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreDbError> {
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query("SELECT 1").execute(p).await?;
            }
            Pool::Postgres(p) => {
                sqlx::query("SELECT 1").execute(p).await?;
            }
        }
        Ok(())
    }

    /// Closes every connection of the pool (waits for the ones in use).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}
