//! `datachonk cloud …` against a real sandbox: the connection, jobs (all pages), runs and
//! artifacts, in human and JSON form.

mod support;

use datachonk::sandbox::{Fixture, Sandbox, SandboxOptions, TlsMode};
use support::*;

#[test]
fn status_shows_the_account_and_projects() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["cloud", "status"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Test Analytics") && r.stdout.contains("analytics"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("env DBT_CLOUD_API_TOKEN"), "{}", r.stdout);
    let r = datachonk(&sb, dir.path(), &["cloud", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["account"]["name"], "Test Analytics");
    assert_eq!(v["projects"][0]["id"], 1);
}

#[test]
fn jobs_follow_pagination_to_the_end() {
    // 230 jobs: three pages of at most 100.
    let mut yaml = String::from(
        "accounts: [{id: 1, name: Big}]\nprojects: [{id: 1, account_id: 1, name: big}]\n\
         environments: [{id: 1, project_id: 1, name: Prod}]\njobs:\n",
    );
    for id in 1..=230 {
        yaml.push_str(&format!("  - {{id: {id}, project_id: 1, environment_id: 1, name: job {id}, execute_steps: [dbt build]}}\n"));
    }
    yaml.push_str(&format!(
        "tokens: [{{token: {TOKEN}, permissions: account_admin}}]\n"
    ));
    let fixture = Fixture::from_yaml_str(&yaml, "big fixture").unwrap();
    let sb = Sandbox::start(SandboxOptions::default().with_fixture(fixture)).unwrap();
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["cloud", "jobs", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 230);
    assert_eq!(jobs[229]["id"], 230);
    let pages = sb
        .requests()
        .iter()
        .filter(|q| q.path.ends_with("/jobs/"))
        .count();
    assert_eq!(pages, 3);
}

#[test]
fn runs_list_show_and_artifacts() {
    let sb = sandbox(&[]);
    let dir = workdir();
    assert_eq!(
        datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]).code,
        0
    );
    assert_eq!(
        datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "2", "--wait"]).code,
        1
    );

    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<i64> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![2, 1], "newest first");

    let r = datachonk(
        &sb,
        dir.path(),
        &["cloud", "runs", "list", "--status", "error"],
    );
    assert!(
        r.stdout.contains("Error") && !r.stdout.contains("Success"),
        "{}",
        r.stdout
    );

    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "show", "2", "--logs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("step 4") && r.stdout.contains("| "),
        "{}",
        r.stdout
    );

    let out = dir.path().join("rr.json");
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "cloud",
            "artifacts",
            "get",
            "2",
            "run_results.json",
            "--step",
            "4",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rr: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(rr["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["status"] == "error"));

    let r = datachonk(
        &sb,
        dir.path(),
        &["cloud", "artifacts", "get", "2", "nope.json"],
    );
    assert_eq!(r.code, 6);
    assert!(
        r.stderr
            .contains("run 2 has no artifact nope.json in any step"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_sandbox_over_tls_is_trusted_through_datachonk_ca_cert() {
    let fixture = Fixture::from_yaml_str(FIXTURE, "fixture").unwrap();
    let sb = Sandbox::start(
        SandboxOptions::default()
            .with_fixture(fixture)
            .with_tls(TlsMode::SelfSigned),
    )
    .unwrap();
    assert!(sb.base_url().starts_with("https://"));
    let dir = workdir();
    let ca = sb.ca_path().expect("CA file").to_str().unwrap().to_string();
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "status"],
        &[("DATACHONK_CA_CERT", ca.as_str())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Without trusting the CA the connection is refused at once, saying why and what to do.
    let r = datachonk(&sb, dir.path(), &["cloud", "status", "-v"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(
        r.stderr.contains("not trusted") && r.stderr.contains("DATACHONK_CA_CERT"),
        "{}",
        r.stderr
    );
    // -v logs every attempt: a certificate failure is not retried.
    assert_eq!(r.stderr.matches("GET https://").count(), 1, "{}", r.stderr);
}

#[test]
fn an_artifact_path_that_climbs_out_is_refused_before_any_request() {
    let sb = sandbox(&[]);
    let dir = workdir();
    for path in ["../../X.json", "/etc/passwd", "a/%2e%2e/%2E%2E/X.json"] {
        let r = datachonk(&sb, dir.path(), &["cloud", "artifacts", "get", "1", path]);
        assert_eq!(r.code, 2, "{path}: {}", r.stderr);
        assert!(r.stderr.contains("artifact path"), "{}", r.stderr);
    }
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
}

#[test]
fn cloud_json_failures_print_one_document() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "show", "99", "--json"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "api_error");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("run 99"),
        "{v}"
    );
    let r = datachonk(
        &sb,
        dir.path(),
        &["cloud", "artifacts", "get", "1", "../x.json", "--json"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "usage_error");
    // A missing subcommand (clap prints the help, exit 2) is a usage error too.
    let r = datachonk(&sb, dir.path(), &["cloud", "--json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(v["outcome"], "usage_error");
}

#[test]
fn an_unparsable_request_timeout_is_a_usage_error_naming_the_variable() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "status"],
        &[("DATACHONK_REQUEST_TIMEOUT", "30s")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("DATACHONK_REQUEST_TIMEOUT"),
        "{}",
        r.stderr
    );
    // Likewise a CA file that cannot be read: refused, not silently left out.
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "status"],
        &[("DATACHONK_CA_CERT", "/nonexistent/ca.pem")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("DATACHONK_CA_CERT"), "{}", r.stderr);
    assert!(sb.requests().is_empty());
}

#[test]
fn a_token_with_a_line_break_is_refused_without_echoing_it() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let token = "fake-first-half-7a1c\nfake-second-half-93bd";
    let r = datachonk_with(&sb, dir.path(), token, &["cloud", "status"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("DBT_CLOUD_API_TOKEN"), "{}", r.stderr);
    for half in token.lines() {
        assert!(
            !r.stderr.contains(half) && !r.stdout.contains(half),
            "{}",
            r.stderr
        );
    }
    assert!(sb.requests().is_empty());
}

#[test]
fn an_html_answer_says_the_access_url_is_probably_wrong() {
    let page = support::rogue::Rogue::start(support::rogue::Behaviour::Answer {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: "<!DOCTYPE html>\n<html><body>Sign in</body></html>".into(),
    });
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "status"],
        &[("DBT_CLOUD_ACCESS_URL", page.url.as_str())],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("answered HTML, not the dbt Cloud API: is the access URL right?"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_huge_error_message_is_echoed_only_in_part() {
    let message = "x".repeat(100_000);
    let body = format!(
        r#"{{"status": {{"code": 400, "is_success": false, "user_message": "{message}"}}, "data": null}}"#
    );
    let bad = support::rogue::Rogue::start(support::rogue::Behaviour::Answer {
        status: 400,
        content_type: "application/json",
        body,
    });
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "status"],
        &[("DBT_CLOUD_ACCESS_URL", bad.url.as_str())],
    );
    assert_eq!(r.code, 6, "{}", r.stderr.len());
    assert!(
        r.stderr.contains("xxx…"),
        "{}",
        &r.stderr[..200.min(r.stderr.len())]
    );
    assert!(r.stderr.len() < 2_000, "{} bytes of stderr", r.stderr.len());
}

#[test]
fn an_endless_answer_is_refused_at_the_limit() {
    // 256 MiB streamed without a length: the client must stop at its JSON limit (64 MiB).
    let endless = support::rogue::Rogue::start(support::rogue::Behaviour::Endless {
        max_bytes: 256 << 20,
    });
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "status"],
        &[("DBT_CLOUD_ACCESS_URL", endless.url.as_str())],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("larger than 64 MiB"), "{}", r.stderr);

    // A 2 GB Content-Length is refused before reading anything.
    let huge =
        support::rogue::Rogue::start(support::rogue::Behaviour::Announces { length: 2 << 30 });
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "status"],
        &[("DBT_CLOUD_ACCESS_URL", huge.url.as_str())],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("larger than 64 MiB"), "{}", r.stderr);
}
