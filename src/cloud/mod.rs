//! dbt Cloud API v2 client: types, HTTP policy (timeouts, retries, rate limits), at-most-once
//! triggering and run waiting. Knows nothing of clap or terminals.

pub mod cancel;
pub mod client;
pub mod errors;
pub mod failure;
pub mod insight;
pub mod marker;
pub mod multi_wait;
pub mod pull_request;
pub mod request;
pub mod retries;
pub mod retry;
pub mod sensor;
pub mod trigger;
pub mod types;
pub mod upstream;
pub mod verdict;
pub mod wait;

pub use client::{Client, ClientOptions, RunQuery};
pub use errors::ApiError;
pub use trigger::{trigger_run, Triggered};
pub use types::{Run, RunStatus, RunStep, TriggerRequest};
