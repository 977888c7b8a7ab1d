//! From configuration to a dbt Cloud client: the one place commands turn settings into a
//! connection (and the one place the token is taken out of the configuration).

use std::sync::Arc;

use crate::cli::{ConnectionArgs, GlobalArgs};
use crate::cloud::{Client, ClientOptions};
use crate::config::{self, Config, FlagValues, ProcessEnv};
use crate::error::CliError;
use crate::ui::Ui;

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
    let account_id = d.require_account_id()?;
    let mut options = ClientOptions::from_env();
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
