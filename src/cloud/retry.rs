//! The retry policy, as pure functions so each rule is unit-tested.
//!
//! - Connect errors, read timeouts, dropped connections, 5xx and 429 are retried with
//!   jittered exponential backoff ("equal jitter": half the delay fixed, half random, so
//!   clients that failed together do not retry together).
//! - A 429's `Retry-After` is honoured (seconds or an HTTP date), capped by what is left of
//!   the total budget: waiting longer than the budget allows means giving up now, with a
//!   message, rather than hanging a hook for five minutes.
//! - There is a cap on attempts and on total time spent retrying.
//! - Requests that are not idempotent (the trigger POST) are *not* retried here: the
//!   trigger module decides, because re-sending it may create a second run.

use std::time::Duration;

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The connection could not be made: the request provably never reached the server.
    ConnectFailed,
    /// The request was (or may have been) sent, but the connection was reset or dropped.
    NoResponse,
    /// The request was (or may have been) sent, and no answer came within the request timeout.
    TimedOut,
    /// The server answered with this status.
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First backoff delay.
    pub base: Duration,
    /// Longest single backoff delay (without Retry-After).
    pub max_delay: Duration,
    /// Most attempts in all (the first one included).
    pub max_attempts: u32,
    /// Total time allowed for retrying one request.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_attempts: 8,
            budget: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// Is this outcome worth another attempt at all?
    pub fn is_transient(attempt: &Attempt) -> bool {
        match attempt {
            Attempt::ConnectFailed | Attempt::NoResponse | Attempt::TimedOut => true,
            Attempt::Status { code, .. } => *code == 429 || (500..=599).contains(code),
        }
    }

    /// Decide after attempt number `attempt` (1-based) failed, `elapsed` since the first.
    /// `random` in [0, 1) supplies the jitter (a parameter so tests are deterministic).
    pub fn decide(
        &self,
        outcome: &Attempt,
        attempt: u32,
        elapsed: Duration,
        random: f64,
    ) -> Decision {
        if !Self::is_transient(outcome) || attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let remaining = self.budget.saturating_sub(elapsed);
        let delay = match outcome {
            Attempt::Status {
                retry_after: Some(after),
                ..
            } => *after,
            _ => self.backoff(attempt, random),
        };
        if delay > remaining {
            return Decision::GiveUp;
        }
        Decision::RetryAfter(delay)
    }

    /// Exponential backoff with equal jitter: `d/2 + random * d/2`, `d = base * 2^(n-1)`.
    pub fn backoff(&self, attempt: u32, random: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let d = exp.min(self.max_delay);
        d / 2 + d.mul_f64(random.clamp(0.0, 1.0) / 2.0)
    }
}

/// Parse a `Retry-After` header: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_attempts: 5,
            budget: Duration::from_secs(10),
        }
    }

    #[test]
    fn transient_failures_are_retried_and_client_errors_are_not() {
        let p = policy();
        for outcome in [
            Attempt::ConnectFailed,
            Attempt::NoResponse,
            Attempt::Status {
                code: 502,
                retry_after: None,
            },
            Attempt::Status {
                code: 503,
                retry_after: None,
            },
            Attempt::Status {
                code: 429,
                retry_after: None,
            },
        ] {
            assert!(
                matches!(
                    p.decide(&outcome, 1, Duration::ZERO, 0.5),
                    Decision::RetryAfter(_)
                ),
                "{outcome:?}"
            );
        }
        for code in [400, 401, 403, 404] {
            let outcome = Attempt::Status {
                code,
                retry_after: None,
            };
            assert_eq!(
                p.decide(&outcome, 1, Duration::ZERO, 0.5),
                Decision::GiveUp,
                "{code}"
            );
        }
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter_and_a_cap() {
        let p = policy();
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(p.backoff(3, 0.0), Duration::from_millis(200));
        assert_eq!(p.backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(p.backoff(30, 1.0), Duration::from_secs(2));
    }

    #[test]
    fn retry_after_is_honoured_within_the_budget() {
        let p = policy();
        let outcome = Attempt::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            p.decide(&outcome, 1, Duration::ZERO, 0.9),
            Decision::RetryAfter(Duration::from_secs(3))
        );
        // Not enough budget left to wait that long: give up now.
        assert_eq!(
            p.decide(&outcome, 1, Duration::from_secs(8), 0.9),
            Decision::GiveUp
        );
    }

    #[test]
    fn attempts_are_capped() {
        let p = policy();
        assert_eq!(
            p.decide(&Attempt::ConnectFailed, 5, Duration::ZERO, 0.0),
            Decision::GiveUp
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Mon, 23 Nov 2026 10:00:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
