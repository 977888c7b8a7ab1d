//! A small, order-preserving YAML value and emitter, used where datachonk must read a
//! person's YAML and write parts of it back (the `_models.yml` merge), and the scalar
//! escaper behind the `yaml_str` template filter.
//!
//! Why not a serde YAML serializer: output must match the templates' style exactly (2-space
//! indent, plain scalars when safe, stable key order as written), so reruns are byte-identical
//! and diffs stay small.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

pub use crate::templates::escape::{is_plain, scalar};

/// A YAML value with mapping keys in the order they were written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// A test entry's name: `unique` for `- unique`, `relationships` for `- relationships: {...}`.
    pub fn test_name(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Map(entries) if entries.len() == 1 => Some(&entries[0].0),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .or(Ok(Value::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<KeyString, Value>()? {
            entries.push((k.0, v));
        }
        Ok(Value::Map(entries))
    }
}

/// Mapping keys as text, whatever scalar type YAML gave them (`1:` or `true:` keys).
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Str(s) => Ok(KeyString(s)),
            Value::Int(i) => Ok(KeyString(i.to_string())),
            Value::Bool(b) => Ok(KeyString(b.to_string())),
            Value::Float(f) => Ok(KeyString(f.to_string())),
            Value::Null => Ok(KeyString("null".into())),
            _ => Err(serde::de::Error::custom("mapping keys must be scalars")),
        }
    }
}

/// Emit `value` as block YAML lines (no trailing newline), 2-space indent, for embedding under
/// a key by the template (`indent` filter).
pub fn emit(value: &Value) -> String {
    let mut out = String::new();
    emit_into(&mut out, value, 0);
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

fn emit_scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            let s = f.to_string();
            if s.contains('.') || s.contains('e') || !f.is_finite() {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::Str(s) => scalar(s),
        Value::Seq(items) if items.is_empty() => "[]".into(),
        Value::Map(entries) if entries.is_empty() => "{}".into(),
        _ => return None,
    })
}

fn emit_into(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Map(entries) if !entries.is_empty() => {
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(&scalar(k));
                match emit_scalar(v) {
                    Some(s) => {
                        out.push_str(": ");
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        out.push_str(":\n");
                        emit_into(out, v, indent + 2);
                    }
                }
            }
        }
        Value::Seq(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match emit_scalar(item) {
                    Some(s) => {
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        // Nested block: emit at indent+2 and splice the first line after "- ".
                        let mut inner = String::new();
                        emit_into(&mut inner, item, indent + 2);
                        out.push_str(inner.trim_start_matches(' '));
                    }
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&emit_scalar(other).unwrap_or_default());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_plain_only_when_safe() {
        assert_eq!(scalar("order_items"), "order_items");
        assert_eq!(scalar("One row per order."), "One row per order.");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("2010"), "\"2010\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(scalar("#comment"), "\"#comment\"");
        assert_eq!(scalar("Order Items"), "Order Items");
        assert_eq!(scalar("Order  Items"), "\"Order  Items\"");
        assert_eq!(scalar("a b  c d"), "\"a b  c d\"");
        assert_eq!(scalar("Order "), "\"Order \"");
    }

    #[test]
    fn emit_round_trips_through_the_yaml_parser() {
        let text = "relationships:\n  arguments:\n    to: ref('x')\n    field: \"id: 1\"\n  config:\n    severity: warn\n    tags:\n      - a\n      - b: 1\n        c: [] \n";
        let v: Value = serde_saphyr::from_str(text).unwrap();
        let out = emit(&v);
        let back: Value = serde_saphyr::from_str(&out).unwrap();
        assert_eq!(v, back, "{out}");
        assert!(
            out.starts_with("relationships:\n  arguments:\n    to: \"ref('x')\""),
            "{out}"
        );
    }
}
