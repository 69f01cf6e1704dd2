//! Who is online for the console, across instances (with `redis_url`).
//!
//! An agent is online while a console stream of theirs is open on some
//! instance. Each instance keeps its own streams' agents in memory
//! ([`crate::escalation::Escalation`]) and, with Redis, also in one sorted
//! set per installation, `wismo:<installation id>:presence`: member
//! `<agent id>|<instance id>`, score the time (ms) until which it holds.
//! An instance adds its member when an agent's first stream opens here,
//! removes it when the last one closes, and renews its members every
//! [`REFRESH`] (each holds [`HOLD`]), so the agents of an instance that died
//! drop out within [`HOLD`]. Every [`REFRESH`] each instance also reads the
//! agents online elsewhere; `online()` is this instance's agents and those.
//!
//! Redis is not the truth here, only a shared view: when it is unreachable,
//! each instance knows its own agents only, until it answers again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::escalation::{Escalation, Signal};

/// How long a member holds without being renewed.
pub const HOLD: Duration = Duration::from_secs(10);
/// How often members are renewed and the others read.
pub const REFRESH: Duration = Duration::from_secs(2);

/// The shared view of who is online.
pub struct SharedPresence {
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    client: redis::Client,
    key: String,
    instance: String,
    /// Agents online on other instances, as last read.
    elsewhere: Mutex<HashSet<String>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn hold_ms() -> i64 {
    i64::try_from(HOLD.as_millis()).unwrap_or(10_000)
}

impl SharedPresence {
    /// The view on Redis at `url` for `installation`, as `instance`. Does not
    /// connect yet (the first refresh does, and every one after a failure).
    pub fn new(url: &str, installation: &str, instance: &str) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("redis_url is not usable: {e}"))?;
        Ok(Arc::new(SharedPresence {
            conn: tokio::sync::Mutex::new(None),
            client,
            key: format!("wismo:{installation}:presence"),
            instance: instance.to_string(),
            elsewhere: Mutex::new(HashSet::new()),
        }))
    }

    fn member(&self, agent: &str) -> String {
        format!("{agent}|{}", self.instance)
    }

    /// Agents online on other instances (as of the last refresh).
    pub fn elsewhere(&self) -> HashSet<String> {
        self.elsewhere
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            match tokio::time::timeout(
                Duration::from_secs(2),
                ConnectionManager::new(self.client.clone()),
            )
            .await
            {
                Ok(Ok(c)) => *guard = Some(c),
                Ok(Err(e)) => tracing::debug!(error = %e, "presence: Redis unreachable"),
                Err(_) => tracing::debug!("presence: Redis connection timed out"),
            }
        }
        guard.clone()
    }

    /// Adds (`true`) or removes this instance's member for `agent` at once.
    pub async fn set(&self, agent: &str, online: bool) {
        let Some(mut conn) = self.connection().await else {
            return;
        };
        let cmd = if online {
            let mut c = redis::cmd("ZADD");
            c.arg(&self.key)
                .arg(now_ms() + hold_ms())
                .arg(self.member(agent));
            c
        } else {
            let mut c = redis::cmd("ZREM");
            c.arg(&self.key).arg(self.member(agent));
            c
        };
        if let Err(e) = cmd.query_async::<()>(&mut conn).await {
            tracing::debug!(error = %e, "presence: Redis did not take a change");
        }
    }

    /// Renews this instance's members for `here`, drops expired members and
    /// reads who is online elsewhere. True when that changed.
    async fn refresh(&self, here: &HashSet<String>) -> bool {
        let Some(mut conn) = self.connection().await else {
            return self.forget_elsewhere();
        };
        let now = now_ms();
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&self.key)
            .arg("-inf")
            .arg(now)
            .ignore();
        for agent in here {
            pipe.cmd("ZADD")
                .arg(&self.key)
                .arg(now + hold_ms())
                .arg(self.member(agent))
                .ignore();
        }
        pipe.cmd("PEXPIRE")
            .arg(&self.key)
            .arg(hold_ms() * 6)
            .ignore();
        pipe.cmd("ZRANGEBYSCORE")
            .arg(&self.key)
            .arg(now)
            .arg("+inf");
        let members: Vec<String> = match pipe.query_async::<(Vec<String>,)>(&mut conn).await {
            Ok((m,)) => m,
            Err(e) => {
                tracing::debug!(error = %e, "presence: Redis refresh failed");
                return self.forget_elsewhere();
            }
        };
        let suffix = format!("|{}", self.instance);
        let elsewhere: HashSet<String> = members
            .iter()
            .filter(|m| !m.ends_with(&suffix))
            .filter_map(|m| m.rsplit_once('|').map(|(agent, _)| agent.to_string()))
            .collect();
        let mut current = self.elsewhere.lock().unwrap_or_else(|p| p.into_inner());
        let changed = *current != elsewhere;
        *current = elsewhere;
        changed
    }

    /// Without Redis, nobody is known to be online elsewhere.
    fn forget_elsewhere(&self) -> bool {
        let mut current = self.elsewhere.lock().unwrap_or_else(|p| p.into_inner());
        let changed = !current.is_empty();
        current.clear();
        changed
    }

    /// Renews and reads every [`REFRESH`] until the escalation is gone; a
    /// change of who is online elsewhere refreshes the consoles here.
    pub fn start(self: &Arc<Self>, escalation: Weak<Escalation>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(e) = escalation.upgrade() else {
                    break;
                };
                let here = e.online_here();
                if me.refresh(&here).await {
                    e.signal_here(Signal::Queue);
                }
            }
        });
    }
}
