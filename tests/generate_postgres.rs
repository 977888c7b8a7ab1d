//! `generate --from-postgres` against a real PostgreSQL server: a throwaway cluster on
//! loopback (initdb + pg_ctl from the system's packages, as the `postgres` user when the tests
//! run as root, which initdb refuses), tables with awkward names, keys and comments, then
//! `dbt parse --warn-error` and `dbt build` through dbt-postgres against the same server.
//!
//! PostgreSQL and dbt-postgres come from `bash scripts/setup-test-deps`. Without them these
//! tests FAIL with that instruction: they never pass silently.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;
use real_dbt::dbt;

mod pg_server;
use pg_server::{free_port, Server};

const SETUP_SQL: &str = r#"
create role ada login superuser password 's3cret-pw';
create schema shop;
create table shop."Order Items" (order_id integer, "Line No" integer, "SKU" text,
                                 primary key (order_id, "Line No"));
comment on table shop."Order Items" is 'One row per order line';
insert into shop."Order Items" values (1, 1, 'A'), (1, 2, 'B'), (2, 1, 'A');
create table shop.customers ("CustomerID" integer primary key, "First Name" varchar(40),
                             "select" text, "createdAt" timestamptz);
comment on column shop.customers."CustomerID" is 'The customer''s id';
comment on column shop.customers."First Name" is 'Given name, {{ not jinja }}';
insert into shop.customers values (10, 'Ada', 'x', now()), (11, 'Grace', 'y', now());
create table shop."Group" (id bigint primary key, "order" numeric(18,2), "Note" text);
alter table shop."Group" drop column "Note";
insert into shop."Group" values (1, 1.50), (2, 2.25);
create schema other;
create table other.not_selected (x integer);
"#;

fn dbt_path() -> PathBuf {
    let dbt = real_dbt::dbt_path();
    let venv = dbt
        .parent()
        .and_then(|b| b.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let probe = Process::new(dbt.with_file_name("python"))
        .args(["-c", "import dbt.adapters.postgres"])
        .output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "dbt-postgres is not installed in {}: run `bash scripts/setup-test-deps`",
        venv.display()
    );
    dbt
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn from_postgres_detects_keys_comments_quoting_and_dbt_builds_it() {
    let dbt_bin = dbt_path();
    let server = Server::start();
    let mut client = postgres::Client::connect(&server.url("postgres", ""), postgres::NoTls)
        .expect("connect to the test server");
    client.batch_execute(SETUP_SQL).expect("create the tables");

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    std::fs::write(p.join("dbt_project.yml"), "name: chonk\n").unwrap();
    std::fs::write(p.join("datachonk.yaml"), "generate:\n  dialect: postgres\n").unwrap();
    // The password is in the URL; it must never be printed.
    let url = server.url("ada:s3cret-pw", "?schema=shop");
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args(["-v", "generate", "--from-postgres", &url])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("3 table(s) in 1 source(s): 5 new"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");

    let dir_s = "models/staging/shop";
    let customers = read(p, &format!("{dir_s}/stg_shop__customers.sql"));
    for line in [
        "\"CustomerID\" as customer_id,",
        "\"First Name\" as first_name,",
        "\"select\" as select_,",
        "\"createdAt\" as created_at",
    ] {
        assert!(customers.contains(line), "{line} not in:\n{customers}");
    }
    // Dropped column gone, order kept.
    let group = read(p, &format!("{dir_s}/stg_shop__group.sql"));
    assert!(
        group.contains("id as group_id,\n        \"order\" as order_\n"),
        "{group}"
    );
    let sources = read(p, &format!("{dir_s}/_shop__sources.yml"));
    assert!(sources.contains("identifier: Order Items"), "{sources}");
    assert!(sources.contains("identifier: Group"), "{sources}");
    assert!(
        sources.contains("data_type: character varying(40)"),
        "{sources}"
    );
    assert!(sources.contains("data_type: numeric(18,2)"), "{sources}");
    assert!(
        sources.contains("description: One row per order line"),
        "{sources}"
    );
    assert!(!sources.contains("not_selected"), "{sources}");
    let models = read(p, &format!("{dir_s}/_shop__models.yml"));
    assert!(
        models.contains("- name: customer_id\n        data_type: integer\n        description: \"The customer's id\"\n        data_tests:\n          - unique\n          - not_null"),
        "{models}"
    );
    assert!(models.contains("{{ '{{' }} not jinja }}"), "{models}");
    // A composite key gets no single-column unique test.
    let order_items = models
        .split("- name: stg_shop__order_items")
        .nth(1)
        .unwrap_or_default();
    assert!(!order_items.contains("unique"), "{models}");

    // --json names the input without the password.
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .args(["--json", "generate", "--dry-run", "--from-postgres", &url])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        json["input"],
        format!(
            "postgres://ada:***@127.0.0.1:{}/postgres?schema=shop",
            server.port
        )
    );
    assert_eq!(json["summary"]["unchanged"], 5, "{json}");
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("s3cret"));

    // Real dbt against the same server: every model builds, every generated test passes.
    std::fs::write(
        p.join("dbt_project.yml"),
        "name: chonk\nversion: '1.0.0'\nconfig-version: 2\nprofile: chonk\nmodel-paths: [models]\nmodels:\n  chonk:\n    staging:\n      +materialized: view\n",
    )
    .unwrap();
    std::fs::write(
        p.join("profiles.yml"),
        format!(
            "chonk:\n  target: ci\n  outputs:\n    ci:\n      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      password: ''\n      dbname: postgres\n      schema: analytics\n      threads: 2\n",
            server.port
        ),
    )
    .unwrap();
    let parse = dbt(
        &dbt_bin,
        p,
        &["parse", "--warn-error", "--no-partial-parse"],
    );
    assert!(
        !parse.to_lowercase().contains("deprecat"),
        "dbt parse reported deprecations:\n{parse}"
    );
    let build = dbt(&dbt_bin, p, &["build"]);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("target/run_results.json")).unwrap()).unwrap();
    let nodes = results["results"].as_array().unwrap();
    let count = |prefix: &str| {
        nodes
            .iter()
            .filter(|r| {
                r["unique_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(prefix))
            })
            .count()
    };
    assert_eq!(count("model."), 3, "{build}");
    // unique + not_null on customers.customer_id and group.group_id (was `id`).
    assert_eq!(count("test."), 4, "{build}");
    for r in nodes {
        assert!(
            matches!(r["status"].as_str(), Some("success" | "pass")),
            "{} ended {}:\n{build}",
            r["unique_id"],
            r["status"]
        );
    }
}

#[test]
fn connection_errors_name_the_url_without_its_password() {
    let port = free_port();
    let url = format!("postgres://ada:s3cret-pw@127.0.0.1:{port}/shop");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("dbt_project.yml"), "name: chonk\n").unwrap();
    for json in [false, true] {
        let mut cmd = cargo_bin_cmd!("datachonk");
        cmd.current_dir(dir.path()).env("NO_COLOR", "1");
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .args(["generate", "--from-postgres", &url])
            .assert()
            .code(2);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.get_output().stdout),
            String::from_utf8_lossy(&out.get_output().stderr)
        );
        assert!(text.contains("cannot connect to PostgreSQL"), "{text}");
        assert!(
            text.contains(&format!("postgres://ada:***@127.0.0.1:{port}/shop")),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }
}

/// `generate --from-postgres URL` in an empty project, killed after `limit` (a hang fails the
/// test instead of stalling it). Returns exit code and stdout + stderr.
fn generate_from(url: &str, limit: std::time::Duration) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("dbt_project.yml"), "name: chonk\n").unwrap();
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args(["generate", "--from-postgres", url])
        .timeout(limit)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Serves one connection: writes `reply`, then reads until the client hangs up (so the
/// socket stays open, silent, for as long as datachonk waits).
fn one_connection_server(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(reply).unwrap();
        let mut buf = [0u8; 4096];
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    });
    (port, handle)
}

#[test]
fn a_port_that_accepts_and_never_answers_is_an_error_within_the_connect_timeout() {
    // Listening but never accepting: the kernel completes the TCP handshake, then silence.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("postgres://ada:s3cret-pw@127.0.0.1:{port}/shop?connect_timeout=1");
    let started = std::time::Instant::now();
    let (code, text) = generate_from(&url, std::time::Duration::from_secs(60));
    assert_eq!(code, Some(2), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(text.contains("cannot connect to PostgreSQL"), "{text}");
    assert!(
        text.contains(&format!("postgres://ada:***@127.0.0.1:{port}/shop")),
        "{text}"
    );
    assert!(text.contains("no answer within 1 s"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    drop(listener);
}

#[test]
fn a_server_that_is_not_postgresql_is_an_error_not_a_hang() {
    let (port, server) =
        one_connection_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    let url = format!("postgres://ada:s3cret-pw@127.0.0.1:{port}/shop?connect_timeout=1");
    let (code, text) = generate_from(&url, std::time::Duration::from_secs(60));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("cannot connect to PostgreSQL"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    server.join().unwrap();
}

#[test]
fn a_server_that_stalls_after_the_handshake_is_an_error_within_the_query_timeout() {
    // AuthenticationOk, then ReadyForQuery (idle): a connected session that never answers.
    let (port, server) = one_connection_server(b"R\0\0\0\x08\0\0\0\0Z\0\0\0\x05I");
    let url = format!("postgres://ada:s3cret-pw@127.0.0.1:{port}/shop?query_timeout=1");
    let (code, text) = generate_from(&url, std::time::Duration::from_secs(60));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "PostgreSQL at postgres://ada:***@127.0.0.1:{port}/shop?query_timeout=1: reading the database name failed: no answer within 1 s"
        )),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
    server.join().unwrap();
}

/// A project that already declares its source (some of the tables): `--from-postgres` adds the
/// missing tables to that declaration, in place, and never declares the source again; the
/// views dbt builds in the same database are not staging inputs.
#[test]
fn from_postgres_adds_to_the_projects_own_declaration_and_dbt_builds_it() {
    let dbt_bin = dbt_path();
    let server = Server::start();
    let mut client = postgres::Client::connect(&server.url("postgres", ""), postgres::NoTls)
        .expect("connect to the test server");
    client
        .batch_execute(
            "create schema crm;
             create table crm.accounts (account_id integer primary key, name text);
             insert into crm.accounts values (1, 'Acme');
             create table crm.contacts (contact_id integer primary key, \"Full Name\" text, account_id integer);
             insert into crm.contacts values (1, 'Ada Lovelace', 1);",
        )
        .expect("create the tables");

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    std::fs::write(p.join("dbt_project.yml"), "name: chonk\n").unwrap();
    std::fs::write(p.join("datachonk.yaml"), "generate:\n  dialect: postgres\n").unwrap();
    std::fs::write(
        p.join("dbt_project.yml"),
        "name: chonk\nversion: '1.0.0'\nconfig-version: 2\nprofile: chonk\nmodel-paths: [models]\nmodels:\n  chonk:\n    +materialized: view\n",
    )
    .unwrap();
    std::fs::write(
        p.join("profiles.yml"),
        format!(
            "chonk:\n  target: ci\n  outputs:\n    ci:\n      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      password: ''\n      dbname: postgres\n      schema: analytics\n      threads: 2\n",
            server.port
        ),
    )
    .unwrap();
    let declared = "# CRM, declared by hand\nsources:\n  - name: crm\n    tables:\n      - name: accounts  # the first one\n";
    std::fs::create_dir_all(p.join("models/sources")).unwrap();
    std::fs::write(p.join("models/sources/crm.yml"), declared).unwrap();

    let generate = |url: &str, extra: &[&str]| {
        let out = cargo_bin_cmd!("datachonk")
            .current_dir(p)
            .env("NO_COLOR", "1")
            .args(["generate", "--from-postgres", url])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = server.url("postgres", "?schema=crm");
    let (code, out) = generate(&url, &[]);
    assert_eq!(code, 0, "{out}");
    // Like its neighbour `accounts`, the new entry lists no columns (they are in the model's
    // YAML, where the quoted `Full Name` is described).
    let contacts = "      - name: contacts\n";
    assert_eq!(
        read(p, "models/sources/crm.yml"),
        format!("{declared}{contacts}")
    );
    assert!(!p.join("models/staging/crm/_crm__sources.yml").exists());
    let sql = read(p, "models/staging/crm/stg_crm__contacts.sql");
    assert!(sql.contains("source('crm', 'contacts')"), "{sql}");

    dbt(
        &dbt_bin,
        p,
        &["parse", "--warn-error", "--no-partial-parse"],
    );
    dbt(&dbt_bin, p, &["build"]);

    // Fresh, also reading every schema (the views dbt built in `analytics` are not inputs).
    for url in [url.clone(), server.url("postgres", "")] {
        let (code, out) = generate(&url, &["--check"]);
        assert_eq!(code, 0, "{url}: {out}");
    }
    let (code, out) = generate(&url, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("wrote 0 file(s)"), "{out}");

    // A table added to the warehouse: exactly it is added, to the existing declaration.
    client
        .batch_execute("create table crm.notes (note_id integer primary key, body text);")
        .unwrap();
    let (code, out) = generate(&url, &[]);
    assert_eq!(code, 0, "{out}");
    let notes = "      - name: notes\n";
    assert_eq!(
        read(p, "models/sources/crm.yml"),
        format!("{declared}{contacts}{notes}")
    );
    assert!(out.contains("wrote 3 file(s)"), "{out}");
    dbt(&dbt_bin, p, &["build"]);
}
