//! The `git:` section of `datachonk.yaml`: how `datachonk push` treats branches.
//!
//! ```yaml
//! git:
//!   protected_branches: [main, master, "release/*"]   # push refuses these without --allow-protected
//!   push_timeout: 120s                                 # the whole push, connection included
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::problems::Problems;
use super::reader::{invalid, parse_duration, DurationValue};

/// `git:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSection {
    /// Branches `push` refuses to commit on or push to (exact names, `*` globs).
    pub protected_branches: Option<Spanned<Vec<String>>>,
    /// Deadline for the whole push (`120s`, `5m`, or seconds).
    pub push_timeout: Option<Spanned<DurationValue>>,
}

/// A remote that accepts the connection and never answers must not hang a hook forever;
/// two minutes is long enough for a large first push over a slow link.
pub const DEFAULT_PUSH_TIMEOUT: Duration = Duration::from_secs(120);

/// The resolved section, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitConfig {
    pub protected_branches: Vec<String>,
    pub push_timeout: Duration,
}

impl Default for GitConfig {
    fn default() -> Self {
        GitConfig {
            protected_branches: vec!["main".into(), "master".into()],
            push_timeout: DEFAULT_PUSH_TIMEOUT,
        }
    }
}

pub(super) fn resolve(s: GitSection, path: &Path, text: &str) -> Result<GitConfig, ConfigError> {
    let mut problems = Problems::default();
    let c = resolve_into(s, path, text, &mut problems);
    problems.into_result(c)
}

/// The section with defaults applied; each bad value is noted and its default kept.
pub(super) fn resolve_into(
    s: GitSection,
    path: &Path,
    text: &str,
    problems: &mut Problems,
) -> GitConfig {
    let mut c = GitConfig::default();
    if let Some(v) = s.protected_branches {
        if let Some(bad) = v.value.iter().find(|b| b.trim().is_empty()) {
            problems.push(invalid(
                path,
                text,
                v.referenced.line(),
                v.referenced.column(),
                format!("git.protected_branches: {bad:?} is not a branch name"),
                Some(
                    "list branch names, e.g. [main, master, \"release/*\"]; [] protects none"
                        .into(),
                ),
            ));
        } else {
            c.protected_branches = v.value;
        }
    }
    if let Some(v) = s.push_timeout {
        let at = |message: String| {
            invalid(
                path,
                text,
                v.referenced.line(),
                v.referenced.column(),
                format!("git.push_timeout: {message}"),
                None,
            )
        };
        let d = match &v.value {
            DurationValue::Seconds(secs) => Ok(Duration::from_secs(*secs)),
            DurationValue::Text(t) => parse_duration(t),
        };
        match d {
            Err(message) => problems.push(at(message)),
            Ok(d) if d.is_zero() => problems.push(at("must be longer than 0s".into())),
            Ok(d) => c.push_timeout = d,
        }
    }
    c
}
