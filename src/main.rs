use clap::Parser;

fn main() {
    // Parse before building anything (runtime, config, HTTP): keeps --help/--version instant.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = match datachonk::cli::Cli::try_parse_from(&args) {
        Ok(cli) => datachonk::commands::run(cli),
        Err(e) => datachonk::commands::parse_failed(e, &args),
    };
    std::process::exit(code);
}
