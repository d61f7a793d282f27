//! A count of changes to what partners may do (review state, commercial terms, credentials and
//! endpoints). Protocol adapters that cache such facts per request (the T/CEC 102 partner
//! directory) compare it with the count they cached at, so a change applies to the partner's
//! very next request instead of after the cache's lifetime. It counts this instance's changes;
//! across instances the caches' short lifetime still bounds how long an old answer lives.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct PartnerChanges(AtomicU64);

impl PartnerChanges {
    /// Changes so far; a cached answer taken at an older count is out of date.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Called once a change is committed.
    pub(crate) fn changed(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}
