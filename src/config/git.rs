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
use super::file::{self, find_config_file, DurationValue};
use super::LoadOptions;

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

/// Find and read `datachonk.yaml` (as `config::load` does) and resolve its `git:` section.
pub fn load_git(options: &LoadOptions) -> Result<GitConfig, ConfigError> {
    let cwd = std::env::current_dir().map_err(|source| ConfigError::Read {
        path: ".".into(),
        source,
    })?;
    let path = match &options.explicit_file {
        Some(p) => Some(p.clone()),
        None => find_config_file(options.start_dir.as_deref().unwrap_or(&cwd)),
    };
    let Some(path) = path else {
        return Ok(GitConfig::default());
    };
    let text = file::read_text(&path, file::origin_of(options))?;
    let parsed = file::parse(&path, &text)?;
    resolve(parsed.git.unwrap_or_default(), &path, &text)
}

fn resolve(s: GitSection, path: &Path, text: &str) -> Result<GitConfig, ConfigError> {
    let mut c = GitConfig::default();
    if let Some(v) = s.protected_branches {
        if let Some(bad) = v.value.iter().find(|b| b.trim().is_empty()) {
            return Err(file::invalid(
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
        }
        c.protected_branches = v.value;
    }
    if let Some(v) = s.push_timeout {
        let at = |message: String| {
            file::invalid(
                path,
                text,
                v.referenced.line(),
                v.referenced.column(),
                format!("git.push_timeout: {message}"),
                None,
            )
        };
        let d = match &v.value {
            DurationValue::Seconds(secs) => Duration::from_secs(*secs),
            DurationValue::Text(t) => super::resolve::parse_duration(t).map_err(&at)?,
        };
        if d.is_zero() {
            return Err(at("must be longer than 0s".into()));
        }
        c.push_timeout = d;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_protect_main_and_master_and_the_file_overrides() {
        assert_eq!(GitConfig::default().protected_branches, ["main", "master"]);
        let text = "git:\n  protected_branches: [trunk, \"release/*\"]\n";
        let parsed = file::parse(Path::new("datachonk.yaml"), text).unwrap();
        let c = resolve(parsed.git.unwrap(), Path::new("datachonk.yaml"), text).unwrap();
        assert_eq!(c.protected_branches, ["trunk", "release/*"]);
        assert_eq!(c.push_timeout, DEFAULT_PUSH_TIMEOUT);
        let text = "git:\n  push_timeout: 5s\n";
        let parsed = file::parse(Path::new("datachonk.yaml"), text).unwrap();
        let c = resolve(parsed.git.unwrap(), Path::new("datachonk.yaml"), text).unwrap();
        assert_eq!(c.push_timeout, Duration::from_secs(5));
        for bad in ["0s", "forever"] {
            let text = format!("git:\n  push_timeout: {bad}\n");
            let parsed = file::parse(Path::new("datachonk.yaml"), &text).unwrap();
            let err = resolve(parsed.git.unwrap(), Path::new("datachonk.yaml"), &text).unwrap_err();
            assert!(
                err.to_string()
                    .contains("datachonk.yaml:2:17: git.push_timeout"),
                "{err}"
            );
        }
        let text = "git:\n  protected_branchs: [x]\n";
        let err = file::parse(Path::new("datachonk.yaml"), text).unwrap_err();
        assert!(err.to_string().contains("protected_branches"), "{err}");
    }
}
