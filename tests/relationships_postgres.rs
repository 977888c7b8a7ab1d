//! `datachonk relationships --from-postgres` against a real PostgreSQL server (issue 15 §3-4):
//! the foreign keys the database declares (one of them on two columns), with evidence and
//! confidence 1; a key it does not declare found by its name and confirmed by the overlap of
//! sampled values; one whose values do not match marked down; `--json`.
//!
//! PostgreSQL comes from `bash scripts/setup-test-deps`; without it this test FAILS.
//! (The throwaway-server helper is the one tests/generate_postgres.rs uses.)

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;
use real_dbt::run_ok as run;

/// The server's programs: `$DATACHONK_TEST_PG_BIN`, else Debian's newest
/// `/usr/lib/postgresql/*/bin`, else `initdb` on PATH.
fn pg_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DATACHONK_TEST_PG_BIN") {
        return PathBuf::from(p);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|b| b.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(b) = found.pop() {
        return b;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!("PostgreSQL (initdb, pg_ctl) is not installed: run `bash scripts/setup-test-deps`")
    })
}

fn is_root() -> bool {
    Process::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn pg_command(program: &Path, args: &[&str]) -> Process {
    if is_root() {
        let mut cmd = Process::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
        cmd
    } else {
        let mut cmd = Process::new(program);
        cmd.args(args);
        cmd
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running throwaway cluster; stopped (immediately) when dropped, even when a test fails.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let uid = Process::new("id").args(["-u", "postgres"]).output();
            let gid = Process::new("id").args(["-g", "postgres"]).output();
            let num = |o: std::io::Result<std::process::Output>| -> u32 {
                o.ok()
                    .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
                    .expect("root runs the tests but there is no `postgres` user: run `bash scripts/setup-test-deps`")
            };
            std::os::unix::fs::chown(dir.path(), Some(num(uid)), Some(num(gid))).unwrap();
        }
        let data = dir.path().join("data");
        let data_s = data.to_str().unwrap().to_string();
        let data_s = data_s.as_str();
        run(
            &mut pg_command(
                &bin.join("initdb"),
                &[
                    "-D",
                    data_s,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            dir.path().display()
        );
        let log = dir.path().join("server.log");
        let server = Server {
            bin,
            data,
            port,
            _dir: dir,
        };
        run(
            &mut pg_command(
                &server.bin.join("pg_ctl"),
                &[
                    "-D",
                    data_s,
                    "-l",
                    log.to_str().unwrap(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ),
            "pg_ctl start",
        );
        server
    }

    fn url(&self, user_info: &str, query: &str) -> String {
        format!(
            "postgres://{user_info}@127.0.0.1:{}/postgres{query}",
            self.port
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = pg_command(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
        .output();
    }
}

const SETUP_SQL: &str = "
create schema shop;
create table shop.customers (id integer primary key, name text);
insert into shop.customers values (1, 'Ada'), (2, 'Grace');
create table shop.products (product_id integer primary key, name text);
insert into shop.products values (10, 'Widget'), (11, 'Gadget');
create table shop.orders (order_id integer primary key, customer_id integer not null references shop.customers (id), placed_at date);
insert into shop.orders values (100, 1, '2024-02-01'), (101, 2, '2024-02-02');
create table shop.order_lines (order_id integer references shop.orders (order_id), line_number integer,
                               product_id integer, quantity integer, primary key (order_id, line_number));
insert into shop.order_lines values (100, 1, 10, 1), (100, 2, 11, 2), (101, 1, 11, 1);
create table shop.shipments (shipment_id integer primary key, order_id integer, line_number integer,
                             foreign key (order_id, line_number) references shop.order_lines (order_id, line_number));
insert into shop.shipments values (1, 100, 2);
create table shop.reviews (review_id integer primary key, customer_id integer);
insert into shop.reviews values (1, 1), (2, 7), (3, 8), (4, 9);
";

#[test]
fn declared_foreign_keys_naming_patterns_and_sampled_values_on_postgres() {
    let server = Server::start();
    let mut client = postgres::Client::connect(&server.url("postgres", ""), postgres::NoTls)
        .expect("connect to the test server");
    client.batch_execute(SETUP_SQL).expect("create the tables");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    let url = server.url("postgres", "?schema=shop");
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args(["--json", "relationships", "--from-postgres", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let found: Vec<(String, f64, String, String)> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let end = |e: &serde_json::Value| {
                format!(
                    "{}({})",
                    e["relation"].as_str().unwrap(),
                    e["columns"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            };
            (
                format!("{} -> {}", end(&r["from"]), end(&r["to"])),
                r["confidence"].as_f64().unwrap(),
                r["kind"].as_str().unwrap().to_string(),
                r["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
        .collect();
    let get = |key: &str| {
        found
            .iter()
            .find(|f| f.0 == key)
            .unwrap_or_else(|| panic!("{key} not found in {found:#?}"))
    };
    // Declared, one of them on two columns.
    let fk = get("shop.orders(customer_id) -> shop.customers(id)");
    assert_eq!((fk.1, fk.2.as_str()), (1.0, "foreign-key"), "{fk:?}");
    assert!(
        fk.3.contains("foreign key orders_customer_id_fkey declared in the database"),
        "{fk:?}"
    );
    let two = get("shop.shipments(order_id,line_number) -> shop.order_lines(order_id,line_number)");
    assert_eq!(two.1, 1.0, "{two:?}");
    get("shop.order_lines(order_id) -> shop.orders(order_id)");
    // Not declared: found by its name, every sampled value found in the target.
    let named = get("shop.order_lines(product_id) -> shop.products(product_id)");
    assert_eq!((named.1, named.2.as_str()), (0.95, "naming"), "{named:?}");
    assert!(
        named
            .3
            .contains("naming: product_id → products (its primary key)"),
        "{named:?}"
    );
    assert!(
        named
            .3
            .contains("values: 2 of 2 sampled distinct values found in shop.products"),
        "{named:?}"
    );
    // Named like a key, but most values are not there: marked down.
    let weak = get("shop.reviews(customer_id) -> shop.customers(id)");
    assert!(weak.1 < 0.3, "{weak:?}");
    assert!(
        weak.3
            .contains("values: 1 of 4 sampled distinct values found"),
        "{weak:?}"
    );

    // --min-confidence leaves the weak one out.
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args([
            "relationships",
            "--from-postgres",
            &url,
            "--min-confidence",
            "0.5",
        ])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success());
    assert!(human.contains("shop.orders.customer_id → shop.customers.id  1.00  foreign key orders_customer_id_fkey"), "{human}");
    assert!(!human.contains("shop.reviews"), "{human}");
}
