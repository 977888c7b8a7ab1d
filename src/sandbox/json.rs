//! JSON shapes of the API's objects. Every key of the spec's response schema is present
//! (`null` where unset, as dbt Cloud does), so clients that index keys directly and the
//! fidelity test against `openapi-v2.yaml` both find what they expect.
//!
//! Timestamps: runs, steps and triggers use a space (`2021-11-26 16:48:41.431645+00:00`);
//! accounts, projects, environments and jobs use `T` — as dbt Cloud does (`REFERENCE.md` §3).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::executor::{RunSnapshot, RunStatus, StepEnd};
use super::fixture::{
    AccountFixture, DeploymentType, EnvironmentFixture, EnvironmentType, Fixture, JobFixture,
    ProjectFixture,
};
use super::state::{can_retry, retry_refusal, Run};

/// Creation time of every fixture object: fixed, so responses are reproducible.
pub const FIXTURE_CREATED_AT: &str = "2026-01-05T09:00:00.000000+00:00";

/// `2021-11-26 16:48:41.431645+00:00`
pub fn ts_space(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
}

/// `"HH:MM:SS"`
pub fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// "1 minute, 9 seconds"; "0 minutes" under a second, as dbt Cloud shows a fresh run.
pub fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return "0 minutes".into();
    }
    let unit = |n: u64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let mut parts = Vec::new();
    if s >= 3600 {
        parts.push(unit(s / 3600, "hour"));
    }
    if (s / 60) % 60 > 0 {
        parts.push(unit((s / 60) % 60, "minute"));
    }
    if s % 60 > 0 {
        parts.push(unit(s % 60, "second"));
    }
    parts.join(", ")
}

fn ago(d: Duration) -> String {
    let m = d.as_secs() / 60;
    if m == 1 {
        "1 minute ago".into()
    } else {
        format!("{m} minutes ago")
    }
}

// Fake ids of objects the fixture does not model (connections, repositories, credentials).
fn connection_id(project_id: i64) -> i64 {
    project_id + 1000
}
fn repository_id(project_id: i64) -> i64 {
    project_id + 2000
}
fn credentials_id(environment_id: i64) -> i64 {
    environment_id + 3000
}

fn env_type(e: &EnvironmentFixture) -> &'static str {
    match e.env_type {
        EnvironmentType::Development => "development",
        EnvironmentType::Deployment => "deployment",
    }
}

fn deployment_type(e: &EnvironmentFixture) -> Option<&'static str> {
    e.deployment_type.map(|d| match d {
        DeploymentType::Production => "production",
        DeploymentType::Staging => "staging",
    })
}

/// `AccountResponse`
/// `GET /api/v2/whoami/`: the token's user and the accounts it covers (REFERENCE §4 gives
/// only `{user: {id, ...}, ...}`; the user fields follow the v2 user object).
pub fn whoami(user_id: i64, accounts: &[&AccountFixture]) -> Value {
    json!({
        "user": {
            "id": user_id,
            "first_name": "Sandbox",
            "last_name": format!("User {user_id}"),
            "fullname": format!("Sandbox User {user_id}"),
            "email": format!("user{user_id}@sandbox.invalid"),
            "is_active": true,
            "is_staff": false,
            "created_at": "2026-01-05T09:00:00.000000+00:00",
        },
        "accounts": accounts.iter().map(|a| account(a)).collect::<Vec<_>>(),
    })
}

pub fn account(a: &AccountFixture) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "plan": a.plan,
        "run_slots": 5,
        "developer_seats": 10,
        "it_seats": 1,
        "explorer_seats": 0,
        "analyst_seats": 0,
        "read_only_seats": 5,
        "locked": false,
        "lock_reason": null,
        "lock_cause": null,
        "unlocked_at": null,
        "pending_cancel": false,
        "billing_email_address": null,
        "pod_memory_request_mebibytes": 600,
        "develop_pod_memory_request_mebibytes": 600,
        "run_duration_limit_seconds": 86400,
        "queue_limit": 50,
        "enterprise_login_slug": null,
        "business_critical": false,
        "starter_repo_url": null,
        "git_auth_level": "team",
        "identifier": a.identifier,
        "trial_end_date": null,
        "static_subdomain": null,
        "vanity_subdomain": null,
        "run_locked_until": null,
        "state": 1,
        "docs_job_id": null,
        "freshness_job_id": null,
        "copilot_locked_until": null,
        "agent_credit_locked": false,
        "account_migration_events": [],
        "groups": [],
        "created_at": FIXTURE_CREATED_AT,
        "updated_at": FIXTURE_CREATED_AT,
    })
}

/// `ProjectResponse` (v2 and v3). `default_version` is only filled on get-by-id.
pub fn project(p: &ProjectFixture, by_id: bool) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "account_id": p.account_id,
        "description": p.description,
        "connection_id": connection_id(p.id),
        "repository_id": repository_id(p.id),
        "semantic_layer_config_id": null,
        "state": 1,
        "dbt_project_subdirectory": p.dbt_project_subdirectory,
        "docs_job_id": null,
        "freshness_job_id": null,
        "type": 0,
        "created_at": FIXTURE_CREATED_AT,
        "updated_at": FIXTURE_CREATED_AT,
        "connection": null,
        "environments": null,
        "repository": null,
        "group_permissions": [],
        "docs_job": null,
        "freshness_job": null,
        "fusion_readiness": null,
        "default_version": if by_id { json!("latest") } else { Value::Null },
    })
}

/// `EnvironmentV2` (embedded in runs and jobs): the base fields.
pub fn environment_embedded(e: &EnvironmentFixture, account_id: i64) -> Value {
    json!({
        "id": e.id,
        "account_id": account_id,
        "project_id": e.project_id,
        "name": e.name,
        "connection_id": connection_id(e.project_id),
        "credentials_id": credentials_id(e.id),
        "repository_id": repository_id(e.project_id),
        "extended_attributes_id": null,
        "custom_branch": e.custom_branch,
        "use_custom_branch": e.custom_branch.is_some(),
        "dbt_project_subdirectory": null,
        "dbt_version": e.dbt_version,
        "supports_docs": false,
        "deployment_type": deployment_type(e),
        "type": env_type(e),
        "created_by_id": null,
        "state": 1,
    })
}

/// `EnvironmentV2Response` (v2 list and get).
pub fn environment_v2(e: &EnvironmentFixture, account_id: i64) -> Value {
    let mut v = environment_embedded(e, account_id);
    if let Value::Object(m) = &mut v {
        for (k, val) in [
            ("raw_dbt_version", json!(e.dbt_version)),
            ("created_at", json!(FIXTURE_CREATED_AT)),
            ("updated_at", json!(FIXTURE_CREATED_AT)),
            ("repository", Value::Null),
            ("connection", Value::Null),
            ("jobs", Value::Null),
            ("custom_environment_variables", Value::Null),
        ] {
            m.insert(k.into(), val);
        }
    }
    v
}

/// `EnvironmentV3Response`
pub fn environment_v3(e: &EnvironmentFixture, account_id: i64) -> Value {
    json!({
        "id": e.id,
        "account_id": account_id,
        "project_id": e.project_id,
        "credentials_id": credentials_id(e.id),
        "connection_id": connection_id(e.project_id),
        "extended_attributes_id": null,
        "name": e.name,
        "dbt_version": e.dbt_version,
        "raw_dbt_version": e.dbt_version,
        "type": env_type(e),
        "use_custom_branch": e.custom_branch.is_some(),
        "custom_branch": e.custom_branch,
        "supports_docs": false,
        "deployment_type": deployment_type(e),
        "is_deferrable": e.env_type == EnvironmentType::Deployment,
        "enable_model_query_history": false,
        "enable_dbt_state": false,
        "state": 1,
        "created_at": FIXTURE_CREATED_AT,
        "updated_at": FIXTURE_CREATED_AT,
        "project": null,
        "primary_profile_id": null,
        "credentials": null,
        "fusion_readiness": null,
    })
}

fn job_common(j: &JobFixture, account_id: i64) -> serde_json::Map<String, Value> {
    let v = json!({
        "id": j.id,
        "account_id": account_id,
        "project_id": j.project_id,
        "environment_id": j.environment_id,
        "name": j.name,
        "description": j.description,
        "dbt_version": j.dbt_version,
        "deferring_environment_id": j.deferring_environment_id,
        "deferring_job_definition_id": j.deferring_job_definition_id,
        "execute_steps": j.execute_steps,
        "execution": {"timeout_seconds": j.timeout_seconds},
        "generate_docs": j.generate_docs,
        "job_type": j.job_type,
        "lifecycle_webhooks": false,
        "run_compare_changes": false,
        "compare_changes_flags": "--select state:modified",
        "run_generate_sources": j.run_generate_sources,
        "run_lint": false,
        "errors_on_lint_failure": true,
        "cost_optimization_features": [],
        "settings": {"threads": j.threads, "target_name": j.target_name},
        "state": 1,
        "triggers_on_draft_pr": false,
        "triggers": {
            "github_webhook": j.job_type == "ci",
            "schedule": false,
            "git_provider_webhook": false,
            "on_merge": j.job_type == "merge",
        },
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `HumanReadableJobDefinitionResponse` (the jobs endpoints).
pub fn job(j: &JobFixture, fixture: &Fixture) -> Value {
    let account_id = fixture.project_account(j.project_id).unwrap_or_default();
    let mut m = job_common(j, account_id);
    let raw_version = j.dbt_version.clone().or_else(|| {
        fixture
            .environment(j.environment_id)
            .map(|e| e.dbt_version.clone())
    });
    for (k, v) in [
        ("raw_dbt_version", json!(raw_version)),
        (
            "is_deferrable",
            json!(j.deferring_environment_id.is_some() || j.deferring_job_definition_id.is_some()),
        ),
        ("lifecycle_webhooks_url", Value::Null),
        ("job_completion_trigger_condition", Value::Null),
        ("run_failure_count", json!(0)),
        ("fusion_readiness", Value::Null),
        ("account", Value::Null),
        ("project", Value::Null),
        ("environment", Value::Null),
        ("generate_sources", json!(j.run_generate_sources)),
        (
            "schedule",
            json!({
                "cron": j.cron,
                "date": {"type": "every_day"},
                "time": {"type": "every_hour", "interval": 1},
            }),
        ),
        ("created_at", json!(FIXTURE_CREATED_AT)),
        ("updated_at", json!(FIXTURE_CREATED_AT)),
        ("cron_humanized", json!("Every hour")),
        ("next_run", Value::Null),
        ("next_run_humanized", Value::Null),
    ] {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

/// `InternalJobDefinition` (a run's `job`): schedule `date`/`time` are plain strings here.
pub fn internal_job(j: &JobFixture, account_id: i64) -> Value {
    let mut m = job_common(j, account_id);
    m.insert(
        "schedule".into(),
        json!({"cron": j.cron, "date": "every_day", "time": "every_hour"}),
    );
    Value::Object(m)
}

/// `RunTrigger`, plus the `id`, `cause_category` and `created_at` real triggers carry.
pub fn trigger(run: &Run) -> Value {
    let t = &run.trigger;
    json!({
        "id": run.trigger_id,
        "cause": t.cause,
        "job_definition_id": run.job_id,
        "git_branch": t.git_branch,
        "git_sha": t.git_sha,
        "azure_pull_request_id": t.azure_pull_request_id,
        "github_pull_request_id": t.github_pull_request_id,
        "gitlab_merge_request_id": t.gitlab_merge_request_id,
        "non_native_pull_request_id": t.non_native_pull_request_id,
        "schema_override": t.schema_override,
        "dbt_version_override": t.dbt_version_override,
        "threads_override": t.threads_override,
        "target_name_override": t.target_name_override,
        "generate_docs_override": t.generate_docs_override,
        "timeout_seconds_override": t.timeout_seconds_override,
        "steps_override": t.steps_override,
        "cause_category": run.cause_category,
        "created_at": ts_space(run.created_at),
    })
}

/// One step (`RunStepResponse` keys) at the time of `snap`.
pub fn step(run: &Run, snap: &RunSnapshot, position: usize, now: Instant, debug: bool) -> Value {
    let Some(s) = snap.steps.iter().find(|s| s.position == position) else {
        return Value::Null;
    };
    let plan = &run.plan.steps[position];
    let elapsed = run.elapsed(now);
    let end = s.finished.unwrap_or(elapsed.max(s.started));
    let duration = end.saturating_sub(s.started);
    let logs = if s.finished.is_some() {
        plan.logs.clone()
    } else {
        plan.logs.lines().next().unwrap_or_default().to_string()
    };
    json!({
        "id": run.first_step_id + i64::try_from(position).unwrap_or_default(),
        "run_id": run.id,
        "account_id": run.account_id,
        "index": position + 1,
        "name": plan.name,
        "status": s.status.code(),
        "status_humanized": s.status.humanized(),
        "status_color": s.status.color(),
        "logs": logs,
        "debug_logs": match (&plan.debug_logs, s.finished) {
            _ if !debug => Value::Null,
            (Some(d), Some(_)) => json!(d),
            _ => json!(logs),
        },
        "log_path": null,
        "debug_log_path": null,
        "truncated_debug_logs": "",
        "created_at": ts_space(run.at(s.started)),
        "updated_at": ts_space(run.at(s.finished.unwrap_or(s.started))),
        "started_at": ts_space(run.at(s.started)),
        "finished_at": s.finished.map(|f| ts_space(run.at(f))),
        "duration": s.finished.map(|_| hms(duration)),
        "duration_humanized": s.finished.map(|_| humanize(duration)),
        "run_step_command": null,
        "run_step_invocation": null,
    })
}

/// `RunResponse` at `now`. `include` holds the normalised `include_related` names.
pub fn run(
    run: &Run,
    fixture: &Fixture,
    include: &BTreeSet<String>,
    base_url: &str,
    now: Instant,
) -> Value {
    let snap = run.snapshot(now);
    let status = snap.status;
    let elapsed = run.elapsed(now);
    let end = snap.finished.unwrap_or(elapsed);
    let queued_until = snap.started.unwrap_or(end);
    let run_duration = snap
        .started
        .map_or(Duration::ZERO, |s| end.saturating_sub(s));
    let artifacts_saved = status.is_terminal()
        && snap
            .steps
            .iter()
            .any(|s| snap.step_wrote_artifacts(&run.plan, s.position + 1));
    let finished_docs = |cmd: &str| {
        status.is_terminal()
            && snap.steps.iter().any(|s| {
                s.status == RunStatus::Success
                    && run.plan.steps[s.position].command.as_deref() == Some(cmd)
            })
    };
    let retryable = can_retry(run, &snap);
    let retry_reason = json!(retry_refusal(run, &snap));
    let job = fixture.job(run.job_id);
    // A live run reports what it checked out (null until cloned); others echo the trigger.
    let (git_sha, git_branch) = match (&run.plan.live, &run.plan.checked_out) {
        (_, Some(c)) => (Some(c.sha.clone()), c.branch.clone()),
        (Some(_), None) => (None, None),
        (None, None) => (
            job.and_then(|j| j.run.builds_sha.clone())
                .or_else(|| run.trigger.git_sha.clone()),
            run.trigger.git_branch.clone(),
        ),
    };
    let status_message = if snap.cancelled {
        Some(
            run.cancel_reason
                .clone()
                .unwrap_or_else(|| "Cancelled by user.".to_string()),
        )
    } else if status == RunStatus::Error {
        run.plan.status_message.clone()
    } else {
        None
    };
    let debug = include.contains("debug_logs");
    let steps: Vec<Value> = if include.contains("run_steps") {
        snap.steps
            .iter()
            .map(|s| step(run, &snap, s.position, now, debug))
            .collect()
    } else {
        Vec::new()
    };
    let mut head = json!({
        "id": run.id,
        "trigger_id": run.trigger_id,
        "account_id": run.account_id,
        "environment_id": run.environment_id,
        "project_id": run.project_id,
        "job_definition_id": run.job_id,
        "status": status.code(),
        "dbt_version": run.plan.dbt_version,
        "git_branch": git_branch,
        "git_sha": git_sha,
        "status_message": status_message,
        "owner_thread_id": null,
        "executed_by_thread_id": snap.dequeued.map(|_| format!("dbt-run-{}-sandbox", run.id)),
        "deferring_run_id": run.plan.deferring_run_id,
        "artifacts_saved": artifacts_saved,
        "artifact_s3_path": artifacts_saved.then(|| format!("sandbox/runs/{}/artifacts/target", run.id)),
        "has_docs_generated": finished_docs("dbt docs generate"),
        // A freshness step that found stale sources fails (and is tolerated) yet wrote
        // sources.json: what counts is the artifact, as in dbt Cloud.
        "has_sources_generated": status.is_terminal()
            && snap.steps.iter().any(|s| {
                run.plan.steps[s.position].command.as_deref() == Some("dbt source freshness")
                    && snap.step_wrote_artifacts(&run.plan, s.position + 1)
            }),
        "notifications_sent": status.is_terminal(),
        "blocked_by": [],
        "scribe_enabled": true,
        "created_at": ts_space(run.created_at),
        "updated_at": ts_space(run.at(snap.updated)),
        "dequeued_at": snap.dequeued.map(|d| ts_space(run.at(d))),
        "started_at": snap.started.map(|d| ts_space(run.at(d))),
        "finished_at": snap.finished.map(|d| ts_space(run.at(d))),
        "last_checked_at": null,
        "last_heartbeat_at": (status == RunStatus::Running).then(|| ts_space(run.at(elapsed))),
        "should_start_at": null,
    });
    let tail = json!({
        "trigger": if include.contains("trigger") { trigger(run) } else { Value::Null },
        "job": match job {
            Some(j) if include.contains("job") => internal_job(j, run.account_id),
            _ => Value::Null,
        },
        "environment": match fixture.environment(run.environment_id) {
            Some(e) if include.contains("environment") => environment_embedded(e, run.account_id),
            _ => Value::Null,
        },
        "run_steps": steps,
        "deprecation": null,
        "status_humanized": status.humanized(),
        "in_progress": !status.is_terminal(),
        "is_complete": status.is_terminal(),
        "is_success": status == RunStatus::Success,
        "is_error": status == RunStatus::Error,
        "is_cancelled": status == RunStatus::Cancelled,
        "href": format!(
            "{}/deploy/{}/projects/{}/runs/{}/",
            base_url.trim_end_matches('/'), run.account_id, run.project_id, run.id
        ),
        "duration": hms(end),
        "queued_duration": hms(queued_until),
        "run_duration": hms(run_duration),
        "duration_humanized": humanize(end),
        "queued_duration_humanized": humanize(queued_until),
        "run_duration_humanized": humanize(run_duration),
        "created_at_humanized": ago(elapsed),
        "finished_at_humanized": snap.finished.map(|f| ago(elapsed.saturating_sub(f))),
        "retrying_run_id": run.retrying_run_id,
        "can_retry": retryable,
        "retry_not_supported_reason": retry_reason,
        "job_id": run.job_id,
        "is_running": status == RunStatus::Running,
        "used_repo_cache": null,
        "audit": null,
    });
    if let (Value::Object(h), Value::Object(t)) = (&mut head, tail) {
        h.extend(t);
    }
    head
}

/// `RunFailureDetailsResponse`: the failed step and the steps a retry would re-run after it.
pub fn failure_details(run: &Run) -> Value {
    let failed = run
        .plan
        .steps
        .last()
        .filter(|s| s.end == StepEnd::Error)
        .map(|s| s.name.clone());
    json!({
        "failed_step": failed,
        "skipped_steps": run.plan.skipped.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
    })
}
