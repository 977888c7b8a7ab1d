//! `relationships`' work: read the warehouse's metadata (a catalog, or a live PostgreSQL
//! database with its declared keys and sampled values), then grade every relationship the
//! evidence shows. The command filters by confidence and prints.

use std::path::{Path, PathBuf};

use crate::config::GenerateSettings;
use crate::generate::plan::keys::{self as relationships, ForeignKey, Relationship};
use crate::generate::read::metadata::Metadata;
use crate::generate::read::postgres::{self, PgUrl};
use crate::generate::{marts::spec, read::catalog, GenerateError};

use super::error::MartsOpsError;
use super::propose::entity_keys;

/// Where the metadata comes from.
pub enum Input<'a> {
    /// A dbt catalog.json (`None`: the project's `target/catalog.json`).
    Catalog(Option<&'a Path>),
    /// A live PostgreSQL database.
    Postgres(&'a str),
}

/// What was read (for the person: a path, or the URL without its password) and found.
pub struct Found {
    pub input: String,
    pub relationships: Vec<Relationship>,
}

/// The metadata as read, before the evidence is weighed.
struct Read {
    input: String,
    metadata: Metadata,
    fks: Vec<ForeignKey>,
    url: Option<PgUrl>,
}

/// Every relationship the evidence supports, each with its confidence. `note` receives what
/// was left out or sampled along the way.
pub fn find(
    settings: &GenerateSettings,
    input: Input,
    include_views: bool,
    note: &mut dyn FnMut(String),
) -> Result<Found, MartsOpsError> {
    let root = &settings.root;
    // The spec's entity keys are evidence too (a spec that does not parse is an error).
    let entities = if spec::exists(root) {
        entity_keys(&spec::read(root).map_err(GenerateError::from)?)
    } else {
        Vec::new()
    };
    let read = match input {
        Input::Postgres(raw) => read_postgres(raw, settings, include_views, note)?,
        Input::Catalog(path) => read_catalog(path, root, include_views, note)?,
    };
    let mut found = relationships::detect(&read.metadata, &read.fks, &entities);
    if let Some(url) = &read.url {
        let checked = sample_overlap(url, &mut found)?;
        let left = relationships::MAX_CHECKED.saturating_sub(checked);
        sample_values_alone(url, &read.metadata, &mut found, left, note)?;
    }
    Ok(Found {
        input: read.input,
        relationships: found,
    })
}

fn views_left_out(views: usize, note: &mut dyn FnMut(String)) {
    if views > 0 {
        note(format!(
            "{views} view(s) left out (--include-views reads them)"
        ));
    }
}

fn read_postgres(
    raw: &str,
    settings: &GenerateSettings,
    include_views: bool,
    note: &mut dyn FnMut(String),
) -> Result<Read, MartsOpsError> {
    let url = PgUrl::new(raw.to_string());
    let mut metadata =
        postgres::read(&url, settings.config.schema.as_slice()).map_err(GenerateError::from)?;
    let rows = postgres::text_queries(
        &url,
        &[
            relationships::FOREIGN_KEYS_SQL.to_string(),
            relationships::PARTITIONS_SQL.to_string(),
        ],
    )
    .map_err(GenerateError::from)?;
    let mut fks = relationships::foreign_keys(&rows[0]);
    let (folded, views) = relationships::fold(&mut metadata, &mut fks, &rows[1], include_views);
    if folded > 0 {
        note(format!("{folded} partition(s) read as their parent table"));
    }
    views_left_out(views, note);
    Ok(Read {
        input: url.redacted(),
        metadata,
        fks,
        url: Some(url),
    })
}

fn read_catalog(
    path: Option<&Path>,
    root: &Path,
    include_views: bool,
    note: &mut dyn FnMut(String),
) -> Result<Read, MartsOpsError> {
    let path: PathBuf = path.map_or_else(|| root.join("target/catalog.json"), Path::to_path_buf);
    if !path.is_file() {
        return Err(
            MartsOpsError::refused(format!("no catalog at {}", path.display())).with_hint(
                "run `dbt docs generate`, or pass --from-catalog PATH or --from-postgres URL",
            ),
        );
    }
    let mut metadata = catalog::read(&path).map_err(GenerateError::from)?;
    let (_, views) = relationships::fold(&mut metadata, &mut Vec::new(), &[], include_views);
    views_left_out(views, note);
    Ok(Read {
        input: path.display().to_string(),
        metadata,
        fks: Vec::new(),
        url: None,
    })
}

/// The first row's column `j` of a sampling query, as a count (0 when absent).
fn count(rows: &[Vec<Option<String>>], j: usize) -> u64 {
    rows.first()
        .and_then(|r| r.get(j).cloned().flatten())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

/// Value overlap for the naming candidates (sampled and bounded); returns how many were
/// checked, so values alone get what is left of the bound.
fn sample_overlap(url: &PgUrl, found: &mut [Relationship]) -> Result<usize, MartsOpsError> {
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
            relationships::apply_overlap(&mut found[i], count(rows, 0), count(rows, 1));
        }
    }
    Ok(checked.len())
}

/// Values alone: columns no name explains whose sampled values all fall in a key.
fn sample_values_alone(
    url: &PgUrl,
    metadata: &Metadata,
    found: &mut Vec<Relationship>,
    left: usize,
    note: &mut dyn FnMut(String),
) -> Result<(), MartsOpsError> {
    let candidates = relationships::value_candidates(metadata, found, left);
    let sqls: Vec<String> = candidates
        .iter()
        .filter_map(relationships::overlap_sql)
        .collect();
    if sqls.is_empty() {
        return Ok(());
    }
    let results = postgres::text_queries(url, &sqls).map_err(GenerateError::from)?;
    let sampled: Vec<_> = candidates
        .into_iter()
        .zip(&results)
        .map(|(r, rows)| (r, count(rows, 0), count(rows, 1)))
        .collect();
    note(format!(
        "sampled {} column/key pair(s) for values alone (at most {} distinct values each)",
        sampled.len(),
        relationships::SAMPLE
    ));
    found.extend(relationships::grade_value_candidates(sampled));
    Ok(())
}
