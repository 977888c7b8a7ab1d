//! The `simulate` executor with a job repository, over real HTTP against a real bare git repo:
//! a run checks out the requested sha (or branch head, or the remote HEAD), its artifacts name
//! the models at that sha, and a sha or branch that is not there fails step 1 as in dbt Cloud.

mod sandbox_repo;
mod sandbox_support;

use std::time::Duration;

use datachonk::sandbox::fixture::{NodeFailure, Outcome, RunBehaviour};
use datachonk::sandbox::{RunStatus, SandboxOptions};
use sandbox_repo::{wait_terminal, wait_until, Repo, PROJECT};
use sandbox_support::{fixture, start_with, Api, JOB_ERROR, JOB_OK, JOB_SLOW};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(20);

fn trigger(api: &Api, job: i64, body: Value) -> i64 {
    let r = api.post(&format!("/api/v2/accounts/1/jobs/{job}/run/"), body);
    assert_eq!(r.status, 200, "{}", r.text);
    r.data()["id"].as_i64().expect("run id")
}

fn run_json(api: &Api, id: i64) -> Value {
    api.get(&format!(
        "/api/v2/accounts/1/runs/{id}/?include_related=[\"run_steps\"]"
    ))
    .data()
}

fn model_ids(manifest: &Value) -> Vec<String> {
    let mut ids: Vec<String> = manifest["nodes"]
        .as_object()
        .expect("nodes")
        .keys()
        .filter(|k| k.starts_with("model."))
        .cloned()
        .collect();
    ids.sort();
    ids
}

#[test]
fn simulated_runs_check_out_the_requested_commit_and_name_its_models() {
    let repo = Repo::new();
    let first = repo.commit("main", "first models", PROJECT);
    let second = repo.commit(
        "main",
        "add customers",
        &[("models/staging/stg_customers.sql", Some("select 2 as id\n"))],
    );
    let mut f = fixture();
    for id in [JOB_OK, JOB_ERROR, JOB_SLOW] {
        f.set_repository(id, repo.url());
    }
    f.job_mut(JOB_ERROR).unwrap().run = RunBehaviour {
        outcome: Outcome::Error,
        failing_step: Some(4),
        failures: vec![NodeFailure {
            node: "stg_customers".into(),
            message: "Database Error in model stg_customers".into(),
            status: Default::default(),
        }],
        ..RunBehaviour::uniform(5)
    };
    f.job_mut(JOB_SLOW).unwrap().run = RunBehaviour {
        step_ms: 60_000,
        ..RunBehaviour::uniform(5)
    };
    let sandbox = start_with(SandboxOptions::default().with_fixture(f));
    let api = Api::new(&sandbox.base_url());

    // The old sha: only the models that existed then.
    let at_first = trigger(&api, JOB_OK, json!({"cause": "old", "git_sha": first}));
    // A branch: its head.
    let at_branch = trigger(
        &api,
        JOB_OK,
        json!({"cause": "branch", "git_branch": "main"}),
    );
    // Nothing asked: the remote's HEAD, reported with its branch.
    let at_head = trigger(&api, JOB_OK, json!({"cause": "head"}));
    for id in [at_first, at_branch, at_head] {
        assert_eq!(
            wait_terminal(&sandbox, id, LIMIT).status,
            RunStatus::Success
        );
    }
    let manifest = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{at_first}/artifacts/manifest.json"
        ))
        .json();
    assert_eq!(
        model_ids(&manifest),
        ["model.shop.base_orders", "model.shop.stg_orders"]
    );
    assert_eq!(manifest["metadata"]["project_name"], "shop");
    let run = run_json(&api, at_first);
    assert_eq!(run["git_sha"], first.as_str());
    let clone = &run["run_steps"][0];
    assert_eq!(clone["name"], "Clone Git Repository");
    let logs = clone["logs"].as_str().unwrap();
    assert!(logs.contains("Cloning into '"), "{logs}");
    assert!(
        logs.contains(&format!("Checking out to {first}...")),
        "{logs}"
    );

    for id in [at_branch, at_head] {
        let manifest = api
            .get(&format!(
                "/api/v2/accounts/1/runs/{id}/artifacts/manifest.json"
            ))
            .json();
        assert!(model_ids(&manifest).contains(&"model.shop.stg_customers".to_string()));
        let run = run_json(&api, id);
        assert_eq!(run["git_sha"], second.as_str());
        assert_eq!(run["git_branch"], "main");
    }

    // An outcome rule naming a model that exists at this sha.
    let failing = trigger(
        &api,
        JOB_ERROR,
        json!({"cause": "fails", "git_sha": second}),
    );
    assert_eq!(
        wait_terminal(&sandbox, failing, LIMIT).status,
        RunStatus::Error
    );
    let results = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{failing}/artifacts/run_results.json"
        ))
        .json();
    let failed: Vec<&Value> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "error")
        .collect();
    assert_eq!(failed.len(), 1, "{results}");
    assert_eq!(failed[0]["unique_id"], "model.shop.stg_customers");

    // Cancel while a (long) step is running: Cancelled at once, the worker stops.
    let slow = trigger(&api, JOB_SLOW, json!({"cause": "slow"}));
    wait_until(&sandbox, slow, LIMIT, |r| r.steps.len() >= 2);
    let r = api.post_empty(&format!("/api/v2/accounts/1/runs/{slow}/cancel/"));
    assert_eq!(r.data()["status"], 30, "{}", r.text);
    assert_eq!(
        wait_terminal(&sandbox, slow, LIMIT).status,
        RunStatus::Cancelled
    );
}

#[test]
fn a_missing_commit_or_branch_fails_step_one_like_dbt_cloud() {
    let repo = Repo::new();
    repo.commit("main", "first models", PROJECT);
    let mut f = fixture();
    f.set_repository(JOB_OK, repo.url());
    let sandbox = start_with(SandboxOptions::default().with_fixture(f));
    let api = Api::new(&sandbox.base_url());

    let missing_sha = "0123456789abcdef0123456789abcdef01234567";
    let bad_sha = trigger(&api, JOB_OK, json!({"cause": "x", "git_sha": missing_sha}));
    let bad_branch = trigger(
        &api,
        JOB_OK,
        json!({"cause": "x", "git_branch": "no-such-branch"}),
    );
    for (id, what) in [(bad_sha, missing_sha), (bad_branch, "no-such-branch")] {
        let summary = wait_terminal(&sandbox, id, LIMIT);
        assert_eq!(summary.status, RunStatus::Error);
        assert_eq!(summary.steps, ["Clone Git Repository"]);
        let run = run_json(&api, id);
        assert_eq!(run["status"], 20);
        let message = run["status_message"].as_str().unwrap_or_default();
        assert!(
            message.contains(what) && message.contains("not found"),
            "{message}"
        );
        let step = &run["run_steps"][0];
        assert_eq!(step["status"], 20);
        assert!(step["logs"].as_str().unwrap().contains(what), "{step}");
        assert_eq!(run["git_sha"], Value::Null);
    }
}
