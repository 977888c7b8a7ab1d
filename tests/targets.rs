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
        &["dbt-run", "--job", "Broken", "--no-wait"],
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
