//! What a checked-out dbt project holds, read from its files without running dbt: the project
//! name and profile from `dbt_project.yml`, and the models under its model paths. The
//! `simulate` executor uses it so a run's artifacts name the models, seeds and data tests that
//! exist at the requested sha; the `dbt` executor uses the profile name to write
//! `profiles.yml`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The parts of `dbt_project.yml` the sandbox reads (everything else is ignored).
#[derive(Debug, Deserialize)]
struct ProjectFile {
    name: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default, rename = "model-paths")]
    model_paths: Option<Vec<String>>,
    #[serde(default, rename = "seed-paths")]
    seed_paths: Option<Vec<String>>,
}

/// A project as found in a checkout.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedProject {
    /// `name:` — dbt's `package_name` of every node.
    pub name: String,
    /// `profile:` (dbt falls back to nothing; we fall back to `name`).
    pub profile: String,
    /// Model names (file stems), sorted.
    pub models: Vec<String>,
    /// The models' files, in the order of `models`.
    pub model_files: Vec<ModelFile>,
    /// Seed names (`*.csv` stems under the seed paths), sorted.
    pub seeds: Vec<String>,
    /// The data tests the properties files under the model paths declare, sorted by name.
    pub tests: Vec<DataTest>,
}

/// One data test declared on a model or one of its columns (`data_tests:` or `tests:`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DataTest {
    /// dbt's node name for it, e.g. `not_null_stg_orders_order_id`.
    pub name: String,
    /// The model it tests.
    pub model: String,
}

/// One model's file in a checkout: what dbt's manifest says about where it lives.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    /// File stem: the model's name.
    pub name: String,
    /// From the project root, forward slashes (dbt's `original_file_path`).
    pub original_file_path: String,
    /// Inside its model path (dbt's `path`).
    pub path: String,
    /// The file's content (dbt's `raw_code`).
    pub raw_code: String,
}

/// `model`'s file among `files`, when the run's models were read from a checkout.
pub fn model_file<'a>(files: &'a [ModelFile], model: &str) -> Option<&'a ModelFile> {
    files.iter().find(|f| f.name == model)
}

/// dbt's `original_file_path` of `model`: its real file, else where the fixture-only
/// simulation pretends staging models live.
pub fn original_file_path(files: &[ModelFile], model: &str) -> String {
    model_file(files, model)
        .map(|f| f.original_file_path.clone())
        .unwrap_or_else(|| format!("models/staging/{model}.sql"))
}

/// Why a checkout is not a dbt project the sandbox can read.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// dbt's own words for it, so the step log reads like a real run's.
    #[error("Runtime Error\n  fatal: Not a dbt project (or any of the parent directories). Missing dbt_project.yml file")]
    NotAProject,
    #[error("Runtime Error\n  Invalid dbt_project.yml ({}): {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Read `dir/dbt_project.yml` and list the models under its model paths.
pub fn scan(dir: &Path) -> Result<ScannedProject, ScanError> {
    let path = dir.join("dbt_project.yml");
    let text = std::fs::read_to_string(&path).map_err(|_| ScanError::NotAProject)?;
    let file: ProjectFile = serde_saphyr::from_str(&text).map_err(|e| ScanError::Invalid {
        path: path.clone(),
        message: e.to_string().lines().next().unwrap_or_default().to_string(),
    })?;
    let model_paths = file.model_paths.unwrap_or_else(|| vec!["models".into()]);
    let mut model_files = Vec::new();
    for rel in &model_paths {
        let rel = rel.trim_end_matches('/');
        collect_sql(&dir.join(rel), rel, &mut model_files);
    }
    // dbt refuses two models of one name; the first path wins here.
    model_files
        .sort_by(|a, b| (&a.name, &a.original_file_path).cmp(&(&b.name, &b.original_file_path)));
    model_files.dedup_by(|b, a| a.name == b.name);
    let mut tests = Vec::new();
    for rel in &model_paths {
        collect_tests(&dir.join(rel.trim_end_matches('/')), &mut tests);
    }
    tests.sort();
    tests.dedup();
    let mut seeds = Vec::new();
    for rel in file.seed_paths.unwrap_or_else(|| vec!["seeds".into()]) {
        collect_files(&dir.join(rel.trim_end_matches('/')), "csv", &mut |path| {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                seeds.push(stem.to_string());
            }
        });
    }
    seeds.sort();
    seeds.dedup();
    Ok(ScannedProject {
        profile: file.profile.unwrap_or_else(|| file.name.clone()),
        name: file.name,
        models: model_files.iter().map(|f| f.name.clone()).collect(),
        model_files,
        seeds,
        tests,
    })
}

/// Files ending in `.ext` under `dir`, recursively (unreadable entries and symlinked
/// directories skipped).
fn collect_files(dir: &Path, ext: &str, found: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect_files(&path, ext, found),
            Ok(_) if path.extension().is_some_and(|e| e == ext) => found(&path),
            _ => {}
        }
    }
}

/// The data tests of every properties file under `dir`. A file that is not YAML dbt would
/// read is skipped: a simulation counts what it can see, it does not validate.
fn collect_tests(dir: &Path, out: &mut Vec<DataTest>) {
    let mut files = Vec::new();
    for ext in ["yml", "yaml"] {
        collect_files(dir, ext, &mut |p| files.push(p.to_path_buf()));
    }
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(doc) = serde_saphyr::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let models = doc.get("models").and_then(|m| m.as_array());
        for model in models.into_iter().flatten() {
            let Some(name) = model.get("name").and_then(|n| n.as_str()) else {
                continue;
            };
            // dbt's names: `<test>_<model>` on the model, `<test>_<model>_<column>` on a column.
            let columns = model.get("columns").and_then(|c| c.as_array());
            let on_columns = columns.into_iter().flatten().filter_map(|column| {
                let col = column.get("name").and_then(|n| n.as_str())?;
                Some((column, format!("{name}_{col}")))
            });
            for (node, suffix) in std::iter::once((model, name.to_string())).chain(on_columns) {
                out.extend(tests_of(node).into_iter().map(|test| DataTest {
                    name: format!("{test}_{suffix}"),
                    model: name.to_string(),
                }));
            }
        }
    }
}

/// The generic test names under `data_tests:` (or the older `tests:`) of a model or column:
/// `- not_null`, `- accepted_values: {...}`, `- {name: x, test_name: y}`.
fn tests_of(node: &serde_json::Value) -> Vec<String> {
    let list = node
        .get("data_tests")
        .or_else(|| node.get("tests"))
        .and_then(|t| t.as_array());
    list.into_iter()
        .flatten()
        .filter_map(|t| match t {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(m) => m
                .get("test_name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .or_else(|| m.keys().find(|k| *k != "name" && *k != "config").cloned()),
            _ => None,
        })
        .map(|t| t.rsplit('.').next().unwrap_or(&t).to_string())
        .collect()
}

/// `*.sql` files under `dir` (model path `model_path`), recursively (unreadable directories
/// and files are skipped, as dbt skips what it cannot read; symlinked directories are not
/// followed).
fn collect_sql(dir: &Path, model_path: &str, out: &mut Vec<ModelFile>) {
    collect_files(dir, "sql", &mut |path| {
        let inner = path.strip_prefix(dir).unwrap_or(path);
        let inner = inner.to_string_lossy().replace('\\', "/");
        let (Some(stem), Ok(raw_code)) = (
            path.file_stem().and_then(|s| s.to_str()),
            std::fs::read_to_string(path),
        ) else {
            return;
        };
        out.push(ModelFile {
            name: stem.to_string(),
            original_file_path: format!("{model_path}/{inner}"),
            path: inner,
            raw_code,
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_profile_and_models() {
        let dir = std::env::temp_dir().join(format!("dc-scan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("models/staging")).unwrap();
        std::fs::write(
            dir.join("dbt_project.yml"),
            "name: shop\nversion: '1.0'\nconfig-version: 2\n",
        )
        .unwrap();
        std::fs::write(dir.join("models/staging/stg_orders.sql"), "select 1").unwrap();
        std::fs::write(dir.join("models/one.sql"), "select 1").unwrap();
        std::fs::write(
            dir.join("models/staging/_models.yml"),
            "version: 2\nmodels:\n  - name: stg_orders\n    data_tests: [{dbt_utils.expression_is_true: {expression: 'true'}}]\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n      - name: status\n        tests:\n          - accepted_values: {values: [a]}\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("seeds/raw")).unwrap();
        std::fs::write(dir.join("seeds/raw/countries.csv"), "code\nde\n").unwrap();
        std::fs::write(dir.join("seeds/readme.md"), "not a seed").unwrap();
        let p = scan(&dir).unwrap();
        assert_eq!(p.seeds, vec!["countries"]);
        let tests: Vec<&str> = p.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            tests,
            vec![
                "accepted_values_stg_orders_status",
                "expression_is_true_stg_orders",
                "not_null_stg_orders_id",
                "unique_stg_orders_id"
            ]
        );
        assert!(p.tests.iter().all(|t| t.model == "stg_orders"));
        assert_eq!(p.name, "shop");
        assert_eq!(p.profile, "shop");
        assert_eq!(p.models, vec!["one", "stg_orders"]);
        let orders = model_file(&p.model_files, "stg_orders").unwrap();
        assert_eq!(orders.original_file_path, "models/staging/stg_orders.sql");
        assert_eq!(orders.path, "staging/stg_orders.sql");
        assert_eq!(orders.raw_code, "select 1");
        assert_eq!(original_file_path(&p.model_files, "one"), "models/one.sql");
        assert_eq!(original_file_path(&[], "stg_x"), "models/staging/stg_x.sql");
        assert!(matches!(
            scan(&dir.join("models")),
            Err(ScanError::NotAProject)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
