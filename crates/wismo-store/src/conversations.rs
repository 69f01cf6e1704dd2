//! Conversation logs: one row per conversation and its events in order.
//!
//! Events are numbered 1, 2, 3, … per conversation with no gaps, also under
//! concurrent appends: the next numbers are reserved by one
//! `UPDATE … SET last_seq = last_seq + n … RETURNING` in the same
//! transaction as the inserts, so appenders queue on the conversation row.

use chrono::{DateTime, Utc};
use wismo_core::dialogue::Event;

use crate::orders::micros;
use crate::{dispatch, Db, StoreDbError};

/// A conversation to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConversation {
    pub id: String,
    /// A hash of the token the client holds (never the token itself).
    pub token_hash: String,
    pub locale: Option<String>,
    /// Where it happens, e.g. `web`, `email`.
    pub channel: String,
    /// Free-form JSON (page URL, user agent, …).
    pub metadata: serde_json::Value,
    /// The signed-in customer's id, if any.
    pub customer: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub id: String,
    pub token_hash: String,
    pub locale: Option<String>,
    pub channel: String,
    pub metadata: serde_json::Value,
    pub customer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_active_at: DateTime<Utc>,
    /// The seq of the last event (0 when there is none).
    pub last_seq: i64,
}

/// The answer stored for a client message id.
#[derive(Debug, Clone, PartialEq)]
pub struct RememberedMessage {
    /// The seq of the user's event, when one was stored.
    pub seq: Option<i64>,
    pub response: serde_json::Value,
}

fn check(field: &'static str, value: &str) -> Result<(), StoreDbError> {
    if value.contains('\0') {
        Err(StoreDbError::InvalidText(field))
    } else {
        Ok(())
    }
}

impl Db {
    /// Creates a conversation (`last_active_at` = `created_at`). Fails when
    /// the id exists.
    pub async fn create_conversation(&self, new: &NewConversation) -> Result<(), StoreDbError> {
        check("conversation id", &new.id)?;
        check("token hash", &new.token_hash)?;
        check("channel", &new.channel)?;
        check("locale", new.locale.as_deref().unwrap_or_default())?;
        check("customer", new.customer.as_deref().unwrap_or_default())?;
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            let new = NewConversation {
                created_at: micros(new.created_at),
                ..new.clone()
            };
            b::insert_conversation(&mut conn, &new).await
        })
    }

    /// Appends events in one transaction and returns the seq of the last one
    /// (the current last seq when `events` is empty). Seqs start at 1. Also
    /// sets the conversation's `last_active_at` to now.
    pub async fn append_events(&self, id: &str, events: &[Event]) -> Result<i64, StoreDbError> {
        let n = i64::try_from(events.len())
            .map_err(|_| StoreDbError::Corrupt("too many events".to_string()))?;
        if id.contains('\0') {
            return Err(StoreDbError::ConversationNotFound(id.to_string()));
        }
        let now = micros(Utc::now());
        dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            let last = b::reserve_seq(&mut tx, id, n, now)
                .await?
                .ok_or_else(|| StoreDbError::ConversationNotFound(id.to_string()))?;
            // At most 1000 rows per statement (4 parameters each stays far
            // below SQLite's and PostgreSQL's parameter limits).
            let mut first = last - n + 1;
            for chunk in events.chunks(1000) {
                b::insert_events(&mut tx, id, first, chunk, now).await?;
                first += chunk.len() as i64;
            }
            tx.commit().await?;
            Ok(last)
        })
    }

    /// Every event of the conversation, in order (empty for an unknown id).
    pub async fn load_events(&self, id: &str) -> Result<Vec<Event>, StoreDbError> {
        Ok(self
            .events_after(id, 0)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    /// The events with a seq greater than `seq`, with their seqs, in order.
    pub async fn events_after(
        &self,
        id: &str,
        seq: i64,
    ) -> Result<Vec<(i64, Event)>, StoreDbError> {
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::events_after(&mut conn, id, seq).await
        })
    }

    /// Sets `last_active_at`; false when there is no such conversation.
    pub async fn touch(&self, id: &str, at: DateTime<Utc>) -> Result<bool, StoreDbError> {
        if id.contains('\0') {
            return Ok(false);
        }
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::touch(&mut conn, id, micros(at)).await
        })
    }

    pub async fn conversation(&self, id: &str) -> Result<Option<ConversationRow>, StoreDbError> {
        if id.contains('\0') {
            return Ok(None);
        }
        let row = dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::conversation(&mut conn, id).await?
        });
        row.map(|r| {
            Ok(ConversationRow {
                id: r.id,
                token_hash: r.token_hash,
                locale: r.locale,
                channel: r.channel,
                metadata: serde_json::from_str(&r.metadata)?,
                customer: r.customer,
                created_at: r.created_at,
                last_active_at: r.last_active_at,
                last_seq: r.last_seq,
            })
        })
        .transpose()
    }

    /// Stores the response to a client message id, for retries. Returns
    /// `None` when it was stored now, or the response stored earlier (which
    /// is kept: the first answer wins).
    pub async fn remember_client_message(
        &self,
        id: &str,
        client_message_id: &str,
        seq: Option<i64>,
        response: &serde_json::Value,
    ) -> Result<Option<RememberedMessage>, StoreDbError> {
        check("conversation id", id)?;
        check("client message id", client_message_id)?;
        let now = micros(Utc::now());
        let stored = dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::remember(&mut conn, id, client_message_id, seq, response, now).await?
        });
        if stored {
            Ok(None)
        } else {
            self.recall_client_message(id, client_message_id).await
        }
    }

    /// The response stored for this client message id, if any.
    pub async fn recall_client_message(
        &self,
        id: &str,
        client_message_id: &str,
    ) -> Result<Option<RememberedMessage>, StoreDbError> {
        if id.contains('\0') || client_message_id.contains('\0') {
            return Ok(None);
        }
        let row = dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::recall(&mut conn, id, client_message_id).await?
        });
        row.map(|r| {
            Ok(RememberedMessage {
                seq: r.seq,
                response: serde_json::from_str(&r.response)?,
            })
        })
        .transpose()
    }
}
