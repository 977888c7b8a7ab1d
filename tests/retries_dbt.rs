//! A targeted retry with real dbt: a model that fails on the first run for a transient reason
//! goes green with `dbt-run --retries 1`, and the retry (`dbt retry` in the sandbox's `dbt`
//! executor) runs only the failed node and its downstream.
//!
//! The transient reason is the project's own: `flaky` reads a table that the project's
//! `on-run-end` hook creates, so it does not exist during the first run and does by the retry
//! (no sleeps, no test-side timing). dbt from `bash scripts/setup-test-deps`; without it this
//! test FAILS.

mod real_dbt;
mod sandbox_repo;
mod support;

use datachonk::sandbox::{Executor, Fixture, Sandbox, SandboxOptions};
use sandbox_repo::Repo;
use support::{datachonk, workdir, TOKEN};

const JOB: i64 = 20;

const PROJECT: &[(&str, Option<&str>)] = &[
    (
        "dbt_project.yml",
        Some(
            "name: shop\nversion: '1.0.0'\nconfig-version: 2\nprofile: shop\nmodel-paths: [models]\n\
             on-run-end:\n  - \"create table if not exists {{ target.schema }}.transient_input as select 1 as id\"\n",
        ),
    ),
    ("models/base_orders.sql", Some("select 1 as id, 10 as amount\n")),
    (
        "models/flaky.sql",
        Some("select id from {{ target.schema }}.transient_input\n"),
    ),
    (
        "models/after_flaky.sql",
        Some("select id from {{ ref('flaky') }}\n"),
    ),
];

/// `(unique_id, status)` of the models in a run_results.json, sorted.
fn models_in(run_results: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = run_results["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|n| {
            (
                n["unique_id"].as_str().unwrap_or_default().to_string(),
                n["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .filter(|(id, _)| id.starts_with("model."))
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

#[test]
fn a_transient_failure_goes_green_with_one_retry_that_runs_only_the_failed_and_downstream() {
    let dbt = real_dbt::dbt_path();
    let repo = Repo::new();
    let sha = repo.commit("main", "flaky shop", PROJECT);

    let mut f = Fixture::builtin(TOKEN);
    let mut job = f.jobs[0].clone();
    job.id = JOB;
    job.name = "Build".into();
    job.execute_steps = vec!["dbt build".into()];
    f.jobs.push(job);
    let sb = Sandbox::start(
        SandboxOptions::default()
            .with_fixture(f)
            .with_repository(JOB, repo.url())
            .with_executor(Executor::Dbt { dbt }),
    )
    .expect("sandbox starts");
    let dir = workdir();
    std::fs::write(
        dir.path().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud: {}\n",
    )
    .unwrap();

    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "20",
            "--git-sha",
            &sha,
            "--wait",
            "--retries",
            "1",
            "--json",
            "--timeout",
            "240s",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    let attempts = v["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{v:#}");
    assert_eq!(attempts[0]["outcome"], "error");
    assert_eq!(
        attempts[0]["retry"]["plan"]["failed_nodes"],
        serde_json::json!(["model.shop.flaky"])
    );
    assert_eq!(
        attempts[0]["retry"]["plan"]["downstream"],
        serde_json::json!(["model.shop.after_flaky"])
    );
    assert_eq!(v["outcome"], "success");
    let runs = sb.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs[1].steps.iter().any(|s| s.contains("dbt retry")),
        "the retry ran `dbt retry`: {:?}",
        runs[1].steps
    );

    // The first run: base_orders built, flaky failed, after_flaky skipped.
    let first = std::fs::read(dir.path().join(".datachonk/runs/1/step-4/run_results.json"))
        .expect("the first run's results are kept");
    let first: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(
        models_in(&first),
        pairs(&[
            ("model.shop.after_flaky", "skipped"),
            ("model.shop.base_orders", "success"),
            ("model.shop.flaky", "error"),
        ])
    );
    // The retry ran only the failed node and its downstream.
    let retry = std::fs::read(dir.path().join(".datachonk/runs/2/step-4/run_results.json"))
        .expect("the retry's results are kept");
    let retry: serde_json::Value = serde_json::from_slice(&retry).unwrap();
    assert_eq!(
        models_in(&retry),
        pairs(&[
            ("model.shop.after_flaky", "success"),
            ("model.shop.flaky", "success"),
        ])
    );
}
