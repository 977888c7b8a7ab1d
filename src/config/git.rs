//! The `git:` section of `datachonk.yaml`: how `datachonk push` treats branches.
//!
//! ```yaml
//! git:
//!   protected_branches: [main, master, "release/*"]   # push refuses these without --allow-protected
//! ```

use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::file::{self, find_config_file};
use super::LoadOptions;

/// `git:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSection {
    /// Branches `push` refuses to commit on or push to (exact names, `*` globs).
    pub protected_branches: Option<Spanned<Vec<String>>>,
}

/// The resolved section, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitConfig {
    pub protected_branches: Vec<String>,
}

impl Default for GitConfig {
    fn default() -> Self {
        GitConfig {
            protected_branches: vec!["main".into(), "master".into()],
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
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
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
        let text = "git:\n  protected_branchs: [x]\n";
        let err = file::parse(Path::new("datachonk.yaml"), text).unwrap_err();
        assert!(err.to_string().contains("protected_branches"), "{err}");
    }
}
