//! The read stage's entry: the metadata an input describes.

use crate::config::GenerateConfig;
use crate::generate::read::catalog;
use crate::generate::read::metadata::Metadata;
use crate::generate::read::postgres;
use crate::generate::read::sources_yaml;
use crate::generate::read::warehouse;
use crate::generate::request::GenerateError;
use crate::generate::request::Input;

/// Read the metadata an input describes (`config.schema` narrows a database's schemas).
pub fn load_metadata(input: &Input, config: &GenerateConfig) -> Result<Metadata, GenerateError> {
    Ok(match input {
        Input::Catalog(p) => catalog::read(p)?,
        Input::SourcesYaml(p) => sources_yaml::read(p)?,
        Input::Postgres(url) => postgres::read(url, config.schema.as_slice())?,
        Input::Warehouse(w) => warehouse::read(w)?,
        Input::Spec => Metadata::default(),
    })
}
