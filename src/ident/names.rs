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

/// The name a table's model is called by (`{table}` of `generate.naming.model`): its dbt
/// name without the first of `prefixes` it starts with, then without the next that matches,
/// and so on (`raw_shop_orders` → `orders` with `["raw_", "shop_"]`). `{source}` and
/// `{schema}` in a prefix stand for the source's (snake_case). A strip that would leave
/// nothing, or a name starting with a digit, is not made.
pub fn model_table_name(dbt_name: &str, prefixes: &[String], source: &str, schema: &str) -> String {
    let mut name = dbt_name;
    let schema = snake_case(schema);
    for p in prefixes {
        let p = p.replace("{source}", source).replace("{schema}", &schema);
        if p.is_empty() || p == "_" {
            continue;
        }
        if let Some(rest) = name.strip_prefix(p.as_str()) {
            if is_plain_name(rest) {
                name = rest;
            }
        }
    }
    name.to_string()
}

/// What a column holds, as far as the style rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    Timestamp,
    Date,
    Boolean,
    /// The input gave no type: the name alone decides.
    Unknown,
    Other,
}

/// dbt Labs' style-guide renames (`generate.naming`): what they make of snake_case `alias`,
/// or `None` when no rule applies. Conservative: only a key named exactly `id`, only endings
/// that say timestamp or date (and agree with the type when there is one), booleans only
/// when a prefix is configured. The caller keeps the alias when the new one collides.
pub struct StyleRules<'a> {
    /// `{entity}_id`: the name of a primary key called `id` ("" keeps it).
    pub key: &'a str,
    pub timestamp_suffix: &'a str,
    pub date_suffix: &'a str,
    pub boolean_prefix: &'a str,
}

/// Endings that say "timestamp" whatever the type (unless it is a date).
const TIMESTAMP_ENDINGS: [&str; 5] = ["_ts", "_tstamp", "_timestamp", "_datetime", "_dttm"];
/// Prefixes that already make a boolean read as one.
const BOOLEAN_PREFIXES: [&str; 10] = [
    "is_", "has_", "was_", "can_", "should_", "did_", "does_", "will_", "are_", "were_",
];

impl StyleRules<'_> {
    pub fn rename(
        &self,
        alias: &str,
        holds: Holds,
        is_primary_key: bool,
        entity: &str,
        table: &str,
    ) -> Option<String> {
        if is_primary_key && alias == "id" && !self.key.is_empty() {
            let key = self
                .key
                .replace("{entity}", entity)
                .replace("{table}", table);
            return (key != alias && is_plain_name(&key)).then_some(key);
        }
        let with_suffix = |stem: &str, suffix: &str| {
            (!stem.is_empty() && !stem.ends_with('_') && !suffix.is_empty())
                .then(|| format!("{stem}{suffix}"))
        };
        let timestamp_like = matches!(holds, Holds::Timestamp | Holds::Unknown);
        let ending = TIMESTAMP_ENDINGS.iter().find_map(|e| alias.strip_suffix(e));
        if let (Some(stem), true) = (ending, timestamp_like) {
            return with_suffix(stem, self.timestamp_suffix);
        }
        // `_time` is a time of day unless the type says timestamp.
        if let (Some(stem), Holds::Timestamp) = (alias.strip_suffix("_time"), holds) {
            return with_suffix(stem, self.timestamp_suffix);
        }
        // `_dt` says date (or, typed so, timestamp); `_on` only when the type agrees.
        for (ending, alone_means_date) in [("_dt", true), ("_on", false)] {
            let Some(stem) = alias.strip_suffix(ending) else {
                continue;
            };
            match holds {
                Holds::Timestamp => return with_suffix(stem, self.timestamp_suffix),
                Holds::Date => return with_suffix(stem, self.date_suffix),
                Holds::Unknown if alone_means_date => return with_suffix(stem, self.date_suffix),
                _ => {}
            }
        }
        if holds == Holds::Boolean
            && !self.boolean_prefix.is_empty()
            && !BOOLEAN_PREFIXES.iter().any(|p| alias.starts_with(p))
            && !alias.starts_with(self.boolean_prefix)
        {
            return Some(format!("{}{alias}", self.boolean_prefix));
        }
        None
    }
}

/// `customers` → `customer` (good enough for key names; `key:`/`surrogate_key:` override).
pub fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["sses", "shes", "ches", "xes"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            return format!("{stem}{}", &suffix[..suffix.len() - 2]);
        }
    }
    match name.strip_suffix('s') {
        Some(stem) if !stem.is_empty() && !name.ends_with("ss") && !name.ends_with("us") => {
            stem.to_string()
        }
        _ => name.to_string(),
    }
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
    fn model_names_lose_loader_prefixes() {
        let p: Vec<String> = ["raw_", "{source}_", "{schema}_"]
            .map(String::from)
            .to_vec();
        let m = |t: &str, source: &str, schema: &str| model_table_name(t, &p, source, schema);
        assert_eq!(m("raw_orders", "ecom", "raw"), "orders");
        assert_eq!(m("raw_loaves", "main_raw", "main_raw"), "loaves");
        assert_eq!(m("stripe_charges", "stripe", "raw"), "charges");
        assert_eq!(m("charges", "payments", "Stripe Data"), "charges");
        assert_eq!(
            m("stripe_data_charges", "payments", "Stripe Data"),
            "charges"
        );
        // Never to nothing, never to a name starting with a digit.
        assert_eq!(m("raw_", "s", "s"), "raw_");
        assert_eq!(m("raw_2020", "s", "s"), "raw_2020");
        assert_eq!(m("orders", "s", "s"), "orders");
        assert_eq!(
            model_table_name("raw_orders", &[], "s", "raw"),
            "raw_orders"
        );
    }

    #[test]
    fn style_rules_rename_only_what_the_name_says() {
        let rules = StyleRules {
            key: "{entity}_id",
            timestamp_suffix: "_at",
            date_suffix: "_date",
            boolean_prefix: "",
        };
        let r =
            |alias: &str, holds: Holds, pk: bool| rules.rename(alias, holds, pk, "order", "orders");
        assert_eq!(r("id", Holds::Other, true).as_deref(), Some("order_id"));
        // Not a key, or a key with another name: kept.
        assert_eq!(r("id", Holds::Other, false), None);
        assert_eq!(r("customer_id", Holds::Other, false), None);
        assert_eq!(r("order_id", Holds::Other, true), None);
        assert_eq!(
            r("created_ts", Holds::Timestamp, false).as_deref(),
            Some("created_at")
        );
        assert_eq!(
            r("updated_timestamp", Holds::Unknown, false).as_deref(),
            Some("updated_at")
        );
        assert_eq!(r("created_ts", Holds::Date, false), None);
        assert_eq!(
            r("shipped_time", Holds::Timestamp, false).as_deref(),
            Some("shipped_at")
        );
        assert_eq!(r("opening_time", Holds::Other, false), None);
        assert_eq!(
            r("order_dt", Holds::Date, false).as_deref(),
            Some("order_date")
        );
        assert_eq!(
            r("order_dt", Holds::Unknown, false).as_deref(),
            Some("order_date")
        );
        assert_eq!(
            r("order_dt", Holds::Timestamp, false).as_deref(),
            Some("order_at")
        );
        assert_eq!(
            r("created_on", Holds::Date, false).as_deref(),
            Some("created_date")
        );
        assert_eq!(r("created_on", Holds::Unknown, false), None);
        assert_eq!(r("turned_on", Holds::Boolean, false), None);
        assert_eq!(r("created_at", Holds::Timestamp, false), None);
        assert_eq!(r("ts", Holds::Timestamp, false), None);
        // Booleans only when a prefix is configured.
        assert_eq!(r("shipped", Holds::Boolean, false), None);
        let is = StyleRules {
            boolean_prefix: "is_",
            ..rules
        };
        assert_eq!(
            is.rename("shipped", Holds::Boolean, false, "o", "o")
                .as_deref(),
            Some("is_shipped")
        );
        assert_eq!(is.rename("has_gift", Holds::Boolean, false, "o", "o"), None);
        // Every rule can be turned off.
        let off = StyleRules {
            key: "",
            timestamp_suffix: "",
            date_suffix: "",
            boolean_prefix: "",
        };
        for (a, h, pk) in [
            ("id", Holds::Other, true),
            ("x_ts", Holds::Timestamp, false),
            ("x_dt", Holds::Date, false),
        ] {
            assert_eq!(off.rename(a, h, pk, "o", "o"), None, "{a}");
        }
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
