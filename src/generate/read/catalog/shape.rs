//! The serde shape of `catalog.json`: only the fields generate reads, deserialized straight
//! into [`Table`]s.

use std::borrow::Cow;
use std::path::PathBuf;

use serde::Deserialize;

use crate::generate::read::metadata::{non_empty, Column, Table};

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

/// The whole file, read in one pass straight into tables: no intermediate maps, column keys
/// borrowed from the input (a 10,000-table catalog is ~200,000 columns; an owned map per
/// table doubled the peak memory of `generate`).
pub(super) struct CatalogFile {
    /// (unique id, table), in file order.
    pub(super) nodes: Vec<(String, Table)>,
    pub(super) sources: Vec<(String, Table)>,
}

impl<'de> Deserialize<'de> for CatalogFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = CatalogFile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("struct CatalogFile")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<CatalogFile, A::Error> {
                let mut file = CatalogFile {
                    nodes: Vec::new(),
                    sources: Vec::new(),
                };
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match key.0.as_ref() {
                        "nodes" => file.nodes = map.next_value::<Entries>()?.0,
                        "sources" => file.sources = map.next_value::<Entries>()?.0,
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(file)
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A map key, borrowed from the input unless it contains escapes.
pub(super) struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// `nodes` / `sources`: unique id → table.
pub(super) struct Entries(Vec<(String, Table)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let entry: CatalogTable = map.next_value()?;
                    out.push((key, entry.into_table()));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CatalogTable {
    metadata: TableMetadata,
    columns: Columns,
}

impl CatalogTable {
    /// The table (its `source` is filled in later, from the unique id or the schema).
    pub(super) fn into_table(self) -> Table {
        let m = self.metadata;
        Table {
            source: String::new(),
            database: m.database,
            schema: m.schema,
            name: m.name,
            kind: m.kind,
            description: non_empty(m.comment),
            columns: self.columns.0,
            ..Table::default()
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct TableMetadata {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    schema: String,
    name: String,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// `columns`: key → column, returned in the warehouse's order (`index`, then name).
#[derive(Debug)]
pub(super) struct Columns(Vec<Column>);

impl<'de> Deserialize<'de> for Columns {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Columns;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Columns, A::Error> {
                let mut entries: Vec<(Key<'de>, CatalogColumn)> = Vec::new();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    entries.push((key, map.next_value()?));
                }
                // As a JSON object: a repeated key keeps its last value.
                entries.reverse();
                entries.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
                entries.dedup_by(|later, first| later.0 .0 == first.0 .0);
                let mut columns: Vec<(i64, Column)> = entries
                    .into_iter()
                    .map(|(_, c)| {
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
                // A fresh, exact vector: collecting in place would keep the larger buffer of
                // `entries` alive for every table (17 MB over 200,000 columns).
                let mut out = Vec::with_capacity(columns.len());
                out.extend(columns.into_iter().map(|(_, c)| c));
                Ok(Columns(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CatalogColumn {
    #[serde(rename = "type")]
    data_type: String,
    index: i64,
    name: String,
    #[serde(default)]
    comment: Option<String>,
}
