use clap::Parser;

fn main() {
    // Parse before building anything (runtime, config, HTTP): keeps --help/--version instant.
    let cli = datachonk::cli::Cli::parse();
    std::process::exit(datachonk::commands::run(cli));
}
