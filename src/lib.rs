//! datachonk: generate dbt models, push them, and run the dbt Cloud job for the pushed commit.
//!
//! The binary is a thin shell over this library so that tests and benchmarks can drive each
//! module directly. Layout follows `DESIGN.md`: one module per arrow of the loop.

pub mod child;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod config;
pub mod connect;
pub mod deploy;
pub mod digest;
pub mod error;
pub mod fsx;
pub mod fuzz_targets;
pub mod generate;
pub mod git;
pub mod hook;
pub mod ident;
pub mod init;
pub mod io_limits;
pub mod marts_ops;
pub mod quickstart;
pub mod redact;
pub mod sandbox;
pub mod serve;
pub mod signals;
pub mod templates;
pub mod terminal_text;
pub mod tls;
pub mod ui;
pub mod yaml_read;

pub use error::{CliError, CmdResult, Exit};
