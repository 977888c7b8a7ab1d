//! At-most-once triggering.
//!
//! The trigger POST is not idempotent and dbt Cloud has no idempotency key, so re-sending it
//! after a lost response can start a second run of the job (Prefect's and Dagster's clients
//! do exactly that). The rule here:
//!
//! - re-send at once only when the request provably never reached the server: the
//!   connection could not be made, or a 429 (rate-limited requests are refused before
//!   anything runs);
//! - after an ambiguous failure (a 5xx, a timeout, a dropped connection), look for the run
//!   first: the job's newest runs whose trigger has our cause and git sha and that were
//!   created since the attempt began. Found: adopt it. Absent on two looks (a new run can
//!   lag in the list for a moment): only then send again;
//! - if the look-up itself fails, stop and say that a run may exist, rather than guess.

use std::time::{Duration, Instant};

use super::client::Client;
use super::client::RunQuery;
use super::errors::ApiError;
use super::retry::{Attempt, Decision};
use super::types::{Run, Timestamp, TriggerRequest};

/// The run a trigger created, and whether it was found by look-up after a lost response.
#[derive(Debug)]
pub struct Triggered {
    pub run: Run,
    pub adopted: bool,
    /// POST requests sent.
    pub posts: u32,
}

/// Trigger `job_id`, creating at most one run.
pub async fn trigger_run(
    client: &Client,
    job_id: i64,
    request: &TriggerRequest,
) -> Result<Triggered, ApiError> {
    let call = client.trigger_call(job_id, request);
    let started = Instant::now();
    // Runs created before this moment (minus clock skew between us and the server) are not ours.
    let since = chrono::Utc::now() - chrono::Duration::minutes(2);
    let mut attempt = 1;
    loop {
        let outcome = match client.attempt(&call).await? {
            Ok(answer) => {
                let run: Run = client.decode(&call, &answer)?;
                return Ok(Triggered {
                    run,
                    adopted: false,
                    posts: attempt,
                });
            }
            Err(outcome) => outcome,
        };
        let provably_not_sent = matches!(
            outcome,
            Attempt::ConnectFailed | Attempt::Status { code: 429, .. }
        );
        if !provably_not_sent {
            client.debug(&format!(
                "trigger response lost ({outcome:?}); looking for the run before re-sending"
            ));
            for look in 0..LOOKS {
                if look > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let lookup = find_run(client, job_id, request, since)
                    .await
                    .map_err(|e| unsure(job_id, &e.to_string()))?;
                match lookup {
                    Lookup::Found(run) => {
                        client.debug(&format!(
                            "found run {} created by the lost trigger; adopting it",
                            run.id
                        ));
                        return Ok(Triggered {
                            run: *run,
                            adopted: true,
                            posts: attempt,
                        });
                    }
                    Lookup::Unsure(id) => {
                        return Err(unsure(
                            job_id,
                            &format!("run {id} is new but the API did not say what triggered it"),
                        ))
                    }
                    Lookup::Absent => {}
                }
            }
        }
        match client
            .options()
            .retry
            .decide(&outcome, attempt, started.elapsed(), fastrand::f64())
        {
            Decision::RetryAfter(delay) => {
                client.debug(&format!(
                    "no run was created; triggering again in {delay:.1?}"
                ));
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Decision::GiveUp => {
                return Err(client.gave_up(&call, &outcome, attempt, started.elapsed()))
            }
        }
    }
}

/// How many times to look for the run (1 s apart) before concluding it was not created.
const LOOKS: u32 = 3;

enum Lookup {
    Found(Box<Run>),
    Absent,
    /// A recent run exists whose trigger the API did not return: cannot tell.
    Unsure(i64),
}

fn unsure(job_id: i64, why: &str) -> ApiError {
    ApiError::Unexpected {
        what: format!(
            "job {job_id}: the trigger's response was lost and it cannot be confirmed whether a run was created \
             ({why}); check `datachonk cloud runs list --job-id {job_id}` before triggering again"
        ),
        status: 0,
        user_message: None,
    }
}

/// The newest run of the job whose trigger matches ours, created since `since`.
async fn find_run(
    client: &Client,
    job_id: i64,
    request: &TriggerRequest,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Lookup, ApiError> {
    let runs = client
        .list_runs(&RunQuery {
            job_id: Some(job_id),
            order_by: Some("-id".into()),
            limit: 20,
            include_related: vec!["trigger".into()],
            ..RunQuery::default()
        })
        .await?;
    if let Some(unclear) = runs
        .iter()
        .find(|r| r.trigger.is_none() && is_recent(r, since))
    {
        return Ok(Lookup::Unsure(unclear.id));
    }
    Ok(runs
        .into_iter()
        .find(|run| is_ours(run, request, since))
        .map_or(Lookup::Absent, |r| Lookup::Found(Box::new(r))))
}

fn is_recent(run: &Run, since: chrono::DateTime<chrono::Utc>) -> bool {
    run.created_at.is_none_or(|t: Timestamp| t.0 >= since)
}

fn is_ours(run: &Run, request: &TriggerRequest, since: chrono::DateTime<chrono::Utc>) -> bool {
    let Some(trigger) = &run.trigger else {
        return false;
    };
    let recent = is_recent(run, since);
    let same_sha = match &request.git_sha {
        Some(sha) => {
            trigger.git_sha.as_deref() == Some(sha.as_str())
                || run.git_sha.as_deref() == Some(sha.as_str())
        }
        None => trigger.git_sha.is_none(),
    };
    recent && same_sha && trigger.cause.as_deref() == Some(request.cause.as_str())
}
