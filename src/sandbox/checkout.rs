//! Step 1 of a live run, "Clone Git Repository": clone the job's repository and check out the
//! requested commit, failing the way dbt Cloud does when the sha or branch is not there.
//!
//! This uses the `git` CLI rather than a git library on purpose: wherever there is a git
//! repository to clone there is a `git` executable, it already knows the user's transports and
//! credential helpers (ssh config, `insteadOf`, askpass), its messages are the ones dbt Cloud's
//! logs show (`Cloning into '...'`), and a subprocess can be killed when the run is cancelled —
//! an in-process clone cannot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::child::{self as process, Ending, SpawnError};

/// What to check out.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    /// A git URL or a path (relative paths resolve against the sandbox's working directory).
    pub repository: &'a str,
    /// Where the clone goes (must not exist yet).
    pub dest: &'a Path,
    /// The trigger's `git_sha`.
    pub sha: Option<&'a str>,
    /// The trigger's `git_branch`, else the environment's `custom_branch`.
    pub branch: Option<&'a str>,
}

/// A successful checkout.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// The full sha checked out.
    pub sha: String,
    /// The branch it was taken from (the remote's default branch when none was asked for).
    pub branch: Option<String>,
    /// The step's log, git's own words included.
    pub log: String,
}

/// Why step 1 failed; `log` is the step's log so far either way.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("Failed to clone repository {repository}: {reason}")]
    Clone {
        repository: String,
        reason: String,
        log: String,
    },
    #[error("Failed to check out git sha {sha}: the commit was not found in {repository}.")]
    CommitNotFound {
        sha: String,
        repository: String,
        log: String,
    },
    #[error("Failed to check out branch {branch}: the branch was not found in {repository}.")]
    BranchNotFound {
        branch: String,
        repository: String,
        log: String,
    },
    #[error("{0}")]
    Spawn(SpawnError, String),
    #[error("Cancelled while cloning.")]
    Stopped { log: String, ending: Ending },
}

impl CheckoutError {
    pub fn log(&self) -> &str {
        match self {
            CheckoutError::Clone { log, .. }
            | CheckoutError::CommitNotFound { log, .. }
            | CheckoutError::BranchNotFound { log, .. }
            | CheckoutError::Stopped { log, .. }
            | CheckoutError::Spawn(_, log) => log,
        }
    }
}

/// A relative local path becomes absolute (git runs in another directory); URLs and
/// `host:path` remotes are left alone.
pub fn resolve_repository(repository: &str) -> String {
    let looks_remote = repository.contains("://")
        || repository
            .split_once(':')
            .is_some_and(|(host, _)| !host.contains('/') && host.len() > 1);
    if looks_remote {
        return repository.to_string();
    }
    std::path::absolute(repository)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| repository.to_string())
}

struct Git<'a> {
    cwd: PathBuf,
    cancelled: &'a dyn Fn() -> bool,
    deadline: Option<Instant>,
    log: String,
}

impl Git<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&self.cwd)
            // A run has no terminal: never wait for a password prompt.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "true")
            .env("LC_ALL", "C");
        cmd
    }

    /// Run git; its stderr goes to the log when `logged`. `Ok(None)`: git said no.
    fn run(
        &mut self,
        args: &[&str],
        logged: bool,
    ) -> Result<Result<String, String>, CheckoutError> {
        let out = process::run(self.command(args), self.cancelled, self.deadline)
            .map_err(|e| CheckoutError::Spawn(e, self.log.clone()))?;
        if logged {
            self.log.push_str(&out.stderr);
        }
        match out.ending {
            Ending::Exited(s) if s.success() => Ok(Ok(out.stdout.trim().to_string())),
            Ending::Exited(_) => Ok(Err(out.stderr.trim().to_string())),
            ending => Err(CheckoutError::Stopped {
                log: self.log.clone(),
                ending,
            }),
        }
    }

    /// The commit `rev` names, if any (`--verify --quiet`: no noise for a miss).
    fn commit(&mut self, rev: &str) -> Result<Option<String>, CheckoutError> {
        let spec = format!("{rev}^{{commit}}");
        Ok(self
            .run(&["rev-parse", "--verify", "--quiet", &spec], false)?
            .ok())
    }
}

/// A sha as dbt Cloud accepts it: 4 to 64 hex digits (so it can never be taken for an option).
fn is_sha(s: &str) -> bool {
    (4..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Clone and check out. `cancelled` and `deadline` stop git the way they stop dbt.
pub fn checkout(
    req: &CheckoutRequest<'_>,
    cancelled: &dyn Fn() -> bool,
    deadline: Option<Instant>,
) -> Result<Checkout, CheckoutError> {
    let repository = resolve_repository(req.repository);
    let parent = req.dest.parent().unwrap_or(Path::new("/")).to_path_buf();
    let dest = req.dest.display().to_string();
    let mut git = Git {
        cwd: parent,
        cancelled,
        deadline,
        log: String::new(),
    };
    // `--no-checkout`: the worktree is written once, at the requested commit. `--progress` off
    // (no terminal) keeps the log to git's "Cloning into '...'" line and any error.
    if let Err(reason) = git.run(&["clone", "--no-checkout", "--", &repository, &dest], true)? {
        return Err(CheckoutError::Clone {
            repository,
            reason: reason
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("git clone failed")
                .to_string(),
            log: git.log,
        });
    }
    git.cwd = req.dest.to_path_buf();

    let not_found_sha = |git: &mut Git<'_>, sha: &str| {
        git.log
            .push_str(&format!("fatal: reference is not a tree: {sha}\n"));
        CheckoutError::CommitNotFound {
            sha: sha.to_string(),
            repository: repository.clone(),
            log: git.log.clone(),
        }
    };
    let branch_head = |git: &mut Git<'_>, branch: &str| -> Result<String, CheckoutError> {
        let valid = !branch.starts_with('-')
            && git
                .run(&["check-ref-format", "--branch", branch], false)?
                .is_ok();
        let head = if valid {
            git.commit(&format!("refs/remotes/origin/{branch}"))?
        } else {
            None
        };
        head.ok_or_else(|| {
            git.log.push_str(&format!(
                "fatal: Remote branch {branch} not found in upstream origin\n"
            ));
            CheckoutError::BranchNotFound {
                branch: branch.to_string(),
                repository: repository.clone(),
                log: git.log.clone(),
            }
        })
    };

    let (sha, branch) = match (req.sha, req.branch) {
        (Some(sha), branch) => {
            if let Some(b) = branch {
                branch_head(&mut git, b)?;
            }
            let found = if is_sha(sha) { git.commit(sha)? } else { None };
            match found {
                Some(full) => (full, branch.map(str::to_string)),
                None => return Err(not_found_sha(&mut git, sha)),
            }
        }
        (None, Some(b)) => (branch_head(&mut git, b)?, Some(b.to_string())),
        (None, None) => {
            let head = git.commit("HEAD")?.ok_or_else(|| CheckoutError::Clone {
                repository: repository.clone(),
                reason: "the repository has no commits".into(),
                log: git.log.clone(),
            })?;
            let name = git.run(&["symbolic-ref", "--short", "HEAD"], false)?.ok();
            (head, name)
        }
    };
    git.log.push_str(&format!("Checking out to {sha}...\n"));
    if let Err(reason) = git.run(
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "--quiet",
            "--detach",
            &sha,
        ],
        true,
    )? {
        return Err(CheckoutError::Clone {
            repository,
            reason,
            log: git.log,
        });
    }
    git.log.push_str("Successfully checked out.\n");
    Ok(Checkout {
        sha,
        branch,
        log: git.log,
    })
}
