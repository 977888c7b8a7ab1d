//! The README's "loop in ten commands", run as written against the sandbox (issue 23 §3): the
//! block is read from README.md, each line runs through `sh` in a sample dbt project with a
//! bare remote, and the transcript (commands, exit codes, output) must match
//! `tests/snapshots/readme_loop.md` (snapbox, trycmd's engine: `[..]` matches the rest of a
//! line; `SNAPSHOTS=overwrite cargo test --test readme_examples` rewrites it after a deliberate
//! change). The README and the program cannot drift apart unnoticed.
//!
//! What the test adds to a line, and why (nothing else is changed):
//! - `init` gets the wizard's answers as flags with `--no-input` (there is no terminal here);
//! - `cloud runs show 42` shows the run the previous lines created (42 is an example id);
//! - `serve` is not started (a server that runs until stopped; tests/serve_*.rs drive it).
//!
//! A second test runs every example of the `cloud` commands' `--help` in the same world.

mod examples_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use datachonk::cli::Cli;
use datachonk::sandbox::{Fixture, Sandbox, SandboxOptions};
use examples_support::{examples, invocation};

const TOKEN: &str = "readme-token-0f3a9c";

/// The first `sh` block after `## The loop in ten commands`.
fn the_loop() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("## The loop in ten commands")
        .nth(1)
        .expect("the README has a section 'The loop in ten commands'");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in that section");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Hex runs of 7+ characters with a digit (commit shas, short or full) become `[SHA]`, and
/// durations (`0.5s`, `2.1s`, `1m05s`, `12ms`) `[TIME]`: they differ on every run.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                let core = w.trim_matches(|c: char| "()[],:;'\"".contains(c));
                let hex = core.len() >= 7
                    && core.chars().all(|c| c.is_ascii_hexdigit())
                    && core.chars().any(|c| c.is_ascii_digit())
                    && core.chars().any(|c| c.is_ascii_lowercase());
                let time = {
                    let t = core.trim_end_matches("ms").trim_end_matches('s');
                    core != t
                        && !t.is_empty()
                        && t.chars()
                            .all(|c| c.is_ascii_digit() || c == '.' || c == 'm')
                        && t.starts_with(|c: char| c.is_ascii_digit())
                };
                if hex {
                    w.replace(core, "[SHA]")
                } else if time {
                    w.replace(core, "[TIME]")
                } else {
                    w.to_string()
                }
            })
            .collect();
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

/// A wait's progress lines (`run 1: Queued`, `  step 2 …: running`, `  step 2 …: ok (0.5s)`)
/// depend on which states the polls happen to see: they are left out of the transcript, the
/// verdict lines stay.
fn without_progress(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| {
            let state = l.starts_with("run ")
                && [": Queued", ": Starting", ": Running"]
                    .iter()
                    .any(|s| l.ends_with(s));
            let step =
                l.starts_with("  step ") && (l.ends_with(": running") || l.contains(": ok ("));
            !state && !step
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_datachonk"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A sample dbt project with a bare remote, the sandbox standing in for dbt Cloud, and the
/// README's loop run in it: the transcript, and the runs it created.
struct World {
    _root: tempfile::TempDir,
    project: PathBuf,
    sandbox: datachonk::sandbox::RunningSandbox,
    transcript: String,
}

impl World {
    fn command(&self, program: &str) -> Command {
        let path = format!(
            "{}:{}",
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.project)
            .env("PATH", path)
            .env("DBT_CLOUD_API_TOKEN", TOKEN)
            .env("NO_COLOR", "1");
        for var in [
            "DBT_CLOUD_ACCESS_URL",
            "DBT_CLOUD_ACCOUNT_ID",
            "DBT_CLOUD_JOB_ID",
            "DBT_CLOUD_HOST",
            "GITHUB_ACTIONS",
            "GITLAB_CI",
            "DATACHONK_TARGET",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.sandbox.runs().iter().map(|r| r.id).collect();
        ids.sort();
        ids
    }
}

/// The built-in fixture, with job 1 checking source freshness first (as a validation job
/// often does: step 4 writes sources.json) and a job 2 that fails once, then passes.
fn world_fixture() -> Fixture {
    let mut fixture = Fixture::builtin(TOKEN);
    fixture.jobs[0].run_generate_sources = true;
    let mut broken = fixture.jobs[0].clone();
    broken.id = 2;
    broken.name = "Broken".into();
    broken.run_generate_sources = false;
    broken.run.outcome = datachonk::sandbox::fixture::Outcome::Error;
    broken.run.fail_times = Some(1);
    fixture.jobs.push(broken);
    fixture
}

fn the_loop_world() -> World {
    let lines = the_loop();
    assert_eq!(lines.len(), 10, "{lines:#?}");

    let root = tempfile::tempdir().unwrap();
    let ws = datachonk::quickstart::create(root.path()).expect("sample project");
    std::fs::create_dir_all(ws.project.join("target")).unwrap();
    std::fs::copy(
        ws.root.join("catalog.json"),
        ws.project.join("target/catalog.json"),
    )
    .unwrap();
    let sandbox = Sandbox::start(
        SandboxOptions::default()
            .with_fixture(world_fixture())
            .with_repository(1, format!("file://{}", ws.remote.display())),
    )
    .expect("sandbox starts");
    let mut world = World {
        project: ws.project.clone(),
        sandbox,
        transcript: String::new(),
        _root: root,
    };
    let url = world.sandbox.base_url();

    let mut transcript = String::new();
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let run = match words.get(1).copied() {
            Some("serve") => {
                transcript.push_str(&format!("$ {line}\n(not started here: a server)\n\n"));
                continue;
            }
            Some("init") => format!(
                "{line} --no-input --access-url {url} --account-id 1 --project-id 1 --environment-id 1 --job-id 1"
            ),
            _ if line.contains(" runs show 42") => {
                let id = *world.run_ids().last().expect("a run before `cloud runs show`");
                line.replace(" 42", &format!(" {id}"))
            }
            _ => line.clone(),
        };
        let out = world.command("sh").arg("-c").arg(&run).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
        let code = out.status.code().unwrap_or(-1);
        assert_eq!(code, 0, "README line `{line}` failed:\n{stdout}\n{stderr}");
        transcript.push_str(&format!(
            "$ {line}\n{}{stdout}\n",
            without_progress(&stderr)
        ));
    }
    let root = world._root.path().display().to_string();
    world.transcript = normalize(
        &transcript
            .replace(&url, "[SANDBOX]")
            .replace(&root, "[ROOT]"),
    );
    world
}

#[test]
fn the_readme_loop_runs_as_written() {
    let world = the_loop_world();
    snapbox::assert_data_eq!(world.transcript, snapbox::file!["snapshots/readme_loop.md"]);
}

/// Every `cloud` command's path (`cloud`, `cloud runs`, `cloud runs show`, ...).
fn cloud_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: Vec<String>, all: &mut Vec<Vec<String>>) {
        all.push(path.clone());
        for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, all);
        }
    }
    let root = Cli::command();
    let cloud = root.find_subcommand("cloud").expect("a cloud command");
    let mut all = Vec::new();
    walk(cloud, vec!["cloud".to_string()], &mut all);
    all
}

#[test]
fn the_cloud_commands_help_examples_run_against_the_sandbox() {
    let world = the_loop_world();
    // A failed run (job 2) for the retry examples.
    let failed = world
        .command(env!("CARGO_BIN_EXE_datachonk"))
        .args(["dbt-run", "--job-id", "2", "--wait"])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let runs = world.sandbox.runs();
    let of_job = |job: i64| -> Vec<String> {
        let mut ids: Vec<i64> = runs
            .iter()
            .filter(|r| r.job_id == job)
            .map(|r| r.id)
            .collect();
        ids.sort();
        ids.iter().map(i64::to_string).collect()
    };
    let (good, bad) = (of_job(1), of_job(2));
    let (first, last, failed) = (
        good[0].clone(),
        good[good.len() - 1].clone(),
        bad[0].clone(),
    );

    let mut seen = std::collections::BTreeSet::new();
    let mut ran = 0;
    let mut problems = String::new();
    for path in cloud_paths() {
        let help = world
            .command(env!("CARGO_BIN_EXE_datachonk"))
            .args(&path)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        for example in examples(&help) {
            let Some(words) = invocation(&example) else {
                continue;
            };
            if !seen.insert(words.clone()) {
                continue;
            }
            // Only loopback here: an example naming a dbt Cloud host is parsed (help.rs), not run.
            if words.iter().any(|w| w.starts_with("https://")) {
                continue;
            }
            // The examples' ids and names, as this world has them: 42 a run of the validation
            // job (a failed run for retry), 43 and 7 another; the sample's source tables are
            // raw_*, and its mart is dim_customers.
            let retry = words.iter().any(|w| w == "retry");
            let args: Vec<String> = words[1..]
                .iter()
                .map(|w| match w.as_str() {
                    "42" if retry => failed.clone(),
                    "42" => last.clone(),
                    "43" | "7" => first.clone(),
                    "shop.orders" => "shop.raw_orders".into(),
                    "fct_orders" => "dim_customers".into(),
                    _ => w.clone(),
                })
                .collect();
            let out = world
                .command(env!("CARGO_BIN_EXE_datachonk"))
                .args(&args)
                .output()
                .unwrap();
            ran += 1;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
            if out.status.code() != Some(0)
                || stdout.trim().is_empty() && !args.contains(&"-o".to_string())
            {
                problems.push_str(&format!(
                    "`{example}` (run as `datachonk {}`) exited {:?}:\n{stderr}{stdout}\n",
                    args.join(" "),
                    out.status.code()
                ));
            }
        }
    }
    assert!(ran >= 20, "only {ran} examples ran");
    assert!(problems.is_empty(), "{problems}");
}
