//! The deploy core's event stream, against the real sandbox started in-process: the events a
//! consumer (the terminal, --json, next JUnit and heartbeats) receives, in order, for a
//! success, an error followed by a targeted retry, and a timeout that cancels the run.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use datachonk::cloud::insight::ArtifactStore;
use datachonk::cloud::{Client, ClientOptions, TriggerRequest};
use datachonk::deploy::{Deployment, Ending, Event, Outcome, RunPlan};
use datachonk::signals::Interrupt;
use secrecy::SecretString;
use support::*;

/// Every event as one short line; heartbeats are counted apart (their number follows the
/// poll schedule, not the run).
#[derive(Default)]
struct Recorder {
    lines: Mutex<Vec<String>>,
}

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn without_heartbeats(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l != "heartbeat")
            .collect()
    }
}

impl datachonk::deploy::Reporter for Recorder {
    fn report(&self, event: &Event<'_>) {
        let line = match event {
            Event::Triggered { job_id, .. } => format!("triggered job {job_id}"),
            Event::Link { .. } => "link".into(),
            Event::Status { run, .. } => format!("status {}", run.run_status().label()),
            Event::Step { step, .. } => format!(
                "step {} {}",
                step.index.unwrap_or(0),
                step.run_status().label()
            ),
            Event::Heartbeat { .. } => "heartbeat".into(),
            Event::Verdict {
                run, retry_hint, ..
            } => format!("verdict {} hint={retry_hint}", run.run_status().label()),
            Event::Retry { attempt, of, .. } => format!("retry {attempt}/{of}"),
            Event::TimedOut {
                cancel_asked,
                cancelled,
                ..
            } => format!("timed out asked={cancel_asked} cancelled={cancelled}"),
            other => format!("other {other:?}"),
        };
        self.lines.lock().unwrap().push(line);
    }
}

fn client(sb: &datachonk::sandbox::RunningSandbox) -> Client {
    Client::new(
        &sb.base_url(),
        1,
        &SecretString::from(TOKEN.to_string()),
        "test",
        ClientOptions::default(),
    )
    .unwrap()
}

fn plan(job_id: i64) -> RunPlan {
    RunPlan {
        job_id,
        request: TriggerRequest {
            cause: "deploy events test".into(),
            ..TriggerRequest::default()
        },
        wait: true,
        timeout: None,
        cancel_on_timeout: false,
        cancel_on_interrupt: false,
        retries: 0,
        store: ArtifactStore::none(),
    }
}

fn deploy(
    sb: &datachonk::sandbox::RunningSandbox,
    plan: &RunPlan,
    rec: &Recorder,
) -> datachonk::deploy::Verdict {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = client(sb);
    rt.block_on(async {
        let mut interrupt = Interrupt::listen().unwrap();
        Deployment::new(&client, rec, &mut interrupt)
            .run_one(plan)
            .await
            .expect("the deployment ends with a verdict")
    })
}

/// The statuses in `lines`, in order, without repeats.
fn statuses(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in lines.iter().filter(|l| l.starts_with("status ")) {
        if out.last() != Some(l) {
            out.push(l.clone());
        }
    }
    out
}

/// Lifecycle rank of a status line: a run never goes back.
fn rank(status: &str) -> u8 {
    match status {
        "status Queued" => 1,
        "status Starting" => 2,
        "status Running" => 3,
        _ => 4,
    }
}

#[test]
fn a_success_reports_trigger_progress_and_one_verdict_in_order() {
    let sb = sandbox(&[]);
    let rec = Recorder::default();
    let verdict = deploy(&sb, &plan(1), &rec);

    assert_eq!(verdict.outcome(), Outcome::Success);
    assert_eq!(verdict.attempts.len(), 1);
    let lines = rec.without_heartbeats();
    assert_eq!(lines[..2], ["triggered job 1", "link"], "{lines:?}");
    assert_eq!(
        lines[lines.len() - 2..],
        ["status Success", "verdict Success hint=true"],
        "{lines:?}"
    );
    let middle = &lines[2..lines.len() - 2];
    assert!(
        middle
            .iter()
            .all(|l| l.starts_with("status ") || l.starts_with("step ")),
        "only progress between the trigger and the verdict: {lines:?}"
    );
    let seen = statuses(&lines);
    assert!(
        seen.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "statuses go forward: {seen:?}"
    );
    // The job has four steps; each ends ok before the verdict.
    for i in 1..=4 {
        assert!(
            middle.contains(&format!("step {i} Success")),
            "step {i} reported: {lines:?}"
        );
    }
    // The 1.2 s step is polled while it runs: the pulse a heartbeat is drawn from.
    let all = rec.lines();
    let first_hb = all.iter().position(|l| l == "heartbeat");
    let verdict_at = all.iter().position(|l| l.starts_with("verdict")).unwrap();
    assert!(
        first_hb.is_some_and(|h| h > 1 && h < verdict_at),
        "heartbeats come between the trigger and the verdict: {all:?}"
    );
}

#[test]
fn an_error_is_reported_then_retried_and_the_retry_decides() {
    let sb = sandbox(&[]);
    let rec = Recorder::default();
    let mut p = plan(2);
    p.retries = 1;
    let verdict = deploy(&sb, &p, &rec);

    assert_eq!(verdict.attempts.len(), 2, "{:?}", rec.lines());
    assert!(matches!(
        &verdict.attempts[0].ending,
        Ending::Finished { run, .. } if run.run_status().label() == "Error"
    ));
    let retry = verdict.attempts[0]
        .retry
        .as_ref()
        .expect("the first attempt was retried");
    assert_eq!(retry.run_id, verdict.last().ending.run().id);
    assert_eq!(verdict.outcome(), Outcome::Success, "{:?}", rec.lines());

    let lines = rec.without_heartbeats();
    let key: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| {
            l.starts_with("triggered") || l.starts_with("verdict") || l.starts_with("retry")
        })
        .collect();
    // The failed verdict says no retry hint (a retry follows); the retry's verdict does.
    assert_eq!(
        key,
        [
            "triggered job 2",
            "verdict Error hint=false",
            "retry 1/1",
            "verdict Success hint=true"
        ],
        "{lines:?}"
    );
    let error_at = lines.iter().position(|l| l == "status Error").unwrap();
    let retry_at = lines.iter().position(|l| l == "retry 1/1").unwrap();
    assert!(
        error_at < retry_at,
        "the Error is seen before the retry: {lines:?}"
    );
    assert_eq!(lines.last().unwrap(), "verdict Success hint=true");
}

#[test]
fn a_timeout_cancels_when_asked_and_ends_the_stream_with_it() {
    let sb = sandbox(&[]);
    let rec = Recorder::default();
    let mut p = plan(3);
    p.timeout = Some(Duration::from_millis(1500));
    p.cancel_on_timeout = true;
    let verdict = deploy(&sb, &p, &rec);

    assert_eq!(verdict.outcome(), Outcome::Timeout);
    let Ending::TimedOut { run, cancelled } = &verdict.last().ending else {
        panic!("a timeout: {:?}", verdict.last().ending);
    };
    assert!(*cancelled, "the run was cancelled: {:?}", rec.lines());
    assert_eq!(run.run_status().label(), "Cancelled");
    let lines = rec.without_heartbeats();
    assert_eq!(lines[..2], ["triggered job 3", "link"], "{lines:?}");
    assert_eq!(
        lines.last().unwrap(),
        "timed out asked=true cancelled=true",
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("verdict")),
        "no verdict for a run given up on: {lines:?}"
    );
}
