//! The in-process limiter: a fixed window per key and IP blocks, in this
//! process's memory (one instance, or the fallback while Redis is down).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::Rate;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
    per: Duration,
}

impl Window {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.start) >= self.per
    }

    fn retry_after(&self, now: Instant) -> u64 {
        ceil_secs(self.per.saturating_sub(now.duration_since(self.start)))
    }
}

/// Whole seconds, rounded up.
pub(crate) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Windows beyond this many make the next insert purge expired ones.
const PURGE_AT: usize = 50_000;

/// Fixed windows and IP blocks in memory.
#[derive(Default)]
pub struct Local {
    windows: Mutex<HashMap<String, Window>>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Local {
    /// Counts one hit on `key`: `Err(retry_after_secs)` when the window is
    /// already full (the hit is not counted). No rate: always allowed.
    pub fn hit(&self, key: &str, rate: Option<Rate>) -> Result<(), u64> {
        self.bump(key, rate).map(|_| ())
    }

    /// Like [`Local::hit`], returning the window's count after this hit.
    fn bump(&self, key: &str, rate: Option<Rate>) -> Result<u32, u64> {
        let Some(rate) = rate else {
            return Ok(0);
        };
        let now = Instant::now();
        let mut map = lock(&self.windows);
        if map.len() >= PURGE_AT {
            map.retain(|_, w| !w.expired(now));
        }
        let fresh = Window {
            start: now,
            count: 0,
            per: rate.per,
        };
        let w = map.entry(key.to_string()).or_insert(fresh);
        if w.expired(now) {
            *w = fresh;
        }
        if w.count >= rate.limit {
            return Err(w.retry_after(now));
        }
        w.count += 1;
        Ok(w.count)
    }

    /// Whether `key`'s window is full (without counting): `Err(retry_after)`.
    pub fn check(&self, key: &str, rate: Option<Rate>) -> Result<(), u64> {
        let Some(rate) = rate else {
            return Ok(());
        };
        let now = Instant::now();
        match lock(&self.windows).get(key) {
            Some(w) if !w.expired(now) && w.count >= rate.limit => Err(w.retry_after(now)),
            _ => Ok(()),
        }
    }

    /// Counts a failure on `key`; true when this one filled the window.
    pub fn record(&self, key: &str, rate: Option<Rate>) -> bool {
        match (rate, self.bump(key, rate)) {
            (Some(r), Ok(count)) => count == r.limit,
            _ => false,
        }
    }

    /// Forgets `key`.
    pub fn clear(&self, key: &str) {
        lock(&self.windows).remove(key);
    }

    /// Seconds left of the IP's block, if blocked.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut map = lock(&self.blocked);
        match map.get(&ip) {
            Some(until) if *until > now => Some(ceil_secs(until.duration_since(now))),
            Some(_) => {
                map.remove(&ip);
                None
            }
            None => None,
        }
    }

    /// Blocks the IP for `time`.
    pub fn block(&self, ip: IpAddr, time: Duration) {
        lock(&self.blocked).insert(ip, Instant::now() + time);
    }

    /// Drops expired windows and blocks; the number of windows dropped.
    pub fn purge(&self) -> usize {
        let now = Instant::now();
        let mut map = lock(&self.windows);
        let before = map.len();
        map.retain(|_, w| !w.expired(now));
        let dropped = before - map.len();
        drop(map);
        lock(&self.blocked).retain(|_, until| *until > now);
        dropped
    }
}
