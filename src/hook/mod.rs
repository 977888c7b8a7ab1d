//! Git hook integration: installing datachonk's hook scripts ([`install`]), finding what a
//! merge is about to bring in ([`merge`]) and checking generated files before a push
//! ([`prepush`]). Nothing here talks to dbt Cloud: `commands/hook.rs` composes these with the
//! client.

pub mod install;
pub mod merge;
pub mod prepush;

use std::path::PathBuf;

/// The hooks datachonk can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum HookKind {
    /// Validate the branch being merged with the dbt Cloud job before the merge commit.
    PreMergeCommit,
    /// Check configuration and generated files (no network) before a push.
    PrePush,
}

impl HookKind {
    pub const ALL: [HookKind; 2] = [HookKind::PreMergeCommit, HookKind::PrePush];

    /// The hook's file name, as git knows it.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::PreMergeCommit => "pre-merge-commit",
            HookKind::PrePush => "pre-push",
        }
    }
}

/// `DATACHONK_SKIP_HOOK=1` (any value but empty or `0`) skips `hook run`.
pub const SKIP_VAR: &str = "DATACHONK_SKIP_HOOK";

pub fn skip_requested() -> bool {
    std::env::var_os(SKIP_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

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
