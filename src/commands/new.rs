//! `datachonk new entity|fact|metric NAME …`: write one entry into the spec
//! (`datachonk/*.yml`, edited in place), checked with the whole spec before anything is
//! written, then render it exactly as `datachonk generate` does. On a terminal, what the flags
//! do not say is asked; with `--no-input` (or no terminal) the missing flags are named, exit 2.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::cli::{ColorChoice, GenerateArgs, GlobalArgs};
use crate::commands::config::load_options;
use crate::config;
use crate::error::{CliError, CmdResult, Exit};
use crate::generate::marts::edit::{self, Field};
use crate::generate::marts::{self, model, spec};
use crate::generate::{project, state::State};
use crate::init::prompter::{Prompter, TerminalPrompter};
use crate::ui::Ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Entity,
    Fact,
    Metric,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Entity => "entities",
            Kind::Fact => "facts",
            Kind::Metric => "metrics",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Kind::Entity => "entity",
            Kind::Fact => "fact",
            Kind::Metric => "metric",
        }
    }
}

/// Declare an entity, fact or metric in the spec, then render it.
#[derive(Debug, Args, Clone)]
pub struct NewArgs {
    /// What to declare.
    pub kind: Kind,
    /// Its name (lower-case letters, digits, _): `customers` → models/marts/dim_customers.sql.
    pub name: String,
    /// entity, fact: the model it is built from (e.g. stg_shop__customers).
    #[arg(long, value_name = "MODEL")]
    pub from: Option<String>,
    /// entity: its key column(s), comma-separated.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub key: Vec<String>,
    /// entity: the columns it carries besides the key (default: every column the catalog lists).
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub attributes: Vec<String>,
    /// entity: `scd2` keeps every version through a dbt snapshot; `scd1` (default) the latest.
    #[arg(long, value_name = "scd1|scd2")]
    pub history: Option<String>,
    /// entity (scd2, timestamp strategy): the column that changes when a row changes.
    #[arg(long, value_name = "COLUMN")]
    pub updated_at: Option<String>,
    /// entity (scd2, check strategy): the columns compared between snapshots.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub check_cols: Vec<String>,
    /// fact: its grain (the column(s) unique per row), comma-separated.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub grain: Vec<String>,
    /// fact: the entities it references (default: those whose key columns it has).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub entities: Option<Vec<String>>,
    /// fact: the measure columns it carries.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub measures: Vec<String>,
    /// fact: categorical dimension columns.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    pub dimensions: Vec<String>,
    /// fact, metric: the time column metrics aggregate over.
    #[arg(long, value_name = "COLUMN")]
    pub time: Option<String>,
    /// fact: load incrementally, on rows whose COLUMN is at least the table's latest.
    #[arg(long, value_name = "COLUMN")]
    pub incremental: Option<String>,
    /// metric: simple (default), ratio, cumulative or derived.
    #[arg(long = "type", value_name = "TYPE")]
    pub metric_type: Option<String>,
    /// metric (simple, cumulative): the fact it aggregates.
    #[arg(long, value_name = "FACT")]
    pub fact: Option<String>,
    /// metric (simple, cumulative): the measure (one of the fact's measures).
    #[arg(long, value_name = "COLUMN")]
    pub measure: Option<String>,
    /// metric: sum (default with a measure), count, count_distinct, average, min, max, median.
    #[arg(long, value_name = "AGG")]
    pub agg: Option<String>,
    /// metric (ratio): the numerator metric.
    #[arg(long, value_name = "METRIC")]
    pub numerator: Option<String>,
    /// metric (ratio): the denominator metric.
    #[arg(long, value_name = "METRIC")]
    pub denominator: Option<String>,
    /// metric (derived): its expression over other metrics.
    #[arg(long, value_name = "EXPR")]
    pub expr: Option<String>,
    /// metric (derived): the metrics the expression uses.
    #[arg(long, value_name = "METRICS", value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// metric (cumulative): the window, e.g. "7 days" (default: all time).
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
    /// The spec file to add to (default: datachonk/model.yml, or the only datachonk/*.yml).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Show the entry and where it goes; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite generated files edited by hand when rendering (as `generate --force`).
    #[arg(long)]
    pub force: bool,
}

pub fn run(global: &GlobalArgs, args: &NewArgs, ui: &Ui) -> CmdResult {
    let settings = config::load_generate(&load_options(global))?;
    let root = settings.root.clone();
    let interactive =
        !global.no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut args = args.clone();
    refuse_foreign_flags(&args)?;

    // What the project knows (for proposals and for checking the whole spec).
    let state = State::load(&root).map_err(crate::generate::GenerateError::from)?;
    let project = project::read(&root, &state).map_err(crate::generate::GenerateError::from)?;
    let known = marts::known(&root, None, &project, &state, &BTreeSet::new())
        .map_err(crate::generate::GenerateError::from)?;
    let current = spec::read(&root).map_err(crate::generate::GenerateError::from)?;

    if interactive {
        let color = global.color == ColorChoice::Always
            || (global.color == ColorChoice::Auto && std::env::var_os("NO_COLOR").is_none());
        ask(&mut args, &known, &current, color, &root)?;
    }
    if args.kind == Kind::Fact && args.entities.is_none() {
        let proposed = propose_entities(&args, &known, &current, &root);
        for (entity, column) in &proposed {
            ui.status(format!(
                "references entity {entity} (the fact has its key {column}); --entities chooses others"
            ));
        }
        args.entities = Some(proposed.into_iter().map(|(e, _)| e).collect());
    }
    let missing = missing_flags(&args);
    if !missing.is_empty() {
        return Err(CliError::usage(format!(
            "new {}: missing {}",
            args.kind.singular(),
            missing.join(", ")
        ))
        .with_hint(if interactive {
            "answer every question, or pass the flags"
        } else {
            "pass them as flags (no terminal, or --no-input: nothing is asked)"
        }));
    }

    for (other, f) in &current.files {
        let clash = match args.kind {
            Kind::Entity => f.entities.get(&args.name).map(|s| s.referenced.line()),
            Kind::Fact => f.facts.get(&args.name).map(|s| s.referenced.line()),
            Kind::Metric => f.metrics.get(&args.name).map(|s| s.referenced.line()),
        };
        if let Some(line) = clash {
            return Err(CliError::usage(format!(
                "{} `{}` is already declared at {}:{line}",
                args.kind.singular(),
                args.name,
                other.display()
            ))
            .with_hint("choose another name, or edit that entry"));
        }
    }
    let file = spec_file(&root, args.file.as_deref());
    let rel = file.strip_prefix(&root).unwrap_or(&file).to_path_buf();
    let had_file = file.exists();
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CliError::usage(format!(
                "cannot read {}: {e}",
                rel.display()
            )))
        }
    };
    let line = edit::entry_line(&args.name, &fields(&args));
    let new_text = edit::insert(&text, args.kind.section(), &line).map_err(|e| {
        CliError::usage(format!("{}: {e}", rel.display())).with_hint(format!(
            "add this under {}: by hand:\n  {line}",
            args.kind.section()
        ))
    })?;

    // The whole spec, with the new entry, must hold before anything is written.
    let mut spec = current;
    let parsed = spec::parse(&rel, &new_text).map_err(crate::generate::GenerateError::from)?;
    spec.files.retain(|(p, _)| p != &rel);
    spec.files.push((rel.clone(), parsed));
    let resolved = match model::resolve(&spec, &known) {
        Ok(m) => m,
        Err(e) => {
            let what = format!("{} {}", args.kind.section(), args.name);
            return Err(CliError::usage(format!("with the new entry, {e}")).with_hint(format!(
                "nothing was written: correct the flags of `new` ({what}) or the spec entries named above"
            )));
        }
    };
    check_name(
        args.kind,
        &args.name,
        &resolved.layout,
        &settings.config.dialect,
    )?;

    if args.dry_run {
        ui.out(format!(
            "{}: under {}:\n  {line}",
            rel.display(),
            args.kind.section()
        ));
        ui.status("dry run: nothing written");
        return Ok(Exit::Success);
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&file, &new_text)
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", rel.display())))?;

    // Render exactly as `datachonk generate` does with the spec as its only input.
    let generate = GenerateArgs {
        selection: Vec::new(),
        from_catalog: None,
        from_sources: None,
        from_postgres: None,
        from_warehouse: Vec::new(),
        dry_run: false,
        diff: false,
        check: false,
        force: args.force,
        strict: false,
        include_staged: false,
        project_dir: None,
        manifest: None,
        target: None,
    };
    // The spec keeps the entry only when it renders: otherwise every later `generate`
    // would fail on it until the line is removed by hand.
    let rendered = super::generate::run(global, &generate, ui);
    match &rendered {
        Ok(Exit::Success) => ui.status(format!("added {} to {}", args.name, rel.display())),
        _ => {
            let restored = if text.is_empty() && !had_file {
                std::fs::remove_file(&file)
            } else {
                std::fs::write(&file, &text)
            };
            match restored {
                Ok(()) => ui.warn(format!(
                    "{} was not added to {}: rendering it failed (the spec is as it was)",
                    args.name,
                    rel.display()
                )),
                Err(e) => ui.warn(format!(
                    "rendering {} failed, and {} could not be restored ({e}): remove the entry by hand",
                    args.name,
                    rel.display()
                )),
            }
        }
    }
    rendered
}

/// Names the files and the warehouse cannot hold, refused before the spec is touched: a
/// model file name over 255 bytes (`dim_<name>.sql`, `<name>_snapshot.yml`), a model name
/// over the dialect's identifier limit, a reserved word.
fn check_name(
    kind: Kind,
    name: &str,
    layout: &model::Layout,
    dialect: &str,
) -> Result<(), CliError> {
    use crate::generate::quoting::Dialect;
    let prefix = match kind {
        Kind::Entity => layout.dim_prefix.as_str(),
        Kind::Fact => layout.fct_prefix.as_str(),
        Kind::Metric => "",
    };
    let model_name = format!("{prefix}{name}");
    let refuse = |why: String| {
        Err(CliError::usage(format!(
            "cannot add `{}`: {why}",
            crate::redact::clip(name, 60)
        ))
        .with_hint("choose a shorter or different name; nothing was written"))
    };
    // The longest file a kind writes: `<prefix><name>.sql`/`.yml`, an entity's snapshot.
    let longest = (model_name.len() + ".sql".len()).max(match kind {
        Kind::Entity => name.len() + "_snapshot.yml".len(),
        _ => 0,
    });
    if longest > 255 {
        return refuse(format!(
            "its files would have names of {longest} bytes; file systems hold at most 255"
        ));
    }
    if let Some(d) = Dialect::parse(dialect) {
        if kind != Kind::Metric {
            if let Some(why) = d.name_problem(&model_name, true) {
                return refuse(format!("the model name `{model_name}` is {why}"));
            }
        }
        if d.is_reserved(name) {
            return refuse(format!("`{name}` is a reserved word in {d}"));
        }
    }
    Ok(())
}

/// The spec file to edit: `--file`, else `datachonk/model.yml`, else the only spec file.
fn spec_file(root: &Path, flag: Option<&Path>) -> PathBuf {
    if let Some(f) = flag {
        return if f.is_absolute() {
            f.to_path_buf()
        } else {
            root.join(f)
        };
    }
    let default = root.join(spec::SPEC_DIR).join("model.yml");
    let files = spec::files(root);
    match files.as_slice() {
        [only] if !default.exists() => only.clone(),
        _ => default,
    }
}

/// Flags that belong to another kind are refused (they would be silently dropped).
fn refuse_foreign_flags(a: &NewArgs) -> Result<(), CliError> {
    let entity = [
        ("--key", !a.key.is_empty()),
        ("--attributes", !a.attributes.is_empty()),
        ("--history", a.history.is_some()),
        ("--updated-at", a.updated_at.is_some()),
        ("--check-cols", !a.check_cols.is_empty()),
    ];
    let fact = [
        ("--grain", !a.grain.is_empty()),
        ("--entities", a.entities.is_some()),
        ("--measures", !a.measures.is_empty()),
        ("--dimensions", !a.dimensions.is_empty()),
        ("--incremental", a.incremental.is_some()),
    ];
    let metric = [
        ("--type", a.metric_type.is_some()),
        ("--fact", a.fact.is_some()),
        ("--measure", a.measure.is_some()),
        ("--agg", a.agg.is_some()),
        ("--numerator", a.numerator.is_some()),
        ("--denominator", a.denominator.is_some()),
        ("--expr", a.expr.is_some()),
        ("--metrics", !a.metrics.is_empty()),
        ("--window", a.window.is_some()),
    ];
    let foreign: Vec<&str> = match a.kind {
        Kind::Entity => fact
            .iter()
            .chain(&metric)
            .filter(|f| f.1)
            .map(|f| f.0)
            .collect(),
        Kind::Fact => entity
            .iter()
            .chain(&metric)
            .filter(|f| f.1)
            .map(|f| f.0)
            .collect(),
        Kind::Metric => {
            let mut v: Vec<&str> = entity
                .iter()
                .chain(&fact)
                .filter(|f| f.1)
                .map(|f| f.0)
                .collect();
            if a.from.is_some() {
                v.push("--from");
            }
            v
        }
    };
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(CliError::usage(
            format!("new {:?}: {} do(es) not apply", a.kind, foreign.join(", ")).to_lowercase(),
        )
        .with_hint("`datachonk new --help` lists the flags of each kind"))
    }
}

fn missing_flags(a: &NewArgs) -> Vec<&'static str> {
    let mut out = Vec::new();
    match a.kind {
        Kind::Entity => {
            if a.from.is_none() {
                out.push("--from MODEL");
            }
            if a.key.is_empty() {
                out.push("--key COLUMNS");
            }
            if a.history.as_deref() == Some("scd2")
                && a.updated_at.is_none()
                && a.check_cols.is_empty()
            {
                out.push("--updated-at COLUMN (or --check-cols COLUMNS)");
            }
        }
        Kind::Fact => {
            if a.from.is_none() {
                out.push("--from MODEL");
            }
            if a.grain.is_empty() {
                out.push("--grain COLUMNS");
            }
        }
        Kind::Metric => match a.metric_type.as_deref().unwrap_or("simple") {
            "ratio" => {
                if a.numerator.is_none() {
                    out.push("--numerator METRIC");
                }
                if a.denominator.is_none() {
                    out.push("--denominator METRIC");
                }
            }
            "derived" => {
                if a.expr.is_none() {
                    out.push("--expr EXPR");
                }
                if a.metrics.is_empty() {
                    out.push("--metrics METRICS");
                }
            }
            _ => {
                if a.fact.is_none() {
                    out.push("--fact FACT");
                }
                let counts = matches!(a.agg.as_deref(), Some("count" | "count_distinct"));
                if a.measure.is_none() && !counts {
                    out.push("--measure COLUMN (or --agg count)");
                }
            }
        },
    }
    out
}

/// The entry's fields, in the order people read them.
fn fields(a: &NewArgs) -> Vec<(String, Field)> {
    let mut f: Vec<(String, Field)> = Vec::new();
    let scalar = |f: &mut Vec<(String, Field)>, k: &str, v: &Option<String>| {
        if let Some(v) = v {
            f.push((k.into(), Field::Scalar(v.clone())));
        }
    };
    let cols = |v: &[String]| match v {
        [one] => Field::Scalar(one.clone()),
        many => Field::List(many.to_vec()),
    };
    match a.kind {
        Kind::Entity => {
            scalar(&mut f, "from", &a.from);
            f.push(("key".into(), cols(&a.key)));
            if !a.attributes.is_empty() {
                f.push(("attributes".into(), Field::List(a.attributes.clone())));
            }
            scalar(&mut f, "history", &a.history);
            scalar(&mut f, "updated_at", &a.updated_at);
            if !a.check_cols.is_empty() {
                f.push(("check".into(), Field::List(a.check_cols.clone())));
            }
        }
        Kind::Fact => {
            scalar(&mut f, "from", &a.from);
            f.push(("grain".into(), cols(&a.grain)));
            if let Some(e) = a.entities.as_ref().filter(|e| !e.is_empty()) {
                f.push(("entities".into(), Field::List(e.clone())));
            }
            for (k, v) in [("measures", &a.measures), ("dimensions", &a.dimensions)] {
                if !v.is_empty() {
                    f.push((k.into(), Field::List(v.clone())));
                }
            }
            scalar(&mut f, "time", &a.time);
            if let Some(c) = &a.incremental {
                f.push((
                    "incremental".into(),
                    Field::Map(vec![("updated_at".into(), Field::Scalar(c.clone()))]),
                ));
            }
        }
        Kind::Metric => {
            if a.metric_type.as_deref().is_some_and(|t| t != "simple") {
                scalar(&mut f, "type", &a.metric_type);
            }
            scalar(&mut f, "fact", &a.fact);
            scalar(&mut f, "measure", &a.measure);
            scalar(&mut f, "agg", &a.agg);
            scalar(&mut f, "time", &a.time);
            scalar(&mut f, "numerator", &a.numerator);
            scalar(&mut f, "denominator", &a.denominator);
            scalar(&mut f, "expr", &a.expr);
            if !a.metrics.is_empty() {
                f.push(("metrics".into(), Field::List(a.metrics.clone())));
            }
            scalar(&mut f, "window", &a.window);
        }
    }
    f
}

/// Entities whose key columns the fact's model has (naming pattern `<entity key>`), with the
/// column that matched.
/// Entities a new fact references: those whose key columns it has, each with what
/// `datachonk relationships` finds between the two models in the project's catalog (its
/// confidence and evidence); one it finds below the default threshold is not proposed.
fn propose_entities(
    a: &NewArgs,
    known: &marts::Known,
    current: &spec::Spec,
    root: &Path,
) -> Vec<(String, String)> {
    use crate::generate::relationships::{self, EntityKey};
    let Some(from) = a.from.as_deref() else {
        return Vec::new();
    };
    let Some(cols) = known.columns(from).flatten() else {
        return Vec::new();
    };
    let entities: Vec<EntityKey> = current
        .files
        .iter()
        .flat_map(|(_, f)| f.entities.iter())
        .map(|(name, e)| EntityKey {
            entity: name.clone(),
            model: e.value.from.value.clone(),
            key: e.value.key.value.list(),
        })
        .collect();
    let found = crate::generate::catalog::read(&root.join("target/catalog.json"))
        .map(|m| relationships::detect(&m, &[], &entities))
        .unwrap_or_default();
    let mut out = Vec::new();
    for e in &entities {
        if !e
            .key
            .iter()
            .all(|k| cols.iter().any(|c| c.eq_ignore_ascii_case(k)))
        {
            continue;
        }
        let evidence = found.iter().find(|r| {
            r.from.relation.eq_ignore_ascii_case(from)
                && r.to.relation.eq_ignore_ascii_case(&e.model)
                && r.from.columns == e.key
        });
        match evidence {
            Some(r) if r.confidence < relationships::DEFAULT_MIN_CONFIDENCE => continue,
            Some(r) => out.push((
                e.entity.clone(),
                format!(
                    "{}; relationships: confidence {:.2}, {}",
                    e.key.join(", "),
                    r.confidence,
                    r.evidence.join("; ")
                ),
            )),
            None => out.push((e.entity.clone(), e.key.join(", "))),
        }
    }
    out
}

/// The wizard: ask for what the flags did not say.
fn ask(
    a: &mut NewArgs,
    known: &marts::Known,
    current: &spec::Spec,
    color: bool,
    root: &Path,
) -> Result<(), CliError> {
    let mut p = TerminalPrompter::new(color);
    let interrupted = |_| CliError::new(Exit::Interrupted, "interrupted: nothing written");
    let any = |_: &str| Ok(());
    let list = |s: String| -> Vec<String> {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    };
    match a.kind {
        Kind::Entity | Kind::Fact => {
            if a.from.is_none() {
                let models: Vec<String> = known.names().map(str::to_string).collect();
                a.from = Some(if models.is_empty() {
                    p.input("Built from which model?", None, &any)
                        .map_err(interrupted)?
                } else {
                    let i = p
                        .select("Built from which model?", &models, 0)
                        .map_err(interrupted)?;
                    models[i].clone()
                });
            }
            let guess = format!("{}_id", model::singular(&a.name));
            if a.kind == Kind::Entity {
                if a.key.is_empty() {
                    a.key = list(
                        p.input("Key column(s), comma-separated", Some(&guess), &any)
                            .map_err(interrupted)?,
                    );
                }
                if a.history.is_none() {
                    let choices = vec![
                        "scd1: the latest version of each key".to_string(),
                        "scd2: every version (a dbt snapshot)".to_string(),
                    ];
                    let i = p.select("History", &choices, 0).map_err(interrupted)?;
                    a.history = (i == 1).then(|| "scd2".to_string());
                }
                if a.history.as_deref() == Some("scd2")
                    && a.updated_at.is_none()
                    && a.check_cols.is_empty()
                {
                    a.updated_at = Some(
                        p.input(
                            "Column that changes when a row changes",
                            Some("updated_at"),
                            &any,
                        )
                        .map_err(interrupted)?,
                    );
                }
            } else {
                if a.grain.is_empty() {
                    a.grain = list(
                        p.input("Grain column(s), comma-separated", Some(&guess), &any)
                            .map_err(interrupted)?,
                    );
                }
                if a.entities.is_none() {
                    let mut chosen = Vec::new();
                    for (entity, column) in propose_entities(a, known, current, root) {
                        if p.confirm(
                            &format!("Reference entity {entity} (through {column})?"),
                            true,
                        )
                        .map_err(interrupted)?
                        {
                            chosen.push(entity);
                        }
                    }
                    a.entities = Some(chosen);
                }
                if a.measures.is_empty() {
                    a.measures = list(
                        p.input(
                            "Measure columns, comma-separated (empty: none)",
                            Some(""),
                            &any,
                        )
                        .map_err(interrupted)?,
                    );
                }
            }
        }
        Kind::Metric => {
            let kind = a.metric_type.clone().unwrap_or_else(|| "simple".into());
            if kind == "simple" || kind == "cumulative" {
                if a.fact.is_none() {
                    a.fact = Some(p.input("On which fact?", None, &any).map_err(interrupted)?);
                }
                if a.measure.is_none() && a.agg.is_none() {
                    let m = p
                        .input("Measure (empty: count rows)", Some(""), &any)
                        .map_err(interrupted)?;
                    if m.is_empty() {
                        a.agg = Some("count".into());
                    } else {
                        a.measure = Some(m);
                    }
                }
            }
        }
    }
    Ok(())
}
