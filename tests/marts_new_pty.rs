//! `datachonk new` on a terminal (expectrl): the questions the flags leave out — the model
//! picked from the catalog's list, the key offered as `<singular>_id`, scd2 chosen with an
//! arrow key, the updated-at column offered — then the entry written and rendered.

#![cfg(unix)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";

type Pty = expectrl::session::OsSession;

const CATALOG: &str = r#"{"metadata": {"dbt_version": "1.11.0"}, "nodes": {
  "model.shop.stg_shop__customers": {"metadata": {"type": "VIEW", "schema": "main", "name": "stg_shop__customers"}, "columns": {"customer_id": {"type": "INTEGER", "index": 1, "name": "customer_id"}, "updated_at": {"type": "TIMESTAMP", "index": 2, "name": "updated_at"}}, "unique_id": "model.shop.stg_shop__customers"},
  "model.shop.stg_shop__orders": {"metadata": {"type": "VIEW", "schema": "main", "name": "stg_shop__orders"}, "columns": {"order_id": {"type": "INTEGER", "index": 1, "name": "order_id"}}, "unique_id": "model.shop.stg_shop__orders"}
 }, "sources": {}}"#;

fn wait_for(p: &mut Pty, text: &str) {
    if let Err(e) = p.expect(text) {
        panic!("waiting for {text:?}: {e}");
    }
}

fn send(p: &mut Pty, keys: &str) {
    p.send(keys).expect("send keys");
}

#[test]
fn new_asks_what_the_flags_leave_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(
        root.join("dbt_project.yml"),
        "name: shop\nconfig-version: 2\nprofile: shop\n",
    )
    .unwrap();
    std::fs::create_dir(root.join("target")).unwrap();
    std::fs::write(root.join("target/catalog.json"), CATALOG).unwrap();

    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("datachonk"));
    cmd.args(["new", "entity", "customers"])
        .current_dir(root)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    let mut p = Session::spawn(cmd).expect("spawn on a pty");
    p.get_process_mut()
        .set_window_size(120, 40)
        .expect("window size");
    p.set_expect_timeout(Some(Duration::from_secs(60)));

    wait_for(&mut p, "Built from which model?");
    wait_for(&mut p, "stg_shop__orders");
    send(&mut p, ENTER);
    wait_for(&mut p, "Key column(s), comma-separated");
    send(&mut p, ENTER);
    wait_for(&mut p, "History");
    wait_for(&mut p, "scd2: every version");
    send(&mut p, DOWN);
    send(&mut p, ENTER);
    wait_for(&mut p, "Column that changes when a row changes");
    send(&mut p, ENTER);
    wait_for(&mut p, "added customers to datachonk/model.yml");
    let rest = match p.expect(Eof) {
        Ok(c) => String::from_utf8_lossy(c.before()).into_owned(),
        Err(e) => panic!("waiting for the end: {e}"),
    };
    match p.get_process().wait().expect("wait") {
        WaitStatus::Exited(_, 0) => {}
        other => panic!("datachonk new did not succeed: {other:?}\n{rest}"),
    }
    assert_eq!(
        std::fs::read_to_string(root.join("datachonk/model.yml")).unwrap(),
        "entities:\n  customers: { from: stg_shop__customers, key: customer_id, history: scd2, updated_at: updated_at }\n"
    );
    assert!(Path::new(&root.join("snapshots/customers_snapshot.yml")).is_file());
    assert!(root.join("models/marts/dim_customers.sql").is_file());
}
