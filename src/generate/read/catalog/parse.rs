//! `--from-catalog PATH`: the `catalog.json` artifact `dbt docs generate` writes. Both its
//! `sources` and its `nodes` (seeds, models, snapshots of another project) are read: each
//! entry carries `metadata {type, schema, name, database, comment}` and
//! `columns {NAME: {type, index, name, comment}}`.

use std::path::Path;

use super::shape::{CatalogError, CatalogFile};
use super::split;
use crate::generate::read::metadata::{Metadata, Table};

/// Read a catalog file.
pub fn read(path: &Path) -> Result<Metadata, CatalogError> {
    let bytes = crate::io_limits::read(
        path,
        crate::io_limits::ARTIFACT_LIMIT,
        crate::io_limits::Origin::Named,
    )
    .map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &bytes)
}

/// Parse catalog bytes; `path` is only used in messages.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Metadata, CatalogError> {
    // Fast paths first (on every core when the file is large); only a failure pays for path
    // tracking.
    let file = match split::parse(bytes).map_or_else(|| serde_json::from_slice(bytes).ok(), Some) {
        Some(f) => f,
        None => return Err(locate_error(path, bytes)),
    };
    let mut tables = Vec::with_capacity(file.sources.len() + file.nodes.len());
    let mut seen = std::collections::HashSet::new();
    // Sources first: when a relation is both a source and a node, the source's name wins.
    for (unique_id, mut table) in by_unique_id(file.sources) {
        table.source = source_name_of(&unique_id).unwrap_or_else(|| table.schema.clone());
        push(&mut tables, &mut seen, table);
    }
    for (unique_id, mut table) in by_unique_id(file.nodes) {
        table.source = table.schema.clone();
        // Seeds are raw data (staged like a source); models, snapshots and tests are the
        // project's own work, never staging inputs (unless selected by name).
        table.seed = unique_id.starts_with("seed.");
        table.project_node = !table.seed;
        push(&mut tables, &mut seen, table);
    }
    Ok(Metadata { tables })
}

/// Entries sorted by unique id, a repeated id keeping its last entry (as a JSON object would).
fn by_unique_id(mut entries: Vec<(String, Table)>) -> Vec<(String, Table)> {
    entries.reverse();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|later, first| later.0 == first.0);
    entries
}

fn push(
    tables: &mut Vec<Table>,
    seen: &mut std::collections::HashSet<(Option<String>, String, String)>,
    table: Table,
) {
    if !seen.insert((
        table.database.clone(),
        table.schema.clone(),
        table.name.clone(),
    )) {
        return;
    }
    tables.push(table);
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
