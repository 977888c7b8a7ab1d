//! The spec resolved against what the project knows into a model - every entity, fact and metric checked, all problems reported at once. Over 600 lines for one reason - a single pass whose checks share the same maps of names (split it by entity, fact and metric when it next grows).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::types::*;
use crate::generate::marts::known::Known;
use crate::generate::marts::problem::{MartsError, Problem};
use crate::generate::marts::spec::{self, At, EntityRef, Spec};

/// Resolve and validate `spec` against what `known` says of the project's models.
pub fn resolve(spec: &Spec, known: &Known) -> Result<Model, MartsError> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut model = Model::default();
    let mut problem = |at: At, message: String, hint: Option<String>| {
        problems.push(Problem { at, message, hint })
    };

    // Layout: at most one file sets it.
    let mut layout_at: Option<At> = None;
    for (file, f) in &spec.files {
        if let Some(l) = &f.layout {
            let at = At::of(file, l);
            if let Some(first) = &layout_at {
                problem(
                    at,
                    format!(
                        "`layout` is set twice (also at {}:{})",
                        first.file.display(),
                        first.line
                    ),
                    Some("keep one `layout:` block for the whole project".into()),
                );
                continue;
            }
            layout_at = Some(at);
            let l = &l.value;
            let d = Layout::default();
            model.layout = Layout {
                folder: l
                    .folder
                    .clone()
                    .unwrap_or(d.folder)
                    .trim_end_matches('/')
                    .to_string(),
                snapshots_folder: l
                    .snapshots_folder
                    .clone()
                    .unwrap_or(d.snapshots_folder)
                    .trim_end_matches('/')
                    .to_string(),
                dim_prefix: l.dim_prefix.clone().unwrap_or(d.dim_prefix),
                fct_prefix: l.fct_prefix.clone().unwrap_or(d.fct_prefix),
                dim_name: l.dim_name.clone(),
                fct_name: l.fct_name.clone(),
                time_spine: l.time_spine.clone().unwrap_or(d.time_spine),
                time_spine_start: None,
                time_spine_end: None,
                dim_materialized: d.dim_materialized,
                fct_materialized: d.fct_materialized,
            };
            for (value, slot) in [
                (&l.dim_materialized, &mut model.layout.dim_materialized),
                (&l.fct_materialized, &mut model.layout.fct_materialized),
            ] {
                if let Some(v) = value {
                    match materialization(&v.value) {
                        Ok(m) => *slot = m,
                        Err(hint) => problem(
                            At::of(file, v),
                            format!("unknown materialization `{}`", v.value),
                            Some(hint),
                        ),
                    }
                }
            }
            for (value, slot) in [
                (&l.time_spine_start, &mut model.layout.time_spine_start),
                (&l.time_spine_end, &mut model.layout.time_spine_end),
            ] {
                if let Some(v) = value {
                    if is_date(&v.value) {
                        *slot = Some(v.value.clone());
                    } else {
                        problem(
                            At::of(file, v),
                            format!("`{}` is not a date", v.value),
                            Some("write a day as YYYY-MM-DD, e.g. `2020-01-01`".into()),
                        );
                    }
                }
            }
        }
    }
    let layout = model.layout.clone();

    // Names are unique across files.
    let mut entity_at: BTreeMap<&str, (&Path, &spec::EntitySpec, At)> = BTreeMap::new();
    let mut fact_at: BTreeMap<&str, (&Path, &spec::FactSpec, At)> = BTreeMap::new();
    let mut metric_at: BTreeMap<&str, (&Path, &spec::MetricSpec, At)> = BTreeMap::new();
    for (file, f) in &spec.files {
        for (kind, names) in [
            (
                "entity",
                f.entities
                    .iter()
                    .map(|(n, s)| (n, At::of(file, s)))
                    .collect::<Vec<_>>(),
            ),
            (
                "fact",
                f.facts.iter().map(|(n, s)| (n, At::of(file, s))).collect(),
            ),
            (
                "metric",
                f.metrics
                    .iter()
                    .map(|(n, s)| (n, At::of(file, s)))
                    .collect(),
            ),
        ] {
            for (name, at) in names {
                if !valid_name(name) {
                    problem(
                        at.clone(),
                        format!("{kind} name `{name}` is not a usable dbt name"),
                        Some(format!(
                            "use lower-case letters, digits and _, e.g. `{}`",
                            crate::ident::names::snake_case(name)
                        )),
                    );
                }
            }
        }
        for (name, s) in &f.entities {
            let at = At::of(file, s);
            if let Some((other, _, o)) = entity_at.get(name.as_str()) {
                problem(
                    at,
                    format!(
                        "entity `{name}` is declared twice (also at {}:{})",
                        other.display(),
                        o.line
                    ),
                    Some("rename or remove one of them".into()),
                );
            } else {
                entity_at.insert(name, (file, &s.value, at));
            }
        }
        for (name, s) in &f.facts {
            let at = At::of(file, s);
            if let Some((other, _, o)) = fact_at.get(name.as_str()) {
                problem(
                    at,
                    format!(
                        "fact `{name}` is declared twice (also at {}:{})",
                        other.display(),
                        o.line
                    ),
                    Some("rename or remove one of them".into()),
                );
            } else {
                fact_at.insert(name, (file, &s.value, at));
            }
        }
        for (name, s) in &f.metrics {
            let at = At::of(file, s);
            if let Some((other, _, o)) = metric_at.get(name.as_str()) {
                problem(
                    at,
                    format!(
                        "metric `{name}` is declared twice (also at {}:{})",
                        other.display(),
                        o.line
                    ),
                    Some("rename or remove one of them".into()),
                );
            } else {
                metric_at.insert(name, (file, &s.value, at));
            }
        }
    }

    // A model a block is built from must exist; its columns are checked when known.
    let check_from = |problems: &mut Vec<Problem>,
                      file: &Path,
                      from: &serde_saphyr::Spanned<String>|
     -> Option<Option<Vec<String>>> {
        match known.columns(&from.value) {
            Some(cols) => Some(cols),
            None => {
                let hint = spec::closest(&from.value, known.names())
                    .map(|m| format!("write `from: {m}`"))
                    .or_else(|| Some("name a model of the project (run `dbt docs generate` so target/catalog.json lists it, or pass --from-catalog)".into()));
                problems.push(Problem {
                    at: At::of(file, from),
                    message: format!("unknown model `{}`", from.value),
                    hint,
                });
                None
            }
        }
    };
    let check_col = |problems: &mut Vec<Problem>,
                     at: At,
                     cols: &Option<Vec<String>>,
                     from: &str,
                     col: &str,
                     what: &str| {
        let Some(cols) = cols else { return };
        if cols.iter().any(|c| c.eq_ignore_ascii_case(col)) {
            return;
        }
        let hint = match spec::closest(col, cols.iter().map(String::as_str)) {
            Some(c) => format!("write `{c}`"),
            None => format!("{from} has: {}", cols.join(", ")),
        };
        problems.push(Problem {
            at,
            message: format!("unknown column `{col}` ({what}) in model `{from}`"),
            hint: Some(hint),
        });
    };

    let mut entities: BTreeMap<String, Entity> = BTreeMap::new();
    for (name, (file, e, at)) in &entity_at {
        let cols = check_from(&mut problems, file, &e.from).flatten();
        let key = e.key.value.list();
        if key.is_empty() {
            problems.push(Problem {
                at: At::of(file, &e.key),
                message: "`key` names no column".into(),
                hint: Some("e.g. `key: customer_id`".into()),
            });
        }
        for k in &key {
            check_col(
                &mut problems,
                At::of(file, &e.key),
                &cols,
                &e.from.value,
                k,
                "key",
            );
        }
        let attributes = match &e.attributes {
            Some(list) => {
                for a in list {
                    check_col(
                        &mut problems,
                        At::of(file, a),
                        &cols,
                        &e.from.value,
                        &a.value,
                        "attribute",
                    );
                }
                Some(
                    list.iter()
                        .map(|a| a.value.clone())
                        .filter(|a| !key.contains(a))
                        .collect(),
                )
            }
            None => cols.as_ref().map(|c| {
                c.iter()
                    .filter(|c| !key.iter().any(|k| k.eq_ignore_ascii_case(c)))
                    .cloned()
                    .collect()
            }),
        };
        let snapshot = match e.history.as_ref().map(|h| (h, h.value.as_str())) {
            None | Some((_, "scd1")) => None,
            Some((_, "scd2")) => {
                match (&e.updated_at, &e.check) {
                    (Some(u), None) => {
                        check_col(
                            &mut problems,
                            At::of(file, u),
                            &cols,
                            &e.from.value,
                            &u.value,
                            "updated_at",
                        );
                        Some(Snapshot::Timestamp {
                            updated_at: u.value.clone(),
                        })
                    }
                    (None, Some(c)) if !c.is_empty() => {
                        for col in c {
                            check_col(
                                &mut problems,
                                At::of(file, col),
                                &cols,
                                &e.from.value,
                                &col.value,
                                "check",
                            );
                        }
                        Some(Snapshot::Check {
                            columns: c.iter().map(|c| c.value.clone()).collect(),
                        })
                    }
                    (Some(u), Some(_)) => {
                        problems.push(Problem { at: At::of(file, u), message: "`updated_at` and `check` are two snapshot strategies: choose one".into(), hint: Some("keep `updated_at:` (timestamp strategy) or `check:` (compare columns)".into()) });
                        None
                    }
                    _ => {
                        problems.push(Problem { at: at.clone(), message: format!("entity `{name}` has `history: scd2` but no way to see a change"), hint: Some("add `updated_at: COLUMN` (a timestamp that changes with the row) or `check: [COLUMNS]`".into()) });
                        None
                    }
                }
            }
            Some((h, other)) => {
                problems.push(Problem { at: At::of(file, h), message: format!("unknown history `{other}`"), hint: Some("write `history: scd2` (a snapshot keeps every version) or `history: scd1` (the default: the latest only)".into()) });
                None
            }
        };
        if e.history.is_none() && (e.updated_at.is_some() || e.check.is_some()) {
            problems.push(Problem {
                at: at.clone(),
                message: format!(
                    "entity `{name}` sets a snapshot strategy without `history: scd2`"
                ),
                hint: Some("add `history: scd2`, or remove `updated_at`/`check`".into()),
            });
        }
        let surrogate_key = e
            .surrogate_key
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| key_name(name, &key));
        let materialized = match &e.materialized {
            Some(m) => materialization(&m.value).unwrap_or_else(|hint| {
                problems.push(Problem {
                    at: At::of(file, m),
                    message: format!("unknown materialization `{}`", m.value),
                    hint: Some(hint),
                });
                String::new()
            }),
            None => layout.dim_materialized.clone(),
        };
        let time_attributes: Vec<String> = attributes
            .iter()
            .flatten()
            .filter(
                |a: &&String| match known.column_type(&e.from.value, a.as_str()) {
                    Some(t) => is_time(t),
                    None => named_like_time(a),
                },
            )
            .cloned()
            .collect();
        let described: Option<Vec<String>> = attributes
            .as_ref()
            .map(|a: &Vec<String>| key.iter().chain(a.iter()).cloned().collect());
        let descriptions = descriptions_of(
            &mut problems,
            file,
            e.descriptions.as_ref(),
            described.as_deref(),
            &format!("entity {name}"),
            "its key and attributes",
        );
        entities.insert(
            name.to_string(),
            Entity {
                descriptions,
                time_attributes,
                materialized,
                semantic_name: singular(name),
                name: name.to_string(),
                model: layout.model_name(true, name),
                from: e.from.value.clone(),
                key,
                attributes,
                snapshot,
                snapshot_name: format!("{name}_snapshot"),
                surrogate_key,
                description: e.description.clone().unwrap_or_else(|| {
                    format!(
                        "One row per {}{}.",
                        singular(name),
                        if e.history.as_ref().is_some_and(|h| h.value == "scd2") {
                            " version"
                        } else {
                            ""
                        }
                    )
                }),
            },
        );
    }

    // Facts.
    let mut facts: BTreeMap<String, Fact> = BTreeMap::new();
    let mut incremental_at: BTreeMap<String, At> = BTreeMap::new();
    let mut fact_cols: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for (name, (file, f, _)) in &fact_at {
        let cols = check_from(&mut problems, file, &f.from).flatten();
        let grain = f.grain.value.list();
        for g in &grain {
            check_col(
                &mut problems,
                At::of(file, &f.grain),
                &cols,
                &f.from.value,
                g,
                "grain",
            );
        }
        let mut joins = Vec::new();
        let mut used: BTreeMap<String, usize> = BTreeMap::new();
        for r in &f.entities {
            let (entity, columns) = match &r.value {
                EntityRef::Name(n) => (n.clone(), None),
                EntityRef::With { entity, column } => (entity.clone(), Some(column.list())),
            };
            let Some(e) = entities.get(&entity) else {
                if !entity_at.contains_key(entity.as_str()) {
                    let hint = match spec::closest(&entity, entity_at.keys().copied()) {
                        Some(n) => format!("write `{n}`"),
                        None => format!("declare it under `entities:` (e.g. `{entity}: {{ from: MODEL, key: {}_id }}`)", singular(&entity)),
                    };
                    problems.push(Problem {
                        at: At::of(file, r),
                        message: format!("fact `{name}` references unknown entity `{entity}`"),
                        hint: Some(hint),
                    });
                }
                continue;
            };
            let columns = columns.unwrap_or_else(|| e.key.clone());
            if columns.len() != e.key.len() {
                problems.push(Problem {
                    at: At::of(file, r),
                    message: format!(
                        "entity `{entity}` has a key of {} column(s), the reference gives {}",
                        e.key.len(),
                        columns.len()
                    ),
                    hint: Some(format!(
                        "write `{{entity: {entity}, column: [{}]}}`",
                        e.key.join(", ")
                    )),
                });
                continue;
            }
            for c in &columns {
                check_col(
                    &mut problems,
                    At::of(file, r),
                    &cols,
                    &f.from.value,
                    c,
                    &format!("key of entity {entity}"),
                );
            }
            *used.entry(entity.clone()).or_default() += 1;
            let key_as = match columns.as_slice() {
                [one] if one.ends_with("_id") => format!("{}_key", &one[..one.len() - 3]),
                [one] => format!("{one}_key"),
                _ => e.surrogate_key.clone(),
            };
            let semantic_name = match columns.as_slice() {
                [one] if one.ends_with("_id") => one[..one.len() - 3].to_string(),
                _ => singular(&entity),
            };
            joins.push(Join {
                entity: entity.clone(),
                model: e.model.clone(),
                columns,
                entity_key: e.key.clone(),
                key_as,
                entity_surrogate_key: e.surrogate_key.clone(),
                scd2: e.snapshot.is_some(),
                alias: String::new(),
                semantic_name,
            });
        }
        for j in &mut joins {
            if used[&j.entity] > 1 {
                j.alias = format!("{}__{}", j.model, j.columns.join("__"));
            } else {
                // One reference: the entity's own name, so MetricFlow joins the dimension.
                j.alias = j.model.clone();
                j.semantic_name = singular(&j.entity);
            }
        }
        let mut seen_keys = BTreeSet::new();
        for j in &joins {
            if !seen_keys.insert(j.key_as.clone()) {
                problems.push(Problem {
                    at: At::of(file, &f.from),
                    message: format!("fact `{name}` would carry `{}` twice", j.key_as),
                    hint: Some("reference each entity through different columns".into()),
                });
            }
        }
        for m in &f.measures {
            check_col(
                &mut problems,
                At::of(file, m),
                &cols,
                &f.from.value,
                &m.value,
                "measure",
            );
        }
        for d in &f.dimensions {
            check_col(
                &mut problems,
                At::of(file, d),
                &cols,
                &f.from.value,
                &d.value,
                "dimension",
            );
        }
        if let Some(t) = &f.time {
            check_col(
                &mut problems,
                At::of(file, t),
                &cols,
                &f.from.value,
                &t.value,
                "time",
            );
        }
        let incremental = f.incremental.as_ref().and_then(|i| {
            let iat = At::of(file, i);
            let i = &i.value;
            let osc = i
                .on_schema_change
                .as_ref()
                .map(|o| o.value.clone())
                .unwrap_or_else(|| "append_new_columns".into());
            if !["ignore", "fail", "append_new_columns", "sync_all_columns"].contains(&osc.as_str())
            {
                problems.push(Problem {
                    at: i
                        .on_schema_change
                        .as_ref()
                        .map(|o| At::of(file, o))
                        .unwrap_or(iat.clone()),
                    message: format!("unknown on_schema_change `{osc}`"),
                    hint: Some(
                        "write one of: ignore, fail, append_new_columns, sync_all_columns".into(),
                    ),
                });
            }
            let strategy = i.strategy.as_ref().and_then(|st| {
                if STRATEGIES.contains(&st.value.as_str()) {
                    Some(st.value.clone())
                } else {
                    problems.push(Problem {
                        at: At::of(file, st),
                        message: format!("unknown incremental strategy `{}`", st.value),
                        hint: Some(format!(
                            "write one of: {} (each reloads rows on the grain, so a reloaded row replaces its old version)",
                            STRATEGIES.join(", ")
                        )),
                    });
                    None
                }
            });
            let lookback = i.lookback.as_ref().and_then(|l| match parse_window(&l.value) {
                Some(w) => Some(w),
                None => {
                    problems.push(Problem {
                        at: At::of(file, l),
                        message: format!("`{}` is not a lookback", l.value),
                        hint: Some(format!(
                            "write a number and a unit, e.g. `lookback: 3 days` (units: {})",
                            WINDOW_UNITS.join(", ")
                        )),
                    });
                    None
                }
            });
            let column = match (&i.updated_at, &f.time) {
                (Some(u), _) => {
                    check_col(
                        &mut problems,
                        At::of(file, u),
                        &cols,
                        &f.from.value,
                        &u.value,
                        "incremental.updated_at",
                    );
                    u.value.clone()
                }
                (None, Some(t)) if i.lookback.is_some() => t.value.clone(),
                (None, _) => {
                    problems.push(Problem {
                        at: iat.clone(),
                        message: format!("incremental fact `{name}` says neither which column changes nor how far back to re-read"),
                        hint: Some(if f.time.is_some() {
                            "add `updated_at: COLUMN` (a column that moves when a row changes) or `lookback: 3 days` (re-read the last days of the fact's `time`)".into()
                        } else {
                            "add `updated_at: COLUMN` (a column that moves when a row changes), or `time: COLUMN` to the fact and `lookback: 3 days` here".into()
                        }),
                    });
                    return None;
                }
            };
            incremental_at.insert(name.to_string(), iat);
            Some(Incremental {
                column,
                lookback,
                strategy,
                on_schema_change: osc,
            })
        });
        let materialized = match &f.materialized {
            Some(m) => match materialization(&m.value) {
                Ok(v) if v != "ephemeral" => v,
                _ => {
                    problems.push(Problem {
                        at: At::of(file, m),
                        message: format!("unknown materialization `{}` for a fact", m.value),
                        hint: Some(
                            "write `table` or `view` (incremental loading: `incremental:`)".into(),
                        ),
                    });
                    String::new()
                }
            },
            None => layout.fct_materialized.clone(),
        };
        let orphans = match f.orphans.as_ref().map(|o| (o, o.value.as_str())) {
            None | Some((_, "unknown")) => Orphans::Unknown,
            Some((_, "fail")) => Orphans::Fail,
            Some((o, other)) => {
                problems.push(Problem {
                    at: At::of(file, o),
                    message: format!("unknown orphans `{other}`"),
                    hint: Some("write `orphans: unknown` (rows without a member point at the unknown member) or `orphans: fail` (the key's not_null test fails on them)".into()),
                });
                Orphans::Unknown
            }
        };
        fact_cols.insert(name.to_string(), cols);
        let primary_entity = singular(name);
        let described: Vec<String> = grain
            .iter()
            .cloned()
            .chain(f.measures.iter().map(|m| m.value.clone()))
            .chain(f.dimensions.iter().map(|m| m.value.clone()))
            .chain(f.time.iter().map(|t| t.value.clone()))
            .collect();
        let descriptions = descriptions_of(
            &mut problems,
            file,
            f.descriptions.as_ref(),
            Some(&described),
            &format!("fact {name}"),
            "its grain, measures, dimensions and time",
        );
        facts.insert(
            name.to_string(),
            Fact {
                name: name.to_string(),
                model: layout.model_name(false, name),
                from: f.from.value.clone(),
                grain,
                joins,
                measures: f.measures.iter().map(|m| m.value.clone()).collect(),
                dimensions: f.dimensions.iter().map(|m| m.value.clone()).collect(),
                time_dimensions: f.time.iter().map(|t| t.value.clone()).collect(),
                incremental,
                orphans,
                materialized,
                description: f
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("One row per {}.", singular(name))),
                semantic_measures: Vec::new(),
                primary_entity,
                descriptions,
            },
        );
    }

    // Metrics.
    let mut measure_uses: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    let mut pending: Vec<PendingMetric> = Vec::new();
    let mut deps: BTreeMap<String, (At, Vec<String>)> = BTreeMap::new();
    for (name, (file, m, at)) in &metric_at {
        let kind = m
            .kind
            .as_ref()
            .map(|k| k.value.as_str())
            .unwrap_or("simple");
        let label = m.label.clone().unwrap_or_else(|| {
            name.split('_')
                .filter(|w| !w.is_empty())
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" ")
        });
        let description = m.description.clone().unwrap_or_default();
        let metric_ref = |problems: &mut Vec<Problem>, r: &serde_saphyr::Spanned<String>| {
            if !metric_at.contains_key(r.value.as_str()) {
                let hint = match spec::closest(&r.value, metric_at.keys().copied()) {
                    Some(n) => format!("write `{n}`"),
                    None => "name a metric declared under `metrics:`".into(),
                };
                problems.push(Problem {
                    at: At::of(file, r),
                    message: format!("metric `{name}` uses unknown metric `{}`", r.value),
                    hint: Some(hint),
                });
            }
        };
        match kind {
            "simple" | "cumulative" => {
                let Some(fact) = &m.fact else {
                    problems.push(Problem {
                        at: at.clone(),
                        message: format!("metric `{name}` ({kind}) needs the fact it aggregates"),
                        hint: Some(format!(
                            "add `fact: {}`",
                            fact_at.keys().next().copied().unwrap_or("FACT")
                        )),
                    });
                    continue;
                };
                let Some(f) = facts.get(&fact.value) else {
                    let hint = match spec::closest(&fact.value, fact_at.keys().copied()) {
                        Some(n) => format!("write `fact: {n}`"),
                        None => "declare the fact under `facts:`".into(),
                    };
                    problems.push(Problem {
                        at: At::of(file, fact),
                        message: format!("metric `{name}` is on unknown fact `{}`", fact.value),
                        hint: Some(hint),
                    });
                    continue;
                };
                let agg_raw = m
                    .agg
                    .as_ref()
                    .map(|a| a.value.as_str())
                    .unwrap_or(if m.measure.is_some() { "sum" } else { "count" });
                let agg = match agg_raw {
                    "avg" | "mean" => "average",
                    a => a,
                };
                if !AGGS.contains(&agg) {
                    let hint = spec::closest(agg, AGGS)
                        .map(|a| format!("write `agg: {a}`"))
                        .unwrap_or_else(|| format!("write one of: {}", AGGS.join(", ")));
                    problems.push(Problem {
                        at: m
                            .agg
                            .as_ref()
                            .map(|a| At::of(file, a))
                            .unwrap_or(at.clone()),
                        message: format!("unknown aggregation `{agg_raw}`"),
                        hint: Some(hint),
                    });
                    continue;
                }
                let column = match &m.measure {
                    Some(ms) => {
                        if !f.measures.contains(&ms.value) {
                            problems.push(Problem {
                                at: At::of(file, ms),
                                message: format!("metric `{name}` uses measure `{}`, which fact `{}` does not carry", ms.value, f.name),
                                hint: Some(match spec::closest(&ms.value, f.measures.iter().map(String::as_str)) {
                                    Some(c) => format!("write `measure: {c}`, or add `{}` to facts.{}.measures", ms.value, f.name),
                                    None => format!("add `{}` to facts.{}.measures", ms.value, f.name),
                                }),
                            });
                            continue;
                        }
                        ms.value.clone()
                    }
                    None if agg == "count" || agg == "count_distinct" => {
                        f.grain.first().cloned().unwrap_or_default()
                    }
                    None => {
                        problems.push(Problem {
                            at: at.clone(),
                            message: format!(
                                "metric `{name}` aggregates ({agg}) but names no measure"
                            ),
                            hint: Some(format!(
                                "add `measure: COLUMN` (one of facts.{}.measures)",
                                f.name
                            )),
                        });
                        continue;
                    }
                };
                let time = match (&m.time, f.time_dimensions.first()) {
                    (Some(t), _) => {
                        check_col(
                            &mut problems,
                            At::of(file, t),
                            &fact_cols[&f.name],
                            &f.from,
                            &t.value,
                            "time",
                        );
                        t.value.clone()
                    }
                    (None, Some(t)) => t.clone(),
                    (None, None) => match &f.incremental {
                        Some(i) => i.column.clone(),
                        None => {
                            problems.push(Problem {
                                at: at.clone(),
                                message: format!(
                                    "metric `{name}` has no time column to aggregate over"
                                ),
                                hint: Some(format!(
                                    "add `time: COLUMN` to the metric or to facts.{}",
                                    f.name
                                )),
                            });
                            continue;
                        }
                    },
                };
                let window = m.window.as_ref().map(|w| w.value.clone());
                if let Some(w) = &m.window {
                    if parse_window(&w.value).is_none_or(|(_, u)| u == "minute" || u == "hour") {
                        problems.push(Problem {
                            at: At::of(file, w),
                            message: format!("`{}` is not a window", w.value),
                            hint: Some("write a number and a unit, e.g. `window: 7 days` (units: day, week, month, quarter, year)".into()),
                        });
                    }
                }
                let grain_to_date = m.grain_to_date.as_ref().map(|g| g.value.clone());
                if kind == "simple" && (window.is_some() || grain_to_date.is_some()) {
                    problems.push(Problem {
                        at: at.clone(),
                        message: format!("metric `{name}` sets a window but is not cumulative"),
                        hint: Some(
                            "add `type: cumulative`, or remove `window`/`grain_to_date`".into(),
                        ),
                    });
                }
                let key = (f.name.clone(), column.clone(), agg.to_string());
                measure_uses
                    .entry(key.clone())
                    .or_default()
                    .push(time.clone());
                let kind = if kind == "simple" {
                    MetricKind::Simple {
                        measure: String::new(),
                    }
                } else {
                    MetricKind::Cumulative {
                        measure: String::new(),
                        window,
                        grain_to_date,
                    }
                };
                pending.push((
                    name.to_string(),
                    at.clone(),
                    Some(key),
                    kind,
                    label,
                    description,
                ));
            }
            "ratio" => {
                let (Some(n), Some(d)) = (&m.numerator, &m.denominator) else {
                    problems.push(Problem {
                        at: at.clone(),
                        message: format!(
                            "ratio metric `{name}` needs a numerator and a denominator"
                        ),
                        hint: Some("add `numerator: METRIC` and `denominator: METRIC`".into()),
                    });
                    continue;
                };
                metric_ref(&mut problems, n);
                metric_ref(&mut problems, d);
                deps.insert(
                    name.to_string(),
                    (at.clone(), vec![n.value.clone(), d.value.clone()]),
                );
                pending.push((
                    name.to_string(),
                    at.clone(),
                    None,
                    MetricKind::Ratio {
                        numerator: n.value.clone(),
                        denominator: d.value.clone(),
                    },
                    label,
                    description,
                ));
            }
            "derived" => {
                let (Some(expr), Some(list)) = (&m.expr, &m.metrics) else {
                    problems.push(Problem {
                        at: at.clone(),
                        message: format!("derived metric `{name}` needs `expr` and `metrics`"),
                        hint: Some(
                            "e.g. `expr: revenue - refunds` and `metrics: [revenue, refunds]`"
                                .into(),
                        ),
                    });
                    continue;
                };
                for r in list {
                    metric_ref(&mut problems, r);
                }
                for word in expr_names(&expr.value) {
                    if !list.iter().any(|r| r.value == word) {
                        problems.push(Problem {
                            at: At::of(file, expr),
                            message: format!("derived metric `{name}`'s expression uses `{word}`, which is not among its `metrics`"),
                            hint: Some(if metric_at.contains_key(word.as_str()) {
                                format!("add `{word}` to `metrics: [...]`")
                            } else {
                                match spec::closest(&word, list.iter().map(|r| r.value.as_str())) {
                                    Some(n) => format!("write `{n}`"),
                                    None => format!("name metrics of `metrics: [...]` ({})", list.iter().map(|r| r.value.as_str()).collect::<Vec<_>>().join(", ")),
                                }
                            }),
                        });
                    }
                }
                deps.insert(
                    name.to_string(),
                    (at.clone(), list.iter().map(|r| r.value.clone()).collect()),
                );
                pending.push((
                    name.to_string(),
                    at.clone(),
                    None,
                    MetricKind::Derived {
                        expr: expr.value.clone(),
                        metrics: list.iter().map(|r| r.value.clone()).collect(),
                    },
                    label,
                    description,
                ));
            }
            other => {
                let k = m.kind.as_ref().expect("a kind was read");
                let hint = spec::closest(other, ["simple", "ratio", "cumulative", "derived"])
                    .map(|k| format!("write `type: {k}`"))
                    .unwrap_or_else(|| "write one of: simple, ratio, cumulative, derived".into());
                problems.push(Problem {
                    at: At::of(file, k),
                    message: format!("unknown metric type `{other}`"),
                    hint: Some(hint),
                });
            }
        }
    }
    // Cycles among metrics built on metrics.
    for start in deps.keys() {
        let mut path = vec![start.clone()];
        if let Some(cycle) = find_cycle(&deps, start, &mut path) {
            if cycle.iter().min() == Some(start) {
                let at = deps[start].0.clone();
                problems.push(Problem { at, message: format!("metrics refer to each other in a cycle: {}", cycle.join(" → ")), hint: Some("one of them must be built from a fact's measure (a simple metric), not from the others".into()) });
            }
        }
    }

    // Measures: `<column>_<agg>`, qualified by the fact when two facts would share a name.
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    for (_, col, agg) in measure_uses.keys() {
        *by_name.entry(format!("{col}_{agg}")).or_default() += 1;
    }
    let mut measure_name: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for ((fact, col, agg), times) in &measure_uses {
        let plain = format!("{col}_{agg}");
        let name = if by_name[&plain] > 1 || metric_at.contains_key(plain.as_str()) {
            format!("{fact}__{plain}")
        } else {
            plain
        };
        measure_name.insert((fact.clone(), col.clone(), agg.clone()), name.clone());
        let f = facts.get_mut(fact).expect("the fact was resolved");
        let mut times: Vec<&String> = times.iter().collect();
        times.sort();
        times.dedup();
        if times.len() > 1 {
            let (file, _, at) = &fact_at[fact.as_str()];
            problems.push(Problem { at: at.clone(), message: format!("metrics aggregate {agg}({col}) of fact `{fact}` over different time columns ({})", times.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")), hint: Some(format!("give them the same `time:` in {}", file.display())) });
        }
        let time = times[0].clone();
        if !f.time_dimensions.contains(&time) {
            f.time_dimensions.push(time.clone());
        }
        f.semantic_measures.push(Measure {
            name,
            agg: agg.clone(),
            expr: col.clone(),
            agg_time_dimension: Some(time),
        });
    }
    for f in facts.values_mut() {
        let default = f.time_dimensions.first().cloned();
        for m in &mut f.semantic_measures {
            if m.agg_time_dimension == default {
                m.agg_time_dimension = None;
            }
        }
    }
    for (name, _, key, mut kind, label, description) in pending {
        if let Some(key) = key {
            let measure = measure_name[&key].clone();
            match &mut kind {
                MetricKind::Simple { measure: m } | MetricKind::Cumulative { measure: m, .. } => {
                    *m = measure
                }
                _ => {}
            }
        }
        model.metrics.push(Metric {
            name,
            label,
            description,
            kind,
        });
    }

    // An event time used as the change column: late rows and corrections never arrive.
    for f in facts.values() {
        if let (Some(i), Some(at)) = (&f.incremental, incremental_at.get(&f.name)) {
            if i.lookback.is_none() && f.time_dimensions.first() == Some(&i.column) {
                model.warnings.push(Problem {
                    at: at.clone(),
                    message: format!("fact `{}` loads incrementally on `{}`, its event time: rows that arrive late or are corrected later are never loaded", f.name, i.column),
                    hint: Some("name a column that moves when a row changes (`updated_at: COLUMN`), or re-read a window: `lookback: 3 days`".into()),
                });
            }
        }
    }

    if !problems.is_empty() {
        return Err(MartsError::Spec(problems));
    }
    model.entities = entities.into_values().collect();
    model.facts = facts.into_values().collect();
    Ok(model)
}

/// (fact, column, aggregation): one semantic-model measure.
type MeasureKey = (String, String, String);

/// A metric resolved but for its measure's name: (name, place, measure, kind, label,
/// description).
type PendingMetric = (String, At, Option<MeasureKey>, MetricKind, String, String);

/// A cycle through `path`'s last metric, as the names along it (first repeated at the end).
fn find_cycle(
    deps: &BTreeMap<String, (At, Vec<String>)>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    let last = path.last()?.clone();
    for next in deps.get(&last).map(|d| d.1.as_slice()).unwrap_or_default() {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(start.to_string());
            return Some(cycle);
        }
        if path.contains(next) || path.len() > deps.len() {
            continue;
        }
        path.push(next.clone());
        if let Some(c) = find_cycle(deps, start, path) {
            return Some(c);
        }
        path.pop();
    }
    None
}

/// The spec's `descriptions:` of an entity or a fact, each naming one of `columns` (when they
/// are known); a name that is none of them is a problem with what it could be.
fn descriptions_of(
    problems: &mut Vec<Problem>,
    file: &Path,
    given: Option<&serde_saphyr::Spanned<BTreeMap<String, String>>>,
    columns: Option<&[String]>,
    what: &str,
    which: &str,
) -> BTreeMap<String, String> {
    let Some(given) = given else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (column, text) in &given.value {
        if let Some(columns) = columns {
            if !columns.iter().any(|c| c == column) {
                problems.push(Problem {
                    at: At::of(file, given),
                    message: format!("descriptions: `{column}` is not a column of {what}"),
                    hint: Some(format!("{which}: {}", columns.join(", "))),
                });
                continue;
            }
        }
        let text = text.trim();
        if !text.is_empty() {
            out.insert(column.clone(), text.to_string());
        }
    }
    out
}
