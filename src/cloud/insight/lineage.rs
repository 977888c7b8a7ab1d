//! Lineage from a manifest's `parent_map`/`child_map`: what a node reads from and what reads
//! from it, to a depth, as text, Mermaid (fenced in Markdown, GitHub and GitLab render it) or
//! Graphviz dot.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use super::manifest::Manifest;

/// A node of the picture.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LineageNode {
    pub unique_id: String,
    pub resource_type: String,
    pub name: String,
    /// Steps away from the focus: negative upstream, positive downstream, 0 the focus.
    pub distance: i64,
    /// The node's status in the run the lineage was read from, when it ran.
    pub status: Option<String>,
}

/// The focus node, its upstream and downstream, and the edges between them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Lineage {
    pub focus: String,
    pub nodes: Vec<LineageNode>,
    /// `(parent, child)` pairs, both in `nodes`.
    pub edges: Vec<(String, String)>,
}

/// Why a name does not pick exactly one node.
#[derive(Debug, Clone, PartialEq)]
pub enum FindError {
    NotFound { suggestions: Vec<String> },
    Ambiguous { candidates: Vec<String> },
}

/// The node a person means: a unique id, a name (`stg_orders`), `source.table` for a source,
/// or `type:name` (`test:not_null_x`).
pub fn find(manifest: &Manifest, query: &str) -> Result<String, FindError> {
    if manifest.node(query).is_some() {
        return Ok(query.to_string());
    }
    let (kind, name) = match query.split_once(':') {
        Some((k, n)) => (Some(k), n),
        None => (None, query),
    };
    let matches: Vec<String> = manifest
        .unique_ids()
        .filter(|id| kind.is_none_or(|k| manifest.resource_type(id) == k))
        .filter(|id| manifest.display_name(id) == name)
        .cloned()
        .collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().unwrap_or_default()),
        0 => {
            let mut scored: Vec<(f64, String)> = manifest
                .unique_ids()
                .map(|id| {
                    let shown = manifest.display_name(id);
                    (strsim::jaro_winkler(name, &shown), shown)
                })
                .filter(|(score, _)| *score > 0.8)
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            scored.dedup_by(|a, b| a.1 == b.1);
            Err(FindError::NotFound {
                suggestions: scored.into_iter().take(3).map(|(_, s)| s).collect(),
            })
        }
        _ => Err(FindError::Ambiguous {
            candidates: matches,
        }),
    }
}

/// The lineage of `focus` up to `depth` steps each way (`None`: all of it).
pub fn lineage(
    manifest: &Manifest,
    focus: &str,
    depth: Option<usize>,
    statuses: &BTreeMap<String, String>,
) -> Lineage {
    let mut distance: BTreeMap<String, i64> = BTreeMap::new();
    distance.insert(focus.to_string(), 0);
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for (map, sign) in [(&manifest.parent_map, -1i64), (&manifest.child_map, 1)] {
        let mut queue = VecDeque::from([(focus.to_string(), 0usize)]);
        let mut seen = BTreeSet::from([focus.to_string()]);
        while let Some((id, d)) = queue.pop_front() {
            if depth.is_some_and(|max| d >= max) {
                continue;
            }
            for next in map.get(&id).into_iter().flatten() {
                let edge = if sign < 0 {
                    (next.clone(), id.clone())
                } else {
                    (id.clone(), next.clone())
                };
                edges.insert(edge);
                if seen.insert(next.clone()) {
                    distance
                        .entry(next.clone())
                        .or_insert(sign * (d as i64 + 1));
                    queue.push_back((next.clone(), d + 1));
                }
            }
        }
    }
    let mut nodes: Vec<LineageNode> = distance
        .into_iter()
        .map(|(id, d)| LineageNode {
            resource_type: manifest.resource_type(&id),
            name: manifest.display_name(&id),
            distance: d,
            status: statuses.get(&id).cloned(),
            unique_id: id,
        })
        .collect();
    nodes.sort_by(|a, b| (a.distance, &a.name).cmp(&(b.distance, &b.name)));
    Lineage {
        focus: focus.to_string(),
        nodes,
        edges: edges.into_iter().collect(),
    }
}

impl Lineage {
    /// Upstream, the focus, downstream, one line each, indented by distance.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (title, range) in [("upstream", i64::MIN..0), ("downstream", 1..i64::MAX)] {
            let nodes: Vec<&LineageNode> = self
                .nodes
                .iter()
                .filter(|n| range.contains(&n.distance))
                .collect();
            if title == "downstream" {
                if let Some(f) = self.nodes.iter().find(|n| n.distance == 0) {
                    out.push_str(&format!("{}\n", label(f)));
                }
            }
            out.push_str(&format!("{title}: {}\n", nodes.len()));
            for n in nodes {
                let indent = "  ".repeat(n.distance.unsigned_abs() as usize);
                out.push_str(&format!("{indent}{}\n", label(n)));
            }
        }
        out
    }

    /// The Mermaid flowchart in a fenced ```mermaid block: a Markdown file GitHub and GitLab
    /// render as a picture. The fence is longer than any run of backticks inside.
    pub fn markdown(&self) -> String {
        let body = self.mermaid();
        let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        format!("{fence}mermaid\n{body}{fence}\n")
    }

    /// A Mermaid flowchart, left to right; each node's status as a class.
    pub fn mermaid(&self) -> String {
        let ids = self.short_ids();
        let mut out = String::from("flowchart LR\n");
        for n in &self.nodes {
            let text = mermaid_text(&label(n));
            let shape = if n.distance == 0 {
                format!("{}[[\"{text}\"]]", ids[&n.unique_id])
            } else {
                format!("{}[\"{text}\"]", ids[&n.unique_id])
            };
            out.push_str(&format!("  {shape}\n"));
        }
        for (from, to) in &self.edges {
            out.push_str(&format!("  {} --> {}\n", ids[from], ids[to]));
        }
        let mut by_class: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for n in &self.nodes {
            if let Some(class) = n.status.as_deref().map(status_class) {
                by_class.entry(class).or_default().push(&ids[&n.unique_id]);
            }
        }
        for (class, members) in &by_class {
            out.push_str(&format!("  classDef {class} {}\n", class_style(class)));
            out.push_str(&format!("  class {} {class}\n", members.join(",")));
        }
        out
    }

    /// A Graphviz digraph, left to right, status as fill colour.
    pub fn dot(&self) -> String {
        let mut out = String::from("digraph lineage {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\"];\n");
        for n in &self.nodes {
            let mut attrs = vec![format!("label=\"{}\"", dot_text(&label(n)))];
            if let Some(status) = &n.status {
                attrs.push(format!("fillcolor=\"{}\"", fill(status_class(status))));
            }
            if n.distance == 0 {
                attrs.push("penwidth=2".into());
            }
            out.push_str(&format!(
                "  \"{}\" [{}];\n",
                dot_text(&n.unique_id),
                attrs.join(", ")
            ));
        }
        for (from, to) in &self.edges {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                dot_text(from),
                dot_text(to)
            ));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid node ids: `n0`, `n1`, … (unique ids hold dots and other characters Mermaid
    /// would read as syntax).
    fn short_ids(&self) -> BTreeMap<String, String> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.unique_id.clone(), format!("n{i}")))
            .collect()
    }
}

fn label(n: &LineageNode) -> String {
    match &n.status {
        Some(s) => format!("{} {} ({s})", n.resource_type, n.name),
        None => format!("{} {}", n.resource_type, n.name),
    }
}

/// Mermaid labels are quoted; a quote inside is written as its entity code.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn status_class(status: &str) -> &'static str {
    match status {
        "success" | "pass" => "ok",
        "warn" => "warn",
        "error" | "fail" | "runtime error" => "failed",
        "skipped" => "skipped",
        _ => "other",
    }
}

fn class_style(class: &str) -> String {
    format!("fill:{},stroke:#333", fill(class))
}

fn fill(class: &str) -> &'static str {
    match class {
        "ok" => "#c8e6c9",
        "warn" => "#fff3c4",
        "failed" => "#ffcdd2",
        "skipped" => "#e0e0e0",
        _ => "#ffffff",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            br#"{
            "nodes": {
                "model.p.stg_a": {"resource_type": "model", "name": "stg_a"},
                "model.p.b": {"resource_type": "model", "name": "b"},
                "model.p.c": {"resource_type": "model", "name": "c"},
                "model.other.c": {"resource_type": "model", "name": "c"}
            },
            "sources": {"source.p.raw.a": {"resource_type": "source", "name": "a", "source_name": "raw"}},
            "parent_map": {"model.p.stg_a": ["source.p.raw.a"], "model.p.b": ["model.p.stg_a"], "model.p.c": ["model.p.b"]},
            "child_map": {"source.p.raw.a": ["model.p.stg_a"], "model.p.stg_a": ["model.p.b"], "model.p.b": ["model.p.c"]}
        }"#,
        )
        .unwrap()
    }

    #[test]
    fn nodes_are_found_by_id_name_source_table_or_type() {
        let m = manifest();
        assert_eq!(find(&m, "stg_a").unwrap(), "model.p.stg_a");
        assert_eq!(find(&m, "raw.a").unwrap(), "source.p.raw.a");
        assert_eq!(find(&m, "model.other.c").unwrap(), "model.other.c");
        assert!(
            matches!(find(&m, "c"), Err(FindError::Ambiguous { candidates }) if candidates.len() == 2)
        );
        assert_eq!(
            find(&m, "stg_aa"),
            Err(FindError::NotFound {
                suggestions: vec!["stg_a".into()]
            })
        );
    }

    #[test]
    fn lineage_goes_both_ways_to_a_depth() {
        let m = manifest();
        let all = lineage(&m, "model.p.b", None, &BTreeMap::new());
        let names: Vec<(&str, i64)> = all
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.distance))
            .collect();
        assert_eq!(names, [("raw.a", -2), ("stg_a", -1), ("b", 0), ("c", 1)]);
        assert_eq!(all.edges.len(), 3);
        let near = lineage(&m, "model.p.b", Some(1), &BTreeMap::new());
        assert_eq!(near.nodes.len(), 3);
        assert_eq!(near.edges.len(), 2);
    }

    #[test]
    fn mermaid_and_dot_carry_every_node_edge_and_status() {
        let m = manifest();
        let statuses = BTreeMap::from([
            ("model.p.b".to_string(), "error".to_string()),
            ("model.p.c".to_string(), "skipped".to_string()),
        ]);
        let l = lineage(&m, "model.p.b", None, &statuses);
        let mermaid = l.mermaid();
        assert!(mermaid.starts_with("flowchart LR\n"));
        assert_eq!(mermaid.matches(" --> ").count(), 3);
        assert!(mermaid.contains("[[\"model b (error)\"]]"), "{mermaid}");
        assert!(mermaid.contains("class n2 failed"), "{mermaid}");
        assert_eq!(l.markdown(), format!("```mermaid\n{mermaid}```\n"));
        let dot = l.dot();
        assert!(dot.contains("\"model.p.b\" -> \"model.p.c\";"), "{dot}");
        assert!(dot.contains("fillcolor=\"#ffcdd2\""), "{dot}");
    }
}
