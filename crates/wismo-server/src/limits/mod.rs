//! Rate limits, lockouts and IP blocks: one interface, [`Limiter`], over
//! two implementations:
//!
//! * [`Local`]: fixed windows in this process's memory (no `redis_url`:
//!   one instance);
//! * [`Redis`]: GCRA in Redis shared by every instance (`redis_url`), with
//!   a [`Local`] fallback at the limit divided by `instances` while Redis
//!   is unreachable.
//!
//! Keys are the callers' (`conv:<id>`, `sign_in_failures:email:<hash>`, …):
//! never an email or a token in clear.

pub mod local;
pub mod redis;

use std::net::IpAddr;
use std::time::Duration;

pub use self::local::Local;
pub use self::redis::Redis;
use crate::config::{Config, Rate};

/// The key prefix of a server's Redis keys.
pub const PREFIX: &str = "wismo:";

/// Where limits are kept.
pub enum Limiter {
    Local(Local),
    Redis(Redis),
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::Local(Local::default())
    }
}

impl Limiter {
    /// The limiter `config` asks for: shared through `redis_url` when set.
    pub async fn from_config(config: &Config) -> anyhow::Result<Limiter> {
        match &config.redis_url {
            None => Ok(Limiter::default()),
            Some(url) => Redis::connect(url.expose(), config.instances, PREFIX)
                .await
                .map(Limiter::Redis)
                // The kind only: the error may quote the URL and its password.
                .map_err(|e| anyhow::anyhow!("redis_url is not usable ({:?})", e.kind())),
        }
    }

    /// Counts one hit on `key`: `Err(retry_after_secs)` when refused (the
    /// hit is not counted). No rate: always allowed.
    pub async fn hit(&self, key: &str, rate: Option<Rate>) -> Result<(), u64> {
        match self {
            Limiter::Local(l) => l.hit(key, rate),
            Limiter::Redis(r) => r.hit(key, rate).await,
        }
    }

    /// Whether `key` is used up, without counting: `Err(retry_after)`.
    pub async fn check(&self, key: &str, rate: Option<Rate>) -> Result<(), u64> {
        match self {
            Limiter::Local(l) => l.check(key, rate),
            Limiter::Redis(r) => r.check(key, rate).await,
        }
    }

    /// Counts a failure on `key`; true when this one used up the allowance.
    pub async fn record(&self, key: &str, rate: Option<Rate>) -> bool {
        match self {
            Limiter::Local(l) => l.record(key, rate),
            Limiter::Redis(r) => r.record(key, rate).await,
        }
    }

    /// Forgets `key`.
    pub async fn clear(&self, key: &str) {
        match self {
            Limiter::Local(l) => l.clear(key),
            Limiter::Redis(r) => r.clear(key).await,
        }
    }

    /// Blocks the IP for `time`.
    pub async fn block(&self, ip: IpAddr, time: Duration) {
        match self {
            Limiter::Local(l) => l.block(ip, time),
            Limiter::Redis(r) => r.block(ip, time).await,
        }
    }

    /// Seconds left of the IP's block, if blocked.
    pub async fn blocked(&self, ip: IpAddr) -> Option<u64> {
        match self {
            Limiter::Local(l) => l.blocked(ip),
            Limiter::Redis(r) => r.blocked(ip).await,
        }
    }

    /// Drops expired in-process windows and blocks (Redis keys expire on
    /// their own).
    pub fn purge(&self) -> usize {
        match self {
            Limiter::Local(l) => l.purge(),
            Limiter::Redis(r) => r.fallback().purge(),
        }
    }

    /// For `/readyz`: `off` (no `redis_url`), `ok` or `unreachable`.
    pub async fn redis_status(&self) -> &'static str {
        match self {
            Limiter::Local(_) => "off",
            Limiter::Redis(r) => r.status().await,
        }
    }
}
