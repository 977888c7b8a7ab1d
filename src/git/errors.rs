//! Everything `git/` can fail with, in the user's terms, and the one place those failures
//! become a `CliError` with exit code 5 at the edge (src/error.rs) (DESIGN.md, "Exit codes").

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not inside a git repository ({message})")]
    NotARepository { path: PathBuf, message: String },

    #[error("the repository at {path} is bare: there is no working tree to commit from")]
    Bare { path: PathBuf },

    #[error("HEAD is detached (at {at}): datachonk pushes a branch, not a bare commit")]
    DetachedHead { at: String },

    #[error("a {operation} is in progress in this repository")]
    OperationInProgress { operation: String },

    #[error("branch `{branch}` is protected (git.protected_branches: {list})")]
    ProtectedBranch { branch: String, list: String },

    #[error("{path} exists: another git process is using the index (git refuses to commit while it is there)")]
    IndexLocked { path: PathBuf },

    #[error("{refname} moved in {place} while datachonk was updating it: another push or commit got there first")]
    RefMoved { refname: String, place: String },

    #[error("push to {url} did not finish within {}", humantime::format_duration(*.limit))]
    PushTimeout {
        url: String,
        limit: std::time::Duration,
    },

    #[error("no git identity for the commit: {detail}")]
    NoIdentity { detail: String },

    #[error("cannot tell where to push branch `{branch}`: {detail}")]
    NoRemote { branch: String, detail: String },

    #[error("{path} is outside the repository's working tree {workdir}")]
    OutsideWorkdir { path: PathBuf, workdir: PathBuf },

    #[error("the remote rejected {refname} ({url}): non-fast-forward, the remote has commits this branch does not have")]
    NonFastForward { url: String, refname: String },

    #[error("the remote rejected {refname} ({url}): {reason}")]
    Rejected {
        url: String,
        refname: String,
        reason: String,
    },

    #[error("authentication to {url} failed; tried: {}", tried_text(.tried))]
    Auth {
        url: String,
        tried: Vec<String>,
        detail: String,
        /// `GIT_SSH_COMMAND` or `core.sshCommand`, when set: the git CLI would use it, libgit2 does not.
        ssh_command: Option<String>,
        is_ssh: bool,
    },

    #[error("push to {url} refused: the server's SSH host key{} is not in ~/.ssh/known_hosts or does not match the key recorded there", .fingerprint.as_ref().map(|f| format!(" ({f})")).unwrap_or_default())]
    UntrustedHostKey {
        url: String,
        fingerprint: Option<String>,
        detail: String,
    },

    #[error("push to {url} failed: {detail}")]
    Transport {
        url: String,
        detail: String,
        ssh_command: Option<String>,
        is_ssh: bool,
    },

    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{what}: {source}")]
    Git {
        what: String,
        #[source]
        source: git2::Error,
    },
}

fn tried_text(tried: &[String]) -> String {
    if tried.is_empty() {
        "nothing (the remote asked for no credential datachonk can provide)".into()
    } else {
        tried.join(", ")
    }
}

impl GitError {
    /// Wrap a libgit2 error with what datachonk was doing.
    pub fn git(what: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
        let what = what.into();
        move |source| GitError::Git { what, source }
    }
}

/// The hint for SSH users whose set-up only OpenSSH understands.
fn ssh_hints(ssh_command: &Option<String>, is_ssh: bool) -> Vec<String> {
    let mut hints = Vec::new();
    if let Some(cmd) = ssh_command {
        hints.push(format!(
            "your git is configured to push over `{cmd}` (GIT_SSH_COMMAND or core.sshCommand); the git CLI uses it, \
             but datachonk pushes with libgit2/libssh2, which does not"
        ));
    }
    if is_ssh {
        hints.push(
            "datachonk's SSH does not read ~/.ssh/config (Host aliases, IdentityFile, ProxyJump): load the key \
             into ssh-agent (`ssh-add KEY`), or use the real host name in the remote URL"
                .into(),
        );
    }
    hints
}

impl GitError {
    /// What the person can do about it, in order (the CLI prints them as hints).
    pub fn hints(&self) -> Vec<String> {
        let s = |t: &str| vec![t.to_string()];
        match self {
            GitError::DetachedHead { .. } => s("check out a branch first: git switch -c my-branch"),
            GitError::OperationInProgress { .. } => {
                s("finish or abort it first (git status says how), then rerun")
            }
            GitError::ProtectedBranch { .. } => s(
                "work on a feature branch (git switch -c my-branch), or pass --allow-protected",
            ),
            GitError::IndexLocked { path } => vec![
                "wait for the other git process (an editor's git integration, git gc) to finish, then rerun".to_string(),
                format!(
                    "if no git process is running, a crashed one left the lock behind: rm '{}'",
                    path.display()
                ),
            ],
            GitError::RefMoved { .. } => s(
                "nothing was lost: rerun datachonk push (pull first if the other push came from elsewhere)",
            ),
            GitError::PushTimeout { .. } => s(
                "the server accepted the connection but did not answer in time; check the remote (git ls-remote), \
                 or raise git.push_timeout in datachonk.yaml",
            ),
            GitError::NoIdentity { .. } => vec![
                "git config --global user.name \"Your Name\"".to_string(),
                "git config --global user.email you@example.com".to_string(),
            ],
            GitError::NoRemote { .. } => s(
                "pass --remote NAME (and --branch NAME), or set an upstream: git branch --set-upstream-to REMOTE/BRANCH",
            ),
            GitError::NonFastForward { .. } => {
                s("pull and rebase (git pull --rebase), then rerun datachonk push")
            }
            GitError::Auth {
                ssh_command,
                is_ssh,
                detail,
                ..
            } => {
                let mut hints = vec![format!("libgit2 said: {detail}")];
                if !is_ssh {
                    hints.push(
                        "for HTTPS, configure a git credential helper (git config credential.helper ...) that knows this host"
                            .to_string(),
                    );
                }
                hints.extend(ssh_hints(ssh_command, *is_ssh));
                hints
            }
            GitError::UntrustedHostKey { detail, .. } => vec![
                format!("libgit2 said: {detail}"),
                "datachonk never accepts an unknown host key: check the fingerprint with the server's owner, \
                 then connect once with `ssh` and accept it (that records it in ~/.ssh/known_hosts)"
                    .to_string(),
            ],
            GitError::Transport {
                ssh_command,
                is_ssh,
                ..
            } => ssh_hints(ssh_command, *is_ssh),
            _ => Vec::new(),
        }
    }
}

// The edge's mapping (exit code 5); it belongs in src/error.rs beside the other layers' (issue
// 25 §2), which another helper edits this session: the lead moves these lines at the merge.
