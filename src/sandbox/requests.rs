//! The request log: what each request to the sandbox looked like and how it was answered,
//! so tests can assert on retries, backoff timing, headers used and injected faults — but
//! never on a token, which is never recorded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// `Bearer`, `Token`, another scheme as sent, or `None` without an `Authorization` header.
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
