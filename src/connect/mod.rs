//! From configuration to a dbt Cloud connection, shared by every cloud-facing command and
//! below them: the one place the token is taken out of the configuration, the jobs a
//! command line names, and the production gate. Plain values in, `ConnectError` out; the
//! CLI edge maps it to an exit code (`src/error.rs`).

pub mod client;
pub mod confirm;
pub mod error;
pub mod jobs;

pub use client::client;
pub use confirm::confirm_job;
pub use error::ConnectError;
pub use jobs::{job_by_name, resolve_job};
