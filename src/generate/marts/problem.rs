//! What is wrong with a spec: each problem at its place, and the error marts reports.

use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

/// A value's place in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl At {
    pub fn of<T>(file: &Path, s: &Spanned<T>) -> At {
        At {
            file: file.to_path_buf(),
            line: s.referenced.line(),
            column: s.referenced.column(),
        }
    }
}

/// One problem in the spec, at its place, with what to write instead.
#[derive(Debug, Clone)]
pub struct Problem {
    pub at: At,
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.at.file.display(),
            self.at.line,
            self.at.column,
            self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MartsError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{}:{}:{}: {message}", at.file.display(), at.line, at.column)]
    Invalid {
        at: At,
        message: String,
        hint: Option<String>,
    },
    /// Every problem validation found (each with its place and hint).
    #[error("{}", spec_problems(.0))]
    Spec(Vec<Problem>),
    /// A name the spec would render that the project already declares.
    #[error("{what} `{name}` is already declared in {file}: dbt refuses two")]
    Duplicate {
        what: &'static str,
        name: String,
        file: String,
    },
}

fn spec_problems(problems: &[Problem]) -> String {
    let mut out = format!("the spec has {} problem(s):", problems.len());
    for p in problems.iter().take(50) {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    if problems.len() > 50 {
        out.push_str(&format!("\n  … and {} more", problems.len() - 50));
    }
    out
}

impl MartsError {
    /// What to do about it, for people.
    pub fn hint(&self) -> Option<String> {
        match self {
            MartsError::Invalid { hint, .. } => hint.clone(),
            MartsError::Spec(_) => Some(
                "fix the spec in datachonk/*.yml (README, \"Entities, facts and metrics\"); nothing was written"
                    .into(),
            ),
            MartsError::Duplicate { .. } => Some(
                "rename the entry in the spec (or remove the project's own declaration); nothing was written"
                    .into(),
            ),
            MartsError::Read { .. } => None,
        }
    }
}
