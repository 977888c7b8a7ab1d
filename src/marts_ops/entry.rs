//! One spec entry as the flags (or the wizard's answers) describe it, and what follows from
//! the flags alone: those that do not apply, those still missing, the entry's YAML fields.

use crate::generate::marts::edit::Field;

use super::error::MartsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Entity,
    Fact,
    Metric,
}

impl Kind {
    /// The spec's section for this kind (`entities:`, ...).
    pub fn section(self) -> &'static str {
        match self {
            Kind::Entity => "entities",
            Kind::Fact => "facts",
            Kind::Metric => "metrics",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Entity => "entity",
            Kind::Fact => "fact",
            Kind::Metric => "metric",
        }
    }
}

/// The entry's values, named as `datachonk new`'s flags (whose help says what each means);
/// `None`/empty is "not given".
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub name: String,
    pub from: Option<String>,
    pub key: Vec<String>,
    pub attributes: Vec<String>,
    pub history: Option<String>,
    pub updated_at: Option<String>,
    pub check_cols: Vec<String>,
    pub grain: Vec<String>,
    pub entities: Option<Vec<String>>,
    pub measures: Vec<String>,
    pub dimensions: Vec<String>,
    pub time: Option<String>,
    pub incremental: Option<String>,
    pub metric_type: Option<String>,
    pub fact: Option<String>,
    pub measure: Option<String>,
    pub agg: Option<String>,
    pub numerator: Option<String>,
    pub denominator: Option<String>,
    pub expr: Option<String>,
    pub metrics: Vec<String>,
    pub window: Option<String>,
}

/// Flags that belong to another kind are refused (they would be silently dropped).
pub fn refuse_foreign_flags(a: &Entry) -> Result<(), MartsError> {
    let entity = [
        ("--key", !a.key.is_empty()),
        ("--attributes", !a.attributes.is_empty()),
        ("--history", a.history.is_some()),
        ("--updated-at", a.updated_at.is_some()),
        ("--check-cols", !a.check_cols.is_empty()),
    ];
    let fact = [
        ("--grain", !a.grain.is_empty()),
        ("--entities", a.entities.is_some()),
        ("--measures", !a.measures.is_empty()),
        ("--dimensions", !a.dimensions.is_empty()),
        ("--incremental", a.incremental.is_some()),
    ];
    let metric = [
        ("--type", a.metric_type.is_some()),
        ("--fact", a.fact.is_some()),
        ("--measure", a.measure.is_some()),
        ("--agg", a.agg.is_some()),
        ("--numerator", a.numerator.is_some()),
        ("--denominator", a.denominator.is_some()),
        ("--expr", a.expr.is_some()),
        ("--metrics", !a.metrics.is_empty()),
        ("--window", a.window.is_some()),
    ];
    let foreign: Vec<&str> = match a.kind {
        Kind::Entity => fact
            .iter()
            .chain(&metric)
            .filter(|f| f.1)
            .map(|f| f.0)
            .collect(),
        Kind::Fact => entity
            .iter()
            .chain(&metric)
            .filter(|f| f.1)
            .map(|f| f.0)
            .collect(),
        Kind::Metric => {
            let mut v: Vec<&str> = entity
                .iter()
                .chain(&fact)
                .filter(|f| f.1)
                .map(|f| f.0)
                .collect();
            if a.from.is_some() {
                v.push("--from");
            }
            v
        }
    };
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(MartsError::refused(
            format!("new {:?}: {} do(es) not apply", a.kind, foreign.join(", ")).to_lowercase(),
        )
        .with_hint("`datachonk new --help` lists the flags of each kind"))
    }
}

/// The flags (or answers) the entry still needs.
pub fn missing_flags(a: &Entry) -> Vec<&'static str> {
    let mut out = Vec::new();
    match a.kind {
        Kind::Entity => {
            if a.from.is_none() {
                out.push("--from MODEL");
            }
            if a.key.is_empty() {
                out.push("--key COLUMNS");
            }
            if a.history.as_deref() == Some("scd2")
                && a.updated_at.is_none()
                && a.check_cols.is_empty()
            {
                out.push("--updated-at COLUMN (or --check-cols COLUMNS)");
            }
        }
        Kind::Fact => {
            if a.from.is_none() {
                out.push("--from MODEL");
            }
            if a.grain.is_empty() {
                out.push("--grain COLUMNS");
            }
        }
        Kind::Metric => match a.metric_type.as_deref().unwrap_or("simple") {
            "ratio" => {
                if a.numerator.is_none() {
                    out.push("--numerator METRIC");
                }
                if a.denominator.is_none() {
                    out.push("--denominator METRIC");
                }
            }
            "derived" => {
                if a.expr.is_none() {
                    out.push("--expr EXPR");
                }
                if a.metrics.is_empty() {
                    out.push("--metrics METRICS");
                }
            }
            _ => {
                if a.fact.is_none() {
                    out.push("--fact FACT");
                }
                let counts = matches!(a.agg.as_deref(), Some("count" | "count_distinct"));
                if a.measure.is_none() && !counts {
                    out.push("--measure COLUMN (or --agg count)");
                }
            }
        },
    }
    out
}

/// The entry's fields, in the order people read them.
pub fn fields(a: &Entry) -> Vec<(String, Field)> {
    let mut f: Vec<(String, Field)> = Vec::new();
    let scalar = |f: &mut Vec<(String, Field)>, k: &str, v: &Option<String>| {
        if let Some(v) = v {
            f.push((k.into(), Field::Scalar(v.clone())));
        }
    };
    let cols = |v: &[String]| match v {
        [one] => Field::Scalar(one.clone()),
        many => Field::List(many.to_vec()),
    };
    match a.kind {
        Kind::Entity => {
            scalar(&mut f, "from", &a.from);
            f.push(("key".into(), cols(&a.key)));
            if !a.attributes.is_empty() {
                f.push(("attributes".into(), Field::List(a.attributes.clone())));
            }
            scalar(&mut f, "history", &a.history);
            scalar(&mut f, "updated_at", &a.updated_at);
            if !a.check_cols.is_empty() {
                f.push(("check".into(), Field::List(a.check_cols.clone())));
            }
        }
        Kind::Fact => {
            scalar(&mut f, "from", &a.from);
            f.push(("grain".into(), cols(&a.grain)));
            if let Some(e) = a.entities.as_ref().filter(|e| !e.is_empty()) {
                f.push(("entities".into(), Field::List(e.clone())));
            }
            for (k, v) in [("measures", &a.measures), ("dimensions", &a.dimensions)] {
                if !v.is_empty() {
                    f.push((k.into(), Field::List(v.clone())));
                }
            }
            scalar(&mut f, "time", &a.time);
            if let Some(c) = &a.incremental {
                f.push((
                    "incremental".into(),
                    Field::Map(vec![("updated_at".into(), Field::Scalar(c.clone()))]),
                ));
            }
        }
        Kind::Metric => {
            if a.metric_type.as_deref().is_some_and(|t| t != "simple") {
                scalar(&mut f, "type", &a.metric_type);
            }
            scalar(&mut f, "fact", &a.fact);
            scalar(&mut f, "measure", &a.measure);
            scalar(&mut f, "agg", &a.agg);
            scalar(&mut f, "time", &a.time);
            scalar(&mut f, "numerator", &a.numerator);
            scalar(&mut f, "denominator", &a.denominator);
            scalar(&mut f, "expr", &a.expr);
            if !a.metrics.is_empty() {
                f.push(("metrics".into(), Field::List(a.metrics.clone())));
            }
            scalar(&mut f, "window", &a.window);
        }
    }
    f
}
