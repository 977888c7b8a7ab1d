//! A client for the configured account.

use secrecy::{ExposeSecret, SecretString};

use crate::cloud::client::DebugLog;
use crate::cloud::{Client, ClientOptions};
use crate::config::Config;

use super::error::ConnectError;

/// A client for the configured account; a missing token or account id is a configuration
/// error. `debug` receives one line per request and retry decision (`--verbose`).
pub fn client(cfg: &Config, debug: Option<DebugLog>) -> Result<Client, ConnectError> {
    let d = &cfg.dbt_cloud;
    let token = d.require_token()?;
    check_token(&token.value, &token.source.to_string())?;
    let account_id = d.require_account_id()?;
    let mut options =
        ClientOptions::from_env().map_err(|e| ConnectError::refused(e.to_string()))?;
    if debug.is_some() {
        options.debug = debug;
    }
    Ok(Client::new(
        &d.access_url.value,
        account_id,
        &token.value,
        token.source.to_string(),
        options,
    )?)
}

/// A token that cannot go into an HTTP header (a newline from a pasted or `cat`-ed value,
/// other control characters) is a configuration mistake: refused before any request, and
/// never echoed. Surrounding whitespace is trimmed when it is sent, so it is allowed here.
fn check_token(token: &SecretString, source: &str) -> Result<(), ConnectError> {
    let bad = token.expose_secret().trim().chars().any(char::is_control);
    if bad {
        return Err(ConnectError::refused(format!(
            "the API token from {source} contains a line break or another control character"
        ))
        .with_hint("set it again without them, e.g. export DBT_CLOUD_API_TOKEN=\"$(tr -d '[:space:]' < token-file)\""));
    }
    Ok(())
}
