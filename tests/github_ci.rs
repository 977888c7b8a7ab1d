//! Under GitHub Actions (`GITHUB_ACTIONS=true`) the verdict lands where people look (issue 24
//! §1): an `::error` annotation per failing node on stderr (stdout keeps `--json`'s document),
//! and a Markdown summary appended to `$GITHUB_STEP_SUMMARY`; outside Actions, neither.

mod support;

use support::*;

#[test]
fn a_failing_run_annotates_its_nodes_and_summarises_the_verdict() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step's summary\n").unwrap();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "2", "--wait", "--json"],
        &env,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is the document");
    assert_eq!(doc["outcome"], "error");
    let annotations: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 1, "{}", r.stderr);
    assert!(
        annotations[0].starts_with(
            "::error title=dbt model stg_orders (error)::column \"amount\" does not exist (run 1)"
        ),
        "{}",
        annotations[0]
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step's summary\n### datachonk: ERROR\n"),
        "{md}"
    );
    assert!(md.contains("[run 1]("), "{md}");
    assert!(md.contains("| failing node | status | message |"), "{md}");
    assert!(
        md.contains("stg_orders` | error | column \"amount\" does not exist |"),
        "{md}"
    );
    assert!(md.contains("`datachonk cloud runs retry 1 --wait`"), "{md}");

    // A success adds its own section and no annotation.
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "1", "--wait"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.lines().any(|l| l.starts_with("::")),
        "{}",
        r.stderr
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### datachonk: SUCCESS\n"), "{md}");
}

#[test]
fn outside_github_actions_nothing_is_annotated_or_summarised() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let summary = dir.path().join("summary.md");
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "2", "--wait"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        !r.stderr.lines().any(|l| l.starts_with("::")),
        "{}",
        r.stderr
    );
    assert!(!summary.exists());
}

/// The lines of `stderr` between GitLab's start and end markers of section `name`, or `None`
/// when it is not opened and closed in order.
fn section<'a>(stderr: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let lines: Vec<&str> = stderr.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("section_start:") && l.contains(&format!(":{name}")))?;
    let end = lines
        .iter()
        .position(|l| l.contains("section_end:") && l.ends_with(&format!(":{name}\r\x1b[0K")))?;
    (start < end).then(|| lines[start + 1..end].to_vec())
}

#[test]
fn under_gitlab_ci_the_wait_and_the_failure_report_fold_into_sections() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let gitlab = [("GITLAB_CI", "true"), ("GITHUB_ACTIONS", "")];
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "2", "--wait"],
        &gitlab,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let start = r
        .stderr
        .lines()
        .find(|l| l.contains("section_start:"))
        .expect("a section");
    assert!(
        start.starts_with("\x1b[0Ksection_start:")
            && start.contains(":datachonk_wait_1[collapsed=true]\r\x1b[0Kwaiting for run 1"),
        "{start:?}"
    );
    let wait = section(&r.stderr, "datachonk_wait_1").expect("the wait folded");
    assert!(wait.iter().any(|l| l.starts_with("run 1: ")), "{wait:?}");
    assert!(wait.iter().any(|l| l.contains("  step ")), "{wait:?}");
    // The report is on stdout, and so are its markers.
    let report = section(&r.stdout, "datachonk_report_1").expect("the report folded");
    assert!(
        report.iter().any(|l| l.contains("stg_orders")),
        "{report:?}\n{}",
        r.stderr
    );
    // Outside GitLab, no markers.
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "2", "--wait"],
        &[("GITLAB_CI", ""), ("GITHUB_ACTIONS", "")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("section_"), "{}", r.stderr);
    assert!(!r.stdout.contains("section_"), "{}", r.stdout);
}
