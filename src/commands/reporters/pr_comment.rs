//! `--pr-comment` (issue 24 §1): under GitHub Actions, the verdict as one comment on the pull
//! request, updated in place by every later run instead of adding one per run. The comment is
//! found again by a hidden marker naming the dbt Cloud jobs it reports, so two jobs keep two
//! comments. It says what the step summary says (verdict, run link, node counts, failing
//! nodes, the retry command). It is a courtesy, never the verdict: a failure is a warning.

use secrecy::SecretString;

use crate::cloud::pull_request;
use crate::ui::Ui;

use super::github_rest::IssueComments;
use super::junit::RunReport;

/// GitHub refuses comments over 65,536 characters; the body is cut below that.
const MAX_BODY: usize = 60_000;

/// Where the comment goes: the API, the token, the repository and the pull request.
pub struct Target {
    pub api_url: String,
    pub token: SecretString,
    pub repo: String,
    pub number: i64,
}

/// The pull request of this GitHub Actions run: `number` when the command was given one,
/// else the workflow's event; the API and token from its variables (`env` reads the
/// environment). Why not, in words, when there is none.
pub fn target(env: &dyn Fn(&str) -> Option<String>, number: Option<i64>) -> Result<Target, String> {
    let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if pull_request::ci_provider(env) != Some(pull_request::Provider::GitHub) {
        return Err("it comments under GitHub Actions only (GITHUB_ACTIONS is not set)".into());
    }
    let token = set("GITHUB_TOKEN").ok_or(
        "GITHUB_TOKEN is not set: add `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step",
    )?;
    let repo = set("GITHUB_REPOSITORY").ok_or("GITHUB_REPOSITORY is not set")?;
    let number = match number {
        Some(n) => n,
        None => {
            pull_request::resolve(None, env, None)
                .map_err(|e| {
                    e.to_string()
                        .trim_start_matches("--pull-request: ")
                        .replace("or pass the number", "or pass it with --pull-request N")
                })?
                .id
        }
    };
    Ok(Target {
        api_url: set("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
        token: SecretString::from(token),
        repo,
        number,
    })
}

/// The hidden marker of the comment reporting these runs' jobs.
pub fn marker(runs: &[RunReport<'_>]) -> String {
    let mut jobs: Vec<String> = runs
        .iter()
        .map(|r| match r.run.job_definition_id.or(r.run.job_id) {
            Some(job) => job.to_string(),
            None => format!("run{}", r.run.id),
        })
        .collect();
    jobs.sort();
    jobs.dedup();
    format!("<!-- datachonk:jobs={} -->", jobs.join(","))
}

/// The comment: the marker, the step summary's Markdown, and which commit and workflow run
/// it is for (cut to a size GitHub takes, saying so).
pub fn body(runs: &[RunReport<'_>], verdict: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut md = super::github::summary(runs, verdict);
    if md.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !md.is_char_boundary(cut) {
            cut -= 1;
        }
        let at = md[..cut].rfind('\n').unwrap_or(cut);
        md.truncate(at);
        md.push_str("\n\n… cut to fit a comment: the job's step summary and JUnit report have every node.\n");
    }
    let sha = runs
        .iter()
        .find_map(|r| r.run.git_sha.as_deref())
        .map(|s| format!(" for commit `{}`", &s[..s.len().min(12)]))
        .unwrap_or_default();
    let workflow = match (
        env("GITHUB_SERVER_URL"),
        env("GITHUB_REPOSITORY"),
        env("GITHUB_RUN_ID"),
    ) {
        (Some(server), Some(repo), Some(id)) if !id.is_empty() => format!(
            " by [workflow run {id}]({}/{repo}/actions/runs/{id})",
            server.trim_end_matches('/')
        ),
        _ => String::new(),
    };
    format!(
        "{}\n{}\n<sub>datachonk{sha}{workflow}; this comment is updated in place by later runs.</sub>\n",
        marker(runs),
        md.trim_end()
    )
}

/// Comment the verdict on the pull request, updating the earlier comment of the same jobs;
/// every problem is a warning. `number`: the pull request the command named, if it did.
pub async fn publish(ui: &Ui, runs: &[RunReport<'_>], verdict: &str, number: Option<i64>) {
    if runs.is_empty() {
        return;
    }
    let env = |k: &str| std::env::var(k).ok();
    let target = match target(&env, number) {
        Ok(t) => t,
        Err(why) => {
            ui.warn(format!("--pr-comment: no comment: {why}"));
            return;
        }
    };
    let body = body(runs, verdict, &env);
    match put(&target, &marker(runs), &body).await {
        Ok(true) => ui.status(format!(
            "updated the comment on pull request #{}",
            target.number
        )),
        Ok(false) => ui.status(format!("commented on pull request #{}", target.number)),
        Err(e) => ui.warn(format!("--pr-comment: {e}")),
    }
}

/// Update the comment holding `marker`, else add one: whether it was an update.
async fn put(
    target: &Target,
    marker: &str,
    body: &str,
) -> Result<bool, super::github_rest::RestError> {
    let api = IssueComments::new(&target.api_url, &target.token, &target.repo)?;
    match api.find(target.number, marker).await? {
        Some(found) => {
            if found.body != body {
                api.update(found.id, body).await?;
            }
            Ok(true)
        }
        None => api.create(target.number, body).await.map(|_| false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::pull_request::env_of;

    #[test]
    fn no_comment_without_github_actions_a_token_or_a_pull_request() {
        let e = target(&env_of(&[]), Some(3)).err().unwrap();
        assert!(e.contains("GitHub Actions only"), "{e}");
        let e = target(&env_of(&[("GITHUB_ACTIONS", "true")]), None)
            .err()
            .unwrap();
        assert!(e.contains("GITHUB_TOKEN is not set"), "{e}");
        let comment_event = env_of(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_TOKEN", "t"),
            ("GITHUB_REPOSITORY", "acme/dbt"),
            ("GITHUB_EVENT_NAME", "issue_comment"),
        ]);
        let e = target(&comment_event, None).err().unwrap();
        assert!(
            e.contains("\"issue_comment\" event, not a pull request"),
            "{e}"
        );
        assert!(e.ends_with("or pass it with --pull-request N"), "{e}");
        // The number the command was given wins over the event.
        let t = target(&comment_event, Some(41)).unwrap();
        assert_eq!((t.number, t.repo.as_str()), (41, "acme/dbt"));
        assert_eq!(t.api_url, "https://api.github.com");
    }
}
