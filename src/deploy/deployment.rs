//! A deployment's context: the client, where its events go, and the stop signals it honours.
//! The work is in `impl Deployment` blocks beside it (trigger, follow, many, upstream).

use std::future::Future;
use std::pin::Pin;

use crate::cloud::{Client, Run};

use super::event::{Event, Reporter};

/// Where stop requests come from (the CLI hands in its Ctrl-C/SIGTERM listener): while
/// triggering a stop ends the deployment saying a run may exist; while waiting the run is
/// left or cancelled.
pub trait Stop: Send {
    /// Resolves at the next stop request.
    fn requested(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

pub struct Deployment<'a> {
    pub client: &'a Client,
    pub reporter: &'a dyn Reporter,
    /// Listening from the start (registered before the trigger), so a stop during a
    /// request is never lost.
    pub interrupt: &'a mut dyn Stop,
}

impl<'a> Deployment<'a> {
    pub fn new(
        client: &'a Client,
        reporter: &'a dyn Reporter,
        interrupt: &'a mut dyn Stop,
    ) -> Self {
        Deployment {
            client,
            reporter,
            interrupt,
        }
    }

    pub(crate) fn emit(&self, event: Event<'_>) {
        self.reporter.report(&event);
    }

    pub fn url_of(&self, run: &Run) -> String {
        super::plan::url_of(self.client.base_url(), run)
    }
}
