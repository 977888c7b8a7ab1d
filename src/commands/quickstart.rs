//! `datachonk quickstart`: the README's first command, the loop end to end on a throwaway workspace.

use crate::cli::{GlobalArgs, QuickstartArgs};
use crate::error::{CliError, CmdResult};
use crate::ui::Ui;

pub fn run(_global: &GlobalArgs, _args: &QuickstartArgs, _ui: &Ui) -> CmdResult {
    Err(CliError::usage("quickstart is not implemented yet"))
}
