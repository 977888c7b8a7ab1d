//! Each section's loader: find and read `datachonk.yaml` as `config::load` does, parse the
//! whole file (an error anywhere is reported whichever section is asked for), then resolve
//! the one section.

use super::error::ConfigError;
use super::file;
use super::generate::{
    self, default_output_dir, find_dbt_project, GenerateConfig, GenerateSettings,
};
use super::git::{self, GitConfig};
use super::reader::{find_config_file, origin_of, read_text};
use super::types::LoadOptions;

/// Find and read `datachonk.yaml` (as `config::load` does) and resolve its `generate:` section.
pub fn load_generate(options: &LoadOptions) -> Result<GenerateSettings, ConfigError> {
    let cwd = std::env::current_dir().map_err(|source| ConfigError::Read {
        path: ".".into(),
        source,
    })?;
    let start = options.start_dir.clone().unwrap_or_else(|| cwd.clone());
    let start = if start.is_absolute() {
        start
    } else {
        cwd.join(start)
    };
    let path = match &options.explicit_file {
        Some(p) => Some(p.clone()),
        None => find_config_file(&start),
    };
    let config_dir = path.as_ref().map(|path| match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => cwd.clone(),
    });
    let dbt_root = find_dbt_project(&start).or_else(|| {
        config_dir
            .as_deref()
            .map(|d| {
                if d.is_absolute() {
                    d.to_path_buf()
                } else {
                    cwd.join(d)
                }
            })
            .and_then(|d| find_dbt_project(&d))
    });
    let dbt_project = dbt_root.is_some();
    let Some(path) = path else {
        let root = dbt_root.unwrap_or(start);
        let mut config = GenerateConfig {
            output_dir: default_output_dir(&root, dbt_project),
            ..GenerateConfig::default()
        };
        if dbt_project {
            if let Some(d) = super::dbt_project::project_dialect(&root) {
                config.dialect = d;
            }
        }
        return Ok(GenerateSettings {
            root,
            file: None,
            config,
            dbt_project,
        });
    };
    let text = read_text(&path, origin_of(options))?;
    let parsed = file::parse(&path, &text)?;
    let root = dbt_root.unwrap_or_else(|| config_dir.unwrap_or(cwd));
    let section = parsed.generate.unwrap_or_default();
    let output_configured = section.output_dir.is_some();
    let dialect_configured = section.dialect.is_some();
    let mut config = generate::resolve(section, &path, &text, &root)?;
    if !output_configured {
        config.output_dir = default_output_dir(&root, dbt_project);
    }
    if !dialect_configured && dbt_project {
        if let Some(d) = super::dbt_project::project_dialect(&root) {
            config.dialect = d;
        }
    }
    Ok(GenerateSettings {
        root,
        file: Some(path),
        config,
        dbt_project,
    })
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
    let text = read_text(&path, origin_of(options))?;
    let parsed = file::parse(&path, &text)?;
    git::resolve(parsed.git.unwrap_or_default(), &path, &text)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::git::DEFAULT_PUSH_TIMEOUT;
    use super::*;

    #[test]
    fn defaults_protect_main_and_master_and_the_file_overrides() {
        assert_eq!(GitConfig::default().protected_branches, ["main", "master"]);
        let text = "git:\n  protected_branches: [trunk, \"release/*\"]\n";
        let parsed = file::parse(Path::new("datachonk.yaml"), text).unwrap();
        let c = git::resolve(parsed.git.unwrap(), Path::new("datachonk.yaml"), text).unwrap();
        assert_eq!(c.protected_branches, ["trunk", "release/*"]);
        assert_eq!(c.push_timeout, DEFAULT_PUSH_TIMEOUT);
        let text = "git:\n  push_timeout: 5s\n";
        let parsed = file::parse(Path::new("datachonk.yaml"), text).unwrap();
        let c = git::resolve(parsed.git.unwrap(), Path::new("datachonk.yaml"), text).unwrap();
        assert_eq!(c.push_timeout, Duration::from_secs(5));
        for bad in ["0s", "forever"] {
            let text = format!("git:\n  push_timeout: {bad}\n");
            let parsed = file::parse(Path::new("datachonk.yaml"), &text).unwrap();
            let err =
                git::resolve(parsed.git.unwrap(), Path::new("datachonk.yaml"), &text).unwrap_err();
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
