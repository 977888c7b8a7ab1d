//! `target/catalog.json`: parsed whole, or split into its entries for large files.

pub mod parse;
pub mod shape;
mod split;

pub use parse::{parse, read};
pub use shape::CatalogError;
