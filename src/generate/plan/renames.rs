//! Renames a person made in a generated staging model (`id as order_id`, the style guide's
//! first rule): read back from the model's select list, so that the model's YAML follows the
//! SQL's output names and never reverts them.
//!
//! Only the shapes the generated model has are read: `column`, `column as alias`,
//! `cast(column as type) as alias`, `column::type as alias`, quoted names. Anything else in
//! the list (a computed column) renames nothing.

/// `(raw column, output name)` for each item of the model's `renamed` select list (else its
/// first select list) that reads one column.
pub fn renames(sql: &str) -> Vec<(String, String)> {
    let lower = sql.to_ascii_lowercase();
    let start = lower
        .find("renamed as (")
        .and_then(|at| lower[at..].find("select").map(|s| at + s))
        .or_else(|| lower.find("select"));
    let Some(start) = start else {
        return Vec::new();
    };
    let body = &sql[start + "select".len()..];
    let end = top_level_from(body).unwrap_or(body.len());
    split_top_level(&body[..end])
        .into_iter()
        .filter_map(|item| item_rename(item.trim()))
        .collect()
}

/// Where the select list ends: the first `from` outside parentheses.
fn top_level_from(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut depth = 0i32;
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'' | b'`') => quote = Some(b),
            (None, b'(') => depth += 1,
            (None, b')') => depth -= 1,
            (None, _) if depth == 0 && is_word_at(body, i, "from") => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_word_at(s: &str, i: usize, word: &str) -> bool {
    let b = s.as_bytes();
    let before = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let end = i + word.len();
    before
        && s.get(i..end).is_some_and(|w| w.eq_ignore_ascii_case(word))
        && b.get(end)
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
}

fn split_top_level(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut from) = (0i32, None, 0);
    for (i, b) in list.bytes().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'' | b'`') => quote = Some(b),
            (None, b'(') => depth += 1,
            (None, b')') => depth -= 1,
            (None, b',') if depth == 0 => {
                out.push(&list[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&list[from..]);
    out
}

/// One select item: the column it reads and the name it outputs.
fn item_rename(item: &str) -> Option<(String, String)> {
    // Comments at the end of a line are not part of the item.
    let item: String = item
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    let item = item.trim();
    let (expr, alias) = match rfind_word(item, "as") {
        Some(at) if !item[..at].trim().is_empty() && !inside_parens(item, at) => {
            (item[..at].trim(), Some(unquote(item[at + 2..].trim())?))
        }
        _ => (item, None),
    };
    let column = expr
        .strip_prefix("cast(")
        .or_else(|| expr.strip_prefix("CAST("))
        .map(|inner| inner.split_whitespace().next().unwrap_or(""))
        .unwrap_or_else(|| expr.split("::").next().unwrap_or(expr))
        .trim();
    let column = unquote(column)?;
    let alias = alias.unwrap_or_else(|| column.clone());
    Some((column, alias))
}

fn inside_parens(s: &str, at: usize) -> bool {
    let open = s[..at].matches('(').count();
    let close = s[..at].matches(')').count();
    open > close
}

fn rfind_word(s: &str, word: &str) -> Option<usize> {
    (0..s.len()).rev().find(|&i| is_word_at(s, i, word))
}

/// A plain or quoted identifier, unquoted; `None` for anything else (an expression).
fn unquote(s: &str) -> Option<String> {
    for q in ['"', '`'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return Some(inner.to_string());
        }
    }
    let ok = !s.is_empty()
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit());
    ok.then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_generated_shapes_and_the_persons_renames() {
        let sql = "with\n\nsource as (\n\n    select * from {{ source('shop', 'orders') }}\n\n),\n\nrenamed as (\n\n    select\n        id as order_id,  -- ours now\n        customer_id,\n        cast(amount as decimal(18, 2)) as amount_usd,\n        \"Email Address\" as email,\n        created::date as created_date,\n        amount * 100 as cents\n\n    from source\n\n)\n\nselect * from renamed\n";
        assert_eq!(
            renames(sql),
            vec![
                ("id".to_string(), "order_id".to_string()),
                ("customer_id".into(), "customer_id".into()),
                ("amount".into(), "amount_usd".into()),
                ("Email Address".into(), "email".into()),
                ("created".into(), "created_date".into()),
            ]
        );
    }
}
