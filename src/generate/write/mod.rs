//! The write stage: files written atomically (through [`crate::fsx::atomic`]) as they are
//! rendered, under the project's lock.

pub mod lock;
pub mod sink;
