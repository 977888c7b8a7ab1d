//! What dbt itself resolved, from `target/manifest.json` (`dbt parse` writes it): each
//! source's database, schema and identifier with the Jinja rendered, which sources each model
//! reads (`depends_on`), and the adapter (the dialect). Read when the manifest is newer than
//! every properties file (or given with `--manifest`); the YAML files still say where each
//! declaration is written, for appending to them.
//!
//! Manifests run to hundreds of megabytes: the file is streamed through a buffered reader and
//! only the fields used here are kept (serde skips the rest without building it).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_PATH: &str = crate::config::dbt_project::MANIFEST;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a dbt manifest ({message})")]
    Invalid { path: PathBuf, message: String },
}

/// What planning takes from a manifest.
#[derive(Debug, Default)]
pub struct Manifest {
    pub adapter_type: Option<String>,
    /// Sources as dbt resolved them.
    pub sources: Vec<ResolvedSource>,
    /// `(model file, source, table)` for each source a model reads (names lower-cased; the
    /// file project-relative, as `original_file_path` says; a package's models' files prefixed
    /// with `<package>:` so they never pass for the project's own).
    pub reads: BTreeSet<(String, String, String)>,
    /// `(model file, seed name)` for each seed a model reads (lower-cased, files as `reads`).
    pub seed_reads: BTreeSet<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct ResolvedSource {
    pub source: String,
    pub table: String,
    pub identifier: String,
    pub database: Option<String>,
    pub schema: String,
    /// The installed package that declares it (`None`: the project itself). Its file is the
    /// package's, never edited here.
    pub package: Option<String>,
    /// Where it is declared, relative to its package's root (`original_file_path`).
    pub file: String,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    metadata: RawMetadata,
    #[serde(default)]
    sources: HashMap<String, RawSource>,
    #[serde(default)]
    nodes: HashMap<String, RawNode>,
}

#[derive(Deserialize, Default)]
struct RawMetadata {
    #[serde(default)]
    adapter_type: Option<String>,
    #[serde(default)]
    project_name: Option<String>,
}

#[derive(Deserialize)]
struct RawSource {
    source_name: String,
    name: String,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    database: Option<String>,
    schema: String,
    #[serde(default)]
    package_name: String,
    #[serde(default)]
    original_file_path: String,
}

#[derive(Deserialize)]
struct RawNode {
    resource_type: String,
    #[serde(default)]
    package_name: String,
    #[serde(default)]
    original_file_path: String,
    #[serde(default)]
    depends_on: DependsOn,
}

#[derive(Deserialize, Default)]
struct DependsOn {
    #[serde(default)]
    nodes: Vec<String>,
}

/// Read the manifest at `path`; `project` names the root project (dbt_project.yml's `name`)
/// for manifests whose metadata does not.
pub fn read(path: &Path, project: Option<&str>) -> Result<Manifest, ManifestError> {
    let file = std::fs::File::open(path).map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let raw: Raw = serde_json::from_reader(reader).map_err(|e| ManifestError::Invalid {
        path: path.to_path_buf(),
        message: format!("line {}, column {}: {}", e.line(), e.column(), category(&e)),
    })?;
    let root = raw.metadata.project_name.as_deref().or(project);
    // A node or source of an installed package (not of the project itself).
    let package_of = |name: &str| match root {
        Some(r) if !name.is_empty() && name != r => Some(name.to_string()),
        _ => None,
    };
    let mut m = Manifest {
        adapter_type: raw.metadata.adapter_type.clone(),
        ..Manifest::default()
    };
    for node in raw.nodes.values() {
        if node.resource_type != "model" && node.resource_type != "snapshot" {
            continue;
        }
        let file = node.original_file_path.replace('\\', "/");
        let file = match package_of(&node.package_name) {
            Some(p) => format!("{p}:{file}"),
            None => file,
        };
        for dep in &node.depends_on.nodes {
            if let Some(seed) = dep.strip_prefix("seed.") {
                let name = seed.rsplit('.').next().unwrap_or(seed);
                m.seed_reads
                    .insert((file.clone(), name.to_ascii_lowercase()));
            }
            if let Some(s) = raw.sources.get(dep) {
                m.reads.insert((
                    file.clone(),
                    s.source_name.to_ascii_lowercase(),
                    s.name.to_ascii_lowercase(),
                ));
            }
        }
    }
    m.sources = raw
        .sources
        .into_values()
        .map(|s| ResolvedSource {
            identifier: s.identifier.unwrap_or_else(|| s.name.clone()),
            package: package_of(&s.package_name),
            file: s.original_file_path.replace('\\', "/"),
            source: s.source_name,
            table: s.name,
            database: s.database,
            schema: s.schema,
        })
        .collect();
    m.sources
        .sort_by(|a, b| (&a.source, &a.table).cmp(&(&b.source, &b.table)));
    Ok(m)
}

fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "cannot read it",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "an unexpected shape",
        serde_json::error::Category::Eof => "cut short",
    }
}

/// The manifest to read for the project at `root`: `explicit`, else `target/manifest.json`
/// when it is newer than every file in `properties` (else dbt's view of the project may be
/// stale, and the YAML files are the truth).
pub fn pick(
    root: &Path,
    explicit: Option<&Path>,
    newest_properties: Option<std::time::SystemTime>,
) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let path = root.join(DEFAULT_PATH);
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    match newest_properties {
        Some(newest) if newest >= written => None,
        _ => Some(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_resolved_sources_what_models_read_and_the_adapter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        std::fs::write(
            &path,
            r#"{"metadata": {"adapter_type": "duckdb", "dbt_version": "1.10"},
               "nodes": {
                 "model.p.stg_orders": {"resource_type": "model", "name": "stg_orders",
                    "original_file_path": "models/stg_orders.sql",
                    "depends_on": {"nodes": ["source.p.ecom.raw_orders"], "macros": []}, "raw_code": "..."},
                 "test.p.t": {"resource_type": "test", "depends_on": {"nodes": ["source.p.ecom.raw_items"]}}},
               "sources": {
                 "source.p.ecom.raw_orders": {"source_name": "ecom", "name": "raw_orders",
                    "identifier": "orders", "database": "wh", "schema": "raw", "columns": {}},
                 "source.p.ecom.raw_items": {"source_name": "ecom", "name": "raw_items",
                    "identifier": "raw_items", "database": "wh", "schema": "raw"}}}"#,
        )
        .unwrap();
        let m = read(&path, Some("p")).unwrap();
        assert_eq!(m.adapter_type.as_deref(), Some("duckdb"));
        assert_eq!(m.sources.len(), 2);
        assert_eq!(m.sources[1].identifier, "orders");
        // A test reading a source does not stage it; a model does.
        assert_eq!(
            m.reads.into_iter().collect::<Vec<_>>(),
            vec![(
                "models/stg_orders.sql".to_string(),
                "ecom".to_string(),
                "raw_orders".to_string()
            )]
        );
    }
}
