//! The WebSocket of a conversation: `GET /v1/conversations/{id}/ws`.
//!
//! The token never travels in the URL. A client either offers the
//! subprotocols `wismo.v1` and `bearer.<token>` (what a browser can do), or
//! connects with `wismo.v1` alone and sends `{"type": "auth", "token": "…"}`
//! as its first frame within 10 seconds.
//!
//! Client → server frames:
//! * `{"type": "auth", "token": "…", "after": "41"}` (`after` optional)
//! * `{"type": "message", "text": "…", "client_message_id": "…"}`
//! * `{"type": "typing", "on": true}`
//! * `{"type": "resume", "after": "41"}`: every message after id 41
//! * `{"type": "ping"}`
//!
//! Server → client frames:
//! * `{"type": "ready", "conversation_id", "handoff"}` once authorised
//! * `{"type": "message", "message": {id, role, text, created_at, …}}`:
//!   every message of the conversation, from any tab or channel, in order
//! * `{"type": "typing", "role": "bot"|"user", "on": bool}`
//! * `{"type": "handoff", "handoff": {"status", "reason"}}`
//! * `{"type": "ack", "client_message_id", "id"}` for this tab's messages
//! * `{"type": "error", "code", "message"}`; the connection stays open
//!   unless the error is about authorisation
//! * `{"type": "pong"}`
//!
//! Messages are never sent twice on one connection: the socket remembers
//! the highest message id it delivered and skips older ones (a catch-up and
//! a live broadcast may overlap). If the connection falls behind the live
//! stream, it catches up from the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::api::{check_client_message_id, check_text, parse_after};
use crate::error::ApiError;
use crate::sessions::{Frame, Session};
use crate::AppState;

pub const PROTOCOL: &str = "wismo.v1";
const BEARER_PREFIX: &str = "bearer.";
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest frame (and message) read; a bigger one closes the socket with
/// 1009 "message too big".
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The close reason of a frame over [`MAX_FRAME_BYTES`].
const TOO_BIG_REASON: &str = "message too big: the limit is 64 KiB";

/// Whether a read error is the frame size limit (the WebSocket library's
/// "space limit exceeded" capacity error).
fn too_big(e: &axum::Error) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("space limit exceeded") || text.contains("too long") || text.contains("too big")
}

static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientFrame {
    Auth {
        token: String,
        after: Option<String>,
    },
    Message {
        text: String,
        client_message_id: Option<String>,
    },
    Typing {
        on: bool,
    },
    Resume {
        after: String,
    },
    Ping,
}

fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

type Outcome = (Option<String>, Result<Value, ApiError>);

/// Runs one connection's turns, one at a time, in the order sent; their
/// outcomes come back for acks. When the socket closes, the messages already
/// queued are still processed (nothing is lost).
struct Worker {
    turns: mpsc::Sender<(String, Option<String>)>,
    done: mpsc::UnboundedReceiver<Outcome>,
}

impl Worker {
    fn start(state: &AppState, session: &Arc<Session>, ip: std::net::IpAddr) -> Worker {
        let (turns, mut queue) = mpsc::channel::<(String, Option<String>)>(32);
        let (done_tx, done) = mpsc::unbounded_channel::<Outcome>();
        let state = state.clone();
        let session = session.clone();
        let running = state.ws_worker_running();
        tokio::spawn(async move {
            let _running = running;
            let path = format!("/v1/conversations/{}/ws", session.id);
            while let Some((text, cmid)) = queue.recv().await {
                let result =
                    crate::api::limited_turn(&state, ip, &path, &session, &text, cmid.as_deref())
                        .await
                        .map(|reply| reply["user_message"]["id"].clone());
                // Over WebSockets the refusal is a frame, not an HTTP answer:
                // log and count it here.
                if let Err(ApiError::RateLimited { scope, .. }) = &result {
                    state
                        .security
                        .event("rate_limited", ip, &session.id, &path, scope);
                    state.security.penalise(&state.config, ip, &path).await;
                }
                let _ = done_tx.send((cmid, result));
            }
        });
        Worker { turns, done }
    }
}

pub async fn upgrade(
    State(state): State<AppState>,
    crate::security::ClientIp(ip): crate::security::ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let protocols = offered_protocols(&headers);
    let token = protocols
        .iter()
        .find_map(|p| p.strip_prefix(BEARER_PREFIX))
        .map(str::to_string);
    // With a token offered, check it before upgrading: a wrong one is a
    // plain 401 like the REST API's.
    let pre_authorised = match &token {
        Some(t) => Some(state.sessions.authorized(&id, Some(t)).await?),
        None => None,
    };
    let ws = ws
        .read_buffer_size(2048)
        .write_buffer_size(0)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES);
    let ws = if protocols.iter().any(|p| p == PROTOCOL) {
        ws.protocols([PROTOCOL])
    } else {
        ws
    };
    Ok(ws
        .on_upgrade(move |socket| connection(state, id, pre_authorised, ip, socket))
        .into_response())
}

async fn send(socket: &mut WebSocket, value: &Value) -> bool {
    socket
        .send(Message::Text(Utf8Bytes::from(value.to_string())))
        .await
        .is_ok()
}

async fn send_error(socket: &mut WebSocket, e: &ApiError, extra: Option<(&str, &str)>) -> bool {
    let mut body = json!({"type": "error", "code": e.code(), "message": e.to_string()});
    if let Some((k, v)) = extra {
        body[k] = json!(v);
    }
    send(socket, &body).await
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await;
}

fn parse_frame(text: &str) -> Result<ClientFrame, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::from_json(&e))
}

/// Waits for the first frame, which must authorise.
async fn authenticate(
    state: &AppState,
    id: &str,
    socket: &mut WebSocket,
) -> Option<(Arc<Session>, Option<i64>)> {
    let first = tokio::time::timeout(AUTH_TIMEOUT, socket.recv()).await;
    let text = match first {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(_))) | Err(_) => {
            let _ = send_error(socket, &ApiError::Unauthorized, None).await;
            close(socket, 1008, "authorisation required").await;
            return None;
        }
        Ok(Some(Err(e))) if too_big(&e) => {
            close(socket, 1009, TOO_BIG_REASON).await;
            return None;
        }
        Ok(None) | Ok(Some(Err(_))) => return None,
    };
    let (token, after) = match parse_frame(&text) {
        Ok(ClientFrame::Auth { token, after }) => (token, after),
        _ => {
            let _ = send_error(socket, &ApiError::Unauthorized, None).await;
            close(socket, 1008, "authorisation required").await;
            return None;
        }
    };
    let session = match state.sessions.authorized(id, Some(&token)).await {
        Ok(s) => s,
        Err(e) => {
            let _ = send_error(socket, &e, None).await;
            close(socket, 1008, "authorisation failed").await;
            return None;
        }
    };
    let after = match after.as_deref().map(parse_after).transpose() {
        Ok(a) => a,
        Err(e) => {
            let _ = send_error(socket, &e, None).await;
            None
        }
    };
    Some((session, after))
}

async fn connection(
    state: AppState,
    id: String,
    pre: Option<Arc<Session>>,
    ip: std::net::IpAddr,
    mut socket: WebSocket,
) {
    let me = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    let _open = state.ws_open();
    let (session, mut catch_up) = match pre {
        Some(s) => (s, None),
        None => match authenticate(&state, &id, &mut socket).await {
            Some(x) => x,
            None => return,
        },
    };
    // Subscribe before reading the log, so nothing falls between the two.
    let mut rx = session.frames.subscribe();
    let mut shutdown = state.shutdown_signal();
    let handoff = state.sessions.handoff(&session).await;
    if !send(
        &mut socket,
        &json!({"type": "ready", "conversation_id": session.id, "handoff": handoff.json()}),
    )
    .await
    {
        return;
    }
    let mut delivered: i64 = 0;
    // The worker and its channels are made on the first message, so an
    // idle connection costs only its socket and its subscription.
    let mut worker: Option<Worker> = None;
    loop {
        if let Some(after) = catch_up.take() {
            let from = after.max(delivered);
            match state.sessions.transcript(&session, from).await {
                Ok((messages, _)) => {
                    for m in messages {
                        let seq = m["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
                        if seq > delivered {
                            if !send(&mut socket, &json!({"type": "message", "message": m})).await {
                                return;
                            }
                            delivered = seq;
                        }
                    }
                }
                Err(e) => {
                    if !send_error(&mut socket, &e, None).await {
                        return;
                    }
                }
            }
            // An empty catch-up still marks the point reached.
            delivered = delivered.max(after);
        }
        tokio::select! {
            // Frames first: a turn's messages reach the socket before its ack.
            biased;
            frame = rx.recv() => match frame {
                Ok(f) => {
                    if f.origin == me || (f.seq > 0 && f.seq <= delivered) {
                        continue;
                    }
                    if socket.send(Message::Text(Utf8Bytes::from(f.json.as_ref()))).await.is_err() {
                        return;
                    }
                    if f.seq > 0 {
                        delivered = f.seq;
                    }
                }
                // Fell behind the live stream: read what was missed from the log.
                Err(RecvError::Lagged(_)) => catch_up = Some(delivered),
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        let e = ApiError::InvalidBody("binary frames are not supported; send JSON text".into());
                        if !send_error(&mut socket, &e, None).await { return; }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) => {
                        // Let the library send its reply to the close frame.
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            while let Some(Ok(_)) = socket.recv().await {}
                        })
                        .await;
                        return;
                    }
                    Some(Err(e)) if too_big(&e) => {
                        tracing::debug!(connection = me, "WebSocket frame over the size limit");
                        close(&mut socket, 1009, TOO_BIG_REASON).await;
                        return;
                    }
                    None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue, // ping/pong are answered by the library
                };
                match parse_frame(&text) {
                    Ok(ClientFrame::Message { text, client_message_id }) => {
                        let checked = check_text(&text, state.config.max_message_chars)
                            .and_then(|()| client_message_id.as_deref().map_or(Ok(()), check_client_message_id));
                        if let Err(e) = checked {
                            let extra = client_message_id.as_deref().map(|c| ("client_message_id", c));
                            if !send_error(&mut socket, &e, extra).await { return; }
                            continue;
                        }
                        // Queued for this connection's worker: turns run in the
                        // order sent while this loop keeps forwarding frames.
                        let w = worker.get_or_insert_with(|| Worker::start(&state, &session, ip));
                        if w.turns.send((text, client_message_id)).await.is_err() {
                            return;
                        }
                    }
                    Ok(ClientFrame::Typing { on }) => {
                        let _ = session.frames.send(Frame {
                            origin: me,
                            seq: 0,
                            json: Arc::from(json!({"type": "typing", "role": "user", "on": on}).to_string()),
                        });
                    }
                    Ok(ClientFrame::Resume { after }) => match parse_after(&after) {
                        Ok(a) => catch_up = Some(a),
                        Err(e) => if !send_error(&mut socket, &e, None).await { return; },
                    },
                    Ok(ClientFrame::Ping) => {
                        if !send(&mut socket, &json!({"type": "pong"})).await { return; }
                    }
                    Ok(ClientFrame::Auth { .. }) => {
                        let e = ApiError::InvalidBody("already authorised".into());
                        if !send_error(&mut socket, &e, None).await { return; }
                    }
                    Err(e) => {
                        if !send_error(&mut socket, &e, None).await { return; }
                    }
                }
            }
            Some((client_message_id, result)) = async {
                match worker.as_mut() {
                    Some(w) => w.done.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let sent = match result {
                    Ok(id) => send(&mut socket, &json!({
                        "type": "ack",
                        "client_message_id": client_message_id,
                        "id": id,
                    })).await,
                    Err(e) => {
                        let extra = client_message_id.as_deref().map(|c| ("client_message_id", c));
                        send_error(&mut socket, &e, extra).await
                    }
                };
                if !sent {
                    return;
                }
            }
            _ = shutdown.changed() => {
                close(&mut socket, 1001, "server shutting down").await;
                return;
            }
        }
    }
}
