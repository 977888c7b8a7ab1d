//! `datachonk.state.json`: what datachonk last wrote, so a file a person edited since is
//! recognised (its checksum no longer matches) and never overwritten without `--force`.
//! Also remembers which tables each source's YAML files cover, so generating one more table
//! later adds it to `_<source>__*.yml` instead of replacing the others.
//!
//! The state is committed with the models, at the project root, so every clone tells
//! generated files from hand edits alike. `.datachonk/` holds only this checkout's caches
//! (the stat cache, a fetched cloud catalog) and is ignored by git. Older versions kept the
//! state in `.datachonk/state.json`, which `init` had git ignore, so clones lost it: it is
//! still read when the new file is missing, and moved on the next write.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use crate::digest::sha256_hex;
use serde::{Deserialize, Serialize};

pub use crate::fsx::cache_dir::{ignore_cache_folder, LOCAL_GITIGNORE};
pub use crate::fsx::FileStat;
use crate::fsx::{write_atomic, WriteError};

pub const STATE_FILE: &str = "datachonk.state.json";

/// Where earlier versions kept the state (inside the cache folder `init` has git ignore).
pub const LEGACY_STATE_FILE: &str = ".datachonk/state.json";

/// Sizes and mtimes of the files datachonk wrote, not in the state: they are true of this
/// checkout only, and the state is committed with the models (mtimes in it would change it
/// on every run and in every clone). Ignored by git through [`LOCAL_GITIGNORE`].
pub const STAT_CACHE_FILE: &str = ".datachonk/stat-cache.json";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a datachonk state file ({message}); move it away to start afresh (generated files will then count as edited by hand)")]
    Malformed { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// Project-relative path (forward slashes) → what datachonk wrote there.
    #[serde(default)]
    pub files: BTreeMap<String, FileRecord>,
    /// Source name → raw table names its YAML files cover.
    #[serde(default)]
    pub sources: BTreeMap<String, BTreeSet<String>>,
    /// The project's own files `generate` last added to (path → SHA-256 as it left them):
    /// not datachonk's files (they stay the project's declarations), but `push` commits them
    /// with the models that need them while they are as `generate` left them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub project_edits: BTreeMap<String, String>,
    /// The input and selection of the last `datachonk generate` that wrote files, so
    /// `hook run pre-push` can check staleness without being told again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
}

/// What the last writing `datachonk generate` was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    pub input: RecordedInput,
    #[serde(default)]
    pub selection: Vec<String>,
}

/// A metadata input as recorded: local files by path (relative to the project root when
/// inside it); network inputs only by kind (a database URL may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedInput {
    pub kind: InputKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// `--from-catalog PATH`
    Catalog,
    /// `--from-sources PATH`
    Sources,
    /// `--from-postgres URL`
    Postgres,
    /// `--from-catalog cloud`
    Cloud,
    /// `--from-warehouse SCHEMA…` (through the project's dbt)
    Warehouse,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    /// SHA-256 of the bytes written.
    pub sha256: String,
    /// Fingerprint of everything the file was rendered from (context, templates, version):
    /// when it and the file's checksum both match, the file is unchanged without rendering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Size and modification time of the file as written: when both still match (and the
    /// write was not in the same clock tick as the cache's, see [`FileStat::trusted`]), the
    /// file is taken as unchanged without reading and hashing it. Kept in
    /// [`STAT_CACHE_FILE`], not in the state.
    #[serde(skip)]
    pub stat: Option<FileStat>,
    /// `_models.yml` only: hashes of the descriptions datachonk took from the metadata, so a
    /// description still equal to one of them is datachonk's and follows the warehouse
    /// comment, while one a person changed is kept (see [`crate::generate::reconcile::merge`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptions: Option<String>,
}

/// Equal when the committed parts are: the local [`FileRecord::stat`] does not count.
impl PartialEq for FileRecord {
    fn eq(&self, other: &Self) -> bool {
        self.sha256 == other.sha256
            && self.input == other.input
            && self.descriptions == other.descriptions
    }
}

impl State {
    pub fn load(root: &Path) -> Result<State, StateError> {
        let read = |path: PathBuf| match std::fs::read(&path) {
            Ok(b) => Ok(Some((path, b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Read { path, source }),
        };
        let found = match read(root.join(STATE_FILE))? {
            Some(found) => Some(found),
            None => read(root.join(LEGACY_STATE_FILE))?,
        };
        let Some((path, bytes)) = found else {
            return Ok(State {
                version: 1,
                ..State::default()
            });
        };
        let mut state: State =
            serde_json::from_slice(&bytes).map_err(|e| StateError::Malformed {
                path,
                message: e.to_string(),
            })?;
        // A missing or unreadable cache only means files are hashed once more.
        let cache: BTreeMap<String, FileStat> = std::fs::read(root.join(STAT_CACHE_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for (path, stat) in cache {
            if let Some(r) = state.files.get_mut(&path) {
                r.stat = Some(stat);
            }
        }
        Ok(state)
    }

    /// Write the state (when its committed parts changed from `previous`, or it is still at
    /// the legacy path) and the stat cache (when the stats changed), each atomically.
    pub fn save(&self, root: &Path, previous: &State) -> Result<(), WriteError> {
        let legacy = root.join(LEGACY_STATE_FILE);
        let migrate = legacy.exists();
        if self != previous || migrate {
            write_atomic(&root.join(STATE_FILE), &self.to_bytes())?;
        }
        if migrate {
            // Written at the new path first: an interruption leaves both, never neither.
            std::fs::remove_file(&legacy).map_err(|source| WriteError {
                path: legacy,
                source,
            })?;
        }
        let stats = |s: &State| -> Vec<Option<FileStat>> {
            s.files.values().map(|r| r.stat).collect::<Vec<_>>()
        };
        let same_paths = self.files.keys().eq(previous.files.keys());
        if same_paths && stats(self) == stats(previous) {
            return Ok(());
        }
        let cache: BTreeMap<&str, FileStat> = self
            .files
            .iter()
            .filter_map(|(p, r)| r.stat.map(|s| (p.as_str(), s)))
            .collect();
        ignore_cache_folder(root)?;
        let mut bytes = serde_json::to_vec(&cache).unwrap_or_default();
        bytes.push(b'\n');
        write_atomic(&root.join(STAT_CACHE_FILE), &bytes)
    }

    /// Deterministic JSON (sorted maps, trailing newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn checksum_of(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|r| r.sha256.as_str())
    }

    pub fn record(&mut self, path: &str, content: &[u8], input: Option<String>) {
        self.record_sha256(path, sha256_hex(content), input);
    }

    /// Like [`State::record`], for content already hashed (`sha256` in lowercase hex).
    pub fn record_sha256(&mut self, path: &str, sha256: String, input: Option<String>) {
        self.files.insert(
            path.to_string(),
            FileRecord {
                sha256,
                input,
                stat: None,
                descriptions: None,
            },
        );
    }

    /// The record of `path`, to add a stat or descriptions to.
    pub fn record_mut(&mut self, path: &str) -> Option<&mut FileRecord> {
        self.files.get_mut(path)
    }

    pub fn stat_of(&self, path: &str) -> Option<&FileStat> {
        self.files.get(path).and_then(|r| r.stat.as_ref())
    }

    /// The recorded description hashes of a `_models.yml`.
    pub fn descriptions_of(&self, path: &str) -> Option<&str> {
        self.files.get(path).and_then(|r| r.descriptions.as_deref())
    }

    /// Modification time of the stat cache in `root` (nanoseconds), for [`FileStat::trusted`].
    pub fn stats_written_at(root: &Path) -> Option<u64> {
        let meta = std::fs::metadata(root.join(STAT_CACHE_FILE)).ok()?;
        FileStat::of(&meta).map(|s| s.mtime_ns)
    }

    /// The recorded input fingerprint of `path`.
    pub fn input_of(&self, path: &str) -> Option<&str> {
        self.files.get(path).and_then(|r| r.input.as_deref())
    }
}

/// The tables earlier runs chose: the last run's selection and every table the state records
/// as generated. Empty (everything) when the last run selected everything or none is recorded.
pub fn remembered_selection(root: &Path) -> Vec<String> {
    match State::load(root) {
        Ok(state) => remembered(&state),
        Err(_) => Vec::new(),
    }
}

/// [`remembered_selection`] of a state already read.
pub fn remembered(state: &State) -> Vec<String> {
    let Some(run) = state.last_run.as_ref().filter(|r| !r.selection.is_empty()) else {
        return Vec::new();
    };
    let mut out = run.selection.clone();
    for (source, tables) in &state.sources {
        out.extend(tables.iter().map(|t| format!("{source}.{t}")));
    }
    out
}
