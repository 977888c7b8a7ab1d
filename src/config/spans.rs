//! Where each key of a YAML mapping sits in the text: its dotted path, the key's and the value's
//! positions, and where the value ends. `config check` uses it to set a bad entry aside and
//! read on (so one run finds every problem), to name the key a problem belongs to, and
//! `config show` to say on which line a value was written.
//!
//! Built from the parser's events (serde-saphyr's own parser, granit), so positions are the
//! ones the deserializer reports.

use serde_saphyr::granit_parser::{Event, Parser, Span, StructureStyle};

/// A position: line (1-based), column (1-based), and character index in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub line: u64,
    pub column: u64,
    pub index: usize,
}

/// One `key: value` of a mapping.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Keys from the top, e.g. `["deploy", "dbt_cloud", "job_id"]`; a sequence item adds none.
    pub path: Vec<String>,
    pub key: At,
    pub value: At,
    /// Character index just past the value.
    pub end: usize,
    /// Inside `{ … }`: entries are separated by commas.
    pub flow: bool,
    /// The value's text when it is a scalar.
    pub scalar: Option<String>,
}

impl Entry {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }

    /// Whether a character index lies on this entry, key to end of value.
    fn holds(&self, index: usize) -> bool {
        self.key.index <= index && index <= self.end.max(self.key.index)
    }
}

enum Frame {
    Map {
        path: Vec<String>,
        flow: bool,
        start: At,
        /// The key read, waiting for its value.
        key: Option<(String, At)>,
    },
    Seq {
        path: Vec<String>,
        start: At,
    },
}

fn at(span: &Span, start: bool) -> At {
    let m = if start { span.start } else { span.end };
    At {
        line: m.line() as u64,
        column: m.col() as u64 + 1,
        index: m.index(),
    }
}

/// Every mapping entry of the first document, in text order; `None` when the text does not
/// parse as YAML.
pub fn entries(text: &str) -> Option<Vec<Entry>> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut out = Vec::new();
    // A finished node (start, end, scalar text) handed to the frame that holds it.
    fn place(stack: &mut [Frame], out: &mut Vec<Entry>, start: At, end: At, scalar: Option<&str>) {
        let Some(Frame::Map {
            path, flow, key, ..
        }) = stack.last_mut()
        else {
            return;
        };
        match key.take() {
            None => *key = Some((scalar.unwrap_or("?").to_string(), start)),
            Some((name, key_at)) => {
                let mut p = path.clone();
                p.push(name);
                out.push(Entry {
                    path: p,
                    key: key_at,
                    value: start,
                    end: end.index,
                    flow: *flow,
                    scalar: scalar.map(str::to_string),
                });
            }
        }
    }
    fn child_path(stack: &[Frame]) -> Vec<String> {
        match stack.last() {
            Some(Frame::Map { path, key, .. }) => {
                let mut p = path.clone();
                if let Some((k, _)) = key {
                    p.push(k.clone());
                }
                p
            }
            Some(Frame::Seq { path, .. }) => path.clone(),
            None => Vec::new(),
        }
    }
    while let Some(next) = parser.next_event() {
        let (event, span) = next.ok()?;
        match event {
            Event::Scalar(value, ..) => place(
                &mut stack,
                &mut out,
                at(&span, true),
                at(&span, false),
                Some(&value),
            ),
            Event::Alias(_) => place(
                &mut stack,
                &mut out,
                at(&span, true),
                at(&span, false),
                None,
            ),
            Event::MappingStart(style, ..) => {
                let path = child_path(&stack);
                stack.push(Frame::Map {
                    path,
                    flow: style == StructureStyle::Flow,
                    start: at(&span, true),
                    key: None,
                });
            }
            Event::SequenceStart(..) => {
                let path = child_path(&stack);
                stack.push(Frame::Seq {
                    path,
                    start: at(&span, true),
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let start = match stack.pop() {
                    Some(Frame::Map { start, .. } | Frame::Seq { start, .. }) => start,
                    None => return None,
                };
                place(&mut stack, &mut out, start, at(&span, false), None);
            }
            Event::DocumentEnd => break,
            _ => {}
        }
    }
    Some(out)
}

/// Where the text stops being YAML, and the parser's words for it: (line, column, message).
pub fn syntax_error(text: &str) -> Option<(u64, u64, String)> {
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        match next {
            Err(e) => {
                let m = e.marker();
                return Some((m.line() as u64, m.col() as u64 + 1, e.info()));
            }
            Ok((Event::DocumentEnd, _)) => return None,
            Ok(_) => {}
        }
    }
    None
}

/// Character index of (line, column) in `text`, both 1-based.
fn index_of(text: &str, line: u64, column: u64) -> Option<usize> {
    let mut index = 0usize;
    for (n, l) in text.split('\n').enumerate() {
        if n as u64 + 1 == line {
            return Some(index + column.saturating_sub(1) as usize);
        }
        index += l.chars().count() + 1;
    }
    None
}

/// The innermost entry that holds (line, column).
pub fn entry_at(entries: &[Entry], text: &str, line: u64, column: u64) -> Option<Entry> {
    let index = index_of(text, line, column)?;
    entries
        .iter()
        .filter(|e| e.holds(index))
        .min_by_key(|e| e.end.saturating_sub(e.key.index))
        .cloned()
}

/// The innermost entry whose value holds (line, column) past its own key: the mapping a
/// position inside it belongs to (a missing field is reported at the mapping's first key).
pub fn mapping_at(entries: &[Entry], text: &str, line: u64, column: u64) -> Option<Entry> {
    let index = index_of(text, line, column)?;
    entries
        .iter()
        .filter(|e| e.holds(index) && e.key.index != index)
        .min_by_key(|e| e.end.saturating_sub(e.key.index))
        .cloned()
}

/// The entry at a dotted key path, if the text has it.
pub fn find<'a>(entries: &'a [Entry], dotted: &str) -> Option<&'a Entry> {
    entries.iter().find(|e| e.dotted() == dotted)
}

/// `text` with `entry` (key to end of value, and in a flow mapping one neighbouring comma)
/// replaced by spaces: every other position stays where it was, so later errors and
/// provenance still point at the person's lines.
pub fn blank(text: &str, entry: &Entry) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let end = entry.end.min(chars.len());
    let mut from = entry.key.index.min(end);
    let mut to = end;
    if entry.flow {
        let next = (to..chars.len()).find(|&i| !chars[i].is_whitespace());
        match next {
            Some(i) if chars[i] == ',' => to = i + 1,
            _ => {
                if let Some(i) = (0..from).rev().find(|&i| !chars[i].is_whitespace()) {
                    if chars[i] == ',' {
                        from = i;
                    }
                }
            }
        }
    }
    for c in &mut chars[from..to] {
        if *c != '\n' && *c != '\r' {
            *c = ' ';
        }
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_paths_positions_and_ends() {
        let text = "deploy:\n  dbt_cloud:\n    job_id: 1\n    targets:\n      dev: {job_id: 2, wait: x}\ngit:\n  protected_branches:\n    - main\n";
        let all = entries(text).unwrap();
        let job = find(&all, "deploy.dbt_cloud.job_id").unwrap();
        assert_eq!((job.key.line, job.key.column), (3, 5));
        assert_eq!((job.value.line, job.value.column), (3, 13));
        let wait = find(&all, "deploy.dbt_cloud.targets.dev.wait").unwrap();
        assert!(wait.flow);
        assert_eq!((wait.value.line, wait.value.column), (5, 30));
        let pb = find(&all, "git.protected_branches").unwrap();
        assert_eq!(pb.value.line, 8);
        let inner = entry_at(&all, text, 5, 30).unwrap();
        assert_eq!(inner.dotted(), "deploy.dbt_cloud.targets.dev.wait");
        // Set aside, the rest still parses and keeps its positions.
        let blanked = blank(text, &inner);
        assert!(
            blanked.contains("dev: {job_id: 2 ") && !blanked.contains("wait"),
            "{blanked:?}"
        );
        let again = entries(&blanked).unwrap();
        assert!(find(&again, "deploy.dbt_cloud.targets.dev.wait").is_none());
        let pb = find(&again, "git.protected_branches").unwrap();
        assert_eq!((pb.key.line, pb.key.column), (7, 3));
        let whole = blank(text, find(&all, "git.protected_branches").unwrap());
        assert_eq!(whole.lines().count(), text.lines().count());
        assert!(entries(&whole).is_some());
        assert!(entries("a: [1,\n").is_none());
    }
}
