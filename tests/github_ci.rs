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
