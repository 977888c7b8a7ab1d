//! The world an init test needs: a sandbox whose lists are long enough to need filtering
//! (13 jobs in one environment), a temp repository with a dbt project, and a runner that
//! never lets the token into output or files.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use datachonk::sandbox::{Fixture, RunningSandbox, Sandbox, SandboxOptions};

/// The token the sandbox accepts (obviously fake), and one it refuses.
pub const GOOD_TOKEN: &str = "init-good-token-7f3a9c";
pub const BAD_TOKEN: &str = "init-wrong-token-0000";

/// Account 7; projects 10 (analytics) and 11 (marketing); environments 20 Production and
/// 21 CI in project 10; in 21: eleven "Nightly slice NN" jobs (101..111), "Full build" (150,
/// not state-aware) and "PR validation" (160, state:modified + deferral to 20).
pub const FIXTURE: &str = r#"
accounts: [{id: 7, name: Init Analytics}]
projects:
  - {id: 10, account_id: 7, name: analytics}
  - {id: 11, account_id: 7, name: marketing}
environments:
  - {id: 20, project_id: 10, name: Production}
  - {id: 21, project_id: 10, name: CI}
  - {id: 22, project_id: 11, name: Marketing prod}
jobs:
  - {id: 101, project_id: 10, environment_id: 21, name: Nightly slice 01, execute_steps: ["dbt build --select tag:slice1"]}
  - {id: 102, project_id: 10, environment_id: 21, name: Nightly slice 02, execute_steps: ["dbt build --select tag:slice2"]}
  - {id: 103, project_id: 10, environment_id: 21, name: Nightly slice 03, execute_steps: ["dbt build --select tag:slice3"]}
  - {id: 104, project_id: 10, environment_id: 21, name: Nightly slice 04, execute_steps: ["dbt build --select tag:slice4"]}
  - {id: 105, project_id: 10, environment_id: 21, name: Nightly slice 05, execute_steps: ["dbt build --select tag:slice5"]}
  - {id: 106, project_id: 10, environment_id: 21, name: Nightly slice 06, execute_steps: ["dbt build --select tag:slice6"]}
  - {id: 107, project_id: 10, environment_id: 21, name: Nightly slice 07, execute_steps: ["dbt build --select tag:slice7"]}
  - {id: 108, project_id: 10, environment_id: 21, name: Nightly slice 08, execute_steps: ["dbt build --select tag:slice8"]}
  - {id: 109, project_id: 10, environment_id: 21, name: Nightly slice 09, execute_steps: ["dbt build --select tag:slice9"]}
  - {id: 110, project_id: 10, environment_id: 21, name: Nightly slice 10, execute_steps: ["dbt build --select tag:slice10"]}
  - {id: 111, project_id: 10, environment_id: 21, name: Nightly slice 11, execute_steps: ["dbt build --select tag:slice11"]}
  - {id: 150, project_id: 10, environment_id: 21, name: Full build, execute_steps: ["dbt build"]}
  - {id: 160, project_id: 10, environment_id: 21, name: PR validation, job_type: ci, execute_steps: ["dbt build --select state:modified+"], deferring_environment_id: 20}
  - {id: 170, project_id: 10, environment_id: 20, name: Production daily, execute_steps: ["dbt build"]}
  - {id: 180, project_id: 11, environment_id: 22, name: Marketing build, execute_steps: ["dbt build"]}
tokens:
  - {token: init-good-token-7f3a9c, permissions: account_admin}
"#;

pub fn sandbox() -> RunningSandbox {
    let fixture = Fixture::from_yaml_str(FIXTURE, "tests/init_support FIXTURE").expect("fixture");
    Sandbox::start(SandboxOptions::default().with_fixture(fixture)).expect("sandbox starts")
}

/// A temp git repository (a `.git` folder is enough for discovery) with a dbt project in
/// `transform/`.
pub fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    // A real repository: init installs the chosen git hook into it.
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .expect("git runs");
    assert!(git.success(), "git init");
    std::fs::create_dir(dir.path().join("transform")).expect("transform");
    std::fs::write(
        dir.path().join("transform/dbt_project.yml"),
        "name: shop\nversion: '1.0'\nprofile: shop\n",
    )
    .expect("dbt_project.yml");
    dir
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run datachonk in `dir` hermetically (no DBT_CLOUD_* from the caller, no colour; stdin is
/// a pipe assert_cmd closes at once, so never a terminal), with `token` in DBT_CLOUD_API_TOKEN when given; asserts the token appears neither
/// in the output nor in any file of `dir`.
pub fn datachonk(dir: &Path, token: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("SSL_CERT_FILE")
        .env_remove("DATACHONK_CA_CERT");
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    if let Some(t) = token {
        cmd.env("DBT_CLOUD_API_TOKEN", t);
    }
    cmd.args(args).timeout(Duration::from_secs(60));
    let out: Output = cmd.output().expect("datachonk runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for t in [Some(GOOD_TOKEN), Some(BAD_TOKEN), token]
        .into_iter()
        .flatten()
    {
        assert!(!run.stdout.contains(t), "token on stdout:\n{}", run.stdout);
        assert!(!run.stderr.contains(t), "token on stderr:\n{}", run.stderr);
    }
    assert_no_token_in_files(dir);
    run
}

/// No file under `dir` (outside `.git`) contains either test token.
pub fn assert_no_token_in_files(dir: &Path) {
    for entry in walk(dir) {
        let text = std::fs::read(&entry).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        for t in [GOOD_TOKEN, BAD_TOKEN] {
            assert!(!text.contains(t), "token written to {}", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}
