//! What the project already declares that marts could collide with, and the fingerprints of marts' inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::spec;

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
    let mut dirs: Vec<String> = crate::config::dbt_project::model_paths(root);
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
