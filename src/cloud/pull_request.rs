//! Which pull request a trigger is for. Sent with the commit, one of the trigger body's
//! pull-request fields makes dbt Cloud run the job as its own CI job does: into the pull
//! request's schema, cancelling the pull request's older runs, dropping the schema when it
//! closes. The number comes from `--pull-request N`, or from the CI system's event
//! (`--pull-request` alone): GitHub Actions, GitLab CI and Azure Pipelines say which pull
//! request a pipeline builds.

use super::types::TriggerRequest;

/// Whose pull request: each has its own field in the trigger body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
    Azure,
    /// Any other host (dbt Cloud's "non-native" pull requests).
    Other,
}

impl Provider {
    /// The trigger body's field for this provider's pull requests.
    pub fn field(self) -> &'static str {
        match self {
            Provider::GitHub => "github_pull_request_id",
            Provider::GitLab => "gitlab_merge_request_id",
            Provider::Azure => "azure_pull_request_id",
            Provider::Other => "non_native_pull_request_id",
        }
    }

    /// The provider a remote URL points at, by its host.
    pub fn of_remote(url: &str) -> Provider {
        let url = url.to_ascii_lowercase();
        if url.contains("github") {
            Provider::GitHub
        } else if url.contains("gitlab") {
            Provider::GitLab
        } else if url.contains("dev.azure.com") || url.contains("visualstudio.com") {
            Provider::Azure
        } else {
            Provider::Other
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub provider: Provider,
    pub id: i64,
    /// The pull request's head commit, when the CI system says (GitHub's `GITHUB_SHA` of a
    /// pull-request event is a merge commit no branch holds).
    pub head_sha: Option<String>,
}

impl PullRequest {
    /// Set the provider's field of the trigger body.
    pub fn apply(&self, request: &mut TriggerRequest) {
        let id = Some(self.id);
        match self.provider {
            Provider::GitHub => request.github_pull_request_id = id,
            Provider::GitLab => request.gitlab_merge_request_id = id,
            Provider::Azure => request.azure_pull_request_id = id,
            Provider::Other => request.non_native_pull_request_id = id,
        }
    }
}

/// Why no pull request could be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullRequestError {
    #[error("--pull-request {0:?}: expected a pull request number (e.g. 42), or no value to read it from the CI system")]
    NotANumber(String),
    #[error("--pull-request: {0}")]
    NoEvent(String),
}

/// What `--pull-request [N]` names. `value` is `None` for the flag alone (read from CI);
/// `env` reads the environment; `remote_url` is the origin's URL, for a number given by hand
/// outside a CI system.
pub fn resolve(
    value: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    remote_url: Option<&str>,
) -> Result<PullRequest, PullRequestError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => {
            let id = v
                .trim_start_matches('#')
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| PullRequestError::NotANumber(v.to_string()))?;
            let provider = ci_provider(env)
                .or_else(|| remote_url.map(Provider::of_remote))
                .unwrap_or(Provider::Other);
            Ok(PullRequest {
                provider,
                id,
                head_sha: None,
            })
        }
        None => from_ci(env).map_err(PullRequestError::NoEvent),
    }
}

/// The CI system running this, by its own variables (also what decides whether a stop signal
/// cancels a run by default: `deploy::ci_cancels_on_stop`).
pub fn ci_provider(env: &dyn Fn(&str) -> Option<String>) -> Option<Provider> {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if set("GITHUB_ACTIONS") {
        Some(Provider::GitHub)
    } else if set("GITLAB_CI") {
        Some(Provider::GitLab)
    } else if set("TF_BUILD") {
        Some(Provider::Azure)
    } else {
        None
    }
}

/// The pull request the CI system's pipeline builds.
fn from_ci(env: &dyn Fn(&str) -> Option<String>) -> Result<PullRequest, String> {
    let number = |k: &str| env(k).and_then(|v| v.trim().parse::<i64>().ok());
    match ci_provider(env) {
        Some(Provider::GitHub) => github_event(env),
        Some(Provider::GitLab) => {
            let id = number("CI_MERGE_REQUEST_IID").ok_or(
                "this GitLab pipeline is not a merge request pipeline (no CI_MERGE_REQUEST_IID): run it with `rules: - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"`, or pass the number",
            )?;
            Ok(PullRequest {
                provider: Provider::GitLab,
                id,
                head_sha: env("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA")
                    .or_else(|| env("CI_COMMIT_SHA"))
                    .filter(|s| !s.is_empty()),
            })
        }
        Some(Provider::Azure) => {
            let id = number("SYSTEM_PULLREQUEST_PULLREQUESTID")
                .ok_or("this Azure pipeline is not a pull request build (no SYSTEM_PULLREQUEST_PULLREQUESTID): pass the number")?;
            Ok(PullRequest {
                provider: Provider::Azure,
                id,
                head_sha: env("SYSTEM_PULLREQUEST_SOURCECOMMITID").filter(|s| !s.is_empty()),
            })
        }
        _ => Err("no CI system says which pull request this is (GitHub Actions, GitLab CI and Azure Pipelines do): pass the number, --pull-request N".into()),
    }
}

/// GitHub Actions: the event payload (`GITHUB_EVENT_PATH`) of a pull-request event.
fn github_event(env: &dyn Fn(&str) -> Option<String>) -> Result<PullRequest, String> {
    let event = env("GITHUB_EVENT_NAME").unwrap_or_default();
    if !event.starts_with("pull_request") {
        return Err(format!(
            "this workflow run is for a {:?} event, not a pull request: trigger the workflow `on: pull_request`, or pass the number",
            event
        ));
    }
    let path = env("GITHUB_EVENT_PATH").ok_or("GITHUB_EVENT_PATH is not set")?;
    let text = crate::io_limits::read_text(
        std::path::Path::new(&path),
        crate::io_limits::YAML_LIMIT,
        crate::io_limits::Origin::Found,
    )
    .map_err(|e| format!("cannot read the event payload {path}: {e}"))?;
    let payload: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("the event payload {path} is not JSON: {e}"))?;
    let pr = &payload["pull_request"];
    let id = pr["number"]
        .as_i64()
        .or_else(|| payload["number"].as_i64())
        .ok_or_else(|| format!("the event payload {path} names no pull request number"))?;
    Ok(PullRequest {
        provider: Provider::GitHub,
        id,
        head_sha: pr["head"]["sha"].as_str().map(str::to_string),
    })
}

/// An environment of these variables only, for tests of what reads the CI's variables.
#[cfg(test)]
pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_by_hand_takes_the_ci_systems_provider_else_the_remotes() {
        let none = env_of(&[]);
        let pr = resolve(
            Some("42"),
            &none,
            Some("git@gitlab.example.com:team/dbt.git"),
        )
        .unwrap();
        assert_eq!((pr.provider, pr.id), (Provider::GitLab, 42));
        let pr = resolve(Some("#7"), &none, Some("https://github.com/acme/dbt")).unwrap();
        assert_eq!((pr.provider, pr.id), (Provider::GitHub, 7));
        let pr = resolve(
            Some("7"),
            &none,
            Some("https://dev.azure.com/acme/_git/dbt"),
        )
        .unwrap();
        assert_eq!(pr.provider.field(), "azure_pull_request_id");
        let pr = resolve(Some("7"), &none, Some("ssh://git.internal/dbt")).unwrap();
        assert_eq!(pr.provider.field(), "non_native_pull_request_id");
        let gha = env_of(&[("GITHUB_ACTIONS", "true")]);
        let pr = resolve(Some("9"), &gha, Some("ssh://git.internal/dbt")).unwrap();
        assert_eq!(pr.provider, Provider::GitHub);
        for bad in ["abc", "0", "-3", "4.5"] {
            assert_eq!(
                resolve(Some(bad), &none, None),
                Err(PullRequestError::NotANumber(bad.into()))
            );
        }
    }

    #[test]
    fn the_ci_event_names_the_pull_request_and_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"action": "synchronize", "number": 12, "pull_request": {"number": 12, "head": {"sha": "abc123def"}}}"#,
        )
        .unwrap();
        let gha = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ]);
        let pr = resolve(None, &gha, None).unwrap();
        assert_eq!(pr.id, 12);
        assert_eq!(pr.head_sha.as_deref(), Some("abc123def"));
        let push = env_of(&[("GITHUB_ACTIONS", "true"), ("GITHUB_EVENT_NAME", "push")]);
        let e = resolve(None, &push, None).unwrap_err().to_string();
        assert!(e.contains("\"push\" event"), "{e}");

        let gl = env_of(&[
            ("GITLAB_CI", "true"),
            ("CI_MERGE_REQUEST_IID", "5"),
            ("CI_COMMIT_SHA", "feed"),
        ]);
        let pr = resolve(None, &gl, None).unwrap();
        assert_eq!((pr.provider, pr.id), (Provider::GitLab, 5));
        assert_eq!(pr.head_sha.as_deref(), Some("feed"));
        let e = resolve(None, &env_of(&[("GITLAB_CI", "true")]), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("merge_request_event"), "{e}");
        let az = env_of(&[
            ("TF_BUILD", "True"),
            ("SYSTEM_PULLREQUEST_PULLREQUESTID", "31"),
        ]);
        assert_eq!(resolve(None, &az, None).unwrap().provider, Provider::Azure);
        let e = resolve(None, &env_of(&[]), None).unwrap_err().to_string();
        assert!(e.contains("--pull-request N"), "{e}");
    }

    #[test]
    fn apply_sets_only_the_providers_field() {
        let mut r = TriggerRequest::default();
        PullRequest {
            provider: Provider::GitLab,
            id: 3,
            head_sha: None,
        }
        .apply(&mut r);
        assert_eq!(r.gitlab_merge_request_id, Some(3));
        assert_eq!(r.github_pull_request_id, None);
        let body = serde_json::to_value(&r).unwrap();
        assert_eq!(body["gitlab_merge_request_id"], 3);
        assert!(body.get("github_pull_request_id").is_none());
    }
}
