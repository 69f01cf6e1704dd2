//! Limits shared through Redis (`redis_url`): the GCRA limiter itself, two
//! limiters (two servers) sharing one allowance, the local fallback when
//! Redis cannot be reached, and two servers on one PostgreSQL database
//! sharing a conversation's rate limit and a sign-in lockout.
//!
//! Redis is at `WISMO_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`);
//! when it cannot be reached the tests FAIL: CI must start it. Each
//! limiter test uses keys under its own random prefix; the server tests use
//! fresh conversations and emails, and turn off the limits keyed by the
//! client IP (every test client is 127.0.0.1).

mod common;

use std::time::{Duration, Instant};

use common::{spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};
use wismo_server::config::Rate;
use wismo_server::limits::Redis;
use wismo_store::NewAgent;

fn redis_url() -> String {
    std::env::var("WISMO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// A prefix no other test (or run) uses.
fn prefix() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("random");
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("wismo-test:{hex}:")
}

async fn limiter(prefix: &str, instances: u32) -> Redis {
    let l = Redis::connect(&redis_url(), instances, prefix)
        .await
        .expect("a usable URL");
    assert!(
        !l.is_down(),
        "Redis must be running at {} for the tests (set WISMO_TEST_REDIS_URL)",
        redis_url()
    );
    l
}

fn rate(limit: u32, per: Duration) -> Option<Rate> {
    Some(Rate { limit, per })
}

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis must be running for the tests")
}

#[tokio::test]
async fn gcra_allows_exactly_the_limit_then_refuses_with_a_retry_after() {
    let p = prefix();
    let l = limiter(&p, 3).await;
    let r = rate(10, Duration::from_secs(60));
    for i in 0..10 {
        assert_eq!(l.hit("conv:c1", r).await, Ok(()), "hit {i}");
    }
    let retry = l.hit("conv:c1", r).await.expect_err("the 11th is refused");
    // One more is allowed every 60 s / 10 = 6 s.
    assert!((5..=6).contains(&retry), "retry after {retry}");
    assert!(
        l.hit("conv:c1", r).await.is_err(),
        "refused hits are not counted"
    );
    // Another key has its own allowance; no rate: always allowed.
    assert_eq!(l.hit("conv:c2", r).await, Ok(()));
    for _ in 0..20 {
        assert_eq!(l.hit("conv:c1", None).await, Ok(()));
    }
    // The key expires: its TTL is at most the period.
    let mut c = raw().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{p}limit:conv:c1"))
        .query_async(&mut c)
        .await
        .expect("pttl");
    assert!(ttl > 50_000 && ttl <= 60_000, "ttl {ttl} ms");
}

#[tokio::test]
async fn gcra_gives_back_one_per_interval() {
    let l = limiter(&prefix(), 3).await;
    let r = rate(4, Duration::from_millis(800));
    for _ in 0..4 {
        assert_eq!(l.hit("k", r).await, Ok(()));
    }
    assert!(l.hit("k", r).await.is_err());
    tokio::time::sleep(Duration::from_millis(230)).await;
    assert_eq!(l.hit("k", r).await, Ok(()), "one back after 200 ms");
    assert!(l.hit("k", r).await.is_err());
}

#[tokio::test]
async fn two_limiters_share_one_allowance() {
    let p = prefix();
    let a = limiter(&p, 3).await;
    let b = limiter(&p, 3).await;
    let r = rate(10, Duration::from_secs(60));
    let mut allowed = [0, 0];
    for i in 0..20 {
        let l = if i % 2 == 0 { &a } else { &b };
        if l.hit("conv:shared", r).await.is_ok() {
            allowed[i % 2] += 1;
        }
    }
    assert_eq!(allowed, [5, 5], "10 of 20 in all, not 10 each");
    // Concurrent decisions do not overshoot either.
    let r = rate(50, Duration::from_secs(60));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let l = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { l.hit("conv:race", r).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.expect("task"));
    }
    assert_eq!(ok, 50);
}

#[tokio::test]
async fn record_check_and_clear() {
    let p = prefix();
    let a = limiter(&p, 3).await;
    let b = limiter(&p, 3).await;
    let r = rate(3, Duration::from_secs(900));
    let key = "sign_in_failures:email:0123456789abcdef";
    assert_eq!(a.check(key, r).await, Ok(()));
    assert!(!a.record(key, r).await);
    assert_eq!(a.check(key, r).await, Ok(()), "check does not count");
    assert_eq!(a.check(key, r).await, Ok(()));
    assert!(!b.record(key, r).await);
    assert!(a.record(key, r).await, "the third failure uses it up");
    let retry = b.check(key, r).await.expect_err("locked on the other one");
    assert!((299..=300).contains(&retry), "retry after {retry}");
    assert!(
        !a.record(key, r).await,
        "a refused failure does not fill again"
    );
    b.clear(key).await;
    assert_eq!(a.check(key, r).await, Ok(()), "cleared everywhere");
    assert!(!a.record(key, r).await);
    // No rate: never locked.
    assert!(!a.record(key, None).await);
    assert_eq!(a.check(key, None).await, Ok(()));
}

#[tokio::test]
async fn ip_blocks_are_shared_and_expire() {
    let p = prefix();
    let a = limiter(&p, 3).await;
    let b = limiter(&p, 3).await;
    let ip: std::net::IpAddr = "203.0.113.77".parse().expect("ip");
    assert_eq!(b.blocked(ip).await, None);
    a.block(ip, Duration::from_millis(1500)).await;
    assert_eq!(b.blocked(ip).await, Some(2));
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(b.blocked(ip).await, None);
    assert_eq!(a.blocked(ip).await, None);
}

#[tokio::test]
async fn unreachable_redis_falls_back_to_the_limit_divided_by_instances() {
    let started = Instant::now();
    let l = Redis::connect("redis://127.0.0.1:1", 3, &prefix())
        .await
        .expect("a closed port is not an error");
    assert!(l.is_down());
    assert_eq!(l.status().await, "unreachable");
    let r = rate(10, Duration::from_secs(60));
    for i in 0..3 {
        assert_eq!(l.hit("conv:x", r).await, Ok(()), "hit {i}");
    }
    assert!(l.hit("conv:x", r).await.is_err(), "10 / 3 instances = 3");
    let f = rate(4, Duration::from_secs(60));
    assert!(l.record("fail", f).await, "4 / 3 = 1: the first fills it");
    assert!(l.check("fail", f).await.is_err());
    l.clear("fail").await;
    assert_eq!(l.check("fail", f).await, Ok(()));
    let ip: std::net::IpAddr = "203.0.113.78".parse().expect("ip");
    l.block(ip, Duration::from_secs(5)).await;
    assert_eq!(l.blocked(ip).await, Some(5));
    // A limit below the number of instances still allows one.
    assert_eq!(
        l.hit("small", rate(2, Duration::from_secs(60))).await,
        Ok(())
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "decisions do not wait on a dead Redis: {:?}",
        started.elapsed()
    );
}

/// A Redis of this test's own, on a free port (stopped on drop).
struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed for the tests");
        OwnRedis { child, port }
    }

    async fn wait_up(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {} does not start", self.port);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn an_outage_falls_back_locally_and_redis_is_used_again_when_it_returns() {
    let port = free_port();
    let own = OwnRedis::start(port);
    own.wait_up().await;
    let url = format!("redis://127.0.0.1:{port}");
    let l = Redis::connect(&url, 2, "wismo:").await.expect("url");
    assert!(!l.is_down());
    assert_eq!(l.status().await, "ok");
    let r = rate(10, Duration::from_secs(60));
    for _ in 0..10 {
        assert_eq!(l.hit("conv:o", r).await, Ok(()));
    }
    assert!(l.hit("conv:o", r).await.is_err());
    drop(own);
    // Down: decided locally at 10 / 2, without waiting on Redis.
    let t = Instant::now();
    let mut ok = 0;
    for _ in 0..8 {
        ok += usize::from(l.hit("conv:o", r).await.is_ok());
    }
    assert_eq!(ok, 5, "the local share");
    assert!(l.is_down());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(l.status().await, "unreachable");
    // Back (empty: it keeps nothing): shared decisions again.
    let own = OwnRedis::start(port);
    own.wait_up().await;
    let mut back = false;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if l.hit("conv:fresh", r).await.is_ok() && !l.is_down() {
            back = true;
            break;
        }
    }
    assert!(back, "Redis is used again after it returns");
    let mut c = redis::Client::open(url.as_str())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let exists: bool = redis::cmd("EXISTS")
        .arg("wismo:limit:conv:fresh")
        .query_async(&mut c)
        .await
        .expect("exists");
    assert!(exists, "the decision was made in Redis");
}

#[tokio::test]
async fn a_bad_url_is_an_error() {
    assert!(Redis::connect("http://127.0.0.1:6379", 3, "x:")
        .await
        .is_err());
}

/// p50/p99 of 10,000 sequential decisions on loopback (target p99 ≤ 1 ms):
/// `cargo test -p wismo-server --test limits_redis -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn decision_latency() {
    let l = limiter(&prefix(), 3).await;
    let r = rate(1_000_000, Duration::from_secs(60));
    let mut times = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let key = format!("conv:{}", i % 100);
        let t = Instant::now();
        let _ = l.hit(&key, r).await;
        times.push(t.elapsed());
    }
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "redis decision latency over {} calls: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        times.len(),
        p(0.50),
        p(0.90),
        p(0.99),
        times[times.len() - 1]
    );
    assert!(!l.is_down());
}

// --- Servers ----------------------------------------------------------------

/// Settings of a server sharing limits through Redis; the limits keyed by
/// the client IP are off (every test client is 127.0.0.1, and Redis is
/// shared by every test).
fn shared<'a>(url: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut s = vec![
        ("redis_url", url),
        ("rate_limit_ip", "off"),
        ("rate_limit_sign_in", "off"),
        ("abuse_block", "off"),
    ];
    s.extend_from_slice(extra);
    s
}

async fn readyz(app: &TestApp) -> (u16, Value) {
    let res = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn say(app: &TestApp, conv: &common::Conv, text: &str) -> (u16, Value) {
    app.say_raw(conv, json!({ "text": text })).await
}

#[tokio::test]
async fn two_servers_share_a_conversation_limit_and_a_sign_in_lockout() {
    let url = redis_url();
    let a = spawn_app_with(
        Backend::Postgres,
        &shared(
            &url,
            &[
                ("rate_limit_conversation", "10/1m"),
                ("sign_in_lockout", "3/15m"),
            ],
        ),
    )
    .await;
    let b = spawn_app_with(
        Backend::Postgres,
        &shared(
            &url,
            &[
                ("database_url", a.database_url.as_str()),
                ("rate_limit_conversation", "10/1m"),
                ("sign_in_lockout", "3/15m"),
            ],
        ),
    )
    .await;
    for app in [&a, &b] {
        let (s, v) = readyz(app).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["redis"], "ok", "{v}");
    }

    // 30 messages to one conversation, alternately to A and B.
    let conv = a.create().await;
    let started = Instant::now();
    let mut accepted = [0, 0];
    let mut refused = [0, 0];
    for i in 0..30 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (s, v) = say(app, &conv, &format!("hello {i}")).await;
        match s {
            200 => accepted[i % 2] += 1,
            429 => {
                assert_eq!(v["code"], "rate_limited", "{v}");
                refused[i % 2] += 1;
            }
            _ => panic!("message {i}: {s} {v}"),
        }
    }
    let took = started.elapsed();
    let total = accepted[0] + accepted[1];
    assert!(
        total <= 10 + usize::from(took > Duration::from_secs(6)),
        "{accepted:?} in {took:?}"
    );
    if took < Duration::from_secs(5) {
        assert_eq!(total, 10, "{accepted:?} in {took:?}");
    }
    assert!(
        refused[0] > 0 && refused[1] > 0,
        "both refused: {refused:?}"
    );
    // Another conversation has its own allowance, on either server.
    let other = b.create().await;
    assert_eq!(say(&a, &other, "hello").await.0, 200);

    // A sign-in lockout recorded through A and B holds on both.
    let email = format!("lock-{}@shop.example", &prefix()[11..27]);
    let password = "correct horse battery";
    a.state
        .sessions
        .db
        .create_agent(&NewAgent {
            id: "a_shared_lock".into(),
            email: email.clone(),
            name: "Lock".into(),
            password_hash: wismo_server::agents::hash_password(password).expect("hash"),
            role: "agent".into(),
            max_chats: 3,
            languages: Vec::new(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("agent");
    for app in [&a, &b, &a] {
        let (s, v) = app.sign_in_agent(&email, "wrong password").await;
        assert_eq!(s, 401, "{v}");
    }
    for app in [&b, &a] {
        let (s, v) = app.sign_in_agent(&email, password).await;
        assert_eq!(s, 429, "locked on both, even with the right password: {v}");
        assert_eq!(v["code"], "rate_limited");
    }
    let locked = a
        .state
        .security
        .recent_events()
        .into_iter()
        .filter(|e| e.event == "agent_sign_in_locked")
        .count();
    assert_eq!(locked, 1, "the server that took the third failure logs it");
}

#[tokio::test]
async fn a_server_whose_redis_is_down_limits_locally_and_stays_ready() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &shared(
            "redis://127.0.0.1:1",
            &[("rate_limit_conversation", "10/1m"), ("instances", "2")],
        ),
    )
    .await;
    let (s, v) = readyz(&app).await;
    assert_eq!(s, 200, "limits still work locally: {v}");
    assert_eq!(v["redis"], "unreachable", "{v}");
    let conv = app.create().await;
    for i in 0..5 {
        let (s, v) = say(&app, &conv, &format!("hello {i}")).await;
        assert_eq!(s, 200, "{i}: {v}");
    }
    let (s, v) = say(&app, &conv, "one too many").await;
    assert_eq!(s, 429, "10 / 2 instances: {v}");
    assert_eq!(v["code"], "rate_limited");
}

#[tokio::test]
async fn readiness_says_redis_is_off_without_redis_url() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let (s, v) = readyz(&app).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["redis"], "off", "{v}");
}

/// The roster entry of `agent` in `app`'s queue, as `agent_token` sees it.
async fn online_on(app: &TestApp, token: &str, agent: &str) -> bool {
    let q: Value = app
        .client
        .get(app.url("/v1/agent/queue"))
        .bearer_auth(token)
        .send()
        .await
        .expect("queue")
        .json()
        .await
        .expect("json");
    q["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == agent))
        .is_some_and(|x| x["online"] == true)
}

async fn until_online(app: &TestApp, token: &str, agent: &str, want: bool, within: Duration) {
    let deadline = Instant::now() + within;
    while online_on(app, token, agent).await != want {
        assert!(
            Instant::now() < deadline,
            "{agent} online={want} not seen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An agent whose console is open on server A is online on server B too:
/// B's roster says so and a shopper whose message reaches B is not told
/// that nobody is there. When the console closes, B knows.
#[tokio::test]
async fn who_is_online_is_shared_by_every_server() {
    let url = redis_url();
    let a = spawn_app_with(Backend::Postgres, &shared(&url, &[])).await;
    let b = spawn_app_with(
        Backend::Postgres,
        &shared(&url, &[("database_url", a.database_url.as_str())]),
    )
    .await;
    let email = format!("online-{}@shop.example", &prefix()[11..27]);
    let password = "correct horse battery";
    a.state
        .sessions
        .db
        .create_agent(&NewAgent {
            id: "a_online".into(),
            email: email.clone(),
            name: "Olive".into(),
            password_hash: wismo_server::agents::hash_password(password).expect("hash"),
            role: "agent".into(),
            max_chats: 3,
            languages: Vec::new(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("agent");
    let (s, v) = a.sign_in_agent(&email, password).await;
    assert_eq!(s, 200, "{v}");
    let token = v["token"].as_str().expect("token").to_string();
    assert!(
        !online_on(&b, &token, "a_online").await,
        "nobody online yet"
    );

    // The console opens on A; B sees the agent online within a refresh.
    let mut console = common::Sse::open(&a, &token).await;
    console.next("queue").await;
    until_online(&b, &token, "a_online", true, Duration::from_secs(6)).await;
    let shopper = b.create().await;
    let (s, r) = say(&b, &shopper, "I want to talk to a human").await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["handoff"]["status"], "queued", "{r}");
    assert!(
        !common::replies(&r).contains("No one from our team is online"),
        "B knows the agent is online on A: {r}"
    );

    // The console closes: B stops counting the agent (the stream notices at
    // its next keep-alive, then Redis and B's next refresh).
    drop(console);
    until_online(&b, &token, "a_online", false, Duration::from_secs(25)).await;
}
