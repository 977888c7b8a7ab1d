//! The arguments of the marts commands, `new` and `relationships`: the clap surface only; the
//! work is in `crate::marts_ops`, which takes the plain values `NewArgs::entry` gives it.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::generate::plan::keys as relationships;
use crate::marts_ops::entry::{Entry, Kind};

/// What `new` declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NewKind {
    Entity,
    Fact,
    Metric,
}

/// Declare an entity, fact or metric in the spec, then render it.
#[derive(Debug, Args, Clone)]
pub struct NewArgs {
    /// What to declare.
    pub kind: NewKind,
    /// Its name (lower-case letters, digits, _): `customers` → models/marts/dim_customers.sql.
    pub name: String,
    /// entity, fact: the model it is built from (e.g. stg_shop__customers).
    #[arg(long, value_name = "MODEL")]
    pub from: Option<String>,
    /// entity: its key column(s), comma-separated.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub key: Vec<String>,
    /// entity: the columns it carries besides the key (default: every column the catalog lists).
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub attributes: Vec<String>,
    /// entity: `scd2` keeps every version through a dbt snapshot; `scd1` (default) the latest.
    #[arg(long, value_name = "scd1|scd2")]
    pub history: Option<String>,
    /// entity (scd2, timestamp strategy): the column that changes when a row changes.
    #[arg(long, value_name = "COLUMN")]
    pub updated_at: Option<String>,
    /// entity (scd2, check strategy): the columns compared between snapshots.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub check_cols: Vec<String>,
    /// fact: its grain (the column(s) unique per row), comma-separated.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub grain: Vec<String>,
    /// fact: the entities it references (default: those whose key columns it has).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub entities: Option<Vec<String>>,
    /// fact: the measure columns it carries.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub measures: Vec<String>,
    /// fact: categorical dimension columns.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub dimensions: Vec<String>,
    /// fact, metric: the time column metrics aggregate over.
    #[arg(long, value_name = "COLUMN")]
    pub time: Option<String>,
    /// fact: load incrementally, on rows whose COLUMN is at least the table's latest.
    #[arg(long, value_name = "COLUMN")]
    pub incremental: Option<String>,
    /// metric: simple (default), ratio, cumulative or derived.
    #[arg(long = "type", value_name = "TYPE")]
    pub metric_type: Option<String>,
    /// metric (simple, cumulative): the fact it aggregates.
    #[arg(long, value_name = "FACT")]
    pub fact: Option<String>,
    /// metric (simple, cumulative): the measure (one of the fact's measures).
    #[arg(long, value_name = "COLUMN")]
    pub measure: Option<String>,
    /// metric: sum (default with a measure), count, count_distinct, average, min, max, median.
    #[arg(long, value_name = "AGG")]
    pub agg: Option<String>,
    /// metric (ratio): the numerator metric.
    #[arg(long, value_name = "METRIC")]
    pub numerator: Option<String>,
    /// metric (ratio): the denominator metric.
    #[arg(long, value_name = "METRIC")]
    pub denominator: Option<String>,
    /// metric (derived): its expression over other metrics.
    #[arg(long, value_name = "EXPR")]
    pub expr: Option<String>,
    /// metric (derived): the metrics the expression uses.
    #[arg(long, value_name = "METRICS", value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// metric (cumulative): the window, e.g. "7 days" (default: all time).
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
    /// The spec file to add to (default: datachonk/model.yml, or the only datachonk/*.yml).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Show the entry and where it goes; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite generated files edited by hand when rendering (as `generate --force`).
    #[arg(long)]
    pub force: bool,
}

impl NewArgs {
    /// The entry the flags describe, as plain values for `marts_ops`.
    pub fn entry(&self) -> Entry {
        Entry {
            kind: match self.kind {
                NewKind::Entity => Kind::Entity,
                NewKind::Fact => Kind::Fact,
                NewKind::Metric => Kind::Metric,
            },
            name: self.name.clone(),
            from: self.from.clone(),
            key: self.key.clone(),
            attributes: self.attributes.clone(),
            history: self.history.clone(),
            updated_at: self.updated_at.clone(),
            check_cols: self.check_cols.clone(),
            grain: self.grain.clone(),
            entities: self.entities.clone(),
            measures: self.measures.clone(),
            dimensions: self.dimensions.clone(),
            time: self.time.clone(),
            incremental: self.incremental.clone(),
            metric_type: self.metric_type.clone(),
            fact: self.fact.clone(),
            measure: self.measure.clone(),
            agg: self.agg.clone(),
            numerator: self.numerator.clone(),
            denominator: self.denominator.clone(),
            expr: self.expr.clone(),
            metrics: self.metrics.clone(),
            window: self.window.clone(),
        }
    }
}

/// Find relationships in the warehouse's metadata.
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("input").args(["from_catalog", "from_postgres"])))]
pub struct RelationshipsArgs {
    /// Read a dbt catalog.json (default: target/catalog.json): naming patterns only.
    #[arg(long, value_name = "PATH")]
    pub from_catalog: Option<PathBuf>,
    /// A live PostgreSQL database (e.g. postgres://user@127.0.0.1:5432/db?schema=raw): its
    /// declared foreign keys, naming patterns, and the overlap of sampled values.
    #[arg(long, value_name = "URL")]
    pub from_postgres: Option<String>,
    /// Leave out relationships below this confidence (0 to 1; declared keys are 1, a name
    /// alone 0.6-0.7, name and values up to 0.95, values alone by sample size).
    #[arg(long, value_name = "X", default_value_t = relationships::DEFAULT_MIN_CONFIDENCE)]
    pub min_confidence: f64,
    /// Include views (left out by default: a view repeats its tables' columns, so each of its
    /// key columns would look like a relationship of its own).
    #[arg(long)]
    pub include_views: bool,
}
