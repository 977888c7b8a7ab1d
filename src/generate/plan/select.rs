//! Selection: `datachonk generate [SOURCE[.TABLE]]…` with `*` and `?` globs, the config's
//! default `tables:` and its `exclude:`. A pattern that matches nothing is an error (a typo
//! must not silently generate less), and so is an empty result.

use crate::generate::read::metadata::Table;
use crate::ident::names::snake_case;

/// One `SOURCE[.TABLE]` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    source: String,
    table: Option<String>,
}

impl Pattern {
    pub fn parse(text: &str) -> Pattern {
        let (source, table) = match text.split_once('.') {
            Some((s, t)) => (s.to_string(), Some(t.to_string())),
            None => (text.to_string(), None),
        };
        Pattern {
            text: text.to_string(),
            source,
            table,
        }
    }

    /// Source globs match the source name; table globs match the raw table name or its
    /// snake_case form (so `shop.order_items` selects `Order Items`).
    pub fn matches(&self, table: &Table) -> bool {
        if !glob(&self.source, &table.source) {
            return false;
        }
        match &self.table {
            None => true,
            Some(t) => glob(t, &table.name) || glob(t, &snake_case(&table.name)),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectError {
    #[error("`{pattern}` matches no table in the metadata")]
    Unmatched { pattern: String, available: String },
    #[error("the selection is empty: no table to generate")]
    Empty { available: String },
}

impl SelectError {
    /// A hint listing what exists, to fix the pattern.
    pub fn available(&self) -> &str {
        match self {
            SelectError::Unmatched { available, .. } | SelectError::Empty { available } => {
                available
            }
        }
    }
}

/// Indices of the selected tables, in `tables`' order.
pub fn select(
    tables: &[Table],
    patterns: &[String],
    exclude: &[String],
) -> Result<Vec<usize>, SelectError> {
    let include: Vec<Pattern> = patterns.iter().map(|p| Pattern::parse(p)).collect();
    let exclude: Vec<Pattern> = exclude.iter().map(|p| Pattern::parse(p)).collect();
    for p in &include {
        if !tables.iter().any(|t| p.matches(t)) {
            return Err(SelectError::Unmatched {
                pattern: p.text.clone(),
                available: available(tables),
            });
        }
    }
    let chosen: Vec<usize> = tables
        .iter()
        .enumerate()
        .filter(|(_, t)| include.is_empty() || include.iter().any(|p| p.matches(t)))
        .filter(|(_, t)| !exclude.iter().any(|p| p.matches(t)))
        .map(|(i, _)| i)
        .collect();
    if chosen.is_empty() {
        return Err(SelectError::Empty {
            available: available(tables),
        });
    }
    Ok(chosen)
}

/// "shop (3 tables: customers, orders, ...), crm (1 table: ...)" for hints.
fn available(tables: &[Table]) -> String {
    if tables.is_empty() {
        return "the metadata has no tables".into();
    }
    let mut by_source: Vec<(&str, Vec<&str>)> = Vec::new();
    for t in tables {
        match by_source.iter_mut().find(|(s, _)| *s == t.source) {
            Some((_, names)) => names.push(&t.name),
            None => by_source.push((&t.source, vec![&t.name])),
        }
    }
    let parts: Vec<String> = by_source
        .iter()
        .map(|(s, names)| {
            let shown: Vec<&str> = names.iter().take(5).copied().collect();
            let more = if names.len() > 5 { ", ..." } else { "" };
            let noun = if names.len() == 1 { "table" } else { "tables" };
            format!("{s} ({} {noun}: {}{more})", names.len(), shown.join(", "))
        })
        .collect();
    format!("available: {}", parts.join("; "))
}

/// `*` any run of characters, `?` one character; everything else literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(source: &str, name: &str) -> Table {
        Table {
            source: source.into(),
            database: None,
            schema: "raw".into(),
            name: name.into(),
            kind: None,
            description: None,
            columns: vec![],
            ..Table::default()
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("ord*", "orders"));
        assert!(glob("o?ders", "orders"));
        assert!(glob("*_tmp", "x_tmp"));
        assert!(!glob("ord*", "customers"));
        assert!(!glob("orders", "orders2"));
    }

    #[test]
    fn selects_by_source_table_and_snake_name() {
        let tables = [
            table("shop", "Order Items"),
            table("shop", "orders"),
            table("crm", "people"),
        ];
        let all = |p: &[&str], x: &[&str]| {
            let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
            let x: Vec<String> = x.iter().map(|s| s.to_string()).collect();
            select(&tables, &p, &x)
        };
        assert_eq!(all(&[], &[]).unwrap(), vec![0, 1, 2]);
        assert_eq!(all(&["shop"], &[]).unwrap(), vec![0, 1]);
        assert_eq!(all(&["shop.order_items"], &[]).unwrap(), vec![0]);
        assert_eq!(all(&["*.o*"], &["shop.Order*"]).unwrap(), vec![1]);
        assert!(matches!(
            all(&["shop.nope"], &[]),
            Err(SelectError::Unmatched { .. })
        ));
        assert!(matches!(
            all(&["crm"], &["crm.*"]),
            Err(SelectError::Empty { .. })
        ));
    }
}
