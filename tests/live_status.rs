//! A wait that shows life on a terminal (issue 23 §1): under a pseudo-terminal `dbt-run
//! --wait` draws a live status line — spinner, run, status, the running step and its time,
//! the run's time in all — redrawn in place (carriage return and erase, never appended),
//! with the state-change lines above it and nothing of it left before the verdict. Without a
//! terminal the same run prints plain lines only. Each test is driven by the sandbox's
//! fixture timings and reads until the command ends; no sleeps.

#![cfg(unix)]

mod support;

use std::process::Command;
use std::time::Duration;

use datachonk::sandbox::{Fixture, RunningSandbox, Sandbox, SandboxOptions};
use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};
use support::{datachonk_with, workdir, TOKEN};

/// Job 1's dbt step runs 3.5 s (long enough for its time to tick past 2 s) and its name
/// carries an OSC title sequence, as outside text may. Job 2 is quick; job 3 waits in the
/// queue for 2.5 s; job 4 fails once, then passes.
const FIXTURE: &str = r#"
accounts: [{id: 1, name: Test Analytics}]
projects: [{id: 1, account_id: 1, name: analytics}]
environments: [{id: 1, project_id: 1, name: Production}]
jobs:
  - id: 1
    project_id: 1
    environment_id: 1
    name: Long parse
    execute_steps: ["dbt parse \e]0;pwned\a"]
    run: {queued_ms: 200, starting_ms: 200, step_ms: 50, step_durations_ms: {4: 3500}}
  - id: 2
    project_id: 1
    environment_id: 1
    name: Quick
    execute_steps: ["dbt parse"]
    run: {queued_ms: 100, starting_ms: 100, step_ms: 100}
  - id: 3
    project_id: 1
    environment_id: 1
    name: Queued long
    execute_steps: ["dbt parse"]
    run: {queued_ms: 2500, starting_ms: 100, step_ms: 100}
  - id: 4
    project_id: 1
    environment_id: 1
    name: Flaky
    execute_steps: ["dbt build"]
    run: {queued_ms: 100, starting_ms: 100, step_ms: 300, step_durations_ms: {4: 1500}, outcome: error, fail_times: 1}
tokens:
  - {token: fake-admin-token-5b2e91, permissions: account_admin}
"#;

/// What indicatif writes to take its line back: carriage return, then erase the line.
const ERASE: &str = "\r\x1b[2K";

fn sandbox() -> RunningSandbox {
    let fixture = Fixture::from_yaml_str(FIXTURE, "live_status FIXTURE").unwrap();
    Sandbox::start(SandboxOptions::default().with_fixture(fixture)).unwrap()
}

/// Run datachonk on a pseudo-terminal (stdout and stderr both on it) to its end: exit code
/// and everything the terminal received.
fn on_a_terminal(sb: &RunningSandbox, args: &[&str]) -> (i32, String) {
    let dir = workdir();
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("datachonk"));
    cmd.current_dir(dir.path())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env_remove("SSL_CERT_FILE")
        .env_remove("DATACHONK_CA_CERT");
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd.env("DBT_CLOUD_ACCESS_URL", sb.base_url())
        .env("DBT_CLOUD_API_TOKEN", TOKEN)
        .env("DBT_CLOUD_ACCOUNT_ID", "1")
        .args(args);
    let mut p = Session::spawn(cmd).expect("spawn on a pty");
    p.get_process_mut()
        .set_window_size(200, 40)
        .expect("window size");
    p.set_expect_timeout(Some(Duration::from_secs(120)));
    let seen = match p.expect(Eof) {
        Ok(c) => {
            let mut all = c.before().to_vec();
            for m in c.matches() {
                all.extend_from_slice(m);
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Err(e) => panic!("waiting for the end: {e}"),
    };
    match p.get_process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => (code, seen),
        other => panic!("datachonk did not exit normally: {other:?}\n{seen}"),
    }
}

/// A drawing of the live line starts with the spinner (a Braille pattern).
fn is_live(draw: &str) -> bool {
    draw.starts_with(|c: char| ('\u{2800}'..='\u{28ff}').contains(&c))
}

/// The live line was taken away before the verdict: what follows the last erase is no
/// drawing of it and holds the verdict.
fn cleared_before_the_verdict(seen: &str, verdict: &str) {
    let last = seen.rsplit(ERASE).next().unwrap_or_default();
    assert!(!is_live(last), "{last:?}");
    assert!(last.contains(verdict), "{last:?}");
}

#[test]
fn a_wait_on_a_terminal_redraws_one_live_line_and_plain_output_has_none() {
    let sb = sandbox();
    let (code, seen) = on_a_terminal(&sb, &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(code, 0, "{seen:?}");
    let step = "step 4 'Invoke dbt with `dbt parse \\u{1b}]0;pwned\\u{7}`'";
    // The step's time ticks on its own between polls: every second of the 3.5 s step shows.
    for secs in ["1s", "2s"] {
        let live = format!("Running · {step} {secs} · ");
        assert!(seen.contains(&live), "no {live:?} in {seen:?}");
    }
    assert!(seen.contains(" in all"), "{seen:?}");
    // Replaced in place: each redraw takes the line back first.
    let draws: Vec<&str> = seen.split(ERASE).filter(|d| is_live(d)).collect();
    assert!(draws.len() >= 4, "{seen:?}");
    assert!(draws.iter().all(|d| !d.contains('\n')), "{draws:?}");
    // The state-change lines are printed above it, whole: the line is taken back, the line
    // printed, and the live line drawn again below it.
    assert!(
        seen.contains(&format!(
            "{ERASE}  step 4 Invoke dbt with `dbt parse \\u{{1b}}]0;pwned\\u{{7}}`: running\r\n"
        )),
        "{seen:?}"
    );
    cleared_before_the_verdict(&seen, "SUCCESS run");
    // The outside text's own sequence never reaches the terminal.
    assert!(!seen.contains("\x1b]0;pwned"), "{seen:?}");

    // Without a terminal: the same run in plain lines, no live line, no redraws.
    let dir = workdir();
    let plain = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "1", "--wait"],
        &[],
    );
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(
        plain
            .stderr
            .contains("  step 4 Invoke dbt with `dbt parse \\u{1b}]0;pwned\\u{7}`: running"),
        "{}",
        plain.stderr
    );
    for out in [&plain.stderr, &plain.stdout] {
        assert!(!out.contains(['\r', '\x1b']), "{out:?}");
        assert!(!out.contains(" in all"), "{out:?}");
    }
}

#[test]
fn several_jobs_share_one_live_line_and_quiet_draws_none() {
    let sb = sandbox();
    let (code, seen) = on_a_terminal(
        &sb,
        &["dbt-run", "--job-id", "2", "--job-id", "3", "--wait"],
    );
    assert_eq!(code, 0, "{seen:?}");
    let draws: Vec<&str> = seen.split(ERASE).filter(|d| is_live(d)).collect();
    // Both runs on one line while both go; job 3 waits 2.5 s in the queue after job 2
    // finished: then it is shown alone.
    let both = draws
        .iter()
        .any(|d| d.contains("(job 2): ") && d.contains(" · run ") && d.contains("(job 3): "));
    assert!(both, "no line with both runs in {draws:?}");
    let alone = draws
        .iter()
        .any(|d| d.contains("(job 3): Queued · 2s in all") && !d.contains("(job 2)"));
    assert!(alone, "job 3 never shown alone in {draws:?}");
    cleared_before_the_verdict(&seen, "SUCCESS");

    let (code, quiet) = on_a_terminal(&sb, &["dbt-run", "--job-id", "2", "--wait", "--quiet"]);
    assert_eq!(code, 0, "{quiet:?}");
    assert!(
        !quiet.contains(ERASE) && !quiet.contains(" in all"),
        "{quiet:?}"
    );
    assert!(quiet.contains("SUCCESS run"), "{quiet:?}");
}

#[test]
fn runs_wait_and_a_retry_draw_the_live_line_too() {
    let sb = sandbox();
    // `cloud runs wait` on a run triggered elsewhere.
    let dir = workdir();
    let started = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "1", "--json"],
        &[],
    );
    assert_eq!(started.code, 0, "{}", started.stderr);
    let doc: serde_json::Value = serde_json::from_str(&started.stdout).expect("one JSON document");
    let run = doc["run"]["id"].as_i64().expect("the run's id").to_string();
    let (code, seen) = on_a_terminal(&sb, &["cloud", "runs", "wait", &run]);
    assert_eq!(code, 0, "{seen:?}");
    let draws: Vec<&str> = seen.split(ERASE).filter(|d| is_live(d)).collect();
    assert!(
        draws
            .iter()
            .any(|d| d.contains(&format!("run {run}: Running · step 4 "))),
        "{draws:?}"
    );
    assert!(draws.iter().all(|d| !d.contains('\n')), "{draws:?}");
    cleared_before_the_verdict(&seen, "SUCCESS run");

    // A retry: the first attempt's line is taken away before the retry is said, and the
    // retried run gets a line of its own.
    let (code, seen) = on_a_terminal(
        &sb,
        &["dbt-run", "--job-id", "4", "--wait", "--retries", "1"],
    );
    assert_eq!(code, 0, "{seen:?}");
    let runs: Vec<i64> = sb
        .runs()
        .iter()
        .filter(|r| r.job_id == 4)
        .map(|r| r.id)
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for id in &runs {
        let mine = format!("run {id}: Running");
        assert!(
            seen.split(ERASE).any(|d| is_live(d) && d.contains(&mine)),
            "no live line of run {id} in {seen:?}"
        );
    }
    assert!(seen.contains("ERROR run"), "{seen:?}");
    let before_retry = seen.split("ERROR run").next().unwrap_or_default();
    let last = before_retry.rsplit(ERASE).next().unwrap_or_default();
    assert!(
        !is_live(last),
        "the line was not cleared before the first verdict: {last:?}"
    );
    cleared_before_the_verdict(&seen, "SUCCESS run");
}
