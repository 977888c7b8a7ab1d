//! `datachonk serve` over real HTTP: the real binary in front of a real sandbox on 127.0.0.1,
//! answers checked against the server's own OpenAPI document, SSE streams read to their end,
//! and each security rule tried from the outside.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datachonk::sandbox::{Fixture, RunningSandbox, Sandbox, SandboxOptions};
use reqwest::blocking::{Client, Response};
use reqwest::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, SET_COOKIE};
use serde_json::{json, Value};
use support::{workdir, TOKEN};

const OPENAPI: &str = include_str!("../src/serve/openapi.json");

/// A running `datachonk serve`: its base URL, key and what it logged.
struct Serve {
    child: Child,
    base: String,
    key: String,
    log: Arc<Mutex<String>>,
    http: Client,
    /// Every answer body read through `get`/`post`/`events` (scanned for the token).
    seen: Mutex<Vec<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `serve` in `dir` against `sandbox`; `env` adds variables (the token, when a test
/// wants it connected from the start).
fn serve(sandbox: &RunningSandbox, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_datachonk"));
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env("DBT_CLOUD_ACCESS_URL", sandbox.base_url())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The client first: a panic after the spawn would leave the server running.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut child = cmd.spawn().expect("serve starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("serve prints its URL");
    let url = first.trim().to_string();
    let (base, key) = url
        .split_once("/?key=")
        .unwrap_or_else(|| panic!("URL with key: {url:?}"));
    let log = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&log);
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Serve {
        child,
        base: base.to_string(),
        key: key.to_string(),
        log,
        http,
        seen: Mutex::new(Vec::new()),
    }
}

/// `serve` with the token and account in the environment: connected from the start.
fn connected(sandbox: &RunningSandbox, dir: &Path) -> Serve {
    serve(
        sandbox,
        dir,
        &[],
        &[
            ("DBT_CLOUD_API_TOKEN", TOKEN),
            ("DBT_CLOUD_ACCOUNT_ID", "1"),
        ],
    )
}

impl Serve {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .send()
            .expect("GET answers");
        self.keep(answer(r))
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .json(body)
            .send()
            .expect("POST answers");
        self.keep(answer(r))
    }

    /// Read a run's event stream to its end: (event name, data) in order.
    fn events(&self, run: i64) -> Vec<(String, Value)> {
        let r = self
            .http
            .get(self.url(&format!("/api/dbt-cloud/runs/{run}/events")))
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .send()
            .expect("events answer");
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let events = parse_sse(r);
        for (_, data) in &events {
            self.seen.lock().unwrap().push(data.to_string());
        }
        events
    }

    fn keep(&self, (code, body): (u16, Value)) -> (u16, Value) {
        self.seen.lock().unwrap().push(body.to_string());
        (code, body)
    }

    fn connect(&self) -> Value {
        let (code, status) = self.post(
            "/api/dbt-cloud/connect",
            &json!({ "token": TOKEN, "account_id": 1 }),
        );
        assert_eq!(code, 200, "{status}");
        status
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

fn answer(r: Response) -> (u16, Value) {
    let code = r.status().as_u16();
    let text = r.text().expect("body");
    let value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => Value::String(text),
    };
    (code, value)
}

fn parse_sse(r: impl Read) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    let mut name = String::new();
    for line in BufReader::new(r).lines() {
        let line = line.expect("stream line");
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            events.push((name.clone(), serde_json::from_str(d).expect("JSON data")));
        }
    }
    events
}

/// `value` is a valid `schema` of the OpenAPI document's components.
fn conforms(schema: &str, value: &Value) {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema}"),
        "components": doc["components"],
    });
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema}: {errors:?}\n{value:#}");
}

fn assert_error(code: u16, body: &Value, status: u16, error_code: &str) {
    assert_eq!(code, status, "{body}");
    conforms("Error", body);
    assert_eq!(body["error"]["code"], error_code, "{body}");
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn connects_lists_jobs_triggers_and_follows_runs_as_the_openapi_document_says() {
    let sandbox = support::sandbox(&[]);
    let dir = tempfile::tempdir().unwrap();
    // A real repository: finished runs' artifacts are kept under its .datachonk/.
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status();
    assert!(init.unwrap().success());
    let s = serve(&sandbox, dir.path(), &[], &[]);
    let mut answers: Vec<String> = Vec::new();

    // The document it serves is the one checked here.
    let (code, doc) = s.get("/api/dbt-cloud/openapi.json");
    assert_eq!(code, 200);
    assert_eq!(doc, serde_json::from_str::<Value>(OPENAPI).unwrap());

    let (code, status) = s.get("/api/dbt-cloud/status");
    assert_eq!(code, 200);
    conforms("Status", &status);
    assert_eq!(status["connected"], false);
    assert_eq!(status["access_url"], sandbox.base_url());

    let (code, body) = s.get("/api/dbt-cloud/projects/1/jobs");
    assert_error(code, &body, 409, "not_connected");

    // A token dbt Cloud refuses: the CLI's 401 explanation, and still not connected.
    let (code, body) = s.post(
        "/api/dbt-cloud/connect",
        &json!({ "token": "not-a-real-token", "account_id": 1 }),
    );
    assert_error(code, &body, 401, "dbt_cloud_unauthorized");
    assert!(body["error"]["message"].as_str().unwrap().contains("401"));
    assert!(body["error"]["hints"][0]
        .as_str()
        .unwrap()
        .contains("check that it is current"));
    answers.push(body.to_string());

    let status = s.connect();
    conforms("Status", &status);
    assert_eq!(status["connected"], true);
    assert_eq!(status["account"]["id"], 1);
    assert_eq!(status["account"]["name"], "Test Analytics");
    assert_eq!(status["projects"][0]["id"], 1);
    answers.push(status.to_string());

    let (code, jobs) = s.get("/api/dbt-cloud/projects/1/jobs");
    assert_eq!(code, 200, "{jobs}");
    conforms("Jobs", &jobs);
    let by_id = |id: i64| {
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("job {id} in {jobs}"))
    };
    assert_eq!(by_id(1)["validation"]["state_aware"], true);
    assert_eq!(by_id(1)["environment"]["name"], "Production");
    assert_eq!(by_id(2)["validation"]["state_aware"], false);
    assert!(by_id(2)["validation"]["advice"][0]
        .as_str()
        .unwrap()
        .contains("state:modified"));

    // A run that succeeds, followed to its verdict over SSE.
    let (code, triggered) = s.post(
        "/api/dbt-cloud/trigger-run",
        &json!({ "job_id": 1, "cause": "Checked by serve_api", "git_branch": "feature/x" }),
    );
    assert_eq!(code, 200, "{triggered}");
    conforms("Triggered", &triggered);
    let run_id = triggered["run"]["id"].as_i64().unwrap();
    assert_eq!(triggered["adopted"], false);
    let created = sandbox.run(run_id).expect("the sandbox has the run");
    assert_eq!(created.job_id, 1);
    assert_eq!(
        support::without_marker(&created.trigger.cause),
        "Checked by serve_api"
    );
    assert_eq!(created.trigger.git_branch.as_deref(), Some("feature/x"));

    let events = s.events(run_id);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"status"), "{names:?}");
    assert_eq!(names.last(), Some(&"verdict"), "{names:?}");
    assert!(names.contains(&"step"), "{names:?}");
    for (name, data) in &events {
        conforms(
            if name == "step" {
                "StepView"
            } else {
                "RunView"
            },
            data,
        );
    }
    let verdict = &events.last().unwrap().1;
    assert_eq!(verdict["status"], "Success");
    assert_eq!(verdict["finished"], true);
    assert!(
        verdict["summary"].as_str().unwrap().contains("ok"),
        "{verdict}"
    );
    // Steps finish with durations.
    let last_step = events.iter().rev().find(|(n, _)| n == "step").unwrap();
    assert_eq!(last_step.1["status"], "Success");
    assert!(last_step.1["duration_seconds"].as_f64().is_some());

    let (code, run) = s.get(&format!("/api/dbt-cloud/runs/{run_id}"));
    assert_eq!(code, 200);
    conforms("RunView", &run);
    assert_eq!(&run, verdict);

    // A run that fails: Error, its failing step and node, over the same stream.
    let (code, triggered) = s.post("/api/dbt-cloud/trigger-run", &json!({ "job_id": 2 }));
    assert_eq!(code, 200, "{triggered}");
    let failed_id = triggered["run"]["id"].as_i64().unwrap();
    let events = s.events(failed_id);
    let verdict = &events.last().unwrap().1;
    assert_eq!(events.last().unwrap().0, "verdict");
    assert_eq!(verdict["status"], "Error");
    assert_eq!(verdict["failing_step"]["index"], 4);
    let node = &verdict["failing_nodes"][0];
    assert_eq!(node["unique_id"], "model.analytics.stg_orders");
    assert!(node["message"]
        .as_str()
        .unwrap()
        .contains("column \"amount\" does not exist"));
    answers.push(verdict.to_string());

    // Recent runs show up under their job.
    let (_, jobs) = s.get("/api/dbt-cloud/projects/1/jobs");
    let recent: Vec<i64> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| j["recent_runs"].as_array().unwrap().clone())
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(
        recent.contains(&run_id) && recent.contains(&failed_id),
        "{recent:?}"
    );

    // Errors: unknown run, unknown project, bad ids and bodies, unknown endpoint.
    let (code, body) = s.get("/api/dbt-cloud/runs/999999");
    assert_error(code, &body, 404, "not_found");
    let (code, body) = s.get("/api/dbt-cloud/projects/77/jobs");
    assert_error(code, &body, 404, "not_found");
    let (code, body) = s.get("/api/dbt-cloud/runs/abc");
    assert_error(code, &body, 400, "bad_request");
    let (code, body) = s.post(
        "/api/dbt-cloud/trigger-run",
        &json!({ "job_id": 1, "target": "x" }),
    );
    assert_error(code, &body, 400, "bad_request");
    let (code, body) = s.post("/api/dbt-cloud/trigger-run", &json!({ "job": 1 }));
    assert_error(code, &body, 400, "bad_request");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("job"),
        "{body}"
    );
    let (code, body) = s.post("/api/dbt-cloud/trigger-run", &json!({ "job_id": 4242 }));
    assert_error(code, &body, 404, "not_found");
    let (code, body) = s.get("/api/dbt-cloud/nothing");
    assert_error(code, &body, 404, "not_found");

    // The token is in no answer, no log line and no file serve wrote.
    let seen = s.seen.lock().unwrap().clone();
    assert!(seen.len() > 15, "every answer was kept: {}", seen.len());
    for a in seen.iter().chain(&answers) {
        assert!(!a.contains(TOKEN), "token in an answer: {a}");
    }
    let log = s.log();
    assert!(log.contains("POST /api/dbt-cloud/connect -> 200"), "{log}");
    assert!(!log.contains(TOKEN), "token in the log:\n{log}");
    assert!(!log.contains(&s.key), "key in the log:\n{log}");
    let written = files_under(&dir.path().join(".datachonk"));
    assert!(!written.is_empty(), "artifacts were kept under .datachonk/");
    for f in written {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "token in {}",
            f.display()
        );
    }
}

#[test]
fn without_the_key_from_a_foreign_host_or_origin_or_with_a_huge_body_nothing_is_served() {
    let sandbox = support::sandbox(&[]);
    let dir = workdir();
    let s = connected(&sandbox, dir.path());
    let status_url = s.url("/api/dbt-cloud/status");

    // No key, a wrong key, a key that only differs at the end.
    let r = s.http.get(&status_url).send().unwrap();
    let (code, body) = answer(r);
    assert_error(code, &body, 401, "missing_key");
    let mut near = s.key.clone();
    near.pop();
    near.push(if s.key.ends_with('0') { '1' } else { '0' });
    for wrong in ["nope".to_string(), near] {
        let r = s.http.get(&status_url).bearer_auth(&wrong).send().unwrap();
        let (code, body) = answer(r);
        assert_error(code, &body, 401, "missing_key");
    }
    // The page too.
    let r = s.http.get(s.url("/")).send().unwrap();
    assert_eq!(r.status(), 401);
    let r = s.http.get(s.url("/?key=wrong")).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get(SET_COOKIE).is_none());

    // DNS rebinding: the right key under a foreign Host.
    let r = s
        .http
        .get(&status_url)
        .bearer_auth(&s.key)
        .header(HOST, "attacker.example")
        .send()
        .unwrap();
    let (code, body) = answer(r);
    assert_error(code, &body, 403, "foreign_host");
    let port = s.base.rsplit(':').next().unwrap();
    let r = s
        .http
        .get(&status_url)
        .bearer_auth(&s.key)
        .header(HOST, format!("localhost:{port}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "localhost is this server too");

    // CSRF: a foreign Origin on a request that changes something.
    let trigger_url = s.url("/api/dbt-cloud/trigger-run");
    let r = s
        .http
        .post(&trigger_url)
        .bearer_auth(&s.key)
        .header(ORIGIN, "https://attacker.example")
        .json(&json!({ "job_id": 1 }))
        .send()
        .unwrap();
    let (code, body) = answer(r);
    assert_error(code, &body, 403, "foreign_origin");
    // No CORS for it either.
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, &trigger_url)
        .header(ORIGIN, "https://attacker.example")
        .header("access-control-request-method", "POST")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(sandbox.runs().is_empty(), "nothing was triggered");

    // Oversize body: refused before it is read whole.
    let big = json!({ "job_id": 1, "cause": "x".repeat(100 * 1024) });
    let r = s
        .http
        .post(&trigger_url)
        .bearer_auth(&s.key)
        .json(&big)
        .send()
        .unwrap();
    let (code, body) = answer(r);
    assert_error(code, &body, 413, "body_too_large");
    assert!(sandbox.runs().is_empty(), "nothing was triggered");

    // A client that sends half a request head is cut off (it cannot hold a connection).
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(
        &mut slow,
        b"GET /api/dbt-cloud/status HTTP/1.1\r\nHost: x\r\n",
    )
    .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let began = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    assert!(
        began.elapsed() < Duration::from_secs(25),
        "a trickling client held its connection for {:?}",
        began.elapsed()
    );
}

#[test]
fn the_page_trades_its_key_for_a_strict_cookie_and_cookie_requests_need_our_origin() {
    let sandbox = support::sandbox(&[]);
    let dir = workdir();
    let s = connected(&sandbox, dir.path());
    let r = s
        .http
        .get(s.url(&format!("/?key={}", s.key)))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();

    let r = s.http.get(s.url("/")).header(COOKIE, &pair).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let r = s
        .http
        .get(s.url("/api/dbt-cloud/status"))
        .header(COOKIE, &pair)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // With the cookie, a POST must name our origin: a forged form post carries the cookie
    // but not our Origin.
    let trigger_url = s.url("/api/dbt-cloud/trigger-run");
    let r = s
        .http
        .post(&trigger_url)
        .header(COOKIE, &pair)
        .json(&json!({ "job_id": 1 }))
        .send()
        .unwrap();
    let (code, body) = answer(r);
    assert_error(code, &body, 403, "foreign_origin");
    assert!(sandbox.runs().is_empty());
    let r = s
        .http
        .post(&trigger_url)
        .header(COOKIE, &pair)
        .header(ORIGIN, &s.base)
        .json(&json!({ "job_id": 1 }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sandbox.runs().len(), 1);
}

#[test]
fn connect_attempts_are_limited_so_stolen_tokens_cannot_be_tried_quickly() {
    let sandbox = support::sandbox(&[]);
    let dir = workdir();
    let s = serve(&sandbox, dir.path(), &[], &[]);
    let mut codes = Vec::new();
    for i in 0..7 {
        let (code, body) = s.post(
            "/api/dbt-cloud/connect",
            &json!({ "token": format!("guess-{i}"), "account_id": 1 }),
        );
        if code == 429 {
            conforms("Error", &body);
        }
        codes.push(code);
    }
    assert_eq!(codes, [401, 401, 401, 401, 401, 429, 429]);
    let tokens_tried = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v2/accounts/1"))
        .count();
    assert_eq!(
        tokens_tried, 5,
        "the limited attempts never reached dbt Cloud"
    );
}

#[test]
fn in_a_configured_project_it_starts_connected_and_production_targets_need_confirmation() {
    let sandbox = support::sandbox(&[]);
    let dir = workdir();
    std::fs::write(
        dir.path().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    account_id: 1\n    project_id: 1\n    default_target: dev\n    targets:\n      dev: { job_id: 1 }\n      prod: { job_id: 2, confirm: true, cause: \"Release from datachonk\" }\n",
    )
    .unwrap();
    let s = serve(&sandbox, dir.path(), &[], &[("DBT_CLOUD_API_TOKEN", TOKEN)]);
    let (code, status) = s.get("/api/dbt-cloud/status");
    assert_eq!(code, 200);
    conforms("Status", &status);
    assert_eq!(status["connected"], true, "{status}");
    assert_eq!(status["project_id"], 1);
    assert_eq!(
        status["targets"],
        json!([
            { "name": "dev", "job_id": 1, "confirm": false, "default": true },
            { "name": "prod", "job_id": 2, "confirm": true, "default": false },
        ])
    );

    // Production: refused without confirmation, by name or by its job id.
    for body in [json!({ "target": "prod" }), json!({ "job_id": 2 })] {
        let (code, err) = s.post("/api/dbt-cloud/trigger-run", &body);
        assert_error(code, &err, 409, "confirmation_required");
    }
    assert!(sandbox.runs().is_empty());
    let (code, body) = s.post("/api/dbt-cloud/trigger-run", &json!({ "target": "prdo" }));
    assert_error(code, &body, 404, "not_found");
    assert!(body["error"]["hints"][0].as_str().unwrap().contains("prod"));

    let (code, t) = s.post(
        "/api/dbt-cloud/trigger-run",
        &json!({ "target": "prod", "confirmed": true, "git_sha": "0123456789abcdef0123456789abcdef01234567" }),
    );
    assert_eq!(code, 200, "{t}");
    let run = sandbox.run(t["run"]["id"].as_i64().unwrap()).unwrap();
    assert_eq!(run.job_id, 2);
    assert_eq!(
        support::without_marker(&run.trigger.cause),
        "Release from datachonk"
    );
    // Its retry changes production too: asked for the same way.
    let failed = run.id;
    assert_eq!(s.events(failed).last().unwrap().1["status"], "Error");
    let retry = format!("/api/dbt-cloud/runs/{failed}/retry");
    let (code, err) = s.post(&retry, &json!({}));
    assert_error(code, &err, 409, "confirmation_required");
    assert_eq!(sandbox.runs().len(), 1, "nothing retried unconfirmed");
    let (code, retried) = s.post(&retry, &json!({ "confirmed": true }));
    assert_eq!(code, 200, "{retried}");
    assert_eq!(
        sandbox
            .run(retried["run"]["id"].as_i64().unwrap())
            .unwrap()
            .retry_of,
        Some(failed)
    );
    // No job and no target: the default target's job.
    let (code, t) = s.post("/api/dbt-cloud/trigger-run", &json!({}));
    assert_eq!(code, 200, "{t}");
    assert_eq!(t["run"]["job_id"], 1);
}

#[test]
fn a_remote_address_needs_tls_and_a_fixed_key_must_be_long() {
    let dir = workdir();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_datachonk"));
        for (name, _) in datachonk::config::ENV_VARS {
            cmd.env_remove(name);
        }
        let out = cmd
            .arg("serve")
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--addr", "0.0.0.0:0"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-cert"), "{err}");
    let (code, err) = run(
        &["--addr", "127.0.0.1:0", "--key-env", "SHORT_KEY"],
        &[("SHORT_KEY", "abc")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("at least 32"), "{err}");
    assert!(!err.contains("abc"), "the key is not echoed: {err}");
}

#[test]
fn a_fixed_key_from_the_environment_works_for_scripts() {
    let sandbox = support::sandbox(&[]);
    let dir = workdir();
    let key = "k3y-".repeat(10);
    let s = serve(
        &sandbox,
        dir.path(),
        &["--key-env", "SERVE_KEY"],
        &[("SERVE_KEY", &key)],
    );
    assert_eq!(s.key, key);
    let (code, _) = s.get("/api/dbt-cloud/status");
    assert_eq!(code, 200);
}

/// One run watched by 50 SSE streams and 20 clients polling `runs/:id`: dbt Cloud sees one
/// poller's requests, not seventy.
#[test]
fn many_watchers_of_one_run_cost_dbt_cloud_one_poll_per_cycle() {
    let fixture = Fixture::from_yaml_str(
        r#"
accounts: [{id: 1, name: Load}]
projects: [{id: 1, account_id: 1, name: analytics}]
environments: [{id: 1, project_id: 1, name: Production}]
jobs:
  - {id: 1, project_id: 1, environment_id: 1, name: Medium, execute_steps: ["dbt build"],
     run: {queued_ms: 300, starting_ms: 300, step_ms: 900}}
tokens: [{token: fake-admin-token-5b2e91, permissions: account_admin}]
"#,
        "load fixture",
    )
    .unwrap();
    let sandbox = Sandbox::start(SandboxOptions::default().with_fixture(fixture)).unwrap();
    let dir = workdir();
    let s = Arc::new(connected(&sandbox, dir.path()));
    let (code, t) = s.post("/api/dbt-cloud/trigger-run", &json!({ "job_id": 1 }));
    assert_eq!(code, 200);
    let run_id = t["run"]["id"].as_i64().unwrap();
    let began = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..50 {
        let s = Arc::clone(&s);
        threads.push(std::thread::spawn(move || {
            let events = s.events(run_id);
            events.last().map(|(n, d)| (n.clone(), d["status"].clone()))
        }));
    }
    let mut pollers = Vec::new();
    for _ in 0..20 {
        let s = Arc::clone(&s);
        pollers.push(std::thread::spawn(move || {
            let mut asked = 0;
            loop {
                let (code, run) = s.get(&format!("/api/dbt-cloud/runs/{run_id}"));
                assert_eq!(code, 200);
                asked += 1;
                if run["finished"] == true {
                    return (asked, run["status"].clone());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }
    for t in threads {
        assert_eq!(
            t.join().unwrap(),
            Some(("verdict".to_string(), json!("Success")))
        );
    }
    let mut client_requests = 50;
    for p in pollers {
        let (asked, status) = p.join().unwrap();
        assert_eq!(status, "Success");
        client_requests += asked;
    }
    let took = began.elapsed().as_secs_f64();
    let run_path = format!("/api/v2/accounts/1/runs/{run_id}/");
    let polls = sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == run_path)
        .count();
    // One poller polls at most every 0.5 s; the run took ~4 s.
    let one_poller = (took / 0.5).ceil() as usize + 3;
    eprintln!(
        "{client_requests} client requests over {took:.1}s → {polls} polls of dbt Cloud (one poller's bound {one_poller})"
    );
    assert!(
        client_requests > 200,
        "the clients did ask: {client_requests}"
    );
    assert!(
        polls <= one_poller,
        "{polls} polls of the run for {client_requests} client requests in {took:.1}s"
    );
}

#[test]
fn with_a_certificate_it_serves_https_and_the_cookie_is_secure() {
    let sandbox = support::sandbox(&[]);
    let dir = workdir();
    // A CA and a leaf it signs (webpki wants a chain, not a self-signed leaf).
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf = leaf_params.signed_by(&key_pair, &issuer).unwrap();
    let cert = format!("{}{}", leaf.pem(), ca.pem());
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
    let mut s = serve(
        &sandbox,
        dir.path(),
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    s.http = Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (code, status) = s.get("/api/dbt-cloud/status");
    assert_eq!(code, 200, "{status}");
    let r = s
        .http
        .get(s.url(&format!("/?key={}", s.key)))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));
    // Plain HTTP on the TLS port gets nothing.
    let plain = s.base.replace("https://", "http://");
    let r = Client::new()
        .get(format!("{plain}/api/dbt-cloud/status"))
        .bearer_auth(&s.key)
        .send();
    assert!(
        r.is_err(),
        "plain HTTP was answered: {:?}",
        r.map(|r| r.status())
    );
}

#[test]
fn when_dbt_cloud_fails_the_answer_is_a_502_that_says_so() {
    // Something on the access URL that is not dbt Cloud: a web server answering HTML.
    let html = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let html_url = format!("http://{}", html.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in html.incoming().flatten() {
            let mut conn = conn;
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = "<html><body>Welcome to nginx!</body></html>";
            let _ = std::io::Write::write_all(
                &mut conn,
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    let sandbox = support::sandbox(&[]);
    let dir = workdir();
    let s = serve(&sandbox, dir.path(), &[], &[]);
    let (code, body) = s.post(
        "/api/dbt-cloud/connect",
        &json!({ "token": TOKEN, "account_id": 1, "access_url": html_url }),
    );
    assert_error(code, &body, 502, "dbt_cloud_failed");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("HTML"),
        "{body}"
    );
    // An access URL that is not one is a 400, never echoed with credentials.
    let (code, body) = s.post(
        "/api/dbt-cloud/connect",
        &json!({ "token": TOKEN, "account_id": 1, "access_url": "ftp://user:secret@host/x" }),
    );
    assert_error(code, &body, 400, "bad_request");
    assert!(!body.to_string().contains("secret"), "{body}");
}

#[test]
fn during_a_slowloris_a_complete_request_is_served_at_once() {
    let sandbox = support::sandbox(&[]);
    let dir = workdir();
    let s = connected(&sandbox, dir.path());
    let addr = s.base.trim_start_matches("http://").to_string();
    // More trickling clients than serve keeps connections (512): each has sent half a head.
    let trickling: Vec<std::net::TcpStream> = (0..600)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(&addr).unwrap();
            std::io::Write::write_all(&mut c, b"GET /api/dbt-cloud/status HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            c
        })
        .collect();
    // A real request is answered long before the trickling clients' 10 s header timeout
    // would free their slots: connections still sending a head are the first to go.
    let quick = Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let r = quick
        .get(s.url("/api/dbt-cloud/status"))
        .bearer_auth(&s.key)
        .send()
        .expect("answered while 600 clients trickle their heads");
    assert_eq!(r.status(), 200);
    // The oldest trickling client was dropped for the newer ones.
    let mut oldest = &trickling[0];
    oldest
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    match std::io::Read::read(&mut oldest, &mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the oldest trickling connection is still open: {other:?}"),
    }
}

#[test]
fn a_failed_run_is_retried_once_as_the_cli_would_and_a_malformed_commit_is_refused() {
    // dbt 1.5 cannot `dbt retry`: the retry is a new run selecting the failed node and its
    // children, the route `--retries` takes when dbt Cloud's own retry is refused.
    let mut fixture =
        Fixture::from_yaml_str(support::FIXTURE, "tests/support FIXTURE").expect("fixture");
    fixture.job_mut(2).expect("job 2").dbt_version = Some("1.5.0-latest".into());
    let sandbox = Sandbox::start(SandboxOptions::default().with_fixture(fixture)).unwrap();
    let dir = workdir();
    let s = connected(&sandbox, dir.path());
    let (code, status) = s.get("/api/dbt-cloud/status");
    assert_eq!(code, 200);
    conforms("Status", &status);
    assert_eq!(status["account_id"], 1, "{status}");
    assert_eq!(status["local_commit"], Value::Null, "not in a repository");

    // What is not a commit or a branch never reaches dbt Cloud.
    for (body, says) in [
        (json!({ "job_id": 1, "git_sha": "8b04de" }), "7 to 40"),
        (json!({ "job_id": 1, "git_sha": "main" }), "7 to 40"),
        (
            json!({ "job_id": 1, "git_branch": "a b" }),
            "not a valid branch",
        ),
        (
            json!({ "job_id": 1, "git_branch": "-x" }),
            "not a valid branch",
        ),
        (
            json!({ "job_id": 1, "git_branch": "x.lock" }),
            "not a valid branch",
        ),
    ] {
        let (code, err) = s.post("/api/dbt-cloud/trigger-run", &body);
        assert_error(code, &err, 400, "bad_request");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert!(sandbox.runs().is_empty(), "{:?}", sandbox.runs());

    let (code, t) = s.post(
        "/api/dbt-cloud/trigger-run",
        &json!({ "job_id": 2, "git_branch": "feature/orders" }),
    );
    assert_eq!(code, 200, "{t}");
    let failed = t["run"]["id"].as_i64().unwrap();
    let events = s.events(failed);
    let (name, verdict) = events.last().expect("a verdict");
    assert_eq!(name, "verdict");
    conforms("RunView", verdict);
    assert_eq!(verdict["status"], "Error");
    let skipped: Vec<&str> = verdict["skipped_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        skipped.iter().any(|id| id.ends_with(".stg_customers")),
        "{verdict}"
    );
    let tail = verdict["log_tail"].as_array().unwrap();
    assert!(!tail.is_empty(), "{verdict}");
    assert_eq!(verdict["href_text"], "Open in the sandbox");

    let (code, retried) = s.post(&format!("/api/dbt-cloud/runs/{failed}/retry"), &json!({}));
    assert_eq!(code, 200, "{retried}");
    conforms("Retried", &retried);
    assert_eq!(retried["retry_of"], failed);
    assert_eq!(retried["plan"]["detail"]["route"]["kind"], "selected");
    let new_id = retried["run"]["id"].as_i64().unwrap();
    let new_run = sandbox.run(new_id).expect("the retry in the sandbox");
    assert_eq!(new_run.job_id, 2);
    assert_eq!(
        new_run.trigger.steps_override,
        Some(vec!["dbt build --select stg_orders+".to_string()]),
        "the failed node and its children"
    );
    assert_eq!(
        new_run.trigger.git_branch.as_deref(),
        Some("feature/orders")
    );

    // Asked again (a second click, another tab): the same retry, not a second one.
    let (code, again) = s.post(&format!("/api/dbt-cloud/runs/{failed}/retry"), &json!({}));
    assert_eq!(code, 200, "{again}");
    conforms("Retried", &again);
    assert_eq!(again["run"]["id"], new_id);
    assert_eq!(again["adopted"], true);
    assert_eq!(sandbox.runs().len(), 2, "{:?}", sandbox.runs());

    // Only a run that ended in Error is retried.
    let (code, t) = s.post("/api/dbt-cloud/trigger-run", &json!({ "job_id": 1 }));
    assert_eq!(code, 200, "{t}");
    let ok = t["run"]["id"].as_i64().unwrap();
    assert_eq!(s.events(ok).last().unwrap().1["status"], "Success");
    let (code, err) = s.post(&format!("/api/dbt-cloud/runs/{ok}/retry"), &json!({}));
    assert_error(code, &err, 409, "not_failed");
    let (code, err) = s.post(
        &format!("/api/dbt-cloud/runs/{failed}/retry"),
        &json!({ "confirm": true }),
    );
    assert_error(code, &err, 400, "bad_request");
    assert_eq!(sandbox.runs().len(), 3, "{:?}", sandbox.runs());
}
