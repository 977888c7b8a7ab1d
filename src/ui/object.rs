//! A JSON object written straight to its writer: small fields held as values, large ones
//! (a run's nodes, a list of such objects) serialized from where they live. The keys come out
//! sorted, as a `serde_json::Value` writes them, so a document streamed this way is byte for
//! byte the one a Value would have been.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// An object of `small` fields and `large` ones of type `L`.
#[derive(Debug, Clone, Default)]
pub struct Object<L> {
    small: Map<String, Value>,
    large: Vec<(&'static str, L)>,
}

impl<L> Object<L> {
    /// The object of `value`'s fields (anything but an object gives an empty one).
    pub fn of(value: Value) -> Self {
        let small = match value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Object {
            small,
            large: Vec::new(),
        }
    }

    /// Set a small field (replacing a large one of that name).
    pub fn set(&mut self, key: &str, value: Value) {
        self.large.retain(|(k, _)| *k != key);
        self.small.insert(key.to_string(), value);
    }

    /// Set a large field (replacing a small one of that name).
    pub fn set_large(&mut self, key: &'static str, value: L) {
        self.small.remove(key);
        self.large.retain(|(k, _)| *k != key);
        self.large.push((key, value));
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.small.get(key)
    }

    /// Add `fields` the object does not have already (its own win).
    pub fn merge_missing(&mut self, fields: &Map<String, Value>) {
        for (k, v) in fields {
            if !self.small.contains_key(k) && !self.large.iter().any(|(l, _)| l == k) {
                self.small.insert(k.clone(), v.clone());
            }
        }
    }
}

impl<L: Serialize> Serialize for Object<L> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut large: Vec<&(&'static str, L)> = self.large.iter().collect();
        large.sort_by_key(|(k, _)| *k);
        let mut map = serializer.serialize_map(Some(self.small.len() + large.len()))?;
        // Merge the two sorted runs of keys (a Map without `preserve_order` iterates sorted).
        let mut small = self.small.iter().peekable();
        let mut large = large.into_iter().peekable();
        loop {
            match (small.peek(), large.peek()) {
                (Some((sk, _)), Some((lk, _))) if sk.as_str() < *lk => {
                    let (k, v) = small.next().expect("peeked");
                    map.serialize_entry(k, v)?;
                }
                (_, Some(_)) => {
                    let (k, v) = large.next().expect("peeked");
                    map.serialize_entry(k, v)?;
                }
                (Some(_), None) => {
                    let (k, v) = small.next().expect("peeked");
                    map.serialize_entry(k, v)?;
                }
                (None, None) => break,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_come_out_sorted_as_a_value_writes_them() {
        let mut o: Object<Vec<i64>> = Object::of(json!({"zeta": 1, "alpha": {"b": 2, "a": 1}}));
        o.set_large("middle", vec![1, 2]);
        o.set_large("a", vec![]);
        o.set("omega", json!(null));
        o.merge_missing(
            &json!({"alpha": "not this", "beta": true})
                .as_object()
                .unwrap()
                .clone(),
        );
        let streamed = serde_json::to_string_pretty(&o).unwrap();
        let value = json!({"zeta": 1, "alpha": {"b": 2, "a": 1}, "middle": [1, 2], "a": [],
                           "omega": null, "beta": true});
        assert_eq!(streamed, serde_json::to_string_pretty(&value).unwrap());
    }

    #[test]
    fn a_field_set_again_replaces_the_other_kind() {
        let mut o: Object<Vec<i64>> = Object::of(json!({"nodes": "small"}));
        o.set_large("nodes", vec![3]);
        assert_eq!(serde_json::to_string(&o).unwrap(), r#"{"nodes":[3]}"#);
        o.set("nodes", json!("small again"));
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"nodes":"small again"}"#
        );
    }
}
