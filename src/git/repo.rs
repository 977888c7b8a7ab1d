//! Finding the repository and checking it is in a state datachonk may commit and push from:
//! a working tree, on a branch (not detached), with no merge, rebase or cherry-pick underway.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, RepositoryOpenFlags, RepositoryState};

use super::errors::GitError;

/// The branch HEAD points at.
#[derive(Debug, Clone)]
pub struct CurrentBranch {
    /// Short name, e.g. `feature/x`.
    pub name: String,
    /// Full ref name, e.g. `refs/heads/feature/x`.
    pub refname: String,
    /// `None` on an unborn branch (a repository without commits yet).
    pub head: Option<Oid>,
}

/// Open the repository containing `start`. Opened "from the environment" as the git CLI
/// does, so `GIT_DIR`, `GIT_CONFIG_GLOBAL`, `GIT_CONFIG_NOSYSTEM` and friends are honoured.
pub fn open(start: &Path) -> Result<Repository, GitError> {
    let repo = Repository::open_ext(
        start,
        RepositoryOpenFlags::FROM_ENV,
        std::iter::empty::<&OsStr>(),
    )
    .map_err(|e| GitError::NotARepository {
        path: start.to_path_buf(),
        message: e.message().to_string(),
    })?;
    if repo.is_bare() {
        return Err(GitError::Bare {
            path: repo.path().to_path_buf(),
        });
    }
    Ok(repo)
}

/// The working tree root.
pub fn workdir(repo: &Repository) -> Result<PathBuf, GitError> {
    repo.workdir()
        .map(Path::to_path_buf)
        .ok_or_else(|| GitError::Bare {
            path: repo.path().to_path_buf(),
        })
}

/// Refuse to commit in the middle of a merge, rebase, cherry-pick, revert or bisect: a commit
/// then would either record a half-done operation or be lost when it is finished.
pub fn check_clean_state(repo: &Repository) -> Result<(), GitError> {
    // git refuses to commit while another process holds the index; so does datachonk, rather
    // than write a commit behind that process's back.
    let lock = repo.path().join("index.lock");
    if lock.exists() {
        return Err(GitError::IndexLocked { path: lock });
    }
    let operation = match repo.state() {
        RepositoryState::Clean => return Ok(()),
        RepositoryState::Merge => "merge",
        RepositoryState::Revert | RepositoryState::RevertSequence => "revert",
        RepositoryState::CherryPick | RepositoryState::CherryPickSequence => "cherry-pick",
        RepositoryState::Bisect => "bisect",
        RepositoryState::Rebase
        | RepositoryState::RebaseInteractive
        | RepositoryState::RebaseMerge => "rebase",
        RepositoryState::ApplyMailbox | RepositoryState::ApplyMailboxOrRebase => "git am",
    };
    Err(GitError::OperationInProgress {
        operation: operation.to_string(),
    })
}

/// The branch HEAD is on; a detached HEAD is an error (there is nothing to push it to).
pub fn current_branch(repo: &Repository) -> Result<CurrentBranch, GitError> {
    let head = repo
        .find_reference("HEAD")
        .map_err(GitError::git("cannot read HEAD"))?;
    let Some(target) = head.symbolic_target().ok().flatten() else {
        let at = head
            .target()
            .map(|o| short_sha(&o.to_string()).to_string())
            .unwrap_or_else(|| "?".into());
        return Err(GitError::DetachedHead { at });
    };
    let refname = target.to_string();
    let Some(name) = refname.strip_prefix("refs/heads/") else {
        return Err(GitError::DetachedHead { at: refname });
    };
    let head = match repo.refname_to_id(&refname) {
        Ok(oid) => Some(oid),
        Err(e) if e.code() == git2::ErrorCode::NotFound => None,
        Err(e) => return Err(GitError::git(format!("cannot resolve {refname}"))(e)),
    };
    Ok(CurrentBranch {
        name: name.to_string(),
        refname: refname.clone(),
        head,
    })
}

/// Refuse `branch` when it matches one of `protected` (exact names; `*` globs allowed).
pub fn check_not_protected(branch: &str, protected: &[String]) -> Result<(), GitError> {
    if protected.iter().any(|p| glob_match(p, branch)) {
        return Err(GitError::ProtectedBranch {
            branch: branch.to_string(),
            list: format!("[{}]", protected.join(", ")),
        });
    }
    Ok(())
}

/// `*` matches any run of characters (including `/`), everything else literally.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The first 12 characters of a sha (what `git log --oneline` would need in a big repo).
pub fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_branches_match_exactly_or_by_glob() {
        let list = vec!["main".to_string(), "release/*".to_string()];
        assert!(check_not_protected("main", &list).is_err());
        assert!(check_not_protected("release/2024-01", &list).is_err());
        assert!(check_not_protected("mainline", &list).is_ok());
        assert!(check_not_protected("feature/main", &list).is_ok());
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXc"));
    }
}
