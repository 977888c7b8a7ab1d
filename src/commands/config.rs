//! `datachonk config show`: the effective configuration with provenance.

use crate::cli::{ConfigCommand, GlobalArgs};
use crate::error::{CliError, CmdResult};
use crate::ui::Ui;

pub fn run(_global: &GlobalArgs, _cmd: ConfigCommand, _ui: &Ui) -> CmdResult {
    Err(CliError::usage("config is not implemented yet"))
}
