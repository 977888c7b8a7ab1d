//! `datachonk new entity|fact|metric NAME …`: write one entry into the spec
//! (`datachonk/*.yml`, edited in place), checked with the whole spec before anything is
//! written, then render it exactly as `datachonk generate` does. On a terminal, what the flags
//! do not say is asked; with `--no-input` (or no terminal) the missing flags are named, exit 2.
//! The work is `marts_ops::add`; this file composes it with the rendering and the output.

use crate::cli::{GenerateArgs, GlobalArgs, NewArgs};
use crate::config;
use crate::error::{CmdResult, Exit};
use crate::init::prompter::{Prompter, TerminalPrompter};
use crate::marts_ops::add::{self, SpecEdit};
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, args: &NewArgs, ui: &Ui) -> CmdResult {
    let settings = config::load_generate(&global.load_options())?;
    let mut terminal = global
        .can_prompt()
        .then(|| TerminalPrompter::new(global.prompt_color()));
    let edit = add::plan(
        &settings,
        args.entry(),
        args.file.as_deref(),
        terminal.as_mut().map(|p| p as &mut dyn Prompter),
        &mut |line| ui.status(line),
    )?;
    if args.dry_run {
        ui.out(format!(
            "{}: under {}:\n  {}",
            edit.rel.display(),
            edit.section,
            edit.line
        ));
        ui.status("dry run: nothing written");
        return Ok(Exit::Success);
    }
    edit.write()?;
    // The spec keeps the entry only when it renders: otherwise every later `generate`
    // would fail on it until the line is removed by hand.
    let rendered = super::generating::generate(global, &render_args(args.force), ui);
    match &rendered {
        Ok(Exit::Success) => ui.status(format!("added {} to {}", args.name, edit.rel.display())),
        _ => report_restore(&edit, &args.name, ui),
    }
    rendered
}

/// Render exactly as `datachonk generate` does with the spec as its only input.
fn render_args(force: bool) -> GenerateArgs {
    GenerateArgs {
        selection: Vec::new(),
        from_catalog: None,
        from_sources: None,
        from_postgres: None,
        from_warehouse: Vec::new(),
        dbt_timeout: "15m".into(),
        dry_run: false,
        diff: false,
        check: false,
        force,
        strict: false,
        include_staged: false,
        project_dir: None,
        manifest: None,
        target: None,
    }
}

/// Rendering failed: the spec file goes back as it was, and the person is told.
fn report_restore(edit: &SpecEdit, name: &str, ui: &Ui) {
    match edit.restore() {
        Ok(()) => ui.warn(format!(
            "{name} was not added to {}: rendering it failed (the spec is as it was)",
            edit.rel.display()
        )),
        Err(e) => ui.warn(format!(
            "rendering {name} failed, and {} could not be restored ({e}): remove the entry by hand",
            edit.rel.display()
        )),
    }
}
