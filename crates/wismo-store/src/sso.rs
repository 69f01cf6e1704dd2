//! Single sign-on attempts in flight (agent OIDC), shared by every server on
//! the database: the provider may send the browser back to any of them.
//! Each attempt is keyed by its state's hash, holds the nonce and the PKCE
//! verifier (sealed), and is taken once ([`Db::sso_take`] deletes it in the
//! same statement), by whichever server gets the callback first.

use chrono::{DateTime, Utc};

use crate::orders::micros;
use crate::{with_pool, Db, StoreDbError};

/// An attempt's secrets, as taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoPending {
    pub nonce: String,
    pub verifier: String,
}

impl Db {
    /// Records an attempt until `expires_at` (and drops expired ones).
    pub async fn sso_remember(
        &self,
        state_hash: &str,
        pending: &SsoPending,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreDbError> {
        for (field, v) in [
            ("state", state_hash),
            ("nonce", pending.nonce.as_str()),
            ("verifier", pending.verifier.as_str()),
        ] {
            crate::conversations::check(field, v)?;
        }
        let nonce = self.crypt().seal("sso_pending.nonce", &pending.nonce)?;
        let verifier = self
            .crypt()
            .seal("sso_pending.verifier", &pending.verifier)?;
        with_pool!(self, p => {
            sqlx::query("DELETE FROM sso_pending WHERE expires_at <= $1")
                .bind(micros(now))
                .execute(p)
                .await?;
            sqlx::query(
                "INSERT INTO sso_pending (state_hash, nonce, verifier, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(state_hash)
            .bind(&nonce)
            .bind(&verifier)
            .bind(micros(expires_at))
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Takes the attempt with this state hash: removes it and returns it if
    /// it had not expired by `now`. A second take finds nothing.
    pub async fn sso_take(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SsoPending>, StoreDbError> {
        if state_hash.contains('\0') {
            return Ok(None);
        }
        let row: Option<(String, String, DateTime<Utc>)> = with_pool!(self, p => {
            sqlx::query_as(
                "DELETE FROM sso_pending WHERE state_hash = $1 \
                 RETURNING nonce, verifier, expires_at",
            )
            .bind(state_hash)
            .fetch_optional(p)
            .await?
        });
        let Some((nonce, verifier, expires_at)) = row else {
            return Ok(None);
        };
        if expires_at <= micros(now) {
            return Ok(None);
        }
        Ok(Some(SsoPending {
            nonce: self.crypt().open("sso_pending.nonce", &nonce)?,
            verifier: self.crypt().open("sso_pending.verifier", &verifier)?,
        }))
    }
}
