//! What a dbt project says about itself, read before anything is planned: its `name`, the
//! folders dbt reads models from (`model-paths`) and the adapter its profile or manifest names
//! (the SQL dialect). Below `generate` and the configuration both: the configuration's
//! defaults (where models go, which dialect) come from here too.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where `dbt parse` writes the manifest, relative to the project.
pub const MANIFEST: &str = "target/manifest.json";

/// The project's `name` in dbt_project.yml (what tells its own nodes from packages').
pub fn project_name(root: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct DbtProject {
        name: Option<String>,
    }
    let text = std::fs::read_to_string(root.join("dbt_project.yml")).ok()?;
    crate::yaml_read::from_str_tolerant::<DbtProject>(&text)
        .ok()?
        .0
        .name
}

/// The folders dbt reads models from (`model-paths` of dbt_project.yml, default `models`),
/// relative to `root`; only folders inside the project.
pub fn model_paths(root: &Path) -> Vec<String> {
    #[derive(Deserialize)]
    struct DbtProject {
        #[serde(rename = "model-paths", default)]
        model_paths: Option<Vec<String>>,
    }
    let paths = std::fs::read_to_string(root.join("dbt_project.yml"))
        .ok()
        .and_then(|t| crate::yaml_read::from_str_tolerant::<DbtProject>(&t).ok())
        .and_then(|(p, _)| p.model_paths)
        .unwrap_or_else(|| vec!["models".into()]);
    paths
        .into_iter()
        .map(|p| p.trim_end_matches('/').to_string())
        .filter(|p| {
            !p.is_empty()
                && !Path::new(p).is_absolute()
                && !Path::new(p)
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
        })
        .collect()
}

/// The dialect the project's adapter implies: the manifest's `adapter_type` (read from the
/// head of the file: `metadata` comes first), else the `type` of the profile's target in
/// profiles.yml (`DBT_PROFILES_DIR`, the project folder, `~/.dbt`). `None` when neither says
/// one datachonk knows.
pub fn project_dialect(root: &Path) -> Option<String> {
    adapter_from_manifest_head(&root.join(MANIFEST))
        .or_else(|| adapter_from_profile(root))
        .and_then(|a| dialect_of(&a))
}

fn dialect_of(adapter: &str) -> Option<String> {
    let a = adapter.to_ascii_lowercase();
    let d = match a.as_str() {
        "duckdb" | "motherduck" => "duckdb",
        "postgres" | "postgresql" => "postgres",
        "redshift" => "redshift",
        "snowflake" => "snowflake",
        "bigquery" => "bigquery",
        "databricks" | "spark" => "databricks",
        _ => return None,
    };
    Some(d.to_string())
}

fn adapter_from_manifest_head(path: &Path) -> Option<String> {
    let mut head = vec![0u8; 64 * 1024];
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let at = text.find("\"adapter_type\"")?;
    let rest = text[at + "\"adapter_type\"".len()..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn adapter_from_profile(root: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct DbtProject {
        profile: Option<String>,
    }
    let project: DbtProject = crate::yaml_read::from_str_tolerant(
        &std::fs::read_to_string(root.join("dbt_project.yml")).ok()?,
    )
    .ok()?
    .0;
    let profile = project.profile?;
    let dirs = std::env::var_os("DBT_PROFILES_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([root.to_path_buf()])
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".dbt")));
    for dir in dirs {
        let Ok(text) = std::fs::read_to_string(dir.join("profiles.yml")) else {
            continue;
        };
        let Ok((profiles, _)) = crate::yaml_read::from_str_tolerant::<serde_json::Value>(&text)
        else {
            continue;
        };
        let p = profiles.get(&profile)?;
        let target = p.get("target").and_then(serde_json::Value::as_str)?;
        let output = p.get("outputs")?.get(target)?;
        return output
            .get("type")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_model_paths_and_the_adapter_come_from_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(model_paths(root), ["models"]);
        assert_eq!(project_name(root), None);
        std::fs::write(
            root.join("dbt_project.yml"),
            "name: shop\nname: shop2\nprofile: shop\nmodel-paths: [\"transform/\", \"../outside\", \"/abs\"]\n",
        )
        .unwrap();
        // dbt's tolerance: the last of a key written twice wins.
        assert_eq!(project_name(root).as_deref(), Some("shop2"));
        assert_eq!(model_paths(root), ["transform"]);
        std::fs::write(
            root.join("profiles.yml"),
            "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: x.duckdb}\n",
        )
        .unwrap();
        assert_eq!(project_dialect(root).as_deref(), Some("duckdb"));
        std::fs::create_dir_all(root.join("target")).unwrap();
        std::fs::write(
            root.join(MANIFEST),
            r#"{"metadata": {"adapter_type": "bigquery"}, "nodes": {}}"#,
        )
        .unwrap();
        assert_eq!(project_dialect(root).as_deref(), Some("bigquery"));
    }
}
