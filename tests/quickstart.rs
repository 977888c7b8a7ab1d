//! The README's first command works on a fresh machine with no account and no network.

use assert_cmd::cargo::cargo_bin_cmd;

#[test]
fn quickstart_runs_the_loop_against_the_embedded_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(dir.path())
        .env("NO_COLOR", "1")
        .arg("quickstart");
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("SUCCESS run 1"), "{stdout}");
    for stage in ["1/3", "2/3", "3/3", "run 1: Running", "run 1: Success"] {
        assert!(stderr.contains(stage), "missing {stage:?}:\n{stderr}");
    }
    assert!(!stderr.contains("sandbox-token") && !stdout.contains("sandbox-token"));
}
