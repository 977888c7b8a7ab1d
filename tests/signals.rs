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
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_datachonk"));
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
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

#[test]
fn sighup_ends_dbt_run_like_ctrl_c_with_exit_129() {
    stopped_by("SIGHUP", 129);
}
