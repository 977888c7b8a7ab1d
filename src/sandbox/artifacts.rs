//! Synthesised dbt artifacts for simulated runs: `manifest.json` (schema v12),
//! `run_results.json` (v6), `catalog.json`, `sources.json` and compiled/run SQL, shaped like
//! dbt's own so clients that parse them (failing nodes, timings) work unchanged.
//!
//! Artifacts are rendered on request from the run's plan, so they cost nothing until asked for.
//! Steps that ran real dbt (`StepPlan::files`) serve the files dbt wrote instead.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::executor::{NodeResult, StepPlan};
use super::fixture::FreshnessStatus;
use super::lineage::{self, jinja_calls, model_unique_id, Graph, SourceTable};
use super::manifest_from_checkout::model_file;
use super::simulate::SIMULATED_DBT_VERSION;
use super::state::Run;
use crate::digest::sha256_hex;

const MANIFEST_SCHEMA: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";
const RUN_RESULTS_SCHEMA: &str = "https://schemas.getdbt.com/dbt/run-results/v6.json";
const CATALOG_SCHEMA: &str = "https://schemas.getdbt.com/dbt/catalog/v1.json";
const SOURCES_SCHEMA: &str = "https://schemas.getdbt.com/dbt/sources/v3.json";
const DATABASE: &str = "analytics";
const SCHEMA: &str = "dbt_sandbox";

/// A rendered artifact: its content type and body.
pub struct Artifact {
    pub content_type: &'static str,
    pub body: String,
}

/// Render artifact `path` of step `position` (0-based) of `run`; `None` when the step does not
/// write it.
pub fn render(
    run: &Run,
    position: usize,
    path: &str,
    finished_at: DateTime<Utc>,
) -> Option<Artifact> {
    let step = run.plan.steps.get(position)?;
    // Only listed paths are served: a request can never name a file outside the step's copy.
    if !step.artifacts.iter().any(|p| p == path) {
        return None;
    }
    if let Some(dir) = &step.files {
        let bytes = std::fs::read(dir.join(path)).ok()?;
        return Some(Artifact {
            content_type: if path.ends_with(".json") {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            },
            body: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    let ctx = Ctx {
        run,
        step,
        position,
        finished_at,
    };
    let json_body = |v: Value| Artifact {
        content_type: "application/json",
        body: serde_json::to_string(&v).unwrap_or_default(),
    };
    Some(match path {
        "manifest.json" => json_body(ctx.manifest()),
        "run_results.json" => json_body(ctx.run_results()),
        "catalog.json" => json_body(ctx.catalog()),
        "sources.json" => json_body(ctx.sources()),
        other => Artifact {
            content_type: "text/plain; charset=utf-8",
            body: ctx.sql(other),
        },
    })
}

/// Artifact `path` from step `index` (1-based; default the run's last step), if that step has
/// finished and wrote it.
pub(crate) fn at_step(
    run: &Run,
    step: Option<usize>,
    path: &str,
    now: Instant,
) -> Option<Artifact> {
    let snap = run.snapshot(now);
    let index = step.or_else(|| snap.steps.last().map(|s| s.position + 1))?;
    if !snap.step_wrote_artifacts(&run.plan, index) {
        return None;
    }
    let finished = snap
        .steps
        .iter()
        .find(|s| s.position + 1 == index)?
        .finished?;
    render(run, index - 1, path, run.at(finished))
}

/// The last version of `path` the run wrote, searching its steps from the last (what the
/// job-artifact endpoint serves, and what deferral compares against).
pub(crate) fn latest(run: &Run, path: &str, now: Instant) -> Option<Artifact> {
    (1..=run.plan.steps.len())
        .rev()
        .find_map(|i| at_step(run, Some(i), path, now))
}

/// The `DBT_CLOUD_*` variables dbt Cloud sets for every run; dbt writes them under the
/// artifacts' `metadata.env` (clients such as dagster-dbt read the run id from there).
pub(crate) fn cloud_env(run: &Run) -> Value {
    json!({
        "DBT_CLOUD_ACCOUNT_ID": run.account_id.to_string(),
        "DBT_CLOUD_PROJECT_ID": run.project_id.to_string(),
        "DBT_CLOUD_ENVIRONMENT_ID": run.environment_id.to_string(),
        "DBT_CLOUD_JOB_ID": run.job_id.to_string(),
        "DBT_CLOUD_RUN_ID": run.id.to_string(),
        "DBT_CLOUD_RUN_REASON_CATEGORY": run.cause_category,
        "DBT_CLOUD_RUN_REASON": run.trigger.cause,
    })
}

struct Ctx<'a> {
    run: &'a Run,
    step: &'a StepPlan,
    position: usize,
    finished_at: DateTime<Utc>,
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A stable 64-hex-digit digest (FNV-1a, stretched): plausible checksums without a crypto crate.
fn digest(s: &str) -> String {
    (0u64..4)
        .map(|salt| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
            for b in s.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            format!("{h:016x}")
        })
        .collect()
}

fn relation(name: &str) -> String {
    format!("\"{DATABASE}\".\"{SCHEMA}\".\"{name}\"")
}

/// A fixture model's made-up SQL: its source, and (dbt's documented way to declare a
/// dependency without selecting from it) a `depends_on` comment for each model it follows.
fn raw_code(model: &str, parent_models: &[&str]) -> String {
    let table = model.trim_start_matches("stg_");
    let mut raw = String::new();
    for p in parent_models {
        raw.push_str(&format!("-- depends_on: {{{{ ref('{p}') }}}}\n"));
    }
    raw.push_str(&format!(
        "select * from {{{{ source('raw', '{table}') }}}}\n"
    ));
    raw
}

/// The criteria simulated sources are judged by (the `freshness:` dbt Labs' guide suggests).
fn freshness_criteria() -> Value {
    json!({
        "warn_after": {"count": 12, "period": "hour"},
        "error_after": {"count": 24, "period": "hour"},
        "filter": null,
    })
}

fn compiled_code(model: &str) -> String {
    let table = model.trim_start_matches("stg_");
    format!("select * from \"{DATABASE}\".\"raw\".\"{table}\"\n")
}

impl Ctx<'_> {
    fn project(&self) -> &str {
        &self.run.plan.project_name
    }

    fn invocation_id(&self) -> String {
        format!(
            "{:08x}-5a4d-4b0c-8000-{:012x}",
            self.run.id & 0xffff_ffff,
            self.position + 1
        )
    }

    fn started_at(&self) -> DateTime<Utc> {
        self.finished_at - chrono::Duration::from_std(self.step.duration).unwrap_or_default()
    }

    fn metadata(&self, schema: &str) -> Value {
        json!({
            "dbt_schema_version": schema,
            "dbt_version": SIMULATED_DBT_VERSION,
            "generated_at": iso(self.finished_at),
            "invocation_id": self.invocation_id(),
            "invocation_started_at": iso(self.started_at()),
            "env": cloud_env(self.run),
        })
    }

    fn model_node(&self, model: &str, parents: &[String]) -> Value {
        let project = self.project();
        let parent_models: Vec<&str> = parents
            .iter()
            .filter_map(|p| p.strip_prefix(&format!("model.{project}.")))
            .collect();
        // A model read from a checkout is described by its real file; a fixture's model by
        // a made-up staging file.
        let (path, original_file_path, raw, checksum, sources, refs) =
            match model_file(&self.run.plan.model_files, model) {
                Some(f) => (
                    f.path.clone(),
                    f.original_file_path.clone(),
                    f.raw_code.clone(),
                    sha256_hex(f.raw_code.as_bytes()),
                    jinja_calls(&f.raw_code, "source"),
                    jinja_calls(&f.raw_code, "ref")
                        .into_iter()
                        .filter_map(|args| args.last().cloned())
                        .map(|name| json!({"name": name, "package": null, "version": null}))
                        .collect::<Vec<Value>>(),
                ),
                None => {
                    let raw = raw_code(model, &parent_models);
                    let checksum = digest(&raw);
                    let source = lineage::fixture_source(model);
                    (
                        format!("staging/{model}.sql"),
                        format!("models/staging/{model}.sql"),
                        raw,
                        checksum,
                        vec![vec![source.source, source.table]],
                        parent_models
                            .iter()
                            .map(|name| json!({"name": name, "package": null, "version": null}))
                            .collect(),
                    )
                }
            };
        let mut fqn = vec![project.to_string()];
        fqn.extend(
            path.split('/')
                .rev()
                .skip(1)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .map(str::to_string),
        );
        fqn.push(model.to_string());
        json!({
            "database": DATABASE,
            "schema": SCHEMA,
            "name": model,
            "resource_type": "model",
            "package_name": project,
            "path": path,
            "original_file_path": original_file_path,
            "unique_id": model_unique_id(project, model),
            "fqn": fqn,
            "alias": model,
            "checksum": {"name": "sha256", "checksum": checksum},
            "config": {
                "enabled": true, "alias": null, "schema": null, "database": null,
                "tags": [], "meta": {}, "group": null, "materialized": "view",
                "incremental_strategy": null, "persist_docs": {}, "post-hook": [],
                "pre-hook": [], "quoting": {}, "column_types": {}, "full_refresh": null,
                "unique_key": null, "on_schema_change": "ignore",
                "on_configuration_change": "apply", "grants": {}, "packages": [],
                "docs": {"show": true, "node_color": null},
                "contract": {"enforced": false, "alias_types": true},
                "access": "protected",
            },
            "tags": [],
            "description": "",
            "columns": {},
            "meta": {},
            "group": null,
            "docs": {"show": true, "node_color": null},
            "patch_path": null,
            "build_path": null,
            "unrendered_config": {"materialized": "view"},
            "created_at": self.run.created_at.timestamp() as f64,
            "relation_name": relation(model),
            "raw_code": raw,
            "language": "sql",
            "refs": refs,
            "sources": sources,
            "metrics": [],
            "depends_on": {"macros": [], "nodes": parents},
            "compiled_path": format!("target/compiled/{project}/{original_file_path}"),
            "contract": {"enforced": false, "alias_types": true, "checksum": null},
            "access": "protected",
            "constraints": [],
            "version": null,
            "latest_version": null,
            "deprecation_date": null,
            "primary_key": [],
            "time_spine": null,
        })
    }

    /// Nodes a failure names that are not models (e.g. data tests).
    fn extra_node(&self, n: &NodeResult, depends: &[String]) -> Value {
        let project = self.project();
        json!({
            "database": DATABASE,
            "schema": SCHEMA,
            "name": n.name,
            "resource_type": n.resource_type,
            "package_name": project,
            "path": format!("{}.sql", n.name),
            "original_file_path": "models/staging/_models.yml",
            "unique_id": n.unique_id,
            "fqn": [project, "staging", n.name],
            "alias": n.name,
            "checksum": {"name": "none", "checksum": ""},
            "config": {"enabled": true, "materialized": "test", "severity": "ERROR", "tags": [], "meta": {}},
            "tags": [],
            "description": "",
            "columns": {},
            "meta": {},
            "raw_code": "",
            "language": "sql",
            "refs": [],
            "sources": [],
            "depends_on": {"macros": [], "nodes": depends},
        })
    }

    /// The project's graph: models, the sources they read, and the non-model nodes the
    /// run's steps report (tests named by failures and warnings).
    fn graph(&self) -> Graph {
        let plan = &self.run.plan;
        let models: std::collections::BTreeSet<String> = plan
            .models
            .iter()
            .map(|m| model_unique_id(self.project(), m))
            .collect();
        let extra: Vec<String> = plan
            .steps
            .iter()
            .flat_map(|s| s.nodes.iter())
            .map(|n| n.unique_id.clone())
            .filter(|id| !models.contains(id))
            .collect();
        lineage::graph(self.project(), &plan.models, &plan.model_files, &extra)
    }

    fn manifest(&self) -> Value {
        let project = self.project();
        let graph = self.graph();
        let parents_of = |id: &str| graph.parents.get(id).cloned().unwrap_or_default();
        let mut nodes = Map::new();
        for m in &self.run.plan.models {
            let uid = model_unique_id(project, m);
            nodes.insert(uid.clone(), self.model_node(m, &parents_of(&uid)));
        }
        for step in &self.run.plan.steps {
            for n in &step.nodes {
                if !nodes.contains_key(&n.unique_id) {
                    nodes.insert(
                        n.unique_id.clone(),
                        self.extra_node(n, &parents_of(&n.unique_id)),
                    );
                }
            }
        }
        let sources: Map<String, Value> = graph
            .sources
            .iter()
            .map(|s| (s.unique_id(project), self.source_node(s)))
            .collect();
        let parent_map: Map<String, Value> = graph
            .parents
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let child_map: Map<String, Value> = graph
            .children()
            .into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect();
        let mut metadata = self.metadata(MANIFEST_SCHEMA);
        if let Value::Object(m) = &mut metadata {
            m.insert("project_name".into(), json!(project));
            m.insert("project_id".into(), json!(&digest(project)[..32]));
            m.insert("user_id".into(), Value::Null);
            m.insert("send_anonymous_usage_stats".into(), json!(false));
            m.insert("adapter_type".into(), json!("postgres"));
        }
        json!({
            "metadata": metadata,
            "nodes": nodes,
            "sources": sources,
            "macros": {},
            "docs": {},
            "exposures": {},
            "metrics": {},
            "groups": {},
            "selectors": {},
            "disabled": {},
            "parent_map": parent_map,
            "child_map": child_map,
            "group_map": {},
            "saved_queries": {},
            "semantic_models": {},
            "unit_tests": {},
        })
    }

    fn run_results(&self) -> Value {
        let start = self.started_at();
        let mut t = start;
        let results: Vec<Value> = self
            .step
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let took = chrono::Duration::milliseconds((n.execution_time * 1000.0) as i64);
                let (s, e) = (t, t + took);
                t = e;
                let ran = n.status != "skipped";
                let code = if n.resource_type == "model" { "CREATE VIEW" } else { "SELECT" };
                json!({
                    "status": n.status,
                    "timing": if ran { json!([
                        {"name": "compile", "started_at": iso(s), "completed_at": iso(s)},
                        {"name": "execute", "started_at": iso(s), "completed_at": iso(e)},
                    ]) } else { json!([]) },
                    "thread_id": format!("Thread-{} (worker)", i % 4 + 1),
                    "execution_time": if ran { n.execution_time } else { 0.0 },
                    "adapter_response": if n.status == "success" {
                        json!({"_message": code, "code": code, "rows_affected": -1})
                    } else { json!({}) },
                    "message": n.message,
                    "failures": n.failures,
                    "unique_id": n.unique_id,
                    "compiled": ran,
                    "compiled_code": if n.resource_type == "model" { json!(compiled_code(&n.name)) } else { json!("") },
                    "relation_name": if n.resource_type == "model" { json!(relation(&n.name)) } else { Value::Null },
                    "batch_results": null,
                })
            })
            .collect();
        let command = self.step.command.clone().unwrap_or_default();
        let which = command
            .split_whitespace()
            .nth(1)
            .unwrap_or("build")
            .to_string();
        json!({
            "metadata": self.metadata(RUN_RESULTS_SCHEMA),
            "results": results,
            "elapsed_time": self.step.duration.as_secs_f64(),
            "args": {
                "which": which,
                "invocation_command": command,
                "project_dir": "/tmp/jobs/target",
                "target": self.run.trigger.target_name_override.clone().unwrap_or_else(|| "default".into()),
                "threads": self.run.trigger.threads_override.unwrap_or(4),
                "log_format": "json",
            },
        })
    }

    fn catalog(&self) -> Value {
        let project = self.project();
        let nodes: Map<String, Value> = self
            .run
            .plan
            .models
            .iter()
            .map(|m| {
                let uid = model_unique_id(project, m);
                (
                    uid.clone(),
                    json!({
                        "metadata": {"type": "VIEW", "schema": SCHEMA, "name": m, "database": DATABASE, "comment": null, "owner": "sandbox"},
                        // Plausible columns so a catalog consumer (generate --from-catalog
                        // cloud) has something to read.
                        "columns": {
                            "id": {"type": "INTEGER", "index": 1, "name": "id", "comment": null},
                            "name": {"type": "VARCHAR", "index": 2, "name": "name", "comment": null},
                            "updated_at": {"type": "TIMESTAMP", "index": 3, "name": "updated_at", "comment": null},
                        },
                        "stats": {"has_stats": {"id": "has_stats", "label": "Has Stats?", "value": false, "include": false, "description": "Indicates whether there are statistics for this table"}},
                        "unique_id": uid,
                    }),
                )
            })
            .collect();
        json!({"metadata": self.metadata(CATALOG_SCHEMA), "nodes": nodes, "sources": {}, "errors": null})
    }

    /// A source table as the manifest's `sources` map holds it.
    fn source_node(&self, s: &SourceTable) -> Value {
        let project = self.project();
        json!({
            "database": DATABASE,
            "schema": s.source,
            "name": s.table,
            "resource_type": "source",
            "package_name": project,
            "path": "models/staging/_sources.yml",
            "original_file_path": "models/staging/_sources.yml",
            "unique_id": s.unique_id(project),
            "fqn": [project, "staging", s.source, s.table],
            "source_name": s.source,
            "source_description": "",
            "loader": "",
            "identifier": s.table,
            "quoting": {"database": null, "schema": null, "identifier": null, "column": null},
            "loaded_at_field": "_loaded_at",
            "freshness": freshness_criteria(),
            "external": null,
            "description": "",
            "columns": {},
            "meta": {},
            "source_meta": {},
            "tags": [],
            "config": {"enabled": true, "event_time": null, "freshness": freshness_criteria(), "loaded_at_field": "_loaded_at", "loaded_at_query": null, "meta": {}, "tags": []},
            "patch_path": null,
            "unrendered_config": {},
            "relation_name": format!("\"{DATABASE}\".\"{}\".\"{}\"", s.source, s.table),
            "created_at": self.run.created_at.timestamp() as f64,
        })
    }

    /// `dbt source freshness`: one result per source table the models read, with the
    /// fixture's verdicts (`freshness:`), ages that fit them and the criteria that judged them.
    fn sources(&self) -> Value {
        let project = self.project();
        let graph = self.graph();
        let snapshotted = self.finished_at;
        let results: Vec<Value> = graph
            .sources
            .iter()
            .map(|s| {
                let uid = s.unique_id(project);
                let verdict = self
                    .run
                    .plan
                    .source_freshness
                    .get(&format!("{}.{}", s.source, s.table))
                    .or_else(|| self.run.plan.source_freshness.get(&s.table))
                    .copied()
                    .unwrap_or(FreshnessStatus::Pass);
                if verdict == FreshnessStatus::RuntimeError {
                    return json!({
                        "unique_id": uid,
                        "error": format!("Database Error\n  column \"_loaded_at\" does not exist in {}.{}", s.source, s.table),
                        "status": "runtime error",
                    });
                }
                // Ages inside each verdict's band: warn after 12 h, error after 24 h.
                let hours = match verdict {
                    FreshnessStatus::Warn => 13,
                    FreshnessStatus::Error => 30,
                    _ => 1,
                };
                let loaded = snapshotted - chrono::Duration::hours(hours);
                json!({
                    "unique_id": uid,
                    "max_loaded_at": iso(loaded),
                    "snapshotted_at": iso(snapshotted),
                    "max_loaded_at_time_ago_in_s": (hours * 3600) as f64,
                    "status": verdict.as_str(),
                    "criteria": freshness_criteria(),
                    "adapter_response": {},
                    "timing": [
                        {"name": "compile", "started_at": iso(snapshotted), "completed_at": iso(snapshotted)},
                        {"name": "execute", "started_at": iso(snapshotted), "completed_at": iso(snapshotted)},
                    ],
                    "thread_id": "Thread-1",
                    "execution_time": 0.05,
                })
            })
            .collect();
        json!({"metadata": self.metadata(SOURCES_SCHEMA), "results": results, "elapsed_time": self.step.duration.as_secs_f64()})
    }

    fn sql(&self, path: &str) -> String {
        let model = path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".sql");
        let compiled = compiled_code(model);
        if path.starts_with("run/") {
            format!(
                "\n  create view {} as (\n    {}  );\n",
                relation(model),
                compiled
            )
        } else {
            compiled
        }
    }
}
