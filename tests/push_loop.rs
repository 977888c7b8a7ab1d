//! The whole loop with real parts: the quickstart's sample dbt project (DuckDB seeds) in a git
//! repository with a bare remote, `datachonk generate`, then `datachonk push --trigger-dbt-run
//! --wait` against the sandbox running real dbt-core (the `dbt` executor) on exactly the
//! pushed commit. A good change ends Success (exit 0); a model with a SQL error ends Error
//! (exit 1) naming the model. What landed is checked with the git CLI.
//!
//! One test function on purpose: dbt starts in seconds, so both cases share one sandbox.
//! dbt comes from `bash scripts/setup-test-deps`; without it this test FAILS, never skips.

mod real_dbt;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use datachonk::sandbox::{Executor, Fixture, RunStatus, Sandbox, SandboxOptions};
use support::{Run, TOKEN};

struct Loop {
    _dir: tempfile::TempDir,
    root: PathBuf,
    project: PathBuf,
    remote: PathBuf,
}

impl Loop {
    /// Hermetic: a temp HOME and global config, no system config, no inherited GIT_*.
    fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GIT_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", self.root.join("home"))
            .env("GIT_CONFIG_GLOBAL", self.root.join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self
            .env(&mut Command::new("git"))
            .current_dir(dir)
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    fn datachonk(&self, sandbox: &datachonk::sandbox::RunningSandbox, args: &[&str]) -> Run {
        let mut hermetic = Command::new(env!("CARGO_BIN_EXE_datachonk"));
        self.env(&mut hermetic);
        for (name, _) in datachonk::config::ENV_VARS {
            hermetic.env_remove(name);
        }
        let mut cmd = assert_cmd::Command::from_std(hermetic);
        cmd.env("DBT_CLOUD_ACCESS_URL", sandbox.base_url())
            .env("DBT_CLOUD_API_TOKEN", TOKEN)
            .env("DBT_CLOUD_ACCOUNT_ID", "1")
            .env("DBT_CLOUD_JOB_ID", "1")
            .current_dir(&self.project)
            .args(args)
            .timeout(Duration::from_secs(300));
        Run::checked(cmd.output().expect("datachonk runs"), TOKEN)
    }

    fn head(&self) -> String {
        self.git(&self.project, &["rev-parse", "HEAD"])
    }

    /// The remote's tip of the quickstart branch, and `git fsck` of the remote passes.
    fn remote_tip(&self) -> String {
        self.git(&self.remote, &["fsck", "--strict", "--no-dangling"]);
        self.git(
            &self.remote,
            &[
                "rev-parse",
                &format!("refs/heads/{}", datachonk::quickstart::BRANCH),
            ],
        )
    }
}

#[test]
fn push_trigger_wait_with_real_dbt_good_change_succeeds_sql_error_fails() {
    let dbt = real_dbt::dbt_path();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::create_dir(root.join("home")).unwrap();
    std::fs::write(
        root.join("gitconfig"),
        "[user]\n\tname = Dana Tester\n\temail = dana@example.com\n",
    )
    .unwrap();
    let ws = datachonk::quickstart::create(&root.join("ws")).expect("sample project");
    let world = Loop {
        _dir: dir,
        root,
        project: ws.project.clone(),
        remote: ws.remote.clone(),
    };

    let mut fixture = Fixture::builtin(TOKEN);
    for job in fixture.jobs.iter_mut().filter(|j| j.id == 1) {
        job.execute_steps.insert(0, "dbt seed".into());
    }
    let sandbox = Sandbox::start(
        SandboxOptions::default()
            .with_fixture(fixture)
            .with_repository(1, format!("file://{}", ws.remote.display()))
            .with_executor(Executor::Dbt { dbt }),
    )
    .expect("sandbox starts");

    // A good change: the generated staging models.
    let catalog = ws.root.join("catalog.json");
    let run = world.datachonk(
        &sandbox,
        &["generate", "--from-catalog", catalog.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = world.datachonk(&sandbox, &["push", "--trigger-dbt-run", "--wait"]);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("SUCCESS"), "{}", run.stdout);
    let good = world.head();
    assert_eq!(world.remote_tip(), good);
    assert!(world
        .git(
            &world.remote,
            &["show", "--name-only", "--format=%s", &good]
        )
        .contains("models/staging/shop/stg_shop__orders.sql"));
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, RunStatus::Success);
    assert_eq!(runs[0].trigger.git_sha.as_deref(), Some(good.as_str()));

    // A model with a SQL error, committed by the person; push pushes it and runs the job.
    let broken = world
        .project
        .join("models/staging/shop/stg_shop__broken.sql");
    std::fs::write(
        &broken,
        "select id, no_such_column from {{ ref('stg_shop__orders') }}\n",
    )
    .unwrap();
    world.git(
        &world.project,
        &["add", "models/staging/shop/stg_shop__broken.sql"],
    );
    world.git(&world.project, &["commit", "-q", "-m", "a broken model"]);
    let bad = world.head();
    let run = world.datachonk(&sandbox, &["push", "--trigger-dbt-run", "--wait"]);
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    // The verdict is on stdout, exactly as `dbt-run --wait` prints it; progress on stderr.
    assert!(run.stdout.starts_with("ERROR run"), "{}", run.stdout);
    assert!(
        run.stdout.contains("model.shop.stg_shop__broken [error]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("no_such_column"),
        "dbt's own error: {}",
        run.stdout
    );
    assert!(run.stderr.contains(": Error"), "{}", run.stderr);
    assert_eq!(world.remote_tip(), bad);
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].status, RunStatus::Error);
    assert_eq!(runs[1].trigger.git_sha.as_deref(), Some(bad.as_str()));
}
