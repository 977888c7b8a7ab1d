//! A small stand-in of GitHub's issue-comment REST calls on 127.0.0.1 (it records every
//! request and pages its listing as GitHub does), and the environment of a GitHub Actions job
//! on pull request 12 of acme/dbt: shared by the `--pr-comment` tests and the Action's.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const GITHUB_TOKEN: &str = "ghs_test0nly5ecret7d2f";

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub authorization: String,
    pub accept: String,
    pub api_version: String,
    pub user_agent: String,
    pub body: Value,
}

#[derive(Default)]
pub struct Issues {
    /// The pull request's comments, oldest first: (id, body).
    pub comments: Vec<(i64, String)>,
    pub next_id: i64,
    pub seen: Vec<Seen>,
    /// Answer every write with this status (GitHub refusing).
    pub refuse_writes: Option<u16>,
}

pub type Shared = Arc<Mutex<Issues>>;

/// The stand-in of GitHub's API for repository acme/dbt, pull request 12.
pub struct GitHub {
    pub state: Shared,
    addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

impl GitHub {
    /// Started with `others` comments by other people already on the pull request.
    pub fn start(others: usize) -> GitHub {
        let state: Shared = Arc::new(Mutex::new(Issues {
            next_id: 1000,
            ..Issues::default()
        }));
        {
            let mut s = state.lock().unwrap();
            for i in 0..others {
                let id = s.next_id;
                s.next_id += 1;
                s.comments.push((id, format!("looks good to me ({i})")));
            }
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(state.clone());
        rt.spawn(async move { axum::serve(listener, app).await });
        GitHub {
            state,
            addr,
            _rt: rt,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The comments holding datachonk's marker.
    pub fn ours(&self) -> Vec<(i64, String)> {
        self.state
            .lock()
            .unwrap()
            .comments
            .iter()
            .filter(|(_, body)| body.contains("<!-- datachonk:"))
            .cloned()
            .collect()
    }
}

async fn answer(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut s = state.lock().unwrap();
    s.seen.push(Seen {
        method: method.to_string(),
        target: uri.to_string(),
        authorization: header("authorization"),
        accept: header("accept"),
        api_version: header("x-github-api-version"),
        user_agent: header("user-agent"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    if header("authorization") != format!("Bearer {GITHUB_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    let path = uri.path();
    let text = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["body"].as_str().map(str::to_string));
    if method != Method::GET {
        if let Some(code) = s.refuse_writes {
            let status = StatusCode::from_u16(code).unwrap();
            return (
                status,
                axum::Json(json!({"message": "Resource not accessible by integration"})),
            )
                .into_response();
        }
    }
    match (method, path) {
        (Method::GET, "/repos/acme/dbt/issues/12/comments") => {
            let query = uri.query().unwrap_or_default();
            let param = |k: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}="))?.parse::<usize>().ok())
            };
            let per_page = param("per_page").unwrap_or(30);
            let page = param("page").unwrap_or(1);
            let all: Vec<Value> = s
                .comments
                .iter()
                .map(|(id, body)| json!({"id": id, "body": body, "user": {"login": "someone"}}))
                .collect();
            let from = (page - 1) * per_page;
            let items: Vec<Value> = all.iter().skip(from).take(per_page).cloned().collect();
            let mut response = axum::Json(Value::Array(items)).into_response();
            if from + per_page < all.len() {
                let host = header("host");
                let next = format!(
                    "<http://{host}/repos/acme/dbt/issues/12/comments?per_page={per_page}&page={}>; rel=\"next\"",
                    page + 1
                );
                response.headers_mut().insert("link", next.parse().unwrap());
            }
            response
        }
        (Method::POST, "/repos/acme/dbt/issues/12/comments") => {
            let id = s.next_id;
            s.next_id += 1;
            s.comments.push((id, text.unwrap_or_default()));
            (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response()
        }
        (Method::PATCH, p) if p.starts_with("/repos/acme/dbt/issues/comments/") => {
            let id: i64 = p.rsplit('/').next().unwrap().parse().unwrap();
            match s.comments.iter_mut().find(|(c, _)| *c == id) {
                Some(c) => {
                    c.1 = text.unwrap_or_default();
                    axum::Json(json!({"id": id})).into_response()
                }
                None => (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"message": "Not Found"})),
                )
                    .into_response(),
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found"})),
        )
            .into_response(),
    }
}

/// A GitHub Actions job on pull request 12 of acme/dbt, whose API is `api`.
pub fn actions_env(dir: &std::path::Path, api: &str) -> Vec<(String, String)> {
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        r#"{"number": 12, "pull_request": {"number": 12, "head": {"sha": "0123abc"}}}"#,
    )
    .unwrap();
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_TOKEN", GITHUB_TOKEN),
        ("GITHUB_API_URL", api),
        ("GITHUB_REPOSITORY", "acme/dbt"),
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ("GITHUB_SERVER_URL", "https://github.example"),
        ("GITHUB_RUN_ID", "777"),
        (
            "GITHUB_STEP_SUMMARY",
            dir.join("summary.md").to_str().unwrap(),
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}
