//! `--from-postgres URL`: live introspection of a PostgreSQL database through
//! `information_schema` (tables, columns in ordinal order, primary keys from
//! `table_constraints` + `key_column_usage`) and `pg_catalog` (types as `format_type` spells
//! them, as dbt-postgres's own catalog does; comments via `obj_description`/`col_description`).
//!
//! Which schemas: the URL's `schema` query parameter (comma-separated; removed before
//! connecting), else `generate.schema`, else every schema except PostgreSQL's own. Each schema
//! becomes a dbt source of the same name (unless `generate.source` names one).
//!
//! The URL may carry a password: it only ever leaves this module redacted ([`PgUrl`]'s
//! `Display`/`Debug`, and every error message is scrubbed of it).

use std::time::Duration;

use super::metadata::{non_empty, Column, Metadata, Table};

/// A connection URL whose password is never shown.
#[derive(Clone)]
pub struct PgUrl {
    raw: String,
}

impl PgUrl {
    pub fn new(raw: impl Into<String>) -> PgUrl {
        PgUrl { raw: raw.into() }
    }

    /// The URL with its password (if any) replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.raw) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                u.to_string()
            }
            // Not a URL (e.g. `host=... password=...`): show nothing that could be a secret.
            Err(_) => "(a PostgreSQL connection string)".into(),
        }
    }

    /// The password in the URL, raw and percent-decoded (to scrub messages of both).
    fn secrets(&self) -> Vec<String> {
        let Ok(u) = url::Url::parse(&self.raw) else {
            return vec![self.raw.clone()];
        };
        let Some(p) = u.password() else {
            return Vec::new();
        };
        let mut out = vec![p.to_string()];
        if let Ok(decoded) = percent_decode(p) {
            if decoded != p {
                out.push(decoded);
            }
        }
        out.retain(|s| !s.is_empty());
        out
    }

    fn scrub(&self, message: &str) -> String {
        let mut m = message.to_string();
        for s in self.secrets() {
            m = m.replace(&s, "***");
        }
        m
    }
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgUrl({})", self.redacted())
    }
}

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
}

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("--from-postgres {url}: {message}")]
    BadUrl { url: String, message: String },
    #[error("cannot connect to PostgreSQL at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("PostgreSQL at {url}: {what} failed: {message}")]
    Query {
        url: String,
        what: &'static str,
        message: String,
    },
}

/// Split the `schema` query parameter (ours, not libpq's) off the URL.
fn split_schemas(url: &PgUrl) -> Result<(String, Vec<String>), PostgresError> {
    let bad = |message: String| PostgresError::BadUrl {
        url: url.redacted(),
        message,
    };
    let mut u = url::Url::parse(&url.raw).map_err(|e| bad(e.to_string()))?;
    if !matches!(u.scheme(), "postgres" | "postgresql") {
        return Err(bad(format!(
            "expected a postgres:// or postgresql:// URL, not {}://",
            u.scheme()
        )));
    }
    let mut schemas = Vec::new();
    let rest: Vec<(String, String)> = u
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "schema" {
                schemas.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if rest.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(rest);
    }
    Ok((u.to_string(), schemas))
}

/// Introspect the database at `url`; `schemas` applies when the URL names none (empty = all
/// user schemas).
pub fn read(url: &PgUrl, schemas: &[String]) -> Result<Metadata, PostgresError> {
    let (conn_str, from_url) = split_schemas(url)?;
    let schemas: Vec<String> = if from_url.is_empty() {
        schemas.to_vec()
    } else {
        from_url
    };
    let mut config: postgres::Config =
        conn_str
            .parse()
            .map_err(|e: postgres::Error| PostgresError::BadUrl {
                url: url.redacted(),
                message: url.scrub(&e.to_string()),
            })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    config.application_name("datachonk");
    let mut client = config
        .connect(postgres::NoTls)
        .map_err(|e| PostgresError::Connect {
            url: url.redacted(),
            message: url.scrub(&error_text(&e)),
        })?;
    let query_err = |what: &'static str| {
        move |e: postgres::Error| PostgresError::Query {
            url: url.redacted(),
            what,
            message: url.scrub(&error_text(&e)),
        }
    };
    let database: String = client
        .query_one("select current_database()::text", &[])
        .map_err(query_err("reading the database name"))?
        .get(0);
    // NULL = every user schema.
    let filter: Option<Vec<String>> = (!schemas.is_empty()).then_some(schemas);

    let mut tables: Vec<Table> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for row in client
        .query(TABLES_SQL, &[&filter])
        .map_err(query_err("listing tables"))?
    {
        let schema: String = row.get(0);
        let name: String = row.get(1);
        index.insert((schema.clone(), name.clone()), tables.len());
        tables.push(Table {
            source: schema.clone(),
            database: Some(database.clone()),
            schema,
            name,
            kind: row.get(2),
            description: non_empty(row.get(3)),
            columns: Vec::new(),
        });
    }
    for row in client
        .query(COLUMNS_SQL, &[&filter])
        .map_err(query_err("listing columns"))?
    {
        let key: (String, String) = (row.get(0), row.get(1));
        if let Some(&i) = index.get(&key) {
            tables[i].columns.push(Column {
                name: row.get(2),
                data_type: row.get::<_, Option<String>>(3).unwrap_or_default(),
                description: non_empty(row.get(4)),
                is_primary_key: false,
            });
        }
    }
    for row in client
        .query(PRIMARY_KEYS_SQL, &[&filter])
        .map_err(query_err("reading primary keys"))?
    {
        let key: (String, String) = (row.get(0), row.get(1));
        let column: String = row.get(2);
        if let Some(&i) = index.get(&key) {
            if let Some(c) = tables[i].columns.iter_mut().find(|c| c.name == column) {
                c.is_primary_key = true;
            }
        }
    }
    Ok(Metadata { tables })
}

/// The error and its causes (tokio-postgres puts the server's message in the source).
fn error_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// Tables and views the user may see, with their comments. PostgreSQL's own schemas are left
/// out; `$1` (text[]) narrows to given schemas, NULL = all.
const TABLES_SQL: &str = "
    select t.table_schema::text, t.table_name::text, t.table_type::text,
           obj_description(c.oid, 'pg_class')
      from information_schema.tables t
      join pg_catalog.pg_namespace n on n.nspname = t.table_schema
      join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = t.table_name
     where t.table_schema not in ('pg_catalog', 'information_schema')
       and t.table_schema not like 'pg\\_toast%' and t.table_schema not like 'pg\\_temp%'
       and ($1::text[] is null or t.table_schema = any($1))
     order by 1, 2";

/// Columns in the table's order (`ordinal_position` is the attribute number, so it also keys
/// `col_description`), typed as `format_type` spells them (`character varying(20)`,
/// `numeric(18,2)`, `text[]`), as dbt-postgres's catalog does.
const COLUMNS_SQL: &str = "
    select t.table_schema::text, t.table_name::text, t.column_name::text,
           pg_catalog.format_type(a.atttypid, a.atttypmod),
           col_description(c.oid, t.ordinal_position::int)
      from information_schema.columns t
      join pg_catalog.pg_namespace n on n.nspname = t.table_schema
      join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = t.table_name
      join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attname = t.column_name
     where t.table_schema not in ('pg_catalog', 'information_schema')
       and t.table_schema not like 'pg\\_toast%' and t.table_schema not like 'pg\\_temp%'
       and ($1::text[] is null or t.table_schema = any($1))
     order by 1, 2, t.ordinal_position";

/// Primary-key columns (a composite key yields several rows for one table).
const PRIMARY_KEYS_SQL: &str = "
    select t.table_schema::text, t.table_name::text, k.column_name::text
      from information_schema.table_constraints t
      join information_schema.key_column_usage k
        on k.constraint_schema = t.constraint_schema and k.constraint_name = t.constraint_name
       and k.table_schema = t.table_schema and k.table_name = t.table_name
     where t.constraint_type = 'PRIMARY KEY'
       and ($1::text[] is null or t.table_schema = any($1))
     order by 1, 2, k.ordinal_position";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let url = PgUrl::new("postgres://ada:s%40cret-pw@127.0.0.1:5432/shop?schema=raw,app");
        assert_eq!(
            url.redacted(),
            "postgres://ada:***@127.0.0.1:5432/shop?schema=raw,app"
        );
        assert!(!format!("{url:?}").contains("cret"));
        assert_eq!(
            url.scrub("bad password s@cret-pw / s%40cret-pw"),
            "bad password *** / ***"
        );
        let opaque = PgUrl::new("host=x password=hunter2");
        assert!(!opaque.redacted().contains("hunter2"));
    }

    #[test]
    fn schemas_come_off_the_url() {
        let (conn, schemas) = split_schemas(&PgUrl::new(
            "postgresql://u@localhost/db?schema=raw,%20app&connect_timeout=3",
        ))
        .unwrap();
        assert_eq!(schemas, ["raw", "app"]);
        assert_eq!(conn, "postgresql://u@localhost/db?connect_timeout=3");
        let err = split_schemas(&PgUrl::new("mysql://u:pw@h/db")).unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
        assert!(!err.to_string().contains(":pw@"), "{err}");
    }
}
