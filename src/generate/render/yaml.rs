//! A source's two YAML files, merged with the person's edits to `_models.yml`.

use crate::generate::plan::context::SourceCtx;
use crate::generate::plan::file as plan;
use crate::generate::plan::file::FileKind;
use crate::generate::plan::file::PlannedFile;
use crate::generate::plan::fingerprint::fingerprint;
use crate::generate::plan::fingerprint::models_fingerprint;
use crate::generate::reconcile::disk::read_optional;
use crate::generate::reconcile::disk::OnDisk;
use crate::generate::reconcile::merge;
use crate::generate::render::models::by_template;
use crate::generate::render::models::Render;
use crate::generate::render::native;
use crate::generate::render::shared::models_context;
use crate::generate::render::shared::sources_context;
use crate::generate::render::shared::Shared;
use crate::generate::request::GenerateError;
use crate::generate::write::sink::write_error;
use crate::templates;
use std::sync::Arc;

/// How to render one of a source's YAML files, once the fast path has failed.
pub(crate) struct YamlRender<'a> {
    /// Writes the file: the built-in template's native form ([`native`]), or minijinja with
    /// the template's context when the project overrides it.
    pub(crate) render: Render<'a>,
    pub(crate) report: Option<merge::MergeReport>,
    /// What to record as the file's generated descriptions (`_models.yml`).
    pub(crate) descriptions: Option<String>,
}

/// `_<source>__sources.yml` and `_<source>__models.yml` (merged with the existing file).
pub(crate) fn plan_yaml(
    sh: &Shared,
    sources_of: Option<&Arc<SourceCtx>>,
    models_of: Option<&Arc<SourceCtx>>,
    table_fps: &[&[u8; 32]],
) -> Result<Vec<PlannedFile>, GenerateError> {
    let dialect = sh.req.config.dialect.as_str();
    let sources = |source: &Arc<SourceCtx>| {
        yaml_file(
            sh,
            format!("{}/_{}__sources.yml", sh.dir, source.name),
            FileKind::SourcesYaml,
            fingerprint(sh.base, "sources.yml", table_fps.iter().copied()),
            |(path, _)| {
                let render: Render = if sh.templates.is_builtin(templates::SOURCES_YAML) {
                    let full_path = sh.req.root.join(path);
                    Box::new(move |out| {
                        native::sources_yaml(out, source, &sh.req.config)
                            .map_err(|e| write_error(&full_path, e))
                    })
                } else {
                    let ctx = sources_context(source, sh.config, dialect);
                    by_template(sh.templates, templates::SOURCES_YAML, ctx)
                };
                Ok(YamlRender {
                    render,
                    report: None,
                    descriptions: None,
                })
            },
        )
    };
    let models = |source: &Arc<SourceCtx>| {
        // The person's file describing this source's staging models in this folder, else
        // datachonk's own beside them.
        let path = match sh.project.models_file(sh.dir, &source.name) {
            Some(persons) => persons.to_string(),
            None => format!("{}/_{}__models.yml", sh.dir, source.name),
        };
        if sh.state.checksum_of(&path).is_none() {
            if let Some(text) = read_optional(&sh.req.root.join(&path))? {
                return append_to_persons_models(sh, &path, text, source);
            }
        }
        yaml_file(
            sh,
            format!("{}/_{}__models.yml", sh.dir, source.name),
            FileKind::ModelsYaml,
            models_fingerprint(sh.base, sh.project, table_fps.iter().copied()),
            |(path, on_disk)| {
                let existing = match (on_disk, sh.req.force) {
                    (Some(b), false) => Some(String::from_utf8_lossy(b).into_owned()),
                    _ => None,
                };
                let generated = sh
                    .state
                    .descriptions_of(path)
                    .and_then(merge::GeneratedDescriptions::parse);
                let full_path = sh.req.root.join(path);
                let (merged, mut kept_models, extra, mut report) = merge::models_context(
                    source,
                    existing.as_deref().map(|t| (full_path.as_path(), t)),
                    generated.as_ref(),
                )?;
                // A model the project describes in a file of its own keeps only that entry
                // (dbt refuses two), even one datachonk wrote here before.
                let names = std::mem::take(&mut report.kept_models);
                let mut texts = std::mem::take(&mut kept_models).into_iter();
                for name in names {
                    let text = texts.next().unwrap_or_default();
                    if sh.project.properties_entry(&name).is_some() {
                        report.dropped_models.push(name);
                    } else {
                        report.kept_models.push(name);
                        kept_models.push(text);
                    }
                }
                let render: Render = if sh.templates.is_builtin(templates::MODELS_YAML) {
                    Box::new(move |out| {
                        native::models_yaml(out, source, &merged, &kept_models, &extra)
                            .map_err(|e| write_error(&full_path, e))
                    })
                } else {
                    let merged = Arc::new(merged);
                    let ctx =
                        models_context(source, &merged, kept_models, extra, sh.config, dialect);
                    by_template(sh.templates, templates::MODELS_YAML, ctx)
                };
                Ok(YamlRender {
                    render,
                    report: existing.map(|_| report),
                    descriptions: Some(merge::GeneratedDescriptions::of(source).to_text()),
                })
            },
        )
    };
    // Two long renders: one each on its own thread.
    let (sources, models) = std::thread::scope(|scope| {
        let sources = scope.spawn(|| sources_of.map(sources).transpose());
        let models = models_of.map(models).transpose();
        let sources = sources
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (sources, models)
    });
    Ok(sources?.into_iter().chain(models?).collect())
}

/// `_<source>__models.yml` exists but datachonk never wrote it: it is the person's. The
/// entries of the models it lacks are appended to its `models:` list; nothing else changes.
pub(crate) fn append_to_persons_models(
    sh: &Shared,
    path: &str,
    text: Vec<u8>,
    source: &Arc<SourceCtx>,
) -> Result<PlannedFile, GenerateError> {
    let text = String::from_utf8(text).map_err(|_| GenerateError::Read {
        path: sh.req.root.join(path),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })?;
    let (merged, _, _, _) = merge::models_context(source, None, None)?;
    let mut block = Vec::new();
    native::models_yaml(&mut block, source, &merged, &[], "")
        .map_err(|e| write_error(&sh.req.root.join(path), e))?;
    let block = String::from_utf8_lossy(&block);
    let names: Vec<String> = source.tables.iter().map(|t| t.model_name.clone()).collect();
    let new = crate::generate::reconcile::person_yaml::append_models(
        &sh.req.root,
        path,
        &text,
        sh.project.models_lists.get(path),
        &block,
        &names,
    )?;
    sh.sink.accept(plan::project_edit(path, text, new))
}

/// One YAML file of a source: unchanged by the fast path, else rendered from the context
/// `prepare` makes (given the path and the file's bytes, when it exists) — straight to disk
/// when the file is new and the plan writes, else to memory and compared with the disk.
pub(crate) fn yaml_file<'r>(
    sh: &Shared,
    path: String,
    kind: FileKind,
    input: String,
    prepare: impl FnOnce((&str, Option<&[u8]>)) -> Result<YamlRender<'r>, GenerateError>,
) -> Result<PlannedFile, GenerateError> {
    let on_disk = match sh.disk.check(&path, kind, &input, sh.state)? {
        OnDisk::Unchanged(f) => return Ok(*f),
        OnDisk::Other(bytes) => bytes,
    };
    let YamlRender {
        render,
        report,
        descriptions,
    } = prepare((&path, on_disk.as_deref()))?;
    if on_disk.is_none() {
        let streamed =
            sh.sink
                .stream_new(&path, kind, input.clone(), descriptions.clone(), &render)?;
        if let Some(f) = streamed {
            return Ok(f);
        }
    }
    let mut content = Vec::new();
    render(&mut content)?;
    // Both renderers write only text.
    let content = String::from_utf8(content)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let mut f = plan::classify(
        &path,
        kind,
        content,
        Some(input),
        on_disk,
        sh.state,
        sh.req.force,
        report,
    );
    f.descriptions = descriptions;
    sh.sink.accept(f)
}
