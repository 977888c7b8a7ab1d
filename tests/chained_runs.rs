//! `dbt-run --after-job J`: the downstream job is triggered only after the upstream job's run
//! (in progress, or the next one) succeeded — against the sandbox over HTTP.

mod support;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use datachonk::sandbox::RunningSandbox;
use support::*;

/// The support fixture with the upstream jobs' runs (1 succeeds, 2 errors) queued for 4 s: the
/// chained `dbt-run` must find them in progress, and a process started on a loaded machine can
/// take longer than their usual ~0.2-1.4 s (it then waits for a next run that never comes).
fn slow_start_sandbox() -> RunningSandbox {
    let yaml = FIXTURE
        .replacen("run: {queued_ms: 30,", "run: {queued_ms: 4000,", 1)
        .replacen("      queued_ms: 20\n", "      queued_ms: 4000\n", 1);
    assert_ne!(yaml, FIXTURE, "the fixture's upstream jobs were slowed");
    let fixture = datachonk::sandbox::Fixture::from_yaml_str(&yaml, "slow start").unwrap();
    datachonk::sandbox::Sandbox::start(
        datachonk::sandbox::SandboxOptions::default().with_fixture(fixture),
    )
    .unwrap()
}

fn runs_of(sb: &RunningSandbox, job: i64) -> Vec<datachonk::sandbox::RunSummary> {
    sb.runs().into_iter().filter(|r| r.job_id == job).collect()
}

#[test]
fn the_downstream_job_runs_after_the_upstream_run_in_progress_succeeds() {
    let sb = slow_start_sandbox();
    let dir = workdir();
    let up = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--no-wait"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let chained = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "4",
            "--after-job",
            "1",
            "--no-wait",
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(chained.code, 0, "{}", chained.stderr);
    let upstream = &runs_of(&sb, 1)[0];
    let downstream = runs_of(&sb, 4);
    assert_eq!(downstream.len(), 1);
    assert_eq!(
        without_marker(&downstream[0].trigger.cause),
        format!("After run {} of job \"CI validate\" succeeded", upstream.id)
    );
    let finished = upstream.finished_at.expect("the upstream run finished");
    assert!(
        downstream[0].created_at >= finished,
        "triggered only after the upstream run ended"
    );
}

#[test]
fn an_upstream_error_or_timeout_triggers_nothing() {
    let sb = slow_start_sandbox();
    let dir = workdir();
    assert_eq!(
        datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "2", "--no-wait"]).code,
        0
    );
    let failed = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "4",
            "--after-job",
            "2",
            "--timeout",
            "60s",
        ],
    );
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let upstream = runs_of(&sb, 2)[0].id;
    assert!(
        failed.stderr.contains(&format!(
            "upstream run {upstream} of job 2 (Broken) ended in Error: job 4 was not triggered"
        )),
        "{}",
        failed.stderr
    );
    assert_eq!(
        datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "3", "--no-wait"]).code,
        0
    );
    let slow = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "4",
            "--after-job",
            "3",
            "--timeout",
            "2s",
        ],
    );
    assert_eq!(slow.code, 4, "{}", slow.stderr);
    assert!(runs_of(&sb, 4).is_empty(), "nothing triggered");
}

#[test]
fn with_no_run_in_progress_it_waits_for_the_next_one_to_start() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let mut child = spawn_datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "4",
            "--after-job",
            "1",
            "--timeout",
            "60s",
            "--no-wait",
        ],
    );
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "stderr ended early"
        );
        if line.contains("waiting for the next run of job 1") {
            break;
        }
    }
    assert!(runs_of(&sb, 4).is_empty());
    assert_eq!(
        datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--no-wait"]).code,
        0
    );
    let status = exit_within(&mut child, Duration::from_secs(60), "the chained dbt-run");
    assert_eq!(status.code(), Some(0));
    assert_eq!(runs_of(&sb, 4).len(), 1);
}
