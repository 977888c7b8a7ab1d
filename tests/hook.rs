//! `datachonk hook` as a user meets it: real git (a bare remote on disk, `git merge`, `git
//! push`) running the installed hook scripts, the real binary, a real sandbox on 127.0.0.1.
//! stdin is closed for every process: hooks run where nobody can answer a prompt.

mod hook_support;
mod support;

use hook_support::*;
use support::{sandbox, TOKEN};

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
        support::without_marker(&runs[0].trigger.cause),
        format!("datachonk pre-merge-commit: feature {}", &sha[..12])
    );
    // Run by hand in CI with --junit, the verdict is also a JUnit report naming the node.
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("merge.xml");
    let url = sb.base_url();
    let direct = w.datachonk(
        &[
            "hook",
            "run",
            "pre-merge-commit",
            "--junit",
            report.to_str().unwrap(),
        ],
        &[
            ("DBT_CLOUD_ACCESS_URL", &url),
            ("DBT_CLOUD_API_TOKEN", TOKEN),
            ("DBT_CLOUD_ACCOUNT_ID", "1"),
            ("DBT_CLOUD_JOB_ID", "2"),
        ],
    );
    assert_eq!(direct.code, 1, "{}", direct.stderr);
    let xml = std::fs::read_to_string(&report).expect("a JUnit report");
    assert!(xml.contains("<testsuites"), "{xml}");
    assert!(
        xml.contains("stg_orders") && xml.contains("<failure"),
        "{xml}"
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
fn the_hook_retries_a_failed_run_as_configured_and_merges_when_the_retry_passes() {
    // Job 2 fails; its retry (dbt Cloud's own) succeeds.
    let sb = sandbox(&[]);
    let (w, sha) = merge_world(true);
    std::fs::write(
        w.work.join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    retries: 1\n",
    )
    .unwrap();
    let merge = w.git_with(
        &sb,
        &["merge", "--no-ff", "feature", "-m", "Merge feature"],
        &[("DBT_CLOUD_JOB_ID", "2")],
    );
    ok(&merge);
    assert!(merge.stderr.contains("ERROR run 1"), "{}", merge.stderr);
    assert!(
        merge
            .stderr
            .contains("retry 1/1: run 1 → run 2 from step 4"),
        "{}",
        merge.stderr
    );
    assert!(merge.stderr.contains("SUCCESS run 2"), "{}", merge.stderr);
    assert!(merge.stderr.contains("  nodes: "), "{}", merge.stderr);
    let parents = w.git(&["log", "-1", "--format=%P"]);
    assert!(parents.ends_with(&sha), "{parents}");
    assert_eq!(sb.runs().len(), 2);
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

/// A repository whose staging models were generated from a committed catalog.json, pushed,
/// with the pre-push hook installed.
fn generated_world() -> World {
    let w = World::new();
    generate_from_catalog(&w);
    ok(&w.datachonk(&["hook", "install", "--kind", "pre-push"], &[]));
    w
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
fn pre_push_judges_every_table_earlier_runs_chose_not_only_the_last_runs() {
    let w = World::new();
    std::fs::copy(catalog_fixture(), w.work.join("catalog.json")).unwrap();
    // Two runs, each choosing some tables; the catalog has more that nobody chose.
    for table in ["shop.orders", "ref_data"] {
        ok(&w.datachonk(&["generate", table, "--from-catalog", "catalog.json"], &[]));
    }
    w.commit_all("staging models, chosen table by table");
    let fresh = w.datachonk(&["hook", "run", "pre-push"], &[]);
    assert_eq!(
        fresh.code, 0,
        "tables nobody chose are not missing:
{}",
        fresh.stderr
    );

    // A change to a table the first run chose is seen, though the last run chose another.
    add_column(&w);
    w.commit_all("catalog: orders gained a column");
    let stale = w.datachonk(&["hook", "run", "pre-push"], &[]);
    assert_eq!(stale.code, 1, "{}", stale.stderr);
    assert!(
        stale.stderr.contains("stg_shop__orders.sql (changed)"),
        "{}",
        stale.stderr
    );
    let check = w.datachonk(
        &["generate", "--from-catalog", "catalog.json", "--check"],
        &[],
    );
    assert_eq!(check.code, 1, "{}", check.stderr);
}

#[test]
fn pre_push_without_the_recorded_input_says_what_it_could_not_check_and_fails() {
    let w = generated_world();
    // As in a fresh clone where the input is not committed (target/catalog.json, say).
    std::fs::remove_file(w.work.join("catalog.json")).unwrap();
    let direct = w.datachonk(&["hook", "run", "pre-push"], &[]);
    assert_eq!(direct.code, 1, "{}", direct.stderr);
    assert!(
        direct
            .stderr
            .contains("cannot check 8 generated file(s) against their metadata"),
        "{}",
        direct.stderr
    );
    assert!(
        direct.stderr.contains("catalog.json, is missing"),
        "{}",
        direct.stderr
    );
    let json = w.datachonk(&["--json", "hook", "run", "pre-push"], &[]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["outcome"], "unchecked", "{v}");
    assert_eq!(v["report"]["input"], "catalog.json", "{v}");
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
    let state_path = w.work.join("datachonk.state.json");
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

#[test]
fn the_wait_honours_the_configured_timeout() {
    let sb = sandbox(&[]);
    let (w, _sha) = merge_world(true);
    std::fs::write(
        w.work.join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    timeout: 1\n",
    )
    .unwrap();
    let head = w.git(&["rev-parse", "HEAD"]);
    // Job 3 runs for 20 s a step.
    let merge = w.git_with(
        &sb,
        &["merge", "--no-ff", "feature"],
        &[("DBT_CLOUD_JOB_ID", "3")],
    );
    assert_ne!(merge.code, 0, "{}", merge.stderr);
    assert!(merge.stderr.contains("TIMEOUT run 1"), "{}", merge.stderr);
    assert!(merge.stderr.contains("left running"), "{}", merge.stderr);
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
}

#[test]
fn a_hook_installed_for_a_target_validates_with_that_targets_job() {
    let sb = sandbox(&[]);
    let w = World::new();
    std::fs::write(
        w.work.join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    default_target: dev\n    targets:\n      dev: {job_id: 1}\n      release: {job_id: 2}\n",
    )
    .unwrap();
    w.commit_all("datachonk.yaml with targets");
    let unknown = w.datachonk(&["hook", "install", "--target", "relase"], &[]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("did you mean `release`?"),
        "{}",
        unknown.stderr
    );
    assert!(
        !w.hooks().join("pre-merge-commit").exists(),
        "nothing installed"
    );
    ok(&w.datachonk(&["hook", "install", "--target", "release"], &[]));
    let script = std::fs::read_to_string(w.hooks().join("pre-merge-commit")).unwrap();
    assert!(
        script.contains("hook run --target 'release' pre-merge-commit"),
        "{script}"
    );
    let sha = w.feature_branch(true);
    // DBT_CLOUD_JOB_ID points at the passing job; the recorded target's job (2) fails.
    let merge = w.git_with(
        &sb,
        &["merge", "--no-ff", "feature"],
        &[("DBT_CLOUD_JOB_ID", "1")],
    );
    assert_ne!(merge.code, 0, "{}", merge.stderr);
    let runs = sb.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].job_id, 2);
    assert_eq!(runs[0].trigger.git_sha.as_deref(), Some(sha.as_str()));
    w.git(&["merge", "--abort"]);
}

/// A project that declares its sources by hand is fresh right after `generate`, and a table
/// its declaration lacks makes the push stale (the edit of the person's file is due).
#[test]
fn pre_push_judges_a_project_that_declares_its_own_sources() {
    let w = World::new();
    std::fs::create_dir_all(w.work.join("models")).unwrap();
    std::fs::write(
        w.work.join("models/_sources.yml"),
        "sources:\n  - name: shop  # ours\n    schema: raw\n    tables:\n      - name: orders\n      - name: customers\n",
    )
    .unwrap();
    generate_from_catalog(&w);
    ok(&w.datachonk(&["hook", "install", "--kind", "pre-push"], &[]));
    let push = w.git_in(&w.work, &["push", "origin", "main"], &[]);
    ok(&push);
    assert!(
        push.stderr.contains("generated file(s) up to date"),
        "{}",
        push.stderr
    );

    // The person takes a table out of their declaration: generate would add it back.
    std::fs::write(
        w.work.join("models/_sources.yml"),
        "sources:\n  - name: shop  # ours\n    schema: raw\n    tables:\n      - name: orders\n      - name: customers\n",
    )
    .unwrap();
    w.commit_all("declaration without order_items");
    let direct = w.datachonk(&["hook", "run", "pre-push"], &[]);
    assert_eq!(direct.code, 1, "{}", direct.stderr);
    assert!(
        direct.stderr.contains("models/_sources.yml"),
        "{}",
        direct.stderr
    );
}
