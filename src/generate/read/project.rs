//! What the dbt project already declares, read before planning so that `generate` never
//! declares anything twice: sources and their tables (with `identifier`, `quoting`, columns),
//! model names (`.sql`/`.py` file stems, `name`/`alias` of `models:` entries) — from every
//! `*.yml`/`*.yaml` and model file under the project's `model-paths` that datachonk did not
//! write (the files recorded in the state are datachonk's own).
//!
//! Values are read as text and kept opaque: `"{{ env_var('X') }}"` is never rendered, it only
//! cannot match a warehouse name. `target/`, `dbt_packages/` and package installs are never
//! read: only the folders `model-paths` names, inside the project.
//!
//! Adding to a person's file is a textual insertion (see [`Edit`]), as `init` edits
//! datachonk.yaml: the new table (or column) entries go after the last entry of their list,
//! indented like it; every other byte of the file stays as it was. The result is parsed again
//! and must declare what was added, or nothing is written.
//! Over 600 lines for one reason: reading a dbt project's YAML is one walk whose entries
//! (sources, tables, models, aliases) feed the same maps; the edits live in reconcile::person_yaml.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::generate::plan::context::unescape_jinja;
use crate::generate::read::yaml::Value;
use crate::generate::reconcile::state::State;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A properties file that is not valid YAML: planning without it could declare twice what
    /// it declares.
    #[error("{path}:{line}:{column}: not valid YAML: {message}")]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    /// The layout of a person's file is one the textual edit does not handle (flow style…).
    #[error("cannot add {what} to {path}: {reason}")]
    CannotEdit {
        path: PathBuf,
        what: String,
        reason: String,
        /// What to paste by hand.
        block: String,
    },
}

/// Everything the project declares, outside datachonk's own files.
#[derive(Debug, Default)]
pub struct Project {
    pub sources: Vec<DeclaredSource>,
    /// Model names (file stems; `name`/`config.alias` of `models:` entries), lower-cased.
    pub model_files: BTreeMap<String, String>,
    /// Names of `models:` entries in the person's properties files, lower-cased → file.
    pub properties: BTreeMap<String, String>,
    /// Whether a temporary file of a datachonk that was writing is under the model paths.
    pub temp_files: bool,
    /// `models:` lists of the person's properties files, by project-relative path.
    pub models_lists: BTreeMap<String, ModelsList>,
    /// Tables some model of the person's already reads: `(source, table)` of each
    /// `source('s', 't')` call in their model files, lower-cased.
    pub staged: std::collections::BTreeSet<(String, String)>,
    /// Seeds some model of the person's already reads: the name of each `ref('seed')` call in
    /// their model files (or, from a manifest, each seed a model depends on), lower-cased.
    pub staged_seeds: std::collections::BTreeSet<String>,
    /// Per source (lower-cased), the person's staging models reading it: (folder, model name),
    /// from `stg_*` files and files under a `staging` folder.
    pub staging_models: BTreeMap<String, Vec<(String, String)>>,
    /// What people should know about their files (a key written twice…), with file:line.
    pub warnings: Vec<String>,
    /// When the newest of the person's properties files was written (a manifest older than
    /// it no longer says what the project declares).
    pub newest_properties: Option<std::time::SystemTime>,
    /// The manifest read over the YAML, when one was (see [`Project::overlay_manifest`]).
    pub manifest: Option<PathBuf>,
    /// The manifest's adapter (`adapter_type`).
    pub adapter_type: Option<String>,
    /// [`Project::render_fingerprint`], computed once (every source's `_models.yml` takes it).
    render_fp: std::sync::OnceLock<String>,
}

/// The `models:` list of one of the person's properties files.
#[derive(Debug, Clone, Default)]
pub struct ModelsList {
    /// Entry names, in the file's order.
    pub names: Vec<String>,
    /// 1-based line of the last entry's `name` value.
    pub last_line: Option<u64>,
}

/// One `sources:` entry of a person's file.
#[derive(Debug, Clone)]
pub struct DeclaredSource {
    pub name: String,
    pub database: Option<String>,
    /// `schema:`, or the source's name when absent (as dbt does).
    pub schema: String,
    /// `database` and `schema` with the common Jinja forms rendered (see [`render_jinja`]);
    /// `None` when the text has Jinja that cannot be resolved here.
    pub database_resolved: Option<String>,
    pub schema_resolved: Option<String>,
    /// Project-relative path of the file, forward slashes.
    pub file: String,
    /// 1-based line of the source's `name` value.
    pub line: u64,
    pub tables: Vec<DeclaredTable>,
    /// Whether the entry has a `tables:` key at all.
    pub has_tables_key: bool,
    /// The installed package declaring it (known from the manifest), whose files are never
    /// edited: `file` is then `<package>:<path in the package>`. `None`: the project's own.
    pub package: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeclaredTable {
    pub name: String,
    /// `identifier:`, else the name: the relation in the warehouse.
    pub identifier: String,
    pub line: u64,
    /// Declared column names, with the line of each name.
    pub columns: Vec<(String, u64)>,
}

impl DeclaredSource {
    /// The declared table for raw relation `raw` (identifier or name; case-insensitive, as
    /// warehouses that fold case compare them).
    pub fn table(&self, raw: &str) -> Option<&DeclaredTable> {
        self.tables
            .iter()
            .find(|t| t.identifier == raw)
            .or_else(|| {
                self.tables
                    .iter()
                    .find(|t| t.identifier.eq_ignore_ascii_case(raw))
            })
    }
}

impl Project {
    /// The declared source a table of metadata source `source` in `database`.`schema`
    /// belongs to: the source of that name (a catalog's `sources` and a sources YAML name it),
    /// else the source declaring that schema (and database, when both say).
    pub fn source_for(
        &self,
        source: &str,
        database: Option<&str>,
        schema: &str,
    ) -> Option<&DeclaredSource> {
        let same_schema = |s: &DeclaredSource| {
            s.schema_resolved
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(schema))
                && match (&s.database_resolved, database) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    _ => true,
                }
        };
        self.sources
            .iter()
            .find(|s| s.name == source && (same_schema(s) || s.schema_resolved.is_none()))
            .or_else(|| self.sources.iter().find(|s| same_schema(s)))
            .or_else(|| self.sources.iter().find(|s| s.name == source))
    }

    /// What dbt resolved, from the manifest (`explicit`, else `target/manifest.json` when it
    /// is newer than every properties file): each declared source's database and schema as
    /// rendered, and the tables models read. The YAML still says where each declaration is.
    /// (`ours`: files datachonk wrote, whose models do not count as the project's.)
    pub fn overlay_manifest(
        &mut self,
        root: &Path,
        explicit: Option<&Path>,
        ours: &dyn Fn(&str) -> bool,
    ) -> Result<(), crate::generate::read::manifest::ManifestError> {
        let Some(path) =
            crate::generate::read::manifest::pick(root, explicit, self.newest_properties)
        else {
            return Ok(());
        };
        let m = crate::generate::read::manifest::read(
            &path,
            crate::config::dbt_project::project_name(root).as_deref(),
        )?;
        for s in &mut self.sources {
            let Some(r) = m.sources.iter().find(|r| r.source == s.name) else {
                continue;
            };
            if s.schema_resolved.is_none() {
                // The warning that it could not be resolved no longer holds.
                let said = format!("{}:{}: the schema of source {}", s.file, s.line, s.name);
                self.warnings.retain(|w| !w.starts_with(&said));
            }
            s.schema_resolved = Some(r.schema.clone());
            s.database_resolved = r.database.clone();
            for t in &mut s.tables {
                if let Some(r) = m
                    .sources
                    .iter()
                    .find(|r| r.source == s.name && r.table == t.name)
                {
                    t.identifier = r.identifier.clone();
                }
            }
        }
        self.add_package_sources(&m.sources);
        self.staged.extend(
            m.reads
                .into_iter()
                .filter(|(file, _, _)| !ours(file))
                .map(|(_, s, t)| (s, t)),
        );
        self.staged_seeds.extend(
            m.seed_reads
                .into_iter()
                .filter(|(file, _)| !ours(file))
                .map(|(_, seed)| seed),
        );
        self.adapter_type = m.adapter_type;
        self.manifest = Some(path);
        Ok(())
    }

    /// Sources only installed packages declare (dbt_packages/ is never read as YAML): known
    /// as declared, so they are neither declared again nor their files edited.
    fn add_package_sources(
        &mut self,
        resolved: &[crate::generate::read::manifest::ResolvedSource],
    ) {
        for r in resolved {
            let Some(package) = &r.package else {
                continue;
            };
            if self
                .sources
                .iter()
                .any(|s| s.name == r.source && s.package.as_ref() != Some(package))
            {
                // The project declares a source of that name itself: its own wins here.
                continue;
            }
            let table = DeclaredTable {
                name: r.table.clone(),
                identifier: r.identifier.clone(),
                line: 0,
                columns: Vec::new(),
            };
            match self.sources.iter_mut().find(|s| s.name == r.source) {
                Some(s) => s.tables.push(table),
                None => self.sources.push(DeclaredSource {
                    name: r.source.clone(),
                    database: r.database.clone(),
                    schema: r.schema.clone(),
                    database_resolved: r.database.clone(),
                    schema_resolved: Some(r.schema.clone()),
                    file: format!("{package}:{}", r.file),
                    line: 0,
                    tables: vec![table],
                    has_tables_key: true,
                    package: Some(package.clone()),
                }),
            }
        }
    }

    /// The folder for source `name`'s generated files: where the person's staging models of
    /// that source live (the folder most of them are in), unless datachonk already writes
    /// that source under `output_dir` (files never move between runs).
    pub fn source_dir(&self, output_dir: &str, name: &str, state: &State) -> String {
        let default = format!("{output_dir}/{name}");
        let Some(models) = self.staging_models.get(&name.to_ascii_lowercase()) else {
            return default;
        };
        let prefix = format!("{default}/");
        let ours = state
            .files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(path, _)| path.starts_with(&prefix));
        if ours {
            return default;
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (folder, _) in models {
            *counts.entry(folder.as_str()).or_default() += 1;
        }
        // The most models; among equals, the first folder in order.
        let best = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(f, _)| f.to_string());
        best.filter(|f| !f.is_empty()).unwrap_or(default)
    }

    /// The person's properties file in `dir` that describes staging models of source `name`
    /// (new model entries are appended to it rather than to a file of datachonk's beside it).
    pub fn models_file(&self, dir: &str, name: &str) -> Option<&str> {
        self.staging_models
            .get(&name.to_ascii_lowercase())?
            .iter()
            .filter(|(folder, _)| folder == dir)
            .filter_map(|(_, model)| self.properties_entry(model))
            .find(|file| file.rsplit_once('/').is_some_and(|(d, _)| d == dir))
    }

    /// The project's own declaration of source `name`.
    pub fn declared(&self, name: &str) -> Option<&DeclaredSource> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// Whether model `name` exists in a file datachonk did not write (its path when it does).
    pub fn model_file(&self, name: &str) -> Option<&str> {
        self.model_files
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Whether a person's properties file has a `models:` entry for `name`.
    pub fn properties_entry(&self, name: &str) -> Option<&str> {
        self.properties
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// A fingerprint of what rendered files depend on in the project: which sources it
    /// declares and which models it has. Not the declared tables and columns: what a run adds
    /// to them must not make the next run re-record every file.
    pub fn render_fingerprint(&self) -> &str {
        self.render_fp
            .get_or_init(|| self.compute_render_fingerprint())
    }

    fn compute_render_fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for s in &self.sources {
            h.update(format!("S\0{}\0", s.name));
        }
        for m in self.model_files.keys() {
            h.update(format!("M\0{m}\0"));
        }
        for m in self.properties.keys() {
            h.update(format!("P\0{m}\0"));
        }
        crate::templates::hex(&h.finalize())
    }

    /// A fingerprint of everything planning takes from the project (for the no-op fast path).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for s in &self.sources {
            h.update(format!("S\0{}\0{:?}\0{}\0", s.name, s.database, s.schema));
            for t in &s.tables {
                h.update(format!("T\0{}\0{}\0", t.name, t.identifier));
                for (c, _) in &t.columns {
                    h.update(format!("C\0{c}\0"));
                }
            }
        }
        for m in self.model_files.keys() {
            h.update(format!("M\0{m}\0"));
        }
        for m in self.properties.keys() {
            h.update(format!("P\0{m}\0"));
        }
        for (s, t) in &self.staged {
            h.update(format!("R\0{s}\0{t}\0"));
        }
        for s in &self.sources {
            h.update(format!(
                "X\0{:?}\0{:?}\0",
                s.schema_resolved, s.database_resolved
            ));
        }
        crate::templates::hex(&h.finalize())
    }
}

/// Whether a model file is a staging model: under a `staging` folder, or named `stg_*`
/// outside the folders of later layers (a `stg_` file among marts is not where staging lives).
fn is_staging(rel: &str, stem: &str) -> bool {
    let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
    let has = |names: &[&str]| {
        dir.split('/')
            .any(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
    };
    has(&["staging"]) || (stem.starts_with("stg_") && !has(&["marts", "mart", "intermediate"]))
}

/// Read the project's declarations under `root` (files recorded in `state` are datachonk's
/// and are skipped).
pub fn read(root: &Path, state: &State) -> Result<Project, ProjectError> {
    read_with(root, &|rel| state.checksum_of(rel).is_some())
}

/// [`read`], with the files datachonk wrote given by `ours`.
pub fn read_with(root: &Path, ours: &dyn Fn(&str) -> bool) -> Result<Project, ProjectError> {
    let mut project = Project::default();
    let mut files = Vec::new();
    for dir in crate::config::dbt_project::model_paths(root) {
        walk(root, &root.join(&dir), &mut files, &mut project.temp_files);
    }
    files.sort_unstable();
    for rel in files {
        if ours(&rel) {
            continue;
        }
        let full = root.join(&rel);
        let ext = rel.rsplit('.').next().unwrap_or_default();
        if ext == "sql" || ext == "py" {
            let stem = Path::new(&rel)
                .file_stem()
                .map(|s| s.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            // What the model reads: a table it stages needs no new model.
            if let Ok(text) = std::fs::read_to_string(&full) {
                let calls = source_calls(&text);
                if is_staging(&rel, &stem) {
                    let folder = rel.rsplit_once('/').map_or("", |(d, _)| d).to_string();
                    let sources: std::collections::BTreeSet<&String> =
                        calls.iter().map(|(s, _)| s).collect();
                    for s in sources {
                        project
                            .staging_models
                            .entry(s.clone())
                            .or_default()
                            .push((folder.clone(), stem.clone()));
                    }
                }
                project.staged.extend(calls);
                project.staged_seeds.extend(ref_calls(&text));
            }
            project.model_files.entry(stem).or_insert(rel);
            continue;
        }
        let text = crate::io_limits::read_text(
            &full,
            crate::io_limits::YAML_LIMIT,
            crate::io_limits::Origin::Found,
        )
        .map_err(|source| ProjectError::Read {
            path: full.clone(),
            source,
        })?;
        if let Ok(modified) = std::fs::metadata(&full).and_then(|m| m.modified()) {
            project.newest_properties = project.newest_properties.max(Some(modified));
        }
        read_properties(&mut project, &rel, &full, &text)?;
    }
    Ok(project)
}

/// Files under `dir` (any depth; symlinks are not followed), project-relative.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>, temp_files: &mut bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        let path = e.path();
        if kind.is_dir() {
            walk(root, &path, out, temp_files);
        } else if kind.is_file() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                *temp_files |= crate::fsx::atomic::is_temp_file(&name);
                continue;
            }
            if [".yml", ".yaml", ".sql", ".py"]
                .iter()
                .any(|x| name.ends_with(x))
            {
                if let Ok(rel) = path.strip_prefix(root) {
                    let rel = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    out.push(rel);
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct PropertiesFile {
    #[serde(default)]
    sources: Option<Vec<SourceEntry>>,
    #[serde(default)]
    models: Option<Vec<ModelEntry>>,
}

#[derive(Deserialize)]
struct SourceEntry {
    name: Spanned<Value>,
    #[serde(default)]
    database: Option<Value>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    tables: Option<Vec<TableEntry>>,
}

#[derive(Deserialize)]
struct TableEntry {
    name: Spanned<Value>,
    #[serde(default)]
    identifier: Option<Value>,
    #[serde(default)]
    columns: Option<Vec<ColumnEntry>>,
}

#[derive(Deserialize)]
struct ColumnEntry {
    name: Spanned<Value>,
}

#[derive(Deserialize)]
struct ModelEntry {
    name: Spanned<Value>,
    #[serde(default)]
    config: Option<Value>,
}

/// A scalar as text (names may be numbers or booleans in YAML).
fn scalar_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    })
}

/// Whether `text` holds no YAML node (empty, blank or comments only).
pub(crate) fn is_empty_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

/// A properties file, read with dbt's tolerance ([`crate::yaml_read::from_str_tolerant`]); the first key
/// written twice, if any, comes back for a warning.
pub(crate) fn parse(
    rel_full: &Path,
    text: &str,
) -> Result<(PropertiesFile, Option<crate::yaml_read::Duplicate>), ProjectError> {
    if is_empty_yaml(text) {
        return Ok((PropertiesFile::default(), None));
    }
    crate::yaml_read::from_str_tolerant::<PropertiesFile>(text).map_err(|e| {
        let (line, column, message) = crate::yaml_read::error_parts(&e);
        ProjectError::Invalid {
            path: rel_full.to_path_buf(),
            line,
            column,
            message,
        }
    })
}

/// The node named by every `ref('name')` (or `ref('package', 'name')`) call in a model's text,
/// lower-cased.
pub fn ref_calls(text: &str) -> Vec<String> {
    calls_of("ref(", text)
        .into_iter()
        .filter_map(|mut args| args.pop())
        .collect()
}

/// `(source, table)` of every `source('s', 't')` call in a model's text, lower-cased.
pub fn source_calls(text: &str) -> Vec<(String, String)> {
    calls_of("source(", text)
        .into_iter()
        .filter_map(|args| match args.as_slice() {
            [source, table] => Some((source.clone(), table.clone())),
            _ => None,
        })
        .collect()
}

/// The leading quoted arguments (up to two, lower-cased) of every call of `open` (`ref(`),
/// a word of its own, in `text`.
fn calls_of(open: &str, text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(open) {
        // `source(` as a word: not the tail of another name (`my_source(`).
        let word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        rest = &rest[at + open.len()..];
        if !word {
            continue;
        }
        let mut args = Vec::new();
        let mut s = rest;
        for _ in 0..2 {
            let t = s.trim_start();
            let Some(q) = t.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                break;
            };
            let Some(end) = t[1..].find(q) else { break };
            args.push(t[1..1 + end].to_ascii_lowercase());
            s = t[1 + end + 1..].trim_start();
            s = s.strip_prefix(',').unwrap_or(s);
        }
        if !args.is_empty() {
            out.push(args);
        }
    }
    out
}

/// The common Jinja forms of a source's `database`/`schema` rendered as dbt would with no
/// `--vars` and this environment: `var('x', 'default')` → the default, `env_var('X',
/// 'default')` → `$X` or the default. `None` for any other Jinja (`target.schema`, a macro):
/// it cannot be resolved without dbt, and then only the source's name can match it.
pub fn render_jinja(text: &str) -> Option<String> {
    if !text.contains("{{") && !text.contains("{%") {
        return Some(text.to_string());
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        out.push_str(&render_expression(after[..close].trim())?);
        rest = &after[close + 2..];
    }
    if rest.contains("{%") {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

/// One `{{ … }}` expression of [`render_jinja`].
fn render_expression(expr: &str) -> Option<String> {
    let call = |name: &str| -> Option<Vec<String>> {
        let inner = expr.strip_prefix(name)?.trim_start().strip_prefix('(')?;
        let inner = inner.trim_end().strip_suffix(')')?;
        let mut args = Vec::new();
        for part in inner.split(',') {
            let p = part.trim();
            let q = p.chars().next()?;
            if !(q == '\'' || q == '"') || p.len() < 2 || !p.ends_with(q) {
                return None;
            }
            args.push(p[1..p.len() - 1].to_string());
        }
        Some(args)
    };
    if let Some(args) = call("env_var") {
        let name = args.first()?;
        return std::env::var(name).ok().or_else(|| args.get(1).cloned());
    }
    if let Some(args) = call("var") {
        return args.get(1).cloned();
    }
    None
}

pub(crate) fn read_properties(
    project: &mut Project,
    rel: &str,
    full: &Path,
    text: &str,
) -> Result<(), ProjectError> {
    let (file, duplicate) = parse(full, text)?;
    if let Some(d) = duplicate {
        project.warnings.push(format!(
            "{rel}:{}:{}: {} written twice in one mapping: dbt keeps the last, and so does datachonk",
            d.line,
            d.column,
            d.key.map(|k| format!("key `{k}`")).unwrap_or_else(|| "a key".into())
        ));
    }
    for s in file.sources.unwrap_or_default() {
        let Some(name) = text_of(&s.name.value) else {
            continue;
        };
        let tables = s
            .tables
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|t| {
                let name = text_of(&t.name.value)?;
                Some(DeclaredTable {
                    identifier: t
                        .identifier
                        .as_ref()
                        .and_then(scalar_text)
                        .map(|s| unescape_jinja(&s))
                        .unwrap_or_else(|| name.clone()),
                    name,
                    line: t.name.referenced.line(),
                    columns: t
                        .columns
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|c| Some((text_of(&c.name.value)?, c.name.referenced.line())))
                        .collect(),
                })
            })
            .collect();
        let schema = s
            .schema
            .as_ref()
            .and_then(scalar_text)
            .map(|s| unescape_jinja(&s))
            .unwrap_or_else(|| name.clone());
        let database = s
            .database
            .as_ref()
            .and_then(scalar_text)
            .map(|s| unescape_jinja(&s));
        let schema_resolved = render_jinja(&schema);
        if schema_resolved.is_none() {
            project.warnings.push(format!(
                "{rel}:{}: the schema of source {name} ({schema}) cannot be resolved without dbt: only tables of a source named {name} are matched to it",
                s.name.referenced.line()
            ));
        }
        project.sources.push(DeclaredSource {
            database_resolved: database.as_deref().and_then(render_jinja),
            schema_resolved,
            schema,
            database,
            name,
            file: rel.to_string(),
            line: s.name.referenced.line(),
            has_tables_key: s.tables.is_some(),
            tables,
            package: None,
        });
    }
    let models = file.models.unwrap_or_default();
    if !models.is_empty() {
        let list = project.models_lists.entry(rel.to_string()).or_default();
        for m in &models {
            if let Some(name) = scalar_text(&m.name.value) {
                list.names.push(name);
                list.last_line = Some(m.name.referenced.line());
            }
        }
    }
    for m in models {
        let Some(name) = scalar_text(&m.name.value) else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        project
            .properties
            .entry(name.clone())
            .or_insert_with(|| rel.to_string());
        if let Some(alias) = m
            .config
            .as_ref()
            .and_then(|c| c.get("alias"))
            .and_then(scalar_text)
        {
            project
                .model_files
                .entry(alias.to_ascii_lowercase())
                .or_insert_with(|| rel.to_string());
        }
    }
    Ok(())
}

fn text_of(v: &Value) -> Option<String> {
    scalar_text(v).map(|s| unescape_jinja(&s))
}

#[cfg(test)]
mod tests;
