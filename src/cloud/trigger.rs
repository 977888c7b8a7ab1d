//! At-most-once triggering.
//!
//! The trigger POST is not idempotent and dbt Cloud has no idempotency key, so re-sending it
//! after a lost response can start a second run of the job (Prefect's and Dagster's clients
//! do exactly that), and looking for "a run with our cause and sha" can find an *earlier*
//! invocation's run and report its verdict for a validation that never ran. The rule here:
//!
//! - before sending, note the job's newest run id (the baseline): only runs above it can be
//!   ours. The cause carries a per-invocation marker ([`RunMarker`]) so a run of an earlier
//!   invocation with the same cause and sha never matches;
//! - re-send at once only when the request provably never reached the server: the
//!   connection could not be made, or a 429 (rate-limited requests are refused before
//!   anything runs);
//! - after an ambiguous failure (a 5xx, a timeout, a dropped connection), look for the run:
//!   one newer than the baseline whose trigger carries our marker. Found: adopt it. Absent
//!   on every look of the grace period (a new run can lag in the list for a moment): the
//!   trigger provably created nothing, so it is sent again (same marker);
//! - when that cannot be decided (the look-up fails, or a new run does not say what
//!   triggered it), stop and say that a run may exist, rather than guess.

use std::time::{Duration, Instant};

use super::client::Client;
use super::client::RunQuery;
use super::errors::ApiError;
use super::marker::RunMarker;
use super::retry::{Attempt, Decision};
use super::types::{Run, Timestamp, TriggerRequest};

/// The run a trigger created, and whether it was found by look-up after a lost response.
#[derive(Debug)]
pub struct Triggered {
    pub run: Run,
    pub adopted: bool,
    /// POST requests sent.
    pub posts: u32,
    /// The cause as sent: the requested one with this invocation's marker.
    pub cause: String,
}

/// Trigger `job_id`, creating at most one run.
pub async fn trigger_run(
    client: &Client,
    job_id: i64,
    request: &TriggerRequest,
) -> Result<Triggered, ApiError> {
    let marker = RunMarker::new();
    let request = TriggerRequest {
        cause: marker.apply(&request.cause),
        ..request.clone()
    };
    let baseline = Baseline::look_up(client, job_id).await;
    let call = client.trigger_call(job_id, &request);
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let outcome = match client.attempt(&call).await {
            Ok(Ok(answer)) => match client.decode::<Run>(&call, &answer) {
                Ok(run) => {
                    return Ok(Triggered {
                        run,
                        adopted: false,
                        posts: attempt,
                        cause: request.cause,
                    })
                }
                Err(e) => return unreadable(client, job_id, &request, baseline, attempt, e).await,
            },
            // A success too large to read: accepted all the same.
            Err(e @ ApiError::TooLarge { .. }) => {
                return unreadable(client, job_id, &request, baseline, attempt, e).await
            }
            Ok(Err(outcome)) => outcome,
            Err(e) => return Err(e),
        };
        let provably_not_sent = matches!(
            outcome,
            Attempt::ConnectFailed | Attempt::Status { code: 429, .. }
        );
        if !provably_not_sent {
            client.debug(&format!(
                "trigger response lost ({outcome:?}); looking for {baseline} with the marker{} \
                 before re-sending",
                marker.as_str()
            ));
            if let Some(run) = look_for_run(client, job_id, &request, baseline).await? {
                client.debug(&format!(
                    "found run {} created by the lost trigger; adopting it",
                    run.id
                ));
                return Ok(Triggered {
                    run,
                    adopted: true,
                    posts: attempt,
                    cause: request.cause,
                });
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

/// A success whose body cannot be read (truncated, HTML, over the cap): the trigger was
/// accepted, so a run may exist. Exactly as after a lost answer it is looked up by its
/// marker and adopted; if it is not found the trigger is *not* sent again (dbt Cloud said
/// yes, the list may lag): "trigger unconfirmed", with the look-up command as the hint.
async fn unreadable(
    client: &Client,
    job_id: i64,
    request: &TriggerRequest,
    baseline: Baseline,
    posts: u32,
    why: ApiError,
) -> Result<Triggered, ApiError> {
    client.debug(&format!(
        "the trigger's answer cannot be read ({why}); looking for {baseline} with its marker"
    ));
    match look_for_run(client, job_id, request, baseline).await? {
        Some(run) => Ok(Triggered {
            run,
            adopted: true,
            posts,
            cause: request.cause.clone(),
        }),
        None => Err(unconfirmed(
            job_id,
            format!("dbt Cloud accepted it, but its answer could not be read ({why}), and no run with this trigger's marker is listed yet"),
        )),
    }
}

/// Look for the run a lost trigger may have created, [`LOOKS`] times over the grace period:
/// `Some` (adopt it), `None` (it provably does not exist), or an error when that cannot be
/// told. A failed look is not the end: the next one may answer (a 404 from a lagging
/// replica, an outage longer than one request's retries); "absent" is concluded only from
/// looks that answered.
async fn look_for_run(
    client: &Client,
    job_id: i64,
    request: &TriggerRequest,
    baseline: Baseline,
) -> Result<Option<Run>, ApiError> {
    let mut answered = false;
    let mut failure = None;
    for look in 0..LOOKS {
        if look > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Each look is bounded: a silent API must not stretch the grace period into
        // minutes of retries.
        let look = tokio::time::timeout(LOOK_LIMIT, find_run(client, job_id, request, baseline));
        match look.await {
            Ok(Ok(Lookup::Found(run))) => return Ok(Some(*run)),
            Ok(Ok(Lookup::Unsure(why))) => return Err(unconfirmed(job_id, why)),
            Ok(Ok(Lookup::Absent)) => answered = true,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {}s", LOOK_LIMIT.as_secs()),
                };
                client.debug(&format!("looking for the run failed: {why}"));
                failure = Some(why);
            }
        }
    }
    match (answered, failure) {
        (false, Some(why)) => Err(unconfirmed(job_id, format!("looking for it failed: {why}"))),
        _ => Ok(None),
    }
}

/// How many times to look for the run (1 s apart) before concluding it was not created.
const LOOKS: u32 = 3;
/// How long one look for the run may take, retries included.
const LOOK_LIMIT: Duration = Duration::from_secs(15);
/// How long the baseline look-up may take before the trigger goes without it: it only
/// sharpens the look-up after a lost response (the marker alone already tells runs apart).
const BASELINE_LIMIT: Duration = Duration::from_secs(5);
/// Runs one look-up reads; a job busier than this between trigger and look-up is "unsure".
const LOOKUP_LIMIT: usize = 100;

/// What existed before the POST.
#[derive(Debug, Clone, Copy)]
enum Baseline {
    /// The job's newest run id (0: none): only larger ids can be ours.
    NewestId(i64),
    /// Unknown (the look-up failed): runs created in the last minutes count as new.
    Unknown(chrono::DateTime<chrono::Utc>),
}

impl Baseline {
    async fn look_up(client: &Client, job_id: i64) -> Baseline {
        let query = RunQuery {
            job_id: Some(job_id),
            order_by: Some("-id".into()),
            limit: 1,
            ..RunQuery::default()
        };
        match tokio::time::timeout(BASELINE_LIMIT, client.list_runs(&query)).await {
            Ok(Ok(runs)) => Baseline::NewestId(runs.first().map_or(0, |r| r.id)),
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {BASELINE_LIMIT:?}"),
                };
                client.debug(&format!(
                    "the job's newest run is unknown ({why}); triggering without it"
                ));
                // Clock skew between us and the server is absorbed by the margin.
                Baseline::Unknown(chrono::Utc::now() - chrono::Duration::minutes(2))
            }
        }
    }

    fn id_gt(self) -> Option<i64> {
        match self {
            Baseline::NewestId(id) => Some(id),
            Baseline::Unknown(_) => None,
        }
    }

    fn is_newer(self, run: &Run) -> bool {
        match self {
            Baseline::NewestId(id) => run.id > id,
            Baseline::Unknown(since) => run.created_at.is_none_or(|t: Timestamp| t.0 >= since),
        }
    }
}

impl std::fmt::Display for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Baseline::NewestId(0) => f.write_str("a run of the job (it had none)"),
            Baseline::NewestId(id) => write!(f, "a run newer than run {id}"),
            Baseline::Unknown(_) => f.write_str("a run created in the last minutes"),
        }
    }
}

enum Lookup {
    Found(Box<Run>),
    Absent,
    /// Cannot tell (why).
    Unsure(String),
}

fn unconfirmed(job_id: i64, why: String) -> ApiError {
    ApiError::TriggerUnconfirmed { job_id, why }
}

/// A run of the job newer than the baseline whose trigger carries our (marked) cause.
async fn find_run(
    client: &Client,
    job_id: i64,
    request: &TriggerRequest,
    baseline: Baseline,
) -> Result<Lookup, ApiError> {
    let runs = client
        .list_runs(&RunQuery {
            job_id: Some(job_id),
            order_by: Some("-id".into()),
            id_gt: baseline.id_gt(),
            limit: LOOKUP_LIMIT,
            include_related: vec!["trigger".into()],
            ..RunQuery::default()
        })
        .await?;
    let newer: Vec<&Run> = runs.iter().filter(|r| baseline.is_newer(r)).collect();
    if let Some(run) = newer.iter().find(|r| is_ours(r, request)) {
        return Ok(Lookup::Found(Box::new((*run).clone())));
    }
    if let Some(unclear) = newer.iter().find(|r| r.trigger.is_none()) {
        return Ok(Lookup::Unsure(format!(
            "run {} is new but the API did not say what triggered it",
            unclear.id
        )));
    }
    // Only new runs count: an unknown baseline reads the job's history too.
    if newer.len() >= LOOKUP_LIMIT {
        return Ok(Lookup::Unsure(format!(
            "the job has {LOOKUP_LIMIT} or more new runs"
        )));
    }
    Ok(Lookup::Absent)
}

fn is_ours(run: &Run, request: &TriggerRequest) -> bool {
    let Some(trigger) = &run.trigger else {
        return false;
    };
    let same_sha = match &request.git_sha {
        Some(sha) => {
            trigger.git_sha.as_deref() == Some(sha.as_str())
                || run.git_sha.as_deref() == Some(sha.as_str())
        }
        None => trigger.git_sha.is_none(),
    };
    same_sha && trigger.cause.as_deref() == Some(request.cause.as_str())
}
