//! `datachonk config show`: the effective configuration with provenance; `config check`: the
//! same validation without the listing.

use serde_json::{json, Map, Value};

use crate::cli::{ConfigCommand, ConfigTargetArgs, GlobalArgs};
use crate::config::{self, Config, FlagValues, LoadOptions, ProcessEnv, Source, Sourced};
use crate::error::{CmdResult, Exit};
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, cmd: ConfigCommand, ui: &Ui) -> CmdResult {
    match cmd {
        ConfigCommand::Show(a) => show(global, &a, ui),
        ConfigCommand::Check(a) => check(global, &a, ui),
    }
}

/// Resolve every section as the commands that use it would, so a value `generate` or `push`
/// would refuse is refused by `config show`/`config check` too.
/// With named targets and none chosen, every target is resolved (and so validated).
fn load_all(global: &GlobalArgs, args: &ConfigTargetArgs) -> Result<Vec<Config>, crate::CliError> {
    let options = load_options(global);
    let flags = FlagValues {
        target: args.target.clone(),
        ..FlagValues::default()
    };
    let cfg = config::load(&options, &flags, &ProcessEnv)?;
    config::load_generate(&options)?;
    config::load_git(&options)?;
    if args.target.is_some() || cfg.dbt_cloud.targets.is_empty() {
        return Ok(vec![cfg]);
    }
    let mut all = Vec::new();
    for name in cfg.dbt_cloud.targets.clone() {
        let flags = FlagValues {
            target: Some(name),
            ..FlagValues::default()
        };
        all.push(config::load(&options, &flags, &ProcessEnv)?);
    }
    Ok(all)
}

fn check(global: &GlobalArgs, args: &ConfigTargetArgs, ui: &Ui) -> CmdResult {
    let all = load_all(global, args)?;
    let cfg = &all[0];
    let file = cfg.file.as_ref().map(|p| p.display().to_string());
    if ui.is_json() {
        ui.json(&json!({ "outcome": "valid", "file": file }));
    } else {
        match file {
            Some(f) => ui.out(format!("{f}: valid")),
            None => ui.out(format!(
                "no {} found; the environment is valid",
                config::CONFIG_FILE_NAME
            )),
        }
    }
    Ok(Exit::Success)
}

/// Load options shared by every command: `--config FILE` or a search from the current directory.
pub fn load_options(global: &GlobalArgs) -> LoadOptions {
    LoadOptions {
        explicit_file: global.config.clone(),
        start_dir: None,
    }
}

fn show(global: &GlobalArgs, args: &ConfigTargetArgs, ui: &Ui) -> CmdResult {
    let all = load_all(global, args)?;
    let file = all[0].file.clone();
    if ui.is_json() {
        let blocks: Vec<(Option<String>, Map<String, Value>)> = all
            .iter()
            .map(|cfg| {
                let mut m = Map::new();
                for (key, value, source) in rows(cfg) {
                    let entry = match source {
                        Some(s) => json!({ "value": value, "source": source_json(&s) }),
                        None => json!({ "value": Value::Null, "source": Value::Null }),
                    };
                    m.insert(key.to_string(), entry);
                }
                (cfg.dbt_cloud.target.as_ref().map(|t| t.value.clone()), m)
            })
            .collect();
        let mut doc = json!({ "file": file.as_ref().map(|p| p.display().to_string()) });
        if blocks.len() == 1 {
            doc["deploy"] = json!({ "dbt_cloud": blocks[0].1 });
            doc["target"] = json!(blocks[0].0);
        } else {
            let targets: Map<String, Value> = blocks
                .into_iter()
                .map(|(name, m)| (name.unwrap_or_default(), Value::Object(m)))
                .collect();
            doc["deploy"] = json!({ "dbt_cloud": { "targets": targets } });
        }
        ui.json(&doc);
        return Ok(Exit::Success);
    }
    match &file {
        Some(p) => ui.out(format!("# configuration file: {}", p.display())),
        None => ui.out(format!(
            "# no {} found (using environment and defaults)",
            config::CONFIG_FILE_NAME
        )),
    }
    let every_target = all.len() > 1;
    for cfg in &all {
        match &cfg.dbt_cloud.target {
            Some(t) if every_target => ui.out(format!("deploy.dbt_cloud, target {}:", t.value)),
            Some(t) => ui.out(format!(
                "deploy.dbt_cloud, target {}:  {}",
                t.value,
                ui.dim(&format!("# chosen by {}", t.source))
            )),
            None => ui.out("deploy.dbt_cloud:"),
        }
        print_rows(ui, &rows(cfg));
    }
    Ok(Exit::Success)
}

fn print_rows(ui: &Ui, rows: &[Row]) {
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
        row("confirm", &Some(d.confirm.clone())),
    ]
}
