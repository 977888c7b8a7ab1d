//! Planned files and how each compares with what is on disk: new, changed (datachonk wrote
//! the old content), unchanged, or edited by hand (the file's checksum is not the one
//! datachonk recorded), and what will be done about it.

use serde::Serialize;

use crate::generate::reconcile::merge::MergeReport;
use crate::generate::reconcile::state::{sha256_hex, FileStat, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    StagingModel,
    SourcesYaml,
    ModelsYaml,
    /// A person's properties file declaring a source, to which tables or columns are added.
    ProjectYaml,
    /// A dimension, fact or time spine model from the spec (`datachonk/*.yml`).
    MartModel,
    /// Its properties (tests, semantic model) or the spec's metrics.
    MartProperties,
    /// A dbt snapshot (an `scd2` entity's history).
    Snapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    New,
    Changed,
    Unchanged,
    EditedByHand,
    /// A model the project already has in a file datachonk did not write: not generated.
    Exists,
}

impl FileStatus {
    pub fn label(self) -> &'static str {
        match self {
            FileStatus::New => "new",
            FileStatus::Changed => "changed",
            FileStatus::Unchanged => "unchanged",
            FileStatus::EditedByHand => "edited-by-hand",
            FileStatus::Exists => "exists (not generated)",
        }
    }
}

/// What applying the plan does to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing to do.
    None,
    Write,
    /// Edited by hand: left alone (use `--force`).
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    /// Project-relative, forward slashes.
    pub path: String,
    pub kind: FileKind,
    pub status: FileStatus,
    pub action: Action,
    /// What the `_models.yml` merge kept, added and dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeReport>,
    #[serde(skip)]
    pub content: String,
    /// Fingerprint of the inputs `content` was rendered from (recorded in the state).
    #[serde(skip)]
    pub input: Option<String>,
    /// The file's current content, when it exists and differs (for `--diff`).
    #[serde(skip)]
    pub existing: Option<String>,
    /// Size and mtime of the file on disk when it is unchanged (recorded in the state).
    #[serde(skip)]
    pub stat: Option<FileStat>,
    /// `_models.yml`: hashes of the descriptions taken from the metadata (for the state).
    #[serde(skip)]
    pub descriptions: Option<String>,
    /// `exists`: the project's file that already defines the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_in: Option<String>,
    /// SHA-256 (hex) of `content`, when it was hashed where it was rendered: the thread
    /// that writes files (the slowest part of `generate`) need not.
    #[serde(skip)]
    pub checksum: Option<String>,
}

/// Compare rendered `content` with the file on disk (`on_disk`) and the recorded checksum.
#[allow(clippy::too_many_arguments)]
pub fn classify(
    path: &str,
    kind: FileKind,
    content: String,
    input: Option<String>,
    on_disk: Option<Vec<u8>>,
    state: &State,
    force: bool,
    merge: Option<MergeReport>,
) -> PlannedFile {
    let (status, action, existing) = match on_disk {
        None => (FileStatus::New, Action::Write, None),
        Some(bytes) if bytes == content.as_bytes() => (FileStatus::Unchanged, Action::None, None),
        Some(bytes) => {
            let ours = state.checksum_of(path) == Some(sha256_hex(&bytes).as_str());
            let existing = Some(String::from_utf8_lossy(&bytes).into_owned());
            if ours {
                (FileStatus::Changed, Action::Write, existing)
            } else if state.checksum_of(path).is_none() {
                // Never written by datachonk: the person's, whatever `--force` says.
                (FileStatus::EditedByHand, Action::Skip, existing)
            } else if force || kind == FileKind::ModelsYaml {
                // _models.yml was merged with the person's edits, so writing it keeps them.
                (FileStatus::EditedByHand, Action::Write, existing)
            } else {
                (FileStatus::EditedByHand, Action::Skip, existing)
            }
        }
    };
    PlannedFile {
        path: path.to_string(),
        kind,
        status,
        action,
        merge: merge.filter(|m| !m.is_empty()),
        content,
        input,
        existing,
        stat: None,
        descriptions: None,
        defined_in: None,
        checksum: None,
    }
}

/// The no-op fast path: the file on disk is exactly what datachonk last wrote, from exactly
/// these inputs, so rendering again would produce the same bytes.
pub fn unchanged_fast(
    path: &str,
    kind: FileKind,
    input: &str,
    on_disk: &[u8],
    state: &State,
) -> Option<PlannedFile> {
    if state.input_of(path) != Some(input)
        || state.checksum_of(path) != Some(sha256_hex(on_disk).as_str())
    {
        return None;
    }
    Some(unchanged(path, kind, input))
}

/// A file the fast path found unchanged.
pub fn unchanged(path: &str, kind: FileKind, input: &str) -> PlannedFile {
    PlannedFile {
        path: path.to_string(),
        kind,
        status: FileStatus::Unchanged,
        action: Action::None,
        merge: None,
        content: String::new(),
        input: Some(input.to_string()),
        existing: None,
        stat: None,
        descriptions: None,
        defined_in: None,
        checksum: None,
    }
}

/// A model the project defines in `other` (a file datachonk did not write): not generated.
pub fn exists(path: &str, other: &str) -> PlannedFile {
    PlannedFile {
        status: FileStatus::Exists,
        content: String::new(),
        input: None,
        defined_in: Some(other.to_string()),
        checksum: None,
        ..unchanged(path, FileKind::StagingModel, "")
    }
}

/// An addition to a person's properties file (`existing` → `content`).
pub fn project_edit(path: &str, existing: String, content: String) -> PlannedFile {
    PlannedFile {
        status: FileStatus::Changed,
        action: Action::Write,
        content,
        input: None,
        existing: Some(existing),
        ..unchanged(path, FileKind::ProjectYaml, "")
    }
}

/// Counts per status, for the summary line and `--json`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub edited_by_hand: usize,
    /// Files applying the plan writes.
    pub to_write: usize,
    /// Edited-by-hand files left alone.
    pub skipped: usize,
    /// Models the project already has (not generated).
    pub exists: usize,
    /// The project's own properties files datachonk adds tables or columns to.
    pub project_edits: usize,
}

pub fn summarize(files: &[PlannedFile]) -> Summary {
    let mut s = Summary::default();
    for f in files {
        match f.status {
            FileStatus::New => s.new += 1,
            FileStatus::Changed => s.changed += 1,
            FileStatus::Unchanged => s.unchanged += 1,
            FileStatus::EditedByHand => s.edited_by_hand += 1,
            FileStatus::Exists => s.exists += 1,
        }
        if f.kind == FileKind::ProjectYaml && f.action == Action::Write {
            s.project_edits += 1;
        }
        match f.action {
            Action::Write => s.to_write += 1,
            Action::Skip => s.skipped += 1,
            Action::None => {}
        }
    }
    s
}
