//! Fault injection: the failures a dbt Cloud client must survive (5xx bursts, 429 with
//! `Retry-After`, slow responses, dropped connections, and a trigger that succeeded although
//! its response was lost), made reproducible so reliability tests can count on them.
//!
//! Spec syntax (`--fault` and the fixture's `faults:` list): `KIND[:OPTION]...`
//!
//! | KIND | effect |
//! |---|---|
//! | `500`, `502`, `503`, `504` | answer with that status and a JSON error envelope |
//! | `404` | answer dbt Cloud's 404 envelope (a run just triggered can be invisible for a moment) |
//! | `429` | answer 429 with `Retry-After` (option `retry-after=SECONDS`, default 1) |
//! | `latency` | delay the response by `ms=MILLISECONDS` (default 500) |
//! | `drop` | close the TCP connection without answering |
//! | `garble` | answer `200` with a truncated JSON body (with `after`: the trigger's run is created, its answer unreadable) |
//!
//! Options: `every=N` (every Nth matching request: deterministic), `p=0.25` (probability),
//! `times=N` (at most N injections), `burst=N` (once fired, also hit the next N-1 matching
//! requests), `method=POST`, `path=SUBSTRING` (e.g. `path=/run/`), `after` (run the handler
//! first, then replace its answer: the trigger's run IS created but the client sees a 5xx or a
//! dropped connection), `seed=N` (seed of the `p=` dice). Without `every`/`p` a fault hits
//! every matching request.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What a fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this error status (5xx, or 404 with dbt Cloud's not-found envelope).
    ServerError(u16),
    /// Answer 429 with `Retry-After: seconds`.
    TooManyRequests { retry_after_seconds: u64 },
    /// Delay the answer.
    Latency(Duration),
    /// Close the connection without answering.
    Drop,
    /// Answer 200 with a truncated body (a proxy cut it short).
    Garble,
}

/// When a fault fires among the requests it matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultTrigger {
    Always,
    Every(u64),
    Probability(f64),
}

/// One parsed fault spec.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub trigger: FaultTrigger,
    /// Only requests with this method (upper case).
    pub method: Option<String>,
    /// Only requests whose path contains this.
    pub path: Option<String>,
    /// Apply after the handler ran (the request took effect, the answer is lost).
    pub after_handler: bool,
    pub times: Option<u64>,
    pub burst: u64,
    pub seed: Option<u64>,
    /// The text it was parsed from, shown in the request log.
    pub source: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultSpecError {
    #[error("empty fault spec")]
    Empty,
    #[error(
        "unknown fault kind `{0}` (expected 500, 502, 503, 504, 429, latency, drop or garble)"
    )]
    UnknownKind(String),
    #[error("unknown fault option `{0}` (expected every, p, times, burst, method, path, after, retry-after, ms, seed)")]
    UnknownOption(String),
    #[error("fault option `{key}` has an invalid value `{value}`: {why}")]
    BadValue {
        key: String,
        value: String,
        why: &'static str,
    },
    #[error("`after` only applies to 5xx, drop and garble faults")]
    AfterNotApplicable,
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().split(':');
        let kind_text = parts.next().unwrap_or_default().trim();
        if kind_text.is_empty() {
            return Err(FaultSpecError::Empty);
        }
        let mut kind = match kind_text.to_ascii_lowercase().as_str() {
            "500" | "502" | "503" | "504" | "404" => {
                let code = kind_text.parse::<u16>().unwrap_or(500);
                FaultKind::ServerError(code)
            }
            "429" => FaultKind::TooManyRequests {
                retry_after_seconds: 1,
            },
            "latency" | "slow" => FaultKind::Latency(Duration::from_millis(500)),
            "drop" => FaultKind::Drop,
            "garble" => FaultKind::Garble,
            other => return Err(FaultSpecError::UnknownKind(other.to_string())),
        };
        let mut spec = FaultSpec {
            kind,
            trigger: FaultTrigger::Always,
            method: None,
            path: None,
            after_handler: false,
            times: None,
            burst: 1,
            seed: None,
            source: s.trim().to_string(),
        };
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            let bad = |why: &'static str| FaultSpecError::BadValue {
                key: key.clone(),
                value: value.to_string(),
                why,
            };
            match key.as_str() {
                "every" => {
                    let n: u64 = value.parse().map_err(|_| bad("expected a whole number"))?;
                    if n == 0 {
                        return Err(bad("must be at least 1"));
                    }
                    spec.trigger = FaultTrigger::Every(n);
                }
                "p" | "probability" => {
                    let p: f64 = value.parse().map_err(|_| bad("expected 0.0 to 1.0"))?;
                    if !(0.0..=1.0).contains(&p) {
                        return Err(bad("expected 0.0 to 1.0"));
                    }
                    spec.trigger = FaultTrigger::Probability(p);
                }
                "times" => {
                    spec.times = Some(value.parse().map_err(|_| bad("expected a whole number"))?)
                }
                "burst" => {
                    let n: u64 = value.parse().map_err(|_| bad("expected a whole number"))?;
                    spec.burst = n.max(1);
                }
                "seed" => {
                    spec.seed = Some(value.parse().map_err(|_| bad("expected a whole number"))?)
                }
                "method" => spec.method = Some(value.to_ascii_uppercase()),
                "path" => spec.path = Some(value.to_string()),
                "after" => {
                    spec.after_handler = match value {
                        "" | "true" | "1" | "yes" => true,
                        "false" | "0" | "no" => false,
                        _ => return Err(bad("expected true or false")),
                    }
                }
                "retry-after" | "retry_after" => {
                    let secs: u64 = value.parse().map_err(|_| bad("expected seconds"))?;
                    match &mut kind {
                        FaultKind::TooManyRequests {
                            retry_after_seconds,
                        } => *retry_after_seconds = secs,
                        _ => return Err(bad("only 429 faults take retry-after")),
                    }
                }
                "ms" => {
                    let ms: u64 = value.parse().map_err(|_| bad("expected milliseconds"))?;
                    match &mut kind {
                        FaultKind::Latency(d) => *d = Duration::from_millis(ms),
                        _ => return Err(bad("only latency faults take ms")),
                    }
                }
                _ => return Err(FaultSpecError::UnknownOption(key)),
            }
        }
        if spec.after_handler
            && !matches!(
                kind,
                FaultKind::ServerError(_) | FaultKind::Drop | FaultKind::Garble
            )
        {
            return Err(FaultSpecError::AfterNotApplicable);
        }
        spec.kind = kind;
        Ok(spec)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// An answer a fault substitutes for the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    Status(u16),
    TooManyRequests { retry_after_seconds: u64 },
    Drop,
    Garble,
}

/// What the faults decided for one request.
#[derive(Debug, Default, Clone)]
pub struct FaultDecision {
    pub latency: Duration,
    /// Answer instead of running the handler.
    pub before: Option<FaultAction>,
    /// Run the handler, then answer this instead.
    pub after: Option<FaultAction>,
    /// The specs that fired, for the request log.
    pub fired: Vec<String>,
}

impl FaultDecision {
    pub fn is_empty(&self) -> bool {
        self.fired.is_empty()
    }
}

struct FaultState {
    spec: FaultSpec,
    matched: u64,
    injected: u64,
    burst_left: u64,
    rng: fastrand::Rng,
}

/// Decides, request by request, which faults fire. Counters are per fault and count only the
/// requests that fault matches, so `every=N` is exact whatever else the client sends.
pub struct FaultEngine {
    faults: Vec<FaultState>,
}

impl FaultEngine {
    pub fn new(specs: Vec<FaultSpec>) -> Self {
        FaultEngine {
            faults: specs
                .into_iter()
                .map(|spec| FaultState {
                    rng: spec
                        .seed
                        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
                    spec,
                    matched: 0,
                    injected: 0,
                    burst_left: 0,
                })
                .collect(),
        }
    }

    pub fn decide(&mut self, method: &str, path: &str) -> FaultDecision {
        let mut decision = FaultDecision::default();
        for f in &mut self.faults {
            if f.spec.method.as_deref().is_some_and(|m| m != method) {
                continue;
            }
            if f.spec.path.as_deref().is_some_and(|p| !path.contains(p)) {
                continue;
            }
            f.matched += 1;
            if f.spec.times.is_some_and(|t| f.injected >= t) {
                continue;
            }
            let fire = if f.burst_left > 0 {
                f.burst_left -= 1;
                true
            } else {
                let hit = match f.spec.trigger {
                    FaultTrigger::Always => true,
                    FaultTrigger::Every(n) => f.matched % n == 0,
                    FaultTrigger::Probability(p) => f.rng.f64() < p,
                };
                if hit {
                    f.burst_left = f.spec.burst - 1;
                }
                hit
            };
            if !fire {
                continue;
            }
            let action = match f.spec.kind {
                FaultKind::Latency(d) => {
                    decision.latency += d;
                    decision.fired.push(f.spec.source.clone());
                    f.injected += 1;
                    continue;
                }
                FaultKind::ServerError(code) => FaultAction::Status(code),
                FaultKind::TooManyRequests {
                    retry_after_seconds,
                } => FaultAction::TooManyRequests {
                    retry_after_seconds,
                },
                FaultKind::Drop => FaultAction::Drop,
                FaultKind::Garble => FaultAction::Garble,
            };
            let slot = if f.spec.after_handler {
                &mut decision.after
            } else {
                &mut decision.before
            };
            if slot.is_none() {
                *slot = Some(action);
                decision.fired.push(f.spec.source.clone());
                f.injected += 1;
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_examples() {
        let s: FaultSpec = "503:every=3".parse().unwrap();
        assert_eq!(s.kind, FaultKind::ServerError(503));
        assert_eq!(s.trigger, FaultTrigger::Every(3));
        let s: FaultSpec = "429:p=0.2:retry-after=7".parse().unwrap();
        assert_eq!(
            s.kind,
            FaultKind::TooManyRequests {
                retry_after_seconds: 7
            }
        );
        let s: FaultSpec = "latency:ms=200".parse().unwrap();
        assert_eq!(s.kind, FaultKind::Latency(Duration::from_millis(200)));
        let s: FaultSpec = "drop:every=1:method=post:path=/run/:after".parse().unwrap();
        assert!(s.after_handler);
        assert_eq!(s.method.as_deref(), Some("POST"));
        assert!("418".parse::<FaultSpec>().is_err());
        assert!("503:sometimes".parse::<FaultSpec>().is_err());
        assert!("latency:after".parse::<FaultSpec>().is_err());
    }

    #[test]
    fn every_nth_is_exact_and_scoped() {
        let mut e = FaultEngine::new(vec!["503:every=2:method=GET".parse().unwrap()]);
        let hits: Vec<bool> = (0..6)
            .map(|i| {
                let m = if i == 2 { "POST" } else { "GET" };
                e.decide(m, "/api/v2/x").before.is_some()
            })
            .collect();
        // GET #1 no, GET #2 yes, POST skipped, GET #3 no, GET #4 yes, GET #5 no.
        assert_eq!(hits, vec![false, true, false, false, true, false]);
    }

    #[test]
    fn bursts_and_times() {
        let mut e = FaultEngine::new(vec!["500:every=3:burst=2:times=3".parse().unwrap()]);
        let hits: Vec<bool> = (0..12)
            .map(|_| e.decide("GET", "/").before.is_some())
            .collect();
        assert_eq!(
            hits,
            vec![false, false, true, true, false, true, false, false, false, false, false, false]
        );
    }
}
