//! Entities (dimensions, SCD2 through dbt snapshots), facts (incremental where asked) and
//! metrics (semantic models + metrics + a time spine) from the declarative spec in
//! `datachonk/*.yml` ([`spec`]), validated against the project's metadata ([`model`]) and
//! planned, rendered and written through the same path as staging ([`render`]): the same
//! state file, hand-edit detection, `--force`, `--check`, `--dry-run`.

pub mod declared;
pub mod edit;
pub mod known;
pub mod model;
pub mod problem;
pub mod render;
pub mod spec;

pub use declared::{
    artifacts, declared_fingerprint, inputs_fingerprint, read_declared, sql_stems, Declared,
};
pub use known::{known, Known};
pub use problem::At;
pub use problem::{MartsError, Problem};
