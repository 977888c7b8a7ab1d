//! `datachonk config show`: the effective configuration with provenance; `config check`: the
//! same validation without the listing.

use serde_json::{json, Map, Value};

use crate::cli::{ConfigCheckArgs, ConfigCommand, ConfigTargetArgs, GlobalArgs};
use crate::cloud::ApiError;
use crate::config::{self, Config, FlagValues, LoadOptions, ProcessEnv, Source, Sourced};
use crate::error::{CliError, CmdResult, Exit};
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
    let options = global.load_options();
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

/// Every problem, not only the first: each section and each target is resolved on its own.
fn problems(global: &GlobalArgs, args: &ConfigTargetArgs) -> (Vec<Config>, Vec<String>) {
    let options = global.load_options();
    let mut found = Vec::new();
    let mut note = |e: CliError| {
        let hints: String = e.hints.iter().map(|h| format!("\n    hint: {h}")).collect();
        found.push(format!("{}{hints}", e.message));
    };
    if let Err(e) = config::load_generate(&options) {
        note(e.into());
    }
    if let Err(e) = config::load_git(&options) {
        note(e.into());
    }
    let flags = FlagValues {
        target: args.target.clone(),
        ..FlagValues::default()
    };
    let mut configs = Vec::new();
    match config::load(&options, &flags, &ProcessEnv) {
        Ok(cfg) if args.target.is_none() && !cfg.dbt_cloud.targets.is_empty() => {
            for name in cfg.dbt_cloud.targets.clone() {
                let flags = FlagValues {
                    target: Some(name),
                    ..FlagValues::default()
                };
                match config::load(&options, &flags, &ProcessEnv) {
                    Ok(c) => configs.push(c),
                    Err(e) => note(e.into()),
                }
            }
        }
        Ok(cfg) => configs.push(cfg),
        Err(e) => note(e.into()),
    }
    found.dedup();
    (configs, found)
}

fn check(global: &GlobalArgs, args: &ConfigCheckArgs, ui: &Ui) -> CmdResult {
    let (configs, mut found) = problems(global, &args.target);
    if found.is_empty() && args.online {
        let rt = super::runtime()?;
        let online = rt.block_on(check_online(&configs, ui));
        rt.shutdown_background();
        found.extend(online?);
    }
    let file = configs
        .first()
        .and_then(|c| c.file.as_ref())
        .map(|p| p.display().to_string());
    if !found.is_empty() {
        let list: String = found.iter().map(|p| format!("\n  - {p}")).collect();
        return Err(CliError::usage(format!(
            "{} problem{} in the configuration:{list}",
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        )));
    }
    if ui.is_json() {
        ui.json(&json!({ "outcome": "valid", "file": file, "online": args.online }));
    } else {
        match file {
            Some(f) => ui.out(format!(
                "{f}: valid{}",
                if args.online {
                    " (checked against dbt Cloud)"
                } else {
                    ""
                }
            )),
            None => ui.out(format!(
                "no {} found; the environment is valid",
                config::CONFIG_FILE_NAME
            )),
        }
    }
    Ok(Exit::Success)
}

/// What `init` checks, for every target: the token and account, the project, the
/// environment, and the job (in that project). Problems are listed; an API that cannot be
/// asked (auth, network) is exit 6 at once.
async fn check_online(configs: &[Config], ui: &Ui) -> Result<Vec<String>, CliError> {
    let mut found = Vec::new();
    let Some(first) = configs.first() else {
        return Ok(found);
    };
    let client = crate::connect::client(first, ui.debug_log())?;
    client.get_account().await?;
    let projects = client.list_projects().await?;
    for cfg in configs {
        let d = &cfg.dbt_cloud;
        let label = d
            .target
            .as_ref()
            .map(|t| format!("target {}: ", t.value))
            .unwrap_or_default();
        if let Some(p) = &d.project_id {
            if !projects.iter().any(|x| x.id == Some(p.value)) {
                found.push(format!(
                    "{label}project {} does not exist in account {} ({})",
                    p.value,
                    client.account_id(),
                    p.source
                ));
                continue;
            }
        }
        let project = d.project_id.as_ref().map(|p| p.value);
        let environments = client.list_environments(project).await?;
        if let Some(e) = &d.environment_id {
            if !environments.iter().any(|x| x.id == Some(e.value)) {
                found.push(format!(
                    "{label}environment {} is not in {} ({})",
                    e.value,
                    project.map_or("the account".to_string(), |p| format!("project {p}")),
                    e.source
                ));
            }
        }
        if let Some(j) = &d.job_id {
            match client.get_job(j.value).await {
                Ok(job) => {
                    if let (Some(p), Some(jp)) = (project, job.project_id) {
                        if p != jp {
                            found.push(format!(
                                "{label}job {} belongs to project {jp}, not project {p} ({})",
                                j.value, j.source
                            ));
                        }
                    }
                    if let (Some(e), Some(je)) = (&d.environment_id, job.environment_id) {
                        if e.value != je {
                            found.push(format!(
                                "{label}job {} runs in environment {je}, not environment {} ({})",
                                j.value, e.value, e.source
                            ));
                        }
                    }
                }
                Err(ApiError::NotFound { .. }) => found.push(format!(
                    "{label}job {} does not exist in account {} ({})",
                    j.value,
                    client.account_id(),
                    j.source
                )),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(found)
}

/// Load options shared by every command: `--config FILE` or a search from the current directory.
/// Kept for the commands that still call it here; the options are `GlobalArgs::load_options`.
pub fn load_options(global: &GlobalArgs) -> LoadOptions {
    global.load_options()
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
        row("retries", &Some(d.retries.clone())),
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
