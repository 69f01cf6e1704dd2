//! A shopper's turn, as a short sequence of named stages:
//!
//! 1. **order**: one turn at a time per conversation on this server (the
//!    session's lock, FIFO); across servers the append's fencing token
//!    (stage 5) keeps one writer.
//! 2. **idempotency**: a client message id seen before gets its stored
//!    answer (the message lands once).
//! 3. **prepare**: state reloaded if stale; a card number split over two
//!    messages is joined and redacted.
//! 4. **engine** and **people**: the engine answers on a blocking thread
//!    (or a failure is turned into an apology and a hand-off); a hand-off is
//!    queued, or a queued shopper gets an honest wait update.
//! 5. **persist**: the events are appended only if the conversation is still
//!    at the seq this state was folded from; if another server appended
//!    first, the state is reloaded and stages 4–5 run again on it.
//! 6. **respond** and **publish**: the response is built, and every tab of
//!    the conversation gets the messages, in seq order.
//! 7. **after**: hand-off bookkeeping, the client message id remembered.
//!
//! A turn is acknowledged only after its events are committed.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wismo_core::dialogue::{Conversation, Event};
use wismo_core::nlu::ParseResult;
use wismo_core::redact::redact_text;
use wismo_store::StoreDbError;

use crate::config::PausePoint;
use crate::error::ApiError;
use crate::escalation::QueuedHandoff;
use crate::sessions::{message_json, Frame, Handoff, Live, Session, Sessions};

/// Times a turn is run again after another server appended first (each
/// time another server made progress; past this the shopper gets a 503 and
/// retries with the same client message id).
const MAX_STALE_RETRIES: usize = 64;

/// What stages 4 made of a message, before it is stored.
struct Draft {
    events: Vec<Event>,
    nlu: Option<ParseResult>,
    handoff: Handoff,
    queued: Option<QueuedHandoff>,
    /// Whether the conversation was with the store's people before.
    had_case: bool,
    /// The turn's time.
    now: DateTime<Utc>,
}

impl Sessions {
    /// [`Sessions::turn_counted`]; with `locked`, no order check is made in
    /// this turn: the engine answers as it does after too many failures in
    /// the conversation (`verify.locked`: says so plainly and offers a
    /// person). The server's verification limits use this. With
    /// `unanswered`, the caller has just looked the client message id up
    /// and found nothing: the replay stage is skipped (a copy answered
    /// meanwhile is still caught, by the append, and replayed).
    pub async fn turn_checked(
        &self,
        session: &Arc<Session>,
        text: &str,
        client_message_id: Option<&str>,
        locked: bool,
        unanswered: bool,
    ) -> Result<(Value, u32), ApiError> {
        let mut live = session.live.lock().await;
        session.used_now();
        if !unanswered {
            if let Some(replayed) = self.replay(&session.id, text, client_message_id).await? {
                return Ok((replayed, 0));
            }
        }
        self.reload_if_stale(session, &mut live).await?;
        let prepared = self.prepare(&session.id, text).await?;
        typing(session, true);
        let persisted = self
            .answer_and_persist(session, &mut live, &prepared, locked, client_message_id)
            .await;
        let (draft, last) = match persisted {
            Ok(Some(d)) => d,
            // Another server answered this client message id meanwhile.
            Ok(None) => {
                typing(session, false);
                drop(live);
                return match self.replay(&session.id, text, client_message_id).await? {
                    Some(replayed) => Ok((replayed, 0)),
                    None => Err(ApiError::Internal("a recorded message vanished".into())),
                };
            }
            Err(e) => {
                typing(session, false);
                return Err(e);
            }
        };
        let (response, numbered) = respond(&session.id, &draft, last);
        self.publish(session, &draft, last, &numbered).await;
        self.after(session, &live, &draft, last, client_message_id, &response)
            .await?;
        drop(live);
        let failed = draft
            .events
            .iter()
            .filter(|e| matches!(e, Event::VerificationFailed))
            .count();
        Ok((response, u32::try_from(failed).unwrap_or(u32::MAX)))
    }

    /// Stage 2: the stored answer to a client message id seen before; a
    /// different message under the same id is refused.
    async fn replay(
        &self,
        id: &str,
        text: &str,
        client_message_id: Option<&str>,
    ) -> Result<Option<Value>, ApiError> {
        let Some(cmid) = client_message_id else {
            return Ok(None);
        };
        let Some(mut r) = self.db.recall_client_message(id, cmid).await? else {
            return Ok(None);
        };
        if let Some(p) = r.response.get("pending") {
            // Committed, but the server that answered stopped before it
            // recorded its response: rebuilt from the log.
            let (first, last) = (p["first"].as_i64(), p["last"].as_i64());
            let (Some(first), Some(last)) = (first, last) else {
                return Err(ApiError::Internal("a pending message without seqs".into()));
            };
            r.response = self.response_from_log(id, first, last).await?;
        }
        // Card data (PCI DSS): what is stored and compared is the redacted text.
        let stored_text = redact_text(text);
        let recorded = r.response["user_message"]["text"].as_str();
        // The end of a card number split over two messages was replaced when
        // first answered.
        let completed = wismo_core::redact::leading_digits(&stored_text).map(|(a, b, _)| {
            format!(
                "{}{}{}",
                &stored_text[..a],
                wismo_core::redact::CARD_MARKER,
                &stored_text[b..]
            )
        });
        let same = recorded == Some(&stored_text)
            || (recorded.is_some() && recorded == completed.as_deref());
        if !same {
            return Err(ApiError::ClientMessageIdReused(cmid.to_string()));
        }
        let mut response = r.response;
        response["replayed"] = json!(true);
        Ok(Some(response))
    }

    /// Stage 3: a card number split over this message and the previous one
    /// leaves the stored previous message, before anything of this one is
    /// stored; the text the engine reads.
    async fn prepare<'a>(&self, id: &str, text: &'a str) -> Result<Cow<'a, str>, ApiError> {
        Ok(match self.split_card_number(id, text).await? {
            Some(joined) => Cow::Owned(joined),
            None => Cow::Borrowed(text),
        })
    }

    /// Stages 4 and 5, again on a fresh state while another server wins the
    /// append. Returns the draft and the seq of its last event; `None` when
    /// the client message id was answered elsewhere meanwhile (replay it).
    async fn answer_and_persist(
        &self,
        session: &Session,
        live: &mut Live,
        text: &str,
        locked: bool,
        client_message_id: Option<&str>,
    ) -> Result<Option<(Draft, i64)>, ApiError> {
        let mut retries = 0;
        let mut earlier: Option<QueuedHandoff> = None;
        loop {
            let draft = self
                .answer(session, live, text, locked, earlier.as_ref())
                .await?;
            self.pause_for_test(&session.id, PausePoint::BeforeCommit)
                .await;
            match self
                .db
                .append_turn(&session.id, &draft.events, live.last_seq, client_message_id)
                .await
            {
                Ok(last) => {
                    live.last_seq = last;
                    live.last_active = draft.now;
                    self.pause_for_test(&session.id, PausePoint::AfterCommit)
                        .await;
                    return Ok(Some((draft, last)));
                }
                Err(StoreDbError::DuplicateClientMessage(_)) => {
                    live.stale = true;
                    return Ok(None);
                }
                Err(StoreDbError::Stale { last, .. }) if retries < MAX_STALE_RETRIES => {
                    retries += 1;
                    earlier = draft.queued.or(earlier);
                    tracing::info!(conversation = %session.id, seq = last, "another server answered first; running the turn again on its state");
                    live.stale = true;
                    self.reload_if_stale(session, live).await?;
                }
                Err(e) => {
                    // Memory ran ahead of the log: rebuild before the next turn.
                    live.stale = true;
                    return Err(e.into());
                }
            }
        }
    }

    /// The failure tests' pause (`WISMO_TEST_TURN_PAUSE`): sleeps when
    /// `point` is the configured one; nothing otherwise.
    async fn pause_for_test(&self, id: &str, point: PausePoint) {
        let Some(pause) = self.test_pause.filter(|p| p.point == point) else {
            return;
        };
        tracing::warn!(conversation = %id, point = ?point, ms = pause.time.as_millis() as u64, "test pause in a turn");
        tokio::time::sleep(pause.time).await;
    }

    /// Stage 4: the engine's answer, and the people's side of it.
    async fn answer(
        &self,
        session: &Session,
        live: &mut Live,
        text: &str,
        locked: bool,
        earlier: Option<&QueuedHandoff>,
    ) -> Result<Draft, ApiError> {
        let now = self.clock.now();
        let mut events = Vec::new();
        // A conversation waiting for or talking to a person never expires.
        let with_people = live.conv.state.case_id.is_some() || live.conv.state.agent.is_some();
        let idle = now
            .signed_duration_since(live.last_active)
            .to_std()
            .unwrap_or_default();
        if !with_people && idle > self.idle {
            events.push(live.conv.expire_session(now));
            live.conv.events.clear();
        }
        // Whether the conversation was with a person before this message
        // (read before the state is handed to the engine).
        let had_case = live.conv.state.case_id.is_some();
        let (nlu, handoff) = self
            .run_engine(session, live, text, locked, now, &mut events)
            .await;
        let mut draft = Draft {
            events,
            nlu,
            handoff,
            queued: None,
            had_case,
            now,
        };
        self.people(session, live, &redact_text(text), now, earlier, &mut draft)
            .await?;
        Ok(draft)
    }

    /// The engine on a blocking thread. A failure keeps what the shopper
    /// said, apologises and hands over to a person rather than hang.
    async fn run_engine(
        &self,
        session: &Session,
        live: &mut Live,
        text: &str,
        locked: bool,
        now: DateTime<Utc>,
        events: &mut Vec<Event>,
    ) -> (Option<ParseResult>, Handoff) {
        let engine = self.engine.get();
        let mut conv = std::mem::take(&mut live.conv);
        let owned = text.to_string();
        let fail = self.fail_next_turn.swap(false, Ordering::Relaxed);
        let outcome = tokio::task::spawn_blocking(move || {
            if fail {
                panic!("injected engine failure");
            }
            let saved = conv.state.failed_verifications;
            if locked {
                conv.state.failed_verifications = u32::MAX / 2;
            }
            let out = engine.turn(&mut conv, &owned, now);
            if locked {
                conv.state.failed_verifications = saved;
            }
            (conv, out)
        })
        .await;
        match outcome {
            Ok((mut conv, out)) => {
                conv.events.clear();
                live.conv = conv;
                events.extend(out.events);
                (Some(out.nlu), Handoff::of(&out.state))
            }
            Err(e) => {
                tracing::error!(conversation = %session.id, error = %e, "turn failed");
                live.stale = true;
                events.extend(engine_failed(redact_text(text), now));
                let handoff = Handoff {
                    reason: Some("bot_error".to_string()),
                    ..Handoff::default()
                };
                (None, handoff)
            }
        }
    }

    /// A hand-off requested now (or earlier, when it could not be queued)
    /// goes to the people's queue with the shopper told what to expect; a
    /// shopper waiting in the queue gets one honest update when their wait
    /// changed.
    async fn people(
        &self,
        session: &Session,
        live: &mut Live,
        stored_text: &str,
        now: DateTime<Utc>,
        earlier: Option<&QueuedHandoff>,
        draft: &mut Draft,
    ) -> Result<(), ApiError> {
        let requested = draft
            .events
            .iter()
            .any(|e| matches!(e, Event::HandoffRequested { .. }));
        let st = &live.conv.state;
        let pending =
            !live.stale && st.handoff.is_some() && st.case_id.is_none() && st.agent.is_none();
        // A case an earlier run of this turn queued (it lost its append) is
        // open now: told again on the fresh state, not queued twice.
        if (requested || pending)
            && !draft.had_case
            && (earlier.is_some() || self.db.open_handoff(&session.id).await?.is_none())
        {
            let intent = draft.nlu.as_ref().map(|n| n.intent.name.clone());
            let result = if live.stale {
                // The engine failed: queue from what the log says so far.
                let mut conv = Conversation::new(session.id.clone());
                conv.state.handoff = Some("bot_error".into());
                self.queue_handoff(
                    &mut conv,
                    &mut draft.events,
                    intent,
                    stored_text,
                    earlier,
                    now,
                )
                .await
                .map(|h| (h, Handoff::of(&conv.state)))
            } else {
                let mut conv = std::mem::take(&mut live.conv);
                let r = self
                    .queue_handoff(
                        &mut conv,
                        &mut draft.events,
                        intent,
                        stored_text,
                        earlier,
                        now,
                    )
                    .await;
                conv.events.clear();
                let h = Handoff::of(&conv.state);
                live.conv = conv;
                r.map(|r| (r, h))
            };
            match result {
                Ok((h, state)) => {
                    draft.handoff = state;
                    draft.queued = Some(h);
                }
                // The hand-off stays requested; the shopper's message is kept.
                Err(e) => {
                    tracing::error!(conversation = %session.id, error = %e, "could not queue the hand-off")
                }
            }
        }
        let bot_spoke = draft
            .events
            .iter()
            .any(|e| matches!(e, Event::BotSaid { .. }));
        if draft.queued.is_none() && draft.had_case && !live.stale && !bot_spoke {
            let mut conv = std::mem::take(&mut live.conv);
            let r = self.wait_update(&mut conv, &mut draft.events, now).await;
            conv.events.clear();
            if matches!(r, Ok(true)) {
                draft.handoff = Handoff::of(&conv.state);
            }
            live.conv = conv;
            if let Err(e) = r {
                tracing::error!(conversation = %session.id, error = %e, "could not check the wait");
            }
        }
        Ok(())
    }

    /// Stage 6: the other instances learn of the commit (a doorbell, fire
    /// and forget), and every tab here sees the shopper's message and the
    /// replies, in order, after anything other instances committed before
    /// them: sent before the session's lock is released, so the next turn's
    /// frames can never overtake these.
    async fn publish(
        &self,
        session: &Session,
        draft: &Draft,
        last: i64,
        numbered: &[(i64, Value)],
    ) {
        self.bus.publish(&session.id, last);
        let first = last - draft.events.len() as i64 + 1;
        self.forward(session, first, last, numbered.iter().map(|(s, m)| (*s, m)))
            .await;
        if session.frames.receiver_count() == 0 {
            return;
        }
        typing(session, false);
        if draft.handoff != Handoff::default() {
            let _ = session.frames.send(Frame::server(
                &json!({"type": "handoff", "handoff": draft.handoff.json()}),
            ));
        }
    }

    /// Stage 7: hand-off bookkeeping and the client message id.
    async fn after(
        &self,
        session: &Session,
        live: &Live,
        draft: &Draft,
        last: i64,
        client_message_id: Option<&str>,
        response: &Value,
    ) -> Result<(), ApiError> {
        let now = draft.now;
        // Proactive updates: this conversation hears about the orders it was
        // shown (verified, or shown again), for `watch_days` after.
        let mut shown: Vec<&str> = draft
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Verified {
                    order_number: Some(n),
                    ..
                } => Some(n.as_str()),
                Event::BotSaid {
                    order_card: Some(card),
                    ..
                } => Some(card.order_number.as_str()),
                _ => None,
            })
            .collect();
        shown.sort_unstable();
        shown.dedup();
        for n in shown {
            // Real time, as the notices that read it (a frozen demo clock aside).
            if let Err(e) = self
                .db
                .watch_order(n, &session.id, chrono::Utc::now())
                .await
            {
                tracing::warn!(conversation = %session.id, error = %e, "could not watch the order");
            }
        }
        if draft.queued.is_some() || draft.had_case || live.conv.state.case_id.is_some() {
            let sentiments = live.conv.state.sentiments.clone();
            if let Err(e) = self
                .after_handoff_turn(
                    &session.id,
                    draft.queued.as_ref().map(|q| &q.handoff),
                    &draft.events,
                    last,
                    &sentiments,
                    now,
                )
                .await
            {
                tracing::error!(conversation = %session.id, error = %e, "hand-off bookkeeping failed");
            }
        }
        if let Some(cmid) = client_message_id {
            let seq = response["user_message"]["id"]
                .as_str()
                .and_then(|s| s.parse().ok());
            self.db
                .complete_client_message(&session.id, cmid, seq, response)
                .await?;
        }
        Ok(())
    }

    /// The response to a turn whose events are `first..=last` in the log,
    /// rebuilt from it (the meaning from the stored `UserSaid`, the hand-off
    /// from the state folded up to `last`).
    async fn response_from_log(&self, id: &str, first: i64, last: i64) -> Result<Value, ApiError> {
        let upto: Vec<(i64, Event)> = self
            .db
            .events_after(id, 0)
            .await?
            .into_iter()
            .take_while(|(seq, _)| *seq <= last)
            .collect();
        let state = wismo_core::dialogue::state::State::fold(upto.iter().map(|(_, e)| e));
        let turn: Vec<Event> = upto
            .into_iter()
            .filter(|(seq, _)| *seq >= first)
            .map(|(_, e)| e)
            .collect();
        let nlu = turn.iter().find_map(|e| match e {
            Event::UserSaid {
                intent,
                confidence,
                sentiment,
                ..
            } => Some((intent.clone(), *confidence, *sentiment)),
            _ => None,
        });
        let draft = Draft {
            events: turn,
            nlu: None,
            handoff: Handoff::of(&state),
            queued: None,
            had_case: false,
            now: self.clock.now(),
        };
        let (mut response, _) = respond(id, &draft, last);
        if let Some((intent, confidence, score)) = nlu {
            let label = if score <= wismo_core::nlu::sentiment::NEGATIVE_THRESHOLD {
                "negative"
            } else if score >= wismo_core::nlu::sentiment::POSITIVE_THRESHOLD {
                "positive"
            } else {
                "neutral"
            };
            response["nlu"] =
                json!({"intent": {"name": intent, "confidence": confidence}, "entities": []});
            response["sentiment"] = json!({"score": score, "label": label});
        }
        Ok(response)
    }
}

/// What is stored when the engine failed: the shopper's message (redacted),
/// an apology, and a request for a person.
fn engine_failed(stored_text: String, now: DateTime<Utc>) -> [Event; 3] {
    [
        Event::UserSaid {
            text: stored_text,
            at: now,
            intent: "error".into(),
            confidence: 0.0,
            sentiment: 0.0,
            understood: false,
        },
        Event::BotSaid {
            text:
                "Sorry, something went wrong on my side. I'm passing you to a person from our team."
                    .into(),
            template: "internal_error".into(),
            at: now,
            quick_replies: Vec::new(),
            order_card: None,
        },
        Event::HandoffRequested {
            reason: "bot_error".into(),
        },
    ]
}

/// Stage 6: the response, and the turn's messages with their seqs (built
/// once: for the response and for the WebSocket frames).
fn respond(id: &str, draft: &Draft, last: i64) -> (Value, Vec<(i64, Value)>) {
    let first = last - draft.events.len() as i64 + 1;
    let numbered: Vec<(i64, Value)> = (first..)
        .zip(&draft.events)
        .filter_map(|(seq, e)| message_json(seq, e).map(|m| (seq, m)))
        .collect();
    let mut user_message = Value::Null;
    let mut messages = Vec::new();
    for (_, m) in &numbered {
        if m["role"] == "user" {
            user_message = m.clone();
        } else {
            messages.push(m.clone());
        }
    }
    let (nlu, sentiment) = match &draft.nlu {
        Some(n) => (
            json!({
                "intent": {"name": n.intent.name, "confidence": n.intent.confidence},
                "entities": n.entities.iter().map(|e| json!({
                    "type": e.kind,
                    "value": e.value,
                    "text": e.text,
                    "start": e.start,
                    "end": e.end,
                })).collect::<Vec<_>>(),
            }),
            json!({"score": n.sentiment.score, "label": n.sentiment.label}),
        ),
        None => (
            json!({"intent": {"name": "error", "confidence": 0.0}, "entities": []}),
            json!({"score": 0.0, "label": "neutral"}),
        ),
    };
    let response = json!({
        "conversation_id": id,
        "user_message": user_message,
        "messages": messages,
        "nlu": nlu,
        "sentiment": sentiment,
        "handoff": draft.handoff.json(),
    });
    (response, numbered)
}

/// The bot's typing indicator on every tab of the conversation.
fn typing(session: &Session, on: bool) {
    if session.frames.receiver_count() > 0 {
        let _ = session.frames.send(Frame::server(
            &json!({"type": "typing", "role": "bot", "on": on}),
        ));
    }
}
