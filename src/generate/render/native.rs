//! The built-in staging templates — `staging_model.sql`, `sources.yml` and `models.yml` —
//! compiled by hand: the bytes minijinja renders from the same contexts, written straight into
//! a buffer. Rendering these three through minijinja and the views of [`crate::generate::render::values`] was
//! 44% of the CPU time of `generate` on 10,000 tables × 20 columns.
//!
//! The files in `templates/` stay the source of truth, and what a project's `templates_dir`
//! replaces: an overridden template is always rendered by minijinja
//! ([`crate::templates::Templates::is_builtin`]). Each function below follows its template
//! line by line, so a change to one of these three templates must be made here as well; the
//! tests render both ways, for hundreds of contexts, and compare the bytes.
//!
//! The values are the templates' context as [`crate::generate::render::values`] presents it: text from the
//! metadata made safe for dbt's Jinja ([`jinja_safe`]), descriptions already escaped in the
//! contexts, derived names and the configuration's text as they are, the merged
//! `_models.yml` values through [`ModelsRow`]. A condition on a string is Jinja's (an empty
//! one is false). `trim_blocks` and `lstrip_blocks` make a block tag alone on its line leave
//! nothing, and the opening comment of each template (`[#- … -#]`) eats the whitespace after it.

use std::io::{self, Write};

use crate::config::GenerateConfig;
use crate::generate::plan::context::{jinja_safe, SourceCtx, TableCtx};
use crate::generate::reconcile::merge::ModelsSource;
use crate::generate::render::values::{self, ModelsRow};
use crate::templates::{push_jinja_str, push_yaml_str};

/// `staging_model.sql` for table `table` of source `source_name`.
pub fn staging_model(source_name: &str, table: &TableCtx) -> String {
    let mut out = String::new();
    staging_model_into(&mut out, source_name, table);
    out
}

/// [`staging_model`] written into `out` (emptied first), reusing its allocation.
pub fn staging_model_into(out: &mut String, source_name: &str, table: &TableCtx) {
    let columns: usize = table
        .columns
        .iter()
        .map(|c| c.quoted_name().len() + c.alias().len() + 14)
        .sum();
    out.clear();
    out.reserve(160 + source_name.len() + table.name.len() + columns);
    out.push_str("with\n\nsource as (\n\n    select * from {{ source(");
    push_jinja_str(out, source_name);
    out.push_str(", ");
    push_jinja_str(out, &table.name);
    out.push_str(") }}\n\n),\n\nrenamed as (\n\n    select\n");
    let last = table.columns.len().saturating_sub(1);
    for (i, c) in table.columns.iter().enumerate() {
        let expression = values::expression(c);
        out.push_str("        ");
        out.push_str(&expression);
        if expression != c.alias() {
            out.push_str(" as ");
            out.push_str(c.alias());
        }
        if i != last {
            out.push(',');
        }
        out.push('\n');
    }
    if table.columns.is_empty() {
        out.push_str("        *\n");
    }
    out.push_str("\n    from source\n\n)\n\nselect * from renamed\n");
}

/// `sources.yml` for `source` (every table of it).
pub fn sources_yaml(
    out: &mut dyn Write,
    source: &SourceCtx,
    config: &GenerateConfig,
) -> io::Result<()> {
    let mut y = Yaml::new(out);
    y.text("sources:\n  - name: ");
    y.str(&source.name);
    y.text("\n");
    if let Some(database) = truthy(source.database.as_deref()) {
        y.text("    database: ");
        y.str(database);
        y.text("\n");
    }
    y.text("    schema: ");
    y.str(&source.schema_text());
    y.text("\n");
    if source.quote_schema {
        y.text("    quoting:\n      schema: true\n");
    }
    let loaded_at_field = truthy(config.loaded_at_field.as_deref());
    if loaded_at_field.is_some() || config.freshness.is_some() {
        y.text("    config:\n");
        if let Some(field) = loaded_at_field {
            y.text("      loaded_at_field: ");
            y.str(field);
            y.text("\n");
        }
        if let Some(freshness) = &config.freshness {
            y.text("      freshness:\n");
            let rules = [
                ("warn_after", &freshness.warn_after),
                ("error_after", &freshness.error_after),
            ];
            for (key, rule) in rules {
                if let Some(rule) = rule {
                    y.text("        ");
                    y.text(key);
                    y.text(":\n          count: ");
                    y.text(&rule.count.to_string());
                    y.text("\n          period: ");
                    y.text(&rule.period);
                    y.text("\n");
                }
            }
        }
    }
    y.text("    tables:\n");
    let last = source.tables.len().saturating_sub(1);
    for (i, table) in source.tables.iter().enumerate() {
        y.text("      - name: ");
        y.str(&table.name);
        y.text("\n");
        if table.has_identifier {
            y.text("        identifier: ");
            y.meta(&table.identifier);
            y.text("\n");
        }
        if !table.description.is_empty() {
            y.text("        description: ");
            y.str(&table.description);
            y.text("\n");
        }
        if table.quote_identifier {
            y.text("        quoting:\n          identifier: true\n");
        }
        y.text("        columns:\n");
        for c in &table.columns {
            y.text("          - name: ");
            y.meta(c.name());
            y.text("\n");
            if !c.data_type().is_empty() {
                y.text("            data_type: ");
                y.meta(c.data_type());
                y.text("\n");
            }
            if !c.description().is_empty() {
                y.text("            description: ");
                y.str(c.description());
                y.text("\n");
            }
            if c.needs_quoting {
                y.text("            quote: true\n");
            }
        }
        if i != last {
            y.text("\n");
        }
        y.flush_if_full()?;
    }
    y.finish()
}

/// `models.yml` for `source` merged with the existing file (`merged`, see [`ModelsRow`]);
/// `kept_models` and `extra` are the file's other models and top-level keys, as YAML text.
pub fn models_yaml(
    out: &mut dyn Write,
    source: &SourceCtx,
    merged: &ModelsSource,
    kept_models: &[String],
    extra: &str,
) -> io::Result<()> {
    let mut y = Yaml::new(out);
    y.text("models:\n");
    let tables = ModelsRow::count(source, merged);
    for (t, row) in (0..tables).filter_map(|t| Some((t, ModelsRow::at(source, merged, t)?))) {
        y.text("  - name: ");
        y.str(&row.table.model_name);
        y.text("\n");
        if !row.description().is_empty() {
            y.text("    description: ");
            y.str(row.description());
            y.text("\n");
        }
        if !row.extra().is_empty() {
            y.text("    ");
            y.indented(row.extra(), 4);
            y.text("\n");
        }
        y.text("    columns:\n");
        let columns = row.column_count();
        for (c, col) in (0..columns).filter_map(|c| Some((c, row.column(c)?))) {
            y.text("      - name: ");
            y.str(col.column.alias());
            y.text("\n");
            match truthy(col.column.cast_type.as_deref()) {
                Some(cast) => {
                    y.text("        data_type: ");
                    y.str(cast);
                    y.text("\n");
                }
                None if !col.column.data_type().is_empty() => {
                    y.text("        data_type: ");
                    y.meta(col.column.data_type());
                    y.text("\n");
                }
                None => {}
            }
            if !col.description().is_empty() {
                y.text("        description: ");
                y.str(col.description());
                y.text("\n");
            }
            let mut tests = col.tests().peekable();
            if tests.peek().is_some() {
                y.text("        data_tests:\n");
                for test in tests {
                    y.text("          - ");
                    y.indented(test, 12);
                    y.text("\n");
                }
            }
            if !col.extra().is_empty() {
                y.text("        ");
                y.indented(col.extra(), 8);
                y.text("\n");
            }
            if c + 1 != columns {
                y.text("\n");
            }
        }
        if t + 1 != tables || !kept_models.is_empty() {
            y.text("\n");
        }
        y.flush_if_full()?;
    }
    for (k, model) in kept_models.iter().enumerate() {
        y.text("  - ");
        y.indented(model, 4);
        y.text("\n");
        if k + 1 != kept_models.len() {
            y.text("\n");
        }
        y.flush_if_full()?;
    }
    if !extra.is_empty() {
        y.text("\n");
        y.text(extra);
        y.text("\n");
    }
    y.finish()
}

/// A string as a Jinja condition sees it: `None` when missing or empty.
fn truthy(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// YAML text gathered table by table and written to `out` in blocks.
struct Yaml<'a> {
    out: &'a mut dyn Write,
    buf: String,
}

impl<'a> Yaml<'a> {
    const BLOCK: usize = 64 * 1024;

    fn new(out: &'a mut dyn Write) -> Self {
        Yaml {
            out,
            buf: String::with_capacity(Self::BLOCK + 4096),
        }
    }

    /// Template text.
    fn text(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// `[[ value | yaml_str ]]`.
    fn str(&mut self, s: &str) {
        push_yaml_str(&mut self.buf, s);
    }

    /// `[[ value | yaml_str ]]` of text from the metadata (made safe for dbt's Jinja).
    fn meta(&mut self, s: &str) {
        push_yaml_str(&mut self.buf, &jinja_safe(s));
    }

    /// `[[ value | indent(width) ]]`.
    fn indented(&mut self, s: &str, width: usize) {
        push_indented(&mut self.buf, s, width);
    }

    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= Self::BLOCK {
            self.out.write_all(self.buf.as_bytes())?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(self) -> io::Result<()> {
        self.out.write_all(self.buf.as_bytes())
    }
}

/// minijinja's `indent(width)` filter: every line but the first (and blank ones) indented,
/// after one trailing newline (`\n`, then `\r`) is stripped from the input — and, as the
/// filter strips one from its output as well, a `\r` that ends the last line.
fn push_indented(out: &mut String, s: &str, width: usize) {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let s = s.strip_suffix('\r').unwrap_or(s);
    let start = out.len();
    let mut lines = s.split('\n');
    out.push_str(lines.next().unwrap_or_default());
    for line in lines {
        out.push('\n');
        if !(line.is_empty() || line == "\r") {
            out.extend(std::iter::repeat_n(' ', width));
        }
        out.push_str(line);
    }
    if out.len() > start && out.ends_with('\r') {
        out.pop();
    }
}

#[cfg(test)]
mod tests;
