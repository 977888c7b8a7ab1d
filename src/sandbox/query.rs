//! Query strings as dbt Cloud clients really send them: list parameters arrive as a JSON
//! array (`["run_steps","job"]`), a comma list, a Python repr (`['run_steps']`) or repeated
//! keys, and all of them must mean the same thing (`REFERENCE.md` §3).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use serde_json::{Map, Value};

use super::envelope::ApiError;

/// Default and maximum page size (`limit`).
pub const MAX_LIMIT: i64 = 100;

/// A parsed query string; keys may repeat.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query {
            pairs: raw
                .map(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.trim_end_matches("[]").to_string(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The last value of `key`, if given and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every item of a list parameter, in any of the spellings clients use.
    pub fn list(&self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (_, v) in self.pairs.iter().filter(|(k, _)| k == key) {
            for item in v.split(',') {
                let item = item.trim_matches(|c: char| {
                    c.is_whitespace() || matches!(c, '[' | ']' | '"' | '\'' | '\\')
                });
                if !item.is_empty() {
                    out.push(item.to_string());
                }
            }
        }
        out
    }

    /// A `__range` parameter: two date-times (`["2024-01-01T00:00:00+00:00", "..."]`, or a
    /// comma list), both ends inclusive; a time without an offset is UTC. Anything else is a 400
    /// naming the field.
    pub fn datetime_range(&self, key: &str) -> Result<Option<TimeRange>, ApiError> {
        if self.get(key).is_none() {
            return Ok(None);
        }
        let bad = || ApiError::bad_request(key, "Enter a list of two valid date/times.");
        let ends: Vec<DateTime<Utc>> = self
            .list(key)
            .iter()
            .map(|t| parse_datetime(&t.replace(' ', "+")).ok_or_else(bad))
            .collect::<Result<_, _>>()?;
        match ends[..] {
            [from, to] => Ok(Some((from, to))),
            _ => Err(bad()),
        }
    }

    /// An integer parameter; a non-integer is a 400 naming the field.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(key, "A valid integer is required.")),
        }
    }

    /// A list of integers (`status__in`, `project_id__in`, ...).
    pub fn int_list(&self, key: &str) -> Result<Vec<i64>, ApiError> {
        self.list(key)
            .iter()
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(key, format!("'{v}' is not a valid integer."))
                })
            })
            .collect()
    }

    /// `include_related`, normalised to a set of names.
    pub fn include_related(&self) -> BTreeSet<String> {
        self.list("include_related").into_iter().collect()
    }

    /// `limit` (default and maximum 100: dbt Cloud refuses larger pages) and `offset`.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.int("limit")?.unwrap_or(MAX_LIMIT);
        if limit > MAX_LIMIT {
            return Err(ApiError::bad_request(
                "limit",
                format!("Ensure this value is less than or equal to {MAX_LIMIT}."),
            ));
        }
        if limit < 1 {
            return Err(ApiError::bad_request(
                "limit",
                "Ensure this value is greater than or equal to 1.",
            ));
        }
        let offset = self.int("offset")?.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::bad_request(
                "offset",
                "Ensure this value is greater than or equal to 0.",
            ));
        }
        Ok(Page { limit, offset })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub fn apply<T>(&self, items: Vec<T>) -> Vec<T> {
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(self.limit).unwrap_or(0);
        items.into_iter().skip(offset).take(limit).collect()
    }

    /// Echo into `extra.filters` as dbt Cloud does (Airflow reads `extra.filters.limit`).
    pub fn echo(&self, filters: &mut Map<String, Value>) {
        filters.insert("limit".into(), self.limit.into());
        filters.insert("offset".into(), self.offset.into());
    }
}

/// A validated `order_by`: field name and direction.
#[derive(Debug, Clone)]
pub struct OrderBy {
    pub field: String,
    pub descending: bool,
    pub raw: String,
}

impl OrderBy {
    /// Parse `order_by` against the allowed fields; unknown fields are a 400.
    pub fn parse(q: &Query, allowed: &[&str], default: &str) -> Result<OrderBy, ApiError> {
        let raw = q.get("order_by").unwrap_or(default).trim().to_string();
        let (descending, field) = match raw.strip_prefix('-') {
            Some(f) => (true, f.to_string()),
            None => (false, raw.clone()),
        };
        if !allowed.contains(&field.as_str()) {
            return Err(ApiError::bad_request(
                "order_by",
                format!(
                    "'{raw}' is not a valid ordering. Options are {}, with '-' for descending.",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(OrderBy {
            field,
            descending,
            raw,
        })
    }
}

/// Two instants, both inclusive.
pub type TimeRange = (DateTime<Utc>, DateTime<Utc>);

/// An ISO 8601 date-time, with an offset (`Z`, `+00:00`) or without one (UTC).
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d+%H:%M:%S%.f", "%Y-%m-%d"]
        .iter()
        .find_map(|f| {
            chrono::NaiveDateTime::parse_from_str(text, f)
                .ok()
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(text, f)
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                })
        })
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_spelling_means_the_same() {
        for q in [
            r#"include_related=["run_steps","job"]"#,
            "include_related=run_steps,job",
            "include_related=['run_steps', 'job']",
            "include_related=run_steps&include_related=job",
            "include_related[]=run_steps&include_related[]=job",
            r#"include_related=["[\"run_steps\", \"job\"]"]"#,
        ] {
            let parsed = Query::parse(Some(q)).include_related();
            assert!(
                parsed.contains("run_steps") && parsed.contains("job"),
                "{q}"
            );
        }
    }

    #[test]
    fn limit_is_capped() {
        assert!(Query::parse(Some("limit=101")).page().is_err());
        assert_eq!(Query::parse(Some("limit=100")).page().unwrap().limit, 100);
        assert_eq!(Query::parse(None).page().unwrap().limit, 100);
    }

    #[test]
    fn datetime_ranges_in_the_spellings_clients_send() {
        for q in [
            r#"finished_at__range=["2024-05-01T10:00:00+00:00", "2024-05-01T11:00:00+00:00"]"#,
            "finished_at__range=%5B%222024-05-01T10%3A00%3A00%2B00%3A00%22%2C%20%222024-05-01T11%3A00%3A00Z%22%5D",
            "finished_at__range=2024-05-01T10:00:00,2024-05-01T11:00:00.000",
            "finished_at__range=[\"2024-05-01T10:00:00+00:00\",\"2024-05-01T11:00:00+00:00\"]",
        ] {
            let (from, to) = Query::parse(Some(q))
                .datetime_range("finished_at__range")
                .unwrap_or_else(|_| panic!("{q}"))
                .unwrap_or_else(|| panic!("{q}"));
            assert_eq!(from.to_rfc3339(), "2024-05-01T10:00:00+00:00", "{q}");
            assert_eq!(to.to_rfc3339(), "2024-05-01T11:00:00+00:00", "{q}");
        }
        assert!(Query::parse(None)
            .datetime_range("finished_at__range")
            .unwrap()
            .is_none());
        for bad in [
            "finished_at__range=yesterday",
            "finished_at__range=[\"2024-05-01\"]",
        ] {
            assert!(
                Query::parse(Some(bad))
                    .datetime_range("finished_at__range")
                    .is_err(),
                "{bad}"
            );
        }
    }
}
