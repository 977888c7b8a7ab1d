//! `config show`: every key the program resolves, section by section, each with its value and
//! where it came from. The keys are the reference's ([`super::reference::SECTIONS`]), so what
//! is shown and what is documented cannot drift; a test holds every key to a value here.

use serde_json::{json, Value};

use super::error::ConfigError;
use super::generate::{GenerateConfig, GenerateSettings};
use super::git::GitConfig;
use super::reader::{origin_of, read_text};
use super::reference::{Kind, SECTIONS};
use super::spans::{self, Entry};
use super::types::{Config, LoadOptions, Source, Sourced};

/// One resolved key.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The section's dotted path (`generate.naming`, `deploy.dbt_cloud`).
    pub section: &'static str,
    pub key: &'static str,
    /// `null` when unset (and no default).
    pub value: Value,
    pub source: Source,
}

/// The leaf keys of a section, in the reference's order.
fn leaves(section: &str) -> impl Iterator<Item = &'static str> + '_ {
    SECTIONS
        .iter()
        .filter(move |s| s.path == section)
        .flat_map(|s| s.keys.iter())
        .filter(|k| !matches!(k.kind, Kind::Section))
        .map(|k| k.key)
}

/// The file's entries (positions of what it sets); none without a file.
fn file_entries(options: &LoadOptions, file: Option<&std::path::Path>) -> Vec<Entry> {
    file.and_then(|p| read_text(p, origin_of(options)).ok())
        .and_then(|t| spans::entries(&t))
        .unwrap_or_default()
}

fn file_source(file: Option<&std::path::Path>, entry: &Entry) -> Source {
    Source::File {
        path: file.map(|p| p.to_path_buf()).unwrap_or_default(),
        line: entry.value.line,
        column: entry.value.column,
    }
}

/// `generate:` and its sub-sections, then `git:`.
pub fn file_sections(
    options: &LoadOptions,
    generate: &GenerateSettings,
    git: &GitConfig,
) -> Result<Vec<Setting>, ConfigError> {
    let file = generate.file.as_deref();
    let entries = file_entries(options, file);
    let defaults = GenerateConfig::default();
    let mut out = Vec::new();
    for section in [
        "generate",
        "generate.naming",
        "generate.primary_key",
        "generate.freshness",
        "git",
    ] {
        for key in leaves(section) {
            let dotted = format!("{section}.{key}");
            let (value, default) = if section == "git" {
                (git_value(git, key), git_value(&GitConfig::default(), key))
            } else {
                (
                    generate_value(&generate.config, &dotted),
                    generate_value(&defaults, &dotted),
                )
            };
            let source = match spans::find(&entries, &dotted) {
                Some(e) => file_source(file, e),
                // Not in the file, yet not the built-in default: read from the dbt project.
                None if value != default && key == "dialect" => {
                    Source::Project("target/manifest.json".into())
                }
                None if value != default && key == "output_dir" => {
                    Source::Project("dbt_project.yml model-paths".into())
                }
                None => Source::Default,
            };
            out.push(Setting {
                section: static_section(section),
                key,
                value,
                source,
            });
        }
    }
    Ok(out)
}

fn static_section(path: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|s| s.path == path)
        .map(|s| s.path)
        .unwrap_or("")
}

/// A key of `generate` as resolved. The resolved type names a few fields differently.
pub(super) fn generate_value(c: &GenerateConfig, dotted: &str) -> Value {
    let field = match dotted {
        "generate.naming.model" => "model_name",
        "generate.naming.primary_key" => "key_alias",
        "generate.primary_key.columns" => "primary_key_columns",
        "generate.primary_key.tables" => "primary_keys",
        "generate.freshness.warn_after" | "generate.freshness.error_after" => {
            let which = dotted.rsplit('.').next().unwrap_or_default();
            let f = c.freshness.as_ref().map(|f| match which {
                "warn_after" => &f.warn_after,
                _ => &f.error_after,
            });
            return json!(f.cloned().flatten());
        }
        other => other.rsplit('.').next().unwrap_or_default(),
    };
    let all = serde_json::to_value(c).unwrap_or(Value::Null);
    match all.get(field) {
        Some(Value::String(p)) if field == "templates_dir" => json!(p),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

fn git_value(c: &GitConfig, key: &str) -> Value {
    match key {
        "protected_branches" => json!(c.protected_branches),
        "push_timeout" => json!(humantime::format_duration(c.push_timeout).to_string()),
        _ => Value::Null,
    }
}

/// `deploy.dbt_cloud` as resolved for one target (or the block), in the reference's order,
/// then what is derived from it: `token` (never its value: only whether it is set, and from
/// which variable) and `target`, the target in use.
pub fn dbt_cloud(options: &LoadOptions, cfg: &Config) -> Vec<Setting> {
    let file = cfg.file.as_deref();
    let entries = file_entries(options, file);
    let d = &cfg.dbt_cloud;
    let o = &d.overrides;
    fn sourced<T: serde::Serialize>(v: &Option<Sourced<T>>) -> (Value, Source) {
        match v {
            Some(s) => (json!(s.value), s.source.clone()),
            None => (Value::Null, Source::Default),
        }
    }
    fn set<T: serde::Serialize>(v: &Sourced<T>) -> (Value, Source) {
        (json!(v.value), v.source.clone())
    }
    let in_file = |dotted: &str| -> (Value, Source) {
        match spans::find(&entries, dotted) {
            Some(e) => (
                e.scalar.clone().map_or(Value::Null, Value::String),
                file_source(file, e),
            ),
            None => (Value::Null, Source::Default),
        }
    };
    let mut out: Vec<Setting> = leaves("deploy.dbt_cloud")
        .map(|key| {
            let (value, source) = match key {
                "access_url" => set(&d.access_url),
                "account_id" => sourced(&d.account_id),
                "project_id" => sourced(&d.project_id),
                "environment_id" => sourced(&d.environment_id),
                "job_id" => sourced(&d.job_id),
                "token_env" => set(&d.token_env),
                "auto_trigger" => set(&d.auto_trigger),
                "wait" => set(&d.wait),
                "timeout" => match &d.timeout {
                    Some(t) => (
                        json!(humantime::format_duration(t.value).to_string()),
                        t.source.clone(),
                    ),
                    None => (Value::Null, Source::Default),
                },
                "retries" => set(&d.retries),
                "cause" => sourced(&d.cause),
                "schema_override" => sourced(&o.schema_override),
                "target_name_override" => sourced(&o.target_name_override),
                "threads_override" => sourced(&o.threads_override),
                "steps_override" => sourced(&o.steps_override),
                "timeout_seconds_override" => sourced(&o.timeout_seconds_override),
                "dbt_version_override" => sourced(&o.dbt_version_override),
                "generate_docs_override" => sourced(&o.generate_docs_override),
                "confirm" => set(&d.confirm),
                "targets" => match spans::find(&entries, "deploy.dbt_cloud.targets") {
                    Some(e) => (json!(d.targets), file_source(file, e)),
                    None => (json!(d.targets), Source::Default),
                },
                "default_target" => in_file("deploy.dbt_cloud.default_target"),
                other => unreachable!("deploy.dbt_cloud.{other} is documented but not shown"),
            };
            Setting {
                section: "deploy.dbt_cloud",
                key,
                value,
                source,
            }
        })
        .collect();
    let token = match &d.token {
        Some(t) => (json!("(set)"), t.source.clone()),
        None => (json!(null), Source::Default),
    };
    let target = sourced(&d.target);
    for (key, (value, source)) in [("token", token), ("target", target)] {
        out.push(Setting {
            section: "deploy.dbt_cloud",
            key,
            value,
            source,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_generate_and_git_key_has_a_resolved_value() {
        let mut c = GenerateConfig {
            source: Some("shop".into()),
            database: Some("db".into()),
            schema: Some("raw".into()),
            templates_dir: Some("t".into()),
            loaded_at_field: Some("_loaded_at".into()),
            catalog_job_id: Some(3),
            ..GenerateConfig::default()
        };
        c.freshness = Some(super::super::generate::FreshnessSection {
            warn_after: Some(super::super::generate::FreshnessPeriod {
                count: 1,
                period: "hour".into(),
            }),
            error_after: Some(super::super::generate::FreshnessPeriod {
                count: 2,
                period: "day".into(),
            }),
        });
        for section in [
            "generate",
            "generate.naming",
            "generate.primary_key",
            "generate.freshness",
        ] {
            for key in leaves(section) {
                let v = generate_value(&c, &format!("{section}.{key}"));
                assert!(!v.is_null(), "{section}.{key} has no value in show");
            }
        }
        for key in leaves("git") {
            assert!(
                !git_value(&GitConfig::default(), key).is_null(),
                "git.{key}"
            );
        }
    }
}
