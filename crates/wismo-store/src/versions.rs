//! The store workspace's versions: every published workspace (its files as
//! JSON, no personal data), who published it and what changed, and the one
//! row (`store_active`) that names the version every server must serve.
//! Publishing inserts the version and moves the pointer in one transaction
//! that first locks the pointer row, so servers publishing at once queue
//! and version ids follow publication order.

use chrono::{DateTime, Utc};

use crate::conversations::check;
use crate::orders::micros;
use crate::people::json_list;
use crate::{with_pool, Db, StoreDbError};

/// A version to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStoreVersion {
    /// Content hash of the files (the version's identity).
    pub hash: String,
    /// Hash of what training depends on.
    pub training_hash: String,
    /// The serialized workspace files (JSON object path → text).
    pub files: String,
    pub created_at: DateTime<Utc>,
    /// Who: the admin, an API key id, an agent id, `files`, `sighup`, `startup`.
    pub created_by: String,
    /// `admin`, `api_key`, `agent` or `system`.
    pub created_by_kind: String,
    pub message: Option<String>,
    /// Paths added (`+`), changed (`~`) or removed (`-`) from the version before.
    pub changes: Vec<String>,
    /// Load warnings (`file:line: message`).
    pub warnings: Vec<String>,
    pub languages: Vec<String>,
}

/// A stored version (with its files only when asked for).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreVersion {
    pub id: i64,
    pub hash: String,
    pub training_hash: String,
    /// Empty in lists.
    pub files: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub created_by_kind: String,
    pub message: Option<String>,
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
    pub languages: Vec<String>,
}

/// What [`Db::publish_store_version`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// A new version, now active.
    New(i64),
    /// The active version already has this content: nothing written.
    Unchanged(i64),
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    hash: String,
    training_hash: String,
    files: String,
    created_at: DateTime<Utc>,
    created_by: String,
    created_by_kind: String,
    message: Option<String>,
    changes: String,
    warnings: String,
    languages: String,
}

impl TryFrom<Row> for StoreVersion {
    type Error = StoreDbError;
    fn try_from(r: Row) -> Result<Self, StoreDbError> {
        Ok(StoreVersion {
            id: r.id,
            hash: r.hash,
            training_hash: r.training_hash,
            files: r.files,
            created_at: r.created_at,
            created_by: r.created_by,
            created_by_kind: r.created_by_kind,
            message: r.message,
            changes: json_list("changes", &r.changes)?,
            warnings: json_list("warnings", &r.warnings)?,
            languages: json_list("languages", &r.languages)?,
        })
    }
}

const LIST_COLUMNS: &str = "id, hash, training_hash, '' AS files, created_at, created_by, \
     created_by_kind, message, changes, warnings, languages";
const ALL_COLUMNS: &str = "id, hash, training_hash, files, created_at, created_by, \
     created_by_kind, message, changes, warnings, languages";

impl Db {
    /// Records `v` and makes it the active version, in one transaction —
    /// unless the active version already has the same hash (then nothing
    /// is written). `only_if_new`: also skip when any earlier version had
    /// this hash (a server starting with files the database has already
    /// seen must not undo a newer version published elsewhere).
    pub async fn publish_store_version(
        &self,
        v: &NewStoreVersion,
        only_if_new: bool,
    ) -> Result<Published, StoreDbError> {
        for s in [
            &v.hash,
            &v.training_hash,
            &v.files,
            &v.created_by,
            &v.created_by_kind,
        ] {
            check("store version", s)?;
        }
        let message = v.message.as_deref().map(|m| m.replace('\0', ""));
        let changes = serde_json::to_string(&v.changes)?.replace("\\u0000", "");
        let warnings = serde_json::to_string(&v.warnings)?.replace("\\u0000", "");
        let languages = serde_json::to_string(&v.languages)?.replace("\\u0000", "");
        let at = micros(v.created_at);
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            // Locks the pointer: publications queue here, on every server.
            let (active,): (Option<i64>,) = sqlx::query_as(
                "UPDATE store_active SET id = id WHERE id = 1 RETURNING version_id",
            )
            .fetch_one(&mut *tx)
            .await?;
            if let Some(active) = active {
                let (hash,): (String,) =
                    sqlx::query_as("SELECT hash FROM store_versions WHERE id = $1")
                        .bind(active)
                        .fetch_one(&mut *tx)
                        .await?;
                if hash == v.hash {
                    tx.rollback().await?;
                    return Ok(Published::Unchanged(active));
                }
            }
            if only_if_new {
                let seen: Option<(i64,)> =
                    sqlx::query_as("SELECT id FROM store_versions WHERE hash = $1 LIMIT 1")
                        .bind(&v.hash)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let (Some(_), Some(active)) = (seen, active) {
                    tx.rollback().await?;
                    return Ok(Published::Unchanged(active));
                }
            }
            let (id,): (i64,) =
                sqlx::query_as("SELECT COALESCE(MAX(id), 0) + 1 FROM store_versions")
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query(
                "INSERT INTO store_versions (id, hash, training_hash, files, created_at, created_by, \
                 created_by_kind, message, changes, warnings, languages) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(id)
            .bind(&v.hash)
            .bind(&v.training_hash)
            .bind(&v.files)
            .bind(at)
            .bind(&v.created_by)
            .bind(&v.created_by_kind)
            .bind(&message)
            .bind(&changes)
            .bind(&warnings)
            .bind(&languages)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE store_active SET version_id = $1, activated_at = $2 WHERE id = 1")
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Published::New(id))
        })
    }

    /// The active version's id and hash (cheap: what every server polls).
    pub async fn active_store_version(&self) -> Result<Option<(i64, String)>, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_as::<_, (i64, String)>(
                "SELECT v.id, v.hash FROM store_active a JOIN store_versions v ON v.id = a.version_id WHERE a.id = 1",
            )
            .fetch_optional(p)
            .await?
        }))
    }

    /// One version with its files.
    pub async fn store_version(&self, id: i64) -> Result<Option<StoreVersion>, StoreDbError> {
        let row: Option<Row> = with_pool!(self, p => {
            sqlx::query_as(&format!("SELECT {ALL_COLUMNS} FROM store_versions WHERE id = $1"))
                .bind(id)
                .fetch_optional(p)
                .await?
        });
        row.map(StoreVersion::try_from).transpose()
    }

    /// The newest versions first, without their files.
    pub async fn store_versions(&self, limit: i64) -> Result<Vec<StoreVersion>, StoreDbError> {
        let rows: Vec<Row> = with_pool!(self, p => {
            sqlx::query_as(&format!(
                "SELECT {LIST_COLUMNS} FROM store_versions ORDER BY id DESC LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(StoreVersion::try_from).collect()
    }
}
