//! The README's first command works on a fresh machine with no account and no network: the
//! whole loop (generate → push → trigger → wait) over a sample project, a bare remote and
//! the embedded sandbox — simulated without dbt on PATH, with real dbt when it is.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;

fn quickstart(keep: &Path, path: Option<String>) -> (i32, String, String) {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.env("NO_COLOR", "1")
        .args(["quickstart", "--keep", keep.to_str().unwrap()]);
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    // No global git identity: the quickstart must not need one.
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stdout.contains("sandbox-token") && !stderr.contains("sandbox-token"));
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn remote_log(remote: &Path) -> String {
    let out = Command::new("git")
        .args(["log", "--all", "--format=%s"])
        .env("GIT_DIR", remote)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The sample project's nodes, counted once each although `dbt seed` and `dbt build` both
/// seed: what real dbt reports and what the simulation must report too.
const SAMPLE_NODES: &str = "nodes: 2 models ok · 2 seeds ok · 4 tests pass";

#[test]
fn quickstart_runs_the_whole_loop_with_a_simulated_run() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("ws");
    // PATH without dbt: the sandbox simulates the run.
    let path = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !Path::new(d).join("dbt").exists())
        .collect::<Vec<_>>()
        .join(":");
    let (code, stdout, stderr) = quickstart(&keep, Some(path));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("runs are simulated"), "{stderr}");
    for stage in ["1/4", "2/4", "3/4", "4/4", "pushed ", "run 1: Success"] {
        assert!(stderr.contains(stage), "missing {stage:?}:\n{stderr}");
    }
    assert!(stdout.contains("SUCCESS run 1"), "{stdout}");
    // The simulation counts what the sample project has, as real dbt does (the test below).
    assert!(stdout.contains(SAMPLE_NODES), "{stdout}");
    // Stage 3's file list is indented like the other stages' details.
    let stage3: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.contains("3/4"))
        .skip(1)
        .take_while(|l| !l.contains("table(s) in"))
        .collect();
    assert_eq!(stage3.len(), 4, "{stderr}");
    assert!(stage3.iter().all(|l| l.starts_with("  new ")), "{stage3:?}");
    // The sample's warehouse is DuckDB, and the steps say so.
    assert!(
        stderr.contains("Create Profile from Connection DuckDB"),
        "{stderr}"
    );
    assert!(stderr.contains("The workspace is kept in"), "{stderr}");
    // The suggested next steps start with putting datachonk on PATH when it is not there.
    assert!(
        stderr.contains("cargo install --locked --path ."),
        "{stderr}"
    );
    assert!(keep
        .join("shop/models/staging/shop/stg_shop__orders.sql")
        .exists());
    let log = remote_log(&keep.join("remote.git"));
    assert!(
        log.contains("datachonk: generate 2 staging models") && log.contains("Sample dbt project"),
        "{log}"
    );
}

#[test]
fn quickstart_runs_real_dbt_when_dbt_is_on_path() {
    let dbt = real_dbt::dbt_path();
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("ws");
    let path = format!(
        "{}:{}",
        dbt.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (code, stdout, stderr) = quickstart(&keep, Some(path));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("runs execute real dbt"), "{stderr}");
    assert!(stdout.contains(SAMPLE_NODES), "{stdout}");
    // The run's dbt build step built and tested the generated models.
    let results =
        std::fs::read_to_string(keep.join("sandbox/runs/1/steps/5/run_results.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&results).unwrap();
    let built: Vec<(&str, &str)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        built.contains(&("model.shop.stg_shop__orders", "success")),
        "{built:?}"
    );
    assert!(
        built.iter().any(
            |(id, s)| id.starts_with("test.shop.not_null_stg_shop__orders_order_id")
                && *s == "pass"
        ),
        "{built:?}"
    );
}
