//! The flags every job of `dbt-run` shares.

use crate::cli::DbtRunArgs;
use crate::cloud::TriggerRequest;
use crate::commands::connect;
use crate::config::{DbtCloudConfig, FlagValues};
use crate::deploy;
use crate::error::CliError;

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

/// The trigger body every job of the command sends: the cause, the commit, the overrides and,
/// with `--pull-request`, the pull request it is a CI run of.
pub fn request_of(d: &DbtCloudConfig, args: &DbtRunArgs) -> Result<TriggerRequest, CliError> {
    let mut request =
        deploy::request_for(d, args.git_sha.as_deref(), cause_branch(args).as_deref())?;
    if let Some(pr) = deploy::pull_request_from(args.pull_request.as_deref())? {
        deploy::for_pull_request(&mut request, &pr)?;
    }
    Ok(request)
}

/// Whether a stop signal cancels the run: `--cancel-on-interrupt`, else in a CI job unless
/// `--no-cancel-on-interrupt`.
pub fn cancels_on_stop(args: &DbtRunArgs) -> bool {
    args.cancel_on_interrupt || (!args.no_cancel_on_interrupt && deploy::ci_cancels_on_stop())
}

/// The branch the trigger's cause names: `--git-branch`, else the local branch whose tip is
/// `--git-sha` (the one checked out first), so `dbt-run --git-sha "$(git rev-parse HEAD)"`
/// reads `Triggered by datachonk for <branch> @ <sha>` like a push. With a sha the branch
/// only goes into the cause; the sha is what is sent.
pub fn cause_branch(args: &DbtRunArgs) -> Option<String> {
    if args.git_branch.is_some() {
        return args.git_branch.clone();
    }
    local_branch_at(&args.git_sha.as_deref()?.trim().to_ascii_lowercase())
}

fn local_branch_at(sha: &str) -> Option<String> {
    if sha.len() < 7 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let repo = git2::Repository::discover(".").ok()?;
    let at_sha = |r: &git2::Reference| {
        r.peel_to_commit()
            .is_ok_and(|c| c.id().to_string().starts_with(sha))
    };
    if let Ok(head) = repo.head() {
        if head.is_branch() && at_sha(&head) {
            return head.shorthand().ok().map(str::to_string);
        }
    }
    let found = repo
        .branches(Some(git2::BranchType::Local))
        .ok()?
        .flatten()
        .find(|(b, _)| at_sha(b.get()))
        .and_then(|(b, _)| b.name().ok().flatten().map(str::to_string));
    found
}
