//! Everything after the verdict (artifacts, node summary, failure report, retries) runs
//! inside the `--timeout` deadline: a run whose verdict is known in a second does not wait
//! for artifact requests that never answer; the verdict's exit code stands.

mod support;

use support::*;

/// Artifact requests hang for ten minutes; the job errors within a second.
const HANGING_ARTIFACTS: &str = "latency:ms=600000:method=GET:path=/artifacts/";

#[test]
fn the_node_summary_is_skipped_at_the_deadline_and_the_verdict_stands() {
    let sb = sandbox(&[HANGING_ARTIFACTS]);
    let dir = workdir();
    // The whole command is bounded by the runner's own limit (120 s) far below the hang.
    let out = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "2",
            "--wait",
            "--timeout",
            "3s",
            "--retries",
            "1",
        ],
    );
    assert_eq!(
        out.code, 1,
        "the run's Error, not the deadline's 4:\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(out.stdout.contains("ERROR"), "{}", out.stdout);
    assert!(
        out.stdout.contains("node summary skipped (deadline)"),
        "{}",
        out.stdout
    );
    assert_eq!(sb.runs().len(), 1, "no retry after the deadline");

    let json = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "2",
            "--wait",
            "--timeout",
            "3s",
            "--json",
        ],
    );
    assert_eq!(json.code, 1, "{}", json.stderr);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("one document");
    assert_eq!(doc["outcome"], "error", "{doc}");
    assert_eq!(
        doc["nodes_unavailable"], "node summary skipped (deadline)",
        "{doc}"
    );
}
