//! Git's askpass protocol for HTTPS credentials when no credential helper answers: the
//! program named by `GIT_ASKPASS`, else `core.askPass`, else `SSH_ASKPASS` (git's order) is run
//! once per prompt with the prompt as its only argument and prints the answer. Editors (VS Code
//! sets `GIT_ASKPASS` in its terminals) and CI systems hand tokens to git this way; libgit2
//! does not, so datachonk does it itself. Never used for SSH keys and never asks a terminal.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use git2::Config;

/// The askpass program git would use, if any.
pub fn program(config: &Config) -> Option<PathBuf> {
    let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    from_env("GIT_ASKPASS")
        .map(PathBuf::from)
        .or_else(|| {
            config
                .get_path("core.askPass")
                .ok()
                .filter(|p| !p.as_os_str().is_empty())
        })
        .or_else(|| from_env("SSH_ASKPASS").map(PathBuf::from))
}

/// Username (unless the URL gives one) and password for `url`, asked with git's prompts.
pub fn ask(
    program: &std::path::Path,
    url: &str,
    username_from_url: Option<&str>,
) -> Result<(String, String), String> {
    let site = site_of(url);
    let user = match username_from_url {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => run(program, &format!("Username for '{site}': "))?,
    };
    let with_user = match site.split_once("://") {
        Some((scheme, host)) => format!("{scheme}://{user}@{host}"),
        None => site.clone(),
    };
    let password = run(program, &format!("Password for '{with_user}': "))?;
    Ok((user, password))
}

/// `scheme://host[:port]` of `url`, without userinfo or path (what git's prompts show).
fn site_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}")
}

/// One prompt: the program's first line of output, or why there is none. Its output is a
/// secret and never appears in the error.
fn run(program: &std::path::Path, prompt: &str) -> Result<String, String> {
    let out = Command::new(program)
        .arg(prompt)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run it: {e}"))?;
    if !out.status.success() {
        return Err(format!("it failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err("it gave no answer".into());
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_show_the_site_without_userinfo_or_path() {
        assert_eq!(
            site_of("https://ci:secret@git.example.com:8443/a/b.git"),
            "https://git.example.com:8443"
        );
        assert_eq!(site_of("http://127.0.0.1:9/r.git"), "http://127.0.0.1:9");
    }
}
