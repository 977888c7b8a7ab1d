//! `datachonk hook` as a user meets it: real git (a bare remote on disk, `git merge`, `git
//! push`) running the installed hook scripts, the real binary, a real sandbox on 127.0.0.1.
//! stdin is closed for every process: hooks run where nobody can answer a prompt.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use datachonk::sandbox::RunningSandbox;
use support::{assert_no_token, sandbox, Run, TOKEN};

/// A clone of a bare remote, with one commit on main pushed.
struct World {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    home: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let remote = tmp.path().join("remote.git");
        let work = tmp.path().join("work");
        let w = World {
            work: work.clone(),
            home,
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
        w.commit_all("initial");
        w.git_ok(&work, &["push", "-q", "-u", "origin", "main"]);
        w
    }

    fn env(&self, cmd: &mut Command) {
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
    }

    fn run(&self, mut cmd: Command, extra: &[(&str, &str)]) -> Run {
        self.env(&mut cmd);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("runs");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_no_token(&run, TOKEN);
        run
    }

    fn git_in(&self, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir).args(args);
        self.run(cmd, extra)
    }

    fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let r = self.git_in(dir, args, &[]);
        assert_eq!(r.code, 0, "git {args:?}:\n{}\n{}", r.stdout, r.stderr);
        r.stdout.trim().to_string()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_ok(&self.work, args)
    }

    /// git with the sandbox's connection in the environment (the hook inherits it).
    fn git_with(&self, sb: &RunningSandbox, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let url = sb.base_url();
        let mut env = vec![
            ("DBT_CLOUD_ACCESS_URL", url.as_str()),
            ("DBT_CLOUD_API_TOKEN", TOKEN),
            ("DBT_CLOUD_ACCOUNT_ID", "1"),
        ];
        env.extend_from_slice(extra);
        self.git_in(&self.work, args, &env)
    }

    fn datachonk(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        self.datachonk_in(&self.work, args, extra)
    }

    fn datachonk_in(&self, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_datachonk"));
        cmd.current_dir(dir).args(args);
        self.run(cmd, extra)
    }

    fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A branch `feature` with one commit, pushed unless `push` is false; back on main, which
    /// gets its own commit so that the merge is a real one.
    fn feature_branch(&self, push: bool) -> String {
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

    fn hooks(&self) -> PathBuf {
        self.work.join(".git/hooks")
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".git")
            .collect();
        names.sort();
        names
    }
}

fn ok(r: &Run) {
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o111 != 0
}

fn status_json(w: &World) -> serde_json::Value {
    let r = w.datachonk(&["hook", "status", "--json"], &[]);
    ok(&r);
    serde_json::from_str(&r.stdout).expect(&r.stdout)
}

// --- install / uninstall / status ---------------------------------------------------------

#[test]
fn install_is_idempotent_status_says_ours_and_uninstall_removes_it() {
    let w = World::new();
    let r = w.datachonk(&["hook", "install"], &[]);
    ok(&r);
    let hook = w.hooks().join("pre-merge-commit");
    assert!(
        r.stdout.contains("Installed the pre-merge-commit hook"),
        "{}",
        r.stdout
    );
    assert!(is_executable(&hook));
    let script = std::fs::read_to_string(&hook).unwrap();
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    assert!(script.contains("# datachonk-hook:"), "{script}");
    assert!(script.contains(env!("CARGO_BIN_EXE_datachonk")), "{script}");
    assert!(script.contains("hook run pre-merge-commit"), "{script}");

    let again = w.datachonk(&["hook", "install"], &[]);
    ok(&again);
    assert!(
        again.stdout.contains("already installed"),
        "{}",
        again.stdout
    );
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), script);

    let s = status_json(&w);
    assert_eq!(s["hooks"][0]["kind"], "pre-merge-commit");
    assert_eq!(s["hooks"][0]["installed"], "ours");
    assert_eq!(s["hooks"][0]["chained"], serde_json::Value::Null);
    assert_eq!(s["hooks"][1]["kind"], "pre-push");
    assert_eq!(s["hooks"][1]["installed"], "none");

    let r = w.datachonk(&["hook", "uninstall"], &[]);
    ok(&r);
    assert!(!hook.exists());
    assert_eq!(status_json(&w)["hooks"][0]["installed"], "none");
}

#[test]
fn core_hooks_path_is_honoured_relative_to_the_worktree_root() {
    let w = World::new();
    w.git(&["config", "core.hooksPath", ".githooks"]);
    let sub = w.work.join("models");
    std::fs::create_dir(&sub).unwrap();
    let r = w.datachonk_in(&sub, &["hook", "install", "--kind", "pre-push"], &[]);
    ok(&r);
    let hook = w.work.join(".githooks/pre-push");
    assert!(hook.is_file(), "{}", r.stdout);
    assert!(!w.hooks().join("pre-push").exists());
    let s = status_json(&w);
    assert_eq!(s["hooks"][1]["installed"], "ours");
    assert!(
        s["hooks_dir"].as_str().unwrap().ends_with(".githooks"),
        "{s}"
    );
}

#[test]
fn a_foreign_hook_is_refused_then_chained_runs_first_and_comes_back_on_uninstall() {
    let w = World::new();
    let hook = w.hooks().join("pre-push");
    let foreign = "#!/bin/sh\necho \"foreign hook saw $1\" >&2\ncat >/dev/null\nexit 7\n";
    std::fs::write(&hook, foreign).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let refused = w.datachonk(&["hook", "install", "--kind", "pre-push"], &[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(hook.to_str().unwrap()),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--chain") && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), foreign);

    let chained = w.datachonk(&["hook", "install", "--kind", "pre-push", "--chain"], &[]);
    ok(&chained);
    let kept = w.hooks().join("pre-push.datachonk-chained");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), foreign);
    let s = status_json(&w);
    assert_eq!(s["hooks"][1]["installed"], "ours");
    assert!(s["hooks"][1]["chained"]
        .as_str()
        .unwrap()
        .ends_with("pre-push.datachonk-chained"));

    // git runs ours, ours runs the foreign one first (with git's arguments), whose failure stops the push.
    std::fs::write(w.work.join("x.txt"), "x\n").unwrap();
    w.commit_all("x");
    let push = w.git_in(&w.work, &["push", "origin", "main"], &[]);
    assert_ne!(push.code, 0, "{}", push.stderr);
    assert!(
        push.stderr.contains("foreign hook saw origin"),
        "{}",
        push.stderr
    );
    assert_ne!(
        w.git(&["rev-parse", "origin/main"]),
        w.git(&["rev-parse", "HEAD"])
    );

    let r = w.datachonk(&["hook", "uninstall", "--kind", "pre-push"], &[]);
    ok(&r);
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), foreign);
    assert!(!kept.exists());
}

#[test]
fn force_replaces_a_foreign_hook_and_keeps_a_backup() {
    let w = World::new();
    let hook = w.hooks().join("pre-merge-commit");
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let r = w.datachonk(&["hook", "install", "--force"], &[]);
    ok(&r);
    assert_eq!(
        std::fs::read_to_string(w.hooks().join("pre-merge-commit.datachonk-backup")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
    assert!(std::fs::read_to_string(&hook)
        .unwrap()
        .contains("# datachonk-hook:"));
    // Uninstall leaves a foreign hook alone.
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    let r = w.datachonk(&["hook", "uninstall"], &[]);
    ok(&r);
    assert!(r.stdout.contains("left alone"), "{}", r.stdout);
    assert!(hook.exists());
}

// --- pre-merge-commit ---------------------------------------------------------------------

fn merge_world(push: bool) -> (World, String) {
    let w = World::new();
    ok(&w.datachonk(&["hook", "install"], &[]));
    let sha = w.feature_branch(push);
    (w, sha)
}

#[test]
fn a_branch_whose_run_fails_is_not_merged_and_the_failing_node_is_named() {
    let sb = sandbox(&[]);
    let (w, sha) = merge_world(true);
    let head = w.git(&["rev-parse", "HEAD"]);
    let files = w.files();
    let merge = w.git_with(
        &sb,
        &["merge", "--no-ff", "feature"],
        &[("DBT_CLOUD_JOB_ID", "2")],
    );
    assert_ne!(merge.code, 0, "{}", merge.stderr);
    assert!(merge.stderr.contains("ERROR run 1"), "{}", merge.stderr);
    assert!(
        merge.stderr.contains("model.analytics.stg_orders"),
        "{}",
        merge.stderr
    );
    assert!(merge.stderr.contains("/runs/1/"), "{}", merge.stderr);
    assert!(
        merge.stderr.contains("git merge --abort"),
        "{}",
        merge.stderr
    );
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head, "no merge commit");
    let runs = sb.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger.git_sha.as_deref(), Some(sha.as_str()));
    assert_eq!(
        runs[0].trigger.cause,
        format!("datachonk pre-merge-commit: feature {}", &sha[..12])
    );
    // git leaves the refused merge in progress (its own behaviour); --abort restores the tree.
    w.git(&["merge", "--abort"]);
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(w.files(), files);
    assert_eq!(w.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_good_branch_is_merged_after_its_run_succeeds() {
    let sb = sandbox(&[]);
    let (w, sha) = merge_world(true);
    let merge = w.git_with(
        &sb,
        &["merge", "--no-ff", "feature", "-m", "Merge feature"],
        &[("DBT_CLOUD_JOB_ID", "1")],
    );
    ok(&merge);
    assert!(merge.stderr.contains("SUCCESS run 1"), "{}", merge.stderr);
    let parents = w.git(&["log", "-1", "--format=%P"]);
    assert!(parents.ends_with(&sha), "{parents}");
    assert_eq!(parents.split(' ').count(), 2);
    assert_eq!(sb.runs().len(), 1);
}

#[test]
fn an_already_validated_sha_passes_without_a_new_run() {
    let sb = sandbox(&[]);
    let (w, sha) = merge_world(true);
    let url = sb.base_url();
    let env = [
        ("DBT_CLOUD_ACCESS_URL", url.as_str()),
        ("DBT_CLOUD_API_TOKEN", TOKEN),
        ("DBT_CLOUD_ACCOUNT_ID", "1"),
    ];
    ok(&w.datachonk(
        &["dbt-run", "--job-id", "1", "--git-sha", &sha, "--wait"],
        &env,
    ));
    assert_eq!(sb.runs().len(), 1);
    let merge = w.git_with(
        &sb,
        &["merge", "--no-ff", "feature", "-m", "Merge feature"],
        &[("DBT_CLOUD_JOB_ID", "1")],
    );
    ok(&merge);
    assert!(
        merge.stderr.contains("already validated by run 1"),
        "{}",
        merge.stderr
    );
    assert!(merge.stderr.contains("/runs/1/"), "{}", merge.stderr);
    assert_eq!(sb.runs().len(), 1, "no new run");
    assert_eq!(w.git(&["log", "-1", "--format=%P"]).split(' ').count(), 2);
}

#[test]
fn a_sha_that_is_not_on_the_remote_is_refused_without_a_run() {
    let sb = sandbox(&[]);
    let (w, _sha) = merge_world(false);
    let head = w.git(&["rev-parse", "HEAD"]);
    let merge = w.git_with(
        &sb,
        &["merge", "--no-ff", "feature"],
        &[("DBT_CLOUD_JOB_ID", "1")],
    );
    assert_ne!(merge.code, 0);
    assert!(
        merge.stderr.contains("push feature first"),
        "{}",
        merge.stderr
    );
    assert!(
        merge.stderr.contains("git push -u origin feature"),
        "{}",
        merge.stderr
    );
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
    assert!(sb.runs().is_empty());
    // Run by hand while the refused merge is in progress, the hook reads MERGE_HEAD: exit 5.
    let url = sb.base_url();
    let direct = w.datachonk(
        &["hook", "run", "pre-merge-commit"],
        &[
            ("DBT_CLOUD_ACCESS_URL", &url),
            ("DBT_CLOUD_API_TOKEN", TOKEN),
            ("DBT_CLOUD_ACCOUNT_ID", "1"),
            ("DBT_CLOUD_JOB_ID", "1"),
        ],
    );
    assert_eq!(direct.code, 5, "{}", direct.stderr);
    assert!(
        direct.stderr.contains("push feature first"),
        "{}",
        direct.stderr
    );
}

#[test]
fn skip_variable_and_no_merge_in_progress_pass_with_a_notice() {
    let sb = sandbox(&[]);
    let (w, _sha) = merge_world(false);
    let merge = w.git_with(
        &sb,
        &["merge", "--no-ff", "feature", "-m", "Merge feature"],
        &[("DBT_CLOUD_JOB_ID", "1"), ("DATACHONK_SKIP_HOOK", "1")],
    );
    ok(&merge);
    assert!(
        merge.stderr.contains("skipped (DATACHONK_SKIP_HOOK=1)"),
        "{}",
        merge.stderr
    );
    assert_eq!(w.git(&["log", "-1", "--format=%P"]).split(' ').count(), 2);
    assert!(sb.runs().is_empty());
    let none = w.datachonk(&["hook", "run", "pre-merge-commit"], &[]);
    ok(&none);
    assert!(
        none.stderr.contains("nothing to validate"),
        "{}",
        none.stderr
    );
}

// --- pre-push -----------------------------------------------------------------------------

fn catalog_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generate/catalog.json")
}

/// A repository whose staging models were generated from a committed catalog.json, pushed,
/// with the pre-push hook installed.
fn generated_world() -> World {
    let w = World::new();
    std::fs::copy(catalog_fixture(), w.work.join("catalog.json")).unwrap();
    ok(&w.datachonk(&["generate", "--from-catalog", "catalog.json"], &[]));
    w.commit_all("generated models");
    ok(&w.datachonk(&["hook", "install", "--kind", "pre-push"], &[]));
    w
}

/// Add a column to the `orders` source table of catalog.json.
fn add_column(w: &World) {
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

#[test]
fn pre_push_lets_fresh_files_through_and_refuses_stale_ones() {
    let w = generated_world();
    let push = w.git_in(&w.work, &["push", "origin", "main"], &[]);
    ok(&push);
    assert!(
        push.stderr.contains("generated file(s) up to date"),
        "{}",
        push.stderr
    );
    assert_eq!(
        w.git(&["rev-parse", "origin/main"]),
        w.git(&["rev-parse", "HEAD"])
    );

    add_column(&w);
    w.commit_all("catalog: orders gained a column");
    let push = w.git_in(&w.work, &["push", "origin", "main"], &[]);
    assert_ne!(push.code, 0, "{}", push.stderr);
    assert!(
        push.stderr.contains("stg_shop__orders.sql (changed)"),
        "{}\n{}",
        push.stdout,
        push.stderr
    );
    assert!(
        push.stderr
            .contains("datachonk generate --from-catalog catalog.json"),
        "{}",
        push.stderr
    );
    assert_ne!(
        w.git(&["rev-parse", "origin/main"]),
        w.git(&["rev-parse", "HEAD"])
    );
    let direct = w.datachonk(&["hook", "run", "pre-push"], &[]);
    assert_eq!(direct.code, 1, "{}", direct.stderr);

    // Regenerating fixes it.
    ok(&w.datachonk(&["generate", "--from-catalog", "catalog.json"], &[]));
    w.commit_all("regenerated");
    ok(&w.git_in(&w.work, &["push", "origin", "main"], &[]));
}

#[test]
fn pre_push_refuses_an_invalid_configuration() {
    let w = generated_world();
    std::fs::write(
        w.work.join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    job_idd: 1\n",
    )
    .unwrap();
    w.commit_all("config typo");
    let push = w.git_in(&w.work, &["push", "origin", "main"], &[]);
    assert_ne!(push.code, 0);
    assert!(push.stderr.contains("job_idd"), "{}", push.stderr);
    assert!(push.stderr.contains("job_id"), "{}", push.stderr);
    let direct = w.datachonk(&["hook", "run", "pre-push"], &[]);
    assert_eq!(direct.code, 2, "{}", direct.stderr);
}

#[test]
fn pre_push_after_a_network_input_compares_checksums_without_reading_the_warehouse() {
    let w = generated_world();
    // As if the last generate read a database: only the kind is recorded.
    let state_path = w.work.join(".datachonk/state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    assert_eq!(state["last_run"]["input"]["kind"], "catalog");
    assert_eq!(state["last_run"]["input"]["path"], "catalog.json");
    state["last_run"] = serde_json::json!({"input": {"kind": "postgres"}, "selection": []});
    std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let fresh = w.datachonk(&["hook", "run", "pre-push"], &[]);
    ok(&fresh);
    assert!(
        fresh.stderr.contains("the warehouse was not re-read"),
        "{}",
        fresh.stderr
    );

    let model = w.work.join("models/staging/shop/stg_shop__orders.sql");
    let text = std::fs::read_to_string(&model).unwrap();
    std::fs::write(&model, text + "-- edited\n").unwrap();
    let stale = w.datachonk(&["hook", "run", "pre-push"], &[]);
    assert_eq!(stale.code, 1, "{}", stale.stderr);
    assert!(
        stale.stderr.contains("stg_shop__orders.sql (modified)"),
        "{}",
        stale.stderr
    );
    assert!(
        stale.stderr.contains("--from-postgres URL"),
        "{}",
        stale.stderr
    );
}
