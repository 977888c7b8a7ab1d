//! Configuration errors, written for the person who has to fix them. All map to exit code 2.

use std::path::PathBuf;

use crate::error::{CliError, Exit};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Syntax, type or unknown-key error at a place in the file. `snippet` is already redacted.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
        snippet: String,
        hint: Option<String>,
    },

    #[error("{path} is {what}")]
    NotAFile { path: PathBuf, what: &'static str },

    #[error("{var} is not valid: {message}")]
    BadEnv { var: String, message: String },

    #[error("{flag} is not valid: {message}")]
    BadFlag { flag: String, message: String },

    #[error("no {what} configured")]
    Missing { what: String, how: String },
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        let message = match &e {
            ConfigError::Invalid { snippet, .. } if !snippet.is_empty() => {
                format!("{e}\n{snippet}")
            }
            _ => e.to_string(),
        };
        let err = CliError::new(Exit::Usage, message);
        match e {
            ConfigError::Invalid { hint: Some(h), .. } => err.with_hint(h),
            ConfigError::Missing { how, .. } => err.with_hint(how),
            ConfigError::NotAFile { .. } => err.with_hint(
                "datachonk.yaml must be a YAML file of a few lines (see datachonk.example.yaml); \
                 rename or remove what is there, or point --config at the right file",
            ),
            _ => err,
        }
    }
}
