//! The world a push test needs: a temp HOME and git config, a bare remote and a clone with a
//! generated project, and real git servers on 127.0.0.1 in front of that remote (`git
//! daemon`, smart HTTP through `git http-backend`, OpenSSH's sshd). Every git command (ours
//! and the git CLI that checks the result) runs hermetically: a temp HOME, `GIT_CONFIG_GLOBAL`
//! pointing at a temp file with the identity, no system config, and no `GIT_*` variable
//! inherited from the parent.

#![allow(dead_code)]

pub mod daemon;
pub mod http;
pub mod ssh;

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use datachonk::sandbox::RunningSandbox;

use crate::support::{Run, TOKEN};

pub const BRANCH: &str = "feature/shop";
pub const IDENTITY: &str = "[user]\n\tname = Dana Tester\n\temail = dana@example.com\n";

/// A developer's machine: HOME, git config, a bare remote and a clone with a generated project.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    /// A clone of a bare remote, `main` pushed, on a new branch `feature/shop` (no upstream),
    /// with `datachonk generate` run on the test catalog.
    pub fn new() -> World {
        let world = World::bare();
        world.git_ok(&world.work(), &["switch", "-q", "-c", BRANCH]);
        world.generate();
        world
    }

    /// Like `new`, without generating.
    pub fn bare() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let world = World { dir };
        std::fs::create_dir(world.home()).unwrap();
        std::fs::write(
            world.gitconfig(),
            format!("{IDENTITY}[init]\n\tdefaultBranch = main\n"),
        )
        .unwrap();
        let root = world.dir.path().to_path_buf();
        world.git_ok(&root, &["init", "-q", "--bare", "remote.git"]);
        world.git_ok(&root, &["init", "-q", "work"]);
        let url = world.remote_url();
        world.git_ok(&world.work(), &["remote", "add", "origin", &url]);
        std::fs::write(world.work().join("README.md"), "# analytics\n").unwrap();
        // A dbt project: generate works only inside one.
        std::fs::write(world.work().join("dbt_project.yml"), "name: analytics\n").unwrap();
        world.git_ok(&world.work(), &["add", "README.md", "dbt_project.yml"]);
        world.git_ok(&world.work(), &["commit", "-q", "-m", "initial"]);
        world.git_ok(&world.work(), &["push", "-q", "-u", "origin", "main"]);
        world
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    pub fn gitconfig(&self) -> PathBuf {
        self.dir.path().join("gitconfig")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    pub fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }
    pub fn remote_url(&self) -> String {
        format!("file://{}", self.remote().display())
    }

    /// The hermetic environment, applied to any command.
    pub fn env(&self, cmd: &mut impl EnvCmd) {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GIT_") || key == "SSH_AUTH_SOCK" {
                cmd.remove(&key);
            }
        }
        let home = self.home();
        cmd.set("HOME", home.as_os_str());
        cmd.set("XDG_CONFIG_HOME", home.join(".config").as_os_str());
        cmd.set("GIT_CONFIG_GLOBAL", self.gitconfig().as_os_str());
        cmd.set("GIT_CONFIG_NOSYSTEM", OsStr::new("1"));
        cmd.set("GIT_TERMINAL_PROMPT", OsStr::new("0"));
        cmd.set("NO_COLOR", OsStr::new("1"));
    }

    pub fn git(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        cmd.current_dir(dir).args(args).output().expect("git runs")
    }

    /// Run git; panic with its stderr when it fails; return stdout.
    pub fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    pub fn head(&self) -> String {
        self.git_ok(&self.work(), &["rev-parse", "HEAD"])
    }

    /// The remote's tip of `branch`, if it has one.
    pub fn remote_tip(&self, branch: &str) -> Option<String> {
        let out = self.git(
            &self.remote(),
            &[
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ],
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub fn generate(&self) {
        let catalog =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generate/catalog.json");
        let run = self.datachonk(&["generate", "--from-catalog", catalog.to_str().unwrap()]);
        assert_eq!(run.code, 0, "generate failed: {}", run.stderr);
    }

    /// datachonk in the work tree, hermetic, no dbt Cloud settings.
    pub fn datachonk(&self, args: &[&str]) -> Run {
        self.datachonk_in(&self.work(), args, None)
    }

    /// datachonk with the sandbox's URL, account and token (the token must never appear).
    pub fn datachonk_in(&self, dir: &Path, args: &[&str], sandbox: Option<&RunningSandbox>) -> Run {
        self.datachonk_env(dir, args, sandbox, &[])
    }

    /// Like `datachonk_in`, with extra environment (e.g. `SSH_AUTH_SOCK`).
    pub fn datachonk_env(
        &self,
        dir: &Path,
        args: &[&str],
        sandbox: Option<&RunningSandbox>,
        env: &[(&str, &OsStr)],
    ) -> Run {
        let mut cmd = cargo_bin_cmd!("datachonk");
        for (name, _) in datachonk::config::ENV_VARS {
            cmd.env_remove(name);
        }
        self.env(&mut cmd);
        if let Some(s) = sandbox {
            cmd.env("DBT_CLOUD_ACCESS_URL", s.base_url())
                .env("DBT_CLOUD_API_TOKEN", TOKEN)
                .env("DBT_CLOUD_ACCOUNT_ID", "1")
                .env("DBT_CLOUD_JOB_ID", "1");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.current_dir(dir)
            .args(args)
            .timeout(Duration::from_secs(120));
        Run::checked(cmd.output().expect("datachonk runs"), TOKEN)
    }

    /// Files in HEAD's commit (names only).
    pub fn committed_files(&self) -> Vec<String> {
        self.git_ok(&self.work(), &["show", "--name-only", "--format=", "HEAD"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Environment edits on either kind of command (std's and assert_cmd's).
pub trait EnvCmd {
    fn remove(&mut self, key: &OsStr);
    fn set(&mut self, key: &str, value: &OsStr);
}

impl EnvCmd for Command {
    fn remove(&mut self, key: &OsStr) {
        self.env_remove(key);
    }
    fn set(&mut self, key: &str, value: &OsStr) {
        self.env(key, value);
    }
}

impl EnvCmd for assert_cmd::Command {
    fn remove(&mut self, key: &OsStr) {
        self.env_remove(key);
    }
    fn set(&mut self, key: &str, value: &OsStr) {
        self.env(key, value);
    }
}

/// A port nobody listens on right now (the server binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Bounded poll until `port` accepts connections (what a server does when it is ready).
pub fn wait_for_port(port: u16, what: &str, mut still_running: impl FnMut() -> Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(exit) = still_running() {
            panic!("{what} exited before listening on {port}: {exit}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `git status --porcelain` of the work tree, untracked files listed.
pub fn status(world: &World) -> String {
    world.git_ok(
        &world.work(),
        &["status", "--porcelain", "--untracked-files=all"],
    )
}
