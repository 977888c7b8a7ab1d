//! Response envelopes and error bodies, byte-for-byte the shapes dbt Cloud sends
//! (`REFERENCE.md` §3 and §8): `{"status": {...}, "data": ...}` with `extra` on lists, and
//! error envelopes whose `status.code` mirrors the HTTP status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

pub const MSG_SUCCESS: &str = "Success!";
pub const MSG_INVALID_TOKEN: &str = "Invalid token.";
pub const MSG_NOT_FOUND: &str =
    "The requested resource was not found. Please check that you have the proper permissions.";
pub const MSG_BAD_REQUEST: &str =
    "The request was invalid. Please double check the provided data and try again.";
pub const MSG_PERMISSION: &str = "You do not have permission to perform this action.";
pub const MSG_ACCESS_DENIED: &str = "Forbidden: Access denied";

/// Every way a sandbox request can fail, each rendered as dbt Cloud renders it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed or unknown token.
    #[error("invalid token")]
    Unauthorized,
    /// The token is valid but not for this account.
    #[error("token has no access to account {account_id}")]
    AccountAccessDenied { account_id: i64 },
    /// The token may not perform this action (e.g. a read-only token triggering).
    #[error("token lacks the permission for this action")]
    PermissionDenied,
    #[error("not found")]
    NotFound,
    /// Validation errors, field → message.
    #[error("bad request")]
    BadRequest(Map<String, Value>),
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    #[error("unsupported media type {0}")]
    UnsupportedMediaType(String),
    #[error("rate limited")]
    TooManyRequests { retry_after_seconds: u64 },
    /// An injected 5xx.
    #[error("injected server error {0}")]
    Injected(u16),
}

impl ApiError {
    pub fn bad_request(field: &str, message: impl Into<String>) -> ApiError {
        let mut m = Map::new();
        m.insert(field.to_string(), Value::String(message.into()));
        ApiError::BadRequest(m)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::AccountAccessDenied { .. } | ApiError::PermissionDenied => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Injected(code) => {
                StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn body(&self) -> Value {
        let code = self.status().as_u16();
        let status = |user_message: &str, developer_message: Value| {
            json!({
                "code": code,
                "is_success": false,
                "user_message": user_message,
                "developer_message": developer_message,
            })
        };
        match self {
            ApiError::Unauthorized => {
                json!({"status": status(MSG_INVALID_TOKEN, Value::Null), "data": null})
            }
            ApiError::AccountAccessDenied { account_id } => json!({
                "status": status(MSG_ACCESS_DENIED, Value::Null),
                "data": {
                    "account_id": account_id,
                    "user_id": null,
                    "is_service_token": true,
                    "account_access_denied": true,
                },
            }),
            ApiError::PermissionDenied => {
                json!({"status": status(MSG_PERMISSION, Value::Null), "data": null})
            }
            ApiError::NotFound => json!({"status": status(MSG_NOT_FOUND, json!("")), "data": null}),
            ApiError::BadRequest(fields) => json!({
                "status": status(MSG_BAD_REQUEST, json!("")),
                "data": fields,
                "extra": {},
                "error_code": null,
            }),
            // Django REST framework's own shape, as seen through the slash redirect.
            ApiError::MethodNotAllowed(m) => {
                json!({"detail": format!("Method \"{m}\" not allowed.")})
            }
            ApiError::UnsupportedMediaType(t) => {
                json!({"detail": format!("Unsupported media type \"{t}\" in request.")})
            }
            ApiError::TooManyRequests { .. } => json!({
                "status": status("Too many requests. Please try again later.", Value::Null),
                "data": null,
            }),
            ApiError::Injected(_) => json!({
                "status": status("There was a server error. Please try again later.", Value::Null),
                "data": null,
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::TooManyRequests {
            retry_after_seconds,
        } = self
        {
            if let Ok(v) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, v.clone());
                response
                    .headers_mut()
                    .insert("x-rate-limit-retry-after-seconds", v);
            }
        }
        response
    }
}

fn ok_status() -> Value {
    json!({"code": 200, "is_success": true, "user_message": MSG_SUCCESS, "developer_message": ""})
}

/// The success envelope around one object (or any `data`).
pub fn ok(data: Value) -> Response {
    axum::Json(json!({"status": ok_status(), "data": data})).into_response()
}

/// The list envelope: `data` is one page, `extra` echoes filters and ordering and counts.
pub fn ok_list(
    page: Vec<Value>,
    filters: Map<String, Value>,
    order_by: Option<&str>,
    total_count: usize,
) -> Response {
    let count = page.len();
    axum::Json(json!({
        "status": ok_status(),
        "data": page,
        "extra": {
            "filters": filters,
            "order_by": order_by,
            "pagination": {"count": count, "total_count": total_count},
        },
    }))
    .into_response()
}
