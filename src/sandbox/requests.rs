//! The request log: what each request to the sandbox looked like and how it was answered,
//! so tests can assert on retries, backoff timing, headers used and injected faults — but
//! never on a token, which is never recorded.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Called with each API request's record as it completes (the binary logs it to stderr).
pub type RequestHook = Arc<dyn Fn(&RequestRecord) + Send + Sync>;

/// One request as the sandbox saw and answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// 1-based arrival order since the sandbox started (not reset by `reset_log`).
    pub seq: u64,
    pub method: String,
    /// Path without the query, e.g. `/api/v2/accounts/1/runs/5/`.
    pub path: String,
    /// Raw query string, with values of token-like keys redacted.
    pub query: Option<String>,
    /// HTTP status sent; `0` when the connection was dropped without an answer.
    pub status: u16,
    /// Wall-clock arrival time.
    pub received_at: DateTime<Utc>,
    /// Arrival time in milliseconds since the sandbox started (monotonic: use it for timing).
    pub offset_ms: f64,
    /// Time from arrival to the answer, injected latency included.
    pub latency_ms: f64,
    /// `Bearer` or `Token` (any case, as sent), `<unknown>` for anything else (a raw token sent
    /// without a scheme must not be logged as one), `None` without an `Authorization` header.
    pub auth_scheme: Option<String>,
    /// The fault specs (or `rate-limit`) that shaped the answer, e.g. `503:every=2`.
    pub fault: Option<String>,
}

impl RequestRecord {
    /// Whether a fault (or the rate limit) changed this request's answer or timing.
    pub fn was_faulted(&self) -> bool {
        self.fault.is_some()
    }

    /// One line for the sandbox's stderr log.
    pub fn log_line(&self) -> String {
        let status = if self.status == 0 {
            "dropped".to_string()
        } else {
            self.status.to_string()
        };
        let query = self
            .query
            .as_deref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let fault = self
            .fault
            .as_deref()
            .map(|f| format!(" [fault {f}]"))
            .unwrap_or_default();
        format!(
            "{} {}{} -> {} ({:.1} ms){}",
            self.method, self.path, query, status, self.latency_ms, fault
        )
    }
}

/// The most recent requests, bounded: a long-running sandbox (a soak, a team's shared one) must
/// not grow without limit. The oldest are dropped first and counted.
#[derive(Debug)]
pub struct RequestLog {
    records: VecDeque<RequestRecord>,
    capacity: usize,
    dropped: u64,
}

/// How many requests the log keeps by default: enough for any test, a few MiB at most.
pub const DEFAULT_LOG_CAPACITY: usize = 10_000;

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            records: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Record one request; returns true when this pushed the oldest one out.
    pub fn push(&mut self, record: RequestRecord) -> bool {
        let full = self.records.len() >= self.capacity;
        if full {
            self.records.pop_front();
            self.dropped += 1;
        }
        self.records.push_back(record);
        full
    }

    /// The kept records, oldest first.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.iter().cloned().collect()
    }

    pub fn records_len(&self) -> usize {
        self.records.len()
    }

    /// Requests dropped from the front since the last clear.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forget everything; returns how many records were kept.
    pub fn clear(&mut self) -> usize {
        let n = self.records.len();
        self.records.clear();
        self.dropped = 0;
        n
    }
}

/// The scheme of an `Authorization` header value as the log may show it: a known scheme name,
/// else `<unknown>` (the value may be the bare token).
pub fn loggable_scheme(header: &str) -> String {
    let first = header.split_whitespace().next().unwrap_or("");
    if first.eq_ignore_ascii_case("bearer") || first.eq_ignore_ascii_case("token") {
        first.to_string()
    } else {
        "<unknown>".to_string()
    }
}

/// Query keys whose values never reach the log.
const SECRET_KEYS: &[&str] = &[
    "token",
    "api_key",
    "apikey",
    "access_token",
    "key",
    "password",
];

/// Redact the values of token-like query parameters.
pub fn redact_query(raw: &str) -> String {
    raw.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str()) => {
                format!("{k}=REDACTED")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_schemes_are_logged() {
        assert_eq!(loggable_scheme("Bearer abc"), "Bearer");
        assert_eq!(loggable_scheme("token abc"), "token");
        for raw in ["SECRET", "BearerSECRET", "Basic dXNlcjpwdw==", ""] {
            assert_eq!(loggable_scheme(raw), "<unknown>", "{raw}");
        }
    }

    #[test]
    fn the_log_keeps_the_newest_and_counts_the_dropped() {
        let record = |seq| RequestRecord {
            seq,
            method: "GET".into(),
            path: "/".into(),
            query: None,
            status: 200,
            received_at: Utc::now(),
            offset_ms: 0.0,
            latency_ms: 0.0,
            auth_scheme: None,
            fault: None,
        };
        let mut log = RequestLog::new(3);
        let pushed_out: Vec<bool> = (1..=5).map(|i| log.push(record(i))).collect();
        assert_eq!(pushed_out, [false, false, false, true, true]);
        let seqs: Vec<u64> = log.records().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        assert_eq!(log.dropped(), 2);
        assert_eq!(log.clear(), 3);
        assert_eq!(log.dropped(), 0);
    }
}
