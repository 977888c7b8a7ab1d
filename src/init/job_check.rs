//! Is the chosen job a state-aware validation job? datachonk triggers it for every pushed
//! commit, so it should build only what changed (`state:modified`) and defer the rest to
//! production; a plain `dbt build` rebuilds the whole project on every push.

use crate::cloud::types::Job;

/// Something to change about the job in dbt Cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobAdvice {
    /// No step selects `state:modified`.
    NotStateAware,
    /// No `--defer` in the steps and no deferral configured on the job.
    NoDeferral,
    /// The job has no steps at all.
    NoSteps,
}

impl JobAdvice {
    /// What is wrong, and what to change in dbt Cloud.
    pub fn message(&self) -> &'static str {
        match self {
            JobAdvice::NotStateAware => {
                "no step selects `state:modified`: every push would rebuild the whole project. \
                 In dbt Cloud, edit the job's command to e.g. `dbt build --select state:modified+`"
            }
            JobAdvice::NoDeferral => {
                "the job does not defer: unchanged upstream models would be missing or rebuilt. \
                 In dbt Cloud, job settings → Advanced settings → \"Compare changes against\" / \
                 \"Defer to a previous run state\": pick the production environment (or add \
                 `--defer --state <path>` to the command)"
            }
            JobAdvice::NoSteps => {
                "the job has no commands; add e.g. `dbt build --select state:modified+` in dbt Cloud"
            }
        }
    }
}

/// The advice for `job` (empty for a good validation job).
pub fn assess(job: &Job) -> Vec<JobAdvice> {
    let steps = job.execute_steps.as_deref().unwrap_or_default();
    if steps.is_empty() {
        return vec![JobAdvice::NoSteps];
    }
    let mut advice = Vec::new();
    if !steps.iter().any(|s| s.contains("state:modified")) {
        advice.push(JobAdvice::NotStateAware);
    }
    let defers_in_steps = steps
        .iter()
        .any(|s| s.split_whitespace().any(|w| w == "--defer"));
    let defers_in_settings =
        job.deferring_environment_id.is_some() || job.deferring_job_definition_id.is_some();
    if !defers_in_steps && !defers_in_settings {
        advice.push(JobAdvice::NoDeferral);
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(steps: &[&str], deferring_env: Option<i64>) -> Job {
        Job {
            execute_steps: Some(steps.iter().map(|s| s.to_string()).collect()),
            deferring_environment_id: deferring_env,
            ..Job::default()
        }
    }

    #[test]
    fn a_state_aware_deferring_job_needs_no_advice() {
        let j = job(
            &["dbt build --select state:modified+ --defer --state ./prod"],
            None,
        );
        assert!(assess(&j).is_empty());
        // Deferral configured on the job (dbt Cloud CI jobs) instead of in the command.
        let j = job(&["dbt build -s state:modified+"], Some(7));
        assert!(assess(&j).is_empty());
    }

    #[test]
    fn a_plain_build_gets_both_warnings_and_no_steps_its_own() {
        assert_eq!(
            assess(&job(&["dbt build"], None)),
            vec![JobAdvice::NotStateAware, JobAdvice::NoDeferral]
        );
        assert_eq!(
            assess(&job(&["dbt build --select state:modified+"], None)),
            vec![JobAdvice::NoDeferral]
        );
        assert_eq!(assess(&job(&[], None)), vec![JobAdvice::NoSteps]);
        assert_eq!(assess(&Job::default()), vec![JobAdvice::NoSteps]);
    }
}
