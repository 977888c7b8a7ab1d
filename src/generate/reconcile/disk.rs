//! What is on disk now, against the state: trusted by size and mtime, or read and hashed.

use crate::generate::plan::context;
use crate::generate::plan::file as plan;
use crate::generate::plan::file::FileKind;
use crate::generate::plan::file::PlannedFile;
use crate::generate::plan::fingerprint::fingerprint;
use crate::generate::plan::fingerprint::models_fingerprint;
use crate::generate::plan::inputs::source_base;
use crate::generate::plan::inputs::Member;
use crate::generate::read::metadata;
use crate::generate::read::project;
use crate::generate::reconcile::state;
use crate::generate::reconcile::state::State;
use crate::generate::request::GenerateError;
use crate::generate::request::Request;
use crate::ident::Dialect;
use sha2::Sha256;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;

/// All of a source's files, when each is unchanged by the fast path (see
/// [`DiskCheck::unchanged`]); `None` as soon as one is not.
#[allow(clippy::too_many_arguments)]
pub(crate) fn unchanged_source(
    req: &Request,
    dialect: Dialect,
    base: &Sha256,
    name: &str,
    tables: &[(&metadata::Table, &Member)],
    state: &State,
    disk: &DiskCheck,
    project: &project::Project,
) -> Result<Option<Vec<PlannedFile>>, GenerateError> {
    if tables
        .iter()
        .any(|(t, _)| t.declared_name.is_none() && project.declared(name).is_some())
    {
        // A table to add to the project's own declaration: the slow path plans the edit.
        return Ok(None);
    }
    let refs: Vec<&metadata::Table> = tables.iter().map(|(t, _)| *t).collect();
    let Some(schema) = context::source_schema(&refs, &req.config) else {
        return Ok(None);
    };
    let base = source_base(
        base,
        name,
        req.config.database.as_deref(),
        &schema,
        dialect.needs_quoting(&schema),
    );
    let dir = project.source_dir(&req.config.output_dir, name, state);
    let table_fps: Vec<&[u8; 32]> = tables.iter().map(|(_, m)| &m.fingerprint).collect();
    let mut wanted = Vec::new();
    if project.declared(name).is_none() {
        wanted.push((
            format!("{dir}/_{name}__sources.yml"),
            FileKind::SourcesYaml,
            fingerprint(&base, "sources.yml", table_fps.iter().copied()),
        ));
    }
    let listed = tables.iter().any(|(t, _)| {
        let model = context::model_name(&req.config, name, t);
        project.model_file(&model).is_none() && project.properties_entry(&model).is_none()
    });
    if listed {
        wanted.push((
            format!("{dir}/_{name}__models.yml"),
            FileKind::ModelsYaml,
            models_fingerprint(&base, project, table_fps.iter().copied()),
        ));
    }
    let mut files = Vec::with_capacity(wanted.len() + tables.len());
    // Each file is checked as soon as it is named: the first miss (on a first run, the very
    // first file) ends the fast path without naming the other 10,000.
    let check = |path: &str, kind: FileKind, input: &str| -> Result<_, GenerateError> {
        // Cheap check first: no record with this input means no fast path, without reading.
        if state.input_of(path) != Some(input) {
            return Ok(None);
        }
        Ok(match disk.check(path, kind, input, state)? {
            OnDisk::Unchanged(f) => Some(*f),
            OnDisk::Other(_) => None,
        })
    };
    for (path, kind, input) in wanted {
        let Some(f) = check(&path, kind, &input)? else {
            return Ok(None);
        };
        files.push(f);
    }
    for (t, m) in tables.iter().filter(|(_, m)| m.selected) {
        let model = context::model_name(&req.config, name, t);
        let path = format!("{dir}/{model}.sql");
        if let Some(other) = project.model_file(&model) {
            files.push(plan::exists(&path, other));
            continue;
        }
        let input = fingerprint(&base, "staging_model.sql", [&m.fingerprint]);
        let Some(f) = check(&path, FileKind::StagingModel, &input)? else {
            return Ok(None);
        };
        files.push(f);
    }
    Ok(Some(files))
}

/// Compares planned files with the disk and the state.
pub(crate) struct DiskCheck<'a> {
    pub(crate) root: &'a Path,
    /// When the stat cache was written (see [`state::FileStat::trusted`]).
    pub(crate) state_mtime_ns: Option<u64>,
    /// Names in each output folder, read once: a file that is not there is known to be new
    /// without trying to open it (10,000 failed opens on a first run otherwise).
    pub(crate) listings: Mutex<HashMap<PathBuf, Arc<BTreeSet<std::ffi::OsString>>>>,
    /// Staging models datachonk wrote that a person has edited since (see
    /// [`apply_sql_renames`]): theirs to keep, even when rendering now gives their bytes.
    pub(crate) edited_models: std::sync::OnceLock<BTreeSet<String>>,
}

impl DiskCheck<'_> {
    /// Whether `full` is in its folder's listing (`true` when the folder cannot be listed:
    /// then reading the file decides).
    pub(crate) fn listed(&self, full: &Path) -> bool {
        let (Some(dir), Some(name)) = (full.parent(), full.file_name()) else {
            return true;
        };
        let mut listings = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        let names = match listings.get(dir) {
            Some(names) => names.clone(),
            None => {
                let names = match std::fs::read_dir(dir) {
                    Ok(entries) => entries
                        .filter_map(|e| e.ok().map(|e| e.file_name()))
                        .collect(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
                    Err(_) => return true,
                };
                let names = Arc::new(names);
                listings.insert(dir.to_path_buf(), names.clone());
                names
            }
        };
        drop(listings);
        names.contains(name)
    }
}

/// A file on disk, as far as planning is concerned.
pub(crate) enum OnDisk {
    /// Exactly what datachonk last wrote from these inputs: nothing to render.
    Unchanged(Box<PlannedFile>),
    /// Anything else: its bytes, or `None` when there is no file.
    Other(Option<Vec<u8>>),
}

impl DiskCheck<'_> {
    /// The no-op fast path for `path`: unchanged when its recorded input is `input` and the
    /// file is what was recorded, by size and mtime when those match the record (no read),
    /// else by checksum. A file edited by hand changes its mtime even at the same size.
    pub(crate) fn check(
        &self,
        path: &str,
        kind: FileKind,
        input: &str,
        state: &State,
    ) -> Result<OnDisk, GenerateError> {
        let full = self.root.join(path);
        // Never written by datachonk: most likely a new file, known without opening it.
        if state.checksum_of(path).is_none() && !self.listed(&full) {
            return Ok(OnDisk::Other(None));
        }
        let ours = state.input_of(path) == Some(input);
        let mut now = None;
        if ours {
            if let Some(recorded) = state.stat_of(path) {
                match std::fs::metadata(&full) {
                    Ok(meta) => {
                        now = state::FileStat::of(&meta);
                        if now.is_some_and(|n| recorded.trusted(&n, self.state_mtime_ns)) {
                            return Ok(OnDisk::Unchanged(Box::new(plan::unchanged(
                                path, kind, input,
                            ))));
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Ok(OnDisk::Other(None))
                    }
                    Err(source) => return Err(GenerateError::Read { path: full, source }),
                }
            }
        }
        let Some(bytes) = read_optional(&full)? else {
            return Ok(OnDisk::Other(None));
        };
        if ours {
            if let Some(mut f) = plan::unchanged_fast(path, kind, input, &bytes, state) {
                // Recorded so that the next run can trust size and mtime.
                f.stat = match now {
                    Some(n) => Some(n),
                    None => std::fs::metadata(&full)
                        .ok()
                        .and_then(|m| state::FileStat::of(&m)),
                };
                return Ok(OnDisk::Unchanged(Box::new(f)));
            }
        }
        Ok(OnDisk::Other(Some(bytes)))
    }
}

pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, GenerateError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GenerateError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}
