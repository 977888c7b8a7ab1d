//! The API's objects, as the client reads them. dbt Cloud returns `null` for unset values
//! although the spec marks nothing nullable, and adds fields over time: every field is an
//! `Option`, unknown fields are ignored, ids are `i64` (cell accounts use 14-digit ids).

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::{Deserialize, Deserializer, Serialize};

/// `{"status": {...}, "data": ..., "extra": {...}}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub status: Option<ResponseStatus>,
    pub data: Option<T>,
    pub extra: Option<Extra>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponseStatus {
    pub code: Option<i64>,
    pub is_success: Option<bool>,
    pub user_message: Option<String>,
    pub developer_message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Extra {
    pub pagination: Option<Pagination>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pagination {
    pub count: Option<i64>,
    pub total_count: Option<i64>,
}

/// Run (and step) status codes. Only 10, 20 and 30 are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Starting,
    Running,
    Success,
    Error,
    Cancelled,
    /// A code this client does not know; treated as still in progress.
    Unknown,
}

impl RunStatus {
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => RunStatus::Queued,
            2 => RunStatus::Starting,
            3 => RunStatus::Running,
            10 => RunStatus::Success,
            20 => RunStatus::Error,
            30 => RunStatus::Cancelled,
            _ => RunStatus::Unknown,
        }
    }

    pub fn code(self) -> Option<i64> {
        Some(match self {
            RunStatus::Queued => 1,
            RunStatus::Starting => 2,
            RunStatus::Running => 3,
            RunStatus::Success => 10,
            RunStatus::Error => 20,
            RunStatus::Cancelled => 30,
            RunStatus::Unknown => return None,
        })
    }

    /// Parse a user's status name (`success`, `Error`, ...) or code.
    pub fn parse(s: &str) -> Option<Self> {
        if let Ok(code) = s.parse::<i64>() {
            return Some(Self::from_code(code)).filter(|s| *s != RunStatus::Unknown);
        }
        Some(match s.to_ascii_lowercase().as_str() {
            "queued" => RunStatus::Queued,
            "starting" => RunStatus::Starting,
            "running" => RunStatus::Running,
            "success" | "succeeded" => RunStatus::Success,
            "error" | "failed" => RunStatus::Error,
            "cancelled" | "canceled" => RunStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Error | RunStatus::Cancelled
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Starting => "Starting",
            RunStatus::Running => "Running",
            RunStatus::Success => "Success",
            RunStatus::Error => "Error",
            RunStatus::Cancelled => "Cancelled",
            RunStatus::Unknown => "Unknown",
        }
    }
}

/// A timestamp in either of dbt Cloud's two spellings (`2021-11-26 16:48:41.431645+00:00`
/// for runs and steps, `2021-11-18T15:19:03.185668+00:00` for jobs and accounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Timestamp(pub DateTime<FixedOffset>);

impl Timestamp {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(Timestamp(t));
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S%.f%:z",
            "%Y-%m-%d %H:%M:%S%.f%z",
            "%Y-%m-%dT%H:%M:%S%.f%:z",
        ] {
            if let Ok(t) = DateTime::parse_from_str(s, fmt) {
                return Some(Timestamp(t));
            }
        }
        // No offset at all: dbt Cloud means UTC.
        for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(Timestamp(t.and_utc().fixed_offset()));
            }
        }
        None
    }
}

fn lenient_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    Ok(raw.as_deref().and_then(Timestamp::parse))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Account {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub plan: Option<String>,
    pub identifier: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Project {
    pub id: Option<i64>,
    pub account_id: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Environment {
    pub id: Option<i64>,
    pub project_id: Option<i64>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub deployment_type: Option<String>,
    pub dbt_version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Job {
    pub id: Option<i64>,
    pub account_id: Option<i64>,
    pub project_id: Option<i64>,
    pub environment_id: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub execute_steps: Option<Vec<String>>,
    pub job_type: Option<String>,
    pub dbt_version: Option<String>,
    pub generate_docs: Option<bool>,
    pub run_generate_sources: Option<bool>,
    pub deferring_job_definition_id: Option<i64>,
    pub deferring_environment_id: Option<i64>,
    pub state: Option<i64>,
}

/// `TriggerRunRequestRequest`: only `cause` is required. `None` fields are not sent.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TriggerRequest {
    pub cause: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_pull_request_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_pull_request_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gitlab_merge_request_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_native_pull_request_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_override: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbt_version_override: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads_override: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_name_override: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generate_docs_override: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds_override: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps_override: Option<Vec<String>>,
}

/// `RunTrigger`: the request echoed back.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunTrigger {
    pub id: Option<i64>,
    pub cause: Option<String>,
    pub cause_category: Option<String>,
    pub git_sha: Option<String>,
    pub git_branch: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunStep {
    pub id: Option<i64>,
    pub index: Option<i64>,
    pub name: Option<String>,
    pub status: Option<i64>,
    pub status_humanized: Option<String>,
    pub logs: Option<String>,
    pub truncated_debug_logs: Option<String>,
    pub debug_logs: Option<String>,
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub started_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub finished_at: Option<Timestamp>,
    pub duration: Option<String>,
    pub duration_humanized: Option<String>,
}

impl RunStep {
    pub fn run_status(&self) -> RunStatus {
        self.status.map_or(RunStatus::Unknown, RunStatus::from_code)
    }

    /// Seconds from start to finish, from the timestamps or the `HH:MM:SS` duration.
    pub fn elapsed_seconds(&self) -> Option<f64> {
        match (self.started_at, self.finished_at) {
            (Some(s), Some(f)) => Some((f.0 - s.0).num_milliseconds() as f64 / 1000.0),
            _ => self.duration.as_deref().and_then(parse_hms),
        }
    }
}

/// `"HH:MM:SS"` to seconds.
fn parse_hms(s: &str) -> Option<f64> {
    let mut total = 0.0;
    for part in s.split(':') {
        total = total * 60.0 + part.trim().parse::<f64>().ok()?;
    }
    Some(total)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Run {
    pub id: i64,
    pub account_id: Option<i64>,
    pub project_id: Option<i64>,
    pub environment_id: Option<i64>,
    pub job_definition_id: Option<i64>,
    pub job_id: Option<i64>,
    pub trigger_id: Option<i64>,
    pub status: Option<i64>,
    pub status_humanized: Option<String>,
    pub status_message: Option<String>,
    pub dbt_version: Option<String>,
    pub git_branch: Option<String>,
    pub git_sha: Option<String>,
    pub href: Option<String>,
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub dequeued_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub started_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_timestamp")]
    pub finished_at: Option<Timestamp>,
    pub duration: Option<String>,
    pub duration_humanized: Option<String>,
    pub run_duration: Option<String>,
    pub run_duration_humanized: Option<String>,
    pub queued_duration: Option<String>,
    pub in_progress: Option<bool>,
    pub is_complete: Option<bool>,
    pub is_success: Option<bool>,
    pub is_error: Option<bool>,
    pub is_cancelled: Option<bool>,
    pub can_retry: Option<bool>,
    pub retrying_run_id: Option<i64>,
    /// Why `can_retry` is false (`RETRY_NOT_FAILED_RUN`, `RETRY_UNSUPPORTED_CMD`, …).
    pub retry_not_supported_reason: Option<String>,
    pub artifacts_saved: Option<bool>,
    pub has_sources_generated: Option<bool>,
    pub has_docs_generated: Option<bool>,
    pub trigger: Option<RunTrigger>,
    pub job: Option<Job>,
    pub run_steps: Option<Vec<RunStep>>,
}

impl Run {
    /// The status, from the status code only (never guessed from other fields).
    pub fn run_status(&self) -> RunStatus {
        self.status.map_or(RunStatus::Unknown, RunStatus::from_code)
    }

    pub fn job(&self) -> Option<i64> {
        self.job_definition_id.or(self.job_id)
    }

    pub fn steps(&self) -> &[RunStep] {
        self.run_steps.as_deref().unwrap_or_default()
    }

    /// Seconds from start (or creation) to finish, when finished.
    pub fn elapsed_seconds(&self) -> Option<f64> {
        let start = self.started_at.or(self.created_at)?;
        let end = self.finished_at?;
        Some((end.0 - start.0).num_milliseconds() as f64 / 1000.0)
    }
}

/// The preview of `GET runs/{id}/retry/`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RetryPreview {
    pub failed_step: Option<String>,
    pub skipped_steps: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_timestamp_spellings_parse() {
        let a = Timestamp::parse("2021-11-26 16:48:41.431645+00:00").unwrap();
        let b = Timestamp::parse("2021-11-26T16:48:41.431645+00:00").unwrap();
        assert_eq!(a, b);
        assert!(Timestamp::parse("2021-11-26 16:48:41+00:00").is_some());
        assert!(Timestamp::parse("2021-11-26T16:48:41Z").is_some());
        assert!(Timestamp::parse("not a time").is_none());
    }

    #[test]
    fn only_10_20_30_are_terminal() {
        for code in [1, 2, 3, 99] {
            assert!(!RunStatus::from_code(code).is_terminal(), "{code}");
        }
        for code in [10, 20, 30] {
            assert!(RunStatus::from_code(code).is_terminal(), "{code}");
        }
    }

    #[test]
    fn runs_tolerate_nulls_unknown_fields_and_big_ids() {
        let run: Run = serde_json::from_str(
            r#"{"id": 70403110023118, "status": 3, "git_sha": null, "finished_at": null,
                "scribe_enabled": true, "created_at": "2026-08-21 09:14:03.118201+00:00",
                "run_steps": [{"index": 1, "name": "Clone Git Repository", "status": 10}]}"#,
        )
        .unwrap();
        assert_eq!(run.id, 70403110023118);
        assert_eq!(run.run_status(), RunStatus::Running);
        assert_eq!(run.steps().len(), 1);
        assert!(run.created_at.is_some());
    }

    #[test]
    fn status_names_parse() {
        assert_eq!(RunStatus::parse("Error"), Some(RunStatus::Error));
        assert_eq!(RunStatus::parse("10"), Some(RunStatus::Success));
        assert_eq!(RunStatus::parse("nope"), None);
    }
}
