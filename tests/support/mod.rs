//! The world a dbt-run/cloud test needs: a sandbox on 127.0.0.1:0 with a small fixture, a
//! hermetic working directory, and a runner that checks, on every invocation, that the
//! token never appears in stdout or stderr.

#![allow(dead_code)]

pub mod rogue;
pub mod webdriver;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use datachonk::sandbox::{Fixture, RunSummary, RunningSandbox, Sandbox, SandboxOptions};

/// Obviously fake tokens.
pub const TOKEN: &str = "fake-admin-token-5b2e91";
pub const READ_ONLY_TOKEN: &str = "fake-readonly-token-0c7d";

/// Jobs: 1 succeeds fast, 2 errors with failing nodes, 3 runs slowly (for timeouts and
/// cancellation), 4 ends Cancelled.
pub const FIXTURE: &str = r#"
accounts: [{id: 1, name: Test Analytics}]
projects: [{id: 1, account_id: 1, name: analytics}]
environments: [{id: 1, project_id: 1, name: Production}]
jobs:
  - id: 1
    project_id: 1
    environment_id: 1
    name: CI validate
    execute_steps: ["dbt build --select state:modified+ --defer --state ./prod-manifest"]
    run: {queued_ms: 30, starting_ms: 30, step_ms: 40, step_durations_ms: {4: 1200}}
  - id: 2
    project_id: 1
    environment_id: 1
    name: Broken
    execute_steps: ["dbt build"]
    models: [stg_orders, stg_customers]
    run:
      queued_ms: 20
      starting_ms: 20
      step_ms: 30
      outcome: error
      failing_step: 4
      failures:
        - node: stg_orders
          message: column "amount" does not exist
  - id: 3
    project_id: 1
    environment_id: 1
    name: Slow
    execute_steps: ["dbt build"]
    run: {queued_ms: 50, starting_ms: 50, step_ms: 20000}
  - id: 4
    project_id: 1
    environment_id: 1
    name: Cancelled by someone
    execute_steps: ["dbt build"]
    run: {queued_ms: 20, starting_ms: 20, step_ms: 30, outcome: cancelled}
tokens:
  - {token: fake-admin-token-5b2e91, permissions: account_admin}
  - {token: fake-readonly-token-0c7d, permissions: read_only}
"#;

pub fn sandbox(faults: &[&str]) -> RunningSandbox {
    let fixture = Fixture::from_yaml_str(FIXTURE, "tests/support FIXTURE").expect("fixture parses");
    let mut options = SandboxOptions::default().with_fixture(fixture);
    for f in faults {
        options = options.with_fault(f).expect("fault spec");
    }
    Sandbox::start(options).expect("sandbox starts")
}

/// The sandbox of [`FIXTURE`], except that job 1's runs report they built `sha`, whatever
/// commit they were asked for (a dbt Cloud that checked out something else).
pub fn sandbox_building(sha: &str) -> RunningSandbox {
    let yaml = FIXTURE.replacen(
        "run: {queued_ms: 30, starting_ms: 30, step_ms: 40, step_durations_ms: {4: 1200}}",
        &format!("run: {{queued_ms: 10, starting_ms: 10, step_ms: 10, builds_sha: {sha}}}"),
        1,
    );
    assert_ne!(yaml, FIXTURE, "job 1's run line moved");
    let fixture =
        Fixture::from_yaml_str(&yaml, "a job building another sha").expect("fixture parses");
    Sandbox::start(SandboxOptions::default().with_fixture(fixture)).expect("sandbox starts")
}

/// The result of one datachonk invocation.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The outcome of a finished datachonk, after asserting `token` appears nowhere in it.
    pub fn checked(out: Output, token: &str) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_no_token(&run, token);
        run
    }
}

/// Run datachonk against `sandbox` in `dir` with `token`, hermetically (no inherited
/// DBT_CLOUD_* variables, no colour), and assert the token appears nowhere in its output.
pub fn datachonk_with(
    sandbox: &RunningSandbox,
    dir: &Path,
    token: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SSL_CERT_FILE")
        .env_remove("DATACHONK_CA_CERT");
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd.env("DBT_CLOUD_ACCESS_URL", sandbox.base_url())
        .env("DBT_CLOUD_API_TOKEN", token)
        .env("DBT_CLOUD_ACCOUNT_ID", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).timeout(Duration::from_secs(120));
    Run::checked(cmd.output().expect("datachonk runs"), token)
}

pub fn datachonk(sandbox: &RunningSandbox, dir: &Path, args: &[&str]) -> Run {
    datachonk_with(sandbox, dir, TOKEN, args, &[])
}

pub fn assert_no_token(run: &Run, token: &str) {
    if token.is_empty() {
        return;
    }
    assert!(
        !run.stdout.contains(token),
        "token leaked on stdout:\n{}",
        run.stdout
    );
    assert!(
        !run.stderr.contains(token),
        "token leaked on stderr:\n{}",
        run.stderr
    );
}

/// Wait (bounded) until `pred` holds for the sandbox's runs; returns them.
pub fn wait_for_runs(
    sandbox: &RunningSandbox,
    what: &str,
    pred: impl Fn(&[RunSummary]) -> bool,
) -> Vec<RunSummary> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = sandbox.runs();
        if pred(&runs) {
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; runs: {runs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// datachonk started in the background against `sandbox` (for long-running commands: `watch`,
/// `dbt-run --after-job`); stderr piped so a test can read what it says as it goes.
pub fn spawn_datachonk(sandbox: &RunningSandbox, dir: &Path, args: &[&str]) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_datachonk"));
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd.args(args)
        .current_dir(dir)
        .env("DBT_CLOUD_ACCESS_URL", sandbox.base_url())
        .env("DBT_CLOUD_API_TOKEN", TOKEN)
        .env("DBT_CLOUD_ACCOUNT_ID", "1")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("datachonk starts")
}

/// The exit status of `child`, failing the test when it has not exited within `limit`.
pub fn exit_within(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("child status") {
            return s;
        }
        assert!(
            Instant::now() < until,
            "{what}: still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    // A repository root, so the config search stops here.
    std::fs::create_dir(dir.path().join(".git")).expect(".git");
    dir
}

/// A trigger's cause without datachonk's per-invocation marker (` [dc:1a2b3c4d]`), after
/// checking the marker is there.
pub fn without_marker(cause: &str) -> &str {
    let (words, marker) = cause
        .rsplit_once(" [dc:")
        .unwrap_or_else(|| panic!("no run marker in the cause {cause:?}"));
    assert!(
        marker.len() == 9 && marker.ends_with(']'),
        "bad marker in {cause:?}"
    );
    words
}
