//! Staging models written while the columns of the other tables are still being derived.
//!
//! Writing 10,000 new files is what the wall clock of a first `generate` waits on (one thread,
//! mostly in the kernel), and it used to start only once every table's context was derived.
//! Here each table's model is rendered by the thread that derived the table, right after, and
//! a writer thread creates the new ones meanwhile. Only new files are written this early: a
//! run whose deriving fails (a bad column name, an alias collision…) must leave the disk as it
//! was, and a file that did not exist is the only one that can be put back (by removing it).
//! Nothing is recorded in the state until deriving has succeeded; until then, dropping
//! [`EarlyModels`] removes what it wrote.
//!
//! Only when writing (not `--dry-run`, `--diff`, `--check`) with the built-in staging template
//! (minijinja would need the whole source's context, made only once all tables are derived).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use minijinja::Value;
use sha2::Sha256;

use crate::generate::plan::context::{Names, SourceCtx, TableCtx};
use crate::generate::plan::file::{Action, FileStatus, PlannedFile};
use crate::generate::plan::inputs::{generated_model, source_base, table_key, TableInput};
use crate::generate::reconcile::record::record;
use crate::generate::render::models::{plan_model, render_models};
use crate::generate::render::native;
use crate::generate::render::shared::Shared;
use crate::generate::request::GenerateError;
use crate::generate::write::sink::{write_file, Sink};
use crate::templates;

/// Models travel to the writer in batches: one message per file costs futex calls (a
/// wake-up of the writer) besides the file's own system calls.
const BATCH: usize = 16;

/// How many models may wait for the writer: what the deriving threads render ahead of it
/// stays in memory until written.
const QUEUED: usize = 256;

/// A model planned by a deriving thread: source and table index, and the planned file.
type Rendered = (usize, usize, Result<PlannedFile, GenerateError>);

/// Whether the writer writes `f` as soon as it gets it: a new file (the only kind a failed
/// run can put back, by removing it). Its content is then dropped: it is recorded by its
/// checksum. Any other file (unchanged, changed, edited by hand) waits for the sink.
fn written_early(f: &PlannedFile) -> bool {
    f.status == FileStatus::New && f.action == Action::Write
}

/// What a source's models are planned with.
struct EarlySource {
    name: String,
    /// The base fingerprint of the source's files (see [`source_base`]).
    base: Sha256,
    dir: String,
    /// Per table: its input fingerprint when its model is generated.
    fingerprints: Vec<Option<[u8; 32]>>,
}

/// Buffers the writer is done with, for the deriving threads to render the next models into.
/// Each thread's contexts are allocated between the models it renders: a model's text freed
/// by the writer would leave a hole there that the allocator cannot give back (~12 MiB of
/// peak memory for 10,000 models), where a buffer that goes round is allocated once.
#[derive(Default)]
struct Buffers(Mutex<Vec<String>>);

impl Buffers {
    /// More than the queue holds is never needed.
    const MAX: usize = QUEUED + 2 * BATCH;

    fn take(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn give(&self, buffer: String) {
        let mut free = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < Self::MAX {
            free.push(buffer);
        }
    }
}

/// What the writer thread did.
struct Outcome {
    /// Per source, per table: its model, when it was given one (written when
    /// [`written_early`], unless the writer failed).
    models: Vec<Vec<Option<PlannedFile>>>,
    /// The first error in input order (source, table), after which nothing more is written.
    failed: Option<((usize, usize), GenerateError)>,
}

/// The models planned and written while deriving (see the module's doc).
pub(crate) struct EarlyModels {
    sources: Vec<EarlySource>,
    /// Models waiting to fill a batch.
    batch: Mutex<Vec<Rendered>>,
    buffers: Arc<Buffers>,
    tx: Option<SyncSender<Vec<Rendered>>>,
    writer: Option<JoinHandle<Outcome>>,
    root: PathBuf,
    /// Folders that did not exist (the writer may create them), deepest first: removed with
    /// the files when the run fails.
    new_dirs: Vec<PathBuf>,
    /// Per source, the writer's models, once deriving has succeeded and the writer is done.
    done: Vec<Vec<Option<PlannedFile>>>,
}

impl EarlyModels {
    /// Starts the writer, when `sh` writes with the built-in staging template, deriving can
    /// succeed, and some model is to be generated; `None` otherwise (models are then planned
    /// after deriving, as they always were).
    pub(crate) fn start(
        sh: &Shared,
        names: &Names,
        inputs: &HashMap<String, TableInput>,
    ) -> Option<EarlyModels> {
        let Sink::Write(w) = sh.sink else {
            return None;
        };
        if names.will_fail() || !sh.templates.is_builtin(templates::STAGING_MODEL) {
            return None;
        }
        let cfg = &sh.req.config;
        let sources: Vec<EarlySource> = names
            .sources
            .iter()
            .map(|s| EarlySource {
                base: source_base(
                    sh.base,
                    &s.name,
                    cfg.database.as_deref(),
                    &s.schema,
                    s.quote_schema,
                ),
                dir: sh.project.source_dir(&cfg.output_dir, &s.name, sh.state),
                fingerprints: s
                    .tables
                    .iter()
                    .map(|t| {
                        let input = inputs.get(&table_key(&s.name, t.identifier()));
                        generated_model(sh.project, input, &t.model_name)
                            .ok()
                            .flatten()
                            .copied()
                    })
                    .collect(),
                name: s.name.clone(),
            })
            .collect();
        let generating = |s: &&EarlySource| s.fingerprints.iter().any(Option::is_some);
        if !sources.iter().any(|s| generating(&s)) {
            return None;
        }
        let new_dirs = missing_dirs(&w.root, sources.iter().filter(generating).map(|s| &s.dir));
        let counts: Vec<usize> = sources.iter().map(|s| s.fingerprints.len()).collect();
        let root = w.root.clone();
        let buffers = Arc::new(Buffers::default());
        let returned = buffers.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUED / BATCH);
        let writer = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || write_new(&root, rx, counts, &returned))
            .ok()?;
        Some(EarlyModels {
            sources,
            batch: Mutex::default(),
            buffers,
            root: w.root.clone(),
            tx: Some(tx),
            writer: Some(writer),
            new_dirs,
            done: Vec::new(),
        })
    }

    /// Called on the deriving thread once table `t` of source `s` is derived (`ctx`): plans
    /// its model, when it is generated, and hands it to the writer.
    pub(crate) fn derived(&self, sh: &Shared, s: usize, t: usize, ctx: &TableCtx) {
        let Some(source) = self.sources.get(s) else {
            return;
        };
        let Some(Some(fp)) = source.fingerprints.get(t) else {
            return;
        };
        let sh = Shared {
            base: &source.base,
            dir: &source.dir,
            ..*sh
        };
        let planned = plan_model(&sh, ctx, fp, || {
            let mut buffer = self.buffers.take();
            native::staging_model_into(&mut buffer, &source.name, ctx);
            Ok(buffer)
        });
        let full = {
            let mut batch = self.batch.lock().unwrap_or_else(|p| p.into_inner());
            batch.push((s, t, planned));
            (batch.len() >= BATCH).then(|| std::mem::take(&mut *batch))
        };
        if let (Some(batch), Some(tx)) = (full, &self.tx) {
            // The writer ends only once the sender is dropped: a failed send cannot happen.
            let _ = tx.send(batch);
        }
    }

    /// Source `index`'s models (by table index), once deriving has succeeded. The first call
    /// waits for the writer and records in the state every file it wrote (from then on, they
    /// stay whatever happens); it fails with the writer's error, if any.
    pub(crate) fn models_of(
        &mut self,
        sink: &Sink,
        index: usize,
    ) -> Result<Vec<Option<PlannedFile>>, GenerateError> {
        if let Some(outcome) = self.join() {
            let outcome = outcome.unwrap_or_else(|p| std::panic::resume_unwind(p));
            if let Sink::Write(w) = sink {
                let mut state = w.state.lock().unwrap_or_else(|p| p.into_inner());
                let mut written = 0;
                for f in outcome.written() {
                    record(&mut state, f);
                    written += 1;
                }
                w.written
                    .fetch_add(written, std::sync::atomic::Ordering::Relaxed);
            }
            if let Some((_, e)) = outcome.failed {
                return Err(e);
            }
            self.done = outcome.models;
        }
        Ok(self
            .done
            .get_mut(index)
            .map(std::mem::take)
            .unwrap_or_default())
    }

    /// Sends what is left, lets the writer finish and waits for it (`None` once joined).
    fn join(&mut self) -> Option<std::thread::Result<Outcome>> {
        let rest = std::mem::take(&mut *self.batch.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(tx) = self.tx.take() {
            if !rest.is_empty() {
                let _ = tx.send(rest);
            }
        }
        Some(self.writer.take()?.join())
    }
}

impl Drop for EarlyModels {
    /// Not recorded ([`EarlyModels::models_of`] was not reached): the run failed, and leaves
    /// the disk as it found it.
    fn drop(&mut self) {
        let Some(Ok(outcome)) = self.join() else {
            return;
        };
        for f in outcome.written() {
            let _ = std::fs::remove_file(self.root.join(&f.path));
        }
        for dir in &self.new_dirs {
            // Only when empty: a folder something else wrote to meanwhile stays.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Outcome {
    /// The files the writer created.
    fn written(&self) -> impl Iterator<Item = &PlannedFile> {
        self.models
            .iter()
            .flatten()
            .flatten()
            .filter(|f| written_early(f))
    }
}

/// The writer thread: creates the new models it receives, keeps the others.
fn write_new(
    root: &Path,
    rx: Receiver<Vec<Rendered>>,
    counts: Vec<usize>,
    buffers: &Buffers,
) -> Outcome {
    let mut out = Outcome {
        models: counts
            .iter()
            .map(|&n| (0..n).map(|_| None).collect())
            .collect(),
        failed: None,
    };
    for (s, t, planned) in rx.into_iter().flatten() {
        let model = match planned {
            // Once the run has failed, nothing more is written.
            Ok(f) if out.failed.is_none() => write_if_new(root, f, buffers),
            Ok(_) => continue,
            Err(e) => Err(e),
        };
        match model {
            Ok(m) => {
                if let Some(slot) = out.models.get_mut(s).and_then(|m| m.get_mut(t)) {
                    *slot = Some(m);
                }
            }
            Err(e) => {
                if out.failed.as_ref().is_none_or(|(at, _)| (s, t) < *at) {
                    out.failed = Some(((s, t), e));
                }
            }
        }
    }
    out
}

/// Writes `f` when [`written_early`]; any other file waits.
fn write_if_new(
    root: &Path,
    mut f: PlannedFile,
    buffers: &Buffers,
) -> Result<PlannedFile, GenerateError> {
    // What the sink drops anyway: the text on disk is not needed when writing.
    f.existing = None;
    if written_early(&f) {
        write_file(root, &mut f)?;
        buffers.give(std::mem::take(&mut f.content));
    }
    Ok(f)
}

/// The folders among `dirs` (relative to `root`) and their parents below `root` that do not
/// exist, deepest first.
fn missing_dirs<'a>(root: &Path, dirs: impl Iterator<Item = &'a String>) -> Vec<PathBuf> {
    let mut missing = BTreeSet::new();
    for dir in dirs {
        let mut d = root.join(dir);
        while d.starts_with(root) && d != root && !d.exists() {
            missing.insert(d.clone());
            if !d.pop() {
                break;
            }
        }
    }
    let mut missing: Vec<PathBuf> = missing.into_iter().collect();
    missing.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    missing
}

/// The models of `chosen` (as [`render_models`] returns them) from what the writer left in
/// `done`: written ones as they are, the others accepted by the sink now. A model it was not
/// given (none, unless the rules of what is generated differ) is planned here.
pub(crate) fn finish_models(
    sh: &Shared,
    source_value: &Value,
    source: &Arc<SourceCtx>,
    chosen: &[(usize, &[u8; 32])],
    mut done: Vec<Option<PlannedFile>>,
) -> Result<Vec<PlannedFile>, GenerateError> {
    done.resize_with(source.tables.len(), || None);
    let missing: Vec<(usize, &[u8; 32])> = chosen
        .iter()
        .filter(|(i, _)| done.get(*i).is_none_or(Option::is_none))
        .copied()
        .collect();
    let mut missing = render_models(sh, source_value, source, &missing)?.into_iter();
    // `chosen` is in table order, as `done` is: one pass over `done`, whose allocation the
    // result reuses (10,000 planned files are not copied into a second one).
    let mut wanted = chosen.iter().map(|&(i, _)| i).peekable();
    done.into_iter()
        .enumerate()
        .filter(|&(i, _)| wanted.next_if_eq(&i).is_some())
        .filter_map(|(_, model)| match model {
            Some(f) if written_early(&f) => Some(Ok(f)),
            Some(f) => Some(sh.sink.accept(f)),
            None => missing.next().map(Ok),
        })
        .collect()
}
