//! What a run of `generate` is asked (`Request`, its `Input`), what it answers (`Plan`) and how it fails.

use crate::config::GenerateConfig;
use crate::fsx::atomic as write;
use crate::generate::marts;
use crate::generate::plan::context;
use crate::generate::plan::file::PlannedFile;
use crate::generate::plan::select;
use crate::generate::read::catalog;
use crate::generate::read::manifest;
use crate::generate::read::postgres;
use crate::generate::read::project;
use crate::generate::read::sources_yaml;
use crate::generate::read::warehouse;
use crate::generate::reconcile::merge;
use crate::generate::reconcile::state;
use crate::generate::reconcile::state::State;
use crate::generate::timings::Timings;
use crate::generate::write::lock;
use crate::templates::TemplateError;
use std::path::PathBuf;

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
