//! The reconcile stage: the rendered files against the disk, `datachonk.state.json` and the
//! person's edits (left alone, merged, or reported).

pub mod disk;
pub mod merge;
pub mod noop;
pub mod person_yaml;
pub mod project_edits;
pub mod record;
pub mod state;
