//! The `generate:` section of `datachonk.yaml`: what `datachonk generate` renders and how.
//! Parsed with the rest of the file (unknown keys refused with a suggestion, errors with file,
//! line and column), then resolved into a plain [`GenerateConfig`] with defaults applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::problems::Problems;
use super::reader::invalid;

/// `generate:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSection {
    /// dbt source name for every generated table (default: the catalog's source name, or the schema).
    pub source: Option<Spanned<String>>,
    /// `database:` written in the sources YAML (default: omitted, i.e. the target's database).
    pub database: Option<Spanned<String>>,
    /// `schema:` written in the sources YAML (default: the schema the metadata reports).
    pub schema: Option<Spanned<String>>,
    /// Default selection when none is given on the command line: `SOURCE[.TABLE]` globs.
    pub tables: Option<Spanned<Vec<String>>>,
    /// Never generate these (`SOURCE[.TABLE]` globs), whatever the selection.
    pub exclude: Option<Spanned<Vec<String>>>,
    /// Identifier quoting rules: duckdb, postgres, redshift, snowflake, bigquery, databricks.
    pub dialect: Option<Spanned<String>>,
    /// Where `<source>/` folders are written, relative to the project root.
    pub output_dir: Option<Spanned<String>>,
    /// A folder whose files override built-in templates by file name.
    pub templates_dir: Option<Spanned<String>>,
    pub naming: Option<NamingSection>,
    pub primary_key: Option<PrimaryKeySection>,
    /// Raw warehouse type (case-insensitive) → type to cast to in the staging model.
    pub type_map: Option<Spanned<BTreeMap<String, String>>>,
    /// Column that says when a row was loaded; written with `freshness` in the sources YAML.
    pub loaded_at_field: Option<Spanned<String>>,
    pub freshness: Option<Spanned<FreshnessSection>>,
    /// dbt Cloud job whose latest successful run's catalog.json `--from-catalog cloud` reads
    /// (default: `deploy.dbt_cloud.job_id`).
    pub catalog_job_id: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamingSection {
    /// Model name pattern with `{source}` and `{table}` (default `stg_{source}__{table}`).
    pub model: Option<Spanned<String>>,
    /// Prefix for aliases that would start with a digit (default `_`).
    pub digit_prefix: Option<Spanned<String>>,
    /// Suffix for aliases that are reserved words (default `_`).
    pub reserved_suffix: Option<Spanned<String>>,
    /// Stripped from a table's name (first match each) for its model name; `{source}` and
    /// `{schema}` stand for the source's (default `["raw_", "{source}_", "{schema}_"]`).
    pub strip_prefixes: Option<Spanned<Vec<String>>>,
    /// What a primary key named `id` is renamed to (default `{entity}_id`; "" keeps `id`).
    pub primary_key: Option<Spanned<String>>,
    /// Ending of timestamps whose name says so: `_ts`, `_timestamp`… (default `_at`; "" off).
    pub timestamp_suffix: Option<Spanned<String>>,
    /// Ending of dates whose name says so: `_dt`, `_on` (default `_date`; "" off).
    pub date_suffix: Option<Spanned<String>>,
    /// Prefix for booleans that have none of `is_`, `has_`… (default "": off).
    pub boolean_prefix: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimaryKeySection {
    /// Candidate key names, first match wins; `{table}` = snake_case table name, `{entity}` =
    /// its singular (default `[id, "{entity}_id", "{table}_id"]`).
    pub columns: Option<Spanned<Vec<String>>>,
    /// Explicit keys: `SOURCE.TABLE` or `TABLE` → column (raw name or alias); null (`~`) or
    /// `none`: the table has no key (no key tests).
    pub tables: Option<Spanned<BTreeMap<String, Option<String>>>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FreshnessSection {
    pub warn_after: Option<FreshnessPeriod>,
    pub error_after: Option<FreshnessPeriod>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FreshnessPeriod {
    pub count: u32,
    /// minute, hour or day.
    pub period: String,
}

/// The resolved section, defaults applied; serialized as `config` into every template.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GenerateConfig {
    pub source: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub tables: Vec<String>,
    pub exclude: Vec<String>,
    pub dialect: String,
    pub output_dir: String,
    /// Resolved against the project root.
    pub templates_dir: Option<PathBuf>,
    pub model_name: String,
    pub digit_prefix: String,
    pub reserved_suffix: String,
    /// `generate.naming.strip_prefixes`.
    pub strip_prefixes: Vec<String>,
    /// `generate.naming.primary_key`, `timestamp_suffix`, `date_suffix`, `boolean_prefix`.
    pub key_alias: String,
    pub timestamp_suffix: String,
    pub date_suffix: String,
    pub boolean_prefix: String,
    pub primary_key_columns: Vec<String>,
    pub primary_keys: BTreeMap<String, String>,
    pub type_map: BTreeMap<String, String>,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<FreshnessSection>,
    pub catalog_job_id: Option<i64>,
}

pub const DIALECTS: [&str; 6] = [
    "duckdb",
    "postgres",
    "redshift",
    "snowflake",
    "bigquery",
    "databricks",
];

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig {
            source: None,
            database: None,
            schema: None,
            tables: Vec::new(),
            exclude: Vec::new(),
            dialect: "postgres".into(),
            output_dir: "models/staging".into(),
            templates_dir: None,
            model_name: "stg_{source}__{table}".into(),
            digit_prefix: "_".into(),
            reserved_suffix: "_".into(),
            strip_prefixes: vec!["raw_".into(), "{source}_".into(), "{schema}_".into()],
            key_alias: "{entity}_id".into(),
            timestamp_suffix: "_at".into(),
            date_suffix: "_date".into(),
            boolean_prefix: String::new(),
            primary_key_columns: vec!["id".into(), "{entity}_id".into(), "{table}_id".into()],
            primary_keys: BTreeMap::new(),
            type_map: BTreeMap::new(),
            loaded_at_field: None,
            freshness: None,
            catalog_job_id: None,
        }
    }
}

/// The project root and the resolved `generate:` section. The root is the dbt project's:
/// the folder of `dbt_project.yml` found upward from the start folder (the current one, or
/// `--project-dir`), else from the configuration file's folder; without one, the folder of
/// `datachonk.yaml` (else the current folder), as before `generate` read dbt projects.
#[derive(Debug, Clone)]
pub struct GenerateSettings {
    pub root: PathBuf,
    pub file: Option<PathBuf>,
    pub config: GenerateConfig,
    /// Whether `root` holds a `dbt_project.yml`.
    pub dbt_project: bool,
}

/// The folder holding `dbt_project.yml`, from `start` upward (not past a git repository's top).
pub fn find_dbt_project(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        if dir.join("dbt_project.yml").is_file() {
            return Some(dir.to_path_buf());
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// `<first model-paths entry>/staging`: where dbt reads models from.
pub(super) fn default_output_dir(root: &Path, dbt_project: bool) -> String {
    let first = dbt_project
        .then(|| super::dbt_project::model_paths(root).into_iter().next())
        .flatten()
        .unwrap_or_else(|| "models".into());
    format!("{first}/staging")
}

pub(super) fn resolve(
    s: GenerateSection,
    path: &Path,
    text: &str,
    root: &Path,
) -> Result<GenerateConfig, ConfigError> {
    let mut problems = Problems::default();
    let c = resolve_into(s, path, text, root, &mut problems);
    problems.into_result(c)
}

/// The section with defaults applied; each bad value is noted and its default kept.
pub(super) fn resolve_into(
    s: GenerateSection,
    path: &Path,
    text: &str,
    root: &Path,
    problems: &mut Problems,
) -> GenerateConfig {
    let mut c = GenerateConfig::default();
    let mut err = |at: &serde_saphyr::Location, message: String, hint: Option<String>| {
        problems.push(invalid(path, text, at.line(), at.column(), message, hint))
    };
    if let Some(v) = s.source {
        if !crate::ident::names::is_plain_name(&v.value) {
            err(
                &v.referenced,
                format!(
                    "generate.source: {:?} is not a valid dbt source name",
                    v.value
                ),
                Some("use letters, digits and _ (it becomes part of file and model names)".into()),
            );
        } else {
            c.source = Some(v.value);
        }
    }
    c.database = s.database.map(|v| v.value);
    c.schema = s.schema.map(|v| v.value);
    c.tables = s.tables.map(|v| v.value).unwrap_or_default();
    c.exclude = s.exclude.map(|v| v.value).unwrap_or_default();
    if let Some(v) = s.dialect {
        let d = v.value.to_ascii_lowercase();
        if !DIALECTS.contains(&d.as_str()) {
            let guess = DIALECTS
                .iter()
                .map(|k| (strsim::jaro_winkler(&d, k), k))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, k)| format!("did you mean `{k}`?"));
            err(
                &v.referenced,
                format!(
                    "generate.dialect: unknown dialect `{}` (expected one of: {})",
                    v.value,
                    DIALECTS.join(", ")
                ),
                guess,
            );
        } else {
            c.dialect = d;
        }
    }
    if let Some(v) = s.output_dir {
        c.output_dir = v.value.trim_end_matches('/').to_string();
    }
    c.templates_dir = s.templates_dir.map(|v| root.join(v.value));
    if let Some(n) = s.naming {
        if let Some(v) = n.model {
            if !v.value.contains("{table}") {
                err(
                    &v.referenced,
                    "generate.naming.model must contain {table} (model names must differ per table)".into(),
                    Some("e.g. `stg_{source}__{table}`".into()),
                );
            } else {
                c.model_name = v.value;
            }
        }
        if let Some(v) = n.digit_prefix {
            c.digit_prefix = v.value;
        }
        if let Some(v) = n.reserved_suffix {
            c.reserved_suffix = v.value;
        }
        if let Some(v) = n.strip_prefixes {
            c.strip_prefixes = v.value;
        }
        // Each rename must itself be a plain name part, or the aliases it makes are not.
        let renames = [
            (n.primary_key, "primary_key", &mut c.key_alias),
            (
                n.timestamp_suffix,
                "timestamp_suffix",
                &mut c.timestamp_suffix,
            ),
            (n.date_suffix, "date_suffix", &mut c.date_suffix),
            (n.boolean_prefix, "boolean_prefix", &mut c.boolean_prefix),
        ];
        for (value, key, slot) in renames {
            let Some(v) = value else { continue };
            let bare = v.value.replace("{entity}", "x").replace("{table}", "x");
            if !bare
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            {
                err(
                    &v.referenced,
                    format!(
                        "generate.naming.{key}: {:?} is not lower-case letters, digits and _",
                        v.value
                    ),
                    Some("it becomes part of column names; \"\" turns the rule off".into()),
                );
                continue;
            }
            *slot = v.value;
        }
    }
    if let Some(pk) = s.primary_key {
        if let Some(v) = pk.columns {
            c.primary_key_columns = v.value;
        }
        if let Some(v) = pk.tables {
            // "" = no key: null and `none` say the table has none.
            c.primary_keys = v
                .value
                .into_iter()
                .map(|(t, col)| {
                    let col = col
                        .filter(|c| !c.eq_ignore_ascii_case("none"))
                        .unwrap_or_default();
                    (t, col)
                })
                .collect();
        }
    }
    if let Some(v) = s.type_map {
        c.type_map = v
            .value
            .into_iter()
            .map(|(k, t)| (k.trim().to_ascii_lowercase(), t))
            .collect();
    }
    c.loaded_at_field = s.loaded_at_field.map(|v| v.value);
    c.catalog_job_id = s.catalog_job_id.map(|v| v.value);
    if let Some(f) = s.freshness {
        let mut ok = true;
        for p in [&f.value.warn_after, &f.value.error_after]
            .into_iter()
            .flatten()
        {
            if !matches!(p.period.as_str(), "minute" | "hour" | "day") {
                ok = false;
                err(
                    &f.referenced,
                    format!(
                        "generate.freshness: period `{}` is not one of minute, hour, day",
                        p.period
                    ),
                    None,
                );
            }
        }
        if ok {
            c.freshness = Some(f.value);
        }
    }
    c
}
