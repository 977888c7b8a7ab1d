//! JUnit XML of finished runs, the report CI systems show in their test tabs (GitLab's
//! `artifacts:reports:junit`, the GitHub test-report actions, Jenkins): one `<testsuite>` per
//! dbt step of each run, one `<testcase>` per node (models, tests, seeds, snapshots, source
//! freshness), `<failure>` with dbt's message for errors and failed tests, `<skipped>` for
//! skipped nodes, times from run_results. A run whose nodes could not be read is one test case
//! carrying its verdict, so a red run is never an empty, green report.

use std::fmt::Write as _;
use std::path::Path;

use crate::cloud::insight::nodes::NodeOutcome;
use crate::cloud::insight::StepNodes;
use crate::cloud::verdict::Finished;
use crate::cloud::{Run, RunStatus};
use crate::deploy::{Ending, ManyVerdict, UnitEnd, Verdict};
use crate::error::{CliError, Exit};

/// One run as the report shows it: how it ended, with its nodes when it finished.
pub struct RunReport<'a> {
    pub run: &'a Run,
    pub finished: Option<&'a Finished>,
    /// Why there is no verdict when there is none: `timed out`, `interrupted`, `not awaited`.
    pub unfinished: Option<&'static str>,
    /// `dev, job 1` when several jobs ran.
    pub label: Option<&'a str>,
}

impl<'a> RunReport<'a> {
    pub fn of(ending: &'a Ending, label: Option<&'a str>) -> Self {
        let (finished, unfinished) = match ending {
            Ending::Finished { finished, .. } => (Some(&**finished), None),
            Ending::TimedOut { .. } => (None, Some("timed out")),
            Ending::Interrupted { .. } => (None, Some("interrupted")),
            Ending::Triggered(_) => (None, Some("not awaited")),
        };
        RunReport {
            run: ending.run(),
            finished,
            unfinished,
            label,
        }
    }
}

/// The report of one job's verdict: its last attempt (the one that decided; earlier attempts
/// are named in its properties).
pub fn of_verdict(verdict: &Verdict) -> Vec<RunReport<'_>> {
    vec![RunReport::of(&verdict.last().ending, None)]
}

/// The report of several jobs: each unit's last attempt; units not triggered have no run.
pub fn of_many<'a>(verdict: &'a ManyVerdict<'_>) -> Vec<RunReport<'a>> {
    verdict
        .units
        .iter()
        .filter_map(|(unit, end)| {
            let ending = match end {
                UnitEnd::Ended(ending) => &**ending,
                UnitEnd::Followed(v) => &v.last().ending,
                UnitEnd::NotTriggered => return None,
            };
            Some(RunReport::of(ending, Some(unit.label.as_str())))
        })
        .collect()
}

/// Write the report to `path` whole or not at all.
pub fn write(path: &Path, runs: &[RunReport<'_>]) -> Result<(), CliError> {
    crate::fsx::atomic::write_atomic(path, document(runs).as_bytes()).map_err(|e| {
        CliError::new(
            Exit::Usage,
            format!(
                "--junit {}: cannot write the report: {}",
                path.display(),
                e.source
            ),
        )
    })
}

/// The whole document for `runs`, in the order given.
pub fn document(runs: &[RunReport<'_>]) -> String {
    let suites: Vec<Suite> = runs.iter().flat_map(suites_of).collect();
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    let time: f64 = suites.iter().map(|s| s.time).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"datachonk\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time:.3}\">",
        total(|s| s.cases.len()),
        total(Suite::failures),
        total(Suite::skipped),
    );
    for (id, suite) in suites.iter().enumerate() {
        suite.write(&mut xml, id);
    }
    xml.push_str("</testsuites>\n");
    xml
}

struct Suite {
    name: String,
    timestamp: Option<String>,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
    time: f64,
}

struct Case {
    name: String,
    classname: String,
    time: f64,
    outcome: CaseOutcome,
}

enum CaseOutcome {
    Passed,
    Failed { kind: String, message: String },
    Skipped { message: String },
}

impl Suite {
    fn failures(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.outcome, CaseOutcome::Failed { .. }))
            .count()
    }

    fn skipped(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.outcome, CaseOutcome::Skipped { .. }))
            .count()
    }

    fn write(&self, xml: &mut String, id: usize) {
        let _ = write!(
            xml,
            "  <testsuite name=\"{}\" id=\"{id}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\"",
            attr(&self.name),
            self.cases.len(),
            self.failures(),
            self.skipped(),
            self.time,
        );
        if let Some(t) = &self.timestamp {
            let _ = write!(xml, " timestamp=\"{}\"", attr(t));
        }
        xml.push_str(">\n");
        if !self.properties.is_empty() {
            xml.push_str("    <properties>\n");
            for (name, value) in &self.properties {
                let _ = writeln!(
                    xml,
                    "      <property name=\"{name}\" value=\"{}\"/>",
                    attr(value)
                );
            }
            xml.push_str("    </properties>\n");
        }
        for case in &self.cases {
            let _ = write!(
                xml,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                attr(&case.name),
                attr(&case.classname),
                case.time
            );
            match &case.outcome {
                CaseOutcome::Passed => xml.push_str("/>\n"),
                CaseOutcome::Failed { kind, message } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        attr(first_line(message)),
                        attr(kind),
                        text(message)
                    );
                }
                CaseOutcome::Skipped { message } => {
                    let _ = writeln!(
                        xml,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        attr(message)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
}

/// The suites of one run: one per dbt step with nodes, else one for the run's verdict.
fn suites_of(report: &RunReport<'_>) -> Vec<Suite> {
    let run = report.run;
    let job = run.job_definition_id.or(run.job_id);
    let prefix = match (report.label, job) {
        (Some(label), _) => format!("{label}: run {}", run.id),
        (None, Some(job)) => format!("job {job} run {}", run.id),
        (None, None) => format!("run {}", run.id),
    };
    let mut properties = vec![("run_id", run.id.to_string())];
    if let Some(job) = job {
        properties.push(("job_id", job.to_string()));
    }
    if let Some(href) = &run.href {
        properties.push(("url", href.clone()));
    }
    if let Some(sha) = &run.git_sha {
        properties.push(("git_sha", sha.clone()));
    }
    properties.push(("status", run.run_status().label().to_string()));
    let timestamp = run
        .started_at
        .as_ref()
        .or(run.created_at.as_ref())
        .map(|t| t.0.to_rfc3339());
    let steps: Vec<&StepNodes> = report
        .finished
        .and_then(|f| f.insight.as_ref())
        .map(|i| i.steps.iter().filter(|s| !s.nodes.is_empty()).collect())
        .unwrap_or_default();
    if steps.is_empty() {
        return vec![Suite {
            name: prefix,
            timestamp,
            properties,
            cases: vec![run_case(report)],
            time: 0.0,
        }];
    }
    steps
        .into_iter()
        .map(|step| {
            let cases: Vec<Case> = step.nodes.iter().map(node_case).collect();
            Suite {
                name: format!("{prefix} step {}: {}", step.index, step.name),
                timestamp: timestamp.clone(),
                properties: properties.clone(),
                time: cases.iter().map(|c| c.time).sum(),
                cases,
            }
        })
        .collect()
}

fn node_case(node: &NodeOutcome) -> Case {
    let outcome = if node.failed() {
        CaseOutcome::Failed {
            kind: node.status.clone(),
            message: node
                .message
                .clone()
                .unwrap_or_else(|| format!("{} {}", node.resource_type, node.status)),
        }
    } else if node.status == "skipped" {
        CaseOutcome::Skipped {
            message: node
                .message
                .clone()
                .unwrap_or_else(|| "skipped: something upstream failed".into()),
        }
    } else {
        CaseOutcome::Passed
    };
    Case {
        name: node.unique_id.clone(),
        classname: node.resource_type.clone(),
        time: node.execution_time.max(0.0),
        outcome,
    }
}

/// The run itself as a test case, when its nodes are unknown: passed only on Success.
fn run_case(report: &RunReport<'_>) -> Case {
    let run = report.run;
    let status = run.run_status();
    let why = report
        .finished
        .and_then(|f| {
            f.insight_error
                .clone()
                .or_else(|| f.insight.as_ref().and_then(|i| i.note.clone()))
        })
        .unwrap_or_else(|| "no node results".into());
    if let Some(unfinished) = report.unfinished {
        let outcome = if unfinished == "not awaited" {
            CaseOutcome::Skipped {
                message: format!("run {} was triggered and not awaited", run.id),
            }
        } else {
            CaseOutcome::Failed {
                kind: unfinished.replace(' ', "_"),
                message: format!(
                    "run {} {unfinished} while {}",
                    run.id,
                    status.label().to_ascii_lowercase()
                ),
            }
        };
        return Case {
            name: format!("run {}", run.id),
            classname: "dbt_cloud.run".into(),
            time: 0.0,
            outcome,
        };
    }
    let outcome = match status {
        RunStatus::Success => CaseOutcome::Passed,
        RunStatus::Cancelled => CaseOutcome::Failed {
            kind: "cancelled".into(),
            message: format!("run {} was cancelled ({why})", run.id),
        },
        _ => {
            let mut message = format!("run {} ended {} ({why})", run.id, status.label());
            if let Some(failure) = report.finished.and_then(|f| f.failure.as_ref()) {
                for node in &failure.nodes {
                    let _ = write!(
                        message,
                        "\n{} {}: {}",
                        node.unique_id,
                        node.status,
                        node.message.as_deref().unwrap_or("")
                    );
                }
                for line in &failure.log_tail {
                    message.push('\n');
                    message.push_str(line);
                }
            }
            CaseOutcome::Failed {
                kind: status.label().to_ascii_lowercase(),
                message,
            }
        }
    };
    Case {
        name: format!("run {}", run.id),
        classname: "dbt_cloud.run".into(),
        time: 0.0,
        outcome,
    }
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

/// Text XML 1.0 can hold: markup escaped, and characters it forbids (ESC from coloured dbt
/// logs, other controls but tab and newline) written as visible `\u{1b}` text, as on a terminal.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::terminal_text::escape(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// An attribute value: as `text`, quotes escaped and line breaks kept as character references.
fn attr(s: &str) -> String {
    text(s)
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_forbidden_characters_are_escaped() {
        assert_eq!(text("a<b & c>d"), "a&lt;b &amp; c&gt;d");
        assert_eq!(text("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(attr("say \"hi\"\nthere"), "say &quot;hi&quot;&#10;there");
    }
}
