//! `init --target NAME`: write a job as a named target of `deploy.dbt_cloud.targets`, as a
//! textual edit (like `writer`): every other byte of the file stays as it was.
//!
//! - The file already has `targets:`: NAME's `job_id` (and `environment_id`) is replaced in
//!   place, or `NAME: {job_id: …}` is added as the map's first entry.
//! - The file has one flat `job_id` (today's shape, the validation job): that line becomes
//!   `default_target: dev` and `targets:` with `dev: {job_id: OLD}` (its comment kept) and NAME.
//! - A target that is not the default one changes production: it is written `confirm: true`.
//!
//! The caller parses the result again and refuses it unless it holds exactly what was asked.

use crate::config::ConfigFile;

/// The name the flat job becomes when a second target is added: the validation job.
pub const VALIDATION_TARGET: &str = "dev";

/// What to write for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetJob {
    pub name: String,
    pub job_id: i64,
    /// The job's own environment when it differs from the block's.
    pub environment_id: Option<i64>,
}

/// The edited text, or None when the layout is not one this edits (flow-style blocks, a
/// target written over several lines with other keys in the way).
pub fn set_target_job(text: &str, t: &TargetJob) -> Option<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(h) = lines.iter().position(|l| is_header(l, "targets")) {
        edit_map(&mut lines, h, t, text)?;
    } else {
        let i = flat_job_line(&lines)?;
        convert_flat(&mut lines, i, t)?;
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') || text.is_empty() {
        out.push('\n');
    }
    holds(&out, t).then_some(out)
}

/// Whether `text` parses and its target `t.name` has `t`'s job (and environment), with no
/// flat `job_id` left beside the targets.
pub fn holds(text: &str, t: &TargetJob) -> bool {
    let Ok(file) = serde_saphyr::from_str::<ConfigFile>(text) else {
        return false;
    };
    let Some(d) = file.deploy.and_then(|d| d.dbt_cloud) else {
        return false;
    };
    if d.job_id.is_some() {
        return false;
    }
    let Some(targets) = d.targets else {
        return false;
    };
    let Some(target) = targets.value.get(&t.name) else {
        return false;
    };
    target.job_id.as_ref().map(|j| j.value) == Some(t.job_id)
        && (t.environment_id.is_none()
            || target.environment_id.as_ref().map(|e| e.value) == t.environment_id)
}

fn entry(t: &TargetJob, confirm: bool) -> String {
    let mut parts = vec![format!("job_id: {}", t.job_id)];
    if let Some(e) = t.environment_id {
        parts.push(format!("environment_id: {e}"));
    }
    if confirm {
        parts.push("confirm: true".into());
    }
    format!("{{{}}}", parts.join(", "))
}

/// The file's `default_target`, if it names one.
fn default_target(text: &str) -> Option<String> {
    serde_saphyr::from_str::<ConfigFile>(text)
        .ok()?
        .deploy?
        .dbt_cloud?
        .default_target
        .map(|d| d.value)
}

fn edit_map(lines: &mut Vec<String>, h: usize, t: &TargetJob, text: &str) -> Option<()> {
    let header = indentation(&lines[h]).len();
    let child = lines
        .iter()
        .skip(h + 1)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| indentation(l))
        .filter(|i| i.len() > header)
        .unwrap_or_else(|| format!("{}  ", " ".repeat(header)));
    let key = format!("{}:", t.name);
    let mut found = None;
    for (i, l) in lines.iter().enumerate().skip(h + 1) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indentation(l).len() < child.len() {
            break;
        }
        if indentation(l).len() == child.len() && l.trim_start().starts_with(&key) {
            found = Some(i);
            break;
        }
    }
    match found {
        Some(i) => {
            // Flow style on one line: replace (or add) the keys in the braces.
            let l = &lines[i];
            let open = l.find('{')?;
            let close = l.rfind('}')?;
            let inner = &l[open + 1..close];
            let mut items: Vec<String> = inner
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            set_item(&mut items, "job_id", t.job_id);
            if let Some(e) = t.environment_id {
                set_item(&mut items, "environment_id", e);
            }
            lines[i] = format!("{}{{{}}}{}", &l[..open], items.join(", "), &l[close + 1..]);
        }
        None => {
            let confirm = default_target(text).as_deref() != Some(t.name.as_str());
            lines.insert(h + 1, format!("{child}{}: {}", t.name, entry(t, confirm)));
        }
    }
    Some(())
}

fn set_item(items: &mut Vec<String>, key: &str, value: i64) {
    let prefix = format!("{key}:");
    match items.iter_mut().find(|s| s.starts_with(&prefix)) {
        Some(s) => *s = format!("{key}: {value}"),
        None => items.push(format!("{key}: {value}")),
    }
}

/// The line of `deploy.dbt_cloud.job_id` (block style).
fn flat_job_line(lines: &[String]) -> Option<usize> {
    let h = lines.iter().position(|l| is_header(l, "dbt_cloud"))?;
    let header = indentation(&lines[h]).len();
    for (i, l) in lines.iter().enumerate().skip(h + 1) {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        if indentation(l).len() <= header {
            return None;
        }
        if l.trim_start().starts_with("job_id:") {
            return Some(i);
        }
    }
    None
}

/// `job_id: OLD` → `default_target: dev` + `targets:` with `dev: {job_id: OLD}` and the new
/// target (`confirm: true`). When the flat job is the new target's own (a new file), the
/// target alone, as the default.
fn convert_flat(lines: &mut Vec<String>, i: usize, t: &TargetJob) -> Option<()> {
    let l = lines[i].clone();
    let indent = indentation(&l);
    let rest = l.trim_start().strip_prefix("job_id:")?;
    let (value, comment) = match rest.find(" #") {
        Some(c) => (rest[..c].trim(), rest[c..].to_string()),
        None => (rest.trim(), String::new()),
    };
    let old: i64 = value.trim_matches(|c| c == '"' || c == '\'').parse().ok()?;
    let keep_old = old != t.job_id && t.name != VALIDATION_TARGET;
    let default = if keep_old {
        VALIDATION_TARGET
    } else {
        t.name.as_str()
    };
    let mut new = vec![
        format!("{indent}default_target: {default}"),
        format!("{indent}targets:"),
    ];
    if keep_old {
        new.push(format!(
            "{indent}  {VALIDATION_TARGET}: {{job_id: {old}}}{comment}"
        ));
    }
    new.push(format!("{indent}  {}: {}", t.name, entry(t, keep_old)));
    lines.splice(i..=i, new);
    Some(())
}

fn indentation(line: &str) -> String {
    line.chars().take_while(|c| *c == ' ').collect()
}

fn is_header(line: &str, name: &str) -> bool {
    let t = line.trim();
    t.strip_prefix(name)
        .and_then(|r| r.strip_prefix(':'))
        .is_some_and(|r| r.trim().is_empty() || r.trim_start().starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod(env: Option<i64>) -> TargetJob {
        TargetJob {
            name: "prod".into(),
            job_id: 170,
            environment_id: env,
        }
    }

    #[test]
    fn a_flat_job_becomes_the_dev_target_beside_prod_comments_kept() {
        let text = "# mine\ndeploy:\n  dbt_cloud:\n    account_id: 7\n    job_id: 160 # PR validation\n    wait: true\n";
        let out = set_target_job(text, &prod(Some(20))).unwrap();
        assert_eq!(
            out,
            "# mine\ndeploy:\n  dbt_cloud:\n    account_id: 7\n    default_target: dev\n    targets:\n      dev: {job_id: 160} # PR validation\n      prod: {job_id: 170, environment_id: 20, confirm: true}\n    wait: true\n"
        );
    }

    #[test]
    fn a_target_is_added_to_the_map_or_its_job_replaced_in_place() {
        let text = "deploy:\n  dbt_cloud:\n    default_target: dev\n    targets:\n      dev: {job_id: 160}  # ci\n";
        let added = set_target_job(text, &prod(None)).unwrap();
        assert!(
            added.contains("    targets:\n      prod: {job_id: 170, confirm: true}\n      dev: {job_id: 160}  # ci\n"),
            "{added}"
        );
        let replaced = set_target_job(
            &added,
            &TargetJob {
                name: "dev".into(),
                job_id: 161,
                environment_id: None,
            },
        )
        .unwrap();
        assert!(
            replaced.contains("      dev: {job_id: 161}  # ci\n"),
            "{replaced}"
        );
        assert!(replaced.contains("prod: {job_id: 170, confirm: true}"));
    }

    #[test]
    fn a_new_files_only_job_becomes_the_default_target() {
        let text = "deploy:\n  dbt_cloud:\n    job_id: 170\n";
        let out = set_target_job(text, &prod(None)).unwrap();
        assert_eq!(
            out,
            "deploy:\n  dbt_cloud:\n    default_target: prod\n    targets:\n      prod: {job_id: 170}\n"
        );
    }

    #[test]
    fn layouts_it_does_not_edit_are_refused() {
        assert!(set_target_job("deploy: {dbt_cloud: {job_id: 1}}\n", &prod(None)).is_none());
    }
}
