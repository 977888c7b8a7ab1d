//! Configuration as a user meets it: `config show`, precedence, and errors that point at the
//! file, line and column.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use datachonk::config::{self, FlagValues, LoadOptions, Source};
use predicates::prelude::*;

const FAKE_TOKEN: &str = "fake-config-token-3f9a";

/// The binary in `dir` with no DBT_CLOUD_* variables inherited from the caller.
fn datachonk(dir: &Path) -> Command {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(dir).env("NO_COLOR", "1");
    for (name, _) in config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd
}

fn project(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("datachonk.yaml"), yaml).unwrap();
    dir
}

#[test]
fn show_reports_each_value_and_where_it_came_from() {
    let dir = project("deploy:\n  dbt_cloud:\n    account_id: 7\n    job_id: 9\n");
    let out = datachonk(dir.path())
        .args(["config", "show"])
        .env("DBT_CLOUD_JOB_ID", "42")
        .env("DBT_CLOUD_API_TOKEN", FAKE_TOKEN)
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("account_id") && stdout.contains("datachonk.yaml:3:17"),
        "{stdout}"
    );
    assert!(
        stdout.contains("42") && stdout.contains("env DBT_CLOUD_JOB_ID"),
        "{stdout}"
    );
    assert!(
        stdout.contains("https://cloud.getdbt.com") && stdout.contains("default"),
        "{stdout}"
    );
    assert!(stdout.contains("(set)"), "{stdout}");
    assert!(!stdout.contains(FAKE_TOKEN));
}

#[test]
fn show_json_is_one_document_with_sources() {
    let dir = project("deploy:\n  dbt_cloud:\n    access_url: https://emea.dbt.com/\n");
    let out = datachonk(dir.path())
        .args(["config", "show", "--json"])
        .env("DBT_CLOUD_API_TOKEN", FAKE_TOKEN)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let url = &v["deploy"]["dbt_cloud"]["access_url"];
    assert_eq!(url["value"], "https://emea.dbt.com");
    assert_eq!(url["source"]["kind"], "file");
    assert_eq!(url["source"]["line"], 3);
    let retries = &v["deploy"]["dbt_cloud"]["retries"];
    assert_eq!(retries["value"], 0);
    assert_eq!(retries["source"]["kind"], "default");
    assert_eq!(
        v["deploy"]["dbt_cloud"]["token"]["source"]["name"],
        "DBT_CLOUD_API_TOKEN"
    );
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains(FAKE_TOKEN));
}

#[test]
fn precedence_is_flag_then_env_then_file_then_default() {
    let dir =
        project("deploy:\n  dbt_cloud:\n    account_id: 1\n    job_id: 2\n    project_id: 3\n");
    let env = |name: &str| match name {
        "DBT_CLOUD_JOB_ID" => Some("20".to_string()),
        "DBT_CLOUD_PROJECT_ID" => Some("30".to_string()),
        _ => None,
    };
    let flags = FlagValues {
        job_id: Some(200),
        ..Default::default()
    };
    let opts = LoadOptions {
        explicit_file: None,
        start_dir: Some(dir.path().to_path_buf()),
    };
    let cfg = config::load(&opts, &flags, &env).unwrap().dbt_cloud;
    assert_eq!(cfg.job_id.as_ref().unwrap().value, 200);
    assert_eq!(cfg.job_id.unwrap().source, Source::Flag("--job-id".into()));
    assert_eq!(cfg.project_id.as_ref().unwrap().value, 30);
    assert_eq!(
        cfg.project_id.unwrap().source,
        Source::Env("DBT_CLOUD_PROJECT_ID".into())
    );
    assert_eq!(cfg.account_id.as_ref().unwrap().value, 1);
    assert!(matches!(
        cfg.account_id.unwrap().source,
        Source::File { line: 3, .. }
    ));
    assert_eq!(cfg.access_url.source, Source::Default);
    assert!(cfg.token.is_none());
}

#[test]
fn access_url_comes_from_env_url_or_bare_host() {
    let opts = LoadOptions {
        explicit_file: Some(project("{}\n").path().join("missing-is-error.yaml")),
        start_dir: None,
    };
    // An explicit --config that does not exist is an error, not a silent default.
    assert!(config::load(&opts, &FlagValues::default(), &|_: &str| None).is_err());

    let dir = project("");
    let opts = LoadOptions {
        explicit_file: None,
        start_dir: Some(dir.path().to_path_buf()),
    };
    let host = |name: &str| (name == "DBT_CLOUD_HOST").then(|| "acme.us1.dbt.com".to_string());
    let cfg = config::load(&opts, &FlagValues::default(), &host).unwrap();
    assert_eq!(cfg.dbt_cloud.access_url.value, "https://acme.us1.dbt.com");
    let both = |name: &str| match name {
        "DBT_CLOUD_HOST" => Some("acme.us1.dbt.com".to_string()),
        "DBT_CLOUD_ACCESS_URL" => Some("http://127.0.0.1:8080/".to_string()),
        _ => None,
    };
    let cfg = config::load(&opts, &FlagValues::default(), &both).unwrap();
    assert_eq!(cfg.dbt_cloud.access_url.value, "http://127.0.0.1:8080");
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let dir = project("deploy:\n  dbt_cloud: [\n");
    datachonk(dir.path())
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("datachonk.yaml:2:14"));
}

#[test]
fn type_error_says_what_was_expected() {
    let dir = project("deploy:\n  dbt_cloud:\n    account_id: twelve\n");
    datachonk(dir.path())
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("datachonk.yaml:3:17")
                .and(predicate::str::contains("expected an integer")),
        );
}

#[test]
fn unknown_key_is_refused_with_a_suggestion() {
    let dir = project("deploy:\n  dbt_cloud:\n    jobid: 3\n");
    datachonk(dir.path())
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("datachonk.yaml:3:5")
                .and(predicate::str::contains("unknown key `jobid`"))
                .and(predicate::str::contains("did you mean `job_id`?")),
        );
}

#[test]
fn an_invalid_generate_section_is_refused_as_generate_would() {
    let dir = project("generate:\n  dialect: oracle\n");
    datachonk(dir.path())
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("datachonk.yaml:2:12")
                .and(predicate::str::contains("unknown dialect `oracle`")),
        );
    let ok = project("generate:\n  dialect: snowflake\n");
    datachonk(ok.path())
        .args(["config", "show"])
        .assert()
        .success();
}

#[test]
fn literal_token_in_file_is_refused_without_echoing_it() {
    let dir = project(&format!(
        "deploy:\n  dbt_cloud:\n    job_id: 1\n    token: {FAKE_TOKEN}\n"
    ));
    let out = datachonk(dir.path())
        .args(["config", "show"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("datachonk.yaml:4:12"), "{stderr}");
    assert!(
        stderr.contains("literal API token is not allowed"),
        "{stderr}"
    );
    assert!(!stderr.contains(FAKE_TOKEN), "token leaked: {stderr}");
}

#[test]
fn token_env_must_name_a_variable_not_hold_the_token() {
    let dir = project(&format!(
        "deploy:\n  dbt_cloud:\n    token_env: {FAKE_TOKEN}\n"
    ));
    let out = datachonk(dir.path())
        .args(["config", "show"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("NAME of an environment variable"),
        "{stderr}"
    );
    assert!(!stderr.contains(FAKE_TOKEN), "token leaked: {stderr}");

    // A valid token_env is honoured.
    let dir = project("deploy:\n  dbt_cloud:\n    token_env: MY_DBT_TOKEN\n");
    let out = datachonk(dir.path())
        .args(["config", "show", "--json"])
        .env("MY_DBT_TOKEN", FAKE_TOKEN)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        v["deploy"]["dbt_cloud"]["token"]["source"]["name"],
        "MY_DBT_TOKEN"
    );
}

#[test]
fn bad_environment_values_name_the_variable() {
    let dir = project("");
    datachonk(dir.path())
        .args(["config", "show"])
        .env("DBT_CLOUD_ACCOUNT_ID", "acme")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("DBT_CLOUD_ACCOUNT_ID")
                .and(predicate::str::contains("integer")),
        );
    datachonk(dir.path())
        .args(["config", "show"])
        .env("DBT_CLOUD_ACCESS_URL", "https://cloud.getdbt.com/api/v2")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("DBT_CLOUD_ACCESS_URL")
                .and(predicate::str::contains("without a path")),
        );
}

#[test]
fn the_example_file_is_valid_and_complete() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("datachonk.example.yaml");
    let opts = LoadOptions {
        explicit_file: Some(example.clone()),
        start_dir: None,
    };
    let cfg = config::load(&opts, &FlagValues::default(), &|_: &str| None).unwrap();
    assert_eq!(cfg.dbt_cloud.job_id.unwrap().value, 11111);
    let generate = config::load_generate(&opts).unwrap().config;
    assert_eq!(generate.source.as_deref(), Some("shop"));
    assert_eq!(
        generate
            .primary_keys
            .get("shop.order_lines")
            .map(String::as_str),
        Some("line_id")
    );
    // Every key of deploy.dbt_cloud appears in the example, set or commented.
    let text = std::fs::read_to_string(example).unwrap();
    for key in [
        "confirm",
        "default_target",
        "targets",
        "access_url",
        "account_id",
        "project_id",
        "environment_id",
        "job_id",
        "token_env",
        "auto_trigger",
        "wait",
        "timeout",
        "retries",
        "cause",
        "schema_override",
        "target_name_override",
        "threads_override",
        "steps_override",
        "timeout_seconds_override",
        "dbt_version_override",
        "generate_docs_override",
    ] {
        assert!(
            text.contains(&format!("{key}:")),
            "datachonk.example.yaml lacks {key}"
        );
    }
}

/// Run `config show` in `dir` with `env`; (exit code, stderr).
fn show_with_env(dir: &Path, env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = datachonk(dir);
    cmd.args(["config", "show"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !stdout.contains("SECRET") && !stderr.contains("SECRET"),
        "{stdout}{stderr}"
    );
    (out.status.code().unwrap(), stderr)
}

#[test]
fn a_secret_inside_an_access_url_is_never_echoed() {
    let dir = project("deploy:\n  dbt_cloud:\n    job_id: 1\n");
    for (var, value) in [
        ("DBT_CLOUD_ACCESS_URL", "http://user:SECRET@host"),
        ("DBT_CLOUD_ACCESS_URL", "https://SECRET@host"),
        ("DBT_CLOUD_ACCESS_URL", "https://host/?token=SECRET"),
        ("DBT_CLOUD_ACCESS_URL", "not a url SECRET"),
        ("DBT_CLOUD_HOST", "user:SECRET@host"),
    ] {
        let (code, stderr) = show_with_env(dir.path(), &[(var, value)]);
        assert_eq!(code, 2, "{var}={value}: {stderr}");
        assert!(stderr.contains(var), "{stderr}");
    }
    let (code, stderr) = show_with_env(
        dir.path(),
        &[("DBT_CLOUD_ACCESS_URL", "http://user:SECRET@host")],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("http://***:***@host"),
        "says which URL: {stderr}"
    );
    let dir = project(
        "deploy:\n  dbt_cloud:\n    access_url: \"https://ci:SECRET@emea.dbt.com/?key=SECRET\"\n",
    );
    let (code, stderr) = show_with_env(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("datachonk.yaml:3:17"), "{stderr}");
}

#[test]
fn ids_counts_and_durations_out_of_range_are_refused_where_they_were_set() {
    for (yaml, at, says) in [
        (
            "    job_id: 0\n",
            "datachonk.yaml:3:13",
            "deploy.dbt_cloud.job_id: must be 1 or more, got 0",
        ),
        (
            "    account_id: -4\n",
            "datachonk.yaml:3:17",
            "account_id: must be 1 or more",
        ),
        (
            "    threads_override: -2\n",
            "datachonk.yaml:3:23",
            "threads_override: must be 1 or more",
        ),
        (
            "    timeout_seconds_override: -1\n",
            "datachonk.yaml:3:31",
            "must be 0 or more",
        ),
        (
            "    retries: -1\n",
            "datachonk.yaml:3:14",
            "retries: must be 0 or more",
        ),
        (
            "    timeout: 0s\n",
            "datachonk.yaml:3:14",
            "timeout: must be longer than 0s",
        ),
        (
            "    timeout: forever\n",
            "datachonk.yaml:3:14",
            "expected a duration such as 90s",
        ),
    ] {
        let dir = project(&format!("deploy:\n  dbt_cloud:\n{yaml}"));
        let (code, stderr) = show_with_env(dir.path(), &[]);
        assert_eq!(code, 2, "{yaml}: {stderr}");
        assert!(
            stderr.contains(at) && stderr.contains(says),
            "{yaml}: {stderr}"
        );
        assert!(
            !stderr.contains("expected number at"),
            "humantime's words: {stderr}"
        );
    }
    let dir = project("deploy:\n  dbt_cloud:\n    job_id: 1\n");
    let (code, stderr) = show_with_env(dir.path(), &[("DBT_CLOUD_JOB_ID", "-3")]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("DBT_CLOUD_JOB_ID is not valid: must be 1 or more"),
        "{stderr}"
    );
}

#[test]
fn a_directory_or_a_huge_file_named_datachonk_yaml_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir(dir.path().join("datachonk.yaml")).unwrap();
    let (code, stderr) = show_with_env(dir.path(), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("datachonk.yaml is a directory"), "{stderr}");
    std::fs::remove_dir(dir.path().join("datachonk.yaml")).unwrap();
    let huge = format!(
        "deploy:\n  dbt_cloud:\n    cause: \"{}\"\n",
        "x".repeat(2 << 20)
    );
    std::fs::write(dir.path().join("datachonk.yaml"), huge).unwrap();
    let (code, stderr) = show_with_env(dir.path(), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("too large to be a configuration file"),
        "{stderr}"
    );
    assert!(
        stderr.len() < 1000,
        "nothing of the file is echoed: {} bytes",
        stderr.len()
    );
}

#[test]
fn duplicate_keys_and_broken_lists_are_explained_in_the_users_terms() {
    let dir = project("deploy:\n  dbt_cloud:\n    job_id: 1\n    job_id: 2\n");
    let (code, stderr) = show_with_env(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("datachonk.yaml:4:5: `job_id` is set twice"),
        "{stderr}"
    );
    assert!(!stderr.contains("DuplicateKeyPolicy"), "{stderr}");
    let dir = project("deploy:\n  dbt_cloud:\n    job_id: [1,\n");
    let (code, stderr) = show_with_env(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("datachonk.yaml:3:13: not valid YAML: unclosed bracket '['"),
        "{stderr}"
    );
}

#[test]
fn config_check_validates_every_section() {
    let dir = project("deploy:\n  dbt_cloud:\n    job_id: 1\ngit:\n  push_timeout: 30s\n");
    datachonk(dir.path())
        .args(["config", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("valid"));
    for (yaml, says) in [
        ("generate:\n  dialect: oracle\n", "generate.dialect"),
        (
            "git:\n  push_timeout: 0s\n",
            "git.push_timeout: must be longer than 0s",
        ),
        (
            "git:\n  protected_branches: [\"\"]\n",
            "git.protected_branches",
        ),
    ] {
        let dir = project(yaml);
        for sub in ["check", "show"] {
            datachonk(dir.path())
                .args(["config", sub])
                .assert()
                .code(2)
                .stderr(predicate::str::contains(says));
        }
    }
}

const TARGETS: &str = "deploy:\n  dbt_cloud:\n    account_id: 12345\n    project_id: 67890\n    default_target: dev\n    wait: false\n    targets:\n      dev:  { job_id: 11111, wait: true }\n      prod: { job_id: 22222, environment_id: 13579, confirm: true, cause: \"Release from datachonk\" }\n";

fn show_json(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = datachonk(dir);
    cmd.args(["config", "show", "--json"]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn named_targets_override_the_block_and_are_chosen_by_flag_env_or_default() {
    let dir = project(TARGETS);
    // default_target: dev, its own values over the block's, provenance in the target.
    let v = show_json(dir.path(), &["--target", "dev"], &[]);
    let d = &v["deploy"]["dbt_cloud"];
    assert_eq!(v["target"], "dev");
    assert_eq!(d["job_id"]["value"], 11111);
    assert_eq!(d["job_id"]["source"]["line"], 8);
    assert_eq!(
        d["wait"]["value"], true,
        "the target's wait beats the block's"
    );
    assert_eq!(
        d["account_id"]["value"], 12345,
        "the block's values are the defaults"
    );
    assert_eq!(d["confirm"]["value"], false);
    let v = show_json(dir.path(), &[], &[("DATACHONK_TARGET", "prod")]);
    let d = &v["deploy"]["dbt_cloud"]["targets"]["prod"];
    assert_eq!(d["job_id"]["value"], 22222);
    assert_eq!(d["environment_id"]["value"], 13579);
    assert_eq!(d["confirm"]["value"], true);
    assert_eq!(d["cause"]["value"], "Release from datachonk");
    assert_eq!(d["wait"]["value"], false);
    // Every target is listed when none is named.
    let all = show_json(dir.path(), &[], &[]);
    let names: Vec<&String> = all["deploy"]["dbt_cloud"]["targets"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(names, ["dev", "prod"]);
    // A target named on purpose beats DBT_CLOUD_JOB_ID; the file's default does not.
    let v = show_json(
        dir.path(),
        &["--target", "prod"],
        &[("DBT_CLOUD_JOB_ID", "5")],
    );
    assert_eq!(v["deploy"]["dbt_cloud"]["job_id"]["value"], 22222);
}

#[test]
fn a_target_is_used_by_the_commands_and_unknown_ones_are_refused_with_a_suggestion() {
    let dir = project(TARGETS);
    // dbt-run --target prod with no token: the job shows in the refusal of the missing token,
    // after the target resolved (exit 2 either way, but the message must not be about the target).
    let out = datachonk(dir.path())
        .args(["dbt-run", "--target", "prd", "--no-wait"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("unknown target `prd` (known: dev, prod); did you mean `prod`?"),
        "{stderr}"
    );
    let out = datachonk(dir.path())
        .args(["config", "check"])
        .env("DATACHONK_TARGET", "staging")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("DATACHONK_TARGET is not valid: unknown target `staging`"),
        "{stderr}"
    );
}

#[test]
fn targets_with_a_top_level_job_id_or_without_a_job_are_refused() {
    let both =
        project("deploy:\n  dbt_cloud:\n    job_id: 1\n    targets:\n      dev: {job_id: 2}\n");
    let out = datachonk(both.path())
        .args(["config", "check"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("datachonk.yaml:3:13: deploy.dbt_cloud.job_id and deploy.dbt_cloud.targets cannot both be set"),
        "{stderr}"
    );
    let jobless = project("deploy:\n  dbt_cloud:\n    targets:\n      dev: {wait: true}\n");
    let out = datachonk(jobless.path())
        .args(["config", "check"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("targets.dev: job_id is required"),
        "{stderr}"
    );
    let bad_default = project(
        "deploy:\n  dbt_cloud:\n    default_target: qa\n    targets:\n      dev: {job_id: 2}\n",
    );
    let out = datachonk(bad_default.path())
        .args(["config", "show"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr
            .contains("datachonk.yaml:3:21: deploy.dbt_cloud.default_target: unknown target `qa`"),
        "{stderr}"
    );
    let unknown_key =
        project("deploy:\n  dbt_cloud:\n    targets:\n      dev: {job_id: 2, jobid: 3}\n");
    let out = datachonk(unknown_key.path())
        .args(["config", "check"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("unknown key `jobid`") && stderr.contains("did you mean `job_id`"),
        "{stderr}"
    );
}

#[test]
fn config_check_lists_every_problem_not_only_the_first() {
    let dir = project(
        "deploy:\n  dbt_cloud:\n    default_target: dev\n    targets:\n      dev: {job_id: 1}\n      prod: {job_id: 2, threads_override: 0}\ngenerate:\n  dialect: oracle\ngit:\n  push_timeout: 0s\n",
    );
    let out = datachonk(dir.path())
        .args(["config", "check"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("3 problems in the configuration"),
        "{stderr}"
    );
    for says in [
        "generate.dialect",
        "git.push_timeout",
        "threads_override: must be 1 or more",
    ] {
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
}

#[test]
fn config_check_online_finds_jobs_and_environments_that_do_not_exist() {
    use datachonk::sandbox::{Sandbox, SandboxOptions, DEFAULT_TOKEN};
    let sandbox = Sandbox::start(SandboxOptions::default()).unwrap();
    let dir = project(
        "deploy:\n  dbt_cloud:\n    account_id: 1\n    project_id: 1\n    default_target: dev\n    targets:\n      dev: {job_id: 1, environment_id: 1}\n      prod: {job_id: 424242, environment_id: 999}\n",
    );
    let run = |args: &[&str]| {
        let out = datachonk(dir.path())
            .args(args)
            .env("DBT_CLOUD_ACCESS_URL", sandbox.base_url())
            .env("DBT_CLOUD_API_TOKEN", DEFAULT_TOKEN)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!stderr.contains(DEFAULT_TOKEN));
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            stderr,
        )
    };
    let (code, stdout, stderr) = run(&["config", "check", "--online", "--target", "dev"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("checked against dbt Cloud"), "{stdout}");
    let (code, _, stderr) = run(&["config", "check", "--online"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("2 problems"), "{stderr}");
    assert!(
        stderr.contains("target prod: environment 999 is not in project 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("target prod: job 424242 does not exist in account 1"),
        "{stderr}"
    );
    // dbt Cloud that cannot be asked is exit 6.
    let out = datachonk(dir.path())
        .args(["config", "check", "--online"])
        .env("DBT_CLOUD_ACCESS_URL", sandbox.base_url())
        .env("DBT_CLOUD_API_TOKEN", "wrong-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
}

/// Four sections' worth of mistakes: unknown keys, wrong types and invalid values.
const MANY_PROBLEMS: &str = "\
deploy:
  dbt_cloud:
    acount_id: 7
    job_id: twelve
    access_url: ftp://cloud.example.com
    timeout: forever
generate:
  dialect: oracle
  naming:
    modle: x
git:
  push_timeout: 0s
  protected_branches: main
";

#[test]
fn config_check_lists_every_problem_of_every_section_in_file_order() {
    let dir = project(MANY_PROBLEMS);
    let out = datachonk(dir.path())
        .args(["config", "check"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("8 problems in the configuration"),
        "{stderr}"
    );
    let expected = [
        "datachonk.yaml:3:5: unknown key `acount_id`",
        "did you mean `account_id`?",
        "datachonk.yaml:4:13: deploy.dbt_cloud.job_id: expected an integer",
        "datachonk.yaml:5:17: deploy.dbt_cloud.access_url",
        "datachonk.yaml:6:14: deploy.dbt_cloud.timeout: expected a duration",
        "datachonk.yaml:8:12: generate.dialect: unknown dialect `oracle`",
        "datachonk.yaml:10:5: unknown key `modle`",
        "did you mean `model`?",
        "datachonk.yaml:12:17: git.push_timeout: must be longer than 0s",
        "datachonk.yaml:13:23: git.protected_branches: expected a list",
    ];
    let mut from = 0;
    for says in expected {
        let at = stderr[from..]
            .find(says)
            .unwrap_or_else(|| panic!("{says:?} after byte {from}: {stderr}"));
        from += at + says.len();
    }

    // --json: one document with the same list, each problem placed and named by its key.
    let out = datachonk(dir.path())
        .args(["config", "check", "--json"])
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["outcome"], "usage_error");
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 8, "{v:#}");
    let keys: Vec<&str> = problems
        .iter()
        .map(|p| p["key"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        keys,
        [
            "deploy.dbt_cloud.acount_id",
            "deploy.dbt_cloud.job_id",
            "deploy.dbt_cloud.access_url",
            "deploy.dbt_cloud.timeout",
            "generate.dialect",
            "generate.naming.modle",
            "git.push_timeout",
            "git.protected_branches",
        ]
    );
    let lines: Vec<u64> = problems
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6, 8, 10, 12, 13]);
    assert!(problems[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("datachonk.yaml"));
    assert_eq!(problems[0]["column"], 5);
    assert_eq!(problems[0]["hint"], "did you mean `account_id`?");
    assert!(problems[4]["message"]
        .as_str()
        .unwrap()
        .contains("unknown dialect"));

    // Another command still stops at one problem, with the same exit code.
    let out = datachonk(dir.path())
        .args(["config", "show"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("datachonk.yaml:3:5"), "{stderr}");
    assert!(!stderr.contains("datachonk.yaml:8:12"), "{stderr}");

    // A clean file: exit 0, and --json says so.
    let clean = project("deploy:\n  dbt_cloud:\n    account_id: 7\n    job_id: 12\ngenerate:\n  dialect: duckdb\ngit:\n  push_timeout: 30s\n");
    datachonk(clean.path())
        .args(["config", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("valid"));
    let out = datachonk(clean.path())
        .args(["config", "check", "--json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["outcome"], "valid");
}

#[test]
fn a_syntax_error_is_the_only_problem_and_names_its_place() {
    let dir = project("generate:\n  dialect: oracle\ndeploy:\n  dbt_cloud: [\n");
    let out = datachonk(dir.path())
        .args(["config", "check", "--json"])
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{v:#}");
    assert_eq!(problems[0]["line"], 4, "{v:#}");
    assert!(problems[0]["column"].as_u64().unwrap() > 0, "{v:#}");
    let out = datachonk(dir.path())
        .args(["config", "check"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("1 problem in the configuration"),
        "{stderr}"
    );
    assert!(stderr.contains("datachonk.yaml:4:"), "{stderr}");
}

const EVERY_SECTION: &str = "\
deploy:
  dbt_cloud:
    project_id: 3
    default_target: dev
    targets:
      dev: {job_id: 11}
      prod: {job_id: 22, confirm: true}
generate:
  dialect: snowflake
  naming:
    model: \"base_{table}\"
  freshness:
    warn_after: {count: 12, period: hour}
git:
  protected_branches: [trunk]
";

#[test]
fn show_lists_every_section_with_each_values_provenance() {
    let dir = project(EVERY_SECTION);
    let env = [
        ("DBT_CLOUD_ACCOUNT_ID", "77"),
        ("DBT_CLOUD_API_TOKEN", FAKE_TOKEN),
    ];
    let v = show_json(dir.path(), &["--target", "dev"], &env);
    let text = v.to_string();
    assert!(!text.contains(FAKE_TOKEN), "token leaked: {text}");
    // Every section and every documented key of it.
    for s in datachonk::config::reference::SECTIONS {
        if s.path.is_empty() || s.path == "deploy" || s.path.contains("NAME") {
            continue;
        }
        let mut at = &v;
        for part in s.path.split('.') {
            at = &at[part];
        }
        for k in s.keys {
            if matches!(k.kind, datachonk::config::reference::Kind::Section) {
                continue;
            }
            assert!(
                at[k.key]["from"].is_string(),
                "{}.{} is shown: {v:#}",
                s.path,
                k.key
            );
        }
    }
    let d = &v["deploy"]["dbt_cloud"];
    // file:line
    assert_eq!(v["generate"]["dialect"]["value"], "snowflake");
    assert_eq!(v["generate"]["dialect"]["from"], "datachonk.yaml:9:12");
    assert_eq!(v["generate"]["dialect"]["source"]["kind"], "file");
    assert_eq!(
        v["generate"]["naming"]["model"]["from"],
        "datachonk.yaml:11:12"
    );
    assert_eq!(
        v["generate"]["freshness"]["warn_after"]["value"]["count"],
        12
    );
    assert_eq!(v["git"]["protected_branches"]["value"][0], "trunk");
    assert_eq!(
        v["git"]["protected_branches"]["from"],
        "datachonk.yaml:15:23"
    );
    assert_eq!(d["job_id"]["from"], "datachonk.yaml:6:21");
    // default
    assert_eq!(v["git"]["push_timeout"]["value"], "2m");
    assert_eq!(v["git"]["push_timeout"]["from"], "default");
    assert_eq!(v["generate"]["output_dir"]["from"], "default");
    assert_eq!(d["retries"]["from"], "default");
    // env
    assert_eq!(d["account_id"]["value"], 77);
    assert_eq!(d["account_id"]["from"], "env DBT_CLOUD_ACCOUNT_ID");
    assert_eq!(d["token"]["value"], "(set)");
    assert_eq!(d["token"]["from"], "env DBT_CLOUD_API_TOKEN");
    // flag
    assert_eq!(v["target"], "dev");
    assert_eq!(d["target"]["value"], "dev");
    assert_eq!(d["target"]["from"], "--target");
    assert_eq!(d["target"]["source"]["kind"], "flag");

    // The same in human output, grouped by section and aligned.
    let mut cmd = datachonk(dir.path());
    cmd.args(["config", "show", "--target", "dev"]);
    for (k, val) in env {
        cmd.env(k, val);
    }
    let out = cmd.assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!stdout.contains(FAKE_TOKEN), "token leaked: {stdout}");
    for title in [
        "\ngenerate:\n",
        "\ngenerate.naming:\n",
        "\ngenerate.primary_key:\n",
        "\ngenerate.freshness:\n",
        "\ngit:\n",
        "\ndeploy.dbt_cloud, target dev (--target):\n",
    ] {
        assert!(stdout.contains(title), "{title:?}: {stdout}");
    }
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key}: {stdout}"))
            .to_string()
    };
    assert!(
        line("dialect").contains("snowflake") && line("dialect").ends_with("# datachonk.yaml:9:12")
    );
    assert!(line("push_timeout").ends_with("# default"));
    assert!(line("account_id").ends_with("# env DBT_CLOUD_ACCOUNT_ID"));
    assert!(
        line("token").contains("(set)") && line("token").ends_with("# env DBT_CLOUD_API_TOKEN")
    );
    assert!(line("target").ends_with("# --target"));
    // Aligned: every value starts in the same column, every provenance too.
    let column = |l: &str| l.find('#').unwrap();
    assert_eq!(column(&line("dialect")), column(&line("push_timeout")));
    assert_eq!(column(&line("dialect")), column(&line("account_id")));

    // Without the token: said so, from nowhere.
    let v = show_json(dir.path(), &[], &[]);
    let prod = &v["deploy"]["dbt_cloud"]["targets"]["prod"];
    assert_eq!(prod["token"]["value"], serde_json::Value::Null);
    assert_eq!(prod["confirm"]["value"], true);
    assert!(
        prod["target"].is_null(),
        "each target is its own block: {prod:#}"
    );
}

/// (line, key, message) of each problem `config check --json` lists for `yaml`.
fn problems_of(yaml: &str) -> Vec<(u64, String, String)> {
    let dir = project(yaml);
    let out = datachonk(dir.path())
        .args(["config", "check", "--json"])
        .assert()
        .code(2);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().unwrap_or(0),
                p["key"].as_str().unwrap_or("").to_string(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn config_check_reads_past_problems_in_flow_blocks_nested_blocks_and_missing_keys() {
    // Several in one `{…}`: each is set aside in turn, the rest still read.
    let found = problems_of(
        "deploy:\n  dbt_cloud: {job_id: x, wait: 1, foo: 2, cause: \"\"}\ngit:\n  push_timeout: 0s\n",
    );
    let keys: Vec<&str> = found.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "deploy.dbt_cloud.job_id",
            "deploy.dbt_cloud.wait",
            "deploy.dbt_cloud.foo",
            "deploy.dbt_cloud.cause",
            "git.push_timeout"
        ],
        "{found:#?}"
    );
    assert!(found[0]
        .2
        .contains("deploy.dbt_cloud.job_id: expected an integer"));
    assert!(found[3].2.contains("the cause must not be empty"));
    // An unknown block is set aside whole; what follows it is still checked.
    let found =
        problems_of("deploi:\n  dbt_cloud:\n    job_id: 1\n# note\n\ngit:\n  push_timeout: 0s\n");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].2.contains("unknown key `deploi`"), "{found:#?}");
    assert_eq!((found[1].0, found[1].1.as_str()), (7, "git.push_timeout"));
    // A block without a key it needs says which; a wrongly typed required key is one problem,
    // not two (setting it aside does not also make it "missing").
    let found = problems_of(
        "generate:\n  freshness:\n    warn_after: {period: hour}\n    error_after: {count: x, period: day}\n  dialect: oracle\n",
    );
    let said: Vec<&str> = found.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(found.len(), 3, "{said:#?}");
    assert!(
        said[0].contains("generate.freshness.warn_after: `count` is required"),
        "{said:#?}"
    );
    assert!(
        said[1].contains("generate.freshness.error_after.count: expected an integer"),
        "{said:#?}"
    );
    assert!(said[2].contains("unknown dialect `oracle`"), "{said:#?}");
    // A value of each target and of the block: each once, where it was written.
    let found = problems_of(
        "deploy:\n  dbt_cloud:\n    targets:\n      dev: {wait: true, jobid: 3}\n      prod: {job_id: 0, threads_override: 0}\n    job_id: 4\n",
    );
    let lines: Vec<u64> = found.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lines, [4, 4, 5, 5, 6], "{found:#?}");
}

#[test]
fn a_syntax_error_after_a_refused_key_is_the_problem_reported() {
    // The deserializer would first refuse `x`; the file is not YAML at all, and that is said.
    let found = problems_of("x: 1\ngenerate: {dialect: [duckdb\n");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].0 == 2 && found[0].2 == "not valid YAML: unclosed bracket '['",
        "{found:#?}"
    );
    let dir = project("x: 1\ngenerate: {dialect: [duckdb\n");
    datachonk(dir.path())
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "datachonk.yaml:2:21: not valid YAML",
        ));
}

#[test]
fn show_says_when_a_value_comes_from_the_dbt_project() {
    let dir = project("git:\n  push_timeout: 30s\n");
    std::fs::write(
        dir.path().join("dbt_project.yml"),
        "name: shop\nversion: '1.0'\nmodel-paths: [\"src\"]\n",
    )
    .unwrap();
    let v = show_json(dir.path(), &[], &[]);
    let out = &v["generate"]["output_dir"];
    assert_eq!(out["value"], "src/staging", "{v:#}");
    assert_eq!(out["from"], "dbt project (dbt_project.yml model-paths)");
    assert_eq!(out["source"]["kind"], "project");
    assert_eq!(v["generate"]["dialect"]["from"], "default");
    assert_eq!(v["git"]["push_timeout"]["value"], "30s");
    assert_eq!(v["git"]["push_timeout"]["from"], "datachonk.yaml:2:17");
}

#[test]
fn config_check_stops_listing_at_a_bound_and_says_so() {
    let mut yaml = String::from("generate:\n");
    for i in 0..300 {
        yaml.push_str(&format!("  unknown_{i}: 1\n"));
    }
    let found = problems_of(&yaml);
    let last = found.last().unwrap();
    assert!(
        last.2
            .contains("more problems than the 200 listed; fix these and check again"),
        "{last:?}"
    );
    assert_eq!(found.len(), 201);
    assert!(found[0].2.contains("unknown key `unknown_0`"));
    assert_eq!(found[199].0, 201, "in file order: {:?}", found[199]);
}
