//! `generate`: metadata inputs → planned files → (atomic) writes. No git, no HTTP: the
//! command composes [`plan`] and [`apply`] with the `Ui`.
//!
//! Flow: read metadata ([`catalog`], [`sources_yaml`]) → select tables ([`select`]) → derive
//! names, quoting, keys, casts ([`context`]) → render ([`crate::templates`]), merging a
//! person's `_models.yml` edits ([`merge`]) → compare with disk and `datachonk.state.json`
//! ([`plan`], [`state`]) → write atomically ([`write`]).

pub mod catalog;
pub mod context;
mod early;
pub mod lock;
pub mod manifest;
pub mod marts;
pub mod merge;
pub mod metadata;
pub mod naming;
pub mod native;
pub mod noop;
pub mod parallel;
pub mod plan;
pub mod postgres;
pub mod project;
pub mod quoting;
pub mod relationships;
pub mod renames;
pub mod select;
pub mod sources_yaml;
pub mod state;
pub mod timings;
pub mod values;
pub mod warehouse;
pub mod write;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use minijinja::Value;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::GenerateConfig;
use crate::error::{CliError, Exit};
use crate::templates::{self, TemplateError, Templates};
use context::SourceCtx;
use metadata::Metadata;
use plan::{Action, FileKind, PlannedFile};
use quoting::Dialect;
use state::State;
use timings::Timings;

/// Where the metadata comes from.
#[derive(Debug, Clone)]
pub enum Input {
    Catalog(PathBuf),
    SourcesYaml(PathBuf),
    /// A live database (the URL's password never shows: see [`postgres::PgUrl`]).
    Postgres(postgres::PgUrl),
    /// Schemas of any warehouse, read through the project's own dbt (`--from-warehouse`).
    Warehouse(warehouse::Warehouse),
    /// No metadata: only the spec's entities, facts and metrics (`datachonk/*.yml`).
    Spec,
}

impl Input {
    pub fn describe(&self) -> String {
        match self {
            Input::Catalog(p) => p.display().to_string(),
            Input::SourcesYaml(p) => p.display().to_string(),
            Input::Postgres(url) => url.redacted(),
            Input::Warehouse(w) => w.describe(),
            Input::Spec => format!("{}/*.yml", marts::spec::SPEC_DIR),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    /// Project root: output paths and `.datachonk/` are relative to it.
    pub root: PathBuf,
    pub config: GenerateConfig,
    pub input: Input,
    /// `SOURCE[.TABLE]` globs; empty = `generate.tables`, else everything.
    pub selection: Vec<String>,
    pub force: bool,
    /// Stage declared tables some model of the project already reads (`--include-staged`).
    pub include_staged: bool,
    /// `--manifest PATH`: read what the project declares as dbt resolved it from there.
    pub manifest: Option<PathBuf>,
    /// Recorded in the state when the files are written (`hook run pre-push` re-checks from it).
    pub last_run: Option<state::LastRun>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    #[error(transparent)]
    SourcesYaml(#[from] sources_yaml::SourcesYamlError),
    #[error(transparent)]
    Postgres(#[from] postgres::PostgresError),
    #[error(transparent)]
    Warehouse(#[from] warehouse::WarehouseError),
    #[error(transparent)]
    Select(#[from] select::SelectError),
    #[error(transparent)]
    Context(#[from] context::ContextError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Merge(#[from] merge::MergeError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Write(#[from] write::WriteError),
    #[error(transparent)]
    Project(#[from] project::ProjectError),
    #[error(transparent)]
    Marts(#[from] marts::MartsError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<GenerateError> for CliError {
    fn from(e: GenerateError) -> Self {
        let exit = match &e {
            GenerateError::Write(_) | GenerateError::Read { .. } => Exit::Usage,
            _ => Exit::Usage,
        };
        let err = CliError::new(exit, e.to_string());
        match &e {
            GenerateError::Select(s) => err
                .with_hint(s.available().to_string())
                .with_hint("select with SOURCE or SOURCE.TABLE; * and ? are globs"),
            GenerateError::Context(context::ContextError::ColumnCollision { .. })
            | GenerateError::Context(context::ContextError::TableCollision { .. }) => err
                .with_hint(
                    "rename or exclude one of them (generate.exclude), or change generate.naming",
                ),
            GenerateError::Context(context::ContextError::BadColumnName { .. })
            | GenerateError::Context(context::ContextError::BadTableName { .. }) => err.with_hint(
                "rename it in the warehouse, or leave the table out (generate.exclude)",
            ),
            GenerateError::Postgres(postgres::PostgresError::Connect { .. }) => err.with_hint(
                "check host, port, user and database; for a local server: postgres://USER@127.0.0.1:5432/DB",
            ),
            GenerateError::Project(project::ProjectError::Invalid { .. }) => err.with_hint(
                "fix the file (dbt would not read it either); nothing was written, because planning without it could declare twice what it declares",
            ),
            GenerateError::Project(project::ProjectError::CannotEdit { block, .. }) => err
                .with_hint(format!(
                    "add this to the file by hand, then run generate again:\n{block}"
                )),
            GenerateError::Warehouse(w) => match w.hint() {
                Some(h) => err.with_hint(h),
                None => err,
            },
            GenerateError::Marts(m) => match m.hint() {
                Some(h) => err.with_hint(h),
                None => err,
            },
            GenerateError::Template(_) => err.with_hint(
                "templates use [[ ]] for values and [% %] for tags (README, \"Generate\")",
            ),
            _ => err,
        }
    }
}

/// Everything `generate` would do.
#[derive(Debug)]
pub struct Plan {
    pub files: Vec<PlannedFile>,
    /// The state to record after applying.
    pub state: State,
    /// Sources touched, sorted.
    pub sources: Vec<String>,
    /// Tables selected.
    pub tables: usize,
    /// Where the time went (`generate -v`).
    pub timings: Timings,
    /// Problems the plan cannot fix, for people (e.g. a source declared twice).
    pub warnings: Vec<String>,
    /// What the plan decided that people should know (tables left to the project's models).
    pub notes: Vec<String>,
}

/// Read the metadata an input describes (`config.schema` narrows a database's schemas).
pub fn load_metadata(input: &Input, config: &GenerateConfig) -> Result<Metadata, GenerateError> {
    Ok(match input {
        Input::Catalog(p) => catalog::read(p)?,
        Input::SourcesYaml(p) => sources_yaml::read(p)?,
        Input::Postgres(url) => postgres::read(url, config.schema.as_slice())?,
        Input::Warehouse(w) => warehouse::read(w)?,
        Input::Spec => Metadata::default(),
    })
}

/// Plan the files for `req` (reads the disk, writes nothing). Every planned file keeps its
/// content (for `--diff`, or for [`apply`] later).
pub fn plan(req: &Request) -> Result<Plan, GenerateError> {
    if let Some(inputs) = noop::Inputs::read(req) {
        if let Some(plan) = noop::fast_plan(req, &inputs)? {
            return Ok(plan);
        }
    }
    plan_with(req, &Sink::Keep)
}

/// Plan and write in one pass (what `datachonk generate` does without `--dry-run`, `--diff`
/// or `--check`): each file is written as soon as it is rendered and only its status is kept,
/// so memory does not grow with the number of files. `previous` is the state on disk before
/// the run. Files written before a failure are recorded in the state, so a rerun does not
/// mistake them for hand edits.
/// Returns the plan (file contents empty) and the number of files written.
pub fn generate(req: &Request) -> Result<(Plan, usize), GenerateError> {
    if !noop::recorded(&req.root) {
        // No record of a last run, so no no-op to find: the inputs (the whole catalog) are
        // hashed beside the planning, for the record this run leaves.
        return std::thread::scope(|scope| {
            let hashing = scope.spawn(|| noop::Inputs::read(req));
            write_all(req, || {
                hashing
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
        });
    }
    let inputs = noop::Inputs::read(req);
    if let Some(inputs) = &inputs {
        if let Some(plan) = noop::fast_plan(req, inputs)? {
            // `last_run` is part of the state the key hashes: a run given other arguments
            // differs there, and is not a no-op.
            if req.last_run.is_none() || last_run_recorded(req)? {
                return Ok((plan, 0));
            }
        }
    }
    write_all(req, || inputs)
}

/// [`generate`] once the no-op fast path has declined; `inputs` hashes the inputs for the
/// record of this run (called once planning and writing are done).
fn write_all(
    req: &Request,
    inputs: impl FnOnce() -> Option<noop::Inputs>,
) -> Result<(Plan, usize), GenerateError> {
    noop::forget(&req.root);
    sweep_stale_temp_files(req);
    let previous = &State::load(&req.root)?;
    let mut state = previous.clone();
    state.version = 1;
    let writer = Writer {
        root: req.root.clone(),
        state: Mutex::new(state),
        written: AtomicUsize::new(0),
    };
    let result = plan_with(req, &Sink::Write(&writer));
    let mut state = writer
        .state
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Ok(plan) = &result {
        state.sources = plan.state.sources.clone();
        if let Some(run) = &req.last_run {
            state.last_run = Some(run.clone());
        }
        // Files the fast path found unchanged by hashing: their new size and mtime.
        for f in plan
            .files
            .iter()
            .filter(|f| f.action == Action::None && f.stat.is_some())
        {
            record(&mut state, f);
        }
    }
    state.save(&req.root, previous)?;
    let mut plan = result?;
    plan.timings.mark("write state");
    if let Some(inputs) = &inputs() {
        noop::remember(req, inputs, &plan, &state)?;
    }
    Ok((plan, writer.written.into_inner()))
}

/// Whether the state already records `req.last_run` (read without the files' records).
fn last_run_recorded(req: &Request) -> Result<bool, GenerateError> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default)]
        last_run: Option<state::LastRun>,
    }
    let path = req.root.join(state::STATE_FILE);
    let bytes = std::fs::read(&path).map_err(|source| GenerateError::Read { path, source })?;
    // Only the one key is kept; the files' records are skipped, not built.
    let head: Head = serde_json::from_slice(&bytes).map_err(|e| {
        GenerateError::State(state::StateError::Malformed {
            path: req.root.join(state::STATE_FILE),
            message: e.to_string(),
        })
    })?;
    Ok(head.last_run == req.last_run)
}

/// Remove temporary files an earlier datachonk left where it writes (the project root, the
/// cache folder, each source folder under `output_dir`) when it died mid-write.
fn sweep_stale_temp_files(req: &Request) {
    let root = &req.root;
    let output = root.join(&req.config.output_dir);
    let mut dirs = vec![root.to_path_buf(), root.join(".datachonk")];
    if let Ok(entries) = std::fs::read_dir(&output) {
        dirs.extend(
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path()),
        );
    }
    for dir in dirs {
        write::sweep_stale(&dir);
    }
}

/// What happens to each planned file as soon as it is known.
enum Sink<'a> {
    /// Keep it whole in the plan.
    Keep,
    /// Write it now (when the plan says so), record it, and keep only its status.
    Write(&'a Writer),
}

struct Writer {
    root: PathBuf,
    /// The state being recorded (shared by the threads that render models).
    state: Mutex<State>,
    written: AtomicUsize,
}

impl Sink<'_> {
    fn accept(&self, mut f: PlannedFile) -> Result<PlannedFile, GenerateError> {
        let Sink::Write(w) = self else {
            return Ok(f);
        };
        if f.action == Action::Write {
            write_file(&w.root, &mut f)?;
            w.written.fetch_add(1, Ordering::Relaxed);
        }
        {
            let mut state = w.state.lock().unwrap_or_else(|p| p.into_inner());
            record(&mut state, &f);
        }
        f.content = String::new();
        f.existing = None;
        Ok(f)
    }
}

/// Write planned file `f` under `root` (a new one with `create_new`), keeping its size and
/// mtime for the state.
fn write_file(root: &Path, f: &mut PlannedFile) -> Result<(), GenerateError> {
    let new = f.status == plan::FileStatus::New;
    f.stat = write::write_atomic_stat(&root.join(&f.path), f.content.as_bytes(), new)?;
    Ok(())
}

impl Sink<'_> {
    /// In write mode, a file that does not exist yet is rendered straight to disk (through a
    /// temporary file, hashed on the way for the state): a source's YAML files run to tens of
    /// megabytes for 10,000 tables. `None` when not writing (the caller renders to memory).
    fn stream_new(
        &self,
        path: &str,
        kind: FileKind,
        input: String,
        descriptions: Option<String>,
        render: impl FnOnce(&mut dyn std::io::Write) -> Result<(), GenerateError>,
    ) -> Result<Option<PlannedFile>, GenerateError> {
        let Sink::Write(w) = self else {
            return Ok(None);
        };
        let mut file = write::AtomicFile::create_new(&w.root.join(path))?;
        let mut out = HashingWriter {
            inner: &mut file,
            hasher: Sha256::new(),
            buf: Vec::with_capacity(HashingWriter::BLOCK),
        };
        render(&mut out)?;
        let sha256 = out.finish().map_err(|source| write::WriteError {
            path: w.root.join(path),
            source,
        })?;
        let stat = file.commit()?;
        w.written.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = w.state.lock().unwrap_or_else(|p| p.into_inner());
            state.record_sha256(path, sha256, Some(input.clone()));
            if let Some(r) = state.record_mut(path) {
                r.stat = stat;
                r.descriptions = descriptions;
            }
        }
        Ok(Some(PlannedFile {
            path: path.to_string(),
            kind,
            status: plan::FileStatus::New,
            action: Action::Write,
            merge: None,
            content: String::new(),
            input: Some(input),
            existing: None,
            stat,
            descriptions: None,
            defined_in: None,
            checksum: None,
        }))
    }
}

/// Hashes bytes and passes them on in blocks: a template writes every literal and value on
/// its own, millions of tiny writes for a large YAML file, each of which would otherwise go
/// through the hasher and the file's writer separately.
struct HashingWriter<'a> {
    inner: &'a mut dyn std::io::Write,
    hasher: Sha256,
    buf: Vec<u8>,
}

impl HashingWriter<'_> {
    const BLOCK: usize = 64 * 1024;

    fn drain(&mut self) -> std::io::Result<()> {
        self.hasher.update(&self.buf);
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is left; returns the SHA-256 (hex) of everything written.
    fn finish(mut self) -> std::io::Result<String> {
        self.drain()?;
        self.inner.flush()?;
        Ok(templates::hex(&self.hasher.finalize()))
    }
}

impl std::io::Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= Self::BLOCK {
            self.drain()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

/// Record in `state` what applying `f` leaves on disk.
fn record(state: &mut State, f: &PlannedFile) {
    // The project's own files are never recorded as datachonk's: they would stop counting
    // as the project's declarations.
    if f.kind == FileKind::ProjectYaml && f.action == Action::Write {
        state
            .project_edits
            .insert(f.path.clone(), state::sha256_hex(f.content.as_bytes()));
    }
    if f.kind == FileKind::ProjectYaml || f.status == plan::FileStatus::Exists {
        return;
    }
    match f.action {
        Action::Write => match &f.checksum {
            Some(sha256) => state.record_sha256(&f.path, sha256.clone(), f.input.clone()),
            None => state.record(&f.path, f.content.as_bytes(), f.input.clone()),
        },
        // Unchanged: record only what is not already recorded as is (the fast path leaves
        // `content` empty because the record already matches), adding a missing stat.
        Action::None if f.input.is_some() && state.input_of(&f.path) == f.input.as_deref() => {
            if let (Some(r), Some(stat)) = (state.record_mut(&f.path), f.stat) {
                r.stat = Some(stat);
            }
            return;
        }
        Action::None => state.record(&f.path, f.content.as_bytes(), f.input.clone()),
        Action::Skip => return,
    }
    if let Some(r) = state.record_mut(&f.path) {
        r.stat = f.stat;
        r.descriptions = f.descriptions.clone();
    }
}

fn plan_with(req: &Request, sink: &Sink) -> Result<Plan, GenerateError> {
    let mut timings = Timings::default();
    let mut metadata = load_metadata(&req.input, &req.config)?;
    timings.mark("read metadata");
    if let Some(source) = &req.config.source {
        for t in &mut metadata.tables {
            t.source = source.clone();
        }
    }
    let patterns = if req.selection.is_empty() {
        &req.config.tables
    } else {
        &req.selection
    };
    let mut state = State::load(&req.root)?;
    let mut project = project::read(&req.root, &state)?;
    project.overlay_manifest(&req.root, req.manifest.as_deref(), &|p| {
        state.checksum_of(p).is_some()
    })?;
    timings.mark("read project");
    apply_project(req, &project, &state, &mut metadata);
    metadata.sort();
    let mut selected = match req.input {
        Input::Spec => Vec::new(),
        _ => select::select(&metadata.tables, patterns, &req.config.exclude)?,
    };
    // A table a model of the person's already reads is staged: no second model for it,
    // unless asked for, or datachonk generates one already.
    let mut staged_elsewhere = 0;
    if !req.include_staged && !project.staged.is_empty() {
        selected.retain(|&i| {
            let t = &metadata.tables[i];
            let name = t.declared_name.as_deref().unwrap_or(&t.name);
            let ours = state
                .sources
                .get(&t.source)
                .is_some_and(|names| names.contains(&t.name));
            let staged = project
                .staged
                .contains(&(t.source.to_ascii_lowercase(), name.to_ascii_lowercase()));
            staged_elsewhere += usize::from(staged && !ours);
            ours || !staged
        });
    }
    let disk = DiskCheck {
        root: &req.root,
        state_mtime_ns: State::stats_written_at(&req.root),
        listings: Mutex::default(),
        edited_models: std::sync::OnceLock::new(),
    };
    timings.mark("select, read state");

    // A source's YAML files cover the tables selected now plus those generated before.
    let mut is_selected = vec![false; metadata.tables.len()];
    for &i in &selected {
        is_selected[i] = true;
    }
    let touched: BTreeSet<&str> = selected
        .iter()
        .map(|&i| metadata.tables[i].source.as_str())
        .collect();
    let excluded: Vec<select::Pattern> = req
        .config
        .exclude
        .iter()
        .map(|p| select::Pattern::parse(p))
        .collect();
    // Members of the touched sources (indexes into `metadata.tables`), with their input
    // fingerprints and whether they are selected.
    let members: Vec<usize> = (0..metadata.tables.len())
        .filter(|&i| {
            let t = &metadata.tables[i];
            is_selected[i]
                || (touched.contains(t.source.as_str())
                    && state
                        .sources
                        .get(&t.source)
                        .is_some_and(|names| names.contains(&t.name))
                    && !excluded.iter().any(|p| p.matches(t)))
        })
        .collect();
    // Hashing every table's metadata (~40 MB for 10,000 tables) is spread over the cores.
    let fingerprints = parallel::map(members.clone(), |i| {
        Ok::<_, std::convert::Infallible>(table_fingerprint(&metadata.tables[i]))
    })
    .unwrap_or_else(|never| match never {});
    let mut by_source: BTreeMap<&str, Vec<Member>> = BTreeMap::new();
    for (i, fingerprint) in members.into_iter().zip(fingerprints) {
        by_source
            .entry(metadata.tables[i].source.as_str())
            .or_default()
            .push(Member {
                index: i,
                fingerprint,
                selected: is_selected[i],
            });
    }
    let dialect = Dialect::parse(&req.config.dialect).unwrap_or(Dialect::Postgres);
    let templates = Templates::new(req.config.templates_dir.as_deref(), dialect)?;
    // The project's models and declarations decide only what `_models.yml` lists: they are
    // part of that file's input alone (a model entry appended to a person's file must not make
    // every staging model look re-derived).
    let base = base_fingerprint(&templates, &req.config, req.force);
    timings.mark("fingerprint inputs");

    // No-op fast path per source: when every file of a source is exactly what datachonk last
    // wrote from these same inputs, nothing needs deriving or rendering.
    let mut planned: BTreeMap<String, Vec<PlannedFile>> = Default::default();
    let mut slow: Vec<&Member> = Vec::new();
    for (name, members) in &by_source {
        let tables: Vec<(&metadata::Table, &Member)> = members
            .iter()
            .map(|m| (&metadata.tables[m.index], m))
            .collect();
        match unchanged_source(req, dialect, &base, name, &tables, &state, &disk, &project)? {
            Some(files) => {
                planned.insert(name.to_string(), files);
                state.sources.insert(
                    name.to_string(),
                    tables.iter().map(|(t, _)| t.name.clone()).collect(),
                );
            }
            None => slow.extend(members),
        }
    }
    timings.mark("check unchanged files");

    // The tables to render move out of the metadata into the contexts; the rest is freed.
    let source_names: Vec<String> = by_source.keys().map(|s| s.to_string()).collect();
    let inputs: HashMap<String, TableInput> = slow
        .iter()
        .map(|m| {
            let t = &metadata.tables[m.index];
            let input = TableInput {
                fingerprint: m.fingerprint,
                selected: m.selected,
            };
            (table_key(&t.source, &t.name), input)
        })
        .collect();
    let slow: Vec<usize> = slow.iter().map(|m| m.index).collect();
    drop(by_source);
    let mut all = std::mem::take(&mut metadata.tables);
    let slow: Vec<metadata::Table> = slow.iter().map(|&i| std::mem::take(&mut all[i])).collect();
    drop(all);
    let names = context::names(slow, &req.config);
    let config = to_value(&req.config);
    // What models planned while deriving see (each source's `base` and `dir` replace these).
    let shared = Shared {
        req,
        templates: &templates,
        config: &config,
        base: &base,
        dir: "",
        state: &state,
        disk: &disk,
        sink,
        project: &project,
    };
    // New staging models are written while the other tables' columns are still derived (the
    // writer is what the wall clock waits on); dropped on an error, it removes them again.
    let mut early = early::EarlyModels::start(&shared, &names, &inputs);
    let mut sources = context::columns(names, &req.config, |s, t, ctx| {
        if let Some(early) = &early {
            early.derived(&shared, s, t, ctx);
        }
    })?;
    let renamed = apply_sql_renames(req, &state, &disk, &mut sources);
    let sources: Vec<Arc<SourceCtx>> = sources.into_iter().map(Arc::new).collect();
    timings.mark("derive names, keys");
    let edits = plan_project_edits(req, &project, &sources)?;
    for f in edits {
        let f = sink.accept(f)?;
        planned.entry(String::new()).or_default().push(f);
    }
    for (index, source) in sources.iter().enumerate() {
        let dir = format!("{}/{}", req.config.output_dir, source.name);
        let mut files = Vec::new();
        plan_source(
            req,
            &templates,
            &config,
            &base,
            source,
            &inputs,
            &dir,
            &state,
            &disk,
            sink,
            &project,
            early.as_mut().map(|e| (e, index)),
            renamed.get(&source.name),
            &mut files,
        )?;
        planned.insert(source.name.clone(), files);
        state.sources.insert(
            source.name.clone(),
            source.tables.iter().map(|t| t.identifier.clone()).collect(),
        );
    }
    timings.mark("render, write files");
    // Entities, facts and metrics of the spec (datachonk/*.yml), when the project has one.
    let staging = marts::sql_stems(planned.values().flatten().map(|f| f.path.as_str()));
    let (marts, marts_warnings) =
        marts::render::plan(req, &templates, &state, &disk, sink, &project, &staging)?;
    if !marts.is_empty() {
        timings.mark("render, write marts");
    }
    // A sources file an earlier generate wrote for a source the project now declares itself.
    let mut warnings = project.warnings.clone();
    warnings.extend(marts_warnings);
    let mut notes = Vec::new();
    if staged_elsewhere > 0 {
        notes.push(format!(
            "{staged_elsewhere} selected table(s) are already read by models of the project: no new model for them (--include-staged stages them anyway)"
        ));
    }
    for name in &source_names {
        let ours = format!("{}/{name}/_{name}__sources.yml", req.config.output_dir);
        if let Some(d) = project.declared(name) {
            if state.checksum_of(&ours).is_some() && req.root.join(&ours).exists() {
                warnings.push(format!(
                    "{ours} (written by an earlier generate) and {} both declare source {name}, which dbt refuses: delete {ours}",
                    d.file
                ));
            }
        }
    }
    // Fast-path files need no recording: their record already matches.
    let files: Vec<PlannedFile> = planned.into_values().flatten().chain(marts).collect();
    parallel::drop_later((sources, inputs));
    Ok(Plan {
        files,
        state,
        sources: source_names,
        tables: selected.len(),
        timings,
        warnings,
        notes,
    })
}

/// A person's renames in generated staging models (`id as order_id`) become the columns'
/// aliases, so the model's YAML follows the SQL. Only models datachonk wrote and a person
/// edited since are read (size and mtime first, then the checksum).
/// Returns, per source with renames, a digest of them: the YAML files' input fingerprint
/// takes it, so that a rename is not mistaken for an unchanged input.
fn apply_sql_renames(
    req: &Request,
    state: &State,
    disk: &DiskCheck,
    sources: &mut [SourceCtx],
) -> HashMap<String, [u8; 32]> {
    let mut digests = HashMap::new();
    let mut edited = BTreeSet::new();
    if req.force {
        // `--force` renders every model afresh, renames included.
        let _ = disk.edited_models.set(edited);
        return digests;
    }
    for source in sources.iter_mut() {
        let mut digest: Option<Sha256> = None;
        for t in source.tables.iter_mut() {
            let path = format!(
                "{}/{}/{}.sql",
                req.config.output_dir, source.name, t.model_name
            );
            let Some(recorded) = state.checksum_of(&path) else {
                continue;
            };
            let full = req.root.join(&path);
            let Ok(meta) = std::fs::metadata(&full) else {
                continue;
            };
            let now = state::FileStat::of(&meta);
            if let (Some(r), Some(n)) = (state.stat_of(&path), now) {
                if r.trusted(&n, disk.state_mtime_ns) {
                    continue;
                }
            }
            let Ok(sql) = std::fs::read_to_string(&full) else {
                continue;
            };
            if state::sha256_hex(sql.as_bytes()) == recorded {
                continue;
            }
            edited.insert(path.clone());
            for (raw, alias) in renames::renames(&sql) {
                let Some(c) = t
                    .columns
                    .iter_mut()
                    .find(|c| c.name().eq_ignore_ascii_case(&raw) || c.quoted_name() == raw)
                else {
                    continue;
                };
                if c.alias() != alias {
                    if t.primary_key.as_deref() == Some(c.alias()) {
                        t.primary_key = Some(alias.clone());
                    }
                    c.set_alias(&alias);
                    let d = digest.get_or_insert_with(Sha256::new);
                    for part in [t.model_name.as_str(), c.name(), alias.as_str()] {
                        d.update((part.len() as u64).to_le_bytes());
                        d.update(part.as_bytes());
                    }
                }
            }
        }
        if let Some(d) = digest {
            digests.insert(source.name.clone(), d.finalize().into());
        }
    }
    let _ = disk.edited_models.set(edited);
    digests
}

/// Plan against what the project declares: its own catalog nodes (models, snapshots, tests)
/// and, from a live database, the relations its models build are not inputs (unless selected
/// by name); a table of a source the project declares takes that source's name, and its
/// declared name when the declaration lists it.
fn apply_project(
    req: &Request,
    project: &project::Project,
    state: &State,
    metadata: &mut Metadata,
) {
    let named: Vec<select::Pattern> = req
        .selection
        .iter()
        .filter(|p| !p.contains(['*', '?']))
        .map(|p| select::Pattern::parse(p))
        .collect();
    let generated: BTreeSet<String> = state
        .files
        .keys()
        .filter_map(|p| p.strip_suffix(".sql"))
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase())
        .collect();
    let live = matches!(req.input, Input::Postgres(_) | Input::Warehouse(_));
    metadata.tables.retain(|t| {
        let own = t.project_node
            || (live
                && (generated.contains(&t.name.to_ascii_lowercase())
                    || project.model_file(&t.name).is_some()));
        !own || named.iter().any(|p| p.matches(t))
    });
    for t in &mut metadata.tables {
        if let Some(d) = project.source_for(&t.source, t.database.as_deref(), &t.schema) {
            t.source = d.name.clone();
            t.declared_name = d.table(&t.name).map(|dt| dt.name.clone());
        }
    }
}

/// Additions to the project's own properties files: tables of a source it declares that its
/// declaration lacks, and columns missing from declared tables that list columns.
fn plan_project_edits(
    req: &Request,
    project: &project::Project,
    sources: &[Arc<SourceCtx>],
) -> Result<Vec<PlannedFile>, GenerateError> {
    let mut additions = Vec::new();
    for s in sources {
        let Some(d) = project.declared(&s.name) else {
            continue;
        };
        let mut add = project::Additions::default();
        for t in &s.tables {
            match d.table(&t.identifier) {
                None => add.tables.push(t),
                Some(dt) if !dt.columns.is_empty() => {
                    let missing: Vec<String> = t
                        .columns
                        .iter()
                        .filter(|c| {
                            !dt.columns
                                .iter()
                                .any(|(n, _)| n.eq_ignore_ascii_case(c.name()))
                        })
                        .map(|c| c.name().to_string())
                        .collect();
                    if !missing.is_empty() {
                        add.columns.push((dt.name.clone(), missing));
                    }
                }
                Some(_) => {}
            }
        }
        if !add.tables.is_empty() || !add.columns.is_empty() {
            additions.push((s.as_ref(), d, add));
        }
    }
    let files: BTreeSet<&str> = additions.iter().map(|(_, d, _)| d.file.as_str()).collect();
    let mut out = Vec::new();
    for rel in files {
        let full = req.root.join(rel);
        let text = std::fs::read_to_string(&full)
            .map_err(|source| GenerateError::Read { path: full, source })?;
        if let Some(new) = project::edit(&req.root, rel, &text, project, &additions)? {
            out.push(plan::project_edit(rel, text, new));
        }
    }
    Ok(out)
}

/// A table of a touched source: where it is in the metadata and what its files derive from.
struct Member {
    index: usize,
    fingerprint: [u8; 32],
    selected: bool,
}

/// Whether a table's staging model is generated, with its input fingerprint: when it is
/// selected, unless the project already has a model of that name in a file datachonk did not
/// write (`Err`: that file).
fn generated_model<'a>(
    project: &'a project::Project,
    input: Option<&'a TableInput>,
    model_name: &str,
) -> Result<Option<&'a [u8; 32]>, &'a str> {
    let Some(input) = input.filter(|t| t.selected) else {
        return Ok(None);
    };
    match project.model_file(model_name) {
        Some(other) => Err(other),
        None => Ok(Some(&input.fingerprint)),
    }
}

/// The base fingerprint of a source's files: `base` and the parts of the source they show.
fn source_base(
    base: &Sha256,
    name: &str,
    database: Option<&str>,
    schema: &str,
    quote_schema: bool,
) -> Sha256 {
    let source_ref = SourceRef {
        name,
        database,
        schema,
        quote_schema,
    };
    let mut b = base.clone();
    let _ = serde_json::to_vec(&source_ref).map(|v| b.update(v));
    b
}

/// What planning needs of a table once it has moved into its context.
struct TableInput {
    fingerprint: [u8; 32],
    selected: bool,
}

/// Key of [`TableInput`]s: source and raw table name.
fn table_key(source: &str, table: &str) -> String {
    format!("{source}\0{table}")
}

/// The parts of a source a staging model sees (no `tables`: rendering 10,000 models must not
/// copy the whole source into each context).
#[derive(Serialize)]
struct SourceRef<'a> {
    name: &'a str,
    database: Option<&'a str>,
    schema: &'a str,
    quote_schema: bool,
}

/// Hashes everything a rendered file depends on besides its own context: templates,
/// datachonk's version and the resolved config. Cloned per file, then fed the context.
fn base_fingerprint(templates: &Templates, config: &GenerateConfig, force: bool) -> Sha256 {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(templates.fingerprint.as_bytes());
    h.update(serde_json::to_vec(config).unwrap_or_default());
    h.update([u8::from(force)]);
    h
}

/// Fingerprint of one raw table (what its generated files are derived from, with the config).
fn table_fingerprint(t: &metadata::Table) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field(&t.source);
    field(t.database.as_deref().unwrap_or("\0"));
    field(&t.schema);
    field(&t.name);
    field(t.kind.as_deref().unwrap_or("\0"));
    // The name files use (declared, else derived): the same before and after a run adds the
    // table to the project's declaration.
    field(&context::dbt_name(t));
    field(t.description.as_deref().unwrap_or("\0"));
    for c in &t.columns {
        field(&c.name);
        field(&c.data_type);
        field(c.description.as_deref().unwrap_or("\0"));
        field(if c.is_primary_key { "pk" } else { "" });
    }
    h.finalize().into()
}

/// A file's input fingerprint: the base, the file kind, the source and the tables it covers.
fn fingerprint<'a>(
    base: &Sha256,
    kind: &str,
    tables: impl IntoIterator<Item = &'a [u8; 32]>,
) -> String {
    let mut h = base.clone();
    h.update(kind.as_bytes());
    for t in tables {
        h.update(t);
    }
    templates::hex(&h.finalize())
}

/// The input fingerprint of a source's `_models.yml`: its tables and what the project has
/// (which models it already has a file or properties entry for is what the file lists).
fn models_fingerprint<'a>(
    base: &Sha256,
    project: &project::Project,
    tables: impl IntoIterator<Item = &'a [u8; 32]>,
) -> String {
    let mut b = base.clone();
    b.update(project.render_fingerprint().as_bytes());
    fingerprint(&b, "models.yml", tables)
}

/// All of a source's files, when each is unchanged by the fast path (see
/// [`DiskCheck::unchanged`]); `None` as soon as one is not.
#[allow(clippy::too_many_arguments)]
fn unchanged_source(
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
    let dir = format!("{}/{name}", req.config.output_dir);
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
struct DiskCheck<'a> {
    root: &'a Path,
    /// When the stat cache was written (see [`state::FileStat::trusted`]).
    state_mtime_ns: Option<u64>,
    /// Names in each output folder, read once: a file that is not there is known to be new
    /// without trying to open it (10,000 failed opens on a first run otherwise).
    listings: Mutex<HashMap<PathBuf, Arc<BTreeSet<std::ffi::OsString>>>>,
    /// Staging models datachonk wrote that a person has edited since (see
    /// [`apply_sql_renames`]): theirs to keep, even when rendering now gives their bytes.
    edited_models: std::sync::OnceLock<BTreeSet<String>>,
}

impl DiskCheck<'_> {
    /// Whether `full` is in its folder's listing (`true` when the folder cannot be listed:
    /// then reading the file decides).
    fn listed(&self, full: &Path) -> bool {
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
enum OnDisk {
    /// Exactly what datachonk last wrote from these inputs: nothing to render.
    Unchanged(Box<PlannedFile>),
    /// Anything else: its bytes, or `None` when there is no file.
    Other(Option<Vec<u8>>),
}

impl DiskCheck<'_> {
    /// The no-op fast path for `path`: unchanged when its recorded input is `input` and the
    /// file is what was recorded, by size and mtime when those match the record (no read),
    /// else by checksum. A file edited by hand changes its mtime even at the same size.
    fn check(
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

/// Plans one source's files: its two YAML files and the selected tables' models. The YAML
/// files (one long render each) are rendered on their own thread while the models are
/// rendered on the others.
#[allow(clippy::too_many_arguments)]
fn plan_source(
    req: &Request,
    templates: &Templates,
    config: &Value,
    base: &Sha256,
    source: &Arc<SourceCtx>,
    inputs: &HashMap<String, TableInput>,
    dir: &str,
    state: &State,
    disk: &DiskCheck,
    sink: &Sink,
    project: &project::Project,
    early: Option<(&mut early::EarlyModels, usize)>,
    renamed: Option<&[u8; 32]>,
    files: &mut Vec<PlannedFile>,
) -> Result<(), GenerateError> {
    let base = source_base(
        base,
        &source.name,
        source.database.as_deref(),
        &source.schema,
        source.quote_schema,
    );
    let table_inputs: Vec<Option<&TableInput>> = source
        .tables
        .iter()
        .map(|t| inputs.get(&table_key(&source.name, &t.identifier)))
        .collect();
    let table_fps: Vec<&[u8; 32]> = table_inputs
        .iter()
        .filter_map(|i| i.map(|i| &i.fingerprint))
        .chain(renamed)
        .collect();
    let mut chosen: Vec<(usize, &[u8; 32])> = Vec::new();
    for (i, (t, input)) in source.tables.iter().zip(&table_inputs).enumerate() {
        match generated_model(project, *input, &t.model_name) {
            Ok(Some(fp)) => chosen.push((i, fp)),
            Ok(None) => {}
            Err(other) => files.push(plan::exists(&format!("{dir}/{}.sql", t.model_name), other)),
        }
    }
    // `_models.yml` lists the models the project has no file or properties entry for.
    let listed: Vec<usize> = (0..source.tables.len())
        .filter(|&i| {
            let m = &source.tables[i].model_name;
            project.model_file(m).is_none() && project.properties_entry(m).is_none()
        })
        .collect();
    let models_source = if listed.is_empty() {
        None
    } else if listed.len() == source.tables.len() {
        Some(source.clone())
    } else {
        Some(Arc::new(SourceCtx {
            name: source.name.clone(),
            database: source.database.clone(),
            schema: source.schema.clone(),
            quote_schema: source.quote_schema,
            schema_configured: source.schema_configured,
            tables: listed.iter().map(|&i| source.tables[i].clone()).collect(),
        }))
    };
    let declared = project.declared(&source.name).is_some();
    let source_value = staging_source(source);
    let shared = Shared {
        req,
        templates,
        config,
        base: &base,
        dir,
        state,
        disk,
        sink,
        project,
    };
    let (yaml, models) = std::thread::scope(|scope| {
        let yaml = scope.spawn(|| {
            plan_yaml(
                &shared,
                (!declared).then_some(source),
                models_source.as_ref(),
                &table_fps,
            )
        });
        let models = match early {
            // Planned (and the new ones written) while the columns were derived.
            Some((early, index)) => early.models_of(sink, index).and_then(|done| {
                early::finish_models(&shared, &source_value, source, &chosen, done)
            }),
            None => render_models(&shared, &source_value, source, &chosen),
        };
        let yaml = yaml.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (yaml, models)
    });
    files.extend(yaml?);
    files.extend(models?);
    Ok(())
}

/// What every file of a source is planned with.
struct Shared<'a> {
    req: &'a Request,
    templates: &'a Templates,
    config: &'a Value,
    /// Fingerprint of the inputs common to the source's files.
    base: &'a Sha256,
    dir: &'a str,
    state: &'a State,
    disk: &'a DiskCheck<'a>,
    sink: &'a Sink<'a>,
    project: &'a project::Project,
}

/// What `staging_model.sql` sees as `source`: the schema as files show it (the fingerprint
/// hashes the raw one, as the fast path does).
fn staging_source(source: &SourceCtx) -> Value {
    to_value(SourceRef {
        name: &source.name,
        database: source.database.as_deref(),
        schema: &source.schema_text(),
        quote_schema: source.quote_schema,
    })
}

/// The context of `staging_model.sql` for table `t` (`source_value`: [`staging_source`]).
fn staging_context(
    source_value: &Value,
    source: &Arc<SourceCtx>,
    t: usize,
    config: &Value,
    dialect: &str,
) -> Value {
    minijinja::context! {
        source => source_value.clone(),
        table => values::table(source, t),
        config => config.clone(),
        dialect => dialect,
    }
}

/// The context of `sources.yml`.
fn sources_context(source: &Arc<SourceCtx>, config: &Value, dialect: &str) -> Value {
    let source_value = minijinja::context! {
        name => source.name.clone(),
        database => source.database.clone(),
        schema => source.schema_text(),
        quote_schema => source.quote_schema,
        tables => values::tables(source),
    };
    minijinja::context! { source => source_value, config => config.clone(), dialect => dialect }
}

/// The context of `models.yml`: `source` merged with the existing file (see [`merge`]).
fn models_context(
    source: &Arc<SourceCtx>,
    merged: &Arc<merge::ModelsSource>,
    kept_models: Vec<String>,
    extra: String,
    config: &Value,
    dialect: &str,
) -> Value {
    minijinja::context! {
        source => minijinja::context! {
            name => source.name.clone(),
            schema => source.schema_text(),
            tables => values::models_tables(source, merged),
        },
        kept_models => kept_models,
        extra => extra,
        config => config.clone(),
        dialect => dialect,
    }
}

/// Writes a rendered file into the writer it is given.
type Render<'a> = Box<dyn Fn(&mut dyn std::io::Write) -> Result<(), GenerateError> + 'a>;

/// Template `name` rendered by minijinja with `ctx`.
fn by_template<'a>(templates: &'a Templates, name: &'static str, ctx: Value) -> Render<'a> {
    Box::new(move |out| Ok(templates.render_to(name, ctx.clone(), out)?))
}

/// How to render one of a source's YAML files, once the fast path has failed.
struct YamlRender<'a> {
    /// Writes the file: the built-in template's native form ([`native`]), or minijinja with
    /// the template's context when the project overrides it.
    render: Render<'a>,
    report: Option<merge::MergeReport>,
    /// What to record as the file's generated descriptions (`_models.yml`).
    descriptions: Option<String>,
}

/// `_<source>__sources.yml` and `_<source>__models.yml` (merged with the existing file).
fn plan_yaml(
    sh: &Shared,
    sources_of: Option<&Arc<SourceCtx>>,
    models_of: Option<&Arc<SourceCtx>>,
    table_fps: &[&[u8; 32]],
) -> Result<Vec<PlannedFile>, GenerateError> {
    let dialect = sh.req.config.dialect.as_str();
    let sources = |source: &Arc<SourceCtx>| {
        yaml_file(
            sh,
            format!("{}/_{}__sources.yml", sh.dir, source.name),
            FileKind::SourcesYaml,
            fingerprint(sh.base, "sources.yml", table_fps.iter().copied()),
            |(path, _)| {
                let render: Render = if sh.templates.is_builtin(templates::SOURCES_YAML) {
                    let full_path = sh.req.root.join(path);
                    Box::new(move |out| {
                        native::sources_yaml(out, source, &sh.req.config)
                            .map_err(|e| write_error(&full_path, e))
                    })
                } else {
                    let ctx = sources_context(source, sh.config, dialect);
                    by_template(sh.templates, templates::SOURCES_YAML, ctx)
                };
                Ok(YamlRender {
                    render,
                    report: None,
                    descriptions: None,
                })
            },
        )
    };
    let models = |source: &Arc<SourceCtx>| {
        let path = format!("{}/_{}__models.yml", sh.dir, source.name);
        if sh.state.checksum_of(&path).is_none() {
            if let Some(text) = read_optional(&sh.req.root.join(&path))? {
                return append_to_persons_models(sh, &path, text, source);
            }
        }
        yaml_file(
            sh,
            format!("{}/_{}__models.yml", sh.dir, source.name),
            FileKind::ModelsYaml,
            models_fingerprint(sh.base, sh.project, table_fps.iter().copied()),
            |(path, on_disk)| {
                let existing = match (on_disk, sh.req.force) {
                    (Some(b), false) => Some(String::from_utf8_lossy(b).into_owned()),
                    _ => None,
                };
                let generated = sh
                    .state
                    .descriptions_of(path)
                    .and_then(merge::GeneratedDescriptions::parse);
                let full_path = sh.req.root.join(path);
                let (merged, mut kept_models, extra, mut report) = merge::models_context(
                    source,
                    existing.as_deref().map(|t| (full_path.as_path(), t)),
                    generated.as_ref(),
                )?;
                // A model the project describes in a file of its own keeps only that entry
                // (dbt refuses two), even one datachonk wrote here before.
                let names = std::mem::take(&mut report.kept_models);
                let mut texts = std::mem::take(&mut kept_models).into_iter();
                for name in names {
                    let text = texts.next().unwrap_or_default();
                    if sh.project.properties_entry(&name).is_some() {
                        report.dropped_models.push(name);
                    } else {
                        report.kept_models.push(name);
                        kept_models.push(text);
                    }
                }
                let render: Render = if sh.templates.is_builtin(templates::MODELS_YAML) {
                    Box::new(move |out| {
                        native::models_yaml(out, source, &merged, &kept_models, &extra)
                            .map_err(|e| write_error(&full_path, e))
                    })
                } else {
                    let merged = Arc::new(merged);
                    let ctx =
                        models_context(source, &merged, kept_models, extra, sh.config, dialect);
                    by_template(sh.templates, templates::MODELS_YAML, ctx)
                };
                Ok(YamlRender {
                    render,
                    report: existing.map(|_| report),
                    descriptions: Some(merge::GeneratedDescriptions::of(source).to_text()),
                })
            },
        )
    };
    // Two long renders: one each on its own thread.
    let (sources, models) = std::thread::scope(|scope| {
        let sources = scope.spawn(|| sources_of.map(sources).transpose());
        let models = models_of.map(models).transpose();
        let sources = sources
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (sources, models)
    });
    Ok(sources?.into_iter().chain(models?).collect())
}

/// `_<source>__models.yml` exists but datachonk never wrote it: it is the person's. The
/// entries of the models it lacks are appended to its `models:` list; nothing else changes.
fn append_to_persons_models(
    sh: &Shared,
    path: &str,
    text: Vec<u8>,
    source: &Arc<SourceCtx>,
) -> Result<PlannedFile, GenerateError> {
    let text = String::from_utf8(text).map_err(|_| GenerateError::Read {
        path: sh.req.root.join(path),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })?;
    let (merged, _, _, _) = merge::models_context(source, None, None)?;
    let mut block = Vec::new();
    native::models_yaml(&mut block, source, &merged, &[], "")
        .map_err(|e| write_error(&sh.req.root.join(path), e))?;
    let block = String::from_utf8_lossy(&block);
    let names: Vec<String> = source.tables.iter().map(|t| t.model_name.clone()).collect();
    let new = project::append_models(
        &sh.req.root,
        path,
        &text,
        sh.project.models_lists.get(path),
        &block,
        &names,
    )?;
    sh.sink.accept(plan::project_edit(path, text, new))
}

/// One YAML file of a source: unchanged by the fast path, else rendered from the context
/// `prepare` makes (given the path and the file's bytes, when it exists) — straight to disk
/// when the file is new and the plan writes, else to memory and compared with the disk.
fn yaml_file<'r>(
    sh: &Shared,
    path: String,
    kind: FileKind,
    input: String,
    prepare: impl FnOnce((&str, Option<&[u8]>)) -> Result<YamlRender<'r>, GenerateError>,
) -> Result<PlannedFile, GenerateError> {
    let on_disk = match sh.disk.check(&path, kind, &input, sh.state)? {
        OnDisk::Unchanged(f) => return Ok(*f),
        OnDisk::Other(bytes) => bytes,
    };
    let YamlRender {
        render,
        report,
        descriptions,
    } = prepare((&path, on_disk.as_deref()))?;
    if on_disk.is_none() {
        let streamed =
            sh.sink
                .stream_new(&path, kind, input.clone(), descriptions.clone(), &render)?;
        if let Some(f) = streamed {
            return Ok(f);
        }
    }
    let mut content = Vec::new();
    render(&mut content)?;
    // Both renderers write only text.
    let content = String::from_utf8(content)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let mut f = plan::classify(
        &path,
        kind,
        content,
        Some(input),
        on_disk,
        sh.state,
        sh.req.force,
        report,
    );
    f.descriptions = descriptions;
    sh.sink.accept(f)
}

/// Staging models of the tables at `chosen` (indexes into `source.tables`, with their input
/// fingerprints), rendered on every core (each file is independent; order is kept). When
/// writing, one thread writes what the others render: files created in one folder from
/// several threads wait on the folder's lock, and cost more than one writer.
fn render_models(
    sh: &Shared,
    source_value: &Value,
    source: &Arc<SourceCtx>,
    chosen: &[(usize, &[u8; 32])],
) -> Result<Vec<PlannedFile>, GenerateError> {
    let dialect = sh.req.config.dialect.as_str();
    let builtin = sh.templates.is_builtin(templates::STAGING_MODEL);
    let writing = matches!(sh.sink, Sink::Write(_));
    let render = |&(i, fp): &(usize, &[u8; 32])| -> Result<PlannedFile, GenerateError> {
        let t = &source.tables[i];
        plan_model(sh, t, fp, || {
            if builtin {
                return Ok(native::staging_model(&source.name, t));
            }
            let ctx = staging_context(source_value, source, i, sh.config, dialect);
            Ok(sh.templates.render(templates::STAGING_MODEL, ctx)?)
        })
    };
    if !writing || chosen.len() < 64 {
        return parallel::map(chosen.to_vec(), |item| {
            render(&item).and_then(|f| sh.sink.accept(f))
        });
    }
    // Files travel to the writer in batches: one per file cost ~3.5 futex calls per file
    // (a wake-up of the writer, a renderer blocked on the full queue) besides its 4 file calls.
    const BATCH: usize = 16;
    type Batch = Vec<(usize, Result<PlannedFile, GenerateError>)>;
    let n = chosen.len();
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<PlannedFile>> = (0..n).map(|_| None).collect();
    let mut failed: Option<(usize, GenerateError)> = None;
    // A bounded queue (256 files): rendered files wait for the writer, not in memory all at once.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(256 / BATCH);
    std::thread::scope(|scope| {
        for _ in 0..parallel::threads() {
            let (tx, next, render) = (tx.clone(), &next, &render);
            scope.spawn(move || loop {
                let start = next.fetch_add(BATCH, Ordering::Relaxed);
                let Some(items) = chosen.get(start..(start + BATCH).min(n)) else {
                    break;
                };
                if items.is_empty() {
                    break;
                }
                let mut batch = Vec::with_capacity(items.len());
                let mut stop = false;
                for (i, item) in (start..).zip(items) {
                    let r = render(item);
                    stop = r.is_err();
                    batch.push((i, r));
                    if stop {
                        break;
                    }
                }
                if tx.send(batch).is_err() || stop {
                    break;
                }
            });
        }
        drop(tx);
        for (i, r) in rx.into_iter().flatten() {
            match r.and_then(|f| sh.sink.accept(f)) {
                Ok(f) => out[i] = Some(f),
                Err(e) => {
                    // The first error in input order wins; the renderers stop.
                    next.store(n, Ordering::Relaxed);
                    if failed.as_ref().is_none_or(|(j, _)| i < *j) {
                        failed = Some((i, e));
                    }
                }
            }
        }
    });
    if let Some((_, e)) = failed {
        return Err(e);
    }
    Ok(out.into_iter().flatten().collect())
}

/// The staging model of table `t` (input fingerprint `fp`): the fast path's verdict, else
/// `content()` compared with the disk. A file to write is hashed here, by the thread that
/// rendered it, not by the one that writes.
fn plan_model(
    sh: &Shared,
    t: &context::TableCtx,
    fp: &[u8; 32],
    content: impl FnOnce() -> Result<String, GenerateError>,
) -> Result<PlannedFile, GenerateError> {
    let path = format!("{}/{}.sql", sh.dir, t.model_name);
    let input = fingerprint(sh.base, "staging_model.sql", [fp]);
    let on_disk = match sh
        .disk
        .check(&path, FileKind::StagingModel, &input, sh.state)?
    {
        OnDisk::Unchanged(f) => return Ok(*f),
        OnDisk::Other(bytes) => bytes,
    };
    let mut f = plan::classify(
        &path,
        FileKind::StagingModel,
        content()?,
        Some(input),
        on_disk,
        sh.state,
        sh.req.force,
        None,
    );
    // A person's edit that rendering now matches (their renames are followed) stays theirs:
    // recording their bytes as datachonk's would let the next run revert the renames.
    if f.status == plan::FileStatus::Unchanged
        && sh
            .disk
            .edited_models
            .get()
            .is_some_and(|e| e.contains(&path))
    {
        f.status = plan::FileStatus::EditedByHand;
        f.action = Action::Skip;
        f.existing = Some(f.content.clone());
    }
    if matches!(sh.sink, Sink::Write(_)) && f.action == Action::Write {
        f.checksum = Some(state::sha256_hex(f.content.as_bytes()));
    }
    Ok(f)
}

/// An I/O error of the file being written.
fn write_error(path: &Path, source: std::io::Error) -> GenerateError {
    write::WriteError {
        path: path.to_path_buf(),
        source,
    }
    .into()
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, GenerateError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GenerateError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Render the commit message `push` uses for these planned files.
pub fn commit_message(
    templates: &Templates,
    plan: &Plan,
    input: &Input,
) -> Result<String, TemplateError> {
    let files: Vec<_> = plan
        .files
        .iter()
        .filter(|f| f.action == Action::Write)
        .map(|f| minijinja::context! { path => f.path.clone(), status => f.status.label() })
        .collect();
    let s = plan::summarize(&plan.files);
    templates.render(
        templates::COMMIT_MESSAGE,
        minijinja::context! {
            sources => plan.sources.clone(),
            files => files,
            summary => to_value(s),
            input => input.describe(),
        },
    )
}

/// A template value from any serde value (minijinja 3: through `Serde`).
pub fn to_value<T: Serialize>(t: T) -> Value {
    Value::from(minijinja::value::Serde(t))
}
