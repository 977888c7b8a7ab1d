//! The dispatcher: runs the parsed command line's command and ends every command the same
//! way (the error on stderr, the one `--json` document, the exit code).

use super::edge::wrote_stdout;
use super::{
    cloud, config, dbt_run, generate, hook, init, man, new, push, quickstart, relationships,
    sandbox, serve, watch,
};
use crate::cli::{Cli, Command};
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

/// Run the parsed command line and return the process exit code.
pub fn run_cli(cli: Cli) -> i32 {
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
        Command::New(args) => new::run(&cli.global, &args, &ui),
        Command::Relationships(args) => relationships::run(&cli.global, &args, &ui),
        Command::Push(args) => push::run(&cli.global, &args, &ui),
        Command::DbtRun(args) => dbt_run::run(&cli.global, &args, &ui),
        Command::Cloud(cmd) => cloud::run(&cli.global, cmd, &ui),
        Command::Watch(args) => watch::run(&cli.global, &args, &ui),
        Command::Hook(cmd) => hook::run(&cli.global, cmd, &ui),
        Command::Config(cmd) => config::run(&cli.global, cmd, &ui),
        Command::Sandbox(args) => sandbox::run(&args, &ui),
        Command::Serve(args) => serve::run(&cli.global, &args, &ui),
        // The quickstart runs its stages as command lines of their own, through this.
        Command::Quickstart(args) => quickstart::run(&cli.global, &args, &ui, run_cli),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "datachonk", &mut script);
            wrote_stdout(ui.raw(&script), Exit::Usage)
        }
        Command::Man(args) => man::run(&args, &ui),
    };
    finish(&ui, result)
}

/// The edge where every command ends: the error on stderr, and with `--json` exactly one
/// document on stdout whatever happened, so no command can forget it on a failure path.
fn finish(ui: &Ui, result: CmdResult) -> i32 {
    if let Err(err) = &result {
        ui.error(err);
    }
    if ui.owes_json() {
        ui.json(&crate::error::outcome_json(&result));
    }
    match result {
        Ok(exit) => exit.code(),
        Err(err) => err.exit.code(),
    }
}

/// A command line clap refused (or `--help`/`--version`): printed as clap does, plus the
/// `--json` document when `--json` was among the arguments (parsing failed, so only a scan
/// of the raw arguments can tell).
pub fn parse_failed(err: clap::Error, args: &[std::ffi::OsString]) -> i32 {
    use clap::error::ErrorKind;
    let informational = matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    );
    let json = args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    if informational || !json {
        err.exit();
    }
    let _ = err.print();
    // clap's first line, e.g. "unexpected argument '--jobid' found" (the rest is usage help);
    // a missing subcommand renders the whole help instead.
    let rendered = err.render().to_string();
    let first = match err.kind() {
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a subcommand or argument is missing (see --help)"
        }
        _ => rendered.lines().next().unwrap_or("invalid arguments"),
    };
    let error = CliError::usage(crate::cloud::errors::clip(
        first.trim_start_matches("error: "),
        crate::cloud::errors::ECHO_LIMIT,
    ));
    Ui::json_only().json(&crate::error::outcome_json(&Err(error)));
    Exit::Usage.code()
}
