//! `.datachonk/state.json`: what datachonk last wrote, so a file a person edited since is
//! recognised (its checksum no longer matches) and never overwritten without `--force`.
//! Also remembers which tables each source's YAML files cover, so generating one more table
//! later adds it to `_<source>__*.yml` instead of replacing the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

pub const STATE_FILE: &str = ".datachonk/state.json";

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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    /// SHA-256 of the bytes written.
    pub sha256: String,
    /// Fingerprint of everything the file was rendered from (context, templates, version):
    /// when it and the file's checksum both match, the file is unchanged without rendering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

impl State {
    pub fn load(root: &Path) -> Result<State, StateError> {
        let path = root.join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State {
                    version: 1,
                    ..State::default()
                })
            }
            Err(source) => return Err(StateError::Read { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|e| StateError::Malformed {
            path,
            message: e.to_string(),
        })
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
        self.files.insert(
            path.to_string(),
            FileRecord {
                sha256: sha256_hex(content),
                input,
            },
        );
    }

    /// Like [`State::record`], for content already hashed (`sha256` in lowercase hex).
    pub fn record_sha256(&mut self, path: &str, sha256: String, input: Option<String>) {
        self.files
            .insert(path.to_string(), FileRecord { sha256, input });
    }

    /// The recorded input fingerprint of `path`.
    pub fn input_of(&self, path: &str) -> Option<&str> {
        self.files.get(path).and_then(|r| r.input.as_deref())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::templates::hex(&sha2::Sha256::digest(bytes))
}
