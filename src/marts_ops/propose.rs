//! The entities a new fact references by default: those whose key columns its model has.

use std::path::Path;

use crate::generate::marts::{self, spec};
use crate::generate::plan::keys::{self as relationships, EntityKey};

use super::entry::Entry;

/// The spec's entities with their models and keys (evidence for `relationships` too).
pub fn entity_keys(spec: &spec::Spec) -> Vec<EntityKey> {
    spec.files
        .iter()
        .flat_map(|(_, f)| f.entities.iter())
        .map(|(name, e)| EntityKey {
            entity: name.clone(),
            model: e.value.from.value.clone(),
            key: e.value.key.value.list(),
        })
        .collect()
}

/// Entities a new fact references: those whose key columns it has, each with what
/// `datachonk relationships` finds between the two models in the project's catalog (its
/// confidence and evidence); one it finds below the default threshold is not proposed.
pub fn propose_entities(
    a: &Entry,
    known: &marts::Known,
    current: &spec::Spec,
    root: &Path,
) -> Vec<(String, String)> {
    let Some(from) = a.from.as_deref() else {
        return Vec::new();
    };
    let Some(cols) = known.columns(from).flatten() else {
        return Vec::new();
    };
    let entities = entity_keys(current);
    let found = crate::generate::read::catalog::read(&root.join("target/catalog.json"))
        .map(|m| relationships::detect(&m, &[], &entities))
        .unwrap_or_default();
    let mut out = Vec::new();
    for e in &entities {
        if !e
            .key
            .iter()
            .all(|k| cols.iter().any(|c| c.eq_ignore_ascii_case(k)))
        {
            continue;
        }
        let evidence = found.iter().find(|r| {
            r.from.relation.eq_ignore_ascii_case(from)
                && r.to.relation.eq_ignore_ascii_case(&e.model)
                && r.from.columns == e.key
        });
        match evidence {
            Some(r) if r.confidence < relationships::DEFAULT_MIN_CONFIDENCE => continue,
            Some(r) => out.push((
                e.entity.clone(),
                format!(
                    "{}; relationships: confidence {:.2}, {}",
                    e.key.join(", "),
                    r.confidence,
                    r.evidence.join("; ")
                ),
            )),
            None => out.push((e.entity.clone(), e.key.join(", "))),
        }
    }
    out
}
