//! Which hooks there are, and the variable that skips them.

/// The hooks datachonk can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum HookKind {
    /// Validate the branch being merged with the dbt Cloud job before the merge commit.
    PreMergeCommit,
    /// Check configuration and generated files (no network) before a push.
    PrePush,
}

impl HookKind {
    pub const ALL: [HookKind; 2] = [HookKind::PreMergeCommit, HookKind::PrePush];

    /// The hook's file name, as git knows it.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::PreMergeCommit => "pre-merge-commit",
            HookKind::PrePush => "pre-push",
        }
    }
}

/// `DATACHONK_SKIP_HOOK=1` (any value but empty or `0`) skips `hook run`.
pub const SKIP_VAR: &str = "DATACHONK_SKIP_HOOK";

pub fn skip_requested() -> bool {
    std::env::var_os(SKIP_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}
