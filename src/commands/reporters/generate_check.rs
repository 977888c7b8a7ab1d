//! `generate --check` where CI users look (issue 24 §1). Under GitHub Actions: one `::error`
//! annotation per missing or stale generated file (a `::warning` per file edited by hand and
//! left alone, which does not fail the check), and a Markdown summary appended to
//! `$GITHUB_STEP_SUMMARY` — the verdict, a table of the files, a unified diff per stale file
//! in a collapsed block (cut past a size cap). Under GitLab CI the diffs fold into a collapsed
//! log section. The check's exit code is decided elsewhere and never changed here.

use std::fmt::Write as _;
use std::path::Path;

use crate::generate::plan::{Action, FileKind, FileStatus, PlannedFile};
use crate::generate::Plan;
use crate::ui::Ui;

use super::github::{self, cell, data, property, MAX_ANNOTATIONS};

/// Lines of one file's diff shown in the summary; the rest is cut (and said to be).
const DIFF_LINES: usize = 400;
/// Bytes of diffs in one summary: GitHub keeps up to 1 MiB per step's summary, and other
/// steps write there too.
const DIFF_BYTES: usize = 256 * 1024;

/// How a generated file stands against what generating would write now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    /// Not on disk yet.
    Missing,
    /// On disk, different from what generating writes (your edits merged in, where it can).
    Stale,
    /// Edited by hand so that generating leaves it alone: reported, does not fail the check.
    HandEdited,
}

impl CheckState {
    fn word(self) -> &'static str {
        match self {
            CheckState::Missing => "missing",
            CheckState::Stale => "stale",
            CheckState::HandEdited => "hand-edited",
        }
    }
}

/// One file the check reports: its path from the project root, its state, why.
pub struct CheckedFile<'a> {
    pub file: &'a PlannedFile,
    pub state: CheckState,
}

/// The files of `plan` that are not up to date, in the plan's order.
pub fn checked_files(plan: &Plan) -> Vec<CheckedFile<'_>> {
    plan.files
        .iter()
        .filter_map(|file| {
            let state = match (file.action, file.status) {
                (Action::Skip, _) => CheckState::HandEdited,
                (Action::Write, FileStatus::New) => CheckState::Missing,
                (Action::Write, _) => CheckState::Stale,
                (Action::None, _) => return None,
            };
            Some(CheckedFile { file, state })
        })
        .collect()
}

/// What `why` column says of a file.
fn note(f: &CheckedFile<'_>) -> &'static str {
    match f.state {
        CheckState::HandEdited => "left alone; `--force` overwrites it",
        _ if f.file.kind == FileKind::ProjectYaml => {
            "your file: entries to append, the rest kept byte for byte"
        }
        CheckState::Stale if f.file.status == FileStatus::EditedByHand => {
            "regenerating merges your edits"
        }
        CheckState::Missing => "not written yet",
        CheckState::Stale => "differs from what generating writes",
    }
}

/// The unified diff from what is on disk to what generating writes, `None` when there is
/// nothing to show (no change, or a person's edit regenerating matches).
pub fn unified_diff(f: &PlannedFile) -> Option<String> {
    if f.action == Action::None {
        return None;
    }
    let old = f.existing.as_deref().unwrap_or("");
    if f.existing.is_some() && old == f.content {
        return None;
    }
    let from = if f.existing.is_some() {
        format!("a/{}", f.path)
    } else {
        "/dev/null".to_string()
    };
    Some(
        similar::TextDiff::from_lines(old, &f.content)
            .unified_diff()
            .context_radius(3)
            .header(&from, &format!("b/{}", f.path))
            .to_string(),
    )
}

/// Publish the check's result to the CI system running us; nothing outside CI. `root` is
/// the project root the plan's paths are relative to; `print_diffs` prints the diffs (what
/// `--diff` shows), folded into a section under GitLab.
pub fn publish(ui: &Ui, plan: &Plan, root: &Path, print_diffs: &dyn Fn()) {
    let files = checked_files(plan);
    if github::active() {
        let workspace = std::env::var_os("GITHUB_WORKSPACE").map(std::path::PathBuf::from);
        let in_repo = |rel: &str| repo_path(root, workspace.as_deref(), rel);
        annotate(ui, &files, &in_repo);
        github::append_summary(ui, &summary(&files, plan.files.len()));
    }
    if folds_diffs(plan, ui) {
        use super::gitlab::{end, start, Stream};
        let name = "datachonk_generate_diff";
        start(
            ui,
            Stream::Stdout,
            name,
            "what regenerating would change",
            true,
        );
        print_diffs();
        end(ui, Stream::Stdout, name);
    }
}

/// Whether the diffs go into a GitLab log section (on stdout, where `--diff` prints them; not
/// under `--json`): under GitLab CI, when something is missing or stale.
pub fn folds_diffs(plan: &Plan, ui: &Ui) -> bool {
    super::gitlab::active() && !ui.is_json() && plan.files.iter().any(|f| f.action == Action::Write)
}

/// A plan path (relative to the project root) as GitHub's annotations want it: relative to
/// the repository checkout (`GITHUB_WORKSPACE`), which differs when the dbt project is in a
/// subfolder.
fn repo_path(root: &Path, workspace: Option<&Path>, rel: &str) -> String {
    let prefix = workspace.and_then(|ws| {
        let ws = ws.canonicalize().ok()?;
        let root = root.canonicalize().ok()?;
        root.strip_prefix(&ws).ok().map(Path::to_path_buf)
    });
    match prefix {
        Some(p) if !p.as_os_str().is_empty() => {
            format!("{}/{rel}", p.to_string_lossy().replace('\\', "/"))
        }
        _ => rel.to_string(),
    }
}

fn annotate(ui: &Ui, files: &[CheckedFile<'_>], in_repo: &dyn Fn(&str) -> String) {
    let (mut errors, mut warnings) = (0, 0);
    for f in files {
        let (kind, count, title) = match f.state {
            CheckState::Missing => ("error", &mut errors, "generated file missing"),
            CheckState::Stale => ("error", &mut errors, "generated file stale"),
            CheckState::HandEdited => ("warning", &mut warnings, "generated file edited by hand"),
        };
        *count += 1;
        if *count > MAX_ANNOTATIONS {
            continue;
        }
        let message = match f.state {
            CheckState::HandEdited => format!(
                "{} was edited by hand, so `datachonk generate` leaves it alone (`--force` overwrites it)",
                f.file.path
            ),
            state => format!(
                "{} is {} ({}): run `datachonk generate` and commit the result",
                f.file.path,
                state.word(),
                note(f).replace('`', "")
            ),
        };
        ui.ci_line(format!(
            "::{kind} file={},title={}::{}",
            property(&in_repo(&f.file.path)),
            property(title),
            data(&message)
        ));
    }
    let hidden = errors.saturating_sub(MAX_ANNOTATIONS) + warnings.saturating_sub(MAX_ANNOTATIONS);
    if hidden > 0 {
        ui.ci_line(format!(
            "::notice title={}::{}",
            property("datachonk generate --check"),
            data(&format!(
                "{hidden} more file(s) not annotated: the step summary lists them all"
            ))
        ));
    }
}

/// The step summary: verdict, the files' table, a collapsed diff per stale file.
pub fn summary(files: &[CheckedFile<'_>], planned: usize) -> String {
    let to_write = files
        .iter()
        .filter(|f| f.state != CheckState::HandEdited)
        .count();
    let mut md = String::new();
    if to_write > 0 {
        let _ = writeln!(
            md,
            "### datachonk generate --check: STALE\n\n{to_write} generated file(s) are missing or stale: run `datachonk generate` and commit the result.\n"
        );
    } else {
        let _ = writeln!(
            md,
            "### datachonk generate --check: UP TO DATE\n\n{planned} generated file(s) checked: none missing or stale.\n"
        );
    }
    if files.is_empty() {
        return md;
    }
    md.push_str("| file | state | why |\n| --- | --- | --- |\n");
    for f in files {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} |",
            cell(&f.file.path),
            f.state.word(),
            note(f)
        );
    }
    md.push('\n');
    let mut budget = DIFF_BYTES;
    let mut left_out = 0;
    for f in files.iter().filter(|f| f.state == CheckState::Stale) {
        let Some(diff) = unified_diff(f.file) else {
            continue;
        };
        if budget == 0 {
            left_out += 1;
            continue;
        }
        let block = diff_block(&f.file.path, &diff, &mut budget);
        md.push_str(&block);
    }
    if left_out > 0 {
        let _ = writeln!(
            md,
            "The diffs of {left_out} more file(s) are left out (the summary's size limit): `datachonk generate --check --diff` shows them all.\n"
        );
    }
    md
}

/// One file's diff, collapsed, in a fence no line of the diff can close; cut at
/// `DIFF_LINES` lines or the bytes left in `budget`, saying so.
fn diff_block(path: &str, diff: &str, budget: &mut usize) -> String {
    let lines: Vec<&str> = diff.lines().collect();
    let mut shown = String::new();
    let mut kept = 0;
    let mut spent = false;
    for line in &lines {
        let line = crate::terminal_text::escape(line);
        if kept == DIFF_LINES {
            break;
        }
        if shown.len() + line.len() + 1 > *budget {
            // What is left is too little for the next line: the next files get no block.
            spent = true;
            break;
        }
        shown.push_str(&line);
        shown.push('\n');
        kept += 1;
    }
    *budget = if spent {
        0
    } else {
        budget.saturating_sub(shown.len())
    };
    let fence = "`".repeat(longest_backtick_run(&shown).max(2) + 1);
    let mut md = format!(
        "<details><summary>Diff of <code>{}</code></summary>\n\n{fence}diff\n{shown}{fence}\n",
        cell(path)
    );
    if kept < lines.len() {
        let _ = writeln!(
            md,
            "\n{} more line(s) cut: `datachonk generate --check --diff` shows the whole diff.",
            lines.len() - kept
        );
    }
    md.push_str("\n</details>\n\n");
    md
}

fn longest_backtick_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_cannot_close_its_fence_and_a_long_one_is_cut_saying_so() {
        let diff = "--- a/x.md\n+++ b/x.md\n@@ -1 +1 @@\n- ```\n+ ````sql\n";
        let mut budget = DIFF_BYTES;
        let block = diff_block("x.md", diff, &mut budget);
        assert!(block.contains("\n`````diff\n"), "{block}");
        assert!(block.ends_with("`````\n\n</details>\n\n"), "{block}");
        assert_eq!(budget, DIFF_BYTES - diff.len());

        let long: String = (0..DIFF_LINES + 7)
            .map(|i| format!("+line {i}\n"))
            .collect();
        let block = diff_block("y.sql", &long, &mut budget);
        assert!(block.contains("+line 399\n```\n"), "{block}");
        assert!(!block.contains("+line 400\n"), "{block}");
        assert!(block.contains("\n7 more line(s) cut: "), "{block}");

        let mut small = 20;
        let block = diff_block("z.sql", &long, &mut small);
        assert!(block.contains("+line 0\n+line 1\n```"), "{block}");
        assert_eq!(small, 0);
    }

    #[test]
    fn paths_are_made_relative_to_the_checkout() {
        let repo = tempfile::tempdir().unwrap();
        let project = repo.path().join("analytics");
        std::fs::create_dir(&project).unwrap();
        assert_eq!(
            repo_path(&project, Some(repo.path()), "models/a.sql"),
            "analytics/models/a.sql"
        );
        assert_eq!(
            repo_path(repo.path(), Some(repo.path()), "models/a.sql"),
            "models/a.sql"
        );
        assert_eq!(repo_path(&project, None, "models/a.sql"), "models/a.sql");
    }
}
