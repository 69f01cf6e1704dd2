//! The shared limiter: GCRA in Redis, one Lua script per decision.
//!
//! Keys (`<prefix>` is `wismo:` in a server):
//!
//! * `<prefix>limit:<key>`: the key's theoretical arrival time (TAT, in
//!   microseconds of Redis's clock), with a TTL of the time until it is
//!   back to a full allowance;
//! * `<prefix>block:<ip>`: an IP block, with the block's TTL.
//!
//! Every decision is one `EVALSHA` (loading the script on `NOSCRIPT`) that
//! reads Redis's `TIME`, so the instances' clocks do not matter. A call that
//! fails or takes longer than [`CALL_TIMEOUT`] falls back to the in-process
//! limiter at the limit divided by `instances`; the outage is logged once,
//! and Redis is probed again at most every [`PROBE_EVERY`].

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::local::Local;
use crate::config::Rate;

/// The longest a decision waits for Redis before deciding locally.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(50);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// While Redis is down, how often one request tries it again.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// GCRA. KEYS[1]: the key. ARGV[1]: the period (µs), ARGV[2]: the limit,
/// ARGV[3]: `hit` (count when allowed), `check` (never count) or `record`
/// (like hit). Returns `{1, full}` when allowed (full: 1 when the next one
/// would be refused) or `{0, retry_after_ms}`.
const GCRA: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[1])
local interval = period / tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at > now then
  return {0, math.ceil((allow_at - now) / 1000)}
end
if ARGV[3] == 'check' then
  return {1, 0}
end
local full = 0
if new_tat + interval - period > now then full = 1 end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
  math.max(1, math.ceil((new_tat - now) / 1000)))
return {1, full}
";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Limits shared through Redis, with an in-process fallback.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
    connecting: AtomicBool,
    down: AtomicBool,
    next_probe: Mutex<Instant>,
    script: redis::Script,
    prefix: String,
    instances: u32,
    fallback: Local,
}

/// What a decision got from Redis.
enum Answer {
    Allowed { full: bool },
    Refused { retry_after: u64 },
}

impl Redis {
    /// A limiter on `url` whose keys start with `prefix` (`wismo:` in a
    /// server; tests use their own). Tries to connect once (an unreachable
    /// Redis is not an error: decisions are local until it answers); only
    /// an unusable URL is.
    pub async fn connect(url: &str, instances: u32, prefix: &str) -> redis::RedisResult<Redis> {
        let client = redis::Client::open(url)?;
        let inner = Arc::new(Inner {
            client,
            conn: Mutex::new(None),
            connecting: AtomicBool::new(true),
            down: AtomicBool::new(false),
            next_probe: Mutex::new(Instant::now()),
            script: redis::Script::new(GCRA),
            prefix: prefix.to_string(),
            instances: instances.max(1),
            fallback: Local::default(),
        });
        inner.try_connect().await;
        inner.connecting.store(false, Ordering::SeqCst);
        Ok(Redis { inner })
    }

    /// The in-process limiter used while Redis is down.
    pub fn fallback(&self) -> &Local {
        &self.inner.fallback
    }

    /// `rate` shared by `instances`: the local fallback's allowance.
    pub fn share(&self, rate: Rate) -> Rate {
        Rate {
            limit: (rate.limit / self.inner.instances).max(1),
            per: rate.per,
        }
    }

    /// Whether the last call found Redis unreachable.
    pub fn is_down(&self) -> bool {
        self.inner.down.load(Ordering::SeqCst)
    }

    async fn gcra(&self, key: &str, rate: Rate, mode: &str) -> Option<Answer> {
        let inner = &self.inner;
        let mut conn = inner.conn()?;
        let key = format!("{}limit:{key}", inner.prefix);
        let period = i64::try_from(rate.per.as_micros())
            .unwrap_or(i64::MAX)
            .max(1);
        let mut call = inner.script.prepare_invoke();
        call.key(&key).arg(period).arg(rate.limit.max(1)).arg(mode);
        let answer: (i64, i64) = inner.call(call.invoke_async(&mut conn)).await?;
        Some(match answer {
            (1, full) => Answer::Allowed { full: full == 1 },
            (_, ms) => Answer::Refused {
                retry_after: u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1),
            },
        })
    }

    /// Counts one hit on `key`: `Err(retry_after_secs)` when refused.
    pub async fn hit(&self, key: &str, rate: Option<Rate>) -> Result<(), u64> {
        let Some(rate) = rate else {
            return Ok(());
        };
        match self.gcra(key, rate, "hit").await {
            Some(Answer::Allowed { .. }) => Ok(()),
            Some(Answer::Refused { retry_after }) => Err(retry_after),
            None => self.inner.fallback.hit(key, Some(self.share(rate))),
        }
    }

    /// Whether a hit on `key` would be refused, without counting.
    pub async fn check(&self, key: &str, rate: Option<Rate>) -> Result<(), u64> {
        let Some(rate) = rate else {
            return Ok(());
        };
        match self.gcra(key, rate, "check").await {
            Some(Answer::Allowed { .. }) => Ok(()),
            Some(Answer::Refused { retry_after }) => Err(retry_after),
            None => self.inner.fallback.check(key, Some(self.share(rate))),
        }
    }

    /// Counts a failure on `key`; true when this one used up the allowance.
    pub async fn record(&self, key: &str, rate: Option<Rate>) -> bool {
        let Some(rate) = rate else {
            return false;
        };
        match self.gcra(key, rate, "record").await {
            Some(Answer::Allowed { full }) => full,
            Some(Answer::Refused { .. }) => false,
            None => self.inner.fallback.record(key, Some(self.share(rate))),
        }
    }

    /// Forgets `key` (in Redis and locally).
    pub async fn clear(&self, key: &str) {
        self.inner.fallback.clear(key);
        let Some(mut conn) = self.inner.conn() else {
            return;
        };
        let key = format!("{}limit:{key}", self.inner.prefix);
        let cmd = redis::cmd("DEL").arg(&key).to_owned();
        let _: Option<i64> = self.inner.call(cmd.query_async(&mut conn)).await;
    }

    /// Blocks the IP for `time` (in Redis, and locally so that the block
    /// holds here through an outage).
    pub async fn block(&self, ip: IpAddr, time: Duration) {
        self.inner.fallback.block(ip, time);
        let Some(mut conn) = self.inner.conn() else {
            return;
        };
        let key = format!("{}block:{ip}", self.inner.prefix);
        let ms = u64::try_from(time.as_millis()).unwrap_or(u64::MAX).max(1);
        let cmd = redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("PX")
            .arg(ms)
            .to_owned();
        let _: Option<()> = self.inner.call(cmd.query_async(&mut conn)).await;
    }

    /// Seconds left of the IP's block, if blocked (here or in Redis).
    pub async fn blocked(&self, ip: IpAddr) -> Option<u64> {
        if let Some(left) = self.inner.fallback.blocked(ip) {
            return Some(left);
        }
        let mut conn = self.inner.conn()?;
        let key = format!("{}block:{ip}", self.inner.prefix);
        let cmd = redis::cmd("PTTL").arg(&key).to_owned();
        let ms: i64 = self.inner.call(cmd.query_async(&mut conn)).await?;
        (ms > 0).then(|| u64::try_from(ms).unwrap_or(0).div_ceil(1000))
    }

    /// `ok` when Redis answers a `PING` now, else `unreachable`.
    pub async fn status(&self) -> &'static str {
        let Some(mut conn) = self.inner.conn() else {
            return "unreachable";
        };
        let cmd = redis::cmd("PING").to_owned();
        let pong: Option<String> = self.inner.call(cmd.query_async(&mut conn)).await;
        if pong.is_some() {
            "ok"
        } else {
            "unreachable"
        }
    }
}

impl Inner {
    /// The connection, unless Redis is down and not due for a probe. With
    /// no connection yet, connecting starts in the background.
    fn conn(self: &Arc<Self>) -> Option<ConnectionManager> {
        if self.down.load(Ordering::SeqCst) {
            let mut next = lock(&self.next_probe);
            let now = Instant::now();
            if now < *next {
                return None;
            }
            *next = now + PROBE_EVERY;
        }
        let conn = lock(&self.conn).clone();
        if conn.is_none() && !self.connecting.swap(true, Ordering::SeqCst) {
            let inner = self.clone();
            tokio::spawn(async move {
                inner.try_connect().await;
                inner.connecting.store(false, Ordering::SeqCst);
            });
        }
        conn
    }

    async fn try_connect(&self) {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(CALL_TIMEOUT * 4)
            .set_number_of_retries(1)
            .set_max_delay(100);
        let connect = async {
            let mut conn = ConnectionManager::new_with_config(self.client.clone(), config).await?;
            self.script.prepare_invoke().load_async(&mut conn).await?;
            Ok::<_, redis::RedisError>(conn)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT * 2, connect).await {
            Ok(Ok(conn)) => {
                *lock(&self.conn) = Some(conn);
                self.up();
            }
            Ok(Err(e)) => self.outage(&e.to_string()),
            Err(_) => self.outage("connecting timed out"),
        }
    }

    /// One Redis call, bounded by [`CALL_TIMEOUT`]; `None` when it failed.
    async fn call<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(v)) => {
                self.up();
                Some(v)
            }
            Ok(Err(e)) if !is_io(&e) => {
                // Redis answered, with an error: not an outage.
                // Its kind only: the text may quote a key.
                tracing::warn!(kind = ?e.kind(), "Redis refused a limiter call");
                None
            }
            Ok(Err(e)) => {
                self.outage(&e.to_string());
                None
            }
            Err(_) => {
                self.outage("no answer within 50 ms");
                None
            }
        }
    }

    fn up(&self) {
        if self.down.swap(false, Ordering::SeqCst) {
            tracing::info!("Redis is reachable again: limits are shared again");
        }
    }

    fn outage(&self, why: &str) {
        *lock(&self.next_probe) = Instant::now() + PROBE_EVERY;
        if !self.down.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                error = why,
                instances = self.instances,
                "Redis is unreachable: limits fall back to this instance's memory, at the limit divided by instances"
            );
        }
    }
}

/// Whether the error is about reaching Redis (rather than an answer).
fn is_io(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}
