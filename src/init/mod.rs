//! `datachonk init`: find the repository and dbt project, ask (or take from flags) where dbt
//! Cloud is and which job validates a push, check it all against the API, and write
//! `datachonk.yaml` — never the token.
//!
//! - [`project`]: the git repository and the dbt project around the current directory.
//! - [`prompter`]: the questions, behind a trait (dialoguer, or a script in tests).
//! - [`choices`]: what the wizard and the CLI share (the hook choice, the URL check).
//! - [`wizard`]: the flow, knowing nothing of terminals; also the `--no-input` resolution.
//! - [`api`]: the few blocking dbt Cloud calls the flow makes.
//! - [`job_check`]: is the chosen job a state-aware validation job?
//! - [`compose`]: the text to write (new, or the existing file edited) and what changed.
//! - [`writer`]: render a new `datachonk.yaml`, or edit an existing one keeping its comments.
//! - [`gitignore`]: add `.datachonk/` to `.gitignore` once.
//! - [`interrupt`]: Ctrl-C restores the terminal and exits 130, never mid-write.

pub mod api;
pub mod choices;
pub mod compose;
pub mod gitignore;
pub mod interrupt;
pub mod job_check;
pub mod project;
pub mod prompter;
pub mod targets;
pub mod wizard;
pub mod writer;
