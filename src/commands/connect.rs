//! From configuration to a dbt Cloud client: the one place commands turn settings into a
//! connection (and the one place the token is taken out of the configuration).

use std::sync::Arc;

use crate::cli::{ConnectionArgs, GlobalArgs};
use crate::cloud::{Client, ClientOptions};
use crate::config::{self, Config, FlagValues, ProcessEnv};
use crate::error::CliError;
use crate::ui::Ui;
use secrecy::{ExposeSecret, SecretString};

/// Flag values of the connection flags every cloud-facing command takes.
pub fn connection_flags(c: &ConnectionArgs) -> FlagValues {
    FlagValues {
        access_url: c.access_url.clone(),
        account_id: c.account_id,
        target: c.target.clone(),
        ..FlagValues::default()
    }
}

/// Load the configuration for a command.
pub fn load(global: &GlobalArgs, flags: &FlagValues) -> Result<Config, CliError> {
    Ok(config::load(
        &super::config::load_options(global),
        flags,
        &ProcessEnv,
    )?)
}

/// A client for the configured account; missing token or account id is a usage error (2).
pub fn client(cfg: &Config, ui: &Ui) -> Result<Client, CliError> {
    let d = &cfg.dbt_cloud;
    let token = d.require_token()?;
    check_token(&token.value, &token.source.to_string())?;
    let account_id = d.require_account_id()?;
    let mut options = ClientOptions::from_env().map_err(|e| CliError::usage(e.to_string()))?;
    if ui.is_verbose() {
        let ui = ui.clone();
        options.debug = Some(Arc::new(move |line: &str| ui.debug(line)));
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
fn check_token(token: &SecretString, source: &str) -> Result<(), CliError> {
    let bad = token.expose_secret().trim().chars().any(char::is_control);
    if bad {
        return Err(CliError::usage(format!(
            "the API token from {source} contains a line break or another control character"
        ))
        .with_hint("set it again without them, e.g. export DBT_CLOUD_API_TOKEN=\"$(tr -d '[:space:]' < token-file)\""));
    }
    Ok(())
}
