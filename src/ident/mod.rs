//! Identifier rules every layer may use: how raw names become snake_case dbt names
//! ([`names`]) and when a warehouse needs a name quoted ([`quoting`]). Leaves.

pub mod names;
pub mod quoting;

pub use names::{is_plain_name, snake_case};
pub use quoting::Dialect;
