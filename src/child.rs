//! Subprocesses with the two ways to stop one early: a cancel and a deadline. Either kills the
//! child; the output it wrote so far is kept (a cancelled or timed-out sandbox step still shows
//! its logs, a timed-out `dbt show` its last words). Used by the sandbox's live runs (`git`,
//! `dbt`) and by `generate --from-warehouse` (the project's dbt).

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a waiting worker checks for a cancel. Short enough that a cancelled dbt dies
/// "at once" for a user, long enough to cost nothing on a shared machine.
pub const POLL: Duration = Duration::from_millis(25);

/// What a finished (or stopped) subprocess left behind.
#[derive(Debug)]
pub struct Finished {
    pub ending: Ending,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// stdout then stderr, as a step log shows them.
    pub fn combined(&self) -> String {
        let mut log = self.stdout.clone();
        if !self.stderr.is_empty() {
            if !log.is_empty() && !log.ends_with('\n') {
                log.push('\n');
            }
            log.push_str(&self.stderr);
        }
        log
    }

    pub fn succeeded(&self) -> bool {
        matches!(self.ending, Ending::Exited(s) if s.success())
    }
}

/// How the subprocess ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(ExitStatus),
    /// Killed because the run was cancelled.
    Cancelled,
    /// Killed because it outlived its deadline.
    TimedOut,
}

/// Why a subprocess could not be run at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot run {program}: {source}")]
pub struct SpawnError {
    pub program: String,
    pub source: std::io::Error,
}

/// Run `cmd` to completion, killing it when `cancelled()` turns true or at `deadline`.
/// stdin is closed (nothing may prompt); stdout and stderr are drained on their own threads
/// so a chatty child never blocks on a full pipe.
pub fn run(
    mut cmd: Command,
    cancelled: &dyn Fn() -> bool,
    deadline: Option<Instant>,
) -> Result<Finished, SpawnError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| SpawnError {
        program: program.clone(),
        source,
    })?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let ending = wait(&mut child, cancelled, deadline).map_err(|source| SpawnError {
        program: program.clone(),
        source,
    })?;
    Ok(Finished {
        ending,
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

fn wait(
    child: &mut Child,
    cancelled: &dyn Fn() -> bool,
    deadline: Option<Instant>,
) -> std::io::Result<Ending> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ending::Exited(status));
        }
        let ending = if cancelled() {
            Some(Ending::Cancelled)
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
            Some(Ending::TimedOut)
        } else {
            None
        };
        if let Some(ending) = ending {
            // Already exited between try_wait and kill: the kill error is harmless.
            let _ = child.kill();
            child.wait()?;
            return Ok(ending);
        }
        std::thread::sleep(POLL);
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<String>> {
    pipe.map(|mut p| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

fn join(handle: Option<JoinHandle<String>>) -> String {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}
