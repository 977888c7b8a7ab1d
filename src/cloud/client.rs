//! The one dbt Cloud client: base URL, account, auth header, timeouts and the retry loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::errors::{clip, ApiError, ECHO_LIMIT};
use super::retry::{parse_retry_after, Attempt, Decision, RetryPolicy};
use super::types::{
    Account, Envelope, Environment, Job, Project, RetryPreview, Run, RunStatus, TriggerRequest,
};

/// Called with one human line per request and retry decision (shown with `--verbose`).
pub type DebugLog = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Limit for one request (headers and body).
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// The largest JSON answer accepted (bytes): API documents are small, a bigger one is a
    /// wrong server or a broken proxy, and must not exhaust memory.
    pub json_limit: u64,
    /// The largest artifact accepted (bytes): manifests of big projects are hundreds of MB.
    pub artifact_limit: u64,
    /// Extra trusted root certificates (PEM), e.g. a sandbox's CA; also read from
    /// `DATACHONK_CA_CERT` / `SSL_CERT_FILE` by [`ClientOptions::from_env`].
    pub extra_roots_pem: Vec<Vec<u8>>,
    pub debug: Option<DebugLog>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            json_limit: 64 << 20,
            artifact_limit: 1 << 30,
            extra_roots_pem: Vec::new(),
            debug: None,
        }
    }
}

impl ClientOptions {
    /// Defaults plus any CA file named by `DATACHONK_CA_CERT` or `SSL_CERT_FILE`, and a
    /// per-request timeout from `DATACHONK_REQUEST_TIMEOUT` (seconds; for slow proxies).
    /// A value that cannot be used is an error naming the variable, never silently ignored.
    pub fn from_env() -> Result<Self, EnvError> {
        let mut o = ClientOptions::default();
        if let Some(raw) = std::env::var_os("DATACHONK_REQUEST_TIMEOUT") {
            o.request_timeout = raw
                .to_str()
                .and_then(parse_seconds)
                .ok_or_else(|| EnvError {
                    variable: "DATACHONK_REQUEST_TIMEOUT",
                    why: format!(
                        "{} is not a number of seconds greater than 0 (e.g. 60)",
                        crate::cloud::errors::clip(&raw.to_string_lossy(), 40)
                    ),
                })?;
        }
        for var in ["DATACHONK_CA_CERT", "SSL_CERT_FILE"] {
            if let Some(path) = std::env::var_os(var) {
                match std::fs::read(&path) {
                    Ok(pem) => o.extra_roots_pem.push(pem),
                    // SSL_CERT_FILE belongs to other tools too; only our own variable must work.
                    Err(e) if var == "DATACHONK_CA_CERT" => {
                        return Err(EnvError {
                            variable: var,
                            why: format!("cannot read {}: {e}", path.to_string_lossy()),
                        })
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(o)
    }
}

/// `60`, `2.5`: seconds, finite and positive.
fn parse_seconds(text: &str) -> Option<Duration> {
    let secs = text.trim().parse::<f64>().ok()?;
    (secs.is_finite() && secs > 0.0 && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// An environment variable the client reads holds something it cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {why}")]
pub struct EnvError {
    pub variable: &'static str,
    pub why: String,
}

impl ClientOptions {
    fn body_limit(&self, call: &Call) -> u64 {
        if call.raw {
            self.artifact_limit
        } else {
            self.json_limit
        }
    }
}

/// A request as the retry loop sees it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    /// Path below `/api/`, starting with `v2/...`, ending in `/` (we always send the slash).
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Names the object for 404s ("job 42 in account 1").
    pub what: String,
    /// Names the action for 403s ("trigger job 42").
    pub action: String,
    /// Raw body (artifacts) rather than a JSON envelope.
    pub raw: bool,
    /// A successful answer's body is left unread for the caller to stream (an artifact
    /// parsed as it arrives, never held whole).
    pub stream: bool,
}

impl Call {
    pub fn get(path: String, what: impl Into<String>) -> Self {
        let what = what.into();
        Call {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            action: format!("read {what}"),
            what,
            raw: false,
            stream: false,
        }
    }

    pub fn query(mut self, k: &str, v: impl ToString) -> Self {
        self.query.push((k.to_string(), v.to_string()));
        self
    }
}

/// A successful response: status and body.
pub(crate) struct Answer {
    pub body: Vec<u8>,
    /// With [`Call::stream`]: the successful response, its body unread.
    pub response: Option<reqwest::Response>,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    account_id: i64,
    token_source: String,
    options: ClientOptions,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("account_id", &self.account_id)
            .finish()
    }
}

impl Client {
    /// `access_url` without trailing slash; `token_source` names where the token came from
    /// (for messages only).
    pub fn new(
        access_url: &str,
        account_id: i64,
        token: &SecretString,
        token_source: impl Into<String>,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret().trim()))
            .map_err(|_| {
            ApiError::Client(
                "the API token contains characters not allowed in an HTTP header".into(),
            )
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("datachonk/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            // dbt Cloud redirects are not expected; never forward the token elsewhere.
            .redirect(reqwest::redirect::Policy::none());
        for pem in &options.extra_roots_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ApiError::Client(format!("bad CA certificate file: {e}")))?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::Client(e.to_string()))?;
        Ok(Client {
            http,
            base: access_url.trim_end_matches('/').to_string(),
            account_id,
            token_source: token_source.into(),
            options,
        })
    }

    pub fn account_id(&self) -> i64 {
        self.account_id
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub(crate) fn debug(&self, line: &str) {
        if let Some(log) = &self.options.debug {
            log(line);
        }
    }

    fn account_path(&self, rest: &str) -> String {
        format!("v2/accounts/{}/{rest}", self.account_id)
    }

    /// One attempt: `Ok(Ok(answer))`, `Ok(Err(outcome))` for a transient failure, or a
    /// final error.
    pub(crate) async fn attempt(&self, call: &Call) -> Result<Result<Answer, Attempt>, ApiError> {
        let url = format!("{}/api/{}", self.base, call.path);
        let mut req = self.http.request(call.method.clone(), &url);
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        req = req.header(ACCEPT, if call.raw { "*/*" } else { "application/json" });
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        let started = Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let detail = describe(&e);
                self.debug(&format!(
                    "{} {url} -> {detail} ({:?})",
                    call.method,
                    started.elapsed()
                ));
                // A certificate problem will not go away by retrying.
                if detail.contains("certificate") || detail.contains("UnknownIssuer") {
                    return Err(ApiError::Tls {
                        url: self.base.clone(),
                        detail,
                    });
                }
                return Ok(Err(classify(&e)));
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        if call.stream && status.is_success() {
            self.debug(&format!(
                "{} {url} -> {} ({:?}), body streamed",
                call.method,
                status.as_u16(),
                started.elapsed()
            ));
            return Ok(Ok(Answer {
                body: Vec::new(),
                response: Some(resp),
            }));
        }
        let limit = self.options.body_limit(call);
        let body = match read_capped(resp, limit).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                self.debug(&format!(
                    "{} {url} -> {status}, answer over {limit} bytes: refused",
                    call.method
                ));
                return Err(ApiError::TooLarge {
                    what: call.what.clone(),
                    limit,
                });
            }
            Err(BodyError::Lost(e)) => {
                self.debug(&format!(
                    "{} {url} -> {status}, body lost: {}",
                    call.method,
                    describe(&e)
                ));
                return Ok(Err(classify(&e)));
            }
        };
        self.debug(&format!(
            "{} {url} -> {} ({:?})",
            call.method,
            status.as_u16(),
            started.elapsed()
        ));
        if status.is_success() {
            return Ok(Ok(Answer {
                body,
                response: None,
            }));
        }
        let outcome = Attempt::Status {
            code: status.as_u16(),
            retry_after,
        };
        if RetryPolicy::is_transient(&outcome) {
            return Ok(Err(outcome));
        }
        Err(self.error_for(call, status, &body))
    }

    /// Send with the retry policy (for idempotent requests).
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer, ApiError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let outcome = match self.attempt(call).await? {
                Ok(answer) => return Ok(answer),
                Err(outcome) => outcome,
            };
            match self
                .options
                .retry
                .decide(&outcome, attempt, started.elapsed(), fastrand::f64())
            {
                Decision::RetryAfter(delay) => {
                    self.debug(&format!(
                        "retrying in {delay:.1?} (attempt {attempt} failed: {outcome:?})"
                    ));
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Decision::GiveUp => {
                    return Err(self.gave_up(call, &outcome, attempt, started.elapsed()))
                }
            }
        }
    }

    pub(crate) fn gave_up(
        &self,
        call: &Call,
        outcome: &Attempt,
        attempts: u32,
        elapsed: Duration,
    ) -> ApiError {
        match outcome {
            Attempt::Status { code, .. } => ApiError::GaveUp {
                what: format!("{} {}", call.method, call.what),
                status: *code,
                attempts,
                seconds: elapsed.as_secs_f64(),
            },
            Attempt::ConnectFailed => ApiError::Unreachable {
                url: self.base.clone(),
                attempts,
                detail: "connection failed".into(),
            },
            Attempt::NoResponse => ApiError::Unreachable {
                url: self.base.clone(),
                attempts,
                detail: "the connection was dropped before an answer came".into(),
            },
            Attempt::TimedOut => ApiError::Unreachable {
                url: self.base.clone(),
                attempts,
                detail: format!(
                    "timed out: no answer within {}s per request (DATACHONK_REQUEST_TIMEOUT)",
                    self.options.request_timeout.as_secs_f64()
                ),
            },
        }
    }

    fn error_for(&self, call: &Call, status: StatusCode, body: &[u8]) -> ApiError {
        if status != StatusCode::UNAUTHORIZED && looks_like_html(body) {
            return self.not_the_api();
        }
        let envelope: Option<Envelope<Value>> = serde_json::from_slice(body).ok();
        let user_message = envelope
            .as_ref()
            .and_then(|e| e.status.as_ref())
            .and_then(|s| s.user_message.as_deref())
            .filter(|m| !m.trim().is_empty())
            .map(|m| clip(m, ECHO_LIMIT));
        match status.as_u16() {
            401 => ApiError::Unauthorized {
                url: self.base.clone(),
                token_source: self.token_source.clone(),
                legacy_host: url::Url::parse(&self.base)
                    .ok()
                    .and_then(|u| u.host_str().map(|h| h.ends_with("getdbt.com")))
                    .unwrap_or(false),
            },
            403 => ApiError::Forbidden {
                action: call.action.clone(),
                user_message,
            },
            404 => ApiError::NotFound {
                what: call.what.clone(),
                user_message,
            },
            400 => {
                let fields = envelope
                    .and_then(|e| e.data)
                    .and_then(|d| d.as_object().cloned())
                    .map(|m| {
                        m.into_iter()
                            .map(|(k, v)| {
                                let v = v
                                    .as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.to_string());
                                (clip(&k, ECHO_LIMIT), clip(&v, ECHO_LIMIT))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                ApiError::BadRequest {
                    user_message: user_message.unwrap_or_else(|| "the request was invalid".into()),
                    fields,
                }
            }
            code => ApiError::Unexpected {
                what: call.what.clone(),
                status: code,
                user_message,
            },
        }
    }

    /// The server at the access URL is not the API (a login page, a proxy, the web app).
    fn not_the_api(&self) -> ApiError {
        ApiError::NotTheApi {
            url: self.base.clone(),
        }
    }

    /// An envelope from a body, or what made it unreadable.
    fn envelope<T: DeserializeOwned>(&self, call: &Call, body: &[u8]) -> Result<T, ApiError> {
        serde_json::from_slice(body).map_err(|e| {
            if looks_like_html(body) {
                self.not_the_api()
            } else {
                ApiError::Decode {
                    what: call.what.clone(),
                    detail: clip(&e.to_string(), ECHO_LIMIT),
                }
            }
        })
    }

    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        call: &Call,
        answer: &Answer,
    ) -> Result<T, ApiError> {
        let envelope: Envelope<T> = self.envelope(call, &answer.body)?;
        envelope.data.ok_or_else(|| ApiError::Decode {
            what: call.what.clone(),
            detail: "the response has no data".into(),
        })
    }

    async fn get<T: DeserializeOwned>(&self, call: Call) -> Result<T, ApiError> {
        let answer = self.send(&call).await?;
        self.decode(&call, &answer)
    }

    /// Every page of a list endpoint (`limit` 100, the API's maximum).
    async fn list_all<T: DeserializeOwned>(&self, call: Call) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        let mut offset = 0i64;
        loop {
            let page_call = call.clone().query("limit", 100).query("offset", offset);
            let answer = self.send(&page_call).await?;
            let envelope: Envelope<Vec<T>> = self.envelope(&call, &answer.body)?;
            let page = envelope.data.unwrap_or_default();
            let count = page.len() as i64;
            out.extend(page);
            let total = envelope
                .extra
                .and_then(|x| x.pagination)
                .and_then(|p| p.total_count);
            offset += count;
            match total {
                _ if count == 0 => break,
                Some(total) if offset >= total => break,
                None if count < 100 => break,
                _ => {}
            }
        }
        Ok(out)
    }

    /// `GET /api/v2/accounts/`: the accounts this token can see. The only call that needs no
    /// account id, so `init` can learn it (and check the token) before anything else; the
    /// client's own `account_id` is ignored here.
    pub async fn list_accounts(&self) -> Result<Vec<Account>, ApiError> {
        self.list_all(Call::get(
            "v2/accounts/".to_string(),
            "the accounts of this token",
        ))
        .await
    }

    pub async fn get_account(&self) -> Result<Account, ApiError> {
        self.get(Call::get(
            self.account_path(""),
            format!("account {}", self.account_id),
        ))
        .await
    }

    pub async fn list_projects(&self) -> Result<Vec<Project>, ApiError> {
        self.list_all(Call::get(
            self.account_path("projects/"),
            format!("projects of account {}", self.account_id),
        ))
        .await
    }

    pub async fn list_environments(
        &self,
        project_id: Option<i64>,
    ) -> Result<Vec<Environment>, ApiError> {
        let mut call = Call::get(
            self.account_path("environments/"),
            format!("environments of account {}", self.account_id),
        );
        if let Some(p) = project_id {
            call = call.query("project_id", p);
        }
        self.list_all(call).await
    }

    pub async fn list_jobs(
        &self,
        project_id: Option<i64>,
        environment_id: Option<i64>,
    ) -> Result<Vec<Job>, ApiError> {
        let mut call = Call::get(
            self.account_path("jobs/"),
            format!("jobs of account {}", self.account_id),
        )
        .query("order_by", "id");
        if let Some(p) = project_id {
            call = call.query("project_id", p);
        }
        if let Some(e) = environment_id {
            call = call.query("environment_id", e);
        }
        self.list_all(call).await
    }

    pub async fn get_job(&self, job_id: i64) -> Result<Job, ApiError> {
        self.get(Call::get(
            self.account_path(&format!("jobs/{job_id}/")),
            format!("job {job_id} in account {}", self.account_id),
        ))
        .await
    }

    /// `GET runs/{id}/` with the given related objects (e.g. `["run_steps", "job", "trigger"]`).
    pub async fn get_run(&self, run_id: i64, include_related: &[&str]) -> Result<Run, ApiError> {
        let mut call = Call::get(
            self.account_path(&format!("runs/{run_id}/")),
            format!("run {run_id} in account {}", self.account_id),
        );
        if !include_related.is_empty() {
            call = call.query("include_related", related(include_related));
        }
        self.get(call).await
    }

    /// Runs, filtered; `order_by` e.g. `-id` (newest first). Fetches up to `limit` runs.
    pub async fn list_runs(&self, query: &RunQuery) -> Result<Vec<Run>, ApiError> {
        let mut call = Call::get(
            self.account_path("runs/"),
            format!("runs of account {}", self.account_id),
        )
        .query("order_by", query.order_by.as_deref().unwrap_or("-id"));
        if let Some(job) = query.job_id {
            call = call.query("job_definition_id", job);
        }
        if let Some(id) = query.id_gt {
            call = call.query("id__gt", id);
        }
        if !query.pk_in.is_empty() {
            let ids: Vec<String> = query.pk_in.iter().map(i64::to_string).collect();
            call = call.query("pk__in", format!("[{}]", ids.join(",")));
        }
        if !query.status_in.is_empty() {
            let codes: Vec<String> = query
                .status_in
                .iter()
                .filter_map(|s| s.code())
                .map(|c| c.to_string())
                .collect();
            call = call.query("status__in", format!("[{}]", codes.join(",")));
        }
        if !query.include_related.is_empty() {
            let names: Vec<&str> = query.include_related.iter().map(String::as_str).collect();
            call = call.query("include_related", related(&names));
        }
        let mut out = Vec::new();
        let mut offset = query.offset;
        while out.len() < query.limit {
            let page_size = (query.limit - out.len()).min(100);
            let page_call = call
                .clone()
                .query("limit", page_size)
                .query("offset", offset);
            let answer = self.send(&page_call).await?;
            let envelope: Envelope<Vec<Run>> = self.envelope(&call, &answer.body)?;
            let page = envelope.data.unwrap_or_default();
            let n = page.len();
            out.extend(page);
            offset += n;
            let total = envelope
                .extra
                .and_then(|x| x.pagination)
                .and_then(|p| p.total_count);
            if n == 0 || n < page_size || total.is_some_and(|t| offset as i64 >= t) {
                break;
            }
        }
        Ok(out)
    }

    pub async fn cancel_run(&self, run_id: i64) -> Result<Run, ApiError> {
        // Cancelling is idempotent, so the ordinary retry policy applies.
        let mut call = Call::get(
            self.account_path(&format!("runs/{run_id}/cancel/")),
            format!("run {run_id} in account {}", self.account_id),
        );
        call.method = Method::POST;
        call.action = format!("cancel run {run_id}");
        self.get(call).await
    }

    /// What a retry of a failed run would re-run.
    pub async fn retry_preview(&self, run_id: i64) -> Result<RetryPreview, ApiError> {
        self.get(Call::get(
            self.account_path(&format!("runs/{run_id}/retry/")),
            format!("run {run_id} in account {}", self.account_id),
        ))
        .await
    }

    /// Retry a failed run from the point of failure (creates a new run; sent at most once).
    pub async fn retry_run(&self, run_id: i64) -> Result<Run, ApiError> {
        let mut call = Call::get(
            self.account_path(&format!("runs/{run_id}/retry/")),
            format!("run {run_id} in account {}", self.account_id),
        );
        call.method = Method::POST;
        call.action = format!("retry run {run_id}");
        self.send_once(&call).await
    }

    /// Rerun a job's latest failed run from the point of failure (sent at most once).
    pub async fn rerun_job(&self, job_id: i64) -> Result<Run, ApiError> {
        let mut call = Call::get(
            self.account_path(&format!("jobs/{job_id}/rerun/")),
            format!("job {job_id} in account {}", self.account_id),
        );
        call.method = Method::POST;
        call.action = format!("rerun job {job_id}");
        self.send_once(&call).await
    }

    /// A POST that creates something: retried only when it provably never reached the server.
    async fn send_once<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ApiError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let outcome = match self.attempt(call).await? {
                Ok(answer) => return self.decode(call, &answer),
                Err(outcome) => outcome,
            };
            let safe = matches!(
                outcome,
                Attempt::ConnectFailed | Attempt::Status { code: 429, .. }
            );
            match self
                .options
                .retry
                .decide(&outcome, attempt, started.elapsed(), fastrand::f64())
            {
                Decision::RetryAfter(delay) if safe => {
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => return Err(self.gave_up(call, &outcome, attempt, started.elapsed())),
            }
        }
    }

    /// The trigger POST, one attempt; the at-most-once logic lives in `trigger.rs`.
    pub(crate) fn trigger_call(&self, job_id: i64, request: &TriggerRequest) -> Call {
        let mut call = Call::get(
            self.account_path(&format!("jobs/{job_id}/run/")),
            format!("job {job_id} in account {}", self.account_id),
        );
        call.method = Method::POST;
        call.action =
            format!("trigger job {job_id} (needs the Job Admin or Job Runner permission)");
        call.body = serde_json::to_value(request).ok();
        call
    }

    /// Artifact paths a run saved (optionally of one step).
    pub async fn list_artifacts(
        &self,
        run_id: i64,
        step: Option<i64>,
    ) -> Result<Vec<String>, ApiError> {
        let mut call = Call::get(
            self.account_path(&format!("runs/{run_id}/artifacts/")),
            format!("artifacts of run {run_id}"),
        );
        if let Some(s) = step {
            call = call.query("step", s);
        }
        let answer = self.send(&call).await?;
        let envelope: Envelope<Option<Vec<String>>> = self.envelope(&call, &answer.body)?;
        Ok(envelope.data.flatten().unwrap_or_default())
    }

    /// The id of `job_id`'s newest run (in one of `status_in`, when given); 0 when it has none.
    pub async fn newest_run_id(
        &self,
        job_id: i64,
        status_in: &[RunStatus],
    ) -> Result<i64, ApiError> {
        let query = RunQuery {
            job_id: Some(job_id),
            status_in: status_in.to_vec(),
            order_by: Some("-id".into()),
            limit: 1,
            ..RunQuery::default()
        };
        Ok(self.list_runs(&query).await?.first().map_or(0, |r| r.id))
    }

    /// One artifact of a run, raw (no envelope). `step` is 1-based; default: the last step.
    pub async fn get_artifact(
        &self,
        run_id: i64,
        path: &str,
        step: Option<i64>,
    ) -> Result<Vec<u8>, ApiError> {
        let path = artifact_path(path).map_err(ApiError::Client)?;
        let mut call = Call::get(
            self.account_path(&format!("runs/{run_id}/artifacts/{path}")),
            format!("artifact {path} of run {run_id}"),
        );
        call.raw = true;
        if let Some(s) = step {
            call = call.query("step", s);
        }
        Ok(self.send(&call).await?.body)
    }

    /// One artifact of a run as it arrives: the response once its status says success (after
    /// the retry policy), its body unread; [`ArtifactBody::chunk`] reads it within the
    /// artifact limit.
    pub async fn open_artifact(
        &self,
        run_id: i64,
        path: &str,
        step: Option<i64>,
    ) -> Result<ArtifactBody, ApiError> {
        let path = artifact_path(path).map_err(ApiError::Client)?;
        let mut call = Call::get(
            self.account_path(&format!("runs/{run_id}/artifacts/{path}")),
            format!("artifact {path} of run {run_id}"),
        );
        call.raw = true;
        call.stream = true;
        if let Some(s) = step {
            call = call.query("step", s);
        }
        let answer = self.send(&call).await?;
        let response = answer.response.ok_or_else(|| ApiError::Decode {
            what: call.what.clone(),
            detail: "no body".into(),
        })?;
        if response
            .content_length()
            .is_some_and(|n| n > self.options.artifact_limit)
        {
            return Err(ApiError::TooLarge {
                what: call.what,
                limit: self.options.artifact_limit,
            });
        }
        Ok(ArtifactBody {
            response,
            what: call.what,
            read: 0,
            limit: self.options.artifact_limit,
        })
    }

    /// A job's latest artifact (of its latest run that saved it).
    pub async fn get_job_artifact(&self, job_id: i64, path: &str) -> Result<Vec<u8>, ApiError> {
        let path = artifact_path(path).map_err(ApiError::Client)?;
        let mut call = Call::get(
            self.account_path(&format!("jobs/{job_id}/artifacts/{path}")),
            format!("artifact {path} of job {job_id}"),
        );
        call.raw = true;
        Ok(self.send(&call).await?.body)
    }
}

/// An artifact's body being read (see [`Client::open_artifact`]).
pub struct ArtifactBody {
    response: reqwest::Response,
    what: String,
    read: u64,
    limit: u64,
}

impl ArtifactBody {
    /// The next piece of the body; `None` at its end. Past the artifact limit, or when the
    /// connection drops, an error that says so.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, ApiError> {
        let chunk = match self.response.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(e) => {
                return Err(ApiError::Decode {
                    what: self.what.clone(),
                    detail: format!("it broke off ({})", describe(&e)),
                })
            }
        };
        self.read += chunk.len() as u64;
        if self.read > self.limit {
            return Err(ApiError::TooLarge {
                what: self.what.clone(),
                limit: self.limit,
            });
        }
        Ok(Some(chunk.to_vec()))
    }
}

/// Filters for [`Client::list_runs`].
#[derive(Debug, Clone)]
pub struct RunQuery {
    pub job_id: Option<i64>,
    pub status_in: Vec<RunStatus>,
    pub order_by: Option<String>,
    /// Only runs with a larger id (`id__gt`): runs created after a known one.
    pub id_gt: Option<i64>,
    /// Only these runs (`pk__in`, the spec's spelling of "id in"): one request for many runs.
    pub pk_in: Vec<i64>,
    pub limit: usize,
    pub offset: usize,
    pub include_related: Vec<String>,
}

impl Default for RunQuery {
    fn default() -> Self {
        RunQuery {
            job_id: None,
            status_in: Vec::new(),
            order_by: None,
            id_gt: None,
            pk_in: Vec::new(),
            limit: 10,
            offset: 0,
            include_related: Vec::new(),
        }
    }
}

/// `include_related` as a JSON array string, the spelling every dbt Cloud version accepts.
fn related(names: &[&str]) -> String {
    serde_json::to_string(names).unwrap_or_default()
}

fn classify(e: &reqwest::Error) -> Attempt {
    if e.is_connect() {
        Attempt::ConnectFailed
    } else if e.is_timeout() {
        Attempt::TimedOut
    } else {
        Attempt::NoResponse
    }
}

/// An error's chain without URLs (reqwest puts the URL in its Display; ours is printed apart).
fn describe(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        if e.is_timeout() {
            "timed out".into()
        } else {
            "request failed".into()
        }
    } else {
        parts.join(": ")
    }
}

/// An artifact path as the API names it (`run_results.json`, `compiled/a/b.sql`): relative,
/// no `.`/`..` segments (the URL would climb out of the run's artifacts, `..` spelled
/// `%2e%2e` too), nothing that would end the path (`?`, `#`) and no control characters.
pub fn artifact_path(path: &str) -> Result<&str, String> {
    let bad = |why: &str| Err(format!("artifact path {:?}: {why}", clip(path, ECHO_LIMIT)));
    if path.is_empty() {
        return bad("empty");
    }
    if path.starts_with('/') || path.contains('\\') || path.get(1..2) == Some(":") {
        return bad("must be relative to the run's artifacts (e.g. run_results.json)");
    }
    if path.chars().any(|c| c.is_control() || c == '?' || c == '#') {
        return bad("must not contain control characters, `?` or `#`");
    }
    for segment in path.split('/') {
        let plain = segment.to_ascii_lowercase().replace("%2e", ".");
        if segment.is_empty() || plain == "." || plain == ".." {
            return bad("must not contain empty, `.` or `..` segments");
        }
    }
    Ok(path)
}

/// Does this body start like an HTML page (a login page, a proxy's error, the web app)?
fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    start.starts_with(b"<!doctype html")
        || start.starts_with(b"<html")
        || start.starts_with(b"<head")
        || start.starts_with(b"<body")
        || start.starts_with(b"<!--")
}

enum BodyError {
    TooLarge,
    Lost(reqwest::Error),
}

/// The body, refused as soon as it is known to exceed `limit` bytes (by its
/// `Content-Length`, or while reading): memory stays bounded whatever the server sends.
async fn read_capped(mut resp: reqwest::Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Lost)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_stay_inside_the_run() {
        for ok in [
            "run_results.json",
            "compiled/analytics/models/a.sql",
            "x..y.json",
        ] {
            assert_eq!(artifact_path(ok), Ok(ok));
        }
        for bad in [
            "../../X.json",
            "a/../b",
            "/etc/passwd",
            "%2e%2E/x",
            "a//b",
            "./a",
            "C:\\x",
            "a?b=1",
            "a\nb",
            "",
        ] {
            assert!(artifact_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn html_is_recognised() {
        assert!(looks_like_html(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_html(b"<html lang=en>"));
        assert!(!looks_like_html(br#"{"data": "<html>"}"#));
    }
}
