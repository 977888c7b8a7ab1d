//! `datachonk watch`, the sensor: new successful runs of an upstream job trigger a downstream
//! job exactly once — across restarts, a crash between trigger and save, and a second watcher
//! — against the sandbox over HTTP.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use datachonk::sandbox::RunningSandbox;
use support::*;

const UPSTREAM: &str = "1";
const DOWNSTREAM: i64 = 4;

fn watch(sb: &RunningSandbox, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "watch",
        "--on-success-of",
        UPSTREAM,
        "--trigger",
        "4",
        "--once",
    ];
    args.extend_from_slice(extra);
    datachonk(sb, dir, &args)
}

fn upstream_success(sb: &RunningSandbox, dir: &Path) -> i64 {
    let r = datachonk(
        sb,
        dir,
        &["dbt-run", "--job-id", UPSTREAM, "--wait", "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["run"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no run id in {}", r.stdout))
}

fn downstream_causes(sb: &RunningSandbox) -> Vec<String> {
    sb.runs()
        .into_iter()
        .filter(|r| r.job_id == DOWNSTREAM)
        .map(|r| r.trigger.cause)
        .collect()
}

fn state(dir: &Path) -> serde_json::Value {
    let path = dir.join(".datachonk/watch/1-4.json");
    serde_json::from_slice(&std::fs::read(path).expect("state file")).unwrap()
}

fn set_state(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut s = state(dir);
    edit(&mut s);
    std::fs::write(
        dir.join(".datachonk/watch/1-4.json"),
        serde_json::to_vec(&s).unwrap(),
    )
    .unwrap();
}

#[test]
fn each_new_upstream_success_triggers_the_downstream_job_once() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let before = upstream_success(&sb, dir.path());

    // The first start remembers where the upstream job is and triggers nothing.
    let first = watch(&sb, dir.path(), &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(downstream_causes(&sb).is_empty());
    assert_eq!(state(dir.path())["last_upstream_run"], before);

    let b = upstream_success(&sb, dir.path());
    let c = upstream_success(&sb, dir.path());
    let second = watch(&sb, dir.path(), &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let causes: Vec<String> = downstream_causes(&sb)
        .iter()
        .map(|c| without_marker(c).to_string())
        .collect();
    assert_eq!(
        causes,
        [
            format!("After run {b} of job \"CI validate\" succeeded"),
            format!("After run {c} of job \"CI validate\" succeeded"),
        ]
    );
    assert!(
        second.stdout.contains(&format!(
            "run {c} of job 1 (CI validate) succeeded → triggered run"
        )),
        "{}",
        second.stdout
    );

    // Nothing new: nothing triggered.
    let third = watch(&sb, dir.path(), &[]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(downstream_causes(&sb).len(), 2);

    // Killed between the trigger and the save (state says C is pending): C's run is found by
    // its cause and not triggered again.
    set_state(dir.path(), |s| {
        s["last_upstream_run"] = b.into();
        s["pending_upstream_run"] = c.into();
    });
    let recovered = watch(&sb, dir.path(), &[]);
    assert_eq!(recovered.code, 0, "{}", recovered.stderr);
    assert_eq!(downstream_causes(&sb).len(), 2, "no second run for {c}");
    assert_eq!(state(dir.path())["last_upstream_run"], c);

    // Killed after saving "pending" but before the trigger went out: triggered exactly once.
    let d = upstream_success(&sb, dir.path());
    set_state(dir.path(), |s| s["pending_upstream_run"] = d.into());
    let resumed = watch(&sb, dir.path(), &[]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let causes = downstream_causes(&sb);
    assert_eq!(causes.len(), 3);
    assert!(without_marker(&causes[2]).starts_with(&format!("After run {d} ")));

    // A failed upstream run triggers nothing.
    let failed = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "2", "--wait"]);
    assert_eq!(failed.code, 1);
    assert_eq!(watch(&sb, dir.path(), &[]).code, 0);
    assert_eq!(downstream_causes(&sb).len(), 3);
}

#[test]
fn upstream_runs_older_than_the_look_back_are_not_triggered_after_a_restart() {
    let sb = sandbox(&[]);
    let dir = workdir();
    assert_eq!(watch(&sb, dir.path(), &[]).code, 0);
    let old = upstream_success(&sb, dir.path());
    let late = watch(&sb, dir.path(), &["--look-back", "1ms"]);
    assert_eq!(late.code, 0, "{}", late.stderr);
    assert!(
        late.stderr.contains("finished before the look-back"),
        "{}",
        late.stderr
    );
    assert!(downstream_causes(&sb).is_empty());
    assert_eq!(state(dir.path())["last_upstream_run"], old);
}

#[test]
fn a_second_watcher_of_the_same_pair_is_refused_and_sigterm_saves_and_exits_143() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let mut first = spawn_datachonk(
        &sb,
        dir.path(),
        &[
            "watch",
            "--on-success-of",
            UPSTREAM,
            "--trigger",
            "4",
            "--interval",
            "1h",
        ],
    );
    // Its state file appears once it holds the lock and has read the upstream job.
    let until = Instant::now() + Duration::from_secs(30);
    while !dir.path().join(".datachonk/watch/1-4.json").exists() {
        assert!(Instant::now() < until, "the first watcher never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = watch(&sb, dir.path(), &[]);
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("another datachonk watch holds"),
        "{}",
        second.stderr
    );

    // SAFETY: signalling our own child by pid.
    unsafe {
        libc_kill(first.id() as i32, 15);
    }
    let status = exit_within(
        &mut first,
        Duration::from_secs(10),
        "the watcher after SIGTERM",
    );
    assert_eq!(status.code(), Some(143));
    // The lock died with it: a new watcher runs.
    assert_eq!(watch(&sb, dir.path(), &[]).code, 0);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
