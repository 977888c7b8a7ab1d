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

use std::path::{Path, PathBuf};
use std::process::Command;

use datachonk::sandbox::{Fixture, Sandbox, SandboxOptions};

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

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_datachonk"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn the_readme_loop_runs_as_written() {
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
            .with_fixture(Fixture::builtin(TOKEN))
            .with_repository(1, format!("file://{}", ws.remote.display())),
    )
    .expect("sandbox starts");
    let url = sandbox.base_url();
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut transcript = String::new();
    let mut last_run: Option<i64> = None;
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
                let id = last_run.expect("a run before `cloud runs show`");
                line.replace(" 42", &format!(" {id}"))
            }
            _ => line.clone(),
        };
        let out = Command::new("sh")
            .arg("-c")
            .arg(&run)
            .current_dir(&ws.project)
            .env("PATH", &path)
            .env("DBT_CLOUD_API_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .env_remove("DBT_CLOUD_ACCESS_URL")
            .env_remove("DBT_CLOUD_ACCOUNT_ID")
            .env_remove("DBT_CLOUD_JOB_ID")
            .env_remove("DBT_CLOUD_HOST")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITLAB_CI")
            .env_remove("DATACHONK_TARGET")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
        let code = out.status.code().unwrap_or(-1);
        assert_eq!(code, 0, "README line `{line}` failed:\n{stdout}\n{stderr}");
        if let Some(id) = sandbox.runs().iter().map(|r| r.id).max() {
            last_run = Some(id);
        }
        transcript.push_str(&format!("$ {line}\n{stderr}{stdout}\n"));
    }
    let transcript = normalize(
        &transcript
            .replace(&url, "[SANDBOX]")
            .replace(&root.path().display().to_string(), "[ROOT]"),
    );
    snapbox::assert_data_eq!(transcript, snapbox::file!["snapshots/readme_loop.md"]);
}
