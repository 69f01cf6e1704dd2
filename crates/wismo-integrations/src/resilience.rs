//! What every outbound call to a provider goes through: a time limit,
//! retries with full-jitter exponential back-off for failures worth
//! retrying, and a circuit breaker per provider that fails fast while the
//! provider is down (so a shopper's turn is not held up by it) and lets one
//! probe through after a cool-down.
//!
//! The breaker is per process: each server learns for itself that a
//! provider is down (within `failure_threshold` calls), which needs no
//! shared state and fails safe (a closed breaker only costs time).

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::IntegrationError;

/// How calls to one provider behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The whole of one attempt, connection included.
    pub timeout: Duration,
    /// Attempts after the first, for failures worth retrying.
    pub retries: u32,
    /// The first back-off; each retry doubles it, up to `max_backoff`; the
    /// wait is drawn uniformly from zero to that (full jitter).
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before letting a probe through.
    pub open_for: Duration,
}

impl Policy {
    /// For calls on a shopper's turn: short, one retry.
    pub const INTERACTIVE: Policy = Policy {
        timeout: Duration::from_millis(1500),
        retries: 1,
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        failure_threshold: 3,
        open_for: Duration::from_secs(30),
    };

    /// For background work (backfills, trackers): patient.
    pub const BACKGROUND: Policy = Policy {
        timeout: Duration::from_secs(20),
        retries: 5,
        base_backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(20),
        failure_threshold: 5,
        open_for: Duration::from_secs(30),
    };

    /// The wait before retry `attempt` (1-based), jittered.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        cap.mul_f64(unit_random())
    }
}

/// A uniform draw from [0, 1).
fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; others are refused until it reports.
    HalfOpen,
}

/// A circuit breaker (closed → open after `failure_threshold` consecutive
/// failures → half-open after `open_for`: one probe; its success closes it,
/// its failure opens it again).
#[derive(Debug)]
pub struct Breaker {
    provider: &'static str,
    policy: Policy,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(provider: &'static str, policy: Policy) -> Breaker {
        Breaker {
            provider,
            policy,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go out now, and whether it is the probe of a
    /// half-open breaker (one try, no retries: a caller is waiting on it).
    fn admit(&self) -> Result<bool, IntegrationError> {
        let mut state = self.state();
        match *state {
            State::Closed { .. } => Ok(false),
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen;
                Ok(true)
            }
            State::Open { .. } | State::HalfOpen => {
                Err(IntegrationError::CircuitOpen(self.provider))
            }
        }
    }

    fn record(&self, ok: bool) {
        let mut state = self.state();
        *state = match (&*state, ok) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.policy.failure_threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            _ => {
                tracing::warn!(provider = self.provider, "circuit breaker open");
                State::Open {
                    until: Instant::now() + self.policy.open_for,
                }
            }
        };
    }

    /// Whether calls are being refused right now.
    pub fn is_open(&self) -> bool {
        matches!(*self.state(), State::Open { until } if Instant::now() < until)
    }

    /// Runs `attempt` under the policy: refused at once while the breaker is
    /// open; each try limited to `timeout`; retried with back-off while the
    /// error is retryable; the outcome recorded once per call.
    pub async fn call<T, F, Fut>(&self, mut attempt: F) -> Result<T, IntegrationError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, IntegrationError>>,
    {
        let probe = self.admit()?;
        let retries = if probe { 0 } else { self.policy.retries };
        let mut tries = 0;
        loop {
            let result = match tokio::time::timeout(self.policy.timeout, attempt()).await {
                Ok(r) => r,
                Err(_) => Err(IntegrationError::Timeout(self.provider)),
            };
            match result {
                Ok(v) => {
                    self.record(true);
                    return Ok(v);
                }
                // A provider that asks for a longer wait than this policy
                // allows is not waited for (a shopper's turn goes on without it).
                Err(e)
                    if e.is_retryable()
                        && tries < retries
                        && e.retry_after().is_none_or(|w| w <= self.policy.max_backoff) =>
                {
                    tries += 1;
                    let wait = e
                        .retry_after()
                        .unwrap_or_else(|| self.policy.backoff(tries));
                    tracing::debug!(provider = self.provider, tries, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    // A provider that answers (not found, refused, throttled)
                    // is up: only outages count against the breaker.
                    self.record(!e.is_outage());
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const FAST: Policy = Policy {
        timeout: Duration::from_millis(100),
        retries: 2,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        failure_threshold: 2,
        open_for: Duration::from_millis(200),
    };

    #[test]
    fn backoff_is_jittered_below_a_doubling_cap() {
        let p = Policy::BACKGROUND;
        for attempt in 1..10 {
            let cap = p
                .base_backoff
                .saturating_mul(1 << (attempt - 1))
                .min(p.max_backoff);
            for _ in 0..50 {
                assert!(p.backoff(attempt) <= cap);
            }
        }
        let draws: std::collections::HashSet<_> = (0..20).map(|_| p.backoff(3)).collect();
        assert!(draws.len() > 10, "jittered: {draws:?}");
    }

    #[tokio::test]
    async fn retries_outages_then_opens_and_fails_fast_then_probes() {
        let b = Breaker::new("test", FAST);
        let calls = AtomicU32::new(0);
        let down = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(IntegrationError::Status {
                provider: "test",
                status: 503,
            })
        };
        assert!(b.call(down).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3, "first try and two retries");
        assert!(!b.is_open(), "one failed call of a threshold of two");
        assert!(b.call(down).await.is_err());
        assert!(b.is_open());
        let started = Instant::now();
        let e = b.call(down).await.unwrap_err();
        assert!(matches!(e, IntegrationError::CircuitOpen("test")), "{e:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 6, "refused without a call");
        assert!(started.elapsed() < Duration::from_millis(5));

        tokio::time::sleep(Duration::from_millis(220)).await;
        // The probe is one try, without retries, and a failed one opens the
        // breaker again.
        let before = calls.load(Ordering::SeqCst);
        assert!(b.call(down).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), before + 1);
        assert!(b.is_open());
        tokio::time::sleep(Duration::from_millis(220)).await;
        // The probe succeeds: closed again.
        assert_eq!(b.call(|| async { Ok(7) }).await.ok(), Some(7));
        assert!(!b.is_open());
    }

    #[tokio::test]
    async fn a_slow_provider_times_out_and_answers_that_are_not_outages_keep_it_closed() {
        let b = Breaker::new("test", FAST);
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        };
        let e = b.call(slow).await.unwrap_err();
        assert!(matches!(e, IntegrationError::Timeout("test")), "{e:?}");
        for _ in 0..5 {
            let e = b
                .call(|| async { Err::<(), _>(IntegrationError::Unauthorized("test")) })
                .await
                .unwrap_err();
            assert!(matches!(e, IntegrationError::Unauthorized(_)));
        }
        assert!(!b.is_open());
    }
}
