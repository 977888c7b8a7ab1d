//! A deployment's context: the client, where its events go, and the stop signals it honours.
//! The work is in `impl Deployment` blocks beside it (trigger, follow, many, upstream).

use crate::cloud::{Client, Run};
use crate::signals::Interrupt;

use super::event::{Event, Reporter};

pub struct Deployment<'a> {
    pub client: &'a Client,
    pub reporter: &'a dyn Reporter,
    /// Listening from the start (registered before the trigger), so a signal during a
    /// request is never lost.
    pub interrupt: &'a mut Interrupt,
}

impl<'a> Deployment<'a> {
    pub fn new(
        client: &'a Client,
        reporter: &'a dyn Reporter,
        interrupt: &'a mut Interrupt,
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
