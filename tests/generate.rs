//! `datachonk generate` as a user meets it: files written from a catalog.json or a sources
//! YAML, reruns that change nothing, hand edits that are kept, and errors that say what to fix.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use datachonk::config;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/generate")
        .join(name)
}

/// A dbt project folder (with `.git`, so the config search stops there) and optional
/// datachonk.yaml.
fn project(yaml: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    dbt_project(dir.path());
    if let Some(y) = yaml {
        std::fs::write(dir.path().join("datachonk.yaml"), y).unwrap();
    }
    dir
}

/// The smallest `dbt_project.yml`: generate works only inside a dbt project.
fn dbt_project(dir: &Path) {
    std::fs::write(dir.join("dbt_project.yml"), "name: shop\nversion: '1.0'\n").unwrap();
}

fn datachonk(dir: &Path) -> Command {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(dir).env("NO_COLOR", "1");
    for (name, _) in config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd
}

fn generate(dir: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let catalog = fixture("catalog.json");
    let mut args = vec!["generate", "--from-catalog", catalog.to_str().unwrap()];
    args.extend_from_slice(extra);
    datachonk(dir).args(&args).assert()
}

/// stderr of `datachonk ARGS` in `dir`, which must refuse with exit 2 (bad input).
fn refused(dir: &Path, args: &[&str]) -> String {
    stderr(&datachonk(dir).args(args).assert().code(2))
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

/// Every file under `dir` (except .git) with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.ends_with(".git") {
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

const SHOP: &str = "models/staging/shop";

#[test]
fn writes_the_dbt_labs_layout_with_quoting_aliases_and_key_tests() {
    let dir = project(Some(
        "generate:\n  dialect: snowflake\n  type_map:\n    decimal(18,2): number(18,2)\n",
    ));
    generate(dir.path(), &["shop"]).success();
    let sql = read(dir.path(), &format!("{SHOP}/stg_shop__orders.sql"));
    assert!(
        sql.contains("select * from {{ source('shop', 'orders') }}"),
        "{sql}"
    );
    // Snowflake: upper-case ID needs no quotes, camelCase and reserved words do. The key
    // `ID` of `orders` is named for its entity (dbt Labs' style).
    assert!(sql.contains("        ID as order_id,\n"), "{sql}");
    assert!(
        sql.contains("        \"customerId\" as customer_id,\n"),
        "{sql}"
    );
    assert!(sql.contains("        \"order\" as order_,\n"), "{sql}");
    assert!(
        sql.contains("        cast(\"Total Amount\" as number(18,2)) as total_amount,\n"),
        "{sql}"
    );
    assert!(sql.contains("        \"2fa\" as _2fa,\n"), "{sql}");
    assert!(
        sql.contains("        \"createdAt\" as created_at\n\n    from source"),
        "{sql}"
    );
    assert!(sql.ends_with("select * from renamed\n"), "{sql}");

    let models = read(dir.path(), &format!("{SHOP}/_shop__models.yml"));
    assert!(
        models.contains("  - name: stg_shop__orders\n    description: One row per order.\n"),
        "{models}"
    );
    assert!(
        models.contains("      - name: order_id\n        data_type: INTEGER\n        description: \"Order identifier: one per \\\"order\\\"\"\n        data_tests:\n          - unique\n          - not_null\n"),
        "{models}"
    );
    assert!(models.contains("data_type: number(18,2)"), "{models}");
    // Jinja in a warehouse comment is made literal for dbt.
    assert!(
        models.contains("description: \"The {{ '{{' }} order }} code\""),
        "{models}"
    );

    let sources = read(dir.path(), &format!("{SHOP}/_shop__sources.yml"));
    assert!(
        sources.contains("      - name: order_items\n        identifier: Order Items\n"),
        "{sources}"
    );
    assert!(
        sources.contains("        quoting:\n          identifier: true\n"),
        "{sources}"
    );
    // Tables sorted by their dbt name.
    let c = sources.find("name: customers").unwrap();
    let oi = sources.find("name: order_items").unwrap();
    let o = sources.find("name: orders").unwrap();
    assert!(c < oi && oi < o, "{sources}");
    assert!(
        !dir.path().join("models/staging/ref_data").exists(),
        "selection `shop` only"
    );
}

#[test]
fn reruns_are_byte_identical_and_touch_nothing() {
    let dir = project(None);
    generate(dir.path(), &[]).success();
    let first = snapshot(dir.path());
    let a = generate(dir.path(), &[]).success();
    assert_eq!(first, snapshot(dir.path()));
    assert!(
        stderr(&a).contains("0 new, 0 changed, 8 unchanged"),
        "{}",
        stderr(&a)
    );
    // --check on a fresh tree passes.
    generate(dir.path(), &["--check"]).success();
}

#[test]
fn hand_edited_sql_is_left_alone_without_force() {
    let dir = project(None);
    generate(dir.path(), &["shop.orders"]).success();
    let path = dir.path().join(format!("{SHOP}/stg_shop__orders.sql"));
    let edited = read(dir.path(), &format!("{SHOP}/stg_shop__orders.sql"))
        .replace("as order_,", "as order_code,");
    std::fs::write(&path, &edited).unwrap();

    let dry = generate(dir.path(), &["shop.orders", "--dry-run"]).success();
    assert!(
        stdout(&dry).contains("edited-by-hand stg_shop__orders.sql")
            || stdout(&dry).contains(&format!("edited-by-hand {SHOP}/stg_shop__orders.sql")),
        "{}",
        stdout(&dry)
    );

    // Issue 20 §2: a rename in a generated model's SQL is the truth. Regenerating leaves the
    // SQL as the person wrote it and the model's YAML follows it (before, the diff reverted
    // the SQL to `order_`, and the YAML kept `order_` while the SQL said `order_code`).
    let diff = generate(dir.path(), &["shop.orders", "--diff"]).success();
    assert!(
        !stdout(&diff).contains("+        \"order\" as order_,"),
        "{}",
        stdout(&diff)
    );
    assert!(
        stdout(&diff).contains("+      - name: order_code"),
        "{}",
        stdout(&diff)
    );

    let run = generate(dir.path(), &["shop.orders"]).success();
    assert!(stderr(&run).contains("left alone"), "{}", stderr(&run));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);
    // Not stale for --check: datachonk would not change it.
    generate(dir.path(), &["shop.orders", "--check"]).success();

    generate(dir.path(), &["shop.orders", "--force"]).success();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("as order_,"));
}

#[test]
fn models_yml_merge_keeps_what_people_added_and_reports_it() {
    let dir = project(None);
    generate(dir.path(), &["shop.customers"]).success();
    let path = dir.path().join(format!("{SHOP}/_shop__models.yml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "      - name: name\n        data_type: VARCHAR\n",
            "      - name: name\n        data_type: VARCHAR\n        description: '{{ doc(\"customer_name\") }}'\n        meta:\n          pii: true\n        data_tests:\n          - accepted_values:\n              arguments:\n                values: [a, b]\n",
        )
        .replace(
            "  - name: stg_shop__customers\n    columns:",
            "  - name: stg_shop__customers\n    description: One row per customer.\n    config:\n      tags: [core]\n    columns:",
        )
        + "\n      - name: legacy_flag\n        description: gone soon\n";
    std::fs::write(&path, &text).unwrap();

    // Adding a table to the source: the existing entry is merged, the new one added.
    let run = generate(dir.path(), &["shop.orders"]).success();
    let err = stderr(&run);
    assert!(err.contains("merged with your edits"), "{err}");
    assert!(
        err.contains("kept 2 descriptions, 1 test, 2 other keys you added"),
        "{err}"
    );
    assert!(
        err.contains("dropped columns no longer in the metadata: stg_shop__customers.legacy_flag"),
        "{err}"
    );
    let merged = std::fs::read_to_string(&path).unwrap();
    assert!(merged.contains("  - name: stg_shop__orders\n"), "{merged}");
    assert!(merged.contains("  - name: stg_shop__customers\n    description: One row per customer.\n    config:\n      tags:\n        - core\n    columns:"), "{merged}");
    assert!(merged.contains("        description: \"{{ doc(\\\"customer_name\\\") }}\"\n        data_tests:\n          - accepted_values:\n              arguments:\n                values:\n                  - a\n                  - b\n        meta:\n          pii: true\n"), "{merged}");
    assert!(!merged.contains("legacy_flag"), "{merged}");
    // And the merge is stable: a rerun changes nothing.
    let again = generate(dir.path(), &["shop.orders", "shop.customers"]).success();
    assert!(
        stderr(&again).contains("0 new, 0 changed"),
        "{}",
        stderr(&again)
    );
    assert_eq!(merged, std::fs::read_to_string(&path).unwrap());
}

#[test]
fn check_exits_1_when_stale_and_json_describes_the_plan() {
    let dir = project(None);
    let a = generate(dir.path(), &["--check"]).code(1);
    assert!(stderr(&a).contains("missing or stale"), "{}", stderr(&a));
    assert!(
        !dir.path().join("models").exists(),
        "--check writes nothing"
    );

    let j = generate(dir.path(), &["shop.customers", "--dry-run", "--json"]).success();
    let v: serde_json::Value = serde_json::from_str(&stdout(&j)).unwrap();
    assert_eq!(v["mode"], "dry-run");
    assert_eq!(v["summary"]["new"], 3);
    assert_eq!(v["files"][0]["path"], format!("{SHOP}/_shop__sources.yml"));
    assert_eq!(v["files"][0]["status"], "new");
    assert_eq!(v["files"][0]["action"], "write");
    assert_eq!(v["stale"], true);
    assert!(
        !dir.path().join("models").exists(),
        "--dry-run writes nothing"
    );
}

#[test]
fn project_templates_override_builtins_by_file_name() {
    let dir = project(Some(
        "generate:\n  templates_dir: my_templates\n  output_dir: models/stg\n",
    ));
    std::fs::create_dir(dir.path().join("my_templates")).unwrap();
    std::fs::write(
        dir.path().join("my_templates/staging_model.sql"),
        "-- [[ table.model_name ]] from {{ source([[ source.name | jinja_str ]], [[ table.name | jinja_str ]]) }}\n[% for c in table.columns %][[ c.name | quote_identifier('bigquery') ]]:[[ c.kind ]] [% endfor %]\n",
    )
    .unwrap();
    generate(dir.path(), &["shop.order_items"]).success();
    let sql = read(dir.path(), "models/stg/shop/stg_shop__order_items.sql");
    assert_eq!(
        sql,
        "-- stg_shop__order_items from {{ source('shop', 'order_items') }}\norder_item_id:id `Order ID`:id `select`:string "
    );

    // A typo in a template is an error naming the template file and line.
    std::fs::write(
        dir.path().join("my_templates/staging_model.sql"),
        "ok\n[[ tabel.name ]]\n",
    )
    .unwrap();
    let a = generate(dir.path(), &["shop.order_items"]).code(2);
    let err = stderr(&a);
    assert!(err.contains("my_templates/staging_model.sql:2"), "{err}");
    assert!(err.contains("undefined"), "{err}");
}

#[test]
fn overridden_yaml_templates_are_rendered_by_minijinja_and_the_others_stay_builtin() {
    let dir = project(Some("generate:\n  templates_dir: t\n"));
    std::fs::create_dir(dir.path().join("t")).unwrap();
    std::fs::write(
        dir.path().join("t/sources.yml"),
        "# mine\n[% for t in source.tables %]\n[[ t.name ]]: [[ t.columns | length ]]\n[% endfor %]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t/models.yml"),
        "# mine [[ source.name ]]: [[ source.tables | length ]]\n",
    )
    .unwrap();
    // New files are written as they render; existing ones are rendered, then compared.
    generate(dir.path(), &["shop.order_items"]).success();
    let sources = format!("{SHOP}/_shop__sources.yml");
    let models = format!("{SHOP}/_shop__models.yml");
    assert_eq!(read(dir.path(), &sources), "# mine\norder_items: 3\n");
    assert_eq!(read(dir.path(), &models), "# mine shop: 1\n");
    let sql = read(dir.path(), &format!("{SHOP}/stg_shop__order_items.sql"));
    assert!(sql.starts_with("with\n\nsource as (\n"), "{sql}");
    std::fs::write(
        dir.path().join("t/models.yml"),
        "# again [[ source.name ]]\n",
    )
    .unwrap();
    generate(dir.path(), &["shop.order_items"]).success();
    assert_eq!(read(dir.path(), &models), "# again shop\n");
    assert_eq!(read(dir.path(), &sources), "# mine\norder_items: 3\n");
}

#[test]
fn from_sources_yaml_reads_columns_and_declared_keys() {
    let dir = project(None);
    let src = fixture("sources.yml");
    datachonk(dir.path())
        .args(["generate", "--from-sources", src.to_str().unwrap()])
        .assert()
        .success();
    let models = read(dir.path(), "models/staging/crm/_crm__models.yml");
    assert!(models.contains("      - name: person_key\n        data_type: varchar\n        description: Natural key.\n        data_tests:\n          - unique\n          - not_null\n"), "{models}");
    let sql = read(dir.path(), "models/staging/crm/stg_crm__people.sql");
    assert!(sql.contains("{{ source('crm', 'people') }}"), "{sql}");
    assert!(
        sql.contains("        \"PersonKey\" as person_key,\n"),
        "{sql}"
    );
}

#[test]
fn bad_inputs_are_usage_errors_that_say_where() {
    let dir = project(None);
    std::fs::write(
        dir.path().join("catalog.json"),
        "{\"sources\": {\"source.p.s.t\": {\"metadata\": {\"schema\": \"raw\", \"name\": \"t\"},\n \"columns\": {\"a\": {\"type\": \"INT\", \"index\": true, \"name\": \"a\"}}}}}",
    )
    .unwrap();
    let err = refused(dir.path(), &["generate", "--from-catalog", "catalog.json"]);
    assert!(
        err.contains("catalog.json") && err.contains("sources.source.p.s.t.columns.a.index"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("bad.yml"),
        "sources:\n  - name: crm\n    tables:\n      - name: [oops\n",
    )
    .unwrap();
    let err = refused(dir.path(), &["generate", "--from-sources", "bad.yml"]);
    assert!(err.contains("bad.yml"), "{err}");

    // Colliding columns are listed.
    std::fs::write(
        dir.path().join("clash.yml"),
        "sources:\n  - name: crm\n    tables:\n      - name: t\n        columns:\n          - name: OrderId\n          - name: order_id\n          - name: Order ID\n",
    )
    .unwrap();
    let err = refused(dir.path(), &["generate", "--from-sources", "clash.yml"]);
    assert!(
        err.contains("\"OrderId\", \"order_id\", \"Order ID\" → order_id"),
        "{err}"
    );

    // An empty selection says what exists.
    let a = generate(dir.path(), &["nosuch"]).code(2);
    let err = stderr(&a);
    assert!(err.contains("`nosuch` matches no table"), "{err}");
    assert!(
        err.contains("available: ref_data (1 table: countries); shop (3 tables"),
        "{err}"
    );
    let dir2 = project(Some("generate:\n  exclude: ['*']\n"));
    let a = generate(dir2.path(), &[]).code(2);
    assert!(
        stderr(&a).contains("the selection is empty"),
        "{}",
        stderr(&a)
    );

    // Outside a dbt project there is nowhere dbt would read models from: refused, nothing
    // written (a folder of its own, with .git so the search for dbt_project.yml stops there).
    let bare = tempfile::tempdir().unwrap();
    std::fs::create_dir(bare.path().join(".git")).unwrap();
    let err = refused(
        bare.path(),
        &[
            "generate",
            "--from-catalog",
            fixture("catalog.json").to_str().unwrap(),
        ],
    );
    assert!(err.contains("no dbt_project.yml in"), "{err}");
    assert!(err.contains("--project-dir"), "{err}");
    assert!(!bare.path().join("models").exists());

    // Config errors point at the line.
    let dir3 = project(Some("generate:\n  dialect: snowflak\n"));
    let a = generate(dir3.path(), &[]).code(2);
    let err = stderr(&a);
    assert!(
        err.contains("datachonk.yaml:2") && err.contains("did you mean `snowflake`"),
        "{err}"
    );
    let dir4 = project(Some("generate:\n  output_dri: x\n"));
    let a = generate(dir4.path(), &[]).code(2);
    assert!(
        stderr(&a).contains("did you mean `output_dir`"),
        "{}",
        stderr(&a)
    );
}

#[test]
fn metadata_changes_are_picked_up_past_the_no_op_fast_path() {
    let dir = project(None);
    let original = std::fs::read_to_string(fixture("catalog.json")).unwrap();
    std::fs::write(dir.path().join("catalog.json"), &original).unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["generate", "--from-catalog", "catalog.json", "shop"];
        all.extend_from_slice(args);
        datachonk(dir.path()).args(&all).assert().success()
    };
    run(&[]);
    let again = run(&[]);
    assert!(
        stderr(&again).contains("0 new, 0 changed, 5 unchanged"),
        "{}",
        stderr(&again)
    );
    // A person rewrites one column's description; then both the table comment (whose
    // description datachonk wrote) and that column's comment change in the warehouse.
    let models_path = format!("{SHOP}/_shop__models.yml");
    let generated = read(dir.path(), &models_path);
    let edited = generated.replace(
        r#"description: "Order identifier: one per \"order\"""#,
        "description: Written by a person.",
    );
    assert_ne!(edited, generated);
    std::fs::write(dir.path().join(&models_path), &edited).unwrap();
    // The warehouse's new comments: the table's (`table_comment`) and the id column's.
    let comments_now = |table_comment: &str| {
        let catalog = original
            .replace("One row per order.", table_comment)
            .replace(
                r#"Order identifier: one per \"order\""#,
                "Order identifier, unique",
            );
        std::fs::write(dir.path().join("catalog.json"), catalog).unwrap();
    };
    comments_now("One row per placed order.");
    let a = datachonk(dir.path())
        .args([
            "generate",
            "--from-catalog",
            "catalog.json",
            "shop",
            "--check",
        ])
        .assert()
        .code(1);
    let out = stderr(&a);
    assert!(
        out.contains("0 new, 1 changed, 3 unchanged, 1 edited by hand"),
        "{out}"
    );
    let a = run(&[]);
    let out = stderr(&a);
    assert!(
        out.contains("updated descriptions from changed warehouse comments: stg_shop__orders\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "kept your edited descriptions although the warehouse comment changed: stg_shop__orders.order_id\n"
        ),
        "{out}"
    );
    assert!(read(dir.path(), &format!("{SHOP}/_shop__sources.yml"))
        .contains("One row per placed order."));
    let models = read(dir.path(), &models_path);
    assert!(
        models.contains("description: One row per placed order."),
        "{models}"
    );
    assert!(!models.contains("One row per order."), "{models}");
    assert!(
        models.contains("description: Written by a person."),
        "{models}"
    );
    assert!(!models.contains("Order identifier, unique"), "{models}");
    // The next change follows the warehouse again where datachonk wrote the description.
    comments_now("One row per order, placed or not.");
    let out = stderr(&run(&[]));
    assert!(out.contains("stg_shop__orders\n"), "{out}");
    assert!(!out.contains("kept your edited descriptions"), "{out}");
    let models = read(dir.path(), &models_path);
    assert!(
        models.contains("One row per order, placed or not."),
        "{models}"
    );
    assert!(
        models.contains("description: Written by a person."),
        "{models}"
    );
    run(&["--force"]);
    assert!(read(dir.path(), &models_path).contains("Order identifier, unique"));
}

#[test]
fn a_hand_edit_of_the_same_size_is_caught_past_the_size_and_mtime_check() {
    let dir = project(None);
    generate(dir.path(), &[]).success();
    let path = format!("{SHOP}/stg_shop__orders.sql");
    let generated = read(dir.path(), &path);
    let edited = generated.replace("renamed", "RENAMED");
    assert_eq!(edited.len(), generated.len());
    assert_ne!(edited, generated);
    std::fs::write(dir.path().join(&path), &edited).unwrap();
    let a = generate(dir.path(), &[]).success();
    let out = stderr(&a);
    assert!(out.contains("1 edited by hand"), "{out}");
    assert_eq!(read(dir.path(), &path), edited);
}

#[test]
fn a_file_already_there_before_the_first_run_is_not_overwritten() {
    let dir = project(None);
    let path = format!("{SHOP}/stg_shop__orders.sql");
    std::fs::create_dir_all(dir.path().join(SHOP)).unwrap();
    std::fs::write(dir.path().join(&path), "select 1 -- mine\n").unwrap();
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(out.contains("1 exist (not generated)"), "{out}");
    assert_eq!(read(dir.path(), &path), "select 1 -- mine\n");
    assert!(dir
        .path()
        .join(format!("{SHOP}/stg_shop__customers.sql"))
        .exists());
}

#[test]
fn sizes_and_times_stay_out_of_the_committed_state() {
    let dir = project(None);
    generate(dir.path(), &[]).success();
    let state = read(dir.path(), "datachonk.state.json");
    assert!(!state.contains("mtime"), "{state}");
    assert!(read(dir.path(), ".datachonk/stat-cache.json").contains("mtime_ns"));
    assert!(read(dir.path(), ".datachonk/.gitignore").contains("\n*\n"));
    // As in a fresh clone: every file gets a new mtime, nothing else changes.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    for entry in std::fs::read_dir(dir.path().join(SHOP)).unwrap() {
        let file = std::fs::File::options()
            .append(true)
            .open(entry.unwrap().path())
            .unwrap();
        file.set_modified(later).unwrap();
    }
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(out.contains("0 new, 0 changed, 8 unchanged"), "{out}");
    assert_eq!(read(dir.path(), "datachonk.state.json"), state);
    assert!(
        read(dir.path(), ".datachonk/stat-cache.json").contains(&format!(
            "{}",
            later
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ))
    );
}

/// `git` in `dir`, hermetic (no global or system config), failing the test on error.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Dana Tester")
        .env("GIT_AUTHOR_EMAIL", "dana@example.com")
        .env("GIT_COMMITTER_NAME", "Dana Tester")
        .env("GIT_COMMITTER_EMAIL", "dana@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The fixture catalog with one more column on `shop.orders`.
fn catalog_with_a_new_column() -> String {
    let mut catalog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("catalog.json")).unwrap()).unwrap();
    catalog["sources"]["source.proj.shop.orders"]["columns"]["couponCode"] =
        serde_json::json!({"type": "VARCHAR", "index": 99, "name": "couponCode", "comment": null});
    serde_json::to_string_pretty(&catalog).unwrap()
}

#[test]
fn a_fresh_clone_tells_generated_files_from_hand_edits_and_check_fails_when_stale() {
    let top = tempfile::tempdir().unwrap();
    let origin = top.path().join("origin");
    std::fs::create_dir(&origin).unwrap();
    git(&origin, &["init", "-q", "-b", "main"]);
    // What `datachonk init` and `quickstart` write: the cache folder is ignored.
    std::fs::write(origin.join(".gitignore"), "target/\n.datachonk/\n").unwrap();
    dbt_project(&origin);
    std::fs::copy(fixture("catalog.json"), origin.join("catalog.json")).unwrap();
    let gen = |dir: &Path, extra: &[&str]| {
        let mut args = vec!["generate", "--from-catalog", "catalog.json"];
        args.extend_from_slice(extra);
        datachonk(dir).args(&args).assert()
    };
    gen(&origin, &[]).success();
    git(&origin, &["add", "-A"]);
    git(&origin, &["commit", "-q", "-m", "staging models"]);
    let committed = git(&origin, &["ls-files"]);
    assert!(committed.contains("datachonk.state.json"), "{committed}");
    assert!(!committed.contains(".datachonk/"), "{committed}");
    // The state names its input relative to the project, not by an absolute path.
    let state = read(&origin, "datachonk.state.json");
    assert!(state.contains("\"path\": \"catalog.json\""), "{state}");

    git(top.path(), &["clone", "-q", "origin", "clone"]);
    let clone = top.path().join("clone");
    assert!(!clone.join(".datachonk").exists());
    std::fs::write(clone.join("catalog.json"), catalog_with_a_new_column()).unwrap();

    let check = gen(&clone, &["--check"]).code(1);
    let out = format!("{}{}", stdout(&check), stderr(&check));
    assert!(out.contains("0 new, 3 changed"), "{out}");
    assert!(out.contains("0 edited by hand"), "{out}");

    let out = stderr(&gen(&clone, &[]).success());
    assert!(out.contains("0 new, 3 changed"), "{out}");
    assert!(out.contains("wrote 3 file(s)"), "{out}");
    let sql = read(&clone, &format!("{SHOP}/stg_shop__orders.sql"));
    assert!(sql.contains("\"couponCode\" as coupon_code"), "{sql}");
    assert!(read(&clone, &format!("{SHOP}/_shop__sources.yml")).contains("couponCode"));
    assert!(read(&clone, &format!("{SHOP}/_shop__models.yml")).contains("coupon_code"));

    let out = stderr(&gen(&clone, &["--check"]).success());
    assert!(out.contains("0 new, 0 changed, 8 unchanged"), "{out}");
    // Only the models and the state changed: the caches stay out of git.
    let status = git(&clone, &["status", "--porcelain"]);
    let changed: Vec<&str> = status.lines().map(|l| &l[3..]).collect();
    assert_eq!(
        changed,
        [
            "catalog.json",
            "datachonk.state.json",
            "models/staging/shop/_shop__models.yml",
            "models/staging/shop/_shop__sources.yml",
            "models/staging/shop/stg_shop__orders.sql"
        ],
        "{status}"
    );
}

#[test]
fn a_state_at_the_old_path_is_read_and_moved_to_the_committed_one() {
    let dir = project(None);
    generate(dir.path(), &[]).success();
    let state = read(dir.path(), "datachonk.state.json");
    // As an earlier version left it: the state inside the ignored cache folder.
    std::fs::rename(
        dir.path().join("datachonk.state.json"),
        dir.path().join(".datachonk/state.json"),
    )
    .unwrap();
    let out = stderr(&generate(dir.path(), &["--check"]).success());
    assert!(out.contains("0 new, 0 changed, 8 unchanged"), "{out}");
    assert!(dir.path().join(".datachonk/state.json").exists());

    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(out.contains("8 unchanged, 0 edited by hand"), "{out}");
    assert_eq!(read(dir.path(), "datachonk.state.json"), state);
    assert!(!dir.path().join(".datachonk/state.json").exists());
}

#[test]
fn names_the_warehouse_cannot_hold_are_refused_naming_table_and_column() {
    let dir = project(None);
    let catalog_path = dir.path().join("catalog.json");
    let mut catalog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("catalog.json")).unwrap()).unwrap();
    let columns = &mut catalog["sources"]["source.proj.shop.orders"]["columns"];
    let position = columns.as_object().unwrap().len() + 1;
    columns[""] = serde_json::json!({"type": "INTEGER", "index": 99, "name": "", "comment": null});
    std::fs::write(&catalog_path, catalog.to_string()).unwrap();
    let run = || refused(dir.path(), &["generate", "--from-catalog", "catalog.json"]);
    let err = run();
    assert!(
        err.contains(&format!(
            "shop.orders: column {position} (\"\"): the name is empty"
        )),
        "{err}"
    );
    assert!(err.contains("generate.exclude"), "{err}");

    let columns = &mut catalog["sources"]["source.proj.shop.orders"]["columns"];
    columns.as_object_mut().unwrap().remove("");
    let long = "x".repeat(100_000);
    columns[&long] =
        serde_json::json!({"type": "INTEGER", "index": 99, "name": long, "comment": null});
    std::fs::write(&catalog_path, catalog.to_string()).unwrap();
    let err = run();
    assert!(
        err.contains("100000 bytes long; postgres holds at most 63"),
        "{err}"
    );
    assert!(err.contains(&format!("column {position} ")), "{err}");
    assert!(
        err.len() < 1_000,
        "the name is not echoed whole: {}",
        err.len()
    );
    assert!(!dir.path().join(SHOP).exists());
}

/// A catalog.json of `tables` tables × 10 integer columns in source `big`.
fn big_catalog(tables: usize) -> String {
    let mut sources = serde_json::Map::new();
    for t in 0..tables {
        let columns: serde_json::Map<String, serde_json::Value> = (1..=10)
            .map(|c| {
                let name = format!("col_{c}");
                let v = serde_json::json!({"type": "INTEGER", "index": c, "name": name, "comment": null});
                (name, v)
            })
            .collect();
        sources.insert(
            format!("source.proj.big.t{t:05}"),
            serde_json::json!({
                "metadata": {"type": "BASE TABLE", "schema": "raw", "name": format!("t{t:05}"), "database": "w", "comment": null},
                "columns": columns,
            }),
        );
    }
    serde_json::json!({"metadata": {}, "sources": sources, "nodes": {}, "errors": null}).to_string()
}

#[test]
fn a_bad_column_in_the_last_table_leaves_no_model_written_while_deriving() {
    // Models are written while later tables are still derived: enough tables that several
    // batches are on disk before the last table's bad column is found.
    let dir = project(None);
    let mut catalog: serde_json::Value = serde_json::from_str(&big_catalog(1_000)).unwrap();
    let columns = &mut catalog["sources"]["source.proj.big.t00999"]["columns"];
    columns[""] = serde_json::json!({"type": "INTEGER", "index": 11, "name": "", "comment": null});
    std::fs::write(dir.path().join("catalog.json"), catalog.to_string()).unwrap();
    let before = snapshot(dir.path());
    let err = refused(dir.path(), &["generate", "--from-catalog", "catalog.json"]);
    assert!(
        err.contains("big.t00999: column 11 (\"\"): the name is empty"),
        "{err}"
    );
    // No model, no folder, no state: the disk is as it was.
    assert_eq!(snapshot(dir.path()), before);
    assert!(!dir.path().join("models").exists());
}

/// Names of datachonk's temporary files under `dir`, recursively.
fn temp_files(dir: &Path) -> Vec<String> {
    snapshot(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.contains(".datachonk-") && p.ends_with(".tmp"))
        .collect()
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_writing_leaves_no_temporary_file_and_records_what_was_written() {
    let dir = project(None);
    std::fs::write(dir.path().join("catalog.json"), big_catalog(5_000)).unwrap();
    let out_dir = dir.path().join("models/staging/big");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_datachonk"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args(["generate", "--from-catalog", "catalog.json"])
        // A file, not a pipe: one line per file written would fill a pipe nobody reads yet.
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    // Interrupt as soon as writing has begun (the first model is on disk).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let started = std::fs::read_dir(&out_dir).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".sql"))
        });
        if started {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "generate ended before writing"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no file written in 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: signalling our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("generate did not stop after SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let err = read(dir.path(), "stderr.txt");
    std::fs::remove_file(dir.path().join("stderr.txt")).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    let written = std::fs::read_dir(&out_dir).unwrap().count();
    assert!(written < 5_002, "interrupted after all {written} files");

    // Everything written before the signal was recorded: nothing counts as a hand edit.
    let out = stderr(
        &datachonk(dir.path())
            .args(["generate", "--from-catalog", "catalog.json"])
            .assert()
            .success(),
    );
    assert!(out.contains(", 0 edited by hand"), "{out}");
    assert!(!out.contains(" 0 new,"), "{out}");
}

#[test]
fn temporary_files_of_a_datachonk_that_died_are_swept_on_the_next_run() {
    let dir = project(None);
    generate(dir.path(), &[]).success();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = [
        format!("{SHOP}/.stg_shop__orders.sql.datachonk-{dead}.tmp"),
        format!(".datachonk/.stat-cache.json.datachonk-{dead}.tmp"),
        format!(".datachonk.state.json.datachonk-{dead}.tmp"),
    ];
    // A live process's file, and names that are not datachonk's pattern, stay.
    let kept = [
        format!(
            "{SHOP}/.stg_shop__orders.sql.datachonk-{}.tmp",
            std::process::id()
        ),
        format!("{SHOP}/.notes.tmp"),
        format!("{SHOP}/notes.datachonk-{dead}.tmp"),
    ];
    for p in stale.iter().chain(&kept) {
        std::fs::write(dir.path().join(p), "half").unwrap();
    }
    // A run that writes nothing new still sweeps.
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(out.contains("0 new, 0 changed"), "{out}");
    for p in &stale {
        assert!(!dir.path().join(p).exists(), "{p} was not swept");
    }
    for p in &kept {
        assert!(dir.path().join(p).exists(), "{p} was swept");
    }
}

#[test]
fn a_state_file_git_ignores_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    dbt_project(dir.path());
    std::fs::write(dir.path().join(".gitignore"), "*.json\n").unwrap();
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(
        out.contains("datachonk.state.json is ignored by git"),
        "{out}"
    );
    std::fs::write(
        dir.path().join(".gitignore"),
        "*.json\n!datachonk.state.json\n",
    )
    .unwrap();
    std::fs::remove_file(dir.path().join(SHOP).join("stg_shop__orders.sql")).unwrap();
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(out.contains("wrote 1 file(s)"), "{out}");
    assert!(!out.contains("is ignored by git"), "{out}");
}
