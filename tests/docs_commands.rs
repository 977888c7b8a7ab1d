//! Every `datachonk …` command the README and the book show names a real command and only
//! flags that command (or the global options) has, as `--help` lists them: documentation
//! cannot drift from the program's surface unnoticed (issue 25 §4, issue 23 §3). Commands in
//! shell code blocks and in inline code are both read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![repo().join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo().join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// `datachonk …` command lines of a document, with their line numbers: shell code blocks
/// (each pipeline part, comments cut) and inline code spans.
fn command_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(info.trim_start_matches('`').trim().to_string()),
            };
            continue;
        }
        match &fence {
            Some(lang) if ["sh", "bash", "console", ""].contains(&lang.as_str()) => {
                let code = line.split(" #").next().unwrap();
                for part in code.split(['|', ';']).flat_map(|p| p.split("&&")) {
                    out.push((n, part.to_string()));
                }
            }
            Some(_) => {}
            None => {
                let mut rest = line;
                while let Some(start) = rest.find("`datachonk ") {
                    let after = &rest[start + 1..];
                    let end = after.find('`').unwrap_or(after.len());
                    out.push((n, after[..end].to_string()));
                    rest = &after[end..];
                }
            }
        }
    }
    out.into_iter()
        .filter_map(|(n, part)| {
            // The program's name as a word (not `datachonk.yaml`, not a path's tail).
            let at = part
                .match_indices("datachonk ")
                .find(|(i, _)| *i == 0 || part[..*i].ends_with([' ', '(', '=', '"']))?
                .0;
            Some((n, part[at..].to_string()))
        })
        .collect()
}

/// What `datachonk PATH… --help` offers: its subcommands and its flags (global ones too).
struct Help {
    ok: bool,
    subcommands: BTreeSet<String>,
    flags: BTreeSet<String>,
}

fn help(path: &[String]) -> Help {
    let out = Command::new(env!("CARGO_BIN_EXE_datachonk"))
        .args(path)
        .arg("--help")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut subcommands = BTreeSet::new();
    if let Some(list) = text.split("\nCommands:\n").nth(1) {
        for line in list.lines().take_while(|l| !l.trim().is_empty()) {
            if let Some(word) = line.split_whitespace().next() {
                subcommands.insert(word.to_string());
            }
        }
    }
    let mut flags = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']') {
        let word = word.split(['=', '<']).next().unwrap();
        let long = word.starts_with("--")
            && word.len() > 2
            && word[2..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        let short = word.len() == 2
            && word.starts_with('-')
            && word.chars().nth(1).unwrap().is_ascii_alphabetic();
        if long || short {
            flags.insert(word.to_string());
        }
    }
    Help {
        ok: out.status.success(),
        subcommands,
        flags,
    }
}

/// Global options that take a value, which may stand before the subcommand.
const GLOBAL_WITH_VALUE: &[&str] = &["-C", "--config", "--color"];

#[test]
fn every_documented_command_and_flag_exists() {
    let mut helps: BTreeMap<Vec<String>, Help> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let shown = doc.strip_prefix(repo()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&doc).unwrap();
        for (n, command) in command_lines(&text) {
            let words: Vec<String> = command
                .split_whitespace()
                .skip(1)
                .map(|w| w.trim_matches(['"', '\'', '[', ']', '(', ')']).to_string())
                .filter(|w| !w.is_empty() && w != "…")
                .collect();
            // Prose that names a commit or cause prefix (`datachonk push: SUBJECT`), not a command.
            // `datachonk help COMMAND` is clap's own; `help --help` is not a thing.
            if words
                .first()
                .is_some_and(|w| w.ends_with(':') || w == "help")
            {
                continue;
            }
            let mut path: Vec<String> = Vec::new();
            let mut rest = words.as_slice();
            // Global options before the subcommand.
            while let Some(w) = rest.first() {
                if GLOBAL_WITH_VALUE.contains(&w.as_str()) {
                    rest = &rest[rest.len().min(2)..];
                } else if w.starts_with('-') && path.is_empty() {
                    rest = &rest[1..];
                } else {
                    break;
                }
            }
            while let Some(w) = rest.first() {
                let here = helps.entry(path.clone()).or_insert_with(|| help(&path));
                if here.subcommands.contains(w.as_str()) {
                    path.push(w.clone());
                    rest = &rest[1..];
                } else {
                    break;
                }
            }
            let top_level_flag_only = path.is_empty() && words.iter().all(|w| w.starts_with('-'));
            if path.is_empty() && !top_level_flag_only {
                problems.push(format!(
                    "{shown}:{n}: `{command}` names no datachonk command"
                ));
                continue;
            }
            let here = helps.entry(path.clone()).or_insert_with(|| help(&path));
            assert!(here.ok, "datachonk {} --help fails", path.join(" "));
            for w in &words {
                let flag = w.split('=').next().unwrap();
                let is_flag = (flag.starts_with("--") && flag.len() > 2)
                    || (flag.len() == 2 && flag.starts_with('-') && flag != "--");
                if is_flag && !here.flags.contains(flag) {
                    problems.push(format!(
                        "{shown}:{n}: `datachonk {}` has no {flag} (in `{command}`)",
                        path.join(" ")
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The docs show dozens of commands; a reader that found few has stopped reading them.
    assert!(
        checked > 100,
        "only {checked} documented commands were found"
    );
}

#[test]
fn the_reader_finds_commands_in_code_blocks_and_inline_code() {
    let text = "Run `datachonk push --dry-run`, keep `datachonk.yaml`.\n```sh\nexport X=1\nA=1 datachonk dbt-run --wait | tee log   # comment --nope\n```\n```yaml\ndatachonk generate --nope\n```\n";
    let lines: Vec<String> = command_lines(text).into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        lines,
        vec!["datachonk push --dry-run", "datachonk dbt-run --wait "]
    );
}
