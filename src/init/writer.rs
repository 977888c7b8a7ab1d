//! `datachonk.yaml` as the wizard writes it: a new file ordered and commented like
//! `datachonk.example.yaml`, or a minimal textual edit of an existing one.
//!
//! No serde YAML crate keeps comments on write-back, so an existing file is never re-serialized.
//! Only the values of the `deploy.dbt_cloud` keys the wizard asks about (`access_url`, the four
//! ids, `auto_trigger`, `wait`) are touched, and only when their value changes: a changed value
//! is replaced in place (the rest of its line, e.g. a trailing comment, is kept); a missing key
//! is inserted next to its neighbours in the example's order. Every other byte — other keys,
//! other sections, comments, blank lines, quoting — stays as it was. The result is parsed again
//! and must hold exactly the new values; when it does not (flow-style YAML, anchors, odd
//! layouts), nothing is written and the user gets the block to paste by hand.

use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, ConfigFile, FlagValues, LoadOptions, Source, Sourced};

/// What the wizard decided; everything it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSettings {
    pub access_url: String,
    pub account_id: i64,
    pub project_id: i64,
    pub environment_id: i64,
    pub job_id: i64,
    pub auto_trigger: bool,
    pub wait: bool,
    /// `git.protected_branches`: branches `datachonk push` refuses (empty: none).
    pub protected_branches: Vec<String>,
}

/// `git.protected_branches` when the file does not set it (as `config::GitConfig`).
pub fn default_protected_branches() -> Vec<String> {
    crate::config::GitConfig::default().protected_branches
}

/// The keys the wizard owns, in the example file's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    AccessUrl,
    AccountId,
    ProjectId,
    EnvironmentId,
    JobId,
    AutoTrigger,
    Wait,
}

impl Key {
    pub const ALL: [Key; 7] = [
        Key::AccessUrl,
        Key::AccountId,
        Key::ProjectId,
        Key::EnvironmentId,
        Key::JobId,
        Key::AutoTrigger,
        Key::Wait,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Key::AccessUrl => "access_url",
            Key::AccountId => "account_id",
            Key::ProjectId => "project_id",
            Key::EnvironmentId => "environment_id",
            Key::JobId => "job_id",
            Key::AutoTrigger => "auto_trigger",
            Key::Wait => "wait",
        }
    }

    /// The value as YAML text.
    fn render(self, s: &InitSettings) -> String {
        match self {
            Key::AccessUrl => yaml_string(&s.access_url),
            Key::AccountId => s.account_id.to_string(),
            Key::ProjectId => s.project_id.to_string(),
            Key::EnvironmentId => s.environment_id.to_string(),
            Key::JobId => s.job_id.to_string(),
            Key::AutoTrigger => s.auto_trigger.to_string(),
            Key::Wait => s.wait.to_string(),
        }
    }
}

/// A value of an existing file and where it is written (None: not in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    /// 1-based line and column of the value, when the file holds it.
    pub at: Option<(u64, u64)>,
}

/// The wizard's keys as an existing `datachonk.yaml` sets them.
#[derive(Debug, Clone, Default)]
pub struct ExistingValues {
    pub access_url: Option<Located<String>>,
    pub account_id: Option<Located<i64>>,
    pub project_id: Option<Located<i64>>,
    pub environment_id: Option<Located<i64>>,
    pub job_id: Option<Located<i64>>,
    /// Effective values (the built-in default when the file does not set them).
    pub auto_trigger: Option<Located<bool>>,
    pub wait: Option<Located<bool>>,
    /// `git.protected_branches` as the file writes it (None: not in the file).
    pub protected_branches: Option<Located<Vec<String>>>,
    /// The variable the token is read from (`token_env`, default `DBT_CLOUD_API_TOKEN`).
    pub token_env: String,
    /// The file has `deploy.dbt_cloud.targets` (a job at the top level would be refused).
    pub has_targets: bool,
}

impl ExistingValues {
    /// The protected branches in effect (the file's, else the default).
    pub fn effective_protected_branches(&self) -> Vec<String> {
        self.protected_branches
            .as_ref()
            .map(|l| l.value.clone())
            .unwrap_or_else(default_protected_branches)
    }

    fn at(&self, key: Key) -> Option<(u64, u64)> {
        match key {
            Key::AccessUrl => self.access_url.as_ref().and_then(|l| l.at),
            Key::AccountId => self.account_id.as_ref().and_then(|l| l.at),
            Key::ProjectId => self.project_id.as_ref().and_then(|l| l.at),
            Key::EnvironmentId => self.environment_id.as_ref().and_then(|l| l.at),
            Key::JobId => self.job_id.as_ref().and_then(|l| l.at),
            Key::AutoTrigger => self.auto_trigger.as_ref().and_then(|l| l.at),
            Key::Wait => self.wait.as_ref().and_then(|l| l.at),
        }
    }

    /// Whether the file already says `settings`' value for `key` (or, for the two booleans,
    /// leaves a default that equals it).
    fn holds(&self, key: Key, s: &InitSettings) -> bool {
        fn same<T: PartialEq>(l: &Option<Located<T>>, v: &T) -> bool {
            l.as_ref().is_some_and(|l| &l.value == v)
        }
        match key {
            Key::AccessUrl => same(&self.access_url, &s.access_url),
            Key::AccountId => same(&self.account_id, &s.account_id),
            Key::ProjectId => same(&self.project_id, &s.project_id),
            Key::EnvironmentId => same(&self.environment_id, &s.environment_id),
            Key::JobId => same(&self.job_id, &s.job_id),
            Key::AutoTrigger => same(&self.auto_trigger, &s.auto_trigger),
            Key::Wait => same(&self.wait, &s.wait),
        }
    }
}

/// An existing `datachonk.yaml`: its text and the wizard's values in it.
#[derive(Debug, Clone)]
pub struct ExistingFile {
    pub path: PathBuf,
    pub text: String,
    pub values: ExistingValues,
}

/// Read `path` if it exists. The environment is ignored on purpose: defaults offered on a
/// re-run are what the file says, not what this shell happens to export.
pub fn read_existing(path: &Path) -> Result<Option<ExistingFile>, ConfigError> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = crate::io_limits::read_text(
        path,
        crate::io_limits::CONFIG_LIMIT,
        crate::io_limits::Origin::Found,
    )
    .map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let no_env = |_: &str| None::<String>;
    let options = LoadOptions {
        explicit_file: Some(path.to_path_buf()),
        start_dir: None,
    };
    let cfg = config::load(&options, &FlagValues::default(), &no_env)?;
    let d = cfg.dbt_cloud;
    fn located<T>(s: Sourced<T>) -> Located<T> {
        let at = match s.source {
            Source::File { line, column, .. } => Some((line, column)),
            _ => None,
        };
        Located { value: s.value, at }
    }
    let in_file = |s: &Sourced<String>| matches!(s.source, Source::File { .. });
    // `config::load` resolves only deploy.dbt_cloud; the git section's location comes from the
    // file's own parse (already validated by the load above).
    let protected_branches = serde_saphyr::from_str::<ConfigFile>(&text)
        .ok()
        .and_then(|f| f.git)
        .and_then(|g| g.protected_branches)
        .map(|v| Located {
            value: v.value,
            at: Some((v.referenced.line(), v.referenced.column())),
        });
    let values = ExistingValues {
        access_url: in_file(&d.access_url).then(|| located(d.access_url.clone())),
        account_id: d.account_id.map(located),
        project_id: d.project_id.map(located),
        environment_id: d.environment_id.map(located),
        job_id: d.job_id.map(located),
        auto_trigger: Some(located(d.auto_trigger)),
        wait: Some(located(d.wait)),
        protected_branches,
        token_env: d.token_env.value,
        has_targets: !d.targets.is_empty(),
    };
    Ok(Some(ExistingFile {
        path: path.to_path_buf(),
        text,
        values,
    }))
}

/// A string as a YAML scalar: plain when unambiguous, else double-quoted (JSON escaping is
/// valid YAML).
fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/._-".contains(c))
        && !s.starts_with(['-', ':', '.'])
        && !s.contains(": ");
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// A new `datachonk.yaml`, ordered and commented like `datachonk.example.yaml`.
pub fn render_new(s: &InitSettings, token_env: &str) -> String {
    format!(
        "\
# datachonk.yaml — written by `datachonk init`; edit freely (re-running init keeps your edits).
# Every key is described in datachonk.example.yaml. Precedence, highest first:
# command-line flags > environment variables > this file > defaults.
# `datachonk config show` prints the effective values and where each one came from.

deploy:
{block}
git:
  # Branches `datachonk push` refuses to commit on or push to (exact names, * globs; [] for none).
  protected_branches: {branches}
",
        block = render_dbt_cloud_block(s, token_env, "  "),
        branches = render_branches(&s.protected_branches),
    )
}

/// A flow sequence: `[main, master, \"release/*\"]`.
fn render_branches(branches: &[String]) -> String {
    let items: Vec<String> = branches.iter().map(|b| yaml_string(b)).collect();
    format!("[{}]", items.join(", "))
}

/// The `dbt_cloud:` block, each line prefixed with `indent` (the block's own indentation).
fn render_dbt_cloud_block(s: &InitSettings, token_env: &str, indent: &str) -> String {
    let body = format!(
        "\
dbt_cloud:
  # Your account's access URL (Account settings → Account information).
  # Env: DBT_CLOUD_ACCESS_URL.
  access_url: {access_url}

  # Ids from dbt Cloud URLs (…/deploy/ACCOUNT/projects/PROJECT/jobs/JOB).
  account_id: {account_id}
  project_id: {project_id}
  environment_id: {environment_id}
  # The job to trigger: a validation job, e.g.
  #   dbt build --select state:modified+ (deferring to production)
  job_id: {job_id}

  # The API token is NEVER written here: it is read from this environment variable
  # (a CI secret, your shell profile, a secret manager).
  token_env: {token_env}

  # Trigger the job after every `datachonk push` (same as --trigger-dbt-run).
  auto_trigger: {auto_trigger}
  # Wait for the run's verdict (same as --wait) ...
  wait: {wait}
  # ... for at most this long (90s, 30m, 2h, or seconds); exit code 4 when exceeded.
  # timeout: 30m
  # Default cause shown in dbt Cloud (at most 255 characters).
  # cause: Validation from datachonk
",
        access_url = Key::AccessUrl.render(s),
        account_id = s.account_id,
        project_id = s.project_id,
        environment_id = s.environment_id,
        job_id = s.job_id,
        token_env = yaml_string(token_env),
        auto_trigger = s.auto_trigger,
        wait = s.wait,
    );
    body.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("{indent}{l}\n")
            }
        })
        .collect()
}

/// The result of editing an existing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    /// The keys whose value changed (empty: nothing to write).
    pub changed: Vec<&'static str>,
}

/// Why an existing file could not be edited safely.
#[derive(Debug, thiserror::Error)]
#[error("cannot safely edit {path} (its layout is not one datachonk edits textually)")]
pub struct EditError {
    pub path: PathBuf,
    /// The `deploy.dbt_cloud` block to paste by hand.
    pub block: String,
}

/// Change only the keys whose value differs from `existing`; keep every other byte.
pub fn edit_existing(existing: &ExistingFile, s: &InitSettings) -> Result<Edit, EditError> {
    // With targets and no default one there is no job to edit here (a top-level job_id
    // beside targets is refused): `init --target` writes the target's.
    let no_job_here = existing.values.has_targets && existing.values.job_id.is_none();
    let changed: Vec<Key> = Key::ALL
        .into_iter()
        .filter(|k| !(no_job_here && *k == Key::JobId))
        .filter(|k| !existing.values.holds(*k, s))
        .collect();
    let fail = || EditError {
        path: existing.path.clone(),
        block: format!(
            "deploy:\n{}",
            render_dbt_cloud_block(s, &existing.values.token_env, "  ")
        ),
    };
    let branches_change = existing.values.effective_protected_branches() != s.protected_branches;
    if changed.is_empty() && !branches_change {
        return Ok(Edit {
            text: existing.text.clone(),
            changed: Vec::new(),
        });
    }
    let mut lines: Vec<String> = existing.text.lines().map(str::to_string).collect();
    // Replacements first (they keep line numbers), then insertions from the bottom up.
    let mut inserts: Vec<Key> = Vec::new();
    for key in &changed {
        match existing.values.at(*key) {
            Some((line, column)) => {
                replace_value(&mut lines, line, column, &key.render(s)).ok_or_else(fail)?
            }
            None => inserts.push(*key),
        }
    }
    let branches = render_branches(&s.protected_branches);
    let branches_at = existing
        .values
        .protected_branches
        .as_ref()
        .and_then(|l| l.at);
    if let (true, Some((line, column))) = (branches_change, branches_at) {
        replace_value(&mut lines, line, column, &branches).ok_or_else(fail)?;
    }
    if !inserts.is_empty() {
        insert_keys(&mut lines, &existing.values, &inserts, s).ok_or_else(fail)?;
    }
    if branches_change && branches_at.is_none() {
        // After the dbt_cloud insertions: found by its header, not by a line number.
        match lines
            .iter()
            .position(|l| is_header(l, "git") && indentation(l).is_empty())
        {
            Some(h) => lines.insert(h + 1, format!("  protected_branches: {branches}")),
            None => {
                if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                    lines.push(String::new());
                }
                lines.push("git:".into());
                lines.push(format!("  protected_branches: {branches}"));
            }
        }
    }
    let mut text = lines.join("\n");
    if existing.text.ends_with('\n') || existing.text.is_empty() {
        text.push('\n');
    }
    if !holds_exactly(&text, s) {
        return Err(fail());
    }
    let mut names: Vec<&'static str> = changed.iter().map(|k| k.name()).collect();
    if branches_change {
        names.push("protected_branches");
    }
    Ok(Edit {
        text,
        changed: names,
    })
}

/// Replace the scalar starting at (line, column), 1-based; keeps what follows it.
fn replace_value(lines: &mut [String], line: u64, column: u64, new: &str) -> Option<()> {
    let l = lines.get_mut(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = l
        .char_indices()
        .nth(usize::try_from(column).ok()?.checked_sub(1)?)
        .map(|(i, _)| i)?;
    let rest = &l[start..];
    let len = match rest.chars().next()? {
        // A quoted scalar: up to the closing quote (escapes are not expected in ids/URLs).
        q @ ('"' | '\'') => rest[1..].find(q)? + 2,
        // A flow sequence on one line (protected_branches); a block sequence is refused.
        '[' => rest.find(']')? + 1,
        _ => {
            let end = rest.find(" #").unwrap_or(rest.len());
            rest[..end].trim_end().len()
        }
    };
    // The spacing and comment after the value stay as they were.
    *l = format!("{}{new}{}", &l[..start], &rest[len..]);
    Some(())
}

/// Insert `keys` (absent from the file) next to their neighbours in the canonical order, or
/// under a `dbt_cloud:` / `deploy:` header, or as a new block at the end.
fn insert_keys(
    lines: &mut Vec<String>,
    existing: &ExistingValues,
    keys: &[Key],
    s: &InitSettings,
) -> Option<()> {
    let present: Vec<(Key, usize)> = Key::ALL
        .into_iter()
        .filter_map(|k| existing.at(k).map(|(l, _)| (k, l as usize)))
        .collect();
    if let Some(&(_, any_line)) = present.first() {
        let indent = indentation(lines.get(any_line.checked_sub(1)?)?);
        // Bottom-up so earlier insertions do not shift later anchors.
        let mut planned: Vec<(usize, String)> = Vec::new();
        for key in keys {
            let pos = Key::ALL.iter().position(|k| k == key)?;
            let after = present
                .iter()
                .filter(|(k, _)| Key::ALL.iter().position(|x| x == k) < Some(pos))
                .map(|(_, l)| *l)
                .max();
            let at = match after {
                Some(l) => l, // insert after line l (1-based) = index l
                None => present.iter().map(|(_, l)| *l).min()? - 1,
            };
            planned.push((at, format!("{indent}{}: {}", key.name(), key.render(s))));
        }
        // Same anchor: keep canonical order by inserting later keys first at that index.
        planned.sort_by_key(|p| std::cmp::Reverse(p.0));
        let mut i = 0;
        while i < planned.len() {
            let at = planned[i].0;
            let group: Vec<String> = planned
                .iter()
                .skip(i)
                .take_while(|(a, _)| *a == at)
                .map(|(_, t)| t.clone())
                .collect();
            let n = group.len();
            for (j, text) in group.into_iter().enumerate() {
                lines.insert(at + j, text);
            }
            i += n;
        }
        return Some(());
    }
    let rendered: Vec<String> = keys
        .iter()
        .map(|k| format!("{}: {}", k.name(), k.render(s)))
        .collect();
    if let Some(h) = lines.iter().position(|l| is_header(l, "dbt_cloud")) {
        let header_indent = indentation(&lines[h]);
        let child = lines
            .iter()
            .skip(h + 1)
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| indentation(l))
            .filter(|i| i.len() > header_indent.len())
            .unwrap_or_else(|| format!("{header_indent}  "));
        for (j, r) in rendered.iter().enumerate() {
            lines.insert(h + 1 + j, format!("{child}{r}"));
        }
        return Some(());
    }
    if let Some(h) = lines
        .iter()
        .position(|l| is_header(l, "deploy") && indentation(l).is_empty())
    {
        lines.insert(h + 1, "  dbt_cloud:".to_string());
        for (j, r) in rendered.iter().enumerate() {
            lines.insert(h + 2 + j, format!("    {r}"));
        }
        return Some(());
    }
    if lines.last().is_some_and(|l| !l.trim().is_empty()) {
        lines.push(String::new());
    }
    lines.push("deploy:".to_string());
    lines.push("  dbt_cloud:".to_string());
    lines.extend(rendered.iter().map(|r| format!("    {r}")));
    Some(())
}

fn indentation(line: &str) -> String {
    line.chars().take_while(|c| *c == ' ').collect()
}

/// `name:` alone on its line (block style), optionally followed by a comment.
fn is_header(line: &str, name: &str) -> bool {
    let t = line.trim();
    t.strip_prefix(name)
        .and_then(|r| r.strip_prefix(':'))
        .is_some_and(|r| r.trim().is_empty() || r.trim_start().starts_with('#'))
}

/// Parse `text` again: it must be valid and hold exactly the wizard's values.
fn holds_exactly(text: &str, s: &InitSettings) -> bool {
    let Ok(file) = serde_saphyr::from_str::<ConfigFile>(text) else {
        return false;
    };
    let branches = file
        .git
        .and_then(|g| g.protected_branches)
        .map(|b| b.value)
        .unwrap_or_else(default_protected_branches);
    if branches != s.protected_branches {
        return false;
    }
    let Some(d) = file.deploy.and_then(|d| d.dbt_cloud) else {
        return false;
    };
    let v = |x: &Option<serde_saphyr::Spanned<i64>>| x.as_ref().map(|x| x.value);
    let b = |x: &Option<serde_saphyr::Spanned<bool>>, default: bool| {
        x.as_ref().map_or(default, |x| x.value)
    };
    d.access_url
        .as_ref()
        .is_some_and(|u| u.value.trim_end_matches('/') == s.access_url.trim_end_matches('/'))
        && v(&d.account_id) == Some(s.account_id)
        && v(&d.project_id) == Some(s.project_id)
        && v(&d.environment_id) == Some(s.environment_id)
        // With targets, the jobs are theirs (checked by whoever wrote them).
        && (v(&d.job_id) == Some(s.job_id) || (d.job_id.is_none() && d.targets.is_some()))
        && b(&d.auto_trigger, false) == s.auto_trigger
        && b(&d.wait, false) == s.wait
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> InitSettings {
        InitSettings {
            access_url: "https://emea.dbt.com".into(),
            account_id: 1,
            project_id: 2,
            environment_id: 3,
            job_id: 4,
            auto_trigger: true,
            wait: true,
            protected_branches: default_protected_branches(),
        }
    }

    fn existing(text: &str) -> ExistingFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("datachonk.yaml");
        std::fs::write(&path, text).unwrap();
        read_existing(&path).unwrap().unwrap()
    }

    #[test]
    fn a_new_file_parses_and_holds_the_values() {
        let text = render_new(&settings(), "DBT_CLOUD_API_TOKEN");
        assert!(holds_exactly(&text, &settings()), "{text}");
        assert!(text.contains("token_env: DBT_CLOUD_API_TOKEN"));
        let e = existing(&text);
        assert_eq!(e.values.job_id.as_ref().map(|j| j.value), Some(4));
        assert!(edit_existing(&e, &settings()).unwrap().changed.is_empty());
    }

    #[test]
    fn an_edit_changes_only_changed_values_and_keeps_comments_and_other_sections() {
        let text = "\
# my notes
deploy:
  dbt_cloud:
    access_url: https://emea.dbt.com   # EU account
    account_id: 1
    project_id: 2
    job_id: 9 # old job
    timeout: 10m
generate:
  source: shop   # keep me
";
        let e = existing(text);
        let edit = edit_existing(&e, &settings()).unwrap();
        assert_eq!(
            edit.changed,
            ["environment_id", "job_id", "auto_trigger", "wait"]
        );
        assert_eq!(
            edit.text,
            "\
# my notes
deploy:
  dbt_cloud:
    access_url: https://emea.dbt.com   # EU account
    account_id: 1
    project_id: 2
    environment_id: 3
    job_id: 4 # old job
    auto_trigger: true
    wait: true
    timeout: 10m
generate:
  source: shop   # keep me
"
        );
    }

    #[test]
    fn quoted_values_are_replaced_whole() {
        let e = existing(
            "deploy:\n  dbt_cloud:\n    access_url: \"https://cloud.getdbt.com\"  # us\n    account_id: 1\n    project_id: 2\n    environment_id: 3\n    job_id: 4\n    auto_trigger: true\n    wait: true\n",
        );
        let edit = edit_existing(&e, &settings()).unwrap();
        assert_eq!(edit.changed, ["access_url"]);
        assert!(
            edit.text
                .contains("    access_url: https://emea.dbt.com  # us\n"),
            "{}",
            edit.text
        );
    }

    #[test]
    fn a_file_without_the_block_gets_one_and_flow_style_is_refused() {
        let e = existing("generate:\n  source: shop\n");
        let edit = edit_existing(&e, &settings()).unwrap();
        assert!(edit.text.starts_with("generate:\n  source: shop\n\ndeploy:\n  dbt_cloud:\n    access_url: https://emea.dbt.com\n"), "{}", edit.text);

        let e = existing("deploy:\n  dbt_cloud:\n    timeout: 5m\n");
        let edit = edit_existing(&e, &settings()).unwrap();
        assert!(
            edit.text.starts_with(
                "deploy:\n  dbt_cloud:\n    access_url: https://emea.dbt.com\n    account_id: 1\n"
            ),
            "{}",
            edit.text
        );
        assert!(edit.text.ends_with("    timeout: 5m\n"));

        let e = existing("deploy: {dbt_cloud: {job_id: 9, timeout: 5m}}\n");
        let err = edit_existing(&e, &settings()).unwrap_err();
        assert!(err.block.contains("job_id: 4"));
    }

    #[test]
    fn protected_branches_are_replaced_in_place_appended_or_refused_when_multiline() {
        let mut s = settings();
        s.protected_branches = vec!["main".into(), "release/*".into()];
        let base = "deploy:\n  dbt_cloud:\n    access_url: https://emea.dbt.com\n    account_id: 1\n    project_id: 2\n    environment_id: 3\n    job_id: 4\n    auto_trigger: true\n    wait: true\n";
        let e = existing(&format!(
            "{base}git:\n  protected_branches: [main]  # ours\n"
        ));
        let edit = edit_existing(&e, &s).unwrap();
        assert_eq!(edit.changed, ["protected_branches"]);
        assert!(edit
            .text
            .ends_with("git:\n  protected_branches: [main, \"release/*\"]  # ours\n"));

        let edit = edit_existing(&existing(base), &s).unwrap();
        assert!(edit
            .text
            .ends_with("wait: true\n\ngit:\n  protected_branches: [main, \"release/*\"]\n"));
        // The default needs no git section.
        assert!(edit_existing(&existing(base), &settings())
            .unwrap()
            .changed
            .is_empty());

        // A block sequence over several lines cannot be edited on one line: refused whole.
        let e = existing(&format!(
            "{base}git:\n  protected_branches:\n    - main\n    - dev\n"
        ));
        let r = edit_existing(&e, &s);
        assert!(r.is_err(), "{:?}", r.map(|e| e.text));
    }

    #[test]
    fn yaml_strings_are_quoted_when_needed() {
        assert_eq!(
            yaml_string("https://a.us1.dbt.com"),
            "https://a.us1.dbt.com"
        );
        assert_eq!(
            yaml_string("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(yaml_string("a b#c"), "\"a b#c\"");
    }
}
