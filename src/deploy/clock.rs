//! Deadlines: every request of a deployment gives up when the `--timeout` passes.

use std::time::{Duration, Instant};

/// How long cancelling (and confirming it) may take after the deadline or a Ctrl-C.
pub const CANCEL_BUDGET: Duration = Duration::from_secs(5);
/// How long the job's history (it only tunes the poll schedule) may delay the first poll.
pub const HISTORY_LIMIT: Duration = Duration::from_secs(5);

/// `fut`, or `None` once `deadline` passes (no deadline: `fut`).
pub async fn within<T>(
    deadline: Option<Instant>,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), fut).await.ok(),
        None => Some(fut.await),
    }
}

/// The sooner of the deadline (if any) and `other`.
pub fn earliest(deadline: Option<Instant>, other: Instant) -> Instant {
    deadline.map_or(other, |d| d.min(other))
}

/// The deadline of a timeout starting now.
pub fn deadline_of(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}
