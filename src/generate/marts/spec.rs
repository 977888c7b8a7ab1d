//! The spec of entities, facts and metrics: `datachonk/*.yml` at the project root, read with
//! line and column for every value (errors name file:line:column and what to write instead).
//!
//! Why files of their own and not a `model:` block in `datachonk.yaml`: a spec grows with the
//! project (hundreds of metrics), is owned by the people who model the data rather than by
//! whoever configures deploys, splits by domain like dbt's own YAML, and `datachonk new` edits
//! it in place without touching the configuration. `datachonk.yaml` refuses a `model:` block
//! and points here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

pub use super::problem::At;
use super::problem::MartsError;

/// The folder holding the spec, relative to the project root.
pub const SPEC_DIR: &str = "datachonk";

/// One file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    pub layout: Option<Spanned<Layout>>,
    #[serde(default)]
    pub entities: BTreeMap<String, Spanned<EntitySpec>>,
    #[serde(default)]
    pub facts: BTreeMap<String, Spanned<FactSpec>>,
    #[serde(default)]
    pub metrics: BTreeMap<String, Spanned<MetricSpec>>,
}

/// Where marts go and how they are named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Folder of dimensions, facts and their properties (default `models/marts`).
    pub folder: Option<String>,
    /// Folder of snapshots (default `snapshots`).
    pub snapshots_folder: Option<String>,
    pub dim_prefix: Option<String>,
    pub fct_prefix: Option<String>,
    /// Model names as a pattern (wins over the prefixes): `{name}` is the spec's name,
    /// `{singular}` its singular (`dim_{singular}` → `dim_customer`).
    pub dim_name: Option<String>,
    pub fct_name: Option<String>,
    /// Name of the time spine model rendered when the project has none.
    pub time_spine: Option<String>,
    /// First and last day of that time spine (`YYYY-MM-DD`; default: the facts' time range,
    /// to today at least).
    pub time_spine_start: Option<Spanned<String>>,
    pub time_spine_end: Option<Spanned<String>>,
    /// How dimensions and facts materialize (default `table`, as dbt's project-structure guide
    /// advises for marts; an entry's `materialized:` wins).
    pub dim_materialized: Option<Spanned<String>>,
    pub fct_materialized: Option<Spanned<String>>,
}

/// A key or grain: one column or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Columns {
    One(String),
    Many(Vec<String>),
}

impl Columns {
    pub fn list(&self) -> Vec<String> {
        match self {
            Columns::One(c) => vec![c.clone()],
            Columns::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    pub from: Spanned<String>,
    pub key: Spanned<Columns>,
    pub attributes: Option<Vec<Spanned<String>>>,
    /// `scd1` (default: one row per key) or `scd2` (a snapshot, valid_from/valid_to).
    pub history: Option<Spanned<String>>,
    /// scd2, timestamp strategy: the column that changes when a row changes.
    pub updated_at: Option<Spanned<String>>,
    /// scd2, check strategy: the columns compared.
    pub check: Option<Vec<Spanned<String>>>,
    pub surrogate_key: Option<Spanned<String>>,
    /// `table` (default), `view` or `ephemeral`.
    pub materialized: Option<Spanned<String>>,
    pub description: Option<String>,
    /// What a key column or an attribute holds, by column: its description in the model's
    /// YAML and in the semantic model.
    pub descriptions: Option<Spanned<BTreeMap<String, String>>>,
}

/// A fact's reference to an entity: its name, or the entity and the fact's column(s) holding
/// its key (when they are not named like the entity's key).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EntityRef {
    Name(String),
    With { entity: String, column: Columns },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactSpec {
    pub from: Spanned<String>,
    pub grain: Spanned<Columns>,
    #[serde(default)]
    pub entities: Vec<Spanned<EntityRef>>,
    #[serde(default)]
    pub measures: Vec<Spanned<String>>,
    #[serde(default)]
    pub dimensions: Vec<Spanned<String>>,
    /// The time column metrics aggregate over (default: a metric's `time`).
    pub time: Option<Spanned<String>>,
    pub incremental: Option<Spanned<Incremental>>,
    /// What a row whose entity key matches no member gets: `unknown` (default: the entity's
    /// unknown member, so the row is kept and visible) or `fail` (the key stays null and the
    /// fact's `not_null` test fails on it).
    pub orphans: Option<Spanned<String>>,
    /// `table` (default) or `view` (an incremental fact is incremental).
    pub materialized: Option<Spanned<String>>,
    pub description: Option<String>,
    /// What a grain column, measure, dimension or the time column holds, by column: its
    /// description in the model's YAML and in the semantic model.
    pub descriptions: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// A change column: rows whose value here is at least the table's latest are (re)loaded
    /// and merged on the grain (late and corrected rows arrive because this column moves).
    pub updated_at: Option<Spanned<String>>,
    /// A window re-read on every run (`3 days`): on `updated_at` when given, else on the
    /// fact's `time` (for facts with no change column: late rows within the window arrive).
    pub lookback: Option<Spanned<String>>,
    /// dbt's `incremental_strategy` (default: `delete+insert` on PostgreSQL, Redshift and
    /// DuckDB, `merge` elsewhere).
    pub strategy: Option<Spanned<String>>,
    /// dbt's `on_schema_change` (default `append_new_columns`).
    pub on_schema_change: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    /// simple (default), ratio, cumulative or derived.
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    pub fact: Option<Spanned<String>>,
    pub measure: Option<Spanned<String>>,
    pub agg: Option<Spanned<String>>,
    pub time: Option<Spanned<String>>,
    pub numerator: Option<Spanned<String>>,
    pub denominator: Option<Spanned<String>>,
    /// cumulative: e.g. `7 days`; without it, all time.
    pub window: Option<Spanned<String>>,
    pub grain_to_date: Option<Spanned<String>>,
    pub expr: Option<Spanned<String>>,
    pub metrics: Option<Vec<Spanned<String>>>,
    pub label: Option<String>,
    pub description: Option<String>,
}

/// All spec files of a project, each with its path (relative to the root, as messages show it).
#[derive(Debug, Default)]
pub struct Spec {
    pub files: Vec<(PathBuf, SpecFile)>,
}

impl Spec {
    pub fn is_empty(&self) -> bool {
        self.files
            .iter()
            .all(|(_, f)| f.entities.is_empty() && f.facts.is_empty() && f.metrics.is_empty())
    }
}

/// The spec files under `root` (`datachonk/*.yml` and `*.yaml`), sorted by name.
pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join(SPEC_DIR))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Whether the project has a spec at all (any spec file).
pub fn exists(root: &Path) -> bool {
    !files(root).is_empty()
}

/// Read and parse every spec file.
pub fn read(root: &Path) -> Result<Spec, MartsError> {
    let mut spec = Spec::default();
    for full in files(root) {
        let rel = full.strip_prefix(root).unwrap_or(&full).to_path_buf();
        let text = crate::io_limits::read_text(
            &full,
            crate::io_limits::YAML_LIMIT,
            crate::io_limits::Origin::Found,
        )
        .map_err(|e| MartsError::Read {
            path: rel.clone(),
            message: e.to_string(),
        })?;
        spec.files.push((rel.clone(), parse(&rel, &text)?));
    }
    Ok(spec)
}

/// Parse one spec file's text (`path` only names it in messages).
pub fn parse(path: &Path, text: &str) -> Result<SpecFile, MartsError> {
    if text.trim().is_empty() {
        return Ok(SpecFile::default());
    }
    serde_saphyr::from_str::<SpecFile>(text).map_err(|e| syntax_error(path, &e))
}

fn syntax_error(path: &Path, e: &serde_saphyr::Error) -> MartsError {
    let (line, column, message) = crate::yaml_read::error_parts(e);
    let (message, hint) = explain(&message);
    MartsError::Invalid {
        at: At {
            file: path.to_path_buf(),
            line,
            column,
        },
        message,
        hint,
    }
}

/// The parser's terse messages, saying what was expected.
fn explain(message: &str) -> (String, Option<String>) {
    if let Some((field, expected)) = crate::config::unknown_field(message) {
        let hint = closest(field, expected.iter().map(String::as_str))
            .map(|k| format!("write `{k}:` instead of `{field}:`"));
        return (
            format!(
                "unknown key `{field}` (expected one of: {})",
                expected.join(", ")
            ),
            hint,
        );
    }
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return (
            format!("`{key}` is declared twice in the same block"),
            Some(format!(
                "keep one `{key}:` entry and rename or remove the other"
            )),
        );
    }
    if message.contains("data did not match any variant") {
        return (
            "expected a column name or a list of column names here".into(),
            Some("e.g. `key: customer_id` or `key: [order_id, line_number]`".into()),
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return (
            format!("`{field}` is required here"),
            Some(format!("add `{field}: ...` to this entry")),
        );
    }
    (message.to_string(), None)
}

/// The candidate closest to `word`, when one is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|k| {
            (
                strsim::jaro_winkler(&word.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                k,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_example_parses() {
        let f = parse(
            Path::new("datachonk/model.yml"),
            "entities:\n  customers: { from: stg_shop__customers, key: customer_id, history: scd2, updated_at: updated_at }\nfacts:\n  orders:    { from: stg_shop__orders, grain: order_id, entities: [customers], measures: [amount], incremental: { updated_at: ordered_at } }\nmetrics:\n  revenue:   { fact: orders, measure: amount, agg: sum, time: ordered_at }\n",
        )
        .unwrap();
        assert_eq!(
            f.entities["customers"].value.key.value.list(),
            ["customer_id"]
        );
        assert_eq!(f.facts["orders"].referenced.line(), 4);
        assert_eq!(
            f.metrics["revenue"].value.agg.as_ref().unwrap().value,
            "sum"
        );
        let g = parse(
            Path::new("x.yml"),
            "facts:\n  lines:\n    from: stg_lines\n    grain: [order_id, line_number]\n    entities: [{entity: products, column: product_id}]\n",
        )
        .unwrap();
        assert_eq!(g.facts["lines"].value.grain.value.list().len(), 2);
    }

    #[test]
    fn unknown_keys_name_the_line_and_the_key_to_write() {
        let e = parse(
            Path::new("datachonk/model.yml"),
            "entities:\n  customers:\n    from: stg_customers\n    keys: customer_id\n",
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("datachonk/model.yml:4:"), "{text}");
        assert_eq!(e.hint().as_deref(), Some("write `key:` instead of `keys:`"));
    }
}
