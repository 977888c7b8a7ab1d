//! Source freshness from dbt's `sources.json` (v3): per source table, when it was last loaded,
//! how old that is, the warn/error criteria and the verdict.

use serde::{Deserialize, Serialize};

use super::manifest::{fallback_name, Manifest};

/// One source table's freshness.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableFreshness {
    pub unique_id: String,
    /// `source.table`.
    pub name: String,
    /// `pass`, `warn`, `error` or `runtime error`.
    pub status: String,
    pub max_loaded_at: Option<String>,
    pub snapshotted_at: Option<String>,
    pub age_seconds: Option<f64>,
    /// e.g. `warn after 12 hours, error after 1 day`.
    pub criteria: Option<String>,
    /// The error of a runtime error.
    pub error: Option<String>,
}

impl TableFreshness {
    pub fn is_error(&self) -> bool {
        matches!(self.status.as_str(), "error" | "runtime error")
    }
}

#[derive(Debug, Deserialize)]
struct Sources {
    #[serde(default)]
    results: Vec<RawResult>,
}

#[derive(Debug, Deserialize)]
struct RawResult {
    unique_id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    max_loaded_at: Option<String>,
    #[serde(default)]
    snapshotted_at: Option<String>,
    #[serde(default)]
    max_loaded_at_time_ago_in_s: Option<f64>,
    #[serde(default)]
    criteria: Option<Criteria>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Criteria {
    #[serde(default)]
    warn_after: Option<After>,
    #[serde(default)]
    error_after: Option<After>,
}

#[derive(Debug, Deserialize)]
struct After {
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    period: Option<String>,
}

impl After {
    fn text(&self) -> Option<String> {
        let (n, period) = (self.count?, self.period.as_deref()?);
        Some(if n == 1 {
            format!("1 {period}")
        } else {
            format!("{n} {period}s")
        })
    }
}

/// Every table of a `sources.json`, named through `manifest` when given.
pub fn from_sources_json(
    bytes: &[u8],
    manifest: Option<&Manifest>,
) -> Result<Vec<TableFreshness>, serde_json::Error> {
    let parsed: Sources = serde_json::from_slice(bytes)?;
    Ok(parsed
        .results
        .into_iter()
        .map(|r| {
            let criteria = r.criteria.and_then(|c| {
                let parts: Vec<String> =
                    [("warn after", c.warn_after), ("error after", c.error_after)]
                        .into_iter()
                        .filter_map(|(what, after)| after?.text().map(|t| format!("{what} {t}")))
                        .collect();
                (!parts.is_empty()).then(|| parts.join(", "))
            });
            TableFreshness {
                name: manifest.map_or_else(
                    || fallback_name(&r.unique_id),
                    |m| m.display_name(&r.unique_id),
                ),
                status: r.status.unwrap_or_else(|| "unknown".into()),
                max_loaded_at: r.max_loaded_at,
                snapshotted_at: r.snapshotted_at,
                age_seconds: r.max_loaded_at_time_ago_in_s,
                criteria,
                error: r.error.filter(|e| !e.is_null()).map(|e| match e {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }),
                unique_id: r.unique_id,
            }
        })
        .collect())
}

/// `3h 12m`, `2d 4h`, `45s`: an age a person reads at a glance.
pub fn age_text(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_has_its_age_criteria_and_verdict() {
        let json = br#"{"metadata": {}, "elapsed_time": 1.0, "results": [
            {"unique_id": "source.p.raw.orders", "status": "pass", "max_loaded_at": "2026-11-29T06:00:00+00:00",
             "snapshotted_at": "2026-11-29T07:00:00+00:00", "max_loaded_at_time_ago_in_s": 3600.0,
             "criteria": {"warn_after": {"count": 12, "period": "hour"}, "error_after": {"count": 1, "period": "day"}, "filter": null},
             "adapter_response": {}, "timing": [], "thread_id": "Thread-1", "execution_time": 0.1},
            {"unique_id": "source.p.raw.customers", "status": "error", "max_loaded_at_time_ago_in_s": 200000.0,
             "criteria": {"warn_after": {"count": null, "period": null}, "error_after": {"count": 2, "period": "day"}}},
            {"unique_id": "source.p.raw.broken", "status": "runtime error", "error": "column loaded_at does not exist"}
        ]}"#;
        let tables = from_sources_json(json, None).unwrap();
        assert_eq!(tables[0].name, "raw.orders");
        assert_eq!(
            tables[0].criteria.as_deref(),
            Some("warn after 12 hours, error after 1 day")
        );
        assert!(!tables[0].is_error());
        assert_eq!(tables[1].criteria.as_deref(), Some("error after 2 days"));
        assert!(tables[1].is_error() && tables[2].is_error());
        assert_eq!(
            tables[2].error.as_deref(),
            Some("column loaded_at does not exist")
        );
        assert_eq!(age_text(200000.0), "2d 7h");
        assert_eq!(age_text(3725.0), "1h 2m");
        assert_eq!(age_text(42.0), "42s");
    }
}
