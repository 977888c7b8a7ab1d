//! Targeted retries and waiting on any run, as a user meets them: `dbt-run --retries`,
//! `cloud runs retry`, `cloud runs wait`, against a real sandbox whose jobs fail N times.

mod support;

use datachonk::sandbox::{Fixture, RunStatus, RunningSandbox, Sandbox, SandboxOptions};
use support::*;

/// Jobs: 1 succeeds; 2 fails once then succeeds (dbt Cloud can retry it); 3 the same on
/// dbt 1.5 (no `dbt retry`: retried by selecting the failed nodes); 4 always fails;
/// 5 ends Cancelled; 6 fails slowly (past a short deadline).
const FIXTURE: &str = r#"
accounts: [{id: 1, name: Test Analytics}]
projects: [{id: 1, account_id: 1, name: analytics}]
environments: [{id: 1, project_id: 1, name: Production}]
jobs:
  - id: 1
    project_id: 1
    environment_id: 1
    name: Green
    execute_steps: ["dbt build"]
    models: [stg_orders, stg_customers, orders]
    run: {queued_ms: 20, starting_ms: 20, step_ms: 30}
  - id: 2
    project_id: 1
    environment_id: 1
    name: Flaky
    execute_steps: ["dbt build"]
    models: [stg_orders, stg_customers, orders]
    run: &flaky
      queued_ms: 20
      starting_ms: 20
      step_ms: 30
      outcome: error
      failing_step: 4
      fail_times: 1
      failures:
        - node: stg_customers
          message: could not connect to the warehouse
  - id: 3
    project_id: 1
    environment_id: 1
    name: Flaky on an old dbt
    dbt_version: 1.5.0-latest
    execute_steps: ["dbt build"]
    models: [stg_orders, stg_customers, orders]
    run: *flaky
  - id: 4
    project_id: 1
    environment_id: 1
    name: Broken
    execute_steps: ["dbt build"]
    models: [stg_orders, stg_customers, orders]
    run:
      queued_ms: 20
      starting_ms: 20
      step_ms: 30
      outcome: error
      failing_step: 4
      retry_outcome: error
      failures:
        - node: stg_orders
          message: column "amount" does not exist
  - id: 5
    project_id: 1
    environment_id: 1
    name: Cancelled by someone
    execute_steps: ["dbt build"]
    run: {queued_ms: 20, starting_ms: 20, step_ms: 30, outcome: cancelled}
  - id: 6
    project_id: 1
    environment_id: 1
    name: Slow and broken
    execute_steps: ["dbt build"]
    run: {queued_ms: 20, starting_ms: 20, step_ms: 1500, outcome: error}
tokens:
  - {token: fake-admin-token-5b2e91, permissions: account_admin}
"#;

fn sandbox_with(faults: &[&str]) -> RunningSandbox {
    let fixture = Fixture::from_yaml_str(FIXTURE, "tests/retries FIXTURE").expect("fixture parses");
    let mut options = SandboxOptions::default().with_fixture(fixture);
    for f in faults {
        options = options.with_fault(f).expect("fault spec");
    }
    Sandbox::start(options).expect("sandbox starts")
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("one JSON document ({e}):\n{stdout}"))
}

/// The unique ids of the nodes a `--json` verdict's run ran, sorted.
fn ran(v: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = v["nodes"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .flat_map(|s| s["nodes"].as_array().unwrap().iter())
        .map(|n| n["unique_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn a_success_prints_the_node_summary_line() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    std::fs::write(
        dir.path().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud: {}\n",
    )
    .unwrap();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("SUCCESS run 1"), "{}", r.stdout);
    assert!(r.stdout.contains("  nodes: 3 models ok"), "{}", r.stdout);
    assert!(!r.stdout.contains("retry it:"), "{}", r.stdout);
    // The artifacts are kept for the next `runs show`.
    assert!(
        dir.path().join(".datachonk/runs/1").is_dir(),
        "artifacts kept"
    );
}

#[test]
fn an_error_names_what_was_skipped_downstream_and_the_retry_command() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "4", "--wait"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("model.analytics.stg_orders [error]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("  nodes: 1 error · 2 skipped\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("skipped downstream of the failures (2):"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("    model.analytics.orders"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("retry it: datachonk cloud runs retry 1 --wait"),
        "{}",
        r.stdout
    );
}

#[test]
fn retries_2_on_a_job_that_fails_once_ends_green_after_two_runs() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "2",
            "--wait",
            "--retries",
            "2",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let runs = sb.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].cause_category, "rerun", "dbt Cloud's own retry");
    assert!(
        r.stderr.contains("retry 1/2: run 1 → run 2 from step 4"),
        "the attempt is shown on stderr: {}",
        r.stderr
    );
    let v = json(&r.stdout);
    assert_eq!(v["outcome"], "success");
    assert_eq!(v["run"]["id"], 2);
    let attempts = v["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{v:#}");
    assert_eq!(attempts[0]["outcome"], "error");
    assert_eq!(attempts[0]["run"]["id"], 1);
    assert_eq!(attempts[0]["retry"]["run_id"], 2);
    assert_eq!(
        attempts[0]["retry"]["plan"]["route"]["kind"],
        "dbt_cloud_retry"
    );
    assert_eq!(
        attempts[0]["retry"]["plan"]["failed_nodes"][0],
        "model.analytics.stg_customers"
    );
    assert_eq!(attempts[1]["outcome"], "success");
    // As `dbt retry`: the retry ran only what the failure left undone.
    assert_eq!(v["summary"], "2 models ok", "{v:#}");
    assert_eq!(
        ran(&v),
        ["model.analytics.orders", "model.analytics.stg_customers"]
    );
}

#[test]
fn each_attempt_is_printed_and_the_last_verdict_wins() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "4", "--wait", "--retries", "1"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("retry 1/1: run 1 → run 2 from step 4, 1 node + 2 downstream"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ERROR run 2"), "{}", r.stdout);
    assert_eq!(sb.runs().len(), 2);
}

#[test]
fn without_dbt_retry_only_the_failed_nodes_and_their_downstream_run_again() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "3",
            "--wait",
            "--retries",
            "1",
            "--git-sha",
            "abc1234def",
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let runs = sb.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].cause_category, "api", "a new trigger");
    assert_eq!(
        runs[1].trigger.steps_override.as_deref(),
        Some(&["dbt build --select stg_customers+".to_string()][..])
    );
    assert_eq!(runs[1].trigger.git_sha.as_deref(), Some("abc1234def"));
    assert!(
        r.stderr.contains("(new run of the failed nodes)"),
        "{}",
        r.stderr
    );
    // The retry ran only the failed model and its downstream (stg_orders, upstream, did not).
    let v = json(&r.stdout);
    assert_eq!(
        ran(&v),
        ["model.analytics.orders", "model.analytics.stg_customers"]
    );
}

#[test]
fn retries_never_retry_a_cancelled_run() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "5", "--wait", "--retries", "3"],
    );
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sb.runs().len(), 1, "{:?}", sb.runs());
    assert!(!r.stdout.contains("retry"), "{}", r.stdout);
}

#[test]
fn retries_never_retry_after_the_deadline() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "6",
            "--wait",
            "--retries",
            "3",
            "--timeout",
            "1s",
        ],
    );
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sb.runs().len(), 1, "{:?}", sb.runs());
}

#[test]
fn the_configured_retries_apply_and_the_flag_overrides_them() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    std::fs::write(
        dir.path().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    retries: 1\n",
    )
    .unwrap();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "2", "--wait"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sb.runs().len(), 2);
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "4", "--wait", "--retries", "0"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sb.runs().len(), 3, "--retries 0 beats the file");
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--retries", "-1"],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_lost_retry_answer_adopts_the_retry_instead_of_retrying_twice() {
    // The retry POST is carried out but its answer is lost (502 after the fact).
    let sb = sandbox_with(&["502:times=1:method=POST:path=/retry/:after"]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "2", "--wait", "--retries", "2"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sb.runs().len(), 2, "{:?}", sb.runs());
    assert!(r.stdout.contains("not started twice"), "{}", r.stdout);
}

#[test]
fn a_503_burst_on_the_retry_creates_exactly_one_retry() {
    // Refused before anything ran: the failed run names no retry, so the POST is sent again.
    let sb = sandbox_with(&["503:times=2:method=POST:path=/retry/"]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "2", "--wait", "--retries", "1"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sb.runs().len(), 2, "{:?}", sb.runs());
    let retry_posts: Vec<u16> = sb
        .requests()
        .iter()
        .filter(|q| q.method == "POST" && q.path.contains("/retry"))
        .map(|q| q.status)
        .collect();
    assert_eq!(retry_posts.last(), Some(&200), "{retry_posts:?}");
    assert!(retry_posts.len() >= 2, "{retry_posts:?}");
}

#[test]
fn a_lost_selected_retry_trigger_creates_exactly_one_run() {
    let sb = sandbox_with(&["502:every=2:times=1:method=POST:path=/run/:after"]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "3", "--wait", "--retries", "1"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let runs = sb.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[1].trigger.steps_override.is_some());
}

#[test]
fn cloud_runs_retry_waits_like_dbt_run() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "2", "--wait"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "retry", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("SUCCESS run 2"), "{}", r.stdout);
    assert!(r.stdout.contains("nodes:"), "{}", r.stdout);
    // A run that did not fail is not retried.
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "retry", "2"]);
    assert_eq!(r.code, 6, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("only failed runs can be retried"),
        "{}",
        r.stderr
    );
    assert_eq!(sb.runs().len(), 2);
}

#[test]
fn cloud_runs_wait_on_two_runs_exits_with_the_worst_verdict() {
    let sb = sandbox_with(&[]);
    let dir = workdir();
    let api = |job: &str| {
        let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", job, "--no-wait"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    api("1");
    api("4");
    let r = datachonk(
        &sb,
        dir.path(),
        &["cloud", "runs", "wait", "1", "2", "--json"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["outcome"], "error");
    assert_eq!(v["runs"][0]["outcome"], "success");
    assert_eq!(v["runs"][1]["outcome"], "error");
    assert_eq!(sb.runs()[0].status, RunStatus::Success);

    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "wait", "1"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("nodes: 3 models ok"), "{}", r.stdout);
}

#[test]
fn a_run_that_is_no_longer_the_jobs_latest_is_retried_by_selecting_its_failed_nodes() {
    // dbt Cloud retries only a job's latest run (RETRY_NOT_LATEST_RUN otherwise).
    let sb = sandbox_with(&[]);
    let dir = workdir();
    for _ in 0..2 {
        let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "4", "--wait"]);
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    }
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "show", "1", "--json"]);
    assert!(r.stdout.contains("RETRY_NOT_LATEST_RUN"), "{}", r.stdout);
    let r = datachonk(
        &sb,
        dir.path(),
        &["cloud", "runs", "retry", "1", "--wait", "--json"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["retry"]["plan"]["route"]["kind"], "selected");
    let runs = sb.runs();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(
        runs[2].trigger.steps_override.as_deref(),
        Some(&["dbt build --select stg_orders+".to_string()][..])
    );
}
