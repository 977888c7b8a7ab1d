//! A DuckDB dbt project for the marts tests: files, `datachonk` and SQL against the warehouse
//! through the dbt virtualenv's duckdb (the same library dbt-duckdb uses).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

use crate::real_dbt::run_ok;

pub fn write(p: &Path, rel: &str, text: &str) {
    let path = p.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub fn read(p: &Path, rel: &str) -> String {
    std::fs::read_to_string(p.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `datachonk ARGS` in the project: (exit code, stdout + stderr).
pub fn datachonk(p: &Path, args: &[&str]) -> (i32, String) {
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Run SQL in `warehouse.duckdb`; the rows of the last statement as `|`-separated lines.
pub fn sql(python: &Path, p: &Path, statements: &str) -> Vec<String> {
    write(p, "statements.sql", statements);
    let script = "import duckdb\n\
        c = duckdb.connect('warehouse.duckdb')\n\
        stmts = [s for s in open('statements.sql').read().split(';') if s.strip()]\n\
        for s in stmts[:-1]:\n    c.execute(s)\n\
        r = c.execute(stmts[-1])\n\
        rows = r.fetchall() if r.description else []\n\
        print('\\n'.join('|'.join('' if v is None else str(v) for v in row) for row in rows))\n\
        c.close()\n";
    let mut cmd = Process::new(python);
    cmd.current_dir(p).args(["-c", script]);
    run_ok(&mut cmd, "duckdb")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A dbt project on DuckDB (`warehouse.duckdb`) with one source `shop` (schema `raw_shop`)
/// listing `tables`, and `spec` as `datachonk/model.yml`.
pub fn duckdb_project(p: &Path, tables: &[&str], spec: &str) {
    std::fs::create_dir_all(p.join(".git")).unwrap();
    write(
        p,
        "dbt_project.yml",
        "name: shop\nversion: \"1.0\"\nconfig-version: 2\nprofile: shop\nmodel-paths: [\"models\"]\nsnapshot-paths: [\"snapshots\"]\nmodels:\n  shop:\n    staging:\n      +materialized: view\n",
    );
    write(
        p,
        "profiles.yml",
        "shop:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n      path: warehouse.duckdb\n      threads: 2\n",
    );
    write(p, "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    let mut sources = String::from("sources:\n  - name: shop\n    schema: raw_shop\n    tables:\n");
    for t in tables {
        sources.push_str(&format!("      - name: {t}\n"));
    }
    write(p, "models/staging/_sources.yml", &sources);
    write(p, "datachonk/model.yml", spec);
}
