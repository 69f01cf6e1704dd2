//! The HTTP API's one error type. Every error is an
//! `application/problem+json` body with a stable machine-readable `code`:
//!
//! ```json
//! {"type": "https://wismo.dev/errors/message_too_long", "title": "Message too long",
//!  "status": 422, "code": "message_too_long", "message": "the message has 2100 characters; the limit is 2000"}
//! ```
//!
//! `code`s never change meaning once released (clients match on them);
//! `message` is for people and may be reworded. 5xx bodies say nothing about
//! the cause, which is logged instead.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (syntax error, bad UTF-8, truncated).
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// JSON of the wrong shape: missing field, wrong type, unknown field.
    #[error("{0}")]
    InvalidBody(String),
    #[error("the body must be JSON (Content-Type: application/json), not {0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than the limit of {0} bytes")]
    BodyTooLarge(usize),
    #[error("the message has {chars} characters; the limit is {limit}")]
    MessageTooLong { chars: usize, limit: usize },
    #[error("the message is empty")]
    EmptyMessage,
    /// A field with an unusable value (named, with the reason).
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// Missing or wrong token — the same answer whether or not the
    /// conversation exists.
    #[error("a valid bearer token for this conversation is required")]
    Unauthorized,
    #[error("a valid admin token is required")]
    AdminUnauthorized,
    #[error("the admin API is disabled: set admin_token (WISMO_ADMIN_TOKEN) to enable it")]
    AdminDisabled,
    #[error("no such endpoint: {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("{method} is not allowed here")]
    MethodNotAllowed { method: String },
    /// A retried `client_message_id` carried a different text.
    #[error("client_message_id {0:?} was already used for a different message")]
    ClientMessageIdReused(String),
    #[error("invalid order file: {0}")]
    InvalidOrders(String),
    #[error("the request took longer than {0} ms")]
    Timeout(u128),
    #[error("the database is unavailable")]
    Unavailable(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("internal error")]
    Internal(String),
    #[error("this endpoint is a WebSocket: connect with a WebSocket client")]
    WebSocketRequired,
    /// No valid agent session (cookie or bearer token).
    #[error("sign in as an agent first")]
    AgentUnauthorized,
    /// Wrong email or password (the same answer for both).
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// The agent may not act on this conversation: someone else owns it.
    #[error("this conversation is not assigned to you")]
    NotAssigned,
    #[error("{0}")]
    Forbidden(String),
    /// A named thing does not exist; `code` says which kind
    /// (`conversation_not_found`, `agent_not_found`, `canned_reply_not_found`).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The request conflicts with the current state; `code` says how
    /// (`already_assigned`, `at_capacity`, `not_open`, `csat_already_given`,
    /// `csat_bot_only`, `csat_case_open`, `csat_not_resolved`, `duplicate`).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("score must be a whole number from 1 to 5")]
    InvalidScore,
    /// An API key without the scope this endpoint needs.
    #[error("this API key lacks the {0:?} scope")]
    InsufficientScope(&'static str),
    /// Too many requests (or failures) for one client IP, conversation,
    /// sign-in email or admin token; `scope` says which limit
    /// (`ip`, `blocked`, `conversation`, `sign_in`, `sign_in_locked`,
    /// `admin`, `verification`). Answered 429 with `Retry-After`.
    #[error("{}", rate_message(scope, *retry_after))]
    RateLimited {
        scope: &'static str,
        retry_after: u64,
    },
    /// A customer token (shopper JWT) that is forged, broken, expired or
    /// not meant for this store. Which check failed goes to the security
    /// event log, never to the client.
    #[error("the customer token is not valid")]
    InvalidCustomerToken,
    /// Single sign-on (OIDC) is not configured on this server.
    #[error("single sign-on is not configured: set oidc_issuer and oidc_client_id")]
    OidcNotConfigured,
    /// A single sign-on attempt was refused (bad state, code or ID token,
    /// or no agent with that email). Which check failed goes to the
    /// security event log, never to the client.
    #[error("single sign-on failed; start again from the sign-in page")]
    OidcFailed,
    /// The identity provider could not be reached or answered nonsense.
    #[error("the identity provider is unavailable; try again later")]
    OidcUnavailable,
    /// The Rasa REST channel is off (`rasa_channel = false`, the default).
    #[error("the Rasa REST channel is off: set rasa_channel and rasa_channel_token to enable it")]
    RasaChannelDisabled,
    /// The Rasa REST channel's shared secret (or a JWT signed with it) is
    /// missing or wrong.
    #[error(
        "a valid Authorization: Bearer <rasa_channel_token> (or a JWT signed with it) is required"
    )]
    RasaUnauthorized,
    /// A store workspace that does not load: every error, each with its
    /// `file`, `line`, `message` and `text` (`file:line: message`).
    #[error("the store workspace has {} error(s); nothing was changed", .0.iter().filter(|e| e["severity"] == "error").count())]
    WorkspaceInvalid(Vec<serde_json::Value>),
    /// A provider's webhook whose signature is missing or does not verify
    /// (forged, or signed with another secret).
    #[error("the {0} webhook signature is missing or invalid")]
    WebhookSignatureInvalid(&'static str),
    /// A provider's webhook sent (or signed) too long ago: a replay.
    #[error("the {provider} webhook is too old ({reason})")]
    WebhookStale {
        provider: &'static str,
        reason: String,
    },
    /// The integration's endpoint is off until its secret is set.
    #[error("the {0} integration is not configured: set {0}_webhook_secret")]
    IntegrationNotConfigured(&'static str),
    /// A cookie-authenticated state-changing request from another site.
    #[error("cross-site request refused: the Origin is not this server's")]
    CrossSiteRequest,
}

/// Why a request was rate limited, in words (the `message` of a 429).
fn rate_message(scope: &str, retry_after: u64) -> String {
    let why = match scope {
        "verification" => "too many failed order checks from your network",
        "conversation" => "too many messages in this conversation in a short time",
        "ip" => "too many requests from your network",
        "blocked" => "your network is blocked for a while after too many refused requests",
        "sign_in" | "sign_in_locked" => "too many sign-in attempts",
        "admin" => "too many admin requests",
        _ => "too many requests",
    };
    format!("{why}; try again in {retry_after} s")
}

/// Put on every error response, so middleware can see the stable code
/// (and a rate limit's scope) without parsing the body.
#[derive(Debug, Clone, Copy)]
pub struct ProblemInfo {
    pub code: &'static str,
    pub scope: Option<&'static str>,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::InvalidBody(_) => "invalid_body",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::BodyTooLarge(_) => "body_too_large",
            ApiError::MessageTooLong { .. } => "message_too_long",
            ApiError::EmptyMessage => "empty_message",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::Unauthorized => "unauthorized",
            ApiError::AdminUnauthorized => "admin_unauthorized",
            ApiError::AdminDisabled => "admin_disabled",
            ApiError::NoRoute { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::ClientMessageIdReused(_) => "client_message_id_reused",
            ApiError::InvalidOrders(_) => "invalid_orders",
            ApiError::Timeout(_) => "timeout",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::ShuttingDown => "shutting_down",
            ApiError::Internal(_) => "internal",
            ApiError::WebSocketRequired => "websocket_required",
            ApiError::AgentUnauthorized => "agent_unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::NotAssigned => "not_assigned",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound { code, .. } | ApiError::Conflict { code, .. } => code,
            ApiError::InvalidScore => "invalid_score",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::InvalidCustomerToken => "invalid_customer_token",
            ApiError::OidcNotConfigured => "oidc_not_configured",
            ApiError::OidcFailed => "oidc_failed",
            ApiError::OidcUnavailable => "oidc_unavailable",
            ApiError::RasaChannelDisabled => "rasa_channel_disabled",
            ApiError::RasaUnauthorized => "rasa_unauthorized",
            ApiError::CrossSiteRequest => "cross_site_request",
            ApiError::WorkspaceInvalid(_) => "workspace_invalid",
            ApiError::WebhookSignatureInvalid(_) => "webhook_signature_invalid",
            ApiError::WebhookStale { .. } => "webhook_stale",
            ApiError::IntegrationNotConfigured(_) => "integration_not_configured",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::InvalidBody(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MessageTooLong { .. }
            | ApiError::EmptyMessage
            | ApiError::InvalidField { .. }
            | ApiError::InvalidOrders(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized | ApiError::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::AdminDisabled => StatusCode::FORBIDDEN,
            ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::ClientMessageIdReused(_) => StatusCode::CONFLICT,
            ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unavailable(_) | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::WebSocketRequired => StatusCode::UPGRADE_REQUIRED,
            ApiError::AgentUnauthorized | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::NotAssigned | ApiError::Forbidden(_) | ApiError::InsufficientScope(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::InvalidScore => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InvalidCustomerToken => StatusCode::UNAUTHORIZED,
            ApiError::OidcNotConfigured => StatusCode::NOT_FOUND,
            ApiError::OidcFailed => StatusCode::UNAUTHORIZED,
            ApiError::OidcUnavailable => StatusCode::BAD_GATEWAY,
            ApiError::RasaChannelDisabled => StatusCode::NOT_FOUND,
            ApiError::RasaUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::CrossSiteRequest => StatusCode::FORBIDDEN,
            ApiError::WorkspaceInvalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::WebhookSignatureInvalid(_) | ApiError::WebhookStale { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::IntegrationNotConfigured(_) => StatusCode::NOT_FOUND,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "Malformed JSON",
            ApiError::InvalidBody(_) => "Invalid request body",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::BodyTooLarge(_) => "Request body too large",
            ApiError::MessageTooLong { .. } => "Message too long",
            ApiError::EmptyMessage => "Empty message",
            ApiError::InvalidField { .. } => "Invalid field",
            ApiError::Unauthorized | ApiError::AdminUnauthorized => "Unauthorized",
            ApiError::AdminDisabled => "Admin API disabled",
            ApiError::NoRoute { .. } => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::ClientMessageIdReused(_) => "Client message id reused",
            ApiError::InvalidOrders(_) => "Invalid order file",
            ApiError::Timeout(_) => "Request timed out",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::ShuttingDown => "Shutting down",
            ApiError::Internal(_) => "Internal server error",
            ApiError::WebSocketRequired => "WebSocket required",
            ApiError::AgentUnauthorized | ApiError::InvalidCredentials => "Unauthorized",
            ApiError::NotAssigned | ApiError::Forbidden(_) => "Forbidden",
            ApiError::InsufficientScope(_) => "Insufficient scope",
            ApiError::NotFound { .. } => "Not found",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::InvalidScore => "Invalid score",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::InvalidCustomerToken => "Invalid customer token",
            ApiError::OidcNotConfigured => "Single sign-on not configured",
            ApiError::OidcFailed => "Single sign-on failed",
            ApiError::OidcUnavailable => "Identity provider unavailable",
            ApiError::RasaChannelDisabled => "Rasa channel disabled",
            ApiError::RasaUnauthorized => "Unauthorized",
            ApiError::CrossSiteRequest => "Cross-site request",
            ApiError::WorkspaceInvalid(_) => "Store workspace invalid",
            ApiError::WebhookSignatureInvalid(_) => "Invalid webhook signature",
            ApiError::WebhookStale { .. } => "Stale webhook",
            ApiError::IntegrationNotConfigured(_) => "Integration not configured",
        }
    }

    /// The JSON body (also used for WebSocket error frames).
    pub fn body(&self) -> serde_json::Value {
        let code = self.code();
        let mut body = json!({
            "type": format!("https://wismo.dev/errors/{code}"),
            "title": self.title(),
            "status": self.status().as_u16(),
            "code": code,
            "message": self.to_string(),
        });
        if let ApiError::WorkspaceInvalid(errors) = self {
            body["errors"] = serde_json::Value::Array(errors.clone());
        }
        body
    }
}

impl ApiError {
    /// A JSON parse error: bad syntax (or UTF-8) is `malformed_json`, the
    /// wrong shape (missing or unknown field, wrong type) is `invalid_body`.
    pub fn from_json(e: &serde_json::Error) -> Self {
        match e.classify() {
            serde_json::error::Category::Data => ApiError::InvalidBody(e.to_string()),
            _ => ApiError::MalformedJson(e.to_string()),
        }
    }
}

impl From<wismo_store::StoreDbError> for ApiError {
    fn from(e: wismo_store::StoreDbError) -> Self {
        match e {
            wismo_store::StoreDbError::Duplicate(what) => ApiError::Conflict {
                code: "duplicate",
                message: what.to_string(),
            },
            wismo_store::StoreDbError::InvalidText(field) => ApiError::InvalidField {
                field,
                reason: "contains a NUL character".into(),
            },
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl ApiError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let info = ProblemInfo {
            code: self.code(),
            scope: match &self {
                ApiError::RateLimited { scope, .. } => Some(*scope),
                _ => None,
            },
        };
        match &self {
            ApiError::Unavailable(cause) | ApiError::Internal(cause) => {
                tracing::error!(code = self.code(), %cause, "request failed");
            }
            _ if status.is_server_error() => {
                tracing::warn!(code = self.code(), "request failed");
            }
            _ => tracing::debug!(
                code = self.code(),
                status = status.as_u16(),
                "request refused"
            ),
        }
        let mut res = (status, self.body().to_string()).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"wismo\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::RateLimited { retry_after, .. } = &self {
            h.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.max(&1).to_owned()),
            );
        }
        res.extensions_mut().insert(info);
        res
    }
}
