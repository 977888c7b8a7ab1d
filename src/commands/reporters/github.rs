//! The verdict where GitHub Actions users look (issue 24 §1), under `GITHUB_ACTIONS=true`:
//! an `::error` annotation per failing node (`::warning` for tests that warn), and a Markdown
//! summary — verdict, run link, node counts, failing and skipped nodes, the retry command —
//! appended to `$GITHUB_STEP_SUMMARY`. Fed the same run reports as JUnit.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::cloud::insight::nodes::NodeOutcome;
use crate::cloud::RunStatus;
use crate::ui::Ui;

use super::junit::RunReport;
use super::verdict_lines::retry_command;

/// Most annotations GitHub shows per step (it keeps 10 errors and 10 warnings); more are
/// counted in the summary instead.
pub(super) const MAX_ANNOTATIONS: usize = 10;

/// Whether we run in a GitHub Actions job.
pub fn active() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Annotate and summarise `runs` when running under GitHub Actions; nothing otherwise.
pub fn publish(ui: &Ui, runs: &[RunReport<'_>], verdict: &str) {
    if !active() {
        return;
    }
    annotate(ui, runs);
    append_summary(ui, &summary(runs, verdict));
}

/// Append `md` to the step summary (`$GITHUB_STEP_SUMMARY`), when the job has one; a failure
/// is a warning, never the verdict.
pub(super) fn append_summary(ui: &Ui, md: &str) {
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else {
        return;
    };
    if path.is_empty() {
        return;
    }
    let appended = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(md.as_bytes()));
    if let Err(e) = appended {
        ui.warn(format!("cannot append the step summary to {path}: {e}"));
    }
}

fn nodes<'a>(report: &'a RunReport<'_>) -> impl Iterator<Item = &'a NodeOutcome> {
    report
        .finished
        .and_then(|f| f.insight.as_ref())
        .into_iter()
        // Each node once, with its last result (a test run by `dbt test` and `dbt build`).
        .flat_map(|i| i.latest_nodes())
}

fn annotate(ui: &Ui, runs: &[RunReport<'_>]) {
    let mut errors = 0;
    let mut warnings = 0;
    for report in runs {
        let run = report.run;
        for node in nodes(report) {
            let (kind, count) = if node.failed() {
                ("error", &mut errors)
            } else if node.status == "warn" {
                ("warning", &mut warnings)
            } else {
                continue;
            };
            *count += 1;
            if *count > MAX_ANNOTATIONS {
                continue;
            }
            let title = format!("dbt {} {} ({})", node.resource_type, node.name, node.status);
            let message = node.message.as_deref().unwrap_or(&node.status);
            ui.ci_line(format!(
                "::{kind} title={}::{} (run {})",
                property(&title),
                data(message),
                run.id
            ));
        }
        // A failed run whose nodes are unknown still gets one annotation.
        let status = run.run_status();
        if status != RunStatus::Success && nodes(report).next().is_none() {
            let why = report.unfinished.unwrap_or(status.label());
            ui.ci_line(format!(
                "::error title={}::{}",
                property(&format!("dbt Cloud run {}", run.id)),
                data(&format!(
                    "run {} ended {why}: {}",
                    run.id,
                    run.href.as_deref().unwrap_or("")
                ))
            ));
        }
    }
}

/// The step summary: one section per run.
pub fn summary(runs: &[RunReport<'_>], verdict: &str) -> String {
    let mut md = format!("### datachonk: {}\n\n", verdict.to_ascii_uppercase());
    for report in runs {
        let run = report.run;
        let status = report
            .unfinished
            .map(str::to_string)
            .unwrap_or_else(|| run.run_status().label().to_string());
        let label = report.label.map(|l| format!("{l}: ")).unwrap_or_default();
        match &run.href {
            Some(href) => {
                let _ = writeln!(
                    md,
                    "**{}[run {}]({href})**: {}",
                    cell(&label),
                    run.id,
                    status
                );
            }
            None => {
                let _ = writeln!(md, "**{}run {}**: {}", cell(&label), run.id, status);
            }
        }
        if let Some(line) = report
            .finished
            .and_then(|f| f.insight.as_ref())
            .map(|i| i.summary_line.clone())
        {
            let _ = writeln!(md, "\n{}", cell(&line));
        }
        let failing: Vec<&NodeOutcome> = nodes(report).filter(|n| n.failed()).collect();
        if !failing.is_empty() {
            md.push_str("\n| failing node | status | message |\n| --- | --- | --- |\n");
            for n in &failing {
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} |",
                    cell(&n.unique_id),
                    cell(&n.status),
                    cell(n.message.as_deref().unwrap_or(""))
                );
            }
        }
        let skipped: Vec<&NodeOutcome> = nodes(report).filter(|n| n.status == "skipped").collect();
        if !skipped.is_empty() {
            let names: Vec<String> = skipped
                .iter()
                .map(|n| format!("`{}`", cell(&n.unique_id)))
                .collect();
            let _ = writeln!(md, "\nSkipped ({}): {}", skipped.len(), names.join(", "));
        }
        if run.run_status() == RunStatus::Error {
            let _ = writeln!(
                md,
                "\nRetry from the point of failure: `{}`",
                retry_command(run)
            );
        }
        md.push('\n');
    }
    md
}

/// A workflow command's message: control characters made visible as on a terminal (CR too),
/// then `%` and LF escaped as GitHub reads them.
pub(super) fn data(s: &str) -> String {
    crate::terminal_text::escape(s)
        .replace('%', "%25")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as `data`, and `:` and `,` escaped too.
pub(super) fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Text in a Markdown table cell or line: no table breaks, no HTML, one line.
pub(super) fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::terminal_text::escape(s).chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push('\''),
            '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_and_markdown_cannot_be_broken_out_of() {
        assert_eq!(data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(property("a: b, c"), "a%3A b%2C c");
        assert_eq!(data("\u{1b}]0;title\u{7}"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(cell("a | b\n<script>"), "a \\| b &lt;script&gt;");
    }
}
