//! `datachonk config show`: the effective configuration with provenance.

use serde_json::{json, Map, Value};

use crate::cli::{ConfigCommand, GlobalArgs};
use crate::config::{self, Config, FlagValues, LoadOptions, ProcessEnv, Source, Sourced};
use crate::error::{CmdResult, Exit};
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, cmd: ConfigCommand, ui: &Ui) -> CmdResult {
    match cmd {
        ConfigCommand::Show => show(global, ui),
    }
}

/// Load options shared by every command: `--config FILE` or a search from the current directory.
pub fn load_options(global: &GlobalArgs) -> LoadOptions {
    LoadOptions {
        explicit_file: global.config.clone(),
        start_dir: None,
    }
}

fn show(global: &GlobalArgs, ui: &Ui) -> CmdResult {
    let cfg = config::load(&load_options(global), &FlagValues::default(), &ProcessEnv)?;
    // The `generate:` section is validated as `generate` would (exit 2 on e.g. an unknown
    // dialect), so a file that passes here does not fail there.
    config::load_generate(&load_options(global))?;
    let rows = rows(&cfg);
    if ui.is_json() {
        let mut dbt_cloud = Map::new();
        for (key, value, source) in &rows {
            let entry = match source {
                Some(s) => json!({ "value": value, "source": source_json(s) }),
                None => json!({ "value": Value::Null, "source": Value::Null }),
            };
            dbt_cloud.insert((*key).to_string(), entry);
        }
        ui.json(&json!({
            "file": cfg.file.as_ref().map(|p| p.display().to_string()),
            "deploy": { "dbt_cloud": dbt_cloud },
        }));
        return Ok(Exit::Success);
    }
    match &cfg.file {
        Some(p) => ui.out(format!("# configuration file: {}", p.display())),
        None => ui.out(format!(
            "# no {} found (using environment and defaults)",
            config::CONFIG_FILE_NAME
        )),
    }
    ui.out("deploy.dbt_cloud:");
    let width = rows.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
    let shown: Vec<String> = rows
        .iter()
        .map(|(_, value, _)| match value {
            Value::Null => "(not set)".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let value_width = shown
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for ((key, _, source), shown) in rows.iter().zip(&shown) {
        match source {
            Some(s) => ui.out(format!(
                "  {key:width$}  {shown:value_width$}  {}",
                ui.dim(&format!("# {s}"))
            )),
            None => ui.out(format!("  {key:width$}  {shown}")),
        }
    }
    Ok(Exit::Success)
}

fn source_json(s: &Source) -> Value {
    match s {
        Source::Flag(f) => json!({ "kind": "flag", "name": f }),
        Source::Env(v) => json!({ "kind": "env", "name": v }),
        Source::File { path, line, column } => {
            json!({ "kind": "file", "path": path.display().to_string(), "line": line, "column": column })
        }
        Source::Default => json!({ "kind": "default" }),
    }
}

type Row = (&'static str, Value, Option<Source>);

fn row<T: serde::Serialize>(key: &'static str, v: &Option<Sourced<T>>) -> Row {
    match v {
        Some(s) => (key, json!(s.value), Some(s.source.clone())),
        None => (key, Value::Null, None),
    }
}

fn rows(cfg: &Config) -> Vec<Row> {
    let d = &cfg.dbt_cloud;
    let o = &d.overrides;
    let timeout = d.timeout.as_ref().map(|t| {
        Sourced::new(
            humantime::format_duration(t.value).to_string(),
            t.source.clone(),
        )
    });
    // The token is never shown: only whether it is set and which variable holds it.
    let token: Row = match &d.token {
        Some(t) => ("token", json!("<redacted>"), Some(t.source.clone())),
        None => ("token", Value::Null, None),
    };
    vec![
        row("access_url", &Some(d.access_url.clone())),
        token,
        row("token_env", &Some(d.token_env.clone())),
        row("account_id", &d.account_id),
        row("project_id", &d.project_id),
        row("environment_id", &d.environment_id),
        row("job_id", &d.job_id),
        row("auto_trigger", &Some(d.auto_trigger.clone())),
        row("wait", &Some(d.wait.clone())),
        row("timeout", &timeout),
        row("cause", &d.cause),
        row("schema_override", &o.schema_override),
        row("target_name_override", &o.target_name_override),
        row("threads_override", &o.threads_override),
        row("steps_override", &o.steps_override),
        row("timeout_seconds_override", &o.timeout_seconds_override),
        row("dbt_version_override", &o.dbt_version_override),
        row("generate_docs_override", &o.generate_docs_override),
    ]
}
