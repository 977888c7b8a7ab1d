//! Input fingerprints: everything a rendered file depends on, so unchanged inputs skip the render.

use crate::config::GenerateConfig;
use crate::generate::plan::context;
use crate::generate::read::metadata;
use crate::generate::read::project;
use crate::templates;
use crate::templates::Templates;
use sha2::Digest;
use sha2::Sha256;

/// Hashes everything a rendered file depends on besides its own context: templates,
/// datachonk's version and the resolved config. Cloned per file, then fed the context.
pub(crate) fn base_fingerprint(
    templates: &Templates,
    config: &GenerateConfig,
    force: bool,
) -> Sha256 {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(templates.fingerprint.as_bytes());
    h.update(serde_json::to_vec(config).unwrap_or_default());
    h.update([u8::from(force)]);
    h
}

/// Fingerprint of one raw table (what its generated files are derived from, with the config).
pub(crate) fn table_fingerprint(t: &metadata::Table) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field(&t.source);
    field(t.database.as_deref().unwrap_or("\0"));
    field(&t.schema);
    field(&t.name);
    field(t.kind.as_deref().unwrap_or("\0"));
    // The name files use (declared, else derived): the same before and after a run adds the
    // table to the project's declaration.
    field(&context::dbt_name(t));
    field(t.description.as_deref().unwrap_or("\0"));
    for c in &t.columns {
        field(&c.name);
        field(&c.data_type);
        field(c.description.as_deref().unwrap_or("\0"));
        field(if c.is_primary_key { "pk" } else { "" });
    }
    h.finalize().into()
}

/// A file's input fingerprint: the base, the file kind, the source and the tables it covers.
pub(crate) fn fingerprint<'a>(
    base: &Sha256,
    kind: &str,
    tables: impl IntoIterator<Item = &'a [u8; 32]>,
) -> String {
    let mut h = base.clone();
    h.update(kind.as_bytes());
    for t in tables {
        h.update(t);
    }
    templates::hex(&h.finalize())
}

/// The input fingerprint of a source's `_models.yml`: its tables and what the project has
/// (which models it already has a file or properties entry for is what the file lists).
pub(crate) fn models_fingerprint<'a>(
    base: &Sha256,
    project: &project::Project,
    tables: impl IntoIterator<Item = &'a [u8; 32]>,
) -> String {
    let mut b = base.clone();
    b.update(project.render_fingerprint().as_bytes());
    fingerprint(&b, "models.yml", tables)
}
