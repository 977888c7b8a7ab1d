//! Pushing the current branch: where to (its upstream, or `<remote>/<branch>` given or
//! defaulted, then recorded as the upstream), never forced, with every ref update the
//! remote reports checked — `Remote::push` returns Ok even when the server rejected the
//! ref, which only `push_update_reference` tells.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use git2::{
    CertificateCheckStatus, Oid, PackBuilderStage, PushOptions, RemoteCallbacks, Repository,
};

use super::credentials::Attempts;
use super::errors::GitError;
use super::repo::CurrentBranch;
use super::url::{is_local_url, is_ssh_url};
use super::whole_objects;

/// Where the branch goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// Remote name, e.g. `origin`.
    pub remote: String,
    /// Its push URL, for messages: a password or token in it is replaced by `***`.
    pub url: String,
    /// Branch name on the remote.
    pub branch: String,
    /// Record `remote`/`branch` as the upstream after a successful push.
    pub set_upstream: bool,
}

impl PushTarget {
    /// `refs/heads/<branch>` on the remote.
    pub fn refname(&self) -> String {
        format!("refs/heads/{}", self.branch)
    }

    /// `local:remote` without a leading `+`: the remote refuses anything but a fast-forward.
    pub fn refspec(&self, local_refname: &str) -> String {
        format!("{local_refname}:{}", self.refname())
    }

    pub fn is_ssh(&self) -> bool {
        is_ssh_url(&self.url)
    }
}

/// The branch's upstream, unless `--remote`/`--branch` say otherwise; without an upstream,
/// `origin` (or the only remote) and the same branch name.
pub fn resolve_target(
    repo: &Repository,
    current: &CurrentBranch,
    remote_flag: Option<&str>,
    branch_flag: Option<&str>,
) -> Result<PushTarget, GitError> {
    let upstream = upstream_of(repo, &current.refname);
    let (remote, branch) = match (remote_flag, branch_flag, &upstream) {
        (None, None, Some((r, b))) => (r.clone(), b.clone()),
        _ => {
            let remote = match remote_flag {
                Some(r) => r.to_string(),
                None => match &upstream {
                    Some((r, _)) => r.clone(),
                    None => default_remote(repo, &current.name)?,
                },
            };
            let branch = branch_flag.unwrap_or(&current.name).to_string();
            (remote, branch)
        }
    };
    let found = repo.find_remote(&remote).map_err(|_| GitError::NoRemote {
        branch: current.name.clone(),
        detail: format!(
            "there is no remote named `{remote}` ({})",
            remotes_text(repo)
        ),
    })?;
    let url = redact_url(match found.pushurl() {
        Ok(Some(u)) => u,
        _ => found.url().unwrap_or_default(),
    });
    let set_upstream = upstream.as_ref() != Some(&(remote.clone(), branch.clone()));
    Ok(PushTarget {
        remote,
        url,
        branch,
        set_upstream,
    })
}

/// (remote, branch) of `branch.<name>.remote`/`.merge`, when set to a real remote.
fn upstream_of(repo: &Repository, refname: &str) -> Option<(String, String)> {
    let remote = repo.branch_upstream_remote(refname).ok()?;
    let remote = remote.as_str().ok()?.to_string();
    let merge = repo.branch_upstream_merge(refname).ok()?;
    let branch = merge
        .as_str()
        .ok()?
        .strip_prefix("refs/heads/")?
        .to_string();
    (remote != ".").then_some((remote, branch))
}

fn default_remote(repo: &Repository, branch: &str) -> Result<String, GitError> {
    let names = remote_names(repo);
    if names.iter().any(|n| n == "origin") {
        return Ok("origin".into());
    }
    match names.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(GitError::NoRemote {
            branch: branch.into(),
            detail: "the repository has no remote (git remote add origin URL)".into(),
        }),
        _ => Err(GitError::NoRemote {
            branch: branch.into(),
            detail: format!(
                "it has no upstream and there is no `origin` among the remotes ({})",
                names.join(", ")
            ),
        }),
    }
}

fn remote_names(repo: &Repository) -> Vec<String> {
    repo.remotes()
        .map(|a| a.iter().flatten().flatten().map(str::to_string).collect())
        .unwrap_or_default()
}

fn remotes_text(repo: &Repository) -> String {
    let names = remote_names(repo);
    if names.is_empty() {
        "the repository has no remotes".into()
    } else {
        format!("remotes: {}", names.join(", "))
    }
}

/// What a successful push did.
#[derive(Debug, Clone)]
pub struct PushOutcome {
    /// The remote ref moved (false: it already pointed at the commit).
    pub updated: bool,
    /// The remote ref before the push, when it existed.
    pub old: Option<Oid>,
    /// When each stage of the push was first seen, from the start (for `-v`).
    pub stages: Vec<(&'static str, Duration)>,
}

/// Record the first time each stage shows up.
fn mark(stages: &RefCell<Vec<(&'static str, Duration)>>, started: Instant, name: &'static str) {
    let mut stages = stages.borrow_mut();
    if stages.last().map(|(n, _)| *n) != Some(name) {
        stages.push((name, started.elapsed()));
    }
}

/// Push `local_refname` to `target` within `limit`. Auth, transport and per-ref rejections
/// are errors, and so is a push still running at the deadline.
///
/// libgit2 has no deadline of its own (its server timeouts bound one connect or one read, and
/// libssh2 ignores them), so the push runs on its own thread and this one stops waiting at the
/// deadline. The abandoned thread ends with the process, which exits right after reporting.
pub fn push(
    repo: &Repository,
    target: &PushTarget,
    local_refname: &str,
    local_head: Oid,
    limit: Duration,
) -> Result<PushOutcome, GitError> {
    set_server_timeouts(limit);
    let git_dir = repo.path().to_path_buf();
    let (owned_target, refname) = (target.clone(), local_refname.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("push".into())
        .spawn(move || {
            // FROM_ENV as `repo::open` does: GIT_CONFIG_GLOBAL and friends hold credential
            // helpers and must be read the same way on this thread.
            let result = Repository::open_ext(
                &git_dir,
                git2::RepositoryOpenFlags::FROM_ENV,
                std::iter::empty::<&std::ffi::OsStr>(),
            )
            .map_err(GitError::git("cannot open the repository to push"))
            .and_then(|repo| push_now(&repo, &owned_target, &refname, local_head));
            let _ = tx.send(result);
        })
        .map_err(|e| GitError::Transport {
            url: target.url.clone(),
            detail: format!("cannot start the push: {e}"),
            ssh_command: None,
            is_ssh: target.is_ssh(),
        })?;
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(GitError::PushTimeout {
            url: target.url.clone(),
            limit,
        }),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(GitError::Transport {
            url: target.url.clone(),
            detail: "the push stopped unexpectedly".into(),
            ssh_command: None,
            is_ssh: target.is_ssh(),
        }),
    }
}

/// libgit2's per-connection limits (HTTP and git://): a server that never answers gives up
/// the connect or read in time instead of blocking the push thread forever.
fn set_server_timeouts(limit: Duration) {
    let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    let connect = limit.min(Duration::from_secs(30));
    // SAFETY: these set process-wide libgit2 options; they are called before the push thread
    // starts, and no other libgit2 network operation runs concurrently in this process.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms(connect));
        let _ = git2::opts::set_server_timeout_in_milliseconds(ms(limit));
    }
}

fn push_now(
    repo: &Repository,
    target: &PushTarget,
    local_refname: &str,
    local_head: Oid,
) -> Result<PushOutcome, GitError> {
    let config = repo
        .config()
        .map_err(GitError::git("cannot read git config"))?;
    let attempts = RefCell::new(Attempts::new(config));
    let statuses: RefCell<Vec<(String, Option<String>)>> = RefCell::new(Vec::new());
    let updates: RefCell<Vec<(Oid, Oid)>> = RefCell::new(Vec::new());
    let host_key: RefCell<Option<String>> = RefCell::new(None);
    let started = Instant::now();
    let stages: RefCell<Vec<(&'static str, Duration)>> = RefCell::new(Vec::new());

    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(|url, user, allowed| attempts.borrow_mut().next(url, user, allowed));
    // libgit2 checks SSH host keys against ~/.ssh/known_hosts itself and refuses unknown or
    // changed ones; the callback only notes the key's fingerprint for that error message.
    callbacks.certificate_check(|cert, _host| {
        if let Some(sha) = cert.as_hostkey().and_then(|k| k.hash_sha256()) {
            *host_key.borrow_mut() = Some(format!("SHA256:{}", base64_unpadded(sha)));
        }
        Ok(CertificateCheckStatus::CertificatePassthrough)
    });
    callbacks.push_update_reference(|refname, status| {
        statuses
            .borrow_mut()
            .push((refname.to_string(), status.map(str::to_string)));
        Ok(())
    });
    callbacks.pack_progress(|stage, _, _| {
        let name = match stage {
            PackBuilderStage::AddingObjects => "pack: counting objects",
            PackBuilderStage::Deltafication => "pack: finding deltas",
        };
        mark(&stages, started, name);
    });
    callbacks.push_transfer_progress(|_, _, _| mark(&stages, started, "sending the pack"));
    callbacks.push_negotiation(|list| {
        mark(&stages, started, "negotiated");
        updates
            .borrow_mut()
            .extend(list.iter().map(|u| (u.src(), u.dst())));
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks);
    // 0 = one pack-building thread per core (10,000 new files are 10,000 objects to deltify
    // for a network remote; a local one gets whole objects, see `whole_objects`).
    options.packbuilder_parallelism(0);

    let undeltified = if is_local_url(&target.url) {
        Some(whole_objects::open(repo)?)
    } else {
        None
    };
    let push_repo = undeltified.as_ref().map_or(repo, |w| &w.repo);
    let mut remote = push_repo
        .find_remote(&target.remote)
        .map_err(GitError::git(format!(
            "cannot read remote `{}`",
            target.remote
        )))?;
    let refspec = target.refspec(local_refname);
    let result = remote.push(&[refspec.as_str()], Some(&mut options));
    drop(options);
    mark(&stages, started, "done");
    let attempts = attempts.into_inner();
    if let Err(e) = result {
        return Err(classify(e, target, &attempts, host_key.into_inner()));
    }
    // A rejected ref is a failure even though the transport succeeded.
    for (name, status) in statuses.into_inner() {
        if let Some(reason) = status {
            return Err(rejection(target, &name, &reason));
        }
    }
    let updates = updates.into_inner();
    let old = updates
        .first()
        .map(|(src, _)| *src)
        .filter(|o| !o.is_zero());
    let updated = updates.iter().any(|(src, dst)| src != dst) && old != Some(local_head);
    if target.set_upstream {
        set_upstream(repo, local_refname, target)?;
    }
    Ok(PushOutcome {
        updated,
        old,
        stages: stages.into_inner(),
    })
}

/// `branch.<name>.remote` and `.merge`, as `git push -u` writes them.
fn set_upstream(
    repo: &Repository,
    local_refname: &str,
    target: &PushTarget,
) -> Result<(), GitError> {
    let name = local_refname
        .strip_prefix("refs/heads/")
        .unwrap_or(local_refname);
    let mut config = repo
        .config()
        .map_err(GitError::git("cannot read git config"))?;
    config
        .set_str(&format!("branch.{name}.remote"), &target.remote)
        .and_then(|_| config.set_str(&format!("branch.{name}.merge"), &target.refname()))
        .map_err(GitError::git(format!(
            "pushed, but cannot record the upstream of {name}"
        )))
}

/// A per-ref rejection reported by the remote (`! [remote rejected]` in git's words).
fn rejection(target: &PushTarget, refname: &str, reason: &str) -> GitError {
    let r = reason.to_ascii_lowercase();
    if r.contains("non-fast-forward")
        || r.contains("fetch first")
        || r.contains("not present locally")
    {
        GitError::NonFastForward {
            url: target.url.clone(),
            refname: refname.to_string(),
        }
    } else {
        GitError::Rejected {
            url: target.url.clone(),
            refname: refname.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Turn libgit2's push error into what happened: a non-fast-forward libgit2 detected
/// itself, an authentication failure, or a transport failure.
fn classify(
    e: git2::Error,
    target: &PushTarget,
    attempts: &Attempts,
    host_key: Option<String>,
) -> GitError {
    let message = e.message().to_string();
    let lower = message.to_ascii_lowercase();
    if lower.contains("hostkey") || lower.contains("host key") {
        return GitError::UntrustedHostKey {
            url: target.url.clone(),
            fingerprint: host_key,
            detail: message,
        };
    }
    // A local remote's ref is updated in-process: losing a race to another push shows up as
    // libgit2's "reference modified" rather than a rejection.
    if e.code() == git2::ErrorCode::Modified {
        return GitError::RefMoved {
            refname: target.refname(),
            place: format!("the remote ({})", target.url),
        };
    }
    if e.code() == git2::ErrorCode::NotFastForward
        || lower.contains("not present locally")
        || lower.contains("non-fast-forward")
        || lower.contains("non-fastforward")
    {
        return GitError::NonFastForward {
            url: target.url.clone(),
            refname: target.refname(),
        };
    }
    let auth = e.code() == git2::ErrorCode::Auth
        || lower.contains("authentication")
        || lower.contains("no more credentials")
        || lower.contains("too many redirects or authentication replays")
        || (e.class() == git2::ErrorClass::Ssh && lower.contains("publickey"));
    if auth {
        return GitError::Auth {
            url: target.url.clone(),
            tried: attempts.tried.clone(),
            detail: message,
            ssh_command: ssh_command(),
            is_ssh: target.is_ssh(),
        };
    }
    GitError::Transport {
        url: target.url.clone(),
        detail: message,
        ssh_command: if target.is_ssh() { ssh_command() } else { None },
        is_ssh: target.is_ssh(),
    }
}

/// `GIT_SSH_COMMAND`, `GIT_SSH` or `core.sshCommand`, as the git CLI would use them.
fn ssh_command() -> Option<String> {
    for var in ["GIT_SSH_COMMAND", "GIT_SSH"] {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            return Some(format!("{var}={v}"));
        }
    }
    git2::Config::open_default()
        .and_then(|c| c.get_string("core.sshCommand"))
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| format!("core.sshCommand={v}"))
}

/// Base64 without padding, as OpenSSH prints key fingerprints (`SHA256:…`).
fn base64_unpadded(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// `url` with the password of its userinfo (`https://user:TOKEN@host/…`, a common way to
/// hand a token to git in CI) replaced by `***`, so messages and JSON never carry it.
pub fn redact_url(url: &str) -> String {
    crate::redact::url_keeping_user(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losing_a_race_for_the_remote_ref_says_so_in_words() {
        let target = PushTarget {
            remote: "origin".into(),
            url: "file:///srv/analytics.git".into(),
            branch: "feature/x".into(),
            set_upstream: false,
        };
        let e = git2::Error::new(
            git2::ErrorCode::Modified,
            git2::ErrorClass::Reference,
            "old reference value does not match",
        );
        let err = classify(
            e,
            &target,
            &Attempts::new(git2::Config::new().unwrap()),
            None,
        );
        let text = err.to_string();
        assert!(
            text.contains("refs/heads/feature/x moved in the remote")
                && text.contains("another push or commit got there first"),
            "{text}"
        );
        assert!(!text.contains("class="), "{text}");
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("https://ci:tok3n-value@git.example.com/a/b.git"),
            "https://ci:***@git.example.com/a/b.git"
        );
        assert_eq!(
            redact_url("http://u:p%40ss@127.0.0.1:8080/r.git"),
            "http://u:***@127.0.0.1:8080/r.git"
        );
        for kept in [
            "https://git.example.com/a/b.git",
            "ssh://git@github.com/a/b.git",
            "git@github.com:a/b.git",
            "/tmp/r.git",
            "https://host/path/with@sign.git",
        ] {
            assert_eq!(redact_url(kept), kept);
        }
    }

    #[test]
    fn fingerprints_are_unpadded_base64() {
        assert_eq!(base64_unpadded(b"Man"), "TWFu");
        assert_eq!(base64_unpadded(b"Ma"), "TWE");
        assert_eq!(base64_unpadded(b"M"), "TQ");
    }
}
