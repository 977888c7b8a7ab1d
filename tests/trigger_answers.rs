//! An unreadable 200 to a trigger (a body cut short after the run was created) is an
//! unconfirmed trigger, never a plain API error: the run is looked up by the trigger's
//! marker and adopted — one run, the right verdict — so a rerun cannot create a second.

mod support;

use support::*;

#[test]
fn a_trigger_answered_with_an_unreadable_200_adopts_the_run_it_created() {
    let sb = sandbox(&["garble:method=POST:path=/run/:after:times=1"]);
    let dir = workdir();
    let out = datachonk(
        &sb,
        dir.path(),
        &["dbt-run", "--job-id", "1", "--wait", "--json", "-v"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let runs = sb.runs();
    assert_eq!(runs.len(), 1, "one run, not two: {runs:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one document");
    assert_eq!(doc["run"]["id"], runs[0].id, "{doc}");
    assert_eq!(doc["outcome"], "success", "{doc}");
    assert!(out.stderr.contains("cannot be read"), "{}", out.stderr);
}

#[test]
fn an_unreadable_200_with_no_run_listed_is_an_unconfirmed_trigger_not_sent_again() {
    // Before the handler: the answer is garbled and (here) no run exists to be found.
    let sb = sandbox(&["garble:method=POST:path=/run/:times=1"]);
    let dir = workdir();
    let out = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(out.code, 6, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("trigger unconfirmed: a run may exist"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("datachonk cloud runs list --job-id 1"),
        "the look-up command: {}",
        out.stderr
    );
    let posts = sb.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "the trigger is not sent again");
}
