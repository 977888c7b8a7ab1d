//! What the wizard and the command line share: the hook choice and the access URL check.
//! A leaf, so the CLI surface can use them without the wizard's flow (and with no clap here:
//! `cli::InstallHook` is the flag's spelling of a `HookChoice`).

/// Which git hook to install (by `datachonk hook install`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookChoice {
    /// Validate the branch being merged with the dbt Cloud job before the merge commit.
    PreMergeCommit,
    /// Check configuration and generated files (no network) before a push.
    PrePush,
    /// No hook.
    None,
}

impl HookChoice {
    pub fn kind(self) -> Option<&'static str> {
        match self {
            HookChoice::PreMergeCommit => Some("pre-merge-commit"),
            HookChoice::PrePush => Some("pre-push"),
            HookChoice::None => None,
        }
    }

    /// The hook kind `datachonk hook install` takes.
    pub fn hook_kind(self) -> Option<crate::hook::HookKind> {
        match self {
            HookChoice::PreMergeCommit => Some(crate::hook::HookKind::PreMergeCommit),
            HookChoice::PrePush => Some(crate::hook::HookKind::PrePush),
            HookChoice::None => None,
        }
    }

    /// The command that installs it by hand (what init runs for you).
    pub fn install_command(self) -> Option<String> {
        self.kind()
            .map(|k| format!("datachonk hook install --kind {k}"))
    }
}

/// An http(s) URL without path, query or credentials.
pub fn check_url(s: &str) -> Result<(), String> {
    let u = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("use an http:// or https:// URL".into());
    }
    if u.host_str().is_none() || !u.username().is_empty() || u.password().is_some() {
        return Err("a URL with a host and no user name, e.g. https://emea.dbt.com".into());
    }
    if u.path() != "/" || u.query().is_some() {
        return Err("the access URL alone, without a path (e.g. https://emea.dbt.com)".into());
    }
    Ok(())
}
