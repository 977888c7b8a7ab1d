//! `datachonk quickstart`: the README's first command. With no account and no network it
//! builds a throwaway world — a sample dbt project (DuckDB seeds), a bare git remote and the
//! embedded sandbox standing in for dbt Cloud — and runs the loop over it: generate the
//! staging models, push them, trigger the validation job for the pushed commit, wait, verdict.
//! The sandbox runs real dbt when `dbt` is on PATH, and simulates the run otherwise.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::cli::{Cli, GlobalArgs, QuickstartArgs};
use crate::error::{CliError, CmdResult, Exit};
use crate::quickstart::{self, BRANCH};
use crate::sandbox::{Executor, Fixture, Sandbox, SandboxOptions, DEFAULT_TOKEN};
use crate::ui::Ui;

/// Runs a command line in this process (the dispatcher, given by it: a command does not name
/// the dispatcher that names every command).
pub type Dispatch = fn(Cli) -> i32;

pub fn run(global: &GlobalArgs, args: &QuickstartArgs, ui: &Ui, dispatch: Dispatch) -> CmdResult {
    let (root, keep) = match &args.keep {
        Some(dir) => (dir.clone(), true),
        None => (scratch_dir(), false),
    };
    if root.exists()
        && std::fs::read_dir(&root)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(CliError::usage(format!(
            "{} is not empty; pick a new folder for --keep",
            root.display()
        )));
    }
    std::fs::create_dir_all(&root)
        .map_err(|e| CliError::usage(format!("cannot create {}: {e}", root.display())))?;
    let result = run_in(global, &root, ui, dispatch);
    if keep {
        ui.status(format!(
            "The workspace is kept in {} (project: shop/, remote: remote.git/)",
            root.display()
        ));
    } else {
        let _ = std::fs::remove_dir_all(&root);
        ui.status(format!(
            "The workspace in {} is removed, with the paths above; --keep DIR keeps it",
            root.display()
        ));
    }
    result
}

fn run_in(global: &GlobalArgs, root: &Path, ui: &Ui, dispatch: Dispatch) -> CmdResult {
    ui.status(ui.bold("1/4 create a sample dbt project and a bare git remote"));
    let ws = quickstart::create(root).map_err(|e| CliError::new(Exit::Git, e))?;
    ui.status(format!(
        "  {} (branch {BRANCH}), remote {}",
        ws.project.display(),
        ws.remote.display()
    ));

    let sandbox = start_sandbox(root, &ws, ui)?;

    let project = ws.project.display().to_string();
    let catalog = ws.root.join("catalog.json").display().to_string();
    ui.status(ui.bold("3/4 datachonk generate --from-catalog catalog.json"));
    let code = sub(
        global,
        dispatch,
        &["-C", &project, "generate", "--from-catalog", &catalog],
    );
    if code != 0 {
        return Err(CliError::new(
            exit_from(code),
            "quickstart: generate failed (see above)",
        ));
    }
    ui.status(ui.bold(
        "4/4 datachonk push --trigger-dbt-run --wait (commit, push, run the job for that commit)",
    ));
    let code = sub(
        global,
        dispatch,
        &["-C", &project, "push", "--trigger-dbt-run", "--wait"],
    );
    sandbox.shutdown();
    if code == 0 {
        ui.status("");
        ui.status("Next: the same loop on your project and your dbt Cloud account:");
        if find_on_path("datachonk").is_none() {
            ui.status(
                "  cargo install --locked --path .   # datachonk on PATH first (or a release archive: docs/src/install.md)",
            );
        }
        ui.status("  datachonk init            # writes datachonk.yaml (access URL, account, job)");
        ui.status("  datachonk generate --from-catalog target/catalog.json");
        ui.status("  datachonk push --trigger-dbt-run --wait");
        Ok(Exit::Success)
    } else {
        Ok(exit_from(code))
    }
}

/// Stage 2: the embedded sandbox standing in for dbt Cloud (real dbt when it is on PATH), and
/// the settings the loop reads from the environment, pointing at it.
fn start_sandbox(
    root: &Path,
    ws: &quickstart::Workspace,
    ui: &Ui,
) -> Result<crate::sandbox::RunningSandbox, CliError> {
    ui.status(ui.bold("2/4 start a local dbt Cloud (the embedded sandbox)"));
    let executor = match find_on_path("dbt") {
        Some(dbt) => {
            ui.status(format!("  runs execute real dbt ({})", dbt.display()));
            Executor::Dbt { dbt }
        }
        None => {
            ui.status(
                "  `dbt` is not on PATH: runs are simulated from the models at the pushed commit",
            );
            Executor::Simulate
        }
    };
    let mut fixture = Fixture::builtin(DEFAULT_TOKEN);
    // The sample project's warehouse is DuckDB: its runs' profile step says so.
    for environment in &mut fixture.environments {
        environment.connection = "DuckDB".into();
    }
    for job in fixture.jobs.iter_mut().filter(|j| j.id == 1) {
        // Load the raw data, then validate what changed (everything, on a first run).
        job.execute_steps.insert(0, "dbt seed".into());
    }
    let sandbox = Sandbox::start(
        SandboxOptions::default()
            .with_fixture(fixture)
            .with_repository(1, format!("file://{}", ws.remote.display()))
            .with_executor(executor)
            .with_workdir(root.join("sandbox")),
    )
    .map_err(|e| CliError::new(Exit::Api, format!("cannot start the sandbox: {e}")))?;
    let url = sandbox.base_url();
    ui.status(format!("  {url}: account 1, job 1 runs `dbt build --select state:modified+ --defer --state ./prod-manifest`"));
    // The loop below reads its settings like any user's shell would provide them.
    std::env::set_var("DBT_CLOUD_ACCESS_URL", &url);
    std::env::set_var("DBT_CLOUD_API_TOKEN", DEFAULT_TOKEN);
    std::env::set_var("DBT_CLOUD_ACCOUNT_ID", "1");
    std::env::set_var("DBT_CLOUD_JOB_ID", "1");
    for var in [
        "DBT_CLOUD_HOST",
        "DBT_CLOUD_PROJECT_ID",
        "DBT_CLOUD_ENVIRONMENT_ID",
    ] {
        std::env::remove_var(var);
    }
    Ok(sandbox)
}

/// Run a datachonk command line in this process, with the same output settings.
fn sub(global: &GlobalArgs, dispatch: Dispatch, args: &[&str]) -> i32 {
    let mut argv = vec!["datachonk".to_string()];
    if global.json {
        argv.push("--json".into());
    }
    if global.quiet {
        argv.push("--quiet".into());
    }
    if global.verbose {
        argv.push("--verbose".into());
    }
    argv.push(format!(
        "--color={}",
        match global.color {
            crate::cli::ColorChoice::Auto => "auto",
            crate::cli::ColorChoice::Always => "always",
            crate::cli::ColorChoice::Never => "never",
        }
    ));
    argv.extend(args.iter().map(|s| s.to_string()));
    match Cli::try_parse_from(&argv) {
        Ok(cli) => dispatch(cli),
        Err(e) => {
            let _ = e.print();
            Exit::Usage.code()
        }
    }
}

fn exit_from(code: i32) -> Exit {
    match code {
        0 => Exit::Success,
        1 => Exit::RunError,
        3 => Exit::Cancelled,
        4 => Exit::Timeout,
        5 => Exit::Git,
        6 => Exit::Api,
        130 => Exit::Interrupted,
        _ => Exit::Usage,
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    p.is_file()
}

fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!(
        "datachonk-quickstart-{}-{nanos}",
        std::process::id()
    ))
}
