//! The pre-commit framework (the real `pre-commit` from PyPI, installed by
//! scripts/setup-test-deps into `~/.cache/datachonk/pre-commit-venv` or
//! `$DATACHONK_TEST_PRECOMMIT_VENV`) running datachonk through this repository's
//! .pre-commit-hooks.yaml: a throwaway hooks repository holding that file at a commit, a
//! project whose .pre-commit-config.yaml pins it by sha, and real `git push` / `git merge`.
//! The datachonk on PATH is the one cargo built.

mod hook_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use hook_support::*;
use support::{sandbox, Run};

fn precommit_venv() -> PathBuf {
    std::env::var_os("DATACHONK_TEST_PRECOMMIT_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/datachonk/pre-commit-venv"))
        })
        .expect("HOME is not set (and DATACHONK_TEST_PRECOMMIT_VENV neither)")
}

fn precommit_bin() -> PathBuf {
    let bin = precommit_venv().join("bin/pre-commit");
    assert!(
        bin.is_file(),
        "`pre-commit` is not installed at {} (nor under $DATACHONK_TEST_PRECOMMIT_VENV): run scripts/setup-test-deps",
        bin.display()
    );
    bin
}

/// PATH with the cargo-built datachonk first (pre-commit's `language: system` finds it there).
fn path_env() -> String {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_datachonk")).parent().unwrap();
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", bin_dir.display())
}

struct Framework {
    w: World,
}

impl Framework {
    /// A project using datachonk's hooks through pre-commit, installed for both stages.
    fn new() -> Framework {
        let mut w = World::new();
        let cache = w.home.join("pre-commit-cache");
        w.extra_env = vec![
            ("PATH".into(), path_env()),
            ("PRE_COMMIT_HOME".into(), cache.display().to_string()),
        ];
        // The hooks repository: this repository's .pre-commit-hooks.yaml at a commit.
        let hooks_repo = w.home.join("datachonk-hooks");
        std::fs::create_dir(&hooks_repo).unwrap();
        w.git_ok(&hooks_repo, &["init", "-q", "-b", "main"]);
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
            hooks_repo.join(".pre-commit-hooks.yaml"),
        )
        .unwrap();
        w.git_ok(&hooks_repo, &["add", "-A"]);
        w.git_ok(&hooks_repo, &["commit", "-q", "-m", "hooks"]);
        let rev = w.git_ok(&hooks_repo, &["rev-parse", "HEAD"]);
        std::fs::write(
            w.work.join(".pre-commit-config.yaml"),
            format!(
                "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: datachonk-pre-push\n      - id: datachonk-pre-merge-commit\n",
                hooks_repo.display()
            ),
        )
        .unwrap();
        w.commit_all("use datachonk's hooks");
        let f = Framework { w };
        let r = f.precommit(&[
            "install",
            "--hook-type",
            "pre-push",
            "--hook-type",
            "pre-merge-commit",
        ]);
        ok(&r);
        f
    }

    fn precommit(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(precommit_bin());
        cmd.current_dir(&self.w.work).args(args);
        self.w.run(cmd, &[])
    }

    fn git(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        self.w.git_in(&self.w.work, args, extra)
    }
}

#[test]
fn pre_commit_runs_the_pre_push_hook_stale_refused_fresh_accepted() {
    let f = Framework::new();
    let w = &f.w;
    generate_from_catalog(w);
    let push = f.git(&["push", "origin", "main"], &[]);
    ok(&push);
    let out = format!("{}{}", push.stdout, push.stderr);
    assert!(
        out.contains("datachonk (configuration valid, generated files up to date)"),
        "{out}"
    );
    assert!(out.contains("Passed"), "{out}");
    assert_eq!(
        w.git(&["rev-parse", "origin/main"]),
        w.git(&["rev-parse", "HEAD"])
    );

    add_column(w);
    w.commit_all("catalog: orders gained a column");
    let push = f.git(&["push", "origin", "main"], &[]);
    let out = format!("{}{}", push.stdout, push.stderr);
    assert_ne!(push.code, 0, "{out}");
    assert!(out.contains("Failed"), "{out}");
    assert!(out.contains("stg_shop__orders.sql (changed)"), "{out}");
    assert_ne!(
        w.git(&["rev-parse", "origin/main"]),
        w.git(&["rev-parse", "HEAD"])
    );

    ok(&w.datachonk(&["generate", "--from-catalog", "catalog.json"], &[]));
    w.commit_all("regenerated");
    ok(&f.git(&["push", "origin", "main"], &[]));
    assert_eq!(
        w.git(&["rev-parse", "origin/main"]),
        w.git(&["rev-parse", "HEAD"])
    );
}

#[test]
fn pre_commit_runs_the_pre_merge_commit_hook_against_the_sandbox() {
    let sb = sandbox(&[]);
    let f = Framework::new();
    let w = &f.w;
    ok(&f.git(&["push", "-q", "origin", "main"], &[]));
    let sha = w.feature_branch(true);
    let url = sb.base_url();
    let env = [
        ("DBT_CLOUD_ACCESS_URL", url.as_str()),
        ("DBT_CLOUD_API_TOKEN", support::TOKEN),
        ("DBT_CLOUD_ACCOUNT_ID", "1"),
    ];
    // A failing job refuses the merge.
    let mut bad = env.to_vec();
    bad.push(("DBT_CLOUD_JOB_ID", "2"));
    let head = w.git(&["rev-parse", "HEAD"]);
    let merge = f.git(
        &["merge", "--no-ff", "feature", "-m", "Merge feature"],
        &bad,
    );
    let out = format!("{}{}", merge.stdout, merge.stderr);
    assert_ne!(merge.code, 0, "{out}");
    assert!(out.contains("model.analytics.stg_orders"), "{out}");
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
    w.git(&["merge", "--abort"]);
    // A succeeding one lets it through.
    let mut good = env.to_vec();
    good.push(("DBT_CLOUD_JOB_ID", "1"));
    let merge = f.git(
        &["merge", "--no-ff", "feature", "-m", "Merge feature"],
        &good,
    );
    ok(&merge);
    assert!(w.git(&["log", "-1", "--format=%P"]).ends_with(&sha));
    let runs = sb.runs();
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .all(|r| r.trigger.git_sha.as_deref() == Some(sha.as_str())));
}
