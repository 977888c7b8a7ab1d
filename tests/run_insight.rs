//! After the verdict, with real dbt: a run of a small shop project where one model fails, read
//! back through `datachonk cloud runs show --nodes`, `cloud lineage` (Mermaid parsed back) and
//! `cloud artifacts`, against the sandbox's `dbt` executor over HTTP.
//!
//! dbt comes from `bash scripts/setup-test-deps`; without it this test FAILS.

mod real_dbt;
mod sandbox_repo;
mod sandbox_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use datachonk::sandbox::fixture::FreshnessStatus;
use datachonk::sandbox::{Executor, RunStatus, RunningSandbox, SandboxOptions};
use sandbox_repo::{wait_terminal, Repo, PROJECT};
use sandbox_support::{fixture, start_with, Api, TOKEN};
use serde_json::{json, Value};

const JOB: i64 = 10;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn datachonk(sandbox: &RunningSandbox, dir: &Path, args: &[&str]) -> Out {
    let mut cmd = cargo_bin_cmd!("datachonk");
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    let out = cmd
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DBT_CLOUD_ACCESS_URL", sandbox.base_url())
        .env("DBT_CLOUD_API_TOKEN", TOKEN)
        .env("DBT_CLOUD_ACCOUNT_ID", "1")
        .env("DBT_CLOUD_JOB_ID", JOB.to_string())
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("datachonk runs");
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !o.stdout.contains(TOKEN) && !o.stderr.contains(TOKEN),
        "the token leaked"
    );
    o
}

/// A Mermaid flowchart parsed back: node labels by id, and edges as label pairs.
fn parse_mermaid(text: &str) -> (BTreeMap<String, String>, BTreeSet<(String, String)>) {
    let mut labels = BTreeMap::new();
    let mut edges = Vec::new();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart LR"), "{text}");
    for line in lines.map(str::trim) {
        if let Some((from, to)) = line.split_once(" --> ") {
            edges.push((from.to_string(), to.to_string()));
        } else if let Some(open) = line.find('[') {
            let id = &line[..open];
            let label = line[open..]
                .trim_matches(|c| c == '[' || c == ']')
                .trim_matches('"');
            labels.insert(id.to_string(), label.to_string());
        } else {
            assert!(
                line.starts_with("classDef ") || line.starts_with("class "),
                "unexpected Mermaid line {line:?}"
            );
        }
    }
    let named = edges
        .into_iter()
        .map(|(a, b)| (labels[&a].clone(), labels[&b].clone()))
        .collect();
    (labels, named)
}

#[test]
fn a_failed_run_is_read_back_node_by_node_with_lineage_and_cached_artifacts() {
    let dbt = real_dbt::dbt_path();
    let repo = Repo::new();
    let mut files: Vec<(&str, Option<&str>)> = PROJECT.to_vec();
    files.extend([
        (
            "models/marts/orders_summary.sql",
            Some("select count(*) as n from {{ ref('stg_orders') }}\n"),
        ),
        (
            "models/marts/broken.sql",
            Some("select * from a_table_that_does_not_exist\n"),
        ),
        (
            "models/marts/after_broken.sql",
            Some("select * from {{ ref('broken') }}\n"),
        ),
        // Two seeds, seeded by `dbt seed` and again by `dbt build`: counted once each.
        ("seeds/countries.csv", Some("code,name\nde,Germany\n")),
        ("seeds/currencies.csv", Some("code\nEUR\n")),
    ]);
    let sha = repo.commit("main", "shop with a broken model", &files);

    let mut f = fixture();
    let mut job = f.job(1).unwrap().clone();
    job.id = JOB;
    job.name = "Build".into();
    job.execute_steps = vec!["dbt seed".into(), "dbt build".into()];
    f.jobs.push(job);
    let sandbox = start_with(
        SandboxOptions::default()
            .with_fixture(f)
            .with_repository(JOB, repo.url())
            .with_executor(Executor::Dbt { dbt }),
    );
    let api = Api::new(&sandbox.base_url());
    let r = api.post(
        &format!("/api/v2/accounts/1/jobs/{JOB}/run/"),
        json!({"cause": "insight", "git_sha": sha}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let run = r.data()["id"].as_i64().unwrap();
    let done = wait_terminal(&sandbox, run, Duration::from_secs(180));
    assert_eq!(done.status, RunStatus::Error);

    // A project folder (datachonk.yaml) so finished runs' artifacts are kept.
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud: {}\n",
    )
    .unwrap();
    let dir = project.path();
    let run_s = run.to_string();

    // Nodes, as a person reads them.
    let show = datachonk(&sandbox, dir, &["cloud", "runs", "show", &run_s, "--nodes"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout
            .contains("nodes     3 models ok · 2 seeds ok · 1 test pass · 1 error · 1 skipped"),
        "{}",
        show.stdout
    );
    // Aligned: every node row's name starts in the same column.
    let rows: Vec<&str> = show
        .stdout
        .lines()
        .filter(|l| l.starts_with("      ") && !l[6..].starts_with(' '))
        .collect();
    assert!(rows.len() >= 7, "{}", show.stdout);
    let name_column = |l: &str| {
        let name = l.split_whitespace().nth(2).unwrap_or_default();
        l.find(&format!(" {name} ")).map(|at| at + 1)
    };
    let first = name_column(rows[0]);
    assert!(first.is_some(), "{}", show.stdout);
    assert!(
        rows.iter().all(|r| name_column(r) == first),
        "names line up: {}",
        show.stdout
    );
    let broken_line = show
        .stdout
        .lines()
        .find(|l| l.contains(" broken"))
        .expect("the broken model is listed");
    assert!(
        broken_line.contains("error") && broken_line.contains("model"),
        "{broken_line}"
    );
    assert!(
        show.stdout.contains("a_table_that_does_not_exist"),
        "the error message is shown: {}",
        show.stdout
    );
    let kept = dir.join(format!(".datachonk/runs/{run}/step-4/run_results.json"));
    assert!(kept.is_file(), "artifacts of a finished run are kept");

    // The same in --json, read from the kept files: no artifact request reaches the API.
    sandbox.reset_log();
    let json_show = datachonk(&sandbox, dir, &["cloud", "runs", "show", &run_s, "--json"]);
    assert_eq!(json_show.code, 0, "{}", json_show.stderr);
    let v: Value = serde_json::from_str(&json_show.stdout).expect("one JSON document");
    assert_eq!(
        v["nodes"]["skipped_downstream"],
        json!(["model.shop.after_broken"])
    );
    let failed: Vec<&str> = v["nodes"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["nodes"].as_array().unwrap())
        .filter(|n| n["status"] == "error")
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["broken"]);
    let artifact_requests = sandbox
        .requests()
        .iter()
        .filter(|r| r.path.contains("/artifacts/"))
        .count();
    assert_eq!(artifact_requests, 0, "kept artifacts are not fetched again");
    // The verdict's document of the same run carries the same nodes, written straight from
    // the summary; both are the bytes a serde_json::Value would write (sorted keys, layout).
    let waited = datachonk(&sandbox, dir, &["cloud", "runs", "wait", &run_s, "--json"]);
    assert_eq!(waited.code, 1, "the run failed: {}", waited.stderr);
    let w: Value = serde_json::from_str(&waited.stdout).expect("one JSON document");
    let verdict = &w["runs"][0];
    assert_eq!(verdict["outcome"], "error");
    assert_eq!(verdict["nodes"], v["nodes"], "the same nodes as runs show");
    assert_eq!(
        verdict["skipped_downstream"],
        json!(["model.shop.after_broken"])
    );
    assert_eq!(verdict["attempts"][0]["nodes"], v["nodes"]);
    for (what, text) in [
        ("runs show", &json_show.stdout),
        ("runs wait", &waited.stdout),
    ] {
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            text.trim_end(),
            serde_json::to_string_pretty(&value).unwrap(),
            "{what} --json is written as a Value would be"
        );
    }

    // Lineage as a picture, parsed back.
    let mermaid = datachonk(
        &sandbox,
        dir,
        &[
            "cloud",
            "lineage",
            "stg_orders",
            "--run",
            &run_s,
            "--format",
            "mermaid",
        ],
    );
    assert_eq!(mermaid.code, 0, "{}", mermaid.stderr);
    let (labels, edges) = parse_mermaid(&mermaid.stdout);
    let focus = labels
        .values()
        .find(|l| l.contains("stg_orders"))
        .expect("the focus is drawn");
    assert_eq!(focus, "model stg_orders (success)");
    let edge_names: BTreeSet<(String, String)> =
        edges.iter().map(|(a, b)| (word(a), word(b))).collect();
    assert!(
        edge_names.contains(&("base_orders".into(), "stg_orders".into())),
        "{edge_names:?}"
    );
    assert!(
        edge_names.contains(&("stg_orders".into(), "orders_summary".into())),
        "{edge_names:?}"
    );
    assert!(
        edge_names.contains(&("stg_orders".into(), "not_null_stg_orders_id".into())),
        "{edge_names:?}"
    );
    assert!(
        !labels.values().any(|l| l.contains("broken")),
        "unrelated nodes stay out: {labels:?}"
    );
    // As Markdown: the same flowchart in a ```mermaid fence (what GitHub and GitLab render).
    let markdown = datachonk(
        &sandbox,
        dir,
        &[
            "cloud",
            "lineage",
            "stg_orders",
            "--run",
            &run_s,
            "--format",
            "markdown",
        ],
    );
    assert_eq!(markdown.code, 0, "{}", markdown.stderr);
    assert_eq!(
        markdown.stdout,
        format!("```mermaid\n{}```\n", mermaid.stdout),
        "fenced"
    );
    let dot = datachonk(
        &sandbox,
        dir,
        &[
            "cloud", "lineage", "broken", "--run", &run_s, "--format", "dot",
        ],
    );
    assert_eq!(dot.code, 0, "{}", dot.stderr);
    assert!(
        dot.stdout
            .contains("\"model.shop.broken\" -> \"model.shop.after_broken\";"),
        "{}",
        dot.stdout
    );
    let unknown = datachonk(
        &sandbox,
        dir,
        &["cloud", "lineage", "stg_order", "--run", &run_s],
    );
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("did you mean stg_orders"),
        "{}",
        unknown.stderr
    );

    // Artifacts: listed, fetched from the step that wrote them, never outside the run.
    let list = datachonk(&sandbox, dir, &["cloud", "artifacts", "list", &run_s]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stdout.lines().any(|l| l == "run_results.json"),
        "{}",
        list.stdout
    );
    sandbox.reset_log();
    let outside = datachonk(
        &sandbox,
        dir,
        &["cloud", "artifacts", "get", &run_s, "../../X.json"],
    );
    assert_eq!(outside.code, 2, "{}", outside.stderr);
    assert!(
        sandbox
            .requests()
            .iter()
            .all(|r| !r.path.contains("X.json")),
        "refused before any request"
    );
}

/// The model name in a label such as `model stg_orders (success)`.
fn word(label: &str) -> String {
    label
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn freshness_is_read_from_the_latest_run_that_checked_it() {
    const FRESHNESS_JOB: i64 = 41;
    let mut f = fixture();
    let mut job = f.job(1).unwrap().clone();
    job.id = FRESHNESS_JOB;
    job.name = "Nightly with freshness".into();
    job.run_generate_sources = true;
    job.run.freshness = [("raw.orders".to_string(), FreshnessStatus::Error)]
        .into_iter()
        .collect();
    f.jobs.push(job);
    let sandbox = start_with(SandboxOptions::default().with_fixture(f));
    let dir = tempfile::tempdir().unwrap();

    // No run has checked freshness yet: exit 6, naming the job that could.
    let none = datachonk(
        &sandbox,
        dir.path(),
        &["cloud", "freshness", "--job-id", "41"],
    );
    assert_eq!(none.code, 6, "{}", none.stderr);
    assert!(
        none.stderr.contains("41 (Nightly with freshness)"),
        "{}",
        none.stderr
    );

    let api = Api::new(&sandbox.base_url());
    let run = api.trigger(FRESHNESS_JOB, "nightly");
    api.wait_terminal(run);
    let out = datachonk(&sandbox, dir.path(), &["cloud", "freshness", "--job", "41"]);
    assert_eq!(out.code, 1, "a stale source is exit 1: {}", out.stderr);
    let stale: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("error "))
        .collect();
    assert_eq!(stale.len(), 1, "{}", out.stdout);
    assert!(
        stale[0].contains("raw.orders") && stale[0].contains("1d 6h old"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("warn after 12 hours, error after 24 hours"),
        "{}",
        out.stdout
    );

    let json_out = datachonk(
        &sandbox,
        dir.path(),
        &["cloud", "freshness", "--run", &run.to_string(), "--json"],
    );
    assert_eq!(json_out.code, 1);
    let v: Value = serde_json::from_str(&json_out.stdout).unwrap();
    assert_eq!(v["outcome"], "stale");
    let statuses: BTreeMap<String, String> = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(statuses["raw.orders"], "error");
    assert_eq!(statuses["raw.customers"], "pass");

    // sources.json without --step comes from the freshness step (the last step has none).
    let file = dir.path().join("sources.json");
    let got = datachonk(
        &sandbox,
        dir.path(),
        &[
            "cloud",
            "artifacts",
            "get",
            &run.to_string(),
            "sources.json",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["results"].as_array().unwrap().len(), statuses.len());
}

#[test]
fn freshness_of_real_duckdb_sources_names_the_stale_table() {
    const JOB_FRESH: i64 = 12;
    let dbt = real_dbt::dbt_path();
    let repo = Repo::new();
    let files: Vec<(&str, Option<&str>)> = vec![
        (
            "dbt_project.yml",
            Some("name: shop\nversion: '1.0.0'\nconfig-version: 2\nprofile: shop\nmodel-paths: [models]\n"),
        ),
        (
            "models/loads/fresh_events.sql",
            Some("{{ config(materialized='table') }}\nselect 1 as id, current_timestamp::timestamp as loaded_at\n"),
        ),
        (
            "models/loads/stale_events.sql",
            Some("{{ config(materialized='table') }}\nselect 1 as id, timestamp '2020-01-01 00:00:00' as loaded_at\n"),
        ),
        (
            "models/sources.yml",
            Some(
                "version: 2\nsources:\n  - name: raw\n    schema: main\n    loaded_at_field: loaded_at\n    freshness:\n      warn_after: {count: 12, period: hour}\n      error_after: {count: 24, period: hour}\n    tables:\n      - name: fresh_events\n      - name: stale_events\n",
            ),
        ),
    ];
    let sha = repo.commit("main", "loads with freshness", &files);
    let mut f = fixture();
    let mut job = f.job(1).unwrap().clone();
    job.id = JOB_FRESH;
    job.name = "Loads".into();
    job.execute_steps = vec!["dbt build".into()];
    job.run_generate_sources = true;
    f.jobs.push(job);
    let sandbox = start_with(
        SandboxOptions::default()
            .with_fixture(f)
            .with_repository(JOB_FRESH, repo.url())
            .with_executor(Executor::Dbt { dbt }),
    );
    let api = Api::new(&sandbox.base_url());
    // The first run builds the tables (its freshness step ran before they existed); the
    // second checks them.
    for cause in ["build the loads", "check freshness"] {
        let r = api.post(
            &format!("/api/v2/accounts/1/jobs/{JOB_FRESH}/run/"),
            json!({"cause": cause, "git_sha": sha}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        let run = r.data()["id"].as_i64().unwrap();
        let done = wait_terminal(&sandbox, run, Duration::from_secs(180));
        assert_eq!(done.status, RunStatus::Success, "{cause}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = datachonk(
        &sandbox,
        dir.path(),
        &["cloud", "freshness", "--job-id", &JOB_FRESH.to_string()],
    );
    assert_eq!(
        out.code, 1,
        "stale is exit 1:\n{}\n{}",
        out.stdout, out.stderr
    );
    let verdict = |table: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(table))
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert_eq!(verdict("raw.stale_events"), "error", "{}", out.stdout);
    assert_eq!(verdict("raw.fresh_events"), "pass", "{}", out.stdout);
    assert!(
        out.stdout.contains("from run 2"),
        "the newest run that checked: {}",
        out.stdout
    );
}
