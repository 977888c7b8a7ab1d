//! A stand-in for dbt Cloud's web app, so the links the API hands out lead somewhere: `GET /`
//! (what Airflow's "test connection" requests, and where a person lands) lists the runs, and
//! each run's `href` (`/deploy/{account}/projects/{project}/runs/{id}/`) shows its status,
//! steps and logs. Plain server-rendered HTML, no script; no token needed, as the sandbox
//! listens on loopback (dbt Cloud's app has its own login, which a sandbox cannot mimic).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::app_state::{lock, AppState};
use super::json;

/// `GET /`: the sandbox, its API base and its runs, newest first.
pub async fn index(State(s): State<Arc<AppState>>) -> Response {
    let now = Instant::now();
    let runs: Vec<Value> = lock(&s.runs)
        .runs
        .values()
        .rev()
        .map(|r| json::run(r, &s.fixture(), &related(&["trigger"]), &s.base_url, now))
        .collect();
    let base = s.base_url.trim_end_matches('/');
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>datachonk sandbox</h1><p>A local server that speaks the dbt Cloud v2 API at \
         <code>{}/api/v2/</code>. Point <code>DBT_CLOUD_ACCESS_URL</code> at <code>{}</code>.</p>",
        esc(base),
        esc(base)
    );
    if runs.is_empty() {
        body.push_str("<p>No runs yet.</p>");
    } else {
        body.push_str(
            "<table><tr><th>run</th><th>job</th><th>status</th><th>git sha</th><th>cause</th></tr>",
        );
        for r in &runs {
            let _ = write!(
                body,
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(text(&r["href"])),
                r["id"],
                r["job_definition_id"],
                esc(text(&r["status_humanized"])),
                esc(text(&r["git_sha"])),
                esc(text(&r["trigger"]["cause"])),
            );
        }
        body.push_str("</table>");
    }
    page(StatusCode::OK, "datachonk sandbox", &body)
}

/// `GET /deploy/{account_id}/projects/{project_id}/runs/{id}/`: one run, its steps and logs.
pub async fn run_page(
    State(s): State<Arc<AppState>>,
    Path(p): Path<HashMap<String, String>>,
) -> Response {
    let num = |k: &str| p.get(k).and_then(|v| v.parse::<i64>().ok());
    let runs = lock(&s.runs);
    let found = num("id").and_then(|id| runs.get(id)).filter(|r| {
        Some(r.account_id) == num("account_id") && Some(r.project_id) == num("project_id")
    });
    let Some(run) = found else {
        return page(StatusCode::NOT_FOUND, "Not found", "<p>No such run.</p>");
    };
    let include = related(&["trigger", "run_steps"]);
    let r = json::run(run, &s.fixture(), &include, &s.base_url, Instant::now());
    drop(runs);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Run #{} — {}</h1><p>job {} · cause: {} · git sha <code>{}</code> · branch {} · {}</p>",
        r["id"],
        esc(text(&r["status_humanized"])),
        r["job_definition_id"],
        esc(text(&r["trigger"]["cause"])),
        esc(text(&r["git_sha"])),
        esc(text(&r["git_branch"])),
        esc(text(&r["duration_humanized"])),
    );
    let _ = write!(
        body,
        "<p>API: <a href=\"{0}\">{0}</a></p>",
        esc(&format!(
            "{}/api/v2/accounts/{}/runs/{}/?include_related=run_steps",
            s.base_url.trim_end_matches('/'),
            r["account_id"],
            r["id"]
        ))
    );
    for step in r["run_steps"].as_array().into_iter().flatten() {
        let _ = write!(
            body,
            "<h2>{}. {} — {}</h2><pre>{}</pre>",
            step["index"],
            esc(text(&step["name"])),
            esc(text(&step["status_humanized"])),
            esc(text(&step["logs"])),
        );
    }
    page(StatusCode::OK, &format!("Run #{}", r["id"]), &body)
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body>{body}</body></html>\n",
        esc(title)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// The `include_related` set for `json::run`.
fn related(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
