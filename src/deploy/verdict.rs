//! What a deployment returns: how each attempt ended, the retries between them, and for
//! several jobs, each unit's ending. Plain data; the edge decides exit codes and documents.

use crate::cloud::retries::RetryPlan;
use crate::cloud::verdict::Finished;
use crate::cloud::{Run, RunStatus};

use super::plan::Unit;

/// How one run (one attempt) ended.
#[derive(Debug)]
pub enum Ending {
    /// Triggered and not awaited.
    Triggered(Run),
    /// It finished: Success, Error or Cancelled, with what it did.
    Finished { run: Run, finished: Box<Finished> },
    /// The deadline came first (the last state seen); `cancelled` when we cancelled it.
    TimedOut { run: Run, cancelled: bool },
    /// A stop signal came first; `cancelled` when we cancelled it.
    Interrupted { run: Run, cancelled: bool },
}

impl Ending {
    pub fn run(&self) -> &Run {
        match self {
            Ending::Triggered(run)
            | Ending::Finished { run, .. }
            | Ending::TimedOut { run, .. }
            | Ending::Interrupted { run, .. } => run,
        }
    }

    pub fn outcome(&self) -> Outcome {
        match self {
            Ending::Triggered(_) => Outcome::Triggered,
            Ending::Finished { run, .. } => match run.run_status() {
                RunStatus::Success => Outcome::Success,
                RunStatus::Error => Outcome::Error,
                _ => Outcome::Cancelled,
            },
            Ending::TimedOut { .. } => Outcome::Timeout,
            Ending::Interrupted { .. } => Outcome::Interrupted,
        }
    }
}

/// The verdict's kind, the word `--json` uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Triggered,
    Success,
    Error,
    Cancelled,
    Timeout,
    Interrupted,
}

impl Outcome {
    /// How bad it is, for the one verdict of several runs: error > cancelled > timeout >
    /// success (a stop signal ends the wait at once and decides by itself).
    pub fn severity(self) -> u8 {
        match self {
            Outcome::Error => 4,
            Outcome::Cancelled => 3,
            Outcome::Timeout => 2,
            Outcome::Interrupted => 1,
            Outcome::Success | Outcome::Triggered => 0,
        }
    }

    /// The worst of `outcomes` (success when there are none).
    pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        outcomes
            .into_iter()
            .max_by_key(|o| o.severity())
            .unwrap_or(Outcome::Success)
    }

    pub fn word(self) -> &'static str {
        match self {
            Outcome::Triggered => "triggered",
            Outcome::Success => "success",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
            Outcome::Timeout => "timeout",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// The retry started after an attempt.
#[derive(Debug)]
pub struct RetryTaken {
    pub plan: RetryPlan,
    pub run_id: i64,
    pub adopted: bool,
}

/// One attempt: how it ended and what came after (a retry, or why there was none).
#[derive(Debug)]
pub struct Attempt {
    pub ending: Ending,
    pub retry: Option<RetryTaken>,
    pub not_retried: Option<String>,
}

/// A followed run's verdict: every attempt, the last one deciding.
#[derive(Debug)]
pub struct Verdict {
    pub attempts: Vec<Attempt>,
}

impl Verdict {
    pub fn last(&self) -> &Attempt {
        self.attempts.last().expect("a verdict has an attempt")
    }

    pub fn outcome(&self) -> Outcome {
        self.last().ending.outcome()
    }
}

/// How one of several units ended.
#[derive(Debug)]
pub enum UnitEnd {
    /// Awaited together with the others (or not awaited): one ending, no retries.
    Ended(Box<Ending>),
    /// Followed on its own (`--sequential`), retries included.
    Followed(Verdict),
    /// Not triggered: an earlier unit ended without success.
    NotTriggered,
}

impl UnitEnd {
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            UnitEnd::Ended(e) => Some(e.outcome()),
            UnitEnd::Followed(v) => Some(v.outcome()),
            UnitEnd::NotTriggered => None,
        }
    }
}

/// Several units' endings, in the order given; `stopped` when a stop signal ended it all.
#[derive(Debug)]
pub struct ManyVerdict<'u> {
    pub units: Vec<(&'u Unit, UnitEnd)>,
    pub stopped: bool,
}

impl ManyVerdict<'_> {
    /// The one verdict: the stop signal's, else the worst (a unit not triggered counts as
    /// nothing: the one before it decides).
    pub fn outcome(&self) -> Outcome {
        if self.stopped {
            return Outcome::Interrupted;
        }
        Outcome::worst(self.units.iter().filter_map(|(_, e)| e.outcome()))
    }
}
