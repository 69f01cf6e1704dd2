//! The store workspace over HTTP: the active version and the list
//! (`/v1/admin/store`, `/versions`), reload (admin token or a `store`-scoped
//! API key), the console's editing (`/files`, `/preview`, `/publish`: also
//! supervisors; agents get 403) and the widget's look (`/v1/widget/config`,
//! public, cached by ETag). Every change goes through
//! [`crate::live::Live::publish`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use wismo_core::dialogue::Conversation;
use wismo_core::store::memory::InMemoryStore;
use wismo_core::workspace::WorkspaceFiles;

use crate::api::{bearer, parse_json, require_scope, KEY_PREFIX};
use crate::error::ApiError;
use crate::live::{LiveError, Outcome};
use crate::rbac::Permission;
use crate::AppState;

/// The admin token or a `store`-scoped key; or, when `supervisors`, a
/// signed-in supervisor (agents: 403). Returns (actor, kind).
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    supervisors: bool,
) -> Result<(String, &'static str), ApiError> {
    let is_key_or_admin = bearer(headers).is_some_and(|t| {
        t.starts_with(KEY_PREFIX)
            || state.config.admin_token.as_ref().is_some_and(|w| {
                crate::sessions::constant_time_eq(t.as_bytes(), w.expose().as_bytes())
            })
    });
    if is_key_or_admin || !supervisors {
        let c = require_scope(state, headers, "store").await?;
        return Ok((c.actor, c.kind));
    }
    let me = crate::agents::signed_in(state, headers).await?;
    crate::rbac::require(&me, Permission::ManageStore)?;
    Ok((me.id, "agent"))
}

fn version_json(v: &wismo_store::StoreVersion) -> Value {
    json!({
        "id": v.id,
        "hash": v.hash,
        "created_at": v.created_at.to_rfc3339(),
        "created_by": v.created_by,
        "created_by_kind": v.created_by_kind,
        "message": v.message,
        "changes": v.changes,
        "warnings": v.warnings,
        "languages": v.languages,
    })
}

fn outcome_json(o: &Outcome) -> Value {
    json!({
        "version": o.version_id,
        "new": o.new,
        "build_ms": o.build_ms,
        "retrained": o.retrained,
        "changes": o.changes,
        "warnings": o.warnings,
    })
}

/// `GET /v1/admin/store`: the active version and what this server serves.
pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller(&state, &headers, true).await?;
    let db = state.store.db();
    let active = match db.active_store_version().await? {
        Some((id, _)) => db.store_version(id).await?.map(|v| version_json(&v)),
        None => None,
    };
    let l = state.store.loaded();
    Ok(Json(json!({
        "active": active,
        "loaded": {
            "version": l.version_id,
            "hash": l.hash,
            "loaded_at": l.loaded_at.to_rfc3339(),
            "build_ms": l.build_ms,
            "retrained": l.retrained,
            "languages": l.workspace.profile().languages,
            "warnings": l.workspace.warnings().iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "store_dir": state.store.store_dir.is_some(),
    })))
}

/// `GET /v1/admin/store/versions`: the newest 100, without their files,
/// from the read replica when there is one (may miss the last seconds).
pub async fn versions(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller(&state, &headers, true).await?;
    // A list: lag-tolerant, from the replica when there is one.
    let reads = state.store.db().replica_reads();
    let list = reads.store_versions(100).await?;
    let active = reads.active_store_version().await?.map(|a| a.0);
    Ok(Json(json!({
        "active": active,
        "versions": list.iter().map(version_json).collect::<Vec<_>>(),
    })))
}

/// `POST /v1/admin/store/reload`: reads `store_dir` and publishes it (422
/// with every error when it does not load; the current version keeps
/// serving). Without `store_dir`, loads the database's active version.
pub async fn reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (actor, kind) = caller(&state, &headers, false).await?;
    if state.store.store_dir.is_none() {
        let id = state.store.sync().await?;
        return Ok(Json(json!({
            "version": id, "new": false, "build_ms": 0, "retrained": false,
            "changes": [], "warnings": [],
        })));
    }
    let o = state.store.reload_dir((&actor, kind)).await?;
    Ok(Json(outcome_json(&o)))
}

/// `GET /v1/admin/store/files`: the active version's files, and the
/// built-in defaults of the files it does not have (a starting point for
/// the editor).
pub async fn files(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    caller(&state, &headers, true).await?;
    let _ = state.store.sync().await;
    let l = state.store.loaded();
    let files = l.workspace.files();
    let defaults: BTreeMap<&str, &str> = BUILTIN
        .get_or_init(wismo_core::workspace::builtin_files)
        .iter()
        .filter(|(p, _)| {
            files.get(p).is_none() && (*p == "store.toml" || p.starts_with("knowledge/"))
        })
        .collect();
    Ok(Json(json!({
        "version": l.version_id,
        "hash": l.hash,
        "files": files,
        "defaults": defaults,
    })))
}

static BUILTIN: std::sync::OnceLock<WorkspaceFiles> = std::sync::OnceLock::new();

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    #[serde(default)]
    files: BTreeMap<String, Option<String>>,
    question: String,
    #[serde(default)]
    locale: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    #[serde(default)]
    files: BTreeMap<String, Option<String>>,
    #[serde(default)]
    message: Option<String>,
}

/// The active files with `overrides` applied (`null` removes a file).
fn draft(
    state: &AppState,
    overrides: BTreeMap<String, Option<String>>,
) -> Result<WorkspaceFiles, ApiError> {
    let mut files = state.store.loaded().workspace.files().clone();
    for (path, text) in overrides {
        match text {
            Some(t) => files.insert(&path, t).map_err(|e| ApiError::InvalidField {
                field: "files",
                reason: e.to_string(),
            })?,
            None => {
                files.remove(&path);
            }
        }
    }
    Ok(files)
}

/// `POST /v1/admin/store/preview`: how the bot answers `question` with the
/// draft (the active files plus `files`), on a throwaway engine over the
/// demo orders (a preview never touches the store's data).
pub async fn preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller(&state, &headers, true).await?;
    let body: PreviewBody = parse_json(&headers, &body)?;
    crate::api::check_text(&body.question, state.config.max_message_chars)?;
    let locale = body.locale.unwrap_or_default();
    if locale.len() > 16
        || !locale
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ApiError::InvalidField {
            field: "locale",
            reason: "a language tag such as en or pt-BR".into(),
        });
    }
    let files = draft(&state, body.files)?;
    let _one = state
        .store
        .preview
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.sessions.clock.now();
    let orders = InMemoryStore::demo_at(now, state.config.timezone)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let built = state
        .store
        .build_draft(files, Arc::new(orders))
        .await
        .map_err(ApiError::from)?;
    let question = body.question;
    let out = tokio::task::spawn_blocking(move || {
        let mut conv = Conversation::new("preview");
        if !locale.is_empty() {
            conv.locale = Some(locale);
        }
        built.engine.greet(&mut conv, now);
        let out = built.engine.turn(&mut conv, &question, now);
        (
            out.messages,
            out.nlu.intent,
            built.workspace.warnings().to_vec(),
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the preview stopped: {e}")))?;
    let (messages, intent, warnings) = out;
    Ok(Json(json!({
        "messages": messages,
        "intent": intent,
        "warnings": warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}

/// `POST /v1/admin/store/publish`: the active files plus `files` become a
/// new version (the same path as a reload; 422 with every error).
pub async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (actor, kind) = caller(&state, &headers, true).await?;
    let body: PublishBody = parse_json(&headers, &body)?;
    if let Some(m) = &body.message {
        if m.chars().count() > 500 || m.contains('\0') {
            return Err(ApiError::InvalidField {
                field: "message",
                reason: "at most 500 characters".into(),
            });
        }
    }
    // Publish on top of the active version, whichever server made it.
    let _ = state.store.sync().await;
    let files = draft(&state, body.files)?;
    let o = state
        .store
        .publish_edit(files, (&actor, kind), body.message)
        .await
        .map_err(|e: LiveError| ApiError::from(e))?;
    Ok(Json(outcome_json(&o)))
}

/// `GET /v1/widget/config`: the widget's look from the active workspace
/// (public; `ETag` is the version's hash, `If-None-Match` answers 304).
pub async fn widget_config(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let l = state.store.loaded();
    let etag = format!("\"{}\"", &l.hash[..l.hash.len().min(32)]);
    let cache = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        ),
    ];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, Json((*l.widget).clone())).into_response()
}
