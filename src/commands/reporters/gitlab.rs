//! GitLab CI's collapsible log sections: under `GITLAB_CI`, the wait for a run (its status and
//! step lines) folds into one section and the failure report into another, so a job log opens
//! on the verdict. The markers go to the stream of the lines they fold (the wait's to stderr,
//! the report's to stdout, not under `--json`), unescaped: they are GitLab's own control
//! sequences, never text from outside.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::ui::Ui;

/// Whether we run in a GitLab CI job.
pub fn active() -> bool {
    std::env::var("GITLAB_CI").is_ok_and(|v| !v.is_empty())
}

/// A section's name: letters, digits and `_` only (GitLab's rule).
pub fn name(kind: &str, run_id: i64) -> String {
    format!("datachonk_{kind}_{run_id}")
}

/// Where a section's lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stderr,
    Stdout,
}

/// Open section `name` with `header` (folded when `collapsed`).
pub fn start(ui: &Ui, stream: Stream, name: &str, header: &str, collapsed: bool) {
    let fold = if collapsed { "[collapsed=true]" } else { "" };
    let line = format!(
        "\x1b[0Ksection_start:{}:{name}{fold}\r\x1b[0K{}",
        now(),
        crate::terminal_text::escape(header)
    );
    emit(ui, stream, &line);
}

/// Close section `name`.
pub fn end(ui: &Ui, stream: Stream, name: &str) {
    emit(
        ui,
        stream,
        &format!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K", now()),
    );
}

fn emit(ui: &Ui, stream: Stream, line: &str) {
    match stream {
        Stream::Stderr => ui.ci_line(line),
        // stdout is the `--json` document's alone.
        Stream::Stdout if ui.is_json() => {}
        Stream::Stdout => {
            use std::io::Write;
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
