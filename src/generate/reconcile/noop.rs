//! The no-op fast path of a whole run: when every input of a run — the metadata's bytes, the
//! config, the templates, the selection, the project's declarations and the state file —
//! hashes to what the last writing run left, and every file it planned still has the size and
//! mtime recorded for it, nothing can have changed, and the plan is known without parsing the
//! metadata or the state, or rendering anything. Any doubt (no record, another key, a file
//! whose stat is not trusted, a temporary file of a datachonk that died, a live database as
//! input) falls back to the full comparison.
//!
//! The record lives in `.datachonk/last-run.json`: true of this checkout only, like the stat
//! cache. It is removed when a run that may write starts, and written when one ends.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::generate::plan::file::{self as plan, FileKind};
use crate::generate::read::project::{self, Project};
use crate::generate::reconcile::state::{FileStat, State, STATE_FILE};
use crate::generate::request::{GenerateError, Input, Plan, Request};
use crate::generate::timings::Timings;
use crate::templates::{self, Templates};

pub const LAST_RUN_FILE: &str = ".datachonk/last-run.json";

/// What the last writing run planned, under the key of its inputs.
#[derive(Debug, Serialize, Deserialize)]
struct LastRun {
    key: String,
    tables: usize,
    sources: Vec<String>,
    /// Every file the state records (datachonk's own: not the project's declarations).
    recorded: Vec<String>,
    /// Files the run planned (written or unchanged): path, kind, input fingerprint, stat.
    files: Vec<(String, FileKind, String, FileStat)>,
    /// Models it did not generate because the project has them: (path, defined in).
    exists: Vec<(String, String)>,
}

/// The inputs of a run that do not change while it runs (hashed once, at the start).
pub struct Inputs {
    hash: Sha256,
}

impl Inputs {
    /// `None` when the input cannot be fingerprinted cheaply (a live database).
    pub fn read(req: &Request) -> Option<Inputs> {
        let path = match &req.input {
            Input::Catalog(p) | Input::SourcesYaml(p) => Some(p),
            // Only the spec (hashed below with the artifacts it is checked against).
            Input::Spec => None,
            Input::Postgres(_) | Input::Warehouse(_) => return None,
        };
        let dialect = crate::ident::quoting::Dialect::parse(&req.config.dialect)
            .unwrap_or(crate::ident::quoting::Dialect::Postgres);
        let templates = Templates::new(req.config.templates_dir.as_deref(), dialect).ok()?;
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        };
        field(env!("CARGO_PKG_VERSION").as_bytes());
        field(match req.input {
            Input::Catalog(_) => b"catalog",
            Input::Spec => b"spec",
            _ => b"sources",
        });
        field(templates.fingerprint.as_bytes());
        field(&serde_json::to_vec(&req.config).unwrap_or_default());
        field(req.selection.join("\0").as_bytes());
        field(&[u8::from(req.force), u8::from(req.include_staged)]);
        // The spec of entities, facts and metrics, and the artifacts it is validated against.
        field(&crate::generate::marts::inputs_fingerprint(
            &req.root,
            path.filter(|_| matches!(req.input, Input::Catalog(_)))
                .map(|p| p.as_path()),
        ));
        let Some(path) = path else {
            return Some(Inputs { hash: h });
        };
        // The metadata, streamed: a 20 MB catalog is hashed without being held.
        let mut file = std::fs::File::open(path).ok()?;
        file.metadata().ok()?.is_file().then_some(())?; // a pipe or device: no record, read once
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(Inputs { hash: h })
    }

    /// The key of a run: these inputs, the project's declarations and the state file's bytes.
    /// (`ours`: the files datachonk wrote, which are not the project's declarations.)
    fn key(&self, project: &Project, root: &Path, ours: &dyn Fn(&str) -> bool) -> Option<String> {
        let state = std::fs::read(root.join(STATE_FILE)).ok()?;
        let mut h = self.hash.clone();
        h.update(project.fingerprint().as_bytes());
        // What the spec's files are planned against besides models (semantic models, metrics,
        // snapshots, a time spine the project declares).
        h.update(crate::generate::marts::declared_fingerprint(root, ours));
        h.update(Sha256::digest(&state));
        Some(templates::hex(&h.finalize()))
    }
}

/// The plan of a run whose inputs and outputs are exactly what the last writing run left;
/// `None` at the least doubt.
pub fn fast_plan(req: &Request, inputs: &Inputs) -> Result<Option<Plan>, GenerateError> {
    let mut timings = Timings::default();
    // Temporary files are seen (and the fast path declined) only under the model paths.
    let output = req.config.output_dir.trim_end_matches('/');
    let watched = crate::config::dbt_project::model_paths(&req.root)
        .iter()
        .any(|m| output == m || output.starts_with(&format!("{m}/")));
    if !watched {
        return Ok(None);
    }
    let record = req.root.join(LAST_RUN_FILE);
    let Some(last) = std::fs::read(&record)
        .ok()
        .and_then(|b| serde_json::from_slice::<LastRun>(&b).ok())
    else {
        return Ok(None);
    };
    let written_at = std::fs::metadata(&record)
        .ok()
        .and_then(|m| FileStat::of(&m))
        .map(|s| s.mtime_ns);
    // Read either way: an invalid YAML file is an error on every path.
    let recorded: BTreeSet<&str> = last.recorded.iter().map(String::as_str).collect();
    let mut project = project::read_with(&req.root, &|p| recorded.contains(p))?;
    project.overlay_manifest(&req.root, req.manifest.as_deref(), &|p| {
        recorded.contains(p)
    })?;
    timings.mark("read project");
    if project.temp_files
        || inputs
            .key(&project, &req.root, &|p| recorded.contains(p))
            .as_deref()
            != Some(&last.key)
    {
        return Ok(None);
    }
    timings.mark("fingerprint inputs");
    let mut files = Vec::with_capacity(last.files.len() + last.exists.len());
    for (path, kind, input, stat) in &last.files {
        let trusted = std::fs::metadata(req.root.join(path))
            .ok()
            .and_then(|m| FileStat::of(&m))
            .is_some_and(|now| stat.trusted(&now, written_at));
        if !trusted {
            return Ok(None);
        }
        files.push(plan::unchanged(path, *kind, input));
    }
    for (path, other) in &last.exists {
        files.push(plan::exists(path, other));
    }
    timings.mark("check unchanged files");
    Ok(Some(Plan {
        files,
        state: State::default(),
        sources: last.sources,
        tables: last.tables,
        timings,
        warnings: Vec::new(),
        notes: Vec::new(),
    }))
}

/// Whether a record of the last run exists (else [`fast_plan`] finds no no-op).
pub fn recorded(root: &Path) -> bool {
    root.join(LAST_RUN_FILE).is_file()
}

/// Forget the record (a run that may change files is starting).
pub fn forget(root: &Path) {
    let _ = std::fs::remove_file(root.join(LAST_RUN_FILE));
}

/// Record what a writing run planned, under the key of the inputs as the run left them (the
/// project's declarations re-read: the run may have added to them). Nothing is recorded when
/// a file was left alone (edited by hand): the next run compares in full.
pub fn remember(
    req: &Request,
    inputs: &Inputs,
    plan: &Plan,
    state: &State,
) -> Result<(), GenerateError> {
    if !plan.warnings.is_empty()
        || plan
            .files
            .iter()
            .any(|f| f.action == plan::Action::Skip || f.status == plan::FileStatus::EditedByHand)
    {
        return Ok(());
    }
    let mut project = project::read(&req.root, state)?;
    project.overlay_manifest(&req.root, req.manifest.as_deref(), &|p| {
        state.checksum_of(p).is_some()
    })?;
    let Some(key) = inputs.key(&project, &req.root, &|p| state.checksum_of(p).is_some()) else {
        return Ok(());
    };
    let mut files = Vec::with_capacity(plan.files.len());
    for f in &plan.files {
        if f.kind == FileKind::ProjectYaml || f.status == plan::FileStatus::Exists {
            continue;
        }
        let (Some(stat), Some(input)) = (state.stat_of(&f.path), state.input_of(&f.path)) else {
            return Ok(());
        };
        files.push((f.path.clone(), f.kind, input.to_string(), *stat));
    }
    let record = LastRun {
        key,
        tables: plan.tables,
        sources: plan.sources.clone(),
        recorded: state.files.keys().cloned().collect(),
        files,
        exists: plan
            .files
            .iter()
            .filter(|f| f.status == plan::FileStatus::Exists)
            .map(|f| (f.path.clone(), f.defined_in.clone().unwrap_or_default()))
            .collect(),
    };
    let bytes = serde_json::to_vec(&record).unwrap_or_default();
    crate::fsx::atomic::write_atomic(&req.root.join(LAST_RUN_FILE), &bytes)?;
    Ok(())
}
