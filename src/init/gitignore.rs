//! `.datachonk/` (this checkout's caches: file sizes and times, a fetched cloud catalog) never
//! belongs in git. The state that tells generated files from hand edits is
//! `datachonk.state.json`, outside it, and is committed.

use std::path::Path;

use crate::fsx::{write_atomic, WriteError};

/// The line added.
pub const ENTRY: &str = ".datachonk/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitignoreChange {
    Created,
    Appended,
    AlreadyIgnored,
}

/// Add `.datachonk/` to `root/.gitignore` unless a line already ignores it.
pub fn ensure_ignored(root: &Path) -> Result<GitignoreChange, WriteError> {
    let path = root.join(".gitignore");
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(WriteError { path, source }),
    };
    let Some(old) = old else {
        write_atomic(&path, format!("{ENTRY}\n").as_bytes())?;
        return Ok(GitignoreChange::Created);
    };
    let ignored = old.lines().map(str::trim).any(|l| {
        matches!(
            l,
            ".datachonk" | ".datachonk/" | "/.datachonk" | "/.datachonk/" | ".datachonk/*"
        )
    });
    if ignored {
        return Ok(GitignoreChange::AlreadyIgnored);
    }
    let sep = if old.is_empty() || old.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    write_atomic(&path, format!("{old}{sep}{ENTRY}\n").as_bytes())?;
    Ok(GitignoreChange::Appended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_appended_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(ensure_ignored(root).unwrap(), GitignoreChange::Created);
        assert_eq!(
            ensure_ignored(root).unwrap(),
            GitignoreChange::AlreadyIgnored
        );
        std::fs::write(root.join(".gitignore"), "target").unwrap();
        assert_eq!(ensure_ignored(root).unwrap(), GitignoreChange::Appended);
        assert_eq!(
            std::fs::read_to_string(root.join(".gitignore")).unwrap(),
            "target\n.datachonk/\n"
        );
        assert_eq!(
            ensure_ignored(root).unwrap(),
            GitignoreChange::AlreadyIgnored
        );
    }
}
