//! The CLI's consumers of the deploy core: the terminal's lines for its events, and the
//! `--json` documents of its verdicts. Every command that deploys prints through these.

pub mod documents;
pub mod generate_check;
pub mod github;
pub mod github_rest;
pub mod gitlab;
pub mod junit;
pub mod live_line;
pub mod outputs;
pub mod pr_comment;
pub mod terminal;
pub mod verdict_lines;
