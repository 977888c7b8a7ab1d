//! What the state records of a planned file once it is written (or found unchanged).

use crate::generate::plan::file as plan;
use crate::generate::plan::file::Action;
use crate::generate::plan::file::FileKind;
use crate::generate::plan::file::PlannedFile;
use crate::generate::reconcile::state;
use crate::generate::reconcile::state::State;

/// Record in `state` what applying `f` leaves on disk.
pub(crate) fn record(state: &mut State, f: &PlannedFile) {
    // The project's own files are never recorded as datachonk's: they would stop counting
    // as the project's declarations.
    if f.kind == FileKind::ProjectYaml && f.action == Action::Write {
        state
            .project_edits
            .insert(f.path.clone(), state::sha256_hex(f.content.as_bytes()));
    }
    if f.kind == FileKind::ProjectYaml || f.status == plan::FileStatus::Exists {
        return;
    }
    match f.action {
        Action::Write => match &f.checksum {
            Some(sha256) => state.record_sha256(&f.path, sha256.clone(), f.input.clone()),
            None => state.record(&f.path, f.content.as_bytes(), f.input.clone()),
        },
        // Unchanged: record only what is not already recorded as is (the fast path leaves
        // `content` empty because the record already matches), adding a missing stat.
        Action::None if f.input.is_some() && state.input_of(&f.path) == f.input.as_deref() => {
            if let (Some(r), Some(stat)) = (state.record_mut(&f.path), f.stat) {
                r.stat = Some(stat);
            }
            return;
        }
        Action::None => state.record(&f.path, f.content.as_bytes(), f.input.clone()),
        Action::Skip => return,
    }
    if let Some(r) = state.record_mut(&f.path) {
        r.stat = f.stat;
        r.descriptions = f.descriptions.clone();
    }
}
