//! The work of `datachonk generate` (and of `datachonk new`, which renders the spec as
//! generate does): plan the files from metadata, then show (`--dry-run`, `--diff`, `--json`),
//! check (`--check`) or write them. A helper of the commands, not a command: `generate` and
//! `new` both call [`generate`].

use serde_json::json;

use crate::cli::{GenerateArgs, GlobalArgs};
use crate::commands::cloud_catalog;
use crate::config;
use crate::error::{CliError, CmdResult, Exit};
use crate::generate::plan::context::ContextError;
use crate::generate::plan::{self, Action, FileStatus};
use crate::generate::read::postgres::PostgresError;
use crate::generate::read::project::ProjectError;
use crate::generate::{self, GenerateError, Input, Plan, Request};
use crate::ui::Ui;

use super::error::STALE;
use super::reporters::generate_check;

/// Plan (and write, check or show) as `args` say; the exit status follows DESIGN.md.
pub fn generate(global: &GlobalArgs, args: &GenerateArgs, ui: &Ui) -> CmdResult {
    let settings = load_settings(global, args)?;
    let input = input_of(global, args, &settings, ui)?;
    // Heard from here on: while waiting for the lock a stop signal ends the run at once.
    stop_on_signal();
    // One run at a time: a second one waits (bounded), then refuses.
    let _lock = lock(&settings.root, ui)?;
    let root = settings.root.clone();
    let request = request_for(args, settings, input);
    let writes = !(args.dry_run || args.diff || args.check);
    // Whether git ignores the state file: asked beside the generation (opening the repository
    // costs ~10 ms), answered after it. Generating writes no .gitignore that could change it.
    // Not when a record of the last run may make this run a no-op that writes nothing.
    let ignored = (writes && !generate::reconcile::noop::recorded(&root)).then(|| {
        let root = root.clone();
        std::thread::spawn(move || state_file_ignored(&root))
    });
    let (plan, written) = plan_or_write(&request, writes)?;
    for line in plan.timings.lines() {
        ui.debug(format!("generate: {line}"));
    }
    let summary = plan::summarize(&plan.files);
    // Under GitLab CI `--check` folds the diffs into a section (printed there, not twice).
    let folds_diffs = args.check && generate_check::folds_diffs(&plan, ui);
    if args.diff && !ui.is_json() && !folds_diffs {
        print_diffs(&plan, ui);
    }
    let done = Done {
        request: &request,
        plan: &plan,
        summary: &summary,
        writes,
        written,
    };
    if ui.is_json() {
        print_json(&done, args, ui);
    } else {
        print_summary(&done, args, ui);
        if writes && written > 0 {
            warn_if_state_ignored(ignored, &root, ui);
        }
        print_advice(&done, args, ui);
    }
    if args.check {
        generate_check::publish(ui, &plan, &root, &|| print_diffs(&plan, ui));
    }
    verdict(&done, args, ui)
}

/// The project's `generate` settings, from the directory `--project-dir` names (when given).
fn load_settings(
    global: &GlobalArgs,
    args: &GenerateArgs,
) -> Result<config::GenerateSettings, CliError> {
    let mut options = global.load_options();
    options.start_dir = args.project_dir.clone();
    let settings = config::load_generate(&options)?;
    if let Some(dir) = &args.project_dir {
        if !dir.join("dbt_project.yml").is_file() {
            return Err(CliError::usage(format!(
                "--project-dir {}: no dbt_project.yml there",
                dir.display()
            )));
        }
    }
    // The project is where dbt_project.yml is: writing anywhere else is writing where dbt
    // does not look.
    if !settings.dbt_project {
        return Err(CliError::usage(format!(
            "no dbt_project.yml in {} or any folder above it",
            settings.root.display()
        ))
        .with_hint("run datachonk generate inside a dbt project, or pass --project-dir DIR"));
    }
    let from_cloud = args
        .from_catalog
        .as_ref()
        .is_some_and(|p| p.as_os_str() == "cloud");
    if args.target.is_some() && !from_cloud && args.from_warehouse.is_empty() {
        return Err(CliError::usage(
            "--target names the dbt Cloud job whose catalog is read (--from-catalog cloud) or the dbt target to read the warehouse with (--from-warehouse)",
        ));
    }
    Ok(settings)
}

/// Where the metadata comes from, as the flags say (a cloud catalog is fetched first).
fn input_of(
    global: &GlobalArgs,
    args: &GenerateArgs,
    settings: &config::GenerateSettings,
    ui: &Ui,
) -> Result<Input, CliError> {
    Ok(match (&args.from_catalog, &args.from_sources) {
        (Some(p), _) if p.as_os_str() == "cloud" => Input::Catalog(cloud_catalog::fetch(
            global,
            &settings.root,
            settings.config.catalog_job_id,
            args.target.as_deref(),
            ui,
        )?),
        (Some(p), _) => Input::Catalog(p.clone()),
        (None, Some(p)) => Input::SourcesYaml(p.clone()),
        (None, None) if !args.from_warehouse.is_empty() => {
            let mut w = generate::read::warehouse::Warehouse::new(
                settings.root.clone(),
                &args.from_warehouse,
                args.target.clone(),
            )
            .map_err(generate::GenerateError::from)?;
            w.timeout = config::parse_duration(&args.dbt_timeout)
                .map_err(|e| CliError::usage(format!("--dbt-timeout {}: {e}", args.dbt_timeout)))?;
            Input::Warehouse(w)
        }
        (None, None) => match &args.from_postgres {
            Some(url) => Input::Postgres(generate::read::postgres::PgUrl::new(url.clone())),
            // Without metadata, a project with a spec renders its entities, facts and metrics.
            None if generate::marts::spec::exists(&settings.root) => Input::Spec,
            None => {
                return Err(CliError::usage("no metadata given").with_hint(
                    "pass --from-catalog target/catalog.json, --from-sources FILE, --from-warehouse SCHEMA or --from-postgres URL",
                ))
            }
        },
    })
}

/// The project's generate lock, telling the person when another run makes this one wait.
fn lock(root: &std::path::Path, ui: &Ui) -> Result<generate::write::lock::Lock, CliError> {
    use generate::write::lock;
    Ok(lock::acquire(root, lock::wait_bound(), || {
        ui.status(format!(
            "waiting for another datachonk generate on this project to finish (up to {}s)",
            lock::wait_bound().as_secs()
        ))
    })
    .map_err(generate::GenerateError::from)?)
}

/// The request the flags make: which tables, and what to record of this run.
fn request_for(args: &GenerateArgs, settings: config::GenerateSettings, input: Input) -> Request {
    // `--check` with no selection judges what earlier runs chose, not the whole catalog.
    let selection = if args.check && args.selection.is_empty() && settings.config.tables.is_empty()
    {
        generate::reconcile::state::remembered_selection(&settings.root)
    } else if let (true, Input::Warehouse(w)) = (args.selection.is_empty(), &input) {
        // `--from-warehouse raw.new_table`: the schema is read, the table chosen.
        w.selection()
    } else {
        args.selection.clone()
    };
    Request {
        last_run: (!matches!(input, Input::Spec)).then(|| last_run(&settings.root, args)),
        root: settings.root,
        config: settings.config,
        input,
        selection,
        force: args.force,
        include_staged: args.include_staged,
        manifest: args.manifest.clone(),
    }
}

/// Writing streams each file to disk as it is rendered; the other modes keep contents.
fn plan_or_write(request: &Request, writes: bool) -> Result<(Plan, usize), CliError> {
    if !writes {
        return Ok((generate::plan(request)?, 0));
    }
    WRITING.store(true, std::sync::atomic::Ordering::SeqCst);
    let result = generate::generate(request);
    if crate::fsx::atomic::was_interrupted() {
        return Err(CliError::new(
            crate::signals::stop_exit(),
            "interrupted: the files written so far are complete and recorded; no temporary file is left",
        )
        .with_hint("run the same command again to finish"));
    }
    Ok(result?)
}

/// What a finished run shows: the request, its plan and what was written.
struct Done<'a> {
    request: &'a Request,
    plan: &'a Plan,
    summary: &'a plan::Summary,
    writes: bool,
    written: usize,
}

fn print_json(done: &Done, args: &GenerateArgs, ui: &Ui) {
    let plan = done.plan;
    ui.json(&json!({
        "input": done.request.input.describe(),
        "root": done.request.root.display().to_string(),
        "mode": if args.check { "check" } else if !done.writes { "dry-run" } else { "write" },
        "sources": plan.sources,
        "tables": plan.tables,
        "files": plan.files,
        "summary": done.summary,
        "written": done.written,
        "stale": done.summary.to_write > 0,
    }));
}

/// The files, then one line of counts.
fn print_summary(done: &Done, args: &GenerateArgs, ui: &Ui) {
    let (plan, summary, input) = (done.plan, done.summary, &done.request.input);
    report(plan, args, done.writes, ui);
    let scope = match input {
        Input::Spec => format!("{} file(s) from {}", plan.files.len(), input.describe()),
        _ => format!(
            "{} table(s) in {} source(s)",
            plan.tables,
            plan.sources.len()
        ),
    };
    let line = format!(
        "{scope}: {} new, {} changed, {} unchanged, {} edited by hand{}{}{}",
        summary.new,
        summary.changed,
        summary.unchanged,
        summary.edited_by_hand,
        if summary.project_edits > 0 {
            format!(", {} of your file(s) added to", summary.project_edits)
        } else {
            String::new()
        },
        if summary.exists > 0 {
            format!(", {} exist (not generated)", summary.exists)
        } else {
            String::new()
        },
        if done.writes {
            format!("; wrote {} file(s)", done.written)
        } else {
            "; nothing written".into()
        }
    );
    ui.status(line);
}

/// Warn when git ignores the state file (`ignored`: the answer asked beside the run).
fn warn_if_state_ignored(
    ignored: Option<std::thread::JoinHandle<Option<String>>>,
    root: &std::path::Path,
    ui: &Ui,
) {
    let ignored = match ignored {
        Some(asked) => asked.join().ok().flatten(),
        None => state_file_ignored(root),
    };
    if let Some(pattern) = ignored {
        ui.warn(format!(
            "{} is ignored by git ({pattern}): commit it with the models, or a clone will take every generated file for a hand edit (README, \"Safety\")",
            generate::reconcile::state::STATE_FILE
        ));
    }
}

/// Models the project defines itself, the plan's warnings and notes, files left alone.
fn print_advice(done: &Done, args: &GenerateArgs, ui: &Ui) {
    let (plan, summary) = (done.plan, done.summary);
    if summary.exists > 0 {
        ui.status(format!(
            "{} model(s) exist in files datachonk did not write: not generated{}",
            summary.exists,
            if args.strict {
                ""
            } else {
                " (--strict makes this an error)"
            }
        ));
    }
    for w in &plan.warnings {
        ui.warn(w.clone());
    }
    for n in &plan.notes {
        ui.status(n.clone());
    }
    for f in plan.files.iter().filter(|f| f.status == FileStatus::Exists) {
        let other = f.defined_in.as_deref().unwrap_or_default();
        if other != f.path && done.request.root.join(&f.path).exists() {
            ui.warn(format!(
                "{} (written by an earlier generate) and {other} define the same model, which dbt refuses: delete the one you do not want",
                f.path
            ));
        }
    }
    if summary.skipped > 0 {
        ui.warn(format!(
            "{} file(s) edited by hand were left alone; `--diff` shows what regenerating would change, `--force` overwrites them",
            summary.skipped
        ));
    }
}

/// `--strict` with models the project defines: exit 1; `--check` with stale files: exit 1.
fn verdict(done: &Done, args: &GenerateArgs, ui: &Ui) -> CmdResult {
    let (plan, summary) = (done.plan, done.summary);
    if args.strict && summary.exists > 0 {
        let names: Vec<String> = plan
            .files
            .iter()
            .filter(|f| f.status == FileStatus::Exists)
            .map(|f| format!("{} ({})", f.path, f.defined_in.as_deref().unwrap_or("?")))
            .collect();
        return Err(CliError::new(
            Exit::RunError,
            format!(
                "--strict: model(s) already defined by the project: {}",
                names.join(", ")
            ),
        )
        .with_hint(
            "rename or remove the project's model, or leave the table out (generate.exclude)",
        ));
    }
    if args.check && summary.to_write > 0 {
        if !ui.is_json() {
            ui.status(format!(
                "{} generated file(s) are missing or stale: run `datachonk generate` to update them",
                summary.to_write
            ));
        }
        return Ok(STALE);
    }
    Ok(Exit::Success)
}

/// Where git ignores the state file, when it does (`None` outside a repository): the state
/// must be committed for hand-edit detection and `--check` to work in a clone.
fn state_file_ignored(root: &std::path::Path) -> Option<String> {
    let repo = crate::git::repo::open(root).ok()?;
    let workdir = repo.workdir()?.canonicalize().ok()?;
    let file = root
        .canonicalize()
        .ok()?
        .join(generate::reconcile::state::STATE_FILE);
    let rel = file.strip_prefix(&workdir).ok()?;
    repo.status_should_ignore(rel)
        .ok()?
        .then(|| format!("check with `git check-ignore -v {}`", rel.display()))
}

/// Set once files are being written: a stop signal then finishes the file in hand cleanly.
static WRITING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// On SIGINT, SIGTERM or SIGHUP before any file is written (reading, planning, waiting for
/// another run's lock): exit 130, 143 or 129 at once, nothing written. While writing: each file
/// being written is abandoned and its temporary file removed, the files already written are
/// recorded in the state as usual, and `run` exits the same way. A second signal exits at once
/// (a later run sweeps what it leaves).
fn stop_on_signal() {
    #[cfg(unix)]
    {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        // Registered here, before any file is written, not when the thread gets to run.
        let Ok(mut stop) = rt.block_on(async { crate::signals::Interrupt::listen() }) else {
            return;
        };
        std::thread::spawn(move || {
            rt.block_on(async {
                stop.recv().await;
                if WRITING.load(std::sync::atomic::Ordering::SeqCst) {
                    crate::fsx::atomic::interrupt();
                    stop.recv().await;
                }
            });
            std::process::exit(crate::signals::stop_exit().code());
        });
    }
}

/// What this run read, recorded in datachonk.state.json with the files so `hook run pre-push` can
/// re-check without being told (one state write, not two).
fn last_run(
    root: &std::path::Path,
    args: &GenerateArgs,
) -> crate::generate::reconcile::state::LastRun {
    use crate::generate::reconcile::state::{InputKind, LastRun};
    use crate::hook::prepush;
    let input = match (&args.from_catalog, &args.from_sources) {
        (Some(p), _) if p.as_os_str() == "cloud" => {
            prepush::record_input(root, InputKind::Cloud, None)
        }
        (Some(p), _) => prepush::record_input(root, InputKind::Catalog, Some(p)),
        (None, Some(p)) => prepush::record_input(root, InputKind::Sources, Some(p)),
        (None, None) if !args.from_warehouse.is_empty() => {
            prepush::record_input(root, InputKind::Warehouse, None)
        }
        (None, None) => prepush::record_input(root, InputKind::Postgres, None),
    };
    LastRun {
        input,
        selection: args.selection.clone(),
    }
}

/// One line per file that is not unchanged (all files with --dry-run), plus merge notes.
fn report(plan: &Plan, args: &GenerateArgs, writes: bool, ui: &Ui) {
    let verbose_listing = args.dry_run || ui.is_verbose();
    for f in &plan.files {
        if f.status == FileStatus::Unchanged && !verbose_listing {
            continue;
        }
        let defined = f
            .defined_in
            .as_ref()
            .map(|d| format!(" (defined in {d})"))
            .unwrap_or_default();
        let note = match (f.status, f.action) {
            (_, _) if f.kind == plan::FileKind::ProjectYaml => {
                " (your file: tables/columns appended, the rest kept byte for byte)"
            }
            (FileStatus::Exists, _) => defined.as_str(),
            (FileStatus::EditedByHand, Action::Skip) => " (left alone; --force overwrites)",
            (FileStatus::EditedByHand, Action::Write) if f.merge.is_some() || !args.force => {
                " (merged with your edits)"
            }
            (FileStatus::EditedByHand, Action::Write) => " (overwritten: --force)",
            _ => "",
        };
        let label = match f.status {
            FileStatus::New => ui.good("new"),
            FileStatus::Changed => ui.warnish("changed"),
            FileStatus::Unchanged => ui.dim("unchanged"),
            FileStatus::EditedByHand => ui.bad("edited-by-hand"),
            FileStatus::Exists => ui.dim("exists (not generated)"),
        };
        let label = if f.kind == plan::FileKind::ProjectYaml {
            ui.warnish("add to")
        } else {
            label
        };
        let shown = if f.kind == plan::FileKind::ProjectYaml {
            "add to"
        } else {
            f.status.label()
        };
        let pad = " ".repeat(14usize.saturating_sub(shown.len()));
        // Indented like push's list of what it committed (and the quickstart's stage details).
        let line = format!("  {label}{pad} {}{note}", f.path);
        if writes {
            ui.status(line);
        } else {
            ui.out(line);
        }
        if let Some(m) = &f.merge {
            for l in m.lines() {
                ui.status(format!("{:16}   {l}", ""));
            }
        }
    }
}

fn print_diffs(plan: &Plan, ui: &Ui) {
    // A person's edit that regenerating matches (their renames) has no diff to show.
    for text in plan.files.iter().filter_map(generate_check::unified_diff) {
        for line in text.lines() {
            ui.out(line);
        }
    }
}

/// How a failed generate reads at the edge: its message, the exit code and what to do (the
/// generate layer keeps its errors plain; every command that plans or writes maps them here).
impl From<GenerateError> for CliError {
    fn from(e: GenerateError) -> Self {
        let exit = match &e {
            // Gave up waiting, as `--timeout` does for a run.
            GenerateError::Warehouse(generate::read::warehouse::WarehouseError::TimedOut {
                ..
            }) => Exit::Timeout,
            _ => Exit::Usage,
        };
        let err = CliError::new(exit, e.to_string());
        match &e {
            GenerateError::Select(s) => err
                .with_hint(s.available().to_string())
                .with_hint("select with SOURCE or SOURCE.TABLE; * and ? are globs"),
            GenerateError::Context(ContextError::ColumnCollision { .. })
            | GenerateError::Context(ContextError::TableCollision { .. }) => err
                .with_hint(
                    "rename or exclude one of them (generate.exclude), or change generate.naming",
                ),
            GenerateError::Context(ContextError::BadColumnName { .. })
            | GenerateError::Context(ContextError::BadTableName { .. }) => err.with_hint(
                "rename it in the warehouse, or leave the table out (generate.exclude)",
            ),
            GenerateError::Postgres(PostgresError::Connect { .. }) => err.with_hint(
                "check host, port, user and database; for a local server: postgres://USER@127.0.0.1:5432/DB",
            ),
            GenerateError::Project(ProjectError::Invalid { .. }) => err.with_hint(
                "fix the file (dbt would not read it either); nothing was written, because planning without it could declare twice what it declares",
            ),
            GenerateError::Project(ProjectError::CannotEdit { block, .. }) => err
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
