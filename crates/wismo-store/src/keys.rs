//! API keys for admin and server-to-server calls: stored only as SHA-256
//! hashes (the key is shown once), scoped, revocable.

use chrono::{DateTime, Utc};

use crate::conversations::check;
use crate::orders::micros;
use crate::people::json_list;
use crate::{with_pool, Db, StoreDbError};

/// A stored API key (never the key itself).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: String,
    name: String,
    scopes: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreDbError;
    fn try_from(r: ApiKeyRow) -> Result<Self, StoreDbError> {
        Ok(ApiKey {
            id: r.id,
            name: r.name,
            scopes: json_list("scopes", &r.scopes)?,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
    }
}

const COLUMNS: &str = "id, name, scopes, created_at, last_used_at, revoked_at";

impl Db {
    /// Stores a new key's hash; [`StoreDbError::Duplicate`] if the id exists.
    pub async fn create_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> Result<ApiKey, StoreDbError> {
        for v in [id, name, key_hash] {
            check("api key", v)?;
        }
        if self.api_key(id).await?.is_some() {
            return Err(StoreDbError::Duplicate("an API key with this id exists"));
        }
        let scopes_json = serde_json::to_string(scopes)?;
        let now = micros(now);
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO api_keys (id, name, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(name)
            .bind(key_hash)
            .bind(&scopes_json)
            .bind(now)
            .execute(p)
            .await?;
        });
        Ok(ApiKey {
            id: id.to_string(),
            name: name.to_string(),
            scopes: scopes.to_vec(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        })
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreDbError> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id");
        let rows = with_pool!(self, p => {
            sqlx::query_as::<_, ApiKeyRow>(&sql).fetch_all(p).await?
        });
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreDbError> {
        if id.contains('\0') {
            return Ok(None);
        }
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1");
        let row = with_pool!(self, p => {
            sqlx::query_as::<_, ApiKeyRow>(&sql).bind(id).fetch_optional(p).await?
        });
        row.map(ApiKey::try_from).transpose()
    }

    /// The live (not revoked) key with this hash; marks it used.
    pub async fn api_key_by_hash(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreDbError> {
        if key_hash.contains('\0') {
            return Ok(None);
        }
        let sql = format!(
            "UPDATE api_keys SET last_used_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL \
             RETURNING {COLUMNS}"
        );
        let row = with_pool!(self, p => {
            sqlx::query_as::<_, ApiKeyRow>(&sql)
                .bind(micros(now))
                .bind(key_hash)
                .fetch_optional(p)
                .await?
        });
        row.map(ApiKey::try_from).transpose()
    }

    /// Revokes a key; false when there is no such live key.
    pub async fn revoke_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreDbError> {
        if id.contains('\0') {
            return Ok(false);
        }
        let n = with_pool!(self, p => {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(micros(now))
                .bind(id)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }
}
