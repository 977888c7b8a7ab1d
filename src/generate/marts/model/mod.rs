//! The spec resolved into a model of entities, facts and metrics: the model's [`types`] and
//! how a spec becomes one ([`resolve`]).

pub mod resolve;
pub mod types;

pub use resolve::resolve;
pub use types::*;

#[cfg(test)]
mod tests;
