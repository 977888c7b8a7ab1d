//! File-system helpers every layer may use: atomic writes, the `.datachonk/` cache folder and
//! the size-and-mtime record of a file. Leaves: nothing here knows generate, cloud or git.

pub mod atomic;
pub mod cache_dir;
pub mod stat;

pub use atomic::{write_atomic, WriteError};
pub use stat::FileStat;
