//! Proof for issue 20 (§1, §2, §5) with real dbt-core + dbt-duckdb: `generate` reads the
//! project as dbt does and never loses a byte of a person's files. Each case builds a small
//! project of a real shape (written here, not copied from anywhere), a DuckDB warehouse, and
//! metadata of the raw tables (`--from-sources meta/raw.yml`, outside the model paths), then
//! ends with `dbt parse --warn-error` and `dbt build` green, `generate --check` clean and a
//! second `generate` writing nothing.
//!
//! dbt comes from `bash scripts/setup-test-deps` (or `$DATACHONK_TEST_DBT`); without it these
//! tests FAIL.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;
use real_dbt::{dbt_command, dbt_path, run_ok};

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    dbt: PathBuf,
}

impl Project {
    /// A dbt project (DuckDB) whose models live under `model_path`, with a git folder (the
    /// upward searches stop there) and `datachonk.yaml` at `config_at`.
    fn new(model_path: &str, config_at: &str, config: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir(root.join(".git")).unwrap();
        let p = Project {
            _dir: dir,
            root,
            dbt: dbt_path(),
        };
        p.write(
            "dbt_project.yml",
            &format!("name: trust\nversion: '1.0.0'\nconfig-version: 2\nprofile: trust\nmodel-paths: [\"{model_path}\"]\nmodels:\n  trust:\n    +materialized: view\n"),
        );
        p.write(
            "profiles.yml",
            "trust:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n      path: warehouse.duckdb\n      threads: 1\n",
        );
        p.write(config_at, config);
        p
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Run SQL in the DuckDB warehouse (with the dbt virtualenv's Python).
    fn warehouse(&self, sql: &str) {
        let python = self.dbt.with_file_name("python");
        let mut py = Process::new(&python);
        py.current_dir(&self.root).args([
            "-c",
            &format!("import duckdb; c = duckdb.connect('warehouse.duckdb'); c.execute({sql:?}); c.close()"),
        ]);
        run_ok(&mut py, "the DuckDB warehouse");
    }

    /// `datachonk generate ARGS` from `cwd` (relative to the root): (exit code, all output).
    fn generate_in(&self, cwd: &str, args: &[&str]) -> (i32, String) {
        let out = cargo_bin_cmd!("datachonk")
            .current_dir(self.root.join(cwd))
            .env("NO_COLOR", "1")
            .env_remove("RAW_SCHEMA")
            .arg("generate")
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

    fn generate(&self, extra: &[&str]) -> (i32, String) {
        let mut args = vec!["--from-sources", "meta/raw.yml"];
        args.extend_from_slice(extra);
        self.generate_in(".", &args)
    }

    fn dbt(&self, args: &[&str]) -> String {
        run_ok(
            &mut dbt_command(&self.dbt, &self.root, args),
            &format!("dbt {}", args.join(" ")),
        )
    }

    /// `dbt parse --warn-error` and `dbt build` green, with `models` models built.
    fn dbt_green(&self, models: usize) {
        self.dbt_green_but(models, None);
    }

    /// [`Self::dbt_green`], with one warning dbt may give (a case made to provoke it).
    fn dbt_green_but(&self, models: usize, allowed: Option<&str>) {
        let parse = match allowed {
            None => self.dbt(&["parse", "--warn-error", "--no-partial-parse"]),
            Some(w) => self.dbt(&[
                "parse",
                "--warn-error-options",
                // The summary of deprecations repeats the allowed one.
                &format!("{{\"error\": \"all\", \"warn\": [\"{w}\", \"DeprecationsSummary\"]}}"),
                "--no-partial-parse",
            ]),
        };
        let other_deprecation = parse.lines().any(|l| {
            (allowed.is_none() || l.contains("]["))
                && l.to_lowercase().contains("deprecat")
                && allowed.is_none_or(|w| !l.contains(w) && !l.contains("DeprecationsSummary"))
        });
        assert!(
            !other_deprecation,
            "dbt parse reported deprecations:\n{parse}"
        );
        let build = self.dbt(&["build"]);
        let results: serde_json::Value = serde_json::from_slice(
            &std::fs::read(self.root.join("target/run_results.json")).unwrap(),
        )
        .unwrap();
        let nodes = results["results"].as_array().unwrap();
        let ran = nodes
            .iter()
            .filter(|r| r["unique_id"].as_str().unwrap_or("").starts_with("model."))
            .count();
        assert_eq!(ran, models, "{build}");
        for r in nodes {
            assert!(
                matches!(r["status"].as_str(), Some("success" | "pass")),
                "{} ended {}:\n{build}",
                r["unique_id"],
                r["status"]
            );
        }
    }

    /// `--check` clean and a second run writing nothing, with `args` from `cwd`.
    fn settled_in(&self, cwd: &str, args: &[&str]) {
        let mut check = args.to_vec();
        check.push("--check");
        let (code, out) = self.generate_in(cwd, &check);
        assert_eq!(code, 0, "--check right after generate:\n{out}");
        let before = snapshot(&self.root);
        let (code, out) = self.generate_in(cwd, args);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("wrote 0 file(s)"), "{out}");
        assert_same(&snapshot(&self.root), &before);
    }

    fn settled(&self) {
        self.settled_in(".", &["--from-sources", "meta/raw.yml"]);
    }
}

/// Every file under `dir` except dbt's, git's and datachonk's caches, with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if [
                ".git",
                ".datachonk",
                "target",
                "logs",
                "warehouse.duckdb",
                "warehouse.duckdb.wal",
            ]
            .contains(&name.as_str())
            {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn assert_same(now: &[(String, Vec<u8>)], before: &[(String, Vec<u8>)]) {
    let differ: Vec<&str> = now
        .iter()
        .filter(|f| !before.contains(f))
        .chain(before.iter().filter(|f| !now.contains(f)))
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(differ.is_empty(), "files written or changed: {differ:?}");
}

const SHOP_SQL: &str = "
create schema raw;
create table raw.orders (id integer, customer_id integer, amount double);
insert into raw.orders values (1, 10, 12.5), (2, 11, 3.0);
create table raw.customers (id integer, name varchar);
insert into raw.customers values (10, 'Ada'), (11, 'Grace');
";

const PAYMENTS_SQL: &str = "
create table raw.payments (payment_id integer, order_id integer, amount double);
insert into raw.payments values (100, 1, 12.5), (101, 2, 3.0);
";

/// What the loader says is in the warehouse (`--from-sources`), `payments` included or not.
fn meta(source: &str, schema: &str, payments: bool) -> String {
    let mut m = format!(
        "sources:\n  - name: {source}\n    schema: {schema}\n    tables:\n      - name: orders\n        columns:\n          - name: id\n            data_type: integer\n            data_tests: [unique, not_null]\n          - name: customer_id\n            data_type: integer\n          - name: amount\n            data_type: double\n      - name: customers\n        columns:\n          - name: id\n            data_type: integer\n            data_tests: [unique, not_null]\n          - name: name\n            data_type: varchar\n"
    );
    if payments {
        m.push_str("      - name: payments\n        columns:\n          - name: payment_id\n            data_type: integer\n            data_tests: [unique, not_null]\n          - name: order_id\n            data_type: integer\n          - name: amount\n            data_type: double\n");
    }
    m
}

/// The person's own files, at exactly the paths generate writes by default (dbt Labs'
/// layout), with comments, a blank line between entries, and a model named their way.
const PERSONS_SOURCES: &str = "version: 2\n\n# Raw shop data, loaded nightly by the loader.\nsources:\n  - name: shop\n    schema: raw  # the loader's schema\n    tables:\n      - name: orders\n\n      - name: customers\n";

const PERSONS_MODELS: &str = "version: 2\n\n# Our staging models: keep these docs!\nmodels:\n  - name: stg_shop__orders\n    description: One row per order, renamed our way.\n    columns:\n      - name: order_id\n        data_tests:\n          - unique\n          - not_null\n\n  - name: stg_customers  # not the name generate would pick\n    description: One row per customer.\n    columns:\n      - name: customer_id\n        data_tests: [unique, not_null]\n";

fn persons_project(model_path: &str) -> Project {
    let p = Project::new(
        model_path,
        "datachonk.yaml",
        "generate:\n  dialect: duckdb\n",
    );
    p.warehouse(SHOP_SQL);
    let dir = format!("{model_path}/staging/shop");
    p.write(&format!("{dir}/_shop__sources.yml"), PERSONS_SOURCES);
    p.write(&format!("{dir}/_shop__models.yml"), PERSONS_MODELS);
    p.write(
        &format!("{dir}/stg_shop__orders.sql"),
        "select id as order_id, customer_id, amount from {{ source('shop', 'orders') }}\n",
    );
    p.write(
        &format!("{dir}/stg_customers.sql"),
        "select id as customer_id, name from {{ source(\"shop\", \"customers\") }}\n",
    );
    p
}

#[test]
fn a_persons_files_at_the_default_paths_are_kept_byte_for_byte_and_only_appended_to() {
    let p = persons_project("models");
    p.write("meta/raw.yml", &meta("shop", "raw", false));
    let before = snapshot(&p.root);

    // Every declared table is already read by one of the person's models: nothing to do.
    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("wrote 0 file(s)"), "{out}");
    assert!(
        out.contains("already read by models of the project"),
        "{out}"
    );
    // Only datachonk's own record of the run is new.
    let now: Vec<_> = snapshot(&p.root)
        .into_iter()
        .filter(|(f, _)| f != "datachonk.state.json")
        .collect();
    assert_same(&now, &before);
    p.dbt_green(2);
    p.settled();

    // `--force` does not make a person's file datachonk's either.
    let before = snapshot(&p.root);
    let (code, out) = p.generate(&["--force"]);
    assert_eq!(code, 0, "{out}");
    assert_same(&snapshot(&p.root), &before);

    // The loader lands a new table: exactly one new model, and entries appended.
    p.warehouse(PAYMENTS_SQL);
    p.write("meta/raw.yml", &meta("shop", "raw", true));
    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("wrote 3 file(s)"), "{out}");
    let sources = p.read("models/staging/shop/_shop__sources.yml");
    assert!(
        sources.starts_with(PERSONS_SOURCES),
        "bytes of the person's sources changed:\n{sources}"
    );
    assert!(
        sources[PERSONS_SOURCES.len()..].contains("- name: payments"),
        "{sources}"
    );
    // Like its neighbours, the new entry lists no columns (they are in the model's YAML).
    assert!(
        !sources[PERSONS_SOURCES.len()..].contains("columns:"),
        "{sources}"
    );
    let models = p.read("models/staging/shop/_shop__models.yml");
    assert!(
        models.starts_with(PERSONS_MODELS),
        "bytes of the person's models changed:\n{models}"
    );
    let added = &models[PERSONS_MODELS.len()..];
    assert!(
        added.starts_with("\n  - name: stg_shop__payments\n"),
        "{models}"
    );
    assert!(
        !added.contains("stg_shop__orders") && !added.contains("stg_customers"),
        "{models}"
    );
    let sql = p.read("models/staging/shop/stg_shop__payments.sql");
    assert!(sql.contains("source('shop', 'payments')"), "{sql}");
    assert!(!p
        .root
        .join("models/staging/shop/stg_shop__customers.sql")
        .exists());
    p.dbt_green(3);
    p.settled();
}

#[test]
fn a_table_read_by_a_persons_model_is_staged_only_when_asked() {
    let p = persons_project("models");
    p.write("meta/raw.yml", &meta("shop", "raw", false));
    let (code, out) = p.generate(&["--include-staged", "shop.customers"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        p.root
            .join("models/staging/shop/stg_shop__customers.sql")
            .exists(),
        "{out}"
    );
    // Its entry went to the person's models file, appended.
    let models = p.read("models/staging/shop/_shop__models.yml");
    assert!(models.starts_with(PERSONS_MODELS), "{models}");
    assert!(models.contains("- name: stg_shop__customers"), "{models}");
    p.dbt_green(3);
    p.settled_in(
        ".",
        &[
            "--from-sources",
            "meta/raw.yml",
            "--include-staged",
            "shop.customers",
        ],
    );
}

#[test]
fn duplicate_keys_and_hundreds_of_aliases_are_read_as_dbt_reads_them() {
    let p = persons_project("models");
    p.write("meta/raw.yml", &meta("shop", "raw", true));
    p.warehouse(PAYMENTS_SQL);
    // `data_type` twice on a column (dbt keeps the last), in the person's models file.
    let dup = PERSONS_MODELS.replace(
        "      - name: order_id\n",
        "      - name: order_id\n        data_type: varchar\n        data_type: integer\n",
    );
    p.write("models/staging/shop/_shop__models.yml", &dup);
    // 300 aliases of one anchor, no `version:`.
    let mut many = String::from("x-loaded: &loaded\n  description: Loaded nightly by the loader.\n\nsources:\n  - name: archive\n    schema: raw_archive\n    tables:\n");
    for i in 0..300 {
        many.push_str(&format!("      - name: t{i:03}\n        <<: *loaded\n"));
    }
    p.write("models/archive/_archive__sources.yml", &many);
    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("models/staging/shop/_shop__models.yml:10:") && out.contains("data_type"),
        "the duplicate key is named with file:line:\n{out}"
    );
    for internal in [
        "DuplicateKeyPolicy",
        "budget",
        "Options",
        "AliasAnchorRatio",
    ] {
        assert!(!out.contains(internal), "library internals shown:\n{out}");
    }
    assert!(p
        .read("models/staging/shop/_shop__models.yml")
        .starts_with(&dup));
    assert_eq!(p.read("models/archive/_archive__sources.yml"), many);
    // dbt 1.11 reads the file (the last key wins) and warns: every other warning is an error.
    p.dbt_green_but(3, Some("DuplicateYAMLKeysDeprecation"));
    p.settled();
}

#[test]
fn outputs_go_under_model_paths_whatever_folder_or_config_file_generate_starts_from() {
    let p = Project::new(
        "transform",
        "ci/datachonk.yaml",
        "generate:\n  dialect: duckdb\n  primary_key:\n    tables:\n      shop.customers: ~\n",
    );
    p.warehouse(SHOP_SQL);
    p.write("meta/raw.yml", &meta("shop", "raw", false));
    std::fs::create_dir_all(p.root.join("transform/marts")).unwrap();
    let args = [
        "--config",
        "../../ci/datachonk.yaml",
        "--from-sources",
        "../../meta/raw.yml",
    ];
    let (code, out) = p.generate_in("transform/marts", &args);
    assert_eq!(code, 0, "{out}");
    for f in [
        "transform/staging/shop/_shop__sources.yml",
        "transform/staging/shop/_shop__models.yml",
        "transform/staging/shop/stg_shop__orders.sql",
        "transform/staging/shop/stg_shop__customers.sql",
    ] {
        assert!(p.root.join(f).is_file(), "{f} missing:\n{out}");
    }
    assert!(!p.root.join("models").exists(), "{out}");
    assert!(!p.root.join("transform/marts/models").exists(), "{out}");
    assert!(!p.root.join("ci/models").exists(), "{out}");
    // `primary_key.tables: {shop.customers: ~}`: no key tests for it; orders keeps its own.
    let models = p.read("transform/staging/shop/_shop__models.yml");
    let customers = models
        .split("\n  - name: ")
        .find(|m| m.starts_with("stg_shop__customers"))
        .unwrap();
    assert!(!customers.contains("unique"), "{models}");
    assert!(models.contains("unique"), "{models}");
    p.dbt_green(2);
    p.settled_in("transform/marts", &args);

    // Without a dbt_project.yml there is no project to generate into.
    let (code, out) = p.generate_in(
        "transform",
        &[
            "--project-dir",
            "marts",
            "--from-sources",
            "../meta/raw.yml",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("dbt_project.yml"), "{out}");
}

#[test]
fn a_source_whose_schema_is_jinja_is_matched_and_appended_to() {
    let p = Project::new("models", "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    p.warehouse(SHOP_SQL);
    let declared = "sources:\n  - name: shop\n    schema: \"{{ var('raw_schema', 'raw') }}\"\n    tables:\n      - name: orders\n  - name: elsewhere\n    schema: \"{{ target.schema }}_landing\"\n    tables:\n      - name: things\n";
    p.write("models/sources.yml", declared);
    // The loader calls the source by its schema.
    p.write("meta/raw.yml", &meta("raw", "raw", false));
    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !p.root.join("models/staging/raw").exists(),
        "a second source was declared for schema raw:\n{out}"
    );
    let now = p.read("models/sources.yml");
    let at = declared.find("  - name: elsewhere").unwrap();
    assert!(now.starts_with(&declared[..at]), "{now}");
    assert!(now.ends_with(&declared[at..]), "{now}");
    assert!(now[at..].contains("- name: customers"), "{now}");
    assert!(
        out.contains("models/sources.yml:6:") && out.contains("cannot be resolved"),
        "{out}"
    );
    assert!(
        p.root
            .join("models/staging/shop/stg_shop__orders.sql")
            .exists(),
        "{out}"
    );
    p.dbt_green(2);
    p.settled();
}

#[test]
fn two_runs_at_once_never_interleave() {
    let p = Project::new("models", "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    p.warehouse(SHOP_SQL);
    p.warehouse(PAYMENTS_SQL);
    p.write("meta/raw.yml", &meta("shop", "raw", true));
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin!("datachonk"))
            .current_dir(&p.root)
            .env("NO_COLOR", "1")
            .args(["generate", "--from-sources", "meta/raw.yml"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    let all = format!("{}{}", text(&a), text(&b));
    assert!(!all.contains("edited by hand were left alone"), "{all}");
    let written: Vec<&str> = all.lines().filter(|l| l.contains("; wrote ")).collect();
    assert_eq!(written.len(), 2, "{all}");
    assert!(
        written.iter().any(|l| l.ends_with("wrote 0 file(s)")),
        "one run wrote everything, the other nothing:\n{all}"
    );
    p.dbt_green(3);
    p.settled();

    // A run that cannot wait (the lock is held here) refuses, exit 2, and writes nothing.
    // The lock is the OS's `flock` on `.datachonk/`, as another datachonk takes it.
    let lock = std::fs::File::open(p.root.join(".datachonk")).unwrap();
    // SAFETY: the descriptor is open while `lock` lives.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) },
        0
    );
    let before = snapshot(&p.root);
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(&p.root)
        .env("NO_COLOR", "1")
        .env("DATACHONK_LOCK_WAIT", "0")
        .args(["generate", "--from-sources", "meta/raw.yml"])
        .output()
        .unwrap();
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("waiting for another datachonk generate"),
        "{msg}"
    );
    assert!(msg.contains("refusing to run beside it"), "{msg}");
    assert_same(&snapshot(&p.root), &before);
    drop(lock);
}

/// `_models.yml` with each `- unique` test line of `model` passed through `edit`.
fn edit_unique(text: &str, model: &str, edit: &str) -> String {
    let mut out = String::new();
    let mut current = "";
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("  - name: ") {
            current = name.trim();
        }
        if current == model && line.trim() == "- unique" {
            out.push_str(edit);
        } else {
            out.push_str(line);
        }
    }
    out
}

#[test]
fn a_deleted_test_stays_deleted_and_a_reconfigured_one_is_kept_once() {
    let p = Project::new("models", "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    p.warehouse(SHOP_SQL);
    p.write("meta/raw.yml", &meta("shop", "raw", false));
    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    let path = "models/staging/shop/_shop__models.yml";
    let generated = p.read(path);
    assert_eq!(generated.matches("- unique").count(), 2, "{generated}");
    // The person: customers may repeat by design (test deleted); orders' only warns.
    let edited = edit_unique(&generated, "stg_shop__customers", "");
    let indent = " ".repeat(10);
    let edited = edit_unique(
        &edited,
        "stg_shop__orders",
        &format!("{indent}- unique:\n{indent}    config:\n{indent}      severity: warn\n"),
    );
    assert_ne!(edited, generated);
    p.write(path, &edited);
    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    let now = p.read(path);
    assert_eq!(now.matches("- unique").count(), 1, "{now}");
    assert!(now.contains("severity: warn"), "{now}");
    let customers = now
        .split("\n  - name: ")
        .find(|m| m.starts_with("stg_shop__customers"))
        .unwrap();
    assert!(!customers.contains("unique"), "{now}");
    p.dbt_green(2);
    p.settled();
}

#[test]
fn a_rename_in_a_generated_models_sql_is_followed_by_its_yaml() {
    let p = Project::new("models", "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    p.warehouse(SHOP_SQL);
    p.write("meta/raw.yml", &meta("shop", "raw", false));
    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    let sql_path = "models/staging/shop/stg_shop__orders.sql";
    let sql = p.read(sql_path);
    assert!(sql.contains("        customer_id,\n"), "{sql}");
    let renamed = sql.replace(
        "        customer_id,\n",
        "        customer_id as buyer_id,\n",
    );
    p.write(sql_path, &renamed);
    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(p.read(sql_path), renamed, "the person's SQL is the truth");
    let models = p.read("models/staging/shop/_shop__models.yml");
    let orders = models
        .split("\n  - name: ")
        .find(|m| m.starts_with("stg_shop__orders"))
        .unwrap();
    assert!(orders.contains("- name: buyer_id"), "{models}");
    assert!(!orders.contains("- name: customer_id"), "{models}");
    p.dbt_green(2);
    p.settled();
}

/// A package of the team's (installed by `dbt deps` from a local folder, as from the hub) that
/// declares the shop's orders and customers and stages them itself.
fn install_shop_package(p: &Project) {
    p.write(
        "vendor/shop_pkg/dbt_project.yml",
        "name: shop_pkg\nversion: '1.0.0'\nconfig-version: 2\nmodel-paths: [\"models\"]\n",
    );
    p.write(
        "vendor/shop_pkg/models/_shop__sources.yml",
        "sources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: orders\n      - name: customers\n",
    );
    p.write(
        "vendor/shop_pkg/models/shop_orders.sql",
        "select id as order_id, customer_id, amount from {{ source('shop', 'orders') }}\n",
    );
    p.write(
        "vendor/shop_pkg/models/shop_customers.sql",
        "select id as customer_id, name from {{ source('shop', 'customers') }}\n",
    );
    p.write("packages.yml", "packages:\n  - local: vendor/shop_pkg\n");
    p.dbt(&["deps"]);
}

#[test]
fn an_installed_packages_sources_count_as_declared_and_its_files_are_never_edited() {
    let p = Project::new("models", "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    p.warehouse(SHOP_SQL);
    p.warehouse(PAYMENTS_SQL);
    install_shop_package(&p);
    // Only the manifest knows what packages declare (dbt_packages/ is never read as YAML).
    p.dbt(&["parse"]);
    p.write("meta/raw.yml", &meta("shop", "raw", true));
    let package = |p: &Project| {
        snapshot(&p.root)
            .into_iter()
            .filter(|(f, _)| f.starts_with("vendor/") || f.starts_with("dbt_packages/"))
            .collect::<Vec<_>>()
    };
    let before = package(&p);
    assert!(!before.is_empty());

    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    // The package's tables are declared and staged by it: only payments is new.
    assert!(out.contains("wrote 3 file(s)"), "{out}");
    assert_same(&package(&p), &before);
    let sources = p.read("models/staging/shop/_shop__sources.yml");
    assert!(sources.contains("- name: payments"), "{sources}");
    assert!(
        !sources.contains("- name: orders") && !sources.contains("- name: customers"),
        "a package's tables declared again:\n{sources}"
    );
    assert!(p
        .root
        .join("models/staging/shop/stg_shop__payments.sql")
        .exists());
    assert!(!p
        .root
        .join("models/staging/shop/stg_shop__orders.sql")
        .exists());
    p.dbt_green(3);
    p.settled();
}

#[test]
fn an_explicit_manifest_says_what_a_jinja_schema_resolves_to() {
    let p = Project::new("models", "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    p.warehouse(SHOP_SQL);
    // Only dbt knows `shop_schema` (a project variable, no default in the call).
    p.write(
        "dbt_project.yml",
        "name: trust\nversion: '1.0.0'\nconfig-version: 2\nprofile: trust\nmodel-paths: [\"models\"]\nvars:\n  shop_schema: raw\nmodels:\n  trust:\n    +materialized: view\n",
    );
    let declared = "sources:\n  - name: shop\n    schema: \"{{ var('shop_schema') }}\"\n    tables:\n      - name: orders\n";
    p.write("models/sources.yml", declared);
    p.dbt(&["parse"]);
    // A manifest kept elsewhere (CI's), and none where generate would look by itself.
    std::fs::create_dir_all(p.root.join("ci")).unwrap();
    std::fs::rename(
        p.root.join("target/manifest.json"),
        p.root.join("ci/manifest.json"),
    )
    .unwrap();
    // The loader calls the source by its schema.
    p.write("meta/raw.yml", &meta("raw", "raw", false));

    // Without the manifest the schema cannot be matched: a second source would be declared.
    let (code, out) = p.generate(&["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("cannot be resolved"), "{out}");
    assert!(out.contains("models/staging/raw/"), "{out}");

    let (code, out) = p.generate(&["--manifest", "ci/manifest.json"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("cannot be resolved"), "{out}");
    assert!(
        !p.root.join("models/staging/raw").exists(),
        "a second source was declared for schema raw:\n{out}"
    );
    let now = p.read("models/sources.yml");
    assert!(now.starts_with(declared), "{now}");
    assert!(now[declared.len()..].contains("- name: customers"), "{now}");
    p.dbt_green(2);
    p.settled_in(
        ".",
        &[
            "--from-sources",
            "meta/raw.yml",
            "--manifest",
            "ci/manifest.json",
        ],
    );
}

#[test]
fn new_models_go_where_the_sources_staging_models_live_and_are_listed_in_their_file() {
    let p = Project::new("models", "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    p.warehouse(SHOP_SQL);
    // The team stages the shop in a folder named its way, documented in a file of its own.
    let dir = "models/staging/ecommerce";
    let sources = "version: 2\n\nsources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: orders\n      - name: customers\n";
    let models = "version: 2\n\nmodels:\n  - name: stg_orders\n    description: One row per order.\n\n  - name: stg_customers\n    description: One row per customer.\n";
    p.write(&format!("{dir}/_ecommerce__sources.yml"), sources);
    p.write(&format!("{dir}/_ecommerce__models.yml"), models);
    p.write(
        &format!("{dir}/stg_orders.sql"),
        "select id as order_id, customer_id, amount from {{ source('shop', 'orders') }}\n",
    );
    p.write(
        &format!("{dir}/stg_customers.sql"),
        "select id as customer_id, name from {{ source('shop', 'customers') }}\n",
    );
    p.warehouse(PAYMENTS_SQL);
    p.write("meta/raw.yml", &meta("shop", "raw", true));

    let (code, out) = p.generate(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        p.root
            .join(format!("{dir}/stg_shop__payments.sql"))
            .exists(),
        "{out}"
    );
    assert!(
        !p.root.join("models/staging/shop").exists(),
        "a second folder for the same source:\n{out}"
    );
    let now = p.read(&format!("{dir}/_ecommerce__models.yml"));
    assert!(now.starts_with(models), "{now}");
    assert!(
        now[models.len()..].contains("- name: stg_shop__payments"),
        "{now}"
    );
    let now = p.read(&format!("{dir}/_ecommerce__sources.yml"));
    assert!(now.starts_with(sources), "{now}");
    assert!(now[sources.len()..].contains("- name: payments"), "{now}");
    p.dbt_green(3);
    p.settled();
}

#[test]
fn a_seed_a_persons_model_refs_is_staged_already() {
    // jaffle_shop's shape: raw data as seeds, staged by models that `ref` them; the catalog
    // dbt writes lists the seeds as nodes.
    let p = Project::new("models", "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    p.write("seeds/raw_orders.csv", "id,customer_id,amount\n1,1,10.5\n");
    p.write("seeds/raw_customers.csv", "id,name\n1,Ann\n");
    p.write(
        "models/staging/stg_orders.sql",
        "select id as order_id, customer_id, amount from {{ ref('raw_orders') }}\n",
    );
    p.dbt(&["seed"]);
    p.dbt(&["run"]);
    p.dbt(&["docs", "generate"]);
    let before = snapshot(&p.root);
    let (code, out) = p.generate_in(".", &["--from-catalog", "target/catalog.json"]);
    assert_eq!(code, 0, "{out}");
    // raw_customers is staged; raw_orders, which stg_orders refs, is not staged again.
    assert!(
        out.contains("1 selected table(s) are already read by models of the project"),
        "{out}"
    );
    let written: Vec<&str> = out
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("new "))
        .collect();
    assert_eq!(written.len(), 3, "{out}");
    assert!(
        written
            .iter()
            .any(|l| l.ends_with("stg_main__customers.sql")),
        "{out}"
    );
    assert!(!written.iter().any(|l| l.contains("orders.sql")), "{out}");
    // The person's model is untouched.
    let stg = before
        .iter()
        .find(|(f, _)| f == "models/staging/stg_orders.sql")
        .expect("the person's model");
    assert_eq!(
        std::fs::read(p.root.join("models/staging/stg_orders.sql")).unwrap(),
        stg.1
    );
    p.dbt_green(2);
    // Asked for, it is staged anyway.
    let (code, out) = p.generate_in(
        ".",
        &["--from-catalog", "target/catalog.json", "--include-staged"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("new ") && l.contains("orders.sql")),
        "{out}"
    );
}
