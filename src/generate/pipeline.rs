//! The stages in order: read → plan → render → reconcile → write, and the no-op fast path before them.

use crate::fsx::atomic as write;
use crate::generate::early;
use crate::generate::marts;
use crate::generate::parallel;
use crate::generate::plan::context;
use crate::generate::plan::context::SourceCtx;
use crate::generate::plan::file::Action;
use crate::generate::plan::file::PlannedFile;
use crate::generate::plan::fingerprint::base_fingerprint;
use crate::generate::plan::fingerprint::table_fingerprint;
use crate::generate::plan::inputs::table_key;
use crate::generate::plan::inputs::Member;
use crate::generate::plan::inputs::TableInput;
use crate::generate::plan::select;
use crate::generate::read::load::load_metadata;
use crate::generate::read::metadata;
use crate::generate::read::project;
use crate::generate::reconcile::disk::unchanged_source;
use crate::generate::reconcile::disk::DiskCheck;
use crate::generate::reconcile::noop;
use crate::generate::reconcile::project_edits::apply_project;
use crate::generate::reconcile::project_edits::apply_sql_renames;
use crate::generate::reconcile::project_edits::plan_project_edits;
use crate::generate::reconcile::record::record;
use crate::generate::reconcile::state;
use crate::generate::reconcile::state::State;
use crate::generate::render::shared::Shared;
use crate::generate::render::source::plan_source;
use crate::generate::request::GenerateError;
use crate::generate::request::Input;
use crate::generate::request::Plan;
use crate::generate::request::Request;
use crate::generate::timings::Timings;
use crate::generate::write::sink::Sink;
use crate::generate::write::sink::Writer;
use crate::ident::Dialect;
use crate::templates::env::to_value;
use crate::templates::Templates;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::sync::Mutex;

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
pub(crate) fn write_all(
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
pub(crate) fn last_run_recorded(req: &Request) -> Result<bool, GenerateError> {
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
pub(crate) fn sweep_stale_temp_files(req: &Request) {
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

pub(crate) fn plan_with(req: &Request, sink: &Sink) -> Result<Plan, GenerateError> {
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
    let reads_any = !project.staged.is_empty() || !project.staged_seeds.is_empty();
    if !req.include_staged && reads_any {
        selected.retain(|&i| {
            let t = &metadata.tables[i];
            let name = t.declared_name.as_deref().unwrap_or(&t.name);
            let ours = state
                .sources
                .get(&t.source)
                .is_some_and(|names| names.contains(&t.name));
            let staged = project
                .staged
                .contains(&(t.source.to_ascii_lowercase(), name.to_ascii_lowercase()))
                || t.seed && project.staged_seeds.contains(&name.to_ascii_lowercase());
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
    let renamed = apply_sql_renames(req, &state, &disk, &project, &mut sources);
    let sources: Vec<Arc<SourceCtx>> = sources.into_iter().map(Arc::new).collect();
    timings.mark("derive names, keys");
    let edits = plan_project_edits(req, &project, &sources)?;
    for f in edits {
        let f = sink.accept(f)?;
        planned.entry(String::new()).or_default().push(f);
    }
    for (index, source) in sources.iter().enumerate() {
        let dir = project.source_dir(&req.config.output_dir, &source.name, &state);
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
        let ours = format!(
            "{}/_{name}__sources.yml",
            project.source_dir(&req.config.output_dir, name, &state)
        );
        if let Some(d) = project.declared(name).filter(|d| d.package.is_none()) {
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
