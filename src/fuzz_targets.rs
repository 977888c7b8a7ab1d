//! One entry point per parser of outside input, shared by the coverage-guided targets in
//! `fuzz/` (cargo-fuzz) and the property tests in `tests/fuzz_parsers.rs`: whatever the
//! bytes, each must return (an error is fine) — no panic, no hang, memory bounded.
#![doc(hidden)]

use std::path::Path;

fn text(data: &[u8]) -> &str {
    std::str::from_utf8(data).unwrap_or("")
}

/// `catalog.json` (dbt docs generate).
pub fn catalog(data: &[u8]) {
    let _ = crate::generate::read::catalog::parse(Path::new("catalog.json"), data);
}

/// A sources YAML file (`--from-sources-yaml`, a project's properties files).
pub fn sources_yaml(data: &[u8]) {
    let _ = crate::generate::read::sources_yaml::parse(Path::new("sources.yml"), text(data));
}

/// A spec file (`datachonk/*.yml`: entities, facts, metrics).
pub fn spec(data: &[u8]) {
    let _ = crate::generate::marts::spec::parse(Path::new("datachonk/spec.yml"), text(data));
}

/// `datachonk.yaml`, as commands read it and as `config check` reads on past each problem.
pub fn config(data: &[u8]) {
    let path = Path::new("datachonk.yaml");
    let _ = crate::config::file::parse(path, text(data));
    let _ = crate::config::file::parse_all(path, text(data), &mut Default::default());
}

/// A sandbox fixture.
pub fn fixture(data: &[u8]) {
    let _ = crate::sandbox::Fixture::from_yaml_str(text(data), "fixture.yaml");
}

/// dbt Cloud API answers: a run, a list of runs, a job, as the client decodes them.
pub fn api_answer(data: &[u8]) {
    use crate::cloud::types::{Envelope, Job};
    let _ = serde_json::from_slice::<Envelope<crate::cloud::Run>>(data);
    let _ = serde_json::from_slice::<Envelope<Vec<crate::cloud::Run>>>(data);
    let _ = serde_json::from_slice::<Envelope<Vec<Job>>>(data);
}

/// `run_results.json` with a `manifest.json` (the node summary), and `sources.json`.
pub fn artifacts(data: &[u8]) {
    use crate::cloud::insight::{budget::Budget, freshness, manifest::Manifest, nodes};
    let manifest = Manifest::parse(data).ok();
    let _ = nodes::from_run_results(data, manifest.as_ref());
    let _ = freshness::from_sources_json(data, manifest.as_ref());
    // As the node summary reads them: streamed, under a cap small enough to be reached (the
    // cut), each reading an attempt whose kept bytes are given back when it fails.
    let budget = Budget::new(16 << 10);
    let manifest = budget.attempt(|| Manifest::read(data, &budget)).ok();
    let _ = budget.attempt(|| nodes::read_run_results(data, manifest.as_ref(), &budget));
}

/// The trigger bodies the sandbox accepts (JSON and form) and serve's request bodies.
pub fn request_body(data: &[u8]) {
    use crate::sandbox::trigger::{parse, BodyFormat};
    let _ = parse(data, BodyFormat::Json);
    let _ = parse(data, BodyFormat::Form);
    crate::serve::api::parse_bodies(data);
}

/// A parser's entry point.
pub type Target = fn(&[u8]);

/// Every target by name (`scripts/fuzz`, the corpus folders under `fuzz/corpus/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("catalog", catalog),
    ("sources_yaml", sources_yaml),
    ("spec", spec),
    ("config", config),
    ("fixture", fixture),
    ("api_answer", api_answer),
    ("artifacts", artifacts),
    ("request_body", request_body),
];
