//! Several jobs, one verdict: `dbt-run --target dev --target prod`, `--job-id` or `--job`
//! repeated, `--sequential` — against the sandbox over HTTP, counting the requests it got.

mod support;

use std::collections::BTreeSet;

use datachonk::sandbox::{RequestRecord, RunSummary, RunningSandbox};
use support::*;

const TARGETS: &str = "deploy:\n  dbt_cloud:\n    account_id: 1\n    project_id: 1\n    default_target: dev\n    targets:\n      dev: {job_id: 1}\n      prod: {job_id: 4, confirm: true, cause: \"Release from datachonk\"}\n";

fn json_of(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}):\n{}\n{}", run.stdout, run.stderr))
}

fn runs_of(sb: &RunningSandbox, job: i64) -> Vec<RunSummary> {
    sb.runs().into_iter().filter(|r| r.job_id == job).collect()
}

/// The ids a `GET runs/?pk__in=[…]` asked for.
fn pk_in(r: &RequestRecord) -> Option<BTreeSet<i64>> {
    if r.method != "GET" || !r.path.ends_with("/runs/") {
        return None;
    }
    let query = r.query.as_deref()?;
    let value = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "pk__in")?
        .1
        .into_owned();
    Some(
        value
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|s| s.trim().parse().expect("an id"))
            .collect(),
    )
}

/// Requests for one run by id (`GET runs/7/`), i.e. polls of a single run.
fn single_run_reads(requests: &[RequestRecord], id: i64) -> usize {
    let suffix = format!("/runs/{id}/");
    requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&suffix))
        .count()
}

#[test]
fn several_jobs_are_awaited_with_one_list_request_per_poll_and_the_worst_verdict_wins() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let out = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run", "--job-id", "1", "--job-id", "2", "--job-id", "4", "--wait", "--json",
        ],
    );
    assert_eq!(
        out.code, 1,
        "error beats cancelled and success:\n{}",
        out.stderr
    );
    let doc = json_of(&out);
    assert_eq!(doc["outcome"], "error");
    let runs = doc["runs"].as_array().expect("runs");
    let outcomes: Vec<&str> = runs
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["success", "error", "cancelled"]);
    let jobs: Vec<i64> = runs
        .iter()
        .map(|r| r["run"]["job_id"].as_i64().unwrap())
        .collect();
    assert_eq!(jobs, [1, 2, 4]);
    assert_eq!(runs[1]["label"], "job 2");
    // The errored run's failing node is reported, as a single dbt-run does.
    assert_eq!(
        runs[1]["failure"]["nodes"][0]["unique_id"]
            .as_str()
            .map(|s| s.ends_with("stg_orders")),
        Some(true),
        "{:#}",
        runs[1]
    );

    // Each job triggered exactly once.
    for job in [1, 2, 4] {
        assert_eq!(runs_of(&sb, job).len(), 1, "job {job}");
    }
    let ids: Vec<i64> = runs
        .iter()
        .map(|r| r["run"]["id"].as_i64().unwrap())
        .collect();
    let requests = sb.requests();
    let polls: Vec<(f64, BTreeSet<i64>)> = requests
        .iter()
        .filter_map(|r| pk_in(r).map(|ids| (r.offset_ms, ids)))
        .collect();
    assert!(!polls.is_empty(), "no pk__in list request: {requests:#?}");
    assert_eq!(
        polls[0].1,
        ids.iter().copied().collect::<BTreeSet<_>>(),
        "the first poll asks for every run at once"
    );
    // No run is ever polled on its own: one request per cycle serves them all. Only the
    // errored run is read once more, with its steps, to find its failing nodes.
    for (&id, reads) in ids.iter().zip([0, 1, 0]) {
        assert_eq!(
            single_run_reads(&requests, id),
            reads,
            "run {id} read alone"
        );
    }
    // Once a run is seen finished, later polls leave it out: the last ones ask only for the
    // slow run of job 1 (its dbt step takes 1.2 s; the others end within 0.1 s).
    for pair in polls.windows(2) {
        assert!(
            pair[1].1.is_subset(&pair[0].1),
            "polls only shrink: {polls:?}"
        );
    }
    assert_eq!(
        polls.last().unwrap().1,
        BTreeSet::from([ids[0]]),
        "{polls:?}"
    );
    assert!(polls.len() <= 10, "{} polls for a 1.5 s wait", polls.len());
}

#[test]
fn human_output_has_a_line_per_change_a_verdict_per_run_and_one_summary() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let out = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--job-id", "4", "--wait"],
    );
    assert_eq!(out.code, 3, "cancelled beats success:\n{}", out.stderr);
    let r1 = runs_of(&sb, 1)[0].id;
    let r4 = runs_of(&sb, 4)[0].id;
    assert!(
        out.stderr.contains(&format!("run {r1} (job 1): Success")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("run {r4} (job 4): Cancelled")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains(&format!("SUCCESS run {r1} (job 1) in")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("CANCELLED run {r4} (job 4) in")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .trim_end()
            .ends_with("2 runs: CANCELLED (1 cancelled, 1 success)"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_run_past_its_timeout_is_a_timeout_unless_another_errored() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let out = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "1",
            "--job-id",
            "3",
            "--wait",
            "--timeout",
            "3s",
            "--cancel-on-timeout",
            "--json",
        ],
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    let doc = json_of(&out);
    assert_eq!(doc["outcome"], "timeout");
    assert_eq!(doc["runs"][0]["outcome"], "success");
    assert_eq!(doc["runs"][1]["outcome"], "timeout");
    assert_eq!(doc["runs"][1]["cancelled_by_datachonk"], true);
    let slow = &runs_of(&sb, 3)[0];
    assert_eq!(slow.status_humanized, "Cancelled", "cancelled on timeout");

    let out = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "3",
            "--job-id",
            "2",
            "--wait",
            "--timeout",
            "3s",
            "--json",
        ],
    );
    assert_eq!(out.code, 1, "error beats timeout: {}", out.stderr);
    let doc = json_of(&out);
    assert_eq!(doc["outcome"], "error");
    assert_eq!(doc["runs"][0]["outcome"], "timeout");
    assert_eq!(doc["runs"][0]["cancelled_by_datachonk"], false);
}

#[test]
fn several_targets_trigger_their_own_jobs_and_confirm_guards_them_all() {
    let sb = sandbox(&[]);
    let dir = workdir();
    std::fs::write(dir.path().join("datachonk.yaml"), TARGETS).unwrap();
    let refused = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--target", "dev", "--target", "prod", "--wait"],
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("target `prod` (job 4) is marked `confirm: true`"),
        "{}",
        refused.stderr
    );
    assert!(
        sb.runs().is_empty(),
        "nothing triggered when one target is refused"
    );

    let out = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run", "--target", "dev", "--target", "prod", "--yes", "--wait", "--json",
        ],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    let doc = json_of(&out);
    let targets: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["dev", "prod"]);
    assert_eq!(doc["runs"][1]["label"], "prod, job 4");
    let prod = &runs_of(&sb, 4)[0];
    assert_eq!(
        without_marker(&prod.trigger.cause),
        "Release from datachonk",
        "each target's own trigger settings"
    );
}

#[test]
fn sequential_stops_at_the_first_failure_and_reports_the_rest_not_triggered() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let out = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "2",
            "--job-id",
            "1",
            "--sequential",
            "--json",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc = json_of(&out);
    assert_eq!(doc["outcome"], "error");
    assert_eq!(doc["runs"][0]["outcome"], "error");
    assert_eq!(doc["runs"][1]["outcome"], "not_triggered");
    assert_eq!(doc["runs"][1]["job_id"], 1);
    assert!(runs_of(&sb, 1).is_empty(), "job 1 was not triggered");

    let out = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--job-id", "4", "--sequential"],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    let first = &runs_of(&sb, 1)[0];
    let second = &runs_of(&sb, 4)[0];
    assert!(
        second.created_at >= first.finished_at.expect("finished"),
        "the second job was triggered only after the first succeeded"
    );
    assert!(
        out.stdout
            .contains("2 runs: CANCELLED (1 cancelled, 1 success)"),
        "{}",
        out.stdout
    );
}

#[test]
fn jobs_by_name_repeat_and_without_wait_every_run_is_in_the_document() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let out = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &[
            "dbt-run",
            "--job",
            "CI validate",
            "--job",
            "broken",
            "--no-wait",
            "--json",
        ],
        &[("DBT_CLOUD_PROJECT_ID", "1")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = json_of(&out);
    assert_eq!(doc["outcome"], "triggered");
    let jobs: Vec<i64> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"]["job_id"].as_i64().unwrap())
        .collect();
    assert_eq!(jobs, [1, 2]);
    assert_eq!(sb.runs().len(), 2);
}

#[test]
fn retries_flag_with_jobs_awaited_together_is_refused_before_any_trigger() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let out = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "1",
            "--job-id",
            "2",
            "--wait",
            "--retries",
            "1",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--sequential"), "{}", out.stderr);
    assert!(sb.runs().is_empty());
}

#[test]
fn faults_on_the_polls_are_survived_and_no_job_is_triggered_twice() {
    // 5xx on every other GET of runs (the polls among them), some 429s and dropped connections,
    // and a lost answer to every other trigger (the run exists; the client must find it).
    let sb = sandbox(&[
        "503:every=2:method=GET:path=/runs/",
        "429:p=0.1:retry-after=1:method=GET:path=/runs/:seed=12",
        "drop:p=0.1:method=GET:path=/runs/:seed=13",
        "502:every=2:method=POST:path=/run/:after",
    ]);
    let dir = workdir();
    let out = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run", "--job-id", "1", "--job-id", "2", "--job-id", "4", "--wait", "--json",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc = json_of(&out);
    let outcomes: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["success", "error", "cancelled"]);
    for job in [1, 2, 4] {
        assert_eq!(runs_of(&sb, job).len(), 1, "job {job} triggered once");
    }
    let requests = sb.requests();
    let faulted_polls = requests
        .iter()
        .filter(|r| r.was_faulted() && pk_in(r).is_some())
        .count();
    let faulted_posts = requests
        .iter()
        .filter(|r| r.was_faulted() && r.method == "POST")
        .count();
    assert!(faulted_posts >= 1, "a trigger answer was lost");
    assert!(
        faulted_polls >= 1,
        "some polls were faulted: {:#?}",
        requests
            .iter()
            .filter(|r| pk_in(r).is_some())
            .collect::<Vec<_>>()
    );
}

#[test]
fn several_jobs_check_each_run_built_the_commit_asked_for() {
    // Job 1 reports it built another commit than the one asked for.
    let sb = sandbox_building("0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f");
    let dir = workdir();
    let many = [
        "dbt-run",
        "--job-id",
        "1",
        "--job-id",
        "4",
        "--wait",
        "--git-sha",
    ];
    let r = datachonk(&sb, dir.path(), &[&many[..], &["abc1234def"]].concat());
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let run1 = runs_of(&sb, 1)[0].id;
    assert!(
        r.stderr.contains(&format!(
            "run {run1} built commit 0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f, not the commit asked for (abc1234def)"
        )),
        "{}",
        r.stderr
    );
    // Job 4's run built the commit asked for: it is not named.
    let run4 = runs_of(&sb, 4)[0].id;
    assert!(
        !r.stderr.contains(&format!("run {run4} built commit")),
        "{}",
        r.stderr
    );
    // Asking for the commit job 1 builds (short form): the worst verdict decides (job 4 was
    // cancelled), no commit error.
    let r = datachonk(&sb, dir.path(), &[&many[..], &["0f0f0f0"]].concat());
    assert!(!r.stderr.contains("built commit"), "{}", r.stderr);
    assert_ne!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
}
