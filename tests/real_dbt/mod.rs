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
