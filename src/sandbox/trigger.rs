//! The trigger request body (`TriggerRunRequestRequest`), parsed from JSON or a form and
//! validated the way dbt Cloud does: `cause` required and at most 255 characters, integers
//! must be JSON numbers (`"3209"` is refused), unknown keys and `null`s are accepted.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest `cause` dbt Cloud accepts.
pub const MAX_CAUSE_CHARS: usize = 255;

/// A validated trigger request; echoed as the run's `trigger`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerRequest {
    pub cause: String,
    pub git_sha: Option<String>,
    pub git_branch: Option<String>,
    pub azure_pull_request_id: Option<i64>,
    pub github_pull_request_id: Option<i64>,
    pub gitlab_merge_request_id: Option<i64>,
    pub non_native_pull_request_id: Option<i64>,
    pub schema_override: Option<String>,
    pub dbt_version_override: Option<String>,
    pub threads_override: Option<i64>,
    pub target_name_override: Option<String>,
    pub generate_docs_override: Option<bool>,
    pub timeout_seconds_override: Option<i64>,
    pub steps_override: Option<Vec<String>>,
}

impl TriggerRequest {
    pub fn with_cause(cause: impl Into<String>) -> Self {
        TriggerRequest {
            cause: cause.into(),
            ..TriggerRequest::default()
        }
    }

    /// A pull-request id makes the run a CI run.
    pub fn is_pull_request(&self) -> bool {
        self.pull_request().is_some()
    }

    /// Which pull request the run is for: its provider's field and the id.
    pub fn pull_request(&self) -> Option<(&'static str, i64)> {
        [
            ("github_pull_request_id", self.github_pull_request_id),
            ("gitlab_merge_request_id", self.gitlab_merge_request_id),
            ("azure_pull_request_id", self.azure_pull_request_id),
            (
                "non_native_pull_request_id",
                self.non_native_pull_request_id,
            ),
        ]
        .into_iter()
        .find_map(|(field, id)| id.map(|id| (field, id)))
    }
}

/// Field → message, as in the `data` of dbt Cloud's 400 envelope.
pub type FieldErrors = Map<String, Value>;

/// How the body arrived.
pub enum BodyFormat {
    Json,
    Form,
}

/// Parse and validate a trigger body.
pub fn parse(body: &[u8], format: BodyFormat) -> Result<TriggerRequest, FieldErrors> {
    let object = match format {
        BodyFormat::Json => json_object(body)?,
        BodyFormat::Form => form_object(body),
    };
    let lenient = matches!(format, BodyFormat::Form);
    from_object(&object, lenient)
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, FieldErrors> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(one(
            "non_field_errors",
            format!(
                "Invalid data. Expected a dictionary, but got {}.",
                json_type(&other)
            ),
        )),
        Err(e) => Err(one("detail", format!("JSON parse error - {e}"))),
    }
}

/// Form values are strings; a repeated `steps_override` key makes a list.
fn form_object(body: &[u8]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        let k = k.trim_end_matches("[]").to_string();
        if k == "steps_override" {
            if let Value::Array(a) = m.entry(k).or_insert_with(|| Value::Array(Vec::new())) {
                a.push(Value::String(v.into_owned()));
            }
        } else {
            m.insert(k, Value::String(v.into_owned()));
        }
    }
    m
}

fn one(field: &str, message: String) -> FieldErrors {
    let mut m = Map::new();
    m.insert(field.into(), Value::String(message));
    m
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The repr dbt Cloud's jsonschema error uses for a refused value.
fn python_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

fn from_object(o: &Map<String, Value>, lenient: bool) -> Result<TriggerRequest, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut err = |field: &str, msg: String| {
        errors.insert(field.to_string(), Value::String(msg));
    };

    let cause = match o.get("cause") {
        None => {
            err("cause", "This field is required.".into());
            String::new()
        }
        Some(Value::Null) => {
            err("cause", "This field may not be null.".into());
            String::new()
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            err("cause", "This field may not be blank.".into());
            String::new()
        }
        Some(Value::String(s)) if s.chars().count() > MAX_CAUSE_CHARS => {
            err(
                "cause",
                format!("Ensure this field has no more than {MAX_CAUSE_CHARS} characters."),
            );
            String::new()
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            err("cause", "Not a valid string.".into());
            String::new()
        }
    };

    let mut string = |field: &str| -> Option<String> {
        match o.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if lenient && s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                err(field, "Not a valid string.".into());
                None
            }
        }
    };
    let git_sha = string("git_sha");
    let git_branch = string("git_branch");
    let schema_override = string("schema_override");
    let dbt_version_override = string("dbt_version_override");
    let target_name_override = string("target_name_override");

    let mut errors2 = FieldErrors::new();
    let mut integer = |field: &str| -> Option<i64> {
        match o.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
            Some(Value::String(s)) if lenient => {
                if s.is_empty() {
                    None
                } else {
                    s.trim().parse().ok().or_else(|| {
                        errors2.insert(
                            field.into(),
                            Value::String("A valid integer is required.".into()),
                        );
                        None
                    })
                }
            }
            Some(v) => {
                errors2.insert(
                    field.into(),
                    Value::String(format!(
                        "{} is not valid under any of the given schemas",
                        python_repr(v)
                    )),
                );
                None
            }
        }
    };
    let azure_pull_request_id = integer("azure_pull_request_id");
    let github_pull_request_id = integer("github_pull_request_id");
    let gitlab_merge_request_id = integer("gitlab_merge_request_id");
    let non_native_pull_request_id = integer("non_native_pull_request_id");
    let threads_override = integer("threads_override");
    let timeout_seconds_override = integer("timeout_seconds_override");

    let generate_docs_override = match o.get("generate_docs_override") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if lenient => match s.to_ascii_lowercase().as_str() {
            "" => None,
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => {
                errors2.insert(
                    "generate_docs_override".into(),
                    Value::String("Must be a valid boolean.".into()),
                );
                None
            }
        },
        Some(_) => {
            errors2.insert(
                "generate_docs_override".into(),
                Value::String("Must be a valid boolean.".into()),
            );
            None
        }
    };

    let steps_override = match o.get("steps_override") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let steps: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            match steps {
                Some(s) if s.is_empty() => None,
                Some(s) => Some(s),
                None => {
                    errors2.insert(
                        "steps_override".into(),
                        Value::String("Not a valid string.".into()),
                    );
                    None
                }
            }
        }
        Some(other) => {
            errors2.insert(
                "steps_override".into(),
                Value::String(format!(
                    "Expected a list of items but got type \"{}\".",
                    json_type(other)
                )),
            );
            None
        }
    };

    errors.extend(errors2);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(TriggerRequest {
        cause,
        git_sha,
        git_branch,
        azure_pull_request_id,
        github_pull_request_id,
        gitlab_merge_request_id,
        non_native_pull_request_id,
        schema_override,
        dbt_version_override,
        threads_override,
        target_name_override,
        generate_docs_override,
        timeout_seconds_override,
        steps_override,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Result<TriggerRequest, FieldErrors> {
        parse(s.as_bytes(), BodyFormat::Json)
    }

    #[test]
    fn accepts_nulls_and_unknown_keys() {
        let t = json(r#"{"cause":"x","git_sha":null,"account_id":1,"job_id":2,"steps_override":["dbt run"]}"#)
            .unwrap();
        assert_eq!(t.cause, "x");
        assert_eq!(t.steps_override, Some(vec!["dbt run".to_string()]));
    }

    #[test]
    fn refuses_string_integers_and_long_causes() {
        let e = json(r#"{"cause":"x","github_pull_request_id":"3209"}"#).unwrap_err();
        assert_eq!(
            e["github_pull_request_id"],
            "'3209' is not valid under any of the given schemas"
        );
        let long = "a".repeat(256);
        let e = json(&format!(r#"{{"cause":"{long}"}}"#)).unwrap_err();
        assert!(e.contains_key("cause"));
        assert!(json("").unwrap_err().contains_key("cause"));
    }

    #[test]
    fn forms_coerce_strings() {
        let t = parse(
            b"cause=hi&threads_override=8&steps_override=dbt+run&steps_override=dbt+test",
            BodyFormat::Form,
        )
        .unwrap();
        assert_eq!(t.threads_override, Some(8));
        assert_eq!(t.steps_override.map(|s| s.len()), Some(2));
    }
}
