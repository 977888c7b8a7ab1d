//! The GitHub Action (`action.yml` → `ci/github-action.sh`) as a runner runs it: a simulated
//! `GITHUB_*` environment, the release archive served from 127.0.0.1 (made from the real
//! binary), install.sh checking its checksum, and the real sandbox as dbt Cloud. The step's
//! exit code is datachonk's, the outputs land in `$GITHUB_OUTPUT`, quotes in the command group
//! words without anything being evaluated, and a cancel reaches datachonk.

mod github_support;
mod release_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use datachonk::sandbox::{RunStatus, RunningSandbox};
use github_support as github;
use release_support::{release_folder, serve};
use support::{assert_no_token, exit_within, sandbox, wait_for_runs, Run, TOKEN};

/// The environment action.yml gives its step: each `${{ inputs.NAME }}` is the input `given`
/// (else its default in action.yml), `${{ github.token }}` the workflow's token.
fn action_env(given: &[(&str, &str)], github_token: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"))
        .expect("action.yml");
    let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("action.yml is YAML");
    fn eval(value: &str, doc: &serde_json::Value, given: &[(&str, &str)], token: &str) -> String {
        let expr = value
            .trim()
            .strip_prefix("${{")
            .and_then(|v| v.strip_suffix("}}"))
            .map(str::trim);
        match expr {
            None => value.to_string(),
            Some("github.token") => token.to_string(),
            Some(e) => {
                let name = e.strip_prefix("inputs.").unwrap_or_else(|| panic!("{e}"));
                match given.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => v.to_string(),
                    None => {
                        let default = doc["inputs"][name]["default"].as_str();
                        eval(default.unwrap_or_default(), doc, given, token)
                    }
                }
            }
        }
    }
    let env = doc["runs"]["steps"][0]["env"]
        .as_object()
        .expect("the step's env");
    env.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                eval(v.as_str().unwrap_or_default(), &doc, given, github_token),
            )
        })
        .collect()
}

struct Runner {
    _root: tempfile::TempDir,
    base: String,
    temp: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let root = tempfile::tempdir().unwrap();
        release_folder(root.path(), None);
        let server = serve(root.path().to_path_buf());
        let base = format!("{}/v0.1.0", server.base);
        Runner {
            _root: root,
            base,
            temp: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    /// The action's step, as `runs.steps[0]` of action.yml runs it.
    fn step(&self, sb: &RunningSandbox, command: &str) -> Command {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let work = self.path("work");
        std::fs::create_dir_all(&work).unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(repo.join("ci/github-action.sh")).current_dir(&work);
        for (name, _) in datachonk::config::ENV_VARS {
            cmd.env_remove(name);
        }
        cmd.env("HOME", self.path("home"))
            .env("NO_COLOR", "1")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", repo)
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("GITHUB_PATH", self.path("path"))
            .env("RUNNER_TEMP", self.path("runner-temp"))
            .envs(action_env(
                &[
                    ("command", command),
                    ("version", "v0.1.0"),
                    ("dbt-cloud-api-token", TOKEN),
                ],
                github::GITHUB_TOKEN,
            ))
            .env("DATACHONK_BASE_URL", &self.base)
            .env("DBT_CLOUD_ACCESS_URL", sb.base_url())
            .env("DBT_CLOUD_ACCOUNT_ID", "1");
        cmd
    }

    fn run(&self, sb: &RunningSandbox, command: &str) -> Run {
        let out: Output = self.step(sb, command).output().unwrap();
        Run::checked(out, TOKEN)
    }

    fn outputs(&self) -> String {
        std::fs::read_to_string(self.path("output")).unwrap_or_default()
    }
}

#[test]
fn the_action_installs_the_release_and_passes_the_verdict_through() {
    let sb = sandbox(&[]);
    let runner = Runner::new();

    let ok = runner.run(
        &sb,
        r#"dbt-run --job-id 1 --wait --cause "CI for pull request 7" --git-sha abc1234"#,
    );
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("SUCCESS run 1"), "{}", ok.stdout);
    // The install is checksum-checked and said; how long the step took to reach datachonk is
    // what the action costs a workflow.
    assert!(ok.stderr.contains("downloading"), "{}", ok.stderr);
    let ready = ok
        .stderr
        .lines()
        .find(|l| l.starts_with("datachonk action: datachonk "))
        .unwrap_or_else(|| panic!("no ready line in {}", ok.stderr));
    eprintln!("{ready}");
    assert!(ready.contains(" ready after "), "{ready}");
    assert_eq!(runner.outputs(), "exit-code=0\n");
    let path = std::fs::read_to_string(runner.path("path")).unwrap();
    assert!(path.trim_end().ends_with("datachonk-v0.1.0/bin"), "{path}");
    let runs = sb.runs();
    assert_eq!(runs.len(), 1);
    // The quoted cause is one argument, passed as written.
    assert!(
        runs[0].trigger.cause.starts_with("CI for pull request 7"),
        "{:?}",
        runs[0].trigger.cause
    );
    assert_eq!(runs[0].trigger.git_sha.as_deref(), Some("abc1234"));

    // A failing run fails the step with datachonk's own code, and the binary installed by the
    // first step is reused (nothing downloaded again).
    let failed = runner.run(&sb, "dbt-run --job-id 2 --wait");
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(!failed.stderr.contains("downloading"), "{}", failed.stderr);
    assert_eq!(runner.outputs(), "exit-code=0\nexit-code=1\n");

    // A Cancelled run never passes.
    let cancelled = runner.run(&sb, "dbt-run --job-id 4 --wait");
    assert_eq!(cancelled.code, 3, "{}", cancelled.stderr);
}

#[test]
fn the_json_document_is_a_step_output() {
    let sb = sandbox(&[]);
    let runner = Runner::new();
    let r = runner.run(&sb, "dbt-run --job-id 1 --wait --json");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let outputs = runner.outputs();
    let (_, rest) = outputs
        .split_once("json<<")
        .unwrap_or_else(|| panic!("no json output in {outputs}"));
    let (delimiter, rest) = rest.split_once('\n').unwrap();
    let body = rest
        .split_once(&format!("\n{delimiter}\n"))
        .unwrap_or_else(|| panic!("json output not closed by {delimiter}: {outputs}"))
        .0;
    let doc: serde_json::Value = serde_json::from_str(body).expect("one JSON document");
    assert_eq!(doc["outcome"], "success", "{doc}");
    assert_eq!(doc["run"]["id"], 1, "{doc}");
    assert!(outputs.starts_with("exit-code=0\n"), "{outputs}");
}

#[test]
fn words_are_split_like_a_shell_but_never_evaluated() {
    let sb = sandbox(&[]);
    let runner = Runner::new();
    let marker = runner.path("pwned");
    let command = format!(
        "dbt-run --job-id 1 --cause \"$(touch {m}) `touch {m}`; touch {m}\"",
        m = marker.display()
    );
    let r = runner.run(&sb, &command);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!marker.exists(), "the command input was evaluated");
    let cause = &sb.runs()[0].trigger.cause;
    assert!(cause.starts_with("$(touch "), "{cause}");

    let unmatched = runner.run(&sb, "dbt-run --cause \"oops");
    assert_eq!(unmatched.code, 2, "{}", unmatched.stdout);
    assert!(
        unmatched
            .stdout
            .contains("::error title=datachonk action::cannot split the 'command' input"),
        "{}",
        unmatched.stdout
    );
    assert_eq!(sb.runs().len(), 1, "nothing triggered");
}

#[test]
fn cancelling_the_workflow_cancels_the_dbt_cloud_run() {
    let sb = sandbox(&[]);
    let runner = Runner::new();
    let mut step = runner
        .step(&sb, "dbt-run --job-id 3 --wait --cancel-on-interrupt")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_runs(&sb, "the slow run to start", |runs| {
        runs.iter().any(|r| r.status == RunStatus::Running)
    });
    // What the runner does on cancel: SIGTERM to the step's process.
    let ok = Command::new("kill")
        .args(["-TERM", &step.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    exit_within(
        &mut step,
        Duration::from_secs(60),
        "the action's step after SIGTERM",
    );
    let run = Run::checked(step.wait_with_output().unwrap(), TOKEN);
    assert_eq!(run.code, 143, "{}\n{}", run.stdout, run.stderr);
    let runs = wait_for_runs(&sb, "the run to be cancelled", |runs| {
        runs[0].status == RunStatus::Cancelled
    });
    assert_eq!(runs.len(), 1);
    assert_eq!(runner.outputs(), "exit-code=143\n");
    assert_no_token(&run, TOKEN);
}

#[test]
fn on_a_pull_request_the_action_comments_the_verdict_with_the_workflows_token() {
    // No token given to the action: its github-token input defaults to the workflow's.
    let sb = sandbox(&[]);
    let runner = Runner::new();
    let gh = github::GitHub::start(0);
    let events = tempfile::tempdir().unwrap();
    let mut step = runner.step(&sb, "dbt-run --job-id 2 --wait --pr-comment");
    for (k, v) in github::actions_env(events.path(), &gh.url()) {
        if k != "GITHUB_TOKEN" {
            step.env(k, v);
        }
    }
    let out = Run::checked(step.output().unwrap(), TOKEN);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(github::GITHUB_TOKEN), "{text}");
    }
    let ours = gh.ours();
    assert_eq!(ours.len(), 1, "{:?}", gh.seen());
    assert!(ours[0].1.contains("ERROR"), "{}", ours[0].1);
    assert!(gh
        .seen()
        .iter()
        .all(|r| r.authorization == format!("Bearer {}", github::GITHUB_TOKEN)));
}
