//! `datachonk dbt-run` as a user, a hook or CI meets it: the real binary against a real
//! sandbox on 127.0.0.1, exit codes as documented, and the token never shown.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use datachonk::sandbox::RunStatus;
use support::*;

#[test]
fn a_successful_run_exits_0_with_status_steps_and_url() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "1",
            "--wait",
            "--git-sha",
            "abc1234def",
            "--git-branch",
            "feature/x",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("SUCCESS run 1"), "{}", r.stdout);
    assert!(
        r.stdout.contains("/deploy/1/projects/1/runs/1/"),
        "{}",
        r.stdout
    );
    for status in ["run 1: Queued", "run 1: Running", "run 1: Success"] {
        assert!(
            r.stderr.contains(status),
            "missing {status:?} in:\n{}",
            r.stderr
        );
    }
    assert!(
        r.stderr
            .contains("step 4 Invoke dbt with `dbt build --select state:modified+"),
        "{}",
        r.stderr
    );
    // Each status change is printed once.
    assert_eq!(
        r.stderr.matches("run 1: Running").count(),
        1,
        "{}",
        r.stderr
    );
    let runs = sb.runs();
    assert_eq!(runs.len(), 1);
    // Only the sha is sent (it validates the commit); the branch is named in the cause.
    assert_eq!(runs[0].trigger.git_sha.as_deref(), Some("abc1234def"));
    assert_eq!(runs[0].trigger.git_branch, None);
    assert_eq!(
        without_marker(&runs[0].trigger.cause),
        "Triggered by datachonk for feature/x @ abc1234def"
    );
}

#[test]
fn an_errored_run_exits_1_and_names_the_failing_nodes() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "2", "--wait"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ERROR run 1"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("failing step 4: Invoke dbt with `dbt build`"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("model.analytics.stg_orders"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("column \"amount\" does not exist"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("log tail:"), "{}", r.stdout);
}

#[test]
fn json_mode_prints_exactly_one_document_on_stdout() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "2", "--wait", "--json"],
    );
    assert_eq!(r.code, 1);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).expect("stdout is one JSON document");
    assert_eq!(v["outcome"], "error");
    assert_eq!(v["run"]["status"], 20);
    assert_eq!(
        v["failure"]["nodes"][0]["unique_id"],
        "model.analytics.stg_orders"
    );
    assert_eq!(v["failure"]["step_index"], 4);

    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--json"]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "triggered");
    assert_eq!(v["run"]["id"], 2);
}

#[test]
fn a_cancelled_run_exits_3() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "4", "--wait"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("CANCELLED run 1"), "{}", r.stdout);
}

#[test]
fn a_run_cancelled_by_someone_else_while_waiting_exits_3() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_datachonk"));
    cmd.current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("DBT_CLOUD_ACCESS_URL", sb.base_url())
        .env("DBT_CLOUD_API_TOKEN", TOKEN)
        .env("DBT_CLOUD_ACCOUNT_ID", "1")
        .env_remove("DBT_CLOUD_JOB_ID")
        .args(["dbt-run", "--job-id", "3", "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    wait_for_runs(&sb, "the slow run to start", |runs| {
        runs.iter().any(|r| r.status == RunStatus::Running)
    });
    let cancel = datachonk(&sb, dir.path(), &["cloud", "runs", "cancel", "1"]);
    assert_eq!(cancel.code, 0, "{}", cancel.stderr);
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CANCELLED"), "{stdout}");
    assert!(!stdout.contains(TOKEN) && !String::from_utf8_lossy(&out.stderr).contains(TOKEN));
}

#[test]
fn timeout_leaves_the_run_running_and_exits_4() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "3", "--wait", "--timeout", "1s"],
    );
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("left running"), "{}", r.stderr);
    let run = &sb.runs()[0];
    assert!(
        !run.status.is_terminal(),
        "the run should still be going: {:?}",
        run.status
    );
}

#[test]
fn timeout_with_cancel_on_timeout_cancels_the_run_and_exits_4() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "3",
            "--wait",
            "--timeout",
            "1s",
            "--cancel-on-timeout",
            "--json",
        ],
    );
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "timeout");
    assert_eq!(v["cancelled_by_datachonk"], true);
    // The state it confirmed, not the last one seen before cancelling.
    assert_eq!(v["run"]["status"], 30, "{v}");
    assert_eq!(sb.runs()[0].status, RunStatus::Cancelled);
}

/// Run datachonk, returning the result and how long it took.
fn timed(
    sb: &datachonk::sandbox::RunningSandbox,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Run, Duration) {
    let dir = workdir();
    let began = Instant::now();
    let r = datachonk_with(sb, dir.path(), TOKEN, args, env);
    (r, began.elapsed())
}

#[test]
fn the_timeout_is_a_deadline_even_when_every_runs_request_hangs() {
    // Every GET under /runs/ (the look-ups, the job's history and the polls) takes 120 s.
    let sb = sandbox(&["latency:ms=120000:method=GET:path=/runs/"]);
    let (r, took) = timed(
        &sb,
        &[
            "dbt-run",
            "--job-id",
            "1",
            "--wait",
            "--timeout",
            "8s",
            "--json",
        ],
        &[],
    );
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        took < Duration::from_secs(8 + 3),
        "exited {took:?} after a start with --timeout 8s"
    );
    // The trigger went out (its POST is not delayed) and the run was left running.
    assert_eq!(sb.runs().len(), 1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "timeout");
    assert_eq!(v["run"]["id"], 1);
}

#[test]
fn cancel_on_timeout_still_cancels_when_the_polls_hang() {
    let sb = sandbox(&["latency:ms=120000:method=GET:path=/runs/1/"]);
    let (r, took) = timed(
        &sb,
        &[
            "dbt-run",
            "--job-id",
            "3",
            "--wait",
            "--timeout",
            "3s",
            "--cancel-on-timeout",
        ],
        &[],
    );
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    // The deadline, then at most the few seconds cancelling is allowed.
    assert!(
        took < Duration::from_secs(3 + 3 + 5),
        "exited after {took:?}"
    );
    assert_eq!(sb.runs()[0].status, RunStatus::Cancelled);
    assert!(r.stderr.contains("cancelled run 1"), "{}", r.stderr);
}

#[test]
fn a_host_that_never_answers_times_out_at_the_deadline() {
    let silent = support::rogue::Rogue::start(support::rogue::Behaviour::Silent);
    let sb = sandbox(&[]);
    let (r, took) = timed(
        &sb,
        &["dbt-run", "--job-id", "1", "--wait", "--timeout", "3s"],
        &[("DBT_CLOUD_ACCESS_URL", silent.url.as_str())],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(took < Duration::from_secs(3 + 3), "exited after {took:?}");
    assert!(r.stderr.contains("gave up after 3s"), "{}", r.stderr);
    assert!(r.stderr.contains("may have been created"), "{}", r.stderr);
    assert!(!r.stderr.contains("HTTP 0"), "{}", r.stderr);
}

#[test]
fn without_a_deadline_a_silent_host_is_reported_as_timed_out() {
    let silent = support::rogue::Rogue::start(support::rogue::Behaviour::Silent);
    let sb = sandbox(&[]);
    let (r, _) = timed(
        &sb,
        &["cloud", "status"],
        &[
            ("DBT_CLOUD_ACCESS_URL", silent.url.as_str()),
            ("DATACHONK_REQUEST_TIMEOUT", "0.2"),
        ],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(
        r.stderr.contains("timed out: no answer within 0.2s"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("HTTP 0"), "{}", r.stderr);
}

#[test]
fn json_failures_still_print_one_document() {
    let sb = sandbox(&[]);
    let dir = workdir();
    // Exit 2: no job id anywhere.
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "usage_error");
    assert_eq!(v["exit"], 2);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("job"),
        "{v}"
    );
    // Exit 2 from the command line itself.
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--json", "--jobid", "1"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "usage_error");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("--jobid"),
        "{v}"
    );
    // Exit 6: the job does not exist.
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "99", "--json"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "api_error");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("job 99"),
        "{v}"
    );
    assert!(
        v["error"]["hints"]
            .as_array()
            .is_some_and(|h| !h.is_empty()),
        "{v}"
    );
}

#[test]
fn a_rejected_token_exits_6_naming_the_variable_not_the_token() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let wrong = "fake-wrong-token-e3aa10";
    let r = datachonk_with(&sb, dir.path(), wrong, &["dbt-run", "--job-id", "1"], &[]);
    assert_eq!(r.code, 6);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    assert!(r.stderr.contains("DBT_CLOUD_API_TOKEN"), "{}", r.stderr);
    assert!(sb.runs().is_empty());
}

#[test]
fn a_legacy_getdbt_host_401_hints_at_the_access_url() {
    // The hint depends only on the host name; 127.0.0.1 must not get it.
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk_with(
        &sb,
        dir.path(),
        "fake-wrong-token-77",
        &["cloud", "status"],
        &[],
    );
    assert_eq!(r.code, 6);
    assert!(
        !r.stderr.contains("per-account access URLs"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_token_without_permission_exits_6_with_a_403_explanation() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk_with(
        &sb,
        dir.path(),
        READ_ONLY_TOKEN,
        &["dbt-run", "--job-id", "1"],
        &[],
    );
    assert_eq!(r.code, 6);
    assert!(
        r.stderr.contains("403") && r.stderr.contains("trigger job 1"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Job Admin"), "{}", r.stderr);
    assert!(sb.runs().is_empty());
}

#[test]
fn an_unknown_job_exits_6_naming_it() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "99"]);
    assert_eq!(r.code, 6);
    assert!(
        r.stderr.contains("job 99 in account 1 was not found (404)"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_400_shows_dbt_clouds_message() {
    let sb = sandbox(&[]);
    let dir = workdir();
    assert_eq!(
        datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]).code,
        0
    );
    // Retrying a successful run is refused by the API with a 400.
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "retry", "1"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("(400)"), "{}", r.stderr);
}

#[test]
fn retry_after_is_honoured_on_429() {
    let sb = sandbox(&["429:times=1:retry-after=1:method=POST:path=/run/"]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let posts: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[0].status, 429);
    assert_eq!(posts[1].status, 200);
    let gap_ms = posts[1].offset_ms - posts[0].offset_ms;
    assert!(
        gap_ms >= 1000.0,
        "retried after {gap_ms} ms, before Retry-After: 1"
    );
    assert_eq!(sb.runs().len(), 1);
}

#[test]
fn a_503_burst_on_the_trigger_creates_exactly_one_run() {
    let sb = sandbox(&["503:times=3:method=POST:path=/run/"]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sb.runs().len(), 1, "{:?}", sb.runs());
    let statuses: Vec<u16> = sb
        .requests()
        .iter()
        .filter(|q| q.method == "POST")
        .map(|q| q.status)
        .collect();
    assert_eq!(statuses, vec![503, 503, 503, 200]);
}

#[test]
fn a_lost_trigger_response_adopts_the_run_instead_of_triggering_twice() {
    let sb = sandbox(&["502:times=1:method=POST:path=/run/:after"]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sb.runs().len(), 1, "{:?}", sb.runs());
    assert!(r.stderr.contains("not triggered twice"), "{}", r.stderr);
    assert_eq!(
        sb.requests().iter().filter(|q| q.method == "POST").count(),
        1
    );
}

#[test]
fn a_lost_trigger_never_adopts_the_run_of_an_earlier_invocation() {
    // Every 2nd POST answers 502 before the handler: no run is created for it.
    let sb = sandbox(&["502:method=POST:path=/run/:every=2"]);
    let dir = workdir();
    let args = [
        "dbt-run",
        "--job-id",
        "1",
        "--git-sha",
        "abc1234",
        "--cause",
        "validate X",
        "--wait",
        "-v",
    ];
    let first = datachonk(&sb, dir.path(), &args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.contains("SUCCESS run 1"), "{}", first.stdout);
    let second = datachonk(&sb, dir.path(), &args);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.contains("SUCCESS run 2"),
        "the second validation must have its own run:\n{}\n{}",
        second.stdout,
        second.stderr
    );
    assert!(!second.stderr.contains("adopting"), "{}", second.stderr);
    let runs = sb.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    // The lost POST created nothing, so it was sent again: 200, then 502 and 200.
    let posts: Vec<u16> = sb
        .requests()
        .iter()
        .filter(|q| q.method == "POST")
        .map(|q| q.status)
        .collect();
    assert_eq!(posts, vec![200, 502, 200]);
    // Each invocation's cause carries its own marker after the person's words.
    for run in &runs {
        assert!(
            run.trigger.cause.starts_with("validate X [dc:"),
            "{}",
            run.trigger.cause
        );
    }
    assert_ne!(runs[0].trigger.cause, runs[1].trigger.cause);
}

#[test]
fn a_run_that_flickers_out_of_view_just_after_the_trigger_is_waited_for() {
    // Every 2nd look at the new run answers 404, also after it was seen (a lagging replica).
    let sb = sandbox(&["404:every=2:method=GET:path=/runs/1/"]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("SUCCESS run 1"), "{}", r.stdout);
    let answers: Vec<u16> = sb
        .requests()
        .iter()
        .filter(|q| q.method == "GET" && q.path.ends_with("/runs/1/"))
        .map(|q| q.status)
        .collect();
    assert!(answers.starts_with(&[200, 404, 200, 404]), "{answers:?}");
}

#[test]
fn a_failed_look_after_a_lost_trigger_is_not_the_last_word() {
    // The trigger's answer is lost (no run), and the first look-up answers 404: the next
    // looks answer, find nothing, and the trigger is sent again.
    let sb = sandbox(&[
        "502:times=1:method=POST:path=/run/",
        "404:times=1:every=2:method=GET:path=/runs/",
    ]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sb.runs().len(), 1);
    assert!(
        sb.requests()
            .iter()
            .any(|q| q.status == 404 && q.path.ends_with("/runs/")),
        "no look-up was refused"
    );
}

#[test]
fn dropped_connections_while_waiting_are_survived() {
    let sb = sandbox(&["drop:every=2:method=GET:path=/runs/1/"]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        sb.requests().iter().any(|q| q.status == 0),
        "no connection was dropped"
    );
}

#[test]
fn missing_settings_exit_2_saying_how_to_provide_them() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--job-id") && r.stderr.contains("DBT_CLOUD_JOB_ID"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("deploy.dbt_cloud.job_id"), "{}", r.stderr);
    let r = datachonk_with(&sb, dir.path(), "", &["dbt-run", "--job-id", "1"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("DBT_CLOUD_API_TOKEN"), "{}", r.stderr);
    assert!(sb.requests().is_empty());
}

#[test]
fn a_cause_over_255_characters_is_refused_before_anything_is_sent() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let cause = "x".repeat(256);
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--cause", &cause],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("255"), "{}", r.stderr);
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
}

#[test]
fn configuration_file_values_are_used_and_flags_override_them() {
    let sb = sandbox(&[]);
    let dir = workdir();
    std::fs::write(
        dir.path().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    job_id: 2\n    cause: From the file\n    schema_override: dbt_ci\n    steps_override: [dbt build --select stg_orders]\n",
    )
    .unwrap();
    let r = datachonk(&sb, dir.path(), &["dbt-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--cause", "From the flag"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let runs = sb.runs();
    assert_eq!(runs[0].job_id, 2);
    assert_eq!(without_marker(&runs[0].trigger.cause), "From the file");
    assert_eq!(runs[0].trigger.schema_override.as_deref(), Some("dbt_ci"));
    assert_eq!(
        runs[0].trigger.steps_override.as_deref(),
        Some(&["dbt build --select stg_orders".to_string()][..])
    );
    assert_eq!(runs[1].job_id, 1);
    assert_eq!(without_marker(&runs[1].trigger.cause), "From the flag");
}

fn interrupt_while_waiting(
    extra: &[&str],
) -> (Option<i32>, String, datachonk::sandbox::RunningSandbox) {
    let sb = sandbox(&[]);
    let dir = workdir();
    let mut args = vec!["dbt-run", "--job-id", "3", "--wait"];
    args.extend_from_slice(extra);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_datachonk"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("DBT_CLOUD_ACCESS_URL", sb.base_url())
        .env("DBT_CLOUD_API_TOKEN", TOKEN)
        .env("DBT_CLOUD_ACCOUNT_ID", "1")
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for_runs(&sb, "the slow run to start", |runs| {
        runs.iter().any(|r| r.status == RunStatus::Running)
    });
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains(TOKEN));
    (out.status.code(), stderr, sb)
}

#[test]
fn ctrl_c_with_json_reports_the_last_status_seen() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_datachonk"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("DBT_CLOUD_ACCESS_URL", sb.base_url())
        .env("DBT_CLOUD_API_TOKEN", TOKEN)
        .env("DBT_CLOUD_ACCOUNT_ID", "1")
        .args(["dbt-run", "--job-id", "3", "--wait", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Running, as the client saw it: a poll answered after the run started.
    wait_for_runs(&sb, "the slow run to start", |runs| {
        runs.iter().any(|r| r.status == RunStatus::Running)
    });
    // A poll that arrived once the run was Running has been answered (and read by the
    // client) when the next poll arrives: two polls after this moment.
    let running_since = chrono::Utc::now();
    let saw_running = || {
        sb.requests()
            .iter()
            .filter(|q| {
                q.method == "GET" && q.path.ends_with("/runs/1/") && q.received_at > running_since
            })
            .count()
            >= 2
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !saw_running() {
        assert!(Instant::now() < deadline, "no poll after the run started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "interrupted");
    assert_eq!(v["run"]["status"], 3, "{v}");
    assert!(
        v["run"]["steps"].as_array().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
}

#[test]
fn ctrl_c_exits_130_and_leaves_the_run_unless_asked_to_cancel() {
    let (code, stderr, sb) = interrupt_while_waiting(&[]);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("keeps running"), "{stderr}");
    assert!(!sb.runs()[0].status.is_terminal());

    let (code, stderr, sb) = interrupt_while_waiting(&["--cancel-on-interrupt"]);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(sb.runs()[0].status, RunStatus::Cancelled, "{stderr}");
}

#[test]
fn server_errors_while_waiting_are_survived() {
    let sb = sandbox(&["503:burst=3:every=4:method=GET:path=/runs/1/"]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        sb.requests().iter().any(|q| q.status == 503),
        "no 503 was injected"
    );
    assert_eq!(sb.runs().len(), 1);
}

#[test]
fn a_read_timeout_while_polling_is_transient() {
    // Every other poll answers after 1.5 s; with a 1 s request timeout those time out.
    let sb = sandbox(&["latency:ms=1500:every=2:method=GET:path=/runs/1/"]);
    let dir = workdir();
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "1", "--wait", "-v"],
        &[("DATACHONK_REQUEST_TIMEOUT", "1")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("retrying"),
        "no request timed out:\n{}",
        r.stderr
    );
}

#[test]
fn a_run_not_yet_visible_after_the_trigger_is_waited_for() {
    // The first two looks at the new run answer 404, as dbt Cloud sometimes does.
    let sb = sandbox(&["404:times=2:method=GET:path=/runs/1/"]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let not_found = sb.requests().iter().filter(|q| q.status == 404).count();
    assert_eq!(not_found, 2);
    // A run that never appears is still an error once the grace period is over.
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "show", "99"]);
    assert_eq!(r.code, 6);
}

#[test]
fn a_pull_request_run_is_a_ci_run_of_its_commit_and_replaces_the_pull_requests_older_run() {
    let sb = sandbox(&[]);
    let dir = workdir();
    // Whatever CI system runs this suite, these cases say which one they simulate.
    let no_ci = [("GITHUB_ACTIONS", ""), ("GITLAB_CI", ""), ("TF_BUILD", "")];
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["dbt-run", "--job-id", "3"];
        all.extend_from_slice(args);
        datachonk_with(&sb, dir.path(), TOKEN, &all, env)
    };
    // Without a commit there is nothing for dbt Cloud to build: refused, nothing triggered.
    let r = run(&["--pull-request", "7"], &no_ci);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--git-sha"), "{}", r.stderr);
    let r = run(
        &["--pull-request", "seven", "--git-sha", "aaaaaaa1"],
        &no_ci,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("expected a pull request number"),
        "{}",
        r.stderr
    );
    let r = run(&["--pull-request"], &no_ci);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--pull-request N"), "{}", r.stderr);
    assert!(sb.runs().is_empty());

    // By hand, outside CI, with no GitHub/GitLab/Azure remote: dbt Cloud's non-native field.
    let r = run(&["--pull-request", "7", "--git-sha", "aaaaaaa1"], &no_ci);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Under GitHub Actions' pull_request event: the number and the head commit come from
    // the event's payload (GITHUB_SHA would be a merge commit).
    let event = |sha: &str| {
        let path = dir.path().join(format!("event-{sha}.json"));
        std::fs::write(
            &path,
            format!(
                r#"{{"number": 7, "pull_request": {{"number": 7, "head": {{"sha": "{sha}"}}}}}}"#
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    for sha in ["bbbbbbb2", "ccccccc3"] {
        let path = event(sha);
        let gha = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", path.as_str()),
            ("GITHUB_SHA", "ddddddd4"),
            ("GITLAB_CI", ""),
            ("TF_BUILD", ""),
        ];
        let r = run(&["--pull-request"], &gha);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let runs = sb.runs();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0].trigger.non_native_pull_request_id, Some(7));
    assert_eq!(runs[0].trigger.git_sha.as_deref(), Some("aaaaaaa1"));
    for (run, sha) in runs[1..].iter().zip(["bbbbbbb2", "ccccccc3"]) {
        assert_eq!(run.trigger.github_pull_request_id, Some(7));
        assert_eq!(run.trigger.non_native_pull_request_id, None);
        assert_eq!(run.trigger.git_sha.as_deref(), Some(sha));
    }
    // The pull request's newer run replaced its older one; the same number on another
    // provider's field is another pull request.
    assert_eq!(runs[1].status, RunStatus::Cancelled);
    assert_ne!(runs[0].status, RunStatus::Cancelled);
    assert_ne!(runs[2].status, RunStatus::Cancelled);
}

#[test]
fn a_run_that_built_another_commit_is_an_error_naming_both() {
    // Job 1 reports it built another commit than the one asked for.
    let sb = sandbox_building("0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f");
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "1",
            "--wait",
            "--git-sha",
            "abc1234def",
        ],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("run 1 built commit 0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f, not the commit asked for (abc1234def)"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("SUCCESS"), "{}", r.stdout);
    // The sha it reports is the one asked for (a short sha matches its full form): the verdict.
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--wait", "--git-sha", "0f0f0f0"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // No sha asked: nothing to check.
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
