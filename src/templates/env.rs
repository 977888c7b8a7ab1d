//! The template environment: built-in templates embedded at compile time, a project's
//! `generate.templates_dir` overriding any of them by file name, and datachonk's filters.
//!
//! Choices made once, here, and tested:
//! - Delimiters are `[[ ]]`, `[% %]` and `[# #]`: the output is itself dbt Jinja
//!   (`{{ source(...) }}`), which therefore passes through templates as plain text.
//! - Undefined variables are errors (strict), reported with the template name and line.
//! - No auto-escaping (minijinja would JSON-escape `.yml` files by default); escaping is
//!   explicit through `yaml_str`, `jinja_str` and `escape_jinja`.
//! - `trim_blocks` + `lstrip_blocks` so block tags on their own line leave no trace, and
//!   `keep_trailing_newline` so files end in `\n`.
//! - Every template is read once, when the environment is built (no loader stat per render).

use std::path::{Path, PathBuf};

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Serialize;

use super::escape::{jinja_str, yaml_str};
use super::names::marts;
use super::names::*;
use crate::digest::hex;
use crate::ident::snake_case;
use crate::ident::Dialect;

/// Built-in templates: (file name, source).
pub const BUILTIN: [(&str, &str); 13] = [
    (
        STAGING_MODEL,
        include_str!("../../templates/staging_model.sql"),
    ),
    (SOURCES_YAML, include_str!("../../templates/sources.yml")),
    (MODELS_YAML, include_str!("../../templates/models.yml")),
    (
        COMMIT_MESSAGE,
        include_str!("../../templates/commit_message.txt"),
    ),
    // Entities, facts and metrics (issue 15), overridable as `marts/<name>` in templates_dir.
    (marts::DIM, include_str!("../../templates/marts/dim.sql")),
    (
        marts::DIM_SCD2,
        include_str!("../../templates/marts/dim_scd2.sql"),
    ),
    (
        marts::DIM_YAML,
        include_str!("../../templates/marts/dim.yml"),
    ),
    (
        marts::SNAPSHOT,
        include_str!("../../templates/marts/snapshot.yml"),
    ),
    (marts::FCT, include_str!("../../templates/marts/fct.sql")),
    (
        marts::FCT_YAML,
        include_str!("../../templates/marts/fct.yml"),
    ),
    (
        marts::METRICS_YAML,
        include_str!("../../templates/marts/metrics.yml"),
    ),
    (
        marts::TIME_SPINE,
        include_str!("../../templates/marts/time_spine.sql"),
    ),
    (
        marts::TIME_SPINE_YAML,
        include_str!("../../templates/marts/time_spine.yml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Syntax or render error; `location` is `NAME:LINE` (the override's path when overridden).
    #[error("template {location}: {message}")]
    Render { location: String, message: String },
}

/// The environment plus where each template came from (for messages).
pub struct Templates {
    env: Environment<'static>,
    origins: Vec<(String, String)>,
    /// Built-ins replaced by a same-named file of the project's `templates_dir`.
    overridden: Vec<&'static str>,
    /// Digest of every template's source: part of each planned file's input fingerprint.
    pub fingerprint: String,
}

impl Templates {
    /// Built-ins, overridden by same-named files in `overrides` (when given). `dialect` is the
    /// default for the `quote_identifier` filter.
    pub fn new(overrides: Option<&Path>, dialect: Dialect) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_syntax(syntax());
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_auto_reload(false);
        env.add_filter("snake_case", |s: &str| snake_case(s));
        env.add_filter(
            "quote_identifier",
            move |s: &str, d: Option<&str>| -> Result<String, minijinja::Error> {
                let d = match d {
                    None => dialect,
                    Some(name) => Dialect::parse(name).ok_or_else(|| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("quote_identifier: unknown dialect {name:?}"),
                        )
                    })?,
                };
                Ok(d.quote_if_needed(s))
            },
        );
        env.add_filter("yaml_str", |v: Value| yaml_str(&v));
        env.add_filter("jinja_str", |s: &str| jinja_str(s));
        env.add_filter("escape_jinja", |s: &str| super::escape::escape_jinja(s));
        let mut origins = Vec::new();
        let mut overridden = Vec::new();
        let mut digest = sha2_hex_init();
        for (name, builtin) in BUILTIN {
            let (origin, source) = match overrides.map(|d| d.join(name)) {
                Some(path) if path.is_file() => {
                    let text = crate::io_limits::read_text(
                        &path,
                        crate::io_limits::CONFIG_LIMIT,
                        crate::io_limits::Origin::Found,
                    )
                    .map_err(|source| TemplateError::Read {
                        path: path.clone(),
                        source,
                    })?;
                    overridden.push(name);
                    (path.display().to_string(), text)
                }
                _ => (name.to_string(), builtin.to_string()),
            };
            digest.update(name.as_bytes());
            digest.update([0]);
            digest.update(source.as_bytes());
            digest.update([0]);
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| render_error(&e, &origin))?;
            origins.push((name.to_string(), origin));
        }
        // Other files in the overrides folder are reachable via include/import/extends.
        if let Some(dir) = overrides {
            let dir = dir.to_path_buf();
            env.set_loader(move |name| {
                let path = dir.join(name);
                match crate::io_limits::read_text(
                    &path,
                    crate::io_limits::CONFIG_LIMIT,
                    crate::io_limits::Origin::Found,
                ) {
                    Ok(text) => Ok(Some(text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(minijinja::Error::new(
                        minijinja::ErrorKind::TemplateNotFound,
                        format!("cannot read {}: {e}", path.display()),
                    )),
                }
            });
        }
        Ok(Templates {
            env,
            origins,
            overridden,
            fingerprint: hex(&digest.finalize()),
        })
    }

    /// True when template `name` is the built-in one (no file of that name in `templates_dir`):
    /// `generate` may then write it through its compiled form (its native renderers).
    pub fn is_builtin(&self, name: &str) -> bool {
        !self.overridden.contains(&name)
    }

    /// Render template `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, TemplateError> {
        let origin = self.origin(name);
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| render_error(&e, origin))?;
        tmpl.render(ctx).map_err(|e| render_error(&e, origin))
    }

    /// Render template `name` with `ctx` straight into `out` (a large file need not be held in
    /// memory). An I/O error of `out` is reported as a render error of the template.
    pub fn render_to(
        &self,
        name: &str,
        ctx: Value,
        out: &mut dyn std::io::Write,
    ) -> Result<(), TemplateError> {
        let origin = self.origin(name);
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| render_error(&e, origin))?;
        tmpl.render_captured_to(ctx, out)
            .map(|_| ())
            .map_err(|e| render_error(&e, origin))
    }

    fn origin<'a>(&'a self, name: &'a str) -> &'a str {
        self.origins
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o.as_str())
            .unwrap_or(name)
    }
}

fn syntax() -> SyntaxConfig {
    SyntaxConfig::builder()
        .block_delimiters("[%", "%]")
        .variable_delimiters("[[", "]]")
        .comment_delimiters("[#", "#]")
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("static delimiters are valid")
}

/// "template models.yml:12: undefined value (in ...)" with the error's causes.
fn render_error(e: &minijinja::Error, origin: &str) -> TemplateError {
    let name = e.name().unwrap_or(origin);
    let name = if name == origin || origin.ends_with(name) {
        origin.to_string()
    } else {
        name.to_string()
    };
    let location = match e.line() {
        Some(line) => format!("{name}:{line}"),
        None => name,
    };
    let mut message = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!("; caused by: {s}"));
        source = s.source();
    }
    TemplateError::Render { location, message }
}

fn sha2_hex_init() -> sha2::Sha256 {
    use sha2::Digest;
    sha2::Sha256::new()
}

use sha2::Digest as _;

/// A template value from any serde value (minijinja 3: through `Serde`).
pub fn to_value<T: Serialize>(t: T) -> Value {
    Value::from(minijinja::value::Serde(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn dbt_jinja_passes_through_and_filters_work() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(STAGING_MODEL),
            "{{ source('x', 'y') }} [[ \"OrderID\" | snake_case ]] [[ \"Order\" | quote_identifier ]] [[ \"Order\" | quote_identifier(\"bigquery\") ]] [[ \"a: b\" | yaml_str ]] [[ \"it's\" | jinja_str ]]\n",
        )
        .unwrap();
        let t = Templates::new(Some(dir.path()), Dialect::Postgres).unwrap();
        let out = t.render(STAGING_MODEL, context! {}).unwrap();
        assert_eq!(
            out,
            "{{ source('x', 'y') }} order_id \"Order\" `Order` \"a: b\" 'it\\'s'\n"
        );
    }

    #[test]
    fn undefined_variables_name_template_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(MODELS_YAML),
            "models:\n  - name: [[ tabel.name ]]\n",
        )
        .unwrap();
        let t = Templates::new(Some(dir.path()), Dialect::Postgres).unwrap();
        let err = t
            .render(MODELS_YAML, context! { table => context!{ name => "x" } })
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("models.yml:2"), "{msg}");
        assert!(msg.contains("undefined"), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    }

    #[test]
    fn yaml_templates_are_not_auto_escaped() {
        let t = Templates::new(None, Dialect::Postgres).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SOURCES_YAML), "[[ s ]]").unwrap();
        let t2 = Templates::new(Some(dir.path()), Dialect::Postgres).unwrap();
        assert_eq!(
            t2.render(SOURCES_YAML, context! { s => "a\"b" }).unwrap(),
            "a\"b"
        );
        assert_ne!(t.fingerprint, t2.fingerprint);
    }
}
