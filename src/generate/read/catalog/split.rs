//! A large catalog.json parsed on every core: one quick pass finds where each entry of
//! `nodes` and `sources` starts and ends, then the entries are parsed by serde_json on
//! several threads (10,000 tables: ~120 ms on one thread). Every byte is checked either here
//! (the structure between entries) or by serde_json (each value, whole), so this accepts
//! exactly the files the one-thread parse accepts, with the same result; anything it does not
//! expect (an escaped top-level key, a value of the wrong kind, bad JSON) returns `None` and
//! the one-thread parse decides, with its error messages.

use std::ops::Range;

use serde::Deserialize;

use super::shape::{CatalogFile, CatalogTable};
use crate::generate::parallel;

/// Smaller files are parsed on one thread: the extra pass would cost more than it saves.
const MIN_BYTES: usize = 1 << 20;

/// One entry of `nodes` or `sources`: where its key (with quotes) and its value are.
struct Entry {
    in_sources: bool,
    key: Range<usize>,
    value: Range<usize>,
}

/// The parsed file, or `None` when the one-thread parse must decide.
pub(super) fn parse(bytes: &[u8]) -> Option<CatalogFile> {
    if bytes.len() < MIN_BYTES || parallel::threads() < 2 {
        return None;
    }
    parse_any_size(bytes)
}

fn parse_any_size(bytes: &[u8]) -> Option<CatalogFile> {
    let parsed = parallel::map(scan(bytes)?, |e| {
        let key: String = value(bytes, e.key)?;
        let table: CatalogTable = value(bytes, e.value)?;
        Ok::<_, ()>((e.in_sources, key, table.into_table()))
    })
    .ok()?;
    let mut file = CatalogFile {
        nodes: Vec::new(),
        sources: Vec::new(),
    };
    for (in_sources, key, table) in parsed {
        let list = if in_sources {
            &mut file.sources
        } else {
            &mut file.nodes
        };
        list.push((key, table));
    }
    Some(file)
}

/// `T` from exactly the bytes at `range` (nothing may follow it).
fn value<'a, T: Deserialize<'a>>(bytes: &'a [u8], range: Range<usize>) -> Result<T, ()> {
    let mut de = serde_json::Deserializer::from_slice(&bytes[range]);
    let v = T::deserialize(&mut de).map_err(drop)?;
    de.end().map_err(drop)?;
    Ok(v)
}

/// The entries of the top-level object's `nodes` and `sources` (the last of each when a key
/// repeats, as a JSON object keeps), in file order; other top-level values are checked whole.
fn scan(b: &[u8]) -> Option<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut i = ws(b, 0);
    expect(b, &mut i, b'{')?;
    i = ws(b, i);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            let key = string(b, i)?;
            let name = &b[key.start + 1..key.end - 1];
            if name.contains(&b'\\') {
                return None;
            }
            i = ws(b, key.end);
            expect(b, &mut i, b':')?;
            i = ws(b, i);
            match name {
                b"nodes" | b"sources" => {
                    let in_sources = name == b"sources";
                    entries.retain(|e| e.in_sources != in_sources);
                    i = map_entries(b, i, in_sources, &mut entries)?;
                }
                _ => {
                    let end = skip_value(b, i)?;
                    value::<serde::de::IgnoredAny>(b, i..end).ok()?;
                    i = end;
                }
            }
            i = ws(b, i);
            match b.get(i)? {
                b',' => i = ws(b, i + 1),
                b'}' => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    // Only whitespace may follow the top-level object.
    (ws(b, i) == b.len()).then_some(entries)
}

/// The entries of the object starting at `i` (pushed to `out`); returns where it ends.
fn map_entries(b: &[u8], mut i: usize, in_sources: bool, out: &mut Vec<Entry>) -> Option<usize> {
    expect(b, &mut i, b'{')?;
    i = ws(b, i);
    if b.get(i) == Some(&b'}') {
        return Some(i + 1);
    }
    loop {
        let key = string(b, i)?;
        i = ws(b, key.end);
        expect(b, &mut i, b':')?;
        i = ws(b, i);
        let end = skip_value(b, i)?;
        out.push(Entry {
            in_sources,
            key,
            value: i..end,
        });
        i = ws(b, end);
        match b.get(i)? {
            b',' => i = ws(b, i + 1),
            b'}' => return Some(i + 1),
            _ => return None,
        }
    }
}

fn expect(b: &[u8], i: &mut usize, c: u8) -> Option<()> {
    (b.get(*i) == Some(&c)).then(|| *i += 1)
}

/// The first non-whitespace position at or after `i`.
fn ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The string starting at `i` (its quotes included).
fn string(b: &[u8], i: usize) -> Option<Range<usize>> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[k] == b'"' {
            return Some(i..k + 1);
        }
        // An escape: whatever follows the backslash is not the end.
        j = k + 2;
    }
}

/// Where the value starting at `i` ends. Only finds the end: serde_json checks the value.
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string(b, i).map(|r| r.end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match b.get(i)? {
                    b'"' => {
                        i = string(b, i)?.end;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            while !matches!(
                b.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the one-thread parse makes of `json`, and what this module makes of it.
    fn both(json: &str) -> (Option<CatalogFile>, Option<CatalogFile>) {
        let whole = serde_json::from_slice::<CatalogFile>(json.as_bytes()).ok();
        (whole, parse_any_size(json.as_bytes()))
    }

    fn table(name: &str) -> String {
        format!(
            r#"{{"metadata": {{"type": "BASE TABLE", "schema": "raw", "name": "{name}"}},
               "columns": {{"a": {{"type": "INT", "index": 1, "name": "a", "comment": "x \" }} {{"}}}},
               "stats": {{"k": [1, {{"x": []}}, "]"]}}}}"#
        )
    }

    #[test]
    fn agrees_with_the_one_thread_parse() {
        let cases = [
            format!(
                r#"{{"metadata": {{"v": "1"}}, "nodes": {{"seed.p.a": {}}}, "sources": {{"source.p.s.b": {}, "source.p.s.c": {}}}, "errors": null}}"#,
                table("a"),
                table("b"),
                table("c\\u00e9")
            ),
            // Compact, key order changed, empty maps, a repeated key (the last one counts).
            format!(
                r#"{{"sources":{{"source.p.s.x":{}}},"nodes":{{}},"sources":{{"source.p.s.y":{}}}}}"#,
                table("x"),
                table("y")
            ),
            "{}".to_string(),
            " \n{ \"nodes\" : { } } \n".to_string(),
        ];
        for json in &cases {
            let (whole, split) = both(json);
            let (whole, split) = (whole.expect(json), split.expect(json));
            assert_eq!(whole.nodes, split.nodes, "{json}");
            assert_eq!(whole.sources, split.sources, "{json}");
        }
    }

    #[test]
    fn declines_what_it_does_not_expect() {
        let t = table("a");
        let cases = [
            // Invalid JSON: between entries, inside a value, after the end, at the top.
            format!(r#"{{"sources": {{"s.a": {t} "s.b": {t}}}}}"#),
            format!(r#"{{"sources": {{"s.a": {t},}}}}"#),
            r#"{"metadata": {"v": 1,}, "sources": {}}"#.to_string(),
            r#"{"sources": {}} x"#.to_string(),
            r#"{"errors": nul}"#.to_string(),
            "[]".to_string(),
            // Valid, but left to the one-thread parse: an escaped top-level key, a value of
            // another kind.
            r#"{"sourc\u0065s": {}}"#.to_string(),
            r#"{"sources": null}"#.to_string(),
        ];
        for json in &cases {
            assert!(scan(json.as_bytes()).is_none(), "{json}");
        }
        // Inside an entry's value, serde_json finds the fault.
        let bad = r#"{"sources": {"s.a": {"metadata": {"schema": "s", "name": "a"}, "columns": {"c": {"type": "INT", "index": "one", "name": "c"}}}}}"#;
        let (whole, split) = both(bad);
        assert!(whole.is_none() && split.is_none());
    }
}
