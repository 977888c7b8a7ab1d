//! Cancelling a run after the deadline or a stop signal, within a small budget.

use crate::cloud::cancel::cancel_and_confirm;
use crate::cloud::{Run, RunStatus};

use super::clock::CANCEL_BUDGET;
use super::deployment::Deployment;
use super::event::{CancelProblem, Event};

impl Deployment<'_> {
    /// Cancel `last`'s run within [`CANCEL_BUDGET`]: the state the API confirmed, and whether
    /// it is Cancelled (a verdict may have come first). `reason` says why, for the events.
    pub async fn cancel(&self, last: Run, reason: &str) -> (Run, bool) {
        let id = last.id;
        let problem = |problem| Event::CancelUnconfirmed {
            run_id: id,
            reason,
            problem,
        };
        match tokio::time::timeout(CANCEL_BUDGET, cancel_and_confirm(self.client, id)).await {
            Ok(Ok(run)) => {
                let cancelled = run.run_status() == RunStatus::Cancelled;
                if !cancelled {
                    self.emit(problem(CancelProblem::EndedFirst(&run)));
                }
                (run, cancelled)
            }
            Ok(Err(e)) => {
                self.emit(problem(CancelProblem::Failed(&e.to_string())));
                (last, false)
            }
            Err(_) => {
                self.emit(problem(CancelProblem::NoAnswer(CANCEL_BUDGET.as_secs())));
                (last, false)
            }
        }
    }
}
