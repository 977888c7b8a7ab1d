//! Staging models rendered, natively or through the project's template override.

use crate::generate::parallel;
use crate::generate::plan::context;
use crate::generate::plan::context::SourceCtx;
use crate::generate::plan::file as plan;
use crate::generate::plan::file::Action;
use crate::generate::plan::file::FileKind;
use crate::generate::plan::file::PlannedFile;
use crate::generate::plan::fingerprint::fingerprint;
use crate::generate::reconcile::disk::OnDisk;
use crate::generate::reconcile::state;
use crate::generate::render::native;
use crate::generate::render::shared::staging_context;
use crate::generate::render::shared::Shared;
use crate::generate::request::GenerateError;
use crate::generate::write::sink::Sink;
use crate::templates;
use crate::templates::Templates;
use minijinja::Value;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Writes a rendered file into the writer it is given.
pub(crate) type Render<'a> = Box<dyn Fn(&mut dyn std::io::Write) -> Result<(), GenerateError> + 'a>;

/// Template `name` rendered by minijinja with `ctx`.
pub(crate) fn by_template<'a>(
    templates: &'a Templates,
    name: &'static str,
    ctx: Value,
) -> Render<'a> {
    Box::new(move |out| Ok(templates.render_to(name, ctx.clone(), out)?))
}

/// Staging models of the tables at `chosen` (indexes into `source.tables`, with their input
/// fingerprints), rendered on every core (each file is independent; order is kept). When
/// writing, one thread writes what the others render: files created in one folder from
/// several threads wait on the folder's lock, and cost more than one writer.
pub(crate) fn render_models(
    sh: &Shared,
    source_value: &Value,
    source: &Arc<SourceCtx>,
    chosen: &[(usize, &[u8; 32])],
) -> Result<Vec<PlannedFile>, GenerateError> {
    let dialect = sh.req.config.dialect.as_str();
    let builtin = sh.templates.is_builtin(templates::STAGING_MODEL);
    let writing = matches!(sh.sink, Sink::Write(_));
    let render = |&(i, fp): &(usize, &[u8; 32])| -> Result<PlannedFile, GenerateError> {
        let t = &source.tables[i];
        plan_model(sh, t, fp, || {
            if builtin {
                return Ok(native::staging_model(&source.name, t));
            }
            let ctx = staging_context(source_value, source, i, sh.config, dialect);
            Ok(sh.templates.render(templates::STAGING_MODEL, ctx)?)
        })
    };
    if !writing || chosen.len() < 64 {
        return parallel::map(chosen.to_vec(), |item| {
            render(&item).and_then(|f| sh.sink.accept(f))
        });
    }
    // Files travel to the writer in batches: one per file cost ~3.5 futex calls per file
    // (a wake-up of the writer, a renderer blocked on the full queue) besides its 4 file calls.
    const BATCH: usize = 16;
    type Batch = Vec<(usize, Result<PlannedFile, GenerateError>)>;
    let n = chosen.len();
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<PlannedFile>> = (0..n).map(|_| None).collect();
    let mut failed: Option<(usize, GenerateError)> = None;
    // A bounded queue (256 files): rendered files wait for the writer, not in memory all at once.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(256 / BATCH);
    std::thread::scope(|scope| {
        for _ in 0..parallel::threads() {
            let (tx, next, render) = (tx.clone(), &next, &render);
            scope.spawn(move || loop {
                let start = next.fetch_add(BATCH, Ordering::Relaxed);
                let Some(items) = chosen.get(start..(start + BATCH).min(n)) else {
                    break;
                };
                if items.is_empty() {
                    break;
                }
                let mut batch = Vec::with_capacity(items.len());
                let mut stop = false;
                for (i, item) in (start..).zip(items) {
                    let r = render(item);
                    stop = r.is_err();
                    batch.push((i, r));
                    if stop {
                        break;
                    }
                }
                if tx.send(batch).is_err() || stop {
                    break;
                }
            });
        }
        drop(tx);
        for (i, r) in rx.into_iter().flatten() {
            match r.and_then(|f| sh.sink.accept(f)) {
                Ok(f) => out[i] = Some(f),
                Err(e) => {
                    // The first error in input order wins; the renderers stop.
                    next.store(n, Ordering::Relaxed);
                    if failed.as_ref().is_none_or(|(j, _)| i < *j) {
                        failed = Some((i, e));
                    }
                }
            }
        }
    });
    if let Some((_, e)) = failed {
        return Err(e);
    }
    Ok(out.into_iter().flatten().collect())
}

/// The staging model of table `t` (input fingerprint `fp`): the fast path's verdict, else
/// `content()` compared with the disk. A file to write is hashed here, by the thread that
/// rendered it, not by the one that writes.
pub(crate) fn plan_model(
    sh: &Shared,
    t: &context::TableCtx,
    fp: &[u8; 32],
    content: impl FnOnce() -> Result<String, GenerateError>,
) -> Result<PlannedFile, GenerateError> {
    let path = format!("{}/{}.sql", sh.dir, t.model_name);
    let input = fingerprint(sh.base, "staging_model.sql", [fp]);
    let on_disk = match sh
        .disk
        .check(&path, FileKind::StagingModel, &input, sh.state)?
    {
        OnDisk::Unchanged(f) => return Ok(*f),
        OnDisk::Other(bytes) => bytes,
    };
    let mut f = plan::classify(
        &path,
        FileKind::StagingModel,
        content()?,
        Some(input),
        on_disk,
        sh.state,
        sh.req.force,
        None,
    );
    // A person's edit that rendering now matches (their renames are followed) stays theirs:
    // recording their bytes as datachonk's would let the next run revert the renames.
    if f.status == plan::FileStatus::Unchanged
        && sh
            .disk
            .edited_models
            .get()
            .is_some_and(|e| e.contains(&path))
    {
        f.status = plan::FileStatus::EditedByHand;
        f.action = Action::Skip;
        f.existing = Some(f.content.clone());
    }
    if matches!(sh.sink, Sink::Write(_)) && f.action == Action::Write {
        f.checksum = Some(state::sha256_hex(f.content.as_bytes()));
    }
    Ok(f)
}
