//! Targeted retries: when a run ends in Error, start it again from the point of failure.
//!
//! - dbt Cloud's own retry (`POST runs/{id}/retry/`) when the run says `can_retry`: it
//!   re-invokes the failed step and the ones it skipped (`dbt retry` under the hood);
//! - else a new trigger of the same job, for the same `git_sha`, with `steps_override`
//!   selecting only the failed and errored nodes and their downstream
//!   (`dbt build --select a+ b+`), built from the run's `run_results.json` — the run must be
//!   read with `include_related=run_steps`, or there are no steps to read results from
//!   (Prefect's retries read it without and find nothing to retry).
//!
//! Both create a run at most once: the trigger through [`trigger_run`]'s marker scheme; the
//! retry POST by looking at the failed run's `retrying_run_id` after an ambiguous answer.

use std::time::Duration;

use serde::Serialize;

use super::client::Client;
use super::errors::ApiError;
use super::failure;
use super::insight::RunInsight;
use super::marker::RunMarker;
use super::trigger::trigger_run;
use super::types::{Run, TriggerRequest};

/// How a failed run is started again.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetryRoute {
    /// `POST runs/{id}/retry/`.
    DbtCloudRetry,
    /// A new trigger of the job with these commands (the same commit).
    Selected { steps_override: Vec<String> },
}

/// What a retry of a failed run will do, decided before anything is sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryPlan {
    pub route: RetryRoute,
    /// The failed step the retry starts from (1-based), when known.
    pub from_step: Option<i64>,
    /// Failed and errored nodes (unique ids).
    pub failed_nodes: Vec<String>,
    /// Skipped downstream of them.
    pub downstream: Vec<String>,
}

impl RetryPlan {
    /// `from step 4, 2 nodes + 5 downstream`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(step) = self.from_step {
            parts.push(format!("from step {step}"));
        }
        let n = self.failed_nodes.len();
        parts.push(format!(
            "{n} node{} + {} downstream",
            if n == 1 { "" } else { "s" },
            self.downstream.len()
        ));
        let how = match self.route {
            RetryRoute::DbtCloudRetry => "dbt Cloud retry",
            RetryRoute::Selected { .. } => "new run of the failed nodes",
        };
        format!("{} ({how})", parts.join(", "))
    }
}

/// The `dbt build --select a+ b+ …` that runs `failed` nodes (by name) and their downstream.
pub fn select_command(names: &[String]) -> Option<String> {
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return None;
    }
    let selectors: Vec<String> = names.iter().map(|n| format!("{n}+")).collect();
    Some(format!("dbt build --select {}", selectors.join(" ")))
}

/// Decide how to retry `run` (an errored run read with its steps) from what it did.
/// `None` with the reason when nothing targeted can be retried.
pub fn plan(run: &Run, insight: Option<&RunInsight>) -> Result<RetryPlan, String> {
    let from_step = failure::failing_step(run).and_then(|s| s.index);
    let failed: Vec<_> = insight
        .map(|i| {
            i.failed_nodes()
                .filter(|n| n.resource_type != "source")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let failed_nodes: Vec<String> = failed.iter().map(|n| n.unique_id.clone()).collect();
    let downstream = insight
        .map(|i| i.skipped_downstream.clone())
        .unwrap_or_default();
    if run.can_retry == Some(true) {
        return Ok(RetryPlan {
            route: RetryRoute::DbtCloudRetry,
            from_step,
            failed_nodes,
            downstream,
        });
    }
    if insight.is_some_and(|i| i.cut) {
        // A cut summary may miss failed nodes: selecting the ones it has would skip the rest.
        return Err(format!(
            "dbt Cloud cannot retry run {} and its node summary was cut, so the failed nodes to \
             select are not all known",
            run.id
        ));
    }
    let names: Vec<String> = failed.iter().map(|n| n.name.clone()).collect();
    let Some(command) = select_command(&names) else {
        return Err(match run.retry_not_supported_reason.as_deref() {
            Some(reason) => format!(
                "dbt Cloud cannot retry run {} ({reason}) and its results name no failed node \
                 to select",
                run.id
            ),
            None => format!(
                "dbt Cloud cannot retry run {} and its results name no failed node to select",
                run.id
            ),
        });
    };
    Ok(RetryPlan {
        route: RetryRoute::Selected {
            steps_override: vec![command],
        },
        from_step,
        failed_nodes,
        downstream,
    })
}

/// The trigger a run came from, as far as the run tells (its cause without an earlier
/// invocation's marker, and the commit it checked out): what a selected retry re-sends when
/// the original request is not at hand (`cloud runs retry`).
pub fn request_of(run: &Run) -> TriggerRequest {
    let trigger = run.trigger.clone().unwrap_or_default();
    let cause = trigger
        .cause
        .as_deref()
        .map(|c| RunMarker::strip(c).to_string())
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| format!("Retry of run {} by datachonk", run.id));
    let git_sha = run.git_sha.clone().or(trigger.git_sha);
    TriggerRequest {
        cause,
        git_branch: if git_sha.is_some() {
            None
        } else {
            run.git_branch.clone().or(trigger.git_branch)
        },
        git_sha,
        ..TriggerRequest::default()
    }
}

/// The run a retry started, and whether it was found by look-up after a lost answer.
#[derive(Debug)]
pub struct RetryStarted {
    pub run: Run,
    pub adopted: bool,
}

/// Looks at the failed run (1 s apart) after a lost answer to dbt Cloud's retry.
const LOOKS: u32 = 3;
/// How long one look may take, retries included.
const LOOK_LIMIT: Duration = Duration::from_secs(15);

/// Start the retry `plan` of `failed` (a run of `job_id`); `request` is the trigger the
/// failed run came from (its cause and overrides are reused by a selected retry).
pub async fn start(
    client: &Client,
    job_id: i64,
    failed: &Run,
    plan: &RetryPlan,
    request: &TriggerRequest,
) -> Result<RetryStarted, ApiError> {
    match &plan.route {
        RetryRoute::DbtCloudRetry => {
            let mut posts = 1;
            loop {
                let e = match client.retry_run(failed.id).await {
                    Ok(run) => {
                        return Ok(RetryStarted {
                            run,
                            adopted: false,
                        })
                    }
                    Err(e) => e,
                };
                // A refusal is an answer: nothing was created. Anything else may have
                // created the retry: the failed run names it once it exists.
                if matches!(e, ApiError::BadRequest { .. } | ApiError::NotFound { .. }) {
                    return Err(e);
                }
                match look_for_retry(client, failed.id).await {
                    Look::Found(run) => {
                        return Ok(RetryStarted {
                            run: *run,
                            adopted: true,
                        })
                    }
                    // Absent on every look: the POST created nothing; send it again.
                    Look::Absent if posts < MAX_RETRY_POSTS => posts += 1,
                    _ => return Err(e),
                }
            }
        }
        RetryRoute::Selected { steps_override } => {
            let sha = failed.git_sha.clone().or_else(|| request.git_sha.clone());
            let request = TriggerRequest {
                git_branch: if sha.is_some() {
                    None
                } else {
                    request.git_branch.clone()
                },
                git_sha: sha,
                steps_override: Some(steps_override.clone()),
                ..request.clone()
            };
            let triggered = trigger_run(client, job_id, &request).await?;
            Ok(RetryStarted {
                run: triggered.run,
                adopted: triggered.adopted,
            })
        }
    }
}

/// How often dbt Cloud's retry is asked for when its answers are lost and no retry appears.
const MAX_RETRY_POSTS: u32 = 4;

enum Look {
    Found(Box<Run>),
    /// Every look of the grace period saw the failed run without a retry.
    Absent,
    /// The failed run could not be read: whether a retry exists is unknown.
    Unknown,
}

/// The run that retries `failed_id`, as the failed run's `retrying_run_id` names it, over
/// [`LOOKS`] looks 1 s apart (as the trigger's look-up: "absent" only from looks that answered).
async fn look_for_retry(client: &Client, failed_id: i64) -> Look {
    let mut answered = false;
    for look in 0..LOOKS {
        if look > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let read = tokio::time::timeout(LOOK_LIMIT, client.get_run(failed_id, &[])).await;
        let Ok(Ok(run)) = read else { continue };
        answered = true;
        if let Some(new_id) = run.retrying_run_id {
            client.debug(&format!(
                "retry answer lost; run {failed_id} is retried by run {new_id}: adopted"
            ));
            let new = tokio::time::timeout(
                LOOK_LIMIT,
                client.get_run(new_id, &["run_steps", "trigger"]),
            )
            .await;
            return match new {
                Ok(Ok(run)) => Look::Found(Box::new(run)),
                _ => Look::Unknown,
            };
        }
    }
    if answered {
        Look::Absent
    } else {
        Look::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_names_each_failed_node_once_with_its_downstream() {
        let names = vec!["stg_orders".to_string(), "b".into(), "stg_orders".into()];
        assert_eq!(
            select_command(&names).as_deref(),
            Some("dbt build --select b+ stg_orders+")
        );
        assert_eq!(select_command(&[]), None);
    }

    #[test]
    fn an_attempt_is_described_by_its_step_and_counts() {
        let plan = RetryPlan {
            route: RetryRoute::DbtCloudRetry,
            from_step: Some(4),
            failed_nodes: vec!["model.p.a".into(), "model.p.b".into()],
            downstream: vec!["model.p.c".into(); 5],
        };
        assert_eq!(
            plan.describe(),
            "from step 4, 2 nodes + 5 downstream (dbt Cloud retry)"
        );
    }
}
