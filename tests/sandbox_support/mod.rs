//! Shared helpers for the sandbox tests: a blocking HTTP client bound to a running sandbox,
//! fast fixtures, and bounded polling (no fixed sleeps as synchronisation).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use datachonk::sandbox::fixture::{
    FailureStatus, NodeFailure, Outcome, Permission, RunBehaviour, TokenFixture,
};
use datachonk::sandbox::{Fixture, RunningSandbox, Sandbox, SandboxOptions};
use serde_json::Value;

pub const TOKEN: &str = "test-token-not-real";
pub const READ_ONLY: &str = "read-only-token-not-real";
pub const OTHER_ACCOUNT: &str = "other-account-token-not-real";
pub const METADATA: &str = "metadata-token-not-real";

/// Job ids of [`fixture`].
pub const JOB_OK: i64 = 1;
pub const JOB_ERROR: i64 = 2;
pub const JOB_CANCELLED: i64 = 3;
pub const JOB_SLOW: i64 = 4;

/// A world with fast runs (tens of milliseconds): account 1 with four jobs (success, error,
/// cancelled by the fixture, slow), account 2 with nothing, and tokens of each permission.
pub fn fixture() -> Fixture {
    let mut f = Fixture::builtin(TOKEN);
    f.accounts
        .push(datachonk::sandbox::fixture::AccountFixture {
            id: 2,
            name: "Other Account".into(),
            plan: "team".into(),
            identifier: None,
        });
    let base = f.jobs[0].clone();
    f.jobs[0].run = RunBehaviour::uniform(15);
    let mut error = base.clone();
    error.id = JOB_ERROR;
    error.name = "Fails".into();
    error.execute_steps = vec!["dbt build".into(), "dbt test --select tag:nightly".into()];
    error.run = RunBehaviour {
        outcome: Outcome::Error,
        failing_step: Some(4),
        failures: vec![
            NodeFailure {
                node: "stg_orders".into(),
                message: "Database Error in model stg_orders (models/staging/stg_orders.sql)\n  column \"amount\" does not exist".into(),
                status: FailureStatus::Error,
            },
            NodeFailure {
                node: "not_null_stg_customers_id".into(),
                message: "Got 3 results, configured to fail if != 0".into(),
                status: FailureStatus::Fail,
            },
        ],
        ..RunBehaviour::uniform(15)
    };
    let mut cancelled = base.clone();
    cancelled.id = JOB_CANCELLED;
    cancelled.name = "Gets cancelled".into();
    cancelled.run = RunBehaviour {
        outcome: Outcome::Cancelled,
        ..RunBehaviour::uniform(15)
    };
    let mut slow = base;
    slow.id = JOB_SLOW;
    slow.name = "Slow".into();
    slow.generate_docs = true;
    slow.run = RunBehaviour {
        queued_ms: 30,
        starting_ms: 30,
        step_ms: 150,
        ..RunBehaviour::default()
    };
    f.jobs.extend([error, cancelled, slow]);
    f.tokens.extend([
        TokenFixture {
            token: READ_ONLY.into(),
            permissions: Permission::ReadOnly,
            accounts: Some(vec![1]),
        },
        TokenFixture {
            token: OTHER_ACCOUNT.into(),
            permissions: Permission::JobAdmin,
            accounts: Some(vec![2]),
        },
        TokenFixture {
            token: METADATA.into(),
            permissions: Permission::MetadataOnly,
            accounts: None,
        },
    ]);
    f
}

pub fn start() -> RunningSandbox {
    start_with(SandboxOptions::default().with_fixture(fixture()))
}

pub fn start_with(options: SandboxOptions) -> RunningSandbox {
    Sandbox::start(options).expect("sandbox starts")
}

pub fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

/// A tiny blocking client for one sandbox.
pub struct Api {
    pub base: String,
    pub http: reqwest::blocking::Client,
    pub auth: Option<String>,
}

/// What came back.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn data(&self) -> Value {
        self.json()["data"].clone()
    }
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            http: client(),
            auth: Some(format!("Token {TOKEN}")),
        }
    }

    pub fn with_auth(&self, header: Option<&str>) -> Api {
        Api {
            base: self.base.clone(),
            http: self.http.clone(),
            auth: header.map(str::to_string),
        }
    }

    pub fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<Reply> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send()?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text()?;
        Ok(Reply {
            status,
            headers,
            text,
        })
    }

    pub fn get(&self, path: &str) -> Reply {
        self.try_send(reqwest::Method::GET, path, None)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub fn post(&self, path: &str, body: Value) -> Reply {
        self.try_send(reqwest::Method::POST, path, Some(body))
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub fn post_empty(&self, path: &str) -> Reply {
        self.try_send(reqwest::Method::POST, path, None)
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Trigger a job; returns the new run's id.
    pub fn trigger(&self, job: i64, cause: &str) -> i64 {
        let r = self.post(
            &format!("/api/v2/accounts/1/jobs/{job}/run/"),
            serde_json::json!({"cause": cause}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.data()["id"].as_i64().expect("run id")
    }

    /// Poll a run until it is terminal (bounded: 10 s), returning its last body.
    pub fn wait_terminal(&self, run: i64) -> Value {
        self.wait_until(run, |d| d["is_complete"] == Value::Bool(true))
    }

    pub fn wait_until(&self, run: i64, mut done: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let d = self
                .get(&format!(
                    "/api/v2/accounts/1/runs/{run}/?include_related=run_steps,trigger,job"
                ))
                .data();
            if done(&d) {
                return d;
            }
            assert!(Instant::now() < deadline, "run {run} stuck: {d}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A job whose runs stay running for a minute: something for third-party clients to cancel
/// however slowly they start.
pub const JOB_LONG: i64 = 5;

/// The support fixture plus [`JOB_LONG`], served over HTTPS with a throwaway CA (clients that
/// hard-code `https://` work unmodified).
pub fn tls_sandbox() -> RunningSandbox {
    let mut f = fixture();
    let mut long = f
        .jobs
        .iter()
        .find(|j| j.id == JOB_SLOW)
        .cloned()
        .expect("the support fixture has a slow job");
    long.id = JOB_LONG;
    long.name = "Long".into();
    long.run.step_ms = 60_000;
    f.jobs.push(long);
    start_with(
        SandboxOptions::default()
            .with_fixture(f)
            .with_tls(datachonk::sandbox::TlsMode::SelfSigned),
    )
}

/// The `id`s of a list of objects, in order.
pub fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .map(|a| a.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// A client that trusts the TLS sandbox's throwaway CA (and nothing else added).
pub fn trusting_client(sandbox: &RunningSandbox) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = sandbox.ca_pem().expect("TLS sandbox");
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_merge([reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM")])
        .build()
        .expect("client builds")
}

/// The Python of a client's virtualenv made by `scripts/setup-test-deps`: `$VENV_VAR`, else
/// `~/.cache/datachonk/DEFAULT_DIR`. Fails (never skips) when `module` is not installed there.
pub fn client_python(venv_var: &str, default_dir: &str, module: &str) -> std::path::PathBuf {
    let venv = std::env::var_os(venv_var)
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| {
                std::path::PathBuf::from(h)
                    .join(".cache/datachonk")
                    .join(default_dir)
            })
        })
        .unwrap_or_else(|| panic!("HOME is not set (and {venv_var} neither)"));
    let python = venv.join("bin/python");
    let check =
        format!("import importlib.util as u, sys; sys.exit(u.find_spec('{module}') is None)");
    let installed = std::process::Command::new(&python)
        .args(["-c", &check])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "{module} is not installed in {} (nor under ${venv_var}): run `bash scripts/setup-test-deps`",
        venv.display()
    );
    python
}

/// What a client driver script wrote: its JSON document, and its output for diagnostics.
pub struct Driven {
    pub out: Value,
    pub stdout: String,
    pub stderr: String,
}

/// Run `python tests/clients/SCRIPT ARGS... OUT.json` in a temp dir with a clean environment
/// (PATH and HOME from ours, plus `envs`), killed after `deadline`. A non-zero exit fails the
/// test with the driver's output and the sandbox's request log.
pub fn drive_client(
    sandbox: &RunningSandbox,
    python: &std::path::Path,
    script: &str,
    args: &[String],
    envs: &[(&str, std::ffi::OsString)],
    deadline: Duration,
) -> Driven {
    use std::path::Path;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    let out_json = dir.path().join("out.json");
    let (so, se) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let file = |p: &Path| std::fs::File::create(p).expect("output file");
    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .args(args)
        .arg(&out_json)
        .env_clear()
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(file(&so))
        .stderr(file(&se));
    for key in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    // No __pycache__ in the source tree.
    cmd.env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("python starts");
    let until = Instant::now() + deadline;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
                panic!(
                    "the driver {} did not finish in {deadline:?}\n--- stderr\n{}",
                    script.display(),
                    read(&se)
                );
            }
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (stdout, stderr) = (read(&so), read(&se));
    assert!(
        status.success(),
        "driver exited {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- sandbox log\n{}",
        sandbox
            .requests()
            .iter()
            .map(|r| r.log_line())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let out = serde_json::from_str(&read(&out_json))
        .unwrap_or_else(|e| panic!("driver wrote no JSON ({e})\n{stderr}"));
    Driven {
        out,
        stdout,
        stderr,
    }
}
