//! Job definitions written through the API: `POST /jobs/` (Create Job), `POST /jobs/{id}/`
//! (Update Job) and `DELETE /jobs/{id}/` (Destroy Job), as the spec's
//! `HumanReadableJobDefinitionRequest` describes them.
//!
//! The spec marks a dozen keys required (`settings`, `triggers`, `execution`, ...), yet dbt
//! Cloud creates a job from far less: dagster-dbt sends `name`, `project_id`, `environment_id`,
//! `description` and `job_type`; prefect-dbt sends no `account_id`. So only `name`,
//! `project_id` and `environment_id` are required to create; every other key, when present, is
//! checked against the spec's type and applied, and missing ones take dbt Cloud's defaults
//! (`execute_steps: ["dbt build"]`, the project's repository, the fixture's run behaviour).

use serde_json::{Map, Value};

use super::fixture::{Fixture, JobFixture, RunBehaviour};

/// Field → message, dbt Cloud's validation error shape.
pub type Invalid = Map<String, Value>;

fn invalid(field: &str, message: &str) -> Invalid {
    let mut m = Map::new();
    m.insert(field.into(), Value::String(message.into()));
    m
}

/// The body of a create or update: a JSON object.
pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid(
            "non_field_errors",
            "Invalid data. Expected a dictionary.",
        )),
    }
}

/// A new job for account `account_id` from a Create Job body; its id follows the largest so far.
pub fn create(
    fixture: &Fixture,
    account_id: i64,
    body: &Map<String, Value>,
) -> Result<JobFixture, Invalid> {
    for key in ["name", "project_id", "environment_id"] {
        if body.get(key).is_none_or(Value::is_null) {
            return Err(invalid(key, "This field is required."));
        }
    }
    let id = fixture.jobs.iter().map(|j| j.id).max().unwrap_or(0) + 1;
    let mut job = JobFixture {
        id,
        project_id: 0,
        environment_id: 0,
        name: String::new(),
        description: String::new(),
        job_type: "other".into(),
        execute_steps: vec!["dbt build".into()],
        generate_docs: false,
        run_generate_sources: false,
        models: vec![
            "stg_customers".into(),
            "stg_orders".into(),
            "stg_payments".into(),
        ],
        threads: 4,
        target_name: "default".into(),
        timeout_seconds: 0,
        dbt_version: None,
        deferring_environment_id: None,
        deferring_job_definition_id: None,
        cron: "0 * * * *".into(),
        repository: None,
        run: RunBehaviour::default(),
    };
    apply(fixture, account_id, &mut job, body)?;
    // A repository belongs to the project in dbt Cloud: the new job checks out what the
    // project's other jobs do, and reports the same models.
    if let Some(sibling) = fixture.jobs.iter().find(|j| j.project_id == job.project_id) {
        job.repository = sibling.repository.clone();
        job.models = sibling.models.clone();
    }
    Ok(job)
}

/// Apply the keys an Update Job (or Create Job) body carries to `job`.
pub fn apply(
    fixture: &Fixture,
    account_id: i64,
    job: &mut JobFixture,
    body: &Map<String, Value>,
) -> Result<(), Invalid> {
    let int = |key: &str| -> Result<Option<i64>, Invalid> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| invalid(key, "A valid integer is required.")),
        }
    };
    let text = |key: &str| -> Result<Option<String>, Invalid> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(key, "Not a valid string.")),
        }
    };
    let flag = |key: &str| -> Result<Option<bool>, Invalid> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(key, "Must be a valid boolean.")),
        }
    };

    if let Some(a) = int("account_id")? {
        if a != account_id {
            return Err(invalid(
                "account_id",
                "Does not match the account in the URL.",
            ));
        }
    }
    if let Some(p) = int("project_id")? {
        if fixture.project_account(p) != Some(account_id) {
            return Err(invalid(
                "project_id",
                &format!("Invalid pk \"{p}\" - object does not exist."),
            ));
        }
        job.project_id = p;
    }
    if let Some(e) = int("environment_id")? {
        job.environment_id = e;
    }
    match fixture.environment(job.environment_id) {
        Some(env) if env.project_id == job.project_id => {}
        _ => {
            return Err(invalid(
                "environment_id",
                &format!(
                    "Invalid pk \"{}\" - object does not exist.",
                    job.environment_id
                ),
            ))
        }
    }
    if let Some(name) = text("name")? {
        if name.trim().is_empty() {
            return Err(invalid("name", "This field may not be blank."));
        }
        job.name = name;
    }
    if let Some(d) = text("description")? {
        job.description = d;
    }
    if let Some(t) = text("job_type")? {
        const JOB_TYPES: [&str; 7] = [
            "ci",
            "scheduled",
            "other",
            "merge",
            "exposure_sync",
            "adaptive",
            "hybrid",
        ];
        if !JOB_TYPES.contains(&t.as_str()) {
            return Err(invalid(
                "job_type",
                &format!("\"{t}\" is not a valid choice."),
            ));
        }
        job.job_type = t;
    }
    match body.get("execute_steps") {
        None | Some(Value::Null) => {}
        Some(Value::Array(steps)) => {
            let steps: Option<Vec<String>> = steps
                .iter()
                .map(|s| {
                    s.as_str()
                        .filter(|s| !s.trim().is_empty())
                        .map(str::to_string)
                })
                .collect();
            match steps {
                Some(steps) if !steps.is_empty() => job.execute_steps = steps,
                _ => {
                    return Err(invalid(
                        "execute_steps",
                        "A list of non-empty dbt commands is required.",
                    ))
                }
            }
        }
        Some(_) => {
            return Err(invalid(
                "execute_steps",
                "Expected a list of items but got type \"str\".",
            ))
        }
    }
    if let Some(b) = flag("generate_docs")? {
        job.generate_docs = b;
    }
    if let Some(b) = flag("run_generate_sources")?.or(flag("generate_sources")?) {
        job.run_generate_sources = b;
    }
    if let Some(v) = text("dbt_version")? {
        job.dbt_version = Some(v);
    }
    if body.contains_key("deferring_environment_id") {
        job.deferring_environment_id = int("deferring_environment_id")?;
    }
    if body.contains_key("deferring_job_definition_id") {
        job.deferring_job_definition_id = int("deferring_job_definition_id")?;
    }
    if let Some(settings) = body.get("settings").and_then(Value::as_object) {
        if let Some(t) = settings.get("threads").and_then(Value::as_i64) {
            job.threads = t;
        }
        if let Some(t) = settings.get("target_name").and_then(Value::as_str) {
            job.target_name = t.to_string();
        }
    }
    if let Some(t) = body
        .get("execution")
        .and_then(|e| e.get("timeout_seconds"))
        .and_then(Value::as_i64)
    {
        job.timeout_seconds = t;
    }
    if let Some(cron) = body
        .get("schedule")
        .and_then(|s| s.get("cron"))
        .and_then(Value::as_str)
    {
        job.cron = cron.to_string();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn creates_from_the_three_keys_dbt_cloud_needs() {
        let f = Fixture::builtin("t");
        let job = create(
            &f,
            1,
            &body(json!({"name": "Adhoc", "project_id": 1, "environment_id": 1})),
        )
        .expect("created");
        assert_eq!(job.id, f.jobs.iter().map(|j| j.id).max().unwrap() + 1);
        assert_eq!(job.execute_steps, vec!["dbt build".to_string()]);
        assert_eq!(job.job_type, "other");
        for missing in ["name", "project_id", "environment_id"] {
            let mut b = body(json!({"name": "x", "project_id": 1, "environment_id": 1}));
            b.remove(missing);
            assert!(create(&f, 1, &b).unwrap_err().contains_key(missing));
        }
    }

    #[test]
    fn refuses_what_the_spec_types_refuse() {
        let f = Fixture::builtin("t");
        let base = json!({"name": "x", "project_id": 1, "environment_id": 1});
        for (key, bad) in [
            ("project_id", json!(99)),
            ("environment_id", json!(99)),
            ("account_id", json!(2)),
            ("execute_steps", json!("dbt build")),
            ("execute_steps", json!([""])),
            ("job_type", json!("nightly")),
            ("generate_docs", json!("yes")),
            ("name", json!("  ")),
        ] {
            let mut b = body(base.clone());
            b.insert(key.into(), bad);
            assert!(create(&f, 1, &b).unwrap_err().contains_key(key), "{key}");
        }
    }
}
