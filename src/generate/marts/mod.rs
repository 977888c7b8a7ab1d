//! Entities (dimensions, SCD2 through dbt snapshots), facts (incremental where asked) and
//! metrics (semantic models + metrics + a time spine) from the declarative spec in
//! `datachonk/*.yml` ([`spec`]), validated against the project's metadata ([`model`]) and
//! planned, rendered and written through the same path as staging ([`render`]): the same
//! state file, hand-edit detection, `--force`, `--check`, `--dry-run`.

pub mod edit;
pub mod model;
pub mod render;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use spec::At;

/// One problem in the spec, at its place, with what to write instead.
#[derive(Debug, Clone)]
pub struct Problem {
    pub at: At,
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.at.file.display(),
            self.at.line,
            self.at.column,
            self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MartsError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{}:{}:{}: {message}", at.file.display(), at.line, at.column)]
    Invalid {
        at: At,
        message: String,
        hint: Option<String>,
    },
    /// Every problem validation found (each with its place and hint).
    #[error("{}", spec_problems(.0))]
    Spec(Vec<Problem>),
    /// A name the spec would render that the project already declares.
    #[error("{what} `{name}` is already declared in {file}: dbt refuses two")]
    Duplicate {
        what: &'static str,
        name: String,
        file: String,
    },
}

fn spec_problems(problems: &[Problem]) -> String {
    let mut out = format!("the spec has {} problem(s):", problems.len());
    for p in problems.iter().take(50) {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    if problems.len() > 50 {
        out.push_str(&format!("\n  … and {} more", problems.len() - 50));
    }
    out
}

impl MartsError {
    /// What to do about it, for people.
    pub fn hint(&self) -> Option<String> {
        match self {
            MartsError::Invalid { hint, .. } => hint.clone(),
            MartsError::Spec(_) => Some(
                "fix the spec in datachonk/*.yml (README, \"Entities, facts and metrics\"); nothing was written"
                    .into(),
            ),
            MartsError::Duplicate { .. } => Some(
                "rename the entry in the spec (or remove the project's own declaration); nothing was written"
                    .into(),
            ),
            MartsError::Read { .. } => None,
        }
    }
}

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

/// What the project (files datachonk did not write) declares that the spec's output could
/// collide with: semantic models, metrics, snapshots, and whether it has a time spine.
#[derive(Debug, Default)]
pub struct Declared {
    pub semantic_models: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, String>,
    pub snapshots: BTreeMap<String, String>,
    pub time_spine: Option<String>,
}

/// Read the project's YAML under its model paths and `snapshots_folder` (files for which
/// `ours` is true are datachonk's and skipped). Files dbt could not read either are skipped
/// here: the project reader reports them.
pub fn read_declared(root: &Path, snapshots_folder: &str, ours: &dyn Fn(&str) -> bool) -> Declared {
    #[derive(Deserialize, Default)]
    struct Props {
        #[serde(default)]
        models: Option<Vec<Entry>>,
        #[serde(default)]
        semantic_models: Option<Vec<Entry>>,
        #[serde(default)]
        metrics: Option<Vec<Entry>>,
        #[serde(default)]
        snapshots: Option<Vec<Entry>>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        time_spine: Option<serde::de::IgnoredAny>,
    }
    let mut files = Vec::new();
    let mut dirs: Vec<String> = crate::generate::read::project::model_paths(root);
    dirs.push(snapshots_folder.to_string());
    for d in dirs {
        walk(root, &root.join(d), &mut files);
    }
    files.sort();
    files.dedup();
    let mut out = Declared::default();
    for rel in files {
        if ours(&rel) {
            continue;
        }
        let stem = rel.rsplit('/').next().unwrap_or(&rel);
        if stem.ends_with(".sql") {
            let name = stem.trim_end_matches(".sql");
            if name == "metricflow_time_spine" {
                out.time_spine.get_or_insert(rel.clone());
            }
            if rel.starts_with(&format!("{snapshots_folder}/")) {
                out.snapshots.insert(name.to_ascii_lowercase(), rel.clone());
            }
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&rel)) else {
            continue;
        };
        if !["semantic_models:", "metrics:", "snapshots:", "time_spine:"]
            .iter()
            .any(|k| text.contains(k))
        {
            continue;
        }
        let Ok(props) = serde_saphyr::from_str::<Props>(&text) else {
            continue;
        };
        for m in props.models.unwrap_or_default() {
            if m.time_spine.is_some() {
                out.time_spine.get_or_insert(rel.clone());
            }
        }
        for (list, map) in [
            (props.semantic_models, &mut out.semantic_models),
            (props.metrics, &mut out.metrics),
            (props.snapshots, &mut out.snapshots),
        ] {
            for e in list.unwrap_or_default() {
                if let Some(n) = e.name {
                    map.entry(n.to_ascii_lowercase()).or_insert(rel.clone());
                }
            }
        }
    }
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        let path = e.path();
        if kind.is_dir() {
            walk(root, &path, out);
        } else if kind.is_file() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || ![".yml", ".yaml", ".sql"].iter().any(|x| name.ends_with(x))
            {
                continue;
            }
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
}

/// The artifact whose columns validate the spec: the catalog `generate` reads (when it reads
/// one), else the project's `target/catalog.json`, else its `target/manifest.json`.
pub fn artifacts(root: &Path, input: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = input {
        out.push(p.to_path_buf());
    }
    for name in ["target/catalog.json", "target/manifest.json"] {
        let p = root.join(name);
        if p.is_file() && !out.iter().any(|o| o == &p) {
            out.push(p);
        }
    }
    out
}

/// Bytes of everything marts planning reads besides the project's files and the state: the
/// spec files and the artifacts (for the no-op fast path's key). Empty without a spec.
pub fn inputs_fingerprint(root: &Path, input: Option<&Path>) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let files = spec::files(root);
    if files.is_empty() {
        return Vec::new();
    }
    let mut h = Sha256::new();
    for f in files.iter().chain(artifacts(root, input).iter()) {
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        if let Ok(b) = crate::io_limits::read(
            f,
            crate::io_limits::ARTIFACT_LIMIT,
            crate::io_limits::Origin::Found,
        ) {
            h.update(&b);
        }
        h.update([0]);
    }
    h.finalize().to_vec()
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

/// What [`read_declared`] finds, hashed (empty without a spec): part of the no-op fast path's
/// key, so a semantic model, metric, snapshot or time spine the project adds is planned against.
pub fn declared_fingerprint(root: &Path, ours: &dyn Fn(&str) -> bool) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    if !spec::exists(root) {
        return Vec::new();
    }
    #[derive(Deserialize)]
    struct LayoutOnly {
        #[serde(default)]
        layout: Option<LayoutFolder>,
    }
    #[derive(Deserialize)]
    struct LayoutFolder {
        #[serde(default)]
        snapshots_folder: Option<String>,
    }
    let folder = spec::files(root)
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter(|t| t.contains("snapshots_folder"))
        .filter_map(|t| serde_saphyr::from_str::<LayoutOnly>(&t).ok())
        .find_map(|l| l.layout.and_then(|l| l.snapshots_folder))
        .unwrap_or_else(|| "snapshots".into());
    let d = read_declared(root, folder.trim_end_matches('/'), ours);
    let mut h = Sha256::new();
    for (kind, map) in [
        ("S", &d.semantic_models),
        ("M", &d.metrics),
        ("N", &d.snapshots),
    ] {
        for (name, file) in map {
            h.update(format!("{kind}\0{name}\0{file}\0"));
        }
    }
    h.update(format!("T\0{:?}", d.time_spine));
    h.finalize().to_vec()
}

/// Names used by a set of planned staging files' models (`.sql` stems).
pub fn sql_stems<'a>(paths: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    paths
        .into_iter()
        .filter_map(|p| p.strip_suffix(".sql"))
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase())
        .collect()
}
