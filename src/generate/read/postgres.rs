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
//!
//! Nothing waits forever: connecting (TCP, startup, authentication) must finish within the
//! URL's `connect_timeout` (default [`CONNECT_TIMEOUT`]), and each query within its
//! `query_timeout` parameter (ours, removed before connecting; default [`QUERY_TIMEOUT`]).
//! A port that accepts and never answers, or a server that is not PostgreSQL, is an error
//! naming the address, not a hang.

use std::future::Future;
use std::time::Duration;

use crate::generate::read::metadata::{non_empty, Column, Metadata, Table};

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

/// Connecting (TCP, startup and authentication together) when the URL sets no
/// `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Each introspection query when the URL sets no `query_timeout` (a catalog of 10,000
/// tables answers in seconds).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// What the URL says besides libpq's own parameters.
#[derive(Debug, PartialEq)]
struct OurParams {
    /// The URL without our parameters, for the driver.
    conn_str: String,
    schemas: Vec<String>,
    query_timeout: Duration,
}

/// Split the `schema` and `query_timeout` query parameters (ours, not libpq's) off the URL.
fn split_params(url: &PgUrl) -> Result<OurParams, PostgresError> {
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
    let mut query_timeout = None;
    let mut rest: Vec<(String, String)> = Vec::new();
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "schema" => schemas.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            ),
            "query_timeout" => match v.trim().parse::<u64>() {
                Ok(secs) if secs > 0 => query_timeout = Some(Duration::from_secs(secs)),
                _ => {
                    return Err(bad(format!(
                        "query_timeout must be a whole number of seconds above 0, not {v:?}"
                    )))
                }
            },
            _ => rest.push((k.into_owned(), v.into_owned())),
        }
    }
    if rest.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(rest);
    }
    Ok(OurParams {
        conn_str: u.to_string(),
        schemas,
        query_timeout: query_timeout.unwrap_or(QUERY_TIMEOUT),
    })
}

/// The connection settings of `url` (connect timeout: the URL's, else [`CONNECT_TIMEOUT`]) and
/// a runtime to run the session on: the same for introspection and `relationships` queries.
fn connection_setup(
    url: &PgUrl,
    params: &OurParams,
) -> Result<(tokio_postgres::Config, Duration, tokio::runtime::Runtime), PostgresError> {
    let mut config: tokio_postgres::Config =
        params
            .conn_str
            .parse()
            .map_err(|e: tokio_postgres::Error| PostgresError::BadUrl {
                url: url.redacted(),
                message: url.scrub(&e.to_string()),
            })?;
    let connect_timeout = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    config.connect_timeout(connect_timeout);
    config.application_name("datachonk");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PostgresError::Connect {
            url: url.redacted(),
            message: format!("cannot start the network runtime: {e}"),
        })?;
    Ok((config, connect_timeout, runtime))
}

/// Introspect the database at `url`; `schemas` applies when the URL names none (empty = all
/// user schemas).
pub fn read(url: &PgUrl, schemas: &[String]) -> Result<Metadata, PostgresError> {
    let params = split_params(url)?;
    let (config, connect_timeout, runtime) = connection_setup(url, &params)?;
    let schemas: Vec<String> = if params.schemas.is_empty() {
        schemas.to_vec()
    } else {
        params.schemas
    };
    runtime.block_on(introspect(
        url,
        &config,
        connect_timeout,
        params.query_timeout,
        schemas,
    ))
}

/// Rows of each of `sqls` (every value cast to text by the query itself), run on one
/// connection with the same URL handling, timeouts and password scrubbing as [`read`]; the
/// URL's `schema` parameter is passed to each query as `$1` (`text[]`, null = all).
/// (`datachonk relationships` reads declared foreign keys and samples values with it.)
pub fn text_queries(
    url: &PgUrl,
    sqls: &[String],
) -> Result<Vec<Vec<Vec<Option<String>>>>, PostgresError> {
    let params = split_params(url)?;
    let (config, connect_timeout, runtime) = connection_setup(url, &params)?;
    let filter: Option<Vec<String>> = (!params.schemas.is_empty()).then_some(params.schemas);
    runtime.block_on(async {
        let (client, connection) = within(connect_timeout, config.connect(tokio_postgres::NoTls))
            .await
            .map_err(|e| PostgresError::Connect {
                url: url.redacted(),
                message: match e {
                    Some(e) => url.scrub(&error_text(&e)),
                    None => format!("no answer within {} s", connect_timeout.as_secs_f64()),
                },
            })?;
        let connection = tokio::spawn(connection);
        let mut out = Vec::with_capacity(sqls.len());
        for sql in sqls {
            let rows = if sql.contains("$1") {
                within(params.query_timeout, client.query(sql.as_str(), &[&filter])).await
            } else {
                within(params.query_timeout, client.query(sql.as_str(), &[])).await
            }
            .map_err(|e| PostgresError::Query {
                url: url.redacted(),
                what: "introspection",
                message: match e {
                    Some(e) => url.scrub(&error_text(&e)),
                    None => format!(
                        "no answer within {} s (`query_timeout=SECONDS` in the URL waits longer)",
                        params.query_timeout.as_secs_f64()
                    ),
                },
            })?;
            out.push(
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.get::<_, Option<String>>(i))
                            .collect()
                    })
                    .collect(),
            );
        }
        drop(client);
        let _ = connection.await;
        Ok(out)
    })
}

/// `fut`, or `Err(None)` when it has not finished within `limit`.
async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, Option<tokio_postgres::Error>> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(Some),
        Err(_) => Err(None),
    }
}

async fn introspect(
    url: &PgUrl,
    config: &tokio_postgres::Config,
    connect_timeout: Duration,
    query_timeout: Duration,
    schemas: Vec<String>,
) -> Result<Metadata, PostgresError> {
    let (client, connection) = within(connect_timeout, config.connect(tokio_postgres::NoTls))
        .await
        .map_err(|e| PostgresError::Connect {
            url: url.redacted(),
            message: match e {
                Some(e) => url.scrub(&error_text(&e)),
                None => format!(
                    "no answer within {} s (is a PostgreSQL server listening there? `connect_timeout=SECONDS` in the URL waits longer)",
                    connect_timeout.as_secs_f64()
                ),
            },
        })?;
    // The connection does the I/O; it ends when `client` is dropped.
    let connection = tokio::spawn(connection);
    let query_err = |what: &'static str| {
        move |e: Option<tokio_postgres::Error>| PostgresError::Query {
            url: url.redacted(),
            what,
            message: match e {
                Some(e) => url.scrub(&error_text(&e)),
                None => format!(
                    "no answer within {} s (`query_timeout=SECONDS` in the URL waits longer)",
                    query_timeout.as_secs_f64()
                ),
            },
        }
    };
    let database: String = within(
        query_timeout,
        client.query_one("select current_database()::text", &[]),
    )
    .await
    .map_err(query_err("reading the database name"))?
    .get(0);
    // NULL = every user schema.
    let filter: Option<Vec<String>> = (!schemas.is_empty()).then_some(schemas);

    let mut tables: Vec<Table> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for row in within(query_timeout, client.query(TABLES_SQL, &[&filter]))
        .await
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
            ..Table::default()
        });
    }
    for row in within(query_timeout, client.query(COLUMNS_SQL, &[&filter]))
        .await
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
    for row in within(query_timeout, client.query(PRIMARY_KEYS_SQL, &[&filter]))
        .await
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
    drop(client);
    let _ = connection.await;
    Ok(Metadata { tables })
}

/// The error and its causes (tokio-postgres puts the server's message in the source).
fn error_text(e: &tokio_postgres::Error) -> String {
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
    fn schemas_and_the_query_timeout_come_off_the_url() {
        let p = split_params(&PgUrl::new(
            "postgresql://u@localhost/db?schema=raw,%20app&connect_timeout=3&query_timeout=7",
        ))
        .unwrap();
        assert_eq!(p.schemas, ["raw", "app"]);
        assert_eq!(p.conn_str, "postgresql://u@localhost/db?connect_timeout=3");
        assert_eq!(p.query_timeout, Duration::from_secs(7));
        let p = split_params(&PgUrl::new("postgresql://u@localhost/db")).unwrap();
        assert_eq!(p.query_timeout, QUERY_TIMEOUT);
        let err = split_params(&PgUrl::new("postgres://u:pw@h/db?query_timeout=0")).unwrap_err();
        assert!(err.to_string().contains("query_timeout"), "{err}");
        assert!(!err.to_string().contains(":pw@"), "{err}");
        let err = split_params(&PgUrl::new("mysql://u:pw@h/db")).unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
        assert!(!err.to_string().contains(":pw@"), "{err}");
    }
}
