//! One `generate` at a time per project: an exclusive lock on the `.datachonk/` folder itself
//! (an OS file lock, `flock`, released by the OS when the process ends, so a crash leaves no
//! stale lock; no lock file either, whose bytes would change from run to run). A second run
//! waits for the first, up to a bound, then refuses: two runs planning against one state
//! would take each other's files for hand edits.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The folder locked, relative to the project root.
pub const LOCK_DIR: &str = ".datachonk";

/// How long a run waits for another by default (`DATACHONK_LOCK_WAIT` seconds overrides).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another datachonk generate has been working on this project for {waited}s: refusing to run beside it")]
    Busy { waited: u64 },
}

/// Held for as long as the run lasts; dropping it releases the lock.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// The wait bound: `DATACHONK_LOCK_WAIT` (seconds), else [`DEFAULT_WAIT`].
pub fn wait_bound() -> Duration {
    std::env::var("DATACHONK_LOCK_WAIT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WAIT)
}

/// Take the project's lock, waiting up to `wait` for another run to finish; `waiting` is
/// called once when the lock is held by someone else (to say so).
pub fn acquire(root: &Path, wait: Duration, waiting: impl FnOnce()) -> Result<Lock, LockError> {
    let path = root.join(LOCK_DIR);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&path).map_err(io)?;
    // A folder opens read-only, and `flock` takes any open file.
    let file = File::open(&path).map_err(io)?;
    match flock(&file, false) {
        Ok(true) => return Ok(Lock { _file: file }),
        Ok(false) => {}
        Err(e) => return Err(io(e)),
    }
    waiting();
    // The blocking lock runs on its own thread so that the wait has a bound; on timeout the
    // thread is left blocked and ends with the process.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(flock(&file, true).map(|_| file));
    });
    match rx.recv_timeout(wait) {
        Ok(Ok(file)) => Ok(Lock { _file: file }),
        Ok(Err(e)) => Err(io(e)),
        Err(_) => Err(LockError::Busy {
            waited: wait.as_secs(),
        }),
    }
}

/// `flock(LOCK_EX)` on `file`, blocking or not: whether it was taken. (`File::lock` is newer
/// than the crate's minimum Rust.) Elsewhere than Unix, runs are not serialized.
#[cfg(unix)]
fn flock(file: &File, block: bool) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    let op = libc::LOCK_EX | if block { 0 } else { libc::LOCK_NB };
    loop {
        // SAFETY: the descriptor is open for as long as `file` lives; flock takes no pointers.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if !block => return Ok(false),
            _ => return Err(e),
        }
    }
}

#[cfg(not(unix))]
fn flock(_file: &File, _block: bool) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_it_waits_then_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), Duration::ZERO, || panic!("free")).unwrap();
        let mut told = false;
        let err = acquire(dir.path(), Duration::ZERO, || told = true).unwrap_err();
        assert!(told);
        assert!(err.to_string().contains("refusing"), "{err}");
        drop(first);
        acquire(dir.path(), Duration::ZERO, || panic!("released")).unwrap();
        // No lock file: nothing in the folder changes from run to run.
        assert_eq!(
            std::fs::read_dir(dir.path().join(LOCK_DIR))
                .unwrap()
                .count(),
            0
        );
    }
}
