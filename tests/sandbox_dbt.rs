//! The `dbt` executor end to end: a bare git repo holding a tiny DuckDB project, commits pushed
//! with the git CLI, a sandbox running real dbt-core, and real HTTP for every check.
//!
//! One test function on purpose: dbt starts in ~2.5 s, so the cases share one repository,
//! one sandbox and one warehouse, in the order a team would live them (first CI run with
//! nothing to defer to, production build, CI run deferring to it, a broken commit, a cancel).
//!
//! dbt comes from `bash scripts/setup-test-deps` (a virtualenv at `~/.cache/datachonk/dbt-venv`)
//! or `$DATACHONK_TEST_DBT`. Without it this test FAILS: it never passes silently.

mod sandbox_repo;
mod sandbox_support;

use std::time::Duration;

use datachonk::sandbox::{Executor, RunStatus, SandboxOptions};
use sandbox_repo::{wait_terminal, wait_until, Repo, PROJECT};
use sandbox_support::{fixture, start_with, Api};
use serde_json::{json, Value};

mod real_dbt;
use real_dbt::dbt_path;

const LIMIT: Duration = Duration::from_secs(120);
/// The builtin validation job: `dbt build --select state:modified+ --defer --state ./prod-manifest`.
const CI_JOB: i64 = 1;
const PROD_JOB: i64 = 10;

fn trigger(api: &Api, job: i64, body: Value) -> i64 {
    let r = api.post(&format!("/api/v2/accounts/1/jobs/{job}/run/"), body);
    assert_eq!(r.status, 200, "{}", r.text);
    r.data()["id"].as_i64().expect("run id")
}

fn run_json(api: &Api, id: i64) -> Value {
    api.get(&format!(
        "/api/v2/accounts/1/runs/{id}/?include_related=[\"run_steps\",\"debug_logs\"]"
    ))
    .data()
}

/// `(unique_id, status)` of each result, sorted.
fn results(api: &Api, id: i64, step: Option<usize>) -> Vec<(String, String)> {
    let q = step.map_or(String::new(), |s| format!("?step={s}"));
    let r = api.get(&format!(
        "/api/v2/accounts/1/runs/{id}/artifacts/run_results.json{q}"
    ));
    assert_eq!(r.status, 200, "run {id} run_results.json: {}", r.text);
    let mut out: Vec<(String, String)> = r.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|n| {
            (
                n["unique_id"].as_str().unwrap_or_default().to_string(),
                n["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn step_names(run: &Value) -> Vec<String> {
    run["run_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn dbt_executor_runs_real_dbt_with_deferral_failures_and_cancel() {
    let dbt = dbt_path();
    let repo = Repo::new();
    let good = repo.commit("main", "tiny shop", PROJECT);

    let mut f = fixture();
    let mut prod = f.job(CI_JOB).unwrap().clone();
    prod.id = PROD_JOB;
    prod.name = "Production build".into();
    prod.execute_steps = vec!["dbt build".into()];
    f.jobs.push(prod);
    f.job_mut(CI_JOB).unwrap().deferring_job_definition_id = Some(PROD_JOB);
    let sandbox = start_with(
        SandboxOptions::default()
            .with_fixture(f)
            .with_repository(CI_JOB, repo.url())
            .with_repository(PROD_JOB, repo.url())
            .with_executor(Executor::Dbt { dbt }),
    );
    let api = Api::new(&sandbox.base_url());
    let everything = pairs(&[
        ("model.shop.base_orders", "success"),
        ("model.shop.stg_orders", "success"),
        ("test.shop.not_null_stg_orders_id.4d0b8b1b1c", "pass"),
    ]);
    let strip_hash = |v: Vec<(String, String)>| -> Vec<(String, String)> {
        v.into_iter()
            .map(
                |(id, s)| match id.strip_prefix("test.shop.not_null_stg_orders_id.") {
                    Some(_) => ("test.shop.not_null_stg_orders_id.4d0b8b1b1c".to_string(), s),
                    None => (id, s),
                },
            )
            .collect()
    };

    // 1. CI before any production run: nothing to defer to, so no deferral (as dbt Cloud):
    //    everything builds.
    let first_ci = trigger(&api, CI_JOB, json!({"cause": "first CI", "git_sha": good}));
    assert_eq!(
        wait_terminal(&sandbox, first_ci, LIMIT).status,
        RunStatus::Success
    );
    assert_eq!(strip_hash(results(&api, first_ci, None)), everything);
    let run = run_json(&api, first_ci);
    assert_eq!(
        step_names(&run),
        [
            "Clone Git Repository",
            "Create Profile from Connection Postgres",
            "Invoke dbt with `dbt deps`",
            "Invoke dbt with `dbt build --select state:modified+ --defer --state ./prod-manifest`",
        ]
    );
    let build_log = run["run_steps"][3]["logs"].as_str().unwrap();
    assert!(
        build_log.contains("No successful run to defer to"),
        "{build_log}"
    );
    assert!(build_log.contains("Completed successfully"), "{build_log}");
    assert_eq!(run["deferring_run_id"], Value::Null);

    // 2. Production: a real build of the good commit.
    let prod_run = trigger(&api, PROD_JOB, json!({"cause": "deploy", "git_sha": good}));
    assert_eq!(
        wait_terminal(&sandbox, prod_run, LIMIT).status,
        RunStatus::Success
    );
    assert_eq!(strip_hash(results(&api, prod_run, None)), everything);
    let run = run_json(&api, prod_run);
    assert_eq!(run["git_sha"], good.as_str());
    let step = &run["run_steps"][3];
    assert_eq!(step["status"], 10);
    assert!(
        step["debug_logs"].as_str().unwrap().contains("dbt"),
        "{step}"
    );
    let manifest = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{prod_run}/artifacts/manifest.json"
        ))
        .json();
    assert!(manifest["nodes"]["model.shop.stg_orders"].is_object());
    // dbt Cloud's run variables reach the artifacts (dagster-dbt reads the run id there).
    assert_eq!(
        manifest["metadata"]["env"]["DBT_CLOUD_RUN_ID"],
        prod_run.to_string(),
        "{}",
        manifest["metadata"]
    );
    let listed = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{prod_run}/artifacts/?step=4"
        ))
        .data();
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(listed.contains(&"run_results.json"), "{listed:?}");
    assert!(
        listed.contains(&"compiled/shop/models/staging/stg_orders.sql"),
        "{listed:?}"
    );

    // 3. CI on a commit that changes one model: deferral builds just it (and its test).
    let changed = repo.commit(
        "feature",
        "amount in cents",
        &[(
            "models/staging/stg_orders.sql",
            Some("select id, amount * 100 as amount from {{ ref('base_orders') }}\n"),
        )],
    );
    let ci = trigger(
        &api,
        CI_JOB,
        json!({"cause": "CI", "git_sha": changed, "git_branch": "feature"}),
    );
    assert_eq!(
        wait_terminal(&sandbox, ci, LIMIT).status,
        RunStatus::Success
    );
    let built = strip_hash(results(&api, ci, None));
    assert_eq!(
        built,
        pairs(&[
            ("model.shop.stg_orders", "success"),
            ("test.shop.not_null_stg_orders_id.4d0b8b1b1c", "pass"),
        ])
    );
    let run = run_json(&api, ci);
    assert_eq!(run["deferring_run_id"], prod_run);
    assert_eq!(run["git_branch"], "feature");

    // 4. A SQL error: Error at the `dbt build` step, dbt's message for the node, the rest
    //    not run.
    let bad = repo.commit(
        "broken",
        "typo",
        &[(
            "models/staging/stg_orders.sql",
            Some("selec id from {{ ref('base_orders') }}\n"),
        )],
    );
    let failing = trigger(
        &api,
        PROD_JOB,
        json!({"cause": "broken", "git_sha": bad, "generate_docs_override": true}),
    );
    let summary = wait_terminal(&sandbox, failing, LIMIT);
    assert_eq!(summary.status, RunStatus::Error);
    assert_eq!(summary.steps.len(), 4, "{summary:?}");
    let run = run_json(&api, failing);
    let step = &run["run_steps"][3];
    assert_eq!(step["status"], 20);
    let logs = step["logs"].as_str().unwrap();
    assert!(logs.contains("stg_orders"), "{logs}");
    assert!(
        run["status_message"]
            .as_str()
            .unwrap_or_default()
            .contains("dbt build"),
        "{run}"
    );
    let results_json = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{failing}/artifacts/run_results.json?step=4"
        ))
        .json();
    let node = results_json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["unique_id"] == "model.shop.stg_orders")
        .expect("the failing node is in run_results.json");
    assert_eq!(node["status"], "error");
    let message = node["message"].as_str().unwrap_or_default();
    assert!(message.to_lowercase().contains("syntax error"), "{message}");
    let retry = api
        .get(&format!("/api/v2/accounts/1/runs/{failing}/retry/"))
        .data();
    assert_eq!(
        retry["skipped_steps"],
        json!(["Invoke dbt with `dbt docs generate`"])
    );

    // 5. Cancel while dbt runs: dbt is killed, the run ends Cancelled.
    let slow = trigger(
        &api,
        PROD_JOB,
        json!({"cause": "to cancel", "git_sha": good}),
    );
    wait_until(&sandbox, slow, LIMIT, |r| r.steps.len() == 4);
    let r = api.post_empty(&format!("/api/v2/accounts/1/runs/{slow}/cancel/"));
    assert_eq!(r.data()["status"], 30, "{}", r.text);
    assert_eq!(
        wait_terminal(&sandbox, slow, LIMIT).status,
        RunStatus::Cancelled
    );
    // The worker records the kill in the step's log once dbt is gone.
    let killed = wait_until_log(&api, slow, 3, "Cancelled.");
    assert_eq!(killed["status"], 30, "{killed}");
}

/// Poll step `position`'s logs until they contain `text` (bounded).
fn wait_until_log(api: &Api, run: i64, position: usize, text: &str) -> Value {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let step = run_json(api, run)["run_steps"][position].clone();
        if step["logs"].as_str().is_some_and(|l| l.contains(text)) {
            return step;
        }
        assert!(
            std::time::Instant::now() < until,
            "step never logged {text:?}: {step}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
