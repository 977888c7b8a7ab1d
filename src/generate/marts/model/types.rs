//! The spec resolved and validated: names checked against each other and against what the
//! project's metadata knows of the models they are built from. Every problem is reported at
//! its place in the spec with what to write instead.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::generate::marts::problem::Problem;
use crate::generate::marts::spec::{self};

/// Where marts go and how they are named.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    pub folder: String,
    pub snapshots_folder: String,
    pub dim_prefix: String,
    pub fct_prefix: String,
    /// `dim_{name}` or `fct_{singular}`, when the layout says a pattern.
    pub dim_name: Option<String>,
    pub fct_name: Option<String>,
    pub time_spine: String,
    /// The time spine's first and last day (`None`: the facts' time range, to today at least).
    pub time_spine_start: Option<String>,
    pub time_spine_end: Option<String>,
    pub dim_materialized: String,
    pub fct_materialized: String,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            folder: "models/marts".into(),
            snapshots_folder: "snapshots".into(),
            dim_prefix: "dim_".into(),
            fct_prefix: "fct_".into(),
            dim_name: None,
            fct_name: None,
            time_spine: "metricflow_time_spine".into(),
            time_spine_start: None,
            time_spine_end: None,
            dim_materialized: "table".into(),
            fct_materialized: "table".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum Snapshot {
    Timestamp { updated_at: String },
    Check { columns: Vec<String> },
}

#[derive(Debug, Clone, Serialize)]
pub struct Entity {
    pub name: String,
    pub model: String,
    pub from: String,
    pub key: Vec<String>,
    /// Columns carried besides the key (`None`: not known, everything is carried).
    pub attributes: Option<Vec<String>>,
    pub snapshot: Option<Snapshot>,
    pub snapshot_name: String,
    pub surrogate_key: String,
    pub materialized: String,
    pub description: String,
    /// Column descriptions from the spec, by column.
    pub descriptions: BTreeMap<String, String>,
    /// Attributes whose type is a date or time (time dimensions in the semantic model).
    pub time_attributes: Vec<String>,
    /// The name facts and semantic models know it by (`customers` → `customer`).
    pub semantic_name: String,
}

/// The surrogate key of every dimension's unknown member: facts whose entity key matches no
/// member point here (Kimball's "-1" row), so an orphan is kept, counted and visible.
pub const UNKNOWN_KEY: &str = "-1";

/// What a fact does with a row whose entity key matches no member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Orphans {
    /// Point it at the dimension's unknown member (the default).
    Unknown,
    /// Leave the key null, so the fact's `not_null` test fails.
    Fail,
}

/// How an incremental fact finds the rows to (re)load.
#[derive(Debug, Clone, Serialize)]
pub struct Incremental {
    /// The column compared with the table's latest value.
    pub column: String,
    /// Re-read this far behind the latest value: (amount, unit singular).
    pub lookback: Option<(u32, String)>,
    /// dbt's `incremental_strategy` as the spec says it (`None`: the dialect's default).
    pub strategy: Option<String>,
    pub on_schema_change: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Join {
    pub entity: String,
    pub model: String,
    /// The fact's columns holding the entity's key (in the key's order).
    pub columns: Vec<String>,
    pub entity_key: Vec<String>,
    /// The surrogate key as the fact carries it, and as the entity names it.
    pub key_as: String,
    pub entity_surrogate_key: String,
    pub scd2: bool,
    /// The CTE the entity is read through.
    pub alias: String,
    /// The semantic model's entity name for this reference.
    pub semantic_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Measure {
    pub name: String,
    pub agg: String,
    pub expr: String,
    pub agg_time_dimension: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub name: String,
    pub model: String,
    pub from: String,
    pub grain: Vec<String>,
    pub joins: Vec<Join>,
    pub measures: Vec<String>,
    pub dimensions: Vec<String>,
    /// Time columns (the fact's and its metrics'), the default first.
    pub time_dimensions: Vec<String>,
    pub incremental: Option<Incremental>,
    pub orphans: Orphans,
    pub materialized: String,
    pub description: String,
    /// Column descriptions from the spec, by column.
    pub descriptions: BTreeMap<String, String>,
    /// Semantic-model measures its metrics use.
    pub semantic_measures: Vec<Measure>,
    pub primary_entity: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetricKind {
    Simple {
        measure: String,
    },
    Cumulative {
        measure: String,
        window: Option<String>,
        grain_to_date: Option<String>,
    },
    Ratio {
        numerator: String,
        denominator: String,
    },
    Derived {
        expr: String,
        metrics: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: String,
    pub label: String,
    pub description: String,
    pub kind: MetricKind,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Model {
    pub layout: Layout,
    pub entities: Vec<Entity>,
    pub facts: Vec<Fact>,
    pub metrics: Vec<Metric>,
    /// What is valid but probably not meant (printed, nothing refused).
    #[serde(skip)]
    pub warnings: Vec<Problem>,
}

/// Incremental strategies that replace a reloaded row (so a rerun equals a full refresh).
pub const STRATEGIES: [&str; 3] = ["merge", "delete+insert", "insert_overwrite"];

pub const AGGS: [&str; 9] = [
    "sum",
    "count",
    "count_distinct",
    "average",
    "min",
    "max",
    "median",
    "sum_boolean",
    "percentile",
];

/// `3 days` → (3, "day"): a window or lookback, `N unit` with a unit dbt and MetricFlow know.
pub fn parse_window(s: &str) -> Option<(u32, String)> {
    let mut parts = s.split_whitespace();
    let n: u32 = parts.next()?.parse().ok()?;
    let unit = parts.next()?.to_ascii_lowercase();
    if parts.next().is_some() || n == 0 {
        return None;
    }
    let unit = unit.strip_suffix('s').unwrap_or(&unit).to_string();
    WINDOW_UNITS.contains(&unit.as_str()).then_some((n, unit))
}

pub const WINDOW_UNITS: [&str; 7] = ["minute", "hour", "day", "week", "month", "quarter", "year"];

/// The names a derived metric's expression uses: identifiers that are neither SQL words nor
/// functions (followed by `(`), nor numbers.
pub fn expr_names(expr: &str) -> Vec<String> {
    const SQL: [&str; 15] = [
        "and", "or", "not", "null", "is", "case", "when", "then", "else", "end", "as", "true",
        "false", "in", "between",
    ];
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // A string literal: skip it.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if next != Some(&'(')
                && !SQL.contains(&word.to_ascii_lowercase().as_str())
                && !out.contains(&word)
            {
                out.push(word);
            }
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    out
}

/// A column named like a date or time (`ordered_at`, `signed_up_on`, `birth_date`): a time
/// dimension when no catalog says its type.
pub(crate) fn named_like_time(c: &str) -> bool {
    let c = c.to_ascii_lowercase();
    ["_at", "_on", "_date", "_time", "_timestamp"]
        .iter()
        .any(|s| c.ends_with(s))
        || matches!(c.as_str(), "date" | "timestamp")
}

pub(crate) fn is_time(t: &str) -> bool {
    let t = t.to_ascii_lowercase();
    t.starts_with("date") || t.starts_with("timestamp") || t == "datetime"
}

impl Layout {
    /// The model of an entity (`dim`) or a fact.
    pub fn model_name(&self, dim: bool, name: &str) -> String {
        let (pattern, prefix) = if dim {
            (&self.dim_name, &self.dim_prefix)
        } else {
            (&self.fct_name, &self.fct_prefix)
        };
        match pattern {
            Some(p) => p
                .replace("{name}", name)
                .replace("{singular}", &singular(name)),
            None => format!("{prefix}{name}"),
        }
    }
}

pub use crate::ident::names::singular;

/// The surrogate key name for key columns (`customer_id` → `customer_key`).
pub(crate) fn key_name(entity: &str, key: &[String]) -> String {
    match key {
        [one] if one.ends_with("_id") => format!("{}_key", &one[..one.len() - 3]),
        _ => format!("{}_key", singular(entity)),
    }
}

/// A mart's materialization as dbt names it, or what to write instead.
pub(crate) fn materialization(s: &str) -> Result<String, String> {
    const KNOWN: [&str; 3] = ["table", "view", "ephemeral"];
    if KNOWN.contains(&s) {
        return Ok(s.to_string());
    }
    Err(match spec::closest(s, KNOWN) {
        Some(k) => format!("write `{k}`"),
        None => format!(
            "write one of: {} (incremental facts: `incremental:`)",
            KNOWN.join(", ")
        ),
    })
}

pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap_or(0))
}

pub(crate) fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
