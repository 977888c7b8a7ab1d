//! Edits to a person's own YAML, line by line so the rest stays byte for byte - tables and columns added to their sources, models to their models list.

use std::path::Path;

use crate::generate::plan::context::{jinja_safe, SourceCtx, TableCtx};
use crate::generate::read::project::{
    is_empty_yaml, parse, read_properties, DeclaredSource, ModelsList, Project, ProjectError,
};
use crate::generate::read::yaml::{self};

/// One change to a person's file: the lines to insert after a line.
#[derive(Debug, Clone)]
struct Insertion {
    /// Insert after this 0-based line index (`None`: at the very start).
    after: usize,
    lines: Vec<String>,
    /// What it adds, for messages.
    what: String,
}

/// What is added to one declared source (its file, by source name).
#[derive(Debug, Default)]
pub struct Additions<'a> {
    /// New tables of the source (contexts datachonk built), in order.
    pub tables: Vec<&'a TableCtx>,
    /// Missing columns of declared tables: (declared table name, raw column names).
    pub columns: Vec<(String, Vec<String>)>,
}

/// The new text of `file` (project-relative path `rel`) with `additions` made to its
/// declared sources; `None` when nothing is added.
pub fn edit(
    root: &Path,
    rel: &str,
    text: &str,
    project: &Project,
    additions: &[(&SourceCtx, &DeclaredSource, Additions)],
) -> Result<Option<String>, ProjectError> {
    let full = root.join(rel);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut inserts: Vec<Insertion> = Vec::new();
    for (source, declared, add) in additions.iter().filter(|(_, d, _)| d.file == rel) {
        for (table, columns) in &add.columns {
            let Some(t) = declared.tables.iter().find(|t| &t.name == table) else {
                continue;
            };
            let Some(&(_, last_line)) = t.columns.last() else {
                continue;
            };
            let what = format!("columns of {}.{}", declared.name, t.name);
            let item = list_item(&lines, last_line).ok_or_else(|| cannot(&full, &what))?;
            let cols: Vec<&crate::generate::plan::context::ColumnCtx> = source
                .tables
                .iter()
                .find(|x| x.name == t.name || x.identifier == t.identifier)
                .map(|x| {
                    x.columns
                        .iter()
                        .filter(|c| columns.iter().any(|n| n == c.name()))
                        .collect()
                })
                .unwrap_or_default();
            let mut new = Vec::new();
            for c in cols {
                new.extend(column_lines(c, item.dash, item.key));
            }
            inserts.push(Insertion {
                after: item.end,
                lines: new,
                what,
            });
        }
        if add.tables.is_empty() {
            continue;
        }
        let what = format!(
            "table(s) {} to source {}",
            add.tables
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            declared.name
        );
        if let Some(last) = declared.tables.last() {
            let item = list_item(&lines, last.line).ok_or_else(|| cannot(&full, &what))?;
            // A blank line between neighbours is kept between the new entries.
            let spaced = declared.tables.len() > 1 && {
                let prev = list_item(&lines, declared.tables[declared.tables.len() - 2].line);
                prev.is_some_and(|p| p.end + 1 < item.start)
            };
            let seq = sequence_indent(&lines, item.start, item.dash);
            // New entries look like their neighbours: where the person lists no columns on
            // any table (columns belong in the models' YAML), the new ones list none either.
            let columns = declared.tables.iter().any(|t| !t.columns.is_empty());
            let mut new = Vec::new();
            for t in &add.tables {
                if spaced {
                    new.push(String::new());
                }
                new.extend(table_lines(
                    t,
                    item.dash,
                    item.key - item.dash,
                    seq,
                    columns,
                ));
            }
            inserts.push(Insertion {
                after: item.end,
                lines: new,
                what,
            });
        } else if !declared.has_tables_key {
            let item = list_item(&lines, declared.line).ok_or_else(|| cannot(&full, &what))?;
            let mut new = vec![format!("{}tables:", " ".repeat(item.key))];
            for t in &add.tables {
                new.extend(table_lines(t, item.key + 2, 2, 2, true));
            }
            inserts.push(Insertion {
                after: item.end,
                lines: new,
                what,
            });
        } else {
            return Err(cannot(&full, &what));
        }
    }
    if inserts.is_empty() {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len() + 1024);
    inserts.sort_by_key(|i| i.after);
    let mut next = 0;
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        while next < inserts.len() && inserts[next].after == i {
            if !out.ends_with('\n') {
                out.push_str(eol);
            }
            for l in &inserts[next].lines {
                out.push_str(l);
                out.push_str(eol);
            }
            next += 1;
        }
    }
    // Parsed again: it must still be valid and declare what was added.
    let reread = parse(&full, &out);
    let mut check = Project::default();
    let ok = reread.is_ok() && read_properties(&mut check, rel, &full, &out).is_ok() && {
        additions
            .iter()
            .filter(|(_, d, _)| d.file == rel)
            .all(|(_, d, add)| {
                let Some(s) = check.sources.iter().find(|s| s.name == d.name) else {
                    return false;
                };
                add.tables
                    .iter()
                    .all(|t| s.tables.iter().any(|x| x.name == t.name))
                    && add.columns.iter().all(|(t, cols)| {
                        s.tables.iter().any(|x| {
                            &x.name == t
                                && cols.iter().all(|c| {
                                    x.columns.iter().any(|(n, _)| n.eq_ignore_ascii_case(c))
                                })
                        })
                    })
                    && s.tables.len() == d.tables.len() + add.tables.len()
            })
    };
    if !ok {
        let what = inserts
            .iter()
            .map(|i| i.what.clone())
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = cannot(&full, &what);
        if let ProjectError::CannotEdit { block, reason, .. } = &mut e {
            *reason = "the edited file would not read back as intended (an unusual layout)".into();
            *block = inserts
                .iter()
                .flat_map(|i| i.lines.iter().cloned())
                .collect::<Vec<_>>()
                .join("\n");
        }
        return Err(e);
    }
    let _ = project;
    Ok(Some(out))
}

/// The text of the person's properties file `rel` with new model entries appended to its
/// `models:` list (or a `models:` list appended, when it has none). `block` is rendered YAML
/// starting with `models:` and its entries at a dash indent of 2; the entries are moved to the
/// indent of the file's own list. Every other byte stays; the result must read back with the
/// file's models in their order followed by `names`, or nothing is written.
pub fn append_models(
    root: &Path,
    rel: &str,
    text: &str,
    list: Option<&ModelsList>,
    block: &str,
    names: &[String],
) -> Result<String, ProjectError> {
    let full = root.join(rel);
    let what = format!("model(s) {}", names.join(", "));
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let entries = tests_like_neighbours(
        &block
            .lines()
            .skip_while(|l| l.trim_end() != "models:")
            .skip(1)
            .collect::<Vec<_>>(),
        text,
    );
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() + block.len() + 64);
    match list.and_then(|l| l.last_line) {
        Some(last) => {
            let item = list_item(&lines, last).ok_or_else(|| cannot(&full, &what))?;
            // A blank line between the file's entries is kept between the new ones.
            let spaced = item
                .start
                .checked_sub(1)
                .and_then(|i| lines.get(i))
                .is_some_and(|l| l.trim().is_empty());
            for (i, line) in lines.iter().enumerate() {
                out.push_str(line);
                if i == item.end {
                    if !out.ends_with('\n') {
                        out.push_str(eol);
                    }
                    for l in &entries {
                        if spaced && l.trim_start().starts_with("- ") && indent_of(l) == 2 {
                            out.push_str(eol);
                        }
                        if !l.trim().is_empty() {
                            out.push_str(&" ".repeat(item.dash));
                            out.push_str(l.strip_prefix("  ").unwrap_or(l));
                        }
                        out.push_str(eol);
                    }
                }
            }
        }
        None => {
            out.push_str(text);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push_str(eol);
            }
            if !is_empty_yaml(text) {
                out.push_str(eol);
            }
            out.push_str("models:");
            out.push_str(eol);
            for l in &entries {
                out.push_str(l);
                out.push_str(eol);
            }
        }
    }
    // Read back: the file's models, in order, then the new ones.
    let mut check = Project::default();
    let ok = read_properties(&mut check, rel, &full, &out).is_ok() && {
        let now = check
            .models_lists
            .get(rel)
            .map(|l| l.names.clone())
            .unwrap_or_default();
        let before = list.map(|l| l.names.clone()).unwrap_or_default();
        now.len() == before.len() + names.len()
            && now[..before.len()] == before[..]
            && now[before.len()..]
                .iter()
                .zip(names)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    };
    if !ok {
        return Err(ProjectError::CannotEdit {
            path: full,
            what,
            reason: "the edited file would not read back as intended (an unusual layout)".into(),
            block: entries.join("\n"),
        });
    }
    Ok(out)
}

/// The rendered entries with their lists of plain test names written the way the person's
/// file mostly writes them: `data_tests: [unique, not_null]` when its test lists are flow
/// style, else block style as rendered.
fn tests_like_neighbours(entries: &[&str], text: &str) -> Vec<String> {
    let (mut flow, mut block) = (0, 0);
    for l in text.lines() {
        let t = l.trim_start();
        if let Some(rest) = t
            .strip_prefix("data_tests:")
            .or_else(|| t.strip_prefix("tests:"))
        {
            let rest = rest.trim();
            if rest.starts_with('[') {
                flow += 1;
            } else if rest.is_empty() || rest.starts_with('#') {
                block += 1;
            }
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(entries.len());
    let mut i = 0;
    while i < entries.len() {
        let l = entries[i];
        let key = matches!(l.trim(), "data_tests:" | "tests:");
        if flow > block && key {
            let indent = indent_of(l);
            let mut names = Vec::new();
            let mut j = i + 1;
            while let Some(item) = entries.get(j).filter(|e| indent_of(e) > indent) {
                // Only plain names: a test with arguments or config stays a block.
                match item.trim_start().strip_prefix("- ").map(str::trim) {
                    Some(v)
                        if !v.is_empty()
                            && v.chars()
                                .all(|c| c.is_alphanumeric() || c == '_' || c == '.') =>
                    {
                        names.push(v)
                    }
                    _ => break,
                }
                j += 1;
            }
            let whole = entries.get(j).is_none_or(|e| indent_of(e) <= indent);
            if !names.is_empty() && whole {
                out.push(format!("{} [{}]", l.trim_end(), names.join(", ")));
                i = j;
                continue;
            }
        }
        out.push(l.to_string());
        i += 1;
    }
    out
}

fn cannot(full: &Path, what: &str) -> ProjectError {
    ProjectError::CannotEdit {
        path: full.to_path_buf(),
        what: what.to_string(),
        reason: "its layout is not a block list datachonk can append to (flow style?)".into(),
        block: String::new(),
    }
}

/// A block-sequence item: where its dash is and its content ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    /// 0-based line of the dash.
    pub(crate) start: usize,
    /// Column of the dash.
    pub(crate) dash: usize,
    /// Column of the item's keys.
    pub(crate) key: usize,
    /// 0-based line of the item's last line of content (comments inside it included).
    pub(crate) end: usize,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The list item holding the mapping whose key is on 1-based line `line`.
pub(crate) fn list_item(lines: &[&str], line: u64) -> Option<Item> {
    let at = (line as usize).checked_sub(1)?;
    let mut key_col = None;
    for start in (0..=at).rev().take(64) {
        let l = lines.get(start)?.trim_end_matches(['\n', '\r']);
        let ind = indent_of(l);
        let rest = &l[ind..];
        if start != at && key_col.is_some_and(|k| ind >= k) && !rest.starts_with('-') {
            continue;
        }
        if let Some(after) = rest.strip_prefix('-') {
            if !(after.is_empty() || after.starts_with(' ')) {
                return None;
            }
            let key = ind + 1 + (after.len() - after.trim_start_matches(' ').len());
            if after.trim_start().starts_with('{') {
                return None;
            }
            let mut end = start;
            for (i, l) in lines.iter().enumerate().skip(start + 1) {
                let l = l.trim_end_matches(['\n', '\r']);
                if l.trim().is_empty() {
                    continue;
                }
                let li = indent_of(l);
                if li > ind {
                    end = i;
                } else {
                    break;
                }
            }
            return Some(Item {
                start,
                dash: ind,
                key,
                end,
            });
        }
        if start == at {
            key_col = Some(ind);
        } else if key_col.is_none_or(|k| ind < k) {
            return None;
        }
    }
    None
}

/// How far a block list's dashes sit to the right of its key (`tables:`): 2, or 0 for
/// indentless lists.
pub(crate) fn sequence_indent(lines: &[&str], item_start: usize, dash: usize) -> usize {
    for l in lines[..item_start].iter().rev() {
        let l = l.trim_end_matches(['\n', '\r']);
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let ind = indent_of(l);
        if ind < dash || (ind == dash && !t.starts_with('-')) {
            return dash - ind;
        }
    }
    2
}

fn quoted(s: &str) -> String {
    yaml::scalar(&jinja_safe(s))
}

/// A new table entry: dash at column `dash`, keys `key_off` to its right, nested lists `seq`
/// to the right of their key.
fn table_lines(
    t: &TableCtx,
    dash: usize,
    key_off: usize,
    seq: usize,
    columns: bool,
) -> Vec<String> {
    let pad = " ".repeat(dash);
    let key = dash + key_off;
    let kpad = " ".repeat(key);
    // `-` then spaces up to the key column.
    let mut out = vec![format!(
        "{pad}-{}name: {}",
        " ".repeat(key_off.saturating_sub(1).max(1)),
        quoted(&t.name)
    )];
    if t.has_identifier {
        out.push(format!("{kpad}identifier: {}", quoted(&t.identifier)));
    }
    if !t.description.is_empty() {
        out.push(format!(
            "{kpad}description: {}",
            yaml::scalar(&t.description)
        ));
    }
    if t.quote_identifier {
        out.push(format!("{kpad}quoting:"));
        out.push(format!("{kpad}  identifier: true"));
    }
    if columns && !t.columns.is_empty() {
        out.push(format!("{kpad}columns:"));
        for c in &t.columns {
            out.extend(column_lines(c, key + seq, key + seq + key_off));
        }
    }
    out
}

fn column_lines(
    c: &crate::generate::plan::context::ColumnCtx,
    dash: usize,
    key: usize,
) -> Vec<String> {
    let kpad = " ".repeat(key);
    let mut out = vec![format!(
        "{}-{}name: {}",
        " ".repeat(dash),
        " ".repeat(key.saturating_sub(dash + 1).max(1)),
        quoted(c.name())
    )];
    if !c.data_type().is_empty() {
        out.push(format!("{kpad}data_type: {}", quoted(c.data_type())));
    }
    if !c.description().is_empty() {
        out.push(format!(
            "{kpad}description: {}",
            yaml::scalar(c.description())
        ));
    }
    if c.needs_quoting {
        out.push(format!("{kpad}quote: true"));
    }
    out
}
