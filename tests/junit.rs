//! `--junit FILE` (issue 24 §1): the verdict as JUnit XML, the report CI test tabs read —
//! validated with xmllint against tests/fixtures/junit.xsd (the common JUnit shape GitLab,
//! the GitHub test-report actions and Jenkins read), for a success, an error with its failing
//! node and dbt's message, a cancelled run, several jobs at once and `cloud runs wait`.
//!
//! xmllint comes from `bash scripts/setup-test-deps` (libxml2-utils); without it these FAIL.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn valid(report: &Path) -> String {
    let xml = std::fs::read_to_string(report)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", report.display()));
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(report)
        .output()
        .expect("xmllint runs: install it with `bash scripts/setup-test-deps`");
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    xml
}

fn attr_of(xml: &str, element: &str, attr: &str) -> String {
    let start = xml
        .find(&format!("<{element} "))
        .unwrap_or_else(|| panic!("no <{element}> in {xml}"));
    let tag = &xml[start..xml[start..].find('>').unwrap() + start];
    let key = format!(" {attr}=\"");
    let at = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in {tag}"))
        + key.len();
    tag[at..at + tag[at..].find('"').unwrap()].to_string()
}

#[test]
fn a_failed_run_is_a_failing_report_with_dbts_message_and_a_success_a_passing_one() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let report = dir.path().join("reports/dbt.xml");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();

    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "2",
            "--wait",
            "--junit",
            "reports/dbt.xml",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let xml = valid(&report);
    assert!(
        attr_of(&xml, "testsuites", "failures")
            .parse::<u32>()
            .unwrap()
            >= 1,
        "{xml}"
    );
    assert!(
        attr_of(&xml, "testsuite", "name").starts_with("job 2 run 1 step 4: "),
        "{xml}"
    );
    assert!(xml.contains("stg_orders\" classname=\"model\""), "{xml}");
    assert!(
        xml.contains(
            "<failure message=\"column &quot;amount&quot; does not exist\" type=\"error\">"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<property name=\"url\" value=\"") && xml.contains("/runs/1/"),
        "{xml}"
    );
    assert!(!xml.contains(TOKEN));

    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "1",
            "--wait",
            "--junit",
            "reports/dbt.xml",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let xml = valid(&report);
    assert_eq!(attr_of(&xml, "testsuites", "failures"), "0", "{xml}");
    assert!(
        attr_of(&xml, "testsuites", "tests").parse::<u32>().unwrap() >= 1,
        "{xml}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(report.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["dbt.xml"], "no temporary file left beside it");
}

#[test]
fn a_cancelled_run_never_makes_a_green_report() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "4", "--wait", "--junit", "out.xml"],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let xml = valid(&dir.path().join("out.xml"));
    assert_ne!(attr_of(&xml, "testsuites", "failures"), "0", "{xml}");
    assert!(xml.contains("cancelled"), "{xml}");
}

#[test]
fn several_jobs_and_runs_wait_report_every_run() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run", "--job-id", "1", "--job-id", "2", "--wait", "--junit", "many.xml",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let xml = valid(&dir.path().join("many.xml"));
    assert!(xml.contains("name=\"job 1: run "), "{xml}");
    assert!(xml.contains("name=\"job 2: run "), "{xml}");

    // Runs started elsewhere: `cloud runs wait` reports each.
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = sb.runs().last().unwrap().id.to_string();
    let r = datachonk(
        &sb,
        dir.path(),
        &["cloud", "runs", "wait", &id, "--junit", "wait.xml"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let xml = valid(&dir.path().join("wait.xml"));
    assert!(xml.contains(&format!("run {id} step 4: ")), "{xml}");
    assert!(xml.contains("<failure "), "{xml}");
}

#[test]
fn runs_show_reports_a_finished_run_as_the_waiting_command_did_and_refuses_one_still_going() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "2",
            "--wait",
            "--junit",
            "waited.xml",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let id = sb.runs().last().unwrap().id.to_string();

    // Any time later, from the run's id alone: the same report.
    let r = datachonk(
        &sb,
        dir.path(),
        &["cloud", "runs", "show", &id, "--junit", "shown.xml"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shown = valid(&dir.path().join("shown.xml"));
    assert_eq!(shown, valid(&dir.path().join("waited.xml")));
    assert!(
        shown.contains("<failure message=\"column &quot;amount&quot; does not exist\""),
        "{shown}"
    );
    assert!(
        attr_of(&shown, "testsuite", "name").starts_with(&format!("job 2 run {id} step 4: ")),
        "{shown}"
    );

    // A run still going has no verdict: usage error, no file.
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let slow = sb.runs().last().unwrap().id.to_string();
    let r = datachonk(
        &sb,
        dir.path(),
        &["cloud", "runs", "show", &slow, "--junit", "going.xml"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("run {slow} is ")) && r.stderr.contains("not finished"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("cloud runs wait"), "{}", r.stderr);
    assert!(!dir.path().join("going.xml").exists());
}
