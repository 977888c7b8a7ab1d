//! `new`'s work: complete the entry (flags, then the wizard, then proposals), place it in its
//! spec file, and check the whole spec with it before anything is written. The rendering
//! after the write is `generate`'s, run by the command.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::GenerateSettings;
use crate::generate::marts::edit;
use crate::generate::marts::{self, model, spec};
use crate::generate::{read::project, reconcile::state::State, GenerateError};
use crate::init::prompter::Prompter;

use super::ask::{ask, Context};
use super::entry::{self, Entry, Kind};
use super::error::MartsOpsError;
use super::names::check_name;
use super::propose::propose_entities;

/// The spec file's text before and after the new entry, checked and ready to write.
#[derive(Debug)]
pub struct SpecEdit {
    /// The spec file (absolute) and as the person reads it (relative to the project).
    pub file: PathBuf,
    pub rel: PathBuf,
    /// Whether the file existed (a restore removes a file the edit created).
    pub had_file: bool,
    pub before: String,
    pub after: String,
    /// The entry's line, and the section it goes under.
    pub line: String,
    pub section: &'static str,
}

/// Complete `entry` and place it. `prompter` is given when a person can be asked; `note`
/// receives what was decided for them (the entities a fact references).
pub fn plan(
    settings: &GenerateSettings,
    mut entry: Entry,
    file: Option<&Path>,
    prompter: Option<&mut dyn Prompter>,
    note: &mut dyn FnMut(String),
) -> Result<SpecEdit, MartsOpsError> {
    let root = &settings.root;
    entry::refuse_foreign_flags(&entry)?;
    // What the project knows (for proposals and for checking the whole spec).
    let state = State::load(root).map_err(GenerateError::from)?;
    let project = project::read(root, &state).map_err(GenerateError::from)?;
    let known = marts::known(root, None, &project, &state, &BTreeSet::new())
        .map_err(GenerateError::from)?;
    let current = spec::read(root).map_err(GenerateError::from)?;
    let cx = Context {
        known: &known,
        current: &current,
        root,
    };
    let interactive = prompter.is_some();
    if let Some(p) = prompter {
        ask(&mut entry, p, &cx)?;
    }
    propose_default_entities(&mut entry, &cx, note);
    refuse_missing(&entry, interactive)?;
    refuse_clash(&entry, &current)?;
    let edit = place(&entry, root, file)?;
    check_whole(&entry, current, &known, &edit, &settings.config.dialect)?;
    Ok(edit)
}

/// A fact without `--entities` references those whose keys its model has.
fn propose_default_entities(entry: &mut Entry, cx: &Context, note: &mut dyn FnMut(String)) {
    if entry.kind != Kind::Fact || entry.entities.is_some() {
        return;
    }
    let proposed = propose_entities(entry, cx.known, cx.current, cx.root);
    for (entity, column) in &proposed {
        note(format!(
            "references entity {entity} (the fact has its key {column}); --entities chooses others"
        ));
    }
    entry.entities = Some(proposed.into_iter().map(|(e, _)| e).collect());
}

fn refuse_missing(entry: &Entry, interactive: bool) -> Result<(), MartsOpsError> {
    let missing = entry::missing_flags(entry);
    if missing.is_empty() {
        return Ok(());
    }
    Err(MartsOpsError::refused(format!(
        "new {}: missing {}",
        entry.kind.singular(),
        missing.join(", ")
    ))
    .with_hint(if interactive {
        "answer every question, or pass the flags"
    } else {
        "pass them as flags (no terminal, or --no-input: nothing is asked)"
    }))
}

/// A name already declared (in any spec file) is refused, with where.
fn refuse_clash(entry: &Entry, current: &spec::Spec) -> Result<(), MartsOpsError> {
    for (other, f) in &current.files {
        let clash = match entry.kind {
            Kind::Entity => f.entities.get(&entry.name).map(|s| s.referenced.line()),
            Kind::Fact => f.facts.get(&entry.name).map(|s| s.referenced.line()),
            Kind::Metric => f.metrics.get(&entry.name).map(|s| s.referenced.line()),
        };
        if let Some(line) = clash {
            return Err(MartsOpsError::refused(format!(
                "{} `{}` is already declared at {}:{line}",
                entry.kind.singular(),
                entry.name,
                other.display()
            ))
            .with_hint("choose another name, or edit that entry"));
        }
    }
    Ok(())
}

/// The spec file's new text, the entry inserted under its section (comments kept).
fn place(entry: &Entry, root: &Path, flag: Option<&Path>) -> Result<SpecEdit, MartsOpsError> {
    let file = spec_file(root, flag);
    let rel = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
    let had_file = file.exists();
    let before = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(MartsOpsError::refused(format!(
                "cannot read {}: {e}",
                rel.display()
            )))
        }
    };
    let section = entry.kind.section();
    let line = edit::entry_line(&entry.name, &entry::fields(entry));
    let after = edit::insert(&before, section, &line).map_err(|e| {
        MartsOpsError::refused(format!("{}: {e}", rel.display()))
            .with_hint(format!("add this under {section}: by hand:\n  {line}"))
    })?;
    Ok(SpecEdit {
        file,
        rel,
        had_file,
        before,
        after,
        line,
        section,
    })
}

/// The whole spec, with the new entry, must hold before anything is written.
fn check_whole(
    entry: &Entry,
    mut spec: spec::Spec,
    known: &marts::Known,
    edit: &SpecEdit,
    dialect: &str,
) -> Result<(), MartsOpsError> {
    let parsed = spec::parse(&edit.rel, &edit.after).map_err(GenerateError::from)?;
    spec.files.retain(|(p, _)| p != &edit.rel);
    spec.files.push((edit.rel.clone(), parsed));
    let resolved = model::resolve(&spec, known).map_err(|e| {
        let what = format!("{} {}", entry.kind.section(), entry.name);
        MartsOpsError::refused(format!("with the new entry, {e}")).with_hint(format!(
            "nothing was written: correct the flags of `new` ({what}) or the spec entries named above"
        ))
    })?;
    check_name(entry.kind, &entry.name, &resolved.layout, dialect)
}

/// The spec file to edit: `--file`, else `datachonk/model.yml`, else the only spec file.
fn spec_file(root: &Path, flag: Option<&Path>) -> PathBuf {
    if let Some(f) = flag {
        return if f.is_absolute() {
            f.to_path_buf()
        } else {
            root.join(f)
        };
    }
    let default = root.join(spec::SPEC_DIR).join("model.yml");
    let files = spec::files(root);
    match files.as_slice() {
        [only] if !default.exists() => only.clone(),
        _ => default,
    }
}

impl SpecEdit {
    /// Write the new text (creating the spec folder when needed).
    pub fn write(&self) -> Result<(), MartsOpsError> {
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                MartsOpsError::refused(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        std::fs::write(&self.file, &self.after).map_err(|e| {
            MartsOpsError::refused(format!("cannot write {}: {e}", self.rel.display()))
        })
    }

    /// Put the file back as it was (removing it when the edit created it).
    pub fn restore(&self) -> std::io::Result<()> {
        if self.before.is_empty() && !self.had_file {
            std::fs::remove_file(&self.file)
        } else {
            std::fs::write(&self.file, &self.before)
        }
    }
}
