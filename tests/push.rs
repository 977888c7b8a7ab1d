//! `datachonk push` with real git: a temporary repository holding a generated project, a bare
//! remote reached over file:// and `git daemon`, and the in-process sandbox for the trigger.
//! Every git command (ours and the git CLI that checks the result) runs hermetically: a temp
//! HOME, `GIT_CONFIG_GLOBAL` pointing at a temp file with the identity, no system config, and
//! no `GIT_*` variable inherited from the parent.

mod support;

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use datachonk::sandbox::RunningSandbox;
use support::{assert_no_token, Run, TOKEN};

const BRANCH: &str = "feature/shop";
const IDENTITY: &str = "[user]\n\tname = Dana Tester\n\temail = dana@example.com\n";

/// A developer's machine: HOME, git config, a bare remote and a clone with a generated project.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    /// A clone of a bare remote, `main` pushed, on a new branch `feature/shop` (no upstream),
    /// with `datachonk generate` run on the test catalog.
    fn new() -> World {
        let world = World::bare();
        world.git_ok(&world.work(), &["switch", "-q", "-c", BRANCH]);
        world.generate();
        world
    }

    /// Like `new`, without generating.
    fn bare() -> World {
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
        world.git_ok(&world.work(), &["add", "README.md"]);
        world.git_ok(&world.work(), &["commit", "-q", "-m", "initial"]);
        world.git_ok(&world.work(), &["push", "-q", "-u", "origin", "main"]);
        world
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn gitconfig(&self) -> PathBuf {
        self.dir.path().join("gitconfig")
    }
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }
    fn remote_url(&self) -> String {
        format!("file://{}", self.remote().display())
    }

    /// The hermetic environment, applied to any command.
    fn env(&self, cmd: &mut impl EnvCmd) {
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

    fn git(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        cmd.current_dir(dir).args(args).output().expect("git runs")
    }

    /// Run git; panic with its stderr when it fails; return stdout.
    fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    fn head(&self) -> String {
        self.git_ok(&self.work(), &["rev-parse", "HEAD"])
    }

    /// The remote's tip of `branch`, if it has one.
    fn remote_tip(&self, branch: &str) -> Option<String> {
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

    fn generate(&self) {
        let catalog =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generate/catalog.json");
        let run = self.datachonk(&["generate", "--from-catalog", catalog.to_str().unwrap()]);
        assert_eq!(run.code, 0, "generate failed: {}", run.stderr);
    }

    /// datachonk in the work tree, hermetic, no dbt Cloud settings.
    fn datachonk(&self, args: &[&str]) -> Run {
        self.datachonk_in(&self.work(), args, None)
    }

    /// datachonk with the sandbox's URL, account and token (the token must never appear).
    fn datachonk_in(&self, dir: &Path, args: &[&str], sandbox: Option<&RunningSandbox>) -> Run {
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
        cmd.current_dir(dir)
            .args(args)
            .timeout(Duration::from_secs(120));
        let out = cmd.output().expect("datachonk runs");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_no_token(&run, TOKEN);
        run
    }

    /// Files in HEAD's commit (names only).
    fn committed_files(&self) -> Vec<String> {
        self.git_ok(&self.work(), &["show", "--name-only", "--format=", "HEAD"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Environment edits on either kind of command (std's and assert_cmd's).
trait EnvCmd {
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

fn status(world: &World) -> String {
    world.git_ok(
        &world.work(),
        &["status", "--porcelain", "--untracked-files=all"],
    )
}

#[test]
fn generated_files_are_committed_and_pushed_and_nothing_else() {
    let world = World::new();
    let work = world.work();
    // Unrelated work of the person: a modified file, a staged new file, an untracked file.
    std::fs::write(work.join("README.md"), "# analytics\nwork in progress\n").unwrap();
    std::fs::write(work.join("staged.txt"), "staged, not ours\n").unwrap();
    world.git_ok(&work, &["add", "staged.txt"]);
    std::fs::write(work.join("notes.txt"), "untracked\n").unwrap();
    let before = world.head();

    let run = world.datachonk(&["push"]);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("pushed"), "{}", run.stdout);

    let head = world.head();
    assert_ne!(head, before);
    let files = world.committed_files();
    assert!(
        files.contains(&"models/staging/shop/stg_shop__orders.sql".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&".datachonk/state.json".to_string()),
        "{files:?}"
    );
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("models/staging/") || f == ".datachonk/state.json"),
        "unrelated files committed: {files:?}"
    );
    // The person's work is exactly as it was: README modified, staged.txt staged, notes untracked.
    assert_eq!(
        status(&world),
        " M README.md\nA  staged.txt\n?? notes.txt",
        "git status after push"
    );
    // Identity from git config; message from the template.
    assert_eq!(
        world.git_ok(&work, &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%s"]),
        "Dana Tester <dana@example.com>|Dana Tester <dana@example.com>|datachonk: generate 4 staging models (stg_ref_data__countries, stg_shop__customers, stg_shop__order_items, …)"
    );
    // The remote has the commit, intact; the branch now tracks it.
    assert_eq!(world.remote_tip(BRANCH).as_deref(), Some(head.as_str()));
    world.git_ok(&world.remote(), &["fsck", "--strict", "--no-dangling"]);
    assert_eq!(
        world.git_ok(&work, &["rev-parse", "--abbrev-ref", "@{upstream}"]),
        format!("origin/{BRANCH}")
    );
}

#[test]
fn nothing_to_commit_and_nothing_to_push_exits_0() {
    let world = World::new();
    assert_eq!(world.datachonk(&["push"]).code, 0);
    let head = world.head();
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("nothing to commit and nothing to push"),
        "{}",
        run.stdout
    );
    assert_eq!(world.head(), head);
}

#[test]
fn a_file_edited_by_hand_is_left_out() {
    let world = World::new();
    let edited = world
        .work()
        .join("models/staging/shop/stg_shop__orders.sql");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("-- my own tweak\n");
    std::fs::write(&edited, text).unwrap();
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("left out models/staging/shop/stg_shop__orders.sql"),
        "{}",
        run.stderr
    );
    assert!(!world
        .committed_files()
        .iter()
        .any(|f| f.ends_with("stg_shop__orders.sql")));
    assert_eq!(
        status(&world),
        "?? models/staging/shop/stg_shop__orders.sql"
    );
}

#[test]
fn dry_run_changes_nothing_and_names_files_target_and_trigger() {
    let world = World::new();
    let sandbox = support::sandbox(&[]);
    let before = world.head();
    let run = world.datachonk_in(
        &world.work(),
        &["push", "--dry-run", "--trigger-dbt-run"],
        Some(&sandbox),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Would commit 9 files on feature/shop"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("new      models/staging/shop/stg_shop__orders.sql"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("Would push {BRANCH} to origin/{BRANCH}")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Would trigger job 1"), "{}", run.stdout);
    assert_eq!(world.head(), before);
    assert_eq!(world.remote_tip(BRANCH), None);
    assert!(sandbox.runs().is_empty());
}

#[test]
fn remote_ahead_is_rejected_the_commit_is_kept_and_nothing_is_triggered() {
    let world = World::new();
    // Someone else pushed to the same branch.
    let other = world.dir.path().join("other");
    world.git_ok(
        world.dir.path(),
        &["clone", "-q", &world.remote_url(), "other"],
    );
    world.git_ok(&other, &["switch", "-q", "-c", BRANCH]);
    std::fs::write(other.join("theirs.txt"), "theirs\n").unwrap();
    world.git_ok(&other, &["add", "theirs.txt"]);
    world.git_ok(&other, &["commit", "-q", "-m", "their change"]);
    world.git_ok(&other, &["push", "-q", "origin", BRANCH]);
    let theirs = world.remote_tip(BRANCH).unwrap();

    let sandbox = support::sandbox(&[]);
    let run = world.datachonk_in(
        &world.work(),
        &["push", "--trigger-dbt-run", "--wait"],
        Some(&sandbox),
    );
    assert_eq!(
        run.code, 5,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.contains("non-fast-forward"), "{}", run.stderr);
    assert!(run.stderr.contains("git pull --rebase"), "{}", run.stderr);
    assert!(
        run.stderr.contains("is kept on feature/shop"),
        "{}",
        run.stderr
    );
    // The commit stays local, the remote is untouched, nothing was triggered.
    assert_eq!(
        world.git_ok(&world.work(), &["log", "-1", "--format=%s"]),
        "datachonk: generate 4 staging models (stg_ref_data__countries, stg_shop__customers, stg_shop__order_items, …)"
    );
    assert_eq!(world.remote_tip(BRANCH).as_deref(), Some(theirs.as_str()));
    assert!(sandbox.runs().is_empty(), "runs: {:?}", sandbox.runs());
}

#[test]
fn protected_branch_is_refused_exit_5_unless_allowed() {
    let world = World::bare();
    world.generate();
    let before = world.head();
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("branch `main` is protected"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--allow-protected"), "{}", run.stderr);
    assert_eq!(
        world.head(),
        before,
        "nothing may be committed on a protected branch"
    );

    // The list comes from git.protected_branches.
    std::fs::write(
        world.work().join("datachonk.yaml"),
        "git:\n  protected_branches: [release]\n",
    )
    .unwrap();
    let run = world.datachonk(&["push", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::remove_file(world.work().join("datachonk.yaml")).unwrap();

    let run = world.datachonk(&["push", "--allow-protected"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        world.remote_tip("main").as_deref(),
        Some(world.head().as_str())
    );
}

#[test]
fn detached_head_is_refused() {
    let world = World::new();
    world.git_ok(&world.work(), &["checkout", "-q", "--detach"]);
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("HEAD is detached"), "{}", run.stderr);
    assert!(run.stderr.contains("git switch -c"), "{}", run.stderr);
}

#[test]
fn merge_in_progress_is_refused() {
    let world = World::new();
    let head = world.head();
    std::fs::write(world.work().join(".git/MERGE_HEAD"), format!("{head}\n")).unwrap();
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("a merge is in progress"),
        "{}",
        run.stderr
    );
    assert_eq!(world.head(), head);
}

#[test]
fn missing_identity_is_a_clear_error() {
    let world = World::new();
    std::fs::write(world.gitconfig(), "").unwrap();
    let before = world.head();
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("no git identity"), "{}", run.stderr);
    assert!(
        run.stderr.contains("user.name and user.email not set"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("git config --global user.email"),
        "{}",
        run.stderr
    );
    assert_eq!(world.head(), before);
}

#[test]
fn push_trigger_wait_runs_the_job_for_the_pushed_sha() {
    let world = World::new();
    let sandbox = support::sandbox(&[]);
    let run = world.datachonk_in(
        &world.work(),
        &["push", "--trigger-dbt-run", "--wait"],
        Some(&sandbox),
    );
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.contains("SUCCESS run"), "{}", run.stdout);
    let head = world.head();
    assert_eq!(world.remote_tip(BRANCH).as_deref(), Some(head.as_str()));
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].job_id, 1);
    assert_eq!(runs[0].trigger.git_sha.as_deref(), Some(head.as_str()));
    let cause = runs[0].trigger.cause.clone();
    assert!(
        cause.starts_with("datachonk: generate 4 staging models ("),
        "{cause}"
    );
    assert!(
        cause.contains(&head[..7]) && cause.contains(BRANCH),
        "{cause}"
    );

    // Nothing new: still triggers for HEAD, which is on the remote.
    let run = world.datachonk_in(
        &world.work(),
        &["push", "--trigger-dbt-run", "--cause", "recheck"],
        Some(&sandbox),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].trigger.git_sha.as_deref(), Some(head.as_str()));
    assert_eq!(runs[1].trigger.cause, "recheck");
}

/// `git daemon` on 127.0.0.1, killed when dropped.
struct Daemon {
    child: Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git_daemon(world: &World) -> Daemon {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new("git");
    world.env(&mut cmd);
    let child = cmd
        .args([
            "daemon",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            "--enable=receive-pack",
            "--export-all",
            &format!("--base-path={}", world.dir.path().display()),
        ])
        .arg(world.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git daemon starts (scripts/setup-test-deps installs it)");
    let daemon = Daemon { child, port };
    // Bounded poll until it accepts connections.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "git daemon did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon
}

#[test]
fn push_over_git_daemon() {
    let world = World::new();
    let daemon = git_daemon(&world);
    let url = format!("git://127.0.0.1:{}/remote.git", daemon.port);
    world.git_ok(&world.work(), &["remote", "add", "daemon", &url]);
    let run = world.datachonk(&["push", "--remote", "daemon"]);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let head = world.head();
    assert_eq!(world.remote_tip(BRANCH).as_deref(), Some(head.as_str()));
    world.git_ok(&world.remote(), &["fsck", "--strict", "--no-dangling"]);
    assert_eq!(
        world.git_ok(&world.work(), &["rev-parse", "--abbrev-ref", "@{upstream}"]),
        format!("daemon/{BRANCH}")
    );
}
