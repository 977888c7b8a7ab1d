//! Installing, removing and describing datachonk's hook scripts: where git looks for hooks
//! (`core.hooksPath`, else the common git dir's `hooks/`, shared by every worktree), which
//! files are ours (a marker line), and keeping a hook someone else wrote (chained or backed
//! up, never lost).

use std::io::Write;
use std::path::{Path, PathBuf};

use git2::Repository;
use serde::Serialize;

use super::error::{open_repository, HookError};
use super::kind::HookKind;

/// The line that marks a hook script as datachonk's.
pub const MARKER: &str = "# datachonk-hook: installed by `datachonk hook install`";

/// What to do with a hook datachonk did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse (the default).
    Refuse,
    /// Keep it as `KIND.datachonk-chained` and run it first.
    Chain,
    /// Replace it, keeping `KIND.datachonk-backup`.
    Force,
}

/// Where hooks live for `repo`: `core.hooksPath` (relative to the worktree root, as git reads
/// it), else `hooks/` in the common git dir (worktrees share it).
/// The hooks folder of the repository around the current directory (`$GIT_DIR` first).
pub fn hooks_dir_here() -> Result<PathBuf, HookError> {
    hooks_dir(&open_repository()?)
}

/// Install one hook kind in the repository around the current directory (what `hook
/// install` and `datachonk init` do); returns the hook's path and what was done.
pub fn install_here(
    kind: HookKind,
    existing: Existing,
    target: Option<&str>,
) -> Result<(PathBuf, InstallOutcome), HookError> {
    let dir = hooks_dir_here()?;
    // The binary running now; the script falls back to PATH if it moves.
    let exe = std::env::current_exe()
        .ok()
        .map(|p| p.canonicalize().unwrap_or(p));
    let outcome = install(&dir, kind, exe.as_deref(), target, existing)?;
    Ok((hook_path(&dir, kind), outcome))
}

pub fn hooks_dir(repo: &Repository) -> Result<PathBuf, HookError> {
    let config = repo
        .config()
        .map_err(HookError::git("cannot read the git configuration"))?;
    if let Ok(path) = config.get_path("core.hooksPath") {
        if path.is_absolute() {
            return Ok(path);
        }
        let base = repo.workdir().unwrap_or_else(|| repo.path());
        return Ok(base.join(path));
    }
    Ok(repo.commondir().join("hooks"))
}

/// What is installed for one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookStatus {
    pub kind: &'static str,
    pub path: PathBuf,
    /// `ours`, `foreign` or `none`.
    pub installed: Installed,
    /// A hook someone else wrote that ours runs first.
    pub chained: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Installed {
    Ours,
    Foreign,
    None,
}

impl Installed {
    pub fn label(self) -> &'static str {
        match self {
            Installed::Ours => "ours",
            Installed::Foreign => "foreign",
            Installed::None => "none",
        }
    }
}

pub fn hook_path(dir: &Path, kind: HookKind) -> PathBuf {
    dir.join(kind.name())
}

pub fn chained_path(dir: &Path, kind: HookKind) -> PathBuf {
    dir.join(format!("{}.datachonk-chained", kind.name()))
}

pub fn backup_path(dir: &Path, kind: HookKind) -> PathBuf {
    dir.join(format!("{}.datachonk-backup", kind.name()))
}

pub fn status(dir: &Path, kind: HookKind) -> Result<HookStatus, HookError> {
    let path = hook_path(dir, kind);
    let installed = match read_optional(&path)? {
        None => Installed::None,
        Some(text) if is_ours(&text) => Installed::Ours,
        Some(_) => Installed::Foreign,
    };
    let chained = chained_path(dir, kind);
    let chained = (installed == Installed::Ours && chained.exists()).then_some(chained);
    Ok(HookStatus {
        kind: kind.name(),
        path,
        installed,
        chained,
    })
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallOutcome {
    Installed,
    /// Ours was there already, identical.
    Unchanged,
    /// Ours was there, rewritten (e.g. a new binary path).
    Updated,
    /// The foreign hook was renamed to this path and runs first.
    Chained(PathBuf),
    /// The foreign hook was replaced; a copy is at this path.
    Replaced(PathBuf),
}

/// Install our `kind` hook in `dir`, calling `exe` (absolute path of the datachonk binary)
/// for the named `target` of datachonk.yaml, if any.
pub fn install(
    dir: &Path,
    kind: HookKind,
    exe: Option<&Path>,
    target: Option<&str>,
    existing: Existing,
) -> Result<InstallOutcome, HookError> {
    std::fs::create_dir_all(dir).map_err(HookError::io("create", dir))?;
    let path = hook_path(dir, kind);
    let chained = chained_path(dir, kind);
    let current = read_optional(&path)?;
    match current {
        None => {
            write_script(&path, &script(kind, exe, chained.exists(), target))?;
            Ok(InstallOutcome::Installed)
        }
        Some(text) if is_ours(&text) => {
            let wanted = script(kind, exe, chained.exists(), target);
            if text == wanted && is_executable(&path) {
                return Ok(InstallOutcome::Unchanged);
            }
            write_script(&path, &wanted)?;
            Ok(InstallOutcome::Updated)
        }
        Some(_) => match existing {
            Existing::Refuse => Err(HookError::Foreign {
                path,
                kind: kind.name(),
            }),
            Existing::Chain => {
                if chained.exists() {
                    return Err(HookError::InTheWay { path: chained });
                }
                std::fs::rename(&path, &chained).map_err(HookError::io("rename", &path))?;
                if let Err(e) = write_script(&path, &script(kind, exe, true, target)) {
                    // Put the person's hook back where it was.
                    let _ = std::fs::rename(&chained, &path);
                    return Err(e);
                }
                Ok(InstallOutcome::Chained(chained))
            }
            Existing::Force => {
                let backup = backup_path(dir, kind);
                if backup.exists() {
                    return Err(HookError::InTheWay { path: backup });
                }
                std::fs::copy(&path, &backup).map_err(HookError::io("copy", &path))?;
                write_script(&path, &script(kind, exe, chained.exists(), target))?;
                Ok(InstallOutcome::Replaced(backup))
            }
        },
    }
}

/// What `uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UninstallOutcome {
    Removed,
    /// Removed ours and put the chained hook back in its place.
    Restored(PathBuf),
    NotInstalled,
    /// A hook that is not ours: left alone.
    LeftForeign(PathBuf),
}

pub fn uninstall(dir: &Path, kind: HookKind) -> Result<UninstallOutcome, HookError> {
    let path = hook_path(dir, kind);
    match read_optional(&path)? {
        None => Ok(UninstallOutcome::NotInstalled),
        Some(text) if !is_ours(&text) => Ok(UninstallOutcome::LeftForeign(path)),
        Some(_) => {
            let chained = chained_path(dir, kind);
            if chained.exists() {
                // One rename replaces ours with the original: never a moment without either.
                std::fs::rename(&chained, &path).map_err(HookError::io("restore", &chained))?;
                Ok(UninstallOutcome::Restored(path))
            } else {
                std::fs::remove_file(&path).map_err(HookError::io("remove", &path))?;
                Ok(UninstallOutcome::Removed)
            }
        }
    }
}

fn is_ours(text: &str) -> bool {
    text.lines().any(|l| l.trim_end() == MARKER)
}

fn read_optional(path: &Path) -> Result<Option<String>, HookError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HookError::Io {
            what: "read",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// The hook script: POSIX sh, no bashisms (git runs hooks with `sh` on some platforms).
pub fn script(kind: HookKind, exe: Option<&Path>, chained: bool, target: Option<&str>) -> String {
    let name = kind.name();
    let mut s = String::new();
    s.push_str("#!/bin/sh\n");
    s.push_str(MARKER);
    s.push('\n');
    s.push_str(&format!(
        "# Runs `datachonk hook run {name}`. Skip once: DATACHONK_SKIP_HOOK=1 (or git's --no-verify).\n"
    ));
    s.push_str("# Remove with `datachonk hook uninstall`.\n");
    match exe {
        Some(exe) => {
            s.push_str("# The datachonk that installed this hook, else the one on PATH.\n");
            s.push_str(&format!("DATACHONK={}\n", sh_quote(&exe.to_string_lossy())));
            s.push_str("[ -x \"$DATACHONK\" ] || DATACHONK=datachonk\n");
        }
        None => {
            s.push_str("# The datachonk on PATH.\n");
            s.push_str("DATACHONK=datachonk\n");
        }
    }
    if chained {
        s.push_str(&format!(
            "# The hook that was here before, kept by `--chain`: it runs first and its failure stops here.\n\"$(dirname \"$0\")/{name}.datachonk-chained\" \"$@\" || exit $?\n"
        ));
    }
    // stdin (pre-push's ref list) belongs to the chained hook; ours never reads or prompts.
    // The target is recorded here, so the hook validates with the job it was installed for.
    let target = target
        .map(|t| format!(" --target {}", sh_quote(t)))
        .unwrap_or_default();
    s.push_str(&format!(
        "exec \"$DATACHONK\" hook run{target} {name} \"$@\" </dev/null\n"
    ));
    s
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Write atomically (temporary file beside it, then rename) with the executable bit set
/// before the rename, so git never sees a half-written or non-executable hook.
fn write_script(path: &Path, content: &str) -> Result<(), HookError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.datachonk-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(HookError::io("create", &tmp))?;
        file.write_all(content.as_bytes())
            .map_err(HookError::io("write", &tmp))?;
        drop(file);
        set_executable(&tmp)?;
        std::fs::rename(&tmp, path).map_err(HookError::io("write", path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), HookError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(HookError::io("make executable", path))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> Result<(), HookError> {
    Ok(())
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_quotes_the_binary_path_and_chains_first() {
        let s = script(
            HookKind::PrePush,
            Some(Path::new("/opt/it's here/datachonk")),
            true,
            None,
        );
        assert!(
            s.contains("DATACHONK='/opt/it'\\''s here/datachonk'"),
            "{s}"
        );
        let chain = s.find("pre-push.datachonk-chained").unwrap();
        let ours = s.find("exec \"$DATACHONK\" hook run pre-push").unwrap();
        assert!(chain < ours, "{s}");
        assert!(is_ours(&s));
        assert!(!is_ours("#!/bin/sh\nexit 0\n"));
        let s = script(HookKind::PreMergeCommit, None, false, Some("prod"));
        assert!(
            s.contains("exec \"$DATACHONK\" hook run --target 'prod' pre-merge-commit \"$@\""),
            "{s}"
        );
    }
}
