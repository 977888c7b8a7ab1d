//! The layers DESIGN.md draws, checked against what `src/` imports (issue 25 §2).
//!
//! A line scanner, not a compiler: comments, strings and `#[cfg(test)]` items are blanked,
//! then every `use` tree and every `crate::`/`super::`/`self::`/child-module path is resolved
//! to the file that defines it (through `pub use` re-exports). It fails on:
//! (a) an arrow between top-level modules that DESIGN.md's "Layers" table does not allow;
//! (b) a circle between files (a child naming an item its parent defines counts: the parent
//!     declares the child, so the parent file depends on it);
//! (c) anything outside `commands/`, `cli` and `main.rs` naming `crate::cli` or `crate::commands`;
//! (d) a command's file in `src/commands/` naming another command's file (a command is a file
//!     with `fn run` and its subdirectory; helpers there that are no command may be shared);
//! (e) a function in `src/commands/` over 80 lines.
//! `KNOWN` lists what is still open, each with who removes it; it is emptied as that lands.
//! `scripts/code-shape` runs `shape_report` below for the figures issue 25 §5 asks for.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Violations still in the tree, keyed as the test prints them, with who removes them.
/// A circle entry `circle within A B` covers any circle whose members all lie under A or B.
/// Empty: every violation found since issue 25 is removed; a new one fails the test.
const KNOWN: &[(&str, &str)] = &[];

/// Commands longer than this are not thin.
const MAX_COMMAND_FN_LINES: usize = 80;

#[test]
fn imports_follow_the_layers_in_design_md() {
    let crate_src = Src::load();
    let table = Layers::from_design_md();
    let mut found = crate_src.violations(&table);
    found.sort();
    let mut unexplained = Vec::new();
    let mut explained = BTreeSet::new();
    for v in &found {
        match KNOWN.iter().find(|(k, _)| known_matches(k, &v.key)) {
            Some((k, owner)) => {
                explained.insert(*k);
                eprintln!("known ({owner}): {}", v.render());
            }
            None => unexplained.push(v),
        }
    }
    for (k, owner) in KNOWN {
        if !explained.contains(k) {
            eprintln!("KNOWN entry no longer seen, remove it: {k:?} ({owner})");
        }
    }
    assert!(
        unexplained.is_empty(),
        "{} import(s) break the layers of DESIGN.md:\n{}",
        unexplained.len(),
        unexplained
            .iter()
            .map(|v| v.render())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The scanner itself: a path it must resolve, a circle it must find.
#[test]
fn the_scanner_resolves_use_trees_and_finds_a_child_using_its_parent() {
    let files = vec![
        ("src/lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "src/a/mod.rs",
            "mod leaf;\nmod other;\npub use leaf::Thing;\npub struct Top;\n",
        ),
        (
            "src/a/leaf.rs",
            "use super::{Top, leaf2 as _};\n// crate::b::gone\nconst S: &str = \"crate::b::x\";\npub struct Thing;\n",
        ),
        (
            "src/b.rs",
            "use crate::{a::{self, Thing}};\nfn f() -> Thing { crate::a::Thing }\n",
        ),
        (
            "src/a/other.rs",
            "pub(in crate::a) fn g() {}\n",
        ),
    ];
    let src = Src::from_texts(
        files
            .into_iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect(),
    );
    let edges: BTreeSet<(String, String)> = src
        .edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    // `Thing` is re-exported by a/mod.rs: b's arrow lands on the leaf that defines it.
    assert!(edges.contains(&("b".into(), "a::leaf".into())), "{edges:?}");
    // Importing the module `a` is not an arrow to a/mod.rs: what b names through it is.
    assert!(!edges.contains(&("b".into(), "a".into())), "{edges:?}");
    // Comments and strings name nothing.
    assert!(
        !edges.contains(&("a::leaf".into(), "b".into())),
        "{edges:?}"
    );
    let circles = src.circles();
    assert_eq!(circles, vec![vec!["a".to_string(), "a::leaf".to_string()]]);
}

/// Figures for issue 25 §5 (`scripts/code-shape`): the longest command functions, the
/// circles left, and the largest rooms.
#[test]
#[ignore = "a report, run by scripts/code-shape"]
fn shape_report() {
    let src = Src::load();
    let mut fns = src.command_functions();
    fns.sort_by(|a, b| b.lines.cmp(&a.lines).then(a.file.cmp(&b.file)));
    println!("longest functions in src/commands/ (limit {MAX_COMMAND_FN_LINES}):");
    for f in fns.iter().take(12) {
        println!("  {:>4}  {}  {}:{}", f.lines, f.name, f.file, f.line);
    }
    let circles = src.circles();
    println!("circles between files of one layer: {}", circles.len());
    for c in &circles {
        println!("  {} [{}]", c.len(), c.join(", "));
    }
    let top = |k: &str| k.split("::").next().unwrap_or("").to_string();
    let across: Vec<Vec<String>> = src
        .circles_among(false)
        .into_iter()
        .filter(|c| c.iter().any(|m| top(m) != top(&c[0])))
        .collect();
    println!("circles across layers: {}", across.len());
    for c in &across {
        println!("  {} [{}]", c.len(), c.join(", "));
    }
    if root().join("DESIGN.md").exists() {
        let table = Layers::from_design_md();
        let up: Vec<String> = src
            .violations(&table)
            .into_iter()
            .filter(|v| v.key.starts_with("layer ") || v.key.starts_with("names "))
            .map(|v| format!("{} ({} imports)", v.key, v.places.len()))
            .collect();
        println!("arrows up DESIGN.md's Layers table: {}", up.len());
        for a in up {
            println!("  {a}");
        }
    }
    let mut dirs: BTreeMap<String, usize> = BTreeMap::new();
    let mut files: Vec<(usize, String)> = Vec::new();
    for m in src.modules.values() {
        let lines = m.raw_lines;
        files.push((lines, m.file.clone()));
        let mut dir = Path::new(&m.file).parent();
        while let Some(d) = dir {
            if d.as_os_str().is_empty() {
                break;
            }
            *dirs.entry(d.display().to_string()).or_default() += lines;
            dir = d.parent();
        }
    }
    let total = dirs.get("src").copied().unwrap_or(0).max(1);
    let mut dirs: Vec<(usize, String)> = dirs.into_iter().map(|(d, n)| (n, d)).collect();
    dirs.sort_by(|a, b| b.cmp(a));
    println!("largest directories (lines, share of src/):");
    for (n, d) in dirs.iter().take(12) {
        println!("  {n:>6}  {:>3}%  {d}/", n * 100 / total);
    }
    files.sort_by(|a, b| b.cmp(a));
    println!("largest files:");
    for (n, f) in files.iter().take(15) {
        println!("  {n:>6}  {f}");
    }
}

fn known_matches(known: &str, key: &str) -> bool {
    if let (Some(prefixes), Some(members)) = (
        known.strip_prefix("circle within "),
        key.strip_prefix("circle "),
    ) {
        let prefixes: Vec<&str> = prefixes.split(' ').collect();
        return members.split(' ').all(|m| {
            prefixes
                .iter()
                .any(|p| m == *p || m.starts_with(&format!("{p}::")))
        });
    }
    known == key
}

struct Violation {
    key: String,
    /// `file:line: what`, one per offending import.
    places: Vec<String>,
}

impl Violation {
    fn render(&self) -> String {
        const SHOWN: usize = 12;
        let mut s = self.key.clone();
        for p in self.places.iter().take(SHOWN) {
            s.push_str("\n    ");
            s.push_str(p);
        }
        if self.places.len() > SHOWN {
            s.push_str(&format!("\n    … and {} more", self.places.len() - SHOWN));
        }
        s
    }
}

impl PartialEq for Violation {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl Eq for Violation {}
impl PartialOrd for Violation {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Violation {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

// ---------------------------------------------------------------------------------------------
// DESIGN.md's table

/// `layer → what it may use`, read from DESIGN.md's "## Layers" section, whose lines read
/// ``- `name` uses `a`, `b` `` or ``- `group` = `m1`, `m2` `` (a group's members use nothing
/// of the crate unless the group has a `uses` line) or ``- `name` uses everything below``;
/// text after `(` or `:` explains and names no layer.
struct Layers {
    allowed: BTreeMap<String, BTreeSet<String>>,
}

impl Layers {
    fn from_design_md() -> Layers {
        let path = root().join("DESIGN.md");
        let text = fs::read_to_string(&path).expect("DESIGN.md at the repository root");
        Layers::parse(&text)
    }

    fn parse(text: &str) -> Layers {
        let section = text
            .split("\n## ")
            .find(|s| s.starts_with("Layers"))
            .expect("DESIGN.md has a \"## Layers\" section");
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut below: BTreeSet<String> = BTreeSet::new();
        for line in section.lines() {
            let Some(rest) = line.strip_prefix("- `") else {
                continue;
            };
            let Some((name, tail)) = rest.split_once('`') else {
                continue;
            };
            // What follows in parentheses or after a colon explains; it names no layer.
            let words = backticked(tail.split(['(', ':']).next().unwrap_or(tail));
            let tail = tail.trim_start();
            if tail.starts_with('=') {
                for m in &words {
                    allowed.entry(m.clone()).or_default();
                    below.insert(m.clone());
                }
                groups.insert(name.to_string(), words);
                continue;
            }
            if !tail.starts_with("uses") {
                continue;
            }
            let mut set: BTreeSet<String> = if tail.contains("everything below") {
                below.clone()
            } else {
                BTreeSet::new()
            };
            for w in words {
                assert!(
                    below.contains(&w) || groups.contains_key(&w),
                    "DESIGN.md's Layers: `{name}` uses `{w}`, which is not listed before it"
                );
                match groups.get(&w) {
                    Some(members) => set.extend(members.iter().cloned()),
                    None => {
                        set.insert(w);
                    }
                }
            }
            match groups.get(name) {
                Some(members) => {
                    for m in members.clone() {
                        allowed.insert(m, set.clone());
                    }
                }
                None => {
                    allowed.insert(name.to_string(), set);
                    below.insert(name.to_string());
                }
            }
        }
        assert!(
            !allowed.is_empty(),
            "DESIGN.md's Layers section lists no layer"
        );
        Layers { allowed }
    }
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The source tree

struct Module {
    /// `src/config/file.rs`.
    file: String,
    /// Comments, strings and test items blanked; line breaks kept.
    text: String,
    raw_lines: usize,
    children: Vec<(String, usize)>,
    /// `pub use` names: name → absolute path of what it names.
    reexports: BTreeMap<String, Vec<String>>,
}

struct Edge {
    from: String,
    to: String,
    line: usize,
}

struct Src {
    /// Keyed by module path (`config::file`; the crate root is "").
    modules: BTreeMap<String, Module>,
    edges: Vec<Edge>,
}

struct CommandFn {
    file: String,
    name: String,
    line: usize,
    lines: usize,
}

impl Src {
    fn load() -> Src {
        let root = root();
        let mut files = Vec::new();
        walk(&root.join("src"), &mut files);
        let texts = files
            .into_iter()
            .map(|p| {
                let text = fs::read_to_string(&p).expect("readable source");
                (p.strip_prefix(&root).unwrap().to_path_buf(), text)
            })
            .collect();
        Src::from_texts(texts)
    }

    fn from_texts(texts: Vec<(PathBuf, String)>) -> Src {
        let mut modules = BTreeMap::new();
        for (path, raw) in texts {
            let Some(key) = module_key(&path) else {
                continue;
            };
            let text = blank_tests(&clean(&raw));
            let children = child_decls(&text);
            modules.insert(
                key,
                Module {
                    file: path.display().to_string(),
                    raw_lines: raw.lines().count(),
                    text,
                    children,
                    reexports: BTreeMap::new(),
                },
            );
        }
        // Re-exports first, so paths through a `mod.rs` land on the file that defines the item.
        let keys: Vec<String> = modules.keys().cloned().collect();
        for key in &keys {
            let m = &modules[key];
            let children: Vec<String> = m.children.iter().map(|c| c.0.clone()).collect();
            let mut re = BTreeMap::new();
            for u in use_statements(&m.text) {
                if !u.public {
                    continue;
                }
                for (path, alias) in u.paths {
                    if let Some(abs) = absolute(key, &children, &BTreeMap::new(), &path) {
                        if let Some(name) = alias.or_else(|| abs.last().cloned()) {
                            if name != "*" {
                                re.insert(name, abs);
                            }
                        }
                    }
                }
            }
            modules.get_mut(key).unwrap().reexports = re;
        }
        let mut src = Src {
            modules,
            edges: Vec::new(),
        };
        let mut edges = Vec::new();
        for key in &keys {
            let m = &src.modules[key];
            let children: Vec<String> = m.children.iter().map(|c| c.0.clone()).collect();
            for (child, line) in &m.children {
                let to = join(key, child);
                if src.modules.contains_key(&to) {
                    edges.push(Edge {
                        from: key.clone(),
                        to,
                        line: *line,
                    });
                }
            }
            // `use super::marts;` imports a module: what counts is which of its items the
            // file then names (`marts::Spec`, resolved through its re-exports), not its mod.rs.
            let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut paths: Vec<(Vec<String>, usize)> = Vec::new();
            for u in use_statements(&m.text) {
                for (path, alias) in u.paths {
                    let module = absolute(key, &children, &BTreeMap::new(), &path)
                        .filter(|abs| !u.public && src.modules.contains_key(&abs.join("::")));
                    match module.and_then(|abs| Some((alias.or_else(|| abs.last().cloned())?, abs)))
                    {
                        Some((name, abs)) => {
                            aliases.insert(name, abs);
                        }
                        None => paths.push((path, u.line)),
                    }
                }
            }
            let mut roots = children.clone();
            roots.extend(aliases.keys().cloned());
            paths.extend(expression_paths(&m.text, &roots));
            for (path, line) in paths {
                let Some(abs) = absolute(key, &children, &aliases, &path) else {
                    continue;
                };
                if let Some(to) = src.resolve(&abs, 0) {
                    if to != *key {
                        edges.push(Edge {
                            from: key.clone(),
                            to,
                            line,
                        });
                    }
                }
            }
        }
        src.edges = edges;
        src
    }

    /// The module (file) that defines what `abs` names.
    fn resolve(&self, abs: &[String], depth: usize) -> Option<String> {
        for n in (0..=abs.len()).rev() {
            let key = abs[..n].join("::");
            let Some(m) = self.modules.get(&key) else {
                continue;
            };
            if n < abs.len() && depth < 8 {
                if let Some(target) = m.reexports.get(&abs[n]) {
                    let mut next = target.clone();
                    next.extend(abs[n + 1..].iter().cloned());
                    if next != abs {
                        return self.resolve(&next, depth + 1).or(Some(key));
                    }
                }
            }
            return Some(key);
        }
        None
    }

    fn line_of(&self, e: &Edge) -> String {
        format!("{}:{}", self.modules[&e.from].file, e.line)
    }

    fn violations(&self, table: &Layers) -> Vec<Violation> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut add = |key: String, place: String| {
            out.entry(key).or_default().insert(place);
        };
        let top = |k: &str| k.split("::").next().unwrap_or("").to_string();
        for m in self.modules.keys() {
            let t = top(m);
            if !t.is_empty() && !table.allowed.contains_key(&t) {
                add(
                    format!("layer {t} is not in DESIGN.md's table"),
                    format!("{}:1", self.modules[m].file),
                );
            }
        }
        for e in &self.edges {
            let (a, b) = (top(&e.from), top(&e.to));
            if a.is_empty() || b.is_empty() || a == b {
                // The crate root only declares; inside a layer, circles are checked below.
                if a == "commands" && b == "commands" {
                    self.command_to_command(e, &mut add);
                }
                continue;
            }
            let at = format!("{}: uses {}", self.line_of(e), e.to);
            if matches!(b.as_str(), "cli" | "commands") && !matches!(a.as_str(), "cli" | "commands")
            {
                add(format!("names cli/commands: {a}"), at);
                continue;
            }
            let ok = table.allowed.get(&a).is_some_and(|s| s.contains(&b));
            if !ok {
                add(format!("layer {a} -> {b}"), at);
            }
        }
        for circle in self.circles() {
            let members: BTreeSet<&String> = circle.iter().collect();
            let places = self
                .edges
                .iter()
                .filter(|e| members.contains(&e.from) && members.contains(&e.to))
                .map(|e| format!("{}: uses {}", self.line_of(e), e.to))
                .collect::<BTreeSet<_>>();
            for p in places {
                add(format!("circle {}", circle.join(" ")), p);
            }
        }
        for f in self.command_functions() {
            if f.lines > MAX_COMMAND_FN_LINES {
                add(
                    format!("fn {}::{}", f.file.trim_start_matches("src/"), f.name),
                    format!(
                        "{}:{}: {} lines (limit {MAX_COMMAND_FN_LINES})",
                        f.file, f.line, f.lines
                    ),
                );
            }
        }
        out.into_iter()
            .map(|(key, places)| Violation {
                key,
                places: places.into_iter().collect(),
            })
            .collect()
    }

    /// (d): a command's file naming another command's file. A command is `commands/X.rs` with
    /// everything under `commands/X/`, when one of its files has a `fn run`; files of one
    /// command may use each other, and anything may use a helper module under `commands/`
    /// that is no command (the dispatcher, the reporters), which may in turn use commands.
    fn command_to_command(&self, e: &Edge, add: &mut impl FnMut(String, String)) {
        let group = |k: &str| k.split("::").nth(1).map(str::to_string);
        let (Some(a), Some(b)) = (group(&e.from), group(&e.to)) else {
            return;
        };
        if a == b || !self.is_command(&a) || !self.is_command(&b) {
            return;
        }
        add(
            format!("command {a} uses another command"),
            format!("{}: uses {}", self.line_of(e), e.to),
        );
    }

    /// Whether `commands::name` (and its files) is a command: one of its files has `fn run`.
    fn is_command(&self, name: &str) -> bool {
        let root = format!("commands::{name}");
        self.modules.iter().any(|(k, m)| {
            (*k == root || k.starts_with(&format!("{root}::")))
                && fn_starts(&m.text).iter().any(|(_, f)| f == "run")
        })
    }

    /// Strongly connected groups of more than one file inside one top-level module, each
    /// sorted, in order. (A circle across layers always has an arrow the table forbids, since
    /// the table only lets a layer use the ones listed before it: that arrow is reported.)
    fn circles(&self) -> Vec<Vec<String>> {
        self.circles_among(true)
    }

    /// `within_layer: false`: circles across layers too (each has an arrow up the table).
    fn circles_among(&self, within_layer: bool) -> Vec<Vec<String>> {
        let top = |k: &str| k.split("::").next().unwrap_or("").to_string();
        let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for e in self
            .edges
            .iter()
            .filter(|e| !within_layer || top(&e.from) == top(&e.to))
        {
            graph.entry(&e.from).or_default().insert(&e.to);
        }
        let mut t = Tarjan {
            graph: &graph,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on: BTreeSet::new(),
            next: 0,
            out: Vec::new(),
        };
        for v in self.modules.keys() {
            if !t.index.contains_key(v.as_str()) {
                t.visit(v);
            }
        }
        let mut out = t.out;
        for c in &mut out {
            c.sort();
        }
        out.sort();
        out
    }

    fn command_functions(&self) -> Vec<CommandFn> {
        let mut out = Vec::new();
        for (key, m) in &self.modules {
            if key != "commands" && !key.starts_with("commands::") {
                continue;
            }
            let bytes = m.text.as_bytes();
            for (at, name) in fn_starts(&m.text) {
                // The body: the first `{` before any `;` (a declaration without a body).
                let Some(open) = m.text[at..]
                    .find(['{', ';'])
                    .map(|i| at + i)
                    .filter(|i| bytes[*i] == b'{')
                else {
                    continue;
                };
                let Some(close) = matching_brace(bytes, open) else {
                    continue;
                };
                let start = line_at(&m.text, at);
                out.push(CommandFn {
                    file: m.file.clone(),
                    name,
                    line: start,
                    lines: line_at(&m.text, close) - start + 1,
                });
            }
        }
        out
    }
}

struct Tarjan<'a> {
    graph: &'a BTreeMap<&'a str, BTreeSet<&'a str>>,
    index: BTreeMap<&'a str, usize>,
    low: BTreeMap<&'a str, usize>,
    stack: Vec<&'a str>,
    on: BTreeSet<&'a str>,
    next: usize,
    out: Vec<Vec<String>>,
}

impl<'a> Tarjan<'a> {
    fn visit(&mut self, v: &'a str) {
        self.index.insert(v, self.next);
        self.low.insert(v, self.next);
        self.next += 1;
        self.stack.push(v);
        self.on.insert(v);
        let next: Vec<&'a str> = self
            .graph
            .get(v)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        for w in next {
            if !self.index.contains_key(w) {
                self.visit(w);
                let lw = self.low[w];
                let lv = self.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if self.on.contains(w) {
                let iw = self.index[w];
                let lv = self.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if self.low[v] == self.index[v] {
            let mut group = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on.remove(w);
                group.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                self.out.push(group);
            }
        }
    }
}

/// The tree to read: this crate, or `DATACHONK_SHAPE_ROOT` (scripts/code-shape measures other
/// checkouts, e.g. a worktree before its merge).
fn root() -> PathBuf {
    std::env::var_os("DATACHONK_SHAPE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/config/file.rs` → `config::file`; `src/lib.rs` → ""; the binary's root is not the
/// library's (it names `datachonk::`), so `src/main.rs` is left out.
fn module_key(path: &Path) -> Option<String> {
    let rel = path.strip_prefix("src").ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    match stem {
        "main" if parts.is_empty() => return None,
        "lib" if parts.is_empty() => {}
        "mod" => {}
        s => parts.push(s.to_string()),
    }
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    Some(parts.join("::"))
}

fn join(key: &str, child: &str) -> String {
    if key.is_empty() {
        child.to_string()
    } else {
        format!("{key}::{child}")
    }
}

/// A path as written, made absolute from module `key`; `None` for other crates' paths.
fn absolute(
    key: &str,
    children: &[String],
    aliases: &BTreeMap<String, Vec<String>>,
    path: &[String],
) -> Option<Vec<String>> {
    let mut base: Vec<String> = if key.is_empty() {
        Vec::new()
    } else {
        key.split("::").map(String::from).collect()
    };
    let first = path.first()?;
    let mut rest = path;
    match first.as_str() {
        "crate" => {
            base.clear();
            rest = &rest[1..];
        }
        "self" => rest = &rest[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        c if children.iter().any(|k| k == c) => {}
        c => {
            let mut abs = aliases.get(c)?.clone();
            abs.extend(rest[1..].iter().filter(|s| *s != "self").cloned());
            return Some(abs);
        }
    }
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(base)
}

// ---------------------------------------------------------------------------------------------
// The scanner

/// Comments, string and char literals blanked (line breaks kept), so nothing in them counts.
fn clean(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend(bytes.iter().map(|c| if *c == b'\n' { b'\n' } else { b' ' }));
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            let end = src[i..].find('\n').map_or(b.len(), |e| i + e);
            blank(&mut out, &b[i..end]);
            i = end;
        } else if c == b'/' && next == Some(b'*') {
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &b[i..j.min(b.len())]);
            i = j;
        } else if (c == b'r' || c == b'b') && !prev_is_ident(b, i) && raw_string_at(b, i).is_some()
        {
            let end = raw_string_at(b, i).unwrap();
            blank(&mut out, &b[i..end]);
            i = end;
        } else if c == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            blank(&mut out, &b[i..end]);
            i = end;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{1F600}'), not a lifetime ('a).
            let end = if next == Some(b'\\') {
                src[i + 3..].find('\'').map(|e| i + 3 + e + 1)
            } else {
                let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(i + 2 + ch_len)
            };
            match end {
                Some(end) => {
                    blank(&mut out, &b[i..end]);
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).expect("blanking keeps UTF-8 (only ASCII replaced whole)")
}

fn prev_is_ident(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// The end of a raw (byte) string starting at `i` (`r"…"`, `r#"…"#`, `br"…"`).
fn raw_string_at(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if b[j] == b'b' {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    if b.get(j) != Some(&b'"') {
        return None;
    }
    j += 1;
    while j < b.len() {
        if b[j] == b'"'
            && b[j + 1..]
                .iter()
                .take(hashes)
                .filter(|c| **c == b'#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(b.len())
}

/// Items under `#[cfg(test)]` blanked: a test module's `use super::*` is not the file's arrow.
fn blank_tests(text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    let mut from = 0;
    while let Some(at) = find_from(&b, b"#[cfg(test)]", from) {
        let mut j = at + b"#[cfg(test)]".len();
        // The item ends at its first `;` or at the brace matching its first `{`.
        while j < b.len() && b[j] != b';' && b[j] != b'{' {
            j += 1;
        }
        let end = if j < b.len() && b[j] == b'{' {
            matching_brace(&b, j).map_or(b.len(), |e| e + 1)
        } else {
            (j + 1).min(b.len())
        };
        for c in &mut b[at..end] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = end;
    }
    String::from_utf8(b).expect("ASCII blanking keeps UTF-8")
}

fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn matching_brace(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in b.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn line_at(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|c| *c == b'\n').count() + 1
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Words at `at` that start an identifier (not the middle of one).
fn word_at(text: &str, at: usize, word: &str) -> bool {
    text[at..].starts_with(word)
        && !text[..at].chars().next_back().is_some_and(is_ident)
        && !text[at + word.len()..].chars().next().is_some_and(is_ident)
}

/// `mod name;` declarations (not inline modules), with their lines.
fn child_decls(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("mod") {
        if !word_at(text, i, "mod") {
            continue;
        }
        let rest = &text[i + 3..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        let after = rest.trim_start()[name.len()..].trim_start();
        if !name.is_empty() && after.starts_with(';') {
            out.push((name, line_at(text, i)));
        }
    }
    out
}

struct UseStmt {
    public: bool,
    line: usize,
    /// Each path with its `as` alias.
    paths: Vec<(Vec<String>, Option<String>)>,
}

fn use_statements(text: &str) -> Vec<UseStmt> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("use") {
        if !word_at(text, i, "use") {
            continue;
        }
        let Some(end) = text[i..].find(';').map(|e| i + e) else {
            continue;
        };
        let before = text[..i].trim_end();
        let public = before.ends_with("pub")
            || before.ends_with(')') && {
                let open = before.rfind('(').unwrap_or(0);
                before[..open].trim_end().ends_with("pub")
            };
        let tree: String = text[i + 3..end]
            .chars()
            .filter(|c| !c.is_whitespace() || *c == ' ')
            .collect();
        let mut paths = Vec::new();
        expand(&tree, &mut Vec::new(), &mut paths);
        out.push(UseStmt {
            public,
            line: line_at(text, i),
            paths,
        });
    }
    out
}

/// Expand a use tree (`a::{b, c::{self, D as E}}`) into full paths.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    let tree = tree.trim().trim_start_matches("::");
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let close = tree.rfind('}').unwrap_or(tree.len());
        let inner = &tree[open + 1..close];
        let depth0 = prefix.len();
        prefix.extend(head);
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], prefix, out);
        prefix.truncate(depth0);
        return;
    }
    if tree.is_empty() {
        return;
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((p, a)) => (p.trim(), Some(a.trim().to_string())),
        None => (tree, None),
    };
    let mut full = prefix.clone();
    full.extend(
        path.split("::")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
    );
    // `x::{self}` names `x` itself.
    if full.last().is_some_and(|s| s == "self") && full.len() > 1 {
        full.pop();
    }
    out.push((full, alias.filter(|a| a != "_")));
}

/// Paths outside `use`: `crate::a::b`, `super::x`, `self::y`, or `m::z` for a declared child
/// module or an imported one (not preceded by `::`, so `other_crate::m::z` does not count).
fn expression_paths(text: &str, roots: &[String]) -> Vec<(Vec<String>, usize)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !(b[i] as char).is_ascii_alphabetic() && b[i] != b'_' || prev_is_ident(b, i) {
            i += 1;
            continue;
        }
        let before = text[..i].trim_end();
        // `pub(in crate::x)` is a visibility, not a use of `x`.
        let visibility = before
            .strip_suffix("in")
            .map(str::trim_end)
            .and_then(|b| b.strip_suffix('('))
            .is_some_and(|b| b.trim_end().ends_with("pub"));
        let preceded = before.ends_with("::") || visibility;
        let mut segs = Vec::new();
        let mut j = i;
        loop {
            let word: String = text[j..].chars().take_while(|c| is_ident(*c)).collect();
            if word.is_empty() {
                break;
            }
            j += word.len();
            segs.push(word);
            let rest = &text[j..];
            let trimmed = rest.trim_start();
            if let Some(after) = trimmed.strip_prefix("::") {
                let after_ws = after.trim_start();
                if after_ws.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    j = b.len() - after_ws.len();
                    continue;
                }
            }
            break;
        }
        let first = segs[0].as_str();
        let counts = !preceded
            && segs.len() > 1
            && (matches!(first, "crate" | "super" | "self") || roots.iter().any(|c| c == first));
        if counts && !in_use(text, i) {
            out.push((segs, line_at(text, i)));
        }
        i = j.max(i + 1);
    }
    out
}

/// Whether position `at` is inside a `use …;` statement (those are read as trees).
fn in_use(text: &str, at: usize) -> bool {
    let start = text[..at].rfind([';', '}', '{']).map_or(0, |p| p + 1);
    let stmt = text[start..at].trim_start();
    let stmt = stmt
        .strip_prefix("pub")
        .map(|s| {
            let s = s.trim_start();
            match s.strip_prefix('(') {
                Some(r) => r.split_once(')').map_or(r, |x| x.1),
                None => s,
            }
        })
        .unwrap_or(stmt)
        .trim_start();
    stmt.starts_with("use ") || stmt.starts_with("use\n") || {
        // Inside a use group: `use a::{b, c::` — walk back over balanced braces.
        let mut depth = 0i32;
        let mut k = at;
        let bytes = text.as_bytes();
        while k > 0 {
            k -= 1;
            match bytes[k] {
                b'}' => depth += 1,
                b'{' if depth == 0 => {
                    let head = text[..k].rfind([';', '}']).map_or(0, |p| p + 1);
                    let h = text[head..k].trim_start();
                    return h.starts_with("use ")
                        || h.starts_with("pub use ")
                        || h.starts_with("pub(crate) use ")
                        || h.starts_with("pub(super) use ");
                }
                b'{' => depth -= 1,
                b';' if depth == 0 => return false,
                _ => {}
            }
        }
        false
    }
}

/// `fn name` positions, for the length check.
fn fn_starts(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("fn") {
        if !word_at(text, i, "fn") {
            continue;
        }
        let name: String = text[i + 2..]
            .trim_start()
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        if !name.is_empty() {
            out.push((i, name));
        }
    }
    out
}
