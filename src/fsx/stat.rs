//! What `stat` says about a file, recorded so a later run can trust an unchanged file
//! without reading it.

use serde::{Deserialize, Serialize};

/// What `stat` says about a file: enough to notice any edit short of one that restores the
/// exact size and nanosecond modification time (as git's index does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
}

impl FileStat {
    pub fn of(meta: &std::fs::Metadata) -> Option<FileStat> {
        let mtime = meta.modified().ok()?;
        let ns = mtime.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
        Some(FileStat {
            size: meta.len(),
            mtime_ns: u64::try_from(ns).ok()?,
        })
    }

    /// True when `now` (the file's stat) matches this record and the file was last modified
    /// strictly before the stat cache was written (`state_mtime_ns`): a file modified in the
    /// same clock tick as the cache could have been edited again without its mtime moving
    /// (git's "racy clean" case), so it is hashed instead.
    pub fn trusted(&self, now: &FileStat, state_mtime_ns: Option<u64>) -> bool {
        self == now && state_mtime_ns.is_some_and(|s| now.mtime_ns < s)
    }
}
