//! The plan stage: which tables, what their models are called, how names are quoted, which
//! columns are keys, and each planned file's status against the state.

pub mod context;
pub mod context_error;
pub mod file;
pub mod fingerprint;
pub mod inputs;
pub mod keys;
pub mod names;
pub mod renames;
pub mod select;

pub use file::*;
