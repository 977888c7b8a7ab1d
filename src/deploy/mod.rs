//! The deploy core: trigger → wait → verdict → targeted retries → after-job chains, for one
//! job or several. It prints nothing: it reports [`Event`]s to a [`Reporter`] and returns
//! verdicts, so the terminal, `--json`, and later JUnit, CI annotations and serve's stream are
//! consumers of the same events. Exit codes are not decided here (`commands/` maps them).

pub mod cancel;
pub mod clock;
pub mod deployment;
pub mod error;
pub mod event;
pub mod follow;
pub mod many;
pub mod observe;
pub mod plan;
pub mod trigger;
pub mod upstream;
pub mod verdict;
pub mod watch;

pub use deployment::{Deployment, Stop};
pub use error::{DeployError, Failure};
pub use event::{CancelProblem, Event, Reporter};
pub use plan::{
    ci_cancels_on_stop, for_pull_request, pull_request_from, request_for, retries_of, store_for,
    url_of, ManyOptions, RunPlan, Unit,
};
pub use verdict::{Attempt, Ending, ManyVerdict, Outcome, RetryTaken, UnitEnd, Verdict};
