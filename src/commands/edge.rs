//! What every command's edge shares: the async runtime of the commands that need the network,
//! and writing a command's output to stdout (a closed pipe ends it quietly).

use crate::error::{CliError, CmdResult, Exit};

/// The result of writing a command's output to stdout. A reader that stopped early (`| head`)
/// closed the pipe: the rest is not wanted, so that ends the command quietly with exit 0, as
/// Unix tools do.
pub fn wrote_stdout(written: std::io::Result<()>, exit_on_error: Exit) -> CmdResult {
    match written {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(CliError::new(
            exit_on_error,
            format!("cannot write to stdout: {e}"),
        )),
    }
}

/// A single-threaded tokio runtime, built only by commands that need the network.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Exit::Api, format!("cannot start the async runtime: {e}")))
}
