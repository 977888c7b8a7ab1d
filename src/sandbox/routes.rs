//! The API's routes and handlers: the dbt Cloud v2 (and the few v3) endpoints a CLI needs,
//! at dbt Cloud's paths, each with and without the trailing slash, plus the `/_sandbox/`
//! admin endpoints tests use to observe a sandbox running in another process.
//!
//! Order of checks, as dbt Cloud: token (401) → account exists (404) → token covers the
//! account (403) → token may do this (403) → object exists in the account (404) → input (400).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde_json::{json, Map, Value};

use super::app_state::{lock, AppState};
use super::artifacts;
use super::envelope::{ok, ok_list, ApiError};
use super::executor::RunStatus;
use super::fixture::TokenFixture;
use super::job_definitions;
use super::json;
use super::query::{OrderBy, Query, TimeRange};
use super::server::observe;
use super::state::{can_retry, Run};
use super::trigger::{self, BodyFormat, TriggerRequest};
use super::worker;

type Shared = State<Arc<AppState>>;
type Params = Path<HashMap<String, String>>;
type ApiResult = Result<Response, ApiError>;

/// Register `path` both with and without its trailing slash.
fn both(
    router: Router<Arc<AppState>>,
    path: &str,
    handler: MethodRouter<Arc<AppState>>,
) -> Router<Arc<AppState>> {
    let bare = path.trim_end_matches('/');
    router
        .route(bare, handler.clone())
        .route(&format!("{bare}/"), handler)
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    const A: &str = "/api/v2/accounts/{account_id}";
    let mut r: Router<Arc<AppState>> = Router::new();
    r = both(r, "/api/v2/whoami", get(whoami));
    r = both(r, "/api/v2/accounts", get(list_accounts));
    r = both(r, "/api/v3/accounts", get(list_accounts));
    r = both(r, A, get(get_account));
    r = both(r, "/api/v3/accounts/{account_id}", get(get_account));
    for v in ["v2", "v3"] {
        let base = format!("/api/{v}/accounts/{{account_id}}/projects");
        r = both(r, &base, get(list_projects));
        r = both(r, &format!("{base}/{{id}}"), get(get_project));
    }
    r = both(r, &format!("{A}/environments"), get(list_environments_v2));
    r = both(
        r,
        &format!("{A}/environments/{{id}}"),
        get(get_environment_v2),
    );
    let v3_env = "/api/v3/accounts/{account_id}/projects/{project_id}/environments";
    r = both(r, v3_env, get(list_environments_v3));
    r = both(r, &format!("{v3_env}/{{id}}"), get(get_environment_v3));
    r = both(r, &format!("{A}/jobs"), get(list_jobs).post(create_job));
    r = both(
        r,
        &format!("{A}/jobs/{{id}}"),
        get(get_job).post(update_job).delete(destroy_job),
    );
    r = both(r, &format!("{A}/jobs/{{id}}/run"), post(trigger_run));
    r = both(r, &format!("{A}/jobs/{{id}}/rerun"), post(rerun_job));
    r = r.route(
        &format!("{A}/jobs/{{id}}/artifacts/{{*path}}"),
        get(job_artifact),
    );
    r = both(r, &format!("{A}/runs"), get(list_runs));
    r = both(r, &format!("{A}/runs/{{id}}"), get(get_run));
    r = both(r, &format!("{A}/runs/{{id}}/cancel"), post(cancel_run));
    r = both(
        r,
        &format!("{A}/runs/{{id}}/retry"),
        get(retry_details).post(retry_run),
    );
    r = both(
        r,
        &format!("{A}/runs/{{id}}/artifacts"),
        get(list_artifacts),
    );
    r = r.route(
        &format!("{A}/runs/{{id}}/artifacts/{{*path}}"),
        get(run_artifact),
    );
    r = both(r, &format!("{A}/steps/{{id}}"), get(get_step));

    // The web app's pages the API links to (see `web`).
    r = r.route("/", get(super::web::index));
    r = both(
        r,
        "/deploy/{account_id}/projects/{project_id}/runs/{id}",
        get(super::web::run_page),
    );

    r = r
        .route("/_sandbox/health", get(admin_health))
        .route("/_sandbox/requests", get(admin_requests))
        .route("/_sandbox/runs", get(admin_runs))
        .route("/_sandbox/reset-log", post(admin_reset_log))
        .route("/_sandbox/reset", post(admin_reset));

    r.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

// ---------------------------------------------------------------- auth and lookups

/// What an endpoint needs the token to allow.
#[derive(Clone, Copy)]
enum Need {
    Read,
    Run,
    WriteJobs,
}

/// The token of `Authorization: Bearer <t>` or `Authorization: Token <t>`.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (matches!(scheme.to_ascii_lowercase().as_str(), "bearer" | "token") && !token.is_empty())
        .then_some(token)
}

fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<TokenFixture, ApiError> {
    presented_token(headers)
        .and_then(|t| state.token(t))
        .ok_or(ApiError::Unauthorized)
}

fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    account_id: i64,
    need: Need,
) -> Result<(), ApiError> {
    let token = authenticate(state, headers)?;
    if state.fixture().account(account_id).is_none() {
        return Err(ApiError::NotFound);
    }
    if !token.covers(account_id) {
        return Err(ApiError::AccountAccessDenied { account_id });
    }
    let allowed = match need {
        Need::Read => token.permissions.can_read(),
        Need::Run => token.permissions.can_run(),
        Need::WriteJobs => token.permissions.can_write_jobs(),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// A numeric path parameter; anything else is a 404, as a non-matching URL would be.
fn id(params: &HashMap<String, String>, key: &str) -> Result<i64, ApiError> {
    params
        .get(key)
        .and_then(|v| v.parse().ok())
        .ok_or(ApiError::NotFound)
}

/// Authorise and return the account id.
fn account(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    need: Need,
) -> Result<i64, ApiError> {
    let account_id = id(params, "account_id")?;
    authorize(state, headers, account_id, need)?;
    Ok(account_id)
}

fn job_in_account(state: &AppState, account_id: i64, job_id: i64) -> Result<(), ApiError> {
    let fx = state.fixture();
    match fx.job(job_id) {
        Some(j) if fx.project_account(j.project_id) == Some(account_id) => Ok(()),
        _ => Err(ApiError::NotFound),
    }
}

fn run_in_account(run: Option<&Run>, account_id: i64) -> Result<&Run, ApiError> {
    run.filter(|r| r.account_id == account_id)
        .ok_or(ApiError::NotFound)
}

fn base_filters(account_id: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("account_id".into(), account_id.into());
    m
}

/// Sort, echo and paginate a list.
fn list_response(
    mut items: Vec<(Value, Value)>,
    q: &Query,
    order: &OrderBy,
    mut filters: Map<String, Value>,
) -> ApiResult {
    let page = q.page()?;
    page.echo(&mut filters);
    items.sort_by(|a, b| cmp_json(&a.0, &b.0));
    if order.descending {
        items.reverse();
    }
    let total = items.len();
    let page_items = page.apply(items.into_iter().map(|(_, v)| v).collect());
    Ok(ok_list(page_items, filters, Some(&order.raw), total))
}

/// Order JSON sort keys: numbers, then strings; `null` sorts last ascending (as Postgres).
fn cmp_json(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Value::Null, Value::Null) => Equal,
        (Value::Null, _) => Greater,
        (_, Value::Null) => Less,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or_default()
            .partial_cmp(&y.as_f64().unwrap_or_default())
            .unwrap_or(Equal),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                match cmp_json(p, q) {
                    Equal => continue,
                    o => return o,
                }
            }
            x.len().cmp(&y.len())
        }
        _ => a.to_string().cmp(&b.to_string()),
    }
}

// ---------------------------------------------------------------- accounts, projects, environments

async fn list_accounts(State(s): Shared, RawQuery(raw): RawQuery, headers: HeaderMap) -> ApiResult {
    let token = authenticate(&s, &headers)?;
    if !token.permissions.can_read() {
        return Err(ApiError::PermissionDenied);
    }
    let q = Query::parse(raw.as_deref());
    let order = OrderBy::parse(&q, &["id", "name"], "id")?;
    let items = s
        .fixture()
        .accounts
        .iter()
        .filter(|a| token.covers(a.id))
        .map(|a| (sort_key(&order.field, a.id, &a.name), json::account(a)))
        .collect();
    list_response(items, &q, &order, Map::new())
}

fn sort_key(field: &str, id: i64, name: &str) -> Value {
    match field {
        "name" => json!([name, id]),
        _ => json!(id),
    }
}

/// Undocumented `GET /api/v2/whoami/`, which some clients (dbt-mcp) call first to learn the
/// token's user and accounts. Any valid token may ask; the user is the token's (one per
/// fixture token, ids from 1 in fixture order).
async fn whoami(State(s): Shared, headers: HeaderMap) -> ApiResult {
    let token = authenticate(&s, &headers)?;
    let fx = s.fixture();
    let user_id = fx
        .tokens
        .iter()
        .position(|t| t.token == token.token)
        .map_or(1, |i| i as i64 + 1);
    let accounts = fx
        .accounts
        .iter()
        .filter(|a| token.covers(a.id))
        .collect::<Vec<_>>();
    Ok(ok(json::whoami(user_id, &accounts)))
}

async fn get_account(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let fx = s.fixture();
    let acc = fx.account(a).ok_or(ApiError::NotFound)?;
    Ok(ok(json::account(acc)))
}

async fn list_projects(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let q = Query::parse(raw.as_deref());
    let order = OrderBy::parse(&q, &["id", "name", "created_at", "updated_at"], "id")?;
    let mut filters = base_filters(a);
    let name = q.get("name__icontains").map(str::to_lowercase);
    if let Some(n) = &name {
        filters.insert("name__icontains".into(), json!(n));
    }
    let pks = q.int_list("pk__in")?;
    let items = s
        .fixture()
        .projects
        .iter()
        .filter(|pr| pr.account_id == a)
        .filter(|pr| {
            name.as_ref()
                .is_none_or(|n| pr.name.to_lowercase().contains(n))
        })
        .filter(|pr| pks.is_empty() || pks.contains(&pr.id))
        .map(|pr| {
            (
                sort_key(&order.field, pr.id, &pr.name),
                json::project(pr, false),
            )
        })
        .collect();
    list_response(items, &q, &order, filters)
}

async fn get_project(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let pid = id(&p, "id")?;
    match s.fixture().project(pid) {
        Some(pr) if pr.account_id == a => Ok(ok(json::project(pr, true))),
        _ => Err(ApiError::NotFound),
    }
}

async fn list_environments_v2(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let q = Query::parse(raw.as_deref());
    environments(&s, a, q.int("project_id")?, &q, json::environment_v2)
}

async fn list_environments_v3(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let project_id = id(&p, "project_id")?;
    match s.fixture().project(project_id) {
        Some(pr) if pr.account_id == a => {}
        _ => return Err(ApiError::NotFound),
    }
    let q = Query::parse(raw.as_deref());
    environments(&s, a, Some(project_id), &q, json::environment_v3)
}

fn environments(
    s: &AppState,
    a: i64,
    project_id: Option<i64>,
    q: &Query,
    shape: fn(&super::fixture::EnvironmentFixture, i64) -> Value,
) -> ApiResult {
    let order = OrderBy::parse(q, &["id", "name", "created_at", "updated_at"], "id")?;
    let mut filters = base_filters(a);
    if let Some(pid) = project_id {
        filters.insert("project_id".into(), pid.into());
    }
    let deployment_type = q.get("deployment_type").map(str::to_string);
    let env_type = q.get("type").map(str::to_string);
    let name = q.get("name").map(str::to_string);
    let name_like = q.get("name__icontains").map(str::to_lowercase);
    for (k, v) in [
        ("deployment_type", &deployment_type),
        ("type", &env_type),
        ("name", &name),
        ("name__icontains", &name_like),
    ] {
        if let Some(v) = v {
            filters.insert(k.into(), json!(v));
        }
    }
    let fx = s.fixture();
    let items = fx
        .environments
        .iter()
        .filter(|e| fx.project_account(e.project_id) == Some(a))
        .filter(|e| project_id.is_none_or(|p| e.project_id == p))
        .filter(|e| name.as_ref().is_none_or(|n| &e.name == n))
        .filter(|e| {
            name_like
                .as_ref()
                .is_none_or(|n| e.name.to_lowercase().contains(n))
        })
        .map(|e| (e, shape(e, a)))
        .filter(|(_, v)| {
            deployment_type
                .as_ref()
                .is_none_or(|d| v["deployment_type"] == json!(d))
        })
        .filter(|(_, v)| env_type.as_ref().is_none_or(|t| v["type"] == json!(t)))
        .map(|(e, v)| (sort_key(&order.field, e.id, &e.name), v))
        .collect();
    list_response(items, q, &order, filters)
}

async fn get_environment_v2(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let eid = id(&p, "id")?;
    let fx = s.fixture();
    match fx.environment(eid) {
        Some(e) if fx.project_account(e.project_id) == Some(a) => {
            Ok(ok(json::environment_v2(e, a)))
        }
        _ => Err(ApiError::NotFound),
    }
}

async fn get_environment_v3(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let (pid, eid) = (id(&p, "project_id")?, id(&p, "id")?);
    let fx = s.fixture();
    match fx.environment(eid) {
        Some(e) if e.project_id == pid && fx.project_account(pid) == Some(a) => {
            Ok(ok(json::environment_v3(e, a)))
        }
        _ => Err(ApiError::NotFound),
    }
}

// ---------------------------------------------------------------- jobs

async fn list_jobs(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let q = Query::parse(raw.as_deref());
    let order = OrderBy::parse(
        &q,
        &[
            "id",
            "name",
            "created_at",
            "updated_at",
            "project_id",
            "environment_id",
        ],
        "id",
    )?;
    let mut filters = base_filters(a);
    let project_id = q.int("project_id")?;
    let project_in = q.int_list("project_id__in")?;
    let environment_id = q.int("environment_id")?;
    let pk = q.int("pk")?;
    let name = q.get("name__icontains").map(str::to_lowercase);
    for (k, v) in [
        ("project_id", project_id),
        ("environment_id", environment_id),
        ("pk", pk),
    ] {
        if let Some(v) = v {
            filters.insert(k.into(), v.into());
        }
    }
    if !project_in.is_empty() {
        filters.insert("project_id__in".into(), json!(project_in));
    }
    if let Some(n) = &name {
        filters.insert("name__icontains".into(), json!(n));
    }
    let include = q.include_related();
    let now = Instant::now();
    let runs = lock(&s.runs);
    let fx = s.fixture();
    let items = fx
        .jobs
        .iter()
        .filter(|j| fx.project_account(j.project_id) == Some(a))
        .filter(|j| project_id.is_none_or(|p| j.project_id == p))
        .filter(|j| project_in.is_empty() || project_in.contains(&j.project_id))
        .filter(|j| environment_id.is_none_or(|e| j.environment_id == e))
        .filter(|j| pk.is_none_or(|k| j.id == k))
        .filter(|j| {
            name.as_ref()
                .is_none_or(|n| j.name.to_lowercase().contains(n))
        })
        .map(|j| {
            let key = match order.field.as_str() {
                "project_id" => json!([j.project_id, j.id]),
                "environment_id" => json!([j.environment_id, j.id]),
                f => sort_key(f, j.id, &j.name),
            };
            (key, job_with_related(&s, &fx, j, &include, &runs, now))
        })
        .collect();
    list_response(items, &q, &order, filters)
}

async fn get_job(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let jid = id(&p, "id")?;
    job_in_account(&s, a, jid)?;
    let fx = s.fixture();
    let job = fx.job(jid).ok_or(ApiError::NotFound)?;
    let include = Query::parse(raw.as_deref()).include_related();
    let runs = lock(&s.runs);
    Ok(ok(job_with_related(
        &s,
        &fx,
        job,
        &include,
        &runs,
        Instant::now(),
    )))
}

/// `POST /jobs/` (Create Job): see [`job_definitions`].
async fn create_job(
    State(s): Shared,
    Path(p): Params,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::WriteJobs)?;
    let body = job_definitions::parse_body(&body).map_err(ApiError::BadRequest)?;
    let job = s.change_fixture(|f| {
        let job = job_definitions::create(f, a, &body)?;
        f.jobs.push(job.clone());
        Ok(job)
    });
    let job = job.map_err(ApiError::BadRequest)?;
    Ok(ok(json::job(&job, &s.fixture())))
}

/// `POST /jobs/{id}/` (Update Job): the keys the body carries replace the job's.
async fn update_job(
    State(s): Shared,
    Path(p): Params,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::WriteJobs)?;
    let jid = id(&p, "id")?;
    job_in_account(&s, a, jid)?;
    let body = job_definitions::parse_body(&body).map_err(ApiError::BadRequest)?;
    let job = s.change_fixture(|f| {
        let Some(mut job) = f.job(jid).cloned() else {
            return Err(ApiError::NotFound);
        };
        job_definitions::apply(f, a, &mut job, &body).map_err(ApiError::BadRequest)?;
        if let Some(slot) = f.job_mut(jid) {
            *slot = job.clone();
        }
        Ok(job)
    })?;
    Ok(ok(json::job(&job, &s.fixture())))
}

/// `DELETE /jobs/{id}/` (Destroy Job): the job is gone from reads and lists (its runs stay).
/// The spec documents `204` with no body; clients (dagster-dbt's `destroy_job`,
/// dbt-cloud-cli's `job delete`) read the deleted job from the envelope, as dbt Cloud sends
/// it: `200` with the job, `state: 2` (README "Known client pitfalls").
async fn destroy_job(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::WriteJobs)?;
    let jid = id(&p, "id")?;
    job_in_account(&s, a, jid)?;
    let before = s.fixture();
    let job = s
        .change_fixture(|f| {
            let at = f.jobs.iter().position(|j| j.id == jid)?;
            Some(f.jobs.remove(at))
        })
        .ok_or(ApiError::NotFound)?;
    let mut v = json::job(&job, &before);
    v["state"] = json!(2);
    Ok(ok(v))
}

/// A job with the related objects asked for: `environment`, `most_recent_run`,
/// `most_recent_completed_run` (dbt-mcp reads the last two).
fn job_with_related(
    s: &AppState,
    fx: &super::fixture::Fixture,
    job: &super::fixture::JobFixture,
    include: &BTreeSet<String>,
    runs: &super::state::RunStore,
    now: Instant,
) -> Value {
    let mut v = json::job(job, fx);
    let account_id = fx.project_account(job.project_id).unwrap_or_default();
    if include.contains("environment") {
        if let Some(e) = fx.environment(job.environment_id) {
            v["environment"] = json::environment_embedded(e, account_id);
        }
    }
    let none = BTreeSet::new();
    let latest = |completed: bool| {
        runs.runs
            .values()
            .rev()
            .filter(|r| r.job_id == job.id)
            .find(|r| !completed || r.snapshot(now).status.is_terminal())
            .map_or(Value::Null, |r| json::run(r, fx, &none, &s.links_url, now))
    };
    if include.contains("most_recent_run") {
        v["most_recent_run"] = latest(false);
    }
    if include.contains("most_recent_completed_run") {
        v["most_recent_completed_run"] = latest(true);
    }
    v
}

fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        Ok(BodyFormat::Form)
    } else if ct.starts_with("multipart/") {
        Err(ApiError::UnsupportedMediaType(ct))
    } else {
        Ok(BodyFormat::Json)
    }
}

/// The response to a trigger embeds `trigger` and `job`, as dbt Cloud's does.
fn created_run_response(s: &AppState, run: &Run, now: Instant) -> Response {
    let include: BTreeSet<String> = ["trigger", "job"].iter().map(|x| x.to_string()).collect();
    ok(json::run(run, &s.fixture(), &include, &s.links_url, now))
}

/// Start a live run's worker (after the store's lock is released), then answer.
fn created_and_launched(s: &Arc<AppState>, id: i64, now: Instant) -> ApiResult {
    worker::launch(s, id);
    let runs = lock(&s.runs);
    let run = runs.get(id).ok_or(ApiError::NotFound)?;
    Ok(created_run_response(s, run, now))
}

async fn trigger_run(
    State(s): Shared,
    Path(p): Params,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Run)?;
    let jid = id(&p, "id")?;
    job_in_account(&s, a, jid)?;
    let request = trigger::parse(&body, body_format(&headers)?).map_err(ApiError::BadRequest)?;
    let mut runs = lock(&s.runs);
    let id = runs
        .create(&s.fixture(), &s.executor, jid, request, None)
        .map_err(|_| ApiError::NotFound)?
        .id;
    drop(runs);
    created_and_launched(&s, id, Instant::now())
}

/// Retry the job's latest run if it failed, otherwise trigger a new run.
async fn rerun_job(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Run)?;
    let jid = id(&p, "id")?;
    job_in_account(&s, a, jid)?;
    let now = Instant::now();
    let mut runs = lock(&s.runs);
    let latest = runs.runs.values().rev().find(|r| r.job_id == jid);
    let id = match latest {
        Some(old) if can_retry(old, &old.snapshot(now)) => {
            let (old_id, trigger) = (old.id, old.trigger.clone());
            runs.create(&s.fixture(), &s.executor, jid, trigger, Some(old_id))
        }
        _ => runs.create(
            &s.fixture(),
            &s.executor,
            jid,
            TriggerRequest::with_cause("Rerun via API"),
            None,
        ),
    }
    .map_err(|_| ApiError::NotFound)?
    .id;
    drop(runs);
    created_and_launched(&s, id, now)
}

// ---------------------------------------------------------------- runs

async fn list_runs(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let q = Query::parse(raw.as_deref());
    let order = OrderBy::parse(&q, &["id", "created_at", "finished_at"], "id")?;
    let mut filters = base_filters(a);
    let job = q.int("job_definition_id")?;
    let environment_id = q.int("environment_id")?;
    let project_id = q.int("project_id")?;
    let pk = q.int("pk")?;
    let id_gt = q.int("id__gt")?;
    let status = q.int("status")?;
    let status_in = q.int_list("status__in")?;
    let project_in = q.int_list("project_id__in")?;
    let pk_in = q.int_list("pk__in")?;
    let created_range = q.datetime_range("created_at__range")?;
    let finished_range = q.datetime_range("finished_at__range")?;
    for (k, range) in [
        ("created_at__range", created_range),
        ("finished_at__range", finished_range),
    ] {
        if let Some((from, to)) = range {
            filters.insert(k.into(), json!([from.to_rfc3339(), to.to_rfc3339()]));
        }
    }
    let within = |range: Option<TimeRange>, t: Option<chrono::DateTime<chrono::Utc>>| {
        range.is_none_or(|(from, to)| t.is_some_and(|t| from <= t && t <= to))
    };
    for (k, v) in [
        ("job_definition_id", job),
        ("environment_id", environment_id),
        ("project_id", project_id),
        ("pk", pk),
        ("id__gt", id_gt),
        ("status", status),
    ] {
        if let Some(v) = v {
            filters.insert(k.into(), v.into());
        }
    }
    for (k, v) in [
        ("status__in", &status_in),
        ("project_id__in", &project_in),
        ("pk__in", &pk_in),
    ] {
        if !v.is_empty() {
            filters.insert(k.into(), json!(v));
        }
    }
    let include = q.include_related();
    let now = Instant::now();
    let runs = lock(&s.runs);
    let items = runs
        .runs
        .values()
        .filter(|r| r.account_id == a)
        .filter(|r| job.is_none_or(|j| r.job_id == j))
        .filter(|r| environment_id.is_none_or(|e| r.environment_id == e))
        .filter(|r| project_id.is_none_or(|pid| r.project_id == pid))
        .filter(|r| project_in.is_empty() || project_in.contains(&r.project_id))
        .filter(|r| pk.is_none_or(|k| r.id == k))
        .filter(|r| pk_in.is_empty() || pk_in.contains(&r.id))
        .filter(|r| id_gt.is_none_or(|g| r.id > g))
        .filter_map(|r| {
            let snap = r.snapshot(now);
            let code = snap.status.code();
            if !within(created_range, Some(r.created_at))
                || !within(finished_range, snap.finished.map(|f| r.at(f)))
            {
                return None;
            }
            if status.is_some_and(|st| st != code)
                || (!status_in.is_empty() && !status_in.contains(&code))
            {
                return None;
            }
            let key = match order.field.as_str() {
                "created_at" => json!([ts_key(r.created_at), r.id]),
                "finished_at" => match snap.finished {
                    Some(f) => json!([ts_key(r.at(f)), r.id]),
                    None => Value::Null,
                },
                _ => json!(r.id),
            };
            Some((key, json::run(r, &s.fixture(), &include, &s.links_url, now)))
        })
        .collect();
    list_response(items, &q, &order, filters)
}

fn ts_key(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

async fn get_run(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let rid = id(&p, "id")?;
    let include = Query::parse(raw.as_deref()).include_related();
    let runs = lock(&s.runs);
    let run = run_in_account(runs.get(rid), a)?;
    Ok(ok(json::run(
        run,
        &s.fixture(),
        &include,
        &s.links_url,
        Instant::now(),
    )))
}

async fn cancel_run(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Run)?;
    let rid = id(&p, "id")?;
    let now = Instant::now();
    let mut runs = lock(&s.runs);
    run_in_account(runs.get(rid), a)?;
    let run = runs.cancel(rid, now).ok_or(ApiError::NotFound)?;
    Ok(ok(json::run(
        run,
        &s.fixture(),
        &BTreeSet::new(),
        &s.links_url,
        now,
    )))
}

fn not_retryable(run: &Run, status: RunStatus) -> ApiError {
    let message = match run.retrying_run_id {
        Some(by) => format!("Run {} was already retried by run {by}.", run.id),
        None if status == RunStatus::Error && run.superseded => format!(
            "Run {} cannot be retried: it is not the latest run of job {}.",
            run.id, run.job_id
        ),
        None if status == RunStatus::Error => format!(
            "Run {} cannot be retried: dbt {} has no `dbt retry` (it needs dbt 1.6 or later).",
            run.id, run.plan.dbt_version
        ),
        None => format!(
            "Run {} cannot be retried: only failed runs can be retried (status is {}).",
            run.id,
            status.humanized()
        ),
    };
    ApiError::bad_request("run_id", message)
}

async fn retry_details(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let rid = id(&p, "id")?;
    let runs = lock(&s.runs);
    let run = run_in_account(runs.get(rid), a)?;
    let snap = run.snapshot(Instant::now());
    if snap.status != RunStatus::Error {
        return Err(not_retryable(run, snap.status));
    }
    Ok(ok(json::failure_details(run)))
}

async fn retry_run(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Run)?;
    let rid = id(&p, "id")?;
    let now = Instant::now();
    let mut runs = lock(&s.runs);
    let old = run_in_account(runs.get(rid), a)?;
    let snap = old.snapshot(now);
    if !can_retry(old, &snap) {
        return Err(not_retryable(old, snap.status));
    }
    let (job_id, trigger) = (old.job_id, old.trigger.clone());
    let id = runs
        .create(&s.fixture(), &s.executor, job_id, trigger, Some(rid))
        .map_err(|_| ApiError::NotFound)?
        .id;
    drop(runs);
    created_and_launched(&s, id, now)
}

async fn get_step(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let sid = id(&p, "id")?;
    let include = Query::parse(raw.as_deref()).include_related();
    let now = Instant::now();
    let runs = lock(&s.runs);
    let (run, position) = runs.find_step(sid, now).ok_or(ApiError::NotFound)?;
    run_in_account(Some(run), a)?;
    let snap = run.snapshot(now);
    Ok(ok(json::step(
        run,
        &snap,
        position,
        now,
        include.contains("debug_logs"),
    )))
}

// ---------------------------------------------------------------- artifacts

/// `step` query parameter (1-based).
fn step_param(q: &Query) -> Result<Option<usize>, ApiError> {
    match q.int("step")? {
        None => Ok(None),
        Some(n) if n >= 1 => Ok(usize::try_from(n).ok()),
        Some(_) => Err(ApiError::bad_request(
            "step",
            "Ensure this value is greater than or equal to 1.",
        )),
    }
}

async fn list_artifacts(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let rid = id(&p, "id")?;
    let q = Query::parse(raw.as_deref());
    let step = step_param(&q)?;
    let runs = lock(&s.runs);
    let run = run_in_account(runs.get(rid), a)?;
    let snap = run.snapshot(Instant::now());
    let mut paths = BTreeSet::new();
    for st in &snap.steps {
        let index = st.position + 1;
        if step.is_some_and(|want| want != index) || !snap.step_wrote_artifacts(&run.plan, index) {
            continue;
        }
        paths.extend(run.plan.steps[st.position].artifacts.iter().cloned());
    }
    Ok(ok(json!(paths.into_iter().collect::<Vec<_>>())))
}

fn artifact_response(a: artifacts::Artifact) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, a.content_type)],
        a.body,
    )
        .into_response()
}

async fn run_artifact(
    State(s): Shared,
    Path(p): Params,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let rid = id(&p, "id")?;
    let path = p.get("path").cloned().unwrap_or_default();
    let step = step_param(&Query::parse(raw.as_deref()))?;
    let runs = lock(&s.runs);
    let run = run_in_account(runs.get(rid), a)?;
    artifacts::at_step(run, step, &path, Instant::now())
        .map(artifact_response)
        .ok_or(ApiError::NotFound)
}

/// The artifact of the job's latest successful run (searching its steps from the last).
async fn job_artifact(State(s): Shared, Path(p): Params, headers: HeaderMap) -> ApiResult {
    let a = account(&s, &headers, &p, Need::Read)?;
    let jid = id(&p, "id")?;
    job_in_account(&s, a, jid)?;
    let path = p.get("path").cloned().unwrap_or_default();
    let now = Instant::now();
    let runs = lock(&s.runs);
    let latest = runs
        .runs
        .values()
        .rev()
        .find(|r| r.job_id == jid && r.snapshot(now).status == RunStatus::Success)
        .ok_or(ApiError::NotFound)?;
    artifacts::latest(latest, &path, now)
        .map(artifact_response)
        .ok_or(ApiError::NotFound)
}

// ---------------------------------------------------------------- admin

async fn admin_health(State(s): Shared) -> Response {
    axum::Json(json!({"status": "ok", "base_url": s.base_url})).into_response()
}

async fn admin_requests(State(s): Shared) -> Response {
    let log = lock(&s.log);
    (
        [("x-sandbox-requests-dropped", log.dropped().to_string())],
        axum::Json(log.records()),
    )
        .into_response()
}

async fn admin_runs(State(s): Shared) -> Response {
    let now = Instant::now();
    let runs: Vec<_> = lock(&s.runs)
        .runs
        .values()
        .map(|r| r.summary(now))
        .collect();
    axum::Json(runs).into_response()
}

async fn admin_reset_log(State(s): Shared) -> Response {
    let cleared = lock(&s.log).clear();
    axum::Json(json!({"cleared": cleared})).into_response()
}

async fn admin_reset(State(s): Shared) -> Response {
    let cleared = lock(&s.log).clear();
    lock(&s.runs).clear();
    s.restore_fixture();
    axum::Json(json!({"cleared": cleared})).into_response()
}
