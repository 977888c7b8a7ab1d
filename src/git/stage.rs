//! Deciding what goes into the commit: exactly the files `generate` wrote (from
//! `.datachonk/state.json`) whose content differs from HEAD, and nothing else.
//!
//! A recorded file whose bytes no longer match the recorded checksum was edited by hand
//! after generate wrote it; it is left out (that edit is the person's to commit). Missing
//! files are left out too: push never commits a deletion. The commit's tree is HEAD's tree
//! with only these paths replaced, so whatever else is modified, staged or untracked stays
//! exactly as it was, in the working tree and in the index.

use std::fs::Metadata;
use std::path::Path;

use git2::build::TreeUpdateBuilder;
use git2::{FileMode, ObjectType, Oid, Repository, Tree};

use super::errors::GitError;
use crate::digest::sha256_hex;
use crate::generate::reconcile::state::{State, STATE_FILE};

/// How a committed file differs from HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    New,
    Changed,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Changed => "changed",
        }
    }
}

/// A file that will be committed.
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// Repository-relative path, forward slashes.
    pub path: String,
    pub change: Change,
    /// Blob id of `content`.
    pub blob: Oid,
    pub mode: FileMode,
    /// The bytes to commit: read once, hashed, and written to the object database from memory.
    pub content: Vec<u8>,
    /// Taken before reading, so the index entry written afterwards never claims a newer
    /// edit is clean (git's racy-clean rule then makes `git status` look at the file).
    pub metadata: Option<Metadata>,
    /// `.datachonk/state.json` rather than a generated file.
    pub is_state_file: bool,
}

/// Why a generated file is not in the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeftOutReason {
    /// Its content is not what generate wrote (`generate --force` would overwrite it).
    EditedByHand,
    /// generate recorded it but it is gone (push never commits deletions).
    Missing,
}

impl LeftOutReason {
    pub fn label(self) -> &'static str {
        match self {
            LeftOutReason::EditedByHand => "edited by hand since generate wrote it",
            LeftOutReason::Missing => "deleted since generate wrote it",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LeftOut {
    pub path: String,
    pub reason: LeftOutReason,
}

/// What the commit will contain.
#[derive(Debug, Default)]
pub struct StagePlan {
    /// Generated files that differ from HEAD, then `.datachonk/state.json` when it does too.
    pub files: Vec<StagedFile>,
    pub left_out: Vec<LeftOut>,
}

impl StagePlan {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The generated files (everything but the state file).
    pub fn generated(&self) -> impl Iterator<Item = &StagedFile> {
        self.files.iter().filter(|f| !f.is_state_file)
    }
}

/// Compare every file `state` records (paths relative to the project root, which is
/// `prefix` inside the working tree `workdir`) with HEAD's tree.
pub fn plan(
    repo: &Repository,
    workdir: &Path,
    prefix: &str,
    state: &State,
    head_tree: Option<&Tree<'_>>,
) -> Result<StagePlan, GitError> {
    let mut plan = StagePlan::default();
    for (rel, record) in &state.files {
        let path = join(prefix, rel);
        let disk = workdir.join(&path);
        let Some((metadata, content)) = read(&disk)? else {
            if in_tree(head_tree, &path).is_some() {
                plan.left_out.push(LeftOut {
                    path,
                    reason: LeftOutReason::Missing,
                });
            }
            continue;
        };
        if sha256_hex(&content) != record.sha256 {
            plan.left_out.push(LeftOut {
                path,
                reason: LeftOutReason::EditedByHand,
            });
            continue;
        }
        if let Some(file) = differs(head_tree, path, content, metadata)? {
            plan.files.push(file);
        }
    }
    // The project's own files generate added to: committed while they are as it left them.
    for (rel, sha256) in &state.project_edits {
        let path = join(prefix, rel);
        let Some((metadata, content)) = read(&workdir.join(&path))? else {
            continue;
        };
        let as_left = sha256_hex(&content) == *sha256;
        if let Some(file) = differs(head_tree, path.clone(), content, metadata)? {
            if as_left {
                plan.files.push(file);
            } else {
                plan.left_out.push(LeftOut {
                    path,
                    reason: LeftOutReason::EditedByHand,
                });
            }
        }
    }
    if !plan.files.is_empty() {
        // The record travels with the files it describes, so a clone recognises them as
        // generated (README, "Safety") — unless the project chose to ignore it.
        let path = join(prefix, STATE_FILE);
        let ignored = repo.status_should_ignore(Path::new(&path)).unwrap_or(false);
        if !ignored {
            if let Some((metadata, content)) = read(&workdir.join(&path))? {
                if let Some(mut file) = differs(head_tree, path, content, metadata)? {
                    file.is_state_file = true;
                    plan.files.push(file);
                }
            }
        }
    }
    Ok(plan)
}

/// `Some(file)` when `content` is not what HEAD has at `path`.
fn differs(
    head_tree: Option<&Tree<'_>>,
    path: String,
    content: Vec<u8>,
    metadata: Metadata,
) -> Result<Option<StagedFile>, GitError> {
    let blob = Oid::hash_object(ObjectType::Blob, &content)
        .map_err(GitError::git(format!("cannot hash {path}")))?;
    let (change, mode) = match in_tree(head_tree, &path) {
        Some((id, _)) if id == blob => return Ok(None),
        Some((_, mode)) => (Change::Changed, mode),
        None => (Change::New, FileMode::Blob),
    };
    Ok(Some(StagedFile {
        path,
        change,
        blob,
        mode,
        content,
        metadata: Some(metadata),
        is_state_file: false,
    }))
}

/// Blob id and mode of `path` in `tree`, when it is a regular file there.
fn in_tree(tree: Option<&Tree<'_>>, path: &str) -> Option<(Oid, FileMode)> {
    let entry = tree?.get_path(Path::new(path)).ok()?;
    let mode = match entry.filemode() {
        0o100755 => FileMode::BlobExecutable,
        0o100644 => FileMode::Blob,
        _ => return None,
    };
    Some((entry.id(), mode))
}

/// Stat, then read (see [`StagedFile::metadata`]); `None` when the file does not exist.
fn read(path: &Path) -> Result<Option<(Metadata, Vec<u8>)>, GitError> {
    let io = |source| GitError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let content = std::fs::read(path).map_err(io)?;
    Ok(Some((metadata, content)))
}

fn join(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// Write the files' blobs and HEAD's tree with exactly these paths replaced.
pub fn write_tree(
    repo: &Repository,
    files: &[StagedFile],
    head_tree: Option<&Tree<'_>>,
) -> Result<Oid, GitError> {
    let odb = repo
        .odb()
        .map_err(GitError::git("cannot open the object database"))?;
    let mut update = TreeUpdateBuilder::new();
    for f in files {
        let id = odb
            .write(ObjectType::Blob, &f.content)
            .map_err(GitError::git(format!("cannot store {}", f.path)))?;
        update.upsert(f.path.as_str(), id, f.mode);
    }
    let empty;
    let baseline = match head_tree {
        Some(t) => t,
        None => {
            let id = repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .map_err(GitError::git("cannot create an empty tree"))?;
            empty = repo
                .find_tree(id)
                .map_err(GitError::git("cannot read the empty tree"))?;
            &empty
        }
    };
    update
        .create_updated(repo, baseline)
        .map_err(GitError::git("cannot build the commit's tree"))
}

/// Record the committed content in the index for exactly these paths, so `git status`
/// shows them as committed; every other index entry (staged work of the person) is kept.
pub fn update_index(repo: &Repository, files: &[StagedFile]) -> Result<(), GitError> {
    let mut index = repo
        .index()
        .map_err(GitError::git("cannot read the index"))?;
    for f in files {
        index.add(&index_entry(f)).map_err(GitError::git(format!(
            "cannot update the index for {}",
            f.path
        )))?;
    }
    index
        .write()
        .map_err(GitError::git("cannot write the index"))
}

fn index_entry(f: &StagedFile) -> git2::IndexEntry {
    let mut entry = git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: i32::from(f.mode) as u32,
        uid: 0,
        gid: 0,
        file_size: f.content.len() as u32,
        id: f.blob,
        flags: 0,
        flags_extended: 0,
        path: f.path.as_bytes().to_vec(),
    };
    #[cfg(unix)]
    if let Some(m) = &f.metadata {
        use std::os::unix::fs::MetadataExt;
        entry.ctime = git2::IndexTime::new(m.ctime() as i32, m.ctime_nsec() as u32);
        entry.mtime = git2::IndexTime::new(m.mtime() as i32, m.mtime_nsec() as u32);
        entry.dev = m.dev() as u32;
        entry.ino = m.ino() as u32;
        entry.uid = m.uid();
        entry.gid = m.gid();
        entry.file_size = m.size() as u32;
    }
    entry
}
