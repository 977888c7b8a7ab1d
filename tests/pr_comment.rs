//! `--pr-comment` (issue 24 §1): under GitHub Actions on a pull request, the verdict lands as
//! one comment, updated in place by later runs and found again by its hidden marker, against a
//! small stand-in of GitHub's issue-comment REST calls on 127.0.0.1 written here (it records
//! every request and pages its listing 100 at a time, as GitHub does). The token goes in the
//! header and never in the output; a failed comment warns and leaves the exit code alone.

mod github_support;
mod support;

use github_support::*;
use serde_json::json;
use support::*;

fn run(
    sb: &datachonk::sandbox::RunningSandbox,
    dir: &std::path::Path,
    args: &[&str],
    env: &[(String, String)],
) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = datachonk_with(sb, dir, TOKEN, args, &env);
    assert!(
        !r.stdout.contains(GITHUB_TOKEN) && !r.stderr.contains(GITHUB_TOKEN),
        "the GitHub token was printed:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    r
}

#[test]
fn one_comment_per_job_is_created_then_updated_in_place_across_pages() {
    let sb = sandbox(&[]);
    let dir = workdir();
    // 150 comments already: the second page is where datachonk's lands.
    let github = GitHub::start(150);
    let env = actions_env(dir.path(), &github.url());
    let wait_failing = ["dbt-run", "--job-id", "2", "--wait", "--pr-comment"];

    let r = run(&sb, dir.path(), &wait_failing, &env);
    assert_eq!(r.code, 1, "the run's verdict decides: {}", r.stderr);
    assert!(
        r.stderr.contains("commented on pull request #12"),
        "{}",
        r.stderr
    );
    let seen = github.seen();
    let gets: Vec<&Seen> = seen.iter().filter(|s| s.method == "GET").collect();
    assert_eq!(
        gets.iter().map(|s| s.target.as_str()).collect::<Vec<_>>(),
        [
            "/repos/acme/dbt/issues/12/comments?per_page=100",
            "/repos/acme/dbt/issues/12/comments?per_page=100&page=2"
        ],
        "every page is read before adding a comment"
    );
    let posts: Vec<&Seen> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 1, "{seen:#?}");
    for s in &seen {
        assert_eq!(s.authorization, format!("Bearer {GITHUB_TOKEN}"));
        assert_eq!(s.accept, "application/vnd.github+json");
        assert_eq!(s.api_version, "2022-11-28");
        assert!(s.user_agent.starts_with("datachonk/"), "{}", s.user_agent);
    }
    let ours = github.ours();
    assert_eq!(ours.len(), 1);
    let (id, body) = &ours[0];
    assert_eq!(
        posts[0].body,
        json!({ "body": body }),
        "the comment is sent as JSON"
    );
    assert!(
        body.starts_with("<!-- datachonk:jobs=2 -->\n### datachonk: ERROR\n"),
        "{body}"
    );
    assert!(body.contains("[run 1]("), "{body}");
    assert!(
        body.contains("| failing node | status | message |"),
        "{body}"
    );
    assert!(
        body.contains("stg_orders` | error | column \"amount\" does not exist |"),
        "{body}"
    );
    assert!(
        body.contains("`datachonk cloud runs retry 1 --wait`"),
        "{body}"
    );
    assert!(
        body.contains("[workflow run 777](https://github.example/acme/dbt/actions/runs/777)"),
        "{body}"
    );
    assert!(!body.contains(GITHUB_TOKEN) && !body.contains(TOKEN));

    // The next run of the same job updates that comment: found on page 2, patched, not added.
    let r = run(&sb, dir.path(), &wait_failing, &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("updated the comment on pull request #12"),
        "{}",
        r.stderr
    );
    let seen = github.seen();
    let patches: Vec<&Seen> = seen.iter().filter(|s| s.method == "PATCH").collect();
    assert_eq!(patches.len(), 1, "{seen:#?}");
    assert_eq!(
        patches[0].target,
        format!("/repos/acme/dbt/issues/comments/{id}")
    );
    assert_eq!(seen.iter().filter(|s| s.method == "POST").count(), 1);
    let ours = github.ours();
    assert_eq!(ours.len(), 1, "still one comment");
    assert!(
        ours[0].1.contains("[run 2]("),
        "the newer run: {}",
        ours[0].1
    );

    // Another job keeps its own comment.
    let r = run(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--wait", "--pr-comment"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ours = github.ours();
    assert_eq!(ours.len(), 2);
    assert!(
        ours[1]
            .1
            .starts_with("<!-- datachonk:jobs=1 -->\n### datachonk: SUCCESS\n"),
        "{}",
        ours[1].1
    );
    assert!(
        !ours[0].1.contains("SUCCESS"),
        "job 2's comment is untouched"
    );

    // Runs awaited with `cloud runs wait` comment the same way (job 1's comment again).
    let last = sb.runs().last().unwrap().id.to_string();
    let r = run(
        &sb,
        dir.path(),
        &["cloud", "runs", "wait", &last, "--pr-comment"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("updated the comment"), "{}", r.stderr);
    assert_eq!(github.ours().len(), 2);

    // A workflow run for another event (a "/dbt" comment on the pull request) names the pull
    // request by hand: the run is its CI run, and the comment goes to it.
    let by_hand: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| match k.as_str() {
            "GITHUB_EVENT_NAME" => (k.clone(), "issue_comment".to_string()),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let r = run(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "1",
            "--wait",
            "--pull-request",
            "12",
            "--git-sha",
            "aaaaaaa1",
            "--pr-comment",
        ],
        &by_hand,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("updated the comment on pull request #12"),
        "{}",
        r.stderr
    );
    let ours = github.ours();
    assert_eq!(ours.len(), 2);
    assert!(ours[1].1.contains("for commit `aaaaaaa1`"), "{}", ours[1].1);
}

#[test]
fn a_comment_that_cannot_be_made_warns_and_the_verdict_stands() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let github = GitHub::start(0);
    let env = actions_env(dir.path(), &github.url());
    let args = ["dbt-run", "--job-id", "2", "--wait", "--pr-comment"];

    // GitHub refuses (a fork's read-only token): a warning naming why, exit 1 as without it.
    github.state.lock().unwrap().refuse_writes = Some(403);
    let r = run(&sb, dir.path(), &args, &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("--pr-comment: cannot add the comment: GitHub answered 403 Forbidden: Resource not accessible by integration"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("pull-requests: write"), "{}", r.stderr);
    assert!(github.ours().is_empty());

    // A success stays a success when GitHub cannot be reached.
    let mut unreachable = env.clone();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for (k, v) in unreachable.iter_mut() {
        if k == "GITHUB_API_URL" {
            *v = format!("http://127.0.0.1:{port}");
        }
    }
    let r = run(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--wait", "--pr-comment"],
        &unreachable,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--pr-comment: cannot list the comments (127.0.0.1 cannot connect)"),
        "{}",
        r.stderr
    );

    // No token, or no pull request: said, nothing sent, the exit code unchanged.
    let before = github.seen().len();
    let no_token: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "GITHUB_TOKEN")
        .cloned()
        .chain([("GITHUB_TOKEN".to_string(), String::new())])
        .collect();
    let r = run(&sb, dir.path(), &args, &no_token);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--pr-comment: no comment: GITHUB_TOKEN is not set"),
        "{}",
        r.stderr
    );
    let push_event: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| {
            let v = if k == "GITHUB_EVENT_NAME" {
                "push".to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let r = run(&sb, dir.path(), &args, &push_event);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("--pr-comment: no comment: this workflow run is for a \"push\" event, not a pull request"),
        "{}",
        r.stderr
    );
    assert_eq!(github.seen().len(), before, "nothing sent");
}
