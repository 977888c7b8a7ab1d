//! The flags every job of `dbt-run` shares.

use crate::cli::DbtRunArgs;
use crate::commands::connect;
use crate::config::FlagValues;

/// The flags every job of the command shares (all but the job and the target).
pub fn flag_values(args: &DbtRunArgs) -> FlagValues {
    FlagValues {
        wait: Some(args.wait || args.sequential),
        timeout: args.timeout.clone(),
        cause: args.cause.clone(),
        schema_override: args.schema_override.clone(),
        target_name_override: args.target_name_override.clone(),
        threads_override: args.threads_override,
        steps_override: Some(args.steps_override.clone()),
        timeout_seconds_override: args.timeout_seconds_override,
        dbt_version_override: args.dbt_version_override.clone(),
        generate_docs_override: args.generate_docs_override,
        retries: args.retries,
        ..connect::server_flags(&args.server)
    }
}
