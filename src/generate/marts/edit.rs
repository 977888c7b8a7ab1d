//! Adding one entry to a spec file in place (`datachonk new`): the person's text, comments and
//! order are kept byte for byte; the entry is one flow-style line at the end of its section.

use std::fmt::Write as _;

/// A value of an entry's field.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Scalar(String),
    List(Vec<String>),
    Map(Vec<(String, Field)>),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EditError {
    /// The section is written in a form datachonk does not rewrite (flow style with entries).
    #[error("{section}: at line {line} is written in flow style ({{ ... }}); datachonk adds entries only to a block section")]
    FlowSection { section: String, line: usize },
}

/// A YAML scalar safe inside a flow mapping: plain when it can be, else double-quoted.
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.ends_with(' ')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '.' | '/' | '-' | '+'))
        && !s.contains(" #")
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

fn field(out: &mut String, f: &Field) {
    match f {
        Field::Scalar(s) => out.push_str(&scalar(s)),
        Field::List(items) => {
            out.push('[');
            out.push_str(
                &items
                    .iter()
                    .map(|i| scalar(i))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            out.push(']');
        }
        Field::Map(fields) => {
            out.push_str("{ ");
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{k}: ");
                field(out, v);
            }
            out.push_str(" }");
        }
    }
}

/// `name: { key: value, ... }`.
pub fn entry_line(name: &str, fields: &[(String, Field)]) -> String {
    let mut out = format!("{}: ", scalar(name));
    field(&mut out, &Field::Map(fields.to_vec()));
    out
}

/// `text` with `line` added as the last entry of top-level `section` (created at the end when
/// missing).
pub fn insert(text: &str, section: &str, line: &str) -> Result<String, EditError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = lines.iter().position(|l| {
        l.strip_prefix(section)
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|r| {
                let r = r.trim();
                r.is_empty() || r.starts_with('#') || r == "{}"
            })
    });
    let Some(h) = header else {
        if let Some(i) = lines
            .iter()
            .position(|l| l.starts_with(&format!("{section}:")))
        {
            return Err(EditError::FlowSection {
                section: section.to_string(),
                line: i + 1,
            });
        }
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.trim().is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        let _ = writeln!(out, "{section}:\n  {line}");
        return Ok(out);
    };
    // The section's block: indented lines (and blank or comment lines between them) up to the
    // next top-level key.
    // An indented comment right under an entry (no blank line between) belongs to it: the new
    // entry goes after it, not between the entry and its comment.
    let mut last = h;
    let mut indent: Option<String> = None;
    let mut attached = false;
    for (i, l) in lines.iter().enumerate().skip(h + 1) {
        let t = l.trim_end_matches(['\n', '\r']);
        if t.trim().is_empty() {
            attached = false;
            continue;
        }
        if t.trim_start().starts_with('#') && !t.starts_with('#') {
            if attached && last > h {
                last = i;
            }
            continue;
        }
        attached = true;
        if !t.starts_with([' ', '\t']) {
            if t.starts_with('#') {
                continue;
            }
            break;
        }
        last = i;
        if indent.is_none() {
            indent = Some(t[..t.len() - t.trim_start().len()].to_string());
        }
    }
    let indent = indent.unwrap_or_else(|| "  ".into());
    let mut out = String::with_capacity(text.len() + line.len() + 8);
    for (i, l) in lines.iter().enumerate() {
        if i == h && l.contains("{}") {
            // `section: {}` becomes a block section.
            out.push_str(&format!("{section}:\n"));
        } else {
            out.push_str(l);
        }
        if i == last {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_goes_at_the_end_of_its_section_keeping_everything_else() {
        let text = "# the shop\nentities:\n    customers: { from: stg_c, key: customer_id }  # scd2 later\n\n    # products next\nfacts:\n  orders: { from: stg_o, grain: order_id }\n";
        let out = insert(
            text,
            "entities",
            "products: { from: stg_p, key: product_id }",
        )
        .unwrap();
        assert_eq!(out, "# the shop\nentities:\n    customers: { from: stg_c, key: customer_id }  # scd2 later\n    products: { from: stg_p, key: product_id }\n\n    # products next\nfacts:\n  orders: { from: stg_o, grain: order_id }\n");
        let out = insert(text, "metrics", "revenue: { fact: orders }").unwrap();
        assert!(
            out.starts_with(text) && out.ends_with("\nmetrics:\n  revenue: { fact: orders }\n"),
            "{out}"
        );
        assert_eq!(
            insert("", "facts", "x: { a: b }").unwrap(),
            "facts:\n  x: { a: b }\n"
        );
        assert_eq!(
            insert("facts: {}\n", "facts", "x: { a: b }").unwrap(),
            "facts:\n  x: { a: b }\n"
        );
        assert!(insert("facts: { x: {} }\n", "facts", "y: {}").is_err());
        // An entry's own trailing comment stays with it.
        assert_eq!(
            insert(
                "facts:\n  orders:\n    from: stg_o\n    # incremental later\nmetrics: {}\n",
                "facts",
                "lines: { from: stg_l }"
            )
            .unwrap(),
            "facts:\n  orders:\n    from: stg_o\n    # incremental later\n  lines: { from: stg_l }\nmetrics: {}\n"
        );
    }

    #[test]
    fn scalars_are_plain_only_when_safe() {
        assert_eq!(scalar("stg_shop__orders"), "stg_shop__orders");
        assert_eq!(scalar("7 days"), "7 days");
        assert_eq!(scalar("revenue / order_count"), "revenue / order_count");
        assert_eq!(scalar("a, b"), "\"a, b\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("10"), "\"10\"");
        assert_eq!(scalar("it's \"x\""), "\"it's \\\"x\\\"\"");
        let line = entry_line(
            "orders",
            &[
                ("from".into(), Field::Scalar("stg_o".into())),
                ("entities".into(), Field::List(vec!["customers".into()])),
                (
                    "incremental".into(),
                    Field::Map(vec![(
                        "updated_at".into(),
                        Field::Scalar("ordered_at".into()),
                    )]),
                ),
            ],
        );
        assert_eq!(line, "orders: { from: stg_o, entities: [customers], incremental: { updated_at: ordered_at } }");
    }
}
