//! One file per command: an args struct (in `cli.rs`) and a `run` function. The work lives
//! in the loop's modules (`config`, `cloud`, `sandbox`, ...); this layer only composes them.

pub mod cloud;
pub mod cloud_catalog;
pub mod cloud_insight;
pub mod config;
pub mod connect;
pub mod dbt_run;
pub mod generate;
pub mod hook;
pub mod init;
pub mod push;
pub mod quickstart;
pub mod sandbox;

use crate::cli::{Cli, Command};
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

/// Run the parsed command line and return the process exit code.
pub fn run(cli: Cli) -> i32 {
    let ui = Ui::new(&cli.global);
    if let Some(dir) = &cli.global.directory {
        if let Err(e) = std::env::set_current_dir(dir) {
            ui.error(&CliError::usage(format!(
                "cannot change to directory {}: {e}",
                dir.display()
            )));
            return Exit::Usage.code();
        }
    }
    let result: CmdResult = match cli.command {
        Command::Init(args) => init::run(&cli.global, &args, &ui),
        Command::Generate(args) => generate::run(&cli.global, &args, &ui),
        Command::Push(args) => push::run(&cli.global, &args, &ui),
        Command::DbtRun(args) => dbt_run::run(&cli.global, &args, &ui),
        Command::Cloud(cmd) => cloud::run(&cli.global, cmd, &ui),
        Command::Hook(cmd) => hook::run(&cli.global, cmd, &ui),
        Command::Config(cmd) => config::run(&cli.global, cmd, &ui),
        Command::Sandbox(args) => sandbox::run(&args, &ui),
        Command::Quickstart(args) => quickstart::run(&cli.global, &args, &ui),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "datachonk", &mut std::io::stdout());
            Ok(Exit::Success)
        }
    };
    match result {
        Ok(exit) => exit.code(),
        Err(err) => {
            ui.error(&err);
            err.exit.code()
        }
    }
}

/// A single-threaded tokio runtime, built only by commands that need the network.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Exit::Api, format!("cannot start the async runtime: {e}")))
}
