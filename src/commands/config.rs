//! `datachonk config show`: every key of every section with its value and provenance;
//! `config check`: every problem of the file and the environment in one run. The work is in
//! `config::show` and `config::check`; this file prints.

use serde_json::{json, Map, Value};

use crate::cli::{ConfigCheckArgs, ConfigCommand, ConfigTargetArgs, GlobalArgs};
use crate::cloud::ApiError;
use crate::config::show::{self, Setting};
use crate::config::{self, Config, FlagValues, Problem, ProcessEnv, Source, Sourced};
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, cmd: ConfigCommand, ui: &Ui) -> CmdResult {
    match cmd {
        ConfigCommand::Show(a) => show(global, &a, ui),
        ConfigCommand::Check(a) => check(global, &a, ui),
    }
}

/// Resolve every section as the commands that use it would, so a value `generate` or `push`
/// would refuse is refused by `config show` too.
/// With named targets and none chosen, every target is resolved (and so validated).
fn load_all(global: &GlobalArgs, args: &ConfigTargetArgs) -> Result<Vec<Config>, crate::CliError> {
    let options = global.load_options();
    let flags = FlagValues {
        target: args.target.clone(),
        ..FlagValues::default()
    };
    let cfg = config::load(&options, &flags, &ProcessEnv)?;
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

/// A problem found online: about the account's objects, not a place in the file.
fn online_problem(message: String) -> Problem {
    Problem::unplaced(message, None)
}

fn check(global: &GlobalArgs, args: &ConfigCheckArgs, ui: &Ui) -> CmdResult {
    let options = global.load_options();
    let report = config::check(&options, args.target.target.as_deref(), &ProcessEnv);
    let mut found = report.problems;
    if found.is_empty() && args.online {
        let rt = super::edge::runtime()?;
        let online = rt.block_on(check_online(&report.configs, ui));
        rt.shutdown_background();
        found.extend(online?.into_iter().map(online_problem));
    }
    let file = report.file.as_ref().map(|p| p.display().to_string());
    if !found.is_empty() {
        let summary = format!(
            "{} problem{} in the configuration",
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        );
        if ui.is_json() {
            ui.json(&json!({
                "outcome": "usage_error",
                "exit": Exit::Usage.code(),
                "file": file,
                "problems": found,
                "error": { "exit": Exit::Usage.code(), "message": summary, "hints": [] },
            }));
            return Ok(Exit::Usage);
        }
        let list: String = found
            .iter()
            .map(|p| {
                let hint = p
                    .hint
                    .as_ref()
                    .map(|h| format!("\n    hint: {h}"))
                    .unwrap_or_default();
                format!("\n  - {p}{hint}")
            })
            .collect();
        return Err(CliError::usage(format!("{summary}:{list}")));
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
fn show(global: &GlobalArgs, args: &ConfigTargetArgs, ui: &Ui) -> CmdResult {
    let options = global.load_options();
    let all = load_all(global, args)?;
    let generate = config::load_generate(&options)?;
    let git = config::load_git(&options)?;
    let sections = show::file_sections(&options, &generate, &git)?;
    let file = all[0].file.clone();
    // Listing every target, show itself picked each one: the heading names it, no `target` row.
    let every_target = all.len() > 1;
    let deploy: Vec<(Option<&Sourced<String>>, Vec<Setting>)> = all
        .iter()
        .map(|cfg| {
            let mut rows = show::dbt_cloud(&options, cfg);
            rows.retain(|s| !(every_target && s.key == "target"));
            (cfg.dbt_cloud.target.as_ref(), rows)
        })
        .collect();
    if ui.is_json() {
        ui.json(&show_json(file.as_deref(), &sections, &deploy));
        return Ok(Exit::Success);
    }
    match &file {
        Some(p) => ui.out(format!("# configuration file: {}", p.display())),
        None => ui.out(format!(
            "# no {} found (using environment and defaults)",
            config::CONFIG_FILE_NAME
        )),
    }
    let mut groups: Vec<(String, Vec<&Setting>)> = Vec::new();
    for s in &sections {
        match groups.last_mut() {
            Some((name, rows)) if name == s.section => rows.push(s),
            _ => groups.push((s.section.to_string(), vec![s])),
        }
    }
    for (target, rows) in &deploy {
        let title = match target {
            Some(t) if every_target => format!("deploy.dbt_cloud, target {}", t.value),
            Some(t) => format!(
                "deploy.dbt_cloud, target {} ({})",
                t.value,
                t.source.short()
            ),
            None => "deploy.dbt_cloud".to_string(),
        };
        groups.push((title, rows.iter().collect()));
    }
    let key_width = groups
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|s| s.key.len()))
        .max()
        .unwrap_or(0);

    let value_width = groups
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|s| shown(&s.value).chars().count()))
        .max()
        .unwrap_or(0)
        .min(40);
    for (title, rows) in &groups {
        ui.out(format!("{}:", crate::terminal_text::escape(title)));
        for s in rows {
            ui.out(format!(
                "  {:key_width$}  {:value_width$}  {}",
                s.key,
                shown(&s.value),
                ui.dim(&format!(
                    "# {}",
                    crate::terminal_text::escape(&s.source.short())
                ))
            ));
        }
    }
    Ok(Exit::Success)
}

/// A value as a person reads it: text bare (`""` when empty), lists of text as
/// `[a, b]`, anything else as JSON; control characters escaped.
fn shown(v: &Value) -> String {
    let text = match v {
        Value::Null => "(not set)".to_string(),
        Value::String(s) if s.is_empty() => "\"\"".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    };
    crate::terminal_text::escape(&text).into_owned()
}

/// `{"file", "generate": {KEY: ENTRY, "naming": {…}, …}, "git": {…}, "deploy": {"dbt_cloud":
/// {KEY: ENTRY} or {"targets": {NAME: {KEY: ENTRY}}}}, "target"}`; an ENTRY is
/// `{"value", "from", "source"}` (see [`entry`]).
fn show_json(
    file: Option<&std::path::Path>,
    sections: &[Setting],
    deploy: &[(Option<&Sourced<String>>, Vec<Setting>)],
) -> Value {
    let mut doc = Map::new();
    doc.insert("file".into(), json!(file.map(|p| p.display().to_string())));
    for s in sections {
        let mut at = &mut doc;
        for part in s.section.split('.') {
            at = at
                .entry(part)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("a section is an object");
        }
        at.insert(s.key.to_string(), entry(s));
    }
    let block = |rows: &[Setting]| -> Value {
        Value::Object(rows.iter().map(|s| (s.key.to_string(), entry(s))).collect())
    };
    let dbt_cloud = match deploy {
        [(target, rows)] => {
            doc.insert("target".into(), json!(target.map(|t| t.value.clone())));
            block(rows)
        }
        many => {
            let targets: Map<String, Value> = many
                .iter()
                .map(|(t, rows)| (t.map(|t| t.value.clone()).unwrap_or_default(), block(rows)))
                .collect();
            json!({ "targets": targets })
        }
    };
    doc.insert("deploy".into(), json!({ "dbt_cloud": dbt_cloud }));
    Value::Object(doc)
}

/// One key: its value (`null`: unset), `from` (`--target`, `env DBT_CLOUD_JOB_ID`,
/// `datachonk.yaml:3:17`, `default`, `dbt project (…)`) and the same as structured `source`.
fn entry(s: &Setting) -> Value {
    json!({ "value": s.value, "from": s.source.short(), "source": source_json(&s.source) })
}

fn source_json(s: &Source) -> Value {
    match s {
        Source::Flag(f) => json!({ "kind": "flag", "name": f }),
        Source::Env(v) => json!({ "kind": "env", "name": v }),
        Source::File { path, line, column } => {
            json!({ "kind": "file", "path": path.display().to_string(), "line": line, "column": column })
        }
        Source::Default => json!({ "kind": "default" }),
        Source::Project(what) => json!({ "kind": "project", "name": what }),
    }
}
