//! Where the tests find real dbt-core: `$DATACHONK_TEST_DBT`, else `bin/dbt` of the virtualenv
//! `bash scripts/setup-test-deps` makes (`$DATACHONK_TEST_VENV`, default
//! `~/.cache/datachonk/dbt-venv`). Missing dbt FAILS the test: it never passes silently.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn dbt_path() -> PathBuf {
    if let Some(p) = std::env::var_os("DATACHONK_TEST_DBT") {
        return PathBuf::from(p);
    }
    let venv = std::env::var_os("DATACHONK_TEST_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/datachonk/dbt-venv"))
        })
        .expect("HOME is not set");
    let dbt = venv.join("bin/dbt");
    assert!(
        dbt.is_file(),
        "dbt is not installed at {} (nor given by DATACHONK_TEST_DBT): run `bash scripts/setup-test-deps`",
        dbt.display()
    );
    dbt
}

/// Run `cmd` to success and return what it printed (stdout then stderr); fail the test with
/// that text otherwise.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

/// `dbt ARGS` in `project`, with the profile beside it, no telemetry and no colours.
pub fn dbt_command(dbt: &Path, project: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(dbt);
    cmd.args(args)
        .current_dir(project)
        .env("DBT_PROFILES_DIR", project)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DBT_USE_COLORS", "false")
        .env_remove("DBT_TARGET_PATH");
    cmd
}

/// [`dbt_command`] run to success; what it printed.
pub fn dbt(dbt: &Path, project: &Path, args: &[&str]) -> String {
    run_ok(
        &mut dbt_command(dbt, project, args),
        &format!("dbt {}", args.join(" ")),
    )
}

/// A dbt project on DuckDB in `p` (`dbt_project.yml` named `chonk`, staging as views, the profile
/// beside it, an empty `.git`), its warehouse made by running `warehouse_sql` through the duckdb
/// package dbt-duckdb installs, and `catalog.json` at its root: `dbt docs generate` over
/// `bootstrap_sources` (a sources YAML declaring the tables by name), which is removed again.
pub fn duckdb_project_with_catalog(
    dbt_bin: &Path,
    p: &Path,
    warehouse_sql: &str,
    bootstrap_sources: &str,
) {
    std::fs::create_dir(p.join(".git")).unwrap();
    std::fs::write(
        p.join("dbt_project.yml"),
        "name: chonk\nversion: '1.0.0'\nconfig-version: 2\nprofile: chonk\nmodel-paths: [models]\nmodels:\n  chonk:\n    staging:\n      +materialized: view\n",
    )
    .unwrap();
    std::fs::write(
        p.join("profiles.yml"),
        "chonk:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n      path: warehouse.duckdb\n      threads: 1\n",
    )
    .unwrap();
    let mut py = Command::new(dbt_bin.with_file_name("python"));
    py.current_dir(p).args([
        "-c",
        &format!("import duckdb; c = duckdb.connect('warehouse.duckdb'); c.execute({warehouse_sql:?}); c.close()"),
    ]);
    run_ok(&mut py, "create the DuckDB warehouse");
    std::fs::create_dir_all(p.join("models")).unwrap();
    std::fs::write(p.join("models/bootstrap.yml"), bootstrap_sources).unwrap();
    dbt(dbt_bin, p, &["docs", "generate"]);
    std::fs::remove_file(p.join("models/bootstrap.yml")).unwrap();
    std::fs::copy(p.join("target/catalog.json"), p.join("catalog.json")).unwrap();
}
