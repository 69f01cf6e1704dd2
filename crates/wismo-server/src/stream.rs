//! The durable event stream: every conversation event and every case event
//! on NATS JetStream, for consumers such as analytics, CRMs and data
//! warehouses.
//!
//! Stream `WISMO_EVENTS`, subjects `wismo.events.>`:
//! - `wismo.events.conversation.<conversation id>`: one message per event
//!   of the conversation's log, in seq order, message id
//!   `<conversation id>:<seq>`;
//! - `wismo.events.case.<conversation id>`: the case events the webhooks
//!   carry (`handoff.requested`, `agent.message`, …), with the webhook body,
//!   message id the event id (`evt_…`).
//!
//! Delivery is at least once from the database, never from memory:
//! - conversation events: appends mark their conversation in their own
//!   transaction (`event_stream.wanted_seq`); the relay here claims
//!   conversations that are behind with a lease, publishes their events,
//!   waits for JetStream's acknowledgements and only then records how far it
//!   got ([`wismo_store::Db::stream_advance`]);
//! - case events: a row in the webhook outbox for target [`TARGET`],
//!   delivered by the webhook worker with its retries and per-conversation
//!   order ([`EventStream::publish_case`]).
//!
//! A relay that dies mid-way leaves its lease to run out and the next one
//! publishes the same messages again; JetStream drops them as duplicates
//! by their `Nats-Msg-Id` within the stream's duplicate window (two
//! minutes), and consumers that see one anyway can drop it by its id.
//! Consumers use a durable JetStream consumer: one that restarts resumes
//! after its last acknowledged message and misses nothing.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use chrono::{SecondsFormat, Utc};
use serde_json::json;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use wismo_core::dialogue::Event;
use wismo_store::{Db, OutboxMessage, StreamClaim};

/// The stream's name.
pub const STREAM: &str = "WISMO_EVENTS";
/// Every subject of the stream.
pub const SUBJECTS: &str = "wismo.events.>";
/// Conversation events: `wismo.events.conversation.<id>`.
pub const CONVERSATION_PREFIX: &str = "wismo.events.conversation.";
/// Case events: `wismo.events.case.<id>`.
pub const CASE_PREFIX: &str = "wismo.events.case.";
/// The webhook outbox's target for case events.
pub const TARGET: &str = "nats:wismo.events";

/// Conversations claimed per round.
const BATCH: usize = 64;
/// Events published per conversation per round (the rest next round).
const MAX_EVENTS: usize = 500;
/// How long a claim is this relay's.
const LEASE: Duration = Duration::from_secs(30);
/// Rounds without a local commit to wake them.
const TICK: Duration = Duration::from_millis(500);
/// How long messages stay in the stream.
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// JetStream drops a repeated message id within this window.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The publisher of the durable event stream. Cheap to clone.
#[derive(Clone)]
pub struct EventStream(Arc<Shared>);

struct Shared {
    js: jetstream::Context,
    db: Db,
    /// Rung after local commits.
    wake: Arc<Notify>,
    /// Whether the stream is known to exist (created on first use).
    ready: tokio::sync::Mutex<bool>,
}

impl EventStream {
    /// The stream over `client`. From now on appends to `db` mark their
    /// conversation for the relay (see [`EventStream::start`]).
    pub fn new(client: async_nats::Client, db: Db, wake: Arc<Notify>) -> EventStream {
        db.enable_event_stream();
        EventStream(Arc::new(Shared {
            js: jetstream::new(client),
            db,
            wake,
            ready: tokio::sync::Mutex::new(false),
        }))
    }

    /// Creates the stream when it does not exist yet (idempotent; a stream
    /// an operator created with other limits is kept as it is).
    async fn ensure(&self) -> anyhow::Result<()> {
        let mut ready = self.0.ready.lock().await;
        if *ready {
            return Ok(());
        }
        self.0
            .js
            .get_or_create_stream(jetstream::stream::Config {
                name: STREAM.to_string(),
                subjects: vec![SUBJECTS.to_string()],
                storage: jetstream::stream::StorageType::File,
                max_age: MAX_AGE,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the JetStream stream {STREAM}: {e}"))?;
        *ready = true;
        Ok(())
    }

    /// Publishes one case event (an outbox row for [`TARGET`]) and waits for
    /// JetStream's acknowledgement.
    pub async fn publish_case(&self, m: &OutboxMessage, conversation: &str) -> Result<(), String> {
        self.ensure().await.map_err(|e| e.to_string())?;
        let subject = if subject_safe(conversation) {
            format!("{CASE_PREFIX}{conversation}")
        } else {
            format!("{CASE_PREFIX}none")
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, m.event_id.as_str());
        headers.insert("Wismo-Event-Type", m.kind.as_str());
        let ack = self
            .0
            .js
            .publish_with_headers(subject, headers, m.body.clone().into())
            .await
            .map_err(|e| format!("JetStream publish failed: {e}"))?;
        ack.await
            .map(|_| ())
            .map_err(|e| format!("JetStream did not acknowledge: {e}"))
    }

    /// Starts the relay of conversation events; it stops when `shutdown`
    /// turns true or its sender is dropped.
    pub fn start(&self, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tracing::info!(stream = STREAM, "durable event stream on");
        tokio::spawn(self.clone().run(shutdown))
    }

    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if *shutdown.borrow() {
                break;
            }
            loop {
                match self.relay_due().await {
                    Ok(n) if n == BATCH && !*shutdown.borrow() => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream relay failed; trying again soon");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.0.wake.notified() => {}
                _ = tick.tick() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::debug!("event stream relay stopped");
    }

    /// One round: claims the conversations behind and publishes each;
    /// returns how many were claimed.
    async fn relay_due(&self) -> anyhow::Result<usize> {
        self.ensure().await?;
        let claims = self.0.db.stream_claim(BATCH, Utc::now(), LEASE).await?;
        let n = claims.len();
        let mut tasks = JoinSet::new();
        for claim in claims {
            let me = self.clone();
            tasks.spawn(async move { me.relay(claim).await });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "a conversation's events were not all published; retried after its lease");
            }
        }
        Ok(n)
    }

    /// Publishes one claimed conversation's events after its cursor, in seq
    /// order, then advances the cursor to the last one acknowledged.
    #[tracing::instrument(skip_all, fields(conversation = %claim.conversation_id))]
    async fn relay(&self, claim: StreamClaim) -> anyhow::Result<()> {
        let id = &claim.conversation_id;
        let events = self.0.db.events_after(id, claim.streamed_seq).await?;
        let mut acks = Vec::new();
        for (seq, event) in events.iter().take(MAX_EVENTS) {
            let (subject, headers, payload) = conversation_message(id, *seq, event)?;
            let ack = self
                .0
                .js
                .publish_with_headers(subject, headers, payload.into())
                .await
                .map_err(|e| anyhow::anyhow!("JetStream publish failed: {e}"))?;
            acks.push((*seq, ack));
        }
        let mut done = claim.streamed_seq;
        let mut failed = None;
        for (seq, ack) in acks {
            match ack.await {
                Ok(_) => done = seq,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if events.is_empty() {
            // Nothing left (erased): the cursor catches up with the mark.
            done = claim.wanted_seq;
        }
        self.0.db.stream_advance(&claim, done).await?;
        match failed {
            Some(e) => anyhow::bail!("JetStream did not acknowledge: {e}"),
            None => Ok(()),
        }
    }
}

/// One conversation event as a stream message: subject, headers (the
/// message id `<conversation>:<seq>`) and JSON body
/// `{"id","type":"conversation.event","conversation_id","seq","published_at","event"}`.
fn conversation_message(
    conversation: &str,
    seq: i64,
    event: &Event,
) -> anyhow::Result<(String, async_nats::HeaderMap, Vec<u8>)> {
    let subject = if subject_safe(conversation) {
        format!("{CONVERSATION_PREFIX}{conversation}")
    } else {
        format!("{CONVERSATION_PREFIX}none")
    };
    let id = format!("{conversation}:{seq}");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
    headers.insert("Wismo-Event-Type", "conversation.event");
    let body = serde_json::to_vec(&json!({
        "id": id,
        "type": "conversation.event",
        "conversation_id": conversation,
        "seq": seq,
        "published_at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "event": event,
    }))?;
    Ok((subject, headers, body))
}

/// Whether an id can be a subject token (no `.`, `*`, `>` or white space).
fn subject_safe(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_messages_carry_their_id_and_event() {
        let event = Event::SlotSet {
            name: "order_number".into(),
            value: "1001".into(),
        };
        let (subject, headers, body) = conversation_message("c_1", 7, &event).expect("a message");
        assert_eq!(subject, "wismo.events.conversation.c_1");
        assert_eq!(
            headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str()),
            Some("c_1:7")
        );
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["id"], "c_1:7");
        assert_eq!(v["type"], "conversation.event");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["event"]["value"], "1001");
        let (subject, _, _) = conversation_message("a.b", 1, &event).expect("a message");
        assert_eq!(subject, "wismo.events.conversation.none");
    }
}
