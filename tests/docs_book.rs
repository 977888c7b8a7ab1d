//! The book in `docs/` and the README hold together (issue 25 §4): every page is in
//! `SUMMARY.md`, every relative link and `#anchor` resolves, every `{{#include}}` names a file,
//! and `mdbook build` turns it into HTML whose pages carry the anchors the links point at.
//!
//! The link checks are plain Rust and always run. The build needs mdBook
//! (`scripts/setup-test-deps` installs it): without it the build is skipped with a notice on a
//! developer's machine, and fails under CI (`CI` set), where it is always installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn book_src() -> PathBuf {
    repo().join("docs").join("src")
}

/// The Markdown the checks cover: the README and every page of the book.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![repo().join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(book_src())
        .expect("docs/src exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// A document's lines outside fenced code blocks, with their 1-based numbers. A fence closes
/// only with the same character repeated at least as often (CommonMark), so a ```` fence can
/// show ``` lines.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let marker = t.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |c| t.chars().take_while(|x| *x == c).count());
        match fence {
            Some((c, n)) => {
                if marker == Some(c) && run >= n && t[run..].trim().is_empty() {
                    fence = None;
                }
            }
            None if run >= 3 => fence = Some((marker.unwrap(), run)),
            None => out.push((i + 1, line)),
        }
    }
    out
}

/// The line without its inline code spans (a link inside backticks is text, not a link).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + run..];
        let closing = "`".repeat(run);
        match after.find(&closing) {
            Some(end) => rest = &after[end + run..],
            None => {
                rest = after;
                out.push_str(&closing);
            }
        }
    }
    out.push_str(rest);
    out
}

/// Link targets on a line: inline links and images `[text](target "title")`, and reference
/// definitions `[label]: target`.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code_spans(line);
    let mut targets = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[') {
        if let Some(close) = trimmed.find("]:") {
            let target = trimmed[close + 2..].split_whitespace().next().unwrap_or("");
            if !target.is_empty() {
                targets.push(target.trim_matches(['<', '>']).to_string());
            }
        }
    }
    let mut rest = line.as_str();
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let inner = after[..end].trim();
        let target = inner.split_whitespace().next().unwrap_or("");
        targets.push(target.trim_matches(['<', '>']).to_string());
        rest = &after[end.min(after.len())..];
    }
    targets
}

/// `{{#include PATH}}` (and `PATH:lines`) directives, which mdBook inlines.
fn includes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("{{#include ") {
        let after = &rest[at + "{{#include ".len()..];
        let end = after
            .find("}}")
            .expect("an {{#include}} directive is closed");
        let path = after[..end].trim();
        out.push(path.split(':').next().unwrap().to_string());
        rest = &after[end..];
    }
    out
}

/// The anchor mdBook (and GitHub) give a heading: its text, lower-cased, spaces to hyphens,
/// punctuation other than `-` and `_` dropped. Inline code keeps its text; emphasis and link
/// syntax go.
fn heading_id(text: &str) -> String {
    let mut plain = String::new();
    let mut rest = text;
    // [text](url) -> text
    while let Some(open) = rest.find('[') {
        match rest[open..].find("](") {
            Some(mid) => {
                let close = rest[open + mid..].find(')').map(|c| open + mid + c);
                plain.push_str(&rest[..open]);
                plain.push_str(&rest[open + 1..open + mid]);
                rest = close.map_or("", |c| &rest[c + 1..]);
            }
            None => break,
        }
    }
    plain.push_str(rest);
    plain
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_lowercase().next().unwrap())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// Every heading anchor of a document, duplicates numbered `-1`, `-2` as both renderers do.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let id = heading_id(line[hashes..].trim().trim_end_matches('#').trim());
        let n = seen.entry(id.clone()).or_insert(0);
        out.insert(if *n == 0 { id } else { format!("{id}-{n}") });
        *n += 1;
    }
    out
}

/// `a/b/../c` -> `a/c`, without touching the disk (a symlink is judged by its own path).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn is_external(target: &str) -> bool {
    target.contains("://") || target.starts_with("mailto:")
}

/// One problem per broken link, as `file:line: what`.
fn broken_links() -> Vec<String> {
    let mut problems = Vec::new();
    let texts: BTreeMap<PathBuf, String> = documents()
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    for (doc, text) in &texts {
        let shown = doc.strip_prefix(repo()).unwrap().display().to_string();
        let in_book = doc.starts_with(book_src());
        for (n, line) in prose_lines(text) {
            for target in link_targets(line) {
                if target.is_empty() {
                    problems.push(format!("{shown}:{n}: an empty link target"));
                    continue;
                }
                if is_external(&target) {
                    continue;
                }
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target.as_str(), None),
                };
                let file = if path.is_empty() {
                    doc.clone()
                } else {
                    normalize(&doc.parent().unwrap().join(path))
                };
                if !file.exists() {
                    problems.push(format!(
                        "{shown}:{n}: `{target}`: {} does not exist",
                        file.display()
                    ));
                    continue;
                }
                // mdBook publishes docs/src only: a page linking outside it works on GitHub
                // and breaks in the built book.
                if in_book && !file.starts_with(book_src()) {
                    problems.push(format!(
                        "{shown}:{n}: `{target}` leaves docs/src, so the built book cannot serve it (include the file, or name it as code)"
                    ));
                    continue;
                }
                if let Some(anchor) = anchor {
                    let target_text = match texts.get(&file) {
                        Some(t) => t.clone(),
                        None if file.extension().is_some_and(|e| e == "md") => {
                            std::fs::read_to_string(&file).unwrap()
                        }
                        None => {
                            problems.push(format!("{shown}:{n}: `{target}`: an anchor into a file that is not Markdown"));
                            continue;
                        }
                    };
                    if !anchors(&target_text).contains(anchor) {
                        problems.push(format!(
                            "{shown}:{n}: `{target}`: no heading makes the anchor #{anchor} in {}",
                            file.display()
                        ));
                    }
                }
            }
        }
        for inc in includes(text) {
            let file = normalize(&doc.parent().unwrap().join(&inc));
            if !file.is_file() {
                problems.push(format!(
                    "{shown}: {{{{#include {inc}}}}}: {} is not a file",
                    file.display()
                ));
            }
        }
    }
    problems
}

#[test]
fn every_relative_link_and_anchor_in_the_book_and_readme_resolves() {
    let problems = broken_links();
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

/// The pages SUMMARY.md lists, in order.
fn summary_pages() -> Vec<String> {
    let summary = std::fs::read_to_string(book_src().join("SUMMARY.md")).unwrap();
    prose_lines(&summary)
        .into_iter()
        .flat_map(|(_, line)| link_targets(line))
        .collect()
}

#[test]
fn every_page_is_in_the_summary_and_every_summary_entry_is_a_page() {
    let listed: BTreeSet<String> = summary_pages().into_iter().collect();
    let on_disk: BTreeSet<String> = documents()
        .into_iter()
        .filter(|p| p.starts_with(book_src()))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != "SUMMARY.md")
        .collect();
    let missing: Vec<_> = on_disk.difference(&listed).collect();
    let dangling: Vec<_> = listed.difference(&on_disk).collect();
    assert!(missing.is_empty(), "pages not in SUMMARY.md: {missing:?}");
    assert!(
        dangling.is_empty(),
        "SUMMARY.md lists pages that do not exist: {dangling:?}"
    );
}

#[test]
fn the_readme_is_a_map_of_at_most_250_lines() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; the rest belongs in the book (docs/)"
    );
    // The test command .ci/run relies on is the one the README gives.
    assert!(
        readme.contains("bash scripts/test"),
        "README names the test command"
    );
    assert!(
        readme.contains("cargo run --locked -- quickstart"),
        "README names the quickstart"
    );
}

/// Where mdBook is: `$DATACHONK_TEST_MDBOOK`, else where scripts/setup-test-deps installs it,
/// else on PATH.
fn mdbook() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("DATACHONK_TEST_MDBOOK") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cache/datachonk/mdbook/bin/mdbook"));
    }
    candidates.push(PathBuf::from("mdbook"));
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

#[test]
fn mdbook_builds_the_book_and_every_anchor_linked_to_is_in_the_html() {
    let Some(mdbook) = mdbook() else {
        assert!(
            !under_ci(),
            "mdbook is not installed (nor given by DATACHONK_TEST_MDBOOK): run `bash scripts/setup-test-deps`"
        );
        eprintln!("skipping the book's build: mdbook is not installed (bash scripts/setup-test-deps installs it)");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(&mdbook)
        .arg("build")
        .arg(repo().join("docs"))
        .arg("--dest-dir")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "mdbook build failed:\n{stderr}");
    // mdBook logs a missing include or a bad SUMMARY entry and may still exit 0.
    for level in ["ERROR", "WARN"] {
        assert!(
            !stderr.contains(level),
            "mdbook build complained:\n{stderr}"
        );
    }

    // Every page became HTML, and every `page.md#anchor` link lands on an element with that id.
    for page in summary_pages() {
        let html_name = page.replace(".md", ".html");
        let html = std::fs::read_to_string(out.path().join(&html_name))
            .unwrap_or_else(|e| panic!("{html_name} was not built: {e}"));
        assert!(html.contains("<main>"), "{html_name} has a body");
    }
    for doc in documents()
        .into_iter()
        .filter(|p| p.starts_with(book_src()))
    {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.file_name().unwrap().to_string_lossy().into_owned();
        if name == "SUMMARY.md" {
            continue;
        }
        for (_, line) in prose_lines(&text) {
            for target in link_targets(line) {
                if is_external(&target) {
                    continue;
                }
                let (path, Some(anchor)) = target
                    .split_once('#')
                    .map_or((target.as_str(), None), |(p, a)| (p, Some(a)))
                else {
                    continue;
                };
                let page = if path.is_empty() { name.as_str() } else { path };
                let html =
                    std::fs::read_to_string(out.path().join(page.replace(".md", ".html"))).unwrap();
                assert!(
                    html.contains(&format!("id=\"{anchor}\"")),
                    "{name}: `{target}`: the built {page} has no element with id {anchor}"
                );
            }
        }
        // An {{#include}} was replaced by the file's text.
        if !includes(&text).is_empty() {
            let html =
                std::fs::read_to_string(out.path().join(name.replace(".md", ".html"))).unwrap();
            assert!(
                !html.contains("{{#include"),
                "{name}: an include was left unexpanded"
            );
        }
    }
    // The screenshot the serve page shows is published with it.
    assert!(
        out.path().join("serve.png").is_file(),
        "serve.png is copied into the book"
    );
}

#[test]
fn the_link_checker_finds_what_it_must() {
    // The checker itself: a link inside code is not a link; fences hide links; anchors follow
    // the renderers' rule.
    assert_eq!(link_targets("see [a](b.md#c) and `[x](y)`"), vec!["b.md#c"]);
    assert_eq!(link_targets("[ref]: other.md"), vec!["other.md"]);
    assert_eq!(
        link_targets("![pic](serve.png \"title\")"),
        vec!["serve.png"]
    );
    let text =
        "# One\n```sh\n# not a heading [x](nope.md)\n```\n## Set up: `datachonk init`\n## One\n";
    let lines: Vec<_> = prose_lines(text).into_iter().map(|(_, l)| l).collect();
    assert_eq!(
        lines,
        vec!["# One", "## Set up: `datachonk init`", "## One"]
    );
    let ids = anchors(text);
    for id in ["one", "set-up-datachonk-init", "one-1"] {
        assert!(ids.contains(id), "{id} in {ids:?}");
    }
    assert_eq!(
        heading_id("After the verdict: what ran, retries, waiting on any run"),
        "after-the-verdict-what-ran-retries-waiting-on-any-run"
    );
    assert_eq!(
        includes("x\n{{#include ../../a.yaml}}\ny {{#include b.md:2:5}}"),
        vec!["../../a.yaml", "b.md"]
    );
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_readme_section_the_program_names_exists() {
    // Messages say `(README, \"Safety\")` in string literals, and --help (the doc comments of
    // the CLI's types) says `(README, "Hooks")`: the README keeps those headings.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let headings: BTreeSet<String> = prose_lines(&readme)
        .into_iter()
        .filter_map(|(_, l)| l.strip_prefix("## ").map(str::to_string))
        .collect();
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let mut named = 0;
    let mut missing = Vec::new();
    for file in files {
        let shown = file.strip_prefix(repo()).unwrap().display().to_string();
        let is_cli = shown == "src/cli.rs" || shown.starts_with("src/cli/");
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let help = is_cli && line.trim_start().starts_with("///");
            let quote = if help { "README, \"" } else { "README, \\\"" };
            for (at, _) in line.match_indices(quote) {
                let rest = &line[at + quote.len()..];
                let section = &rest[..rest.find(['"', '\\']).unwrap_or(rest.len())];
                named += 1;
                if !headings.contains(section) {
                    missing.push(format!("{shown}: README section {section:?}"));
                }
            }
        }
    }
    assert!(named > 0, "the program names README sections");
    assert!(
        missing.is_empty(),
        "the README lacks sections the program names:\n{}",
        missing.join("\n")
    );
}

/// Repository paths named as code (`src/serve/openapi.json`, `scripts/soak`): the first word of
/// an inline code span that starts with one of the repository's folders.
fn repository_paths(line: &str) -> Vec<String> {
    const FOLDERS: &[&str] = &[
        "src/",
        "tests/",
        "scripts/",
        "templates/",
        "docs/",
        "fuzz/",
        ".ci/",
        ".github/",
    ];
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('`') else { break };
        let word = after[..end].split_whitespace().next().unwrap_or("");
        if FOLDERS.iter().any(|f| word.starts_with(f))
            && !word.contains(['<', '>', '*', '{', '}', '…'])
        {
            out.push(word.trim_end_matches('/').to_string());
        }
        rest = &after[end + 1..];
    }
    out
}

#[test]
fn every_repository_path_the_docs_name_exists() {
    // A file moved or renamed in a refactor leaves the book pointing at nothing: name it here.
    let mut named = 0;
    let mut missing = Vec::new();
    for doc in documents() {
        let shown = doc.strip_prefix(repo()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&doc).unwrap();
        for (n, line) in prose_lines(&text) {
            for path in repository_paths(line) {
                named += 1;
                if !repo().join(&path).exists() {
                    missing.push(format!("{shown}:{n}: `{path}` does not exist"));
                }
            }
        }
    }
    assert!(named > 20, "the docs name repository files ({named} found)");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert_eq!(
        repository_paths("see `src/a.rs`, `scripts/bench-* N`, `datachonk.yaml` and `docs/`"),
        vec!["src/a.rs", "docs"]
    );
}
