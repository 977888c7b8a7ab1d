//! The shared reader every section parses through: finding and reading `datachonk.yaml`,
//! and turning YAML errors into ones with file, line, column, a snippet and a suggestion.
//! A leaf of `config/`: the file's schema (`file.rs`) and each section use it, it uses neither.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::error::ConfigError;
use super::types::LoadOptions;
use crate::io_limits::Origin;

pub const CONFIG_FILE_NAME: &str = "datachonk.yaml";

/// `timeout: 30m` or `timeout: 1800` (seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Seconds(u64),
    Text(String),
}

/// Find `datachonk.yaml` in `start` or its ancestors, stopping at the repository root.
pub fn find_config_file(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join(CONFIG_FILE_NAME);
        // Anything by that name counts, so a directory called datachonk.yaml is refused when
        // read instead of being skipped (the user meant it as the configuration).
        if candidate.symlink_metadata().is_ok() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// The file's text, refusing what is not a regular file (a pipe only when the path was
/// given with `--config`) and anything too large to be a configuration file.
pub fn read_text(path: &Path, origin: Origin) -> Result<String, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        return Err(ConfigError::NotAFile {
            path: path.to_path_buf(),
            what: "a directory, not a configuration file",
        });
    }
    let read = || crate::io_limits::read_text(path, crate::io_limits::CONFIG_LIMIT, origin);
    let text = if origin == Origin::Named && is_pipe(&meta) {
        read_once(path, read)
    } else {
        read()
    };
    text.map_err(|source| {
        if source.kind() == std::io::ErrorKind::FileTooLarge {
            return ConfigError::NotAFile {
                path: path.to_path_buf(),
                what: "over 1 MiB: too large to be a configuration file",
            };
        }
        ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(unix)]
fn is_pipe(meta: &std::fs::Metadata) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type())
}

#[cfg(not(unix))]
fn is_pipe(_: &std::fs::Metadata) -> bool {
    false
}

/// A `--config` pipe (`--config <(…)`) is read once per process, however many sections load
/// it: a second read would find nothing left (or block for a writer that is gone).
fn read_once(
    path: &Path,
    read: impl FnOnce() -> std::io::Result<String>,
) -> std::io::Result<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Cached = Result<String, (std::io::ErrorKind, String)>;
    static READ: OnceLock<Mutex<HashMap<PathBuf, Cached>>> = OnceLock::new();
    let mut cache = READ
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let entry = cache
        .entry(path.to_path_buf())
        .or_insert_with(|| read().map_err(|e| (e.kind(), e.to_string())));
    entry
        .clone()
        .map_err(|(kind, message)| std::io::Error::new(kind, message))
}

/// Where the configuration file's path came from (`--config`, or found by searching).
pub fn origin_of(options: &LoadOptions) -> Origin {
    if options.explicit_file.is_some() {
        Origin::Named
    } else {
        Origin::Found
    }
}

pub fn syntax_error(path: &Path, text: &str, e: &serde_saphyr::Error) -> ConfigError {
    syntax_error_in(path, text, e, None)
}

/// [`syntax_error`] with the text's entries when the caller has them already.
pub fn syntax_error_in(
    path: &Path,
    text: &str,
    e: &serde_saphyr::Error,
    known: Option<&[super::spans::Entry]>,
) -> ConfigError {
    let (line, column, message) = crate::yaml_read::error_parts(e);
    let (mut message, hint) = explain(&message);
    // A value of the wrong type, or a block without a key it needs: say which key (the text
    // parses, so its keys are known).
    let entries = || -> Option<std::borrow::Cow<'_, [super::spans::Entry]>> {
        match known {
            Some(all) => Some(std::borrow::Cow::Borrowed(all)),
            None => super::spans::entries(text).map(std::borrow::Cow::Owned),
        }
    };
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        let block = entries().and_then(|all| super::spans::mapping_at(&all, text, line, column));
        let field = field.to_string();
        message = match block {
            Some(b) => format!("{}: `{field}` is required", b.dotted()),
            None => format!("`{field}` is required"),
        };
    } else if message.starts_with("expected ") || message.starts_with("invalid ") {
        let key = entries()
            .and_then(|all| super::spans::entry_at(&all, text, line, column))
            .filter(|e| e.value.line < line || (e.value.line == line && e.value.column <= column));
        if let Some(key) = key {
            message = format!("{}: {message}", key.dotted());
        }
    }
    invalid(path, text, line, column, message, hint)
}

/// serde's "unknown field `x`, expected one of `a`, `b`" → (`x`, [a, b]): read once for every
/// YAML file datachonk parses (datachonk.yaml, the model spec).
pub(crate) fn unknown_field(message: &str) -> Option<(&str, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, tail) = rest.split_once('`')?;
    let expected = tail
        .split_once("expected one of ")
        .map(|(_, list)| {
            list.split(',')
                .map(|s| s.trim().trim_matches('`').to_string())
                .collect()
        })
        .or_else(|| {
            tail.split_once("expected ")
                .map(|(_, one)| vec![one.trim().trim_matches('`').to_string()])
        })
        .unwrap_or_default();
    Some((field, expected))
}

/// Turn the parser's terse messages into ones that say what was expected.
fn explain(message: &str) -> (String, Option<String>) {
    if let Some((field, expected)) = unknown_field(message) {
        // Only keys a person may write: not the refused ones (a literal token, `model:`).
        let writable = super::reference::writable_keys(&expected);
        let public: Vec<&String> = writable.iter().collect();
        let suggestion = public
            .iter()
            .map(|k| (strsim::jaro_winkler(field, k), k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| format!("did you mean `{k}`?"));
        let known = public
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let message = format!("unknown key `{field}` (expected one of: {known})");
        return (message, suggestion);
    }
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return (
            format!("`{key}` is set twice in the same block"),
            Some(format!("keep one `{key}:` line and remove the other")),
        );
    }
    if message.contains("budget breached") {
        return (
            "too large or too deeply nested to be a configuration file".into(),
            None,
        );
    }
    let message = match message {
        "expected string scalar" => {
            "expected a single value here (check for an unclosed `[`, `{` or quote)".to_string()
        }
        m if m.starts_with("invalid i64")
            || m.starts_with("invalid u64")
            || m.starts_with("invalid u32") =>
        {
            "expected an integer".to_string()
        }
        m if m.starts_with("invalid bool") => "expected true or false".to_string(),
        m if m.ends_with("expected sequence start") => {
            "expected a list, e.g. [main, master]".to_string()
        }
        m if m.ends_with("expected mapping start") => {
            "expected a block of keys (key: value lines, or {key: value})".to_string()
        }
        m => m.to_string(),
    };
    (message, None)
}

pub fn invalid(
    path: &Path,
    text: &str,
    line: u64,
    column: u64,
    message: String,
    hint: Option<String>,
) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        column,
        message,
        snippet: snippet(text, line, column),
        hint,
    }
}

/// The offending line with a caret, with anything that looks like a secret blanked out.
fn snippet(text: &str, line: u64, column: u64) -> String {
    let Some(src) = line
        .checked_sub(1)
        .and_then(|i| text.lines().nth(i as usize))
    else {
        return String::new();
    };
    let src = redact_line(src);
    let width = line.to_string().len();
    let caret = " ".repeat(column.saturating_sub(1) as usize);
    format!("{:width$} |\n{line} | {src}\n{:width$} | {caret}^", "", "")
}

fn redact_line(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let secretish = ["token", "secret", "password"]
        .iter()
        .any(|k| lower.contains(k));
    match line.split_once(':') {
        Some((key, value)) if secretish && !value.trim().is_empty() => format!("{key}: <redacted>"),
        _ => line.to_string(),
    }
}

/// Parse `90s`, `30m`, `1h 30m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    // humantime's own messages ("expected number at 0") say little to a person: name the forms.
    humantime::parse_duration(t).map_err(|_| {
        format!(
            "expected a duration such as 90s, 30m, 1h 30m or a number of seconds, got {:?}",
            crate::redact::clip(t, crate::redact::ECHO_LIMIT)
        )
    })
}
