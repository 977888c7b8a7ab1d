//! What templates see, read in place. Each table and column is a minijinja object that looks
//! its fields up in the shared contexts when a template asks for them, instead of a copy
//! converted through serde: 10,000 tables × 20 columns rendered into three files each made
//! that conversion (~40 values per column) the largest cost of `generate`, in time and memory.
//!
//! The fields and their names are the documented template context (README, "Generate"); the
//! tests check they match the contexts' serde form, so `tojson` and iteration see the same.
//! One difference, on purpose: text from the metadata leaves here made safe for dbt's Jinja
//! ([`jinja_safe`]), while the contexts keep it raw for matching and fingerprints.

use std::borrow::Cow;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value;

use crate::generate::plan::context::{jinja_safe, ColumnCtx, SourceCtx, TableCtx};
use crate::generate::reconcile::merge::{ModelsColumn, ModelsSource, ModelsTable};

const TABLE_FIELDS: &[&str] = &[
    "name",
    "identifier",
    "has_identifier",
    "quote_identifier",
    "model_name",
    "description",
    "kind",
    "database",
    "schema",
    "primary_key",
    "columns",
];

const COLUMN_FIELDS: &[&str] = &[
    "name",
    "alias",
    "quoted_name",
    "needs_quoting",
    "data_type",
    "cast_type",
    "expression",
    "description",
    "is_primary_key",
    "kind",
    "position",
];

const MODELS_TABLE_FIELDS: &[&str] = &[
    "name",
    "identifier",
    "model_name",
    "description",
    "primary_key",
    "extra",
    "columns",
];

const MODELS_COLUMN_FIELDS: &[&str] = &[
    "name",
    "alias",
    "quoted_name",
    "data_type",
    "cast_type",
    "description",
    "is_primary_key",
    "kind",
    "position",
    "tests",
    "extra",
];

/// `source.tables` of the sources YAML: every table of `source`, each read in place.
pub fn tables(source: &Arc<SourceCtx>) -> Value {
    let source = source.clone();
    seq(source.tables.len(), move |t| table(&source, t))
}

/// Table `t` of `source` (`table` of a staging model, items of `source.tables`).
pub fn table(source: &Arc<SourceCtx>, t: usize) -> Value {
    Value::from_object(TableView {
        source: source.clone(),
        t,
    })
}

/// `source.tables` of the models YAML: `merged` holds what the merge with the existing file
/// changed, table by table in `source`'s order (empty: no file, the metadata as is).
pub fn models_tables(source: &Arc<SourceCtx>, merged: &Arc<ModelsSource>) -> Value {
    let (source, merged) = (source.clone(), merged.clone());
    seq(ModelsRow::count(&source, &merged), move |t| {
        Value::from_object(ModelsTableView {
            source: source.clone(),
            merged: merged.clone(),
            t,
        })
    })
}

/// A table of the models YAML: its context and what the merge decided for it (`None`: nothing
/// to merge with). The template's view and the native renderer (`render::native`) both read
/// the merged values through it.
#[derive(Clone, Copy)]
pub struct ModelsRow<'a> {
    pub table: &'a TableCtx,
    merged: Option<&'a ModelsTable>,
}

impl<'a> ModelsRow<'a> {
    /// How many tables the models YAML lists.
    pub fn count(source: &SourceCtx, merged: &ModelsSource) -> usize {
        if merged.tables.is_empty() {
            source.tables.len()
        } else {
            source.tables.len().min(merged.tables.len())
        }
    }

    /// Table `t` of the models YAML.
    pub fn at(source: &'a SourceCtx, merged: &'a ModelsSource, t: usize) -> Option<Self> {
        let merged = if merged.tables.is_empty() {
            None
        } else {
            Some(merged.tables.get(t)?)
        };
        Some(ModelsRow {
            table: source.tables.get(t)?,
            merged,
        })
    }

    /// The file's description when a person wrote one, else the metadata's.
    pub fn description(&self) -> &'a str {
        self.merged
            .map_or(&self.table.description, |m| &m.description)
    }

    /// Keys a person added to the model, as YAML text ("" when none).
    pub fn extra(&self) -> &'a str {
        self.merged.map_or("", |m| &m.extra)
    }

    pub fn column_count(&self) -> usize {
        let len = self.table.columns.len();
        self.merged.map_or(len, |m| len.min(m.columns.len()))
    }

    pub fn column(&self, c: usize) -> Option<ModelsCol<'a>> {
        let merged = match self.merged {
            Some(m) => Some(m.columns.get(c)?),
            None => None,
        };
        Some(ModelsCol {
            column: self.table.columns.get(c)?,
            merged,
        })
    }
}

/// A column of the models YAML (see [`ModelsRow`]).
#[derive(Clone, Copy)]
pub struct ModelsCol<'a> {
    pub column: &'a ColumnCtx,
    merged: Option<&'a ModelsColumn>,
}

impl<'a> ModelsCol<'a> {
    /// The file's description when a person wrote one, else the metadata's.
    pub fn description(&self) -> &'a str {
        self.merged
            .and_then(|m| m.description.as_deref())
            .unwrap_or(self.column.description())
    }

    /// Each test as YAML text: the merged ones, else `unique` and `not_null` on the key.
    pub fn tests(&self) -> impl Iterator<Item = &'a str> {
        let (merged, generated): (&[String], &[&str]) = match self.merged {
            Some(m) => (&m.tests, &[]),
            None if self.column.is_primary_key => (&[], KEY_TESTS),
            None => (&[], &[]),
        };
        merged
            .iter()
            .map(String::as_str)
            .chain(generated.iter().copied())
    }

    /// Keys a person added to the column, as YAML text ("" when none).
    pub fn extra(&self) -> &'a str {
        self.merged.map_or("", |m| &m.extra)
    }
}

/// A column's `expression`: `quoted_name`, or `cast(quoted_name as cast_type)`; the name made
/// safe for dbt's Jinja, the cast type the person's text.
pub fn expression(c: &ColumnCtx) -> Cow<'_, str> {
    match &c.cast_type {
        Some(t) => format!("cast({} as {t})", jinja_safe(c.quoted_name())).into(),
        None => jinja_safe(c.quoted_name()),
    }
}

fn string(s: &str) -> Value {
    Value::from(s)
}

fn opt(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::from(()), Value::from)
}

/// Text from the metadata, made safe for dbt's Jinja (see [`jinja_safe`]).
fn meta(s: &str) -> Value {
    Value::from(jinja_safe(s).as_ref())
}

fn meta_opt(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::from(()), meta)
}

// Derived names (`name`, `model_name`, `alias`, `primary_key`) are snake_case and the
// configuration's (`cast_type`) is the person's: neither is escaped. Descriptions are escaped
// in the contexts already (the merge compares them as written).
fn table_field(t: &TableCtx, key: &str) -> Option<Value> {
    Some(match key {
        "name" => string(&t.name),
        "identifier" => meta(&t.identifier),
        "has_identifier" => Value::from(t.has_identifier),
        "quote_identifier" => Value::from(t.quote_identifier),
        "model_name" => string(&t.model_name),
        "description" => string(&t.description),
        "kind" => meta_opt(&t.kind),
        "database" => meta_opt(&t.database),
        "schema" => meta(&t.schema),
        "primary_key" => opt(&t.primary_key),
        _ => return None,
    })
}

fn column_field(c: &ColumnCtx, key: &str) -> Option<Value> {
    Some(match key {
        "name" => meta(c.name()),
        "alias" => string(c.alias()),
        "quoted_name" => meta(c.quoted_name()),
        "needs_quoting" => Value::from(c.needs_quoting),
        "data_type" => meta(c.data_type()),
        "cast_type" => opt(&c.cast_type),
        "expression" => Value::from(expression(c).as_ref()),
        "description" => string(c.description()),
        "is_primary_key" => Value::from(c.is_primary_key),
        "kind" => Value::from(c.kind.as_str()),
        "position" => Value::from(c.position),
        _ => return None,
    })
}

#[derive(Debug)]
struct TableView {
    source: Arc<SourceCtx>,
    t: usize,
}

impl Object for TableView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let table = self.source.tables.get(self.t)?;
        if key == "columns" {
            let view = self.clone();
            return Some(seq(table.columns.len(), move |c| {
                Value::from_object(ColumnView {
                    table: view.clone(),
                    c,
                })
            }));
        }
        table_field(table, key)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(TABLE_FIELDS)
    }
}

#[derive(Debug)]
struct ColumnView {
    table: Arc<TableView>,
    c: usize,
}

impl Object for ColumnView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let table = self.table.source.tables.get(self.table.t)?;
        column_field(table.columns.get(self.c)?, key.as_str()?)
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(COLUMN_FIELDS)
    }
}

#[derive(Debug)]
struct ModelsTableView {
    source: Arc<SourceCtx>,
    merged: Arc<ModelsSource>,
    t: usize,
}

impl ModelsTableView {
    fn row(&self) -> Option<ModelsRow<'_>> {
        ModelsRow::at(&self.source, &self.merged, self.t)
    }
}

impl Object for ModelsTableView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let row = self.row()?;
        Some(match key.as_str()? {
            "description" => string(row.description()),
            "extra" => string(row.extra()),
            "columns" => {
                let view = self.clone();
                seq(row.column_count(), move |c| {
                    Value::from_object(ModelsColumnView {
                        table: view.clone(),
                        c,
                    })
                })
            }
            key @ ("name" | "identifier" | "model_name" | "primary_key") => {
                table_field(row.table, key)?
            }
            _ => return None,
        })
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(MODELS_TABLE_FIELDS)
    }
}

#[derive(Debug)]
struct ModelsColumnView {
    table: Arc<ModelsTableView>,
    c: usize,
}

/// The tests a column gets when nothing was merged: `unique` and `not_null` on the key.
const KEY_TESTS: &[&str] = &["unique", "not_null"];

impl Object for ModelsColumnView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let col = self.table.row()?.column(self.c)?;
        Some(match key.as_str()? {
            "description" => string(col.description()),
            "tests" => Value::from_iter(col.tests().map(Value::from)),
            "extra" => string(col.extra()),
            key @ ("name" | "alias" | "quoted_name" | "data_type" | "cast_type"
            | "is_primary_key" | "kind" | "position") => column_field(col.column, key)?,
            _ => return None,
        })
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(MODELS_COLUMN_FIELDS)
    }
}

/// A sequence whose items are made only when a template reaches them.
fn seq<F>(len: usize, item: F) -> Value
where
    F: Fn(usize) -> Value + Send + Sync + 'static,
{
    Value::from_object(Seq { len, item })
}

struct Seq<F> {
    len: usize,
    item: F,
}

impl<F> std::fmt::Debug for Seq<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} items>", self.len)
    }
}

impl<F> Object for Seq<F>
where
    F: Fn(usize) -> Value + Send + Sync + 'static,
{
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = key.as_usize()?;
        (i < self.len).then(|| (self.item)(i))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GenerateConfig;
    use crate::generate::plan::context;
    use crate::generate::read::metadata::{Column, Table};

    fn source() -> Arc<SourceCtx> {
        let col = |name: &str, ty: &str, pk: bool| Column {
            name: name.into(),
            data_type: ty.into(),
            description: Some(format!("{name} here")),
            is_primary_key: pk,
        };
        let t = Table {
            source: "shop".into(),
            database: Some("wh".into()),
            schema: "raw".into(),
            name: "Order Items".into(),
            kind: Some("BASE TABLE".into()),
            description: None,
            columns: vec![col("ID", "INTEGER", true), col("select", "VARCHAR", false)],
            ..Table::default()
        };
        let mut cfg = GenerateConfig::default();
        cfg.type_map.insert("integer".into(), "bigint".into());
        Arc::new(context::build(vec![t], &cfg).unwrap().remove(0))
    }

    #[test]
    fn views_show_exactly_the_serde_form_of_the_contexts() {
        let s = source();
        let view = serde_json::to_value(tables(&s)).unwrap();
        let serde = serde_json::to_value(&s.tables).unwrap();
        assert_eq!(view, serde);
    }

    #[test]
    fn metadata_text_is_made_safe_for_dbt_jinja_and_configuration_is_not() {
        let col = |name: &str, ty: &str| Column {
            name: name.into(),
            data_type: ty.into(),
            description: None,
            is_primary_key: false,
        };
        let t = Table {
            source: "shop".into(),
            database: Some("{{ db }}".into()),
            schema: "{% raw %}".into(),
            name: "{{ t }}".into(),
            kind: None,
            description: None,
            columns: vec![col("{{ x }}", "map({# k #})"), col("{{ y }}", "int")],
            ..Table::default()
        };
        let mut cfg = GenerateConfig::default();
        cfg.type_map
            .insert("int".into(), "{{ dbt.type_int() }}".into());
        let s = Arc::new(context::build(vec![t.clone()], &cfg).unwrap().remove(0));
        let v = serde_json::to_value(tables(&s)).unwrap();
        let t0 = &v[0];
        assert_eq!(t0["name"], "t");
        assert_eq!(t0["identifier"], "{{ '{{' }} t }}");
        assert_eq!(t0["database"], "{{ '{{' }} db }}");
        assert_eq!(t0["schema"], "{{ '{%' }} raw %}");
        let c = &t0["columns"];
        assert_eq!(c[0]["name"], "{{ '{{' }} x }}");
        assert_eq!(c[0]["quoted_name"], "\"{{ '{{' }} x }}\"");
        assert_eq!(c[0]["expression"], "\"{{ '{{' }} x }}\"");
        assert_eq!(c[0]["data_type"], "map({{ '{#' }} k #})");
        assert_eq!(c[0]["alias"], "x");
        // A cast from `type_map` is the person's text, Jinja included.
        assert_eq!(
            c[1]["expression"],
            "cast(\"{{ '{{' }} y }}\" as {{ dbt.type_int() }})"
        );
        // The schema: the metadata's is escaped, a configured one is the person's.
        assert_eq!(s.schema_text(), "{{ '{%' }} raw %}");
        cfg.schema = Some("{{ target.schema }}_raw".into());
        let configured = context::build(vec![t], &cfg).unwrap().remove(0);
        assert_eq!(configured.schema_text(), "{{ target.schema }}_raw");
    }

    #[test]
    fn models_views_combine_the_context_with_the_merge() {
        let s = source();
        let empty = "models: []\n";
        let (mut merged, ..) = crate::generate::reconcile::merge::models_context(
            &s,
            Some((std::path::Path::new("m.yml"), empty)),
            None,
        )
        .unwrap();
        merged.tables[0].columns[1].description = Some("kept from the file".into());
        let merged = Arc::new(merged);
        let view = serde_json::to_value(models_tables(&s, &merged)).unwrap();
        let t = &view[0];
        let keys: Vec<&str> = t.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = MODELS_TABLE_FIELDS.to_vec();
        let mut got = keys.clone();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(t["model_name"], "stg_shop__order_items");
        // The key `ID` of `order_items` is named for its entity (dbt Labs' style).
        assert_eq!(t["primary_key"], "order_item_id");
        assert_eq!(t["columns"][0]["alias"], "order_item_id");
        let c = &t["columns"];
        assert_eq!(c[0]["tests"], serde_json::json!(["unique", "not_null"]));
        assert_eq!(c[0]["cast_type"], "bigint");
        assert_eq!(c[0]["description"], "ID here");
        assert_eq!(c[1]["description"], "kept from the file");
        assert_eq!(c[1]["alias"], "select_");
        assert_eq!(c[1]["tests"], serde_json::json!([]));
        assert_eq!(c[1].as_object().unwrap().len(), MODELS_COLUMN_FIELDS.len());
        // With no file to merge with, the same view reads the metadata alone.
        let none = Arc::new(
            crate::generate::reconcile::merge::models_context(&s, None, None)
                .unwrap()
                .0,
        );
        let plain = serde_json::to_value(models_tables(&s, &none)).unwrap();
        assert_eq!(plain[0]["columns"][0]["tests"], c[0]["tests"]);
        assert_eq!(plain[0]["columns"][1]["description"], "select here");
        assert_eq!(plain[0]["extra"], "");
    }
}
