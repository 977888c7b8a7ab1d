//! `--from-warehouse SCHEMA[.TABLE]…`: the tables and columns of those schemas, asked of the
//! project's own dbt (`dbt show --inline … --output json`), so every warehouse dbt reaches is
//! read with the project's profile and target and no driver in this crate.
//!
//! One query serves every adapter: it is Jinja that dbt renders, branching on `target.type`
//! to the adapter's own catalog (DuckDB's `duckdb_columns()`, PostgreSQL's `pg_catalog`,
//! Redshift's `svv_columns`, BigQuery's per-dataset `INFORMATION_SCHEMA.COLUMNS`, Snowflake's
//! and Databricks' `information_schema.columns`, the standard `information_schema.columns`
//! for any other adapter). Every branch answers the same columns, so the rows become the same
//! [`Metadata`] the catalog path produces; each schema is a dbt source of the same name.
//!
//! dbt runs with `--log-format json`: its answer is the `ShowNode` event's `preview` (a JSON
//! array of rows), its failures the events of level `error`. So what the person sees is
//! dbt's message, never a Python traceback nor our parsing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::generate::plan::context::escape_jinja;
use crate::generate::read::metadata::{non_empty, Column, Metadata, Table};
use crate::ident::names::snake_case;

/// The environment variable naming the dbt executable (default: `dbt` on PATH).
pub const DBT_ENV: &str = "DATACHONK_DBT";

/// What to read: schemas (some narrowed to tables), through the dbt project at `root`.
#[derive(Debug, Clone)]
pub struct Warehouse {
    pub root: PathBuf,
    pub specs: Vec<Spec>,
    /// dbt's `--target` (default: the profile's).
    pub target: Option<String>,
    /// How long dbt may take to answer before it is stopped (`--dbt-timeout`).
    pub timeout: std::time::Duration,
}

/// How long `dbt show` may take by default: a cold dbt parses the project first, and a busy
/// warehouse queues the query, but a quarter of an hour is a hang, not a slow answer.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// `SCHEMA` or `SCHEMA.TABLE` (matched case-insensitively, as unquoted names are).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub schema: String,
    pub table: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("--from-warehouse {0:?}: expected SCHEMA or SCHEMA.TABLE")]
    BadSpec(String),
    #[error("cannot run dbt ({program}): {reason}")]
    DbtMissing { program: String, reason: String },
    #[error("dbt could not read the warehouse: {message}")]
    Dbt { message: String },
    #[error("dbt did not answer within {after}: stopped it{last}")]
    TimedOut { after: String, last: String },
    #[error("dbt answered, but not with rows datachonk can read: {detail}")]
    Answer { detail: String },
    #[error("the warehouse has no {what} (as dbt's target sees it)")]
    NotFound { what: String },
}

impl WarehouseError {
    pub fn hint(&self) -> Option<String> {
        match self {
            WarehouseError::DbtMissing { .. } => Some(format!(
                "install dbt with the project's adapter (`pip install dbt-<adapter>`), or set {DBT_ENV} to the dbt to run"
            )),
            WarehouseError::Dbt { .. } => Some(
                "dbt runs in the project's folder with its profile (profiles.yml there, DBT_PROFILES_DIR or ~/.dbt); `dbt debug` shows what it sees, --target picks a target".into(),
            ),
            WarehouseError::TimedOut { .. } => Some(
                "`dbt debug` in the project checks the connection; --dbt-timeout gives dbt longer (e.g. 30m)".into(),
            ),
            WarehouseError::NotFound { .. } => {
                Some("schemas and tables are matched without regard to case".into())
            }
            _ => None,
        }
    }
}

impl Warehouse {
    /// `args` as given on the command line: `SCHEMA[.TABLE]`, each possibly a comma list.
    pub fn new(
        root: PathBuf,
        args: &[String],
        target: Option<String>,
    ) -> Result<Warehouse, WarehouseError> {
        let mut specs = Vec::new();
        for arg in args.iter().flat_map(|a| a.split(',')) {
            let arg = arg.trim();
            let (schema, table) = match arg.split_once('.') {
                Some((s, t)) => (s, Some(t)),
                None => (arg, None),
            };
            if schema.is_empty() || table.is_some_and(|t| t.is_empty() || t.contains('.')) {
                return Err(WarehouseError::BadSpec(arg.to_string()));
            }
            specs.push(Spec {
                schema: schema.to_string(),
                table: table.map(str::to_string),
            });
        }
        if specs.is_empty() {
            return Err(WarehouseError::BadSpec(String::new()));
        }
        Ok(Warehouse {
            root,
            specs,
            target,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// `SCHEMA[.TABLE], …` for messages and commit messages.
    pub fn describe(&self) -> String {
        let specs: Vec<String> = self
            .specs
            .iter()
            .map(|s| match &s.table {
                Some(t) => format!("{}.{t}", s.schema),
                None => s.schema.clone(),
            })
            .collect();
        format!("warehouse {}", specs.join(", "))
    }

    /// What to stage when tables are named: every table of the schemas is read (the
    /// source's YAML lists the ones staged before too), `SCHEMA.TABLE` selects one. Empty
    /// (everything read) when only schemas are named. A schema named alone selects the
    /// source of its name (snake_case).
    pub fn selection(&self) -> Vec<String> {
        if self.specs.iter().all(|s| s.table.is_none()) {
            return Vec::new();
        }
        self.specs
            .iter()
            .map(|s| match &s.table {
                Some(t) => format!("*.{}", snake_case(t)),
                None => snake_case(&s.schema),
            })
            .collect()
    }

    /// The schemas asked for, lower-cased and deduplicated, in order.
    fn schemas(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.specs {
            let lower = s.schema.to_lowercase();
            if !out.contains(&lower) {
                out.push(lower);
            }
        }
        out
    }
}

/// Ask dbt, and turn its rows into metadata.
pub fn read(w: &Warehouse) -> Result<Metadata, WarehouseError> {
    let program = std::env::var_os(DBT_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("dbt"));
    let sql = query(&w.schemas());
    let mut cmd = Command::new(&program);
    cmd.args(["show", "--inline", &sql])
        .args(["--output", "json", "--limit", "-1", "--log-format", "json"])
        .arg("--project-dir")
        .arg(&w.root)
        .current_dir(&w.root)
        .env("DBT_USE_COLORS", "false");
    if let Some(t) = &w.target {
        cmd.args(["--target", t]);
    }
    let deadline = std::time::Instant::now() + w.timeout;
    let out = crate::child::run(cmd, &|| false, Some(deadline)).map_err(|e| {
        WarehouseError::DbtMissing {
            program: program.display().to_string(),
            reason: match e.source.kind() {
                std::io::ErrorKind::NotFound => "not found".into(),
                std::io::ErrorKind::PermissionDenied => "not executable".into(),
                _ => e.source.to_string(),
            },
        }
    })?;
    let status = match out.ending {
        crate::child::Ending::Exited(status) => status,
        _ => {
            return Err(WarehouseError::TimedOut {
                after: humantime::format_duration(w.timeout).to_string(),
                last: last_words(&out.stdout, &out.stderr),
            })
        }
    };
    let rows = match rows_of(&out.stdout) {
        Some(rows) if status.success() => rows?,
        _ => {
            return Err(WarehouseError::Dbt {
                message: failure(&out.stdout, &out.stderr, status),
            })
        }
    };
    metadata(rows, &w.specs)
}

/// What dbt said last before it was stopped (its last log message), as `; dbt's last words:
/// "…"`, or nothing.
fn last_words(stdout: &str, stderr: &str) -> String {
    let last = stdout
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v["info"]["msg"].as_str().map(str::to_string))
        .or_else(|| {
            stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        });
    match last {
        Some(l) => format!(
            "; its last words: {:?}",
            crate::terminal_text::escape(l.trim())
                .chars()
                .take(200)
                .collect::<String>()
        ),
        None => String::new(),
    }
}

/// The Jinja dbt renders into the adapter's query over `schemas` (lower-case). Every branch
/// answers `table_schema, table_name, column_name, data_type, ordinal_position,
/// table_comment, column_comment, is_primary_key` (nulls where the adapter does not say).
pub fn query(schemas: &[String]) -> String {
    // Names go into SQL string literals (quotes doubled) inside Jinja (delimiters escaped).
    let literal = |s: &str| escape_jinja(&format!("'{}'", s.replace('\'', "''")));
    let list = schemas
        .iter()
        .map(|s| literal(s))
        .collect::<Vec<_>>()
        .join(", ");
    let bigquery = schemas
        .iter()
        .map(|s| {
            format!(
                "select table_schema, table_name, column_name, data_type, ordinal_position, \
                 cast(null as string) as table_comment, cast(null as string) as column_comment, \
                 cast(null as bool) as is_primary_key \
                 from `{{{{ target.database }}}}`.`{}`.INFORMATION_SCHEMA.COLUMNS",
                escape_jinja(&s.replace('`', ""))
            )
        })
        .collect::<Vec<_>>()
        .join("\nunion all\n");
    format!(
        "{{%- set t = target.type -%}}
{{%- if t == 'duckdb' -%}}
select c.schema_name as table_schema, c.table_name, c.column_name, c.data_type,
    c.column_index as ordinal_position, t.comment as table_comment, c.comment as column_comment,
    cast(null as boolean) as is_primary_key
from duckdb_columns() c
left join duckdb_tables() t
    on t.database_name = c.database_name and t.schema_name = c.schema_name
    and t.table_name = c.table_name
where c.database_name = current_database() and lower(c.schema_name) in ({list})
{{%- elif t == 'postgres' -%}}
select n.nspname as table_schema, c.relname as table_name, a.attname as column_name,
    format_type(a.atttypid, a.atttypmod) as data_type, a.attnum as ordinal_position,
    obj_description(c.oid, 'pg_class') as table_comment,
    col_description(c.oid, a.attnum) as column_comment,
    exists (select 1 from pg_catalog.pg_index i
            where i.indrelid = c.oid and i.indisprimary and a.attnum = any(i.indkey))
        as is_primary_key
from pg_catalog.pg_attribute a
join pg_catalog.pg_class c on c.oid = a.attrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'v', 'm', 'f', 'p') and a.attnum > 0 and not a.attisdropped
    and lower(n.nspname) in ({list})
{{%- elif t == 'redshift' -%}}
select table_schema, table_name, column_name, data_type, ordinal_position,
    cast(null as varchar) as table_comment, remarks as column_comment,
    cast(null as boolean) as is_primary_key
from svv_columns
where lower(table_schema) in ({list})
{{%- elif t == 'bigquery' -%}}
{bigquery}
{{%- elif t == 'snowflake' -%}}
select table_schema, table_name, column_name, data_type, ordinal_position,
    cast(null as varchar) as table_comment, comment as column_comment,
    cast(null as boolean) as is_primary_key
from {{{{ target.database }}}}.information_schema.columns
where lower(table_schema) in ({list})
{{%- elif t == 'databricks' -%}}
select table_schema, table_name, column_name, full_data_type as data_type, ordinal_position,
    cast(null as string) as table_comment, comment as column_comment,
    cast(null as boolean) as is_primary_key
from `{{{{ target.database }}}}`.information_schema.columns
where lower(table_schema) in ({list})
{{%- else -%}}
select table_schema, table_name, column_name, data_type, ordinal_position,
    cast(null as varchar) as table_comment, cast(null as varchar) as column_comment,
    cast(null as boolean) as is_primary_key
from information_schema.columns
where lower(table_schema) in ({list})
{{%- endif -%}}"
    )
}

/// The rows of the `ShowNode` event in dbt's JSON log lines; `None` when there is none (dbt
/// failed before showing anything).
fn rows_of(stdout: &str) -> Option<Result<Vec<Value>, WarehouseError>> {
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if event["info"]["name"] != "ShowNode" {
            continue;
        }
        let preview = event["data"]["preview"].as_str().unwrap_or("[]");
        return Some(match serde_json::from_str::<Value>(preview) {
            Ok(Value::Array(rows)) => Ok(rows),
            Ok(other) => Err(WarehouseError::Answer {
                detail: format!("expected a list of rows, got {}", kind_of(&other)),
            }),
            Err(e) => Err(WarehouseError::Answer {
                detail: format!("its preview is not JSON ({e})"),
            }),
        });
    }
    None
}

/// What dbt said when it failed: its error events' messages, else the last line it printed
/// (a crash's last line names the exception, not its traceback).
fn failure(stdout: &str, stderr: &str, status: std::process::ExitStatus) -> String {
    let mut messages: Vec<String> = Vec::new();
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if event["info"]["level"] != "error" {
            continue;
        }
        let msg = event["info"]["msg"].as_str().unwrap_or_default();
        let msg = msg
            .strip_prefix("Encountered an error:\n")
            .unwrap_or(msg)
            .trim();
        if !msg.is_empty() && !messages.iter().any(|m| m == msg) {
            messages.push(msg.to_string());
        }
    }
    if !messages.is_empty() {
        return messages.join("\n");
    }
    let last = stderr
        .lines()
        .chain(stdout.lines())
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('{'));
    match last {
        Some(l) => format!("{l} ({status})"),
        None => format!("it exited with {status} and printed no error"),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// One row of the answer, its keys lower-cased (Snowflake answers in upper case).
struct Row {
    schema: String,
    table: String,
    column: String,
    data_type: String,
    position: f64,
    table_comment: Option<String>,
    column_comment: Option<String>,
    is_primary_key: bool,
}

fn row(v: &Value, index: usize) -> Result<Row, WarehouseError> {
    let Value::Object(map) = v else {
        return Err(WarehouseError::Answer {
            detail: format!("row {} is {}, not an object", index + 1, kind_of(v)),
        });
    };
    let get = |key: &str| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
            .unwrap_or(&Value::Null)
    };
    let text = |key: &str| match get(key) {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    let required = |key: &str| {
        text(key).ok_or_else(|| WarehouseError::Answer {
            detail: format!("row {} has no {key}", index + 1),
        })
    };
    Ok(Row {
        schema: required("table_schema")?,
        table: required("table_name")?,
        column: required("column_name")?,
        data_type: text("data_type").unwrap_or_default(),
        position: match get("ordinal_position") {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::String(s) => s.trim().parse().unwrap_or(0.0),
            _ => 0.0,
        },
        table_comment: non_empty(text("table_comment")),
        column_comment: non_empty(text("column_comment")),
        is_primary_key: matches!(get("is_primary_key"), Value::Bool(true)),
    })
}

/// Rows into tables (columns in the warehouse's order), every table of the schemas `specs`
/// name; a named table or a schema with no table is an error (a typo must not plan nothing
/// quietly).
fn metadata(rows: Vec<Value>, specs: &[Spec]) -> Result<Metadata, WarehouseError> {
    // Per (schema, table): the table, and its columns with their ordinal positions.
    type Columns = Vec<(f64, Column)>;
    let mut tables: BTreeMap<(String, String), (Table, Columns)> = BTreeMap::new();
    for (i, v) in rows.iter().enumerate() {
        let r = row(v, i)?;
        let wanted = specs
            .iter()
            .any(|s| s.schema.to_lowercase() == r.schema.to_lowercase());
        if !wanted {
            continue;
        }
        let entry = tables
            .entry((r.schema.clone(), r.table.clone()))
            .or_insert_with(|| {
                let table = Table {
                    // `RAW` (Snowflake) or `Raw CRM` as a source people type: `raw`, `raw_crm`.
                    source: snake_case(&r.schema),
                    schema: r.schema.clone(),
                    name: r.table.clone(),
                    description: r.table_comment.clone(),
                    ..Table::default()
                };
                (table, Vec::new())
            });
        // Every row repeats its table's comment, or some leave it out: the first one given.
        if entry.0.description.is_none() {
            entry.0.description = r.table_comment;
        }
        entry.1.push((
            r.position,
            Column {
                name: r.column,
                data_type: r.data_type,
                description: r.column_comment,
                is_primary_key: r.is_primary_key,
            },
        ));
    }
    for s in specs {
        let found = tables.keys().any(|(schema, table)| {
            schema.to_lowercase() == s.schema.to_lowercase()
                && s.table
                    .as_ref()
                    .is_none_or(|t| t.to_lowercase() == table.to_lowercase())
        });
        if !found {
            return Err(WarehouseError::NotFound {
                what: match &s.table {
                    Some(t) => format!("table {}.{t}", s.schema),
                    None => format!("table in schema {}", s.schema),
                },
            });
        }
    }
    let tables = tables
        .into_values()
        .map(|(mut table, mut columns)| {
            columns.sort_by(|a, b| a.0.total_cmp(&b.0));
            table.columns = columns.into_iter().map(|(_, c)| c).collect();
            table
        })
        .collect();
    Ok(Metadata { tables })
}

#[cfg(test)]
mod tests;
