//! The async runtime, built only by commands that need the network (cold start stays fast).

use crate::error::{CliError, Exit};

/// A single-threaded tokio runtime, built only by commands that need the network.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Exit::Api, format!("cannot start the async runtime: {e}")))
}
