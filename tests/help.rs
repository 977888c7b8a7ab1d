//! Help that fits: every command's help wraps to the terminal, reads as paragraphs, ends with
//! examples that parse; a closed stdout ends a command quietly; man pages are valid roff;
//! `--version` names the commit it was built from.

mod examples_support;
mod sandbox_support;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use clap::{CommandFactory, Parser};
use datachonk::cli::Cli;
use examples_support::{examples, invocation};

/// The build script, compiled here as a module to test its git lookup on real repositories.
#[allow(dead_code)]
#[path = "../build.rs"]
mod build_script;

const BIN: &str = env!("CARGO_BIN_EXE_datachonk");

fn datachonk(args: &[&str], columns: usize) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .env("COLUMNS", columns.to_string())
        .env_remove("NO_COLOR")
        .output()
        .expect("datachonk runs");
    assert!(out.status.success(), "{args:?}: {out:?}");
    out
}

/// Every visible command as its words after `datachonk` (the root is the empty path).
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: Vec<String>, all: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, all);
        }
        all.push(path);
    }
    let mut all = Vec::new();
    walk(&Cli::command(), Vec::new(), &mut all);
    all.sort();
    all
}

fn help(path: &[String], flag: &str, columns: usize) -> String {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push(flag);
    String::from_utf8(datachonk(&args, columns).stdout).expect("help is UTF-8")
}

#[test]
fn every_help_fits_80_columns() {
    let mut too_wide = Vec::new();
    for path in command_paths() {
        for flag in ["-h", "--help"] {
            let text = help(&path, flag, 80);
            assert!(
                !text.contains('\x1b'),
                "colour codes in piped help: {path:?}"
            );
            for line in text.lines() {
                if line.chars().count() > 80 {
                    too_wide.push(format!("{} {flag}: {line}", path.join(" ")));
                }
            }
        }
    }
    assert!(
        too_wide.is_empty(),
        "lines over 80 columns:\n{}",
        too_wide.join("\n")
    );
}

/// A greedy wrapper only breaks a line when the next word does not fit: a line that had room
/// for the next line's first word was broken by hand (a hard-wrapped doc comment). Checked in
/// the prose (about, option help), not in the preformatted sections after the options.
#[test]
fn no_paragraph_is_broken_mid_sentence() {
    const WIDTH: usize = 80;
    // Prose under these; the command list has one entry a line, like the examples.
    let clap_headings = ["Usage:", "Arguments:", "Options:", "Global Options:"];
    let mut broken = Vec::new();
    for path in command_paths() {
        let text = help(&path, "--help", WIDTH);
        let lines: Vec<&str> = text.lines().collect();
        let mut preformatted = false;
        for pair in lines.windows(2) {
            let (line, next) = (pair[0], pair[1]);
            if !line.starts_with(' ') && line.ends_with(':') {
                preformatted = !clap_headings.contains(&line);
            }
            if preformatted || line.trim().is_empty() || next.trim().is_empty() {
                continue;
            }
            let indent = |l: &str| l.len() - l.trim_start().len();
            let first_word = next.split_whitespace().next().unwrap_or("");
            let structural = next.trim_start().starts_with(['-', '[', '<'])
                || line.trim_end().ends_with(':')
                || indent(next) != indent(line);
            let room = line.chars().count() + 1 + first_word.chars().count() <= WIDTH;
            if room && !structural {
                broken.push(format!("{}:\n  {line}\n  {next}", path.join(" ")));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "hard line breaks in help:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_command_has_examples_that_parse() {
    for path in command_paths() {
        let name = std::iter::once("datachonk".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        for flag in ["-h", "--help"] {
            let text = help(&path, flag, 80);
            let found = examples(&text);
            assert!(
                !found.is_empty(),
                "`{name} {flag}` has no Examples:\n{text}"
            );
            let own = found
                .iter()
                .filter_map(|e| invocation(e))
                .filter(|words| words.join(" ").starts_with(&name));
            assert!(own.count() > 0, "no example of `{name}` itself: {found:#?}");
            for example in &found {
                let Some(words) = invocation(example) else {
                    continue; // e.g. "mkdir -p …" before the command
                };
                if let Err(e) = Cli::try_parse_from(&words) {
                    panic!("`{name}` example does not parse: {example}\n{e}");
                }
            }
        }
    }
}

#[test]
fn global_options_have_their_own_heading() {
    let text = help(&["cloud".into(), "jobs".into()], "--help", 80);
    let (own, global) = text
        .split_once("Global Options:")
        .expect("a Global Options heading");
    assert!(own.contains("--project-id"), "{text}");
    for flag in ["--config", "--json", "--quiet", "--no-input", "--color"] {
        assert!(
            global.contains(flag),
            "{flag} not under Global Options:\n{text}"
        );
        assert!(
            !own.contains(flag),
            "{flag} among the command's own options:\n{text}"
        );
    }
}

#[test]
fn help_wraps_to_the_terminal_width() {
    // The same paragraph at 60 and 100 columns: narrower lines, more of them.
    let narrow = help(&["push".into()], "--help", 60);
    let wide = help(&["push".into()], "--help", 100);
    assert!(narrow.lines().all(|l| l.chars().count() <= 60), "{narrow}");
    assert!(wide.lines().any(|l| l.chars().count() > 80), "{wide}");
    assert!(narrow.lines().count() > wide.lines().count());
}

/// Runs `args` with stdout a pipe whose reading end is already closed: every write fails
/// with EPIPE, as when `| head -1` has exited.
fn with_closed_stdout(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut fds = [0; 2];
    // SAFETY: pipe() fills both descriptors on success; each is owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .expect("datachonk runs")
}

#[test]
fn a_closed_stdout_ends_commands_quietly() {
    let cases: [&[&str]; 6] = [
        &["completions", "bash"],
        &["completions", "zsh"],
        &["--help"],
        &["cloud", "runs", "--help"],
        &["--version"],
        &["man"],
    ];
    for args in cases {
        let out = with_closed_stdout(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_closed_stdout_ends_a_listing_quietly() {
    let sandbox = sandbox_support::start();
    let base = sandbox.base_url();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let envs = [
        ("DBT_CLOUD_ACCESS_URL", base.as_str()),
        ("DBT_CLOUD_ACCOUNT_ID", "1"),
        ("DBT_CLOUD_API_TOKEN", sandbox_support::TOKEN),
        ("HOME", dir),
    ];
    let api = sandbox_support::Api::new(&base);
    let run = api.trigger(sandbox_support::JOB_OK, "closed stdout");
    api.wait_terminal(run);
    let run = run.to_string();
    for args in [
        &["-C", dir, "cloud", "jobs"][..],
        &["-C", dir, "cloud", "runs", "list"][..],
        &[
            "-C",
            dir,
            "cloud",
            "artifacts",
            "get",
            &run,
            "manifest.json",
        ][..],
    ] {
        let out = with_closed_stdout(args, &envs);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn man_writes_one_valid_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = datachonk(&["man", "--out-dir", dir.path().to_str().unwrap()], 80);
    assert!(String::from_utf8_lossy(&out.stderr).contains("manual pages"));
    let mut expected: Vec<String> = command_paths()
        .iter()
        .map(|p| {
            std::iter::once("datachonk")
                .chain(p.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("-")
                + ".1"
        })
        .collect();
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    assert_eq!(
        written, expected,
        "one page per command, nothing else (no temp files)"
    );

    for name in &written {
        let page = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let title = name.trim_end_matches(".1");
        assert!(
            page.contains(&format!(".TH {title} 1 ")),
            "{name}: no title\n{page}"
        );
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "VERSION"] {
            assert!(
                page.contains(&format!("\n.SH {section}")),
                "{name}: no {section}"
            );
        }
        assert!(!page.contains('\x1b'), "{name}: terminal escapes in roff");
        // The examples stay one per line: inside a no-fill block.
        let examples = page.split("\n.SH EXAMPLES\n").nth(1).unwrap();
        assert!(
            examples.starts_with(".nf\n") && examples.contains("\n.fi\n"),
            "{name}"
        );
        assert_roff_is_clean(&dir.path().join(name));
    }
}

/// groff's (or mandoc's) own check, with every warning enabled, when one is installed.
fn assert_roff_is_clean(page: &Path) {
    let checkers: [(&str, &[&str]); 2] = [
        ("mandoc", &["-T", "lint", "-W", "error"]),
        ("groff", &["-k", "-man", "-Tutf8", "-ww", "-z"]),
    ];
    let mut checked = false;
    for (tool, args) in checkers {
        let Ok(out) = Command::new(tool).args(args).arg(page).output() else {
            continue;
        };
        checked = true;
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{tool} on {}: {}",
            page.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !checked {
        eprintln!("neither mandoc nor groff installed: only the roff structure was checked");
    }
}

#[test]
fn man_prints_one_command_page_and_refuses_unknown_ones() {
    let out = datachonk(&["man", "cloud", "runs", "list"], 80);
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH datachonk-cloud-runs-list 1"), "{page}");
    assert!(
        page.contains("datachonk cloud runs list \\-\\-job"),
        "{page}"
    );

    let out = Command::new(BIN)
        .args(["man", "cloud", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no command `cloud nope`"));
}

#[test]
fn version_names_the_commit_and_date_it_was_built_from() {
    let out = datachonk(&["--version"], 80);
    let line = String::from_utf8(out.stdout).unwrap();
    let line = line.trim_end();
    let version = env!("CARGO_PKG_VERSION");
    let manifest = env!("CARGO_MANIFEST_DIR");
    let in_git = Command::new("git")
        .args(["-C", manifest, "rev-parse", "--show-toplevel"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !in_git {
        assert_eq!(line, format!("datachonk {version}"));
        return;
    }
    let inner = line
        .strip_prefix(&format!("datachonk {version} ("))
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not `datachonk {version} (SHA DATE)`: {line}"));
    let (sha, date) = inner.split_once(' ').expect("sha and date");
    assert!(
        sha.len() >= 7 && sha.chars().all(|c| c.is_ascii_hexdigit()),
        "{line}"
    );
    // The commit exists here and has that date.
    let shown = Command::new("git")
        .args(["-C", manifest, "show", "-s", "--format=%cs", sha])
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{sha} is not a commit of this repository"
    );
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), date);
    // Every command reports the same version.
    let sub = datachonk(&["cloud", "runs", "--version"], 80);
    assert!(String::from_utf8_lossy(&sub.stdout).contains(inner));
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_DATE", "2026-12-06T10:00:00+00:00")
        .env("GIT_AUTHOR_DATE", "2026-12-06T10:00:00+00:00")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn build_script_describes_a_checkout_and_falls_back_outside_one() {
    // Not a repository: the bare version.
    let plain = tempfile::tempdir().unwrap();
    assert!(build_script::describe(plain.path()).is_none());

    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(repo.path().join("Cargo.toml"), "").unwrap();
    git(repo.path(), &["add", "Cargo.toml"]);
    git(repo.path(), &["commit", "-q", "-m", "first"]);
    let described = build_script::describe(repo.path()).expect("a checkout is described");
    assert_eq!(described.date, "2026-12-06");
    assert_eq!(described.short_sha.len(), 7);
    let git_dir = std::fs::canonicalize(repo.path().join(".git")).unwrap();
    let watched: Vec<_> = described
        .watch
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap())
        .collect();
    assert!(watched.contains(&git_dir.join("HEAD")), "{watched:?}");
    assert!(
        watched.contains(&git_dir.join("refs/heads/main")),
        "{watched:?}"
    );

    // A crate unpacked inside another repository is not that repository's commit.
    let nested = repo.path().join("vendor/crate");
    std::fs::create_dir_all(&nested).unwrap();
    assert!(build_script::describe(&nested).is_none());

    // A packed ref: the packed-refs file and the folder a loose ref will appear in.
    git(repo.path(), &["pack-refs", "--all"]);
    let described = build_script::describe(repo.path()).unwrap();
    let watched: Vec<_> = described
        .watch
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap())
        .collect();
    assert!(
        watched.contains(&git_dir.join("packed-refs")),
        "{watched:?}"
    );
    assert!(watched.contains(&git_dir.join("refs/heads")), "{watched:?}");
    assert!(described.watch.iter().all(|p| p.exists()));
}

#[test]
fn examples_parser_reads_shell_lines() {
    // The helper the examples test relies on, so a parsing slip cannot hide a bad example.
    assert_eq!(
        invocation("DBT=1 datachonk dbt-run --steps-override \"dbt build --select x\" --json"),
        Some(vec![
            "datachonk".into(),
            "dbt-run".into(),
            "--steps-override".into(),
            "dbt build --select x".into(),
            "--json".into()
        ])
    );
    assert_eq!(
        invocation("datachonk man | man -l -"),
        Some(vec!["datachonk".into(), "man".into()])
    );
    assert_eq!(invocation("mkdir -p ~/x"), None);
    assert!(Cli::try_parse_from(["datachonk", "push", "--no-such-flag"]).is_err());
}
