//! Git hook integration: installing datachonk's hook scripts ([`install`]), finding what a
//! merge is about to bring in ([`merge`]) and checking generated files before a push
//! ([`prepush`]). Nothing here talks to dbt Cloud: `commands/hook.rs` composes these with the
//! client.

mod error;
pub mod install;
mod kind;
pub mod merge;
pub mod prepush;

pub use error::{open_repository, HookError};
pub use kind::{skip_requested, HookKind, SKIP_VAR};
