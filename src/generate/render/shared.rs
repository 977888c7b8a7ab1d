//! What every file of a source is rendered with (the request, the templates, the disk check, the sink) and the template contexts.

use crate::generate::plan::context::SourceCtx;
use crate::generate::plan::inputs::SourceRef;
use crate::generate::read::project;
use crate::generate::reconcile::disk::DiskCheck;
use crate::generate::reconcile::merge;
use crate::generate::reconcile::state::State;
use crate::generate::render::values;
use crate::generate::request::Request;
use crate::generate::write::sink::Sink;
use crate::templates::env::to_value;
use crate::templates::Templates;
use minijinja::Value;
use sha2::Sha256;
use std::sync::Arc;

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
