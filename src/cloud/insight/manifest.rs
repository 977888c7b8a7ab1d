//! The parts of dbt's `manifest.json` (v12) that run insight needs: what each node is, and the
//! lineage maps. Only these fields are read, so a manifest of 10,000 models parses without
//! holding its SQL and columns.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One node (model, test, seed, snapshot, source, exposure…) as the manifest names it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ManifestNode {
    #[serde(default)]
    pub resource_type: String,
    #[serde(default)]
    pub name: String,
    /// Sources only: the dbt source the table belongs to (`source('shop', 'orders')`).
    #[serde(default)]
    pub source_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub nodes: BTreeMap<String, ManifestNode>,
    #[serde(default)]
    pub sources: BTreeMap<String, ManifestNode>,
    #[serde(default)]
    pub exposures: BTreeMap<String, ManifestNode>,
    #[serde(default)]
    pub parent_map: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub child_map: BTreeMap<String, Vec<String>>,
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The node behind `unique_id`, in whichever map holds it.
    pub fn node(&self, unique_id: &str) -> Option<&ManifestNode> {
        self.nodes
            .get(unique_id)
            .or_else(|| self.sources.get(unique_id))
            .or_else(|| self.exposures.get(unique_id))
    }

    /// Every unique id the manifest knows, in a stable order.
    pub fn unique_ids(&self) -> impl Iterator<Item = &String> {
        self.nodes
            .keys()
            .chain(self.sources.keys())
            .chain(self.exposures.keys())
    }

    /// How a person names the node: `stg_orders`, or `shop.orders` for a source table.
    pub fn display_name(&self, unique_id: &str) -> String {
        match self.node(unique_id) {
            Some(n) => match &n.source_name {
                Some(source) if n.resource_type == "source" => format!("{source}.{}", n.name),
                _ => n.name.clone(),
            },
            None => fallback_name(unique_id),
        }
    }

    /// `model`, `test`, …: from the manifest, else from the unique id's first part.
    pub fn resource_type(&self, unique_id: &str) -> String {
        self.node(unique_id)
            .map(|n| n.resource_type.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| fallback_type(unique_id))
    }
}

/// A name from the unique id alone, for nodes a manifest lacks: `model.shop.stg_orders` →
/// `stg_orders`, `test.shop.not_null_x.9a8b7c` → `not_null_x` (the last part is a hash),
/// `source.shop.raw.orders` → `raw.orders`.
pub fn fallback_name(unique_id: &str) -> String {
    let parts: Vec<&str> = unique_id.split('.').collect();
    match parts.as_slice() {
        ["test", _, name, _hash, ..] => name.to_string(),
        ["source", _, source, table, ..] => format!("{source}.{table}"),
        [.., last] => last.to_string(),
        [] => unique_id.to_string(),
    }
}

/// `model.shop.stg_orders` → `model`.
pub fn fallback_type(unique_id: &str) -> String {
    unique_id.split('.').next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_come_from_the_manifest_or_the_id() {
        let m = Manifest::parse(
            br#"{"nodes": {"model.p.stg_a": {"resource_type": "model", "name": "stg_a", "raw_code": "x"}},
                "sources": {"source.p.shop.orders": {"resource_type": "source", "name": "orders", "source_name": "shop"}},
                "parent_map": {"model.p.stg_a": ["source.p.shop.orders"]},
                "child_map": {"source.p.shop.orders": ["model.p.stg_a"]}}"#,
        )
        .unwrap();
        assert_eq!(m.display_name("source.p.shop.orders"), "shop.orders");
        assert_eq!(m.display_name("model.p.stg_a"), "stg_a");
        assert_eq!(m.display_name("test.p.not_null_x.abc123"), "not_null_x");
        assert_eq!(fallback_name("source.p.raw.orders"), "raw.orders");
        assert_eq!(m.resource_type("test.p.not_null_x.abc123"), "test");
        assert_eq!(m.unique_ids().count(), 2);
    }
}
