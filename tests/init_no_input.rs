//! `datachonk init` without prompts (`--no-input`, or no terminal), as scripts and CI use it:
//! the real binary against an in-process sandbox. stdin is never a terminal here, and every
//! run is bounded by a timeout, so a wizard that waited for input would fail the test.

mod init_support;

use init_support::*;

fn ids<'a>(sb_url: &'a str, job: &'a str) -> Vec<&'a str> {
    vec![
        "init",
        "--no-input",
        "--access-url",
        sb_url,
        "--account-id",
        "7",
        "--project-id",
        "10",
        "--environment-id",
        "21",
        "--job-id",
        job,
    ]
}

#[test]
fn no_input_with_every_flag_checks_the_ids_and_writes_a_file_config_show_accepts() {
    let sb = sandbox();
    let dir = repo();
    let url = sb.base_url().trim_end_matches('/').to_string();
    let mut args = ids(&url, "160");
    args.extend([
        "--auto-trigger",
        "--install-hook",
        "pre-merge-commit",
        "--protected-branches",
        "main,release/*",
    ]);
    let r = datachonk(dir.path(), Some(GOOD_TOKEN), &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("Git repository: "), "{}", r.stderr);
    assert!(
        r.stderr.contains("dbt project: transform/dbt_project.yml"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("Checked against dbt Cloud: the token is accepted")
            && r.stdout.contains("job 160 \"PR validation\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("export DBT_CLOUD_API_TOKEN="),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("secret named DBT_CLOUD_API_TOKEN"));
    // The chosen hook is installed (the same script `datachonk hook install` writes).
    assert!(
        r.stdout
            .contains("Installed the pre-merge-commit git hook: "),
        "{}",
        r.stdout
    );
    let hook = read(dir.path(), ".git/hooks/pre-merge-commit");
    assert!(hook.contains("# datachonk-hook:"), "{hook}");
    assert!(hook.contains("hook run pre-merge-commit"), "{hook}");

    let yaml = read(dir.path(), "datachonk.yaml");
    assert!(yaml.contains("    job_id: 160\n"), "{yaml}");
    assert!(yaml.contains("    auto_trigger: true\n"), "{yaml}");
    assert!(yaml.contains("token_env: DBT_CLOUD_API_TOKEN"), "{yaml}");
    assert!(
        yaml.contains("  protected_branches: [main, \"release/*\"]\n"),
        "{yaml}"
    );
    assert_eq!(read(dir.path(), ".gitignore"), ".datachonk/\n");

    // The file is valid: `config show` reads it back, value by value.
    let show = datachonk(dir.path(), None, &["config", "show", "--json"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let d = &v["deploy"]["dbt_cloud"];
    assert_eq!(d["access_url"]["value"], url.as_str());
    assert_eq!(d["account_id"]["value"], 7);
    assert_eq!(d["environment_id"]["value"], 21);
    assert_eq!(d["job_id"]["value"], 160);
    assert_eq!(d["auto_trigger"]["value"], true);
    assert_eq!(d["job_id"]["source"]["kind"], "file");

    // A second identical run changes nothing, and .gitignore gets no second entry.
    let again = datachonk(dir.path(), Some(GOOD_TOKEN), &args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing was written"),
        "{}",
        again.stdout
    );
    assert_eq!(read(dir.path(), ".gitignore"), ".datachonk/\n");
}

#[test]
fn missing_flags_are_listed_and_exit_2_without_writing() {
    let dir = repo();
    let r = datachonk(
        dir.path(),
        Some(GOOD_TOKEN),
        &["init", "--no-input", "--account-id", "7"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--no-input: missing --project-id, --environment-id, --job-id"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("datachonk.yaml").exists());
    assert!(!dir.path().join(".gitignore").exists());
}

#[test]
fn without_a_terminal_the_wizard_never_waits_it_names_the_missing_flags() {
    let dir = repo();
    let started = std::time::Instant::now();
    // No --no-input: stdin is a closed pipe, not a terminal.
    let r = datachonk(dir.path(), None, &["init"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "no terminal to ask on (stdin is not a terminal): missing --account-id, --project-id, --environment-id, --job-id"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: "), "{}", r.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(!dir.path().join("datachonk.yaml").exists());
}

#[test]
fn ids_that_do_not_belong_together_are_refused_and_nothing_is_written() {
    let sb = sandbox();
    let dir = repo();
    let url = sb.base_url().trim_end_matches('/').to_string();
    // Job 170 runs in environment 20, not 21.
    let r = datachonk(dir.path(), Some(GOOD_TOKEN), &ids(&url, "170"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("job 170 belongs to project 10 / environment 20"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("datachonk.yaml").exists());

    // A wrong token is an API failure (6) with the 401 explained.
    let r = datachonk(dir.path(), Some(BAD_TOKEN), &ids(&url, "160"));
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    assert!(!dir.path().join("datachonk.yaml").exists());
}

#[test]
fn without_a_token_the_ids_are_written_unchecked_with_a_warning() {
    let dir = repo();
    let r = datachonk(dir.path(), None, &ids("https://acme.us1.dbt.com", "160"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("not checked against dbt Cloud: $DBT_CLOUD_API_TOKEN is not set"),
        "{}",
        r.stderr
    );
    assert!(read(dir.path(), "datachonk.yaml").contains("access_url: https://acme.us1.dbt.com\n"));
}

#[test]
fn a_rerun_changes_only_the_given_values_and_keeps_comments_and_other_sections() {
    let sb = sandbox();
    let dir = repo();
    let url = sb.base_url().trim_end_matches('/').to_string();
    let original = format!(
        "# team notes: ask #data-platform before changing the job\n\
         deploy:\n  dbt_cloud:\n    access_url: {url}\n    account_id: 7\n    project_id: 10\n    environment_id: 21\n    job_id: 150   # the old full build\n    timeout: 45m\n\n\
         generate:\n  source: shop  # from the raw_shop schema\n  dialect: postgres\n"
    );
    std::fs::write(dir.path().join("datachonk.yaml"), &original).unwrap();
    std::fs::write(dir.path().join(".gitignore"), "target/\n/.datachonk\n").unwrap();

    let r = datachonk(
        dir.path(),
        Some(GOOD_TOKEN),
        &["init", "--no-input", "--job-id", "160"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(job_id)"), "{}", r.stdout);
    assert_eq!(
        read(dir.path(), "datachonk.yaml"),
        original.replace("job_id: 150   #", "job_id: 160   #")
    );
    // Already ignored (another spelling): left alone.
    assert_eq!(read(dir.path(), ".gitignore"), "target/\n/.datachonk\n");
}

#[test]
fn json_output_is_one_document() {
    let sb = sandbox();
    let dir = repo();
    let url = sb.base_url().trim_end_matches('/').to_string();
    let mut args = ids(&url, "150");
    args.push("--json");
    let r = datachonk(dir.path(), Some(GOOD_TOKEN), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["created"], true);
    assert_eq!(v["deploy"]["dbt_cloud"]["job_id"], 150);
    assert_eq!(v["job_name"], "Full build");
    assert_eq!(v["job_warnings"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["install_hook"], serde_json::Value::Null);
    assert_eq!(v["gitignore"], "created");
    // The advice is on stderr for people too.
    assert!(r.stderr.contains("state:modified"), "{}", r.stderr);
}

#[test]
fn a_foreign_hook_is_left_alone_with_a_warning_and_the_file_is_still_written() {
    let sb = sandbox();
    let dir = repo();
    let foreign = "#!/bin/sh\nexit 0\n";
    std::fs::create_dir_all(dir.path().join(".git/hooks")).unwrap();
    std::fs::write(dir.path().join(".git/hooks/pre-push"), foreign).unwrap();
    let url = sb.base_url().trim_end_matches('/').to_string();
    let mut args = ids(&url, "160");
    args.extend(["--install-hook", "pre-push"]);
    let r = datachonk(dir.path(), Some(GOOD_TOKEN), &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("the git hook was not installed") && r.stderr.contains("did not install"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("datachonk hook install --kind pre-push [--chain|--force]"),
        "{}",
        r.stdout
    );
    assert_eq!(read(dir.path(), ".git/hooks/pre-push"), foreign);
    assert!(read(dir.path(), "datachonk.yaml").contains("job_id: 160"));
}

#[test]
fn target_adds_a_production_job_beside_the_validation_job_editing_the_file_in_place() {
    let sb = sandbox();
    let dir = repo();
    let url = sb.base_url().trim_end_matches('/').to_string();
    let first = datachonk(dir.path(), Some(GOOD_TOKEN), &ids(&url, "160"));
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let mut yaml = read(dir.path(), "datachonk.yaml");
    yaml = yaml.replace("    job_id: 160\n", "    job_id: 160 # PR validation\n");
    yaml.push_str("# my own note\n");
    std::fs::write(dir.path().join("datachonk.yaml"), &yaml).unwrap();

    // The production job runs in another environment (20): the target says so.
    let prod = [
        "init",
        "--no-input",
        "--target",
        "prod",
        "--job-id",
        "170",
        "--json",
    ];
    let r = datachonk(dir.path(), Some(GOOD_TOKEN), &prod);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        doc["changed"],
        serde_json::json!(["targets.prod"]),
        "{doc:#}"
    );
    assert_eq!(doc["target"]["environment_id"], 20);
    let edited = read(dir.path(), "datachonk.yaml");
    let expected = yaml.replace(
        "    job_id: 160 # PR validation\n",
        "    default_target: dev\n    targets:\n      dev: {job_id: 160} # PR validation\n      prod: {job_id: 170, environment_id: 20, confirm: true}\n",
    );
    assert_eq!(edited, expected, "only the job line changed");
    let check = datachonk(dir.path(), None, &["config", "check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let show = datachonk(
        dir.path(),
        None,
        &["config", "show", "--target", "prod", "--json"],
    );
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(show.stdout.contains("170"), "{}", show.stdout);

    // Again: nothing to change.
    let again = datachonk(dir.path(), Some(GOOD_TOKEN), &prod[..6]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing was written"),
        "{}",
        again.stdout
    );
    assert_eq!(read(dir.path(), "datachonk.yaml"), expected);

    // A job of another project is refused; the file is left alone.
    let wrong = datachonk(
        dir.path(),
        Some(GOOD_TOKEN),
        &["init", "--no-input", "--target", "prod", "--job-id", "180"],
    );
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("job 180 belongs to project 11"),
        "{}",
        wrong.stderr
    );
    assert_eq!(read(dir.path(), "datachonk.yaml"), expected);

    // A new file with only a target: that target is the default one.
    let fresh = repo();
    let mut args = ids(&url, "170");
    args.extend(["--target", "prod"]);
    let r = datachonk(fresh.path(), Some(GOOD_TOKEN), &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let yaml = read(fresh.path(), "datachonk.yaml");
    assert!(
        yaml.contains("    default_target: prod\n    targets:\n      prod: {job_id: 170, environment_id: 20}\n"),
        "{yaml}"
    );
    let check = datachonk(fresh.path(), None, &["config", "check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
}
