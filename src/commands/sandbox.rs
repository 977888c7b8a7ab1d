//! `datachonk sandbox`: serve the local dbt Cloud v2-compatible API until interrupted.

use crate::cli::SandboxArgs;
use crate::error::{CliError, CmdResult};
use crate::ui::Ui;

pub fn run(_args: &SandboxArgs, _ui: &Ui) -> CmdResult {
    Err(CliError::usage("sandbox is not implemented yet"))
}
