//! What the spec may name: the models of the project's artifacts and files, with their columns when known.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::declared::{artifacts, sql_stems};
use super::problem::MartsError;

/// What the project's metadata says of the models a spec is built from: each model's
/// columns when known (`None`: the model exists, its columns are not known).
#[derive(Debug, Default)]
pub struct Known {
    models: BTreeMap<String, Option<Vec<String>>>,
    /// (model, column) → the warehouse's type name, when a catalog says it.
    types: BTreeMap<(String, String), String>,
    /// Where the columns came from (for messages and the no-op key).
    pub sources: Vec<PathBuf>,
}

impl Known {
    /// `None`: no such model; `Some(None)`: it exists, columns unknown.
    pub fn columns(&self, model: &str) -> Option<Option<Vec<String>>> {
        self.models.get(&model.to_ascii_lowercase()).cloned()
    }

    /// The warehouse's type of a model's column, when a catalog says it.
    pub fn column_type(&self, model: &str, column: &str) -> Option<&str> {
        self.types
            .get(&(model.to_ascii_lowercase(), column.to_ascii_lowercase()))
            .map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.keys().map(String::as_str)
    }

    /// A model known to exist, columns unknown (unless already known).
    pub fn add_model(&mut self, name: &str) {
        self.models.entry(name.to_ascii_lowercase()).or_insert(None);
    }

    pub fn add_columns(&mut self, name: &str, columns: Vec<String>) {
        let e = self.models.entry(name.to_ascii_lowercase()).or_insert(None);
        if e.is_none() && !columns.is_empty() {
            *e = Some(columns);
        }
    }

    /// Models and columns of a `catalog.json` (dbt docs generate) or `manifest.json`.
    pub fn read_artifact(&mut self, path: &Path) -> Result<(), MartsError> {
        #[derive(Deserialize)]
        struct Artifact {
            #[serde(default)]
            nodes: BTreeMap<String, Node>,
        }
        #[derive(Deserialize)]
        struct Node {
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            columns: BTreeMap<String, Column>,
            #[serde(default)]
            metadata: Option<NodeMetadata>,
        }
        #[derive(Deserialize)]
        struct NodeMetadata {
            #[serde(default)]
            name: Option<String>,
        }
        #[derive(Deserialize)]
        struct Column {
            name: String,
            #[serde(default)]
            index: Option<i64>,
            #[serde(default, rename = "type")]
            data_type: Option<String>,
        }
        let bytes = crate::io_limits::read(
            path,
            crate::io_limits::ARTIFACT_LIMIT,
            crate::io_limits::Origin::Named,
        )
        .map_err(|e| MartsError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let artifact: Artifact = serde_json::from_slice(&bytes).map_err(|e| MartsError::Read {
            path: path.to_path_buf(),
            message: format!("not a dbt catalog or manifest: {e}"),
        })?;
        for (id, node) in artifact.nodes {
            let mut parts = id.split('.');
            let kind = parts.next().unwrap_or_default();
            if !matches!(kind, "model" | "seed" | "snapshot") {
                continue;
            }
            // The node's name: the manifest says it; a catalog's unique id ends with it.
            // A catalog node (it has `metadata`) lists the relation's real columns; a
            // manifest's lists only the documented ones, so it says only that the model exists.
            let from_catalog = node.metadata.is_some();
            let name = node
                .name
                .or_else(|| id.split('.').nth(2).map(str::to_string))
                .or_else(|| node.metadata.and_then(|m| m.name))
                .unwrap_or_default();
            if !from_catalog {
                self.add_model(&name);
                continue;
            }
            let mut columns: Vec<(i64, String)> = Vec::new();
            for c in node.columns.into_values() {
                if let Some(t) = c.data_type {
                    self.types
                        .insert((name.to_ascii_lowercase(), c.name.to_ascii_lowercase()), t);
                }
                columns.push((c.index.unwrap_or(0), c.name));
            }
            columns.sort();
            self.add_columns(&name, columns.into_iter().map(|(_, c)| c).collect());
        }
        self.sources.push(path.to_path_buf());
        Ok(())
    }
}

/// What the project's metadata knows of the models a spec can be built from: the artifacts'
/// models and columns, the project's model files, the models datachonk generated before
/// (recorded in `state`) and those this run generates (`staging`).
pub fn known(
    root: &Path,
    input: Option<&Path>,
    project: &crate::generate::read::project::Project,
    state: &crate::generate::reconcile::state::State,
    staging: &BTreeSet<String>,
) -> Result<Known, MartsError> {
    let mut known = Known::default();
    for path in artifacts(root, input) {
        known.read_artifact(&path)?;
    }
    for name in project.model_files.keys() {
        known.add_model(name);
    }
    for name in sql_stems(state.files.keys().map(String::as_str))
        .iter()
        .chain(staging)
    {
        known.add_model(name);
    }
    Ok(known)
}
