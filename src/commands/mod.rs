//! One file per command: an args struct (in `cli.rs`) and a `run` function. The work lives
//! in the loop's modules (`config`, `deploy`, `cloud`, `sandbox`, ...); this layer only
//! composes them. Shared pieces of the edge are leaves here too: `dispatch` (exit codes and
//! the one `--json` document), `error` (the core's results as exit codes), `deploying` and
//! `reporters` (the deploy core's terminal and `--json` consumers), `runtime`.

pub mod cloud;
pub mod cloud_catalog;
pub mod config;
pub mod connect;
pub mod dbt_run;
pub mod deploying;
pub mod dispatch;
pub mod edge;
pub mod error;
pub mod generate;
pub mod generating;
pub mod hook;
pub mod init;
pub mod man;
pub mod new;
pub mod push;
pub mod quickstart;
pub mod relationships;
pub mod reporters;
pub mod sandbox;
pub mod serve;
pub mod watch;

pub use dispatch::{parse_failed, run_cli as run};
