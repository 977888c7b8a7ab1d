//! One retry per failed run: a second click, another tab or a script asking again gets the
//! retry already started, never a second one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where the retry of a failed run is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetrySlot {
    /// Being started (the answer is not in yet).
    Starting,
    /// Started: the run that retries it.
    Started(i64),
}

/// The failed runs whose retry this serve started or is starting.
#[derive(Debug, Default)]
pub struct RetrySlots {
    slots: Mutex<HashMap<i64, RetrySlot>>,
}

impl RetrySlots {
    /// Claim the retry of `failed`, or say where it already is.
    pub fn take(self: &Arc<Self>, failed: i64) -> Result<RetryClaim, RetrySlot> {
        let mut slots = self.slots.lock().expect("retry slots lock");
        if let Some(slot) = slots.get(&failed) {
            return Err(*slot);
        }
        slots.insert(failed, RetrySlot::Starting);
        Ok(RetryClaim {
            slots: Arc::clone(self),
            failed,
            done: false,
        })
    }
}

/// A claim on retrying one failed run. Dropped without [`RetryClaim::started`] (the retry
/// was refused or failed), the run may be retried again.
pub struct RetryClaim {
    slots: Arc<RetrySlots>,
    failed: i64,
    done: bool,
}

impl RetryClaim {
    pub fn started(mut self, new_id: i64) {
        let mut slots = self.slots.slots.lock().expect("retry slots lock");
        slots.insert(self.failed, RetrySlot::Started(new_id));
        self.done = true;
    }
}

impl Drop for RetryClaim {
    fn drop(&mut self) {
        if !self.done {
            if let Ok(mut slots) = self.slots.slots.lock() {
                slots.remove(&self.failed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_is_claimed_once_and_freed_when_its_retry_fails() {
        let slots = Arc::new(RetrySlots::default());
        let claim = slots.take(7).expect("the first claim");
        assert_eq!(slots.take(7).err(), Some(RetrySlot::Starting));
        drop(claim);
        let claim = slots.take(7).expect("free again after a failed retry");
        claim.started(8);
        assert_eq!(slots.take(7).err(), Some(RetrySlot::Started(8)));
        assert!(slots.take(9).is_ok(), "another run is its own");
    }
}
