//! Every key of `datachonk.yaml`, described once, beside the parser: what it holds, its type,
//! its default and the environment variable or flag that overrides it. The book's
//! configuration reference is generated from these tables ([`markdown`]), and tests hold them
//! to the parser (each section's keys are exactly the fields its serde type accepts), to the
//! resolved defaults, and to `datachonk.example.yaml`.
//!
//! Plain tables rather than a schema derive (schemars): the parser's types hold
//! `serde_saphyr::Spanned` values for provenance, which a schema derive cannot see through
//! without an annotation on every field, and what a reader needs (defaults as the resolver
//! applies them, the flag beside the key) is not in the types anyway.

use super::{DEFAULT_ACCESS_URL, ENV_VARS};

/// What a key holds, as the reference names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A block of keys of its own, documented as its own section.
    Section,
    /// Named blocks (`targets: {dev: {…}, prod: {…}}`), each with the keys of one section.
    Named,
    Text,
    Integer,
    Bool,
    /// `90s`, `30m`, `2h`, or a number of seconds.
    Duration,
    List,
    /// A mapping whose keys are the user's (type names, table names).
    Map,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Section => "section",
            Kind::Named => "map of name → section",
            Kind::Text => "text",
            Kind::Integer => "integer",
            Kind::Bool => "true / false",
            Kind::Duration => "duration",
            Kind::List => "list of text",
            Kind::Map => "map",
        }
    }
}

/// One key of a section.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    pub key: &'static str,
    pub kind: Kind,
    /// The value used when the key is absent, as written in YAML ("" when there is none).
    pub default: &'static str,
    /// Environment variables and flags that override the key, highest first ("" when none).
    pub overridden_by: &'static str,
    pub doc: &'static str,
}

/// One block of the file, by its dotted path (`deploy.dbt_cloud`; "" is the file itself).
#[derive(Debug, Clone, Copy)]
pub struct SectionDoc {
    pub path: &'static str,
    pub doc: &'static str,
    pub keys: &'static [KeyDoc],
}

const fn key(
    key: &'static str,
    kind: Kind,
    default: &'static str,
    overridden_by: &'static str,
    doc: &'static str,
) -> KeyDoc {
    KeyDoc {
        key,
        kind,
        default,
        overridden_by,
        doc,
    }
}

use Kind::*;

/// The keys a trigger sends to dbt Cloud (TriggerRunRequest), shared by the block and targets.
const CAUSE_DOC: &str = "Why the run was triggered, shown in dbt Cloud (at most 255 characters); unset: `Triggered by datachonk` with the branch and sha when known (`push`: its commit's subject, sha and branch)";

// The tables keep one key per line (rustfmt::skip) so that they read as tables.

/// `deploy.dbt_cloud`, in the order of the parser's fields.
#[rustfmt::skip]
const DBT_CLOUD: &[KeyDoc] = &[
    key("access_url", Text, DEFAULT_ACCESS_URL, "`--access-url`, `DBT_CLOUD_ACCESS_URL`, `DBT_CLOUD_HOST`", "The account's access URL (Account settings): cell and regional URLs work (`https://PREFIX.us1.dbt.com`, `https://emea.dbt.com`, `https://au.dbt.com`), and a local sandbox (`http://127.0.0.1:PORT`)"),
    key("account_id", Integer, "", "`--account-id`, `DBT_CLOUD_ACCOUNT_ID`", "The dbt Cloud account (`…/deploy/ACCOUNT/…` in its URLs)"),
    key("project_id", Integer, "", "`DBT_CLOUD_PROJECT_ID`", "The dbt Cloud project"),
    key("environment_id", Integer, "", "`DBT_CLOUD_ENVIRONMENT_ID`", "The environment the job runs in"),
    key("job_id", Integer, "", "`--job-id`, `DBT_CLOUD_JOB_ID`", "The job to trigger, typically a validation job (`dbt build --select state:modified+ --defer …`); with `targets:`, each target names its job instead"),
    key("token_env", Text, "DBT_CLOUD_API_TOKEN", "", "The NAME of the environment variable that holds the API token; the token itself is never written in the file (a literal token is refused)"),
    key("auto_trigger", Bool, "false", "", "Trigger the job after every `datachonk push` (as `--trigger-dbt-run`)"),
    key("wait", Bool, "false", "`--wait`", "Wait for the run's verdict"),
    key("timeout", Duration, "", "`--timeout`", "The deadline for the whole command from the trigger on (exit 4 when reached); unset: no limit. Also how long the pre-merge-commit hook waits"),
    key("retries", Integer, "0", "`--retries`", "Retry a run that ends in Error up to this many times, from the point of failure (never after a cancellation or a timeout)"),
    key("cause", Text, "", "`--cause`", CAUSE_DOC),
    key("schema_override", Text, "", "`--schema-override`", "Sent with every trigger: the schema dbt builds into"),
    key("target_name_override", Text, "", "`--target-name-override`", "Sent with every trigger: dbt's `target.name`"),
    key("threads_override", Integer, "", "`--threads-override`", "Sent with every trigger: dbt's threads (at least 1)"),
    key("steps_override", List, "", "`--steps-override`", "Sent with every trigger: the dbt commands to run instead of the job's"),
    key("timeout_seconds_override", Integer, "", "`--timeout-seconds-override`", "Sent with every trigger: dbt Cloud's own run timeout (0: none)"),
    key("dbt_version_override", Text, "", "`--dbt-version-override`", "Sent with every trigger: the dbt version to run"),
    key("generate_docs_override", Bool, "", "`--generate-docs-override`", "Sent with every trigger: whether the run generates docs"),
    key("confirm", Bool, "false", "", "The job changes production: commands that would trigger it ask first on a terminal, and need `--yes` without one"),
    key("targets", Named, "", "", "Named targets, each a partial block that overrides the values above for its job (see `deploy.dbt_cloud.targets.NAME`)"),
    key("default_target", Text, "", "`--target`, `DATACHONK_TARGET`", "The target used when neither `--target` nor `DATACHONK_TARGET` names one"),
];

/// `deploy.dbt_cloud.targets.NAME`: the job-level keys of the block.
#[rustfmt::skip]
const TARGET: &[KeyDoc] = &[
    key("project_id", Integer, "the block's", "", "As in the block, for this target"),
    key("environment_id", Integer, "the block's", "", "As in the block, for this target"),
    key("job_id", Integer, "", "", "The target's job (required)"),
    key("auto_trigger", Bool, "the block's", "", "As in the block, for this target"),
    key("wait", Bool, "the block's", "", "As in the block, for this target"),
    key("timeout", Duration, "the block's", "", "As in the block, for this target"),
    key("retries", Integer, "the block's", "", "As in the block, for this target"),
    key("cause", Text, "the block's", "", "As in the block, for this target"),
    key("confirm", Bool, "the block's", "", "As in the block: `true` marks a production job"),
    key("schema_override", Text, "the block's", "", "As in the block, for this target"),
    key("target_name_override", Text, "the block's", "", "As in the block, for this target"),
    key("threads_override", Integer, "the block's", "", "As in the block, for this target"),
    key("steps_override", List, "the block's", "", "As in the block, for this target"),
    key("timeout_seconds_override", Integer, "the block's", "", "As in the block, for this target"),
    key("dbt_version_override", Text, "the block's", "", "As in the block, for this target"),
    key("generate_docs_override", Bool, "the block's", "", "As in the block, for this target"),
];

#[rustfmt::skip]
const GENERATE: &[KeyDoc] = &[
    key("source", Text, "", "", "The dbt source name for every generated table; unset: the catalog's source name, or the schema"),
    key("database", Text, "", "", "`database:` written in the sources YAML; unset: omitted (the target's database)"),
    key("schema", Text, "", "", "`schema:` written in the sources YAML; unset: the schema the metadata reports"),
    key("tables", List, "[]", "", "The selection when the command line gives none (`SOURCE[.TABLE]` globs); empty: everything"),
    key("exclude", List, "[]", "", "Never generate these (`SOURCE[.TABLE]` globs), whatever the selection"),
    key("dialect", Text, "postgres", "", "Identifier quoting rules: `duckdb`, `postgres`, `redshift`, `snowflake`, `bigquery` or `databricks`"),
    key("output_dir", Text, "models/staging", "", "Where the `<source>/` folders are written, relative to the project root"),
    key("templates_dir", Text, "", "", "A folder whose files replace the built-in templates by name"),
    key("naming", Section, "", "", "How models and columns are named (`generate.naming`)"),
    key("primary_key", Section, "", "", "How each table's primary key is found (`generate.primary_key`)"),
    key("type_map", Map, "{}", "", "Raw warehouse type (case-insensitive) → the type the staging model casts to"),
    key("loaded_at_field", Text, "", "", "The column that says when a row was loaded, written with `freshness` in the sources YAML"),
    key("freshness", Section, "", "", "Source freshness rules written in the sources YAML (`generate.freshness`)"),
    key("catalog_job_id", Integer, "", "", "The job whose latest successful run's catalog.json `--from-catalog cloud` reads; unset: `deploy.dbt_cloud.job_id`"),
];

#[rustfmt::skip]
const NAMING: &[KeyDoc] = &[
    key("model", Text, "stg_{source}__{table}", "", "The model name pattern, with `{source}` and `{table}`"),
    key("digit_prefix", Text, "_", "", "Prefix of an alias that would start with a digit (`2fa` → `_2fa`)"),
    key("reserved_suffix", Text, "_", "", "Suffix of an alias that is a reserved word (`order` → `order_`)"),
    key("strip_prefixes", List, "[raw_, {source}_, {schema}_]", "", "Stripped from a table's name (each once, in order, when something is left) for its model name: `raw_orders` → `stg_shop__orders`"),
    key("primary_key", Text, "{entity}_id", "", "What a primary key named `id` becomes (`{entity}`: the singular table name; \"\" keeps `id`)"),
    key("timestamp_suffix", Text, "_at", "", "Ending of timestamps named so (`_ts`, `_timestamp`, …): `created_ts` → `created_at` (\"\" off)"),
    key("date_suffix", Text, "_date", "", "Ending of dates named so (`_dt`, or `_on` typed date): `order_dt` → `order_date` (\"\" off)"),
    key("boolean_prefix", Text, "", "", "Prefix of booleans that have none (`is_`: `shipped` → `is_shipped`); \"\" (the default) off"),
];

#[rustfmt::skip]
const PRIMARY_KEY: &[KeyDoc] = &[
    key("columns", List, "[id, {entity}_id, {table}_id]", "", "Candidate key names, first match wins (`{table}`: the snake_case table name, `{entity}`: its singular)"),
    key("tables", Map, "{}", "", "Explicit keys: `SOURCE.TABLE` or `TABLE` → column (raw name or alias); null or `none`: the table has no key"),
];

#[rustfmt::skip]
const FRESHNESS: &[KeyDoc] = &[
    key("warn_after", Map, "", "", "`{count: N, period: minute, hour or day}`: warn when the newest load is older"),
    key("error_after", Map, "", "", "`{count: N, period: minute, hour or day}`: fail when the newest load is older"),
];

#[rustfmt::skip]
const GIT: &[KeyDoc] = &[
    key("protected_branches", List, "[main, master]", "", "Branches `push` refuses to commit on or push to without `--allow-protected` (names, `*` globs; `[]` protects none)"),
    key("push_timeout", Duration, "120s", "", "The deadline for the whole push, connection included (exit 5 when reached; the commit is kept)"),
];

#[rustfmt::skip]
const FILE: &[KeyDoc] = &[
    key("deploy", Section, "", "", "How runs are triggered (`deploy.dbt_cloud`)"),
    key("generate", Section, "", "", "What `datachonk generate` writes"),
    key("git", Section, "", "", "How `datachonk push` treats git"),
];

const DEPLOY: &[KeyDoc] = &[key(
    "dbt_cloud",
    Section,
    "",
    "",
    "The dbt Cloud account, project and job",
)];

/// Every section of the file, in the order the reference shows them.
pub const SECTIONS: &[SectionDoc] = &[
    SectionDoc {
        path: "",
        doc: "The file's top level. A `model:` block is refused: the spec of entities, facts and metrics lives in `datachonk/*.yml`.",
        keys: FILE,
    },
    SectionDoc {
        path: "deploy",
        doc: "Where runs are triggered.",
        keys: DEPLOY,
    },
    SectionDoc {
        path: "deploy.dbt_cloud",
        doc: "The dbt Cloud account, project and job, and how runs are triggered and awaited. `token` and `api_token` are refused: the token comes from the environment.",
        keys: DBT_CLOUD,
    },
    SectionDoc {
        path: "deploy.dbt_cloud.targets.NAME",
        doc: "One named target (`dev`, `prod`, …): the block's job-level keys, each overriding the block's value when this target is used. `access_url`, `account_id` and the token are the block's.",
        keys: TARGET,
    },
    SectionDoc {
        path: "generate",
        doc: "What `datachonk generate` writes from metadata. All keys are optional.",
        keys: GENERATE,
    },
    SectionDoc {
        path: "generate.naming",
        doc: "How model and column names are derived.",
        keys: NAMING,
    },
    SectionDoc {
        path: "generate.primary_key",
        doc: "How each table's primary key is found (it gets `unique` and `not_null` tests).",
        keys: PRIMARY_KEY,
    },
    SectionDoc {
        path: "generate.freshness",
        doc: "dbt's source freshness, written for every generated source.",
        keys: FRESHNESS,
    },
    SectionDoc {
        path: "git",
        doc: "How `datachonk push` treats git.",
        keys: GIT,
    },
];

/// The section at a dotted path.
pub fn section(path: &str) -> Option<&'static SectionDoc> {
    SECTIONS.iter().find(|s| s.path == path)
}

/// The reference as Markdown: one table per section, then the environment variables.
pub fn markdown() -> String {
    let mut out = String::new();
    for s in SECTIONS {
        let title = if s.path.is_empty() {
            "the file".to_string()
        } else {
            format!("`{}`", s.path)
        };
        out.push_str(&format!("### {title}\n\n{}\n\n", s.doc));
        out.push_str("| key | type | default | overridden by | what it holds |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
        for k in s.keys {
            let default = match k.default {
                "" => String::new(),
                "the block's" => "the block's".to_string(),
                d => format!("`{d}`"),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                k.key,
                k.kind.label(),
                default,
                k.overridden_by,
                k.doc
            ));
        }
        out.push('\n');
    }
    out.push_str("### Environment variables\n\n");
    out.push_str(
        "Each overrides the file; a flag overrides both. Empty values count as unset.\n\n",
    );
    out.push_str("| variable | what it holds |\n| --- | --- |\n");
    for (name, doc) in ENV_VARS {
        out.push_str(&format!("| `{name}` | {doc} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::{ConfigFile, DbtCloudSection, DeploySection, TargetSection};
    use crate::config::generate::{
        FreshnessSection, GenerateConfig, GenerateSection, NamingSection, PrimaryKeySection,
    };
    use crate::config::git::{GitConfig, GitSection};
    use serde::de::{Error as _, Visitor};
    use serde::Deserialize;

    /// The field names a derived `Deserialize` accepts, read from the type itself: serde hands
    /// them to `deserialize_struct`, which this deserializer records and then refuses.
    fn fields_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
        struct Probe<'a>(&'a mut &'static [&'static str]);
        impl<'de> serde::Deserializer<'de> for Probe<'_> {
            type Error = serde::de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(Self::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Self::Error> {
                *self.0 = fields;
                Err(Self::Error::custom("probed"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(Probe(&mut fields));
        fields
    }

    fn documented(path: &str) -> Vec<&'static str> {
        section(path)
            .unwrap_or_else(|| panic!("no section {path:?}"))
            .keys
            .iter()
            .map(|k| k.key)
            .collect()
    }

    /// Fields a section's parser accepts only to refuse them with a precise message.
    const REFUSED: &[(&str, &str)] = &[
        ("", "model"),
        ("deploy.dbt_cloud", "token"),
        ("deploy.dbt_cloud", "api_token"),
    ];

    #[test]
    fn each_section_documents_exactly_the_keys_its_parser_accepts() {
        let parsers: [(&str, &'static [&'static str]); 9] = [
            ("", fields_of::<ConfigFile>()),
            ("deploy", fields_of::<DeploySection>()),
            ("deploy.dbt_cloud", fields_of::<DbtCloudSection>()),
            (
                "deploy.dbt_cloud.targets.NAME",
                fields_of::<TargetSection>(),
            ),
            ("generate", fields_of::<GenerateSection>()),
            ("generate.naming", fields_of::<NamingSection>()),
            ("generate.primary_key", fields_of::<PrimaryKeySection>()),
            ("generate.freshness", fields_of::<FreshnessSection>()),
            ("git", fields_of::<GitSection>()),
        ];
        assert_eq!(parsers.len(), SECTIONS.len(), "every section has a parser");
        for (path, fields) in parsers {
            assert!(!fields.is_empty(), "{path:?}: the probe read the fields");
            let accepted: Vec<&str> = fields
                .iter()
                .copied()
                .filter(|f| !REFUSED.contains(&(path, *f)))
                .collect();
            assert_eq!(
                documented(path),
                accepted,
                "section {path:?}: the reference and the parser disagree"
            );
        }
    }

    #[test]
    fn a_section_key_has_its_section_and_a_target_key_is_a_block_key() {
        for s in SECTIONS {
            for k in s.keys {
                let child = if s.path.is_empty() {
                    k.key.to_string()
                } else {
                    format!("{}.{}", s.path, k.key)
                };
                match k.kind {
                    Kind::Section => assert!(section(&child).is_some(), "{child} has a section"),
                    Kind::Named => {
                        assert!(section(&format!("{child}.NAME")).is_some(), "{child}.NAME")
                    }
                    _ => assert!(section(&child).is_none(), "{child} is a leaf"),
                }
                assert!(
                    !k.doc.contains('|'),
                    "{child}: a table cell cannot hold `|`"
                );
            }
        }
        let block = documented("deploy.dbt_cloud");
        for k in documented("deploy.dbt_cloud.targets.NAME") {
            assert!(block.contains(&k), "targets.NAME.{k} is also a block key");
        }
    }

    fn default_of(path: &str, key: &str) -> &'static str {
        section(path)
            .unwrap()
            .keys
            .iter()
            .find(|k| k.key == key)
            .unwrap()
            .default
    }

    fn yaml_list(items: &[String]) -> String {
        format!("[{}]", items.join(", "))
    }

    #[test]
    fn documented_defaults_are_the_ones_the_resolver_applies() {
        let g = GenerateConfig::default();
        assert_eq!(default_of("generate", "dialect"), g.dialect);
        assert_eq!(default_of("generate", "output_dir"), g.output_dir);
        assert_eq!(default_of("generate", "tables"), yaml_list(&g.tables));
        assert_eq!(default_of("generate", "exclude"), yaml_list(&g.exclude));
        assert_eq!(default_of("generate.naming", "model"), g.model_name);
        assert_eq!(
            default_of("generate.naming", "digit_prefix"),
            g.digit_prefix
        );
        assert_eq!(
            default_of("generate.naming", "reserved_suffix"),
            g.reserved_suffix
        );
        assert_eq!(
            default_of("generate.naming", "strip_prefixes"),
            yaml_list(&g.strip_prefixes)
        );
        assert_eq!(default_of("generate.naming", "primary_key"), g.key_alias);
        assert_eq!(
            default_of("generate.naming", "timestamp_suffix"),
            g.timestamp_suffix
        );
        assert_eq!(default_of("generate.naming", "date_suffix"), g.date_suffix);
        assert_eq!(
            default_of("generate.naming", "boolean_prefix"),
            g.boolean_prefix
        );
        assert_eq!(
            default_of("generate.primary_key", "columns"),
            yaml_list(&g.primary_key_columns)
        );
        let git = GitConfig::default();
        assert_eq!(
            default_of("git", "protected_branches"),
            yaml_list(&git.protected_branches)
        );
        assert_eq!(
            crate::config::parse_duration(default_of("git", "push_timeout")).unwrap(),
            git.push_timeout
        );
        assert_eq!(
            default_of("deploy.dbt_cloud", "token_env"),
            crate::config::env::TOKEN
        );
    }

    #[test]
    fn every_environment_variable_overrides_a_documented_key() {
        let all: String = SECTIONS
            .iter()
            .flat_map(|s| s.keys.iter().map(|k| k.overridden_by))
            .collect();
        for (name, _) in ENV_VARS {
            if *name == crate::config::env::TOKEN {
                continue; // the token has no key: token_env names it
            }
            assert!(
                all.contains(&format!("`{name}`")),
                "{name} is in the reference"
            );
        }
        let page = markdown();
        for (name, _) in ENV_VARS {
            assert!(page.contains(&format!("| `{name}` |")), "{name} is listed");
        }
    }
}
