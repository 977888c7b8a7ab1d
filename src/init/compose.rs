//! The text `init` writes: a new `datachonk.yaml`, or a minimal edit of the existing one, plus
//! the `--target NAME` job; and which keys that changes (none: nothing to write).

use std::path::Path;

use super::targets::{self, TargetJob};
use super::writer::{self, ExistingFile, InitSettings};

/// The file's new text and the keys that changed in it.
#[derive(Debug)]
pub struct Composed {
    pub text: String,
    pub changed: Vec<String>,
}

/// The file cannot be edited safely: what to tell, and what to set by hand. Nothing written.
#[derive(Debug)]
pub struct CannotCompose {
    pub message: String,
    pub hint: String,
}

pub fn compose(
    path: &Path,
    existing: Option<&ExistingFile>,
    settings: &InitSettings,
    token_var: &str,
    target: Option<&TargetJob>,
) -> Result<Composed, CannotCompose> {
    let (text, changed) = match existing {
        Some(file) => {
            let edit = writer::edit_existing(file, settings).map_err(|e| CannotCompose {
                message: format!("{e}; nothing was written"),
                hint: format!(
                    "set these values in {} by hand:\n{}",
                    e.path.display(),
                    e.block
                ),
            })?;
            let changed = edit.changed.iter().map(|c| c.to_string()).collect();
            (edit.text, changed)
        }
        None => (
            writer::render_new(settings, token_var),
            writer::Key::ALL
                .iter()
                .map(|k| k.name().to_string())
                .collect(),
        ),
    };
    match target {
        Some(t) => with_target(path, existing, text, changed, t),
        None => Ok(Composed { text, changed }),
    }
}

/// `--target NAME`: the job goes under `targets:` instead of the block's `job_id`.
fn with_target(
    path: &Path,
    existing: Option<&ExistingFile>,
    text: String,
    mut changed: Vec<String>,
    t: &TargetJob,
) -> Result<Composed, CannotCompose> {
    let edited = targets::set_target_job(&text, t).ok_or_else(|| CannotCompose {
        message: format!(
            "cannot safely add target `{}` to {} (its layout is not one datachonk edits textually); nothing was written",
            t.name,
            path.display()
        ),
        hint: format!(
            "add it by hand under deploy.dbt_cloud.targets:\n  {}: {{job_id: {}}}",
            t.name, t.job_id
        ),
    })?;
    if edited != text || existing.is_none() {
        changed.retain(|c| c != "job_id");
        changed.push(format!("targets.{}", t.name));
    }
    // Nothing else changed and the target already said this: nothing to write.
    if existing.is_some_and(|f| f.text == edited) {
        changed.clear();
    }
    Ok(Composed {
        text: edited,
        changed,
    })
}
