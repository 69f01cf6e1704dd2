//! Conversation logs: one row per conversation and its events in order.
//!
//! Events are numbered 1, 2, 3, … per conversation with no gaps, also under
//! concurrent appends: the next numbers are reserved by one
//! `UPDATE … SET last_seq = last_seq + n … RETURNING` in the same
//! transaction as the inserts, so appenders queue on the conversation row.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
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
    ///
    /// Appends that arrive together are written together (group commit): one
    /// writer task takes every append waiting, reserves all their sequence
    /// numbers in one `UPDATE … RETURNING` and inserts all their events in
    /// one statement, in one transaction. Each caller still gets its own
    /// result; if a batch fails, its appends are retried one by one so one
    /// bad append cannot fail the others.
    pub async fn append_events(&self, id: &str, events: &[Event]) -> Result<i64, StoreDbError> {
        if events.is_empty() || id.contains('\0') {
            return self.append_events_directly(id, events).await;
        }
        let Some(tx) = self.writer.sender(self) else {
            return self.append_events_directly(id, events).await;
        };
        let (reply, answer) = oneshot::channel();
        let job = AppendJob {
            id: id.to_string(),
            events: events.to_vec(),
            reply,
        };
        if tx.send(job).is_err() {
            return self.append_events_directly(id, events).await;
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(StoreDbError::Corrupt(
                "the conversation writer stopped".to_string(),
            )),
        }
    }

    /// Writes a batch of appends in one transaction. `None` for an append
    /// whose conversation does not exist.
    async fn write_batch(&self, jobs: &[AppendJob]) -> Result<Vec<Option<i64>>, StoreDbError> {
        let now = micros(Utc::now());
        let mut wanted: Vec<(&str, i64)> = Vec::new();
        for job in jobs {
            let n = job.events.len() as i64;
            match wanted.iter_mut().find(|(id, _)| *id == job.id) {
                Some((_, total)) => *total += n,
                None => wanted.push((job.id.as_str(), n)),
            }
        }
        dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            let lasts = b::reserve_seqs(&mut tx, &wanted, now).await?;
            // The next free seq of each conversation found.
            let mut next: Vec<(&str, i64)> = wanted
                .iter()
                .filter_map(|(id, total)| {
                    lasts
                        .iter()
                        .find(|(l, _)| l == id)
                        .map(|(_, last)| (*id, last - total + 1))
                })
                .collect();
            let mut rows: Vec<(&str, i64, String)> = Vec::new();
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                match next.iter_mut().find(|(id, _)| *id == job.id) {
                    Some((_, seq)) => {
                        for e in &job.events {
                            rows.push((job.id.as_str(), *seq, serde_json::to_string(e)?));
                            *seq += 1;
                        }
                        results.push(Some(*seq - 1));
                    }
                    None => results.push(None),
                }
            }
            for chunk in rows.chunks(1000) {
                b::insert_event_rows(&mut tx, chunk, now).await?;
            }
            tx.commit().await?;
            Ok(results)
        })
    }

    /// [`Db::append_events`] without batching: its own transaction.
    async fn append_events_directly(
        &self,
        id: &str,
        events: &[Event],
    ) -> Result<i64, StoreDbError> {
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

/// One append waiting for the writer.
pub(crate) struct AppendJob {
    id: String,
    events: Vec<Event>,
    reply: oneshot::Sender<Result<i64, StoreDbError>>,
}

/// The group-commit writer of a [`Db`]: started on first use, it lives
/// while any clone of the `Db` that started it does.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    tx: Mutex<Option<mpsc::UnboundedSender<AppendJob>>>,
    /// The writer's own `Db` handle has no writer (it writes directly).
    disabled: bool,
}

impl Writer {
    pub(crate) fn disabled() -> Arc<Writer> {
        Arc::new(Writer {
            tx: Mutex::new(None),
            disabled: true,
        })
    }

    /// The channel to the writer task, starting it if needed (`None` when
    /// batching is off for this handle or there is no runtime).
    fn sender(&self, db: &Db) -> Option<mpsc::UnboundedSender<AppendJob>> {
        if self.disabled {
            return None;
        }
        let mut guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = guard.as_ref().filter(|tx| !tx.is_closed()) {
            return Some(tx.clone());
        }
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let own = Db {
            pool: db.pool.clone(),
            writer: Writer::disabled(),
            orders: db.orders.clone(),
        };
        handle.spawn(run_writer(own, rx));
        *guard = Some(tx.clone());
        Some(tx)
    }
}

/// Takes every append waiting (up to 512), writes them in one transaction,
/// answers each; on a failed batch, retries its appends one by one.
async fn run_writer(db: Db, mut rx: mpsc::UnboundedReceiver<AppendJob>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < 512 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        match db.write_batch(&jobs).await {
            Ok(results) => {
                for (job, r) in jobs.into_iter().zip(results) {
                    let r = r.ok_or_else(|| StoreDbError::ConversationNotFound(job.id.clone()));
                    let _ = job.reply.send(r);
                }
            }
            Err(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    let _ = job.reply.send(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, appends = jobs.len(), "batched append failed; retrying one by one");
                for job in jobs {
                    let r = db.append_events_directly(&job.id, &job.events).await;
                    let _ = job.reply.send(r);
                }
            }
        }
    }
}
