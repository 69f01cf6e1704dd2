//! Proactive emails in the database: who may be emailed (by the keyed hash
//! of the address) with their unsubscribe token, and one row per notice and
//! recipient so an email goes out once on whichever server sends it.

use chrono::{DateTime, Utc};

use crate::orders::micros;
use crate::{with_pool, Db, StoreDbError};

/// Someone wismo may email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRecipient {
    /// The keyed hash of the address.
    pub recipient: String,
    /// Their unsubscribe link's token.
    pub token: String,
    pub unsubscribed: bool,
}

impl Db {
    /// The recipient row of `email`, made with `new_token` the first time.
    pub async fn email_recipient(
        &self,
        email: &str,
        new_token: &str,
        now: DateTime<Utc>,
    ) -> Result<EmailRecipient, StoreDbError> {
        let recipient = self.crypt.email_hash(email);
        let (token, unsubscribed_at): (String, Option<DateTime<Utc>>) = with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO email_recipients (recipient, token, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (recipient) DO NOTHING",
            )
            .bind(&recipient)
            .bind(new_token)
            .bind(micros(now))
            .execute(p)
            .await?;
            sqlx::query_as(
                "SELECT token, unsubscribed_at FROM email_recipients WHERE recipient = $1",
            )
            .bind(&recipient)
            .fetch_one(p)
            .await?
        });
        Ok(EmailRecipient {
            recipient,
            token,
            unsubscribed: unsubscribed_at.is_some(),
        })
    }

    /// Claims the email of notice `key` to `recipient`: `true` for the one
    /// caller that should send it, `false` when it was claimed before.
    pub async fn claim_email_notice(
        &self,
        key: &str,
        recipient: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO email_notices (notice_key, recipient, status, created_at) \
                 VALUES ($1, $2, 'sending', $3) ON CONFLICT (notice_key, recipient) DO NOTHING",
            )
            .bind(key)
            .bind(recipient)
            .bind(micros(now))
            .execute(p)
            .await?
            .rows_affected()
                == 1
        }))
    }

    /// Records how a claimed email ended: `sent`, `failed`, `capped`,
    /// `unsubscribed`.
    pub async fn finish_email_notice(
        &self,
        key: &str,
        recipient: &str,
        status: &str,
    ) -> Result<(), StoreDbError> {
        with_pool!(self, p => {
            sqlx::query(
                "UPDATE email_notices SET status = $3 WHERE notice_key = $1 AND recipient = $2",
            )
            .bind(key)
            .bind(recipient)
            .bind(status)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// Emails sent (or being sent) to `recipient` since `since`: the daily cap.
    pub async fn emails_sent_since(
        &self,
        recipient: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM email_notices WHERE recipient = $1 \
                 AND status IN ('sent', 'sending') AND created_at >= $2",
            )
            .bind(recipient)
            .bind(micros(since))
            .fetch_one(p)
            .await?
        }))
    }

    /// Whether `token`'s recipient has unsubscribed: `None` for a token
    /// nobody was given.
    pub async fn unsubscribed(&self, token: &str) -> Result<Option<bool>, StoreDbError> {
        let row: Option<Option<DateTime<Utc>>> = with_pool!(self, p => {
            sqlx::query_scalar("SELECT unsubscribed_at FROM email_recipients WHERE token = $1")
                .bind(token)
                .fetch_optional(p)
                .await?
        });
        Ok(row.map(|at| at.is_some()))
    }

    /// Unsubscribes `token`'s recipient (again is fine); `false` for a token
    /// nobody was given.
    pub async fn unsubscribe(&self, token: &str, now: DateTime<Utc>) -> Result<bool, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query(
                "UPDATE email_recipients SET unsubscribed_at = COALESCE(unsubscribed_at, $2) \
                 WHERE token = $1",
            )
            .bind(token)
            .bind(micros(now))
            .execute(p)
            .await?
            .rows_affected()
                == 1
        }))
    }
}
