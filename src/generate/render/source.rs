//! One source's files planned and rendered: its YAML files and its tables' staging models.

use crate::generate::early;
use crate::generate::plan::context::SourceCtx;
use crate::generate::plan::file as plan;
use crate::generate::plan::file::PlannedFile;
use crate::generate::read::project;
use crate::generate::reconcile::disk::DiskCheck;
use crate::generate::reconcile::merge;
use crate::generate::reconcile::state::State;
use crate::generate::render::models::render_models;
use crate::generate::render::values;
use crate::generate::render::yaml::plan_yaml;
use crate::generate::request::GenerateError;
use crate::generate::request::Request;
use crate::generate::write::sink::Sink;
use crate::templates::env::to_value;
use crate::templates::Templates;
use minijinja::Value;
use serde::Serialize;
use sha2::Digest;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;

/// A table of a touched source: where it is in the metadata and what its files derive from.
pub(crate) struct Member {
    pub(crate) index: usize,
    pub(crate) fingerprint: [u8; 32],
    pub(crate) selected: bool,
}

/// Whether a table's staging model is generated, with its input fingerprint: when it is
/// selected, unless the project already has a model of that name in a file datachonk did not
/// write (`Err`: that file).
pub(crate) fn generated_model<'a>(
    project: &'a project::Project,
    input: Option<&'a TableInput>,
    model_name: &str,
) -> Result<Option<&'a [u8; 32]>, &'a str> {
    let Some(input) = input.filter(|t| t.selected) else {
        return Ok(None);
    };
    match project.model_file(model_name) {
        Some(other) => Err(other),
        None => Ok(Some(&input.fingerprint)),
    }
}

/// The base fingerprint of a source's files: `base` and the parts of the source they show.
pub(crate) fn source_base(
    base: &Sha256,
    name: &str,
    database: Option<&str>,
    schema: &str,
    quote_schema: bool,
) -> Sha256 {
    let source_ref = SourceRef {
        name,
        database,
        schema,
        quote_schema,
    };
    let mut b = base.clone();
    let _ = serde_json::to_vec(&source_ref).map(|v| b.update(v));
    b
}

/// What planning needs of a table once it has moved into its context.
pub(crate) struct TableInput {
    pub(crate) fingerprint: [u8; 32],
    pub(crate) selected: bool,
}

/// Key of [`TableInput`]s: source and raw table name.
pub(crate) fn table_key(source: &str, table: &str) -> String {
    format!("{source}\0{table}")
}

/// The parts of a source a staging model sees (no `tables`: rendering 10,000 models must not
/// copy the whole source into each context).
#[derive(Serialize)]
pub(crate) struct SourceRef<'a> {
    pub(crate) name: &'a str,
    pub(crate) database: Option<&'a str>,
    pub(crate) schema: &'a str,
    pub(crate) quote_schema: bool,
}

/// Plans one source's files: its two YAML files and the selected tables' models. The YAML
/// files (one long render each) are rendered on their own thread while the models are
/// rendered on the others.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan_source(
    req: &Request,
    templates: &Templates,
    config: &Value,
    base: &Sha256,
    source: &Arc<SourceCtx>,
    inputs: &HashMap<String, TableInput>,
    dir: &str,
    state: &State,
    disk: &DiskCheck,
    sink: &Sink,
    project: &project::Project,
    early: Option<(&mut early::EarlyModels, usize)>,
    renamed: Option<&[u8; 32]>,
    files: &mut Vec<PlannedFile>,
) -> Result<(), GenerateError> {
    let base = source_base(
        base,
        &source.name,
        source.database.as_deref(),
        &source.schema,
        source.quote_schema,
    );
    let table_inputs: Vec<Option<&TableInput>> = source
        .tables
        .iter()
        .map(|t| inputs.get(&table_key(&source.name, &t.identifier)))
        .collect();
    let table_fps: Vec<&[u8; 32]> = table_inputs
        .iter()
        .filter_map(|i| i.map(|i| &i.fingerprint))
        .chain(renamed)
        .collect();
    let mut chosen: Vec<(usize, &[u8; 32])> = Vec::new();
    for (i, (t, input)) in source.tables.iter().zip(&table_inputs).enumerate() {
        match generated_model(project, *input, &t.model_name) {
            Ok(Some(fp)) => chosen.push((i, fp)),
            Ok(None) => {}
            Err(other) => files.push(plan::exists(&format!("{dir}/{}.sql", t.model_name), other)),
        }
    }
    // `_models.yml` lists the models the project has no file or properties entry for.
    let listed: Vec<usize> = (0..source.tables.len())
        .filter(|&i| {
            let m = &source.tables[i].model_name;
            project.model_file(m).is_none() && project.properties_entry(m).is_none()
        })
        .collect();
    let models_source = if listed.is_empty() {
        None
    } else if listed.len() == source.tables.len() {
        Some(source.clone())
    } else {
        Some(Arc::new(SourceCtx {
            name: source.name.clone(),
            database: source.database.clone(),
            schema: source.schema.clone(),
            quote_schema: source.quote_schema,
            schema_configured: source.schema_configured,
            tables: listed.iter().map(|&i| source.tables[i].clone()).collect(),
        }))
    };
    let declared = project.declared(&source.name).is_some();
    let source_value = staging_source(source);
    let shared = Shared {
        req,
        templates,
        config,
        base: &base,
        dir,
        state,
        disk,
        sink,
        project,
    };
    let (yaml, models) = std::thread::scope(|scope| {
        let yaml = scope.spawn(|| {
            plan_yaml(
                &shared,
                (!declared).then_some(source),
                models_source.as_ref(),
                &table_fps,
            )
        });
        let models = match early {
            // Planned (and the new ones written) while the columns were derived.
            Some((early, index)) => early.models_of(sink, index).and_then(|done| {
                early::finish_models(&shared, &source_value, source, &chosen, done)
            }),
            None => render_models(&shared, &source_value, source, &chosen),
        };
        let yaml = yaml.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        (yaml, models)
    });
    files.extend(yaml?);
    files.extend(models?);
    Ok(())
}

/// What every file of a source is planned with.
pub(crate) struct Shared<'a> {
    pub(crate) req: &'a Request,
    pub(crate) templates: &'a Templates,
    pub(crate) config: &'a Value,
    /// Fingerprint of the inputs common to the source's files.
    pub(crate) base: &'a Sha256,
    pub(crate) dir: &'a str,
    pub(crate) state: &'a State,
    pub(crate) disk: &'a DiskCheck<'a>,
    pub(crate) sink: &'a Sink<'a>,
    pub(crate) project: &'a project::Project,
}

/// What `staging_model.sql` sees as `source`: the schema as files show it (the fingerprint
/// hashes the raw one, as the fast path does).
pub(crate) fn staging_source(source: &SourceCtx) -> Value {
    to_value(SourceRef {
        name: &source.name,
        database: source.database.as_deref(),
        schema: &source.schema_text(),
        quote_schema: source.quote_schema,
    })
}

/// The context of `staging_model.sql` for table `t` (`source_value`: [`staging_source`]).
pub(crate) fn staging_context(
    source_value: &Value,
    source: &Arc<SourceCtx>,
    t: usize,
    config: &Value,
    dialect: &str,
) -> Value {
    minijinja::context! {
        source => source_value.clone(),
        table => values::table(source, t),
        config => config.clone(),
        dialect => dialect,
    }
}

/// The context of `sources.yml`.
pub(crate) fn sources_context(source: &Arc<SourceCtx>, config: &Value, dialect: &str) -> Value {
    let source_value = minijinja::context! {
        name => source.name.clone(),
        database => source.database.clone(),
        schema => source.schema_text(),
        quote_schema => source.quote_schema,
        tables => values::tables(source),
    };
    minijinja::context! { source => source_value, config => config.clone(), dialect => dialect }
}

/// The context of `models.yml`: `source` merged with the existing file (see [`merge`]).
pub(crate) fn models_context(
    source: &Arc<SourceCtx>,
    merged: &Arc<merge::ModelsSource>,
    kept_models: Vec<String>,
    extra: String,
    config: &Value,
    dialect: &str,
) -> Value {
    minijinja::context! {
        source => minijinja::context! {
            name => source.name.clone(),
            schema => source.schema_text(),
            tables => values::models_tables(source, merged),
        },
        kept_models => kept_models,
        extra => extra,
        config => config.clone(),
        dialect => dialect,
    }
}
