//! `datachonk relationships`: the relationships between the warehouse's tables (declared
//! foreign keys, naming patterns, sampled value overlap), each with its evidence and a
//! confidence; `--json` for tools. The work is `marts_ops::relationships`.

use serde_json::json;

use crate::cli::{GlobalArgs, RelationshipsArgs};
use crate::config;
use crate::error::{CliError, CmdResult, Exit};
use crate::marts_ops::relationships::{self, Input};
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, args: &RelationshipsArgs, ui: &Ui) -> CmdResult {
    if !(0.0..=1.0).contains(&args.min_confidence) {
        return Err(CliError::usage(format!(
            "--min-confidence {} is outside 0..1",
            args.min_confidence
        ))
        .with_hint("a confidence is between 0 (anything) and 1 (declared keys only)"));
    }
    let settings = config::load_generate(&global.load_options())?;
    let input = match &args.from_postgres {
        Some(url) => Input::Postgres(url),
        None => Input::Catalog(args.from_catalog.as_deref()),
    };
    let mut found = relationships::find(&settings, input, args.include_views, &mut |line| {
        ui.status(line)
    })?;
    found
        .relationships
        .retain(|r| r.confidence >= args.min_confidence);
    if ui.is_json() {
        ui.json(&json!({ "input": found.input, "relationships": found.relationships }));
        return Ok(Exit::Success);
    }
    for r in &found.relationships {
        ui.out(format!(
            "{}.{} → {}.{}  {:.2}  {}",
            r.from.relation,
            r.from.columns.join(","),
            r.to.relation,
            r.to.columns.join(","),
            r.confidence,
            r.evidence.join("; ")
        ));
    }
    ui.status(format!(
        "{} relationship(s) in {}",
        found.relationships.len(),
        found.input
    ));
    Ok(Exit::Success)
}
