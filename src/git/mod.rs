//! git2: find the repository, stage exactly the files `generate` wrote, commit them with the
//! person's identity, push the branch with bounded credentials, and report every ref the
//! remote rejected. Nothing here prints or knows about clap; `commands/push.rs` composes it.
//!
//! - [`repo`]: discovery and state checks (detached HEAD, merge/rebase in progress, protected
//!   branches)
//! - [`stage`]: which generated files differ from HEAD; the tree and index updates
//! - [`commit`]: identity, message (template), the commit itself
//! - [`push`]: target (upstream or `<remote>/<branch>`), the push, per-ref results
//! - [`credentials`]: the bounded credential callback; [`askpass`]: git's askpass protocol
//! - [`whole_objects`]: local remotes get whole objects (no delta search); [`url`]: SSH or local
//! - [`errors`]: [`GitError`] and its mapping to exit code 5

pub mod askpass;
pub mod commit;
pub mod credentials;
pub mod errors;
pub mod push;
pub mod repo;
pub mod stage;
pub mod url;
pub mod whole_objects;

pub use errors::GitError;
