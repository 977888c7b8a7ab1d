//! `--version` names the commit and date the binary was built from:
//! `datachonk 0.1.0 (abc1234 2026-12-06)`; plain `datachonk 0.1.0` outside a git checkout
//! (crates.io, a source archive) or without git.
//!
//! Reruns only when the checked-out commit changes (HEAD and the branch's ref), so an
//! ordinary edit-build cycle never runs git. The working tree's state ("dirty") is left out
//! on purpose: knowing it would mean rerunning on every file change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo");
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");
    let described = describe(Path::new(&manifest_dir));
    let line = match &described {
        Some(commit) => format!("{version} ({} {})", commit.short_sha, commit.date),
        None => version,
    };
    println!("cargo:rustc-env=DATACHONK_VERSION={line}");
    // The man pages' date; empty when unknown.
    let date = described.as_ref().map_or("", |c| c.date.as_str());
    println!("cargo:rustc-env=DATACHONK_BUILD_DATE={date}");
    for path in described.iter().flat_map(|c| &c.watch) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// The commit a checkout is at, and the files whose change means a new commit.
#[derive(Debug)]
pub struct BuildCommit {
    pub short_sha: String,
    /// The commit's date (committer, YYYY-MM-DD).
    pub date: String,
    pub watch: Vec<PathBuf>,
}

/// The commit `dir` is checked out at, when `dir` is the top of a git work tree (not a crate
/// unpacked somewhere inside another repository) and git runs.
pub fn describe(dir: &Path) -> Option<BuildCommit> {
    let paths = git(
        dir,
        &[
            "rev-parse",
            "--show-toplevel",
            "--absolute-git-dir",
            "--git-common-dir",
            "--symbolic-full-name",
            "HEAD",
        ],
    )?;
    let mut lines = paths.lines();
    let (top, git_dir, common_dir, head_ref) =
        (lines.next()?, lines.next()?, lines.next()?, lines.next()?);
    if std::fs::canonicalize(top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    let shown = git(
        dir,
        &["show", "-s", "--abbrev=7", "--format=%h %cs", "HEAD"],
    )?;
    let (short_sha, date) = shown.trim().split_once(' ')?;

    let git_dir = PathBuf::from(git_dir);
    let common_dir = dir.join(common_dir); // relative to `dir` when not absolute
    let mut watch = vec![git_dir.join("HEAD")];
    if head_ref.starts_with("refs/") {
        let loose = common_dir.join(head_ref);
        if loose.is_file() {
            watch.push(loose);
        } else {
            // A packed ref becomes a loose file at the next commit: watch both places.
            watch.extend(loose.parent().map(Path::to_path_buf));
            watch.push(common_dir.join("packed-refs"));
        }
    }
    watch.retain(|p| p.exists()); // a missing path would make cargo rerun on every build
    Some(BuildCommit {
        short_sha: short_sha.to_string(),
        date: date.to_string(),
        watch,
    })
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}
