//! Cancel a run and confirm it: the state reported after `--cancel-on-timeout` or
//! `--cancel-on-interrupt` is one the API confirmed, not the request's hope.

use std::time::Duration;

use super::client::Client;
use super::errors::ApiError;
use super::types::Run;

/// Between looks at a run whose cancellation is under way.
const CONFIRM_EVERY: Duration = Duration::from_millis(250);

/// Ask dbt Cloud to cancel `run_id`, then look until the run is terminal (Cancelled, or a
/// verdict that came first). Unbounded: callers put a time limit around it.
pub async fn cancel_and_confirm(client: &Client, run_id: i64) -> Result<Run, ApiError> {
    let mut run = client.cancel_run(run_id).await?;
    while !run.run_status().is_terminal() {
        tokio::time::sleep(CONFIRM_EVERY).await;
        run = client
            .get_run(run_id, &["run_steps", "job", "trigger"])
            .await?;
    }
    Ok(run)
}
