//! Problems found while checking the configuration, collected rather than returned one by one:
//! each section's checks push what they find and carry on, so `config check` lists them all,
//! and a command that stops at one takes the first by position.

use super::error::ConfigError;

#[derive(Debug, Default)]
pub struct Problems(Vec<ConfigError>);

impl Problems {
    pub fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }

    /// Every problem, each once: those in the file by line and column, then the others
    /// (flags, environment, missing files) in the order found.
    pub fn sorted(self) -> Vec<ConfigError> {
        let mut list = self.0;
        list.sort_by_key(|e| match e {
            ConfigError::Invalid { line, column, .. } => (0, *line, *column),
            _ => (1, 0, 0),
        });
        let mut seen = std::collections::HashSet::new();
        list.retain(|e| seen.insert(e.to_string()));
        list
    }

    /// `value` when nothing was found, else the first problem.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigError> {
        match self.sorted().into_iter().next() {
            None => Ok(value),
            Some(first) => Err(first),
        }
    }
}
