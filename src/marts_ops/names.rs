//! Names a new entry cannot have: too long for a file or for the warehouse, reserved.

use crate::generate::marts::model;
use crate::ident::quoting::Dialect;

use super::entry::Kind;
use super::error::MartsOpsError;

/// Names the files and the warehouse cannot hold, refused before the spec is touched: a
/// model file name over 255 bytes (`dim_<name>.sql`, `<name>_snapshot.yml`), a model name
/// over the dialect's identifier limit, a reserved word.
pub fn check_name(
    kind: Kind,
    name: &str,
    layout: &model::Layout,
    dialect: &str,
) -> Result<(), MartsOpsError> {
    let prefix = match kind {
        Kind::Entity => layout.dim_prefix.as_str(),
        Kind::Fact => layout.fct_prefix.as_str(),
        Kind::Metric => "",
    };
    let model_name = format!("{prefix}{name}");
    let refuse = |why: String| {
        Err(MartsOpsError::refused(format!(
            "cannot add `{}`: {why}",
            crate::redact::clip(name, 60)
        ))
        .with_hint("choose a shorter or different name; nothing was written"))
    };
    // The longest file a kind writes: `<prefix><name>.sql`/`.yml`, an entity's snapshot.
    let longest = (model_name.len() + ".sql".len()).max(match kind {
        Kind::Entity => name.len() + "_snapshot.yml".len(),
        _ => 0,
    });
    if longest > 255 {
        return refuse(format!(
            "its files would have names of {longest} bytes; file systems hold at most 255"
        ));
    }
    if let Some(d) = Dialect::parse(dialect) {
        if kind != Kind::Metric {
            if let Some(why) = d.name_problem(&model_name, true) {
                return refuse(format!("the model name `{model_name}` is {why}"));
            }
        }
        if d.is_reserved(name) {
            return refuse(format!("`{name}` is a reserved word in {d}"));
        }
    }
    Ok(())
}
