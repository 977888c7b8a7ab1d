//! Ctrl-C during the wizard: exit 130 with the terminal as we found it.
//!
//! dialoguer hides the cursor while a list is shown and turns echo off for the token prompt;
//! on Ctrl-C (console raises SIGINT itself for keys read in raw mode) nothing restores them
//! (console-rs/dialoguer#77, #294). The handler installed here puts back the terminal modes
//! saved before the first prompt, shows the cursor, and exits 130. Files are only written by
//! rename at the end; while that rename is under way the handler defers the exit until it is
//! done, so Ctrl-C never leaves a temporary file behind.

use std::sync::atomic::{AtomicBool, Ordering};

static WRITING: AtomicBool = AtomicBool::new(false);
static PENDING: AtomicBool = AtomicBool::new(false);

/// Install the handler (idempotent; a no-op off Unix).
pub fn install() {
    #[cfg(unix)]
    unix::install();
}

/// Run `f` (a file write) with Ctrl-C deferred until it returns.
pub fn while_writing<T>(f: impl FnOnce() -> T) -> T {
    WRITING.store(true, Ordering::SeqCst);
    let out = f();
    WRITING.store(false, Ordering::SeqCst);
    if PENDING.load(Ordering::SeqCst) {
        #[cfg(unix)]
        unix::restore_and_exit(b"\n");
    }
    out
}

#[cfg(unix)]
mod unix {
    use std::sync::atomic::Ordering;
    use std::sync::OnceLock;

    // By full path: the layer scanners read `super` in an inline module as the file's parent.
    use crate::init::interrupt::{PENDING, WRITING};

    /// The terminal modes of stdin before any prompt (None when stdin is not a terminal).
    static SAVED: OnceLock<Option<libc::termios>> = OnceLock::new();

    pub fn install() {
        SAVED.get_or_init(|| {
            // SAFETY: tcgetattr writes a termios for a valid fd; failure is checked.
            let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
            let ok = unsafe { libc::tcgetattr(libc::STDIN_FILENO, t.as_mut_ptr()) } == 0;
            // SAFETY: initialised by tcgetattr when it returned 0.
            ok.then(|| unsafe { t.assume_init() })
        });
        // SAFETY: the handler only calls async-signal-safe functions (write, tcsetattr,
        // _exit) and reads atomics and an already-initialised OnceLock.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigint as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
        }
    }

    extern "C" fn on_sigint(_: libc::c_int) {
        if WRITING.load(Ordering::SeqCst) {
            PENDING.store(true, Ordering::SeqCst);
            return;
        }
        restore_and_exit(b"\ninterrupted: nothing was written\n");
    }

    /// Restore the terminal, print `message` on stderr and exit 130.
    pub fn restore_and_exit(message: &[u8]) {
        // Show the cursor (a terminal only), then the message.
        const SHOW_CURSOR: &[u8] = b"\x1b[?25h";
        // SAFETY: async-signal-safe calls on valid fds and a valid termios.
        unsafe {
            if let Some(Some(t)) = SAVED.get() {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t);
            }
            if libc::isatty(libc::STDERR_FILENO) == 1 {
                libc::write(
                    libc::STDERR_FILENO,
                    SHOW_CURSOR.as_ptr().cast(),
                    SHOW_CURSOR.len(),
                );
            }
            libc::write(libc::STDERR_FILENO, message.as_ptr().cast(), message.len());
            libc::_exit(130);
        }
    }
}
