//! Edits to the person's own files: renamed models' SQL, and new tables added to their YAML.

use crate::generate::plan::context::SourceCtx;
use crate::generate::plan::file as plan;
use crate::generate::plan::file::PlannedFile;
use crate::generate::plan::renames;
use crate::generate::plan::select;
use crate::generate::read::metadata::Metadata;
use crate::generate::read::project;
use crate::generate::reconcile::disk::DiskCheck;
use crate::generate::reconcile::state;
use crate::generate::reconcile::state::State;
use crate::generate::request::GenerateError;
use crate::generate::request::Input;
use crate::generate::request::Request;
use sha2::Digest;
use sha2::Sha256;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::Arc;

/// A person's renames in generated staging models (`id as order_id`) become the columns'
/// aliases, so the model's YAML follows the SQL. Only models datachonk wrote and a person
/// edited since are read (size and mtime first, then the checksum).
/// Returns, per source with renames, a digest of them: the YAML files' input fingerprint
/// takes it, so that a rename is not mistaken for an unchanged input.
pub(crate) fn apply_sql_renames(
    req: &Request,
    state: &State,
    disk: &DiskCheck,
    project: &project::Project,
    sources: &mut [SourceCtx],
) -> HashMap<String, [u8; 32]> {
    let mut digests = HashMap::new();
    let mut edited = BTreeSet::new();
    if req.force {
        // `--force` renders every model afresh, renames included.
        let _ = disk.edited_models.set(edited);
        return digests;
    }
    for source in sources.iter_mut() {
        let mut digest: Option<Sha256> = None;
        let dir = project.source_dir(&req.config.output_dir, &source.name, state);
        for t in source.tables.iter_mut() {
            let path = format!("{dir}/{}.sql", t.model_name);
            let Some(recorded) = state.checksum_of(&path) else {
                continue;
            };
            let full = req.root.join(&path);
            let Ok(meta) = std::fs::metadata(&full) else {
                continue;
            };
            let now = state::FileStat::of(&meta);
            if let (Some(r), Some(n)) = (state.stat_of(&path), now) {
                if r.trusted(&n, disk.state_mtime_ns) {
                    continue;
                }
            }
            let Ok(sql) = std::fs::read_to_string(&full) else {
                continue;
            };
            if state::sha256_hex(sql.as_bytes()) == recorded {
                continue;
            }
            edited.insert(path.clone());
            for (raw, alias) in renames::renames(&sql) {
                let Some(c) = t
                    .columns
                    .iter_mut()
                    .find(|c| c.name().eq_ignore_ascii_case(&raw) || c.quoted_name() == raw)
                else {
                    continue;
                };
                if c.alias() != alias {
                    if t.primary_key.as_deref() == Some(c.alias()) {
                        t.primary_key = Some(alias.clone());
                    }
                    c.set_alias(&alias);
                    let d = digest.get_or_insert_with(Sha256::new);
                    for part in [t.model_name.as_str(), c.name(), alias.as_str()] {
                        d.update((part.len() as u64).to_le_bytes());
                        d.update(part.as_bytes());
                    }
                }
            }
        }
        if let Some(d) = digest {
            digests.insert(source.name.clone(), d.finalize().into());
        }
    }
    let _ = disk.edited_models.set(edited);
    digests
}

/// Plan against what the project declares: its own catalog nodes (models, snapshots, tests)
/// and, from a live database, the relations its models build are not inputs (unless selected
/// by name); a table of a source the project declares takes that source's name, and its
/// declared name when the declaration lists it.
pub(crate) fn apply_project(
    req: &Request,
    project: &project::Project,
    state: &State,
    metadata: &mut Metadata,
) {
    let named: Vec<select::Pattern> = req
        .selection
        .iter()
        .filter(|p| !p.contains(['*', '?']))
        .map(|p| select::Pattern::parse(p))
        .collect();
    let generated: BTreeSet<String> = state
        .files
        .keys()
        .filter_map(|p| p.strip_suffix(".sql"))
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_ascii_lowercase())
        .collect();
    let live = matches!(req.input, Input::Postgres(_) | Input::Warehouse(_));
    metadata.tables.retain(|t| {
        let own = t.project_node
            || (live
                && (generated.contains(&t.name.to_ascii_lowercase())
                    || project.model_file(&t.name).is_some()));
        !own || named.iter().any(|p| p.matches(t))
    });
    for t in &mut metadata.tables {
        if let Some(d) = project.source_for(&t.source, t.database.as_deref(), &t.schema) {
            let declared = d.table(&t.name).map(|dt| dt.name.clone());
            if d.package.is_some() && declared.is_none() {
                // A package's file is not the project's to add to: the table is declared in a
                // source of datachonk's own.
                continue;
            }
            t.source = d.name.clone();
            t.declared_name = declared;
        }
    }
}

/// Additions to the project's own properties files: tables of a source it declares that its
/// declaration lacks, and columns missing from declared tables that list columns.
pub(crate) fn plan_project_edits(
    req: &Request,
    project: &project::Project,
    sources: &[Arc<SourceCtx>],
) -> Result<Vec<PlannedFile>, GenerateError> {
    let mut additions = Vec::new();
    for s in sources {
        let Some(d) = project.declared(&s.name).filter(|d| d.package.is_none()) else {
            continue;
        };
        let mut add = crate::generate::reconcile::person_yaml::Additions::default();
        for t in &s.tables {
            match d.table(&t.identifier) {
                None => add.tables.push(t),
                Some(dt) if !dt.columns.is_empty() => {
                    let missing: Vec<String> = t
                        .columns
                        .iter()
                        .filter(|c| {
                            !dt.columns
                                .iter()
                                .any(|(n, _)| n.eq_ignore_ascii_case(c.name()))
                        })
                        .map(|c| c.name().to_string())
                        .collect();
                    if !missing.is_empty() {
                        add.columns.push((dt.name.clone(), missing));
                    }
                }
                Some(_) => {}
            }
        }
        if !add.tables.is_empty() || !add.columns.is_empty() {
            additions.push((s.as_ref(), d, add));
        }
    }
    let files: BTreeSet<&str> = additions.iter().map(|(_, d, _)| d.file.as_str()).collect();
    let mut out = Vec::new();
    for rel in files {
        let full = req.root.join(rel);
        let text = std::fs::read_to_string(&full)
            .map_err(|source| GenerateError::Read { path: full, source })?;
        if let Some(new) = crate::generate::reconcile::person_yaml::edit(
            &req.root, rel, &text, project, &additions,
        )? {
            out.push(plan::project_edit(rel, text, new));
        }
    }
    Ok(out)
}
