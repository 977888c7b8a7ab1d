//! Tests of `native`.
//! Over 600 lines for one reason: one generator of random contexts and the fixed cases that
//! pin the three templates, kept together so a template change is checked in one place.

//! Equivalence: every context rendered by minijinja (the built-in template) and natively,
//! the bytes compared. Contexts are built the way `generate` builds them: metadata through
//! [`context::build`], existing `_models.yml` files through [`merge::models_context`], the
//! minijinja contexts by the same functions the render sites use.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::generate::plan::context;
use crate::generate::read::metadata::{Column, Table};
use crate::generate::read::yaml;
use crate::generate::reconcile::merge::{self, GeneratedDescriptions, ModelsColumn, ModelsTable};
use crate::generate::render::shared::{
    models_context, sources_context, staging_context, staging_source,
};
use crate::ident::quoting::Dialect;
use crate::templates::{Templates, MODELS_YAML, SOURCES_YAML, STAGING_MODEL};

/// xorshift64*: a small deterministic generator (the cases are the same on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Names a warehouse may hold: mixed case, reserved words, digits first, quotes, unicode,
/// Jinja delimiters, YAML indicators, whitespace.
const NAMES: &[&str] = &[
    "id",
    "ID",
    "order_id",
    "Order ID",
    "OrderID",
    "select",
    "from",
    "order",
    "group",
    "2fa",
    "123",
    "naïve",
    "日本語",
    "Straße",
    "it's",
    "a\"b",
    "{{ x }}",
    "{% raw %}",
    "#} c",
    "{# c #}",
    "a{b",
    "{{'{{'}}",
    "two  spaces",
    " lead",
    "trail ",
    "yes",
    "null",
    "TRUE",
    "a: b",
    "- dash",
    "a,b",
    "back\\slash",
    "tab\there",
    "new\nline",
    "dollar$",
    "x.y",
    "CamelCaseName",
    "snake_case",
    "_under",
    "a/b",
    "(paren)",
    "emoji 🦀",
    "amount",
    "created_at",
    // Names the style rules rename (`_ts` → `_at`, `_dt` → `_date`, loader prefixes).
    "created_ts",
    "order_dt",
    "signed_up_on",
    "shipped",
    "is_paid",
    "raw_orders",
    "shop_items",
    "order_id_ts",
];

const TYPES: &[&str] = &[
    "INTEGER",
    "integer",
    "VARCHAR",
    "varchar(255)",
    "text",
    "",
    "timestamp with time zone",
    "DECIMAL(18,2)",
    "BOOLEAN",
    "map({# k #})",
    "STRUCT<a: INT>",
    "date",
    "yes",
    "{{ t }}",
    "it's",
];

const TEXTS: &[Option<&str>] = &[
    None,
    Some(""),
    Some("One row per order."),
    Some("with: colon"),
    Some("  leading spaces"),
    Some("multi\nline\ntext"),
    Some("{{ jinja }} and {% tag %} and {# c #}"),
    Some("quote \"x\""),
    Some("it's"),
    Some("naïve café"),
    Some("#hash"),
    Some("yes"),
    Some("trailing\n"),
    Some("tab\tx"),
    Some("a\r\nb"),
    Some("- item"),
    Some("[list]"),
    Some("{map}"),
    Some("null"),
    Some("1.5"),
];

/// Extra YAML text as the merge keeps it, and odder (blank lines, `\r`, trailing newlines):
/// `indent` must treat each exactly as minijinja's filter does.
const EXTRAS: &[&str] = &[
    "",
    "meta:\n  owner: x",
    "config:\n  tags:\n    - a\n    - b",
    "a: 1\n\nb: 2",
    "x\r\ny",
    "trailing\n",
    "k:\n  - v\r",
    "\n",
    "\r",
    "one",
    "a\n\r\nb\n\n",
    "{{ raw }}: '{% x %}'",
    "a\n\r\r",
];

fn table(rng: &mut Rng, source: &str, schema: &str, t: usize) -> Table {
    let mut name = rng.pick(NAMES).to_string();
    if rng.chance(60) {
        name.push_str(&format!("_{t}"));
    }
    let columns = match rng.below(8) {
        0 => 0,
        1 => 1,
        n => n + rng.below(4),
    };
    let columns = (0..columns)
        .map(|c| {
            let mut name = rng.pick(NAMES).to_string();
            if rng.chance(50) {
                name.push_str(&format!(" {c}"));
            }
            Column {
                name,
                data_type: rng.pick(TYPES).into(),
                description: rng.pick(TEXTS).map(str::to_string),
                is_primary_key: rng.chance(8),
            }
        })
        .collect();
    Table {
        source: source.into(),
        database: rng
            .pick(&[None, Some("wh"), Some("{{ db }}"), Some("My DB")])
            .map(str::to_string),
        schema: schema.into(),
        name,
        kind: rng
            .pick(&[None, Some("BASE TABLE"), Some("VIEW"), Some("{{ k }}")])
            .map(str::to_string),
        description: rng.pick(TEXTS).map(str::to_string),
        columns,
        declared_name: rng.chance(10).then(|| rng.pick(NAMES).to_string()),
        ..Table::default()
    }
}

fn config(rng: &mut Rng) -> GenerateConfig {
    let mut cfg = GenerateConfig {
        dialect: rng.pick(&Dialect::ALL).name().into(),
        database: rng
            .pick(&[
                None,
                Some(""),
                Some("analytics"),
                Some("{{ env_var('DB') }}"),
                Some("My DB"),
            ])
            .map(str::to_string),
        schema: rng
            .pick(&[
                None,
                None,
                Some("{{ target.schema }}_raw"),
                Some("configured"),
                Some("Mixed Schema"),
            ])
            .map(str::to_string),
        loaded_at_field: rng
            .pick(&[
                None,
                Some(""),
                Some("_loaded_at"),
                Some("{{ var('x') }}"),
                Some("Loaded At"),
            ])
            .map(str::to_string),
        model_name: rng
            .pick(&["stg_{source}__{table}", "stg_{table}", "{source}_{table}"])
            .into(),
        key_alias: rng.pick(&["{entity}_id", "", "{table}_key"]).into(),
        timestamp_suffix: rng.pick(&["_at", ""]).into(),
        date_suffix: rng.pick(&["_date", "", "_on"]).into(),
        boolean_prefix: rng.pick(&["", "is_"]).into(),
        ..GenerateConfig::default()
    };
    if rng.chance(30) {
        cfg.strip_prefixes = Vec::new();
    }
    let rule = |rng: &mut Rng| {
        serde_json::json!({
            "count": rng.below(48),
            "period": rng.pick(&["hour", "day", "minute", "{{ p }}"]),
        })
    };
    let (warn, error) = (rule(rng), rule(rng));
    cfg.freshness = freshness(rng.below(5), warn, error);
    for (raw, cast) in [
        ("integer", "bigint"),
        ("varchar", "text"),
        ("text", "{{ dbt.type_string() }}"),
        ("boolean", ""),
        ("date", "date"),
        ("decimal", "numeric(18, 2)"),
    ] {
        if rng.chance(30) {
            cfg.type_map.insert(raw.into(), cast.into());
        }
    }
    cfg
}

/// `generate.freshness` by `which`: warn_after only, error_after only, both, neither rule,
/// or none at all (4 and up).
fn freshness<T: serde::de::DeserializeOwned>(
    which: usize,
    warn: serde_json::Value,
    error: serde_json::Value,
) -> Option<T> {
    let f = match which {
        0 => serde_json::json!({ "warn_after": warn }),
        1 => serde_json::json!({ "error_after": error }),
        2 => serde_json::json!({ "warn_after": warn, "error_after": error }),
        3 => serde_json::json!({}),
        _ => return None,
    };
    Some(serde_json::from_value(f).unwrap())
}

/// An existing `_models.yml` for `source`: some of its models (with descriptions, tests,
/// keys a person added, columns gone), models datachonk does not generate, other keys.
fn existing_file(rng: &mut Rng, source: &SourceCtx) -> String {
    let scalar = |s: &str| yaml::scalar(s);
    let mut out = String::from("version: 2\nmodels:\n");
    for t in &source.tables {
        if !rng.chance(70) {
            continue;
        }
        out.push_str(&format!("  - name: {}\n", scalar(&t.model_name)));
        if let Some(d) = rng.pick(TEXTS) {
            out.push_str(&format!("    description: {}\n", scalar(d)));
        }
        if rng.chance(30) {
            out.push_str("    meta:\n      owner: \"{{ team }}\"\n      tier: 1\n");
        }
        if rng.chance(20) {
            out.push_str("    config:\n      tags: [a, b]\n      enabled: true\n");
        }
        out.push_str("    columns:\n");
        for c in &t.columns {
            if !rng.chance(80) {
                continue;
            }
            out.push_str(&format!("      - name: {}\n", scalar(c.alias())));
            if let Some(d) = rng.pick(TEXTS) {
                out.push_str(&format!("        description: {}\n", scalar(d)));
            }
            if rng.chance(30) {
                out.push_str("        data_type: whatever\n");
            }
            match rng.below(5) {
                    0 => out.push_str("        data_tests:\n          - not_null\n          - accepted_values:\n              arguments:\n                values: ['a', \"b: c\"]\n"),
                    1 => out.push_str("        tests: [unique]\n"),
                    2 => out.push_str("        data_tests:\n          - relationships:\n              to: ref('x')\n              field: id\n        tests:\n          - not_null\n"),
                    _ => {}
                }
            if rng.chance(25) {
                out.push_str("        meta:\n          pii: true\n        constraints:\n          - type: not_null\n");
            }
        }
        if rng.chance(30) {
            out.push_str("      - name: gone_column\n        description: dropped\n");
        }
    }
    for k in 0..rng.below(3) {
        out.push_str(&format!(
                "  - name: other_model_{k}\n    description: {}\n    columns:\n      - name: a\n        data_tests: [unique]\n",
                scalar(rng.pick(TEXTS).unwrap_or("kept"))
            ));
    }
    if rng.chance(40) {
        out.push_str(
            "exposures:\n  - name: dash\n    type: dashboard\n    owner:\n      email: a@b.c\n",
        );
    }
    if rng.chance(20) {
        out.push_str("semantic_models: []\n");
    }
    out
}

/// A merge result built by hand: odd texts the merge would not produce, fewer tables or
/// columns than the source (the templates' views take the shorter).
fn odd_merge(rng: &mut Rng, source: &SourceCtx) -> (ModelsSource, Vec<String>, String) {
    let mut tables: Vec<ModelsTable> = source
        .tables
        .iter()
        .map(|t| {
            let mut columns: Vec<ModelsColumn> = t
                .columns
                .iter()
                .map(|_| ModelsColumn {
                    description: rng.pick(TEXTS).map(str::to_string),
                    tests: (0..rng.below(3))
                        .map(|_| rng.pick(EXTRAS).to_string())
                        .collect(),
                    extra: rng.pick(EXTRAS).into(),
                })
                .collect();
            if rng.chance(20) {
                columns.pop();
            }
            ModelsTable {
                description: rng.pick(TEXTS).unwrap_or_default().into(),
                extra: rng.pick(EXTRAS).into(),
                columns,
            }
        })
        .collect();
    if rng.chance(20) {
        tables.pop();
    }
    let kept = (0..rng.below(3))
        .map(|_| rng.pick(EXTRAS).to_string())
        .collect();
    (ModelsSource { tables }, kept, rng.pick(EXTRAS).into())
}

/// Every built-in template rendered both ways for every source of `sources`; returns how
/// many files were compared.
fn compare(
    rng: &mut Rng,
    case: &str,
    templates: &Templates,
    cfg: &GenerateConfig,
    sources: Vec<SourceCtx>,
) -> usize {
    let config = crate::templates::env::to_value(cfg);
    let dialect = cfg.dialect.as_str();
    let mut files = 0;
    for source in sources.into_iter().map(Arc::new) {
        let source_value = staging_source(&source);
        for (i, t) in source.tables.iter().enumerate() {
            let ctx = staging_context(&source_value, &source, i, &config, dialect);
            let want = templates.render(STAGING_MODEL, ctx).unwrap();
            assert_eq!(staging_model(&source.name, t), want, "{case}: {t:#?}");
            files += 1;
        }

        let want = templates
            .render(SOURCES_YAML, sources_context(&source, &config, dialect))
            .unwrap();
        let mut got = Vec::new();
        sources_yaml(&mut got, &source, cfg).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want, "{case}: {source:#?}");
        files += 1;

        let mut merges = vec![
            (
                "no file",
                merge::models_context(&source, None, None).unwrap(),
            ),
            ("odd merge", {
                let (m, kept, extra) = odd_merge(rng, &source);
                (m, kept, extra, merge::MergeReport::default())
            }),
        ];
        let text = existing_file(rng, &source);
        let generated = rng.chance(50).then(|| GeneratedDescriptions::of(&source));
        let merged = merge::models_context(
            &source,
            Some((Path::new("m.yml"), &text)),
            generated.as_ref(),
        )
        .unwrap_or_else(|e| panic!("{case}: {e}\n{text}"));
        merges.push(("existing file", merged));
        for (what, (merged, kept, extra, _)) in merges {
            let mut got = Vec::new();
            models_yaml(&mut got, &source, &merged, &kept, &extra).unwrap();
            let ctx = models_context(&source, &Arc::new(merged), kept, extra, &config, dialect);
            let want = templates.render(MODELS_YAML, ctx).unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                want,
                "{case} ({what}): {text}"
            );
            files += 1;
        }
    }
    files
}

fn templates_for(dialect: &str) -> Templates {
    Templates::new(None, Dialect::parse(dialect).unwrap()).unwrap()
}

#[test]
fn randomized_contexts_render_as_the_builtin_templates() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let templates: Vec<(&str, Templates)> = Dialect::ALL
        .iter()
        .map(|d| (d.name(), templates_for(d.name())))
        .collect();
    let (mut cases, mut files, mut refused) = (0, 0, 0);
    while cases < 600 {
        let cfg = config(&mut rng);
        let mut tables = Vec::new();
        for (source, schema) in [("shop", "raw"), ("crm", "Raw CRM"), ("s_1", "{% raw %}")] {
            if tables.is_empty() || rng.chance(40) {
                for t in 0..rng.below(5) {
                    tables.push(table(&mut rng, source, schema, t));
                }
            }
        }
        // Names the dialect cannot hold or that collide are refused before rendering.
        let Ok(sources) = context::build(tables, &cfg) else {
            refused += 1;
            continue;
        };
        let t = &templates.iter().find(|(d, _)| *d == cfg.dialect).unwrap().1;
        files += compare(&mut rng, &format!("case {cases}"), t, &cfg, sources);
        cases += 1;
    }
    assert!(files > 3000, "{files} files compared ({refused} refused)");
}

fn col(name: &str, data_type: &str, description: Option<&str>, pk: bool) -> Column {
    Column {
        name: name.into(),
        data_type: data_type.into(),
        description: description.map(str::to_string),
        is_primary_key: pk,
    }
}

/// The hand-picked tables: no column (`*`), one, keys, quoting, casts, Jinja, YAML
/// indicators, an identifier differing from the dbt name.
fn picked_tables() -> Vec<Table> {
    let t = |name: &str, description: Option<&str>, columns: Vec<Column>| Table {
        source: "shop".into(),
        database: Some("wh".into()),
        schema: "raw".into(),
        name: name.into(),
        kind: Some("BASE TABLE".into()),
        description: description.map(str::to_string),
        columns,
        ..Table::default()
    };
    vec![
        t("empty", None, vec![]),
        t("one", Some(""), vec![col("id", "INTEGER", None, false)]),
        t(
            "Order Items",
            Some("Line items: one\nper {{ order }}"),
            vec![
                col("ID", "INTEGER", Some("  key"), true),
                col("select", "VARCHAR", Some("it's \"quoted\""), false),
                col("{{ x }}", "map({# k #})", Some("{% raw %}"), false),
                col("2fa", "", None, false),
                col("Naïve Col", "timestamp with time zone", Some("yes"), false),
                col("Shipped TS", "timestamp", None, false),
            ],
        ),
        Table {
            // A declared name is the project's text: `jinja_str` escapes its quote.
            declared_name: Some("it's".into()),
            ..t(
                "it's",
                Some("#not a comment"),
                vec![col("a'b", "text", None, false)],
            )
        },
        t(
            "{{ t }}",
            None,
            vec![col("x", "date", Some("- dash"), false)],
        ),
    ]
}

#[test]
fn picked_contexts_render_as_the_builtin_templates_in_every_dialect() {
    let mut rng = Rng(7);
    for dialect in Dialect::ALL {
        for variant in 0..6 {
            let mut cfg = GenerateConfig {
                dialect: dialect.name().into(),
                ..GenerateConfig::default()
            };
            cfg.type_map.insert("integer".into(), "bigint".into());
            cfg.type_map
                .insert("text".into(), "{{ dbt.type_string() }}".into());
            let rule = serde_json::json!({ "count": 12, "period": "hour" });
            cfg.freshness = freshness(variant, rule.clone(), rule);
            // An empty text is false to the templates' conditions.
            cfg.loaded_at_field = Some(["", "_loaded_at"][variant % 2].into());
            cfg.database = match variant {
                0 => Some(String::new()),
                4 => Some("analytics".into()),
                _ => None,
            };
            if variant % 3 == 0 {
                cfg.type_map.insert("date".into(), String::new());
            }
            cfg.schema = (variant == 5).then(|| "{{ target.schema }}".into());
            let sources = context::build(picked_tables(), &cfg).unwrap();
            let case = format!("{} variant {variant}", dialect.name());
            compare(
                &mut rng,
                &case,
                &templates_for(dialect.name()),
                &cfg,
                sources,
            );
        }
    }
}

#[test]
fn the_native_forms_say_what_the_templates_say() {
    // Fixed points, so a change to both at once is seen too.
    let cfg = GenerateConfig::default();
    let s = context::build(picked_tables(), &cfg).unwrap().remove(0);
    let empty = staging_model("shop", &s.tables[0]);
    assert!(
        empty.contains("    select\n        *\n\n    from source\n"),
        "{empty}"
    );
    let items = staging_model("shop", &s.tables[2]);
    assert!(
        items.contains("        \"ID\" as order_item_id,\n        \"select\" as select_,\n"),
        "{items}"
    );
    assert!(items.contains("\"{{ '{{' }} x }}\" as x,"), "{items}");
    assert!(items.contains("\"Shipped TS\" as shipped_at\n"), "{items}");
    let quote = staging_model("shop", &s.tables[3]);
    assert!(quote.contains("{{ source('shop', 'it\\'s') }}"), "{quote}");
    let mut out = Vec::new();
    sources_yaml(&mut out, &s, &cfg).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("sources:\n  - name: shop\n    schema: raw\n    tables:\n"));
    // A description only where there is one (the table `one` has an empty comment).
    assert!(
            out.contains("      - name: one\n        columns:\n          - name: id\n            data_type: INTEGER\n\n"),
            "{out}"
        );
    assert!(!out.contains("description: \"\""), "{out}");
    assert!(out.contains("        description: \"Line items: one\\nper {{ '{{' }} order }}\"\n"));
    assert!(
        out.ends_with("            description: \"- dash\"\n"),
        "{out}"
    );
}

#[test]
fn indent_is_minijinjas_filter() {
    let mut env = minijinja::Environment::new();
    env.add_template("t", "{{ s | indent(w) }}").unwrap();
    let t = env.get_template("t").unwrap();
    // Every string of up to 6 characters over a small alphabet, at two widths.
    let alphabet = ['a', ' ', '\n', '\r', 'b'];
    let mut strings = vec![String::new()];
    for _ in 0..6 {
        let longer: Vec<String> = strings
            .iter()
            .filter(|s| s.len() == strings.last().map_or(0, |l| l.len()))
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        strings.extend(longer);
    }
    for s in &strings {
        for w in [4, 12] {
            let want = t.render(minijinja::context! { s => s, w => w }).unwrap();
            let mut got = String::new();
            push_indented(&mut got, s, w);
            assert_eq!(got, want, "{s:?} width {w}");
        }
    }
}

#[test]
fn only_templates_the_project_does_not_override_are_builtin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(STAGING_MODEL), "mine\n").unwrap();
    let t = Templates::new(Some(dir.path()), Dialect::Postgres).unwrap();
    assert!(!t.is_builtin(STAGING_MODEL));
    assert!(t.is_builtin(SOURCES_YAML) && t.is_builtin(MODELS_YAML));
    assert!(templates_for("postgres").is_builtin(STAGING_MODEL));
}

/// The three templates this module follows, as their SHA-256 when it was last brought in step.
const FOLLOWED: [(&str, &str); 3] = [
    (
        STAGING_MODEL,
        "39e623056e2e1976add8e782236b1dbdc7e3aa1637e88b566a5096c6bfc462b8",
    ),
    (
        SOURCES_YAML,
        "99b2c65b2521e191cf0085466dd12b8c6cb3b61981bc7f11e19ebc36f9d71fc0",
    ),
    (
        MODELS_YAML,
        "22c9d329d67bf8d10748a1b5cdfe100b4f81be263b0ee149c6647f71836eb1df",
    ),
];

#[test]
fn the_builtin_templates_are_the_ones_native_follows() {
    // The templates are the spec (docs/design/templates.md): a change to one must be made in
    // native.rs too, so a changed template fails here until someone has looked.
    for (name, pinned) in FOLLOWED {
        let (_, source) = crate::templates::BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a built-in template");
        assert_eq!(
            crate::digest::sha256_hex(source.as_bytes()),
            pinned,
            "templates/{name} changed: make the same change in src/generate/render/native.rs, \
             then pin the new digest here"
        );
    }
}
