//! Configuration errors, written for the person who has to fix them. All map to exit code 2
//! (the mapping lives at the CLI edge, `src/error.rs`).

use std::path::PathBuf;

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

    /// `config check` stopped listing: fix what it listed and run it again.
    #[error("{path}: more problems than the {shown} listed; fix these and check again")]
    TooMany { path: PathBuf, shown: usize },

    #[error("no {what} configured")]
    Missing { what: String, how: String },
}
