//! `datachonk generate`: plan the staging files from metadata, then show (`--dry-run`,
//! `--diff`, `--json`), check (`--check`) or write them (the work is in `generating`, which
//! `datachonk new` shares).

use crate::cli::{GenerateArgs, GlobalArgs};
use crate::error::CmdResult;
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, args: &GenerateArgs, ui: &Ui) -> CmdResult {
    super::generating::generate(global, args, ui)
}
