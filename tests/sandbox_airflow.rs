//! Apache Airflow's dbt Cloud provider, unmodified, against the sandbox over HTTPS.
//!
//! tests/clients/airflow_dbt_cloud.py drives the provider's `DbtCloudHook` (what its operator,
//! sensor and trigger call): list/get projects, environments and jobs, a job by names,
//! trigger with cause and steps_override, wait, read the run with include_related, list and
//! fetch artifacts (per step too), a failing run, retry_from_failure and cancel. The hook
//! always speaks `https://{host}`; the connection comes from `AIRFLOW_CONN_DBT_CLOUD_DEFAULT`
//! and the sandbox's certificate from `REQUESTS_CA_BUNDLE`, so no Airflow metadata DB exists.
//!
//! The provider comes from `bash scripts/setup-test-deps` (a virtualenv at
//! `~/.cache/datachonk/airflow-venv`, or `$DATACHONK_TEST_AIRFLOW_VENV`). Without it this test
//! FAILS with that instruction: it never passes silently.

mod sandbox_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use datachonk::sandbox::{RunStatus, RunningSandbox, SandboxOptions, TlsMode};
use sandbox_support::*;
use serde_json::{json, Value};

/// The driver polls every second; a run takes well under that, the cancelled one a poll.
const DRIVER_DEADLINE: Duration = Duration::from_secs(120);

const CAUSE: &str = "Triggered by Airflow against the sandbox";

fn airflow_python() -> PathBuf {
    let venv = std::env::var_os("DATACHONK_TEST_AIRFLOW_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/datachonk/airflow-venv"))
        })
        .expect("HOME is not set (and DATACHONK_TEST_AIRFLOW_VENV neither)");
    let python = venv.join("bin/python");
    let installed = Command::new(&python)
        .args(["-c", "import airflow.providers.dbt.cloud.hooks.dbt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "apache-airflow-providers-dbt-cloud is not installed in {} (nor under \
         $DATACHONK_TEST_AIRFLOW_VENV): run `bash scripts/setup-test-deps`",
        venv.display()
    );
    python
}

/// Run the driver with a clean environment (PATH and HOME only from ours, so a developer's
/// own AIRFLOW_* never leaks in); killed after [`DRIVER_DEADLINE`].
fn drive(sandbox: &RunningSandbox, args: &[String]) -> Driven {
    let python = airflow_python();
    let home = tempfile::tempdir().expect("temp dir");
    let ca = sandbox
        .ca_path()
        .expect("a --tls sandbox has a certificate");
    let conn = json!({
        "conn_type": "dbt_cloud",
        "login": "1",
        "password": TOKEN,
        "host": format!("127.0.0.1:{}", sandbox.addr().port()),
    });
    drive_client(
        sandbox,
        &python,
        "airflow_dbt_cloud.py",
        args,
        &[
            ("AIRFLOW_HOME", home.path().join("airflow").into()),
            ("AIRFLOW_CONN_DBT_CLOUD_DEFAULT", conn.to_string().into()),
            ("REQUESTS_CA_BUNDLE", ca.into()),
            ("SSL_CERT_FILE", ca.into()),
        ],
        DRIVER_DEADLINE,
    )
}

#[test]
fn airflow_dbt_cloud_hook_triggers_waits_reads_artifacts_retries_and_cancels() {
    let sandbox = tls_sandbox();
    let Driven {
        out,
        stdout,
        stderr,
    } = drive(
        &sandbox,
        &[
            JOB_OK.to_string(),
            JOB_ERROR.to_string(),
            JOB_LONG.to_string(),
            CAUSE.to_string(),
        ],
    );
    let o = |k: &str| out[k].clone();

    // Reads, including the hook's lookup of a job by project, environment and job names.
    assert_eq!(o("account")["id"], 1);
    assert_eq!(ids(&o("projects")), vec![1]);
    assert_eq!(o("project")["id"], 1);
    assert_eq!(ids(&o("environments")), vec![1]);
    assert_eq!(o("environment")["id"], 1);
    assert_eq!(
        ids(&o("jobs")),
        vec![JOB_OK, JOB_ERROR, JOB_CANCELLED, JOB_SLOW, JOB_LONG]
    );
    assert_eq!(
        ids(&o("jobs_in_project")),
        vec![JOB_LONG, JOB_SLOW, JOB_CANCELLED, JOB_ERROR, JOB_OK],
        "order_by=-id"
    );
    assert_eq!(o("job")["id"], JOB_OK);
    assert_eq!(o("job_by_name")["id"], JOB_OK);

    // The operator's path: trigger with cause + steps_override, wait, read back.
    let run_id = o("triggered")["id"].as_i64().expect("run id");
    assert_eq!(o("waited"), true);
    assert_eq!(o("status"), RunStatus::Success.code());
    assert_eq!(o("trigger_event")["status"], "success", "deferrable path");
    let run = o("run");
    assert_eq!(run["id"], run_id);
    assert_eq!(run["trigger"]["cause"], CAUSE);
    assert_eq!(
        run["trigger"]["steps_override"],
        json!(["dbt seed", "dbt build --select stg_orders+"])
    );
    assert_eq!(
        run["job"]["id"], JOB_OK,
        "include_related sent as repeated keys"
    );
    let step_names: Vec<&str> = run["run_steps"]
        .as_array()
        .expect("run_steps included")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        step_names.ends_with(&[
            "Invoke dbt with `dbt seed`",
            "Invoke dbt with `dbt build --select stg_orders+`"
        ]),
        "{step_names:?}"
    );
    let artifacts = o("artifacts");
    for name in ["manifest.json", "run_results.json"] {
        assert!(
            artifacts
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p == name)),
            "{name} listed: {artifacts}"
        );
    }
    assert!(
        o("manifest")["nodes"]
            .as_object()
            .is_some_and(|n| !n.is_empty()),
        "manifest has nodes"
    );
    assert_eq!(
        o("run_results")["args"]["invocation_command"],
        "dbt build --select stg_orders+",
        "default step = the last one"
    );
    assert_eq!(
        o("run_results_step4")["args"]["invocation_command"],
        "dbt seed"
    );
    let listed = o("runs_of_job");
    assert!(ids(&listed).contains(&run_id), "{listed}");
    assert!(
        listed
            .as_array()
            .is_some_and(|a| a.iter().all(|r| r["trigger"]["cause"].is_string())),
        "include_related=trigger on the list"
    );

    // A failing run: the hook raises and sees the errored step.
    let failed = out["failing_run"]["id"].as_i64().expect("failing run id");
    let raised = o("failing_raised");
    assert!(
        raised
            .as_str()
            .is_some_and(|m| m.contains("terminal status ERROR")),
        "{raised}"
    );
    assert_eq!(o("failing_status"), "ERROR");
    assert_eq!(o("failing_event")["status"], "error", "deferrable path");
    assert!(
        o("failing_run")["run_steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["status"] == RunStatus::Error.code())),
        "an errored step for the hook's failure log"
    );
    // The hook's failure log (provider PR #70171) names the errored step from run_steps.
    let logs = format!("{stdout}{stderr}");
    assert!(
        logs.contains("dbt Cloud failed step — step 4: Invoke dbt with `dbt build` | status=Error"),
        "the hook logged the failed step:\n{logs}"
    );

    // retry_from_failure went through /rerun/ and retried the failed run.
    let retried = o("retried")["id"].as_i64().expect("rerun id");
    assert_eq!(sandbox.run(retried).and_then(|r| r.retry_of), Some(failed));
    assert_eq!(o("retried")["trigger"]["cause_category"], "rerun");
    let failing_trigger = sandbox.run(failed).expect("failing run").trigger;
    assert_eq!(
        failing_trigger.schema_override.as_deref(),
        Some("dbt_cloud_pr_2_7")
    );
    assert_eq!(failing_trigger.threads_override, Some(2));
    assert_eq!(failing_trigger.target_name_override.as_deref(), Some("ci"));

    // reuse_existing_run found the long run in flight; its href is the operator's run link.
    let cancelled = o("cancelled_id").as_i64().expect("cancelled id");
    assert_eq!(ids(&o("in_flight")), vec![cancelled]);
    let long_cause = sandbox.run(cancelled).expect("long run").trigger.cause;
    assert_eq!(
        long_cause.chars().count(),
        255,
        "the hook's cut is accepted"
    );
    assert!(long_cause.starts_with(CAUSE), "{long_cause}");
    let port = sandbox.addr().port();
    assert_eq!(
        o("in_flight")[0]["href"],
        format!("https://127.0.0.1:{port}/deploy/1/projects/1/runs/{cancelled}/")
    );
    assert_eq!(
        o("triggered")["href"],
        format!("https://127.0.0.1:{port}/deploy/1/projects/1/runs/{run_id}/")
    );

    // Cancel.
    assert_eq!(o("cancel_waited"), true);
    assert_eq!(o("cancelled_status"), "CANCELLED");
    assert_eq!(
        o("cancelled_event")["status"],
        "cancelled",
        "deferrable path"
    );
    assert_eq!(
        sandbox.run(cancelled).map(|r| r.status),
        Some(RunStatus::Cancelled)
    );

    // The sandbox's side: what it received, and how it answered.
    let trigger = sandbox.run(run_id).expect("run exists").trigger;
    assert_eq!(trigger.cause, CAUSE);
    assert_eq!(
        trigger.steps_override,
        Some(vec![
            "dbt seed".to_string(),
            "dbt build --select stg_orders+".to_string()
        ])
    );
    let log = sandbox.requests();
    let logged = |method: &str, path: &str| {
        log.iter()
            .any(|r| r.method == method && r.path == path && r.status == 200)
    };
    assert!(logged(
        "POST",
        &format!("/api/v2/accounts/1/jobs/{JOB_OK}/run/")
    ));
    assert!(logged(
        "POST",
        &format!("/api/v2/accounts/1/jobs/{JOB_ERROR}/rerun/")
    ));
    assert!(logged(
        "POST",
        &format!("/api/v2/accounts/1/runs/{cancelled}/cancel/")
    ));
    for r in &log {
        assert_eq!(r.auth_scheme.as_deref(), Some("Token"), "{}", r.log_line());
        // test_connection and list_accounts request the tenant root (the hook passes no
        // endpoint): on dbt Cloud that is the web app's page, as it is here (HTML, 200).
        assert_eq!(r.status, 200, "{}", r.log_line());
    }
    assert!(
        logged("GET", "/"),
        "the hook's test_connection asks for the root page"
    );
    assert_eq!(o("test_connection")[0], true, "{:#}", o("test_connection"));

    for text in [&stdout, &stderr, &out.to_string()] {
        assert!(!text.contains(TOKEN), "token leaked by the client run");
    }
}

/// The hook pages with `extra.filters.limit` and `extra.pagination.{count,total_count}`:
/// more than two pages of jobs and runs come back whole, in order, without repeats.
#[test]
fn airflow_dbt_cloud_hook_pages_through_jobs_and_runs() {
    let mut f = fixture();
    let template = f.jobs[0].clone();
    f.jobs = (1..=230)
        .map(|id| {
            let mut j = template.clone();
            j.id = id;
            j.name = format!("Job {id}");
            j
        })
        .collect();
    let sandbox = start_with(
        SandboxOptions::default()
            .with_fixture(f)
            .with_tls(TlsMode::SelfSigned),
    );
    let api = Api {
        http: trusting_client(&sandbox),
        ..Api::new(&sandbox.base_url())
    };
    let runs: Vec<i64> = (1..=205)
        .map(|job| api.trigger(job, "to be listed"))
        .collect();

    let out = drive(&sandbox, &["--paginate".to_string()]).out;
    assert_eq!(out["job_pages"], 3);
    assert_eq!(
        out["job_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect()),
        Some((1..=230).collect::<Vec<i64>>())
    );
    assert_eq!(out["run_pages"], 3);
    assert_eq!(
        out["run_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect()),
        Some(runs)
    );
    let offsets: Vec<Option<String>> = sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v2/accounts/1/jobs/")
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(
        offsets,
        vec![None, Some("offset=100".into()), Some("offset=200".into())]
    );
}

/// Injected 503s on run reads: the deferrable trigger (aiohttp; its retry predicate accepts
/// 5xx) rides them out. The sync hook (provider 4.11) does not retry them even with
/// `retry_limit=3`: HttpHook turns the HTTPError into an AirflowException, which the hook's
/// retry predicate rejects, so its read fails on the first 503 (recorded, not asserted).
#[test]
fn airflow_dbt_cloud_trigger_retries_through_injected_503s() {
    let sandbox = start_with(
        SandboxOptions::default()
            .with_fixture(fixture())
            .with_tls(TlsMode::SelfSigned)
            .with_fault("503:method=GET:path=/runs/:times=2")
            .expect("fault spec"),
    );
    let out = drive(&sandbox, &["--flaky".to_string(), JOB_OK.to_string()]).out;
    assert_eq!(out["event"]["status"], "success", "{out}");
    let run = out["run_id"].as_i64().expect("run id");
    let path = format!("/api/v2/accounts/1/runs/{run}/");
    let reads: Vec<(u16, bool)> = sandbox
        .requests()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| (r.status, r.was_faulted()))
        .collect();
    assert_eq!(
        reads.iter().filter(|(s, f)| *s == 503 && *f).count(),
        2,
        "both faults delivered: {reads:?}"
    );
    assert_eq!(reads.last(), Some(&(200, false)), "{reads:?}");
    eprintln!("sync hook under a 503: {}", out["sync_status"]);
}
