//! Per-dialect identifier quoting. A raw name is quoted only when the warehouse needs it:
//! when it is not a plain identifier, when it is a reserved word, or when the warehouse
//! would fold its case (Snowflake folds unquoted names to upper case, PostgreSQL and
//! Redshift to lower case). DuckDB, BigQuery and Databricks match column names without
//! regard to case, so mixed case alone does not need quotes there.
//!
//! Real-dbt tests run on DuckDB, which ignores case: the Snowflake/PostgreSQL casing rules
//! are covered by this module's own tests.
//!
//! Over 600 lines for one reason: the reserved-word lists of six dialects are data, not logic.

use std::fmt;

/// The warehouse whose identifier rules apply (`generate.dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Duckdb,
    Postgres,
    Redshift,
    Snowflake,
    Bigquery,
    Databricks,
}

impl Dialect {
    pub const ALL: [Dialect; 6] = [
        Dialect::Duckdb,
        Dialect::Postgres,
        Dialect::Redshift,
        Dialect::Snowflake,
        Dialect::Bigquery,
        Dialect::Databricks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Duckdb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::Redshift => "redshift",
            Dialect::Snowflake => "snowflake",
            Dialect::Bigquery => "bigquery",
            Dialect::Databricks => "databricks",
        }
    }

    pub fn parse(s: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == s)
    }

    /// The longest name the warehouse holds for a column (`table: false`) or a table, and
    /// whether it counts bytes (PostgreSQL's NAMEDATALEN, Redshift) or characters. Longer
    /// names are refused: PostgreSQL would silently truncate them (two long names could
    /// then become one), the others reject them. `None`: DuckDB sets no limit.
    pub fn max_name_len(self, table: bool) -> Option<(usize, &'static str)> {
        match self {
            Dialect::Duckdb => None,
            Dialect::Postgres => Some((63, "bytes")),
            Dialect::Redshift => Some((127, "bytes")),
            Dialect::Snowflake | Dialect::Databricks => Some((255, "characters")),
            Dialect::Bigquery if table => Some((1024, "characters")),
            Dialect::Bigquery => Some((300, "characters")),
        }
    }

    /// Why the warehouse cannot hold `name` (see [`Dialect::max_name_len`]), if it cannot.
    pub fn name_problem(self, name: &str, table: bool) -> Option<String> {
        if name.is_empty() {
            return Some("the name is empty".into());
        }
        let (max, unit) = self.max_name_len(table)?;
        let len = if unit == "bytes" {
            name.len()
        } else {
            name.chars().count()
        };
        (len > max).then(|| format!("{len} {unit} long; {self} holds at most {max}"))
    }

    /// The quote character pair for identifiers.
    fn quote_char(self) -> char {
        match self {
            Dialect::Bigquery | Dialect::Databricks => '`',
            _ => '"',
        }
    }

    /// Is `word` reserved (cannot be used as an unquoted identifier)? Case-insensitive.
    pub fn is_reserved(self, word: &str) -> bool {
        let (list, starts) = match self {
            Dialect::Duckdb => (DUCKDB_RESERVED, &DUCKDB_STARTS),
            Dialect::Postgres | Dialect::Redshift => (POSTGRES_RESERVED, &POSTGRES_STARTS),
            Dialect::Snowflake => (SNOWFLAKE_RESERVED, &SNOWFLAKE_STARTS),
            Dialect::Bigquery => (BIGQUERY_RESERVED, &BIGQUERY_STARTS),
            Dialect::Databricks => (ANSI_RESERVED, &ANSI_STARTS),
        };
        // This runs twice for every column: most names are ruled out by their length and
        // first letter before any comparison.
        let w = word.as_bytes();
        let Some(&first) = w.first() else {
            return false;
        };
        let Some(bit) = letter_bit(first.to_ascii_lowercase()) else {
            return false;
        };
        if starts.get(w.len()).is_none_or(|s| s & bit == 0) {
            return false;
        }
        // Lower-cased on the stack: no reserved word is longer than the buffer.
        let mut buf = [0u8; MAX_RESERVED_LEN];
        let buf = &mut buf[..w.len()];
        buf.copy_from_slice(w);
        buf.make_ascii_lowercase();
        // Compared as bytes (the order of `str`): no UTF-8 check of the lowered copy.
        list.binary_search_by(|w| w.as_bytes().cmp(buf)).is_ok()
    }

    /// Does `raw` need quoting to be referenced exactly in this dialect?
    pub fn needs_quoting(self, raw: &str) -> bool {
        let mut chars = raw.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok || !rest_ok || self.is_reserved(raw) {
            return true;
        }
        match self {
            // Unquoted names fold to lower case: anything with a capital must be quoted.
            Dialect::Postgres | Dialect::Redshift => raw.chars().any(|c| c.is_ascii_uppercase()),
            // Unquoted names fold to upper case: anything with a lowercase letter must be quoted.
            Dialect::Snowflake => raw.chars().any(|c| c.is_ascii_lowercase()),
            // Case-insensitive matching.
            Dialect::Duckdb | Dialect::Bigquery | Dialect::Databricks => false,
        }
    }

    /// `raw` quoted when needed, with embedded quote characters doubled (or escaped with a
    /// backslash for backtick dialects).
    pub fn quote_if_needed(self, raw: &str) -> String {
        if self.needs_quoting(raw) {
            self.quote(raw)
        } else {
            raw.to_string()
        }
    }

    /// `raw` always quoted.
    pub fn quote(self, raw: &str) -> String {
        let q = self.quote_char();
        let mut out = String::with_capacity(raw.len() + 2);
        out.push(q);
        for c in raw.chars() {
            if c == q {
                if q == '`' {
                    out.push('\\');
                } else {
                    out.push(q);
                }
            } else if c == '\\' && q == '`' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push(q);
        out
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// Sorted, lowercase lists (binary search). Sources: PostgreSQL's "reserved" and "reserved
// (can be function or type)" keywords; DuckDB's `duckdb_keywords()` categories other than
// unreserved; Snowflake's and BigQuery's reserved keyword pages; SQL:2016 core for others.

/// The longest reserved word of any dialect (checked by a test).
const MAX_RESERVED_LEN: usize = 20;

/// The bit of a reserved word's first character (`a`–`z`, `_`; no other starts one).
const fn letter_bit(c: u8) -> Option<u32> {
    match c {
        b'a'..=b'z' => Some(1 << (c - b'a')),
        b'_' => Some(1 << 26),
        _ => None,
    }
}

/// For each length, the first letters of the reserved words of that length.
const fn starts(list: &[&str]) -> [u32; MAX_RESERVED_LEN + 1] {
    let mut out = [0u32; MAX_RESERVED_LEN + 1];
    let mut i = 0;
    while i < list.len() {
        let w = list[i].as_bytes();
        if let Some(bit) = letter_bit(w[0]) {
            out[w.len()] |= bit;
        }
        i += 1;
    }
    out
}

const POSTGRES_STARTS: [u32; MAX_RESERVED_LEN + 1] = starts(POSTGRES_RESERVED);
const DUCKDB_STARTS: [u32; MAX_RESERVED_LEN + 1] = starts(DUCKDB_RESERVED);
const SNOWFLAKE_STARTS: [u32; MAX_RESERVED_LEN + 1] = starts(SNOWFLAKE_RESERVED);
const BIGQUERY_STARTS: [u32; MAX_RESERVED_LEN + 1] = starts(BIGQUERY_RESERVED);
const ANSI_STARTS: [u32; MAX_RESERVED_LEN + 1] = starts(ANSI_RESERVED);

const POSTGRES_RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

const DUCKDB_RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "anti",
    "any",
    "array",
    "as",
    "asc",
    "asof",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "columns",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "default",
    "deferrable",
    "desc",
    "describe",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "generated",
    "glob",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lambda",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "map",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "pivot",
    "pivot_longer",
    "pivot_wider",
    "placing",
    "positional",
    "primary",
    "qualify",
    "references",
    "returning",
    "right",
    "select",
    "semi",
    "show",
    "similar",
    "some",
    "struct",
    "summarize",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "try_cast",
    "union",
    "unique",
    "unpivot",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

const SNOWFLAKE_RESERVED: &[&str] = &[
    "account",
    "all",
    "alter",
    "and",
    "any",
    "as",
    "between",
    "by",
    "case",
    "cast",
    "check",
    "column",
    "connect",
    "connection",
    "constraint",
    "create",
    "cross",
    "current",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_user",
    "database",
    "delete",
    "distinct",
    "drop",
    "else",
    "exists",
    "false",
    "following",
    "for",
    "from",
    "full",
    "grant",
    "group",
    "gscluster",
    "having",
    "ilike",
    "in",
    "increment",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "issue",
    "join",
    "lateral",
    "left",
    "like",
    "localtime",
    "localtimestamp",
    "minus",
    "natural",
    "not",
    "null",
    "of",
    "on",
    "or",
    "order",
    "organization",
    "qualify",
    "regexp",
    "revoke",
    "right",
    "rlike",
    "row",
    "rows",
    "sample",
    "schema",
    "select",
    "set",
    "some",
    "start",
    "table",
    "tablesample",
    "then",
    "to",
    "trigger",
    "true",
    "try_cast",
    "union",
    "unique",
    "update",
    "using",
    "values",
    "view",
    "when",
    "whenever",
    "where",
    "window",
    "with",
];

const BIGQUERY_RESERVED: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "assert_rows_modified",
    "at",
    "between",
    "by",
    "case",
    "cast",
    "collate",
    "contains",
    "create",
    "cross",
    "cube",
    "current",
    "default",
    "define",
    "desc",
    "distinct",
    "else",
    "end",
    "enum",
    "escape",
    "except",
    "exclude",
    "exists",
    "extract",
    "false",
    "fetch",
    "following",
    "for",
    "from",
    "full",
    "group",
    "grouping",
    "groups",
    "hash",
    "having",
    "if",
    "ignore",
    "in",
    "inner",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "lateral",
    "left",
    "like",
    "limit",
    "lookup",
    "merge",
    "natural",
    "new",
    "no",
    "not",
    "null",
    "nulls",
    "of",
    "on",
    "or",
    "order",
    "outer",
    "over",
    "partition",
    "preceding",
    "proto",
    "qualify",
    "range",
    "recursive",
    "respect",
    "right",
    "rollup",
    "rows",
    "select",
    "set",
    "some",
    "struct",
    "tablesample",
    "then",
    "to",
    "treat",
    "true",
    "unbounded",
    "union",
    "unnest",
    "using",
    "when",
    "where",
    "window",
    "with",
    "within",
];

const ANSI_RESERVED: &[&str] = &[
    "all",
    "alter",
    "and",
    "any",
    "array",
    "as",
    "at",
    "authorization",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "cross",
    "cube",
    "current",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_user",
    "delete",
    "describe",
    "distinct",
    "drop",
    "else",
    "end",
    "escape",
    "except",
    "exists",
    "external",
    "false",
    "fetch",
    "filter",
    "for",
    "foreign",
    "from",
    "full",
    "function",
    "global",
    "grant",
    "group",
    "grouping",
    "having",
    "in",
    "inner",
    "insert",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "local",
    "natural",
    "no",
    "not",
    "null",
    "of",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "partition",
    "position",
    "primary",
    "range",
    "references",
    "revoke",
    "right",
    "rollback",
    "rollup",
    "row",
    "rows",
    "select",
    "session_user",
    "set",
    "some",
    "start",
    "table",
    "tablesample",
    "then",
    "time",
    "to",
    "trailing",
    "true",
    "truncate",
    "union",
    "unique",
    "unknown",
    "update",
    "user",
    "using",
    "values",
    "when",
    "where",
    "window",
    "with",
];

#[cfg(test)]
mod tests;
