//! `datachonk cloud …`: look at the connection, jobs, runs and artifacts.

use crate::cli::{CloudCommand, GlobalArgs};
use crate::error::{CliError, CmdResult};
use crate::ui::Ui;

pub fn run(_global: &GlobalArgs, _cmd: CloudCommand, _ui: &Ui) -> CmdResult {
    Err(CliError::usage("cloud is not implemented yet"))
}
