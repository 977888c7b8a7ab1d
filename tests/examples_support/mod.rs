//! The examples of a help text (the indented lines under "Examples:") and the datachonk
//! invocation each one makes: shared by the test that parses every example (help.rs) and the
//! one that runs the cloud commands' examples (readme_examples.rs).
#![allow(dead_code)]

/// The indented lines under "Examples:" of a help text, continuation lines joined.
pub fn examples(text: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| *l != "Examples:").skip(1);
    let mut found: Vec<String> = Vec::new();
    let mut continued = false;
    for line in lines.by_ref() {
        if !line.starts_with("  ") {
            break;
        }
        let body = line.trim().trim_end_matches('\\').trim_end();
        match found.last_mut() {
            Some(last) if continued => *last = format!("{last} {body}"),
            _ => found.push(body.to_string()),
        }
        continued = line.trim_end().ends_with('\\');
    }
    found
}

/// The datachonk invocation of a shell example: env assignments, pipes, redirections and
/// comments dropped; quotes removed (the quoted text is one word).
pub fn invocation(example: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let (mut word, mut quote, mut any) = (String::new(), None, false);
    for c in example.chars() {
        match (quote, c) {
            (None, '#') => break,
            (None, '|' | '>' | '&') => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                words.push(c.to_string());
                any = false;
            }
            (None, '\'' | '"') => (quote, any) = (Some(c), true),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (_, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    let start = words.iter().position(|w| w == "datachonk")?;
    let end = words[start..]
        .iter()
        .position(|w| ["|", ">", "&"].contains(&w.as_str()))
        .map_or(words.len(), |i| start + i);
    Some(words[start..end].to_vec())
}
