//! The CLI's way to run the deploy core: stop signals heard from the start, events printed by
//! the terminal reporter, the `--json` document of the verdict, and its exit status.

use crate::cloud::Client;
use std::future::Future;
use std::pin::Pin;

use crate::deploy::{Deployment, ManyOptions, RunPlan, Stop, Unit};
use crate::error::CmdResult;
use crate::signals::Interrupt;
use crate::ui::Ui;

use super::error::exit_of;
use super::reporters::documents::{report_many, verdict_json};
use super::reporters::junit;
use super::reporters::outputs::{self, VerdictOutputs};
use super::reporters::terminal::Terminal;

/// The deploy core hears the process's stop signals through this.
impl Stop for Interrupt {
    fn requested(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.recv())
    }
}

/// Trigger `plan`'s job, follow it when it waits, print the verdict (and publish it as
/// `outputs` ask: JUnit, a pull-request comment); the exit status follows DESIGN.md.
pub async fn one(
    client: &Client,
    plan: &RunPlan,
    ui: &Ui,
    outputs: &VerdictOutputs<'_>,
) -> CmdResult {
    // Listen for stop signals from the start (registered now, not when first polled): during
    // the trigger one ends the command saying a run may exist; while waiting it leaves or
    // cancels the run.
    let mut interrupt = Interrupt::listen()?;
    let terminal = Terminal::new(ui);
    let verdict = Deployment::new(client, &terminal, &mut interrupt)
        .run_one(plan)
        .await?;
    let runs = junit::of_verdict(&verdict);
    let pull_request = plan.request.github_pull_request_id;
    outputs::publish(ui, &runs, verdict.outcome().word(), outputs, pull_request).await?;
    if ui.is_json() {
        ui.json_object(verdict_json(&verdict));
    }
    Ok(exit_of(verdict.outcome()))
}

/// Trigger every unit's job, then (with `options.wait`) wait for all of them and print one
/// verdict; `--json`: one document holding every run.
pub async fn many(
    client: &Client,
    units: &[Unit],
    options: ManyOptions,
    ui: &Ui,
    outputs: &VerdictOutputs<'_>,
) -> CmdResult {
    let mut interrupt = Interrupt::listen()?;
    let terminal = Terminal::new(ui);
    let verdict = Deployment::new(client, &terminal, &mut interrupt)
        .run_many(units, options)
        .await?;
    let runs = junit::of_many(&verdict);
    let pull_request = units
        .iter()
        .find_map(|u| u.plan.request.github_pull_request_id);
    outputs::publish(ui, &runs, verdict.outcome().word(), outputs, pull_request).await?;
    Ok(report_many(ui, &verdict))
}

/// A current-thread runtime for `fut`, shut down without waiting for idle connections (a
/// keep-alive must never delay the exit).
pub fn block_on<T>(fut: impl std::future::Future<Output = CmdResultOf<T>>) -> CmdResultOf<T> {
    let rt = super::edge::runtime()?;
    let result = rt.block_on(fut);
    rt.shutdown_background();
    result
}

pub type CmdResultOf<T> = Result<T, crate::error::CliError>;
