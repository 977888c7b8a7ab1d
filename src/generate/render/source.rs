//! One source's files planned and rendered: its YAML files and its tables' staging models.

use crate::generate::early;
use crate::generate::plan::context::{SourceCtx, TableCtx};
use crate::generate::plan::file as plan;
use crate::generate::plan::file::PlannedFile;
use crate::generate::plan::inputs::{generated_model, source_base, table_key, TableInput};
use crate::generate::read::project;
use crate::generate::reconcile::disk::DiskCheck;
use crate::generate::reconcile::state::State;
use crate::generate::render::models::render_models;
use crate::generate::render::shared::{staging_source, Shared};
use crate::generate::render::yaml::plan_yaml;
use crate::generate::request::GenerateError;
use crate::generate::request::Request;
use crate::generate::write::sink::Sink;
use crate::templates::Templates;
use minijinja::Value;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Arc;

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
    // A source the project declares is never declared again; one an installed package
    // declares gets a file of datachonk's for only the tables the package lacks.
    let sources_yaml = match project.declared(&source.name) {
        None => Some(source.clone()),
        Some(d) if d.package.is_none() => None,
        Some(d) => {
            let missing: Vec<TableCtx> = source
                .tables
                .iter()
                .filter(|t| d.table(&t.identifier).is_none())
                .cloned()
                .collect();
            (!missing.is_empty()).then(|| {
                Arc::new(SourceCtx {
                    tables: missing,
                    ..source.as_ref().clone()
                })
            })
        }
    };
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
                sources_yaml.as_ref(),
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
