//! `generate --from-catalog cloud`: the catalog.json of the latest successful run of a dbt
//! Cloud job, fetched through the API and kept in `.datachonk/` for the generator to read.

use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;
use crate::cloud::{ApiError, RunQuery, RunStatus};
use crate::config::{self, FlagValues, ProcessEnv};
use crate::error::{CliError, Exit};
use crate::generate::write::write_atomic;
use crate::ui::Ui;

/// Where the fetched catalog is kept (inside the already git-ignored `.datachonk/`).
pub const CACHE: &str = ".datachonk/cloud-catalog.json";

/// Download the catalog and return the local path. `catalog_job_id` is
/// `generate.catalog_job_id`; it defaults to the configured job.
pub fn fetch(
    global: &GlobalArgs,
    root: &Path,
    catalog_job_id: Option<i64>,
    target: Option<&str>,
    ui: &Ui,
) -> Result<PathBuf, CliError> {
    let flags = FlagValues {
        target: target.map(str::to_string),
        ..FlagValues::default()
    };
    let cfg = config::load(&global.load_options(), &flags, &ProcessEnv)?;
    let job_id = match catalog_job_id {
        Some(id) => id,
        None => cfg.dbt_cloud.require_job_id().map_err(|_| {
            CliError::usage("--from-catalog cloud needs a dbt Cloud job whose runs generate docs").with_hint(
                "set generate.catalog_job_id (or deploy.dbt_cloud.job_id / DBT_CLOUD_JOB_ID) in datachonk.yaml",
            )
        })?,
    };
    let client = crate::connect::client(&cfg, ui.debug_log())?;
    let rt = super::edge::runtime()?;
    let fetched = rt.block_on(async {
        let latest = client
            .list_runs(&RunQuery {
                job_id: Some(job_id),
                status_in: vec![RunStatus::Success],
                order_by: Some("-id".into()),
                limit: 1,
                ..RunQuery::default()
            })
            .await?;
        let Some(run) = latest.into_iter().next() else {
            return Ok(Err(CliError::usage(format!("dbt Cloud job {job_id} has no successful run to read catalog.json from"))
                .with_hint("run the job once (datachonk dbt-run --job-id …) or pick another with generate.catalog_job_id")));
        };
        match client.get_artifact(run.id, "catalog.json", None).await {
            Ok(bytes) => Ok(Ok((run.id, bytes))),
            Err(ApiError::NotFound { .. }) => Ok(Err(CliError::usage(format!(
                "run {} of dbt Cloud job {job_id} has no catalog.json",
                run.id
            ))
            .with_hint("enable \"Generate docs on run\" for the job (or add `dbt docs generate` to its steps)"))),
            Err(e) => Err(e),
        }
    });
    rt.shutdown_background();
    let (run_id, bytes) = fetched.map_err(CliError::from)??;
    let path = root.join(CACHE);
    write_atomic(&path, &bytes).map_err(|e| CliError::new(Exit::Usage, e.to_string()))?;
    ui.status(format!(
        "catalog.json of job {job_id}, run {run_id} ({} KiB) from {}",
        bytes.len().div_ceil(1024),
        client.base_url()
    ));
    Ok(path)
}
