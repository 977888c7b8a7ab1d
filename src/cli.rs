//! The command-line surface (clap derive). Doc comments here are the `--help` text.
//!
//! Long on purpose: it is the help of every command, read as one surface; the marts
//! commands' arguments are in `cli/marts.rs`. Only clap types and their conversions to the
//! plain values the layers below take (`UiOptions`, `LoadOptions`, `FlagValues`, `Entry`)
//! live here; nothing below names this module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{FlagValues, LoadOptions};
use crate::init::choices::HookChoice;
use crate::ui::{ColorMode, UiOptions};

mod marts;
pub use marts::{NewArgs, NewKind, RelationshipsArgs};

/// An "Examples:" heading (styled as clap's own) over indented command lines, one per
/// argument. Shown after the options in `-h` and `--help`, and as a section of the man page.
/// Lines stay within 78 columns: clap would wrap longer ones without indenting them.
macro_rules! examples {
    ($($line:literal),+ $(,)?) => {
        concat!("\x1b[1m\x1b[4mExamples:\x1b[0m", $("\n  ", $line),+)
    };
}

/// `dbt-run`'s examples: in its short help, and after the JSON shape in the long one.
macro_rules! dbt_run_examples {
    () => {
        examples!(
            "datachonk dbt-run --wait",
            "datachonk dbt-run --job-id 42 --git-sha \"$(git rev-parse HEAD)\" \\",
            "    --wait --timeout 30m",
            "datachonk dbt-run --steps-override \"dbt build --select state:modified+\" --json",
            "datachonk dbt-run --wait --retries 2",
            "datachonk dbt-run --target dev --target prod --yes --wait",
            "datachonk dbt-run --job-id 11 --job-id 12 --sequential",
        )
    };
}

/// `sandbox`'s examples: in its short help, and after the clients' section of the long one.
macro_rules! sandbox_examples {
    () => {
        examples!(
            "datachonk sandbox --addr 127.0.0.1:0 --token sandbox-token",
            "datachonk sandbox --executor dbt --fixture sandbox.example.yaml",
            "datachonk sandbox --fault 503:every=3 --fault latency:ms=200:path=/runs/",
        )
    };
}

/// Close the build → push → run loop of dbt development.
///
/// datachonk generates dbt staging models from real metadata, commits and pushes exactly
/// those files, and triggers the dbt Cloud job that validates the pushed commit.
///
/// Quick start (no account, no network): `datachonk quickstart`.
#[derive(Debug, Parser)]
#[command(
    name = "datachonk",
    // "0.1.0 (abc1234 2026-12-06)": the commit and date it was built from (build.rs).
    version = env!("DATACHONK_VERSION"),
    propagate_version = true,
    // Wrapped to the terminal (wrap_help), at most 100 columns to stay readable.
    max_term_width = 100,
    after_help = EX_ROOT
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, listed under their own heading in each command's help.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global Options")]
pub struct GlobalArgs {
    /// Configuration file to use instead of `datachonk.yaml` at the repository root.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Run as if datachonk was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// Print one JSON document on stdout (diagnostics still go to stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// Print less: only errors and the final verdict.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more: each HTTP request and retry decision.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Never prompt; fail with the list of missing flags instead.
    #[arg(long, global = true)]
    pub no_input: bool,

    /// When to use colours (NO_COLOR is honoured with `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl GlobalArgs {
    /// Where the configuration is read from (`--config`, else found from the working directory).
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            explicit_file: self.config.clone(),
            start_dir: None,
        }
    }

    /// True when questions may be asked: not `--no-input`, and both stdin and stderr are
    /// terminals.
    pub fn can_prompt(&self) -> bool {
        use std::io::IsTerminal;
        !self.no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Whether prompts are coloured: `always`, or `auto` without NO_COLOR.
    pub fn prompt_color(&self) -> bool {
        self.color == ColorChoice::Always
            || (self.color == ColorChoice::Auto && std::env::var_os("NO_COLOR").is_none())
    }
}

impl From<&GlobalArgs> for UiOptions {
    fn from(g: &GlobalArgs) -> Self {
        UiOptions {
            json: g.json,
            quiet: g.quiet,
            verbose: g.verbose,
            color: match g.color {
                ColorChoice::Auto => ColorMode::Auto,
                ColorChoice::Always => ColorMode::Always,
                ColorChoice::Never => ColorMode::Never,
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up datachonk in this repository: a wizard that writes datachonk.yaml.
    ///
    /// Finds the git repository and the dbt project, asks for the dbt Cloud access URL, checks
    /// the API token against it (DBT_CLOUD_API_TOKEN when set, else a hidden prompt), lets you
    /// pick the project, environment and job from live lists, warns when the job is not a
    /// state-aware validation job, offers a production job (written as targets dev + prod),
    /// asks about auto_trigger, wait and the protected branches, offers a git hook, then
    /// writes datachonk.yaml atomically and adds .datachonk/ (this checkout's caches) to
    /// .gitignore. The token is never written to any file.
    ///
    /// Re-running it on an existing datachonk.yaml offers the file's values as defaults and
    /// rewrites only the values you change (comments and other keys are kept).
    ///
    /// Without a terminal, or with --no-input, nothing is asked: the flags below (or the
    /// existing file) must give every id, or init lists the missing flags and exits 2. The ids
    /// are checked against the API when a token is available.
    ///
    /// Exit codes: 0 written (or already up to date), 2 missing/invalid settings, 6 API
    /// failure, 130 interrupted (nothing written).
    #[command(after_help = EX_INIT)]
    Init(InitArgs),

    /// Render dbt staging models from warehouse metadata.
    ///
    /// Reads catalog.json, a sources YAML, a live PostgreSQL database, or a dbt Cloud job's
    /// catalog. Writes models/staging/<source>/_<source>__sources.yml, _<source>__models.yml and one
    /// stg_<source>__<table>.sql per table (configurable under `generate:` in datachonk.yaml).
    /// Files a person edited are never overwritten without --force; _models.yml is merged,
    /// keeping the descriptions and tests people added. Reruns are byte-identical.
    ///
    /// Entities, facts and metrics declared in datachonk/*.yml are rendered by every run
    /// (models/marts/dim_*.sql, fct_*.sql, snapshots, semantic models, metrics); without
    /// --from-* flags, a project with such a spec renders only those.
    #[command(after_help = EX_GENERATE)]
    Generate(GenerateArgs),

    /// Declare an entity, fact or metric in the spec, then render it.
    ///
    /// The spec (datachonk/*.yml) is edited in place, its comments kept; the rendering is
    /// the one `generate` does.
    ///
    /// On a terminal, what the flags leave out is asked; with --no-input (or no terminal),
    /// missing flags are named and nothing is written (exit 2). The whole spec is checked
    /// first: nothing is written when it would not hold.
    #[command(after_help = EX_NEW)]
    New(NewArgs),

    /// Find the relationships between the warehouse's tables.
    ///
    /// The evidence: foreign keys the database declares, naming patterns (`customer_id` → customers, singular or plural; the spec's
    /// entity keys), and with a live database the overlap of sampled values. Each with its
    /// evidence and a confidence (0 to 1).
    #[command(after_help = EX_RELATIONSHIPS)]
    Relationships(RelationshipsArgs),

    /// Commit exactly the generated files that changed and push the branch.
    ///
    /// Then, with --trigger-dbt-run or `deploy.dbt_cloud.auto_trigger`, run the dbt Cloud
    /// job for the pushed commit.
    ///
    /// What is committed: the files `datachonk generate` wrote (recorded in
    /// datachonk.state.json, committed with them) whose content differs from HEAD. Other
    /// modified, staged or untracked files are left exactly as they are; a generated file
    /// edited by hand since is left out (commit it yourself). Author and committer come from
    /// git config (user.name, user.email); the message from the commit_message.txt template.
    ///
    /// Where it goes: the branch's upstream, else <remote>/<branch> (default origin and the
    /// same name), which then becomes the upstream. Never forced. Protected branches
    /// (git.protected_branches, default [main, master]), a detached HEAD and a merge or
    /// rebase in progress are refused. Credentials: ssh-agent, ~/.ssh/id_ed25519, id_ecdsa,
    /// id_rsa, then (HTTPS) a token in the remote URL, git credential helpers and git's askpass
    /// program (GIT_ASKPASS, core.askPass), each tried once.
    ///
    /// A rejected push (e.g. the remote has new commits) keeps the commit, triggers nothing
    /// and exits 5: pull --rebase and rerun. Nothing to commit and nothing to push exits 0
    /// (and still triggers for HEAD with --trigger-dbt-run). With --wait the output and exit
    /// codes are those of `dbt-run --wait`.
    ///
    /// Exit codes: 0 pushed (and the run succeeded with --wait), 1 run Error, 2 usage or
    /// configuration, 3 run Cancelled, 4 timeout, 5 git failure (rejected, auth, protected
    /// branch, detached HEAD, no identity), 6 dbt Cloud API failure.
    #[command(after_help = EX_PUSH)]
    Push(PushArgs),

    /// Trigger a dbt Cloud job run (for code already in git) and optionally wait for it.
    ///
    /// Progress goes to stderr, one line per status or step change; the verdict to stdout.
    /// With --json, stdout carries exactly one JSON document (its shape is shown below).
    /// After Ctrl-C its `run` is the last state seen; after a cancel, the state dbt Cloud
    /// confirmed.
    ///
    /// With --retries N, a run ending in Error is retried from the point of failure (dbt
    /// Cloud's retry, else a new run selecting the failed nodes and their downstream); the
    /// verdict and exit code are the last attempt's; never after Cancelled or the timeout.
    ///
    /// Several jobs (--target, --job-id or --job repeated): each is triggered at most once,
    /// then all are awaited with one list request per poll (runs/?pk__in=[..]); one line per
    /// run as it changes, each run's verdict, and one combined verdict, the worst of error >
    /// cancelled > timeout > success. --sequential triggers each job only after the previous
    /// run succeeded.
    ///
    /// Exit codes: 0 success (or triggered without --wait), 1 run Error, 2 usage/config,
    /// 3 run Cancelled, 4 --timeout reached, 6 API failure, 130 interrupted.
    #[command(name = "dbt-run", after_help = EX_DBT_RUN, after_long_help = DBT_RUN_LONG_HELP)]
    DbtRun(DbtRunArgs),

    /// Git hooks that check a branch before it is merged or pushed.
    ///
    /// pre-merge-commit validates the branch with the dbt Cloud job before it is merged;
    /// pre-push checks the configuration and the generated files before a push.
    ///
    /// Also usable from the pre-commit framework: this repository's .pre-commit-hooks.yaml
    /// defines datachonk-pre-merge-commit and datachonk-pre-push (README, "Hooks").
    #[command(subcommand, after_help = EX_HOOK)]
    Hook(HookCommand),

    /// Inspect dbt Cloud: the connection, jobs, runs and artifacts.
    #[command(subcommand, after_help = EX_CLOUD)]
    Cloud(CloudCommand),

    /// A sensor: each new successful run of an upstream job triggers a downstream job once.
    ///
    /// Long-running (or --once for cron and CI). State lives in
    /// .datachonk/watch/<upstream>-<downstream>.json, so a restart neither triggers twice nor
    /// misses an upstream run that succeeded while it was down (within --look-back). The first
    /// start remembers the newest successful upstream run and waits for the next one. One
    /// watcher per pair (a second is refused). Ctrl-C / SIGTERM finish the current trigger and
    /// exit 130 / 143 with the state saved.
    #[command(after_help = EX_WATCH)]
    Watch(WatchArgs),

    /// Show or check the effective configuration.
    #[command(subcommand, after_help = EX_CONFIG)]
    Config(ConfigCommand),

    /// Serve a local stand-in for the dbt Cloud v2 API.
    ///
    /// For the quickstart, tests, hooks and CI.
    ///
    /// The first line on stdout is the base URL it listens on.
    #[command(after_help = EX_SANDBOX, after_long_help = SANDBOX_LONG_HELP)]
    Sandbox(SandboxArgs),

    /// Serve a page to trigger and watch runs, and its API.
    ///
    /// The integration API lives under /api/dbt-cloud/*.
    ///
    /// The first stdout line is the page's URL with a per-start key
    /// (http://127.0.0.1:8765/?key=…); opening it logs the browser in. Scripts send the key as
    /// `Authorization: Bearer KEY` (fix it with --key-env VAR). Started inside a configured
    /// project with the API token in the environment, it is connected from the start;
    /// otherwise the page (or POST /api/dbt-cloud/connect) connects with a token kept in
    /// memory only. The API is described at /api/dbt-cloud/openapi.json.
    #[command(after_help = EX_SERVE)]
    Serve(ServeArgs),

    /// Print shell completions for SHELL (bash, zsh, fish, elvish, powershell).
    #[command(after_help = EX_COMPLETIONS)]
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) of datachonk or of one of its commands.
    ///
    /// With --out-dir, every command's page is written into a folder instead.
    #[command(after_help = EX_MAN)]
    Man(ManArgs),

    /// See the whole loop work with no account and no network.
    ///
    /// Creates a throwaway workspace — a sample dbt project (DuckDB), a bare git remote and
    /// the embedded sandbox standing in for dbt Cloud (running real dbt when `dbt` is on PATH,
    /// simulating runs otherwise) — then generates staging models, pushes them on a branch,
    /// triggers the validation job for the pushed commit, waits and prints the verdict.
    ///
    /// Exit code: as `push --trigger-dbt-run --wait` (0 when the run succeeded).
    #[command(after_help = EX_QUICKSTART)]
    Quickstart(QuickstartArgs),
}

#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("input").args(["from_catalog", "from_sources", "from_postgres", "from_warehouse"])))]
pub struct GenerateArgs {
    /// What to generate: SOURCE or SOURCE.TABLE, with * and ? globs; TABLE matches the raw
    /// or snake_case name. Default: `generate.tables`, else every table in the metadata.
    #[arg(value_name = "SOURCE[.TABLE]")]
    pub selection: Vec<String>,

    /// Read a dbt catalog.json (what `dbt docs generate` writes): its sources and nodes.
    /// `cloud`: the catalog.json of the latest successful run of `generate.catalog_job_id`
    /// (default `deploy.dbt_cloud.job_id`), fetched through the dbt Cloud API.
    #[arg(long, value_name = "PATH|cloud")]
    pub from_catalog: Option<PathBuf>,

    /// Read an existing dbt sources YAML that lists columns.
    #[arg(long, value_name = "PATH")]
    pub from_sources: Option<PathBuf>,

    /// Introspect a live PostgreSQL database (information_schema: tables, columns, types,
    /// primary keys, comments), e.g. postgres://user@127.0.0.1:5432/db?schema=raw. `schema`
    /// (comma-separated) picks schemas, else `generate.schema`, else all user schemas. The
    /// password, if any, is never printed.
    #[arg(long, value_name = "URL")]
    pub from_postgres: Option<String>,

    /// Read these schemas (or tables) of any warehouse dbt reaches, through the project's own
    /// dbt (`dbt` on PATH, or $DATACHONK_DBT), its profile and target (`--target`): one
    /// `dbt show` over the adapter's information schema. Repeat it or separate with commas.
    #[arg(long, value_name = "SCHEMA[.TABLE]", num_args = 1)]
    pub from_warehouse: Vec<String>,

    /// How long --from-warehouse waits for dbt's answer before stopping it (e.g. 90s, 30m).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15m",
        requires = "from_warehouse"
    )]
    pub dbt_timeout: String,

    /// List each planned file as new, changed, unchanged or edited-by-hand; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print unified diffs of what would change; write nothing.
    #[arg(long)]
    pub diff: bool,

    /// Write nothing; exit 1 when any generated file is missing or stale (for CI and hooks).
    /// Under GitHub Actions each missing or stale file is also an `::error` annotation (a file
    /// edited by hand and left alone, a `::warning`), and the step summary gets a table of
    /// the files and a diff per stale file; under GitLab CI the diffs fold into a section.
    #[arg(long)]
    pub check: bool,

    /// Overwrite files edited by hand (and re-render _models.yml without merging).
    #[arg(long)]
    pub force: bool,
    /// Exit 1 when a model to generate already exists in a file datachonk did not write
    /// (it is skipped either way: `exists (not generated)`).
    #[arg(long)]
    pub strict: bool,

    /// Stage tables that a model of the project already reads (a declared table through
    /// `source('s', 't')`, a seed through `ref('seed')`): by default they get no new model.
    #[arg(long)]
    pub include_staged: bool,

    /// The dbt project: the folder of its dbt_project.yml (default: found upward from the
    /// current folder).
    #[arg(long, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,

    /// Read what the project declares from this dbt manifest (default: target/manifest.json
    /// when it is newer than every properties file).
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,

    /// With `--from-catalog cloud`: read the catalog of this named target's job
    /// (deploy.dbt_cloud.targets) [env: DATACHONK_TARGET]. With `--from-warehouse`: the
    /// dbt target to run with (the profile's default otherwise)
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PushArgs {
    /// After pushing, trigger the configured dbt Cloud job for the pushed commit (also
    /// when `deploy.dbt_cloud.auto_trigger` is true).
    #[arg(long)]
    pub trigger_dbt_run: bool,

    /// Wait for the triggered run and exit with its verdict, exactly as `dbt-run --wait`.
    #[arg(long)]
    pub wait: bool,

    /// Why the run was triggered (at most 255 characters). Default: the commit's subject,
    /// short sha and branch.
    #[arg(long, value_name = "TEXT")]
    pub cause: Option<String>,

    /// Commit message to use instead of the commit_message.txt template.
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,

    /// Remote to push to (default: the branch's upstream remote, else origin).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,

    /// Branch to push to on the remote (default: the upstream branch, else the same name).
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,

    /// Show what would be committed and pushed and the run that would be triggered; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Allow committing on and pushing to a protected branch (git.protected_branches).
    #[arg(long)]
    pub allow_protected: bool,

    /// Named target of deploy.dbt_cloud.targets whose job is triggered. Repeat to push once
    /// and trigger each target's job for the pushed commit, awaited together (one verdict,
    /// as `dbt-run --target A --target B`)
    /// [env: DATACHONK_TARGET; config: deploy.dbt_cloud.default_target]
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,

    /// Trigger without asking when the target is marked `confirm: true` (it changes
    /// production). Needed without a terminal.
    #[arg(long)]
    pub yes: bool,

    /// When the run ends in Error, retry it from the point of failure up to N times
    /// (dbt Cloud's retry, else a new run of the failed nodes and their downstream); never
    /// after a cancellation or the timeout [default: deploy.dbt_cloud.retries, else 0]
    #[arg(long, value_name = "N")]
    pub retries: Option<i64>,

    /// With --wait: write the verdict as JUnit XML to FILE (one test suite per dbt step, one
    /// test case per node: what CI test-report tabs read)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,

    /// With --wait, under GitHub Actions, on a pull request: post the verdict (run link, node
    /// counts, failing nodes, the retry command) as one comment on the pull request, updated
    /// in place by later runs of the same job(s). Needs GITHUB_TOKEN (and `permissions:
    /// pull-requests: write`); without a token or a pull request it warns and comments
    /// nothing. A failed comment never changes the exit code.
    #[arg(long)]
    pub pr_comment: bool,

    /// Trigger as dbt Cloud's CI job for pull request N (the pushed commit, the provider's
    /// pull-request field; older runs of the pull request are cancelled). Alone, reads N from
    /// the CI system (as `dbt-run --pull-request`).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "")]
    pub pull_request: Option<String>,
}

/// Where to reach dbt Cloud; each flag overrides its environment variable and `datachonk.yaml`.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerArgs {
    /// dbt Cloud access URL, e.g. https://cloud.getdbt.com, https://emea.dbt.com,
    /// https://PREFIX.us1.dbt.com or a sandbox's http://127.0.0.1:PORT [env: DBT_CLOUD_ACCESS_URL]
    #[arg(long, value_name = "URL")]
    pub access_url: Option<String>,

    /// dbt Cloud account id [env: DBT_CLOUD_ACCOUNT_ID]
    #[arg(long, value_name = "ID")]
    pub account_id: Option<i64>,
}

/// The server and the named target a cloud-facing command works with.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectionArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Named target of deploy.dbt_cloud.targets (its job, environment and defaults)
    /// [env: DATACHONK_TARGET; config: deploy.dbt_cloud.default_target]
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
}

impl ServerArgs {
    /// Flag values of the server flags (access URL, account).
    pub fn flags(&self) -> FlagValues {
        FlagValues {
            access_url: self.access_url.clone(),
            account_id: self.account_id,
            ..FlagValues::default()
        }
    }
}

impl ConnectionArgs {
    /// Flag values of the connection flags every cloud-facing command takes.
    pub fn flags(&self) -> FlagValues {
        FlagValues {
            target: self.target.clone(),
            ..self.server.flags()
        }
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct DbtRunArgs {
    #[command(flatten)]
    pub server: ServerArgs,

    /// Named target of deploy.dbt_cloud.targets (its job, environment and defaults).
    /// Repeat to trigger several targets' jobs and wait for all of them (one verdict)
    /// [env: DATACHONK_TARGET; config: deploy.dbt_cloud.default_target]
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,

    /// The job to trigger; repeat for several jobs (one verdict)
    /// [env: DBT_CLOUD_JOB_ID; config: deploy.dbt_cloud.job_id]
    #[arg(long, value_name = "ID")]
    pub job_id: Vec<i64>,

    /// The job to trigger, by name: exact (case-sensitive) within the configured project,
    /// else case-insensitive; none or several matches is exit 2 listing the candidates.
    /// Repeatable, also with --job-id.
    #[arg(long, value_name = "NAME")]
    pub job: Vec<String>,

    /// With several jobs: trigger each one only after the previous one succeeded (each is
    /// followed as a single `dbt-run --wait`); stops at the first that does not succeed and
    /// reports the rest as not triggered. Implies --wait.
    #[arg(long, conflicts_with = "no_wait")]
    pub sequential: bool,

    /// Go ahead without asking when the target is marked `confirm: true` (it changes
    /// production). Needed without a terminal.
    #[arg(long)]
    pub yes: bool,

    /// Trigger only after a run of this upstream job succeeds: its run in progress, else
    /// (within --timeout) its next one. Upstream Error is exit 1, Cancelled 3, and nothing is
    /// triggered. The cause names the upstream run unless --cause is given. JOB: an id, or
    /// a name (exact within the configured project, then ignoring case).
    #[arg(long, value_name = "JOB")]
    pub after_job: Option<String>,

    /// Like --after-job, with the job of a named target of deploy.dbt_cloud.targets.
    #[arg(long, value_name = "NAME", conflicts_with = "after_job")]
    pub after_target: Option<String>,

    /// Why the run was triggered (at most 255 characters). Default: "Triggered by datachonk
    /// for BRANCH @ SHA" (the first 12 characters of --git-sha; BRANCH from --git-branch, else
    /// the local branch at that sha), each part only when known.
    #[arg(long, value_name = "TEXT")]
    pub cause: Option<String>,

    /// Wait for the run to finish and exit with its verdict (0 success, 1 error, 3 cancelled).
    /// Default: `deploy.dbt_cloud.wait` from datachonk.yaml.
    #[arg(long, conflicts_with = "no_wait")]
    pub wait: bool,

    /// Do not wait, even when `deploy.dbt_cloud.wait` is true.
    #[arg(long)]
    pub no_wait: bool,

    /// Deadline from the trigger on, requests included (e.g. 90s, 30m, 2h); exit code 4.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Commit to run (must be in the job's repository).
    #[arg(long, value_name = "SHA")]
    pub git_sha: Option<String>,

    /// Branch to run.
    #[arg(long, value_name = "BRANCH")]
    pub git_branch: Option<String>,

    /// Run as dbt Cloud's CI job does for pull request N (into the pull request's schema,
    /// cancelling its older runs): sends the provider's pull-request field with the commit.
    /// Alone, reads N and the commit from the CI system (GitHub Actions' pull_request event,
    /// GitLab's merge request pipelines, Azure Pipelines). Provider: the CI system's, else the
    /// origin remote's host.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "")]
    pub pull_request: Option<String>,

    /// Run into this schema instead of the environment's.
    #[arg(long, value_name = "SCHEMA")]
    pub schema_override: Option<String>,

    /// Replace the job's steps (repeat for several), e.g. "dbt build --select state:modified+".
    #[arg(long = "steps-override", value_name = "STEP")]
    pub steps_override: Vec<String>,

    /// Override `target.name`.
    #[arg(long, value_name = "NAME")]
    pub target_name_override: Option<String>,

    /// Override the number of threads.
    #[arg(long, value_name = "N")]
    pub threads_override: Option<i64>,

    /// Override the job's own timeout, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout_seconds_override: Option<i64>,

    /// Override the dbt version.
    #[arg(long, value_name = "VERSION")]
    pub dbt_version_override: Option<String>,

    /// Override whether docs are generated.
    #[arg(long, value_name = "BOOL")]
    pub generate_docs_override: Option<bool>,

    /// Cancel the run when --timeout expires (otherwise it is left running).
    #[arg(long)]
    pub cancel_on_timeout: bool,

    /// Cancel the run on Ctrl-C or SIGTERM (otherwise it is left running). The default in a CI
    /// job (GITHUB_ACTIONS, GITLAB_CI), where SIGTERM means the pipeline was cancelled.
    #[arg(long)]
    pub cancel_on_interrupt: bool,

    /// Leave the run going on Ctrl-C or SIGTERM, also in a CI job.
    #[arg(long, conflicts_with = "cancel_on_interrupt")]
    pub no_cancel_on_interrupt: bool,

    /// Write the verdict as JUnit XML to FILE (one test suite per dbt step, one test case
    /// per node: what CI test-report tabs read)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,

    /// Under GitHub Actions, on a pull request: post the verdict (run link, node counts,
    /// failing nodes, the retry command) as one comment on the pull request, updated in place
    /// by later runs of the same job(s). Needs GITHUB_TOKEN (and `permissions: pull-requests:
    /// write`); without a token or a pull request it warns and comments nothing. A failed
    /// comment never changes the exit code.
    #[arg(long)]
    pub pr_comment: bool,

    /// When the run ends in Error, retry it from the point of failure up to N times
    /// (dbt Cloud's retry, else a new run of the failed nodes and their downstream); never
    /// after a cancellation or the timeout [default: deploy.dbt_cloud.retries, else 0]
    #[arg(long, value_name = "N")]
    pub retries: Option<i64>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Upstream job (id, or name within the configured project) whose successful runs
    /// trigger the downstream job; repeatable (one list request per interval serves them all).
    #[arg(long = "on-success-of", value_name = "JOB", required = true)]
    pub on_success_of: Vec<String>,
    /// Downstream job to trigger (id, or name within the configured project).
    #[arg(
        long,
        value_name = "JOB",
        required_unless_present = "trigger_target",
        conflicts_with = "trigger_target"
    )]
    pub trigger: Option<String>,
    /// Named target of deploy.dbt_cloud.targets to trigger (its job and trigger overrides).
    #[arg(long, value_name = "NAME")]
    pub trigger_target: Option<String>,
    /// How often to look for new upstream runs.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub interval: String,
    /// Upstream runs that finished longer ago than this are not triggered for after a restart.
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    pub look_back: String,
    /// Handle what is pending, then exit.
    #[arg(long)]
    pub once: bool,
    /// Trigger without asking when the downstream job is one a target marks `confirm: true`
    /// (asked once, at start; without a terminal this flag is required).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Check the token and show the account and its projects.
    #[command(after_help = EX_CLOUD_STATUS)]
    Status(CloudStatusArgs),
    /// List the account's jobs.
    #[command(after_help = EX_CLOUD_JOBS)]
    Jobs(CloudJobsArgs),
    /// List, show, cancel or retry runs.
    #[command(subcommand, after_help = EX_CLOUD_RUNS)]
    Runs(RunsCommand),
    /// List or download run artifacts.
    #[command(subcommand, after_help = EX_CLOUD_ARTIFACTS)]
    Artifacts(ArtifactsCommand),
    /// Upstream and downstream of a model, source, seed or test, from a run's manifest.
    ///
    /// Reads the manifest of RUN, or of the latest successful run of the job (--job-id, else
    /// deploy.dbt_cloud.job_id), and shows each node with its status in that run. As a
    /// picture: --format markdown (a Mermaid flowchart in a ```mermaid fence, which GitHub
    /// and GitLab render in a Markdown file), mermaid (the bare flowchart, for other tools)
    /// or dot (Graphviz).
    #[command(after_help = EX_CLOUD_LINEAGE)]
    Lineage(LineageArgs),
    /// Source freshness from the latest run that checked it (sources.json).
    ///
    /// Per source table: when it was last loaded, its age, the warn/error criteria and the
    /// verdict. Exit 0 when every table passes or warns, 1 when any is stale past its error
    /// criteria (or could not be checked), 6 when no run has freshness results.
    #[command(after_help = EX_CLOUD_FRESHNESS)]
    Freshness(FreshnessArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LineageFormat {
    /// Indented lists, upstream then downstream.
    Text,
    /// A Mermaid flowchart, bare (for mermaid-cli, or to paste into a fence yourself).
    Mermaid,
    /// The Mermaid flowchart in a ```mermaid fence: a Markdown file GitHub and GitLab render.
    Markdown,
    /// A Graphviz digraph.
    Dot,
}

#[derive(Debug, Args)]
pub struct LineageArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The node: a name (stg_orders), SOURCE.TABLE for a source, TYPE:NAME (test:not_null_x)
    /// or a unique id (model.shop.stg_orders).
    pub node: String,
    /// Read this run's manifest (default: the job's latest successful run).
    #[arg(long, value_name = "RUN")]
    pub run: Option<i64>,
    /// Job whose latest successful run is read [env: DBT_CLOUD_JOB_ID]
    #[arg(long, value_name = "ID", conflicts_with = "run")]
    pub job_id: Option<i64>,
    /// The job by name (exact within the configured project, then ignoring case) or id
    /// (all digits), instead of --job-id.
    #[arg(long, value_name = "NAME|ID", conflicts_with_all = ["run", "job_id"])]
    pub job: Option<String>,
    /// How many steps upstream and downstream (default: all).
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: LineageFormat,
}

#[derive(Debug, Args)]
pub struct FreshnessArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Read this run's sources.json.
    #[arg(long, value_name = "RUN")]
    pub run: Option<i64>,
    /// Job whose latest run with freshness results is read [env: DBT_CLOUD_JOB_ID]
    /// (default: the configured job, else any job of the account).
    #[arg(long, value_name = "ID", conflicts_with = "run")]
    pub job_id: Option<i64>,
    /// The job by name (exact within the configured project, then ignoring case) or id
    /// (all digits), instead of --job-id.
    #[arg(long, value_name = "NAME|ID", conflicts_with_all = ["run", "job_id"])]
    pub job: Option<String>,
}

#[derive(Debug, Args)]
pub struct CloudStatusArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct CloudJobsArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Only jobs of this project [env: DBT_CLOUD_PROJECT_ID]
    #[arg(long, value_name = "ID")]
    pub project_id: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    #[command(after_help = EX_RUNS_LIST)]
    List(RunsListArgs),
    /// Show a run with its steps.
    #[command(after_help = EX_RUNS_SHOW)]
    Show(RunShowArgs),
    /// Cancel a run.
    #[command(after_help = EX_RUNS_CANCEL)]
    Cancel(RunIdArgs),
    /// Retry a failed run from the point of failure.
    ///
    /// dbt Cloud's own retry when the run allows it, else a new run of the same job and
    /// commit selecting only the failed nodes and their downstream. With --wait, waits and
    /// exits exactly as `dbt-run --wait` (0 success, 1 error, 3 cancelled, 4 timeout).
    #[command(after_help = EX_RUNS_RETRY)]
    Retry(RunRetryArgs),
    /// Wait for runs started elsewhere (a schedule, another tool, the web UI).
    ///
    /// The waiter of `dbt-run --wait`: status changes and steps, the node summary, the
    /// failing nodes. Several runs: waits for all, and exits with the worst verdict
    /// (error 1 > cancelled 3 > timeout 4 > success 0).
    #[command(after_help = EX_RUNS_WAIT)]
    Wait(RunsWaitArgs),
}

#[derive(Debug, Args)]
pub struct RunRetryArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The failed run.
    pub run_id: i64,
    /// Wait for the retry's verdict and exit with it, as `dbt-run --wait`.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (e.g. 90s, 30m, 2h); exit code 4.
    #[arg(long, value_name = "DURATION", requires = "wait")]
    pub timeout: Option<String>,
    /// Retry without asking when the run's job is one a target marks `confirm: true`.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RunsWaitArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Run ids.
    #[arg(required = true, value_name = "RUN")]
    pub run_ids: Vec<i64>,
    /// Give up after this long for all of them (e.g. 90s, 30m, 2h); exit code 4.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Write the verdicts as JUnit XML to FILE (one test suite per dbt step of each run, one
    /// test case per node: what CI test-report tabs read)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,

    /// Under GitHub Actions, on a pull request: post the verdict (run link, node counts,
    /// failing nodes, the retry command) as one comment on the pull request, updated in place
    /// by later runs of the same job(s). Needs GITHUB_TOKEN (and `permissions: pull-requests:
    /// write`); without a token or a pull request it warns and comments nothing. A failed
    /// comment never changes the exit code.
    #[arg(long)]
    pub pr_comment: bool,
}

#[derive(Debug, Args)]
pub struct RunsListArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Only runs of this job.
    #[arg(long, value_name = "ID")]
    pub job_id: Option<i64>,
    /// Only runs of this job, by name (exact within the configured project, then ignoring
    /// case) or id (all digits).
    #[arg(long, value_name = "NAME|ID", conflicts_with = "job_id")]
    pub job: Option<String>,
    /// Only runs in this status (queued, starting, running, success, error, cancelled); repeatable.
    #[arg(long, value_name = "STATUS")]
    pub status: Vec<String>,
    /// How many runs to show (at most 100 per page are fetched).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct RunShowArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Run id.
    pub run_id: i64,
    /// Print each step's logs.
    #[arg(long)]
    pub logs: bool,
    /// List each dbt step's nodes (from run_results.json and manifest.json): type, name,
    /// status, time, rows, and the message of anything not ok. Always included with --json.
    #[arg(long)]
    pub nodes: bool,
    /// Write the finished run's verdict as JUnit XML to FILE, as the commands that wait write
    /// it (one test suite per dbt step, one test case per node). A run not finished yet is
    /// refused (exit 2) and no file is written.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunIdArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Run id.
    pub run_id: i64,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// List the artifacts a run saved, per step.
    #[command(after_help = EX_ARTIFACTS_LIST)]
    List(ArtifactListArgs),
    /// Download one artifact of a run, e.g. run_results.json or manifest.json.
    ///
    /// The raw file goes to stdout, or to FILE with -o (written atomically; with --json a
    /// JSON summary of what was written is printed). Without --step, the step that wrote
    /// the artifact is found (e.g. sources.json comes from the `dbt source freshness` step).
    #[command(after_help = EX_ARTIFACTS_GET)]
    Get(ArtifactGetArgs),
}

#[derive(Debug, Args)]
pub struct ArtifactListArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Run id.
    pub run_id: i64,
    /// Only this step (1-based).
    #[arg(long, value_name = "N")]
    pub step: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ArtifactGetArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Run id.
    pub run_id: i64,
    /// Artifact path, e.g. run_results.json.
    pub path: String,
    /// Step index (1-based); default: the step that wrote it (the last one that did).
    #[arg(long, value_name = "N")]
    pub step: Option<i64>,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every key of every section and where its value came from (token never shown).
    ///
    /// Sections generate, git and deploy.dbt_cloud, grouped and aligned: each key's effective
    /// value, defaults included, and its source: a flag, env VAR, datachonk.yaml:LINE:COLUMN,
    /// the dbt project, or default. The file is validated first: a value `generate` or `push`
    /// would refuse is refused here too (exit 2). With named targets, each target's
    /// deploy.dbt_cloud is shown (--target NAME: that one).
    #[command(after_help = EX_CONFIG_SHOW)]
    Show(ConfigTargetArgs),
    /// Validate datachonk.yaml and the DBT_CLOUD_* / DATACHONK_* environment without printing
    /// the configuration: exit 0 when valid, 2 with file, line and column when not.
    ///
    /// With --online, also checks against dbt Cloud what `init` checks: the token, that the
    /// account, project and environment exist, and that each target's job exists in that
    /// project (exit 6 when dbt Cloud cannot be asked).
    ///
    /// Every problem is listed in one run, in file order: each unknown key (with a
    /// suggestion), wrongly typed value and invalid value, as file:line:column and what was
    /// expected. A YAML syntax error is the only one listed: nothing after it can be read.
    /// With --json, a list of problems (file, line, column, key, message, hint).
    #[command(after_help = EX_CONFIG_CHECK)]
    Check(ConfigCheckArgs),
}

#[derive(Debug, Args, Default)]
pub struct ConfigCheckArgs {
    #[command(flatten)]
    pub target: ConfigTargetArgs,
    /// Also check the token, account, project, environment and jobs against dbt Cloud.
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, Args, Default)]
pub struct ConfigTargetArgs {
    /// Only this named target [env: DATACHONK_TARGET]
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub addr: String,

    /// Fixture file (YAML) with accounts, projects, environments, jobs (and how their runs
    /// behave), tokens, faults and a rate limit; every key is shown in sandbox.example.yaml.
    /// Default: account 1, project 1, environment 1 and job 1 ("CI validate").
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,

    /// Token accepted with full access by the built-in fixture (and by a fixture file that
    /// defines no tokens). Requests may send it as `Bearer TOKEN` or `Token TOKEN`.
    #[arg(
        long,
        default_value = "sandbox-token",
        value_name = "TOKEN",
        hide_default_value = false
    )]
    pub token: String,

    /// Inject a fault (repeatable). SPEC is KIND[:OPTION]...
    ///
    /// KIND: 500, 502, 503, 504 (that status with a JSON error body), 404 (dbt Cloud's
    /// not-found body: a new run not visible yet), 429 (with Retry-After), latency (slow
    /// answer), drop (close the connection without answering).
    ///
    /// OPTIONS: every=N (every Nth matching request, deterministic), p=0.2 (probability),
    /// times=N (at most N injections), burst=N (once fired, also the next N-1), method=POST,
    /// path=SUBSTRING (e.g. path=/run/), after (run the handler first, then answer with the
    /// fault: the run IS created but the client sees a 502 or a dropped connection),
    /// retry-after=SECONDS (429, default 1), ms=MILLISECONDS (latency, default 500), seed=N.
    /// Without every/p, every matching request is hit. Only /api/ paths are affected.
    ///
    /// Examples: "503:every=3", "429:p=0.2:retry-after=1", "latency:ms=200:path=/runs/",
    /// "drop:every=5", "502:method=POST:path=/run/:after:times=1".
    #[arg(long = "fault", value_name = "SPEC")]
    pub faults: Vec<String>,

    /// Serve HTTPS with a certificate generated at start (a throwaway CA and a certificate
    /// for localhost, 127.0.0.1 and ::1), for clients that hard-code https:// such as
    /// dbt-cloud-cli. The CA is written as PEM to --tls-cert-out and its path printed on
    /// stderr; point clients at it with REQUESTS_CA_BUNDLE (Python requests), SSL_CERT_FILE
    /// (OpenSSL, Go) or NODE_EXTRA_CA_CERTS (Node). The first stdout line becomes
    /// https://127.0.0.1:PORT.
    #[arg(long)]
    pub tls: bool,

    /// Where --tls writes the certificate clients should trust. Default:
    /// datachonk-sandbox-PORT.pem in the system temp dir, removed when the sandbox stops.
    #[arg(long, value_name = "FILE")]
    pub tls_cert_out: Option<PathBuf>,

    /// Serve this PEM certificate chain (leaf first) instead of generating one; implies
    /// --tls. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// What runs do. `simulate`: fixture timings and outcomes; a job with `repository:`
    /// clones the requested sha and its artifacts name the models found there. `dbt`: clone
    /// the sha and run the job's steps with real dbt-core (dbt-duckdb), one DuckDB file per
    /// environment; logs, statuses and artifacts are dbt's own.
    #[arg(long, value_enum, default_value = "simulate", value_name = "EXECUTOR")]
    pub executor: SandboxExecutor,

    /// The dbt executable for `--executor dbt` (e.g. a virtualenv's bin/dbt). Default: `dbt`
    /// on PATH.
    #[arg(long, value_name = "PATH", default_value = "dbt")]
    pub dbt: PathBuf,

    /// Keep live runs' checkouts, artifacts and DuckDB warehouses here (so the warehouse
    /// survives a restart). Default: a temporary directory removed when the sandbox stops.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
}

/// `datachonk sandbox --executor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxExecutor {
    Simulate,
    Dbt,
}

/// `datachonk sandbox --help`: how to point other tools at the sandbox, then the examples.
const SANDBOX_LONG_HELP: &str = concat!(
    "\
Pointing other tools at the sandbox:
  datachonk's own commands take the base URL as the access URL:
    DBT_CLOUD_ACCESS_URL=http://127.0.0.1:PORT DBT_CLOUD_ACCOUNT_ID=1 datachonk dbt-run --wait

  Clients that hard-code https:// need --tls and the printed certificate. dbt-cloud-cli
  (pip install dbt-cloud-cli), unmodified:
    datachonk sandbox --tls --addr 127.0.0.1:8443 --tls-cert-out /tmp/sandbox.pem &
    export DBT_CLOUD_HOST=127.0.0.1:8443 DBT_CLOUD_API_TOKEN=sandbox-token
    export DBT_CLOUD_ACCOUNT_ID=1 DBT_CLOUD_JOB_ID=1 REQUESTS_CA_BUNDLE=/tmp/sandbox.pem
    dbt-cloud job run --wait
    dbt-cloud run list-artifacts --run-id 1

  dbtc (pip install dbtc): the same DBT_CLOUD_HOST and REQUESTS_CA_BUNDLE, the token in
  DBT_CLOUD_SERVICE_TOKEN (its CLI sends that one even when DBT_CLOUD_API_KEY is set), e.g.
    dbtc jobs trigger --account-id 1 --job-id 1 --payload '{\"cause\": \"try\"}'

  Every request is logged on stderr (without tokens); tests can read the log as JSON from
  GET /_sandbox/requests.",
    "\n\n",
    sandbox_examples!()
);

#[derive(Debug, Args, Clone)]
pub struct QuickstartArgs {
    /// Keep the workspace (sample project, bare remote, sandbox files) in DIR to explore it.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// `datachonk init`: each flag answers one question of the wizard (which is then not asked).
#[derive(Debug, Args, Clone, Default)]
pub struct InitArgs {
    /// dbt Cloud access URL, e.g. https://cloud.getdbt.com, https://PREFIX.us1.dbt.com,
    /// https://emea.dbt.com, https://au.dbt.com or a sandbox's http://127.0.0.1:PORT.
    /// Default without prompts: the existing file's, else https://cloud.getdbt.com.
    #[arg(long, value_name = "URL", value_parser = parse_access_url)]
    pub access_url: Option<String>,

    /// dbt Cloud account id.
    #[arg(long, value_name = "ID")]
    pub account_id: Option<i64>,

    /// dbt Cloud project id.
    #[arg(long, value_name = "ID")]
    pub project_id: Option<i64>,

    /// dbt Cloud environment id (the job's environment).
    #[arg(long, value_name = "ID")]
    pub environment_id: Option<i64>,

    /// Write the job (--job-id) as this named target of deploy.dbt_cloud.targets, e.g. the
    /// production job beside the validation job: a file with one flat job_id gets
    /// `default_target: dev`, `targets: {dev: <that job>, NAME: {job_id, confirm: true}}`
    /// (plus the job's environment_id when it is not the block's); an existing NAME has its
    /// job replaced. Without prompts only (--no-input).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,

    /// The job that validates a pushed commit.
    #[arg(long, value_name = "ID")]
    pub job_id: Option<i64>,

    /// Trigger the job after every `datachonk push` (auto_trigger); `--auto-trigger=false` to
    /// turn it off. Default without prompts: the existing file's, else false.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub auto_trigger: Option<bool>,

    /// Wait for the run's verdict after triggering (wait); `--wait=false` to turn it off.
    /// Default without prompts: the existing file's, else true.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub wait: Option<bool>,

    /// Branches `datachonk push` refuses to commit on or push to (git.protected_branches),
    /// comma-separated, `*` globs; `none` for none. Default without prompts: the existing
    /// file's, else main,master.
    #[arg(long, value_name = "BRANCHES")]
    pub protected_branches: Option<String>,

    /// Install this git hook, as `datachonk hook install --kind KIND` does (a hook that is not
    /// datachonk's is left alone, with a warning). Without prompts and without this flag: none.
    #[arg(long, value_name = "KIND", value_enum)]
    pub install_hook: Option<InstallHook>,
}

/// `datachonk man`: which page to print, or where to write them all.
#[derive(Debug, Args, Clone)]
pub struct ManArgs {
    /// The command whose page to print, e.g. `cloud runs list` (default: datachonk's own).
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,

    /// Write every command's page into DIR (created if needed) instead of printing one.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

/// `--install-hook`'s values: the flag's spelling of `init::choices::HookChoice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstallHook {
    /// Validate the branch being merged with the dbt Cloud job before the merge commit.
    PreMergeCommit,
    /// Check configuration and generated files (no network) before a push.
    PrePush,
    /// No hook.
    None,
}

impl From<InstallHook> for HookChoice {
    fn from(h: InstallHook) -> Self {
        match h {
            InstallHook::PreMergeCommit => HookChoice::PreMergeCommit,
            InstallHook::PrePush => HookChoice::PrePush,
            InstallHook::None => HookChoice::None,
        }
    }
}

fn parse_access_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    crate::init::choices::check_url(s)?;
    Ok(s.to_string())
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Install datachonk's hook script where git looks for hooks.
    ///
    /// Where: core.hooksPath (relative to the worktree root), else .git/hooks (shared by all
    /// worktrees). The script calls the datachonk binary that installed it (absolute path), falling back
    /// to `datachonk` on PATH. A hook that datachonk did not write is never lost: install
    /// refuses (exit 2) unless --chain (it is renamed KIND.datachonk-chained and runs first;
    /// its failure stops the hook) or --force (replaced; a copy is kept as
    /// KIND.datachonk-backup). Re-installing is harmless.
    #[command(after_help = EX_HOOK_INSTALL)]
    Install(HookInstallArgs),

    /// Remove datachonk's hook (all kinds, or --kind).
    ///
    /// A chained hook is put back in its place. Hooks datachonk did not write are left alone.
    #[command(after_help = EX_HOOK_UNINSTALL)]
    Uninstall(HookKindArg),

    /// Say, for each kind, what is installed: ours, foreign or none.
    ///
    /// Also its path and whether a previous hook is chained. With --json, one document:
    ///   {"hooks_dir", "hooks": [{"kind", "path", "installed", "chained"}]}
    #[command(after_help = EX_HOOK_STATUS)]
    Status,

    /// Run a hook's check (what the installed script calls). Never prompts.
    ///
    /// pre-merge-commit: the commit being merged must be on the remote (else exit 5: push it
    /// first). When the configured job already has a successful run for that exact sha, it
    /// passes at once and names the run; otherwise it triggers the job for the sha and waits,
    /// with the output and exit codes of `dbt-run --wait` (timeout: deploy.dbt_cloud.timeout).
    /// Without a merge in progress there is nothing to validate (exit 0).
    ///
    /// pre-push (no network): datachonk.yaml must be valid and the generated files up to
    /// date, re-checked from the input `datachonk generate` last read (as `generate --check`)
    /// when it is a local file; after a database or dbt Cloud input, the files are compared
    /// with the checksums in datachonk.state.json. Stale: exit 1, naming the files and the
    /// command that updates them. A recorded local input that is missing (e.g. a fresh clone
    /// without target/catalog.json) also exits 1: the files could not be checked.
    ///
    /// DATACHONK_SKIP_HOOK=1 skips either with a one-line notice (exit 0).
    ///
    /// Exit codes: 0 ok, 1 run Error / stale files, 2 configuration, 3 run Cancelled,
    /// 4 timeout, 5 git (not pushed), 6 API failure, 130 interrupted.
    #[command(after_help = EX_HOOK_RUN)]
    Run(HookRunArgs),
}

#[derive(Debug, Args, Clone)]
pub struct HookInstallArgs {
    /// Which hook to install.
    #[arg(
        long,
        value_enum,
        default_value = "pre-merge-commit",
        value_name = "KIND"
    )]
    pub kind: crate::hook::HookKind,

    /// Keep an existing hook that datachonk did not write: run it first, then ours.
    #[arg(long, conflicts_with = "force")]
    pub chain: bool,

    /// Record this named target of deploy.dbt_cloud.targets in the hook: it validates with
    /// that target's job.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,

    /// Replace an existing hook that datachonk did not write (a copy is kept).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct HookKindArg {
    /// Only this kind (default: every kind datachonk installed).
    #[arg(long, value_enum, value_name = "KIND")]
    pub kind: Option<crate::hook::HookKind>,
}

#[derive(Debug, Args, Clone)]
pub struct HookRunArgs {
    /// Named target of deploy.dbt_cloud.targets (what `hook install --target` records)
    /// [env: DATACHONK_TARGET]
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,

    /// The hook to run.
    #[arg(value_enum, value_name = "KIND")]
    pub kind: crate::hook::HookKind,

    /// pre-merge-commit: when the run ends in Error, retry it from the point of failure up to N times
    /// (dbt Cloud's retry, else a new run of the failed nodes and their downstream); never
    /// after a cancellation or the timeout [default: deploy.dbt_cloud.retries, else 0]
    #[arg(long, value_name = "N")]
    pub retries: Option<i64>,

    /// pre-merge-commit: trigger without asking when the job is one a target marks
    /// `confirm: true` (without a terminal this flag is required)
    #[arg(long)]
    pub yes: bool,

    /// pre-merge-commit: write the validating run's verdict as JUnit XML to FILE (one test
    /// suite per dbt step, one test case per node)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,

    /// Arguments git passes to the hook (pre-push: remote name and URL); unused.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub git_args: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. Loopback by default: another address
    /// needs --tls-cert/--tls-key (or --insecure-remote).
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "HOST:PORT")]
    pub addr: String,

    /// Read the key from this environment variable instead of generating one at start (for
    /// scripts; at least 32 characters).
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,

    /// Allow this web origin (e.g. https://tools.example.com) to call the API from a browser
    /// (CORS); repeatable. None by default.
    #[arg(long = "allow-origin", value_name = "URL")]
    pub allow_origins: Vec<String>,

    /// Serve HTTPS with this PEM certificate chain (leaf first). Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Listen on a non-loopback address over plain HTTP: the key and the dbt Cloud token's
    /// power travel unencrypted. Prefer --tls-cert/--tls-key.
    #[arg(long)]
    pub insecure_remote: bool,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}

// Examples shown after the options of each command's help (and in its man page).
const EX_ROOT: &str = examples!(
    "datachonk quickstart                   # the whole loop, no account needed",
    "datachonk init",
    "datachonk generate --from-catalog target/catalog.json",
    "datachonk push --trigger-dbt-run --wait",
);

/// `dbt-run --help`: the shape of its --json document, then the examples.
const DBT_RUN_LONG_HELP: &str = concat!(
    "\x1b[1m\x1b[4mJSON output (--json):\x1b[0m
  {\"outcome\": \"success|error|cancelled|timeout|triggered|interrupted\",
   \"run\": {\"id\", \"status\", \"status_humanized\", \"href\", \"job_id\",
           \"git_sha\", \"git_branch\", \"duration_seconds\",
           \"steps\": [{\"index\", \"name\", \"status\"}]},
   \"failure\": {\"step_index\", \"step_name\",
               \"nodes\": [{\"unique_id\", \"status\", \"message\"}],
               \"log_tail\": [..]} | null,
   \"cancelled_by_datachonk\": bool,
   finished runs: \"summary\": \"12 models ok · …\", \"nodes\": {\"steps\": [..], …},
   on Error: \"skipped_downstream\": [..],
             \"retry_command\": \"datachonk cloud runs retry …\",
   after waiting: \"attempts\": [one document per attempt, each failed one
                  with \"retry\": {\"plan\", \"run_id\", \"adopted\"}]}

  A failure before any run is known (usage, API, an unconfirmed trigger at
  the deadline):
  {\"outcome\": \"usage_error|api_error|timeout|interrupted\", \"exit\": N,
   \"error\": {\"exit\": N, \"message\": \"…\", \"hints\": [..]}}

  Several jobs:
  {\"outcome\": \"…\", \"runs\": [the document above plus \"label\", \"target\";
                            {\"outcome\": \"not_triggered\", \"label\",
                             \"target\", \"job_id\"}]}

",
    dbt_run_examples!()
);
const EX_INIT: &str = examples!(
    "datachonk init",
    "datachonk init --access-url https://emea.dbt.com",
    "DBT_CLOUD_API_TOKEN=... datachonk init --no-input \\",
    "    --access-url https://emea.dbt.com --account-id 1 --project-id 2 \\",
    "    --environment-id 3 --job-id 4 --auto-trigger \\",
    "    --protected-branches 'main,release/*' --install-hook pre-merge-commit",
);
const EX_GENERATE: &str = examples!(
    "dbt docs generate && datachonk generate --from-catalog target/catalog.json",
    "datachonk generate                     # only the spec in datachonk/*.yml",
    "datachonk generate shop.orders 'crm.*' \\",
    "    --from-catalog target/catalog.json --dry-run",
    "datachonk generate --from-sources models/staging/shop/_shop__sources.yml \\",
    "    --diff",
    "# CI: exit 1 when a generated file is stale",
    "datachonk generate --from-catalog target/catalog.json --check",
);
const EX_NEW: &str = examples!(
    "datachonk new entity customers --from stg_shop__customers \\",
    "    --key customer_id --history scd2 --updated-at updated_at",
    "datachonk new fact orders --from stg_shop__orders --grain order_id \\",
    "    --measures amount --incremental ordered_at",
    "datachonk new metric revenue --fact orders --measure amount --agg sum \\",
    "    --time ordered_at",
);
const EX_RELATIONSHIPS: &str = examples!(
    "datachonk relationships                      # target/catalog.json",
    "datachonk relationships --json \\",
    "    --from-postgres 'postgres://me@127.0.0.1:5432/shop?schema=raw'",
);
const EX_PUSH: &str = examples!(
    "datachonk push --dry-run",
    "datachonk push",
    "datachonk push --trigger-dbt-run --wait",
    "datachonk push --target dev --target prod --trigger-dbt-run --wait --yes",
    "datachonk push --remote origin --branch dbt/staging-models \\",
    "    --message \"Add shop models\"",
);
const EX_DBT_RUN: &str = dbt_run_examples!();
const EX_HOOK: &str = examples!(
    "datachonk hook install                       # pre-merge-commit",
    "datachonk hook install --kind pre-push --chain",
    "datachonk hook status --json",
    "DATACHONK_SKIP_HOOK=1 git merge --no-ff feature/x     # skip once",
);
const EX_CLOUD: &str = examples!(
    "datachonk cloud status",
    "datachonk cloud runs list --limit 5",
    "datachonk cloud runs show 42 --nodes",
);
const EX_WATCH: &str = examples!(
    "datachonk watch --on-success-of 101 --trigger 202",
    "datachonk watch --on-success-of 101 --on-success-of 102 \\",
    "    --trigger-target prod --once",
);
const EX_CONFIG: &str = examples!("datachonk config show", "datachonk config check --online",);
const EX_SANDBOX: &str = sandbox_examples!();
const EX_SERVE: &str = examples!(
    "datachonk serve",
    "DATACHONK_SERVE_KEY=$(openssl rand -hex 32) \\",
    "    datachonk serve --key-env DATACHONK_SERVE_KEY",
    "datachonk serve --addr 0.0.0.0:8765 --tls-cert cert.pem --tls-key key.pem",
);
const EX_COMPLETIONS: &str = examples!(
    "mkdir -p ~/.local/share/bash-completion/completions",
    "datachonk completions bash \\",
    "    > ~/.local/share/bash-completion/completions/datachonk",
    "datachonk completions zsh > \"${fpath[1]}/_datachonk\"",
    "datachonk completions fish > ~/.config/fish/completions/datachonk.fish",
);
const EX_MAN: &str = examples!(
    "datachonk man | man -l -",
    "datachonk man cloud runs list | man -l -",
    "datachonk man --out-dir ~/.local/share/man/man1",
);
const EX_QUICKSTART: &str = examples!(
    "datachonk quickstart",
    "datachonk quickstart --keep /tmp/datachonk-tour",
);
const EX_CLOUD_STATUS: &str = examples!(
    "datachonk cloud status",
    "datachonk cloud status --access-url https://emea.dbt.com --account-id 1",
);
const EX_CLOUD_JOBS: &str = examples!(
    "datachonk cloud jobs",
    "datachonk cloud jobs --project-id 2 --json",
);
const EX_CLOUD_RUNS: &str = examples!(
    "datachonk cloud runs list --status error",
    "datachonk cloud runs retry 42 --wait",
);
const EX_CLOUD_ARTIFACTS: &str = examples!(
    "datachonk cloud artifacts list 42",
    "datachonk cloud artifacts get 42 manifest.json -o manifest.json",
);
const EX_CLOUD_LINEAGE: &str = examples!(
    "datachonk cloud lineage stg_shop__orders --depth 2",
    "datachonk cloud lineage shop.orders --format markdown > lineage.md",
    "datachonk cloud lineage fct_orders --run 7 --format dot \\",
    "    | dot -Tsvg > lineage.svg",
);
const EX_CLOUD_FRESHNESS: &str = examples!(
    "datachonk cloud freshness",
    "datachonk cloud freshness --run 42 --json",
);
const EX_RUNS_LIST: &str = examples!(
    "datachonk cloud runs list",
    "datachonk cloud runs list --job \"CI validate\" --status error --limit 20",
);
const EX_RUNS_SHOW: &str = examples!(
    "datachonk cloud runs show 42",
    "datachonk cloud runs show 42 --nodes",
    "datachonk cloud runs show 42 --logs",
);
const EX_RUNS_CANCEL: &str = examples!("datachonk cloud runs cancel 42",);
const EX_RUNS_RETRY: &str = examples!(
    "datachonk cloud runs retry 42",
    "datachonk cloud runs retry 42 --wait --timeout 30m",
);
const EX_RUNS_WAIT: &str = examples!(
    "datachonk cloud runs wait 42",
    "datachonk cloud runs wait 42 43 --timeout 30m",
);
const EX_ARTIFACTS_LIST: &str = examples!(
    "datachonk cloud artifacts list 42",
    "datachonk cloud artifacts list 42 --step 4 --json",
);
const EX_ARTIFACTS_GET: &str = examples!(
    "datachonk cloud artifacts get 42 run_results.json | jq .results",
    "datachonk cloud artifacts get 42 manifest.json -o target/manifest.json",
    "datachonk cloud artifacts get 42 sources.json --step 4",
);
const EX_CONFIG_SHOW: &str = examples!(
    "datachonk config show",
    "datachonk config show --target prod --json",
);
const EX_CONFIG_CHECK: &str = examples!(
    "datachonk config check                 # in CI, before anything else",
    "datachonk config check --online --target prod",
);
const EX_HOOK_INSTALL: &str = examples!(
    "datachonk hook install",
    "datachonk hook install --kind pre-push --chain",
    "datachonk hook install --target prod",
);
const EX_HOOK_UNINSTALL: &str = examples!(
    "datachonk hook uninstall",
    "datachonk hook uninstall --kind pre-push",
);
const EX_HOOK_STATUS: &str = examples!("datachonk hook status", "datachonk hook status --json",);
const EX_HOOK_RUN: &str = examples!(
    "datachonk hook run pre-push",
    "datachonk hook run pre-merge-commit",
);
