//! The `simulate` executor: turns a job's fixture (`run:` behaviour, models, commands) into a
//! [`RunPlan`] with dbt Cloud's step names, plausible dbt logs and per-node results from which
//! the artifacts are synthesised.

use std::time::Duration;

use super::fixture::{FailureStatus, NodeFailure, NodeWarning, Outcome};
use super::lineage::{self, model_unique_id};
use super::manifest_from_checkout::{original_file_path, DataTest, ModelFile};
use super::plan::{ends_early, failing_position, failure_status, RunPlan, RunRequest};
use super::status::{NodeResult, StepEnd, StepPlan};

/// The dbt-core version the simulated logs and artifacts claim.
pub const SIMULATED_DBT_VERSION: &str = "1.10.15";

/// What a step is, before timings and outcome are applied.
struct StepTemplate {
    name: String,
    command: Option<String>,
}

pub fn plan(req: &RunRequest<'_>) -> RunPlan {
    let mut templates = vec![
        StepTemplate {
            name: "Clone Git Repository".into(),
            command: None,
        },
        StepTemplate {
            name: format!(
                "Create Profile from Connection {}",
                req.environment.connection
            ),
            command: None,
        },
        invoke("dbt deps"),
    ];
    if req.job.run_generate_sources {
        templates.push(invoke("dbt source freshness"));
    }
    templates.extend(req.commands.iter().map(|c| invoke(c)));
    if req.generate_docs {
        templates.push(invoke("dbt docs generate"));
    }

    let behaviour = &req.behaviour;
    // Failures that name nodes happen where nodes run: a run of only `dbt parse` (or `ls`,
    // `deps`, ...) cannot hit them, and succeeds, as it would on dbt Cloud.
    let runs_any_nodes = templates
        .iter()
        .any(|t| t.command.as_deref().is_some_and(runs_nodes));
    let node_failures_only = behaviour.outcome == Outcome::Error && !behaviour.failures.is_empty();
    let failing = (ends_early(behaviour.outcome) && (runs_any_nodes || !node_failures_only))
        .then(|| failing_position(behaviour, templates.len()));
    let project = req.project.name.clone();
    let mut steps = Vec::new();
    let mut skipped = Vec::new();
    let mut retry_nodes = req.retry_nodes.clone().filter(|n| !n.is_empty());
    for (i, t) in templates.into_iter().enumerate() {
        let duration = Duration::from_millis(
            behaviour
                .step_durations_ms
                .get(&(i + 1))
                .copied()
                .unwrap_or(behaviour.step_ms),
        );
        let end = match failing {
            Some(f) if f == i => match behaviour.outcome {
                Outcome::Cancelled => StepEnd::Cancelled,
                _ => StepEnd::Error,
            },
            _ => StepEnd::Success,
        };
        let failures: Vec<NodeFailure> = if end == StepEnd::Error {
            failures_or_default(&behaviour.failures, &req.job.models, req.model_files)
        } else {
            Vec::new()
        };
        let nodes = match &t.command {
            Some(c) if runs_nodes(c) => {
                let nodes = node_results(
                    &project,
                    &req.job.models,
                    req.model_files,
                    &failures,
                    &behaviour.warnings,
                );
                let extra: Vec<String> = nodes.iter().map(|n| n.unique_id.clone()).collect();
                let graph = lineage::graph(&project, &req.job.models, req.model_files, &extra);
                let nodes = select_nodes(c, nodes, &graph);
                let nodes = if req.model_files.is_empty() {
                    // Fixture-only: every node-running command runs the fixture's models.
                    nodes
                } else {
                    by_command(c, &project, nodes, req.seeds, req.tests)
                };
                match retry_nodes.take() {
                    Some(only) => nodes
                        .into_iter()
                        .filter(|n| only.contains(&n.unique_id))
                        .collect(),
                    None => nodes,
                }
            }
            _ => Vec::new(),
        };
        let artifacts = match &t.command {
            Some(c) => artifacts_for(c, &project, &req.job.models, req.model_files),
            None => Vec::new(),
        };
        let logs = step_logs(i, &t, req, &nodes, &end);
        let step = StepPlan {
            name: t.name,
            command: t.command,
            duration,
            end,
            logs,
            artifacts,
            nodes,
            debug_logs: None,
            files: None,
        };
        match failing {
            Some(f) if i > f => skipped.push(step),
            _ => steps.push(step),
        }
    }
    RunPlan {
        queued: Duration::from_millis(behaviour.queued_ms),
        starting: Duration::from_millis(behaviour.starting_ms),
        steps,
        skipped,
        project_name: project,
        models: req.job.models.clone(),
        model_files: req.model_files.to_vec(),
        dbt_version: req.dbt_version.clone(),
        live: None,
        checked_out: None,
        status_message: None,
        deferring_run_id: None,
        source_freshness: behaviour.freshness.clone(),
    }
}

fn invoke(command: &str) -> StepTemplate {
    StepTemplate {
        name: format!("Invoke dbt with `{command}`"),
        command: Some(command.to_string()),
    }
}

/// Commands that execute nodes (and so write per-node results).
fn runs_nodes(command: &str) -> bool {
    let sub = command.split_whitespace().nth(1).unwrap_or_default();
    matches!(
        sub,
        "build" | "run" | "test" | "seed" | "snapshot" | "compile" | "retry"
    )
}

fn artifacts_for(
    command: &str,
    project: &str,
    models: &[String],
    files: &[ModelFile],
) -> Vec<String> {
    let sub = command.split_whitespace().nth(1).unwrap_or_default();
    let mut paths = match sub {
        "deps" | "clean" | "debug" | "init" => return Vec::new(),
        "source" => vec!["sources.json".to_string()],
        "docs" => vec!["catalog.json".to_string()],
        _ => Vec::new(),
    };
    paths.push("manifest.json".into());
    paths.push("run_results.json".into());
    if runs_nodes(command) {
        for m in models {
            let file = original_file_path(files, m);
            paths.push(format!("compiled/{project}/{file}"));
            if sub != "compile" {
                paths.push(format!("run/{project}/{file}"));
            }
        }
    }
    paths.sort();
    paths
}

/// What a command runs in a checked-out project, given its (selected) model results: `seed`
/// the seeds, `run` the models, `test` the selected models' data tests, `build` all three
/// (seeds only when nothing narrows the selection). A test of a model that failed or was
/// skipped is skipped; a test already among the results (a configured failure) is not
/// repeated.
fn by_command(
    command: &str,
    project: &str,
    models: Vec<NodeResult>,
    seeds: &[String],
    tests: &[DataTest],
) -> Vec<NodeResult> {
    let sub = command.split_whitespace().nth(1).unwrap_or_default();
    let selects = command
        .split_whitespace()
        .any(|w| matches!(w, "--select" | "-s"));
    let seed_results = || {
        seeds.iter().enumerate().map(|(i, s)| NodeResult {
            unique_id: format!("seed.{project}.{s}"),
            name: s.clone(),
            resource_type: "seed".into(),
            status: "success",
            message: Some("INSERT 2".into()),
            failures: None,
            execution_time: 0.03 + 0.01 * i as f64,
        })
    };
    let test_results = |models: &[NodeResult]| -> Vec<NodeResult> {
        tests
            .iter()
            .filter_map(|t| {
                let model = models
                    .iter()
                    .find(|m| m.resource_type == "model" && m.name == t.model)?;
                let unique_id = format!("test.{project}.{}", t.name);
                if models.iter().any(|n| n.unique_id == unique_id) {
                    return None;
                }
                let ok = matches!(model.status, "success");
                Some(NodeResult {
                    unique_id,
                    name: t.name.clone(),
                    resource_type: "test".into(),
                    status: if ok { "pass" } else { "skipped" },
                    message: Some(if ok { "PASS" } else { "SKIP" }.into()),
                    failures: ok.then_some(0),
                    execution_time: 0.02,
                })
            })
            .collect()
    };
    // Configured failures and warnings of that kind stay (a failing test, say).
    let others_of = |kind: &str| {
        models
            .iter()
            .filter(|n| n.resource_type == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    match sub {
        "seed" => {
            let mut out: Vec<NodeResult> = seed_results().collect();
            out.extend(others_of("seed"));
            out
        }
        "test" => {
            let mut out = test_results(&models);
            out.extend(others_of("test"));
            out
        }
        "build" => {
            let tests = test_results(&models);
            let mut out: Vec<NodeResult> = if selects {
                Vec::new()
            } else {
                seed_results().collect()
            };
            out.extend(models);
            out.extend(tests);
            out
        }
        _ => models,
    }
}

/// A failing step without configured failures still names a node, as dbt would.
fn failures_or_default(
    failures: &[NodeFailure],
    models: &[String],
    files: &[ModelFile],
) -> Vec<NodeFailure> {
    if !failures.is_empty() {
        return failures.to_vec();
    }
    models
        .first()
        .map(|m| NodeFailure {
            node: m.clone(),
            message: format!(
                "Database Error in model {m} ({})\n  relation \"raw.{m}\" does not exist",
                original_file_path(files, m)
            ),
            status: FailureStatus::Error,
        })
        .into_iter()
        .collect()
}

/// The unique id a failure names: full ids are kept, bare names become models (or tests
/// for `fail`).
fn failure_unique_id(project: &str, f: &NodeFailure) -> String {
    if f.node.contains('.') {
        f.node.clone()
    } else if f.status == FailureStatus::Fail {
        format!("test.{project}.{}", f.node)
    } else {
        model_unique_id(project, &f.node)
    }
}

/// The nodes a `--select` of plain names (`stg_orders`, `stg_orders+`: the node and its
/// downstream) keeps; any other selection syntax (`state:modified+`, `tag:x`, paths, `+a`)
/// is not modelled and keeps every node.
fn select_nodes(command: &str, nodes: Vec<NodeResult>, graph: &lineage::Graph) -> Vec<NodeResult> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let Some(at) = words.iter().position(|w| *w == "--select" || *w == "-s") else {
        return nodes;
    };
    let terms: Vec<&str> = words[at + 1..]
        .iter()
        .take_while(|w| !w.starts_with('-'))
        .copied()
        .collect();
    let plain = |t: &str| {
        let base = t.strip_suffix('+').unwrap_or(t);
        !base.is_empty() && base.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    if terms.is_empty() || !terms.iter().all(|t| plain(t)) {
        return nodes;
    }
    let mut keep = std::collections::BTreeSet::new();
    for term in terms {
        let (base, downstream) = match term.strip_suffix('+') {
            Some(b) => (b, true),
            None => (term, false),
        };
        let matched: Vec<String> = nodes
            .iter()
            .filter(|n| n.name == base)
            .map(|n| n.unique_id.clone())
            .collect();
        if downstream {
            keep.extend(graph.downstream(&matched));
        }
        keep.extend(matched);
    }
    nodes
        .into_iter()
        .filter(|n| keep.contains(&n.unique_id))
        .collect()
}

/// Per-node results of a step that runs nodes: the failures, everything downstream of them
/// skipped (through the same graph the manifest shows), the warnings, the rest successful.
fn node_results(
    project: &str,
    models: &[String],
    files: &[ModelFile],
    failures: &[NodeFailure],
    warnings: &[NodeWarning],
) -> Vec<NodeResult> {
    let failed: Vec<String> = failures
        .iter()
        .map(|f| failure_unique_id(project, f))
        .collect();
    let warned: Vec<String> = warnings
        .iter()
        .map(|w| warning_unique_id(project, w))
        .collect();
    let extra: Vec<String> = failed.iter().chain(&warned).cloned().collect();
    let graph = lineage::graph(project, models, files, &extra);
    let downstream = graph.downstream(&failed);
    let mut out = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let uid = model_unique_id(project, m);
        let failure = failures
            .iter()
            .find(|f| failure_unique_id(project, f) == uid);
        let (status, message) = match failure {
            Some(f) => (failure_status(f.status), Some(f.message.clone())),
            None if downstream.contains(&uid) => ("skipped", Some("SKIP".to_string())),
            None => ("success", Some("CREATE VIEW".to_string())),
        };
        out.push(NodeResult {
            unique_id: uid,
            name: m.clone(),
            resource_type: "model".into(),
            status,
            message,
            failures: None,
            execution_time: 0.05 + 0.01 * i as f64,
        });
    }
    let others = failures
        .iter()
        .map(|f| {
            (
                failure_unique_id(project, f),
                failure_status(f.status),
                f.message.clone(),
                f.node.clone(),
            )
        })
        .chain(warnings.iter().map(|w| {
            (
                warning_unique_id(project, w),
                "warn",
                w.message.clone(),
                w.node.clone(),
            )
        }));
    for (uid, status, message, node) in others {
        if out.iter().any(|n| n.unique_id == uid) {
            continue;
        }
        let mut parts = uid.split('.');
        let resource_type = parts.next().unwrap_or("model").to_string();
        let name = parts.next_back().unwrap_or(&node).to_string();
        let (status, message) = if status == "warn" && downstream.contains(&uid) {
            ("skipped", "SKIP".to_string())
        } else {
            (status, message)
        };
        out.push(NodeResult {
            unique_id: uid,
            name,
            resource_type,
            status,
            message: Some(message),
            failures: matches!(status, "fail" | "warn").then_some(1),
            execution_time: 0.02,
        });
    }
    out
}

/// The unique id a warning names: full ids are kept, bare names are data tests.
fn warning_unique_id(project: &str, w: &NodeWarning) -> String {
    if w.node.contains('.') {
        w.node.clone()
    } else {
        format!("test.{project}.{}", w.node)
    }
}

fn step_logs(
    position: usize,
    t: &StepTemplate,
    req: &RunRequest<'_>,
    nodes: &[NodeResult],
    end: &StepEnd,
) -> String {
    let mut log = String::new();
    match (position, &t.command) {
        (0, _) => {
            let target = req
                .git_sha
                .as_deref()
                .or(req.git_branch.as_deref())
                .or(req.environment.custom_branch.as_deref())
                .unwrap_or("main");
            log.push_str("Cloning into '/tmp/jobs/target'...\n");
            if *end == StepEnd::Error {
                log.push_str(&format!(
                    "fatal: reference is not a tree: {target}\nFailed to check out {target}."
                ));
            } else {
                log.push_str(&format!(
                    "Checking out to {target}...\nSuccessfully checked out."
                ));
            }
        }
        (_, None) => {
            log.push_str(&format!(
                "Creating profile from connection {}",
                req.environment.connection
            ));
        }
        (_, Some(cmd)) => {
            log.push_str(&format!("Running with dbt={SIMULATED_DBT_VERSION}\n"));
            if nodes.is_empty() {
                log.push_str(&format!("Invoked `{cmd}`\n"));
            } else {
                log.push_str(&format!("Found {} models\n", req.job.models.len()));
                let total = nodes.len();
                for (i, n) in nodes.iter().enumerate() {
                    let tag = match n.status {
                        "success" | "pass" => "OK",
                        "skipped" => "SKIP",
                        "fail" => "FAIL",
                        _ => "ERROR",
                    };
                    log.push_str(&format!(
                        "{} of {total} {tag} {} {} [{:.2}s]\n",
                        i + 1,
                        n.resource_type,
                        n.unique_id,
                        n.execution_time
                    ));
                }
                let count = |s: &str| nodes.iter().filter(|n| n.status == s).count();
                for n in nodes
                    .iter()
                    .filter(|n| n.status == "error" || n.status == "fail")
                {
                    log.push_str(&format!("\n{}\n", n.message.as_deref().unwrap_or_default()));
                }
                log.push_str(&format!(
                    "\nDone. PASS={} WARN=0 ERROR={} SKIP={} TOTAL={total}\n",
                    count("success") + count("pass"),
                    count("error") + count("fail"),
                    count("skipped"),
                ));
            }
        }
    }
    if *end == StepEnd::Cancelled {
        log.push_str("\nCancelled.");
    }
    log
}
