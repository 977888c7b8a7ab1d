//! Text from outside never drives the terminal: a job name and a failure message carrying
//! OSC 52 (clipboard write) and OSC 0 (window title) are printed as visible `\u{1b}` text by
//! `cloud jobs`, `cloud status`-style listings and `dbt-run --wait`; `--json` keeps the real
//! strings (JSON escapes them).

mod support;

use datachonk::sandbox::{Fixture, Sandbox, SandboxOptions};
use support::*;

const HOSTILE: &str = r#"
accounts: [{id: 1, name: "Acme \e]0;owned\a"}]
projects: [{id: 1, account_id: 1, name: analytics}]
environments: [{id: 1, project_id: 1, name: Production}]
jobs:
  - id: 1
    project_id: 1
    environment_id: 1
    name: "Nightly \e]52;c;ZWNobyBwd25lZA==\a"
    execute_steps: ["dbt build"]
    models: [stg_orders]
    run:
      queued_ms: 10
      starting_ms: 10
      step_ms: 20
      outcome: error
      failing_step: 4
      failures:
        - node: stg_orders
          message: "boom \e]0;pwned\a \x9b2J"
tokens:
  - {token: fake-admin-token-5b2e91, permissions: account_admin}
"#;

fn assert_no_control(text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert!(
        bad.is_empty(),
        "control characters {bad:?} reached the terminal:\n{text}"
    );
}

#[test]
fn job_names_and_failure_messages_are_shown_not_obeyed() {
    let fixture = Fixture::from_yaml_str(HOSTILE, "hostile").expect("fixture parses");
    let sb = Sandbox::start(SandboxOptions::default().with_fixture(fixture)).unwrap();
    let dir = workdir();

    let jobs = datachonk(&sb, dir.path(), &["cloud", "jobs"]);
    assert_eq!(jobs.code, 0, "{}", jobs.stderr);
    assert_no_control(&jobs.stdout);
    assert_no_control(&jobs.stderr);
    assert!(
        jobs.stdout.contains("Nightly \\u{1b}]52;c;"),
        "{}",
        jobs.stdout
    );

    let status = datachonk(&sb, dir.path(), &["cloud", "status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert_no_control(&status.stdout);
    assert!(
        status.stdout.contains("Acme \\u{1b}]0;owned\\u{7}"),
        "{}",
        status.stdout
    );

    let run = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_no_control(&run.stdout);
    assert_no_control(&run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("boom \\u{1b}]0;pwned\\u{7}"), "{all}");

    // --json: the real strings, escaped by JSON itself.
    let json = datachonk(&sb, dir.path(), &["cloud", "jobs", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert!(json.stdout.contains("\\u001b]52;c;"), "{}", json.stdout);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(doc.to_string().contains("Nightly \\u001b]52"), "{doc}");
}
