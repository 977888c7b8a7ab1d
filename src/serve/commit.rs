//! The commit a run validates: what the page offers (the local repository's branch and its
//! pushed head) and the checks on what a request asks for, before dbt Cloud sees it.

use std::path::Path;

use serde::Serialize;

use crate::git::repo;

use super::errors::ServeError;

/// The branch serve's repository is on and the commit its upstream holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalCommit {
    /// The branch as the remote knows it (the upstream's name, else the local one).
    pub branch: String,
    /// The upstream's commit: the pushed head, the newest commit dbt Cloud can check out.
    /// `None` when the branch was never pushed.
    pub sha: Option<String>,
}

/// Read at each look (a push while serve runs moves it). `None` outside a repository or on a
/// detached HEAD: the page then leaves the fields empty (the job's own branch).
pub fn local(dir: &Path) -> Option<LocalCommit> {
    let git = repo::open(dir).ok()?;
    let current = repo::current_branch(&git).ok()?;
    // The remote-tracking ref: the configured upstream, else origin's branch of that name.
    let tracking = git
        .branch_upstream_name(&current.refname)
        .ok()
        .and_then(|b| b.as_str().ok().map(str::to_string))
        .or_else(|| Some(format!("refs/remotes/origin/{}", current.name)));
    let sha = tracking
        .and_then(|r| git.refname_to_id(&r).ok())
        .map(|oid| oid.to_string());
    let branch = git
        .branch_upstream_merge(&current.refname)
        .ok()
        .and_then(|m| m.as_str().ok().map(str::to_string))
        .and_then(|m| m.strip_prefix("refs/heads/").map(str::to_string))
        .unwrap_or(current.name);
    Some(LocalCommit { branch, sha })
}

/// A commit sha: 7 to 40 hexadecimal digits (git's shortest abbreviation to a full sha-1).
pub fn check_sha(sha: &str) -> Result<(), ServeError> {
    let fine = (7..=40).contains(&sha.len()) && sha.chars().all(|c| c.is_ascii_hexdigit());
    if fine {
        return Ok(());
    }
    Err(ServeError::bad_request(format!(
        "git_sha {:?} is not a commit sha (7 to 40 hexadecimal digits)",
        shorten(sha)
    ))
    .hint("git rev-parse HEAD prints the full sha of the commit checked out"))
}

/// A branch name git accepts (`git check-ref-format --branch`): no spaces, `..`, `~^:?*[\`,
/// control characters, leading `-` or `/`, trailing `.lock`, …
pub fn check_branch(branch: &str) -> Result<(), ServeError> {
    let fine =
        !branch.starts_with('-') && git2::Reference::is_valid_name(&format!("refs/heads/{branch}"));
    if fine {
        return Ok(());
    }
    Err(ServeError::bad_request(format!(
        "git_branch {:?} is not a valid branch name",
        shorten(branch)
    ))
    .hint(
        "a branch name has no spaces, `..`, `~ ^ : ? * [ \\`, and does not end in `.lock` or `/`",
    ))
}

/// At most 80 characters of what was sent, for the message.
fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with two commits on its branch, the first one "pushed": the
    /// remote-tracking ref `refs/remotes/origin/<remote_branch>` points at it.
    fn repository(upstream: Option<&str>) -> (tempfile::TempDir, git2::Oid, git2::Oid) {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("Test", "test@example.com").unwrap();
        let tree = repo
            .find_tree(repo.index().unwrap().write_tree().unwrap())
            .unwrap();
        let first = repo
            .commit(Some("HEAD"), &sig, &sig, "one", &tree, &[])
            .unwrap();
        let parent = repo.find_commit(first).unwrap();
        let second = repo
            .commit(Some("HEAD"), &sig, &sig, "two", &tree, &[&parent])
            .unwrap();
        let head = repo.head().unwrap().shorthand().unwrap().to_string();
        if let Some(remote_branch) = upstream {
            repo.remote("origin", "file:///nowhere").unwrap();
            let tracking = format!("refs/remotes/origin/{remote_branch}");
            repo.reference(&tracking, first, true, "test").unwrap();
            let mut config = repo.config().unwrap();
            config
                .set_str(&format!("branch.{head}.remote"), "origin")
                .unwrap();
            config
                .set_str(
                    &format!("branch.{head}.merge"),
                    &format!("refs/heads/{remote_branch}"),
                )
                .unwrap();
        }
        (dir, first, second)
    }

    #[test]
    fn the_commit_offered_is_the_upstreams_under_the_remotes_branch_name() {
        let (dir, pushed, head) = repository(Some("feature/x"));
        let offered = local(dir.path()).expect("a repository on a branch");
        assert_eq!(offered.branch, "feature/x");
        assert_eq!(offered.sha, Some(pushed.to_string()), "not HEAD ({head})");
    }

    #[test]
    fn a_branch_never_pushed_is_offered_without_a_sha_and_no_repository_offers_nothing() {
        let (dir, _, _) = repository(None);
        let offered = local(dir.path()).expect("a repository on a branch");
        assert_eq!(offered.sha, None);
        assert!(!offered.branch.is_empty());
        let plain = tempfile::tempdir().unwrap();
        std::fs::create_dir(plain.path().join(".git")).unwrap();
        assert_eq!(local(plain.path()), None);
    }

    #[test]
    fn a_sha_is_7_to_40_hex_digits() {
        assert!(check_sha("8b04de1").is_ok());
        assert!(check_sha(&"a".repeat(40)).is_ok());
        assert!(check_sha("8b04de").is_err());
        assert!(check_sha(&"a".repeat(41)).is_err());
        assert!(check_sha("8b04deg").is_err());
        let e = check_sha("main").unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("7 to 40"), "{}", e.message);
    }

    #[test]
    fn a_branch_is_a_name_git_accepts() {
        for good in ["main", "feature/orders-amount", "release-1.2", "dc/x_y"] {
            assert!(check_branch(good).is_ok(), "{good}");
        }
        for bad in [
            "", "a b", "a..b", "-x", "x.lock", "x/", "a~1", "a^", "a:b", "a\nb", "@{x",
        ] {
            assert!(check_branch(bad).is_err(), "{bad:?}");
        }
    }
}
