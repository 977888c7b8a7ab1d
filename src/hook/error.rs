//! What can go wrong in the hook layer (git, the hooks folder, a merge not yet pushed), and
//! the repository the hook runs in.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("not in a git repository ({0})")]
    NoRepository(String),
    #[error("git: {what}: {message}")]
    Git { what: String, message: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is a {kind} hook datachonk did not install")]
    Foreign { path: PathBuf, kind: &'static str },
    #[error("{path} already exists; move it away first")]
    InTheWay { path: PathBuf },
    #[error("{sha} is not on any remote yet (no remote-tracking branch contains it)")]
    NotPushed { sha: String, branch: Option<String> },
}

impl HookError {
    pub(crate) fn git(what: impl Into<String>) -> impl FnOnce(git2::Error) -> HookError {
        let what = what.into();
        move |e| HookError::Git {
            what,
            message: e.message().to_string(),
        }
    }

    pub(crate) fn io(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> HookError {
        let path = path.to_path_buf();
        move |source| HookError::Io { what, path, source }
    }
}

/// The repository git is running the hook in (`GIT_DIR` when git set it), or the one around
/// the current directory.
pub fn open_repository() -> Result<git2::Repository, HookError> {
    git2::Repository::open_from_env().map_err(|e| HookError::NoRepository(e.message().to_string()))
}
