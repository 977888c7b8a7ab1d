//! What a checked-out dbt project holds, read from its files without running dbt: the project
//! name and profile from `dbt_project.yml`, and the models under its model paths. The
//! `simulate` executor uses it so a run's artifacts name the models that exist at the
//! requested sha; the `dbt` executor uses the profile name to write `profiles.yml`.

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
    let mut models = Vec::new();
    for rel in &model_paths {
        collect_sql(&dir.join(rel), &mut models);
    }
    models.sort();
    models.dedup();
    Ok(ScannedProject {
        profile: file.profile.unwrap_or_else(|| file.name.clone()),
        name: file.name,
        models,
    })
}

/// File stems of `*.sql` files under `dir`, recursively (unreadable directories are skipped,
/// as dbt skips what it cannot read; symlinked directories are not followed).
fn collect_sql(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_sql(&path, out);
        } else if path.extension().is_some_and(|e| e == "sql") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                out.push(stem.to_string());
            }
        }
    }
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
        std::fs::write(dir.join("models/staging/_models.yml"), "version: 2").unwrap();
        let p = scan(&dir).unwrap();
        assert_eq!(p.name, "shop");
        assert_eq!(p.profile, "shop");
        assert_eq!(p.models, vec!["one", "stg_orders"]);
        assert!(matches!(
            scan(&dir.join("models")),
            Err(ScanError::NotAProject)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
