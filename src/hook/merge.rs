//! What a merge is about to bring in, and whether the remote has it: the git half of
//! `hook run pre-merge-commit` (no network).
//!
//! git (2.47 at least) runs pre-merge-commit *before* writing `MERGE_HEAD`; what it does
//! export is one `GITHEAD_<sha>=<name as typed>` variable per merged head (for
//! merge-recursive's conflict labels). Both are read: `MERGE_HEAD` first (other tools, the
//! pre-commit framework run by hand), else those variables.

use git2::{Oid, Repository};

use super::error::HookError;

/// One commit being merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeHead {
    pub sha: String,
    /// The name the user merged (`feature/x`, `origin/feature/x`), when known.
    pub given_name: Option<String>,
}

/// The heads being merged: from `MERGE_HEAD`, else `GITHEAD_*` variables; empty when no merge
/// is in progress.
pub fn merge_heads(
    repo: &Repository,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<MergeHead>, HookError> {
    let mut heads = Vec::new();
    let merge_head = repo.path().join("MERGE_HEAD");
    if let Ok(text) = std::fs::read_to_string(&merge_head) {
        let message = std::fs::read_to_string(repo.path().join("MERGE_MSG")).unwrap_or_default();
        let name = branch_from_merge_msg(&message);
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            heads.push(MergeHead {
                sha: line.to_string(),
                given_name: name.clone(),
            });
        }
        return Ok(heads);
    }
    for (key, value) in env {
        let Some(sha) = key.strip_prefix("GITHEAD_") else {
            continue;
        };
        if Oid::from_str(sha).is_err() || sha.len() < 40 {
            continue;
        }
        // `git pull` labels heads "branch 'x' of URL": not a name to show or push.
        let given = (!value.is_empty() && value != sha && !value.contains(char::is_whitespace))
            .then_some(value);
        heads.push(MergeHead {
            sha: sha.to_ascii_lowercase(),
            given_name: given,
        });
    }
    heads.sort_by(|a, b| a.sha.cmp(&b.sha));
    Ok(heads)
}

/// `Merge branch 'x'` / `Merge remote-tracking branch 'origin/x'` → `x` / `origin/x`.
fn branch_from_merge_msg(message: &str) -> Option<String> {
    let first = message.lines().next()?;
    let rest = first
        .strip_prefix("Merge branch '")
        .or_else(|| first.strip_prefix("Merge remote-tracking branch '"))?;
    rest.split('\'').next().map(str::to_string)
}

/// The remote-tracking refs (`refs/remotes/*`, except symbolic `HEAD`s) and their tips.
fn remote_tips(repo: &Repository) -> Result<Vec<(String, Oid)>, HookError> {
    let mut out = Vec::new();
    let refs = repo
        .references_glob("refs/remotes/*")
        .map_err(HookError::git("cannot list remote-tracking branches"))?;
    for r in refs.flatten() {
        let (Ok(name), Some(target)) = (r.name(), r.target()) else {
            continue; // symbolic (origin/HEAD)
        };
        out.push((name.to_string(), target));
    }
    Ok(out)
}

/// Where the sha is on the remote: the branch name whose tip it is, or just "contained".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnRemote {
    /// The branch (without `refs/remotes/<remote>/`) whose tip is exactly the sha.
    pub branch_at_tip: Option<String>,
}

/// Whether some remote-tracking branch is at `sha` or contains it (as of the last fetch or
/// push; no network). The caller names the branch to push when not.
pub fn on_remote(repo: &Repository, head: &MergeHead) -> Result<OnRemote, HookError> {
    let oid = Oid::from_str(&head.sha).map_err(HookError::git(format!("bad sha {}", head.sha)))?;
    let tips = remote_tips(repo)?;
    let at_tip: Vec<&String> = tips
        .iter()
        .filter(|(_, t)| *t == oid)
        .map(|(n, _)| n)
        .collect();
    if !at_tip.is_empty() {
        // Prefer the branch the user named, else the first in ref order.
        let short = |n: &str| strip_remote(repo, n);
        let wanted = head.given_name.as_deref().map(|g| local_name(repo, g));
        let chosen = at_tip
            .iter()
            .map(|n| short(n))
            .find(|s| Some(s.as_str()) == wanted.as_deref())
            .unwrap_or_else(|| short(at_tip[0]));
        return Ok(OnRemote {
            branch_at_tip: Some(chosen),
        });
    }
    for (_, tip) in &tips {
        if repo
            .graph_descendant_of(*tip, oid)
            .map_err(HookError::git("cannot walk the history"))?
        {
            return Ok(OnRemote {
                branch_at_tip: None,
            });
        }
    }
    Err(HookError::NotPushed {
        sha: head.sha.clone(),
        branch: head.given_name.as_deref().map(|g| local_name(repo, g)),
    })
}

/// `refs/remotes/origin/feature/x` → `feature/x`.
fn strip_remote(repo: &Repository, refname: &str) -> String {
    let rest = refname.strip_prefix("refs/remotes/").unwrap_or(refname);
    local_name(repo, rest)
}

/// `origin/feature/x` → `feature/x` when `origin` is a remote; other names unchanged.
fn local_name(repo: &Repository, name: &str) -> String {
    if let Ok(remotes) = repo.remotes() {
        for remote in remotes.iter().flatten().flatten() {
            if let Some(rest) = name.strip_prefix(&format!("{remote}/")) {
                return rest.to_string();
            }
        }
    }
    name.to_string()
}

/// The branch to name in the trigger's cause: a remote-tracking branch at the sha, else the
/// name the user merged (without its remote), else none.
pub fn branch_name(repo: &Repository, head: &MergeHead, found: &OnRemote) -> Option<String> {
    found
        .branch_at_tip
        .clone()
        .or_else(|| head.given_name.as_deref().map(|g| local_name(repo, g)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githead_variables_name_the_merged_heads_when_merge_head_is_not_written_yet() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let env = vec![
            ("PATH".to_string(), "/bin".to_string()),
            (format!("GITHEAD_{b}"), "origin/feature/x".to_string()),
            (format!("GITHEAD_{a}"), a.clone()),
            ("GITHEAD_nothex".to_string(), "y".to_string()),
            (
                format!("GITHEAD_{}", "c".repeat(40)),
                "branch 'main' of /srv/r".to_string(),
            ),
        ];
        let heads = merge_heads(&repo, env).unwrap();
        let names: Vec<_> = heads
            .iter()
            .map(|h| (h.sha.chars().next().unwrap(), h.given_name.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                ('a', None),
                ('b', Some("origin/feature/x".into())),
                ('c', None)
            ]
        );
        // MERGE_HEAD, when present, wins.
        std::fs::write(repo.path().join("MERGE_HEAD"), format!("{a}\n")).unwrap();
        std::fs::write(repo.path().join("MERGE_MSG"), "Merge branch 'topic'\n").unwrap();
        let heads = merge_heads(&repo, Vec::new()).unwrap();
        assert_eq!(
            heads,
            vec![MergeHead {
                sha: a,
                given_name: Some("topic".into())
            }]
        );
    }

    #[test]
    fn merge_msg_names_the_branch() {
        assert_eq!(
            branch_from_merge_msg("Merge branch 'feature/x'\n\n# comment"),
            Some("feature/x".into())
        );
        assert_eq!(
            branch_from_merge_msg("Merge remote-tracking branch 'origin/y' into main"),
            Some("origin/y".into())
        );
        assert_eq!(branch_from_merge_msg("Merge commit 'abc'"), None);
    }
}
