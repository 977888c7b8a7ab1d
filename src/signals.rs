//! The signals that ask a command to stop — SIGINT (Ctrl-C), SIGTERM (what CI systems send on
//! cancel, and `kill`), SIGHUP (the terminal went away) — get one treatment: the command
//! finishes what it is doing the way Ctrl-C always did (last status, its one `--json`
//! document, the cancel when asked, temporary files swept) and exits 128 + the signal's
//! number: 130, 143 or 129 (README, "Exit codes").

use std::sync::atomic::{AtomicI32, Ordering};

use crate::error::{CliError, Exit};

/// The stop signal received first (0: none yet). One per process: whichever part of the
/// command heard it, the exit code says which it was.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

const SIGINT: i32 = 2;
const SIGHUP: i32 = 1;
const SIGTERM: i32 = 15;

/// The exit status of a command stopped by a signal: the one received, else Ctrl-C's.
pub fn stop_exit() -> Exit {
    match RECEIVED.load(Ordering::SeqCst) {
        SIGTERM => Exit::Terminated,
        SIGHUP => Exit::HungUp,
        _ => Exit::Interrupted,
    }
}

/// True for the exit statuses a stop signal gives.
pub fn is_stop(exit: Exit) -> bool {
    matches!(exit, Exit::Interrupted | Exit::Terminated | Exit::HungUp)
}

/// What the signal is called in messages ("interrupted (SIGTERM)").
pub fn name() -> &'static str {
    match RECEIVED.load(Ordering::SeqCst) {
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "Ctrl-C",
    }
}

fn record(signal: i32) {
    let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// SIGINT, SIGTERM and SIGHUP, registered when created (tokio's `ctrl_c()` only registers
/// when first polled, which would leave a window where a signal kills the process
/// mid-request). Needs a tokio runtime.
pub struct Interrupt {
    #[cfg(unix)]
    signals: [tokio::signal::unix::Signal; 3],
}

impl Interrupt {
    pub fn listen() -> Result<Self, CliError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let listen = |kind: SignalKind| {
                signal(kind).map_err(|e| {
                    CliError::new(Exit::Api, format!("cannot listen for signals: {e}"))
                })
            };
            Ok(Interrupt {
                signals: [
                    listen(SignalKind::interrupt())?,
                    listen(SignalKind::terminate())?,
                    listen(SignalKind::hangup())?,
                ],
            })
        }
        #[cfg(not(unix))]
        Ok(Interrupt {})
    }

    /// The next stop signal; the first one received is recorded for [`stop_exit`].
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let [int, term, hup] = &mut self.signals;
            let got = tokio::select! {
                _ = int.recv() => SIGINT,
                _ = term.recv() => SIGTERM,
                _ = hup.recv() => SIGHUP,
            };
            record(got);
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            record(SIGINT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(Exit::Interrupted.code(), 128 + SIGINT);
        assert_eq!(Exit::Terminated.code(), 128 + SIGTERM);
        assert_eq!(Exit::HungUp.code(), 128 + SIGHUP);
    }
}
