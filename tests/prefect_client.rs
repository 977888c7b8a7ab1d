//! Prefect's dbt Cloud integration (`prefect-dbt`), unmodified, against the sandbox over HTTPS.
//!
//! tests/clients/prefect_dbt_cloud.py runs prefect-dbt's flows as its documentation shows them,
//! in Prefect 3's ephemeral mode (no server to start; `PREFECT_HOME` is a temp dir):
//! `run_dbt_cloud_job`, `trigger_dbt_cloud_job_run_and_wait_for_completion` and the
//! `get_dbt_cloud_run_artifact` task. Its client always speaks `https://{domain}` through
//! httpx, which trusts the sandbox's CA through `SSL_CERT_FILE`.
//!
//! prefect-dbt comes from `bash scripts/setup-test-deps` (a virtualenv at
//! `~/.cache/datachonk/prefect-venv`, or `$DATACHONK_TEST_PREFECT_VENV`). Without it these
//! tests FAIL with that instruction: they never pass silently.

mod sandbox_support;

use std::ffi::OsString;
use std::time::Duration;

use datachonk::sandbox::{RunStatus, RunningSandbox};
use sandbox_support::*;
use serde_json::Value;

/// Prefect starts its temporary server (~10 s here) and polls every second.
const DRIVER_DEADLINE: Duration = Duration::from_secs(300);

/// One Prefect at a time: two temporary servers starting at once on a small machine can miss
/// Prefect's startup timeout.
static ONE_PREFECT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn drive(sandbox: &RunningSandbox, mode: &str, jobs: &[i64]) -> Driven {
    let _turn = ONE_PREFECT.lock().unwrap_or_else(|e| e.into_inner());
    let python = client_python("DATACHONK_TEST_PREFECT_VENV", "prefect-venv", "prefect_dbt");
    let ca = sandbox
        .ca_path()
        .expect("a --tls sandbox has a certificate");
    let home = tempfile::tempdir().expect("prefect home");
    let mut args = vec![
        mode.to_string(),
        format!("127.0.0.1:{}", sandbox.addr().port()),
        "1".to_string(),
        TOKEN.to_string(),
    ];
    args.extend(jobs.iter().map(i64::to_string));
    let driven = drive_client(
        sandbox,
        &python,
        "prefect_dbt_cloud.py",
        &args,
        &[
            ("PREFECT_HOME", home.path().into()),
            ("SSL_CERT_FILE", ca.into()),
            (
                "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW",
                OsString::from("ignore"),
            ),
            ("PREFECT_SERVER_ANALYTICS_ENABLED", OsString::from("false")),
            // Its default (20 s) is tight for a 2-core machine busy with other tests.
            (
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
                OsString::from("120"),
            ),
        ],
        DRIVER_DEADLINE,
    );
    for text in [&driven.stdout, &driven.stderr, &driven.out.to_string()] {
        assert!(!text.contains(TOKEN), "token leaked by the client run");
    }
    driven
}

fn runs_of(sandbox: &RunningSandbox, job: i64) -> Vec<datachonk::sandbox::RunSummary> {
    sandbox
        .runs()
        .into_iter()
        .filter(|r| r.job_id == job)
        .collect()
}

#[test]
fn prefect_dbt_cloud_flows_run_wait_fail_cancel_and_fetch_artifacts() {
    let sandbox = tls_sandbox();
    let out = drive(&sandbox, "flows", &[JOB_OK, JOB_ERROR, JOB_CANCELLED]).out;

    // run_dbt_cloud_job on a succeeding job returns the run with its artifact paths.
    let run_ok = &out["run_ok"]["returned"];
    assert_eq!(run_ok["status"], RunStatus::Success.code(), "{out:#}");
    assert_eq!(run_ok["job_definition_id"], JOB_OK);
    for name in ["manifest.json", "run_results.json"] {
        assert!(
            run_ok["artifact_paths"]
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p == name)),
            "{name} listed: {}",
            run_ok["artifact_paths"]
        );
    }

    // On a failing job (no targeted retries) it raises DbtCloudJobRunFailed after one run.
    assert_eq!(
        out["run_error"]["raised"], "DbtCloudJobRunFailed",
        "{out:#}"
    );
    let failed = runs_of(&sandbox, JOB_ERROR);
    assert_eq!(failed.len(), 1, "exactly one run: {failed:?}");
    assert_eq!(failed[0].status, RunStatus::Error);

    // trigger_dbt_cloud_job_run_and_wait_for_completion: success, then a cancelled run.
    let waited = &out["wait_ok"]["returned"];
    assert_eq!(waited["status"], RunStatus::Success.code(), "{out:#}");
    let waited_id = waited["id"].as_i64().expect("run id");
    assert!(
        waited["artifact_paths"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p == "run_results.json")),
        "{waited}"
    );
    assert_eq!(
        out["wait_cancelled"]["raised"], "DbtCloudJobRunCancelled",
        "{out:#}"
    );
    let cancelled = runs_of(&sandbox, JOB_CANCELLED);
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    assert_eq!(cancelled[0].status, RunStatus::Cancelled);
    assert!(
        out["wait_cancelled"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("ID {} was cancelled", cancelled[0].id))),
        "{}",
        out["wait_cancelled"]
    );
    let ok_runs: Vec<i64> = runs_of(&sandbox, JOB_OK).iter().map(|r| r.id).collect();
    assert_eq!(
        ok_runs.len(),
        2,
        "run_dbt_cloud_job + trigger-and-wait: {ok_runs:?}"
    );
    assert!(ok_runs.contains(&waited_id));

    // The artifact task: the waited run's run_results.json and manifest.json, whole.
    let run_results = &out["run_results"]["returned"];
    let manifest = &out["manifest"]["returned"];
    let last_step = sandbox
        .fixture()
        .job(JOB_OK)
        .and_then(|j| j.execute_steps.last().cloned())
        .expect("the job has steps");
    assert_eq!(
        run_results["args"]["invocation_command"],
        last_step.as_str()
    );
    let results = run_results["results"].as_array().expect("results");
    assert!(!results.is_empty(), "{run_results}");
    assert!(
        results.iter().all(|r| r["status"] == "success"),
        "{run_results}"
    );
    let nodes = manifest["nodes"].as_object().expect("manifest nodes");
    for r in results {
        let id = r["unique_id"].as_str().expect("unique_id");
        assert!(nodes.contains_key(id), "{id} in the manifest");
    }
    // Every request authenticated the way prefect-dbt does (Bearer), and none failed.
    for r in &sandbox.requests() {
        assert_eq!(r.auth_scheme.as_deref(), Some("Bearer"), "{}", r.log_line());
        assert_eq!(r.status, 200, "{}", r.log_line());
    }
    let api = Api {
        http: trusting_client(&sandbox),
        ..Api::new(&sandbox.base_url())
    };
    let direct: Value = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{waited_id}/artifacts/manifest.json"
        ))
        .json();
    assert_eq!(&direct, manifest, "the task returns the artifact as served");
}

/// prefect-dbt's `targeted_retries` cannot work against dbt Cloud, and the sandbox must say so
/// rather than paper over it. `DbtCloudJobRun.retry_failed_steps` reads the failed run with
/// `GET /runs/{id}/` and *no* `include_related`; dbt Cloud answers `run_steps: []` then (the
/// steps come only with `include_related=run_steps`), so it finds "no steps to retry" and
/// returns the run's dict where `run_dbt_cloud_job` expects a `DbtCloudJobRun`: the flow fails
/// with an AttributeError after the one run, and no targeted retry is ever triggered. (Its
/// users see this as full reruns by their own retry policies.) The sandbox serves
/// `run_steps: []` without `include_related`, as dbt Cloud does; datachonk's own targeted
/// retries (`datachonk dbt-run --retries N`) read the steps with `include_related=run_steps`.
#[test]
fn prefect_dbt_targeted_retries_find_no_steps_as_on_dbt_cloud() {
    let sandbox = tls_sandbox();
    let Driven { out, stderr, .. } = drive(&sandbox, "targeted-retries", &[JOB_ERROR]);

    assert_eq!(out["run_error"]["raised"], "AttributeError", "{out:#}");
    assert_eq!(
        out["run_error"]["message"],
        "'dict' object has no attribute 'wait_for_completion'"
    );
    assert!(
        stderr.contains("does not have any steps to retry"),
        "prefect-dbt found no steps:\n{stderr}"
    );
    let runs = runs_of(&sandbox, JOB_ERROR);
    assert_eq!(runs.len(), 1, "no retry run was triggered: {runs:?}");
    let run = runs[0].id;
    assert_eq!(runs[0].status, RunStatus::Error);

    // Why: every read of the run came without include_related ...
    let path = format!("/api/v2/accounts/1/runs/{run}/");
    let reads: Vec<_> = sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .collect();
    assert!(!reads.is_empty());
    assert!(
        reads.iter().all(|r| r.query.is_none()),
        "{:?}",
        reads.iter().map(|r| r.log_line()).collect::<Vec<_>>()
    );
    // ... and such a read has no steps, while include_related=run_steps shows the failed one.
    let api = Api {
        http: trusting_client(&sandbox),
        ..Api::new(&sandbox.base_url())
    };
    assert_eq!(api.get(&path).data()["run_steps"], serde_json::json!([]));
    let steps = api.get(&format!("{path}?include_related=run_steps")).data()["run_steps"].clone();
    assert!(
        steps
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["status"] == RunStatus::Error.code())),
        "{steps}"
    );
}
