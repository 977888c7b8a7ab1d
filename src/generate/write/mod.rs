//! The write stage: files written atomically (through [`crate::fsx::atomic`]) as they are
//! rendered, under the project's lock.

pub mod lock;
pub mod sink;

// The atomic writes lived here before they became a leaf every layer uses.
pub use crate::fsx::atomic::{interrupt, was_interrupted, write_atomic, WriteError};
