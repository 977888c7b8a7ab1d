//! The first half of the plan's naming - sources, schemas, table and model names, checked for clashes (columns follow in context).

use std::collections::BTreeMap;

use super::context_error::ContextError;
use crate::config::GenerateConfig;
use crate::generate::read::metadata::Table;
use crate::ident::names::{self as naming, snake_case};
use crate::ident::quoting::Dialect;

/// A source once its names are derived ([`names`]): everything of its [`SourceCtx`] but the
/// tables' columns.
pub struct SourceNames {
    pub name: String,
    pub schema: String,
    pub quote_schema: bool,
    pub tables: Vec<TableNames>,
}

/// A table once its names are derived: its metadata (still to derive columns from) and names.
pub struct TableNames {
    pub(crate) table: Table,
    pub(crate) dbt_name: String,
    /// The dbt name without loader prefixes (`generate.naming.strip_prefixes`): `{table}` of
    /// the model name, and what its entity (`{entity}`, the singular) is made from.
    pub(crate) short_name: String,
    pub model_name: String,
}

impl TableNames {
    /// The raw relation name ([`TableCtx::identifier`]).
    pub fn identifier(&self) -> &str {
        &self.table.name
    }
}

/// The first stage of [`build`]: sources, schemas, table and model names, checked. What
/// follows a source whose names fail is left out, and the error is kept for [`columns`] to
/// return (after the column errors of the sources before it, which [`build`] reports first).
pub struct Names {
    pub sources: Vec<SourceNames>,
    pub(crate) error: Option<ContextError>,
}

impl Names {
    /// Whether [`columns`] will fail whatever the columns are.
    pub fn will_fail(&self) -> bool {
        self.error.is_some()
    }
}

/// Names of the selected tables, grouped by source (see [`build`]).
pub fn names(tables: Vec<Table>, cfg: &GenerateConfig) -> Names {
    let dialect = Dialect::parse(&cfg.dialect).unwrap_or(Dialect::Postgres);
    let mut by_source: BTreeMap<String, Vec<Table>> = BTreeMap::new();
    for t in tables {
        by_source.entry(t.source.clone()).or_default().push(t);
    }
    let mut sources = Vec::with_capacity(by_source.len());
    for (name, tables) in by_source {
        match source_names(name, tables, cfg, dialect) {
            Ok(s) => sources.push(s),
            Err(e) => {
                return Names {
                    sources,
                    error: Some(e),
                }
            }
        }
    }
    // Model names must be unique across sources too (dbt refuses two models of one name).
    let model_names = sources.iter().flat_map(|s| {
        s.tables.iter().map(move |t| {
            (
                format!("{}.{}", s.name, t.table.name),
                t.model_name.as_str(),
            )
        })
    });
    let model_names: Vec<(String, &str)> = model_names.collect();
    let clashes = naming::collisions(model_names.iter().map(|(r, m)| (r.as_str(), *m)));
    let error = (!clashes.is_empty()).then(|| ContextError::TableCollision {
        list: describe(&clashes, ""),
    });
    Names { sources, error }
}

/// One source's checks (name, schema, table names and their collisions) and names.
fn source_names(
    name: String,
    tables: Vec<Table>,
    cfg: &GenerateConfig,
    dialect: Dialect,
) -> Result<SourceNames, ContextError> {
    if !naming::is_plain_name(&name) {
        return Err(ContextError::BadSourceName { name });
    }
    let refs: Vec<&Table> = tables.iter().collect();
    let Some(schema) = source_schema(&refs, cfg) else {
        let mut schemas: Vec<&str> = tables.iter().map(|t| t.schema.as_str()).collect();
        schemas.sort_unstable();
        schemas.dedup();
        return Err(ContextError::SchemaConflict {
            source_name: name,
            schemas: schemas.join(", "),
        });
    };
    drop(refs);
    // The project's own name for a table it declares, else snake_case of the raw name.
    let table_names: Vec<String> = tables.iter().map(dbt_name).collect();
    for (t, dbt_name) in tables.iter().zip(&table_names) {
        let problem = dialect.name_problem(&t.name, true).or_else(|| {
            dbt_name
                .is_empty()
                .then(|| "no letter or digit to name its dbt table and model by".into())
        });
        if let Some(problem) = problem {
            return Err(ContextError::BadTableName {
                source_name: name,
                name: shorten(&t.name),
                problem,
            });
        }
    }
    let clashes = naming::collisions(
        tables
            .iter()
            .zip(&table_names)
            .map(|(t, s)| (t.name.as_str(), s.as_str())),
    );
    if !clashes.is_empty() {
        return Err(ContextError::TableCollision {
            list: describe(&clashes, &format!("{name}.")),
        });
    }
    let tables = tables
        .into_iter()
        .zip(table_names)
        .map(|(table, dbt_name)| {
            let short_name = short_name(cfg, &name, &table, &dbt_name);
            TableNames {
                model_name: model_name_for(cfg, &name, &short_name),
                short_name,
                table,
                dbt_name,
            }
        })
        .collect();
    Ok(SourceNames {
        quote_schema: dialect.needs_quoting(&schema),
        name,
        schema,
        tables,
    })
}

/// The schema a source's YAML names: configured, else the one all its tables share (`None`
/// when they do not share one).
pub fn source_schema(tables: &[&Table], cfg: &GenerateConfig) -> Option<String> {
    if let Some(s) = &cfg.schema {
        return Some(s.clone());
    }
    let first = tables.first()?.schema.as_str();
    tables
        .iter()
        .all(|t| t.schema == first)
        .then(|| first.to_string())
}

/// The model name for table `t` of `source` (`generate.naming.model`).
pub fn model_name(cfg: &GenerateConfig, source: &str, t: &Table) -> String {
    model_name_for(cfg, source, &short_name(cfg, source, t, &dbt_name(t)))
}

/// [`TableNames::short_name`]: snake_case of the dbt name, loader prefixes stripped.
fn short_name(cfg: &GenerateConfig, source: &str, t: &Table, dbt_name: &str) -> String {
    naming::model_table_name(
        &snake_case(dbt_name),
        &cfg.strip_prefixes,
        source,
        &t.schema,
    )
}

/// A table's name in dbt: the project's declared name, else snake_case of the raw name.
pub fn dbt_name(t: &Table) -> String {
    t.declared_name
        .clone()
        .unwrap_or_else(|| snake_case(&t.name))
}

fn model_name_for(cfg: &GenerateConfig, source: &str, dbt_name: &str) -> String {
    cfg.model_name
        .replace("{source}", source)
        .replace("{table}", dbt_name)
}

/// A name as messages show it: whole up to 60 characters, else its start and length.
pub(crate) fn shorten(name: &str) -> String {
    const SHOWN: usize = 60;
    if name.chars().count() <= SHOWN {
        return name.to_string();
    }
    let head: String = name.chars().take(SHOWN).collect();
    format!("{head}…")
}

pub(crate) fn describe(clashes: &[(String, Vec<String>)], prefix: &str) -> String {
    clashes
        .iter()
        .map(|(derived, raws)| {
            let raws: Vec<String> = raws.iter().map(|r| format!("{prefix}{r:?}")).collect();
            format!("{} → {derived}", raws.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
