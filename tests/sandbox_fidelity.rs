//! Fidelity: every JSON body the sandbox returns validates against the response schema the
//! official spec (`tests/fixtures/dbt-cloud-api/openapi-v2.yaml`, and `openapi-v3.yaml` for v3
//! paths) gives for that path and method — `paths.<p>.<method>.responses.200.content.
//! application/json.schema`, looked up from the spec, not hard-coded.
//!
//! The spec is OpenAPI 3.0 and marks nothing nullable, yet dbt Cloud returns `null` for
//! unset values (README "Known client pitfalls"), so every type (and enum) also allows
//! `null`; `oneOf` becomes `anyOf` because `null` would otherwise match several branches.
//! Required keys stay required: a missing key is a fidelity bug even when `null` is fine.

mod sandbox_support;

use std::path::PathBuf;

use sandbox_support::*;
use serde_json::{json, Value};

fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dbt-cloud-api")
}

fn load_spec(name: &str) -> Value {
    let path = spec_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the vendored dbt Cloud API spec is missing at {} ({e}); see \
             tests/fixtures/dbt-cloud-api/README.md",
            path.display()
        )
    });
    serde_saphyr::from_str(&text)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// Make an OpenAPI 3.0 schema tree accept `null` wherever a value is allowed.
fn allow_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(t)) = m.get("type").cloned() {
                m.insert("type".into(), json!([t, "null"]));
            }
            if let Some(Value::Array(e)) = m.get_mut("enum") {
                if !e.contains(&Value::Null) {
                    e.push(Value::Null);
                }
            }
            if let Some(one_of) = m.remove("oneOf") {
                m.insert("anyOf".into(), one_of);
            }
            m.remove("nullable");
            for (k, child) in m.iter_mut() {
                if !matches!(k.as_str(), "enum" | "example" | "default" | "required") {
                    allow_nulls(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(allow_nulls),
        _ => {}
    }
}

struct Spec {
    raw: Value,
    components: Value,
}

impl Spec {
    fn new(name: &str) -> Spec {
        let raw = load_spec(name);
        let mut components = raw["components"].clone();
        assert!(
            components["schemas"].is_object(),
            "{name}: no components.schemas"
        );
        allow_nulls(&mut components);
        Spec { raw, components }
    }

    /// The spec path template matching a concrete request path (trailing slash optional).
    fn template(&self, path: &str) -> Option<String> {
        let want: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.raw["paths"].as_object()?;
        paths
            .keys()
            .filter(|t| {
                let segs: Vec<&str> = t.trim_end_matches('/').split('/').collect();
                segs.len() == want.len()
                    && segs
                        .iter()
                        .zip(&want)
                        .all(|(s, w)| s.starts_with('{') || s == w)
            })
            .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
            .cloned()
    }

    /// `responses.200.content.application/json.schema` of the operation.
    fn response_schema(&self, method: &str, path: &str) -> Result<(String, Value), String> {
        let template = self
            .template(path)
            .ok_or_else(|| format!("no spec path matches {path}"))?;
        let schema = self.raw["paths"][&template][method.to_ascii_lowercase()]["responses"]["200"]
            ["content"]["application/json"]["schema"]
            .clone();
        if schema.is_null() {
            return Err(format!(
                "{method} {template} has no JSON 200 schema in the spec"
            ));
        }
        Ok((template, schema))
    }

    fn validate(&self, schema: &Value, body: &Value) -> Vec<String> {
        let mut schema = schema.clone();
        allow_nulls(&mut schema);
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": self.components,
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema does not compile: {e}"));
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

/// Requests to check: (method, path with query, JSON body for POSTs).
struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
}

fn get(path: impl Into<String>) -> Call {
    Call {
        method: "GET",
        path: path.into(),
        body: None,
    }
}

fn post(path: impl Into<String>, body: Option<Value>) -> Call {
    Call {
        method: "POST",
        path: path.into(),
        body,
    }
}

#[test]
fn every_json_response_validates_against_the_official_spec() {
    let v2 = Spec::new("openapi-v2.yaml");
    let v3 = Spec::new("openapi-v3.yaml");
    let sb = start();
    let api = Api::new(&sb.base_url());
    let mut failures = Vec::new();
    let mut checked = std::collections::BTreeSet::new();

    let mut check = |call: Call, api: &Api| -> Value {
        let method = reqwest::Method::from_bytes(call.method.as_bytes()).expect("method");
        let reply = api
            .try_send(method, &call.path, call.body)
            .unwrap_or_else(|e| panic!("{} {}: {e}", call.method, call.path));
        assert_eq!(
            reply.status, 200,
            "{} {}: {}",
            call.method, call.path, reply.text
        );
        let body = reply.json();
        let path_only = call.path.split('?').next().unwrap_or_default();
        let spec = if path_only.starts_with("/api/v3/") {
            &v3
        } else {
            &v2
        };
        match spec.response_schema(call.method, path_only) {
            Ok((template, schema)) => {
                checked.insert(format!("{} {template}", call.method));
                for e in spec.validate(&schema, &body) {
                    failures.push(format!("{} {}: {e}", call.method, call.path));
                }
            }
            Err(e) => failures.push(e),
        }
        body
    };

    let a = "/api/v2/accounts/1";
    for p in [
        "/api/v2/accounts/".to_string(),
        "/api/v3/accounts/".into(),
        format!("{a}/"),
        format!("{a}/projects/"),
        format!("{a}/projects/1/"),
        "/api/v3/accounts/1/projects/".into(),
        "/api/v3/accounts/1/projects/1/".into(),
        format!("{a}/environments/"),
        format!("{a}/environments/1/"),
        "/api/v3/accounts/1/projects/1/environments/".into(),
        format!("{a}/jobs/"),
        format!("{a}/jobs/1/"),
    ] {
        check(get(p), &api);
    }

    // Runs in every state, with and without related objects.
    let full = json!({
        "cause": "fidelity", "git_sha": "0123abcd", "git_branch": "main",
        "github_pull_request_id": 7, "schema_override": "dbt_cloud_pr_1_7",
        "dbt_version_override": "latest", "threads_override": 2, "target_name_override": "ci",
        "generate_docs_override": true, "timeout_seconds_override": 60,
        "steps_override": ["dbt build"]
    });
    let queued = check(post(format!("{a}/jobs/{JOB_SLOW}/run/"), Some(full)), &api)["data"]["id"]
        .as_i64()
        .expect("id");
    let include = "include_related=run_steps,job,trigger,environment,debug_logs";
    check(get(format!("{a}/runs/{queued}/?{include}")), &api);
    api.wait_until(queued, |d| {
        d["status"] == 3 && d["run_steps"].as_array().is_some_and(|s| !s.is_empty())
    });
    check(get(format!("{a}/runs/{queued}/?{include}")), &api);
    check(post(format!("{a}/runs/{queued}/cancel/"), None), &api);
    check(get(format!("{a}/runs/{queued}/?{include}")), &api);

    let ok = api.trigger(JOB_OK, "ok");
    let failed = api.trigger(JOB_ERROR, "fails");
    let done = api.wait_terminal(ok);
    api.wait_terminal(failed);
    check(get(format!("{a}/runs/{ok}/")), &api);
    check(get(format!("{a}/runs/{ok}/?{include}")), &api);
    check(get(format!("{a}/runs/{failed}/?{include}")), &api);
    check(
        get(format!(
            "{a}/runs/?include_related=%5B%22trigger%22%2C%22job%22%5D&order_by=-id"
        )),
        &api,
    );
    check(get(format!("{a}/runs/?status__in=%5B20%5D&limit=2")), &api);
    check(get(format!("{a}/runs/{ok}/artifacts/")), &api);
    check(get(format!("{a}/runs/{failed}/retry/")), &api);
    let step = done["run_steps"][0]["id"].as_i64().expect("step id");
    check(get(format!("{a}/steps/{step}/")), &api);
    check(post(format!("{a}/runs/{failed}/retry/"), None), &api);
    check(post(format!("{a}/jobs/{JOB_OK}/rerun/"), None), &api);
    check(post(format!("{a}/runs/{ok}/cancel/"), None), &api);
    check(get(format!("{a}/jobs/{JOB_OK}/?include_related=environment,most_recent_run,most_recent_completed_run")), &api);
    check(
        get(format!(
            "{a}/jobs/?include_related=environment,most_recent_run"
        )),
        &api,
    );

    // Job definitions written through the API (issue 14: dagster-dbt creates its ad hoc job).
    let created = check(
        post(
            format!("{a}/jobs/"),
            Some(
                json!({"account_id": 1, "project_id": 1, "environment_id": 1,
                        "name": "Adhoc", "job_type": "other"}),
            ),
        ),
        &api,
    )["data"]["id"]
        .as_i64()
        .expect("job id");
    check(
        post(
            format!("{a}/jobs/{created}/"),
            Some(json!({"name": "Adhoc (renamed)", "execute_steps": ["dbt parse"]})),
        ),
        &api,
    );
    check(
        get(format!(
            "{a}/runs/?finished_at__range=%5B%222020-01-01T00%3A00%3A00Z%22%2C%222100-01-01T00%3A00%3A00Z%22%5D&order_by=finished_at"
        )),
        &api,
    );

    // Error envelopes are not in the spec; their `status` block still is a ResponseStatus.
    let status_schema = json!({"$ref": "#/components/schemas/ResponseStatus"});
    for (who, path) in [
        (None, format!("{a}/")),
        (Some(format!("Token {TOKEN}")), format!("{a}/runs/999999/")),
    ] {
        let reply = api.with_auth(who.as_deref()).get(&path);
        assert!(reply.status >= 400);
        for e in v2.validate(&status_schema, &reply.json()["status"]) {
            failures.push(format!("error status of {path}: {e}"));
        }
    }

    for expected in [
        "GET /api/v2/accounts/",
        "GET /api/v3/accounts/",
        "GET /api/v2/accounts/{account_id}/",
        "GET /api/v2/accounts/{account_id}/projects/",
        "GET /api/v2/accounts/{account_id}/projects/{id}/",
        "GET /api/v3/accounts/{account_id}/projects/",
        "GET /api/v3/accounts/{account_id}/projects/{id}/",
        "GET /api/v2/accounts/{account_id}/environments/",
        "GET /api/v2/accounts/{account_id}/environments/{id}/",
        "GET /api/v3/accounts/{account_id}/projects/{project_id}/environments/",
        "GET /api/v2/accounts/{account_id}/jobs/",
        "GET /api/v2/accounts/{account_id}/jobs/{id}/",
        "POST /api/v2/accounts/{account_id}/jobs/",
        "POST /api/v2/accounts/{account_id}/jobs/{id}/",
        "POST /api/v2/accounts/{account_id}/jobs/{job_id}/run/",
        "POST /api/v2/accounts/{account_id}/jobs/{job_id}/rerun/",
        "GET /api/v2/accounts/{account_id}/runs/",
        "GET /api/v2/accounts/{account_id}/runs/{id}/",
        "POST /api/v2/accounts/{account_id}/runs/{run_id}/cancel/",
        "GET /api/v2/accounts/{account_id}/runs/{run_id}/retry/",
        "POST /api/v2/accounts/{account_id}/runs/{run_id}/retry/",
        "GET /api/v2/accounts/{account_id}/runs/{run_id}/artifacts/",
        "GET /api/v2/accounts/{account_id}/steps/{id}/",
    ] {
        assert!(
            checked.contains(expected),
            "not checked: {expected}; checked: {checked:#?}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} schema violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_null_conversion_still_rejects_wrong_types_and_missing_keys() {
    let v2 = Spec::new("openapi-v2.yaml");
    let (_, schema) = v2
        .response_schema("GET", "/api/v2/accounts/1/runs/5/")
        .expect("run schema");
    let good = json!({"status": {"code": 200, "is_success": true, "user_message": "Success!", "developer_message": ""},
                      "data": {"id": 5, "created_at": "x", "updated_at": "y", "finished_at": null}});
    assert!(v2.validate(&schema, &good).is_empty());
    let wrong_type = json!({"status": good["status"], "data": {"id": "5", "created_at": "x", "updated_at": "y"}});
    assert!(
        !v2.validate(&schema, &wrong_type).is_empty(),
        "a string id is refused"
    );
    let missing = json!({"status": good["status"], "data": {"id": 5, "updated_at": "y"}});
    assert!(
        !v2.validate(&schema, &missing).is_empty(),
        "created_at is required"
    );
}
