//! The integration API's handlers: `/api/dbt-cloud/{connect,status,projects/:id/jobs,
//! trigger-run,runs/:id,runs/:id/events}`. Each composes the CLI's own pieces (the client,
//! configuration, at-most-once trigger, waiting and verdicts); nothing here talks HTTP to dbt
//! Cloud by itself.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::cloud::insight::ArtifactStore;
use crate::cloud::types::Account;
use crate::cloud::verdict::finish;
use crate::cloud::{
    request, retries, trigger_run, Client, ClientOptions, RunQuery, RunStatus, TriggerRequest,
};
use crate::config::{self, DbtCloudConfig, Source, Sourced};

use super::commit;
use super::errors::ServeError;
use super::hub::{Hub, RunState};
use super::retry_slots::{RetrySlot, RetrySlots};
use super::views::{JobView, RunView, StepView};

/// A configured target, as the page lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetInfo {
    pub name: String,
    pub job_id: i64,
    pub confirm: bool,
    pub default: bool,
}

/// The effective `deploy.dbt_cloud` block for a target (`None`: the default one).
pub type ResolveTarget = Arc<dyn Fn(Option<&str>) -> Result<DbtCloudConfig, String> + Send + Sync>;

/// What the configuration says, read once at start.
pub struct Settings {
    /// Where `connect` goes when the request names no access URL.
    pub access_url: String,
    pub project_id: Option<i64>,
    /// The configured account: the connect form starts with it.
    pub account_id: Option<i64>,
    /// Where the local repository is looked for (the branch and pushed head the page offers).
    pub repo_dir: Option<PathBuf>,
    pub targets: Vec<TargetInfo>,
    pub resolve: ResolveTarget,
}

/// A live connection to one account.
struct Connection {
    hub: Arc<Hub>,
    account: Account,
    access_url: String,
    /// Failed runs whose retry this serve started (or is starting): one retry each.
    retries: Arc<RetrySlots>,
}

pub struct App {
    settings: Settings,
    connection: RwLock<Option<Arc<Connection>>>,
    connect_attempts: Mutex<VecDeque<Instant>>,
    client_options: ClientOptions,
    store: ArtifactStore,
}

/// `connect` attempts allowed per [`CONNECT_WINDOW`]: enough for typos, too few to try
/// stolen tokens quickly.
const CONNECT_LIMIT: usize = 5;
const CONNECT_WINDOW: Duration = Duration::from_secs(60);

impl App {
    pub fn new(settings: Settings, client_options: ClientOptions, store: ArtifactStore) -> Self {
        App {
            settings,
            connection: RwLock::new(None),
            connect_attempts: Mutex::new(VecDeque::new()),
            client_options,
            store,
        }
    }

    /// Check `client` against dbt Cloud and, if it is accepted, make it the connection.
    pub async fn connect_client(&self, client: Client) -> Result<(), ServeError> {
        let account = client.get_account().await?;
        let access_url = client.base_url().to_string();
        let hub = Hub::new(Arc::new(client), self.store.clone());
        *self.connection.write().expect("connection lock") = Some(Arc::new(Connection {
            hub,
            account,
            access_url,
            retries: Arc::default(),
        }));
        Ok(())
    }

    fn connection(&self) -> Result<Arc<Connection>, ServeError> {
        self.connection
            .read()
            .expect("connection lock")
            .clone()
            .ok_or_else(ServeError::not_connected)
    }

    fn count_connect_attempt(&self) -> Result<(), ServeError> {
        let mut attempts = self.connect_attempts.lock().expect("limiter lock");
        let now = Instant::now();
        while attempts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= CONNECT_WINDOW)
        {
            attempts.pop_front();
        }
        if attempts.len() >= CONNECT_LIMIT {
            let wait = CONNECT_WINDOW - now.duration_since(attempts[0]);
            let mut err = ServeError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("at most {CONNECT_LIMIT} connect attempts a minute"),
            )
            .hint(format!("try again in {}s", wait.as_secs() + 1));
            err.retry_after = Some(wait.as_secs() + 1);
            return Err(err);
        }
        attempts.push_back(now);
        Ok(())
    }

    async fn status_json(&self) -> Result<Value, ServeError> {
        let conn = self.connection.read().expect("connection lock").clone();
        let (access_url, account, projects) = match &conn {
            Some(c) => {
                let projects = c.hub.client().list_projects().await?;
                let projects: Vec<Value> = projects
                    .iter()
                    .filter_map(|p| Some(json!({ "id": p.id?, "name": p.name })))
                    .collect();
                (
                    c.access_url.clone(),
                    json!({ "id": c.account.id, "name": c.account.name }),
                    projects,
                )
            }
            None => (self.settings.access_url.clone(), Value::Null, Vec::new()),
        };
        let local_commit = match self.settings.repo_dir.clone() {
            Some(dir) => tokio::task::spawn_blocking(move || commit::local(&dir))
                .await
                .ok()
                .flatten(),
            None => None,
        };
        Ok(json!({
            "connected": conn.is_some(),
            "access_url": access_url,
            "account": account,
            "projects": projects,
            "targets": self.settings.targets,
            "project_id": self.settings.project_id,
            "account_id": self.settings.account_id,
            "local_commit": local_commit,
        }))
    }
}

type Shared = State<Arc<App>>;

/// A JSON body, or a 400 that says where it went wrong (never echoing values: a token could
/// be one of them).
fn parse<T: DeserializeOwned>(body: &Bytes, expected: &str) -> Result<T, ServeError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let what = if e.inner().is_syntax() || e.inner().is_eof() {
            "the body is not valid JSON".to_string()
        } else if path == "." {
            "the body does not have the expected fields".to_string()
        } else {
            format!("`{path}` is missing, unknown or of the wrong type")
        };
        ServeError::bad_request(what).hint(format!("expected {expected}"))
    })
}

fn id_param(raw: &str, what: &str) -> Result<i64, ServeError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ServeError::bad_request(format!("{what} must be a positive integer")))
}

pub async fn status(State(app): Shared) -> Result<Json<Value>, ServeError> {
    Ok(Json(app.status_json().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectBody {
    token: String,
    account_id: i64,
    access_url: Option<String>,
}

pub async fn connect(State(app): Shared, body: Bytes) -> Result<Json<Value>, ServeError> {
    app.count_connect_attempt()?;
    let body: ConnectBody = parse(
        &body,
        r#"{"token": string, "account_id": integer, "access_url"?: string}"#,
    )?;
    if body.account_id < 1 {
        return Err(ServeError::bad_request(
            "account_id must be a positive integer",
        ));
    }
    let token = body.token.trim();
    if token.is_empty() || token.chars().any(char::is_control) {
        return Err(ServeError::bad_request(
            "the token is empty or contains a line break or another control character",
        ));
    }
    let access_url = match body.access_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => access_url(u)?,
        _ => app.settings.access_url.clone(),
    };
    let client = Client::new(
        &access_url,
        body.account_id,
        &SecretString::from(token.to_string()),
        "the connect request",
        app.client_options.clone(),
    )?;
    app.connect_client(client).await?;
    Ok(Json(app.status_json().await?))
}

/// An access URL: `http(s)://host[:port]`, no credentials, no path beyond `/`.
fn access_url(raw: &str) -> Result<String, ServeError> {
    let bad = || {
        ServeError::bad_request(format!(
            "access_url {:?} is not an address like https://ACCOUNT_PREFIX.us1.dbt.com",
            crate::redact::url(raw)
        ))
    };
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && matches!(url.path(), "" | "/");
    if !plain {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

pub async fn jobs(
    State(app): Shared,
    Path(project): Path<String>,
) -> Result<Json<Value>, ServeError> {
    let project = id_param(&project, "the project id")?;
    let conn = app.connection()?;
    let client = conn.hub.client();
    let recent = RunQuery {
        order_by: Some("-id".into()),
        limit: 100,
        include_related: vec!["trigger".into()],
        ..RunQuery::default()
    };
    let (projects, jobs, environments, runs) = tokio::join!(
        client.list_projects(),
        client.list_jobs(Some(project), None),
        client.list_environments(Some(project)),
        client.list_runs(&recent),
    );
    if !projects?.iter().any(|p| p.id == Some(project)) {
        return Err(ServeError::not_found(format!(
            "project {project} is not in account {}",
            client.account_id()
        ))
        .hint("GET /api/dbt-cloud/status lists the account's projects"));
    }
    let (environments, runs) = (environments?, runs?);
    let jobs: Vec<JobView> = jobs?
        .iter()
        .filter(|j| j.project_id.is_none_or(|p| p == project))
        .filter_map(|j| JobView::of(j, &environments, &runs))
        .collect();
    Ok(Json(json!({ "project_id": project, "jobs": jobs })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    job_id: Option<i64>,
    target: Option<String>,
    cause: Option<String>,
    git_sha: Option<String>,
    git_branch: Option<String>,
    steps_override: Option<Vec<String>>,
    schema_override: Option<String>,
    #[serde(default)]
    confirmed: bool,
}

pub async fn trigger(State(app): Shared, body: Bytes) -> Result<impl IntoResponse, ServeError> {
    let body: TriggerBody = parse(
        &body,
        r#"{"job_id": integer | "target": string, "cause"?, "git_sha"?, "git_branch"?, "steps_override"?: [string], "schema_override"?, "confirmed"?: boolean}"#,
    )?;
    let conn = app.connection()?;
    let (job_id, base) = app.choose_job(&body)?;
    app.check_confirmed(job_id, body.confirmed)?;
    let request = trigger_request(base.as_ref(), &body)?;
    let triggered = trigger_run(conn.hub.client(), job_id, &request).await?;
    conn.hub.follow(triggered.run.id, Some(&triggered.run));
    Ok(Json(json!({
        "run": RunView::of(&triggered.run),
        "adopted": triggered.adopted,
    })))
}

impl App {
    /// A job that is a `confirm: true` target runs only when the request says a person
    /// confirmed it.
    fn check_confirmed(&self, job_id: i64, confirmed: bool) -> Result<(), ServeError> {
        let needs = self
            .settings
            .targets
            .iter()
            .find(|t| t.confirm && t.job_id == job_id);
        match (needs, confirmed) {
            (Some(t), false) => Err(ServeError::new(
                StatusCode::CONFLICT,
                "confirmation_required",
                format!(
                    "job {job_id} is target `{}`, marked `confirm: true` (it changes production)",
                    t.name
                ),
            )
            .hint("send the request again with \"confirmed\": true once a person has decided to")),
            _ => Ok(()),
        }
    }

    /// The job to trigger and the configuration block it comes with (a target, or the
    /// configured job), if any.
    fn choose_job(&self, body: &TriggerBody) -> Result<(i64, Option<DbtCloudConfig>), ServeError> {
        match (body.job_id, &body.target) {
            (Some(_), Some(_)) => Err(ServeError::bad_request(
                "give either job_id or target, not both",
            )),
            (Some(id), None) if id < 1 => {
                Err(ServeError::bad_request("job_id must be a positive integer"))
            }
            (Some(id), None) => {
                // The configured job keeps its configured overrides.
                let base = (self.settings.resolve)(None)
                    .ok()
                    .filter(|d| d.job_id.as_ref().is_some_and(|j| j.value == id));
                Ok((id, base))
            }
            (None, target) => {
                if let Some(name) = target {
                    if !self.settings.targets.iter().any(|t| &t.name == name) {
                        let known: Vec<&str> = self
                            .settings
                            .targets
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect();
                        return Err(ServeError::not_found(format!("no target named {name:?}"))
                            .hint(if known.is_empty() {
                                "datachonk.yaml defines no targets (deploy.dbt_cloud.targets)"
                                    .to_string()
                            } else {
                                format!("targets: {}", known.join(", "))
                            }));
                    }
                }
                let d =
                    (self.settings.resolve)(target.as_deref()).map_err(ServeError::bad_request)?;
                let id =
                    d.job_id.as_ref().map(|j| j.value).ok_or_else(|| {
                        ServeError::bad_request("give job_id (no job is configured)")
                    })?;
                Ok((id, Some(d)))
            }
        }
    }
}

/// The trigger body: the configuration's (cause, overrides) when there is one, then the
/// request's own fields over it.
fn trigger_request(
    base: Option<&DbtCloudConfig>,
    body: &TriggerBody,
) -> Result<TriggerRequest, ServeError> {
    if let Some(c) = &body.cause {
        config::validate_cause(c).map_err(|m| ServeError::bad_request(format!("cause: {m}")))?;
    }
    let sha = body
        .git_sha
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let branch = body
        .git_branch
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(sha) = sha {
        commit::check_sha(sha)?;
    }
    if let Some(branch) = branch {
        commit::check_branch(branch)?;
    }
    let mut req = match base {
        Some(d) => {
            let mut d = d.clone();
            if let Some(c) = &body.cause {
                d.cause = Some(Sourced::new(c.clone(), Source::Flag("cause".into())));
            }
            request::from_config(&d, sha, branch).map_err(ServeError::bad_request)?
        }
        None => TriggerRequest {
            cause: body
                .cause
                .clone()
                .unwrap_or_else(|| request::default_cause(branch, sha)),
            git_sha: sha.map(str::to_string),
            git_branch: if sha.is_some() {
                None
            } else {
                branch.map(str::to_string)
            },
            ..TriggerRequest::default()
        },
    };
    if let Some(steps) = &body.steps_override {
        if steps.is_empty() || steps.iter().any(|s| s.trim().is_empty()) {
            return Err(ServeError::bad_request(
                "steps_override must list at least one non-empty command",
            ));
        }
        req.steps_override = Some(steps.clone());
    }
    if let Some(schema) = &body.schema_override {
        req.schema_override = Some(schema.clone());
    }
    Ok(req)
}

pub async fn run(State(app): Shared, Path(id): Path<String>) -> Result<Json<RunView>, ServeError> {
    let id = id_param(&id, "the run id")?;
    let conn = app.connection()?;
    Ok(Json(conn.hub.current(id).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetryBody {
    #[serde(default)]
    confirmed: bool,
}

/// The related objects a retry reads with the failed run: its steps (the failing one, the
/// results) and its trigger (the cause and commit a selected retry sends again).
const RETRY_RELATED: &[&str] = &["run_steps", "job", "trigger"];

/// Start a failed run again from its point of failure, as `--retries` does: dbt Cloud's retry
/// when the run allows it, else a new run of the failed nodes and their children, for the
/// same commit. One retry per failed run: asking again answers with the same retry.
pub async fn retry(
    State(app): Shared,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ServeError> {
    let id = id_param(&id, "the run id")?;
    let body: RetryBody = if body.iter().all(u8::is_ascii_whitespace) {
        RetryBody::default()
    } else {
        parse(&body, r#"{"confirmed"?: boolean}"#)?
    };
    let conn = app.connection()?;
    let client = conn.hub.client();
    let failed = client.get_run(id, RETRY_RELATED).await?;
    if failed.run_status() != RunStatus::Error {
        return Err(ServeError::new(
            StatusCode::CONFLICT,
            "not_failed",
            format!(
                "run {id} is {}: only a run that ended in Error is retried",
                failed.run_status().label()
            ),
        ));
    }
    let job_id = failed
        .job()
        .ok_or_else(|| ServeError::bad_request(format!("run {id} names no job")))?;
    app.check_confirmed(job_id, body.confirmed)?;
    let claim = match conn.retries.take(id) {
        Ok(claim) => claim,
        Err(RetrySlot::Started(new_id)) => {
            let view = conn.hub.current(new_id).await?;
            return Ok(Json(
                json!({ "run": view, "adopted": true, "retry_of": id, "plan": null }),
            ));
        }
        Err(RetrySlot::Starting) => {
            return Err(ServeError::new(
                StatusCode::CONFLICT,
                "retry_in_progress",
                format!("the retry of run {id} is being started"),
            )
            .hint("ask again in a moment: the answer is then that retry"))
        }
    };
    // On a task of its own: a page closed mid-way must not leave a retry half-started and
    // free to be started twice.
    let work = tokio::spawn(async move {
        let client = conn.hub.client();
        let finished = finish(client, &app.store, &failed).await;
        let plan = retries::plan(&failed, finished.insight.as_ref()).map_err(|why| {
            ServeError::new(
                StatusCode::CONFLICT,
                "not_retryable",
                format!("cannot retry run {id}: {why}"),
            )
            .hint("trigger the job again instead")
        })?;
        let request = retries::request_of(&failed);
        let started = retries::start(client, job_id, &failed, &plan, &request).await?;
        claim.started(started.run.id);
        conn.hub.follow(started.run.id, Some(&started.run));
        Ok::<_, ServeError>((started, plan))
    });
    let (started, plan) = work.await.map_err(|_| {
        ServeError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("starting the retry of run {id} stopped unexpectedly"),
        )
    })??;
    Ok(Json(json!({
        "run": RunView::of(&started.run),
        "adopted": started.adopted,
        "retry_of": id,
        "plan": { "description": plan.describe(), "detail": plan },
    })))
}

/// Server-Sent Events: `status` (the current state first, then each change), `step` (each
/// step that starts or changes), `verdict` (the finished run with its nodes), then the end.
pub async fn events(
    State(app): Shared,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ServeError> {
    let id = id_param(&id, "the run id")?;
    let conn = app.connection()?;
    // Fail before the stream starts (a 404 is an HTTP status, not an event).
    conn.hub.current(id).await?;
    let stream = futures_util::stream::unfold(
        EventFeed {
            rx: conn.hub.follow(id, None),
            last: None,
            queue: VecDeque::new(),
            done: false,
        },
        EventFeed::next,
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

struct EventFeed {
    rx: watch::Receiver<RunState>,
    last: Option<RunView>,
    queue: VecDeque<Event>,
    done: bool,
}

impl EventFeed {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            let state = self.rx.borrow_and_update().clone();
            match state {
                RunState::Pending => {}
                RunState::Failed(e) => {
                    self.queue.push_back(event("error", &e.json()));
                    self.done = true;
                    continue;
                }
                RunState::Known(view) => {
                    self.queue.extend(changes(self.last.as_ref(), &view));
                    self.done = view.finished;
                    self.last = Some(*view);
                    if !self.queue.is_empty() {
                        continue;
                    }
                }
            }
            if self.rx.changed().await.is_err() {
                self.done = true;
            }
        }
    }
}

/// The events between two states of a run, in the order `--wait` prints them.
fn changes(before: Option<&RunView>, now: &RunView) -> Vec<Event> {
    let mut out = Vec::new();
    match before {
        None => out.push(event("status", now)),
        Some(b) => {
            if b.status != now.status && !now.finished {
                out.push(event("status", now));
            }
            for step in &now.steps {
                if !b.steps.contains(step) {
                    out.push(event::<StepView>("step", step));
                }
            }
        }
    }
    if now.finished {
        out.push(event("verdict", now));
    }
    out
}

fn event<T: serde::Serialize>(name: &str, data: &T) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name))
}

/// The request bodies serve parses, for the fuzz targets (`fuzz_targets::serve_body`).
#[doc(hidden)]
pub fn parse_bodies(body: &[u8]) {
    let body = Bytes::copy_from_slice(body);
    let _ = parse::<ConnectBody>(&body, "");
    let _ = parse::<TriggerBody>(&body, "");
    let _ = parse::<RetryBody>(&body, "");
}
