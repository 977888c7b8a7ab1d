//! The parts of dbt's `manifest.json` (v12) that run insight needs: what each node is, and the
//! lineage maps. Only these fields are read, so a manifest of 10,000 models parses without
//! holding its SQL and columns.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::budget::{self, heap, Budget, Skip, ENTRY_OVERHEAD};

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

    /// The manifest read from `reader` as it arrives, node bodies (SQL, columns, docs) and
    /// sections insight does not use skipped. Under `budget`: at its cap the reading stops
    /// and what was read is returned (the budget says it was cut).
    pub fn read(reader: impl Read, budget: &Budget) -> Result<Manifest, serde_json::Error> {
        let mut manifest = Manifest::default();
        budget.start();
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(budget.reader(reader)));
        let read = Sections {
            manifest: &mut manifest,
            budget,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        budget::finish(read, budget, manifest)
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

/// The manifest's top level: the node maps and lineage maps read, every other section skipped.
struct Sections<'a> {
    manifest: &'a mut Manifest,
    budget: &'a Budget,
}

impl<'de> DeserializeSeed<'de> for Sections<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Sections<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a manifest.json object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.budget;
        let m = &mut *self.manifest;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "nodes" => map.next_value_seed(Entries(&mut m.nodes, b))?,
                "sources" => map.next_value_seed(Entries(&mut m.sources, b))?,
                "exposures" => map.next_value_seed(Entries(&mut m.exposures, b))?,
                "parent_map" => map.next_value_seed(Entries(&mut m.parent_map, b))?,
                "child_map" => map.next_value_seed(Entries(&mut m.child_map, b))?,
                _ => map.next_value_seed(Skip(b))?,
            }
            if !b.keep(0) {
                return Err(b.stop());
            }
        }
        Ok(())
    }
}

/// What one map entry holds in memory, for the summary's cap.
trait Cost {
    fn cost(&self) -> usize;
}

impl Cost for ManifestNode {
    fn cost(&self) -> usize {
        heap(&self.resource_type) + heap(&self.name) + self.source_name.as_deref().map_or(0, heap)
    }
}

impl Cost for Vec<String> {
    fn cost(&self) -> usize {
        self.iter()
            .map(|s| std::mem::size_of::<String>() + heap(s))
            .sum()
    }
}

/// A map of unique id → `V`, one entry at a time, each counted against the budget.
struct Entries<'a, V>(&'a mut BTreeMap<String, V>, &'a Budget);

impl<'de, V: Deserialize<'de> + Cost> DeserializeSeed<'de> for Entries<'_, V> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, V: Deserialize<'de> + Cost> Visitor<'de> for Entries<'_, V> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of unique ids")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(id) = map.next_key::<String>()? {
            let value: V = map.next_value()?;
            // The B-tree holds the key and value inline (about half full at worst).
            let slot = 3 * (std::mem::size_of::<String>() + std::mem::size_of::<V>()) / 2;
            let cost = slot + ENTRY_OVERHEAD + heap(&id) + value.cost();
            if !self.1.keep(cost) {
                return Err(self.1.stop());
            }
            self.0.insert(id, value);
        }
        Ok(())
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
    use crate::cloud::insight::budget::Budget;

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

    #[test]
    fn a_streamed_manifest_keeps_names_and_maps_and_skips_the_rest() {
        let json = br#"{"metadata": {"x": [1, 2, {"y": "z"}]},
            "nodes": {"model.p.a": {"resource_type": "model", "name": "a", "raw_code": "select 1",
                                    "columns": {"id": {"name": "id"}}}},
            "macros": {"macro.p.m": {"macro_sql": "{% macro m() %}{% endmacro %}"}},
            "sources": {"source.p.s.t": {"resource_type": "source", "name": "t", "source_name": "s"}},
            "child_map": {"source.p.s.t": ["model.p.a"]}, "parent_map": {"model.p.a": ["source.p.s.t"]}}"#;
        let budget = Budget::new(1 << 20);
        let m = Manifest::read(&json[..], &budget).unwrap();
        assert!(!budget.is_cut());
        assert_eq!(m.display_name("source.p.s.t"), "s.t");
        assert_eq!(m.resource_type("model.p.a"), "model");
        assert_eq!(m.child_map["source.p.s.t"], ["model.p.a"]);
        assert_eq!(m.parent_map["model.p.a"], ["source.p.s.t"]);

        // Many nodes under a small cap: the reading stops, what came first stays.
        let mut big = String::from(r#"{"nodes": {"#);
        for i in 0..5000 {
            big.push_str(&format!(
                r#""model.p.m{i}": {{"resource_type": "model", "name": "m{i}"}},"#
            ));
        }
        big.push_str(r#""model.p.last": {"name": "last"}}}"#);
        let budget = Budget::new(64 << 10);
        let m = Manifest::read(big.as_bytes(), &budget).unwrap();
        assert!(budget.is_cut());
        assert!(m.nodes.contains_key("model.p.m0"));
        assert!(m.nodes.len() < 5000, "{}", m.nodes.len());
    }
}
