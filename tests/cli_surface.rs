//! The command-line surface: help and version work without config, network or runtime.

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

#[test]
fn version_prints_the_crate_version() {
    cargo_bin_cmd!("datachonk")
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn dbt_run_help_teaches_the_flags() {
    cargo_bin_cmd!("datachonk")
        .args(["dbt-run", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--wait").and(predicate::str::contains("--cancel-on-timeout")),
        );
}

#[test]
fn completions_cover_every_command() {
    let out = cargo_bin_cmd!("datachonk")
        .args(["completions", "bash"])
        .assert()
        .success();
    let script = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for cmd in [
        "dbt-run",
        "generate",
        "push",
        "init",
        "sandbox",
        "quickstart",
        "cloud",
        "config",
        "hook",
    ] {
        assert!(script.contains(cmd), "completion script lacks {cmd}");
    }
    cargo_bin_cmd!("datachonk")
        .args(["completions", "tcsh"])
        .assert()
        .code(2);
}
