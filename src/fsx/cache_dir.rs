//! `.datachonk/`: this checkout's caches (the stat cache, a fetched cloud catalog, run
//! insight, the generate lock). Never committed: the folder ignores itself.

use std::path::Path;

use super::atomic::{write_atomic, WriteError};

/// The cache folder, relative to the project root.
pub const CACHE_DIR: &str = ".datachonk";

/// Keeps the cache folder out of commits made with `git add -A`, even in a project whose
/// `.gitignore` does not list it.
pub const LOCAL_GITIGNORE: &str = ".datachonk/.gitignore";

const LOCAL_GITIGNORE_TEXT: &[u8] =
    b"# datachonk's caches for this checkout only (file sizes and times, a fetched\n\
# catalog): nothing here belongs in git, this file included\n\
*\n";

/// Write `root/.datachonk/.gitignore` (everything in the cache folder is ignored), unless it
/// is already there. Rewritten when it differs: older versions ignored only the stat cache.
pub fn ignore_cache_folder(root: &Path) -> Result<(), WriteError> {
    let gitignore = root.join(LOCAL_GITIGNORE);
    if std::fs::read(&gitignore).ok().as_deref() != Some(LOCAL_GITIGNORE_TEXT) {
        write_atomic(&gitignore, LOCAL_GITIGNORE_TEXT)?;
    }
    Ok(())
}
