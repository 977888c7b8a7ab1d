//! Reading YAML the way dbt reads it (PyYAML's tolerance): a key written twice keeps its last
//! value (and is reported once, for a warning), anchors and aliases are bounded by the file's
//! size rather than a fixed budget, and a parse error is told in YAML's terms — line, column,
//! what is wrong — never in the parser's vocabulary. One rule for every YAML datachonk reads:
//! datachonk.yaml, the model spec, a project's properties files, dbt_project.yml, profiles.yml.

/// Parser options with dbt's tolerance (PyYAML's): a repeated key keeps its last value, and
/// anchors and aliases are bounded by the file's size rather than by a fixed budget (a real
/// properties file repeats one anchor hundreds of times; a budget sized for untrusted input
/// refuses it). What stays bounded is work per byte, so a small file cannot expand forever.
pub fn tolerant_options(
    len: usize,
    duplicates: serde_saphyr::DuplicateKeyPolicy,
) -> serde_saphyr::Options {
    let n = len.max(1);
    let mut budget = serde_saphyr::Budget::default();
    budget.enforce_alias_anchor_ratio = false;
    budget.max_events = budget.max_events.max(n.saturating_mul(16));
    budget.max_aliases = budget.max_aliases.max(n);
    budget.max_anchors = budget.max_anchors.max(n);
    budget.max_nodes = budget.max_nodes.max(n.saturating_mul(16));
    budget.max_merge_keys = budget.max_merge_keys.max(n);
    budget.max_recorded_anchor_events = budget.max_recorded_anchor_events.max(n.saturating_mul(16));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(n.saturating_mul(16));
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = options
        .alias_limits
        .max_total_replayed_events
        .max(n.saturating_mul(16));
    options.duplicate_keys = duplicates;
    options.with_snippet = false;
    options
}

/// A key written twice in one mapping (dbt keeps the last): where the second one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub line: u64,
    pub column: u64,
    pub key: Option<String>,
}

/// Parse `text` as dbt would: see [`tolerant_options`]. The first duplicate key, if any, is
/// returned for a warning (the file is parsed a second time only when it has one).
pub fn from_str_tolerant<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<(T, Option<Duplicate>), serde_saphyr::Error> {
    use serde_saphyr::DuplicateKeyPolicy;
    match serde_saphyr::from_str_with_options(
        text,
        tolerant_options(text.len(), DuplicateKeyPolicy::Error),
    ) {
        Ok(v) => Ok((v, None)),
        Err(e) => {
            let e = unwrap_error(e);
            let serde_saphyr::Error::DuplicateMappingKey { key, location } = &e else {
                return Err(e);
            };
            let dup = Duplicate {
                line: location.line(),
                column: location.column(),
                key: key.clone(),
            };
            let v = serde_saphyr::from_str_with_options(
                text,
                tolerant_options(text.len(), DuplicateKeyPolicy::LastWins),
            )
            .map_err(unwrap_error)?;
            Ok((v, Some(dup)))
        }
    }
}

/// The error itself, without the parser's wrappers (snippets, alias context).
fn unwrap_error(mut e: serde_saphyr::Error) -> serde_saphyr::Error {
    loop {
        match e {
            serde_saphyr::Error::WithSnippet { error, .. }
            | serde_saphyr::Error::AliasError { error, .. } => e = *error,
            other => return other,
        }
    }
}

/// A parse error as people read it: line, column and what is wrong in YAML's terms, never
/// the parser's own vocabulary (its option and budget names).
pub fn error_parts(e: &serde_saphyr::Error) -> (u64, u64, String) {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    if let serde_saphyr::Error::Budget { .. } = e {
        return (
            line,
            column,
            "the file expands (anchors, aliases, nesting) far beyond its size".into(),
        );
    }
    let raw = e.to_string();
    let first = raw.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let message = match first.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") => rest,
        _ => first,
    };
    (line, column, message.to_string())
}
