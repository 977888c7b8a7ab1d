//! Third-party dbt Cloud clients, unmodified, against the sandbox over HTTPS.
//!
//! dbt-cloud-cli (`dbt-cloud`) and dbtc hard-code `https://{DBT_CLOUD_HOST}`; they are pointed
//! at a `--tls` sandbox with environment variables only, trusting its certificate through
//! `REQUESTS_CA_BUNDLE`. Assertions cover their exit codes and output and the sandbox's
//! request log (auth scheme, statuses).
//!
//! The clients come from `bash scripts/setup-test-deps` (a virtualenv at
//! `~/.cache/datachonk/clients-venv`, or `$DATACHONK_TEST_CLIENTS_VENV`). Without them these
//! tests FAIL with that instruction: they never pass silently.

mod sandbox_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use datachonk::sandbox::{RequestRecord, RunStatus, RunningSandbox};
use sandbox_support::*;
use serde_json::{json, Value};

/// A client run can take a dbt-cloud-cli poll (5 s) or two; anything past this is a hang.
const CLIENT_DEADLINE: Duration = Duration::from_secs(90);

fn clients_venv() -> PathBuf {
    std::env::var_os("DATACHONK_TEST_CLIENTS_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/datachonk/clients-venv"))
        })
        .expect("HOME is not set (and DATACHONK_TEST_CLIENTS_VENV neither)")
}

/// A client executable from the venv, or a failure saying how to install it.
fn client(name: &str) -> PathBuf {
    let path = clients_venv().join("bin").join(name);
    assert!(
        path.is_file(),
        "`{name}` is not installed at {} (nor under $DATACHONK_TEST_CLIENTS_VENV): \
         run `bash scripts/setup-test-deps`",
        path.display()
    );
    path
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Where the clients are told the sandbox is, through their environment only.
struct ClientEnv {
    vars: Vec<(&'static str, String)>,
    dir: tempfile::TempDir,
}

impl ClientEnv {
    fn for_sandbox(sandbox: &RunningSandbox) -> ClientEnv {
        let ca = sandbox
            .ca_path()
            .expect("a --tls sandbox has a certificate file");
        Self::new(sandbox.addr().port(), ca)
    }

    fn new(port: u16, ca: &Path) -> ClientEnv {
        let host = format!("127.0.0.1:{port}");
        ClientEnv {
            vars: vec![
                ("DBT_CLOUD_HOST", host),
                ("DBT_CLOUD_API_TOKEN", TOKEN.into()),
                ("DBT_CLOUD_ACCOUNT_ID", "1".into()),
                ("DBT_CLOUD_PROJECT_ID", "1".into()),
                ("DBT_CLOUD_JOB_ID", JOB_OK.to_string()),
                ("REQUESTS_CA_BUNDLE", ca.display().to_string()),
                // dbtc's CLI shares one session between its admin, metadata and semantic
                // layer clients; the last one sets `Authorization: Bearer <service token>`,
                // so its CLI only authenticates with DBT_CLOUD_SERVICE_TOKEN (an API key
                // alone sends `Bearer None`, a 401 from dbt Cloud too).
                ("DBT_CLOUD_SERVICE_TOKEN", TOKEN.into()),
                ("PYTHONIOENCODING", "utf-8".into()),
                ("COLUMNS", "200".into()),
            ],
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn with(mut self, key: &'static str, value: impl Into<String>) -> ClientEnv {
        self.vars.retain(|(k, _)| *k != key);
        self.vars.push((key, value.into()));
        self
    }

    /// Run `program args` with a clean environment (PATH and HOME kept, nothing else from
    /// the test's own, so a developer's real DBT_CLOUD_* never leaks in); output goes to
    /// files so a large artifact cannot fill a pipe; killed after [`CLIENT_DEADLINE`].
    fn run(&self, program: &Path, args: &[&str]) -> Out {
        let out_path = self.dir.path().join("stdout");
        let err_path = self.dir.path().join("stderr");
        let file = |p: &Path| std::fs::File::create(p).expect("output file");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(file(&out_path))
            .stderr(file(&err_path));
        for key in ["PATH", "HOME"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.envs(self.vars.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let deadline = Instant::now() + CLIENT_DEADLINE;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{} {args:?} did not finish in time", program.display());
                }
            }
        };
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        Out {
            code: status.code(),
            stdout: read(&out_path),
            stderr: read(&err_path),
        }
    }

    /// Run and require exit 0 and a successful dbt Cloud envelope on stdout.
    fn ok(&self, program: &Path, args: &[&str]) -> Value {
        let out = self.run(program, args);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.describe());
        let body = out.json();
        assert_eq!(
            body["status"]["is_success"],
            true,
            "{args:?}: {}",
            out.describe()
        );
        body["data"].clone()
    }
}

/// Every logged request answered 200 and carried `scheme` credentials.
fn assert_clean_log(log: &[RequestRecord], scheme: &str) {
    assert!(!log.is_empty(), "the client reached the sandbox");
    for r in log {
        assert_eq!(r.status, 200, "{}", r.log_line());
        assert_eq!(r.auth_scheme.as_deref(), Some(scheme), "{}", r.log_line());
    }
}

#[test]
fn dbt_cloud_cli_job_run_wait_succeeds_against_the_binary() {
    let dbt_cloud = client("dbt-cloud");
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("sandbox-ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_datachonk"))
        .args([
            "sandbox",
            "--tls",
            "--addr",
            "127.0.0.1:0",
            "--token",
            TOKEN,
        ])
        .arg("--tls-cert-out")
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    let url = first.trim().to_string();
    let port: u16 = url
        .strip_prefix("https://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("first stdout line is the https base URL: {url:?}"));

    let env = ClientEnv::new(port, &ca);
    let out = env.run(&dbt_cloud, &["job", "run", "--wait"]);
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");

    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(out.stderr.contains(": SUCCESS"), "{}", out.describe());
    let run = out.json()["data"].clone();
    assert_eq!(run["status"], RunStatus::Success.code(), "{run}");
    assert_eq!(run["job_definition_id"], 1);

    assert!(
        stderr.contains(&format!("REQUESTS_CA_BUNDLE={}", ca.display())),
        "the binary names the certificate to trust: {stderr}"
    );
    assert!(
        stderr.contains("POST /api/v2/accounts/1/jobs/1/run/ -> 200"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "token leaked to the log: {stderr}");
}

#[test]
fn dbt_cloud_cli_job_run_wait_exits_non_zero_on_a_failing_run() {
    let dbt_cloud = client("dbt-cloud");
    let sandbox = tls_sandbox();
    let env = ClientEnv::for_sandbox(&sandbox).with("DBT_CLOUD_JOB_ID", JOB_ERROR.to_string());
    let out = env.run(&dbt_cloud, &["job", "run", "--wait"]);
    assert_eq!(out.code, Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains("Job run failed with ERROR status"),
        "{}",
        out.describe()
    );
    assert_eq!(out.json()["data"]["status"], RunStatus::Error.code());
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Error);
    assert_clean_log(&sandbox.requests(), "Token");
}

#[test]
fn dbt_cloud_cli_reads_everything_and_cancels() {
    let dbt_cloud = client("dbt-cloud");
    let sandbox = tls_sandbox();
    let api = Api {
        http: trusting_client(&sandbox),
        ..Api::new(&sandbox.base_url())
    };
    let done = api.trigger(JOB_OK, "for dbt-cloud-cli to read");
    api.wait_terminal(done);
    let long = api.trigger(JOB_LONG, "for dbt-cloud-cli to cancel");
    sandbox.reset_log();
    let env = ClientEnv::for_sandbox(&sandbox);
    let dc = |args: &[&str]| env.ok(&dbt_cloud, args);

    assert_eq!(
        ids(&dc(&["job", "list"])),
        vec![JOB_OK, JOB_ERROR, JOB_CANCELLED, JOB_SLOW, JOB_LONG]
    );
    assert_eq!(dc(&["job", "get"])["id"], JOB_OK);
    let run = dc(&["run", "get", "--run-id", &done.to_string()]);
    assert_eq!(run["id"], done);
    assert_eq!(run["status_humanized"], "Success");
    let listed = ids(&dc(&["run", "list"]));
    assert!(
        listed.contains(&done) && listed.contains(&long),
        "{listed:?}"
    );
    let artifacts = dc(&["run", "list-artifacts", "--run-id", &done.to_string()]);
    assert!(
        artifacts
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p == "manifest.json")),
        "{artifacts}"
    );
    assert_eq!(ids(&dc(&["project", "list"])), vec![1]);
    assert_eq!(ids(&dc(&["environment", "list"])), vec![1]);
    assert_eq!(dc(&["account", "get"])["id"], 1);

    // get-artifact writes the raw file (no envelope) to --file.
    let out = env.run(
        &dbt_cloud,
        &[
            "run",
            "get-artifact",
            "--run-id",
            &done.to_string(),
            "--path",
            "manifest.json",
            "--file",
            "manifest.json",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let manifest: Value = std::fs::read_to_string(env.dir.path().join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .expect("manifest.json written as JSON");
    assert!(
        manifest["nodes"].as_object().is_some_and(|n| !n.is_empty()),
        "manifest has nodes"
    );

    let cancelled = dc(&["run", "cancel", "--run-id", &long.to_string()]);
    assert_eq!(cancelled["id"], long);
    let end = api.wait_terminal(long);
    assert_eq!(end["status"], RunStatus::Cancelled.code(), "{end}");

    assert_clean_log(&sandbox.requests(), "Token");
}

#[test]
fn python_dbtc_works() {
    let dbtc = client("dbtc");
    let sandbox = tls_sandbox();
    let env = ClientEnv::for_sandbox(&sandbox);
    // --output FILE.json: dbtc writes the JSON there instead of pretty-printing it.
    let call = |args: &[&str]| -> Value {
        let mut full = vec!["--output", "out.json"];
        full.extend_from_slice(args);
        let out = env.run(&dbtc, &full);
        assert_eq!(out.code, Some(0), "dbtc {args:?}: {}", out.describe());
        let text = std::fs::read_to_string(env.dir.path().join("out.json")).unwrap_or_default();
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("dbtc {args:?} wrote no JSON ({e}): {}", out.describe()))
    };

    let run = call(&[
        "jobs",
        "trigger",
        "--job-id",
        &JOB_OK.to_string(),
        "--payload",
        r#"{"cause": "dbtc against the sandbox"}"#,
        "--poll-interval",
        "1",
    ]);
    assert_eq!(run["data"]["status_humanized"], "Success", "{run}");
    let run_id = run["data"]["id"].as_i64().expect("run id");
    assert_eq!(
        sandbox.run(run_id).map(|r| r.trigger.cause),
        Some("dbtc against the sandbox".to_string())
    );

    assert_eq!(call(&["accounts", "get"])["data"]["id"], 1);
    assert_eq!(ids(&call(&["jobs", "list"])["data"]).len(), 5);
    assert_eq!(
        call(&["runs", "get", "--run-id", &run_id.to_string()])["data"]["id"],
        run_id
    );
    let artifacts = call(&["runs", "list-artifacts", "--run-id", &run_id.to_string()]);
    assert!(
        artifacts["data"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p == "run_results.json")),
        "{artifacts}"
    );
    let results = call(&[
        "runs",
        "get-artifact",
        "--run-id",
        &run_id.to_string(),
        "--path",
        "run_results.json",
    ]);
    assert!(results["results"].is_array(), "raw run_results.json");

    assert_clean_log(&sandbox.requests(), "Bearer");
}

/// Job definitions written by a client other than the orchestrators that needed them:
/// dbt-cloud-cli's `job create` (a full spec-shaped body: settings, triggers, schedule, ...)
/// and `job delete` (which prints the deleted job from the envelope).
#[test]
fn dbt_cloud_cli_creates_and_deletes_a_job() {
    let dbt_cloud = client("dbt-cloud");
    let sandbox = tls_sandbox();
    let env = ClientEnv::for_sandbox(&sandbox).with("DBT_CLOUD_ENVIRONMENT_ID", "1");
    let created = env.ok(
        &dbt_cloud,
        &[
            "job",
            "create",
            "--name",
            "Made by dbt-cloud-cli",
            "--execute-steps",
            "['dbt seed', 'dbt build']",
        ],
    );
    let id = created["id"].as_i64().expect("job id");
    assert_eq!(created["execute_steps"], json!(["dbt seed", "dbt build"]));
    assert_eq!(
        sandbox.fixture().job(id).map(|j| j.name.clone()),
        Some("Made by dbt-cloud-cli".to_string())
    );
    let deleted = env.ok(&dbt_cloud, &["job", "delete", "--job-id", &id.to_string()]);
    assert_eq!(deleted["id"], id);
    assert_eq!(deleted["state"], 2);
    assert!(sandbox.fixture().job(id).is_none());
    assert_clean_log(&sandbox.requests(), "Token");
}
