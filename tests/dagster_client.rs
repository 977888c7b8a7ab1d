//! Dagster's dbt Cloud integration (`dagster-dbt`), unmodified, against the sandbox.
//!
//! tests/clients/dagster_dbt_cloud/definitions.py is a code location as dagster-dbt's
//! documentation shows it (`DbtCloudCredentials`, `DbtCloudWorkspace`, `@dbt_cloud_assets`,
//! `build_dbt_cloud_polling_sensor`); driver.py loads its asset specs, materializes them and
//! evaluates the sensor. dagster-dbt speaks whatever `access_url` says, so plain HTTP on
//! 127.0.0.1 is enough (no TLS).
//!
//! What the integration does against dbt Cloud, and so here: it finds or creates its ad hoc job
//! (`DAGSTER_ADHOC_JOB__{project}__{environment}`, Create Job), triggers it with
//! `steps_override: ["dbt parse"]` and reads that run's `manifest.json` for the asset specs;
//! to materialize it triggers `dbt build --select ...` on the same job, polls the run and turns
//! `run_results.json` (its `metadata.env.DBT_CLOUD_RUN_ID` too) into per-model events; the
//! sensor lists runs by `finished_at__range` and reports the models of runs it did not start.
//!
//! dagster-dbt comes from `bash scripts/setup-test-deps` (a virtualenv at
//! `~/.cache/datachonk/dagster-venv`, or `$DATACHONK_TEST_DAGSTER_VENV`). Without it these
//! tests FAIL with that instruction: they never pass silently.

mod sandbox_support;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::time::Duration;

use datachonk::sandbox::{RunStatus, RunningSandbox};
use sandbox_support::{
    client_python, drive_client, fixture, start, Api, Driven, JOB_ERROR, JOB_OK, TOKEN,
};
use serde_json::Value;

/// Importing Dagster takes ~10 s here; each run polls every second.
const DRIVER_DEADLINE: Duration = Duration::from_secs(300);

const ADHOC_JOB: &str = "DAGSTER_ADHOC_JOB__1__1";

/// One Dagster at a time: three importing at once on a 2-core machine take long enough to
/// push a finished run out of the polling sensor's first window (the last 60 s).
static ONE_DAGSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Taken first by each test (before its sandbox acts), held to its end.
fn dagster_turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_DAGSTER.lock().unwrap_or_else(|e| e.into_inner())
}

fn drive(sandbox: &RunningSandbox, modes: &str, adhoc_job_name: Option<&str>) -> Value {
    let python = client_python("DATACHONK_TEST_DAGSTER_VENV", "dagster-venv", "dagster_dbt");
    let home = tempfile::tempdir().expect("dagster home");
    let mut envs: Vec<(&str, OsString)> = vec![
        ("DBT_CLOUD_ACCOUNT_ID", "1".into()),
        ("DBT_CLOUD_ACCESS_URL", sandbox.base_url().into()),
        ("DBT_CLOUD_TOKEN", TOKEN.into()),
        ("DBT_CLOUD_PROJECT_ID", "1".into()),
        ("DBT_CLOUD_ENVIRONMENT_ID", "1".into()),
        ("DAGSTER_HOME", home.path().into()),
    ];
    if let Some(name) = adhoc_job_name {
        envs.push(("DBT_CLOUD_ADHOC_JOB_NAME", name.into()));
    }
    let Driven {
        out,
        stdout,
        stderr,
    } = drive_client(
        sandbox,
        &python,
        "dagster_dbt_cloud/driver.py",
        &[modes.to_string()],
        &envs,
        DRIVER_DEADLINE,
    );
    for text in [&stdout, &stderr, &out.to_string()] {
        assert!(!text.contains(TOKEN), "token leaked by the client run");
    }
    out
}

fn api(sandbox: &RunningSandbox) -> Api {
    Api::new(&sandbox.base_url())
}

fn artifact(sandbox: &RunningSandbox, run: i64, path: &str) -> Value {
    let r = api(sandbox).get(&format!("/api/v2/accounts/1/runs/{run}/artifacts/{path}"));
    assert_eq!(r.status, 200, "run {run} {path}: {}", r.text);
    r.json()
}

/// Dagster's default asset key for a manifest node: a model's name, a source's
/// `source_name/table`.
fn asset_key(unique_id: &str) -> String {
    let parts: Vec<&str> = unique_id.split('.').collect();
    match parts.as_slice() {
        ["source", _, source, table] => format!("{source}/{table}"),
        [_, _, name, ..] => name.to_string(),
        _ => unique_id.to_string(),
    }
}

/// Models whose result in `run_results` is `success`.
fn succeeded_models(run_results: &Value) -> BTreeSet<String> {
    run_results["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["status"] == "success")
        .filter_map(|r| r["unique_id"].as_str())
        .filter(|id| id.starts_with("model."))
        .map(asset_key)
        .collect()
}

#[test]
fn dagster_loads_asset_specs_from_the_manifest_and_materializes_them() {
    let _turn = dagster_turn();
    let sandbox = start();
    let out = drive(&sandbox, "specs,materialize", None);

    // The ad hoc job was created through the API, once, and parsed the project.
    let jobs = sandbox.fixture().jobs;
    let adhoc: Vec<_> = jobs.iter().filter(|j| j.name == ADHOC_JOB).collect();
    assert_eq!(adhoc.len(), 1, "one ad hoc job: {jobs:?}");
    let adhoc_id = adhoc[0].id;
    let runs: Vec<_> = sandbox
        .runs()
        .into_iter()
        .filter(|r| r.job_id == adhoc_id)
        .collect();
    let parse = runs
        .iter()
        .find(|r| r.trigger.steps_override == Some(vec!["dbt parse".to_string()]))
        .unwrap_or_else(|| panic!("a `dbt parse` run: {runs:?}"));
    assert_eq!(parse.status, RunStatus::Success);
    assert_eq!(parse.trigger.cause, "Triggered by dagster.");

    // One asset per model of the manifest, its deps what the manifest's parent_map says.
    let manifest = artifact(&sandbox, parse.id, "manifest.json");
    let parent_map = manifest["parent_map"].as_object().expect("parent_map");
    let expected: BTreeMap<String, BTreeSet<String>> = parent_map
        .iter()
        .filter(|(id, _)| id.starts_with("model."))
        .map(|(id, parents)| {
            let deps = parents
                .as_array()
                .expect("parents")
                .iter()
                .filter_map(Value::as_str)
                .map(asset_key)
                .collect();
            (asset_key(id), deps)
        })
        .collect();
    assert!(expected.len() >= 3, "{expected:?}");
    let specs: BTreeMap<String, BTreeSet<String>> = out["specs"]
        .as_array()
        .expect("specs")
        .iter()
        .map(|s| {
            let deps = s["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .filter_map(|d| d.as_str().map(str::to_string))
                .collect();
            (s["key"].as_str().expect("key").to_string(), deps)
        })
        .collect();
    assert_eq!(specs, expected, "{:#}", out["specs"]);
    for s in out["specs"].as_array().expect("specs") {
        assert_eq!(
            asset_key(s["unique_id"].as_str().expect("unique_id")),
            s["key"]
        );
        assert!(
            s["kinds"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "dbtcloud")),
            "{s}"
        );
    }

    // Materialize: one `dbt build --select ...` run; a materialization per model, as dbt's
    // results say, linking the run.
    let m = &out["materialize"];
    assert_eq!(m["success"], true, "{m:#}");
    let build = sandbox
        .runs()
        .into_iter()
        .filter(|r| r.job_id == adhoc_id)
        .find(|r| {
            r.trigger
                .steps_override
                .as_ref()
                .is_some_and(|s| s.len() == 1 && s[0].starts_with("dbt build --select "))
        })
        .expect("a dbt build run");
    assert_eq!(build.status, RunStatus::Success);
    let run_results = artifact(&sandbox, build.id, "run_results.json");
    let materialized: BTreeSet<String> = m["materialized"]
        .as_object()
        .expect("materialized")
        .keys()
        .cloned()
        .collect();
    assert_eq!(materialized, succeeded_models(&run_results));
    assert_eq!(
        materialized,
        expected.keys().cloned().collect::<BTreeSet<_>>()
    );
    let href = format!(
        "{}/deploy/1/projects/1/runs/{}/",
        sandbox.base_url(),
        build.id
    );
    for (asset, meta) in m["materialized"].as_object().expect("materialized") {
        assert_eq!(meta["run_url"], href.as_str(), "{asset}");
        assert_eq!(meta["status"], "success", "{asset}");
        assert_eq!(
            meta["invocation_id"],
            run_results["metadata"]["invocation_id"]
        );
    }
    assert_eq!(
        sandbox
            .requests()
            .iter()
            .filter(
                |r| r.method == "POST" && r.path.trim_end_matches('/') == "/api/v2/accounts/1/jobs"
            )
            .count(),
        1,
        "created once; found by name when materializing"
    );
}

/// The failing fixture job (a model errors, its downstream is skipped): Dagster records the
/// models dbt built and fails the step, as dbt's results say.
#[test]
fn dagster_materializes_what_succeeded_and_fails_on_the_failing_model() {
    let _turn = dagster_turn();
    let sandbox = start();
    let job = sandbox
        .fixture()
        .job(JOB_ERROR)
        .cloned()
        .expect("failing job");
    let out = drive(&sandbox, "materialize", Some(&job.name));
    let m = &out["materialize"];
    assert_eq!(m["success"], false, "{m:#}");

    let build = sandbox
        .runs()
        .into_iter()
        .filter(|r| r.job_id == JOB_ERROR)
        .find(|r| {
            r.trigger
                .steps_override
                .as_ref()
                .is_some_and(|s| s[0].starts_with("dbt build"))
        })
        .expect("a dbt build run");
    assert_eq!(build.status, RunStatus::Error);
    let run_results = artifact(&sandbox, build.id, "run_results.json");
    let status_of = |model: &str| {
        run_results["results"]
            .as_array()
            .and_then(|r| {
                r.iter()
                    .find(|r| r["unique_id"] == format!("model.analytics.{model}"))
            })
            .map(|r| r["status"].clone())
    };
    assert_eq!(status_of("stg_orders"), Some("error".into()));
    let materialized: BTreeSet<String> = m["materialized"]
        .as_object()
        .expect("materialized")
        .keys()
        .cloned()
        .collect();
    assert_eq!(materialized, succeeded_models(&run_results), "{m:#}");
    assert!(materialized.contains("stg_customers"), "{m:#}");
    assert!(!materialized.contains("stg_orders"), "{m:#}");
    assert!(
        m["step_failures"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f
                .as_str()
                .is_some_and(|f| f.contains(&format!("dbt Cloud run '{}' failed", build.id))))),
        "{m:#}"
    );
    // The parse run before it succeeded: a model failure cannot happen in `dbt parse`.
    assert!(sandbox.runs().iter().any(|r| r.job_id == JOB_ERROR
        && r.trigger.steps_override == Some(vec!["dbt parse".into()])
        && r.status == RunStatus::Success));
}

/// `datachonk dbt-run` starts a run; Dagster's polling sensor finds it (finished in its window,
/// not one of its own ad hoc runs) and reports each model it built.
#[test]
fn dagster_polling_sensor_reports_a_run_started_by_datachonk_dbt_run() {
    let _turn = dagster_turn();
    let mut f = fixture();
    f.jobs.retain(|j| j.id == JOB_OK);
    let sandbox = support_sandbox(f);
    let dir = support::workdir();
    let r = support::datachonk_with(
        &sandbox,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", &JOB_OK.to_string(), "--wait"],
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let run = sandbox
        .runs()
        .into_iter()
        .find(|r| r.job_id == JOB_OK)
        .expect("the run");
    assert_eq!(run.status, RunStatus::Success);

    let out = drive(&sandbox, "sensor", None);
    let events = out["sensor"]["asset_events"].as_array().expect("events");
    let run_results = artifact(&sandbox, run.id, "run_results.json");
    let reported: BTreeSet<String> = events
        .iter()
        .filter_map(|e| e["key"].as_str().map(str::to_string))
        .collect();
    assert!(!reported.is_empty(), "{out:#}");
    assert_eq!(reported, succeeded_models(&run_results), "{out:#}");
    let href = format!(
        "{}/deploy/1/projects/1/runs/{}/",
        sandbox.base_url(),
        run.id
    );
    for e in events {
        assert_eq!(e["metadata"]["run_url"], href.as_str(), "{e}");
        assert_eq!(
            e["metadata"]["invocation_id"],
            run_results["metadata"]["invocation_id"]
        );
    }
    // It asked for runs finished in its window, as dbt Cloud's run list filters them.
    assert!(sandbox.requests().iter().any(|r| {
        r.path.trim_end_matches('/') == "/api/v2/accounts/1/runs"
            && r.query
                .as_deref()
                .is_some_and(|q| q.contains("finished_at__range"))
    }));
}

fn support_sandbox(f: datachonk::sandbox::Fixture) -> RunningSandbox {
    sandbox_support::start_with(datachonk::sandbox::SandboxOptions::default().with_fixture(f))
}
