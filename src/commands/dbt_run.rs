//! `datachonk dbt-run`: trigger the configured job (or several) and optionally wait for the
//! verdict. The work is the deploy core's; `one` and `many` turn the flags into its plans.

mod flags;
mod many;
mod one;

use crate::cli::{DbtRunArgs, GlobalArgs};
use crate::error::CmdResult;
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, args: &DbtRunArgs, ui: &Ui) -> CmdResult {
    // The flags every job shares (all but the job and the target).
    let shared = flags::flag_values(args);
    if is_many(args) {
        many::run(global, args, shared, ui)
    } else {
        one::run(global, args, shared, ui)
    }
}

/// Whether the command line names several jobs.
fn is_many(args: &DbtRunArgs) -> bool {
    args.target.len() > 1 || args.job_id.len() + args.job.len() > 1
}
