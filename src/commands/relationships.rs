//! `datachonk relationships`: the relationships between the warehouse's tables (declared
//! foreign keys, naming patterns, sampled value overlap), each with its evidence and a
//! confidence; `--json` for tools.

use clap::Args;
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::commands::config::load_options;
use crate::config;
use crate::error::{CliError, CmdResult, Exit};
use crate::generate::marts::spec;
use crate::generate::postgres::{self, PgUrl};
use crate::generate::relationships::{self, EntityKey};
use crate::generate::{catalog, GenerateError};
use crate::ui::Ui;

/// Find relationships in the warehouse's metadata.
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("input").args(["from_catalog", "from_postgres"])))]
pub struct RelationshipsArgs {
    /// Read a dbt catalog.json (default: target/catalog.json): naming patterns only.
    #[arg(long, value_name = "PATH")]
    pub from_catalog: Option<std::path::PathBuf>,
    /// A live PostgreSQL database (e.g. postgres://user@127.0.0.1:5432/db?schema=raw): its
    /// declared foreign keys, naming patterns, and the overlap of sampled values.
    #[arg(long, value_name = "URL")]
    pub from_postgres: Option<String>,
    /// Leave out relationships below this confidence (0 to 1; declared keys are 1, a name
    /// alone 0.6-0.7, name and values up to 0.95, values alone by sample size).
    #[arg(long, value_name = "X", default_value_t = relationships::DEFAULT_MIN_CONFIDENCE)]
    pub min_confidence: f64,
    /// Include views (left out by default: a view repeats its tables' columns, so each of its
    /// key columns would look like a relationship of its own).
    #[arg(long)]
    pub include_views: bool,
}

pub fn run(global: &GlobalArgs, args: &RelationshipsArgs, ui: &Ui) -> CmdResult {
    if !(0.0..=1.0).contains(&args.min_confidence) {
        return Err(CliError::usage(format!(
            "--min-confidence {} is outside 0..1",
            args.min_confidence
        ))
        .with_hint("a confidence is between 0 (anything) and 1 (declared keys only)"));
    }
    let settings = config::load_generate(&load_options(global))?;
    let root = &settings.root;
    // The spec's entity keys are evidence too (a spec that does not parse is an error).
    let entities: Vec<EntityKey> = if spec::exists(root) {
        let s = spec::read(root).map_err(GenerateError::from)?;
        s.files
            .iter()
            .flat_map(|(_, f)| f.entities.iter())
            .map(|(name, e)| EntityKey {
                entity: name.clone(),
                model: e.value.from.value.clone(),
                key: e.value.key.value.list(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let (input, metadata, fks, url) = match (&args.from_postgres, &args.from_catalog) {
        (Some(raw), _) => {
            let url = PgUrl::new(raw.clone());
            let mut metadata = postgres::read(&url, settings.config.schema.as_slice())
                .map_err(GenerateError::from)?;
            let rows = postgres::text_queries(
                &url,
                &[
                    relationships::FOREIGN_KEYS_SQL.to_string(),
                    relationships::PARTITIONS_SQL.to_string(),
                ],
            )
            .map_err(GenerateError::from)?;
            let mut fks = relationships::foreign_keys(&rows[0]);
            let (folded, views) =
                relationships::fold(&mut metadata, &mut fks, &rows[1], args.include_views);
            if folded > 0 {
                ui.status(format!("{folded} partition(s) read as their parent table"));
            }
            if views > 0 {
                ui.status(format!(
                    "{views} view(s) left out (--include-views reads them)"
                ));
            }
            (url.redacted(), metadata, fks, Some(url))
        }
        (None, path) => {
            let path = path
                .clone()
                .unwrap_or_else(|| root.join("target/catalog.json"));
            if !path.is_file() {
                return Err(CliError::usage(format!("no catalog at {}", path.display()))
                    .with_hint(
                    "run `dbt docs generate`, or pass --from-catalog PATH or --from-postgres URL",
                ));
            }
            let mut metadata = catalog::read(&path).map_err(GenerateError::from)?;
            let (_, views) =
                relationships::fold(&mut metadata, &mut Vec::new(), &[], args.include_views);
            if views > 0 {
                ui.status(format!(
                    "{views} view(s) left out (--include-views reads them)"
                ));
            }
            (path.display().to_string(), metadata, Vec::new(), None)
        }
    };
    let mut found = relationships::detect(&metadata, &fks, &entities);
    if let Some(url) = &url {
        // Value overlap for the naming candidates (sampled and bounded).
        let checked: Vec<usize> = found
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == "naming")
            .filter_map(|(i, r)| relationships::overlap_sql(r).map(|_| i))
            .take(relationships::MAX_CHECKED)
            .collect();
        let sqls: Vec<String> = checked
            .iter()
            .filter_map(|&i| relationships::overlap_sql(&found[i]))
            .collect();
        if !sqls.is_empty() {
            let results = postgres::text_queries(url, &sqls).map_err(GenerateError::from)?;
            for (&i, rows) in checked.iter().zip(&results) {
                let num = |j: usize| {
                    rows.first()
                        .and_then(|r| r.get(j).cloned().flatten())
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                relationships::apply_overlap(&mut found[i], num(0), num(1));
            }
        }
        // Values alone: columns no name explains whose sampled values all fall in a key.
        let left = relationships::MAX_CHECKED.saturating_sub(checked.len());
        let candidates = relationships::value_candidates(&metadata, &found, left);
        let sqls: Vec<String> = candidates
            .iter()
            .filter_map(relationships::overlap_sql)
            .collect();
        if !sqls.is_empty() {
            let results = postgres::text_queries(url, &sqls).map_err(GenerateError::from)?;
            let sampled: Vec<_> = candidates
                .into_iter()
                .zip(&results)
                .map(|(r, rows)| {
                    let num = |j: usize| {
                        rows.first()
                            .and_then(|r| r.get(j).cloned().flatten())
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0)
                    };
                    (r, num(0), num(1))
                })
                .collect();
            ui.status(format!(
                "sampled {} column/key pair(s) for values alone (at most {} distinct values each)",
                sampled.len(),
                relationships::SAMPLE
            ));
            found.extend(relationships::grade_value_candidates(sampled));
        }
    }
    found.retain(|r| r.confidence >= args.min_confidence);
    if ui.is_json() {
        ui.json(&json!({ "input": input, "relationships": found }));
    } else {
        for r in &found {
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
        ui.status(format!("{} relationship(s) in {input}", found.len()));
    }
    Ok(Exit::Success)
}
