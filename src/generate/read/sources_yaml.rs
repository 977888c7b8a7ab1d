//! `--from-sources PATH`: an existing dbt sources YAML that lists columns (the `sources:` key
//! of any properties file). A column carrying both `unique` and `not_null` tests is taken as
//! the primary key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::generate::plan::context::unescape_jinja as rendered;
use crate::generate::read::metadata::{non_empty, Column, Metadata, Table};
use crate::generate::read::yaml::Value;

#[derive(Debug, thiserror::Error)]
pub enum SourcesYamlError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Malformed YAML or an unexpected shape; `at` is the YAML path (e.g. `sources[0].tables[2].name`).
    #[error(
        "{path}: not a valid dbt sources YAML at {at} (line {line}, column {column}): {message}"
    )]
    Malformed {
        path: PathBuf,
        at: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{path}: no `sources:` in this file; --from-sources expects a dbt sources YAML")]
    NoSources { path: PathBuf },
}

#[derive(Debug, Deserialize)]
struct SourcesFile {
    #[serde(default)]
    sources: Option<Vec<SourceDef>>,
}

#[derive(Debug, Deserialize)]
struct SourceDef {
    name: String,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    tables: Vec<TableDef>,
}

#[derive(Debug, Deserialize)]
struct TableDef {
    name: String,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    columns: Vec<ColumnDef>,
}

#[derive(Debug, Deserialize)]
struct ColumnDef {
    name: String,
    #[serde(default)]
    data_type: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    data_tests: Vec<Value>,
    /// The pre-1.8 spelling, still found in older projects.
    #[serde(default)]
    tests: Vec<Value>,
}

pub fn read(path: &Path) -> Result<Metadata, SourcesYamlError> {
    let text = crate::io_limits::read_text(
        path,
        crate::io_limits::YAML_LIMIT,
        crate::io_limits::Origin::Named,
    )
    .map_err(|source| SourcesYamlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Metadata, SourcesYamlError> {
    let mut at = String::new();
    let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize::<_, SourcesFile>(de).map_err(|e| {
            at = e.path().to_string();
            e.into_inner()
        })
    });
    let file = parsed.map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let raw = e.to_string();
        let first = raw.lines().next().unwrap_or_default();
        let first = first.strip_prefix("error: ").unwrap_or(first);
        let message = match first.split_once(": ") {
            Some((prefix, rest)) if prefix.starts_with("line ") => rest,
            _ => first,
        };
        SourcesYamlError::Malformed {
            path: path.to_path_buf(),
            at: if at.is_empty() || at == "." {
                "the top level".into()
            } else {
                at.clone()
            },
            line,
            column,
            message: message.to_string(),
        }
    })?;
    let sources = file.sources.ok_or_else(|| SourcesYamlError::NoSources {
        path: path.to_path_buf(),
    })?;
    // Values are read as dbt would render them where datachonk escaped them (its own
    // generated sources file as input): names are escaped again on the way out, once.
    let opt = |s: Option<String>| s.map(|s| rendered(&s));
    let mut tables = Vec::new();
    for source in sources {
        let schema = rendered(source.schema.as_deref().unwrap_or(&source.name));
        let database = opt(source.database.clone());
        for table in source.tables {
            let columns = table
                .columns
                .into_iter()
                .map(|c| {
                    let tests: Vec<&str> = c
                        .data_tests
                        .iter()
                        .chain(&c.tests)
                        .filter_map(Value::test_name)
                        .collect();
                    Column {
                        is_primary_key: tests.contains(&"unique") && tests.contains(&"not_null"),
                        name: rendered(&c.name),
                        data_type: opt(c.data_type).unwrap_or_default(),
                        description: non_empty(opt(c.description)),
                    }
                })
                .collect();
            tables.push(Table {
                source: source.name.clone(),
                database: database.clone(),
                schema: schema.clone(),
                name: rendered(&table.identifier.unwrap_or(table.name)),
                kind: None,
                description: non_empty(opt(table.description)),
                columns,
                ..Table::default()
            });
        }
    }
    Ok(Metadata { tables })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_datachonk_escaped_are_read_as_dbt_renders_them() {
        let text = "sources:\n  - name: shop\n    schema: \"{{ '{%' }} raw %}\"\n    tables:\n      - name: t\n        identifier: \"{{ '{{' }} t }}\"\n        columns:\n          - name: \"{{ '{{' }} x }}\"\n            description: \"see {{ '{#' }} c #}\"\n";
        let m = parse(Path::new("s.yml"), text).unwrap();
        let t = &m.tables[0];
        assert_eq!(
            (t.schema.as_str(), t.name.as_str()),
            ("{% raw %}", "{{ t }}")
        );
        assert_eq!(t.columns[0].name, "{{ x }}");
        assert_eq!(t.columns[0].description.as_deref(), Some("see {# c #}"));
    }

    #[test]
    fn reads_tables_columns_and_primary_keys() {
        let text = "version: 2\nsources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: orders\n        identifier: Orders\n        columns:\n          - name: ID\n            data_type: integer\n            data_tests: [unique, not_null]\n          - name: note\n            description: free text\n";
        let m = parse(Path::new("s.yml"), text).unwrap();
        let t = &m.tables[0];
        assert_eq!(
            (t.source.as_str(), t.schema.as_str(), t.name.as_str()),
            ("shop", "raw", "Orders")
        );
        assert!(t.columns[0].is_primary_key);
        assert!(!t.columns[1].is_primary_key);
        assert_eq!(t.columns[1].description.as_deref(), Some("free text"));
        assert_eq!(t.columns[1].data_type, "");
    }

    #[test]
    fn malformed_input_names_the_yaml_path() {
        let text = "sources:\n  - name: shop\n    tables:\n      - name: orders\n        columns:\n          - data_type: int\n";
        let msg = parse(Path::new("models/src.yml"), text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("models/src.yml"), "{msg}");
        assert!(msg.contains("sources[0].tables[0].columns[0]"), "{msg}");
        assert!(msg.contains("name"), "{msg}");
    }
}
