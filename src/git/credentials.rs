//! The credential callback, bounded: each way of authenticating is offered at most once per
//! push, then the callback gives up with the list of what was tried.
//!
//! libgit2 calls the callback again every time the server refuses a credential; over SSH it
//! does so forever as long as a credential is returned (libgit2#3471, git2-rs#347), and over
//! HTTPS up to 15 times (enough to lock an account). Modelled on cargo's
//! `with_authentication` (`src/cargo/sources/git/utils.rs`): ssh-agent once, then each
//! default key file once, then git's credential helpers once, then git's askpass program
//! once (`askpass`), then the default (NTLM /
//! Negotiate) credential once.

use std::path::PathBuf;

use git2::{Config, Cred, CredentialType};

/// Default private keys OpenSSH would try, in its order (libssh2 reads no `~/.ssh/config`).
pub const DEFAULT_KEYS: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// State of one push's authentication attempts.
pub struct Attempts {
    config: Config,
    home: Option<PathBuf>,
    agent_available: bool,
    username_given: bool,
    agent_tried: bool,
    keys_tried: usize,
    keys_reported: bool,
    helper_tried: bool,
    askpass_tried: bool,
    default_tried: bool,
    /// What was offered, in order, in words (for the error message).
    pub tried: Vec<String>,
}

impl Attempts {
    /// `config` is the repository's git config (credential helpers, `credential.*`).
    pub fn new(config: Config) -> Self {
        Attempts {
            config,
            home: home_dir(),
            agent_available: std::env::var_os("SSH_AUTH_SOCK").is_some_and(|s| !s.is_empty()),
            username_given: false,
            agent_tried: false,
            keys_tried: 0,
            keys_reported: false,
            helper_tried: false,
            askpass_tried: false,
            default_tried: false,
            tried: Vec::new(),
        }
    }

    /// Answer one credential request from libgit2, or refuse when everything was tried.
    pub fn next(
        &mut self,
        url: &str,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let user = username_from_url.unwrap_or("git");
        // SSH first asks only for a user name when the URL has none.
        if allowed.contains(CredentialType::USERNAME) && !self.username_given {
            self.username_given = true;
            return Cred::username(user);
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            if !self.agent_tried {
                self.agent_tried = true;
                if self.agent_available {
                    self.tried.push(format!("ssh-agent (user {user})"));
                    return Cred::ssh_key_from_agent(user);
                }
                self.tried
                    .push("ssh-agent (not running: SSH_AUTH_SOCK is unset)".into());
            }
            while self.keys_tried < DEFAULT_KEYS.len() {
                let name = DEFAULT_KEYS[self.keys_tried];
                self.keys_tried += 1;
                let Some(home) = &self.home else { continue };
                let key = home.join(".ssh").join(name);
                if !key.is_file() {
                    continue;
                }
                self.tried.push(format!("key file {}", key.display()));
                let public = key.with_extension("pub");
                let public = public.is_file().then_some(public);
                return Cred::ssh_key(user, public.as_deref(), &key, None);
            }
            if !self.keys_reported {
                self.keys_reported = true;
                if !self.tried.iter().any(|t| t.starts_with("key file")) {
                    self.tried.push(format!(
                        "key files ~/.ssh/{{{}}} (none exist)",
                        DEFAULT_KEYS.join(",")
                    ));
                }
            }
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) && !self.helper_tried {
            self.helper_tried = true;
            match Cred::credential_helper(&self.config, url, username_from_url) {
                Ok(cred) => {
                    self.tried.push("git credential helper".into());
                    return Ok(cred);
                }
                Err(_) => self
                    .tried
                    .push("git credential helper (none configured or it had no answer)".into()),
            }
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) && !self.askpass_tried {
            self.askpass_tried = true;
            if let Some(program) = super::askpass::program(&self.config) {
                let name = program.display().to_string();
                match super::askpass::ask(&program, url, username_from_url) {
                    Ok((user, password)) => {
                        self.tried.push(format!("askpass program {name}"));
                        return Cred::userpass_plaintext(&user, &password);
                    }
                    Err(why) => self.tried.push(format!("askpass program {name} ({why})")),
                }
            }
        }
        if allowed.contains(CredentialType::DEFAULT) && !self.default_tried {
            self.default_tried = true;
            self.tried
                .push("default credentials (NTLM/Negotiate)".into());
            return Cred::default();
        }
        Err(git2::Error::new(
            git2::ErrorCode::Auth,
            git2::ErrorClass::Callback,
            "datachonk: no more credentials to try",
        ))
    }

    /// True when at least one credential was actually offered to the server.
    pub fn offered_any(&self) -> bool {
        self.username_given
            || self.agent_tried
            || self.helper_tried
            || self.askpass_tried
            || self.default_tried
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever libgit2 asks, the callback answers a bounded number of times.
    #[test]
    fn the_callback_gives_up_instead_of_looping() {
        let config = Config::new().unwrap();
        let mut a = Attempts::new(config);
        a.agent_available = true;
        a.home = Some(PathBuf::from("/nonexistent-home"));
        let all = CredentialType::USERNAME
            | CredentialType::SSH_KEY
            | CredentialType::USER_PASS_PLAINTEXT
            | CredentialType::DEFAULT;
        let mut answered = 0;
        for _ in 0..100 {
            match a.next("ssh://git@example.invalid/r.git", Some("git"), all) {
                Ok(_) => answered += 1,
                Err(e) => {
                    assert!(e.message().contains("no more credentials"));
                    break;
                }
            }
        }
        assert!(answered <= 5, "answered {answered} times");
        assert!(
            a.tried.iter().any(|t| t.starts_with("ssh-agent")),
            "{:?}",
            a.tried
        );
        assert!(
            a.tried.iter().any(|t| t.contains("none exist")),
            "{:?}",
            a.tried
        );
        assert!(
            a.tried
                .iter()
                .any(|t| t.starts_with("git credential helper")),
            "{:?}",
            a.tried
        );
    }
}
