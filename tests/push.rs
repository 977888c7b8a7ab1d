//! `datachonk push` with real git: a temporary repository holding a generated project, a bare
//! remote reached over file:// and `git daemon`, and the in-process sandbox for the trigger
//! (the world is built by `tests/git_servers`; smart HTTP and SSH are in
//! `tests/push_transports.rs`).

mod git_servers;
mod support;

use git_servers::{status, World, BRANCH};

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
        files.contains(&"datachonk.state.json".to_string()),
        "{files:?}"
    );
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("models/staging/") || f == "datachonk.state.json"),
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
fn a_leftover_index_lock_is_refused_naming_it_and_how_to_clear_it() {
    let world = World::new();
    let head = world.head();
    let lock = world.work().join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("index.lock exists"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("rm '{}'", lock.display())),
        "{}",
        run.stderr
    );
    assert_eq!(world.head(), head, "nothing committed behind git's back");
    assert_eq!(world.remote_tip(BRANCH), None, "nothing pushed");
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(world.datachonk(&["push"]).code, 0);
}

/// A remote that accepts connections and never answers: the push gives up at
/// `git.push_timeout` (exit 5) and the commit stays for the next try.
#[test]
fn a_remote_that_never_answers_fails_at_the_push_timeout_and_keeps_the_commit() {
    let world = World::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold every connection, never reading or writing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let url = format!("http://127.0.0.1:{port}/analytics.git");
    world.git_ok(&world.work(), &["remote", "set-url", "origin", &url]);
    std::fs::write(
        world.work().join("datachonk.yaml"),
        "git:\n  push_timeout: 3s\n",
    )
    .unwrap();
    let before = world.head();
    let started = std::time::Instant::now();
    let run = world.datachonk(&["push"]);
    let took = started.elapsed();
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("did not finish within 3s"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("is kept"), "{}", run.stderr);
    assert!(run.stderr.contains("git.push_timeout"), "{}", run.stderr);
    // The deadline holds whatever libgit2 is doing (generous slack for a loaded machine).
    assert!(took.as_secs() < 20, "exited after {took:?}");
    assert_ne!(world.head(), before, "the commit was made and kept");
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
fn push_to_a_confirm_target_without_yes_commits_pushes_and_triggers_nothing() {
    let world = World::new();
    let sandbox = support::sandbox(&[]);
    std::fs::write(
        world.work().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    default_target: dev\n    targets:\n      dev: {job_id: 1}\n      prod: {job_id: 2, confirm: true}\n",
    )
    .unwrap();
    let before = world.head();
    let args = ["push", "--target", "prod", "--trigger-dbt-run"];
    let run = world.datachonk_in(&world.work(), &args, Some(&sandbox));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("target `prod` (job 2)"),
        "{}",
        run.stderr
    );
    assert_eq!(world.head(), before, "nothing committed");
    assert_eq!(world.remote_tip(BRANCH), None, "nothing pushed");
    assert!(sandbox.runs().is_empty(), "nothing triggered");
    let mut confirmed = args.to_vec();
    confirmed.push("--yes");
    let run = world.datachonk_in(&world.work(), &confirmed, Some(&sandbox));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].job_id, 2,
        "the prod target's job, not DBT_CLOUD_JOB_ID=1"
    );
    assert_eq!(
        runs[0].trigger.git_sha.as_deref(),
        Some(world.head().as_str())
    );
}

#[test]
fn push_to_two_targets_pushes_once_and_triggers_each_targets_job_for_the_sha() {
    let world = World::new();
    let sandbox = support::sandbox(&[]);
    std::fs::write(
        world.work().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    default_target: dev\n    targets:\n      dev: {job_id: 1}\n      prod: {job_id: 4, confirm: true}\n",
    )
    .unwrap();
    let run = world.datachonk_in(
        &world.work(),
        &[
            "--json",
            "push",
            "--target",
            "dev",
            "--target",
            "prod",
            "--trigger-dbt-run",
            "--wait",
            "--yes",
        ],
        Some(&sandbox),
    );
    assert_eq!(
        run.code, 3,
        "the worst verdict (prod's job ends Cancelled):\n{}",
        run.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("one JSON document on stdout ({e}):\n{}", run.stdout));
    let head = world.head();
    assert_eq!(doc["push"]["outcome"], "pushed", "{doc:#}");
    assert_eq!(world.remote_tip(BRANCH).as_deref(), Some(head.as_str()));
    assert_eq!(doc["outcome"], "cancelled", "{doc:#}");
    let targets: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["dev", "prod"]);
    let runs = sandbox.runs();
    assert_eq!(
        runs.iter().map(|r| r.job_id).collect::<Vec<_>>(),
        [1, 4],
        "each target's job once"
    );
    for r in &runs {
        assert_eq!(
            r.trigger.git_sha.as_deref(),
            Some(head.as_str()),
            "the pushed sha"
        );
    }
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
    assert!(
        run.stdout.contains("  nodes: "),
        "the node summary: {}",
        run.stdout
    );
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
    assert_eq!(support::without_marker(&runs[1].trigger.cause), "recheck");

    // As the pull request's CI run: its number beside the pushed sha; a bad number is
    // refused before anything is triggered.
    let run = world.datachonk_in(
        &world.work(),
        &["push", "--trigger-dbt-run", "--pull-request", "x12"],
        Some(&sandbox),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(sandbox.runs().len(), 2);
    let run = world.datachonk_in(
        &world.work(),
        &["push", "--trigger-dbt-run", "--pull-request", "12"],
        Some(&sandbox),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(runs[2].trigger.pull_request().map(|(_, id)| id), Some(12));
    assert_eq!(runs[2].trigger.git_sha.as_deref(), Some(head.as_str()));
}

#[test]
fn a_lost_trigger_on_an_unchanged_head_runs_the_job_again() {
    // Every 2nd trigger POST answers 502 before the handler (no run is created for it).
    let world = World::new();
    let sandbox = support::sandbox(&["502:method=POST:path=/run/:every=2"]);
    let args = [
        "push",
        "--trigger-dbt-run",
        "--wait",
        "--cause",
        "validate X",
    ];
    let first = world.datachonk_in(&world.work(), &args, Some(&sandbox));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.contains("SUCCESS run 1"), "{}", first.stdout);
    // Same HEAD, same cause: a new validation, never the first one's verdict.
    let second = world.datachonk_in(&world.work(), &args, Some(&sandbox));
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.contains("SUCCESS run 2"),
        "{}\n{}",
        second.stdout,
        second.stderr
    );
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].trigger.git_sha, runs[1].trigger.git_sha);
}

#[test]
fn push_over_git_daemon() {
    let world = World::new();
    let daemon = git_servers::daemon::start(&world);
    let url = daemon.url();
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

#[test]
fn push_json_is_one_document_with_the_push_and_the_run() {
    let world = World::new();
    let sandbox = support::sandbox(&[]);
    let run = world.datachonk_in(
        &world.work(),
        &["--json", "push", "--trigger-dbt-run", "--wait"],
        Some(&sandbox),
    );
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("one JSON document on stdout ({e}):\n{}", run.stdout));
    let head = world.head();
    let push = &doc["push"];
    assert_eq!(push["outcome"], "pushed", "{doc:#}");
    assert_eq!(push["pushed"], true);
    assert_eq!(push["branch"], BRANCH);
    assert_eq!(push["remote"]["name"], "origin");
    assert_eq!(push["remote"]["branch"], BRANCH);
    assert_eq!(push["remote"]["url"], world.remote_url());
    assert_eq!(push["head"], head.as_str());
    assert_eq!(push["commit"]["sha"], head.as_str());
    let files = push["commit"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 9, "{files:?}");
    assert!(files
        .iter()
        .any(|f| f["path"] == "models/staging/shop/stg_shop__orders.sql" && f["status"] == "new"));
    // The run: the same fields as `dbt-run --json`, for the pushed sha.
    assert_eq!(doc["outcome"], "success", "{doc:#}");
    assert_eq!(doc["run"]["git_sha"], head.as_str());
    assert_eq!(doc["run"]["job_id"], 1);
    let id = doc["run"]["id"].as_i64().unwrap();
    assert_eq!(
        sandbox.runs().iter().map(|r| r.id).collect::<Vec<_>>(),
        [id]
    );

    // Without a trigger: the push part alone, in the same shape; nothing new to push.
    let run = world.datachonk(&["--json", "push"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["push"]["outcome"], "up-to-date", "{doc:#}");
    assert_eq!(doc["push"]["pushed"], false);
    assert_eq!(doc["push"]["commit"], serde_json::Value::Null);
    assert_eq!(doc["push"]["head"], head.as_str());
    assert!(doc.get("run").is_none(), "{doc:#}");
}

/// Deltas only save bytes on a wire; a local remote gets whole objects (src/git/local_remote.rs),
/// which is most of why a 10,000-file push is quick. This notices if libgit2 stops honouring it.
#[test]
fn a_local_remote_receives_whole_objects() {
    let world = World::new();
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let packs: Vec<_> = std::fs::read_dir(world.remote().join("objects/pack"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect();
    assert!(!packs.is_empty(), "the push wrote no pack");
    for idx in packs {
        let listing = world.git_ok(
            &world.remote(),
            &["verify-pack", "-v", idx.to_str().unwrap()],
        );
        assert!(listing.contains(" blob "), "{listing}");
        assert!(listing.contains("non delta:"), "{listing}");
        assert!(
            !listing.contains("chain length"),
            "deltas in the pack:\n{listing}"
        );
    }
    world.git_ok(&world.remote(), &["fsck", "--strict", "--no-dangling"]);
}

/// The commit's objects are written as one pack (not thousands of loose files), the branch
/// moves only after they are on disk, and the reflog reads as git's own.
#[test]
fn the_commit_is_one_pack_with_a_reflog_entry() {
    let world = World::new();
    let count = |w: &World| {
        w.git_ok(&w.work(), &["count-objects", "-v"])
            .lines()
            .find_map(|l| l.strip_prefix("count: ").map(str::to_string))
            .unwrap()
    };
    let loose_before = count(&world);
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        count(&world),
        loose_before,
        "the commit wrote loose objects"
    );
    world.git_ok(&world.work(), &["fsck", "--strict", "--no-dangling"]);
    assert_eq!(
        world.git_ok(&world.work(), &["reflog", "-1", "--format=%gs", BRANCH]),
        "commit: datachonk: generate 4 staging models (stg_ref_data__countries, stg_shop__customers, stg_shop__order_items, …)"
    );
    assert_eq!(
        world.git_ok(&world.work(), &["rev-parse", "HEAD"]),
        world.git_ok(&world.work(), &["rev-parse", BRANCH])
    );
}

#[test]
fn commit_gpgsign_is_named_and_the_commit_is_made_unsigned() {
    let world = World::new();
    let work = world.work();
    world.git_ok(&work, &["config", "commit.gpgsign", "true"]);
    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("commit.gpgsign is set") && run.stderr.contains("unsigned"),
        "{}",
        run.stderr
    );
    // Made and pushed, without a signature (datachonk does not sign).
    let head = world.head();
    assert_eq!(world.remote_tip(BRANCH).as_deref(), Some(head.as_str()));
    let raw = world.git_ok(&work, &["cat-file", "-p", &head]);
    assert!(!raw.contains("gpgsig"), "{raw}");
}

#[test]
fn push_json_still_reports_the_push_when_the_trigger_fails() {
    let world = World::new();
    let sandbox = support::sandbox(&[]);
    let run = world.datachonk_env(
        &world.work(),
        &["--json", "push", "--trigger-dbt-run", "--wait"],
        Some(&sandbox),
        &[(
            "DBT_CLOUD_API_TOKEN",
            std::ffi::OsStr::new("not-the-right-token"),
        )],
    );
    assert_eq!(run.code, 6, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("one JSON document on stdout ({e}):\n{}", run.stdout));
    assert_eq!(doc["outcome"], "trigger_failed", "{doc:#}");
    assert_eq!(doc["push"]["outcome"], "pushed", "{doc:#}");
    assert_eq!(
        doc["push"]["commit"]["sha"],
        world.head().as_str(),
        "{doc:#}"
    );
    assert_eq!(doc["error"]["exit"], 6, "{doc:#}");
    assert!(!run.stdout.contains("not-the-right-token"));
    // Pushed all the same; nothing ran.
    assert_eq!(
        world.remote_tip(BRANCH).as_deref(),
        Some(world.head().as_str())
    );
    assert!(sandbox.runs().is_empty());
}

#[test]
fn a_persons_sources_file_generate_added_to_is_committed_with_the_models() {
    let world = World::new();
    let work = world.work();
    // The project declares shop itself (datachonk's own declaration goes).
    let declared =
        "sources:\n  - name: shop  # ours\n    schema: raw\n    tables:\n      - name: orders\n";
    std::fs::write(work.join("models/_sources.yml"), declared).unwrap();
    std::fs::remove_file(work.join("models/staging/shop/_shop__sources.yml")).unwrap();
    world.git_ok(&work, &["add", "models/_sources.yml"]);
    world.git_ok(&work, &["commit", "-q", "-m", "declare shop by hand"]);
    world.generate();
    let text = std::fs::read_to_string(work.join("models/_sources.yml")).unwrap();
    assert!(
        text.starts_with(declared) && text.len() > declared.len(),
        "{text}"
    );

    let run = world.datachonk(&["push"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let files = world.committed_files();
    assert!(
        files.contains(&"models/_sources.yml".to_string()),
        "{files:?}"
    );
    assert!(
        !files.contains(&"models/staging/shop/_shop__sources.yml".to_string()),
        "{files:?}"
    );
}

#[test]
fn push_wait_retries_a_failed_run_and_the_last_attempt_is_the_verdict() {
    // Job 2 fails; dbt Cloud's retry of it succeeds.
    let world = World::new();
    let sandbox = support::sandbox(&[]);
    let run = world.datachonk_env(
        &world.work(),
        &[
            "--json",
            "push",
            "--trigger-dbt-run",
            "--wait",
            "--retries",
            "1",
        ],
        Some(&sandbox),
        &[("DBT_CLOUD_JOB_ID", std::ffi::OsStr::new("2"))],
    );
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["push"]["pushed"], true, "{doc:#}");
    assert_eq!(doc["outcome"], "success", "{doc:#}");
    let attempts = doc["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{doc:#}");
    assert_eq!(attempts[0]["outcome"], "error");
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].cause_category, "rerun");
    assert_eq!(
        runs[0].trigger.git_sha.as_deref(),
        Some(world.head().as_str())
    );
}
