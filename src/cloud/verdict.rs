//! What a finished run did, gathered once for every face that shows a verdict: its nodes
//! (from its artifacts) and, on Error, what failed.

use super::client::Client;
use super::failure::{self, FailureReport};
use super::insight::{self, ArtifactStore, RunInsight};
use super::types::{Run, RunStatus};

/// What a finished run did: its nodes (from its artifacts) and, on Error, what failed.
#[derive(Debug)]
pub struct Finished {
    pub insight: Option<RunInsight>,
    /// Why the nodes could not be had (an API failure reading the artifacts).
    pub insight_error: Option<String>,
    pub failure: Option<FailureReport>,
}

/// Why the nodes are missing when the deadline came first (printed as it is).
pub const SKIPPED_AT_DEADLINE: &str = "node summary skipped (deadline)";

/// [`finish`] inside the command's deadline: the verdict is known, so when time runs out
/// the artifacts are given up (the summary is skipped) and the run's status still decides.
pub async fn finish_within(
    client: &Client,
    store: &ArtifactStore,
    done: &Run,
    deadline: Option<std::time::Instant>,
) -> Finished {
    let Some(deadline) = deadline else {
        return finish(client, store, done).await;
    };
    match tokio::time::timeout_at(deadline.into(), finish(client, store, done)).await {
        Ok(finished) => finished,
        Err(_) => Finished {
            insight: None,
            insight_error: Some(SKIPPED_AT_DEADLINE.into()),
            failure: (done.run_status() == RunStatus::Error)
                .then(|| failure::explain(done, Err(SKIPPED_AT_DEADLINE))),
        },
    }
}

/// Whether [`finish_within`] gave up the nodes at the deadline.
pub fn skipped_at_deadline(f: &Finished) -> bool {
    f.insight_error.as_deref() == Some(SKIPPED_AT_DEADLINE)
}

/// Gather the nodes of a finished run (read with its steps) and explain an Error. Artifacts
/// that cannot be had are reported, never fatal: the verdict is the run's status.
pub async fn finish(client: &Client, store: &ArtifactStore, done: &Run) -> Finished {
    let gathered = insight::gather(client, store, done).await;
    let failure = (done.run_status() == RunStatus::Error).then(|| match &gathered {
        Ok(i) => failure::explain(done, Ok(i)),
        Err(e) => failure::explain(done, Err(&e.to_string())),
    });
    let insight_error = gathered.as_ref().err().map(ToString::to_string);
    Finished {
        insight: gathered.ok(),
        insight_error,
        failure,
    }
}
