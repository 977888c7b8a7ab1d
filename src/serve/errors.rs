//! The one error envelope of the integration API, and how dbt Cloud failures map to HTTP
//! statuses (the CLI maps the same `ApiError` to exit codes in `error.rs`).
//!
//! `{"error": {"status": 404, "code": "not_found", "message": "...", "hints": ["..."]}}`

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::cloud::ApiError;

/// An API failure: the HTTP status, a stable code for programs, a message a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hints: Vec<String>,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ServeError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ServeError {
            status,
            code,
            message: message.into(),
            hints: Vec::new(),
            retry_after: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ServeError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ServeError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn not_connected() -> Self {
        ServeError::new(
            StatusCode::CONFLICT,
            "not_connected",
            "not connected to dbt Cloud",
        )
        .hint("POST /api/dbt-cloud/connect with {\"token\", \"account_id\"} first (or open the page and connect)")
    }

    pub fn json(&self) -> serde_json::Value {
        json!({ "error": {
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
            "hints": self.hints,
        }})
    }
}

impl From<ApiError> for ServeError {
    /// dbt Cloud's answer decides the status: its 400/401/403/404 pass through (with the
    /// CLI's explanation), anything else it did wrong is a 502.
    fn from(e: ApiError) -> Self {
        let (status, code) = match &e {
            ApiError::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "dbt_cloud_unauthorized"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "dbt_cloud_forbidden"),
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "dbt_cloud_bad_request"),
            ApiError::TriggerUnconfirmed { .. } => (StatusCode::BAD_GATEWAY, "trigger_unconfirmed"),
            ApiError::Client(_) => (StatusCode::BAD_REQUEST, "bad_token"),
            _ => (StatusCode::BAD_GATEWAY, "dbt_cloud_failed"),
        };
        let hints = e.hints();
        ServeError {
            status,
            code,
            message: e.to_string(),
            hints,
            retry_after: None,
        }
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.json())).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbt_cloud_failures_keep_their_meaning_as_http_statuses() {
        let unauthorized = ServeError::from(ApiError::Unauthorized {
            url: "http://127.0.0.1:1/api/v2/accounts/1/".into(),
            token_source: "the connect request".into(),
            legacy_host: false,
        });
        assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
        assert!(unauthorized.message.contains("401"));
        assert!(unauthorized.hints[0].contains("the connect request"));
        let down = ServeError::from(ApiError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            attempts: 3,
            detail: "refused".into(),
        });
        assert_eq!(down.status, StatusCode::BAD_GATEWAY);
        let body = down.json();
        assert_eq!(body["error"]["status"], 502);
        assert_eq!(body["error"]["code"], "dbt_cloud_failed");
    }
}
