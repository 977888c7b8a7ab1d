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
