//! Conversation logs: one row per conversation and its events in order.
//!
//! Events are numbered 1, 2, 3, … per conversation with no gaps, also under
//! concurrent appends: the next numbers are reserved by one
//! `UPDATE … SET last_seq = last_seq + n … RETURNING` in the same
//! transaction as the inserts, so appenders queue on the conversation row.
//!
//! One writer per conversation: [`Db::append_events_after`] appends only
//! when the conversation's last seq is still the one the caller's state was
//! folded from (a fencing token checked under the row lock, in the same
//! transaction), so a server that ran a turn on an old state, or paused and
//! woke up late, can never write after a newer one; it gets
//! [`StoreDbError::Stale`], reloads, and runs the turn again.

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

/// The plaintext kind kept next to an encrypted event, so GDPR lookups can
/// find the `Verified` and `CustomerSignedIn` events without decrypting every event.
pub(crate) fn event_kind(e: &Event) -> Option<&'static str> {
    match e {
        Event::Verified { .. } => Some("verified"),
        Event::CustomerSignedIn { .. } => Some("customer_signed_in"),
        _ => None,
    }
}

/// One stored event row: the events of one append, sealed together (a
/// "pack"), so a turn's ten or so events cost one row, one index entry and
/// one seal instead of ten. `seq` is the first event's seq; `last_seq` the
/// last one's, `None` for a row holding a single event (stored as the JSON
/// object, as every row was before packs).
pub(crate) struct PackRow<'a> {
    pub conversation: &'a str,
    pub seq: i64,
    pub last_seq: Option<i64>,
    pub sealed: String,
    /// The first [`event_kind`] among the events (GDPR lookups open the
    /// whole pack).
    pub kind: Option<&'static str>,
}

impl<'a> PackRow<'a> {
    /// `events` (at least one) numbered from `first`.
    pub(crate) fn seal(
        crypt: &crate::crypto::Crypt,
        conversation: &'a str,
        first: i64,
        events: &[Event],
    ) -> Result<Self, StoreDbError> {
        let (json, last_seq) = match events {
            [] => return Err(StoreDbError::Corrupt("an empty event pack".to_string())),
            [one] => (serde_json::to_string(one)?, None),
            many => (
                serde_json::to_string(many)?,
                Some(first + many.len() as i64 - 1),
            ),
        };
        Ok(PackRow {
            conversation,
            seq: first,
            last_seq,
            sealed: crypt.seal("conversation_events.event", &json)?,
            kind: events.iter().find_map(event_kind),
        })
    }
}

/// The events of a stored row (opened), each with its seq.
pub(crate) fn unpack(
    first: i64,
    last: Option<i64>,
    json: &str,
) -> Result<Vec<(i64, Event)>, StoreDbError> {
    let Some(last) = last else {
        return Ok(vec![(first, serde_json::from_str(json)?)]);
    };
    let events: Vec<Event> = serde_json::from_str(json)?;
    if i64::try_from(events.len()).ok() != Some(last - first + 1) {
        return Err(StoreDbError::Corrupt(format!(
            "the event pack at seq {first} holds {} events, not {}",
            events.len(),
            last - first + 1
        )));
    }
    Ok((first..).zip(events).collect())
}

/// Refuses text the databases cannot hold (PostgreSQL rejects NUL).
pub(crate) fn check(field: &'static str, value: &str) -> Result<(), StoreDbError> {
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
        self.create_conversation_with(new, &[]).await.map(|_| ())
    }

    /// Creates a conversation and appends its first events (e.g. the
    /// greeting) in one go; returns the seq of the last event (0 for none).
    /// Written by the group-commit writer like [`Db::append_events`].
    pub async fn create_conversation_with(
        &self,
        new: &NewConversation,
        events: &[Event],
    ) -> Result<i64, StoreDbError> {
        check("conversation id", &new.id)?;
        check("token hash", &new.token_hash)?;
        check("channel", &new.channel)?;
        check("locale", new.locale.as_deref().unwrap_or_default())?;
        check("customer", new.customer.as_deref().unwrap_or_default())?;
        let new = NewConversation {
            created_at: micros(new.created_at),
            ..new.clone()
        };
        let (reply, answer) = oneshot::channel();
        let job = Job::Append {
            create: Some(new),
            id: String::new(),
            events: events.to_vec(),
            expect: None,
            client_message_id: None,
            reply,
        };
        self.submit(job, answer).await
    }

    /// Hands a job to the writer (or runs it directly when there is none)
    /// and waits for its answer.
    async fn submit<T>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<T, StoreDbError>>,
    ) -> Result<T, StoreDbError> {
        match self.writer.sender(self) {
            Some(tx) => {
                if let Err(mpsc::error::SendError(job)) = tx.send(job) {
                    self.run_directly(job).await;
                }
            }
            None => self.run_directly(job).await,
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(StoreDbError::Corrupt(
                "the conversation writer stopped".to_string(),
            )),
        }
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
        self.append(id, events, None, None).await
    }

    /// [`Db::append_events`] only if the conversation's last seq is `after`
    /// (the seq the caller's state was folded from); otherwise nothing is
    /// written and the error is [`StoreDbError::Stale`] with the seq it is at.
    pub async fn append_events_after(
        &self,
        id: &str,
        events: &[Event],
        after: i64,
    ) -> Result<i64, StoreDbError> {
        self.append(id, events, Some(after), None).await
    }

    /// A shopper's turn: [`Db::append_events_after`], and its client message
    /// id recorded in the same transaction (as pending: the response is
    /// [`pending_response`], until [`Db::complete_client_message`]), so a
    /// server that dies after the commit cannot leave a retry to answer the
    /// message a second time. A client message id already recorded refuses
    /// the append whole with [`StoreDbError::DuplicateClientMessage`].
    pub async fn append_turn(
        &self,
        id: &str,
        events: &[Event],
        after: i64,
        client_message_id: Option<&str>,
    ) -> Result<i64, StoreDbError> {
        if let Some(c) = client_message_id {
            check("client message id", c)?;
        }
        self.append(
            id,
            events,
            Some(after),
            client_message_id.map(str::to_string),
        )
        .await
    }

    /// Replaces a pending client message id's response with the real one.
    pub async fn complete_client_message(
        &self,
        id: &str,
        client_message_id: &str,
        seq: Option<i64>,
        response: &serde_json::Value,
    ) -> Result<(), StoreDbError> {
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::complete_client_message(&mut conn, &self.crypt, id, client_message_id, seq, response).await
        })
    }

    async fn append(
        &self,
        id: &str,
        events: &[Event],
        expect: Option<i64>,
        client_message_id: Option<String>,
    ) -> Result<i64, StoreDbError> {
        if events.is_empty() || id.contains('\0') {
            return self
                .append_events_directly(id, events, expect, client_message_id.as_deref())
                .await;
        }
        let (reply, answer) = oneshot::channel();
        let job = Job::Append {
            create: None,
            id: id.to_string(),
            events: events.to_vec(),
            expect,
            client_message_id,
            reply,
        };
        self.submit(job, answer).await
    }

    /// One job in its own transaction (the writer's fallback), answered.
    async fn run_directly(&self, job: Job) {
        match job {
            Job::Append {
                create: Some(new),
                events,
                reply,
                ..
            } => {
                let r = async {
                    dispatch!(self, b, p => {
                        let mut tx = p.begin().await?;
                        b::insert_conversation(&mut tx, &self.crypt, &new).await?;
                        tx.commit().await?;
                    });
                    self.append_events_directly(&new.id, &events, None, None)
                        .await
                }
                .await;
                let _ = reply.send(r);
            }
            Job::Append {
                create: None,
                id,
                events,
                expect,
                client_message_id,
                reply,
            } => {
                let _ = reply.send(
                    self.append_events_directly(&id, &events, expect, client_message_id.as_deref())
                        .await,
                );
            }
            Job::Remember {
                id,
                client_message_id,
                seq,
                response,
                reply,
            } => {
                let now = micros(Utc::now());
                let r = async {
                    dispatch!(self, b, p => {
                        let mut conn = p.acquire().await?;
                        b::remember(&mut conn, &self.crypt, &id, &client_message_id, seq, &response, now).await
                    })
                }
                .await;
                let _ = reply.send(r);
            }
        }
    }

    /// Writes a batch of jobs in one transaction: new conversations first,
    /// then every append (all sequence numbers reserved in one statement, all
    /// events inserted in one), then client message ids. Returns one outcome
    /// per job, in order.
    async fn write_batch(&self, jobs: &[Job]) -> Result<Vec<Outcome>, StoreDbError> {
        let now = micros(Utc::now());
        dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            for job in jobs {
                if let Job::Append { create: Some(new), .. } = job {
                    b::insert_conversation(&mut tx, &self.crypt, new).await?;
                }
            }
            // Fencing: the appends that expect a seq, checked under the row
            // lock in this transaction, in the order they will be numbered.
            let fenced: Vec<&str> = jobs
                .iter()
                .filter_map(|j| match j {
                    Job::Append { create: None, id, expect: Some(_), .. } => Some(id.as_str()),
                    _ => None,
                })
                .collect();
            // One statement locks every existing conversation of the batch,
            // in id order (the unfenced ones too, so that the seq
            // reservation below never waits for a lock taken in another
            // order: writers of several instances cannot deadlock); one more
            // finds the client message ids answered already.
            let mut distinct: Vec<&str> = jobs
                .iter()
                .filter_map(|j| match j {
                    Job::Append { create: None, id, .. } => Some(id.as_str()),
                    _ => None,
                })
                .collect();
            distinct.sort_unstable();
            distinct.dedup();
            let locked = b::last_seqs_locked(&mut tx, &distinct).await?;
            let asked: Vec<(&str, &str)> = jobs
                .iter()
                .filter_map(|j| match j {
                    Job::Append { create: None, id, client_message_id: Some(c), .. }
                        if fenced.contains(&id.as_str()) =>
                    {
                        Some((id.as_str(), c.as_str()))
                    }
                    _ => None,
                })
                .collect();
            let known = b::known_client_messages(&mut tx, &asked).await?;
            let mut at: Vec<(&str, i64)> = Vec::new();
            let mut stale = vec![None; jobs.len()];
            let mut cmids: Vec<(&str, &str)> = Vec::new();
            for (i, job) in jobs.iter().enumerate() {
                let Job::Append { create: None, id, events, expect, client_message_id, .. } = job else {
                    continue;
                };
                if !fenced.contains(&id.as_str()) {
                    continue;
                }
                let current = match at.iter().find(|(w, _)| *w == id) {
                    Some((_, s)) => Some(*s),
                    None => locked.iter().find(|(l, _)| l == id).map(|(_, s)| *s),
                };
                let Some(current) = current else { continue };
                if expect.is_some_and(|e| e != current) {
                    stale[i] = Some(Refused::Stale(current));
                    continue;
                }
                if let Some(c) = client_message_id.as_deref() {
                    let recorded = known.iter().any(|(k, m)| k == id && m == c);
                    if cmids.contains(&(id.as_str(), c)) || recorded {
                        stale[i] = Some(Refused::Duplicate);
                        continue;
                    }
                    cmids.push((id, c));
                }
                let next = current + events.len() as i64;
                match at.iter_mut().find(|(w, _)| *w == id) {
                    Some((_, s)) => *s = next,
                    None => at.push((id, next)),
                }
            }
            let mut wanted: Vec<(&str, i64)> = Vec::new();
            for (job, stale) in jobs.iter().zip(&stale) {
                if let (Job::Append { create, id, events, .. }, None) = (job, stale) {
                    let id = create.as_ref().map_or(id.as_str(), |c| c.id.as_str());
                    let n = events.len() as i64;
                    match wanted.iter_mut().find(|(w, _)| *w == id) {
                        Some((_, total)) => *total += n,
                        None => wanted.push((id, n)),
                    }
                }
            }
            let lasts = b::reserve_seqs(&mut tx, &wanted, now).await?;
            if self.event_stream_enabled() {
                for (id, last) in &lasts {
                    b::want_streamed(&mut tx, id, *last).await?;
                }
            }
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
            let mut rows: Vec<PackRow> = Vec::new();
            let mut pending: Vec<(&str, &str, i64, i64)> = Vec::new();
            let mut results = Vec::with_capacity(jobs.len());
            for (job, stale) in jobs.iter().zip(stale) {
                match job {
                    Job::Append { .. } if stale.is_some() => {
                        results.push(match stale {
                            Some(Refused::Stale(last)) => Outcome::Stale(last),
                            _ => Outcome::Duplicate,
                        });
                    }
                    Job::Append { create, id, events, client_message_id, .. } => {
                        let id = create.as_ref().map_or(id.as_str(), |c| c.id.as_str());
                        match next.iter_mut().find(|(n, _)| *n == id) {
                            Some((_, seq)) => {
                                if let Some(c) = client_message_id {
                                    let (first, last) = (*seq, *seq + events.len() as i64 - 1);
                                    pending.push((id, c.as_str(), first, last));
                                }
                                if !events.is_empty() {
                                    rows.push(PackRow::seal(&self.crypt, id, *seq, events)?);
                                    *seq += events.len() as i64;
                                }
                                results.push(Outcome::Appended(Some(*seq - 1)));
                            }
                            None => results.push(Outcome::Appended(None)),
                        }
                    }
                    Job::Remember { .. } => results.push(Outcome::Remembered(false)),
                }
            }
            for chunk in rows.chunks(1000) {
                b::insert_event_rows(&mut tx, chunk, now).await?;
            }
            for (id, c, first, last) in pending {
                b::remember(&mut tx, &self.crypt, id, c, Some(first), &pending_response(first, last), now).await?;
            }
            for (job, result) in jobs.iter().zip(results.iter_mut()) {
                if let Job::Remember { id, client_message_id, seq, response, .. } = job {
                    let stored = b::remember(&mut tx, &self.crypt, id, client_message_id, *seq, response, now).await?;
                    *result = Outcome::Remembered(stored);
                }
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
        expect: Option<i64>,
        client_message_id: Option<&str>,
    ) -> Result<i64, StoreDbError> {
        let n = i64::try_from(events.len())
            .map_err(|_| StoreDbError::Corrupt("too many events".to_string()))?;
        if id.contains('\0') {
            return Err(StoreDbError::ConversationNotFound(id.to_string()));
        }
        let now = micros(Utc::now());
        dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            if let Some(expect) = expect {
                match b::last_seq_locked(&mut tx, id).await? {
                    None => return Err(StoreDbError::ConversationNotFound(id.to_string())),
                    Some(last) if last != expect => {
                        return Err(StoreDbError::Stale { id: id.to_string(), last })
                    }
                    Some(_) => {}
                }
            }
            if let Some(c) = client_message_id {
                if b::recall(&mut tx, id, c).await?.is_some() {
                    return Err(StoreDbError::DuplicateClientMessage(id.to_string()));
                }
            }
            let last = b::reserve_seq(&mut tx, id, n, now)
                .await?
                .ok_or_else(|| StoreDbError::ConversationNotFound(id.to_string()))?;
            if n > 0 && self.event_stream_enabled() {
                b::want_streamed(&mut tx, id, last).await?;
            }
            // A pack per 1,000 events (a long import stays in rows of a
            // sensible size).
            let mut first = last - n + 1;
            let mut rows = Vec::new();
            for chunk in events.chunks(1000) {
                rows.push(PackRow::seal(&self.crypt, id, first, chunk)?);
                first += chunk.len() as i64;
            }
            b::insert_event_rows(&mut tx, &rows, now).await?;
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
            b::events_after(&mut conn, &self.crypt, id, seq).await
        })
    }

    /// The last shopper message of the conversation: its seq and text as
    /// stored (already redacted).
    pub async fn last_user_text(&self, id: &str) -> Result<Option<(i64, String)>, StoreDbError> {
        Ok(self
            .events_after(id, 0)
            .await?
            .into_iter()
            .rev()
            .find_map(|(seq, e)| match e {
                Event::UserSaid { text, .. } => Some((seq, text)),
                _ => None,
            }))
    }

    /// Replaces the text of the shopper message at `seq` (the end of a
    /// card number that the next message completed). False when `seq` is
    /// not a shopper message of this conversation.
    pub async fn rewrite_user_text(
        &self,
        id: &str,
        seq: i64,
        text: &str,
    ) -> Result<bool, StoreDbError> {
        let text = text.to_string();
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::rewrite_event(&mut conn, &self.crypt, id, seq, |event| match event {
                Event::UserSaid { text: t, .. } => {
                    *t = text;
                    true
                }
                _ => false,
            })
            .await
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
                metadata: serde_json::from_str(
                    &self.crypt.open("conversations.metadata", &r.metadata)?,
                )?,
                customer: self.crypt.open_opt("conversations.customer", r.customer)?,
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
        let (reply, answer) = oneshot::channel();
        let job = Job::Remember {
            id: id.to_string(),
            client_message_id: client_message_id.to_string(),
            seq,
            response: response.clone(),
            reply,
        };
        let stored = self.submit(job, answer).await?;
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
                response: serde_json::from_str(
                    &self
                        .crypt
                        .open("client_message_ids.response", &r.response)?,
                )?,
            })
        })
        .transpose()
    }
}

/// One write waiting for the writer.
pub(crate) enum Job {
    /// Events to append; with `create`, to a conversation created first
    /// (then `id` is unused).
    Append {
        create: Option<NewConversation>,
        id: String,
        events: Vec<Event>,
        /// The last seq the conversation must be at (the fencing token).
        expect: Option<i64>,
        /// Recorded in the same transaction (a shopper's turn).
        client_message_id: Option<String>,
        reply: oneshot::Sender<Result<i64, StoreDbError>>,
    },
    /// A client message id and its response (`true`: stored now).
    Remember {
        id: String,
        client_message_id: String,
        seq: Option<i64>,
        response: serde_json::Value,
        reply: oneshot::Sender<Result<bool, StoreDbError>>,
    },
}

/// Why a fenced append was not written.
#[derive(Debug, Clone, Copy)]
enum Refused {
    Stale(i64),
    Duplicate,
}

/// The response recorded with a client message id in its turn's own
/// transaction, until the real one replaces it: the seqs of the turn's
/// events, from which a retry rebuilds the answer.
pub fn pending_response(first: i64, last: i64) -> serde_json::Value {
    serde_json::json!({"pending": {"first": first, "last": last}})
}

/// What a job of a written batch came to.
enum Outcome {
    /// The last seq, or `None` when the conversation does not exist.
    Appended(Option<i64>),
    /// Not written: the conversation had moved on to this seq.
    Stale(i64),
    /// Not written: the client message id is already recorded.
    Duplicate,
    Remembered(bool),
}

/// The group-commit writer of a [`Db`]: started on first use, it lives
/// while any clone of the `Db` that started it does.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    tx: Mutex<Option<mpsc::UnboundedSender<Job>>>,
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
    fn sender(&self, db: &Db) -> Option<mpsc::UnboundedSender<Job>> {
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
            replica: None,
            writer: Writer::disabled(),
            orders: db.orders.clone(),
            crypt: db.crypt.clone(),
            stream: db.stream.clone(),
        };
        handle.spawn(run_writer(own, rx));
        *guard = Some(tx.clone());
        Some(tx)
    }
}

/// Takes every job waiting (up to 512), writes them in one transaction,
/// answers each; on a failed batch, runs its jobs one by one so one bad job
/// cannot fail the others.
async fn run_writer(db: Db, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < 512 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let written = db.write_batch(&jobs).await;
        tracing::trace!(
            jobs = jobs.len(),
            micros = started.elapsed().as_micros() as u64,
            ok = written.is_ok(),
            "batch written"
        );
        match written {
            Ok(results) => {
                for (job, outcome) in jobs.into_iter().zip(results) {
                    match (job, outcome) {
                        (
                            Job::Append {
                                create, id, reply, ..
                            },
                            Outcome::Appended(last),
                        ) => {
                            let id = create.map_or(id, |c| c.id);
                            let _ = reply.send(last.ok_or(StoreDbError::ConversationNotFound(id)));
                        }
                        (
                            Job::Append {
                                create, id, reply, ..
                            },
                            Outcome::Stale(last),
                        ) => {
                            let id = create.map_or(id, |c| c.id);
                            let _ = reply.send(Err(StoreDbError::Stale { id, last }));
                        }
                        (
                            Job::Append {
                                create, id, reply, ..
                            },
                            Outcome::Duplicate,
                        ) => {
                            let id = create.map_or(id, |c| c.id);
                            let _ = reply.send(Err(StoreDbError::DuplicateClientMessage(id)));
                        }
                        (Job::Remember { reply, .. }, Outcome::Remembered(stored)) => {
                            let _ = reply.send(Ok(stored));
                        }
                        // Outcomes are made per job in order; a mismatch
                        // cannot happen, but must not leave a caller waiting.
                        (job, _) => db.run_directly(job).await,
                    }
                }
            }
            Err(e) => {
                if jobs.len() > 1 {
                    tracing::warn!(error = %e, jobs = jobs.len(), "batched write failed; retrying one by one");
                }
                for job in jobs {
                    db.run_directly(job).await;
                }
            }
        }
    }
}
