//! What planning knows of each table's inputs (where it is, whether it is selected, what its files' fingerprints start from).

use crate::generate::read::project;
use serde::Serialize;
use sha2::Digest;
use sha2::Sha256;

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
