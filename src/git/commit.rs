//! The commit: the person's identity from git config (as the git CLI would use it), the
//! message from the `commit_message.txt` template, and a commit whose tree is HEAD's plus
//! the planned files (see [`super::stage`]).

use std::collections::BTreeSet;

use git2::{Oid, Repository, Signature, Tree};
use serde_json::json;

use std::io::Write;

use super::errors::GitError;
use super::stage::{self, StagePlan};
use super::whole_objects;
use crate::config::GenerateConfig;
use crate::templates::{self, TemplateError, Templates};

/// Author and committer, honouring `GIT_AUTHOR_*`/`GIT_COMMITTER_*` like the git CLI; an
/// unset identity is an error that says which key is missing (libgit2 would otherwise say
/// only "config value 'user.name' was not found").
pub fn identity(repo: &Repository) -> Result<(Signature<'static>, Signature<'static>), GitError> {
    let missing = |e: git2::Error| {
        if e.code() != git2::ErrorCode::NotFound {
            return GitError::git("cannot read the git identity")(e);
        }
        let config = repo.config().ok();
        let has = |key: &str| {
            config
                .as_ref()
                .and_then(|c| c.get_string(key).ok())
                .is_some_and(|v| !v.trim().is_empty())
        };
        let unset: Vec<&str> = ["user.name", "user.email"]
            .into_iter()
            .filter(|k| !has(k))
            .collect();
        let detail = if unset.is_empty() {
            e.message().to_string()
        } else {
            format!("{} not set in git config", unset.join(" and "))
        };
        GitError::NoIdentity { detail }
    };
    let author = repo.author_from_env().map_err(missing)?;
    let committer = repo.committer_from_env().map_err(missing)?;
    Ok((author, committer))
}

/// True when `commit.gpgsign` asks for signed commits (datachonk does not sign; the
/// command says so rather than silently producing an unsigned commit).
pub fn wants_signing(repo: &Repository) -> bool {
    repo.config()
        .and_then(|c| c.get_bool("commit.gpgsign"))
        .unwrap_or(false)
}

/// Render `commit_message.txt` for the planned files. The context is the one the README
/// documents for this template (`sources`, `files`, `summary`, `input`, `config`, `dialect`)
/// plus `models` (model names of the committed `.sql` files), `staging_only` (all of them
/// under a `staging` folder) and `count`.
pub fn render_message(
    templates: &Templates,
    config: &GenerateConfig,
    plan: &StagePlan,
) -> Result<String, TemplateError> {
    let generated: Vec<_> = plan.generated().collect();
    let sources: BTreeSet<String> = generated
        .iter()
        .filter_map(|f| source_of(&f.path))
        .collect();
    let models: Vec<String> = generated
        .iter()
        .filter(|f| f.path.ends_with(".sql"))
        .filter_map(|f| f.path.rsplit('/').next())
        .map(|name| name.trim_end_matches(".sql").to_string())
        .collect();
    // "staging models" only when they are (marts from the spec are models too, not staging).
    let staging_only = generated
        .iter()
        .filter(|f| f.path.ends_with(".sql"))
        .all(|f| f.path.split('/').any(|dir| dir == "staging"));
    let files: Vec<_> = generated
        .iter()
        .map(|f| json!({ "path": f.path, "status": f.change.label() }))
        .collect();
    let new = generated
        .iter()
        .filter(|f| f.change == stage::Change::New)
        .count();
    let edited = plan
        .left_out
        .iter()
        .filter(|l| l.reason == stage::LeftOutReason::EditedByHand)
        .count();
    let ctx = json!({
        "sources": sources,
        "files": files,
        "summary": {
            "new": new,
            "changed": generated.len() - new,
            "unchanged": 0,
            "edited_by_hand": edited,
            "to_write": generated.len(),
            "skipped": plan.left_out.len(),
        },
        "input": "its last `generate` run",
        "models": models,
        "staging_only": staging_only,
        "count": generated.len(),
        "config": config,
        "dialect": config.dialect,
    });
    let text = templates.render(
        templates::COMMIT_MESSAGE,
        crate::templates::env::to_value(ctx),
    )?;
    Ok(tidy(&text))
}

/// `models/staging/<source>/file` → `<source>`: the folder a generated file lives in.
fn source_of(path: &str) -> Option<String> {
    let mut parts = path.rsplit('/');
    parts.next()?;
    parts.next().map(str::to_string)
}

/// Strip trailing spaces and surplus blank lines, end with one newline (as `git commit` does).
pub fn tidy(message: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in message.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out.push('\n');
    out
}

/// The first line of a message.
pub fn subject(message: &str) -> &str {
    message.lines().next().unwrap_or_default().trim()
}

/// Create the commit on the current branch (HEAD). libgit2 refuses if the branch moved
/// since `parent` was read, so a concurrent commit is never overwritten. The index is
/// updated separately ([`stage::update_index`]): the commit stands even if that fails.
pub fn create(
    repo: &Repository,
    refname: &str,
    plan: &StagePlan,
    head_tree: Option<&Tree<'_>>,
    parent: Option<Oid>,
    message: &str,
    (author, committer): (&Signature<'_>, &Signature<'_>),
) -> Result<Oid, GitError> {
    // The new blobs, trees and the commit are collected in memory and written as one pack,
    // as `git fast-import` would: 10,000 generated files as loose objects were 10,000 files
    // and up to 256 directories to create (most of the commit's time). The pack is built
    // without deltas (a handle from `whole_objects`): that search is slow in libgit2.
    let packing = whole_objects::open(repo)?;
    let handle = &packing.repo;
    let odb = handle
        .odb()
        .map_err(GitError::git("cannot open the object database"))?;
    let mempack = odb
        .add_new_mempack_backend(1000)
        .map_err(GitError::git("cannot prepare the commit's objects"))?;
    let head_tree = match head_tree {
        Some(t) => Some(
            handle
                .find_tree(t.id())
                .map_err(GitError::git("cannot read HEAD's tree"))?,
        ),
        None => None,
    };
    let tree_id = stage::write_tree(handle, &plan.files, head_tree.as_ref())?;
    let tree = handle
        .find_tree(tree_id)
        .map_err(GitError::git("cannot read the new tree"))?;
    let parent_commit = match parent {
        Some(id) => Some(
            handle
                .find_commit(id)
                .map_err(GitError::git("cannot read HEAD's commit"))?,
        ),
        None => None,
    };
    let parents: Vec<&git2::Commit<'_>> = parent_commit.iter().collect();
    let id = handle
        .commit(None, author, committer, message, &tree, &parents)
        .map_err(GitError::git("cannot create the commit"))?;
    let mut pack = git2::Buf::new();
    mempack
        .dump(handle, &mut pack)
        .map_err(GitError::git("cannot pack the commit's objects"))?;
    let mut writer = odb
        .packwriter()
        .map_err(GitError::git("cannot write the commit's objects"))?;
    writer.write_all(&pack).map_err(|e| GitError::Git {
        what: "cannot write the commit's objects".into(),
        source: git2::Error::from_str(&e.to_string()),
    })?;
    writer
        .commit()
        .map_err(GitError::git("cannot write the commit's objects"))?;
    mempack
        .reset()
        .map_err(GitError::git("cannot release the commit's objects"))?;

    // Only now, with every object on disk, does the branch move (never over a change made
    // meanwhile: the ref must still be at the parent).
    let log = match parent {
        Some(_) => format!("commit: {}", subject(message)),
        None => format!("commit (initial): {}", subject(message)),
    };
    match parent {
        Some(p) => repo.reference_matching(refname, id, true, p, &log),
        None => repo.reference(refname, id, false, &log),
    }
    .map_err(|e| {
        if e.code() == git2::ErrorCode::Modified {
            GitError::RefMoved {
                refname: refname.to_string(),
                place: "this repository".into(),
            }
        } else {
            GitError::git(format!("cannot move {refname} to the new commit"))(e)
        }
    })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_collapses_blank_lines_and_ends_with_one_newline() {
        assert_eq!(
            tidy("\n\nSubject  \n\n\n\nbody\n- a\n\n"),
            "Subject\n\nbody\n- a\n"
        );
        assert_eq!(subject("S\n\nb"), "S");
        assert_eq!(
            source_of("models/staging/shop/x.sql").as_deref(),
            Some("shop")
        );
    }
}
