//! The trigger body a configuration asks for: cause, commit and the job overrides. Shared by
//! every face that triggers (`dbt-run`, `push`, hooks, `watch`, `serve`).

use crate::config::{self, DbtCloudConfig, MAX_CAUSE_LEN};

use super::types::TriggerRequest;

/// The trigger body from the configuration, the commit and branch. dbt Cloud reportedly
/// refuses a trigger carrying both `git_sha` and `git_branch`; when both are known, the sha is
/// sent (it is what validates the commit) and the branch goes into the cause.
pub fn from_config(
    d: &DbtCloudConfig,
    git_sha: Option<&str>,
    git_branch: Option<&str>,
) -> Result<TriggerRequest, String> {
    let git_sha = git_sha.map(str::trim).filter(|s| !s.is_empty());
    let git_branch = git_branch.map(str::trim).filter(|s| !s.is_empty());
    let cause = match &d.cause {
        Some(c) => c.value.clone(),
        None => default_cause(git_branch, git_sha),
    };
    config::validate_cause(&cause).map_err(|m| format!("--cause: {m}"))?;
    let o = &d.overrides;
    Ok(TriggerRequest {
        cause,
        git_sha: git_sha.map(str::to_string),
        git_branch: if git_sha.is_some() {
            None
        } else {
            git_branch.map(str::to_string)
        },
        schema_override: o.schema_override.as_ref().map(|v| v.value.clone()),
        target_name_override: o.target_name_override.as_ref().map(|v| v.value.clone()),
        threads_override: o.threads_override.as_ref().map(|v| v.value),
        steps_override: o.steps_override.as_ref().map(|v| v.value.clone()),
        timeout_seconds_override: o.timeout_seconds_override.as_ref().map(|v| v.value),
        dbt_version_override: o.dbt_version_override.as_ref().map(|v| v.value.clone()),
        generate_docs_override: o.generate_docs_override.as_ref().map(|v| v.value),
        ..TriggerRequest::default()
    })
}

/// `Triggered by datachonk` plus the branch and short sha when known, within 255 characters.
pub fn default_cause(branch: Option<&str>, sha: Option<&str>) -> String {
    let short = sha.map(|s| &s[..s.len().min(12)]);
    let mut cause = match (branch, short) {
        (Some(b), Some(s)) => format!("Triggered by datachonk for {b} @ {s}"),
        (Some(b), None) => format!("Triggered by datachonk for {b}"),
        (None, Some(s)) => format!("Triggered by datachonk @ {s}"),
        (None, None) => "Triggered by datachonk".to_string(),
    };
    if cause.chars().count() > MAX_CAUSE_LEN {
        cause = cause.chars().take(MAX_CAUSE_LEN - 1).collect::<String>() + "…";
    }
    cause
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cause_names_branch_and_short_sha_within_the_limit() {
        assert_eq!(default_cause(None, None), "Triggered by datachonk");
        assert_eq!(
            default_cause(Some("feature/x"), Some("0123456789abcdef0123")),
            "Triggered by datachonk for feature/x @ 0123456789ab"
        );
        let long = "b".repeat(400);
        assert_eq!(
            default_cause(Some(&long), None).chars().count(),
            MAX_CAUSE_LEN
        );
    }
}
