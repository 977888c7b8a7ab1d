//! Atomic writes: content goes to a temporary file in the target's folder, then is renamed
//! over the target. A failure or interruption midway leaves the old file (or none), never half
//! of a new one. No fsync per file (as git and cargo by default): it cost ~0.5 ms per file,
//! seconds for 10,000 models, and only guards against power loss, not against datachonk dying.
//!
//! Interruption is cooperative: [`interrupt`] (called on SIGINT/SIGTERM) makes every
//! temporary file being written fail its next write and every new one fail to start, so
//! each is removed by its own drop and `generate` stops the way it stops on any write error
//! (recording in the state the files already written). Temporary files left by a process
//! that died anyway (SIGKILL, power loss) are removed by [`sweep_stale`] on a later run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Stop writing: every [`AtomicFile`] still open fails from now on (see the module's doc).
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Whether [`interrupt`] was called.
pub fn was_interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn check_interrupted() -> std::io::Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        // Not `ErrorKind::Interrupted`: `write_all` retries on that, forever.
        Err(std::io::Error::other("interrupted by a signal"))
    } else {
        Ok(())
    }
}

/// The temporary file beside `path` this process writes to.
fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.datachonk-{}.tmp", std::process::id()))
}

/// The PID in a temporary file name of ours (`.NAME.datachonk-PID.tmp`), `None` for any
/// other name.
fn temp_file_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (target, pid) = rest.rsplit_once(".datachonk-")?;
    if target.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether `name` is one of datachonk's temporary files (`.NAME.datachonk-PID.tmp`).
pub fn is_temp_file(name: &str) -> bool {
    temp_file_pid(name).is_some()
}

/// Whether process `pid` exists (on other systems than Unix: assumed so, nothing is swept).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Remove the temporary files in `dir` (not below) that a datachonk process left behind:
/// only names of datachonk's own pattern, and only when that process no longer exists.
/// Returns how many were removed.
pub fn sweep_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        if is_file && !process_alive(pid) && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

use super::stat::FileStat;

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Write `content` to `path` atomically. Not stopped by [`interrupt`]: small files that
/// must be written whole even then (the state recording what an interrupted run wrote).
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<(), WriteError> {
    let mut file = AtomicFile::open(path, false)?;
    file.write_all(content).map_err(|source| WriteError {
        path: path.to_path_buf(),
        source,
    })?;
    file.commit().map(|_| ())
}

/// A generated file: [`write_atomic`] that [`interrupt`] stops, returning the written file's
/// size and mtime (for the state). A file planned as new (`new`) is created in place
/// ([`AtomicFile::create_new`]).
pub fn write_atomic_stat(
    path: &Path,
    content: &[u8],
    new: bool,
) -> Result<Option<FileStat>, WriteError> {
    let mut file = if new {
        AtomicFile::create_new(path)?
    } else {
        AtomicFile::create(path)?
    };
    file.write_all(content).map_err(|source| WriteError {
        path: path.to_path_buf(),
        source,
    })?;
    file.commit()
}

/// A file being written atomically: bytes go to a temporary file beside `path`, which
/// [`AtomicFile::commit`] renames over `path`. Dropped without a commit, the temporary file is
/// removed and `path` is untouched. Lets a large file be streamed to disk as it is rendered
/// instead of being held in memory whole.
pub struct AtomicFile {
    path: PathBuf,
    /// Where the bytes go: a temporary file, or `path` itself for a new file.
    tmp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    /// Fails once [`interrupt`] was called.
    interruptible: bool,
}

impl AtomicFile {
    /// A generated file (stopped by [`interrupt`]).
    pub fn create(path: &Path) -> Result<AtomicFile, WriteError> {
        AtomicFile::open(path, true)
    }

    /// A generated file that does not exist yet, written in place: created with
    /// `create_new` (never over a file that appeared meanwhile), removed again when it is not
    /// committed, so an interruption leaves no half file. No temporary file and no rename: a
    /// new file's absence is its old state, and the state records it only once it is whole.
    pub fn create_new(path: &Path) -> Result<AtomicFile, WriteError> {
        let err = |source| WriteError {
            path: path.to_path_buf(),
            source,
        };
        check_interrupted().map_err(err)?;
        let open = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
        };
        let file = match open() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = path.parent().unwrap_or(Path::new("."));
                std::fs::create_dir_all(dir).map_err(err)?;
                open()
            }
            other => other,
        }
        .map_err(err)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp: path.to_path_buf(),
            file: Some(std::io::BufWriter::with_capacity(0, file)),
            interruptible: true,
        })
    }

    fn open(path: &Path, interruptible: bool) -> Result<AtomicFile, WriteError> {
        let err = |source| WriteError {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if interruptible {
            check_interrupted().map_err(err)?;
        }
        let tmp = temp_path(dir, &name);
        // The folder usually exists: make it only when creating the file says it is missing
        // (two syscalls saved per file, 20,000 for a large source).
        let file = match std::fs::File::create(&tmp) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(err)?;
                std::fs::File::create(&tmp)
            }
            other => other,
        }
        .map_err(err)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            // No buffer of its own: callers write whole contents or large blocks.
            file: Some(std::io::BufWriter::with_capacity(0, file)),
            interruptible,
        })
    }

    /// Flush and rename over the target. Returns the file's size and mtime as written (read
    /// from the open file: the rename does not change them).
    pub fn commit(mut self) -> Result<Option<FileStat>, WriteError> {
        let result = match self.file.take() {
            Some(f) => f.into_inner().map_err(|e| e.into_error()).and_then(|f| {
                let stat = f.metadata().ok().and_then(|m| FileStat::of(&m));
                if self.tmp == self.path {
                    Ok(stat)
                } else {
                    std::fs::rename(&self.tmp, &self.path).map(|()| stat)
                }
            }),
            None => Ok(None),
        };
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result.map_err(|source| WriteError {
            path: self.path.clone(),
            source,
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.interruptible {
            check_interrupted()?;
        }
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/file.sql");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("file.sql");
        write_atomic(&p, b"old").unwrap();
        // A directory where the temporary file would go makes the write fail.
        let tmp = dir
            .path()
            .join(format!(".file.sql.datachonk-{}.tmp", std::process::id()));
        std::fs::create_dir(&tmp).unwrap();
        assert!(write_atomic(&p, b"new").is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
    }

    #[test]
    fn only_our_temp_files_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has exited: its PID is free (and not reused within this test).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let ours_dead = format!(".stg_a.sql.datachonk-{dead}.tmp");
        let ours_live = format!(".stg_b.sql.datachonk-{}.tmp", std::process::id());
        let others = [
            format!("stg_c.sql.datachonk-{dead}.tmp"),
            format!(".stg_d.sql.datachonk-{dead}x.tmp"),
            ".stg_e.sql.tmp".to_string(),
            format!(".datachonk-{dead}.tmp"),
        ];
        for name in others.iter().chain([&ours_dead, &ours_live]) {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join(format!(".dir.datachonk-{dead}.tmp"))).unwrap();
        assert_eq!(sweep_stale(dir.path()), 1);
        assert!(!dir.path().join(&ours_dead).exists());
        assert!(dir.path().join(&ours_live).exists());
        for name in &others {
            assert!(dir.path().join(name).exists(), "{name}");
        }
        assert_eq!(temp_file_pid(&ours_dead), Some(dead));
    }

    #[test]
    fn a_new_file_is_written_in_place_and_never_over_another() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new/stg.sql");
        assert!(write_atomic_stat(&p, b"one", true).unwrap().is_some());
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        // Appeared meanwhile: not overwritten.
        assert!(write_atomic_stat(&p, b"two", true).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        // Not committed: nothing is left.
        let q = dir.path().join("new/half.yml");
        {
            let mut f = AtomicFile::create_new(&q).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!q.exists());
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn an_uncommitted_stream_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("file.yml");
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half of a ").unwrap();
        }
        assert!(!p.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"whole").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"whole");
    }
}
