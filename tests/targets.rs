//! Named targets as a user meets them: a validation job and a production job in one
//! datachonk.yaml, `--target` to pick, `confirm: true` guarding production, and jobs picked by
//! name — against the sandbox over HTTP.

mod support;

use support::*;

const TARGETS: &str = "deploy:\n  dbt_cloud:\n    account_id: 1\n    project_id: 1\n    default_target: dev\n    targets:\n      dev: {job_id: 1}\n      prod: {job_id: 2, confirm: true, cause: \"Release from datachonk\"}\n";

fn project() -> tempfile::TempDir {
    let dir = workdir();
    std::fs::write(dir.path().join("datachonk.yaml"), TARGETS).unwrap();
    dir
}

#[test]
fn the_default_target_and_a_named_one_trigger_their_own_jobs() {
    let sb = sandbox(&[]);
    let dir = project();
    let dev = datachonk(&sb, dir.path(), &["dbt-run", "--no-wait"]);
    assert_eq!(dev.code, 0, "{}", dev.stderr);
    let prod = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--target", "prod", "--yes", "--no-wait"],
    );
    assert_eq!(prod.code, 0, "{}", prod.stderr);
    let runs = sb.runs();
    let jobs: Vec<i64> = runs.iter().map(|r| r.job_id).collect();
    assert_eq!(jobs, [1, 2]);
    assert_eq!(
        without_marker(runs[1].trigger.cause.as_str()),
        "Release from datachonk",
        "the target's cause"
    );
}

#[test]
fn a_confirm_target_without_a_terminal_needs_yes_and_triggers_nothing_otherwise() {
    let sb = sandbox(&[]);
    let dir = project();
    let refused = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--target", "prod", "--no-wait"],
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("target `prod` (job 2) is marked `confirm: true`"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let by_env = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--no-wait"],
        &[("DATACHONK_TARGET", "prod")],
    );
    assert_eq!(by_env.code, 2, "{}", by_env.stderr);
    assert!(sb.runs().is_empty(), "nothing was triggered");
}

#[test]
fn a_job_is_found_by_name_exactly_then_ignoring_case() {
    let sb = sandbox(&[]);
    let dir = project();
    let exact = datachonk(
        &sb,
        dir.path(),
        // Job 2 is the `prod` target's (confirm: true): the gate applies by name too.
        &["dbt-run", "--job", "Broken", "--no-wait", "--yes"],
    );
    assert_eq!(exact.code, 0, "{}", exact.stderr);
    let loose = datachonk(&sb, dir.path(), &["dbt-run", "--job", "slow", "--no-wait"]);
    assert_eq!(loose.code, 0, "{}", loose.stderr);
    let jobs: Vec<i64> = sb.runs().iter().map(|r| r.job_id).collect();
    assert_eq!(jobs, [2, 3]);
    let none = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job", "Nightly", "--no-wait"],
    );
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr
            .contains("no job named \"Nightly\" in project 1")
            && none.stderr.contains("1 (CI validate)")
            && none.stderr.contains("2 (Broken)"),
        "{}",
        none.stderr
    );
    assert_eq!(sb.runs().len(), 2, "nothing more was triggered");
}

#[test]
fn job_by_name_or_id_works_wherever_a_job_is_named() {
    let sb = sandbox(&[]);
    let dir = project();
    for job in ["1", "2"] {
        // Job 2 is the `prod` target's (confirm: true): gated by id as by name.
        let r = datachonk(
            &sb,
            dir.path(),
            &["dbt-run", "--job-id", job, "--wait", "--yes"],
        );
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    }
    let list_of = |args: &[&str]| -> Vec<i64> {
        let out = datachonk(&sb, dir.path(), args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        doc["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["job_id"].as_i64().unwrap())
            .collect()
    };
    // cloud runs list: by name (case ignored when nothing matches exactly) and by id.
    assert_eq!(
        list_of(&["cloud", "runs", "list", "--job", "broken", "--json"]),
        [2]
    );
    assert_eq!(
        list_of(&["cloud", "runs", "list", "--job", "1", "--json"]),
        [1]
    );
    let unknown = datachonk(&sb, dir.path(), &["cloud", "runs", "list", "--job", "Nope"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no job named \"Nope\"") && unknown.stderr.contains("2 (Broken)"),
        "{}",
        unknown.stderr
    );

    // cloud lineage: the latest successful run of the job named.
    let lineage = datachonk(
        &sb,
        dir.path(),
        &[
            "cloud",
            "lineage",
            "stg_orders",
            "--job",
            "CI validate",
            "--json",
        ],
    );
    let lineage_by_id = datachonk(
        &sb,
        dir.path(),
        &["cloud", "lineage", "stg_orders", "--job-id", "1", "--json"],
    );
    assert_eq!(lineage.code, 0, "{}", lineage.stderr);
    assert_eq!(lineage_by_id.code, 0, "{}", lineage_by_id.stderr);
    assert_eq!(
        lineage.stdout, lineage_by_id.stdout,
        "the same run's manifest"
    );

    // dbt-run --after-job NAME: job 4 after the upstream run of "CI validate" (its next one,
    // started below while it waits).
    let mut child = spawn_datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "4",
            "--after-job",
            "CI validate",
            "--no-wait",
            "--timeout",
            "60s",
        ],
    );
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        use std::io::BufRead;
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "stderr ended early"
        );
        if line.contains("waiting for the next run of job 1 (CI validate)") {
            break;
        }
    }
    let up = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--no-wait"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let status = exit_within(
        &mut child,
        std::time::Duration::from_secs(60),
        "--after-job NAME",
    );
    assert_eq!(status.code(), Some(0));
    let downstream: Vec<_> = sb.runs().into_iter().filter(|r| r.job_id == 4).collect();
    assert_eq!(downstream.len(), 1);
    assert!(
        without_marker(&downstream[0].trigger.cause).contains("of job \"CI validate\" succeeded"),
        "{}",
        downstream[0].trigger.cause
    );

    // watch: both jobs by name; the state file is named by their ids.
    let watched = datachonk(
        &sb,
        dir.path(),
        &[
            "watch",
            "--on-success-of",
            "ci VALIDATE",
            "--trigger",
            "Cancelled by someone",
            "--once",
        ],
    );
    assert_eq!(watched.code, 0, "{}", watched.stderr);
    assert!(dir.path().join(".datachonk/watch/1-4.json").exists());
}
