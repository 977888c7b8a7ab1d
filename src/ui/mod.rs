//! The one owner of stdout and stderr: colour, TTY detection, `--json`, `--quiet`.
//! Commands never call `println!` themselves.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anstyle::{AnsiColor, Style};

pub mod object;
pub use object::Object;

/// When to colour (`--color`): plain values, so this layer knows nothing of clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    Auto,
    Always,
    Never,
}

/// How the person asked to be spoken to; the CLI builds it from its global flags.
#[derive(Debug, Clone, Copy)]
pub struct UiOptions {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub color: ColorMode,
}

/// A sink for `--verbose` lines, shareable across threads (see [`Ui::debug_log`]).
pub type DebugLine = Arc<dyn Fn(&str) + Send + Sync>;

/// A failure as printed: its message and hints. The edge turns its own error type into this,
/// so the printer needs to know nothing of exit codes.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    pub message: &'a str,
    pub hints: &'a [String],
}

#[derive(Debug, Clone)]
pub struct Ui {
    json: bool,
    quiet: bool,
    verbose: bool,
    color: bool,
    stderr_tty: bool,
    /// Top-level fields added to the JSON document (see [`Ui::with_json_fields`]).
    json_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Something was written to stdout as the command's result (a JSON document, or raw
    /// bytes such as an artifact). Shared by clones, so the edge knows whether the `--json`
    /// document is still owed (see [`Ui::owes_json`]).
    stdout_used: Arc<AtomicBool>,
}

impl Ui {
    pub fn new(options: impl Into<UiOptions>) -> Self {
        let options = options.into();
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match options.color {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => {
                stderr_tty && !no_color && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        };
        Ui {
            json: options.json,
            quiet: options.quiet,
            verbose: options.verbose,
            color,
            stderr_tty,
            json_fields: None,
            stdout_used: Arc::default(),
        }
    }

    /// A Ui for library callers and tests: no colour, not JSON.
    pub fn plain() -> Self {
        Ui {
            json: false,
            quiet: false,
            verbose: false,
            color: false,
            stderr_tty: false,
            json_fields: None,
            stdout_used: Arc::default(),
        }
    }

    /// A Ui for the one document written when the command line itself was refused.
    pub fn json_only() -> Self {
        Ui {
            json: true,
            ..Self::plain()
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    /// With `--verbose`, a sink for diagnostic lines (each request and retry decision) that
    /// lower layers can keep without knowing the Ui; `None` otherwise.
    pub fn debug_log(&self) -> Option<DebugLine> {
        let ui = self.clone();
        self.verbose
            .then(|| Arc::new(move |line: &str| ui.debug(line)) as DebugLine)
    }

    /// True when a spinner or live progress may be drawn.
    pub fn is_interactive(&self) -> bool {
        self.stderr_tty && !self.json && !self.quiet
    }

    /// A progress or status line on stderr (suppressed by `--quiet`).
    pub fn status(&self, line: impl AsRef<str>) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{}", self.clean(line.as_ref()));
        }
    }

    /// A diagnostic only shown with `--verbose`.
    pub fn debug(&self, line: impl AsRef<str>) {
        if self.verbose {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}",
                self.clean(&self.dim(line.as_ref()))
            );
        }
    }

    /// A warning on stderr (shown even with `--quiet`).
    pub fn warn(&self, line: impl AsRef<str>) {
        let label = self.paint(
            "warning:",
            Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
        );
        let _ = writeln!(
            std::io::stderr().lock(),
            "{label} {}",
            self.clean(line.as_ref())
        );
    }

    /// Human output that is the command's result: stdout, never in `--json` mode.
    pub fn out(&self, line: impl AsRef<str>) {
        if !self.json {
            let _ = writeln!(std::io::stdout().lock(), "{}", self.clean(line.as_ref()));
        }
    }

    /// A Ui whose JSON document also carries `fields` at the top level: a command that ends
    /// in another's output (push, then the run) still prints one document.
    pub fn with_json_fields(&self, fields: serde_json::Map<String, serde_json::Value>) -> Ui {
        Ui {
            json_fields: Some(fields),
            ..self.clone()
        }
    }

    /// True in `--json` mode until the command has written its document (or raw output):
    /// the CLI's edge then writes one for it, whatever the exit (see `commands::run`).
    pub fn owes_json(&self) -> bool {
        self.json && !self.stdout_used.load(Ordering::SeqCst)
    }

    /// The command's result as raw bytes on stdout (an artifact, completions).
    pub fn raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.stdout_used.store(true, Ordering::SeqCst);
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }

    /// A line for the CI system running us (a GitHub workflow command, a GitLab section
    /// marker) on stderr, where both read them: never suppressed by `--quiet`, never mixed
    /// into `--json`'s stdout. The caller escapes what came from outside.
    pub fn ci_line(&self, line: impl AsRef<str>) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", line.as_ref());
    }

    /// The one JSON document of `--json` mode.
    pub fn json(&self, value: &serde_json::Value) {
        let value = match (&self.json_fields, value) {
            (Some(fields), serde_json::Value::Object(doc)) => {
                let mut merged = fields.clone();
                merged.extend(doc.clone());
                std::borrow::Cow::Owned(serde_json::Value::Object(merged))
            }
            _ => std::borrow::Cow::Borrowed(value),
        };
        self.write_json(value.as_ref());
    }

    /// The one JSON document of `--json` mode, an object whose large fields (a run's nodes)
    /// are written straight from where they live, with this Ui's extra top-level fields
    /// merged in (the document's own win, as in [`Ui::json`]): the same bytes as a Value.
    pub fn json_object<L: serde::Serialize>(&self, mut doc: Object<L>) {
        if let Some(fields) = &self.json_fields {
            doc.merge_missing(fields);
        }
        self.write_json(&doc);
    }

    fn write_json<T: serde::Serialize>(&self, value: &T) {
        self.stdout_used.store(true, Ordering::SeqCst);
        // Buffered: a large document is written in blocks, not one write per token.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let _ = serde_json::to_writer_pretty(&mut out, value);
        let _ = writeln!(out);
        let _ = out.flush();
    }

    /// Print an error with its hints on stderr.
    pub fn error<'a>(&self, problem: impl Into<Problem<'a>>) {
        let err = problem.into();
        let label = self.paint(
            "error:",
            Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
        );
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{label} {}", self.clean(err.message));
        for hint in err.hints {
            let hint = self.clean(hint);
            let _ = writeln!(e, "{} {hint}", self.paint("hint:", Style::new().bold()));
        }
    }

    pub fn good(&self, s: &str) -> String {
        self.paint(
            s,
            Style::new().bold().fg_color(Some(AnsiColor::Green.into())),
        )
    }

    pub fn bad(&self, s: &str) -> String {
        self.paint(s, Style::new().bold().fg_color(Some(AnsiColor::Red.into())))
    }

    pub fn warnish(&self, s: &str) -> String {
        self.paint(
            s,
            Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
        )
    }

    pub fn bold(&self, s: &str) -> String {
        self.paint(s, Style::new().bold())
    }

    pub fn dim(&self, s: &str) -> String {
        self.paint(s, Style::new().dimmed())
    }

    /// Every human line on its way out: control characters from outside text (job names,
    /// dbt's messages, log tails, file contents) made visible, only the colour the Ui
    /// painted itself kept. The one place this happens, so no caller can forget it.
    fn clean<'a>(&self, line: &'a str) -> std::borrow::Cow<'a, str> {
        if self.color {
            crate::terminal_text::escape_keeping(line, crate::terminal_text::sgr_len)
        } else {
            crate::terminal_text::escape(line)
        }
    }

    fn paint(&self, s: &str, style: Style) -> String {
        if self.color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_string()
        }
    }
}
