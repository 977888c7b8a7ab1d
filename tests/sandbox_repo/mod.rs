//! A world for the sandbox's live runs: a bare git repository on disk that a "developer"
//! pushes a tiny DuckDB dbt project to with the real git CLI, in a hermetic environment
//! (temporary HOME, a global config file holding only an identity, no system config).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use datachonk::sandbox::{RunStatus, RunSummary, RunningSandbox};

/// A bare remote plus a working clone to commit from.
pub struct Repo {
    pub _tmp: tempfile::TempDir,
    pub bare: PathBuf,
    pub work: PathBuf,
    home: PathBuf,
}

impl Repo {
    /// An empty bare repo (default branch `main`) and a clone of it.
    pub fn new() -> Repo {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join("gitconfig"),
            "[user]\n\tname = Sandbox Test\n\temail = sandbox@example.com\n[init]\n\tdefaultBranch = main\n",
        )
        .unwrap();
        let bare = tmp.path().join("remote.git");
        let work = tmp.path().join("work");
        let repo = Repo {
            bare,
            work,
            home,
            _tmp: tmp,
        };
        repo.git(
            repo._tmp.path(),
            &["init", "--bare", "--quiet", "remote.git"],
        );
        repo.git(repo._tmp.path(), &["init", "--quiet", "work"]);
        repo.git(&repo.work, &["remote", "add", "origin", &repo.url()]);
        repo
    }

    /// `file://` URL of the bare remote (what a job's `repository:` names).
    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", self.home.join("gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Write `files` (path, content; `None` deletes), commit on `branch` and push it; returns
    /// the new commit's sha.
    pub fn commit(&self, branch: &str, message: &str, files: &[(&str, Option<&str>)]) -> String {
        let has_head = Command::new("git")
            .args(["rev-parse", "--verify", "--quiet", "HEAD"])
            .current_dir(&self.work)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .is_ok_and(|o| o.status.success());
        if has_head {
            self.git(&self.work, &["checkout", "--quiet", "-B", branch]);
        } else {
            self.git(&self.work, &["checkout", "--quiet", "--orphan", branch]);
        }
        for (path, content) in files {
            let p = self.work.join(path);
            match content {
                Some(c) => {
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, c).unwrap();
                }
                None => {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        self.git(&self.work, &["add", "--all"]);
        self.git(&self.work, &["commit", "--quiet", "-m", message]);
        self.git(&self.work, &["push", "--quiet", "origin", branch]);
        self.git(&self.work, &["rev-parse", "HEAD"])
    }
}

/// The tiny project: a seed-free `select 1` model, a staging model on top of it, a
/// `not_null` test — everything DuckDB builds in a second.
pub const PROJECT: &[(&str, Option<&str>)] = &[
    (
        "dbt_project.yml",
        Some("name: shop\nversion: '1.0.0'\nconfig-version: 2\nprofile: shop\nmodel-paths: [models]\n"),
    ),
    ("models/base_orders.sql", Some("select 1 as id, 10 as amount\n")),
    (
        "models/staging/stg_orders.sql",
        Some("select id, amount from {{ ref('base_orders') }}\n"),
    ),
    (
        "models/staging/_models.yml",
        Some("version: 2\nmodels:\n  - name: stg_orders\n    columns:\n      - name: id\n        data_tests:\n          - not_null\n"),
    ),
];

/// Poll until run `id` is terminal (bounded: fails the test after `limit`).
pub fn wait_terminal(sandbox: &RunningSandbox, id: i64, limit: Duration) -> RunSummary {
    wait_until(sandbox, id, limit, |r| r.status.is_terminal())
}

/// Poll until `done(run)` holds (bounded), returning that state.
pub fn wait_until(
    sandbox: &RunningSandbox,
    id: i64,
    limit: Duration,
    done: impl Fn(&RunSummary) -> bool,
) -> RunSummary {
    let until = Instant::now() + limit;
    loop {
        let run = sandbox.run(id).expect("run exists");
        if done(&run) {
            return run;
        }
        assert!(
            Instant::now() < until,
            "run {id} still {:?} after {limit:?}: {run:?}",
            run.status
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn is(status: RunStatus) -> impl Fn(&RunSummary) -> bool {
    move |r| r.status == status
}
