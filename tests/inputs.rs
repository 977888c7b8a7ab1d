//! Inputs that are not regular files: a `datachonk.yaml` linked to `/dev/zero`, an endless
//! `--config` pipe, a catalog that is a device. Each is refused (or cut one byte past its
//! limit) at once, instead of being read forever.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;

fn datachonk(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .timeout(Duration::from_secs(60));
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A dbt project at a repository's root (so the config search stops here).
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("dbt_project.yml"), "name: shop\n").unwrap();
    dir
}

#[test]
fn a_config_linked_to_a_device_is_refused_not_read_forever() {
    let dir = repo();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("datachonk.yaml")).unwrap();
    let (code, stderr) = datachonk(dir.path(), &["config", "check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("a device, not a regular file"), "{stderr}");
}

#[test]
fn an_endless_config_pipe_is_cut_at_one_mib() {
    let dir = repo();
    let fifo = dir.path().join("endless.yaml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut yes = Command::new("sh")
        .arg("-c")
        .arg(format!("yes 'a: b' > '{}' 2>/dev/null", fifo.display()))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (code, stderr) = datachonk(
        dir.path(),
        &["--config", fifo.to_str().unwrap(), "config", "check"],
    );
    let _ = yes.kill();
    let _ = yes.wait();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("over 1 MiB"), "{stderr}");
}

#[test]
fn a_catalog_that_is_a_device_is_refused() {
    let dir = repo();
    let (code, stderr) = datachonk(
        dir.path(),
        &["generate", "--from-catalog", "/dev/zero", "--dry-run"],
    );
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("a device, not a regular file"), "{stderr}");
}
