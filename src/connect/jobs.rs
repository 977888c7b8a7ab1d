//! The jobs a command line names (`--job`, `--after-job`, `--on-success-of`, `--trigger`).

use crate::cloud::Client;
use crate::config::{Config, Source, Sourced};

use super::error::ConnectError;

/// A job as a command line names it (`--job`, `--after-job`, `--on-success-of`, `--trigger`):
/// all digits is an id (no request), anything else a name resolved by [`job_by_name`].
pub async fn resolve_job(client: &Client, cfg: &Config, spec: &str) -> Result<i64, ConnectError> {
    let s = spec.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| ConnectError::refused(format!("job id {s} is out of range")));
    }
    Ok(job_by_name(client, cfg, s).await?.value)
}

/// `--job NAME` → the job's id: exact name within the configured project, else
/// case-insensitive; none or several is exit 2 listing candidates with their ids.
pub async fn job_by_name(
    client: &Client,
    cfg: &Config,
    name: &str,
) -> Result<Sourced<i64>, ConnectError> {
    let project = cfg.dbt_cloud.project_id.as_ref().map(|p| p.value);
    let jobs = client.list_jobs(project, None).await?;
    let named = |exact: bool| -> Vec<(i64, String)> {
        jobs.iter()
            .filter_map(|j| Some((j.id?, j.name.clone()?)))
            .filter(|(_, n)| {
                if exact {
                    n == name
                } else {
                    n.eq_ignore_ascii_case(name)
                }
            })
            .collect()
    };
    let mut found = named(true);
    if found.is_empty() {
        found = named(false);
    }
    let listing = |list: &[(i64, String)]| {
        list.iter()
            .map(|(id, n)| format!("{id} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let scope = project.map_or("the account".to_string(), |p| format!("project {p}"));
    match found.as_slice() {
        [(id, _)] => Ok(Sourced::new(*id, Source::Flag("--job".into()))),
        [] => {
            let all: Vec<(i64, String)> = jobs
                .iter()
                .filter_map(|j| Some((j.id?, j.name.clone()?)))
                .collect();
            let err = ConnectError::refused(format!("no job named {name:?} in {scope}"));
            Err(if all.is_empty() {
                err
            } else {
                err.with_hint(format!("jobs: {}", listing(&all)))
            })
        }
        several => Err(ConnectError::refused(format!(
            "{} jobs named {name:?} in {scope}: {}",
            several.len(),
            listing(several)
        ))
        .with_hint("pass --job-id with one of them")),
    }
}
