//! The live status line of a wait on a terminal: a spinner, each awaited run's status, its
//! running step with that step's time, and the run's time in all, redrawn in place (never
//! appended) by indicatif's own ticker so it moves between polls. Lines printed while it is
//! shown go through [`LiveLine::print`], which lifts the line, prints, and draws it again, so
//! the two never tear. Text from dbt Cloud (step and job names) is escaped like every line.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::cloud::types::Timestamp;
use crate::cloud::{Run, RunStatus, RunStep};
use crate::deploy::Event;
use crate::terminal_text::escape;

/// How often the spinner turns and the times are redrawn.
const TICK: Duration = Duration::from_millis(120);

/// The live line, drawn on stderr while something is awaited; nothing otherwise.
pub struct LiveLine {
    board: Arc<Mutex<Board>>,
    bar: Mutex<Option<ProgressBar>>,
}

/// What the line shows: one item per awaited run (or upstream job), in the order first seen.
#[derive(Debug, Default)]
struct Board {
    items: Vec<Item>,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Key {
    Run(i64),
    /// `--after-job`: the upstream job, before and while its run is awaited.
    Upstream(i64),
}

#[derive(Debug)]
struct Item {
    key: Key,
    /// `run 7 (dev, job 1)`, escaped.
    head: String,
    /// `Queued`, `Starting`, `Running`, or nothing yet.
    status: Option<&'static str>,
    /// The running step: index, escaped name, since when.
    step: Option<(i64, String, Instant)>,
    /// The run's total counts from here (its creation by dbt Cloud's clock when known).
    since: Instant,
}

impl Default for LiveLine {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveLine {
    pub fn new() -> Self {
        LiveLine {
            board: Arc::default(),
            bar: Mutex::new(None),
        }
    }

    /// Run `print` with the line lifted off the screen, then draw it again.
    pub fn print<R>(&self, print: impl FnOnce() -> R) -> R {
        match self.bar().as_ref() {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Take in `event` before its lines are printed, so the line drawn again under them is
    /// already up to date; an ending takes the line (or its run) off the screen first, so a
    /// verdict is never printed under a stale spinner.
    pub fn update(&self, event: &Event<'_>) {
        match *event {
            Event::Status { run, label } => self.status(run, label),
            Event::Step { run_id, step } => self.step(run_id, step),
            Event::UpstreamWaiting { job_id, name, .. } => self.upstream_waiting(job_id, name),
            Event::UpstreamStatus { job_id, run } => self.upstream_status(job_id, run),
            Event::GaveUp { run, .. } => self.forget(Key::Run(run.id)),
            Event::Left { .. } => self.clear(),
            _ if event.ends_a_wait() => self.clear(),
            _ => {}
        }
    }

    /// A run's status: shown while it is going, dropped once it ended.
    pub fn status(&self, run: &Run, label: Option<&str>) {
        let status = run.run_status();
        if status.is_terminal() {
            return self.forget(Key::Run(run.id));
        }
        let head = match label {
            Some(l) => format!("run {} ({})", run.id, one_line(l)),
            None => format!("run {}", run.id),
        };
        let since = age_start(run.created_at);
        self.upsert(Key::Run(run.id), head, since, |item| {
            item.status = Some(status.label());
        });
    }

    /// A step of a followed run: its name and time while it runs.
    pub fn step(&self, run_id: i64, step: &RunStep) {
        let index = step.index.unwrap_or(0);
        let running = step.run_status() == RunStatus::Running;
        let mut board = self.lock();
        let Some(item) = board.items.iter_mut().find(|i| i.key == Key::Run(run_id)) else {
            return;
        };
        if running {
            let name = one_line(step.name.as_deref().unwrap_or("step"));
            item.step = Some((
                index,
                name,
                age_start(step.started_at).unwrap_or_else(Instant::now),
            ));
        } else if item.step.as_ref().is_some_and(|(i, ..)| *i == index) {
            item.step = None;
        }
    }

    /// `--after-job`: no run of the upstream job yet; waiting for the next one.
    pub fn upstream_waiting(&self, job_id: i64, name: &str) {
        let head = format!("waiting for a run of job {job_id} ({})", one_line(name));
        self.upsert(Key::Upstream(job_id), head, None, |_| {});
    }

    /// `--after-job`: the upstream run's status (the line drops it once it ended).
    pub fn upstream_status(&self, job_id: i64, run: &Run) {
        let status = run.run_status();
        if status.is_terminal() {
            return self.forget(Key::Upstream(job_id));
        }
        let head = format!("upstream run {} of job {job_id}", run.id);
        let since = age_start(run.created_at);
        self.upsert(Key::Upstream(job_id), head, since, |item| {
            item.status = Some(status.label());
        });
    }

    /// A run no longer awaited (it passed its own deadline while others go on).
    pub fn forget_run(&self, run_id: i64) {
        self.forget(Key::Run(run_id));
    }

    /// Take the line off the screen for good (before a verdict, on an error).
    pub fn clear(&self) {
        self.lock().items.clear();
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
    }

    fn upsert(
        &self,
        key: Key,
        head: String,
        since: Option<Instant>,
        update: impl FnOnce(&mut Item),
    ) {
        {
            let mut board = self.lock();
            let at = match board.items.iter().position(|i| i.key == key) {
                Some(at) => at,
                None => {
                    board.items.push(Item {
                        key,
                        head: String::new(),
                        status: None,
                        step: None,
                        since: since.unwrap_or_else(Instant::now),
                    });
                    board.items.len() - 1
                }
            };
            let item = &mut board.items[at];
            if item.head != head {
                // An upstream job's line turns into its run's: its time starts again there.
                item.head = head;
                if let Some(since) = since {
                    item.since = since;
                }
            }
            update(item);
        }
        self.show();
    }

    fn forget(&self, key: Key) {
        let empty = {
            let mut board = self.lock();
            board.items.retain(|i| i.key != key);
            board.items.is_empty()
        };
        if empty {
            self.clear();
        }
    }

    /// Start drawing (once): indicatif's ticker redraws the line from the board.
    fn show(&self) {
        let mut bar = self.bar();
        if bar.is_some() {
            return;
        }
        let board = Arc::clone(&self.board);
        let text = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let board = board.lock().unwrap_or_else(|e| e.into_inner());
            let _ = w.write_str(&board.line(Instant::now()));
        };
        let style = ProgressStyle::with_template("{spinner} {live}")
            .expect("a valid template")
            .with_key("live", text);
        let new =
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style);
        new.enable_steady_tick(TICK);
        *bar = Some(new);
    }

    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bar(&self) -> MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for LiveLine {
    /// A command ending early (an error) leaves no stale line behind its message.
    fn drop(&mut self) {
        self.clear();
    }
}

impl Board {
    /// `run 7: Running · step 4 'dbt build' 12s · 1m 05s in all`; several runs side by side.
    fn line(&self, now: Instant) -> String {
        let one = self.items.len() == 1;
        let parts: Vec<String> = self
            .items
            .iter()
            .map(|item| {
                let mut text = item.head.clone();
                if let Some(status) = item.status {
                    text.push_str(": ");
                    text.push_str(status);
                }
                if let Some((index, name, since)) = &item.step {
                    text.push_str(&format!(
                        " · step {index} '{name}' {}",
                        clock(now.saturating_duration_since(*since))
                    ));
                }
                let total = clock(now.saturating_duration_since(item.since));
                if one {
                    text.push_str(&format!(" · {total} in all"));
                } else {
                    text.push_str(&format!(" {total}"));
                }
                text
            })
            .collect();
        parts.join(" · ")
    }
}

/// Outside text as the live line shows it: escaped like every line, and on one line.
fn one_line(s: &str) -> String {
    escape(s).replace(['\n', '\t'], " ")
}

/// `7s`, `1m 05s`, `1h 02m`: whole seconds, so the line does not flicker.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// The moment `t` (dbt Cloud's clock) on our clock; `None` when unknown or in our future
/// (clocks differ: then the time counts from when we first saw it).
fn age_start(t: Option<Timestamp>) -> Option<Instant> {
    let age = (chrono::Utc::now() - t?.0.with_timezone(&chrono::Utc))
        .to_std()
        .ok()?;
    Instant::now().checked_sub(age)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: Key, head: &str, status: Option<&'static str>, since: Instant) -> Item {
        Item {
            key,
            head: head.into(),
            status,
            step: None,
            since,
        }
    }

    #[test]
    fn one_run_shows_its_step_and_its_time_in_all() {
        let now = Instant::now();
        let ago = |s| now - Duration::from_secs(s);
        let mut run = item(Key::Run(7), "run 7", Some("Running"), ago(65));
        run.step = Some((4, "Invoke dbt with `dbt build`".into(), ago(12)));
        let board = Board { items: vec![run] };
        assert_eq!(
            board.line(now),
            "run 7: Running · step 4 'Invoke dbt with `dbt build`' 12s · 1m 05s in all"
        );
    }

    #[test]
    fn several_runs_share_one_line() {
        let now = Instant::now();
        let ago = |s| now - Duration::from_secs(s);
        let board = Board {
            items: vec![
                item(
                    Key::Run(11),
                    "run 11 (dev, job 1)",
                    Some("Running"),
                    ago(40),
                ),
                item(
                    Key::Run(12),
                    "run 12 (prod, job 2)",
                    Some("Queued"),
                    ago(3700),
                ),
            ],
        };
        assert_eq!(
            board.line(now),
            "run 11 (dev, job 1): Running 40s · run 12 (prod, job 2): Queued 1h 01m"
        );
    }

    #[test]
    fn after_job_shows_the_upstream_job_then_its_run_until_it_ends() {
        let live = LiveLine::new();
        live.upstream_waiting(5, "Nightly\u{1b}[2J");
        let line = live.lock().line(Instant::now());
        assert_eq!(
            line,
            "waiting for a run of job 5 (Nightly\\u{1b}[2J) · 0s in all"
        );
        let run: Run = serde_json::from_value(serde_json::json!({"id": 9, "status": 3})).unwrap();
        live.upstream_status(5, &run);
        let line = live.lock().line(Instant::now());
        assert_eq!(line, "upstream run 9 of job 5: Running · 0s in all");
        let done: Run = serde_json::from_value(serde_json::json!({"id": 9, "status": 10})).unwrap();
        live.upstream_status(5, &done);
        assert!(live.lock().items.is_empty() && live.bar().is_none());
    }

    #[test]
    fn outside_text_is_escaped_and_ended_runs_leave_the_line() {
        let live = LiveLine::new();
        let run: Run = serde_json::from_value(serde_json::json!({"id": 7, "status": 3})).unwrap();
        live.status(&run, None);
        let step: RunStep = serde_json::from_value(
            serde_json::json!({"index": 4, "status": 3, "name": "dbt \u{1b}]0;owned\u{7}\nbuild"}),
        )
        .unwrap();
        live.step(7, &step);
        let line = live.lock().line(Instant::now());
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{7}'),
            "{line:?}"
        );
        assert!(line.starts_with("run 7: Running · step 4 'dbt "), "{line}");
        let done: Run = serde_json::from_value(serde_json::json!({"id": 7, "status": 10})).unwrap();
        live.status(&done, None);
        assert!(live.lock().items.is_empty());
        assert!(live.bar().is_none());
    }
}
