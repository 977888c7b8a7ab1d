//! Planning and rendering the spec's files: every file through the templates (`marts/*`,
//! overridable by name like the staging ones), compared with the disk and the state
//! (unchanged, changed, edited by hand) and handed to the same sink as staging files.
//! Over 600 lines for one reason: one template context builder per mart file kind (dim,
//! snapshot, fact, metrics, spine), all fed the same resolved model.

use std::collections::BTreeSet;

use serde_json::{json, Value as Json};
use sha2::Digest;

use super::model::{self, Entity, Fact, MetricKind, Model, Orphans, Snapshot, UNKNOWN_KEY};
use super::problem::MartsError;
use crate::generate::plan::file::{self as plan, FileKind, PlannedFile};
use crate::generate::read::project::Project;
use crate::generate::reconcile::disk::{DiskCheck, OnDisk};
use crate::generate::reconcile::state::State;
use crate::generate::request::{GenerateError, Input, Request};
use crate::generate::write::sink::Sink;
use crate::ident::quoting::Dialect;
use crate::templates::{self, Templates};

pub use crate::templates::names::marts::*;

/// One file to render: where, what kind, with which template and context.
struct Job {
    path: String,
    kind: FileKind,
    template: &'static str,
    ctx: Json,
}

/// Read, validate and plan the spec's files (none when the project has no spec), and what in
/// the spec is valid but probably not meant (warnings, for people).
/// `staging_models` are the models this run generates (they exist for the spec).
#[allow(clippy::too_many_arguments)]
pub(in crate::generate) fn plan(
    req: &Request,
    templates: &Templates,
    state: &State,
    disk: &DiskCheck,
    sink: &Sink,
    project: &Project,
    staging_models: &BTreeSet<String>,
) -> Result<(Vec<PlannedFile>, Vec<String>), GenerateError> {
    if !super::spec::exists(&req.root) {
        return Ok((Vec::new(), Vec::new()));
    }
    let spec = super::spec::read(&req.root)?;
    let input = match &req.input {
        Input::Catalog(p) => Some(p.as_path()),
        _ => None,
    };
    let known = super::known::known(&req.root, input, project, state, staging_models)?;
    let model = model::resolve(&spec, &known)?;
    let declared =
        super::declared::read_declared(&req.root, &model.layout.snapshots_folder, &|p| {
            state.checksum_of(p).is_some()
        });
    let dialect = Dialect::parse(&req.config.dialect).unwrap_or(Dialect::Postgres);
    let (jobs, mut files) = jobs(&model, project, &declared, dialect)?;

    let mut base =
        crate::generate::plan::fingerprint::base_fingerprint(templates, &req.config, req.force);
    base.update(b"marts\0");
    let rendered =
        crate::generate::parallel::map(jobs, |job| -> Result<PlannedFile, GenerateError> {
            let mut h = base.clone();
            h.update(job.template.as_bytes());
            h.update([0]);
            h.update(serde_json::to_vec(&job.ctx).unwrap_or_default());
            let input = templates::hex(&h.finalize());
            let on_disk = match disk.check(&job.path, job.kind, &input, state)? {
                OnDisk::Unchanged(f) => return Ok(*f),
                OnDisk::Other(bytes) => bytes,
            };
            let content =
                templates.render(job.template, crate::templates::env::to_value(&job.ctx))?;
            let f = plan::classify(
                &job.path,
                job.kind,
                content,
                Some(input),
                on_disk,
                state,
                req.force,
                None,
            );
            sink.accept(f)
        })?;
    files.extend(rendered);
    let warnings = model.warnings.iter().map(ToString::to_string).collect();
    Ok((files, warnings))
}

/// The files of a resolved spec, and the models the project already has (not generated).
fn jobs(
    model: &Model,
    project: &Project,
    declared: &super::declared::Declared,
    dialect: Dialect,
) -> Result<(Vec<Job>, Vec<PlannedFile>), MartsError> {
    let layout = &model.layout;
    let q = |c: &str| column_ref(dialect, c);
    let mut jobs = Vec::new();
    let mut exists = Vec::new();
    let dir = &layout.folder;
    for e in &model.entities {
        if let Some(other) = project.model_file(&e.model) {
            exists.push(plan::exists(&format!("{dir}/{}.sql", e.model), other));
            continue;
        }
        if let Some(s) = &e.snapshot {
            if let Some(file) = declared.snapshots.get(&e.snapshot_name) {
                return Err(MartsError::Duplicate {
                    what: "snapshot",
                    name: e.snapshot_name.clone(),
                    file: file.clone(),
                });
            }
            jobs.push(Job {
                path: format!("{}/{}.yml", layout.snapshots_folder, e.snapshot_name),
                kind: FileKind::Snapshot,
                template: SNAPSHOT,
                ctx: json!({ "snapshot": snapshot_ctx(e, s) }),
            });
        }
        jobs.push(Job {
            path: format!("{dir}/{}.sql", e.model),
            kind: FileKind::MartModel,
            template: if e.snapshot.is_some() { DIM_SCD2 } else { DIM },
            ctx: json!({ "entity": dim_ctx(e, &q) }),
        });
        jobs.push(Job {
            path: format!("{dir}/{}.yml", e.model),
            kind: FileKind::MartProperties,
            template: DIM_YAML,
            ctx: json!({ "entity": dim_yaml_ctx(e, &q) }),
        });
    }
    let mut semantic = false;
    for f in &model.facts {
        if let Some(other) = project.model_file(&f.model) {
            exists.push(plan::exists(&format!("{dir}/{}.sql", f.model), other));
            continue;
        }
        let has_semantic = !f.time_dimensions.is_empty();
        if has_semantic {
            if let Some(file) = declared.semantic_models.get(&f.name) {
                return Err(MartsError::Duplicate {
                    what: "semantic model",
                    name: f.name.clone(),
                    file: file.clone(),
                });
            }
            semantic = true;
        }
        jobs.push(Job {
            path: format!("{dir}/{}.sql", f.model),
            kind: FileKind::MartModel,
            template: FCT,
            ctx: json!({ "fact": fact_ctx(f, &q, dialect) }),
        });
        jobs.push(Job {
            path: format!("{dir}/{}.yml", f.model),
            kind: FileKind::MartProperties,
            template: FCT_YAML,
            ctx: json!({ "fact": fact_yaml_ctx(f, has_semantic) }),
        });
    }
    if !model.metrics.is_empty() {
        for m in &model.metrics {
            if let Some(file) = declared.metrics.get(&m.name) {
                return Err(MartsError::Duplicate {
                    what: "metric",
                    name: m.name.clone(),
                    file: file.clone(),
                });
            }
        }
        jobs.push(Job {
            path: format!("{dir}/_metrics.yml"),
            kind: FileKind::MartProperties,
            template: METRICS_YAML,
            ctx: json!({ "metrics": model.metrics.iter().map(metric_ctx).collect::<Vec<_>>() }),
        });
    }
    if semantic && declared.time_spine.is_none() && project.model_file(&layout.time_spine).is_none()
    {
        let (start, end) = spine_bounds(model, &q);
        let ctx = json!({ "time_spine": { "name": layout.time_spine, "column": "date_day", "start": start, "end": end } });
        jobs.push(Job {
            path: format!("{dir}/{}.sql", layout.time_spine),
            kind: FileKind::MartModel,
            template: TIME_SPINE,
            ctx: ctx.clone(),
        });
        jobs.push(Job {
            path: format!("{dir}/{}.yml", layout.time_spine),
            kind: FileKind::MartProperties,
            template: TIME_SPINE_YAML,
            ctx,
        });
    }
    Ok((jobs, exists))
}

/// The time spine's first day and the day after its last, as Jinja expressions giving SQL:
/// the layout's dates, else the facts' time range (the earliest event to today at least), so
/// an all-time cumulative metric neither starts before the data nor runs decades past it.
fn spine_bounds(model: &Model, q: &dyn Fn(&str) -> String) -> (String, String) {
    let date = |d: &str| lit(&format!("cast('{d}' as date)"));
    let per_fact = |agg: &str| -> Vec<String> {
        model
            .facts
            .iter()
            .filter(|f| !f.time_dimensions.is_empty())
            .filter_map(|f| fact_time(f).map(|t| (f, t)))
            .map(|(f, t)| {
                format!(
                    "{} ~ ref({}) ~ ' union all '",
                    lit(&format!("select {agg}(cast({} as date)) as d from ", q(t))),
                    lit(&f.model)
                )
            })
            .collect()
    };
    let bound = |agg: &str| {
        let mut parts = vec![lit(&format!("(select {agg}(d) from ("))];
        parts.extend(per_fact(agg));
        parts.push(lit("select current_date as d) as bounds)"));
        parts.join(" ~ ")
    };
    let start = match &model.layout.time_spine_start {
        Some(d) => date(d),
        None => bound("min"),
    };
    let end = match &model.layout.time_spine_end {
        Some(d) => date(d),
        None => bound("max"),
    };
    (start, format!("dbt.dateadd('day', 1, {end})"))
}

/// A reference to a column of a dbt model, as the spec names it. Columns dbt creates are
/// unquoted (stored in the warehouse's folded case), so a plain name stays plain; a reserved
/// word is quoted in the folded case (`"ORDER"` on Snowflake, `"order"` on PostgreSQL); any
/// other name (spaces, capitals from a quoted source column) is quoted exactly.
pub fn column_ref(dialect: Dialect, name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return dialect.quote(name);
    }
    if !dialect.is_reserved(name) {
        return name.to_string();
    }
    match dialect {
        Dialect::Snowflake => dialect.quote(&name.to_ascii_uppercase()),
        Dialect::Postgres | Dialect::Redshift => dialect.quote(&name.to_ascii_lowercase()),
        _ => dialect.quote(name),
    }
}

/// A Jinja string literal (the output is dbt Jinja).
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A surrogate key over SQL expressions through dbt's cross-database macros (`dbt.hash`,
/// `dbt.concat`, `dbt.cast`, `dbt.type_string`), so it compiles on every adapter; nulls hash
/// as a marker, not as null.
pub fn surrogate_key(exprs: &[String]) -> String {
    let parts: Vec<String> = exprs
        .iter()
        .map(|e| {
            format!(
                "\"coalesce(\" ~ dbt.cast({}, dbt.type_string()) ~ \", '_dc_null_')\"",
                lit(e)
            )
        })
        .collect();
    match parts.as_slice() {
        [one] => format!("{{{{ dbt.hash({one}) }}}}"),
        _ => format!(
            "{{{{ dbt.hash(dbt.concat([{}])) }}}}",
            parts.join(", \"'|'\", ")
        ),
    }
}

fn dim_ctx(e: &Entity, q: &dyn Fn(&str) -> String) -> Json {
    let key: Vec<String> = e.key.iter().map(|k| q(k)).collect();
    let mut select = Vec::new();
    let cte = if e.snapshot.is_some() {
        "snapshot"
    } else {
        "source"
    };
    if e.snapshot.is_some() {
        let mut exprs = key.clone();
        exprs.push("dbt_valid_from".into());
        select.push(format!(
            "{} as {}",
            surrogate_key(&exprs),
            q(&e.surrogate_key)
        ));
    } else {
        select.push(format!(
            "{} as {}",
            surrogate_key(&key),
            q(&e.surrogate_key)
        ));
    }
    match &e.attributes {
        Some(attrs) => {
            select.extend(key.iter().cloned());
            select.extend(attrs.iter().map(|a| q(a)));
        }
        None => select.push(format!("{cte}.*")),
    }
    if e.snapshot.is_some() {
        select.push("dbt_valid_from as valid_from".into());
        select.push("dbt_valid_to as valid_to".into());
        select.push("dbt_valid_to is null as is_current".into());
        select.push(format!(
            "row_number() over (partition by {} order by dbt_valid_from) as version_number",
            key.join(", ")
        ));
    }
    // The unknown member: the same select over one row of nulls (the source left-joined on
    // nothing, so every column keeps its type), with the fixed key and text attributes labelled.
    // Which attributes are text is asked of the relation when dbt runs (the spec's source
    // may not be built yet when generating): `dc_text_columns`, set by the template.
    let mut unknown = select.clone();
    unknown[0] = format!("{} as {}", lit_sql(UNKNOWN_KEY), q(&e.surrogate_key));
    for item in unknown.iter_mut() {
        if let Some(a) = e.attributes.iter().flatten().find(|a| *item == q(a)) {
            *item = format!(
                "{{% if {} in dc_text_columns %}}'Unknown'{{% else %}}{cte}.{qa}{{% endif %}} as {qa}",
                lit(&a.to_ascii_lowercase()),
                qa = q(a)
            );
        }
    }
    json!({
        "name": e.name,
        "model": e.model,
        "from": e.from,
        "snapshot_name": e.snapshot_name,
        "select": select,
        "unknown": unknown,
        "materialized": e.materialized,
    })
}

/// A SQL string literal.
fn lit_sql(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn dim_yaml_ctx(e: &Entity, q: &dyn Fn(&str) -> String) -> Json {
    let scd2 = e.snapshot.is_some();
    let thing = model::singular(&e.name);
    let mut columns = vec![json!({
        "name": e.surrogate_key,
        "description": format!("Surrogate key of the {thing}{}; `{UNKNOWN_KEY}`: the unknown member, which facts point to when their key matches no {thing}.", if scd2 { " version" } else { "" }),
        "tests": ["unique", "not_null"],
    })];
    // The unknown member has no natural key: `not_null` skips it (and only it).
    let not_null = format!(
        "not_null:\n  config:\n    where: {}",
        yaml_single(&format!(
            "{} <> {}",
            q(&e.surrogate_key),
            lit_sql(UNKNOWN_KEY)
        ))
    );
    for k in &e.key {
        let tests: Vec<String> = match (scd2, e.key.len()) {
            (false, 1) => vec!["unique".into(), not_null.clone()],
            (true, 1) => vec![
                not_null.clone(),
                "unique:\n  config:\n    where: is_current".into(),
            ],
            _ => vec![not_null.clone()],
        };
        let description = match e.descriptions.get(k) {
            Some(d) => d.clone(),
            None if e.key.len() == 1 => format!("Natural key of the {thing}."),
            None => String::new(),
        };
        columns.push(json!({ "name": k, "description": description, "tests": tests }));
    }
    for a in e.attributes.iter().flatten() {
        let description = e.descriptions.get(a).cloned().unwrap_or_default();
        columns.push(json!({ "name": a, "description": description, "tests": [] }));
    }
    if scd2 {
        for (name, description) in [
            ("valid_from", "When this version became current."),
            (
                "valid_to",
                "When this version stopped being current (null: it still is).",
            ),
            ("is_current", "Whether this is the current version."),
            (
                "version_number",
                "1 for the first version of a key, then 2, 3, …",
            ),
        ] {
            columns.push(json!({ "name": name, "description": description, "tests": [] }));
        }
    }
    json!({
        "model": e.model,
        "description": e.description,
        "columns": columns,
        "semantic_model": dim_semantic_model(e),
    })
}

/// The dimension in the semantic layer: its surrogate key as the entity facts join on (for
/// scd2 that key names the version valid at the fact's event time, resolved when the fact is
/// built), its attributes as dimensions. `None` when its attributes are not known.
fn dim_semantic_model(e: &Entity) -> Option<Json> {
    let attributes = e.attributes.as_ref()?;
    let mut dimensions: Vec<Json> = Vec::new();
    for c in e.key.iter().chain(attributes) {
        let description = e.descriptions.get(c);
        dimensions.push(if e.time_attributes.contains(c) {
            json!({ "name": c, "type": "time", "granularity": "day", "description": description })
        } else {
            json!({ "name": c, "type": "categorical", "description": description })
        });
    }
    if e.snapshot.is_some() {
        for t in ["valid_from", "valid_to"] {
            dimensions.push(
                json!({ "name": t, "type": "time", "granularity": "day", "description": null }),
            );
        }
        dimensions
            .push(json!({ "name": "is_current", "type": "categorical", "description": null }));
    }
    Some(json!({
        "name": e.model,
        "description": e.description,
        "model": e.model,
        "entities": [{ "name": e.semantic_name, "type": "primary", "expr": e.surrogate_key }],
        "dimensions": dimensions,
    }))
}

/// A YAML single-quoted scalar.
fn yaml_single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn snapshot_ctx(e: &Entity, s: &Snapshot) -> Json {
    let unique_key = match e.key.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    let (strategy, updated_at, check_cols) = match s {
        Snapshot::Timestamp { updated_at } => ("timestamp", Some(updated_at.clone()), None),
        Snapshot::Check { columns } => ("check", None, Some(columns.clone())),
    };
    json!({
        "name": e.snapshot_name,
        "from": e.from,
        "description": format!("Every version of each {} in {} (dbt snapshot, {strategy} strategy).", model::singular(&e.name), e.from),
        "unique_key": unique_key,
        "strategy": strategy,
        "updated_at": updated_at,
        "check_cols": check_cols,
    })
}

/// The fact's default time column: its own `time`, else its metrics', else the incremental one.
fn fact_time(f: &Fact) -> Option<&String> {
    f.time_dimensions
        .first()
        .or(f.incremental.as_ref().map(|i| &i.column))
}

fn fact_ctx(f: &Fact, q: &dyn Fn(&str) -> String, dialect: Dialect) -> Json {
    let mut select: Vec<String> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut add = |select: &mut Vec<String>, col: &str| {
        if seen.insert(col.to_ascii_lowercase()) {
            select.push(format!("source.{}", q(col)));
        }
    };
    for g in &f.grain {
        add(&mut select, g);
    }
    let mut key_lines = Vec::new();
    for j in &f.joins {
        let line = format!("{}.{}", j.alias, q(&j.entity_surrogate_key));
        key_lines.push(match f.orphans {
            Orphans::Unknown => format!(
                "coalesce({line}, {}) as {}",
                lit_sql(UNKNOWN_KEY),
                q(&j.key_as)
            ),
            Orphans::Fail if j.entity_surrogate_key == j.key_as => line,
            Orphans::Fail => format!("{line} as {}", q(&j.key_as)),
        });
    }
    // Surrogate keys right after the grain, then the natural keys, measures, dimensions, times.
    let grain_len = select.len();
    for j in &f.joins {
        for c in &j.columns {
            add(&mut select, c);
        }
    }
    for c in f
        .measures
        .iter()
        .chain(&f.dimensions)
        .chain(&f.time_dimensions)
    {
        add(&mut select, c);
    }
    if let Some(i) = &f.incremental {
        add(&mut select, &i.column);
    }
    select.splice(grain_len..grain_len, key_lines);
    let time = fact_time(f);
    let joins: Vec<Json> = f
        .joins
        .iter()
        .map(|j| {
            let mut on: Vec<String> = j
                .columns
                .iter()
                .zip(&j.entity_key)
                .map(|(c, k)| format!("source.{} = {}.{}", q(c), j.alias, q(k)))
                .collect();
            if j.scd2 {
                match time {
                    Some(t) => {
                        let t = q(t);
                        on.push(format!(
                            "(source.{t} >= {a}.valid_from or {a}.version_number = 1)",
                            a = j.alias
                        ));
                        on.push(format!(
                            "(source.{t} < {a}.valid_to or {a}.valid_to is null)",
                            a = j.alias
                        ));
                    }
                    None => on.push(format!("{}.is_current", j.alias)),
                }
            }
            json!({ "alias": j.alias, "model": j.model, "on": on.join("\n        and ") })
        })
        .collect();
    let unique_key = match f.grain.as_slice() {
        [one] => lit(one),
        many => format!(
            "[{}]",
            many.iter().map(|g| lit(g)).collect::<Vec<_>>().join(", ")
        ),
    };
    json!({
        "name": f.name,
        "model": f.model,
        "from": f.from,
        "select": select,
        "joins": joins,
        "unique_key": unique_key,
        "incremental": f.incremental.as_ref().map(|i| incremental_ctx(f, i, q, dialect)),
        "materialized": f.materialized,
    })
}

/// The incremental config and filter: rows at or after the table's latest `column` (less the
/// lookback), and rows loaded before whose entity had no member yet (a late-arriving
/// dimension member), so a rerun gives what a full refresh would.
fn incremental_ctx(
    f: &Fact,
    i: &model::Incremental,
    q: &dyn Fn(&str) -> String,
    dialect: Dialect,
) -> Json {
    let c = q(&i.column);
    let latest = format!("(select max({c}) from {{{{ this }}}})");
    let mut filter = match &i.lookback {
        None => format!("{c} >= {latest}"),
        Some((n, unit)) => format!(
            "{c} >= {{{{ dbt.dateadd({}, -{n}, {} ~ this ~ ')') }}}}",
            lit(unit),
            lit(&format!("(select max({c}) from "))
        ),
    };
    let missing: Vec<String> = f
        .joins
        .iter()
        .map(|j| match f.orphans {
            Orphans::Unknown => format!("loaded.{} = {}", q(&j.key_as), lit_sql(UNKNOWN_KEY)),
            Orphans::Fail => format!("loaded.{} is null", q(&j.key_as)),
        })
        .collect();
    if !missing.is_empty() {
        let same: Vec<String> = f
            .grain
            .iter()
            .map(|g| format!("loaded.{g} = src.{g}", g = q(g)))
            .collect();
        filter = format!(
            "{filter}\n        or exists (select 1 from {{{{ this }}}} as loaded where {} and ({}))",
            same.join(" and "),
            missing.join(" or ")
        );
    }
    let strategy = i.strategy.clone().unwrap_or_else(|| {
        match dialect {
            Dialect::Postgres | Dialect::Redshift | Dialect::Duckdb => "delete+insert",
            _ => "merge",
        }
        .into()
    });
    json!({ "filter": filter, "strategy": strategy, "on_schema_change": i.on_schema_change })
}

fn fact_yaml_ctx(f: &Fact, semantic: bool) -> Json {
    let mut columns = Vec::new();
    for g in &f.grain {
        let tests: Vec<String> = if f.grain.len() == 1 {
            vec!["unique".into(), "not_null".into()]
        } else {
            vec!["not_null".into()]
        };
        let description = f.descriptions.get(g).cloned().unwrap_or_default();
        columns.push(json!({ "name": g, "description": description, "tests": tests }));
    }
    for j in &f.joins {
        let orphans = match f.orphans {
            Orphans::Unknown => format!(
                " A row whose {} matches none points to the unknown member (`{UNKNOWN_KEY}`).",
                j.columns.join(", ")
            ),
            Orphans::Fail => format!(
                " Null when the row's {} matches none, which fails not_null.",
                j.columns.join(", ")
            ),
        };
        // Kimball's type 2 rule, said where people read it.
        let version = match (j.scd2, fact_time(f)) {
            (true, Some(t)) => format!(" The version valid at the row's {t}: a version that starts later leaves rows already loaded as they are."),
            (true, None) => " The version current when the row was loaded.".to_string(),
            _ => String::new(),
        };
        columns.push(json!({
            "name": j.key_as,
            "description": format!("Surrogate key of the {} ({}).{version}{orphans}", model::singular(&j.entity), j.model),
            "tests": [
                "not_null".to_string(),
                format!("relationships:\n  arguments:\n    to: ref('{}')\n    field: {}", j.model, j.entity_surrogate_key),
            ],
        }));
    }
    // Described columns the fact carries besides its grain and keys: listed for their docs.
    for (column, description) in &f.descriptions {
        if !f.grain.contains(column) {
            columns.push(json!({ "name": column, "description": description, "tests": [] }));
        }
    }
    let semantic_model = semantic.then(|| {
        let default_time = fact_time(f).cloned();
        let mut entities = Vec::new();
        if let [one] = f.grain.as_slice() {
            entities.push(json!({ "name": f.primary_entity, "type": "primary", "expr": one }));
        }
        let mut names: BTreeSet<String> = entities
            .iter()
            .filter_map(|e| e["name"].as_str().map(str::to_string))
            .collect();
        // Facts join dimensions on the surrogate key (one convention: it is what the fact
        // carries and what the unknown member has).
        for j in &f.joins {
            if names.insert(j.semantic_name.clone()) {
                entities
                    .push(json!({ "name": j.semantic_name, "type": "foreign", "expr": j.key_as }));
            }
        }
        let described = |c: &String| f.descriptions.get(c).cloned();
        let mut dimensions: Vec<Json> = f
            .time_dimensions
            .iter()
            .map(|t| json!({ "name": t, "type": "time", "granularity": "day", "description": described(t) }))
            .collect();
        dimensions.extend(
            f.dimensions
                .iter()
                .filter(|d| !f.time_dimensions.contains(d))
                .map(|d| json!({ "name": d, "type": "categorical", "description": described(d) })),
        );
        // A measure over a described column says what it sums (or counts).
        let measures: Vec<Json> = f
            .semantic_measures
            .iter()
            .map(|m| {
                let mut j = json!(m);
                j["description"] = json!(described(&m.expr));
                j
            })
            .collect();
        json!({
            "name": f.name,
            "description": f.description,
            "model": f.model,
            "default_time": default_time,
            "primary_entity": if f.grain.len() == 1 { Json::Null } else { json!(f.primary_entity) },
            "entities": entities,
            "dimensions": dimensions,
            "measures": measures,
        })
    });
    json!({ "model": f.model, "description": f.description, "columns": columns, "semantic_model": semantic_model })
}

fn metric_ctx(m: &model::Metric) -> Json {
    let mut out = json!({ "name": m.name, "label": m.label, "description": m.description });
    let params = match &m.kind {
        MetricKind::Simple { measure } => json!({ "type": "simple", "measure": measure }),
        MetricKind::Cumulative {
            measure,
            window,
            grain_to_date,
        } => {
            json!({ "type": "cumulative", "measure": measure, "window": window, "grain_to_date": grain_to_date })
        }
        MetricKind::Ratio {
            numerator,
            denominator,
        } => {
            json!({ "type": "ratio", "numerator": numerator, "denominator": denominator })
        }
        MetricKind::Derived { expr, metrics } => {
            json!({ "type": "derived", "expr": expr, "metrics": metrics })
        }
    };
    if let (Some(o), Json::Object(p)) = (out.as_object_mut(), params) {
        o.extend(p);
    }
    out
}

#[cfg(test)]
mod tests;
