//! What Dagster's and Prefect's dbt Cloud integrations need from the API (issue 14), each per
//! the spec and for any client: job definitions written through the API (Create, Update,
//! Destroy Job), `created_at__range`/`finished_at__range` on the run list, dbt Cloud's
//! `DBT_CLOUD_*` variables in the artifacts' `metadata.env`, and node failures that only
//! happen in steps that run nodes (a `dbt parse` run of a failing job succeeds).

mod sandbox_support;

use chrono::{DateTime, Duration, Utc};
use datachonk::sandbox::RunStatus;
use sandbox_support::*;
use serde_json::{json, Value};

const A: &str = "/api/v2/accounts/1";

fn job_names(api: &Api, query: &str) -> Vec<String> {
    let r = api.get(&format!("{A}/jobs/{query}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.data()
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|j| j["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn jobs_are_created_updated_and_destroyed_through_the_api() {
    let sb = start();
    let api = Api::new(&sb.base_url());

    // dagster-dbt's body: no execute_steps, no settings.
    let created = api.post(
        &format!("{A}/jobs/"),
        json!({"account_id": 1, "project_id": 1, "environment_id": 1,
               "name": "DAGSTER_ADHOC_JOB__1__1", "description": "ad hoc", "job_type": "other"}),
    );
    assert_eq!(created.status, 200, "{}", created.text);
    let job = created.data();
    let id = job["id"].as_i64().expect("id");
    assert!(id > JOB_SLOW, "a new id: {id}");
    assert_eq!(job["name"], "DAGSTER_ADHOC_JOB__1__1");
    assert_eq!(job["execute_steps"], json!(["dbt build"]));
    assert_eq!(job["job_type"], "other");
    assert_eq!(job["state"], 1);
    assert_eq!(
        api.get(&format!("{A}/jobs/{id}/")).data()["description"],
        "ad hoc"
    );
    assert!(job_names(&api, "?project_id=1&environment_id=1")
        .contains(&"DAGSTER_ADHOC_JOB__1__1".to_string()));

    // It runs like any job, with steps_override.
    let run = api.post(
        &format!("{A}/jobs/{id}/run/"),
        json!({"cause": "Triggered by dagster.", "steps_override": ["dbt parse"]}),
    );
    assert_eq!(run.status, 200, "{}", run.text);
    let run_id = run.data()["id"].as_i64().expect("run id");
    assert_eq!(
        api.wait_terminal(run_id)["status"],
        RunStatus::Success.code()
    );

    // prefect-dbt's body: no account_id, steps given.
    let second = api.post(
        &format!("{A}/jobs/"),
        json!({"project_id": 1, "environment_id": 1, "name": "Nightly",
               "execute_steps": ["dbt seed", "dbt build"]}),
    );
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.data()["id"], id + 1);
    assert_eq!(
        second.data()["execute_steps"],
        json!(["dbt seed", "dbt build"])
    );

    // Update: the keys sent replace the job's.
    let updated = api.post(
        &format!("{A}/jobs/{id}/"),
        json!({"name": "Renamed", "settings": {"threads": 8, "target_name": "prod"},
               "execute_steps": ["dbt run"]}),
    );
    assert_eq!(updated.status, 200, "{}", updated.text);
    let u = updated.data();
    assert_eq!(
        (
            u["name"].clone(),
            u["settings"]["threads"].clone(),
            u["settings"]["target_name"].clone()
        ),
        (json!("Renamed"), json!(8), json!("prod"))
    );
    assert_eq!(
        api.get(&format!("{A}/jobs/{id}/")).data()["execute_steps"],
        json!(["dbt run"])
    );

    // Validation errors name the field, as dbt Cloud's do.
    for (body, field) in [
        (json!({"project_id": 1, "environment_id": 1}), "name"),
        (
            json!({"name": "x", "project_id": 1, "environment_id": 99}),
            "environment_id",
        ),
        (
            json!({"name": "x", "project_id": 1, "environment_id": 1, "execute_steps": "dbt build"}),
            "execute_steps",
        ),
    ] {
        let r = api.post(&format!("{A}/jobs/"), body);
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains(field), "{field}: {}", r.text);
    }
    // Writing jobs needs a job admin; another account's job is not found.
    let ro = api.with_auth(Some(&format!("Token {READ_ONLY}")));
    let r = ro.post(
        &format!("{A}/jobs/"),
        json!({"name": "x", "project_id": 1, "environment_id": 1}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        ro.try_send(reqwest::Method::DELETE, &format!("{A}/jobs/{id}/"), None)
            .unwrap()
            .status,
        403
    );

    // Destroy: the envelope carries the deleted job (state 2); then it is gone.
    let deleted = api
        .try_send(reqwest::Method::DELETE, &format!("{A}/jobs/{id}/"), None)
        .expect("delete");
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.data()["id"], id);
    assert_eq!(deleted.data()["state"], 2);
    assert_eq!(api.get(&format!("{A}/jobs/{id}/")).status, 404);
    assert!(!job_names(&api, "").contains(&"Renamed".to_string()));
    let again = api
        .try_send(reqwest::Method::DELETE, &format!("{A}/jobs/{id}/"), None)
        .expect("delete");
    assert_eq!(
        again.status, 404,
        "dagster-dbt treats this as already deleted"
    );
    // The deleted job's runs stay readable.
    assert_eq!(api.get(&format!("{A}/runs/{run_id}/")).status, 200);
    assert!(sb.fixture().job(id).is_none());
    assert!(sb.fixture().job(id + 1).is_some());

    // The admin reset restores the jobs as loaded.
    let reset = api
        .http
        .post(format!("{}/_sandbox/reset", sb.base_url()))
        .send()
        .expect("reset");
    assert_eq!(reset.status(), 200);
    assert!(sb.fixture().job(id + 1).is_none());
    assert_eq!(api.get(&format!("{A}/jobs/{}/", id + 1)).status, 404);
    assert_eq!(api.get(&format!("{A}/jobs/{JOB_OK}/")).status, 200);
}

#[test]
fn runs_filter_by_created_and_finished_ranges() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let first = api.trigger(JOB_OK, "first");
    let done = api.wait_terminal(first);
    let slow = api.trigger(JOB_SLOW, "still running");
    let finished: DateTime<Utc> = done["finished_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(&t.replace(' ', "T")).ok())
        .expect("finished_at")
        .with_timezone(&Utc);
    let ids_for = |q: &str| ids(&api.get(&format!("{A}/runs/?{q}")).data());
    let range = |key: &str, from: DateTime<Utc>, to: DateTime<Utc>| {
        let v = format!("[\"{}\", \"{}\"]", from.to_rfc3339(), to.to_rfc3339());
        format!("{key}={}", urlencode(&v))
    };
    let s = Duration::seconds(1);
    // dagster-dbt's sensor: finished in a window, ordered by finished_at; unfinished runs out.
    let q = format!(
        "{}&order_by=finished_at",
        range("finished_at__range", finished - s, finished + s)
    );
    assert_eq!(ids_for(&q), vec![first]);
    assert!(ids_for(&range("finished_at__range", finished + s, finished + s * 2)).is_empty());
    let now = Utc::now();
    let created = ids_for(&range("created_at__range", now - s * 60, now + s));
    assert_eq!(created, vec![first, slow]);
    assert!(ids_for(&range("created_at__range", now + s, now + s * 2)).is_empty());
    let echoed = api.get(&format!("{A}/runs/?{q}")).json();
    assert!(
        echoed["extra"]["filters"]["finished_at__range"].is_array(),
        "{echoed}"
    );
    let bad = api.get(&format!("{A}/runs/?finished_at__range=yesterday"));
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("finished_at__range"), "{}", bad.text);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn artifacts_carry_dbt_clouds_run_variables_in_metadata_env() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let run = api.trigger(JOB_OK, "env please");
    api.wait_terminal(run);
    for path in ["run_results.json", "manifest.json"] {
        let doc: Value = api.get(&format!("{A}/runs/{run}/artifacts/{path}")).json();
        let env = &doc["metadata"]["env"];
        assert_eq!(env["DBT_CLOUD_RUN_ID"], run.to_string(), "{path}: {env}");
        assert_eq!(env["DBT_CLOUD_JOB_ID"], JOB_OK.to_string());
        assert_eq!(env["DBT_CLOUD_PROJECT_ID"], "1");
        assert_eq!(env["DBT_CLOUD_ENVIRONMENT_ID"], "1");
        assert_eq!(env["DBT_CLOUD_ACCOUNT_ID"], "1");
        assert_eq!(env["DBT_CLOUD_RUN_REASON"], "env please");
        assert_eq!(env["DBT_CLOUD_RUN_REASON_CATEGORY"], "api");
    }
}

#[test]
fn node_failures_happen_only_in_steps_that_run_nodes() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let run = |steps: Value| {
        let r = api.post(
            &format!("{A}/jobs/{JOB_ERROR}/run/"),
            json!({"cause": "steps", "steps_override": steps}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        api.wait_terminal(r.data()["id"].as_i64().expect("id"))
    };
    let parsed = run(json!(["dbt parse"]));
    assert_eq!(parsed["status"], RunStatus::Success.code(), "{parsed}");
    assert!(api
        .get(&format!(
            "{A}/runs/{}/artifacts/manifest.json",
            parsed["id"]
        ))
        .json()["nodes"]
        .as_object()
        .is_some_and(|n| !n.is_empty()));
    let built = run(json!(["dbt build --select stg_orders"]));
    assert_eq!(built["status"], RunStatus::Error.code(), "{built}");
}
