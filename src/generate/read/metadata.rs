//! The common table/column model every input (catalog.json, sources YAML, a live database)
//! is turned into. Everything downstream (naming, templates, planning) reads only this, so a
//! new input is one new module that produces a [`Metadata`].

/// All tables an input described, in the input's order (sorted later, see [`Metadata::sort`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub tables: Vec<Table>,
}

/// One warehouse relation, as the warehouse names it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// The dbt source this table belongs to (e.g. `shop`). Inputs that know it (a catalog's
    /// `sources`, a sources YAML) set it; otherwise the schema name is used.
    pub source: String,
    pub database: Option<String>,
    pub schema: String,
    /// The raw relation name, exactly as in the warehouse (may contain spaces, mixed case).
    pub name: String,
    /// `BASE TABLE`, `VIEW`, ... when the input says.
    pub kind: Option<String>,
    /// Table comment, when the warehouse has one.
    pub description: Option<String>,
    /// In the warehouse's column order.
    pub columns: Vec<Column>,
    /// A catalog node of the project itself (model, snapshot, test…; not a seed): never a
    /// staging input unless selected by name.
    pub project_node: bool,
    /// A catalog node that is one of the project's seeds: a model that `ref`s it stages it.
    pub seed: bool,
    /// The table's name in the project's own declaration of its source (`source(_, NAME)`),
    /// when the project declares it.
    pub declared_name: Option<String>,
}

/// One column, as the warehouse names and types it.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The raw column name (may contain spaces, mixed case, reserved words).
    pub name: String,
    /// The warehouse's type as reported (e.g. `VARCHAR`, `timestamp with time zone`); empty
    /// when the input does not say.
    pub data_type: String,
    /// Column comment, when there is one.
    pub description: Option<String>,
    /// True when the input itself says this column is the primary key (a constraint, or
    /// `unique` + `not_null` tests in a sources YAML). Configured keys are applied later.
    pub is_primary_key: bool,
}

impl Metadata {
    /// Stable order whatever the input's order: by source, then the table's dbt name
    /// (snake_case, as people read it in the YAML), then the raw name. Column order is the
    /// warehouse's and is kept.
    pub fn sort(&mut self) {
        self.tables.sort_by_cached_key(|t| {
            (
                t.source.clone(),
                crate::ident::names::snake_case(&t.name),
                t.name.clone(),
            )
        });
    }

    /// Names of the sources present, sorted and deduplicated.
    pub fn source_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tables.iter().map(|t| t.source.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Treat empty and whitespace-only comments as absent: catalogs report `""` or `null` alike.
pub fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}
