//! Regenerating `_<source>__models.yml` merges instead of replacing: what a person added to the
//! existing file survives, and the merge says what it added and dropped.
//!
//! Rules, per model datachonk generates (matched by model name) and per column (by alias):
//! - a non-empty description in the file wins over the metadata's, unless it is one datachonk
//!   itself took from the metadata last time (recorded as [`GeneratedDescriptions`] in the
//!   state): then the warehouse comment changed and the new one replaces it;
//! - tests in the file (`data_tests:`, or the old `tests:`) are kept after the generated
//!   `unique`/`not_null`, without duplicates; `tests:` is written back as `data_tests:`;
//! - any other key a person added (`meta`, `config`, `constraints`, ...) is kept as written;
//! - columns no longer in the metadata are dropped (and listed), new ones added (and listed);
//! - models datachonk does not generate this time, and other top-level keys, are kept as is.
//!
//! YAML comments cannot be carried through a re-render: the report says when some were lost.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::generate::plan::context::{ColumnCtx, SourceCtx, TableCtx};
use crate::generate::read::yaml::{self, Value};

#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot merge into this file (line {line}, column {column}): {message}")]
pub struct MergeError {
    pub path: PathBuf,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// What the merge decided for the `models.yml` template, table by table in the source's order
/// (the rest of each table and column is read from the [`SourceCtx`] itself, see
/// `render::values`: a full copy of 200,000 columns cost more memory than anything else).
/// Empty when there was no file to merge with: every table is then the metadata's as is.
#[derive(Debug, Default)]
pub struct ModelsSource {
    pub tables: Vec<ModelsTable>,
}

/// The descriptions datachonk took from the metadata for a `_models.yml`, as a set of 64-bit
/// hashes of (model, column alias or "" for the model itself, text). Stored in the state as
/// sorted 16-digit hex numbers: 50,000 descriptions stay under a megabyte and cost nothing to
/// load when no merge is needed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GeneratedDescriptions(std::collections::HashSet<u64>);

impl GeneratedDescriptions {
    /// Every non-empty description `source`'s metadata gives its models.
    pub fn of(source: &SourceCtx) -> Self {
        let mut set = std::collections::HashSet::new();
        for t in &source.tables {
            if !t.description.is_empty() {
                set.insert(description_hash(&t.model_name, "", &t.description));
            }
            for c in &t.columns {
                if !c.description().is_empty() {
                    set.insert(description_hash(&t.model_name, c.alias(), c.description()));
                }
                if c.is_primary_key {
                    set.insert(description_hash(&t.model_name, c.alias(), KEY_MARK));
                }
            }
        }
        GeneratedDescriptions(set)
    }

    /// From the state's text; `None` when it is not ours (then nothing counts as generated).
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() % 16 != 0 || !text.is_ascii() {
            return None;
        }
        let mut set = std::collections::HashSet::with_capacity(text.len() / 16);
        for i in (0..text.len()).step_by(16) {
            set.insert(u64::from_str_radix(&text[i..i + 16], 16).ok()?);
        }
        Some(GeneratedDescriptions(set))
    }

    pub fn to_text(&self) -> String {
        let mut all: Vec<u64> = self.0.iter().copied().collect();
        all.sort_unstable();
        all.iter().map(|h| format!("{h:016x}")).collect()
    }

    fn contains(&self, model: &str, column: &str, text: &str) -> bool {
        self.0.contains(&description_hash(model, column, text))
    }
}

/// Recorded (as a "description") for each column whose key tests datachonk wrote: the next
/// merge then knows a missing `unique` was deleted by a person, not never written.
const KEY_MARK: &str = "\0key";

/// The generated key tests, by name.
const KEY_TESTS: [&str; 2] = ["unique", "not_null"];

/// FNV-1a over the parts, each followed by a 0 byte: stable across Rust versions (unlike
/// `DefaultHasher`), and collisions only matter per model and column.
fn description_hash(model: &str, column: &str, text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [model, column, text] {
        for &b in part.as_bytes().iter().chain(&[0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[derive(Debug)]
pub struct ModelsTable {
    /// The file's description when a person wrote one, else the metadata's.
    pub description: String,
    /// Keys a person added to the model, as YAML text ("" when none).
    pub extra: String,
    pub columns: Vec<ModelsColumn>,
}

#[derive(Debug)]
pub struct ModelsColumn {
    /// The file's description when a person wrote one (else the metadata's is used).
    pub description: Option<String>,
    /// Each test as YAML text: generated ones first, then a person's.
    pub tests: Vec<String>,
    /// Keys a person added to the column, as YAML text ("" when none).
    pub extra: String,
}

/// What the merge kept, added and dropped (shown to the user).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct MergeReport {
    pub kept_descriptions: usize,
    pub kept_tests: usize,
    pub kept_keys: usize,
    pub kept_models: Vec<String>,
    /// Models this file described that the project now describes in a file of its own.
    pub dropped_models: Vec<String>,
    /// `model.column` (or `model`) whose description datachonk had taken from the warehouse
    /// and now replaced with the changed comment.
    pub updated_descriptions: Vec<String>,
    /// `model.column` (or `model`) whose warehouse comment changed but whose description a
    /// person had edited: theirs was kept.
    pub kept_edited_descriptions: Vec<String>,
    pub added_columns: Vec<String>,
    pub dropped_columns: Vec<String>,
    pub comments_lost: bool,
}

impl MergeReport {
    pub fn is_empty(&self) -> bool {
        *self == MergeReport::default()
    }

    /// One line per fact, for people.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let kept: Vec<String> = [
            (self.kept_descriptions, "description"),
            (self.kept_tests, "test"),
            (self.kept_keys, "other key"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}{}", if *n == 1 { "" } else { "s" }))
        .collect();
        if !kept.is_empty() {
            out.push(format!("kept {} you added", kept.join(", ")));
        }
        if !self.kept_models.is_empty() {
            out.push(format!(
                "kept models not generated this time: {}",
                self.kept_models.join(", ")
            ));
        }
        if !self.dropped_models.is_empty() {
            out.push(format!(
                "dropped models the project describes in its own files: {}",
                self.dropped_models.join(", ")
            ));
        }
        if !self.updated_descriptions.is_empty() {
            out.push(format!(
                "updated descriptions from changed warehouse comments: {}",
                self.updated_descriptions.join(", ")
            ));
        }
        if !self.kept_edited_descriptions.is_empty() {
            out.push(format!(
                "kept your edited descriptions although the warehouse comment changed: {}",
                self.kept_edited_descriptions.join(", ")
            ));
        }
        if !self.added_columns.is_empty() {
            out.push(format!("added columns: {}", self.added_columns.join(", ")));
        }
        if !self.dropped_columns.is_empty() {
            out.push(format!(
                "dropped columns no longer in the metadata: {}",
                self.dropped_columns.join(", ")
            ));
        }
        if self.comments_lost {
            out.push("YAML comments in the file were not kept".into());
        }
        out
    }
}

/// The `models.yml` context for `source`, merged with `existing` (the file's text) when given;
/// `generated` is what datachonk last took from the metadata for that file, when recorded.
/// Returns the context, extra top-level YAML to keep, and the report.
pub fn models_context(
    source: &SourceCtx,
    existing: Option<(&Path, &str)>,
    generated: Option<&GeneratedDescriptions>,
) -> Result<(ModelsSource, Vec<String>, String, MergeReport), MergeError> {
    let mut report = MergeReport::default();
    if existing.is_none() {
        return Ok((ModelsSource::default(), Vec::new(), String::new(), report));
    }
    let parsed = match existing {
        Some((path, text)) => Some(parse(path, text)?),
        None => None,
    };
    if let Some((_, text)) = existing {
        report.comments_lost = text.lines().any(|l| l.trim_start().starts_with('#'));
    }
    let existing_models: &[Value] = parsed
        .as_ref()
        .and_then(|v| v.get("models"))
        .and_then(Value::as_seq)
        .unwrap_or(&[]);
    let by_name: std::collections::HashMap<&str, &Value> = existing_models
        .iter()
        .filter_map(|m| m.get("name").and_then(Value::as_str).map(|n| (n, m)))
        .collect();
    let find_model = |name: &str| by_name.get(name).copied();
    let tables = source
        .tables
        .iter()
        .map(|t| table(t, find_model(&t.model_name), generated, &mut report))
        .collect();
    let generated: Vec<&str> = source
        .tables
        .iter()
        .map(|t| t.model_name.as_str())
        .collect();
    let mut kept_models = Vec::new();
    for m in existing_models {
        let name = m.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
        if !generated.contains(&name) {
            report.kept_models.push(name.to_string());
            kept_models.push(yaml::emit(m));
        }
    }
    let extra_top = match &parsed {
        Some(Value::Map(entries)) => {
            let rest: Vec<(String, Value)> = entries
                .iter()
                .filter(|(k, _)| k != "models" && k != "version")
                .cloned()
                .collect();
            if rest.is_empty() {
                String::new()
            } else {
                yaml::emit(&Value::Map(rest))
            }
        }
        _ => String::new(),
    };
    Ok((ModelsSource { tables }, kept_models, extra_top, report))
}

fn parse(path: &Path, text: &str) -> Result<Value, MergeError> {
    // Read as dbt reads it: the budget grows with the file (10,000 models), a key written
    // twice keeps its last value.
    let (value, _): (Value, _) = crate::yaml_read::from_str_tolerant(text).map_err(|e| {
        let (line, column, message) = crate::yaml_read::error_parts(&e);
        MergeError {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    })?;
    match &value {
        Value::Map(_) | Value::Null => Ok(value),
        _ => Err(MergeError {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "expected a mapping with a `models:` list".into(),
        }),
    }
}

/// Which description wins for `model.column` (`column` "" for the model itself): the file's
/// `existing` one when a person wrote it, else `None` (the metadata's, `generated_now`).
fn description(
    model: &str,
    column: &str,
    existing: Option<&str>,
    generated_now: &str,
    generated: Option<&GeneratedDescriptions>,
    report: &mut MergeReport,
) -> Option<String> {
    let d = existing.filter(|d| !d.trim().is_empty() && *d != generated_now)?;
    let name = if column.is_empty() {
        model.to_string()
    } else {
        format!("{model}.{column}")
    };
    match generated {
        Some(g) if g.contains(model, column, d) => {
            report.updated_descriptions.push(name);
            None
        }
        _ => {
            report.kept_descriptions += 1;
            let comment_changed = generated.is_some_and(|g| {
                !generated_now.is_empty() && !g.contains(model, column, generated_now)
            });
            if comment_changed {
                report.kept_edited_descriptions.push(name);
            }
            Some(d.to_string())
        }
    }
}

fn table(
    t: &TableCtx,
    existing: Option<&Value>,
    generated: Option<&GeneratedDescriptions>,
    report: &mut MergeReport,
) -> ModelsTable {
    let mut description = t.description.clone();
    let mut extra = String::new();
    let mut existing_columns: &[Value] = &[];
    if let Some(m) = existing {
        let d = m.get("description").and_then(Value::as_str);
        if let Some(d) = self::description(&t.model_name, "", d, &t.description, generated, report)
        {
            description = d;
        }
        existing_columns = m.get("columns").and_then(Value::as_seq).unwrap_or(&[]);
        if let Value::Map(entries) = m {
            let rest: Vec<(String, Value)> = entries
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "name" | "description" | "columns"))
                .cloned()
                .collect();
            report.kept_keys += rest.len();
            if !rest.is_empty() {
                extra = yaml::emit(&Value::Map(rest));
            }
        }
    }
    let find_column = |alias: &str| {
        existing_columns
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(alias))
    };
    let columns = t
        .columns
        .iter()
        .map(|c| {
            let found = find_column(c.alias());
            if existing.is_some() && found.is_none() {
                report
                    .added_columns
                    .push(format!("{}.{}", t.model_name, c.alias()));
            }
            column(&t.model_name, c, found, generated, report)
        })
        .collect();
    for c in existing_columns {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
        if !t.columns.iter().any(|g| g.alias() == name) {
            report
                .dropped_columns
                .push(format!("{}.{name}", t.model_name));
        }
    }
    ModelsTable {
        description,
        extra,
        columns,
    }
}

fn column(
    model: &str,
    c: &ColumnCtx,
    existing: Option<&Value>,
    generated: Option<&GeneratedDescriptions>,
    report: &mut MergeReport,
) -> ModelsColumn {
    let mut tests: Vec<String> = Vec::new();
    let mut description = None;
    let mut extra = String::new();
    if let Some(e) = existing {
        let d = e.get("description").and_then(Value::as_str);
        description = self::description(model, c.alias(), d, c.description(), generated, report);
        let theirs: Vec<&Value> = ["data_tests", "tests"]
            .iter()
            .flat_map(|key| e.get(key).and_then(Value::as_seq).unwrap_or(&[]))
            .collect();
        // Whether datachonk wrote this column's key tests last time (unknown without a record).
        let was_key = generated.map(|g| g.contains(model, c.alias(), KEY_MARK));
        // A key that is new here gets its tests, unless the person already has a test of that
        // name (a `unique` with `severity: warn` is theirs, never doubled). A key written
        // before is the person's to keep, configure or delete.
        if c.is_primary_key && was_key != Some(true) {
            for k in KEY_TESTS {
                if !theirs.iter().any(|t| t.test_name() == Some(k)) {
                    tests.push(k.to_string());
                }
            }
        }
        for test in theirs {
            // The key moved off this column: the bare tests it implied go with it.
            let bare_key = matches!(test, Value::Str(s) if KEY_TESTS.contains(&s.as_str()));
            if was_key == Some(true) && !c.is_primary_key && bare_key {
                continue;
            }
            let text = yaml::emit(test);
            if !tests.contains(&text) {
                tests.push(text);
                report.kept_tests += usize::from(!(bare_key && c.is_primary_key));
            }
        }
        if let Value::Map(entries) = e {
            let rest: Vec<(String, Value)> = entries
                .iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "name" | "description" | "data_type" | "data_tests" | "tests"
                    )
                })
                .cloned()
                .collect();
            report.kept_keys += rest.len();
            if !rest.is_empty() {
                extra = yaml::emit(&Value::Map(rest));
            }
        }
    }
    if existing.is_none() && c.is_primary_key {
        tests = KEY_TESTS.iter().map(|k| k.to_string()).collect();
    }
    ModelsColumn {
        description,
        tests,
        extra,
    }
}
