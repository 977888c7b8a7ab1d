//! The configuration reference has one source, the tables beside the parser
//! (`src/config/reference.rs`), and two copies that must not drift from it (issue 25 §4):
//!
//! - the book's page, `docs/src/configuration.md`, whose generated part is rewritten with
//!   `DATACHONK_BLESS=1 cargo test --locked --test docs_config` and fails here when stale;
//! - `datachonk.example.yaml`, which must show every key (set, or commented out as `# key:`)
//!   and no key the reference does not have.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datachonk::config::reference::{self, Kind};

const BEGIN: &str =
    "<!-- generated: begin (DATACHONK_BLESS=1 cargo test --locked --test docs_config) -->";
const END: &str = "<!-- generated: end -->";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The page with its generated part replaced by `generated`.
fn with_generated(page: &str, generated: &str) -> String {
    let start = page
        .find(BEGIN)
        .expect("configuration.md has the generated part's begin marker")
        + BEGIN.len();
    let end = page[start..]
        .find(END)
        .map(|e| start + e)
        .expect("configuration.md has the generated part's end marker");
    format!(
        "{}\n\n{}\n{}",
        &page[..start],
        generated.trim_end(),
        &page[end..]
    )
}

/// Replace `path` whole or not at all: a temporary file beside it, then a rename.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("md.bless-tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn the_configuration_page_holds_the_reference_generated_from_the_parser() {
    let path = repo().join("docs/src/configuration.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let fresh = with_generated(&page, &reference::markdown());
    if std::env::var_os("DATACHONK_BLESS").is_some_and(|v| v == "1") {
        if fresh != page {
            write_atomically(&path, &fresh);
        }
        return;
    }
    assert!(
        fresh == page,
        "docs/src/configuration.md is stale: run `DATACHONK_BLESS=1 cargo test --locked --test docs_config`"
    );
}

/// The example's text with commented-out keys (`# key: value`, at any depth) made live, so
/// that what the example shows and what it sets can be read as one YAML document.
fn uncommented(example: &str) -> String {
    example
        .lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let Some(rest) = line.trim_start().strip_prefix("# ") else {
                return line.to_string();
            };
            let body = rest.trim_start();
            let name_len = body
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .count();
            let is_key = name_len > 0
                && body[name_len..].starts_with(':')
                && body[name_len + 1..].chars().next().is_none_or(|c| c == ' ');
            if is_key {
                format!("{}{rest}", " ".repeat(indent))
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every key the example shows, as dotted paths (a target's keys under `targets.NAME`), and
/// the keys it shows that the reference does not have.
fn keys_shown(
    value: &serde_json::Value,
    section: &str,
    shown: &mut BTreeSet<String>,
    unknown: &mut Vec<String>,
) {
    let Some(map) = value.as_object() else {
        return;
    };
    let doc = reference::section(section).expect("a documented section");
    for (name, child) in map {
        let path = if section.is_empty() {
            name.clone()
        } else {
            format!("{section}.{name}")
        };
        let Some(key) = doc.keys.iter().find(|k| k.key == name) else {
            unknown.push(path);
            continue;
        };
        shown.insert(path.clone());
        match key.kind {
            Kind::Section => keys_shown(child, &path, shown, unknown),
            Kind::Named => {
                for entry in child.as_object().into_iter().flat_map(|m| m.values()) {
                    keys_shown(entry, &format!("{path}.NAME"), shown, unknown);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn the_example_shows_every_key_of_the_reference_and_no_other() {
    let text = std::fs::read_to_string(repo().join("datachonk.example.yaml")).unwrap();
    let live = uncommented(&text);
    let value: serde_json::Value = serde_saphyr::from_str(&live)
        .unwrap_or_else(|e| panic!("the example with its keys uncommented is YAML: {e}"));
    let mut shown = BTreeSet::new();
    let mut unknown = Vec::new();
    keys_shown(&value, "", &mut shown, &mut unknown);
    assert!(
        unknown.is_empty(),
        "datachonk.example.yaml shows keys the reference does not have: {unknown:?}"
    );

    // A target's keys are the block's (a unit test in reference.rs holds that), so the
    // example's block shows them; every other key must be shown where it lives.
    let missing: Vec<String> = reference::SECTIONS
        .iter()
        .filter(|s| !s.path.ends_with(".NAME"))
        .flat_map(|s| {
            s.keys.iter().map(move |k| {
                if s.path.is_empty() {
                    k.key.to_string()
                } else {
                    format!("{}.{}", s.path, k.key)
                }
            })
        })
        .filter(|path| !shown.contains(path))
        .collect();
    assert!(
        missing.is_empty(),
        "datachonk.example.yaml does not show {missing:?} (set it, or comment it out as `# key: value`)"
    );
}

#[test]
fn the_example_reader_sees_commented_keys_and_leaves_prose_alone() {
    let text = "a:\n  # b: 1\n  # Prose: not a key.\n  # see https://x\n  #   c: {d: 2}\n";
    assert_eq!(
        uncommented(text),
        "a:\n  b: 1\n  # Prose: not a key.\n  # see https://x\n    c: {d: 2}"
    );
}
