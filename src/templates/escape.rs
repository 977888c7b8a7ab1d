//! How text is written safely into the files datachonk renders: YAML scalars, Jinja string
//! literals, and warehouse text made inert for dbt's own Jinja. The filters of the template
//! environment and the native renderers both use these, so the two write the same bytes.

use minijinja::Value;

/// `yaml_str`: a YAML scalar (plain when safe, else double-quoted). Numbers and booleans are
/// written as strings too: this filter is for text.
pub fn yaml_str(v: &Value) -> Result<Value, minijinja::Error> {
    if v.is_undefined() {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "yaml_str of an undefined value",
        ));
    }
    if v.is_none() {
        return Ok(Value::from("\"\""));
    }
    match v.as_str() {
        // A plain scalar is the value itself: no copy (most names and descriptions).
        Some(s) if is_plain(s) => Ok(v.clone()),
        Some(s) => Ok(Value::from(scalar(s))),
        None => Ok(Value::from(scalar(&v.to_string()))),
    }
}

/// `yaml_str` of text, appended to `out` (no copy when the scalar is plain).
pub fn push_yaml_str(out: &mut String, s: &str) {
    if is_plain(s) {
        out.push_str(s);
    } else {
        out.push_str(&scalar(s));
    }
}

/// `jinja_str`: a single-quoted Jinja/Python string literal (`'it''s'` is not Jinja: `\'`).
pub fn jinja_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_jinja_str(&mut out, s);
    out
}

/// [`jinja_str`] appended to `out`.
pub fn push_jinja_str(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// A YAML scalar for `s`: plain when that reads back as the same string, double-quoted
/// (JSON-style escapes, which YAML accepts) otherwise.
pub fn scalar(s: &str) -> String {
    if is_plain(s) {
        s.to_string()
    } else {
        // JSON strings are valid YAML double-quoted scalars.
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

/// Conservative: letters, digits, `_`, and inner spaces and `.,/()-` only; never a word YAML
/// 1.1 or 1.2 would read as a bool/null, never anything number-like.
pub fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_alphabetic() || first == '_') || s.ends_with(' ') {
        return false;
    }
    // One pass, no substring search for the double space: this runs for most names and
    // descriptions of a large YAML file.
    let mut after_space = false;
    for c in s.chars() {
        let allowed =
            c.is_alphanumeric() || matches!(c, '_' | ' ' | '.' | ',' | '/' | '(' | ')' | '-');
        if !allowed || (c == ' ' && after_space) {
            return false;
        }
        after_space = c == ' ';
    }
    // No allocation: this runs for most names and descriptions of a large YAML file.
    ![
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
    ]
    .iter()
    .any(|w| w.eq_ignore_ascii_case(s))
}

/// [`escape_jinja`] without a copy when there is nothing to escape: every string from the
/// metadata (names, types, schemas, comments) goes through it before it lands in a file dbt
/// renders with Jinja, SQL and YAML alike, so whoever controls a column name cannot run code
/// at dbt compile time (nor break parsing with `{% raw %}`).
pub fn jinja_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('{') {
        escape_jinja(s).into()
    } else {
        s.into()
    }
}

/// What dbt makes of text [`escape_jinja`] wrote: `{{ '{{' }}`, `{{ '{%' }}` and `{{ '{#' }}`
/// back to `{{`, `{%` and `{#`. For reading YAML datachonk may have written (`--from-sources`
/// on a generated sources file), so names are not escaped twice.
pub fn unescape_jinja(s: &str) -> String {
    if !s.contains("{{ '{") {
        return s.to_string();
    }
    s.replace("{{ '{{' }}", "{{")
        .replace("{{ '{%' }}", "{%")
        .replace("{{ '{#' }}", "{#")
}

/// Text dbt will render as Jinja (YAML descriptions) with `{{`, `{%` and `{#` made literal,
/// so a warehouse comment can never inject template code or break `dbt parse`.
pub fn escape_jinja(s: &str) -> String {
    if !s.contains('{') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let opener = ["{{", "{%", "{#"].into_iter().find(|o| tail.starts_with(o));
        match opener {
            Some(o) => {
                out.push_str("{{ '");
                out.push_str(o);
                out.push_str("' }}");
                rest = &tail[2..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
