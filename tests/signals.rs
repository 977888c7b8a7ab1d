//! SIGTERM (what CI systems send on cancel) and SIGHUP (the terminal closed) end a long
//! command the way Ctrl-C does: the last status, the one `--json` document, the cancel when
//! asked — and exit 143 / 129 (128 + the signal), as README's exit codes say.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

fn spawn_json(
    sb: &datachonk::sandbox::RunningSandbox,
    dir: &std::path::Path,
    args: &[&str],
) -> std::process::Child {
    spawn_json_in(sb, dir, args, &[])
}

/// [`spawn_json`] with `env` set (after the CI variables of the machine running the tests are
/// removed: each test says which CI it simulates).
fn spawn_json_in(
    sb: &datachonk::sandbox::RunningSandbox,
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_datachonk"));
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd.env_remove("GITHUB_ACTIONS").env_remove("GITLAB_CI");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args)
        .current_dir(dir)
        .env("DBT_CLOUD_ACCESS_URL", sb.base_url())
        .env("DBT_CLOUD_API_TOKEN", TOKEN)
        .env("DBT_CLOUD_ACCOUNT_ID", "1")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("datachonk starts")
}

fn signal(child: &std::process::Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success());
}

/// `dbt-run --wait --json --cancel-on-interrupt` on the slow job, stopped by `name` once the
/// run is running: exit code, the document, and the run really cancelled.
fn stopped_by(name: &str, code: i32) {
    let sb = sandbox(&[]);
    let dir = workdir();
    let mut child = spawn_json(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "3",
            "--wait",
            "--json",
            "--cancel-on-interrupt",
        ],
    );
    // Running (step 1 started): the waiter is past the trigger.
    wait_for_runs(&sb, "a running run of job 3", |runs| {
        runs.iter()
            .any(|r| r.job_id == 3 && r.status_humanized == "Running")
    });
    signal(&child, name);
    let status = exit_within(&mut child, Duration::from_secs(30), name);
    let (stdout, stderr) = outputs(&mut child);
    assert_eq!(status.code(), Some(code), "{name}: {stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{name}: one JSON document ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(doc["outcome"], "interrupted", "{doc}");
    assert_eq!(doc["cancelled_by_datachonk"], true, "{doc}");
    assert_eq!(doc["run"]["status_humanized"], "Cancelled", "{doc}");
    assert!(stderr.contains(&format!("Interrupted ({name}")), "{stderr}");
    let run = &sb.runs()[0];
    assert_eq!(
        run.status_humanized, "Cancelled",
        "the cancel was applied: {run:?}"
    );
}

#[test]
fn sigterm_ends_dbt_run_like_ctrl_c_with_exit_143() {
    stopped_by("SIGTERM", 143);
}

/// `dbt-run --wait --json` on the slow job under a simulated CI, stopped by SIGTERM once it
/// runs: the run's status afterwards.
fn ci_cancel(env: &[(&str, &str)], extra: &[&str]) -> String {
    let sb = sandbox(&[]);
    let dir = workdir();
    let mut args = vec!["dbt-run", "--job-id", "3", "--wait", "--json"];
    args.extend_from_slice(extra);
    let mut child = spawn_json_in(&sb, dir.path(), &args, env);
    wait_for_runs(&sb, "a running run of job 3", |runs| {
        runs.iter()
            .any(|r| r.job_id == 3 && r.status_humanized == "Running")
    });
    signal(&child, "SIGTERM");
    let status = exit_within(&mut child, Duration::from_secs(30), "SIGTERM");
    let (stdout, stderr) = outputs(&mut child);
    assert_eq!(status.code(), Some(143), "{stdout}\n{stderr}");
    // A run left going stops with the sandbox, at the end of this function.
    sb.runs()[0].status_humanized.clone()
}

#[test]
fn a_cancelled_ci_pipeline_cancels_the_run_unless_told_to_leave_it() {
    // Without --cancel-on-interrupt: GitHub Actions and GitLab CI cancel by default.
    for ci in [("GITHUB_ACTIONS", "true"), ("GITLAB_CI", "true")] {
        assert_eq!(ci_cancel(&[ci], &[]), "Cancelled", "{ci:?}");
    }
    // Told to leave it, and outside CI, the run goes on.
    assert_eq!(
        ci_cancel(&[("GITHUB_ACTIONS", "true")], &["--no-cancel-on-interrupt"]),
        "Running"
    );
    assert_eq!(ci_cancel(&[], &[]), "Running");
}

#[test]
fn sighup_ends_dbt_run_like_ctrl_c_with_exit_129() {
    stopped_by("SIGHUP", 129);
}

/// stdout and stderr of an ended child.
fn outputs(child: &mut std::process::Child) -> (String, String) {
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (stdout, stderr)
}

#[test]
fn sigterm_ends_runs_wait_like_ctrl_c_with_exit_143() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let triggered = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "3", "--json"]);
    assert_eq!(triggered.code, 0, "{}", triggered.stderr);
    let mut child = spawn_json(&sb, dir.path(), &["cloud", "runs", "wait", "1", "--json"]);
    wait_for_runs(&sb, "run 1 running", |runs| {
        runs.iter().any(|r| r.status_humanized == "Running")
    });
    signal(&child, "SIGTERM");
    let status = exit_within(&mut child, Duration::from_secs(30), "runs wait");
    let (stdout, stderr) = outputs(&mut child);
    assert_eq!(status.code(), Some(143), "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}):\n{stdout}\n{stderr}"));
    assert!(doc.to_string().contains("interrupted"), "{doc}");
    // The run was started elsewhere: stopping the wait leaves it running.
    let runs = sb.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status_humanized, "Running", "{:?}", runs[0]);
}

/// `datachonk sandbox` and `datachonk serve` stop the same way on each stop signal: they say
/// so, close their port and exit 0 (a server asked to stop has done its job).
fn server_stops(args: &[&str], name: &str) {
    let sb = sandbox(&[]);
    let dir = workdir();
    let mut child = spawn_json(&sb, dir.path(), args);
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    let addr = url
        .trim_start_matches("http://")
        .split(['/', '?'])
        .next()
        .unwrap()
        .to_string();
    assert!(
        std::net::TcpStream::connect(&addr).is_ok(),
        "{addr} is served"
    );
    signal(&child, name);
    let status = exit_within(&mut child, Duration::from_secs(30), name);
    let (_, stderr) = outputs(&mut child);
    assert_eq!(status.code(), Some(0), "{name}: {stderr}");
    assert!(stderr.contains("stopping"), "{name}: {stderr}");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "{name}: {addr} still accepts connections"
    );
}

#[test]
fn sigterm_and_sighup_stop_the_sandbox_and_serve_as_ctrl_c_does() {
    for name in ["SIGTERM", "SIGHUP", "SIGINT"] {
        server_stops(&["sandbox", "--addr", "127.0.0.1:0"], name);
        server_stops(&["serve", "--addr", "127.0.0.1:0"], name);
    }
}

#[test]
fn sigterm_ends_a_generate_waiting_for_another_at_once_writing_nothing() {
    let dir = workdir();
    let p = dir.path();
    std::fs::write(
        p.join("dbt_project.yml"),
        "name: shop\nversion: \"1.0\"\nconfig-version: 2\nprofile: shop\n",
    )
    .unwrap();
    std::fs::create_dir_all(p.join(".datachonk")).unwrap();
    let sources =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sources.yml");
    // Another generate holds the project (the OS's flock on `.datachonk/`, as datachonk takes it).
    let lock = std::fs::File::open(p.join(".datachonk")).unwrap();
    // SAFETY: the descriptor is open while `lock` lives.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) },
        0
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_datachonk"))
        .args(["generate", "--from-sources"])
        .arg(&sources)
        .current_dir(p)
        .env("NO_COLOR", "1")
        .env("DATACHONK_LOCK_WAIT", "600")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting for another datachonk generate") {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "generate ended before waiting: {said}");
        said.push_str(&line);
    }
    signal(&child, "SIGTERM");
    let status = exit_within(&mut child, Duration::from_secs(30), "generate");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(143), "{said}{rest}");
    assert!(!p.join("models").exists(), "nothing written: {said}{rest}");
    drop(lock);
}
