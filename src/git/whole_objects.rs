//! Packs without delta compression: for pushes to a local remote (a path or `file://`), and
//! for the one pack a commit's new objects are written to (`commit::create`).
//!
//! libgit2 deltifies every new object before sending it, and its delta search is several
//! times slower than git's: for 10,000 new generated files it took ~1.5–2 s of a ~2.5 s push
//! (perf: `git_delta_create_from_index`). Deltas only save bytes on the wire; a local remote
//! has no wire, so for it the pack is sent with whole (zlib-compressed) objects. The remote's
//! next `git gc` deltifies them as usual. Network remotes keep libgit2's deltas.
//!
//! libgit2 1.9 has no option for this; it skips the delta search for objects larger than its
//! big-file threshold, which it reads from `pack.deltaCacheSize` (pack-objects.c,
//! `packbuilder_config`). So the push runs on a second handle of the same repository whose
//! config has one more layer, a file setting that to 1 byte: every object counts as big and
//! none is deltified. The person's config files are not touched, and
//! the first handle (which records the upstream afterwards) never sees the layer.
//! `tests/push.rs` (`a_local_remote_receives_whole_objects`) notices if libgit2 changes this.

use std::path::{Path, PathBuf};

use git2::{ConfigLevel, Repository};

use super::errors::GitError;

/// A handle on `repo` whose pack building does not deltify, and the config file it reads
/// (removed on drop).
pub struct WholeObjects {
    pub repo: Repository,
    file: Option<PathBuf>,
}

impl Drop for WholeObjects {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The handle; when the temporary config file cannot be written (a read-only temp dir), a
/// plain second handle: packs then carry deltas, slower but just as correct.
pub fn open(repo: &Repository) -> Result<WholeObjects, GitError> {
    let handle = Repository::open(repo.path())
        .map_err(GitError::git("cannot open the repository a second time"))?;
    let file = std::env::temp_dir().join(format!(
        "datachonk-push-{}-{}.gitconfig",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    if std::fs::write(&file, "[pack]\n\tdeltaCacheSize = 1\n").is_err() {
        return Ok(WholeObjects {
            repo: handle,
            file: None,
        });
    }
    let guard = Cleanup(&file);
    let added = handle
        .config()
        .and_then(|mut c| c.add_file(Path::new(&file), ConfigLevel::App, true));
    if added.is_err() {
        return Ok(WholeObjects {
            repo: handle,
            file: None,
        });
    }
    std::mem::forget(guard);
    Ok(WholeObjects {
        repo: handle,
        file: Some(file),
    })
}

/// Removes the file if `open` fails half-way.
struct Cleanup<'a>(&'a Path);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}
