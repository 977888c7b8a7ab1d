//! A wait that shows life (issue 23 §1): while a run's state does not change, a heartbeat line
//! says it is still going — the step and how long it has run — at most every 30 s, so a CI log
//! never looks hung; `--quiet` keeps only the verdict.

mod support;

use std::thread;

use datachonk::sandbox::{Fixture, Sandbox, SandboxOptions};
use support::{datachonk_with, workdir, TOKEN};

/// One job whose dbt step runs for 50 s with nothing else changing.
const FIXTURE: &str = r#"
accounts: [{id: 1, name: Test Analytics}]
projects: [{id: 1, account_id: 1, name: analytics}]
environments: [{id: 1, project_id: 1, name: Production}]
jobs:
  - id: 1
    project_id: 1
    environment_id: 1
    name: Long build
    execute_steps: ["dbt build"]
    run: {queued_ms: 20, starting_ms: 20, step_ms: 30, step_durations_ms: {4: 50000}}
tokens:
  - {token: fake-admin-token-5b2e91, permissions: account_admin}
"#;

#[test]
fn a_long_quiet_step_gets_a_heartbeat_line_and_quiet_keeps_only_the_verdict() {
    let fixture = Fixture::from_yaml_str(FIXTURE, "heartbeat FIXTURE").unwrap();
    let sb = Sandbox::start(SandboxOptions::default().with_fixture(fixture)).unwrap();
    let (loud, quiet) = thread::scope(|s| {
        let loud = s.spawn(|| {
            let dir = workdir();
            datachonk_with(
                &sb,
                dir.path(),
                TOKEN,
                &["dbt-run", "--job-id", "1", "--wait"],
                &[],
            )
        });
        let quiet = s.spawn(|| {
            let dir = workdir();
            datachonk_with(
                &sb,
                dir.path(),
                TOKEN,
                &["dbt-run", "--job-id", "1", "--wait", "--quiet"],
                &[],
            )
        });
        (loud.join().unwrap(), quiet.join().unwrap())
    });
    assert_eq!(loud.code, 0, "{}", loud.stderr);
    let lines: Vec<&str> = loud.stderr.lines().collect();
    let step = lines
        .iter()
        .position(|l| l.contains("step 4 ") && l.ends_with("running"))
        .unwrap_or_else(|| panic!("no running step 4 line:\n{}", loud.stderr));
    let beats: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("still running: run "))
        .collect();
    // 50 s of one step: one line after 30-40 s of quiet (polls come at least every 10 s), never
    // more often than that.
    assert_eq!(beats.len(), 1, "{}", loud.stderr);
    let beat = beats[0];
    assert!(
        lines.iter().position(|l| l == beat).unwrap() > step,
        "{}",
        loud.stderr
    );
    assert!(
        beat.contains(", step 4 'Invoke dbt with `dbt build`' ") && beat.contains(" in all"),
        "{beat}"
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert!(!quiet.stderr.contains("still running"), "{}", quiet.stderr);
    assert!(quiet.stdout.contains("SUCCESS run"), "{}", quiet.stdout);
}
