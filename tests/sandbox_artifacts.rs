//! The simulated executor's artifacts are dbt's own: `manifest.json` (v12), `run_results.json`
//! (v6) and `sources.json` (v3) validate against the schemas dbt publishes
//! (`tests/fixtures/dbt-artifact-schemas/`), for a succeeding run, a failing one (errors, test
//! failures, warnings, skipped nodes) and a job that checks source freshness — and the
//! manifest's lineage maps say what the results' skipping implies.

mod sandbox_support;

use std::path::PathBuf;

use datachonk::sandbox::fixture::{FreshnessStatus, NodeWarning};
use sandbox_support::*;
use serde_json::Value;

fn schema(name: &str) -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dbt-artifact-schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("vendored schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(false)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{name} does not compile: {e}"))
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

fn artifact(api: &Api, run: i64, path: &str, step: Option<i64>) -> Value {
    let q = step.map_or(String::new(), |s| format!("?step={s}"));
    let r = api.get(&format!(
        "/api/v2/accounts/1/runs/{run}/artifacts/{path}{q}"
    ));
    assert_eq!(r.status, 200, "run {run} {path}: {}", r.text);
    r.json()
}

const JOB_FRESHNESS: i64 = 40;

#[test]
fn simulated_artifacts_validate_against_dbts_published_schemas() {
    let mut f = fixture();
    let mut fresh = f.job(JOB_OK).unwrap().clone();
    fresh.id = JOB_FRESHNESS;
    fresh.name = "Freshness".into();
    fresh.run_generate_sources = true;
    fresh.run.freshness = [
        ("raw.orders".to_string(), FreshnessStatus::Error),
        ("raw.payments".to_string(), FreshnessStatus::Warn),
    ]
    .into_iter()
    .collect();
    f.jobs.push(fresh);
    f.job_mut(JOB_ERROR).unwrap().run.warnings = vec![NodeWarning {
        node: "test.analytics.accepted_values_stg_customers_status".into(),
        message: "Got 2 results, configured to warn if != 0".into(),
    }];
    let sb = start_with(datachonk::sandbox::SandboxOptions::default().with_fixture(f));
    let api = Api::new(&sb.base_url());
    let manifest_schema = schema("manifest-v12.json");
    let results_schema = schema("run-results-v6.json");
    let sources_schema = schema("sources-v3.json");

    for job in [JOB_OK, JOB_ERROR, JOB_FRESHNESS] {
        let run = api.trigger(job, "artifacts");
        api.wait_terminal(run);
        assert_valid(
            &manifest_schema,
            &format!("job {job} manifest.json"),
            &artifact(&api, run, "manifest.json", Some(4)),
        );
        assert_valid(
            &results_schema,
            &format!("job {job} run_results.json"),
            &artifact(&api, run, "run_results.json", Some(4)),
        );
    }

    // Failures skip what is downstream of them, as the manifest's child_map says.
    let failed = api.trigger(JOB_ERROR, "lineage");
    api.wait_terminal(failed);
    let manifest = artifact(&api, failed, "manifest.json", Some(4));
    let results = artifact(&api, failed, "run_results.json", Some(4));
    let status = |id: &str| -> String {
        results["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unique_id"] == id)
            .map(|r| r["status"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(status("model.analytics.stg_orders"), "error");
    assert_eq!(status("model.analytics.stg_payments"), "skipped");
    assert_eq!(
        status("test.analytics.accepted_values_stg_customers_status"),
        "warn"
    );
    let children = &manifest["child_map"]["model.analytics.stg_orders"];
    assert!(
        children
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "model.analytics.stg_payments"),
        "{children}"
    );
    let parents = &manifest["parent_map"]["model.analytics.stg_customers"];
    assert_eq!(
        parents,
        &serde_json::json!(["source.analytics.raw.customers"])
    );
    assert_eq!(
        manifest["sources"]["source.analytics.raw.customers"]["source_name"],
        "raw"
    );
    let test_parents = &manifest["parent_map"]["test.analytics.not_null_stg_customers_id"];
    assert_eq!(
        test_parents,
        &serde_json::json!(["model.analytics.stg_customers"])
    );

    // Source freshness: one table per source, the fixture's verdicts, valid sources.json.
    let run = api.trigger(JOB_FRESHNESS, "freshness");
    let done = api.wait_terminal(run);
    let step = done["run_steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Invoke dbt with `dbt source freshness`")
        .and_then(|s| s["index"].as_i64())
        .expect("a freshness step");
    let sources = artifact(&api, run, "sources.json", Some(step));
    assert_valid(&sources_schema, "sources.json", &sources);
    let verdicts: Vec<(String, String)> = sources["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                "source.analytics.raw.customers".to_string(),
                "pass".to_string()
            ),
            (
                "source.analytics.raw.orders".to_string(),
                "error".to_string()
            ),
            (
                "source.analytics.raw.payments".to_string(),
                "warn".to_string()
            ),
        ]
    );
    assert_eq!(done["has_sources_generated"], true);

    // The schemas do judge: a status dbt never writes is refused.
    let mut bogus = sources.clone();
    bogus["results"][0]["status"] = "stale-ish".into();
    assert!(!sources_schema.is_valid(&bogus));
    let mut bogus = artifact(&api, run, "run_results.json", Some(step + 1));
    bogus["results"][0]["status"] = "stale-ish".into();
    assert!(!results_schema.is_valid(&bogus));
}
