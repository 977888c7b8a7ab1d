//! `datachonk dbt-run`: trigger the configured job and optionally wait for its verdict.

use crate::cli::{DbtRunArgs, GlobalArgs};
use crate::error::{CliError, CmdResult};
use crate::ui::Ui;

pub fn run(_global: &GlobalArgs, _args: &DbtRunArgs, _ui: &Ui) -> CmdResult {
    Err(CliError::usage("dbt-run is not implemented yet"))
}
