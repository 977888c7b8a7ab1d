//! `--from-catalog PATH`: the `catalog.json` artifact `dbt docs generate` writes. Both its
//! `sources` and its `nodes` (seeds, models, snapshots of another project) are read: each
//! entry carries `metadata {type, schema, name, database, comment}` and
//! `columns {NAME: {type, index, name, comment}}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::metadata::{non_empty, Column, Metadata, Table};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Malformed JSON or an unexpected shape; `at` is the JSON path (e.g. `nodes."model.x".columns.ID.index`).
    #[error(
        "{path}: not a valid dbt catalog.json at {at} (line {line}, column {column}): {message}"
    )]
    Malformed {
        path: PathBuf,
        at: String,
        line: usize,
        column: usize,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
struct CatalogFile {
    #[serde(default)]
    nodes: BTreeMap<String, CatalogTable>,
    #[serde(default)]
    sources: BTreeMap<String, CatalogTable>,
}

#[derive(Debug, Deserialize)]
struct CatalogTable {
    metadata: TableMetadata,
    columns: BTreeMap<String, CatalogColumn>,
}

#[derive(Debug, Deserialize)]
struct TableMetadata {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    schema: String,
    name: String,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CatalogColumn {
    #[serde(rename = "type")]
    data_type: String,
    index: i64,
    name: String,
    #[serde(default)]
    comment: Option<String>,
}

/// Read a catalog file.
pub fn read(path: &Path) -> Result<Metadata, CatalogError> {
    let bytes = std::fs::read(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &bytes)
}

/// Parse catalog bytes; `path` is only used in messages.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Metadata, CatalogError> {
    // Fast path first; only a failure pays for path tracking.
    let file: CatalogFile = match serde_json::from_slice(bytes) {
        Ok(f) => f,
        Err(_) => return Err(locate_error(path, bytes)),
    };
    let mut tables = Vec::with_capacity(file.sources.len() + file.nodes.len());
    let mut seen = std::collections::HashSet::new();
    // Sources first: when a relation is both a source and a node, the source's name wins.
    for (unique_id, entry) in file.sources {
        let source = source_name_of(&unique_id).unwrap_or_else(|| entry.metadata.schema.clone());
        push(&mut tables, &mut seen, source, entry);
    }
    for (_, entry) in file.nodes {
        let source = entry.metadata.schema.clone();
        push(&mut tables, &mut seen, source, entry);
    }
    Ok(Metadata { tables })
}

fn push(
    tables: &mut Vec<Table>,
    seen: &mut std::collections::HashSet<(Option<String>, String, String)>,
    source: String,
    entry: CatalogTable,
) {
    let m = entry.metadata;
    if !seen.insert((m.database.clone(), m.schema.clone(), m.name.clone())) {
        return;
    }
    let mut columns: Vec<(i64, Column)> = entry
        .columns
        .into_values()
        .map(|c| {
            (
                c.index,
                Column {
                    name: c.name,
                    data_type: c.data_type,
                    description: non_empty(c.comment),
                    is_primary_key: false,
                },
            )
        })
        .collect();
    // `index` is the warehouse's column order; the name breaks ties deterministically.
    columns.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    tables.push(Table {
        source,
        database: m.database,
        schema: m.schema,
        name: m.name,
        kind: m.kind,
        description: non_empty(m.comment),
        columns: columns.into_iter().map(|(_, c)| c).collect(),
    });
}

/// `source.PACKAGE.SOURCE_NAME.TABLE_NAME` → `SOURCE_NAME` (table names may contain dots).
fn source_name_of(unique_id: &str) -> Option<String> {
    let mut parts = unique_id.splitn(4, '.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("source"), Some(_), Some(name), Some(_)) => Some(name.to_string()),
        _ => None,
    }
}

fn locate_error(path: &Path, bytes: &[u8]) -> CatalogError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<CatalogFile, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Ok(_) => CatalogError::Malformed {
            path: path.to_path_buf(),
            at: "(unknown)".into(),
            line: 0,
            column: 0,
            message: "unexpected trailing data".into(),
        },
        Err(e) => {
            let at = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            // serde_json appends " at line L column C"; we say it ourselves.
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            CatalogError::Malformed {
                path: path.to_path_buf(),
                at: if at == "." {
                    "the top level".into()
                } else {
                    at
                },
                line: inner.line(),
                column: inner.column(),
                message,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sources_and_nodes_in_column_order() {
        let json = br#"{
          "metadata": {"dbt_version": "1.11.0"},
          "sources": {"source.p.shop.Order Items": {
            "metadata": {"type": "BASE TABLE", "schema": "raw", "name": "Order Items", "database": "wh", "comment": " "},
            "columns": {
              "b": {"type": "INTEGER", "index": 2, "name": "b", "comment": null},
              "A": {"type": "VARCHAR", "index": 1, "name": "A", "comment": "first"}
            }, "stats": {}, "unique_id": "source.p.shop.Order Items"}},
          "nodes": {"seed.p.raw_people": {
            "metadata": {"type": "BASE TABLE", "schema": "main", "name": "raw_people", "database": "wh", "comment": null},
            "columns": {}, "stats": {}, "unique_id": "seed.p.raw_people"}},
          "errors": null
        }"#;
        let m = parse(Path::new("catalog.json"), json).unwrap();
        assert_eq!(m.tables.len(), 2);
        let t = &m.tables[0];
        assert_eq!(
            (t.source.as_str(), t.name.as_str()),
            ("shop", "Order Items")
        );
        assert_eq!(t.description, None);
        let names: Vec<_> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["A", "b"]);
        assert_eq!(t.columns[0].description.as_deref(), Some("first"));
        assert_eq!(m.tables[1].source, "main");
    }

    #[test]
    fn malformed_input_names_the_json_path() {
        let json = br#"{"nodes": {"model.p.x": {"metadata": {"schema": "s", "name": "x"},
            "columns": {"id": {"type": "INTEGER", "index": "one", "name": "id"}}}}}"#;
        let err = parse(Path::new("target/catalog.json"), json).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("target/catalog.json"), "{msg}");
        assert!(msg.contains("nodes.model.p.x.columns.id.index"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }
}
