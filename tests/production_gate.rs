//! The production gate belongs to the job: however a command reaches a job that a target
//! marks `confirm: true` (an id, a name, `DBT_CLOUD_JOB_ID`, `--after-job`, watch's
//! downstream, a retry), it asks first, and without a terminal it needs `--yes`. Refusing
//! triggers nothing — checked against the sandbox's own list of runs.

mod support;

use support::*;

/// dev is job 1, the default; prod is job 4 and changes production.
const TARGETS: &str = "deploy:\n  dbt_cloud:\n    account_id: 1\n    project_id: 1\n    default_target: dev\n    targets:\n      dev: {job_id: 1}\n      prod: {job_id: 4, confirm: true}\n";

fn refused(run: &Run, sb: &datachonk::sandbox::RunningSandbox) {
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("target `prod` (job 4) is marked `confirm: true`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert!(
        sb.runs().is_empty(),
        "refusing triggers nothing: {:?}",
        sb.runs()
    );
}

fn configured() -> tempfile::TempDir {
    let dir = workdir();
    std::fs::write(dir.path().join("datachonk.yaml"), TARGETS).unwrap();
    dir
}

#[test]
fn dbt_run_by_id_by_name_and_by_variable_is_gated_like_the_target() {
    let sb = sandbox(&[]);
    let dir = configured();
    refused(
        &datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "4"]),
        &sb,
    );
    refused(
        &datachonk(
            &sb,
            dir.path(),
            &["dbt-run", "--job", "Cancelled by someone"],
        ),
        &sb,
    );
    refused(
        &datachonk_with(
            &sb,
            dir.path(),
            TOKEN,
            &["dbt-run"],
            &[("DBT_CLOUD_JOB_ID", "4")],
        ),
        &sb,
    );
    // An upstream wait is not started for a trigger that would be refused.
    refused(
        &datachonk(
            &sb,
            dir.path(),
            &["dbt-run", "--job-id", "4", "--after-job", "1"],
        ),
        &sb,
    );
    // Another job is not production; --yes goes ahead.
    let dev = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--no-wait"]);
    assert_eq!(dev.code, 0, "{}", dev.stderr);
    let yes = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "4", "--yes", "--no-wait"],
    );
    assert_eq!(yes.code, 0, "{}", yes.stderr);
    let jobs: Vec<i64> = sb.runs().iter().map(|r| r.job_id).collect();
    assert_eq!(jobs, [1, 4]);
}

#[test]
fn watch_needs_yes_at_start_for_a_production_downstream() {
    let sb = sandbox(&[]);
    let dir = configured();
    for how in [["--trigger-target", "prod"], ["--trigger", "4"]] {
        let args = ["watch", "--on-success-of", "1", how[0], how[1], "--once"];
        refused(&datachonk(&sb, dir.path(), &args), &sb);
    }
    let ok = datachonk(
        &sb,
        dir.path(),
        &[
            "watch",
            "--on-success-of",
            "1",
            "--trigger",
            "4",
            "--once",
            "--yes",
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
}

#[test]
fn a_retry_of_a_production_run_is_gated_by_its_job() {
    let sb = sandbox(&[]);
    let dir = configured();
    let first = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "4", "--yes", "--wait"],
    );
    assert_eq!(first.code, 3, "{}", first.stderr);
    let run = sb.runs()[0].id.to_string();
    let retry = datachonk(&sb, dir.path(), &["cloud", "runs", "retry", &run]);
    assert_eq!(retry.code, 2, "{}", retry.stderr);
    assert!(
        retry
            .stderr
            .contains("target `prod` (job 4) is marked `confirm: true`"),
        "{}",
        retry.stderr
    );
    assert_eq!(sb.runs().len(), 1, "the retry triggered nothing");
}
