//! Signed-in shoppers: customer tokens (JWTs) from the store's own site.
//!
//! HS256 with a shared secret, and RS256/ES256 with keys from a JWKS served
//! by a real local HTTP server (counting its requests, rotating its keys).
//! Every forged or broken token is refused with the same 401
//! `invalid_customer_token`, and the reason goes to the security events.
//! The RSA keys are test-only fixtures (tests/fixtures/jwt-test-rsa-*.pem);
//! the EC keys are generated at test time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::{replies, spawn_app, spawn_app_with, Backend, Conv, TestApp, BACKENDS};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};

const SECRET: &str = "store-and-wismo-share-this-32-byte-secret";
const ISSUER: &str = "https://shop.example";
const AUDIENCE: &str = "wismo";
/// The test servers' frozen clock (2026-11-24T12:00:00Z).
const NOW: i64 = 1_795_521_600;
/// Emma Johnson in the demo store: order 1042 (UPS) is hers, 1043 is not.
const EMMA: &str = "7301000001";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

fn hs256_with(key: &[u8], header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
        input.as_bytes(),
    );
    format!("{input}.{}", b64(tag.as_ref()))
}

fn hs256(claims: &Value) -> String {
    hs256_with(
        SECRET.as_bytes(),
        &json!({"alg": "HS256", "typ": "JWT"}),
        claims,
    )
}

/// Valid claims for `sub`, issued now, for ten minutes.
fn claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": NOW,
        "exp": NOW + 600,
    })
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

fn without(mut c: Value, key: &str) -> Value {
    if let Some(m) = c.as_object_mut() {
        m.remove(key);
    }
    c
}

async fn hs256_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        &[
            ("shopper_jwt_secret", SECRET),
            ("shopper_jwt_issuer", ISSUER),
            ("shopper_jwt_audience", AUDIENCE),
            // Many deliberate 401s from one address.
            ("abuse_block", "off"),
        ],
    )
    .await
}

/// POST /v1/conversations with a customer token: (status, body).
async fn create_signed_in(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/v1/conversations"))
        .json(&json!({"customer_token": token}))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn conv_of(v: &Value) -> Conv {
    Conv {
        id: v["id"].as_str().expect("id").to_string(),
        token: v["token"].as_str().expect("token").to_string(),
        greeting: v["messages"].as_array().cloned().unwrap_or_default(),
    }
}

async fn sign_in(app: &TestApp, conv: &Conv, bearer: &str, token: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/v1/conversations/{}/identity", conv.id)))
        .bearer_auth(bearer)
        .json(&json!({"customer_token": token}))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn assert_refused(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["code"], "invalid_customer_token", "{what}: {body}");
    // The same words whatever the reason: the client learns nothing.
    assert_eq!(
        body["message"], "the customer token is not valid",
        "{what}: {body}"
    );
}

/// The reason of the last `invalid_customer_token` security event.
fn last_reason(app: &TestApp) -> &'static str {
    app.state
        .security
        .recent_events()
        .iter()
        .rev()
        .find(|e| e.event == "invalid_customer_token")
        .map(|e| e.scope)
        .unwrap_or("none")
}

#[tokio::test]
async fn a_signed_in_shopper_gets_their_order_without_the_email_question() {
    for backend in BACKENDS {
        let app = hs256_app(backend).await;
        let (status, v) = create_signed_in(&app, &hs256(&claims(EMMA))).await;
        assert_eq!(status, 201, "{backend:?}: {v}");
        let conv = conv_of(&v);
        let reply = app.say(&conv, "where is order 1042?").await;
        let text = replies(&reply);
        assert!(
            text.contains("#1042") && text.contains("UPS"),
            "{backend:?}: {text}"
        );
        assert!(
            !text.contains("email") && !text.contains("postal"),
            "{backend:?}: no identity question: {text}"
        );
        // The sign-in survives the server forgetting the conversation
        // (it is in the stored event log).
        app.state.sessions.forget(std::slice::from_ref(&conv.id));
        let again = replies(&app.say(&conv, "where is order 1042?").await);
        assert!(again.contains("UPS"), "{backend:?}: {again}");
    }
}

#[tokio::test]
async fn someone_elses_order_is_answered_like_an_unknown_one() {
    let app = hs256_app(Backend::Sqlite).await;
    let (_, a) = create_signed_in(&app, &hs256(&claims(EMMA))).await;
    let (_, b) = create_signed_in(&app, &hs256(&claims(EMMA))).await;
    let other = replies(&app.say(&conv_of(&a), "where is order 1043?").await);
    let unknown = replies(&app.say(&conv_of(&b), "where is order 1999?").await);
    assert_eq!(other.replace("1043", "N"), unknown.replace("1999", "N"));
    assert!(
        other.contains("can't find that order on your account"),
        "{other}"
    );
    for secret in [
        "UPS",
        "FedEx",
        "DHL",
        "USPS",
        "out for delivery",
        "delivered",
    ] {
        assert!(!other.contains(secret), "{secret} leaked: {other}");
    }
}

#[tokio::test]
async fn an_existing_conversation_signs_in_through_the_identity_endpoint() {
    for backend in BACKENDS {
        let app = hs256_app(backend).await;
        let conv = app.create().await;
        // Anonymous: the order needs the identity check.
        let asked = replies(&app.say(&conv, "where is order 1042?").await);
        assert!(
            asked.contains("email") || asked.contains("postal"),
            "{backend:?}: {asked}"
        );
        assert!(!asked.contains("UPS"), "{backend:?}: {asked}");
        // Someone without the conversation's token cannot sign it in.
        let (status, body) = sign_in(&app, &conv, "not-the-token", &hs256(&claims(EMMA))).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["code"], "unauthorized");
        // A broken customer token is refused.
        let (status, body) = sign_in(&app, &conv, &conv.token, "not.a.jwt").await;
        assert_refused(status, &body, "garbage");
        let (status, body) = sign_in(&app, &conv, &conv.token, &hs256(&claims(EMMA))).await;
        assert_eq!(
            (status, &body),
            (200, &json!({"signed_in": true})),
            "{backend:?}"
        );
        let text = replies(&app.say(&conv, "where is order 1042?").await);
        assert!(text.contains("UPS"), "{backend:?}: {text}");
        // Again as the same customer: fine; as another one: refused.
        let (status, _) = sign_in(&app, &conv, &conv.token, &hs256(&claims(EMMA))).await;
        assert_eq!(status, 200);
        let (status, body) = sign_in(&app, &conv, &conv.token, &hs256(&claims("7301000011"))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["code"], "already_signed_in");
        // The log holds the sign-in (and only one).
        app.state.sessions.forget(std::slice::from_ref(&conv.id));
        let events = app
            .state
            .sessions
            .db
            .events_after(&conv.id, 0)
            .await
            .expect("events");
        let sign_ins = events
            .iter()
            .filter(|(_, e)| {
                matches!(e, wismo_core::dialogue::Event::CustomerSignedIn { customer_id: Some(id), .. } if id == EMMA)
            })
            .count();
        assert_eq!(sign_ins, 1, "{backend:?}");
        let text = replies(&app.say(&conv, "where is order 1042?").await);
        assert!(text.contains("UPS"), "{backend:?} after reload: {text}");
        // GDPR: the conversation is the customer's (found by their id).
        let res = app
            .client
            .post(app.url("/v1/admin/gdpr/export"))
            .bearer_auth(common::ADMIN_TOKEN)
            .json(&json!({"customer_id": EMMA}))
            .send()
            .await
            .expect("export");
        assert_eq!(res.status(), 200);
        let doc: Value = res.json().await.expect("json");
        let ids: Vec<&str> = doc["conversations"]
            .as_array()
            .expect("conversations")
            .iter()
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert!(ids.contains(&conv.id.as_str()), "{backend:?}: {ids:?}");
    }
}

#[tokio::test]
async fn forged_and_broken_tokens_are_refused() {
    let app = hs256_app(Backend::Sqlite).await;
    let good = claims(EMMA);
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let tampered = {
        // Signed for Emma, then the payload is changed to another customer.
        let token = hs256(&good);
        let parts: Vec<&str> = token.split('.').collect();
        let forged = b64(claims("7301000011").to_string().as_bytes());
        format!("{}.{forged}.{}", parts[0], parts[2])
    };
    let alg_none = format!(
        "{}.",
        signing_input(&json!({"alg": "none", "typ": "JWT"}), &good)
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", alg_none, "alg_not_allowed"),
        (
            "alg None with a signature",
            hs256_with(SECRET.as_bytes(), &json!({"alg": "None"}), &good),
            "alg_not_allowed",
        ),
        (
            "wrong key",
            hs256_with(b"another-secret-of-thirty-two-bytes!!", &header, &good),
            "forged_token",
        ),
        ("tampered payload", tampered, "forged_token"),
        (
            "wrong audience",
            hs256(&with(good.clone(), "aud", json!("someone-else"))),
            "wrong_audience",
        ),
        (
            "wrong issuer",
            hs256(&with(good.clone(), "iss", json!("https://evil.example"))),
            "wrong_issuer",
        ),
        (
            "expired",
            hs256(&with(
                with(good.clone(), "iat", json!(NOW - 900)),
                "exp",
                json!(NOW - 300),
            )),
            "expired_token",
        ),
        (
            "not yet valid",
            hs256(&with(good.clone(), "nbf", json!(NOW + 300))),
            "not_yet_valid",
        ),
        (
            "missing exp",
            hs256(&without(good.clone(), "exp")),
            "missing_exp",
        ),
        (
            "lives too long",
            hs256(&with(good.clone(), "exp", json!(NOW + 86_400))),
            "lifetime_too_long",
        ),
        (
            "names no customer",
            hs256(&without(good.clone(), "sub")),
            "no_customer",
        ),
        (
            "RS256 without a JWKS",
            hs256_with(SECRET.as_bytes(), &json!({"alg": "RS256"}), &good),
            "alg_not_allowed",
        ),
        ("not a JWT", "hello".to_string(), "malformed_token"),
    ];
    for (what, token, reason) in &cases {
        let (status, body) = create_signed_in(&app, token).await;
        assert_refused(status, &body, what);
        assert_eq!(last_reason(&app), *reason, "{what}");
        let event = app
            .state
            .security
            .recent_events()
            .into_iter()
            .rev()
            .find(|e| e.event == "invalid_customer_token")
            .expect("a security event");
        assert_eq!(event.path, "/v1/conversations");
        assert!(!event.subject.contains(EMMA), "no claims in the log");
    }
    // The clock leeway (60 s by default) forgives a little skew.
    let skewed = with(
        with(good.clone(), "iat", json!(NOW - 630)),
        "exp",
        json!(NOW - 30),
    );
    let (status, body) = create_signed_in(&app, &hs256(&skewed)).await;
    assert_eq!(status, 201, "{body}");
    // An email alone names the customer too.
    let by_email = with(
        without(good, "sub"),
        "email",
        json!("Emma.Johnson@example.com"),
    );
    let (status, v) = create_signed_in(&app, &hs256(&by_email)).await;
    assert_eq!(status, 201, "{v}");
    let text = replies(&app.say(&conv_of(&v), "where is order 1042?").await);
    assert!(text.contains("UPS"), "{text}");
}

#[tokio::test]
async fn a_customer_token_without_shopper_sign_in_configured_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let (status, body) = create_signed_in(&app, &hs256(&claims(EMMA))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "invalid_field");
}

// ---- JWKS (RS256 / ES256) through a real local HTTP server ----

struct Rsa {
    key: RsaKeyPair,
    jwk: Value,
}

fn rsa_fixture(n: u32, kid: &str) -> Rsa {
    let path = format!(
        "{}/tests/fixtures/jwt-test-rsa-{n}.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let pem = std::fs::read_to_string(&path).expect("RSA test key");
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = STANDARD.decode(body).expect("PEM base64");
    let key = RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key");
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public());
    let jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
        "n": b64(&public.n), "e": b64(&public.e)});
    Rsa { key, jwk }
}

fn rs256(key: &RsaKeyPair, kid: &str, claims: &Value) -> String {
    let input = signing_input(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}), claims);
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("RSA signs");
    format!("{input}.{}", b64(&sig))
}

struct Ec {
    key: EcdsaKeyPair,
    jwk: Value,
}

fn ec_key(kid: &str) -> Ec {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("EC key");
    let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("EC key pair");
    let point = key.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
        "x": b64(&point[1..33]), "y": b64(&point[33..65])});
    Ec { key, jwk }
}

fn es256(key: &EcdsaKeyPair, kid: &str, claims: &Value) -> String {
    let input = signing_input(&json!({"alg": "ES256", "typ": "JWT", "kid": kid}), claims);
    let sig = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("EC signs");
    format!("{input}.{}", b64(sig.as_ref()))
}

/// The store's JWKS endpoint: serves `keys`, counts requests.
#[derive(Clone, Default)]
struct Jwks {
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
}

impl Jwks {
    fn set(&self, keys: Vec<Value>) {
        *self.keys.lock().expect("lock") = keys;
    }
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(jwks: Jwks) -> String {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        get(
            |axum::extract::State(j): axum::extract::State<Jwks>| async move {
                j.hits.fetch_add(1, Ordering::SeqCst);
                let keys = j.keys.lock().expect("lock").clone();
                axum::Json(json!({ "keys": keys }))
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app.with_state(jwks)).await;
    });
    format!("http://{addr}/.well-known/jwks.json")
}

#[tokio::test]
async fn rs256_and_es256_keys_come_from_the_stores_jwks_cached_and_rotated() {
    let rsa1 = rsa_fixture(1, "rsa-1");
    let rsa2 = rsa_fixture(2, "rsa-2");
    let ec1 = ec_key("ec-1");
    let ec2 = ec_key("ec-2");
    let jwks = Jwks::default();
    jwks.set(vec![rsa1.jwk.clone(), ec1.jwk.clone()]);
    let url = serve_jwks(jwks.clone()).await;
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("shopper_jwks_url", url.as_str()),
            ("shopper_jwt_issuer", ISSUER),
            ("shopper_jwt_audience", AUDIENCE),
            ("shopper_jwks_min_refetch", "2s"),
            ("abuse_block", "off"),
        ],
    )
    .await;
    assert_eq!(jwks.hits(), 0, "fetched on first use, not at start");

    // Both algorithms verify; the JWKS is fetched once and cached.
    let (status, v) = create_signed_in(&app, &rs256(&rsa1.key, "rsa-1", &claims(EMMA))).await;
    assert_eq!(status, 201, "RS256: {v}");
    let text = replies(&app.say(&conv_of(&v), "where is order 1042?").await);
    assert!(text.contains("UPS"), "{text}");
    let (status, v) = create_signed_in(&app, &es256(&ec1.key, "ec-1", &claims(EMMA))).await;
    assert_eq!(status, 201, "ES256: {v}");
    for _ in 0..3 {
        let (status, _) = create_signed_in(&app, &rs256(&rsa1.key, "rsa-1", &claims(EMMA))).await;
        assert_eq!(status, 201);
    }
    assert_eq!(jwks.hits(), 1, "the JWKS is cached");

    // Algorithm confusion: an HS256 token keyed with the RSA public key
    // (which anyone can read from the JWKS) when only the JWKS is trusted.
    let public_key_bytes = rsa1.jwk.to_string();
    let confused = hs256_with(
        public_key_bytes.as_bytes(),
        &json!({"alg": "HS256", "kid": "rsa-1"}),
        &claims(EMMA),
    );
    let (status, body) = create_signed_in(&app, &confused).await;
    assert_refused(status, &body, "HS256 with the RSA public key");
    assert_eq!(last_reason(&app), "alg_not_allowed");
    // Signed by another key under a known kid.
    let (status, body) = create_signed_in(&app, &rs256(&rsa2.key, "rsa-1", &claims(EMMA))).await;
    assert_refused(status, &body, "wrong RSA key");
    assert_eq!(last_reason(&app), "forged_token");
    // An ES256 header on the RSA key.
    let (status, body) = create_signed_in(&app, &es256(&ec1.key, "rsa-1", &claims(EMMA))).await;
    assert_refused(status, &body, "ES256 with an RSA kid");
    assert_eq!(last_reason(&app), "alg_not_allowed");
    // The claims are checked as for HS256.
    let expired = with(
        with(claims(EMMA), "iat", json!(NOW - 900)),
        "exp",
        json!(NOW - 300),
    );
    let (status, body) = create_signed_in(&app, &es256(&ec1.key, "ec-1", &expired)).await;
    assert_refused(status, &body, "expired ES256");
    assert_eq!(last_reason(&app), "expired_token");
    let wrong_aud = with(claims(EMMA), "aud", json!(["other-app"]));
    let (status, body) = create_signed_in(&app, &rs256(&rsa1.key, "rsa-1", &wrong_aud)).await;
    assert_refused(status, &body, "RS256 for another audience");
    assert_eq!(last_reason(&app), "wrong_audience");

    // Made-up kids cannot make wismo hammer the store: at most one
    // refetch per shopper_jwks_min_refetch (2 s).
    let before = jwks.hits();
    for i in 0..5 {
        let kid = format!("made-up-{i}");
        let (status, body) = create_signed_in(&app, &rs256(&rsa2.key, &kid, &claims(EMMA))).await;
        assert_refused(status, &body, "unknown kid");
        assert_eq!(last_reason(&app), "unknown_kid");
    }
    assert!(
        jwks.hits() <= before + 1,
        "{} fetches for 5 unknown kids",
        jwks.hits() - before
    );

    // Key rotation at the store: rsa-1 and ec-1 go, rsa-2 and ec-2 come.
    jwks.set(vec![rsa2.jwk.clone(), ec2.jwk.clone()]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = jwks.hits();
    let (status, v) = create_signed_in(&app, &rs256(&rsa2.key, "rsa-2", &claims(EMMA))).await;
    assert_eq!(status, 201, "new RSA key after the refetch: {v}");
    assert_eq!(jwks.hits(), before + 1, "one refetch for the new kid");
    let (status, v) = create_signed_in(&app, &es256(&ec2.key, "ec-2", &claims(EMMA))).await;
    assert_eq!(status, 201, "new EC key: {v}");
    // Tokens signed with the removed keys are refused now.
    let (status, body) = create_signed_in(&app, &rs256(&rsa1.key, "rsa-1", &claims(EMMA))).await;
    assert_refused(status, &body, "removed RSA key");
    assert_eq!(last_reason(&app), "unknown_kid");
    let (status, body) = create_signed_in(&app, &es256(&ec1.key, "ec-1", &claims(EMMA))).await;
    assert_refused(status, &body, "removed EC key");
    assert_eq!(
        jwks.hits(),
        before + 1,
        "no refetch within the minimum interval"
    );
}
