//! From metadata to what templates see: per source, its tables with derived names (dbt table
//! name, model name, column aliases), per-dialect quoting, primary keys and casts. This is
//! where collisions are refused, before anything is rendered.
//! Over 600 lines for one reason: the column derivation (aliases, casts, keys, types) is one
//! hot loop over 200,000 columns whose helpers share its caches.

use serde::Serialize;

pub use super::context_error::ContextError;
pub use super::names::{
    dbt_name, model_name, names, source_schema, Names, SourceNames, TableNames,
};
use super::names::{describe, shorten};
use crate::config::GenerateConfig;
use crate::generate::read::metadata::{Column, Table};
use crate::ident::names::{self as naming, column_alias, AliasRules};
use crate::ident::quoting::Dialect;
pub use crate::templates::escape::{escape_jinja, jinja_safe, unescape_jinja};

/// One dbt source and the tables generated for it (the `source` of every template).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceCtx {
    pub name: String,
    /// Only when configured (`generate.database`): otherwise dbt uses the target's database.
    pub database: Option<String>,
    pub schema: String,
    /// True when the schema name needs quoting in the dialect.
    pub quote_schema: bool,
    /// True when `schema` is `generate.schema` (the person's text, written as is), not the
    /// metadata's (made safe for dbt's Jinja in files).
    #[serde(skip)]
    pub schema_configured: bool,
    pub tables: Vec<TableCtx>,
}

impl SourceCtx {
    /// `schema` as files show it (see [`SourceCtx::schema_configured`]).
    pub fn schema_text(&self) -> std::borrow::Cow<'_, str> {
        if self.schema_configured {
            self.schema.as_str().into()
        } else {
            jinja_safe(&self.schema)
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableCtx {
    /// The table's name in dbt (`source('shop', NAME)`): snake_case of the raw name.
    pub name: String,
    /// The raw relation name in the warehouse.
    pub identifier: String,
    /// True when the raw name differs from `name`, so the sources YAML needs `identifier:`.
    pub has_identifier: bool,
    /// True when the raw name needs quoting in the dialect.
    pub quote_identifier: bool,
    pub model_name: String,
    /// Table comment made safe for dbt's Jinja rendering of YAML descriptions ("" when none).
    pub description: String,
    pub kind: Option<String>,
    pub database: Option<String>,
    pub schema: String,
    /// Alias of the primary-key column, when one was detected or configured.
    pub primary_key: Option<String>,
    pub columns: Vec<ColumnCtx>,
}

/// One column as templates see it (the serde form is the documented context: `name`,
/// `alias`, `quoted_name`, `needs_quoting`, `data_type`, `cast_type`, `expression`,
/// `description`, `is_primary_key`, `kind`, `position`). Its five strings share one
/// allocation and `expression` is made when asked for: 200,000 columns with seven strings
/// each were most of the peak memory of a large `generate`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnCtx {
    /// Raw name, alias, quoted name, data type and description, one after the other.
    text: Box<str>,
    /// Where the first four end in `text` (the description runs to the end).
    ends: [u32; 4],
    /// Type to cast to, from `generate.type_map`; none when no cast.
    pub cast_type: Option<String>,
    pub needs_quoting: bool,
    pub is_primary_key: bool,
    /// What the column holds (for grouping in templates).
    pub kind: Kind,
    /// 1-based position in the warehouse's column order.
    pub position: u32,
}

/// What a column holds, from its name and type. One byte, not a `&str` (200,000 columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Id,
    String,
    Numeric,
    Boolean,
    Date,
    Timestamp,
    Other,
}

impl Kind {
    /// As templates see it: `id`, `string`, `numeric`, `boolean`, `date`, `timestamp`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Id => "id",
            Kind::String => "string",
            Kind::Numeric => "numeric",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
            Kind::Timestamp => "timestamp",
            Kind::Other => "other",
        }
    }
}

impl ColumnCtx {
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: &str,
        alias: &str,
        quoted_name: &str,
        data_type: &str,
        description: &str,
        cast_type: Option<String>,
        needs_quoting: bool,
        kind: Kind,
        position: usize,
    ) -> ColumnCtx {
        let parts = [name, alias, quoted_name, data_type, description];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 4];
        for (i, part) in parts.iter().enumerate() {
            text.push_str(part);
            if let Some(end) = ends.get_mut(i) {
                // A column's texts beyond 4 GiB cannot come from any warehouse.
                *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
            }
        }
        ColumnCtx {
            text: text.into_boxed_str(),
            ends,
            cast_type,
            needs_quoting,
            is_primary_key: false,
            kind,
            // A table of more than 4 billion columns cannot come from any warehouse.
            position: u32::try_from(position).unwrap_or(u32::MAX),
        }
    }

    /// Replace the alias (a style rename): the packed text is rebuilt.
    pub(crate) fn set_alias(&mut self, alias: &str) {
        let parts = [
            self.name(),
            alias,
            self.quoted_name(),
            self.data_type(),
            self.description(),
        ]
        .map(str::to_string);
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for (i, part) in parts.iter().enumerate() {
            text.push_str(part);
            if let Some(end) = self.ends.get_mut(i) {
                *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
            }
        }
        self.text = text.into_boxed_str();
    }

    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends.get(i).map_or(self.text.len(), |&e| e as usize);
        self.text.get(start..end).unwrap_or_default()
    }

    /// Raw name, as in the warehouse.
    pub fn name(&self) -> &str {
        self.part(0)
    }
    /// snake_case alias, a valid unquoted identifier.
    pub fn alias(&self) -> &str {
        self.part(1)
    }
    /// The raw name, quoted for the dialect when it must be.
    pub fn quoted_name(&self) -> &str {
        self.part(2)
    }
    /// The warehouse's type as reported ("" when unknown).
    pub fn data_type(&self) -> &str {
        self.part(3)
    }
    /// Comment made safe for dbt's Jinja rendering ("" when none).
    pub fn description(&self) -> &str {
        self.part(4)
    }
    /// What the staging model selects: `quoted_name`, or `cast(quoted_name as cast_type)`.
    pub fn expression(&self) -> std::borrow::Cow<'_, str> {
        match &self.cast_type {
            Some(t) => format!("cast({} as {t})", self.quoted_name()).into(),
            None => self.quoted_name().into(),
        }
    }
}

impl Serialize for ColumnCtx {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Form<'a> {
            name: &'a str,
            alias: &'a str,
            quoted_name: &'a str,
            needs_quoting: bool,
            data_type: &'a str,
            cast_type: Option<&'a str>,
            expression: &'a str,
            description: &'a str,
            is_primary_key: bool,
            kind: &'static str,
            position: u32,
        }
        Form {
            name: self.name(),
            alias: self.alias(),
            quoted_name: self.quoted_name(),
            needs_quoting: self.needs_quoting,
            data_type: self.data_type(),
            cast_type: self.cast_type.as_deref(),
            expression: &self.expression(),
            description: self.description(),
            is_primary_key: self.is_primary_key,
            kind: self.kind.as_str(),
            position: self.position,
        }
        .serialize(s)
    }
}

/// Build the contexts for the selected tables, grouped by source (sorted by name; tables keep
/// their order within a source). The tables are taken, not copied: their strings move into
/// the contexts (200,000 columns copied once more were the largest part of peak memory).
pub fn build(tables: Vec<Table>, cfg: &GenerateConfig) -> Result<Vec<SourceCtx>, ContextError> {
    columns(names(tables, cfg), cfg, |_, _, _| {})
}

/// The second stage of [`build`]: every table's columns, keys and casts, derived on every
/// core. `on_table(source, table, ctx)` (indexes into `names.sources` and its tables) is
/// called on the deriving thread as soon as a table's context is made, so that work on it
/// can start before the other tables are derived. The first error in input order wins.
pub fn columns(
    names: Names,
    cfg: &GenerateConfig,
    on_table: impl Fn(usize, usize, &TableCtx) + Sync,
) -> Result<Vec<SourceCtx>, ContextError> {
    let dialect = Dialect::parse(&cfg.dialect).unwrap_or(Dialect::Postgres);
    let rules = AliasRules {
        digit_prefix: cfg.digit_prefix.clone(),
        reserved_suffix: cfg.reserved_suffix.clone(),
    };
    let Names { sources, error } = names;
    let mut shells = Vec::with_capacity(sources.len());
    let mut work = Vec::new();
    for (s, source) in sources.into_iter().enumerate() {
        let counts = source.tables.len();
        work.extend(
            source
                .tables
                .into_iter()
                .enumerate()
                .map(|(i, t)| (s, i, t)),
        );
        shells.push((source.name, source.schema, source.quote_schema, counts));
    }
    // All sources' tables in one list: a catalog of many small sources is spread too.
    let mut derived = crate::generate::parallel::map(work, |(s, i, t)| {
        let ctx = table_ctx(t, cfg, dialect, &rules)?;
        on_table(s, i, &ctx);
        Ok(ctx)
    })?;
    if let Some(e) = error {
        return Err(e);
    }
    // Split from the end: the first source keeps the list's own allocation (a single
    // source's 10,000 tables are not copied).
    let mut out: Vec<SourceCtx> = shells
        .into_iter()
        .rev()
        .map(|(name, schema, quote_schema, count)| SourceCtx {
            name,
            database: cfg.database.clone(),
            quote_schema,
            schema_configured: cfg.schema.is_some(),
            schema,
            tables: match derived.len().checked_sub(count) {
                Some(0) | None => std::mem::take(&mut derived),
                Some(at) => derived.split_off(at),
            },
        })
        .collect();
    out.reverse();
    Ok(out)
}

fn table_ctx(
    names: TableNames,
    cfg: &GenerateConfig,
    dialect: Dialect,
    rules: &AliasRules,
) -> Result<TableCtx, ContextError> {
    let TableNames {
        table: mut t,
        dbt_name,
        short_name,
        model_name,
    } = names;
    // Only whether the input declared keys is needed later, not the columns themselves.
    let declared: Vec<usize> = t
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_primary_key)
        .map(|(i, _)| i)
        .collect();
    let table = || format!("{}.{}", t.source, shorten(&t.name));
    for (i, c) in t.columns.iter().enumerate() {
        if let Some(problem) = dialect.name_problem(&c.name, false) {
            return Err(ContextError::BadColumnName {
                table: table(),
                position: i + 1,
                name: format!("{:?}", shorten(&c.name)),
                problem,
            });
        }
    }
    let mut types = TypeCache::default();
    let mut columns: Vec<ColumnCtx> = std::mem::take(&mut t.columns)
        .into_iter()
        .enumerate()
        .map(|(i, c)| column_ctx(c, i + 1, cfg, dialect, rules, &mut types))
        .collect();
    // The alias is an unquoted name in the same warehouse (snake_case can lengthen it).
    for c in &columns {
        if let Some(problem) = dialect.name_problem(c.alias(), false) {
            return Err(ContextError::BadColumnName {
                table: table(),
                position: c.position as usize,
                name: format!("{:?}", shorten(c.name())),
                problem: format!("its alias `{}` is {problem}", shorten(c.alias())),
            });
        }
    }
    let clashes = naming::collisions(columns.iter().map(|c| (c.name(), c.alias())));
    if !clashes.is_empty() {
        return Err(ContextError::ColumnCollision {
            table: format!("{}.{}", t.source, t.name),
            list: describe(&clashes, ""),
        });
    }
    let entity = singular(&short_name);
    let pk = primary_key(
        &t,
        &dbt_name,
        &short_name,
        &entity,
        &declared,
        &columns,
        cfg,
    )?;
    if let Some(i) = pk {
        columns[i].is_primary_key = true;
    }
    restyle(&mut columns, cfg, dialect, &entity, &short_name);
    if let Some(i) = pk {
        columns[i].kind = Kind::Id;
    }
    Ok(TableCtx {
        has_identifier: dbt_name != t.name,
        quote_identifier: dialect.needs_quoting(&t.name),
        name: dbt_name,
        identifier: t.name,
        model_name,
        description: t.description.map(escape_jinja_owned).unwrap_or_default(),
        kind: t.kind,
        database: t.database,
        schema: t.schema,
        primary_key: pk.map(|i| columns[i].alias().to_string()),
        columns,
    })
}

fn column_ctx(
    c: Column,
    position: usize,
    cfg: &GenerateConfig,
    dialect: Dialect,
    rules: &AliasRules,
    types: &mut TypeCache,
) -> ColumnCtx {
    let alias = column_alias(&c.name, position, rules, |a| dialect.is_reserved(a));
    let needs_quoting = dialect.needs_quoting(&c.name);
    // Lower-cased on the stack when short (this runs for every column).
    let mut buf = [0u8; 64];
    let trimmed = c.data_type.trim();
    let owned;
    let lower_type: &str = match buf.get_mut(..trimmed.len()) {
        Some(b) => {
            b.copy_from_slice(trimmed.as_bytes());
            b.make_ascii_lowercase();
            // ASCII lower-casing keeps UTF-8 valid.
            std::str::from_utf8(b).unwrap_or_default()
        }
        None => {
            owned = trimmed.to_ascii_lowercase();
            &owned
        }
    };
    let (cast_type, type_kind) = types.get(lower_type, |lower_type| {
        let cast_type = cfg.type_map.get(lower_type).cloned().or_else(|| {
            let base = lower_type.split('(').next().unwrap_or_default().trim();
            cfg.type_map.get(base).cloned()
        });
        (cast_type, type_kind(lower_type))
    });
    let quoted_name = if needs_quoting {
        std::borrow::Cow::Owned(dialect.quote(&c.name))
    } else {
        std::borrow::Cow::Borrowed(c.name.as_str())
    };
    let description = c.description.map(escape_jinja_owned).unwrap_or_default();
    ColumnCtx::new(
        &c.name,
        &alias,
        &quoted_name,
        &c.data_type,
        &description,
        cast_type,
        needs_quoting,
        if alias == "id" || alias.ends_with("_id") {
            Kind::Id
        } else {
            type_kind
        },
        position,
    )
}

/// Index of the primary-key column: configured, else what the input said, else the first
/// candidate name (`generate.primary_key.columns`) that matches an alias.
fn primary_key(
    t: &Table,
    dbt_name: &str,
    short_name: &str,
    entity: &str,
    declared: &[usize],
    columns: &[ColumnCtx],
    cfg: &GenerateConfig,
) -> Result<Option<usize>, ContextError> {
    let keys = [
        format!("{}.{}", t.source, t.name),
        format!("{}.{}", t.source, dbt_name),
        t.name.clone(),
        dbt_name.to_string(),
    ];
    if let Some(col) = keys.iter().find_map(|k| cfg.primary_keys.get(k)) {
        // `generate.primary_key.tables: {t: ~}` (or `none`) resolves to "": no key, no tests.
        if col.is_empty() {
            return Ok(None);
        }
        return match columns
            .iter()
            .position(|c| c.name() == col || c.alias() == col)
        {
            Some(i) => Ok(Some(i)),
            None => Err(ContextError::PrimaryKeyNotFound {
                table: format!("{}.{}", t.source, t.name),
                column: col.clone(),
                columns: columns
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        };
    }
    if declared.len() == 1 {
        return Ok(Some(declared[0]));
    }
    if declared.len() > 1 {
        // A composite key: `unique` on one column would be wrong, so no key tests.
        return Ok(None);
    }
    for candidate in &cfg.primary_key_columns {
        let want = candidate
            .replace("{table}", short_name)
            .replace("{entity}", entity);
        if let Some(i) = columns.iter().position(|c| c.alias() == want) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// dbt Labs' style-guide renames ([`naming::StyleRules`]), each made only when the new alias
/// is free (no other column has it), not reserved and fits the dialect: a rename that would
/// clash keeps the plain alias rather than fail the table.
fn restyle(
    columns: &mut [ColumnCtx],
    cfg: &GenerateConfig,
    dialect: Dialect,
    entity: &str,
    table: &str,
) {
    let rules = naming::StyleRules {
        key: &cfg.key_alias,
        timestamp_suffix: &cfg.timestamp_suffix,
        date_suffix: &cfg.date_suffix,
        boolean_prefix: &cfg.boolean_prefix,
    };
    for i in 0..columns.len() {
        let c = &columns[i];
        // The kind the type gave (an `_id` name made it `Id`: no date or time rule applies).
        let holds = if c.data_type().trim().is_empty() {
            naming::Holds::Unknown
        } else {
            match c.kind {
                Kind::Timestamp => naming::Holds::Timestamp,
                Kind::Date => naming::Holds::Date,
                Kind::Boolean => naming::Holds::Boolean,
                _ => naming::Holds::Other,
            }
        };
        let Some(new) = rules.rename(c.alias(), holds, c.is_primary_key, entity, table) else {
            continue;
        };
        let free = !columns.iter().any(|o| o.alias() == new)
            && !dialect.is_reserved(&new)
            && dialect.name_problem(&new, false).is_none();
        if free {
            columns[i].set_alias(&new);
        }
    }
}

/// The entity a table holds: the singular of its (short) name, `orders` → `order`.
fn singular(name: &str) -> String {
    crate::ident::names::singular(name)
}

/// What a column's (lower-cased) type makes it, unless its name makes it an id.
fn type_kind(lower_type: &str) -> Kind {
    let has = |words: &[&str]| words.iter().any(|w| lower_type.contains(w));
    if has(&["bool"]) {
        Kind::Boolean
    } else if has(&["timestamp", "datetime"]) {
        Kind::Timestamp
    } else if has(&["date"]) {
        Kind::Date
    } else if has(&[
        "int",
        "numeric",
        "decimal",
        "float",
        "double",
        "real",
        "number",
        "bignumeric",
        "hugeint",
    ]) {
        Kind::Numeric
    } else if has(&["char", "text", "string", "uuid"]) {
        Kind::String
    } else {
        Kind::Other
    }
}

/// A table's few distinct column types, each with its cast and kind: deciding them takes up
/// to 16 substring searches, for every one of 200,000 columns in a large catalog.
#[derive(Default)]
struct TypeCache(Vec<(Box<str>, Option<String>, Kind)>);

impl TypeCache {
    /// Beyond this many distinct types in one table, the rest are decided each time.
    const MAX: usize = 16;

    fn get(
        &mut self,
        lower_type: &str,
        decide: impl FnOnce(&str) -> (Option<String>, Kind),
    ) -> (Option<String>, Kind) {
        if let Some((_, cast, kind)) = self.0.iter().find(|(t, ..)| &**t == lower_type) {
            return (cast.clone(), *kind);
        }
        let (cast, kind) = decide(lower_type);
        if self.0.len() < Self::MAX {
            self.0.push((lower_type.into(), cast.clone(), kind));
        }
        (cast, kind)
    }
}

/// [`escape_jinja`] that keeps the string (no copy) when there is nothing to escape.
fn escape_jinja_owned(s: String) -> String {
    if s.contains('{') {
        escape_jinja(&s)
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
