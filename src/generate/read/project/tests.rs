//! Tests of `project`.

use super::*;
use crate::generate::reconcile::person_yaml::*;

fn project_of(files: &[(&str, &str)]) -> Result<Project, ProjectError> {
    let mut p = Project::default();
    for (rel, text) in files {
        read_properties(&mut p, rel, Path::new(rel), text)?;
    }
    Ok(p)
}

#[test]
fn reads_sources_tables_columns_and_models() {
    let text = "# sources of the shop\nversion: 2\n\nx-common: &common\n  description: shared\n\nsources:\n  - name: shop\n    schema: \"{{ env_var('RAW_SCHEMA', 'raw') }}\"\n    tables:\n      - name: customers\n        identifier: raw customers\n        quoting:\n          identifier: true\n        columns:\n          - name: id\n            data_tests: [unique]\n      - name: orders\n        <<: *common\nmodels:\n  - name: stg_shop__orders\n    config:\n      alias: orders_v\n";
    let p = project_of(&[("models/x.yml", text)]).unwrap();
    let s = &p.sources[0];
    assert_eq!(s.name, "shop");
    assert_eq!(s.schema, "{{ env_var('RAW_SCHEMA', 'raw') }}");
    assert_eq!(s.tables[0].identifier, "raw customers");
    assert_eq!(s.tables[0].columns, vec![("id".to_string(), 16)]);
    assert_eq!(s.tables[1].identifier, "orders");
    assert_eq!(s.tables[1].line, 18);
    assert!(p.properties_entry("STG_SHOP__ORDERS").is_some());
    assert!(p.model_file("orders_v").is_some());
    // The common Jinja forms are rendered to match (issue 20: `env_var` with a default).
    assert!(p.source_for("shop", None, "raw").is_some());
    assert_eq!(
        p.source_for("other", None, "raw").map(|s| s.name.as_str()),
        Some("shop")
    );
    assert!(p.source_for("other", None, "elsewhere").is_none());
}

#[test]
fn common_jinja_renders_and_the_rest_says_it_cannot() {
    assert_eq!(render_jinja("raw").as_deref(), Some("raw"));
    assert_eq!(
        render_jinja("{{ var('raw_schema', 'raw') }}").as_deref(),
        Some("raw")
    );
    assert_eq!(
        render_jinja("{{ env_var(\"DATACHONK_TEST_UNSET_VAR\", 'land') }}_x").as_deref(),
        Some("land_x")
    );
    assert_eq!(render_jinja("{{ target.schema }}_raw"), None);
    assert_eq!(render_jinja("{{ var('no_default') }}"), None);
    let p = project_of(&[(
        "models/s.yml",
        "sources:\n  - name: a\n    schema: \"{{ target.schema }}\"\n",
    )])
    .unwrap();
    assert!(
        p.warnings[0].starts_with("models/s.yml:2: the schema of source a"),
        "{:?}",
        p.warnings
    );
}

#[test]
fn source_calls_are_found_in_either_quotes_and_not_in_other_names() {
    let sql = "select * from {{ source('Shop', \"orders\") }} join {{source( 'shop','items' )}} join {{ my_source('x', 'y') }}";
    assert_eq!(
        source_calls(sql),
        vec![
            ("shop".to_string(), "orders".to_string()),
            ("shop".into(), "items".into())
        ]
    );
}

#[test]
fn ref_calls_name_the_node_with_or_without_its_package_and_not_in_other_names() {
    let sql = "select * from {{ ref('Raw_Orders') }} join {{ref( \"shop\", 'raw_items', v=2)}} join {{ my_ref('x') }} join {{ ref(var('m')) }}";
    assert_eq!(
        ref_calls(sql),
        vec!["raw_orders".to_string(), "raw_items".into()]
    );
}

#[test]
fn duplicate_keys_keep_the_last_and_are_reported_with_their_line() {
    let text = "models:\n  - name: m\n    columns:\n      - name: c\n        data_type: varchar\n        data_type: integer\n";
    let p = project_of(&[("models/m.yml", text)]).unwrap();
    assert!(p.properties_entry("m").is_some());
    assert!(
        p.warnings[0].starts_with("models/m.yml:6:"),
        "{:?}",
        p.warnings
    );
    assert!(p.warnings[0].contains("data_type"), "{:?}", p.warnings);
}

#[test]
fn many_aliases_of_one_anchor_are_read() {
    let mut text =
        String::from("x: &d\n  description: shared\nsources:\n  - name: s\n    tables:\n");
    for i in 0..2000 {
        text.push_str(&format!("      - name: t{i}\n        <<: *d\n"));
    }
    let p = project_of(&[("models/s.yml", &text)]).unwrap();
    assert_eq!(p.sources[0].tables.len(), 2000);
}

/// `m.yml` holding `text`, with model `c` of `block` appended.
fn appended_c(text: &str, block: &str) -> String {
    let p = project_of(&[("m.yml", text)]).unwrap();
    append_models(
        Path::new("/"),
        "m.yml",
        text,
        p.models_lists.get("m.yml"),
        block,
        &["c".into()],
    )
    .unwrap()
}

#[test]
fn appended_test_lists_are_written_flow_style_where_the_person_writes_them_so() {
    let text = "models:\n  - name: a\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n";
    let p = project_of(&[("m.yml", text)]).unwrap();
    let block = "models:\n  - name: c\n    columns:\n      - name: c_id\n        data_tests:\n          - unique\n          - not_null\n      - name: kind\n        data_tests:\n          - accepted_values:\n              arguments:\n                values: [x]\n";
    let out = append_models(
        Path::new("/"),
        "m.yml",
        text,
        p.models_lists.get("m.yml"),
        block,
        &["c".into()],
    )
    .unwrap();
    assert_eq!(
        &out[text.len()..],
        "  - name: c\n    columns:\n      - name: c_id\n        data_tests: [unique, not_null]\n      - name: kind\n        data_tests:\n          - accepted_values:\n              arguments:\n                values: [x]\n"
    );
    // A file that writes them as blocks gets blocks.
    let text = "models:\n  - name: a\n    columns:\n      - name: id\n        data_tests:\n          - unique\n";
    let out = appended_c(text, block);
    assert!(out.ends_with(&block["models:\n".len()..]), "{out}");
}

#[test]
fn model_entries_are_appended_after_the_last_one_and_every_byte_stays() {
    let text = "version: 2\n\nmodels:\n  - name: a  # mine\n    description: A.\n\n  - name: b\n    columns:\n      - name: id\n# trailing comment\n";
    let p = project_of(&[("models/m.yml", text)]).unwrap();
    let block = "models:\n  - name: c\n    columns:\n      - name: x\n";
    let out = append_models(
        Path::new("/"),
        "models/m.yml",
        text,
        p.models_lists.get("models/m.yml"),
        block,
        &["c".to_string()],
    )
    .unwrap();
    assert_eq!(
            out,
            "version: 2\n\nmodels:\n  - name: a  # mine\n    description: A.\n\n  - name: b\n    columns:\n      - name: id\n\n  - name: c\n    columns:\n      - name: x\n# trailing comment\n"
        );
    // Indentless lists keep their indent; a file without `models:` gets one.
    let text = "models:\n- name: a\n";
    let out = appended_c(text, block);
    assert_eq!(
        out,
        "models:\n- name: a\n- name: c\n  columns:\n    - name: x\n"
    );
    let out = append_models(
        Path::new("/"),
        "m.yml",
        "sources: []\n",
        None,
        block,
        &["c".into()],
    )
    .unwrap();
    assert_eq!(
        out,
        "sources: []\n\nmodels:\n  - name: c\n    columns:\n      - name: x\n"
    );
}

#[test]
fn invalid_yaml_is_reported_with_line_and_column() {
    let err = project_of(&[("models/bad.yml", "sources:\n  - name: [shop\n")]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("models/bad.yml:"), "{msg}");
    assert!(matches!(err, ProjectError::Invalid { line, .. } if line > 0));
    // Empty and comment-only files declare nothing.
    assert!(project_of(&[("models/e.yml", "# nothing yet\n")]).is_ok());
}

#[test]
fn list_items_end_before_the_next_sibling_or_parent_key() {
    let text = "sources:\n  - name: shop\n    tables:\n      - name: a\n        # about a\n        columns:\n          - name: id\n\n      - name: b\n        description: x  # trailing\n\n    # after tables\n  - name: other\n";
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let a = list_item(&lines, 4).unwrap();
    assert_eq!((a.start, a.dash, a.key, a.end), (3, 6, 8, 6));
    let b = list_item(&lines, 9).unwrap();
    assert_eq!((b.start, b.end), (8, 9));
    assert_eq!(sequence_indent(&lines, 8, 6), 2);
    // Key not on the dash line.
    let text = "tables:\n- identifier: X\n  name: x\nnext: 1\n";
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let x = list_item(&lines, 3).unwrap();
    assert_eq!((x.start, x.dash, x.key, x.end), (1, 0, 2, 2));
    assert_eq!(sequence_indent(&lines, 1, 0), 0);
}
