//! `datachonk watch`: each new successful run of an upstream job triggers a downstream job
//! exactly once. This module holds what survives a restart — one state file per
//! (upstream, downstream) pair, written atomically — and the pure decision of what is due.
//!
//! Exactly once across a crash: before triggering for upstream run R the state records R as
//! *pending*; after the trigger it records R as handled. A watcher killed in between finds R
//! pending at start and first looks for a downstream run whose cause names R (the cause always
//! does) before triggering again.
//!
//! dbt Cloud runs one job's runs one at a time, so an upstream job's runs finish in id order and
//! "the last handled run id" is a sound cursor.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::types::{Run, RunStatus};

/// How many handled upstream runs a state file remembers (for people reading it).
const HISTORY: usize = 50;

/// One upstream → downstream pair's memory.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PairState {
    pub upstream_job: i64,
    pub downstream_job: i64,
    /// The newest upstream run handled (triggered for, or skipped); runs up to it are done.
    pub last_upstream_run: i64,
    /// An upstream run whose downstream trigger was started and not yet recorded.
    #[serde(default)]
    pub pending_upstream_run: Option<i64>,
    #[serde(default)]
    pub history: Vec<Handled>,
}

/// What was done for one upstream run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Handled {
    pub upstream_run: i64,
    /// The downstream run triggered for it; `None` when skipped (older than the look-back).
    pub downstream_run: Option<i64>,
    pub at: DateTime<Utc>,
}

impl PairState {
    pub fn new(upstream_job: i64, downstream_job: i64, baseline: i64) -> Self {
        PairState {
            upstream_job,
            downstream_job,
            last_upstream_run: baseline,
            ..PairState::default()
        }
    }

    /// Record upstream run `run` as handled (with the downstream run, if one was triggered).
    pub fn handled(&mut self, run: i64, downstream_run: Option<i64>) {
        self.last_upstream_run = self.last_upstream_run.max(run);
        self.pending_upstream_run = None;
        self.history.push(Handled {
            upstream_run: run,
            downstream_run,
            at: Utc::now(),
        });
        let extra = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..extra);
    }
}

/// `<dir>/<upstream>-<downstream>.json`.
pub fn state_path(dir: &Path, upstream: i64, downstream: i64) -> PathBuf {
    dir.join(format!("{upstream}-{downstream}.json"))
}

pub fn load(path: &Path) -> Result<Option<PairState>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is not a watch state file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

pub fn save(path: &Path, state: &PairState) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_vec_pretty(state).unwrap_or_default();
    crate::fsx::write_atomic(path, &text).map_err(|e| e.to_string())
}

/// The downstream trigger's cause: names the upstream run, so a lost trigger can be found.
pub fn cause_for(upstream_run: i64, upstream_name: &str) -> String {
    let name: String = upstream_name.chars().take(120).collect();
    format!("After run {upstream_run} of job \"{name}\" succeeded")
}

/// Whether a downstream run's cause says it was triggered for `upstream_run`.
pub fn cause_names(cause: &str, upstream_run: i64) -> bool {
    cause.starts_with(&format!("After run {upstream_run} of job "))
}

/// What to do with one upstream run.
#[derive(Debug, Clone, PartialEq)]
pub enum Due {
    Trigger(i64),
    /// Finished before the look-back window: marked handled, not triggered.
    TooOld(i64),
}

/// The upstream runs `state` has not handled, oldest first: successful runs of its upstream
/// job with a larger id than the last handled one.
pub fn due(
    state: &PairState,
    runs: &[Run],
    now: DateTime<Utc>,
    look_back: chrono::Duration,
) -> Vec<Due> {
    let mut mine: Vec<&Run> = runs
        .iter()
        .filter(|r| r.job() == Some(state.upstream_job))
        .filter(|r| r.run_status() == RunStatus::Success)
        .filter(|r| r.id > state.last_upstream_run)
        .collect();
    mine.sort_by_key(|r| r.id);
    mine.into_iter()
        .map(|r| {
            let finished = r.finished_at.map(|t| t.0.with_timezone(&Utc));
            match finished {
                Some(f) if now - f > look_back => Due::TooOld(r.id),
                _ => Due::Trigger(r.id),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, job: i64, status: i64, finished_hours_ago: i64) -> Run {
        let finished = Utc::now() - chrono::Duration::hours(finished_hours_ago);
        serde_json::from_value(serde_json::json!({
            "id": id, "job_definition_id": job, "status": status,
            "finished_at": finished.to_rfc3339(),
        }))
        .unwrap()
    }

    #[test]
    fn only_new_successful_runs_of_the_upstream_job_are_due_oldest_first() {
        let state = PairState::new(1, 2, 10);
        let runs = vec![
            run(13, 1, 10, 0),
            run(9, 1, 10, 0),
            run(11, 1, 10, 30),
            run(12, 1, 20, 0),
            run(14, 7, 10, 0),
            run(15, 1, 10, 0),
        ];
        let due = due(&state, &runs, Utc::now(), chrono::Duration::hours(24));
        assert_eq!(due, [Due::TooOld(11), Due::Trigger(13), Due::Trigger(15)]);
    }

    #[test]
    fn handled_runs_move_the_cursor_and_clear_the_pending_one() {
        let mut s = PairState::new(1, 2, 0);
        s.pending_upstream_run = Some(5);
        s.handled(5, Some(40));
        assert_eq!((s.last_upstream_run, s.pending_upstream_run), (5, None));
        s.handled(3, None);
        assert_eq!(s.last_upstream_run, 5, "never moves back");
        assert!(cause_names(&cause_for(5, "Load raw"), 5));
        assert!(!cause_names(&cause_for(55, "Load raw"), 5));
    }
}
