//! The marts commands' work, below the CLI: `new` (one entry added to the spec, checked with
//! the whole spec, asked for on a terminal) and `relationships` (the evidence between the
//! warehouse's tables). Plain values in, plain errors out; `commands/` prints and maps exits.
//! It uses `generate::marts` and `generate::relationships` and changes neither.

pub mod add;
pub mod ask;
pub mod entry;
pub mod error;
pub mod names;
pub mod propose;
pub mod relationships;
