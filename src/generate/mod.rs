//! `generate`: metadata inputs → planned files → (atomic) writes. No git, no HTTP: the
//! command composes [`plan`](fn@plan) and [`generate`](fn@generate) with the `Ui`.
//!
//! The stages, one folder each: [`read`] the metadata (catalog, sources YAML, postgres, a
//! warehouse, the dbt project) → [`plan`](mod@plan) the files (select tables, derive names,
//! quoting, keys) → [`render`] them (the templates, or their native form) → [`reconcile`]
//! with the disk, the state and the person's edits → [`write`] atomically under the lock.
//! [`marts`] is a sibling of the staging pipeline that shares read, reconcile and write;
//! [`pipeline`] runs the stages in order.

pub mod early;
pub mod marts;
pub mod parallel;
pub mod pipeline;
pub mod plan;
pub mod read;
pub mod reconcile;
pub mod render;
pub mod request;
pub mod timings;
pub mod write;

pub use pipeline::{generate, plan};
pub use read::load::load_metadata;
pub use request::{GenerateError, Input, Plan, Request};
