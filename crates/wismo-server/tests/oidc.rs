//! Agent single sign-on through an external OpenID Connect provider.
//!
//! A real local mock provider (an axum server on port 0) serves discovery,
//! a JWKS (an ES256 key generated at test time), an authorization endpoint
//! (which checks what wismo asks for) and a token endpoint (which checks the
//! code, the PKCE verifier against the challenge and the client's
//! credentials). The test plays the browser: it follows the redirects itself
//! and carries the cookies.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{sign_up_agent, spawn_app_with, AgentSpec, Backend, TestApp};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use serde_json::{json, Value};

const CLIENT_ID: &str = "wismo-console";
const CLIENT_SECRET: &str = "provider-issued-client-secret";
const REDIRECT: &str = "http://127.0.0.1/v1/agent/oidc/callback";
/// The test servers' frozen clock (2026-11-24T12:00:00Z).
const NOW: i64 = 1_795_521_600;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ec_key() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("EC key");
    EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("EC key pair")
}

struct Grant {
    challenge: String,
    nonce: String,
}

struct Mock {
    issuer: String,
    key: EcdsaKeyPair,
    /// Signs the next ID tokens instead of `key` (a forged signature).
    rogue: EcdsaKeyPair,
    grants: Mutex<HashMap<String, Grant>>,
    /// Claims merged into the next ID tokens (`null` removes one).
    tweak: Mutex<Value>,
    forge: Mutex<bool>,
    /// Authorization requests seen (their query).
    authorizations: Mutex<Vec<HashMap<String, String>>>,
}

async fn discovery(State(m): State<Arc<Mock>>) -> Json<Value> {
    let i = &m.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(m): State<Arc<Mock>>) -> Json<Value> {
    let point = m.key.public_key().as_ref();
    Json(
        json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
        "alg": "ES256", "x": b64(&point[1..33]), "y": b64(&point[33..65])}]}),
    )
}

async fn authorize(
    State(m): State<Arc<Mock>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    m.authorizations.lock().expect("lock").push(q.clone());
    let (Some(challenge), Some(nonce), Some(state)) =
        (q.get("code_challenge"), q.get("nonce"), q.get("state"))
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let code = format!("code-{}", m.grants.lock().expect("lock").len() + 1);
    m.grants.lock().expect("lock").insert(
        code.clone(),
        Grant {
            challenge: challenge.clone(),
            nonce: nonce.clone(),
        },
    );
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let location = format!("{redirect}?code={code}&state={state}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn token(State(m): State<Arc<Mock>>, body: String) -> Response {
    let url = reqwest::Url::parse(&format!("http://x/?{body}")).expect("form");
    let form: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let refuse = |why: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": why})),
        )
            .into_response()
    };
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return refuse("client");
    }
    if field("grant_type") != "authorization_code" || field("redirect_uri") != REDIRECT {
        return refuse("grant");
    }
    // Codes are single use.
    let Some(grant) = m.grants.lock().expect("lock").remove(field("code")) else {
        return refuse("code");
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, field("code_verifier").as_bytes());
    if b64(digest.as_ref()) != grant.challenge {
        return refuse("pkce");
    }
    let mut claims = json!({
        "iss": m.issuer, "aud": CLIENT_ID, "sub": "idp-user-1",
        "email": "alice@example.com", "email_verified": true,
        "nonce": grant.nonce, "iat": NOW, "exp": NOW + 300,
    });
    if let (Some(c), Some(t)) = (
        claims.as_object_mut(),
        m.tweak.lock().expect("lock").as_object(),
    ) {
        for (k, v) in t {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": "k1"});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = if *m.forge.lock().expect("lock") {
        &m.rogue
    } else {
        &m.key
    };
    let sig = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("sign");
    let id_token = format!("{input}.{}", b64(sig.as_ref()));
    Json(json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}))
        .into_response()
}

async fn mock_provider() -> Arc<Mock> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mock = Arc::new(Mock {
        issuer: format!("http://{addr}"),
        key: ec_key(),
        rogue: ec_key(),
        grants: Mutex::new(HashMap::new()),
        tweak: Mutex::new(json!({})),
        forge: Mutex::new(false),
        authorizations: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(mock.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    mock
}

async fn app_for(issuer: &str, extra: &[(&str, &str)]) -> TestApp {
    app_on(Backend::Sqlite, issuer, extra).await
}

async fn app_on(backend: Backend, issuer: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("oidc_issuer", issuer),
        ("oidc_client_id", CLIENT_ID),
        ("oidc_client_secret", CLIENT_SECRET),
        ("oidc_redirect_url", REDIRECT),
        ("abuse_block", "off"),
        ("rate_limit_sign_in", "off"),
        ("sign_in_lockout", "off"),
    ];
    settings.extend_from_slice(extra);
    let app = spawn_app_with(backend, &settings).await;
    if extra.iter().any(|(k, _)| *k == "database_url") {
        // A second server on the same database: the agent exists.
        return app;
    }
    let spec = AgentSpec {
        id: "a_alice",
        email: "alice@example.com",
        name: "Alice",
        role: "agent",
        max_chats: 3,
        languages: &[],
    };
    sign_up_agent(&app, spec).await;
    app
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

fn cookie_named(res: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(res)
        .iter()
        .filter_map(|c| c.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

/// What the browser holds after the provider sent it back: the callback's
/// query and the state cookie.
struct Back {
    query: String,
    state_cookie: String,
}

/// Start at wismo, go through the provider's authorization endpoint.
async fn go_to_provider(app: &TestApp) -> Back {
    let b = browser();
    let res = b
        .get(app.url("/v1/agent/oidc/start"))
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), 302, "start redirects");
    let state_cookie = cookie_named(&res, "wismo_oidc").expect("state cookie");
    assert!(set_cookies(&res)
        .iter()
        .any(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")));
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    let res = b.get(&location).send().await.expect("authorize");
    assert_eq!(res.status(), 302, "the provider accepts the request");
    let back = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("back")
        .to_string();
    let (to, query) = back.split_once('?').expect("query");
    assert_eq!(to, REDIRECT);
    Back {
        query: query.to_string(),
        state_cookie,
    }
}

async fn callback(app: &TestApp, back: &Back) -> reqwest::Response {
    browser()
        .get(app.url(&format!("/v1/agent/oidc/callback?{}", back.query)))
        .header(header::COOKIE, format!("wismo_oidc={}", back.state_cookie))
        .send()
        .await
        .expect("callback")
}

/// A refused callback: 401 `oidc_failed`, no session cookie; returns the
/// reason the security event gives.
async fn assert_refused(app: &TestApp, res: reqwest::Response, what: &str) -> String {
    assert_eq!(res.status(), 401, "{what}");
    assert!(
        cookie_named(&res, "wismo_agent").is_none(),
        "{what}: a session cookie was set"
    );
    let body: Value = res.json().await.expect("problem");
    assert_eq!(body["code"], "oidc_failed", "{what}: {body}");
    app.state
        .security
        .recent_events()
        .iter()
        .rev()
        .find(|e| e.event == "agent_oidc_failed")
        .map(|e| e.detail.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_agent_signs_in_through_the_provider() {
    let mock = mock_provider().await;
    let app = app_for(&mock.issuer, &[]).await;
    let status: Value = browser()
        .get(app.url("/v1/agent/oidc"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(
        status,
        json!({"enabled": true, "start": "/v1/agent/oidc/start"})
    );

    let back = go_to_provider(&app).await;
    // What wismo asked the provider for.
    let asked = mock.authorizations.lock().expect("lock")[0].clone();
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["client_id"], CLIENT_ID);
    assert_eq!(asked["redirect_uri"], REDIRECT);
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["state"], back.state_cookie);
    assert_eq!(asked["scope"], "openid email");
    assert!(asked["nonce"].len() >= 32);
    assert_eq!(asked["code_challenge"].len(), 43);

    let res = callback(&app, &back).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[header::LOCATION], "/console");
    let session_cookie = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("wismo_agent="))
        .expect("session cookie");
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Strict"));
    let token = cookie_named(&res, "wismo_agent").expect("token");
    let me: Value = browser()
        .get(app.url("/v1/agent/me"))
        .header(header::COOKIE, format!("wismo_agent={token}"))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["id"], "a_alice", "{me}");
    assert_eq!(me["email"], "alice@example.com");

    let entries = app
        .state
        .sessions
        .db
        .audit_entries(0, 1000)
        .await
        .expect("audit");
    let sso = entries
        .iter()
        .find(|e| e.action == "agent.sign_in" && e.details.contains("\"oidc\""))
        .expect("the single sign-on is audited");
    assert_eq!(sso.actor, "a_alice");

    // The same callback again (a replayed code and state) is refused.
    let res = callback(&app, &back).await;
    assert_eq!(assert_refused(&app, res, "replay").await, "unknown_state");
}

#[tokio::test]
async fn forged_or_wrong_callbacks_and_id_tokens_are_refused() {
    let mock = mock_provider().await;
    let app = app_for(&mock.issuer, &[]).await;

    // A state wismo never issued.
    let back = go_to_provider(&app).await;
    let forged = Back {
        query: back.query.replace("state=", "state=x"),
        state_cookie: back.state_cookie.clone(),
    };
    let res = callback(&app, &forged).await;
    assert_eq!(
        assert_refused(&app, res, "wrong state").await,
        "unknown_state"
    );

    // Someone else's callback (no or another state cookie): login CSRF.
    let back = go_to_provider(&app).await;
    let other = Back {
        query: back.query.clone(),
        state_cookie: "not-mine".into(),
    };
    let res = callback(&app, &other).await;
    assert_eq!(
        assert_refused(&app, res, "state cookie").await,
        "state_cookie_mismatch"
    );

    // The provider said no.
    let back = go_to_provider(&app).await;
    let denied = Back {
        query: format!("error=access_denied&{}", back.query),
        state_cookie: back.state_cookie,
    };
    let res = callback(&app, &denied).await;
    assert_eq!(assert_refused(&app, res, "denied").await, "provider_error");

    let cases: [(&str, Value, bool, &str); 8] = [
        ("wrong nonce", json!({"nonce": "n-0"}), false, "wrong_nonce"),
        (
            "wrong aud",
            json!({"aud": "someone-else"}),
            false,
            "wrong_audience",
        ),
        (
            "wrong iss",
            json!({"iss": "https://evil.example"}),
            false,
            "wrong_issuer",
        ),
        (
            "expired",
            json!({"iat": NOW - 3600, "exp": NOW - 600}),
            false,
            "expired_token",
        ),
        (
            "email not verified",
            json!({"email_verified": false}),
            false,
            "email_not_verified",
        ),
        ("no email", json!({"email": null}), false, "no_email"),
        (
            "unknown email",
            json!({"email": "mallory@example.com"}),
            false,
            "unknown_agent",
        ),
        ("bad signature", json!({}), true, "forged_token"),
    ];
    for (what, tweak, forge, reason) in cases {
        *mock.tweak.lock().expect("lock") = tweak;
        *mock.forge.lock().expect("lock") = forge;
        let back = go_to_provider(&app).await;
        let res = callback(&app, &back).await;
        assert_eq!(assert_refused(&app, res, what).await, reason, "{what}");
    }
    let failures = app
        .state
        .sessions
        .db
        .audit_entries(0, 1000)
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.action == "agent.sign_in_failed" && e.details.contains("\"oidc\""))
        .count();
    assert_eq!(failures, 11);
    assert!(!app
        .state
        .sessions
        .db
        .audit_entries(0, 1000)
        .await
        .expect("audit")
        .iter()
        .any(|e| e.action == "agent.sign_in" && e.details.contains("\"oidc\"")));
}

#[tokio::test]
async fn failures_lock_the_callback_per_ip() {
    let mock = mock_provider().await;
    let app = app_for(&mock.issuer, &[("sign_in_lockout", "2/15m")]).await;
    *mock.tweak.lock().expect("lock") = json!({"email_verified": false});
    for _ in 0..2 {
        let back = go_to_provider(&app).await;
        let res = callback(&app, &back).await;
        assert_eq!(res.status(), 401);
    }
    // Even a good sign-in is refused until the window ends.
    *mock.tweak.lock().expect("lock") = json!({});
    let back = go_to_provider(&app).await;
    let res = callback(&app, &back).await;
    assert_eq!(res.status(), 429);
    assert!(cookie_named(&res, "wismo_agent").is_none());
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_clear_error() {
    // Nothing listens on this port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let app = app_for(&format!("http://{closed}"), &[]).await;
    let res = browser()
        .get(app.url("/v1/agent/oidc/start"))
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.expect("problem");
    assert_eq!(body["code"], "oidc_unavailable", "{body}");
}

#[tokio::test]
async fn off_by_default() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let status: Value = browser()
        .get(app.url("/v1/agent/oidc"))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    assert_eq!(status, json!({"enabled": false, "start": null}));
    for path in [
        "/v1/agent/oidc/start",
        "/v1/agent/oidc/callback?code=a&state=b",
    ] {
        let res = browser().get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.expect("problem");
        assert_eq!(body["code"], "oidc_not_configured", "{path}");
    }
}

/// Round robin without sticky sessions: the sign-in starts on one server
/// and the provider sends the browser back to another. The attempt is in
/// the database, so the second server finishes it; it is still used once.
#[tokio::test]
async fn a_sign_in_started_on_one_server_finishes_on_another_once() {
    let mock = mock_provider().await;
    let a = app_on(Backend::Postgres, &mock.issuer, &[]).await;
    let b = app_on(
        Backend::Postgres,
        &mock.issuer,
        &[("database_url", a.database_url.as_str())],
    )
    .await;
    let back = go_to_provider(&a).await;
    let res = callback(&b, &back).await;
    assert_eq!(res.status(), 303, "finished on the other server");
    assert_eq!(res.headers()[header::LOCATION], "/console");
    let token = cookie_named(&res, "wismo_agent").expect("session");
    let me = browser()
        .get(a.url("/v1/agent/me"))
        .header(header::COOKIE, format!("wismo_agent={token}"))
        .send()
        .await
        .expect("me");
    assert_eq!(
        me.status(),
        200,
        "the session works on the first server too"
    );
    // Replayed on the first server: already used.
    let res = callback(&a, &back).await;
    assert_eq!(
        assert_refused(&a, res, "replay elsewhere").await,
        "unknown_state"
    );
    // The attempt's secrets are sealed in the database, keyed by a hash.
    let stored: Option<(String, String)> = {
        use sqlx::Connection;
        let mut pg = sqlx::PgConnection::connect(&a.database_url)
            .await
            .expect("db");
        let again = go_to_provider(&a).await;
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT state_hash, verifier FROM sso_pending")
                .fetch_optional(&mut pg)
                .await
                .expect("query");
        if let Some((hash, _)) = &row {
            assert_ne!(hash, &again.state_cookie, "the state is not stored as is");
        }
        row
    };
    let (_, verifier) = stored.expect("a pending attempt");
    assert!(verifier.starts_with("enc:1:"), "sealed: {verifier}");
}
