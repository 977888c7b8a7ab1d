//! Names datachonk derives: snake_case column aliases and model names, and the collision
//! check that refuses two raw names mapping to one derived name (a silent overwrite in SQL).

/// `OrderID` → `order_id`, `createdAt` → `created_at`, `Order Items` → `order_items`,
/// `HTTPServer2` → `http_server2`, `e-mail` → `e_mail`.
///
/// Rules: every run of characters that are not letters or digits becomes one `_`; a
/// lower→upper or digit→upper change starts a word, and so does the last capital of a run of
/// capitals followed by a lowercase letter (`HTTPServer` → `http_server`). Leading and
/// trailing underscores from punctuation are dropped, but a leading `_` in the raw name is
/// kept (`_loaded_at` stays `_loaded_at`: dbt projects use it for loader metadata).
pub fn snake_case(raw: &str) -> String {
    // Short ASCII names (nearly all) are read from the stack: this runs for every column.
    let mut stack = ['\0'; 64];
    let heap: Vec<char>;
    let chars: &[char] = if raw.len() <= stack.len() && raw.is_ascii() {
        for (slot, b) in stack.iter_mut().zip(raw.bytes()) {
            *slot = char::from(b);
        }
        &stack[..raw.len()]
    } else {
        heap = raw.chars().collect();
        &heap
    };
    let mut out = String::with_capacity(raw.len() + 4);
    let mut pending_sep = false;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            pending_sep = !out.is_empty();
            continue;
        }
        if c.is_uppercase() && i > 0 && !out.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                pending_sep = true;
            }
        }
        if pending_sep {
            out.push('_');
            pending_sep = false;
        }
        if c.is_ascii() {
            // The same as `to_lowercase` for ASCII, without its iterator (every column).
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    if raw.starts_with('_') {
        out.insert(0, '_');
    }
    out
}

/// How a snake_case alias is made safe to use unquoted downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRules {
    /// Prepended to aliases that would start with a digit (`2fa_enabled` → `_2fa_enabled`).
    pub digit_prefix: String,
    /// Appended to aliases that are reserved words (`order` → `order_`).
    pub reserved_suffix: String,
}

impl Default for AliasRules {
    fn default() -> Self {
        AliasRules {
            digit_prefix: "_".into(),
            reserved_suffix: "_".into(),
        }
    }
}

/// The alias a raw column gets: snake_case, then made a valid unquoted identifier, so models
/// downstream never need quotes. `position` (1-based) names columns made only of punctuation.
pub fn column_alias(
    raw: &str,
    position: usize,
    rules: &AliasRules,
    is_reserved: impl Fn(&str) -> bool,
) -> String {
    let mut alias = snake_case(raw);
    if alias.is_empty() {
        alias = format!("column_{position}");
    }
    if alias.starts_with(|c: char| c.is_ascii_digit()) {
        alias.insert_str(0, &rules.digit_prefix);
    }
    if is_reserved(&alias) {
        alias.push_str(&rules.reserved_suffix);
    }
    alias
}

/// Raw names that map to the same derived name. Returns `(derived, [raw, ...])` for each
/// clash, in first-seen order, so the error can list them all.
pub fn collisions<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, Vec<String>)> {
    // A table's columns (dozens, 200,000 for a large catalog) are looked up by a scan:
    // hashing each name with SipHash and allocating its list cost ~5x more. Past `SCAN`
    // names (a source's tables) a map takes over.
    const SCAN: usize = 32;
    // Borrowed while looking: only clashes (rare) are copied. Each entry: derived, first
    // raw, further raws (empty, so not allocated, unless it clashes).
    let mut seen: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    let mut index: Option<std::collections::HashMap<&str, usize>> = None;
    for (raw, derived) in pairs {
        if index.is_none() && seen.len() == SCAN {
            index = Some(seen.iter().enumerate().map(|(i, e)| (e.0, i)).collect());
        }
        let found = match &index {
            Some(index) => index.get(derived).copied(),
            None => seen.iter().position(|e| e.0 == derived),
        };
        match found {
            Some(i) => seen[i].2.push(raw),
            None => {
                if let Some(index) = &mut index {
                    index.insert(derived, seen.len());
                }
                seen.push((derived, raw, Vec::new()));
            }
        }
    }
    seen.into_iter()
        .filter(|(_, _, more)| !more.is_empty())
        .map(|(d, first, more)| {
            let raws = std::iter::once(first).chain(more).map(String::from);
            (d.to_string(), raws.collect())
        })
        .collect()
}

/// True for names dbt accepts unquoted in `source('NAME', ...)` and file names alike.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// A very small English singular, only for primary-key guesses (`orders` → `order`).
pub fn singular(s: &str) -> &str {
    if s.ends_with("ss") {
        return s;
    }
    s.strip_suffix('s').unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words() {
        for (raw, want) in [
            ("OrderID", "order_id"),
            ("createdAt", "created_at"),
            ("Order Items", "order_items"),
            ("HTTPServer2", "http_server2"),
            ("e-mail", "e_mail"),
            ("ALREADY_UPPER", "already_upper"),
            ("already_snake", "already_snake"),
            ("  padded  ", "padded"),
            ("_loaded_at", "_loaded_at"),
            ("user.name", "user_name"),
            ("2fa Enabled", "2fa_enabled"),
            ("amount (EUR)", "amount_eur"),
            ("Größe", "größe"),
            ("userID2", "user_id2"),
            ("ID", "id"),
        ] {
            assert_eq!(snake_case(raw), want, "snake_case({raw:?})");
        }
    }

    #[test]
    fn aliases_are_valid_unquoted_identifiers() {
        let rules = AliasRules::default();
        let reserved = |s: &str| matches!(s, "order" | "select");
        assert_eq!(column_alias("2fa", 1, &rules, reserved), "_2fa");
        assert_eq!(column_alias("ORDER", 1, &rules, reserved), "order_");
        assert_eq!(column_alias("Select", 1, &rules, reserved), "select_");
        assert_eq!(column_alias("???", 7, &rules, reserved), "column_7");
        assert_eq!(
            column_alias("Total Amount", 1, &rules, reserved),
            "total_amount"
        );
    }

    #[test]
    fn collisions_are_found_past_the_scan_limit() {
        // More names than are scanned: clashes on both sides of the switch to a map.
        let raws: Vec<String> = (0..100).map(|i| format!("C{i}")).collect();
        let mut pairs: Vec<(&str, String)> = raws
            .iter()
            .map(|r| (r.as_str(), r.to_lowercase()))
            .collect();
        pairs.push(("X1", "c1".into()));
        pairs.push(("X90", "c90".into()));
        let got = collisions(pairs.iter().map(|(r, d)| (*r, d.as_str())));
        assert_eq!(
            got,
            vec![
                ("c1".to_string(), vec!["C1".to_string(), "X1".to_string()]),
                (
                    "c90".to_string(),
                    vec!["C90".to_string(), "X90".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn collisions_list_every_raw_name() {
        let pairs = [
            ("OrderId", "order_id"),
            ("order_id", "order_id"),
            ("name", "name"),
            ("Order ID", "order_id"),
        ];
        let got = collisions(pairs);
        assert_eq!(
            got,
            vec![(
                "order_id".to_string(),
                vec!["OrderId".into(), "order_id".into(), "Order ID".into()]
            )]
        );
    }
}
