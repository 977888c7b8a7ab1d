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
    assert!(stdout.contains("<redacted>"), "{stdout}");
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
        "access_url",
        "account_id",
        "project_id",
        "environment_id",
        "job_id",
        "token_env",
        "auto_trigger",
        "wait",
        "timeout",
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
