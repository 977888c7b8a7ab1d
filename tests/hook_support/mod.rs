//! The world a hook test needs: a clone of a bare remote on disk, real git with a hermetic
//! environment (no global config, fixed identity, stdin closed), and the datachonk that cargo
//! built.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use datachonk::sandbox::RunningSandbox;

use crate::support::{Run, TOKEN};

/// A clone of a bare remote, with one commit on main pushed.
pub struct World {
    _tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub home: PathBuf,
    /// Set for every process this world starts (e.g. PATH for the pre-commit tests).
    pub extra_env: Vec<(String, String)>,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let remote = tmp.path().join("remote.git");
        let work = tmp.path().join("work");
        let w = World {
            work: work.clone(),
            home,
            extra_env: Vec::new(),
            _tmp: tmp,
        };
        w.git_ok(
            w.work.parent().unwrap(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                remote.to_str().unwrap(),
            ],
        );
        w.git_ok(
            w.work.parent().unwrap(),
            &[
                "clone",
                "-q",
                remote.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        w.git_ok(&work, &["checkout", "-q", "-b", "main"]);
        std::fs::write(work.join("README.md"), "analytics\n").unwrap();
        // A dbt project: generate (and the hook's check) works only inside one.
        std::fs::write(
            work.join("dbt_project.yml"),
            "name: analytics\nversion: '1.0'\n",
        )
        .unwrap();
        w.commit_all("initial");
        w.git_ok(&work, &["push", "-q", "-u", "origin", "main"]);
        w
    }

    pub fn env(&self, cmd: &mut Command) {
        cmd.env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_EDITOR", "true")
            .env("NO_COLOR", "1")
            .env_remove("DATACHONK_SKIP_HOOK")
            .stdin(Stdio::null());
        for (name, _) in datachonk::config::ENV_VARS {
            cmd.env_remove(name);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
    }

    pub fn run(&self, mut cmd: Command, extra: &[(&str, &str)]) -> Run {
        self.env(&mut cmd);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Run::checked(cmd.output().expect("datachonk runs"), TOKEN)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir).args(args);
        self.run(cmd, extra)
    }

    pub fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let r = self.git_in(dir, args, &[]);
        assert_eq!(r.code, 0, "git {args:?}:\n{}\n{}", r.stdout, r.stderr);
        r.stdout.trim().to_string()
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_ok(&self.work, args)
    }

    /// git with the sandbox's connection in the environment (the hook inherits it).
    pub fn git_with(&self, sb: &RunningSandbox, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let url = sb.base_url();
        let mut env = vec![
            ("DBT_CLOUD_ACCESS_URL", url.as_str()),
            ("DBT_CLOUD_API_TOKEN", TOKEN),
            ("DBT_CLOUD_ACCOUNT_ID", "1"),
        ];
        env.extend_from_slice(extra);
        self.git_in(&self.work, args, &env)
    }

    pub fn datachonk(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        self.datachonk_in(&self.work, args, extra)
    }

    pub fn datachonk_in(&self, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_datachonk"));
        cmd.current_dir(dir).args(args);
        self.run(cmd, extra)
    }

    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A branch `feature` with one commit, pushed unless `push` is false; back on main, which
    /// gets its own commit so that the merge is a real one.
    pub fn feature_branch(&self, push: bool) -> String {
        self.git(&["checkout", "-q", "-b", "feature"]);
        std::fs::write(self.work.join("feature.sql"), "select 1 as id\n").unwrap();
        let sha = self.commit_all("feature work");
        if push {
            self.git(&["push", "-q", "-u", "origin", "feature"]);
        }
        self.git(&["checkout", "-q", "main"]);
        std::fs::write(self.work.join("main.txt"), "main moves on\n").unwrap();
        self.commit_all("main work");
        sha
    }

    pub fn hooks(&self) -> PathBuf {
        self.work.join(".git/hooks")
    }

    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            // datachonk's cache folder (run artifacts), which git ignores.
            .filter(|n| n != ".git" && n != ".datachonk")
            .collect();
        names.sort();
        names
    }
}

pub fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o111 != 0
}

pub fn status_json(w: &World) -> serde_json::Value {
    let r = w.datachonk(&["hook", "status", "--json"], &[]);
    ok(&r);
    serde_json::from_str(&r.stdout).expect(&r.stdout)
}

pub fn catalog_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generate/catalog.json")
}

/// Copy the fixture catalog.json into the repository, generate from it and commit everything.
pub fn generate_from_catalog(w: &World) {
    std::fs::copy(catalog_fixture(), w.work.join("catalog.json")).unwrap();
    ok(&w.datachonk(&["generate", "--from-catalog", "catalog.json"], &[]));
    w.commit_all("generated models");
}

/// Add a column to the `orders` source table of catalog.json.
pub fn add_column(w: &World) {
    let path = w.work.join("catalog.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let columns = v["sources"]["source.proj.shop.orders"]["columns"]
        .as_object_mut()
        .unwrap();
    columns.insert(
        "discount".into(),
        serde_json::json!({"type": "INTEGER", "index": 99, "name": "discount", "comment": null}),
    );
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}
