//! `generate`: metadata inputs → planned files → (atomic) writes. No git, no HTTP: the
//! command composes [`plan`] and [`apply`] with the `Ui`.
//!
//! Flow: read metadata ([`catalog`], [`sources_yaml`]) → select tables ([`select`]) → derive
//! names, quoting, keys, casts ([`context`]) → render ([`crate::templates`]), merging a
//! person's `_models.yml` edits ([`merge`]) → compare with disk and `.datachonk/state.json`
//! ([`plan`], [`state`]) → write atomically ([`write`]).

pub mod catalog;
pub mod context;
pub mod merge;
pub mod metadata;
pub mod naming;
pub mod plan;
pub mod quoting;
pub mod select;
pub mod sources_yaml;
pub mod state;
pub mod write;
pub mod yaml;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use minijinja::Value;
use serde::Serialize;

use crate::config::GenerateConfig;
use crate::error::{CliError, Exit};
use crate::templates::{self, TemplateError, Templates};
use context::{SourceCtx, TableCtx};
use metadata::Metadata;
use plan::{Action, FileKind, PlannedFile};
use quoting::Dialect;
use state::State;

/// Where the metadata comes from.
#[derive(Debug, Clone)]
pub enum Input {
    Catalog(PathBuf),
    SourcesYaml(PathBuf),
}

impl Input {
    pub fn describe(&self) -> String {
        match self {
            Input::Catalog(p) => p.display().to_string(),
            Input::SourcesYaml(p) => p.display().to_string(),
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
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    #[error(transparent)]
    SourcesYaml(#[from] sources_yaml::SourcesYamlError),
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
}

/// Read the metadata an input describes.
pub fn load_metadata(input: &Input) -> Result<Metadata, GenerateError> {
    Ok(match input {
        Input::Catalog(p) => catalog::read(p)?,
        Input::SourcesYaml(p) => sources_yaml::read(p)?,
    })
}

/// Plan the files for `req` (reads the disk, writes nothing).
pub fn plan(req: &Request) -> Result<Plan, GenerateError> {
    let mut metadata = load_metadata(&req.input)?;
    if let Some(source) = &req.config.source {
        for t in &mut metadata.tables {
            t.source = source.clone();
        }
    }
    metadata.sort();
    let patterns = if req.selection.is_empty() {
        &req.config.tables
    } else {
        &req.selection
    };
    let selected = select::select(&metadata.tables, patterns, &req.config.exclude)?;
    let mut state = State::load(&req.root)?;

    // A source's YAML files cover the tables selected now plus those generated before.
    let selected_keys: BTreeSet<(&str, &str)> = selected
        .iter()
        .map(|&i| {
            (
                metadata.tables[i].source.as_str(),
                metadata.tables[i].name.as_str(),
            )
        })
        .collect();
    let touched: BTreeSet<&str> = selected_keys.iter().map(|(s, _)| *s).collect();
    let excluded: Vec<select::Pattern> = req
        .config
        .exclude
        .iter()
        .map(|p| select::Pattern::parse(p))
        .collect();
    let members: Vec<&metadata::Table> = metadata
        .tables
        .iter()
        .filter(|t| {
            selected_keys.contains(&(t.source.as_str(), t.name.as_str()))
                || (touched.contains(t.source.as_str())
                    && state
                        .sources
                        .get(&t.source)
                        .is_some_and(|names| names.contains(&t.name))
                    && !excluded.iter().any(|p| p.matches(t)))
        })
        .collect();
    let sources = context::build(&members, &req.config)?;

    let dialect = Dialect::parse(&req.config.dialect).unwrap_or(Dialect::Postgres);
    let templates = Templates::new(req.config.templates_dir.as_deref(), dialect)?;
    let config = to_value(&req.config);
    let mut files = Vec::new();
    for source in &sources {
        let dir = format!("{}/{}", req.config.output_dir, source.name);
        plan_source(
            req,
            &templates,
            &config,
            source,
            &dir,
            &selected_keys,
            &state,
            &mut files,
        )?;
        state.sources.insert(
            source.name.clone(),
            source.tables.iter().map(|t| t.identifier.clone()).collect(),
        );
    }
    for f in &files {
        if f.action == Action::Write || (f.action == Action::None && !f.content.is_empty()) {
            state.record(&f.path, f.content.as_bytes());
        }
    }
    Ok(Plan {
        files,
        state,
        sources: sources.iter().map(|s| s.name.clone()).collect(),
        tables: selected.len(),
    })
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

#[allow(clippy::too_many_arguments)]
fn plan_source(
    req: &Request,
    templates: &Templates,
    config: &Value,
    source: &SourceCtx,
    dir: &str,
    selected: &BTreeSet<(&str, &str)>,
    state: &State,
    files: &mut Vec<PlannedFile>,
) -> Result<(), GenerateError> {
    let dialect = req.config.dialect.as_str();
    let mut add =
        |path: String, kind: FileKind, content: String, merge| -> Result<(), GenerateError> {
            let on_disk = read_optional(&req.root.join(&path))?;
            files.push(plan::classify(
                &path, kind, content, on_disk, state, req.force, merge,
            ));
            Ok(())
        };

    let sources_yml = templates.render(
        templates::SOURCES_YAML,
        minijinja::context! { source => to_value(source), config => config.clone(), dialect => dialect },
    )?;
    add(
        format!("{dir}/_{}__sources.yml", source.name),
        FileKind::SourcesYaml,
        sources_yml,
        None,
    )?;

    let models_path = format!("{dir}/_{}__models.yml", source.name);
    let existing = if req.force {
        None
    } else {
        read_optional(&req.root.join(&models_path))?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let full_path = req.root.join(&models_path);
    let (models_source, kept_models, extra, report) = merge::models_context(
        source,
        existing.as_deref().map(|t| (full_path.as_path(), t)),
    )?;
    let models_yml = templates.render(
        templates::MODELS_YAML,
        minijinja::context! {
            source => to_value(&models_source),
            kept_models => kept_models,
            extra => extra,
            config => config.clone(),
            dialect => dialect,
        },
    )?;
    add(
        models_path,
        FileKind::ModelsYaml,
        models_yml,
        existing.map(|_| report),
    )?;

    let source_ref = to_value(SourceRef {
        name: &source.name,
        database: source.database.as_deref(),
        schema: &source.schema,
        quote_schema: source.quote_schema,
    });
    let chosen: Vec<&TableCtx> = source
        .tables
        .iter()
        .filter(|t| selected.contains(&(source.name.as_str(), t.identifier.as_str())))
        .collect();
    for t in chosen {
        let sql = templates.render(
            templates::STAGING_MODEL,
            minijinja::context! {
                source => source_ref.clone(),
                table => to_value(t),
                config => config.clone(),
                dialect => dialect,
            },
        )?;
        add(
            format!("{dir}/{}.sql", t.model_name),
            FileKind::StagingModel,
            sql,
            None,
        )?;
    }
    Ok(())
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

/// Write every file the plan says to write, then the state. Files written before a failure
/// are recorded, so a rerun does not mistake them for hand edits.
pub fn apply(plan: &Plan, root: &Path, previous: &State) -> Result<usize, GenerateError> {
    let mut written = 0;
    let mut state = previous.clone();
    state.version = 1;
    let mut result = Ok(());
    for f in &plan.files {
        match f.action {
            Action::Write => match write::write_atomic(&root.join(&f.path), f.content.as_bytes()) {
                Ok(()) => {
                    state.record(&f.path, f.content.as_bytes());
                    written += 1;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            },
            Action::None => state.record(&f.path, f.content.as_bytes()),
            Action::Skip => {}
        }
    }
    if result.is_ok() {
        state.sources = plan.state.sources.clone();
    }
    if state != *previous {
        write::write_atomic(&root.join(state::STATE_FILE), &state.to_bytes())?;
    }
    result?;
    Ok(written)
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
