//! `datachonk man`: manual pages (roff) from the same clap definitions as `--help`, so they
//! cannot drift from it. One page per command (`datachonk-cloud-runs-list.1`), as git and
//! cargo ship theirs.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;
use serde_json::json;

use crate::cli::{Cli, ManArgs};
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

pub fn run(args: &ManArgs, ui: &Ui) -> CmdResult {
    let root = built_root();
    if let Some(dir) = &args.out_dir {
        let written = write_all(&root, dir)?;
        if ui.is_json() {
            let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
            ui.json(&json!({"dir": dir.display().to_string(), "pages": files}));
        } else {
            ui.status(format!(
                "wrote {} manual pages to {}",
                written.len(),
                dir.display()
            ));
        }
        return Ok(Exit::Success);
    }
    let mut cmd = &root;
    for name in &args.command {
        cmd = cmd.find_subcommand(name).ok_or_else(|| {
            CliError::usage(format!(
                "no command `{}` (see `datachonk --help`)",
                [cmd.get_name(), name].join(" ")
            ))
        })?;
    }
    super::edge::wrote_stdout(ui.raw(&render(cmd)), Exit::Usage)
}

/// The command tree with display names (`datachonk-cloud-runs`) set, as the pages name them.
fn built_root() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every visible command's page into `dir`, each written atomically (temp file, rename).
fn write_all(root: &clap::Command, dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let io_error = |what: &Path, e: std::io::Error| {
        CliError::usage(format!("cannot write {}: {e}", what.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let mut written = Vec::new();
    let mut pending = vec![root];
    while let Some(cmd) = pending.pop() {
        pending.extend(cmd.get_subcommands().filter(|c| !c.is_hide_set()));
        let path = dir.join(format!("{}.1", page_name(cmd)));
        let tmp = dir.join(format!(".{}.1.tmp", page_name(cmd)));
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&render(cmd)).and_then(|_| f.sync_all()))
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| io_error(&path, e))?;
        written.push(path);
    }
    written.sort();
    Ok(written)
}

fn page_name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// clap_mangen's sections, with the text after the options (`after_long_help`: Examples,
/// output formats) as sections of their own whose indented lines keep their line breaks
/// (clap_mangen would fill them into one paragraph).
pub fn render(cmd: &clap::Command) -> Vec<u8> {
    let date = env!("DATACHONK_BUILD_DATE");
    // clap_mangen's own page without the after-help (it would fill it into one paragraph),
    // ours inserted before the VERSION section.
    let bare = cmd
        .clone()
        .after_help(None::<&str>)
        .after_long_help(None::<&str>);
    let mut page = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = Man::new(bare).date(date).render(&mut page);
    let mut out = page.clone();
    if let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        let mut extra = Vec::new();
        let _ = after_help_sections(&after.to_string()).to_writer(&mut extra);
        let at = find(&page, b"\n.SH VERSION").map_or(page.len(), |i| i + 1);
        out = [&page[..at], strip_preamble(&extra), &page[at..]].concat();
    }
    out
}

/// "Heading:" lines start a section; indented lines are literal (no fill), others are text.
fn after_help_sections(text: &str) -> Roff {
    let mut roff = Roff::default();
    let mut literal = false;
    for line in text.lines() {
        let indented = line.starts_with(' ');
        if literal && !indented {
            roff.control("fi", []);
            literal = false;
        }
        if line.trim().is_empty() {
            continue;
        }
        if !indented && line.ends_with(':') {
            // "JSON output (--json):" → "JSON OUTPUT (--json)": flags keep their case.
            let heading = line.trim_end_matches(':');
            let (words, rest) = heading.split_at(heading.find(" (").unwrap_or(heading.len()));
            roff.control("SH", [format!("{}{rest}", words.to_uppercase()).as_str()]);
        } else if indented {
            if !literal {
                roff.control("nf", []);
                literal = true;
            }
            roff.text([roman(line)]);
        } else {
            roff.text([roman(line)]);
        }
    }
    if literal {
        roff.control("fi", []);
    }
    roff
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// roff output starts with a two-line quote-character preamble; the page already has one.
fn strip_preamble(roff: &[u8]) -> &[u8] {
    let mut rest = roff;
    while rest.starts_with(b".ie ") || rest.starts_with(b".el ") {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        rest = &rest[end..];
    }
    rest
}
